/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-ratchet"

#include "config.h"

#include <string.h>

#include <sodium.h>

#include <curve.h>
#include <key_helper.h>
#include <protocol.h>
#include <ratchet.h>
#include <session_builder.h>
#include <session_cipher.h>
#include <session_pre_key.h>
#include <session_record.h>
#include <session_state.h>

#include "ph-ratchet-store.h"
#include "ph-ratchet.h"
#include "ph-signal-context.h"

/* Pinhole has one device per profile. */
#define DEVICE_ID 1
#define BUNDLE_VERSION 1
/* version, registration id, device id, one-time pre-key id and key,
 * signed pre-key id, key and signature, identity key */
#define BUNDLE_TYPE "(yuuuayuayayay)"
/* The same, for g_variant_new () and g_variant_get () with the byte
 * arrays as GVariants. */
#define BUNDLE_FORMAT "(yuuu@ayu@ay@ay@ay)"
#define SIGNATURE_SIZE 64

/* A sealed message is one byte of libsignal's message type, then the
 * message libsignal serialized: the two types cannot be told apart by
 * their contents. */
#define SEALED_PRE_KEY_MESSAGE CIPHERTEXT_PREKEY_TYPE
#define SEALED_MESSAGE CIPHERTEXT_SIGNAL_TYPE

G_DEFINE_QUARK (ph - ratchet - error - quark, ph_ratchet_error)

struct _PhRatchet
{
  GObject parent_instance;

  PhIdentity *identity;
  PhSignalContext *signal;
  PhRatchetStore *store;
  signal_protocol_store_context *store_context;
};

G_DEFINE_FINAL_TYPE (PhRatchet, ph_ratchet, G_TYPE_OBJECT)

static signal_protocol_address
address_for (const char *contact_id)
{
  signal_protocol_address address = { contact_id, strlen (contact_id), DEVICE_ID };

  return address;
}

static GBytes *
serialize_public_key (const ec_public_key *key)
{
  signal_buffer *buffer = NULL;
  GBytes *bytes;

  if (key == NULL || ec_public_key_serialize (&buffer, key) < 0)
    return NULL;
  bytes = g_bytes_new (signal_buffer_data (buffer), signal_buffer_len (buffer));
  signal_buffer_free (buffer);
  return bytes;
}

static GVariant *
variant_for_bytes (GBytes *bytes)
{
  return g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, bytes, TRUE);
}

/* libsignal's form of a contact's Ed25519 identity key, as PhIdentity
 * makes its own (0x05 || the X25519 point). */
static GBytes *
signal_key_for_identity_key (GBytes *identity_key)
{
  guint8 signal_key[PH_IDENTITY_SIGNAL_PUBLIC_KEY_SIZE];

  if (g_bytes_get_size (identity_key) != PH_IDENTITY_PUBLIC_KEY_SIZE
      || crypto_sign_ed25519_pk_to_curve25519 (signal_key + 1,
                                               g_bytes_get_data (identity_key, NULL))
             != 0)
    return NULL;
  signal_key[0] = 0x05; /* libsignal's DJB_TYPE, not in its headers */
  return g_bytes_new (signal_key, sizeof signal_key);
}

/* The first error wins: a store problem explains a libsignal failure
 * better than libsignal's number does. */
static gboolean
set_error (PhRatchet *self, int rc, const char *contact_id, GError **error)
{
  GError *store_error = ph_ratchet_store_take_error (self->store);

  if (store_error != NULL)
    {
      g_propagate_error (error, store_error);
      return FALSE;
    }

  switch (rc)
    {
    case SG_ERR_DUPLICATE_MESSAGE:
      g_set_error (error, PH_RATCHET_ERROR, PH_RATCHET_ERROR_DUPLICATE,
                   "This message from %s was opened before.", contact_id);
      break;
    case SG_ERR_UNTRUSTED_IDENTITY:
      g_set_error (error, PH_RATCHET_ERROR, PH_RATCHET_ERROR_IDENTITY_CHANGED,
                   "A message said to be from %s came from another identity than the "
                   "contact's: it was refused.",
                   contact_id);
      break;
    case SG_ERR_NO_SESSION:
      g_set_error (error, PH_RATCHET_ERROR, PH_RATCHET_ERROR_NO_SESSION,
                   "There is no session with %s yet: save the contact again.", contact_id);
      break;
    case SG_ERR_NOMEM:
      g_error ("Out of memory in libsignal-protocol-c");
      break;
    default:
      g_set_error (
          error, PH_RATCHET_ERROR, PH_RATCHET_ERROR_INVALID,
          "A sealed message with %s could not be opened or made: it is damaged, forged or its "
          "keys are gone (libsignal error %d).",
          contact_id, rc);
      break;
    }
  return FALSE;
}

