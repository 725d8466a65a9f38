/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-sealer"

#include "config.h"

#include <string.h>

#include <sodium.h>

#include "ph-error.h"
#include "ph-sealer.h"

#define COUNTER_SIZE 8
#define NONCE_SIZE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define KEY_SIZE crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define SEAL_LABEL "pinhole-seal"

G_STATIC_ASSERT (PH_SEALER_OVERHEAD
                 == COUNTER_SIZE + NONCE_SIZE + crypto_aead_xchacha20poly1305_ietf_ABYTES);

struct _PhSealer
{
  GObject parent_instance;

  /* One key per direction: a message we sealed never opens as one from
   * the peer, so a relay cannot reflect our messages back to us. */
  guint8 send_key[KEY_SIZE];
  guint8 receive_key[KEY_SIZE];
  guint64 sent_counter;
  guint64 received_counter;
};

G_DEFINE_FINAL_TYPE (PhSealer, ph_sealer, G_TYPE_OBJECT)

static void
derive_direction_key (GBytes *session_key, const char *sender_side, guint8 out[KEY_SIZE])
{
  crypto_generichash_state state;
  gsize key_size;
  const guint8 *key = g_bytes_get_data (session_key, &key_size);

  crypto_generichash_init (&state, key, key_size, KEY_SIZE);
  crypto_generichash_update (&state, (const guint8 *)SEAL_LABEL, strlen (SEAL_LABEL));
  crypto_generichash_update (&state, (const guint8 *)sender_side, strlen (sender_side));
  crypto_generichash_final (&state, out, KEY_SIZE);
  sodium_memzero (&state, sizeof state);
}

/* phase || counter: the counter is fixed-size and last, so the two cannot
 * be confused. */
static guint8 *
build_associated_data (const char *phase, const guint8 counter[COUNTER_SIZE], gsize *out_size)
{
  gsize phase_length = strlen (phase);
  guint8 *data = g_malloc (phase_length + COUNTER_SIZE);

  memcpy (data, phase, phase_length);
  memcpy (data + phase_length, counter, COUNTER_SIZE);
  *out_size = phase_length + COUNTER_SIZE;
  return data;
}

static void
ph_sealer_finalize (GObject *object)
{
  PhSealer *self = (PhSealer *)object;

  sodium_memzero (self->send_key, sizeof self->send_key);
  sodium_memzero (self->receive_key, sizeof self->receive_key);

  G_OBJECT_CLASS (ph_sealer_parent_class)->finalize (object);
}

static void
ph_sealer_class_init (PhSealerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ph_sealer_finalize;

  /* Runs once, before any instance draws a nonce. */
  if (sodium_init () < 0)
    g_error ("libsodium could not be initialised");
}

static void
ph_sealer_init (PhSealer *self)
{
}

PhSealer *
ph_sealer_new (GBytes *session_key, const char *own_side, const char *peer_side)
{
  PhSealer *self;

  g_return_val_if_fail (session_key != NULL, NULL);
  g_return_val_if_fail (g_bytes_get_size (session_key) >= crypto_generichash_KEYBYTES_MIN, NULL);
  g_return_val_if_fail (g_bytes_get_size (session_key) <= crypto_generichash_KEYBYTES_MAX, NULL);
  g_return_val_if_fail (own_side != NULL, NULL);
  g_return_val_if_fail (peer_side != NULL, NULL);
  g_return_val_if_fail (strcmp (own_side, peer_side) != 0, NULL);

  self = g_object_new (PH_TYPE_SEALER, NULL);
  derive_direction_key (session_key, own_side, self->send_key);
  derive_direction_key (session_key, peer_side, self->receive_key);

  return self;
}

