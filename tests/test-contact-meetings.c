/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-contact-meetings"

#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include "ph-identity.h"
#include "ph-meeting-keys.h"
#include "ph-test-files.h"
#include "ph-test-programs.h"
#include "ph-test-wait.h"

/* Contacts meeting again without a code, as real pinhole-cli processes on
 * one rendezvous server: Alice and Bob save each other in a code chat,
 * then `chat CONTACT` and `listen` find each other through their meeting
 * point, and someone holding the pair secret but not Bob's identity is
 * refused (docs/protocol.md, "Meeting a contact again"). */

#define CONNECT_TIMEOUT_MS ph_test_scaled_ms (20000)
#define EVENT_TIMEOUT_MS ph_test_scaled_ms (10000)

typedef struct
{
  PhTestRendezvousFixture server;
  char *top;
  char *alice;
  char *bob;
  char *bob_id; /* Bob in Alice's contacts */
} Fixture;

static PhTestProcess *
spawn (Fixture *fixture, const char *name, const char *profile, const char *command,
       const char *contact)
{
  const char *args[] = { "--data-dir", profile, command, contact, NULL };

  return ph_test_spawn_cli (fixture->server.url, name, PH_TEST_CLI_JSON, args, NULL);
}

/* `chat CONTACT` that only delivers directly: started together with the
 * contact's `listen`, its first look may come before the contact's
 * `here`, and a stored copy would end it before they meet. */
static PhTestProcess *
spawn_direct_chat (Fixture *fixture, const char *name, const char *profile, const char *contact)
{
  const char *args[] = { "--data-dir", profile, "--no-stored-copies", "chat", contact, NULL };

  return ph_test_spawn_cli (fixture->server.url, name, PH_TEST_CLI_JSON, args, NULL);
}

/* Alice and Bob meet once with a code and both save the other. */
static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const char *host_args[] = { "--data-dir", NULL, "--save-contact", "host", NULL };
  g_autoptr (PhTestProcess) host = NULL;
  g_autoptr (PhTestProcess) joiner = NULL;
  g_autoptr (JsonObject) code = NULL;
  g_autoptr (JsonObject) host_saved = NULL;
  g_autoptr (JsonObject) joiner_saved = NULL;

  ph_test_rendezvous_fixture_set_up (&fixture->server, data);
  fixture->top = g_dir_make_tmp ("test-contact-meetings-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->alice = g_build_filename (fixture->top, "alice", NULL);
  fixture->bob = g_build_filename (fixture->top, "bob", NULL);

  host_args[1] = fixture->alice;
  host = ph_test_spawn_cli (fixture->server.url, "Alice", PH_TEST_CLI_JSON, host_args, NULL);
  code = ph_test_process_wait_event (host, "code", EVENT_TIMEOUT_MS);
  {
    const char *join_args[] = { "--data-dir",
                                fixture->bob,
                                "--save-contact",
                                "join",
                                json_object_get_string_member (code, "code"),
                                NULL };

    joiner = ph_test_spawn_cli (fixture->server.url, "Bob", PH_TEST_CLI_JSON, join_args, NULL);
  }
  ph_test_process_close_stdin (host);
  ph_test_process_close_stdin (joiner);
  host_saved = ph_test_process_wait_event (host, "contact-saved", CONNECT_TIMEOUT_MS);
  joiner_saved = ph_test_process_wait_event (joiner, "contact-saved", CONNECT_TIMEOUT_MS);
  g_assert_cmpint (ph_test_process_wait_exit (host, EVENT_TIMEOUT_MS), ==, 0);
  g_assert_cmpint (ph_test_process_wait_exit (joiner, EVENT_TIMEOUT_MS), ==, 0);
  fixture->bob_id = g_strdup (
      json_object_get_string_member (json_object_get_object_member (host_saved, "contact"), "id"));
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  ph_test_remove_tree (fixture->top);
  g_free (fixture->top);
  g_free (fixture->alice);
  g_free (fixture->bob);
  g_free (fixture->bob_id);
  ph_test_rendezvous_fixture_tear_down (&fixture->server, data);
}

static void
assert_connected_to (PhTestProcess *peer, const char *name)
{
  g_autoptr (JsonObject) event = ph_test_process_wait_event (peer, "connected", CONNECT_TIMEOUT_MS);
  JsonObject *path = json_object_get_object_member (event, "path");

  g_assert_cmpstr (json_object_get_string_member (event, "peer"), ==, name);
  g_assert_nonnull (path);
  g_assert_false (json_object_get_boolean_member (path, "relayed"));
}

