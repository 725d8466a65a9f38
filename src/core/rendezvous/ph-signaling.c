/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-signaling"

#include "config.h"

#include <string.h>

#include <sodium.h>

#include <glib/gi18n-lib.h>

#include "ph-burned-codes.h"
#include "ph-code.h"
#include "ph-error.h"
#include "ph-mailbox-session.h"
#include "ph-pake.h"
#include "ph-signaling.h"
#include "ph-test-hooks.h"

/* The phases of a conversation on top of a PhMailboxSession, which does
 * everything about the mailbox itself: "pake" and "confirm" in the clear
 * (the joiner confirms first), then "desc" and "cand" sealed, and "bye"
 * sealed once the side has sent its confirmation, in the clear before (a
 * peer may leave before it has a key). */

#define END_OF_CANDIDATES "end-of-candidates"
/* PH_MAILBOX_JOINER_SIDE as the session names sides. */
#define JOINER_SIDE "2"
#define ATTEMPT_PREFIX "attempt "

/* A bye carries an error code name such as "ice-failed". */
#define MAX_BYE_REASON_LENGTH 64

/* How long a peer that sent its PAKE message has to prove it knows the
 * code, while the server answers; one that takes longer may be a guess
 * waiting to learn from ours whether it was right. */
#define CONFIRM_PATIENCE_SECONDS 20

typedef struct
{
  char *phase;
  GBytes *body;    /* plaintext; sealed just before posting */
  guint64 attempt; /* of the candidates in a "cand" message */
} OutgoingMessage;

struct _PhSignaling
{
  GObject parent_instance;

  PhMailboxSession *session;
  GTask *leave_task;
  char *server_url;

  char *code;
  /* Two contacts meeting again: the PAKE runs on this secret, derived from
   * their pair secret, and the code is only the nameplate. */
  char *secret;
  gboolean is_host;
  PhPake *pake;
  PhSealer *sealer; /* once the peer's PAKE message came */
  /* A post repeated because the answer to the first was lost (the store
   * had kept it) brings this again: a copy, not a second key exchange. */
  GBytes *peer_pake;
  /* Messages to seal, in order. They are sealed and handed to the session
   * while it has no post in flight (it sends what it is handed in one
   * dispatch as one post), so counters follow posting order and
   * candidates gathered during a post travel together. */
  GQueue unsealed; /* of OutgoingMessage */

  gboolean resilient;
  /* A joiner that waits for a candidate worth sending joins on
   * ph_signaling_release_join(). */
  gboolean join_held;
  gboolean joined;
  /* Our confirmation is with the session: from then on the peer may hold
   * the key, so whatever we post is sealed. */
  gboolean confirmation_posted;
  gboolean peer_confirmed;
  guint confirm_timeout_id;
  guint confirm_patience_seconds;
  gboolean server_trouble;
  /* Messages in the peer's name that it did not send: unsealed or not
   * opening once the key is confirmed. */
  guint ignored_count;
  /* Tests stand in for a server slow to bring the peer's answer: once our
   * description is sent, every poll goes out this much later
   * (PINHOLE_TEST_POLL_DELAY_MS). */
  guint test_poll_delay_ms;
  gboolean finished; /* failed or left: no more signals */
};

G_DEFINE_FINAL_TYPE (PhSignaling, ph_signaling, G_TYPE_OBJECT)

