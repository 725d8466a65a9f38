/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-inspector"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "ph-inspector.h"
#include "ph-path-diagram.h"

struct _PhInspector
{
  GtkWidget parent_instance;

  GtkStack *stack;
  GtkLabel *route_label;
  PhPathDiagram *diagram;
  GtkLabel *route_explanation;
  AdwActionRow *local_row;
  GtkLabel *local_type_label;
  AdwActionRow *remote_row;
  GtkLabel *remote_type_label;
  GtkLabel *rendezvous_label;
  GtkLabel *ice_label;
  GtkLabel *tls_label;
  GtkLabel *total_label;
  AdwActionRow *nat_row;
  GtkLabel *round_trip_label;
  GtkLabel *resent_label;
  AdwExpanderRow *local_candidates_row;
  AdwExpanderRow *remote_candidates_row;
  AdwPreferencesGroup *timeline_group;

  /* Rows added to the expanders and the timeline, to remove on update. */
  GPtrArray *local_candidate_rows;
  GPtrArray *remote_candidate_rows;
  GPtrArray *timeline_rows;
  GStrv shown_local;
  GStrv shown_remote;

  PhChat *chat;
};

G_DEFINE_FINAL_TYPE (PhInspector, ph_inspector, GTK_TYPE_WIDGET)

const char *
ph_inspector_explain_type (const char *candidate_type)
{
  if (g_strcmp0 (candidate_type, "host") == 0)
    return _ ("The computer’s own address");
  if (g_strcmp0 (candidate_type, "srflx") == 0)
    return _ ("The address the internet sees, learnt from a STUN server");
  if (g_strcmp0 (candidate_type, "prflx") == 0)
    return _ ("An address learnt from the other side’s connectivity checks");
  if (g_strcmp0 (candidate_type, "relay") == 0)
    return _ ("An address on a TURN server that forwards the traffic");
  return _ ("unknown candidate type");
}

/* The parts of a "candidate:foundation component transport priority
 * address port typ type …" line that a person can read. */
typedef struct
{
  char *type;
  char *address;
  char *transport;
} CandidateParts;

static void
candidate_parts_clear (CandidateParts *parts)
{
  g_free (parts->type);
  g_free (parts->address);
  g_free (parts->transport);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CandidateParts, candidate_parts_clear)

static char *format_address (const char *address, guint port, const char *transport);

static void
parse_candidate (const char *candidate, CandidateParts *parts)
{
  g_auto (GStrv) fields = g_strsplit (candidate, " ", 0);

  if (g_strv_length (fields) < 8 || !g_str_equal (fields[6], "typ"))
    {
      parts->type = g_strdup ("?");
      parts->address = g_strdup (candidate);
      parts->transport = g_strdup ("");
      return;
    }
  parts->type = g_strdup (fields[7]);
  parts->transport = g_ascii_strup (fields[2], -1);
  parts->address = format_address (fields[4], g_ascii_strtoull (fields[5], NULL, 10), fields[2]);
}

/* Plain words for what the NAT does: a short title and what it means. */
static void
explain_nat (PhNatType type, const char **title, const char **explanation)
{
  switch (type)
    {
    case PH_NAT_TYPE_OPEN:
      *title = _ ("Open: no NAT");
      *explanation = _ ("This computer has a public address and nothing filters what reaches it.");
      break;
    case PH_NAT_TYPE_FULL_CONE:
      *title = _ ("Full-cone NAT");
      *explanation = _ ("Once you have written out, anyone can answer on the same public port.");
      break;
    case PH_NAT_TYPE_ADDRESS_RESTRICTED:
      *title = _ ("Address-restricted NAT");
      *explanation = _ ("Answers come in only from addresses you wrote to.");
      break;
    case PH_NAT_TYPE_PORT_RESTRICTED:
      *title = _ ("Port-restricted NAT");
      *explanation = _ ("Answers come in only from the exact address and port you wrote to.");
      break;
    case PH_NAT_TYPE_SYMMETRIC:
      *title = _ ("Symmetric NAT");
      *explanation = _ ("Every peer sees a different public port, so direct paths often fail "
                        "and a TURN relay is needed.");
      break;
    case PH_NAT_TYPE_UDP_BLOCKED:
      *title = _ ("UDP blocked");
      *explanation = _ ("The STUN server did not answer: only a TURN relay can connect you.");
      break;
    case PH_NAT_TYPE_UNKNOWN:
    default:
      *title = _ ("Unknown");
      *explanation = _ ("No STUN server to ask, or it could not tell (that needs a server with "
                        "two addresses).");
      break;
    }
}

