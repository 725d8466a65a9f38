/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ph-rendezvous-client.h"

G_BEGIN_DECLS

/* One side's use of a mailbox on the rendezvous server: it allocates
 * (host) or joins (joiner) a nameplate, posts messages one at a time and
 * in order, long-polls for the peer's, and rides out a server that is
 * briefly away or restarted (see docs/ARCHITECTURE.md). It carries phases
 * and bodies and knows nothing of what they mean. */

#define PH_TYPE_MAILBOX_SESSION (ph_mailbox_session_get_type ())
G_DECLARE_FINAL_TYPE (PhMailboxSession, ph_mailbox_session, PH, MAILBOX_SESSION, GObject)

/* Signals:
 *  "allocated" (const char *nameplate): host only, the number it got;
 *  "seated" (const char *nameplate): this side holds its seat, with a
 *    secret for requests about the mailbox (after allocating, joining, or
 *    taking the seat again after a server restart);
 *  "message" (const PhMailboxMessage *message): each message of the peer,
 *    once, in the order the server holds them; ours are not reported, nor
 *    the copies the peer posts again into a reopened mailbox;
 *  "drained" (): every post so far has arrived (none queued or in flight);
 *  "server-trouble" (gboolean trouble): TRUE when, before the session is
 *    resilient, the server stopped answering (or lost the mailbox) and is
 *    being asked again; FALSE when it answers again;
 *  "failed" (const GError *error): emitted once; the session has stopped.
 *    PH_ERROR_RENDEZVOUS_UNREACHABLE when patience ran out,
 *    PH_ERROR_UNKNOWN_CODE when the mailbox is gone for good,
 *    PH_ERROR_MAILBOX_FULL when someone else joined first or its number was
 *    given to another chat. */

PhMailboxSession *ph_mailbox_session_new (PhRendezvousClient *client);
/* Our side of the mailbox, as fetched messages name it: "1" for the host,
 * "2" for the joiner; NULL before ph_mailbox_session_allocate() or
 * _join(). It is no secret: the client keeps the one that proves it. */
const char *ph_mailbox_session_get_side (PhMailboxSession *self);
/* NULL until allocated (host) or joined. */
const char *ph_mailbox_session_get_nameplate (PhMailboxSession *self);

/* Host: asks the server for a free nameplate ("allocated"). */
void ph_mailbox_session_allocate (PhMailboxSession *self);
/* Joiner: takes the second seat of @nameplate's mailbox; posting and
 * reading wait until it has. What is queued already goes with the join
 * (POST …/join?post=1, as a batch if need be): post first, then join. */
void ph_mailbox_session_join (PhMailboxSession *self, const char *nameplate);

/* Queues @body under @phase; posts go out one at a time, in order, once a
 * nameplate is known: whatever was queued meanwhile, and whatever is
 * queued in the same dispatch of the main loop, goes in one request, as a
 * batch (ph-mailbox-batch.h). Polling starts when the first post has
 * arrived. */
void ph_mailbox_session_post (PhMailboxSession *self, const char *phase, GBytes *body);
/* How many posts have not arrived yet (queued or in flight). */
guint ph_mailbox_session_get_pending (PhMailboxSession *self);
/* Whether a post is in flight: what is queued now goes after it. */
gboolean ph_mailbox_session_is_posting (PhMailboxSession *self);

/* From now on an unreachable server is asked again every few seconds, for
 * as long as it takes, and a lost mailbox is not entered again (it fails
 * the session): what a connected chat wants. */
void ph_mailbox_session_set_resilient (PhMailboxSession *self);
/* Drops the poll in flight and asks again at once. */
void ph_mailbox_session_poll_now (PhMailboxSession *self);
/* Holds each later poll back by @delay_ms: tests stand in for a server
 * slow to bring the peer's answer with it. */
void ph_mailbox_session_set_poll_delay (PhMailboxSession *self, guint delay_ms);

/* Stops polling and emits nothing more. Posts already queued still go out
 * (unless the mailbox is being entered again, or the server is not
 * answering), so that a last word reaches the peer. */
void ph_mailbox_session_stop (PhMailboxSession *self);
/* Stops, posts @last_phase/@last_body (both may be NULL) after what is
 * still queued if our side is in the mailbox or on its way in, then leaves
 * the mailbox, so its nameplate is free again. Finishes once nothing of
 * ours is in flight. */
void ph_mailbox_session_leave_async (PhMailboxSession *self, const char *last_phase,
                                     GBytes *last_body, GAsyncReadyCallback callback,
                                     gpointer user_data);
void ph_mailbox_session_leave_finish (PhMailboxSession *self, GAsyncResult *result);

G_END_DECLS
