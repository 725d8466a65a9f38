/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-sqlite-store"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "ph-mailbox-format.h"
#include "ph-nameplate-pool.h"
#include "ph-sqlite-store.h"

/* Every operation of PhStore in SQL, the worker thread that runs them,
 * the schema and its version, opening and checking the file, and expiry:
 * one file because they share the connection, its prepared statements
 * and the job queue, which is why it is the longest of the server's.
 *
 * Durability: WAL with synchronous=NORMAL by default. A commit is in the
 * WAL file, in the kernel's hands, before sqlite3_step () returns, so it
 * survives the server crashing or being killed (kill -9): nothing a client
 * was answered 201 for is lost, as every answer waits for its commit. Only a
 * power cut or a kernel crash can roll back the last commits (never
 * corrupt the file); synchronous=FULL (sqlite:PATH?synchronous=full)
 * guards against that too, at an fsync per request, which on the VM these
 * numbers come from costs ten times a commit (docs/performance.md). A lost
 * power supply also drops every client's connection, and a rendezvous
 * mailbox lives minutes: NORMAL is the default.
 *
 * The worker thread. Every operation is a job on one queue, done in
 * order by one thread that alone uses the connection: BEGIN IMMEDIATE,
 * the mailboxes whose lifetime ran out closed, the operation, COMMIT,
 * then the job goes back to the main context, which tells the
 * notifications and hands the reply over. Jobs go to the thread, and come
 * back, in batches (worker_main ()). Between jobs the thread sleeps until
 * the next mailbox expires and closes it in a job of its own.
 *
 * What the thread keeps in memory is what answers questions about all
 * mailboxes at once: which are open, when each expires (in order), which
 * numbers are free. It is read back from the file at start and is right
 * because no one else writes the file: the connection holds SQLite's
 * exclusive lock (which also keeps a second server off it, with a clear
 * error). A job whose transaction fails reads it all back again. */

/* The file's application_id: "PhRv" (0x50685276). */
#define APPLICATION_ID 1349014134
/* How long opening waits for another server's lock before it says so. */
#define BUSY_TIMEOUT_MS 200

typedef enum
{
  STMT_BEGIN,
  STMT_COMMIT,
  STMT_ROLLBACK,
  STMT_SELECT_MAILBOX,
  STMT_INSERT_MAILBOX,
  STMT_RENEW,
  STMT_COUNT_MESSAGE,
  STMT_INSERT_MESSAGE,
  STMT_SELECT_MESSAGES,
  STMT_SELECT_FIRST_MESSAGE,
  STMT_DELETE_MAILBOX,
  STMT_DELETE_MESSAGES,
  STMT_LIST_MAILBOXES,
  STMT_PRUNE_POINTS,
  STMT_POINT_USAGE,
  STMT_INSERT_POINT_ITEM,
  STMT_SELECT_POINT_MESSAGES,
  STMT_COUNT_POINT_COPIES,
  STMT_SELECT_COPIES,
  STMT_DELETE_COPY,
  STMT_COUNT_ALL_COPIES,
  N_STMTS
} Statement;

/* A row of point_items is a message or a stored copy. */
enum
{
  KIND_MESSAGE = 0,
  KIND_COPY = 1,
};

/* A side's columns are sideN_…: "sideN" stands for side1 or side2. */
#define SIDE_COLUMNS(n)                                                                            \
  "side" n "_secret_hash, side" n "_request_key_hash, side" n "_left, side" n "_turn_requests, "   \
  "side" n "_turn_window_end"

static const char *const statement_sql[N_STMTS] = {
  [STMT_BEGIN] = "BEGIN IMMEDIATE",
  [STMT_COMMIT] = "COMMIT",
  [STMT_ROLLBACK] = "ROLLBACK",
  [STMT_SELECT_MAILBOX] = "SELECT tag, expires_at, n_messages, bytes, " SIDE_COLUMNS (
      "1") ", " SIDE_COLUMNS ("2") " FROM mailboxes WHERE nameplate = ?1",
  [STMT_INSERT_MAILBOX] = "INSERT INTO mailboxes (nameplate, tag, expires_at, side1_secret_hash, "
                          "side1_request_key_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
  [STMT_RENEW] = "UPDATE mailboxes SET expires_at = ?2 WHERE nameplate = ?1",
  [STMT_COUNT_MESSAGE] = "UPDATE mailboxes SET n_messages = n_messages + 1, bytes = bytes + ?2, "
                         "expires_at = ?3 WHERE nameplate = ?1",
  [STMT_INSERT_MESSAGE] = "INSERT INTO messages (nameplate, idx, side, phase, body) "
                          "VALUES (?1, ?2, ?3, ?4, ?5)",
  [STMT_SELECT_MESSAGES] = "SELECT idx, side, phase, body FROM messages "
                           "WHERE nameplate = ?1 AND idx > ?2 ORDER BY idx",
  [STMT_SELECT_FIRST_MESSAGE] = "SELECT side, phase, body FROM messages "
                                "WHERE nameplate = ?1 AND idx = 1",
  [STMT_DELETE_MAILBOX] = "DELETE FROM mailboxes WHERE nameplate = ?1",
  [STMT_DELETE_MESSAGES] = "DELETE FROM messages WHERE nameplate = ?1",
  [STMT_LIST_MAILBOXES] = "SELECT nameplate, expires_at FROM mailboxes ORDER BY expires_at",
  [STMT_PRUNE_POINTS] = "DELETE FROM point_items WHERE expires_at <= ?1 RETURNING kind, size",
  [STMT_POINT_USAGE] = "SELECT count(*), IFNULL (sum (size), 0) FROM point_items "
                       "WHERE point = ?1 AND kind = ?2",
  [STMT_INSERT_POINT_ITEM] = "INSERT INTO point_items (point, kind, side, phase, body, size, "
                             "expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
  [STMT_SELECT_POINT_MESSAGES] = "SELECT idx, side, phase, body FROM point_items "
                                 "WHERE point = ?1 AND kind = 0 AND idx > ?2 AND side <> ?3 "
                                 "ORDER BY idx",
  [STMT_COUNT_POINT_COPIES] = "SELECT count(*) FROM point_items "
                              "WHERE point = ?1 AND kind = 1 AND idx > ?2 AND side <> ?3",
  [STMT_SELECT_COPIES] = "SELECT idx, side, body, expires_at FROM point_items "
                         "WHERE point = ?1 AND kind = 1 AND idx > ?2 ORDER BY idx",
  [STMT_DELETE_COPY] = "DELETE FROM point_items WHERE point = ?1 AND kind = 1 AND idx = ?2 "
                       "RETURNING size",
  [STMT_COUNT_ALL_COPIES] = "SELECT count(*), IFNULL (sum (size), 0) FROM point_items "
                            "WHERE kind = 1",
};

/* The same statement about either side, one prepared for each. */
typedef enum
{
  SIDE_STMT_SET_SECRET,
  SIDE_STMT_FORGET_REQUEST_KEY,
  SIDE_STMT_SET_LEFT,
  SIDE_STMT_SET_TURN_COUNT,
  N_SIDE_STMTS
} SideStatement;

static const char *const side_statement_sql[N_SIDE_STMTS] = {
  [SIDE_STMT_SET_SECRET] = "UPDATE mailboxes SET sideN_secret_hash = ?2, "
                           "sideN_request_key_hash = ?3 WHERE nameplate = ?1",
  [SIDE_STMT_FORGET_REQUEST_KEY] = "UPDATE mailboxes SET sideN_request_key_hash = NULL "
                                   "WHERE nameplate = ?1",
  [SIDE_STMT_SET_LEFT] = "UPDATE mailboxes SET sideN_left = 1 WHERE nameplate = ?1",
  [SIDE_STMT_SET_TURN_COUNT] = "UPDATE mailboxes SET sideN_turn_requests = ?2, "
                               "sideN_turn_window_end = ?3 WHERE nameplate = ?1",
};

/* Each entry takes the schema one version up, in one transaction. Never
 * edit a released entry: add one. Times are microseconds since the Unix
 * epoch; hashes are SHA-256 (ph-mailbox-secret.h), never the secrets.
 * A mailbox's two sides are columns of its row, so that most requests
 * write one page of the table, or two with a message. */
