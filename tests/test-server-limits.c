/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-server-limits"

#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "ph-memory-store.h"
#include "ph-rate-limiter.h"
#include "ph-test-programs.h"
#include "ph-test-server.h"
#include "ph-test-wait.h"

/* What one client may hold: a client that reaches a cap is refused with
 * the cap's error while another client is still served. Clients are told
 * apart by address: 127.0.0.1 and 127.0.0.2 (Linux routes all of
 * 127.0.0.0/8 on loopback), and, behind a proxy the server trusts, the
 * addresses its X-Forwarded-For or Forwarded header names. */

#define DEADLINE_MS ph_test_scaled_ms (15000)

#define HOST 1
#define JOINER 2
/* A post names no side: the secret it carries does. */
#define MESSAGE "{\"phase\":\"pake\",\"body\":\"aGk=\"}"

/* The other client, on another address of loopback. */
#define OTHER "127.0.0.2"

typedef struct
{
  PhRendezvousServer *server; /* NULL when the server is another process */
  GInetAddress *host;
  guint port;
} Fixture;

/* One connection to the server: what it answers, kept until it closes. */
typedef struct
{
  GSocket *socket;
  GSource *reader;
  GByteArray *in;
  gboolean closed;
} Conn;

/* One answer: its status, Retry-After, and the JSON body's fields. */
typedef struct
{
  guint status;
  char *retry_after;
  char *error;
  char *message;
  char *nameplate;
  gint64 side;
  char *secret;
} Answer;

static void
answer_free (Answer *answer)
{
  g_free (answer->retry_after);
  g_free (answer->error);
  g_free (answer->message);
  g_free (answer->nameplate);
  g_free (answer->secret);
  g_free (answer);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Answer, answer_free)

/* What a side holds once it took its seat: every later request about the
 * mailbox carries the secret. */
typedef struct
{
  guint nameplate;
  char *secret;
} Seat;

