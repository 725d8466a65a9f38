/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-history"

#include "config.h"

#include <sqlite3.h>

#include "ph-history.h"
#include "ph-private-file.h"

/* Durability: WAL with synchronous=NORMAL, for every write including the
 * outbox. A commit is in the WAL file before sqlite3_step () returns, so it
 * survives the app crashing or being killed, which is what the outbox is
 * for; only a power cut or kernel crash can roll back the last commits, and
 * never corrupts the file. synchronous=FULL would add an fsync to every
 * message. Measured by bench/bench-history.c on this machine (a busy VM,
 * ext4 on virtio, single-row autocommit inserts of a chat line): NORMAL
 * 50–150 µs a message, FULL 150 µs–1.4 ms a message; listing 10,000
 * messages 6–13 ms, the newest 100 of them 0.08 ms. A single write does
 * not hold up the main loop noticeably; FULL would cost ten times more for
 * a guarantee against power cuts, not crashes. */

/* How long a write waits for another connection's lock (a second copy of
 * the app on the same profile) before giving up with an error. */
#define BUSY_TIMEOUT_MS 250

typedef enum
{
  STMT_ADD_CONVERSATION,
  STMT_UPDATE_CONVERSATION,
  STMT_DELETE_CONVERSATION,
  STMT_LIST_CONVERSATIONS,
  STMT_ADD_MESSAGE,
  STMT_SET_MESSAGE_STATE,
  STMT_LIST_MESSAGES_BEFORE,
  STMT_LIST_MESSAGES_AFTER,
  STMT_LIST_OUTBOX,
  N_STMTS
} Statement;

#define CONVERSATION_COLUMNS                                                                       \
  "id, peer_name, code, created, last_activity, state, path_summary, close_reason"
#define MESSAGE_COLUMNS "seq, id, conversation_id, outgoing, time_ms, text, state, failure_reason"

static const char *const statement_sql[N_STMTS] = {
  [STMT_ADD_CONVERSATION] = "INSERT INTO conversations (" CONVERSATION_COLUMNS ") "
                            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
  [STMT_UPDATE_CONVERSATION]
  /* Messages move last_activity on too: an older copy of the record never moves it back. */
  = "UPDATE conversations SET peer_name = ?2, code = ?3, last_activity = MAX (last_activity, ?5), "
    "state = ?6, "
    "path_summary = ?7, close_reason = ?8 WHERE id = ?1",
  [STMT_DELETE_CONVERSATION] = "DELETE FROM conversations WHERE id = ?1",
  [STMT_LIST_CONVERSATIONS] = "SELECT " CONVERSATION_COLUMNS " FROM conversations "
                              "ORDER BY last_activity DESC, created DESC",
  [STMT_ADD_MESSAGE] = "INSERT INTO messages (id, conversation_id, outgoing, time_ms, text, state, "
                       "failure_reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
  [STMT_SET_MESSAGE_STATE] = "UPDATE messages SET state = ?3, failure_reason = ?4 "
                             "WHERE conversation_id = ?1 AND id = ?2 AND outgoing",
  /* The newest page below a bound, read backwards and turned round by the caller. */
  [STMT_LIST_MESSAGES_BEFORE] = "SELECT " MESSAGE_COLUMNS " FROM messages "
                                "WHERE conversation_id = ?1 AND seq < ?2 "
                                "ORDER BY seq DESC LIMIT ?3",
  [STMT_LIST_MESSAGES_AFTER] = "SELECT " MESSAGE_COLUMNS " FROM messages "
                               "WHERE conversation_id = ?1 AND seq > ?2 "
                               "ORDER BY seq ASC LIMIT ?3",
  [STMT_LIST_OUTBOX] = "SELECT " MESSAGE_COLUMNS " FROM messages "
                       "WHERE outgoing AND state IN ('sending', 'sent') ORDER BY seq",
};

/* Each entry takes the schema one version up, in one transaction. Never
 * edit a released entry: add one. */
