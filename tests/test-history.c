/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-history"

#include "config.h"

#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "ph-history.h"
#include "ph-test-files.h"

/* The chat history as a person relies on it: what was shown comes back,
 * in order, with the right states, after a restart or a crash; the files
 * are private; a damaged file is an error, not a crash. */

typedef struct
{
  char *directory;
  char *path;
  PhHistory *history;
} Fixture;

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture->directory = g_dir_make_tmp ("ph-history-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->path = g_build_filename (fixture->directory, "pinhole", "history.db", NULL);
  fixture->history = ph_history_open (fixture->path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (fixture->history);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  if (fixture->history != NULL)
    g_assert_finalize_object (fixture->history);
  ph_test_remove_tree (fixture->directory);
  g_free (fixture->directory);
  g_free (fixture->path);
}

static PhHistoryConversation *
add_conversation (PhHistory *history, const char *peer_name, gint64 created_ms)
{
  g_autoptr (PhHistoryConversation) conversation = ph_history_conversation_new ();
  g_autoptr (GError) error = NULL;

  conversation->peer_name = g_strdup (peer_name);
  conversation->code = g_strdup ("7-guitarist-revenge");
  conversation->created_ms = created_ms;
  conversation->last_activity_ms = created_ms;
  conversation->state = PH_CONVERSATION_STATE_CONNECTED;
  g_assert_true (ph_history_add_conversation (history, conversation, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&conversation);
}

static PhHistoryMessage *
add_message (PhHistory *history, const char *conversation_id, const char *id, gboolean outgoing,
             gint64 time_ms, const char *text)
{
  g_autoptr (PhHistoryMessage) message
      = ph_history_message_new (conversation_id, id, outgoing, time_ms, text);
  g_autoptr (GError) error = NULL;

  g_assert_true (ph_history_add_message (history, message, &error));
  g_assert_no_error (error);
  g_assert_cmpint (message->seq, >, 0);
  return g_steal_pointer (&message);
}

static GPtrArray *
all_messages (PhHistory *history, const char *conversation_id)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *messages = ph_history_list_messages_before (history, conversation_id, 0, 0, &error);

  g_assert_no_error (error);
  g_assert_nonnull (messages);
  return messages;
}

static PhHistory *
reopen (Fixture *fixture)
{
  g_autoptr (GError) error = NULL;

  g_assert_finalize_object (fixture->history);
  fixture->history = ph_history_open (fixture->path, &error);
  g_assert_no_error (error);
  return fixture->history;
}

static void
test_round_trip (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhHistoryConversation) conversation = NULL;
  g_autoptr (PhHistoryMessage) sent = NULL;
  g_autoptr (PhHistoryMessage) received = NULL;
  g_autoptr (GPtrArray) conversations = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  g_autoptr (GError) error = NULL;
  PhHistoryConversation *stored;
  PhHistoryMessage *message;

  conversation = add_conversation (fixture->history, NULL, 1700000000000);
  g_assert_true (g_uuid_string_is_valid (conversation->id));
  sent = add_message (fixture->history, conversation->id, "m1", TRUE, 1700000001000,
                      "Hello Bob, the notes are at https://example.org/notes.");
  received = add_message (fixture->history, conversation->id, "x9", FALSE, 1700000002000,
                          "Hi Alice! Got them. ✓\nSecond line");
  g_assert_cmpint (received->seq, >, sent->seq);

  /* The peer said hello, then left. */
  g_free (conversation->peer_name);
  conversation->peer_name = g_strdup ("Bob");
  conversation->state = PH_CONVERSATION_STATE_CLOSED;
  conversation->close_reason = g_strdup ("peer-left");
  conversation->path_summary = g_strdup ("direct (host ↔ host, udp)");
  g_assert_true (ph_history_update_conversation (fixture->history, conversation, &error));
  g_assert_no_error (error);

  reopen (fixture);
  conversations = ph_history_list_conversations (fixture->history, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (conversations->len, ==, 1);
  stored = conversations->pdata[0];
  g_assert_cmpstr (stored->id, ==, conversation->id);
  g_assert_cmpstr (stored->peer_name, ==, "Bob");
  g_assert_cmpstr (stored->code, ==, "7-guitarist-revenge");
  g_assert_cmpint (stored->created_ms, ==, 1700000000000);
  /* Each message moves the conversation's last activity on. */
  g_assert_cmpint (stored->last_activity_ms, ==, 1700000002000);
  g_assert_cmpint (stored->state, ==, PH_CONVERSATION_STATE_CLOSED);
  g_assert_cmpstr (stored->path_summary, ==, "direct (host ↔ host, udp)");
  g_assert_cmpstr (stored->close_reason, ==, "peer-left");

  messages = all_messages (fixture->history, conversation->id);
  g_assert_cmpuint (messages->len, ==, 2);
  message = messages->pdata[0];
  g_assert_cmpstr (message->id, ==, "m1");
  g_assert_cmpstr (message->conversation_id, ==, conversation->id);
  g_assert_true (message->outgoing);
  g_assert_cmpint (message->time_ms, ==, 1700000001000);
  g_assert_cmpstr (message->text, ==, sent->text);
  g_assert_cmpint (message->state, ==, PH_HISTORY_MESSAGE_SENDING);
  g_assert_null (message->failure_reason);
  g_assert_cmpint (message->seq, ==, sent->seq);
  message = messages->pdata[1];
  g_assert_false (message->outgoing);
  g_assert_cmpstr (message->text, ==, "Hi Alice! Got them. ✓\nSecond line");
  g_assert_cmpint (message->state, ==, PH_HISTORY_MESSAGE_DELIVERED);
}

static void
test_conversation_order (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhHistoryConversation) old = add_conversation (fixture->history, "Old", 1000);
  g_autoptr (PhHistoryConversation) middle = add_conversation (fixture->history, "Middle", 2000);
  g_autoptr (PhHistoryConversation) new = add_conversation (fixture->history, "New", 3000);
  g_autoptr (PhHistoryMessage) message = NULL;
  g_autoptr (GPtrArray) conversations = NULL;
  g_autoptr (GError) error = NULL;

  /* A message brings the oldest chat to the top. */
  message = add_message (fixture->history, old->id, "1", FALSE, 4000, "back again");
  conversations = ph_history_list_conversations (fixture->history, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (conversations->len, ==, 3);
  g_assert_cmpstr (((PhHistoryConversation *)conversations->pdata[0])->peer_name, ==, "Old");
  g_assert_cmpstr (((PhHistoryConversation *)conversations->pdata[1])->peer_name, ==, "New");
  g_assert_cmpstr (((PhHistoryConversation *)conversations->pdata[2])->peer_name, ==, "Middle");
}

static void
assert_page (GPtrArray *page, guint first, guint n)
{
  g_assert_cmpuint (page->len, ==, n);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *text = g_strdup_printf ("message %u", first + i);

      g_assert_cmpstr (((PhHistoryMessage *)page->pdata[i])->text, ==, text);
    }
}