static gboolean
set_invalid (GError **error, const char *message)
{
  g_set_error_literal (error, PH_RATCHET_ERROR, PH_RATCHET_ERROR_INVALID, message);
  return FALSE;
}

/* Our identity as libsignal's key pair, for signing the signed pre-key. */
static int
make_identity_key_pair (PhRatchet *self, ratchet_identity_key_pair **out)
{
  GBytes *public_bytes = ph_identity_get_signal_public_key (self->identity);
  guint8 private_bytes[PH_IDENTITY_SIGNAL_PRIVATE_KEY_SIZE];
  signal_context *context = ph_signal_context_get (self->signal);
  ec_public_key *public_key = NULL;
  ec_private_key *private_key = NULL;
  int rc;

  ph_identity_copy_signal_private_key (self->identity, private_bytes);
  rc = curve_decode_point (&public_key, g_bytes_get_data (public_bytes, NULL),
                           g_bytes_get_size (public_bytes), context);
  if (rc >= 0)
    rc = curve_decode_private_point (&private_key, private_bytes, sizeof private_bytes, context);
  sodium_memzero (private_bytes, sizeof private_bytes);
  if (rc >= 0)
    rc = ratchet_identity_key_pair_create (out, public_key, private_key);
  SIGNAL_UNREF (public_key);
  SIGNAL_UNREF (private_key);
  return rc;
}

/* The signed pre-key, made on first use. */
static int
load_or_make_signed_pre_key (PhRatchet *self, session_signed_pre_key **out, GError **error)
{
  guint32 id = ph_ratchet_store_get_signed_pre_key_id (self->store);
  ratchet_identity_key_pair *identity_pair = NULL;
  int rc;

  if (id != 0)
    {
      rc = signal_protocol_signed_pre_key_load_key (self->store_context, out, id);
      if (rc != SG_ERR_INVALID_KEY_ID)
        return rc;
    }

  id = 1 + randombytes_uniform (0xFFFFFF);
  rc = make_identity_key_pair (self, &identity_pair);
  if (rc >= 0)
    rc = signal_protocol_key_helper_generate_signed_pre_key (out, identity_pair, id,
                                                             (uint64_t)(g_get_real_time () / 1000),
                                                             ph_signal_context_get (self->signal));
  SIGNAL_UNREF (identity_pair);
  if (rc >= 0)
    rc = signal_protocol_signed_pre_key_store_key (self->store_context, *out);
  if (rc >= 0 && !ph_ratchet_store_set_signed_pre_key_id (self->store, id, error))
    return SG_ERR_UNKNOWN;
  return rc;
}

static GVariant *
public_key_variant (const ec_public_key *key)
{
  g_autoptr (GBytes) bytes = serialize_public_key (key);

  return variant_for_bytes (bytes);
}