static const char *const migrations[] = {
  "CREATE TABLE mailboxes ("
  "  nameplate INTEGER PRIMARY KEY,"
  "  tag TEXT NOT NULL,"
  "  expires_at INTEGER NOT NULL,"
  "  n_messages INTEGER NOT NULL DEFAULT 0,"
  "  bytes INTEGER NOT NULL DEFAULT 0,"
  /* Side 1 opened the mailbox; side 2 joined it, and is nobody while its
   * secret is NULL. A request key is kept until the side first uses its
   * secret (ph-store.h, claim). */
  "  side1_secret_hash BLOB NOT NULL,"
  "  side1_request_key_hash BLOB,"
  "  side1_left INTEGER NOT NULL DEFAULT 0,"
  "  side1_turn_requests INTEGER NOT NULL DEFAULT 0,"
  "  side1_turn_window_end INTEGER NOT NULL DEFAULT 0,"
  "  side2_secret_hash BLOB,"
  "  side2_request_key_hash BLOB,"
  "  side2_left INTEGER NOT NULL DEFAULT 0,"
  "  side2_turn_requests INTEGER NOT NULL DEFAULT 0,"
  "  side2_turn_window_end INTEGER NOT NULL DEFAULT 0);"
  "CREATE TABLE messages ("
  "  nameplate INTEGER NOT NULL,"
  "  idx INTEGER NOT NULL,"
  "  side INTEGER NOT NULL CHECK (side IN (1, 2)),"
  "  phase TEXT NOT NULL,"
  "  body BLOB NOT NULL,"
  "  PRIMARY KEY (nameplate, idx)) WITHOUT ROWID;",
  /* Meeting points: their messages (kind 0) and stored copies (kind 1),
   * numbered by one AUTOINCREMENT counter, which never gives an index
   * twice, even after the rows with the highest ones were deleted. A
   * point is its rows: it has none of its own. */
  "CREATE TABLE point_items ("
  "  idx INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  point TEXT NOT NULL,"
  "  kind INTEGER NOT NULL CHECK (kind IN (0, 1)),"
  "  side INTEGER NOT NULL CHECK (side IN (1, 2)),"
  "  phase TEXT,"
  "  body BLOB NOT NULL,"
  "  size INTEGER NOT NULL,"
  "  expires_at INTEGER NOT NULL);"
  /* The sizes are in the indexes so that a point's usage, and the count
   * of all copies for /metrics, read no row and no body. */
  "CREATE INDEX point_items_by_point ON point_items (point, kind, idx, size);"
  "CREATE INDEX point_items_by_kind ON point_items (kind, size);"
  "CREATE INDEX point_items_by_expiry ON point_items (expires_at);",
};

/* An open mailbox as the worker keeps it: when it expires. */
typedef struct
{
  guint nameplate;
  gint64 expires_at;
  GList link; /* in PhSqliteStore.expiring */
} Entry;

typedef struct
{
  gboolean taken;
  gboolean has_left;
  gboolean has_request_key;
  guint8 secret_hash[PH_MAILBOX_SECRET_HASH_SIZE];
  guint8 request_key_hash[PH_MAILBOX_SECRET_HASH_SIZE];
  guint turn_requests;
  gint64 turn_window_end;
} SideRow;

/* A mailbox as a job reads it from the file. */
typedef struct
{
  guint nameplate;
  char tag[PH_STORE_TAG_LENGTH + 1];
  gint64 expires_at;
  guint n_messages;
  guint64 bytes;
  SideRow sides[2]; /* side N at N - 1 */
} MailboxRow;

/* An operation, from the main context to the worker and back. A job
 * without a task is the worker's own: a sweep of expired mailboxes. */
typedef struct
{
  GTask *task;
  PhStoreRequest *request; /* the task's */
  PhStoreReply *reply;
  GError *error;
  GArray *closed;        /* guint nameplates */
  GArray *added;         /* guint64 pairs: nameplate, index */
  GArray *point_changes; /* PointChange */
} Job;

/* What "point-changed" tells once the job is done. */
typedef struct
{
  char id[PH_STORE_POINT_ID_LENGTH + 1];
  guint64 index;
  guint side;
} PointChange;

typedef struct _OutboxSource OutboxSource;

struct _PhSqliteStore
{
  GObject parent_instance;

  PhStoreLimits limits;
  char *path;
  gboolean full_sync;

  GMainContext *context; /* where jobs come back */
  sqlite3 *db;
  sqlite3_stmt *statements[N_STMTS];
  sqlite3_stmt *side_statements[N_SIDE_STMTS][2]; /* side N at N - 1 */
  GThread *worker;
  GAsyncQueue *jobs;
  GQueue outbox; /* Job, on the main context, for the worker */
  GSource *outbox_source;

  /* The worker's alone once it runs. */
  GHashTable *open; /* nameplate → Entry */
  GQueue expiring;  /* Entry, earliest first */
  PhNameplatePool *pool;
  /* The stored copies at all points: a cap on them is checked at every
   * copy, and /metrics reads them. */
  guint64 n_copies;
  guint64 copy_bytes;

  GMutex done_lock;
  GQueue done;          /* Job, back from the worker */
  GSource *done_source; /* set to hand them over */
};

struct _OutboxSource
{
  GSource source;
  PhSqliteStore *store;
};

static void ph_sqlite_store_initable_init (GInitableIface *iface);
static void ph_sqlite_store_store_init (PhStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PhSqliteStore, ph_sqlite_store, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      ph_sqlite_store_initable_init)
                                   G_IMPLEMENT_INTERFACE (PH_TYPE_STORE,
                                                          ph_sqlite_store_store_init))

enum
{
  PROP_0,
  PROP_PATH,
  PROP_FULL_SYNC,
  PROP_MAX_MAILBOXES,
  PROP_MAX_MESSAGES,
  PROP_MAX_MAILBOX_BYTES,
  PROP_LIFETIME,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* The job that stops the worker. */
static Job stop_job;

/* Errors */

/* What opening the file can fail with, as a sentence naming it. */
static void
set_open_error (GError **error, const char *path, int rc, const char *detail)
{
  switch (rc & 0xff)
    {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "The database “%s” is damaged or is not a pinhole-rendezvous database (%s). "
                   "Move it away to start with an empty one.",
                   path, detail);
      break;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "The database “%s” cannot be written (%s). "
                   "Check that the file and its folder belong to the server's user.",
                   path, detail);
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                   "The database “%s” is in use by another pinhole-rendezvous (%s); "
                   "a database serves one server.",
                   path, detail);
      break;
    case SQLITE_FULL:
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                   "The disk of the database “%s” is full (%s).", path, detail);
      break;
    default:
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "The database “%s” could not be used: %s.",
                   path, detail);
      break;
    }
}

/* A failure of the database while the server runs: the operation fails
 * (PH_STORE_ERROR_FAILED, 503 for the client), the log says why. */
static gboolean
fail (PhSqliteStore *self, GError **error)
{
  g_set_error (error, PH_STORE_ERROR, PH_STORE_ERROR_FAILED, "The database “%s” failed: %s.",
               self->path, sqlite3_errmsg (self->db));
  return FALSE;
}

static gboolean
refuse (PhSqliteStore *self, PhStoreError code, guint nameplate, GError **error)
{
  g_propagate_error (error, ph_store_refusal_new (code, nameplate, &self->limits));
  return FALSE;
}

static gboolean
is_refusal (const GError *error)
{
  return error->domain == PH_STORE_ERROR && error->code != PH_STORE_ERROR_FAILED;
}

/* Statements */

static sqlite3_stmt *
statement (PhSqliteStore *self, Statement which)
{
  sqlite3_stmt *stmt = self->statements[which];

  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  return stmt;
}

/* Runs a statement that returns no rows. */
static gboolean
step_done (PhSqliteStore *self, sqlite3_stmt *stmt, GError **error)
{
  int rc = sqlite3_step (stmt);

  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return fail (self, error);
  return TRUE;
}

static gboolean
run_simple (PhSqliteStore *self, Statement which, GError **error)
{
  return step_done (self, statement (self, which), error);
}

/* One nameplate's statement: a delete, or an update with @side. */
static gboolean
run_for_mailbox (PhSqliteStore *self, Statement which, guint nameplate, GError **error)
{
  sqlite3_stmt *stmt = statement (self, which);

  sqlite3_bind_int64 (stmt, 1, nameplate);
  return step_done (self, stmt, error);
}

static sqlite3_stmt *
side_statement (PhSqliteStore *self, SideStatement which, guint side)
{
  sqlite3_stmt *stmt = self->side_statements[which][side - 1];

  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  return stmt;
}

static gboolean
run_for_side (PhSqliteStore *self, SideStatement which, guint nameplate, guint side, GError **error)
{
  sqlite3_stmt *stmt = side_statement (self, which, side);

  sqlite3_bind_int64 (stmt, 1, nameplate);
  return step_done (self, stmt, error);
}

/* The worker's memory of the open mailboxes */

static void
entry_insert_in_order (PhSqliteStore *self, Entry *entry)
{
  GList *after = self->expiring.tail;

  /* Renewals go at the tail, but the clock may have stepped back, or the
   * lifetime changed since the file was written: find the place. */
  while (after != NULL && ((Entry *)after->data)->expires_at > entry->expires_at)
    after = after->prev;
  if (after == NULL)
    g_queue_push_head_link (&self->expiring, &entry->link);
  else
    g_queue_insert_after_link (&self->expiring, after, &entry->link);
}

static void
remember_open (PhSqliteStore *self, guint nameplate, gint64 expires_at)
{
  Entry *entry = g_new0 (Entry, 1);

  entry->nameplate = nameplate;
  entry->expires_at = expires_at;
  entry->link.data = entry;
  g_hash_table_insert (self->open, GUINT_TO_POINTER (nameplate), entry);
  entry_insert_in_order (self, entry);
}

