/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-server-store"

#include "config.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "ph-test-files.h"
#include "ph-test-programs.h"
#include "ph-test-wait.h"

/* pinhole-rendezvous and its default store, an SQLite file, as real
 * processes: what a server killed with SIGKILL and started again still
 * has (a chat half set up, messages answered 201), where the file goes,
 * and a file it cannot use. */

#define EVENT_TIMEOUT_MS ph_test_scaled_ms (10000)
#define CONNECT_TIMEOUT_MS ph_test_scaled_ms (20000)

typedef struct
{
  char *dir;
  char *database;
  char *store_option;
  PhTestProcess *server;
  char *url;
  guint port;
  SoupSession *session;
} Fixture;

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture->dir = g_dir_make_tmp ("test-server-store-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->database = g_build_filename (fixture->dir, "rendezvous.db", NULL);
  fixture->store_option = g_strdup_printf ("--store=sqlite:%s", fixture->database);
  fixture->session = soup_session_new_with_options ("timeout", 0, NULL);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  if (fixture->server != NULL)
    g_assert_cmpint (ph_test_process_stop (fixture->server), ==, 0);
  g_clear_pointer (&fixture->server, ph_test_process_free);
  g_clear_object (&fixture->session);
  ph_test_remove_tree (fixture->dir);
  g_free (fixture->dir);
  g_free (fixture->database);
  g_free (fixture->store_option);
  g_free (fixture->url);
}

/* On a free port the first time, then on the same one, always on the
 * fixture's database. */
static void
server_start (Fixture *fixture)
{
  g_autofree char *port = g_strdup_printf ("--port=%u", fixture->port);
  const char *const args[] = { fixture->store_option, fixture->port != 0 ? port : NULL, NULL };
  g_autoptr (GUri) uri = NULL;
  g_autofree char *url = NULL;

  fixture->server = ph_test_start_rendezvous (args, &url);
  uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  g_assert_nonnull (uri);
  if (fixture->port == 0)
    fixture->port = (guint)g_uri_get_port (uri);
  g_assert_cmpint (g_uri_get_port (uri), ==, fixture->port);
  g_free (fixture->url);
  fixture->url = g_steal_pointer (&url);
}

/* As a crash would: no chance to finish anything. */
static void
server_kill (Fixture *fixture)
{
  ph_test_process_kill (fixture->server, SIGKILL);
  g_assert_cmpint (ph_test_process_wait_exit (fixture->server, EVENT_TIMEOUT_MS), ==,
                   128 + SIGKILL);
  g_clear_pointer (&fixture->server, ph_test_process_free);
}

/* Raw HTTP, as a client sees the server. */

typedef struct
{
  guint status;
  char *etag;
  JsonObject *object;
  char *text;
} Answer;

static void
answer_free (Answer *answer)
{
  g_free (answer->etag);
  g_clear_pointer (&answer->object, json_object_unref);
  g_free (answer->text);
  g_free (answer);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Answer, answer_free)

/* @method @path with @body (or none) as the side of @secret (or none). */
static Answer *
request (Fixture *fixture, const char *method, const char *path, const char *body,
         const char *secret)
{
  g_autofree char *url = g_strconcat (fixture->url, path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) error = NULL;
  Answer *answer = g_new0 (Answer, 1);

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
  soup_session_send_and_read_async (fixture->session, msg, G_PRIORITY_DEFAULT, NULL,
                                    ph_test_result_cb, &result);
  bytes = soup_session_send_and_read_finish (
      fixture->session, ph_test_wait_for_result (&result, EVENT_TIMEOUT_MS), &error);
  g_assert_no_error (error);

  answer->status = soup_message_get_status (msg);
  answer->etag
      = g_strdup (soup_message_headers_get_one (soup_message_get_response_headers (msg), "ETag"));
  answer->text = g_bytes_get_size (bytes) > 0
                     ? g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes))
                     : g_strdup ("");
  if (answer->text[0] == '{')
    {
      g_autoptr (JsonParser) parser = json_parser_new ();

      g_assert_true (json_parser_load_from_data (parser, answer->text, -1, NULL));
      answer->object = json_object_ref (json_node_get_object (json_parser_get_root (parser)));
    }
  return answer;
}

typedef struct
{
  char *nameplate;
  char *secret;
  char *etag;
} Side;