static const char *const migrations[] = {
  "CREATE TABLE conversations ("
  "  id TEXT PRIMARY KEY NOT NULL,"
  "  peer_name TEXT,"
  "  code TEXT,"
  "  created INTEGER NOT NULL,"
  "  last_activity INTEGER NOT NULL,"
  "  state TEXT NOT NULL,"
  "  path_summary TEXT,"
  "  close_reason TEXT);"
  "CREATE INDEX conversations_by_activity ON conversations (last_activity);"
  /* seq orders a conversation's messages; ids come from the peer too, so
   * they are not keys. */
  "CREATE TABLE messages ("
  "  seq INTEGER PRIMARY KEY,"
  "  id TEXT NOT NULL,"
  "  conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,"
  "  outgoing INTEGER NOT NULL CHECK (outgoing IN (0, 1)),"
  "  time_ms INTEGER NOT NULL,"
  "  text TEXT NOT NULL,"
  "  state TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'delivered', 'failed')),"
  "  failure_reason TEXT);"
  "CREATE INDEX messages_by_conversation ON messages (conversation_id, seq);"
  "CREATE INDEX outgoing_by_id ON messages (conversation_id, id) WHERE outgoing;"
  "CREATE INDEX outbox ON messages (seq) WHERE outgoing AND state IN ('sending', 'sent');"
  "CREATE TRIGGER messages_touch_conversation AFTER INSERT ON messages BEGIN"
  "  UPDATE conversations SET last_activity = MAX (last_activity, NEW.time_ms)"
  "  WHERE id = NEW.conversation_id;"
  "END;",
};

struct _PhHistory
{
  GObject parent_instance;

  char *path;
  sqlite3 *db;
  sqlite3_stmt *statements[N_STMTS];
};

G_DEFINE_FINAL_TYPE (PhHistory, ph_history, G_TYPE_OBJECT)

static const char *const conversation_state_names[] = {
  [PH_CONVERSATION_STATE_IDLE] = "idle",
  [PH_CONVERSATION_STATE_WAITING_FOR_PEER] = "waiting",
  [PH_CONVERSATION_STATE_CONNECTING] = "connecting",
  [PH_CONVERSATION_STATE_CONNECTED] = "connected",
  [PH_CONVERSATION_STATE_CLOSED] = "closed",
  [PH_CONVERSATION_STATE_FAILED] = "failed",
};

static const char *const message_state_names[] = {
  [PH_HISTORY_MESSAGE_SENDING] = "sending",
  [PH_HISTORY_MESSAGE_SENT] = "sent",
  [PH_HISTORY_MESSAGE_DELIVERED] = "delivered",
  [PH_HISTORY_MESSAGE_FAILED] = "failed",
};

static int
state_from_name (const char *const *names, guint n_names, const char *name, int fallback)
{
  for (guint i = 0; i < n_names; i++)
    if (g_strcmp0 (names[i], name) == 0)
      return i;
  return fallback;
}

/* Records */

PhHistoryConversation *
ph_history_conversation_new (void)
{
  PhHistoryConversation *conversation = g_new0 (PhHistoryConversation, 1);

  conversation->id = g_uuid_string_random ();
  conversation->created_ms = g_get_real_time () / 1000;
  conversation->last_activity_ms = conversation->created_ms;
  conversation->state = PH_CONVERSATION_STATE_IDLE;
  return conversation;
}

PhHistoryConversation *
ph_history_conversation_copy (const PhHistoryConversation *conversation)
{
  PhHistoryConversation *copy;

  g_return_val_if_fail (conversation != NULL, NULL);

  copy = g_memdup2 (conversation, sizeof *conversation);
  copy->id = g_strdup (conversation->id);
  copy->peer_name = g_strdup (conversation->peer_name);
  copy->code = g_strdup (conversation->code);
  copy->path_summary = g_strdup (conversation->path_summary);
  copy->close_reason = g_strdup (conversation->close_reason);
  return copy;
}

void
ph_history_conversation_free (PhHistoryConversation *conversation)
{
  if (conversation == NULL)
    return;
  g_free (conversation->id);
  g_free (conversation->peer_name);
  g_free (conversation->code);
  g_free (conversation->path_summary);
  g_free (conversation->close_reason);
  g_free (conversation);
}

