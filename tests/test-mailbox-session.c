/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-mailbox-session"

#include "config.h"

#include <signal.h>
#include <string.h>

#include <libsoup/soup.h>

#include "ph-error.h"
#include "ph-mailbox-batch.h"
#include "ph-mailbox-session.h"
#include "ph-rendezvous-client.h"
#include "ph-test-dead-port.h"
#include "ph-test-needs-hooks.h"
#include "ph-test-process.h"
#include "ph-test-programs.h"
#include "ph-test-wait.h"

/* Two PhMailboxSessions, a host and a joiner, meeting in a mailbox of a
 * real pinhole-rendezvous process, which the tests kill and start again
 * on the same port: every connection dropped, every mailbox forgotten. */

#define TIMEOUT_MS 15000
#define SHORT_PATIENCE "2"
/* Beyond the short patience and one more pause before giving up. */
#define OUTLAST_PATIENCE_MS 4500

typedef struct
{
  PhMailboxSession *session;
  char *nameplate;     /* host: as allocated */
  GPtrArray *received; /* "phase:body" of each message, in order */
  GError *error;
  guint troubles;   /* times "server-trouble" said TRUE */
  gboolean trouble; /* what it said last */
} Side;

typedef struct
{
  PhTestProcess *server;
  char *url;
  guint16 port;
  Side host;
  Side joiner;
} Fixture;

/* Valgrind slows the client, not the server or the clock. */
static guint
timeout_ms (void)
{
  return ph_test_scaled_ms (TIMEOUT_MS);
}

static void
allocated_cb (PhMailboxSession *session, const char *nameplate, Side *side)
{
  g_assert_null (side->nameplate);
  side->nameplate = g_strdup (nameplate);
}

static void
message_cb (PhMailboxSession *session, const PhMailboxMessage *message, Side *side)
{
  gsize length;
  const char *data = g_bytes_get_data (message->body, &length);

  g_assert_cmpstr (message->side, !=, ph_mailbox_session_get_side (session));
  g_ptr_array_add (side->received, g_strdup_printf ("%s:%.*s", message->phase, (int)length,
                                                    length > 0 ? data : ""));
}

static void
server_trouble_cb (PhMailboxSession *session, gboolean trouble, Side *side)
{
  if (trouble)
    side->troubles++;
  side->trouble = trouble;
}

static void
failed_cb (PhMailboxSession *session, const GError *error, Side *side)
{
  g_assert_null (side->error);
  side->error = g_error_copy (error);
}

static void
side_init (Side *side, const char *url)
{
  g_autoptr (PhRendezvousClient) client = ph_rendezvous_client_new (url, NULL);

  side->session = ph_mailbox_session_new (client);
  side->received = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (side->session, "allocated", G_CALLBACK (allocated_cb), side);
  g_signal_connect (side->session, "message", G_CALLBACK (message_cb), side);
  g_signal_connect (side->session, "server-trouble", G_CALLBACK (server_trouble_cb), side);
  g_signal_connect (side->session, "failed", G_CALLBACK (failed_cb), side);
}

static void
left_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ph_mailbox_session_leave_finish (PH_MAILBOX_SESSION (source), result);
  *(gboolean *)user_data = TRUE;
}

/* Leaving finishes once nothing is in flight: the session can go. */
static void
side_leave (Side *side, const char *last_phase, const char *last_text)
{
  g_autoptr (GBytes) last = last_text != NULL ? g_bytes_new (last_text, strlen (last_text)) : NULL;
  gboolean left = FALSE;

  ph_mailbox_session_leave_async (side->session, last_phase, last, left_cb, &left);
  g_assert_true (ph_test_wait_for_flag (&left, timeout_ms ()));
  g_assert_finalize_object (g_steal_pointer (&side->session));
}

static void
side_clear (Side *side)
{
  if (side->session != NULL)
    side_leave (side, NULL, NULL);
  g_ptr_array_unref (side->received);
  g_free (side->nameplate);
  g_clear_error (&side->error);
}

static void
server_start (Fixture *fixture)
{
  g_autofree char *port = g_strdup_printf ("--port=%u", fixture->port);
  const char *const same_port[] = { port, NULL };
  g_autoptr (GUri) uri = NULL;
  g_autofree char *url = NULL;

  fixture->server = ph_test_start_rendezvous (fixture->port != 0 ? same_port : NULL, &url);
  uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  g_assert_nonnull (uri);
  if (fixture->port == 0)
    {
      fixture->port = (guint16)g_uri_get_port (uri);
      fixture->url = g_steal_pointer (&url);
    }
  g_assert_cmpint (g_uri_get_port (uri), ==, fixture->port);
}

