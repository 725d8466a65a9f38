/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

#include "ph-sealer.h"

G_BEGIN_DECLS

/* CPace (draft-irtf-cfrg-cpace) over ristretto255 with libsodium.
 * Both sides run the same steps; the nameplate and both side ids are bound
 * into the transcript, then each side proves it holds the key. */

#define PH_PAKE_MESSAGE_SIZE 32
#define PH_PAKE_CONFIRMATION_SIZE 32
#define PH_PAKE_KEY_SIZE 32

#define PH_TYPE_PAKE (ph_pake_get_type ())
G_DECLARE_FINAL_TYPE (PhPake, ph_pake, PH, PAKE, GObject)

/* @password is the canonical code, @nameplate its public part, @side this
 * peer's side in the mailbox ("1" for the host, "2" for the joiner). */
PhPake *ph_pake_new (const char *password, const char *nameplate, const char *side);
/* The 32-byte message to post in phase "pake". */
GBytes *ph_pake_get_message (PhPake *self);
/* Takes the peer's message. Fails (PH_ERROR_PROTOCOL) on a message that is
 * not a valid group element or of the wrong size. */
gboolean ph_pake_finish (PhPake *self, const char *peer_side, GBytes *peer_message, GError **error);
/* After finish: the tag to post in phase "confirm". */
GBytes *ph_pake_get_confirmation (PhPake *self);
/* After finish: PH_ERROR_WRONG_CODE when the peer's tag does not match,
 * which is what a wrong code looks like. */
gboolean ph_pake_verify_confirmation (PhPake *self, GBytes *peer_confirmation, GError **error);
/* After finish: the shared session key (PH_PAKE_KEY_SIZE bytes). */
GBytes *ph_pake_get_session_key (PhPake *self);
/* After finish: a sealer for every later mailbox message. */
PhSealer *ph_pake_create_sealer (PhPake *self);

G_END_DECLS