PhHistoryMessage *
ph_history_message_new (const char *conversation_id, const char *id, gboolean outgoing,
                        gint64 time_ms, const char *text)
{
  PhHistoryMessage *message;

  g_return_val_if_fail (conversation_id != NULL, NULL);
  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (text != NULL, NULL);

  message = g_new0 (PhHistoryMessage, 1);
  message->conversation_id = g_strdup (conversation_id);
  message->id = g_strdup (id);
  message->outgoing = outgoing;
  message->time_ms = time_ms;
  message->text = g_strdup (text);
  message->state = outgoing ? PH_HISTORY_MESSAGE_SENDING : PH_HISTORY_MESSAGE_DELIVERED;
  return message;
}

void
ph_history_message_free (PhHistoryMessage *message)
{
  if (message == NULL)
    return;
  g_free (message->id);
  g_free (message->conversation_id);
  g_free (message->text);
  g_free (message->failure_reason);
  g_free (message);
}

/* Errors */

static void
set_db_error (GError **error, const char *path, int rc, const char *detail)
{
  switch (rc & 0xff)
    {
    case SQLITE_FULL:
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                   "The disk is full, so the chat history in “%s” could not be saved. "
                   "Free some space and try again.",
                   path);
      break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "The chat history “%s” is damaged or is not a Pinhole history (%s). "
                   "Move it away to start a new history.",
                   path, detail);
      break;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "The chat history “%s” cannot be written (%s). "
                   "Check that the file and its folder belong to you.",
                   path, detail);
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                   "The chat history “%s” is in use by another program (%s). "
                   "Close other copies of Pinhole using this profile.",
                   path, detail);
      break;
    default:
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "The chat history “%s” could not be used: %s.", path, detail);
      break;
    }
}

static gboolean
fail (PhHistory *self, int rc, GError **error)
{
  set_db_error (error, self->path, rc, sqlite3_errmsg (self->db));
  return FALSE;
}

static gboolean
exec (PhHistory *self, const char *sql, GError **error)
{
  char *message = NULL;
  int rc = sqlite3_exec (self->db, sql, NULL, NULL, &message);

  if (rc != SQLITE_OK)
    {
      set_db_error (error, self->path, sqlite3_extended_errcode (self->db),
                    message != NULL ? message : sqlite3_errstr (rc));
      sqlite3_free (message);
      return FALSE;
    }
  return TRUE;
}

/* Opening */

static gint64
schema_version (PhHistory *self, GError **error)
{
  sqlite3_stmt *statement = NULL;
  gint64 version = -1;
  int rc;

  rc = sqlite3_prepare_v2 (self->db, "SELECT IFNULL (MAX (version), 0) FROM schema_version", -1,
                           &statement, NULL);
  if (rc == SQLITE_OK)
    {
      rc = sqlite3_step (statement);
      if (rc == SQLITE_ROW)
        version = sqlite3_column_int64 (statement, 0);
    }
  if (version < 0)
    fail (self, rc, error);
  sqlite3_finalize (statement);
  return version;
}

