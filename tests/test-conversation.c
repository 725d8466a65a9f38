/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-conversation"

#include "config.h"

#include <libsoup/soup.h>
#include <signal.h>

#include "ph-code.h"
#include "ph-conversation-private.h"
#include "ph-error.h"
#include "ph-ice-transport-private.h"
#include "ph-test-dead-port.h"
#include "ph-test-programs.h"
#include "ph-test-wait.h"

/* Two PhConversations in this process (so sanitizers and valgrind see all of
 * the peer's code) meeting through a real pinhole-rendezvous. */

#define TIMEOUT_MS ph_test_scaled_ms (20000)

typedef struct
{
  PhConversation *conversation;
  GPtrArray *received;  /* texts */
  GPtrArray *delivered; /* ids */
  GPtrArray *sent;      /* ids, each time written */
  GPtrArray *failed;    /* ids */
  guint connections;    /* times it became connected */
  guint reconnections;  /* times it started reconnecting */
  char *closed_reason;
  GError *error;
  gboolean connected;
  gboolean ended;
} Peer;

typedef struct
{
  PhTestProcess *server;
  char *url;
  Peer host;
  Peer joiner;
} Fixture;

static void
state_cb (PhConversation *conversation, GParamSpec *pspec, Peer *peer)
{
  switch (ph_conversation_get_state (conversation))
    {
    case PH_CONVERSATION_STATE_CONNECTED:
      peer->connected = TRUE;
      peer->connections++;
      break;
    case PH_CONVERSATION_STATE_RECONNECTING:
      peer->reconnections++;
      break;
    default:
      break;
    }
}

static void
sent_cb (PhConversation *conversation, const char *id, Peer *peer)
{
  g_ptr_array_add (peer->sent, g_strdup (id));
}

static void
message_failed_cb (PhConversation *conversation, const char *id, const char *reason, Peer *peer)
{
  g_assert_cmpstr (reason, ==, "not delivered");
  g_ptr_array_add (peer->failed, g_strdup (id));
}

static void
received_cb (PhConversation *conversation, const char *id, gint64 time_ms, const char *text,
             Peer *peer)
{
  g_ptr_array_add (peer->received, g_strdup (text));
}

static void
delivered_cb (PhConversation *conversation, const char *id, Peer *peer)
{
  g_ptr_array_add (peer->delivered, g_strdup (id));
}

static void
closed_cb (PhConversation *conversation, const char *reason, Peer *peer)
{
  peer->closed_reason = g_strdup (reason);
  peer->ended = TRUE;
}

static void
failed_cb (PhConversation *conversation, const GError *error, Peer *peer)
{
  peer->error = g_error_copy (error);
  peer->ended = TRUE;
}

static void
peer_init (Peer *peer, const char *url, const char *name)
{
  peer->conversation = ph_conversation_new (url, name, NULL);
  peer->received = g_ptr_array_new_with_free_func (g_free);
  peer->delivered = g_ptr_array_new_with_free_func (g_free);
  peer->sent = g_ptr_array_new_with_free_func (g_free);
  peer->failed = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (peer->conversation, "message-sent", G_CALLBACK (sent_cb), peer);
  g_signal_connect (peer->conversation, "message-failed", G_CALLBACK (message_failed_cb), peer);
  g_signal_connect (peer->conversation, "notify::state", G_CALLBACK (state_cb), peer);
  g_signal_connect (peer->conversation, "message-received", G_CALLBACK (received_cb), peer);
  g_signal_connect (peer->conversation, "message-delivered", G_CALLBACK (delivered_cb), peer);
  g_signal_connect (peer->conversation, "closed", G_CALLBACK (closed_cb), peer);
  g_signal_connect (peer->conversation, "failed", G_CALLBACK (failed_cb), peer);
}

