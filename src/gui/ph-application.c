/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-application"

#include "config.h"

#include <glib-unix.h>
#include <signal.h>
#include <glib/gi18n.h>

#include "ph-application.h"
#include "ph-preferences-window.h"
#include "ph-settings.h"
#include "ph-window.h"

struct _PhApplication
{
  AdwApplication parent_instance;

  GSettings *settings;
  char *turn_password;
  char *profile;
  PhHistory *history;
  GError *history_error;
  guint sigint_id;
  guint sigterm_id;
};

G_DEFINE_FINAL_TYPE (PhApplication, ph_application, ADW_TYPE_APPLICATION)

static PhWindow *
ensure_window (PhApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (window == NULL)
    window = GTK_WINDOW (ph_window_new (self));
  return PH_WINDOW (window);
}

static void
ph_application_activate (GApplication *application)
{
  gtk_window_present (GTK_WINDOW (ensure_window (PH_APPLICATION (application))));
}

static void
turn_password_looked_up_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhApplication) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *password = ph_settings_lookup_turn_password_finish (result, &error);

  if (error != NULL)
    g_warning ("Could not read the TURN password from the keyring: %s", error->message);
  else if (self->turn_password == NULL)
    self->turn_password = g_steal_pointer (&password);
}

/* Ctrl+C in a terminal quits like Ctrl+Q, so peers hear goodbye. */
static gboolean
quit_signal_cb (gpointer user_data)
{
  g_action_group_activate_action (G_ACTION_GROUP (user_data), "quit", NULL);
  return G_SOURCE_CONTINUE;
}

/* $PINHOLE_HISTORY_DIR (for tests), else the user's data folder; each
 * profile keeps its own file, as it is a separate person. */
static char *
history_path (PhApplication *self)
{
  const char *directory = g_getenv ("PINHOLE_HISTORY_DIR");
  g_autofree char *name = NULL;

  name = self->profile != NULL ? g_strdup_printf ("history-%s.db", self->profile)
                               : g_strdup ("history.db");
  if (directory != NULL && directory[0] != '\0')
    return g_build_filename (directory, name, NULL);
  return g_build_filename (g_get_user_data_dir (), "pinhole", name, NULL);
}

/* No chat survives the process that ran it: whatever was still going on
 * when Pinhole last stopped (a crash included) has ended, and what was
 * still on its way was not delivered. */
static gboolean
close_unfinished (PhHistory *history, GError **error)
{
  g_autoptr (GPtrArray) outbox = ph_history_list_outbox (history, error);
  g_autoptr (GPtrArray) conversations = NULL;

  if (outbox == NULL)
    return FALSE;
  for (guint i = 0; i < outbox->len; i++)
    {
      PhHistoryMessage *message = outbox->pdata[i];

      if (!ph_history_set_message_state (history, message->conversation_id, message->id,
                                         PH_HISTORY_MESSAGE_FAILED, "app-closed", error))
        return FALSE;
    }

  conversations = ph_history_list_conversations (history, error);
  if (conversations == NULL)
    return FALSE;
  for (guint i = 0; i < conversations->len; i++)
    {
      PhHistoryConversation *conversation = conversations->pdata[i];

      if (conversation->state == PH_CONVERSATION_STATE_CLOSED
          || conversation->state == PH_CONVERSATION_STATE_FAILED)
        continue;
      conversation->state = PH_CONVERSATION_STATE_CLOSED;
      if (conversation->close_reason == NULL)
        conversation->close_reason = g_strdup ("app-closed");
      if (!ph_history_update_conversation (history, conversation, error))
        return FALSE;
    }
  return TRUE;
}

static void
open_history (PhApplication *self)
{
  g_autofree char *path = history_path (self);

  self->history = ph_history_open (path, &self->history_error);
  if (self->history != NULL && !close_unfinished (self->history, &self->history_error))
    g_clear_object (&self->history);
  /* The app works without a history; the window says why it is off. */
  if (self->history_error != NULL)
    g_warning ("Chats will not be kept: %s", self->history_error->message);
}

static void
ph_application_startup (GApplication *application)
{
  PhApplication *self = PH_APPLICATION (application);
  g_auto (GStrv) turn_servers = NULL;

  G_APPLICATION_CLASS (ph_application_parent_class)->startup (application);

  self->sigint_id = g_unix_signal_add (SIGINT, quit_signal_cb, self);
  self->sigterm_id = g_unix_signal_add (SIGTERM, quit_signal_cb, self);

  self->settings = ph_settings_new ();
  gtk_window_set_default_icon_name (APP_ID);
  open_history (self);

  /* Only people who set up their own TURN server have a password stored;
   * everyone else never touches the keyring. */
  turn_servers = g_settings_get_strv (self->settings, "turn-servers");
  if (turn_servers[0] != NULL)
    ph_settings_lookup_turn_password_async (NULL, turn_password_looked_up_cb, g_object_ref (self));
}

