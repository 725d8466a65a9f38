/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-conversation"

#include "config.h"

#include <sodium.h>

#include "ph-certificate.h"
#include "ph-code.h"
#include "ph-conversation-private.h"
#include "ph-error.h"
#include "ph-frame.h"
#include "ph-ice-diagnosis.h"
#include "ph-ice-transport-private.h"
#include "ph-nat-check.h"
#include "ph-nice-stream.h"
#include "ph-rendezvous-client.h"
#include "ph-secure-channel.h"
#include "ph-session-description.h"
#include "ph-signaling.h"
#include "ph-test-hooks.h"

/* From the moment both sides hold the key to an open channel; libnice
 * itself gives up sooner when every candidate pair has failed. */
#define CONNECT_TIMEOUT_SECONDS 30
/* Pings keep NAT mappings open and tell a dead peer from a quiet one. */
#define PING_INTERVAL_SECONDS 2
#define PEER_SILENCE_LIMIT_SECONDS 10
/* How long leaving waits for the peer to acknowledge what was sent. */
#define LEAVE_ACK_TIMEOUT_SECONDS 10
/* After our bye, how long we wait for the peer to close its side. */
#define GOODBYE_TIMEOUT_SECONDS 3
/* A broken path is restarted through the mailbox for this long before the
 * peer is given up as lost; each attempt gets a fresh ICE agent and TLS
 * session (see begin_attempt). */
#define RECONNECT_TIMEOUT_SECONDS 60
#define ATTEMPT_TIMEOUT_SECONDS 20
#define ATTEMPT_RETRY_SECONDS 2
/* After the network changed, a peer not heard from for this long is
 * reconnected to at once instead of after PEER_SILENCE_LIMIT_SECONDS. */
#define NETWORK_PROBE_SECONDS 4
/* Descriptions hold at most PH_SESSION_DESCRIPTION_MAX_CANDIDATES; trickle
 * may add as many again. */
#define MAX_REMOTE_CANDIDATES (2 * PH_SESSION_DESCRIPTION_MAX_CANDIDATES)
#define MAX_LOCAL_CANDIDATES MAX_REMOTE_CANDIDATES
/* Each reconnection attempt adds a handful of ICE states. */
#define MAX_TIMELINE_ENTRIES 256

typedef struct
{
  char *id;
  guint64 seq;
  gint64 time_ms;
  char *text;
} OutgoingMessage;

struct _PhConversation
{
  GObject parent_instance;

  char *rendezvous_url;
  char *own_name;
  PhIceConfig *ice_config;
  gboolean use_server_turn;
  gboolean is_host;

  PhConversationState state;
  PhRendezvousClient *client;
  PhSignaling *signaling;
  PhIceTransport *ice;
  PhSecureChannel *channel;
  GTlsCertificate *certificate;
  char *fingerprint;

  gboolean paired;
  gboolean description_sent;
  gboolean local_gathering_done;
  GPtrArray *local_candidates; /* gathered in this attempt */
  guint local_srflx;
  guint local_relay;
  PhSessionDescription *peer_description;
  GPtrArray *remote_candidates;
  guint remote_candidates_added;
  gboolean remote_gathering_done;

  char *peer_name;
  PhPath *path;
  GError *error;

  /* Delivery: every message stays in the outbox, in seq order, until the
   * peer acknowledges it, and is written again on each new channel. */
  GQueue outbox;            /* of OutgoingMessage */
  GHashTable *outbox_index; /* id → its GList link in outbox */
  GList *unwritten;         /* first not yet written on this channel */
  guint64 last_seq;
  guint64 highest_delivered; /* the peer's */

  /* Reconnection: attempt N runs ICE agent N; descriptions carry N as
   * their session version. */
  guint64 session_id;
  guint64 attempt;
  guint64 peer_version;
  char *peer_fingerprint;
  gboolean ever_connected;
  guint reconnect_timeout_seconds;
  guint reconnect_deadline_id;
  guint attempt_timeout_id;
  GNetworkMonitor *network_monitor;
  gint64 network_changed_at;
  GDBusConnection *system_bus; /* for logind's PrepareForSleep */
  guint sleep_subscription;

  gint64 time_started;
  GArray *timeline; /* of PhTimelineEntry */
  gint64 time_begin;
  gint64 time_description;
  gint64 time_ice;
  PhSetupTimes times;

  guint connect_timeout_id;
  guint ping_id;
  guint64 last_ping_number;
  gint64 last_ping_sent;
  double round_trip_ms;
  gboolean retrying_rendezvous; /* see ph_conversation_get_retrying_rendezvous */
  PhNatCheck *nat_check;
  GCancellable *nat_cancellable;
  PhNatType nat_type;
  guint leave_timeout_id;
  gint64 last_heard;
  gboolean leaving;
  gboolean peer_said_bye;
  gboolean we_said_bye;
  guint goodbye_timeout_id;
  gboolean tearing_down;
  guint teardown_pending;
  char *close_reason;
};

G_DEFINE_FINAL_TYPE (PhConversation, ph_conversation, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_STATE,
  PROP_CODE,
  PROP_PEER_NAME,
  PROP_PATH,
  PROP_RETRYING_RENDEZVOUS,
  N_PROPS
};

enum
{
  SIGNAL_MESSAGE_RECEIVED,
  SIGNAL_MESSAGE_SENT,
  SIGNAL_MESSAGE_DELIVERED,
  SIGNAL_MESSAGE_FAILED,
  SIGNAL_PEER_TYPING,
  SIGNAL_PATH_CHANGED,
  SIGNAL_CLOSED,
  SIGNAL_FAILED,
  SIGNAL_DETAILS_CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void teardown (PhConversation *self);
static void stop_watching_system (PhConversation *self);
static void start_reconnect (PhConversation *self);
static void begin_attempt (PhConversation *self, guint64 attempt);
static void start_ice (PhConversation *self);
static gboolean attempt_timeout_cb (gpointer user_data);

static void
outgoing_message_free (OutgoingMessage *message)
{
  g_free (message->id);
  g_free (message->text);
  g_free (message);
}

static double
elapsed_ms (gint64 from, gint64 to)
{
  return (to - from) / 1000.0;
}

static void
details_changed (PhConversation *self)
{
  g_signal_emit (self, signals[SIGNAL_DETAILS_CHANGED], 0);
}

static void
set_state (PhConversation *self, PhConversationState state)
{
  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

/* Everything that ends a conversation before or after it connected comes
 * through here: once the mailbox is left and ICE closed, the front end hears
 * either "failed" or "closed". */
static void
fail (PhConversation *self, const GError *error)
{
  if (self->tearing_down)
    return;

  g_debug ("Conversation failed: %s", error->message);
  self->error = g_error_copy (error);
  teardown (self);
}

static void
fail_literal (PhConversation *self, PhError code, const char *message)
{
  g_autoptr (GError) error = g_error_new_literal (PH_ERROR, code, message);

  fail (self, error);
}

static void
close_with_reason (PhConversation *self, const char *reason)
{
  if (self->tearing_down)
    return;

  self->close_reason = g_strdup (reason);
  teardown (self);
}

static void
teardown_step_done (PhConversation *self)
{
  OutgoingMessage *message;

  g_assert (self->teardown_pending > 0);

  if (--self->teardown_pending > 0)
    return;

  /* Kept by the front end (history) as not delivered. */
  while ((message = g_queue_pop_head (&self->outbox)) != NULL)
    {
      g_hash_table_remove (self->outbox_index, message->id);
      g_signal_emit (self, signals[SIGNAL_MESSAGE_FAILED], 0, message->id, "not delivered");
      outgoing_message_free (message);
    }
  self->unwritten = NULL;

  if (self->error != NULL)
    {
      set_state (self, PH_CONVERSATION_STATE_FAILED);
      g_signal_emit (self, signals[SIGNAL_FAILED], 0, self->error);
    }
  else
    {
      set_state (self, PH_CONVERSATION_STATE_CLOSED);
      g_signal_emit (self, signals[SIGNAL_CLOSED], 0, self->close_reason);
    }
  g_object_unref (self);
}

static void
signaling_left_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ph_signaling_leave_finish (PH_SIGNALING (source), result);
  teardown_step_done (user_data);
}

static void
ice_closed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ph_ice_transport_close_finish (PH_ICE_TRANSPORT (source), result);
  teardown_step_done (user_data);
}