enum
{
  SIGNAL_CODE_READY,
  SIGNAL_SEATED,
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

static void
outgoing_message_free (OutgoingMessage *message)
{
  g_free (message->phase);
  g_bytes_unref (message->body);
  g_free (message);
}

/* Stops reading the mailbox and drops what is still to be sealed, but lets
 * the key confirmation go out: without it a peer with a wrong code would
 * wait for ours until the mailbox expires instead of learning at once. */
static void
stop (PhSignaling *self)
{
  self->finished = TRUE;
  g_clear_handle_id (&self->confirm_timeout_id, g_source_remove);
  g_queue_clear_full (&self->unsealed, (GDestroyNotify)outgoing_message_free);
  ph_mailbox_session_stop (self->session);
}

static GError *
possible_guess_error (void)
{
  return g_error_new_literal (
      PH_ERROR, PH_ERROR_POSSIBLE_GUESS,
      _ ("Someone may have tried to guess your code. Start a new chat with a new code."));
}

static void
fail (PhSignaling *self, const GError *error)
{
  if (self->finished)
    return;

  /* Typing the code again would give whoever guessed another try. Only
   * the joiner types a code; the host's is new for every chat. */
  if (!self->is_host && self->code != NULL && self->secret == NULL
      && (g_error_matches (error, PH_ERROR, PH_ERROR_WRONG_CODE)
          || g_error_matches (error, PH_ERROR, PH_ERROR_POSSIBLE_GUESS)))
    ph_burned_codes_add (self->server_url, self->code, g_get_real_time () / G_USEC_PER_SEC);

  stop (self);
  g_signal_emit (self, signals[SIGNAL_FAILED], 0, error);
}

/* Hands the messages to seal to the session while it posts nothing. */
static void
post_next_sealed (PhSignaling *self)
{
  OutgoingMessage *message;

  if (self->finished || !self->confirmation_posted || ph_mailbox_session_is_posting (self->session))
    return;
  while ((message = g_queue_pop_head (&self->unsealed)) != NULL)
    {
      g_autoptr (GBytes) sealed = ph_sealer_seal (self->sealer, message->phase, message->body);

      ph_mailbox_session_post (self->session, message->phase, sealed);
      outgoing_message_free (message);
    }
}

static void
enqueue_sealed (PhSignaling *self, const char *phase, GBytes *body, guint64 attempt)
{
  OutgoingMessage *message = g_new0 (OutgoingMessage, 1);

  message->phase = g_strdup (phase);
  message->body = g_bytes_ref (body);
  message->attempt = attempt;
  g_queue_push_tail (&self->unsealed, message);
  post_next_sealed (self);
}

/* A "cand" message is one candidate (or END_OF_CANDIDATES) per line, after
 * a first line "attempt N" for the candidates of reconnection attempt N;
 * without it they belong to the first connection. */
static void
enqueue_candidate_line (PhSignaling *self, guint64 attempt, const char *line)
{
  OutgoingMessage *tail = g_queue_peek_tail (&self->unsealed);
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
  enqueue_sealed (self, "cand", body, attempt);
}

static void
ignore (PhSignaling *self, const char *phase, const char *why)
{
  self->ignored_count++;
  g_debug ("Ignoring a “%s” message the peer did not send: %s", phase, why);
}

static gboolean
confirm_timeout_cb (gpointer user_data)
{
  g_autoptr (PhSignaling) self = g_object_ref (user_data);
  g_autoptr (GError) error = possible_guess_error ();

  self->confirm_timeout_id = 0;
  fail (self, error);
  return G_SOURCE_REMOVE;
}

/* From the peer's PAKE message to its confirmation; afresh after each
 * spell of server trouble, which holds everything up. */
static void
wait_for_confirmation (PhSignaling *self)
{
  g_clear_handle_id (&self->confirm_timeout_id, g_source_remove);
  if (self->finished || self->sealer == NULL || self->peer_confirmed || self->server_trouble)
    return;
  self->confirm_timeout_id
      = g_timeout_add_seconds (self->confirm_patience_seconds, confirm_timeout_cb, self);
}

static void
post_confirmation (PhSignaling *self)
{
  g_autoptr (GBytes) confirmation = ph_pake_get_confirmation (self->pake);

  /* Nothing sealed is with the session yet: the confirmation goes ahead of
   * it all, and after what is to go again into a reopened mailbox. */
  ph_mailbox_session_post (self->session, "confirm", confirmation);
  self->confirmation_posted = TRUE;
}

static gboolean
handle_pake (PhSignaling *self, const PhMailboxMessage *message, GError **error)
{
  /* Copies posted again into a reopened mailbox never get here: this one
   * is not the peer's. */
  if (self->peer_confirmed)
    {
      ignore (self, message->phase, "the key exchange is over");
      return TRUE;
    }
  if (self->sealer != NULL && g_bytes_equal (message->body, self->peer_pake))
    {
      g_debug ("Dropping a copy of the peer's PAKE message");
      return TRUE;
    }
  if (self->sealer != NULL)
    {
      g_set_error_literal (error, PH_ERROR, PH_ERROR_PROTOCOL,
                           "The peer started the key exchange twice.");
      return FALSE;
    }

  if (!ph_pake_finish (self->pake, message->side, message->body, error))
    return FALSE;

  self->sealer = ph_pake_create_sealer (self->pake);
  self->peer_pake = g_bytes_ref (message->body);
  wait_for_confirmation (self);
  /* The joiner proves first that it knows the code; the host answers only
   * once that proof verified. So a guess gets nothing back that could tell
   * it whether it was right before the host has seen it. */
  if (!self->is_host)
    {
      post_confirmation (self);
      g_signal_emit (self, signals[SIGNAL_PAIRED], 0);
      post_next_sealed (self);
    }
  return TRUE;
}

static gboolean
handle_confirmation (PhSignaling *self, const PhMailboxMessage *message, GError **error)
{
  GError *local_error = NULL;

  if (self->peer_confirmed)
    {
      ignore (self, message->phase, "the key is confirmed already");
      return TRUE;
    }

  if (!ph_pake_verify_confirmation (self->pake, message->body, &local_error))
    {
      /* The guess is spent: the host's own confirmation tells the joiner
       * nothing more than that it was wrong, and tells it at once. */
      if (self->is_host && g_error_matches (local_error, PH_ERROR, PH_ERROR_WRONG_CODE))
        post_confirmation (self);
      g_propagate_error (error, local_error);
      return FALSE;
    }

  self->peer_confirmed = TRUE;
  g_clear_handle_id (&self->confirm_timeout_id, g_source_remove);
  if (self->is_host)
    {
      post_confirmation (self);
      g_signal_emit (self, signals[SIGNAL_PAIRED], 0);
      post_next_sealed (self);
    }
  return TRUE;
}

static gboolean
handle_candidates (PhSignaling *self, const char *data, gsize length, GError **error)
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
  return TRUE;
}

