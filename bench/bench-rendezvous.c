/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "bench-rendezvous"

#include "config.h"

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ph-mailbox-format.h"
#include "ph-mailbox-secret.h"
#include "ph-store.h"

/* pinhole-rendezvous under load, pinned to one core, driven by a minimal
 * HTTP/1.1 keep-alive client on raw non-blocking sockets and epoll, on
 * each store given with --store (memory: and an SQLite file in a
 * temporary folder without one), side by side:
 *   1. GET /v1/health requests/s: the server's HTTP floor;
 *   2. mailbox round trips/s: allocate, join, post A, post B, poll
 *      after=0, poll after=1, leave A, leave B, each side with its secret,
 *      set against the floor (the health rate divided by the 8 requests)
 *      and the target of 5,000/s;
 *   3. 10,000 held long-polls: how fast the server takes them, its RSS
 *      per held poll against the target of 10,000 in 100 MB, then the
 *      time until a message in every mailbox has answered them all.
 * Each phase also gives the server's CPU time per request and how busy
 * both ends were, from the schedstat of each of the server's threads (the
 * SQLite store has one of its own): a server below 100% busy was waiting
 * for the client (or sharing its core with something else), and its CPU
 * time per request is the number to compare across runs on a machine
 * that others use too. The round trips are run twice for each store, one
 * store after the other, and the better of the two counts, so a moment
 * of someone else's load on the machine does not decide the ratio.
 * Prints numbers; never fails on time.
 *
 * With --redis the bench starts a redis-server of its own and adds two
 * runs on it: one server, and two servers sharing it, the connections
 * split between them (the second server pinned to the other core, which
 * the load generator and redis-server share on a 2-core machine).
 *
 *   bench-rendezvous [--store=URI ...] [--redis] [WORKERS [POLLS]] */

#define SERVER_CPU 0
#define DEFAULT_WORKERS 64
#define PHASE_SECONDS 5
#define HELD_PHASE_SECONDS 3
#define DEFAULT_POLLS 10000
#define WAKERS 32
#define ROUNDS 2
/* SQLite and Redis against memory, in round trips per second; two
 * servers on Redis against one. */
#define TARGET_SQLITE_SHARE 0.70
#define TARGET_REDIS_SHARE 0.50
#define TARGET_TWO_SERVERS 1.3
/* What one round trip is in this benchmark, and the reliability target. */
#define ROUND_TRIP_REQUESTS 8
/* Of which carry a side's secret: 2 posts, 2 polls, 2 leaves. */
#define AUTHENTICATED_REQUESTS 6
#define AUTHENTICATION_RUNS 200000
#define TARGET_ROUND_TRIPS 5000
/* 64 hex digits, and the terminating NUL. */
#define SECRET_SIZE 65
/* base64 of "hello": every posted body. */
#define MESSAGE_BODY "aGVsbG8="

typedef enum
{
  WORK_HEALTH,
  WORK_ROUND_TRIP,
  WORK_POLL,
  WORK_WAKE,
} Work;

typedef struct
{
  int fd;
  guint16 port; /* which server */
  Work work;
  guint step;
  guint nameplate;
  char secrets[2][SECRET_SIZE]; /* of side 1 (or the control's last seat), of side 2 */
  GByteArray *in;
  guint64 responses;
  gboolean answered; /* a held poll, by its message */
  gboolean closing;  /* the server said Connection: close */
  guint generation;  /* of the socket, which may reuse the last one's number */
} Connection;

typedef struct
{
  int epoll_fd;
  guint16 port;
  guint16 second_port; /* a second server's, or 0: connections alternate */
  GPid second_pid;
  GPid redis_pid; /* the bench's redis-server, or 0 */
  guint n_connections;
  gboolean running;
  guint64 requests;
  guint64 round_trips;
  guint64 failures;
  Connection *control;   /* for set-up steps, one request at a time */
  GString *control_body; /* its last answer */
  GArray *wake;          /* nameplates to post to, one each */
  GArray *wake_secrets;  /* and the secret of side 1 there */
  guint wake_next;
} Load;

static void
pin_to_cpu (pid_t pid, int cpu)
{
  cpu_set_t set;

  CPU_ZERO (&set);
  CPU_SET (cpu, &set);
  if (sched_setaffinity (pid, sizeof set, &set) != 0)
    g_printerr ("could not pin process %d to CPU %d: %s\n", (int)pid, cpu, g_strerror (errno));
}

static void
server_child_setup (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
  pin_to_cpu (0, GPOINTER_TO_INT (user_data));
}

/* @store_uri: the server's --store, or NULL for bench-soup-floor. */
static GSubprocess *
start_server_on (const char *binary, const char *store_uri, int cpu, guint16 *out_port)
{
  g_autoptr (GSubprocessLauncher) launcher
      = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr (GSubprocess) server = NULL;
  g_autoptr (GDataInputStream) output = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;
  const char *prefix = "pinhole-rendezvous listening on http://127.0.0.1:";

  g_subprocess_launcher_set_child_setup (launcher, server_child_setup, GINT_TO_POINTER (cpu), NULL);
  /* Every request comes from 127.0.0.1: lift the per-client limits. Polls
   * are held for the longest hold, so none runs out while the others are
   * opened or woken. */
  server = g_subprocess_launcher_spawn (
      launcher, &error, binary, "--port", "0", "--rate", "1000000", "--burst", "1000000",
      "--max-mailboxes", "1000000", "--max-waiting-polls", "100000", "--max-mailboxes-per-client",
      "1000000", "--max-polls-per-client", "100000", "--allocations-per-minute", "1000000",
      "--joins-per-hour", "1000000", "--mailbox-lifetime", "3600", "--client-timeout", "300",
      "--max-hold", "60", store_uri != NULL ? "--store" : NULL, store_uri, NULL);
  if (server == NULL)
    g_error ("could not start %s: %s", binary, error->message);

  /* The server is another process: blocking here holds up nothing. */
  output = g_data_input_stream_new (g_subprocess_get_stdout_pipe (server));
  line = g_data_input_stream_read_line (output, NULL, NULL, &error);
  if (line == NULL || !g_str_has_prefix (line, prefix))
    g_error ("pinhole-rendezvous did not start: %s", line != NULL ? line : "no output");

  *out_port = (guint16)g_ascii_strtoull (line + strlen (prefix), NULL, 10);
  return g_steal_pointer (&server);
}

