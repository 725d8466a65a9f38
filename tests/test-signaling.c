/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-signaling"

#include "config.h"

#include "ph-error.h"
#include "ph-rendezvous-client.h"
#include "ph-signaling.h"
#include "ph-test-dead-port.h"
#include "ph-test-needs-hooks.h"
#include "ph-test-server.h"
#include "ph-test-wait.h"

/* Two PhSignalings meeting through an in-process rendezvous server that
 * the tests stop and start again on the same port, as a restarted server
 * would be: every connection dropped, every mailbox forgotten. */

#define TIMEOUT_MS ph_test_scaled_ms (15000)
#define FINGERPRINT                                                                                \
  "3A:9C:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:"     \
  "CC:F0"

typedef struct
{
  PhSignaling *signaling;
  char *code;
  gboolean paired;
  GPtrArray *descriptions; /* names in the descriptions received, in order */
  GPtrArray *candidates;   /* candidates received, in order */
  GError *error;
} Side;

typedef struct
{
  PhRendezvousServer *server;
  guint port;
  char *url;
  Side host;
  Side joiner;
} Fixture;

static void
code_ready_cb (PhSignaling *signaling, const char *code, Side *side)
{
  g_assert_null (side->code);
  side->code = g_strdup (code);
}

static void
paired_cb (PhSignaling *signaling, Side *side)
{
  g_assert_false (side->paired);
  side->paired = TRUE;
}

static void
description_cb (PhSignaling *signaling, const PhSessionDescription *description, Side *side)
{
  g_ptr_array_add (side->descriptions, g_strdup (description->name));
}

/* Candidates of the first attempt are kept as they came, later ones as
 * "N candidate", and the ends as "N end". */
static void
candidate_cb (PhSignaling *signaling, guint64 attempt, const char *candidate, Side *side)
{
  g_ptr_array_add (side->candidates,
                   attempt == 1 ? g_strdup (candidate)
                                : g_strdup_printf ("%" G_GUINT64_FORMAT " %s", attempt, candidate));
}

static void
end_of_candidates_cb (PhSignaling *signaling, guint64 attempt, Side *side)
{
  g_ptr_array_add (side->candidates, g_strdup_printf ("%" G_GUINT64_FORMAT " end", attempt));
}

static void
failed_cb (PhSignaling *signaling, const GError *error, Side *side)
{
  g_assert_null (side->error);
  side->error = g_error_copy (error);
}

static void
side_init (Side *side, const char *url)
{
  g_autoptr (PhRendezvousClient) client = ph_rendezvous_client_new (url, NULL);

  side->signaling = ph_signaling_new (client);
  side->descriptions = g_ptr_array_new_with_free_func (g_free);
  side->candidates = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (side->signaling, "code-ready", G_CALLBACK (code_ready_cb), side);
  g_signal_connect (side->signaling, "paired", G_CALLBACK (paired_cb), side);
  g_signal_connect (side->signaling, "description", G_CALLBACK (description_cb), side);
  g_signal_connect (side->signaling, "candidate", G_CALLBACK (candidate_cb), side);
  g_signal_connect (side->signaling, "end-of-candidates", G_CALLBACK (end_of_candidates_cb), side);
  g_signal_connect (side->signaling, "failed", G_CALLBACK (failed_cb), side);
}

static void
left_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  gboolean *left = user_data;

  ph_signaling_leave_finish (PH_SIGNALING (source), result);
  *left = TRUE;
}

static void
side_clear (Side *side)
{
  gboolean left = FALSE;

  ph_signaling_leave_async (side->signaling, NULL, left_cb, &left);
  g_assert_true (ph_test_wait_for_flag (&left, TIMEOUT_MS));
  g_assert_finalize_object (side->signaling);
  g_ptr_array_unref (side->descriptions);
  g_ptr_array_unref (side->candidates);
  g_free (side->code);
  g_clear_error (&side->error);
}

/* On a free port the first time, then on the same one again. */
static void
server_start (Fixture *fixture)
{
  fixture->server = ph_test_server_start (fixture->port, NULL);
  fixture->port = ph_rendezvous_server_get_port (fixture->server);
}