static void
assert_receives (PhTestProcess *peer, const char *from, const char *text)
{
  g_autoptr (JsonObject) event = ph_test_process_wait_event (peer, "message", EVENT_TIMEOUT_MS);

  g_assert_cmpstr (json_object_get_string_member (event, "from"), ==, from);
  g_assert_cmpstr (json_object_get_string_member (event, "text"), ==, text);
}

/* `chat` writes @lines, then its input ends: it connects to @name, each
 * line is delivered, in order (a line handed again to a new conversation
 * is sent again under a new id), and it exits 0. */
static void
write_and_deliver (PhTestProcess *chat, const char *name, const char *const *lines)
{
  g_autoptr (GHashTable) sent = g_hash_table_new (g_str_hash, g_str_equal);
  const char *no_event[] = { "none", NULL };
  guint delivered = 0;
  gboolean connected = FALSE;
  GPtrArray *events;

  for (guint i = 0; lines[i] != NULL; i++)
    ph_test_process_write_line (chat, lines[i]);
  ph_test_process_close_stdin (chat);
  g_assert_cmpint (ph_test_process_wait_exit (chat, CONNECT_TIMEOUT_MS), ==, 0);
  /* Reads the rest of its output into its events. */
  g_assert_null (ph_test_process_next_event (chat, no_event, EVENT_TIMEOUT_MS));

  events = ph_test_process_get_events (chat);
  for (guint i = 0; i < events->len; i++)
    {
      JsonObject *event = g_ptr_array_index (events, i);
      const char *type = json_object_get_string_member (event, "event");

      if (g_str_equal (type, "connected"))
        {
          g_assert_cmpstr (json_object_get_string_member (event, "peer"), ==, name);
          connected = TRUE;
        }
      else if (g_str_equal (type, "sent"))
        g_hash_table_insert (sent, (gpointer)json_object_get_string_member (event, "id"),
                             (gpointer)json_object_get_string_member (event, "text"));
      else if (g_str_equal (type, "delivered"))
        {
          g_assert_nonnull (lines[delivered]);
          g_assert_cmpstr (g_hash_table_lookup (sent, json_object_get_string_member (event, "id")),
                           ==, lines[delivered]);
          delivered++;
        }
    }
  g_assert_true (connected);
  g_assert_cmpuint (delivered, ==, g_strv_length ((char **)lines));
}

static void
stop_listening (PhTestProcess *listener)
{
  ph_test_process_kill (listener, SIGTERM);
  g_assert_cmpint (ph_test_process_wait_exit (listener, EVENT_TIMEOUT_MS), ==, 0);
}

/* The next day in the life of Alice and Bob: Bob writes to Alice while
 * she listens, then Alice to Bob while he does, each without a code;
 * both ways round, so each side has hosted and joined. */
static void
test_chat_without_a_code (Fixture *fixture, gconstpointer data)
{
  const char *to_alice[] = { "good morning, Alice", "no code needed", NULL };
  const char *to_bob[] = { "morning, Bob", NULL };
  g_autoptr (PhTestProcess) alice = spawn (fixture, "Alice", fixture->alice, "listen", NULL);
  g_autoptr (PhTestProcess) bob = spawn_direct_chat (fixture, "Bob", fixture->bob, "Alice");
  g_autoptr (JsonObject) closed = NULL;

  write_and_deliver (bob, "Alice", to_alice);
  assert_connected_to (alice, "Bob");
  assert_receives (alice, "Bob", to_alice[0]);
  assert_receives (alice, "Bob", to_alice[1]);
  closed = ph_test_process_wait_event (alice, "closed", EVENT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (closed, "reason"), ==, "peer-left");
  stop_listening (alice);
  g_clear_pointer (&alice, ph_test_process_free);
  g_clear_pointer (&bob, ph_test_process_free);

  bob = spawn (fixture, "Bob", fixture->bob, "listen", NULL);
  alice = spawn_direct_chat (fixture, "Alice", fixture->alice, "Bob");
  write_and_deliver (alice, "Bob", to_bob);
  assert_receives (bob, "Alice", to_bob[0]);
  stop_listening (bob);
}

