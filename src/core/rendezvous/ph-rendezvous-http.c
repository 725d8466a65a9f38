/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-rendezvous-http"

#include "config.h"

#include <glib/gi18n-lib.h>
#include <libsoup/soup.h>
#include <sodium.h>
#include <string.h>

#include "ph-error.h"
#include "ph-rendezvous-answer.h"
#include "ph-rendezvous-http.h"
#include "ph-timer.h"

/* A long-poll must be able to wait while the same peer posts: libsoup's
 * default of two connections per host is too few. */
/* Many chats of one profile may share a session (a poll held for each). */
#define MAX_CONNS_PER_HOST 16
/* Idle connections are kept longer than the 4 minutes between a
 * profile's `here` posts at its meeting points, so a running profile
 * always has one ready: a new TCP connection costs a round trip to the
 * server before the first byte of a request. */
#define IDLE_TIMEOUT_SECONDS 300
/* Bounds what a broken or hostile server can make a client hold in memory:
 * a full mailbox of the largest messages fits well below it. */
#define MAX_RESPONSE_BYTES (32 * 1024 * 1024)
#define READ_CHUNK_BYTES 16384
/* A busy server (429, 503) says when to come back; we do, a few times,
 * as long as it asks for a short wait. */
#define MAX_RETRIES 4
#define MAX_RETRY_AFTER_SECONDS 10
#define HTTP_TOO_MANY_REQUESTS 429 /* not named in libsoup 3.2 */
/* Ours are 18 bytes with the quotes; anything much longer is not a tag. */
#define MAX_TAG_LENGTH 64

struct _PhRendezvousHttp
{
  GObject parent_instance;

  char *base_url; /* without a trailing slash */
  SoupSession *session;
  GHashTable *tags;    /* nameplate → ETag of the mailbox it named */
  GHashTable *secrets; /* nameplate → our side's secret in that mailbox */
};

