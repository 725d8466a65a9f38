/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-server-cluster"

#include "config.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>

#include "ph-test-files.h"
#include "ph-test-programs.h"
#include "ph-test-redis.h"
#include "ph-test-wait.h"

/* Two pinhole-rendezvous servers on one redis-server, as real processes:
 * a chat whose sides use one server each, a poll held by one woken by a
 * post to the other, Redis restarted while a chat sets up, and nginx in
 * front of both (data/nginx-pinhole-rendezvous.conf, the file the docs
 * tell operators to use). */

#define EVENT_TIMEOUT_MS ph_test_scaled_ms (10000)
#define CONNECT_TIMEOUT_MS ph_test_scaled_ms (20000)
/* How long a poll may be held: the wake must come well before. */
#define POLL_WAIT_SECONDS 20

typedef struct
{
  char *dir;
  PhTestRedis *redis;
  PhTestProcess *servers[2];
  char *urls[2];
  PhTestProcess *nginx;
  char *nginx_url;
  SoupSession *session;
} Fixture;

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture->dir = g_dir_make_tmp ("test-server-cluster-XXXXXX", &error);
  g_assert_no_error (error);
  /* Kept across a restart, as docs/server.md has operators run it. */
  fixture->redis = ph_test_redis_start (fixture->dir, PH_TEST_REDIS_APPEND_ONLY);
  fixture->session = soup_session_new_with_options ("timeout", 0, NULL);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  if (fixture->nginx != NULL)
    {
      ph_test_process_kill (fixture->nginx, SIGQUIT);
      ph_test_process_wait_exit (fixture->nginx, EVENT_TIMEOUT_MS);
      g_clear_pointer (&fixture->nginx, ph_test_process_free);
    }
  for (guint i = 0; i < G_N_ELEMENTS (fixture->servers); i++)
    {
      if (fixture->servers[i] != NULL)
        g_assert_cmpint (ph_test_process_stop (fixture->servers[i]), ==, 0);
      g_clear_pointer (&fixture->servers[i], ph_test_process_free);
      g_clear_pointer (&fixture->urls[i], g_free);
    }
  g_clear_pointer (&fixture->redis, ph_test_redis_free);
  g_clear_object (&fixture->session);
  ph_test_remove_tree (fixture->dir);
  g_free (fixture->dir);
  g_free (fixture->nginx_url);
}

/* Raw HTTP, as a client sees a server. */

typedef struct
{
  guint status;
  char *retry_after;
  JsonObject *object;
  char *text;
} Answer;

static void
answer_free (Answer *answer)
{
  g_free (answer->retry_after);
  g_clear_pointer (&answer->object, json_object_unref);
  g_free (answer->text);
  g_free (answer);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Answer, answer_free)

static SoupMessage *
new_request (const char *url, const char *method, const char *path, const char *body,
             const char *secret)
{
  g_autofree char *full = g_strconcat (url, path, NULL);
  SoupMessage *msg = soup_message_new (method, full);

  if (secret != NULL)
    {
      g_autofree char *authorization = g_strconcat ("Bearer ", secret, NULL);

      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization",
                                    authorization);
    }
  if (body != NULL)
    {
      g_autoptr (GBytes) request_body = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (msg, "application/json", request_body);
    }
  return msg;
}

static Answer *
read_answer (SoupMessage *msg, GBytes *bytes)
{
  Answer *answer = g_new0 (Answer, 1);
  SoupMessageHeaders *headers = soup_message_get_response_headers (msg);

  answer->status = soup_message_get_status (msg);
  answer->retry_after = g_strdup (soup_message_headers_get_one (headers, "Retry-After"));
  answer->text = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  if (answer->text[0] == '{')
    {
      g_autoptr (JsonParser) parser = json_parser_new ();

      g_assert_true (json_parser_load_from_data (parser, answer->text, -1, NULL));
      answer->object = json_object_ref (json_node_get_object (json_parser_get_root (parser)));
    }
  return answer;
}

