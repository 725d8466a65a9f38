/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-contacts"

#include "config.h"

#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>
#include <sodium.h>
#include <sqlite3.h>

#include "ph-contact-book.h"
#include "ph-contact-exchange.h"
#include "ph-error.h"
#include "ph-identity-private.h"
#include "ph-meeting-keys.h"
#include "ph-pake.h"
#include "ph-safety-number.h"
#include "ph-test-files.h"

/* The contact book, the safety number and its QR code, and the contact
 * offers two sides of a chat exchange, without a network. */

typedef struct
{
  char *top;     /* a private temporary folder, removed after the test */
  char *profile; /* top/profile, not made yet */
  PhIdentity *identity;
} Fixture;

static PhIdentity *
random_identity (void)
{
  guint8 seed[PH_IDENTITY_SEED_SIZE];

  randombytes_buf (seed, sizeof seed);
  return ph_identity_new_from_seed (seed);
}

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture->top = g_dir_make_tmp ("test-contacts-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->profile = g_build_filename (fixture->top, "profile", NULL);
  fixture->identity = random_identity ();
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  g_assert_finalize_object (fixture->identity);
  ph_test_remove_tree (fixture->top);
  g_free (fixture->profile);
  g_free (fixture->top);
}

static GBytes *
random_bytes (gsize size)
{
  guint8 *data = g_malloc (size);

  randombytes_buf (data, size);
  return g_bytes_new_take (data, size);
}

/* Someone else's contact record as the book would get it from a chat. */
static PhContact *
someone (PhIdentity *own, const char *name, PhIdentity **out_identity)
{
  g_autoptr (PhIdentity) other = random_identity ();
  g_autoptr (GBytes) secret = random_bytes (PH_CONTACT_PAIR_SECRET_SIZE);
  g_autoptr (GError) error = NULL;
  PhContact *contact
      = ph_contact_new (ph_identity_get_public_key (own), ph_identity_get_public_key (other), name,
                        secret, FALSE, 1700000000, &error);

  g_assert_no_error (error);
  if (out_identity != NULL)
    *out_identity = g_steal_pointer (&other);
  return contact;
}

static PhContactBook *
open_book (Fixture *fixture)
{
  g_autoptr (GError) error = NULL;
  PhContactBook *book = ph_contact_book_open (fixture->profile, fixture->identity, &error);

  g_assert_no_error (error);
  g_assert_nonnull (book);
  return book;
}

static guint
file_mode (const char *path)
{
  struct stat st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_mode & 07777;
}

static void
test_save_and_load (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhContactBook) book = open_book (fixture);
  g_autoptr (PhContact) bob = someone (fixture->identity, "Bob", NULL);
  g_autoptr (PhContact) carol = someone (fixture->identity, "carol", NULL);
  g_autoptr (PhContact) saved = NULL;
  g_autoptr (PhContact) found = NULL;
  g_autoptr (PhContact) first = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (book)), ==, 0);
  g_clear_object (&saved);
  saved = ph_contact_book_save (book, carol, &error);
  g_assert_no_error (error);
  g_clear_object (&saved);
  saved = ph_contact_book_save (book, bob, &error);
  g_assert_no_error (error);
  g_assert_true (g_list_model_get_item_type (G_LIST_MODEL (book)) == PH_TYPE_CONTACT);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (book)), ==, 2);
  g_clear_object (&book);

  /* Another run of the program finds both, sorted by name. */
  book = open_book (fixture);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (book)), ==, 2);
  first = g_list_model_get_item (G_LIST_MODEL (book), 0);
  g_assert_cmpstr (ph_contact_get_name (first), ==, "Bob");
  g_assert_cmpstr (ph_contact_get_id (first), ==, ph_contact_get_id (bob));
  g_assert_true (
      g_bytes_equal (ph_contact_get_public_key (first), ph_contact_get_public_key (bob)));
  g_assert_true (
      g_bytes_equal (ph_contact_get_pair_secret (first), ph_contact_get_pair_secret (bob)));
  g_assert_cmpstr (ph_contact_get_fingerprint (first), ==, ph_contact_get_fingerprint (bob));
  g_assert_cmpstr (ph_contact_get_safety_number (first), ==, ph_contact_get_safety_number (bob));
  g_assert_false (ph_contact_get_verified (first));
  g_assert_cmpint (ph_contact_get_added_time (first), ==, 1700000000);

  /* Found by id and by name. */
  found = ph_contact_book_lookup (book, ph_contact_get_id (carol), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ph_contact_get_name (found), ==, "carol");
  g_clear_object (&found);
  found = ph_contact_book_lookup (book, "Bob", &error);
  g_assert_no_error (error);
  g_assert_true (found == first);
  g_clear_object (&found);
  found = ph_contact_book_lookup (book, "Dave", &error);
  g_assert_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_NOT_FOUND);
  g_assert_null (found);
}