/* How many events of @type @peer printed, once it has exited. */
static guint
count_events (PhTestProcess *peer, const char *type)
{
  GPtrArray *events = ph_test_process_get_events (peer);
  guint n = 0;

  for (guint i = 0; i < events->len; i++)
    if (g_str_equal (json_object_get_string_member (g_ptr_array_index (events, i), "event"), type))
      n++;
  return n;
}

/* Alice and Bob start writing to each other at the same moment: each
 * hosts at once and says it will invite; they meet in one mailbox (side
 * 1's), once, and each line is delivered directly. */
static void
test_both_come_to_write (Fixture *fixture, gconstpointer data)
{
  const char *no_event[] = { "none", NULL };
  g_autoptr (PhTestProcess) alice = spawn_direct_chat (fixture, "Alice", fixture->alice, "Bob");
  g_autoptr (PhTestProcess) bob = spawn_direct_chat (fixture, "Bob", fixture->bob, "Alice");

  ph_test_process_write_line (alice, "are you there?");
  ph_test_process_write_line (bob, "I was about to write");
  ph_test_process_close_stdin (alice);
  ph_test_process_close_stdin (bob);
  g_assert_cmpint (ph_test_process_wait_exit (alice, CONNECT_TIMEOUT_MS), ==, 0);
  g_assert_cmpint (ph_test_process_wait_exit (bob, CONNECT_TIMEOUT_MS), ==, 0);
  g_assert_null (ph_test_process_next_event (alice, no_event, EVENT_TIMEOUT_MS));
  g_assert_null (ph_test_process_next_event (bob, no_event, EVENT_TIMEOUT_MS));
  g_assert_cmpuint (count_events (alice, "connected"), ==, 1);
  g_assert_cmpuint (count_events (bob, "connected"), ==, 1);
  g_assert_cmpuint (count_events (alice, "delivered"), ==, 1);
  g_assert_cmpuint (count_events (bob, "delivered"), ==, 1);
  g_assert_cmpuint (count_events (alice, "stored"), ==, 0);
  g_assert_cmpuint (count_events (bob, "stored"), ==, 0);
}

/* Bob writes while Alice is away: he is told she is offline, and what he
 * wrote reaches her once she is back. */
static void
test_waiting_until_the_contact_comes (Fixture *fixture, gconstpointer data)
{
  const char *lines[] = { "are you there?", NULL };
  g_autoptr (PhTestProcess) bob = spawn (fixture, "Bob", fixture->bob, "chat", "Alice");
  g_autoptr (PhTestProcess) alice = NULL;
  g_autoptr (JsonObject) waiting = ph_test_process_wait_event (bob, "waiting", EVENT_TIMEOUT_MS);
  g_autoptr (JsonObject) online = NULL;

  g_assert_cmpstr (json_object_get_string_member (waiting, "contact"), ==, "Alice");
  alice = spawn (fixture, "Alice", fixture->alice, "listen", NULL);
  online = ph_test_process_wait_event (bob, "presence", CONNECT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (online, "contact"), ==, "Alice");
  g_assert_true (json_object_get_boolean_member (online, "online"));
  write_and_deliver (bob, "Alice", lines);
  assert_receives (alice, "Bob", lines[0]);
  stop_listening (alice);
}

/* Whether `contacts` lists @name in @profile as online. */
static gboolean
listed_online (Fixture *fixture, const char *profile, const char *name)
{
  const char *args[] = { "--data-dir", profile, "contacts", NULL };
  g_autoptr (PhTestProcess) contacts
      = ph_test_spawn_cli (fixture->server.url, NULL, PH_TEST_CLI_JSON, args, NULL);
  g_autofree char *line = NULL;
  g_autoptr (JsonObject) contact = NULL;

  g_assert_cmpint (ph_test_process_wait_exit (contacts, EVENT_TIMEOUT_MS), ==, 0);
  line = ph_test_process_read_line (contacts, 0);
  g_assert_nonnull (line);
  contact = ph_test_parse_event (line);
  g_assert_cmpstr (json_object_get_string_member (contact, "name"), ==, name);
  return json_object_get_boolean_member (contact, "online");
}

/* `contacts` says who is online: Alice while her `listen` runs, and not
 * once it stopped. */
