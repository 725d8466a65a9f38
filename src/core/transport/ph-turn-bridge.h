/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ph-ice-config.h"

G_BEGIN_DECLS

/* The local end of this side's TURN connections over TCP and TLS.
 *
 * libnice opens TURN over TCP itself, but its "TLS" relay type is a fake
 * handshake for old Google servers, and it knows nothing of the system's
 * proxy settings. It can send its TCP TURN connections through an HTTP
 * proxy, though, so the ICE agent is told that this bridge is its proxy
 * and each TCP or TLS server a placeholder address on 127.0.0.0/8
 * (ph_turn_bridge_add_server). For each CONNECT to a placeholder the
 * bridge opens the real connection with GSocketClient: through the
 * system's proxy when it names one, with TLS checked against the system's
 * trust store for a turns: server, and then copies bytes both ways.
 *
 * Listens on 127.0.0.1 on a free port, on the thread-default main context
 * it was made on; answers only CONNECTs to its placeholders.
 *
 * Signal "problem" (const char *sentence): the first connection failed,
 * ph_turn_bridge_get_problem() says why. */

#define PH_TYPE_TURN_BRIDGE (ph_turn_bridge_get_type ())
G_DECLARE_FINAL_TYPE (PhTurnBridge, ph_turn_bridge, PH, TURN_BRIDGE, GObject)

PhTurnBridge *ph_turn_bridge_new (GError **error);
/* The port of the bridge on 127.0.0.1, libnice's HTTP proxy. */
guint16 ph_turn_bridge_get_port (PhTurnBridge *self);
/* Routes @server (TCP or TLS) through the bridge. Returns the numeric
 * address to give libnice as the server's (with the server's own port),
 * or NULL when the bridge has no placeholder left. */
char *ph_turn_bridge_add_server (PhTurnBridge *self, const PhTurnServer *server);
/* Whether @address:@port is a placeholder of the bridge; then sets how
 * its server is reached, and whether its last connection went through a
 * proxy. */
gboolean ph_turn_bridge_lookup (PhTurnBridge *self, const char *address, guint port,
                                PhTurnTransport *out_transport, gboolean *out_via_proxy);
/* Why the first connection that failed did: a sentence naming the server
 * and the reason (a certificate it does not trust, a proxy that refused,
 * a server that is not there), or NULL. */
const char *ph_turn_bridge_get_problem (PhTurnBridge *self);
/* Whether that problem is that the server could not be reached with no
 * proxy on the way (not a certificate, not a proxy that failed). */
gboolean ph_turn_bridge_get_problem_is_unreachable (PhTurnBridge *self);
/* Stops listening and drops every connection. */
void ph_turn_bridge_close (PhTurnBridge *self);

G_END_DECLS