/* A new key under a saved name is saved as "Bob 2": names stay unique,
 * and the first Bob's identity is never replaced. A rename to a taken
 * name is refused. */
static void
test_same_name_numbered (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhContactBook) book = open_book (fixture);
  g_autoptr (PhContact) bob = someone (fixture->identity, "Bob", NULL);
  g_autoptr (PhContact) other = someone (fixture->identity, "Bob", NULL);
  g_autoptr (PhContact) saved = NULL;
  g_autoptr (PhContact) kept = NULL;
  g_autoptr (GError) error = NULL;

  saved = ph_contact_book_save (book, bob, &error);
  g_assert_no_error (error);
  g_clear_object (&saved);

  saved = ph_contact_book_save (book, other, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ph_contact_get_name (saved), ==, "Bob 2");

  g_assert_false (ph_contact_book_rename (book, saved, "Bob", &error));
  g_assert_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_NAME_TAKEN);
  g_assert_nonnull (strstr (error->message, "Bob"));
  g_clear_error (&error);
  g_clear_object (&saved);

  g_clear_object (&book);
  book = open_book (fixture);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (book)), ==, 2);
  kept = ph_contact_book_lookup (book, "Bob", &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (ph_contact_get_public_key (kept), ph_contact_get_public_key (bob)));
  g_clear_object (&kept);
  kept = ph_contact_book_lookup (book, "Bob 2", &error);
  g_assert_no_error (error);
  g_assert_true (
      g_bytes_equal (ph_contact_get_public_key (kept), ph_contact_get_public_key (other)));
}

/* The same person met again: the new pair secret, their name and
 * verification as the user left them. */
static void
test_met_again (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhContactBook) book = open_book (fixture);
  g_autoptr (PhIdentity) bob_identity = NULL;
  g_autoptr (PhContact) bob = someone (fixture->identity, "Bob", &bob_identity);
  g_autoptr (GBytes) new_secret = random_bytes (PH_CONTACT_PAIR_SECRET_SIZE);
  g_autoptr (PhContact) again = NULL;
  g_autoptr (PhContact) saved = NULL;
  g_autoptr (GError) error = NULL;

  saved = ph_contact_book_save (book, bob, &error);
  g_assert_no_error (error);
  g_assert_true (ph_contact_book_rename (book, saved, "Bobby", &error));
  g_assert_true (ph_contact_book_set_verified (book, saved, TRUE, &error));
  g_clear_object (&saved);

  again = ph_contact_new (ph_identity_get_public_key (fixture->identity),
                          ph_identity_get_public_key (bob_identity), "Bob", new_secret, FALSE,
                          1800000000, &error);
  g_assert_no_error (error);
  saved = ph_contact_book_save (book, again, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ph_contact_get_name (saved), ==, "Bobby");
  g_assert_true (ph_contact_get_verified (saved));
  g_assert_true (g_bytes_equal (ph_contact_get_pair_secret (saved), new_secret));
  g_clear_object (&saved);

  g_clear_object (&book);
  book = open_book (fixture);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (book)), ==, 1);
  saved = ph_contact_book_lookup (book, "Bobby", &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (ph_contact_get_pair_secret (saved), new_secret));
  g_assert_true (ph_contact_get_verified (saved));
}

static void
items_changed_cb (GListModel *model, guint position, guint removed, guint added, guint *changes)
{
  (*changes)++;
}