static void
test_contacts_shows_presence (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhTestProcess) bob = spawn (fixture, "Bob", fixture->bob, "listen", NULL);
  g_autoptr (PhTestProcess) alice = NULL;
  g_autoptr (JsonObject) first_look
      = ph_test_process_wait_event (bob, "presence", EVENT_TIMEOUT_MS);
  g_autoptr (JsonObject) came = NULL;
  g_autoptr (JsonObject) went = NULL;

  g_assert_false (listed_online (fixture, fixture->bob, "Alice"));
  alice = spawn (fixture, "Alice", fixture->alice, "listen", NULL);
  came = ph_test_process_wait_event (bob, "presence", CONNECT_TIMEOUT_MS);
  g_assert_true (json_object_get_boolean_member (came, "online"));
  g_assert_true (listed_online (fixture, fixture->bob, "Alice"));
  stop_listening (alice);
  went = ph_test_process_wait_event (bob, "presence", CONNECT_TIMEOUT_MS);
  g_assert_false (json_object_get_boolean_member (went, "online"));
  g_assert_false (listed_online (fixture, fixture->bob, "Alice"));
  stop_listening (bob);
}

/* Nobody comes, and Bob leaves no copy on the server: `chat` gives up
 * after --timeout with an error that says so, and exits 1. */
static void
test_timeout_when_nobody_comes (Fixture *fixture, gconstpointer data)
{
  const char *args[] = { "--data-dir",         fixture->bob, "--timeout", "1",
                         "--no-stored-copies", "chat",       "Alice",     NULL };
  g_autoptr (PhTestProcess) bob
      = ph_test_spawn_cli (fixture->server.url, "Bob", PH_TEST_CLI_JSON, args, NULL);
  g_autoptr (JsonObject) waiting = ph_test_process_wait_event (bob, "waiting", EVENT_TIMEOUT_MS);
  g_autoptr (JsonObject) error = NULL;

  ph_test_process_write_line (bob, "into the void");
  ph_test_process_close_stdin (bob);
  error = ph_test_process_wait_event (bob, "error", EVENT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (error, "code"), ==, "timeout");
  g_assert_nonnull (strstr (json_object_get_string_member (error, "message"), "Alice"));
  g_assert_cmpint (ph_test_process_wait_exit (bob, EVENT_TIMEOUT_MS), ==, 1);
}

/* What one `chat` could not deliver, the profile keeps: Bob's next `chat`,
 * with nothing new to say, delivers it to Alice once she is there. */
static void
test_kept_for_the_next_run (Fixture *fixture, gconstpointer data)
{
  const char *text = "written yesterday";
  const char *args[] = { "--data-dir",         fixture->bob, "--timeout", "1",
                         "--no-stored-copies", "chat",       "Alice",     NULL };
  g_autoptr (PhTestProcess) bob
      = ph_test_spawn_cli (fixture->server.url, "Bob", PH_TEST_CLI_JSON, args, NULL);
  g_autoptr (PhTestProcess) alice = NULL;
  g_autoptr (JsonObject) sent = NULL;
  g_autoptr (JsonObject) gave_up = NULL;
  g_autoptr (JsonObject) delivered = NULL;
  g_autoptr (JsonObject) message = NULL;

  ph_test_process_write_line (bob, text);
  ph_test_process_close_stdin (bob);
  sent = ph_test_process_wait_event (bob, "sent", EVENT_TIMEOUT_MS);
  gave_up = ph_test_process_wait_event (bob, "error", EVENT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (gave_up, "code"), ==, "timeout");
  g_assert_cmpint (ph_test_process_wait_exit (bob, EVENT_TIMEOUT_MS), ==, 1);
  g_clear_pointer (&bob, ph_test_process_free);

  alice = spawn (fixture, "Alice", fixture->alice, "listen", NULL);
  bob = spawn_direct_chat (fixture, "Bob", fixture->bob, "Alice");
  ph_test_process_close_stdin (bob);
  delivered = ph_test_process_wait_event (bob, "delivered", CONNECT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (delivered, "id"), ==,
                   json_object_get_string_member (sent, "id"));
  g_assert_cmpint (ph_test_process_wait_exit (bob, EVENT_TIMEOUT_MS), ==, 0);
  message = ph_test_process_wait_event (alice, "message", EVENT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (message, "text"), ==, text);
  stop_listening (alice);
}