static void
channel_closed_for_teardown_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PhConversation *self = user_data;

  ph_secure_channel_close_finish (PH_SECURE_CHANNEL (source), result, NULL);
  /* The ICE stream goes only after TLS has said close_notify on it. */
  if (self->ice != NULL)
    {
      self->teardown_pending++;
      ph_ice_transport_close_async (self->ice, ice_closed_cb, self);
    }
  teardown_step_done (self);
}

static void
teardown (PhConversation *self)
{
  g_assert (!self->tearing_down);

  self->tearing_down = TRUE;
  g_clear_handle_id (&self->connect_timeout_id, g_source_remove);
  g_clear_handle_id (&self->ping_id, g_source_remove);
  g_clear_handle_id (&self->leave_timeout_id, g_source_remove);
  g_clear_handle_id (&self->goodbye_timeout_id, g_source_remove);
  g_clear_handle_id (&self->reconnect_deadline_id, g_source_remove);
  g_clear_handle_id (&self->attempt_timeout_id, g_source_remove);
  stop_watching_system (self);
  g_cancellable_cancel (self->nat_cancellable);

  /* Held until the last step reports. */
  g_object_ref (self);
  self->teardown_pending = 1;

  if (self->signaling != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->signaling, self);
      self->teardown_pending++;
      ph_signaling_leave_async (self->signaling,
                                self->error != NULL ? ph_error_code_name (self->error) : NULL,
                                signaling_left_cb, self);
    }

  if (self->ice != NULL)
    g_signal_handlers_disconnect_by_data (self->ice, self);

  if (self->channel != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->channel, self);
      self->teardown_pending++;
      ph_secure_channel_close_async (self->channel, channel_closed_for_teardown_cb, self);
    }
  else if (self->ice != NULL)
    {
      self->teardown_pending++;
      ph_ice_transport_close_async (self->ice, ice_closed_cb, self);
    }

  teardown_step_done (self);
}

/* A channel that stopped taking frames after the chat began is a broken
 * path, not the end of the conversation. */
static gboolean
send_frame (PhConversation *self, const PhFrame *frame)
{
  g_autoptr (GError) error = NULL;

  if (self->channel == NULL)
    return FALSE;
  if (ph_secure_channel_send (self->channel, frame, &error))
    return TRUE;

  if (self->ever_connected && g_error_matches (error, PH_ERROR, PH_ERROR_NOT_CONNECTED))
    start_reconnect (self);
  else
    fail (self, error);
  return FALSE;
}

static void
flush_outbox (PhConversation *self)
{
  while (!self->tearing_down && self->state == PH_CONVERSATION_STATE_CONNECTED
         && self->unwritten != NULL)
    {
      OutgoingMessage *message = self->unwritten->data;
      g_autoptr (PhFrame) frame = ph_frame_new_msg (message->id, message->time_ms, message->text);
      g_autofree char *id = g_strdup (message->id);

      frame->seq = message->seq;
      self->unwritten = self->unwritten->next;
      if (!send_frame (self, frame))
        return;
      /* The channel writes its queue in order within this dispatch. */
      g_signal_emit (self, signals[SIGNAL_MESSAGE_SENT], 0, id);
    }
}

static gboolean
goodbye_timeout_cb (gpointer user_data)
{
  PhConversation *self = user_data;

  self->goodbye_timeout_id = 0;
  close_with_reason (self, "left");
  return G_SOURCE_REMOVE;
}

/* Closing our end right after the bye could drop it still unsent inside
 * the link, and the peer would see us as lost. So the peer closes first:
 * its close_notify ends our channel, or we give up waiting after a while. */
static void
say_goodbye (PhConversation *self)
{
  g_autoptr (PhFrame) bye = ph_frame_new_bye ("left");

  if (self->we_said_bye)
    return;
  if (self->state != PH_CONVERSATION_STATE_CONNECTED)
    {
      close_with_reason (self, "left");
      return;
    }
  if (!send_frame (self, bye))
    return;
  self->we_said_bye = TRUE;
  self->goodbye_timeout_id
      = g_timeout_add_seconds (GOODBYE_TIMEOUT_SECONDS, goodbye_timeout_cb, self);
}

static gboolean
leave_timeout_cb (gpointer user_data)
{
  PhConversation *self = user_data;

  self->leave_timeout_id = 0;
  g_debug ("Leaving with %u unacknowledged messages", g_queue_get_length (&self->outbox));
  say_goodbye (self);
  return G_SOURCE_REMOVE;
}

static void
maybe_finish_leaving (PhConversation *self)
{
  if (self->leaving && g_queue_is_empty (&self->outbox))
    {
      g_clear_handle_id (&self->leave_timeout_id, g_source_remove);
      say_goodbye (self);
    }
}

static gboolean
ping_cb (gpointer user_data)
{
  PhConversation *self = user_data;
  g_autoptr (PhFrame) ping = NULL;

  gint64 now = g_get_monotonic_time ();
  gboolean silent = now - self->last_heard > PEER_SILENCE_LIMIT_SECONDS * G_USEC_PER_SEC;
  gboolean unanswered_after_change
      = self->network_changed_at > self->last_heard
        && now - self->network_changed_at > NETWORK_PROBE_SECONDS * G_USEC_PER_SEC;

  if (silent || unanswered_after_change)
    {
      g_debug ("The peer has been silent for %.1f s", (now - self->last_heard) / 1e6);
      self->ping_id = 0;
      if (self->we_said_bye)
        close_with_reason (self, "left");
      else
        start_reconnect (self);
      return G_SOURCE_REMOVE;
    }

  ping = ph_frame_new_ping ();
  ping->ping_id = ++self->last_ping_number;
  self->last_ping_sent = now;
  send_frame (self, ping);
  return G_SOURCE_CONTINUE;
}

