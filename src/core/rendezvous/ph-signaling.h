/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ph-rendezvous-client.h"
#include "ph-session-description.h"

G_BEGIN_DECLS

/* The mailbox side of a conversation: allocate or join a nameplate, run the
 * PAKE on the code, then exchange sealed session descriptions and trickled
 * candidates. Posts go out one at a time, in order, because each sealed
 * message carries a counter the peer checks. */

#define PH_TYPE_SIGNALING (ph_signaling_get_type ())
G_DECLARE_FINAL_TYPE (PhSignaling, ph_signaling, PH, SIGNALING, GObject)

/* The joiner confirms the key first, and the host answers only once that
 * confirmation verified. A peer that ran the PAKE and then leaves, stays
 * silent or breaks the protocol before its confirmation verified is taken
 * for a possible guess at the code (PH_ERROR_POSSIBLE_GUESS); a wrong
 * confirmation is PH_ERROR_WRONG_CODE on both sides. Either way a joiner
 * burns the code (ph-burned-codes.h). Once the key is confirmed, a message
 * in the peer's name that is unsealed or does not open (a forged bye, a
 * second PAKE message) is ignored and counted.
 *
 * Signals:
 *  "code-ready" (const char *code): host only, the code to read out;
 *  "seated" (const char *nameplate): this side holds its seat in the
 *    mailbox, so requests about it (TURN credentials) are allowed;
 *  "paired" (): joiner: the PAKE finished, its confirmation is on its way
 *    and the host's still to come; host: the joiner's confirmation
 *    verified;
 *  "description" (const PhSessionDescription *description): opened and parsed;
 *  "candidate" (guint64 attempt, const char *candidate): a trickled remote
 *    candidate for connection attempt @attempt (1: the first connection);
 *  "end-of-candidates" (guint64 attempt);
 *  "peer-left" (const char *reason, gboolean sealed): reason as the bye
 *    gave it, "" if none; @sealed FALSE for a bye before the key, which
 *    anyone could have posted: it says only that the peer left, never why;
 *  "failed" (const GError *error): emitted once; the mailbox is left. */

PhSignaling *ph_signaling_new (PhRendezvousClient *client);
void ph_signaling_host (PhSignaling *self);
/* @code must have been checked with ph_code_parse. */
void ph_signaling_join (PhSignaling *self, const char *code);
/* Two contacts meeting again (ph-contact-meetings.h): the PAKE runs on
 * @secret, which only the two know, with the nameplate; "code-ready" and
 * ph_signaling_get_code() give the nameplate alone, and a failure burns
 * nothing. */
void ph_signaling_host_with_secret (PhSignaling *self, const char *secret);
/* @host_pake: the host's PAKE message, if it came another way (a
 * meeting's invitation), else NULL: the joiner then finishes the PAKE at
 * once, and its PAKE message, confirmation and description go in one
 * post as soon as it is in the mailbox. @host_description, the
 * invitation's too (or NULL), is then handed on as "description" before
 * the join goes out, so ICE starts at once. */
void ph_signaling_join_with_secret (PhSignaling *self, const char *nameplate, const char *secret,
                                    GBytes *host_pake, const char *host_description);
/* Before _join_with_secret(): everything is made ready and queued, but the
 * join waits for ph_signaling_release_join() (which may come first). */
void ph_signaling_hold_join (PhSignaling *self);
void ph_signaling_release_join (PhSignaling *self);
/* Our PAKE message, once the PAKE has started (the host: once allocated),
 * else NULL. A meeting's host posts it nowhere: it goes in the
 * invitation. */
GBytes *ph_signaling_dup_pake_message (PhSignaling *self);
const char *ph_signaling_get_code (PhSignaling *self);
/* Queued until the PAKE has finished. */
void ph_signaling_send_description (PhSignaling *self, const PhSessionDescription *description);
/* Candidates trickle for every connection attempt, numbered as the
 * description's session version. */
void ph_signaling_send_candidate (PhSignaling *self, guint64 attempt, const char *candidate);
void ph_signaling_send_end_of_candidates (PhSignaling *self, guint64 attempt);
/* From now on an unreachable server is asked again every few seconds
 * instead of failing, and copies of earlier messages (a post repeated after
 * a lost answer) are dropped: a connected conversation keeps the mailbox to
 * reconnect through. Only a mailbox that is gone still fails. */
void ph_signaling_set_resilient (PhSignaling *self);
/* How many messages in the peer's name were ignored because the peer did
 * not send them (see above), for tests and the inspector. */
guint ph_signaling_get_ignored_count (PhSignaling *self);
/* Once paired: 32 bytes that only the two sides of this chat know,
 * BLAKE2b-256 of the PAKE key under the context "pinhole chat binding",
 * for signatures that must not verify in any other chat (contact offers,
 * ph-contact-exchange.h). NULL before the PAKE finished. */
GBytes *ph_signaling_dup_binding (PhSignaling *self);
/* Drops the poll in flight and asks again at once: after the network
 * changed, its connection may be dead without either end knowing. */
void ph_signaling_poll_now (PhSignaling *self);
/* Stops polling and leaves the mailbox, so its nameplate is free again.
 * @reason (an error code name such as "ice-failed", or NULL) travels in
 * the bye, sealed once our confirmation went out, so a peer still setting
 * up can tell why we gave up. */
void ph_signaling_leave_async (PhSignaling *self, const char *reason, GAsyncReadyCallback callback,
                               gpointer user_data);
void ph_signaling_leave_finish (PhSignaling *self, GAsyncResult *result);

G_END_DECLS
