/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include <signal_protocol.h>

G_BEGIN_DECLS

/* A libsignal-protocol-c context whose primitives come from the libraries
 * Pinhole already trusts: HMAC-SHA256, SHA-512 and random bytes from
 * libsodium, AES-256 in CBC (PKCS#5 padding) and CTR mode from GnuTLS.
 * libsignal's own locking calls take a recursive mutex, and its log goes
 * to g_debug. Not a GObject: it is the C handle libsignal asks for, owned
 * by whoever runs the ratchet. */
typedef struct _PhSignalContext PhSignalContext;

PhSignalContext *ph_signal_context_new (void);
void ph_signal_context_free (PhSignalContext *self);
signal_context *ph_signal_context_get (PhSignalContext *self);

/* The provider alone, for tests of its primitives. */
const signal_crypto_provider *ph_signal_crypto_provider (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhSignalContext, ph_signal_context_free)

G_END_DECLS