static GSubprocess *
start_server (const char *binary, const char *store_uri, guint16 *out_port)
{
  return start_server_on (binary, store_uri, SERVER_CPU, out_port);
}

static int
connect_to (guint16 port)
{
  struct sockaddr_in address = { 0 };
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  int one = 1;

  if (fd < 0)
    g_error ("socket: %s", g_strerror (errno));
  address.sin_family = AF_INET;
  address.sin_port = htons (port);
  address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (connect (fd, (struct sockaddr *)&address, sizeof address) != 0)
    g_error ("connect: %s", g_strerror (errno));
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

/* Requests are a few hundred bytes on a connection with nothing else in
 * flight, so the socket buffer always takes them whole. @secret, unless
 * NULL, is the side's the request is made as. */
static void
send_request (Load *load, Connection *connection, const char *method, const char *path,
              const char *secret, const char *body)
{
  char text[512];
  int length = g_snprintf (
      text, sizeof text,
      "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %zu\r\n%s%s%s%s\r\n%s", method, path,
      body != NULL ? strlen (body) : 0, body != NULL ? "Content-Type: application/json\r\n" : "",
      secret != NULL ? "Authorization: Bearer " : "", secret != NULL ? secret : "",
      secret != NULL ? "\r\n" : "", body != NULL ? body : "");

  if (write (connection->fd, text, (size_t)length) != length)
    g_error ("short write: %s", g_strerror (errno));
  load->requests++;
}

static void connection_reconnect (Load *load, Connection *connection);

/* The secret a seat answer carries, into @out (empty without one). */
static void
read_secret (const char *body, gsize length, char out[SECRET_SIZE])
{
  const char *secret = g_strstr_len (body, (gssize)length, "\"secret\":\"");

  out[0] = '\0';
  if (secret != NULL && (gsize)(secret - body) + 10 + SECRET_SIZE - 1 <= length)
    g_strlcpy (out, secret + 10, SECRET_SIZE);
}

static void
send_next (Load *load, Connection *connection)
{
  char path[128];
  char body[128];

  if (connection->closing)
    connection_reconnect (load, connection);

  if (connection->work == WORK_WAKE)
    {
      guint i = load->wake_next++;

      g_snprintf (path, sizeof path, "/v1/mailboxes/%u/messages",
                  g_array_index (load->wake, guint, i));
      send_request (load, connection, "POST", path, g_array_index (load->wake_secrets, char *, i),
                    "{\"phase\":\"pake\",\"body\":\"" MESSAGE_BODY "\"}");
      return;
    }
  if (connection->work == WORK_HEALTH)
    {
      send_request (load, connection, "GET", "/v1/health", NULL, NULL);
      return;
    }

  /* Steps 2 to 7 alternate between the two sides. */
  switch (connection->step)
    {
    case 0:
      send_request (load, connection, "POST", "/v1/mailboxes", NULL, NULL);
      break;
    case 1:
      g_snprintf (path, sizeof path, "/v1/mailboxes/%u/join", connection->nameplate);
      send_request (load, connection, "POST", path, NULL, NULL);
      break;
    case 2:
    case 3:
      g_snprintf (path, sizeof path, "/v1/mailboxes/%u/messages", connection->nameplate);
      g_snprintf (body, sizeof body, "{\"phase\":\"pake\",\"body\":\"" MESSAGE_BODY "\"}");
      send_request (load, connection, "POST", path, connection->secrets[connection->step - 2],
                    body);
      break;
    case 4:
    case 5:
      g_snprintf (path, sizeof path, "/v1/mailboxes/%u/messages?after=%u", connection->nameplate,
                  connection->step - 4);
      send_request (load, connection, "GET", path, connection->secrets[connection->step - 4], NULL);
      break;
    case 6:
    case 7:
      g_snprintf (path, sizeof path, "/v1/mailboxes/%u", connection->nameplate);
      send_request (load, connection, "DELETE", path, connection->secrets[connection->step - 6],
                    NULL);
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
on_response (Load *load, Connection *connection, guint status, const char *body, gsize length)
{
  static const guint expected[] = { 201, 201, 201, 201, 200, 200, 204, 204 };

  connection->responses++;
  if (connection == load->control)
    {
      const char *nameplate = g_strstr_len (body, (gssize)length, "\"nameplate\":\"");

      g_string_truncate (load->control_body, 0);
      g_string_append_len (load->control_body, body, (gssize)length);
      connection->nameplate
          = nameplate != NULL ? (guint)g_ascii_strtoull (nameplate + 13, NULL, 10) : 0;
      read_secret (body, length, connection->secrets[0]);
      if (status >= 300)
        load->failures++;
      return;
    }
  if (connection->work == WORK_WAKE)
    {
      if (status != 201)
        load->failures++;
      if (load->wake_next < load->wake->len)
        send_next (load, connection);
      return;
    }
  if (connection->work == WORK_POLL)
    {
      /* An empty list means the hold ran out before the message came. */
      connection->answered = TRUE;
      if (status != 200 || g_strstr_len (body, (gssize)length, "\"index\"") == NULL)
        load->failures++;
      return;
    }
  if (connection->work == WORK_ROUND_TRIP)
    {
      if (status != expected[connection->step])
        {
          if (load->failures++ == 0)
            printf ("  step %u answered %u: %.*s\n", connection->step, status, (int)length, body);
          connection->step = 0;
        }
      else if (connection->step == 0)
        {
          const char *nameplate = g_strstr_len (body, (gssize)length, "\"nameplate\":\"");

          connection->nameplate
              = nameplate != NULL ? (guint)g_ascii_strtoull (nameplate + 13, NULL, 10) : 0;
          read_secret (body, length, connection->secrets[0]);
          connection->step = 1;
        }
      else if (connection->step == 1)
        {
          read_secret (body, length, connection->secrets[1]);
          connection->step = 2;
        }
      else if (++connection->step == G_N_ELEMENTS (expected))
        {
          connection->step = 0;
          load->round_trips++;
        }
    }
  else if (status != 200)
    {
      load->failures++;
    }

  if (load->running)
    send_next (load, connection);
}

/* Takes every whole response out of the connection's buffer. */
static void
parse_responses (Load *load, Connection *connection)
{
  GByteArray *in = connection->in;

  for (;;)
    {
      const char *data = (const char *)in->data;
      const char *end = g_strstr_len (data, in->len, "\r\n\r\n");
      const char *length_header;
      gsize header_length;
      gsize body_length = 0;
      guint status;

      if (end == NULL)
        return;
      header_length = (gsize)(end - data) + 4;
      length_header = g_strstr_len (data, (gssize)header_length, "\r\nContent-Length: ");
      if (length_header != NULL)
        body_length = g_ascii_strtoull (length_header + 18, NULL, 10);
      if (in->len < header_length + body_length)
        return;

      status = (guint)g_ascii_strtoull (data + strlen ("HTTP/1.1 "), NULL, 10);
      connection->closing
          = g_strstr_len (data, (gssize)header_length, "\r\nConnection: close\r\n") != NULL;
      on_response (load, connection, status, data + header_length, body_length);
      g_byte_array_remove_range (in, 0, (guint)(header_length + body_length));
    }
}

static void
connection_open (Load *load, Connection *connection)
{
  struct epoll_event event = { .events = EPOLLIN, .data.ptr = connection };

  connection->fd = connect_to (connection->port);
  connection->closing = FALSE;
  connection->generation++;
  g_unix_set_fd_nonblocking (connection->fd, TRUE, NULL);
  epoll_ctl (load->epoll_fd, EPOLL_CTL_ADD, connection->fd, &event);
}

/* Closing the descriptor also takes it out of the epoll set. The server
 * hung up after its answer, so nothing is left to read. */
static void
connection_reconnect (Load *load, Connection *connection)
{
  close (connection->fd);
  connection_open (load, connection);
}

static Connection *
connection_new (Load *load, Work work)
{
  Connection *connection = g_new0 (Connection, 1);

  connection->work = work;
  connection->port
      = load->second_port != 0 && load->n_connections++ % 2 == 1 ? load->second_port : load->port;
  connection->in = g_byte_array_sized_new (4096);
  connection_open (load, connection);
  return connection;
}

static void
connection_free (Connection *connection)
{
  close (connection->fd);
  g_byte_array_unref (connection->in);
  g_free (connection);
}

/* Reads whatever is ready, for at most @timeout_ms. */
static void
pump (Load *load, int timeout_ms)
{
  struct epoll_event events[256];
  int n = epoll_wait (load->epoll_fd, events, G_N_ELEMENTS (events), timeout_ms);

  for (int i = 0; i < n; i++)
    {
      Connection *connection = events[i].data.ptr;
      char buffer[16384];
      ssize_t received;
      int fd = connection->fd;
      guint generation = connection->generation;

      /* A read that did not fill the buffer took all there was: the
       * epoll set, level-triggered, tells of more. One system call a
       * response, not two, so the load generator takes less of the CPU
       * it shares with the servers and Redis. */
      while ((received = read (fd, buffer, sizeof buffer)) > 0)
        {
          g_byte_array_append (connection->in, (const guint8 *)buffer, (guint)received);
          if ((size_t)received < sizeof buffer)
            break;
        }
      parse_responses (load, connection);

      /* An end announced by Connection: close has been dealt with. */
      if (received <= 0 && (received == 0 || errno != EAGAIN)
          && connection->generation == generation && !connection->closing)
        {
          epoll_ctl (load->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
          load->failures++;
        }
    }
}

static double
now_seconds (void)
{
  return (double)g_get_monotonic_time () / G_USEC_PER_SEC;
}

/* Nanoseconds @pid has run on a CPU, all its threads together, from the
 * scheduler's own count: exact, and unaffected by whatever else runs on
 * the machine. A thread that ended is not counted. */
static guint64
cpu_time_ns (GPid pid)
{
  g_autofree char *tasks = g_strdup_printf ("/proc/%d/task", (int)pid);
  g_autoptr (GDir) dir = g_dir_open (tasks, 0, NULL);
  const char *name;
  guint64 total = 0;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (tasks, name, "schedstat", NULL);
      g_autofree char *text = NULL;

      if (g_file_get_contents (path, &text, NULL, NULL))
        total += g_ascii_strtoull (text, NULL, 10);
    }
  return total;
}

typedef struct
{
  double requests_per_s;
  double round_trips_per_s;
  double server_busy; /* share of its core the server used */
  double server_us;   /* server CPU time per request */
  double client_busy; /* share of a core the load generator used */
  double redis_busy;  /* share of a core redis-server used, or -1 without it */
} PhaseResult;

/* The CPU time of the server @pid, and of the second one if any. */
static guint64
servers_cpu_ns (const Load *load, GPid pid)
{
  return cpu_time_ns (pid) + (load->second_pid != 0 ? cpu_time_ns (load->second_pid) : 0);
}

/* Runs @n_workers connections doing @work for @seconds, then lets the
 * requests in flight finish. */
static void
run_phase (Load *load, GPid pid, Work work, guint n_workers, double seconds, PhaseResult *result)
{
  g_autoptr (GPtrArray) workers = g_ptr_array_new_with_free_func ((GDestroyNotify)connection_free);
  double started;
  double elapsed;
  guint64 outstanding;
  guint64 server_ns;
  guint64 client_ns;
  guint64 redis_ns = 0;

  for (guint i = 0; i < n_workers; i++)
    g_ptr_array_add (workers, connection_new (load, work));

  load->requests = load->round_trips = load->failures = 0;
  load->running = TRUE;
  server_ns = servers_cpu_ns (load, pid);
  client_ns = cpu_time_ns (getpid ());
  if (load->redis_pid != 0)
    redis_ns = cpu_time_ns (load->redis_pid);
  started = now_seconds ();
  for (guint i = 0; i < workers->len; i++)
    send_next (load, g_ptr_array_index (workers, i));
  while (now_seconds () - started < seconds)
    pump (load, 100);
  elapsed = now_seconds () - started;
  server_ns = servers_cpu_ns (load, pid) - server_ns;
  client_ns = cpu_time_ns (getpid ()) - client_ns;
  if (load->redis_pid != 0)
    redis_ns = cpu_time_ns (load->redis_pid) - redis_ns;
  load->running = FALSE;

  /* Counted when answered: the answers still in flight are not. */
  outstanding = n_workers;
  result->requests_per_s = (double)(load->requests - outstanding) / elapsed;
  result->round_trips_per_s = (double)load->round_trips / elapsed;
  result->server_busy = server_ns / 1e9 / elapsed;
  result->client_busy = client_ns / 1e9 / elapsed;
  result->redis_busy = load->redis_pid != 0 ? redis_ns / 1e9 / elapsed : -1;
  result->server_us = server_ns / 1e3 / (double)(load->requests - outstanding);
  for (guint i = 0; i < 50; i++)
    pump (load, 20);
  if (load->failures > 0)
    printf ("  (%" G_GUINT64_FORMAT " unexpected answers)\n", load->failures);
}

static void
read_rss (GPid pid, guint64 *out_rss_kib, guint64 *out_hwm_kib)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int)pid);
  g_autofree char *status = NULL;
  const char *line;

  *out_rss_kib = *out_hwm_kib = 0;
  if (!g_file_get_contents (path, &status, NULL, NULL))
    return;
  if ((line = strstr (status, "VmRSS:")) != NULL)
    *out_rss_kib = g_ascii_strtoull (line + 6, NULL, 10);
  if ((line = strstr (status, "VmHWM:")) != NULL)
    *out_hwm_kib = g_ascii_strtoull (line + 6, NULL, 10);
}

