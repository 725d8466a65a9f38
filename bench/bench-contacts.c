/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "bench-contacts"

#include "config.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ph-contact-book.h"
#include "ph-identity.h"
#include "ph-meeting-keys.h"
#include "ph-meeting-point.h"
#include "ph-test-files.h"
#include "ph-test-programs.h"
#include "ph-test-wait.h"

/* Saved contacts on loopback, as real pinhole-cli processes on a real
 * pinhole-rendezvous: a contact met again beside a code chat (setup
 * time), a message stored for an offline contact (how soon it reaches
 * them when they start), a `listen` for hundreds of contacts (memory and
 * requests held at the server), and a server holding many stored copies
 * in SQLite (memory, disk, copies stored a second). Prints numbers;
 * never fails on time. */

#define DEFAULT_RUNS 10
#define DEFAULT_COPIES 100000
#define OFFLINE_RUNS 5
#define EVENT_TIMEOUT_MS 20000
/* A `listen` that says nothing by then will not: its first look answers
 * at once. */
#define FIRST_PRESENCE_TIMEOUT_MS 10000
/* After the first presence: the rest of the first look's events, and
 * whatever it sends at start, are in by then. */
#define SETTLE_MS 1500
#define COPY_BYTES 300
#define COPIES_PER_POINT 100
#define COPIES_IN_FLIGHT 64
#define COPIES_TIMEOUT_MS 600000

/* 1 is the baseline; 250 contacts are 500 points, the most one wait
 * names (PH_MEETING_POINT_MAX_WAIT); 500 is the target. */
static const guint listen_sizes[] = { 1, 250, 500 };

/* Statistics */

static double
ms_since (gint64 start_us)
{
  return (g_get_monotonic_time () - start_us) / 1000.0;
}

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return (x > y) - (x < y);
}

/* The sample @fraction of the way up: 0.5 is the median. */
static double
quantile (GArray *samples, double fraction)
{
  g_assert (samples->len > 0);
  g_array_sort (samples, compare_doubles);
  return g_array_index (samples, double, MIN ((guint)(samples->len * fraction), samples->len - 1));
}

static void
print_times (const char *label, GArray *samples)
{
  printf ("  %-40s median %7.1f ms   p90 %7.1f ms   min %7.1f ms\n", label, quantile (samples, 0.5),
          quantile (samples, 0.9), quantile (samples, 0));
}

/* Processes */

/* The pids of this process's children: PhTestProcess keeps its
 * GSubprocess, and so the pid a /proc/PID/status needs, to itself. */
static GHashTable *
list_children (void)
{
  g_autofree char *path = g_strdup_printf ("/proc/self/task/%d/children", getpid ());
  g_autofree char *text = NULL;
  g_auto (GStrv) pids = NULL;
  GHashTable *children = g_hash_table_new (g_direct_hash, g_direct_equal);

  if (!g_file_get_contents (path, &text, NULL, NULL))
    g_error ("%s cannot be read: the kernel does not list children", path);
  pids = g_strsplit (g_strstrip (text), " ", -1);
  for (guint i = 0; pids[i] != NULL; i++)
    if (pids[i][0] != '\0')
      g_hash_table_add (children, GINT_TO_POINTER (atoi (pids[i])));
  return children;
}

/* The child that is not in @before: the one spawned since. */
static GPid
find_new_child (GHashTable *before)
{
  g_autoptr (GHashTable) now = list_children ();
  GHashTableIter iter;
  gpointer pid;

  g_hash_table_iter_init (&iter, now);
  while (g_hash_table_iter_next (&iter, &pid, NULL))
    if (!g_hash_table_contains (before, pid))
      return GPOINTER_TO_INT (pid);
  g_error ("no new child process");
}

static double
resident_mib (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents (path, &status, NULL, NULL)
      || (line = strstr (status, "VmRSS:")) == NULL)
    g_error ("%s has no VmRSS", path);
  return g_ascii_strtod (line + strlen ("VmRSS:"), NULL) / 1024.0;
}