static void
handle_hello (PhConversation *self, const PhFrame *frame)
{
  gint64 now = g_get_monotonic_time ();

  if (self->state == PH_CONVERSATION_STATE_CONNECTED)
    return;

  if (!self->ever_connected)
    {
      g_free (self->peer_name);
      self->peer_name = g_strdup (frame->name);

      self->times.rendezvous_ms = elapsed_ms (self->time_begin, self->time_description);
      self->times.ice_ms = elapsed_ms (self->time_description, self->time_ice);
      self->times.tls_ms = elapsed_ms (self->time_ice, now);
      self->times.total_ms = elapsed_ms (self->time_begin, now);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PEER_NAME]);

      /* The mailbox stays for as long as the chat does: a broken path is
       * restarted through it. */
      if (self->signaling != NULL)
        ph_signaling_set_resilient (self->signaling);
    }
  else
    g_debug ("Reconnected (attempt %" G_GUINT64_FORMAT ")", self->attempt);

  self->ever_connected = TRUE;
  g_clear_handle_id (&self->connect_timeout_id, g_source_remove);
  g_clear_handle_id (&self->reconnect_deadline_id, g_source_remove);
  g_clear_handle_id (&self->attempt_timeout_id, g_source_remove);
  g_clear_handle_id (&self->ping_id, g_source_remove);
  self->ping_id = g_timeout_add_seconds (PING_INTERVAL_SECONDS, ping_cb, self);
  self->network_changed_at = 0;

  set_state (self, PH_CONVERSATION_STATE_CONNECTED);

  /* Whatever the peer has not acknowledged may have been lost with the old
   * channel; the peer drops what it already has. */
  self->unwritten = self->outbox.head;
  flush_outbox (self);
  maybe_finish_leaving (self);
}

static void
channel_frame_received_cb (PhSecureChannel *channel, const PhFrame *frame, PhConversation *self)
{
  self->last_heard = g_get_monotonic_time ();

  /* Also after a reconnection: hello comes first on every channel. */
  if (frame->type != PH_FRAME_HELLO && self->state != PH_CONVERSATION_STATE_CONNECTED)
    {
      fail_literal (self, PH_ERROR_PROTOCOL, "The peer sent a message before saying hello.");
      return;
    }

  switch (frame->type)
    {
    case PH_FRAME_HELLO:
      handle_hello (self, frame);
      break;

    case PH_FRAME_MSG:
      {
        g_autoptr (PhFrame) ack = ph_frame_new_ack (frame->id);

        /* The channel is ordered and the peer writes everything it has not
         * had acknowledged again, in order, on each new channel: a number
         * already seen is a copy (acknowledged again, since our first
         * acknowledgement may have been lost), and a gap can only be a
         * broken peer. So nothing needs buffering. */
        if (frame->seq > self->highest_delivered + 1)
          {
            g_autofree char *message
                = g_strdup_printf ("The peer skipped messages (got number %" G_GUINT64_FORMAT
                                   " after %" G_GUINT64_FORMAT ").",
                                   frame->seq, self->highest_delivered);

            fail_literal (self, PH_ERROR_PROTOCOL, message);
            return;
          }
        if (frame->seq == self->highest_delivered + 1)
          {
            self->highest_delivered = frame->seq;
            g_signal_emit (self, signals[SIGNAL_MESSAGE_RECEIVED], 0, frame->id, frame->time_ms,
                           frame->text);
          }
        if (!self->tearing_down)
          send_frame (self, ack);
      }
      break;

    case PH_FRAME_ACK:
      {
        GList *link = g_hash_table_lookup (self->outbox_index, frame->id);
        OutgoingMessage *message;

        if (link == NULL)
          break;
        message = link->data;
        if (self->unwritten == link)
          self->unwritten = link->next;
        g_hash_table_remove (self->outbox_index, frame->id);
        g_queue_delete_link (&self->outbox, link);
        g_signal_emit (self, signals[SIGNAL_MESSAGE_DELIVERED], 0, message->id);
        outgoing_message_free (message);
        maybe_finish_leaving (self);
      }
      break;

    case PH_FRAME_TYPING:
      g_signal_emit (self, signals[SIGNAL_PEER_TYPING], 0, frame->active);
      break;

    case PH_FRAME_BYE:
      self->peer_said_bye = TRUE;
      close_with_reason (self, self->we_said_bye ? "left" : "peer-left");
      break;

    case PH_FRAME_PING:
      if (frame->ping_id != 0)
        {
          g_autoptr (PhFrame) pong = ph_frame_new_pong (frame->ping_id);

          send_frame (self, pong);
        }
      break;

    case PH_FRAME_PONG:
      /* Only the latest ping counts: an older one's answer came late. */
      if (frame->ping_id == self->last_ping_number)
        {
          self->round_trip_ms = elapsed_ms (self->last_ping_sent, self->last_heard);
          details_changed (self);
        }
      break;

    case PH_FRAME_UNKNOWN:
    default:
      break;
    }
}

static void
channel_closed_cb (PhSecureChannel *channel, const GError *error, PhConversation *self)
{
  if (error != NULL
      && (!self->ever_connected || g_error_matches (error, PH_ERROR, PH_ERROR_INVALID_FRAME)
          || g_error_matches (error, PH_ERROR, PH_ERROR_SECURITY)))
    {
      fail (self, error);
      return;
    }
  if (error != NULL)
    g_debug ("Channel closed: %s", error->message);
  if (self->we_said_bye)
    close_with_reason (self, "left");
  else if (self->peer_said_bye)
    close_with_reason (self, "peer-left");
  else if (self->state == PH_CONVERSATION_STATE_RECONNECTING)
    begin_attempt (self, MAX (self->attempt, self->peer_version) + 1);
  else
    start_reconnect (self);
}

static void
channel_opened_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhConversation) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PhFrame) hello = NULL;
  const char *features[] = { NULL };

  /* A channel of an attempt given up meanwhile is no longer ours. */
  if (PH_SECURE_CHANNEL (source) != self->channel)
    return;
  if (!ph_secure_channel_open_finish (PH_SECURE_CHANNEL (source), result, &error))
    {
      if (self->tearing_down)
        return;
      if (self->ever_connected && !g_error_matches (error, PH_ERROR, PH_ERROR_SECURITY))
        {
          g_debug ("No TLS on attempt %" G_GUINT64_FORMAT ": %s", self->attempt, error->message);
          return;
        }
      fail (self, error);
      return;
    }
  if (self->tearing_down)
    return;

  hello = ph_frame_new_hello (self->own_name, features);
  send_frame (self, hello);
}

static void
open_channel (PhConversation *self)
{
  GIOStream *stream;

  if (self->channel != NULL)
    return;

  if (!self->ever_connected)
    self->time_ice = g_get_monotonic_time ();
  stream = ph_ice_transport_get_stream (self->ice);
  self->channel = ph_secure_channel_new (stream, self->is_host, self->certificate,
                                         self->peer_description->fingerprint);
  g_signal_connect (self->channel, "frame-received", G_CALLBACK (channel_frame_received_cb), self);
  g_signal_connect (self->channel, "closed", G_CALLBACK (channel_closed_cb), self);
  self->last_heard = g_get_monotonic_time ();
  ph_secure_channel_open_async (self->channel, NULL, channel_opened_cb, g_object_ref (self));
}

/* The "typ" of a validated "candidate:…" line. */
static gboolean
candidate_has_type (const char *candidate, const char *type)
{
  g_autofree char *needle = g_strdup_printf (" typ %s", type);
  const char *found = strstr (candidate, needle);

  return found != NULL && (found[strlen (needle)] == ' ' || found[strlen (needle)] == '\0');
}

