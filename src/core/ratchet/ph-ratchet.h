/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ph-identity.h"

G_BEGIN_DECLS

/* Sealed copies for contacts: the Double Ratchet of libsignal-protocol-c
 * (X3DH to start, then a new key for every message), one session per
 * contact, addressed by the contact's id. Its keys live in the profile's
 * PH_RATCHET_STORE_FILE (see ph-ratchet-store.h).
 *
 * Use:
 * 1. When a contact is saved, each side sends ph_ratchet_make_bundle()
 *    inside the authenticated channel, and passes the peer's bundle with
 *    the contact's pinned identity key to ph_ratchet_start_session().
 * 2. ph_ratchet_seal() gives the bytes to leave on the server;
 *    ph_ratchet_open() takes what was fetched. Drop a message quietly on
 *    PH_RATCHET_ERROR_DUPLICATE (it came by the other path too).
 *
 * When both sides start a session at once (both saved each other), the
 * session of the side whose identity key (libsignal form) sorts lower
 * wins: that side always builds its session from the peer's bundle and
 * keeps it while the peer has not answered on it; the other side builds
 * one only while it has none (so it can seal at once, even offline), and
 * gives it up for the lower side's as soon as that side's first message
 * arrives. Messages sealed on the losing session still open. */

#define PH_RATCHET_ERROR (ph_ratchet_error_quark ())

typedef enum
{
  PH_RATCHET_ERROR_INVALID,          /* not a sealed message, damaged, forged or too old: drop it */
  PH_RATCHET_ERROR_DUPLICATE,        /* already opened: drop it quietly */
  PH_RATCHET_ERROR_IDENTITY_CHANGED, /* from another identity than the contact's pinned one */
  PH_RATCHET_ERROR_NO_SESSION,       /* no session with this contact (start one first) */
  PH_RATCHET_ERROR_DAMAGED,          /* the profile's message keys are damaged */
  PH_RATCHET_ERROR_STORE,            /* the profile's message keys could not be read or written */
} PhRatchetError;

GQuark ph_ratchet_error_quark (void);

#define PH_TYPE_RATCHET (ph_ratchet_get_type ())
G_DECLARE_FINAL_TYPE (PhRatchet, ph_ratchet, PH, RATCHET, GObject)

/* The ratchet of profile folder @dir, whose identity is @identity. Blocks
 * on the disk, briefly, as every call below does. */
PhRatchet *ph_ratchet_new (const char *dir, PhIdentity *identity, GError **error);

/* A pre-key bundle (registration id, a fresh one-time pre-key, the signed
 * pre-key and its signature, the identity key) for one contact. */
GBytes *ph_ratchet_make_bundle (PhRatchet *self, GError **error);

/* Pins @pinned_identity_key (the contact's Ed25519 identity key, as
 * ph_identity_get_public_key gives it) for @contact_id and runs X3DH with
 * the contact's @bundle. A bundle for another identity is refused with
 * PH_RATCHET_ERROR_IDENTITY_CHANGED. */
gboolean ph_ratchet_start_session (PhRatchet *self, const char *contact_id, GBytes *bundle,
                                   GBytes *pinned_identity_key, GError **error);

gboolean ph_ratchet_has_session (PhRatchet *self, const char *contact_id);

/* The sealed form of @plaintext for @contact_id; each call moves the
 * ratchet on. */
GBytes *ph_ratchet_seal (PhRatchet *self, const char *contact_id, GBytes *plaintext,
                         GError **error);

/* The plaintext of a message from @contact_id: its keys are then deleted,
 * so the same bytes never open again (PH_RATCHET_ERROR_DUPLICATE). */
GBytes *ph_ratchet_open (PhRatchet *self, const char *contact_id, GBytes *ciphertext,
                         GError **error);

/* Deletes the contact's session and pinned key: their messages no longer
 * open. */
gboolean ph_ratchet_forget_contact (PhRatchet *self, const char *contact_id, GError **error);

G_END_DECLS