static void
ph_application_shutdown (GApplication *application)
{
  PhApplication *self = PH_APPLICATION (application);

  G_APPLICATION_CLASS (ph_application_parent_class)->shutdown (application);

  g_clear_handle_id (&self->sigint_id, g_source_remove);
  g_clear_handle_id (&self->sigterm_id, g_source_remove);
  g_clear_object (&self->settings);
  g_clear_object (&self->history);
}

static int
ph_application_handle_local_options (GApplication *application, GVariantDict *options)
{
  const char *profile = g_getenv ("PINHOLE_PROFILE");
  const char *code = NULL;
  g_autoptr (GError) error = NULL;

  g_variant_dict_lookup (options, "profile", "&s", &profile);
  if (profile != NULL && profile[0] != '\0')
    {
      g_autofree char *id = g_strdup_printf ("%s.Profile.%s", APP_ID, profile);

      if (!g_application_id_is_valid (id))
        {
          g_printerr (_ ("“%s” cannot be a profile name: use letters, digits and underscores.\n"),
                      profile);
          return 2;
        }
      g_application_set_application_id (application, id);
      g_free (PH_APPLICATION (application)->profile);
      PH_APPLICATION (application)->profile = g_strdup (profile);
    }

  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("pinhole %s\n", PACKAGE_VERSION);
      return 0;
    }

  g_variant_dict_lookup (options, "join", "&s", &code);
  if (!g_variant_dict_contains (options, "host") && code == NULL)
    return -1;

  /* The primary instance (perhaps another process) does the work. */
  if (!g_application_register (application, NULL, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  if (code != NULL)
    g_action_group_activate_action (G_ACTION_GROUP (application), "join",
                                    g_variant_new_string (code));
  else
    g_action_group_activate_action (G_ACTION_GROUP (application), "host", NULL);
  return -1;
}

static void
ph_application_finalize (GObject *object)
{
  PhApplication *self = PH_APPLICATION (object);

  g_clear_object (&self->settings);
  g_clear_object (&self->history);
  g_clear_error (&self->history_error);
  g_free (self->turn_password);
  g_free (self->profile);

  G_OBJECT_CLASS (ph_application_parent_class)->finalize (object);
}

static void
ph_application_class_init (PhApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *application_class = G_APPLICATION_CLASS (klass);

  object_class->finalize = ph_application_finalize;
  application_class->activate = ph_application_activate;
  application_class->startup = ph_application_startup;
  application_class->shutdown = ph_application_shutdown;
  application_class->handle_local_options = ph_application_handle_local_options;
}

static void
quit_activated (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  GtkApplication *application = user_data;
  GList *windows = gtk_application_get_windows (application);

  /* Closing the windows lets each say goodbye to its peers first. */
  while (windows != NULL)
    {
      GList *next = windows->next;

      gtk_window_close (windows->data);
      windows = next;
    }
}

static void
about_activated (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  GtkApplication *application = user_data;
  const char *developers[] = { "Pinhole developers", NULL };

  adw_show_about_window (gtk_application_get_active_window (application), "application-name",
                         _ ("Pinhole"), "application-icon", APP_ID, "version", PACKAGE_VERSION,
                         "developer-name", _ ("Pinhole developers"), "developers", developers,
                         "license-type", GTK_LICENSE_GPL_3_0, "website",
                         "https://github.com/pinhole-chat/pinhole", "issue-url",
                         "https://github.com/pinhole-chat/pinhole/issues", "comments",
                         _ ("Direct, end-to-end encrypted chat that finds its way "
                            "through NATs, and shows you how."),
                         /* Translators: credit yourself here, one name per line */
                         "translator-credits", _ ("translator-credits"), NULL);
}

static void
preferences_activated (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  PhApplication *self = user_data;
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));
  GtkWidget *preferences = ph_preferences_window_new (self);

  gtk_window_set_transient_for (GTK_WINDOW (preferences), parent);
  gtk_window_present (GTK_WINDOW (preferences));
}

static void
style_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  const char *style = g_variant_get_string (state, NULL);
  AdwColorScheme scheme = ADW_COLOR_SCHEME_DEFAULT;

  if (g_str_equal (style, "light"))
    scheme = ADW_COLOR_SCHEME_FORCE_LIGHT;
  else if (g_str_equal (style, "dark"))
    scheme = ADW_COLOR_SCHEME_FORCE_DARK;

  adw_style_manager_set_color_scheme (adw_style_manager_get_default (), scheme);
  g_simple_action_set_state (action, state);
}

static void
host_activated (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  ph_window_start_chat (ensure_window (user_data));
}

static void
join_activated (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  ph_window_join_chat (ensure_window (user_data), g_variant_get_string (parameter, NULL));
}

