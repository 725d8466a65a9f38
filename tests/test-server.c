/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-server"

#include "config.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "ph-certificate.h"
#include "ph-json-guard.h"
#include "ph-mailbox-format.h"
#include "ph-memory-store.h"
#include "ph-store.h"
#include "ph-post-reader.h"
#include "ph-rate-limiter.h"
#include "ph-test-files.h"
#include "ph-test-process.h"
#include "ph-test-server.h"
#include "ph-test-wait.h"
#include "ph-turn-credentials.h"

/* Anything that takes longer than this has hung: the test fails. */
#define DEADLINE_MS ph_test_scaled_ms (15000)

#define HOST PH_MAILBOX_HOST_SIDE
#define JOINER PH_MAILBOX_JOINER_SIDE
/* Shaped as a secret is, and no side's. */
#define WRONG_SECRET "0000000000000000000000000000000000000000000000000000000000000000"

typedef struct
{
  PhRendezvousServer *server;
  SoupSession *session;
  char *url;
} Fixture;

typedef struct
{
  SoupMessage *msg;
  GBytes *body;
  GError *error;
  gboolean done;
  gint64 started_us;
  gint64 finished_us;
} Call;

/* What a side of a mailbox holds: the number and its secret. */
typedef struct
{
  char *nameplate;
  char *secret;
} Side;

static void
side_clear (Side *side)
{
  g_clear_pointer (&side->nameplate, g_free);
  g_clear_pointer (&side->secret, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Side, side_clear)

/* Runs the main loop until *@done turns TRUE; fails the test on a hang. */
static void
wait_for (gboolean *done)
{
  g_assert_true (ph_test_wait_for_flag (done, DEADLINE_MS));
}

static void
fixture_start (Fixture *fixture, const char *first_property, ...)
{
  va_list args;

  va_start (args, first_property);
  fixture->server = ph_test_server_start_valist (0, first_property, args);
  va_end (args);

  fixture->url = ph_rendezvous_server_get_url (fixture->server);
  fixture->session = soup_session_new_with_options ("max-conns-per-host", 8, "timeout", 0, NULL);
}

static void
fixture_stop (Fixture *fixture)
{
  g_clear_object (&fixture->session);
  g_clear_pointer (&fixture->url, g_free);
  g_assert_finalize_object (fixture->server);
}

static void
call_free (Call *call)
{
  g_clear_object (&call->msg);
  g_clear_pointer (&call->body, g_bytes_unref);
  g_clear_error (&call->error);
  g_free (call);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Call, call_free)

static void
call_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;

  call->body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &call->error);
  call->finished_us = g_get_monotonic_time ();
  call->done = TRUE;
}

static void
set_secret (SoupMessage *msg, const char *secret)
{
  g_autofree char *authorization = NULL;

  if (secret == NULL)
    return;
  authorization = g_strconcat ("Bearer ", secret, NULL);
  soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization",
                                authorization);
}

/* @secret, when not NULL, goes in the Authorization header. */
static Call *
call_start (SoupSession *session, const char *base_url, const char *method, const char *path,
            const char *body, const char *secret, GCancellable *cancellable)
{
  g_autofree char *url = g_strconcat (base_url, path, NULL);
  Call *call = g_new0 (Call, 1);

  call->msg = soup_message_new (method, url);
  g_assert_nonnull (call->msg);
  set_secret (call->msg, secret);
  if (body != NULL)
    {
      g_autoptr (GBytes) bytes = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (call->msg, "application/json", bytes);
    }

  call->started_us = g_get_monotonic_time ();
  soup_session_send_and_read_async (session, call->msg, G_PRIORITY_DEFAULT, cancellable,
                                    call_done_cb, call);
  return call;
}

/* A request with @secret (or none, NULL). */
static Call *
call_run_with (Fixture *fixture, const char *secret, const char *method, const char *path,
               const char *body)
{
  Call *call = call_start (fixture->session, fixture->url, method, path, body, secret, NULL);

  wait_for (&call->done);
  g_assert_no_error (call->error);
  return call;
}

/* A request without a secret. */
static Call *
call_run (Fixture *fixture, const char *method, const char *path, const char *body)
{
  return call_run_with (fixture, NULL, method, path, body);
}

/* A request of @side. */
static Call *
call_run_as (Fixture *fixture, const Side *side, const char *method, const char *path,
             const char *body)
{
  return call_run_with (fixture, side->secret, method, path, body);
}

/* Sends @body with chunked encoding: no Content-Length announces its size. */
static Call *
call_run_chunked (Fixture *fixture, const Side *side, const char *path, const char *body)
{
  g_autofree char *url = g_strconcat (fixture->url, path, NULL);
  g_autoptr (GInputStream) stream = g_memory_input_stream_new_from_data (body, -1, NULL);
  Call *call = g_new0 (Call, 1);

  call->msg = soup_message_new ("POST", url);
  set_secret (call->msg, side->secret);
  soup_message_set_request_body (call->msg, "application/json", stream, -1);
  call->started_us = g_get_monotonic_time ();
  soup_session_send_and_read_async (fixture->session, call->msg, G_PRIORITY_DEFAULT, NULL,
                                    call_done_cb, call);
  wait_for (&call->done);
  g_assert_no_error (call->error);
  return call;
}

static guint
call_status (Call *call)
{
  return soup_message_get_status (call->msg);
}

static const char *
response_header (Call *call, const char *name)
{
  return soup_message_headers_get_one (soup_message_get_response_headers (call->msg), name);
}

/* Parses the answer, which must be a JSON object. */
static JsonObject *
call_json (Call *call)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  gsize size;
  const char *data = g_bytes_get_data (call->body, &size);
  JsonNode *root;

  g_assert_cmpstr (response_header (call, "Content-Type"), ==, "application/json");
  g_assert_true (json_parser_load_from_data (parser, data, size, &error));
  g_assert_no_error (error);
  root = json_parser_get_root (parser);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));

  return json_object_ref (json_node_get_object (root));
}

/* Asserts that @call was refused with @status and an error body naming @code. */
static void
assert_error (Call *call, guint status, const char *code)
{
  g_autoptr (JsonObject) object = NULL;
  const char *message;

  g_assert_cmpuint (call_status (call), ==, status);
  object = call_json (call);
  g_assert_cmpstr (json_object_get_string_member (object, "error"), ==, code);
  message = json_object_get_string_member (object, "message");
  g_assert_nonnull (message);
  g_assert_cmpuint (strlen (message), >, 10);
  g_assert_cmpstr (response_header (call, "Cache-Control"), ==, "no-store");
}

/* Reads what a side learns as it takes its seat, answered with @status. */
static void
read_seat (Call *call, guint status, guint side, Side *out_side)
{
  g_autoptr (JsonObject) object = NULL;

  g_assert_cmpuint (call_status (call), ==, status);
  object = call_json (call);
  g_assert_cmpint (json_object_get_int_member (object, "side"), ==, side);
  g_assert_cmpint (json_object_get_int_member (object, "expires_in"), >, 0);
  g_assert_nonnull (response_header (call, "ETag"));
  out_side->nameplate = g_strdup (json_object_get_string_member (object, "nameplate"));
  out_side->secret = g_strdup (json_object_get_string_member (object, "secret"));
  g_assert_true (ph_mailbox_secret_is_valid (out_side->secret));
}

static void
allocate (Fixture *fixture, Side *out_host)
{
  g_autoptr (Call) call = call_run (fixture, "POST", "/v1/mailboxes", NULL);

  read_seat (call, 201, HOST, out_host);
}

static Call *
join_call (Fixture *fixture, const char *nameplate)
{
  g_autofree char *path = g_strdup_printf ("/v1/mailboxes/%s/join", nameplate);

  return call_run (fixture, "POST", path, NULL);
}

static void
join (Fixture *fixture, const char *nameplate, Side *out_joiner)
{
  g_autoptr (Call) call = join_call (fixture, nameplate);

  read_seat (call, 201, JOINER, out_joiner);
  g_assert_cmpstr (out_joiner->nameplate, ==, nameplate);
}

static char *
message_json (const char *phase, const char *text)
{
  g_autofree char *body = g_base64_encode ((const guchar *)text, strlen (text));

  return g_strdup_printf ("{\"phase\":\"%s\",\"body\":\"%s\"}", phase, body);
}

static char *
mailbox_path (const Side *side, const char *rest)
{
  return g_strdup_printf ("/v1/mailboxes/%s%s", side->nameplate, rest);
}

static Call *
post (Fixture *fixture, const Side *side, const char *phase, const char *text)
{
  g_autofree char *path = mailbox_path (side, "/messages");
  g_autofree char *body = message_json (phase, text);

  return call_run_as (fixture, side, "POST", path, body);
}

static guint64
post_ok (Fixture *fixture, const Side *side, const char *text)
{
  g_autoptr (Call) call = post (fixture, side, "pake", text);
  g_autoptr (JsonObject) object = NULL;

  g_assert_cmpuint (call_status (call), ==, 201);
  object = call_json (call);
  return json_object_get_int_member (object, "index");
}

static Call *
leave (Fixture *fixture, const Side *side)
{
  g_autofree char *path = mailbox_path (side, "");

  return call_run_as (fixture, side, "DELETE", path, NULL);
}

/* GET …/messages@query as @side. */
static Call *
fetch (Fixture *fixture, const Side *side, const char *query)
{
  g_autofree char *path = mailbox_path (side, "/messages");
  g_autofree char *path_and_query = g_strconcat (path, query, NULL);

  return call_run_as (fixture, side, "GET", path_and_query, NULL);
}

static JsonArray *
messages_of (Call *call)
{
  g_autoptr (JsonObject) object = NULL;

  g_assert_cmpuint (call_status (call), ==, 200);
  object = call_json (call);
  return json_array_ref (json_object_get_array_member (object, "messages"));
}

static char *
message_text (JsonArray *messages, guint i)
{
  JsonObject *message = json_array_get_object_element (messages, i);
  gsize length;
  guchar *data = g_base64_decode (json_object_get_string_member (message, "body"), &length);
  char *text = g_strndup ((const char *)data, length);

  g_free (data);
  return text;
}

static char *
get_metrics (Fixture *fixture)
{
  g_autoptr (Call) call = call_run (fixture, "GET", "/metrics", NULL);

  g_assert_cmpuint (call_status (call), ==, 200);
  return g_strndup (g_bytes_get_data (call->body, NULL), g_bytes_get_size (call->body));
}

typedef struct
{
  Fixture *fixture;
  guint count;
} WaitingPolls;

static gboolean
has_waiting_polls (gpointer data)
{
  WaitingPolls *wanted = data;

  return ph_rendezvous_server_get_waiting_polls (wanted->fixture->server) == wanted->count;
}

static void
wait_for_waiting_polls (Fixture *fixture, guint count)
{
  WaitingPolls wanted = { fixture, count };

  g_assert_true (ph_test_wait_until (has_waiting_polls, &wanted, DEADLINE_MS));
}

/* --- pure units --- */

/* What the server read from a post before it had a reader of its own,
 * behind the guard that keeps json-glib from what it gets wrong. */
static gboolean
read_post_with_json_glib (const char *json, gsize length, PhPost *post)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  const char *const names[] = { "side", "phase", "body" };
  char **slots[] = { &post->side, &post->phase, &post->body };
  JsonObject *object;
  JsonNode *root;

  memset (post, 0, sizeof *post);
  if (length == 0
      || !ph_json_guard_check (json, length, PH_POST_MAX_JSON_DEPTH, PH_JSON_GUARD_DEFAULT,
                               "A post", NULL)
      || !json_parser_load_from_data (parser, json, (gssize)length, NULL))
    return FALSE;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return FALSE;
  object = json_node_get_object (root);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      JsonNode *node = json_object_get_member (object, names[i]);

      if (node != NULL && JSON_NODE_HOLDS_VALUE (node)
          && json_node_get_value_type (node) == G_TYPE_STRING)
        *slots[i] = g_strdup (json_node_get_string (node));
    }
  return TRUE;
}

/* The post reader's own fast path and its json-glib fallback read every
 * body as json-glib alone did. */
