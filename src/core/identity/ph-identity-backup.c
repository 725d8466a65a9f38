/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-identity-backup"

#include "config.h"

#include <string.h>
#include <sys/stat.h>

#include <glib/gi18n-lib.h>
#include <sodium.h>

#include "ph-identity-backup-private.h"
#include "ph-identity-private.h"
#include "ph-test-hooks.h"

#define MAGIC "PHBACKUP"
#define MAGIC_SIZE 8
#define VERSION_OFFSET 8
#define OPSLIMIT_OFFSET 10
#define MEMLIMIT_OFFSET 14
#define SALT_OFFSET 18
#define SALT_SIZE crypto_pwhash_argon2id_SALTBYTES
#define NONCE_OFFSET 34
#define NONCE_SIZE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define LENGTH_OFFSET 58
#define CHECK_OFFSET 62
#define CHECK_SIZE 16
#define KEY_SIZE crypto_aead_xchacha20poly1305_ietf_KEYBYTES
/* crypto_kdf's context: exactly eight characters. */
#define KDF_CONTEXT "PHBACKUP"
#define KDF_CIPHER_KEY_ID 1
#define KDF_CHECK_ID 2

#define SECTION_HEADER_SIZE 5
#define SECTION_IDENTITY 1
#define SECTION_CONTACTS 2
#define IDENTITY_SECTION_SIZE (PH_IDENTITY_SEED_SIZE + PH_IDENTITY_PUBLIC_KEY_SIZE)

G_STATIC_ASSERT (sizeof MAGIC - 1 == MAGIC_SIZE);
G_STATIC_ASSERT (sizeof KDF_CONTEXT - 1 == crypto_kdf_CONTEXTBYTES);
G_STATIC_ASSERT (SALT_OFFSET + SALT_SIZE == NONCE_OFFSET);
G_STATIC_ASSERT (NONCE_OFFSET + NONCE_SIZE == LENGTH_OFFSET);
G_STATIC_ASSERT (CHECK_OFFSET + CHECK_SIZE == PH_IDENTITY_BACKUP_CHECKSUM_OFFSET);
G_STATIC_ASSERT (PH_IDENTITY_BACKUP_CHECKSUM_OFFSET + PH_IDENTITY_BACKUP_CHECKSUM_SIZE
                 == PH_IDENTITY_BACKUP_HEADER_SIZE);
G_STATIC_ASSERT (PH_IDENTITY_BACKUP_TAG_SIZE == crypto_aead_xchacha20poly1305_ietf_ABYTES);
G_STATIC_ASSERT (KEY_SIZE == crypto_kdf_KEYBYTES);

struct _PhIdentityBackup
{
  GObject parent_instance;

  PhIdentity *identity;
  GPtrArray *contacts; /* GBytes */
  guint32 opslimit;
  guint32 memlimit_kib;
};

G_DEFINE_FINAL_TYPE (PhIdentityBackup, ph_identity_backup, G_TYPE_OBJECT)

static void
ph_identity_backup_finalize (GObject *object)
{
  PhIdentityBackup *self = (PhIdentityBackup *)object;

  g_clear_object (&self->identity);
  g_clear_pointer (&self->contacts, g_ptr_array_unref);

  G_OBJECT_CLASS (ph_identity_backup_parent_class)->finalize (object);
}

static void
ph_identity_backup_class_init (PhIdentityBackupClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ph_identity_backup_finalize;

  if (sodium_init () < 0)
    g_error ("libsodium could not be initialised");
}

static void
ph_identity_backup_init (PhIdentityBackup *self)
{
  self->contacts = g_ptr_array_new_with_free_func ((GDestroyNotify)g_bytes_unref);
  /* Tests that export through pinhole-cli make a backup in microseconds. */
  if (ph_test_hook_is_set ("PINHOLE_TEST_CHEAP_BACKUP"))
    {
      self->opslimit = crypto_pwhash_argon2id_OPSLIMIT_MIN;
      self->memlimit_kib = crypto_pwhash_argon2id_MEMLIMIT_MIN / 1024;
    }
  else
    {
      self->opslimit = crypto_pwhash_argon2id_OPSLIMIT_MODERATE;
      self->memlimit_kib = crypto_pwhash_argon2id_MEMLIMIT_MODERATE / 1024;
    }
}

