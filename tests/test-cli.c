/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-cli"

#include "config.h"

#include <signal.h>
#include <string.h>

#include "ph-code.h"
#include "ph-test-files.h"
#include "ph-test-needs-hooks.h"
#include "ph-test-programs.h"
#include "ph-test-wait.h"

/* Real processes on loopback: a rendezvous server and two pinhole-cli peers
 * talking through it, checked by the JSON events a script would read. */

#define CONNECT_TIMEOUT_MS ph_test_scaled_ms (20000)
#define EVENT_TIMEOUT_MS ph_test_scaled_ms (10000)

typedef PhTestRendezvousFixture Fixture;

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
join (const char *url, const char *code, const char *const *envp)
{
  const char *args[] = { "join", code, NULL };

  return ph_test_spawn_cli (url, "Bob", PH_TEST_CLI_JSON, args, envp);
}

static void
assert_connected (PhTestProcess *peer, const char *expected_peer_name)
{
  g_autoptr (JsonObject) event = ph_test_process_wait_event (peer, "connected", CONNECT_TIMEOUT_MS);
  JsonObject *path = json_object_get_object_member (event, "path");

  g_assert_cmpstr (json_object_get_string_member (event, "peer"), ==, expected_peer_name);
  g_assert_cmpfloat (json_object_get_double_member (event, "setup_ms"), >, 0.0);
  g_assert_nonnull (path);
  /* Both peers are on this machine: ICE must find a direct path. */
  g_assert_false (json_object_get_boolean_member (path, "relayed"));
  g_assert_cmpstr (
      json_object_get_string_member (json_object_get_object_member (path, "local"), "transport"),
      ==, "udp");
}

/* Sends @text from @sender and checks @receiver shows exactly it and
 * @sender then reports it delivered. */
static void
assert_message_goes_through (PhTestProcess *sender, PhTestProcess *receiver,
                             const char *sender_name, const char *text)
{
  g_autoptr (JsonObject) sent = NULL;
  g_autoptr (JsonObject) received = NULL;
  g_autoptr (JsonObject) delivered = NULL;

  ph_test_process_write_line (sender, text);
  sent = ph_test_process_wait_event (sender, "sent", EVENT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (sent, "text"), ==, text);

  received = ph_test_process_wait_event (receiver, "message", EVENT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (received, "text"), ==, text);
  g_assert_cmpstr (json_object_get_string_member (received, "from"), ==, sender_name);
  g_assert_cmpstr (json_object_get_string_member (received, "id"), ==,
                   json_object_get_string_member (sent, "id"));

  delivered = ph_test_process_wait_event (sender, "delivered", EVENT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (delivered, "id"), ==,
                   json_object_get_string_member (sent, "id"));
}

static void
test_chat_both_ways (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhTestProcess) host = NULL;
  g_autoptr (PhTestProcess) joiner = NULL;
  g_autoptr (JsonObject) host_closed = NULL;
  g_autoptr (JsonObject) joiner_closed = NULL;
  g_autoptr (GString) long_text = g_string_new (NULL);
  g_autofree char *code = host_and_get_code (fixture->url, &host);

  g_assert_true (ph_code_parse (code, NULL, NULL, NULL));
  joiner = join (fixture->url, code, NULL);
  assert_connected (host, "Bob");
  assert_connected (joiner, "Alice");

  assert_message_goes_through (host, joiner, "Alice", "hello from Alice");
  assert_message_goes_through (joiner, host, "Bob", "Grüße 👋 你好, ça va?");

  /* 60 KiB of mixed one-, two- and four-byte characters. */
  while (long_text->len < 60 * 1024 - 8)
    g_string_append (long_text, "pinhole ü 🕳 ");
  assert_message_goes_through (host, joiner, "Alice", long_text->str);

  /* The end of input says goodbye to both. */
  ph_test_process_close_stdin (host);
  host_closed = ph_test_process_wait_event (host, "closed", EVENT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (host_closed, "reason"), ==, "left");
  joiner_closed = ph_test_process_wait_event (joiner, "closed", EVENT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (joiner_closed, "reason"), ==, "peer-left");
  g_assert_cmpint (ph_test_process_wait_exit (host, EVENT_TIMEOUT_MS), ==, 0);
  g_assert_cmpint (ph_test_process_wait_exit (joiner, EVENT_TIMEOUT_MS), ==, 0);
}

