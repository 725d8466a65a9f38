/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-signaling"

#include "config.h"

#include <string.h>

#include "ph-burned-codes.h"
#include "ph-code.h"
#include "ph-error.h"
#include "ph-mailbox-batch.h"
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
  PhRendezvousClient *client; /* the signaling's: it holds this side's secret */
  char *code;
  gboolean paired;
  GPtrArray *descriptions; /* names in the descriptions received, in order */
  GPtrArray *candidates;   /* candidates received, in order */
  char *left_reason;       /* from the peer's bye, or NULL */
  gboolean left_sealed;
  gboolean cleared;
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
peer_left_cb (PhSignaling *signaling, const char *reason, gboolean sealed, Side *side)
{
  g_assert_null (side->left_reason);
  side->left_reason = g_strdup (reason);
  side->left_sealed = sealed;
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
  side->client = ph_rendezvous_client_new (url, NULL);
  side->signaling = ph_signaling_new (side->client);
  side->descriptions = g_ptr_array_new_with_free_func (g_free);
  side->candidates = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (side->signaling, "code-ready", G_CALLBACK (code_ready_cb), side);
  g_signal_connect (side->signaling, "paired", G_CALLBACK (paired_cb), side);
  g_signal_connect (side->signaling, "description", G_CALLBACK (description_cb), side);
  g_signal_connect (side->signaling, "candidate", G_CALLBACK (candidate_cb), side);
  g_signal_connect (side->signaling, "end-of-candidates", G_CALLBACK (end_of_candidates_cb), side);
  g_signal_connect (side->signaling, "peer-left", G_CALLBACK (peer_left_cb), side);
  g_signal_connect (side->signaling, "failed", G_CALLBACK (failed_cb), side);
}

static void
left_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  gboolean *left = user_data;

  ph_signaling_leave_finish (PH_SIGNALING (source), result);
  *left = TRUE;
}

/* Leaves with @reason in the bye, as a conversation that gave up does. */
static void
side_leave (Side *side, const char *reason)
{
  gboolean left = FALSE;

  ph_signaling_leave_async (side->signaling, reason, left_cb, &left);
  g_assert_true (ph_test_wait_for_flag (&left, TIMEOUT_MS));
  g_assert_finalize_object (side->signaling);
  g_clear_object (&side->client);
  g_ptr_array_unref (side->descriptions);
  g_ptr_array_unref (side->candidates);
  g_free (side->code);
  g_free (side->left_reason);
  g_clear_error (&side->error);
  side->cleared = TRUE;
}