/* One request on the control connection, waited for: for set-up steps.
 * Returns the nameplate an allocation answers with. */
static guint
request_once (Load *load, const char *method, const char *path, const char *body)
{
  Connection *control = load->control;
  guint64 responses = control->responses;

  load->running = FALSE;
  send_request (load, control, method, path, NULL, body);
  while (control->responses == responses)
    pump (load, 100);
  return control->nameplate;
}

static guint
count_answered (GPtrArray *polls)
{
  guint n = 0;

  for (guint i = 0; i < polls->len; i++)
    n += ((Connection *)g_ptr_array_index (polls, i))->answered;
  return n;
}

/* The server's own count of held polls, from /metrics. */
static guint
count_waiting (Load *load)
{
  const char *line;

  request_once (load, "GET", "/metrics", NULL);
  line = strstr (load->control_body->str, "\npinhole_polls_waiting ");
  return line != NULL ? (guint)g_ascii_strtoull (line + 23, NULL, 10) : 0;
}

/* Waits until the server holds @n polls, or 60 s. */
static gboolean
wait_for_waiting (Load *load, guint n)
{
  double started = now_seconds ();

  while (count_waiting (load) < n)
    {
      if (now_seconds () - started > 60)
        return FALSE;
      pump (load, 10);
    }
  return TRUE;
}