static guint
count_remote_candidates (PhConversation *self, const char *type)
{
  guint count = 0;

  for (guint i = 0; i < self->remote_candidates->len; i++)
    count += candidate_has_type (g_ptr_array_index (self->remote_candidates, i), type);
  return count;
}

/* Says why no path was found, from what this side knows. */
static void
fail_ice (PhConversation *self)
{
  g_autofree char *message = NULL;
  PhIceDiagnosisInput input = {
    .local_nat = self->nat_type,
    .remote_nat = PH_NAT_TYPE_UNKNOWN,
    .stun_configured = self->ice_config->stun_host != NULL,
    .turn_configured = self->ice_config->turn_servers->len > 0,
    .relay_only = self->ice_config->relay_only,
    .local_srflx = self->local_srflx,
    .local_relay = self->local_relay,
    .remote_host = count_remote_candidates (self, "host"),
    .remote_srflx = count_remote_candidates (self, "srflx"),
    .remote_relay = count_remote_candidates (self, "relay"),
  };

  ph_ice_diagnose (&input, &message);
  fail_literal (self, PH_ERROR_ICE_FAILED, message);
}

static void
ice_state_changed_cb (PhIceTransport *ice, PhIceState state, PhConversation *self)
{
  g_debug ("ICE is %s", ph_ice_state_to_string (state));
  if (self->timeline->len < MAX_TIMELINE_ENTRIES)
    {
      PhTimelineEntry entry = { elapsed_ms (self->time_started, g_get_monotonic_time ()), state };

      g_array_append_val (self->timeline, entry);
      details_changed (self);
    }

  /* TLS starts on the first working pair: waiting for READY would also
   * wait for every better pair to fail, seconds behind a NAT. */
  if ((state == PH_ICE_STATE_CONNECTED || state == PH_ICE_STATE_READY)
      && self->peer_description != NULL)
    open_channel (self);
  else if (state == PH_ICE_STATE_FAILED)
    {
      if (self->we_said_bye)
        close_with_reason (self, "left");
      else if (self->state == PH_CONVERSATION_STATE_RECONNECTING)
        {
          /* This attempt found no path; the next one gathers afresh. */
          g_clear_handle_id (&self->attempt_timeout_id, g_source_remove);
          self->attempt_timeout_id
              = g_timeout_add_seconds (ATTEMPT_RETRY_SECONDS, attempt_timeout_cb, self);
        }
      else if (self->ever_connected)
        start_reconnect (self);
      else
        fail_ice (self);
    }
}

static void
ice_path_changed_cb (PhIceTransport *ice, const PhPath *path, PhConversation *self)
{
  if (self->path != NULL && ph_path_equal (self->path, path))
    return;

  g_clear_pointer (&self->path, ph_path_free);
  self->path = ph_path_copy (path);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PATH]);
  if (self->state == PH_CONVERSATION_STATE_CONNECTED)
    g_signal_emit (self, signals[SIGNAL_PATH_CHANGED], 0, self->path);
}

static void
maybe_send_description (PhConversation *self)
{
  g_autoptr (PhSessionDescription) description = NULL;

  if (self->description_sent || !self->paired || self->ice == NULL)
    return;

  description = ph_session_description_new ();
  description->session_id = self->session_id;
  description->session_version = self->attempt;
  description->name = g_strdup (self->own_name);
  description->fingerprint = g_strdup (self->fingerprint);
  description->setup = g_strdup (self->is_host ? "passive" : "active");
  description->ice_ufrag = g_strdup (ph_ice_transport_get_ufrag (self->ice));
  description->ice_pwd = g_strdup (ph_ice_transport_get_pwd (self->ice));
  for (guint i = 0; i < self->local_candidates->len && i < PH_SESSION_DESCRIPTION_MAX_CANDIDATES;
       i++)
    g_ptr_array_add (description->candidates,
                     g_strdup (g_ptr_array_index (self->local_candidates, i)));
  description->end_of_candidates = self->local_gathering_done;

  ph_signaling_send_description (self->signaling, description);
  self->description_sent = TRUE;
}

static void
ice_local_candidate_cb (PhIceTransport *ice, const char *candidate, PhConversation *self)
{
  self->local_srflx += candidate_has_type (candidate, "srflx");
  self->local_relay += candidate_has_type (candidate, "relay");
  /* Once the description went, the list only feeds the inspector. */
  if (self->local_candidates->len < MAX_LOCAL_CANDIDATES)
    {
      g_ptr_array_add (self->local_candidates, g_strdup (candidate));
      details_changed (self);
    }
  if (self->description_sent)
    ph_signaling_send_candidate (self->signaling, self->attempt, candidate);
}

static void
ice_gathering_done_cb (PhIceTransport *ice, PhConversation *self)
{
  self->local_gathering_done = TRUE;
  if (self->description_sent)
    ph_signaling_send_end_of_candidates (self->signaling, self->attempt);
  else
    maybe_send_description (self);
}

/* Remote candidates wait here until both ICE and the peer's credentials
 * exist; then each goes to libnice once. */
static void
feed_remote_candidates (PhConversation *self)
{
  g_autoptr (GError) error = NULL;

  if (self->ice == NULL || self->peer_description == NULL)
    return;

  for (; self->remote_candidates_added < self->remote_candidates->len;
       self->remote_candidates_added++)
    {
      const char *candidate
          = g_ptr_array_index (self->remote_candidates, self->remote_candidates_added);

      if (!ph_ice_transport_add_remote_candidate (self->ice, candidate, &error))
        {
          fail (self, error);
          return;
        }
    }

  if (self->remote_gathering_done)
    ph_ice_transport_remote_gathering_done (self->ice);
}

static gboolean
attempt_timeout_cb (gpointer user_data)
{
  PhConversation *self = user_data;

  self->attempt_timeout_id = 0;
  begin_attempt (self, MAX (self->attempt, self->peer_version) + 1);
  return G_SOURCE_REMOVE;
}

static gboolean
reconnect_deadline_cb (gpointer user_data)
{
  PhConversation *self = user_data;

  self->reconnect_deadline_id = 0;
  g_debug ("No path to the peer for %u s; giving up", self->reconnect_timeout_seconds);
  close_with_reason (self, "peer-lost");
  return G_SOURCE_REMOVE;
}

/* Each attempt gets a new agent, link and TLS session instead of
 * nice_agent_restart_stream(): a fresh agent and a fresh handshake always
 * start clean, and a late packet of the old path cannot reach the new
 * sockets; the peer's certificate stays pinned as before. */
static void
drop_transport (PhConversation *self)
{
  /* The ICE stream closes first: a TLS session dropped over an open stream
   * would say goodbye with a blocking write into a path that is gone. */
  if (self->ice != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->ice, self);
      ph_ice_transport_close_async (self->ice, NULL, NULL);
      g_clear_object (&self->ice);
    }
  if (self->channel != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->channel, self);
      g_clear_object (&self->channel);
    }
}