static void
peer_clear (Peer *peer)
{
  if (!peer->ended && ph_conversation_get_state (peer->conversation) != PH_CONVERSATION_STATE_IDLE)
    {
      ph_conversation_leave (peer->conversation);
      ph_test_wait_for_flag (&peer->ended, TIMEOUT_MS);
    }
  g_assert_finalize_object (peer->conversation);
  g_ptr_array_unref (peer->received);
  g_ptr_array_unref (peer->delivered);
  g_ptr_array_unref (peer->sent);
  g_ptr_array_unref (peer->failed);
  g_free (peer->closed_reason);
  g_clear_error (&peer->error);
}

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  /* @data: extra options for the server, or NULL. */
  fixture->server = ph_test_start_rendezvous (data, &fixture->url);
  peer_init (&fixture->host, fixture->url, "Alice");
  peer_init (&fixture->joiner, fixture->url, "Bob");
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  peer_clear (&fixture->host);
  peer_clear (&fixture->joiner);
  g_assert_cmpint (ph_test_process_stop (fixture->server), ==, 0);
  g_clear_pointer (&fixture->server, ph_test_process_free);
  g_free (fixture->url);
}

static gboolean
code_ready_or_ended (gpointer data)
{
  Peer *host = data;

  return ph_conversation_get_code (host->conversation) != NULL || host->ended;
}

static void
wait_for_code (Peer *host)
{
  g_assert_true (ph_test_wait_until (code_ready_or_ended, host, TIMEOUT_MS));
  g_assert_no_error (host->error);
  g_assert_nonnull (ph_conversation_get_code (host->conversation));
}

typedef struct
{
  Peer *peer;
  guint count;
} DeliveredCount;

static gboolean
delivered_or_ended (gpointer data)
{
  DeliveredCount *wanted = data;

  return wanted->peer->delivered->len >= wanted->count || wanted->peer->ended;
}

static void
wait_for_delivered (Peer *peer, guint count)
{
  DeliveredCount wanted = { peer, count };

  g_assert_true (ph_test_wait_until (delivered_or_ended, &wanted, TIMEOUT_MS));
  g_assert_no_error (peer->error);
  g_assert_cmpuint (peer->delivered->len, ==, count);
}

static void
connect_peers (Fixture *fixture)
{
  g_autoptr (GError) error = NULL;

  ph_conversation_host (fixture->host.conversation);
  wait_for_code (&fixture->host);
  g_assert_cmpint (ph_conversation_get_state (fixture->host.conversation), ==,
                   PH_CONVERSATION_STATE_WAITING_FOR_PEER);

  g_assert_true (ph_conversation_join (
      fixture->joiner.conversation, ph_conversation_get_code (fixture->host.conversation), &error));
  g_assert_no_error (error);
  g_assert_true (ph_test_wait_for_flag (&fixture->host.connected, TIMEOUT_MS));
  g_assert_true (ph_test_wait_for_flag (&fixture->joiner.connected, TIMEOUT_MS));
}

static void
test_connect_and_chat (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  const PhSetupTimes *times;
  const PhPath *path;
  guint64 sent, resent;

  g_assert_false (ph_conversation_get_packet_counts (fixture->host.conversation, &sent, &resent));
  connect_peers (fixture);

  g_assert_cmpstr (ph_conversation_get_peer_name (fixture->host.conversation), ==, "Bob");
  g_assert_cmpstr (ph_conversation_get_peer_name (fixture->joiner.conversation), ==, "Alice");
  path = ph_conversation_get_path (fixture->joiner.conversation);
  g_assert_nonnull (path);
  g_assert_false (path->relayed);
  times = ph_conversation_get_setup_times (fixture->joiner.conversation);
  g_assert_cmpfloat (times->total_ms, >, 0);
  g_assert_cmpfloat_with_epsilon (times->total_ms,
                                  times->rendezvous_ms + times->ice_ms + times->tls_ms, 0.01);

  id = ph_conversation_send_message (fixture->host.conversation, "ciao 🌍", &error);
  g_assert_no_error (error);
  wait_for_delivered (&fixture->host, 1);
  g_assert_cmpuint (fixture->joiner.received->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (fixture->joiner.received, 0), ==, "ciao 🌍");
  g_assert_cmpstr (g_ptr_array_index (fixture->host.delivered, 0), ==, id);
  g_assert_cmpuint (ph_conversation_get_unacknowledged (fixture->host.conversation), ==, 0);
  /* The hello, the message and its acknowledgement at least; loopback
   * loses nothing, but a busy machine can make a resend fire early. */
  g_assert_true (ph_conversation_get_packet_counts (fixture->host.conversation, &sent, &resent));
  g_assert_cmpuint (sent, >=, 2);
  g_assert_cmpuint (resent, <, sent);

  ph_conversation_leave (fixture->joiner.conversation);
  g_assert_true (ph_test_wait_for_flag (&fixture->host.ended, TIMEOUT_MS));
  g_assert_cmpstr (fixture->host.closed_reason, ==, "peer-left");
  g_assert_true (ph_test_wait_for_flag (&fixture->joiner.ended, TIMEOUT_MS));
  g_assert_cmpstr (fixture->joiner.closed_reason, ==, "left");
}

