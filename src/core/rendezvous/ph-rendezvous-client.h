/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A client of the rendezvous server's v1 HTTP API (see docs/ARCHITECTURE.md). */

typedef struct
{
  guint64 index;
  char *side;
  char *phase;
  GBytes *body; /* decoded from base64 */
} PhMailboxMessage;

void ph_mailbox_message_free (PhMailboxMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhMailboxMessage, ph_mailbox_message_free)

/* What GET /v1/turn answers: STUN and TURN URIs and, when the server issues
 * TURN credentials, a short-lived user name and password for them. */
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
 * (the message names the URL and the reason), PH_ERROR_UNKNOWN_CODE on 404
 * and on 412 (the mailbox this client used is gone, though its number may
 * be open again), PH_ERROR_MAILBOX_FULL on 409, PH_ERROR_RENDEZVOUS with the
 * server's own sentence for any other refusal.
 *
 * The client remembers the tag (ETag) of every mailbox it has had an answer
 * about and sends it with each later request about that nameplate
 * (If-Match), so a request never lands in another mailbox that a restarted
 * server opened under the same number. */

PhRendezvousClient *ph_rendezvous_client_new (const char *base_url, GError **error);
const char *ph_rendezvous_client_get_base_url (PhRendezvousClient *self);

void ph_rendezvous_client_allocate_async (PhRendezvousClient *self, GCancellable *cancellable,
                                          GAsyncReadyCallback callback, gpointer user_data);
/* Returns the nameplate. */
char *ph_rendezvous_client_allocate_finish (PhRendezvousClient *self, GAsyncResult *result,
                                            guint *out_expires_in, GError **error);

/* Opens @nameplate again, with @side in it, after the server lost it (see
 * PUT in docs/ARCHITECTURE.md). Fails with PH_ERROR_MAILBOX_FULL when the
 * number is open for someone else. */
void ph_rendezvous_client_claim_async (PhRendezvousClient *self, const char *nameplate,
                                       const char *side, GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data);
gboolean ph_rendezvous_client_claim_finish (PhRendezvousClient *self, GAsyncResult *result,
                                            GError **error);
/* Forgets @nameplate's tag: the next request about it is about whatever
 * mailbox is open under that number then. */
void ph_rendezvous_client_forget_mailbox (PhRendezvousClient *self, const char *nameplate);

void ph_rendezvous_client_post_async (PhRendezvousClient *self, const char *nameplate,
                                      const char *side, const char *phase, GBytes *body,
                                      GCancellable *cancellable, GAsyncReadyCallback callback,
                                      gpointer user_data);
gboolean ph_rendezvous_client_post_finish (PhRendezvousClient *self, GAsyncResult *result,
                                           guint64 *out_index, GError **error);

/* Long-polls for messages with an index above @after, waiting up to
 * @wait_seconds. Returns a GPtrArray of PhMailboxMessage, maybe empty. */
void ph_rendezvous_client_fetch_async (PhRendezvousClient *self, const char *nameplate,
                                       guint64 after, guint wait_seconds, GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *ph_rendezvous_client_fetch_finish (PhRendezvousClient *self, GAsyncResult *result,
                                              GError **error);

void ph_rendezvous_client_leave_async (PhRendezvousClient *self, const char *nameplate,
                                       const char *side, GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data);
gboolean ph_rendezvous_client_leave_finish (PhRendezvousClient *self, GAsyncResult *result,
                                            GError **error);

void ph_rendezvous_client_get_turn_async (PhRendezvousClient *self, GCancellable *cancellable,
                                          GAsyncReadyCallback callback, gpointer user_data);
PhTurnInfo *ph_rendezvous_client_get_turn_finish (PhRendezvousClient *self, GAsyncResult *result,
                                                  GError **error);

G_END_DECLS