static void
side_clear (Side *side)
{
  if (!side->cleared)
    side_leave (side, NULL);
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

/* The mailbox as the host reads it (only its sides may): "phase side" for
 * each message; waits up to @wait_seconds for a first one. */
static GPtrArray *
read_mailbox (Fixture *fixture, const char *nameplate, guint wait_seconds)
{
  PhRendezvousClient *reader = fixture->host.client;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  GPtrArray *read = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;

  ph_rendezvous_client_fetch_async (reader, nameplate, 0, wait_seconds, NULL, ph_test_result_cb,
                                    &result);
  ph_test_wait_for_result (&result, TIMEOUT_MS);
  messages = ph_rendezvous_client_fetch_finish (reader, result, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < messages->len; i++)
    {
      PhMailboxMessage *message = g_ptr_array_index (messages, i);
      g_autoptr (GPtrArray) batch = NULL;

      if (!g_str_equal (message->phase, PH_MAILBOX_BATCH_PHASE))
        {
          g_ptr_array_add (read, g_strdup_printf ("%s %s", message->phase, message->side));
          continue;
        }
      /* What a side posted at once: read as the messages it holds. */
      batch = ph_mailbox_batch_decode (message, &error);
      g_assert_no_error (error);
      for (guint j = 0; j < batch->len; j++)
        {
          PhMailboxMessage *inner = g_ptr_array_index (batch, j);

          g_ptr_array_add (read, g_strdup_printf ("%s %s", inner->phase, inner->side));
        }
    }
  return read;
}

static char *
nameplate_of (const char *code)
{
  g_autofree char *nameplate = NULL;

  g_assert_true (ph_code_parse (code, &nameplate, NULL, NULL));
  return g_steal_pointer (&nameplate);
}

/* The side id of the message at @index in what read_mailbox() read. */
static const char *
side_of (GPtrArray *read, guint index)
{
  const char *entry = g_ptr_array_index (read, index);

  return strchr (entry, ' ') + 1;
}

/* The joiner proves first that it knows the code; the host answers only
 * then, so a guess cannot learn from the host whether it was right. */
static void
test_joiner_confirms_first (Fixture *fixture, gconstpointer data)
{
  g_autofree char *nameplate = NULL;
  g_autoptr (GPtrArray) read = NULL;
  g_autofree char *host_side = NULL;
  g_autofree char *joiner_side = NULL;
  g_autofree char *joiner_confirm = NULL;
  g_autofree char *host_confirm = NULL;

  wait_for_code (fixture);
  nameplate = nameplate_of (fixture->host.code);
  /* The joiner's PAKE message may overtake the host's: waiting for the
   * host's tells the two sides apart. */
  g_ptr_array_unref (read_mailbox (fixture, nameplate, 5));
  ph_signaling_join (fixture->joiner.signaling, fixture->host.code);
  send_description (&fixture->host, "Alice", TRUE);
  ph_signaling_send_candidate (fixture->host.signaling, 1, "candidate:a1");
  ph_signaling_send_candidate (fixture->host.signaling, 1, "candidate:a2");
  exchange_and_check (fixture);

  read = read_mailbox (fixture, nameplate, 0);
  g_assert_cmpuint (read->len, >=, 4);
  g_assert_true (g_str_has_prefix (g_ptr_array_index (read, 0), "pake "));
  g_assert_true (g_str_has_prefix (g_ptr_array_index (read, 1), "pake "));
  host_side = g_strdup (side_of (read, 0));
  joiner_side = g_strdup (side_of (read, 1));
  g_assert_cmpstr (host_side, !=, joiner_side);
  joiner_confirm = g_strdup_printf ("confirm %s", joiner_side);
  host_confirm = g_strdup_printf ("confirm %s", host_side);
  g_assert_cmpstr (g_ptr_array_index (read, 2), ==, joiner_confirm);
  g_assert_cmpstr (g_ptr_array_index (read, 3), ==, host_confirm);
}

/* The store kept the host's PAKE message but the answer to its post was
 * lost (Redis went down in between), so the host posted the same bytes
 * again: the joiner takes the second for the copy it is, not for a second
 * key exchange, and the chat pairs. */
static void
test_post_repeated_after_a_lost_answer (Fixture *fixture, gconstpointer data)
{
  g_autofree char *nameplate = NULL;
  g_autoptr (GAsyncResult) fetched = NULL;
  g_autoptr (GAsyncResult) posted = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  g_autoptr (GError) error = NULL;
  PhMailboxMessage *pake;

  wait_for_code (fixture);
  nameplate = nameplate_of (fixture->host.code);
  ph_rendezvous_client_fetch_async (fixture->host.client, nameplate, 0, 5, NULL, ph_test_result_cb,
                                    &fetched);
  ph_test_wait_for_result (&fetched, TIMEOUT_MS);
  messages = ph_rendezvous_client_fetch_finish (fixture->host.client, fetched, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (messages->len, ==, 1);
  pake = g_ptr_array_index (messages, 0);
  g_assert_cmpstr (pake->phase, ==, "pake");
  ph_rendezvous_client_post_async (fixture->host.client, nameplate, "pake", pake->body, NULL,
                                   ph_test_result_cb, &posted);
  ph_test_wait_for_result (&posted, TIMEOUT_MS);
  g_assert_true (ph_rendezvous_client_post_finish (fixture->host.client, posted, NULL, &error));
  g_assert_no_error (error);

  ph_signaling_join (fixture->joiner.signaling, fixture->host.code);
  send_description (&fixture->host, "Alice", TRUE);
  ph_signaling_send_candidate (fixture->host.signaling, 1, "candidate:a1");
  ph_signaling_send_candidate (fixture->host.signaling, 1, "candidate:a2");
  exchange_and_check (fixture);
}

static gboolean
both_failed (gpointer data)
{
  Fixture *fixture = data;

  return fixture->host.error != NULL && fixture->joiner.error != NULL;
}

static char *
code_with_other_second_word (const char *code)
{
  g_auto (GStrv) parts = g_strsplit (code, "-", 3);
  const char *const *second = ph_code_get_second_words ();

  return g_strdup_printf ("%s-%s-%s", parts[0], parts[1],
                          g_str_equal (parts[2], second[0]) ? second[1] : second[0]);
}

/* Both sides learn at once that the codes differ, and the joiner will not
 * try the code it typed again; the host's own code was never typed here. */
static void
test_wrong_code_burns_the_typed_code (Fixture *fixture, gconstpointer data)
{
  g_autofree char *wrong = NULL;
  g_autoptr (GError) error = NULL;
  gint64 now;

  wait_for_code (fixture);
  wrong = code_with_other_second_word (fixture->host.code);
  ph_signaling_join (fixture->joiner.signaling, wrong);
  g_assert_true (ph_test_wait_until (both_failed, fixture, TIMEOUT_MS));
  g_assert_error (fixture->host.error, PH_ERROR, PH_ERROR_WRONG_CODE);
  g_assert_error (fixture->joiner.error, PH_ERROR, PH_ERROR_WRONG_CODE);
  g_assert_false (fixture->host.paired);

  now = g_get_real_time () / G_USEC_PER_SEC;
  g_assert_false (ph_burned_codes_check (fixture->url, wrong, now, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_BURNED_CODE);
  g_clear_error (&error);
  g_assert_true (ph_burned_codes_check (fixture->url, fixture->host.code, now, &error));
  g_assert_no_error (error);
}

static gboolean
has_left (gpointer data)
{
  return ((Side *)data)->left_reason != NULL || ((Side *)data)->error != NULL;
}

/* Once the key is confirmed a bye is sealed, and its reason is the peer's
 * own: a peer that found no path may say so. */
static void
test_sealed_bye_carries_its_reason (Fixture *fixture, gconstpointer data)
{
  wait_for_code (fixture);
  ph_signaling_join (fixture->joiner.signaling, fixture->host.code);
  send_description (&fixture->host, "Alice", TRUE);
  ph_signaling_send_candidate (fixture->host.signaling, 1, "candidate:a1");
  ph_signaling_send_candidate (fixture->host.signaling, 1, "candidate:a2");
  exchange_and_check (fixture);

  side_leave (&fixture->host, "ice-failed");
  g_assert_true (ph_test_wait_until (has_left, &fixture->joiner, TIMEOUT_MS));
  g_assert_no_error (fixture->joiner.error);
  g_assert_cmpstr (fixture->joiner.left_reason, ==, "ice-failed");
  g_assert_true (fixture->joiner.left_sealed);
  g_assert_cmpuint (ph_signaling_get_ignored_count (fixture->joiner.signaling), ==, 0);
}

/* Before the peer's PAKE message nobody has tried the code, and nobody
 * can tell who posted a bye: here a stranger who knows the number took
 * the joiner's seat first, as anyone may. It says only that the peer
 * left, whatever reason it gives. */
static void
test_bye_before_the_key_only_says_left (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhRendezvousClient) poster = ph_rendezvous_client_new (fixture->url, NULL);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GBytes) reason = g_bytes_new_static ("ice-failed", 10);
  g_autofree char *nameplate = NULL;
  g_autoptr (GError) error = NULL;

  wait_for_code (fixture);
  nameplate = nameplate_of (fixture->host.code);
  ph_rendezvous_client_join_async (poster, nameplate, NULL, NULL, NULL, ph_test_result_cb, &result);
  ph_test_wait_for_result (&result, TIMEOUT_MS);
  g_assert_true (ph_rendezvous_client_join_finish (poster, result, &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  ph_rendezvous_client_post_async (poster, nameplate, "bye", reason, NULL, ph_test_result_cb,
                                   &result);
  ph_test_wait_for_result (&result, TIMEOUT_MS);
  g_assert_true (ph_rendezvous_client_post_finish (poster, result, NULL, &error));
  g_assert_no_error (error);

  g_assert_true (ph_test_wait_until (has_left, &fixture->host, TIMEOUT_MS));
  g_assert_no_error (fixture->host.error);
  g_assert_false (fixture->host.left_sealed);
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
  ph_test_add_with_hooks ("/signaling/server-stays-down", Fixture, NULL, fixture_set_up,
                          test_server_stays_down, fixture_tear_down);
  g_test_add ("/signaling/joiner-confirms-first", Fixture, NULL, fixture_set_up,
              test_joiner_confirms_first, fixture_tear_down);
  g_test_add ("/signaling/post-repeated-after-a-lost-answer", Fixture, NULL, fixture_set_up,
              test_post_repeated_after_a_lost_answer, fixture_tear_down);
  g_test_add ("/signaling/wrong-code-burns-the-typed-code", Fixture, NULL, fixture_set_up,
              test_wrong_code_burns_the_typed_code, fixture_tear_down);
  g_test_add ("/signaling/sealed-bye-carries-its-reason", Fixture, NULL, fixture_set_up,
              test_sealed_bye_carries_its_reason, fixture_tear_down);
  g_test_add ("/signaling/bye-before-the-key-only-says-left", Fixture, NULL, fixture_set_up,
              test_bye_before_the_key_only_says_left, fixture_tear_down);

  return g_test_run ();
}