static gboolean
migrate (PhHistory *self, GError **error)
{
  gint64 version;

  if (!exec (self, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", error))
    return FALSE;
  version = schema_version (self, error);
  if (version < 0)
    return FALSE;
  if (version > (gint64)G_N_ELEMENTS (migrations))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "The chat history “%s” was written by a newer Pinhole. "
                   "Update Pinhole to read it.",
                   self->path);
      return FALSE;
    }

  for (gsize i = version; i < G_N_ELEMENTS (migrations); i++)
    {
      g_autofree char *record = g_strdup_printf (
          "INSERT INTO schema_version (version) VALUES (%" G_GSIZE_FORMAT ")", i + 1);

      if (!exec (self, "BEGIN IMMEDIATE", error))
        return FALSE;
      if (!exec (self, migrations[i], error) || !exec (self, record, error)
          || !exec (self, "COMMIT", error))
        {
          exec (self, "ROLLBACK", NULL);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
open_database (PhHistory *self, GError **error)
{
  int rc;

  if (!ph_private_file_prepare (self->path, "the chat history", error))
    return FALSE;

  rc = sqlite3_open_v2 (self->path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK)
    return fail (self, rc, error);
  sqlite3_extended_result_codes (self->db, TRUE);
  sqlite3_busy_timeout (self->db, BUSY_TIMEOUT_MS);

  /* The first statement reads the header: a file that is not a database
   * fails here. */
  if (!exec (self, "PRAGMA journal_mode = WAL", error)
      || !exec (self, "PRAGMA synchronous = NORMAL", error)
      || !exec (self, "PRAGMA foreign_keys = ON", error)
      /* A deleted chat is overwritten with zeros, not left in free pages
       * for whoever reads the file later. */
      || !exec (self, "PRAGMA secure_delete = ON", error) || !migrate (self, error))
    return FALSE;

  for (guint i = 0; i < N_STMTS; i++)
    {
      rc = sqlite3_prepare_v3 (self->db, statement_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &self->statements[i], NULL);
      if (rc != SQLITE_OK)
        return fail (self, rc, error);
    }
  return TRUE;
}

static void
ph_history_finalize (GObject *object)
{
  PhHistory *self = PH_HISTORY (object);

  for (guint i = 0; i < N_STMTS; i++)
    sqlite3_finalize (self->statements[i]);
  /* Closing the last connection checkpoints the WAL into the file. */
  sqlite3_close (self->db);
  g_free (self->path);

  G_OBJECT_CLASS (ph_history_parent_class)->finalize (object);
}

static void
ph_history_class_init (PhHistoryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ph_history_finalize;
}

static void
ph_history_init (PhHistory *self)
{
}

PhHistory *
ph_history_open (const char *path, GError **error)
{
  g_autoptr (PhHistory) self = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (PH_TYPE_HISTORY, NULL);
  self->path = g_strdup (path);
  if (!open_database (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

const char *
ph_history_get_path (PhHistory *self)
{
  g_return_val_if_fail (PH_IS_HISTORY (self), NULL);

  return self->path;
}

/* Statements */

static sqlite3_stmt *
statement (PhHistory *self, Statement which)
{
  sqlite3_stmt *stmt = self->statements[which];

  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  return stmt;
}

/* Runs a statement that returns no rows and leaves it reset. */
static gboolean
run (PhHistory *self, sqlite3_stmt *stmt, GError **error)
{
  int rc = sqlite3_step (stmt);

  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return fail (self, sqlite3_extended_errcode (self->db), error);
  return TRUE;
}

static void
bind_text (sqlite3_stmt *stmt, int index, const char *text)
{
  if (text == NULL)
    sqlite3_bind_null (stmt, index);
  else
    sqlite3_bind_text (stmt, index, text, -1, SQLITE_STATIC);
}

static char *
column_text (sqlite3_stmt *stmt, int column)
{
  return g_strdup ((const char *)sqlite3_column_text (stmt, column));
}

/* Steps through the rows of @stmt, turning each into a record. */
static GPtrArray *
collect (PhHistory *self, sqlite3_stmt *stmt, gpointer (*read_row) (sqlite3_stmt *),
         GDestroyNotify free_row, GError **error)
{
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func (free_row);
  int rc;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (rows, read_row (stmt));
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      fail (self, sqlite3_extended_errcode (self->db), error);
      return NULL;
    }
  return g_steal_pointer (&rows);
}

/* Conversations */

static void
bind_conversation (sqlite3_stmt *stmt, const PhHistoryConversation *conversation)
{
  guint state = conversation->state;

  bind_text (stmt, 1, conversation->id);
  bind_text (stmt, 2, conversation->peer_name);
  bind_text (stmt, 3, conversation->code);
  sqlite3_bind_int64 (stmt, 4, conversation->created_ms);
  sqlite3_bind_int64 (stmt, 5, conversation->last_activity_ms);
  bind_text (stmt, 6,
             conversation_state_names[MIN (state, G_N_ELEMENTS (conversation_state_names) - 1)]);
  bind_text (stmt, 7, conversation->path_summary);
  bind_text (stmt, 8, conversation->close_reason);
}

static gpointer
read_conversation (sqlite3_stmt *stmt)
{
  PhHistoryConversation *conversation = g_new0 (PhHistoryConversation, 1);

  conversation->id = column_text (stmt, 0);
  conversation->peer_name = column_text (stmt, 1);
  conversation->code = column_text (stmt, 2);
  conversation->created_ms = sqlite3_column_int64 (stmt, 3);
  conversation->last_activity_ms = sqlite3_column_int64 (stmt, 4);
  /* A state this version does not know is shown as ended. */
  conversation->state
      = state_from_name (conversation_state_names, G_N_ELEMENTS (conversation_state_names),
                         (const char *)sqlite3_column_text (stmt, 5), PH_CONVERSATION_STATE_CLOSED);
  conversation->path_summary = column_text (stmt, 6);
  conversation->close_reason = column_text (stmt, 7);
  return conversation;
}

gboolean
ph_history_add_conversation (PhHistory *self, const PhHistoryConversation *conversation,
                             GError **error)
{
  sqlite3_stmt *stmt;

  g_return_val_if_fail (PH_IS_HISTORY (self), FALSE);
  g_return_val_if_fail (conversation != NULL && conversation->id != NULL, FALSE);

  stmt = statement (self, STMT_ADD_CONVERSATION);
  bind_conversation (stmt, conversation);
  return run (self, stmt, error);
}

gboolean
ph_history_update_conversation (PhHistory *self, const PhHistoryConversation *conversation,
                                GError **error)
{
  sqlite3_stmt *stmt;

  g_return_val_if_fail (PH_IS_HISTORY (self), FALSE);
  g_return_val_if_fail (conversation != NULL && conversation->id != NULL, FALSE);

  stmt = statement (self, STMT_UPDATE_CONVERSATION);
  bind_conversation (stmt, conversation);
  if (!run (self, stmt, error))
    return FALSE;
  if (sqlite3_changes (self->db) == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "The chat history has no conversation %s.", conversation->id);
      return FALSE;
    }
  return TRUE;
}

gboolean
ph_history_delete_conversation (PhHistory *self, const char *conversation_id, GError **error)
{
  sqlite3_stmt *stmt;

  g_return_val_if_fail (PH_IS_HISTORY (self), FALSE);
  g_return_val_if_fail (conversation_id != NULL, FALSE);

  stmt = statement (self, STMT_DELETE_CONVERSATION);
  bind_text (stmt, 1, conversation_id);
  if (!run (self, stmt, error))
    return FALSE;
  /* The WAL still holds the pages as they were before the delete: fold it
   * into the (zeroed) database and empty it, so the text is gone now, not
   * at the next automatic checkpoint. */
  return exec (self, "PRAGMA wal_checkpoint(TRUNCATE)", error);
}

GPtrArray *
ph_history_list_conversations (PhHistory *self, GError **error)
{
  g_return_val_if_fail (PH_IS_HISTORY (self), NULL);

  return collect (self, statement (self, STMT_LIST_CONVERSATIONS), read_conversation,
                  (GDestroyNotify)ph_history_conversation_free, error);
}

/* Messages */

static gpointer
read_message (sqlite3_stmt *stmt)
{
  PhHistoryMessage *message = g_new0 (PhHistoryMessage, 1);

  message->seq = sqlite3_column_int64 (stmt, 0);
  message->id = column_text (stmt, 1);
  message->conversation_id = column_text (stmt, 2);
  message->outgoing = sqlite3_column_int (stmt, 3) != 0;
  message->time_ms = sqlite3_column_int64 (stmt, 4);
  message->text = column_text (stmt, 5);
  message->state
      = state_from_name (message_state_names, G_N_ELEMENTS (message_state_names),
                         (const char *)sqlite3_column_text (stmt, 6), PH_HISTORY_MESSAGE_FAILED);
  message->failure_reason = column_text (stmt, 7);
  return message;
}

gboolean
ph_history_add_message (PhHistory *self, PhHistoryMessage *message, GError **error)
{
  sqlite3_stmt *stmt;

  g_return_val_if_fail (PH_IS_HISTORY (self), FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  g_return_val_if_fail (message->state <= PH_HISTORY_MESSAGE_FAILED, FALSE);

  stmt = statement (self, STMT_ADD_MESSAGE);
  bind_text (stmt, 1, message->id);
  bind_text (stmt, 2, message->conversation_id);
  sqlite3_bind_int (stmt, 3, message->outgoing ? 1 : 0);
  sqlite3_bind_int64 (stmt, 4, message->time_ms);
  bind_text (stmt, 5, message->text);
  bind_text (stmt, 6, message_state_names[message->state]);
  bind_text (stmt, 7, message->failure_reason);
  if (!run (self, stmt, error))
    return FALSE;
  message->seq = sqlite3_last_insert_rowid (self->db);
  return TRUE;
}

gboolean
ph_history_set_message_state (PhHistory *self, const char *conversation_id, const char *message_id,
                              PhHistoryMessageState state, const char *failure_reason,
                              GError **error)
{
  sqlite3_stmt *stmt;

  g_return_val_if_fail (PH_IS_HISTORY (self), FALSE);
  g_return_val_if_fail (conversation_id != NULL, FALSE);
  g_return_val_if_fail (message_id != NULL, FALSE);
  g_return_val_if_fail (state <= PH_HISTORY_MESSAGE_FAILED, FALSE);

  stmt = statement (self, STMT_SET_MESSAGE_STATE);
  bind_text (stmt, 1, conversation_id);
  bind_text (stmt, 2, message_id);
  bind_text (stmt, 3, message_state_names[state]);
  bind_text (stmt, 4, failure_reason);
  if (!run (self, stmt, error))
    return FALSE;
  if (sqlite3_changes (self->db) == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "The chat history has no outgoing message %s.", message_id);
      return FALSE;
    }
  return TRUE;
}

/* SQLite reads a negative LIMIT as "no limit". */
static gint64
sql_limit (guint limit)
{
  return limit == 0 ? -1 : (gint64)limit;
}

GPtrArray *
ph_history_list_messages_before (PhHistory *self, const char *conversation_id, gint64 before_seq,
                                 guint limit, GError **error)
{
  sqlite3_stmt *stmt;
  GPtrArray *messages;
  guint n;

  g_return_val_if_fail (PH_IS_HISTORY (self), NULL);
  g_return_val_if_fail (conversation_id != NULL, NULL);

  stmt = statement (self, STMT_LIST_MESSAGES_BEFORE);
  bind_text (stmt, 1, conversation_id);
  sqlite3_bind_int64 (stmt, 2, before_seq > 0 ? before_seq : G_MAXINT64);
  sqlite3_bind_int64 (stmt, 3, sql_limit (limit));
  messages = collect (self, stmt, read_message, (GDestroyNotify)ph_history_message_free, error);
  if (messages == NULL)
    return NULL;

  n = messages->len;
  for (guint i = 0; i < n / 2; i++)
    {
      gpointer swap = messages->pdata[i];

      messages->pdata[i] = messages->pdata[n - 1 - i];
      messages->pdata[n - 1 - i] = swap;
    }
  return messages;
}

GPtrArray *
ph_history_list_messages_after (PhHistory *self, const char *conversation_id, gint64 after_seq,
                                guint limit, GError **error)
{
  sqlite3_stmt *stmt;

  g_return_val_if_fail (PH_IS_HISTORY (self), NULL);
  g_return_val_if_fail (conversation_id != NULL, NULL);

  stmt = statement (self, STMT_LIST_MESSAGES_AFTER);
  bind_text (stmt, 1, conversation_id);
  sqlite3_bind_int64 (stmt, 2, after_seq);
  sqlite3_bind_int64 (stmt, 3, sql_limit (limit));
  return collect (self, stmt, read_message, (GDestroyNotify)ph_history_message_free, error);
}

#define CONTACT_CONVERSATION_PREFIX "contact-"

char *
ph_history_contact_conversation_id (const char *contact_id)
{
  return g_strconcat (CONTACT_CONVERSATION_PREFIX, contact_id, NULL);
}

gboolean
ph_history_is_contact_conversation (const char *conversation_id)
{
  return g_str_has_prefix (conversation_id, CONTACT_CONVERSATION_PREFIX);
}

GPtrArray *
ph_history_list_outbox (PhHistory *self, GError **error)
{
  g_return_val_if_fail (PH_IS_HISTORY (self), NULL);

  return collect (self, statement (self, STMT_LIST_OUTBOX), read_message,
                  (GDestroyNotify)ph_history_message_free, error);
}