static void
test_post_reader (void)
{
  static const char *const bodies[] = {
    "{\"side\":\"0123456789abcdef\",\"phase\":\"pake\",\"body\":\"aGk=\"}",
    " \r\n\t{ \"side\" : \"0123456789ABCDEF\" ,\n\"phase\":\"desc\",\"body\":\"a/b+\" } \n",
    "{\"body\":\"a\\/b\\\\c\\\"d\\n\\t\\r\\b\\f\",\"phase\":\"cand\"}",
    "{\"side\":\"\\u0030123456789abcdef\",\"phase\":\"pake\",\"body\":\"\"}",
    "{\"side\":\"a\",\"side\":\"b\"}",
    "{\"phase\":\"pake\",\"phase\":\"bye\",\"body\":\"x\"}",
    "{\"side\":\"0123456789abcdef\",\"extra\":{\"nested\":[1,2]},\"body\":\"aGk=\"}",
    "{\"side\":12345678901234567,\"phase\":null,\"body\":true}",
    "{\"side\":\"caf\xc3\xa9\",\"phase\":\"pake\"}",
    "{\"side\":\"\xff\xfe\",\"phase\":\"pake\"}",
    "{\"side\":\"tab\there\"}",
    "{\"other\":\"x\",\"body\":\"y\",}",
    "{\"side\":\"x\"} trailing",
    "{\"side\":\"x\"}}",
    "{}",
    "[1,2]",
    "\"side\"",
    "null",
    "{\"side\":",
    "{\"side\":\"unterminated",
    "{\"side\" \"missing colon\"}",
    "\xef\xbb\xbf{\"side\":\"bom\"}",
    /* What json-glib alone took, and the guard refuses. */
    "{'side':'0123456789abcdef'}",
    "{\"side\":\"0123456789abcdef\" /* comment */}",
    "{\"side\":\"\\u1\"\",\"phase\":\"pake\"}",
    "{\"side\":\"x\",\"x\":0x10}",
    "",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      g_auto (PhPost) expected = { 0 };
      g_auto (PhPost) post = { 0 };
      g_autoptr (GError) error = NULL;
      gsize length = strlen (bodies[i]);
      gboolean ok;
      g_autofree char *shown = g_strescape (bodies[i], NULL);

      /* Escaped: raw invalid UTF-8 would break the TAP stream. */
      g_test_message ("%s", shown);
      ok = read_post_with_json_glib (bodies[i], length, &expected);
      g_assert_cmpint (ph_post_read (bodies[i], length, &post, &error), ==, ok);
      if (!ok)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
          continue;
        }
      g_assert_no_error (error);
      g_assert_cmpstr (post.side, ==, expected.side);
      g_assert_cmpstr (post.phase, ==, expected.phase);
      g_assert_cmpstr (post.body, ==, expected.body);
    }

  /* A NUL byte, which C strings above cannot hold, is read as json-glib reads it. */
  {
    static const char with_nul[] = "{\"side\":\"a\0b\"}";
    g_auto (PhPost) expected = { 0 };
    g_auto (PhPost) post = { 0 };
    gboolean ok = read_post_with_json_glib (with_nul, sizeof with_nul - 1, &expected);

    g_assert_cmpint (ph_post_read (with_nul, sizeof with_nul - 1, &post, NULL), ==, ok);
    g_assert_cmpstr (post.side, ==, expected.side);
  }
}

static void
test_rate_limiter (void)
{
  g_autoptr (PhRateLimiter) limiter = ph_rate_limiter_new (2, 3, 2);
  gint64 now = 1000 * G_USEC_PER_SEC;
  guint retry_after = 99;

  for (guint i = 0; i < 3; i++)
    g_assert_true (ph_rate_limiter_check_at (limiter, "192.0.2.1", now, &retry_after));
  g_assert_false (ph_rate_limiter_check_at (limiter, "192.0.2.1", now, &retry_after));
  g_assert_cmpuint (retry_after, ==, 1);

  /* Another client has its own bucket. */
  g_assert_true (ph_rate_limiter_check_at (limiter, "192.0.2.2", now, NULL));

  /* Half a second at two per second buys one request. */
  now += G_USEC_PER_SEC / 2;
  g_assert_true (ph_rate_limiter_check_at (limiter, "192.0.2.1", now, NULL));
  g_assert_false (ph_rate_limiter_check_at (limiter, "192.0.2.1", now, NULL));

  /* The table holds two clients: a third evicts the least recently seen. */
  g_assert_true (ph_rate_limiter_check_at (limiter, "192.0.2.3", now, NULL));
  g_assert_cmpuint (ph_rate_limiter_get_n_clients (limiter), ==, 2);
  g_assert_false (ph_rate_limiter_check_at (limiter, "192.0.2.1", now, NULL));
  g_assert_cmpuint (ph_rate_limiter_get_n_clients (limiter), ==, 2);
}

static void
test_turn_credentials_vector (void)
{
  g_autofree char *username = ph_turn_credentials_make_username (1700000000, "pinhole");
  g_autofree char *credential = NULL;

  g_assert_cmpstr (username, ==, "1700000000:pinhole");

  /* printf %s 1700000000:pinhole | openssl dgst -sha1 -hmac s3cret -binary | base64 */
  credential = ph_turn_credentials_make_credential ("s3cret", username);
  g_assert_cmpstr (credential, ==, "va+4DmeuOEyUZa3dytyrtHriuAs=");
}

/* --- the HTTP API --- */

static void
test_allocate_lowest_free (void)
{
  Fixture fixture = { 0 };
  g_auto (Side) first = { 0 };
  g_auto (Side) second = { 0 };
  g_auto (Side) again = { 0 };
  g_autoptr (Call) allocated = NULL;
  g_autoptr (Call) left = NULL;
  g_autoptr (JsonObject) object = NULL;

  fixture_start (&fixture, NULL);

  allocated = call_run (&fixture, "POST", "/v1/mailboxes", NULL);
  g_assert_cmpstr (response_header (allocated, "Cache-Control"), ==, "no-store");
  read_seat (allocated, 201, HOST, &first);
  g_assert_cmpstr (first.nameplate, ==, "1");
  object = call_json (allocated);
  g_assert_cmpint (json_object_get_int_member (object, "expires_in"), ==, 600);

  allocate (&fixture, &second);
  g_assert_cmpstr (second.nameplate, ==, "2");
  g_assert_cmpstr (second.secret, !=, first.secret);

  /* The only side in it leaves: the mailbox closes and 1 is free. */
  g_assert_cmpuint (post_ok (&fixture, &first, "hi"), ==, 1);
  left = leave (&fixture, &first);
  g_assert_cmpuint (call_status (left), ==, 204);
  g_assert_cmpuint (g_bytes_get_size (left->body), ==, 0);

  allocate (&fixture, &again);
  g_assert_cmpstr (again.nameplate, ==, "1");
  g_assert_cmpstr (again.secret, !=, first.secret);

  fixture_stop (&fixture);
}

static void
test_post_and_fetch_order (void)
{
  Fixture fixture = { 0 };
  g_auto (Side) host = { 0 };
  g_auto (Side) joiner = { 0 };
  g_autoptr (Call) all = NULL;
  g_autoptr (Call) seen_by_joiner = NULL;
  g_autoptr (Call) later = NULL;
  g_autoptr (Call) none = NULL;
  g_autoptr (JsonArray) messages = NULL;
  g_autoptr (JsonArray) newer = NULL;
  g_autoptr (JsonArray) empty = NULL;
  g_autofree char *text = NULL;
  g_autofree char *answer = NULL;
  const guint sides[] = { HOST, JOINER, HOST };

  fixture_start (&fixture, NULL);
  allocate (&fixture, &host);
  join (&fixture, host.nameplate, &joiner);

  g_assert_cmpuint (post_ok (&fixture, &host, "one"), ==, 1);
  g_assert_cmpuint (post_ok (&fixture, &joiner, "two"), ==, 2);
  g_assert_cmpuint (post_ok (&fixture, &host, "three"), ==, 3);

  all = fetch (&fixture, &host, "?after=0");
  messages = messages_of (all);
  g_assert_cmpuint (json_array_get_length (messages), ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      JsonObject *message = json_array_get_object_element (messages, i);
      g_autofree char *body = message_text (messages, i);
      const char *expected[] = { "one", "two", "three" };

      g_assert_cmpstr (body, ==, expected[i]);
      g_assert_cmpint (json_object_get_int_member (message, "index"), ==, i + 1);
      g_assert_cmpint (json_object_get_int_member (message, "side"), ==, sides[i]);
      g_assert_cmpstr (json_object_get_string_member (message, "phase"), ==, "pake");
    }
  /* Both sides read the same answer, and neither's secret is in it. */
  seen_by_joiner = fetch (&fixture, &joiner, "?after=0");
  g_assert_cmpuint (call_status (seen_by_joiner), ==, 200);
  g_assert_true (g_bytes_equal (all->body, seen_by_joiner->body));
  answer = g_strndup (g_bytes_get_data (all->body, NULL), g_bytes_get_size (all->body));
  g_assert_null (strstr (answer, host.secret));
  g_assert_null (strstr (answer, joiner.secret));

  later = fetch (&fixture, &joiner, "?after=2");
  newer = messages_of (later);
  g_assert_cmpuint (json_array_get_length (newer), ==, 1);
  text = message_text (newer, 0);
  g_assert_cmpstr (text, ==, "three");

  none = fetch (&fixture, &host, "?after=3&wait=0");
  empty = messages_of (none);
  g_assert_cmpuint (json_array_get_length (empty), ==, 0);

  fixture_stop (&fixture);
}

static void
test_long_poll_wakes (void)
{
  Fixture fixture = { 0 };
  g_autoptr (SoupSession) other = soup_session_new ();
  g_auto (Side) host = { 0 };
  g_auto (Side) joiner = { 0 };
  g_autoptr (Call) poll = NULL;
  g_autoptr (Call) posted = NULL;
  g_autoptr (JsonArray) messages = NULL;
  g_autofree char *body = message_json ("desc", "wake up");
  g_autofree char *text = NULL;

  fixture_start (&fixture, NULL);
  allocate (&fixture, &host);
  join (&fixture, host.nameplate, &joiner);

  poll = call_start (fixture.session, fixture.url, "GET",
                     "/v1/mailboxes/1/messages?after=0&wait=20", NULL, host.secret, NULL);
  wait_for_waiting_polls (&fixture, 1);
  g_assert_false (poll->done);

  posted = call_start (other, fixture.url, "POST", "/v1/mailboxes/1/messages", body, joiner.secret,
                       NULL);
  wait_for (&poll->done);
  wait_for (&posted->done);
  g_assert_no_error (poll->error);
  g_assert_cmpuint (call_status (posted), ==, 201);

  /* The poll is answered as the message arrives, not when the hold ends. */
  g_assert_cmpint (poll->finished_us - posted->started_us, <,
                   ph_test_scaled_ms (500) * (gint64)1000);
  messages = messages_of (poll);
  g_assert_cmpuint (json_array_get_length (messages), ==, 1);
  text = message_text (messages, 0);
  g_assert_cmpstr (text, ==, "wake up");
  g_assert_cmpuint (ph_rendezvous_server_get_waiting_polls (fixture.server), ==, 0);

  fixture_stop (&fixture);
}

static void
test_hold_timeout (void)
{
  Fixture fixture = { 0 };
  g_auto (Side) host = { 0 };
  g_autoptr (Call) poll = NULL;
  g_autoptr (JsonArray) messages = NULL;
  gint64 elapsed;

  fixture_start (&fixture, "max-hold", 1, NULL);
  allocate (&fixture, &host);

  /* The client asks for 30 s; the server holds it for its limit of 1 s. */
  poll = fetch (&fixture, &host, "?after=0&wait=30");
  elapsed = poll->finished_us - poll->started_us;
  messages = messages_of (poll);
  g_assert_cmpuint (json_array_get_length (messages), ==, 0);
  g_assert_cmpint (elapsed, >=, 950 * 1000);
  g_assert_cmpint (elapsed, <, ph_test_scaled_ms (3000) * (gint64)1000);

  fixture_stop (&fixture);
}

/* Holds of different lengths share one timer: each poll is answered when
 * its own hold ends, in order, and one answered early leaves the others'
 * holds as they were. */