typedef struct
{
  PhTestProcess *process;
  GPid pid;
  char *url;
} Server;

static void
start_server (Server *server, const char *const *extra_args)
{
  g_autoptr (GStrvBuilder) args = g_strv_builder_new ();
  g_autoptr (GHashTable) before = list_children ();
  g_auto (GStrv) strv = NULL;

  /* Everything comes from 127.0.0.1: lift the per-client limits. */
  g_strv_builder_add_many (args, "--rate=1000000", "--burst=1000000",
                           "--allocations-per-minute=100000", "--joins-per-hour=100000",
                           "--max-mailboxes-per-client=100000", "--max-polls-per-client=100000",
                           NULL);
  g_strv_builder_addv (args, (const char **)extra_args);
  strv = g_strv_builder_end (args);
  server->process = ph_test_start_rendezvous ((const char *const *)strv, &server->url);
  server->pid = find_new_child (before);
}

static void
stop_server (Server *server)
{
  ph_test_process_stop (server->process);
  g_clear_pointer (&server->process, ph_test_process_free);
  g_clear_pointer (&server->url, g_free);
}

static PhTestProcess *
spawn_cli (const char *url, const char *name, const char *const *args)
{
  return ph_test_spawn_cli (url, name, PH_TEST_CLI_JSON, args, NULL);
}

/* `listen` on @profile; its pid in @out_pid unless NULL. */
static PhTestProcess *
spawn_listen (const char *url, const char *name, const char *profile, GPid *out_pid)
{
  const char *args[] = { "--data-dir", profile, "listen", NULL };
  g_autoptr (GHashTable) before = list_children ();
  PhTestProcess *listen = spawn_cli (url, name, args);

  if (out_pid != NULL)
    *out_pid = find_new_child (before);
  return listen;
}

static void
expect_exit (PhTestProcess *cli, const char *what, int expected)
{
  int status = ph_test_process_wait_exit (cli, EVENT_TIMEOUT_MS);

  if (status != expected)
    g_warning ("%s exited %d, not %d", what, status, expected);
}

/* Input ended: the peer says goodbye and exits. */
static void
end_cli (PhTestProcess *cli, const char *what)
{
  ph_test_process_close_stdin (cli);
  expect_exit (cli, what, 0);
}

static void
stop_listening (PhTestProcess *listen)
{
  ph_test_process_kill (listen, SIGTERM);
  expect_exit (listen, "listen", 0);
}

/* Waits for @cli's `connected`; keeps its setup_ms and the wall clock
 * since @spawned_us. */
static void
record_connected (PhTestProcess *cli, gint64 spawned_us, GArray *setup_ms, GArray *wall_ms)
{
  g_autoptr (JsonObject) connected
      = ph_test_process_wait_event (cli, "connected", EVENT_TIMEOUT_MS);
  double wall = ms_since (spawned_us);
  double setup = json_object_get_double_member (connected, "setup_ms");

  g_array_append_val (wall_ms, wall);
  g_array_append_val (setup_ms, setup);
}

static void
wait_for_message (PhTestProcess *cli, const char *text)
{
  for (;;)
    {
      g_autoptr (JsonObject) message
          = ph_test_process_wait_event (cli, "message", EVENT_TIMEOUT_MS);

      if (g_str_equal (json_object_get_string_member (message, "text"), text))
        return;
    }
}

/* The server's /metrics */

static char *
fetch_metrics (SoupSession *session, const Server *server)
{
  g_autofree char *address = g_strconcat (server->url, "/metrics", NULL);
  g_autoptr (SoupMessage) message = soup_message_new (SOUP_METHOD_GET, address);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;

  soup_session_send_and_read_async (session, message, G_PRIORITY_DEFAULT, NULL, ph_test_result_cb,
                                    &result);
  body = soup_session_send_and_read_finish (
      session, ph_test_wait_for_result (&result, EVENT_TIMEOUT_MS), &error);
  if (body == NULL || soup_message_get_status (message) != SOUP_STATUS_OK)
    g_error ("GET %s failed: %s", address, error != NULL ? error->message : "not 200");
  return g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

/* The sum of @name's samples in @metrics, over all their labels. */
static double
metric (const char *metrics, const char *name)
{
  g_auto (GStrv) lines = g_strsplit (metrics, "\n", -1);
  size_t length = strlen (name);
  double sum = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], name) && (lines[i][length] == ' ' || lines[i][length] == '{'))
      sum += g_ascii_strtod (strrchr (lines[i], ' ') + 1, NULL);
  return sum;
}

