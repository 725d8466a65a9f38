/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-preferences-window"

#include "config.h"

#include <glib/gi18n.h>

#include "ph-ice-config.h"
#include "ph-preferences-window.h"
#include "ph-settings.h"
#include "ph-untrusted-text.h"

struct _PhPreferencesWindow
{
  AdwPreferencesWindow parent_instance;

  AdwEntryRow *display_name_row;
  GtkLabel *display_name_error;
  GtkSwitch *notifications_switch;
  GtkSwitch *background_switch;
  GtkSwitch *stored_copies_switch;
  AdwEntryRow *rendezvous_row;
  AdwComboRow *relay_policy_row;
  GtkSwitch *port_mapping_switch;
  GtkSwitch *server_turn_switch;
  AdwEntryRow *stun_row;
  AdwEntryRow *turn_row;
  AdwEntryRow *turn_username_row;
  AdwEntryRow *turn_password_row;

  PhSession *session;
  GSettings *settings; /* the session's */
};

G_DEFINE_FINAL_TYPE (PhPreferencesWindow, ph_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

enum
{
  PROP_0,
  PROP_SESSION,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static const char *const relay_policies[] = { "automatic", "relay-only" };

static gboolean
relay_policy_get_mapping (GValue *value, GVariant *variant, gpointer user_data)
{
  const char *policy = g_variant_get_string (variant, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (relay_policies); i++)
    if (g_str_equal (policy, relay_policies[i]))
      {
        g_value_set_uint (value, i);
        return TRUE;
      }
  return FALSE;
}

static GVariant *
relay_policy_set_mapping (const GValue *value, const GVariantType *expected_type,
                          gpointer user_data)
{
  guint selected = g_value_get_uint (value);

  if (selected >= G_N_ELEMENTS (relay_policies))
    return NULL;
  return g_variant_new_string (relay_policies[selected]);
}

/* Says under the entry why the name typed is not the one peers see, or
 * hides the message with @error NULL. */
static void
show_display_name_error (PhPreferencesWindow *self, const GError *error)
{
  g_autofree char *saved = NULL;
  g_autofree char *still = NULL;
  g_autofree char *text = NULL;

  gtk_widget_set_visible (GTK_WIDGET (self->display_name_error), error != NULL);
  if (error == NULL)
    {
      gtk_widget_remove_css_class (GTK_WIDGET (self->display_name_row), "error");
      gtk_label_set_text (self->display_name_error, "");
      return;
    }

  saved = ph_settings_dup_display_name (self->settings);
  /* Translators: %s is the display name last saved. */
  still = g_strdup_printf (_ ("Your peers still see “%s”."), saved);
  text = g_strdup_printf ("%s %s", error->message, still);
  gtk_widget_add_css_class (GTK_WIDGET (self->display_name_row), "error");
  gtk_label_set_text (self->display_name_error, text);
}

/* A name with a character that reverses or hides the text after it
 * would let this person's name pass for other words in the peer's
 * window: it is not saved. */
static GVariant *
display_name_set_mapping (const GValue *value, const GVariantType *expected_type,
                          gpointer user_data)
{
  PhPreferencesWindow *self = user_data;
  const char *name = g_value_get_string (value);
  g_autoptr (GError) error = NULL;

  if (name == NULL)
    name = "";
  if (!ph_untrusted_text_check_name (name, &error))
    {
      show_display_name_error (self, error);
      return NULL;
    }
  show_display_name_error (self, NULL);
  return g_variant_new_string (name);
}

static void
report_invalid (PhPreferencesWindow *self, AdwEntryRow *row, const GError *error)
{
  gtk_widget_add_css_class (GTK_WIDGET (row), "error");
  adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (error->message));
}

static GStrv
split_servers (const char *text)
{
  g_auto (GStrv) parts = g_strsplit_set (text, " \t,", -1);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; parts[i] != NULL; i++)
    if (parts[i][0] != '\0')
      g_strv_builder_add (builder, parts[i]);
  return g_strv_builder_end (builder);
}