static const GActionEntry app_actions[] = {
  { "quit", quit_activated },
  { "about", about_activated },
  { "preferences", preferences_activated },
  { "style", NULL, "s", "'default'", style_changed },
  { "host", host_activated },
  { "join", join_activated, "s" },
};

static const GOptionEntry option_entries[] = {
  { "profile", 'p', 0, G_OPTION_ARG_STRING, NULL,
    N_ ("Run as a separate instance named NAME, e.g. for a second person on one computer"),
    N_ ("NAME") },
  { "host", 0, 0, G_OPTION_ARG_NONE, NULL, N_ ("Start a chat and show its code"), NULL },
  { "join", 0, 0, G_OPTION_ARG_STRING, NULL, N_ ("Join the chat with this code"), N_ ("CODE") },
  { "version", 0, 0, G_OPTION_ARG_NONE, NULL, N_ ("Print the version and exit"), NULL },
  { NULL },
};

static void
ph_application_init (PhApplication *self)
{
  static const char *quit_accels[] = { "<Control>q", NULL };
  static const char *preferences_accels[] = { "<Control>comma", NULL };
  static const char *start_accels[] = { "<Control>n", NULL };
  static const char *join_accels[] = { "<Control>j", NULL };
  static const char *inspector_accels[] = { "<Control>i", NULL };
  static const char *close_accels[] = { "<Control>w", NULL };

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions, G_N_ELEMENTS (app_actions),
                                   self);
  g_application_add_main_option_entries (G_APPLICATION (self), option_entries);

  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.preferences",
                                         preferences_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.start-chat", start_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.join-chat", join_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.toggle-inspector",
                                         inspector_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "window.close", close_accels);
}

PhApplication *
ph_application_new (void)
{
  return g_object_new (PH_TYPE_APPLICATION, "application-id", APP_ID, "flags",
                       G_APPLICATION_DEFAULT_FLAGS,
                       /* Profiles change the id; the resources stay where they are. */
                       "resource-base-path", "/io/github/pinhole/Pinhole", NULL);
}

GSettings *
ph_application_get_settings (PhApplication *self)
{
  g_return_val_if_fail (PH_IS_APPLICATION (self), NULL);

  return self->settings;
}

PhConversation *
ph_application_new_conversation (PhApplication *self, GError **error)
{
  g_autoptr (PhIceConfig) ice_config = NULL;
  g_autofree char *url = NULL;
  g_autofree char *name = NULL;
  PhConversation *conversation;

  g_return_val_if_fail (PH_IS_APPLICATION (self), NULL);
  g_return_val_if_fail (self->settings != NULL, NULL);

  ice_config = ph_settings_build_ice_config (self->settings, self->turn_password, error);
  if (ice_config == NULL)
    return NULL;

  url = ph_settings_dup_rendezvous_url (self->settings);
  name = ph_settings_dup_display_name (self->settings);
  conversation = ph_conversation_new (url, name, ice_config);
  ph_conversation_set_use_server_turn (conversation,
                                       g_settings_get_boolean (self->settings, "use-server-turn"));
  return conversation;
}

static void
conversation_ended_cb (PhConversation *conversation, gconstpointer unused, gpointer user_data)
{
  GApplication *application = user_data;

  g_signal_handlers_disconnect_by_func (conversation, conversation_ended_cb, user_data);
  g_application_release (application);
  g_object_unref (conversation);
}

void
ph_application_leave_conversation (PhApplication *self, PhConversation *conversation)
{
  PhConversationState state;

  g_return_if_fail (PH_IS_APPLICATION (self));
  g_return_if_fail (PH_IS_CONVERSATION (conversation));

  state = ph_conversation_get_state (conversation);
  if (state == PH_CONVERSATION_STATE_CLOSED || state == PH_CONVERSATION_STATE_FAILED)
    return;
  if (g_signal_handler_find (conversation, G_SIGNAL_MATCH_FUNC, 0, 0, NULL, conversation_ended_cb,
                             NULL)
      != 0)
    return;

  g_application_hold (G_APPLICATION (self));
  g_object_ref (conversation);
  g_signal_connect (conversation, "closed", G_CALLBACK (conversation_ended_cb), self);
  g_signal_connect (conversation, "failed", G_CALLBACK (conversation_ended_cb), self);
  ph_conversation_leave (conversation);
}

void
ph_application_set_turn_password (PhApplication *self, const char *password)
{
  g_return_if_fail (PH_IS_APPLICATION (self));

  g_free (self->turn_password);
  self->turn_password = g_strdup (password);
}

PhHistory *
ph_application_get_history (PhApplication *self)
{
  g_return_val_if_fail (PH_IS_APPLICATION (self), NULL);

  return self->history;
}

const GError *
ph_application_get_history_error (PhApplication *self)
{
  g_return_val_if_fail (PH_IS_APPLICATION (self), NULL);

  return self->history_error;
}