/* 1. Setup */

typedef struct
{
  char *alice;
  char *bob;
} Profiles;

/* Alice and Bob meet once with a code and save each other. */
static void
save_each_other (const char *url, const Profiles *profiles)
{
  const char *host_args[] = { "--data-dir", profiles->alice, "--save-contact", "host", NULL };
  g_autoptr (PhTestProcess) host = spawn_cli (url, "Alice", host_args);
  g_autoptr (PhTestProcess) joiner = NULL;
  g_autoptr (JsonObject) code = ph_test_process_wait_event (host, "code", EVENT_TIMEOUT_MS);
  g_autoptr (JsonObject) host_saved = NULL;
  g_autoptr (JsonObject) joiner_saved = NULL;
  const char *join_args[] = { "--data-dir",
                              profiles->bob,
                              "--save-contact",
                              "join",
                              json_object_get_string_member (code, "code"),
                              NULL };

  joiner = spawn_cli (url, "Bob", join_args);
  ph_test_process_close_stdin (host);
  ph_test_process_close_stdin (joiner);
  host_saved = ph_test_process_wait_event (host, "contact-saved", EVENT_TIMEOUT_MS);
  joiner_saved = ph_test_process_wait_event (joiner, "contact-saved", EVENT_TIMEOUT_MS);
  expect_exit (host, "host --save-contact", 0);
  expect_exit (joiner, "join --save-contact", 0);
}

/* Bob's side at their meeting point: side 1 hosts the mailbox. */
static const char *
side_of_bob (const Profiles *profiles)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PhIdentity) alice = NULL;
  g_autoptr (PhIdentity) bob = NULL;

  if ((alice = ph_identity_load (profiles->alice, &error)) == NULL
      || (bob = ph_identity_load (profiles->bob, &error)) == NULL)
    g_error ("a profile has no identity: %s", error->message);
  return ph_meeting_side (ph_identity_get_public_key (bob), ph_identity_get_public_key (alice));
}

static void
time_code_chat (const char *url, GArray *setup_ms, GArray *wall_ms)
{
  const char *host_args[] = { "host", NULL };
  g_autoptr (PhTestProcess) host = spawn_cli (url, "Alice", host_args);
  g_autoptr (JsonObject) code = ph_test_process_wait_event (host, "code", EVENT_TIMEOUT_MS);
  const char *join_args[] = { "join", json_object_get_string_member (code, "code"), NULL };
  gint64 spawned = g_get_monotonic_time ();
  g_autoptr (PhTestProcess) joiner = spawn_cli (url, "Bob", join_args);

  record_connected (joiner, spawned, setup_ms, wall_ms);
  end_cli (joiner, "join");
  end_cli (host, "host");
}

/* Bob writes one line to Alice, whose @alice_listen runs, and leaves
 * once she has it. */
static void
time_meeting (const char *url, const Profiles *profiles, PhTestProcess *alice_listen, guint run,
              GArray *setup_ms, GArray *wall_ms)
{
  const char *args[] = { "--data-dir", profiles->bob, "--no-stored-copies", "chat", "Alice", NULL };
  g_autofree char *text = g_strdup_printf ("meeting %u", run);
  gint64 spawned = g_get_monotonic_time ();
  g_autoptr (PhTestProcess) bob = spawn_cli (url, "Bob", args);
  g_autoptr (JsonObject) closed = NULL;

  ph_test_process_write_line (bob, text);
  ph_test_process_close_stdin (bob);
  record_connected (bob, spawned, setup_ms, wall_ms);
  wait_for_message (alice_listen, text);
  expect_exit (bob, "chat --no-stored-copies", 0);
  /* Alice is back to waiting before the next run. */
  closed = ph_test_process_wait_event (alice_listen, "closed", EVENT_TIMEOUT_MS);
}