static void
server_stop (Fixture *fixture)
{
  g_assert_finalize_object (g_steal_pointer (&fixture->server));
}

/* The server goes away: requests to its port find it gone. */
static PhTestDeadPort *
outage_begin (Fixture *fixture)
{
  server_stop (fixture);
  return ph_test_dead_port_new ((guint16)fixture->port);
}

/* Once two requests (the host's and the joiner's, say) found the server
 * away, a new one starts on the same port. */
static void
outage_end (Fixture *fixture, PhTestDeadPort *outage)
{
  g_assert_true (ph_test_dead_port_wait (outage, 2, TIMEOUT_MS));
  ph_test_dead_port_free (outage);
  server_start (fixture);
}

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  server_start (fixture);
  fixture->url = ph_rendezvous_server_get_url (fixture->server);
  side_init (&fixture->host, fixture->url);
  side_init (&fixture->joiner, fixture->url);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  side_clear (&fixture->host);
  side_clear (&fixture->joiner);
  if (fixture->server != NULL)
    server_stop (fixture);
  g_free (fixture->url);
}

static void
send_description (Side *side, const char *name, gboolean host)
{
  g_autoptr (PhSessionDescription) description = ph_session_description_new ();

  description->session_id = 42;
  description->session_version = 1;
  description->name = g_strdup (name);
  description->fingerprint = g_strdup (FINGERPRINT);
  description->setup = g_strdup (host ? "passive" : "active");
  description->ice_ufrag = g_strdup ("6Dh2");
  description->ice_pwd = g_strdup ("Zp3QxYk8mN2bV7cL1rT9wE4s");
  ph_signaling_send_description (side->signaling, description);
}

static gboolean
has_code_or_error (gpointer data)
{
  Side *side = data;

  return side->code != NULL || side->error != NULL;
}

static gboolean
both_paired_or_error (gpointer data)
{
  Fixture *fixture = data;

  return (fixture->host.paired && fixture->joiner.paired) || fixture->host.error != NULL
         || fixture->joiner.error != NULL;
}

typedef struct
{
  Side *side;
  guint descriptions;
  guint candidates;
} Wanted;

static gboolean
received_or_error (gpointer data)
{
  Wanted *wanted = data;

  return (wanted->side->descriptions->len >= wanted->descriptions
          && wanted->side->candidates->len >= wanted->candidates)
         || wanted->side->error != NULL;
}

static void
wait_for_code (Fixture *fixture)
{
  ph_signaling_host (fixture->host.signaling);
  g_assert_true (ph_test_wait_until (has_code_or_error, &fixture->host, TIMEOUT_MS));
  g_assert_no_error (fixture->host.error);
}

/* Everything each side sent arrives once, in order. */
static void
exchange_and_check (Fixture *fixture)
{
  Wanted host_wants = { &fixture->host, 1, 1 };
  Wanted joiner_wants = { &fixture->joiner, 1, 2 };

  g_assert_true (ph_test_wait_until (both_paired_or_error, fixture, TIMEOUT_MS));
  g_assert_no_error (fixture->host.error);
  g_assert_no_error (fixture->joiner.error);

  send_description (&fixture->joiner, "Bob", FALSE);
  ph_signaling_send_candidate (fixture->joiner.signaling, 1, "candidate:b");
  g_assert_true (ph_test_wait_until (received_or_error, &host_wants, TIMEOUT_MS));
  g_assert_true (ph_test_wait_until (received_or_error, &joiner_wants, TIMEOUT_MS));
  g_assert_no_error (fixture->host.error);
  g_assert_no_error (fixture->joiner.error);

  /* Late copies would have come with the answers that brought these. */
  g_assert_cmpuint (fixture->host.descriptions->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (fixture->host.descriptions, 0), ==, "Bob");
  g_assert_cmpuint (fixture->host.candidates->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (fixture->host.candidates, 0), ==, "candidate:b");
  g_assert_cmpuint (fixture->joiner.descriptions->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (fixture->joiner.descriptions, 0), ==, "Alice");
  g_assert_cmpuint (fixture->joiner.candidates->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (fixture->joiner.candidates, 0), ==, "candidate:a1");
  g_assert_cmpstr (g_ptr_array_index (fixture->joiner.candidates, 1), ==, "candidate:a2");
}