static gboolean
has_host_candidate (GStrv candidates)
{
  for (guint i = 0; candidates[i] != NULL; i++)
    if (strstr (candidates[i], " typ host") != NULL)
      return TRUE;
  return FALSE;
}

/* What the connection inspector shows: the candidates both ways and the
 * ICE states in the order they came. */
static void
check_details (Peer *peer)
{
  g_auto (GStrv) local = ph_conversation_dup_local_candidates (peer->conversation);
  g_auto (GStrv) remote = ph_conversation_dup_remote_candidates (peer->conversation);
  GArray *timeline = ph_conversation_get_timeline (peer->conversation);
  PhIceState wanted[] = { PH_ICE_STATE_GATHERING, PH_ICE_STATE_CONNECTING, PH_ICE_STATE_CONNECTED };
  guint next = 0;
  double last_ms = 0;

  g_assert_true (g_str_has_prefix (local[0], "candidate:"));
  g_assert_true (has_host_candidate (local));
  g_assert_true (g_str_has_prefix (remote[0], "candidate:"));
  g_assert_true (has_host_candidate (remote));

  for (guint i = 0; i < timeline->len; i++)
    {
      const PhTimelineEntry *entry = &g_array_index (timeline, PhTimelineEntry, i);
      PhIceState state = entry->state == PH_ICE_STATE_READY ? PH_ICE_STATE_CONNECTED : entry->state;

      g_assert_cmpfloat (entry->ms, >=, last_ms);
      last_ms = entry->ms;
      if (next < G_N_ELEMENTS (wanted) && state == wanted[next])
        next++;
    }
  g_assert_cmpuint (next, ==, G_N_ELEMENTS (wanted));
}

static void
details_changed_cb (PhConversation *conversation, guint *count)
{
  (*count)++;
}

static gboolean
round_trip_measured (gpointer data)
{
  Peer *peer = data;

  return ph_conversation_get_round_trip_ms (peer->conversation) >= 0 || peer->ended;
}

static void
test_connection_details (Fixture *fixture, gconstpointer data)
{
  guint changes = 0;

  g_signal_connect (fixture->joiner.conversation, "details-changed",
                    G_CALLBACK (details_changed_cb), &changes);
  connect_peers (fixture);

  check_details (&fixture->host);
  check_details (&fixture->joiner);
  g_assert_cmpuint (changes, >, 0);
  /* Without a STUN server there is nobody to ask. */
  g_assert_cmpint (ph_conversation_get_nat_type (fixture->joiner.conversation), ==,
                   PH_NAT_TYPE_UNKNOWN);

  /* The first ping goes out one interval after connecting. */
  g_assert_true (ph_test_wait_until (round_trip_measured, &fixture->joiner, TIMEOUT_MS));
  g_assert_no_error (fixture->joiner.error);
  g_assert_cmpfloat (ph_conversation_get_round_trip_ms (fixture->joiner.conversation), >=, 0);
  g_assert_cmpfloat (ph_conversation_get_round_trip_ms (fixture->joiner.conversation), <,
                     ph_test_scaled_seconds (1) * 1000);
}

