/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-identity"

#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <sodium.h>

#include "ph-identity-backup-private.h"
#include "ph-identity-backup.h"
#include "ph-identity-private.h"
#include "ph-identity.h"
#include "ph-test-files.h"
#include "ph-test-process.h"
#include "ph-test-wait.h"

#define EXIT_TIMEOUT_MS ph_test_scaled_ms (20000)

typedef struct
{
  char *top;     /* a private temporary folder, removed after the test */
  char *profile; /* top/profile, not made yet */
} Fixture;

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture->top = g_dir_make_tmp ("test-identity-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->profile = g_build_filename (fixture->top, "profile", NULL);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  ph_test_remove_tree (fixture->top);
  g_free (fixture->profile);
  g_free (fixture->top);
}

static char *
key_path (const char *profile)
{
  return g_build_filename (profile, PH_IDENTITY_KEY_FILE, NULL);
}

static guint
file_mode (const char *path)
{
  struct stat st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_mode & 07777;
}

static GBytes *
read_file (const char *path)
{
  g_autoptr (GError) error = NULL;
  char *contents = NULL;
  gsize size;

  g_file_get_contents (path, &contents, &size, &error);
  g_assert_no_error (error);
  return g_bytes_new_take (contents, size);
}

static void
write_file (const char *path, GBytes *contents)
{
  g_autoptr (GError) error = NULL;

  gsize size;
  const char *data = g_bytes_get_data (contents, &size);

  /* An empty GBytes has no data pointer; GLib would write nothing. */
  g_file_set_contents_full (path, size > 0 ? data : "", size, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                            &error);
  g_assert_no_error (error);
}

static char *
to_hex (GBytes *bytes)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  GString *hex = g_string_sized_new (2 * size);

  for (gsize i = 0; i < size; i++)
    g_string_append_printf (hex, "%02x", data[i]);
  return g_string_free (hex, FALSE);
}

static void
assert_fingerprint_format (const char *fingerprint)
{
  g_assert_cmpuint (strlen (fingerprint), ==, 35);
  for (guint i = 0; i < 35; i++)
    {
      if (i % 6 == 5)
        g_assert_cmpint (fingerprint[i], ==, ' ');
      else
        g_assert_true (g_ascii_isdigit (fingerprint[i]));
    }
}

static void
test_first_start_creates_then_loads (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) first_key = NULL;
  g_autofree char *first_fingerprint = NULL;
  PhIdentity *first;
  PhIdentity *second;

  first = ph_identity_load (fixture->profile, &error);
  g_assert_error (error, PH_IDENTITY_ERROR, PH_IDENTITY_ERROR_NO_IDENTITY);
  g_assert_null (first);
  g_clear_error (&error);

  first = ph_identity_load_or_create (fixture->profile, &error);
  g_assert_no_error (error);
  assert_fingerprint_format (ph_identity_get_fingerprint (first));
  g_assert_cmpuint (g_bytes_get_size (ph_identity_get_public_key (first)), ==,
                    PH_IDENTITY_PUBLIC_KEY_SIZE);
  first_key = g_bytes_ref (ph_identity_get_public_key (first));
  first_fingerprint = g_strdup (ph_identity_get_fingerprint (first));
  g_assert_finalize_object (first);

  /* The next start, as the app or the CLI makes it. */
  second = ph_identity_load_or_create (fixture->profile, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (ph_identity_get_public_key (second), first_key));
  g_assert_cmpstr (ph_identity_get_fingerprint (second), ==, first_fingerprint);
  g_assert_finalize_object (second);

  second = ph_identity_load (fixture->profile, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ph_identity_get_fingerprint (second), ==, first_fingerprint);
  g_assert_finalize_object (second);
}

static void
test_profiles_differ (Fixture *fixture, gconstpointer data)
{
  g_autofree char *other_profile = g_build_filename (fixture->top, "other", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PhIdentity) one = ph_identity_load_or_create (fixture->profile, &error);
  g_autoptr (PhIdentity) other = ph_identity_load_or_create (other_profile, &error);

  g_assert_no_error (error);
  g_assert_false (
      g_bytes_equal (ph_identity_get_public_key (one), ph_identity_get_public_key (other)));
  g_assert_cmpstr (ph_identity_get_fingerprint (one), !=, ph_identity_get_fingerprint (other));
}

static void
test_file_modes (Fixture *fixture, gconstpointer data)
{
  g_autofree char *nested = g_build_filename (fixture->top, "a", "b", "profile", NULL);
  g_autofree char *parent = g_build_filename (fixture->top, "a", NULL);
  g_autofree char *key = key_path (nested);
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) dir = NULL;
  g_autoptr (PhIdentity) identity = NULL;
  mode_t old_umask;
  const char *name;

  /* A lax umask must not leak into the modes of what holds the key. */
  old_umask = umask (0);
  identity = ph_identity_load_or_create (nested, &error);
  umask (old_umask);
  g_assert_no_error (error);

  g_assert_cmpuint (file_mode (nested), ==, 0700);
  g_assert_cmpuint (file_mode (parent), ==, 0700);
  g_assert_cmpuint (file_mode (key), ==, 0600);

  /* Only the key: no temporary file is left beside it. */
  dir = g_dir_open (nested, 0, &error);
  g_assert_no_error (error);
  name = g_dir_read_name (dir);
  g_assert_cmpstr (name, ==, PH_IDENTITY_KEY_FILE);
  g_assert_null (g_dir_read_name (dir));
}

static void
assert_refused_key (const char *profile, guint mode)
{
  g_autofree char *key = key_path (profile);
  g_autofree char *mode_text = g_strdup_printf ("%04o", mode);
  g_autoptr (GBytes) before = read_file (key);
  g_autoptr (GBytes) after = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PhIdentity) loaded = NULL;

  g_assert_cmpint (g_chmod (key, mode), ==, 0);

  loaded = ph_identity_load_or_create (profile, &error);
  g_assert_error (error, PH_IDENTITY_ERROR, PH_IDENTITY_ERROR_INSECURE);
  g_assert_null (loaded);
  /* The message names the file, its mode and the fix. */
  g_assert_nonnull (strstr (error->message, key));
  g_assert_nonnull (strstr (error->message, mode_text));
  g_assert_nonnull (strstr (error->message, "chmod 600"));
  g_clear_error (&error);

  loaded = ph_identity_load (profile, &error);
  g_assert_error (error, PH_IDENTITY_ERROR, PH_IDENTITY_ERROR_INSECURE);
  g_assert_null (loaded);

  /* Refused, not replaced by a new identity. */
  after = read_file (key);
  g_assert_true (g_bytes_equal (before, after));
  g_assert_cmpuint (file_mode (key), ==, mode);
}

static void
test_readable_key_refused (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PhIdentity) created = ph_identity_load_or_create (fixture->profile, &error);
  g_autoptr (PhIdentity) loaded = NULL;
  g_autofree char *key = key_path (fixture->profile);

  g_assert_no_error (error);
  assert_refused_key (fixture->profile, 0644);
  assert_refused_key (fixture->profile, 0640);
  assert_refused_key (fixture->profile, 0604);

  /* After the fix the message gave, the same identity loads. */
  g_assert_cmpint (g_chmod (key, 0600), ==, 0);
  loaded = ph_identity_load_or_create (fixture->profile, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ph_identity_get_fingerprint (loaded), ==, ph_identity_get_fingerprint (created));
}

