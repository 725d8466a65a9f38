/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ph-contact.h"
#include "ph-identity.h"
#include "ph-ratchet.h"

G_BEGIN_DECLS

/* A profile's contacts: PH_CONTACT_BOOK_FILE in the profile folder, an
 * SQLite database of mode 0600 (its folder 0700), in WAL mode with a
 * schema version, holding each contact's pair secret as the folder holds
 * the identity's private key. A file that is not a contact book, or rows
 * Pinhole did not write, fail with PH_CONTACT_ERROR_DAMAGED and the file
 * is left as it is, so nothing in it is lost.
 *
 * The book is a GListModel of PhContact, sorted by name, for the app's
 * sidebar. Names are unique within a book, so a contact is found by its
 * id or its name; and a contact's identity never changes silently: another
 * identity key under a saved name is saved as a new contact "NAME 2",
 * never over the saved one. Every call blocks on the disk,
 * briefly (one small transaction). */

#define PH_CONTACT_BOOK_FILE "contacts.db"

#define PH_TYPE_CONTACT_BOOK (ph_contact_book_get_type ())
G_DECLARE_FINAL_TYPE (PhContactBook, ph_contact_book, PH, CONTACT_BOOK, GObject)

/* The contact book of profile folder @dir, whose identity is @identity;
 * made when there is none yet. */
PhContactBook *ph_contact_book_open (const char *dir, PhIdentity *identity, GError **error);

PhIdentity *ph_contact_book_get_identity (PhContactBook *self);
const char *ph_contact_book_get_path (PhContactBook *self);

/* Saves @contact, and returns the contact as the book now holds it. A
 * contact already saved (the same identity key, met again in a new code
 * chat) keeps its name and verified flag and takes @contact's pair
 * secret. A new identity under a name already taken is saved as
 * "NAME 2" (or the next free number) and @contact is renamed so; the
 * identity saved under NAME is never replaced. */
PhContact *ph_contact_book_save (PhContactBook *self, PhContact *contact, GError **error);
/* The contact with id @id_or_name, else the one of that name;
 * PH_CONTACT_ERROR_NOT_FOUND. */
PhContact *ph_contact_book_lookup (PhContactBook *self, const char *id_or_name, GError **error);
gboolean ph_contact_book_set_verified (PhContactBook *self, PhContact *contact, gboolean verified,
                                       GError **error);
/* PH_CONTACT_ERROR_INVALID_NAME, or _NAME_TAKEN by another contact. */
gboolean ph_contact_book_rename (PhContactBook *self, PhContact *contact, const char *name,
                                 GError **error);
/* Removes @contact and their message keys (ph_ratchet_forget_contact). */
gboolean ph_contact_book_remove (PhContactBook *self, PhContact *contact, GError **error);

/* The profile's ratchet for sealed copies to contacts (ph-ratchet.h),
 * opened on the first call; NULL with PH_RATCHET_ERROR_DAMAGED or _STORE
 * when its keys cannot be read. */
PhRatchet *ph_contact_book_get_ratchet (PhContactBook *self, GError **error);

G_END_DECLS