static void
test_many_messages_in_order (Fixture *fixture, gconstpointer data)
{
  const guint count = 500;

  connect_peers (fixture);
  for (guint i = 0; i < count; i++)
    {
      g_autofree char *text = g_strdup_printf ("message %u", i);
      g_autofree char *id = ph_conversation_send_message (fixture->joiner.conversation, text, NULL);

      g_assert_nonnull (id);
    }

  wait_for_delivered (&fixture->joiner, count);
  g_assert_cmpuint (fixture->host.received->len, ==, count);
  for (guint i = 0; i < count; i++)
    {
      g_autofree char *expected = g_strdup_printf ("message %u", i);

      g_assert_cmpstr (g_ptr_array_index (fixture->host.received, i), ==, expected);
    }
}

typedef struct
{
  Peer *peer;
  guint count;
} ReceivedCount;

static gboolean
received_or_ended (gpointer data)
{
  ReceivedCount *wanted = data;

  return wanted->peer->received->len >= wanted->count || wanted->peer->ended;
}

static gboolean
connections_or_ended (gpointer data)
{
  ReceivedCount *wanted = data;

  return wanted->peer->connections >= wanted->count || wanted->peer->ended;
}

static void
send_raw_message (Peer *peer, const char *id, guint64 seq, const char *text)
{
  g_autoptr (PhFrame) frame = ph_frame_new_msg (id, 1700000000000, text);
  g_autoptr (GError) error = NULL;

  frame->seq = seq;
  g_assert_true (ph_conversation_send_raw_frame (peer->conversation, frame, &error));
  g_assert_no_error (error);
}

/* A message whose number was already delivered is a copy (sent again after
 * a reconnection); a number that skips ahead breaks the protocol. */
static void
test_duplicates_and_gaps (Fixture *fixture, gconstpointer data)
{
  ReceivedCount two = { &fixture->joiner, 2 };

  connect_peers (fixture);

  send_raw_message (&fixture->host, "r1", 1, "one");
  send_raw_message (&fixture->host, "r1", 1, "one");
  send_raw_message (&fixture->host, "r2", 2, "two");
  send_raw_message (&fixture->host, "r1", 1, "one");
  g_assert_true (ph_test_wait_until (received_or_ended, &two, TIMEOUT_MS));
  g_assert_false (fixture->joiner.ended);

  send_raw_message (&fixture->host, "r5", 5, "five");
  g_assert_true (ph_test_wait_for_flag (&fixture->joiner.ended, TIMEOUT_MS));
  g_assert_error (fixture->joiner.error, PH_ERROR, PH_ERROR_PROTOCOL);
  g_assert_cmpuint (fixture->joiner.received->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (fixture->joiner.received, 0), ==, "one");
  g_assert_cmpstr (g_ptr_array_index (fixture->joiner.received, 1), ==, "two");
}

/* The host's ICE fails in the middle of a burst: both sides restart ICE
 * through the mailbox, the channel comes back, and every message arrives
 * exactly once, in order, including those sent while reconnecting. */
