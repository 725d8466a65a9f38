/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-contact-exchange"

#include "config.h"

#include <string.h>

#include <sodium.h>

#include "ph-contact-exchange.h"

#define SIGNATURE_CONTEXT "contact-offer"
#define PAIR_SECRET_CONTEXT "pinhole pair secret"

struct _PhContactExchange
{
  GObject parent_instance;

  GBytes *binding;

  PhIdentity *identity;
  guint8 share[PH_CONTACT_SHARE_SIZE];
  PhFrame *offer; /* ours, once made */

  GBytes *peer_key;
  guint8 peer_share[PH_CONTACT_SHARE_SIZE];
  char *peer_name;
  char *peer_fingerprint;
  PhFrame *peer_offer; /* as it came, to tell a copy from another offer */
};

G_DEFINE_FINAL_TYPE (PhContactExchange, ph_contact_exchange, G_TYPE_OBJECT)

static GBytes *
signed_message (GBytes *binding, const guint8 *key, const guint8 *share, const char *name)
{
  GByteArray *message = g_byte_array_new ();

  g_byte_array_append (message, g_bytes_get_data (binding, NULL), PH_CONTACT_BINDING_SIZE);
  g_byte_array_append (message, key, PH_IDENTITY_PUBLIC_KEY_SIZE);
  g_byte_array_append (message, share, PH_CONTACT_SHARE_SIZE);
  g_byte_array_append (message, (const guint8 *)name, strlen (name));
  return g_byte_array_free_to_bytes (message);
}

/* Exactly @size bytes in canonical standard base64, or FALSE. */
static gboolean
from_base64 (const char *text, guint8 *out, gsize size)
{
  gsize decoded = 0;

  if (text == NULL
      || sodium_base642bin (out, size, text, strlen (text), NULL, &decoded, NULL,
                            sodium_base64_VARIANT_ORIGINAL)
             != 0)
    return FALSE;
  return decoded == size;
}

PhContactExchange *
ph_contact_exchange_new (GBytes *binding)
{
  PhContactExchange *self;

  g_return_val_if_fail (binding != NULL, NULL);
  g_return_val_if_fail (g_bytes_get_size (binding) == PH_CONTACT_BINDING_SIZE, NULL);

  self = g_object_new (PH_TYPE_CONTACT_EXCHANGE, NULL);
  self->binding = g_bytes_ref (binding);
  return self;
}

PhFrame *
ph_contact_exchange_make_offer (PhContactExchange *self, PhIdentity *identity, const char *name)
{
  g_return_val_if_fail (PH_IS_CONTACT_EXCHANGE (self), NULL);
  g_return_val_if_fail (PH_IS_IDENTITY (identity), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  if (self->offer == NULL)
    {
      GBytes *key = ph_identity_get_public_key (identity);
      g_autoptr (GBytes) message = NULL;
      g_autoptr (GBytes) signature = NULL;
      g_autofree char *key_text = NULL;
      g_autofree char *share_text = NULL;
      g_autofree char *signature_text = NULL;

      self->identity = g_object_ref (identity);
      randombytes_buf (self->share, sizeof self->share);
      message = signed_message (self->binding, g_bytes_get_data (key, NULL), self->share, name);
      signature = ph_identity_sign (identity, SIGNATURE_CONTEXT, message);
      key_text = g_base64_encode (g_bytes_get_data (key, NULL), g_bytes_get_size (key));
      share_text = g_base64_encode (self->share, sizeof self->share);
      signature_text
          = g_base64_encode (g_bytes_get_data (signature, NULL), g_bytes_get_size (signature));
      self->offer = ph_frame_new_contact_offer (key_text, share_text, name, signature_text);
    }

  return ph_frame_new_contact_offer (self->offer->public_key, self->offer->share, self->offer->name,
                                     self->offer->signature);
}

gboolean
ph_contact_exchange_has_offered (PhContactExchange *self)
{
  g_return_val_if_fail (PH_IS_CONTACT_EXCHANGE (self), FALSE);

  return self->offer != NULL;
}

static gboolean
same_offer (const PhFrame *a, const PhFrame *b)
{
  return g_str_equal (a->public_key, b->public_key) && g_str_equal (a->share, b->share)
         && g_str_equal (a->name, b->name) && g_str_equal (a->signature, b->signature);
}

static gboolean
refuse (GError **error, const char *problem)
{
  g_set_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_INVALID_OFFER,
               "Your peer’s contact offer was refused: %s. Nothing was saved.", problem);
  return FALSE;
}

