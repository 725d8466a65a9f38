/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-mailbox-batch"

#include "config.h"

#include <string.h>

#include "ph-error.h"
#include "ph-mailbox-batch.h"

#define MAX_PHASE_LENGTH 16

GBytes *
ph_mailbox_batch_encode (const char *const *phases, GBytes *const *bodies, guint n)
{
  GByteArray *out = g_byte_array_new ();

  g_return_val_if_fail (n >= 2 && n <= PH_MAILBOX_BATCH_MAX_MESSAGES, NULL);

  for (guint i = 0; i < n; i++)
    {
      gsize phase_length = strlen (phases[i]);
      gsize body_length;
      const guint8 *body = g_bytes_get_data (bodies[i], &body_length);
      guint8 header[4];

      g_return_val_if_fail (phase_length >= 1 && phase_length <= MAX_PHASE_LENGTH, NULL);
      g_return_val_if_fail (!g_str_equal (phases[i], PH_MAILBOX_BATCH_PHASE), NULL);

      header[0] = (guint8)phase_length;
      g_byte_array_append (out, header, 1);
      g_byte_array_append (out, (const guint8 *)phases[i], (guint)phase_length);
      header[0] = (guint8)(body_length >> 24);
      header[1] = (guint8)(body_length >> 16);
      header[2] = (guint8)(body_length >> 8);
      header[3] = (guint8)body_length;
      g_byte_array_append (out, header, 4);
      if (body_length > 0)
        g_byte_array_append (out, body, (guint)body_length);
    }
  return g_byte_array_free_to_bytes (out);
}

static gboolean
is_phase (const guint8 *data, gsize length)
{
  if (length < 1 || length > MAX_PHASE_LENGTH)
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (data[i] < 'a' || data[i] > 'z')
      return FALSE;
  return length != strlen (PH_MAILBOX_BATCH_PHASE)
         || memcmp (data, PH_MAILBOX_BATCH_PHASE, length) != 0;
}

GPtrArray *
ph_mailbox_batch_decode (const PhMailboxMessage *batch, GError **error)
{
  g_autoptr (GPtrArray) messages
      = g_ptr_array_new_with_free_func ((GDestroyNotify)ph_mailbox_message_free);
  gsize size;
  const guint8 *data = g_bytes_get_data (batch->body, &size);
  gsize at = 0;
  gboolean whole = TRUE;

  while (at < size && whole)
    {
      gsize phase_length = data[at];
      gsize body_length;
      PhMailboxMessage *message;

      if (messages->len == PH_MAILBOX_BATCH_MAX_MESSAGES || size - at < 1 + phase_length + 4
          || !is_phase (data + at + 1, phase_length))
        {
          whole = FALSE;
          break;
        }
      at += 1 + phase_length;
      body_length = (gsize)data[at] << 24 | (gsize)data[at + 1] << 16 | (gsize)data[at + 2] << 8
                    | data[at + 3];
      at += 4;
      if (body_length > size - at)
        {
          whole = FALSE;
          break;
        }
      message = g_new0 (PhMailboxMessage, 1);
      message->index = batch->index;
      message->side = g_strdup (batch->side);
      message->phase = g_strndup ((const char *)data + at - 4 - phase_length, phase_length);
      message->body = g_bytes_new_from_bytes (batch->body, at, body_length);
      g_ptr_array_add (messages, message);
      at += body_length;
    }

  if (!whole || messages->len == 0)
    {
      g_set_error_literal (error, PH_ERROR, PH_ERROR_PROTOCOL,
                           "The peer posted a malformed batch of messages.");
      return NULL;
    }
  return g_steal_pointer (&messages);
}
