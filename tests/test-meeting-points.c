/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-meeting-points"

#include "config.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>

#include "ph-error.h"
#include "ph-meeting-point.h"
#include "ph-rendezvous-client.h"
#include "ph-test-files.h"
#include "ph-test-programs.h"
#include "ph-test-wait.h"

/* Meeting points and stored copies against a real pinhole-rendezvous:
 * what two contacts who are not online together rely on (a wait at all
 * their points wakes for the one that changes; a copy left for one who is
 * offline is there when they come, across a crash of the server, and
 * gone when its time is up or it is acknowledged), and what someone who
 * knows a point's id but not its key cannot do. */

#define TIMEOUT_MS ph_test_scaled_ms (20000)

#define KEY_1 "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define KEY_2 "2222222222222222222222222222222222222222222222222222222222222222"
#define KEY_3 "3333333333333333333333333333333333333333333333333333333333333333"
#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"

typedef struct
{
  PhTestProcess *server;
  char *url;
  char *dir;
  PhRendezvousClient *client;
  SoupSession *session;
} Fixture;

static void
start_server (Fixture *fixture, const char *const *args)
{
  g_autoptr (GError) error = NULL;

  fixture->server = ph_test_start_rendezvous (args, &fixture->url);
  fixture->client = ph_rendezvous_client_new (fixture->url, &error);
  g_assert_no_error (error);
}

static void
stop_server (Fixture *fixture, int signum)
{
  if (signum == SIGTERM)
    g_assert_cmpint (ph_test_process_stop (fixture->server), ==, 0);
  else
    {
      ph_test_process_kill (fixture->server, signum);
      g_assert_cmpint (ph_test_process_wait_exit (fixture->server, TIMEOUT_MS), ==, 128 + signum);
    }
  g_clear_pointer (&fixture->server, ph_test_process_free);
  g_clear_pointer (&fixture->url, g_free);
  g_assert_finalize_object (g_steal_pointer (&fixture->client));
}

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture->dir = g_dir_make_tmp ("test-meeting-points-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->session = soup_session_new ();
  start_server (fixture, data);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  stop_server (fixture, SIGTERM);
  g_clear_object (&fixture->session);
  ph_test_remove_tree (fixture->dir);
  g_free (fixture->dir);
}

static char *
id_of (const char *key)
{
  char *id = g_malloc (PH_MEETING_POINT_ID_LENGTH + 1);

  g_assert_true (ph_meeting_point_id_from_key (key, id));
  return id;
}

/* --- through the client, as contacts use it --- */

static void
meet_post (Fixture *fixture, const char *key, const char *side, const char *phase, const char *text,
           guint64 *out_index)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GBytes) body = g_bytes_new (text, strlen (text));
  g_autoptr (GError) error = NULL;

  ph_rendezvous_client_meet_post_async (fixture->client, key, side, phase, body, NULL,
                                        ph_test_result_cb, &result);
  g_assert_true (ph_rendezvous_client_meet_post_finish (
      fixture->client, ph_test_wait_for_result (&result, TIMEOUT_MS), out_index, &error));
  g_assert_no_error (error);
}

static guint64
store_copy (Fixture *fixture, const char *key, const char *side, const char *text, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GBytes) body = g_bytes_new (text, strlen (text));
  guint64 index = 0;
  guint expires_in = 0;

  ph_rendezvous_client_store_copy_async (fixture->client, key, side, body, NULL, ph_test_result_cb,
                                         &result);
  if (!ph_rendezvous_client_store_copy_finish (fixture->client,
                                               ph_test_wait_for_result (&result, TIMEOUT_MS),
                                               &index, &expires_in, error))
    return 0;
  g_assert_cmpuint (index, >, 0);
  g_assert_cmpuint (expires_in, >, 0);
  return index;
}