/* Without trouble: the baseline the restarts are compared with. */
static void
test_meet (Fixture *fixture, gconstpointer data)
{
  wait_for_code (fixture);
  ph_signaling_join (fixture->joiner.signaling, fixture->host.code);
  send_description (&fixture->host, "Alice", TRUE);
  ph_signaling_send_candidate (fixture->host.signaling, 1, "candidate:a1");
  ph_signaling_send_candidate (fixture->host.signaling, 1, "candidate:a2");
  exchange_and_check (fixture);
}

/* A reconnection trickles its candidates too: each says which attempt it
 * belongs to, also when candidates of two attempts are queued together. */
static void
test_candidates_carry_their_attempt (Fixture *fixture, gconstpointer data)
{
  Wanted joiner_wants = { &fixture->joiner, 1, 4 };
  GPtrArray *received = fixture->joiner.candidates;

  wait_for_code (fixture);
  ph_signaling_join (fixture->joiner.signaling, fixture->host.code);
  send_description (&fixture->host, "Alice", TRUE);
  ph_signaling_send_candidate (fixture->host.signaling, 1, "candidate:a1");
  ph_signaling_send_candidate (fixture->host.signaling, 2, "candidate:c2");
  ph_signaling_send_end_of_candidates (fixture->host.signaling, 2);
  ph_signaling_send_candidate (fixture->host.signaling, 1, "candidate:a2");

  g_assert_true (ph_test_wait_until (received_or_error, &joiner_wants, TIMEOUT_MS));
  g_assert_no_error (fixture->joiner.error);
  g_assert_cmpuint (received->len, ==, 4);
  g_assert_cmpstr (g_ptr_array_index (received, 0), ==, "candidate:a1");
  g_assert_cmpstr (g_ptr_array_index (received, 1), ==, "2 candidate:c2");
  g_assert_cmpstr (g_ptr_array_index (received, 2), ==, "2 end");
  g_assert_cmpstr (g_ptr_array_index (received, 3), ==, "candidate:a2");

  /* One more once everything before it has been posted, as a late STUN or
   * TURN answer would come. */
  joiner_wants.candidates = 5;
  ph_signaling_send_candidate (fixture->host.signaling, 2, "candidate:c2-late");
  g_assert_true (ph_test_wait_until (received_or_error, &joiner_wants, TIMEOUT_MS));
  g_assert_no_error (fixture->joiner.error);
  g_assert_cmpstr (g_ptr_array_index (received, 4), ==, "2 candidate:c2-late");
}

/* The server restarts while the host waits with its code shown, and the
 * joiner types the code while it is away: the host claims the same number
 * again, the joiner keeps asking until it is there, and they meet. */
static void
test_restart_while_host_waits (Fixture *fixture, gconstpointer data)
{
  g_autofree char *code = NULL;
  PhTestDeadPort *outage;

  wait_for_code (fixture);
  code = g_strdup (fixture->host.code);
  send_description (&fixture->host, "Alice", TRUE);
  ph_signaling_send_candidate (fixture->host.signaling, 1, "candidate:a1");
  ph_signaling_send_candidate (fixture->host.signaling, 1, "candidate:a2");

  outage = outage_begin (fixture);
  ph_signaling_join (fixture->joiner.signaling, code);
  outage_end (fixture, outage);
  exchange_and_check (fixture);
  g_assert_cmpstr (fixture->host.code, ==, code);
}

/* The server restarts after both sides paired, with descriptions and
 * candidates on their way: both get back into a mailbox under the same
 * number, post everything again, and each side sees every message once. */
