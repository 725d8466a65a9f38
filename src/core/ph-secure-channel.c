/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-secure-channel"

#include "config.h"

#include <string.h>

#include "ph-certificate.h"
#include "ph-error.h"
#include "ph-secure-channel.h"

/* Large reads let one read take several TLS records; pseudo-TCP's window
 * is 60-90 KiB, so more would rarely fill. */
#define READ_SIZE (64 * 1024)
/* Small frames queued together go out in one TLS write (one record, one
 * pseudo-TCP send) instead of one each. */
#define COALESCE_SIZE (64 * 1024)

#define PIN_MISMATCH_MESSAGE                                                                       \
  "The peer’s certificate does not match the one in its sealed session description — someone " \
  "may be intercepting the connection"

typedef enum
{
  CHANNEL_NEW,
  CHANNEL_OPENING,
  CHANNEL_OPEN,
  CHANNEL_CLOSING,
  CHANNEL_CLOSED,
} ChannelState;

struct _PhSecureChannel
{
  GObject parent_instance;

  GIOStream *base_stream;
  gboolean is_server;
  GTlsCertificate *certificate;
  char *peer_fingerprint;

  ChannelState state;
  GIOStream *tls;
  gint pin_mismatch;         /* atomic: set from the handshake thread */
  GCancellable *cancellable; /* handshake and writes */
  GCancellable *read_cancellable;
  GCancellable *open_cancellable; /* the caller's, while the handshake runs */
  gulong open_cancelled_handler;

  PhFrameDecoder *decoder;
  guint8 *read_buffer;

  GQueue send_queue; /* GBytes, whole encoded frames */
  gsize queued;
  GBytes *writing; /* the buffer being written, or NULL */

  GTask *close_task;
  gboolean closed_emitted;
};

enum
{
  SIGNAL_FRAME_RECEIVED,
  SIGNAL_CLOSED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PhSecureChannel, ph_secure_channel, G_TYPE_OBJECT)

static void start_write (PhSecureChannel *self);
static void start_read (PhSecureChannel *self);

/* Compares every byte whatever the first difference is, so the time taken
 * says nothing about how much of a forged fingerprint was right. */
static gboolean
fingerprints_equal (const char *a, const char *b)
{
  gsize len_a = strlen (a);
  gsize len_b = strlen (b);
  guint8 diff = len_a != len_b;

  for (gsize i = 0; i < MIN (len_a, len_b); i++)
    diff |= (guint8)a[i] ^ (guint8)b[i];
  return diff == 0;
}

static gboolean
certificate_matches_pin (PhSecureChannel *self, GTlsCertificate *certificate)
{
  g_autofree char *fingerprint = NULL;

  if (certificate == NULL)
    return FALSE;
  fingerprint = ph_certificate_get_fingerprint (certificate);
  return fingerprint != NULL && fingerprints_equal (fingerprint, self->peer_fingerprint);
}

/* There is no CA to ask: the pin from the sealed description is the only
 * thing that can vouch for the peer, so it replaces validation entirely. */
static gboolean
accept_certificate_cb (GTlsConnection *connection, GTlsCertificate *peer_certificate,
                       GTlsCertificateFlags errors, PhSecureChannel *self)
{
  if (certificate_matches_pin (self, peer_certificate))
    return TRUE;
  g_atomic_int_set (&self->pin_mismatch, 1);
  return FALSE;
}

static void
tls_closed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhSecureChannel) self = user_data;
  g_autoptr (GError) error = NULL;

  g_io_stream_close_finish (G_IO_STREAM (source), result, &error);
  if (error != NULL)
    g_debug ("Closing TLS: %s", error->message);

  if (self->close_task != NULL)
    {
      g_autoptr (GTask) task = g_steal_pointer (&self->close_task);

      g_task_return_boolean (task, TRUE);
    }
}

/* The end, whatever caused it: emits "closed" once and closes TLS (which
 * closes the base stream) unless a close is already under way. */
