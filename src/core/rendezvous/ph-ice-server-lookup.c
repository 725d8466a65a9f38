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

static void
get_turn_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PhIceConfig *config = g_task_get_task_data (task);
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

  taken = ph_ice_config_merge_offer (config, offer);
  g_debug ("Took %u of the STUN and TURN servers the rendezvous server offers", taken);
  g_task_return_int (task,
                     offer->turn_uris != NULL && offer->turn_uris[0] != NULL ? offer->ttl : 0);
}

void
ph_ice_server_lookup_async (PhRendezvousClient *client, const char *nameplate, PhIceConfig *config,
                            GCancellable *cancellable, GAsyncReadyCallback callback,
                            gpointer user_data)
{
  GTask *task;

  g_return_if_fail (PH_IS_RENDEZVOUS_CLIENT (client));
  g_return_if_fail (config != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (client, cancellable, callback, user_data);
  g_task_set_source_tag (task, ph_ice_server_lookup_async);
  g_task_set_task_data (task, config, NULL);
  ph_rendezvous_client_get_turn_async (client, nameplate, cancellable, get_turn_cb, task);
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