static GPtrArray *
fetch_copies (Fixture *fixture, const char *key)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  GPtrArray *copies;

  ph_rendezvous_client_fetch_copies_async (fixture->client, key, 0, NULL, ph_test_result_cb,
                                           &result);
  copies = ph_rendezvous_client_fetch_copies_finish (
      fixture->client, ph_test_wait_for_result (&result, TIMEOUT_MS), &error);
  g_assert_no_error (error);
  return copies;
}

static gboolean
delete_copy (Fixture *fixture, const char *key, guint64 index)
{
  g_autoptr (GAsyncResult) result = NULL;

  ph_rendezvous_client_delete_copy_async (fixture->client, key, index, NULL, ph_test_result_cb,
                                          &result);
  return ph_rendezvous_client_delete_copy_finish (
      fixture->client, ph_test_wait_for_result (&result, TIMEOUT_MS), NULL);
}

/* --- raw HTTP, as anyone may send it --- */

/* @method @path with @authorization (or none) and @body (or none): the
 * status; the body's "error" in @out_code when there is one. */
static guint
request (Fixture *fixture, const char *method, const char *path, const char *authorization,
         const char *body, char **out_code)
{
  g_autofree char *uri = g_strconcat (fixture->url, path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (method, uri);
  g_autoptr (GBytes) answer = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();

  if (authorization != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization",
                                  authorization);
  if (body != NULL)
    {
      g_autoptr (GBytes) bytes = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    }
  answer = soup_session_send_and_read (fixture->session, msg, NULL, &error);
  g_assert_no_error (error);
  if (out_code != NULL)
    {
      *out_code = NULL;
      if (g_bytes_get_size (answer) > 0
          && json_parser_load_from_data (parser, g_bytes_get_data (answer, NULL),
                                         (gssize)g_bytes_get_size (answer), NULL)
          && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        *out_code = g_strdup (json_object_get_string_member_with_default (
            json_node_get_object (json_parser_get_root (parser)), "error", NULL));
    }
  return soup_message_get_status (msg);
}

static void
assert_status (Fixture *fixture, const char *method, const char *path, const char *authorization,
               const char *body, guint status, const char *code)
{
  g_autofree char *got = NULL;

  g_test_message ("%s %s (%s)", method, path, authorization != NULL ? authorization : "none");
  g_assert_cmpuint (request (fixture, method, path, authorization, body, &got), ==, status);
  g_assert_cmpstr (got, ==, code);
}

/* The value of @name in the server's /metrics. */
static guint64
metric (Fixture *fixture, const char *name)
{
  g_autofree char *uri = g_strconcat (fixture->url, "/metrics", NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", uri);
  g_autoptr (GBytes) answer = soup_session_send_and_read (fixture->session, msg, NULL, NULL);
  g_autofree char *text = g_strndup (g_bytes_get_data (answer, NULL), g_bytes_get_size (answer));
  g_autofree char *prefix = g_strconcat ("\n", name, " ", NULL);
  const char *line = strstr (text, prefix);

  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen (prefix), NULL, 10);
}

/* Waits until /metrics says @value for @name, asking every 50 ms (the
 * rate limit allows 20 requests a second). */
static gboolean
wait_for_metric (Fixture *fixture, const char *name, guint64 value)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)TIMEOUT_MS * 1000;

  while (metric (fixture, name) != value)
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      ph_test_run_for (50);
    }
  return TRUE;
}

/* --- cases --- */

/* One wait at three points is held, ignores our own side's message, and
 * wakes with the other side's at the second point, and only that. */
