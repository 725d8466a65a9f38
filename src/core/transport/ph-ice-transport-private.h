/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "ph-ice-transport.h"

G_BEGIN_DECLS

/* Gathers host candidates only on these numeric addresses instead of on
 * every interface: tests and benchmarks keep to 127.0.0.1 with it, and a
 * network-namespace lab can pin a peer to one link. Call before start. */
gboolean ph_ice_transport_set_local_addresses (PhIceTransport *self, const char *const *addresses,
                                               GError **error);

/* Reports the component as failed, as libnice does when every pair has
 * stopped answering: tests use it to make a conversation reconnect. */
void ph_ice_transport_force_fail (PhIceTransport *self);

G_END_DECLS
