/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-conversation"

#include "config.h"

#include <glib/gi18n-lib.h>
#include <sodium.h>

#include "ph-burned-codes.h"
#include "ph-candidate-ledger.h"
#include "ph-certificate.h"
#include "ph-connection-attempt.h"
#include "ph-code.h"
#include "ph-contact-exchange.h"
#include "ph-conversation-private.h"
#include "ph-delivery.h"
#include "ph-direct-search.h"
#include "ph-error.h"
#include "ph-frame.h"
#include "ph-ice-server-lookup.h"
#include "ph-meeting-keys.h"
#include "ph-keepalive.h"
#include "ph-ice-diagnosis.h"
#include "ph-ice-transport-private.h"
#include "ph-nat-check.h"
#include "ph-nice-stream.h"
#include "ph-reconnection.h"
#include "ph-rendezvous-client.h"
#include "ph-secure-channel.h"
#include "ph-session-description.h"
#include "ph-signaling.h"
#include "ph-system-watch.h"
#include "ph-test-hooks.h"

/* The facade the front ends talk to, and the state machine that ties its
 * parts together: PhDelivery (outbox), PhKeepalive (pings), PhReconnection
 * (attempts and the deadline), PhSystemWatch (network and sleep), the ICE
 * server lookup, PhSignaling (the mailbox) and one PhConnectionAttempt per
 * path. Each part has its own file and test; what stays here is the order
 * of events between them (which event in which state leads where) and the
 * GObject face (twenty accessors, properties and signals), which is why
 * this file is about twice the length of the others: splitting the state
 * machine further would scatter one table of transitions over files. */

/* From the moment both sides hold the key to an open channel; libnice
 * itself gives up sooner when every candidate pair has failed. */
#define CONNECT_TIMEOUT_SECONDS 30
/* A meeting's joiner holds its join this long at most for its
 * server-reflexive candidate: one STUN round trip, usually to the same
 * machine as the rendezvous server. */
#define JOIN_HOLD_MS 150
/* Pings keep NAT mappings open and tell a dead peer from a quiet one. */
#define PING_INTERVAL_MS 2000
#define PEER_SILENCE_LIMIT_MS 10000
/* How long leaving waits for the peer to acknowledge what was sent. */
#define LEAVE_ACK_TIMEOUT_SECONDS 10
/* After our bye, how long we wait for the peer to close its side. */
#define GOODBYE_TIMEOUT_SECONDS 3
/* A broken path is restarted through the mailbox for this long before the
 * peer is given up as lost; each attempt gets a fresh ICE agent and TLS
 * session (see begin_attempt). */
#define RECONNECT_TIMEOUT_SECONDS 60
#define ATTEMPT_TIMEOUT_MS 20000
#define ATTEMPT_RETRY_MS 2000
/* After the network changed, a peer not heard from for this long is
 * reconnected to at once instead of after PEER_SILENCE_LIMIT_MS. */
#define NETWORK_PROBE_MS 4000
/* Descriptions hold at most PH_SESSION_DESCRIPTION_MAX_CANDIDATES; trickle
 * may add as many again. */
#define MAX_CANDIDATES_PER_SIDE (2 * PH_SESSION_DESCRIPTION_MAX_CANDIDATES)
/* The hello feature of peers that answer probes for a direct path. */
#define FEATURE_PROBE "probe"
/* Each reconnection attempt adds a handful of ICE states. */
#define MAX_TIMELINE_ENTRIES 256

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
  PhRendezvousClient *connections_of; /* whose connections the client shares, or NULL */
  PhSignaling *signaling;
  GTlsCertificate *certificate;
  char *fingerprint;

  gboolean paired;
  gboolean description_sent;
  PhConnectionAttempt *attempt; /* the current one: a fresh one per reconnection */

  char *peer_name;
  PhPath *path;
  GError *error;

  /* Every message stays in the outbox until the peer acknowledges it, and
   * is written again on each new channel. */
  PhDelivery *delivery;

  /* Reconnection: attempt N runs ICE agent N; descriptions carry N as
   * their session version. The keepalive tells when the path broke. */
  guint64 session_id;
  PhReconnection *reconnection;
  PhKeepalive *keepalive;
  PhDirectSearch *direct_search; /* while relayed; made on the first hello */
  char *peer_fingerprint;
  gboolean ever_connected;
  PhSystemWatch *system_watch; /* network changes, resume from sleep */

  gint64 time_started;
  GArray *timeline; /* of PhTimelineEntry */
  gint64 time_begin;
  gint64 time_description;
  gint64 time_ice;
  PhSetupTimes times;

  guint connect_timeout_id;
  guint join_hold_id;
  gboolean srflx_gathered;      /* or gathering is over */
  gboolean retrying_rendezvous; /* see ph_conversation_get_retrying_rendezvous */
  gboolean peer_typing;
  PhNatCheck *nat_check;
  GCancellable *cancellable; /* the NAT check and the ICE server lookup */
  char *nameplate;           /* of our mailbox, once this side is seated */
  gboolean turn_offered;     /* the TURN servers are the rendezvous server's */
  guint turn_renewal_id;
  PhNatType nat_type;
  guint leave_timeout_id;
  gboolean leaving;
  gboolean peer_said_bye;
  gboolean we_said_bye;
  guint goodbye_timeout_id;
  gboolean tearing_down;
  guint teardown_pending;
  char *close_reason;

  /* Saving the peer as a contact (ph-contact-exchange.h): the exchange
   * exists once the PAKE key does; the book once this side saves. */
  PhContactExchange *contact_exchange;
  PhContactBook *contact_book;
  PhContact *contact;
  gboolean contact_settled; /* saved, or storing it failed: not tried again */
  gboolean peer_wants_contact;
  guint refused_contact_offers;
  /* Meeting a saved contact again: no message goes either way before the
   * peer proved it holds that contact's identity. */
  PhContact *meeting_contact;
  gboolean identity_proven;
  gboolean ratchet_bundle_sent;
  gboolean contact_saved_untold; /* "contact-saved" waits for the peer's bundle */
};

G_DEFINE_FINAL_TYPE (PhConversation, ph_conversation, G_TYPE_OBJECT)

/* The front ends check names against the facade's limit, hello frames
 * against the codec's. */
G_STATIC_ASSERT (PH_CONVERSATION_MAX_NAME_LENGTH == PH_FRAME_MAX_NAME_LENGTH);

enum
{
  PROP_0,
  PROP_STATE,
  PROP_CODE,
  PROP_PEER_NAME,
  PROP_PATH,
  PROP_RETRYING_RENDEZVOUS,
  PROP_PEER_TYPING,
  PROP_PEER_WANTS_CONTACT,
  PROP_CONTACT,
  N_PROPS
};