static void
test_open_folder_refused (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PhIdentity) identity = NULL;
  g_autofree char *key = key_path (fixture->profile);

  g_assert_cmpint (g_mkdir (fixture->profile, 0700), ==, 0);
  g_assert_cmpint (g_chmod (fixture->profile, 0755), ==, 0);

  identity = ph_identity_load_or_create (fixture->profile, &error);
  g_assert_error (error, PH_IDENTITY_ERROR, PH_IDENTITY_ERROR_INSECURE);
  g_assert_nonnull (strstr (error->message, "chmod 700"));
  g_assert_null (identity);
  g_assert_false (g_file_test (key, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (file_mode (fixture->profile), ==, 0755);
}

static GBytes *
changed_copy (GBytes *bytes, gsize offset, guint8 mask, gsize new_size)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  guint8 *copy = g_malloc0 (MAX (size, new_size));

  memcpy (copy, data, size);
  if (offset < size)
    copy[offset] ^= mask;
  return g_bytes_new_take (copy, new_size);
}

static void
assert_key_file_error (const char *profile, GBytes *contents, int code)
{
  g_autofree char *key = key_path (profile);
  g_autoptr (GError) error = NULL;
  g_autoptr (PhIdentity) loaded = NULL;
  g_autoptr (GBytes) after = NULL;

  write_file (key, contents);
  loaded = ph_identity_load_or_create (profile, &error);
  g_assert_error (error, PH_IDENTITY_ERROR, code);
  g_assert_nonnull (strstr (error->message, key));
  g_assert_null (loaded);

  after = read_file (key);
  g_assert_true (g_bytes_equal (after, contents));
}

static void
test_damaged_key_refused (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PhIdentity) created = ph_identity_load_or_create (fixture->profile, &error);
  g_autofree char *key = key_path (fixture->profile);
  g_autoptr (GBytes) good = read_file (key);
  gsize size = g_bytes_get_size (good);

  g_assert_no_error (error);
  for (gsize offset = 0; offset < size; offset++)
    {
      g_autoptr (GBytes) flipped = changed_copy (good, offset, 0x01, size);

      assert_key_file_error (fixture->profile, flipped, PH_IDENTITY_ERROR_DAMAGED);
    }
  /* Byte 8 is the format version. */
  {
    g_autoptr (GBytes) newer = changed_copy (good, 8, 0x01 ^ 0x02, size);

    assert_key_file_error (fixture->profile, newer, PH_IDENTITY_ERROR_UNSUPPORTED_VERSION);
  }
  for (gsize cut = 0; cut < size; cut++)
    {
      g_autoptr (GBytes) truncated = changed_copy (good, size, 0, cut);

      assert_key_file_error (fixture->profile, truncated, PH_IDENTITY_ERROR_DAMAGED);
    }
  {
    g_autoptr (GBytes) longer = changed_copy (good, size, 0, size + 1);

    assert_key_file_error (fixture->profile, longer, PH_IDENTITY_ERROR_DAMAGED);
  }
}

static void
test_fingerprint_known_answers (void)
{
  /* The vectors of libsignal-protocol-c's tests/test_fingerprint.c: two
   * identity keys with stable identifiers, 5200 iterations, and the
   * safety number both sides see (the two halves, the lower first). */
  static const guint8 alice[PH_IDENTITY_SIGNAL_PUBLIC_KEY_SIZE]
      = { 0x05, 0x06, 0x86, 0x3b, 0xc6, 0x6d, 0x02, 0xb4, 0x0d, 0x27, 0xb8,
          0xd4, 0x9c, 0xa7, 0xc0, 0x9e, 0x92, 0x39, 0x23, 0x6f, 0x9d, 0x7d,
          0x25, 0xd6, 0xfc, 0xca, 0x5c, 0xe1, 0x3c, 0x70, 0x64, 0xd8, 0x68 };
  static const guint8 bob[PH_IDENTITY_SIGNAL_PUBLIC_KEY_SIZE]
      = { 0x05, 0xf7, 0x81, 0xb6, 0xfb, 0x32, 0xfe, 0xd9, 0xba, 0x1c, 0xf2,
          0xde, 0x97, 0x8d, 0x4d, 0x5d, 0xa2, 0x8d, 0xc3, 0x40, 0x46, 0xae,
          0x81, 0x44, 0x02, 0xb5, 0xc0, 0xdb, 0xd9, 0x6f, 0xda, 0x90, 0x7b };
  char alice_digits[PH_IDENTITY_FINGERPRINT_DIGITS + 1];
  char bob_digits[PH_IDENTITY_FINGERPRINT_DIGITS + 1];
  g_autofree char *safety_number = NULL;
  guint8 seed[PH_IDENTITY_SEED_SIZE];
  g_autoptr (PhIdentity) identity = NULL;
  g_autofree char *public_hex = NULL;
  g_autofree char *signal_hex = NULL;
  g_autofree char *again = NULL;

  ph_identity_compute_fingerprint_digits (alice, sizeof alice, "+14152222222", 5200, alice_digits);
  ph_identity_compute_fingerprint_digits (bob, sizeof bob, "+14153333333", 5200, bob_digits);
  safety_number = strcmp (alice_digits, bob_digits) <= 0
                      ? g_strconcat (alice_digits, bob_digits, NULL)
                      : g_strconcat (bob_digits, alice_digits, NULL);
  g_assert_cmpstr (safety_number, ==,
                   "300354477692869396892869876765458257569162576843440918079131");

  /* An identity from a fixed seed. The expected keys and digits were
   * computed apart from libsodium: Ed25519 with Python's cryptography,
   * u = (1 + y) / (1 - y) mod 2^255 - 19, the digits with hashlib. */
  for (guint i = 0; i < sizeof seed; i++)
    seed[i] = i;
  identity = ph_identity_new_from_seed (seed);
  public_hex = to_hex (ph_identity_get_public_key (identity));
  g_assert_cmpstr (public_hex, ==,
                   "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8");
  signal_hex = to_hex (ph_identity_get_signal_public_key (identity));
  g_assert_cmpstr (signal_hex, ==,
                   "054701d08488451f545a409fb58ae3e58581ca40ac3f7f114698cd71deac73ca01");
  g_assert_cmpstr (ph_identity_get_fingerprint (identity), ==,
                   "97867 75397 69395 45831 74135 84957");
  again = ph_identity_fingerprint_for_public_key (ph_identity_get_public_key (identity));
  g_assert_cmpstr (again, ==, ph_identity_get_fingerprint (identity));
}