/* What checking a side's secret costs the server, in microseconds: a
 * SHA-256 of what the request presents (ph_store_request_set_secret ())
 * and the constant-time comparison with both seats' stored hashes
 * (ph_store_match_side ()), as every request about a mailbox costs. */
static double
authentication_us (void)
{
  guint8 stored[PH_MAILBOX_SECRET_HASH_SIZE];
  guint8 other[PH_MAILBOX_SECRET_HASH_SIZE];
  g_autofree char *secret = ph_mailbox_secret_new (stored);
  g_autoptr (PhStoreRequest) request = ph_store_request_new (PH_STORE_OP_AUTHENTICATE, 1);
  gint64 start = g_get_monotonic_time ();
  guint matched = 0;

  /* The other seat's hash: any that is not the secret's. */
  ph_mailbox_secret_random (other, sizeof other);
  for (guint i = 0; i < AUTHENTICATION_RUNS; i++)
    {
      ph_store_request_set_secret (request, secret);
      matched += ph_store_match_side (request, TRUE, stored, TRUE, other) == PH_MAILBOX_HOST_SIDE;
    }
  g_assert (matched == AUTHENTICATION_RUNS);
  return (double)(g_get_monotonic_time () - start) / AUTHENTICATION_RUNS;
}

static void
print_phase (const char *name, const PhaseResult *result)
{
  char redis[64] = "";

  if (result->redis_busy >= 0)
    g_snprintf (redis, sizeof redis, "; redis %3.0f%% of a core", 100 * result->redis_busy);
  printf ("  %-24s %6.0f requests/s; server %5.1f us CPU per request, %3.0f%% of its core busy; "
          "client %3.0f%% of a core%s\n",
          name, result->requests_per_s, result->server_us, 100 * result->server_busy,
          100 * result->client_busy, redis);
}

