/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* The attempts to restore a broken path and the deadline for giving up.
 *
 * Attempt N is the Nth ICE agent of a conversation; both sides number
 * their attempts and the higher number wins, so the next attempt is one
 * past the higher of ours and the peer's. It only keeps time and counts:
 * "attempt-due" asks the owner to begin the attempt it names (with
 * ph_reconnection_start_attempt()), "gave-up" says the deadline passed
 * without a connection. Its timers run on the thread-default main context
 * of the thread that created it; use it from that thread only. */

#define PH_TYPE_RECONNECTION (ph_reconnection_get_type ())
G_DECLARE_FINAL_TYPE (PhReconnection, ph_reconnection, PH, RECONNECTION, GObject)

PhReconnection *ph_reconnection_new (guint give_up_ms, guint attempt_timeout_ms, guint retry_ms);

/* 1 at first. */
guint64 ph_reconnection_get_attempt (PhReconnection *self);
/* The highest attempt the peer described; 0 before any. */
guint64 ph_reconnection_get_peer_attempt (PhReconnection *self);
/* Never lowers it. */
void ph_reconnection_set_peer_attempt (PhReconnection *self, guint64 attempt);
/* MAX (attempt, peer attempt) + 1. */
guint64 ph_reconnection_next_attempt (PhReconnection *self);
/* Between begin and connected, stop or giving up. */
gboolean ph_reconnection_is_active (PhReconnection *self);

/* The path broke: the give-up deadline (give_up_ms) starts unless it
 * already runs. */
void ph_reconnection_begin (PhReconnection *self);
/* @attempt becomes the current attempt; "attempt-due" follows after
 * attempt_timeout_ms unless connected or another attempt starts first.
 * Outside a reconnection (before begin) it only sets the number. */
void ph_reconnection_start_attempt (PhReconnection *self, guint64 attempt);
/* The current attempt found no path: "attempt-due" after retry_ms
 * instead. Does nothing outside a reconnection. */
void ph_reconnection_retry_soon (PhReconnection *self);
/* Clears the deadline and the attempt timer. */
void ph_reconnection_connected (PhReconnection *self);
/* Clears the timers; no more signals. The attempt numbers stay, since
 * the peer knows them. */
void ph_reconnection_stop (PhReconnection *self);

guint ph_reconnection_get_give_up_ms (PhReconnection *self);
guint ph_reconnection_get_attempt_timeout_ms (PhReconnection *self);
guint ph_reconnection_get_retry_ms (PhReconnection *self);

G_END_DECLS