static void
side_clear (Side *side)
{
  g_free (side->nameplate);
  g_free (side->secret);
  g_free (side->etag);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Side, side_clear)

static void
read_seat (Answer *answer, Side *out_side)
{
  g_assert_cmpuint (answer->status, ==, SOUP_STATUS_CREATED);
  out_side->nameplate = g_strdup (json_object_get_string_member (answer->object, "nameplate"));
  out_side->secret = g_strdup (json_object_get_string_member (answer->object, "secret"));
  out_side->etag = g_strdup (answer->etag);
}

static char *
message_json (const char *text)
{
  g_autofree char *body = g_base64_encode ((const guchar *)text, strlen (text));

  return g_strdup_printf ("{\"phase\":\"desc\",\"body\":\"%s\"}", body);
}

static char *
metrics (Fixture *fixture)
{
  g_autoptr (Answer) answer = request (fixture, "GET", "/metrics", NULL, NULL);

  g_assert_cmpuint (answer->status, ==, SOUP_STATUS_OK);
  return g_strdup (answer->text);
}

/* The chat */

static char *
host_and_get_code (Fixture *fixture, PhTestProcess **out_host)
{
  const char *args[] = { "host", NULL };
  g_autoptr (JsonObject) event = NULL;

  *out_host = ph_test_spawn_cli (fixture->url, "Alice", PH_TEST_CLI_JSON, args, NULL);
  event = ph_test_process_wait_event (*out_host, "code", EVENT_TIMEOUT_MS);
  return g_strdup (json_object_get_string_member (event, "code"));
}

/* The server is killed between the host's code and the joiner's join,
 * and started again on its database: the joiner joins with the code, the
 * chat connects and delivers, and nobody had to open a mailbox again;
 * what a client posted and was answered 201 for before the kill is there
 * after it, in the same mailbox, for both its sides. */
