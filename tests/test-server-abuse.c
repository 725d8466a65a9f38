/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-server-abuse"

#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "ph-memory-store.h"
#include "ph-rate-limiter.h"
#include "ph-test-server.h"
#include "ph-test-wait.h"

/* The rendezvous server against clients that misbehave: slow, idle,
 * oversized or greedy. Every client is a raw socket driven from the main
 * loop, since the server runs in this process on the same loop. */

/* Anything that takes longer than this has hung: the test fails. */
#define DEADLINE_MS ph_test_scaled_ms (120 * 1000)
#define N_SLOW_CLIENTS 200
#define CLIENT_TIMEOUT_SECONDS 2

typedef struct
{
  PhRendezvousServer *server;
  guint port;
} Fixture;

/* One connection: writes @out as fast as the server reads it, and keeps
 * what comes back until the server closes the connection. */
typedef struct
{
  GSocket *socket;
  GSource *reader;
  GSource *writer;
  GBytes *out;
  gsize sent;
  GByteArray *in;
  gboolean closed;
  gint64 opened_us;
  gint64 closed_us;
} Raw;

/* Iterates the main loop until @check says so; fails the test on a hang. */
static void
wait_until (gboolean (*check) (gpointer data), gpointer data)
{
  g_assert_true (ph_test_wait_until (check, data, DEADLINE_MS));
}

static void
fixture_start (Fixture *fixture, const char *first_property, ...)
{
  va_list args;

  va_start (args, first_property);
  fixture->server = ph_test_server_start_valist (0, first_property, args);
  va_end (args);
  fixture->port = ph_rendezvous_server_get_port (fixture->server);
}

static void
fixture_stop (Fixture *fixture)
{
  g_assert_finalize_object (fixture->server);
}

static void
raw_mark_closed (Raw *raw)
{
  if (raw->closed)
    return;
  raw->closed = TRUE;
  raw->closed_us = g_get_monotonic_time ();
  if (raw->writer != NULL)
    {
      g_source_destroy (raw->writer);
      g_clear_pointer (&raw->writer, g_source_unref);
    }
}