static const char *
describe_ice_state (PhIceState state)
{
  switch (state)
    {
    case PH_ICE_STATE_NEW:
      return C_ ("ICE state", "Starting");
    case PH_ICE_STATE_GATHERING:
      return C_ ("ICE state", "Gathering addresses");
    case PH_ICE_STATE_CONNECTING:
      return C_ ("ICE state", "Checking paths");
    case PH_ICE_STATE_CONNECTED:
      return C_ ("ICE state", "A path works");
    case PH_ICE_STATE_READY:
      return C_ ("ICE state", "All paths checked");
    case PH_ICE_STATE_FAILED:
      return C_ ("ICE state", "No path found");
    case PH_ICE_STATE_CLOSED:
    default:
      return C_ ("ICE state", "Closed");
    }
}

static char *
format_address (const char *address, guint port, const char *transport)
{
  g_autofree char *upper = g_ascii_strup (transport != NULL ? transport : "", -1);

  if (address != NULL && strchr (address, ':') != NULL)
    return g_strdup_printf ("[%s]:%u · %s", address, port, upper);
  return g_strdup_printf ("%s:%u · %s", address != NULL ? address : "?", port, upper);
}

static char *
format_ms (double ms)
{
  /* Translators: a duration in milliseconds */
  return g_strdup_printf (_ ("%.1f ms"), ms);
}

static gboolean
has_setup_times (PhConversation *conversation)
{
  return ph_conversation_get_setup_times (conversation) != NULL
         && ph_conversation_get_setup_times (conversation)->total_ms > 0;
}

static void
set_ms_label (GtkLabel *label, double ms, gboolean known)
{
  g_autofree char *text = known ? format_ms (ms) : g_strdup ("—");

  gtk_label_set_text (label, text);
}

/* "3 of 1,204 (0.2%)": how lossy the path is, as the link saw it. */
static char *
format_resent (PhConversation *conversation)
{
  guint64 sent, resent;
  g_autofree char *sent_text = NULL;
  g_autofree char *resent_text = NULL;

  if (!ph_conversation_get_packet_counts (conversation, &sent, &resent))
    return NULL;
  /* %' groups digits as the locale does. */
  sent_text = g_strdup_printf ("%'" G_GUINT64_FORMAT, sent);
  resent_text = g_strdup_printf ("%'" G_GUINT64_FORMAT, resent);
  /* Translators: packets sent again, packets sent, then the share of
   * them in percent. */
  return g_strdup_printf (_ ("%s of %s (%.1f%%)"), resent_text, sent_text,
                          sent > 0 ? 100.0 * resent / sent : 0.0);
}

static GtkWidget *
new_badge (const char *text)
{
  GtkWidget *badge = gtk_label_new (text);

  gtk_widget_set_valign (badge, GTK_ALIGN_CENTER);
  gtk_label_set_width_chars (GTK_LABEL (badge), 5);
  gtk_widget_add_css_class (badge, "monospace");
  gtk_widget_add_css_class (badge, "candidate-type");
  return badge;
}

/* Rebuilt only when they changed: a pong every 2 s must not reset the
 * rows someone is looking at. */
static void
fill_candidates (AdwExpanderRow *expander, GPtrArray *rows, GStrv *shown, GStrv candidates)
{
  guint n = g_strv_length (candidates);
  g_autofree char *count = NULL;

  if (*shown != NULL && g_strv_equal ((const char *const *)*shown, (const char *const *)candidates))
    return;
  g_strfreev (*shown);
  *shown = g_strdupv (candidates);

  for (guint i = 0; i < rows->len; i++)
    adw_expander_row_remove (expander, g_ptr_array_index (rows, i));
  g_ptr_array_set_size (rows, 0);

  for (guint i = 0; i < n; i++)
    {
      g_auto (CandidateParts) parts = { NULL };
      GtkWidget *row = adw_action_row_new ();

      parse_candidate (candidates[i], &parts);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), parts.address);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), ph_inspector_explain_type (parts.type));
      adw_action_row_add_prefix (ADW_ACTION_ROW (row), new_badge (parts.type));
      adw_expander_row_add_row (expander, row);
      g_ptr_array_add (rows, row);
    }

  count = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u candidate", "%u candidates", n), n);
  adw_expander_row_set_subtitle (expander, count);
}

static void
clear_timeline (PhInspector *self)
{
  for (guint i = 0; i < self->timeline_rows->len; i++)
    adw_preferences_group_remove (self->timeline_group, g_ptr_array_index (self->timeline_rows, i));
  g_ptr_array_set_size (self->timeline_rows, 0);
}

