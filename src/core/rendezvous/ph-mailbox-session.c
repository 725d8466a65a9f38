/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-mailbox-session"

#include "config.h"

#include <glib/gi18n-lib.h>
#include <sodium.h>

#include "ph-error.h"
#include "ph-mailbox-session.h"
#include "ph-test-hooks.h"

/* Long-polls stay under the server's hold limit and the HTTP timeouts. */
#define POLL_WAIT_SECONDS 25
/* Once resilient, how long to wait before asking an unreachable server again. */
#define RETRY_SECONDS 2
/* Before that, a server that is unreachable, or that lost our mailbox, is
 * asked again after 0.25 s, 0.5 s, 1 s, then every 2 s, for this long in
 * a row: about what restarting a server takes. */
#define SETUP_PATIENCE_SECONDS 20
#define FIRST_BACKOFF_MS 250
#define MAX_BACKOFF_MS 2000

typedef struct
{
  char *phase;
  GBytes *body;
} Post;

struct _PhMailboxSession
{
  GObject parent_instance;

  PhRendezvousClient *client;
  GCancellable *cancellable;      /* polls, allocation and claims */
  GCancellable *poll_cancellable; /* the poll in flight, child of cancellable */
  gulong poll_cancel_id;
  guint poll_generation; /* an answer to an older poll is dropped */
  guint requests;        /* in flight, each holding a reference */
  GTask *leave_task;
  gboolean deleting; /* the DELETE is in flight or done */

  char *side;
  char *nameplate;
  char *peer_side;

  GQueue outgoing; /* of Post */
  Post *posting;   /* in flight, kept to post again */
  guint post_generation; /* an answer to an older post is dropped */
  guint post_retry_id;
  guint poll_retry_id;
  guint poll_delay_ms;
  gboolean resilient;
  guint64 last_index;

  /* Until resilient, everything posted, as posted, so that it can go again
   * into the mailbox a restarted server opens anew; and everything the
   * peer posted, to know its copies when it does the same. */
  GPtrArray *posted;    /* of Post */
  GPtrArray *delivered; /* of Post */
  gboolean is_host;
  gboolean reentering; /* our mailbox is gone: claiming it (host) or finding it again */
  gboolean reentered;  /* copies of what already arrived may come again */
  guint reenter_id;
  guint allocate_retry_id;
  gboolean server_was_unreachable;
  gint64 trouble_since;   /* the first failure in a row, or 0 */
  gboolean trouble_shown; /* "server-trouble" said TRUE last */
  guint backoff_ms;
  guint patience_seconds;

  gboolean joined;   /* our side is in the mailbox */
  gboolean finished; /* stopped: no more signals */
};

G_DEFINE_FINAL_TYPE (PhMailboxSession, ph_mailbox_session, G_TYPE_OBJECT)

