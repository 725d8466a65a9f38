/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Someone met once in a code chat and saved on both sides: their identity
 * (an Ed25519 public key, see ph-identity.h), the name they gave, and the
 * pair secret the two derived together, from which they will find each
 * other again without a code.
 *
 * The id is stable: the first PH_CONTACT_ID_SIZE bytes of
 * BLAKE2b("pinhole contact id" || public key), in hex, so every device of
 * the same profile (after an import) names the contact alike. The safety
 * number is ph_safety_number_compute() of the two fingerprints.
 *
 * The name and the verified flag change through PhContactBook, which
 * notifies them; everything else is fixed for the object's life. */

#define PH_CONTACT_ID_SIZE 16 /* bytes; the id is twice as many hex digits */
#define PH_CONTACT_PAIR_SECRET_SIZE 32

#define PH_CONTACT_ERROR (ph_contact_error_quark ())

typedef enum
{
  PH_CONTACT_ERROR_IDENTITY_CHANGED, /* a peer is not the identity saved for that contact */
  PH_CONTACT_ERROR_NOT_FOUND,
  PH_CONTACT_ERROR_NAME_TAKEN,    /* another contact has that name */
  PH_CONTACT_ERROR_INVALID_NAME,  /* empty, too long, control characters */
  PH_CONTACT_ERROR_DAMAGED,       /* contacts.db or a record is not what Pinhole wrote */
  PH_CONTACT_ERROR_NEWER_VERSION, /* written by a newer Pinhole */
  PH_CONTACT_ERROR_STORAGE,       /* the disk: permissions, space, a lock */
  PH_CONTACT_ERROR_INVALID_OFFER, /* a peer's contact offer that does not verify */
  PH_CONTACT_ERROR_OWN_IDENTITY,  /* the peer is this profile itself */
} PhContactError;

GQuark ph_contact_error_quark (void);

#define PH_TYPE_CONTACT (ph_contact_get_type ())
G_DECLARE_FINAL_TYPE (PhContact, ph_contact, PH, CONTACT, GObject)

/* Properties (read-only; the book changes name and verified):
 *  "id", "name", "fingerprint", "safety-number" (strings),
 *  "public-key" (GBytes), "verified" (boolean), "added-time" (gint64,
 *  seconds since 1970). */

/* A contact of the profile whose public key is @own_public_key.
 * PH_CONTACT_ERROR_OWN_IDENTITY when both keys are the same,
 * _INVALID_NAME for a name a peer must not give, _DAMAGED for a key or
 * secret of the wrong size. */
PhContact *ph_contact_new (GBytes *own_public_key, GBytes *public_key, const char *name,
                           GBytes *pair_secret, gboolean verified, gint64 added_time,
                           GError **error);

/* The id a contact with @public_key has. */
char *ph_contact_id_for_public_key (GBytes *public_key);
/* Whether @name can name a contact: 1 to 64 characters of UTF-8 without
 * control characters (as a hello's name); PH_CONTACT_ERROR_INVALID_NAME. */
gboolean ph_contact_check_name (const char *name, GError **error);

const char *ph_contact_get_id (PhContact *self);
/* Whether @a and @b are the same person (the same id): the book hands out
 * new objects for a contact it saves again. */
gboolean ph_contact_equal (PhContact *a, PhContact *b);
const char *ph_contact_get_name (PhContact *self);
GBytes *ph_contact_get_public_key (PhContact *self);
/* "ddddd ddddd ddddd ddddd ddddd ddddd" */
const char *ph_contact_get_fingerprint (PhContact *self);
/* 12 groups of 5 digits, the same on both sides. */
const char *ph_contact_get_safety_number (PhContact *self);
/* Secret: never log or show it. */
GBytes *ph_contact_get_pair_secret (PhContact *self);
gboolean ph_contact_get_verified (PhContact *self);
gint64 ph_contact_get_added_time (PhContact *self);

/* The contact as a record of an identity backup (ph-identity-backup.h),
 * and back:
 *
 *   1 version (1) | 32 public key | 32 pair secret | 1 verified (0 or 1)
 *   | 8 added time | 2 name size | the name, UTF-8 (numbers big-endian)
 *
 * Reading fails with PH_CONTACT_ERROR_DAMAGED or _NEWER_VERSION. */
GBytes *ph_contact_to_record (PhContact *self);
PhContact *ph_contact_new_from_record (GBytes *own_public_key, GBytes *record, GError **error);

/* For PhContactBook only. */
void ph_contact_set_name (PhContact *self, const char *name);
void ph_contact_set_verified (PhContact *self, gboolean verified);

G_END_DECLS
