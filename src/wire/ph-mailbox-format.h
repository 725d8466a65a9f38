/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The pieces of the rendezvous wire format that the server and its client
 * both check, so each side accepts exactly what the other may send. */

#define PH_MAILBOX_SIDE_LENGTH 16 /* hex digits */
#define PH_MAILBOX_MAX_NAMEPLATE_DIGITS 9

/* Canonical decimal: 1 to 9 digits, no sign, no leading zero. */
gboolean ph_mailbox_parse_nameplate (const char *text, gsize length, guint *out_nameplate);
/* Exactly PH_MAILBOX_SIDE_LENGTH hex digits, either case. */
gboolean ph_mailbox_side_is_valid (const char *side);
/* Only canonical base64: decoding then encoding must give @text back,
 * which rejects stray characters, bad padding and junk bits. NULL if not. */
GBytes *ph_mailbox_decode_body (const char *text);

G_END_DECLS