G_DEFINE_FINAL_TYPE (PhRendezvousHttp, ph_rendezvous_http, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_BASE_URL,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* One request, over all its tries. */
typedef struct
{
  char *method;
  char *url;
  char *mailbox;
  gboolean conditional;
  gboolean authenticated;
  char *idempotency_key;
  char *bearer;
  guint expected_status;
  guint timeout_seconds;
  GBytes *payload;

  SoupMessage *msg; /* of the current try */
  GByteArray *body;
  guint retries;
  gboolean timed_out;

  /* Cancelled by the caller's cancellable or by the time limit. */
  GCancellable *cancellable;
  GCancellable *caller_cancellable;
  gulong caller_cancelled_id;
  GSource *timeout_source;
  /* While waiting out a Retry-After: the wait, and the cancellation that
   * cuts it short. */
  GSource *retry_source;
  GSource *retry_cancelled_source;
} Exchange;

void
ph_rendezvous_response_free (PhRendezvousResponse *response)
{
  if (response == NULL)
    return;

  g_clear_pointer (&response->body, g_bytes_unref);
  g_free (response->etag);
  g_free (response);
}

static void
exchange_free (Exchange *exchange)
{
  if (exchange->caller_cancellable != NULL)
    g_cancellable_disconnect (exchange->caller_cancellable, exchange->caller_cancelled_id);
  g_clear_object (&exchange->caller_cancellable);
  ph_timer_clear (&exchange->timeout_source);
  ph_timer_clear (&exchange->retry_source);
  ph_timer_clear (&exchange->retry_cancelled_source);
  g_clear_object (&exchange->cancellable);
  g_clear_object (&exchange->msg);
  g_clear_pointer (&exchange->body, g_byte_array_unref);
  g_clear_pointer (&exchange->payload, g_bytes_unref);
  g_free (exchange->method);
  g_free (exchange->url);
  g_free (exchange->mailbox);
  g_free (exchange->idempotency_key);
  if (exchange->bearer != NULL)
    sodium_memzero (exchange->bearer, strlen (exchange->bearer));
  g_free (exchange->bearer);
  g_free (exchange);
}

static void
ph_rendezvous_http_finalize (GObject *object)
{
  PhRendezvousHttp *self = PH_RENDEZVOUS_HTTP (object);

  g_clear_object (&self->session);
  g_clear_pointer (&self->base_url, g_free);
  g_clear_pointer (&self->tags, g_hash_table_unref);
  g_clear_pointer (&self->secrets, g_hash_table_unref);

  G_OBJECT_CLASS (ph_rendezvous_http_parent_class)->finalize (object);
}

static void
ph_rendezvous_http_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PhRendezvousHttp *self = PH_RENDEZVOUS_HTTP (object);

  switch (prop_id)
    {
    case PROP_BASE_URL:
      g_value_set_string (value, self->base_url);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_rendezvous_http_set_property (GObject *object, guint prop_id, const GValue *value,
                                 GParamSpec *pspec)
{
  PhRendezvousHttp *self = PH_RENDEZVOUS_HTTP (object);
  const char *url;

  switch (prop_id)
    {
    case PROP_BASE_URL:
      url = g_value_get_string (value);
      g_return_if_fail (url != NULL);
      self->base_url = g_strndup (url, strlen (url) - (g_str_has_suffix (url, "/") ? 1 : 0));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_rendezvous_http_class_init (PhRendezvousHttpClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ph_rendezvous_http_finalize;
  object_class->get_property = ph_rendezvous_http_get_property;
  object_class->set_property = ph_rendezvous_http_set_property;

  properties[PROP_BASE_URL]
      = g_param_spec_string ("base-url", NULL, NULL, NULL,
                             G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS
                                 | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
secret_free (char *secret)
{
  sodium_memzero (secret, strlen (secret));
  g_free (secret);
}

static void
ph_rendezvous_http_init (PhRendezvousHttp *self)
{
  /* No session timeout: every request carries its own bound instead, one
   * that allows for the long-poll's wait. */
  self->session = soup_session_new_with_options ("max-conns-per-host", MAX_CONNS_PER_HOST,
                                                 "timeout", 0, "idle-timeout", IDLE_TIMEOUT_SECONDS,
                                                 "user-agent", "pinhole/" PACKAGE_VERSION, NULL);
  self->tags = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->secrets
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)secret_free);
}

PhRendezvousHttp *
ph_rendezvous_http_new (const char *base_url)
{
  g_return_val_if_fail (base_url != NULL, NULL);

  return g_object_new (PH_TYPE_RENDEZVOUS_HTTP, "base-url", base_url, NULL);
}

void
ph_rendezvous_http_share_connections (PhRendezvousHttp *self, PhRendezvousHttp *other)
{
  g_return_if_fail (PH_IS_RENDEZVOUS_HTTP (self));
  g_return_if_fail (PH_IS_RENDEZVOUS_HTTP (other));

  g_set_object (&self->session, other->session);
}

void
ph_rendezvous_http_prepare_process (const char *base_url)
{
  g_autoptr (GUri) uri = g_uri_parse (base_url, G_URI_FLAGS_NONE, NULL);

  if (uri != NULL && g_ascii_strcasecmp (g_uri_get_scheme (uri), "http") == 0)
    g_setenv ("SOUP_FORCE_HTTP1", "1", FALSE);
}

const char *
ph_rendezvous_http_get_base_url (PhRendezvousHttp *self)
{
  g_return_val_if_fail (PH_IS_RENDEZVOUS_HTTP (self), NULL);

  return self->base_url;
}

/* Printable ASCII, as a quoted entity tag is, and short. */
static gboolean
tag_is_usable (const char *etag)
{
  gsize length = strlen (etag);

  if (length == 0 || length > MAX_TAG_LENGTH)
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (etag[i] <= ' ' || etag[i] > '~')
      return FALSE;
  return TRUE;
}

const char *
ph_rendezvous_http_get_tag (PhRendezvousHttp *self, const char *mailbox)
{
  g_return_val_if_fail (PH_IS_RENDEZVOUS_HTTP (self), NULL);
  g_return_val_if_fail (mailbox != NULL, NULL);

  return g_hash_table_lookup (self->tags, mailbox);
}

void
ph_rendezvous_http_remember_tag (PhRendezvousHttp *self, const char *mailbox, const char *etag)
{
  g_return_if_fail (PH_IS_RENDEZVOUS_HTTP (self));
  g_return_if_fail (mailbox != NULL);

  if (etag != NULL && tag_is_usable (etag))
    g_hash_table_replace (self->tags, g_strdup (mailbox), g_strdup (etag));
}

void
ph_rendezvous_http_forget_tag (PhRendezvousHttp *self, const char *mailbox)
{
  g_return_if_fail (PH_IS_RENDEZVOUS_HTTP (self));
  g_return_if_fail (mailbox != NULL);

  g_hash_table_remove (self->tags, mailbox);
}

const char *
ph_rendezvous_http_get_secret (PhRendezvousHttp *self, const char *mailbox)
{
  g_return_val_if_fail (PH_IS_RENDEZVOUS_HTTP (self), NULL);
  g_return_val_if_fail (mailbox != NULL, NULL);

  return g_hash_table_lookup (self->secrets, mailbox);
}

void
ph_rendezvous_http_remember_secret (PhRendezvousHttp *self, const char *mailbox, const char *secret)
{
  g_return_if_fail (PH_IS_RENDEZVOUS_HTTP (self));
  g_return_if_fail (mailbox != NULL);
  g_return_if_fail (secret != NULL);

  g_hash_table_replace (self->secrets, g_strdup (mailbox), g_strdup (secret));
}

void
ph_rendezvous_http_forget_secret (PhRendezvousHttp *self, const char *mailbox)
{
  g_return_if_fail (PH_IS_RENDEZVOUS_HTTP (self));
  g_return_if_fail (mailbox != NULL);

  g_hash_table_remove (self->secrets, mailbox);
}

gboolean
ph_rendezvous_http_parse_retry_after (const char *value, GDateTime *now, guint *out_seconds)
{
  g_autoptr (GDateTime) date = NULL;
  guint64 seconds;
  GTimeSpan wait;

  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (now != NULL, FALSE);
  g_return_val_if_fail (out_seconds != NULL, FALSE);

  if (g_ascii_isdigit (*value))
    {
      if (!g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT, &seconds, NULL))
        return FALSE;
      *out_seconds = (guint)seconds;
      return TRUE;
    }

  date = soup_date_time_new_from_http_string (value);
  if (date == NULL)
    return FALSE;
  wait = g_date_time_difference (date, now);
  /* Rounded up: coming back early only earns another refusal. */
  *out_seconds = wait <= 0
                     ? 0
                     : (guint)MIN ((wait + G_TIME_SPAN_SECOND - 1) / G_TIME_SPAN_SECOND, G_MAXUINT);
  return TRUE;
}

static void
return_transport_error (GTask *task, GError *error)
{
  PhRendezvousHttp *self = g_task_get_source_object (task);
  Exchange *exchange = g_task_get_task_data (task);

  if (exchange->timed_out)
    g_task_return_new_error (task, PH_ERROR, PH_ERROR_RENDEZVOUS_UNREACHABLE,
                             g_dngettext (GETTEXT_PACKAGE,
                                          /* Translators: %s is the server's URL. */
                                          "The rendezvous server at %s did not answer within %u "
                                          "second.",
                                          "The rendezvous server at %s did not answer within %u "
                                          "seconds.",
                                          exchange->timeout_seconds),
                             self->base_url, exchange->timeout_seconds);
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_task_return_error (task, g_error_copy (error));
  else
    g_task_return_new_error (task, PH_ERROR, PH_ERROR_RENDEZVOUS_UNREACHABLE,
                             /* Translators: the first %s is the server's URL, the second the
                              * system's reason, such as “Connection refused”. */
                             _ ("Could not reach the rendezvous server at %s: %s"), self->base_url,
                             error->message);
}

static void start_try (GTask *task);

static void
stop_waiting (Exchange *exchange)
{
  ph_timer_clear (&exchange->retry_source);
  ph_timer_clear (&exchange->retry_cancelled_source);
}

static gboolean
retry_cb (gpointer user_data)
{
  g_autoptr (GTask) task = g_object_ref (user_data);

  stop_waiting (g_task_get_task_data (task));
  start_try (task);
  return G_SOURCE_REMOVE;
}

static gboolean
retry_cancelled_cb (GCancellable *cancellable, gpointer user_data)
{
  g_autoptr (GTask) task = g_object_ref (user_data);
  GError *error = NULL;

  stop_waiting (g_task_get_task_data (task));
  g_cancellable_set_error_if_cancelled (cancellable, &error);
  g_task_return_error (task, error);
  return G_SOURCE_REMOVE;
}

/* Sends the request again later when the server is busy and asked for a
 * short wait (@retry_after seconds, -1 when it named none we can read). */
static gboolean
retry_later (GTask *task, guint status, gboolean has_retry_after, gint64 retry_after)
{
  Exchange *exchange = g_task_get_task_data (task);
  guint seconds;

  if ((status != HTTP_TOO_MANY_REQUESTS && status != SOUP_STATUS_SERVICE_UNAVAILABLE)
      || exchange->retries >= MAX_RETRIES || g_cancellable_is_cancelled (exchange->cancellable))
    return FALSE;
  /* A wait we cannot read, or one too long for a person to sit through,
   * makes the answer the server's refusal. Without one, or with 0: a
   * second, so that a busy server is not asked again at once. */
  if (has_retry_after && (retry_after < 0 || retry_after > MAX_RETRY_AFTER_SECONDS))
    return FALSE;
  seconds = has_retry_after ? MAX ((guint)retry_after, 1) : 1;

  exchange->retries++;
  g_debug ("%s %s: HTTP %u, trying again in %u s", exchange->method, exchange->url, status,
           seconds);
  /* Milliseconds, not a seconds timer, which may fire a quarter early. */
  exchange->retry_source = g_timeout_source_new (seconds * 1000);
  g_source_set_callback (exchange->retry_source, retry_cb, g_object_ref (task), g_object_unref);
  g_source_attach (exchange->retry_source, g_task_get_context (task));
  exchange->retry_cancelled_source = g_cancellable_source_new (exchange->cancellable);
  g_source_set_callback (exchange->retry_cancelled_source, G_SOURCE_FUNC (retry_cancelled_cb),
                         g_object_ref (task), g_object_unref);
  g_source_attach (exchange->retry_cancelled_source, g_task_get_context (task));
  return TRUE;
}

static void
response_complete (GTask *task)
{
  PhRendezvousHttp *self = g_task_get_source_object (task);
  Exchange *exchange = g_task_get_task_data (task);
  SoupMessageHeaders *headers = soup_message_get_response_headers (exchange->msg);
  guint status = soup_message_get_status (exchange->msg);
  const char *retry_after_value = soup_message_headers_get_one (headers, "Retry-After");
  const char *etag = soup_message_headers_get_one (headers, "ETag");
  g_autoptr (PhRendezvousResponse) response = NULL;
  gint64 retry_after = -1;
  guint seconds;

  /* The time limit is per try: the wait before the next is not in it. */
  ph_timer_clear (&exchange->timeout_source);

  if (retry_after_value != NULL)
    {
      g_autoptr (GDateTime) now = g_date_time_new_now_utc ();

      if (ph_rendezvous_http_parse_retry_after (retry_after_value, now, &seconds))
        retry_after = seconds;
    }
  if (retry_later (task, status, retry_after_value != NULL, retry_after))
    return;

  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      PhRendezvousRefusal refusal = {
        .server = self->base_url,
        .method = exchange->method,
        .mailbox = exchange->mailbox,
        .status = status,
        .retry_after = retry_after,
      };

      g_task_return_error (
          task, ph_rendezvous_answer_parse_refusal (&refusal, (const char *)exchange->body->data,
                                                    exchange->body->len));
      return;
    }

  if (exchange->expected_status != 0 && status != exchange->expected_status)
    {
      g_task_return_new_error (task, PH_ERROR, PH_ERROR_RENDEZVOUS,
                               /* Translators: %s is the server's URL, the two %u HTTP status
                                * codes. */
                               _ ("The rendezvous server at %s answered with HTTP %u where %u "
                                  "was expected."),
                               self->base_url, status, exchange->expected_status);
      return;
    }

  response = g_new0 (PhRendezvousResponse, 1);
  response->status = status;
  response->body = g_byte_array_free_to_bytes (g_steal_pointer (&exchange->body));
  response->etag = etag != NULL && tag_is_usable (etag) ? g_strdup (etag) : NULL;
  if (exchange->mailbox != NULL)
    ph_rendezvous_http_remember_tag (self, exchange->mailbox, response->etag);

  g_task_return_pointer (task, g_steal_pointer (&response),
                         (GDestroyNotify)ph_rendezvous_response_free);
}

static void
read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PhRendezvousHttp *self = g_task_get_source_object (task);
  Exchange *exchange = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) chunk = NULL;

  chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  if (chunk == NULL)
    {
      return_transport_error (task, error);
      return;
    }

  if (g_bytes_get_size (chunk) == 0)
    {
      response_complete (task);
      return;
    }

  if (g_bytes_get_size (chunk) > MAX_RESPONSE_BYTES - exchange->body->len)
    {
      g_task_return_new_error (task, PH_ERROR, PH_ERROR_RENDEZVOUS,
                               g_dngettext (GETTEXT_PACKAGE,
                                            /* Translators: %s is the server's URL. */
                                            "The rendezvous server at %s sent an answer over %u "
                                            "byte.",
                                            "The rendezvous server at %s sent an answer over %u "
                                            "bytes.",
                                            MAX_RESPONSE_BYTES),
                               self->base_url, MAX_RESPONSE_BYTES);
      return;
    }

  g_byte_array_append (exchange->body, g_bytes_get_data (chunk, NULL), g_bytes_get_size (chunk));
  g_input_stream_read_bytes_async (G_INPUT_STREAM (source), READ_CHUNK_BYTES, G_PRIORITY_DEFAULT,
                                   exchange->cancellable, read_cb, g_steal_pointer (&task));
}