static void
server_kill (Fixture *fixture)
{
  ph_test_process_kill (fixture->server, SIGKILL);
  g_assert_cmpint (ph_test_process_wait_exit (fixture->server, 5000), ==, 128 + SIGKILL);
  g_clear_pointer (&fixture->server, ph_test_process_free);
}

/* The server dies: requests to its port find it gone. */
static PhTestDeadPort *
outage_begin (Fixture *fixture)
{
  server_kill (fixture);
  return ph_test_dead_port_new (fixture->port);
}

/* Once @count requests found the server away, a new one starts on the
 * same port, with none of the old one's mailboxes. */
static void
outage_end (Fixture *fixture, PhTestDeadPort *outage, guint count)
{
  g_assert_true (ph_test_dead_port_wait (outage, count, timeout_ms ()));
  ph_test_dead_port_free (outage);
  server_start (fixture);
}

/* @data: the patience in seconds (PINHOLE_TEST_RENDEZVOUS_PATIENCE_SECONDS)
 * as a string, or NULL for the default, which rides out restarts even
 * under valgrind. The sessions read it when they are made. */
static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  if (data != NULL)
    g_setenv ("PINHOLE_TEST_RENDEZVOUS_PATIENCE_SECONDS", data, TRUE);
  else
    g_unsetenv ("PINHOLE_TEST_RENDEZVOUS_PATIENCE_SECONDS");
  server_start (fixture);
  side_init (&fixture->host, fixture->url);
  side_init (&fixture->joiner, fixture->url);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  side_clear (&fixture->host);
  side_clear (&fixture->joiner);
  if (fixture->server != NULL)
    server_kill (fixture);
  g_free (fixture->url);
}

static void
post_text (Side *side, const char *phase, const char *text)
{
  g_autoptr (GBytes) body = g_bytes_new (text, strlen (text));

  ph_mailbox_session_post (side->session, phase, body);
}

typedef struct
{
  Side *side;
  guint count;
} Wanted;

static gboolean
received_or_error (gpointer data)
{
  Wanted *wanted = data;

  return wanted->side->received->len >= wanted->count || wanted->side->error != NULL;
}

/* Waits until @side has @count messages, then checks they are @expected
 * (NULL-terminated), each once, in order. */
static void
assert_received (Side *side, const char *const *expected)
{
  Wanted wanted = { side, g_strv_length ((GStrv)expected) };

  g_assert_true (ph_test_wait_until (received_or_error, &wanted, timeout_ms ()));
  g_assert_no_error (side->error);
  g_assert_cmpuint (side->received->len, ==, wanted.count);
  for (guint i = 0; i < wanted.count; i++)
    g_assert_cmpstr (g_ptr_array_index (side->received, i), ==, expected[i]);
}

static gboolean
has_nameplate_or_error (gpointer data)
{
  Side *side = data;

  return side->nameplate != NULL || side->error != NULL;
}

static gboolean
is_drained (gpointer data)
{
  return ph_mailbox_session_get_pending (((Side *)data)->session) == 0;
}

/* The host allocates and posts @text; returns once it has arrived, so the
 * host is in the mailbox and polling. */
static void
host_posts_first (Fixture *fixture, const char *text)
{
  ph_mailbox_session_allocate (fixture->host.session);
  post_text (&fixture->host, "cand", text);
  g_assert_true (ph_test_wait_until (has_nameplate_or_error, &fixture->host, timeout_ms ()));
  g_assert_no_error (fixture->host.error);
  g_assert_cmpstr (ph_mailbox_session_get_nameplate (fixture->host.session), ==,
                   fixture->host.nameplate);
  g_assert_true (ph_test_wait_until (is_drained, &fixture->host, timeout_ms ()));
}

/* Both sides in the mailbox, each having read the other's first message. */
static void
meet (Fixture *fixture)
{
  const char *const host_expects[] = { "cand:hello", NULL };
  const char *const joiner_expects[] = { "cand:1", NULL };

  host_posts_first (fixture, "1");
  ph_mailbox_session_join (fixture->joiner.session, fixture->host.nameplate);
  post_text (&fixture->joiner, "cand", "hello");
  assert_received (&fixture->joiner, joiner_expects);
  assert_received (&fixture->host, host_expects);
}

/* Posts queued in a burst, some before the nameplate is even known, arrive
 * once each and in order; a side never hears its own. */