static void
finish (PhSecureChannel *self, const GError *error)
{
  gboolean was_closing = self->state == CHANNEL_CLOSING;

  if (self->closed_emitted)
    return;
  self->closed_emitted = TRUE;
  self->state = CHANNEL_CLOSED;

  g_cancellable_cancel (self->read_cancellable);
  if (error != NULL)
    g_cancellable_cancel (self->cancellable);
  g_queue_clear_full (&self->send_queue, (GDestroyNotify)g_bytes_unref);
  self->queued = 0;

  g_object_ref (self);
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, error);
  if (!was_closing && self->tls != NULL)
    g_io_stream_close_async (self->tls, G_PRIORITY_DEFAULT, NULL, tls_closed_cb,
                             g_object_ref (self));
  g_object_unref (self);
}

static void
finish_with_code (PhSecureChannel *self, PhError code, const char *message)
{
  g_autoptr (GError) error = g_error_new_literal (PH_ERROR, code, message);

  finish (self, error);
}

static void
write_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhSecureChannel) self = user_data;
  g_autoptr (GError) error = NULL;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error);
  g_clear_pointer (&self->writing, g_bytes_unref);

  if (self->state == CHANNEL_CLOSED)
    return;
  if (error != NULL)
    {
      finish (self, error);
      return;
    }
  start_write (self);
}

static void
close_tls (PhSecureChannel *self)
{
  /* Our own close, not the peer's: the read that ends with it is not news. */
  g_cancellable_cancel (self->read_cancellable);
  g_io_stream_close_async (self->tls, G_PRIORITY_DEFAULT, NULL, tls_closed_cb, g_object_ref (self));
  finish (self, NULL);
}

static void
start_write (PhSecureChannel *self)
{
  GOutputStream *output;
  GBytes *head;

  g_assert (self->writing == NULL);

  if (g_queue_is_empty (&self->send_queue))
    {
      if (self->state == CHANNEL_CLOSING)
        close_tls (self);
      return;
    }

  head = g_queue_pop_head (&self->send_queue);
  if (g_bytes_get_size (head) >= COALESCE_SIZE || g_queue_is_empty (&self->send_queue))
    self->writing = head;
  else
    {
      GByteArray *batch = g_byte_array_sized_new (COALESCE_SIZE);
      gsize size;
      const guint8 *data = g_bytes_get_data (head, &size);

      g_byte_array_append (batch, data, size);
      g_bytes_unref (head);
      while (!g_queue_is_empty (&self->send_queue)
             && batch->len + g_bytes_get_size (g_queue_peek_head (&self->send_queue))
                    <= COALESCE_SIZE)
        {
          GBytes *next = g_queue_pop_head (&self->send_queue);

          data = g_bytes_get_data (next, &size);
          g_byte_array_append (batch, data, size);
          g_bytes_unref (next);
        }
      self->writing = g_byte_array_free_to_bytes (batch);
    }
  self->queued -= g_bytes_get_size (self->writing);

  output = g_io_stream_get_output_stream (self->tls);
  g_output_stream_write_all_async (output, g_bytes_get_data (self->writing, NULL),
                                   g_bytes_get_size (self->writing), G_PRIORITY_DEFAULT,
                                   self->cancellable, write_cb, g_object_ref (self));
}

/* Returns FALSE once the channel has ended. */
static gboolean
deliver_frames (PhSecureChannel *self)
{
  while (self->state == CHANNEL_OPEN || self->state == CHANNEL_CLOSING)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PhFrame) frame = ph_frame_decoder_pop (self->decoder, &error);

      if (error != NULL)
        {
          g_debug ("Malformed frame: %s", error->message);
          finish_with_code (self, PH_ERROR_INVALID_FRAME,
                            "The peer sent a malformed message; the connection was closed");
          return FALSE;
        }
      if (frame == NULL)
        return TRUE;
      /* A newer peer's frame type: skipped so that peers can grow. */
      if (frame->type != PH_FRAME_UNKNOWN)
        g_signal_emit (self, signals[SIGNAL_FRAME_RECEIVED], 0, frame);
    }
  return FALSE;
}

static void
read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhSecureChannel) self = user_data;
  g_autoptr (GError) error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (self->state == CHANNEL_CLOSED)
    return;

  if (n < 0)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        finish (self, NULL);
      else
        finish (self, error);
      return;
    }
  if (n == 0)
    {
      if (ph_frame_decoder_get_pending (self->decoder) > 0)
        finish_with_code (self, PH_ERROR_INVALID_FRAME,
                          "The connection ended in the middle of a message");
      else
        finish (self, NULL);
      return;
    }

  if (!ph_frame_decoder_push (self->decoder, self->read_buffer, (gsize)n, &error))
    {
      g_debug ("Malformed frame: %s", error->message);
      finish_with_code (self, PH_ERROR_INVALID_FRAME,
                        "The peer sent a malformed message; the connection was closed");
      return;
    }
  if (deliver_frames (self))
    start_read (self);
}