/* The raw "connected" line, as a script reads it. */
static char *
read_connected_line (PhTestProcess *peer)
{
  gint64 deadline = g_get_monotonic_time () + CONNECT_TIMEOUT_MS * (gint64)1000;

  while (g_get_monotonic_time () < deadline)
    {
      g_autofree char *line = ph_test_process_read_line (peer, CONNECT_TIMEOUT_MS);

      g_assert_nonnull (line);
      if (strstr (line, "\"event\":\"connected\"") != NULL)
        return g_steal_pointer (&line);
    }
  g_error ("No “connected” event within %u ms", CONNECT_TIMEOUT_MS);
}

/* Times are printed to a tenth of a millisecond ("setup_ms":24.4), not
 * with the 17 digits a double has ("24.399999999999999"). */
static void
test_json_times_rounded (Fixture *fixture, gconstpointer data)
{
  const char *const members[] = { "setup_ms", "rendezvous_ms", "ice_ms", "tls_ms" };
  g_autoptr (PhTestProcess) host = NULL;
  g_autoptr (PhTestProcess) joiner = NULL;
  g_autofree char *code = host_and_get_code (fixture->url, &host);
  g_autofree char *line = NULL;

  joiner = join (fixture->url, code, NULL);
  line = read_connected_line (joiner);
  for (gsize i = 0; i < G_N_ELEMENTS (members); i++)
    {
      g_autofree char *pattern = g_strdup_printf ("\"%s\":[0-9]+\\.[0-9][,}]", members[i]);

      if (!g_regex_match_simple (pattern, line, 0, 0))
        g_error ("“%s” is not a number with one decimal in: %s", members[i], line);
    }
  assert_connected (host, "Bob");
}

/* Scripts read standard output as events only: with every debug message
 * turned on, each line there must still be one JSON event (the helpers
 * fail on any other line), and the logs go to standard error. */
static void
test_debug_logs_stay_off_stdout (Fixture *fixture, gconstpointer data)
{
  const char *const debug_env[] = { "G_MESSAGES_DEBUG=all", NULL };
  g_autoptr (PhTestProcess) host = NULL;
  g_autoptr (PhTestProcess) joiner = NULL;
  g_autoptr (JsonObject) closed = NULL;
  g_autofree char *code = host_and_get_code (fixture->url, &host);

  joiner = join (fixture->url, code, debug_env);
  assert_connected (joiner, "Alice");
  assert_connected (host, "Bob");
  assert_message_goes_through (joiner, host, "Bob", "logs go elsewhere");
  ph_test_process_close_stdin (joiner);
  closed = ph_test_process_wait_event (joiner, "closed", EVENT_TIMEOUT_MS);
  g_assert_cmpint (ph_test_process_wait_exit (joiner, EVENT_TIMEOUT_MS), ==, 0);
}

static void
test_lines_before_connect_are_delivered (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhTestProcess) host = NULL;
  g_autoptr (PhTestProcess) joiner = NULL;
  g_autoptr (JsonObject) first = NULL;
  g_autoptr (JsonObject) second = NULL;
  g_autofree char *code = host_and_get_code (fixture->url, &host);

  /* Typed while the peer was still on its way, then the input ends. */
  ph_test_process_write_line (host, "first");
  ph_test_process_write_line (host, "second");
  ph_test_process_close_stdin (host);

  joiner = join (fixture->url, code, NULL);
  first = ph_test_process_wait_event (joiner, "message", CONNECT_TIMEOUT_MS);
  second = ph_test_process_wait_event (joiner, "message", EVENT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (first, "text"), ==, "first");
  g_assert_cmpstr (json_object_get_string_member (second, "text"), ==, "second");
  g_clear_pointer (&first, json_object_unref);
  first = ph_test_process_wait_event (host, "delivered", EVENT_TIMEOUT_MS);
  g_clear_pointer (&second, json_object_unref);
  second = ph_test_process_wait_event (host, "delivered", EVENT_TIMEOUT_MS);
  g_assert_cmpint (ph_test_process_wait_exit (host, EVENT_TIMEOUT_MS), ==, 0);
}

