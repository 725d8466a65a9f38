/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-connection-attempt"

#include "config.h"

#include "ph-certificate.h"
#include "ph-connection-attempt.h"
#include "ph-error.h"
#include "ph-nice-stream.h"
#include "ph-test-wait.h"

#define TIMEOUT_MS 10000

#define HOST_CANDIDATE "candidate:1 1 UDP 2130706431 192.0.2.1 40000 typ host"
#define OTHER_CANDIDATE "candidate:2 1 UDP 2130706431 192.0.2.2 40000 typ host"
#define THIRD_CANDIDATE "candidate:3 1 UDP 2130706431 192.0.2.3 40000 typ host"

/* One side of the test: its attempt and what it heard from it. */
typedef struct
{
  PhConnectionAttempt *attempt;
  GTlsCertificate *certificate;
  gboolean gathered;
  gboolean created;
  gboolean opened;
  GError *failed;
  guint local_candidates;
  guint signals;
  gboolean saw_path;
} Side;

static void
local_candidate_cb (PhConnectionAttempt *attempt, const char *candidate, Side *side)
{
  side->local_candidates++;
  side->signals++;
}

static void
gathering_done_cb (PhConnectionAttempt *attempt, Side *side)
{
  side->gathered = TRUE;
  side->signals++;
}

static void
ice_state_changed_cb (PhConnectionAttempt *attempt, PhIceState state, Side *side)
{
  side->signals++;
}

static void
path_changed_cb (PhConnectionAttempt *attempt, const PhPath *path, Side *side)
{
  side->saw_path = path != NULL;
  side->signals++;
}

static void
channel_created_cb (PhConnectionAttempt *attempt, PhSecureChannel *channel, Side *side)
{
  g_assert_true (channel == ph_connection_attempt_get_channel (attempt));
  g_assert_false (side->opened);
  side->created = TRUE;
  side->signals++;
}

static void
channel_opened_cb (PhConnectionAttempt *attempt, Side *side)
{
  g_assert_true (side->created);
  side->opened = TRUE;
  side->signals++;
}

static void
channel_failed_cb (PhConnectionAttempt *attempt, const GError *error, Side *side)
{
  g_clear_error (&side->failed);
  side->failed = g_error_copy (error);
  side->signals++;
}

static void
side_init (Side *side, gboolean is_host)
{
  g_autoptr (GError) error = NULL;

  memset (side, 0, sizeof *side);
  side->certificate = ph_certificate_generate ("pinhole", &error);
  g_assert_no_error (error);
  side->attempt = ph_connection_attempt_new (1, is_host, side->certificate, 64);
  g_signal_connect (side->attempt, "local-candidate", G_CALLBACK (local_candidate_cb), side);
  g_signal_connect (side->attempt, "gathering-done", G_CALLBACK (gathering_done_cb), side);
  g_signal_connect (side->attempt, "ice-state-changed", G_CALLBACK (ice_state_changed_cb), side);
  g_signal_connect (side->attempt, "path-changed", G_CALLBACK (path_changed_cb), side);
  g_signal_connect (side->attempt, "channel-created", G_CALLBACK (channel_created_cb), side);
  g_signal_connect (side->attempt, "channel-opened", G_CALLBACK (channel_opened_cb), side);
  g_signal_connect (side->attempt, "channel-failed", G_CALLBACK (channel_failed_cb), side);
}

static void
closed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ph_connection_attempt_close_finish (PH_CONNECTION_ATTEMPT (source), result);
  *(gboolean *)user_data = TRUE;
}

static void
side_clear (Side *side)
{
  gboolean closed = FALSE;

  ph_connection_attempt_close_async (side->attempt, closed_cb, &closed);
  g_assert_true (ph_test_wait_for_flag (&closed, ph_test_scaled_ms (TIMEOUT_MS)));
  g_assert_finalize_object (side->attempt);
  g_clear_object (&side->certificate);
  g_clear_error (&side->failed);
}

static gboolean
is_null (gpointer data)
{
  return *(gpointer *)data == NULL;
}

/* For an attempt whose handshake is still waiting: it holds the attempt
 * until it fails, which it does once closing took its stream away. */
static void
side_clear_after_handshake (Side *side)
{
  gboolean closed = FALSE;
  gpointer attempt = side->attempt;

  ph_connection_attempt_close_async (side->attempt, closed_cb, &closed);
  g_assert_true (ph_test_wait_for_flag (&closed, ph_test_scaled_ms (TIMEOUT_MS)));
  g_object_add_weak_pointer (attempt, &attempt);
  g_clear_object (&side->attempt);
  g_assert_true (ph_test_wait_until (is_null, &attempt, ph_test_scaled_ms (TIMEOUT_MS)));
  g_clear_object (&side->certificate);
  g_clear_error (&side->failed);
}

