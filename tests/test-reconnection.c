/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-reconnection"

#include "config.h"

#include "ph-reconnection.h"

/* Small times, so a test takes a fraction of a second. */
#define GIVE_UP_MS 300
#define ATTEMPT_MS 60
#define RETRY_MS 20
/* Slack for upper bounds on time; lower bounds are exact. */
#define SLACK_MS 2000

/* The valgrind test setup sets PINHOLE_TEST_UNDER_VALGRIND: upper bounds on
 * time stretch there, lower bounds do not. */
static guint
scaled_ms (guint ms)
{
  return ms * (g_getenv ("PINHOLE_TEST_UNDER_VALGRIND") != NULL ? 10 : 1);
}

/* What the owner of a reconnection sees. */
typedef struct
{
  PhReconnection *reconnection;
  GArray *due;       /* of guint64: the attempts asked for */
  GArray *due_times; /* of gint64, monotonic */
  gboolean follow;   /* start each attempt asked for, as the conversation does */
  guint gave_up;
  gint64 gave_up_time;
  guint wanted_due; /* see enough_due */
} Owner;

static void
attempt_due_cb (PhReconnection *reconnection, guint64 attempt, Owner *owner)
{
  gint64 now = g_get_monotonic_time ();

  g_array_append_val (owner->due, attempt);
  g_array_append_val (owner->due_times, now);
  /* Named when it fired, from both sides' numbers. */
  g_assert_cmpuint (attempt, ==, ph_reconnection_next_attempt (reconnection));
  if (owner->follow)
    ph_reconnection_start_attempt (reconnection, attempt);
}

static void
gave_up_cb (PhReconnection *reconnection, Owner *owner)
{
  owner->gave_up++;
  owner->gave_up_time = g_get_monotonic_time ();
  g_assert_false (ph_reconnection_is_active (reconnection));
}

static void
owner_init (Owner *owner, guint give_up_ms, guint attempt_ms, guint retry_ms)
{
  owner->reconnection = ph_reconnection_new (give_up_ms, attempt_ms, retry_ms);
  owner->due = g_array_new (FALSE, FALSE, sizeof (guint64));
  owner->due_times = g_array_new (FALSE, FALSE, sizeof (gint64));
  owner->follow = FALSE;
  owner->gave_up = 0;
  owner->wanted_due = 0;
  g_signal_connect (owner->reconnection, "attempt-due", G_CALLBACK (attempt_due_cb), owner);
  g_signal_connect (owner->reconnection, "gave-up", G_CALLBACK (gave_up_cb), owner);
}

static void
owner_clear (Owner *owner)
{
  g_array_unref (owner->due);
  g_array_unref (owner->due_times);
  g_assert_finalize_object (owner->reconnection);
}

static guint64
due (Owner *owner, guint index)
{
  return g_array_index (owner->due, guint64, index);
}