/* The server's count of the messages posted to mailboxes. */
static void
assert_messages_posted (Fixture *fixture, guint expected)
{
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strconcat (fixture->url, "/metrics", NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GBytes) metrics = soup_session_send_and_read (session, msg, NULL, NULL);
  g_autofree char *line = g_strdup_printf ("\npinhole_messages_total %u\n", expected);
  g_autofree char *text = NULL;

  g_assert_nonnull (metrics);
  text = g_strndup (g_bytes_get_data (metrics, NULL), g_bytes_get_size (metrics));
  g_assert_nonnull (strstr (text, line));
}

static void
test_posts_arrive_in_order (Fixture *fixture, gconstpointer data)
{
  const char *const joiner_expects[]
      = { "pake:1", "confirm:2", "desc:3", "cand:4", "cand:5", NULL };
  const char *const host_expects[] = { "pake:hello", "cand:", NULL };
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);

  ph_mailbox_session_allocate (fixture->host.session);
  post_text (&fixture->host, "pake", "1");
  post_text (&fixture->host, "confirm", "2");
  g_assert_cmpuint (ph_mailbox_session_get_pending (fixture->host.session), ==, 2);
  g_assert_true (ph_test_wait_until (has_nameplate_or_error, &fixture->host, timeout_ms ()));
  g_assert_no_error (fixture->host.error);
  post_text (&fixture->host, "desc", "3");
  post_text (&fixture->host, "cand", "4");
  post_text (&fixture->host, "cand", "5");

  ph_mailbox_session_join (fixture->joiner.session, fixture->host.nameplate);
  g_assert_cmpstr (ph_mailbox_session_get_nameplate (fixture->joiner.session), ==,
                   fixture->host.nameplate);
  post_text (&fixture->joiner, "pake", "hello");
  ph_mailbox_session_post (fixture->joiner.session, "cand", empty);
  assert_received (&fixture->joiner, joiner_expects);
  assert_received (&fixture->host, host_expects);
  g_assert_true (ph_test_wait_until (is_drained, &fixture->host, timeout_ms ()));
  g_assert_cmpuint (fixture->host.troubles, ==, 0);
  /* What was queued together went in one request: the host's two before
   * it had a nameplate, its three after, the joiner's two. */
  assert_messages_posted (fixture, 3);
}

/* Batches that are not well formed are refused whole; one that is gives
 * back its messages as they went in. */
static void
test_batch_codec (void)
{
  const char *phases[] = { "pake", "confirm", "desc" };
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr (GBytes) pake = g_bytes_new_static ("0123", 4);
  g_autoptr (GBytes) desc = g_bytes_new_static ("v=0", 3);
  GBytes *bodies[] = { pake, empty, desc };
  g_autoptr (GBytes) encoded = ph_mailbox_batch_encode (phases, bodies, 3);
  PhMailboxMessage batch = { 7, (char *)"1", (char *)"batch", encoded };
  g_autoptr (GPtrArray) messages = ph_mailbox_batch_decode (&batch, NULL);
  static const char *const malformed[] = {
    "",                     /* nothing in it */
    "\x04pake\x00\x00\x00", /* a length cut short */
    "\x04pake\x00\x00\x00\x05"
    "abc",                      /* a body cut short */
    "\x04PAKE\x00\x00\x00\x00", /* not a phase */
    "\x05"
    "batch\x00\x00\x00\x00",        /* a batch in a batch */
    "\x00\x00\x00\x00\x00",         /* an empty phase */
    "\x04pake\x00\x00\x00\x00\x01", /* something after the last */
    "\x11"
    "abcdefghijklmnopq\x00\x00\x00\x00", /* a phase too long */
    "\x04pake\x00\x00\x00\x00\x04"
    "cand\x00\x00\x00\x05", /* the last body missing */
  };
  static const gsize malformed_sizes[] = { 0, 8, 12, 9, 10, 5, 10, 22, 18 };

  g_assert_nonnull (messages);
  g_assert_cmpuint (messages->len, ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      PhMailboxMessage *message = g_ptr_array_index (messages, i);

      g_assert_cmpstr (message->phase, ==, phases[i]);
      g_assert_true (g_bytes_equal (message->body, bodies[i]));
      g_assert_cmpuint (message->index, ==, 7);
      g_assert_cmpstr (message->side, ==, "1");
    }

  for (guint i = 0; i < G_N_ELEMENTS (malformed); i++)
    {
      g_autoptr (GBytes) body = g_bytes_new_static (malformed[i], malformed_sizes[i]);
      PhMailboxMessage bad = { 1, (char *)"2", (char *)"batch", body };
      g_autoptr (GError) error = NULL;
      g_autoptr (GPtrArray) refused = ph_mailbox_batch_decode (&bad, &error);

      g_assert_null (refused);
      g_assert_error (error, PH_ERROR, PH_ERROR_PROTOCOL);
    }
}

