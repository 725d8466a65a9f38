/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-nice-stream"

#include "config.h"

#include <string.h>

#include "ph-nice-stream.h"
#include "ph-reliable-link.h"

/* A GIOStream over one libnice component, with its input and output
 * halves, pollable sources, the packet pump into PhReliableLink and its
 * timers. One file because the halves, the sources and the agent's
 * callbacks share one state and one lock; that is why it is longer than
 * most.
 *
 * The link hands over in-order bytes as soon as they arrive, so its window
 * never pushes back on the peer; the buffer is drained by whoever reads
 * (the secure channel keeps a read source attached all the time, on the
 * same main context, so it stays near one window in practice). A peer that
 * keeps sending while nobody reads would grow it without end, so past this
 * bound the stream fails instead: the reader gets what was buffered, then
 * G_IO_ERROR_NO_SPACE. */
#define MAX_BUFFERED PH_NICE_STREAM_MAX_BUFFERED

/* State shared by the GIOStream, its two halves and the agent callbacks,
 * which can run on different threads. Everything below the mutex is
 * guarded by it. */
typedef struct
{
  NiceAgent *agent;
  guint stream_id; /* the one we send on; atomic, see ph_nice_stream_send_on */
  guint component_id;

  GSource *timer; /* the link's deadline, on the agent's context */

  GMutex mutex;
  GCond cond;
  PhReliableLink *link;
  GByteArray *buffer;
  gsize offset;  /* bytes of @buffer already read */
  gboolean eof;  /* the peer ended the link */
  GError *error; /* the component failed or the stream went away */
  gboolean input_closed;
  gboolean output_closed;
  gboolean connected;        /* ICE has a pair to send on */
  gboolean awaiting_numbers; /* the link carries nothing before they come */
  guint64 early_packets;     /* dropped while awaiting them */
  guint heard_on;            /* the stream of the peer's last link packet */
  guint n_waiters;           /* threads blocked on @cond */
  /* Contexts whose pollable sources may wait on this stream; replaced, never
   * changed, so that a notifier can use it after unlocking. */
  GPtrArray *contexts;
  GMainContext *agent_context;
} Shared;

static Shared *
shared_ref (Shared *shared)
{
  return g_atomic_rc_box_acquire (shared);
}

static void
shared_clear (Shared *shared)
{
  g_clear_object (&shared->agent);
  g_clear_pointer (&shared->timer, g_source_unref);
  g_clear_pointer (&shared->link, ph_reliable_link_free);
  g_mutex_clear (&shared->mutex);
  g_cond_clear (&shared->cond);
  g_clear_pointer (&shared->buffer, g_byte_array_unref);
  g_clear_error (&shared->error);
  g_clear_pointer (&shared->contexts, g_ptr_array_unref);
  g_clear_pointer (&shared->agent_context, g_main_context_unref);
}

static void
shared_unref (Shared *shared)
{
  g_atomic_rc_box_release_full (shared, (GDestroyNotify)shared_clear);
}

static gboolean input_ready_locked (Shared *shared);
static gboolean output_ready_locked (Shared *shared);

/* Takes the packets the link wants sent, and sets its timer. Called with
 * the mutex held; send them with send_packets() after unlocking. */
static void
take_packets_locked (Shared *shared, GQueue *packets)
{
  GBytes *packet;

  while ((packet = ph_reliable_link_pop_packet (shared->link)) != NULL)
    g_queue_push_tail (packets, packet);
  g_source_set_ready_time (shared->timer, ph_reliable_link_get_deadline (shared->link));
}

/* Never under our mutex: the agent's lock comes first in its own
 * callbacks, which then take ours. A datagram the agent cannot send now
 * (no pair yet, socket full) is a lost packet the link sends again. */
static void
send_packets (Shared *shared, GQueue *packets)
{
  GBytes *packet;

  while ((packet = g_queue_pop_head (packets)) != NULL)
    {
      gsize length;
      const guint8 *data = g_bytes_get_data (packet, &length);

      nice_agent_send (shared->agent, (guint)g_atomic_int_get (&shared->stream_id),
                       shared->component_id, (guint)length, (const gchar *)data);
      g_bytes_unref (packet);
    }
}

/* Tells everyone waiting that something changed, and unlocks. Blocked
 * threads wake through @cond; pollable sources are level-triggered (their
 * prepare and check look at the state), so their contexts only need to be
 * woken from poll(). The context the agent calls us from is about to
 * prepare its sources anyway and is skipped when @from_agent_context. */