static void
test_verify_rename_remove (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhContactBook) book = open_book (fixture);
  g_autoptr (PhContact) bob = someone (fixture->identity, "Bob", NULL);
  g_autoptr (PhContact) carol = someone (fixture->identity, "Carol", NULL);
  g_autoptr (PhContact) saved_bob = NULL;
  g_autoptr (PhContact) saved_carol = NULL;
  g_autoptr (PhContact) first = NULL;
  g_autoptr (GError) error = NULL;
  guint changes = 0;

  saved_bob = ph_contact_book_save (book, bob, &error);
  saved_carol = ph_contact_book_save (book, carol, &error);
  g_assert_no_error (error);
  g_signal_connect (book, "items-changed", G_CALLBACK (items_changed_cb), &changes);

  g_assert_true (ph_contact_book_set_verified (book, saved_bob, TRUE, &error));
  g_assert_true (ph_contact_get_verified (saved_bob));

  /* Renamed after Carol: the list follows. */
  g_assert_true (ph_contact_book_rename (book, saved_bob, "Zed", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (changes, >, 0);
  first = g_list_model_get_item (G_LIST_MODEL (book), 0);
  g_assert_true (first == saved_carol);

  g_assert_false (ph_contact_book_rename (book, saved_bob, "Carol", &error));
  g_assert_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_NAME_TAKEN);
  g_clear_error (&error);
  g_assert_false (ph_contact_book_rename (book, saved_bob, "evil\x1b[2J", &error));
  g_assert_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_INVALID_NAME);
  g_clear_error (&error);
  g_assert_false (ph_contact_book_rename (book, saved_bob, "", &error));
  g_assert_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_INVALID_NAME);
  g_clear_error (&error);

  g_assert_true (ph_contact_book_remove (book, saved_carol, &error));
  g_assert_no_error (error);
  g_assert_false (ph_contact_book_remove (book, saved_carol, &error));
  g_assert_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_clear_object (&first);
  g_clear_object (&book);
  book = open_book (fixture);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (book)), ==, 1);
  first = g_list_model_get_item (G_LIST_MODEL (book), 0);
  g_assert_cmpstr (ph_contact_get_name (first), ==, "Zed");
  g_assert_true (ph_contact_get_verified (first));
}

/* The file and the journal beside it hold pair secrets. */
static void
test_file_modes (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhContactBook) book = NULL;
  g_autoptr (PhContact) bob = someone (fixture->identity, "Bob", NULL);
  g_autoptr (PhContact) saved = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (fixture->profile, PH_CONTACT_BOOK_FILE, NULL);
  g_autofree char *wal = g_strconcat (path, "-wal", NULL);
  mode_t old_umask = umask (0);

  book = open_book (fixture);
  saved = ph_contact_book_save (book, bob, &error);
  g_assert_no_error (error);
  umask (old_umask);

  g_assert_cmpstr (ph_contact_book_get_path (book), ==, path);
  g_assert_cmpuint (file_mode (fixture->profile), ==, 0700);
  g_assert_cmpuint (file_mode (path), ==, 0600);
  g_assert_cmpuint (file_mode (wal), ==, 0600);

  /* A file someone loosened is made private again. */
  g_clear_object (&book);
  g_assert_cmpint (g_chmod (path, 0644), ==, 0);
  book = open_book (fixture);
  g_assert_cmpuint (file_mode (path), ==, 0600);
}

static void
write_then_check_refused (Fixture *fixture, const char *contents, gsize size)
{
  g_autofree char *path = g_build_filename (fixture->profile, PH_CONTACT_BOOK_FILE, NULL);
  g_autoptr (PhContactBook) book = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *after = NULL;
  gsize after_size;

  g_assert_cmpint (g_mkdir_with_parents (fixture->profile, 0700), ==, 0);
  g_file_set_contents_full (path, contents, size, G_FILE_SET_CONTENTS_NONE, 0600, &error);
  g_assert_no_error (error);

  book = ph_contact_book_open (fixture->profile, fixture->identity, &error);
  g_assert_null (book);
  g_assert_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_DAMAGED);
  g_assert_nonnull (strstr (error->message, path));

  /* Left as it was, for the user to recover. */
  g_file_get_contents (path, &after, &after_size, NULL);
  g_assert_cmpmem (after, after_size, contents, size);
}

static void
test_not_a_database (Fixture *fixture, gconstpointer data)
{
  static const char garbage[]
      = "This is not a database, but it could be someone's notes. Keep it.\n"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";

  write_then_check_refused (fixture, garbage, sizeof garbage - 1);
}

