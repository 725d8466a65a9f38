/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-signaling"

#include "config.h"

#include <glib/gi18n-lib.h>
#include <sodium.h>

#include "ph-code.h"
#include "ph-error.h"
#include "ph-pake.h"
#include "ph-signaling.h"
#include "ph-test-hooks.h"

/* Long-polls stay under the server's hold limit and the HTTP timeouts. */
#define POLL_WAIT_SECONDS 25

#define END_OF_CANDIDATES "end-of-candidates"
#define ATTEMPT_PREFIX "attempt "

/* A bye carries an error code name such as "ice-failed". */
#define MAX_BYE_REASON_LENGTH 64
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
  GBytes *body; /* plaintext; sealed just before posting */
  gboolean sealed;
  guint64 attempt; /* of the candidates in a "cand" message */
} OutgoingMessage;

struct _PhSignaling
{
  GObject parent_instance;

  PhRendezvousClient *client;
  GCancellable *cancellable;      /* polls and allocation */
  GCancellable *poll_cancellable; /* the poll in flight, child of cancellable */
  gulong poll_cancel_id;
  guint poll_generation; /* an answer to an older poll is dropped */
  GTask *leave_task;

  char *side;
  char *nameplate;
  char *code;
  char *peer_side;
  PhPake *pake;
  PhSealer *sealer;

  GQueue outgoing; /* of OutgoingMessage */
  gboolean posting;
  char *posting_phase; /* what is in flight, kept to post again */
  GBytes *posting_body;
  guint post_generation; /* an answer to an older post is dropped */
  guint post_retry_id;
  guint poll_retry_id;
  gboolean resilient;
  guint64 last_index;

  /* Until the chat connects, everything posted, as posted, so that it can
   * go again into the mailbox a restarted server opens anew. */
  GPtrArray *posted; /* of OutgoingMessage */
  GBytes *peer_pake;
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
  /* Tests stand in for a server slow to bring the peer's answer: once our
   * description is sent, every poll goes out this much later
   * (PINHOLE_TEST_POLL_DELAY_MS). */
  guint test_poll_delay_ms;
  gboolean description_sent;

  gboolean peer_confirmed;
  gboolean joined;   /* our side is in the mailbox */
  gboolean finished; /* failed or left: no more signals */
};

G_DEFINE_FINAL_TYPE (PhSignaling, ph_signaling, G_TYPE_OBJECT)

enum
{
  SIGNAL_CODE_READY,
  SIGNAL_PAIRED,
  SIGNAL_DESCRIPTION,
  SIGNAL_CANDIDATE,
  SIGNAL_END_OF_CANDIDATES,
  SIGNAL_PEER_LEFT,
  SIGNAL_FAILED,
  SIGNAL_SERVER_TROUBLE,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void post_next (PhSignaling *self);
static void delete_mailbox (PhSignaling *self);
static void poll_mailbox (PhSignaling *self);
static void post_current (PhSignaling *self);
static void allocate (PhSignaling *self);
static void lose_mailbox (PhSignaling *self);
static gboolean reenter_cb (gpointer user_data);

static void
outgoing_message_free (OutgoingMessage *message)
{
  g_free (message->phase);
  g_bytes_unref (message->body);
  g_free (message);
}

/* For g_queue_find_custom, which looks for 0: a message still to be sealed. */
static int
compare_unsealed (gconstpointer message, gconstpointer unused)
{
  return ((const OutgoingMessage *)message)->sealed ? 0 : 1;
}

/* Stops reading the mailbox and drops what is still to be sealed, but lets
 * the key confirmation go out: without it a peer with a wrong code would
 * wait for ours until the mailbox expires instead of learning at once. */
static void
stop (PhSignaling *self)
{
  GList *link;

  self->finished = TRUE;
  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->poll_retry_id, g_source_remove);
  g_clear_handle_id (&self->reenter_id, g_source_remove);
  g_clear_handle_id (&self->allocate_retry_id, g_source_remove);
  /* Without a mailbox nothing waiting can go, nor needs to. */
  if (self->reentering)
    g_queue_clear_full (&self->outgoing, (GDestroyNotify)outgoing_message_free);
  if (self->post_retry_id != 0)
    {
      /* Leaving does not wait for a server that is not answering. */
      g_clear_handle_id (&self->post_retry_id, g_source_remove);
      self->posting = FALSE;
      g_clear_pointer (&self->posting_phase, g_free);
      g_clear_pointer (&self->posting_body, g_bytes_unref);
    }
  while ((link = g_queue_find_custom (&self->outgoing, NULL, compare_unsealed)) != NULL)
    {
      outgoing_message_free (link->data);
      g_queue_delete_link (&self->outgoing, link);
    }
}

