/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-pake"

#include "config.h"

#include <string.h>

#include <sodium.h>

#include "ph-error.h"
#include "ph-pake.h"

/* CPace, as in draft-irtf-cfrg-cpace (section "CPace ristretto255"), with
 * the choices Pinhole makes where the draft leaves them open. lv(x) is x
 * prefixed with its length as LEB128, as the draft's prepend_len.
 *
 *   generator string  lv("CPaceRistretto255") || lv(password) || lv(zero pad)
 *                     || lv(CI) || lv(sid), the pad filling SHA-512's
 *                     128-byte block as in the draft's generator_string;
 *                     CI = lv("pinhole-v1") || lv(nameplate), sid empty
 *                     (the rendezvous server gives no session id; the
 *                     nameplate and the side ids bind the session instead).
 *   g                 crypto_core_ristretto255_from_hash (SHA-512 (string))
 *   y, Y              random scalar, Y = y·g: the message each side posts.
 *   K                 y·Y_peer; identity refused.
 *   transcript        lv(side) || lv(Y) for both sides, the smaller side id
 *                     first, so both peers build the same bytes without
 *                     knowing who is "initiator" (the draft's ordered
 *                     concatenation, keyed on side ids rather than messages).
 *   ISK               BLAKE2b-256 (lv(ISK_DSI) || lv(nameplate) || lv(K)
 *                     || transcript).
 *   derive(label)     BLAKE2b-256 keyed with ISK over lv("pinhole-v1")
 *                     || lv(label).
 *   confirmation      BLAKE2b-256 keyed with derive("confirm") over
 *                     lv(sender side) || transcript: explicit key
 *                     confirmation, so a wrong code is noticed before any
 *                     sealed message is sent, by both sides.
 *   session key       derive("session").
 *
 * A peer message equal to our own can only be ours sent back by whoever
 * relays the messages; it is refused outright rather than left for the
 * confirmation tags to catch. */

#define CPACE_DSI "CPaceRistretto255"
#define ISK_DSI "CPaceRistretto255_ISK"
#define PROTOCOL_LABEL "pinhole-v1"
#define SHA512_BLOCK_SIZE 128
#define MAX_LENGTH_PREFIX 10

struct _PhPake
{
  GObject parent_instance;

  char *nameplate;
  char *side;
  char *peer_side;

  gboolean finished;
  gboolean message_valid;

  guint8 scalar[crypto_core_ristretto255_SCALARBYTES];
  guint8 message[PH_PAKE_MESSAGE_SIZE];
  guint8 peer_message[PH_PAKE_MESSAGE_SIZE];
  guint8 confirmation[PH_PAKE_CONFIRMATION_SIZE];
  guint8 expected_peer_confirmation[PH_PAKE_CONFIRMATION_SIZE];
  guint8 session_key[PH_PAKE_KEY_SIZE];
};

G_DEFINE_FINAL_TYPE (PhPake, ph_pake, G_TYPE_OBJECT)

static gsize
encode_length (gsize length, guint8 out[MAX_LENGTH_PREFIX])
{
  gsize n = 0;

  do
    {
      guint8 byte = length & 0x7f;

      length >>= 7;
      if (length != 0)
        byte |= 0x80;
      out[n++] = byte;
    }
  while (length != 0);

  return n;
}

static void
sha512_update_lv (crypto_hash_sha512_state *state, const void *data, gsize length)
{
  guint8 prefix[MAX_LENGTH_PREFIX];

  crypto_hash_sha512_update (state, prefix, encode_length (length, prefix));
  crypto_hash_sha512_update (state, data, length);
}

static void
blake2b_update_lv (crypto_generichash_state *state, const void *data, gsize length)
{
  guint8 prefix[MAX_LENGTH_PREFIX];

  crypto_generichash_update (state, prefix, encode_length (length, prefix));
  crypto_generichash_update (state, data, length);
}

static void
blake2b_update_lv_string (crypto_generichash_state *state, const char *text)
{
  blake2b_update_lv (state, text, strlen (text));
}

/* The length of lv(x) for an x of @length bytes. */
static gsize
lv_size (gsize length)
{
  guint8 prefix[MAX_LENGTH_PREFIX];

  return encode_length (length, prefix) + length;
}