/* A database whose pages were overwritten in the middle. */
static void
test_corrupt_database (Fixture *fixture, gconstpointer data)
{
  g_autofree char *path = g_build_filename (fixture->profile, PH_CONTACT_BOOK_FILE, NULL);
  g_autoptr (PhContactBook) book = open_book (fixture);
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize size;

  for (guint i = 0; i < 20; i++)
    {
      g_autofree char *name = g_strdup_printf ("Person %u", i);
      g_autoptr (PhContact) contact = someone (fixture->identity, name, NULL);
      g_autoptr (PhContact) saved = ph_contact_book_save (book, contact, &error);

      g_assert_no_error (error);
    }
  g_clear_object (&book);

  g_file_get_contents (path, &contents, &size, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (size, >, 4096);
  /* Page 2 onwards (the table and its index): the header still reads. */
  memset (contents + 1024 + 4096 / 2, 0xa5, size - 1024 - 4096 / 2);
  write_then_check_refused (fixture, contents, size);
}

/* A row with a key that is not 32 bytes: damaged, not skipped. */
static void
test_bad_row (Fixture *fixture, gconstpointer data)
{
  g_autofree char *path = g_build_filename (fixture->profile, PH_CONTACT_BOOK_FILE, NULL);
  g_autoptr (PhContactBook) book = open_book (fixture);
  g_autoptr (GError) error = NULL;
  sqlite3 *db = NULL;

  g_clear_object (&book);
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db,
                                 "INSERT INTO contacts VALUES ('00', 'Mallory', x'0102', "
                                 "zeroblob(32), 0, 0)",
                                 NULL, NULL, NULL),
                   ==, SQLITE_OK);
  sqlite3_close (db);

  book = ph_contact_book_open (fixture->profile, fixture->identity, &error);
  g_assert_null (book);
  g_assert_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_DAMAGED);
}

static void
test_newer_schema_refused (Fixture *fixture, gconstpointer data)
{
  g_autofree char *path = g_build_filename (fixture->profile, PH_CONTACT_BOOK_FILE, NULL);
  g_autoptr (PhContactBook) book = open_book (fixture);
  g_autoptr (GError) error = NULL;
  sqlite3 *db = NULL;

  g_clear_object (&book);
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "INSERT INTO schema_version VALUES (99)", NULL, NULL, NULL),
                   ==, SQLITE_OK);
  sqlite3_close (db);

  book = ph_contact_book_open (fixture->profile, fixture->identity, &error);
  g_assert_null (book);
  g_assert_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_NEWER_VERSION);
}

static void
test_record_round_trip (void)
{
  g_autoptr (PhIdentity) own = random_identity ();
  g_autoptr (PhContact) bob = someone (own, "Bob ünicode 🌍", NULL);
  g_autoptr (PhContact) back = NULL;
  g_autoptr (GBytes) record = ph_contact_to_record (bob);
  g_autoptr (GBytes) cut = NULL;
  g_autoptr (GError) error = NULL;
  guint8 *newer;
  gsize size;

  back = ph_contact_new_from_record (ph_identity_get_public_key (own), record, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ph_contact_get_id (back), ==, ph_contact_get_id (bob));
  g_assert_cmpstr (ph_contact_get_name (back), ==, ph_contact_get_name (bob));
  g_assert_cmpstr (ph_contact_get_safety_number (back), ==, ph_contact_get_safety_number (bob));
  g_assert_true (
      g_bytes_equal (ph_contact_get_pair_secret (back), ph_contact_get_pair_secret (bob)));
  g_assert_cmpint (ph_contact_get_added_time (back), ==, ph_contact_get_added_time (bob));

  cut = g_bytes_new_from_bytes (record, 0, g_bytes_get_size (record) - 1);
  g_assert_null (ph_contact_new_from_record (ph_identity_get_public_key (own), cut, &error));
  g_assert_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_DAMAGED);
  g_clear_error (&error);

  newer = g_bytes_unref_to_data (g_bytes_ref (record), &size);
  newer[0] = 2;
  g_clear_pointer (&cut, g_bytes_unref);
  cut = g_bytes_new_take (newer, size);
  g_assert_null (ph_contact_new_from_record (ph_identity_get_public_key (own), cut, &error));
  g_assert_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_NEWER_VERSION);
}

static void
test_own_identity_refused (void)
{
  g_autoptr (PhIdentity) own = random_identity ();
  g_autoptr (GBytes) secret = random_bytes (PH_CONTACT_PAIR_SECRET_SIZE);
  g_autoptr (GError) error = NULL;
  g_autoptr (PhContact) contact
      = ph_contact_new (ph_identity_get_public_key (own), ph_identity_get_public_key (own), "Me",
                        secret, FALSE, 0, &error);

  g_assert_null (contact);
  g_assert_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_OWN_IDENTITY);
}

static void
assert_safety_number_format (const char *number)
{
  g_assert_cmpuint (strlen (number), ==, PH_SAFETY_NUMBER_DIGITS + PH_SAFETY_NUMBER_GROUPS - 1);
  for (guint i = 0; number[i] != '\0'; i++)
    {
      if (i % 6 == 5)
        g_assert_cmpint (number[i], ==, ' ');
      else
        g_assert_true (g_ascii_isdigit (number[i]));
    }
}