static void
test_wait_wakes_for_one_of_three (Fixture *fixture, gconstpointer data)
{
  const PhMeetingPointCursor points[] = {
    { KEY_1, "2", 0 },
    { KEY_2, "2", 0 },
    { KEY_3, "2", 0 },
  };
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GPtrArray) news = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *id = id_of (KEY_2);
  PhMeetingPointNews *point;
  PhMailboxMessage *message;
  guint64 index = 0;
  gint64 started;

  meet_post (fixture, KEY_1, "2", "here", "our own", NULL);
  started = g_get_monotonic_time ();
  ph_rendezvous_client_meet_wait_async (fixture->client, points, G_N_ELEMENTS (points), 20, NULL,
                                        ph_test_result_cb, &result);
  g_assert_true (wait_for_metric (fixture, "pinhole_polls_waiting", 1));
  g_assert_null (result);

  meet_post (fixture, KEY_2, "1", "here", "from the contact", &index);
  news = ph_rendezvous_client_meet_wait_finish (
      fixture->client, ph_test_wait_for_result (&result, TIMEOUT_MS), &error);
  g_assert_no_error (error);
  /* Woken, well before its hold of 20 s. */
  g_assert_cmpint (g_get_monotonic_time () - started, <, 15 * G_USEC_PER_SEC);
  g_assert_cmpuint (news->len, ==, 1);
  point = g_ptr_array_index (news, 0);
  g_assert_cmpstr (point->id, ==, id);
  g_assert_cmpuint (point->n_stored, ==, 0);
  g_assert_cmpuint (point->messages->len, ==, 1);
  message = g_ptr_array_index (point->messages, 0);
  g_assert_cmpuint (message->index, ==, index);
  g_assert_cmpstr (message->side, ==, "1");
  g_assert_cmpstr (message->phase, ==, "here");
  g_assert_cmpmem (g_bytes_get_data (message->body, NULL), g_bytes_get_size (message->body),
                   "from the contact", 16);
  g_assert_cmpuint (metric (fixture, "pinhole_polls_waiting"), ==, 0);
}

/* A server stopped while a wait is held exits cleanly, and the waiting
 * client is told. */
static void
test_stops_while_waiting (Fixture *fixture, gconstpointer data)
{
  const PhMeetingPointCursor points[] = { { KEY_1, "2", 0 } };
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GPtrArray) news = NULL;
  g_autoptr (GError) error = NULL;

  ph_rendezvous_client_meet_wait_async (fixture->client, points, 1, 20, NULL, ph_test_result_cb,
                                        &result);
  g_assert_true (wait_for_metric (fixture, "pinhole_polls_waiting", 1));
  ph_test_process_kill (fixture->server, SIGTERM);
  g_assert_cmpint (ph_test_process_wait_exit (fixture->server, TIMEOUT_MS), ==, 0);

  news = ph_rendezvous_client_meet_wait_finish (
      fixture->client, ph_test_wait_for_result (&result, TIMEOUT_MS), &error);
  g_assert_null (news);
  g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS_UNREACHABLE);
}

/* A wait that finds nothing ends its hold with nothing; one that names
 * a copy the other side stored answers at once. */