/* Contact records hold secrets too: wiped when the last reference goes. */
typedef struct
{
  gsize size;
  guint8 data[];
} WipedBuffer;

static void
wiped_buffer_free (gpointer data)
{
  WipedBuffer *buffer = data;

  sodium_memzero (buffer->data, buffer->size);
  g_free (buffer);
}

static GBytes *
new_wiped_bytes (const guint8 *data, gsize size)
{
  WipedBuffer *buffer = g_malloc (sizeof *buffer + size);

  buffer->size = size;
  if (size > 0)
    memcpy (buffer->data, data, size);
  return g_bytes_new_with_free_func (buffer->data, size, wiped_buffer_free, buffer);
}

PhIdentityBackup *
ph_identity_backup_new (PhIdentity *identity)
{
  PhIdentityBackup *self;

  g_return_val_if_fail (PH_IS_IDENTITY (identity), NULL);

  self = g_object_new (PH_TYPE_IDENTITY_BACKUP, NULL);
  self->identity = g_object_ref (identity);
  return self;
}

PhIdentity *
ph_identity_backup_get_identity (PhIdentityBackup *self)
{
  g_return_val_if_fail (PH_IS_IDENTITY_BACKUP (self), NULL);

  return self->identity;
}

void
ph_identity_backup_add_contact (PhIdentityBackup *self, GBytes *record)
{
  g_return_if_fail (PH_IS_IDENTITY_BACKUP (self));
  g_return_if_fail (record != NULL);

  g_ptr_array_add (self->contacts, g_bytes_ref (record));
}

GPtrArray *
ph_identity_backup_get_contacts (PhIdentityBackup *self)
{
  g_return_val_if_fail (PH_IS_IDENTITY_BACKUP (self), NULL);

  return self->contacts;
}

static gboolean
cost_is_acceptable (guint32 opslimit, guint32 memlimit_kib)
{
  return opslimit >= crypto_pwhash_argon2id_OPSLIMIT_MIN
         && opslimit <= PH_IDENTITY_BACKUP_MAX_OPSLIMIT
         && memlimit_kib >= crypto_pwhash_argon2id_MEMLIMIT_MIN / 1024
         && memlimit_kib <= PH_IDENTITY_BACKUP_MAX_MEMLIMIT_KIB;
}

void
ph_identity_backup_set_cost (PhIdentityBackup *self, guint32 opslimit, guint32 memlimit_kib)
{
  g_return_if_fail (PH_IS_IDENTITY_BACKUP (self));
  g_return_if_fail (cost_is_acceptable (opslimit, memlimit_kib));

  self->opslimit = opslimit;
  self->memlimit_kib = memlimit_kib;
}

static void
put_be16 (guint8 *out, guint16 value)
{
  out[0] = value >> 8;
  out[1] = value & 0xff;
}

static void
put_be32 (guint8 *out, guint32 value)
{
  out[0] = value >> 24;
  out[1] = (value >> 16) & 0xff;
  out[2] = (value >> 8) & 0xff;
  out[3] = value & 0xff;
}

static guint16
get_be16 (const guint8 *in)
{
  return (guint16)(in[0] << 8 | in[1]);
}

static guint32
get_be32 (const guint8 *in)
{
  return (guint32)in[0] << 24 | (guint32)in[1] << 16 | (guint32)in[2] << 8 | in[3];
}

/* The passphrase as the bytes Argon2id hashes: Unicode NFC when it is
 * UTF-8, so "é" typed as one code point or as "e" and an accent is the
 * same passphrase; other bytes as they are. Wipe and free the result. */