static void
seat_clear (Seat *seat)
{
  g_clear_pointer (&seat->secret, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Seat, seat_clear)

static void
fixture_start (Fixture *fixture, const char *first_property, ...)
{
  va_list args;

  va_start (args, first_property);
  fixture->server = ph_test_server_start_valist (0, first_property, args);
  va_end (args);
  fixture->host = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  fixture->port = ph_rendezvous_server_get_port (fixture->server);
}

static void
fixture_stop (Fixture *fixture)
{
  if (fixture->server != NULL)
    g_assert_finalize_object (fixture->server);
  g_clear_object (&fixture->host);
}

static gboolean
conn_readable_cb (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Conn *conn = user_data;
  char buffer[4096];
  g_autoptr (GError) error = NULL;
  gssize received = g_socket_receive (socket, buffer, sizeof buffer, NULL, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return G_SOURCE_CONTINUE;
  if (received > 0)
    {
      g_byte_array_append (conn->in, (const guint8 *)buffer, (guint)received);
      return G_SOURCE_CONTINUE;
    }
  conn->closed = TRUE;
  g_clear_pointer (&conn->reader, g_source_unref);
  return G_SOURCE_REMOVE;
}

/* Connects from @from (an address of this host, NULL: any) and sends
 * @text, which is small enough for the socket to take at once. */
static Conn *
conn_open (Fixture *fixture, const char *from, const char *text)
{
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (fixture->host, fixture->port);
  GSocketFamily family = g_inet_address_get_family (fixture->host);
  g_autoptr (GError) error = NULL;
  Conn *conn = g_new0 (Conn, 1);

  conn->socket = g_socket_new (family, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  if (from != NULL)
    {
      g_autoptr (GInetAddress) local = g_inet_address_new_from_string (from);
      g_autoptr (GSocketAddress) local_address = g_inet_socket_address_new (local, 0);

      g_assert_true (g_socket_bind (conn->socket, local_address, FALSE, &error));
      g_assert_no_error (error);
    }
  /* On loopback the kernel completes the handshake from the backlog, so a
   * blocking connect returns before the server (on this loop) accepts. */
  g_assert_true (g_socket_connect (conn->socket, address, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_socket_send (conn->socket, text, strlen (text), NULL, &error), ==,
                   (gssize)strlen (text));
  g_assert_no_error (error);
  g_socket_set_blocking (conn->socket, FALSE);

  conn->in = g_byte_array_new ();
  conn->reader = g_socket_create_source (conn->socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (conn->reader, G_SOURCE_FUNC (conn_readable_cb), conn, NULL);
  g_source_attach (conn->reader, NULL);
  return conn;
}

static void
conn_free (Conn *conn)
{
  if (conn->reader != NULL)
    g_source_destroy (conn->reader);
  g_clear_pointer (&conn->reader, g_source_unref);
  g_clear_object (&conn->socket);
  g_byte_array_unref (conn->in);
  g_free (conn);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Conn, conn_free)

static gboolean
conn_is_closed (gpointer data)
{
  return ((Conn *)data)->closed;
}

static void
conn_wait_closed (Conn *conn)
{
  g_assert_true (ph_test_wait_until (conn_is_closed, conn, DEADLINE_MS));
}

/* A request; @headers are extra header lines, each ending in CRLF. The
 * last request on a connection says Connection: close. */
static char *
request_text (const char *method, const char *path, const char *headers, const char *body,
              gboolean last)
{
  return g_strdup_printf ("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Length: %zu\r\n%s\r\n%s",
                          method, path, last ? "Connection: close\r\n" : "",
                          body != NULL ? strlen (body) : 0, headers != NULL ? headers : "",
                          body != NULL ? body : "");
}

/* The value of header @name in the header block from @start to @end. */
static char *
header_value (const char *start, const char *end, const char *name)
{
  g_autofree char *needle = g_strdup_printf ("\r\n%s: ", name);
  g_autofree char *block = g_strndup (start, (gsize)(end - start + 2));
  const char *value = strstr (block, needle);

  if (value == NULL)
    return NULL;
  value += strlen (needle);
  return g_strndup (value, strcspn (value, "\r"));
}

static char *
member_string (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) ? g_strdup (json_node_get_string (node))
                                                      : NULL;
}

/* Reads the answer at *@cursor (the server's answers all carry a
 * Content-Length, or are 204) and moves the cursor past it. */
static Answer *
answer_parse (const char **cursor)
{
  const char *start = *cursor;
  const char *end = strstr (start, "\r\n\r\n");
  g_autofree char *length = NULL;
  Answer *answer = g_new0 (Answer, 1);
  guint64 size = 0;

  g_assert_nonnull (end);
  g_assert_true (g_str_has_prefix (start, "HTTP/1.1 "));
  answer->status = (guint)g_ascii_strtoull (start + strlen ("HTTP/1.1 "), NULL, 10);
  answer->retry_after = header_value (start, end, "Retry-After");
  length = header_value (start, end, "Content-Length");
  if (length != NULL)
    g_assert_true (g_ascii_string_to_unsigned (length, 10, 0, 1 << 20, &size, NULL));
  end += 4;
  g_assert_cmpuint (strlen (end), >=, size);

  if (size > 0)
    {
      g_autofree char *body = g_strndup (end, size);
      g_autoptr (JsonNode) root = json_from_string (body, NULL);

      if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
        {
          JsonObject *object = json_node_get_object (root);

          answer->error = member_string (object, "error");
          answer->message = member_string (object, "message");
          answer->nameplate = member_string (object, "nameplate");
          answer->side = json_object_get_int_member_with_default (object, "side", 0);
          answer->secret = member_string (object, "secret");
        }
    }
  *cursor = end + size;
  return answer;
}

/* One request from @from, answered; the connection closes after it. */
static Answer *
ask (Fixture *fixture, const char *from, const char *method, const char *path, const char *headers,
     const char *body)
{
  g_autofree char *text = request_text (method, path, headers, body, TRUE);
  g_autoptr (Conn) conn = conn_open (fixture, from, text);
  const char *cursor;

  conn_wait_closed (conn);
  g_byte_array_append (conn->in, (const guint8 *)"", 1);
  cursor = (const char *)conn->in->data;
  return answer_parse (&cursor);
}

/* The header line that proves a request is @seat's. */
static char *
bearer (const Seat *seat)
{
  return g_strdup_printf ("Authorization: Bearer %s\r\n", seat->secret);
}

/* A request about @seat's mailbox, with its secret. */
static Answer *
ask_as (Fixture *fixture, const char *from, const Seat *seat, const char *method, const char *rest,
        const char *body)
{
  g_autofree char *path = g_strdup_printf ("/v1/mailboxes/%u%s", seat->nameplate, rest);
  g_autofree char *headers = bearer (seat);

  return ask (fixture, from, method, path, headers, body);
}

/* Checks that @answer gave side @side a seat, and keeps it in @out_seat
 * (NULL: forgets it). Returns the nameplate. */
static guint
read_seat (Answer *answer, guint status, guint side, Seat *out_seat)
{
  guint64 nameplate;

  g_assert_cmpuint (answer->status, ==, status);
  g_assert_nonnull (answer->nameplate);
  g_assert_true (
      g_ascii_string_to_unsigned (answer->nameplate, 10, 1, G_MAXUINT, &nameplate, NULL));
  g_assert_cmpint (answer->side, ==, side);
  g_assert_nonnull (answer->secret);
  if (out_seat != NULL)
    {
      out_seat->nameplate = (guint)nameplate;
      out_seat->secret = g_strdup (answer->secret);
    }
  return (guint)nameplate;
}

static Answer *
allocate (Fixture *fixture, const char *from, const char *headers)
{
  return ask (fixture, from, "POST", "/v1/mailboxes", headers, NULL);
}

/* Allocates from @from and checks that it was served: the nameplate, and
 * the host's seat in @out_host unless it is NULL. */
static guint
allocate_ok (Fixture *fixture, const char *from, const char *headers, Seat *out_host)
{
  g_autoptr (Answer) answer = allocate (fixture, from, headers);

  return read_seat (answer, 201, HOST, out_host);
}

static Answer *
claim (Fixture *fixture, const char *from, guint nameplate)
{
  g_autofree char *path = g_strdup_printf ("/v1/mailboxes/%u", nameplate);

  return ask (fixture, from, "PUT", path, NULL, NULL);
}

static Answer *
join (Fixture *fixture, const char *from, guint nameplate)
{
  g_autofree char *path = g_strdup_printf ("/v1/mailboxes/%u/join", nameplate);

  return ask (fixture, from, "POST", path, NULL, NULL);
}

/* @answer refused the request with @status and the error named @code,
 * with a sentence that names @client. */
static void
assert_refused (Answer *answer, guint status, const char *code, const char *client)
{
  g_assert_cmpuint (answer->status, ==, status);
  g_assert_cmpstr (answer->error, ==, code);
  g_assert_nonnull (answer->message);
  if (client != NULL && strstr (answer->message, client) == NULL)
    g_error ("“%s” does not name the client %s", answer->message, client);
}

static void
assert_retry_after (Answer *answer, guint64 minimum, guint64 maximum)
{
  guint64 seconds;

  g_assert_nonnull (answer->retry_after);
  g_assert_true (
      g_ascii_string_to_unsigned (answer->retry_after, 10, minimum, maximum, &seconds, NULL));
}

static void
leave_ok (Fixture *fixture, const char *from, const Seat *seat)
{
  g_autoptr (Answer) answer = ask_as (fixture, from, seat, "DELETE", "", NULL);

  g_assert_cmpuint (answer->status, ==, 204);
}

/* The value of the metric line "@name N". */
static guint64
metric (Fixture *fixture, const char *name)
{
  g_autofree char *text = request_text ("GET", "/metrics", NULL, NULL, TRUE);
  g_autoptr (Conn) conn = conn_open (fixture, NULL, text);
  g_autofree char *needle = g_strdup_printf ("\n%s ", name);
  const char *line;

  conn_wait_closed (conn);
  g_byte_array_append (conn->in, (const guint8 *)"", 1);
  line = strstr ((const char *)conn->in->data, needle);
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen (needle), NULL, 10);
}

/* A rate limit that stays out of the way of the caps under test. */
static PhRateLimiter *
generous_limiter (void)
{
  return g_object_new (PH_TYPE_RATE_LIMITER, "rate", 10000, "burst", 10000, NULL);
}

static void
test_mailboxes_per_client (void)
{
  Fixture fixture = { 0 };
  g_autoptr (PhRateLimiter) limiter = generous_limiter ();
  g_auto (Seat) first = { 0 };
  g_auto (Seat) second = { 0 };
  g_auto (Seat) second_again = { 0 };
  g_auto (Seat) ninth = { 0 };
  g_auto (Seat) other_first = { 0 };
  g_auto (Seat) other_seventh = { 0 };
  g_auto (Seat) joiner = { 0 };
  g_autoptr (Answer) claimed = NULL;
  g_autoptr (Answer) refused = NULL;
  g_autoptr (Answer) claim_refused = NULL;
  g_autoptr (Answer) claim_repeated = NULL;
  g_autoptr (Answer) other_claim = NULL;
  g_autoptr (Answer) joined = NULL;
  g_autoptr (Answer) stranger_leave = NULL;
  g_autoptr (Answer) refused_again = NULL;

  fixture_start (&fixture, "limiter", limiter, "max-mailboxes-per-client", 3,
                 "allocations-per-minute", 1000, NULL);

  /* Two allocations and a claim: the claim counts as a mailbox too. */
  g_assert_cmpuint (allocate_ok (&fixture, NULL, NULL, &first), ==, 1);
  g_assert_cmpuint (allocate_ok (&fixture, NULL, NULL, &second), ==, 2);
  claimed = claim (&fixture, NULL, 9);
  g_assert_cmpuint (read_seat (claimed, 201, HOST, &ninth), ==, 9);

  refused = allocate (&fixture, NULL, NULL);
  assert_refused (refused, 429, "client-mailbox-limit", "127.0.0.1");
  g_assert_nonnull (strstr (refused->message, "3 open mailboxes"));
  /* Until a code nobody joined expires (the default lifetime). */
  g_assert_cmpstr (refused->retry_after, ==, "600");
  claim_refused = claim (&fixture, NULL, 7);
  assert_refused (claim_refused, 429, "client-mailbox-limit", "127.0.0.1");
  /* A claim of an open number opens nothing (it is nobody's to claim):
   * refused as such, not as over the limit. */
  claim_repeated = claim (&fixture, NULL, 9);
  assert_refused (claim_repeated, 409, "nameplate-unavailable", NULL);

  /* Another address is served as if the first did not exist. */
  g_assert_cmpuint (allocate_ok (&fixture, OTHER, NULL, &other_first), ==, 3);
  other_claim = claim (&fixture, OTHER, 7);
  g_assert_cmpuint (read_seat (other_claim, 201, HOST, &other_seventh), ==, 7);
  g_assert_cmpuint (metric (&fixture, "pinhole_clients_holding"), ==, 2);

  /* Joining opens no mailbox: a client at its cap still joins a code. */
  joined = join (&fixture, NULL, 3);
  read_seat (joined, 201, JOINER, &joiner);

  /* A leave without the host's secret closes nothing and frees no place
   * (its mailbox is still there to leave below). */
  stranger_leave = ask (&fixture, OTHER, "DELETE", "/v1/mailboxes/2", NULL, NULL);
  assert_refused (stranger_leave, 401, "unauthorized", NULL);

  /* A mailbox left gives its place back, and only that one. */
  leave_ok (&fixture, NULL, &second);
  g_assert_cmpuint (allocate_ok (&fixture, NULL, NULL, &second_again), ==, 2);
  refused_again = allocate (&fixture, NULL, NULL);
  assert_refused (refused_again, 429, "client-mailbox-limit", "127.0.0.1");

  /* A mailbox closes once every side that took a seat left it: until
   * its joiner leaves, it counts for its host, and for no one else. */
  leave_ok (&fixture, NULL, &first);
  leave_ok (&fixture, NULL, &second_again);
  leave_ok (&fixture, NULL, &ninth);
  leave_ok (&fixture, OTHER, &other_seventh);
  leave_ok (&fixture, OTHER, &other_first);
  g_assert_cmpuint (metric (&fixture, "pinhole_mailboxes_open"), ==, 1);
  g_assert_cmpuint (metric (&fixture, "pinhole_clients_holding"), ==, 1);

  /* Nothing held, nothing remembered. */
  leave_ok (&fixture, NULL, &joiner);
  g_assert_cmpuint (metric (&fixture, "pinhole_mailboxes_open"), ==, 0);
  g_assert_cmpuint (metric (&fixture, "pinhole_clients_holding"), ==, 0);
  g_assert_cmpuint (metric (&fixture, "pinhole_errors_total{code=\"client-mailbox-limit\"}"), ==,
                    3);
  fixture_stop (&fixture);
}

static gboolean
mailbox_is_gone (gpointer data)
{
  return !ph_memory_store_contains (data, 1);
}

/* A mailbox that expires counts no more either. */
static void
test_expired_mailbox_counts_no_more (void)
{
  Fixture fixture = { 0 };
  g_autoptr (PhRateLimiter) limiter = generous_limiter ();
  g_autoptr (PhMemoryStore) store = g_object_new (PH_TYPE_MEMORY_STORE, "lifetime", 1, NULL);
  g_autoptr (Answer) refused = NULL;

  fixture_start (&fixture, "limiter", limiter, "store", store, "max-mailboxes-per-client", 1, NULL);

  g_assert_cmpuint (allocate_ok (&fixture, NULL, NULL, NULL), ==, 1);
  refused = allocate (&fixture, NULL, NULL);
  assert_refused (refused, 429, "client-mailbox-limit", "127.0.0.1");
  g_assert_cmpstr (refused->retry_after, ==, "1");

  g_assert_true (ph_test_wait_until (mailbox_is_gone, store, DEADLINE_MS));
  g_assert_cmpuint (metric (&fixture, "pinhole_clients_holding"), ==, 0);
  g_assert_cmpuint (allocate_ok (&fixture, NULL, NULL, NULL), ==, 1);
  fixture_stop (&fixture);
}

typedef struct
{
  Fixture *fixture;
  guint polls;
} WaitingPolls;

static gboolean
has_waiting_polls (gpointer data)
{
  WaitingPolls *waiting = data;

  return ph_rendezvous_server_get_waiting_polls (waiting->fixture->server) == waiting->polls;
}

static void
wait_for_waiting_polls (Fixture *fixture, guint polls)
{
  WaitingPolls waiting = { fixture, polls };

  g_assert_true (ph_test_wait_until (has_waiting_polls, &waiting, DEADLINE_MS));
}

/* A poll of @seat's from @from, left waiting. */
static Conn *
start_poll (Fixture *fixture, const char *from, const Seat *seat, guint64 after)
{
  g_autofree char *path = g_strdup_printf (
      "/v1/mailboxes/%u/messages?after=%" G_GUINT64_FORMAT "&wait=30", seat->nameplate, after);
  g_autofree char *headers = bearer (seat);
  g_autofree char *text = request_text ("GET", path, headers, NULL, TRUE);

  return conn_open (fixture, from, text);
}

static guint
poll_status (Conn *conn)
{
  const char *cursor;
  g_autoptr (Answer) answer = NULL;

  conn_wait_closed (conn);
  g_byte_array_append (conn->in, (const guint8 *)"", 1);
  cursor = (const char *)conn->in->data;
  answer = answer_parse (&cursor);
  return answer->status;
}

static void
test_polls_per_client (void)
{
  Fixture fixture = { 0 };
  g_autoptr (PhRateLimiter) limiter = generous_limiter ();
  g_autoptr (GPtrArray) first = g_ptr_array_new_with_free_func ((GDestroyNotify)conn_free);
  g_autoptr (GPtrArray) second = g_ptr_array_new_with_free_func ((GDestroyNotify)conn_free);
  g_auto (Seat) host = { 0 };
  g_auto (Seat) joiner = { 0 };
  g_autoptr (Answer) joined = NULL;
  g_autoptr (Conn) other = NULL;
  g_autoptr (Answer) refused = NULL;
  g_autoptr (Answer) refused_again = NULL;
  g_autoptr (Answer) fetched = NULL;
  g_autoptr (Answer) posted = NULL;
  g_autoptr (Conn) last = NULL;

  fixture_start (&fixture, "limiter", limiter, "max-polls-per-client", 2, NULL);
  g_assert_cmpuint (allocate_ok (&fixture, NULL, NULL, &host), ==, 1);
  joined = join (&fixture, OTHER, 1);
  read_seat (joined, 201, JOINER, &joiner);

  for (guint i = 0; i < 2; i++)
    {
      g_ptr_array_add (first, start_poll (&fixture, NULL, &host, 0));
      wait_for_waiting_polls (&fixture, i + 1);
    }
  refused = ask_as (&fixture, NULL, &host, "GET", "/messages?after=0&wait=30", NULL);
  assert_refused (refused, 429, "client-poll-limit", "127.0.0.1");
  g_assert_nonnull (strstr (refused->message, "2 requests waiting"));
  assert_retry_after (refused, 1, 1);

  /* Another address (the joiner's) still waits, and so does anyone who
   * does not wait. */
  other = start_poll (&fixture, OTHER, &joiner, 0);
  wait_for_waiting_polls (&fixture, 3);
  fetched = ask_as (&fixture, NULL, &host, "GET", "/messages?after=0", NULL);
  g_assert_cmpuint (fetched->status, ==, 200);

  /* Answered polls count no more. */
  posted = ask_as (&fixture, OTHER, &joiner, "POST", "/messages", MESSAGE);
  g_assert_cmpuint (posted->status, ==, 201);
  for (guint i = 0; i < first->len; i++)
    g_assert_cmpuint (poll_status (g_ptr_array_index (first, i)), ==, 200);
  g_assert_cmpuint (poll_status (other), ==, 200);
  wait_for_waiting_polls (&fixture, 0);
  for (guint i = 0; i < 2; i++)
    {
      g_ptr_array_add (second, start_poll (&fixture, NULL, &host, 1));
      wait_for_waiting_polls (&fixture, i + 1);
    }
  refused_again = ask_as (&fixture, NULL, &host, "GET", "/messages?after=1&wait=30", NULL);
  assert_refused (refused_again, 429, "client-poll-limit", "127.0.0.1");

  /* Nor does one whose client hung up. */
  g_socket_close (((Conn *)g_ptr_array_index (second, 0))->socket, NULL);
  wait_for_waiting_polls (&fixture, 1);
  last = start_poll (&fixture, NULL, &host, 1);
  wait_for_waiting_polls (&fixture, 2);

  /* Closing the mailbox answers them all: it closes once both sides left. */
  leave_ok (&fixture, NULL, &host);
  leave_ok (&fixture, OTHER, &joiner);
  g_assert_cmpuint (poll_status (g_ptr_array_index (second, 1)), ==, 404);
  g_assert_cmpuint (poll_status (last), ==, 404);
  wait_for_waiting_polls (&fixture, 0);
  g_assert_cmpuint (metric (&fixture, "pinhole_clients_holding"), ==, 0);
  g_assert_cmpuint (metric (&fixture, "pinhole_errors_total{code=\"client-poll-limit\"}"), ==, 2);
  fixture_stop (&fixture);
}

static void
test_allocation_rate (void)
{
  Fixture fixture = { 0 };
  g_autoptr (PhRateLimiter) limiter = generous_limiter ();
  g_autoptr (Answer) refused = NULL;
  g_autoptr (Answer) claim_refused = NULL;
  g_autoptr (Answer) health = NULL;

  fixture_start (&fixture, "limiter", limiter, "allocations-per-minute", 2, NULL);

  allocate_ok (&fixture, NULL, NULL, NULL);
  allocate_ok (&fixture, NULL, NULL, NULL);
  refused = allocate (&fixture, NULL, NULL);
  assert_refused (refused, 429, "allocation-rate-limited", "127.0.0.1");
  g_assert_nonnull (strstr (refused->message, "2 a minute"));
  /* One allocation every 30 s. */
  assert_retry_after (refused, 1, 30);
  claim_refused = claim (&fixture, NULL, 7);
  assert_refused (claim_refused, 429, "allocation-rate-limited", "127.0.0.1");

  /* The rest of the API is under the general rate only, and another
   * address allocates as it likes. */
  health = ask (&fixture, NULL, "GET", "/v1/health", NULL, NULL);
  g_assert_cmpuint (health->status, ==, 200);
  allocate_ok (&fixture, OTHER, NULL, NULL);
  allocate_ok (&fixture, OTHER, NULL, NULL);
  g_assert_cmpuint (metric (&fixture, "pinhole_mailboxes_open"), ==, 4);
  fixture_stop (&fixture);
}

/* Each join is a guess at someone's code: one address gets so many an
 * hour, and another address still joins. */
static void
test_join_rate (void)
{
  Fixture fixture = { 0 };
  g_autoptr (PhRateLimiter) limiter = generous_limiter ();
  g_autoptr (Answer) first = NULL;
  g_autoptr (Answer) second = NULL;
  g_autoptr (Answer) refused = NULL;
  g_autoptr (Answer) other = NULL;

  fixture_start (&fixture, "limiter", limiter, "joins-per-hour", 2, NULL);
  for (guint i = 0; i < 4; i++)
    allocate_ok (&fixture, OTHER, NULL, NULL);

  first = join (&fixture, NULL, 1);
  g_assert_cmpuint (first->status, ==, 201);
  second = join (&fixture, NULL, 2);
  g_assert_cmpuint (second->status, ==, 201);
  refused = join (&fixture, NULL, 3);
  assert_refused (refused, 429, "join-rate-limited", "127.0.0.1");
  g_assert_nonnull (strstr (refused->message, "2 an hour"));
  /* One join every 30 minutes. */
  assert_retry_after (refused, 1, 1800);

  other = join (&fixture, OTHER, 4);
  g_assert_cmpuint (other->status, ==, 201);
  fixture_stop (&fixture);
}

/* Behind a trusted proxy each forwarded client has limits of its own,
 * also when the proxy carries several on one connection. */
static void
test_trusted_proxy_forwards (void)
{
  Fixture fixture = { 0 };
  const char *proxies[] = { "127.0.0.1/32", NULL };
  g_autoptr (PhRateLimiter) limiter = generous_limiter ();
  g_autoptr (Answer) refused = NULL;
  g_autoptr (Answer) spoofed = NULL;
  g_autoptr (Answer) junk = NULL;
  g_autoptr (GString) pipelined = g_string_new (NULL);
  const char *clients[] = { "203.0.113.4", "203.0.113.5", "203.0.113.4" };
  const guint expected[] = { 201, 201, 429 };
  g_autoptr (Conn) conn = NULL;
  const char *cursor;

  fixture_start (&fixture, "limiter", limiter, "trusted-proxies", proxies,
                 "max-mailboxes-per-client", 1, NULL);

  allocate_ok (&fixture, NULL, "X-Forwarded-For: 203.0.113.1\r\n", NULL);
  refused = allocate (&fixture, NULL, "X-Forwarded-For: 203.0.113.1\r\n");
  assert_refused (refused, 429, "client-mailbox-limit", "203.0.113.1");
  /* What the client wrote itself stands left of what the proxy added. */
  spoofed = allocate (&fixture, NULL, "X-Forwarded-For: 198.51.100.9, 203.0.113.1\r\n");
  assert_refused (spoofed, 429, "client-mailbox-limit", "203.0.113.1");
  /* Junk of its own there does not make it the proxy either. */
  junk = allocate (&fixture, NULL, "X-Forwarded-For: unknown, 203.0.113.1\r\n");
  assert_refused (junk, 429, "client-mailbox-limit", "203.0.113.1");
  allocate_ok (&fixture, NULL, "X-Forwarded-For: 203.0.113.2\r\n", NULL);
  allocate_ok (&fixture, NULL, "Forwarded: for=203.0.113.3;proto=https\r\n", NULL);
  /* Without a header the proxy is the client. */
  allocate_ok (&fixture, NULL, NULL, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      g_autofree char *header = g_strdup_printf ("X-Forwarded-For: %s\r\n", clients[i]);
      g_autofree char *text
          = request_text ("POST", "/v1/mailboxes", header, NULL, i + 1 == G_N_ELEMENTS (clients));

      g_string_append (pipelined, text);
    }
  conn = conn_open (&fixture, NULL, pipelined->str);
  conn_wait_closed (conn);
  g_byte_array_append (conn->in, (const guint8 *)"", 1);
  cursor = (const char *)conn->in->data;
  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      g_autoptr (Answer) answer = answer_parse (&cursor);

      g_assert_cmpuint (answer->status, ==, expected[i]);
    }

  g_assert_cmpuint (metric (&fixture, "pinhole_clients_holding"), ==, 6);
  fixture_stop (&fixture);
}

/* The attacker: forwarding headers from a peer that is no trusted proxy
 * earn it no new bucket and no new mailboxes. */
static void
test_spoofed_forwarding_is_ignored (void)
{
  Fixture fixture = { 0 };
  Fixture untrusting = { 0 };
  const char *proxies[] = { "127.0.0.1/32", NULL };
  g_autoptr (PhRateLimiter) limiter = generous_limiter ();
  /* Three requests, and no token more within the test. */
  g_autoptr (PhRateLimiter) strict
      = g_object_new (PH_TYPE_RATE_LIMITER, "rate", 1, "period", 3600, "burst", 3, NULL);
  g_autoptr (Answer) other = NULL;
  guint created = 0;

  fixture_start (&fixture, "limiter", limiter, "trusted-proxies", proxies,
                 "max-mailboxes-per-client", 2, NULL);
  for (guint i = 0; i < 6; i++)
    {
      g_autofree char *header = g_strdup_printf ("X-Forwarded-For: 198.51.100.%u\r\n", i + 1);
      g_autofree char *forwarded = g_strdup_printf ("Forwarded: for=192.0.2.%u\r\n", i + 1);
      g_autoptr (Answer) answer = allocate (&fixture, OTHER, i % 2 == 0 ? header : forwarded);

      if (answer->status == 201)
        created++;
      else
        assert_refused (answer, 429, "client-mailbox-limit", OTHER);
    }
  g_assert_cmpuint (created, ==, 2);
  /* The trusted proxy's own clients are still served. */
  allocate_ok (&fixture, NULL, "X-Forwarded-For: 198.51.100.1\r\n", NULL);
  fixture_stop (&fixture);

  /* Nor the general rate limit, on a server that trusts no proxy. */
  fixture_start (&untrusting, "limiter", strict, NULL);
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *header = g_strdup_printf ("X-Forwarded-For: 198.51.100.%u\r\n", i + 1);
      g_autoptr (Answer) answer = ask (&untrusting, NULL, "GET", "/v1/health", header, NULL);

      if (i < 3)
        g_assert_cmpuint (answer->status, ==, 200);
      else
        assert_refused (answer, 429, "rate-limited", "127.0.0.1");
    }
  other = ask (&untrusting, OTHER, "GET", "/v1/health", NULL, NULL);
  g_assert_cmpuint (other->status, ==, 200);
  fixture_stop (&untrusting);
}

/* Walking through the addresses of one /64 earns nothing. */
static void
test_ipv6_prefix_shares_limits (void)
{
  Fixture fixture = { 0 };
  Fixture over_ipv6 = { 0 };
  const char *proxies[] = { "127.0.0.1/32", NULL };
  const char *ipv6_proxies[] = { "::1", NULL };
  g_autoptr (PhRateLimiter) limiter = generous_limiter ();
  g_autoptr (PhRateLimiter) ipv6_limiter = generous_limiter ();
  g_autoptr (Answer) same_prefix = NULL;
  g_autoptr (GInetAddress) ipv6_loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV6);
  g_autoptr (GError) error = NULL;
  g_autoptr (Answer) peer_again = NULL;

  fixture_start (&fixture, "limiter", limiter, "trusted-proxies", proxies,
                 "max-mailboxes-per-client", 1, NULL);
  allocate_ok (&fixture, NULL, "X-Forwarded-For: 2001:db8:1:2::a\r\n", NULL);
  same_prefix = allocate (&fixture, NULL, "X-Forwarded-For: 2001:db8:1:2:ffff:ffff:ffff:ffff\r\n");
  assert_refused (same_prefix, 429, "client-mailbox-limit", "2001:db8:1:2::/64");
  allocate_ok (&fixture, NULL, "Forwarded: for=\"[2001:db8:1:3::a]:4711\"\r\n", NULL);
  fixture_stop (&fixture);

  /* The same for a peer that is itself on IPv6, where loopback has it. */
  over_ipv6.server
      = g_object_new (PH_TYPE_RENDEZVOUS_SERVER, "limiter", ipv6_limiter, "trusted-proxies",
                      ipv6_proxies, "max-mailboxes-per-client", 1, NULL);
  if (!ph_rendezvous_server_listen (over_ipv6.server, ipv6_loopback, 0, &error))
    {
      g_test_skip_printf ("no IPv6 loopback: %s", error->message);
      fixture_stop (&over_ipv6);
      return;
    }
  over_ipv6.host = g_object_ref (ipv6_loopback);
  over_ipv6.port = ph_rendezvous_server_get_port (over_ipv6.server);
  allocate_ok (&over_ipv6, NULL, NULL, NULL);
  peer_again = allocate (&over_ipv6, NULL, NULL);
  assert_refused (peer_again, 429, "client-mailbox-limit", "::/64");
  allocate_ok (&over_ipv6, NULL, "X-Forwarded-For: 2001:db8:5::1\r\n", NULL);
  fixture_stop (&over_ipv6);
}