static void
compute_generator (const char *password, const char *nameplate,
                   guint8 generator[crypto_core_ristretto255_BYTES])
{
  crypto_hash_sha512_state state;
  guint8 prefix[MAX_LENGTH_PREFIX];
  guint8 zeros[SHA512_BLOCK_SIZE] = { 0 };
  guint8 hash[crypto_hash_sha512_BYTES];
  gsize password_length = strlen (password);
  gsize prefixed = lv_size (strlen (CPACE_DSI)) + lv_size (password_length);
  gsize channel_id_length = lv_size (strlen (PROTOCOL_LABEL)) + lv_size (strlen (nameplate));

  crypto_hash_sha512_init (&state);
  sha512_update_lv (&state, CPACE_DSI, strlen (CPACE_DSI));
  sha512_update_lv (&state, password, password_length);
  sha512_update_lv (&state, zeros,
                    prefixed < SHA512_BLOCK_SIZE - 1 ? SHA512_BLOCK_SIZE - 1 - prefixed : 0);
  /* CI is itself lv("pinhole-v1") || lv(nameplate), hashed in pieces. */
  crypto_hash_sha512_update (&state, prefix, encode_length (channel_id_length, prefix));
  sha512_update_lv (&state, PROTOCOL_LABEL, strlen (PROTOCOL_LABEL));
  sha512_update_lv (&state, nameplate, strlen (nameplate));
  sha512_update_lv (&state, "", 0);
  crypto_hash_sha512_final (&state, hash);

  crypto_core_ristretto255_from_hash (generator, hash);

  sodium_memzero (&state, sizeof state);
  sodium_memzero (hash, sizeof hash);
}

/* Both sides' (side, message) pairs, the smaller side id first. */
static void
update_transcript (PhPake *self, crypto_generichash_state *state)
{
  gboolean own_first = strcmp (self->side, self->peer_side) < 0;

  blake2b_update_lv_string (state, own_first ? self->side : self->peer_side);
  blake2b_update_lv (state, own_first ? self->message : self->peer_message, PH_PAKE_MESSAGE_SIZE);
  blake2b_update_lv_string (state, own_first ? self->peer_side : self->side);
  blake2b_update_lv (state, own_first ? self->peer_message : self->message, PH_PAKE_MESSAGE_SIZE);
}

static void
derive_key (const guint8 isk[PH_PAKE_KEY_SIZE], const char *label, guint8 out[PH_PAKE_KEY_SIZE])
{
  crypto_generichash_state state;

  crypto_generichash_init (&state, isk, PH_PAKE_KEY_SIZE, PH_PAKE_KEY_SIZE);
  blake2b_update_lv_string (&state, PROTOCOL_LABEL);
  blake2b_update_lv_string (&state, label);
  crypto_generichash_final (&state, out, PH_PAKE_KEY_SIZE);
  sodium_memzero (&state, sizeof state);
}

static void
compute_confirmation (PhPake *self, const guint8 confirm_key[PH_PAKE_KEY_SIZE],
                      const char *sender_side, guint8 out[PH_PAKE_CONFIRMATION_SIZE])
{
  crypto_generichash_state state;

  crypto_generichash_init (&state, confirm_key, PH_PAKE_KEY_SIZE, PH_PAKE_CONFIRMATION_SIZE);
  blake2b_update_lv_string (&state, sender_side);
  update_transcript (self, &state);
  crypto_generichash_final (&state, out, PH_PAKE_CONFIRMATION_SIZE);
  sodium_memzero (&state, sizeof state);
}

static void
ph_pake_finalize (GObject *object)
{
  PhPake *self = (PhPake *)object;

  sodium_memzero (self->scalar, sizeof self->scalar);
  sodium_memzero (self->confirmation, sizeof self->confirmation);
  sodium_memzero (self->expected_peer_confirmation, sizeof self->expected_peer_confirmation);
  sodium_memzero (self->session_key, sizeof self->session_key);
  g_clear_pointer (&self->nameplate, g_free);
  g_clear_pointer (&self->side, g_free);
  g_clear_pointer (&self->peer_side, g_free);

  G_OBJECT_CLASS (ph_pake_parent_class)->finalize (object);
}

static void
ph_pake_class_init (PhPakeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ph_pake_finalize;

  /* Runs once, before any instance draws random numbers. */
  if (sodium_init () < 0)
    g_error ("libsodium could not be initialised");
}

static void
ph_pake_init (PhPake *self)
{
}

PhPake *
ph_pake_new (const char *password, const char *nameplate, const char *side)
{
  PhPake *self;
  guint8 generator[crypto_core_ristretto255_BYTES];

  g_return_val_if_fail (password != NULL, NULL);
  g_return_val_if_fail (nameplate != NULL, NULL);
  g_return_val_if_fail (side != NULL, NULL);

  self = g_object_new (PH_TYPE_PAKE, NULL);
  self->nameplate = g_strdup (nameplate);
  self->side = g_strdup (side);

  compute_generator (password, nameplate, generator);
  crypto_core_ristretto255_scalar_random (self->scalar);
  /* Fails only if the generator is the identity, which no password can
   * reach in practice; ph_pake_finish then reports it. */
  self->message_valid
      = crypto_scalarmult_ristretto255 (self->message, self->scalar, generator) == 0;
  sodium_memzero (generator, sizeof generator);

  return self;
}

GBytes *
ph_pake_get_message (PhPake *self)
{
  g_return_val_if_fail (PH_IS_PAKE (self), NULL);

  return g_bytes_new (self->message, sizeof self->message);
}

