/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-application"

#include "config.h"

#include <glib-unix.h>
#include <signal.h>
#include <glib/gi18n.h>

#include "ph-application.h"
#include "ph-preferences-window.h"
#include "ph-window.h"

struct _PhApplication
{
  AdwApplication parent_instance;

  char *profile;
  PhSession *session;
  gboolean held; /* while the session says goodbye to peers */
  guint sigint_id;
  guint sigterm_id;
};

G_DEFINE_FINAL_TYPE (PhApplication, ph_application, ADW_TYPE_APPLICATION)

static PhWindow *
ensure_window (PhApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (window == NULL)
    window = GTK_WINDOW (ph_window_new (GTK_APPLICATION (self), self->session));
  return PH_WINDOW (window);
}

static void
ph_application_activate (GApplication *application)
{
  gtk_window_present (GTK_WINDOW (ensure_window (PH_APPLICATION (application))));
}

/* Ctrl+C in a terminal quits like Ctrl+Q, so peers hear goodbye. */
static gboolean
quit_signal_cb (gpointer user_data)
{
  g_action_group_activate_action (G_ACTION_GROUP (user_data), "quit", NULL);
  return G_SOURCE_CONTINUE;
}

/* Peers hear goodbye even when the last window has gone. */
static void
session_leaving_cb (PhApplication *self)
{
  gboolean leaving = ph_session_get_leaving (self->session);

  if (leaving == self->held)
    return;
  self->held = leaving;
  if (leaving)
    g_application_hold (G_APPLICATION (self));
  else
    g_application_release (G_APPLICATION (self));
}

static void
ph_application_startup (GApplication *application)
{
  PhApplication *self = PH_APPLICATION (application);

  G_APPLICATION_CLASS (ph_application_parent_class)->startup (application);

  self->sigint_id = g_unix_signal_add (SIGINT, quit_signal_cb, self);
  self->sigterm_id = g_unix_signal_add (SIGTERM, quit_signal_cb, self);

  gtk_window_set_default_icon_name (APP_ID);
  self->session = ph_session_new (self->profile);
  g_signal_connect_swapped (self->session, "notify::leaving", G_CALLBACK (session_leaving_cb),
                            self);
}

static void
clear_session (PhApplication *self)
{
  if (self->session == NULL)
    return;
  g_signal_handlers_disconnect_by_func (self->session, session_leaving_cb, self);
  g_clear_object (&self->session);
}

static void
ph_application_shutdown (GApplication *application)
{
  PhApplication *self = PH_APPLICATION (application);

  G_APPLICATION_CLASS (ph_application_parent_class)->shutdown (application);

  g_clear_handle_id (&self->sigint_id, g_source_remove);
  g_clear_handle_id (&self->sigterm_id, g_source_remove);
  clear_session (self);
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

  clear_session (self);
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

      if (PH_IS_WINDOW (windows->data))
        ph_window_quit (windows->data);
      else
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
  GtkWidget *preferences = ph_preferences_window_new (GTK_APPLICATION (self), self->session);

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

PhSession *
ph_application_get_session (PhApplication *self)
{
  g_return_val_if_fail (PH_IS_APPLICATION (self), NULL);

  return self->session;
}
