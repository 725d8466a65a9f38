/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-mailbox-session"

#include "config.h"

#include "ph-mailbox-batch.h"
#include "ph-mailbox-format.h"
#include "ph-mailbox-session-private.h"
#include "ph-test-hooks.h"

/* The session object: allocating or joining, the ordered queue of posts,
 * leaving, and how long to keep asking a server that does not answer.
 * Our side is in the mailbox from the answer to the allocation (host) or
 * the join (joiner) on; only then does it post and read.
 * Polling is in ph-mailbox-session-poll.c, getting back into a lost
 * mailbox in ph-mailbox-session-reentry.c. */

/* Once resilient, how long to wait before asking an unreachable server again. */
#define RETRY_SECONDS 2
/* Before that, a server that is unreachable, or that lost our mailbox, is
 * asked again after 0.25 s, 0.5 s, 1 s, then every 2 s, for this long in
 * a row: about what restarting a server takes. */
#define SETUP_PATIENCE_SECONDS 20
#define FIRST_BACKOFF_MS 250
#define MAX_BACKOFF_MS 2000

G_DEFINE_FINAL_TYPE (PhMailboxSession, ph_mailbox_session, G_TYPE_OBJECT)

enum
{
  SIGNAL_ALLOCATED,
  SIGNAL_SEATED,
  SIGNAL_MESSAGE,
  SIGNAL_DRAINED,
  SIGNAL_SERVER_TROUBLE,
  SIGNAL_FAILED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void post_current (PhMailboxSession *self);
static void allocate (PhMailboxSession *self);

PhMailboxPost *
ph_mailbox_post_new (const char *phase, GBytes *body)
{
  PhMailboxPost *post = g_new0 (PhMailboxPost, 1);

  post->phase = g_strdup (phase);
  post->body = g_bytes_ref (body);
  return post;
}

void
ph_mailbox_post_free (PhMailboxPost *post)
{
  g_free (post->phase);
  g_bytes_unref (post->body);
  g_free (post);
}

gboolean
ph_mailbox_post_equal (const PhMailboxPost *post, const PhMailboxMessage *message)
{
  return g_str_equal (post->phase, message->phase) && g_bytes_equal (post->body, message->body);
}

PhMailboxSession *
ph_mailbox_session_request_begin (PhMailboxSession *self)
{
  self->requests++;
  return g_object_ref (self);
}

PhMailboxRequest *
ph_mailbox_request_new (PhMailboxSession *self, guint generation)
{
  PhMailboxRequest *request = g_new0 (PhMailboxRequest, 1);

  request->self = ph_mailbox_session_request_begin (self);
  request->generation = generation;
  return request;
}

void
ph_mailbox_session_maybe_finish_leave (PhMailboxSession *self)
{
  g_autoptr (GTask) task = NULL;

  if (self->leave_task == NULL || !self->deleting || self->requests > 0)
    return;
  task = g_steal_pointer (&self->leave_task);
  g_task_return_boolean (task, TRUE);
}

void
ph_mailbox_session_request_answered (PhMailboxSession *self)
{
  g_assert (self->requests > 0);
  self->requests--;
  ph_mailbox_session_maybe_finish_leave (self);
}

void
ph_mailbox_session_stop (PhMailboxSession *self)
{
  g_return_if_fail (PH_IS_MAILBOX_SESSION (self));

  self->finished = TRUE;
  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->poll_retry_id, g_source_remove);
  g_clear_handle_id (&self->reenter_id, g_source_remove);
  g_clear_handle_id (&self->allocate_retry_id, g_source_remove);
  /* Without a mailbox nothing waiting can go, nor needs to. */
  if (self->reentering || self->nameplate == NULL)
    g_queue_clear_full (&self->outgoing, (GDestroyNotify)ph_mailbox_post_free);
  if (self->post_retry_id != 0)
    {
      /* Stopping does not wait for a server that is not answering. */
      g_clear_handle_id (&self->post_retry_id, g_source_remove);
      g_clear_pointer (&self->posting, ph_mailbox_post_free);
    }
}

void
ph_mailbox_session_fail (PhMailboxSession *self, const GError *error)
{
  if (self->finished)
    return;

  ph_mailbox_session_stop (self);
  g_signal_emit (self, signals[SIGNAL_FAILED], 0, error);
}