enum
{
  SIGNAL_MESSAGE_RECEIVED,
  SIGNAL_MESSAGE_SENT,
  SIGNAL_MESSAGE_DELIVERED,
  SIGNAL_MESSAGE_FAILED,
  SIGNAL_CLOSED,
  SIGNAL_FAILED,
  SIGNAL_DETAILS_CHANGED,
  SIGNAL_CONTACT_SAVED,
  SIGNAL_CONTACT_FAILED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void teardown (PhConversation *self);
static gboolean renew_turn_cb (gpointer user_data);
static void stop_watching_system (PhConversation *self);
static void start_reconnect (PhConversation *self);
static void begin_attempt (PhConversation *self, guint64 attempt);
static void start_ice (PhConversation *self);

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
set_peer_typing (PhConversation *self, gboolean typing)
{
  if (self->peer_typing == typing)
    return;
  self->peer_typing = typing;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PEER_TYPING]);
}

static void
set_state (PhConversation *self, PhConversationState state)
{
  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
  /* Whoever was typing on a path that broke is not known to be now. */
  if (state != PH_CONVERSATION_STATE_CONNECTED)
    set_peer_typing (self, FALSE);
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
  g_auto (GStrv) undelivered = NULL;

  g_assert (self->teardown_pending > 0);

  if (--self->teardown_pending > 0)
    return;

  /* Kept by the front end (history) as not delivered. */
  undelivered = ph_delivery_drain (self->delivery);
  for (guint i = 0; undelivered[i] != NULL; i++)
    g_signal_emit (self, signals[SIGNAL_MESSAGE_FAILED], 0, undelivered[i], "not delivered");

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
attempt_closed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ph_connection_attempt_close_finish (PH_CONNECTION_ATTEMPT (source), result);
  teardown_step_done (user_data);
}

static PhSecureChannel *
current_channel (PhConversation *self)
{
  return self->attempt != NULL ? ph_connection_attempt_get_channel (self->attempt) : NULL;
}

/* The attempt's signals and its channel's stop reaching us. */
static void
disconnect_attempt (PhConversation *self)
{
  PhSecureChannel *channel = current_channel (self);

  if (channel != NULL)
    g_signal_handlers_disconnect_by_data (channel, self);
  g_signal_handlers_disconnect_by_data (self->attempt, self);
}

static void
stop_direct_search (PhConversation *self)
{
  if (self->direct_search != NULL)
    ph_direct_search_stop (self->direct_search);
}

static void
teardown (PhConversation *self)
{
  g_assert (!self->tearing_down);

  self->tearing_down = TRUE;
  stop_direct_search (self);
  g_clear_handle_id (&self->connect_timeout_id, g_source_remove);
  g_clear_handle_id (&self->join_hold_id, g_source_remove);
  g_clear_handle_id (&self->leave_timeout_id, g_source_remove);
  g_clear_handle_id (&self->goodbye_timeout_id, g_source_remove);
  g_clear_handle_id (&self->turn_renewal_id, g_source_remove);
  ph_keepalive_stop (self->keepalive);
  ph_reconnection_stop (self->reconnection);
  stop_watching_system (self);
  g_cancellable_cancel (self->cancellable);

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

  if (self->attempt != NULL)
    {
      disconnect_attempt (self);
      self->teardown_pending++;
      ph_connection_attempt_close_async (self->attempt, attempt_closed_cb, self);
    }

  teardown_step_done (self);
}

/* A channel that stopped taking frames after the chat began is a broken
 * path, not the end of the conversation. */
static gboolean
send_frame (PhConversation *self, const PhFrame *frame)
{
  g_autoptr (GError) error = NULL;
  PhSecureChannel *channel = current_channel (self);

  if (channel == NULL)
    return FALSE;
  if (ph_secure_channel_send (channel, frame, &error))
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
  const PhOutgoingMessage *message;

  if (self->meeting_contact != NULL && !self->identity_proven)
    return;
  while (!self->tearing_down && self->state == PH_CONVERSATION_STATE_CONNECTED
         && (message = ph_delivery_next_unwritten (self->delivery)) != NULL)
    {
      g_autoptr (PhFrame) frame = ph_frame_new_msg (message->id, message->time_ms, message->text);
      g_autofree char *id = g_strdup (message->id);

      frame->seq = message->seq;
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
  g_debug ("Leaving with %u unacknowledged messages",
           ph_delivery_get_unacknowledged (self->delivery));
  say_goodbye (self);
  return G_SOURCE_REMOVE;
}

static void
maybe_finish_leaving (PhConversation *self)
{
  if (self->leaving && ph_delivery_get_unacknowledged (self->delivery) == 0)
    {
      g_clear_handle_id (&self->leave_timeout_id, g_source_remove);
      say_goodbye (self);
    }
}

static guint64
current_attempt (PhConversation *self)
{
  return ph_reconnection_get_attempt (self->reconnection);
}

static void
keepalive_ping_cb (PhKeepalive *keepalive, guint64 ping_id, PhConversation *self)
{
  g_autoptr (PhFrame) ping = ph_frame_new_ping ();

  ping->ping_id = ping_id;
  send_frame (self, ping);
}

static void
keepalive_peer_silent_cb (PhKeepalive *keepalive, PhConversation *self)
{
  g_debug ("The peer has been silent");
  if (self->we_said_bye)
    close_with_reason (self, "left");
  else
    start_reconnect (self);
}

static void
round_trip_changed_cb (PhKeepalive *keepalive, GParamSpec *pspec, PhConversation *self)
{
  details_changed (self);
}

static void
set_peer_wants_contact (PhConversation *self, gboolean wants)
{
  if (self->peer_wants_contact == wants)
    return;
  self->peer_wants_contact = wants;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PEER_WANTS_CONTACT]);
}

/* Sealed copies need a ratchet session each way (ph-ratchet.h): our
 * bundle goes once per conversation, when the contact was just saved,
 * when a contact met again has no session with us, or in answer to the
 * peer's (theirs means they have none). */
static void
send_ratchet_bundle (PhConversation *self)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bundle = NULL;
  g_autoptr (PhFrame) frame = NULL;
  g_autofree char *encoded = NULL;
  PhRatchet *ratchet;

  if (self->ratchet_bundle_sent || self->contact == NULL || self->contact_book == NULL)
    return;
  ratchet = ph_contact_book_get_ratchet (self->contact_book, &error);
  if (ratchet != NULL)
    bundle = ph_ratchet_make_bundle (ratchet, &error);
  if (bundle == NULL)
    {
      g_warning ("No sealed copies with %s: %s", ph_contact_get_name (self->contact),
                 error->message);
      return;
    }
  encoded = g_base64_encode (g_bytes_get_data (bundle, NULL), g_bytes_get_size (bundle));
  frame = ph_frame_new_ratchet_bundle (encoded);
  self->ratchet_bundle_sent = send_frame (self, frame);
}