static gboolean
handle_sealed (PhSignaling *self, const PhMailboxMessage *message, GError **error)
{
  g_autoptr (GBytes) plaintext = NULL;
  g_autoptr (PhSessionDescription) description = NULL;
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
  if (plaintext == NULL && self->resilient
      && g_error_matches (local_error, PH_ERROR, PH_ERROR_REPLAYED))
    {
      g_debug ("Dropping a copy of an earlier mailbox message");
      g_error_free (local_error);
      return TRUE;
    }
  if (plaintext == NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }

  data = g_bytes_get_data (plaintext, &length);
  if (!g_str_equal (message->phase, "desc"))
    return handle_candidates (self, data, length, error);

  description = ph_session_description_parse (data, length, error);
  if (description == NULL)
    return FALSE;
  g_signal_emit (self, signals[SIGNAL_DESCRIPTION], 0, description);
  return TRUE;
}

static void
emit_peer_left (PhSignaling *self, GBytes *body, gboolean sealed)
{
  g_autofree char *reason = NULL;
  gsize length;
  const char *data = g_bytes_get_data (body, &length);

  /* An empty body has no data pointer at all, and memchr wants one. */
  if (length > 0 && length <= MAX_BYE_REASON_LENGTH && memchr (data, '\0', length) == NULL
      && g_utf8_validate_len (data, length, NULL))
    reason = g_strndup (data, length);
  else
    reason = g_strdup ("");
  g_signal_emit (self, signals[SIGNAL_PEER_LEFT], 0, reason, sealed);
}

static gboolean
handle_bye (PhSignaling *self, const PhMailboxMessage *message, GError **error)
{
  g_autoptr (GBytes) plaintext = NULL;
  g_autoptr (GError) local_error = NULL;

  /* The peer seals its bye once it has sent its confirmation, which
   * arrives first: anyone can post an unsealed one in its name. */
  if (self->peer_confirmed)
    {
      plaintext = ph_sealer_open (self->sealer, message->phase, message->body, &local_error);
      if (plaintext == NULL)
        ignore (self, message->phase, local_error->message);
      else
        emit_peer_left (self, plaintext, TRUE);
      return TRUE;
    }

  /* It ran the PAKE on a code and left before proving it knew it. */
  if (self->sealer != NULL)
    {
      g_propagate_error (error, possible_guess_error ());
      return FALSE;
    }

  /* Before the key nobody can tell who posted it: it only ever says that
   * the peer left, never why. */
  emit_peer_left (self, message->body, FALSE);
  return TRUE;
}

static gboolean
handle_message (PhSignaling *self, const PhMailboxMessage *message, GError **error)
{
  if (g_str_equal (message->phase, "pake"))
    return handle_pake (self, message, error);
  /* A peer may leave before it has a key. */
  if (g_str_equal (message->phase, "bye"))
    return handle_bye (self, message, error);

  if (self->sealer == NULL)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_PROTOCOL,
                   "The peer sent “%s” before starting the key exchange.", message->phase);
      return FALSE;
    }

  if (g_str_equal (message->phase, "confirm"))
    return handle_confirmation (self, message, error);

  if (g_str_equal (message->phase, "desc") || g_str_equal (message->phase, "cand"))
    return handle_sealed (self, message, error);

  g_debug ("Ignoring mailbox message in unknown phase “%s”", message->phase);
  return TRUE;
}

