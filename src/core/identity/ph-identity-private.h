/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "ph-identity.h"

G_BEGIN_DECLS

/* For the backup (ph-identity-backup.c) and tests: the identity as its
 * 32-byte Ed25519 seed, and back. */
#define PH_IDENTITY_SEED_SIZE 32

PhIdentity *ph_identity_new_from_seed (const guint8 seed[PH_IDENTITY_SEED_SIZE]);
void ph_identity_copy_seed (PhIdentity *self, guint8 out[PH_IDENTITY_SEED_SIZE]);

/* libsignal-protocol-c's displayable fingerprint of a serialized public
 * key: PH_IDENTITY_FINGERPRINT_DIGITS digits, without spaces, into @out.
 * The identity uses PH_IDENTITY_FINGERPRINT_ITERATIONS and an empty
 * @stable_identifier; the parameters are here so tests can check it
 * against libsignal's published vectors. */
#define PH_IDENTITY_FINGERPRINT_ITERATIONS 5200

void ph_identity_compute_fingerprint_digits (const guint8 *key, gsize key_size,
                                             const char *stable_identifier, guint iterations,
                                             char out[PH_IDENTITY_FINGERPRINT_DIGITS + 1]);

G_END_DECLS