static Answer *
request (Fixture *fixture, const char *url, const char *method, const char *path, const char *body,
         const char *secret)
{
  g_autoptr (SoupMessage) msg = new_request (url, method, path, body, secret);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) error = NULL;

  soup_session_send_and_read_async (fixture->session, msg, G_PRIORITY_DEFAULT, NULL,
                                    ph_test_result_cb, &result);
  bytes = soup_session_send_and_read_finish (
      fixture->session, ph_test_wait_for_result (&result, EVENT_TIMEOUT_MS), &error);
  g_assert_no_error (error);
  return read_answer (msg, bytes);
}

static char *
message_json (const char *text)
{
  g_autofree char *body = g_base64_encode ((const guchar *)text, strlen (text));

  return g_strdup_printf ("{\"phase\":\"desc\",\"body\":\"%s\"}", body);
}

/* The servers */

typedef struct
{
  Fixture *fixture;
  const char *url;
} Probe;

static gboolean
store_up (gpointer data)
{
  Probe *probe = data;
  g_autoptr (Answer) answer = request (probe->fixture, probe->url, "GET", "/metrics", NULL, NULL);

  return strstr (answer->text, "\npinhole_store_redis_up 1\n") != NULL;
}

/* Waits until the server at @url reaches Redis (it starts before it has). */
static void
wait_for_store (Fixture *fixture, const char *url)
{
  Probe probe = { fixture, url };

  g_assert_true (ph_test_wait_until (store_up, &probe, EVENT_TIMEOUT_MS));
}

static void
servers_start (Fixture *fixture)
{
  g_autofree char *store = g_strdup_printf ("--store=%s", ph_test_redis_get_uri (fixture->redis));
  const char *const args[] = { store, "--trusted-proxy=127.0.0.1", NULL };

  for (guint i = 0; i < G_N_ELEMENTS (fixture->servers); i++)
    {
      fixture->servers[i] = ph_test_start_rendezvous (args, &fixture->urls[i]);
      wait_for_store (fixture, fixture->urls[i]);
    }
}

/* The chat */

static char *
host_and_get_code (const char *url, PhTestProcess **out_host)
{
  const char *args[] = { "host", NULL };
  g_autoptr (JsonObject) event = NULL;

  *out_host = ph_test_spawn_cli (url, "Alice", PH_TEST_CLI_JSON, args, NULL);
  event = ph_test_process_wait_event (*out_host, "code", EVENT_TIMEOUT_MS);
  return g_strdup (json_object_get_string_member (event, "code"));
}

static PhTestProcess *
join (const char *url, const char *code)
{
  const char *args[] = { "join", code, NULL };

  return ph_test_spawn_cli (url, "Bob", PH_TEST_CLI_JSON, args, NULL);
}

static void
chat_and_quit (PhTestProcess *host, PhTestProcess *joiner)
{
  ph_test_cli_assert_connected (host, "Bob");
  ph_test_cli_assert_connected (joiner, "Alice");
  ph_test_cli_assert_message_goes_through (host, joiner, "hello from one server");
  ph_test_cli_assert_message_goes_through (joiner, host, "and back from the other");
  ph_test_process_close_stdin (host);
  g_assert_cmpint (ph_test_process_wait_exit (host, EVENT_TIMEOUT_MS), ==, 0);
  g_assert_cmpint (ph_test_process_wait_exit (joiner, EVENT_TIMEOUT_MS), ==, 0);
}

/* The host's side on one server, the joiner's on the other. */
static void
test_chat_across_servers (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhTestProcess) host = NULL;
  g_autoptr (PhTestProcess) joiner = NULL;
  g_autofree char *code = NULL;

  servers_start (fixture);
  code = host_and_get_code (fixture->urls[0], &host);
  joiner = join (fixture->urls[1], code);
  chat_and_quit (host, joiner);
}

typedef struct
{
  gboolean done;
  gint64 answered_us;
  SoupMessage *msg;
  GBytes *bytes;
} Poll;

static void
poll_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Poll *poll = user_data;

  poll->bytes = soup_session_send_and_read_finish (SOUP_SESSION (source), result, NULL);
  poll->answered_us = g_get_monotonic_time ();
  poll->done = TRUE;
}

/* A poll held by server 1 answers within moments of a post to server 2,
 * not when its wait runs out. */