static void
test_wait_tells_of_stored_copies (Fixture *fixture, gconstpointer data)
{
  const PhMeetingPointCursor points[] = { { KEY_1, "2", 0 } };
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GPtrArray) news = NULL;
  g_autoptr (GError) error = NULL;

  ph_rendezvous_client_meet_wait_async (fixture->client, points, 1, 1, NULL, ph_test_result_cb,
                                        &result);
  news = ph_rendezvous_client_meet_wait_finish (
      fixture->client, ph_test_wait_for_result (&result, TIMEOUT_MS), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (news->len, ==, 0);
  g_clear_pointer (&news, g_ptr_array_unref);
  g_clear_object (&result);

  store_copy (fixture, KEY_1, "1", "sealed", &error);
  g_assert_no_error (error);
  ph_rendezvous_client_meet_wait_async (fixture->client, points, 1, 20, NULL, ph_test_result_cb,
                                        &result);
  news = ph_rendezvous_client_meet_wait_finish (
      fixture->client, ph_test_wait_for_result (&result, ph_test_scaled_ms (5000)), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (news->len, ==, 1);
  g_assert_cmpuint (((PhMeetingPointNews *)g_ptr_array_index (news, 0))->n_stored, ==, 1);
}

/* What the server answered 201 for survives it being killed, and the
 * contact acknowledges it after the restart. */
static void
test_copy_survives_kill (Fixture *fixture, gconstpointer data)
{
  g_autofree char *database = g_build_filename (fixture->dir, "rendezvous.db", NULL);
  g_autofree char *store = g_strconcat ("--store=sqlite:", database, NULL);
  const char *const args[] = { store, NULL };
  g_autoptr (GPtrArray) copies = NULL;
  g_autoptr (GError) error = NULL;
  PhStoredCopy *copy;
  guint64 index;

  stop_server (fixture, SIGTERM);
  start_server (fixture, args);
  index = store_copy (fixture, KEY_1, "1", "while you were away", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (metric (fixture, "pinhole_stored_copies"), ==, 1);
  g_assert_cmpuint (metric (fixture, "pinhole_stored_copy_bytes"), ==, 19);

  stop_server (fixture, SIGKILL);
  start_server (fixture, args);

  copies = fetch_copies (fixture, KEY_1);
  g_assert_cmpuint (copies->len, ==, 1);
  copy = g_ptr_array_index (copies, 0);
  g_assert_cmpuint (copy->index, ==, index);
  g_assert_cmpstr (copy->side, ==, "1");
  g_assert_cmpmem (g_bytes_get_data (copy->body, NULL), g_bytes_get_size (copy->body),
                   "while you were away", 19);
  g_assert_cmpuint (copy->expires_in, >, 6 * 24 * 3600);

  g_assert_true (delete_copy (fixture, KEY_1, index));
  g_clear_pointer (&copies, g_ptr_array_unref);
  copies = fetch_copies (fixture, KEY_1);
  g_assert_cmpuint (copies->len, ==, 0);
  g_assert_false (delete_copy (fixture, KEY_1, index));
  g_assert_cmpuint (metric (fixture, "pinhole_stored_copies"), ==, 0);
}

static const char *const short_lifetime[] = { "--stored-lifetime=1", NULL };

static void
test_copy_expires (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GPtrArray) copies = NULL;
  g_autoptr (GError) error = NULL;

  store_copy (fixture, KEY_1, "1", "soon gone", &error);
  g_assert_no_error (error);
  copies = fetch_copies (fixture, KEY_1);
  g_assert_cmpuint (copies->len, ==, 1);
  g_assert_cmpuint (((PhStoredCopy *)g_ptr_array_index (copies, 0))->expires_in, <=, 1);

  ph_test_run_for (1200);
  g_clear_pointer (&copies, g_ptr_array_unref);
  copies = fetch_copies (fixture, KEY_1);
  g_assert_cmpuint (copies->len, ==, 0);
  g_assert_cmpuint (metric (fixture, "pinhole_stored_copies"), ==, 0);
}

static const char *const small_limits[]
    = { "--max-stored-per-point=2", "--max-stored-bytes=40", "--max-stored-total-bytes=30", NULL };

/* A full point refuses with 507 and a sentence; another point is not
 * full, and an acknowledgement makes room; all points together are
 * capped too. */
static void
test_limits (Fixture *fixture, gconstpointer data)
{
  g_autofree char *path = NULL;
  g_autofree char *authorization = g_strconcat ("Bearer ", KEY_1, NULL);
  g_autofree char *id = id_of (KEY_1);
  g_autofree char *authorization_2 = g_strconcat ("Bearer ", KEY_2, NULL);
  g_autofree char *id_2 = id_of (KEY_2);
  g_autofree char *path_2 = NULL;
  g_autoptr (GError) error = NULL;
  guint64 first;

  first = store_copy (fixture, KEY_1, "1", "0123456789", &error);
  g_assert_no_error (error);
  /* 10 + 31 bytes is over 40. */
  store_copy (fixture, KEY_1, "1", "0123456789012345678901234567890", &error);
  g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS);
  g_assert_nonnull (strstr (error->message, "40 bytes"));
  g_clear_error (&error);
  store_copy (fixture, KEY_1, "1", "second", &error);
  g_assert_no_error (error);

  path = g_strconcat ("/v1/meet/", id, "/stored", NULL);
  assert_status (fixture, "POST", path, authorization, "{\"side\":\"1\",\"body\":\"dGhpcmQ=\"}",
                 SOUP_STATUS_INSUFFICIENT_STORAGE, "stored-limit");
  store_copy (fixture, KEY_2, "1", "elsewhere", &error);
  g_assert_no_error (error);

  g_assert_true (delete_copy (fixture, KEY_1, first));
  store_copy (fixture, KEY_1, "1", "third", &error);
  g_assert_no_error (error);

  /* 5 + 6 + 9 stored: 11 more is over 30 in all, not over 40 at KEY_2. */
  path_2 = g_strconcat ("/v1/meet/", id_2, "/stored", NULL);
  assert_status (fixture, "POST", path_2, authorization_2,
                 "{\"side\":\"1\",\"body\":\"MDEyMzQ1Njc4OXg=\"}", SOUP_STATUS_INSUFFICIENT_STORAGE,
                 "stored-full");
}