static void
test_holds_in_order (void)
{
  const struct
  {
    guint mailbox; /* 0 or 1 */
    const char *path;
    guint hold_ms;
  } polls[] = {
    { 0, "/v1/mailboxes/1/messages?after=0&wait=3", 3000 },
    { 0, "/v1/mailboxes/1/messages?after=0&wait=1", 1000 },
    { 0, "/v1/mailboxes/1/messages?after=0&wait=2", 2000 },
    { 1, "/v1/mailboxes/2/messages?after=0&wait=2", 0 },    /* answered by a message */
    { 0, "/v1/mailboxes/1/messages?after=0&wait=1", 1000 }, /* starts later */
  };
  Fixture fixture = { 0 };
  g_autoptr (GPtrArray) calls = g_ptr_array_new_with_free_func ((GDestroyNotify)call_free);
  g_auto (Side) first = { 0 };
  g_auto (Side) second = { 0 };
  const Side *hosts[] = { &first, &second };
  g_autoptr (JsonArray) early = NULL;
  guint order[] = { 1, 4, 2, 0 };

  fixture_start (&fixture, NULL);
  allocate (&fixture, &first);
  allocate (&fixture, &second);

  for (guint i = 0; i < G_N_ELEMENTS (polls); i++)
    {
      if (i == G_N_ELEMENTS (polls) - 1)
        ph_test_run_for (300);
      g_ptr_array_add (calls, call_start (fixture.session, fixture.url, "GET", polls[i].path, NULL,
                                          hosts[polls[i].mailbox]->secret, NULL));
      wait_for_waiting_polls (&fixture, i + 1);
    }

  post_ok (&fixture, &second, "early");
  wait_for (&((Call *)g_ptr_array_index (calls, 3))->done);
  early = messages_of (g_ptr_array_index (calls, 3));
  g_assert_cmpuint (json_array_get_length (early), ==, 1);

  for (guint i = 0; i < G_N_ELEMENTS (polls); i++)
    {
      Call *call = g_ptr_array_index (calls, i);
      gint64 elapsed_ms;
      g_autoptr (JsonArray) messages = NULL;

      wait_for (&call->done);
      g_assert_no_error (call->error);
      if (polls[i].hold_ms == 0)
        continue;
      elapsed_ms = (call->finished_us - call->started_us) / 1000;
      g_test_message ("%s: answered after %" G_GINT64_FORMAT " ms", polls[i].path, elapsed_ms);
      messages = messages_of (call);
      g_assert_cmpuint (json_array_get_length (messages), ==, 0);
      g_assert_cmpint (elapsed_ms, >=, polls[i].hold_ms - 50);
      g_assert_cmpint (elapsed_ms, <, polls[i].hold_ms + ph_test_scaled_ms (900));
    }
  for (guint i = 1; i < G_N_ELEMENTS (order); i++)
    g_assert_cmpint (((Call *)g_ptr_array_index (calls, order[i - 1]))->finished_us, <,
                     ((Call *)g_ptr_array_index (calls, order[i]))->finished_us);
  g_assert_cmpuint (ph_rendezvous_server_get_waiting_polls (fixture.server), ==, 0);

  fixture_stop (&fixture);
}

/* The first to join holds the second seat; whoever comes after finds the
 * mailbox full, even once the joiner left, and no one without a side's
 * secret can post or leave as either side. */
static void
test_third_side (void)
{
  Fixture fixture = { 0 };
  g_auto (Side) host = { 0 };
  g_auto (Side) joiner = { 0 };
  Side stranger = { (char *)"1", (char *)WRONG_SECRET };
  g_autoptr (Call) third = NULL;
  g_autoptr (Call) third_posts = NULL;
  g_autoptr (Call) third_leaves = NULL;
  g_autoptr (Call) joiner_left = NULL;
  g_autoptr (Call) fourth = NULL;

  fixture_start (&fixture, NULL);
  allocate (&fixture, &host);
  join (&fixture, host.nameplate, &joiner);
  post_ok (&fixture, &host, "a");
  post_ok (&fixture, &joiner, "b");

  third = join_call (&fixture, "1");
  assert_error (third, 409, "mailbox-full");
  third_posts = post (&fixture, &stranger, "pake", "c");
  assert_error (third_posts, 401, "unauthorized");
  third_leaves = leave (&fixture, &stranger);
  assert_error (third_leaves, 401, "unauthorized");

  joiner_left = leave (&fixture, &joiner);
  g_assert_cmpuint (call_status (joiner_left), ==, 204);
  fourth = join_call (&fixture, "1");
  assert_error (fourth, 409, "mailbox-full");
  g_assert_cmpuint (post_ok (&fixture, &host, "still mine"), ==, 3);

  fixture_stop (&fixture);
}

static void
test_too_large (void)
{
  Fixture fixture = { 0 };
  g_auto (Side) host = { 0 };
  g_auto (Side) joiner = { 0 };
  g_autofree char *big_text = g_strnfill (2000, 'x');
  g_autofree char *big_json = message_json ("desc", big_text);
  g_autoptr (Call) big = NULL;
  g_autoptr (Call) big_chunked = NULL;
  g_autoptr (Call) over_count = NULL;
  g_autoptr (Call) still_fine = NULL;
  g_autoptr (PhMemoryStore) store = g_object_new (PH_TYPE_MEMORY_STORE, "max-messages", 2, NULL);

  fixture_start (&fixture, "max-body-bytes", 1024, "store", store, NULL);
  allocate (&fixture, &host);
  join (&fixture, host.nameplate, &joiner);

  big = post (&fixture, &host, "desc", big_text);
  assert_error (big, 413, "too-large");
  g_assert_cmpstr (
      soup_message_headers_get_one (soup_message_get_request_headers (big->msg), "Content-Length"),
      !=, NULL);

  big_chunked = call_run_chunked (&fixture, &host, "/v1/mailboxes/1/messages", big_json);
  g_assert_cmpint (
      soup_message_headers_get_encoding (soup_message_get_request_headers (big_chunked->msg)), ==,
      SOUP_ENCODING_CHUNKED);
  assert_error (big_chunked, 413, "too-large");

  post_ok (&fixture, &host, "1");
  post_ok (&fixture, &joiner, "2");
  over_count = post (&fixture, &host, "cand", "3");
  assert_error (over_count, 413, "mailbox-limit");

  /* The refusals closed nothing: the mailbox still answers. */
  still_fine = fetch (&fixture, &host, "");
  g_assert_cmpuint (call_status (still_fine), ==, 200);

  fixture_stop (&fixture);
}

static void
test_rate_limited (void)
{
  Fixture fixture = { 0 };
  g_autoptr (Call) refused = NULL;
  guint64 retry_after = 0;
  g_autoptr (PhRateLimiter) limiter
      = g_object_new (PH_TYPE_RATE_LIMITER, "rate", 1, "burst", 3, NULL);

  fixture_start (&fixture, "limiter", limiter, NULL);

  for (guint i = 0; i < 3; i++)
    {
      g_autoptr (Call) call = call_run (&fixture, "GET", "/v1/health", NULL);

      g_assert_cmpuint (call_status (call), ==, 200);
    }

  refused = call_run (&fixture, "GET", "/v1/health", NULL);
  assert_error (refused, 429, "rate-limited");
  g_assert_nonnull (response_header (refused, "Retry-After"));
  g_assert_true (g_ascii_string_to_unsigned (response_header (refused, "Retry-After"), 10, 1, 60,
                                             &retry_after, NULL));

  fixture_stop (&fixture);
}

static void
test_server_full (void)
{
  Fixture fixture = { 0 };
  g_auto (Side) first = { 0 };
  g_auto (Side) second = { 0 };
  g_autoptr (Call) third = NULL;
  g_autoptr (PhMemoryStore) store = g_object_new (PH_TYPE_MEMORY_STORE, "max-mailboxes", 2, NULL);

  fixture_start (&fixture, "store", store, NULL);
  allocate (&fixture, &first);
  allocate (&fixture, &second);

  third = call_run (&fixture, "POST", "/v1/mailboxes", NULL);
  assert_error (third, 503, "no-free-mailbox");

  fixture_stop (&fixture);
}

static void
test_too_many_polls (void)
{
  Fixture fixture = { 0 };
  g_auto (Side) host = { 0 };
  g_autoptr (Call) waiting = NULL;
  g_autoptr (Call) refused = NULL;
  g_autoptr (Call) left = NULL;

  fixture_start (&fixture, "max-waiting-polls", 1, NULL);
  allocate (&fixture, &host);
  post_ok (&fixture, &host, "a");

  waiting = call_start (fixture.session, fixture.url, "GET",
                        "/v1/mailboxes/1/messages?after=1&wait=20", NULL, host.secret, NULL);
  wait_for_waiting_polls (&fixture, 1);

  refused = fetch (&fixture, &host, "?after=1&wait=20");
  assert_error (refused, 503, "too-many-polls");

  /* Closing the mailbox answers the waiting poll with 404. */
  left = leave (&fixture, &host);
  g_assert_cmpuint (call_status (left), ==, 204);
  wait_for (&waiting->done);
  g_assert_no_error (waiting->error);
  assert_error (waiting, 404, "unknown-mailbox");

  fixture_stop (&fixture);
}

static void
test_expiry (void)
{
  Fixture fixture = { 0 };
  g_auto (Side) host = { 0 };
  g_auto (Side) again = { 0 };
  g_autoptr (Call) poll = NULL;
  gint64 elapsed;
  g_autoptr (PhMemoryStore) store = g_object_new (PH_TYPE_MEMORY_STORE, "lifetime", 1, NULL);

  fixture_start (&fixture, "store", store, NULL);
  allocate (&fixture, &host);

  poll = fetch (&fixture, &host, "?after=0&wait=20");
  elapsed = poll->finished_us - poll->started_us;
  assert_error (poll, 404, "unknown-mailbox");
  g_assert_cmpint (elapsed, <, ph_test_scaled_ms (3000) * (gint64)1000);

  allocate (&fixture, &again);
  g_assert_cmpstr (again.nameplate, ==, "1");

  fixture_stop (&fixture);
}

static void
test_malformed (void)
{
  const struct
  {
    gboolean as_host; /* with the host's secret */
    const char *method;
    const char *path;
    const char *body;
    guint status;
    const char *code;
  } cases[] = {
    { TRUE, "POST", "/v1/mailboxes/1/messages", "{\"phase\":", 400, "malformed" },
    { TRUE, "POST", "/v1/mailboxes/1/messages", "", 400, "malformed" },
    { TRUE, "POST", "/v1/mailboxes/1/messages", "[1,2]", 400, "malformed" },
    { TRUE, "POST", "/v1/mailboxes/1/messages", "{\"phase\":\"hello\",\"body\":\"\"}", 400,
      "malformed" },
    { TRUE, "POST", "/v1/mailboxes/1/messages", "{\"phase\":12,\"body\":\"\"}", 400, "malformed" },
    { TRUE, "POST", "/v1/mailboxes/1/messages", "{\"phase\":\"pake\"}", 400, "malformed" },
    { TRUE, "POST", "/v1/mailboxes/1/messages", "{\"phase\":\"pake\",\"body\":\"a\"}", 400,
      "malformed" },
    { TRUE, "POST", "/v1/mailboxes/1/messages", "{\"phase\":\"pake\",\"body\":\"@@@@\"}", 400,
      "malformed" },
    { TRUE, "POST", "/v1/mailboxes/1/messages", "{\"phase\":\"pake\",\"body\":\"aGk=aGk=\"}", 400,
      "malformed" },
    { TRUE, "GET", "/v1/mailboxes/1/messages?after=abc", NULL, 400, "malformed" },
    { TRUE, "GET", "/v1/mailboxes/1/messages?after=-1", NULL, 400, "malformed" },
    { TRUE, "GET", "/v1/mailboxes/1/messages?wait=61", NULL, 400, "malformed" },
    { FALSE, "POST", "/v1/mailboxes/1/join", "{\"phase\":\"pake\"}", 400, "malformed" },
    { FALSE, "POST", "/v1/mailboxes/1/join", "{\"phase\":\"hello\",\"body\":\"\"}", 400,
      "malformed" },
    { FALSE, "POST", "/v1/mailboxes/1/join", "{\"body\":\"aGk=\"}", 400, "malformed" },
    { FALSE, "POST", "/v1/mailboxes/1/join", "not json", 400, "malformed" },
    { FALSE, "GET", "/v1/nothing", NULL, 404, "not-found" },
    { FALSE, "GET", "/v1/mailboxes/1/other", NULL, 404, "not-found" },
    { FALSE, "GET", "/", NULL, 404, "not-found" },
    { TRUE, "GET", "/v1/mailboxes/01/messages", NULL, 404, "unknown-mailbox" },
    { FALSE, "GET", "/v1/mailboxes/abc/messages", NULL, 404, "unknown-mailbox" },
    { FALSE, "GET", "/v1/mailboxes/99999999999999999999/messages", NULL, 404, "unknown-mailbox" },
    { TRUE, "POST", "/v1/mailboxes/42/messages", "{\"phase\":\"pake\",\"body\":\"aGk=\"}", 404,
      "unknown-mailbox" },
    { FALSE, "POST", "/v1/mailboxes/42/join", NULL, 404, "unknown-mailbox" },
    { FALSE, "GET", "/v1/mailboxes/42/turn", NULL, 404, "unknown-mailbox" },
    { FALSE, "GET", "/v1/mailboxes", NULL, 405, "method-not-allowed" },
    { FALSE, "PUT", "/v1/mailboxes/1/messages", NULL, 405, "method-not-allowed" },
    { FALSE, "GET", "/v1/mailboxes/1/join", NULL, 405, "method-not-allowed" },
    { FALSE, "POST", "/v1/mailboxes/1/turn", NULL, 405, "method-not-allowed" },
    { FALSE, "POST", "/v1/health", NULL, 405, "method-not-allowed" },
  };
  Fixture fixture = { 0 };
  g_auto (Side) host = { 0 };
  g_auto (Side) joiner = { 0 };
  g_autoptr (PhRateLimiter) limiter = g_object_new (PH_TYPE_RATE_LIMITER, "burst", 1000, NULL);

  fixture_start (&fixture, "limiter", limiter, NULL);
  allocate (&fixture, &host);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (Call) call = NULL;

      g_test_message ("%s %s %s", cases[i].method, cases[i].path,
                      cases[i].body != NULL ? cases[i].body : "");
      call = call_run_with (&fixture, cases[i].as_host ? host.secret : NULL, cases[i].method,
                            cases[i].path, cases[i].body);
      assert_error (call, cases[i].status, cases[i].code);
    }

  /* None of it disturbed the mailbox, nor took its second seat. */
  g_assert_cmpuint (post_ok (&fixture, &host, "still here"), ==, 1);
  join (&fixture, host.nameplate, &joiner);

  fixture_stop (&fixture);
}