/* Once the peer's bundle is in too, so that a side that leaves at
 * "contact-saved" can already seal copies for the contact. */
static void
tell_contact_saved (PhConversation *self)
{
  if (!self->contact_saved_untold)
    return;
  self->contact_saved_untold = FALSE;
  g_signal_emit (self, signals[SIGNAL_CONTACT_SAVED], 0, self->contact);
}

static gboolean
has_ratchet_session (PhConversation *self)
{
  PhRatchet *ratchet = ph_contact_book_get_ratchet (self->contact_book, NULL);

  return ratchet != NULL && ph_ratchet_has_session (ratchet, ph_contact_get_id (self->contact));
}

static void
handle_ratchet_bundle (PhConversation *self, const PhFrame *frame)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bundle = NULL;
  PhRatchet *ratchet;
  guchar *decoded;
  gsize size;

  if (self->contact == NULL)
    {
      g_debug ("A ratchet bundle from a peer who is not a contact: ignored");
      return;
    }
  decoded = g_base64_decode (frame->bundle, &size);
  bundle = g_bytes_new_take (decoded, size);
  ratchet = ph_contact_book_get_ratchet (self->contact_book, &error);
  if (ratchet == NULL
      || !ph_ratchet_start_session (ratchet, ph_contact_get_id (self->contact), bundle,
                                    ph_contact_get_public_key (self->contact), &error))
    g_warning ("No sealed copies with %s: %s", ph_contact_get_name (self->contact), error->message);
  else
    send_ratchet_bundle (self);
  tell_contact_saved (self);
}

/* Stores the contact once both offers are in; each side does it alone. */
static void
maybe_store_contact (PhConversation *self)
{
  g_autoptr (PhContact) contact = NULL;
  g_autoptr (GError) error = NULL;

  if (self->contact_settled || self->meeting_contact != NULL || self->contact_book == NULL
      || self->contact_exchange == NULL || !ph_contact_exchange_has_offered (self->contact_exchange)
      || !ph_contact_exchange_has_peer_offer (self->contact_exchange))
    return;

  self->contact_settled = TRUE;
  set_peer_wants_contact (self, FALSE);
  contact = ph_contact_exchange_create_contact (self->contact_exchange, &error);
  if (contact != NULL)
    self->contact = ph_contact_book_save (self->contact_book, contact, &error);
  if (self->contact == NULL)
    {
      g_debug ("The contact was not saved: %s", error->message);
      g_signal_emit (self, signals[SIGNAL_CONTACT_FAILED], 0, error);
      return;
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONTACT]);
  self->contact_saved_untold = TRUE;
  send_ratchet_bundle (self);
}

/* On every new channel, since the last one may have lost it; the peer
 * takes a copy of an offer it has as nothing new. */
static void
send_contact_offer (PhConversation *self)
{
  g_autoptr (PhFrame) offer = NULL;

  if (self->contact_book == NULL || self->contact_exchange == NULL
      || self->state != PH_CONVERSATION_STATE_CONNECTED)
    return;

  offer = ph_contact_exchange_make_offer (
      self->contact_exchange, ph_contact_book_get_identity (self->contact_book), self->own_name);
  if (send_frame (self, offer))
    maybe_store_contact (self);
}

/* The offer of a contact met again is its proof of identity: the key
 * must be the one saved, and nothing else will do. */
static void
check_meeting_identity (PhConversation *self, const GError *offer_error)
{
  GBytes *key = ph_contact_exchange_get_peer_key (self->contact_exchange);

  if (self->identity_proven)
    return;
  if (offer_error != NULL || key == NULL
      || !g_bytes_equal (key, ph_contact_get_public_key (self->meeting_contact)))
    {
      g_autoptr (GError) error = g_error_new (
          PH_ERROR, PH_ERROR_SECURITY,
          _ ("This is not %s: the peer could not prove the identity you saved. Nothing was sent."),
          ph_contact_get_name (self->meeting_contact));

      fail (self, error);
      return;
    }
  self->identity_proven = TRUE;
  self->contact = g_object_ref (self->meeting_contact);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONTACT]);
  if (!has_ratchet_session (self))
    send_ratchet_bundle (self);
  flush_outbox (self);
  maybe_finish_leaving (self);
}

static void
handle_contact_offer (PhConversation *self, const PhFrame *frame)
{
  g_autoptr (GError) error = NULL;
  gboolean received = ph_contact_exchange_receive_offer (self->contact_exchange, frame, &error);

  if (self->meeting_contact != NULL)
    {
      check_meeting_identity (self, error);
      return;
    }
  if (!received)
    {
      self->refused_contact_offers++;
      g_debug ("%s", error->message);
      g_signal_emit (self, signals[SIGNAL_CONTACT_FAILED], 0, error);
      return;
    }
  if (self->contact_book == NULL)
    set_peer_wants_contact (self, TRUE);
  else
    maybe_store_contact (self);
}

static void
direct_search_send_frame_cb (PhDirectSearch *search, const PhFrame *frame, PhConversation *self)
{
  if (self->state == PH_CONVERSATION_STATE_CONNECTED && !self->tearing_down)
    send_frame (self, frame);
}

/* A chat on a relay looks for a direct path as long as it lasts, with a
 * peer that answers probes; never when only relays are allowed. */
static void
start_direct_search (PhConversation *self, const PhFrame *hello)
{
  PhIceTransport *ice = ph_connection_attempt_get_ice (self->attempt);

  if (self->ice_config->relay_only || ice == NULL || hello->features == NULL
      || !g_strv_contains ((const char *const *)hello->features, FEATURE_PROBE))
    return;
  if (self->direct_search == NULL)
    {
      self->direct_search = ph_direct_search_new (self->is_host);
      g_signal_connect (self->direct_search, "send-frame", G_CALLBACK (direct_search_send_frame_cb),
                        self);
    }
  ph_direct_search_start (self->direct_search, ice);
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
    g_debug ("Reconnected (attempt %" G_GUINT64_FORMAT ")", current_attempt (self));

  self->ever_connected = TRUE;
  g_clear_handle_id (&self->connect_timeout_id, g_source_remove);
  ph_reconnection_connected (self->reconnection);
  ph_keepalive_start (self->keepalive);

  set_state (self, PH_CONVERSATION_STATE_CONNECTED);
  start_direct_search (self, frame);

  /* Whatever the peer has not acknowledged may have been lost with the old
   * channel; the peer drops what it already has. */
  ph_delivery_rewind (self->delivery);
  flush_outbox (self);
  send_contact_offer (self);
  maybe_finish_leaving (self);
}