static void
test_paging (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhHistoryConversation) conversation = add_conversation (fixture->history, "A", 1);
  g_autoptr (PhHistoryConversation) other = add_conversation (fixture->history, "B", 1);
  g_autoptr (GPtrArray) page = NULL;
  g_autoptr (GError) error = NULL;
  gint64 seqs[25];

  for (guint i = 0; i < 25; i++)
    {
      g_autofree char *text = g_strdup_printf ("message %u", i);
      g_autoptr (PhHistoryMessage) message
          = add_message (fixture->history, conversation->id, "same-id", i % 2, 100 + i, text);
      g_autoptr (PhHistoryMessage) noise
          = add_message (fixture->history, other->id, "n", FALSE, 100 + i, "other chat");

      seqs[i] = message->seq;
    }

  /* The newest page first, then back from its oldest message. */
  page = ph_history_list_messages_before (fixture->history, conversation->id, 0, 10, &error);
  g_assert_no_error (error);
  assert_page (page, 15, 10);
  g_clear_pointer (&page, g_ptr_array_unref);
  page = ph_history_list_messages_before (fixture->history, conversation->id, seqs[15], 10, &error);
  assert_page (page, 5, 10);
  g_clear_pointer (&page, g_ptr_array_unref);
  page = ph_history_list_messages_before (fixture->history, conversation->id, seqs[5], 10, &error);
  assert_page (page, 0, 5);
  g_clear_pointer (&page, g_ptr_array_unref);

  /* Forwards from a point, and everything at once. */
  page = ph_history_list_messages_after (fixture->history, conversation->id, seqs[20], 10, &error);
  assert_page (page, 21, 4);
  g_clear_pointer (&page, g_ptr_array_unref);
  page = ph_history_list_messages_after (fixture->history, conversation->id, 0, 0, &error);
  assert_page (page, 0, 25);
  g_clear_pointer (&page, g_ptr_array_unref);
  g_assert_no_error (error);

  page = ph_history_list_messages_before (fixture->history, "no-such-chat", 0, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (page->len, ==, 0);
}