/* A body of @head, @depth brackets and, when @close, the brackets and
 * brace that close them. */
static char *
nested_body (const char *head, gsize depth, gboolean close)
{
  GString *body = g_string_new (head);

  for (gsize i = 0; i < depth; i++)
    g_string_append_c (body, '[');
  for (gsize i = 0; close && i < depth; i++)
    g_string_append_c (body, ']');
  if (close)
    g_string_append_c (body, '}');
  return g_string_free (body, FALSE);
}

/* json-glib recurses once per level: a body nested deeper than any client
 * writes is refused with 400 before json-glib sees it, whether json-glib
 * alone would have read it (30 000 levels, under the default body limit)
 * or, with the largest body limit an operator may set, it would have
 * overflowed the server's stack (2 000 000 levels). */
static void
test_deep_json (void)
{
  const char *head = "{\"phase\":\"pake\",\"body\":\"aGk=\",\"x\":";
  g_autofree char *at_limit = nested_body (head, PH_POST_MAX_JSON_DEPTH - 1, TRUE);
  g_autofree char *over_limit = nested_body (head, PH_POST_MAX_JSON_DEPTH, TRUE);
  g_autofree char *deep = nested_body (head, 30000, TRUE);
  g_autofree char *deep_join = nested_body (head, 30000, TRUE);
  g_autofree char *very_deep = nested_body (head, 2000000, FALSE);
  g_autoptr (PhRateLimiter) limiter = g_object_new (PH_TYPE_RATE_LIMITER, "burst", 1000, NULL);
  const struct
  {
    const char *method;
    const char *path;
    const char *body;
  } refused[] = {
    { "POST", "/v1/mailboxes/1/messages", over_limit },
    { "POST", "/v1/mailboxes/1/messages", deep },
    { "POST", "/v1/mailboxes/1/join", deep_join },
    { "POST", "/v1/mailboxes/1/messages", very_deep },
  };
  Fixture fixture = { 0 };
  g_auto (Side) host = { 0 };
  g_autoptr (Call) fits = NULL;

  g_assert_cmpuint (strlen (deep), <, 65536);
  fixture_start (&fixture, "limiter", limiter, "max-body-bytes", 16 * 1024 * 1024, NULL);
  allocate (&fixture, &host);

  fits = call_run_as (&fixture, &host, "POST", "/v1/mailboxes/1/messages", at_limit);
  g_assert_cmpuint (call_status (fits), ==, 201);

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr (Call) call = NULL;
      g_autoptr (JsonObject) object = NULL;
      g_autofree char *reason
          = g_strdup_printf ("nests JSON more than %d levels deep", PH_POST_MAX_JSON_DEPTH);

      g_test_message ("%s %s, %zu bytes", refused[i].method, refused[i].path,
                      strlen (refused[i].body));
      call = call_run_as (&fixture, &host, refused[i].method, refused[i].path, refused[i].body);
      assert_error (call, 400, "malformed");
      object = call_json (call);
      g_assert_nonnull (strstr (json_object_get_string_member (object, "message"), reason));
    }

  /* The server is still there, and the mailbox has only the post that fit. */
  g_assert_cmpuint (post_ok (&fixture, &host, "after"), ==, 2);

  fixture_stop (&fixture);
}

static Call *
call_run_if_match (Fixture *fixture, const char *secret, const char *method, const char *path,
                   const char *body, const char *if_match)
{
  g_autofree char *url = g_strconcat (fixture->url, path, NULL);
  Call *call = g_new0 (Call, 1);

  call->msg = soup_message_new (method, url);
  set_secret (call->msg, secret);
  if (body != NULL)
    {
      g_autoptr (GBytes) bytes = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (call->msg, "application/json", bytes);
    }
  soup_message_headers_replace (soup_message_get_request_headers (call->msg), "If-Match", if_match);
  soup_session_send_and_read_async (fixture->session, call->msg, G_PRIORITY_DEFAULT, NULL,
                                    call_done_cb, call);
  wait_for (&call->done);
  g_assert_no_error (call->error);
  return call;
}

/* A request under Idempotency-Key @key (or none), with @body (or none). */
static Call *
call_run_keyed (Fixture *fixture, const char *method, const char *path, const char *key,
                const char *body)
{
  g_autofree char *url = g_strconcat (fixture->url, path, NULL);
  Call *call = g_new0 (Call, 1);

  call->msg = soup_message_new (method, url);
  if (key != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (call->msg), "Idempotency-Key",
                                  key);
  if (body != NULL)
    {
      g_autoptr (GBytes) bytes = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (call->msg, "application/json", bytes);
    }
  soup_session_send_and_read_async (fixture->session, call->msg, G_PRIORITY_DEFAULT, NULL,
                                    call_done_cb, call);
  wait_for (&call->done);
  g_assert_no_error (call->error);
  return call;
}

/* Every answer about a mailbox names it with a tag; a request that sends
 * the tag back (If-Match) is refused once the number is open under another
 * one, as after a restart and a claim, so it never lands in a stranger's
 * mailbox. A claim opens a given free number, with a new secret. */
static void
test_claim_and_tags (void)
{
  Fixture fixture = { 0 };
  g_auto (Side) host = { 0 };
  g_auto (Side) claimer = { 0 };
  g_auto (Side) claimer_again = { 0 };
  g_autoptr (Call) allocated = NULL;
  g_autoptr (Call) posted = NULL;
  g_autoptr (Call) fetched = NULL;
  g_autoptr (Call) left = NULL;
  g_autoptr (Call) claimed = NULL;
  g_autoptr (Call) again = NULL;
  g_autoptr (Call) old_secret = NULL;
  g_autoptr (Call) taken = NULL;
  g_autoptr (Call) taken_with_key = NULL;
  g_autoptr (Call) stale = NULL;
  g_autoptr (Call) stale_leave = NULL;
  g_autoptr (Call) current = NULL;
  g_autoptr (Call) too_long = NULL;
  g_autofree char *long_key = g_strnfill (200, 'k');
  g_autofree char *old_tag = NULL;
  g_autofree char *new_tag = NULL;
  g_autofree char *metrics = NULL;

  fixture_start (&fixture, NULL);
  allocated = call_run (&fixture, "POST", "/v1/mailboxes", NULL);
  read_seat (allocated, 201, HOST, &host);
  old_tag = g_strdup (response_header (allocated, "ETag"));
  g_assert_cmpuint (strlen (old_tag), ==, 18);
  g_assert_true (old_tag[0] == '"' && old_tag[17] == '"');

  posted = call_run_if_match (&fixture, host.secret, "POST", "/v1/mailboxes/1/messages",
                              "{\"phase\":\"pake\",\"body\":\"aGk=\"}", old_tag);
  g_assert_cmpuint (call_status (posted), ==, 201);
  g_assert_cmpstr (response_header (posted, "ETag"), ==, old_tag);
  fetched
      = call_run_if_match (&fixture, host.secret, "GET", "/v1/mailboxes/1/messages", NULL, old_tag);
  g_assert_cmpuint (call_status (fetched), ==, 200);
  g_assert_cmpstr (response_header (fetched, "ETag"), ==, old_tag);

  /* Closed, then claimed back: the same number, another mailbox. */
  left = leave (&fixture, &host);
  g_assert_cmpuint (call_status (left), ==, 204);
  claimed = call_run_keyed (&fixture, "PUT", "/v1/mailboxes/1", "claim-key", NULL);
  read_seat (claimed, 201, HOST, &claimer);
  g_assert_cmpstr (claimer.nameplate, ==, "1");
  new_tag = g_strdup (response_header (claimed, "ETag"));
  g_assert_cmpstr (new_tag, !=, old_tag);

  /* The claimer again with its key (its answer lost): the same side under
   * a new secret, 200; the first secret no longer works. */
  again = call_run_keyed (&fixture, "PUT", "/v1/mailboxes/1", "claim-key", NULL);
  read_seat (again, 200, HOST, &claimer_again);
  g_assert_cmpstr (response_header (again, "ETag"), ==, new_tag);
  g_assert_cmpstr (claimer_again.secret, !=, claimer.secret);
  old_secret = fetch (&fixture, &claimer, "");
  assert_error (old_secret, 401, "unauthorized");
  taken = call_run_keyed (&fixture, "PUT", "/v1/mailboxes/1", NULL, NULL);
  assert_error (taken, 409, "nameplate-unavailable");
  too_long = call_run_keyed (&fixture, "PUT", "/v1/mailboxes/1", long_key, NULL);
  assert_error (too_long, 400, "malformed");

  stale = call_run_if_match (&fixture, claimer_again.secret, "GET", "/v1/mailboxes/1/messages",
                             NULL, old_tag);
  assert_error (stale, 412, "mailbox-replaced");
  stale_leave
      = call_run_if_match (&fixture, host.secret, "DELETE", "/v1/mailboxes/1", NULL, old_tag);
  assert_error (stale_leave, 412, "mailbox-replaced");
  current = call_run_if_match (&fixture, claimer_again.secret, "GET", "/v1/mailboxes/1/messages",
                               NULL, new_tag);
  g_assert_cmpuint (call_status (current), ==, 200);
  /* Its secret used, the key claims nothing more. */
  taken_with_key = call_run_keyed (&fixture, "PUT", "/v1/mailboxes/1", "claim-key", NULL);
  assert_error (taken_with_key, 409, "nameplate-unavailable");

  metrics = get_metrics (&fixture);
  g_assert_nonnull (strstr (metrics, "\npinhole_mailboxes_claimed_total 1\n"));
  g_assert_nonnull (strstr (metrics, "pinhole_errors_total{code=\"mailbox-replaced\"} 2\n"));
  fixture_stop (&fixture);
}

static void
test_vanished_poller (void)
{
  Fixture fixture = { 0 };
  g_autoptr (SoupSession) vanishing = soup_session_new ();
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_auto (Side) host = { 0 };
  g_autofree char *metrics = NULL;
  g_autoptr (Call) poll = NULL;
  gint64 cancelled_us;

  fixture_start (&fixture, NULL);
  allocate (&fixture, &host);

  poll = call_start (vanishing, fixture.url, "GET", "/v1/mailboxes/1/messages?after=0&wait=30",
                     NULL, host.secret, cancellable);
  wait_for_waiting_polls (&fixture, 1);

  cancelled_us = g_get_monotonic_time ();
  g_cancellable_cancel (cancellable);
  wait_for (&poll->done);
  g_assert_error (poll->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_object (&vanishing);

  /* The server notices the hang-up well before its 30 s hold runs out. */
  wait_for_waiting_polls (&fixture, 0);
  g_assert_cmpint (g_get_monotonic_time () - cancelled_us, <,
                   ph_test_scaled_ms (5000) * (gint64)1000);

  metrics = get_metrics (&fixture);
  g_assert_nonnull (strstr (metrics, "\npinhole_polls_waiting 0\n"));
  g_assert_nonnull (strstr (metrics, "\npinhole_requests_total{status=\"aborted\"} 1\n"));

  fixture_stop (&fixture);
}

/* The credentials are coturn's: "<expiry>:<id>", expiry = now + ttl, and
 * the password base64 (HMAC-SHA1 (secret, username)). */
static void
assert_turn_credentials (JsonObject *object, const char *secret, gint64 ttl)
{
  g_autofree char *expected = NULL;
  g_auto (GStrv) parts = NULL;
  const char *username;
  gint64 expiry;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  guchar digest[20];
  gsize digest_len = sizeof digest;
  g_autoptr (GHmac) hmac = NULL;

  g_assert_cmpint (json_object_get_int_member (object, "ttl"), ==, ttl);
  username = json_object_get_string_member (object, "username");
  parts = g_strsplit (username, ":", 2);
  g_assert_cmpuint (g_strv_length (parts), ==, 2);
  g_assert_cmpuint (strlen (parts[1]), >, 0);
  expiry = g_ascii_strtoll (parts[0], NULL, 10);
  g_assert_cmpint (expiry, >=, now + ttl - 5);
  g_assert_cmpint (expiry, <=, now + ttl + 5);

  hmac = g_hmac_new (G_CHECKSUM_SHA1, (const guchar *)secret, strlen (secret));
  g_hmac_update (hmac, (const guchar *)username, strlen (username));
  g_hmac_get_digest (hmac, digest, &digest_len);
  expected = g_base64_encode (digest, digest_len);
  g_assert_cmpstr (json_object_get_string_member (object, "credential"), ==, expected);
}

/* TURN credentials go to a side of an open mailbox only, and last at most
 * an hour by default; anyone may have the STUN servers. */
static void
test_turn (void)
{
  const char *const turn_uris[] = { "turn:192.0.2.1:3478?transport=udp", NULL };
  const char *const stun_uris[] = { "stun:192.0.2.1:3478", NULL };
  Fixture fixture = { 0 };
  g_auto (Side) host = { 0 };
  g_auto (Side) joiner = { 0 };
  g_autoptr (Call) call = NULL;
  g_autoptr (Call) joiner_call = NULL;
  g_autoptr (Call) public_call = NULL;
  g_autoptr (JsonObject) object = NULL;
  g_autoptr (JsonObject) joiner_object = NULL;
  g_autoptr (JsonObject) public_object = NULL;
  guint ttl = 0;

  fixture_start (&fixture, "turn-secret", "s3cret", "turn-uris", turn_uris, "stun-uris", stun_uris,
                 NULL);
  g_object_get (fixture.server, "turn-ttl", &ttl, NULL);
  g_assert_cmpuint (ttl, ==, 3600);
  allocate (&fixture, &host);
  join (&fixture, host.nameplate, &joiner);

  call = call_run_as (&fixture, &host, "GET", "/v1/mailboxes/1/turn", NULL);
  g_assert_cmpuint (call_status (call), ==, 200);
  object = call_json (call);
  g_assert_cmpstr (json_array_get_string_element (json_object_get_array_member (object, "stun"), 0),
                   ==, stun_uris[0]);
  g_assert_cmpstr (json_array_get_string_element (json_object_get_array_member (object, "turn"), 0),
                   ==, turn_uris[0]);
  assert_turn_credentials (object, "s3cret", 3600);

  /* Each side has credentials of its own. */
  joiner_call = call_run_as (&fixture, &joiner, "GET", "/v1/mailboxes/1/turn", NULL);
  joiner_object = call_json (joiner_call);
  assert_turn_credentials (joiner_object, "s3cret", 3600);
  g_assert_cmpstr (json_object_get_string_member (joiner_object, "username"), !=,
                   json_object_get_string_member (object, "username"));

  public_call = call_run (&fixture, "GET", "/v1/turn", NULL);
  g_assert_cmpuint (call_status (public_call), ==, 200);
  public_object = call_json (public_call);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (public_object, "stun")),
                    ==, 1);
  g_assert_false (json_object_has_member (public_object, "turn"));
  g_assert_false (json_object_has_member (public_object, "username"));
  g_assert_false (json_object_has_member (public_object, "credential"));

  fixture_stop (&fixture);
}