static void
channel_frame_received_cb (PhSecureChannel *channel, const PhFrame *frame, PhConversation *self)
{
  ph_keepalive_heard (self->keepalive);

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
        guint64 received = ph_delivery_get_received (self->delivery);

        if (self->meeting_contact != NULL && !self->identity_proven)
          {
            fail_literal (self, PH_ERROR_PROTOCOL,
                          "The peer sent a message before proving its identity.");
            return;
          }

        /* A copy is acknowledged again: our first acknowledgement may have
         * been lost with the old channel. */
        switch (ph_delivery_receive (self->delivery, frame->seq))
          {
          case PH_INCOMING_GAP:
            {
              g_autofree char *message
                  = g_strdup_printf ("The peer skipped messages (got number %" G_GUINT64_FORMAT
                                     " after %" G_GUINT64_FORMAT ").",
                                     frame->seq, received);

              fail_literal (self, PH_ERROR_PROTOCOL, message);
              return;
            }
          case PH_INCOMING_NEW:
            g_signal_emit (self, signals[SIGNAL_MESSAGE_RECEIVED], 0, frame->id, frame->time_ms,
                           frame->text);
            break;
          case PH_INCOMING_COPY:
          default:
            break;
          }
        if (!self->tearing_down)
          send_frame (self, ack);
      }
      break;

    case PH_FRAME_ACK:
      {
        g_autofree char *id = g_strdup (frame->id);

        if (!ph_delivery_acknowledge (self->delivery, frame->id))
          break;
        g_signal_emit (self, signals[SIGNAL_MESSAGE_DELIVERED], 0, id);
        maybe_finish_leaving (self);
      }
      break;

    case PH_FRAME_TYPING:
      set_peer_typing (self, frame->active);
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
      ph_keepalive_pong_received (self->keepalive, frame->ping_id);
      break;

    case PH_FRAME_CONTACT_OFFER:
      handle_contact_offer (self, frame);
      break;

    case PH_FRAME_RATCHET_BUNDLE:
      handle_ratchet_bundle (self, frame);
      break;

    case PH_FRAME_PROBE:
      if (self->direct_search != NULL)
        ph_direct_search_handle_frame (self->direct_search, frame);
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
    begin_attempt (self, ph_reconnection_next_attempt (self->reconnection));
  else
    start_reconnect (self);
}

static void
attempt_channel_created_cb (PhConnectionAttempt *attempt, PhSecureChannel *channel,
                            PhConversation *self)
{
  if (!self->ever_connected)
    self->time_ice = g_get_monotonic_time ();
  g_signal_connect (channel, "frame-received", G_CALLBACK (channel_frame_received_cb), self);
  g_signal_connect (channel, "closed", G_CALLBACK (channel_closed_cb), self);
}

static void
attempt_channel_opened_cb (PhConnectionAttempt *attempt, PhConversation *self)
{
  const char *features[] = { FEATURE_PROBE, NULL };
  g_autoptr (PhFrame) hello = ph_frame_new_hello (self->own_name, features);

  if (!self->tearing_down)
    send_frame (self, hello);
}

static void
attempt_channel_failed_cb (PhConnectionAttempt *attempt, const GError *error, PhConversation *self)
{
  if (self->tearing_down)
    return;
  if (self->ever_connected && !g_error_matches (error, PH_ERROR, PH_ERROR_SECURITY))
    {
      g_debug ("No TLS on attempt %" G_GUINT64_FORMAT ": %s", current_attempt (self),
               error->message);
      return;
    }
  fail (self, error);
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
  };

  for (guint i = 0; i < self->ice_config->turn_servers->len; i++)
    {
      const PhTurnServer *server = g_ptr_array_index (self->ice_config->turn_servers, i);

      input.turn_over_tcp |= server->transport != PH_TURN_TRANSPORT_UDP;
    }
  ph_candidate_ledger_fill_diagnosis (ph_connection_attempt_get_candidates (self->attempt), &input);
  ph_ice_diagnose (&input, &message);
  fail_literal (self, PH_ERROR_ICE_FAILED, message);
}

static void
attempt_ice_state_changed_cb (PhConnectionAttempt *attempt, PhIceState state, PhConversation *self)
{
  g_debug ("ICE is %s", ph_ice_state_to_string (state));
  if (self->timeline->len < MAX_TIMELINE_ENTRIES)
    {
      PhTimelineEntry entry = { elapsed_ms (self->time_started, g_get_monotonic_time ()), state };

      g_array_append_val (self->timeline, entry);
      details_changed (self);
    }

  if (state != PH_ICE_STATE_FAILED)
    return;
  if (self->we_said_bye)
    close_with_reason (self, "left");
  else if (self->state == PH_CONVERSATION_STATE_RECONNECTING)
    /* This attempt found no path; the next one gathers afresh. */
    ph_reconnection_retry_soon (self->reconnection);
  else if (self->ever_connected)
    start_reconnect (self);
  else
    fail_ice (self);
}

static void
attempt_path_changed_cb (PhConnectionAttempt *attempt, const PhPath *path, PhConversation *self)
{
  if (self->path != NULL && ph_path_equal (self->path, path))
    return;

  g_clear_pointer (&self->path, ph_path_free);
  self->path = ph_path_copy (path);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PATH]);
}

static PhSessionDescription *
describe (PhConversation *self)
{
  PhSessionDescription *description = ph_session_description_new ();

  description->session_id = self->session_id;
  description->name = g_strdup (self->own_name);
  description->fingerprint = g_strdup (self->fingerprint);
  ph_connection_attempt_describe (self->attempt, description);
  return description;
}

static void
maybe_send_description (PhConversation *self)
{
  g_autoptr (PhSessionDescription) description = NULL;

  if (self->description_sent || !self->paired || !ph_connection_attempt_is_started (self->attempt))
    return;

  description = describe (self);
  ph_signaling_send_description (self->signaling, description);
  self->description_sent = TRUE;
}

static void
release_join (PhConversation *self)
{
  if (self->join_hold_id == 0)
    return;
  g_clear_handle_id (&self->join_hold_id, g_source_remove);
  ph_signaling_release_join (self->signaling);
}

static void
join_hold_cb (gpointer user_data)
{
  PhConversation *self = user_data;

  self->join_hold_id = 0;
  ph_signaling_release_join (self->signaling);
}

