/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* An ordered, reliable byte stream over datagrams that may be lost,
 * duplicated or reordered: the transport under the TLS channel, in place
 * of libnice's pseudo-TCP (see docs/protocol.md, "The reliable link").
 *
 * It only computes: bytes and packets go in, packets to put on the wire
 * and in-order bytes come out, and the caller keeps time (monotonic
 * microseconds) and calls ph_reliable_link_tick() at the deadline. So it
 * runs the same in the NiceAgent stream, in tests with a simulated lossy
 * wire and under a fuzzer. Not thread-safe: the caller locks. */

/* The largest datagram it sends: fits IPv6's 1280-byte minimum MTU with
 * room for TURN's channel framing. */
#define PH_RELIABLE_LINK_MAX_PACKET 1200

typedef struct _PhReliableLink PhReliableLink;

PhReliableLink *ph_reliable_link_new (void);
void ph_reliable_link_free (PhReliableLink *self);
/* Where the numbering starts: @send_isn for the packets it sends,
 * @receive_isn for the peer's (0 and 0 unless set, as before the numbers
 * were random). Only before it wrote, sent or took anything. Random
 * numbers, known to the peer alone, keep a blind attacker's packets out:
 * one is taken only when both its seq and ack fall in the window. */
void ph_reliable_link_set_initial_numbers (PhReliableLink *self, guint32 send_isn,
                                           guint32 receive_isn);

gsize ph_reliable_link_write (PhReliableLink *self, const guint8 *data, gsize length, gint64 now);
gsize ph_reliable_link_get_send_space (PhReliableLink *self);
void ph_reliable_link_finish (PhReliableLink *self, gint64 now);

gboolean ph_reliable_link_receive (PhReliableLink *self, const guint8 *packet, gsize length,
                                   gint64 now, GByteArray *delivered, GError **error);
gboolean ph_reliable_link_peer_finished (PhReliableLink *self);
void ph_reliable_link_abandon (PhReliableLink *self);
gboolean ph_reliable_link_peer_vanished (PhReliableLink *self);
gboolean ph_reliable_link_all_acknowledged (PhReliableLink *self);

GBytes *ph_reliable_link_pop_packet (PhReliableLink *self);
gint64 ph_reliable_link_get_deadline (PhReliableLink *self);
void ph_reliable_link_tick (PhReliableLink *self, gint64 now);

guint64 ph_reliable_link_get_transmissions (PhReliableLink *self);
guint64 ph_reliable_link_get_retransmissions (PhReliableLink *self);
/* Packets ph_reliable_link_receive() refused: malformed, or numbered
 * outside the window (not of this link, or too stale to matter). */
guint64 ph_reliable_link_get_refused (PhReliableLink *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhReliableLink, ph_reliable_link_free)

G_END_DECLS
