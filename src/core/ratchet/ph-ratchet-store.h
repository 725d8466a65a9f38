/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include <signal_protocol.h>

#include "ph-identity.h"

G_BEGIN_DECLS

/* libsignal-protocol-c's protocol stores (sessions, one-time pre-keys,
 * signed pre-keys, identities) in PH_RATCHET_STORE_FILE in the profile
 * folder: SQLite, WAL, 0600 in a 0700 folder, old records overwritten
 * (secure_delete) and the WAL emptied after each change
 * (ph_ratchet_store_commit), so the file never holds keys the ratchet has
 * moved past.
 *
 * The identity store answers with the profile's own PhIdentity (its
 * Curve25519 form) and trusts, for each contact, exactly the identity key
 * pinned with ph_ratchet_store_pin_identity: any other key, or a contact
 * with none pinned, is refused.
 *
 * The callbacks can only return libsignal's error numbers; the first
 * problem they meet (a damaged record, a failed write) is kept as a
 * GError for ph_ratchet_store_take_error. */

#define PH_RATCHET_STORE_FILE "ratchet.db"

#define PH_TYPE_RATCHET_STORE (ph_ratchet_store_get_type ())
G_DECLARE_FINAL_TYPE (PhRatchetStore, ph_ratchet_store, PH, RATCHET_STORE, GObject)

/* Opens (or makes) the store of profile folder @dir for @identity. */
PhRatchetStore *ph_ratchet_store_new (const char *dir, PhIdentity *identity,
                                      signal_context *context, GError **error);

/* Makes @store_context use these stores. @self must outlive it. */
void ph_ratchet_store_install (PhRatchetStore *self, signal_protocol_store_context *store_context);

/* One change, all or nothing: libsignal stores a session and removes the
 * pre-key it used in separate calls. */
gboolean ph_ratchet_store_begin (PhRatchetStore *self, GError **error);
gboolean ph_ratchet_store_commit (PhRatchetStore *self, GError **error);
void ph_ratchet_store_rollback (PhRatchetStore *self);

/* The first error a libsignal callback met since the last call, or NULL. */
GError *ph_ratchet_store_take_error (PhRatchetStore *self);

guint32 ph_ratchet_store_get_registration_id (PhRatchetStore *self);
/* A fresh id for a one-time pre-key (never 0, never reused). */
gboolean ph_ratchet_store_next_pre_key_id (PhRatchetStore *self, guint32 *out_id, GError **error);
/* The id of the signed pre-key bundles carry; 0 while there is none. */
guint32 ph_ratchet_store_get_signed_pre_key_id (PhRatchetStore *self);
gboolean ph_ratchet_store_set_signed_pre_key_id (PhRatchetStore *self, guint32 id, GError **error);

/* The identity key (libsignal's serialized form, 33 bytes) trusted for
 * @contact_id, or NULL when none is pinned. */
GBytes *ph_ratchet_store_dup_pinned_identity (PhRatchetStore *self, const char *contact_id);
gboolean ph_ratchet_store_pin_identity (PhRatchetStore *self, const char *contact_id,
                                        GBytes *identity_key, GError **error);

/* The base key of the session we started with @contact_id (serialized),
 * or NULL: the session that wins when both sides start one. */
GBytes *ph_ratchet_store_dup_own_base_key (PhRatchetStore *self, const char *contact_id);
gboolean ph_ratchet_store_set_own_base_key (PhRatchetStore *self, const char *contact_id,
                                            GBytes *base_key, GError **error);

/* Removes the contact's sessions, pinned key and base key. */
gboolean ph_ratchet_store_forget (PhRatchetStore *self, const char *contact_id, GError **error);

G_END_DECLS
