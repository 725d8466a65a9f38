/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ph-frame.h"

G_BEGIN_DECLS

/* TLS 1.3 over the ICE stream, each side accepting only the certificate
 * whose SHA-256 fingerprint arrived in the PAKE-sealed description, then
 * frames both ways. The host is the TLS server, the joiner the client. */

#define PH_TYPE_SECURE_CHANNEL (ph_secure_channel_get_type ())
G_DECLARE_FINAL_TYPE (PhSecureChannel, ph_secure_channel, PH, SECURE_CHANNEL, GObject)

/* Signals:
 *  "frame-received" (const PhFrame *frame): every frame but unknown types;
 *  "closed" (const GError *error): the stream ended; error is NULL for a
 *     clean end, PH_ERROR_INVALID_FRAME for a malformed frame, or the I/O
 *     error. Emitted once. */

PhSecureChannel *ph_secure_channel_new (GIOStream *base_stream, gboolean is_server,
                                        GTlsCertificate *certificate, const char *peer_fingerprint);
/* The handshake. PH_ERROR_SECURITY when the peer's certificate does not
 * match the pinned fingerprint. */
void ph_secure_channel_open_async (PhSecureChannel *self, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data);
gboolean ph_secure_channel_open_finish (PhSecureChannel *self, GAsyncResult *result,
                                        GError **error);
/* Queues a frame; frames are written in order. PH_ERROR_TOO_LARGE,
 * PH_ERROR_NOT_CONNECTED. */
gboolean ph_secure_channel_send (PhSecureChannel *self, const PhFrame *frame, GError **error);
/* Bytes queued but not yet handed to TLS: for flow control. */
gsize ph_secure_channel_get_queued (PhSecureChannel *self);
/* Flushes what is queued, sends close_notify, closes the base stream. */
void ph_secure_channel_close_async (PhSecureChannel *self, GAsyncReadyCallback callback,
                                    gpointer user_data);
gboolean ph_secure_channel_close_finish (PhSecureChannel *self, GAsyncResult *result,
                                         GError **error);

G_END_DECLS