static char *
code_with_other_first_word (const char *code)
{
  g_auto (GStrv) parts = g_strsplit (code, "-", 3);
  const char *const *words = ph_code_get_first_words ();
  const char *other = g_str_equal (parts[1], words[0]) ? words[1] : words[0];

  return g_strdup_printf ("%s-%s-%s", parts[0], other, parts[2]);
}

static void
assert_error_and_exit (PhTestProcess *peer, const char *expected_code)
{
  g_autoptr (JsonObject) error = ph_test_process_wait_event (peer, "error", CONNECT_TIMEOUT_MS);

  g_assert_cmpstr (json_object_get_string_member (error, "code"), ==, expected_code);
  g_assert_cmpstr (json_object_get_string_member (error, "message"), !=, "");
  g_assert_cmpint (ph_test_process_wait_exit (peer, EVENT_TIMEOUT_MS), ==, 1);
}

static void
test_wrong_code (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhTestProcess) host = NULL;
  g_autoptr (PhTestProcess) joiner = NULL;
  g_autoptr (PhTestProcess) retry = NULL;
  g_autofree char *code = host_and_get_code (fixture->url, &host);
  g_autofree char *wrong = code_with_other_first_word (code);

  joiner = join (fixture->url, wrong, NULL);
  assert_error_and_exit (joiner, "wrong-code");
  assert_error_and_exit (host, "wrong-code");

  /* The mailbox is gone: a second guess at the same nameplate finds nothing. */
  retry = join (fixture->url, code, NULL);
  assert_error_and_exit (retry, "unknown-code");
}

static void
test_unknown_code (Fixture *fixture, gconstpointer data)
{
  const char *const *first = ph_code_get_first_words ();
  const char *const *second = ph_code_get_second_words ();
  g_autofree char *code = g_strdup_printf ("4321-%s-%s", first[3], second[7]);
  g_autoptr (PhTestProcess) joiner = join (fixture->url, code, NULL);

  assert_error_and_exit (joiner, "unknown-code");
}

static void
test_malformed_code (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhTestProcess) joiner = join (fixture->url, "hello-world", NULL);

  assert_error_and_exit (joiner, "invalid-code");
}

static guint
unused_port (void)
{
  g_autoptr (GSocket) socket
      = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;

  g_assert_true (g_socket_bind (socket, address, FALSE, NULL));
  bound = g_socket_get_local_address (socket, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* Both keep asking a server that does not answer (it may be restarting)
 * for a bounded time, shortened here, and then say so. */
static void
test_rendezvous_unreachable (void)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u", unused_port ());
  const char *const short_patience[] = { "PINHOLE_TEST_RENDEZVOUS_PATIENCE_SECONDS=2", NULL };
  const char *host_args[] = { "host", NULL };
  gint64 start = g_get_monotonic_time ();
  g_autoptr (PhTestProcess) host
      = ph_test_spawn_cli (url, "Alice", PH_TEST_CLI_JSON, host_args, short_patience);
  const char *const *first = ph_code_get_first_words ();
  const char *const *second = ph_code_get_second_words ();
  g_autofree char *code = g_strdup_printf ("7-%s-%s", first[0], second[0]);
  g_autoptr (PhTestProcess) joiner = join (url, code, short_patience);

  g_autoptr (JsonObject) host_trouble = NULL;
  g_autoptr (JsonObject) joiner_trouble = NULL;

  /* Said before giving up, so a person knows why nothing happens yet. */
  host_trouble = ph_test_process_wait_event (host, "rendezvous", EVENT_TIMEOUT_MS);
  g_assert_false (json_object_get_boolean_member (host_trouble, "reachable"));
  joiner_trouble = ph_test_process_wait_event (joiner, "rendezvous", EVENT_TIMEOUT_MS);
  g_assert_false (json_object_get_boolean_member (joiner_trouble, "reachable"));

  assert_error_and_exit (host, "rendezvous-unreachable");
  assert_error_and_exit (joiner, "rendezvous-unreachable");
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 2 * G_USEC_PER_SEC);
}