gboolean
ph_mailbox_session_patience_left (PhMailboxSession *self)
{
  return self->trouble_since == 0
         || g_get_monotonic_time () - self->trouble_since < self->patience_seconds * G_USEC_PER_SEC;
}

/* Failures in a row are retried with a growing pause: for as long as the
 * chat lasts once it is resilient (connected: a short outage must not end
 * it), and for SETUP_PATIENCE_SECONDS before that (a server restarting
 * should not fail a chat being set up, a server that is down for good
 * should not keep a person waiting). Returns the pause in milliseconds, or
 * 0 when it is time to give up. */
guint
ph_mailbox_session_next_retry_ms (PhMailboxSession *self)
{
  if (self->finished)
    return 0;
  if (self->resilient && !self->reentering)
    return RETRY_SECONDS * 1000;
  if (!ph_mailbox_session_patience_left (self))
    return 0;
  if (self->trouble_since == 0)
    self->trouble_since = g_get_monotonic_time ();
  if (!self->trouble_shown)
    {
      /* So the person sees why nothing happens yet, and that it will. */
      self->trouble_shown = TRUE;
      g_signal_emit (self, signals[SIGNAL_SERVER_TROUBLE], 0, TRUE);
    }
  self->backoff_ms
      = self->backoff_ms == 0 ? FIRST_BACKOFF_MS : MIN (2 * self->backoff_ms, MAX_BACKOFF_MS);
  return self->backoff_ms;
}

void
ph_mailbox_session_trouble_over (PhMailboxSession *self)
{
  self->trouble_since = 0;
  self->backoff_ms = 0;
  if (self->trouble_shown && !self->finished)
    {
      self->trouble_shown = FALSE;
      g_signal_emit (self, signals[SIGNAL_SERVER_TROUBLE], 0, FALSE);
    }
}

void
ph_mailbox_session_report_message (PhMailboxSession *self, const PhMailboxMessage *message)
{
  g_autoptr (GPtrArray) batch = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PhMailboxSession) hold = NULL;

  /* As posted: a reopened mailbox gets the same posts again. */
  if (self->delivered != NULL && !self->resilient)
    g_ptr_array_add (self->delivered, ph_mailbox_post_new (message->phase, message->body));
  if (!g_str_equal (message->phase, PH_MAILBOX_BATCH_PHASE))
    {
      g_signal_emit (self, signals[SIGNAL_MESSAGE], 0, message);
      return;
    }

  batch = ph_mailbox_batch_decode (message, &error);
  if (batch == NULL)
    {
      ph_mailbox_session_fail (self, error);
      return;
    }
  /* A handler may stop the session, and drop the last other reference. */
  hold = g_object_ref (self);
  for (guint i = 0; i < batch->len && !self->finished; i++)
    g_signal_emit (self, signals[SIGNAL_MESSAGE], 0, g_ptr_array_index (batch, i));
}

static gboolean
post_retry_cb (gpointer user_data)
{
  PhMailboxSession *self = user_data;

  self->post_retry_id = 0;
  post_current (self);
  return G_SOURCE_REMOVE;
}

static gboolean
is_idle (PhMailboxSession *self)
{
  return self->posting == NULL && g_queue_is_empty (&self->outgoing);
}

static void
post_done (PhMailboxSession *self)
{
  if (self->posted != NULL)
    g_ptr_array_add (self->posted, g_steal_pointer (&self->posting));
  g_clear_pointer (&self->posting, ph_mailbox_post_free);

  ph_mailbox_session_post_next (self);
  if (is_idle (self) && !self->finished)
    g_signal_emit (self, signals[SIGNAL_DRAINED], 0);
}