GBytes *
ph_ratchet_make_bundle (PhRatchet *self, GError **error)
{
  session_signed_pre_key *signed_pre_key = NULL;
  signal_protocol_key_helper_pre_key_list_node *pre_keys = NULL;
  session_pre_key *pre_key;
  g_autoptr (GBytes) signature = NULL;
  g_autoptr (GVariant) bundle = NULL;
  guint32 pre_key_id;
  int rc;

  g_return_val_if_fail (PH_IS_RATCHET (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!ph_ratchet_store_begin (self->store, error))
    return NULL;
  if (!ph_ratchet_store_next_pre_key_id (self->store, &pre_key_id, error))
    {
      ph_ratchet_store_rollback (self->store);
      return NULL;
    }
  rc = load_or_make_signed_pre_key (self, &signed_pre_key, error);
  if (rc >= 0)
    rc = signal_protocol_key_helper_generate_pre_keys (&pre_keys, pre_key_id, 1,
                                                       ph_signal_context_get (self->signal));
  pre_key = rc >= 0 ? signal_protocol_key_helper_key_list_element (pre_keys) : NULL;
  if (pre_key != NULL)
    rc = signal_protocol_pre_key_store_key (self->store_context, pre_key);
  if (rc < 0 || pre_key == NULL)
    {
      ph_ratchet_store_rollback (self->store);
      signal_protocol_key_helper_key_list_free (pre_keys);
      SIGNAL_UNREF (signed_pre_key);
      if (error != NULL && *error != NULL)
        return NULL;
      set_error (self, rc, "a new contact", error);
      return NULL;
    }

  signature = g_bytes_new (session_signed_pre_key_get_signature (signed_pre_key),
                           session_signed_pre_key_get_signature_len (signed_pre_key));
  bundle = g_variant_ref_sink (g_variant_new (
      BUNDLE_FORMAT, (guint8)BUNDLE_VERSION, ph_ratchet_store_get_registration_id (self->store),
      (guint32)DEVICE_ID, session_pre_key_get_id (pre_key),
      public_key_variant (ec_key_pair_get_public (session_pre_key_get_key_pair (pre_key))),
      session_signed_pre_key_get_id (signed_pre_key),
      public_key_variant (
          ec_key_pair_get_public (session_signed_pre_key_get_key_pair (signed_pre_key))),
      variant_for_bytes (signature),
      variant_for_bytes (ph_identity_get_signal_public_key (self->identity))));
  signal_protocol_key_helper_key_list_free (pre_keys);
  SIGNAL_UNREF (signed_pre_key);

  if (!ph_ratchet_store_commit (self->store, error))
    return NULL;
  return g_variant_get_data_as_bytes (bundle);
}

/* Reads a bundle from a peer. Its keys are checked by curve_decode_point;
 * its signature by libsignal when the session is built. */
static gboolean
parse_bundle (PhRatchet *self, GBytes *bytes, session_pre_key_bundle **out,
              GBytes **out_identity_key, GError **error)
{
  signal_context *context = ph_signal_context_get (self->signal);
  g_autoptr (GVariant) bundle = NULL;
  g_autoptr (GVariant) pre_key_variant = NULL;
  g_autoptr (GVariant) signed_pre_key_variant = NULL;
  g_autoptr (GVariant) signature_variant = NULL;
  g_autoptr (GVariant) identity_variant = NULL;
  ec_public_key *pre_key = NULL;
  ec_public_key *signed_pre_key = NULL;
  ec_public_key *identity_key = NULL;
  guint8 version;
  guint32 registration_id, device_id, pre_key_id, signed_pre_key_id;
  gsize signature_size;
  const guint8 *signature;
  gsize size;
  const guint8 *data;
  int rc;

  bundle
      = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (BUNDLE_TYPE), bytes, FALSE));
  if (!g_variant_is_normal_form (bundle))
    return set_invalid (error, "The contact's key bundle is damaged.");
  g_variant_get (bundle, BUNDLE_FORMAT, &version, &registration_id, &device_id, &pre_key_id,
                 &pre_key_variant, &signed_pre_key_id, &signed_pre_key_variant, &signature_variant,
                 &identity_variant);
  if (version != BUNDLE_VERSION)
    return set_invalid (error, "The contact's key bundle comes from another version of Pinhole.");

  signature = g_variant_get_fixed_array (signature_variant, &signature_size, 1);
  if (signature_size != SIGNATURE_SIZE)
    return set_invalid (error, "The contact's key bundle is damaged.");

  data = g_variant_get_fixed_array (pre_key_variant, &size, 1);
  rc = curve_decode_point (&pre_key, data, size, context);
  if (rc >= 0)
    {
      data = g_variant_get_fixed_array (signed_pre_key_variant, &size, 1);
      rc = curve_decode_point (&signed_pre_key, data, size, context);
    }
  if (rc >= 0)
    {
      data = g_variant_get_fixed_array (identity_variant, &size, 1);
      rc = curve_decode_point (&identity_key, data, size, context);
    }
  if (rc >= 0)
    rc = session_pre_key_bundle_create (out, registration_id, (int)device_id, pre_key_id, pre_key,
                                        signed_pre_key_id, signed_pre_key, signature,
                                        signature_size, identity_key);
  if (rc >= 0)
    *out_identity_key = serialize_public_key (identity_key);
  SIGNAL_UNREF (pre_key);
  SIGNAL_UNREF (signed_pre_key);
  SIGNAL_UNREF (identity_key);
  if (rc < 0)
    return set_invalid (error, "The contact's key bundle holds a key that is not one.");
  return TRUE;
}