static void
test_signal_keys (void)
{
  g_autoptr (PhIdentity) identity = NULL;
  guint8 seed[PH_IDENTITY_SEED_SIZE];
  guint8 private_key[PH_IDENTITY_SIGNAL_PRIVATE_KEY_SIZE];
  guint8 public_key[crypto_scalarmult_curve25519_BYTES];
  GBytes *signal_public;

  g_assert_cmpint (sodium_init (), >=, 0);
  randombytes_buf (seed, sizeof seed);
  identity = ph_identity_new_from_seed (seed);
  signal_public = ph_identity_get_signal_public_key (identity);
  g_assert_cmpuint (g_bytes_get_size (signal_public), ==, 33);
  g_assert_cmpint (((const guint8 *)g_bytes_get_data (signal_public, NULL))[0], ==, 0x05);

  /* The private key libsignal gets is the one of that public key, and
   * clamped as curve_generate_private_key() makes them. */
  ph_identity_copy_signal_private_key (identity, private_key);
  g_assert_cmpint (private_key[0] & 7, ==, 0);
  g_assert_cmpint (private_key[31] & 0xc0, ==, 0x40);
  g_assert_cmpint (crypto_scalarmult_curve25519_base (public_key, private_key), ==, 0);
  g_assert_cmpmem (public_key, sizeof public_key,
                   (const guint8 *)g_bytes_get_data (signal_public, NULL) + 1, 32);
  sodium_memzero (private_key, sizeof private_key);
}

static void
test_sign_and_verify (void)
{
  g_autoptr (PhIdentity) alice = NULL;
  g_autoptr (PhIdentity) bob = NULL;
  g_autoptr (GBytes) message = g_bytes_new_static ("meet me at noon", 15);
  g_autoptr (GBytes) other_message = g_bytes_new_static ("meet me at nine", 15);
  g_autoptr (GBytes) empty = g_bytes_new_static ("", 0);
  g_autoptr (GBytes) signature = NULL;
  g_autoptr (GBytes) empty_signature = NULL;
  g_autoptr (GBytes) short_signature = NULL;
  g_autoptr (GBytes) flipped = NULL;
  GBytes *alice_key;
  guint8 seed[PH_IDENTITY_SEED_SIZE];

  g_assert_cmpint (sodium_init (), >=, 0);
  randombytes_buf (seed, sizeof seed);
  alice = ph_identity_new_from_seed (seed);
  randombytes_buf (seed, sizeof seed);
  bob = ph_identity_new_from_seed (seed);
  alice_key = ph_identity_get_public_key (alice);

  signature = ph_identity_sign (alice, "contact-save", message);
  g_assert_cmpuint (g_bytes_get_size (signature), ==, PH_IDENTITY_SIGNATURE_SIZE);
  g_assert_true (ph_identity_verify (alice_key, "contact-save", message, signature));

  /* Another purpose, message, signer or a changed bit: no. */
  g_assert_false (ph_identity_verify (alice_key, "meeting", message, signature));
  g_assert_false (ph_identity_verify (alice_key, "contact-save", other_message, signature));
  g_assert_false (
      ph_identity_verify (ph_identity_get_public_key (bob), "contact-save", message, signature));
  for (gsize i = 0; i < PH_IDENTITY_SIGNATURE_SIZE; i += 7)
    {
      g_autoptr (GBytes) changed = changed_copy (signature, i, 0x10, PH_IDENTITY_SIGNATURE_SIZE);

      g_assert_false (ph_identity_verify (alice_key, "contact-save", message, changed));
    }
  short_signature = g_bytes_new_from_bytes (signature, 0, PH_IDENTITY_SIGNATURE_SIZE - 1);
  g_assert_false (ph_identity_verify (alice_key, "contact-save", message, short_signature));
  flipped = changed_copy (alice_key, 3, 0x04, PH_IDENTITY_PUBLIC_KEY_SIZE);
  g_assert_false (ph_identity_verify (flipped, "contact-save", message, signature));

  /* The context is length-prefixed: "ab" + "c…" is not "a" + "bc…". */
  {
    g_autoptr (GBytes) bc = g_bytes_new_static ("bc", 2);
    g_autoptr (GBytes) c = g_bytes_new_static ("c", 1);
    g_autoptr (GBytes) ab_signature = ph_identity_sign (alice, "ab", c);

    g_assert_false (ph_identity_verify (alice_key, "a", bc, ab_signature));
  }

  empty_signature = ph_identity_sign (alice, "x", empty);
  g_assert_true (ph_identity_verify (alice_key, "x", empty, empty_signature));
}

static void
test_save_keeps_an_existing_identity (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PhIdentity) existing = ph_identity_load_or_create (fixture->profile, &error);
  g_autoptr (PhIdentity) other = NULL;
  g_autoptr (PhIdentity) loaded = NULL;
  g_autofree char *key = key_path (fixture->profile);
  g_autoptr (GBytes) before = read_file (key);
  g_autoptr (GBytes) after = NULL;
  guint8 seed[PH_IDENTITY_SEED_SIZE];

  g_assert_no_error (error);
  randombytes_buf (seed, sizeof seed);
  other = ph_identity_new_from_seed (seed);

  /* The same identity again: nothing to do. */
  g_assert_true (ph_identity_save (existing, fixture->profile, &error));
  g_assert_no_error (error);

  g_assert_false (ph_identity_save (other, fixture->profile, &error));
  g_assert_error (error, PH_IDENTITY_ERROR, PH_IDENTITY_ERROR_EXISTS);
  g_assert_nonnull (strstr (error->message, ph_identity_get_fingerprint (existing)));
  g_clear_error (&error);
  after = read_file (key);
  g_assert_true (g_bytes_equal (before, after));

  loaded = ph_identity_load (fixture->profile, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ph_identity_get_fingerprint (loaded), ==,
                   ph_identity_get_fingerprint (existing));
}

typedef struct
{
  const char *profile;
  GBytes *public_key;
} RaceRun;

static gpointer
race_thread (gpointer data)
{
  RaceRun *run = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PhIdentity) identity = ph_identity_load_or_create (run->profile, &error);

  g_assert_no_error (error);
  run->public_key = g_bytes_ref (ph_identity_get_public_key (identity));
  return NULL;
}

/* The app and the CLI starting at once on a new profile end up with one
 * identity, not one each. */