static void
notify_unlock (Shared *shared, gboolean from_agent_context)
{
  GPtrArray *contexts = g_ptr_array_ref (shared->contexts);

  if (shared->n_waiters > 0)
    g_cond_broadcast (&shared->cond);
  g_mutex_unlock (&shared->mutex);

  for (guint i = 0; i < contexts->len; i++)
    if (!from_agent_context || contexts->pdata[i] != shared->agent_context)
      g_main_context_wakeup (contexts->pdata[i]);
  g_ptr_array_unref (contexts);
}

static void
wait_locked (Shared *shared)
{
  shared->n_waiters++;
  g_cond_wait (&shared->cond, &shared->mutex);
  shared->n_waiters--;
}

typedef struct
{
  GSource source;
  Shared *shared;
  gboolean output;
} WaitSource;

static gpointer
copy_context (gconstpointer context, gpointer user_data)
{
  return g_main_context_ref ((GMainContext *)context);
}

static gboolean
wait_source_ready (GSource *source)
{
  WaitSource *self = (WaitSource *)source;
  Shared *shared = self->shared;
  GMainContext *context = g_source_get_context (source);
  gboolean ready;

  g_mutex_lock (&shared->mutex);
  ready = self->output ? output_ready_locked (shared) : input_ready_locked (shared);
  if (!ready && context != NULL && !g_ptr_array_find (shared->contexts, context, NULL))
    {
      GPtrArray *contexts = g_ptr_array_copy (shared->contexts, copy_context, NULL);

      g_ptr_array_add (contexts, g_main_context_ref (context));
      g_ptr_array_unref (shared->contexts);
      shared->contexts = contexts;
    }
  g_mutex_unlock (&shared->mutex);
  return ready;
}

static gboolean
wait_source_prepare (GSource *source, gint *timeout)
{
  *timeout = -1;
  return wait_source_ready (source);
}

static gboolean
wait_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  return callback != NULL ? callback (user_data) : G_SOURCE_CONTINUE;
}

static void
wait_source_finalize (GSource *source)
{
  g_clear_pointer (&((WaitSource *)source)->shared, shared_unref);
}

/* g_pollable_source_new_full() gives its child a dummy closure. */
static gboolean
wait_source_closure_callback (gpointer data)
{
  GClosure *closure = data;
  GValue result = G_VALUE_INIT;
  gboolean ret;

  g_value_init (&result, G_TYPE_BOOLEAN);
  g_closure_invoke (closure, &result, 0, NULL, NULL);
  ret = g_value_get_boolean (&result);
  g_value_unset (&result);
  return ret;
}

static GSourceFuncs wait_source_funcs = {
  .prepare = wait_source_prepare,
  .check = wait_source_ready,
  .dispatch = wait_source_dispatch,
  .finalize = wait_source_finalize,
  .closure_callback = wait_source_closure_callback,
};

/* The child of a pollable source: ready while the stream is readable
 * (or writable), like a file descriptor's POLLIN (or POLLOUT). */
static GSource *
wait_source_new (Shared *shared, gboolean output)
{
  GSource *source = g_source_new (&wait_source_funcs, sizeof (WaitSource));
  WaitSource *self = (WaitSource *)source;

  g_source_set_static_name (source, output ? "PhNiceStream writable" : "PhNiceStream readable");
  self->shared = shared_ref (shared);
  self->output = output;
  return source;
}

static void
cancelled_cb (GCancellable *cancellable, Shared *shared)
{
  g_mutex_lock (&shared->mutex);
  g_cond_broadcast (&shared->cond);
  g_mutex_unlock (&shared->mutex);
}

/* Input half */

#define PH_TYPE_NICE_INPUT_STREAM (ph_nice_input_stream_get_type ())
G_DECLARE_FINAL_TYPE (PhNiceInputStream, ph_nice_input_stream, PH, NICE_INPUT_STREAM, GInputStream)

struct _PhNiceInputStream
{
  GInputStream parent_instance;
  Shared *shared;
};

static void ph_nice_input_stream_pollable_init (GPollableInputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PhNiceInputStream, ph_nice_input_stream, G_TYPE_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      ph_nice_input_stream_pollable_init))