static void
begin_attempt (PhConversation *self, guint64 attempt)
{
  if (self->tearing_down)
    return;
  if (self->signaling == NULL)
    {
      close_with_reason (self, "peer-lost");
      return;
    }

  g_debug ("Reconnecting: attempt %" G_GUINT64_FORMAT, attempt);
  drop_transport (self);
  self->attempt = attempt;
  self->description_sent = FALSE;
  self->local_gathering_done = FALSE;
  self->local_srflx = 0;
  self->local_relay = 0;
  g_ptr_array_set_size (self->local_candidates, 0);
  g_clear_pointer (&self->peer_description, ph_session_description_free);
  g_ptr_array_set_size (self->remote_candidates, 0);
  self->remote_candidates_added = 0;
  self->remote_gathering_done = FALSE;
  details_changed (self);

  g_clear_handle_id (&self->attempt_timeout_id, g_source_remove);
  self->attempt_timeout_id
      = g_timeout_add_seconds (ATTEMPT_TIMEOUT_SECONDS, attempt_timeout_cb, self);
  /* The poll in flight may be stuck on a connection the same fault broke
   * (a NAT that forgot its mappings drops the server's answer). */
  ph_signaling_poll_now (self->signaling);
  start_ice (self);
}

/* The path broke (ICE failed, the peer fell silent, the channel ended
 * without a goodbye): restart ICE through the mailbox, which the
 * conversation keeps for this, until the deadline. */
static gboolean
enter_reconnecting (PhConversation *self)
{
  if (self->tearing_down)
    return FALSE;
  if (self->signaling == NULL)
    {
      g_debug ("The mailbox is gone; no way to reconnect");
      close_with_reason (self, "peer-lost");
      return FALSE;
    }
  g_clear_handle_id (&self->ping_id, g_source_remove);
  if (self->reconnect_deadline_id == 0)
    self->reconnect_deadline_id
        = g_timeout_add_seconds (self->reconnect_timeout_seconds, reconnect_deadline_cb, self);
  set_state (self, PH_CONVERSATION_STATE_RECONNECTING);
  return TRUE;
}

static void
start_reconnect (PhConversation *self)
{
  if (self->state == PH_CONVERSATION_STATE_RECONNECTING)
    return;
  if (enter_reconnecting (self))
    begin_attempt (self, MAX (self->attempt, self->peer_version) + 1);
}

/* Often nothing that matters to this path changed: ask the peer, and
 * reconnect only if it does not answer soon (ping_cb). */
static void
check_path (PhConversation *self, const char *why)
{
  g_autoptr (PhFrame) ping = NULL;

  if (self->state != PH_CONVERSATION_STATE_CONNECTED || self->tearing_down)
    return;

  g_debug ("%s; checking the path", why);
  self->network_changed_at = g_get_monotonic_time ();
  ping = ph_frame_new_ping ();
  send_frame (self, ping);
}

static void
network_changed_cb (GNetworkMonitor *monitor, gboolean available, PhConversation *self)
{
  check_path (self, "The network changed");
}

static void
prepare_for_sleep_cb (GDBusConnection *connection, const char *sender_name, const char *object_path,
                      const char *interface_name, const char *signal_name, GVariant *parameters,
                      gpointer user_data)
{
  gboolean going_to_sleep;

  if (!g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(b)")))
    return;
  g_variant_get (parameters, "(b)", &going_to_sleep);
  if (!going_to_sleep)
    check_path (user_data, "The machine woke up");
}

/* A weak reference: a conversation that ends before the bus answers must
 * not be kept alive by it. */
static void
system_bus_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GWeakRef *weak = user_data;
  g_autoptr (PhConversation) self = g_weak_ref_get (weak);
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusConnection) bus = g_bus_get_finish (result, &error);

  g_weak_ref_clear (weak);
  g_free (weak);
  if (self == NULL || self->tearing_down)
    return;
  if (bus == NULL)
    {
      g_debug ("No system bus, so a resume from suspend goes unnoticed: %s", error->message);
      return;
    }

  self->system_bus = g_steal_pointer (&bus);
  self->sleep_subscription = g_dbus_connection_signal_subscribe (
      self->system_bus, "org.freedesktop.login1", "org.freedesktop.login1.Manager",
      "PrepareForSleep", "/org/freedesktop/login1", NULL, G_DBUS_SIGNAL_FLAGS_NONE,
      prepare_for_sleep_cb, self, NULL);
}

static void
stop_watching_system (PhConversation *self)
{
  if (self->network_monitor != NULL)
    g_signal_handlers_disconnect_by_data (self->network_monitor, self);
  g_clear_object (&self->network_monitor);
  if (self->sleep_subscription != 0)
    g_dbus_connection_signal_unsubscribe (self->system_bus, self->sleep_subscription);
  self->sleep_subscription = 0;
  g_clear_object (&self->system_bus);
}

static gboolean
connect_timeout_cb (gpointer user_data)
{
  PhConversation *self = user_data;

  self->connect_timeout_id = 0;
  if (self->peer_description == NULL)
    fail_literal (self, PH_ERROR_TIMEOUT,
                  "Your peer stopped answering before the connection was set up.");
  else
    fail_ice (self);
  return G_SOURCE_REMOVE;
}

static void
apply_peer_description (PhConversation *self)
{
  g_autoptr (GError) error = NULL;

  if (self->ice == NULL || self->peer_description == NULL)
    return;

  if (!ph_ice_transport_set_remote_credentials (self->ice, self->peer_description->ice_ufrag,
                                                self->peer_description->ice_pwd, &error))
    {
      fail (self, error);
      return;
    }
  feed_remote_candidates (self);
}

static void
signaling_description_cb (PhSignaling *signaling, const PhSessionDescription *description,
                          PhConversation *self)
{
  const char *expected_setup = self->is_host ? "active" : "passive";
  guint64 version = description->session_version;

  if (version <= self->peer_version)
    {
      g_debug ("Ignoring an old session description (version %" G_GUINT64_FORMAT ")", version);
      return;
    }
  if (!g_str_equal (description->setup, expected_setup))
    {
      fail_literal (self, PH_ERROR_PROTOCOL,
                    "The peer’s session description asks for the wrong TLS role.");
      return;
    }
  if (self->peer_version == 0 && version != 1)
    {
      fail_literal (self, PH_ERROR_PROTOCOL,
                    "The peer restarted a connection that was never set up.");
      return;
    }
  /* Reconnecting must not open a door to anyone but the same peer. */
  if (self->peer_fingerprint != NULL
      && !g_str_equal (self->peer_fingerprint, description->fingerprint))
    {
      fail_literal (self, PH_ERROR_SECURITY,
                    "The peer presented a different certificate while reconnecting.");
      return;
    }
  self->peer_version = version;

  if (version < self->attempt)
    {
      g_debug ("The peer is behind (attempt %" G_GUINT64_FORMAT "); it will follow ours", version);
      return;
    }
  if (version > self->attempt)
    {
      /* The peer restarted first: follow it. */
      if (!enter_reconnecting (self))
        return;
      begin_attempt (self, version);
    }

  if (version == 1)
    {
      self->time_description = g_get_monotonic_time ();
      self->peer_fingerprint = g_strdup (description->fingerprint);
    }
  self->peer_description = ph_session_description_copy (description);
  for (guint i = 0; i < description->candidates->len; i++)
    g_ptr_array_add (self->remote_candidates,
                     g_strdup (g_ptr_array_index (description->candidates, i)));
  self->remote_gathering_done = description->end_of_candidates;
  details_changed (self);

  apply_peer_description (self);
}