/* A conversation's timeline only grows. */
static void
fill_timeline (PhInspector *self, GArray *timeline)
{
  if (timeline->len == self->timeline_rows->len)
    return;
  clear_timeline (self);

  for (guint i = 0; i < timeline->len; i++)
    {
      const PhTimelineEntry *entry = &g_array_index (timeline, PhTimelineEntry, i);
      g_autofree char *ms = format_ms (entry->ms);
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *label = gtk_label_new (ms);

      gtk_widget_add_css_class (label, "numeric");
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), describe_ice_state (entry->state));
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), label);
      adw_preferences_group_add (self->timeline_group, row);
      g_ptr_array_add (self->timeline_rows, row);
    }
}

static void
update_details (PhInspector *self, PhConversation *conversation)
{
  g_auto (GStrv) local = ph_conversation_dup_local_candidates (conversation);
  g_auto (GStrv) remote = ph_conversation_dup_remote_candidates (conversation);
  double round_trip_ms = ph_conversation_get_round_trip_ms (conversation);
  g_autofree char *resent = format_resent (conversation);
  const char *nat_title;
  const char *nat_explanation;

  explain_nat (ph_conversation_get_nat_type (conversation), &nat_title, &nat_explanation);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->nat_row), nat_title);
  adw_action_row_set_subtitle (self->nat_row, nat_explanation);

  set_ms_label (self->round_trip_label, round_trip_ms, round_trip_ms >= 0);
  gtk_label_set_text (self->resent_label, resent != NULL ? resent : "—");
  fill_candidates (self->local_candidates_row, self->local_candidate_rows, &self->shown_local,
                   local);
  fill_candidates (self->remote_candidates_row, self->remote_candidate_rows, &self->shown_remote,
                   remote);
  fill_timeline (self, ph_conversation_get_timeline (conversation));
}

static void
update (PhInspector *self)
{
  PhConversation *conversation = self->chat != NULL ? ph_chat_get_conversation (self->chat) : NULL;
  const PhPath *path = conversation != NULL ? ph_conversation_get_path (conversation) : NULL;
  const PhSetupTimes *times;
  g_autofree char *local_address = NULL;
  g_autofree char *remote_address = NULL;
  gboolean known;

  if (path == NULL)
    {
      ph_path_diagram_set_path (self->diagram, NULL, NULL);
      gtk_stack_set_visible_child_name (self->stack, "empty");
      return;
    }

  ph_path_diagram_set_path (self->diagram, path, ph_chat_get_peer_name (self->chat));
  if (path->relayed)
    {
      gtk_label_set_text (self->route_label, _ ("Relayed"));
      gtk_label_set_text (self->route_explanation,
                          _ ("No direct path was found, so a TURN server passes your messages "
                             "on. It only sees encrypted data."));
    }
  else
    {
      gtk_label_set_text (self->route_label, _ ("Direct"));
      gtk_label_set_text (self->route_explanation,
                          _ ("Your messages go straight to your peer: no server is in between."));
    }

  local_address = format_address (path->local_address, path->local_port, path->local_transport);
  gtk_label_set_text (self->local_type_label, path->local_type);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->local_row),
                                 ph_inspector_explain_type (path->local_type));
  adw_action_row_set_subtitle (self->local_row, local_address);

  remote_address = format_address (path->remote_address, path->remote_port, path->remote_transport);
  gtk_label_set_text (self->remote_type_label, path->remote_type);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->remote_row),
                                 ph_inspector_explain_type (path->remote_type));
  adw_action_row_set_subtitle (self->remote_row, remote_address);

  times = ph_conversation_get_setup_times (conversation);
  known = has_setup_times (conversation);
  set_ms_label (self->rendezvous_label, known ? times->rendezvous_ms : 0, known);
  set_ms_label (self->ice_label, known ? times->ice_ms : 0, known);
  set_ms_label (self->tls_label, known ? times->tls_ms : 0, known);
  set_ms_label (self->total_label, known ? times->total_ms : 0, known);

  update_details (self, conversation);

  gtk_stack_set_visible_child_name (self->stack, "path");
}

static void
copy_report_cb (PhInspector *self)
{
  g_autofree char *report = ph_inspector_dup_report (self);

  gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self)), report);
  gtk_widget_activate_action (GTK_WIDGET (self), "win.show-toast", "s",
                              _ ("Connection report copied"));
}