enum
{
  SIGNAL_ALLOCATED,
  SIGNAL_MESSAGE,
  SIGNAL_DRAINED,
  SIGNAL_SERVER_TROUBLE,
  SIGNAL_FAILED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void post_next (PhMailboxSession *self);
static void poll_mailbox (PhMailboxSession *self);
static void post_current (PhMailboxSession *self);
static void allocate (PhMailboxSession *self);
static void lose_mailbox (PhMailboxSession *self);
static gboolean reenter_cb (gpointer user_data);

static Post *
post_new (const char *phase, GBytes *body)
{
  Post *post = g_new0 (Post, 1);

  post->phase = g_strdup (phase);
  post->body = g_bytes_ref (body);
  return post;
}

static void
post_free (Post *post)
{
  g_free (post->phase);
  g_bytes_unref (post->body);
  g_free (post);
}

static gboolean
post_equal (const Post *post, const PhMailboxMessage *message)
{
  return g_str_equal (post->phase, message->phase) && g_bytes_equal (post->body, message->body);
}

/* Every request holds a reference and counts, so that leaving can finish
 * only once no answer is still to come. */
static PhMailboxSession *
request_begin (PhMailboxSession *self)
{
  self->requests++;
  return g_object_ref (self);
}

static void
maybe_finish_leave (PhMailboxSession *self)
{
  g_autoptr (GTask) task = NULL;

  if (self->leave_task == NULL || !self->deleting || self->requests > 0)
    return;
  task = g_steal_pointer (&self->leave_task);
  g_task_return_boolean (task, TRUE);
}

static void
request_end (PhMailboxSession *self)
{
  g_assert (self->requests > 0);
  self->requests--;
  maybe_finish_leave (self);
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
    g_queue_clear_full (&self->outgoing, (GDestroyNotify)post_free);
  if (self->post_retry_id != 0)
    {
      /* Stopping does not wait for a server that is not answering. */
      g_clear_handle_id (&self->post_retry_id, g_source_remove);
      g_clear_pointer (&self->posting, post_free);
    }
}

static void
fail (PhMailboxSession *self, const GError *error)
{
  if (self->finished)
    return;

  ph_mailbox_session_stop (self);
  g_signal_emit (self, signals[SIGNAL_FAILED], 0, error);
}

static void
fail_mailbox_lost (PhMailboxSession *self)
{
  g_autoptr (GError) error
      = g_error_new (PH_ERROR, PH_ERROR_RENDEZVOUS,
                     /* Translators: %s is the number at the start of a code, such as 42. */
                     _ ("The rendezvous server lost the mailbox for the code that starts with %s "
                        "and did not get it back; start a new chat."),
                     self->nameplate);

  fail (self, error);
}

static gboolean
patience_left (PhMailboxSession *self)
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
static guint
next_retry_ms (PhMailboxSession *self)
{
  if (self->finished)
    return 0;
  if (self->resilient && !self->reentering)
    return RETRY_SECONDS * 1000;
  if (!patience_left (self))
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

static void
trouble_over (PhMailboxSession *self)
{
  self->trouble_since = 0;
  self->backoff_ms = 0;
  if (self->trouble_shown && !self->finished)
    {
      self->trouble_shown = FALSE;
      g_signal_emit (self, signals[SIGNAL_SERVER_TROUBLE], 0, FALSE);
    }
}

static gboolean
is_unreachable (const GError *error)
{
  return g_error_matches (error, PH_ERROR, PH_ERROR_RENDEZVOUS_UNREACHABLE);
}

/* 404, or 412 when the number is open again under another tag. */
static gboolean
is_mailbox_gone (const GError *error)
{
  return g_error_matches (error, PH_ERROR, PH_ERROR_UNKNOWN_CODE);
}

/* The host's mailbox is its own from allocation on; the joiner's from its
 * first post. Only until the session is resilient is a lost one reopened:
 * after that the chat goes on without it (see docs/ARCHITECTURE.md). */
static gboolean
can_reenter (PhMailboxSession *self)
{
  return !self->resilient && !self->finished && (self->is_host || self->joined);
}

typedef struct
{
  PhMailboxSession *self;
  guint generation;
} Request;

static Request *
request_new (PhMailboxSession *self, guint generation)
{
  Request *request = g_new0 (Request, 1);

  request->self = request_begin (self);
  request->generation = generation;
  return request;
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
  g_clear_pointer (&self->posting, post_free);

  if (!self->joined)
    {
      /* Our first post puts us into the mailbox; only then may we read it
       * without racing a third party for the second seat. */
      self->joined = TRUE;
      if (!self->finished)
        poll_mailbox (self);
    }
  post_next (self);
  if (is_idle (self) && !self->finished)
    g_signal_emit (self, signals[SIGNAL_DRAINED], 0);
}

static void
post_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Request *request = user_data;
  g_autoptr (PhMailboxSession) self = request->self;
  gboolean current = request->generation == self->post_generation;
  g_autoptr (GError) error = NULL;
  guint retry_ms = 0;

  g_free (request);
  self->requests--;
  ph_rendezvous_client_post_finish (PH_RENDEZVOUS_CLIENT (source), result, NULL, &error);
  /* About a mailbox given up meanwhile: whatever it was goes again. */
  if (!current)
    {
      maybe_finish_leave (self);
      return;
    }

  if (error != NULL && is_unreachable (error))
    {
      self->server_was_unreachable = TRUE;
      retry_ms = next_retry_ms (self);
    }
  else if (error != NULL && is_mailbox_gone (error) && can_reenter (self))
    {
      lose_mailbox (self);
      return;
    }
  else if (error != NULL && is_mailbox_gone (error) && !self->finished && !self->joined
           && self->server_was_unreachable)
    {
      /* The joiner's first post, to a server that was just unreachable: it
       * may have restarted, and the host will claim the number again. */
      retry_ms = next_retry_ms (self);
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
      g_clear_pointer (&self->posting, post_free);
      if (self->finished)
        g_debug ("A last mailbox message was not posted: %s", error->message);
      else
        fail (self, error);
      g_queue_clear_full (&self->outgoing, (GDestroyNotify)post_free);
      post_next (self);
      maybe_finish_leave (self);
      return;
    }

  trouble_over (self);
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
  request_end (self);
}

static void
delete_mailbox (PhMailboxSession *self)
{
  if (self->deleting)
    return;
  self->deleting = TRUE;
  if (self->nameplate == NULL || !self->joined)
    {
      maybe_finish_leave (self);
      return;
    }

  ph_rendezvous_client_leave_async (self->client, self->nameplate, self->side, NULL, leave_cb,
                                    request_begin (self));
}

static void
post_next (PhMailboxSession *self)
{
  if (self->posting != NULL || (self->reentering && !self->finished))
    return;

  /* Without a nameplate yet, posts wait (and stopping dropped them). */
  if (self->nameplate != NULL)
    self->posting = g_queue_pop_head (&self->outgoing);
  if (self->posting == NULL)
    {
      if (self->leave_task != NULL)
        delete_mailbox (self);
      return;
    }
  post_current (self);
}

static void
post_current (PhMailboxSession *self)
{
  ph_rendezvous_client_post_async (self->client, self->nameplate, self->side,
                                   self->posting->phase, self->posting->body, NULL, post_cb,
                                   request_new (self, self->post_generation));
}

/* A copy the peer posted again into a reopened mailbox, of a message it
 * already reported. */
static gboolean
is_copy (PhMailboxSession *self, const PhMailboxMessage *message)
{
  if (!self->reentered || self->delivered == NULL)
    return FALSE;
  for (guint i = 0; i < self->delivered->len; i++)
    if (post_equal (g_ptr_array_index (self->delivered, i), message))
      return TRUE;
  return FALSE;
}

static void
deliver (PhMailboxSession *self, const PhMailboxMessage *message)
{
  g_debug ("Mailbox message %" G_GUINT64_FORMAT ": %s from %s", message->index, message->phase,
           g_str_equal (message->side, self->side) ? "us" : "the peer");
  if (g_str_equal (message->side, self->side))
    return;

  /* The server admits two sides per mailbox; anything else is a bug. */
  if (self->peer_side == NULL)
    self->peer_side = g_strdup (message->side);
  else if (!g_str_equal (self->peer_side, message->side))
    return;

  if (is_copy (self, message))
    {
      g_debug ("Dropping a copy of an earlier mailbox message");
      return;
    }
  if (self->delivered != NULL && !self->resilient)
    g_ptr_array_add (self->delivered, post_new (message->phase, message->body));
  g_signal_emit (self, signals[SIGNAL_MESSAGE], 0, message);
}

static gboolean
poll_retry_cb (gpointer user_data)
{
  PhMailboxSession *self = user_data;

  self->poll_retry_id = 0;
  poll_mailbox (self);
  return G_SOURCE_REMOVE;
}

static void
retry_poll (PhMailboxSession *self, guint retry_ms, const GError *error)
{
  g_debug ("Polling again in %u ms: %s", retry_ms, error->message);
  self->poll_retry_id = g_timeout_add_full (G_PRIORITY_DEFAULT, retry_ms, poll_retry_cb,
                                            g_object_ref (self), g_object_unref);
}

/* A joiner finding its mailbox again: it must hold first what the peer
 * posted first into the old one (the host's first message), or the number
 * now belongs to another chat, which our posts must not disturb. */
static gboolean
is_our_mailbox (PhMailboxSession *self, GPtrArray *messages, GError **error)
{
  const PhMailboxMessage *first = g_ptr_array_index (messages, 0);

  if (self->delivered == NULL || self->delivered->len == 0
      || (first->index == 1 && g_strcmp0 (first->side, self->peer_side) == 0
          && post_equal (g_ptr_array_index (self->delivered, 0), first)))
    return TRUE;

  g_set_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS,
               /* Translators: %s is the number at the start of a code, such as 42. */
               _ ("The rendezvous server restarted and has given the number %s to another chat; "
                  "ask for a new code."),
               self->nameplate);
  return FALSE;
}