static void
remember_renewal (PhSqliteStore *self, guint nameplate, gint64 expires_at)
{
  Entry *entry = g_hash_table_lookup (self->open, GUINT_TO_POINTER (nameplate));

  g_queue_unlink (&self->expiring, &entry->link);
  entry->expires_at = expires_at;
  entry_insert_in_order (self, entry);
}

static void
entry_free (Entry *entry)
{
  g_free (entry);
}

static void
forget_all (PhSqliteStore *self)
{
  g_queue_init (&self->expiring);
  g_hash_table_remove_all (self->open);
  g_clear_pointer (&self->pool, ph_nameplate_pool_free);
  self->pool = ph_nameplate_pool_new ();
}

/* Reads back which mailboxes are open and when each expires, and the
 * stored copies' totals. Every one is
 * taken from the pool as a claim would, so allocation fills the numbers
 * below them from 1. */
static gboolean
load_open (PhSqliteStore *self, GError **error)
{
  sqlite3_stmt *stmt = statement (self, STMT_LIST_MAILBOXES);
  int rc;

  forget_all (self);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      guint nameplate = (guint)sqlite3_column_int64 (stmt, 0);

      remember_open (self, nameplate, sqlite3_column_int64 (stmt, 1));
      ph_nameplate_pool_take (self->pool, nameplate);
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return fail (self, error);

  stmt = statement (self, STMT_COUNT_ALL_COPIES);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      self->n_copies = (guint64)sqlite3_column_int64 (stmt, 0);
      self->copy_bytes = (guint64)sqlite3_column_int64 (stmt, 1);
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_ROW)
    return fail (self, error);
  return TRUE;
}

/* Mailboxes */

static gboolean
close_mailbox (PhSqliteStore *self, guint nameplate, Job *job, GError **error)
{
  Entry *entry;

  if (!run_for_mailbox (self, STMT_DELETE_MESSAGES, nameplate, error)
      || !run_for_mailbox (self, STMT_DELETE_MAILBOX, nameplate, error))
    return FALSE;

  entry = g_hash_table_lookup (self->open, GUINT_TO_POINTER (nameplate));
  g_queue_unlink (&self->expiring, &entry->link);
  g_hash_table_remove (self->open, GUINT_TO_POINTER (nameplate));
  ph_nameplate_pool_release (self->pool, nameplate);
  g_array_append_val (job->closed, nameplate);
  return TRUE;
}

/* Closes the mailboxes whose lifetime ran out: before every operation, so
 * that none finds one, and when the worker wakes for the next. */
static gboolean
close_expired (PhSqliteStore *self, gint64 now, Job *job, GError **error)
{
  Entry *head;

  while ((head = g_queue_peek_head (&self->expiring)) != NULL && head->expires_at <= now)
    if (!close_mailbox (self, head->nameplate, job, error))
      return FALSE;
  return TRUE;
}

static void
read_hash (sqlite3_stmt *stmt, int column, gboolean *out_present,
           guint8 out_hash[PH_MAILBOX_SECRET_HASH_SIZE])
{
  const void *data = sqlite3_column_blob (stmt, column);
  int size = sqlite3_column_bytes (stmt, column);

  *out_present = data != NULL && size == PH_MAILBOX_SECRET_HASH_SIZE;
  if (*out_present)
    memcpy (out_hash, data, PH_MAILBOX_SECRET_HASH_SIZE);
}

/* Reads the open mailbox @nameplate and its sides into @row. */
static gboolean
read_mailbox (PhSqliteStore *self, guint nameplate, MailboxRow *row, GError **error)
{
  sqlite3_stmt *stmt = statement (self, STMT_SELECT_MAILBOX);
  const unsigned char *tag;

  memset (row, 0, sizeof *row);
  row->nameplate = nameplate;
  sqlite3_bind_int64 (stmt, 1, nameplate);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      sqlite3_reset (stmt);
      return fail (self, error);
    }
  tag = sqlite3_column_text (stmt, 0);
  g_strlcpy (row->tag, tag != NULL ? (const char *)tag : "", sizeof row->tag);
  row->expires_at = sqlite3_column_int64 (stmt, 1);
  row->n_messages = (guint)sqlite3_column_int64 (stmt, 2);
  row->bytes = (guint64)sqlite3_column_int64 (stmt, 3);
  for (guint i = 0; i < G_N_ELEMENTS (row->sides); i++)
    {
      SideRow *seat = &row->sides[i];
      int column = 4 + 5 * (int)i;

      read_hash (stmt, column, &seat->taken, seat->secret_hash);
      read_hash (stmt, column + 1, &seat->has_request_key, seat->request_key_hash);
      seat->has_left = sqlite3_column_int (stmt, column + 2) != 0;
      seat->turn_requests = (guint)sqlite3_column_int64 (stmt, column + 3);
      seat->turn_window_end = sqlite3_column_int64 (stmt, column + 4);
    }
  sqlite3_reset (stmt);
  return TRUE;
}

/* The open mailbox @request is about, if it is the one its tag names. */
static gboolean
find_mailbox (PhSqliteStore *self, const PhStoreRequest *request, MailboxRow *row, GError **error)
{
  if (!g_hash_table_contains (self->open, GUINT_TO_POINTER (request->nameplate)))
    return refuse (self, PH_STORE_ERROR_NO_SUCH_MAILBOX, request->nameplate, error);
  if (!read_mailbox (self, request->nameplate, row, error))
    return FALSE;
  if (request->tag != NULL && strcmp (request->tag, row->tag) != 0)
    return refuse (self, PH_STORE_ERROR_REPLACED, request->nameplate, error);
  return TRUE;
}

/* The mailbox, and the side that @request's secret makes the asker. */
static gboolean
find_side (PhSqliteStore *self, const PhStoreRequest *request, MailboxRow *row, guint *out_side,
           GError **error)
{
  SideRow *seat;
  guint side;

  if (!find_mailbox (self, request, row, error))
    return FALSE;

  side = ph_store_match_side (request, row->sides[0].taken, row->sides[0].secret_hash,
                              row->sides[1].taken, row->sides[1].secret_hash);
  if (side == 0)
    return refuse (self, PH_STORE_ERROR_UNAUTHORIZED, request->nameplate, error);

  /* The client has its secret: a repeated claim or join is no longer it,
   * unless this is the post that came with the join (its own key). */
  seat = &row->sides[side - 1];
  if (seat->has_request_key && !ph_store_request_key_matches (request, seat->request_key_hash))
    {
      if (!run_for_side (self, SIDE_STMT_FORGET_REQUEST_KEY, request->nameplate, side, error))
        return FALSE;
      seat->has_request_key = FALSE;
    }
  *out_side = side;
  return TRUE;
}

static gint64
lifetime_end (PhSqliteStore *self, gint64 now)
{
  return now + (gint64)self->limits.lifetime * G_USEC_PER_SEC;
}