static void
test_restart_after_pairing (Fixture *fixture, gconstpointer data)
{
  PhTestDeadPort *outage;

  wait_for_code (fixture);
  ph_signaling_join (fixture->joiner.signaling, fixture->host.code);
  g_assert_true (ph_test_wait_until (both_paired_or_error, fixture, TIMEOUT_MS));

  outage = outage_begin (fixture);
  send_description (&fixture->host, "Alice", TRUE);
  ph_signaling_send_candidate (fixture->host.signaling, 1, "candidate:a1");
  outage_end (fixture, outage);
  ph_signaling_send_candidate (fixture->host.signaling, 1, "candidate:a2");
  exchange_and_check (fixture);
}

static gboolean
has_error (gpointer data)
{
  return ((Side *)data)->error != NULL;
}

/* Back after a restart, the server gives the host's number to someone
 * else before the host could claim it again: the host is told to start
 * again rather than meeting a stranger there. */
static void
test_number_taken_after_restart (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhRendezvousClient) stranger = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autofree char *nameplate = NULL;
  g_autofree char *prefix = NULL;
  PhTestDeadPort *outage;

  wait_for_code (fixture);
  outage = outage_begin (fixture);
  /* The host's poll finds the server gone, and so does the stranger's
   * first try; the stranger's next one is the first the new server gets. */
  stranger = ph_rendezvous_client_new (fixture->url, NULL);
  ph_rendezvous_client_allocate_async (stranger, NULL, ph_test_result_cb, &result);
  ph_test_wait_for_result (&result, TIMEOUT_MS);
  g_clear_object (&result);
  outage_end (fixture, outage);
  ph_rendezvous_client_allocate_async (stranger, NULL, ph_test_result_cb, &result);
  ph_test_wait_for_result (&result, TIMEOUT_MS);
  nameplate = ph_rendezvous_client_allocate_finish (stranger, result, NULL, NULL);
  prefix = g_strconcat (nameplate, "-", NULL);
  g_assert_true (g_str_has_prefix (fixture->host.code, prefix));

  g_assert_true (ph_test_wait_until (has_error, &fixture->host, TIMEOUT_MS));
  g_assert_error (fixture->host.error, PH_ERROR, PH_ERROR_MAILBOX_FULL);
}

/* A server that stays away is given up on after a bounded wait, with the
 * error a person can act on. */
static void
test_server_stays_down (Fixture *fixture, gconstpointer data)
{
  gint64 start;

  wait_for_code (fixture);
  server_stop (fixture);
  start = g_get_monotonic_time ();
  g_assert_true (ph_test_wait_until (has_error, &fixture->host, TIMEOUT_MS));
  g_assert_error (fixture->host.error, PH_ERROR, PH_ERROR_RENDEZVOUS_UNREACHABLE);
  /* PINHOLE_TEST_RENDEZVOUS_PATIENCE_SECONDS=2 (main), plus one pause. */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 2 * G_USEC_PER_SEC);
  g_assert_cmpint (g_get_monotonic_time () - start, <, ph_test_scaled_seconds (6) * G_USEC_PER_SEC);
}

int
main (int argc, char *argv[])
{
  /* Set before any PhSignaling reads it; short, so giving up is quick. */
  g_setenv ("PINHOLE_TEST_RENDEZVOUS_PATIENCE_SECONDS", "2", TRUE);
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/signaling/meet", Fixture, NULL, fixture_set_up, test_meet, fixture_tear_down);
  g_test_add ("/signaling/candidates-carry-their-attempt", Fixture, NULL, fixture_set_up,
              test_candidates_carry_their_attempt, fixture_tear_down);
  g_test_add ("/signaling/restart-while-host-waits", Fixture, NULL, fixture_set_up,
              test_restart_while_host_waits, fixture_tear_down);
  g_test_add ("/signaling/restart-after-pairing", Fixture, NULL, fixture_set_up,
              test_restart_after_pairing, fixture_tear_down);
  g_test_add ("/signaling/number-taken-after-restart", Fixture, NULL, fixture_set_up,
              test_number_taken_after_restart, fixture_tear_down);
  ph_test_add_with_hooks ("/signaling/server-stays-down", Fixture, NULL, fixture_set_up, test_server_stays_down,
              fixture_tear_down);

  return g_test_run ();
}