static void
bench_setup (const char *url, const Profiles *profiles, guint runs)
{
  g_autoptr (GArray) code_setup = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) code_wall = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) meeting_setup = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) meeting_wall = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (PhTestProcess) alice = spawn_listen (url, "Alice", profiles->alice, NULL);

  /* Her first look is done: Bob is offline, and she waits for him. */
  json_object_unref (ph_test_process_wait_event (alice, "presence", EVENT_TIMEOUT_MS));
  for (guint run = 0; run < runs; run++)
    {
      time_code_chat (url, code_setup, code_wall);
      time_meeting (url, profiles, alice, run, meeting_setup, meeting_wall);
    }
  stop_listening (alice);

  printf ("1. Setup, %u runs of each (Bob is side %s at the meeting point):\n", runs,
          side_of_bob (profiles));
  print_times ("code chat, joiner: setup_ms", code_setup);
  print_times ("code chat, joiner: spawn to connected", code_wall);
  print_times ("met again, Bob's chat: setup_ms", meeting_setup);
  print_times ("met again, Bob's chat: spawn to connected", meeting_wall);
  printf ("  ratio met again/code chat (medians): setup_ms %.2f, spawn to connected %.2f\n",
          quantile (meeting_setup, 0.5) / quantile (code_setup, 0.5),
          quantile (meeting_wall, 0.5) / quantile (code_wall, 0.5));
  printf ("  target: contact online → channel open ≤ 50 ms\n");
  printf ("summary: code_setup_median_ms=%.1f meeting_setup_median_ms=%.1f "
          "meeting_setup_p90_ms=%.1f meeting_spawned_to_connected_median_ms=%.1f\n",
          quantile (code_setup, 0.5), quantile (meeting_setup, 0.5), quantile (meeting_setup, 0.9),
          quantile (meeting_wall, 0.5));
}

/* 2. Offline delivery */

/* Bob leaves a stored copy while Alice is not running; then Alice
 * starts: the time from her spawn to her `message`. */
static double
time_offline_delivery (const char *url, const Profiles *profiles, guint run)
{
  const char *args[] = { "--data-dir", profiles->bob, "chat", "Alice", NULL };
  g_autofree char *text = g_strdup_printf ("stored while away, %u", run);
  g_autoptr (PhTestProcess) bob = spawn_cli (url, "Bob", args);
  g_autoptr (PhTestProcess) alice = NULL;
  g_autoptr (JsonObject) stored = NULL;
  gint64 spawned;
  double delivery_ms;

  json_object_unref (ph_test_process_wait_event (bob, "waiting", EVENT_TIMEOUT_MS));
  ph_test_process_write_line (bob, text);
  ph_test_process_close_stdin (bob);
  stored = ph_test_process_wait_event (bob, "stored", EVENT_TIMEOUT_MS);
  expect_exit (bob, "chat with Alice away", 0);

  spawned = g_get_monotonic_time ();
  alice = spawn_listen (url, "Alice", profiles->alice, NULL);
  wait_for_message (alice, text);
  delivery_ms = ms_since (spawned);
  stop_listening (alice);
  return delivery_ms;
}

static void
bench_offline_delivery (const char *url, const Profiles *profiles)
{
  g_autoptr (GArray) delivery = g_array_new (FALSE, FALSE, sizeof (double));

  for (guint run = 0; run < OFFLINE_RUNS; run++)
    {
      double ms = time_offline_delivery (url, profiles, run);

      g_array_append_val (delivery, ms);
    }
  printf ("2. Offline delivery, %u runs: Bob's copy stored, then Alice's `listen` started:\n",
          delivery->len);
  print_times ("Alice's listen: spawn to message", delivery);
  printf ("  target: ≤ 1000 ms\n");
  printf ("summary: offline_delivery_median_ms=%.1f\n", quantile (delivery, 0.5));
}