gboolean
ph_contact_exchange_receive_offer (PhContactExchange *self, const PhFrame *offer, GError **error)
{
  guint8 key[PH_IDENTITY_PUBLIC_KEY_SIZE];
  guint8 share[PH_CONTACT_SHARE_SIZE];
  guint8 signature[PH_IDENTITY_SIGNATURE_SIZE];
  g_autoptr (GBytes) key_bytes = NULL;
  g_autoptr (GBytes) signature_bytes = NULL;
  g_autoptr (GBytes) message = NULL;
  g_autofree char *fingerprint = NULL;

  g_return_val_if_fail (PH_IS_CONTACT_EXCHANGE (self), FALSE);
  g_return_val_if_fail (offer != NULL && offer->type == PH_FRAME_CONTACT_OFFER, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->peer_offer != NULL)
    {
      if (same_offer (self->peer_offer, offer))
        return TRUE;
      return refuse (error, "it differs from the offer it sent before");
    }

  if (!from_base64 (offer->public_key, key, sizeof key))
    return refuse (error, "its identity key is not 32 bytes of base64");
  if (!from_base64 (offer->share, share, sizeof share))
    return refuse (error, "its share is not 32 bytes of base64");
  if (!from_base64 (offer->signature, signature, sizeof signature))
    return refuse (error, "its signature is not 64 bytes of base64");
  if (!ph_contact_check_name (offer->name, NULL))
    return refuse (error, "its name is empty, too long or holds control characters");

  key_bytes = g_bytes_new (key, sizeof key);
  fingerprint = ph_identity_fingerprint_for_public_key (key_bytes);
  if (fingerprint == NULL)
    return refuse (error, "its identity key is not an Ed25519 public key");
  if (self->offer != NULL && sodium_memcmp (share, self->share, sizeof share) == 0)
    return refuse (error, "it is our own offer sent back");

  message = signed_message (self->binding, key, share, offer->name);
  signature_bytes = g_bytes_new (signature, sizeof signature);
  if (!ph_identity_verify (key_bytes, SIGNATURE_CONTEXT, message, signature_bytes))
    return refuse (error, "its signature does not verify for this chat (a forgery, or an offer "
                          "copied from another chat)");

  self->peer_key = g_steal_pointer (&key_bytes);
  memcpy (self->peer_share, share, sizeof share);
  self->peer_name = g_strdup (offer->name);
  self->peer_fingerprint = g_steal_pointer (&fingerprint);
  self->peer_offer
      = ph_frame_new_contact_offer (offer->public_key, offer->share, offer->name, offer->signature);
  return TRUE;
}

gboolean
ph_contact_exchange_has_peer_offer (PhContactExchange *self)
{
  g_return_val_if_fail (PH_IS_CONTACT_EXCHANGE (self), FALSE);

  return self->peer_offer != NULL;
}

const char *
ph_contact_exchange_get_peer_name (PhContactExchange *self)
{
  g_return_val_if_fail (PH_IS_CONTACT_EXCHANGE (self), NULL);

  return self->peer_name;
}

GBytes *
ph_contact_exchange_get_peer_key (PhContactExchange *self)
{
  g_return_val_if_fail (PH_IS_CONTACT_EXCHANGE (self), NULL);

  return self->peer_key;
}

const char *
ph_contact_exchange_get_peer_fingerprint (PhContactExchange *self)
{
  g_return_val_if_fail (PH_IS_CONTACT_EXCHANGE (self), NULL);

  return self->peer_fingerprint;
}

/* Both values of a pair in byte order, so both sides hash the same bytes. */
static void
update_sorted (crypto_generichash_state *state, const guint8 *a, const guint8 *b, gsize size)
{
  gboolean a_first = memcmp (a, b, size) <= 0;

  crypto_generichash_update (state, a_first ? a : b, size);
  crypto_generichash_update (state, a_first ? b : a, size);
}

PhContact *
ph_contact_exchange_create_contact (PhContactExchange *self, GError **error)
{
  crypto_generichash_state state;
  guint8 secret[PH_CONTACT_PAIR_SECRET_SIZE];
  g_autoptr (GBytes) pair_secret = NULL;
  GBytes *own_key;

  g_return_val_if_fail (PH_IS_CONTACT_EXCHANGE (self), NULL);
  g_return_val_if_fail (self->offer != NULL && self->peer_offer != NULL, NULL);

  own_key = ph_identity_get_public_key (self->identity);
  crypto_generichash_init (&state, g_bytes_get_data (self->binding, NULL), PH_CONTACT_BINDING_SIZE,
                           sizeof secret);
  crypto_generichash_update (&state, (const guint8 *)PAIR_SECRET_CONTEXT,
                             strlen (PAIR_SECRET_CONTEXT));
  update_sorted (&state, self->share, self->peer_share, PH_CONTACT_SHARE_SIZE);
  update_sorted (&state, g_bytes_get_data (own_key, NULL), g_bytes_get_data (self->peer_key, NULL),
                 PH_IDENTITY_PUBLIC_KEY_SIZE);
  crypto_generichash_final (&state, secret, sizeof secret);
  pair_secret = g_bytes_new (secret, sizeof secret);
  sodium_memzero (secret, sizeof secret);

  return ph_contact_new (own_key, self->peer_key, self->peer_name, pair_secret, FALSE,
                         g_get_real_time () / G_USEC_PER_SEC, error);
}

static void
ph_contact_exchange_finalize (GObject *object)
{
  PhContactExchange *self = PH_CONTACT_EXCHANGE (object);

  sodium_memzero (self->share, sizeof self->share);
  sodium_memzero (self->peer_share, sizeof self->peer_share);
  g_clear_pointer (&self->binding, g_bytes_unref);
  g_clear_object (&self->identity);
  g_clear_pointer (&self->offer, ph_frame_free);
  g_clear_pointer (&self->peer_key, g_bytes_unref);
  g_free (self->peer_name);
  g_free (self->peer_fingerprint);
  g_clear_pointer (&self->peer_offer, ph_frame_free);

  G_OBJECT_CLASS (ph_contact_exchange_parent_class)->finalize (object);
}

static void
ph_contact_exchange_class_init (PhContactExchangeClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ph_contact_exchange_finalize;
}

static void
ph_contact_exchange_init (PhContactExchange *self)
{
  if (sodium_init () < 0)
    g_error ("libsodium could not be initialised");
}