static void
stun_apply_cb (PhPreferencesWindow *self)
{
  g_autoptr (PhIceConfig) config = ph_ice_config_new ();
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) servers = split_servers (gtk_editable_get_text (GTK_EDITABLE (self->stun_row)));

  for (guint i = 0; servers[i] != NULL; i++)
    if (!ph_ice_config_set_stun (config, servers[i], &error))
      {
        report_invalid (self, self->stun_row, error);
        return;
      }

  gtk_widget_remove_css_class (GTK_WIDGET (self->stun_row), "error");
  g_settings_set_strv (self->settings, "stun-servers", (const char *const *)servers);
}

static void
turn_apply_cb (PhPreferencesWindow *self)
{
  g_autoptr (PhIceConfig) config = ph_ice_config_new ();
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) servers = split_servers (gtk_editable_get_text (GTK_EDITABLE (self->turn_row)));

  /* Only the URIs are checked here: the user name and the password are
   * rows of their own, and may come after. */
  for (guint i = 0; servers[i] != NULL; i++)
    if (!ph_ice_config_add_turn (config, servers[i], "user", "", &error))
      {
        report_invalid (self, self->turn_row, error);
        return;
      }

  gtk_widget_remove_css_class (GTK_WIDGET (self->turn_row), "error");
  g_settings_set_strv (self->settings, "turn-servers", (const char *const *)servers);
}

static void
turn_password_stored_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhPreferencesWindow) self = user_data;
  g_autoptr (GError) error = NULL;

  if (!ph_settings_store_turn_password_finish (result, &error))
    {
      g_autofree char *text = g_strdup_printf (_ ("The password could not be saved in the "
                                                  "keyring: %s"),
                                               error->message);

      adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (text));
      return;
    }
  adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self),
                                    adw_toast_new (_ ("Password saved in the keyring")));
}

static void
turn_password_apply_cb (PhPreferencesWindow *self)
{
  const char *password = gtk_editable_get_text (GTK_EDITABLE (self->turn_password_row));

  ph_session_set_turn_password (self->session, password);
  ph_settings_store_turn_password_async (password, NULL, turn_password_stored_cb,
                                         g_object_ref (self));
}

static void
show_servers (AdwEntryRow *row, GSettings *settings, const char *key)
{
  g_auto (GStrv) servers = g_settings_get_strv (settings, key);
  g_autofree char *text = g_strjoinv (" ", servers);

  gtk_editable_set_text (GTK_EDITABLE (row), text);
}

