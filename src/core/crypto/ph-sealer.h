/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* Seals mailbox messages after the PAKE with XChaCha20-Poly1305. Each
 * direction has its own key derived from the session key and the sender's
 * side; each sealed message carries a counter that must grow, so the
 * rendezvous server can neither read, forge, reorder nor replay them.
 *
 * Wire form: counter (8 bytes, big-endian) || nonce (24) || ciphertext+tag.
 * The phase and counter are authenticated as associated data. */

#define PH_SEALER_OVERHEAD (8 + 24 + 16)
#define PH_SEALER_MAX_PLAINTEXT (64 * 1024)

#define PH_TYPE_SEALER (ph_sealer_get_type ())
G_DECLARE_FINAL_TYPE (PhSealer, ph_sealer, PH, SEALER, GObject)

PhSealer *ph_sealer_new (GBytes *session_key, const char *own_side, const char *peer_side);
GBytes *ph_sealer_seal (PhSealer *self, const char *phase, GBytes *plaintext);
/* PH_ERROR_TAMPERED when authentication fails (wrong key, changed bytes,
 * wrong phase, truncated), PH_ERROR_REPLAYED when the counter did not grow. */
GBytes *ph_sealer_open (PhSealer *self, const char *phase, GBytes *sealed, GError **error);

G_END_DECLS
