/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-signal-context"

#include "config.h"

#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <sodium.h>

#include "ph-signal-context.h"

#define AES_BLOCK_SIZE 16

struct _PhSignalContext
{
  signal_context *context;
  GRecMutex lock;
};

/* Random bytes, HMAC-SHA256 and SHA-512: libsodium */

static int
random_cb (uint8_t *data, size_t len, void *user_data)
{
  randombytes_buf (data, len);
  return 0;
}

static int
hmac_sha256_init_cb (void **hmac_context, const uint8_t *key, size_t key_len, void *user_data)
{
  crypto_auth_hmacsha256_state *state = g_new (crypto_auth_hmacsha256_state, 1);

  crypto_auth_hmacsha256_init (state, key, key_len);
  *hmac_context = state;
  return 0;
}

static int
hmac_sha256_update_cb (void *hmac_context, const uint8_t *data, size_t data_len, void *user_data)
{
  crypto_auth_hmacsha256_update (hmac_context, data, data_len);
  return 0;
}

static int
hmac_sha256_final_cb (void *hmac_context, signal_buffer **output, void *user_data)
{
  signal_buffer *buffer = signal_buffer_alloc (crypto_auth_hmacsha256_BYTES);

  if (buffer == NULL)
    return SG_ERR_NOMEM;
  crypto_auth_hmacsha256_final (hmac_context, signal_buffer_data (buffer));
  *output = buffer;
  return 0;
}

static void
hmac_sha256_cleanup_cb (void *hmac_context, void *user_data)
{
  if (hmac_context == NULL)
    return;
  sodium_memzero (hmac_context, sizeof (crypto_auth_hmacsha256_state));
  g_free (hmac_context);
}

static int
sha512_init_cb (void **digest_context, void *user_data)
{
  crypto_hash_sha512_state *state = g_new (crypto_hash_sha512_state, 1);

  crypto_hash_sha512_init (state);
  *digest_context = state;
  return 0;
}

static int
sha512_update_cb (void *digest_context, const uint8_t *data, size_t data_len, void *user_data)
{
  crypto_hash_sha512_update (digest_context, data, data_len);
  return 0;
}

/* libsignal reuses a context after final (the fingerprint iterates on
 * one), so final starts it afresh. */
static int
sha512_final_cb (void *digest_context, signal_buffer **output, void *user_data)
{
  signal_buffer *buffer = signal_buffer_alloc (crypto_hash_sha512_BYTES);

  if (buffer == NULL)
    return SG_ERR_NOMEM;
  crypto_hash_sha512_final (digest_context, signal_buffer_data (buffer));
  crypto_hash_sha512_init (digest_context);
  *output = buffer;
  return 0;
}

static void
sha512_cleanup_cb (void *digest_context, void *user_data)
{
  if (digest_context == NULL)
    return;
  sodium_memzero (digest_context, sizeof (crypto_hash_sha512_state));
  g_free (digest_context);
}

/* AES: GnuTLS */

static gboolean
open_aes_cbc (gnutls_cipher_hd_t *handle, const uint8_t *key, size_t key_len, const uint8_t *iv,
              size_t iv_len)
{
  gnutls_cipher_algorithm_t algorithm;
  gnutls_datum_t key_datum = { (unsigned char *)key, key_len };
  gnutls_datum_t iv_datum = { (unsigned char *)iv, iv_len };

  switch (key_len)
    {
    case 16:
      algorithm = GNUTLS_CIPHER_AES_128_CBC;
      break;
    case 24:
      algorithm = GNUTLS_CIPHER_AES_192_CBC;
      break;
    case 32:
      algorithm = GNUTLS_CIPHER_AES_256_CBC;
      break;
    default:
      return FALSE;
    }
  if (iv_len != AES_BLOCK_SIZE)
    return FALSE;
  return gnutls_cipher_init (handle, algorithm, &key_datum, &iv_datum) == 0;
}

/* GnuTLS has no public AES-CTR, so the key stream is AES applied to each
 * counter block, computed with CBC: feeding counter ⊕ previous output
 * gives AES(counter), as CBC XORs the previous output back in. The
 * counter is the IV, incremented as one 128-bit big-endian number. */