/* The server restarts with both sides in the mailbox and posts on their
 * way: both get back into a mailbox under the same number, what was
 * posted before arrives once, what was posted during the outage arrives
 * after it, and polls go on bringing what is posted afterwards. */
static void
test_restart_with_both_in (Fixture *fixture, gconstpointer data)
{
  const char *const joiner_expects[] = { "cand:1", "cand:2", "cand:3", NULL };
  const char *const host_expects[] = { "cand:hello", "cand:after", NULL };
  PhTestDeadPort *outage;

  meet (fixture);

  outage = outage_begin (fixture);
  post_text (&fixture->host, "cand", "2");
  /* The host's post and both polls find the server gone. */
  outage_end (fixture, outage, 3);
  post_text (&fixture->host, "cand", "3");
  assert_received (&fixture->joiner, joiner_expects);

  post_text (&fixture->joiner, "cand", "after");
  assert_received (&fixture->host, host_expects);
  g_assert_cmpstr (ph_mailbox_session_get_nameplate (fixture->host.session), ==,
                   fixture->host.nameplate);
  g_assert_cmpuint (fixture->host.troubles, >=, 1);
  g_assert_false (fixture->host.trouble);
  g_assert_false (fixture->joiner.trouble);
}

/* The server restarts while the host waits alone, and the joiner comes
 * while it is away: the host claims its number back, posts again what it
 * had posted, and the joiner, asking again, finds it there. */
static void
test_restart_while_host_waits (Fixture *fixture, gconstpointer data)
{
  const char *const joiner_expects[] = { "cand:1", "cand:2", NULL };
  const char *const host_expects[] = { "cand:hello", NULL };
  PhTestDeadPort *outage;

  host_posts_first (fixture, "1");
  post_text (&fixture->host, "cand", "2");
  g_assert_true (ph_test_wait_until (is_drained, &fixture->host, timeout_ms ()));

  outage = outage_begin (fixture);
  ph_mailbox_session_join (fixture->joiner.session, fixture->host.nameplate);
  post_text (&fixture->joiner, "cand", "hello");
  /* The host's poll and the joiner's first post find it gone. */
  outage_end (fixture, outage, 2);

  assert_received (&fixture->joiner, joiner_expects);
  assert_received (&fixture->host, host_expects);
  g_assert_cmpstr (ph_mailbox_session_get_nameplate (fixture->host.session), ==,
                   fixture->host.nameplate);
}

static void
result_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **)user_data = g_object_ref (result);
}

static gboolean
has_result (gpointer data)
{
  return *(GAsyncResult **)data != NULL;
}

static gboolean
has_error (gpointer data)
{
  return ((Side *)data)->error != NULL;
}

/* Back after a restart, the server gives the host's number to someone
 * else before the host could claim it back: the host fails, saying so,
 * rather than meet a stranger there. */
static void
test_number_taken_after_restart (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhRendezvousClient) stranger = ph_rendezvous_client_new (fixture->url, NULL);
  g_autoptr (GAsyncResult) result = NULL;
  g_autofree char *nameplate = NULL;
  PhTestDeadPort *outage;

  host_posts_first (fixture, "1");
  outage = outage_begin (fixture);
  /* The host's poll finds the server gone, and so does the stranger's
   * first try; the stranger's next one is the first the new server gets. */
  ph_rendezvous_client_allocate_async (stranger, NULL, result_cb, &result);
  g_assert_true (ph_test_wait_until (has_result, &result, timeout_ms ()));
  g_clear_object (&result);
  outage_end (fixture, outage, 2);
  ph_rendezvous_client_allocate_async (stranger, NULL, result_cb, &result);
  g_assert_true (ph_test_wait_until (has_result, &result, timeout_ms ()));
  nameplate = ph_rendezvous_client_allocate_finish (stranger, result, NULL, NULL);
  g_assert_cmpstr (nameplate, ==, fixture->host.nameplate);

  g_assert_true (ph_test_wait_until (has_error, &fixture->host, timeout_ms ()));
  g_assert_error (fixture->host.error, PH_ERROR, PH_ERROR_MAILBOX_FULL);
}

/* A server that stays away is given up on after the patience, with the
 * error a person can act on; meanwhile the trouble is said. */