static void
bind_settings (PhPreferencesWindow *self)
{
  g_settings_bind_with_mapping (self->settings, "display-name", self->display_name_row, "text",
                                G_SETTINGS_BIND_DEFAULT, NULL, display_name_set_mapping, self,
                                NULL);
  g_settings_bind (self->settings, "notifications", self->notifications_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "run-in-background", self->background_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "leave-stored-copies", self->stored_copies_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "rendezvous-url", self->rendezvous_row, "text",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind_with_mapping (self->settings, "relay-policy", self->relay_policy_row, "selected",
                                G_SETTINGS_BIND_DEFAULT, relay_policy_get_mapping,
                                relay_policy_set_mapping, NULL, NULL);
  g_settings_bind (self->settings, "port-mapping", self->port_mapping_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "use-server-turn", self->server_turn_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "turn-username", self->turn_username_row, "text",
                   G_SETTINGS_BIND_DEFAULT);
  show_servers (self->stun_row, self->settings, "stun-servers");
  show_servers (self->turn_row, self->settings, "turn-servers");
}

static void
ph_preferences_window_dispose (GObject *object)
{
  PhPreferencesWindow *self = PH_PREFERENCES_WINDOW (object);

  gtk_widget_dispose_template (GTK_WIDGET (self), PH_TYPE_PREFERENCES_WINDOW);
  self->settings = NULL;
  g_clear_object (&self->session);

  G_OBJECT_CLASS (ph_preferences_window_parent_class)->dispose (object);
}

static void
ph_preferences_window_constructed (GObject *object)
{
  PhPreferencesWindow *self = PH_PREFERENCES_WINDOW (object);

  G_OBJECT_CLASS (ph_preferences_window_parent_class)->constructed (object);

  self->settings = ph_session_get_settings (self->session);
  bind_settings (self);
}

static void
ph_preferences_window_get_property (GObject *object, guint prop_id, GValue *value,
                                    GParamSpec *pspec)
{
  PhPreferencesWindow *self = PH_PREFERENCES_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      g_value_set_object (value, self->session);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_preferences_window_set_property (GObject *object, guint prop_id, const GValue *value,
                                    GParamSpec *pspec)
{
  PhPreferencesWindow *self = PH_PREFERENCES_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      self->session = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_preferences_window_class_init (PhPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = ph_preferences_window_constructed;
  object_class->dispose = ph_preferences_window_dispose;
  object_class->get_property = ph_preferences_window_get_property;
  object_class->set_property = ph_preferences_window_set_property;

  properties[PROP_SESSION]
      = g_param_spec_object ("session", NULL, NULL, PH_TYPE_SESSION,
                             G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (
      widget_class, "/io/github/pinhole/Pinhole/ph-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, PhPreferencesWindow, display_name_row);
  gtk_widget_class_bind_template_child (widget_class, PhPreferencesWindow, display_name_error);
  gtk_widget_class_bind_template_child (widget_class, PhPreferencesWindow, notifications_switch);
  gtk_widget_class_bind_template_child (widget_class, PhPreferencesWindow, background_switch);
  gtk_widget_class_bind_template_child (widget_class, PhPreferencesWindow, stored_copies_switch);
  gtk_widget_class_bind_template_child (widget_class, PhPreferencesWindow, rendezvous_row);
  gtk_widget_class_bind_template_child (widget_class, PhPreferencesWindow, relay_policy_row);
  gtk_widget_class_bind_template_child (widget_class, PhPreferencesWindow, port_mapping_switch);
  gtk_widget_class_bind_template_child (widget_class, PhPreferencesWindow, server_turn_switch);
  gtk_widget_class_bind_template_child (widget_class, PhPreferencesWindow, stun_row);
  gtk_widget_class_bind_template_child (widget_class, PhPreferencesWindow, turn_row);
  gtk_widget_class_bind_template_child (widget_class, PhPreferencesWindow, turn_username_row);
  gtk_widget_class_bind_template_child (widget_class, PhPreferencesWindow, turn_password_row);
  gtk_widget_class_bind_template_callback (widget_class, stun_apply_cb);
  gtk_widget_class_bind_template_callback (widget_class, turn_apply_cb);
  gtk_widget_class_bind_template_callback (widget_class, turn_password_apply_cb);
}

static void
ph_preferences_window_init (PhPreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
ph_preferences_window_new (GtkApplication *application, PhSession *session)
{
  g_return_val_if_fail (GTK_IS_APPLICATION (application), NULL);
  g_return_val_if_fail (PH_IS_SESSION (session), NULL);

  return g_object_new (PH_TYPE_PREFERENCES_WINDOW, "application", application, "session", session,
                       NULL);
}

const char *
ph_preferences_window_get_display_name_error (PhPreferencesWindow *self)
{
  g_return_val_if_fail (PH_IS_PREFERENCES_WINDOW (self), NULL);

  if (!gtk_widget_get_visible (GTK_WIDGET (self->display_name_error)))
    return NULL;
  return gtk_label_get_text (self->display_name_error);
}

GtkEditable *
ph_preferences_window_get_display_name_entry (PhPreferencesWindow *self)
{
  g_return_val_if_fail (PH_IS_PREFERENCES_WINDOW (self), NULL);

  return GTK_EDITABLE (self->display_name_row);
}

AdwEntryRow *
ph_preferences_window_get_turn_row (PhPreferencesWindow *self)
{
  g_return_val_if_fail (PH_IS_PREFERENCES_WINDOW (self), NULL);

  return self->turn_row;
}