static void
fail (PhSignaling *self, const GError *error)
{
  if (self->finished)
    return;

  stop (self);
  g_signal_emit (self, signals[SIGNAL_FAILED], 0, error);
}

static void
enqueue_message (PhSignaling *self, const char *phase, GBytes *body, gboolean sealed,
                 guint64 attempt)
{
  OutgoingMessage *message = g_new0 (OutgoingMessage, 1);

  message->phase = g_strdup (phase);
  message->body = g_bytes_ref (body);
  message->sealed = sealed;
  message->attempt = attempt;
  g_queue_push_tail (&self->outgoing, message);
  post_next (self);
}

static void
enqueue (PhSignaling *self, const char *phase, GBytes *body, gboolean sealed)
{
  enqueue_message (self, phase, body, sealed, 0);
}

static void
enqueue_sealed_text (PhSignaling *self, const char *phase, const char *text)
{
  g_autoptr (GBytes) body = g_bytes_new (text, strlen (text));

  enqueue (self, phase, body, TRUE);
}

/* A "cand" message is one candidate (or END_OF_CANDIDATES) per line, after
 * a first line "attempt N" for the candidates of reconnection attempt N;
 * without it they belong to the first connection. */
static void
enqueue_candidate_line (PhSignaling *self, guint64 attempt, const char *line)
{
  OutgoingMessage *tail = g_queue_peek_tail (&self->outgoing);
  g_autoptr (GBytes) body = NULL;
  char *text;

  /* Candidates gathered while a post is in flight travel together: fewer
   * requests, and the peer gets them sooner. */
  if (tail != NULL && g_str_equal (tail->phase, "cand") && tail->attempt == attempt
      && g_bytes_get_size (tail->body) + strlen (line) + 1 < PH_SEALER_MAX_PLAINTEXT)
    {
      gsize length;
      const char *data = g_bytes_get_data (tail->body, &length);
      g_autofree char *joined = g_strdup_printf ("%.*s\n%s", (int)length, data, line);

      g_bytes_unref (tail->body);
      tail->body = g_bytes_new_take (g_steal_pointer (&joined), length + 1 + strlen (line));
      return;
    }

  text = attempt > 1 ? g_strdup_printf (ATTEMPT_PREFIX "%" G_GUINT64_FORMAT "\n%s", attempt, line)
                     : g_strdup (line);
  body = g_bytes_new_take (text, strlen (text));
  enqueue_message (self, "cand", body, TRUE, attempt);
}