static char *
normalize_passphrase (const char *passphrase, gsize *out_length)
{
  char *normalized = NULL;

  if (g_utf8_validate (passphrase, -1, NULL))
    normalized = g_utf8_normalize (passphrase, -1, G_NORMALIZE_NFC);
  if (normalized == NULL)
    normalized = g_strdup (passphrase);
  *out_length = strlen (normalized);
  return normalized;
}

static void
free_secret_string (char *secret, gsize length)
{
  sodium_memzero (secret, length);
  g_free (secret);
}

static gboolean
derive_keys (const char *passphrase, const guint8 *salt, guint32 opslimit, guint32 memlimit_kib,
             guint8 cipher_key[KEY_SIZE], guint8 check[CHECK_SIZE], GError **error)
{
  guint8 master[KEY_SIZE];
  gsize length;
  char *normalized = normalize_passphrase (passphrase, &length);
  int ret;

  ret = crypto_pwhash (master, sizeof master, normalized, length, salt, opslimit,
                       (gsize)memlimit_kib * 1024, crypto_pwhash_ALG_ARGON2ID13);
  free_secret_string (normalized, length);
  if (ret != 0)
    {
      /* Translators: %u is a number of mebibytes. */
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _ ("There is not enough free memory for the backup’s key (%u MiB)."),
                   memlimit_kib / 1024);
      return FALSE;
    }

  crypto_kdf_derive_from_key (cipher_key, KEY_SIZE, KDF_CIPHER_KEY_ID, KDF_CONTEXT, master);
  crypto_kdf_derive_from_key (check, CHECK_SIZE, KDF_CHECK_ID, KDF_CONTEXT, master);
  sodium_memzero (master, sizeof master);
  return TRUE;
}

static void
compute_checksum (const guint8 *header, guint8 out[PH_IDENTITY_BACKUP_CHECKSUM_SIZE])
{
  crypto_generichash (out, PH_IDENTITY_BACKUP_CHECKSUM_SIZE, header,
                      PH_IDENTITY_BACKUP_CHECKSUM_OFFSET, NULL, 0);
}

static gsize
contacts_section_size (PhIdentityBackup *self)
{
  gsize size = 4;

  for (guint i = 0; i < self->contacts->len; i++)
    size += 4 + g_bytes_get_size (g_ptr_array_index (self->contacts, i));
  return size;
}

/* Wipe and free the result: it holds the seed. */
static guint8 *
build_payload (PhIdentityBackup *self, gsize *out_size)
{
  gsize contacts_size = contacts_section_size (self);
  gsize size = SECTION_HEADER_SIZE + IDENTITY_SECTION_SIZE + SECTION_HEADER_SIZE + contacts_size;
  guint8 *payload = g_malloc (size);
  guint8 *out = payload;

  out[0] = SECTION_IDENTITY;
  put_be32 (out + 1, IDENTITY_SECTION_SIZE);
  out += SECTION_HEADER_SIZE;
  ph_identity_copy_seed (self->identity, out);
  memcpy (out + PH_IDENTITY_SEED_SIZE,
          g_bytes_get_data (ph_identity_get_public_key (self->identity), NULL),
          PH_IDENTITY_PUBLIC_KEY_SIZE);
  out += IDENTITY_SECTION_SIZE;

  out[0] = SECTION_CONTACTS;
  put_be32 (out + 1, contacts_size);
  out += SECTION_HEADER_SIZE;
  put_be32 (out, self->contacts->len);
  out += 4;
  for (guint i = 0; i < self->contacts->len; i++)
    {
      gsize record_size;
      const guint8 *record = g_bytes_get_data (g_ptr_array_index (self->contacts, i), &record_size);

      put_be32 (out, record_size);
      if (record_size > 0)
        memcpy (out + 4, record, record_size);
      out += 4 + record_size;
    }
  g_assert (out == payload + size);

  *out_size = size;
  return payload;
}

