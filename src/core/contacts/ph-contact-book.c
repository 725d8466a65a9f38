/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-contact-book"

#include "config.h"

#include <sqlite3.h>

#include "ph-contact-book.h"
#include "ph-private-file.h"
#include "ph-ratchet.h"

/* Another copy of the app on the same profile holds the lock this long at
 * most: a contact is one row. */
#define BUSY_TIMEOUT_MS 250

/* Each entry takes the schema one version up, in one transaction. Never
 * edit a released entry: add one. */
static const char *const migrations[] = {
  "CREATE TABLE contacts ("
  "  id TEXT PRIMARY KEY NOT NULL,"
  "  name TEXT NOT NULL UNIQUE,"
  "  public_key BLOB NOT NULL,"
  "  pair_secret BLOB NOT NULL,"
  "  verified INTEGER NOT NULL CHECK (verified IN (0, 1)),"
  "  added INTEGER NOT NULL);",
};

struct _PhContactBook
{
  GObject parent_instance;

  char *dir;
  char *path;
  sqlite3 *db;
  PhIdentity *identity;
  PhRatchet *ratchet;  /* opened on first use */
  GPtrArray *contacts; /* of PhContact, sorted by name */
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PhContactBook, ph_contact_book, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

/* GListModel */

static GType
list_get_item_type (GListModel *model)
{
  return PH_TYPE_CONTACT;
}

static guint
list_get_n_items (GListModel *model)
{
  return PH_CONTACT_BOOK (model)->contacts->len;
}

static gpointer
list_get_item (GListModel *model, guint position)
{
  PhContactBook *self = PH_CONTACT_BOOK (model);

  if (position >= self->contacts->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->contacts, position));
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = list_get_item_type;
  iface->get_n_items = list_get_n_items;
  iface->get_item = list_get_item;
}

static int
compare_names (PhContact *a, PhContact *b)
{
  g_autofree char *fa = g_utf8_casefold (ph_contact_get_name (a), -1);
  g_autofree char *fb = g_utf8_casefold (ph_contact_get_name (b), -1);
  int order = g_utf8_collate (fa, fb);

  return order != 0 ? order : g_strcmp0 (ph_contact_get_id (a), ph_contact_get_id (b));
}

static int
compare_entries (gconstpointer a, gconstpointer b)
{
  return compare_names (*(PhContact **)a, *(PhContact **)b);
}

/* Where @contact goes among the others. */
static guint
sorted_position (PhContactBook *self, PhContact *contact)
{
  guint position = 0;

  while (position < self->contacts->len
         && compare_names (g_ptr_array_index (self->contacts, position), contact) < 0)
    position++;
  return position;
}

static void
insert_sorted (PhContactBook *self, PhContact *contact)
{
  guint position = sorted_position (self, contact);

  g_ptr_array_insert (self->contacts, position, g_object_ref (contact));
  g_list_model_items_changed (G_LIST_MODEL (self), position, 0, 1);
}

static gboolean
find (PhContactBook *self, PhContact *contact, guint *out_position)
{
  return g_ptr_array_find (self->contacts, contact, out_position);
}

static void
remove_at (PhContactBook *self, guint position)
{
  g_ptr_array_remove_index (self->contacts, position);
  g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 0);
}

static PhContact *
find_by_id (PhContactBook *self, const char *id)
{
  for (guint i = 0; i < self->contacts->len; i++)
    if (g_str_equal (ph_contact_get_id (g_ptr_array_index (self->contacts, i)), id))
      return g_ptr_array_index (self->contacts, i);
  return NULL;
}

static PhContact *
find_by_name (PhContactBook *self, const char *name)
{
  for (guint i = 0; i < self->contacts->len; i++)
    if (g_str_equal (ph_contact_get_name (g_ptr_array_index (self->contacts, i)), name))
      return g_ptr_array_index (self->contacts, i);
  return NULL;
}