static guint
seconds_left (gint64 expires_at, gint64 now)
{
  gint64 left = expires_at - now;

  return left > 0 ? (guint)((left + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC) : 0;
}

/* Whether a renewal at @now would move the mailbox's end by 1% of its
 * lifetime or more: polls come back every few seconds, and writing each
 * renewal would cost a page write for next to nothing. The end is at most
 * that much earlier than "a lifetime after the last use". */
static gboolean
renewal_due (PhSqliteStore *self, const MailboxRow *row, gint64 now)
{
  return lifetime_end (self, now) - row->expires_at
         >= (gint64)self->limits.lifetime * (G_USEC_PER_SEC / 100);
}

/* Gives the mailbox its whole lifetime from @now. */
static gboolean
renew (PhSqliteStore *self, MailboxRow *row, gint64 now, GError **error)
{
  sqlite3_stmt *stmt = statement (self, STMT_RENEW);

  row->expires_at = lifetime_end (self, now);
  sqlite3_bind_int64 (stmt, 1, row->nameplate);
  sqlite3_bind_int64 (stmt, 2, row->expires_at);
  if (!step_done (self, stmt, error))
    return FALSE;
  remember_renewal (self, row->nameplate, row->expires_at);
  return TRUE;
}

static void
fill_seat_reply (const MailboxRow *row, guint side, gboolean created, gint64 now,
                 PhStoreReply *reply)
{
  reply->nameplate = row->nameplate;
  reply->side = side;
  reply->created = created;
  memcpy (reply->tag, row->tag, sizeof reply->tag);
  reply->expires_in = seconds_left (row->expires_at, now);
}

static gboolean
check_capacity (PhSqliteStore *self, GError **error)
{
  if (g_hash_table_size (self->open) < self->limits.max_mailboxes)
    return TRUE;
  return refuse (self, PH_STORE_ERROR_NO_FREE_MAILBOX, 0, error);
}

static void
bind_request_key (sqlite3_stmt *stmt, int column, const PhStoreRequest *request)
{
  if (request->has_request_key)
    sqlite3_bind_blob (stmt, column, request->request_key_hash, PH_MAILBOX_SECRET_HASH_SIZE,
                       SQLITE_STATIC);
  else
    sqlite3_bind_null (stmt, column);
}

/* Gives the seat of @side, taken again or for the first time, the
 * secret @request brings, and its request key. */
static gboolean
write_seat (PhSqliteStore *self, guint nameplate, guint side, const PhStoreRequest *request,
            GError **error)
{
  sqlite3_stmt *stmt = side_statement (self, SIDE_STMT_SET_SECRET, side);

  sqlite3_bind_int64 (stmt, 1, nameplate);
  sqlite3_bind_blob (stmt, 2, request->seat_secret_hash, PH_MAILBOX_SECRET_HASH_SIZE,
                     SQLITE_STATIC);
  bind_request_key (stmt, 3, request);
  return step_done (self, stmt, error);
}

/* Opens @nameplate, taken from the pool, with the asker as side 1. */
static gboolean
open_mailbox (PhSqliteStore *self, guint nameplate, const PhStoreRequest *request, gint64 now,
              MailboxRow *row, GError **error)
{
  sqlite3_stmt *stmt = statement (self, STMT_INSERT_MAILBOX);

  memset (row, 0, sizeof *row);
  row->nameplate = nameplate;
  ph_store_new_tag (row->tag);
  row->expires_at = lifetime_end (self, now);
  sqlite3_bind_int64 (stmt, 1, nameplate);
  sqlite3_bind_text (stmt, 2, row->tag, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, row->expires_at);
  sqlite3_bind_blob (stmt, 4, request->seat_secret_hash, PH_MAILBOX_SECRET_HASH_SIZE,
                     SQLITE_STATIC);
  bind_request_key (stmt, 5, request);
  if (!step_done (self, stmt, error))
    return FALSE;
  remember_open (self, nameplate, row->expires_at);
  return TRUE;
}

static gboolean
is_repeat (const SideRow *seat, const PhStoreRequest *request)
{
  return seat->taken && seat->has_request_key
         && ph_store_request_key_matches (request, seat->request_key_hash);
}

static gboolean
allocate (PhSqliteStore *self, const PhStoreRequest *request, gint64 now, PhStoreReply *reply,
          GError **error)
{
  PhStoreRequest plain = *request;
  MailboxRow row;
  guint nameplate;

  if (!check_capacity (self, error))
    return FALSE;

  /* Allocation is never repeated: it keeps no request key. */
  plain.has_request_key = FALSE;
  nameplate = ph_nameplate_pool_take_lowest (self->pool);
  if (!open_mailbox (self, nameplate, &plain, now, &row, error))
    return FALSE;
  fill_seat_reply (&row, PH_MAILBOX_HOST_SIDE, TRUE, now, reply);
  return TRUE;
}

static gboolean
claim (PhSqliteStore *self, const PhStoreRequest *request, gint64 now, PhStoreReply *reply,
       GError **error)
{
  guint nameplate = request->nameplate;
  MailboxRow row;

  if (g_hash_table_contains (self->open, GUINT_TO_POINTER (nameplate)))
    {
      if (!find_mailbox (self, request, &row, error))
        return FALSE;
      if (!is_repeat (&row.sides[0], request))
        return refuse (self, PH_STORE_ERROR_NAMEPLATE_UNAVAILABLE, nameplate, error);
      if (!write_seat (self, nameplate, PH_MAILBOX_HOST_SIDE, request, error))
        return FALSE;
      fill_seat_reply (&row, PH_MAILBOX_HOST_SIDE, FALSE, now, reply);
      return TRUE;
    }

  if (nameplate == 0 || nameplate > self->limits.max_mailboxes)
    return refuse (self, PH_STORE_ERROR_NAMEPLATE_UNAVAILABLE, nameplate, error);
  if (!check_capacity (self, error))
    return FALSE;

  ph_nameplate_pool_take (self->pool, nameplate);
  if (!open_mailbox (self, nameplate, request, now, &row, error))
    return FALSE;
  fill_seat_reply (&row, PH_MAILBOX_HOST_SIDE, TRUE, now, reply);
  return TRUE;
}

/* The first message of the mailbox when it is the one @request names,
 * from the host, as a joiner coming back remembers it. */
static gboolean
check_first_message (PhSqliteStore *self, const MailboxRow *row, const PhStoreRequest *request,
                     GError **error)
{
  sqlite3_stmt *stmt = statement (self, STMT_SELECT_FIRST_MESSAGE);
  gboolean same;
  gsize size;
  const void *body = g_bytes_get_data (request->body, &size);
  int rc;

  sqlite3_bind_int64 (stmt, 1, row->nameplate);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_DONE)
    {
      sqlite3_reset (stmt);
      g_set_error (error, PH_STORE_ERROR, PH_STORE_ERROR_NO_SUCH_MAILBOX,
                   "Mailbox %u holds no message yet: the chat you were in may not be back.",
                   row->nameplate);
      return FALSE;
    }
  if (rc != SQLITE_ROW)
    {
      sqlite3_reset (stmt);
      return fail (self, error);
    }
  same = sqlite3_column_int (stmt, 0) == PH_MAILBOX_HOST_SIDE
         && g_strcmp0 ((const char *)sqlite3_column_text (stmt, 1), request->phase) == 0
         && (gsize)sqlite3_column_bytes (stmt, 2) == size
         && (size == 0 || memcmp (sqlite3_column_blob (stmt, 2), body, size) == 0);
  sqlite3_reset (stmt);
  if (!same)
    return refuse (self, PH_STORE_ERROR_OTHER_FIRST_MESSAGE, row->nameplate, error);
  return TRUE;
}

/* The first to join holds side 2 from then on; anyone after it, even once
 * it left, finds the mailbox full. */
static gboolean
join (PhSqliteStore *self, const PhStoreRequest *request, gint64 now, PhStoreReply *reply,
      GError **error)
{
  MailboxRow row;
  SideRow *joiner;

  if (!find_mailbox (self, request, &row, error))
    return FALSE;

  joiner = &row.sides[PH_MAILBOX_JOINER_SIDE - 1];
  if (is_repeat (joiner, request))
    {
      if (!write_seat (self, row.nameplate, PH_MAILBOX_JOINER_SIDE, request, error))
        return FALSE;
      fill_seat_reply (&row, PH_MAILBOX_JOINER_SIDE, FALSE, now, reply);
      return TRUE;
    }
  if (joiner->taken)
    return refuse (self, PH_STORE_ERROR_THIRD_SIDE, row.nameplate, error);
  if (request->body != NULL && !check_first_message (self, &row, request, error))
    return FALSE;

  /* Paired from now on: the chat keeps it while it uses it. */
  if (!write_seat (self, row.nameplate, PH_MAILBOX_JOINER_SIDE, request, error)
      || !renew (self, &row, now, error))
    return FALSE;
  fill_seat_reply (&row, PH_MAILBOX_JOINER_SIDE, TRUE, now, reply);
  return TRUE;
}

static gboolean
authenticate (PhSqliteStore *self, const PhStoreRequest *request, PhStoreReply *reply,
              GError **error)
{
  MailboxRow row;

  if (!find_side (self, request, &row, &reply->side, error))
    return FALSE;
  memcpy (reply->tag, row.tag, sizeof reply->tag);
  return TRUE;
}

/* A mailbox both sides joined stays open while they use it (ph-store.h). */
static gboolean
is_paired (const MailboxRow *row)
{
  return row->sides[PH_MAILBOX_JOINER_SIDE - 1].taken;
}

static gboolean
add_message (PhSqliteStore *self, const PhStoreRequest *request, gint64 now, PhStoreReply *reply,
             Job *job, GError **error)
{
  MailboxRow row;
  sqlite3_stmt *stmt;
  gsize size;
  const void *body = g_bytes_get_data (request->body, &size);
  guint64 record[2];

  if (!find_side (self, request, &row, &reply->side, error))
    return FALSE;

  if (row.n_messages >= self->limits.max_messages
      || size > self->limits.max_mailbox_bytes - MIN (row.bytes, self->limits.max_mailbox_bytes))
    return refuse (self, PH_STORE_ERROR_MAILBOX_LIMIT, row.nameplate, error);

  reply->index = row.n_messages + 1;
  stmt = statement (self, STMT_INSERT_MESSAGE);
  sqlite3_bind_int64 (stmt, 1, row.nameplate);
  sqlite3_bind_int64 (stmt, 2, (sqlite3_int64)reply->index);
  sqlite3_bind_int (stmt, 3, (int)reply->side);
  sqlite3_bind_text (stmt, 4, request->phase, -1, SQLITE_STATIC);
  sqlite3_bind_blob64 (stmt, 5, size > 0 ? body : "", size, SQLITE_STATIC);
  if (!step_done (self, stmt, error))
    return FALSE;

  if (is_paired (&row))
    row.expires_at = lifetime_end (self, now);
  stmt = statement (self, STMT_COUNT_MESSAGE);
  sqlite3_bind_int64 (stmt, 1, row.nameplate);
  sqlite3_bind_int64 (stmt, 2, (sqlite3_int64)size);
  sqlite3_bind_int64 (stmt, 3, row.expires_at);
  if (!step_done (self, stmt, error))
    return FALSE;
  if (is_paired (&row))
    remember_renewal (self, row.nameplate, row.expires_at);

  memcpy (reply->tag, row.tag, sizeof reply->tag);
  record[0] = row.nameplate;
  record[1] = reply->index;
  g_array_append_vals (job->added, record, 2);
  return TRUE;
}