GBytes *
ph_identity_backup_seal (PhIdentityBackup *self, const char *passphrase, GError **error)
{
  guint8 cipher_key[KEY_SIZE];
  guint8 *payload;
  guint8 *sealed;
  gsize payload_size;
  gsize passphrase_length;
  char *normalized;
  gboolean derived;

  g_return_val_if_fail (PH_IS_IDENTITY_BACKUP (self), NULL);
  g_return_val_if_fail (passphrase != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  normalized = normalize_passphrase (passphrase, &passphrase_length);
  if ((g_utf8_validate (normalized, -1, NULL) ? (gsize)g_utf8_strlen (normalized, -1)
                                              : passphrase_length)
      < PH_IDENTITY_BACKUP_MIN_PASSPHRASE)
    {
      free_secret_string (normalized, passphrase_length);
      /* Translators: %d is a number of characters, at least 8. */
      g_set_error (error, PH_IDENTITY_ERROR, PH_IDENTITY_ERROR_WEAK_PASSPHRASE,
                   _ ("A backup’s passphrase needs at least %d characters; a few words that "
                      "belong together only for you are best."),
                   PH_IDENTITY_BACKUP_MIN_PASSPHRASE);
      return NULL;
    }
  free_secret_string (normalized, passphrase_length);

  if (contacts_section_size (self) > PH_IDENTITY_BACKUP_MAX_PAYLOAD / 2
      || self->contacts->len > PH_IDENTITY_BACKUP_MAX_CONTACTS)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                   _ ("The contacts are too many or too large for one backup."));
      return NULL;
    }

  payload = build_payload (self, &payload_size);
  sealed = g_malloc (PH_IDENTITY_BACKUP_HEADER_SIZE + payload_size + PH_IDENTITY_BACKUP_TAG_SIZE);

  memcpy (sealed, MAGIC, MAGIC_SIZE);
  put_be16 (sealed + VERSION_OFFSET, PH_IDENTITY_BACKUP_VERSION);
  put_be32 (sealed + OPSLIMIT_OFFSET, self->opslimit);
  put_be32 (sealed + MEMLIMIT_OFFSET, self->memlimit_kib);
  randombytes_buf (sealed + SALT_OFFSET, SALT_SIZE);
  randombytes_buf (sealed + NONCE_OFFSET, NONCE_SIZE);
  put_be32 (sealed + LENGTH_OFFSET, payload_size + PH_IDENTITY_BACKUP_TAG_SIZE);

  derived = derive_keys (passphrase, sealed + SALT_OFFSET, self->opslimit, self->memlimit_kib,
                         cipher_key, sealed + CHECK_OFFSET, error);
  if (derived)
    {
      compute_checksum (sealed, sealed + PH_IDENTITY_BACKUP_CHECKSUM_OFFSET);
      crypto_aead_xchacha20poly1305_ietf_encrypt (
          sealed + PH_IDENTITY_BACKUP_HEADER_SIZE, NULL, payload, payload_size, sealed,
          PH_IDENTITY_BACKUP_HEADER_SIZE, NULL, sealed + NONCE_OFFSET, cipher_key);
    }
  sodium_memzero (cipher_key, sizeof cipher_key);
  sodium_memzero (payload, payload_size);
  g_free (payload);

  if (!derived)
    {
      g_free (sealed);
      return NULL;
    }
  return g_bytes_new_take (sealed, PH_IDENTITY_BACKUP_HEADER_SIZE + payload_size
                                       + PH_IDENTITY_BACKUP_TAG_SIZE);
}

static gboolean
fail (GError **error, int code, const char *message)
{
  g_set_error_literal (error, PH_IDENTITY_ERROR, code, message);
  return FALSE;
}