/* A peer killed with SIGKILL says no goodbye: the other side notices the
 * silence, tries to reconnect through the mailbox for a bounded time, then
 * reports the peer lost and what it could not deliver. */
static void
test_peer_killed (Fixture *fixture, gconstpointer data)
{
  const char *args[] = { "host", NULL };
  const char *envp[] = { "PINHOLE_TEST_RECONNECT_SECONDS=5", NULL };
  g_autoptr (PhTestProcess) host = NULL;
  g_autoptr (PhTestProcess) joiner = NULL;
  g_autoptr (JsonObject) code = NULL;
  g_autoptr (JsonObject) sent = NULL;
  g_autoptr (JsonObject) reconnecting = NULL;
  g_autoptr (JsonObject) failed = NULL;
  g_autoptr (JsonObject) closed = NULL;
  gint64 killed_at;

  host = ph_test_spawn_cli (fixture->url, "Alice", PH_TEST_CLI_JSON, args, envp);
  code = ph_test_process_wait_event (host, "code", EVENT_TIMEOUT_MS);
  joiner = join (fixture->url, json_object_get_string_member (code, "code"), NULL);
  assert_connected (host, "Bob");
  assert_connected (joiner, "Alice");

  ph_test_process_kill (joiner, SIGKILL);
  g_assert_cmpint (ph_test_process_wait_exit (joiner, EVENT_TIMEOUT_MS), ==, 128 + SIGKILL);
  killed_at = g_get_monotonic_time ();
  ph_test_process_write_line (host, "into the void");
  sent = ph_test_process_wait_event (host, "sent", EVENT_TIMEOUT_MS);

  reconnecting = ph_test_process_wait_event (host, "reconnecting", ph_test_scaled_ms (15000));
  g_test_message ("The host started reconnecting after %.1f s",
                  (g_get_monotonic_time () - killed_at) / (double)G_USEC_PER_SEC);
  failed = ph_test_process_wait_event (host, "failed", ph_test_scaled_ms (15000));
  g_assert_cmpstr (json_object_get_string_member (failed, "id"), ==,
                   json_object_get_string_member (sent, "id"));
  g_assert_cmpstr (json_object_get_string_member (failed, "reason"), ==, "not delivered");
  closed = ph_test_process_wait_event (host, "closed", EVENT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (closed, "reason"), ==, "peer-lost");
  g_test_message ("The host gave up after %.1f s",
                  (g_get_monotonic_time () - killed_at) / (double)G_USEC_PER_SEC);
  g_assert_cmpint (ph_test_process_wait_exit (host, EVENT_TIMEOUT_MS), ==, 0);
}

static void
test_fingerprint_mismatch (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhTestProcess) host = NULL;
  g_autoptr (PhTestProcess) joiner = NULL;
  g_autofree char *code = host_and_get_code (fixture->url, &host);
  /* The joiner promises one certificate and presents another, as a
   * machine in the middle would have to. */
  const char *envp[] = { "PINHOLE_TEST_ADVERTISE_WRONG_FINGERPRINT=1", NULL };
  g_autoptr (JsonObject) error = NULL;

  joiner = join (fixture->url, code, envp);
  error = ph_test_process_wait_event (host, "error", CONNECT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (error, "code"), ==, "security");
  g_assert_cmpint (ph_test_process_wait_exit (host, EVENT_TIMEOUT_MS), ==, 1);
  g_assert_cmpint (ph_test_process_wait_exit (joiner, CONNECT_TIMEOUT_MS), ==, 1);

  for (guint i = 0; i < ph_test_process_get_events (host)->len; i++)
    {
      JsonObject *event = g_ptr_array_index (ph_test_process_get_events (host), i);

      g_assert_cmpstr (json_object_get_string_member (event, "event"), !=, "connected");
    }
}