static gboolean
gathered (gpointer data)
{
  return ((Side *)data)->gathered;
}

static void
start (Side *side)
{
  g_autoptr (PhIceConfig) config = ph_ice_config_new ();
  g_autoptr (GError) error = NULL;

  g_assert_true (ph_connection_attempt_start (side->attempt, config, &error));
  g_assert_no_error (error);
  g_assert_true (ph_test_wait_until (gathered, side, ph_test_scaled_ms (TIMEOUT_MS)));
}

typedef enum
{
  AS_SENT,
  AS_OLDER_PEER,  /* without the link ISN, as before there was one */
  WRONG_LINK_ISN, /* another link ISN than the peer's */
} Delivery;

/* @from's description as @to receives it; the fingerprint is @pinned's. */
static void
describe_to_as (Side *from, Side *to, GTlsCertificate *pinned, Delivery delivery)
{
  g_autoptr (PhSessionDescription) description = ph_session_description_new ();
  g_autoptr (GError) error = NULL;

  ph_connection_attempt_describe (from->attempt, description);
  g_assert_true (description->has_link_isn);
  if (delivery == AS_OLDER_PEER)
    description->has_link_isn = FALSE;
  else if (delivery == WRONG_LINK_ISN)
    description->link_isn += 1000;
  description->fingerprint = ph_certificate_get_fingerprint (pinned);
  g_assert_cmpuint (description->session_version, ==, 1);
  g_assert_true (description->end_of_candidates);
  g_assert_cmpuint (description->candidates->len, >, 0);
  g_assert_true (ph_connection_attempt_set_peer_description (to->attempt, description, &error));
  g_assert_no_error (error);
}

static void
describe_to (Side *from, Side *to, GTlsCertificate *pinned)
{
  describe_to_as (from, to, pinned, AS_SENT);
}

static PhNiceStream *
stream_of (Side *side)
{
  return PH_NICE_STREAM (
      ph_ice_transport_get_stream (ph_connection_attempt_get_ice (side->attempt)));
}

typedef struct
{
  Side *a, *b;
} Pair;

static gboolean
both_settled (gpointer data)
{
  Pair *pair = data;

  return (pair->a->opened || pair->a->failed != NULL)
         && (pair->b->opened || pair->b->failed != NULL);
}

/* The joiner takes the host's description before its own ICE agent
 * exists; it waits in the attempt until the agent starts. */
static void
meet_as (Side *host, Side *joiner, GTlsCertificate *host_pinned_by_joiner, Delivery delivery)
{
  Pair pair = { host, joiner };

  start (host);
  describe_to_as (host, joiner, host_pinned_by_joiner, delivery);
  g_assert_true (ph_connection_attempt_has_peer_description (joiner->attempt));
  start (joiner);
  describe_to_as (joiner, host, joiner->certificate, delivery);
  g_assert_true (ph_test_wait_until (both_settled, &pair, ph_test_scaled_ms (TIMEOUT_MS)));
}

static void
meet (Side *host, Side *joiner, GTlsCertificate *host_pinned_by_joiner)
{
  meet_as (host, joiner, host_pinned_by_joiner, AS_SENT);
}

static void
test_opens_channel (void)
{
  Side host, joiner;
  GStrv local;

  side_init (&host, TRUE);
  side_init (&joiner, FALSE);
  meet (&host, &joiner, host.certificate);

  g_assert_no_error (host.failed);
  g_assert_no_error (joiner.failed);
  g_assert_true (host.opened && joiner.opened);
  g_assert_true (host.saw_path && joiner.saw_path);
  g_assert_nonnull (ph_connection_attempt_get_ice (host.attempt));
  local = ph_candidate_ledger_dup_local (ph_connection_attempt_get_candidates (host.attempt));
  g_assert_cmpuint (g_strv_length (local), ==, host.local_candidates);
  g_strfreev (local);

  side_clear (&host);
  side_clear (&joiner);
}

/* Each attempt numbers its link from its own random start, which its
 * description announces, the same each time it describes itself. */
static void
test_link_isn_is_random (void)
{
  Side sides[2];
  guint32 isn[2];

  for (guint i = 0; i < 2; i++)
    {
      g_autoptr (PhSessionDescription) first = ph_session_description_new ();
      g_autoptr (PhSessionDescription) again = ph_session_description_new ();

      side_init (&sides[i], i == 0);
      start (&sides[i]);
      ph_connection_attempt_describe (sides[i].attempt, first);
      ph_connection_attempt_describe (sides[i].attempt, again);
      g_assert_true (first->has_link_isn && again->has_link_isn);
      g_assert_cmpuint (first->link_isn, ==, again->link_isn);
      isn[i] = first->link_isn;
    }
  /* Equal by chance once in 2³² runs. */
  g_assert_cmpuint (isn[0], !=, isn[1]);

  for (guint i = 0; i < 2; i++)
    side_clear (&sides[i]);
}