static void
post_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PhMailboxRequest *request = user_data;
  g_autoptr (PhMailboxSession) self = request->self;
  gboolean current = request->generation == self->post_generation;
  g_autoptr (GError) error = NULL;
  guint retry_ms = 0;

  g_free (request);
  ph_rendezvous_client_post_finish (PH_RENDEZVOUS_CLIENT (source), result, NULL, &error);
  ph_mailbox_session_request_answered (self);
  /* About a mailbox given up meanwhile: whatever it was goes again. */
  if (!current)
    return;

  if (error != NULL && ph_mailbox_session_is_unreachable (error))
    {
      self->server_was_unreachable = TRUE;
      retry_ms = ph_mailbox_session_next_retry_ms (self);
    }
  else if (error != NULL && ph_mailbox_session_is_mailbox_gone (error)
           && ph_mailbox_session_can_reenter (self))
    {
      ph_mailbox_session_lose_mailbox (self);
      return;
    }
  if (retry_ms > 0)
    {
      /* The same bytes go again: if the first post did arrive, the peer
       * knows the copy. */
      g_debug ("Posting again in %u ms: %s", retry_ms, error->message);
      self->post_retry_id = g_timeout_add_full (G_PRIORITY_DEFAULT, retry_ms, post_retry_cb,
                                                g_object_ref (self), g_object_unref);
      return;
    }

  if (error != NULL)
    {
      g_clear_pointer (&self->posting, ph_mailbox_post_free);
      if (self->finished)
        g_debug ("A last mailbox message was not posted: %s", error->message);
      else
        ph_mailbox_session_fail (self, error);
      g_queue_clear_full (&self->outgoing, (GDestroyNotify)ph_mailbox_post_free);
      ph_mailbox_session_post_next (self);
      return;
    }

  ph_mailbox_session_trouble_over (self);
  post_done (self);
}

static void
leave_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhMailboxSession) self = user_data;
  g_autoptr (GError) error = NULL;

  /* The server frees an abandoned mailbox when its time runs out; a failed
   * DELETE is worth a debug line, not an error for the person. */
  if (!ph_rendezvous_client_leave_finish (PH_RENDEZVOUS_CLIENT (source), result, &error))
    g_debug ("Could not leave the mailbox: %s", error->message);
  ph_mailbox_session_request_answered (self);
}

static void
delete_mailbox (PhMailboxSession *self)
{
  if (self->deleting)
    return;
  self->deleting = TRUE;
  if (self->nameplate == NULL || !self->joined)
    {
      ph_mailbox_session_maybe_finish_leave (self);
      return;
    }

  ph_rendezvous_client_leave_async (self->client, self->nameplate, NULL, leave_cb,
                                    ph_mailbox_session_request_begin (self));
}

/* Everything new that is queued goes in one post: a batch when there are
 * several. A post going again goes alone. */
static PhMailboxPost *
take_queued (PhMailboxSession *self)
{
  const char *phases[PH_MAILBOX_BATCH_MAX_MESSAGES];
  GBytes *bodies[PH_MAILBOX_BATCH_MAX_MESSAGES];
  g_autoptr (GBytes) batch = NULL;
  guint n = 0;
  PhMailboxPost *post;

  for (GList *l = self->outgoing.head; l != NULL && n < PH_MAILBOX_BATCH_MAX_MESSAGES; l = l->next)
    {
      PhMailboxPost *queued = l->data;

      if (queued->again)
        break;
      phases[n] = queued->phase;
      bodies[n] = queued->body;
      n++;
    }
  if (n <= 1)
    return g_queue_pop_head (&self->outgoing);
  batch = ph_mailbox_batch_encode (phases, bodies, n);
  post = ph_mailbox_post_new (PH_MAILBOX_BATCH_PHASE, batch);
  for (guint i = 0; i < n; i++)
    ph_mailbox_post_free (g_queue_pop_head (&self->outgoing));
  return post;
}

void
ph_mailbox_session_post_next (PhMailboxSession *self)
{
  g_clear_handle_id (&self->flush_id, g_source_remove);
  if (self->posting != NULL || (self->reentering && !self->finished))
    return;

  /* Until our side is in the mailbox, posts wait (and stopping before
   * there was a nameplate dropped them). */
  if (self->joined)
    self->posting = take_queued (self);
  if (self->posting == NULL)
    {
      /* A join in flight may still let a last word in. */
      if (self->leave_task != NULL && !self->joining)
        delete_mailbox (self);
      return;
    }
  post_current (self);
}

static void
post_current (PhMailboxSession *self)
{
  ph_rendezvous_client_post_async (self->client, self->nameplate, self->posting->phase,
                                   self->posting->body, NULL, post_cb,
                                   ph_mailbox_request_new (self, self->post_generation));
}