static void
clear_secret (gpointer data)
{
  g_free (*(char **)data);
}

/* Returns the server's RSS in MB while the polls are held. */
static double
run_long_polls (Load *load, GPid pid, guint n_workers, guint n_polls)
{
  g_autoptr (GPtrArray) polls = g_ptr_array_new_with_free_func ((GDestroyNotify)connection_free);
  g_autoptr (GArray) nameplates = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr (GArray) secrets = g_array_new (FALSE, FALSE, sizeof (char *));
  g_autoptr (GPtrArray) wakers = g_ptr_array_new_with_free_func ((GDestroyNotify)connection_free);
  guint n_mailboxes = (n_polls + 1) / 2;
  guint64 rss_before, hwm_before, rss_during, hwm_during, rss_after, hwm_after;
  guint64 server_ns;
  guint64 failures;
  PhaseResult health_held;
  double started;
  double opened;
  double woken;
  double open_cpu_s;
  double wake_cpu_s;
  double per_poll;
  guint answered = 0;
  gboolean all_held;

  g_array_set_clear_func (secrets, clear_secret);
  for (guint i = 0; i < n_mailboxes; i++)
    {
      guint nameplate = request_once (load, "POST", "/v1/mailboxes", NULL);
      char *secret = g_strdup (load->control->secrets[0]);

      g_array_append_val (nameplates, nameplate);
      g_array_append_val (secrets, secret);
    }
  read_rss (pid, &rss_before, &hwm_before);

  load->failures = 0;
  started = now_seconds ();
  server_ns = cpu_time_ns (pid);
  for (guint i = 0; i < n_polls; i++)
    {
      Connection *connection = connection_new (load, WORK_POLL);
      char path[128];

      g_snprintf (path, sizeof path, "/v1/mailboxes/%u/messages?after=0&wait=60",
                  g_array_index (nameplates, guint, i / 2));
      send_request (load, connection, "GET", path, g_array_index (secrets, char *, i / 2), NULL);
      g_ptr_array_add (polls, connection);
      /* Let the server take each thousand before its backlog overflows. */
      if (i % 1000 == 999)
        wait_for_waiting (load, i + 1);
    }
  all_held = wait_for_waiting (load, n_polls);
  opened = now_seconds () - started;
  open_cpu_s = (cpu_time_ns (pid) - server_ns) / 1e9;
  read_rss (pid, &rss_during, &hwm_during);
  per_poll = (double)(rss_during - rss_before) * 1024.0 / n_polls;
  failures = load->failures;

  /* What every other request pays for the held polls. */
  run_phase (load, pid, WORK_HEALTH, n_workers, HELD_PHASE_SECONDS, &health_held);

  /* Wake them all: one message per mailbox, from a few connections. */
  load->failures = failures;
  load->wake = nameplates;
  load->wake_secrets = secrets;
  load->wake_next = 0;
  started = now_seconds ();
  server_ns = cpu_time_ns (pid);
  for (guint i = 0; i < MIN (WAKERS, n_mailboxes); i++)
    {
      Connection *waker = connection_new (load, WORK_WAKE);

      g_ptr_array_add (wakers, waker);
      send_next (load, waker);
    }
  while ((answered = count_answered (polls)) < n_polls && now_seconds () - started < 60)
    pump (load, 100);
  woken = now_seconds () - started;
  wake_cpu_s = (cpu_time_ns (pid) - server_ns) / 1e9;
  read_rss (pid, &rss_after, &hwm_after);

  printf ("\n%u long-polls (wait=60) on %u connections, 2 per mailbox:\n", n_polls, n_polls);
  printf ("  all held after %.2f s%s: %.0f polls/s, server CPU %.0f us per poll taken\n", opened,
          all_held ? "" : " (NOT all: gave up)", n_polls / opened, open_cpu_s * 1e6 / n_polls);
  printf ("  server RSS %.1f MB before, %.1f MB while held: %.0f bytes (%.1f KiB) per held poll\n",
          rss_before / 1024.0, rss_during / 1024.0, per_poll, per_poll / 1024);
  printf ("  target: %u held polls in <= 100 MB RSS: %s (%.1f MB)\n", n_polls,
          rss_during <= 100 * 1024 ? "met" : "NOT met", rss_during / 1024.0);
  print_phase ("GET /v1/health, held", &health_held);
  printf ("  %u messages (1 per mailbox, %d connections) answered %u of %u polls in %.2f s: "
          "%.0f answers/s, server CPU %.0f us per answer\n",
          n_mailboxes, MIN (WAKERS, n_mailboxes), answered, n_polls, woken, answered / woken,
          wake_cpu_s * 1e6 / MAX (answered, 1));
  printf ("  server RSS after %.1f MB, peak %.1f MB\n", rss_after / 1024.0, hwm_after / 1024.0);
  if (load->failures > 0)
    printf ("  (%" G_GUINT64_FORMAT " unexpected answers: errors or holds that ran out)\n",
            load->failures);
  printf ("summary: polls=%u held_s=%.2f rss_held_mb=%.1f bytes_per_poll=%.0f held_health_us=%.1f "
          "wake_all_s=%.2f\n",
          n_polls, opened, rss_during / 1024.0, per_poll, health_held.server_us, woken);
  return rss_during / 1024.0;
}

static void
stop_server (GSubprocess *server)
{
  g_subprocess_send_signal (server, SIGTERM);
  g_subprocess_wait (server, NULL, NULL);
}

/* One store's numbers. */
typedef struct
{
  char *uri;
  char *label;        /* as the tables name it */
  char *scratch;      /* a database the bench made, emptied before each server, or NULL */
  guint16 redis_port; /* the bench's redis-server, flushed before each server, or 0 */
  GPid redis_pid;     /* and its process, whose CPU time each phase gives */
  gboolean two_servers;
  PhaseResult health;
  PhaseResult round_trip; /* the better round */
  double rss_held_mb;
} StoreRun;

