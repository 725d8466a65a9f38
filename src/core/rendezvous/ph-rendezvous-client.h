/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A client of the rendezvous server's v1 HTTP API (see docs/ARCHITECTURE.md). */

typedef struct
{
  guint64 index;
  char *side; /* "1" for the side that opened the mailbox, "2" for the joiner */
  char *phase;
  GBytes *body; /* decoded from base64 */
} PhMailboxMessage;

void ph_mailbox_message_free (PhMailboxMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhMailboxMessage, ph_mailbox_message_free)

/* What the server says about ICE servers: STUN URIs and, for a side of a
 * mailbox when the server issues TURN credentials, TURN URIs and a user
 * name and password for them that last @ttl seconds. */
typedef struct
{
  GStrv stun_uris;
  GStrv turn_uris;
  char *username;
  char *credential;
  guint ttl;
} PhTurnInfo;

void ph_turn_info_free (PhTurnInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhTurnInfo, ph_turn_info_free)

/* What a wait found at one meeting point: the other side's new
 * messages, and how many new copies it stored there. */
typedef struct
{
  char *id;
  GPtrArray *messages; /* PhMailboxMessage */
  guint n_stored;
} PhMeetingPointNews;

void ph_meeting_point_news_free (PhMeetingPointNews *news);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhMeetingPointNews, ph_meeting_point_news_free)

/* A sealed copy kept at a meeting point. */
typedef struct
{
  guint64 index;
  char *side; /* "1" or "2": who stored it */
  GBytes *body;
  guint expires_in; /* seconds the server keeps it from now */
} PhStoredCopy;

void ph_stored_copy_free (PhStoredCopy *copy);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhStoredCopy, ph_stored_copy_free)

/* One point of a wait: its key, our side there, and the highest index we
 * have seen there (0 at first). */
typedef struct
{
  const char *key;
  const char *side;
  guint64 after;
} PhMeetingPointCursor;

#define PH_TYPE_RENDEZVOUS_CLIENT (ph_rendezvous_client_get_type ())
G_DECLARE_FINAL_TYPE (PhRendezvousClient, ph_rendezvous_client, PH, RENDEZVOUS_CLIENT, GObject)

/* Errors: PH_ERROR_RENDEZVOUS_UNREACHABLE when the server cannot be reached
 * (the message names the URL and the reason), PH_ERROR_UNKNOWN_CODE on 404,
 * 412 and 401 (the mailbox this client used is gone, though its number may
 * be open again), PH_ERROR_MAILBOX_FULL on 409, PH_ERROR_RENDEZVOUS with the
 * server's own sentence for any other refusal.
 *
 * A client is one side of each mailbox it uses: allocating, claiming or
 * joining gives it that side's secret, which it keeps per nameplate and
 * sends with every later request about the mailbox (Authorization); a
 * server that restarted knows it no more, and claiming or joining again
 * gives a new one. It also remembers the tag (ETag) of every mailbox it
 * has had an answer about and sends it with each later request about that
 * nameplate (If-Match), so a request never lands in another mailbox that a
 * restarted server opened under the same number. */

PhRendezvousClient *ph_rendezvous_client_new (const char *base_url, GError **error);
/* A client of @other's server that sends through @other's connections
 * (ph_rendezvous_http_share_connections): a chat that a profile's meetings
 * start finds connections ready. Its mailboxes, secrets and tags are its
 * own. */
PhRendezvousClient *ph_rendezvous_client_new_sharing (PhRendezvousClient *other);
const char *ph_rendezvous_client_get_base_url (PhRendezvousClient *self);

void ph_rendezvous_client_allocate_async (PhRendezvousClient *self, GCancellable *cancellable,
                                          GAsyncReadyCallback callback, gpointer user_data);
/* Returns the nameplate. */
char *ph_rendezvous_client_allocate_finish (PhRendezvousClient *self, GAsyncResult *result,
                                            guint *out_expires_in, GError **error);

/* Opens @nameplate again, as side 1, after the server lost it (see PUT in
 * docs/protocol.md). Fails with PH_ERROR_MAILBOX_FULL when the number is
 * open for someone else. A claim tried again before one succeeded (its
 * answer lost) carries the same Idempotency-Key, and gets the seat again. */
void ph_rendezvous_client_claim_async (PhRendezvousClient *self, const char *nameplate,
                                       GCancellable *cancellable, GAsyncReadyCallback callback,
                                       gpointer user_data);
gboolean ph_rendezvous_client_claim_finish (PhRendezvousClient *self, GAsyncResult *result,
                                            GError **error);
/* Takes side 2 of the mailbox open under @nameplate; only the first to
 * join does, and it keeps it. With @first_phase and @first_body (both or
 * neither) only in the mailbox whose first message they are: a joiner back
 * after a restart. Fails with PH_ERROR_UNKNOWN_CODE when nothing is open
 * there (or, with a first message, it has none yet), PH_ERROR_MAILBOX_FULL
 * when someone joined first or the mailbox holds another chat. Tried again
 * as a claim is. */
void ph_rendezvous_client_join_async (PhRendezvousClient *self, const char *nameplate,
                                      const char *first_phase, GBytes *first_body,
                                      GCancellable *cancellable, GAsyncReadyCallback callback,
                                      gpointer user_data);
gboolean ph_rendezvous_client_join_finish (PhRendezvousClient *self, GAsyncResult *result,
                                           GError **error);
/* Joins and, once seated, posts @body under @phase in the same request
 * (POST …/join?post=1): @out_index is where it went, or 0 when the server
 * did not post it (the join was a repeat of one whose answer was lost, or
 * the post was refused): then post it as ever. */