/* @side: ours, known before the session has a seat (the joiner queues
 * its PAKE message first, so that it goes with the join). */
static void
start_pake (PhSignaling *self, const char *nameplate, const char *side)
{
  g_autoptr (GBytes) message = NULL;
  char *password = self->secret != NULL ? g_strdup_printf ("%s-%s", nameplate, self->secret) : NULL;

  self->pake = ph_pake_new (password != NULL ? password : self->code, nameplate, side);
  ph_code_wipe (password);
  /* A meeting's host hands its message over in the invitation instead
   * (ph_signaling_dup_pake_message()): one request fewer at once, when
   * each needs a connection. */
  if (self->is_host && self->secret != NULL)
    return;
  message = ph_pake_get_message (self->pake);
  ph_mailbox_session_post (self->session, "pake", message);
}

/* Each handler holds a reference: a signal it emits may drop the last
 * other one. */

static void
session_allocated_cb (PhMailboxSession *session, const char *nameplate, PhSignaling *self)
{
  G_GNUC_UNUSED g_autoptr (PhSignaling) hold = g_object_ref (self);

  self->code = self->secret != NULL ? g_strdup (nameplate) : ph_code_generate (nameplate);
  start_pake (self, nameplate, ph_mailbox_session_get_side (session));
  g_signal_emit (self, signals[SIGNAL_CODE_READY], 0, self->code);
}

static void
session_seated_cb (PhMailboxSession *session, const char *nameplate, PhSignaling *self)
{
  G_GNUC_UNUSED g_autoptr (PhSignaling) hold = g_object_ref (self);

  if (!self->finished)
    g_signal_emit (self, signals[SIGNAL_SEATED], 0, nameplate);
}

static void
session_message_cb (PhMailboxSession *session, const PhMailboxMessage *message, PhSignaling *self)
{
  G_GNUC_UNUSED g_autoptr (PhSignaling) hold = g_object_ref (self);
  g_autoptr (GError) error = NULL;

  if (self->finished)
    return;
  if (handle_message (self, message, &error))
    return;

  /* Between the peer's PAKE message and a confirmation that verifies,
   * whatever goes wrong on its side may be a guess that tries not to be
   * noticed as one; a confirmation that does not match is plainly one. */
  if (self->sealer != NULL && !self->peer_confirmed
      && !g_error_matches (error, PH_ERROR, PH_ERROR_WRONG_CODE)
      && !g_error_matches (error, PH_ERROR, PH_ERROR_POSSIBLE_GUESS))
    {
      g_debug ("Taking this for a possible guess: %s", error->message);
      g_clear_error (&error);
      error = possible_guess_error ();
    }
  fail (self, error);
}

static void
session_drained_cb (PhMailboxSession *session, PhSignaling *self)
{
  post_next_sealed (self);
}

static void
session_server_trouble_cb (PhMailboxSession *session, gboolean trouble, PhSignaling *self)
{
  G_GNUC_UNUSED g_autoptr (PhSignaling) hold = g_object_ref (self);

  if (self->finished)
    return;
  self->server_trouble = trouble;
  wait_for_confirmation (self);
  g_signal_emit (self, signals[SIGNAL_SERVER_TROUBLE], 0, trouble);
}

static void
session_failed_cb (PhMailboxSession *session, const GError *error, PhSignaling *self)
{
  G_GNUC_UNUSED g_autoptr (PhSignaling) hold = g_object_ref (self);

  fail (self, error);
}

void
ph_signaling_host (PhSignaling *self)
{
  g_return_if_fail (PH_IS_SIGNALING (self));
  g_return_if_fail (self->code == NULL);

  self->is_host = TRUE;
  ph_mailbox_session_allocate (self->session);
}

void
ph_signaling_join (PhSignaling *self, const char *code)
{
  g_autofree char *nameplate = NULL;
  g_autoptr (GError) error = NULL;

  g_return_if_fail (PH_IS_SIGNALING (self));
  g_return_if_fail (self->code == NULL);

  if (!ph_code_parse (code, &nameplate, &self->code, &error))
    {
      fail (self, error);
      return;
    }
  start_pake (self, nameplate, JOINER_SIDE);
  ph_mailbox_session_join (self->session, nameplate);
}