static GPid
server_pid (GSubprocess *server)
{
  return (GPid)g_ascii_strtoll (g_subprocess_get_identifier (server), NULL, 10);
}

/* A server on @run's store, which starts empty when the bench made it,
 * and the second one of a run of two (in @out_second, its port in @load). */
static GSubprocess *
start_rendezvous (const char *binary, StoreRun *run, Load *load, GSubprocess **out_second)
{
  if (run->scratch != NULL)
    {
      g_autofree char *wal = g_strconcat (run->scratch, "-wal", NULL);

      g_unlink (run->scratch);
      g_unlink (wal);
    }
  if (run->redis_port != 0)
    {
      g_autofree char *port = g_strdup_printf ("%u", run->redis_port);
      const char *argv[] = { "redis-cli", "-p", port, "FLUSHALL", NULL };
      g_autoptr (GError) error = NULL;

      if (!g_spawn_sync (NULL, (char **)argv, NULL,
                         G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, NULL,
                         NULL, &error))
        g_error ("redis-cli: %s", error->message);
    }
  *out_second = NULL;
  load->second_port = 0;
  load->second_pid = 0;
  load->redis_pid = run->redis_pid;
  /* redis-server on the core with the least else to do, so that neither
   * run has it take turns with a server that is busy the whole time: a
   * core of its own when there is one; on two cores, with the load
   * generator when one server has the other core, with the first server
   * when the second shares the load generator's. */
  if (run->redis_pid != 0 && g_get_num_processors () > 1)
    pin_to_cpu (run->redis_pid, g_get_num_processors () > 2 ? SERVER_CPU + 2
                                : run->two_servers          ? SERVER_CPU
                                                            : SERVER_CPU + 1);
  if (run->two_servers)
    {
      *out_second = start_server_on (binary, run->uri, SERVER_CPU + 1, &load->second_port);
      load->second_pid
          = (GPid)g_ascii_strtoll (g_subprocess_get_identifier (*out_second), NULL, 10);
    }
  return start_server (binary, run->uri, &load->port);
}

/* A redis-server of the bench's own, on a free port, keeping nothing on
 * disk; its port in @out_port. */
static GSubprocess *
start_redis (const char *dir, guint16 *out_port)
{
  g_autoptr (GSocket) probe
      = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *port = NULL;
  GSubprocess *redis;

  /* A port the kernel just handed out and took back: free for a moment. */
  if (!g_socket_bind (probe, any, FALSE, &error)
      || (bound = g_socket_get_local_address (probe, &error)) == NULL)
    g_error ("no free port for redis-server: %s", error->message);
  *out_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (probe, NULL);
  port = g_strdup_printf ("%u", *out_port);
  redis = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error, "redis-server", "--port",
                            port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                            "--dir", dir, NULL);
  if (redis == NULL)
    g_error ("could not start redis-server: %s", error->message);
  for (guint i = 0; i < 100; i++)
    {
      g_autoptr (GSocketClient) client = g_socket_client_new ();
      g_autoptr (GSocketConnection) connection
          = g_socket_client_connect_to_host (client, "127.0.0.1", *out_port, NULL, NULL);

      if (connection != NULL)
        return redis;
      g_usleep (50 * 1000);
    }
  g_error ("redis-server did not listen on port %u", *out_port);
}

static void
stop_rendezvous (GSubprocess **server, GSubprocess **second, Load *load)
{
  stop_server (*server);
  g_clear_object (server);
  if (*second != NULL)
    {
      stop_server (*second);
      g_clear_object (second);
    }
  load->second_port = 0;
  load->second_pid = 0;
  load->redis_pid = 0;
}

static void
print_round_trips (const PhaseResult *round_trip, const PhaseResult *health,
                   const PhaseResult *bare, const PhaseResult *bare_round_trip)
{
  /* Eight requests a round trip: at the health rate, that many round trips. */
  double floor_round_trips = health->requests_per_s / ROUND_TRIP_REQUESTS;
  double auth_us;
  double without_auth_us;

  printf ("mailbox round trips (allocate, join, 2 posts, 2 polls, 2 leaves = %d requests): "
          "%.0f round trips/s\n",
          ROUND_TRIP_REQUESTS, round_trip->round_trips_per_s);
  printf ("  the health floor allows %.0f round trips/s: this is %.0f%% of it "
          "(a round-trip request costs %.2fx a health check)\n",
          floor_round_trips, 100 * round_trip->round_trips_per_s / floor_round_trips,
          round_trip->server_us / health->server_us);
  printf ("  bare libsoup with canned answers makes %.0f round trips/s (%.1f us per request): "
          "Pinhole adds %.1f us (%.0f%%) to a round-trip request, %.1f us to a health check\n",
          bare_round_trip->round_trips_per_s, bare_round_trip->server_us,
          round_trip->server_us - bare_round_trip->server_us,
          100 * (round_trip->server_us - bare_round_trip->server_us) / bare_round_trip->server_us,
          health->server_us - bare->server_us);
  printf ("  target: >= %d round trips/s: %s\n", TARGET_ROUND_TRIPS,
          round_trip->round_trips_per_s >= TARGET_ROUND_TRIPS ? "met" : "NOT met");
  /* The server cannot run without authentication, so its cost is taken
   * out of the round trip measured above, in the same run. */
  auth_us = authentication_us ();
  without_auth_us = round_trip->server_us - auth_us * AUTHENTICATED_REQUESTS / ROUND_TRIP_REQUESTS;
  printf ("  authentication: %.2f us per request that carries a secret (%d of %d): the round "
          "trip keeps %.1f%% of the rate it would have without it (target >= 95%%: %s)\n",
          auth_us, AUTHENTICATED_REQUESTS, ROUND_TRIP_REQUESTS,
          100 * without_auth_us / round_trip->server_us,
          without_auth_us / round_trip->server_us >= 0.95 ? "met" : "NOT met");
  printf ("summary: bare_rps=%.0f bare_us=%.1f bare_round_trips_per_s=%.0f bare_round_trip_us=%.1f "
          "health_rps=%.0f health_us=%.1f round_trips_per_s=%.0f round_trip_requests_per_s=%.0f "
          "round_trip_us=%.1f floor_share=%.2f\n",
          bare->requests_per_s, bare->server_us, bare_round_trip->round_trips_per_s,
          bare_round_trip->server_us, health->requests_per_s, health->server_us,
          round_trip->round_trips_per_s, round_trip->requests_per_s, round_trip->server_us,
          round_trip->round_trips_per_s / floor_round_trips);
}