static void
ph_inspector_dispose (GObject *object)
{
  PhInspector *self = PH_INSPECTOR (object);

  ph_inspector_set_chat (self, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), PH_TYPE_INSPECTOR);
  g_clear_pointer (&self->local_candidate_rows, g_ptr_array_unref);
  g_clear_pointer (&self->remote_candidate_rows, g_ptr_array_unref);
  g_clear_pointer (&self->timeline_rows, g_ptr_array_unref);
  g_clear_pointer (&self->shown_local, g_strfreev);
  g_clear_pointer (&self->shown_remote, g_strfreev);

  G_OBJECT_CLASS (ph_inspector_parent_class)->dispose (object);
}

static void
ph_inspector_class_init (PhInspectorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = ph_inspector_dispose;

  g_type_ensure (PH_TYPE_PATH_DIAGRAM);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/pinhole/Pinhole/ph-inspector.ui");
  gtk_widget_class_bind_template_child (widget_class, PhInspector, stack);
  gtk_widget_class_bind_template_child (widget_class, PhInspector, route_label);
  gtk_widget_class_bind_template_child (widget_class, PhInspector, diagram);
  gtk_widget_class_bind_template_child (widget_class, PhInspector, route_explanation);
  gtk_widget_class_bind_template_child (widget_class, PhInspector, local_row);
  gtk_widget_class_bind_template_child (widget_class, PhInspector, local_type_label);
  gtk_widget_class_bind_template_child (widget_class, PhInspector, remote_row);
  gtk_widget_class_bind_template_child (widget_class, PhInspector, remote_type_label);
  gtk_widget_class_bind_template_child (widget_class, PhInspector, rendezvous_label);
  gtk_widget_class_bind_template_child (widget_class, PhInspector, ice_label);
  gtk_widget_class_bind_template_child (widget_class, PhInspector, tls_label);
  gtk_widget_class_bind_template_child (widget_class, PhInspector, total_label);
  gtk_widget_class_bind_template_child (widget_class, PhInspector, nat_row);
  gtk_widget_class_bind_template_child (widget_class, PhInspector, round_trip_label);
  gtk_widget_class_bind_template_child (widget_class, PhInspector, resent_label);
  gtk_widget_class_bind_template_child (widget_class, PhInspector, local_candidates_row);
  gtk_widget_class_bind_template_child (widget_class, PhInspector, remote_candidates_row);
  gtk_widget_class_bind_template_child (widget_class, PhInspector, timeline_group);
  gtk_widget_class_bind_template_callback (widget_class, copy_report_cb);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "inspector");
}

static void
ph_inspector_init (PhInspector *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->local_candidate_rows = g_ptr_array_new ();
  self->remote_candidate_rows = g_ptr_array_new ();
  self->timeline_rows = g_ptr_array_new ();
}

GtkWidget *
ph_inspector_new (void)
{
  return g_object_new (PH_TYPE_INSPECTOR, NULL);
}

void
ph_inspector_set_chat (PhInspector *self, PhChat *chat)
{
  g_return_if_fail (PH_IS_INSPECTOR (self));
  g_return_if_fail (chat == NULL || PH_IS_CHAT (chat));

  if (self->chat == chat)
    return;

  if (self->chat != NULL)
    g_signal_handlers_disconnect_by_data (ph_chat_get_conversation (self->chat), self);
  g_set_object (&self->chat, chat);
  g_clear_pointer (&self->shown_local, g_strfreev);
  g_clear_pointer (&self->shown_remote, g_strfreev);
  clear_timeline (self);
  if (chat != NULL)
    {
      PhConversation *conversation = ph_chat_get_conversation (chat);

      g_signal_connect_swapped (conversation, "notify::path", G_CALLBACK (update), self);
      g_signal_connect_swapped (conversation, "notify::state", G_CALLBACK (update), self);
      g_signal_connect_swapped (conversation, "notify::peer-name", G_CALLBACK (update), self);
      g_signal_connect_swapped (conversation, "details-changed", G_CALLBACK (update), self);
    }
  update (self);
}

static void
append_candidates (GString *report, const char *heading, GStrv candidates)
{
  g_string_append (report, heading);
  g_string_append_c (report, '\n');
  for (guint i = 0; candidates[i] != NULL; i++)
    {
      g_auto (CandidateParts) parts = { NULL };

      parse_candidate (candidates[i], &parts);
      g_string_append_printf (report, "  %s %s\n", parts.type, parts.address);
    }
}