static void
test_poll_wakes_across_servers (Fixture *fixture, gconstpointer data)
{
  g_autoptr (Answer) allocated = NULL;
  g_autoptr (Answer) joined = NULL;
  g_autoptr (Answer) posted = NULL;
  g_autoptr (Answer) woken = NULL;
  g_autofree char *path = NULL;
  g_autofree char *join_path = NULL;
  g_autofree char *poll_path = NULL;
  g_autofree char *body = message_json ("across");
  const char *nameplate;
  Poll poll = { 0 };
  gint64 posted_us;

  servers_start (fixture);
  allocated = request (fixture, fixture->urls[0], "POST", "/v1/mailboxes", NULL, NULL);
  g_assert_cmpuint (allocated->status, ==, SOUP_STATUS_CREATED);
  nameplate = json_object_get_string_member (allocated->object, "nameplate");
  join_path = g_strdup_printf ("/v1/mailboxes/%s/join", nameplate);
  joined = request (fixture, fixture->urls[1], "POST", join_path, NULL, NULL);
  g_assert_cmpuint (joined->status, ==, SOUP_STATUS_CREATED);

  path = g_strdup_printf ("/v1/mailboxes/%s/messages", nameplate);
  poll_path = g_strdup_printf ("%s?after=0&wait=%u", path, POLL_WAIT_SECONDS);
  poll.msg = new_request (fixture->urls[0], "GET", poll_path, NULL,
                          json_object_get_string_member (allocated->object, "secret"));
  soup_session_send_and_read_async (fixture->session, poll.msg, G_PRIORITY_DEFAULT, NULL,
                                    poll_done_cb, &poll);
  /* The poll is held (nothing to answer it with) before the post. */
  ph_test_run_for (300);
  g_assert_false (poll.done);

  posted = request (fixture, fixture->urls[1], "POST", path, body,
                    json_object_get_string_member (joined->object, "secret"));
  g_assert_cmpuint (posted->status, ==, SOUP_STATUS_CREATED);
  posted_us = g_get_monotonic_time ();

  g_assert_true (ph_test_wait_for_flag (&poll.done, EVENT_TIMEOUT_MS));
  g_test_message ("woken %.1f ms after the post", (poll.answered_us - posted_us) / 1000.0);
  g_assert_cmpint (poll.answered_us - posted_us, <, ph_test_scaled_ms (1000) * (gint64)1000);
  g_assert_nonnull (poll.bytes);
  woken = read_answer (poll.msg, poll.bytes);
  g_assert_cmpuint (woken->status, ==, SOUP_STATUS_OK);
  g_assert_cmpuint (
      json_array_get_length (json_object_get_array_member (woken->object, "messages")), ==, 1);
  g_clear_object (&poll.msg);
  g_clear_pointer (&poll.bytes, g_bytes_unref);
}

/* Redis goes down between the host's code and the join: requests get 503
 * with Retry-After meanwhile; Redis comes back on what it kept, and the
 * chat connects, the clients having waited out the 503s. */
static void
test_redis_restart_mid_setup (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhTestProcess) host = NULL;
  g_autoptr (PhTestProcess) joiner = NULL;
  g_autoptr (Answer) refused = NULL;
  g_autofree char *code = NULL;

  servers_start (fixture);
  code = host_and_get_code (fixture->urls[0], &host);

  ph_test_redis_kill (fixture->redis);
  refused = request (fixture, fixture->urls[1], "POST", "/v1/mailboxes", NULL, NULL);
  g_assert_cmpuint (refused->status, ==, SOUP_STATUS_SERVICE_UNAVAILABLE);
  g_assert_cmpstr (refused->retry_after, ==, "1");
  g_assert_cmpstr (json_object_get_string_member (refused->object, "error"), ==,
                   "store-unavailable");

  ph_test_redis_restart (fixture->redis);
  joiner = join (fixture->urls[1], code);
  chat_and_quit (host, joiner);
  wait_for_store (fixture, fixture->urls[0]);
}

/* nginx */

static char *
replace (const char *text, const char *from, const char *to)
{
  g_auto (GStrv) parts = g_strsplit (text, from, -1);

  g_assert_cmpuint (g_strv_length (parts), ==, 2);
  return g_strjoinv (to, parts);
}

static guint
port_of (const char *url)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

  return (guint)g_uri_get_port (uri);
}