/* The stores side by side, each against the first. */
static void
print_comparison (const StoreRun *runs, guint n_runs, guint n_polls)
{
  const StoreRun *first = &runs[0];
  const StoreRun *one_redis = NULL;
  int width = 8;

  for (guint i = 0; i < n_runs; i++)
    width = MAX (width, (int)strlen (runs[i].label));
  printf ("\nstores side by side (round trips: the better of %d rounds each):\n", ROUNDS);
  printf ("  %-*s %13s %13s %11s %13s %10s\n", width, "--store", "round trips/s", "vs the first",
          "us/request", "vs the first", "RSS held");
  for (guint i = 0; i < n_runs; i++)
    {
      char rss[32] = "-";

      if (runs[i].rss_held_mb > 0)
        g_snprintf (rss, sizeof rss, "%.1f MB", runs[i].rss_held_mb);
      printf ("  %-*s %13.0f %12.0f%% %11.1f %12.0f%% %10s\n", width, runs[i].label,
              runs[i].round_trip.round_trips_per_s,
              100 * runs[i].round_trip.round_trips_per_s / first->round_trip.round_trips_per_s,
              runs[i].round_trip.server_us,
              100 * first->round_trip.server_us / runs[i].round_trip.server_us, rss);
    }
  /* The targets are against memory, when it runs first. */
  for (guint i = 1; i < n_runs && g_str_has_prefix (first->uri, "memory:"); i++)
    {
      double share = runs[i].round_trip.round_trips_per_s / first->round_trip.round_trips_per_s;
      double target = g_str_has_prefix (runs[i].uri, "sqlite:")         ? TARGET_SQLITE_SHARE
                      : runs[i].redis_port != 0 && !runs[i].two_servers ? TARGET_REDIS_SHARE
                                                                        : 0;

      if (target > 0)
        printf ("  target: %s >= %.0f%% of memory's round trips/s: %s (%.0f%%; by CPU time per "
                "request %.0f%%)\n",
                runs[i].label, 100 * target, share >= target ? "met" : "NOT met", 100 * share,
                100 * first->round_trip.server_us / runs[i].round_trip.server_us);
    }
  for (guint i = 0; i < n_runs; i++)
    {
      if (runs[i].redis_port != 0 && !runs[i].two_servers)
        one_redis = &runs[i];
      else if (runs[i].two_servers && one_redis != NULL)
        {
          double ratio
              = runs[i].round_trip.round_trips_per_s / one_redis->round_trip.round_trips_per_s;

          printf ("  target: two servers on Redis >= %.1fx one: %s (%.2fx)\n", TARGET_TWO_SERVERS,
                  ratio >= TARGET_TWO_SERVERS ? "met" : "NOT met", ratio);
        }
    }
  for (guint i = 0; i < n_runs; i++)
    if (runs[i].rss_held_mb > 0)
      printf ("  target: %u held polls in <= 100 MB RSS on %s: %s\n", n_polls, runs[i].label,
              runs[i].rss_held_mb <= 100 ? "met" : "NOT met");
  for (guint i = 0; i < n_runs; i++)
    printf ("summary: store=%s servers=%d round_trips_per_s=%.0f round_trip_us=%.1f share=%.2f "
            "rss_held_mb=%.1f\n",
            runs[i].uri, runs[i].two_servers ? 2 : 1, runs[i].round_trip.round_trips_per_s,
            runs[i].round_trip.server_us,
            runs[i].round_trip.round_trips_per_s / first->round_trip.round_trips_per_s,
            runs[i].rss_held_mb);
}