static void
fetch_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Request *poll = user_data;
  g_autoptr (PhMailboxSession) self = poll->self;
  gboolean current = poll->generation == self->poll_generation;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  guint retry_ms;

  g_free (poll);
  messages = ph_rendezvous_client_fetch_finish (PH_RENDEZVOUS_CLIENT (source), result, &error);
  self->requests--;
  if (self->finished || !current)
    {
      maybe_finish_leave (self);
      return;
    }
  if (messages == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (messages == NULL && is_unreachable (error))
    {
      self->server_was_unreachable = TRUE;
      if ((retry_ms = next_retry_ms (self)) > 0)
        {
          retry_poll (self, retry_ms, error);
          return;
        }
    }
  else if (messages == NULL && is_mailbox_gone (error) && self->reentering)
    {
      /* Not claimed again yet: the host is still waiting for the server. */
      if ((retry_ms = next_retry_ms (self)) > 0)
        {
          retry_poll (self, retry_ms, error);
          return;
        }
    }
  else if (messages == NULL && is_mailbox_gone (error) && can_reenter (self))
    {
      lose_mailbox (self);
      return;
    }
  if (messages == NULL)
    {
      fail (self, error);
      return;
    }

  if (self->reentering)
    {
      /* Open but empty: claimed, and the host's first message is on its
       * way; it should not take longer than the server took to return. */
      if (messages->len == 0 && patience_left (self))
        {
          poll_mailbox (self);
          return;
        }
      if (messages->len == 0)
        {
          fail_mailbox_lost (self);
          return;
        }
      if (!is_our_mailbox (self, messages, &error))
        {
          fail (self, error);
          return;
        }
      g_debug ("Found mailbox %s again; posting everything again", self->nameplate);
      trouble_over (self);
      self->reentering = FALSE;
      self->joined = TRUE;
      post_next (self);
    }
  else
    trouble_over (self);

  for (guint i = 0; i < messages->len && !self->finished; i++)
    {
      const PhMailboxMessage *message = g_ptr_array_index (messages, i);

      if (message->index <= self->last_index)
        continue;
      self->last_index = message->index;
      deliver (self, message);
    }

  if (!self->finished)
    poll_mailbox (self);
}