static void
attempt_local_candidate_cb (PhConnectionAttempt *attempt, const char *candidate,
                            PhConversation *self)
{
  /* Once the description went, the list only feeds the inspector. */
  details_changed (self);
  if (self->description_sent)
    ph_signaling_send_candidate (self->signaling, current_attempt (self), candidate);
  if (ph_candidate_has_type (candidate, "srflx"))
    {
      self->srflx_gathered = TRUE;
      release_join (self);
    }
}

static void
attempt_gathering_done_cb (PhConnectionAttempt *attempt, PhConversation *self)
{
  if (self->description_sent)
    ph_signaling_send_end_of_candidates (self->signaling, current_attempt (self));
  else
    maybe_send_description (self);
  self->srflx_gathered = TRUE;
  release_join (self);
}

static void
attempt_due_cb (PhReconnection *reconnection, guint64 attempt, PhConversation *self)
{
  begin_attempt (self, attempt);
}

static void
gave_up_cb (PhReconnection *reconnection, PhConversation *self)
{
  g_debug ("No path to the peer for %u ms; giving up",
           ph_reconnection_get_give_up_ms (reconnection));
  close_with_reason (self, "peer-lost");
}

static void
new_attempt (PhConversation *self, guint64 number)
{
  self->attempt = ph_connection_attempt_new (number, self->is_host, self->certificate,
                                             MAX_CANDIDATES_PER_SIDE);
  g_signal_connect (self->attempt, "local-candidate", G_CALLBACK (attempt_local_candidate_cb),
                    self);
  g_signal_connect (self->attempt, "gathering-done", G_CALLBACK (attempt_gathering_done_cb), self);
  g_signal_connect (self->attempt, "ice-state-changed", G_CALLBACK (attempt_ice_state_changed_cb),
                    self);
  g_signal_connect (self->attempt, "path-changed", G_CALLBACK (attempt_path_changed_cb), self);
  g_signal_connect (self->attempt, "channel-created", G_CALLBACK (attempt_channel_created_cb),
                    self);
  g_signal_connect (self->attempt, "channel-opened", G_CALLBACK (attempt_channel_opened_cb), self);
  g_signal_connect (self->attempt, "channel-failed", G_CALLBACK (attempt_channel_failed_cb), self);
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
  stop_direct_search (self);
  disconnect_attempt (self);
  ph_connection_attempt_drop (self->attempt);
  g_clear_object (&self->attempt);
  ph_reconnection_start_attempt (self->reconnection, attempt);
  self->description_sent = FALSE;
  new_attempt (self, attempt);
  details_changed (self);

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
  ph_keepalive_stop (self->keepalive);
  ph_reconnection_begin (self->reconnection);
  set_state (self, PH_CONVERSATION_STATE_RECONNECTING);
  return TRUE;
}

static void
start_reconnect (PhConversation *self)
{
  if (self->state == PH_CONVERSATION_STATE_RECONNECTING)
    return;
  if (enter_reconnecting (self))
    begin_attempt (self, ph_reconnection_next_attempt (self->reconnection));
}

/* Often nothing that matters to this path changed: ask the peer, and
 * reconnect only if it does not answer soon (keepalive_peer_silent_cb). */
static void
check_path (PhConversation *self, const char *why)
{
  if (self->state != PH_CONVERSATION_STATE_CONNECTED || self->tearing_down)
    return;

  g_debug ("%s; checking the path", why);
  ph_keepalive_probe (self->keepalive);
}

static void
system_changed_cb (PhSystemWatch *watch, const char *why, PhConversation *self)
{
  check_path (self, why);
}

static void
stop_watching_system (PhConversation *self)
{
  if (self->system_watch != NULL)
    g_signal_handlers_disconnect_by_data (self->system_watch, self);
  g_clear_object (&self->system_watch);
}

static gboolean
connect_timeout_cb (gpointer user_data)
{
  PhConversation *self = user_data;

  self->connect_timeout_id = 0;
  if (!ph_connection_attempt_has_peer_description (self->attempt))
    fail_literal (self, PH_ERROR_TIMEOUT,
                  "Your peer stopped answering before the connection was set up.");
  else
    fail_ice (self);
  return G_SOURCE_REMOVE;
}

static void
signaling_description_cb (PhSignaling *signaling, const PhSessionDescription *description,
                          PhConversation *self)
{
  g_autoptr (GError) error = NULL;
  const char *expected_setup = self->is_host ? "active" : "passive";
  guint64 version = description->session_version;
  guint64 attempt = current_attempt (self);

  if (version <= ph_reconnection_get_peer_attempt (self->reconnection))
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
  if (ph_reconnection_get_peer_attempt (self->reconnection) == 0 && version != 1)
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
  ph_reconnection_set_peer_attempt (self->reconnection, version);

  if (version < attempt)
    {
      g_debug ("The peer is behind (attempt %" G_GUINT64_FORMAT "); it will follow ours", version);
      return;
    }
  if (version > attempt)
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
  details_changed (self);
  if (!ph_connection_attempt_set_peer_description (self->attempt, description, &error))
    fail (self, error);
}

static void
signaling_candidate_cb (PhSignaling *signaling, guint64 attempt, const char *candidate,
                        PhConversation *self)
{
  /* An attempt's candidates come after its description, which made it
   * ours; those of an attempt given up are late. */
  g_autoptr (GError) error = NULL;

  if (attempt != current_attempt (self))
    return;
  if (ph_connection_attempt_add_remote_candidate (self->attempt, candidate, &error))
    details_changed (self);
  else if (error != NULL)
    fail (self, error);
}