static void
signaling_candidate_cb (PhSignaling *signaling, guint64 attempt, const char *candidate,
                        PhConversation *self)
{
  /* An attempt's candidates come after its description, which made it
   * ours; those of an attempt given up are late. */
  if (attempt != self->attempt)
    return;
  if (g_ptr_array_find_with_equal_func (self->remote_candidates, candidate, g_str_equal, NULL))
    return;
  if (self->remote_candidates->len >= MAX_REMOTE_CANDIDATES)
    {
      fail_literal (self, PH_ERROR_PROTOCOL, "The peer sent more candidates than any network has.");
      return;
    }
  g_ptr_array_add (self->remote_candidates, g_strdup (candidate));
  details_changed (self);
  feed_remote_candidates (self);
}

static void
signaling_end_of_candidates_cb (PhSignaling *signaling, guint64 attempt, PhConversation *self)
{
  if (attempt != self->attempt)
    return;
  self->remote_gathering_done = TRUE;
  feed_remote_candidates (self);
}

static void
signaling_code_ready_cb (PhSignaling *signaling, const char *code, PhConversation *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CODE]);
  set_state (self, PH_CONVERSATION_STATE_WAITING_FOR_PEER);
}

static void
signaling_paired_cb (PhSignaling *signaling, PhConversation *self)
{
  if (self->is_host)
    self->time_begin = g_get_monotonic_time ();
  self->paired = TRUE;
  self->connect_timeout_id
      = g_timeout_add_seconds (CONNECT_TIMEOUT_SECONDS, connect_timeout_cb, self);
  set_state (self, PH_CONVERSATION_STATE_CONNECTING);
  maybe_send_description (self);
}

static void
signaling_server_trouble_cb (PhSignaling *signaling, gboolean trouble, PhConversation *self)
{
  self->retrying_rendezvous = trouble;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RETRYING_RENDEZVOUS]);
}

static void
signaling_peer_left_cb (PhSignaling *signaling, const char *reason, PhConversation *self)
{
  if (self->state == PH_CONVERSATION_STATE_RECONNECTING)
    close_with_reason (self, "peer-left");
  else if (self->ever_connected)
    return;
  /* The peer found no path either: say why from what we know, as it did. */
  else if (g_str_equal (reason, "ice-failed") && self->peer_description != NULL)
    fail_ice (self);
  else
    fail_literal (self, PH_ERROR_PEER_LEFT, "Your peer left before the connection was made.");
}

static void
signaling_failed_cb (PhSignaling *signaling, const GError *error, PhConversation *self)
{
  if (!self->ever_connected)
    {
      fail (self, error);
      return;
    }

  /* Most likely the mailbox's lifetime ran out: the chat goes on, but a
   * broken path can no longer be mended. */
  g_debug ("Lost the mailbox: %s", error->message);
  g_signal_handlers_disconnect_by_data (self->signaling, self);
  g_clear_object (&self->signaling);
  if (self->state == PH_CONVERSATION_STATE_RECONNECTING)
    close_with_reason (self, "peer-lost");
}

/* Cancelled before the conversation goes, so @user_data is alive unless
 * the check was cancelled. */
static void
nat_check_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PhNatCheckResult) nat
      = ph_nat_check_run_finish (PH_NAT_CHECK (source), result, &error);
  PhConversation *self;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = user_data;
  if (nat == NULL)
    {
      g_debug ("No NAT type: %s", error->message);
      return;
    }
  self->nat_type = nat->udp_blocked ? PH_NAT_TYPE_UDP_BLOCKED : nat->type;
  g_debug ("Behind NAT type %s", ph_nat_type_to_string (self->nat_type));
  details_changed (self);
}

/* Runs beside ICE, which does not wait for it: it only explains. */
static void
start_nat_check (PhConversation *self)
{
  if (self->nat_check != NULL || self->ice_config->stun_host == NULL)
    return;

  self->nat_check = ph_nat_check_new (self->ice_config->stun_host, self->ice_config->stun_port);
  self->nat_cancellable = g_cancellable_new ();
  ph_nat_check_run_async (self->nat_check, self->nat_cancellable, nat_check_done_cb, self);
}

static void
start_ice (PhConversation *self)
{
  start_nat_check (self);
  self->ice = ph_ice_transport_new (self->ice_config, self->is_host);
  g_signal_connect (self->ice, "local-candidate", G_CALLBACK (ice_local_candidate_cb), self);
  g_signal_connect (self->ice, "gathering-done", G_CALLBACK (ice_gathering_done_cb), self);
  g_signal_connect (self->ice, "state-changed", G_CALLBACK (ice_state_changed_cb), self);
  g_signal_connect (self->ice, "path-changed", G_CALLBACK (ice_path_changed_cb), self);
  ph_ice_transport_start (self->ice);

  maybe_send_description (self);
  apply_peer_description (self);
}

/* Servers the person named win over what the rendezvous server suggests. */
static void
merge_server_turn (PhConversation *self, const PhTurnInfo *info)
{
  g_autoptr (GError) error = NULL;

  if (self->ice_config->stun_host == NULL && info->stun_uris != NULL && info->stun_uris[0] != NULL
      && !ph_ice_config_set_stun (self->ice_config, info->stun_uris[0], &error))
    {
      g_debug ("Ignoring the server’s STUN URI: %s", error->message);
      g_clear_error (&error);
    }

  if (self->ice_config->turn_servers->len > 0 || info->turn_uris == NULL)
    return;

  for (guint i = 0; info->turn_uris[i] != NULL; i++)
    {
      if (!ph_ice_config_add_turn (self->ice_config, info->turn_uris[i], info->username,
                                   info->credential, &error))
        {
          g_debug ("Ignoring the server’s TURN URI: %s", error->message);
          g_clear_error (&error);
        }
    }
}

static void
get_turn_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhConversation) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PhTurnInfo) info = NULL;

  info = ph_rendezvous_client_get_turn_finish (PH_RENDEZVOUS_CLIENT (source), result, &error);
  if (self->tearing_down)
    return;
  /* A server without STUN or TURN to offer is fine: host candidates and
   * peer-reflexive ones still connect many networks. */
  if (info != NULL)
    merge_server_turn (self, info);
  else
    g_debug ("No STUN/TURN from the rendezvous server: %s", error->message);

  start_ice (self);
}