void
ph_mailbox_session_seated (PhMailboxSession *self)
{
  g_signal_emit (self, signals[SIGNAL_SEATED], 0, self->nameplate);
}

/* After a join: the post that went along with it arrived (@posted_index),
 * or goes now as any post; then the rest. */
static void
go_on_posting (PhMailboxSession *self, gboolean joined, guint64 posted_index)
{
  /* Not in: nowhere for it to go. */
  if (!joined)
    g_clear_pointer (&self->posting, ph_mailbox_post_free);
  if (self->posting == NULL)
    ph_mailbox_session_post_next (self);
  else if (posted_index > 0)
    post_done (self);
  else
    post_current (self);
}

static void
join_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhMailboxSession) self = user_data;
  g_autoptr (GError) error = NULL;
  gboolean joined;
  guint retry_ms = 0;
  guint64 posted_index = 0;

  joined = self->joining_with_post
               ? ph_rendezvous_client_join_and_post_finish (PH_RENDEZVOUS_CLIENT (source), result,
                                                            &posted_index, &error)
               : ph_rendezvous_client_join_finish (PH_RENDEZVOUS_CLIENT (source), result, &error);
  self->joining = FALSE;
  self->joining_with_post = FALSE;
  ph_mailbox_session_request_answered (self);
  if (self->finished)
    {
      /* Stopped or leaving: what was queued still goes if we got in, and
       * then we leave. */
      self->joined = joined;
      go_on_posting (self, joined, posted_index);
      return;
    }

  if (joined)
    {
      if (self->reentering)
        g_debug ("Joined mailbox %s again; posting everything again", self->nameplate);
      self->reentering = FALSE;
      self->joined = TRUE;
      ph_mailbox_session_trouble_over (self);
      ph_mailbox_session_seated (self);
      if (self->finished)
        return;
      ph_mailbox_session_poll (self);
      go_on_posting (self, joined, posted_index);
      return;
    }

  if (ph_mailbox_session_is_unreachable (error))
    {
      self->server_was_unreachable = TRUE;
      retry_ms = ph_mailbox_session_next_retry_ms (self);
    }
  else if (ph_mailbox_session_is_mailbox_gone (error)
           && (self->reentering || self->server_was_unreachable))
    {
      /* A server that was just away may have restarted: the host will
       * claim its number back (and post its first message again) soon. */
      retry_ms = ph_mailbox_session_next_retry_ms (self);
      if (retry_ms == 0 && self->reentering)
        {
          ph_mailbox_session_fail_mailbox_lost (self);
          return;
        }
    }
  if (retry_ms > 0)
    {
      g_debug ("Joining again in %u ms: %s", retry_ms, error->message);
      ph_mailbox_session_enter_later (self, retry_ms);
      return;
    }
  g_clear_pointer (&self->posting, ph_mailbox_post_free);
  ph_mailbox_session_fail (self, error);
}

/* The joiner takes side 2: the first time wherever the number leads,
 * after losing its mailbox only in the one whose first message it read
 * (the host's, posted again), so as to meet no stranger there. Posts have
 * no cancellable, and neither has this: a last word may follow it in. */
void
ph_mailbox_session_join_mailbox (PhMailboxSession *self)
{
  PhMailboxPost *first = self->delivered != NULL && self->delivered->len > 0
                             ? g_ptr_array_index (self->delivered, 0)
                             : NULL;

  self->joining = TRUE;
  /* What is queued by now goes with the join: it needs the seat's
   * secret, which the join brings, and so it saves a round trip. Not
   * with a joiner back after a restart, whose join names the host's
   * first message instead. */
  if (first == NULL && self->posting == NULL)
    self->posting = take_queued (self);
  if (first == NULL && self->posting != NULL)
    {
      self->joining_with_post = TRUE;
      ph_rendezvous_client_join_and_post_async (self->client, self->nameplate, self->posting->phase,
                                                self->posting->body, NULL, join_cb,
                                                ph_mailbox_session_request_begin (self));
      return;
    }
  ph_rendezvous_client_join_async (
      self->client, self->nameplate, first != NULL ? first->phase : NULL,
      first != NULL ? first->body : NULL, NULL, join_cb, ph_mailbox_session_request_begin (self));
}

