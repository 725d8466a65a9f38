/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-contact"

#include "config.h"

#include <string.h>

#include <sodium.h>

#include "ph-contact.h"
#include "ph-identity.h"
#include "ph-safety-number.h"
#include "ph-untrusted-text.h"

#define ID_CONTEXT "pinhole contact id"
#define RECORD_VERSION 1
#define RECORD_FIXED_SIZE                                                                          \
  (1 + PH_IDENTITY_PUBLIC_KEY_SIZE + PH_CONTACT_PAIR_SECRET_SIZE + 1 + 8 + 2)
#define MAX_NAME_CHARACTERS 64

struct _PhContact
{
  GObject parent_instance;

  char *id;
  char *name;
  GBytes *public_key;
  char *fingerprint;
  char *safety_number;
  GBytes *pair_secret;
  gboolean verified;
  gint64 added_time;
};

G_DEFINE_FINAL_TYPE (PhContact, ph_contact, G_TYPE_OBJECT)
G_DEFINE_QUARK (ph - contact - error - quark, ph_contact_error)

enum
{
  PROP_0,
  PROP_ID,
  PROP_NAME,
  PROP_PUBLIC_KEY,
  PROP_FINGERPRINT,
  PROP_SAFETY_NUMBER,
  PROP_VERIFIED,
  PROP_ADDED_TIME,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

char *
ph_contact_id_for_public_key (GBytes *public_key)
{
  crypto_generichash_state state;
  guint8 digest[PH_CONTACT_ID_SIZE];
  char hex[2 * PH_CONTACT_ID_SIZE + 1];
  gsize size;
  const guint8 *key;

  g_return_val_if_fail (public_key != NULL, NULL);

  key = g_bytes_get_data (public_key, &size);
  crypto_generichash_init (&state, NULL, 0, sizeof digest);
  crypto_generichash_update (&state, (const guint8 *)ID_CONTEXT, strlen (ID_CONTEXT));
  crypto_generichash_update (&state, key, size);
  crypto_generichash_final (&state, digest, sizeof digest);
  sodium_bin2hex (hex, sizeof hex, digest, sizeof digest);
  return g_strdup (hex);
}

gboolean
ph_contact_check_name (const char *name, GError **error)
{
  g_autoptr (GError) local_error = NULL;

  g_return_val_if_fail (name != NULL, FALSE);

  if (!ph_untrusted_text_check_name (name, &local_error))
    {
      g_set_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_INVALID_NAME,
                   "A contact’s name cannot be used: %s", local_error->message);
      return FALSE;
    }
  if (*name == '\0' || g_utf8_strlen (name, -1) > MAX_NAME_CHARACTERS)
    {
      g_set_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_INVALID_NAME,
                   "A contact’s name must be 1 to %d characters long.", MAX_NAME_CHARACTERS);
      return FALSE;
    }
  return TRUE;
}

PhContact *
ph_contact_new (GBytes *own_public_key, GBytes *public_key, const char *name, GBytes *pair_secret,
                gboolean verified, gint64 added_time, GError **error)
{
  g_autoptr (PhContact) self = NULL;
  g_autofree char *own_fingerprint = NULL;

  g_return_val_if_fail (own_public_key != NULL, NULL);
  g_return_val_if_fail (public_key != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (pair_secret != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_bytes_get_size (pair_secret) != PH_CONTACT_PAIR_SECRET_SIZE)
    {
      g_set_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_DAMAGED,
                   "A contact’s pair secret must be %d bytes, not %zu.",
                   PH_CONTACT_PAIR_SECRET_SIZE, g_bytes_get_size (pair_secret));
      return NULL;
    }
  if (g_bytes_equal (own_public_key, public_key))
    {
      g_set_error_literal (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_OWN_IDENTITY,
                           "This is your own identity: you cannot save yourself as a contact.");
      return NULL;
    }
  if (!ph_contact_check_name (name, error))
    return NULL;

  self = g_object_new (PH_TYPE_CONTACT, NULL);
  self->fingerprint = ph_identity_fingerprint_for_public_key (public_key);
  own_fingerprint = ph_identity_fingerprint_for_public_key (own_public_key);
  if (self->fingerprint == NULL || own_fingerprint == NULL)
    {
      g_set_error_literal (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_DAMAGED,
                           "A contact’s identity key is not an Ed25519 public key.");
      return NULL;
    }
  self->safety_number = ph_safety_number_compute (own_fingerprint, self->fingerprint);
  self->id = ph_contact_id_for_public_key (public_key);
  self->name = g_strdup (name);
  self->public_key = g_bytes_ref (public_key);
  self->pair_secret = g_bytes_ref (pair_secret);
  self->verified = !!verified;
  self->added_time = added_time;
  return g_steal_pointer (&self);
}

