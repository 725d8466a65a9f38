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

G_END_DECLS