static void
cancel_poll_cb (GCancellable *cancellable, gpointer user_data)
{
  g_cancellable_cancel (user_data);
}

static void
fetch_messages (PhMailboxSession *self)
{
  Request *poll = request_new (self, ++self->poll_generation);

  /* Its own cancellable, so ph_mailbox_session_poll_now can drop just this poll. */
  if (self->poll_cancellable == NULL || g_cancellable_is_cancelled (self->poll_cancellable))
    {
      if (self->poll_cancellable != NULL)
        g_cancellable_disconnect (self->cancellable, self->poll_cancel_id);
      g_clear_object (&self->poll_cancellable);
      self->poll_cancellable = g_cancellable_new ();
      self->poll_cancel_id = g_cancellable_connect (self->cancellable, G_CALLBACK (cancel_poll_cb),
                                                    self->poll_cancellable, NULL);
    }

  ph_rendezvous_client_fetch_async (self->client, self->nameplate, self->last_index,
                                    POLL_WAIT_SECONDS, self->poll_cancellable, fetch_cb, poll);
}

static gboolean
delayed_fetch_cb (gpointer user_data)
{
  PhMailboxSession *self = user_data;

  self->poll_retry_id = 0;
  fetch_messages (self);
  return G_SOURCE_REMOVE;
}