/* One read is pending for the whole session: it is what notices the
 * peer's close and any error. */
static void
start_read (PhSecureChannel *self)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (self->tls), self->read_buffer, READ_SIZE,
                             G_PRIORITY_DEFAULT, self->read_cancellable, read_cb,
                             g_object_ref (self));
}

static void
ph_secure_channel_dispose (GObject *object)
{
  PhSecureChannel *self = PH_SECURE_CHANNEL (object);

  g_cancellable_cancel (self->cancellable);
  g_cancellable_cancel (self->read_cancellable);
  if (self->tls != NULL)
    g_signal_handlers_disconnect_by_data (self->tls, self);
  g_clear_object (&self->tls);
  g_clear_object (&self->base_stream);
  g_clear_object (&self->certificate);
  g_queue_clear_full (&self->send_queue, (GDestroyNotify)g_bytes_unref);

  G_OBJECT_CLASS (ph_secure_channel_parent_class)->dispose (object);
}

static void
ph_secure_channel_finalize (GObject *object)
{
  PhSecureChannel *self = PH_SECURE_CHANNEL (object);

  g_clear_object (&self->cancellable);
  g_clear_object (&self->read_cancellable);
  g_clear_pointer (&self->decoder, ph_frame_decoder_free);
  g_clear_pointer (&self->writing, g_bytes_unref);
  g_free (self->read_buffer);
  g_free (self->peer_fingerprint);

  G_OBJECT_CLASS (ph_secure_channel_parent_class)->finalize (object);
}

static void
ph_secure_channel_class_init (PhSecureChannelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ph_secure_channel_dispose;
  object_class->finalize = ph_secure_channel_finalize;

  signals[SIGNAL_FRAME_RECEIVED]
      = g_signal_new ("frame-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIGNAL_CLOSED] = g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
ph_secure_channel_init (PhSecureChannel *self)
{
  self->cancellable = g_cancellable_new ();
  self->read_cancellable = g_cancellable_new ();
  self->decoder = ph_frame_decoder_new ();
  g_queue_init (&self->send_queue);
}

PhSecureChannel *
ph_secure_channel_new (GIOStream *base_stream, gboolean is_server, GTlsCertificate *certificate,
                       const char *peer_fingerprint)
{
  PhSecureChannel *self;

  g_return_val_if_fail (G_IS_IO_STREAM (base_stream), NULL);
  g_return_val_if_fail (G_IS_TLS_CERTIFICATE (certificate), NULL);
  g_return_val_if_fail (peer_fingerprint != NULL, NULL);

  self = g_object_new (PH_TYPE_SECURE_CHANNEL, NULL);
  self->base_stream = g_object_ref (base_stream);
  self->is_server = is_server;
  self->certificate = g_object_ref (certificate);
  self->peer_fingerprint = g_ascii_strup (peer_fingerprint, -1);
  return self;
}

static void
open_cancelled_cb (GCancellable *cancellable, PhSecureChannel *self)
{
  g_cancellable_cancel (self->cancellable);
}

static void
handshake_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PhSecureChannel *self = g_task_get_source_object (task);
  g_autoptr (GError) error = NULL;

  if (self->open_cancellable != NULL)
    {
      g_cancellable_disconnect (self->open_cancellable, self->open_cancelled_handler);
      self->open_cancelled_handler = 0;
      g_clear_object (&self->open_cancellable);
    }

  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error))
    {
      self->state = CHANNEL_CLOSED;
      if (g_atomic_int_get (&self->pin_mismatch))
        g_task_return_new_error (task, PH_ERROR, PH_ERROR_SECURITY, PIN_MISMATCH_MESSAGE);
      else
        g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* Belt and braces: the handler above decides only when validation
   * fails, and a TLS library is free to skip it otherwise. */
  if (!certificate_matches_pin (self,
                                g_tls_connection_get_peer_certificate (G_TLS_CONNECTION (source))))
    {
      self->state = CHANNEL_CLOSED;
      g_io_stream_close_async (self->tls, G_PRIORITY_DEFAULT, NULL, tls_closed_cb,
                               g_object_ref (self));
      g_task_return_new_error (task, PH_ERROR, PH_ERROR_SECURITY, PIN_MISMATCH_MESSAGE);
      return;
    }

  if (self->state != CHANNEL_OPENING)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "The connection was closed during the handshake");
      return;
    }

  self->state = CHANNEL_OPEN;
  self->read_buffer = g_malloc (READ_SIZE);
  start_read (self);
  g_task_return_boolean (task, TRUE);
}

