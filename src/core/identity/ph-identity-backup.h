/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ph-identity.h"

G_BEGIN_DECLS

/* An encrypted backup of a profile: its identity and its contacts in one
 * file protected by a passphrase, to carry to another machine.
 *
 * The file, numbers big-endian:
 *
 *   offset  size
 *        0     8  magic "PHBACKUP"
 *        8     2  format version, 1
 *       10     4  Argon2id passes (opslimit)
 *       14     4  Argon2id memory in KiB (memlimit)
 *       18    16  salt
 *       34    24  nonce
 *       58     4  size of the ciphertext
 *       62    16  passphrase check
 *       78    16  header checksum: BLAKE2b-128 of bytes 0-77
 *       94     …  ciphertext: XChaCha20-Poly1305 of the payload, bytes 0-93
 *                 as associated data
 *
 * Argon2id (crypto_pwhash) turns the passphrase (in Unicode NFC, so the
 * same words typed elsewhere give the same bytes) and the salt into a
 * key; crypto_kdf derives from it the cipher's key and the passphrase
 * check, which tells a wrong passphrase from a changed file. The checksum
 * finds accidental damage to the header before the slow derivation; the
 * cipher's tag covers every byte, so a deliberate change fails there.
 * Reading refuses costs above 16 passes or 1 GiB, so a file cannot make
 * Pinhole exhaust the machine.
 *
 * The payload is a list of sections, each a type (1 byte), a size (4)
 * and that many bytes:
 *
 *   1  identity: the Ed25519 seed (32) and public key (32); exactly once
 *   2  contacts: a count (4), then each contact as a size (4) and its
 *      record, whose form the contacts code defines; at most once
 *
 * A section of a type this version does not know is refused, not
 * skipped, so importing never silently loses what a newer Pinhole saved. */

#define PH_IDENTITY_BACKUP_MAX_PAYLOAD (16 * 1024 * 1024)
#define PH_IDENTITY_BACKUP_MAX_CONTACTS 100000
#define PH_IDENTITY_BACKUP_MIN_PASSPHRASE 8

#define PH_TYPE_IDENTITY_BACKUP (ph_identity_backup_get_type ())
G_DECLARE_FINAL_TYPE (PhIdentityBackup, ph_identity_backup, PH, IDENTITY_BACKUP, GObject)

PhIdentityBackup *ph_identity_backup_new (PhIdentity *identity);
PhIdentity *ph_identity_backup_get_identity (PhIdentityBackup *self);
/* Contacts, as records the contacts code makes and reads (GBytes). */
void ph_identity_backup_add_contact (PhIdentityBackup *self, GBytes *record);
GPtrArray *ph_identity_backup_get_contacts (PhIdentityBackup *self);
/* What a guess at the passphrase costs. The default is libsodium's
 * "moderate": 3 passes over 256 MiB, about a second, for a file that may
 * be kept where others can read it. */
void ph_identity_backup_set_cost (PhIdentityBackup *self, guint32 opslimit, guint32 memlimit_kib);

/* The backup as the bytes of a file, and back. Opening fails with
 * PH_IDENTITY_ERROR_NOT_A_BACKUP, _TRUNCATED, _UNSUPPORTED_VERSION,
 * _DAMAGED or _WRONG_PASSPHRASE; sealing with _WEAK_PASSPHRASE below
 * PH_IDENTITY_BACKUP_MIN_PASSPHRASE characters. */
GBytes *ph_identity_backup_seal (PhIdentityBackup *self, const char *passphrase, GError **error);
PhIdentityBackup *ph_identity_backup_open (GBytes *sealed, const char *passphrase, GError **error);

/* The same with a file: written to a temporary name, mode 0600, and
 * renamed over @path; read without writing anything. Messages start with
 * the file's name. Both block for the key derivation (about a second). */
gboolean ph_identity_backup_write_file (PhIdentityBackup *self, const char *path,
                                        const char *passphrase, GError **error);
PhIdentityBackup *ph_identity_backup_read_file (const char *path, const char *passphrase,
                                                GError **error);

G_END_DECLS