/* Alice's contact Bob and Bob's contact Alice show the same number, made
 * of their two fingerprints; a third person's differs. */
static void
test_safety_number (void)
{
  g_autoptr (PhIdentity) alice = random_identity ();
  g_autoptr (PhIdentity) bob = random_identity ();
  g_autoptr (PhIdentity) mallory = random_identity ();
  g_autoptr (PhContact) bob_at_alice = NULL;
  g_autoptr (PhContact) alice_at_bob = NULL;
  g_autoptr (PhContact) mallory_at_alice = NULL;
  g_autoptr (GBytes) secret = random_bytes (PH_CONTACT_PAIR_SECRET_SIZE);
  g_autofree char *direct = NULL;
  g_autofree char *without_spaces = NULL;
  const char *number;

  bob_at_alice = ph_contact_new (ph_identity_get_public_key (alice),
                                 ph_identity_get_public_key (bob), "Bob", secret, FALSE, 0, NULL);
  alice_at_bob
      = ph_contact_new (ph_identity_get_public_key (bob), ph_identity_get_public_key (alice),
                        "Alice", secret, FALSE, 0, NULL);
  mallory_at_alice
      = ph_contact_new (ph_identity_get_public_key (alice), ph_identity_get_public_key (mallory),
                        "Bob", secret, FALSE, 0, NULL);

  number = ph_contact_get_safety_number (bob_at_alice);
  assert_safety_number_format (number);
  g_assert_cmpstr (number, ==, ph_contact_get_safety_number (alice_at_bob));
  g_assert_cmpstr (number, !=, ph_contact_get_safety_number (mallory_at_alice));
  g_assert_nonnull (strstr (number, ph_identity_get_fingerprint (alice)));
  g_assert_nonnull (strstr (number, ph_identity_get_fingerprint (bob)));

  /* The lower fingerprint first. */
  if (strcmp (ph_identity_get_fingerprint (alice), ph_identity_get_fingerprint (bob)) < 0)
    g_assert_true (g_str_has_prefix (number, ph_identity_get_fingerprint (alice)));
  else
    g_assert_true (g_str_has_prefix (number, ph_identity_get_fingerprint (bob)));

  direct = ph_safety_number_compute ("11111 11111 11111 11111 11111 11111",
                                     "000000000000000000000000000009");
  g_assert_cmpstr (direct, ==,
                   "00000 00000 00000 00000 00000 00009 11111 11111 11111 11111 11111 11111");
  g_assert_null (ph_safety_number_compute ("1234", ph_identity_get_fingerprint (bob)));
  g_assert_null (ph_safety_number_compute ("11111 11111 11111 11111 11111 1111x",
                                           ph_identity_get_fingerprint (bob)));
  without_spaces = g_strdelimit (g_strdup (number), " ", '0');
  g_assert_null (ph_safety_number_compute (without_spaces, ph_identity_get_fingerprint (bob)));
}

/* A QR code's three finder patterns: 7×7 squares, dark ring, light ring,
 * dark 3×3 centre. */
static void
assert_finder (const guint8 *modules, guint width, guint top, guint left)
{
  for (guint y = 0; y < 7; y++)
    for (guint x = 0; x < 7; x++)
      {
        gboolean ring = y == 0 || y == 6 || x == 0 || x == 6;
        gboolean centre = y >= 2 && y <= 4 && x >= 2 && x <= 4;

        g_assert_cmpuint (modules[(top + y) * width + left + x], ==, ring || centre ? 1 : 0);
      }
}

