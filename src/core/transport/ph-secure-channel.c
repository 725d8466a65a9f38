/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-secure-channel"

#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "ph-certificate.h"
#include "ph-error.h"
#include "ph-frame-decoder.h"
#include "ph-secure-channel.h"

/* Large reads let one read take several TLS records; the link's window is
 * about 75 KB, so more would rarely fill. */
#define READ_SIZE (64 * 1024)
/* Small frames queued together go out in one TLS write (one record, full
 * link packets) instead of one each. */
#define COALESCE_SIZE (64 * 1024)
#define READS_PER_DISPATCH 8

#define PIN_MISMATCH_MESSAGE                                                                       \
  N_ ("The peer’s certificate does not match the one in its sealed session description — "     \
      "someone may be intercepting the connection")

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
  GCancellable *cancellable; /* the handshake */
  GMainContext *context;
  GCancellable *open_cancellable; /* the caller's, while the handshake runs */
  gulong open_cancelled_handler;

  PhFrameDecoder *decoder;
  guint8 *read_buffer;
  GSource *read_source;

  GQueue send_queue; /* GBytes, whole encoded frames */
  gsize queued;
  GBytes *writing;       /* the buffer being written, or NULL */
  gsize written;         /* bytes of @writing TLS has taken */
  GSource *write_source; /* waits for TLS to be writable, or for the flush */

  GTask *close_task;
  gboolean tls_closing;
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

static void flush (PhSecureChannel *self);

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

static void
stop_io (PhSecureChannel *self)
{
  if (self->read_source != NULL)
    {
      g_source_destroy (self->read_source);
      g_clear_pointer (&self->read_source, g_source_unref);
    }
  if (self->write_source != NULL)
    {
      g_source_destroy (self->write_source);
      g_clear_pointer (&self->write_source, g_source_unref);
    }
}

/* Sends close_notify (or, after a failed handshake, whatever alert TLS
 * still owes the peer) and closes the base stream, once. */
static void
close_tls (PhSecureChannel *self)
{
  if (self->tls == NULL || self->tls_closing)
    return;
  self->tls_closing = TRUE;
  g_io_stream_close_async (self->tls, G_PRIORITY_DEFAULT, NULL, tls_closed_cb, g_object_ref (self));
}

/* The end, whatever caused it: emits "closed" once and closes TLS. */
static void
finish (PhSecureChannel *self, const GError *error)
{
  if (self->closed_emitted)
    return;
  self->closed_emitted = TRUE;
  self->state = CHANNEL_CLOSED;

  stop_io (self);
  g_queue_clear_full (&self->send_queue, (GDestroyNotify)g_bytes_unref);
  self->queued = 0;

  g_object_ref (self);
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, error);
  close_tls (self);
  g_object_unref (self);
}

static void
finish_with_code (PhSecureChannel *self, PhError code, const char *message)
{
  g_autoptr (GError) error = g_error_new_literal (PH_ERROR, code, message);

  finish (self, error);
}

/* The next buffer to write: a large frame alone, small ones together. */
static GBytes *
take_batch (PhSecureChannel *self)
{
  GBytes *head = g_queue_pop_head (&self->send_queue);
  GByteArray *batch;

  if (g_bytes_get_size (head) >= COALESCE_SIZE || g_queue_is_empty (&self->send_queue)
      || g_bytes_get_size (head) + g_bytes_get_size (g_queue_peek_head (&self->send_queue))
             > COALESCE_SIZE)
    return head;

  batch = g_byte_array_sized_new (COALESCE_SIZE);
  g_byte_array_append (batch, g_bytes_get_data (head, NULL), g_bytes_get_size (head));
  g_bytes_unref (head);
  while (!g_queue_is_empty (&self->send_queue)
         && batch->len + g_bytes_get_size (g_queue_peek_head (&self->send_queue)) <= COALESCE_SIZE)
    {
      GBytes *next = g_queue_pop_head (&self->send_queue);

      g_byte_array_append (batch, g_bytes_get_data (next, NULL), g_bytes_get_size (next));
      g_bytes_unref (next);
    }
  return g_byte_array_free_to_bytes (batch);
}

static gboolean
flush_cb (gpointer user_data)
{
  g_autoptr (PhSecureChannel) self = g_object_ref (user_data);

  g_clear_pointer (&self->write_source, g_source_unref);
  flush (self);
  return G_SOURCE_REMOVE;
}