static void
test_kill_between_code_and_join (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhTestProcess) host = NULL;
  g_autoptr (PhTestProcess) joiner = NULL;
  g_autofree char *code = NULL;
  g_autofree char *posted_json = message_json ("posted before the kill");
  g_autofree char *messages_path = NULL;
  g_autofree char *after = NULL;
  g_auto (Side) other_host = { 0 };
  g_auto (Side) other_joiner = { 0 };
  g_autoptr (Answer) allocated = NULL;
  g_autoptr (Answer) joined = NULL;
  g_autoptr (Answer) posted = NULL;
  g_autoptr (Answer) fetched = NULL;
  g_autoptr (Answer) fetched_by_joiner = NULL;
  g_autoptr (Answer) reposted = NULL;
  JsonArray *messages;
  JsonObject *message;
  const char *const args[] = { "join", NULL, NULL };
  const char *joiner_args[G_N_ELEMENTS (args)];

  server_start (fixture);
  code = host_and_get_code (fixture, &host);

  /* Beside the chat, a mailbox of raw requests: a message answered 201. */
  allocated = request (fixture, "POST", "/v1/mailboxes", NULL, NULL);
  read_seat (allocated, &other_host);
  messages_path = g_strdup_printf ("/v1/mailboxes/%s/messages", other_host.nameplate);
  {
    g_autofree char *join_path = g_strdup_printf ("/v1/mailboxes/%s/join", other_host.nameplate);

    joined = request (fixture, "POST", join_path, NULL, NULL);
    read_seat (joined, &other_joiner);
  }
  posted = request (fixture, "POST", messages_path, posted_json, other_host.secret);
  g_assert_cmpuint (posted->status, ==, SOUP_STATUS_CREATED);

  server_kill (fixture);
  server_start (fixture);

  memcpy (joiner_args, args, sizeof args);
  joiner_args[1] = code;
  joiner = ph_test_spawn_cli (fixture->url, "Bob", PH_TEST_CLI_JSON, joiner_args, NULL);
  ph_test_cli_assert_connected (host, "Bob");
  ph_test_cli_assert_connected (joiner, "Alice");
  ph_test_cli_assert_message_goes_through (host, joiner, "hello after the restart");
  ph_test_cli_assert_message_goes_through (joiner, host, "and back");

  /* The message is there for both sides, in the mailbox it went to. */
  fetched = request (fixture, "GET", messages_path, NULL, other_host.secret);
  g_assert_cmpuint (fetched->status, ==, SOUP_STATUS_OK);
  g_assert_cmpstr (fetched->etag, ==, other_host.etag);
  messages = json_object_get_array_member (fetched->object, "messages");
  g_assert_cmpuint (json_array_get_length (messages), ==, 1);
  message = json_array_get_object_element (messages, 0);
  g_assert_cmpint (json_object_get_int_member (message, "index"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (message, "side"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (message, "phase"), ==, "desc");
  fetched_by_joiner = request (fixture, "GET", messages_path, NULL, other_joiner.secret);
  g_assert_cmpstr (fetched_by_joiner->text, ==, fetched->text);
  reposted = request (fixture, "POST", messages_path, posted_json, other_joiner.secret);
  g_assert_cmpuint (reposted->status, ==, SOUP_STATUS_CREATED);
  g_assert_cmpint (json_object_get_int_member (reposted->object, "index"), ==, 2);

  /* Neither peer needed to claim its number back. */
  after = metrics (fixture);
  g_assert_nonnull (strstr (after, "\npinhole_mailboxes_claimed_total 0\n"));
  g_assert_nonnull (strstr (after, "pinhole_store_info{backend=\"sqlite\",durable=\"true\"} 1\n"));

  ph_test_process_close_stdin (host);
  g_assert_cmpint (ph_test_process_wait_exit (host, EVENT_TIMEOUT_MS), ==, 0);
  g_assert_cmpint (ph_test_process_wait_exit (joiner, EVENT_TIMEOUT_MS), ==, 0);
}

/* On a store that keeps its mailboxes a closed one is not opened again by
 * number: the code that pointed at it is spent. */
static void
test_no_reopening_on_a_durable_store (Fixture *fixture, gconstpointer data)
{
  g_auto (Side) host = { 0 };
  g_autoptr (Answer) allocated = NULL;
  g_autoptr (Answer) left = NULL;
  g_autoptr (Answer) claim_closed = NULL;
  g_autoptr (Answer) claim_open = NULL;
  g_autoptr (Answer) other = NULL;
  g_autofree char *path = NULL;

  server_start (fixture);
  allocated = request (fixture, "POST", "/v1/mailboxes", NULL, NULL);
  read_seat (allocated, &host);
  path = g_strdup_printf ("/v1/mailboxes/%s", host.nameplate);
  left = request (fixture, "DELETE", path, NULL, host.secret);
  g_assert_cmpuint (left->status, ==, SOUP_STATUS_NO_CONTENT);

  claim_closed = request (fixture, "PUT", path, NULL, NULL);
  g_assert_cmpuint (claim_closed->status, ==, SOUP_STATUS_NOT_FOUND);
  g_assert_cmpstr (json_object_get_string_member (claim_closed->object, "error"), ==,
                   "unknown-mailbox");

  other = request (fixture, "POST", "/v1/mailboxes", NULL, NULL);
  g_assert_cmpuint (other->status, ==, SOUP_STATUS_CREATED);
  claim_open = request (fixture, "PUT", path, NULL, NULL);
  g_assert_cmpuint (claim_open->status, ==, SOUP_STATUS_CONFLICT);
  g_assert_cmpstr (json_object_get_string_member (claim_open->object, "error"), ==,
                   "nameplate-unavailable");
}

/* A program that does not start: its exit status and what it said. */
static int
run_failing (const char *const *argv, char **out_stderr)
{
  g_autoptr (GSubprocessLauncher) launcher
      = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL;

  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (process, NULL, NULL, &out, out_stderr, &error));
  g_assert_no_error (error);
  /* It never said it listens. */
  g_assert_cmpstr (out, ==, "");
  return g_subprocess_get_exit_status (process);
}

/* A database file that is not one, a damaged one, one in use: the
 * server does not start, and says which file and why. */