/* 3. Waiting for many contacts */

/* A profile with @n contacts nobody will meet, saved through the contact
 * book as `--save-contact` saves them, without @n code chats. */
static char *
make_profile_with_contacts (const char *top, guint n)
{
  g_autofree char *folder = g_strdup_printf ("contacts-%u", n);
  char *dir = g_build_filename (top, folder, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PhIdentity) identity = ph_identity_load_or_create (dir, &error);
  g_autoptr (PhContactBook) book = NULL;

  if (identity == NULL || (book = ph_contact_book_open (dir, identity, &error)) == NULL)
    g_error ("no profile in %s: %s", dir, error->message);
  for (guint i = 0; i < n; i++)
    {
      guint8 public_key[crypto_sign_PUBLICKEYBYTES];
      guint8 secret_key[crypto_sign_SECRETKEYBYTES];
      guint8 pair_secret[PH_CONTACT_PAIR_SECRET_SIZE];
      g_autoptr (GBytes) key = NULL;
      g_autoptr (GBytes) secret = NULL;
      g_autofree char *name = g_strdup_printf ("Contact %u", i + 1);
      g_autoptr (PhContact) contact = NULL;
      g_autoptr (PhContact) saved = NULL;

      /* A real key pair: ph_contact_new() refuses 32 random bytes that
       * are not a point of Ed25519, and about half are not. */
      crypto_sign_keypair (public_key, secret_key);
      randombytes_buf (pair_secret, sizeof pair_secret);
      key = g_bytes_new (public_key, sizeof public_key);
      secret = g_bytes_new (pair_secret, sizeof pair_secret);
      contact = ph_contact_new (ph_identity_get_public_key (identity), key, name, secret, FALSE,
                                g_get_real_time () / G_USEC_PER_SEC, &error);
      if (contact == NULL || (saved = ph_contact_book_save (book, contact, &error)) == NULL)
        g_error ("contact %u not saved: %s", i + 1, error->message);
    }
  return dir;
}

typedef struct
{
  gboolean told;            /* printed a first `presence` in time */
  double first_presence_ms; /* from its spawn */
  guint presence_events;
  double resident_mib;
  double polls_waiting; /* held polls and waits at the server */
  double connections;   /* open at the server, ours for /metrics left out */
  double requests;      /* answered by the server since its spawn */
} ListenCost;

/* Counts @listen's `presence` events until @until_us. */
static guint
count_presence_until (PhTestProcess *listen, gint64 until_us)
{
  const char *presence[] = { "presence", NULL };
  guint n = 0;
  gint64 left_ms;

  while ((left_ms = (until_us - g_get_monotonic_time ()) / 1000) > 0)
    {
      g_autoptr (JsonObject) event = ph_test_process_next_event (listen, presence, (guint)left_ms);

      n += event != NULL;
    }
  return n;
}

/* `listen` on @profile, measured once its first look is in, on a server
 * of its own: one where earlier processes left nothing held. The server
 * counts our /metrics requests too: the first by the time of the
 * second. */
static ListenCost
measure_listen (SoupSession *session, const char *profile)
{
  const char *presence[] = { "presence", NULL };
  ListenCost cost = { 0 };
  Server server = { 0 };
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autoptr (PhTestProcess) listen = NULL;
  g_autoptr (JsonObject) first = NULL;
  gint64 spawned;
  GPid pid;

  start_server (&server, (const char *[]){ "--store=memory:", NULL });
  before = fetch_metrics (session, &server);
  spawned = g_get_monotonic_time ();
  listen = spawn_listen (server.url, NULL, profile, &pid);
  first = ph_test_process_next_event (listen, presence, FIRST_PRESENCE_TIMEOUT_MS);
  cost.told = first != NULL;
  cost.first_presence_ms = ms_since (spawned);
  cost.presence_events
      = cost.told + count_presence_until (listen, g_get_monotonic_time () + SETTLE_MS * 1000);
  after = fetch_metrics (session, &server);
  cost.resident_mib = resident_mib (pid);
  cost.polls_waiting = metric (after, "pinhole_polls_waiting");
  cost.connections = metric (after, "pinhole_connections_open") - 1;
  cost.requests
      = metric (after, "pinhole_requests_total") - metric (before, "pinhole_requests_total") - 1;
  stop_listening (listen);
  stop_server (&server);
  return cost;
}