/* Frames sent during one main-loop dispatch after the first go out together
 * in the next: a burst of small frames becomes a few large TLS records
 * filling whole link packets instead of a flood of tiny ones. */
static void
schedule_flush (PhSecureChannel *self)
{
  if (self->write_source != NULL)
    return;
  self->write_source = g_idle_source_new ();
  g_source_set_priority (self->write_source, G_PRIORITY_DEFAULT);
  g_source_set_static_name (self->write_source, "PhSecureChannel flush");
  g_source_set_callback (self->write_source, flush_cb, self, NULL);
  g_source_attach (self->write_source, self->context);
}

static gboolean
write_ready_cb (GObject *stream, gpointer user_data)
{
  g_autoptr (PhSecureChannel) self = g_object_ref (user_data);

  g_clear_pointer (&self->write_source, g_source_unref);
  flush (self);
  return G_SOURCE_REMOVE;
}

/* Writes without waiting until the queue is empty or TLS would block, and
 * then waits for the stream to become writable. Writing straight away,
 * rather than through write_async, keeps a message's round trip to the
 * cost of TLS and the link. */
static void
flush (PhSecureChannel *self)
{
  GPollableOutputStream *output
      = G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (self->tls));

  while (self->state == CHANNEL_OPEN || self->state == CHANNEL_CLOSING)
    {
      g_autoptr (GError) error = NULL;
      const guint8 *data;
      gsize size;
      gssize n;

      if (self->writing == NULL)
        {
          if (g_queue_is_empty (&self->send_queue))
            {
              /* Our own close, once everything queued has gone to TLS. */
              if (self->state == CHANNEL_CLOSING)
                finish (self, NULL);
              return;
            }
          self->writing = take_batch (self);
          self->written = 0;
          self->queued -= g_bytes_get_size (self->writing);
        }

      data = g_bytes_get_data (self->writing, &size);
      n = g_pollable_output_stream_write_nonblocking (output, data + self->written,
                                                      size - self->written, NULL, &error);
      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          if (self->write_source == NULL)
            {
              self->write_source = g_pollable_output_stream_create_source (output, NULL);
              g_source_set_callback (self->write_source, G_SOURCE_FUNC (write_ready_cb), self,
                                     NULL);
              g_source_attach (self->write_source, self->context);
            }
          return;
        }
      if (n < 0)
        {
          finish (self, error);
          return;
        }

      self->written += (gsize)n;
      if (self->written == size)
        g_clear_pointer (&self->writing, g_bytes_unref);
    }
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
                            _ ("The peer sent a malformed message; the connection was closed"));
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

/* The read side is a pollable source that stays attached for the whole
 * session, the equivalent of a read always pending: it is what notices the
 * peer's close and any error. A few reads per dispatch let the rest of the
 * main loop run while a fast peer keeps sending. */
static gboolean
read_ready_cb (GObject *stream, gpointer user_data)
{
  g_autoptr (PhSecureChannel) self = g_object_ref (user_data);

  for (guint i = 0; i < READS_PER_DISPATCH; i++)
    {
      g_autoptr (GError) error = NULL;
      gssize n = g_pollable_input_stream_read_nonblocking (
          G_POLLABLE_INPUT_STREAM (stream), self->read_buffer, READ_SIZE, NULL, &error);

      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        return G_SOURCE_CONTINUE;
      if (n < 0)
        {
          finish (self, error);
          return G_SOURCE_REMOVE;
        }
      if (n == 0)
        {
          if (ph_frame_decoder_get_pending (self->decoder) > 0)
            finish_with_code (self, PH_ERROR_INVALID_FRAME,
                              _ ("The connection ended in the middle of a message"));
          else
            finish (self, NULL);
          return G_SOURCE_REMOVE;
        }
      if (!ph_frame_decoder_push (self->decoder, self->read_buffer, (gsize)n, &error))
        {
          g_debug ("Malformed frame: %s", error->message);
          finish_with_code (self, PH_ERROR_INVALID_FRAME,
                            _ ("The peer sent a malformed message; the connection was closed"));
          return G_SOURCE_REMOVE;
        }
      if (!deliver_frames (self))
        return G_SOURCE_REMOVE;
      /* Cheaper than a read that fails with WOULD_BLOCK. */
      if (!g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (stream)))
        break;
    }
  return G_SOURCE_CONTINUE;
}