/* Knowing a point's id, and even its contact's copies being there, gives
 * nothing without the key: no read, post, fetch or delete, and no key
 * other than the one the id was made from takes the point over. */
static void
test_id_alone_gives_nothing (Fixture *fixture, gconstpointer data)
{
  g_autofree char *id = id_of (KEY_1);
  g_autofree char *messages = g_strconcat ("/v1/meet/", id, "/messages", NULL);
  g_autofree char *stored = g_strconcat ("/v1/meet/", id, "/stored", NULL);
  g_autofree char *one = NULL;
  g_autofree char *as_id = g_strconcat ("Bearer ", id, NULL);
  g_autofree char *other = g_strconcat ("Bearer ", KEY_2, NULL);
  g_autofree char *upper = g_ascii_strup ("Bearer " KEY_1, -1);
  g_autofree char *wait = NULL;
  g_autofree char *code = NULL;
  const char *const forged[] = { NULL, "Bearer " ZEROS, as_id, other, upper, "Basic a2V5" };
  g_autoptr (GPtrArray) copies = NULL;
  g_autoptr (GError) error = NULL;
  guint64 index;

  index = store_copy (fixture, KEY_1, "1", "for the contact only", &error);
  g_assert_no_error (error);
  meet_post (fixture, KEY_1, "1", "here", "online", NULL);
  one = g_strdup_printf ("%s/%" G_GUINT64_FORMAT, stored, index);

  for (guint i = 0; i < G_N_ELEMENTS (forged); i++)
    {
      assert_status (fixture, "POST", messages, forged[i],
                     "{\"side\":\"2\",\"phase\":\"bye\",\"body\":\"\"}", SOUP_STATUS_UNAUTHORIZED,
                     "unauthorized");
      assert_status (fixture, "POST", stored, forged[i], "{\"side\":\"2\",\"body\":\"\"}",
                     SOUP_STATUS_UNAUTHORIZED, "unauthorized");
      assert_status (fixture, "GET", stored, forged[i], NULL, SOUP_STATUS_UNAUTHORIZED,
                     "unauthorized");
      assert_status (fixture, "DELETE", one, forged[i], NULL, SOUP_STATUS_UNAUTHORIZED,
                     "unauthorized");
    }

  /* A wait with another key waits at another point: it hears nothing. */
  wait = g_strdup_printf ("{\"points\":[{\"key\":\"%s\",\"side\":\"2\"}]}", ZEROS);
  g_assert_cmpuint (request (fixture, "POST", "/v1/meet/wait", NULL, wait, &code), ==,
                    SOUP_STATUS_OK);
  g_assert_null (code);

  copies = fetch_copies (fixture, KEY_1);
  g_assert_cmpuint (copies->len, ==, 1);
  g_assert_cmpuint (((PhStoredCopy *)g_ptr_array_index (copies, 0))->index, ==, index);
}