static gboolean
start (PhConversation *self, GError **error)
{
  self->time_started = g_get_monotonic_time ();
  self->client = ph_rendezvous_client_new (self->rendezvous_url, error);
  if (self->client == NULL)
    return FALSE;

  self->certificate = ph_certificate_generate ("pinhole", error);
  if (self->certificate == NULL)
    return FALSE;
  self->fingerprint = ph_certificate_get_fingerprint (self->certificate);

  /* Lets the test suite play a machine in the middle: promise one
   * certificate in the sealed description and present another. */
  if (ph_test_hook_is_set ("PINHOLE_TEST_ADVERTISE_WRONG_FINGERPRINT"))
    {
      g_autoptr (GTlsCertificate) decoy = ph_certificate_generate ("pinhole", error);

      if (decoy == NULL)
        return FALSE;
      g_free (self->fingerprint);
      self->fingerprint = ph_certificate_get_fingerprint (decoy);
    }

  randombytes_buf (&self->session_id, sizeof self->session_id);
  self->session_id &= G_MAXINT64 >> 1;

  self->network_monitor = g_object_ref (g_network_monitor_get_default ());
  g_signal_connect (self->network_monitor, "network-changed", G_CALLBACK (network_changed_cb),
                    self);
  {
    GWeakRef *weak = g_new0 (GWeakRef, 1);

    g_weak_ref_init (weak, self);
    g_bus_get (G_BUS_TYPE_SYSTEM, NULL, system_bus_cb, weak);
  }

  self->signaling = ph_signaling_new (self->client);
  g_signal_connect (self->signaling, "code-ready", G_CALLBACK (signaling_code_ready_cb), self);
  g_signal_connect (self->signaling, "paired", G_CALLBACK (signaling_paired_cb), self);
  g_signal_connect (self->signaling, "description", G_CALLBACK (signaling_description_cb), self);
  g_signal_connect (self->signaling, "candidate", G_CALLBACK (signaling_candidate_cb), self);
  g_signal_connect (self->signaling, "end-of-candidates",
                    G_CALLBACK (signaling_end_of_candidates_cb), self);
  g_signal_connect (self->signaling, "peer-left", G_CALLBACK (signaling_peer_left_cb), self);
  g_signal_connect (self->signaling, "failed", G_CALLBACK (signaling_failed_cb), self);
  g_signal_connect (self->signaling, "server-trouble", G_CALLBACK (signaling_server_trouble_cb),
                    self);

  if (self->use_server_turn)
    ph_rendezvous_client_get_turn_async (self->client, NULL, NULL, get_turn_cb,
                                         g_object_ref (self));
  else
    start_ice (self);

  return TRUE;
}

void
ph_conversation_host (PhConversation *self)
{
  g_autoptr (GError) error = NULL;

  g_return_if_fail (PH_IS_CONVERSATION (self));
  g_return_if_fail (self->state == PH_CONVERSATION_STATE_IDLE && self->client == NULL);

  self->is_host = TRUE;
  if (!start (self, &error))
    {
      fail (self, error);
      return;
    }
  ph_signaling_host (self->signaling);
}

gboolean
ph_conversation_join (PhConversation *self, const char *code, GError **error)
{
  g_autofree char *canonical = NULL;

  g_return_val_if_fail (PH_IS_CONVERSATION (self), FALSE);
  g_return_val_if_fail (self->state == PH_CONVERSATION_STATE_IDLE && self->client == NULL, FALSE);
  g_return_val_if_fail (code != NULL, FALSE);

  if (!ph_code_parse (code, NULL, &canonical, error))
    return FALSE;

  self->time_begin = g_get_monotonic_time ();
  self->is_host = FALSE;
  if (!start (self, error))
    return FALSE;

  set_state (self, PH_CONVERSATION_STATE_CONNECTING);
  ph_signaling_join (self->signaling, canonical);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CODE]);
  return TRUE;
}

char *
ph_conversation_send_message (PhConversation *self, const char *text, GError **error)
{
  OutgoingMessage *message;

  g_return_val_if_fail (PH_IS_CONVERSATION (self), NULL);
  g_return_val_if_fail (text != NULL, NULL);

  if (self->tearing_down || self->leaving)
    {
      g_set_error_literal (error, PH_ERROR, PH_ERROR_NOT_CONNECTED,
                           "This conversation has ended; the message was not sent.");
      return NULL;
    }
  if (strlen (text) > PH_FRAME_MAX_TEXT_SIZE)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_TOO_LARGE,
                   "The message is %zu bytes long; at most %d bytes fit in one message.",
                   strlen (text), PH_FRAME_MAX_TEXT_SIZE);
      return NULL;
    }
  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error_literal (error, PH_ERROR, PH_ERROR_FAILED, "The message is not valid UTF-8.");
      return NULL;
    }

  message = g_new0 (OutgoingMessage, 1);
  message->id = g_uuid_string_random ();
  message->seq = ++self->last_seq;
  message->time_ms = g_get_real_time () / 1000;
  message->text = g_strdup (text);
  g_queue_push_tail (&self->outbox, message);
  g_hash_table_insert (self->outbox_index, message->id, self->outbox.tail);
  if (self->unwritten == NULL)
    self->unwritten = self->outbox.tail;

  flush_outbox (self);

  return g_strdup (message->id);
}

void
ph_conversation_set_typing (PhConversation *self, gboolean typing)
{
  g_autoptr (PhFrame) frame = NULL;

  g_return_if_fail (PH_IS_CONVERSATION (self));

  if (self->state != PH_CONVERSATION_STATE_CONNECTED || self->tearing_down)
    return;

  frame = ph_frame_new_typing (typing);
  send_frame (self, frame);
}

void
ph_conversation_leave (PhConversation *self)
{
  g_return_if_fail (PH_IS_CONVERSATION (self));

  if (self->tearing_down || self->leaving)
    return;

  if (self->state != PH_CONVERSATION_STATE_CONNECTED
      && self->state != PH_CONVERSATION_STATE_RECONNECTING)
    {
      close_with_reason (self, "left");
      return;
    }

  self->leaving = TRUE;
  self->leave_timeout_id
      = g_timeout_add_seconds (LEAVE_ACK_TIMEOUT_SECONDS, leave_timeout_cb, self);
  maybe_finish_leaving (self);
}

PhConversationState
ph_conversation_get_state (PhConversation *self)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), PH_CONVERSATION_STATE_IDLE);

  return self->state;
}

const char *
ph_conversation_get_code (PhConversation *self)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), NULL);

  return self->signaling != NULL ? ph_signaling_get_code (self->signaling) : NULL;
}

const char *
ph_conversation_get_peer_name (PhConversation *self)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), NULL);

  return self->peer_name;
}

const PhPath *
ph_conversation_get_path (PhConversation *self)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), NULL);

  return self->path;
}

const GError *
ph_conversation_get_error (PhConversation *self)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), NULL);

  return self->error;
}

const PhSetupTimes *
ph_conversation_get_setup_times (PhConversation *self)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), NULL);

  return &self->times;
}

guint
ph_conversation_get_unacknowledged (PhConversation *self)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), 0);

  return g_queue_get_length (&self->outbox);
}

static GStrv
dup_candidates (GPtrArray *candidates)
{
  GStrv copy = g_new0 (char *, candidates->len + 1);

  for (guint i = 0; i < candidates->len; i++)
    copy[i] = g_strdup (g_ptr_array_index (candidates, i));
  return copy;
}

GStrv
ph_conversation_dup_local_candidates (PhConversation *self)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), NULL);

  return dup_candidates (self->local_candidates);
}

GStrv
ph_conversation_dup_remote_candidates (PhConversation *self)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), NULL);

  return dup_candidates (self->remote_candidates);
}

GArray *
ph_conversation_get_timeline (PhConversation *self)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), NULL);

  return self->timeline;
}

double
ph_conversation_get_round_trip_ms (PhConversation *self)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), -1);

  return self->round_trip_ms;
}

gboolean
ph_conversation_get_retrying_rendezvous (PhConversation *self)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), FALSE);

  return self->retrying_rendezvous;
}