static gboolean
patience_left (PhSignaling *self)
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
next_retry_ms (PhSignaling *self)
{
  gint64 now = g_get_monotonic_time ();

  if (self->finished)
    return 0;
  if (self->resilient && !self->reentering)
    return RETRY_SECONDS * 1000;
  if (!patience_left (self))
    return 0;
  if (self->trouble_since == 0)
    self->trouble_since = now;
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
trouble_over (PhSignaling *self)
{
  self->trouble_since = 0;
  self->backoff_ms = 0;
  if (self->trouble_shown)
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
 * first post. Only until the chat connects is a lost one reopened: after
 * that the chat goes on without it (see docs/ARCHITECTURE.md). */
static gboolean
can_reenter (PhSignaling *self)
{
  return !self->resilient && !self->finished && (self->is_host || self->joined);
}

typedef struct
{
  PhSignaling *self;
  guint generation;
} Request;

static Request *
request_new (PhSignaling *self, guint generation)
{
  Request *request = g_new0 (Request, 1);

  request->self = g_object_ref (self);
  request->generation = generation;
  return request;
}

static gboolean
post_retry_cb (gpointer user_data)
{
  PhSignaling *self = user_data;

  self->post_retry_id = 0;
  post_current (self);
  return G_SOURCE_REMOVE;
}

static void
post_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Request *request = user_data;
  g_autoptr (PhSignaling) self = request->self;
  gboolean current = request->generation == self->post_generation;
  g_autoptr (GError) error = NULL;
  guint retry_ms = 0;

  g_free (request);
  ph_rendezvous_client_post_finish (PH_RENDEZVOUS_CLIENT (source), result, NULL, &error);
  /* About a mailbox given up meanwhile: whatever it was goes again. */
  if (!current)
    return;

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
      /* The same sealed bytes go again: if the first post did arrive, the
       * peer drops the copy as a replay. */
      g_debug ("Posting again in %u ms: %s", retry_ms, error->message);
      self->post_retry_id = g_timeout_add_full (G_PRIORITY_DEFAULT, retry_ms, post_retry_cb,
                                                g_object_ref (self), g_object_unref);
      return;
    }

  self->posting = FALSE;
  if (error != NULL)
    {
      g_clear_pointer (&self->posting_phase, g_free);
      g_clear_pointer (&self->posting_body, g_bytes_unref);
      if (self->finished)
        g_debug ("A last mailbox message was not posted: %s", error->message);
      else
        fail (self, error);
      g_queue_clear_full (&self->outgoing, (GDestroyNotify)outgoing_message_free);
      post_next (self);
      return;
    }

  trouble_over (self);
  if (self->posted != NULL)
    {
      OutgoingMessage *posted = g_new0 (OutgoingMessage, 1);

      posted->phase = g_steal_pointer (&self->posting_phase);
      posted->body = g_steal_pointer (&self->posting_body);
      g_ptr_array_add (self->posted, posted);
    }
  g_clear_pointer (&self->posting_phase, g_free);
  g_clear_pointer (&self->posting_body, g_bytes_unref);

  if (!self->joined)
    {
      /* Our first post puts us into the mailbox; only then may we read it
       * without racing a third party for the second seat. */
      self->joined = TRUE;
      if (!self->finished)
        poll_mailbox (self);
    }
  post_next (self);
}

/* Sealed messages wait in the queue until the PAKE has given us a sealer,
 * and are sealed only when posted, so counters follow posting order. */
static void
post_next (PhSignaling *self)
{
  OutgoingMessage *message;
  g_autoptr (GBytes) body = NULL;

  if (self->posting || (self->reentering && !self->finished))
    return;

  message = g_queue_peek_head (&self->outgoing);
  if (message == NULL)
    {
      if (self->leave_task != NULL)
        delete_mailbox (self);
      return;
    }
  if (message->sealed && self->sealer == NULL)
    return;

  g_queue_pop_head (&self->outgoing);
  if (message->sealed)
    body = ph_sealer_seal (self->sealer, message->phase, message->body);
  else
    body = g_bytes_ref (message->body);

  self->posting = TRUE;
  self->posting_phase = g_strdup (message->phase);
  self->posting_body = g_steal_pointer (&body);
  outgoing_message_free (message);
  post_current (self);
}

static void
post_current (PhSignaling *self)
{
  ph_rendezvous_client_post_async (self->client, self->nameplate, self->side, self->posting_phase,
                                   self->posting_body, NULL, post_cb,
                                   request_new (self, self->post_generation));
}