const char *
ph_contact_get_id (PhContact *self)
{
  g_return_val_if_fail (PH_IS_CONTACT (self), NULL);

  return self->id;
}

gboolean
ph_contact_equal (PhContact *a, PhContact *b)
{
  g_return_val_if_fail (PH_IS_CONTACT (a) && PH_IS_CONTACT (b), FALSE);

  return g_str_equal (a->id, b->id);
}

const char *
ph_contact_get_name (PhContact *self)
{
  g_return_val_if_fail (PH_IS_CONTACT (self), NULL);

  return self->name;
}

GBytes *
ph_contact_get_public_key (PhContact *self)
{
  g_return_val_if_fail (PH_IS_CONTACT (self), NULL);

  return self->public_key;
}

const char *
ph_contact_get_fingerprint (PhContact *self)
{
  g_return_val_if_fail (PH_IS_CONTACT (self), NULL);

  return self->fingerprint;
}

const char *
ph_contact_get_safety_number (PhContact *self)
{
  g_return_val_if_fail (PH_IS_CONTACT (self), NULL);

  return self->safety_number;
}

GBytes *
ph_contact_get_pair_secret (PhContact *self)
{
  g_return_val_if_fail (PH_IS_CONTACT (self), NULL);

  return self->pair_secret;
}

gboolean
ph_contact_get_verified (PhContact *self)
{
  g_return_val_if_fail (PH_IS_CONTACT (self), FALSE);

  return self->verified;
}

gint64
ph_contact_get_added_time (PhContact *self)
{
  g_return_val_if_fail (PH_IS_CONTACT (self), 0);

  return self->added_time;
}

void
ph_contact_set_name (PhContact *self, const char *name)
{
  g_return_if_fail (PH_IS_CONTACT (self));
  g_return_if_fail (name != NULL);

  if (g_str_equal (self->name, name))
    return;
  g_free (self->name);
  self->name = g_strdup (name);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME]);
}

void
ph_contact_set_verified (PhContact *self, gboolean verified)
{
  g_return_if_fail (PH_IS_CONTACT (self));

  verified = !!verified;
  if (self->verified == verified)
    return;
  self->verified = verified;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VERIFIED]);
}

GBytes *
ph_contact_to_record (PhContact *self)
{
  g_autoptr (GByteArray) record = NULL;
  gsize name_size;
  guint8 fixed[1 + 8 + 2];
  guint64 added;

  g_return_val_if_fail (PH_IS_CONTACT (self), NULL);

  name_size = strlen (self->name);
  g_assert (name_size <= G_MAXUINT16);
  record = g_byte_array_sized_new (RECORD_FIXED_SIZE + name_size);
  fixed[0] = RECORD_VERSION;
  g_byte_array_append (record, fixed, 1);
  g_byte_array_append (record, g_bytes_get_data (self->public_key, NULL),
                       PH_IDENTITY_PUBLIC_KEY_SIZE);
  g_byte_array_append (record, g_bytes_get_data (self->pair_secret, NULL),
                       PH_CONTACT_PAIR_SECRET_SIZE);
  fixed[0] = self->verified ? 1 : 0;
  added = GUINT64_TO_BE ((guint64)self->added_time);
  memcpy (fixed + 1, &added, 8);
  fixed[9] = name_size >> 8;
  fixed[10] = name_size & 0xff;
  g_byte_array_append (record, fixed, sizeof fixed);
  g_byte_array_append (record, (const guint8 *)self->name, name_size);
  return g_byte_array_free_to_bytes (g_steal_pointer (&record));
}