static void
test_concurrent_first_starts_agree (Fixture *fixture, gconstpointer data)
{
  RaceRun runs[4];
  GThread *threads[G_N_ELEMENTS (runs)];

  for (guint i = 0; i < G_N_ELEMENTS (runs); i++)
    {
      runs[i] = (RaceRun){ fixture->profile, NULL };
      threads[i] = g_thread_new ("first-start", race_thread, &runs[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (runs); i++)
    g_thread_join (threads[i]);
  for (guint i = 1; i < G_N_ELEMENTS (runs); i++)
    g_assert_true (g_bytes_equal (runs[i].public_key, runs[0].public_key));
  for (guint i = 0; i < G_N_ELEMENTS (runs); i++)
    g_bytes_unref (runs[i].public_key);
}

#define PASSPHRASE "correct horse battery staple"

/* The cheapest Argon2id libsodium allows: these tests are about the file,
 * not about the cost of a guess. */
static PhIdentityBackup *
cheap_backup (PhIdentity *identity)
{
  PhIdentityBackup *backup = ph_identity_backup_new (identity);

  ph_identity_backup_set_cost (backup, crypto_pwhash_argon2id_OPSLIMIT_MIN,
                               crypto_pwhash_argon2id_MEMLIMIT_MIN / 1024);
  return backup;
}

static PhIdentity *
random_identity (void)
{
  guint8 seed[PH_IDENTITY_SEED_SIZE];
  PhIdentity *identity;

  g_assert_cmpint (sodium_init (), >=, 0);
  randombytes_buf (seed, sizeof seed);
  identity = ph_identity_new_from_seed (seed);
  sodium_memzero (seed, sizeof seed);
  return identity;
}

/* What `pinhole-cli import-identity` does: read the backup, then store
 * its identity in the profile; FALSE with @error when either fails. */
static gboolean
import_backup (const char *path, const char *passphrase, const char *profile, GError **error)
{
  g_autoptr (PhIdentityBackup) backup = ph_identity_backup_read_file (path, passphrase, error);

  return backup != NULL
         && ph_identity_save (ph_identity_backup_get_identity (backup), profile, error);
}

static void
test_backup_round_trip (Fixture *fixture, gconstpointer data)
{
  g_autofree char *backup_path = g_build_filename (fixture->top, "identity.backup", NULL);
  g_autofree char *other_profile = g_build_filename (fixture->top, "other-machine", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PhIdentity) original = ph_identity_load_or_create (fixture->profile, &error);
  g_autoptr (PhIdentityBackup) backup = NULL;
  g_autoptr (PhIdentityBackup) read_back = NULL;
  g_autoptr (PhIdentity) imported = NULL;

  g_assert_no_error (error);
  backup = cheap_backup (original);
  g_assert_cmpuint (ph_identity_backup_get_contacts (backup)->len, ==, 0);
  g_assert_true (ph_identity_backup_write_file (backup, backup_path, PASSPHRASE, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (file_mode (backup_path), ==, 0600);

  read_back = ph_identity_backup_read_file (backup_path, PASSPHRASE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ph_identity_backup_get_contacts (read_back)->len, ==, 0);

  g_assert_true (import_backup (backup_path, PASSPHRASE, other_profile, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (file_mode (other_profile), ==, 0700);
  imported = ph_identity_load_or_create (other_profile, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ph_identity_get_fingerprint (imported), ==,
                   ph_identity_get_fingerprint (original));
  g_assert_true (
      g_bytes_equal (ph_identity_get_public_key (imported), ph_identity_get_public_key (original)));

  /* The imported key signs as the original one. */
  {
    g_autoptr (GBytes) message = g_bytes_new_static ("hello", 5);
    g_autoptr (GBytes) signature = ph_identity_sign (imported, "test", message);

    g_assert_true (
        ph_identity_verify (ph_identity_get_public_key (original), "test", message, signature));
  }

  /* Importing the same backup again changes nothing and is fine. */
  g_assert_true (import_backup (backup_path, PASSPHRASE, other_profile, &error));
  g_assert_no_error (error);
}

static void
test_backup_carries_contacts (void)
{
  g_autoptr (PhIdentity) identity = random_identity ();
  g_autoptr (PhIdentityBackup) backup = cheap_backup (identity);
  g_autoptr (PhIdentityBackup) opened = NULL;
  g_autoptr (GBytes) alice = g_bytes_new_static ("alice's record", 14);
  g_autoptr (GBytes) empty = g_bytes_new_static ("", 0);
  g_autoptr (GBytes) bob = g_bytes_new_static ("bob\0with\0zeros", 14);
  g_autoptr (GBytes) sealed = NULL;
  g_autoptr (GError) error = NULL;
  GPtrArray *contacts;

  ph_identity_backup_add_contact (backup, alice);
  ph_identity_backup_add_contact (backup, empty);
  ph_identity_backup_add_contact (backup, bob);
  sealed = ph_identity_backup_seal (backup, PASSPHRASE, &error);
  g_assert_no_error (error);

  opened = ph_identity_backup_open (sealed, PASSPHRASE, &error);
  g_assert_no_error (error);
  contacts = ph_identity_backup_get_contacts (opened);
  g_assert_cmpuint (contacts->len, ==, 3);
  g_assert_true (g_bytes_equal (g_ptr_array_index (contacts, 0), alice));
  g_assert_true (g_bytes_equal (g_ptr_array_index (contacts, 1), empty));
  g_assert_true (g_bytes_equal (g_ptr_array_index (contacts, 2), bob));
  g_assert_cmpstr (ph_identity_get_fingerprint (ph_identity_backup_get_identity (opened)), ==,
                   ph_identity_get_fingerprint (identity));
}

/* A backup that does not open leaves the profile as it was: here, not
 * there at all. */
static void
assert_import_fails (Fixture *fixture, const char *passphrase, GBytes *contents, int code)
{
  g_autofree char *path = g_build_filename (fixture->top, "changed.backup", NULL);
  g_autofree char *profile = g_build_filename (fixture->top, "import-target", NULL);
  g_autoptr (GError) error = NULL;

  write_file (path, contents);
  g_assert_false (import_backup (path, passphrase, profile, &error));
  g_assert_error (error, PH_IDENTITY_ERROR, code);
  /* Messages name the file. */
  g_assert_true (g_str_has_prefix (error->message, path));
  g_assert_false (g_file_test (profile, G_FILE_TEST_EXISTS));
}

static GBytes *
seal_cheap (PhIdentity *identity)
{
  g_autoptr (PhIdentityBackup) backup = cheap_backup (identity);
  g_autoptr (GError) error = NULL;
  GBytes *sealed = ph_identity_backup_seal (backup, PASSPHRASE, &error);

  g_assert_no_error (error);
  return sealed;
}

static void
test_backup_wrong_passphrase (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhIdentity) identity = random_identity ();
  g_autoptr (GBytes) sealed = seal_cheap (identity);

  assert_import_fails (fixture, "correct horse battery stapler", sealed,
                       PH_IDENTITY_ERROR_WRONG_PASSPHRASE);
  assert_import_fails (fixture, "", sealed, PH_IDENTITY_ERROR_WRONG_PASSPHRASE);
}

static void
test_backup_truncated (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhIdentity) identity = random_identity ();
  g_autoptr (GBytes) sealed = seal_cheap (identity);
  gsize size = g_bytes_get_size (sealed);

  for (gsize cut = 0; cut < size; cut++)
    {
      g_autoptr (GBytes) truncated = g_bytes_new_from_bytes (sealed, 0, cut);

      assert_import_fails (fixture, PASSPHRASE, truncated,
                           cut == 0 ? PH_IDENTITY_ERROR_NOT_A_BACKUP : PH_IDENTITY_ERROR_TRUNCATED);
    }
}

/* Where a changed bit lands decides what a person is told, and nothing
 * opens: the magic (not a backup), the version (newer or damaged), the
 * rest of the header (its checksum), the contents (the cipher's tag). */
static void
test_backup_bit_flips (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhIdentity) identity = random_identity ();
  g_autoptr (GBytes) sealed = seal_cheap (identity);
  gsize size = g_bytes_get_size (sealed);

  for (gsize offset = 0; offset < size; offset++)
    {
      g_autoptr (GBytes) flipped = changed_copy (sealed, offset, 1 << (offset % 8), size);
      int code;

      if (offset < 8)
        code = PH_IDENTITY_ERROR_NOT_A_BACKUP;
      /* Version 1 with any one bit changed is 0x0101 or 3, 5, 9, …: newer. */
      else if (offset < 10)
        code = PH_IDENTITY_ERROR_UNSUPPORTED_VERSION;
      else
        code = PH_IDENTITY_ERROR_DAMAGED;
      assert_import_fails (fixture, PASSPHRASE, flipped, code);
    }

  /* One byte more at the end. */
  {
    g_autoptr (GBytes) longer = changed_copy (sealed, size, 0, size + 1);

    assert_import_fails (fixture, PASSPHRASE, longer, PH_IDENTITY_ERROR_DAMAGED);
  }
}

/* A copy of @sealed with @offset changed and the header checksum made
 * right again, as someone who meant to change it would. */
static GBytes *
changed_header (GBytes *sealed, gsize offset, guint8 value)
{
  gsize size;
  guint8 *copy = g_bytes_unref_to_data (g_bytes_ref (sealed), &size);

  copy[offset] = value;
  crypto_generichash (copy + PH_IDENTITY_BACKUP_CHECKSUM_OFFSET, PH_IDENTITY_BACKUP_CHECKSUM_SIZE,
                      copy, PH_IDENTITY_BACKUP_CHECKSUM_OFFSET, NULL, 0);
  return g_bytes_new_take (copy, size);
}

static void
test_backup_deliberate_changes (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhIdentity) identity = random_identity ();
  g_autoptr (GBytes) sealed = seal_cheap (identity);
  const guint8 *bytes = g_bytes_get_data (sealed, NULL);
  /* salt at 18, nonce at 34, memory (KiB, big-endian) at 14-17 */
  g_autoptr (GBytes) salt = changed_header (sealed, 20, bytes[20] ^ 0x01);
  g_autoptr (GBytes) nonce = changed_header (sealed, 40, bytes[40] ^ 0x01);
  g_autoptr (GBytes) greedy = changed_header (sealed, 14, 0x7f);
  g_autoptr (GBytes) newer = changed_header (sealed, 9, 2);

  /* Another salt derives another key: it reads as another passphrase. */
  assert_import_fails (fixture, PASSPHRASE, salt, PH_IDENTITY_ERROR_WRONG_PASSPHRASE);
  /* The right key, other associated data: the tag fails. */
  assert_import_fails (fixture, PASSPHRASE, nonce, PH_IDENTITY_ERROR_DAMAGED);
  /* 2 TiB of Argon2id memory is refused before anything is allocated. */
  assert_import_fails (fixture, PASSPHRASE, greedy, PH_IDENTITY_ERROR_DAMAGED);
  assert_import_fails (fixture, PASSPHRASE, newer, PH_IDENTITY_ERROR_UNSUPPORTED_VERSION);
}

static void
test_backup_weak_passphrase (Fixture *fixture, gconstpointer data)
{
  g_autofree char *path = g_build_filename (fixture->top, "weak.backup", NULL);
  g_autoptr (PhIdentity) identity = random_identity ();
  g_autoptr (PhIdentityBackup) backup = cheap_backup (identity);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) sealed = NULL;
  /* Seven characters in fourteen bytes: characters count, not bytes. */
  const char *short_ones[]
      = { "", "1234567", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9" };

  for (guint i = 0; i < G_N_ELEMENTS (short_ones); i++)
    {
      g_assert_false (ph_identity_backup_write_file (backup, path, short_ones[i], &error));
      g_assert_error (error, PH_IDENTITY_ERROR, PH_IDENTITY_ERROR_WEAK_PASSPHRASE);
      g_clear_error (&error);
      g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
    }

  sealed = ph_identity_backup_seal (backup, "12345678", &error);
  g_assert_no_error (error);
  g_assert_nonnull (sealed);
}

static void
test_backup_passphrase_normalized (void)
{
  g_autoptr (PhIdentity) identity = random_identity ();
  g_autoptr (PhIdentityBackup) backup = cheap_backup (identity);
  g_autoptr (PhIdentityBackup) opened = NULL;
  g_autoptr (GBytes) sealed = NULL;
  g_autoptr (GError) error = NULL;

  /* "café crème" with precomposed letters, opened as typed with
   * combining accents. */
  sealed = ph_identity_backup_seal (backup, "caf\xc3\xa9 cr\xc3\xa8me", &error);
  g_assert_no_error (error);
  opened = ph_identity_backup_open (sealed, "cafe\xcc\x81 cre\xcc\x80me", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ph_identity_get_fingerprint (ph_identity_backup_get_identity (opened)), ==,
                   ph_identity_get_fingerprint (identity));
}

static void
test_backup_default_cost (void)
{
  g_autoptr (PhIdentity) identity = random_identity ();
  g_autoptr (PhIdentityBackup) backup = ph_identity_backup_new (identity);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) sealed = NULL;
  PhIdentityBackupHeader header;

  if (g_getenv ("PINHOLE_TEST_UNDER_VALGRIND") != NULL)
    {
      g_test_skip ("256 MiB of Argon2id takes minutes under valgrind");
      return;
    }
  sealed = ph_identity_backup_seal (backup, PASSPHRASE, &error);
  g_assert_no_error (error);
  g_assert_true (ph_identity_backup_parse_header (g_bytes_get_data (sealed, NULL),
                                                  g_bytes_get_size (sealed), &header, &error));
  g_assert_cmpuint (header.opslimit, ==, crypto_pwhash_argon2id_OPSLIMIT_MODERATE);
  g_assert_cmpuint ((guint64)header.memlimit_kib * 1024, ==,
                    crypto_pwhash_argon2id_MEMLIMIT_MODERATE);
}

static void
put_section (GByteArray *payload, guint8 type, const guint8 *body, guint32 size)
{
  guint8 header[5] = { type, size >> 24, (size >> 16) & 0xff, (size >> 8) & 0xff, size & 0xff };

  g_byte_array_append (payload, header, sizeof header);
  if (size > 0)
    g_byte_array_append (payload, body, size);
}

static void
assert_payload_error (GByteArray *payload, int code)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PhIdentityBackup) backup
      = ph_identity_backup_parse_payload (payload->data, payload->len, &error);

  g_assert_null (backup);
  g_assert_error (error, PH_IDENTITY_ERROR, code);
}