static void
test_usage_errors (void)
{
  const char *cli = g_getenv ("PINHOLE_CLI_BIN");
  const char *no_command[] = { cli, NULL };
  const char *join_without_code[] = { cli, "join", NULL };
  const char *bad_option[] = { cli, "--no-such-option", "host", NULL };
  const char *const *cases[] = { no_command, join_without_code, bad_option };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (PhTestProcess) process = ph_test_process_spawn (cases[i], NULL);

      g_assert_cmpint (ph_test_process_wait_exit (process, EVENT_TIMEOUT_MS), ==, 2);
    }
}

/* Runs `pinhole-cli --json ARGS` with @stdin_line (or nothing) as its
 * input; returns its output lines, each a JSON object, and checks the exit
 * status. */
static GPtrArray *
run_cli_objects (const char *const *args, const char *stdin_line, int expected_status)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) argv = NULL;
  g_autoptr (PhTestProcess) process = NULL;
  GPtrArray *objects = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);
  char *line;

  g_strv_builder_add (builder, g_getenv ("PINHOLE_CLI_BIN"));
  g_strv_builder_add (builder, "--json");
  g_strv_builder_addv (builder, (const char **)args);
  argv = g_strv_builder_end (builder);
  process = ph_test_process_spawn ((const char *const *)argv, NULL);
  if (stdin_line != NULL)
    ph_test_process_write_line (process, stdin_line);
  ph_test_process_close_stdin (process);
  g_assert_cmpint (ph_test_process_wait_exit (process, EVENT_TIMEOUT_MS), ==, expected_status);
  while ((line = ph_test_process_read_line (process, 0)) != NULL)
    {
      JsonObject *object = ph_test_parse_event (line);

      g_assert_nonnull (object);
      g_ptr_array_add (objects, object);
      g_free (line);
    }
  return objects;
}

static GPtrArray *
list_contacts (const char *profile)
{
  const char *args[] = { "--data-dir", profile, "contacts", NULL };

  return run_cli_objects (args, NULL, 0);
}

static void
assert_lists_only (const char *profile, JsonObject *contact, gboolean verified)
{
  g_autoptr (GPtrArray) listed = list_contacts (profile);
  JsonObject *only;

  g_assert_cmpuint (listed->len, ==, 1);
  only = g_ptr_array_index (listed, 0);
  g_assert_cmpuint (json_object_get_size (only), ==, 4);
  g_assert_cmpstr (json_object_get_string_member (only, "id"), ==,
                   json_object_get_string_member (contact, "id"));
  g_assert_cmpstr (json_object_get_string_member (only, "name"), ==,
                   json_object_get_string_member (contact, "name"));
  g_assert_cmpint (json_object_get_boolean_member (only, "verified"), ==, verified);
  g_assert_false (json_object_get_boolean_member (only, "online"));
}

static char *
fingerprint_of (const char *profile)
{
  const char *args[] = { "--data-dir", profile, "identity", NULL };
  g_autoptr (GPtrArray) events = run_cli_objects (args, NULL, 0);

  g_assert_cmpuint (events->len, ==, 1);
  return g_strdup (json_object_get_string_member (g_ptr_array_index (events, 0), "fingerprint"));
}

/* Two profiles save each other after a code chat: both print the same
 * safety number, each lists the other, and the contact travels in an
 * identity backup to a new machine. */