/* Not an open relay: no secret, a wrong one, or a closed mailbox gets no
 * credentials; a side gets --turn-quota sets per --turn-ttl, the other
 * side its own. */
static void
test_turn_needs_a_side (void)
{
  const char *const turn_uris[] = { "turn:192.0.2.1:3478", NULL };
  Fixture fixture = { 0 };
  g_auto (Side) host = { 0 };
  g_auto (Side) joiner = { 0 };
  g_auto (Side) other = { 0 };
  Side stranger = { (char *)"1", (char *)WRONG_SECRET };
  Side elsewhere = { (char *)"1", NULL };
  g_autoptr (Call) anonymous = NULL;
  g_autoptr (Call) wrong = NULL;
  g_autoptr (Call) other_mailbox = NULL;
  g_autoptr (Call) over_quota = NULL;
  g_autoptr (Call) joiner_call = NULL;
  g_autoptr (Call) after_leaving = NULL;
  g_autoptr (Call) left = NULL;
  g_autoptr (Call) public_call = NULL;
  g_autoptr (JsonObject) public_object = NULL;
  g_autofree char *anonymous_body = NULL;
  guint64 retry_after = 0;

  fixture_start (&fixture, "turn-secret", "s3cret", "turn-uris", turn_uris, "turn-ttl", 600,
                 "turn-quota", 2, NULL);
  allocate (&fixture, &host);
  join (&fixture, host.nameplate, &joiner);
  allocate (&fixture, &other);
  elsewhere.secret = other.secret;

  anonymous = call_run (&fixture, "GET", "/v1/mailboxes/1/turn", NULL);
  assert_error (anonymous, 401, "unauthorized");
  g_assert_cmpstr (response_header (anonymous, "WWW-Authenticate"), ==,
                   "Bearer realm=\"pinhole-rendezvous\"");
  anonymous_body
      = g_strndup (g_bytes_get_data (anonymous->body, NULL), g_bytes_get_size (anonymous->body));
  g_assert_null (strstr (anonymous_body, "username"));
  wrong = call_run_as (&fixture, &stranger, "GET", "/v1/mailboxes/1/turn", NULL);
  assert_error (wrong, 401, "unauthorized");
  other_mailbox = call_run_as (&fixture, &elsewhere, "GET", "/v1/mailboxes/1/turn", NULL);
  assert_error (other_mailbox, 401, "unauthorized");

  for (guint i = 0; i < 2; i++)
    {
      g_autoptr (Call) call = call_run_as (&fixture, &host, "GET", "/v1/mailboxes/1/turn", NULL);
      g_autoptr (JsonObject) object = call_json (call);

      g_assert_cmpuint (call_status (call), ==, 200);
      assert_turn_credentials (object, "s3cret", 600);
    }
  over_quota = call_run_as (&fixture, &host, "GET", "/v1/mailboxes/1/turn", NULL);
  assert_error (over_quota, 429, "turn-quota");
  g_assert_true (g_ascii_string_to_unsigned (response_header (over_quota, "Retry-After"), 10, 590,
                                             600, &retry_after, NULL));
  joiner_call = call_run_as (&fixture, &joiner, "GET", "/v1/mailboxes/1/turn", NULL);
  g_assert_cmpuint (call_status (joiner_call), ==, 200);

  /* Once the mailbox is closed, its sides' secrets buy nothing. */
  left = leave (&fixture, &host);
  g_assert_cmpuint (call_status (left), ==, 204);
  g_clear_pointer (&left, call_free);
  left = leave (&fixture, &joiner);
  g_assert_cmpuint (call_status (left), ==, 204);
  after_leaving = call_run_as (&fixture, &joiner, "GET", "/v1/mailboxes/1/turn", NULL);
  assert_error (after_leaving, 404, "unknown-mailbox");

  /* TURN but no STUN: the public list is empty, and names no relay. */
  public_call = call_run (&fixture, "GET", "/v1/turn", NULL);
  public_object = call_json (public_call);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (public_object, "stun")),
                    ==, 0);
  g_assert_false (json_object_has_member (public_object, "credential"));

  fixture_stop (&fixture);
}

static void
test_turn_not_configured (void)
{
  const char *const stun_uris[] = { "stun:192.0.2.1:3478", NULL };
  Fixture fixture = { 0 };
  g_auto (Side) host = { 0 };
  g_autoptr (Call) missing = NULL;
  g_autoptr (Call) missing_for_side = NULL;
  g_autoptr (Call) stun_only = NULL;
  g_autoptr (Call) stun_only_for_side = NULL;
  g_autoptr (JsonObject) object = NULL;
  g_autoptr (JsonObject) side_object = NULL;

  fixture_start (&fixture, NULL);
  allocate (&fixture, &host);
  missing = call_run (&fixture, "GET", "/v1/turn", NULL);
  assert_error (missing, 404, "turn-not-configured");
  missing_for_side = call_run_as (&fixture, &host, "GET", "/v1/mailboxes/1/turn", NULL);
  assert_error (missing_for_side, 404, "turn-not-configured");
  fixture_stop (&fixture);
  side_clear (&host);

  fixture_start (&fixture, "stun-uris", stun_uris, NULL);
  allocate (&fixture, &host);
  stun_only = call_run (&fixture, "GET", "/v1/turn", NULL);
  g_assert_cmpuint (call_status (stun_only), ==, 200);
  object = call_json (stun_only);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (object, "stun")), ==, 1);
  g_assert_false (json_object_has_member (object, "turn"));
  g_assert_false (json_object_has_member (object, "credential"));
  stun_only_for_side = call_run_as (&fixture, &host, "GET", "/v1/mailboxes/1/turn", NULL);
  g_assert_cmpuint (call_status (stun_only_for_side), ==, 200);
  side_object = call_json (stun_only_for_side);
  g_assert_false (json_object_has_member (side_object, "turn"));
  fixture_stop (&fixture);
}

static void
test_metrics (void)
{
  static const char *const names[] = {
    "pinhole_mailboxes_open",
    "pinhole_mailboxes_allocated_total",
    "pinhole_mailboxes_claimed_total",
    "pinhole_messages_total",
    "pinhole_polls_waiting",
    "pinhole_requests_total",
    "pinhole_rate_limited_total",
    "pinhole_errors_total",
    "pinhole_store_info",
    "pinhole_store_seconds",
    "pinhole_store_errors_total",
  };
  Fixture fixture = { 0 };
  g_auto (Side) host = { 0 };
  g_autofree char *metrics = NULL;
  g_autoptr (Call) missing = NULL;
  g_autoptr (Call) anonymous = NULL;
  g_autoptr (Call) call = NULL;
  g_autoptr (GRegex) sample = NULL;
  g_autoptr (GRegex) comment = NULL;
  g_auto (GStrv) lines = NULL;

  fixture_start (&fixture, NULL);
  allocate (&fixture, &host);
  post_ok (&fixture, &host, "x");
  missing = call_run (&fixture, "GET", "/v1/mailboxes/7/messages", NULL);
  anonymous = call_run (&fixture, "GET", "/v1/mailboxes/1/messages", NULL);

  call = call_run (&fixture, "GET", "/metrics", NULL);
  g_assert_cmpuint (call_status (call), ==, 200);
  g_assert_true (g_str_has_prefix (response_header (call, "Content-Type"), "text/plain"));
  metrics = g_strndup (g_bytes_get_data (call->body, NULL), g_bytes_get_size (call->body));

  /* The Prometheus text format, line by line. */
  sample = g_regex_new ("^[a-zA-Z_:][a-zA-Z0-9_:]*"
                        "(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\\\\n]*\""
                        "(,[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\\\\n]*\")*\\})?"
                        " [0-9]+(\\.[0-9]+)?$",
                        0, 0, NULL);
  comment = g_regex_new ("^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* "
                         "(counter|gauge|histogram))$",
                         0, 0, NULL);
  g_assert_true (g_str_has_suffix (metrics, "\n"));
  lines = g_strsplit (metrics, "\n", -1);
  for (guint i = 0; lines[i + 1] != NULL; i++)
    {
      g_test_message ("%s", lines[i]);
      g_assert_true (g_regex_match (sample, lines[i], 0, NULL)
                     || g_regex_match (comment, lines[i], 0, NULL));
    }

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *type_line = g_strdup_printf ("\n# TYPE %s ", names[i]);

      g_assert_nonnull (strstr (metrics, type_line));
    }
  g_assert_nonnull (strstr (metrics, "\npinhole_mailboxes_open 1\n"));
  g_assert_nonnull (strstr (metrics, "\npinhole_mailboxes_allocated_total 1\n"));
  g_assert_nonnull (strstr (metrics, "\npinhole_messages_total 1\n"));
  g_assert_nonnull (strstr (metrics, "\npinhole_requests_total{status=\"201\"} 2\n"));
  g_assert_nonnull (strstr (metrics, "\npinhole_requests_total{status=\"404\"} 1\n"));
  g_assert_nonnull (strstr (metrics, "\npinhole_requests_total{status=\"401\"} 1\n"));
  g_assert_nonnull (strstr (metrics, "\npinhole_errors_total{code=\"unknown-mailbox\"} 1\n"));
  g_assert_nonnull (strstr (metrics, "\npinhole_errors_total{code=\"unauthorized\"} 1\n"));

  /* The store: which one, how long each operation took, none failed. The
   * count of open mailboxes for this scrape is the last operation in. */
  g_assert_nonnull (
      strstr (metrics, "\npinhole_store_info{backend=\"memory\",durable=\"false\"} 1\n"));
  g_assert_nonnull (strstr (
      metrics, "\npinhole_store_seconds_count{backend=\"memory\",operation=\"allocate\"} 1\n"));
  g_assert_nonnull (strstr (
      metrics,
      "\npinhole_store_seconds_bucket{backend=\"memory\",operation=\"allocate\",le=\"+Inf\"} 1\n"));
  g_assert_nonnull (strstr (
      metrics, "\npinhole_store_seconds_count{backend=\"memory\",operation=\"fetch\"} 2\n"));
  g_assert_nonnull (strstr (
      metrics, "\npinhole_store_seconds_count{backend=\"memory\",operation=\"add-message\"} 1\n"));
  g_assert_nonnull (
      strstr (metrics, "\npinhole_store_errors_total{backend=\"memory\",operation=\"fetch\"} 0\n"));

  fixture_stop (&fixture);
}

/* A store that may have missed telling of a change (a shared store's lost
 * connection) says so, and every waiting poll reads again and answers. */