static void
test_wait_refuses_malformed (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GString) many = g_string_new ("{\"points\":[");
  g_autofree char *twice = NULL;

  for (guint i = 0; i <= PH_MEETING_POINT_MAX_WAIT; i++)
    g_string_append_printf (many, "%s{\"key\":\"%064x\",\"side\":\"1\"}", i > 0 ? "," : "", i);
  g_string_append (many, "]}");
  assert_status (fixture, "POST", "/v1/meet/wait", NULL, many->str, SOUP_STATUS_BAD_REQUEST,
                 "too-many-points");

  twice = g_strdup_printf ("{\"points\":[{\"key\":\"%s\",\"side\":\"1\"},"
                           "{\"key\":\"%s\",\"side\":\"2\"}]}",
                           KEY_1, KEY_1);
  assert_status (fixture, "POST", "/v1/meet/wait", NULL, twice, SOUP_STATUS_BAD_REQUEST,
                 "malformed");
  assert_status (fixture, "POST", "/v1/meet/wait", NULL,
                 "{\"points\":[{\"key\":\"" KEY_1 "\",\"side\":\"3\"}]}", SOUP_STATUS_BAD_REQUEST,
                 "malformed");
  assert_status (fixture, "POST", "/v1/meet/wait", NULL,
                 "{\"points\":[{\"key\":\"" KEY_1 "\",\"side\":\"1\",\"after\":-1}]}",
                 SOUP_STATUS_BAD_REQUEST, "malformed");
  assert_status (fixture, "POST", "/v1/meet/wait", NULL, "{\"points\":[],\"wait\":61}",
                 SOUP_STATUS_BAD_REQUEST, "malformed");
  assert_status (fixture, "POST", "/v1/meet/wait", NULL, "[[[[[[[[[[]]]]]]]]]]",
                 SOUP_STATUS_BAD_REQUEST, "malformed");
  assert_status (fixture, "GET", "/v1/meet/wait", NULL, NULL, SOUP_STATUS_METHOD_NOT_ALLOWED,
                 "method-not-allowed");
  assert_status (fixture, "GET", "/v1/meet/" ZEROS "/elsewhere", NULL, NULL, SOUP_STATUS_NOT_FOUND,
                 "not-found");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/meeting-points/wait-wakes-for-one-of-three", Fixture, NULL, fixture_set_up,
              test_wait_wakes_for_one_of_three, fixture_tear_down);
  g_test_add ("/meeting-points/wait-tells-of-stored-copies", Fixture, NULL, fixture_set_up,
              test_wait_tells_of_stored_copies, fixture_tear_down);
  g_test_add ("/meeting-points/stops-while-waiting", Fixture, NULL, fixture_set_up,
              test_stops_while_waiting, fixture_tear_down);
  g_test_add ("/meeting-points/copy-survives-kill", Fixture, NULL, fixture_set_up,
              test_copy_survives_kill, fixture_tear_down);
  g_test_add ("/meeting-points/copy-expires", Fixture, short_lifetime, fixture_set_up,
              test_copy_expires, fixture_tear_down);
  g_test_add ("/meeting-points/limits", Fixture, small_limits, fixture_set_up, test_limits,
              fixture_tear_down);
  g_test_add ("/meeting-points/id-alone-gives-nothing", Fixture, NULL, fixture_set_up,
              test_id_alone_gives_nothing, fixture_tear_down);
  g_test_add ("/meeting-points/wait-refuses-malformed", Fixture, NULL, fixture_set_up,
              test_wait_refuses_malformed, fixture_tear_down);

  return g_test_run ();
}
