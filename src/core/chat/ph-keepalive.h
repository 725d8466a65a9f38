/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* Pings keep NAT mappings open and tell a dead peer from a quiet one.
 *
 * It only keeps time: the owner sends a ping frame with the id of each
 * "ping", answers the peer's pings itself, and reports what arrives with
 * ph_keepalive_heard() and ph_keepalive_pong_received(). "peer-silent"
 * comes once when nothing was heard for silence_ms (checked at each ping)
 * or for probe_ms after ph_keepalive_probe(); the keepalive is stopped by
 * then. Its timers run on the thread-default main context of the thread
 * that created it; use it from that thread only. */

#define PH_TYPE_KEEPALIVE (ph_keepalive_get_type ())
G_DECLARE_FINAL_TYPE (PhKeepalive, ph_keepalive, PH, KEEPALIVE, GObject)

PhKeepalive *ph_keepalive_new (guint interval_ms, guint silence_ms, guint probe_ms);

/* Starts pinging every interval_ms; "heard" counts from now. Restarting
 * resets everything but the round trip (ping ids keep increasing, so an
 * answer to a ping from before never counts). */
void ph_keepalive_start (PhKeepalive *self);
/* No more signals until started again. */
void ph_keepalive_stop (PhKeepalive *self);
gboolean ph_keepalive_is_running (PhKeepalive *self);

/* Any frame from the peer arrived. */
void ph_keepalive_heard (PhKeepalive *self);
/* Updates the round trip if @ping_id is the latest ping sent (an older
 * ping's answer came late); also counts as heard. */
void ph_keepalive_pong_received (PhKeepalive *self, guint64 ping_id);
/* The network changed or the machine woke: sends a ping now; if nothing
 * is heard within probe_ms, "peer-silent". A later probe restarts that
 * wait. Does nothing while stopped. */
void ph_keepalive_probe (PhKeepalive *self);

/* In milliseconds; -1 until measured. */
double ph_keepalive_get_round_trip_ms (PhKeepalive *self);
guint ph_keepalive_get_interval_ms (PhKeepalive *self);
guint ph_keepalive_get_silence_ms (PhKeepalive *self);
guint ph_keepalive_get_probe_ms (PhKeepalive *self);

G_END_DECLS