static gboolean
input_ready_locked (Shared *shared)
{
  return shared->buffer->len > shared->offset || shared->eof || shared->error != NULL
         || shared->input_closed;
}

/* Reads what is buffered: bytes first, then EOF or the error. Returns -2
 * when the caller would have to wait. Called with the mutex held. */
static gssize
read_locked (Shared *shared, void *buffer, gsize count, GError **error)
{
  gsize available = shared->buffer->len - shared->offset;

  if (shared->input_closed)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "Stream is already closed");
      return -1;
    }
  if (available > 0)
    {
      gsize n = MIN (available, count);

      memcpy (buffer, shared->buffer->data + shared->offset, n);
      shared->offset += n;
      if (shared->offset == shared->buffer->len)
        {
          g_byte_array_set_size (shared->buffer, 0);
          shared->offset = 0;
        }
      return (gssize)n;
    }
  if (shared->error != NULL)
    {
      g_propagate_error (error, g_error_copy (shared->error));
      return -1;
    }
  if (shared->eof)
    return 0;
  return -2;
}

static gssize
ph_nice_input_stream_read (GInputStream *stream, void *buffer, gsize count,
                           GCancellable *cancellable, GError **error)
{
  Shared *shared = PH_NICE_INPUT_STREAM (stream)->shared;
  gulong handler = 0;
  gssize ret;

  if (cancellable != NULL)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (cancelled_cb), shared, NULL);

  g_mutex_lock (&shared->mutex);
  while ((ret = read_locked (shared, buffer, count, error)) == -2)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          ret = -1;
          break;
        }
      wait_locked (shared);
    }
  g_mutex_unlock (&shared->mutex);

  if (handler != 0)
    g_cancellable_disconnect (cancellable, handler);
  return ret;
}

static gssize
ph_nice_input_stream_read_nonblocking (GPollableInputStream *stream, void *buffer, gsize count,
                                       GError **error)
{
  Shared *shared = PH_NICE_INPUT_STREAM (stream)->shared;
  gssize ret;

  g_mutex_lock (&shared->mutex);
  ret = read_locked (shared, buffer, count, error);
  g_mutex_unlock (&shared->mutex);

  if (ret == -2)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "No data from the peer yet");
      return -1;
    }
  return ret;
}

static gboolean
ph_nice_input_stream_is_readable (GPollableInputStream *stream)
{
  Shared *shared = PH_NICE_INPUT_STREAM (stream)->shared;
  gboolean ready;

  g_mutex_lock (&shared->mutex);
  ready = input_ready_locked (shared);
  g_mutex_unlock (&shared->mutex);
  return ready;
}

static GSource *
ph_nice_input_stream_create_source (GPollableInputStream *stream, GCancellable *cancellable)
{
  g_autoptr (GSource) child = wait_source_new (PH_NICE_INPUT_STREAM (stream)->shared, FALSE);

  return g_pollable_source_new_full (stream, child, cancellable);
}

static gboolean
ph_nice_input_stream_close (GInputStream *stream, GCancellable *cancellable, GError **error)
{
  Shared *shared = PH_NICE_INPUT_STREAM (stream)->shared;

  g_mutex_lock (&shared->mutex);
  shared->input_closed = TRUE;
  notify_unlock (shared, FALSE);
  return TRUE;
}

static void
ph_nice_input_stream_finalize (GObject *object)
{
  PhNiceInputStream *self = PH_NICE_INPUT_STREAM (object);

  g_clear_pointer (&self->shared, shared_unref);

  G_OBJECT_CLASS (ph_nice_input_stream_parent_class)->finalize (object);
}

static gboolean
ph_nice_input_stream_can_poll (GPollableInputStream *stream)
{
  return TRUE;
}

static void
ph_nice_input_stream_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = ph_nice_input_stream_can_poll;
  iface->is_readable = ph_nice_input_stream_is_readable;
  iface->create_source = ph_nice_input_stream_create_source;
  iface->read_nonblocking = ph_nice_input_stream_read_nonblocking;
}

static void
ph_nice_input_stream_class_init (PhNiceInputStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GInputStreamClass *input_class = G_INPUT_STREAM_CLASS (klass);

  object_class->finalize = ph_nice_input_stream_finalize;
  input_class->read_fn = ph_nice_input_stream_read;
  input_class->close_fn = ph_nice_input_stream_close;
}