static gboolean
fetch (PhSqliteStore *self, const PhStoreRequest *request, gint64 now, PhStoreReply *reply,
       GError **error)
{
  MailboxRow row;
  sqlite3_stmt *stmt;
  int rc;

  if (!find_side (self, request, &row, &reply->side, error))
    return FALSE;
  if (is_paired (&row) && renewal_due (self, &row, now) && !renew (self, &row, now, error))
    return FALSE;

  reply->messages = g_ptr_array_new_with_free_func ((GDestroyNotify)ph_stored_message_unref);
  stmt = statement (self, STMT_SELECT_MESSAGES);
  sqlite3_bind_int64 (stmt, 1, row.nameplate);
  sqlite3_bind_int64 (stmt, 2, (sqlite3_int64)MIN (request->after, (guint64)G_MAXINT64));
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      g_autoptr (GBytes) body
          = g_bytes_new (sqlite3_column_blob (stmt, 3), (gsize)sqlite3_column_bytes (stmt, 3));

      g_ptr_array_add (reply->messages,
                       ph_stored_message_new ((guint64)sqlite3_column_int64 (stmt, 0),
                                              (guint)sqlite3_column_int (stmt, 1),
                                              (const char *)sqlite3_column_text (stmt, 2), body));
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return fail (self, error);

  memcpy (reply->tag, row.tag, sizeof reply->tag);
  return TRUE;
}

static gboolean
leave (PhSqliteStore *self, const PhStoreRequest *request, PhStoreReply *reply, Job *job,
       GError **error)
{
  MailboxRow row;

  if (!find_side (self, request, &row, &reply->side, error))
    return FALSE;

  row.sides[reply->side - 1].has_left = TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (row.sides); i++)
    if (row.sides[i].taken && !row.sides[i].has_left)
      return run_for_side (self, SIDE_STMT_SET_LEFT, row.nameplate, reply->side, error);

  return close_mailbox (self, row.nameplate, job, error);
}