void ph_rendezvous_client_join_and_post_async (PhRendezvousClient *self, const char *nameplate,
                                               const char *phase, GBytes *body,
                                               GCancellable *cancellable,
                                               GAsyncReadyCallback callback, gpointer user_data);
gboolean ph_rendezvous_client_join_and_post_finish (PhRendezvousClient *self, GAsyncResult *result,
                                                    guint64 *out_index, GError **error);
/* Forgets @nameplate's tag and our secret there: the next request about it
 * is about whatever mailbox is open under that number then. */
void ph_rendezvous_client_forget_mailbox (PhRendezvousClient *self, const char *nameplate);

/* Posts, fetches and leaves as our side of @nameplate. */
void ph_rendezvous_client_post_async (PhRendezvousClient *self, const char *nameplate,
                                      const char *phase, GBytes *body, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data);
gboolean ph_rendezvous_client_post_finish (PhRendezvousClient *self, GAsyncResult *result,
                                           guint64 *out_index, GError **error);

/* Long-polls for messages with an index above @after, waiting up to
 * @wait_seconds. Returns a GPtrArray of PhMailboxMessage, maybe empty. */
void ph_rendezvous_client_fetch_async (PhRendezvousClient *self, const char *nameplate,
                                       guint64 after, guint wait_seconds, GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *ph_rendezvous_client_fetch_finish (PhRendezvousClient *self, GAsyncResult *result,
                                              GError **error);

/* Once left, the client forgets the mailbox. */
void ph_rendezvous_client_leave_async (PhRendezvousClient *self, const char *nameplate,
                                       GCancellable *cancellable, GAsyncReadyCallback callback,
                                       gpointer user_data);
gboolean ph_rendezvous_client_leave_finish (PhRendezvousClient *self, GAsyncResult *result,
                                            GError **error);

/* With @nameplate NULL, the STUN servers anyone may have (GET /v1/turn);
 * for our side of the mailbox @nameplate also TURN credentials, if the
 * server issues them (GET /v1/mailboxes/N/turn). Those last
 * PhTurnInfo.ttl seconds (an hour at most): ask again before they run out,
 * for as long as the chat may need a relay. The server gives each side a
 * few sets per ttl (429, PH_ERROR_RENDEZVOUS, past them). */
void ph_rendezvous_client_get_turn_async (PhRendezvousClient *self, const char *nameplate,
                                          GCancellable *cancellable, GAsyncReadyCallback callback,
                                          gpointer user_data);
PhTurnInfo *ph_rendezvous_client_get_turn_finish (PhRendezvousClient *self, GAsyncResult *result,
                                                  GError **error);

/* Meeting points (docs/protocol.md): named by the key two contacts share
 * (PH_MAILBOX_SECRET_LENGTH lower-case hex digits), which each request
 * carries; the server knows only its id (ph-meeting-point.h). @side is
 * "1" or "2", ours there. Refusals are PH_ERROR_RENDEZVOUS with the
 * server's sentence. */

/* One long-poll for @n_points points (at most PH_MEETING_POINT_MAX_WAIT),
 * up to @wait_seconds: returns a GPtrArray of PhMeetingPointNews, one for
 * each point with news (none when the hold ended), each with the id of a
 * point asked about. */
void ph_rendezvous_client_meet_wait_async (PhRendezvousClient *self,
                                           const PhMeetingPointCursor *points, guint n_points,
                                           guint wait_seconds, GCancellable *cancellable,
                                           GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *ph_rendezvous_client_meet_wait_finish (PhRendezvousClient *self, GAsyncResult *result,
                                                  GError **error);
/* Posts a message (phase here, auth, desc, cand or bye) at the point. */
void ph_rendezvous_client_meet_post_async (PhRendezvousClient *self, const char *key,
                                           const char *side, const char *phase, GBytes *body,
                                           GCancellable *cancellable, GAsyncReadyCallback callback,
                                           gpointer user_data);
gboolean ph_rendezvous_client_meet_post_finish (PhRendezvousClient *self, GAsyncResult *result,
                                                guint64 *out_index, GError **error);
/* Leaves @body, sealed by the caller, at the point for the other side. */
void ph_rendezvous_client_store_copy_async (PhRendezvousClient *self, const char *key,
                                            const char *side, GBytes *body,
                                            GCancellable *cancellable, GAsyncReadyCallback callback,
                                            gpointer user_data);
gboolean ph_rendezvous_client_store_copy_finish (PhRendezvousClient *self, GAsyncResult *result,
                                                 guint64 *out_index, guint *out_expires_in,
                                                 GError **error);
/* The copies at the point with an index above @after, both sides', oldest
 * first: a GPtrArray of PhStoredCopy. */
void ph_rendezvous_client_fetch_copies_async (PhRendezvousClient *self, const char *key,
                                              guint64 after, GCancellable *cancellable,
                                              GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *ph_rendezvous_client_fetch_copies_finish (PhRendezvousClient *self, GAsyncResult *result,
                                                     GError **error);
/* Acknowledges the copy @index: the server deletes it. One that is gone
 * already (acknowledged, expired) is PH_ERROR_RENDEZVOUS. */
void ph_rendezvous_client_delete_copy_async (PhRendezvousClient *self, const char *key,
                                             guint64 index, GCancellable *cancellable,
                                             GAsyncReadyCallback callback, gpointer user_data);
gboolean ph_rendezvous_client_delete_copy_finish (PhRendezvousClient *self, GAsyncResult *result,
                                                  GError **error);

G_END_DECLS