void
ph_signaling_host_with_secret (PhSignaling *self, const char *secret)
{
  g_return_if_fail (PH_IS_SIGNALING (self));
  g_return_if_fail (secret != NULL);

  self->secret = g_strdup (secret);
  ph_signaling_host (self);
}

void
ph_signaling_join_with_secret (PhSignaling *self, const char *nameplate, const char *secret,
                               GBytes *host_pake, const char *host_description)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PhSessionDescription) description = NULL;
  PhMailboxMessage pake = { 0, (char *)"1", (char *)"pake", host_pake };

  g_return_if_fail (PH_IS_SIGNALING (self));
  g_return_if_fail (self->code == NULL);
  g_return_if_fail (nameplate != NULL && secret != NULL);

  self->secret = g_strdup (secret);
  self->code = g_strdup (nameplate);
  start_pake (self, nameplate, JOINER_SIDE);
  /* As if read from the mailbox: our confirmation and description are
   * then queued too, and all goes with the join. */
  if (host_pake != NULL && !handle_pake (self, &pake, &error))
    {
      fail (self, error);
      return;
    }
  if (host_description != NULL)
    {
      description
          = ph_session_description_parse (host_description, strlen (host_description), &error);
      if (description == NULL)
        {
          fail (self, error);
          return;
        }
      g_signal_emit (self, signals[SIGNAL_DESCRIPTION], 0, description);
      if (self->finished)
        return;
    }
  if (!self->join_held)
    ph_signaling_release_join (self);
}

void
ph_signaling_hold_join (PhSignaling *self)
{
  g_return_if_fail (PH_IS_SIGNALING (self));
  g_return_if_fail (self->code == NULL);

  self->join_held = TRUE;
}

void
ph_signaling_release_join (PhSignaling *self)
{
  g_return_if_fail (PH_IS_SIGNALING (self));

  self->join_held = FALSE;
  if (self->joined || self->finished || self->code == NULL)
    return;
  self->joined = TRUE;
  ph_mailbox_session_join (self->session, self->code);
}

GBytes *
ph_signaling_dup_pake_message (PhSignaling *self)
{
  g_return_val_if_fail (PH_IS_SIGNALING (self), NULL);

  return self->pake != NULL ? ph_pake_get_message (self->pake) : NULL;
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
  g_autoptr (GBytes) body = NULL;

  g_return_if_fail (PH_IS_SIGNALING (self));
  g_return_if_fail (description != NULL);

  text = ph_session_description_to_string (description);
  body = g_bytes_new (text, strlen (text));
  enqueue_sealed (self, "desc", body, 0);
  if (self->test_poll_delay_ms > 0)
    ph_mailbox_session_set_poll_delay (self->session, self->test_poll_delay_ms);
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
ph_signaling_send_end_of_candidates (PhSignaling *self, guint64 attempt)
{
  g_return_if_fail (PH_IS_SIGNALING (self));
  g_return_if_fail (attempt >= 1);

  enqueue_candidate_line (self, attempt, END_OF_CANDIDATES);
}

GBytes *
ph_signaling_dup_binding (PhSignaling *self)
{
  static const char context[] = "pinhole chat binding";
  g_autoptr (GBytes) key = NULL;
  guint8 binding[32];

  g_return_val_if_fail (PH_IS_SIGNALING (self), NULL);

  if (self->sealer == NULL)
    return NULL;
  key = ph_pake_get_session_key (self->pake);
  crypto_generichash (binding, sizeof binding, (const guint8 *)context, sizeof context - 1,
                      g_bytes_get_data (key, NULL), g_bytes_get_size (key));
  return g_bytes_new (binding, sizeof binding);
}

void
ph_signaling_poll_now (PhSignaling *self)
{
  g_return_if_fail (PH_IS_SIGNALING (self));

  if (!self->finished)
    ph_mailbox_session_poll_now (self->session);
}

guint
ph_signaling_get_ignored_count (PhSignaling *self)
{
  g_return_val_if_fail (PH_IS_SIGNALING (self), 0);

  return self->ignored_count;
}

void
ph_signaling_set_resilient (PhSignaling *self)
{
  g_return_if_fail (PH_IS_SIGNALING (self));

  self->resilient = TRUE;
  ph_mailbox_session_set_resilient (self->session);
}

static void
session_left_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhSignaling) self = user_data;
  g_autoptr (GTask) task = g_steal_pointer (&self->leave_task);

  ph_mailbox_session_leave_finish (PH_MAILBOX_SESSION (source), result);
  g_task_return_boolean (task, TRUE);
}