static gboolean
handle_pake (PhSignaling *self, const PhMailboxMessage *message, GError **error)
{
  g_autoptr (GBytes) confirmation = NULL;

  if (self->sealer != NULL && self->reentered && g_bytes_equal (message->body, self->peer_pake))
    return TRUE;
  if (self->sealer != NULL)
    {
      g_set_error_literal (error, PH_ERROR, PH_ERROR_PROTOCOL,
                           "The peer started the key exchange twice.");
      return FALSE;
    }

  if (!ph_pake_finish (self->pake, message->side, message->body, error))
    return FALSE;

  self->peer_pake = g_bytes_ref (message->body);
  self->sealer = ph_pake_create_sealer (self->pake);
  confirmation = ph_pake_get_confirmation (self->pake);
  /* The confirmation goes ahead of everything still to be sealed, and
   * after what is ready to go again into a reopened mailbox. */
  {
    OutgoingMessage *confirm = g_new0 (OutgoingMessage, 1);
    GList *first_sealed = g_queue_find_custom (&self->outgoing, NULL, compare_unsealed);

    confirm->phase = g_strdup ("confirm");
    confirm->body = g_bytes_ref (confirmation);
    if (first_sealed != NULL)
      g_queue_insert_before (&self->outgoing, first_sealed, confirm);
    else
      g_queue_push_tail (&self->outgoing, confirm);
  }
  g_signal_emit (self, signals[SIGNAL_PAIRED], 0);
  post_next (self);
  return TRUE;
}

static gboolean
handle_sealed (PhSignaling *self, const PhMailboxMessage *message, GError **error)
{
  g_autoptr (GBytes) plaintext = NULL;
  GError *local_error = NULL;
  gsize length;
  const char *data;

  if (!self->peer_confirmed)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_PROTOCOL,
                   "The peer sent “%s” before proving it knows the code.", message->phase);
      return FALSE;
    }

  plaintext = ph_sealer_open (self->sealer, message->phase, message->body, &local_error);
  if (plaintext == NULL && (self->resilient || self->reentered)
      && g_error_matches (local_error, PH_ERROR, PH_ERROR_REPLAYED))
    {
      g_debug ("Dropping a copy of an earlier mailbox message");
      return TRUE;
    }
  if (plaintext == NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }

  data = g_bytes_get_data (plaintext, &length);

  if (g_str_equal (message->phase, "desc"))
    {
      g_autoptr (PhSessionDescription) description = NULL;

      description = ph_session_description_parse (data, length, error);
      if (description == NULL)
        return FALSE;
      g_signal_emit (self, signals[SIGNAL_DESCRIPTION], 0, description);
    }
  else
    {
      g_autofree char *text = g_strndup (data, length);
      g_auto (GStrv) lines = NULL;
      guint64 attempt = 1;
      guint first = 0;

      if (strlen (text) != length)
        {
          g_set_error_literal (error, PH_ERROR, PH_ERROR_PROTOCOL,
                               "The peer sent a candidate with a NUL byte in it.");
          return FALSE;
        }
      lines = g_strsplit (text, "\n", PH_SESSION_DESCRIPTION_MAX_CANDIDATES + 3);
      if (lines[0] != NULL && g_str_has_prefix (lines[0], ATTEMPT_PREFIX))
        {
          if (!g_ascii_string_to_unsigned (lines[0] + strlen (ATTEMPT_PREFIX), 10, 2, G_MAXUINT32,
                                           &attempt, NULL))
            {
              g_set_error_literal (error, PH_ERROR, PH_ERROR_PROTOCOL,
                                   "The peer sent candidates for a malformed attempt number.");
              return FALSE;
            }
          first = 1;
        }
      for (guint i = first; lines[i] != NULL && !self->finished; i++)
        {
          if (g_str_equal (lines[i], END_OF_CANDIDATES))
            g_signal_emit (self, signals[SIGNAL_END_OF_CANDIDATES], 0, attempt);
          else
            g_signal_emit (self, signals[SIGNAL_CANDIDATE], 0, attempt, lines[i]);
        }
    }

  return TRUE;
}

