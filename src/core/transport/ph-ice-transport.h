/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ph-core-enums.h"

#include "ph-ice-config.h"
#include "ph-path.h"

G_BEGIN_DECLS

/* One libnice stream with trickle ICE, carrying a PhReliableLink (through
 * PhNiceStream), running on the thread-default main context it was made
 * on. */

typedef enum
{
  PH_ICE_STATE_NEW,
  PH_ICE_STATE_GATHERING,
  PH_ICE_STATE_CONNECTING,
  PH_ICE_STATE_CONNECTED,
  PH_ICE_STATE_READY,
  PH_ICE_STATE_FAILED,
  PH_ICE_STATE_CLOSED,
} PhIceState;

#define PH_TYPE_ICE_TRANSPORT (ph_ice_transport_get_type ())
G_DECLARE_FINAL_TYPE (PhIceTransport, ph_ice_transport, PH, ICE_TRANSPORT, GObject)

/* Signals:
 *  "local-candidate" (const char *candidate): "candidate:…" without "a=",
 *     ready for a session description or a trickle message;
 *  "gathering-done" ();
 *  "state-changed" (PhIceState state);
 *  "path-changed" (const PhPath *path): the selected pair, first when it is
 *     chosen and again whenever it changes;
 *  "relay-problem" (const char *problem): a TURN server over TCP or TLS
 *     could not be used; a sentence naming it and saying why (such as a
 *     certificate this computer does not trust), for the explanation of a
 *     failure: the other servers may still work;
 *  "probe-ready" (guint64 probe_id, const char *ufrag, const char *pwd,
 *     GStrv candidates): the probe's stream has gathered; send these to
 *     the peer;
 *  "probe-failed" (guint64 probe_id): no direct path this time; the probe
 *     is gone and the chat is where it was. */

PhIceTransport *ph_ice_transport_new (const PhIceConfig *config, gboolean controlling);
/* Resolves server names, then gathers; candidates arrive as signals. */
void ph_ice_transport_start (PhIceTransport *self);
const char *ph_ice_transport_get_ufrag (PhIceTransport *self);
const char *ph_ice_transport_get_pwd (PhIceTransport *self);
PhIceState ph_ice_transport_get_state (PhIceTransport *self);
gboolean ph_ice_transport_set_remote_credentials (PhIceTransport *self, const char *ufrag,
                                                  const char *pwd, GError **error);
/* Validates the line (ph_candidate_validate) before libnice sees it. */
gboolean ph_ice_transport_add_remote_candidate (PhIceTransport *self, const char *candidate,
                                                GError **error);
void ph_ice_transport_remote_gathering_done (PhIceTransport *self);
/* The selected pair, or NULL before one is chosen. */
PhPath *ph_ice_transport_get_path (PhIceTransport *self);
/* Whether the last "relay-problem" is that a TURN server over TCP or TLS
 * could not be reached at all, with no proxy on the way. */
gboolean ph_ice_transport_get_relay_unreachable (PhIceTransport *self);
/* The router forwards @address:@port to this end's host candidate
 * (@protocol: "NAT-PMP" or "UPnP"): a selected pair whose local end has
 * that address goes through it, and the path says so. */
void ph_ice_transport_set_port_mapping (PhIceTransport *self, const char *protocol,
                                        const char *address, guint port);
/* The reliable byte stream, pollable; usable once the state is READY. */
GIOStream *ph_ice_transport_get_stream (PhIceTransport *self);
/* Releases TURN allocations and sockets. */
void ph_ice_transport_close_async (PhIceTransport *self, GAsyncReadyCallback callback,
                                   gpointer user_data);
void ph_ice_transport_close_finish (PhIceTransport *self, GAsyncResult *result);

/* Looking for a direct path beside a relayed one, on a second stream of
 * the agent without relays (see "Probes" in the source). The controlling
 * side starts a probe; the other starts its own when the peer's arrives
 * (set_probe_peer with a newer @probe_id). Once the probe's stream has a
 * pair, the link moves to it and "path-changed" tells. start_probe fails
 * when closed, relay-only or not connected; a running probe is replaced. */
#define PH_ICE_TRANSPORT_MAX_PROBE_CANDIDATES 16
gboolean ph_ice_transport_start_probe (PhIceTransport *self, guint64 probe_id);
gboolean ph_ice_transport_set_probe_peer (PhIceTransport *self, guint64 probe_id, const char *ufrag,
                                          const char *pwd, const char *const *candidates,
                                          GError **error);
void ph_ice_transport_stop_probe (PhIceTransport *self);

const char *ph_ice_state_to_string (PhIceState state);

G_END_DECLS
