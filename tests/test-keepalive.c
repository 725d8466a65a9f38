/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-keepalive"

#include "config.h"

#include "ph-keepalive.h"

/* Small times, so a test takes a fraction of a second. */
#define INTERVAL_MS 20
#define SILENCE_MS 100
#define PROBE_MS 60
/* Slack for upper bounds on time; lower bounds are exact. */
#define SLACK_MS 2000

/* The valgrind test setup sets PINHOLE_TEST_UNDER_VALGRIND: upper bounds on
 * time stretch there, lower bounds do not. */
static guint
scaled_ms (guint ms)
{
  return ms * (g_getenv ("PINHOLE_TEST_UNDER_VALGRIND") != NULL ? 10 : 1);
}

static double
ms_since (gint64 from)
{
  return (g_get_monotonic_time () - from) / 1000.0;
}

typedef enum
{
  ANSWER_NONE,
  ANSWER_HEARD,     /* any frame from the peer, after each ping */
  ANSWER_NEXT_PONG, /* the pong of the next ping only */
} Answer;

/* What the owner of a keepalive sees, and a peer that answers. */
typedef struct
{
  PhKeepalive *keepalive;
  GArray *ping_ids;   /* of guint64 */
  GArray *ping_times; /* of gint64, monotonic */
  guint silent;
  gint64 silent_time;
  guint notifies;
  Answer answer;
  GQueue answers; /* of guint64 *: a ping id for a pong, 0 for any frame */
  GSource *answer_source;
  guint wanted_pings; /* see enough_pings */
} Owner;