GBytes *
ph_sealer_seal (PhSealer *self, const char *phase, GBytes *plaintext)
{
  g_autofree guint8 *associated_data = NULL;
  gsize associated_data_size;
  const guint8 *message;
  gsize message_size;
  guint64 counter_be;
  guint8 *sealed;
  unsigned long long ciphertext_size;

  g_return_val_if_fail (PH_IS_SEALER (self), NULL);
  g_return_val_if_fail (phase != NULL, NULL);
  g_return_val_if_fail (plaintext != NULL, NULL);
  g_return_val_if_fail (g_bytes_get_size (plaintext) <= PH_SEALER_MAX_PLAINTEXT, NULL);
  g_return_val_if_fail (self->sent_counter < G_MAXUINT64, NULL);

  message = g_bytes_get_data (plaintext, &message_size);
  sealed = g_malloc (PH_SEALER_OVERHEAD + message_size);

  self->sent_counter++;
  counter_be = GUINT64_TO_BE (self->sent_counter);
  memcpy (sealed, &counter_be, COUNTER_SIZE);
  randombytes_buf (sealed + COUNTER_SIZE, NONCE_SIZE);
  associated_data = build_associated_data (phase, sealed, &associated_data_size);

  crypto_aead_xchacha20poly1305_ietf_encrypt (
      sealed + COUNTER_SIZE + NONCE_SIZE, &ciphertext_size, message, message_size, associated_data,
      associated_data_size, NULL, sealed + COUNTER_SIZE, self->send_key);
  g_assert (ciphertext_size + COUNTER_SIZE + NONCE_SIZE == PH_SEALER_OVERHEAD + message_size);

  return g_bytes_new_take (sealed, PH_SEALER_OVERHEAD + message_size);
}

GBytes *
ph_sealer_open (PhSealer *self, const char *phase, GBytes *sealed, GError **error)
{
  g_autofree guint8 *associated_data = NULL;
  g_autofree guint8 *message = NULL;
  gsize associated_data_size;
  const guint8 *data;
  gsize size;
  guint64 counter_be;
  guint64 counter;
  unsigned long long message_size;

  g_return_val_if_fail (PH_IS_SEALER (self), NULL);
  g_return_val_if_fail (phase != NULL, NULL);
  g_return_val_if_fail (sealed != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  data = g_bytes_get_data (sealed, &size);
  if (size < PH_SEALER_OVERHEAD)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_TAMPERED,
                   "A sealed message from the other side was cut short on the way. The "
                   "rendezvous server or the network changed it.");
      return NULL;
    }

  /* The peer never seals more, so a larger message is not worth decrypting. */
  if (size - PH_SEALER_OVERHEAD > PH_SEALER_MAX_PLAINTEXT)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_TOO_LARGE,
                   "A sealed message from the other side is larger than the limit of %d KiB.",
                   PH_SEALER_MAX_PLAINTEXT / 1024);
      return NULL;
    }

  associated_data = build_associated_data (phase, data, &associated_data_size);
  /* One spare byte so an empty message still has a buffer to point at. */
  message = g_malloc (size - PH_SEALER_OVERHEAD + 1);

  if (crypto_aead_xchacha20poly1305_ietf_decrypt (
          message, &message_size, NULL, data + COUNTER_SIZE + NONCE_SIZE,
          size - COUNTER_SIZE - NONCE_SIZE, associated_data, associated_data_size,
          data + COUNTER_SIZE, self->receive_key)
      != 0)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_TAMPERED,
                   "A sealed message from the other side failed its check: it was changed on "
                   "the way or was not sealed by the other person.");
      return NULL;
    }

  /* Checked only once authentic, so a forger cannot pass off noise as a
   * replay. */
  memcpy (&counter_be, data, COUNTER_SIZE);
  counter = GUINT64_FROM_BE (counter_be);
  if (counter <= self->received_counter)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_REPLAYED,
                   "A sealed message from the other side arrived a second time or out of "
                   "order. The rendezvous server replayed it.");
      return NULL;
    }
  self->received_counter = counter;

  return g_bytes_new_take (g_steal_pointer (&message), message_size);
}