static void
bench_many_contacts (SoupSession *session, const char *top)
{
  ListenCost costs[G_N_ELEMENTS (listen_sizes)];

  printf ("3. `listen` waiting for many contacts, %.1f s after its first presence:\n",
          SETTLE_MS / 1000.0);
  printf ("  %8s  %14s  %8s  %9s  %8s  %11s  %8s  %s\n", "contacts", "first presence", "presence",
          "RSS (MiB)", "ratio", "held polls", "conns", "requests");
  for (guint i = 0; i < G_N_ELEMENTS (listen_sizes); i++)
    {
      g_autofree char *profile = make_profile_with_contacts (top, listen_sizes[i]);
      g_autofree char *first = NULL;

      costs[i] = measure_listen (session, profile);
      first = costs[i].told ? g_strdup_printf ("%.0f ms", costs[i].first_presence_ms)
                            : g_strdup_printf ("none in %u s", FIRST_PRESENCE_TIMEOUT_MS / 1000);
      printf ("  %8u  %14s  %8u  %9.1f  %8.2f  %11.0f  %8.0f  %.0f\n", listen_sizes[i], first,
              costs[i].presence_events, costs[i].resident_mib,
              costs[i].resident_mib / costs[0].resident_mib, costs[i].polls_waiting,
              costs[i].connections, costs[i].requests);
    }
  printf ("  held polls: pinhole_polls_waiting; conns: pinhole_connections_open; requests: "
          "answered since its spawn\n");
  printf ("  targets for 500: ≤ 2 requests in flight, ≤ 30 MB RSS\n");
  printf ("summary: listen_500_rss_mib=%.1f listen_500_polls_waiting=%.0f "
          "listen_500_connections=%.0f listen_1_rss_mib=%.1f\n",
          costs[G_N_ELEMENTS (costs) - 1].resident_mib,
          costs[G_N_ELEMENTS (costs) - 1].polls_waiting,
          costs[G_N_ELEMENTS (costs) - 1].connections, costs[0].resident_mib);
}

/* 4. A server holding many stored copies */

/* Where copies for one meeting point go, and the key that proves it. */
typedef struct
{
  char *address;       /* …/v1/meet/ID/stored */
  char *authorization; /* Bearer KEY */
} Point;

static void
point_free (Point *point)
{
  g_free (point->address);
  g_free (point->authorization);
  g_free (point);
}

static Point *
random_point (const char *url)
{
  guint8 key[32];
  char hex[2 * sizeof key + 1];
  char id[PH_MEETING_POINT_ID_LENGTH + 1];
  Point *point = g_new0 (Point, 1);

  randombytes_buf (key, sizeof key);
  sodium_bin2hex (hex, sizeof hex, key, sizeof key);
  if (!ph_meeting_point_id_from_key (hex, id))
    g_assert_not_reached ();
  point->address = g_strdup_printf ("%s/v1/meet/%s/stored", url, id);
  point->authorization = g_strconcat ("Bearer ", hex, NULL);
  return point;
}

typedef struct
{
  SoupSession *session;
  GPtrArray *points; /* of Point */
  guint total;
  guint sent;
  guint answered;
  guint refused;
  char *first_refusal;
} Filling;

typedef struct
{
  Filling *filling;
  SoupMessage *message;
} Storing;

static void store_more (Filling *filling);

static void
copy_stored_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autofree Storing *storing = user_data;
  g_autoptr (SoupMessage) message = storing->message;
  Filling *filling = storing->filling;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) answer
      = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);

  if (soup_message_get_status (message) != SOUP_STATUS_CREATED)
    {
      filling->refused++;
      if (filling->first_refusal == NULL)
        filling->first_refusal
            = answer != NULL ? g_strdup_printf ("HTTP %u %.*s", soup_message_get_status (message),
                                                (int)g_bytes_get_size (answer),
                                                (const char *)g_bytes_get_data (answer, NULL))
                             : g_strdup (error->message);
    }
  filling->answered++;
  store_more (filling);
}