static void
test_reconnect_after_ice_failure (Fixture *fixture, gconstpointer data)
{
  const guint before = 50;
  const guint during = 5;
  ReceivedCount reconnected = { &fixture->host, 2 };
  ReceivedCount joiner_reconnected = { &fixture->joiner, 2 };
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);

  connect_peers (fixture);
  for (guint i = 0; i < before + during; i++)
    {
      g_autofree char *text = g_strdup_printf ("message %u", i);

      if (i == before)
        {
          /* Whatever was written and not yet acknowledged goes again. */
          ph_ice_transport_force_fail (
              ph_conversation_get_ice_transport (fixture->host.conversation));
          g_assert_cmpint (ph_conversation_get_state (fixture->host.conversation), ==,
                           PH_CONVERSATION_STATE_RECONNECTING);
        }
      g_ptr_array_add (ids, ph_conversation_send_message (fixture->host.conversation, text, NULL));
    }

  g_assert_true (ph_test_wait_until (connections_or_ended, &reconnected, TIMEOUT_MS));
  g_assert_true (ph_test_wait_until (connections_or_ended, &joiner_reconnected, TIMEOUT_MS));
  g_assert_cmpuint (fixture->host.reconnections, ==, 1);
  g_assert_cmpuint (fixture->joiner.reconnections, ==, 1);

  wait_for_delivered (&fixture->host, before + during);
  g_assert_cmpuint (fixture->joiner.received->len, ==, before + during);
  for (guint i = 0; i < before + during; i++)
    {
      g_autofree char *expected = g_strdup_printf ("message %u", i);

      g_assert_cmpstr (g_ptr_array_index (fixture->joiner.received, i), ==, expected);
      g_assert_true (g_ptr_array_find_with_equal_func (
          fixture->host.delivered, g_ptr_array_index (ids, i), g_str_equal, NULL));
    }
  /* Each was written at least once; none failed. */
  g_assert_cmpuint (fixture->host.sent->len, >=, before + during);
  g_assert_cmpuint (fixture->host.failed->len, ==, 0);

  /* The chat goes on both ways on the new path. */
  g_ptr_array_add (ids,
                   ph_conversation_send_message (fixture->joiner.conversation, "still here", NULL));
  wait_for_delivered (&fixture->joiner, 1);
  g_assert_cmpstr (g_ptr_array_index (fixture->host.received, 0), ==, "still here");
}

/* Messages the peer never acknowledged are reported as not delivered when
 * the conversation ends. */
static void
test_undelivered_reported (Fixture *fixture, gconstpointer data)
{
  g_autofree char *id = NULL;

  ph_conversation_host (fixture->host.conversation);
  wait_for_code (&fixture->host);
  id = ph_conversation_send_message (fixture->host.conversation, "nobody came", NULL);
  g_assert_nonnull (id);
  ph_conversation_leave (fixture->host.conversation);
  g_assert_true (ph_test_wait_for_flag (&fixture->host.ended, TIMEOUT_MS));
  g_assert_cmpuint (fixture->host.sent->len, ==, 0);
  g_assert_cmpuint (fixture->host.failed->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (fixture->host.failed, 0), ==, id);
}

static gboolean
mailboxes_gone (gpointer data)
{
  Fixture *fixture = data;

  return (ph_conversation_get_code (fixture->host.conversation) == NULL
          && ph_conversation_get_code (fixture->joiner.conversation) == NULL)
         || fixture->host.ended || fixture->joiner.ended;
}

static const char *const short_mailbox_lifetime[] = { "--mailbox-lifetime=2", NULL };

/* The server's mailbox outlives a connection only so long: the chat goes on
 * without it, and a broken path then ends the chat at once, with what was
 * not acknowledged reported as not delivered. */
static void
test_mailbox_expired (Fixture *fixture, gconstpointer data)
{
  g_autofree char *still = NULL;
  g_autofree char *lost = NULL;

  connect_peers (fixture);
  g_assert_true (ph_test_wait_until (mailboxes_gone, fixture, TIMEOUT_MS));
  g_assert_false (fixture->host.ended);
  g_assert_false (fixture->joiner.ended);

  still = ph_conversation_send_message (fixture->host.conversation, "still chatting", NULL);
  wait_for_delivered (&fixture->host, 1);

  lost = ph_conversation_send_message (fixture->host.conversation, "unconfirmed", NULL);
  ph_ice_transport_force_fail (ph_conversation_get_ice_transport (fixture->host.conversation));
  g_assert_true (ph_test_wait_for_flag (&fixture->host.ended, TIMEOUT_MS));
  g_assert_cmpstr (fixture->host.closed_reason, ==, "peer-lost");
  g_assert_cmpuint (fixture->host.reconnections, ==, 0);
  g_assert_cmpuint (fixture->host.failed->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (fixture->host.failed, 0), ==, lost);
  g_assert_true (ph_test_wait_for_flag (&fixture->joiner.ended, TIMEOUT_MS));
  g_assert_cmpstr (fixture->joiner.closed_reason, ==, "peer-lost");
}