static void
test_save_contact_both_sides (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *top = g_dir_make_tmp ("test-cli-contacts-XXXXXX", &error);
  g_autofree char *alice = g_build_filename (top, "alice", NULL);
  g_autofree char *bob = g_build_filename (top, "bob", NULL);
  g_autofree char *moved = g_build_filename (top, "moved", NULL);
  g_autofree char *backup = g_build_filename (top, "alice.backup", NULL);
  const char *host_args[] = { "--data-dir", alice, "--save-contact", "host", NULL };
  g_autoptr (PhTestProcess) host = NULL;
  g_autoptr (PhTestProcess) joiner = NULL;
  g_autoptr (JsonObject) code = NULL;
  g_autoptr (JsonObject) host_saved = NULL;
  g_autoptr (JsonObject) joiner_saved = NULL;
  g_autofree char *alice_fingerprint = NULL;
  g_autofree char *bob_fingerprint = NULL;
  JsonObject *bob_at_alice;
  JsonObject *alice_at_bob;
  const char *verify_args[] = { "--data-dir", alice, "verify", "Bob", NULL };
  const char *export_args[] = { "--data-dir", alice, "export-identity", backup, NULL };
  const char *import_args[] = { "--data-dir", moved, "import-identity", backup, NULL };
  g_autoptr (GPtrArray) verified = NULL;
  g_autoptr (GPtrArray) exported = NULL;
  g_autoptr (GPtrArray) imported = NULL;

  g_assert_no_error (error);
  host = ph_test_spawn_cli (fixture->url, "Alice", PH_TEST_CLI_JSON, host_args, NULL);
  code = ph_test_process_wait_event (host, "code", EVENT_TIMEOUT_MS);
  {
    const char *join_args[] = {
      "--data-dir", bob, "--save-contact", "join", json_object_get_string_member (code, "code"),
      NULL
    };

    joiner = ph_test_spawn_cli (fixture->url, "Bob", PH_TEST_CLI_JSON, join_args, NULL);
  }
  /* Input that ends at once: each side still waits for the contact. */
  ph_test_process_close_stdin (host);
  ph_test_process_close_stdin (joiner);

  host_saved = ph_test_process_wait_event (host, "contact-saved", CONNECT_TIMEOUT_MS);
  joiner_saved = ph_test_process_wait_event (joiner, "contact-saved", CONNECT_TIMEOUT_MS);
  g_assert_cmpint (ph_test_process_wait_exit (host, EVENT_TIMEOUT_MS), ==, 0);
  g_assert_cmpint (ph_test_process_wait_exit (joiner, EVENT_TIMEOUT_MS), ==, 0);

  g_assert_cmpuint (json_object_get_size (host_saved), ==, 2);
  bob_at_alice = json_object_get_object_member (host_saved, "contact");
  alice_at_bob = json_object_get_object_member (joiner_saved, "contact");
  g_assert_cmpuint (json_object_get_size (bob_at_alice), ==, 4);
  g_assert_cmpstr (json_object_get_string_member (bob_at_alice, "name"), ==, "Bob");
  g_assert_cmpstr (json_object_get_string_member (alice_at_bob, "name"), ==, "Alice");
  g_assert_cmpstr (json_object_get_string_member (bob_at_alice, "safety_number"), ==,
                   json_object_get_string_member (alice_at_bob, "safety_number"));
  g_assert_cmpuint (strlen (json_object_get_string_member (bob_at_alice, "safety_number")), ==, 71);
  g_assert_cmpuint (strlen (json_object_get_string_member (bob_at_alice, "id")), ==, 32);
  g_assert_cmpstr (json_object_get_string_member (bob_at_alice, "id"), !=,
                   json_object_get_string_member (alice_at_bob, "id"));
  alice_fingerprint = fingerprint_of (alice);
  bob_fingerprint = fingerprint_of (bob);
  g_assert_cmpstr (json_object_get_string_member (bob_at_alice, "fingerprint"), ==,
                   bob_fingerprint);
  g_assert_cmpstr (json_object_get_string_member (alice_at_bob, "fingerprint"), ==,
                   alice_fingerprint);

  assert_lists_only (alice, bob_at_alice, FALSE);
  assert_lists_only (bob, alice_at_bob, FALSE);

  verified = run_cli_objects (verify_args, NULL, 0);
  g_assert_cmpuint (verified->len, ==, 1);
  g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (verified, 0), "event"), ==,
                   "contact-verified");
  assert_lists_only (alice, bob_at_alice, TRUE);

  exported = run_cli_objects (export_args, "a passphrase long enough", 0);
  imported = run_cli_objects (import_args, "a passphrase long enough", 0);
  assert_lists_only (moved, bob_at_alice, TRUE);

  ph_test_remove_tree (top);
}

/* Saving takes both: when only the host saves, neither side stores a
 * contact. */