/* pinhole-rendezvous itself: the options reach the server, and a block
 * that is no block is a usage error that says so. */
static void
test_program_options (void)
{
  const char *args[] = { "--trusted-proxy",
                         "127.0.0.1/32",
                         "--trusted-proxy",
                         "10.0.0.0/8",
                         "--max-mailboxes-per-client",
                         "1",
                         NULL };
  const struct
  {
    const char *option;
    const char *value;
    const char *says;
  } bad[] = {
    { "--trusted-proxy", "proxy.example", "--trusted-proxy proxy.example is not an address" },
    { "--trusted-proxy", "10.0.0.0/33", "--trusted-proxy 10.0.0.0/33 is not an address" },
    { "--trusted-proxy", "10.1.2.3/8", "write the block as 10.0.0.0/8" },
    { "--max-mailboxes-per-client", "0", "--max-mailboxes-per-client must be between 1" },
    { "--max-polls-per-client", "0", "--max-polls-per-client must be between 1" },
    { "--allocations-per-minute", "0", "--allocations-per-minute must be between 1" },
  };
  const char *binary = g_getenv ("PINHOLE_RENDEZVOUS_BIN");
  g_autoptr (PhTestProcess) process = NULL;
  g_autofree char *url = NULL;
  Fixture fixture = { 0 };
  g_autoptr (Answer) refused = NULL;

  if (binary == NULL)
    {
      g_test_skip ("PINHOLE_RENDEZVOUS_BIN is not set");
      return;
    }

  process = ph_test_start_rendezvous (args, &url);
  g_assert_true (g_str_has_prefix (url, "http://127.0.0.1:"));
  fixture.host = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  fixture.port = (guint)g_ascii_strtoull (url + strlen ("http://127.0.0.1:"), NULL, 10);
  allocate_ok (&fixture, NULL, "X-Forwarded-For: 203.0.113.1\r\n", NULL);
  refused = allocate (&fixture, NULL, "X-Forwarded-For: 203.0.113.1\r\n");
  assert_refused (refused, 429, "client-mailbox-limit", "203.0.113.1");
  allocate_ok (&fixture, NULL, "X-Forwarded-For: 203.0.113.2\r\n", NULL);
  g_assert_cmpint (ph_test_process_stop (process), ==, 0);
  fixture_stop (&fixture);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GSubprocess) child = NULL;
      g_autoptr (GError) error = NULL;
      g_autofree char *err = NULL;

      child = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                &error, binary, bad[i].option, bad[i].value, NULL);
      g_assert_no_error (error);
      g_assert_true (g_subprocess_communicate_utf8 (child, NULL, NULL, NULL, &err, &error));
      g_assert_no_error (error);
      g_assert_cmpint (g_subprocess_get_exit_status (child), ==, 2);
      g_assert_true (g_str_has_prefix (err, "pinhole-rendezvous: "));
      if (strstr (err, bad[i].says) == NULL)
        g_error ("%s %s: “%s” does not say “%s”", bad[i].option, bad[i].value, err, bad[i].says);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/limits/mailboxes-per-client", test_mailboxes_per_client);
  g_test_add_func ("/server/limits/expired-mailbox-counts-no-more",
                   test_expired_mailbox_counts_no_more);
  g_test_add_func ("/server/limits/polls-per-client", test_polls_per_client);
  g_test_add_func ("/server/limits/allocation-rate", test_allocation_rate);
  g_test_add_func ("/server/limits/join-rate", test_join_rate);
  g_test_add_func ("/server/limits/trusted-proxy-forwards", test_trusted_proxy_forwards);
  g_test_add_func ("/server/limits/spoofed-forwarding-is-ignored",
                   test_spoofed_forwarding_is_ignored);
  g_test_add_func ("/server/limits/ipv6-prefix-shares-limits", test_ipv6_prefix_shares_limits);
  g_test_add_func ("/server/limits/program-options", test_program_options);

  return g_test_run ();
}