/* What a writer other than Pinhole (or a newer Pinhole) could have put
 * behind a valid tag. */
static void
test_backup_payload_checks (void)
{
  g_autoptr (PhIdentity) identity = random_identity ();
  guint8 key_material[PH_IDENTITY_SEED_SIZE + PH_IDENTITY_PUBLIC_KEY_SIZE];
  static const guint8 no_contacts[4] = { 0, 0, 0, 0 };
  static const guint8 bad_count[8] = { 0, 0, 0, 2, 0, 0, 0, 0 };
  static const guint8 one_contact[7] = { 0, 0, 0, 1, 0, 0, 0 };

  ph_identity_copy_seed (identity, key_material);
  memcpy (key_material + PH_IDENTITY_SEED_SIZE,
          g_bytes_get_data (ph_identity_get_public_key (identity), NULL),
          PH_IDENTITY_PUBLIC_KEY_SIZE);

  {
    g_autoptr (GByteArray) payload = g_byte_array_new ();

    assert_payload_error (payload, PH_IDENTITY_ERROR_DAMAGED);
    put_section (payload, 2, no_contacts, sizeof no_contacts);
    assert_payload_error (payload, PH_IDENTITY_ERROR_DAMAGED);
  }
  {
    g_autoptr (GByteArray) payload = g_byte_array_new ();
    g_autoptr (GError) error = NULL;
    g_autoptr (PhIdentityBackup) backup = NULL;

    /* The identity alone, no contacts section: a valid backup. */
    put_section (payload, 1, key_material, sizeof key_material);
    backup = ph_identity_backup_parse_payload (payload->data, payload->len, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (ph_identity_backup_get_contacts (backup)->len, ==, 0);

    put_section (payload, 1, key_material, sizeof key_material);
    assert_payload_error (payload, PH_IDENTITY_ERROR_DAMAGED);
  }
  {
    g_autoptr (GByteArray) payload = g_byte_array_new ();

    put_section (payload, 1, key_material, sizeof key_material);
    put_section (payload, 9, no_contacts, sizeof no_contacts);
    assert_payload_error (payload, PH_IDENTITY_ERROR_UNSUPPORTED_VERSION);
  }
  {
    g_autoptr (GByteArray) payload = g_byte_array_new ();

    put_section (payload, 1, key_material, sizeof key_material);
    put_section (payload, 2, bad_count, sizeof bad_count);
    assert_payload_error (payload, PH_IDENTITY_ERROR_DAMAGED);
  }
  {
    g_autoptr (GByteArray) payload = g_byte_array_new ();

    put_section (payload, 1, key_material, sizeof key_material);
    put_section (payload, 2, one_contact, sizeof one_contact);
    assert_payload_error (payload, PH_IDENTITY_ERROR_DAMAGED);
  }
  {
    g_autoptr (GByteArray) payload = g_byte_array_new ();

    /* A public key that is not the seed's. */
    key_material[PH_IDENTITY_SEED_SIZE] ^= 0x01;
    put_section (payload, 1, key_material, sizeof key_material);
    assert_payload_error (payload, PH_IDENTITY_ERROR_DAMAGED);
  }
  {
    g_autoptr (GByteArray) payload = g_byte_array_new ();

    put_section (payload, 1, key_material, 40);
    assert_payload_error (payload, PH_IDENTITY_ERROR_DAMAGED);
    g_byte_array_set_size (payload, 3);
    assert_payload_error (payload, PH_IDENTITY_ERROR_DAMAGED);
  }
  sodium_memzero (key_material, sizeof key_material);
}

static void
test_default_profile_dir (void)
{
  g_autofree char *from_env = NULL;
  g_autofree char *fallback = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *saved = g_strdup (g_getenv ("PINHOLE_DATA_DIR"));

  g_setenv ("PINHOLE_DATA_DIR", "/somewhere/profile", TRUE);
  from_env = ph_identity_get_default_profile_dir ();
  g_assert_cmpstr (from_env, ==, "/somewhere/profile");

  g_setenv ("PINHOLE_DATA_DIR", "", TRUE);
  fallback = ph_identity_get_default_profile_dir ();
  expected = g_build_filename (g_get_user_data_dir (), "pinhole", NULL);
  g_assert_cmpstr (fallback, ==, expected);

  if (saved != NULL)
    g_setenv ("PINHOLE_DATA_DIR", saved, TRUE);
  else
    g_unsetenv ("PINHOLE_DATA_DIR");
}

/* pinhole-cli --json @args…; the backups it makes are cheap to open
 * (PINHOLE_TEST_CHEAP_BACKUP; without the test hooks they take a second). */
static PhTestProcess *
spawn_cli (const char *const *args, const char *const *extra_env)
{
  g_autoptr (GStrvBuilder) argv = g_strv_builder_new ();
  g_autoptr (GStrvBuilder) env = g_strv_builder_new ();
  g_auto (GStrv) argv_strv = NULL;
  g_auto (GStrv) env_strv = NULL;

  g_strv_builder_add (argv, g_getenv ("PINHOLE_CLI_BIN"));
  g_strv_builder_add (argv, "--json");
  g_strv_builder_addv (argv, (const char **)args);
  g_strv_builder_add (env, "PINHOLE_TEST_CHEAP_BACKUP=1");
  if (extra_env != NULL)
    g_strv_builder_addv (env, (const char **)extra_env);
  argv_strv = g_strv_builder_end (argv);
  env_strv = g_strv_builder_end (env);
  return ph_test_process_spawn ((const char *const *)argv_strv, (const char *const *)env_strv);
}

/* Runs pinhole-cli to its end; returns its exit status and, in
 * *@out_event, its first event (NULL when it printed none). */
static int
run_cli (const char *const *args, const char *const *extra_env, const char *stdin_line,
         JsonObject **out_event)
{
  g_autoptr (PhTestProcess) process = spawn_cli (args, extra_env);
  const char *const any[] = { "identity", "identity-exported", "identity-imported", "error", NULL };

  if (stdin_line != NULL)
    ph_test_process_write_line (process, stdin_line);
  ph_test_process_close_stdin (process);
  *out_event = ph_test_process_next_event (process, any, EXIT_TIMEOUT_MS);
  return ph_test_process_wait_exit (process, EXIT_TIMEOUT_MS);
}

static char *
cli_fingerprint (const char *profile)
{
  const char *args[] = { "identity", "--data-dir", profile, NULL };
  g_autoptr (JsonObject) event = NULL;

  g_assert_cmpint (run_cli (args, NULL, NULL, &event), ==, 0);
  g_assert_nonnull (event);
  g_assert_cmpstr (json_object_get_string_member (event, "event"), ==, "identity");
  g_assert_cmpstr (json_object_get_string_member (event, "profile"), ==, profile);
  return g_strdup (json_object_get_string_member (event, "fingerprint"));
}

static void
test_cli_identity (Fixture *fixture, gconstpointer data)
{
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autofree char *key = key_path (fixture->profile);
  g_autoptr (GError) error = NULL;
  g_autoptr (PhIdentity) identity = NULL;

  first = cli_fingerprint (fixture->profile);
  assert_fingerprint_format (first);
  g_assert_cmpuint (file_mode (fixture->profile), ==, 0700);
  g_assert_cmpuint (file_mode (key), ==, 0600);

  second = cli_fingerprint (fixture->profile);
  g_assert_cmpstr (second, ==, first);

  /* The app reads the same identity. */
  identity = ph_identity_load (fixture->profile, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ph_identity_get_fingerprint (identity), ==, first);
}

static void
test_cli_identity_text (Fixture *fixture, gconstpointer data)
{
  const char *argv[]
      = { g_getenv ("PINHOLE_CLI_BIN"), "identity", "--data-dir", fixture->profile, NULL };
  g_autoptr (PhTestProcess) process = ph_test_process_spawn (argv, NULL);
  g_autofree char *line = ph_test_process_read_line (process, EXIT_TIMEOUT_MS);
  g_autoptr (GError) error = NULL;
  g_autoptr (PhIdentity) identity = NULL;
  g_autofree char *expected = NULL;

  g_assert_cmpint (ph_test_process_wait_exit (process, EXIT_TIMEOUT_MS), ==, 0);
  identity = ph_identity_load (fixture->profile, &error);
  g_assert_no_error (error);
  expected = g_strdup_printf ("Fingerprint: %s", ph_identity_get_fingerprint (identity));
  g_assert_cmpstr (line, ==, expected);
}

static void
test_cli_default_profile (Fixture *fixture, gconstpointer data)
{
  g_autofree char *from_env = g_strdup_printf ("PINHOLE_DATA_DIR=%s", fixture->profile);
  g_autofree char *data_home = g_build_filename (fixture->top, "data", NULL);
  g_autofree char *xdg = g_strdup_printf ("XDG_DATA_HOME=%s", data_home);
  g_autofree char *default_profile = g_build_filename (data_home, "pinhole", NULL);
  g_autofree char *default_key = key_path (default_profile);
  g_autofree char *profile_key = key_path (fixture->profile);
  const char *args[] = { "identity", NULL };
  const char *env_profile[] = { from_env, NULL };
  const char *env_xdg[] = { "PINHOLE_DATA_DIR=", xdg, NULL };
  g_autoptr (JsonObject) event = NULL;
  g_autoptr (JsonObject) default_event = NULL;

  g_assert_cmpint (run_cli (args, env_profile, NULL, &event), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (event, "profile"), ==, fixture->profile);
  g_assert_true (g_file_test (profile_key, G_FILE_TEST_IS_REGULAR));

  g_assert_cmpint (run_cli (args, env_xdg, NULL, &default_event), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (default_event, "profile"), ==, default_profile);
  g_assert_true (g_file_test (default_key, G_FILE_TEST_IS_REGULAR));
}

static char *
write_passphrase_file (Fixture *fixture, const char *passphrase)
{
  char *path = g_build_filename (fixture->top, "passphrase", NULL);
  g_autofree char *line = g_strconcat (passphrase, "\n", NULL);
  g_autoptr (GBytes) contents = g_bytes_new (line, strlen (line));

  write_file (path, contents);
  return path;
}

static void
test_cli_export_import (Fixture *fixture, gconstpointer data)
{
  g_autofree char *backup = g_build_filename (fixture->top, "moved.backup", NULL);
  g_autofree char *other = g_build_filename (fixture->top, "new-machine", NULL);
  g_autofree char *other_key = key_path (other);
  g_autofree char *from_file = g_build_filename (fixture->top, "from-file", NULL);
  g_autofree char *passphrase_file = write_passphrase_file (fixture, PASSPHRASE);
  g_autofree char *fingerprint = cli_fingerprint (fixture->profile);
  g_autofree char *imported = NULL;
  const char *export_args[]
      = { "export-identity",   backup,          "--data-dir", fixture->profile,
          "--passphrase-file", passphrase_file, NULL };
  const char *import_args[] = { "import-identity", backup, "--data-dir", other, NULL };
  const char *import_file_args[] = { "import-identity",   backup,          "--data-dir", from_file,
                                     "--passphrase-file", passphrase_file, NULL };
  g_autoptr (JsonObject) exported = NULL;
  g_autoptr (JsonObject) imported_event = NULL;
  g_autoptr (JsonObject) from_file_event = NULL;

  g_assert_cmpint (run_cli (export_args, NULL, NULL, &exported), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (exported, "event"), ==, "identity-exported");
  g_assert_cmpstr (json_object_get_string_member (exported, "file"), ==, backup);
  g_assert_cmpstr (json_object_get_string_member (exported, "fingerprint"), ==, fingerprint);
  g_assert_cmpuint (file_mode (backup), ==, 0600);

  /* On the other machine, the passphrase comes on standard input. */
  g_assert_cmpint (run_cli (import_args, NULL, PASSPHRASE, &imported_event), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (imported_event, "event"), ==,
                   "identity-imported");
  g_assert_cmpstr (json_object_get_string_member (imported_event, "fingerprint"), ==, fingerprint);
  imported = cli_fingerprint (other);
  g_assert_cmpstr (imported, ==, fingerprint);
  g_assert_cmpuint (file_mode (other), ==, 0700);
  g_assert_cmpuint (file_mode (other_key), ==, 0600);

  g_assert_cmpint (run_cli (import_file_args, NULL, NULL, &from_file_event), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (from_file_event, "fingerprint"), ==, fingerprint);
}

static void
assert_cli_error (const char *const *args, const char *stdin_line, const char *in_message)
{
  g_autoptr (JsonObject) event = NULL;

  g_assert_cmpint (run_cli (args, NULL, stdin_line, &event), ==, 1);
  g_assert_nonnull (event);
  g_assert_cmpstr (json_object_get_string_member (event, "event"), ==, "error");
  g_assert_nonnull (strstr (json_object_get_string_member (event, "message"), in_message));
}

static void
test_cli_import_errors (Fixture *fixture, gconstpointer data)
{
  g_autofree char *backup = g_build_filename (fixture->top, "good.backup", NULL);
  g_autofree char *cut = g_build_filename (fixture->top, "cut.backup", NULL);
  g_autofree char *target = g_build_filename (fixture->top, "target", NULL);
  g_autofree char *taken = g_build_filename (fixture->top, "taken", NULL);
  g_autofree char *taken_key = key_path (taken);
  g_autofree char *taken_fingerprint = cli_fingerprint (taken);
  g_autofree char *passphrase_file = write_passphrase_file (fixture, PASSPHRASE);
  g_autoptr (GBytes) taken_before = read_file (taken_key);
  g_autoptr (GBytes) taken_after = NULL;
  g_autoptr (GBytes) whole = NULL;
  g_autoptr (GBytes) half = NULL;
  g_autofree char *fingerprint = cli_fingerprint (fixture->profile);
  const char *export_args[]
      = { "export-identity",   backup,          "--data-dir", fixture->profile,
          "--passphrase-file", passphrase_file, NULL };
  const char *import_args[] = { "import-identity", backup, "--data-dir", target, NULL };
  const char *cut_args[] = { "import-identity", cut, "--data-dir", target, NULL };
  const char *taken_args[] = { "import-identity", backup, "--data-dir", taken, NULL };
  const char *missing_args[]
      = { "import-identity", "/nonexistent/x.backup", "--data-dir", target, NULL };
  g_autoptr (JsonObject) exported = NULL;

  g_assert_cmpint (run_cli (export_args, NULL, NULL, &exported), ==, 0);
  whole = read_file (backup);
  half = g_bytes_new_from_bytes (whole, 0, g_bytes_get_size (whole) / 2);
  write_file (cut, half);

  assert_cli_error (import_args, "not the passphrase", "passphrase is not the one");
  assert_cli_error (cut_args, PASSPHRASE, "cut short");
  assert_cli_error (missing_args, PASSPHRASE, "/nonexistent/x.backup");
  g_assert_false (g_file_test (target, G_FILE_TEST_EXISTS));

  /* A profile with an identity of its own keeps it. */
  assert_cli_error (taken_args, PASSPHRASE, taken_fingerprint);
  taken_after = read_file (taken_key);
  g_assert_true (g_bytes_equal (taken_before, taken_after));
  g_assert_cmpstr (fingerprint, !=, taken_fingerprint);
}

static void
test_cli_readable_key_refused (Fixture *fixture, gconstpointer data)
{
  g_autofree char *fingerprint = cli_fingerprint (fixture->profile);
  g_autofree char *key = key_path (fixture->profile);
  const char *args[] = { "identity", "--data-dir", fixture->profile, NULL };

  g_assert_cmpint (g_chmod (key, 0644), ==, 0);
  assert_cli_error (args, NULL, "chmod 600");
}

static void
test_cli_usage_errors (Fixture *fixture, gconstpointer data)
{
  g_autofree char *passphrase_file = write_passphrase_file (fixture, PASSPHRASE);
  const char *no_file[] = { "export-identity", "--data-dir", fixture->profile, NULL };
  const char *unknown[] = { "identity", "rename", "--data-dir", fixture->profile, NULL };
  const char *extra[] = { "import-identity", "a", "b", "--data-dir", fixture->profile, NULL };
  const char *file_for_show[] = { "identity", "--passphrase-file", passphrase_file, NULL };
  const char *const *cases[] = { no_file, unknown, extra, file_for_show };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (PhTestProcess) process = spawn_cli (cases[i], NULL);

      g_assert_cmpint (ph_test_process_wait_exit (process, EXIT_TIMEOUT_MS), ==, 2);
    }
  g_assert_false (g_file_test (fixture->profile, G_FILE_TEST_EXISTS));
}