gboolean
ph_conversation_get_packet_counts (PhConversation *self, guint64 *sent, guint64 *resent)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), FALSE);

  if (self->ice == NULL || self->state != PH_CONVERSATION_STATE_CONNECTED)
    return FALSE;
  ph_nice_stream_get_packet_counts (PH_NICE_STREAM (ph_ice_transport_get_stream (self->ice)), sent,
                                    resent);
  return TRUE;
}

PhNatType
ph_conversation_get_nat_type (PhConversation *self)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), PH_NAT_TYPE_UNKNOWN);

  return self->nat_type;
}

PhIceTransport *
ph_conversation_get_ice_transport (PhConversation *self)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), NULL);

  return self->ice;
}

gboolean
ph_conversation_send_raw_frame (PhConversation *self, const PhFrame *frame, GError **error)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), FALSE);

  if (self->channel == NULL)
    {
      g_set_error_literal (error, PH_ERROR, PH_ERROR_NOT_CONNECTED, "No channel is open.");
      return FALSE;
    }
  return ph_secure_channel_send (self->channel, frame, error);
}

void
ph_conversation_set_use_server_turn (PhConversation *self, gboolean use_server_turn)
{
  g_return_if_fail (PH_IS_CONVERSATION (self));

  self->use_server_turn = use_server_turn;
}

static void
ph_conversation_dispose (GObject *object)
{
  PhConversation *self = PH_CONVERSATION (object);

  g_clear_handle_id (&self->connect_timeout_id, g_source_remove);
  g_clear_handle_id (&self->ping_id, g_source_remove);
  g_clear_handle_id (&self->leave_timeout_id, g_source_remove);
  g_clear_handle_id (&self->goodbye_timeout_id, g_source_remove);
  g_clear_handle_id (&self->reconnect_deadline_id, g_source_remove);
  g_clear_handle_id (&self->attempt_timeout_id, g_source_remove);

  stop_watching_system (self);
  g_cancellable_cancel (self->nat_cancellable);
  g_clear_object (&self->nat_cancellable);
  g_clear_object (&self->nat_check);
  if (self->signaling != NULL)
    g_signal_handlers_disconnect_by_data (self->signaling, self);
  if (self->ice != NULL)
    g_signal_handlers_disconnect_by_data (self->ice, self);
  if (self->channel != NULL)
    g_signal_handlers_disconnect_by_data (self->channel, self);

  g_clear_object (&self->channel);
  g_clear_object (&self->ice);
  g_clear_object (&self->signaling);
  g_clear_object (&self->client);
  g_clear_object (&self->certificate);

  G_OBJECT_CLASS (ph_conversation_parent_class)->dispose (object);
}

static void
ph_conversation_finalize (GObject *object)
{
  PhConversation *self = PH_CONVERSATION (object);

  g_queue_clear_full (&self->outbox, (GDestroyNotify)outgoing_message_free);
  g_hash_table_unref (self->outbox_index);
  g_free (self->peer_fingerprint);
  g_ptr_array_unref (self->local_candidates);
  g_ptr_array_unref (self->remote_candidates);
  g_array_unref (self->timeline);
  g_clear_pointer (&self->peer_description, ph_session_description_free);
  g_clear_pointer (&self->ice_config, ph_ice_config_free);
  g_clear_pointer (&self->path, ph_path_free);
  g_clear_error (&self->error);
  g_free (self->rendezvous_url);
  g_free (self->own_name);
  g_free (self->fingerprint);
  g_free (self->peer_name);
  g_free (self->close_reason);

  G_OBJECT_CLASS (ph_conversation_parent_class)->finalize (object);
}

static void
ph_conversation_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PhConversation *self = PH_CONVERSATION (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_int (value, self->state);
      break;

    case PROP_CODE:
      g_value_set_string (value, ph_conversation_get_code (self));
      break;

    case PROP_PEER_NAME:
      g_value_set_string (value, self->peer_name);
      break;

    case PROP_PATH:
      g_value_set_boxed (value, self->path);
      break;

    case PROP_RETRYING_RENDEZVOUS:
      g_value_set_boolean (value, self->retrying_rendezvous);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_conversation_class_init (PhConversationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ph_conversation_dispose;
  object_class->finalize = ph_conversation_finalize;
  object_class->get_property = ph_conversation_get_property;

  properties[PROP_STATE]
      = g_param_spec_int ("state", NULL, NULL, PH_CONVERSATION_STATE_IDLE,
                          PH_CONVERSATION_STATE_FAILED, PH_CONVERSATION_STATE_IDLE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_CODE]
      = g_param_spec_string ("code", NULL, NULL, NULL,
                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_PEER_NAME]
      = g_param_spec_string ("peer-name", NULL, NULL, NULL,
                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_PATH]
      = g_param_spec_boxed ("path", NULL, NULL, PH_TYPE_PATH,
                            G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_RETRYING_RENDEZVOUS]
      = g_param_spec_boolean ("retrying-rendezvous", NULL, NULL, FALSE,
                              G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_MESSAGE_RECEIVED]
      = g_signal_new ("message-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                      NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_INT64, G_TYPE_STRING);
  signals[SIGNAL_MESSAGE_SENT]
      = g_signal_new ("message-sent", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_MESSAGE_DELIVERED]
      = g_signal_new ("message-delivered", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                      NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_MESSAGE_FAILED]
      = g_signal_new ("message-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_PEER_TYPING]
      = g_signal_new ("peer-typing", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
  signals[SIGNAL_PATH_CHANGED]
      = g_signal_new ("path-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, PH_TYPE_PATH | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_CLOSED] = g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_FAILED]
      = g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                      G_TYPE_NONE, 1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_DETAILS_CHANGED]
      = g_signal_new ("details-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                      NULL, NULL, G_TYPE_NONE, 0);
}

static void
ph_conversation_init (PhConversation *self)
{
  if (sodium_init () < 0)
    g_error ("libsodium could not be initialised");

  g_queue_init (&self->outbox);
  self->outbox_index = g_hash_table_new (g_str_hash, g_str_equal);
  self->attempt = 1;
  self->round_trip_ms = -1;
  /* Lets the test suites see a lost peer given up without waiting a minute. */
  self->reconnect_timeout_seconds = ph_test_hook_uint ("PINHOLE_TEST_RECONNECT_SECONDS",
                                                       RECONNECT_TIMEOUT_SECONDS, 1,
                                                       RECONNECT_TIMEOUT_SECONDS);
  self->local_candidates = g_ptr_array_new_with_free_func (g_free);
  self->remote_candidates = g_ptr_array_new_with_free_func (g_free);
  self->timeline = g_array_new (FALSE, FALSE, sizeof (PhTimelineEntry));
}

PhConversation *
ph_conversation_new (const char *rendezvous_url, const char *own_name,
                     const PhIceConfig *ice_config)
{
  PhConversation *self;

  g_return_val_if_fail (rendezvous_url != NULL, NULL);
  g_return_val_if_fail (own_name != NULL, NULL);

  self = g_object_new (PH_TYPE_CONVERSATION, NULL);
  self->rendezvous_url = g_strdup (rendezvous_url);
  self->own_name = g_strdup (own_name);
  self->ice_config = ice_config != NULL ? ph_ice_config_copy (ice_config) : ph_ice_config_new ();
  return self;
}