gboolean
ph_identity_backup_parse_header (const guint8 *data, gsize size, PhIdentityBackupHeader *out_header,
                                 GError **error)
{
  PhIdentityBackupHeader header = { 0 };
  guint8 checksum[PH_IDENTITY_BACKUP_CHECKSUM_SIZE];
  gsize rest;

  g_return_val_if_fail (data != NULL || size == 0, FALSE);
  g_return_val_if_fail (out_header != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (size == 0 || memcmp (data, MAGIC, MIN (size, MAGIC_SIZE)) != 0)
    return fail (error, PH_IDENTITY_ERROR_NOT_A_BACKUP,
                 _ ("This is not a Pinhole backup: it does not start as one."));
  if (size < VERSION_OFFSET + 2)
    return fail (error, PH_IDENTITY_ERROR_TRUNCATED,
                 _ ("This backup is cut short: only its first bytes are there."));

  /* The version comes first: it says how the rest is laid out. */
  header.version = get_be16 (data + VERSION_OFFSET);
  if (header.version > PH_IDENTITY_BACKUP_VERSION)
    {
      /* Translators: %u is the number of the backup's format. */
      g_set_error (error, PH_IDENTITY_ERROR, PH_IDENTITY_ERROR_UNSUPPORTED_VERSION,
                   _ ("This backup was made by a newer version of Pinhole (format %u); update "
                      "Pinhole to import it."),
                   header.version);
      return FALSE;
    }
  if (header.version == 0)
    return fail (error, PH_IDENTITY_ERROR_DAMAGED,
                 _ ("This backup is damaged: its header was changed."));
  if (size < PH_IDENTITY_BACKUP_HEADER_SIZE)
    return fail (error, PH_IDENTITY_ERROR_TRUNCATED,
                 _ ("This backup is cut short: only its first bytes are there."));

  compute_checksum (data, checksum);
  if (memcmp (checksum, data + PH_IDENTITY_BACKUP_CHECKSUM_OFFSET, sizeof checksum) != 0)
    return fail (error, PH_IDENTITY_ERROR_DAMAGED,
                 _ ("This backup is damaged: its header was changed."));

  /* Past the checksum, odd values are deliberate: a file made to tie the
   * machine up, or one no Pinhole wrote. */
  header.opslimit = get_be32 (data + OPSLIMIT_OFFSET);
  header.memlimit_kib = get_be32 (data + MEMLIMIT_OFFSET);
  header.ciphertext_size = get_be32 (data + LENGTH_OFFSET);
  if (!cost_is_acceptable (header.opslimit, header.memlimit_kib)
      || header.ciphertext_size < PH_IDENTITY_BACKUP_TAG_SIZE
      || header.ciphertext_size > PH_IDENTITY_BACKUP_MAX_PAYLOAD + PH_IDENTITY_BACKUP_TAG_SIZE)
    return fail (error, PH_IDENTITY_ERROR_DAMAGED,
                 _ ("This backup is damaged: its header holds values Pinhole never writes."));

  rest = size - PH_IDENTITY_BACKUP_HEADER_SIZE;
  if (rest < header.ciphertext_size)
    return fail (error, PH_IDENTITY_ERROR_TRUNCATED,
                 _ ("This backup is cut short: its end is missing."));
  if (rest > header.ciphertext_size)
    return fail (error, PH_IDENTITY_ERROR_DAMAGED,
                 _ ("This backup is damaged: there are bytes after its end."));

  header.salt = data + SALT_OFFSET;
  header.nonce = data + NONCE_OFFSET;
  header.check = data + CHECK_OFFSET;
  header.ciphertext = data + PH_IDENTITY_BACKUP_HEADER_SIZE;
  *out_header = header;
  return TRUE;
}

static gboolean
parse_identity_section (const guint8 *body, gsize size, PhIdentity **out_identity, GError **error)
{
  g_autoptr (PhIdentity) identity = NULL;

  if (*out_identity != NULL || size != IDENTITY_SECTION_SIZE)
    return fail (error, PH_IDENTITY_ERROR_DAMAGED,
                 _ ("This backup is damaged: its identity is not well formed."));
  identity = ph_identity_new_from_seed (body);
  if (sodium_memcmp (g_bytes_get_data (ph_identity_get_public_key (identity), NULL),
                     body + PH_IDENTITY_SEED_SIZE, PH_IDENTITY_PUBLIC_KEY_SIZE)
      != 0)
    return fail (error, PH_IDENTITY_ERROR_DAMAGED,
                 _ ("This backup is damaged: its identity is not well formed."));
  *out_identity = g_steal_pointer (&identity);
  return TRUE;
}

static gboolean
parse_contacts_section (const guint8 *body, gsize size, GPtrArray *contacts, GError **error)
{
  guint32 count;
  gsize offset = 4;

  if (size < 4)
    return fail (error, PH_IDENTITY_ERROR_DAMAGED,
                 _ ("This backup is damaged: its list of contacts is not well formed."));
  count = get_be32 (body);
  if (count > PH_IDENTITY_BACKUP_MAX_CONTACTS)
    return fail (error, PH_IDENTITY_ERROR_DAMAGED,
                 _ ("This backup is damaged: its list of contacts is not well formed."));

  for (guint32 i = 0; i < count; i++)
    {
      guint32 record_size;

      if (size - offset < 4)
        return fail (error, PH_IDENTITY_ERROR_DAMAGED,
                     _ ("This backup is damaged: its list of contacts is not well formed."));
      record_size = get_be32 (body + offset);
      offset += 4;
      if (size - offset < record_size)
        return fail (error, PH_IDENTITY_ERROR_DAMAGED,
                     _ ("This backup is damaged: its list of contacts is not well formed."));
      g_ptr_array_add (contacts, new_wiped_bytes (body + offset, record_size));
      offset += record_size;
    }
  if (offset != size)
    return fail (error, PH_IDENTITY_ERROR_DAMAGED,
                 _ ("This backup is damaged: its list of contacts is not well formed."));
  return TRUE;
}

PhIdentityBackup *
ph_identity_backup_parse_payload (const guint8 *data, gsize size, GError **error)
{
  g_autoptr (PhIdentity) identity = NULL;
  g_autoptr (GPtrArray) contacts = NULL;
  PhIdentityBackup *backup;
  gsize offset = 0;

  g_return_val_if_fail (data != NULL || size == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  while (offset < size)
    {
      const guint8 *body;
      guint8 type;
      guint32 section_size;

      if (size - offset < SECTION_HEADER_SIZE)
        {
          fail (error, PH_IDENTITY_ERROR_DAMAGED,
                _ ("This backup is damaged: its contents are not well formed."));
          return NULL;
        }
      type = data[offset];
      section_size = get_be32 (data + offset + 1);
      offset += SECTION_HEADER_SIZE;
      if (size - offset < section_size)
        {
          fail (error, PH_IDENTITY_ERROR_DAMAGED,
                _ ("This backup is damaged: its contents are not well formed."));
          return NULL;
        }
      body = data + offset;
      offset += section_size;

      switch (type)
        {
        case SECTION_IDENTITY:
          if (!parse_identity_section (body, section_size, &identity, error))
            return NULL;
          break;

        case SECTION_CONTACTS:
          if (contacts != NULL)
            {
              fail (error, PH_IDENTITY_ERROR_DAMAGED,
                    _ ("This backup is damaged: its list of contacts is not well formed."));
              return NULL;
            }
          contacts = g_ptr_array_new_with_free_func ((GDestroyNotify)g_bytes_unref);
          if (!parse_contacts_section (body, section_size, contacts, error))
            return NULL;
          break;

        default:
          /* Translators: %u is a number that names a kind of data. */
          g_set_error (error, PH_IDENTITY_ERROR, PH_IDENTITY_ERROR_UNSUPPORTED_VERSION,
                       _ ("This backup holds data this version of Pinhole does not know "
                          "(section %u); update Pinhole to import it."),
                       type);
          return NULL;
        }
    }

  if (identity == NULL)
    {
      fail (error, PH_IDENTITY_ERROR_DAMAGED, _ ("This backup is damaged: it has no identity."));
      return NULL;
    }

  backup = ph_identity_backup_new (identity);
  if (contacts != NULL)
    g_ptr_array_extend_and_steal (backup->contacts, g_steal_pointer (&contacts));
  return backup;
}

PhIdentityBackup *
ph_identity_backup_open (GBytes *sealed, const char *passphrase, GError **error)
{
  PhIdentityBackupHeader header;
  guint8 cipher_key[KEY_SIZE];
  guint8 check[CHECK_SIZE];
  PhIdentityBackup *backup = NULL;
  gsize size;
  const guint8 *data;
  guint8 *payload;
  gsize payload_size;
  int ret;

  g_return_val_if_fail (sealed != NULL, NULL);
  g_return_val_if_fail (passphrase != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  data = g_bytes_get_data (sealed, &size);
  if (!ph_identity_backup_parse_header (data, size, &header, error))
    return NULL;
  if (!derive_keys (passphrase, header.salt, header.opslimit, header.memlimit_kib, cipher_key,
                    check, error))
    return NULL;

  if (sodium_memcmp (check, header.check, CHECK_SIZE) != 0)
    {
      sodium_memzero (cipher_key, sizeof cipher_key);
      fail (error, PH_IDENTITY_ERROR_WRONG_PASSPHRASE,
            _ ("The passphrase is not the one this backup was made with."));
      return NULL;
    }

  payload_size = header.ciphertext_size - PH_IDENTITY_BACKUP_TAG_SIZE;
  payload = g_malloc (MAX (payload_size, 1));
  ret = crypto_aead_xchacha20poly1305_ietf_decrypt (
      payload, NULL, NULL, header.ciphertext, header.ciphertext_size, data,
      PH_IDENTITY_BACKUP_HEADER_SIZE, header.nonce, cipher_key);
  sodium_memzero (cipher_key, sizeof cipher_key);

  if (ret != 0)
    fail (error, PH_IDENTITY_ERROR_DAMAGED,
          _ ("This backup was changed after it was made: the passphrase is right, but the "
             "contents do not match it."));
  else
    backup = ph_identity_backup_parse_payload (payload, payload_size, error);

  sodium_memzero (payload, payload_size);
  g_free (payload);
  return backup;
}

gboolean
ph_identity_backup_write_file (PhIdentityBackup *self, const char *path, const char *passphrase,
                               GError **error)
{
  g_autoptr (GBytes) sealed = NULL;

  g_return_val_if_fail (PH_IS_IDENTITY_BACKUP (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (passphrase != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  sealed = ph_identity_backup_seal (self, passphrase, error);
  if (sealed == NULL)
    return FALSE;
  /* Encrypted, but still nobody else's business: 0600. */
  if (!g_file_set_contents_full (path, g_bytes_get_data (sealed, NULL), g_bytes_get_size (sealed),
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0600,
                                 error))
    return FALSE;
  return TRUE;
}

PhIdentityBackup *
ph_identity_backup_read_file (const char *path, const char *passphrase, GError **error)
{
  g_autoptr (GBytes) sealed = NULL;
  g_autofree char *contents = NULL;
  PhIdentityBackup *backup;
  struct stat st;
  gsize size;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (passphrase != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* Not read into memory at all when it cannot be a backup. */
  if (stat (path, &st) == 0 && S_ISREG (st.st_mode)
      && st.st_size > PH_IDENTITY_BACKUP_HEADER_SIZE + PH_IDENTITY_BACKUP_MAX_PAYLOAD
                          + PH_IDENTITY_BACKUP_TAG_SIZE)
    {
      /* Translators: %s is a file. */
      g_set_error (error, PH_IDENTITY_ERROR, PH_IDENTITY_ERROR_NOT_A_BACKUP,
                   _ ("%s is too large to be a Pinhole backup."), path);
      return NULL;
    }
  if (!g_file_get_contents (path, &contents, &size, error))
    return NULL;

  sealed = g_bytes_new_take (g_steal_pointer (&contents), size);
  backup = ph_identity_backup_open (sealed, passphrase, error);
  if (backup == NULL)
    g_prefix_error (error, "%s: ", path);
  return backup;
}
