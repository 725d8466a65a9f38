/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ph-contact.h"
#include "ph-frame.h"
#include "ph-identity.h"

G_BEGIN_DECLS

/* Saving a contact inside one code chat: each side that saves sends a
 * "contact-offer" frame (docs/protocol.md) with its identity key, a fresh
 * random share of the pair secret, its display name, and an Ed25519
 * signature by the identity key (context "contact-offer") over
 *
 *   binding || identity key || share || name
 *
 * where the binding is a value only the two sides of this chat know,
 * derived from its PAKE key (ph_signaling_dup_binding()), so an offer
 * copied into any other chat does not verify there. Once both offers are
 * in, the pair secret is keyed BLAKE2b-256 under the binding of
 * "pinhole pair secret", the two shares and the two identity keys, each
 * pair in byte order: the same on both sides, new for every chat.
 *
 * A peer's offer that is malformed, does not verify, or differs from the
 * one it sent before is refused with PH_CONTACT_ERROR_INVALID_OFFER and
 * changes nothing. */

#define PH_CONTACT_SHARE_SIZE 32
#define PH_CONTACT_BINDING_SIZE 32

#define PH_TYPE_CONTACT_EXCHANGE (ph_contact_exchange_get_type ())
G_DECLARE_FINAL_TYPE (PhContactExchange, ph_contact_exchange, PH, CONTACT_EXCHANGE, GObject)

/* @binding: PH_CONTACT_BINDING_SIZE bytes. */
PhContactExchange *ph_contact_exchange_new (GBytes *binding);

/* Our offer, made on the first call; later calls give the same offer (for
 * a new channel after a reconnection) whatever the arguments. */
PhFrame *ph_contact_exchange_make_offer (PhContactExchange *self, PhIdentity *identity,
                                         const char *name);
gboolean ph_contact_exchange_has_offered (PhContactExchange *self);

/* Checks and keeps the peer's offer; TRUE also for a copy of the one
 * already kept. */
gboolean ph_contact_exchange_receive_offer (PhContactExchange *self, const PhFrame *offer,
                                            GError **error);
gboolean ph_contact_exchange_has_peer_offer (PhContactExchange *self);
/* Of the peer's offer, or NULL before it. */
const char *ph_contact_exchange_get_peer_name (PhContactExchange *self);
const char *ph_contact_exchange_get_peer_fingerprint (PhContactExchange *self);
GBytes *ph_contact_exchange_get_peer_key (PhContactExchange *self);

/* Once both offers are in: the peer as a new contact, not verified. */
PhContact *ph_contact_exchange_create_contact (PhContactExchange *self, GError **error);

G_END_DECLS