static void
append_details (GString *report, PhConversation *conversation)
{
  g_auto (GStrv) local = ph_conversation_dup_local_candidates (conversation);
  g_auto (GStrv) remote = ph_conversation_dup_remote_candidates (conversation);
  GArray *timeline = ph_conversation_get_timeline (conversation);
  double round_trip_ms = ph_conversation_get_round_trip_ms (conversation);
  g_autofree char *resent = format_resent (conversation);
  const char *nat_title;
  const char *nat_explanation;

  explain_nat (ph_conversation_get_nat_type (conversation), &nat_title, &nat_explanation);
  g_string_append_printf (report, _ ("Your network: %s (%s)"), nat_title, nat_explanation);
  g_string_append_c (report, '\n');

  if (round_trip_ms >= 0)
    g_string_append_printf (report, _ ("Round trip: %.1f ms"), round_trip_ms);
  else
    g_string_append (report, _ ("Round trip: not measured yet"));
  g_string_append_c (report, '\n');
  if (resent != NULL)
    {
      g_string_append_printf (report, _ ("Packets resent: %s"), resent);
      g_string_append_c (report, '\n');
    }

  append_candidates (report, _ ("Candidates gathered here:"), local);
  append_candidates (report, _ ("Candidates received from your peer:"), remote);

  g_string_append (report, _ ("Timeline:"));
  g_string_append_c (report, '\n');
  for (guint i = 0; i < timeline->len; i++)
    {
      const PhTimelineEntry *entry = &g_array_index (timeline, PhTimelineEntry, i);
      g_autofree char *ms = format_ms (entry->ms);

      /* With ICE's own name of the state, for whoever reads the report. */
      g_string_append_printf (report, "  %s %s (%s)\n", ms, describe_ice_state (entry->state),
                              ph_ice_state_to_string (entry->state));
    }
}

char *
ph_inspector_dup_report (PhInspector *self)
{
  PhConversation *conversation;
  const PhPath *path;
  const PhSetupTimes *times;
  g_autoptr (GString) report = g_string_new (NULL);
  g_autofree char *description = NULL;
  g_autofree char *local_address = NULL;
  g_autofree char *remote_address = NULL;

  g_return_val_if_fail (PH_IS_INSPECTOR (self), NULL);

  g_string_append_printf (report, _ ("Pinhole %s connection report"), PACKAGE_VERSION);
  g_string_append_c (report, '\n');

  conversation = self->chat != NULL ? ph_chat_get_conversation (self->chat) : NULL;
  path = conversation != NULL ? ph_conversation_get_path (conversation) : NULL;
  if (path == NULL)
    {
      g_string_append (report, _ ("Not connected yet."));
      g_string_append_c (report, '\n');
      return g_string_free (g_steal_pointer (&report), FALSE);
    }

  description = ph_path_describe (path);
  local_address = format_address (path->local_address, path->local_port, path->local_transport);
  remote_address = format_address (path->remote_address, path->remote_port, path->remote_transport);

  g_string_append_printf (report, _ ("Peer: %s"), ph_chat_get_peer_name (self->chat));
  g_string_append_c (report, '\n');
  g_string_append_printf (report, _ ("Path: %s"), description);
  g_string_append_c (report, '\n');
  g_string_append_printf (report, _ ("Your candidate: %s, %s (%s)"), path->local_type,
                          local_address, ph_inspector_explain_type (path->local_type));
  g_string_append_c (report, '\n');
  g_string_append_printf (report, _ ("Peer’s candidate: %s, %s (%s)"), path->remote_type,
                          remote_address, ph_inspector_explain_type (path->remote_type));
  g_string_append_c (report, '\n');

  times = ph_conversation_get_setup_times (conversation);
  if (has_setup_times (conversation))
    {
      g_string_append_printf (
          report, _ ("Setup: rendezvous %.1f ms, ICE %.1f ms, TLS %.1f ms, total %.1f ms"),
          times->rendezvous_ms, times->ice_ms, times->tls_ms, times->total_ms);
      g_string_append_c (report, '\n');
    }
  append_details (report, conversation);
  return g_string_free (g_steal_pointer (&report), FALSE);
}

guint
ph_inspector_get_n_candidates (PhInspector *self, gboolean remote)
{
  g_return_val_if_fail (PH_IS_INSPECTOR (self), 0);

  return remote ? self->remote_candidate_rows->len : self->local_candidate_rows->len;
}

GtkWidget *
ph_inspector_get_diagram (PhInspector *self)
{
  g_return_val_if_fail (PH_IS_INSPECTOR (self), NULL);

  return GTK_WIDGET (self->diagram);
}