static void
test_changes_lost (void)
{
  Fixture fixture = { 0 };
  g_autoptr (PhMemoryStore) store = g_object_new (PH_TYPE_MEMORY_STORE, NULL);
  g_auto (Side) host = { 0 };
  g_autoptr (Call) poll = NULL;
  g_autoptr (JsonArray) messages = NULL;
  gint64 told;

  fixture_start (&fixture, "store", store, NULL);
  allocate (&fixture, &host);
  poll = call_start (fixture.session, fixture.url, "GET",
                     "/v1/mailboxes/1/messages?after=0&wait=20", NULL, host.secret, NULL);
  wait_for_waiting_polls (&fixture, 1);

  told = g_get_monotonic_time ();
  ph_store_emit_changes_lost (PH_STORE (store));
  wait_for (&poll->done);
  g_assert_cmpint (poll->finished_us - told, <, ph_test_scaled_ms (500) * (gint64)1000);
  messages = messages_of (poll);
  g_assert_cmpuint (json_array_get_length (messages), ==, 0);
  g_assert_cmpuint (ph_rendezvous_server_get_waiting_polls (fixture.server), ==, 0);

  fixture_stop (&fixture);
}

/* A store that cannot be reached: every operation fails in the store
 * itself, as a full disk or a lost connection would. */
#define TEST_TYPE_BROKEN_STORE (test_broken_store_get_type ())
G_DECLARE_FINAL_TYPE (TestBrokenStore, test_broken_store, TEST, BROKEN_STORE, GObject)

struct _TestBrokenStore
{
  GObject parent_instance;
};

static void test_broken_store_store_init (PhStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestBrokenStore, test_broken_store, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PH_TYPE_STORE, test_broken_store_store_init))

static void
test_broken_store_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  if (G_VALUE_HOLDS_UINT64 (value))
    g_value_set_uint64 (value, 1024);
  else
    g_value_set_uint (value, 600);
}

static void
test_broken_store_set_property (GObject *object, guint prop_id, const GValue *value,
                                GParamSpec *pspec)
{
}

static void
test_broken_store_class_init (TestBrokenStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = test_broken_store_get_property;
  object_class->set_property = test_broken_store_set_property;
  g_object_class_override_property (object_class, 1, "max-mailboxes");
  g_object_class_override_property (object_class, 2, "max-messages");
  g_object_class_override_property (object_class, 3, "max-mailbox-bytes");
  g_object_class_override_property (object_class, 4, "lifetime");
}

static void
test_broken_store_init (TestBrokenStore *self)
{
}

static void
test_broken_store_run (PhStore *store, PhStoreRequest *request, GTask *task)
{
  g_task_return_new_error (task, PH_STORE_ERROR, PH_STORE_ERROR_FAILED,
                           "The broken store is broken.");
}

static void
test_broken_store_store_init (PhStoreInterface *iface)
{
  iface->name = "broken";
  iface->run = test_broken_store_run;
}

/* The store failing is the server's trouble, not the client's: 503 with
 * Retry-After to every request about a mailbox, a held poll too, while
 * health and metrics still answer and count the failures. */
static void
test_store_unavailable (void)
{
  Fixture fixture = { 0 };
  g_autoptr (GObject) store = g_object_new (TEST_TYPE_BROKEN_STORE, NULL);
  g_autoptr (Call) allocated = NULL;
  g_autoptr (Call) polled = NULL;
  g_autoptr (Call) health = NULL;
  g_autofree char *metrics = NULL;

  fixture_start (&fixture, "store", store, NULL);
  g_test_expect_message ("ph-server-handlers", G_LOG_LEVEL_WARNING,
                         "The broken store failed: *broken*");
  allocated = call_run (&fixture, "POST", "/v1/mailboxes", NULL);
  g_test_assert_expected_messages ();
  assert_error (allocated, 503, "store-unavailable");
  g_assert_cmpstr (response_header (allocated, "Retry-After"), ==, "1");

  polled = call_run_with (&fixture, WRONG_SECRET, "GET", "/v1/mailboxes/1/messages?wait=20", NULL);
  assert_error (polled, 503, "store-unavailable");
  g_assert_cmpint (polled->finished_us - polled->started_us, <,
                   ph_test_scaled_ms (1000) * (gint64)1000);

  health = call_run (&fixture, "GET", "/v1/health", NULL);
  g_assert_cmpuint (call_status (health), ==, 200);
  metrics = get_metrics (&fixture);
  g_assert_nonnull (
      strstr (metrics, "\npinhole_store_info{backend=\"broken\",durable=\"false\"} 1\n"));
  g_assert_nonnull (strstr (
      metrics, "\npinhole_store_errors_total{backend=\"broken\",operation=\"allocate\"} 1\n"));
  g_assert_nonnull (
      strstr (metrics, "\npinhole_store_errors_total{backend=\"broken\",operation=\"fetch\"} 1\n"));
  g_assert_nonnull (strstr (metrics, "\npinhole_errors_total{code=\"store-unavailable\"} 2\n"));
  g_assert_null (strstr (metrics, "\npinhole_mailboxes_open "));

  fixture_stop (&fixture);
}

static void
test_health (void)
{
  Fixture fixture = { 0 };
  g_autoptr (Call) call = NULL;
  g_autoptr (JsonObject) object = NULL;

  fixture_start (&fixture, NULL);
  call = call_run (&fixture, "GET", "/v1/health", NULL);
  g_assert_cmpuint (call_status (call), ==, 200);
  g_assert_cmpstr (response_header (call, "Cache-Control"), ==, "no-store");
  object = call_json (call);
  g_assert_cmpstr (json_object_get_string_member (object, "status"), ==, "ok");
  g_assert_cmpstr (json_object_get_string_member (object, "version"), ==, PACKAGE_VERSION);
  fixture_stop (&fixture);
}

typedef struct
{
  GString *in;
  gboolean closed;
} RawReply;

static gboolean
raw_readable_cb (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  RawReply *reply = user_data;
  char buffer[4096];
  gssize received = g_socket_receive (socket, buffer, sizeof buffer, NULL, NULL);

  if (received > 0)
    g_string_append_len (reply->in, buffer, received);
  else if (received == 0)
    reply->closed = TRUE;
  return G_SOURCE_CONTINUE;
}

/* The length of the first whole response in @in, or 0. */
static gsize
raw_response_length (GString *in)
{
  const char *end = strstr (in->str, "\r\n\r\n");
  const char *length;
  gsize header_length;
  gsize body_length = 0;

  if (end == NULL)
    return 0;
  header_length = (gsize)(end - in->str) + 4;
  length = g_strstr_len (in->str, (gssize)header_length, "\r\nContent-Length: ");
  if (length != NULL)
    body_length = g_ascii_strtoull (length + strlen ("\r\nContent-Length: "), NULL, 10);
  return in->len >= header_length + body_length ? header_length + body_length : 0;
}

/* Returns the one response the server sends next on @socket, as text;
 * fails the test if the server closes the connection first. */
static gboolean
raw_has_response_or_closed (gpointer data)
{
  RawReply *reply = data;

  return raw_response_length (reply->in) > 0 || reply->closed;
}

static char *
raw_read_response (GSocket *socket)
{
  g_autoptr (GSource) source = g_socket_create_source (socket, G_IO_IN, NULL);
  RawReply reply = { g_string_new (NULL), FALSE };
  gboolean answered;

  g_source_set_callback (source, G_SOURCE_FUNC (raw_readable_cb), &reply, NULL);
  g_source_attach (source, NULL);
  answered = ph_test_wait_until (raw_has_response_or_closed, &reply, DEADLINE_MS);
  g_source_destroy (source);

  g_assert_true (answered);
  g_assert_false (reply.closed);
  g_assert_cmpuint (raw_response_length (reply.in), ==, reply.in->len);
  return g_string_free (reply.in, FALSE);
}

/* Sends @request on @socket and returns the one response to it. */
static char *
raw_exchange (GSocket *socket, const char *request)
{
  g_autoptr (GError) error = NULL;

  /* A few hundred bytes: the socket buffer takes them at once. */
  g_assert_cmpint (g_socket_send (socket, request, strlen (request), NULL, &error), ==,
                   (gssize)strlen (request));
  g_assert_no_error (error);
  return raw_read_response (socket);
}

/* A request without a body, as @secret's side (or no one's, NULL). */
static char *
raw_request (const char *method, const char *path, const char *secret)
{
  return g_strdup_printf ("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%s\r\n", method, path,
                          secret != NULL ? "Authorization: Bearer " : "",
                          secret != NULL ? secret : "", secret != NULL ? "\r\n" : "");
}

/* A leave is answered 204 on a connection that stays open, so a client
 * does not have to connect again for its next request. (libsoup's own
 * client, unlike the server, closes its side after any 204.) */
/* A joiner's first message may go with its join: posted as side 2 once
 * it is seated, and not again when the join is repeated (its answer
 * lost). One that is malformed takes no seat. */
static void
test_join_and_post (void)
{
  Fixture fixture = { 0 };
  g_auto (Side) host = { 0 };
  g_auto (Side) joiner = { 0 };
  g_auto (Side) again = { 0 };
  g_autofree char *path = NULL;
  g_autofree char *hello = message_json ("pake", "hello");
  g_autofree char *text = NULL;
  g_autoptr (Call) refused = NULL;
  g_autoptr (Call) first = NULL;
  g_autoptr (Call) repeated = NULL;
  g_autoptr (Call) fetched = NULL;
  g_autoptr (JsonObject) first_answer = NULL;
  g_autoptr (JsonObject) repeated_answer = NULL;
  g_autoptr (JsonArray) messages = NULL;

  fixture_start (&fixture, NULL);
  allocate (&fixture, &host);
  path = g_strdup_printf ("/v1/mailboxes/%s/join?post=1", host.nameplate);
  refused = call_run_keyed (&fixture, "POST", path, "key-one",
                            "{\"phase\":\"nonsense\",\"body\":\"\"}");
  g_assert_cmpuint (call_status (refused), ==, 400);

  first = call_run_keyed (&fixture, "POST", path, "key-two", hello);
  read_seat (first, 201, JOINER, &joiner);
  first_answer = call_json (first);
  g_assert_cmpint (json_object_get_int_member (first_answer, "index"), ==, 1);
  repeated = call_run_keyed (&fixture, "POST", path, "key-two", hello);
  read_seat (repeated, 200, JOINER, &again);
  repeated_answer = call_json (repeated);
  g_assert_false (json_object_has_member (repeated_answer, "index"));

  fetched = fetch (&fixture, &host, "?after=0");
  messages = messages_of (fetched);
  g_assert_cmpuint (json_array_get_length (messages), ==, 1);
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (messages, 0), "side"),
                   ==, JOINER);
  text = message_text (messages, 0);
  g_assert_cmpstr (text, ==, "hello");
  fixture_stop (&fixture);
}

static void
test_leave_keeps_connection (void)
{
  Fixture fixture = { 0 };
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = NULL;
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (Side) host = { 0 };
  g_auto (Side) joiner = { 0 };
  g_autofree char *host_leaves = NULL;
  g_autofree char *joiner_leaves = NULL;
  g_autofree char *fetch_gone = NULL;
  g_autofree char *left = NULL;
  g_autofree char *next = NULL;
  g_autofree char *gone = NULL;

  fixture_start (&fixture, NULL);
  allocate (&fixture, &host);
  join (&fixture, host.nameplate, &joiner);
  post_ok (&fixture, &host, "a");
  post_ok (&fixture, &joiner, "b");

  address = g_inet_socket_address_new (loopback, ph_rendezvous_server_get_port (fixture.server));
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  /* On loopback the kernel completes the handshake before the server accepts. */
  g_assert_true (g_socket_connect (socket, address, NULL, &error));
  g_assert_no_error (error);
  g_socket_set_blocking (socket, FALSE);

  host_leaves = raw_request ("DELETE", "/v1/mailboxes/1", host.secret);
  left = raw_exchange (socket, host_leaves);
  g_assert_true (g_str_has_prefix (left, "HTTP/1.1 204 "));
  g_assert_null (strstr (left, "\r\nConnection:"));
  joiner_leaves = raw_request ("DELETE", "/v1/mailboxes/1", joiner.secret);
  next = raw_exchange (socket, joiner_leaves);
  g_assert_true (g_str_has_prefix (next, "HTTP/1.1 204 "));
  fetch_gone = raw_request ("GET", "/v1/mailboxes/1/messages", host.secret);
  gone = raw_exchange (socket, fetch_gone);
  g_assert_true (g_str_has_prefix (gone, "HTTP/1.1 404 "));

  g_socket_close (socket, NULL);
  fixture_stop (&fixture);
}

/* --- held polls on connections taken from libsoup --- */

static GSocket *
raw_connect (Fixture *fixture)
{
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address
      = g_inet_socket_address_new (loopback, ph_rendezvous_server_get_port (fixture->server));
  g_autoptr (GError) error = NULL;
  GSocket *socket
      = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);

  g_assert_no_error (error);
  g_assert_true (g_socket_connect (socket, address, NULL, &error));
  g_assert_no_error (error);
  g_socket_set_blocking (socket, FALSE);
  return socket;
}