static void
ph_nice_input_stream_init (PhNiceInputStream *self)
{
}

/* Output half */

#define PH_TYPE_NICE_OUTPUT_STREAM (ph_nice_output_stream_get_type ())
G_DECLARE_FINAL_TYPE (PhNiceOutputStream, ph_nice_output_stream, PH, NICE_OUTPUT_STREAM,
                      GOutputStream)

struct _PhNiceOutputStream
{
  GOutputStream parent_instance;
  Shared *shared;
};

static void ph_nice_output_stream_pollable_init (GPollableOutputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PhNiceOutputStream, ph_nice_output_stream, G_TYPE_OUTPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_OUTPUT_STREAM,
                                                      ph_nice_output_stream_pollable_init))

static gboolean
output_ready_locked (Shared *shared)
{
  return (shared->connected && !shared->awaiting_numbers
          && ph_reliable_link_get_send_space (shared->link) > 0)
         || shared->error != NULL || shared->output_closed;
}

/* Fails when writing can never succeed again. Called with the mutex held. */
static gboolean
check_writable_locked (Shared *shared, GError **error)
{
  if (shared->output_closed)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "Stream is already closed");
      return FALSE;
    }
  if (shared->error != NULL)
    {
      g_propagate_error (error, g_error_copy (shared->error));
      return FALSE;
    }
  return TRUE;
}

/* One attempt: bytes accepted, 0 when the link's send buffer is full or
 * ICE has no pair yet, or -1. */
static gssize
try_send (Shared *shared, const void *buffer, gsize count, GError **error)
{
  GQueue packets = G_QUEUE_INIT;
  gsize taken = 0;

  g_mutex_lock (&shared->mutex);
  if (!check_writable_locked (shared, error))
    {
      g_mutex_unlock (&shared->mutex);
      return -1;
    }
  if (shared->connected && !shared->awaiting_numbers)
    taken = ph_reliable_link_write (shared->link, buffer, count, g_get_monotonic_time ());
  take_packets_locked (shared, &packets);
  g_mutex_unlock (&shared->mutex);

  send_packets (shared, &packets);
  return (gssize)MIN (taken, G_MAXSSIZE);
}

static gssize
ph_nice_output_stream_write (GOutputStream *stream, const void *buffer, gsize count,
                             GCancellable *cancellable, GError **error)
{
  Shared *shared = PH_NICE_OUTPUT_STREAM (stream)->shared;
  gulong handler = 0;
  gssize ret;

  if (count == 0)
    return 0;
  if (cancellable != NULL)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (cancelled_cb), shared, NULL);

  while ((ret = try_send (shared, buffer, count, error)) == 0)
    {
      g_mutex_lock (&shared->mutex);
      while (!output_ready_locked (shared) && !g_cancellable_is_cancelled (cancellable))
        wait_locked (shared);
      g_mutex_unlock (&shared->mutex);

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          ret = -1;
          break;
        }
    }

  if (handler != 0)
    g_cancellable_disconnect (cancellable, handler);
  return ret;
}

static gssize
ph_nice_output_stream_write_nonblocking (GPollableOutputStream *stream, const void *buffer,
                                         gsize count, GError **error)
{
  Shared *shared = PH_NICE_OUTPUT_STREAM (stream)->shared;
  gssize ret;

  if (count == 0)
    return 0;
  ret = try_send (shared, buffer, count, error);
  if (ret == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "The send buffer is full");
      return -1;
    }
  return ret;
}

static gboolean
ph_nice_output_stream_is_writable (GPollableOutputStream *stream)
{
  Shared *shared = PH_NICE_OUTPUT_STREAM (stream)->shared;
  gboolean ready;

  g_mutex_lock (&shared->mutex);
  ready = output_ready_locked (shared);
  g_mutex_unlock (&shared->mutex);
  return ready;
}

static GSource *
ph_nice_output_stream_create_source (GPollableOutputStream *stream, GCancellable *cancellable)
{
  g_autoptr (GSource) child = wait_source_new (PH_NICE_OUTPUT_STREAM (stream)->shared, TRUE);

  return g_pollable_source_new_full (stream, child, cancellable);
}

/* Ends our side of the link after what was written; called with the mutex
 * held. A link still waiting for its numbers has sent nothing to end. */
