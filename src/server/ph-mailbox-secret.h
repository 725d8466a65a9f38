/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The secrets that make a side of a mailbox its own: 32 bytes from the
 * kernel's CSPRNG (getrandom), handed to the side once as hexadecimal
 * digits (src/wire/ph-mailbox-format.h). The store keeps only their
 * SHA-256, so a look at its memory gives nobody a way in, and compares
 * those in constant time. */

#define PH_MAILBOX_SECRET_HASH_SIZE 32

/* Fills @buffer with random bytes; aborts if the kernel has none to give,
 * which only a system without getrandom (Linux before 3.17) would do. */
void ph_mailbox_secret_random (guint8 *buffer, gsize length);
/* A new secret; its hash goes to @out_hash. */
char *ph_mailbox_secret_new (guint8 out_hash[PH_MAILBOX_SECRET_HASH_SIZE]);
/* SHA-256 of @text, any string: a secret, or a client's Idempotency-Key. */
void ph_mailbox_secret_hash (const char *text, guint8 out_hash[PH_MAILBOX_SECRET_HASH_SIZE]);
/* Whether two hashes are equal, in a time that does not depend on where
 * they differ. */
gboolean ph_mailbox_secret_hash_equal (const guint8 *a, const guint8 *b);

G_END_DECLS
