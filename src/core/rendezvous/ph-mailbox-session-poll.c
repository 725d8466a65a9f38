/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-mailbox-session"

#include "config.h"

#include "ph-mailbox-session-private.h"

/* The long-poll of the mailbox: ask for what came after the last message
 * read, wait for it on the server, report each of the peer's messages in
 * order, and ask again. */

/* Long-polls stay under the server's hold limit and the HTTP timeouts. */
#define POLL_WAIT_SECONDS 25

static gboolean
poll_retry_cb (gpointer user_data)
{
  PhMailboxSession *self = user_data;

  self->poll_retry_id = 0;
  ph_mailbox_session_poll (self);
  return G_SOURCE_REMOVE;
}

static void
retry_poll (PhMailboxSession *self, guint retry_ms, const GError *error)
{
  g_debug ("Polling again in %u ms: %s", retry_ms, error->message);
  self->poll_retry_id = g_timeout_add_full (G_PRIORITY_DEFAULT, retry_ms, poll_retry_cb,
                                            g_object_ref (self), g_object_unref);
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

  if (ph_mailbox_session_is_copy (self, message))
    {
      g_debug ("Dropping a copy of an earlier mailbox message");
      return;
    }
  ph_mailbox_session_report_message (self, message);
}

/* Errors a poll rides out: returns whether it handled @error. */
static gboolean
handle_poll_error (PhMailboxSession *self, const GError *error)
{
  guint retry_ms;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return TRUE;
  if (ph_mailbox_session_is_unreachable (error))
    {
      self->server_was_unreachable = TRUE;
      if ((retry_ms = ph_mailbox_session_next_retry_ms (self)) == 0)
        return FALSE;
      retry_poll (self, retry_ms, error);
      return TRUE;
    }
  if (ph_mailbox_session_is_mailbox_gone (error) && ph_mailbox_session_can_reenter (self))
    {
      ph_mailbox_session_lose_mailbox (self);
      return TRUE;
    }
  return FALSE;
}

static void
fetch_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PhMailboxRequest *poll = user_data;
  g_autoptr (PhMailboxSession) self = poll->self;
  gboolean current = poll->generation == self->poll_generation;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) messages = NULL;

  g_free (poll);
  messages = ph_rendezvous_client_fetch_finish (PH_RENDEZVOUS_CLIENT (source), result, &error);
  ph_mailbox_session_request_answered (self);
  if (self->finished || !current)
    return;
  if (messages == NULL)
    {
      if (!handle_poll_error (self, error))
        ph_mailbox_session_fail (self, error);
      return;
    }

  ph_mailbox_session_trouble_over (self);

  for (guint i = 0; i < messages->len && !self->finished; i++)
    {
      const PhMailboxMessage *message = g_ptr_array_index (messages, i);

      if (message->index <= self->last_index)
        continue;
      self->last_index = message->index;
      deliver (self, message);
    }

  if (!self->finished)
    ph_mailbox_session_poll (self);
}

static void
cancel_poll_cb (GCancellable *cancellable, gpointer user_data)
{
  g_cancellable_cancel (user_data);
}

static void
fetch_messages (PhMailboxSession *self)
{
  PhMailboxRequest *poll = ph_mailbox_request_new (self, ++self->poll_generation);

  /* Its own cancellable, so that ph_mailbox_session_poll_now can drop just
   * this poll. */
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

void
ph_mailbox_session_poll (PhMailboxSession *self)
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

void
ph_mailbox_session_drop_poll (PhMailboxSession *self)
{
  self->poll_generation++;
  g_clear_handle_id (&self->poll_retry_id, g_source_remove);
  if (self->poll_cancellable != NULL)
    g_cancellable_cancel (self->poll_cancellable);
}

void
ph_mailbox_session_poll_now (PhMailboxSession *self)
{
  g_return_if_fail (PH_IS_MAILBOX_SESSION (self));

  if (self->finished || !self->joined || self->poll_cancellable == NULL)
    return;
  g_clear_handle_id (&self->poll_retry_id, g_source_remove);
  g_cancellable_cancel (self->poll_cancellable);
  ph_mailbox_session_poll (self);
}

void
ph_mailbox_session_set_poll_delay (PhMailboxSession *self, guint delay_ms)
{
  g_return_if_fail (PH_IS_MAILBOX_SESSION (self));

  self->poll_delay_ms = delay_ms;
}
