/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The HTTP side of PhRendezvousClient: sends one request to the rendezvous
 * server and hands back its answer, or an error a person can act on.
 *
 * Each try has its own time limit (a long-poll allows for its wait); a
 * server that asks for a short wait (429 or 503 with Retry-After) gets the
 * request again after it, a few times. It remembers the tag (ETag) of each
 * mailbox it has had an answer about and sends it with conditional
 * requests about that mailbox (If-Match), so such a request never lands in
 * another mailbox that a restarted server opened under the same number.
 * It keeps the secret of our side of each mailbox we took a seat in and
 * sends it with authenticated requests about it (Authorization: Bearer),
 * never after a redirect. */

#define PH_RENDEZVOUS_HTTP_TIMEOUT_SECONDS 30

typedef struct
{
  const char *method;
  const char *path;            /* below the base URL, escaped, with its query */
  JsonNode *body;              /* sent as application/json; NULL for none */
  const char *mailbox;         /* the nameplate the request is about, or NULL */
  gboolean conditional;        /* sends the mailbox's tag, when one is known */
  gboolean authenticated;      /* sends our side's secret for the mailbox, when one is known */
  const char *idempotency_key; /* sent as Idempotency-Key, or NULL */
  const char *bearer;          /* a meeting point's key, sent as Authorization: Bearer, or NULL */
  guint expected_status;       /* 0 accepts any success */
  guint timeout_seconds;       /* per try; 0 for PH_RENDEZVOUS_HTTP_TIMEOUT_SECONDS */
} PhRendezvousRequest;

typedef struct
{
  guint status;
  GBytes *body; /* empty when the answer has none */
  char *etag;   /* the tag of the mailbox answered about, or NULL */
} PhRendezvousResponse;

void ph_rendezvous_response_free (PhRendezvousResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhRendezvousResponse, ph_rendezvous_response_free)

#define PH_TYPE_RENDEZVOUS_HTTP (ph_rendezvous_http_get_type ())
G_DECLARE_FINAL_TYPE (PhRendezvousHttp, ph_rendezvous_http, PH, RENDEZVOUS_HTTP, GObject)

/* @base_url is an http:// or https:// URL without a query; a trailing
 * slash is dropped. */
PhRendezvousHttp *ph_rendezvous_http_new (const char *base_url);
/* For a program that talks to one rendezvous server, at its start, before
 * it starts threads (it sets an environment variable). libsoup 3.2 holds
 * a request back while another connection to the same host is being
 * made, in case that one is HTTP/2 and could carry both, so a burst of
 * requests (a wait, a post, a poll) made its connections one after
 * another, a round trip each. Plain http:// is never HTTP/2 in libsoup:
 * for it, libsoup is told so (SOUP_FORCE_HTTP1), and makes them side by
 * side. Over https HTTP/2, one connection for every request, is better. */
void ph_rendezvous_http_prepare_process (const char *base_url);
const char *ph_rendezvous_http_get_base_url (PhRendezvousHttp *self);
/* From now on @self sends through @other's connections (one libsoup
 * session): whichever made a connection, the other reuses it once idle.
 * Tags and secrets stay each one's own. */
void ph_rendezvous_http_share_connections (PhRendezvousHttp *self, PhRendezvousHttp *other);

/* Errors: PH_ERROR_RENDEZVOUS_UNREACHABLE when the server cannot be
 * reached or does not answer in time (the message names the URL and the
 * reason), G_IO_ERROR_CANCELLED when @cancellable is cancelled, and for an
 * answer other than the expected status what
 * ph_rendezvous_answer_parse_refusal() makes of it. On success the tag of
 * @request's mailbox is remembered. */
void ph_rendezvous_http_send_async (PhRendezvousHttp *self, const PhRendezvousRequest *request,
                                    GCancellable *cancellable, GAsyncReadyCallback callback,
                                    gpointer user_data);
PhRendezvousResponse *ph_rendezvous_http_send_finish (PhRendezvousHttp *self, GAsyncResult *result,
                                                      GError **error);

/* The tag remembered for @mailbox, or NULL. */
const char *ph_rendezvous_http_get_tag (PhRendezvousHttp *self, const char *mailbox);
/* Remembers @etag for @mailbox, when it is a usable tag (an old server
 * sends none: requests then go unconditionally). */
void ph_rendezvous_http_remember_tag (PhRendezvousHttp *self, const char *mailbox,
                                      const char *etag);
void ph_rendezvous_http_forget_tag (PhRendezvousHttp *self, const char *mailbox);

/* Our side's secret for @mailbox, or NULL. */
const char *ph_rendezvous_http_get_secret (PhRendezvousHttp *self, const char *mailbox);
void ph_rendezvous_http_remember_secret (PhRendezvousHttp *self, const char *mailbox,
                                         const char *secret);
/* Forgets it, and wipes it from memory. */
void ph_rendezvous_http_forget_secret (PhRendezvousHttp *self, const char *mailbox);

/* Reads a Retry-After value: delay-seconds or an HTTP date, which counts
 * from @now. A date in the past is a wait of 0 seconds. */
gboolean ph_rendezvous_http_parse_retry_after (const char *value, GDateTime *now,
                                               guint *out_seconds);

G_END_DECLS
