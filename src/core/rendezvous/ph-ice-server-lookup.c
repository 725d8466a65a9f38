/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-ice-server-lookup"

#include "config.h"

#include "ph-ice-server-lookup.h"

static gboolean
take_stun (PhIceConfig *config, const PhTurnInfo *offer)
{
  for (guint i = 0; offer->stun_uris != NULL && offer->stun_uris[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;

      if (ph_ice_config_set_stun (config, offer->stun_uris[i], &error))
        return TRUE;
      g_debug ("Ignoring the rendezvous server’s STUN URI: %s", error->message);
    }
  return FALSE;
}

static guint
take_turn (PhIceConfig *config, const PhTurnInfo *offer)
{
  guint taken = 0;

  for (guint i = 0; offer->turn_uris != NULL && offer->turn_uris[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;

      if (ph_ice_config_add_turn (config, offer->turn_uris[i], offer->username, offer->credential,
                                  &error))
        taken++;
      else
        g_debug ("Ignoring the rendezvous server’s TURN URI: %s", error->message);
    }
  return taken;
}

guint
ph_ice_config_merge_offer (PhIceConfig *config, const PhTurnInfo *offer)
{
  guint taken = 0;

  g_return_val_if_fail (config != NULL, 0);
  g_return_val_if_fail (offer != NULL, 0);

  if (config->stun_host == NULL && take_stun (config, offer))
    taken++;
  /* TURN servers the person named may be the only way out of their
   * network: the offered ones are not mixed in. */
  if (config->turn_servers->len == 0)
    taken += take_turn (config, offer);
  return taken;
}

guint
ph_ice_config_renew_offer (PhIceConfig *config, const PhTurnInfo *offer)
{
  g_autoptr (PhIceConfig) renewed = NULL;
  guint taken;

  g_return_val_if_fail (config != NULL, 0);
  g_return_val_if_fail (offer != NULL, 0);

  renewed = ph_ice_config_copy (config);
  g_ptr_array_set_size (renewed->turn_servers, 0);
  taken = take_turn (renewed, offer);
  if (taken > 0)
    {
      GPtrArray *expiring = config->turn_servers;

      config->turn_servers = renewed->turn_servers;
      renewed->turn_servers = expiring;
    }
  return taken;
}

typedef guint (*MergeFunc) (PhIceConfig *config, const PhTurnInfo *offer);

typedef struct
{
  PhIceConfig *config;
  MergeFunc merge;
} Lookup;

static void
get_turn_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Lookup *lookup = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (PhTurnInfo) offer = NULL;
  guint taken;

  offer = ph_rendezvous_client_get_turn_finish (PH_RENDEZVOUS_CLIENT (source), result, &error);
  if (offer == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  /* Cancelled while the answer was on its way: @config stays as it was. */
  if (g_task_return_error_if_cancelled (task))
    return;

  taken = lookup->merge (lookup->config, offer);
  g_debug ("Took %u of the STUN and TURN servers the rendezvous server offers", taken);
  g_task_return_int (task,
                     offer->turn_uris != NULL && offer->turn_uris[0] != NULL ? offer->ttl : 0);
}

static void
look_up (PhRendezvousClient *client, const char *nameplate, PhIceConfig *config, MergeFunc merge,
         GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Lookup *lookup;

  g_return_if_fail (PH_IS_RENDEZVOUS_CLIENT (client));
  g_return_if_fail (config != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (client, cancellable, callback, user_data);
  g_task_set_source_tag (task, ph_ice_server_lookup_async);
  lookup = g_new0 (Lookup, 1);
  lookup->config = config;
  lookup->merge = merge;
  g_task_set_task_data (task, lookup, g_free);
  ph_rendezvous_client_get_turn_async (client, nameplate, cancellable, get_turn_cb, task);
}

void
ph_ice_server_lookup_async (PhRendezvousClient *client, const char *nameplate, PhIceConfig *config,
                            GCancellable *cancellable, GAsyncReadyCallback callback,
                            gpointer user_data)
{
  look_up (client, nameplate, config, ph_ice_config_merge_offer, cancellable, callback, user_data);
}

void
ph_ice_server_lookup_renew_async (PhRendezvousClient *client, const char *nameplate,
                                  PhIceConfig *config, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  look_up (client, nameplate, config, ph_ice_config_renew_offer, cancellable, callback, user_data);
}

gboolean
ph_ice_server_lookup_finish (GAsyncResult *result, guint *out_ttl, GError **error)
{
  gssize ttl;

  g_return_val_if_fail (G_IS_TASK (result), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, ph_ice_server_lookup_async), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  ttl = g_task_propagate_int (G_TASK (result), error);
  if (ttl < 0)
    return FALSE;
  if (out_ttl != NULL)
    *out_ttl = ttl;
  return TRUE;
}