/* Counts the `message` events @process printed with @text. */
static guint
count_messages (PhTestProcess *process, const char *text)
{
  GPtrArray *events = ph_test_process_get_events (process);
  guint n = 0;

  for (guint i = 0; i < events->len; i++)
    {
      JsonObject *event = g_ptr_array_index (events, i);

      n += g_str_equal (json_object_get_string_member (event, "event"), "message")
           && g_str_equal (json_object_get_string_member (event, "text"), text);
    }
  return n;
}

/* Alice is not running when Bob writes: his message waits on the server,
 * sealed, and `chat` ends at once; Alice gets it when she starts, with
 * Bob gone, and Bob learns it was delivered when he is back. */
static void
test_stored_copy_reaches_an_offline_contact (Fixture *fixture, gconstpointer data)
{
  const char *text = "written while you were away";
  g_autoptr (PhTestProcess) bob = spawn (fixture, "Bob", fixture->bob, "chat", "Alice");
  g_autoptr (PhTestProcess) alice = NULL;
  g_autoptr (JsonObject) waiting = ph_test_process_wait_event (bob, "waiting", EVENT_TIMEOUT_MS);
  g_autoptr (JsonObject) stored = NULL;
  g_autoptr (JsonObject) message = NULL;
  g_autoptr (JsonObject) delivered = NULL;
  g_autoptr (JsonObject) presence = NULL;
  g_autofree char *id = NULL;

  ph_test_process_write_line (bob, text);
  ph_test_process_close_stdin (bob);
  stored = ph_test_process_wait_event (bob, "stored", EVENT_TIMEOUT_MS);
  id = g_strdup (json_object_get_string_member (stored, "id"));
  g_assert_cmpint (ph_test_process_wait_exit (bob, EVENT_TIMEOUT_MS), ==, 0);
  g_clear_pointer (&bob, ph_test_process_free);

  alice = spawn (fixture, "Alice", fixture->alice, "listen", NULL);
  message = ph_test_process_wait_event (alice, "message", EVENT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (message, "text"), ==, text);
  g_assert_cmpstr (json_object_get_string_member (message, "id"), ==, id);
  g_assert_cmpstr (json_object_get_string_member (message, "contact"), ==, fixture->bob_id);
  stop_listening (alice);
  g_clear_pointer (&alice, ph_test_process_free);

  bob = spawn (fixture, "Bob", fixture->bob, "listen", NULL);
  delivered = ph_test_process_wait_event (bob, "delivered", EVENT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (delivered, "id"), ==, id);
  stop_listening (bob);
  g_clear_pointer (&bob, ph_test_process_free);

  /* Opened once: a new start of Alice's finds nothing more. */
  alice = spawn (fixture, "Alice", fixture->alice, "listen", NULL);
  presence = ph_test_process_wait_event (alice, "presence", EVENT_TIMEOUT_MS);
  stop_listening (alice);
  g_assert_cmpuint (count_messages (alice, text), ==, 0);
}

/* The texts of the `message` events @process printed, in order. */
static GPtrArray *
message_texts (PhTestProcess *process)
{
  GPtrArray *events = ph_test_process_get_events (process);
  GPtrArray *texts = g_ptr_array_new ();

  for (guint i = 0; i < events->len; i++)
    {
      JsonObject *event = g_ptr_array_index (events, i);

      if (g_str_equal (json_object_get_string_member (event, "event"), "message"))
        g_ptr_array_add (texts, (gpointer)json_object_get_string_member (event, "text"));
    }
  return texts;
}

/* Bob's messages are stored while Alice is away, and she comes back while
 * his `chat` still runs: they reach her both ways, and she shows each
 * once, in the order he wrote them. */