static gboolean
handle_message (PhSignaling *self, const PhMailboxMessage *message, GError **error)
{
  g_debug ("Mailbox message %" G_GUINT64_FORMAT ": %s from %s", message->index, message->phase,
           g_str_equal (message->side, self->side) ? "us" : "the peer");
  if (g_str_equal (message->side, self->side))
    return TRUE;

  /* The server admits two sides per mailbox; anything else is a bug. */
  if (self->peer_side == NULL)
    self->peer_side = g_strdup (message->side);
  else if (!g_str_equal (self->peer_side, message->side))
    return TRUE;

  if (g_str_equal (message->phase, "pake"))
    return handle_pake (self, message, error);

  if (self->sealer == NULL)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_PROTOCOL,
                   "The peer sent “%s” before starting the key exchange.", message->phase);
      return FALSE;
    }

  if (g_str_equal (message->phase, "confirm"))
    {
      if (!ph_pake_verify_confirmation (self->pake, message->body, error))
        return FALSE;
      self->peer_confirmed = TRUE;
      return TRUE;
    }

  if (g_str_equal (message->phase, "desc") || g_str_equal (message->phase, "cand"))
    return handle_sealed (self, message, error);

  if (g_str_equal (message->phase, "bye"))
    {
      g_autofree char *reason = NULL;
      gsize length;
      const char *data = g_bytes_get_data (message->body, &length);

      /* Unsealed (a peer may leave before it has a key): only ever shown
       * as the reason of an ending that the server could cause anyway.
       * An empty body has no data pointer at all, and memchr wants one. */
      if (length == 0)
        reason = g_strdup ("");
      else if (length <= MAX_BYE_REASON_LENGTH && memchr (data, '\0', length) == NULL
               && g_utf8_validate_len (data, length, NULL))
        reason = g_strndup (data, length);
      else
        reason = g_strdup ("");
      g_signal_emit (self, signals[SIGNAL_PEER_LEFT], 0, reason);
      return TRUE;
    }

  g_debug ("Ignoring mailbox message in unknown phase “%s”", message->phase);
  return TRUE;
}

static gboolean
poll_retry_cb (gpointer user_data)
{
  PhSignaling *self = user_data;

  self->poll_retry_id = 0;
  poll_mailbox (self);
  return G_SOURCE_REMOVE;
}

static void
retry_poll (PhSignaling *self, guint retry_ms, const GError *error)
{
  g_debug ("Polling again in %u ms: %s", retry_ms, error->message);
  self->poll_retry_id = g_timeout_add_full (G_PRIORITY_DEFAULT, retry_ms, poll_retry_cb,
                                            g_object_ref (self), g_object_unref);
}

static void
fail_mailbox_lost (PhSignaling *self)
{
  g_autoptr (GError) error
      = g_error_new (PH_ERROR, PH_ERROR_RENDEZVOUS,
                     /* Translators: %s is the number at the start of a code, such as 42. */
                     _ ("The rendezvous server lost the mailbox for the code that starts with %s "
                        "and did not get it back; start a new chat."),
                     self->nameplate);

  fail (self, error);
}

/* A joiner finding its mailbox again: it must hold the host's key exchange
 * as we read it before, or the number now belongs to another chat, which
 * our posts must not disturb. */