static gboolean
answer_cb (gpointer user_data)
{
  Owner *owner = user_data;
  guint64 *id;

  while ((id = g_queue_pop_head (&owner->answers)) != NULL)
    {
      if (*id == 0)
        ph_keepalive_heard (owner->keepalive);
      else
        ph_keepalive_pong_received (owner->keepalive, *id);
      g_free (id);
    }
  g_clear_pointer (&owner->answer_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

/* The answer comes back on a later turn of the loop, as from the network,
 * and ahead of the keepalive's own timers. */
static void
ping_cb (PhKeepalive *keepalive, guint64 ping_id, Owner *owner)
{
  gint64 now = g_get_monotonic_time ();
  guint64 answer = owner->answer == ANSWER_HEARD ? 0 : ping_id;

  g_array_append_val (owner->ping_ids, ping_id);
  g_array_append_val (owner->ping_times, now);

  if (owner->answer == ANSWER_NONE)
    return;
  g_queue_push_tail (&owner->answers, g_memdup2 (&answer, sizeof answer));
  if (owner->answer == ANSWER_NEXT_PONG)
    owner->answer = ANSWER_NONE;
  if (owner->answer_source == NULL)
    {
      owner->answer_source = g_idle_source_new ();
      g_source_set_priority (owner->answer_source, G_PRIORITY_HIGH);
      g_source_set_callback (owner->answer_source, answer_cb, owner, NULL);
      g_source_attach (owner->answer_source, g_main_context_get_thread_default ());
    }
}

static void
peer_silent_cb (PhKeepalive *keepalive, Owner *owner)
{
  owner->silent++;
  owner->silent_time = g_get_monotonic_time ();
  /* Stopped before the signal, so the owner may start it again. */
  g_assert_false (ph_keepalive_is_running (keepalive));
}

static void
notify_round_trip_cb (PhKeepalive *keepalive, GParamSpec *pspec, Owner *owner)
{
  owner->notifies++;
}

static void
owner_init (Owner *owner, guint interval_ms, guint silence_ms, guint probe_ms)
{
  owner->keepalive = ph_keepalive_new (interval_ms, silence_ms, probe_ms);
  owner->ping_ids = g_array_new (FALSE, FALSE, sizeof (guint64));
  owner->ping_times = g_array_new (FALSE, FALSE, sizeof (gint64));
  owner->silent = 0;
  owner->notifies = 0;
  owner->answer = ANSWER_NONE;
  g_queue_init (&owner->answers);
  owner->answer_source = NULL;
  g_signal_connect (owner->keepalive, "ping", G_CALLBACK (ping_cb), owner);
  g_signal_connect (owner->keepalive, "peer-silent", G_CALLBACK (peer_silent_cb), owner);
  g_signal_connect (owner->keepalive, "notify::round-trip-ms", G_CALLBACK (notify_round_trip_cb),
                    owner);
}

static void
owner_clear (Owner *owner)
{
  if (owner->answer_source != NULL)
    {
      g_source_destroy (owner->answer_source);
      g_clear_pointer (&owner->answer_source, g_source_unref);
    }
  g_queue_clear_full (&owner->answers, g_free);
  g_array_unref (owner->ping_ids);
  g_array_unref (owner->ping_times);
  g_assert_finalize_object (owner->keepalive);
}

static guint64
ping_id (Owner *owner, guint index)
{
  return g_array_index (owner->ping_ids, guint64, index);
}

static gboolean
flag_cb (gpointer user_data)
{
  *(gboolean *)user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the loop until @done (checked after each turn) or until @timeout_ms;
 * FALSE on timeout. */
static gboolean
run_until (gboolean (*done) (gpointer data), gpointer data, guint timeout_ms)
{
  GMainContext *context = g_main_context_get_thread_default ();
  GSource *timeout = g_timeout_source_new (timeout_ms);
  gboolean timed_out = FALSE;
  gboolean result;

  g_source_set_callback (timeout, flag_cb, &timed_out, NULL);
  g_source_attach (timeout, context);
  while (!(result = done (data)) && !timed_out)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (timeout);
  g_source_unref (timeout);
  return result;
}

static gboolean
never (gpointer data)
{
  return FALSE;
}

/* Watches for @ms: what did (not) happen meanwhile. */
static void
run_for (guint ms)
{
  run_until (never, NULL, ms);
}

static gboolean
enough_pings (gpointer data)
{
  Owner *owner = data;

  return owner->ping_ids->len >= owner->wanted_pings;
}

static gboolean
went_silent (gpointer data)
{
  Owner *owner = data;

  return owner->silent > 0;
}

static gboolean
is_gone (gpointer data)
{
  return *(gpointer *)data == NULL;
}

static void
wait_for_pings (Owner *owner, guint count)
{
  owner->wanted_pings = count;
  g_assert_true (run_until (enough_pings, owner, count * INTERVAL_MS + scaled_ms (SLACK_MS)));
}

static void
test_pings (void)
{
  Owner owner;
  gint64 started = g_get_monotonic_time ();

  owner_init (&owner, INTERVAL_MS, scaled_ms (10 * SLACK_MS), PROBE_MS);
  g_assert_false (ph_keepalive_is_running (owner.keepalive));
  ph_keepalive_start (owner.keepalive);
  g_assert_true (ph_keepalive_is_running (owner.keepalive));
  /* The first comes after an interval, not at once. */
  g_assert_cmpuint (owner.ping_ids->len, ==, 0);

  wait_for_pings (&owner, 5);
  for (guint i = 0; i < 5; i++)
    {
      gint64 at = g_array_index (owner.ping_times, gint64, i);

      g_assert_cmpuint (ping_id (&owner, i), >, i == 0 ? 0 : ping_id (&owner, i - 1));
      g_assert_cmpint (at - started, >=, (gint64)(i + 1) * INTERVAL_MS * 1000);
    }
  g_assert_cmpfloat (ms_since (started), <, 5 * INTERVAL_MS + scaled_ms (SLACK_MS));
  g_assert_cmpuint (owner.silent, ==, 0);

  /* A restart goes on with higher ids: no answer to an old ping counts. */
  ph_keepalive_start (owner.keepalive);
  wait_for_pings (&owner, 6);
  g_assert_cmpuint (ping_id (&owner, 5), >, ping_id (&owner, 4));

  owner_clear (&owner);
}

/* Probes send pings at once, so with ticks far apart the test decides
 * which ping is the latest. */
static void
test_round_trip (void)
{
  Owner owner;
  double first;

  owner_init (&owner, 60 * 1000, 60 * 1000, 60 * 1000);
  ph_keepalive_start (owner.keepalive);
  g_assert_cmpfloat (ph_keepalive_get_round_trip_ms (owner.keepalive), ==, -1);

  ph_keepalive_probe (owner.keepalive);
  g_assert_cmpuint (owner.ping_ids->len, ==, 1);
  ph_keepalive_pong_received (owner.keepalive, ping_id (&owner, 0));
  first = ph_keepalive_get_round_trip_ms (owner.keepalive);
  g_assert_cmpfloat (first, >=, 0);
  g_assert_cmpfloat (first, <, 40);
  g_assert_cmpuint (owner.notifies, ==, 1);

  /* Two pings out; the older one's answer comes late and is not a
   * measurement of anything. */
  ph_keepalive_probe (owner.keepalive);
  ph_keepalive_probe (owner.keepalive);
  g_assert_cmpuint (owner.ping_ids->len, ==, 3);
  run_for (40);
  ph_keepalive_pong_received (owner.keepalive, ping_id (&owner, 1));
  g_assert_cmpfloat (ph_keepalive_get_round_trip_ms (owner.keepalive), ==, first);
  g_assert_cmpuint (owner.notifies, ==, 1);

  ph_keepalive_pong_received (owner.keepalive, ping_id (&owner, 2));
  g_assert_cmpfloat (ph_keepalive_get_round_trip_ms (owner.keepalive), >=, 40);
  g_assert_cmpfloat (ph_keepalive_get_round_trip_ms (owner.keepalive), <,
                     40 + scaled_ms (SLACK_MS));
  g_assert_cmpuint (owner.notifies, ==, 2);

  /* A second answer to the same ping measures nothing either. */
  ph_keepalive_pong_received (owner.keepalive, ping_id (&owner, 2));
  g_assert_cmpuint (owner.notifies, ==, 2);

  /* The round trip outlives a restart. */
  ph_keepalive_stop (owner.keepalive);
  ph_keepalive_start (owner.keepalive);
  g_assert_cmpfloat (ph_keepalive_get_round_trip_ms (owner.keepalive), >=, 40);

  owner_clear (&owner);
}

static void
test_heard_never_silent (void)
{
  Owner owner;
  /* Only a stall of the whole loop longer than this could look like
   * silence; valgrind stalls it for longer. */
  guint silence_ms = scaled_ms (SILENCE_MS);

  owner_init (&owner, INTERVAL_MS, silence_ms, PROBE_MS);
  owner.answer = ANSWER_HEARD;
  ph_keepalive_start (owner.keepalive);

  run_for (3 * silence_ms);
  g_assert_cmpuint (owner.silent, ==, 0);
  g_assert_true (ph_keepalive_is_running (owner.keepalive));
  g_assert_cmpuint (owner.ping_ids->len, >=, 3);
  /* Being heard is not a measurement. */
  g_assert_cmpfloat (ph_keepalive_get_round_trip_ms (owner.keepalive), ==, -1);

  owner_clear (&owner);
}

static void
test_silent (void)
{
  Owner owner;
  gint64 started = g_get_monotonic_time ();
  guint pings;

  owner_init (&owner, INTERVAL_MS, SILENCE_MS, PROBE_MS);
  ph_keepalive_start (owner.keepalive);

  g_assert_true (run_until (went_silent, &owner, SILENCE_MS + scaled_ms (SLACK_MS)));
  g_assert_cmpint (owner.silent_time - started, >=, SILENCE_MS * 1000);
  g_assert_cmpint (owner.silent_time - started, <, (SILENCE_MS + scaled_ms (SLACK_MS)) * 1000);
  g_assert_false (ph_keepalive_is_running (owner.keepalive));
  /* Pings went out until then, and no more after. */
  pings = owner.ping_ids->len;
  g_assert_cmpuint (pings, >=, 1);
  run_for (5 * INTERVAL_MS);
  g_assert_cmpuint (owner.ping_ids->len, ==, pings);
  g_assert_cmpuint (owner.silent, ==, 1);

  /* Started again, it pings again, with "heard" counted from then. */
  owner.silent = 0;
  started = g_get_monotonic_time ();
  ph_keepalive_start (owner.keepalive);
  wait_for_pings (&owner, pings + 1);
  g_assert_true (run_until (went_silent, &owner, SILENCE_MS + scaled_ms (SLACK_MS)));
  g_assert_cmpint (owner.silent_time - started, >=, SILENCE_MS * 1000);

  owner_clear (&owner);
}

static void
test_probe_unanswered (void)
{
  Owner owner;
  /* Far from the probe's limit: only the probe can end this. */
  guint silence_ms = scaled_ms (10 * SLACK_MS);
  gint64 probed;

  owner_init (&owner, INTERVAL_MS, silence_ms, PROBE_MS);
  ph_keepalive_start (owner.keepalive);
  wait_for_pings (&owner, 2);

  probed = g_get_monotonic_time ();
  ph_keepalive_probe (owner.keepalive);
  /* The probe's ping goes at once. */
  g_assert_cmpuint (owner.ping_ids->len, ==, 3);

  g_assert_true (run_until (went_silent, &owner, PROBE_MS + scaled_ms (SLACK_MS)));
  g_assert_cmpint (owner.silent_time - probed, >=, PROBE_MS * 1000);
  g_assert_cmpint (owner.silent_time - probed, <, (gint64)silence_ms * 1000);
  g_assert_false (ph_keepalive_is_running (owner.keepalive));
  run_for (2 * PROBE_MS);
  g_assert_cmpuint (owner.silent, ==, 1);

  owner_clear (&owner);
}

static void
test_probe_answered (void)
{
  Owner owner;
  guint silence_ms = scaled_ms (10 * SLACK_MS);
  guint pings;

  owner_init (&owner, INTERVAL_MS, silence_ms, PROBE_MS);
  ph_keepalive_start (owner.keepalive);
  wait_for_pings (&owner, 1);

  owner.answer = ANSWER_NEXT_PONG;
  ph_keepalive_probe (owner.keepalive);
  run_for (3 * PROBE_MS);
  g_assert_cmpuint (owner.silent, ==, 0);
  g_assert_true (ph_keepalive_is_running (owner.keepalive));
  /* Its answer came before any other ping left. */
  g_assert_cmpfloat (ph_keepalive_get_round_trip_ms (owner.keepalive), >=, 0);

  /* A probe while stopped sends nothing. */
  ph_keepalive_stop (owner.keepalive);
  pings = owner.ping_ids->len;
  ph_keepalive_probe (owner.keepalive);
  g_assert_cmpuint (owner.ping_ids->len, ==, pings);

  owner_clear (&owner);
}

static void
test_stop (void)
{
  Owner owner;
  guint pings;

  owner_init (&owner, INTERVAL_MS, SILENCE_MS, PROBE_MS);
  ph_keepalive_start (owner.keepalive);
  wait_for_pings (&owner, 2);
  ph_keepalive_probe (owner.keepalive);
  pings = owner.ping_ids->len;

  ph_keepalive_stop (owner.keepalive);
  g_assert_false (ph_keepalive_is_running (owner.keepalive));
  run_for (3 * SILENCE_MS);
  g_assert_cmpuint (owner.ping_ids->len, ==, pings);
  g_assert_cmpuint (owner.silent, ==, 0);
  /* An answer after the stop changes nothing either. */
  ph_keepalive_pong_received (owner.keepalive, ping_id (&owner, pings - 1));
  g_assert_cmpuint (owner.notifies, ==, 0);
  g_assert_cmpfloat (ph_keepalive_get_round_trip_ms (owner.keepalive), ==, -1);

  owner_clear (&owner);
}

static void
fail_cb (void)
{
  g_assert_not_reached ();
}

/* Freed memory touched by a late timer shows under valgrind and ASan. */
static void
test_finalize_pending (void)
{
  PhKeepalive *keepalive = ph_keepalive_new (INTERVAL_MS, SILENCE_MS, PROBE_MS);

  ph_keepalive_start (keepalive);
  ph_keepalive_probe (keepalive);
  g_signal_connect (keepalive, "ping", G_CALLBACK (fail_cb), NULL);
  g_signal_connect (keepalive, "peer-silent", G_CALLBACK (fail_cb), NULL);
  g_assert_finalize_object (keepalive);
  run_for (2 * SILENCE_MS);
}

static void
unref_cb (PhKeepalive *keepalive)
{
  g_object_unref (keepalive);
}

/* An owner may drop the keepalive from its own signal. */
static void
test_unref_in_handler (void)
{
  PhKeepalive *keepalive = ph_keepalive_new (INTERVAL_MS, SILENCE_MS, PROBE_MS);
  PhKeepalive *watch = keepalive;

  g_object_add_weak_pointer (G_OBJECT (keepalive), (gpointer *)&watch);
  g_signal_connect (keepalive, "peer-silent", G_CALLBACK (unref_cb), NULL);
  ph_keepalive_start (keepalive);
  ph_keepalive_probe (keepalive);
  g_assert_true (run_until (is_gone, &watch, PROBE_MS + scaled_ms (SLACK_MS)));
  run_for (2 * SILENCE_MS);

  keepalive = ph_keepalive_new (INTERVAL_MS, SILENCE_MS, PROBE_MS);
  watch = keepalive;
  g_object_add_weak_pointer (G_OBJECT (keepalive), (gpointer *)&watch);
  g_signal_connect (keepalive, "ping", G_CALLBACK (unref_cb), NULL);
  ph_keepalive_start (keepalive);
  g_assert_true (run_until (is_gone, &watch, INTERVAL_MS + scaled_ms (SLACK_MS)));
  run_for (2 * INTERVAL_MS);
}

int
main (int argc, char *argv[])
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  int status;

  g_test_init (&argc, &argv, NULL);

  /* The keepalive's timers belong to the thread-default context: the tests
   * turn only this one, never the global default. */
  g_main_context_push_thread_default (context);

  g_test_add_func ("/keepalive/pings", test_pings);
  g_test_add_func ("/keepalive/round-trip", test_round_trip);
  g_test_add_func ("/keepalive/heard-never-silent", test_heard_never_silent);
  g_test_add_func ("/keepalive/silent", test_silent);
  g_test_add_func ("/keepalive/probe-unanswered", test_probe_unanswered);
  g_test_add_func ("/keepalive/probe-answered", test_probe_answered);
  g_test_add_func ("/keepalive/stop", test_stop);
  g_test_add_func ("/keepalive/finalize-pending", test_finalize_pending);
  g_test_add_func ("/keepalive/unref-in-handler", test_unref_in_handler);

  status = g_test_run ();
  g_main_context_pop_thread_default (context);
  return status;
}
