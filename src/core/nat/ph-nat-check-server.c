/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-nat-check-server"

#include "config.h"

#include <glib/gi18n-lib.h>

#include "ph-error.h"
#include "ph-ice-server-lookup.h"
#include "ph-nat-check-server.h"

typedef struct
{
  PhRendezvousClient *client;
  PhIceConfig *config;
} Lookup;

static void
lookup_free (Lookup *lookup)
{
  g_clear_object (&lookup->client);
  ph_ice_config_free (lookup->config);
  g_free (lookup);
}

static void
found_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Lookup *lookup = g_task_get_task_data (task);
  GError *error = NULL;

  if (!ph_ice_server_lookup_finish (result, NULL, &error))
    g_task_return_error (task, error);
  else if (lookup->config->stun_host == NULL)
    g_task_return_new_error (task, PH_ERROR, PH_ERROR_FAILED,
                             /* Translators: %s is the rendezvous server's URL. */
                             _ ("The rendezvous server %s names no STUN server to test against."),
                             ph_rendezvous_client_get_base_url (lookup->client));
  else
    g_task_return_pointer (
        task, g_strdup_printf ("%s:%u", lookup->config->stun_host, lookup->config->stun_port),
        g_free);
}

void
ph_nat_check_find_server_async (const char *rendezvous_url, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  GError *error = NULL;
  Lookup *lookup;

  g_return_if_fail (rendezvous_url != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, ph_nat_check_find_server_async);
  lookup = g_new0 (Lookup, 1);
  lookup->config = ph_ice_config_new ();
  g_task_set_task_data (task, lookup, (GDestroyNotify)lookup_free);
  lookup->client = ph_rendezvous_client_new (rendezvous_url, &error);
  if (lookup->client == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  ph_ice_server_lookup_async (lookup->client, NULL, lookup->config, cancellable, found_cb,
                              g_steal_pointer (&task));
}

char *
ph_nat_check_find_server_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
