/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-ratchet-store"

#include "config.h"

#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include <key_helper.h>
#include <session_pre_key.h>
#include <session_record.h>

#include "ph-private-file.h"
#include "ph-ratchet-store.h"
#include "ph-ratchet.h"

/* How long a write waits for another process on the same profile. */
#define BUSY_TIMEOUT_MS 1000
#define SCHEMA_VERSION 1
/* libsignal's pre-key ids are 24-bit (PRE_KEY_MEDIUM_MAX_VALUE). */
#define PRE_KEY_ID_MAX 0xFFFFFF

typedef enum
{
  STMT_GET_SETTING,
  STMT_SET_SETTING,
  STMT_LOAD_SESSION,
  STMT_SESSION_DEVICES,
  STMT_STORE_SESSION,
  STMT_CONTAINS_SESSION,
  STMT_DELETE_SESSION,
  STMT_DELETE_SESSIONS,
  STMT_LOAD_PRE_KEY,
  STMT_STORE_PRE_KEY,
  STMT_REMOVE_PRE_KEY,
  STMT_LOAD_SIGNED_PRE_KEY,
  STMT_STORE_SIGNED_PRE_KEY,
  STMT_REMOVE_SIGNED_PRE_KEY,
  STMT_GET_CONTACT,
  STMT_PIN_IDENTITY,
  STMT_SET_OWN_BASE_KEY,
  STMT_FORGET_CONTACT,
  N_STMTS
} Statement;

static const char *const statement_sql[N_STMTS] = {
  [STMT_GET_SETTING] = "SELECT value FROM settings WHERE name = ?1",
  [STMT_SET_SETTING] = "INSERT OR REPLACE INTO settings (name, value) VALUES (?1, ?2)",
  [STMT_LOAD_SESSION] = "SELECT record, user_record FROM sessions "
                        "WHERE contact_id = ?1 AND device_id = ?2",
  [STMT_SESSION_DEVICES] = "SELECT device_id FROM sessions WHERE contact_id = ?1",
  [STMT_STORE_SESSION] = "INSERT OR REPLACE INTO sessions (contact_id, device_id, record, "
                         "user_record) VALUES (?1, ?2, ?3, ?4)",
  [STMT_CONTAINS_SESSION] = "SELECT 1 FROM sessions WHERE contact_id = ?1 AND device_id = ?2",
  [STMT_DELETE_SESSION] = "DELETE FROM sessions WHERE contact_id = ?1 AND device_id = ?2",
  [STMT_DELETE_SESSIONS] = "DELETE FROM sessions WHERE contact_id = ?1",
  [STMT_LOAD_PRE_KEY] = "SELECT record FROM pre_keys WHERE id = ?1",
  [STMT_STORE_PRE_KEY] = "INSERT OR REPLACE INTO pre_keys (id, record) VALUES (?1, ?2)",
  [STMT_REMOVE_PRE_KEY] = "DELETE FROM pre_keys WHERE id = ?1",
  [STMT_LOAD_SIGNED_PRE_KEY] = "SELECT record FROM signed_pre_keys WHERE id = ?1",
  [STMT_STORE_SIGNED_PRE_KEY] = "INSERT OR REPLACE INTO signed_pre_keys (id, record) "
                                "VALUES (?1, ?2)",
  [STMT_REMOVE_SIGNED_PRE_KEY] = "DELETE FROM signed_pre_keys WHERE id = ?1",
  [STMT_GET_CONTACT] = "SELECT identity_key, own_base_key FROM contacts WHERE contact_id = ?1",
  /* A key pinned anew drops the base key that belonged to the old one. */
  [STMT_PIN_IDENTITY]
  = "INSERT INTO contacts (contact_id, identity_key) VALUES (?1, ?2) "
    "ON CONFLICT (contact_id) DO UPDATE SET identity_key = excluded.identity_key, "
    "own_base_key = CASE WHEN identity_key = excluded.identity_key "
    "THEN own_base_key END",
  [STMT_SET_OWN_BASE_KEY] = "UPDATE contacts SET own_base_key = ?2 WHERE contact_id = ?1",
  [STMT_FORGET_CONTACT] = "DELETE FROM contacts WHERE contact_id = ?1",
};

