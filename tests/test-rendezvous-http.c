/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-rendezvous-http"

#include "config.h"

#include <libsoup/soup.h>
#include <string.h>

#include "ph-error.h"
#include "ph-rendezvous-answer.h"
#include "ph-rendezvous-http.h"
#include "ph-test-wait.h"

/* The request engine of the rendezvous client against a SoupServer whose
 * answers each test scripts: what a person notices of a busy, silent or
 * broken server, and that a mailbox's tag and our side's secret go back
 * to it, and nowhere else. */

/* Anything slower than this has hung: the test fails. */
#define DEADLINE_MS 15000

#define HTTP_TOO_MANY_REQUESTS 429
#define SECRET "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define OTHER_SECRET "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

/* One scripted answer; the last one repeats. */
typedef struct
{
  guint status;
  const char *retry_after;
  const char *etag;
  const char *location;
  const char *body;
  gboolean hold; /* never answer */
} Answer;

/* What the server saw of one request. */
typedef struct
{
  char *method;
  char *path;
  char *if_match;
  char *authorization;
  char *idempotency_key;
  char *content_type;
  char *body;
  gint64 time;
} Seen;

typedef struct
{
  SoupServer *server;
  PhRendezvousHttp *http;
  char *url;
  const Answer *answers;
  guint n_answers;
  GPtrArray *seen;
  GPtrArray *held; /* SoupServerMessage the server never answers */
  guint answered;  /* answers written out */
} Fixture;

static guint
deadline_ms (void)
{
  return ph_test_scaled_ms (DEADLINE_MS);
}

static void
seen_free (Seen *seen)
{
  g_free (seen->method);
  g_free (seen->path);
  g_free (seen->if_match);
  g_free (seen->authorization);
  g_free (seen->idempotency_key);
  g_free (seen->content_type);
  g_free (seen->body);
  g_free (seen);
}

static void
finished_cb (SoupServerMessage *msg, gpointer user_data)
{
  Fixture *fixture = user_data;

  fixture->answered++;
}

static void
handler_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
            gpointer user_data)
{
  Fixture *fixture = user_data;
  SoupMessageHeaders *request_headers = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *response_headers = soup_server_message_get_response_headers (msg);
  SoupMessageBody *request_body = soup_server_message_get_request_body (msg);
  g_autoptr (GBytes) bytes = soup_message_body_flatten (request_body);
  const Answer *answer;
  Seen *seen = g_new0 (Seen, 1);

  seen->method = g_strdup (soup_server_message_get_method (msg));
  seen->path = g_strdup (path);
  seen->if_match = g_strdup (soup_message_headers_get_one (request_headers, "If-Match"));
  seen->authorization = g_strdup (soup_message_headers_get_one (request_headers, "Authorization"));
  seen->idempotency_key
      = g_strdup (soup_message_headers_get_one (request_headers, "Idempotency-Key"));
  seen->content_type = g_strdup (soup_message_headers_get_content_type (request_headers, NULL));
  seen->body = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  seen->time = g_get_monotonic_time ();
  g_ptr_array_add (fixture->seen, seen);

  g_assert_cmpuint (fixture->n_answers, >, 0);
  answer = &fixture->answers[MIN (fixture->seen->len, fixture->n_answers) - 1];
  if (answer->hold)
    {
      soup_server_message_pause (msg);
      g_ptr_array_add (fixture->held, g_object_ref (msg));
      return;
    }

  g_signal_connect (msg, "finished", G_CALLBACK (finished_cb), fixture);
  soup_server_message_set_status (
      msg, answer->status, answer->status == HTTP_TOO_MANY_REQUESTS ? "Too Many Requests" : NULL);
  if (answer->retry_after != NULL)
    soup_message_headers_replace (response_headers, "Retry-After", answer->retry_after);
  if (answer->etag != NULL)
    soup_message_headers_replace (response_headers, "ETag", answer->etag);
  if (answer->location != NULL)
    soup_message_headers_replace (response_headers, "Location", answer->location);
  if (answer->body != NULL)
    soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, answer->body,
                                      strlen (answer->body));
}

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) error = NULL;
  GSList *listeners;

  fixture->seen = g_ptr_array_new_with_free_func ((GDestroyNotify)seen_free);
  fixture->held = g_ptr_array_new_with_free_func (g_object_unref);
  fixture->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (fixture->server, NULL, handler_cb, fixture, NULL);
  g_assert_true (soup_server_listen (fixture->server, address, 0, &error));
  g_assert_no_error (error);

  listeners = soup_server_get_listeners (fixture->server);
  bound = g_socket_get_local_address (listeners->data, &error);
  g_slist_free (listeners);
  g_assert_no_error (error);
  /* With a trailing slash, which the engine drops. */
  fixture->url = g_strdup_printf ("http://127.0.0.1:%u/",
                                  g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  fixture->http = ph_rendezvous_http_new (fixture->url);
  fixture->url[strlen (fixture->url) - 1] = '\0';
  g_assert_cmpstr (ph_rendezvous_http_get_base_url (fixture->http), ==, fixture->url);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  g_assert_finalize_object (fixture->http);

  /* Answer what was held, so the server lets go of the connection. */
  for (guint i = 0; i < fixture->held->len; i++)
    {
      SoupServerMessage *msg = g_ptr_array_index (fixture->held, i);

      soup_server_message_set_status (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, NULL);
      soup_server_message_unpause (msg);
    }
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_pointer (&fixture->held, g_ptr_array_unref);

  g_assert_finalize_object (fixture->server);
  g_clear_pointer (&fixture->seen, g_ptr_array_unref);
  g_free (fixture->url);
}