static void
raw_send (GSocket *socket, const char *request)
{
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (g_socket_send (socket, request, strlen (request), NULL, &error), ==,
                   (gssize)strlen (request));
  g_assert_no_error (error);
}

/* Everything the server sends on @socket until it closes the connection. */
static char *
raw_read_until_closed (GSocket *socket)
{
  g_autoptr (GSource) source = g_socket_create_source (socket, G_IO_IN, NULL);
  RawReply reply = { g_string_new (NULL), FALSE };
  gboolean closed;

  g_source_set_callback (source, G_SOURCE_FUNC (raw_readable_cb), &reply, NULL);
  g_source_attach (source, NULL);
  closed = ph_test_wait_for_flag (&reply.closed, DEADLINE_MS);
  g_source_destroy (source);

  g_assert_true (closed);
  return g_string_free (reply.in, FALSE);
}

/* The status line and headers of @response, less Date and Connection,
 * which may differ between two answers to the same request; and its body,
 * which must be as long as its Content-Length says. */
static GStrv
response_parts (const char *response, char **out_body)
{
  const char *end = strstr (response, "\r\n\r\n");
  g_autofree char *head = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GStrvBuilder) kept = g_strv_builder_new ();
  guint64 length = 0;

  g_assert_nonnull (end);
  head = g_strndup (response, (gsize)(end - response));
  lines = g_strsplit (head, "\r\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "Content-Length: "))
        length = g_ascii_strtoull (lines[i] + strlen ("Content-Length: "), NULL, 10);
      if (!g_str_has_prefix (lines[i], "Date: ") && !g_str_has_prefix (lines[i], "Connection: "))
        g_strv_builder_add (kept, lines[i]);
    }
  *out_body = g_strdup (end + 4);
  g_assert_cmpuint (strlen (*out_body), ==, length);
  return g_strv_builder_end (kept);
}

/* Asserts that @held, a held poll's answer, is what the server answers at
 * once to the same request on a kept-alive connection, apart from saying
 * Connection: close (and the Date). */
static void
assert_same_answer (Fixture *fixture, const char *held, const char *request)
{
  g_autoptr (GSocket) socket = raw_connect (fixture);
  g_autofree char *now = raw_exchange (socket, request);
  g_autofree char *held_body = NULL;
  g_autofree char *now_body = NULL;
  g_auto (GStrv) held_head = response_parts (held, &held_body);
  g_auto (GStrv) now_head = response_parts (now, &now_body);

  g_assert_nonnull (strstr (held, "\r\nConnection: close\r\n"));
  g_assert_nonnull (strstr (held, "\r\nDate: "));
  g_assert_null (strstr (now, "\r\nConnection: "));
  g_assert_cmpstrv (held_head, now_head);
  g_assert_cmpstr (held_body, ==, now_body);
  g_socket_close (socket, NULL);
}

/* A held poll that took its connection (here at once), answered by a
 * post, and one whose hold ends, get the answer they always got, on a
 * connection the server then closes. */
static void
test_held_poll_answers (void)
{
  Fixture fixture = { 0 };
  g_autoptr (GSocket) woken = NULL;
  g_autoptr (GSocket) timed_out = NULL;
  g_auto (Side) host = { 0 };
  g_autofree char *woken_answer = NULL;
  g_autofree char *timed_out_answer = NULL;
  g_autofree char *metrics = NULL;
  g_autofree char *first_poll = NULL;
  g_autofree char *first_at_once = NULL;
  g_autofree char *next_poll = NULL;
  g_autofree char *next_at_once = NULL;

  fixture_start (&fixture, "max-hold", 1, "take-after-ms", 0, NULL);
  allocate (&fixture, &host);
  first_poll = raw_request ("GET", "/v1/mailboxes/1/messages?after=0&wait=30", host.secret);
  first_at_once = raw_request ("GET", "/v1/mailboxes/1/messages?after=0", host.secret);
  next_poll = raw_request ("GET", "/v1/mailboxes/1/messages?after=1&wait=30", host.secret);
  next_at_once = raw_request ("GET", "/v1/mailboxes/1/messages?after=1", host.secret);

  woken = raw_connect (&fixture);
  raw_send (woken, first_poll);
  wait_for_waiting_polls (&fixture, 1);
  post_ok (&fixture, &host, "hello");
  woken_answer = raw_read_until_closed (woken);
  g_assert_true (g_str_has_prefix (woken_answer, "HTTP/1.1 200 OK\r\n"));
  assert_same_answer (&fixture, woken_answer, first_at_once);

  timed_out = raw_connect (&fixture);
  raw_send (timed_out, next_poll);
  wait_for_waiting_polls (&fixture, 1);
  timed_out_answer = raw_read_until_closed (timed_out);
  g_assert_true (g_str_has_suffix (timed_out_answer, "\r\n\r\n{\"messages\":[]}"));
  assert_same_answer (&fixture, timed_out_answer, next_at_once);

  /* Counted as libsoup counts the requests it answers; the clients are
   * forgotten with their connections. */
  metrics = get_metrics (&fixture);
  g_assert_nonnull (strstr (metrics, "\npinhole_polls_waiting 0\n"));
  g_assert_nonnull (strstr (metrics, "\npinhole_requests_total{status=\"200\"} 4\n"));
  g_assert_nonnull (strstr (metrics, "\npinhole_requests_total{status=\"aborted\"} 0\n"));

  g_socket_close (woken, NULL);
  g_socket_close (timed_out, NULL);
  fixture_stop (&fixture);
}

/* A poll answered moments after it began to wait (a chat being set up)
 * keeps its connection, so the client's next request needs no new one. */
static void
test_held_poll_keeps_connection (void)
{
  Fixture fixture = { 0 };
  g_autoptr (GSocket) socket = NULL;
  g_auto (Side) host = { 0 };
  g_autofree char *poll = NULL;
  g_autofree char *answer = NULL;
  g_autofree char *next_poll = NULL;
  g_autofree char *next = NULL;

  fixture_start (&fixture, NULL);
  allocate (&fixture, &host);
  poll = raw_request ("GET", "/v1/mailboxes/1/messages?after=0&wait=30", host.secret);
  next_poll = raw_request ("GET", "/v1/mailboxes/1/messages?after=1", host.secret);

  socket = raw_connect (&fixture);
  raw_send (socket, poll);
  wait_for_waiting_polls (&fixture, 1);
  post_ok (&fixture, &host, "hello");
  answer = raw_read_response (socket);
  g_assert_true (g_str_has_prefix (answer, "HTTP/1.1 200 OK\r\n"));
  g_assert_nonnull (strstr (answer, "\"phase\":\"pake\""));
  g_assert_null (strstr (answer, "\r\nConnection: close\r\n"));
  next = raw_exchange (socket, next_poll);
  g_assert_true (g_str_has_prefix (next, "HTTP/1.1 200 OK\r\n"));

  g_socket_close (socket, NULL);
  fixture_stop (&fixture);
}

/* A client that hangs up while its poll is held is forgotten at once. */
static void
test_held_poll_hang_up (void)
{
  Fixture fixture = { 0 };
  g_auto (Side) host = { 0 };
  g_autofree char *metrics = NULL;
  g_autofree char *poll = NULL;
  GSocket *sockets[3];

  fixture_start (&fixture, NULL);
  allocate (&fixture, &host);
  poll = raw_request ("GET", "/v1/mailboxes/1/messages?after=0&wait=30", host.secret);

  for (guint i = 0; i < G_N_ELEMENTS (sockets); i++)
    {
      sockets[i] = raw_connect (&fixture);
      raw_send (sockets[i], poll);
      wait_for_waiting_polls (&fixture, i + 1);
    }

  g_socket_close (sockets[1], NULL);
  wait_for_waiting_polls (&fixture, 2);
  g_socket_close (sockets[0], NULL);
  g_socket_close (sockets[2], NULL);
  wait_for_waiting_polls (&fixture, 0);

  metrics = get_metrics (&fixture);
  g_assert_nonnull (strstr (metrics, "\npinhole_requests_total{status=\"aborted\"} 3\n"));
  /* The metrics request's own connection, and the allocation's. */
  g_assert_null (strstr (metrics, "\npinhole_connections_open 3"));
  g_assert_null (strstr (metrics, "\npinhole_connections_open 4"));
  g_assert_null (strstr (metrics, "\npinhole_connections_open 5"));

  /* The mailbox is still there: a post finds no poll to answer. */
  g_assert_cmpuint (post_ok (&fixture, &host, "late"), ==, 1);

  for (guint i = 0; i < G_N_ELEMENTS (sockets); i++)
    g_object_unref (sockets[i]);
  fixture_stop (&fixture);
}

#define MANY_POLLS 40

/* Every poll held on one mailbox is answered by its message, and all of
 * them by a 404 when it closes. */
static void
test_many_held_polls (void)
{
  Fixture fixture = { 0 };
  g_autoptr (SoupSession) pollers = soup_session_new_with_options (
      "max-conns", MANY_POLLS, "max-conns-per-host", MANY_POLLS, "timeout", 0, NULL);
  g_autoptr (GPtrArray) woken = g_ptr_array_new_with_free_func ((GDestroyNotify)call_free);
  g_autoptr (GPtrArray) closed = g_ptr_array_new_with_free_func ((GDestroyNotify)call_free);
  g_auto (Side) host = { 0 };
  g_auto (Side) joiner = { 0 };
  g_autofree char *metrics = NULL;
  g_autoptr (Call) left_a = NULL;
  g_autoptr (Call) left_b = NULL;
  g_autoptr (PhRateLimiter) limiter
      = g_object_new (PH_TYPE_RATE_LIMITER, "rate", 1000, "burst", 1000, NULL);

  /* Each takes its connection at once, and answers on it. */
  fixture_start (&fixture, "limiter", limiter, "take-after-ms", 0, NULL);
  allocate (&fixture, &host);

  for (guint i = 0; i < MANY_POLLS; i++)
    g_ptr_array_add (woken, call_start (pollers, fixture.url, "GET",
                                        "/v1/mailboxes/1/messages?after=0&wait=30", NULL,
                                        host.secret, NULL));
  wait_for_waiting_polls (&fixture, MANY_POLLS);
  post_ok (&fixture, &host, "for all");
  for (guint i = 0; i < MANY_POLLS; i++)
    {
      Call *call = g_ptr_array_index (woken, i);
      g_autoptr (JsonArray) messages = NULL;
      g_autofree char *text = NULL;

      wait_for (&call->done);
      g_assert_no_error (call->error);
      messages = messages_of (call);
      g_assert_cmpuint (json_array_get_length (messages), ==, 1);
      text = message_text (messages, 0);
      g_assert_cmpstr (text, ==, "for all");
      g_assert_cmpstr (response_header (call, "Connection"), ==, "close");
      g_assert_cmpstr (response_header (call, "Cache-Control"), ==, "no-store");
    }

  join (&fixture, host.nameplate, &joiner);
  post_ok (&fixture, &joiner, "joined");
  for (guint i = 0; i < MANY_POLLS; i++)
    g_ptr_array_add (closed, call_start (pollers, fixture.url, "GET",
                                         "/v1/mailboxes/1/messages?after=2&wait=30", NULL,
                                         joiner.secret, NULL));
  wait_for_waiting_polls (&fixture, MANY_POLLS);
  left_a = leave (&fixture, &host);
  left_b = leave (&fixture, &joiner);
  g_assert_cmpuint (call_status (left_b), ==, 204);
  for (guint i = 0; i < MANY_POLLS; i++)
    {
      Call *call = g_ptr_array_index (closed, i);

      wait_for (&call->done);
      g_assert_no_error (call->error);
      assert_error (call, 404, "unknown-mailbox");
    }

  metrics = get_metrics (&fixture);
  g_assert_nonnull (strstr (metrics, "\npinhole_polls_waiting 0\n"));
  g_assert_nonnull (strstr (metrics, "\npinhole_errors_total{code=\"unknown-mailbox\"} 40\n"));

  fixture_stop (&fixture);
}

/* An answer larger than the socket takes at once is written as the client
 * reads it. */
