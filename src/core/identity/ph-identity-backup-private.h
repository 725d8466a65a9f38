/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "ph-identity-backup.h"

G_BEGIN_DECLS

/* The layers under ph_identity_backup_open(), for tests and the fuzz
 * target: the header as read before any key derivation, and the payload
 * as read after decryption. */

#define PH_IDENTITY_BACKUP_VERSION 1
#define PH_IDENTITY_BACKUP_CHECKSUM_OFFSET 78
#define PH_IDENTITY_BACKUP_CHECKSUM_SIZE 16
#define PH_IDENTITY_BACKUP_HEADER_SIZE 94
#define PH_IDENTITY_BACKUP_TAG_SIZE 16
#define PH_IDENTITY_BACKUP_MAX_OPSLIMIT 16
#define PH_IDENTITY_BACKUP_MAX_MEMLIMIT_KIB (1024 * 1024)

/* Pointers are into the parsed bytes. */
typedef struct
{
  guint16 version;
  guint32 opslimit;
  guint32 memlimit_kib;
  const guint8 *salt;
  const guint8 *nonce;
  const guint8 *check;
  const guint8 *ciphertext;
  gsize ciphertext_size;
} PhIdentityBackupHeader;

gboolean ph_identity_backup_parse_header (const guint8 *data, gsize size,
                                          PhIdentityBackupHeader *out_header, GError **error);
PhIdentityBackup *ph_identity_backup_parse_payload (const guint8 *data, gsize size, GError **error);

G_END_DECLS
