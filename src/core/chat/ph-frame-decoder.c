/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-frame-decoder"

#include "config.h"

#include "ph-error.h"
#include "ph-frame-decoder.h"

/* Memory a decoder keeps after a large frame is popped. */
#define DECODER_KEEP_SIZE (64 * 1024)
/* Compacting only once this much is consumed keeps small frames cheap. */
#define DECODER_COMPACT_MIN 4096

struct _PhFrameDecoder
{
  GByteArray *buffer;
  gsize read_offset; /* first byte not yet popped */
  gsize scan_offset; /* first byte after the frames known to be whole */
  gboolean failed;
};

PhFrameDecoder *
ph_frame_decoder_new (void)
{
  PhFrameDecoder *self = g_new0 (PhFrameDecoder, 1);

  self->buffer = g_byte_array_new ();
  return self;
}

void
ph_frame_decoder_free (PhFrameDecoder *self)
{
  if (self == NULL)
    return;

  g_byte_array_unref (self->buffer);
  g_free (self);
}

static void
set_broken_error (GError **error)
{
  g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME,
               "The channel already delivered a malformed frame and cannot continue");
}

/* Drops popped bytes once they are at least half the buffer, so a stream
 * of small frames costs amortised constant work per byte. */
static void
compact (PhFrameDecoder *self)
{
  if (self->read_offset == self->buffer->len)
    {
      if (self->buffer->len > DECODER_KEEP_SIZE)
        {
          g_byte_array_unref (self->buffer);
          self->buffer = g_byte_array_new ();
        }
      else
        g_byte_array_set_size (self->buffer, 0);
      self->scan_offset = 0;
      self->read_offset = 0;
    }
  else if (self->read_offset >= DECODER_COMPACT_MIN && self->read_offset >= self->buffer->len / 2)
    {
      g_byte_array_remove_range (self->buffer, 0, self->read_offset);
      self->scan_offset -= self->read_offset;
      self->read_offset = 0;
    }
}

gboolean
ph_frame_decoder_push (PhFrameDecoder *self, const guint8 *data, gsize length, GError **error)
{
  gsize held, total, pos;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (data != NULL || length == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->failed)
    {
      set_broken_error (error);
      return FALSE;
    }

  compact (self);

  /* Walk the length prefixes across what is held and what arrives before
   * keeping anything, so a bad prefix never makes the decoder buffer the
   * body it announces. */
  held = self->buffer->len;
  total = held + length;
  pos = self->scan_offset;
  while (total - pos >= PH_FRAME_LENGTH_PREFIX_SIZE)
    {
      guint32 frame_length = 0;

      for (gsize i = 0; i < PH_FRAME_LENGTH_PREFIX_SIZE; i++)
        {
          gsize at = pos + i;
          guint8 byte = at < held ? self->buffer->data[at] : data[at - held];

          frame_length = (frame_length << 8) | byte;
        }

      if (frame_length == 0 || frame_length > PH_FRAME_MAX_SIZE)
        {
          self->failed = TRUE;
          if (frame_length == 0)
            g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME,
                         "The peer sent an empty frame (length 0)");
          else
            g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME,
                         "The peer announced a frame of %u bytes; the limit is %d bytes",
                         frame_length, PH_FRAME_MAX_SIZE);
          return FALSE;
        }

      if (total - pos - PH_FRAME_LENGTH_PREFIX_SIZE < frame_length)
        break;
      pos += PH_FRAME_LENGTH_PREFIX_SIZE + frame_length;
    }

  g_byte_array_append (self->buffer, data, length);
  self->scan_offset = pos;
  return TRUE;
}

PhFrame *
ph_frame_decoder_pop (PhFrameDecoder *self, GError **error)
{
  const guint8 *start;
  guint32 frame_length;
  PhFrame *frame;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (self->failed)
    {
      set_broken_error (error);
      return NULL;
    }
  if (self->read_offset == self->scan_offset)
    return NULL;

  start = self->buffer->data + self->read_offset;
  frame_length
      = ((guint32)start[0] << 24) | ((guint32)start[1] << 16) | ((guint32)start[2] << 8) | start[3];
  frame = ph_frame_parse ((const char *)start + PH_FRAME_LENGTH_PREFIX_SIZE, frame_length, error);
  self->read_offset += PH_FRAME_LENGTH_PREFIX_SIZE + frame_length;
  compact (self);

  return frame;
}

gsize
ph_frame_decoder_get_pending (PhFrameDecoder *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->buffer->len - self->scan_offset;
}