static void
finish_locked (Shared *shared, GQueue *packets)
{
  shared->output_closed = TRUE;
  if (shared->awaiting_numbers)
    return;
  ph_reliable_link_finish (shared->link, g_get_monotonic_time ());
  take_packets_locked (shared, packets);
}

static gboolean
ph_nice_output_stream_close (GOutputStream *stream, GCancellable *cancellable, GError **error)
{
  Shared *shared = PH_NICE_OUTPUT_STREAM (stream)->shared;
  GQueue packets = G_QUEUE_INIT;

  g_mutex_lock (&shared->mutex);
  finish_locked (shared, &packets);
  notify_unlock (shared, FALSE);
  send_packets (shared, &packets);
  return TRUE;
}

static void
ph_nice_output_stream_finalize (GObject *object)
{
  PhNiceOutputStream *self = PH_NICE_OUTPUT_STREAM (object);

  g_clear_pointer (&self->shared, shared_unref);

  G_OBJECT_CLASS (ph_nice_output_stream_parent_class)->finalize (object);
}

static gboolean
ph_nice_output_stream_can_poll (GPollableOutputStream *stream)
{
  return TRUE;
}

static void
ph_nice_output_stream_pollable_init (GPollableOutputStreamInterface *iface)
{
  iface->can_poll = ph_nice_output_stream_can_poll;
  iface->is_writable = ph_nice_output_stream_is_writable;
  iface->create_source = ph_nice_output_stream_create_source;
  iface->write_nonblocking = ph_nice_output_stream_write_nonblocking;
}

static void
ph_nice_output_stream_class_init (PhNiceOutputStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GOutputStreamClass *output_class = G_OUTPUT_STREAM_CLASS (klass);

  object_class->finalize = ph_nice_output_stream_finalize;
  output_class->write_fn = ph_nice_output_stream_write;
  output_class->close_fn = ph_nice_output_stream_close;
}

static void
ph_nice_output_stream_init (PhNiceOutputStream *self)
{
}

/* The stream */

struct _PhNiceStream
{
  GIOStream parent_instance;

  Shared *shared;
  PhNiceInputStream *input;
  PhNiceOutputStream *output;
  gulong state_handler;
  gulong removed_handler;
  /* The agent streams whose receive callback holds a reference to
   * @shared: the first, and one a search for a better path added. */
  GArray *attached;
};

G_DEFINE_FINAL_TYPE (PhNiceStream, ph_nice_stream, G_TYPE_IO_STREAM)

static void
fail_with (Shared *shared, GIOErrorEnum code, const char *message)
{
  g_mutex_lock (&shared->mutex);
  if (shared->error == NULL)
    shared->error = g_error_new_literal (G_IO_ERROR, code, message);
  notify_unlock (shared, FALSE);
}

static void
recv_cb (NiceAgent *agent, guint stream_id, guint component_id, guint len, gchar *buf,
         gpointer user_data)
{
  Shared *shared = user_data;
  GQueue packets = G_QUEUE_INIT;
  g_autoptr (GError) error = NULL;
  gsize before;

  g_mutex_lock (&shared->mutex);
  shared->heard_on = stream_id;
  /* Nothing the peer sends before its numbers are known can be checked
   * against them; it sends again. */
  if (shared->awaiting_numbers)
    {
      shared->early_packets++;
      g_mutex_unlock (&shared->mutex);
      g_debug ("Dropped a packet that came before the link's numbers");
      return;
    }
  /* Compact before growing so a reader that keeps up never makes the
   * buffer move more than it holds. */
  if (shared->offset > 0 && shared->offset >= shared->buffer->len / 2)
    {
      g_byte_array_remove_range (shared->buffer, 0, shared->offset);
      shared->offset = 0;
    }
  before = shared->buffer->len;
  /* Anyone who can reach our port can send junk; the link drops it, and
   * TLS above catches whatever gets past. */
  if (!ph_reliable_link_receive (shared->link, (const guint8 *)buf, len, g_get_monotonic_time (),
                                 shared->buffer, &error))
    g_debug ("Dropped a packet: %s", error->message);
  /* Still acknowledged after we stopped reading (or failed), so the peer's
   * end goes through; the bytes go nowhere. */
  if (shared->input_closed || shared->error != NULL)
    g_byte_array_set_size (shared->buffer, before);
  if (ph_reliable_link_peer_finished (shared->link))
    shared->eof = TRUE;
  else if (ph_reliable_link_peer_vanished (shared->link) && shared->error == NULL)
    shared->error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                         "The peer closed the connection");
  if (shared->error == NULL && shared->buffer->len - shared->offset > MAX_BUFFERED)
    {
      g_byte_array_set_size (shared->buffer, shared->offset + MAX_BUFFERED);
      shared->error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                                           "The peer sent more data than can be held unread");
    }
  take_packets_locked (shared, &packets);
  notify_unlock (shared, TRUE);
  send_packets (shared, &packets);
}

