/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "ph-rendezvous-client.h"

G_BEGIN_DECLS

/* Several mailbox messages in one: a side that has a few to post at once
 * (the PAKE message, a confirmation and a description) posts them as one
 * message of phase "batch", a request and a round trip instead of three.
 * The body is each message in turn, its phase (one byte of length, then
 * 1 to 16 lower-case letters, never "batch") and its body (four bytes of
 * length, big-endian, then the bytes). Readers take it apart and handle
 * each message in order, as if posted one by one. */

#define PH_MAILBOX_BATCH_PHASE "batch"
/* Of messages in one batch. */
#define PH_MAILBOX_BATCH_MAX_MESSAGES 16

/* @phases and @bodies: @n (2 to PH_MAILBOX_BATCH_MAX_MESSAGES) of each. */
GBytes *ph_mailbox_batch_encode (const char *const *phases, GBytes *const *bodies, guint n);
/* The messages in @batch (a message of phase "batch"), in order, each
 * with @batch's index and side: a GPtrArray of PhMailboxMessage that
 * frees them. NULL and PH_ERROR_PROTOCOL when it is not a well-formed
 * batch of 1 to PH_MAILBOX_BATCH_MAX_MESSAGES messages. */
GPtrArray *ph_mailbox_batch_decode (const PhMailboxMessage *batch, GError **error);

G_END_DECLS