static gboolean
nginx_serves (gpointer data)
{
  Fixture *fixture = data;
  g_autoptr (SoupMessage) msg = new_request (fixture->nginx_url, "GET", "/metrics", NULL, NULL);
  g_autoptr (GInputStream) stream = soup_session_send (fixture->session, msg, NULL, NULL);

  return stream != NULL && soup_message_get_status (msg) == SOUP_STATUS_OK;
}

/* The shipped configuration with this test's ports: its listen address
 * and its two servers are the only lines that change. */
static void
nginx_start (Fixture *fixture)
{
  const char *program = g_getenv ("PH_NGINX_BIN");
  g_autofree char *template_path
      = g_test_build_filename (G_TEST_DIST, "..", "data", "nginx-pinhole-rendezvous.conf", NULL);
  g_autofree char *config_path = g_build_filename (fixture->dir, "nginx.conf", NULL);
  g_autofree char *listen_address = NULL;
  g_autofree char *first_address = g_strdup_printf ("127.0.0.1:%u", port_of (fixture->urls[0]));
  g_autofree char *second_address = g_strdup_printf ("127.0.0.1:%u", port_of (fixture->urls[1]));
  g_autofree char *template = NULL;
  g_autofree char *with_first = NULL;
  g_autofree char *with_both = NULL;
  g_autofree char *config = NULL;
  g_autoptr (GSocketListener) listener = g_socket_listener_new ();
  g_autoptr (GError) error = NULL;
  guint port;

  g_assert_true (g_file_get_contents (template_path, &template, NULL, &error));
  /* A port free now, as the servers' were. */
  port = g_socket_listener_add_any_inet_port (listener, NULL, &error);
  g_assert_no_error (error);
  g_socket_listener_close (listener);
  listen_address = g_strdup_printf ("127.0.0.1:%u", port);

  with_first = replace (template, "127.0.0.1:8471", first_address);
  with_both = replace (with_first, "127.0.0.1:8472", second_address);
  config = replace (with_both, "127.0.0.1:8470", listen_address);
  g_assert_true (g_file_set_contents (config_path, config, -1, &error));

  {
    const char *argv[] = {
      program, "-p", fixture->dir, "-c", config_path, "-e", "stderr", "-g", "daemon off;", NULL,
    };

    fixture->nginx = ph_test_process_spawn (argv, NULL);
  }
  fixture->nginx_url = g_strdup_printf ("http://%s", listen_address);
  g_assert_true (ph_test_wait_until (nginx_serves, fixture, EVENT_TIMEOUT_MS));
}

/* The count of the store's fetches the server at @url has made. */
static guint64
fetches (Fixture *fixture, const char *url)
{
  const char *name = "\npinhole_store_seconds_count{backend=\"redis\",operation=\"fetch\"} ";
  g_autoptr (Answer) answer = request (fixture, url, "GET", "/metrics", NULL, NULL);
  const char *line = strstr (answer->text, name);

  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen (name), NULL, 10);
}

/* Both sides through nginx, which hands each request to either server in
 * turn: a whole chat, every step of it on whichever server. */
static void
test_chat_through_nginx (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhTestProcess) host = NULL;
  g_autoptr (PhTestProcess) joiner = NULL;
  g_autofree char *code = NULL;

  servers_start (fixture);
  nginx_start (fixture);

  code = host_and_get_code (fixture->nginx_url, &host);
  joiner = join (fixture->nginx_url, code);
  chat_and_quit (host, joiner);

  /* Each server read the mailbox for the chat. */
  g_assert_cmpuint (fetches (fixture, fixture->urls[0]), >, 0);
  g_assert_cmpuint (fetches (fixture, fixture->urls[1]), >, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/server-cluster/chat-across-servers", Fixture, NULL, fixture_set_up,
              test_chat_across_servers, fixture_tear_down);
  g_test_add ("/server-cluster/poll-wakes-across-servers", Fixture, NULL, fixture_set_up,
              test_poll_wakes_across_servers, fixture_tear_down);
  g_test_add ("/server-cluster/redis-restart-mid-setup", Fixture, NULL, fixture_set_up,
              test_redis_restart_mid_setup, fixture_tear_down);
  g_test_add ("/server-cluster/chat-through-nginx", Fixture, NULL, fixture_set_up,
              test_chat_through_nginx, fixture_tear_down);

  return g_test_run ();
}