static gboolean
timer_cb (gpointer user_data)
{
  Shared *shared = user_data;
  GQueue packets = G_QUEUE_INIT;

  g_mutex_lock (&shared->mutex);
  ph_reliable_link_tick (shared->link, g_get_monotonic_time ());
  take_packets_locked (shared, &packets);
  notify_unlock (shared, TRUE);
  send_packets (shared, &packets);
  return G_SOURCE_CONTINUE;
}

static gboolean
timer_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  g_source_set_ready_time (source, -1);
  return callback (user_data);
}

static GSourceFuncs timer_funcs = {
  .dispatch = timer_dispatch,
};

static void
component_state_changed_cb (NiceAgent *agent, guint stream_id, guint component_id, guint state,
                            gpointer user_data)
{
  PhNiceStream *self = user_data;
  Shared *shared = self->shared;

  if (stream_id != (guint)g_atomic_int_get (&shared->stream_id)
      || component_id != shared->component_id)
    return;

  if (state == NICE_COMPONENT_STATE_FAILED)
    fail_with (shared, G_IO_ERROR_BROKEN_PIPE, "The connection to the peer was lost");
  else if (state == NICE_COMPONENT_STATE_READY || state == NICE_COMPONENT_STATE_CONNECTED)
    {
      g_mutex_lock (&shared->mutex);
      shared->connected = TRUE;
      notify_unlock (shared, FALSE);
    }
}

/* Returns whether @stream_id was attached, and forgets it. */
static gboolean
take_attached (PhNiceStream *self, guint stream_id)
{
  for (guint i = 0; i < self->attached->len; i++)
    if (g_array_index (self->attached, guint, i) == stream_id)
      {
        g_array_remove_index_fast (self->attached, i);
        return TRUE;
      }
  return FALSE;
}

static void
streams_removed_cb (NiceAgent *agent, guint *stream_ids, gpointer user_data)
{
  PhNiceStream *self = user_data;

  for (guint i = 0; stream_ids[i] != 0; i++)
    {
      /* libnice dropped the recv callback, and its reference, with the
       * stream. */
      if (take_attached (self, stream_ids[i]))
        shared_unref (self->shared);
      /* Only the stream we send on ends the link: the one it moved away
       * from, or a search that found nothing, just goes. */
      if (stream_ids[i] == (guint)g_atomic_int_get (&self->shared->stream_id))
        fail_with (self->shared, G_IO_ERROR_CONNECTION_CLOSED, "The connection was closed");
    }
}

static GInputStream *
ph_nice_stream_get_input_stream (GIOStream *stream)
{
  return G_INPUT_STREAM (PH_NICE_STREAM (stream)->input);
}

static GOutputStream *
ph_nice_stream_get_output_stream (GIOStream *stream)
{
  return G_OUTPUT_STREAM (PH_NICE_STREAM (stream)->output);
}

/* Closing ends our side of the link and marks both halves closed; the
 * agent stream belongs to the transport, which removes it when it closes. */
static gboolean
ph_nice_stream_close (GIOStream *stream, GCancellable *cancellable, GError **error)
{
  Shared *shared = PH_NICE_STREAM (stream)->shared;
  GQueue packets = G_QUEUE_INIT;

  g_mutex_lock (&shared->mutex);
  shared->input_closed = TRUE;
  if (!shared->output_closed)
    finish_locked (shared, &packets);
  notify_unlock (shared, FALSE);
  send_packets (shared, &packets);
  return TRUE;
}

/* Closing never blocks, so there is no need for the default thread. */
static void
ph_nice_stream_close_async (GIOStream *stream, int io_priority, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, ph_nice_stream_close_async);
  ph_nice_stream_close (stream, cancellable, NULL);
  g_task_return_boolean (task, TRUE);
}