static const char schema_sql[]
    = "CREATE TABLE settings (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);"
      "CREATE TABLE sessions (contact_id TEXT NOT NULL, device_id INTEGER NOT NULL,"
      "  record BLOB NOT NULL, user_record BLOB, PRIMARY KEY (contact_id, device_id));"
      "CREATE TABLE pre_keys (id INTEGER PRIMARY KEY NOT NULL, record BLOB NOT NULL);"
      "CREATE TABLE signed_pre_keys (id INTEGER PRIMARY KEY NOT NULL, record BLOB NOT NULL);"
      "CREATE TABLE contacts (contact_id TEXT PRIMARY KEY NOT NULL,"
      "  identity_key BLOB NOT NULL, own_base_key BLOB);";

struct _PhRatchetStore
{
  GObject parent_instance;

  char *path;
  sqlite3 *db;
  sqlite3_stmt *statements[N_STMTS];
  signal_context *context;
  PhIdentity *identity;
  guint32 registration_id;
  GError *callback_error;
};

G_DEFINE_FINAL_TYPE (PhRatchetStore, ph_ratchet_store, G_TYPE_OBJECT)

/* Errors */

static gboolean
set_sqlite_error (PhRatchetStore *self, GError **error)
{
  int rc = sqlite3_extended_errcode (self->db);

  if ((rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT)
    g_set_error (error, PH_RATCHET_ERROR, PH_RATCHET_ERROR_DAMAGED,
                 "The message keys in “%s” are damaged (%s). Move the file away: each "
                 "contact's keys start anew the next time you meet them.",
                 self->path, sqlite3_errmsg (self->db));
  else
    g_set_error (error, PH_RATCHET_ERROR, PH_RATCHET_ERROR_STORE,
                 "Could not use the message keys in “%s”: %s.", self->path,
                 sqlite3_errmsg (self->db));
  return FALSE;
}

/* Keeps the first problem a callback meets; libsignal only sees a number. */
static int
callback_failed (PhRatchetStore *self, GError *error)
{
  if (self->callback_error == NULL)
    self->callback_error = error;
  else
    g_error_free (error);
  return SG_ERR_UNKNOWN;
}

static int
callback_sqlite_failed (PhRatchetStore *self)
{
  GError *error = NULL;

  set_sqlite_error (self, &error);
  return callback_failed (self, error);
}

static int
callback_damaged (PhRatchetStore *self, const char *what)
{
  return callback_failed (self, g_error_new (PH_RATCHET_ERROR, PH_RATCHET_ERROR_DAMAGED,
                                             "The %s in “%s” is damaged. Remove the "
                                             "contact and save it again.",
                                             what, self->path));
}

GError *
ph_ratchet_store_take_error (PhRatchetStore *self)
{
  g_return_val_if_fail (PH_IS_RATCHET_STORE (self), NULL);

  return g_steal_pointer (&self->callback_error);
}

/* Statements */

static sqlite3_stmt *
prepare (PhRatchetStore *self, Statement which)
{
  sqlite3_stmt *statement = self->statements[which];

  sqlite3_reset (statement);
  sqlite3_clear_bindings (statement);
  return statement;
}

static void
bind_name (sqlite3_stmt *statement, int column, const char *name, size_t name_len)
{
  sqlite3_bind_text (statement, column, name, (int)name_len, SQLITE_TRANSIENT);
}

static void
bind_address (sqlite3_stmt *statement, const signal_protocol_address *address)
{
  bind_name (statement, 1, address->name, address->name_len);
  sqlite3_bind_int64 (statement, 2, address->device_id);
}

/* Runs a statement that returns no rows. */
static gboolean
run (PhRatchetStore *self, sqlite3_stmt *statement)
{
  int rc = sqlite3_step (statement);

  sqlite3_reset (statement);
  return rc == SQLITE_DONE;
}

static gboolean
exec (PhRatchetStore *self, const char *sql, GError **error)
{
  if (sqlite3_exec (self->db, sql, NULL, NULL, NULL) != SQLITE_OK)
    return set_sqlite_error (self, error);
  return TRUE;
}

/* A blob column as a libsignal buffer (an empty one for a NULL blob). */
static signal_buffer *
column_buffer (sqlite3_stmt *statement, int column)
{
  const void *data = sqlite3_column_blob (statement, column);
  int size = sqlite3_column_bytes (statement, column);

  return signal_buffer_create (data, size > 0 ? (size_t)size : 0);
}

static GBytes *
column_bytes (sqlite3_stmt *statement, int column)
{
  const void *data = sqlite3_column_blob (statement, column);
  int size = sqlite3_column_bytes (statement, column);

  if (data == NULL)
    return NULL;
  return g_bytes_new (data, size);
}

/* Settings */

static gboolean
get_setting (PhRatchetStore *self, const char *name, gint64 *out_value, GError **error)
{
  sqlite3_stmt *statement = prepare (self, STMT_GET_SETTING);
  int rc;

  sqlite3_bind_text (statement, 1, name, -1, SQLITE_STATIC);
  rc = sqlite3_step (statement);
  if (rc == SQLITE_ROW)
    *out_value = sqlite3_column_int64 (statement, 0);
  sqlite3_reset (statement);
  if (rc == SQLITE_ROW)
    return TRUE;
  if (rc == SQLITE_DONE)
    {
      *out_value = 0;
      return TRUE;
    }
  return set_sqlite_error (self, error);
}

static gboolean
set_setting (PhRatchetStore *self, const char *name, gint64 value, GError **error)
{
  sqlite3_stmt *statement = prepare (self, STMT_SET_SETTING);

  sqlite3_bind_text (statement, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (statement, 2, value);
  if (!run (self, statement))
    return set_sqlite_error (self, error);
  return TRUE;
}

guint32
ph_ratchet_store_get_registration_id (PhRatchetStore *self)
{
  g_return_val_if_fail (PH_IS_RATCHET_STORE (self), 0);

  return self->registration_id;
}

gboolean
ph_ratchet_store_next_pre_key_id (PhRatchetStore *self, guint32 *out_id, GError **error)
{
  gint64 id;

  g_return_val_if_fail (PH_IS_RATCHET_STORE (self), FALSE);

  if (!get_setting (self, "next_pre_key_id", &id, error))
    return FALSE;
  /* Start anywhere, as libsignal advises, so ids say nothing about how
   * many contacts came before. */
  if (id < 1 || id > PRE_KEY_ID_MAX)
    id = 1 + randombytes_uniform (PRE_KEY_ID_MAX);
  if (!set_setting (self, "next_pre_key_id", id == PRE_KEY_ID_MAX ? 1 : id + 1, error))
    return FALSE;
  *out_id = (guint32)id;
  return TRUE;
}

guint32
ph_ratchet_store_get_signed_pre_key_id (PhRatchetStore *self)
{
  gint64 id = 0;

  g_return_val_if_fail (PH_IS_RATCHET_STORE (self), 0);

  if (!get_setting (self, "signed_pre_key_id", &id, NULL) || id < 0 || id > G_MAXUINT32)
    return 0;
  return (guint32)id;
}

gboolean
ph_ratchet_store_set_signed_pre_key_id (PhRatchetStore *self, guint32 id, GError **error)
{
  g_return_val_if_fail (PH_IS_RATCHET_STORE (self), FALSE);

  return set_setting (self, "signed_pre_key_id", id, error);
}

/* Transactions */

gboolean
ph_ratchet_store_begin (PhRatchetStore *self, GError **error)
{
  g_return_val_if_fail (PH_IS_RATCHET_STORE (self), FALSE);

  g_clear_error (&self->callback_error);
  return exec (self, "BEGIN IMMEDIATE", error);
}

gboolean
ph_ratchet_store_commit (PhRatchetStore *self, GError **error)
{
  g_return_val_if_fail (PH_IS_RATCHET_STORE (self), FALSE);

  if (!exec (self, "COMMIT", error))
    {
      ph_ratchet_store_rollback (self);
      return FALSE;
    }
  /* The WAL still holds the pages as they were before: the keys just
   * used. Emptying it is what makes a copy of the files taken from now on
   * useless for messages already read. Another reader can hold it up; the
   * next commit tries again. */
  if (sqlite3_exec (self->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL) != SQLITE_OK)
    g_debug ("Could not empty the WAL of %s: %s", self->path, sqlite3_errmsg (self->db));
  return TRUE;
}

void
ph_ratchet_store_rollback (PhRatchetStore *self)
{
  g_return_if_fail (PH_IS_RATCHET_STORE (self));

  if (!sqlite3_get_autocommit (self->db))
    sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Contacts: pinned identities and the base key of our own session */

static GBytes *
get_contact_column (PhRatchetStore *self, const char *contact_id, size_t contact_id_len, int column)
{
  sqlite3_stmt *statement = prepare (self, STMT_GET_CONTACT);
  GBytes *value = NULL;

  bind_name (statement, 1, contact_id, contact_id_len);
  if (sqlite3_step (statement) == SQLITE_ROW)
    value = column_bytes (statement, column);
  sqlite3_reset (statement);
  return value;
}

GBytes *
ph_ratchet_store_dup_pinned_identity (PhRatchetStore *self, const char *contact_id)
{
  g_return_val_if_fail (PH_IS_RATCHET_STORE (self), NULL);
  g_return_val_if_fail (contact_id != NULL, NULL);

  return get_contact_column (self, contact_id, strlen (contact_id), 0);
}

gboolean
ph_ratchet_store_pin_identity (PhRatchetStore *self, const char *contact_id, GBytes *identity_key,
                               GError **error)
{
  sqlite3_stmt *statement;
  gsize size;
  const void *data;

  g_return_val_if_fail (PH_IS_RATCHET_STORE (self), FALSE);
  g_return_val_if_fail (contact_id != NULL && identity_key != NULL, FALSE);

  data = g_bytes_get_data (identity_key, &size);
  statement = prepare (self, STMT_PIN_IDENTITY);
  sqlite3_bind_text (statement, 1, contact_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob (statement, 2, data, (int)size, SQLITE_TRANSIENT);
  if (!run (self, statement))
    return set_sqlite_error (self, error);
  return TRUE;
}

GBytes *
ph_ratchet_store_dup_own_base_key (PhRatchetStore *self, const char *contact_id)
{
  g_return_val_if_fail (PH_IS_RATCHET_STORE (self), NULL);
  g_return_val_if_fail (contact_id != NULL, NULL);

  return get_contact_column (self, contact_id, strlen (contact_id), 1);
}

gboolean
ph_ratchet_store_set_own_base_key (PhRatchetStore *self, const char *contact_id, GBytes *base_key,
                                   GError **error)
{
  sqlite3_stmt *statement;
  gsize size;
  const void *data;

  g_return_val_if_fail (PH_IS_RATCHET_STORE (self), FALSE);
  g_return_val_if_fail (contact_id != NULL && base_key != NULL, FALSE);

  data = g_bytes_get_data (base_key, &size);
  statement = prepare (self, STMT_SET_OWN_BASE_KEY);
  sqlite3_bind_text (statement, 1, contact_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob (statement, 2, data, (int)size, SQLITE_TRANSIENT);
  if (!run (self, statement))
    return set_sqlite_error (self, error);
  return TRUE;
}

gboolean
ph_ratchet_store_forget (PhRatchetStore *self, const char *contact_id, GError **error)
{
  sqlite3_stmt *statement;

  g_return_val_if_fail (PH_IS_RATCHET_STORE (self), FALSE);
  g_return_val_if_fail (contact_id != NULL, FALSE);

  statement = prepare (self, STMT_DELETE_SESSIONS);
  sqlite3_bind_text (statement, 1, contact_id, -1, SQLITE_TRANSIENT);
  if (!run (self, statement))
    return set_sqlite_error (self, error);
  statement = prepare (self, STMT_FORGET_CONTACT);
  sqlite3_bind_text (statement, 1, contact_id, -1, SQLITE_TRANSIENT);
  if (!run (self, statement))
    return set_sqlite_error (self, error);
  return TRUE;
}

/* The session store */

static int
load_session_cb (signal_buffer **record, signal_buffer **user_record,
                 const signal_protocol_address *address, void *user_data)
{
  PhRatchetStore *self = user_data;
  sqlite3_stmt *statement = prepare (self, STMT_LOAD_SESSION);
  session_record *parsed = NULL;
  int rc;

  bind_address (statement, address);
  rc = sqlite3_step (statement);
  if (rc == SQLITE_DONE)
    {
      sqlite3_reset (statement);
      return 0;
    }
  if (rc != SQLITE_ROW)
    {
      sqlite3_reset (statement);
      return callback_sqlite_failed (self);
    }

  /* Parsed here once so that a damaged record is told apart from a
   * damaged message, which libsignal reports with the same number. */
  if (session_record_deserialize (&parsed, sqlite3_column_blob (statement, 0),
                                  sqlite3_column_bytes (statement, 0), self->context)
      < 0)
    {
      sqlite3_reset (statement);
      return callback_damaged (self, "session");
    }
  SIGNAL_UNREF (parsed);

  *record = column_buffer (statement, 0);
  if (sqlite3_column_type (statement, 1) == SQLITE_BLOB)
    *user_record = column_buffer (statement, 1);
  sqlite3_reset (statement);
  return 1;
}

static int
get_sub_device_sessions_cb (signal_int_list **sessions, const char *name, size_t name_len,
                            void *user_data)
{
  PhRatchetStore *self = user_data;
  sqlite3_stmt *statement = prepare (self, STMT_SESSION_DEVICES);
  signal_int_list *list = signal_int_list_alloc ();
  int rc;

  if (list == NULL)
    return SG_ERR_NOMEM;
  bind_name (statement, 1, name, name_len);
  while ((rc = sqlite3_step (statement)) == SQLITE_ROW)
    signal_int_list_push_back (list, sqlite3_column_int (statement, 0));
  sqlite3_reset (statement);
  if (rc != SQLITE_DONE)
    {
      signal_int_list_free (list);
      return callback_sqlite_failed (self);
    }
  *sessions = list;
  return (int)signal_int_list_size (list);
}

static int
store_session_cb (const signal_protocol_address *address, uint8_t *record, size_t record_len,
                  uint8_t *user_record, size_t user_record_len, void *user_data)
{
  PhRatchetStore *self = user_data;
  sqlite3_stmt *statement = prepare (self, STMT_STORE_SESSION);

  bind_address (statement, address);
  sqlite3_bind_blob (statement, 3, record, (int)record_len, SQLITE_TRANSIENT);
  if (user_record != NULL)
    sqlite3_bind_blob (statement, 4, user_record, (int)user_record_len, SQLITE_TRANSIENT);
  if (!run (self, statement))
    return callback_sqlite_failed (self);
  return 0;
}

static int
contains_session_cb (const signal_protocol_address *address, void *user_data)
{
  PhRatchetStore *self = user_data;
  sqlite3_stmt *statement = prepare (self, STMT_CONTAINS_SESSION);
  int rc;

  bind_address (statement, address);
  rc = sqlite3_step (statement);
  sqlite3_reset (statement);
  return rc == SQLITE_ROW ? 1 : 0;
}

static int
delete_session_cb (const signal_protocol_address *address, void *user_data)
{
  PhRatchetStore *self = user_data;
  sqlite3_stmt *statement = prepare (self, STMT_DELETE_SESSION);

  bind_address (statement, address);
  if (!run (self, statement))
    return callback_sqlite_failed (self);
  return sqlite3_changes (self->db) > 0 ? 1 : 0;
}

static int
delete_all_sessions_cb (const char *name, size_t name_len, void *user_data)
{
  PhRatchetStore *self = user_data;
  sqlite3_stmt *statement = prepare (self, STMT_DELETE_SESSIONS);

  bind_name (statement, 1, name, name_len);
  if (!run (self, statement))
    return callback_sqlite_failed (self);
  return sqlite3_changes (self->db);
}

/* The pre-key stores: one-time and signed keys by id */

typedef int (*RecordCheck) (const uint8_t *data, size_t len, signal_context *context);

static int
check_pre_key (const uint8_t *data, size_t len, signal_context *context)
{
  session_pre_key *parsed = NULL;
  int rc = session_pre_key_deserialize (&parsed, data, len, context);

  SIGNAL_UNREF (parsed);
  return rc;
}

static int
check_signed_pre_key (const uint8_t *data, size_t len, signal_context *context)
{
  session_signed_pre_key *parsed = NULL;
  int rc = session_signed_pre_key_deserialize (&parsed, data, len, context);

  SIGNAL_UNREF (parsed);
  return rc;
}

static int
load_key (PhRatchetStore *self, Statement which, guint32 id, RecordCheck check, const char *what,
          signal_buffer **record)
{
  sqlite3_stmt *statement = prepare (self, which);
  int rc;

  sqlite3_bind_int64 (statement, 1, id);
  rc = sqlite3_step (statement);
  if (rc == SQLITE_DONE)
    {
      sqlite3_reset (statement);
      return SG_ERR_INVALID_KEY_ID;
    }
  if (rc != SQLITE_ROW)
    {
      sqlite3_reset (statement);
      return callback_sqlite_failed (self);
    }
  if (check (sqlite3_column_blob (statement, 0), sqlite3_column_bytes (statement, 0), self->context)
      < 0)
    {
      sqlite3_reset (statement);
      return callback_damaged (self, what);
    }
  *record = column_buffer (statement, 0);
  sqlite3_reset (statement);
  return SG_SUCCESS;
}

static int
store_key (PhRatchetStore *self, Statement which, guint32 id, const uint8_t *record,
           size_t record_len)
{
  sqlite3_stmt *statement = prepare (self, which);

  sqlite3_bind_int64 (statement, 1, id);
  sqlite3_bind_blob (statement, 2, record, (int)record_len, SQLITE_TRANSIENT);
  if (!run (self, statement))
    return callback_sqlite_failed (self);
  return 0;
}

static int
remove_key (PhRatchetStore *self, Statement which, guint32 id)
{
  sqlite3_stmt *statement = prepare (self, which);

  sqlite3_bind_int64 (statement, 1, id);
  if (!run (self, statement))
    return callback_sqlite_failed (self);
  return 0;
}

static int
load_pre_key_cb (signal_buffer **record, uint32_t pre_key_id, void *user_data)
{
  return load_key (user_data, STMT_LOAD_PRE_KEY, pre_key_id, check_pre_key, "one-time pre-key",
                   record);
}

static int
store_pre_key_cb (uint32_t pre_key_id, uint8_t *record, size_t record_len, void *user_data)
{
  return store_key (user_data, STMT_STORE_PRE_KEY, pre_key_id, record, record_len);
}

static int
contains_pre_key_cb (uint32_t pre_key_id, void *user_data)
{
  signal_buffer *record = NULL;
  int rc = load_key (user_data, STMT_LOAD_PRE_KEY, pre_key_id, check_pre_key, "one-time pre-key",
                     &record);

  signal_buffer_bzero_free (record);
  return rc == SG_SUCCESS ? 1 : 0;
}

static int
remove_pre_key_cb (uint32_t pre_key_id, void *user_data)
{
  return remove_key (user_data, STMT_REMOVE_PRE_KEY, pre_key_id);
}

static int
load_signed_pre_key_cb (signal_buffer **record, uint32_t signed_pre_key_id, void *user_data)
{
  return load_key (user_data, STMT_LOAD_SIGNED_PRE_KEY, signed_pre_key_id, check_signed_pre_key,
                   "signed pre-key", record);
}

static int
store_signed_pre_key_cb (uint32_t signed_pre_key_id, uint8_t *record, size_t record_len,
                         void *user_data)
{
  return store_key (user_data, STMT_STORE_SIGNED_PRE_KEY, signed_pre_key_id, record, record_len);
}

static int
contains_signed_pre_key_cb (uint32_t signed_pre_key_id, void *user_data)
{
  signal_buffer *record = NULL;
  int rc = load_key (user_data, STMT_LOAD_SIGNED_PRE_KEY, signed_pre_key_id, check_signed_pre_key,
                     "signed pre-key", &record);

  signal_buffer_bzero_free (record);
  return rc == SG_SUCCESS ? 1 : 0;
}

static int
remove_signed_pre_key_cb (uint32_t signed_pre_key_id, void *user_data)
{
  return remove_key (user_data, STMT_REMOVE_SIGNED_PRE_KEY, signed_pre_key_id);
}

/* The identity key store */

static int
get_identity_key_pair_cb (signal_buffer **public_data, signal_buffer **private_data,
                          void *user_data)
{
  PhRatchetStore *self = user_data;
  GBytes *public_key = ph_identity_get_signal_public_key (self->identity);
  gsize public_size;
  const guint8 *public_bytes = g_bytes_get_data (public_key, &public_size);

  *public_data = signal_buffer_create (public_bytes, public_size);
  *private_data = signal_buffer_alloc (PH_IDENTITY_SIGNAL_PRIVATE_KEY_SIZE);
  if (*public_data == NULL || *private_data == NULL)
    {
      signal_buffer_free (*public_data);
      signal_buffer_free (*private_data);
      return SG_ERR_NOMEM;
    }
  ph_identity_copy_signal_private_key (self->identity, signal_buffer_data (*private_data));
  return 0;
}

static int
get_local_registration_id_cb (void *user_data, uint32_t *registration_id)
{
  PhRatchetStore *self = user_data;

  *registration_id = self->registration_id;
  return 0;
}

static gboolean
is_pinned (PhRatchetStore *self, const signal_protocol_address *address, const uint8_t *key_data,
           size_t key_len)
{
  g_autoptr (GBytes) pinned = get_contact_column (self, address->name, address->name_len, 0);
  gsize pinned_size;
  const guint8 *pinned_data;

  if (pinned == NULL)
    return FALSE;
  pinned_data = g_bytes_get_data (pinned, &pinned_size);
  return pinned_size == key_len && memcmp (pinned_data, key_data, key_len) == 0;
}

/* libsignal saves the key it has just checked with is_trusted_identity:
 * nothing to do, as pins change only through the contact book. */
static int
save_identity_cb (const signal_protocol_address *address, uint8_t *key_data, size_t key_len,
                  void *user_data)
{
  return 0;
}

static int
is_trusted_identity_cb (const signal_protocol_address *address, uint8_t *key_data, size_t key_len,
                        void *user_data)
{
  return is_pinned (user_data, address, key_data, key_len) ? 1 : 0;
}

void
ph_ratchet_store_install (PhRatchetStore *self, signal_protocol_store_context *store_context)
{
  signal_protocol_session_store session_store = {
    .load_session_func = load_session_cb,
    .get_sub_device_sessions_func = get_sub_device_sessions_cb,
    .store_session_func = store_session_cb,
    .contains_session_func = contains_session_cb,
    .delete_session_func = delete_session_cb,
    .delete_all_sessions_func = delete_all_sessions_cb,
    .user_data = self,
  };
  signal_protocol_pre_key_store pre_key_store = {
    .load_pre_key = load_pre_key_cb,
    .store_pre_key = store_pre_key_cb,
    .contains_pre_key = contains_pre_key_cb,
    .remove_pre_key = remove_pre_key_cb,
    .user_data = self,
  };
  signal_protocol_signed_pre_key_store signed_pre_key_store = {
    .load_signed_pre_key = load_signed_pre_key_cb,
    .store_signed_pre_key = store_signed_pre_key_cb,
    .contains_signed_pre_key = contains_signed_pre_key_cb,
    .remove_signed_pre_key = remove_signed_pre_key_cb,
    .user_data = self,
  };
  signal_protocol_identity_key_store identity_key_store = {
    .get_identity_key_pair = get_identity_key_pair_cb,
    .get_local_registration_id = get_local_registration_id_cb,
    .save_identity = save_identity_cb,
    .is_trusted_identity = is_trusted_identity_cb,
    .user_data = self,
  };

  g_return_if_fail (PH_IS_RATCHET_STORE (self));

  /* libsignal copies the tables; setting them fails only for NULL arguments. */
  signal_protocol_store_context_set_session_store (store_context, &session_store);
  signal_protocol_store_context_set_pre_key_store (store_context, &pre_key_store);
  signal_protocol_store_context_set_signed_pre_key_store (store_context, &signed_pre_key_store);
  signal_protocol_store_context_set_identity_key_store (store_context, &identity_key_store);
}

/* Opening */

static gboolean
migrate (PhRatchetStore *self, GError **error)
{
  sqlite3_stmt *statement = NULL;
  gint64 version = -1;

  if (sqlite3_prepare_v2 (self->db, "PRAGMA user_version", -1, &statement, NULL) == SQLITE_OK
      && sqlite3_step (statement) == SQLITE_ROW)
    version = sqlite3_column_int64 (statement, 0);
  sqlite3_finalize (statement);
  if (version < 0)
    return set_sqlite_error (self, error);
  if (version > SCHEMA_VERSION)
    {
      g_set_error (error, PH_RATCHET_ERROR, PH_RATCHET_ERROR_STORE,
                   "The message keys in “%s” were written by a newer Pinhole. "
                   "Update Pinhole to read them.",
                   self->path);
      return FALSE;
    }
  if (version == SCHEMA_VERSION)
    return TRUE;

  if (!exec (self, "BEGIN IMMEDIATE", error))
    return FALSE;
  if (!exec (self, schema_sql, error)
      || !exec (self, "PRAGMA user_version = " G_STRINGIFY (SCHEMA_VERSION), error)
      || !exec (self, "COMMIT", error))
    {
      ph_ratchet_store_rollback (self);
      return FALSE;
    }
  return TRUE;
}

/* The registration id is made once, as libsignal asks: peers use it to
 * tell a reinstalled profile from the same one. */
static gboolean
load_registration_id (PhRatchetStore *self, GError **error)
{
  gint64 id;

  if (!get_setting (self, "registration_id", &id, error))
    return FALSE;
  if (id <= 0 || id > G_MAXUINT32)
    {
      uint32_t fresh = 0;

      if (signal_protocol_key_helper_generate_registration_id (&fresh, 0, self->context) != 0)
        {
          g_set_error (error, PH_RATCHET_ERROR, PH_RATCHET_ERROR_STORE,
                       "Could not make a registration id for “%s”.", self->path);
          return FALSE;
        }
      if (!set_setting (self, "registration_id", fresh, error))
        return FALSE;
      id = fresh;
    }
  self->registration_id = (guint32)id;
  return TRUE;
}

static gboolean
open_database (PhRatchetStore *self, GError **error)
{
  g_autoptr (GError) io_error = NULL;
  int rc;

  if (!ph_private_file_prepare (self->path, "the message keys", &io_error))
    {
      g_set_error_literal (error, PH_RATCHET_ERROR, PH_RATCHET_ERROR_STORE, io_error->message);
      return FALSE;
    }
  rc = sqlite3_open_v2 (self->path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK)
    return set_sqlite_error (self, error);
  sqlite3_extended_result_codes (self->db, TRUE);
  sqlite3_busy_timeout (self->db, BUSY_TIMEOUT_MS);

  /* The first statement reads the header: a file that is not a database
   * fails here. */
  if (!exec (self, "PRAGMA journal_mode = WAL", error)
      || !exec (self, "PRAGMA synchronous = NORMAL", error)
      /* Keys the ratchet has moved past are overwritten, not left in free
       * pages. */
      || !exec (self, "PRAGMA secure_delete = ON", error) || !migrate (self, error))
    return FALSE;

  for (guint i = 0; i < N_STMTS; i++)
    {
      rc = sqlite3_prepare_v3 (self->db, statement_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &self->statements[i], NULL);
      if (rc != SQLITE_OK)
        return set_sqlite_error (self, error);
    }
  return load_registration_id (self, error);
}

PhRatchetStore *
ph_ratchet_store_new (const char *dir, PhIdentity *identity, signal_context *context,
                      GError **error)
{
  g_autoptr (PhRatchetStore) self = NULL;

  g_return_val_if_fail (dir != NULL, NULL);
  g_return_val_if_fail (PH_IS_IDENTITY (identity), NULL);
  g_return_val_if_fail (context != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (PH_TYPE_RATCHET_STORE, NULL);
  self->path = g_build_filename (dir, PH_RATCHET_STORE_FILE, NULL);
  self->identity = g_object_ref (identity);
  self->context = context;
  if (!open_database (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

static void
ph_ratchet_store_finalize (GObject *object)
{
  PhRatchetStore *self = PH_RATCHET_STORE (object);

  for (guint i = 0; i < N_STMTS; i++)
    sqlite3_finalize (self->statements[i]);
  /* Closing the last connection checkpoints the WAL and removes it. */
  sqlite3_close (self->db);
  g_clear_object (&self->identity);
  g_clear_error (&self->callback_error);
  g_free (self->path);

  G_OBJECT_CLASS (ph_ratchet_store_parent_class)->finalize (object);
}

static void
ph_ratchet_store_class_init (PhRatchetStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ph_ratchet_store_finalize;
}

static void
ph_ratchet_store_init (PhRatchetStore *self)
{
}