static void
test_both_paths_deliver_once (Fixture *fixture, gconstpointer data)
{
  const char *lines[] = { "one message, two ways", "a second one", "and a third", NULL };
  g_autoptr (PhTestProcess) bob = spawn (fixture, "Bob", fixture->bob, "chat", "Alice");
  g_autoptr (PhTestProcess) alice = NULL;
  g_autoptr (GPtrArray) shown = NULL;
  g_autoptr (JsonObject) closed = NULL;

  json_object_unref (ph_test_process_wait_event (bob, "waiting", EVENT_TIMEOUT_MS));
  for (guint i = 0; lines[i] != NULL; i++)
    {
      ph_test_process_write_line (bob, lines[i]);
      json_object_unref (ph_test_process_wait_event (bob, "stored", EVENT_TIMEOUT_MS));
    }
  alice = spawn (fixture, "Alice", fixture->alice, "listen", NULL);
  for (guint i = 0; lines[i] != NULL; i++)
    json_object_unref (ph_test_process_wait_event (bob, "delivered", CONNECT_TIMEOUT_MS));
  assert_connected_to (alice, "Bob");
  ph_test_process_close_stdin (bob);
  g_assert_cmpint (ph_test_process_wait_exit (bob, EVENT_TIMEOUT_MS), ==, 0);
  closed = ph_test_process_wait_event (alice, "closed", EVENT_TIMEOUT_MS);
  stop_listening (alice);
  shown = message_texts (alice);
  g_assert_cmpuint (shown->len, ==, g_strv_length ((char **)lines));
  for (guint i = 0; lines[i] != NULL; i++)
    g_assert_cmpstr (g_ptr_array_index (shown, i), ==, lines[i]);
}

/* Alice removes Bob: her `listen` no longer waits where he looks for
 * her, so his `chat` finds her offline and gives up, and a copy he
 * leaves never reaches her. */
static void
test_removed_contact_cannot_reach (Fixture *fixture, gconstpointer data)
{
  const char *remove_args[] = { "--data-dir", fixture->alice, "remove", "Bob", NULL };
  const char *chat_args[] = { "--data-dir",         fixture->bob, "--timeout", "2",
                              "--no-stored-copies", "chat",       "Alice",     NULL };
  const char *message_event[] = { "message", NULL };
  g_autoptr (PhTestProcess) remove
      = ph_test_spawn_cli (NULL, NULL, PH_TEST_CLI_JSON, remove_args, NULL);
  g_autoptr (PhTestProcess) alice = NULL;
  g_autoptr (PhTestProcess) bob = NULL;
  g_autoptr (JsonObject) waiting = NULL;
  g_autoptr (JsonObject) stored = NULL;
  g_autoptr (JsonObject) gave_up = NULL;

  g_assert_cmpint (ph_test_process_wait_exit (remove, EVENT_TIMEOUT_MS), ==, 0);
  alice = spawn (fixture, "Alice", fixture->alice, "listen", NULL);
  bob = ph_test_spawn_cli (fixture->server.url, "Bob", PH_TEST_CLI_JSON, chat_args, NULL);
  waiting = ph_test_process_wait_event (bob, "waiting", EVENT_TIMEOUT_MS);
  ph_test_process_write_line (bob, "do you still know me?");
  ph_test_process_close_stdin (bob);
  gave_up = ph_test_process_wait_event (bob, "error", CONNECT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (gave_up, "code"), ==, "timeout");
  g_assert_cmpint (ph_test_process_wait_exit (bob, EVENT_TIMEOUT_MS), ==, 1);
  g_clear_pointer (&bob, ph_test_process_free);

  bob = spawn (fixture, "Bob", fixture->bob, "chat", "Alice");
  ph_test_process_write_line (bob, "a copy for you");
  ph_test_process_close_stdin (bob);
  stored = ph_test_process_wait_event (bob, "stored", EVENT_TIMEOUT_MS);
  g_assert_cmpint (ph_test_process_wait_exit (bob, EVENT_TIMEOUT_MS), ==, 0);
  /* Alice's `listen` looked at all her points at its start and waits at
   * today's: a copy there would come at once. */
  g_assert_null (ph_test_process_next_event (alice, message_event, ph_test_scaled_ms (2000)));
  stop_listening (alice);
}

static GBytes *
public_key_of (const char *profile)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PhIdentity) identity = ph_identity_load (profile, &error);

  g_assert_no_error (error);
  return g_bytes_ref (ph_identity_get_public_key (identity));
}

/* Mallory stole Bob's contact book, pair secret and all, but not his
 * identity key: she makes her own profile around the copy, with a key
 * that takes Bob's side at the meeting point (else she would never meet
 * Alice at all). */