static void
send_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Exchange *exchange = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) stream = NULL;

  stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (stream == NULL)
    {
      return_transport_error (task, error);
      return;
    }

  g_input_stream_read_bytes_async (stream, READ_CHUNK_BYTES, G_PRIORITY_DEFAULT,
                                   exchange->cancellable, read_cb, g_steal_pointer (&task));
}

static gboolean
timed_out_cb (gpointer user_data)
{
  Exchange *exchange = user_data;

  exchange->timed_out = TRUE;
  g_cancellable_cancel (exchange->cancellable);
  g_clear_pointer (&exchange->timeout_source, g_source_unref);

  return G_SOURCE_REMOVE;
}

static void
caller_cancelled_cb (GCancellable *caller_cancellable, GCancellable *cancellable)
{
  g_cancellable_cancel (cancellable);
}

static void
start_try (GTask *task)
{
  PhRendezvousHttp *self = g_task_get_source_object (task);
  Exchange *exchange = g_task_get_task_data (task);
  SoupMessageHeaders *headers;
  const char *tag;
  const char *secret;

  g_clear_object (&exchange->msg);
  g_byte_array_set_size (exchange->body, 0);
  exchange->msg = soup_message_new (exchange->method, exchange->url);
  /* libsoup reuses a kept-alive connection only for an idempotent
   * request: without this every POST (a `here`, a post, a wait) would
   * open a connection of its own, and a TLS session on https. Any request
   * here may arrive twice without harm: a post repeated after a lost
   * answer is dropped by the peer, a stored copy opens once
   * (docs/protocol.md). */
  soup_message_add_flags (exchange->msg, SOUP_MESSAGE_IDEMPOTENT);
  headers = soup_message_get_request_headers (exchange->msg);
  if (exchange->payload != NULL)
    soup_message_set_request_body_from_bytes (exchange->msg, "application/json", exchange->payload);
  /* Looked up on each try, so a retry carries the tag and secret as they
   * are now. */
  if (exchange->conditional && (tag = g_hash_table_lookup (self->tags, exchange->mailbox)) != NULL)
    soup_message_headers_replace (headers, "If-Match", tag);
  secret = exchange->bearer;
  if (secret == NULL && exchange->authenticated)
    secret = g_hash_table_lookup (self->secrets, exchange->mailbox);
  if (secret != NULL)
    {
      g_autofree char *authorization = g_strconcat ("Bearer ", secret, NULL);

      soup_message_headers_replace (headers, "Authorization", authorization);
      sodium_memzero (authorization, strlen (authorization));
      /* The rendezvous server never redirects: a secret goes to it or
       * nowhere. */
      soup_message_add_flags (exchange->msg, SOUP_MESSAGE_NO_REDIRECT);
    }
  if (exchange->idempotency_key != NULL)
    soup_message_headers_replace (headers, "Idempotency-Key", exchange->idempotency_key);

  ph_timer_clear (&exchange->timeout_source);
  exchange->timeout_source = g_timeout_source_new (exchange->timeout_seconds * 1000);
  g_source_set_callback (exchange->timeout_source, timed_out_cb, exchange, NULL);
  g_source_attach (exchange->timeout_source, g_task_get_context (task));

  soup_session_send_async (self->session, exchange->msg, G_PRIORITY_DEFAULT, exchange->cancellable,
                           send_cb, g_object_ref (task));
}