static void
test_save_contact_one_side (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *top = g_dir_make_tmp ("test-cli-contacts-XXXXXX", &error);
  g_autofree char *alice = g_build_filename (top, "alice", NULL);
  g_autofree char *bob = g_build_filename (top, "bob", NULL);
  const char *host_args[] = { "--data-dir", alice, "--save-contact", "host", NULL };
  const char *saved_event[] = { "contact-saved", NULL };
  g_autoptr (PhTestProcess) host = NULL;
  g_autoptr (PhTestProcess) joiner = NULL;
  g_autoptr (JsonObject) code = NULL;
  g_autoptr (JsonObject) closed = NULL;
  g_autoptr (GPtrArray) alice_contacts = NULL;
  g_autoptr (GPtrArray) bob_contacts = NULL;

  g_assert_no_error (error);
  host = ph_test_spawn_cli (fixture->url, "Alice", PH_TEST_CLI_JSON, host_args, NULL);
  code = ph_test_process_wait_event (host, "code", EVENT_TIMEOUT_MS);
  {
    const char *join_args[]
        = { "--data-dir", bob, "join", json_object_get_string_member (code, "code"), NULL };

    joiner = ph_test_spawn_cli (fixture->url, "Bob", PH_TEST_CLI_JSON, join_args, NULL);
  }
  assert_connected (joiner, "Alice");
  assert_message_goes_through (joiner, host, "Bob", "no contact for me, thanks");
  ph_test_process_close_stdin (joiner);
  ph_test_process_close_stdin (host);

  closed = ph_test_process_wait_event (host, "closed", EVENT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (closed, "reason"), ==, "peer-left");
  g_assert_cmpint (ph_test_process_wait_exit (host, EVENT_TIMEOUT_MS), ==, 0);
  g_assert_cmpint (ph_test_process_wait_exit (joiner, EVENT_TIMEOUT_MS), ==, 0);
  g_assert_null (ph_test_process_next_event (host, saved_event, EVENT_TIMEOUT_MS));
  g_assert_null (ph_test_process_next_event (joiner, saved_event, EVENT_TIMEOUT_MS));
  for (guint i = 0; i < ph_test_process_get_events (host)->len; i++)
    g_assert_cmpstr (json_object_get_string_member (
                         g_ptr_array_index (ph_test_process_get_events (host), i), "event"),
                     !=, "contact-saved");

  alice_contacts = list_contacts (alice);
  bob_contacts = list_contacts (bob);
  g_assert_cmpuint (alice_contacts->len, ==, 0);
  g_assert_cmpuint (bob_contacts->len, ==, 0);

  ph_test_remove_tree (top);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func)                                                                            \
  g_test_add ("/cli/" path, Fixture, NULL, ph_test_rendezvous_fixture_set_up, func,                \
              ph_test_rendezvous_fixture_tear_down)
  ADD ("chat-both-ways", test_chat_both_ways);
  ADD ("json-times-rounded", test_json_times_rounded);
  ADD ("lines-before-connect-are-delivered", test_lines_before_connect_are_delivered);
  ADD ("debug-logs-stay-off-stdout", test_debug_logs_stay_off_stdout);
  ADD ("wrong-code", test_wrong_code);
  ADD ("unknown-code", test_unknown_code);
  ADD ("malformed-code", test_malformed_code);
  ADD ("save-contact-both-sides", test_save_contact_both_sides);
  ADD ("save-contact-one-side", test_save_contact_one_side);
#undef ADD
  ph_test_add_func_with_hooks ("/cli/rendezvous-unreachable", test_rendezvous_unreachable);
  ph_test_add_with_hooks ("/cli/peer-killed", Fixture, NULL, ph_test_rendezvous_fixture_set_up,
                          test_peer_killed, ph_test_rendezvous_fixture_tear_down);
  ph_test_add_with_hooks ("/cli/fingerprint-mismatch", Fixture, NULL,
                          ph_test_rendezvous_fixture_set_up, test_fingerprint_mismatch,
                          ph_test_rendezvous_fixture_tear_down);
  g_test_add_func ("/cli/usage-errors", test_usage_errors);

  return g_test_run ();
}