void
ph_secure_channel_open_async (PhSecureChannel *self, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GError) error = NULL;

  g_return_if_fail (PH_IS_SECURE_CHANNEL (self));
  g_return_if_fail (self->state == CHANNEL_NEW);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ph_secure_channel_open_async);
  self->state = CHANNEL_OPENING;

  if (self->is_server)
    {
      self->tls = g_tls_server_connection_new (self->base_stream, self->certificate, &error);
      if (self->tls != NULL)
        g_object_set (self->tls, "authentication-mode", G_TLS_AUTHENTICATION_REQUIRED, NULL);
    }
  else
    {
      self->tls = g_tls_client_connection_new (self->base_stream, NULL, &error);
      if (self->tls != NULL)
        g_tls_connection_set_certificate (G_TLS_CONNECTION (self->tls), self->certificate);
    }
  if (self->tls == NULL)
    {
      self->state = CHANNEL_CLOSED;
      g_task_return_new_error (task, PH_ERROR, PH_ERROR_FAILED,
                               "TLS is not available (%s); install glib-networking.",
                               error->message);
      return;
    }

  g_tls_connection_set_database (G_TLS_CONNECTION (self->tls), NULL);
  g_signal_connect (self->tls, "accept-certificate", G_CALLBACK (accept_certificate_cb), self);

  if (cancellable != NULL)
    {
      self->open_cancellable = g_object_ref (cancellable);
      self->open_cancelled_handler
          = g_cancellable_connect (cancellable, G_CALLBACK (open_cancelled_cb), self, NULL);
    }
  g_tls_connection_handshake_async (G_TLS_CONNECTION (self->tls), G_PRIORITY_DEFAULT,
                                    self->cancellable, handshake_cb, g_steal_pointer (&task));
}

gboolean
ph_secure_channel_open_finish (PhSecureChannel *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
ph_secure_channel_send (PhSecureChannel *self, const PhFrame *frame, GError **error)
{
  GBytes *bytes;

  g_return_val_if_fail (PH_IS_SECURE_CHANNEL (self), FALSE);
  g_return_val_if_fail (frame != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->state != CHANNEL_OPEN)
    {
      g_set_error_literal (error, PH_ERROR, PH_ERROR_NOT_CONNECTED,
                           "The connection to the peer is not open.");
      return FALSE;
    }

  bytes = ph_frame_encode (frame, error);
  if (bytes == NULL)
    return FALSE;

  self->queued += g_bytes_get_size (bytes);
  g_queue_push_tail (&self->send_queue, bytes);
  if (self->writing == NULL)
    start_write (self);
  return TRUE;
}

gsize
ph_secure_channel_get_queued (PhSecureChannel *self)
{
  g_return_val_if_fail (PH_IS_SECURE_CHANNEL (self), 0);

  return self->queued;
}

void
ph_secure_channel_close_async (PhSecureChannel *self, GAsyncReadyCallback callback,
                               gpointer user_data)
{
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (PH_IS_SECURE_CHANNEL (self));

  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, ph_secure_channel_close_async);

  switch (self->state)
    {
    case CHANNEL_OPEN:
      self->state = CHANNEL_CLOSING;
      self->close_task = g_steal_pointer (&task);
      if (self->writing == NULL)
        start_write (self);
      break;
    case CHANNEL_NEW:
    case CHANNEL_OPENING:
      /* The handshake, if any, ends with G_IO_ERROR_CANCELLED. */
      self->state = CHANNEL_CLOSED;
      g_cancellable_cancel (self->cancellable);
      g_task_return_boolean (task, TRUE);
      break;
    case CHANNEL_CLOSING:
    case CHANNEL_CLOSED:
    default:
      g_task_return_boolean (task, TRUE);
      break;
    }
}

gboolean
ph_secure_channel_close_finish (PhSecureChannel *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
