/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

#include "ph-frame.h"
#include "ph-ice-transport.h"

G_BEGIN_DECLS

/* While a chat runs on a relay, looks for a direct path in the background
 * and lets the transport move the chat to it (ph_ice_transport_start_probe):
 * the leader (the host, ICE's controlling side) starts a probe 1 s after
 * the chat connected relayed, then 2, 4, 8… up to 30 s after each probe
 * that found nothing, until the path is direct or the search stops; the
 * other side answers each probe with its own. Probes travel as frames on
 * the chat's secure channel, never through the rendezvous server.
 *
 * Signals:
 *  "send-frame" (const PhFrame *frame): a probe frame for the peer. */
#define PH_DIRECT_SEARCH_FIRST_DELAY_MS 1000
#define PH_DIRECT_SEARCH_MAX_DELAY_MS 30000

#define PH_TYPE_DIRECT_SEARCH (ph_direct_search_get_type ())
G_DECLARE_FINAL_TYPE (PhDirectSearch, ph_direct_search, PH, DIRECT_SEARCH, GObject)

PhDirectSearch *ph_direct_search_new (gboolean leader);
/* Searches beside @ice's path from now on (its channel is open), with the
 * first delay again; replaces a transport given before. */
void ph_direct_search_start (PhDirectSearch *self, PhIceTransport *ice);
/* Stops the search and any probe under way: the chat reconnects or ends. */
void ph_direct_search_stop (PhDirectSearch *self);
/* A PH_FRAME_PROBE from the peer. */
void ph_direct_search_handle_frame (PhDirectSearch *self, const PhFrame *frame);

G_END_DECLS
