/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-mailbox-session"

#include "config.h"

#include <glib/gi18n-lib.h>

#include "ph-mailbox-session-private.h"

/* The server lost our mailbox (it restarted: 404; or the number is open
 * again under another tag: 412; or our secret is nobody's there: 401)
 * before the session was resilient. Both sides get back into a mailbox
 * under the same number, each with a new secret, and post everything they
 * had posted, in order and byte for byte, so that a code already read out
 * stays good: the host claims the number, the joiner joins it again once
 * it holds the host's first message again (the server checks). Each side
 * drops the copies of what it already had. See docs/protocol.md. */

static gboolean reenter_cb (gpointer user_data);

/* The host's mailbox is its own from allocation on; the joiner's from its
 * first post. Only until the session is resilient is a lost one reopened:
 * after that the chat goes on without it. */
gboolean
ph_mailbox_session_can_reenter (PhMailboxSession *self)
{
  return !self->resilient && !self->finished && (self->is_host || self->joined);
}

void
ph_mailbox_session_fail_mailbox_lost (PhMailboxSession *self)
{
  g_autoptr (GError) error
      = g_error_new (PH_ERROR, PH_ERROR_RENDEZVOUS,
                     /* Translators: %s is the number at the start of a code, such as 42. */
                     _ ("The rendezvous server lost the mailbox for the code that starts with %s "
                        "and did not get it back; start a new chat."),
                     self->nameplate);

  ph_mailbox_session_fail (self, error);
}

static void
claim_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhMailboxSession) self = user_data;
  g_autoptr (GError) error = NULL;
  guint retry_ms;
  gboolean claimed;

  claimed = ph_rendezvous_client_claim_finish (PH_RENDEZVOUS_CLIENT (source), result, &error);
  ph_mailbox_session_request_answered (self);
  if (self->finished)
    return;
  if (!claimed)
    {
      if (ph_mailbox_session_is_unreachable (error)
          && (retry_ms = ph_mailbox_session_next_retry_ms (self)) > 0)
        {
          g_debug ("Claiming again in %u ms: %s", retry_ms, error->message);
          self->reenter_id = g_timeout_add_full (G_PRIORITY_DEFAULT, retry_ms, reenter_cb,
                                                 g_object_ref (self), g_object_unref);
          return;
        }
      ph_mailbox_session_fail (self, error);
      return;
    }

  /* The claim put our side into the mailbox: read it from the start, and
   * post everything again. */
  g_debug ("Claimed mailbox %s again; posting everything again", self->nameplate);
  self->reentering = FALSE;
  self->joined = TRUE;
  ph_mailbox_session_seated (self);
  if (self->finished)
    return;
  ph_mailbox_session_poll (self);
  ph_mailbox_session_post_next (self);
}

/* The host claims its number again; the joiner joins it again, in the
 * mailbox whose first message it read, which the host's claim opens. */
static gboolean
reenter_cb (gpointer user_data)
{
  PhMailboxSession *self = user_data;

  self->reenter_id = 0;
  if (self->is_host)
    ph_rendezvous_client_claim_async (self->client, self->nameplate, self->cancellable, claim_cb,
                                      ph_mailbox_session_request_begin (self));
  else
    ph_mailbox_session_join_mailbox (self);
  return G_SOURCE_REMOVE;
}

void
ph_mailbox_session_enter_later (PhMailboxSession *self, guint delay_ms)
{
  g_clear_handle_id (&self->reenter_id, g_source_remove);
  self->reenter_id = g_timeout_add_full (G_PRIORITY_DEFAULT, delay_ms, reenter_cb,
                                         g_object_ref (self), g_object_unref);
}

void
ph_mailbox_session_lose_mailbox (PhMailboxSession *self)
{
  guint retry_ms = ph_mailbox_session_next_retry_ms (self);

  if (retry_ms == 0)
    {
      ph_mailbox_session_fail_mailbox_lost (self);
      return;
    }
  g_debug ("Mailbox %s is gone; entering it again in %u ms", self->nameplate, retry_ms);
  g_assert (self->posted != NULL);

  /* Whatever was posted goes again, then what was in flight, then the
   * rest; each of the first, batch or not, as it went before. */
  if (self->posting != NULL)
    {
      self->posting->again = TRUE;
      g_queue_push_head (&self->outgoing, g_steal_pointer (&self->posting));
    }
  for (guint i = self->posted->len; i > 0; i--)
    {
      PhMailboxPost *post = g_ptr_array_steal_index (self->posted, i - 1);

      post->again = TRUE;
      g_queue_push_head (&self->outgoing, post);
    }
  self->post_generation++;
  g_clear_handle_id (&self->post_retry_id, g_source_remove);
  ph_mailbox_session_drop_poll (self);

  self->joined = FALSE;
  self->last_index = 0;
  self->reentering = TRUE;
  self->reentered = TRUE;
  ph_mailbox_session_enter_later (self, retry_ms);
}

/* A copy the peer posted again into a reopened mailbox, of a message
 * already reported. */
gboolean
ph_mailbox_session_is_copy (PhMailboxSession *self, const PhMailboxMessage *message)
{
  if (!self->reentered || self->delivered == NULL)
    return FALSE;
  for (guint i = 0; i < self->delivered->len; i++)
    if (ph_mailbox_post_equal (g_ptr_array_index (self->delivered, i), message))
      return TRUE;
  return FALSE;
}