static gboolean
raw_readable_cb (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Raw *raw = user_data;
  char buffer[16384];
  g_autoptr (GError) error = NULL;
  gssize received = g_socket_receive (socket, buffer, sizeof buffer, NULL, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return G_SOURCE_CONTINUE;

  if (received > 0)
    {
      g_byte_array_append (raw->in, (const guint8 *)buffer, (guint)received);
      return G_SOURCE_CONTINUE;
    }

  /* End of file, or a reset when the server left our data unread. */
  raw_mark_closed (raw);
  g_clear_pointer (&raw->reader, g_source_unref);
  return G_SOURCE_REMOVE;
}

static gboolean
raw_writable_cb (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Raw *raw = user_data;
  gsize size;
  const char *data = g_bytes_get_data (raw->out, &size);
  g_autoptr (GError) error = NULL;
  gssize sent = g_socket_send (socket, data + raw->sent, size - raw->sent, NULL, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return G_SOURCE_CONTINUE;

  /* A server that stops reading may reset the connection under us. */
  if (sent > 0)
    raw->sent += (gsize)sent;
  if (sent > 0 && raw->sent < size)
    return G_SOURCE_CONTINUE;

  g_clear_pointer (&raw->writer, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void
raw_send (Raw *raw, GBytes *bytes)
{
  g_assert_null (raw->writer);
  g_clear_pointer (&raw->out, g_bytes_unref);
  raw->out = g_bytes_ref (bytes);
  raw->sent = 0;
  raw->writer = g_socket_create_source (raw->socket, G_IO_OUT, NULL);
  g_source_set_callback (raw->writer, G_SOURCE_FUNC (raw_writable_cb), raw, NULL);
  g_source_attach (raw->writer, NULL);
}

static void
raw_send_text (Raw *raw, const char *text)
{
  g_autoptr (GBytes) bytes = g_bytes_new (text, strlen (text));

  raw_send (raw, bytes);
}

static Raw *
raw_connect (Fixture *fixture)
{
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, fixture->port);
  g_autoptr (GError) error = NULL;
  Raw *raw = g_new0 (Raw, 1);

  /* On loopback the kernel completes the handshake from the backlog, so a
   * blocking connect returns before the server accepts. */
  raw->socket
      = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_connect (raw->socket, address, NULL, &error));
  g_assert_no_error (error);
  g_socket_set_blocking (raw->socket, FALSE);

  raw->in = g_byte_array_new ();
  raw->opened_us = g_get_monotonic_time ();
  raw->reader = g_socket_create_source (raw->socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (raw->reader, G_SOURCE_FUNC (raw_readable_cb), raw, NULL);
  g_source_attach (raw->reader, NULL);
  return raw;
}

static void
raw_free (Raw *raw)
{
  if (raw->reader != NULL)
    g_source_destroy (raw->reader);
  g_clear_pointer (&raw->reader, g_source_unref);
  if (raw->writer != NULL)
    g_source_destroy (raw->writer);
  g_clear_pointer (&raw->writer, g_source_unref);
  g_clear_object (&raw->socket);
  g_clear_pointer (&raw->out, g_bytes_unref);
  g_clear_pointer (&raw->in, g_byte_array_unref);
  g_free (raw);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Raw, raw_free)

static gboolean
raw_is_closed (gpointer data)
{
  return ((Raw *)data)->closed;
}

/* The response as text; the server closes after it (Connection: close). */
static const char *
raw_response (Raw *raw)
{
  g_byte_array_append (raw->in, (const guint8 *)"", 1);
  g_byte_array_set_size (raw->in, raw->in->len - 1);
  return (const char *)raw->in->data;
}

static guint
response_status (const char *response)
{
  if (!g_str_has_prefix (response, "HTTP/1.1 "))
    return 0;
  return (guint)g_ascii_strtoull (response + strlen ("HTTP/1.1 "), NULL, 10);
}

/* The value of header @name in @response, or NULL. */
static char *
response_header (const char *response, const char *name)
{
  g_autofree char *needle = g_strdup_printf ("\r\n%s: ", name);
  const char *start = strstr (response, needle);
  const char *end;

  if (start == NULL)
    return NULL;
  start += strlen (needle);
  end = strstr (start, "\r\n");
  return end != NULL ? g_strndup (start, (gsize)(end - start)) : NULL;
}

/* The secret an allocation answered with; the answer's body is ours,
 * so no JSON parser is needed to find it. */
static char *
response_secret (const char *response)
{
  const char *start = strstr (response, "\"secret\":\"");

  g_assert_nonnull (start);
  return g_strndup (start + strlen ("\"secret\":\""), 64);
}

/* Sends one request (with the Authorization of @secret, unless NULL),
 * closing after it, and waits for the whole answer. */
static Raw *
request_with (Fixture *fixture, const char *secret, const char *method, const char *path,
              const char *body)
{
  Raw *raw = raw_connect (fixture);
  g_autofree char *authorization
      = secret != NULL ? g_strdup_printf ("Authorization: Bearer %s\r\n", secret) : g_strdup ("");
  g_autofree char *text = g_strdup_printf (
      "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
      "Content-Length: %zu\r\n\r\n%s",
      method, path, authorization, body != NULL ? strlen (body) : 0, body != NULL ? body : "");

  raw_send_text (raw, text);
  wait_until (raw_is_closed, raw);
  return raw;
}

static Raw *
request (Fixture *fixture, const char *method, const char *path, const char *body)
{
  return request_with (fixture, NULL, method, path, body);
}

/* The server's metrics; waits out the rate limit, which they are under too. */
static char *
fetch_metrics (Fixture *fixture)
{
  for (guint attempt = 0; attempt < 10; attempt++)
    {
      g_autoptr (Raw) raw = request (fixture, "GET", "/metrics", NULL);
      const char *response = raw_response (raw);

      if (response_status (response) == 200)
        return g_strdup (strstr (response, "\r\n\r\n") + 4);
      g_assert_cmpuint (response_status (response), ==, 429);
      ph_test_run_for (1000);
    }
  g_assert_not_reached ();
}

/* The value of the metric line that starts with @name (labels included). */
static guint64
metric (const char *metrics, const char *name)
{
  g_autofree char *needle = g_strdup_printf ("\n%s ", name);
  const char *line = strstr (metrics, needle);
  char *end = NULL;
  guint64 value;

  g_assert_nonnull (line);
  value = g_ascii_strtoull (line + strlen (needle), &end, 10);
  g_assert_true (*end == '\n');
  return value;
}

/* What is left once every abusive client has gone: no poll waits, the
 * metrics request is the only connection, the mailboxes are as expected. */
static void
assert_settled (Fixture *fixture, guint64 mailboxes_open)
{
  g_autofree char *metrics = fetch_metrics (fixture);

  g_assert_cmpuint (metric (metrics, "pinhole_polls_waiting"), ==, 0);
  g_assert_cmpuint (metric (metrics, "pinhole_mailboxes_open"), ==, mailboxes_open);
  g_assert_cmpuint (metric (metrics, "pinhole_connections_open"), ==, 1);
}

static gboolean
all_closed (gpointer data)
{
  GPtrArray *raws = data;

  for (guint i = 0; i < raws->len; i++)
    if (!((Raw *)g_ptr_array_index (raws, i))->closed)
      return FALSE;
  return TRUE;
}

typedef struct
{
  GPtrArray *raws;
  const char *request;
  gsize offset;
} Trickle;

/* Sends every slow client the next byte of a request it never finishes. */
static gboolean
trickle_cb (gpointer user_data)
{
  Trickle *trickle = user_data;

  for (guint i = 0; i < trickle->raws->len; i++)
    {
      Raw *raw = g_ptr_array_index (trickle->raws, i);

      /* The odd ones say nothing at all. */
      if (i % 2 == 0 && !raw->closed)
        g_socket_send (raw->socket, trickle->request + trickle->offset, 1, NULL, NULL);
    }
  trickle->offset = (trickle->offset + 1) % strlen (trickle->request);
  return G_SOURCE_CONTINUE;
}

static void
test_slowloris (void)
{
  Fixture fixture = { 0 };
  g_autoptr (GPtrArray) slow = g_ptr_array_new_with_free_func ((GDestroyNotify)raw_free);
  Trickle trickle = { slow, "GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", 0 };
  g_autofree char *metrics = NULL;
  gint64 started_us;
  guint trickle_id;
  g_autoptr (PhRateLimiter) limiter
      = g_object_new (PH_TYPE_RATE_LIMITER, "rate", 1000, "burst", 1000, NULL);

  fixture_start (&fixture, "client-timeout", CLIENT_TIMEOUT_SECONDS, "limiter", limiter, NULL);

  for (guint i = 0; i < N_SLOW_CLIENTS; i++)
    g_ptr_array_add (slow, raw_connect (&fixture));
  trickle_id = g_timeout_add (50, trickle_cb, &trickle);
  ph_test_run_for (500);

  /* Two hundred slow clients do not keep a normal one waiting. */
  for (guint i = 0; i < 5; i++)
    {
      g_autoptr (Raw) normal = NULL;

      started_us = g_get_monotonic_time ();
      normal = request (&fixture, "GET", "/v1/health", NULL);
      g_assert_cmpuint (response_status (raw_response (normal)), ==, 200);
      g_assert_cmpint (normal->closed_us - started_us, <, ph_test_scaled_ms (500) * (gint64)1000);
    }

  /* Each is dropped once its time is up, not before, however it trickles. */
  wait_until (all_closed, slow);
  g_source_remove (trickle_id);
  for (guint i = 0; i < slow->len; i++)
    {
      Raw *raw = g_ptr_array_index (slow, i);
      gint64 lived_us = raw->closed_us - raw->opened_us;

      g_assert_cmpuint (raw->in->len, ==, 0);
      g_assert_cmpint (lived_us, >=, (CLIENT_TIMEOUT_SECONDS * 1000 - 100) * 1000);
      g_assert_cmpint (lived_us, <=,
                       CLIENT_TIMEOUT_SECONDS * G_USEC_PER_SEC
                           + ph_test_scaled_ms (2000) * (gint64)1000);
    }

  metrics = fetch_metrics (&fixture);
  g_assert_cmpuint (metric (metrics, "pinhole_connections_timed_out_total"), ==, N_SLOW_CLIENTS);
  assert_settled (&fixture, 0);
  fixture_stop (&fixture);
}

/* A kept-alive connection that goes quiet after its answer is closed too. */
static void
test_idle_keep_alive (void)
{
  Fixture fixture = { 0 };
  g_autoptr (Raw) idle = NULL;

  fixture_start (&fixture, "client-timeout", 1, NULL);

  idle = raw_connect (&fixture);
  raw_send_text (idle, "GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  wait_until (raw_is_closed, idle);
  g_assert_cmpuint (response_status (raw_response (idle)), ==, 200);
  g_assert_cmpint (idle->closed_us - idle->opened_us, >=, 900 * 1000);

  assert_settled (&fixture, 0);
  fixture_stop (&fixture);
}

static gint64
peak_rss_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  line = strstr (status, "VmHWM:");
  g_assert_nonnull (line);
  return g_ascii_strtoll (line + strlen ("VmHWM:"), NULL, 10);
}

static void
test_oversized_headers (void)
{
  Fixture fixture = { 0 };
  g_autofree char *filler = g_strnfill (100 * 1024, 'x');
  g_autoptr (GString) many = g_string_new ("GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  g_autofree char *long_line = NULL;
  const char *attacks[2];
  g_autoptr (Raw) normal = NULL;
  g_autoptr (PhRateLimiter) limiter
      = g_object_new (PH_TYPE_RATE_LIMITER, "rate", 1000, "burst", 1000, NULL);

  fixture_start (&fixture, "limiter", limiter, NULL);

  long_line = g_strdup_printf ("GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: %s\r\n\r\n",
                               filler);
  for (guint i = 0; i < 2000; i++)
    g_string_append_printf (many, "X-Header-%u: %.50s\r\n", i, filler);
  g_string_append (many, "\r\n");
  attacks[0] = long_line;
  attacks[1] = many->str;

  for (guint i = 0; i < G_N_ELEMENTS (attacks); i++)
    {
      g_autoptr (Raw) raw = raw_connect (&fixture);
      guint status;

      raw_send_text (raw, attacks[i]);
      wait_until (raw_is_closed, raw);

      /* Refused with a 4xx, or simply hung up on: never served. */
      status = response_status (raw_response (raw));
      g_assert_true (raw->in->len == 0 || (status >= 400 && status < 500));
    }

  normal = request (&fixture, "GET", "/v1/health", NULL);
  g_assert_cmpuint (response_status (raw_response (normal)), ==, 200);

  assert_settled (&fixture, 0);
  fixture_stop (&fixture);
}

static GBytes *
big_post (gboolean chunked, gsize size)
{
  g_autoptr (GString) text = g_string_new ("POST /v1/mailboxes/1/messages HTTP/1.1\r\n"
                                           "Host: 127.0.0.1\r\nConnection: close\r\n");
  g_autofree char *filler = g_strnfill (65536, 'x');

  if (!chunked)
    {
      g_string_append_printf (text, "Content-Length: %zu\r\n\r\n", size);
      for (gsize done = 0; done < size; done += 65536)
        g_string_append_len (text, filler, MIN (65536, size - done));
    }
  else
    {
      g_string_append (text, "Transfer-Encoding: chunked\r\n\r\n");
      for (gsize done = 0; done < size; done += 65536)
        {
          g_string_append_printf (text, "%x\r\n", 65536);
          g_string_append_len (text, filler, 65536);
          g_string_append (text, "\r\n");
        }
      g_string_append (text, "0\r\n\r\n");
    }
  return g_string_free_to_bytes (g_steal_pointer (&text));
}

static void
test_oversized_bodies (void)
{
  Fixture fixture = { 0 };
  gsize size = 32 * 1024 * 1024;
  g_autoptr (GBytes) with_length = big_post (FALSE, size);
  g_autoptr (GBytes) chunked = big_post (TRUE, size);
  g_autoptr (Raw) never_sent = NULL;
  g_autoptr (Raw) allocated = NULL;
  g_autofree char *metrics = NULL;
  GBytes *bodies[] = { with_length, chunked };
  G_GNUC_UNUSED gint64 peak_before = peak_rss_kib ();
  g_autoptr (PhRateLimiter) limiter
      = g_object_new (PH_TYPE_RATE_LIMITER, "rate", 1000, "burst", 1000, NULL);

  fixture_start (&fixture, "client-timeout", CLIENT_TIMEOUT_SECONDS, "limiter", limiter, NULL);
  allocated = request (&fixture, "POST", "/v1/mailboxes", NULL);
  g_assert_cmpuint (response_status (raw_response (allocated)), ==, 201);

  for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      g_autoptr (Raw) raw = raw_connect (&fixture);

      raw_send (raw, bodies[i]);
      wait_until (raw_is_closed, raw);
      g_assert_cmpuint (response_status (raw_response (raw)), ==, 413);
      g_assert_nonnull (strstr (raw_response (raw), "\"too-large\""));
    }

    /* The bodies went through the server without being kept: one kept
     * body alone would be 32 MiB (and twice that under valgrind).
     * AddressSanitizer keeps freed memory in quarantine, so its peak says
     * nothing about what was kept; the plain and valgrind runs check it. */
#ifndef __SANITIZE_ADDRESS__
  g_assert_cmpint (peak_rss_kib () - peak_before, <, (ph_test_under_valgrind () ? 32 : 8) * 1024);
#endif

  /* A body announced and never sent costs the client its connection. */
  never_sent = raw_connect (&fixture);
  raw_send_text (never_sent, "POST /v1/mailboxes/1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             "Content-Length: 1000000000\r\n\r\n{\"phase\":");
  wait_until (raw_is_closed, never_sent);
  g_assert_cmpint (never_sent->closed_us - never_sent->opened_us, >=,
                   (CLIENT_TIMEOUT_SECONDS * 1000 - 100) * 1000);

  metrics = fetch_metrics (&fixture);
  g_assert_cmpuint (metric (metrics, "pinhole_errors_total{code=\"too-large\"}"), >=, 2);
  g_assert_cmpuint (metric (metrics, "pinhole_messages_total"), ==, 0);
  assert_settled (&fixture, 1);
  fixture_stop (&fixture);
}

static void
test_allocation_flood (void)
{
  Fixture fixture = { 0 };
  g_autoptr (GPtrArray) flood = g_ptr_array_new_with_free_func ((GDestroyNotify)raw_free);
  g_autofree char *metrics = NULL;
  guint created = 0;
  guint limited = 0;
  guint full = 0;
  guint refilled;
  gint64 start_us;
  g_autoptr (PhRateLimiter) limiter
      = g_object_new (PH_TYPE_RATE_LIMITER, "rate", 10, "burst", 40, NULL);
  g_autoptr (PhMemoryStore) store = g_object_new (PH_TYPE_MEMORY_STORE, "max-mailboxes", 25, NULL);

  /* Every client here is 127.0.0.1: the global caps are under test, not
   * the per-client ones (test-server-limits.c). */
  fixture_start (&fixture, "limiter", limiter, "store", store, "allocations-per-minute", 1000,
                 "max-mailboxes-per-client", 1000, NULL);

  start_us = g_get_monotonic_time ();
  for (guint i = 0; i < 300; i++)
    {
      Raw *raw = raw_connect (&fixture);

      raw_send_text (raw, "POST /v1/mailboxes HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Connection: close\r\nContent-Length: 0\r\n\r\n");
      g_ptr_array_add (flood, raw);
    }
  wait_until (all_closed, flood);
  /* Tokens refill at 10 a second while the flood is answered: slower
   * under valgrind. */
  refilled = (guint)((g_get_monotonic_time () - start_us) * 10 / G_USEC_PER_SEC) + 1;

  for (guint i = 0; i < flood->len; i++)
    {
      const char *response = raw_response (g_ptr_array_index (flood, i));
      g_autofree char *retry_after = response_header (response, "Retry-After");
      guint64 seconds = 0;

      switch (response_status (response))
        {
        case 201:
          created++;
          break;
        case 429:
          limited++;
          g_assert_nonnull (retry_after);
          g_assert_true (g_ascii_string_to_unsigned (retry_after, 10, 1, 60, &seconds, NULL));
          g_assert_nonnull (strstr (response, "\"rate-limited\""));
          break;
        case 503:
          full++;
          g_assert_nonnull (retry_after);
          g_assert_nonnull (strstr (response, "\"no-free-mailbox\""));
          break;
        default:
          g_assert_not_reached ();
        }
    }

  /* The burst lets 40 through (and those the tokens refilled meanwhile),
   * of which the store holds at most 25; everything else is refused. */
  g_assert_cmpuint (created, ==, 25);
  g_assert_cmpuint (created + full, >=, 40);
  g_assert_cmpuint (created + full, <=, 40 + refilled);
  g_assert_cmpuint (limited, ==, flood->len - created - full);

  metrics = fetch_metrics (&fixture);
  g_assert_cmpuint (metric (metrics, "pinhole_mailboxes_allocated_total"), ==, 25);
  g_assert_cmpuint (metric (metrics, "pinhole_rate_limited_total"), >=, limited);
  g_assert_cmpuint (metric (metrics, "pinhole_errors_total{code=\"no-free-mailbox\"}"), ==, full);
  assert_settled (&fixture, 25);
  fixture_stop (&fixture);
}

static gboolean
has_waiting_polls (gpointer data)
{
  Fixture *fixture = data;

  return ph_rendezvous_server_get_waiting_polls (fixture->server) == 200;
}

static gboolean
has_half_the_polls (gpointer data)
{
  Fixture *fixture = data;

  return ph_rendezvous_server_get_waiting_polls (fixture->server) == 100;
}

/* Many held long-polls: those whose client vanishes are freed at once, the
 * others are all answered by one message. */
static void
test_many_polls (void)
{
  Fixture fixture = { 0 };
  g_autoptr (GPtrArray) polls = g_ptr_array_new_with_free_func ((GDestroyNotify)raw_free);
  g_autoptr (GPtrArray) answered = g_ptr_array_new ();
  g_autoptr (Raw) allocated = NULL;
  g_autoptr (Raw) posted = NULL;
  g_autofree char *secret = NULL;
  g_autofree char *poll = NULL;
  g_autoptr (PhRateLimiter) limiter
      = g_object_new (PH_TYPE_RATE_LIMITER, "rate", 10000, "burst", 10000, NULL);

  fixture_start (&fixture, "limiter", limiter, "client-timeout", 1, "max-polls-per-client", 1000,
                 NULL);
  allocated = request (&fixture, "POST", "/v1/mailboxes", NULL);
  g_assert_cmpuint (response_status (raw_response (allocated)), ==, 201);
  secret = response_secret (raw_response (allocated));
  poll = g_strdup_printf ("GET /v1/mailboxes/1/messages?after=0&wait=30 HTTP/1.1\r\n"
                          "Host: 127.0.0.1\r\nConnection: close\r\n"
                          "Authorization: Bearer %s\r\n\r\n",
                          secret);

  for (guint i = 0; i < 200; i++)
    {
      Raw *raw = raw_connect (&fixture);

      raw_send_text (raw, poll);
      g_ptr_array_add (polls, raw);
    }
  wait_until (has_waiting_polls, &fixture);

  /* Held polls outlive the client timeout: the hold bounds them instead. */
  ph_test_run_for (1500);
  g_assert_cmpuint (ph_rendezvous_server_get_waiting_polls (fixture.server), ==, 200);

  for (guint i = 0; i < polls->len; i++)
    {
      Raw *raw = g_ptr_array_index (polls, i);

      if (i % 2 == 1)
        {
          g_ptr_array_add (answered, raw);
          continue;
        }
      g_source_destroy (raw->reader);
      g_clear_pointer (&raw->reader, g_source_unref);
      g_socket_close (raw->socket, NULL);
      raw->closed = TRUE;
    }
  wait_until (has_half_the_polls, &fixture);

  posted = request_with (&fixture, secret, "POST", "/v1/mailboxes/1/messages",
                         "{\"phase\":\"pake\",\"body\":\"aGk=\"}");
  g_assert_cmpuint (response_status (raw_response (posted)), ==, 201);
  wait_until (all_closed, answered);
  for (guint i = 0; i < answered->len; i++)
    {
      const char *response = raw_response (g_ptr_array_index (answered, i));

      g_assert_cmpuint (response_status (response), ==, 200);
      g_assert_nonnull (strstr (response, "\"aGk=\""));
    }

  assert_settled (&fixture, 1);
  fixture_stop (&fixture);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/abuse/slowloris", test_slowloris);
  g_test_add_func ("/server/abuse/idle-keep-alive", test_idle_keep_alive);
  g_test_add_func ("/server/abuse/oversized-headers", test_oversized_headers);
  g_test_add_func ("/server/abuse/oversized-bodies", test_oversized_bodies);
  g_test_add_func ("/server/abuse/allocation-flood", test_allocation_flood);
  g_test_add_func ("/server/abuse/many-polls", test_many_polls);

  return g_test_run ();
}
