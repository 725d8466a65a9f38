/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "ph-frame.h"

G_BEGIN_DECLS

/* Splits a byte stream into frames. */
typedef struct _PhFrameDecoder PhFrameDecoder;

PhFrameDecoder *ph_frame_decoder_new (void);
void ph_frame_decoder_free (PhFrameDecoder *self);
/* Appends bytes. PH_ERROR_INVALID_FRAME when a length prefix is 0 or over
 * PH_FRAME_MAX_SIZE; the decoder is then unusable. */
gboolean ph_frame_decoder_push (PhFrameDecoder *self, const guint8 *data, gsize length,
                                GError **error);
/* The next whole frame, or NULL with no error when more bytes are needed,
 * or NULL with an error when the frame is malformed. */
PhFrame *ph_frame_decoder_pop (PhFrameDecoder *self, GError **error);
/* Bytes held that do not yet form a whole frame. */
gsize ph_frame_decoder_get_pending (PhFrameDecoder *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhFrameDecoder, ph_frame_decoder_free)

G_END_DECLS