int
main (int argc, char *argv[])
{
  g_autoptr (GSubprocess) server = NULL;
  g_autoptr (GSubprocess) second = NULL;
  g_autoptr (GSubprocess) redis = NULL;
  g_auto (GStrv) stores = NULL;
  gboolean with_redis = FALSE;
  guint16 redis_port = 0;
  GOptionEntry entries[]
      = { { "store", 0, 0, G_OPTION_ARG_STRING_ARRAY, &stores,
            "A store to measure, repeatable (memory: and sqlite: in a temporary folder)", "URI" },
          { "redis", 0, 0, G_OPTION_ARG_NONE, &with_redis,
            "Also one and two servers on a redis-server the bench starts", NULL },
          { NULL } };
  g_autoptr (GOptionContext) context = g_option_context_new ("[WORKERS [POLLS]]");
  g_autoptr (GError) error = NULL;
  g_autofree char *scratch_dir = NULL;
  guint n_workers;
  guint n_polls;
  const char *binary = g_getenv ("PINHOLE_RENDEZVOUS_BIN");
  const char *floor_binary = g_getenv ("PINHOLE_SOUP_FLOOR_BIN");
  struct rlimit files;
  Load load = { 0 };
  PhaseResult bare;
  PhaseResult bare_round_trip;
  StoreRun *runs;
  guint n_runs;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    g_error ("%s", error->message);
  n_workers = argc > 1 ? (guint)g_ascii_strtoull (argv[1], NULL, 10) : DEFAULT_WORKERS;
  n_polls = argc > 2 ? (guint)g_ascii_strtoull (argv[2], NULL, 10) : DEFAULT_POLLS;
  if (binary == NULL)
    binary = PH_BENCH_RENDEZVOUS_BIN;

  scratch_dir = g_dir_make_tmp ("bench-rendezvous-XXXXXX", &error);
  if (scratch_dir == NULL)
    g_error ("%s", error->message);
  n_runs = (stores != NULL ? g_strv_length (stores) : 2) + (with_redis ? 2 : 0);
  runs = g_new0 (StoreRun, n_runs);
  if (stores != NULL)
    {
      for (guint i = 0; stores[i] != NULL; i++)
        runs[i].uri = g_strdup (stores[i]);
    }
  else
    {
      runs[0].uri = g_strdup ("memory:");
      runs[1].scratch = g_build_filename (scratch_dir, "rendezvous.db", NULL);
      runs[1].uri = g_strconcat ("sqlite:", runs[1].scratch, NULL);
    }
  if (with_redis)
    {
      redis = start_redis (scratch_dir, &redis_port);
      for (guint i = n_runs - 2; i < n_runs; i++)
        {
          runs[i].uri = g_strdup_printf ("redis://127.0.0.1:%u", redis_port);
          runs[i].redis_port = redis_port;
          runs[i].redis_pid = server_pid (redis);
        }
      runs[n_runs - 1].two_servers = TRUE;
    }
  for (guint i = 0; i < n_runs; i++)
    runs[i].label
        = runs[i].two_servers ? g_strconcat (runs[i].uri, " x2", NULL) : g_strdup (runs[i].uri);

  /* Both ends need a descriptor per connection; the server inherits this. */
  getrlimit (RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit (RLIMIT_NOFILE, &files);
  if (files.rlim_cur < n_polls + 100)
    {
      n_polls = (guint)files.rlim_cur - 100;
      printf ("the open-files limit is %lu: %u long-polls only\n", (unsigned long)files.rlim_cur,
              n_polls);
    }
  /* The load generator keeps off the server's core when it can. */
  if (g_get_num_processors () > 1)
    pin_to_cpu (0, SERVER_CPU + 1);
  load.epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  load.control_body = g_string_new (NULL);

  printf ("servers pinned to CPU %d, %u keep-alive connections, %d s per phase\n", SERVER_CPU,
          n_workers, PHASE_SECONDS);

  /* libsoup alone, with canned answers to the same loads: its own cost. */
  server = start_server (floor_binary != NULL ? floor_binary : PH_BENCH_SOUP_FLOOR_BIN, NULL,
                         &load.port);
  run_phase (&load, server_pid (server), WORK_HEALTH, n_workers, PHASE_SECONDS, &bare);
  print_phase ("bare libsoup, health", &bare);
  run_phase (&load, server_pid (server), WORK_ROUND_TRIP, n_workers, PHASE_SECONDS,
             &bare_round_trip);
  print_phase ("bare libsoup, round trips", &bare_round_trip);
  stop_server (server);
  g_clear_object (&server);

  /* Round trips in rounds, a fresh server each, the stores taking turns. */
  for (guint round = 0; round < ROUNDS; round++)
    for (guint i = 0; i < n_runs; i++)
      {
        PhaseResult round_trip;

        server = start_rendezvous (binary, &runs[i], &load, &second);
        load.control = connection_new (&load, WORK_ROUND_TRIP);
        if (round == 0)
          {
            printf ("\n--store %s:\n", runs[i].label);
            run_phase (&load, server_pid (server), WORK_HEALTH, n_workers, PHASE_SECONDS,
                       &runs[i].health);
            print_phase ("GET /v1/health", &runs[i].health);
          }
        else
          {
            printf ("\n--store %s, round %u:\n", runs[i].label, round + 1);
          }
        run_phase (&load, server_pid (server), WORK_ROUND_TRIP, n_workers, PHASE_SECONDS,
                   &round_trip);
        print_phase ("round-trip requests", &round_trip);
        if (round_trip.round_trips_per_s > runs[i].round_trip.round_trips_per_s)
          runs[i].round_trip = round_trip;
        if (round == 0)
          print_round_trips (&round_trip, &runs[i].health, &bare, &bare_round_trip);
        connection_free (load.control);
        stop_rendezvous (&server, &second, &load);
      }

  /* Held polls on one server each: what one process's memory holds. */
  for (guint i = 0; i < n_runs; i++)
    {
      if (runs[i].two_servers)
        continue;
      server = start_rendezvous (binary, &runs[i], &load, &second);
      load.control = connection_new (&load, WORK_ROUND_TRIP);
      printf ("\n--store %s:", runs[i].label);
      runs[i].rss_held_mb = run_long_polls (&load, server_pid (server), n_workers, n_polls);
      connection_free (load.control);
      stop_rendezvous (&server, &second, &load);
    }

  if (n_runs > 1)
    print_comparison (runs, n_runs, n_polls);

  for (guint i = 0; i < n_runs; i++)
    {
      if (runs[i].scratch != NULL)
        {
          g_autofree char *wal = g_strconcat (runs[i].scratch, "-wal", NULL);

          g_unlink (runs[i].scratch);
          g_unlink (wal);
        }
      g_free (runs[i].uri);
      g_free (runs[i].label);
      g_free (runs[i].scratch);
    }
  g_free (runs);
  if (redis != NULL)
    {
      g_subprocess_send_signal (redis, SIGTERM);
      g_subprocess_wait (redis, NULL, NULL);
    }
  if (scratch_dir != NULL)
    g_rmdir (scratch_dir);
  g_string_free (load.control_body, TRUE);
  close (load.epoll_fd);
  return 0;
}