static void
metrics_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GBytes **out_body = user_data;

  *out_body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, NULL);
  if (*out_body == NULL)
    *out_body = g_bytes_new (NULL, 0);
}

static gboolean
has_bytes (gpointer data)
{
  return *(GBytes **)data != NULL;
}

/* Asks the server's /metrics until a long-poll is waiting there. */
static gboolean
wait_for_waiting_poll (const char *url)
{
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree char *metrics = g_strconcat (url, "/metrics", NULL);
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_MS * (gint64)1000;

  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr (SoupMessage) msg = soup_message_new ("GET", metrics);
      g_autoptr (GBytes) body = NULL;
      g_autofree char *text = NULL;

      soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, metrics_cb, &body);
      g_assert_true (ph_test_wait_until (has_bytes, &body, TIMEOUT_MS));
      text = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
      if (strstr (text, "\npinhole_polls_waiting 0\n") == NULL
          && strstr (text, "\npinhole_polls_waiting ") != NULL)
        return TRUE;
    }
  return FALSE;
}

/* The rendezvous server crashes while the host waits with its code shown,
 * and the joiner types the code while it is away; a new server process
 * then starts on the same address, with none of the old one's mailboxes.
 * The host claims its number again, the joiner keeps asking, and they
 * connect with the code that was read out. */
static void
test_rendezvous_restarted_while_waiting (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GUri) uri = g_uri_parse (fixture->url, G_URI_FLAGS_NONE, NULL);
  g_autofree char *port = g_strdup_printf ("--port=%d", g_uri_get_port (uri));
  const char *const same_port[] = { port, NULL };
  g_autofree char *code = NULL;
  g_autofree char *url = NULL;
  g_autoptr (GError) error = NULL;
  PhTestDeadPort *outage;

  ph_conversation_host (fixture->host.conversation);
  wait_for_code (&fixture->host);
  code = g_strdup (ph_conversation_get_code (fixture->host.conversation));
  g_assert_true (wait_for_waiting_poll (fixture->url));

  ph_test_process_kill (fixture->server, SIGKILL);
  g_assert_cmpint (ph_test_process_wait_exit (fixture->server, ph_test_scaled_ms (5000)), ==,
                   128 + SIGKILL);
  g_clear_pointer (&fixture->server, ph_test_process_free);
  outage = ph_test_dead_port_new ((guint16)g_uri_get_port (uri));
  g_assert_true (ph_conversation_join (fixture->joiner.conversation, code, &error));
  g_assert_no_error (error);
  /* The host's poll and the joiner's first post find it gone. */
  g_assert_true (ph_test_dead_port_wait (outage, 2, TIMEOUT_MS));
  ph_test_dead_port_free (outage);
  fixture->server = ph_test_start_rendezvous (same_port, &url);
  g_assert_cmpstr (url, ==, fixture->url);

  g_assert_true (ph_test_wait_for_flag (&fixture->host.connected, TIMEOUT_MS));
  g_assert_true (ph_test_wait_for_flag (&fixture->joiner.connected, TIMEOUT_MS));
  g_assert_no_error (fixture->host.error);
  g_assert_no_error (fixture->joiner.error);
  g_assert_cmpstr (ph_conversation_get_code (fixture->host.conversation), ==, code);

  g_free (ph_conversation_send_message (fixture->host.conversation, "after the restart", NULL));
  wait_for_delivered (&fixture->host, 1);
  g_assert_cmpstr (g_ptr_array_index (fixture->joiner.received, 0), ==, "after the restart");
}