static void
signaling_end_of_candidates_cb (PhSignaling *signaling, guint64 attempt, PhConversation *self)
{
  g_autoptr (GError) error = NULL;

  if (attempt != current_attempt (self))
    return;
  if (!ph_connection_attempt_remote_gathering_done (self->attempt, &error))
    fail (self, error);
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
  /* A code chat's host begins when its joiner came; a meeting's, when
   * the contact did. */
  if (self->is_host && self->meeting_contact == NULL)
    self->time_begin = g_get_monotonic_time ();
  self->paired = TRUE;
  if (self->contact_exchange == NULL)
    {
      g_autoptr (GBytes) binding = ph_signaling_dup_binding (self->signaling);

      self->contact_exchange = ph_contact_exchange_new (binding);
    }
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

/* Anyone can post an unsealed bye (PhSignaling passes one on only before
 * the key exists): it never ends a chat that connected, nor gives a cause. */
static void
signaling_peer_left_cb (PhSignaling *signaling, const char *reason, gboolean sealed,
                        PhConversation *self)
{
  if (self->state == PH_CONVERSATION_STATE_RECONNECTING && sealed)
    close_with_reason (self, "peer-left");
  else if (self->ever_connected)
    return;
  /* The peer found no path either: say why from what we know, as it did. */
  else if (sealed && g_str_equal (reason, "ice-failed")
           && ph_connection_attempt_has_peer_description (self->attempt))
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
  ph_nat_check_run_async (self->nat_check, self->cancellable, nat_check_done_cb, self);
}

static void
start_ice (PhConversation *self)
{
  g_autoptr (GError) error = NULL;

  start_nat_check (self);
  if (!ph_connection_attempt_start (self->attempt, self->ice_config, &error))
    {
      fail (self, error);
      return;
    }
  maybe_send_description (self);
}

/* The first answer starts ICE; later ones renew the credentials for the
 * attempts to come. */
static void
ice_servers_found_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhConversation) self = user_data;
  g_autoptr (GError) error = NULL;
  guint ttl = 0;
  guint next_seconds;

  /* A server without STUN or TURN to offer is fine: host candidates and
   * peer-reflexive ones still connect many networks. */
  if (!ph_ice_server_lookup_finish (result, &ttl, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_debug ("No STUN/TURN from the rendezvous server: %s", error->message);
    }
  if (self->tearing_down)
    return;
  if (!ph_connection_attempt_is_started (self->attempt))
    start_ice (self);

  /* Credentials are asked for again at four fifths of their life, or a
   * minute after a refusal (a busy server, a spent quota). */
  if (!self->turn_offered || (ttl == 0 && error == NULL))
    return;
  next_seconds = ttl > 0 ? MAX (ttl * 4 / 5, 30) : 60;
  g_clear_handle_id (&self->turn_renewal_id, g_source_remove);
  self->turn_renewal_id = g_timeout_add_seconds (next_seconds, renew_turn_cb, self);
}

static void
ask_ice_servers (PhConversation *self)
{
  ph_ice_server_lookup_async (self->client, self->nameplate, self->ice_config, self->cancellable,
                              ice_servers_found_cb, g_object_ref (self));
}

static gboolean
renew_turn_cb (gpointer user_data)
{
  PhConversation *self = user_data;

  self->turn_renewal_id = 0;
  if (self->signaling == NULL || self->tearing_down)
    return G_SOURCE_REMOVE;
  /* The offered servers come back with fresh credentials; until they do,
   * an attempt that starts meanwhile keeps the old ones. */
  ph_ice_server_lookup_renew_async (self->client, self->nameplate, self->ice_config,
                                    self->cancellable, ice_servers_found_cb, g_object_ref (self));
  return G_SOURCE_REMOVE;
}

static void
signaling_seated_cb (PhSignaling *signaling, const char *nameplate, PhConversation *self)
{
  if (!self->use_server_turn || self->nameplate != NULL)
    return;
  self->nameplate = g_strdup (nameplate);
  /* Servers the person named win; only offered ones are renewed. */
  self->turn_offered = self->ice_config->turn_servers->len == 0;
  ask_ice_servers (self);
}

static gboolean
start (PhConversation *self, GError **error)
{
  self->time_started = g_get_monotonic_time ();
  self->client = self->connections_of != NULL
                     ? ph_rendezvous_client_new_sharing (self->connections_of)
                     : ph_rendezvous_client_new (self->rendezvous_url, error);
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
  /* Made now, so a description that comes while the rendezvous server is
   * asked for TURN servers has a place to wait. */
  new_attempt (self, current_attempt (self));

  self->system_watch = ph_system_watch_new (NULL, NULL);
  g_signal_connect (self->system_watch, "changed", G_CALLBACK (system_changed_cb), self);

  self->signaling = ph_signaling_new (self->client);
  g_signal_connect (self->signaling, "code-ready", G_CALLBACK (signaling_code_ready_cb), self);
  g_signal_connect (self->signaling, "seated", G_CALLBACK (signaling_seated_cb), self);
  g_signal_connect (self->signaling, "paired", G_CALLBACK (signaling_paired_cb), self);
  g_signal_connect (self->signaling, "description", G_CALLBACK (signaling_description_cb), self);
  g_signal_connect (self->signaling, "candidate", G_CALLBACK (signaling_candidate_cb), self);
  g_signal_connect (self->signaling, "end-of-candidates",
                    G_CALLBACK (signaling_end_of_candidates_cb), self);
  g_signal_connect (self->signaling, "peer-left", G_CALLBACK (signaling_peer_left_cb), self);
  g_signal_connect (self->signaling, "failed", G_CALLBACK (signaling_failed_cb), self);
  g_signal_connect (self->signaling, "server-trouble", G_CALLBACK (signaling_server_trouble_cb),
                    self);

  /* With the rendezvous server's TURN servers, ICE starts once this side
   * holds its seat: they come only to a side of the mailbox. */
  if (!self->use_server_turn)
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
  g_autoptr (PhCodeText) canonical = NULL;

  g_return_val_if_fail (PH_IS_CONVERSATION (self), FALSE);
  g_return_val_if_fail (self->state == PH_CONVERSATION_STATE_IDLE && self->client == NULL, FALSE);
  g_return_val_if_fail (code != NULL, FALSE);

  if (!ph_code_parse (code, NULL, &canonical, error))
    return FALSE;
  /* Refused before anything is posted: a code that failed here may be
   * someone's guess waiting for another try. */
  if (!ph_burned_codes_check (self->rendezvous_url, canonical, g_get_real_time () / G_USEC_PER_SEC,
                              error))
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

void
ph_conversation_host_contact (PhConversation *self, PhContactBook *book, PhContact *contact,
                              gint64 began_us)
{
  g_autoptr (GError) error = NULL;
  char *secret;

  g_return_if_fail (PH_IS_CONVERSATION (self));
  g_return_if_fail (self->state == PH_CONVERSATION_STATE_IDLE && self->client == NULL);
  g_return_if_fail (PH_IS_CONTACT_BOOK (book) && PH_IS_CONTACT (contact));

  self->is_host = TRUE;
  self->time_begin = began_us;
  self->contact_book = g_object_ref (book);
  self->meeting_contact = g_object_ref (contact);
  if (!start (self, &error))
    {
      fail (self, error);
      return;
    }
  secret = ph_meeting_pake_secret (ph_contact_get_pair_secret (contact));
  ph_signaling_host_with_secret (self->signaling, secret);
  ph_code_wipe (secret);
}

gboolean
ph_conversation_prepare_contact (PhConversation *self, PhContactBook *book, PhContact *contact,
                                 GError **error)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), FALSE);
  g_return_val_if_fail (self->state == PH_CONVERSATION_STATE_IDLE && self->client == NULL, FALSE);
  g_return_val_if_fail (PH_IS_CONTACT_BOOK (book) && PH_IS_CONTACT (contact), FALSE);

  self->is_host = FALSE;
  self->contact_book = g_object_ref (book);
  self->meeting_contact = g_object_ref (contact);
  return start (self, error);
}