static void
poll_mailbox (PhMailboxSession *self)
{
  if (self->poll_delay_ms == 0)
    {
      fetch_messages (self);
      return;
    }
  g_clear_handle_id (&self->poll_retry_id, g_source_remove);
  self->poll_retry_id = g_timeout_add_full (G_PRIORITY_DEFAULT, self->poll_delay_ms,
                                            delayed_fetch_cb, g_object_ref (self), g_object_unref);
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
  self->requests--;
  if (self->finished)
    {
      maybe_finish_leave (self);
      return;
    }
  if (self->nameplate == NULL && is_unreachable (error) && (retry_ms = next_retry_ms (self)) > 0)
    {
      g_debug ("Allocating again in %u ms: %s", retry_ms, error->message);
      self->allocate_retry_id = g_timeout_add_full (G_PRIORITY_DEFAULT, retry_ms, allocate_retry_cb,
                                                    g_object_ref (self), g_object_unref);
      return;
    }
  if (self->nameplate == NULL)
    {
      fail (self, error);
      return;
    }

  trouble_over (self);
  g_signal_emit (self, signals[SIGNAL_ALLOCATED], 0, self->nameplate);
  post_next (self);
}

static void
allocate (PhMailboxSession *self)
{
  ph_rendezvous_client_allocate_async (self->client, self->cancellable, allocate_cb,
                                       request_begin (self));
}

void
ph_mailbox_session_allocate (PhMailboxSession *self)
{
  g_return_if_fail (PH_IS_MAILBOX_SESSION (self));
  g_return_if_fail (self->nameplate == NULL && !self->is_host);

  self->is_host = TRUE;
  allocate (self);
}

void
ph_mailbox_session_join (PhMailboxSession *self, const char *nameplate)
{
  g_return_if_fail (PH_IS_MAILBOX_SESSION (self));
  g_return_if_fail (self->nameplate == NULL && !self->is_host);
  g_return_if_fail (nameplate != NULL);

  self->nameplate = g_strdup (nameplate);
  post_next (self);
}

static void
claim_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhMailboxSession) self = user_data;
  g_autoptr (GError) error = NULL;
  guint retry_ms;
  gboolean claimed;

  claimed = ph_rendezvous_client_claim_finish (PH_RENDEZVOUS_CLIENT (source), result, &error);
  self->requests--;
  if (self->finished)
    {
      maybe_finish_leave (self);
      return;
    }
  if (!claimed)
    {
      if (is_unreachable (error) && (retry_ms = next_retry_ms (self)) > 0)
        {
          g_debug ("Claiming again in %u ms: %s", retry_ms, error->message);
          self->reenter_id = g_timeout_add_full (G_PRIORITY_DEFAULT, retry_ms, reenter_cb,
                                                 g_object_ref (self), g_object_unref);
          return;
        }
      fail (self, error);
      return;
    }

  /* The claim put our side into the mailbox: read it from the start, and
   * post everything again. */
  g_debug ("Claimed mailbox %s again; posting everything again", self->nameplate);
  self->reentering = FALSE;
  self->joined = TRUE;
  poll_mailbox (self);
  post_next (self);
}

/* The host claims its number again; the joiner reads it (without the old
 * tag, which a reopened mailbox no longer has) until the host has. */
static gboolean
reenter_cb (gpointer user_data)
{
  PhMailboxSession *self = user_data;

  self->reenter_id = 0;
  if (self->is_host)
    ph_rendezvous_client_claim_async (self->client, self->nameplate, self->side, self->cancellable,
                                      claim_cb, request_begin (self));
  else
    {
      ph_rendezvous_client_forget_mailbox (self->client, self->nameplate);
      poll_mailbox (self);
    }
  return G_SOURCE_REMOVE;
}

/* The server lost our mailbox (it restarted: 404; or the number is open
 * again under another tag: 412) before the session was resilient. Both
 * sides get back into a mailbox under the same number and post everything
 * they had posted, in order, so a code already read out stays good: the
 * host claims the number, the joiner waits until it holds the host's first
 * message again. Each side drops the copies of what it already had. */
