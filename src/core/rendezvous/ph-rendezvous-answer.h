/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "ph-rendezvous-client.h"

G_BEGIN_DECLS

/* What the rendezvous server's answers say (docs/ARCHITECTURE.md), read
 * from the bytes of their bodies. Nothing in the bytes is trusted: a
 * broken or hostile server chooses them, and fuzz/fuzz-rendezvous-answer.c
 * feeds these functions arbitrary input.
 *
 * @server is the server's base URL; each error names it. A body that does
 * not say what it must is a PH_ERROR_RENDEZVOUS error that says what was
 * wrong with it. */

/* POST /v1/mailboxes: {"nameplate":"42","expires_in":600,"side":1,
 * "secret":"<64 hex digits>"}. Returns the nameplate, and the secret of
 * side 1 in @out_secret. */
char *ph_rendezvous_answer_parse_allocate (const char *server, const char *data, gsize length,
                                           guint *out_expires_in, char **out_secret,
                                           GError **error);

/* PUT /v1/mailboxes/@nameplate: the same, for the nameplate claimed.
 * Returns the secret. */
char *ph_rendezvous_answer_parse_claim (const char *server, const char *data, gsize length,
                                        const char *nameplate, GError **error);

/* POST /v1/mailboxes/@nameplate/join: the same, for side 2. Returns the
 * secret. */
char *ph_rendezvous_answer_parse_join (const char *server, const char *data, gsize length,
                                       const char *nameplate, GError **error);

/* POST …/messages: {"index":3}, an index of 1 or more. */
gboolean ph_rendezvous_answer_parse_post (const char *server, const char *data, gsize length,
                                          guint64 *out_index, GError **error);

/* GET …/messages?after=@after: {"messages":[{"index":…,"side":1,"phase":…,
 * "body":base64},…]}, indices rising from above @after, sides 1 or 2
 * (given as "1" and "2"). Returns a GPtrArray of PhMailboxMessage, maybe
 * empty. */
GPtrArray *ph_rendezvous_answer_parse_fetch (const char *server, const char *data, gsize length,
                                             guint64 after, GError **error);

/* POST /v1/meet/wait: {"points":[{"id":…,"stored":N,"messages":[…]},…]},
 * each id one of the @n_points of @ids at most once, each with news, its
 * messages as a fetch's above the @afters of its id. Returns a GPtrArray
 * of PhMeetingPointNews, maybe empty. */
GPtrArray *ph_rendezvous_answer_parse_meet_wait (const char *server, const char *data, gsize length,
                                                 const char *const *ids, const guint64 *afters,
                                                 guint n_points, GError **error);

/* POST /v1/meet/ID/stored: {"index":I,"expires_in":S}, I of 1 or more. */
gboolean ph_rendezvous_answer_parse_stored (const char *server, const char *data, gsize length,
                                            guint64 *out_index, guint *out_expires_in,
                                            GError **error);

/* GET /v1/meet/ID/stored?after=@after: {"stored":[{"index":…,"side":1,
 * "body":base64,"expires_in":S},…]}, indices rising from above @after.
 * Returns a GPtrArray of PhStoredCopy, maybe empty. */
GPtrArray *ph_rendezvous_answer_parse_copies (const char *server, const char *data, gsize length,
                                              guint64 after, GError **error);

/* GET /v1/turn and /v1/mailboxes/N/turn: {"stun":[…]} and, when the
 * server issues TURN credentials, "turn", "username", "credential" and
 * "ttl". */
PhTurnInfo *ph_rendezvous_answer_parse_turn (const char *server, const char *data, gsize length,
                                             GError **error);

/* A request the server did not answer with success. */
typedef struct
{
  const char *server;
  const char *method;
  const char *mailbox; /* the nameplate the request was about, or NULL */
  guint status;
  gint64 retry_after; /* seconds the server asked us to wait (Retry-After), or -1 */
} PhRendezvousRefusal;

/* The error for @refusal, from its status and its body
 * ({"error":"mailbox-full","message":"…"}, maybe absent or malformed):
 * PH_ERROR_UNKNOWN_CODE for a mailbox that is not there (404) or no longer
 * the one this client used (412), PH_ERROR_MAILBOX_FULL for a conflict
 * about a mailbox (409), otherwise PH_ERROR_RENDEZVOUS with the server's
 * own sentence, or, without one, a sentence of ours with the status. A
 * request about a mailbox whose secret the server does not know (401:
 * it restarted) is PH_ERROR_UNKNOWN_CODE too; a join refused because the
 * mailbox holds another chat (409 mailbox-mismatch) PH_ERROR_MAILBOX_FULL.
 * Never NULL. */
GError *ph_rendezvous_answer_parse_refusal (const PhRendezvousRefusal *refusal, const char *data,
                                            gsize length);

G_END_DECLS