gboolean
ph_conversation_join_contact (PhConversation *self, PhContactBook *book, PhContact *contact,
                              const char *nameplate, GBytes *host_pake,
                              const char *host_description, gint64 began_us, GError **error)
{
  char *secret;

  g_return_val_if_fail (PH_IS_CONVERSATION (self), FALSE);
  g_return_val_if_fail (self->state == PH_CONVERSATION_STATE_IDLE, FALSE);
  g_return_val_if_fail (PH_IS_CONTACT_BOOK (book) && PH_IS_CONTACT (contact), FALSE);
  g_return_val_if_fail (nameplate != NULL, FALSE);

  if (self->client == NULL && !ph_conversation_prepare_contact (self, book, contact, error))
    return FALSE;
  g_return_val_if_fail (!self->is_host && self->meeting_contact == contact, FALSE);
  self->time_begin = began_us;

  set_state (self, PH_CONVERSATION_STATE_CONNECTING);
  secret = ph_meeting_pake_secret (ph_contact_get_pair_secret (contact));
  /* With the host's description at hand both start ICE now, and our
   * server-reflexive candidate in the join saves the host a trickle: its
   * checks get through our NAT a round trip sooner. */
  if (host_description != NULL && self->ice_config->stun_host != NULL && !self->srflx_gathered
      && ph_connection_attempt_is_started (self->attempt))
    {
      ph_signaling_hold_join (self->signaling);
      self->join_hold_id = g_timeout_add_once (JOIN_HOLD_MS, join_hold_cb, self);
    }
  ph_signaling_join_with_secret (self->signaling, nameplate, secret, host_pake, host_description);
  ph_code_wipe (secret);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CODE]);
  return TRUE;
}

GBytes *
ph_conversation_dup_pake_message (PhConversation *self)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), NULL);

  return self->signaling != NULL ? ph_signaling_dup_pake_message (self->signaling) : NULL;
}

/* The invitation is sealed with a key of the pair secret alone, not the
 * PAKE's: what it gains is a round trip (the contact starts ICE as it
 * joins); what a later theft of the pair secret would reveal of a recorded
 * invitation is this description: addresses the server saw anyway, and
 * ICE credentials and a certificate fingerprint that were good for this
 * meeting only. */
char *
ph_conversation_describe_ahead (PhConversation *self, gsize max_length)
{
  g_autoptr (PhSessionDescription) description = NULL;
  g_autofree char *text = NULL;

  g_return_val_if_fail (PH_IS_CONVERSATION (self), NULL);
  g_return_val_if_fail (self->is_host && self->meeting_contact != NULL, NULL);

  if (self->description_sent || self->attempt == NULL
      || !ph_connection_attempt_is_started (self->attempt))
    return NULL;
  description = describe (self);
  text = ph_session_description_to_string (description);
  if (strlen (text) > max_length)
    return NULL;
  self->description_sent = TRUE;
  return g_steal_pointer (&text);
}

void
ph_conversation_share_connections (PhConversation *self, PhRendezvousClient *client)
{
  g_return_if_fail (PH_IS_CONVERSATION (self));
  g_return_if_fail (PH_IS_RENDEZVOUS_CLIENT (client));
  g_return_if_fail (self->client == NULL);

  g_set_object (&self->connections_of, client);
}

PhContact *
ph_conversation_get_meeting_contact (PhConversation *self)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), NULL);

  return self->meeting_contact;
}

static gboolean
check_sendable (PhConversation *self, const char *text, GError **error)
{
  if (self->tearing_down || self->leaving)
    {
      g_set_error_literal (error, PH_ERROR, PH_ERROR_NOT_CONNECTED,
                           "This conversation has ended; the message was not sent.");
      return FALSE;
    }
  if (strlen (text) > PH_FRAME_MAX_TEXT_SIZE)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_TOO_LARGE,
                   "The message is %zu bytes long; at most %d bytes fit in one message.",
                   strlen (text), PH_FRAME_MAX_TEXT_SIZE);
      return FALSE;
    }
  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error_literal (error, PH_ERROR, PH_ERROR_FAILED, "The message is not valid UTF-8.");
      return FALSE;
    }
  return TRUE;
}

char *
ph_conversation_send_message (PhConversation *self, const char *text, GError **error)
{
  g_autofree char *id = NULL;

  g_return_val_if_fail (PH_IS_CONVERSATION (self), NULL);
  g_return_val_if_fail (text != NULL, NULL);

  if (!check_sendable (self, text, error))
    return NULL;
  /* Copied first: flushing may see it acknowledged and freed. */
  id = g_strdup (ph_delivery_queue (self->delivery, text, g_get_real_time () / 1000)->id);
  flush_outbox (self);
  return g_steal_pointer (&id);
}

gboolean
ph_conversation_send_message_with_id (PhConversation *self, const char *id, gint64 time_ms,
                                      const char *text, GError **error)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), FALSE);
  g_return_val_if_fail (id != NULL && text != NULL, FALSE);

  if (!check_sendable (self, text, error))
    return FALSE;
  ph_delivery_queue_with_id (self->delivery, id, text, time_ms);
  flush_outbox (self);
  return TRUE;
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

void
ph_conversation_save_contact (PhConversation *self, PhContactBook *book)
{
  g_return_if_fail (PH_IS_CONVERSATION (self));
  g_return_if_fail (PH_IS_CONTACT_BOOK (book));

  if (self->contact_book != NULL || self->tearing_down)
    return;
  self->contact_book = g_object_ref (book);
  send_contact_offer (self);
}

gboolean
ph_conversation_get_peer_wants_contact (PhConversation *self)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), FALSE);

  return self->peer_wants_contact;
}

const char *
ph_conversation_get_peer_fingerprint (PhConversation *self)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), NULL);

  return self->contact_exchange != NULL
             ? ph_contact_exchange_get_peer_fingerprint (self->contact_exchange)
             : NULL;
}

PhContact *
ph_conversation_get_contact (PhConversation *self)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), NULL);

  return self->contact;
}

guint
ph_conversation_get_refused_contact_offers (PhConversation *self)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), 0);

  return self->refused_contact_offers;
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

  return ph_delivery_get_unacknowledged (self->delivery);
}