/* Reads the terminal's side of @master until @text has appeared in
 * @output, or fails the test after @timeout_ms. */
static void
read_terminal_until (int master, GString *output, const char *text, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * (gint64)1000;

  while (strstr (output->str, text) == NULL)
    {
      struct pollfd pfd = { master, POLLIN, 0 };
      gint64 left_ms = (deadline - g_get_monotonic_time ()) / 1000;
      char buffer[256];
      gssize size;

      if (left_ms <= 0)
        g_error ("the terminal never showed “%s”; it showed: %s", text, output->str);
      if (poll (&pfd, 1, (int)left_ms) <= 0)
        continue;
      size = read (master, buffer, sizeof buffer);
      /* EIO: every writer of the terminal has closed it. */
      if (size <= 0)
        g_error ("the terminal closed before “%s”; it showed: %s", text, output->str);
      g_string_append_len (output, buffer, size);
    }
}

/* On a terminal the passphrase is asked for twice and never shown. */
static void
test_cli_terminal_prompt (Fixture *fixture, gconstpointer data)
{
  g_autofree char *backup = g_build_filename (fixture->top, "typed.backup", NULL);
  g_autofree char *fingerprint = cli_fingerprint (fixture->profile);
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) cli = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) output = g_string_new (NULL);
  g_autoptr (PhIdentityBackup) opened = NULL;
  const char *typed = "words only I know\n";
  int master;
  int slave;

  g_assert_cmpint (openpty (&master, &slave, NULL, NULL, NULL), ==, 0);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_setenv (launcher, "PINHOLE_TEST_CHEAP_BACKUP", "1", TRUE);
  g_subprocess_launcher_take_stdin_fd (launcher, dup (slave));
  g_subprocess_launcher_take_stdout_fd (launcher, dup (slave));
  g_subprocess_launcher_take_stderr_fd (launcher, slave);
  cli = g_subprocess_launcher_spawn (launcher, &error, g_getenv ("PINHOLE_CLI_BIN"),
                                     "export-identity", backup, "--data-dir", fixture->profile,
                                     NULL);
  g_assert_no_error (error);
  g_clear_object (&launcher);

  read_terminal_until (master, output, "Passphrase of the backup: ", EXIT_TIMEOUT_MS);
  g_assert_cmpint (write (master, typed, strlen (typed)), ==, strlen (typed));
  read_terminal_until (master, output, "The same passphrase again: ", EXIT_TIMEOUT_MS);
  g_assert_cmpint (write (master, typed, strlen (typed)), ==, strlen (typed));
  read_terminal_until (master, output, "Exported the identity", EXIT_TIMEOUT_MS);
  read_terminal_until (master, output, "\n", EXIT_TIMEOUT_MS);

  g_assert_true (g_subprocess_wait_check (cli, NULL, &error));
  g_assert_no_error (error);
  close (master);

  g_assert_null (strstr (output->str, "words only I know"));
  g_assert_nonnull (strstr (output->str, fingerprint));
  opened = ph_identity_backup_read_file (backup, "words only I know", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ph_identity_get_fingerprint (ph_identity_backup_get_identity (opened)), ==,
                   fingerprint);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func)                                                                            \
  g_test_add ("/identity/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("first-start-creates-then-loads", test_first_start_creates_then_loads);
  ADD ("profiles-differ", test_profiles_differ);
  ADD ("file-modes", test_file_modes);
  ADD ("readable-key-refused", test_readable_key_refused);
  ADD ("open-folder-refused", test_open_folder_refused);
  ADD ("damaged-key-refused", test_damaged_key_refused);
  ADD ("save-keeps-an-existing-identity", test_save_keeps_an_existing_identity);
  ADD ("concurrent-first-starts-agree", test_concurrent_first_starts_agree);
  ADD ("backup/round-trip", test_backup_round_trip);
  ADD ("backup/wrong-passphrase", test_backup_wrong_passphrase);
  ADD ("backup/truncated", test_backup_truncated);
  ADD ("backup/bit-flips", test_backup_bit_flips);
  ADD ("backup/deliberate-changes", test_backup_deliberate_changes);
  ADD ("backup/weak-passphrase", test_backup_weak_passphrase);
  ADD ("cli/identity", test_cli_identity);
  ADD ("cli/identity-text", test_cli_identity_text);
  ADD ("cli/default-profile", test_cli_default_profile);
  ADD ("cli/export-import", test_cli_export_import);
  ADD ("cli/import-errors", test_cli_import_errors);
  ADD ("cli/readable-key-refused", test_cli_readable_key_refused);
  ADD ("cli/usage-errors", test_cli_usage_errors);
  ADD ("cli/terminal-prompt", test_cli_terminal_prompt);
#undef ADD
  g_test_add_func ("/identity/fingerprint-known-answers", test_fingerprint_known_answers);
  g_test_add_func ("/identity/signal-keys", test_signal_keys);
  g_test_add_func ("/identity/sign-and-verify", test_sign_and_verify);
  g_test_add_func ("/identity/default-profile-dir", test_default_profile_dir);
  g_test_add_func ("/identity/backup/carries-contacts", test_backup_carries_contacts);
  g_test_add_func ("/identity/backup/passphrase-normalized", test_backup_passphrase_normalized);
  g_test_add_func ("/identity/backup/default-cost", test_backup_default_cost);
  g_test_add_func ("/identity/backup/payload-checks", test_backup_payload_checks);

  return g_test_run ();
}