static void
start_reading (PhSecureChannel *self)
{
  GInputStream *input = g_io_stream_get_input_stream (self->tls);

  self->read_buffer = g_malloc (READ_SIZE);
  self->read_source = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (input), NULL);
  g_source_set_callback (self->read_source, G_SOURCE_FUNC (read_ready_cb), self, NULL);
  g_source_attach (self->read_source, self->context);
}

static void
ph_secure_channel_dispose (GObject *object)
{
  PhSecureChannel *self = PH_SECURE_CHANNEL (object);

  g_cancellable_cancel (self->cancellable);
  stop_io (self);
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
  g_clear_pointer (&self->context, g_main_context_unref);
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
  self->context = g_main_context_ref_thread_default ();
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
      close_tls (self);
      if (g_atomic_int_get (&self->pin_mismatch))
        g_task_return_new_error (task, PH_ERROR, PH_ERROR_SECURITY, "%s", _ (PIN_MISMATCH_MESSAGE));
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
      close_tls (self);
      g_task_return_new_error (task, PH_ERROR, PH_ERROR_SECURITY, "%s", _ (PIN_MISMATCH_MESSAGE));
      return;
    }

  /* GIO lets the TLS library negotiate down to 1.2; the design promises
   * 1.3 (no renegotiation, encrypted certificates), so a peer that cannot
   * speak it is refused before any frame goes out. */
  if (g_tls_connection_get_protocol_version (G_TLS_CONNECTION (source))
      != G_TLS_PROTOCOL_VERSION_TLS_1_3)
    {
      self->state = CHANNEL_CLOSED;
      close_tls (self);
      g_task_return_new_error (task, PH_ERROR, PH_ERROR_SECURITY, "%s",
                               _ ("The peer does not speak TLS 1.3; the connection was refused"));
      return;
    }

  if (self->state != CHANNEL_OPENING)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "%s",
                               _ ("The connection was closed during the handshake"));
      return;
    }

  self->state = CHANNEL_OPEN;
  start_reading (self);
  g_task_return_boolean (task, TRUE);
}

void
ph_secure_channel_open_async (PhSecureChannel *self, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (GError) error = NULL;
  GTlsBackend *backend;

  g_return_if_fail (PH_IS_SECURE_CHANNEL (self));
  g_return_if_fail (self->state == CHANNEL_NEW);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ph_secure_channel_open_async);
  self->state = CHANNEL_OPENING;

  /* Built with the database already NULL: g_tls_client_connection_new()
   * would first load the system's CA bundle, 6-20 ms of setup spent on
   * certificates this channel never trusts. */
  backend = g_tls_backend_get_default ();
  if (self->is_server)
    self->tls = g_initable_new (g_tls_backend_get_server_connection_type (backend), NULL, &error,
                                "base-io-stream", self->base_stream, "certificate",
                                self->certificate, "authentication-mode",
                                G_TLS_AUTHENTICATION_REQUIRED, "database", NULL, NULL);
  else
    self->tls = g_initable_new (g_tls_backend_get_client_connection_type (backend), NULL, &error,
                                "base-io-stream", self->base_stream, "certificate",
                                self->certificate, "database", NULL, NULL);
  if (self->tls == NULL)
    {
      self->state = CHANNEL_CLOSED;
      g_task_return_new_error (task, PH_ERROR, PH_ERROR_FAILED,
                               /* Translators: %s is the system's reason. */
                               _ ("TLS is not available (%s); install glib-networking."),
                               error->message);
      return;
    }

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
                           _ ("The connection to the peer is not open."));
      return FALSE;
    }

  bytes = ph_frame_encode (frame, error);
  if (bytes == NULL)
    return FALSE;

  self->queued += g_bytes_get_size (bytes);
  g_queue_push_tail (&self->send_queue, bytes);
  /* The first frame goes out at once, for the round trip; the flush then
   * scheduled gathers whatever else is sent in this dispatch. */
  if (self->write_source == NULL)
    {
      flush (self);
      if (self->state == CHANNEL_OPEN)
        schedule_flush (self);
    }
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
      schedule_flush (self);
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