/* The first of "NAME 2", "NAME 3", ... no contact has yet. */
static char *
unused_name (PhContactBook *self, const char *name, GError **error)
{
  for (guint n = 2; n <= self->contacts->len + 1; n++)
    {
      g_autofree char *candidate = g_strdup_printf ("%s %u", name, n);

      if (find_by_name (self, candidate) != NULL)
        continue;
      if (!ph_contact_check_name (candidate, NULL))
        break;
      return g_steal_pointer (&candidate);
    }
  g_set_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_NAME_TAKEN,
               "Another contact is already called “%s”; save this one under another name.", name);
  return NULL;
}

/* Errors */

static gboolean
set_db_error (GError **error, const char *path, int rc, const char *detail)
{
  switch (rc & 0xff)
    {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      g_set_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_DAMAGED,
                   "The contact book “%s” is damaged or is not a Pinhole contact book (%s). "
                   "It was left as it is: restore it from a backup or move it away.",
                   path, detail);
      break;
    case SQLITE_FULL:
      g_set_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_STORAGE,
                   "The disk is full, so the contact book “%s” could not be saved. "
                   "Free some space and try again.",
                   path);
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      g_set_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_STORAGE,
                   "The contact book “%s” is in use by another program (%s). "
                   "Close other copies of Pinhole using this profile.",
                   path, detail);
      break;
    default:
      g_set_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_STORAGE,
                   "The contact book “%s” could not be used (%s). "
                   "Check that the file and its folder belong to you.",
                   path, detail);
      break;
    }
  return FALSE;
}

static gboolean
fail (PhContactBook *self, int rc, GError **error)
{
  return set_db_error (error, self->path, rc, sqlite3_errmsg (self->db));
}

static gboolean
exec (PhContactBook *self, const char *sql, GError **error)
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

/* Runs one statement with @bind's values to its end; @bind may set
 * parameters the statement does not use (sqlite3_bind_* then only
 * returns SQLITE_RANGE). */
typedef void (*BindFunc) (sqlite3_stmt *statement, gconstpointer data);

static gboolean
run (PhContactBook *self, const char *sql, BindFunc bind, gconstpointer data, GError **error)
{
  sqlite3_stmt *statement = NULL;
  int rc = sqlite3_prepare_v2 (self->db, sql, -1, &statement, NULL);

  if (rc == SQLITE_OK)
    {
      bind (statement, data);
      rc = sqlite3_step (statement);
    }
  sqlite3_finalize (statement);
  if (rc != SQLITE_DONE)
    return fail (self, rc, error);
  return TRUE;
}

/* Opening */

static gint64
schema_version (PhContactBook *self, GError **error)
{
  sqlite3_stmt *statement = NULL;
  gint64 version = -1;
  int rc;

  rc = sqlite3_prepare_v2 (self->db, "SELECT IFNULL (MAX (version), 0) FROM schema_version", -1,
                           &statement, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step (statement)) == SQLITE_ROW)
    version = sqlite3_column_int64 (statement, 0);
  if (version < 0)
    fail (self, rc, error);
  sqlite3_finalize (statement);
  return version;
}