static void
test_safety_number_qr (void)
{
  const char *number = "05137 98112 77023 45678 90123 45678 11111 22222 33333 44444 55555 66666";
  const char *other = "05137 98112 77023 45678 90123 45678 11111 22222 33333 44444 55555 66667";
  g_autoptr (GBytes) matrix = NULL;
  g_autoptr (GBytes) again = NULL;
  g_autoptr (GBytes) different = NULL;
  g_autoptr (GError) error = NULL;
  const guint8 *modules;
  guint width = 0;
  guint width_again = 0;
  gsize size;

  matrix = ph_safety_number_to_qr_matrix (number, &width, &error);
  g_assert_no_error (error);
  /* 60 digits in numeric mode at level M fit version 2: 25 modules. */
  g_assert_cmpuint (width, ==, 25);
  modules = g_bytes_get_data (matrix, &size);
  g_assert_cmpuint (size, ==, width * width);
  for (gsize i = 0; i < size; i++)
    g_assert_cmpuint (modules[i], <=, 1);
  assert_finder (modules, width, 0, 0);
  assert_finder (modules, width, 0, width - 7);
  assert_finder (modules, width, width - 7, 0);

  /* A pure function of the number. */
  again = ph_safety_number_to_qr_matrix (number, &width_again, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (width_again, ==, width);
  g_assert_true (g_bytes_equal (again, matrix));
  different = ph_safety_number_to_qr_matrix (other, &width_again, &error);
  g_assert_no_error (error);
  g_assert_false (g_bytes_equal (different, matrix));

  g_assert_null (ph_safety_number_to_qr_matrix ("12345", &width, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_FAILED);
}

/* Two sides of one chat: the same binding. */
typedef struct
{
  PhIdentity *identity;
  PhContactExchange *exchange;
} Side;

static void
side_init (Side *side, GBytes *binding)
{
  side->identity = random_identity ();
  side->exchange = ph_contact_exchange_new (binding);
}

static void
side_clear (Side *side)
{
  g_assert_finalize_object (side->exchange);
  g_assert_finalize_object (side->identity);
}

static void
test_exchange (void)
{
  g_autoptr (GBytes) binding = random_bytes (PH_CONTACT_BINDING_SIZE);
  g_autoptr (PhFrame) alice_offer = NULL;
  g_autoptr (PhFrame) bob_offer = NULL;
  g_autoptr (PhFrame) again = NULL;
  g_autoptr (PhContact) bob_at_alice = NULL;
  g_autoptr (PhContact) alice_at_bob = NULL;
  g_autoptr (GError) error = NULL;
  Side alice, bob;

  side_init (&alice, binding);
  side_init (&bob, binding);

  alice_offer = ph_contact_exchange_make_offer (alice.exchange, alice.identity, "Alice");
  bob_offer = ph_contact_exchange_make_offer (bob.exchange, bob.identity, "Bob");
  /* The same offer on a later channel. */
  again = ph_contact_exchange_make_offer (alice.exchange, alice.identity, "Someone else");
  g_assert_cmpstr (again->share, ==, alice_offer->share);
  g_assert_cmpstr (again->signature, ==, alice_offer->signature);
  g_assert_cmpstr (again->name, ==, "Alice");

  g_assert_false (ph_contact_exchange_has_peer_offer (bob.exchange));
  g_assert_true (ph_contact_exchange_receive_offer (bob.exchange, alice_offer, &error));
  g_assert_no_error (error);
  g_assert_true (ph_contact_exchange_receive_offer (bob.exchange, again, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (ph_contact_exchange_get_peer_name (bob.exchange), ==, "Alice");
  g_assert_cmpstr (ph_contact_exchange_get_peer_fingerprint (bob.exchange), ==,
                   ph_identity_get_fingerprint (alice.identity));
  g_assert_true (ph_contact_exchange_receive_offer (alice.exchange, bob_offer, &error));
  g_assert_no_error (error);

  bob_at_alice = ph_contact_exchange_create_contact (alice.exchange, &error);
  g_assert_no_error (error);
  alice_at_bob = ph_contact_exchange_create_contact (bob.exchange, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ph_contact_get_name (bob_at_alice), ==, "Bob");
  g_assert_cmpstr (ph_contact_get_name (alice_at_bob), ==, "Alice");
  g_assert_true (g_bytes_equal (ph_contact_get_pair_secret (bob_at_alice),
                                ph_contact_get_pair_secret (alice_at_bob)));
  g_assert_cmpstr (ph_contact_get_safety_number (bob_at_alice), ==,
                   ph_contact_get_safety_number (alice_at_bob));
  g_assert_false (ph_contact_get_verified (bob_at_alice));

  g_clear_object (&bob_at_alice);
  g_clear_object (&alice_at_bob);
  side_clear (&alice);
  side_clear (&bob);
}

static void
assert_refused (PhContactExchange *exchange, const PhFrame *offer)
{
  g_autoptr (GError) error = NULL;

  g_assert_false (ph_contact_exchange_receive_offer (exchange, offer, &error));
  g_assert_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_INVALID_OFFER);
}

/* Forged, copied from another chat, malformed or sent back: refused, and
 * the exchange still takes the real offer afterwards. */
static void
test_exchange_refuses_forgeries (void)
{
  g_autoptr (GBytes) binding = random_bytes (PH_CONTACT_BINDING_SIZE);
  g_autoptr (GBytes) other_binding = random_bytes (PH_CONTACT_BINDING_SIZE);
  g_autoptr (PhContactExchange) other_chat = ph_contact_exchange_new (other_binding);
  g_autoptr (PhFrame) real = NULL;
  g_autoptr (PhFrame) replayed = NULL;
  g_autoptr (PhFrame) own = NULL;
  g_autoptr (GError) error = NULL;
  const char *bad_values[]
      = { "", "AAAA", "not base64!", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
  Side alice, bob;

  side_init (&alice, binding);
  side_init (&bob, binding);
  real = ph_contact_exchange_make_offer (alice.exchange, alice.identity, "Alice");

  /* The offer Alice made in another chat with Bob. */
  replayed = ph_contact_exchange_make_offer (other_chat, alice.identity, "Alice");
  assert_refused (bob.exchange, replayed);

  /* Each field changed after signing. */
  {
    g_autoptr (PhFrame) renamed
        = ph_frame_new_contact_offer (real->public_key, real->share, "Mallory", real->signature);
    g_autoptr (PhFrame) reshared = ph_frame_new_contact_offer (real->public_key, replayed->share,
                                                               real->name, real->signature);
    GBytes *mallory_key = ph_identity_get_public_key (bob.identity);
    g_autofree char *mallory_text
        = g_base64_encode (g_bytes_get_data (mallory_key, NULL), g_bytes_get_size (mallory_key));
    g_autoptr (PhFrame) rekeyed
        = ph_frame_new_contact_offer (mallory_text, real->share, real->name, real->signature);

    assert_refused (bob.exchange, renamed);
    assert_refused (bob.exchange, reshared);
    assert_refused (bob.exchange, rekeyed);
  }

  for (guint i = 0; i < G_N_ELEMENTS (bad_values); i++)
    {
      g_autoptr (PhFrame) bad_key
          = ph_frame_new_contact_offer (bad_values[i], real->share, real->name, real->signature);
      g_autoptr (PhFrame) bad_share = ph_frame_new_contact_offer (real->public_key, bad_values[i],
                                                                  real->name, real->signature);
      g_autoptr (PhFrame) bad_signature
          = ph_frame_new_contact_offer (real->public_key, real->share, real->name, bad_values[i]);

      assert_refused (bob.exchange, bad_key);
      assert_refused (bob.exchange, bad_share);
      assert_refused (bob.exchange, bad_signature);
    }
  {
    g_autoptr (PhFrame) bad_name = ph_frame_new_contact_offer (real->public_key, real->share,
                                                               "\x1b[31mred", real->signature);

    assert_refused (bob.exchange, bad_name);
  }

  /* Alice's own offer sent back to her. */
  own = ph_contact_exchange_make_offer (alice.exchange, alice.identity, "Alice");
  assert_refused (alice.exchange, own);
  g_assert_false (ph_contact_exchange_has_peer_offer (alice.exchange));
  g_assert_false (ph_contact_exchange_has_peer_offer (bob.exchange));

  g_assert_true (ph_contact_exchange_receive_offer (bob.exchange, real, &error));
  g_assert_no_error (error);

  /* Once one is kept, another one is not taken. */
  assert_refused (bob.exchange, replayed);
  g_assert_true (ph_contact_exchange_has_peer_offer (bob.exchange));
  g_assert_cmpstr (ph_contact_exchange_get_peer_name (bob.exchange), ==, "Alice");

  g_assert_finalize_object (g_steal_pointer (&other_chat));
  side_clear (&alice);
  side_clear (&bob);
}

/* An invitation opens, with the nameplate, PAKE message, session and
 * description sealed in it, only for the pair and at the point it was
 * made for; a changed byte or a malformed inside is refused. */
static void
test_meeting_invitation (void)
{
  guint8 pair[32];
  guint8 other_pair[32];
  guint8 pake_bytes[PH_PAKE_MESSAGE_SIZE];
  g_autoptr (GBytes) pair_secret = NULL;
  g_autoptr (GBytes) other_secret = NULL;
  g_autoptr (GBytes) pake = NULL;
  g_autoptr (GBytes) sealed = NULL;
  g_autoptr (GBytes) bare = NULL;
  g_autoptr (PhMeetingInvitation) opened = NULL;
  g_autoptr (PhMeetingInvitation) opened_bare = NULL;
  g_autofree char *point = NULL;
  g_autofree char *other_point = NULL;
  g_autoptr (GError) error = NULL;
  gsize size;
  g_autofree guint8 *changed = NULL;
  PhMeetingInvitation invitation = {
    .nameplate = (char *)"42",
    .session = (char *)"0123456789abcdef0123456789abcdef",
    .description
    = (char *)"v=0\nfingerprint sha-256 00:11\ncandidate 1 1 udp 1 10.0.0.1 9 typ host",
  };

  randombytes_buf (pair, sizeof pair);
  randombytes_buf (other_pair, sizeof other_pair);
  randombytes_buf (pake_bytes, sizeof pake_bytes);
  pair_secret = g_bytes_new (pair, sizeof pair);
  other_secret = g_bytes_new (other_pair, sizeof other_pair);
  pake = g_bytes_new (pake_bytes, sizeof pake_bytes);
  invitation.pake_message = pake;
  point = ph_meeting_point_key (pair_secret, 20000);
  other_point = ph_meeting_point_key (pair_secret, 20001);

  sealed = ph_meeting_seal_invitation (pair_secret, point, &invitation);
  opened = ph_meeting_open_invitation (pair_secret, point, sealed, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (opened->nameplate, ==, "42");
  g_assert_cmpstr (opened->session, ==, invitation.session);
  g_assert_true (g_bytes_equal (opened->pake_message, pake));
  g_assert_cmpstr (opened->description, ==, invitation.description);

  /* A host whose ICE had not started invites without a description. */
  invitation.description = NULL;
  bare = ph_meeting_seal_invitation (pair_secret, point, &invitation);
  opened_bare = ph_meeting_open_invitation (pair_secret, point, bare, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (opened_bare->session, ==, invitation.session);
  g_assert_null (opened_bare->description);

  g_assert_null (ph_meeting_open_invitation (pair_secret, other_point, sealed, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_PROTOCOL);
  g_clear_error (&error);
  g_assert_null (ph_meeting_open_invitation (other_secret, point, sealed, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_PROTOCOL);
  g_clear_error (&error);

  changed = g_bytes_unref_to_data (g_bytes_ref (sealed), &size);
  changed[size / 2] ^= 0x01;
  {
    g_autoptr (GBytes) tampered = g_bytes_new (changed, size);

    g_assert_null (ph_meeting_open_invitation (pair_secret, point, tampered, &error));
    g_assert_error (error, PH_ERROR, PH_ERROR_PROTOCOL);
    g_clear_error (&error);
  }

  /* Sealed by the contact but malformed inside: an empty description, a
   * session that is not hex. */
  {
    const char *const sessions[] = { "0123456789abcdef\n", "0123XYZ" };

    for (guint i = 0; i < G_N_ELEMENTS (sessions); i++)
      {
        g_autoptr (GBytes) odd = NULL;

        invitation.session = (char *)sessions[i];
        odd = ph_meeting_seal_invitation (pair_secret, point, &invitation);
        g_assert_null (ph_meeting_open_invitation (pair_secret, point, odd, &error));
        g_assert_error (error, PH_ERROR, PH_ERROR_PROTOCOL);
        g_clear_error (&error);
      }
  }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  if (sodium_init () < 0)
    g_error ("libsodium could not be initialised");

#define ADD_BOOK_TEST(path, func)                                                                  \
  g_test_add ("/contacts/book/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD_BOOK_TEST ("save-and-load", test_save_and_load);
  ADD_BOOK_TEST ("same-name-numbered", test_same_name_numbered);
  ADD_BOOK_TEST ("met-again", test_met_again);
  ADD_BOOK_TEST ("verify-rename-remove", test_verify_rename_remove);
  ADD_BOOK_TEST ("file-modes", test_file_modes);
  ADD_BOOK_TEST ("not-a-database", test_not_a_database);
  ADD_BOOK_TEST ("corrupt-database", test_corrupt_database);
  ADD_BOOK_TEST ("bad-row", test_bad_row);
  ADD_BOOK_TEST ("newer-schema-refused", test_newer_schema_refused);
  g_test_add_func ("/contacts/record-round-trip", test_record_round_trip);
  g_test_add_func ("/contacts/own-identity-refused", test_own_identity_refused);
  g_test_add_func ("/contacts/safety-number", test_safety_number);
  g_test_add_func ("/contacts/safety-number-qr", test_safety_number_qr);
  g_test_add_func ("/contacts/exchange", test_exchange);
  g_test_add_func ("/contacts/meeting-invitation", test_meeting_invitation);
  g_test_add_func ("/contacts/exchange-refuses-forgeries", test_exchange_refuses_forgeries);

  return g_test_run ();
}