/* A sealed-looking copy: random bytes, as the server sees a real one. */
static GBytes *
random_copy_request (void)
{
  guint8 sealed[COPY_BYTES];
  g_autofree char *body = NULL;
  char *request;

  randombytes_buf (sealed, sizeof sealed);
  body = g_base64_encode (sealed, sizeof sealed);
  request = g_strdup_printf ("{\"side\":\"1\",\"body\":\"%s\"}", body);
  return g_bytes_new_take (request, strlen (request));
}

/* Keeps COPIES_IN_FLIGHT requests going, each point in turn, so that no
 * point holds more than COPIES_PER_POINT. */
static void
store_more (Filling *filling)
{
  while (filling->sent < filling->total && filling->sent - filling->answered < COPIES_IN_FLIGHT)
    {
      Point *point = g_ptr_array_index (filling->points, filling->sent % filling->points->len);
      g_autoptr (GBytes) request = random_copy_request ();
      Storing *storing = g_new0 (Storing, 1);

      storing->filling = filling;
      storing->message = soup_message_new (SOUP_METHOD_POST, point->address);
      soup_message_set_request_body_from_bytes (storing->message, "application/json", request);
      soup_message_headers_replace (soup_message_get_request_headers (storing->message),
                                    "Authorization", point->authorization);
      /* libsoup sends a POST on a connection of its own unless told it
       * may go again: measured here is the store, not the accepting. */
      soup_message_add_flags (storing->message, SOUP_MESSAGE_IDEMPOTENT);
      soup_session_send_and_read_async (filling->session, storing->message, G_PRIORITY_DEFAULT,
                                        NULL, copy_stored_cb, storing);
      filling->sent++;
    }
}

static gboolean
all_answered (gpointer data)
{
  Filling *filling = data;

  return filling->answered == filling->total;
}

static double
file_mib (const char *path)
{
  GStatBuf buf;

  return g_stat (path, &buf) == 0 ? buf.st_size / (1024.0 * 1024.0) : 0;
}

static void
bench_stored_copies (SoupSession *session, const char *top, guint copies)
{
  g_autofree char *db = g_build_filename (top, "rendezvous.db", NULL);
  g_autofree char *wal = g_strconcat (db, "-wal", NULL);
  g_autofree char *store = g_strconcat ("--store=sqlite:", db, NULL);
  g_autofree char *per_point = g_strdup_printf ("--max-stored-per-point=%d", COPIES_PER_POINT);
  /* Over a body's size in any encoding: never the limit measured. */
  g_autofree char *total_bytes
      = g_strdup_printf ("--max-stored-total-bytes=%" G_GUINT64_FORMAT, (guint64)copies * 1024);
  const char *args[] = { store, per_point, total_bytes, NULL };
  g_autofree char *metrics = NULL;
  Server server = { 0 };
  Filling filling = { .session = session, .total = copies };
  double idle_mib, full_mib, elapsed_s;
  gint64 start;

  start_server (&server, args);
  filling.points = g_ptr_array_new_with_free_func ((GDestroyNotify)point_free);
  for (guint i = 0; i < (copies + COPIES_PER_POINT - 1) / COPIES_PER_POINT; i++)
    g_ptr_array_add (filling.points, random_point (server.url));

  idle_mib = resident_mib (server.pid);
  start = g_get_monotonic_time ();
  store_more (&filling);
  if (!ph_test_wait_until (all_answered, &filling, COPIES_TIMEOUT_MS))
    g_error ("%u of %u copies answered in %u s", filling.answered, copies,
             COPIES_TIMEOUT_MS / 1000);
  elapsed_s = ms_since (start) / 1000.0;
  metrics = fetch_metrics (session, &server);
  full_mib = resident_mib (server.pid);

  printf ("4. A server (SQLite) holding stored copies: %u of %u bytes at %u points, "
          "%d in flight:\n",
          copies, COPY_BYTES, filling.points->len, COPIES_IN_FLIGHT);
  if (filling.refused > 0)
    printf ("  %u refused, the first: %s\n", filling.refused, filling.first_refusal);
  printf ("  stored %.0f copies (the server's count) in %.1f s: %.0f copies/s\n",
          metric (metrics, "pinhole_stored_copies"), elapsed_s, copies / elapsed_s);
  printf ("  server RSS %.1f MiB idle, %.1f MiB holding them (× %.2f)\n", idle_mib, full_mib,
          full_mib / idle_mib);
  printf ("  rendezvous.db %.1f MiB + -wal %.1f MiB\n", file_mib (db), file_mib (wal));
  printf ("summary: copies_per_second=%.0f server_rss_idle_mib=%.1f server_rss_full_mib=%.1f "
          "db_mib=%.1f\n",
          copies / elapsed_s, idle_mib, full_mib, file_mib (db) + file_mib (wal));

  stop_server (&server);
  g_ptr_array_unref (filling.points);
  g_free (filling.first_refusal);
}