static gboolean
count_turn (PhSqliteStore *self, const PhStoreRequest *request, gint64 now, PhStoreReply *reply,
            GError **error)
{
  MailboxRow row;
  SideRow *seat;
  sqlite3_stmt *stmt;

  if (!find_side (self, request, &row, &reply->side, error))
    return FALSE;

  memcpy (reply->tag, row.tag, sizeof reply->tag);
  seat = &row.sides[reply->side - 1];
  if (now >= seat->turn_window_end)
    {
      seat->turn_requests = 0;
      seat->turn_window_end = now + (gint64)request->window_seconds * G_USEC_PER_SEC;
    }
  reply->turn_granted = seat->turn_requests < request->quota;
  if (!reply->turn_granted)
    {
      reply->retry_after
          = (guint)((seat->turn_window_end - now + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
      return TRUE;
    }

  stmt = side_statement (self, SIDE_STMT_SET_TURN_COUNT, reply->side);
  sqlite3_bind_int64 (stmt, 1, row.nameplate);
  sqlite3_bind_int64 (stmt, 2, seat->turn_requests + 1);
  sqlite3_bind_int64 (stmt, 3, seat->turn_window_end);
  return step_done (self, stmt, error);
}

/* Meeting points */

/* Forgets a copy of @size bytes in the totals. */
static void
count_copy_gone (PhSqliteStore *self, guint64 size)
{
  self->n_copies -= MIN (self->n_copies, 1);
  self->copy_bytes -= MIN (self->copy_bytes, size);
}

static gboolean
prune_points (PhSqliteStore *self, gint64 now, GError **error)
{
  sqlite3_stmt *stmt = statement (self, STMT_PRUNE_POINTS);
  int rc;

  sqlite3_bind_int64 (stmt, 1, now);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    if (sqlite3_column_int (stmt, 0) == KIND_COPY)
      count_copy_gone (self, (guint64)sqlite3_column_int64 (stmt, 1));
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return fail (self, error);
  return TRUE;
}

/* How many rows of @kind the point @point_id has, and their bytes. */
static gboolean
point_usage (PhSqliteStore *self, const char *point_id, int kind, guint64 *out_count,
             guint64 *out_bytes, GError **error)
{
  sqlite3_stmt *stmt = statement (self, STMT_POINT_USAGE);
  int rc;

  sqlite3_bind_text (stmt, 1, point_id, -1, SQLITE_STATIC);
  sqlite3_bind_int (stmt, 2, kind);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      *out_count = (guint64)sqlite3_column_int64 (stmt, 0);
      *out_bytes = (guint64)sqlite3_column_int64 (stmt, 1);
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_ROW)
    return fail (self, error);
  return TRUE;
}

static gboolean
insert_point_item (PhSqliteStore *self, const PhStoreRequest *request, int kind, gint64 expires_at,
                   Job *job, GError **error)
{
  sqlite3_stmt *stmt = statement (self, STMT_INSERT_POINT_ITEM);
  gsize size;
  const void *body = g_bytes_get_data (request->body, &size);
  PointChange change = { .side = request->side };

  sqlite3_bind_text (stmt, 1, request->point_id, -1, SQLITE_STATIC);
  sqlite3_bind_int (stmt, 2, kind);
  sqlite3_bind_int (stmt, 3, (int)request->side);
  if (kind == KIND_MESSAGE)
    sqlite3_bind_text (stmt, 4, request->phase, -1, SQLITE_STATIC);
  sqlite3_bind_blob64 (stmt, 5, size > 0 ? body : "", size, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 6, (sqlite3_int64)size);
  sqlite3_bind_int64 (stmt, 7, expires_at);
  if (!step_done (self, stmt, error))
    return FALSE;

  job->reply->index = (guint64)sqlite3_last_insert_rowid (self->db);
  if (kind == KIND_COPY)
    {
      self->n_copies++;
      self->copy_bytes += size;
    }
  memcpy (change.id, request->point_id, sizeof change.id);
  change.index = job->reply->index;
  g_array_append_val (job->point_changes, change);
  return TRUE;
}

static gboolean
meet_add_message (PhSqliteStore *self, const PhStoreRequest *request, gint64 now, Job *job,
                  GError **error)
{
  gsize size = g_bytes_get_size (request->body);
  guint64 count;
  guint64 bytes;

  if (!point_usage (self, request->point_id, KIND_MESSAGE, &count, &bytes, error))
    return FALSE;
  if (count >= self->limits.max_messages || size > self->limits.max_mailbox_bytes
      || bytes > self->limits.max_mailbox_bytes - size)
    {
      g_propagate_error (
          error, ph_store_point_refusal_new (PH_STORE_ERROR_POINT_LIMIT, request, &self->limits));
      return FALSE;
    }
  return insert_point_item (self, request, KIND_MESSAGE, lifetime_end (self, now), job, error);
}

static gboolean
read_point_news (PhSqliteStore *self, const PhPointCursor *cursor, PhPointNews *news,
                 GError **error)
{
  sqlite3_stmt *stmt = statement (self, STMT_SELECT_POINT_MESSAGES);
  sqlite3_int64 after = (sqlite3_int64)MIN (cursor->after, (guint64)G_MAXINT64);
  int rc;

  sqlite3_bind_text (stmt, 1, cursor->id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, after);
  sqlite3_bind_int (stmt, 3, (int)cursor->side);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      g_autoptr (GBytes) body
          = g_bytes_new (sqlite3_column_blob (stmt, 3), (gsize)sqlite3_column_bytes (stmt, 3));

      g_ptr_array_add (news->messages,
                       ph_stored_message_new ((guint64)sqlite3_column_int64 (stmt, 0),
                                              (guint)sqlite3_column_int (stmt, 1),
                                              (const char *)sqlite3_column_text (stmt, 2), body));
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return fail (self, error);

  stmt = statement (self, STMT_COUNT_POINT_COPIES);
  sqlite3_bind_text (stmt, 1, cursor->id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, after);
  sqlite3_bind_int (stmt, 3, (int)cursor->side);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    news->n_stored = (guint)sqlite3_column_int64 (stmt, 0);
  sqlite3_reset (stmt);
  if (rc != SQLITE_ROW)
    return fail (self, error);
  return TRUE;
}

static gboolean
meet_fetch (PhSqliteStore *self, const PhStoreRequest *request, PhStoreReply *reply, GError **error)
{
  reply->points = g_ptr_array_new_with_free_func ((GDestroyNotify)ph_point_news_free);
  for (guint i = 0; request->points != NULL && i < request->points->len; i++)
    {
      const PhPointCursor *cursor = &g_array_index (request->points, PhPointCursor, i);
      PhPointNews *news = ph_point_news_new (cursor->id);

      g_ptr_array_add (reply->points, news);
      if (!read_point_news (self, cursor, news, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
store_copy (PhSqliteStore *self, const PhStoreRequest *request, gint64 now, Job *job,
            GError **error)
{
  guint64 count;
  guint64 bytes;

  if (!point_usage (self, request->point_id, KIND_COPY, &count, &bytes, error))
    return FALSE;
  if (!ph_store_check_copy_room (request, count, bytes, self->copy_bytes, &self->limits, error))
    return FALSE;
  job->reply->expires_in = request->lifetime_seconds;
  return insert_point_item (self, request, KIND_COPY,
                            now + (gint64)request->lifetime_seconds * G_USEC_PER_SEC, job, error);
}

static gboolean
fetch_copies (PhSqliteStore *self, const PhStoreRequest *request, gint64 now, PhStoreReply *reply,
              GError **error)
{
  sqlite3_stmt *stmt = statement (self, STMT_SELECT_COPIES);
  int rc;

  reply->messages = g_ptr_array_new_with_free_func ((GDestroyNotify)ph_stored_message_unref);
  sqlite3_bind_text (stmt, 1, request->point_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, (sqlite3_int64)MIN (request->after, (guint64)G_MAXINT64));
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      g_autoptr (GBytes) body
          = g_bytes_new (sqlite3_column_blob (stmt, 2), (gsize)sqlite3_column_bytes (stmt, 2));
      PhStoredMessage *copy = ph_stored_message_new (
          (guint64)sqlite3_column_int64 (stmt, 0), (guint)sqlite3_column_int (stmt, 1), NULL, body);

      copy->expires_in = seconds_left (sqlite3_column_int64 (stmt, 3), now);
      g_ptr_array_add (reply->messages, copy);
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return fail (self, error);
  return TRUE;
}

static gboolean
delete_copy (PhSqliteStore *self, const PhStoreRequest *request, GError **error)
{
  sqlite3_stmt *stmt = statement (self, STMT_DELETE_COPY);
  gboolean deleted = FALSE;
  int rc;

  sqlite3_bind_text (stmt, 1, request->point_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, (sqlite3_int64)MIN (request->index, (guint64)G_MAXINT64));
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      count_copy_gone (self, (guint64)sqlite3_column_int64 (stmt, 0));
      deleted = TRUE;
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return fail (self, error);
  if (deleted)
    return TRUE;
  g_propagate_error (
      error, ph_store_point_refusal_new (PH_STORE_ERROR_NO_SUCH_COPY, request, &self->limits));
  return FALSE;
}

/* The operations on meeting points, after what expired is deleted. */
static gboolean
do_point_operation (PhSqliteStore *self, Job *job, gint64 now, GError **error)
{
  const PhStoreRequest *request = job->request;
  PhStoreReply *reply = job->reply;

  if (!prune_points (self, now, error))
    return FALSE;
  switch (request->op)
    {
    case PH_STORE_OP_MEET_ADD_MESSAGE:
      return meet_add_message (self, request, now, job, error);
    case PH_STORE_OP_MEET_FETCH:
      return meet_fetch (self, request, reply, error);
    case PH_STORE_OP_STORE_COPY:
      return store_copy (self, request, now, job, error);
    case PH_STORE_OP_FETCH_COPIES:
      return fetch_copies (self, request, now, reply, error);
    case PH_STORE_OP_DELETE_COPY:
      return delete_copy (self, request, error);
    case PH_STORE_OP_COUNT_COPIES:
      reply->n_copies = self->n_copies;
      reply->copy_bytes = self->copy_bytes;
      return TRUE;
    default:
      g_assert_not_reached ();
    }
}

static gboolean
do_operation (PhSqliteStore *self, Job *job, gint64 now, GError **error)
{
  const PhStoreRequest *request = job->request;
  PhStoreReply *reply = job->reply;

  reply->nameplate = request->nameplate;
  switch (request->op)
    {
    case PH_STORE_OP_ALLOCATE:
      return allocate (self, request, now, reply, error);
    case PH_STORE_OP_CLAIM:
      return claim (self, request, now, reply, error);
    case PH_STORE_OP_JOIN:
      return join (self, request, now, reply, error);
    case PH_STORE_OP_AUTHENTICATE:
      return authenticate (self, request, reply, error);
    case PH_STORE_OP_ADD_MESSAGE:
      return add_message (self, request, now, reply, job, error);
    case PH_STORE_OP_FETCH:
      return fetch (self, request, now, reply, error);
    case PH_STORE_OP_LEAVE:
      return leave (self, request, reply, job, error);
    case PH_STORE_OP_COUNT_TURN:
      return count_turn (self, request, now, reply, error);
    case PH_STORE_OP_COUNT_OPEN:
      reply->n_open = g_hash_table_size (self->open);
      return TRUE;
    case PH_STORE_OP_MEET_ADD_MESSAGE:
    case PH_STORE_OP_MEET_FETCH:
    case PH_STORE_OP_STORE_COPY:
    case PH_STORE_OP_FETCH_COPIES:
    case PH_STORE_OP_DELETE_COPY:
    case PH_STORE_OP_COUNT_COPIES:
      return do_point_operation (self, job, now, error);
    case PH_STORE_N_OPS:
    default:
      g_assert_not_reached ();
    }
}

/* The worker */

static void
job_free (Job *job)
{
  g_clear_object (&job->task);
  g_clear_pointer (&job->reply, ph_store_reply_free);
  g_clear_error (&job->error);
  g_array_unref (job->closed);
  g_array_unref (job->added);
  g_array_unref (job->point_changes);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Job, job_free)

static Job *
job_new (GTask *task, PhStoreRequest *request)
{
  Job *job = g_new0 (Job, 1);

  job->task = task != NULL ? g_object_ref (task) : NULL;
  job->request = request;
  job->reply = ph_store_reply_new ();
  job->closed = g_array_new (FALSE, FALSE, sizeof (guint));
  job->added = g_array_new (FALSE, FALSE, sizeof (guint64));
  job->point_changes = g_array_new (FALSE, FALSE, sizeof (PointChange));
  return job;
}

/* On the main context: the notifications, then the reply. */
static gboolean
deliver_done_cb (gpointer user_data)
{
  /* A reply's callback may drop the last other reference. */
  g_autoptr (PhSqliteStore) self = g_object_ref (user_data);
  GQueue done = G_QUEUE_INIT;
  Job *job;

  g_mutex_lock (&self->done_lock);
  done = self->done;
  g_queue_init (&self->done);
  g_clear_pointer (&self->done_source, g_source_unref);
  g_mutex_unlock (&self->done_lock);

  while ((job = g_queue_pop_head (&done)) != NULL)
    {
      for (guint i = 0; i < job->closed->len; i++)
        ph_store_emit_mailbox_closed (PH_STORE (self), g_array_index (job->closed, guint, i));
      for (guint i = 0; i + 1 < job->added->len; i += 2)
        ph_store_emit_message_added (PH_STORE (self), (guint)g_array_index (job->added, guint64, i),
                                     g_array_index (job->added, guint64, i + 1));
      for (guint i = 0; i < job->point_changes->len; i++)
        {
          const PointChange *change = &g_array_index (job->point_changes, PointChange, i);

          ph_store_emit_point_changed (PH_STORE (self), change->id, change->index, change->side);
        }
      if (job->task != NULL && job->error != NULL)
        g_task_return_error (job->task, g_steal_pointer (&job->error));
      else if (job->task != NULL)
        ph_store_return_reply (job->task, g_steal_pointer (&job->reply));
      job_free (job);
    }
  return G_SOURCE_REMOVE;
}

/* Hands @jobs back to the main context: one source for however many come
 * back before it runs. */
static void
hand_back (PhSqliteStore *self, GQueue *jobs)
{
  Job *job;

  if (g_queue_is_empty (jobs))
    return;

  g_mutex_lock (&self->done_lock);
  while ((job = g_queue_pop_head (jobs)) != NULL)
    g_queue_push_tail (&self->done, job);
  if (self->done_source == NULL)
    {
      self->done_source = g_idle_source_new ();
      g_source_set_priority (self->done_source, G_PRIORITY_DEFAULT);
      g_source_set_callback (self->done_source, deliver_done_cb, self, NULL);
      g_source_set_static_name (self->done_source, "[pinhole] sqlite store replies");
      g_source_attach (self->done_source, self->context);
    }
  g_mutex_unlock (&self->done_lock);
}

/* One transaction: the expired mailboxes closed, then the operation, if
 * any. A refusal commits what was done before it (expiry, a request key
 * forgotten); a failure rolls it all back and reads the open mailboxes
 * back from the file. */
static gboolean
run_job (PhSqliteStore *self, Job *job, GQueue *done)
{
  gint64 now = g_get_real_time ();
  g_autoptr (GError) error = NULL;
  gboolean failed;

  if (job->task != NULL && g_task_return_error_if_cancelled (job->task))
    {
      job_free (job);
      return TRUE;
    }

  failed
      = !run_simple (self, STMT_BEGIN, &error) || !close_expired (self, now, job, &error)
        || (job->request != NULL && !do_operation (self, job, now, &error) && !is_refusal (error));
  if (!failed)
    {
      g_autoptr (GError) commit_error = NULL;

      if (!run_simple (self, STMT_COMMIT, &commit_error))
        {
          g_clear_error (&error);
          error = g_steal_pointer (&commit_error);
          failed = TRUE;
        }
    }
  if (failed)
    {
      g_autoptr (GError) reload_error = NULL;

      if (sqlite3_get_autocommit (self->db) == 0)
        run_simple (self, STMT_ROLLBACK, NULL);
      g_array_set_size (job->closed, 0);
      g_array_set_size (job->added, 0);
      g_array_set_size (job->point_changes, 0);
      if (!load_open (self, &reload_error))
        g_warning ("%s", reload_error->message);
      if (job->task == NULL)
        g_warning ("Could not close the expired mailboxes: %s", error->message);
    }

  job->error = g_steal_pointer (&error);
  if (job->task == NULL && job->closed->len == 0)
    job_free (job);
  else
    g_queue_push_tail (done, job);
  return !failed;
}

/* Jobs in order; between them, sleeps until the next mailbox expires. A
 * sweep that failed waits a second before the next, whatever is due.
 * What is done goes back once the queue is empty: on a busy server one
 * wake-up of the main loop answers many requests, rather than each
 * request costing two switches between the threads. */
static gpointer
worker_main (gpointer user_data)
{
  PhSqliteStore *self = user_data;
  GQueue done = G_QUEUE_INIT;
  gint64 retry_sweep_at = 0;

  for (;;)
    {
      Entry *head = g_queue_peek_head (&self->expiring);
      gint64 now = g_get_real_time ();
      Job *job;

      if (head == NULL)
        job = g_async_queue_pop (self->jobs);
      else
        job = g_async_queue_timeout_pop (self->jobs,
                                         MAX (MAX (head->expires_at, retry_sweep_at) - now, 0) + 1);
      if (job == NULL && !run_job (self, job_new (NULL, NULL), &done))
        retry_sweep_at = g_get_real_time () + G_USEC_PER_SEC;
      for (; job != NULL && job != &stop_job; job = g_async_queue_try_pop (self->jobs))
        run_job (self, job, &done);
      hand_back (self, &done);
      if (job == &stop_job)
        break;
    }
  return NULL;
}

/* Jobs wait in the outbox until the main loop is about to sleep, then go
 * to the worker together: see worker_main (). */
static gboolean
outbox_prepare (GSource *source, int *timeout)
{
  PhSqliteStore *self = ((OutboxSource *)source)->store;
  Job *job;

  *timeout = -1;
  if (g_queue_is_empty (&self->outbox))
    return FALSE;

  g_async_queue_lock (self->jobs);
  while ((job = g_queue_pop_head (&self->outbox)) != NULL)
    g_async_queue_push_unlocked (self->jobs, job);
  g_async_queue_unlock (self->jobs);
  return FALSE;
}

static GSourceFuncs outbox_funcs = {
  .prepare = outbox_prepare,
};

static void
ph_sqlite_store_run (PhStore *store, PhStoreRequest *request, GTask *task)
{
  PhSqliteStore *self = PH_SQLITE_STORE (store);

  if (self->worker == NULL)
    {
      g_task_return_new_error (task, PH_STORE_ERROR, PH_STORE_ERROR_FAILED,
                               "The mailbox database was not opened.");
      return;
    }
  g_queue_push_tail (&self->outbox, job_new (task, request));
}

static gboolean
ph_sqlite_store_is_durable (PhStore *store)
{
  return TRUE;
}

/* Opening */

static gboolean
set_errno_error (GError **error, int saved_errno, const char *what, const char *path)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
               "Could not %s “%s” for the mailbox database: %s.", what, path,
               g_strerror (saved_errno));
  return FALSE;
}

/* The file 0600 whatever the umask: it holds the sides' secrets' hashes
 * and the messages. A folder that is missing is made 0700; one that is
 * there, such as the working directory, is left as it is. */
static gboolean
prepare_file (const char *path, GError **error)
{
  g_autofree char *directory = g_path_get_dirname (path);
  struct stat st;
  int fd;

  if (g_mkdir_with_parents (directory, 0700) != 0)
    return set_errno_error (error, errno, "create the folder", directory);

  fd = g_open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return set_errno_error (error, errno, "open", path);
  if (fchmod (fd, 0600) != 0 || fstat (fd, &st) != 0)
    {
      int saved_errno = errno;

      close (fd);
      return set_errno_error (error, saved_errno, "make private", path);
    }
  close (fd);
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE,
                   "The database “%s” is not a regular file.", path);
      return FALSE;
    }
  return TRUE;
}

static gboolean
exec (PhSqliteStore *self, const char *sql, GError **error)
{
  char *message = NULL;
  int rc = sqlite3_exec (self->db, sql, NULL, NULL, &message);

  if (rc != SQLITE_OK)
    {
      set_open_error (error, self->path, sqlite3_extended_errcode (self->db),
                      message != NULL ? message : sqlite3_errstr (rc));
      sqlite3_free (message);
      return FALSE;
    }
  return TRUE;
}

/* The first integer of @sql's first row, or -1 with @error set. */
static gint64
query_integer (PhSqliteStore *self, const char *sql, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  gint64 value = -1;
  int rc = sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL);

  if (rc == SQLITE_OK && (rc = sqlite3_step (stmt)) == SQLITE_ROW)
    value = sqlite3_column_int64 (stmt, 0);
  if (value < 0)
    set_open_error (error, self->path, sqlite3_extended_errcode (self->db),
                    sqlite3_errmsg (self->db));
  sqlite3_finalize (stmt);
  return value;
}