GStrv
ph_conversation_dup_local_candidates (PhConversation *self)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), NULL);

  if (self->attempt == NULL)
    return g_new0 (char *, 1);
  return ph_candidate_ledger_dup_local (ph_connection_attempt_get_candidates (self->attempt));
}

GStrv
ph_conversation_dup_remote_candidates (PhConversation *self)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), NULL);

  if (self->attempt == NULL)
    return g_new0 (char *, 1);
  return ph_candidate_ledger_dup_remote (ph_connection_attempt_get_candidates (self->attempt));
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

  return ph_keepalive_get_round_trip_ms (self->keepalive);
}

gboolean
ph_conversation_get_peer_typing (PhConversation *self)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), FALSE);

  return self->peer_typing;
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
  PhIceTransport *ice;

  g_return_val_if_fail (PH_IS_CONVERSATION (self), FALSE);

  if (self->attempt == NULL || self->state != PH_CONVERSATION_STATE_CONNECTED)
    return FALSE;
  ice = ph_connection_attempt_get_ice (self->attempt);
  ph_nice_stream_get_packet_counts (PH_NICE_STREAM (ph_ice_transport_get_stream (ice)), sent,
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

  return self->attempt != NULL ? ph_connection_attempt_get_ice (self->attempt) : NULL;
}

gboolean
ph_conversation_send_raw_frame (PhConversation *self, const PhFrame *frame, GError **error)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (self), FALSE);

  if (current_channel (self) == NULL)
    {
      g_set_error_literal (error, PH_ERROR, PH_ERROR_NOT_CONNECTED, "No channel is open.");
      return FALSE;
    }
  return ph_secure_channel_send (current_channel (self), frame, error);
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
  g_clear_handle_id (&self->join_hold_id, g_source_remove);
  g_clear_handle_id (&self->leave_timeout_id, g_source_remove);
  g_clear_handle_id (&self->goodbye_timeout_id, g_source_remove);
  g_clear_handle_id (&self->turn_renewal_id, g_source_remove);
  ph_keepalive_stop (self->keepalive);
  ph_reconnection_stop (self->reconnection);
  if (self->direct_search != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->direct_search, self);
      ph_direct_search_stop (self->direct_search);
    }
  g_clear_object (&self->direct_search);

  stop_watching_system (self);
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->nat_check);
  if (self->signaling != NULL)
    g_signal_handlers_disconnect_by_data (self->signaling, self);
  if (self->attempt != NULL)
    disconnect_attempt (self);
  g_clear_object (&self->attempt);
  g_clear_object (&self->signaling);
  g_clear_object (&self->client);
  g_clear_object (&self->connections_of);
  g_clear_object (&self->certificate);
  g_clear_object (&self->contact_exchange);
  g_clear_object (&self->contact_book);
  g_clear_object (&self->contact);
  g_clear_object (&self->meeting_contact);

  G_OBJECT_CLASS (ph_conversation_parent_class)->dispose (object);
}

static void
ph_conversation_finalize (GObject *object)
{
  PhConversation *self = PH_CONVERSATION (object);

  g_object_unref (self->delivery);
  g_object_unref (self->reconnection);
  g_object_unref (self->keepalive);
  g_free (self->peer_fingerprint);
  g_array_unref (self->timeline);
  g_clear_pointer (&self->ice_config, ph_ice_config_free);
  g_clear_pointer (&self->path, ph_path_free);
  g_clear_error (&self->error);
  g_free (self->rendezvous_url);
  g_free (self->own_name);
  g_free (self->fingerprint);
  g_free (self->peer_name);
  g_free (self->close_reason);
  g_free (self->nameplate);

  G_OBJECT_CLASS (ph_conversation_parent_class)->finalize (object);
}

static void
ph_conversation_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PhConversation *self = PH_CONVERSATION (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_enum (value, self->state);
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

    case PROP_PEER_TYPING:
      g_value_set_boolean (value, self->peer_typing);
      break;

    case PROP_PEER_WANTS_CONTACT:
      g_value_set_boolean (value, self->peer_wants_contact);
      break;

    case PROP_CONTACT:
      g_value_set_object (value, self->contact);
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

  properties[PROP_STATE] = g_param_spec_enum (
      "state", NULL, NULL, PH_TYPE_CONVERSATION_STATE, PH_CONVERSATION_STATE_IDLE,
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
  properties[PROP_PEER_TYPING]
      = g_param_spec_boolean ("peer-typing", NULL, NULL, FALSE,
                              G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_PEER_WANTS_CONTACT]
      = g_param_spec_boolean ("peer-wants-contact", NULL, NULL, FALSE,
                              G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_CONTACT]
      = g_param_spec_object ("contact", NULL, NULL, PH_TYPE_CONTACT,
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
  signals[SIGNAL_CLOSED] = g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_FAILED]
      = g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                      G_TYPE_NONE, 1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_DETAILS_CHANGED]
      = g_signal_new ("details-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                      NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_CONTACT_SAVED]
      = g_signal_new ("contact-saved", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, PH_TYPE_CONTACT);
  signals[SIGNAL_CONTACT_FAILED]
      = g_signal_new ("contact-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
ph_conversation_init (PhConversation *self)
{
  if (sodium_init () < 0)
    g_error ("libsodium could not be initialised");

  self->cancellable = g_cancellable_new ();
  self->delivery = ph_delivery_new ();
  /* Lets the test suites see a lost peer given up without waiting a minute. */
  self->reconnection = ph_reconnection_new (ph_test_hook_uint ("PINHOLE_TEST_RECONNECT_SECONDS",
                                                               RECONNECT_TIMEOUT_SECONDS, 1,
                                                               RECONNECT_TIMEOUT_SECONDS)
                                                * 1000,
                                            ATTEMPT_TIMEOUT_MS, ATTEMPT_RETRY_MS);
  g_signal_connect (self->reconnection, "attempt-due", G_CALLBACK (attempt_due_cb), self);
  g_signal_connect (self->reconnection, "gave-up", G_CALLBACK (gave_up_cb), self);
  self->keepalive = ph_keepalive_new (PING_INTERVAL_MS, PEER_SILENCE_LIMIT_MS, NETWORK_PROBE_MS);
  g_signal_connect (self->keepalive, "ping", G_CALLBACK (keepalive_ping_cb), self);
  g_signal_connect (self->keepalive, "peer-silent", G_CALLBACK (keepalive_peer_silent_cb), self);
  g_signal_connect (self->keepalive, "notify::round-trip-ms", G_CALLBACK (round_trip_changed_cb),
                    self);
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