static gboolean
ph_nice_stream_close_finish (GIOStream *stream, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
ph_nice_stream_dispose (GObject *object)
{
  PhNiceStream *self = PH_NICE_STREAM (object);
  Shared *shared = self->shared;

  if (shared != NULL && shared->agent != NULL)
    {
      g_clear_signal_handler (&self->state_handler, shared->agent);
      g_clear_signal_handler (&self->removed_handler, shared->agent);
      for (guint i = 0; i < self->attached->len; i++)
        {
          nice_agent_attach_recv (shared->agent, g_array_index (self->attached, guint, i),
                                  shared->component_id, NULL, NULL, NULL);
          /* The reference the recv callback held. */
          shared_unref (shared);
        }
      g_array_set_size (self->attached, 0);
      ph_nice_stream_close (G_IO_STREAM (self), NULL, NULL);
      g_source_destroy (shared->timer);
    }

  G_OBJECT_CLASS (ph_nice_stream_parent_class)->dispose (object);
}

static void
ph_nice_stream_finalize (GObject *object)
{
  PhNiceStream *self = PH_NICE_STREAM (object);

  g_clear_object (&self->input);
  g_clear_object (&self->output);
  g_clear_pointer (&self->shared, shared_unref);
  g_clear_pointer (&self->attached, g_array_unref);

  G_OBJECT_CLASS (ph_nice_stream_parent_class)->finalize (object);
}

static void
ph_nice_stream_class_init (PhNiceStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GIOStreamClass *stream_class = G_IO_STREAM_CLASS (klass);

  object_class->dispose = ph_nice_stream_dispose;
  object_class->finalize = ph_nice_stream_finalize;
  stream_class->get_input_stream = ph_nice_stream_get_input_stream;
  stream_class->get_output_stream = ph_nice_stream_get_output_stream;
  stream_class->close_fn = ph_nice_stream_close;
  stream_class->close_async = ph_nice_stream_close_async;
  stream_class->close_finish = ph_nice_stream_close_finish;
}

static void
ph_nice_stream_init (PhNiceStream *self)
{
  self->attached = g_array_new (FALSE, FALSE, sizeof (guint));
}

/* Reads @stream_id into the link: one reference to @shared for the
 * callback, dropped when the stream goes or we detach. */
static gboolean
attach (PhNiceStream *self, guint stream_id)
{
  Shared *shared = self->shared;

  if (!nice_agent_attach_recv (shared->agent, stream_id, shared->component_id,
                               shared->agent_context, recv_cb, shared_ref (shared)))
    {
      shared_unref (shared);
      return FALSE;
    }
  g_array_append_val (self->attached, stream_id);
  return TRUE;
}

PhNiceStream *
ph_nice_stream_new (NiceAgent *agent, guint stream_id, guint component_id, GMainContext *context)
{
  PhNiceStream *self;
  Shared *shared;

  g_return_val_if_fail (NICE_IS_AGENT (agent), NULL);
  g_return_val_if_fail (stream_id > 0 && component_id > 0, NULL);

  self = g_object_new (PH_TYPE_NICE_STREAM, NULL);

  shared = g_atomic_rc_box_new0 (Shared);
  shared->agent = g_object_ref (agent);
  shared->stream_id = stream_id;
  shared->component_id = component_id;
  g_mutex_init (&shared->mutex);
  g_cond_init (&shared->cond);
  shared->buffer = g_byte_array_new ();
  shared->link = ph_reliable_link_new ();
  shared->contexts = g_ptr_array_new_with_free_func ((GDestroyNotify)g_main_context_unref);
  shared->agent_context = context != NULL ? g_main_context_ref (context)
                                          : g_main_context_ref (g_main_context_default ());
  self->shared = shared;
  shared->timer = g_source_new (&timer_funcs, sizeof (GSource));
  g_source_set_static_name (shared->timer, "PhNiceStream link timer");
  g_source_set_priority (shared->timer, G_PRIORITY_DEFAULT);
  g_source_set_callback (shared->timer, timer_cb, shared_ref (shared),
                         (GDestroyNotify)shared_unref);
  g_source_attach (shared->timer, shared->agent_context);

  self->input = g_object_new (PH_TYPE_NICE_INPUT_STREAM, NULL);
  self->input->shared = shared_ref (shared);
  self->output = g_object_new (PH_TYPE_NICE_OUTPUT_STREAM, NULL);
  self->output->shared = shared_ref (shared);

  self->state_handler = g_signal_connect (agent, "component-state-changed",
                                          G_CALLBACK (component_state_changed_cb), self);
  self->removed_handler
      = g_signal_connect (agent, "streams-removed", G_CALLBACK (streams_removed_cb), self);

  if (!attach (self, stream_id))
    fail_with (shared, G_IO_ERROR_NOT_CONNECTED, "The connection does not exist");

  return self;
}

/* Data packets sent on this path, and how many of those were sent again
 * because the first copy was lost (or late): what the inspector shows. */
void
ph_nice_stream_get_packet_counts (PhNiceStream *self, guint64 *sent, guint64 *resent)
{
  Shared *shared;

  g_return_if_fail (PH_IS_NICE_STREAM (self));

  shared = self->shared;
  g_mutex_lock (&shared->mutex);
  *sent = ph_reliable_link_get_transmissions (shared->link);
  *resent = ph_reliable_link_get_retransmissions (shared->link);
  g_mutex_unlock (&shared->mutex);
}

/* Closes the stream and tells the peer that nothing more will come, not
 * even a packet sent again: for the transport, just before it removes the
 * agent stream. Without it a peer missing our last packets (the FIN, or
 * one before it) would wait for resends that never come. */
void
ph_nice_stream_abandon (PhNiceStream *self)
{
  Shared *shared;
  GQueue packets = G_QUEUE_INIT;

  g_return_if_fail (PH_IS_NICE_STREAM (self));

  g_io_stream_close (G_IO_STREAM (self), NULL, NULL);
  shared = self->shared;
  g_mutex_lock (&shared->mutex);
  if (!shared->awaiting_numbers)
    ph_reliable_link_abandon (shared->link);
  take_packets_locked (shared, &packets);
  g_mutex_unlock (&shared->mutex);
  send_packets (shared, &packets);
}

void
ph_nice_stream_await_link_numbers (PhNiceStream *self)
{
  Shared *shared;

  g_return_if_fail (PH_IS_NICE_STREAM (self));

  shared = self->shared;
  g_mutex_lock (&shared->mutex);
  shared->awaiting_numbers = TRUE;
  g_mutex_unlock (&shared->mutex);
}

void
ph_nice_stream_set_link_numbers (PhNiceStream *self, guint32 send_isn, guint32 receive_isn)
{
  Shared *shared;

  g_return_if_fail (PH_IS_NICE_STREAM (self));

  shared = self->shared;
  g_mutex_lock (&shared->mutex);
  if (shared->output_closed)
    {
      g_mutex_unlock (&shared->mutex);
      return;
    }
  ph_reliable_link_set_initial_numbers (shared->link, send_isn, receive_isn);
  shared->awaiting_numbers = FALSE;
  /* Writers waiting for them can go on. */
  notify_unlock (shared, FALSE);
}

guint64
ph_nice_stream_get_refused_packets (PhNiceStream *self)
{
  Shared *shared;
  guint64 refused;

  g_return_val_if_fail (PH_IS_NICE_STREAM (self), 0);

  shared = self->shared;
  g_mutex_lock (&shared->mutex);
  refused = shared->early_packets + ph_reliable_link_get_refused (shared->link);
  g_mutex_unlock (&shared->mutex);
  return refused;
}

gboolean
ph_nice_stream_listen (PhNiceStream *self, guint stream_id)
{
  g_return_val_if_fail (PH_IS_NICE_STREAM (self), FALSE);
  g_return_val_if_fail (stream_id > 0, FALSE);

  return attach (self, stream_id);
}

void
ph_nice_stream_send_on (PhNiceStream *self, guint stream_id)
{
  Shared *shared;

  g_return_if_fail (PH_IS_NICE_STREAM (self));
  g_return_if_fail (stream_id > 0);

  shared = self->shared;
  g_mutex_lock (&shared->mutex);
  g_atomic_int_set (&shared->stream_id, stream_id);
  /* Moved there because its component has a pair. */
  shared->connected = TRUE;
  notify_unlock (shared, FALSE);
}

guint
ph_nice_stream_get_heard_on (PhNiceStream *self)
{
  guint heard_on;

  g_return_val_if_fail (PH_IS_NICE_STREAM (self), 0);

  g_mutex_lock (&self->shared->mutex);
  heard_on = self->shared->heard_on;
  g_mutex_unlock (&self->shared->mutex);
  return heard_on;
}