static char *
make_mallory (Fixture *fixture)
{
  g_autoptr (GBytes) alice_key = public_key_of (fixture->alice);
  g_autoptr (GBytes) bob_key = public_key_of (fixture->bob);
  const char *bob_side = ph_meeting_side (bob_key, alice_key);

  for (guint attempt = 0; attempt < 64; attempt++)
    {
      g_autofree char *mallory = g_strdup_printf ("%s/mallory-%u", fixture->top, attempt);
      g_autofree char *from = g_build_filename (fixture->bob, "contacts.db", NULL);
      g_autofree char *to = g_build_filename (mallory, "contacts.db", NULL);
      g_autoptr (GError) error = NULL;
      g_autoptr (PhIdentity) identity = ph_identity_load_or_create (mallory, &error);
      g_autofree char *contents = NULL;
      gsize length;

      g_assert_no_error (error);
      if (!g_str_equal (ph_meeting_side (ph_identity_get_public_key (identity), alice_key),
                        bob_side))
        continue;
      g_assert_true (g_file_get_contents (from, &contents, &length, NULL));
      g_assert_true (
          g_file_set_contents_full (to, contents, length, G_FILE_SET_CONTENTS_NONE, 0600, NULL));
      return g_steal_pointer (&mallory);
    }
  g_assert_not_reached ();
}

/* The attack: Mallory, with the pair secret, asks Alice for a chat in
 * Bob's name. Alice refuses with a security error before anything is
 * said; Mallory's `chat` delivers nothing and gives up. Bob himself, a
 * moment later, still gets through to the same Alice. */
static void
test_other_identity_refused (Fixture *fixture, gconstpointer data)
{
  g_autofree char *mallory_dir = make_mallory (fixture);
  const char *mallory_args[]
      = { "--data-dir", mallory_dir, "--timeout", "2", "chat", "Alice", NULL };
  const char *from_bob[] = { "the real Bob", NULL };
  const char *message_event[] = { "message", NULL };
  g_autoptr (PhTestProcess) alice = spawn (fixture, "Alice", fixture->alice, "listen", NULL);
  g_autoptr (PhTestProcess) mallory
      = ph_test_spawn_cli (fixture->server.url, "Bob", PH_TEST_CLI_JSON, mallory_args, NULL);
  g_autoptr (PhTestProcess) bob = NULL;
  g_autoptr (JsonObject) refused = NULL;
  g_autoptr (JsonObject) gave_up = NULL;
  g_autoptr (JsonObject) first_message = NULL;

  ph_test_process_write_line (mallory, "it is me, Bob, really");
  ph_test_process_close_stdin (mallory);
  refused = ph_test_process_wait_event (alice, "error", CONNECT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (refused, "code"), ==, "security");
  gave_up = ph_test_process_wait_event (mallory, "error", CONNECT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (gave_up, "code"), ==, "timeout");
  g_assert_cmpint (ph_test_process_wait_exit (mallory, EVENT_TIMEOUT_MS), ==, 1);
  for (guint i = 0; i < ph_test_process_get_events (mallory)->len; i++)
    g_assert_cmpstr (json_object_get_string_member (
                         g_ptr_array_index (ph_test_process_get_events (mallory), i), "event"),
                     !=, "delivered");

  bob = spawn_direct_chat (fixture, "Bob", fixture->bob, "Alice");
  write_and_deliver (bob, "Alice", from_bob);
  /* The first message Alice ever shows is the real Bob's. */
  first_message = ph_test_process_next_event (alice, message_event, EVENT_TIMEOUT_MS);
  g_assert_nonnull (first_message);
  g_assert_cmpstr (json_object_get_string_member (first_message, "text"), ==, from_bob[0]);
  stop_listening (alice);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func)                                                                            \
  g_test_add ("/contact-meetings/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("chat-without-a-code", test_chat_without_a_code);
  ADD ("both-come-to-write", test_both_come_to_write);
  ADD ("waiting-until-the-contact-comes", test_waiting_until_the_contact_comes);
  ADD ("timeout-when-nobody-comes", test_timeout_when_nobody_comes);
  ADD ("kept-for-the-next-run", test_kept_for_the_next_run);
  ADD ("contacts-shows-presence", test_contacts_shows_presence);
  ADD ("stored-copy-reaches-an-offline-contact", test_stored_copy_reaches_an_offline_contact);
  ADD ("both-paths-deliver-once", test_both_paths_deliver_once);
  ADD ("other-identity-refused", test_other_identity_refused);
  ADD ("removed-contact-cannot-reach", test_removed_contact_cannot_reach);
#undef ADD

  return g_test_run ();
}