static int
aes_ctr (signal_buffer **output, const uint8_t *key, size_t key_len, const uint8_t *iv,
         size_t iv_len, const uint8_t *input, size_t input_len)
{
  static const uint8_t zero_iv[AES_BLOCK_SIZE] = { 0 };
  gnutls_cipher_hd_t handle;
  uint8_t counter[AES_BLOCK_SIZE];
  uint8_t previous[AES_BLOCK_SIZE] = { 0 };
  uint8_t block[AES_BLOCK_SIZE];
  signal_buffer *buffer;
  uint8_t *out;

  if (iv_len != AES_BLOCK_SIZE || !open_aes_cbc (&handle, key, key_len, zero_iv, sizeof zero_iv))
    return SG_ERR_UNKNOWN;
  buffer = signal_buffer_alloc (input_len);
  if (buffer == NULL)
    {
      gnutls_cipher_deinit (handle);
      return SG_ERR_NOMEM;
    }
  out = signal_buffer_data (buffer);
  memcpy (counter, iv, AES_BLOCK_SIZE);

  for (size_t offset = 0; offset < input_len; offset += AES_BLOCK_SIZE)
    {
      size_t n = MIN (AES_BLOCK_SIZE, input_len - offset);

      for (guint i = 0; i < AES_BLOCK_SIZE; i++)
        block[i] = counter[i] ^ previous[i];
      if (gnutls_cipher_encrypt2 (handle, block, AES_BLOCK_SIZE, previous, AES_BLOCK_SIZE) != 0)
        {
          gnutls_cipher_deinit (handle);
          signal_buffer_bzero_free (buffer);
          return SG_ERR_UNKNOWN;
        }
      for (size_t i = 0; i < n; i++)
        out[offset + i] = input[offset + i] ^ previous[i];
      for (int i = AES_BLOCK_SIZE - 1; i >= 0 && ++counter[i] == 0; i--)
        ;
    }

  gnutls_cipher_deinit (handle);
  sodium_memzero (previous, sizeof previous);
  sodium_memzero (block, sizeof block);
  *output = buffer;
  return 0;
}

static int
aes_cbc_encrypt (signal_buffer **output, const uint8_t *key, size_t key_len, const uint8_t *iv,
                 size_t iv_len, const uint8_t *plaintext, size_t plaintext_len)
{
  size_t padding = AES_BLOCK_SIZE - plaintext_len % AES_BLOCK_SIZE;
  gnutls_cipher_hd_t handle;
  signal_buffer *buffer;
  uint8_t *out;
  int rc;

  if (!open_aes_cbc (&handle, key, key_len, iv, iv_len))
    return SG_ERR_UNKNOWN;
  buffer = signal_buffer_alloc (plaintext_len + padding);
  if (buffer == NULL)
    {
      gnutls_cipher_deinit (handle);
      return SG_ERR_NOMEM;
    }
  out = signal_buffer_data (buffer);
  if (plaintext_len > 0)
    memcpy (out, plaintext, plaintext_len);
  memset (out + plaintext_len, (int)padding, padding);

  rc = gnutls_cipher_encrypt (handle, out, plaintext_len + padding);
  gnutls_cipher_deinit (handle);
  if (rc != 0)
    {
      signal_buffer_bzero_free (buffer);
      return SG_ERR_UNKNOWN;
    }
  *output = buffer;
  return 0;
}

/* libsignal checks the message's MAC before it decrypts, so a padding
 * error here is not an oracle for anyone without the MAC key. */
static int
aes_cbc_decrypt (signal_buffer **output, const uint8_t *key, size_t key_len, const uint8_t *iv,
                 size_t iv_len, const uint8_t *ciphertext, size_t ciphertext_len)
{
  gnutls_cipher_hd_t handle;
  signal_buffer *buffer;
  uint8_t *out;
  size_t padding;
  int rc;

  if (ciphertext_len == 0 || ciphertext_len % AES_BLOCK_SIZE != 0)
    return SG_ERR_UNKNOWN;
  if (!open_aes_cbc (&handle, key, key_len, iv, iv_len))
    return SG_ERR_UNKNOWN;
  buffer = signal_buffer_alloc (ciphertext_len);
  if (buffer == NULL)
    {
      gnutls_cipher_deinit (handle);
      return SG_ERR_NOMEM;
    }
  out = signal_buffer_data (buffer);
  rc = gnutls_cipher_decrypt2 (handle, ciphertext, ciphertext_len, out, ciphertext_len);
  gnutls_cipher_deinit (handle);

  padding = out[ciphertext_len - 1];
  if (rc != 0 || padding == 0 || padding > AES_BLOCK_SIZE)
    {
      signal_buffer_bzero_free (buffer);
      return SG_ERR_UNKNOWN;
    }
  for (size_t i = ciphertext_len - padding; i < ciphertext_len; i++)
    if (out[i] != padding)
      {
        signal_buffer_bzero_free (buffer);
        return SG_ERR_UNKNOWN;
      }

  /* The padding stays in the allocation but outside the length. */
  *output = signal_buffer_create (out, ciphertext_len - padding);
  signal_buffer_bzero_free (buffer);
  return *output != NULL ? 0 : SG_ERR_NOMEM;
}