static gboolean
migrate (PhContactBook *self, GError **error)
{
  gint64 version;

  if (!exec (self, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", error))
    return FALSE;
  version = schema_version (self, error);
  if (version < 0)
    return FALSE;
  if (version > (gint64)G_N_ELEMENTS (migrations))
    {
      g_set_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_NEWER_VERSION,
                   "The contact book “%s” was written by a newer Pinhole. "
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

/* A row Pinhole did not write (a key of the wrong size, an id that is not
 * its key's) is an error, never skipped: skipping would lose it on the
 * next export. */
static gboolean
load (PhContactBook *self, GError **error)
{
  GBytes *own_key = ph_identity_get_public_key (self->identity);
  sqlite3_stmt *statement = NULL;
  int rc;

  rc = sqlite3_prepare_v2 (self->db,
                           "SELECT id, name, public_key, pair_secret, verified, added "
                           "FROM contacts",
                           -1, &statement, NULL);
  if (rc != SQLITE_OK)
    return fail (self, rc, error);

  while ((rc = sqlite3_step (statement)) == SQLITE_ROW)
    {
      g_autoptr (GBytes) key
          = g_bytes_new (sqlite3_column_blob (statement, 2), sqlite3_column_bytes (statement, 2));
      g_autoptr (GBytes) secret
          = g_bytes_new (sqlite3_column_blob (statement, 3), sqlite3_column_bytes (statement, 3));
      const char *id = (const char *)sqlite3_column_text (statement, 0);
      const char *name = (const char *)sqlite3_column_text (statement, 1);
      g_autoptr (PhContact) contact = NULL;
      g_autoptr (GError) local_error = NULL;

      if (name != NULL)
        contact = ph_contact_new (own_key, key, name, secret, sqlite3_column_int (statement, 4),
                                  sqlite3_column_int64 (statement, 5), &local_error);
      if (contact == NULL || g_strcmp0 (id, ph_contact_get_id (contact)) != 0)
        {
          g_set_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_DAMAGED,
                       "The contact book “%s” holds a contact Pinhole did not write (%s). "
                       "It was left as it is: restore it from a backup or move it away.",
                       self->path,
                       local_error != NULL ? local_error->message : "its id is not its key’s");
          sqlite3_finalize (statement);
          return FALSE;
        }
      g_ptr_array_add (self->contacts, g_steal_pointer (&contact));
    }
  sqlite3_finalize (statement);
  if (rc != SQLITE_DONE)
    return fail (self, rc, error);

  g_ptr_array_sort (self->contacts, compare_entries);
  return TRUE;
}

PhContactBook *
ph_contact_book_open (const char *dir, PhIdentity *identity, GError **error)
{
  g_autoptr (PhContactBook) self = NULL;
  g_autoptr (GError) io_error = NULL;
  int rc;

  g_return_val_if_fail (dir != NULL, NULL);
  g_return_val_if_fail (PH_IS_IDENTITY (identity), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (PH_TYPE_CONTACT_BOOK, NULL);
  self->dir = g_strdup (dir);
  self->path = g_build_filename (dir, PH_CONTACT_BOOK_FILE, NULL);
  self->identity = g_object_ref (identity);

  if (!ph_private_file_prepare (self->path, "the contact book", &io_error))
    {
      g_set_error_literal (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_STORAGE, io_error->message);
      return NULL;
    }
  rc = sqlite3_open_v2 (self->path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK)
    {
      fail (self, rc, error);
      return NULL;
    }
  sqlite3_extended_result_codes (self->db, TRUE);
  sqlite3_busy_timeout (self->db, BUSY_TIMEOUT_MS);

  /* The first statement reads the header: a file that is not a database
   * fails here, before anything is written to it. */
  if (!exec (self, "PRAGMA journal_mode = WAL", error)
      || !exec (self, "PRAGMA synchronous = NORMAL", error)
      /* A removed contact's secret is overwritten, not left in free pages. */
      || !exec (self, "PRAGMA secure_delete = ON", error) || !migrate (self, error)
      || !load (self, error))
    return NULL;

  return g_steal_pointer (&self);
}

PhIdentity *
ph_contact_book_get_identity (PhContactBook *self)
{
  g_return_val_if_fail (PH_IS_CONTACT_BOOK (self), NULL);

  return self->identity;
}

const char *
ph_contact_book_get_path (PhContactBook *self)
{
  g_return_val_if_fail (PH_IS_CONTACT_BOOK (self), NULL);

  return self->path;
}

static void
bind_insert (sqlite3_stmt *statement, gconstpointer data)
{
  PhContact *contact = (PhContact *)data;
  gsize key_size;
  gsize secret_size;
  gconstpointer key = g_bytes_get_data (ph_contact_get_public_key (contact), &key_size);
  gconstpointer secret = g_bytes_get_data (ph_contact_get_pair_secret (contact), &secret_size);

  sqlite3_bind_text (statement, 1, ph_contact_get_id (contact), -1, SQLITE_STATIC);
  sqlite3_bind_text (statement, 2, ph_contact_get_name (contact), -1, SQLITE_STATIC);
  sqlite3_bind_blob (statement, 3, key, key_size, SQLITE_STATIC);
  sqlite3_bind_blob (statement, 4, secret, secret_size, SQLITE_STATIC);
  sqlite3_bind_int (statement, 5, ph_contact_get_verified (contact));
  sqlite3_bind_int64 (statement, 6, ph_contact_get_added_time (contact));
}

PhContact *
ph_contact_book_save (PhContactBook *self, PhContact *contact, GError **error)
{
  g_autoptr (PhContact) stored = NULL;
  PhContact *existing;
  guint position;

  g_return_val_if_fail (PH_IS_CONTACT_BOOK (self), NULL);
  g_return_val_if_fail (PH_IS_CONTACT (contact), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  existing = find_by_id (self, ph_contact_get_id (contact));
  if (existing == NULL)
    {
      /* Names stay unique so `chat NAME` means one person: a second
       * "Bob" (another identity) is saved as "Bob 2"; the first Bob's
       * identity is never replaced. */
      if (find_by_name (self, ph_contact_get_name (contact)) != NULL)
        {
          g_autofree char *free_name = unused_name (self, ph_contact_get_name (contact), error);

          if (free_name == NULL)
            return NULL;
          ph_contact_set_name (contact, free_name);
        }
      if (!run (self,
                "INSERT INTO contacts (id, name, public_key, pair_secret, verified, added) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                bind_insert, contact, error))
        return NULL;
      insert_sorted (self, contact);
      return g_object_ref (contact);
    }

  /* Met again in a code chat: the new pair secret, the person's own name
   * and verification kept. */
  stored = ph_contact_new (ph_identity_get_public_key (self->identity),
                           ph_contact_get_public_key (contact), ph_contact_get_name (existing),
                           ph_contact_get_pair_secret (contact), ph_contact_get_verified (existing),
                           ph_contact_get_added_time (existing), error);
  if (stored == NULL
      || !run (self, "UPDATE contacts SET pair_secret = ?4 WHERE id = ?1", bind_insert, stored,
               error))
    return NULL;
  find (self, existing, &position);
  g_ptr_array_index (self->contacts, position) = g_object_ref (stored);
  g_object_unref (existing);
  g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 1);
  return g_steal_pointer (&stored);
}

PhContact *
ph_contact_book_lookup (PhContactBook *self, const char *id_or_name, GError **error)
{
  PhContact *contact;

  g_return_val_if_fail (PH_IS_CONTACT_BOOK (self), NULL);
  g_return_val_if_fail (id_or_name != NULL, NULL);

  contact = find_by_id (self, id_or_name);
  if (contact == NULL)
    contact = find_by_name (self, id_or_name);
  if (contact == NULL)
    {
      g_set_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_NOT_FOUND,
                   "No contact has the id or name “%s”.", id_or_name);
      return NULL;
    }
  return g_object_ref (contact);
}

typedef struct
{
  const char *id;
  const char *text;
  gint64 number;
} RowUpdate;

static void
bind_update (sqlite3_stmt *statement, gconstpointer data)
{
  const RowUpdate *update = data;

  sqlite3_bind_text (statement, 1, update->id, -1, SQLITE_STATIC);
  if (update->text != NULL)
    sqlite3_bind_text (statement, 2, update->text, -1, SQLITE_STATIC);
  else
    sqlite3_bind_int64 (statement, 2, update->number);
}

static gboolean
check_member (PhContactBook *self, PhContact *contact, guint *out_position, GError **error)
{
  if (find (self, contact, out_position))
    return TRUE;
  g_set_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_NOT_FOUND,
               "“%s” is not in this contact book (any more).", ph_contact_get_name (contact));
  return FALSE;
}

gboolean
ph_contact_book_set_verified (PhContactBook *self, PhContact *contact, gboolean verified,
                              GError **error)
{
  RowUpdate update = { ph_contact_get_id (contact), NULL, !!verified };
  guint position;

  g_return_val_if_fail (PH_IS_CONTACT_BOOK (self), FALSE);
  g_return_val_if_fail (PH_IS_CONTACT (contact), FALSE);

  if (!check_member (self, contact, &position, error)
      || !run (self, "UPDATE contacts SET verified = ?2 WHERE id = ?1", bind_update, &update,
               error))
    return FALSE;
  ph_contact_set_verified (contact, verified);
  return TRUE;
}

gboolean
ph_contact_book_rename (PhContactBook *self, PhContact *contact, const char *name, GError **error)
{
  RowUpdate update = { ph_contact_get_id (contact), name, 0 };
  PhContact *same_name;
  guint position;

  g_return_val_if_fail (PH_IS_CONTACT_BOOK (self), FALSE);
  g_return_val_if_fail (PH_IS_CONTACT (contact), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  if (!check_member (self, contact, &position, error) || !ph_contact_check_name (name, error))
    return FALSE;
  same_name = find_by_name (self, name);
  if (same_name != NULL && same_name != contact)
    {
      g_set_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_NAME_TAKEN,
                   "Another contact is already called “%s”.", name);
      return FALSE;
    }
  if (!run (self, "UPDATE contacts SET name = ?2 WHERE id = ?1", bind_update, &update, error))
    return FALSE;

  g_object_ref (contact);
  remove_at (self, position);
  ph_contact_set_name (contact, name);
  insert_sorted (self, contact);
  g_object_unref (contact);
  return TRUE;
}

/* A removed contact's sealed copies no longer open; a ratchet that cannot
 * be opened holds nothing that could open them either. */
static void
forget_message_keys (PhContactBook *self, const char *contact_id)
{
  g_autoptr (GError) error = NULL;
  PhRatchet *ratchet = ph_contact_book_get_ratchet (self, &error);

  if (ratchet == NULL || !ph_ratchet_forget_contact (ratchet, contact_id, &error))
    g_warning ("The removed contact's message keys stay: %s", error->message);
}

gboolean
ph_contact_book_remove (PhContactBook *self, PhContact *contact, GError **error)
{
  RowUpdate update = { ph_contact_get_id (contact), NULL, 0 };
  guint position;

  g_return_val_if_fail (PH_IS_CONTACT_BOOK (self), FALSE);
  g_return_val_if_fail (PH_IS_CONTACT (contact), FALSE);

  if (!check_member (self, contact, &position, error)
      || !run (self, "DELETE FROM contacts WHERE id = ?1", bind_update, &update, error))
    return FALSE;
  forget_message_keys (self, update.id);
  remove_at (self, position);
  return TRUE;
}

PhRatchet *
ph_contact_book_get_ratchet (PhContactBook *self, GError **error)
{
  g_return_val_if_fail (PH_IS_CONTACT_BOOK (self), NULL);

  if (self->ratchet == NULL)
    self->ratchet = ph_ratchet_new (self->dir, self->identity, error);
  return self->ratchet;
}

static void
ph_contact_book_finalize (GObject *object)
{
  PhContactBook *self = PH_CONTACT_BOOK (object);

  g_ptr_array_unref (self->contacts);
  g_clear_object (&self->ratchet);
  g_clear_object (&self->identity);
  if (self->db != NULL)
    sqlite3_close (self->db);
  g_free (self->path);
  g_free (self->dir);

  G_OBJECT_CLASS (ph_contact_book_parent_class)->finalize (object);
}

static void
ph_contact_book_class_init (PhContactBookClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ph_contact_book_finalize;
}

static void
ph_contact_book_init (PhContactBook *self)
{
  self->contacts = g_ptr_array_new_with_free_func (g_object_unref);
}
