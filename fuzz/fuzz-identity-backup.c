/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-fuzz-identity-backup"

#include "config.h"

#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "ph-identity-backup-private.h"
#include "ph-identity.h"

#define PASSPHRASE "fuzzing passphrase"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
assert_refusal (const GError *error)
{
  g_assert_nonnull (error);
  g_assert_true (error->domain == PH_IDENTITY_ERROR);
  g_assert_true (error->code == PH_IDENTITY_ERROR_NOT_A_BACKUP
                 || error->code == PH_IDENTITY_ERROR_TRUNCATED
                 || error->code == PH_IDENTITY_ERROR_UNSUPPORTED_VERSION
                 || error->code == PH_IDENTITY_ERROR_DAMAGED);
}

/* A file someone hands over to import: its header is read before any key
 * derivation, so all of this is reachable without the passphrase. */
static void
fuzz_header (const uint8_t *data, size_t size, gboolean fix_checksum)
{
  g_autofree guint8 *copy = g_memdup2 (data, size);
  g_autoptr (GError) error = NULL;
  PhIdentityBackupHeader header;

  /* The checksum would hide everything behind it from the fuzzer; whoever
   * makes a hostile file makes it right, so some inputs get it made right. */
  if (fix_checksum && size >= PH_IDENTITY_BACKUP_HEADER_SIZE)
    crypto_generichash (copy + PH_IDENTITY_BACKUP_CHECKSUM_OFFSET, PH_IDENTITY_BACKUP_CHECKSUM_SIZE,
                        copy, PH_IDENTITY_BACKUP_CHECKSUM_OFFSET, NULL, 0);

  if (!ph_identity_backup_parse_header (copy, size, &header, &error))
    {
      assert_refusal (error);
      return;
    }
  g_assert_no_error (error);
  g_assert_cmpuint (header.version, ==, PH_IDENTITY_BACKUP_VERSION);
  g_assert_cmpuint (header.opslimit, >=, 1);
  g_assert_cmpuint (header.opslimit, <=, PH_IDENTITY_BACKUP_MAX_OPSLIMIT);
  g_assert_cmpuint (header.memlimit_kib, <=, PH_IDENTITY_BACKUP_MAX_MEMLIMIT_KIB);
  g_assert_cmpuint (header.ciphertext_size, >=, PH_IDENTITY_BACKUP_TAG_SIZE);
  g_assert_true (header.ciphertext == copy + PH_IDENTITY_BACKUP_HEADER_SIZE);
  g_assert_cmpuint (PH_IDENTITY_BACKUP_HEADER_SIZE + header.ciphertext_size, ==, size);

  /* Cheap enough to derive the key each time: the passphrase check, then
   * (never, without the passphrase) the decryption. */
  if (header.opslimit <= 2 && header.memlimit_kib <= 64)
    {
      g_autoptr (GBytes) sealed = g_bytes_new (copy, size);
      g_autoptr (PhIdentityBackup) opened = ph_identity_backup_open (sealed, PASSPHRASE, &error);

      g_assert_null (opened);
      g_assert_true (
          g_error_matches (error, PH_IDENTITY_ERROR, PH_IDENTITY_ERROR_WRONG_PASSPHRASE));
    }
}

/* What a writer other than Pinhole could put behind a valid tag. What
 * parses survives a seal and an open unchanged. */
static void
fuzz_payload (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PhIdentityBackup) backup = ph_identity_backup_parse_payload (data, size, &error);
  g_autoptr (PhIdentityBackup) opened = NULL;
  g_autoptr (GBytes) sealed = NULL;
  GPtrArray *contacts;
  GPtrArray *opened_contacts;

  if (backup == NULL)
    {
      assert_refusal (error);
      g_assert_true (error->code == PH_IDENTITY_ERROR_DAMAGED
                     || error->code == PH_IDENTITY_ERROR_UNSUPPORTED_VERSION);
      return;
    }

  ph_identity_backup_set_cost (backup, crypto_pwhash_argon2id_OPSLIMIT_MIN,
                               crypto_pwhash_argon2id_MEMLIMIT_MIN / 1024);
  sealed = ph_identity_backup_seal (backup, PASSPHRASE, &error);
  g_assert_no_error (error);
  opened = ph_identity_backup_open (sealed, PASSPHRASE, &error);
  g_assert_no_error (error);

  g_assert_cmpstr (ph_identity_get_fingerprint (ph_identity_backup_get_identity (opened)), ==,
                   ph_identity_get_fingerprint (ph_identity_backup_get_identity (backup)));
  contacts = ph_identity_backup_get_contacts (backup);
  opened_contacts = ph_identity_backup_get_contacts (opened);
  g_assert_cmpuint (opened_contacts->len, ==, contacts->len);
  for (guint i = 0; i < contacts->len; i++)
    g_assert_true (
        g_bytes_equal (g_ptr_array_index (contacts, i), g_ptr_array_index (opened_contacts, i)));
}

/* The first byte picks the parser: bit 0 the payload (1) or the header
 * (0), bit 1 for the header whether its checksum is made right. */
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;
  if (sodium_init () < 0)
    g_error ("libsodium could not be initialised");

  if (data[0] & 1)
    fuzz_payload (data + 1, size - 1);
  else
    fuzz_header (data + 1, size - 1, (data[0] & 2) != 0);
  return 0;
}