/* WAL, or an error: SQLite stays in another mode where it cannot use one
 * (a file system without the locks it needs). */
static gboolean
use_wal (PhSqliteStore *self, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  gboolean wal = FALSE;
  int rc = sqlite3_prepare_v2 (self->db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL);

  if (rc == SQLITE_OK && (rc = sqlite3_step (stmt)) == SQLITE_ROW)
    wal = g_ascii_strcasecmp ((const char *)sqlite3_column_text (stmt, 0), "wal") == 0;
  else
    set_open_error (error, self->path, sqlite3_extended_errcode (self->db),
                    sqlite3_errmsg (self->db));
  sqlite3_finalize (stmt);
  if (!wal && rc == SQLITE_ROW)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "The database “%s” cannot be kept in WAL mode where it is.", self->path);
  return wal;
}

/* SQLite's own check of the file's structure: a damaged file is found
 * at start, with its name, rather than by a request later. */
static gboolean
check_integrity (PhSqliteStore *self, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  g_autofree char *verdict = NULL;
  int rc = sqlite3_prepare_v2 (self->db, "PRAGMA quick_check", -1, &stmt, NULL);

  if (rc == SQLITE_OK && (rc = sqlite3_step (stmt)) == SQLITE_ROW)
    verdict = g_strdup ((const char *)sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  if (verdict == NULL)
    {
      set_open_error (error, self->path, sqlite3_extended_errcode (self->db),
                      sqlite3_errmsg (self->db));
      return FALSE;
    }
  if (strcmp (verdict, "ok") != 0)
    {
      /* Its first finding, on one line, is enough to say so. */
      g_strdelimit (verdict, "\n", ';');
      if (strlen (verdict) > 160)
        strcpy (verdict + 157, "...");
      set_open_error (error, self->path, SQLITE_CORRUPT, verdict);
      return FALSE;
    }
  return TRUE;
}

/* A file of ours says so in its header; an empty one becomes ours. */
static gboolean
check_application (PhSqliteStore *self, GError **error)
{
  gint64 id = query_integer (self, "PRAGMA application_id", error);
  gint64 tables;

  if (id < 0)
    return FALSE;
  if (id == APPLICATION_ID)
    return TRUE;
  tables = query_integer (self, "SELECT count(*) FROM sqlite_schema", error);
  if (tables < 0)
    return FALSE;
  if (id != 0 || tables > 0)
    {
      set_open_error (error, self->path, SQLITE_NOTADB, "it is another program's SQLite database");
      return FALSE;
    }
  return exec (self, "PRAGMA application_id = " G_STRINGIFY (APPLICATION_ID), error);
}

static gboolean
migrate (PhSqliteStore *self, GError **error)
{
  gint64 version;

  if (!exec (self, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", error))
    return FALSE;
  version = query_integer (self, "SELECT IFNULL (MAX (version), 0) FROM schema_version", error);
  if (version < 0)
    return FALSE;
  if (version > (gint64)G_N_ELEMENTS (migrations))
    {
      g_set_error (
          error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
          "The database “%s” was written by a newer pinhole-rendezvous (schema %" G_GINT64_FORMAT
          "); update the server to use it.",
          self->path, version);
      return FALSE;
    }

  for (gsize i = (gsize)version; i < G_N_ELEMENTS (migrations); i++)
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

/* Closes what expired while the server was away, and takes the file's
 * lock for good: a second server on it fails here. */
static gboolean
sweep_at_start (PhSqliteStore *self, GError **error)
{
  g_autoptr (Job) job = job_new (NULL, NULL);
  g_autoptr (GError) local_error = NULL;

  if (!run_simple (self, STMT_BEGIN, &local_error)
      || !close_expired (self, g_get_real_time (), job, &local_error)
      || !run_simple (self, STMT_COMMIT, &local_error))
    {
      set_open_error (error, self->path, sqlite3_extended_errcode (self->db),
                      sqlite3_errmsg (self->db));
      return FALSE;
    }
  return TRUE;
}

static gboolean
prepare (PhSqliteStore *self, const char *sql, sqlite3_stmt **out_stmt, GError **error)
{
  if (sqlite3_prepare_v3 (self->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out_stmt, NULL)
      == SQLITE_OK)
    return TRUE;
  set_open_error (error, self->path, sqlite3_extended_errcode (self->db),
                  sqlite3_errmsg (self->db));
  return FALSE;
}

static gboolean
ph_sqlite_store_initable_init_impl (GInitable *initable, GCancellable *cancellable, GError **error)
{
  PhSqliteStore *self = PH_SQLITE_STORE (initable);
  g_autoptr (GError) local_error = NULL;
  int rc;

  g_return_val_if_fail (self->db == NULL, FALSE);

  if (self->path == NULL || *self->path == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "The mailbox database needs a file name.");
      return FALSE;
    }
  if (!prepare_file (self->path, error))
    return FALSE;

  rc = sqlite3_open_v2 (self->path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK)
    {
      set_open_error (error, self->path, rc,
                      self->db != NULL ? sqlite3_errmsg (self->db) : sqlite3_errstr (rc));
      return FALSE;
    }
  sqlite3_extended_result_codes (self->db, TRUE);
  sqlite3_busy_timeout (self->db, BUSY_TIMEOUT_MS);

  /* Exclusive before WAL: the WAL index then lives in this process's
   * memory, not in a shared -shm file, and no other process opens the
   * file while we have it. The first statement reads the header: a file
   * that is not a database fails here. */
  if (!exec (self, "PRAGMA locking_mode = EXCLUSIVE", error) || !use_wal (self, error)
      || !exec (self, self->full_sync ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
                error)
      || !check_integrity (self, error) || !check_application (self, error)
      || !migrate (self, error))
    return FALSE;

  for (guint i = 0; i < N_STMTS; i++)
    if (!prepare (self, statement_sql[i], &self->statements[i], error))
      return FALSE;
  for (guint i = 0; i < N_SIDE_STMTS; i++)
    for (guint side = 1; side <= 2; side++)
      {
        g_autoptr (GString) sql = g_string_new (side_statement_sql[i]);

        g_string_replace (sql, "sideN", side == 1 ? "side1" : "side2", 0);
        if (!prepare (self, sql->str, &self->side_statements[i][side - 1], error))
          return FALSE;
      }

  if (!load_open (self, &local_error))
    {
      set_open_error (error, self->path, sqlite3_extended_errcode (self->db), local_error->message);
      return FALSE;
    }
  if (!sweep_at_start (self, error))
    return FALSE;

  self->context = g_main_context_ref_thread_default ();
  self->jobs = g_async_queue_new ();
  self->outbox_source = g_source_new (&outbox_funcs, sizeof (OutboxSource));
  ((OutboxSource *)self->outbox_source)->store = self;
  g_source_set_static_name (self->outbox_source, "[pinhole] sqlite store requests");
  g_source_attach (self->outbox_source, self->context);
  self->worker = g_thread_new ("ph-sqlite-store", worker_main, self);
  return TRUE;
}

static void
ph_sqlite_store_dispose (GObject *object)
{
  PhSqliteStore *self = PH_SQLITE_STORE (object);

  /* Jobs queued before the stop are done first: a task keeps the store,
   * so only the worker's own sweeps can be left. */
  if (self->outbox_source != NULL)
    {
      g_source_destroy (self->outbox_source);
      g_clear_pointer (&self->outbox_source, g_source_unref);
    }
  if (self->worker != NULL)
    {
      g_async_queue_push (self->jobs, &stop_job);
      g_thread_join (self->worker);
      self->worker = NULL;
    }

  g_mutex_lock (&self->done_lock);
  if (self->done_source != NULL)
    {
      g_source_destroy (self->done_source);
      g_clear_pointer (&self->done_source, g_source_unref);
    }
  g_queue_clear_full (&self->done, (GDestroyNotify)job_free);
  g_mutex_unlock (&self->done_lock);

  G_OBJECT_CLASS (ph_sqlite_store_parent_class)->dispose (object);
}

static void
ph_sqlite_store_finalize (GObject *object)
{
  PhSqliteStore *self = PH_SQLITE_STORE (object);

  for (guint i = 0; i < N_STMTS; i++)
    sqlite3_finalize (self->statements[i]);
  for (guint i = 0; i < N_SIDE_STMTS; i++)
    for (guint side = 0; side < 2; side++)
      sqlite3_finalize (self->side_statements[i][side]);
  /* Closing the connection checkpoints the WAL into the file. */
  if (self->db != NULL)
    sqlite3_close (self->db);
  g_clear_pointer (&self->jobs, g_async_queue_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_queue_init (&self->expiring);
  g_clear_pointer (&self->open, g_hash_table_unref);
  g_clear_pointer (&self->pool, ph_nameplate_pool_free);
  g_mutex_clear (&self->done_lock);
  g_free (self->path);

  G_OBJECT_CLASS (ph_sqlite_store_parent_class)->finalize (object);
}

static void
ph_sqlite_store_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PhSqliteStore *self = PH_SQLITE_STORE (object);

  switch (prop_id)
    {
    case PROP_PATH:
      g_value_set_string (value, self->path);
      break;
    case PROP_FULL_SYNC:
      g_value_set_boolean (value, self->full_sync);
      break;
    case PROP_MAX_MAILBOXES:
      g_value_set_uint (value, self->limits.max_mailboxes);
      break;
    case PROP_MAX_MESSAGES:
      g_value_set_uint (value, self->limits.max_messages);
      break;
    case PROP_MAX_MAILBOX_BYTES:
      g_value_set_uint64 (value, self->limits.max_mailbox_bytes);
      break;
    case PROP_LIFETIME:
      g_value_set_uint (value, self->limits.lifetime);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_sqlite_store_set_property (GObject *object, guint prop_id, const GValue *value,
                              GParamSpec *pspec)
{
  PhSqliteStore *self = PH_SQLITE_STORE (object);

  switch (prop_id)
    {
    case PROP_PATH:
      g_free (self->path);
      self->path = g_value_dup_string (value);
      break;
    case PROP_FULL_SYNC:
      self->full_sync = g_value_get_boolean (value);
      break;
    case PROP_MAX_MAILBOXES:
      self->limits.max_mailboxes = g_value_get_uint (value);
      break;
    case PROP_MAX_MESSAGES:
      self->limits.max_messages = g_value_get_uint (value);
      break;
    case PROP_MAX_MAILBOX_BYTES:
      self->limits.max_mailbox_bytes = g_value_get_uint64 (value);
      break;
    case PROP_LIFETIME:
      self->limits.lifetime = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_sqlite_store_class_init (PhSqliteStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS
                      | G_PARAM_EXPLICIT_NOTIFY;

  object_class->dispose = ph_sqlite_store_dispose;
  object_class->finalize = ph_sqlite_store_finalize;
  object_class->get_property = ph_sqlite_store_get_property;
  object_class->set_property = ph_sqlite_store_set_property;

  properties[PROP_PATH] = g_param_spec_string ("path", NULL, NULL, NULL, flags);
  /* synchronous=FULL: an fsync at every commit, against power cuts too. */
  properties[PROP_FULL_SYNC] = g_param_spec_boolean ("full-sync", NULL, NULL, FALSE, flags);
  g_object_class_install_property (object_class, PROP_PATH, properties[PROP_PATH]);
  g_object_class_install_property (object_class, PROP_FULL_SYNC, properties[PROP_FULL_SYNC]);

  g_object_class_override_property (object_class, PROP_MAX_MAILBOXES, "max-mailboxes");
  g_object_class_override_property (object_class, PROP_MAX_MESSAGES, "max-messages");
  g_object_class_override_property (object_class, PROP_MAX_MAILBOX_BYTES, "max-mailbox-bytes");
  g_object_class_override_property (object_class, PROP_LIFETIME, "lifetime");
}

static void
ph_sqlite_store_init (PhSqliteStore *self)
{
  self->open = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify)entry_free);
  self->pool = ph_nameplate_pool_new ();
  g_mutex_init (&self->done_lock);
}

static void
ph_sqlite_store_initable_init (GInitableIface *iface)
{
  iface->init = ph_sqlite_store_initable_init_impl;
}

static void
ph_sqlite_store_store_init (PhStoreInterface *iface)
{
  iface->name = "sqlite";
  iface->run = ph_sqlite_store_run;
  iface->is_durable = ph_sqlite_store_is_durable;
}