void
ph_signaling_leave_async (PhSignaling *self, const char *reason, GAsyncReadyCallback callback,
                          gpointer user_data)
{
  g_autoptr (GBytes) bye = NULL;

  g_return_if_fail (PH_IS_SIGNALING (self));
  g_return_if_fail (self->leave_task == NULL);

  self->leave_task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (self->leave_task, ph_signaling_leave_async);

  stop (self);
  /* A peer still setting up learns at once that we are gone, instead of
   * waiting for a description that will not come. Once the peer may hold
   * the key it takes only a sealed bye: stop() left nothing unsealed with
   * the session, so this one's counter follows everything posted. */
  bye = g_bytes_new (reason, reason != NULL ? strlen (reason) : 0);
  if (self->confirmation_posted)
    {
      g_autoptr (GBytes) plain = g_steal_pointer (&bye);

      bye = ph_sealer_seal (self->sealer, "bye", plain);
    }
  ph_mailbox_session_leave_async (self->session, "bye", bye, session_left_cb, g_object_ref (self));
}

void
ph_signaling_leave_finish (PhSignaling *self, GAsyncResult *result)
{
  g_return_if_fail (g_task_is_valid (result, self));

  g_task_propagate_boolean (G_TASK (result), NULL);
}

static void
ph_signaling_dispose (GObject *object)
{
  PhSignaling *self = PH_SIGNALING (object);

  /* The session may outlive us while its last answers come in. */
  g_clear_handle_id (&self->confirm_timeout_id, g_source_remove);
  if (self->session != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->session, self);
      ph_mailbox_session_stop (self->session);
      g_clear_object (&self->session);
    }

  G_OBJECT_CLASS (ph_signaling_parent_class)->dispose (object);
}

static void
ph_signaling_finalize (GObject *object)
{
  PhSignaling *self = PH_SIGNALING (object);

  g_queue_clear_full (&self->unsealed, (GDestroyNotify)outgoing_message_free);
  g_clear_object (&self->leave_task);
  g_clear_object (&self->pake);
  g_clear_object (&self->sealer);
  g_clear_pointer (&self->peer_pake, g_bytes_unref);
  ph_code_wipe (self->code);
  ph_code_wipe (self->secret);
  g_free (self->server_url);

  G_OBJECT_CLASS (ph_signaling_parent_class)->finalize (object);
}

static void
ph_signaling_class_init (PhSignalingClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ph_signaling_dispose;
  object_class->finalize = ph_signaling_finalize;

  signals[SIGNAL_CODE_READY]
      = g_signal_new ("code-ready", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_SEATED] = g_signal_new ("seated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
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
                      NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_BOOLEAN);
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
  g_queue_init (&self->unsealed);
  self->test_poll_delay_ms = ph_test_hook_uint ("PINHOLE_TEST_POLL_DELAY_MS", 0, 0, 10000);
  self->confirm_patience_seconds
      = ph_test_hook_uint ("PINHOLE_TEST_CONFIRM_PATIENCE_SECONDS", CONFIRM_PATIENCE_SECONDS, 1,
                           CONFIRM_PATIENCE_SECONDS);
}

PhSignaling *
ph_signaling_new (PhRendezvousClient *client)
{
  PhSignaling *self;

  g_return_val_if_fail (PH_IS_RENDEZVOUS_CLIENT (client), NULL);

  self = g_object_new (PH_TYPE_SIGNALING, NULL);
  self->server_url = g_strdup (ph_rendezvous_client_get_base_url (client));
  self->session = ph_mailbox_session_new (client);
  g_signal_connect (self->session, "allocated", G_CALLBACK (session_allocated_cb), self);
  g_signal_connect (self->session, "seated", G_CALLBACK (session_seated_cb), self);
  g_signal_connect (self->session, "message", G_CALLBACK (session_message_cb), self);
  g_signal_connect (self->session, "drained", G_CALLBACK (session_drained_cb), self);
  g_signal_connect (self->session, "server-trouble", G_CALLBACK (session_server_trouble_cb), self);
  g_signal_connect (self->session, "failed", G_CALLBACK (session_failed_cb), self);
  return self;
}
