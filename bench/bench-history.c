/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "bench-history"

#include "config.h"

#include <stdio.h>

#include <sqlite3.h>

#include "ph-history.h"
#include "ph-test-files.h"

/* What the chat history costs, in one run on this machine's disk: a
 * message written the way the app writes it (a commit of its own,
 * synchronous=NORMAL), beside bare SQLite rows committed one by one with
 * synchronous=FULL (the choice not taken) and written in one transaction
 * (the floor); then a long chat read back. The numbers behind the comment
 * on durability in src/history/ph-history.c. Prints numbers; never fails
 * on time. */

#define DEFAULT_MESSAGES 10000
/* Each FULL commit waits for the disk: a few hundred show its cost. */
#define FULL_ROWS 200

static sqlite3 *
open_bare (const char *path, const char *synchronous)
{
  g_autofree char *setup = g_strdup_printf ("PRAGMA journal_mode = WAL; PRAGMA synchronous = %s;"
                                            "CREATE TABLE m (seq INTEGER PRIMARY KEY, text TEXT)",
                                            synchronous);
  sqlite3 *db;

  if (sqlite3_open (path, &db) != SQLITE_OK
      || sqlite3_exec (db, setup, NULL, NULL, NULL) != SQLITE_OK)
    g_error ("could not make %s: %s", path, sqlite3_errmsg (db));
  return db;
}

/* Microseconds a row for @n rows of a chat line into @db, each in a
 * commit of its own or all in one transaction. */
static double
insert_bare (sqlite3 *db, guint n, gboolean one_transaction)
{
  sqlite3_stmt *insert;
  gint64 start;
  gint64 elapsed;

  if (sqlite3_prepare_v2 (db, "INSERT INTO m (text) VALUES ('a chat line')", -1, &insert, NULL)
      != SQLITE_OK)
    g_error ("could not prepare the insert: %s", sqlite3_errmsg (db));

  start = g_get_monotonic_time ();
  if (one_transaction)
    sqlite3_exec (db, "BEGIN", NULL, NULL, NULL);
  for (guint i = 0; i < n; i++)
    {
      if (sqlite3_step (insert) != SQLITE_DONE)
        g_error ("could not insert: %s", sqlite3_errmsg (db));
      sqlite3_reset (insert);
    }
  if (one_transaction && sqlite3_exec (db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    g_error ("could not commit: %s", sqlite3_errmsg (db));
  elapsed = g_get_monotonic_time () - start;

  sqlite3_finalize (insert);
  return (double)elapsed / n;
}

int
main (int argc, char *argv[])
{
  guint n_messages = argc > 1 ? (guint)g_ascii_strtoull (argv[1], NULL, 10) : DEFAULT_MESSAGES;
  g_autoptr (GError) error = NULL;
  g_autofree char *directory = g_dir_make_tmp ("bench-history-XXXXXX", &error);
  g_autofree char *path = NULL;
  g_autofree char *full_path = NULL;
  g_autofree char *floor_path = NULL;
  g_autoptr (PhHistory) history = NULL;
  g_autoptr (PhHistoryConversation) conversation = ph_history_conversation_new ();
  g_autoptr (GPtrArray) messages = NULL;
  g_autoptr (GPtrArray) page = NULL;
  sqlite3 *db;
  gint64 start;
  double app_us, full_us, floor_us, read_ms, page_ms;

  if (directory == NULL)
    g_error ("no temporary folder: %s", error->message);
  if (n_messages == 0)
    n_messages = DEFAULT_MESSAGES;
  path = g_build_filename (directory, "history.db", NULL);
  full_path = g_build_filename (directory, "full.db", NULL);
  floor_path = g_build_filename (directory, "floor.db", NULL);

  history = ph_history_open (path, &error);
  if (history == NULL)
    g_error ("could not open %s: %s", path, error->message);
  conversation->peer_name = g_strdup ("Bob");
  if (!ph_history_add_conversation (history, conversation, &error))
    g_error ("could not add a conversation: %s", error->message);

  start = g_get_monotonic_time ();
  for (guint i = 0; i < n_messages; i++)
    {
      g_autofree char *id = g_strdup_printf ("%u", i);
      g_autofree char *text = g_strdup_printf ("Message %u, about as long as a chat line is.", i);
      g_autoptr (PhHistoryMessage) message
          = ph_history_message_new (conversation->id, id, i % 2, 1000 + i, text);

      if (!ph_history_add_message (history, message, &error))
        g_error ("could not add message %u: %s", i, error->message);
    }
  app_us = (double)(g_get_monotonic_time () - start) / n_messages;

  /* Read back as after a restart, with nothing cached. */
  g_clear_object (&history);
  history = ph_history_open (path, &error);
  if (history == NULL)
    g_error ("could not reopen %s: %s", path, error->message);
  start = g_get_monotonic_time ();
  messages = ph_history_list_messages_before (history, conversation->id, 0, 0, &error);
  read_ms = (g_get_monotonic_time () - start) / 1000.0;
  if (messages == NULL || messages->len != n_messages)
    g_error ("read back %u of %u messages", messages != NULL ? messages->len : 0, n_messages);
  start = g_get_monotonic_time ();
  page = ph_history_list_messages_before (history, conversation->id, 0, 100, &error);
  page_ms = (g_get_monotonic_time () - start) / 1000.0;
  if (page == NULL)
    g_error ("could not read the newest page: %s", error->message);
  g_clear_object (&history);

  db = open_bare (full_path, "FULL");
  full_us = insert_bare (db, FULL_ROWS, FALSE);
  sqlite3_close (db);
  db = open_bare (floor_path, "NORMAL");
  floor_us = insert_bare (db, n_messages, TRUE);
  sqlite3_close (db);

  printf ("write one message as the app does (own commit, synchronous=NORMAL): %.1f us "
          "(%u messages in %.0f ms)\n",
          app_us, n_messages, app_us * n_messages / 1000);
  printf ("  bare row, own commit, synchronous=FULL: %.1f us (%u rows): %.1fx the app's write\n",
          full_us, FULL_ROWS, full_us / app_us);
  printf ("  bare row, all in one transaction: %.2f us (%u rows): the app's write is %.0fx it\n",
          floor_us, n_messages, app_us / floor_us);
  printf ("load %u messages: %.1f ms; the newest page of 100: %.2f ms\n", n_messages, read_ms,
          page_ms);
  printf ("summary: messages=%u write_us=%.1f full_us=%.1f full_ratio=%.2f floor_us=%.2f "
          "floor_ratio=%.1f load_ms=%.1f page_ms=%.2f\n",
          n_messages, app_us, full_us, full_us / app_us, floor_us, app_us / floor_us, read_ms,
          page_ms);

  ph_test_remove_tree (directory);
  return 0;
}