static void
test_outbox_and_states (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhHistoryConversation) conversation = add_conversation (fixture->history, "Bob", 1);
  g_autoptr (PhHistoryMessage) first = NULL;
  g_autoptr (PhHistoryMessage) second = NULL;
  g_autoptr (PhHistoryMessage) third = NULL;
  g_autoptr (PhHistoryMessage) received = NULL;
  g_autoptr (GPtrArray) outbox = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  g_autoptr (GError) error = NULL;
  PhHistoryMessage *message;

  first = add_message (fixture->history, conversation->id, "1", TRUE, 10, "one");
  second = add_message (fixture->history, conversation->id, "2", TRUE, 11, "two");
  third = add_message (fixture->history, conversation->id, "3", TRUE, 12, "three");
  received = add_message (fixture->history, conversation->id, "1", FALSE, 13, "their one");

  outbox = ph_history_list_outbox (fixture->history, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (outbox->len, ==, 3);
  g_clear_pointer (&outbox, g_ptr_array_unref);

  /* sending → sent → delivered; sending → failed with a reason. */
  g_assert_true (ph_history_set_message_state (fixture->history, conversation->id, "1",
                                               PH_HISTORY_MESSAGE_SENT, NULL, &error));
  g_assert_true (ph_history_set_message_state (fixture->history, conversation->id, "2",
                                               PH_HISTORY_MESSAGE_SENT, NULL, &error));
  g_assert_true (ph_history_set_message_state (fixture->history, conversation->id, "1",
                                               PH_HISTORY_MESSAGE_DELIVERED, NULL, &error));
  g_assert_true (ph_history_set_message_state (fixture->history, conversation->id, "3",
                                               PH_HISTORY_MESSAGE_FAILED,
                                               "not delivered before Pinhole closed", &error));
  g_assert_no_error (error);

  outbox = ph_history_list_outbox (fixture->history, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (outbox->len, ==, 1);
  message = outbox->pdata[0];
  g_assert_cmpstr (message->id, ==, "2");
  g_assert_cmpint (message->state, ==, PH_HISTORY_MESSAGE_SENT);

  reopen (fixture);
  messages = all_messages (fixture->history, conversation->id);
  g_assert_cmpuint (messages->len, ==, 4);
  g_assert_cmpint (((PhHistoryMessage *)messages->pdata[0])->state, ==,
                   PH_HISTORY_MESSAGE_DELIVERED);
  g_assert_cmpint (((PhHistoryMessage *)messages->pdata[1])->state, ==, PH_HISTORY_MESSAGE_SENT);
  message = messages->pdata[2];
  g_assert_cmpint (message->state, ==, PH_HISTORY_MESSAGE_FAILED);
  g_assert_cmpstr (message->failure_reason, ==, "not delivered before Pinhole closed");
  /* A received message with the same id as an outgoing one is untouched. */
  g_assert_cmpint (((PhHistoryMessage *)messages->pdata[3])->state, ==,
                   PH_HISTORY_MESSAGE_DELIVERED);

  /* Only outgoing messages change state. */
  g_assert_false (ph_history_set_message_state (fixture->history, conversation->id, "9",
                                                PH_HISTORY_MESSAGE_DELIVERED, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

static gboolean
file_contains (const char *path, const char *needle)
{
  g_autofree char *contents = NULL;
  gsize length = 0;

  gsize needle_length = strlen (needle);

  if (!g_file_get_contents (path, &contents, &length, NULL))
    return FALSE;
  for (gsize i = 0; i + needle_length <= length; i++)
    if (memcmp (contents + i, needle, needle_length) == 0)
      return TRUE;
  return FALSE;
}

/* Someone who copies the history file after a chat was deleted finds
 * nothing of it: not in the database's free pages, not in its WAL. */
static void
test_delete_leaves_no_trace (Fixture *fixture, gconstpointer data)
{
  const char *secret = "the-safe-combination-is-4-8-15-16";
  g_autoptr (PhHistoryConversation) gone = add_conversation (fixture->history, "Gone", 1);
  g_autoptr (PhHistoryMessage) message
      = add_message (fixture->history, gone->id, "m", TRUE, 2, secret);
  g_autofree char *wal = g_strconcat (fixture->path, "-wal", NULL);
  g_autoptr (GError) error = NULL;

  g_assert_true (file_contains (fixture->path, secret) || file_contains (wal, secret));
  g_assert_true (ph_history_delete_conversation (fixture->history, gone->id, &error));
  g_assert_no_error (error);
  g_assert_false (file_contains (fixture->path, secret));
  g_assert_false (file_contains (wal, secret));
}

static void
test_delete (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhHistoryConversation) kept = add_conversation (fixture->history, "Kept", 1);
  g_autoptr (PhHistoryConversation) gone = add_conversation (fixture->history, "Gone", 2);
  g_autoptr (PhHistoryMessage) a = add_message (fixture->history, kept->id, "a", TRUE, 5, "a");
  g_autoptr (PhHistoryMessage) b = add_message (fixture->history, gone->id, "b", TRUE, 6, "b");
  g_autoptr (GPtrArray) conversations = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  g_autoptr (GPtrArray) outbox = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (ph_history_delete_conversation (fixture->history, gone->id, &error));
  g_assert_no_error (error);

  conversations = ph_history_list_conversations (fixture->history, &error);
  g_assert_cmpuint (conversations->len, ==, 1);
  g_assert_cmpstr (((PhHistoryConversation *)conversations->pdata[0])->id, ==, kept->id);
  messages = all_messages (fixture->history, gone->id);
  g_assert_cmpuint (messages->len, ==, 0);
  outbox = ph_history_list_outbox (fixture->history, &error);
  g_assert_cmpuint (outbox->len, ==, 1);

  /* A message cannot belong to a chat that is not there. */
  g_clear_pointer (&b, ph_history_message_free);
  b = ph_history_message_new (gone->id, "b2", TRUE, 7, "late");
  g_assert_false (ph_history_add_message (fixture->history, b, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);

  g_free (gone->peer_name);
  gone->peer_name = g_strdup ("Renamed");
  g_assert_false (ph_history_update_conversation (fixture->history, gone, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

static void
assert_mode (const char *path, guint mode)
{
  struct stat st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 0777, ==, mode);
}

static void
test_file_modes (Fixture *fixture, gconstpointer data)
{
  g_autofree char *directory = g_path_get_dirname (fixture->path);
  g_autofree char *wal = g_strconcat (fixture->path, "-wal", NULL);
  g_autofree char *loose = g_build_filename (fixture->directory, "loose", "history.db", NULL);
  g_autofree char *loose_directory = g_path_get_dirname (loose);
  g_autoptr (PhHistoryConversation) conversation = NULL;
  g_autoptr (GError) error = NULL;
  PhHistory *history;
  mode_t old_umask;

  /* The fixture opened it under the test's umask; now a careless one. */
  g_assert_finalize_object (fixture->history);
  old_umask = umask (0);
  fixture->history = ph_history_open (fixture->path, &error);
  g_assert_no_error (error);
  conversation = add_conversation (fixture->history, "Bob", 1);
  assert_mode (directory, 0700);
  assert_mode (fixture->path, 0600);
  assert_mode (wal, 0600);

  /* A file and folder someone left readable by all are tightened. */
  g_assert_cmpint (g_mkdir_with_parents (loose_directory, 0755), ==, 0);
  g_assert_true (g_file_set_contents (loose, "", 0, NULL));
  g_assert_cmpint (g_chmod (loose, 0644), ==, 0);
  history = ph_history_open (loose, &error);
  g_assert_no_error (error);
  assert_mode (loose_directory, 0700);
  assert_mode (loose, 0600);
  g_assert_finalize_object (history);
  umask (old_umask);
}

static void
copy_file (const char *from, const char *to)
{
  g_autofree char *contents = NULL;
  gsize length;

  g_assert_true (g_file_get_contents (from, &contents, &length, NULL));
  g_assert_true (g_file_set_contents (to, contents, length, NULL));
}

/* What a crash leaves behind: the database and its WAL as they are while
 * the app still has them open, with no checkpoint and no clean close. */
static void
test_reopen_after_crash (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhHistoryConversation) conversation = add_conversation (fixture->history, "Bob", 1);
  g_autofree char *copy = g_build_filename (fixture->directory, "crashed.db", NULL);
  g_autoptr (GPtrArray) messages = NULL;
  g_autoptr (GPtrArray) outbox = NULL;
  g_autoptr (GError) error = NULL;
  PhHistory *history;

  for (guint i = 0; i < 50; i++)
    {
      g_autofree char *id = g_strdup_printf ("%u", i);
      g_autoptr (PhHistoryMessage) message
          = add_message (fixture->history, conversation->id, id, TRUE, i, id);
    }
  g_assert_true (ph_history_set_message_state (fixture->history, conversation->id, "0",
                                               PH_HISTORY_MESSAGE_DELIVERED, NULL, &error));

  for (guint i = 0; i < 2; i++)
    {
      const char *suffix = i == 0 ? "" : "-wal";
      g_autofree char *from = g_strconcat (fixture->path, suffix, NULL);
      g_autofree char *to = g_strconcat (copy, suffix, NULL);

      copy_file (from, to);
    }

  history = ph_history_open (copy, &error);
  g_assert_no_error (error);
  messages = all_messages (history, conversation->id);
  g_assert_cmpuint (messages->len, ==, 50);
  g_assert_cmpstr (((PhHistoryMessage *)messages->pdata[49])->text, ==, "49");
  outbox = ph_history_list_outbox (history, &error);
  g_assert_cmpuint (outbox->len, ==, 49);
  g_assert_finalize_object (history);
}

static void
test_corrupt_file (void)
{
  g_autofree char *directory = g_dir_make_tmp ("ph-history-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (directory, "history.db", NULL);
  g_autofree char *garbage = g_strnfill (8192, 'x');
  g_autoptr (GError) error = NULL;
  PhHistory *history;

  g_assert_true (g_file_set_contents (path, garbage, -1, NULL));
  history = ph_history_open (path, &error);
  g_assert_null (history);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_nonnull (strstr (error->message, "Move it away"));
  g_test_message ("%s", error->message);
  g_remove (path);
  g_rmdir (directory);
}

static void
test_newer_schema (Fixture *fixture, gconstpointer data)
{
  sqlite3 *db;
  g_autoptr (GError) error = NULL;

  g_assert_finalize_object (g_steal_pointer (&fixture->history));
  g_assert_cmpint (sqlite3_open (fixture->path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "INSERT INTO schema_version VALUES (99)", NULL, NULL, NULL),
                   ==, SQLITE_OK);
  sqlite3_close (db);

  g_assert_null (ph_history_open (fixture->path, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
}

static void
test_unwritable_folder (void)
{
  g_autoptr (GError) error = NULL;

  /* /proc takes no new folders, even from root. */
  g_assert_null (ph_history_open ("/proc/pinhole-test/history.db", &error));
  g_assert_nonnull (error);
  g_assert_true (error->domain == G_IO_ERROR);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func)                                                                            \
  g_test_add ("/history/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("round-trip", test_round_trip);
  ADD ("conversation-order", test_conversation_order);
  ADD ("paging", test_paging);
  ADD ("outbox-and-states", test_outbox_and_states);
  ADD ("delete", test_delete);
  ADD ("delete-leaves-no-trace", test_delete_leaves_no_trace);
  ADD ("file-modes", test_file_modes);
  ADD ("reopen-after-crash", test_reopen_after_crash);
  ADD ("newer-schema", test_newer_schema);
#undef ADD
  g_test_add_func ("/history/corrupt-file", test_corrupt_file);
  g_test_add_func ("/history/unwritable-folder", test_unwritable_folder);

  return g_test_run ();
}