static PhContact *
record_damaged (GError **error, const char *problem)
{
  g_set_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_DAMAGED,
               "A contact record is damaged: %s.", problem);
  return NULL;
}

PhContact *
ph_contact_new_from_record (GBytes *own_public_key, GBytes *record, GError **error)
{
  g_autoptr (GBytes) public_key = NULL;
  g_autoptr (GBytes) pair_secret = NULL;
  g_autofree char *name = NULL;
  const guint8 *data;
  const guint8 *p;
  gsize size;
  gsize name_size;
  guint64 added;

  g_return_val_if_fail (own_public_key != NULL, NULL);
  g_return_val_if_fail (record != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  data = g_bytes_get_data (record, &size);
  if (size < 1)
    return record_damaged (error, "it is empty");
  if (data[0] != RECORD_VERSION)
    {
      g_set_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_NEWER_VERSION,
                   "A contact was saved by a newer Pinhole (record version %u). "
                   "Update Pinhole to read it.",
                   data[0]);
      return NULL;
    }
  if (size < RECORD_FIXED_SIZE)
    return record_damaged (error, "it is too short");

  p = data + 1;
  public_key = g_bytes_new (p, PH_IDENTITY_PUBLIC_KEY_SIZE);
  p += PH_IDENTITY_PUBLIC_KEY_SIZE;
  pair_secret = g_bytes_new (p, PH_CONTACT_PAIR_SECRET_SIZE);
  p += PH_CONTACT_PAIR_SECRET_SIZE;
  if (p[0] > 1)
    return record_damaged (error, "its verified flag is neither 0 nor 1");
  memcpy (&added, p + 1, 8);
  added = GUINT64_FROM_BE (added);
  name_size = ((gsize)p[9] << 8) | p[10];
  if (size != RECORD_FIXED_SIZE + name_size)
    return record_damaged (error, "its name is not the size it says");
  name = g_strndup ((const char *)data + RECORD_FIXED_SIZE, name_size);
  if (strlen (name) != name_size)
    return record_damaged (error, "its name holds a zero byte");

  return ph_contact_new (own_public_key, public_key, name, pair_secret, p[0] == 1, (gint64)added,
                         error);
}

static void
ph_contact_finalize (GObject *object)
{
  PhContact *self = PH_CONTACT (object);

  g_free (self->id);
  g_free (self->name);
  g_clear_pointer (&self->public_key, g_bytes_unref);
  g_free (self->fingerprint);
  g_free (self->safety_number);
  g_clear_pointer (&self->pair_secret, g_bytes_unref);

  G_OBJECT_CLASS (ph_contact_parent_class)->finalize (object);
}

static void
ph_contact_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PhContact *self = PH_CONTACT (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_PUBLIC_KEY:
      g_value_set_boxed (value, self->public_key);
      break;
    case PROP_FINGERPRINT:
      g_value_set_string (value, self->fingerprint);
      break;
    case PROP_SAFETY_NUMBER:
      g_value_set_string (value, self->safety_number);
      break;
    case PROP_VERIFIED:
      g_value_set_boolean (value, self->verified);
      break;
    case PROP_ADDED_TIME:
      g_value_set_int64 (value, self->added_time);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_contact_class_init (PhContactClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = ph_contact_finalize;
  object_class->get_property = ph_contact_get_property;

  properties[PROP_ID] = g_param_spec_string ("id", NULL, NULL, NULL, flags);
  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, flags);
  properties[PROP_PUBLIC_KEY] = g_param_spec_boxed ("public-key", NULL, NULL, G_TYPE_BYTES, flags);
  properties[PROP_FINGERPRINT] = g_param_spec_string ("fingerprint", NULL, NULL, NULL, flags);
  properties[PROP_SAFETY_NUMBER] = g_param_spec_string ("safety-number", NULL, NULL, NULL, flags);
  properties[PROP_VERIFIED] = g_param_spec_boolean ("verified", NULL, NULL, FALSE, flags);
  properties[PROP_ADDED_TIME]
      = g_param_spec_int64 ("added-time", NULL, NULL, 0, G_MAXINT64, 0, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ph_contact_init (PhContact *self)
{
}