static gboolean
allocate_retry_cb (gpointer user_data)
{
  PhMailboxSession *self = user_data;

  self->allocate_retry_id = 0;
  allocate (self);
  return G_SOURCE_REMOVE;
}

static void
allocate_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhMailboxSession) self = user_data;
  g_autoptr (GError) error = NULL;
  guint retry_ms;

  self->nameplate
      = ph_rendezvous_client_allocate_finish (PH_RENDEZVOUS_CLIENT (source), result, NULL, &error);
  ph_mailbox_session_request_answered (self);
  if (self->finished)
    return;
  if (self->nameplate == NULL && ph_mailbox_session_is_unreachable (error)
      && (retry_ms = ph_mailbox_session_next_retry_ms (self)) > 0)
    {
      g_debug ("Allocating again in %u ms: %s", retry_ms, error->message);
      self->allocate_retry_id = g_timeout_add_full (G_PRIORITY_DEFAULT, retry_ms, allocate_retry_cb,
                                                    g_object_ref (self), g_object_unref);
      return;
    }
  if (self->nameplate == NULL)
    {
      ph_mailbox_session_fail (self, error);
      return;
    }

  /* The allocation put our side into the mailbox. */
  self->joined = TRUE;
  ph_mailbox_session_trouble_over (self);
  g_signal_emit (self, signals[SIGNAL_ALLOCATED], 0, self->nameplate);
  if (self->finished)
    return;
  ph_mailbox_session_seated (self);
  if (self->finished)
    return;
  ph_mailbox_session_poll (self);
  ph_mailbox_session_post_next (self);
}

static void
allocate (PhMailboxSession *self)
{
  ph_rendezvous_client_allocate_async (self->client, self->cancellable, allocate_cb,
                                       ph_mailbox_session_request_begin (self));
}

void
ph_mailbox_session_allocate (PhMailboxSession *self)
{
  g_return_if_fail (PH_IS_MAILBOX_SESSION (self));
  g_return_if_fail (self->nameplate == NULL && !self->is_host);

  self->is_host = TRUE;
  self->side = g_strdup_printf ("%u", PH_MAILBOX_HOST_SIDE);
  allocate (self);
}

void
ph_mailbox_session_join (PhMailboxSession *self, const char *nameplate)
{
  g_return_if_fail (PH_IS_MAILBOX_SESSION (self));
  g_return_if_fail (self->nameplate == NULL && !self->is_host);
  g_return_if_fail (nameplate != NULL);

  self->nameplate = g_strdup (nameplate);
  self->side = g_strdup_printf ("%u", PH_MAILBOX_JOINER_SIDE);
  ph_mailbox_session_join_mailbox (self);
}

const char *
ph_mailbox_session_get_side (PhMailboxSession *self)
{
  g_return_val_if_fail (PH_IS_MAILBOX_SESSION (self), NULL);

  return self->side;
}

const char *
ph_mailbox_session_get_nameplate (PhMailboxSession *self)
{
  g_return_val_if_fail (PH_IS_MAILBOX_SESSION (self), NULL);

  return self->nameplate;
}

static gboolean
flush_cb (gpointer user_data)
{
  PhMailboxSession *self = user_data;

  self->flush_id = 0;
  ph_mailbox_session_post_next (self);
  return G_SOURCE_REMOVE;
}

void
ph_mailbox_session_post (PhMailboxSession *self, const char *phase, GBytes *body)
{
  g_return_if_fail (PH_IS_MAILBOX_SESSION (self));
  g_return_if_fail (phase != NULL);
  g_return_if_fail (body != NULL);

  g_queue_push_tail (&self->outgoing, ph_mailbox_post_new (phase, body));
  /* What is queued while this dispatch runs goes along in the same post. */
  if (self->flush_id == 0 && self->posting == NULL)
    self->flush_id = g_idle_add_full (G_PRIORITY_HIGH_IDLE, flush_cb, self, NULL);
}

gboolean
ph_mailbox_session_is_posting (PhMailboxSession *self)
{
  g_return_val_if_fail (PH_IS_MAILBOX_SESSION (self), FALSE);

  return self->posting != NULL;
}

