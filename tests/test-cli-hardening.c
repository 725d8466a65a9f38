/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-cli-hardening"

#include "config.h"

#include <string.h>

#include "ph-test-files.h"
#include "ph-test-programs.h"
#include "ph-test-wait.h"

/* Attacks on what pinhole-cli shows and exposes, each tried against a
 * real chat between two real processes that must still work:
 *  - another user on the machine reads every process's arguments (ps);
 *  - a peer sends terminal escape sequences to take over the screen. */

#define CONNECT_TIMEOUT_MS ph_test_scaled_ms (20000)
#define EVENT_TIMEOUT_MS ph_test_scaled_ms (10000)
/* How the peers here run: with or without --json, never asking the
 * server for ICE servers. */
#define JSON_PEER (PH_TEST_CLI_JSON | PH_TEST_CLI_NO_SERVER_ICE)
#define TEXT_PEER PH_TEST_CLI_NO_SERVER_ICE

typedef PhTestRendezvousFixture Fixture;

/* What `ps` shows: does any process's command line hold @secret? */
static gboolean
some_command_line_contains (const char *secret)
{
  g_autoptr (GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *name;

  g_assert_nonnull (proc);
  while ((name = g_dir_read_name (proc)) != NULL)
    {
      g_autofree char *path = g_build_filename ("/proc", name, "cmdline", NULL);
      g_autofree char *contents = NULL;
      gsize length;

      if (!g_ascii_isdigit (name[0]) || !g_file_get_contents (path, &contents, &length, NULL))
        continue;
      for (gsize i = 0; i < length; i++)
        if (contents[i] == '\0')
          contents[i] = ' ';
      if (strstr (contents, secret) != NULL)
        return TRUE;
    }
  return FALSE;
}

static char *
wait_code (PhTestProcess *host)
{
  g_autoptr (JsonObject) event = ph_test_process_wait_event (host, "code", EVENT_TIMEOUT_MS);

  return g_strdup (json_object_get_string_member (event, "code"));
}

static void
assert_delivered (PhTestProcess *sender, PhTestProcess *receiver, const char *text)
{
  g_autoptr (JsonObject) received = NULL;
  g_autoptr (JsonObject) delivered = NULL;

  ph_test_process_write_line (sender, text);
  received = ph_test_process_wait_event (receiver, "message", EVENT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (received, "text"), ==, text);
  delivered = ph_test_process_wait_event (sender, "delivered", EVENT_TIMEOUT_MS);
}

static void
finish (PhTestProcess *a, PhTestProcess *b)
{
  ph_test_process_close_stdin (a);
  ph_test_process_close_stdin (b);
  g_assert_cmpint (ph_test_process_wait_exit (a, EVENT_TIMEOUT_MS), ==, 0);
  g_assert_cmpint (ph_test_process_wait_exit (b, EVENT_TIMEOUT_MS), ==, 0);
}

/* `join -` takes the code from standard input: it never appears in ps,
 * and the chat works as with the code on the command line. */
static void
test_code_stays_out_of_ps (Fixture *fixture, gconstpointer data)
{
  const char *host_args[] = { "host", NULL };
  const char *join_args[] = { "join", "-", NULL };
  g_autoptr (PhTestProcess) host
      = ph_test_spawn_cli (fixture->url, NULL, JSON_PEER, host_args, NULL);
  g_autoptr (PhTestProcess) joiner = NULL;
  g_autofree char *code = wait_code (host);
  g_autoptr (JsonObject) connected = NULL;

  joiner = ph_test_spawn_cli (fixture->url, NULL, JSON_PEER, join_args, NULL);
  ph_test_process_write_line (joiner, code);
  connected = ph_test_process_wait_event (joiner, "connected", CONNECT_TIMEOUT_MS);
  g_assert_false (some_command_line_contains (code));
  assert_delivered (joiner, host, "the code stayed private");
  finish (host, joiner);
}

/* The TURN password from a file or the environment is accepted and
 * never shows in ps. The TURN server here is a dead port: the chat
 * still connects directly on loopback. */
static void
test_turn_password_stays_out_of_ps (Fixture *fixture, gconstpointer data)
{
  const char *password = "correct-horse-battery-staple";
  g_autofree char *directory = g_dir_make_tmp ("ph-cli-hardening-XXXXXX", NULL);
  g_autofree char *file = g_build_filename (directory, "turn-pass", NULL);
  g_autofree char *file_arg = g_strconcat ("--turn-pass-file=", file, NULL);
  g_autofree char *env_pass = g_strconcat ("PINHOLE_TURN_PASS=", password, NULL);
  const char *host_args[]
      = { "--turn", "turn:127.0.0.1:9", "--turn-user", "alice", file_arg, "host", NULL };
  const char *host_env[] = { NULL };
  const char *join_env[] = { env_pass, NULL };
  g_autoptr (PhTestProcess) host = NULL;
  g_autoptr (PhTestProcess) joiner = NULL;
  g_autofree char *code = NULL;
  g_autofree char *line = g_strconcat (password, "\n", NULL);
  g_autoptr (JsonObject) connected = NULL;
  const char *join_args[]
      = { "--turn", "turn:127.0.0.1:9", "--turn-user", "bob", "join", NULL, NULL };

  g_assert_true (g_file_set_contents (file, line, -1, NULL));
  host = ph_test_spawn_cli (fixture->url, NULL, JSON_PEER, host_args, host_env);
  code = wait_code (host);
  join_args[5] = code;
  joiner = ph_test_spawn_cli (fixture->url, NULL, JSON_PEER, join_args, join_env);
  connected = ph_test_process_wait_event (joiner, "connected", CONNECT_TIMEOUT_MS);
  g_assert_false (some_command_line_contains (password));
  assert_delivered (host, joiner, "relay secret kept");
  finish (host, joiner);
  ph_test_remove_tree (directory);
}

/* A peer's message with escape sequences (retitle the window, clear the
 * screen, fake a "peer left" line) is shown as visible escapes: no ESC
 * byte and no line of the peer's making reaches the terminal. */
static void
test_escape_sequences_are_shown_not_run (Fixture *fixture, gconstpointer data)
{
  const char *host_args[] = { "host", NULL };
  const char *hostile = "\x1b]0;pwned\x07\x1b[2Jhello\xc2\x9b"
                        "31m";
  g_autoptr (PhTestProcess) host
      = ph_test_spawn_cli (fixture->url, NULL, TEXT_PEER, host_args, NULL);
  g_autoptr (PhTestProcess) joiner = NULL;
  g_autofree char *code = NULL;
  g_autofree char *line = NULL;
  g_autoptr (JsonObject) connected = NULL;
  g_autoptr (JsonObject) delivered = NULL;
  g_autoptr (JsonObject) received = NULL;
  const char *join_args[] = { "--name", "Mallory", "join", NULL, NULL };

  /* "Your code is 7-word-word" */
  line = ph_test_process_read_line (host, EVENT_TIMEOUT_MS);
  g_assert_true (g_str_has_prefix (line, "Your code is "));
  code = g_strdup (line + strlen ("Your code is "));
  join_args[3] = code;
  joiner = ph_test_spawn_cli (fixture->url, NULL, JSON_PEER, join_args, NULL);
  connected = ph_test_process_wait_event (joiner, "connected", CONNECT_TIMEOUT_MS);
  ph_test_process_write_line (joiner, hostile);
  delivered = ph_test_process_wait_event (joiner, "delivered", EVENT_TIMEOUT_MS);

  for (;;)
    {
      g_free (line);
      line = ph_test_process_read_line (host, EVENT_TIMEOUT_MS);
      g_assert_nonnull (line);
      g_assert_null (strchr (line, '\x1b'));
      g_assert_null (strstr (line, "\xc2\x9b"));
      if (g_str_has_prefix (line, "Mallory: "))
        break;
    }
  g_assert_cmpstr (line, ==, "Mallory: \\e]0;pwned\\u{7}\\e[2Jhello\\u{9B}31m");

  /* The chat goes on. */
  ph_test_process_write_line (host, "still here");
  received = ph_test_process_wait_event (joiner, "message", EVENT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (received, "text"), ==, "still here");
  finish (host, joiner);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func)                                                                            \
  g_test_add ("/cli-hardening/" path, Fixture, NULL, ph_test_rendezvous_fixture_set_up, func,      \
              ph_test_rendezvous_fixture_tear_down)
  ADD ("code-stays-out-of-ps", test_code_stays_out_of_ps);
  ADD ("turn-password-stays-out-of-ps", test_turn_password_stays_out_of_ps);
  ADD ("escape-sequences-are-shown-not-run", test_escape_sequences_are_shown_not_run);
#undef ADD
  return g_test_run ();
}
