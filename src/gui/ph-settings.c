/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-settings"

#include "config.h"

#include <glib/gi18n.h>
#include <libsecret/secret.h>

#include "ph-error.h"
#include "ph-settings.h"
#include "ph-untrusted-text.h"

static const SecretSchema *
turn_password_schema (void)
{
  static const SecretSchema schema = {
    PH_TURN_PASSWORD_SCHEMA,
    SECRET_SCHEMA_NONE,
    {
        { "purpose", SECRET_SCHEMA_ATTRIBUTE_STRING },
        { NULL, 0 },
    },
  };

  return &schema;
}

GSettings *
ph_settings_new (void)
{
  return g_settings_new (APP_ID);
}

char *
ph_settings_dup_display_name (GSettings *settings)
{
  g_autofree char *setting = NULL;
  g_autofree char *name = NULL;
  const char *real_name;

  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  /* Preferences refuse a name with hidden or reversing characters; one
   * saved some other way (or the account's) goes out without them. */
  setting = g_settings_get_string (settings, "display-name");
  name = g_strstrip (ph_untrusted_text_clean_name (setting));
  if (name[0] != '\0')
    return g_steal_pointer (&name);

  real_name = g_get_real_name ();
  if (real_name != NULL && real_name[0] != '\0' && g_strcmp0 (real_name, "Unknown") != 0)
    return ph_untrusted_text_clean_name (real_name);
  return ph_untrusted_text_clean_name (g_get_user_name ());
}

char *
ph_settings_dup_rendezvous_url (GSettings *settings)
{
  g_autoptr (GVariant) user_value = NULL;
  g_autofree char *url = NULL;
  const char *from_environment = g_getenv ("PINHOLE_RENDEZVOUS");

  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  /* As pinhole-cli: $PINHOLE_RENDEZVOUS stands in for the built-in default,
   * so scripts and demos can point both at a local server. */
  user_value = g_settings_get_user_value (settings, "rendezvous-url");
  if (user_value == NULL && from_environment != NULL && from_environment[0] != '\0')
    return g_strdup (from_environment);

  url = g_strstrip (g_settings_get_string (settings, "rendezvous-url"));
  if (url[0] == '\0')
    return g_strdup (PH_DEFAULT_RENDEZVOUS);
  return g_steal_pointer (&url);
}

PhIceConfig *
ph_settings_build_ice_config (GSettings *settings, const char *turn_password, GError **error)
{
  g_autoptr (PhIceConfig) config = ph_ice_config_new ();
  g_auto (GStrv) stun_servers = NULL;
  g_auto (GStrv) turn_servers = NULL;
  g_autofree char *turn_username = NULL;

  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  stun_servers = g_settings_get_strv (settings, "stun-servers");
  turn_servers = g_settings_get_strv (settings, "turn-servers");
  turn_username = g_settings_get_string (settings, "turn-username");

  /* libnice asks a single STUN server; the first one listed wins. */
  if (stun_servers[0] != NULL && !ph_ice_config_set_stun (config, stun_servers[0], error))
    return NULL;

  for (guint i = 0; turn_servers[i] != NULL; i++)
    {
      if (!ph_ice_config_add_turn (config, turn_servers[i], turn_username,
                                   turn_password != NULL ? turn_password : "", error))
        return NULL;
    }

  config->relay_only = g_settings_get_enum (settings, "relay-policy") == 1;
  config->port_mapping = g_settings_get_boolean (settings, "port-mapping");
  return g_steal_pointer (&config);
}

static void
lookup_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  char *password = secret_password_lookup_finish (result, &error);

  if (error != NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, password, g_free);
}

void
ph_settings_lookup_turn_password_async (GCancellable *cancellable, GAsyncReadyCallback callback,
                                        gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, ph_settings_lookup_turn_password_async);
  secret_password_lookup (turn_password_schema (), cancellable, lookup_cb, task, "purpose", "turn",
                          NULL);
}

char *
ph_settings_lookup_turn_password_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
stored_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;

  if (g_task_get_task_data (task) != NULL)
    secret_password_store_finish (result, &error);
  else
    secret_password_clear_finish (result, &error);

  if (error != NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

void
ph_settings_store_turn_password_async (const char *password, GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, ph_settings_store_turn_password_async);
  if (password == NULL || password[0] == '\0')
    {
      secret_password_clear (turn_password_schema (), cancellable, stored_cb, task, "purpose",
                             "turn", NULL);
      return;
    }

  /* The task data only marks which finish function applies. */
  g_task_set_task_data (task, GINT_TO_POINTER (1), NULL);
  secret_password_store (turn_password_schema (), SECRET_COLLECTION_DEFAULT,
                         _ ("Pinhole TURN server password"), password, cancellable, stored_cb, task,
                         "purpose", "turn", NULL);
}

gboolean
ph_settings_store_turn_password_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