gboolean
ph_pake_finish (PhPake *self, const char *peer_side, GBytes *peer_message, GError **error)
{
  crypto_generichash_state state;
  guint8 shared[crypto_scalarmult_ristretto255_BYTES];
  guint8 isk[PH_PAKE_KEY_SIZE];
  guint8 confirm_key[PH_PAKE_KEY_SIZE];
  const guint8 *data;
  gsize size;

  g_return_val_if_fail (PH_IS_PAKE (self), FALSE);
  g_return_val_if_fail (!self->finished, FALSE);
  g_return_val_if_fail (peer_side != NULL, FALSE);
  g_return_val_if_fail (peer_message != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!self->message_valid)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_FAILED,
                   "The key exchange could not start with this code. Make a new code.");
      return FALSE;
    }

  if (strcmp (peer_side, self->side) == 0)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_PROTOCOL,
                   "The other side uses this side's own id: someone between you is "
                   "interfering. Start again with a new code.");
      return FALSE;
    }

  data = g_bytes_get_data (peer_message, &size);
  if (size != PH_PAKE_MESSAGE_SIZE)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_PROTOCOL,
                   "The other side's key exchange message has %" G_GSIZE_FORMAT
                   " bytes instead of %d.",
                   size, PH_PAKE_MESSAGE_SIZE);
      return FALSE;
    }

  if (sodium_memcmp (data, self->message, PH_PAKE_MESSAGE_SIZE) == 0)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_PROTOCOL,
                   "This side's own key exchange message came back as the other side's: someone "
                   "between you is interfering. Start again with a new code.");
      return FALSE;
    }

  if (!crypto_core_ristretto255_is_valid_point (data)
      || crypto_scalarmult_ristretto255 (shared, self->scalar, data) != 0)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_PROTOCOL,
                   "The other side's key exchange message is not a valid key.");
      return FALSE;
    }

  memcpy (self->peer_message, data, PH_PAKE_MESSAGE_SIZE);
  self->peer_side = g_strdup (peer_side);

  crypto_generichash_init (&state, NULL, 0, sizeof isk);
  blake2b_update_lv_string (&state, ISK_DSI);
  blake2b_update_lv_string (&state, self->nameplate);
  blake2b_update_lv (&state, shared, sizeof shared);
  update_transcript (self, &state);
  crypto_generichash_final (&state, isk, sizeof isk);

  derive_key (isk, "session", self->session_key);
  derive_key (isk, "confirm", confirm_key);
  compute_confirmation (self, confirm_key, self->side, self->confirmation);
  compute_confirmation (self, confirm_key, self->peer_side, self->expected_peer_confirmation);
  self->finished = TRUE;

  /* The scalar is needed no more; forgetting it now gives forward secrecy
   * against a later look at this process's memory. */
  sodium_memzero (self->scalar, sizeof self->scalar);
  sodium_memzero (&state, sizeof state);
  sodium_memzero (shared, sizeof shared);
  sodium_memzero (isk, sizeof isk);
  sodium_memzero (confirm_key, sizeof confirm_key);

  return TRUE;
}

GBytes *
ph_pake_get_confirmation (PhPake *self)
{
  g_return_val_if_fail (PH_IS_PAKE (self), NULL);
  g_return_val_if_fail (self->finished, NULL);

  return g_bytes_new (self->confirmation, sizeof self->confirmation);
}

gboolean
ph_pake_verify_confirmation (PhPake *self, GBytes *peer_confirmation, GError **error)
{
  const guint8 *data;
  gsize size;

  g_return_val_if_fail (PH_IS_PAKE (self), FALSE);
  g_return_val_if_fail (self->finished, FALSE);
  g_return_val_if_fail (peer_confirmation != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  data = g_bytes_get_data (peer_confirmation, &size);
  if (size != PH_PAKE_CONFIRMATION_SIZE)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_PROTOCOL,
                   "The other side's key confirmation has %" G_GSIZE_FORMAT " bytes instead of %d.",
                   size, PH_PAKE_CONFIRMATION_SIZE);
      return FALSE;
    }

  if (sodium_memcmp (data, self->expected_peer_confirmation, PH_PAKE_CONFIRMATION_SIZE) != 0)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_WRONG_CODE,
                   "The code does not match the other person's. Check it with them and start "
                   "again with a new code.");
      return FALSE;
    }

  return TRUE;
}

GBytes *
ph_pake_get_session_key (PhPake *self)
{
  g_return_val_if_fail (PH_IS_PAKE (self), NULL);
  g_return_val_if_fail (self->finished, NULL);

  return g_bytes_new (self->session_key, sizeof self->session_key);
}

PhSealer *
ph_pake_create_sealer (PhPake *self)
{
  g_autoptr (GBytes) session_key = NULL;

  g_return_val_if_fail (PH_IS_PAKE (self), NULL);
  g_return_val_if_fail (self->finished, NULL);

  session_key = ph_pake_get_session_key (self);
  return ph_sealer_new (session_key, self->side, self->peer_side);
}