/* PhTestProcess echoes each line of a child through g_test_message(),
 * which outside a test is g_print(): only the numbers go out. */
static void
drop_print (const char *text)
{
}

int
main (int argc, char *argv[])
{
  guint runs = argc > 1 ? (guint)g_ascii_strtoull (argv[1], NULL, 10) : DEFAULT_RUNS;
  guint copies = argc > 2 ? (guint)g_ascii_strtoull (argv[2], NULL, 10) : DEFAULT_COPIES;
  g_autoptr (GError) error = NULL;
  g_autofree char *top = g_dir_make_tmp ("bench-contacts-XXXXXX", &error);
  g_autofree char *state = NULL;
  g_autofree char *profile = NULL;
  /* For /metrics, and the copies in flight at once. */
  g_autoptr (SoupSession) session = soup_session_new_with_options (
      "max-conns", COPIES_IN_FLIGHT, "max-conns-per-host", COPIES_IN_FLIGHT, NULL);
  Profiles profiles = { 0 };
  Server server = { 0 };

  if (top == NULL)
    g_error ("%s", error->message);
  if (sodium_init () < 0)
    g_error ("libsodium did not start");
  g_set_print_handler (drop_print);
  /* A run takes minutes: each line as it comes. */
  setvbuf (stdout, NULL, _IOLBF, 0);
  state = g_build_filename (top, "state", NULL);
  profile = g_build_filename (top, "profile", NULL);
  g_setenv ("PINHOLE_RENDEZVOUS_BIN", PH_BENCH_RENDEZVOUS_BIN, TRUE);
  g_setenv ("PINHOLE_CLI_BIN", PH_BENCH_CLI_BIN, TRUE);
  /* Never the real gateway, nor the user's profile or burned codes. */
  g_setenv ("PINHOLE_PORT_MAPPING_GATEWAY", "127.0.0.1", TRUE);
  g_unsetenv ("PINHOLE_PORT_MAPPING");
  g_setenv ("PINHOLE_STATE_DIR", state, TRUE);
  g_setenv ("PINHOLE_DATA_DIR", profile, TRUE);
  profiles.alice = g_build_filename (top, "alice", NULL);
  profiles.bob = g_build_filename (top, "bob", NULL);

  start_server (&server, (const char *[]){ "--store=memory:", NULL });
  printf ("Contacts on loopback against one pinhole-rendezvous (memory:), pinhole-cli peers\n");
  save_each_other (server.url, &profiles);
  bench_setup (server.url, &profiles, MAX (runs, 1));
  bench_offline_delivery (server.url, &profiles);
  stop_server (&server);
  bench_many_contacts (session, top);
  bench_stored_copies (session, top, MAX (copies, 1));

  ph_test_remove_tree (top);
  g_free (profiles.alice);
  g_free (profiles.bob);
  return 0;
}