/* Whether our session wins over the contact's (see the header). */
static gboolean
leads (PhRatchet *self, GBytes *peer_signal_key)
{
  GBytes *own = ph_identity_get_signal_public_key (self->identity);

  return g_bytes_compare (own, peer_signal_key) <= 0;
}

static gboolean
remember_own_session (PhRatchet *self, const char *contact_id, GError **error)
{
  signal_protocol_address address = address_for (contact_id);
  session_record *record = NULL;
  g_autoptr (GBytes) base_key = NULL;
  int rc;

  rc = signal_protocol_session_load_session (self->store_context, &record, &address);
  if (rc < 0)
    return set_error (self, rc, contact_id, error);
  base_key
      = serialize_public_key (session_state_get_alice_base_key (session_record_get_state (record)));
  SIGNAL_UNREF (record);
  if (base_key == NULL)
    return set_error (self, SG_ERR_UNKNOWN, contact_id, error);
  return ph_ratchet_store_set_own_base_key (self->store, contact_id, base_key, error);
}

gboolean
ph_ratchet_start_session (PhRatchet *self, const char *contact_id, GBytes *bundle_bytes,
                          GBytes *pinned_identity_key, GError **error)
{
  signal_protocol_address address;
  session_pre_key_bundle *bundle = NULL;
  session_builder *builder = NULL;
  g_autoptr (GBytes) pinned = NULL;
  g_autoptr (GBytes) bundle_identity = NULL;
  gboolean we_lead;
  int rc;

  g_return_val_if_fail (PH_IS_RATCHET (self), FALSE);
  g_return_val_if_fail (contact_id != NULL && *contact_id != '\0', FALSE);
  g_return_val_if_fail (bundle_bytes != NULL && pinned_identity_key != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  pinned = signal_key_for_identity_key (pinned_identity_key);
  if (pinned == NULL)
    return set_invalid (error, "The contact's identity key is not an Ed25519 public key.");
  if (!parse_bundle (self, bundle_bytes, &bundle, &bundle_identity, error))
    return FALSE;
  if (!g_bytes_equal (pinned, bundle_identity))
    {
      SIGNAL_UNREF (bundle);
      g_set_error (error, PH_RATCHET_ERROR, PH_RATCHET_ERROR_IDENTITY_CHANGED,
                   "The key bundle for %s belongs to another identity than the contact's: "
                   "it was refused.",
                   contact_id);
      return FALSE;
    }

  address = address_for (contact_id);
  we_lead = leads (self, pinned);
  if (!ph_ratchet_store_begin (self->store, error))
    {
      SIGNAL_UNREF (bundle);
      return FALSE;
    }
  if (!ph_ratchet_store_pin_identity (self->store, contact_id, pinned, error))
    goto failed;
  /* The side that does not lead keeps a session it has (the leader's,
   * most likely) rather than start a rival one. */
  if (!we_lead && signal_protocol_session_contains_session (self->store_context, &address) == 1)
    {
      SIGNAL_UNREF (bundle);
      return ph_ratchet_store_commit (self->store, error);
    }

  rc = session_builder_create (&builder, self->store_context, &address,
                               ph_signal_context_get (self->signal));
  if (rc >= 0)
    rc = session_builder_process_pre_key_bundle (builder, bundle);
  session_builder_free (builder);
  if (rc == SG_ERR_INVALID_KEY)
    {
      set_invalid (error, "The contact's key bundle is not signed by their identity.");
      goto failed;
    }
  if (rc < 0)
    {
      set_error (self, rc, contact_id, error);
      goto failed;
    }
  if (we_lead && !remember_own_session (self, contact_id, error))
    goto failed;

  SIGNAL_UNREF (bundle);
  return ph_ratchet_store_commit (self->store, error);

failed:
  SIGNAL_UNREF (bundle);
  ph_ratchet_store_rollback (self->store);
  return FALSE;
}

gboolean
ph_ratchet_has_session (PhRatchet *self, const char *contact_id)
{
  signal_protocol_address address;

  g_return_val_if_fail (PH_IS_RATCHET (self), FALSE);
  g_return_val_if_fail (contact_id != NULL, FALSE);

  address = address_for (contact_id);
  return signal_protocol_session_contains_session (self->store_context, &address) == 1;
}

GBytes *
ph_ratchet_seal (PhRatchet *self, const char *contact_id, GBytes *plaintext, GError **error)
{
  signal_protocol_address address;
  session_cipher *cipher = NULL;
  ciphertext_message *message = NULL;
  signal_buffer *serialized;
  GByteArray *sealed;
  gsize size;
  const guint8 *data;
  guint8 type;
  int rc;

  g_return_val_if_fail (PH_IS_RATCHET (self), NULL);
  g_return_val_if_fail (contact_id != NULL && plaintext != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  address = address_for (contact_id);
  if (!ph_ratchet_store_begin (self->store, error))
    return NULL;
  if (signal_protocol_session_contains_session (self->store_context, &address) != 1)
    {
      ph_ratchet_store_rollback (self->store);
      set_error (self, SG_ERR_NO_SESSION, contact_id, error);
      return NULL;
    }

  data = g_bytes_get_data (plaintext, &size);
  rc = session_cipher_create (&cipher, self->store_context, &address,
                              ph_signal_context_get (self->signal));
  if (rc >= 0)
    rc = session_cipher_encrypt (cipher, data != NULL ? data : (const guint8 *)"", size, &message);
  session_cipher_free (cipher);
  if (rc < 0)
    {
      ph_ratchet_store_rollback (self->store);
      set_error (self, rc, contact_id, error);
      return NULL;
    }

  type = ciphertext_message_get_type (message) == CIPHERTEXT_PREKEY_TYPE ? SEALED_PRE_KEY_MESSAGE
                                                                         : SEALED_MESSAGE;
  serialized = ciphertext_message_get_serialized (message);
  sealed = g_byte_array_sized_new (1 + signal_buffer_len (serialized));
  g_byte_array_append (sealed, &type, 1);
  g_byte_array_append (sealed, signal_buffer_data (serialized), signal_buffer_len (serialized));
  SIGNAL_UNREF (message);

  if (!ph_ratchet_store_commit (self->store, error))
    {
      g_byte_array_unref (sealed);
      return NULL;
    }
  return g_byte_array_free_to_bytes (sealed);
}

/* After opening a message on the contact's rival session (both started
 * one), the leader makes its own session current again while the contact
 * has not answered on it yet; once they have, a new session from them
 * means they lost ours, and theirs is the one to use. */
static gboolean
keep_own_session (PhRatchet *self, const char *contact_id, GError **error)
{
  signal_protocol_address address = address_for (contact_id);
  g_autoptr (GBytes) own = ph_ratchet_store_dup_own_base_key (self->store, contact_id);
  session_record *record = NULL;
  session_record_state_node *node;
  int rc;

  if (own == NULL)
    return TRUE;
  rc = signal_protocol_session_load_session (self->store_context, &record, &address);
  if (rc < 0)
    return set_error (self, rc, contact_id, error);

  for (node = session_record_get_previous_states_head (record); node != NULL;
       node = session_record_get_previous_states_next (node))
    {
      session_state *state = session_record_get_previous_states_element (node);
      g_autoptr (GBytes) base_key = serialize_public_key (session_state_get_alice_base_key (state));

      if (base_key == NULL || !g_bytes_equal (base_key, own))
        continue;
      if (!session_state_has_unacknowledged_pre_key_message (state))
        break;

      SIGNAL_REF (state);
      session_record_get_previous_states_remove (record, node);
      rc = session_record_promote_state (record, state);
      SIGNAL_UNREF (state);
      if (rc >= 0)
        rc = signal_protocol_session_store_session (self->store_context, &address, record);
      SIGNAL_UNREF (record);
      return rc >= 0 || set_error (self, rc, contact_id, error);
    }
  SIGNAL_UNREF (record);
  return TRUE;
}

static gboolean
identity_matches (PhRatchetStore *store, const char *contact_id, const ec_public_key *identity_key)
{
  g_autoptr (GBytes) pinned = ph_ratchet_store_dup_pinned_identity (store, contact_id);
  g_autoptr (GBytes) sender = serialize_public_key (identity_key);

  return pinned != NULL && sender != NULL && g_bytes_equal (pinned, sender);
}

GBytes *
ph_ratchet_open (PhRatchet *self, const char *contact_id, GBytes *ciphertext, GError **error)
{
  signal_context *context;
  signal_protocol_address address;
  session_cipher *cipher = NULL;
  signal_buffer *plaintext = NULL;
  g_autoptr (GBytes) pinned = NULL;
  GBytes *result;
  gsize size;
  const guint8 *data;
  int rc;

  g_return_val_if_fail (PH_IS_RATCHET (self), NULL);
  g_return_val_if_fail (contact_id != NULL && ciphertext != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  context = ph_signal_context_get (self->signal);
  address = address_for (contact_id);
  data = g_bytes_get_data (ciphertext, &size);
  if (size < 2 || (data[0] != SEALED_PRE_KEY_MESSAGE && data[0] != SEALED_MESSAGE))
    {
      set_invalid (error, "This is not a sealed message.");
      return NULL;
    }
  pinned = ph_ratchet_store_dup_pinned_identity (self->store, contact_id);
  if (pinned == NULL)
    {
      set_error (self, SG_ERR_NO_SESSION, contact_id, error);
      return NULL;
    }

  if (!ph_ratchet_store_begin (self->store, error))
    return NULL;
  rc = session_cipher_create (&cipher, self->store_context, &address, context);
  if (rc >= 0 && data[0] == SEALED_PRE_KEY_MESSAGE)
    {
      pre_key_signal_message *message = NULL;

      rc = pre_key_signal_message_deserialize (&message, data + 1, size - 1, context);
      /* Checked before libsignal would build a session from it. */
      if (rc >= 0
          && !identity_matches (self->store, contact_id,
                                pre_key_signal_message_get_identity_key (message)))
        rc = SG_ERR_UNTRUSTED_IDENTITY;
      if (rc >= 0)
        rc = session_cipher_decrypt_pre_key_signal_message (cipher, message, NULL, &plaintext);
      SIGNAL_UNREF (message);
    }
  else if (rc >= 0)
    {
      signal_message *message = NULL;

      rc = signal_message_deserialize (&message, data + 1, size - 1, context);
      if (rc >= 0)
        rc = session_cipher_decrypt_signal_message (cipher, message, NULL, &plaintext);
      SIGNAL_UNREF (message);
    }
  session_cipher_free (cipher);

  if (rc < 0 || !keep_own_session (self, contact_id, error))
    {
      ph_ratchet_store_rollback (self->store);
      signal_buffer_bzero_free (plaintext);
      if (rc < 0)
        set_error (self, rc, contact_id, error);
      return NULL;
    }
  if (!ph_ratchet_store_commit (self->store, error))
    {
      signal_buffer_bzero_free (plaintext);
      return NULL;
    }
  result = g_bytes_new (signal_buffer_data (plaintext), signal_buffer_len (plaintext));
  signal_buffer_bzero_free (plaintext);
  return result;
}

gboolean
ph_ratchet_forget_contact (PhRatchet *self, const char *contact_id, GError **error)
{
  g_return_val_if_fail (PH_IS_RATCHET (self), FALSE);
  g_return_val_if_fail (contact_id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!ph_ratchet_store_begin (self->store, error))
    return FALSE;
  if (!ph_ratchet_store_forget (self->store, contact_id, error))
    {
      ph_ratchet_store_rollback (self->store);
      return FALSE;
    }
  return ph_ratchet_store_commit (self->store, error);
}

PhRatchet *
ph_ratchet_new (const char *dir, PhIdentity *identity, GError **error)
{
  g_autoptr (PhRatchet) self = NULL;

  g_return_val_if_fail (dir != NULL, NULL);
  g_return_val_if_fail (PH_IS_IDENTITY (identity), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (PH_TYPE_RATCHET, NULL);
  self->identity = g_object_ref (identity);
  self->signal = ph_signal_context_new ();
  self->store = ph_ratchet_store_new (dir, identity, ph_signal_context_get (self->signal), error);
  if (self->store == NULL)
    return NULL;
  if (signal_protocol_store_context_create (&self->store_context,
                                            ph_signal_context_get (self->signal))
      != 0)
    g_error ("Out of memory in libsignal-protocol-c");
  ph_ratchet_store_install (self->store, self->store_context);
  return g_steal_pointer (&self);
}

static void
ph_ratchet_finalize (GObject *object)
{
  PhRatchet *self = PH_RATCHET (object);

  /* The store context before the stores it calls, and both before the
   * signal context they were made in. */
  g_clear_pointer (&self->store_context, signal_protocol_store_context_destroy);
  g_clear_object (&self->store);
  g_clear_pointer (&self->signal, ph_signal_context_free);
  g_clear_object (&self->identity);

  G_OBJECT_CLASS (ph_ratchet_parent_class)->finalize (object);
}

static void
ph_ratchet_class_init (PhRatchetClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ph_ratchet_finalize;
}

static void
ph_ratchet_init (PhRatchet *self)
{
}