#define SCRIPT(fixture, ...)                                                                       \
  G_STMT_START                                                                                     \
  {                                                                                                \
    static const Answer script_[] = { __VA_ARGS__ };                                               \
    (fixture)->answers = script_;                                                                  \
    (fixture)->n_answers = G_N_ELEMENTS (script_);                                                 \
  }                                                                                                \
  G_STMT_END

static void
result_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **out_result = user_data;

  *out_result = g_object_ref (result);
}

static gboolean
result_arrived (gpointer data)
{
  return *(GAsyncResult **)data != NULL;
}

/* Sends @request and waits for its answer; fails the test on a hang. */
static PhRendezvousResponse *
send_request (Fixture *fixture, const PhRendezvousRequest *request, GCancellable *cancellable,
              GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  ph_rendezvous_http_send_async (fixture->http, request, cancellable, result_cb, &result);
  g_assert_true (ph_test_wait_until (result_arrived, &result, deadline_ms ()));
  return ph_rendezvous_http_send_finish (fixture->http, result, error);
}

static gboolean
server_saw_one (gpointer data)
{
  return ((Fixture *)data)->seen->len > 0;
}

static gboolean
server_answered_one (gpointer data)
{
  return ((Fixture *)data)->answered > 0;
}

static void
test_success (Fixture *fixture, gconstpointer data)
{
  g_autoptr (JsonNode) body = json_from_string ("{\"phase\":\"pake\"}", NULL);
  PhRendezvousRequest request = {
    .method = "PUT",
    .path = "/v1/mailboxes/7",
    .body = body,
    .expected_status = SOUP_STATUS_CREATED,
  };
  g_autoptr (PhRendezvousResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  Seen *seen;

  SCRIPT (fixture, { .status = SOUP_STATUS_CREATED, .body = "{\"nameplate\":\"7\"}" });

  response = send_request (fixture, &request, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (response->status, ==, SOUP_STATUS_CREATED);
  g_assert_cmpmem (g_bytes_get_data (response->body, NULL), g_bytes_get_size (response->body),
                   "{\"nameplate\":\"7\"}", 17);
  g_assert_null (response->etag);

  g_assert_cmpuint (fixture->seen->len, ==, 1);
  seen = g_ptr_array_index (fixture->seen, 0);
  g_assert_cmpstr (seen->method, ==, "PUT");
  g_assert_cmpstr (seen->path, ==, "/v1/mailboxes/7");
  g_assert_cmpstr (seen->content_type, ==, "application/json");
  g_assert_cmpstr (seen->body, ==, "{\"phase\":\"pake\"}");
}

/* Another success than the one asked for is the server's mistake. */
static void
test_unexpected_status (Fixture *fixture, gconstpointer data)
{
  PhRendezvousRequest request = {
    .method = "POST",
    .path = "/v1/mailboxes",
    .expected_status = SOUP_STATUS_CREATED,
  };
  g_autoptr (PhRendezvousResponse) response = NULL;
  g_autoptr (GError) error = NULL;

  SCRIPT (fixture, { .status = SOUP_STATUS_ACCEPTED, .body = "{}" });

  response = send_request (fixture, &request, NULL, &error);
  g_assert_null (response);
  g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS);
  g_assert_nonnull (strstr (error->message, fixture->url));
  g_assert_nonnull (strstr (error->message, "HTTP 202 where 201"));
}

/* A busy server that asks for a second gets the request again after it. */
static void
test_retry_after_is_waited_out (Fixture *fixture, gconstpointer data)
{
  PhRendezvousRequest request = {
    .method = "POST",
    .path = "/v1/mailboxes",
    .expected_status = SOUP_STATUS_CREATED,
  };
  g_autoptr (PhRendezvousResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  gint64 waited;

  SCRIPT (fixture,
          { .status = SOUP_STATUS_SERVICE_UNAVAILABLE,
            .retry_after = "1",
            .body = "{\"error\":\"too-many-polls\",\"message\":\"Busy.\"}" },
          { .status = HTTP_TOO_MANY_REQUESTS, .retry_after = "2" },
          { .status = SOUP_STATUS_CREATED, .body = "{\"nameplate\":\"1\",\"expires_in\":600}" });

  response = send_request (fixture, &request, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (response->status, ==, SOUP_STATUS_CREATED);

  g_assert_cmpuint (fixture->seen->len, ==, 3);
  waited = ((Seen *)g_ptr_array_index (fixture->seen, 1))->time
           - ((Seen *)g_ptr_array_index (fixture->seen, 0))->time;
  g_assert_cmpint (waited, >=, 1 * G_USEC_PER_SEC);
  waited = ((Seen *)g_ptr_array_index (fixture->seen, 2))->time
           - ((Seen *)g_ptr_array_index (fixture->seen, 1))->time;
  g_assert_cmpint (waited, >=, 2 * G_USEC_PER_SEC);
}

/* A wait too long to sit through is the person's to decide: the error says
 * how long, unless the server's own sentence says what to do. */
static void
test_long_retry_after_is_reported (Fixture *fixture, gconstpointer data)
{
  PhRendezvousRequest request = {
    .method = "POST",
    .path = "/v1/mailboxes",
    .expected_status = SOUP_STATUS_CREATED,
  };
  g_autoptr (PhRendezvousResponse) response = NULL;
  g_autoptr (GError) error = NULL;

  SCRIPT (fixture, { .status = SOUP_STATUS_SERVICE_UNAVAILABLE, .retry_after = "120" },
          { .status = SOUP_STATUS_SERVICE_UNAVAILABLE,
            .retry_after = "30",
            .body = "{\"error\":\"no-free-mailbox\",\"message\":\"All 2 mailboxes are in use; "
                    "try again in a few minutes.\"}" });

  response = send_request (fixture, &request, NULL, &error);
  g_assert_null (response);
  g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS);
  g_assert_nonnull (strstr (error->message, fixture->url));
  g_assert_nonnull (strstr (error->message, "try again in 120 seconds"));
  g_assert_cmpuint (fixture->seen->len, ==, 1);
  g_clear_error (&error);

  response = send_request (fixture, &request, NULL, &error);
  g_assert_null (response);
  g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS);
  g_assert_cmpstr (error->message, ==, "All 2 mailboxes are in use; try again in a few minutes.");
  g_assert_cmpuint (fixture->seen->len, ==, 2);
}

static void
test_parse_retry_after (void)
{
  g_autoptr (GDateTime) now = g_date_time_new_utc (2015, 10, 21, 7, 27, 30);
  const struct
  {
    const char *value;
    gboolean valid;
    guint seconds;
  } cases[] = {
    { "0", TRUE, 0 },
    { "7", TRUE, 7 },
    { "86400", TRUE, 86400 },
    { "Wed, 21 Oct 2015 07:28:00 GMT", TRUE, 30 },
    { "Wednesday, 21-Oct-15 07:28:00 GMT", TRUE, 30 },
    { "Wed, 21 Oct 2015 07:00:00 GMT", TRUE, 0 },
    { "", FALSE, 0 },
    { "-1", FALSE, 0 },
    { "1.5", FALSE, 0 },
    { "5 seconds", FALSE, 0 },
    { "99999999999999999999", FALSE, 0 },
    { "soon", FALSE, 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      guint seconds = 12345;

      g_test_message ("Retry-After: %s", cases[i].value);
      g_assert_cmpint (ph_rendezvous_http_parse_retry_after (cases[i].value, now, &seconds), ==,
                       cases[i].valid);
      if (cases[i].valid)
        g_assert_cmpuint (seconds, ==, cases[i].seconds);
    }
}

/* A server that takes the request and never answers is unreachable. */
static void
test_timeout (Fixture *fixture, gconstpointer data)
{
  PhRendezvousRequest request = {
    .method = "GET",
    .path = "/v1/mailboxes/3/messages?after=0&wait=0",
    .mailbox = "3",
    .expected_status = SOUP_STATUS_OK,
    .timeout_seconds = 1,
  };
  g_autoptr (PhRendezvousResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  gint64 started = g_get_monotonic_time ();

  SCRIPT (fixture, { .hold = TRUE });

  response = send_request (fixture, &request, NULL, &error);
  g_assert_null (response);
  g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS_UNREACHABLE);
  g_assert_cmpstr (ph_error_code_name (error), ==, "rendezvous-unreachable");
  g_assert_nonnull (strstr (error->message, fixture->url));
  g_assert_nonnull (strstr (error->message, "did not answer within 1 second"));
  g_assert_cmpint (g_get_monotonic_time () - started, >=, G_USEC_PER_SEC);
  g_assert_cmpuint (fixture->seen->len, ==, 1);
}

static void
test_error_bodies (Fixture *fixture, gconstpointer data)
{
  const struct
  {
    const char *body;
    const char *expected;
  } cases[] = {
    { "{\"error\":\"malformed\",\"message\":\"\\\"side\\\" must be a string of 16 hexadecimal "
      "digits.\"}",
      "\"side\" must be a string of 16 hexadecimal digits." },
    { "{\"error\":\"malformed\",\"message\":\"Side is wrong", NULL },
    { "<html><body>Bad gateway</body></html>", NULL },
    { "{\"message\":42}", NULL },
    { "{\"message\":\"\"}", NULL },
    { "[\"message\",\"hello\"]", NULL },
    { "{\"error\":\"x\",\"message\":\"\\u0000hidden\"}", NULL },
    { "", NULL },
  };
  PhRendezvousRequest request = {
    .method = "GET",
    .path = "/v1/turn",
    .expected_status = SOUP_STATUS_OK,
  };
  Answer answer = { .status = SOUP_STATUS_BAD_REQUEST };

  fixture->answers = &answer;
  fixture->n_answers = 1;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (PhRendezvousResponse) response = NULL;
      g_autoptr (GError) error = NULL;

      g_test_message ("%s", cases[i].body);
      answer.body = cases[i].body;
      response = send_request (fixture, &request, NULL, &error);
      g_assert_null (response);
      g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS);
      if (cases[i].expected != NULL)
        g_assert_cmpstr (error->message, ==, cases[i].expected);
      else
        {
          g_assert_nonnull (strstr (error->message, fixture->url));
          g_assert_nonnull (strstr (error->message, "refused the request (HTTP 400)"));
        }
    }
}

