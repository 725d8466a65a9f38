/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ph-ice-config.h"
#include "ph-rendezvous-client.h"

G_BEGIN_DECLS

/* The STUN and TURN servers a rendezvous server offers, merged into the
 * servers the person configured: STUN to anyone (GET /v1/turn), TURN
 * credentials only to a side of an open mailbox (GET /v1/mailboxes/N/turn). */

/* The servers the person named win: the offered STUN server is taken only
 * when none is configured (the first offered one that parses), the offered
 * TURN servers only when no TURN server is configured. Offered URIs that do
 * not parse, or that Pinhole cannot use (turns: over DTLS), are skipped
 * (g_debug with the reason). Returns how many servers were taken. */
guint ph_ice_config_merge_offer (PhIceConfig *config, const PhTurnInfo *offer);

/* A later offer, with fresh credentials, for a @config whose TURN servers
 * all came from an earlier one: its TURN servers replace them. An offer
 * with none that Pinhole can use leaves them as they are, since expiring
 * credentials still work for a while and a chat may need them to reconnect.
 * Returns how many servers were taken. */
guint ph_ice_config_renew_offer (PhIceConfig *config, const PhTurnInfo *offer);

/* Asks @client for the server's offer (ph_rendezvous_client_get_turn_async)
 * for the mailbox @nameplate this side sits in (NULL: STUN only) and merges
 * it into @config with ph_ice_config_merge_offer. @config is not copied: the
 * caller keeps it alive until @callback has run.
 *
 * A server without an offer is not an error for the chat: finish returns
 * FALSE with the reason in @error and @config unchanged, and the chat goes
 * on with the servers it has. TRUE when the server answered, even if all it
 * offered was skipped. Cancelled: G_IO_ERROR_CANCELLED, @config unchanged. */
void ph_ice_server_lookup_async (PhRendezvousClient *client, const char *nameplate,
                                 PhIceConfig *config, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
/* @out_ttl: how many seconds the offered TURN credentials last, 0 when no
 * TURN server was offered; ask again before they run out. */
/* The same for a @config whose TURN servers came from an earlier offer:
 * merged with ph_ice_config_renew_offer. Finish with
 * ph_ice_server_lookup_finish. */
void ph_ice_server_lookup_renew_async (PhRendezvousClient *client, const char *nameplate,
                                       PhIceConfig *config, GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data);
gboolean ph_ice_server_lookup_finish (GAsyncResult *result, guint *out_ttl, GError **error);

G_END_DECLS
