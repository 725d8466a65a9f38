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

  ph_path_diagram_set_path (self->diagram, path, ph_conversation_get_peer_name (conversation));
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
  gtk_widget_class_bind_template_callback (widget_class, copy_report_cb);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "inspector");
}

static void
ph_inspector_init (PhInspector *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
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
  if (chat != NULL)
    {
      PhConversation *conversation = ph_chat_get_conversation (chat);

      g_signal_connect_swapped (conversation, "notify::path", G_CALLBACK (update), self);
      g_signal_connect_swapped (conversation, "notify::state", G_CALLBACK (update), self);
      g_signal_connect_swapped (conversation, "notify::peer-name", G_CALLBACK (update), self);
    }
  update (self);
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

  g_string_append_printf (report, _ ("Peer: %s"), ph_conversation_get_peer_name (conversation));
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
  return g_string_free (g_steal_pointer (&report), FALSE);
}

GtkWidget *
ph_inspector_get_diagram (PhInspector *self)
{
  g_return_val_if_fail (PH_IS_INSPECTOR (self), NULL);

  return GTK_WIDGET (self->diagram);
}