/* A success whose body is not JSON is read as the server's mistake, and
 * said so in a sentence that names the server. */
static void
test_malformed_answer (Fixture *fixture, gconstpointer data)
{
  PhRendezvousRequest request = {
    .method = "POST",
    .path = "/v1/mailboxes/1/messages",
    .mailbox = "1",
    .conditional = TRUE,
    .expected_status = SOUP_STATUS_CREATED,
  };
  g_autoptr (PhRendezvousResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  const char *data_bytes;
  gsize length;

  SCRIPT (fixture, { .status = SOUP_STATUS_CREATED, .body = "{\"index\":1" });

  response = send_request (fixture, &request, NULL, &error);
  g_assert_no_error (error);
  data_bytes = g_bytes_get_data (response->body, &length);
  g_assert_false (ph_rendezvous_answer_parse_post (fixture->url, data_bytes, length, NULL, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS);
  g_assert_nonnull (strstr (error->message, fixture->url));
  g_assert_nonnull (strstr (error->message, "malformed answer (not a JSON object)"));
}

/* Refusals about a mailbox say what became of the code. */
static void
test_mailbox_refusals (Fixture *fixture, gconstpointer data)
{
  const struct
  {
    const char *method;
    guint status;
    const char *body;
    int code;
    const char *words;
  } cases[] = {
    { "GET", SOUP_STATUS_NOT_FOUND,
      "{\"error\":\"unknown-mailbox\",\"message\":\"There is no mailbox 5.\"}",
      PH_ERROR_UNKNOWN_CODE, "No one is waiting with the code that starts with 5" },
    { "GET", SOUP_STATUS_PRECONDITION_FAILED, "{\"error\":\"mailbox-replaced\"}",
      PH_ERROR_UNKNOWN_CODE, "no longer has the mailbox for the code that starts with 5" },
    { "POST", SOUP_STATUS_CONFLICT, "{\"error\":\"mailbox-full\",\"message\":\"Two sides.\"}",
      PH_ERROR_MAILBOX_FULL, "Two people are already using the code that starts with 5" },
    { "PUT", SOUP_STATUS_CONFLICT, "{\"error\":\"nameplate-unavailable\"}", PH_ERROR_MAILBOX_FULL,
      "has given the number 5 to another chat" },
    { "PUT", SOUP_STATUS_CONFLICT, NULL, PH_ERROR_MAILBOX_FULL,
      "has given the number 5 to another chat" },
    { "POST", SOUP_STATUS_CONFLICT, "{\"error\":\"mailbox-mismatch\"}", PH_ERROR_MAILBOX_FULL,
      "has given the number 5 to another chat; ask for a new code" },
    { "GET", SOUP_STATUS_UNAUTHORIZED,
      "{\"error\":\"unauthorized\",\"message\":\"Not a side of mailbox 5.\"}",
      PH_ERROR_UNKNOWN_CODE,
      "no longer knows this side of the chat for the code that starts with 5" },
    { "POST", SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
      "{\"error\":\"mailbox-limit\",\"message\":\"Mailbox 5 is full.\"}", PH_ERROR_RENDEZVOUS,
      "Mailbox 5 is full." },
  };
  Answer answer = { 0 };

  fixture->answers = &answer;
  fixture->n_answers = 1;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      PhRendezvousRequest request = {
        .method = cases[i].method,
        .path = "/v1/mailboxes/5",
        .mailbox = "5",
        .expected_status = SOUP_STATUS_OK,
      };
      g_autoptr (PhRendezvousResponse) response = NULL;
      g_autoptr (GError) error = NULL;

      g_test_message ("%s %u", cases[i].method, cases[i].status);
      answer.status = cases[i].status;
      answer.body = cases[i].body;
      response = send_request (fixture, &request, NULL, &error);
      g_assert_null (response);
      g_assert_error (error, PH_ERROR, cases[i].code);
      g_assert_nonnull (strstr (error->message, cases[i].words));
    }
}

static gpointer
cancel_thread (gpointer data)
{
  g_cancellable_cancel (data);
  return NULL;
}

/* Cancelled while the server holds the request, or while waiting out a
 * Retry-After: the request ends at once, with nothing sent again. */
static void
test_cancel (Fixture *fixture, gconstpointer data)
{
  PhRendezvousRequest request = {
    .method = "GET",
    .path = "/v1/turn",
    .expected_status = SOUP_STATUS_OK,
  };
  Answer answer = { .hold = TRUE };

  fixture->answers = &answer;
  fixture->n_answers = 1;
  for (guint round = 0; round < 2; round++)
    {
      g_autoptr (GCancellable) cancellable = g_cancellable_new ();
      g_autoptr (GAsyncResult) result = NULL;
      g_autoptr (PhRendezvousResponse) response = NULL;
      g_autoptr (GError) error = NULL;
      gint64 cancelled;

      g_ptr_array_set_size (fixture->seen, 0);
      fixture->answered = 0;
      if (round == 1)
        {
          answer.hold = FALSE;
          answer.status = SOUP_STATUS_SERVICE_UNAVAILABLE;
          answer.retry_after = "10";
        }

      ph_rendezvous_http_send_async (fixture->http, &request, cancellable, result_cb, &result);
      g_assert_true (ph_test_wait_until (server_saw_one, fixture, deadline_ms ()));
      if (round == 1)
        {
          /* Server and client share this thread and the answer is on
           * loopback: once nothing is left to do the client has read the
           * answer and is waiting. */
          g_assert_true (ph_test_wait_until (server_answered_one, fixture, deadline_ms ()));
          while (g_main_context_iteration (NULL, FALSE))
            ;
          g_assert_null (result);
        }
      /* From another thread, as GCancellable allows. */
      cancelled = g_get_monotonic_time ();
      g_thread_join (g_thread_new ("cancel", cancel_thread, cancellable));
      g_assert_true (ph_test_wait_until (result_arrived, &result, deadline_ms ()));
      response = ph_rendezvous_http_send_finish (fixture->http, result, &error);
      g_assert_null (response);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_cmpint (g_get_monotonic_time () - cancelled, <, 5 * G_USEC_PER_SEC);
      g_assert_cmpuint (fixture->seen->len, ==, 1);
    }

  /* Cancelled before it starts: nothing goes out. */
  {
    g_autoptr (GCancellable) cancellable = g_cancellable_new ();
    g_autoptr (PhRendezvousResponse) response = NULL;
    g_autoptr (GError) error = NULL;

    g_ptr_array_set_size (fixture->seen, 0);
    g_cancellable_cancel (cancellable);
    response = send_request (fixture, &request, cancellable, &error);
    g_assert_null (response);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_cmpuint (fixture->seen->len, ==, 0);
  }
}

static const char *
seen_if_match (Fixture *fixture, guint index)
{
  return ((Seen *)g_ptr_array_index (fixture->seen, index))->if_match;
}

/* The tag of a mailbox's answer goes back with the next conditional
 * request about it, and only then. */
static void
test_etag_round_trip (Fixture *fixture, gconstpointer data)
{
  PhRendezvousRequest conditional = {
    .method = "GET",
    .path = "/v1/mailboxes/7/messages?after=0&wait=0",
    .mailbox = "7",
    .conditional = TRUE,
    .expected_status = SOUP_STATUS_OK,
  };
  PhRendezvousRequest claim = {
    .method = "PUT",
    .path = "/v1/mailboxes/7",
    .mailbox = "7",
    .expected_status = SOUP_STATUS_OK,
  };
  PhRendezvousRequest other = {
    .method = "GET",
    .path = "/v1/mailboxes/8/messages?after=0&wait=0",
    .mailbox = "8",
    .conditional = TRUE,
    .expected_status = SOUP_STATUS_OK,
  };
  g_autofree char *a_lot = g_strnfill (70, 'a');
  g_autofree char *long_tag = g_strdup_printf ("\"%s\"", a_lot);
  Answer answers[] = {
    { .status = SOUP_STATUS_OK, .etag = "\"a57327ddd135a7d2\"", .body = "{\"messages\":[]}" },
    { .status = SOUP_STATUS_OK, .body = "{\"messages\":[]}" },
    { .status = SOUP_STATUS_OK, .body = "{\"messages\":[]}" },
    { .status = SOUP_STATUS_OK, .etag = "\"6955e02e3a863ed2\"", .body = "{}" },
    { .status = SOUP_STATUS_OK, .body = "{\"messages\":[]}" },
    { .status = SOUP_STATUS_PRECONDITION_FAILED, .body = "{\"error\":\"mailbox-replaced\"}" },
    { .status = SOUP_STATUS_OK, .etag = long_tag, .body = "{}" },
    { .status = SOUP_STATUS_OK, .body = "{}" },
  };
  PhRendezvousResponse *response;
  g_autoptr (GError) error = NULL;

  fixture->answers = answers;
  fixture->n_answers = G_N_ELEMENTS (answers);

  /* Nothing known yet: the first goes unconditionally. */
  response = send_request (fixture, &conditional, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (response->etag, ==, "\"a57327ddd135a7d2\"");
  ph_rendezvous_response_free (response);
  g_assert_null (seen_if_match (fixture, 0));
  g_assert_cmpstr (ph_rendezvous_http_get_tag (fixture->http, "7"), ==, "\"a57327ddd135a7d2\"");

  /* An answer without a tag leaves the one known. */
  ph_rendezvous_response_free (send_request (fixture, &conditional, NULL, &error));
  g_assert_cmpstr (seen_if_match (fixture, 1), ==, "\"a57327ddd135a7d2\"");
  ph_rendezvous_response_free (send_request (fixture, &other, NULL, &error));
  g_assert_null (seen_if_match (fixture, 2));

  /* A claim is about whatever is open under the number, and its tag is
   * the one sent from then on. */
  ph_rendezvous_response_free (send_request (fixture, &claim, NULL, &error));
  g_assert_null (seen_if_match (fixture, 3));
  ph_rendezvous_response_free (send_request (fixture, &conditional, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (seen_if_match (fixture, 4), ==, "\"6955e02e3a863ed2\"");

  /* The server no longer has that mailbox. */
  response = send_request (fixture, &conditional, NULL, &error);
  g_assert_null (response);
  g_assert_error (error, PH_ERROR, PH_ERROR_UNKNOWN_CODE);
  g_clear_error (&error);

  /* What is no tag is not kept; a forgotten tag is not sent. */
  response = send_request (fixture, &conditional, NULL, &error);
  g_assert_no_error (error);
  g_assert_null (response->etag);
  ph_rendezvous_response_free (response);
  g_assert_cmpstr (ph_rendezvous_http_get_tag (fixture->http, "7"), ==, "\"6955e02e3a863ed2\"");
  ph_rendezvous_http_forget_tag (fixture->http, "7");
  ph_rendezvous_response_free (send_request (fixture, &conditional, NULL, &error));
  g_assert_no_error (error);
  g_assert_null (seen_if_match (fixture, 7));
  g_assert_cmpuint (fixture->seen->len, ==, 8);
}

static const Seen *
seen_at (Fixture *fixture, guint index)
{
  return g_ptr_array_index (fixture->seen, index);
}

/* Our side's secret goes with every try of an authenticated request about
 * its mailbox, and with no other request; a forgotten one is not sent. */
static void
test_secret_goes_with_its_mailbox (Fixture *fixture, gconstpointer data)
{
  PhRendezvousRequest fetch = {
    .method = "GET",
    .path = "/v1/mailboxes/7/messages?after=0&wait=0",
    .mailbox = "7",
    .conditional = TRUE,
    .authenticated = TRUE,
    .expected_status = SOUP_STATUS_OK,
  };
  PhRendezvousRequest other = {
    .method = "GET",
    .path = "/v1/mailboxes/8/messages?after=0&wait=0",
    .mailbox = "8",
    .authenticated = TRUE,
    .expected_status = SOUP_STATUS_OK,
  };
  PhRendezvousRequest join = {
    .method = "POST",
    .path = "/v1/mailboxes/7/join",
    .mailbox = "7",
    .idempotency_key = "0123456789abcdef0123456789abcdef",
    .expected_status = SOUP_STATUS_OK,
  };
  PhRendezvousRequest health = {
    .method = "GET",
    .path = "/v1/health",
    .expected_status = SOUP_STATUS_OK,
  };
  g_autoptr (GError) error = NULL;

  SCRIPT (fixture, { .status = HTTP_TOO_MANY_REQUESTS, .retry_after = "1" },
          { .status = SOUP_STATUS_OK, .body = "{\"messages\":[]}" });

  ph_rendezvous_http_remember_secret (fixture->http, "7", SECRET);
  ph_rendezvous_http_remember_secret (fixture->http, "8", OTHER_SECRET);
  g_assert_cmpstr (ph_rendezvous_http_get_secret (fixture->http, "7"), ==, SECRET);
  ph_rendezvous_response_free (send_request (fixture, &fetch, NULL, &error));
  g_assert_no_error (error);
  ph_rendezvous_response_free (send_request (fixture, &other, NULL, &error));
  ph_rendezvous_response_free (send_request (fixture, &join, NULL, &error));
  ph_rendezvous_response_free (send_request (fixture, &health, NULL, &error));
  ph_rendezvous_http_forget_secret (fixture->http, "7");
  g_assert_null (ph_rendezvous_http_get_secret (fixture->http, "7"));
  ph_rendezvous_response_free (send_request (fixture, &fetch, NULL, &error));
  g_assert_no_error (error);

  g_assert_cmpuint (fixture->seen->len, ==, 6);
  /* Refused once as busy, asked again: the secret both times. */
  g_assert_cmpstr (seen_at (fixture, 0)->authorization, ==, "Bearer " SECRET);
  g_assert_cmpstr (seen_at (fixture, 1)->authorization, ==, "Bearer " SECRET);
  g_assert_cmpstr (seen_at (fixture, 2)->authorization, ==, "Bearer " OTHER_SECRET);
  g_assert_null (seen_at (fixture, 3)->authorization);
  g_assert_cmpstr (seen_at (fixture, 3)->idempotency_key, ==, "0123456789abcdef0123456789abcdef");
  g_assert_null (seen_at (fixture, 4)->authorization);
  g_assert_null (seen_at (fixture, 4)->idempotency_key);
  g_assert_null (seen_at (fixture, 5)->authorization);
}

/* Whatever answers with a redirect gets no second request carrying the
 * secret, nor does the place it names. */
static void
test_secret_follows_no_redirect (Fixture *fixture, gconstpointer data)
{
  PhRendezvousRequest fetch = {
    .method = "GET",
    .path = "/v1/mailboxes/7/messages",
    .mailbox = "7",
    .authenticated = TRUE,
    .expected_status = SOUP_STATUS_OK,
  };
  g_autoptr (PhRendezvousResponse) response = NULL;
  g_autoptr (GError) error = NULL;

  SCRIPT (fixture, { .status = SOUP_STATUS_FOUND, .location = "/elsewhere" },
          { .status = SOUP_STATUS_OK, .body = "{\"messages\":[]}" });

  ph_rendezvous_http_remember_secret (fixture->http, "7", SECRET);
  response = send_request (fixture, &fetch, NULL, &error);
  g_assert_null (response);
  g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS);
  g_assert_nonnull (strstr (error->message, "HTTP 302"));
  g_assert_cmpuint (fixture->seen->len, ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/rendezvous-http/success", test_success);
  ADD ("/rendezvous-http/unexpected-status", test_unexpected_status);
  ADD ("/rendezvous-http/retry-after-is-waited-out", test_retry_after_is_waited_out);
  ADD ("/rendezvous-http/long-retry-after-is-reported", test_long_retry_after_is_reported);
  ADD ("/rendezvous-http/timeout", test_timeout);
  ADD ("/rendezvous-http/error-bodies", test_error_bodies);
  ADD ("/rendezvous-http/malformed-answer", test_malformed_answer);
  ADD ("/rendezvous-http/mailbox-refusals", test_mailbox_refusals);
  ADD ("/rendezvous-http/cancel", test_cancel);
  ADD ("/rendezvous-http/etag-round-trip", test_etag_round_trip);
  ADD ("/rendezvous-http/secret-goes-with-its-mailbox", test_secret_goes_with_its_mailbox);
  ADD ("/rendezvous-http/secret-follows-no-redirect", test_secret_follows_no_redirect);
#undef ADD
  g_test_add_func ("/rendezvous-http/parse-retry-after", test_parse_retry_after);

  return g_test_run ();
}