static void
lose_mailbox (PhMailboxSession *self)
{
  guint retry_ms = next_retry_ms (self);

  if (retry_ms == 0)
    {
      fail_mailbox_lost (self);
      return;
    }
  g_debug ("Mailbox %s is gone; entering it again in %u ms", self->nameplate, retry_ms);
  g_assert (self->posted != NULL);

  /* Whatever was posted goes again, then what was in flight, then the rest. */
  if (self->posting != NULL)
    g_queue_push_head (&self->outgoing, g_steal_pointer (&self->posting));
  for (guint i = self->posted->len; i > 0; i--)
    g_queue_push_head (&self->outgoing, g_ptr_array_steal_index (self->posted, i - 1));
  self->post_generation++;
  g_clear_handle_id (&self->post_retry_id, g_source_remove);

  self->poll_generation++;
  g_clear_handle_id (&self->poll_retry_id, g_source_remove);
  if (self->poll_cancellable != NULL)
    g_cancellable_cancel (self->poll_cancellable);

  self->joined = FALSE;
  self->last_index = 0;
  self->reentering = TRUE;
  self->reentered = TRUE;
  g_clear_handle_id (&self->reenter_id, g_source_remove);
  self->reenter_id = g_timeout_add_full (G_PRIORITY_DEFAULT, retry_ms, reenter_cb,
                                         g_object_ref (self), g_object_unref);
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

void
ph_mailbox_session_post (PhMailboxSession *self, const char *phase, GBytes *body)
{
  g_return_if_fail (PH_IS_MAILBOX_SESSION (self));
  g_return_if_fail (phase != NULL);
  g_return_if_fail (body != NULL);

  g_queue_push_tail (&self->outgoing, post_new (phase, body));
  post_next (self);
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
  trouble_over (self);
  /* A resilient session does not reopen a lost mailbox: no more to keep.
   * After a reopening, though, copies of what the peer posted before may
   * still come, and must still be known. */
  g_clear_pointer (&self->posted, g_ptr_array_unref);
  if (!self->reentered)
    g_clear_pointer (&self->delivered, g_ptr_array_unref);
}

void
ph_mailbox_session_poll_now (PhMailboxSession *self)
{
  g_return_if_fail (PH_IS_MAILBOX_SESSION (self));

  if (self->finished || !self->joined || self->poll_cancellable == NULL)
    return;
  g_clear_handle_id (&self->poll_retry_id, g_source_remove);
  g_cancellable_cancel (self->poll_cancellable);
  poll_mailbox (self);
}

void
ph_mailbox_session_set_poll_delay (PhMailboxSession *self, guint delay_ms)
{
  g_return_if_fail (PH_IS_MAILBOX_SESSION (self));

  self->poll_delay_ms = delay_ms;
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
  /* A post in flight is our first one at the latest, so the last word
   * follows us into the mailbox. */
  if (last_phase != NULL && (self->joined || self->posting != NULL))
    g_queue_push_tail (&self->outgoing, post_new (last_phase, last_body));
  post_next (self);
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

  g_queue_clear_full (&self->outgoing, (GDestroyNotify)post_free);
  g_clear_pointer (&self->posting, post_free);
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
  signals[SIGNAL_MESSAGE]
      = g_signal_new ("message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                      G_TYPE_NONE, 1, G_TYPE_POINTER);
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
  guint8 side[8];

  if (sodium_init () < 0)
    g_error ("libsodium could not be initialised");

  g_queue_init (&self->outgoing);
  self->cancellable = g_cancellable_new ();
  self->posted = g_ptr_array_new_with_free_func ((GDestroyNotify)post_free);
  self->delivered = g_ptr_array_new_with_free_func ((GDestroyNotify)post_free);
  self->patience_seconds = ph_test_hook_uint ("PINHOLE_TEST_RENDEZVOUS_PATIENCE_SECONDS",
                                              SETUP_PATIENCE_SECONDS, 1, SETUP_PATIENCE_SECONDS);

  randombytes_buf (side, sizeof side);
  self->side = g_malloc (sizeof side * 2 + 1);
  sodium_bin2hex (self->side, sizeof side * 2 + 1, side, sizeof side);
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