static void
test_server_stays_down (Fixture *fixture, gconstpointer data)
{
  gint64 start;
  /* The 2 s patience of the hook, and slack for a busy machine. */
  gint64 upper = (2 + ph_test_scaled_seconds (4)) * G_USEC_PER_SEC;

  host_posts_first (fixture, "1");
  server_kill (fixture);
  start = g_get_monotonic_time ();
  g_assert_true (ph_test_wait_until (has_error, &fixture->host, timeout_ms ()));
  g_assert_error (fixture->host.error, PH_ERROR, PH_ERROR_RENDEZVOUS_UNREACHABLE);
  g_assert_cmpuint (fixture->host.troubles, ==, 1);
  /* The patience of 2 s, plus one pause. */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 2 * G_USEC_PER_SEC);
  g_assert_cmpint (g_get_monotonic_time () - start, <, upper);
}

static gboolean
flag_cb (gpointer data)
{
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

/* For what must not happen within a time: runs the main loop that long. */
static void
wait_ms (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, flag_cb, &done);
  g_assert_true (ph_test_wait_for_flag (&done, ms + timeout_ms ()));
}

/* A resilient session keeps asking a server that is away for longer than
 * the patience, without failing; once back, the server has lost the
 * mailbox, which a resilient session does not enter again: that fails. */
static void
test_resilient_outlasts_patience (Fixture *fixture, gconstpointer data)
{
  PhTestDeadPort *outage;

  meet (fixture);
  ph_mailbox_session_set_resilient (fixture->host.session);
  ph_mailbox_session_set_resilient (fixture->joiner.session);

  outage = outage_begin (fixture);
  /* Without resilience the 2 s patience and one more pause of 2 s would
   * have run out; meanwhile both polls kept asking, every 2 s. */
  wait_ms (OUTLAST_PATIENCE_MS);
  g_assert_no_error (fixture->host.error);
  g_assert_no_error (fixture->joiner.error);
  g_assert_cmpuint (fixture->host.troubles, ==, 0);
  outage_end (fixture, outage, 4);

  g_assert_true (ph_test_wait_until (has_error, &fixture->host, timeout_ms ()));
  g_assert_true (ph_test_wait_until (has_error, &fixture->joiner, timeout_ms ()));
  g_assert_error (fixture->host.error, PH_ERROR, PH_ERROR_UNKNOWN_CODE);
  g_assert_error (fixture->joiner.error, PH_ERROR, PH_ERROR_UNKNOWN_CODE);
}

/* A side that leaves says its last word after what it still had queued;
 * once both left, the mailbox is closed and its number free again. */
static void
test_leave (Fixture *fixture, gconstpointer data)
{
  const char *const host_expects[] = { "cand:hello", "cand:last", "bye:see you", NULL };
  g_autoptr (PhRendezvousClient) next = ph_rendezvous_client_new (fixture->url, NULL);
  g_autoptr (GAsyncResult) result = NULL;
  g_autofree char *nameplate = NULL;

  meet (fixture);
  post_text (&fixture->joiner, "cand", "last");
  side_leave (&fixture->joiner, "bye", "see you");
  assert_received (&fixture->host, host_expects);
  side_leave (&fixture->host, NULL, NULL);

  ph_rendezvous_client_allocate_async (next, NULL, result_cb, &result);
  g_assert_true (ph_test_wait_until (has_result, &result, timeout_ms ()));
  nameplate = ph_rendezvous_client_allocate_finish (next, result, NULL, NULL);
  g_assert_cmpstr (nameplate, ==, fixture->host.nameplate);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/mailbox-session/batch-codec", test_batch_codec);
  g_test_add ("/mailbox-session/posts-arrive-in-order", Fixture, NULL, fixture_set_up,
              test_posts_arrive_in_order, fixture_tear_down);
  g_test_add ("/mailbox-session/restart-with-both-in", Fixture, NULL, fixture_set_up,
              test_restart_with_both_in, fixture_tear_down);
  g_test_add ("/mailbox-session/restart-while-host-waits", Fixture, NULL, fixture_set_up,
              test_restart_while_host_waits, fixture_tear_down);
  g_test_add ("/mailbox-session/number-taken-after-restart", Fixture, NULL, fixture_set_up,
              test_number_taken_after_restart, fixture_tear_down);
  /* Short patience, so giving up is quick. */
  ph_test_add_with_hooks ("/mailbox-session/server-stays-down", Fixture, SHORT_PATIENCE,
                          fixture_set_up, test_server_stays_down, fixture_tear_down);
  ph_test_add_with_hooks ("/mailbox-session/resilient-outlasts-patience", Fixture, SHORT_PATIENCE,
                          fixture_set_up, test_resilient_outlasts_patience, fixture_tear_down);
  g_test_add ("/mailbox-session/leave", Fixture, NULL, fixture_set_up, test_leave,
              fixture_tear_down);

  return g_test_run ();
}