static void
test_wrong_code (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) parts = NULL;
  g_autofree char *wrong = NULL;
  const char *const *second = ph_code_get_second_words ();

  ph_conversation_host (fixture->host.conversation);
  wait_for_code (&fixture->host);
  parts = g_strsplit (ph_conversation_get_code (fixture->host.conversation), "-", 3);
  wrong = g_strdup_printf ("%s-%s-%s", parts[0], parts[1],
                           g_str_equal (parts[2], second[0]) ? second[1] : second[0]);

  g_assert_true (ph_conversation_join (fixture->joiner.conversation, wrong, &error));
  g_assert_true (ph_test_wait_for_flag (&fixture->joiner.ended, TIMEOUT_MS));
  g_assert_true (ph_test_wait_for_flag (&fixture->host.ended, TIMEOUT_MS));
  g_assert_error (fixture->joiner.error, PH_ERROR, PH_ERROR_WRONG_CODE);
  g_assert_error (fixture->host.error, PH_ERROR, PH_ERROR_WRONG_CODE);
  g_assert_cmpint (ph_conversation_get_state (fixture->host.conversation), ==,
                   PH_CONVERSATION_STATE_FAILED);
}

/* A peer that leaves right after typing the code says so through the
 * mailbox: the host learns at once instead of waiting for a description
 * that will never come. It left after its PAKE message without proving it
 * knew the code, as a guess that learned nothing would: the host cannot
 * tell the two apart and says so. */
static void
test_peer_leaves_during_setup (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  ph_conversation_host (fixture->host.conversation);
  wait_for_code (&fixture->host);
  g_assert_true (ph_conversation_join (
      fixture->joiner.conversation, ph_conversation_get_code (fixture->host.conversation), &error));
  g_assert_no_error (error);
  ph_conversation_leave (fixture->joiner.conversation);

  g_assert_true (ph_test_wait_for_flag (&fixture->host.ended, TIMEOUT_MS));
  g_assert_false (fixture->host.connected);
  g_assert_error (fixture->host.error, PH_ERROR, PH_ERROR_POSSIBLE_GUESS);
}

static void
test_message_too_large (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *huge = g_strnfill (64 * 1024 + 1, 'x');
  g_autofree char *id = NULL;

  id = ph_conversation_send_message (fixture->host.conversation, huge, &error);
  g_assert_null (id);
  g_assert_error (error, PH_ERROR, PH_ERROR_TOO_LARGE);
  g_assert_cmpuint (ph_conversation_get_unacknowledged (fixture->host.conversation), ==, 0);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/conversation/connect-and-chat", Fixture, NULL, fixture_set_up,
              test_connect_and_chat, fixture_tear_down);
  g_test_add ("/conversation/connection-details", Fixture, NULL, fixture_set_up,
              test_connection_details, fixture_tear_down);
  g_test_add ("/conversation/many-messages-in-order", Fixture, NULL, fixture_set_up,
              test_many_messages_in_order, fixture_tear_down);
  g_test_add ("/conversation/wrong-code", Fixture, NULL, fixture_set_up, test_wrong_code,
              fixture_tear_down);
  g_test_add ("/conversation/rendezvous-restarted-while-waiting", Fixture, NULL, fixture_set_up,
              test_rendezvous_restarted_while_waiting, fixture_tear_down);
  g_test_add ("/conversation/duplicates-and-gaps", Fixture, NULL, fixture_set_up,
              test_duplicates_and_gaps, fixture_tear_down);
  g_test_add ("/conversation/reconnect-after-ice-failure", Fixture, NULL, fixture_set_up,
              test_reconnect_after_ice_failure, fixture_tear_down);
  g_test_add ("/conversation/mailbox-expired", Fixture, short_mailbox_lifetime, fixture_set_up,
              test_mailbox_expired, fixture_tear_down);
  g_test_add ("/conversation/undelivered-reported", Fixture, NULL, fixture_set_up,
              test_undelivered_reported, fixture_tear_down);
  g_test_add ("/conversation/peer-leaves-during-setup", Fixture, NULL, fixture_set_up,
              test_peer_leaves_during_setup, fixture_tear_down);
  g_test_add ("/conversation/message-too-large", Fixture, NULL, fixture_set_up,
              test_message_too_large, fixture_tear_down);

  return g_test_run ();
}