static gboolean
is_our_mailbox (PhSignaling *self, GPtrArray *messages, GError **error)
{
  const PhMailboxMessage *first = g_ptr_array_index (messages, 0);

  if (self->peer_pake == NULL
      || (first->index == 1 && g_str_equal (first->phase, "pake")
          && g_strcmp0 (first->side, self->peer_side) == 0
          && g_bytes_equal (first->body, self->peer_pake)))
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
  g_autoptr (PhSignaling) self = poll->self;
  gboolean current = poll->generation == self->poll_generation;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  guint retry_ms;

  g_free (poll);
  messages = ph_rendezvous_client_fetch_finish (PH_RENDEZVOUS_CLIENT (source), result, &error);
  if (self->finished || !current)
    return;
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
      /* Open but empty: claimed, and the host's key exchange is on its
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
      if (!handle_message (self, message, &error))
        {
          fail (self, error);
          return;
        }
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
fetch_messages (PhSignaling *self)
{
  Request *poll = request_new (self, ++self->poll_generation);

  /* Its own cancellable, so ph_signaling_poll_now can drop just this poll. */
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
  PhSignaling *self = user_data;

  self->poll_retry_id = 0;
  fetch_messages (self);
  return G_SOURCE_REMOVE;
}

static void
poll_mailbox (PhSignaling *self)
{
  if (self->test_poll_delay_ms == 0 || !self->description_sent)
    {
      fetch_messages (self);
      return;
    }
  g_clear_handle_id (&self->poll_retry_id, g_source_remove);
  self->poll_retry_id = g_timeout_add_full (G_PRIORITY_DEFAULT, self->test_poll_delay_ms,
                                            delayed_fetch_cb, g_object_ref (self), g_object_unref);
}

static void
start_pake (PhSignaling *self)
{
  g_autoptr (GBytes) message = NULL;

  self->pake = ph_pake_new (self->code, self->nameplate, self->side);
  message = ph_pake_get_message (self->pake);
  enqueue (self, "pake", message, FALSE);
}

static gboolean
allocate_retry_cb (gpointer user_data)
{
  PhSignaling *self = user_data;

  self->allocate_retry_id = 0;
  allocate (self);
  return G_SOURCE_REMOVE;
}

static void
allocate_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhSignaling) self = user_data;
  g_autoptr (GError) error = NULL;
  guint retry_ms;

  self->nameplate
      = ph_rendezvous_client_allocate_finish (PH_RENDEZVOUS_CLIENT (source), result, NULL, &error);
  if (self->finished)
    return;
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
  self->code = ph_code_generate (self->nameplate);
  start_pake (self);
  g_signal_emit (self, signals[SIGNAL_CODE_READY], 0, self->code);
}

static void
allocate (PhSignaling *self)
{
  ph_rendezvous_client_allocate_async (self->client, self->cancellable, allocate_cb,
                                       g_object_ref (self));
}

void
ph_signaling_host (PhSignaling *self)
{
  g_return_if_fail (PH_IS_SIGNALING (self));
  g_return_if_fail (self->nameplate == NULL);

  self->is_host = TRUE;
  allocate (self);
}

static void
claim_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhSignaling) self = user_data;
  g_autoptr (GError) error = NULL;
  guint retry_ms;

  if (!ph_rendezvous_client_claim_finish (PH_RENDEZVOUS_CLIENT (source), result, &error))
    {
      if (self->finished)
        return;
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
  if (self->finished)
    return;

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
  PhSignaling *self = user_data;

  self->reenter_id = 0;
  if (self->is_host)
    ph_rendezvous_client_claim_async (self->client, self->nameplate, self->side, self->cancellable,
                                      claim_cb, g_object_ref (self));
  else
    {
      ph_rendezvous_client_forget_mailbox (self->client, self->nameplate);
      poll_mailbox (self);
    }
  return G_SOURCE_REMOVE;
}

/* The server lost our mailbox (it restarted: 404; or the number is open
 * again under another tag: 412) before the chat connected. Both sides get
 * back into a mailbox under the same number and post everything they had
 * posted, in order, so the code already read out stays good: the host
 * claims the number, the joiner waits until it holds the host's key
 * exchange again. Each side drops the copies of what it already had. */
static void
lose_mailbox (PhSignaling *self)
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
  if (self->posting)
    {
      OutgoingMessage *in_flight = g_new0 (OutgoingMessage, 1);

      in_flight->phase = g_steal_pointer (&self->posting_phase);
      in_flight->body = g_steal_pointer (&self->posting_body);
      g_queue_push_head (&self->outgoing, in_flight);
      self->posting = FALSE;
    }
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