/* A peer from before the link ISN announces none; then both sides number
 * from 0, as it does, and the channel opens. */
static void
test_older_peer_opens_channel (void)
{
  Side host, joiner;

  side_init (&host, TRUE);
  side_init (&joiner, FALSE);
  meet_as (&host, &joiner, host.certificate, AS_OLDER_PEER);

  g_assert_no_error (host.failed);
  g_assert_no_error (joiner.failed);
  g_assert_true (host.opened && joiner.opened);

  side_clear (&host);
  side_clear (&joiner);
}

static gboolean
host_refused_some (gpointer data)
{
  return ph_nice_stream_get_refused_packets (stream_of (data)) >= 3;
}

/* The link really numbers from the announced starts: told another one,
 * the host refuses the joiner's packets (the TLS hello and its resends)
 * and the channel never opens. */
static void
test_wrong_link_isn_opens_nothing (void)
{
  Side host, joiner;

  side_init (&host, TRUE);
  side_init (&joiner, FALSE);
  start (&host);
  describe_to (&host, &joiner, host.certificate);
  start (&joiner);
  describe_to_as (&joiner, &host, joiner.certificate, WRONG_LINK_ISN);

  g_assert_true (ph_test_wait_until (host_refused_some, &host, ph_test_scaled_ms (TIMEOUT_MS)));
  g_assert_true (host.created && joiner.created);
  g_assert_false (host.opened || joiner.opened);
  g_assert_no_error (host.failed);
  g_assert_cmpuint (ph_nice_stream_get_refused_packets (stream_of (&joiner)), ==, 0);

  side_clear_after_handshake (&host);
  side_clear_after_handshake (&joiner);
}

/* A peer that presents another certificate than the sealed description
 * promised is refused: a machine in the middle cannot open the channel. */
static void
test_wrong_certificate (void)
{
  Side host, joiner;
  g_autoptr (GError) error = NULL;
  g_autoptr (GTlsCertificate) other = ph_certificate_generate ("pinhole", &error);

  g_assert_no_error (error);
  side_init (&host, TRUE);
  side_init (&joiner, FALSE);
  meet (&host, &joiner, other);

  g_assert_false (joiner.opened);
  g_assert_error (joiner.failed, PH_ERROR, PH_ERROR_SECURITY);

  side_clear (&host);
  side_clear (&joiner);
}

static void
test_candidate_flood (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GTlsCertificate) certificate = ph_certificate_generate ("pinhole", &error);
  g_autoptr (PhConnectionAttempt) attempt = ph_connection_attempt_new (1, TRUE, certificate, 2);

  g_assert_true (ph_connection_attempt_add_remote_candidate (attempt, HOST_CANDIDATE, &error));
  g_assert_false (ph_connection_attempt_add_remote_candidate (attempt, HOST_CANDIDATE, &error));
  g_assert_no_error (error);
  g_assert_true (ph_connection_attempt_add_remote_candidate (attempt, OTHER_CANDIDATE, &error));
  g_assert_false (ph_connection_attempt_add_remote_candidate (attempt, THIRD_CANDIDATE, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_PROTOCOL);
}

/* A dropped attempt says nothing more, though its ICE agent is still
 * closing and its peer is still there. */
static void
test_dropped_is_silent (void)
{
  Side host, joiner;
  guint signals;

  side_init (&host, TRUE);
  side_init (&joiner, FALSE);
  meet (&host, &joiner, host.certificate);
  g_assert_true (host.opened);

  ph_connection_attempt_drop (host.attempt);
  signals = host.signals;
  ph_test_run_for (ph_test_scaled_ms (300));
  g_assert_cmpuint (host.signals, ==, signals);

  side_clear (&host);
  side_clear (&joiner);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/connection-attempt/opens-channel", test_opens_channel);
  g_test_add_func ("/connection-attempt/wrong-certificate", test_wrong_certificate);
  g_test_add_func ("/connection-attempt/link-isn-is-random", test_link_isn_is_random);
  g_test_add_func ("/connection-attempt/older-peer-opens-channel", test_older_peer_opens_channel);
  g_test_add_func ("/connection-attempt/wrong-link-isn-opens-nothing",
                   test_wrong_link_isn_opens_nothing);
  g_test_add_func ("/connection-attempt/candidate-flood", test_candidate_flood);
  g_test_add_func ("/connection-attempt/dropped-is-silent", test_dropped_is_silent);

  return g_test_run ();
}
