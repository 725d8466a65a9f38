/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The pieces of the rendezvous wire format that the server and its client
 * both check, so each side accepts exactly what the other may send. */

#define PH_MAILBOX_MAX_NAMEPLATE_DIGITS 9
/* A side's secret: 32 random bytes as lower-case hex digits, which the
 * side sends as "Authorization: Bearer <secret>". */
#define PH_MAILBOX_SECRET_LENGTH 64
/* A mailbox's two sides by number: the side that opened it (allocated or
 * claimed it) and the side that joined it. Fetched messages carry them. */
#define PH_MAILBOX_HOST_SIDE 1
#define PH_MAILBOX_JOINER_SIDE 2

/* Canonical decimal: 1 to 9 digits, no sign, no leading zero. */
gboolean ph_mailbox_parse_nameplate (const char *text, gsize length, guint *out_nameplate);
/* Exactly PH_MAILBOX_SECRET_LENGTH lower-case hex digits. */
gboolean ph_mailbox_secret_is_valid (const char *secret);
/* Only canonical base64: decoding then encoding must give @text back,
 * which rejects stray characters, bad padding and junk bits. NULL if not. */
GBytes *ph_mailbox_decode_body (const char *text);

G_END_DECLS