static int
encrypt_cb (signal_buffer **output, int cipher, const uint8_t *key, size_t key_len,
            const uint8_t *iv, size_t iv_len, const uint8_t *plaintext, size_t plaintext_len,
            void *user_data)
{
  switch (cipher)
    {
    case SG_CIPHER_AES_CBC_PKCS5:
      return aes_cbc_encrypt (output, key, key_len, iv, iv_len, plaintext, plaintext_len);
    case SG_CIPHER_AES_CTR_NOPADDING:
      return aes_ctr (output, key, key_len, iv, iv_len, plaintext, plaintext_len);
    default:
      return SG_ERR_UNKNOWN;
    }
}

static int
decrypt_cb (signal_buffer **output, int cipher, const uint8_t *key, size_t key_len,
            const uint8_t *iv, size_t iv_len, const uint8_t *ciphertext, size_t ciphertext_len,
            void *user_data)
{
  switch (cipher)
    {
    case SG_CIPHER_AES_CBC_PKCS5:
      return aes_cbc_decrypt (output, key, key_len, iv, iv_len, ciphertext, ciphertext_len);
    case SG_CIPHER_AES_CTR_NOPADDING:
      return aes_ctr (output, key, key_len, iv, iv_len, ciphertext, ciphertext_len);
    default:
      return SG_ERR_UNKNOWN;
    }
}

static const signal_crypto_provider crypto_provider = {
  .random_func = random_cb,
  .hmac_sha256_init_func = hmac_sha256_init_cb,
  .hmac_sha256_update_func = hmac_sha256_update_cb,
  .hmac_sha256_final_func = hmac_sha256_final_cb,
  .hmac_sha256_cleanup_func = hmac_sha256_cleanup_cb,
  .sha512_digest_init_func = sha512_init_cb,
  .sha512_digest_update_func = sha512_update_cb,
  .sha512_digest_final_func = sha512_final_cb,
  .sha512_digest_cleanup_func = sha512_cleanup_cb,
  .encrypt_func = encrypt_cb,
  .decrypt_func = decrypt_cb,
  .user_data = NULL,
};

const signal_crypto_provider *
ph_signal_crypto_provider (void)
{
  return &crypto_provider;
}

/* The context */

static void
lock_cb (void *user_data)
{
  PhSignalContext *self = user_data;

  g_rec_mutex_lock (&self->lock);
}

static void
unlock_cb (void *user_data)
{
  PhSignalContext *self = user_data;

  g_rec_mutex_unlock (&self->lock);
}

static void
log_cb (int level, const char *message, size_t len, void *user_data)
{
  g_debug ("libsignal (level %d): %.*s", level, (int)MIN (len, (size_t)G_MAXINT), message);
}

PhSignalContext *
ph_signal_context_new (void)
{
  PhSignalContext *self = g_new0 (PhSignalContext, 1);

  if (sodium_init () < 0)
    g_error ("libsodium could not be initialised");
  g_rec_mutex_init (&self->lock);
  /* Each of these fails only when memory runs out, which GLib treats as fatal too. */
  if (signal_context_create (&self->context, self) != 0
      || signal_context_set_crypto_provider (self->context, &crypto_provider) != 0
      || signal_context_set_locking_functions (self->context, lock_cb, unlock_cb) != 0
      || signal_context_set_log_function (self->context, log_cb) != 0)
    g_error ("libsignal-protocol-c could not make a context");
  return self;
}

signal_context *
ph_signal_context_get (PhSignalContext *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->context;
}

void
ph_signal_context_free (PhSignalContext *self)
{
  if (self == NULL)
    return;
  signal_context_destroy (self->context);
  g_rec_mutex_clear (&self->lock);
  g_free (self);
}