static void
test_large_held_answer (void)
{
  Fixture fixture = { 0 };
  g_autoptr (SoupSession) other = soup_session_new ();
  g_auto (Side) host = { 0 };
  g_auto (Side) joiner = { 0 };
  g_autofree char *large = g_strnfill (6 * 1024 * 1024, 'x');
  g_autofree char *body = message_json ("desc", large);
  g_autoptr (Call) poll = NULL;
  g_autoptr (Call) posted = NULL;
  g_autoptr (JsonArray) messages = NULL;
  g_autofree char *text = NULL;
  g_autoptr (PhMemoryStore) store
      = g_object_new (PH_TYPE_MEMORY_STORE, "max-mailbox-bytes", (guint64)64 * 1024 * 1024, NULL);

  fixture_start (&fixture, "max-body-bytes", 16 * 1024 * 1024, "store", store, NULL);
  allocate (&fixture, &host);
  join (&fixture, host.nameplate, &joiner);

  poll = call_start (fixture.session, fixture.url, "GET",
                     "/v1/mailboxes/1/messages?after=0&wait=30", NULL, host.secret, NULL);
  wait_for_waiting_polls (&fixture, 1);
  posted = call_start (other, fixture.url, "POST", "/v1/mailboxes/1/messages", body, joiner.secret,
                       NULL);
  wait_for (&posted->done);
  g_assert_cmpuint (call_status (posted), ==, 201);
  wait_for (&poll->done);
  g_assert_no_error (poll->error);

  messages = messages_of (poll);
  g_assert_cmpuint (json_array_get_length (messages), ==, 1);
  text = message_text (messages, 0);
  g_assert_true (strcmp (text, large) == 0);

  fixture_stop (&fixture);
}

static gboolean
accept_any_certificate_cb (SoupMessage *msg, GTlsCertificate *certificate,
                           GTlsCertificateFlags errors, gpointer user_data)
{
  return TRUE;
}

static Call *
tls_call_start (SoupSession *session, const char *base_url, const char *method, const char *path,
                const char *body, const char *secret)
{
  g_autofree char *url = g_strconcat (base_url, path, NULL);
  Call *call = g_new0 (Call, 1);

  call->msg = soup_message_new (method, url);
  set_secret (call->msg, secret);
  g_signal_connect (call->msg, "accept-certificate", G_CALLBACK (accept_any_certificate_cb), NULL);
  if (body != NULL)
    {
      g_autoptr (GBytes) bytes = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (call->msg, "application/json", bytes);
    }
  call->started_us = g_get_monotonic_time ();
  soup_session_send_and_read_async (session, call->msg, G_PRIORITY_DEFAULT, NULL, call_done_cb,
                                    call);
  return call;
}

/* On a TLS server a held poll stays a libsoup message, and is answered on
 * a connection that stays open. */
static void
test_tls_held_poll (void)
{
  Fixture fixture = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GTlsCertificate) certificate = ph_certificate_generate ("localhost", &error);
  g_autofree char *body = message_json ("pake", "over tls");
  g_auto (Side) host = { 0 };
  g_autoptr (Call) allocated = NULL;
  g_autoptr (Call) poll = NULL;
  g_autoptr (Call) posted = NULL;
  g_autoptr (JsonArray) messages = NULL;
  g_autofree char *text = NULL;

  g_assert_no_error (error);
  fixture_start (&fixture, "tls-certificate", certificate, NULL);
  g_assert_true (g_str_has_prefix (fixture.url, "https://"));

  allocated = tls_call_start (fixture.session, fixture.url, "POST", "/v1/mailboxes", NULL, NULL);
  wait_for (&allocated->done);
  g_assert_no_error (allocated->error);
  read_seat (allocated, 201, HOST, &host);

  poll = tls_call_start (fixture.session, fixture.url, "GET",
                         "/v1/mailboxes/1/messages?after=0&wait=30", NULL, host.secret);
  wait_for_waiting_polls (&fixture, 1);
  posted = tls_call_start (fixture.session, fixture.url, "POST", "/v1/mailboxes/1/messages", body,
                           host.secret);
  wait_for (&posted->done);
  g_assert_cmpuint (call_status (posted), ==, 201);
  wait_for (&poll->done);
  g_assert_no_error (poll->error);

  messages = messages_of (poll);
  text = message_text (messages, 0);
  g_assert_cmpstr (text, ==, "over tls");
  g_assert_null (response_header (poll, "Connection"));
  g_assert_cmpuint (ph_rendezvous_server_get_waiting_polls (fixture.server), ==, 0);

  fixture_stop (&fixture);
}

/* Where a waiting poll may not take its connection from libsoup (another
 * libsoup than ph-taken-connection.c was checked against), it stays a
 * paused libsoup message, and long-polls work as before: woken by a post,
 * answered when the hold ends or the mailbox closes, forgotten when the
 * client hangs up; libsoup writes the answers and keeps the connection. */
static void
test_paused_held_polls (void)
{
  Fixture fixture = { 0 };
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GSocket) gone = NULL;
  g_autoptr (Call) left = NULL;
  g_auto (Side) host = { 0 };
  g_autofree char *first_poll = NULL;
  g_autofree char *next_poll = NULL;
  g_autofree char *woken = NULL;
  g_autofree char *woken_body = NULL;
  g_autofree char *timed_out = NULL;
  g_autofree char *closed = NULL;
  g_autofree char *metrics = NULL;
  g_auto (GStrv) woken_head = NULL;
  gint64 started;
  gboolean take = TRUE;

  fixture_start (&fixture, "take-connections", FALSE, "max-hold", 1, NULL);
  g_object_get (fixture.server, "take-connections", &take, NULL);
  g_assert_false (take);
  allocate (&fixture, &host);
  first_poll = raw_request ("GET", "/v1/mailboxes/1/messages?after=0&wait=30", host.secret);
  next_poll = raw_request ("GET", "/v1/mailboxes/1/messages?after=1&wait=30", host.secret);

  socket = raw_connect (&fixture);
  raw_send (socket, first_poll);
  wait_for_waiting_polls (&fixture, 1);
  post_ok (&fixture, &host, "hello");
  woken = raw_read_response (socket);
  g_assert_true (g_str_has_prefix (woken, "HTTP/1.1 200 OK\r\n"));
  g_assert_null (strstr (woken, "\r\nConnection: close\r\n"));
  woken_head = response_parts (woken, &woken_body);
  g_assert_true (g_str_has_prefix (woken_body, "{\"messages\":[{\"index\":1,\"side\":1,"));

  /* The same connection carries the next poll, answered when its hold ends. */
  started = g_get_monotonic_time ();
  timed_out = raw_exchange (socket, next_poll);
  g_assert_true (g_str_has_suffix (timed_out, "\r\n\r\n{\"messages\":[]}"));
  g_assert_cmpint (g_get_monotonic_time () - started, >=, 950 * 1000);

  /* A client that hangs up mid-poll is forgotten at once. */
  gone = raw_connect (&fixture);
  raw_send (gone, next_poll);
  wait_for_waiting_polls (&fixture, 1);
  g_socket_close (gone, NULL);
  wait_for_waiting_polls (&fixture, 0);

  /* A poll on a mailbox that closes is told so. */
  raw_send (socket, next_poll);
  wait_for_waiting_polls (&fixture, 1);
  left = leave (&fixture, &host);
  g_assert_cmpuint (call_status (left), ==, 204);
  closed = raw_read_response (socket);
  g_assert_true (g_str_has_prefix (closed, "HTTP/1.1 404 "));
  g_assert_nonnull (strstr (closed, "\"error\":\"unknown-mailbox\""));

  metrics = get_metrics (&fixture);
  g_assert_nonnull (strstr (metrics, "\npinhole_polls_waiting 0\n"));
  g_assert_nonnull (strstr (metrics, "\npinhole_requests_total{status=\"aborted\"} 1\n"));

  g_socket_close (socket, NULL);
  fixture_stop (&fixture);
}

/* --- the pinhole-rendezvous program --- */

static void
test_program (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *port_file = NULL;
  g_autofree char *port_text = NULL;
  g_autofree char *line = NULL;
  g_autofree char *expected_line = NULL;
  g_autofree char *url = NULL;
  g_autoptr (PhTestProcess) process = NULL;
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autoptr (Call) health = NULL;
  g_autoptr (GError) error = NULL;
  const char *argv[] = { g_getenv ("PINHOLE_RENDEZVOUS_BIN"),
                         "--port",
                         "0",
                         "--data-dir",
                         NULL,
                         "--port-file",
                         NULL,
                         NULL };

  if (argv[0] == NULL)
    {
      g_test_skip ("PINHOLE_RENDEZVOUS_BIN is not set");
      return;
    }

  dir = g_dir_make_tmp ("pinhole-rendezvous-XXXXXX", &error);
  g_assert_no_error (error);
  port_file = g_build_filename (dir, "port", NULL);
  argv[4] = dir;
  argv[6] = port_file;

  process = ph_test_process_spawn (argv, NULL);
  line = ph_test_process_read_line (process, DEADLINE_MS);
  g_assert_nonnull (line);

  g_assert_true (g_file_get_contents (port_file, &port_text, NULL, &error));
  g_strchomp (port_text);
  url = g_strdup_printf ("http://127.0.0.1:%s", port_text);
  expected_line = g_strdup_printf ("pinhole-rendezvous listening on %s", url);
  g_assert_cmpstr (line, ==, expected_line);

  health = call_start (session, url, "GET", "/v1/health", NULL, NULL, NULL);
  wait_for (&health->done);
  g_assert_no_error (health->error);
  g_assert_cmpuint (call_status (health), ==, 200);

  g_assert_cmpint (ph_test_process_stop (process), ==, 0);

  ph_test_remove_tree (dir);
}

static void
test_program_usage (void)
{
  const char *binary = g_getenv ("PINHOLE_RENDEZVOUS_BIN");
  const char *bad[][3] = {
    { "--port", "70000", NULL },
    { "--listen", "example.org", NULL },
    { "--tls-cert", "/nonexistent", NULL },
    { "--turn-secret", "s3cret", NULL },
    { "--max-hold", "0", NULL },
    /* TURN credentials cannot be taken back: an hour at most. */
    { "--turn-ttl", "3601", NULL },
    { "--rate", "abc", NULL },
    { "extra", NULL, NULL },
  };

  if (binary == NULL)
    {
      g_test_skip ("PINHOLE_RENDEZVOUS_BIN is not set");
      return;
    }

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GSubprocess) process = NULL;
      g_autoptr (GError) error = NULL;
      g_autofree char *err = NULL;

      process
          = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                              &error, binary, bad[i][0], bad[i][1], NULL);
      g_assert_no_error (error);
      g_assert_true (g_subprocess_communicate_utf8 (process, NULL, NULL, NULL, &err, &error));
      g_assert_no_error (error);
      g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 2);
      g_assert_true (g_str_has_prefix (err, "pinhole-rendezvous: "));
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/rate-limiter", test_rate_limiter);
  g_test_add_func ("/server/post-reader", test_post_reader);
  g_test_add_func ("/server/turn-credentials/vector", test_turn_credentials_vector);
  g_test_add_func ("/server/http/allocate-lowest-free", test_allocate_lowest_free);
  g_test_add_func ("/server/http/post-and-fetch-order", test_post_and_fetch_order);
  g_test_add_func ("/server/http/join-and-post", test_join_and_post);
  g_test_add_func ("/server/http/long-poll-wakes", test_long_poll_wakes);
  g_test_add_func ("/server/http/hold-timeout", test_hold_timeout);
  g_test_add_func ("/server/http/holds-in-order", test_holds_in_order);
  g_test_add_func ("/server/http/third-side", test_third_side);
  g_test_add_func ("/server/http/too-large", test_too_large);
  g_test_add_func ("/server/http/rate-limited", test_rate_limited);
  g_test_add_func ("/server/http/server-full", test_server_full);
  g_test_add_func ("/server/http/too-many-polls", test_too_many_polls);
  g_test_add_func ("/server/http/expiry", test_expiry);
  g_test_add_func ("/server/http/malformed", test_malformed);
  g_test_add_func ("/server/http/deep-json", test_deep_json);
  g_test_add_func ("/server/http/claim-and-tags", test_claim_and_tags);
  g_test_add_func ("/server/http/vanished-poller", test_vanished_poller);
  g_test_add_func ("/server/http/turn", test_turn);
  g_test_add_func ("/server/http/turn-needs-a-side", test_turn_needs_a_side);
  g_test_add_func ("/server/http/turn-not-configured", test_turn_not_configured);
  g_test_add_func ("/server/http/metrics", test_metrics);
  g_test_add_func ("/server/http/health", test_health);
  g_test_add_func ("/server/http/store-unavailable", test_store_unavailable);
  g_test_add_func ("/server/http/changes-lost", test_changes_lost);
  g_test_add_func ("/server/http/leave-keeps-connection", test_leave_keeps_connection);
  g_test_add_func ("/server/http/held-poll-answers", test_held_poll_answers);
  g_test_add_func ("/server/http/held-poll-keeps-connection", test_held_poll_keeps_connection);
  g_test_add_func ("/server/http/held-poll-hang-up", test_held_poll_hang_up);
  g_test_add_func ("/server/http/many-held-polls", test_many_held_polls);
  g_test_add_func ("/server/http/large-held-answer", test_large_held_answer);
  g_test_add_func ("/server/http/tls-held-poll", test_tls_held_poll);
  g_test_add_func ("/server/http/paused-held-polls", test_paused_held_polls);
  g_test_add_func ("/server/program/listen-and-stop", test_program);
  g_test_add_func ("/server/program/usage-errors", test_program_usage);

  return g_test_run ();
}