guint
ph_mailbox_session_get_pending (PhMailboxSession *self)
{
  g_return_val_if_fail (PH_IS_MAILBOX_SESSION (self), 0);

  return g_queue_get_length (&self->outgoing) + (self->posting != NULL ? 1 : 0);
}

void
ph_mailbox_session_set_resilient (PhMailboxSession *self)
{
  g_return_if_fail (PH_IS_MAILBOX_SESSION (self));

  self->resilient = TRUE;
  ph_mailbox_session_trouble_over (self);
  /* A resilient session does not reopen a lost mailbox: no more to keep.
   * After a reopening, though, copies of what the peer posted before may
   * still come, and must still be known. */
  g_clear_pointer (&self->posted, g_ptr_array_unref);
  if (!self->reentered)
    g_clear_pointer (&self->delivered, g_ptr_array_unref);
}

void
ph_mailbox_session_leave_async (PhMailboxSession *self, const char *last_phase, GBytes *last_body,
                                GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (PH_IS_MAILBOX_SESSION (self));
  g_return_if_fail (self->leave_task == NULL && !self->deleting);
  g_return_if_fail ((last_phase == NULL) == (last_body == NULL));

  self->leave_task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (self->leave_task, ph_mailbox_session_leave_async);

  ph_mailbox_session_stop (self);
  /* On its way in (a join in flight), the last word follows us there. */
  if (last_phase != NULL && (self->joined || self->joining))
    g_queue_push_tail (&self->outgoing, ph_mailbox_post_new (last_phase, last_body));
  ph_mailbox_session_post_next (self);
}

void
ph_mailbox_session_leave_finish (PhMailboxSession *self, GAsyncResult *result)
{
  g_return_if_fail (g_task_is_valid (result, self));

  g_task_propagate_boolean (G_TASK (result), NULL);
}

static void
ph_mailbox_session_finalize (GObject *object)
{
  PhMailboxSession *self = PH_MAILBOX_SESSION (object);

  g_clear_handle_id (&self->flush_id, g_source_remove);
  g_queue_clear_full (&self->outgoing, (GDestroyNotify)ph_mailbox_post_free);
  g_clear_pointer (&self->posting, ph_mailbox_post_free);
  g_clear_pointer (&self->posted, g_ptr_array_unref);
  g_clear_pointer (&self->delivered, g_ptr_array_unref);
  g_clear_object (&self->leave_task);
  if (self->poll_cancellable != NULL)
    g_cancellable_disconnect (self->cancellable, self->poll_cancel_id);
  g_clear_object (&self->poll_cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->client);
  g_free (self->side);
  g_free (self->nameplate);
  g_free (self->peer_side);

  G_OBJECT_CLASS (ph_mailbox_session_parent_class)->finalize (object);
}

static void
ph_mailbox_session_class_init (PhMailboxSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ph_mailbox_session_finalize;

  signals[SIGNAL_ALLOCATED]
      = g_signal_new ("allocated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_SEATED] = g_signal_new ("seated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_MESSAGE] = g_signal_new ("message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIGNAL_DRAINED] = g_signal_new ("drained", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_SERVER_TROUBLE]
      = g_signal_new ("server-trouble", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
  signals[SIGNAL_FAILED] = g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
ph_mailbox_session_init (PhMailboxSession *self)
{
  g_queue_init (&self->outgoing);
  self->cancellable = g_cancellable_new ();
  self->posted = g_ptr_array_new_with_free_func ((GDestroyNotify)ph_mailbox_post_free);
  self->delivered = g_ptr_array_new_with_free_func ((GDestroyNotify)ph_mailbox_post_free);
  self->patience_seconds = ph_test_hook_uint ("PINHOLE_TEST_RENDEZVOUS_PATIENCE_SECONDS",
                                              SETUP_PATIENCE_SECONDS, 1, SETUP_PATIENCE_SECONDS);
}

PhMailboxSession *
ph_mailbox_session_new (PhRendezvousClient *client)
{
  PhMailboxSession *self;

  g_return_val_if_fail (PH_IS_RENDEZVOUS_CLIENT (client), NULL);

  self = g_object_new (PH_TYPE_MAILBOX_SESSION, NULL);
  self->client = g_object_ref (client);
  return self;
}