void
ph_rendezvous_http_send_async (PhRendezvousHttp *self, const PhRendezvousRequest *request,
                               GCancellable *cancellable, GAsyncReadyCallback callback,
                               gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GUri) uri = NULL;
  Exchange *exchange;

  g_return_if_fail (PH_IS_RENDEZVOUS_HTTP (self));
  g_return_if_fail (request != NULL);
  g_return_if_fail (request->method != NULL);
  g_return_if_fail (request->path != NULL && request->path[0] == '/');
  g_return_if_fail (!request->conditional || request->mailbox != NULL);
  g_return_if_fail (!request->authenticated || request->mailbox != NULL);
  g_return_if_fail (request->timeout_seconds <= G_MAXUINT / 1000);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ph_rendezvous_http_send_async);

  exchange = g_new0 (Exchange, 1);
  g_task_set_task_data (task, exchange, (GDestroyNotify)exchange_free);
  exchange->method = g_strdup (request->method);
  exchange->url = g_strconcat (self->base_url, request->path, NULL);
  exchange->mailbox = g_strdup (request->mailbox);
  exchange->conditional = request->conditional;
  exchange->authenticated = request->authenticated;
  exchange->idempotency_key = g_strdup (request->idempotency_key);
  exchange->bearer = g_strdup (request->bearer);
  exchange->expected_status = request->expected_status;
  exchange->timeout_seconds = request->timeout_seconds != 0 ? request->timeout_seconds
                                                            : PH_RENDEZVOUS_HTTP_TIMEOUT_SECONDS;
  exchange->body = g_byte_array_new ();
  exchange->cancellable = g_cancellable_new ();

  uri = g_uri_parse (exchange->url, SOUP_HTTP_URI_FLAGS, NULL);
  if (uri == NULL)
    {
      g_task_return_new_error (task, PH_ERROR, PH_ERROR_RENDEZVOUS_UNREACHABLE,
                               /* Translators: %s is the server's URL. */
                               _ ("Could not make a request to the rendezvous server at %s."),
                               self->base_url);
      return;
    }

  if (request->body != NULL)
    {
      char *text = json_to_string (request->body, FALSE);

      exchange->payload = g_bytes_new_take (text, strlen (text));
    }

  if (cancellable != NULL)
    {
      exchange->caller_cancellable = g_object_ref (cancellable);
      exchange->caller_cancelled_id = g_cancellable_connect (
          cancellable, G_CALLBACK (caller_cancelled_cb), exchange->cancellable, NULL);
    }

  start_try (task);
}

PhRendezvousResponse *
ph_rendezvous_http_send_finish (PhRendezvousHttp *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PH_IS_RENDEZVOUS_HTTP (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ph_rendezvous_http_send_async,
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