void
ph_signaling_join (PhSignaling *self, const char *code)
{
  g_autoptr (GError) error = NULL;

  g_return_if_fail (PH_IS_SIGNALING (self));
  g_return_if_fail (self->nameplate == NULL);

  if (!ph_code_parse (code, &self->nameplate, &self->code, &error))
    {
      fail (self, error);
      return;
    }
  start_pake (self);
}

const char *
ph_signaling_get_code (PhSignaling *self)
{
  g_return_val_if_fail (PH_IS_SIGNALING (self), NULL);

  return self->code;
}

void
ph_signaling_send_description (PhSignaling *self, const PhSessionDescription *description)
{
  g_autofree char *text = NULL;

  g_return_if_fail (PH_IS_SIGNALING (self));
  g_return_if_fail (description != NULL);

  text = ph_session_description_to_string (description);
  enqueue_sealed_text (self, "desc", text);
  self->description_sent = TRUE;
}

void
ph_signaling_send_candidate (PhSignaling *self, guint64 attempt, const char *candidate)
{
  g_return_if_fail (PH_IS_SIGNALING (self));
  g_return_if_fail (attempt >= 1);
  g_return_if_fail (candidate != NULL);

  enqueue_candidate_line (self, attempt, candidate);
}

void
ph_signaling_poll_now (PhSignaling *self)
{
  g_return_if_fail (PH_IS_SIGNALING (self));

  if (self->finished || !self->joined || self->poll_cancellable == NULL)
    return;
  g_clear_handle_id (&self->poll_retry_id, g_source_remove);
  g_cancellable_cancel (self->poll_cancellable);
  poll_mailbox (self);
}

void
ph_signaling_set_resilient (PhSignaling *self)
{
  g_return_if_fail (PH_IS_SIGNALING (self));

  self->resilient = TRUE;
  trouble_over (self);
  /* A connected chat does not reopen a lost mailbox: no more to keep. */
  g_clear_pointer (&self->posted, g_ptr_array_unref);
}

void
ph_signaling_send_end_of_candidates (PhSignaling *self, guint64 attempt)
{
  g_return_if_fail (PH_IS_SIGNALING (self));
  g_return_if_fail (attempt >= 1);

  enqueue_candidate_line (self, attempt, END_OF_CANDIDATES);
}

static void
leave_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhSignaling) self = user_data;
  g_autoptr (GTask) task = g_steal_pointer (&self->leave_task);
  g_autoptr (GError) error = NULL;

  /* The server frees an abandoned mailbox when its time runs out; a failed
   * DELETE is worth a debug line, not an error for the person. */
  if (!ph_rendezvous_client_leave_finish (PH_RENDEZVOUS_CLIENT (source), result, &error))
    g_debug ("Could not leave the mailbox: %s", error->message);
  g_task_return_boolean (task, TRUE);
}

static void
delete_mailbox (PhSignaling *self)
{
  if (self->nameplate == NULL || !self->joined)
    {
      g_autoptr (GTask) task = g_steal_pointer (&self->leave_task);

      g_task_return_boolean (task, TRUE);
      return;
    }

  ph_rendezvous_client_leave_async (self->client, self->nameplate, self->side, NULL, leave_cb,
                                    g_object_ref (self));
}

void
ph_signaling_leave_async (PhSignaling *self, const char *reason, GAsyncReadyCallback callback,
                          gpointer user_data)
{
  g_return_if_fail (PH_IS_SIGNALING (self));
  g_return_if_fail (self->leave_task == NULL);

  self->leave_task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (self->leave_task, ph_signaling_leave_async);

  stop (self);
  /* A peer still setting up learns at once that we are gone, instead of
   * waiting for a description that will not come. A post in flight is our
   * first one at the latest, so the bye follows us into the mailbox. */
  if (self->joined || self->posting)
    {
      g_autoptr (GBytes) body = g_bytes_new (reason, reason != NULL ? strlen (reason) : 0);

      enqueue (self, "bye", body, FALSE);
    }
  post_next (self);
}