static void
test_unusable_database (Fixture *fixture, gconstpointer data)
{
  const char *binary = g_getenv ("PINHOLE_RENDEZVOUS_BIN");
  const char *const argv[] = { binary, "--port=0", fixture->store_option, NULL };
  g_autofree char *garbage = g_strnfill (16384, 'x');
  g_autofree char *contents = NULL;
  g_autofree char *err = NULL;
  g_autoptr (GError) error = NULL;
  gsize length;

  /* In use by a running server. */
  server_start (fixture);
  g_assert_cmpint (run_failing (argv, &err), ==, 1);
  g_test_message ("%s", err);
  g_assert_nonnull (strstr (err, fixture->database));
  g_assert_nonnull (strstr (err, "in use by another pinhole-rendezvous"));
  g_assert_cmpint (ph_test_process_stop (fixture->server), ==, 0);
  g_clear_pointer (&fixture->server, ph_test_process_free);
  g_clear_pointer (&err, g_free);

  /* Damaged: a page of a real database overwritten. */
  g_assert_true (g_file_get_contents (fixture->database, &contents, &length, &error));
  g_assert_cmpuint (length, >=, 8192);
  memset (contents + 4096, 0xa5, length - 4096);
  g_assert_true (g_file_set_contents (fixture->database, contents, (gssize)length, &error));
  g_assert_cmpint (run_failing (argv, &err), ==, 1);
  g_test_message ("%s", err);
  g_assert_true (g_str_has_prefix (err, "pinhole-rendezvous: "));
  g_assert_nonnull (strstr (err, fixture->database));
  g_assert_nonnull (strstr (err, "damaged"));
  g_clear_pointer (&err, g_free);

  /* Not a database at all. */
  g_assert_true (g_file_set_contents (fixture->database, garbage, -1, &error));
  g_assert_cmpint (run_failing (argv, &err), ==, 1);
  g_test_message ("%s", err);
  g_assert_nonnull (strstr (err, fixture->database));
  g_assert_nonnull (strstr (err, "is damaged or is not a pinhole-rendezvous database"));
}

/* Without --store the database is rendezvous.db in --data-dir, else in
 * systemd's $STATE_DIRECTORY, private to the server's user. */
static void
test_default_location (Fixture *fixture, gconstpointer data)
{
  g_autofree char *state = g_build_filename (fixture->dir, "state", NULL);
  g_autofree char *data_dir = g_build_filename (fixture->dir, "data", "nested", NULL);
  g_autofree char *state_variable = g_strconcat ("STATE_DIRECTORY=", state, NULL);
  g_autofree char *data_option = g_strconcat ("--data-dir=", data_dir, NULL);
  g_autofree char *in_state = g_build_filename (state, "rendezvous.db", NULL);
  g_autofree char *in_data = g_build_filename (data_dir, "rendezvous.db", NULL);
  const char *const envp[] = { state_variable, NULL };
  const char *binary = g_getenv ("PINHOLE_RENDEZVOUS_BIN");
  const char *const bad[][4] = {
    { binary, "--store=redis://127.0.0.1", NULL },
    { binary, "--store=sqlite:", NULL },
    { binary, "--store=sqlite:x.db?synchronous=sometimes", NULL },
    { binary, "--store=memory:", "--data-dir=/tmp", NULL },
  };
  struct stat st;

  g_assert_cmpint (g_mkdir (state, 0755), ==, 0);
  for (guint i = 0; i < 2; i++)
    {
      const char *const argv[] = { binary, "--port=0", i == 0 ? NULL : data_option, NULL };
      g_autoptr (PhTestProcess) server = ph_test_process_spawn (argv, envp);
      g_autofree char *line = ph_test_process_read_line (server, EVENT_TIMEOUT_MS);
      const char *expected = i == 0 ? in_state : in_data;

      g_assert_true (g_str_has_prefix (line, "pinhole-rendezvous listening on "));
      g_assert_cmpint (g_stat (expected, &st), ==, 0);
      g_assert_cmpint (st.st_mode & 0777, ==, 0600);
      g_assert_cmpint (ph_test_process_stop (server), ==, 0);
    }
  /* A folder it made is private too; the one systemd made is left alone. */
  g_assert_cmpint (g_stat (data_dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
  g_assert_cmpint (g_stat (state, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0755);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *err = NULL;

      g_assert_cmpint (run_failing (bad[i], &err), ==, 2);
      g_test_message ("%s", err);
      g_assert_true (g_str_has_prefix (err, "pinhole-rendezvous: "));
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/server-store/sqlite/kill-between-code-and-join", test_kill_between_code_and_join);
  ADD ("/server-store/sqlite/no-reopening", test_no_reopening_on_a_durable_store);
  ADD ("/server-store/sqlite/unusable-database", test_unusable_database);
  ADD ("/server-store/sqlite/default-location", test_default_location);
#undef ADD

  return g_test_run ();
}