static gint64
due_time (Owner *owner, guint index)
{
  return g_array_index (owner->due_times, gint64, index);
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
enough_due (gpointer data)
{
  Owner *owner = data;

  return owner->due->len >= owner->wanted_due;
}

static gboolean
gave_up (gpointer data)
{
  Owner *owner = data;

  return owner->gave_up > 0;
}

static gboolean
is_gone (gpointer data)
{
  return *(gpointer *)data == NULL;
}

static void
wait_for_due (Owner *owner, guint count, guint timeout_ms)
{
  owner->wanted_due = count;
  g_assert_true (run_until (enough_due, owner, timeout_ms + scaled_ms (SLACK_MS)));
}

static void
test_numbers (void)
{
  Owner owner;

  owner_init (&owner, GIVE_UP_MS, ATTEMPT_MS, RETRY_MS);
  g_assert_cmpuint (ph_reconnection_get_attempt (owner.reconnection), ==, 1);
  g_assert_cmpuint (ph_reconnection_get_peer_attempt (owner.reconnection), ==, 0);
  g_assert_cmpuint (ph_reconnection_next_attempt (owner.reconnection), ==, 2);
  g_assert_false (ph_reconnection_is_active (owner.reconnection));

  /* The peer restarted first, twice: the next attempt follows it. */
  ph_reconnection_set_peer_attempt (owner.reconnection, 5);
  g_assert_cmpuint (ph_reconnection_next_attempt (owner.reconnection), ==, 6);
  ph_reconnection_set_peer_attempt (owner.reconnection, 3);
  g_assert_cmpuint (ph_reconnection_get_peer_attempt (owner.reconnection), ==, 5);
  g_assert_cmpuint (ph_reconnection_next_attempt (owner.reconnection), ==, 6);

  /* Ours ahead again. */
  ph_reconnection_start_attempt (owner.reconnection, 8);
  g_assert_cmpuint (ph_reconnection_get_attempt (owner.reconnection), ==, 8);
  g_assert_cmpuint (ph_reconnection_next_attempt (owner.reconnection), ==, 9);

  /* Outside a reconnection nothing is timed. */
  ph_reconnection_retry_soon (owner.reconnection);
  run_for (2 * ATTEMPT_MS);
  g_assert_cmpuint (owner.due->len, ==, 0);
  g_assert_cmpuint (owner.gave_up, ==, 0);

  owner_clear (&owner);
}

static void
test_attempt_due (void)
{
  Owner owner;
  gint64 started;

  owner_init (&owner, scaled_ms (20 * SLACK_MS), ATTEMPT_MS, RETRY_MS);
  ph_reconnection_begin (owner.reconnection);
  g_assert_true (ph_reconnection_is_active (owner.reconnection));

  started = g_get_monotonic_time ();
  ph_reconnection_start_attempt (owner.reconnection,
                                 ph_reconnection_next_attempt (owner.reconnection));
  g_assert_cmpuint (ph_reconnection_get_attempt (owner.reconnection), ==, 2);
  wait_for_due (&owner, 1, ATTEMPT_MS);
  g_assert_cmpuint (due (&owner, 0), ==, 3);
  g_assert_cmpint (due_time (&owner, 0) - started, >=, ATTEMPT_MS * 1000);
  g_assert_cmpint (due_time (&owner, 0) - started, <, (ATTEMPT_MS + scaled_ms (SLACK_MS)) * 1000);
  /* One per attempt: the owner has not begun the next one. */
  run_for (2 * ATTEMPT_MS);
  g_assert_cmpuint (owner.due->len, ==, 1);

  /* The peer described a later attempt meanwhile. */
  ph_reconnection_start_attempt (owner.reconnection, 3);
  ph_reconnection_set_peer_attempt (owner.reconnection, 7);
  wait_for_due (&owner, 2, ATTEMPT_MS);
  g_assert_cmpuint (due (&owner, 1), ==, 8);
  g_assert_true (ph_reconnection_is_active (owner.reconnection));
  g_assert_cmpuint (owner.gave_up, ==, 0);

  owner_clear (&owner);
}

static void
test_new_attempt_restarts_wait (void)
{
  Owner owner;
  /* The second attempt starts half a timeout after the first: the first
   * one's timer, still running, would fire that much sooner. */
  guint attempt_ms = scaled_ms (4 * ATTEMPT_MS);
  gint64 started;

  owner_init (&owner, scaled_ms (20 * SLACK_MS), attempt_ms, RETRY_MS);
  ph_reconnection_begin (owner.reconnection);
  ph_reconnection_start_attempt (owner.reconnection, 2);
  run_for (attempt_ms / 2);
  g_assert_cmpuint (owner.due->len, ==, 0);

  /* The peer's attempt, say. */
  started = g_get_monotonic_time ();
  ph_reconnection_start_attempt (owner.reconnection, 3);
  wait_for_due (&owner, 1, attempt_ms);
  g_assert_cmpuint (due (&owner, 0), ==, 4);
  g_assert_cmpint (due_time (&owner, 0) - started, >=, (gint64)attempt_ms * 1000);

  owner_clear (&owner);
}

static void
test_retry_soon (void)
{
  Owner owner;
  /* Far from the retry: only retry_soon can make it come in time. */
  guint attempt_ms = scaled_ms (10 * SLACK_MS);
  gint64 started;

  owner_init (&owner, scaled_ms (20 * SLACK_MS), attempt_ms, RETRY_MS);
  ph_reconnection_begin (owner.reconnection);
  ph_reconnection_start_attempt (owner.reconnection, 2);
  run_for (RETRY_MS);

  started = g_get_monotonic_time ();
  ph_reconnection_retry_soon (owner.reconnection);
  wait_for_due (&owner, 1, RETRY_MS);
  g_assert_cmpuint (due (&owner, 0), ==, 3);
  g_assert_cmpint (due_time (&owner, 0) - started, >=, RETRY_MS * 1000);
  g_assert_cmpint (due_time (&owner, 0) - started, <, (gint64)attempt_ms * 1000);

  owner_clear (&owner);
}

static void
test_connected (void)
{
  Owner owner;
  gint64 started;

  owner_init (&owner, GIVE_UP_MS, ATTEMPT_MS, RETRY_MS);
  owner.follow = TRUE;
  ph_reconnection_begin (owner.reconnection);
  ph_reconnection_start_attempt (owner.reconnection, 2);
  ph_reconnection_connected (owner.reconnection);
  g_assert_false (ph_reconnection_is_active (owner.reconnection));

  run_for (GIVE_UP_MS + 2 * ATTEMPT_MS);
  g_assert_cmpuint (owner.gave_up, ==, 0);
  g_assert_cmpuint (owner.due->len, ==, 0);
  g_assert_cmpuint (ph_reconnection_get_attempt (owner.reconnection), ==, 2);

  /* The path breaks again later: a whole new deadline. */
  started = g_get_monotonic_time ();
  ph_reconnection_begin (owner.reconnection);
  ph_reconnection_start_attempt (owner.reconnection, 3);
  g_assert_true (run_until (gave_up, &owner, GIVE_UP_MS + scaled_ms (SLACK_MS)));
  g_assert_cmpint (owner.gave_up_time - started, >=, GIVE_UP_MS * 1000);

  owner_clear (&owner);
}

static void
test_gave_up (void)
{
  Owner owner;
  gint64 started = g_get_monotonic_time ();
  guint attempts;

  owner_init (&owner, GIVE_UP_MS, ATTEMPT_MS, RETRY_MS);
  owner.follow = TRUE;
  ph_reconnection_begin (owner.reconnection);
  ph_reconnection_start_attempt (owner.reconnection, 2);

  g_assert_true (run_until (gave_up, &owner, GIVE_UP_MS + scaled_ms (SLACK_MS)));
  g_assert_cmpint (owner.gave_up_time - started, >=, GIVE_UP_MS * 1000);
  g_assert_cmpint (owner.gave_up_time - started, <, (GIVE_UP_MS + scaled_ms (SLACK_MS)) * 1000);
  g_assert_false (ph_reconnection_is_active (owner.reconnection));
  /* Attempts went on until then, each after its timeout, and no more. */
  attempts = owner.due->len;
  g_assert_cmpuint (attempts, <=, GIVE_UP_MS / ATTEMPT_MS);
  for (guint i = 0; i < attempts; i++)
    g_assert_cmpuint (due (&owner, i), ==, 3 + i);
  run_for (2 * ATTEMPT_MS);
  g_assert_cmpuint (owner.due->len, ==, attempts);
  g_assert_cmpuint (owner.gave_up, ==, 1);

  owner_clear (&owner);
}

static void
test_begin_twice (void)
{
  Owner owner;
  /* The second begin comes half a deadline after the first: a deadline
   * started again would give up that much later. */
  guint give_up_ms = scaled_ms (GIVE_UP_MS);
  gint64 started = g_get_monotonic_time ();

  owner_init (&owner, give_up_ms, ATTEMPT_MS, RETRY_MS);
  owner.follow = TRUE;
  ph_reconnection_begin (owner.reconnection);
  ph_reconnection_start_attempt (owner.reconnection, 2);
  run_for (give_up_ms / 2);
  g_assert_cmpuint (owner.gave_up, ==, 0);
  ph_reconnection_begin (owner.reconnection);

  g_assert_true (run_until (gave_up, &owner, give_up_ms + scaled_ms (SLACK_MS)));
  g_assert_cmpint (owner.gave_up_time - started, >=, (gint64)give_up_ms * 1000);
  g_assert_cmpint (owner.gave_up_time - started, <, (gint64)give_up_ms * 3 / 2 * 1000);
  g_assert_cmpuint (owner.gave_up, ==, 1);

  owner_clear (&owner);
}

static void
test_stop (void)
{
  Owner owner;

  owner_init (&owner, GIVE_UP_MS, ATTEMPT_MS, RETRY_MS);
  owner.follow = TRUE;
  ph_reconnection_begin (owner.reconnection);
  ph_reconnection_start_attempt (owner.reconnection, 2);
  ph_reconnection_set_peer_attempt (owner.reconnection, 4);
  ph_reconnection_retry_soon (owner.reconnection);

  ph_reconnection_stop (owner.reconnection);
  g_assert_false (ph_reconnection_is_active (owner.reconnection));
  run_for (GIVE_UP_MS + 2 * ATTEMPT_MS);
  g_assert_cmpuint (owner.due->len, ==, 0);
  g_assert_cmpuint (owner.gave_up, ==, 0);
  /* The numbers are the peer's to compare with, later too. */
  g_assert_cmpuint (ph_reconnection_get_attempt (owner.reconnection), ==, 2);
  g_assert_cmpuint (ph_reconnection_get_peer_attempt (owner.reconnection), ==, 4);

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
  PhReconnection *reconnection = ph_reconnection_new (RETRY_MS, ATTEMPT_MS, RETRY_MS);

  ph_reconnection_begin (reconnection);
  ph_reconnection_start_attempt (reconnection, 2);
  ph_reconnection_retry_soon (reconnection);
  g_signal_connect (reconnection, "attempt-due", G_CALLBACK (fail_cb), NULL);
  g_signal_connect (reconnection, "gave-up", G_CALLBACK (fail_cb), NULL);
  g_assert_finalize_object (reconnection);
  run_for (2 * ATTEMPT_MS);
}

static void
unref_cb (PhReconnection *reconnection)
{
  g_object_unref (reconnection);
}

/* An owner may drop the reconnection from its own signal. */
static void
test_unref_in_handler (void)
{
  const char *signals[] = { "attempt-due", "gave-up" };

  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    {
      PhReconnection *reconnection = ph_reconnection_new (ATTEMPT_MS, RETRY_MS, RETRY_MS);
      PhReconnection *watch = reconnection;

      g_object_add_weak_pointer (G_OBJECT (reconnection), (gpointer *)&watch);
      g_signal_connect (reconnection, signals[i], G_CALLBACK (unref_cb), NULL);
      ph_reconnection_begin (reconnection);
      /* Without an attempt only the deadline fires. */
      if (i == 0)
        ph_reconnection_start_attempt (reconnection, 2);
      g_assert_true (run_until (is_gone, &watch, ATTEMPT_MS + scaled_ms (SLACK_MS)));
      run_for (2 * RETRY_MS);
    }
}

int
main (int argc, char *argv[])
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  int status;

  g_test_init (&argc, &argv, NULL);

  /* The timers belong to the thread-default context: the tests turn only
   * this one, never the global default. */
  g_main_context_push_thread_default (context);

  g_test_add_func ("/reconnection/numbers", test_numbers);
  g_test_add_func ("/reconnection/attempt-due", test_attempt_due);
  g_test_add_func ("/reconnection/new-attempt-restarts-wait", test_new_attempt_restarts_wait);
  g_test_add_func ("/reconnection/retry-soon", test_retry_soon);
  g_test_add_func ("/reconnection/connected", test_connected);
  g_test_add_func ("/reconnection/gave-up", test_gave_up);
  g_test_add_func ("/reconnection/begin-twice", test_begin_twice);
  g_test_add_func ("/reconnection/stop", test_stop);
  g_test_add_func ("/reconnection/finalize-pending", test_finalize_pending);
  g_test_add_func ("/reconnection/unref-in-handler", test_unref_in_handler);

  status = g_test_run ();
  g_main_context_pop_thread_default (context);
  return status;
}