void
ph_signaling_leave_finish (PhSignaling *self, GAsyncResult *result)
{
  g_return_if_fail (g_task_is_valid (result, self));

  g_task_propagate_boolean (G_TASK (result), NULL);
}

static void
ph_signaling_finalize (GObject *object)
{
  PhSignaling *self = PH_SIGNALING (object);

  g_queue_clear_full (&self->outgoing, (GDestroyNotify)outgoing_message_free);
  g_clear_handle_id (&self->post_retry_id, g_source_remove);
  g_clear_handle_id (&self->poll_retry_id, g_source_remove);
  g_clear_handle_id (&self->reenter_id, g_source_remove);
  g_clear_handle_id (&self->allocate_retry_id, g_source_remove);
  g_clear_pointer (&self->posted, g_ptr_array_unref);
  g_clear_pointer (&self->peer_pake, g_bytes_unref);
  g_free (self->posting_phase);
  g_clear_pointer (&self->posting_body, g_bytes_unref);
  g_clear_object (&self->leave_task);
  if (self->poll_cancellable != NULL)
    g_cancellable_disconnect (self->cancellable, self->poll_cancel_id);
  g_clear_object (&self->poll_cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->client);
  g_clear_object (&self->pake);
  g_clear_object (&self->sealer);
  g_free (self->side);
  g_free (self->nameplate);
  g_free (self->code);
  g_free (self->peer_side);

  G_OBJECT_CLASS (ph_signaling_parent_class)->finalize (object);
}

static void
ph_signaling_class_init (PhSignalingClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ph_signaling_finalize;

  signals[SIGNAL_CODE_READY]
      = g_signal_new ("code-ready", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_PAIRED] = g_signal_new ("paired", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_DESCRIPTION]
      = g_signal_new ("description", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIGNAL_CANDIDATE]
      = g_signal_new ("candidate", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 2, G_TYPE_UINT64, G_TYPE_STRING);
  signals[SIGNAL_END_OF_CANDIDATES]
      = g_signal_new ("end-of-candidates", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                      NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT64);
  signals[SIGNAL_PEER_LEFT]
      = g_signal_new ("peer-left", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_FAILED] = g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
  /* TRUE: during setup the server stopped answering (or lost our
   * mailbox) and is being asked again; FALSE: it answers again. */
  signals[SIGNAL_SERVER_TROUBLE]
      = g_signal_new ("server-trouble", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
}

static void
ph_signaling_init (PhSignaling *self)
{
  guint8 side[8];

  if (sodium_init () < 0)
    g_error ("libsodium could not be initialised");

  g_queue_init (&self->outgoing);
  self->cancellable = g_cancellable_new ();
  self->posted = g_ptr_array_new_with_free_func ((GDestroyNotify)outgoing_message_free);
  self->patience_seconds = ph_test_hook_uint ("PINHOLE_TEST_RENDEZVOUS_PATIENCE_SECONDS",
                                              SETUP_PATIENCE_SECONDS, 1, SETUP_PATIENCE_SECONDS);
  self->test_poll_delay_ms = ph_test_hook_uint ("PINHOLE_TEST_POLL_DELAY_MS", 0, 0, 10000);

  randombytes_buf (side, sizeof side);
  self->side = g_malloc (sizeof side * 2 + 1);
  sodium_bin2hex (self->side, sizeof side * 2 + 1, side, sizeof side);
}

PhSignaling *
ph_signaling_new (PhRendezvousClient *client)
{
  PhSignaling *self;

  g_return_val_if_fail (PH_IS_RENDEZVOUS_CLIENT (client), NULL);

  self = g_object_new (PH_TYPE_SIGNALING, NULL);
  self->client = g_object_ref (client);
  return self;
}
