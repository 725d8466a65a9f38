/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-turn-transports"

#include "config.h"

#include <signal.h>
#include <string.h>

#include <nice/interfaces.h>

#include "ph-certificate.h"
#include "ph-test-files.h"
#include "ph-test-needs-hooks.h"
#include "ph-test-programs.h"
#include "ph-test-wait.h"
#include "ph-turn-bridge.h"

/* TURN over TCP, over TLS and through an HTTP proxy, as a person behind a
 * firewall for the web meets them: two pinhole-cli peers that may only
 * use a relay, a real coturn on this machine with a certificate made for
 * the test, and tinyproxy as the proxy. The first tests drive the bridge
 * (ph-turn-bridge.c) in this process, so valgrind sees it. */

#define CONNECT_TIMEOUT_MS ph_test_scaled_ms (20000)
#define EVENT_TIMEOUT_MS ph_test_scaled_ms (10000)
#define START_TIMEOUT_MS ph_test_scaled_ms (10000)
#define TURN_USER "pinhole"
#define TURN_PASSWORD "relay-secret"

/* ---- The bridge on its own ---- */

typedef struct
{
  GSocketService *service;
  guint16 port;
} LoopbackServer;

static void
echo_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_output_stream_splice_finish (G_OUTPUT_STREAM (source), result, NULL);
  g_object_unref (user_data);
}

/* A TCP server that sends back what it gets: a stand-in for a TURN server
 * behind the bridge. */
static gboolean
echo_incoming_cb (GSocketService *service, GSocketConnection *connection, GObject *source,
                  gpointer user_data)
{
  GIOStream *stream = G_IO_STREAM (connection);

  g_output_stream_splice_async (
      g_io_stream_get_output_stream (stream), g_io_stream_get_input_stream (stream),
      G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE | G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, G_PRIORITY_DEFAULT,
      NULL, echo_done_cb, g_object_ref (connection));
  return TRUE;
}

static void
tls_handshake_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  /* The client refuses the certificate: the handshake fails here too. */
  g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, NULL);
  g_object_unref (source);
}

/* A TLS server with a certificate nobody vouches for. */
static gboolean
tls_incoming_cb (GSocketService *service, GSocketConnection *connection, GObject *source,
                 gpointer user_data)
{
  GTlsCertificate *certificate = user_data;
  g_autoptr (GError) error = NULL;
  GIOStream *tls;

  tls = g_tls_server_connection_new (G_IO_STREAM (connection), certificate, &error);
  g_assert_no_error (error);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (tls), G_PRIORITY_DEFAULT, NULL,
                                    tls_handshake_done_cb, NULL);
  return TRUE;
}

static void
loopback_server_start (LoopbackServer *server, GCallback incoming, gpointer data)
{
  g_autoptr (GError) error = NULL;

  server->service = g_socket_service_new ();
  server->port
      = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (server->service), NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (server->service, "incoming", incoming, data);
  g_socket_service_start (server->service);
}

static void
loopback_server_stop (LoopbackServer *server)
{
  g_socket_service_stop (server->service);
  g_socket_listener_close (G_SOCKET_LISTENER (server->service));
  g_clear_object (&server->service);
}

/* A free port on 127.0.0.1 that nothing listens on. */
static guint16
closed_port (void)
{
  g_autoptr (GSocketListener) listener = g_socket_listener_new ();
  g_autoptr (GError) error = NULL;
  guint16 port = g_socket_listener_add_any_inet_port (listener, NULL, &error);

  g_assert_no_error (error);
  g_socket_listener_close (listener);
  return port;
}

static PhTurnServer *
turn_server_new (guint port, PhTurnTransport transport)
{
  PhTurnServer *server = g_new0 (PhTurnServer, 1);

  server->host = g_strdup ("127.0.0.1");
  server->port = port;
  server->username = g_strdup (TURN_USER);
  server->password = g_strdup (TURN_PASSWORD);
  server->transport = transport;
  return server;
}

/* libnice's side: a connection to the bridge that has sent @request. */
static GSocketConnection *
connect_to_bridge (PhTurnBridge *bridge, const char *request)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GError) error = NULL;
  GSocketConnection *connection;

  /* The listener's backlog takes the connection before the bridge
   * accepts it, so blocking calls cannot wait on this thread's loop. */
  connection = g_socket_client_connect_to_host (client, "127.0.0.1",
                                                ph_turn_bridge_get_port (bridge), NULL, &error);
  g_assert_no_error (error);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)), request,
                             strlen (request), NULL, NULL, &error);
  g_assert_no_error (error);
  return connection;
}

static char *
connect_request (const char *placeholder, guint port)
{
  /* The request libnice 0.1.21 sends (socket/http.c), headers and all. */
  return g_strdup_printf ("CONNECT %s:%u HTTP/1.0\r\nHost: %s\r\nUser-Agent: libnice\r\n"
                          "Content-Length: 0\r\nProxy-Connection: Keep-Alive\r\n"
                          "Connection: Keep-Alive\r\nCache-Control: no-cache\r\n"
                          "Pragma: no-cache\r\n\r\n",
                          placeholder, port, placeholder);
}

/* Reads what arrives within the bound, up to @length bytes. */
static char *
read_bytes (GSocketConnection *connection, gsize length)
{
  GInputStream *input = g_io_stream_get_input_stream (G_IO_STREAM (connection));
  g_autofree char *buffer = g_malloc0 (length + 1);
  gsize filled = 0;

  while (filled < length)
    {
      g_autoptr (GAsyncResult) result = NULL;
      g_autoptr (GError) error = NULL;
      gssize n;

      g_input_stream_read_async (input, buffer + filled, length - filled, G_PRIORITY_DEFAULT, NULL,
                                 ph_test_result_cb, &result);
      n = g_input_stream_read_finish (input, ph_test_wait_for_result (&result, EVENT_TIMEOUT_MS),
                                      &error);
      g_assert_no_error (error);
      if (n == 0)
        break;
      filled += n;
    }
  return g_steal_pointer (&buffer);
}

static void
bridge_finalized (PhTurnBridge *bridge)
{
  gpointer weak = bridge;

  /* Its connections hold it until they have wound down. */
  g_object_add_weak_pointer (G_OBJECT (bridge), &weak);
  ph_turn_bridge_close (bridge);
  g_object_unref (bridge);
  while (weak != NULL)
    g_main_context_iteration (NULL, TRUE);
}

/* A CONNECT to a placeholder gets a tunnel to the server, bytes go both
 * ways, and the placeholder names the server and how it is reached. */
static void
test_bridge_tunnel (void)
{
  LoopbackServer echo = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (PhTurnBridge) bridge = NULL;
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (PhTurnServer) server = NULL;
  g_autofree char *placeholder = NULL;
  g_autofree char *request = NULL;
  g_autofree char *response = NULL;
  g_autofree char *echoed = NULL;
  const char *expected = "HTTP/1.0 200 Connection established\r\n\r\n";
  PhTurnTransport transport = PH_TURN_TRANSPORT_UDP;
  gboolean via_proxy = TRUE;

  loopback_server_start (&echo, G_CALLBACK (echo_incoming_cb), NULL);
  bridge = ph_turn_bridge_new (&error);
  g_assert_no_error (error);
  server = turn_server_new (echo.port, PH_TURN_TRANSPORT_TCP);
  placeholder = ph_turn_bridge_add_server (bridge, server);
  g_assert_nonnull (placeholder);
  g_assert_true (g_str_has_prefix (placeholder, "127.0.0."));
  g_assert_cmpstr (placeholder, !=, "127.0.0.1");

  request = connect_request (placeholder, echo.port);
  connection = connect_to_bridge (bridge, request);
  response = read_bytes (connection, strlen (expected));
  g_assert_cmpstr (response, ==, expected);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)), "allocate",
                             8, NULL, NULL, &error);
  g_assert_no_error (error);
  echoed = read_bytes (connection, 8);
  g_assert_cmpstr (echoed, ==, "allocate");

  g_assert_true (ph_turn_bridge_lookup (bridge, placeholder, echo.port, &transport, &via_proxy));
  g_assert_cmpint (transport, ==, PH_TURN_TRANSPORT_TCP);
  /* The tests run with GIO_USE_PROXY_RESOLVER=dummy: no proxy. */
  g_assert_false (via_proxy);
  g_assert_false (ph_turn_bridge_lookup (bridge, "127.0.0.1", echo.port, NULL, NULL));
  g_assert_false (ph_turn_bridge_lookup (bridge, placeholder, echo.port + 1, NULL, NULL));
  g_assert_null (ph_turn_bridge_get_problem (bridge));

  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  bridge_finalized (g_steal_pointer (&bridge));
  loopback_server_stop (&echo);
}

/* Another program on this machine gets no open proxy: only CONNECTs to
 * the bridge's own placeholders are answered with a tunnel. */
static void
test_bridge_refuses_others (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PhTurnBridge) bridge = ph_turn_bridge_new (&error);
  const char *const requests[] = {
    "CONNECT 198.51.100.1:443 HTTP/1.1\r\nHost: 198.51.100.1\r\n\r\n",
    "GET http://198.51.100.1/ HTTP/1.1\r\nHost: 198.51.100.1\r\n\r\n",
    "CONNECT 127.0.0.2:3478 HTTP/1.0\r\n\r\n", /* a placeholder not handed out */
  };

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (requests); i++)
    {
      g_autoptr (GSocketConnection) connection = connect_to_bridge (bridge, requests[i]);
      g_autofree char *response = read_bytes (connection, 64);

      g_test_message ("%s", requests[i]);
      g_assert_true (g_str_has_prefix (response, "HTTP/1.0 403 "));
    }
  bridge_finalized (g_steal_pointer (&bridge));
}

static void
problem_cb (PhTurnBridge *bridge, const char *problem, char **out)
{
  g_assert_null (*out);
  *out = g_strdup (problem);
}

static gboolean
is_set (gpointer data)
{
  return *(char **)data != NULL;
}

/* A TLS server whose certificate is not trusted: the problem names the
 * server and the reason, and libnice's connection is left unanswered
 * (an answer would make libnice 0.1.21 never finish gathering). */
static void
test_bridge_untrusted_certificate (void)
{
  LoopbackServer tls_server = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GTlsCertificate) certificate = NULL;
  g_autoptr (PhTurnBridge) bridge = NULL;
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (PhTurnServer) server = NULL;
  g_autofree char *placeholder = NULL;
  g_autofree char *request = NULL;
  g_autofree char *problem = NULL;
  g_autofree char *uri = NULL;

  certificate = ph_certificate_generate ("turn.example.org", &error);
  g_assert_no_error (error);
  loopback_server_start (&tls_server, G_CALLBACK (tls_incoming_cb), certificate);
  bridge = ph_turn_bridge_new (&error);
  g_assert_no_error (error);
  g_signal_connect (bridge, "problem", G_CALLBACK (problem_cb), &problem);
  server = turn_server_new (tls_server.port, PH_TURN_TRANSPORT_TLS);
  placeholder = ph_turn_bridge_add_server (bridge, server);
  uri = g_strdup_printf ("turns:127.0.0.1:%u", tls_server.port);

  g_test_expect_message ("ph-turn-bridge", G_LOG_LEVEL_WARNING,
                         "The TURN server turns:127.0.0.1:* was not used: its certificate is "
                         "not signed by an authority this computer trusts.");
  request = connect_request (placeholder, tls_server.port);
  connection = connect_to_bridge (bridge, request);
  g_assert_true (ph_test_wait_until (is_set, &problem, EVENT_TIMEOUT_MS));
  g_test_assert_expected_messages ();
  g_test_message ("%s", problem);
  g_assert_nonnull (strstr (problem, uri));
  g_assert_nonnull (strstr (problem, "not signed by an authority"));
  g_assert_cmpstr (ph_turn_bridge_get_problem (bridge), ==, problem);

  /* Nothing comes back while libnice waits for its allocation. */
  ph_test_run_for (100);
  g_assert_false (g_socket_condition_check (g_socket_connection_get_socket (connection), G_IO_IN)
                  & G_IO_IN);

  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  bridge_finalized (g_steal_pointer (&bridge));
  loopback_server_stop (&tls_server);
}

/* A server that is not there: the problem says it could not be reached. */
static void
test_bridge_server_down (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PhTurnBridge) bridge = ph_turn_bridge_new (&error);
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (PhTurnServer) server = turn_server_new (closed_port (), PH_TURN_TRANSPORT_TCP);
  g_autofree char *placeholder = NULL;
  g_autofree char *request = NULL;
  g_autofree char *problem = NULL;
  g_autofree char *uri = NULL;

  g_assert_no_error (error);
  g_signal_connect (bridge, "problem", G_CALLBACK (problem_cb), &problem);
  placeholder = ph_turn_bridge_add_server (bridge, server);
  uri = g_strdup_printf ("turn:127.0.0.1:%u?transport=tcp", server->port);

  g_test_expect_message ("ph-turn-bridge", G_LOG_LEVEL_WARNING,
                         "The TURN server turn:127.0.0.1:*?transport=tcp could not be reached: *.");
  request = connect_request (placeholder, server->port);
  connection = connect_to_bridge (bridge, request);
  g_assert_true (ph_test_wait_until (is_set, &problem, EVENT_TIMEOUT_MS));
  g_test_assert_expected_messages ();
  g_assert_nonnull (strstr (problem, uri));

  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  bridge_finalized (g_steal_pointer (&bridge));
}

/* ---- Peers, coturn and a proxy ---- */

typedef struct
{
  PhTestRendezvousFixture rendezvous;
  char *dir;
  char *host_address; /* this machine's IPv4 address that libnice gathers on */
  guint turn_port;    /* UDP and TCP */
  guint tls_port;
  char *ca_file;       /* coturn's own certificate, trusted by the peers */
  char *other_ca_file; /* a certificate authority that signed nothing here */
  PhTestProcess *coturn;
  PhTestProcess *proxy;
  guint proxy_port;
  char *proxy_log;
  gboolean allow_direct; /* peers without --relay-only */
} Fixture;

static gboolean
have_program (const char *name)
{
  g_autofree char *path = g_find_program_in_path (name);

  if (path == NULL)
    g_test_fail_printf ("%s is missing; install the packages in scripts/debian-packages.txt", name);
  return path != NULL;
}

static void
run_or_fail (const char *const *argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *errors = NULL;
  int status;

  g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                NULL, NULL, &errors, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("%s failed: %s\n%s", argv[0], error->message, errors);
}

/* A self-signed P-256 certificate for 127.0.0.1, as coturn's. */
static void
make_certificate (const char *dir, const char *name, char **out_cert, char **out_key)
{
  g_autofree char *key_name = g_strconcat (name, "-key.pem", NULL);
  g_autofree char *cert_name = g_strconcat (name, ".pem", NULL);
  g_autofree char *subject = g_strconcat ("/CN=", name, NULL);
  g_autofree char *key = g_build_filename (dir, key_name, NULL);
  g_autofree char *cert = g_build_filename (dir, cert_name, NULL);
  const char *argv[] = {
    "openssl", "req",   "-x509", "-newkey", "ec",    "-pkeyopt", "ec_paramgen_curve:P-256",
    "-nodes",  "-days", "2",     "-subj",   subject, "-addext",  "subjectAltName=IP:127.0.0.1",
    "-keyout", key,     "-out",  cert,      NULL
  };

  run_or_fail (argv);
  if (out_cert != NULL)
    *out_cert = g_steal_pointer (&cert);
  if (out_key != NULL)
    *out_key = g_steal_pointer (&key);
}

static gboolean
can_bind (GSocketType type, guint port)
{
  GSocketProtocol protocol
      = type == G_SOCKET_TYPE_STREAM ? G_SOCKET_PROTOCOL_TCP : G_SOCKET_PROTOCOL_UDP;
  g_autoptr (GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, type, protocol, NULL);
  g_autoptr (GInetAddress) any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (any, port);

  return g_socket_bind (socket, address, FALSE, NULL);
}

/* A port free for TCP and UDP alike, and the one above it too: coturn
 * takes both protocols, and the next port for RFC 5780 when it listens on
 * two addresses. Below the ephemeral ports (32768 and up on Linux, coturn's
 * relays from 49152), so no outgoing connection of this test can be on it. */
static guint
free_port (guint other)
{
  for (;;)
    {
      guint port = g_random_int_range (20000, 32000);

      if (port != other && port + 1 != other && port != other + 1
          && can_bind (G_SOCKET_TYPE_STREAM, port) && can_bind (G_SOCKET_TYPE_DATAGRAM, port)
          && can_bind (G_SOCKET_TYPE_STREAM, port + 1)
          && can_bind (G_SOCKET_TYPE_DATAGRAM, port + 1))
        return port;
    }
}

static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* ph_test_wait_until() for a check that no event of the main loop
 * announces (a server starting in another process): checked every 20 ms. */
static gboolean
poll_until (gboolean (*check) (gpointer data), gpointer data, guint timeout_ms)
{
  guint ticker = g_timeout_add (20, tick_cb, NULL);
  gboolean done = ph_test_wait_until (check, data, timeout_ms);

  g_source_remove (ticker);
  return done;
}

static gboolean
tcp_listening (gpointer data)
{
  guint port = GPOINTER_TO_UINT (data);
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) connection
      = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, NULL);

  return connection != NULL;
}

typedef struct
{
  const char *address;
  guint port;
} UdpTarget;

/* Whether a STUN binding request gets an answer within 100 ms. */
static gboolean
stun_answers (gpointer data)
{
  const UdpTarget *target = data;
  g_autoptr (GSocket) socket
      = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr (GSocketAddress) server
      = g_inet_socket_address_new_from_string (target->address, target->port);
  static const guint8 binding[20] = { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 't', 'u',
                                      'r',  'n',  '-',  't',  'e',  's',  't',  '-',  'o', 'k' };
  guint8 answer[512];

  g_socket_send_to (socket, server, (const char *)binding, sizeof binding, NULL, NULL);
  return g_socket_condition_timed_wait (socket, G_IO_IN, 100 * 1000, NULL, NULL)
         && g_socket_receive (socket, (char *)answer, sizeof answer, NULL, NULL) >= 20;
}

/* The first non-loopback IPv4 address: libnice does not gather on
 * loopback, and it sends UDP out of the interface of its address, so a
 * TURN server for UDP must listen there (TCP to 127.0.0.1 works). */
static char *
find_host_address (void)
{
  GList *addresses = nice_interfaces_get_local_ips (FALSE);
  char *found = NULL;

  for (GList *l = addresses; l != NULL && found == NULL; l = l->next)
    if (strchr (l->data, ':') == NULL)
      found = g_strdup (l->data);
  g_list_free_full (addresses, g_free);
  return found;
}

static void
start_coturn (Fixture *fixture)
{
  g_autofree char *cert = NULL;
  g_autofree char *key = NULL;
  g_autofree char *listen_host = g_strdup_printf ("--listening-ip=%s", fixture->host_address);
  g_autofree char *port = NULL;
  g_autofree char *tls_port = NULL;
  g_autofree char *cert_option = NULL;
  g_autofree char *key_option = NULL;
  g_autofree char *log = g_build_filename (fixture->dir, "coturn.log", NULL);
  g_autofree char *log_option = g_strdup_printf ("--log-file=%s", log);
  g_autofree char *db = g_build_filename (fixture->dir, "turndb", NULL);
  g_autofree char *db_option = g_strdup_printf ("--userdb=%s", db);
  g_autofree char *pid = g_build_filename (fixture->dir, "coturn.pid", NULL);
  g_autofree char *pid_option = g_strdup_printf ("--pidfile=%s", pid);
  UdpTarget udp;

  make_certificate (fixture->dir, "127.0.0.1", &cert, &key);
  fixture->ca_file = g_strdup (cert);
  make_certificate (fixture->dir, "other", &fixture->other_ca_file, NULL);
  fixture->turn_port = free_port (0);
  fixture->tls_port = free_port (fixture->turn_port);
  port = g_strdup_printf ("--listening-port=%u", fixture->turn_port);
  tls_port = g_strdup_printf ("--tls-listening-port=%u", fixture->tls_port);
  cert_option = g_strdup_printf ("--cert=%s", cert);
  key_option = g_strdup_printf ("--pkey=%s", key);

  {
    /* Both peers relay on 127.0.0.1, so coturn must relay to loopback. */
    const char *argv[] = { "turnserver",
                           "-n",
                           "--no-cli",
                           "--no-dtls",
                           "--listening-ip=127.0.0.1",
                           listen_host,
                           "--relay-ip=127.0.0.1",
                           "--allow-loopback-peers",
                           port,
                           tls_port,
                           cert_option,
                           key_option,
                           "--lt-cred-mech",
                           "--user=" TURN_USER ":" TURN_PASSWORD,
                           "--realm=pinhole.test",
                           db_option,
                           pid_option,
                           log_option,
                           "--simple-log",
                           "--no-stdout-log",
                           NULL };

    fixture->coturn = ph_test_process_spawn (argv, NULL);
  }
  g_assert_true (
      poll_until (tcp_listening, GUINT_TO_POINTER (fixture->turn_port), START_TIMEOUT_MS));
  g_assert_true (
      poll_until (tcp_listening, GUINT_TO_POINTER (fixture->tls_port), START_TIMEOUT_MS));
  udp.address = fixture->host_address;
  udp.port = fixture->turn_port;
  g_assert_true (poll_until (stun_answers, &udp, START_TIMEOUT_MS));
}

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  if (!have_program ("turnserver") || !have_program ("openssl"))
    return;
  fixture->host_address = find_host_address ();
  if (fixture->host_address == NULL)
    {
      g_test_fail_printf ("This machine has no IPv4 address but loopback, so ICE has none to "
                          "gather on");
      return;
    }
  fixture->dir = g_dir_make_tmp ("pinhole-turn-XXXXXX", &error);
  g_assert_no_error (error);
  ph_test_rendezvous_fixture_set_up (&fixture->rendezvous, NULL);
  start_coturn (fixture);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  if (fixture->proxy != NULL)
    {
      ph_test_process_kill (fixture->proxy, SIGTERM);
      ph_test_process_wait_exit (fixture->proxy, EVENT_TIMEOUT_MS);
    }
  g_clear_pointer (&fixture->proxy, ph_test_process_free);
  if (fixture->coturn != NULL)
    {
      ph_test_process_kill (fixture->coturn, SIGTERM);
      ph_test_process_wait_exit (fixture->coturn, EVENT_TIMEOUT_MS);
    }
  g_clear_pointer (&fixture->coturn, ph_test_process_free);
  if (fixture->rendezvous.server != NULL)
    ph_test_rendezvous_fixture_tear_down (&fixture->rendezvous, NULL);
  if (fixture->dir != NULL)
    ph_test_remove_tree (fixture->dir);
  g_free (fixture->dir);
  g_free (fixture->host_address);
  g_free (fixture->ca_file);
  g_free (fixture->other_ca_file);
  g_free (fixture->proxy_log);
}

/* tinyproxy on a free port, letting CONNECT through to the TLS port only. */
static void
start_proxy (Fixture *fixture)
{
  g_autofree char *config = g_build_filename (fixture->dir, "tinyproxy.conf", NULL);
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;

  fixture->proxy_port = free_port (fixture->tls_port);
  fixture->proxy_log = g_build_filename (fixture->dir, "tinyproxy.log", NULL);
  text = g_strdup_printf ("Port %u\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 60\n"
                          "MaxClients 20\nConnectPort %u\nLogFile \"%s\"\nLogLevel Connect\n",
                          fixture->proxy_port, fixture->tls_port, fixture->proxy_log);
  g_file_set_contents (config, text, -1, &error);
  g_assert_no_error (error);
  {
    const char *argv[] = { "tinyproxy", "-d", "-c", config, NULL };

    fixture->proxy = ph_test_process_spawn (argv, NULL);
  }
  g_assert_true (
      poll_until (tcp_listening, GUINT_TO_POINTER (fixture->proxy_port), START_TIMEOUT_MS));
}

/* Starts a peer with the TURN servers in @turn_uris, relay-only unless
 * @fixture->allow_direct; @command is "host" or "join CODE". */
static PhTestProcess *
spawn_peer (Fixture *fixture, const char *name, const char *const *turn_uris, const char *ca_file,
            const char *const *extra_env, const char *const *command)
{
  g_autoptr (GStrvBuilder) args = g_strv_builder_new ();
  g_autoptr (GStrvBuilder) env = g_strv_builder_new ();
  g_autofree char *ca_variable = g_strdup_printf ("PINHOLE_TEST_TLS_CA_FILE=%s", ca_file);
  g_auto (GStrv) args_strv = NULL;
  g_auto (GStrv) env_strv = NULL;

  if (!fixture->allow_direct)
    g_strv_builder_add (args, "--relay-only");
  for (guint i = 0; turn_uris[i] != NULL; i++)
    {
      g_autofree char *option = g_strdup_printf ("--turn=%s", turn_uris[i]);

      g_strv_builder_add (args, option);
    }
  g_strv_builder_add (args, "--turn-user=" TURN_USER);
  g_strv_builder_addv (args, (const char **)command);
  args_strv = g_strv_builder_end (args);

  g_strv_builder_add (env, "PINHOLE_TURN_PASS=" TURN_PASSWORD);
  g_strv_builder_add (env, ca_variable);
  if (extra_env != NULL)
    g_strv_builder_addv (env, (const char **)extra_env);
  env_strv = g_strv_builder_end (env);

  return ph_test_spawn_cli (fixture->rendezvous.url, name,
                            PH_TEST_CLI_JSON | PH_TEST_CLI_NO_SERVER_ICE,
                            (const char *const *)args_strv, (const char *const *)env_strv);
}

static void
start_chat (Fixture *fixture, const char *const *turn_uris, const char *ca_file,
            const char *const *extra_env, PhTestProcess **out_host, PhTestProcess **out_joiner)
{
  const char *host_command[] = { "host", NULL };
  g_autoptr (JsonObject) code = NULL;

  *out_host = spawn_peer (fixture, "Alice", turn_uris, ca_file, extra_env, host_command);
  code = ph_test_process_wait_event (*out_host, "code", EVENT_TIMEOUT_MS);
  {
    const char *join_command[] = { "join", json_object_get_string_member (code, "code"), NULL };

    *out_joiner = spawn_peer (fixture, "Bob", turn_uris, ca_file, extra_env, join_command);
  }
}

/* The connected event's path: relayed, and this end's TURN leg as given. */
static void
assert_connected_over (PhTestProcess *peer, const char *transport, guint port, gboolean proxy)
{
  g_autoptr (JsonObject) event = ph_test_process_wait_event (peer, "connected", CONNECT_TIMEOUT_MS);
  JsonObject *path = json_object_get_object_member (event, "path");

  g_assert_nonnull (path);
  g_assert_true (json_object_get_boolean_member (path, "relayed"));
  g_assert_cmpstr (
      json_object_get_string_member (json_object_get_object_member (path, "local"), "type"), ==,
      "relay");
  g_assert_cmpstr (json_object_get_string_member_with_default (path, "turn_transport", ""), ==,
                   transport);
  g_assert_cmpint (json_object_get_int_member_with_default (path, "turn_port", 0), ==, port);
  g_assert_cmpint (json_object_get_boolean_member_with_default (path, "turn_proxy", !proxy), ==,
                   proxy);
}

/* A message each way, then the host leaves and both end cleanly: the
 * relays are released through the bridge on the way out. */
static void
assert_chat_and_goodbye (PhTestProcess *host, PhTestProcess *joiner)
{
  g_autoptr (JsonObject) received = NULL;
  g_autoptr (JsonObject) answer = NULL;
  g_autoptr (JsonObject) host_closed = NULL;
  g_autoptr (JsonObject) joiner_closed = NULL;

  ph_test_process_write_line (host, "hello through the relay");
  received = ph_test_process_wait_event (joiner, "message", EVENT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (received, "text"), ==, "hello through the relay");
  ph_test_process_write_line (joiner, "and back");
  answer = ph_test_process_wait_event (host, "message", EVENT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (answer, "text"), ==, "and back");

  ph_test_process_close_stdin (host);
  host_closed = ph_test_process_wait_event (host, "closed", EVENT_TIMEOUT_MS);
  joiner_closed = ph_test_process_wait_event (joiner, "closed", EVENT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (joiner_closed, "reason"), ==, "peer-left");
  g_assert_cmpint (ph_test_process_wait_exit (host, EVENT_TIMEOUT_MS), ==, 0);
  ph_test_process_close_stdin (joiner);
  g_assert_cmpint (ph_test_process_wait_exit (joiner, EVENT_TIMEOUT_MS), ==, 0);
}

static void
test_tls (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhTestProcess) host = NULL;
  g_autoptr (PhTestProcess) joiner = NULL;
  g_autofree char *uri = NULL;

  if (fixture->coturn == NULL)
    return;
  uri = g_strdup_printf ("turns:127.0.0.1:%u", fixture->tls_port);
  {
    const char *const turn_uris[] = { uri, NULL };

    start_chat (fixture, turn_uris, fixture->ca_file, NULL, &host, &joiner);
  }
  assert_connected_over (host, "tls", fixture->tls_port, FALSE);
  assert_connected_over (joiner, "tls", fixture->tls_port, FALSE);
  assert_chat_and_goodbye (host, joiner);
}

static void
test_tcp (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhTestProcess) host = NULL;
  g_autoptr (PhTestProcess) joiner = NULL;
  g_autofree char *uri = NULL;

  if (fixture->coturn == NULL)
    return;
  uri = g_strdup_printf ("turn:127.0.0.1:%u?transport=tcp", fixture->turn_port);
  {
    const char *const turn_uris[] = { uri, NULL };

    start_chat (fixture, turn_uris, fixture->ca_file, NULL, &host, &joiner);
  }
  assert_connected_over (host, "tcp", fixture->turn_port, FALSE);
  assert_connected_over (joiner, "tcp", fixture->turn_port, FALSE);
  assert_chat_and_goodbye (host, joiner);
}

/* The system's proxy from https_proxy, as GIO's default resolver reads it
 * outside GNOME (libproxy): TURN over TLS goes through it, and the path
 * says so. */
static void
test_tls_through_proxy (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhTestProcess) host = NULL;
  g_autoptr (PhTestProcess) joiner = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *proxy = NULL;
  g_autofree char *log = NULL;
  g_autofree char *request = NULL;

  if (fixture->coturn == NULL || !have_program ("tinyproxy"))
    return;
  start_proxy (fixture);
  uri = g_strdup_printf ("turns:127.0.0.1:%u", fixture->tls_port);
  proxy = g_strdup_printf ("https_proxy=http://127.0.0.1:%u", fixture->proxy_port);
  {
    const char *const turn_uris[] = { uri, NULL };
    /* The default resolver, not the tests' dummy one, and no other proxy
     * setting of the machine that runs the tests (names alone unset). */
    const char *const env[] = { proxy,         "GIO_USE_PROXY_RESOLVER",
                                "HTTPS_PROXY", "http_proxy",
                                "HTTP_PROXY",  "all_proxy",
                                "ALL_PROXY",   "no_proxy",
                                "NO_PROXY",    "XDG_CURRENT_DESKTOP",
                                NULL };

    start_chat (fixture, turn_uris, fixture->ca_file, env, &host, &joiner);
  }
  assert_connected_over (host, "tls", fixture->tls_port, TRUE);
  assert_connected_over (joiner, "tls", fixture->tls_port, TRUE);
  assert_chat_and_goodbye (host, joiner);

  /* And the proxy did carry it. */
  g_assert_true (g_file_get_contents (fixture->proxy_log, &log, NULL, NULL));
  request = g_strdup_printf ("CONNECT 127.0.0.1:%u ", fixture->tls_port);
  g_assert_nonnull (strstr (log, request));
}

/* A TURN server whose certificate the peers do not trust: a clear error,
 * soon, naming the server and the certificate problem. */
static void
test_untrusted_certificate (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhTestProcess) host = NULL;
  g_autoptr (PhTestProcess) joiner = NULL;
  g_autofree char *uri = NULL;
  PhTestProcess *peers[2];

  if (fixture->coturn == NULL)
    return;
  uri = g_strdup_printf ("turns:127.0.0.1:%u", fixture->tls_port);
  {
    const char *const turn_uris[] = { uri, NULL };

    start_chat (fixture, turn_uris, fixture->other_ca_file, NULL, &host, &joiner);
  }
  peers[0] = host;
  peers[1] = joiner;
  for (guint i = 0; i < G_N_ELEMENTS (peers); i++)
    {
      g_autoptr (JsonObject) error
          = ph_test_process_wait_event (peers[i], "error", CONNECT_TIMEOUT_MS);
      const char *message = json_object_get_string_member (error, "message");

      g_test_message ("%s", message);
      g_assert_cmpstr (json_object_get_string_member (error, "code"), ==, "ice-failed");
      g_assert_nonnull (strstr (message, uri));
      g_assert_nonnull (strstr (message, "certificate is not signed by an authority"));
      g_assert_cmpint (ph_test_process_wait_exit (peers[i], EVENT_TIMEOUT_MS), ==, 1);
    }
}

/* With UDP and TLS both working, the relay over UDP is the one chosen:
 * the fallback costs nothing where UDP gets through. TLS is named first,
 * so the order of the options does not decide it. */
static void
test_udp_preferred (Fixture *fixture, gconstpointer data)
{
  g_autoptr (PhTestProcess) host = NULL;
  g_autoptr (PhTestProcess) joiner = NULL;
  g_autofree char *tls_uri = NULL;
  g_autofree char *udp_uri = NULL;

  if (fixture->coturn == NULL)
    return;
  tls_uri = g_strdup_printf ("turns:127.0.0.1:%u", fixture->tls_port);
  udp_uri = g_strdup_printf ("turn:%s:%u", fixture->host_address, fixture->turn_port);
  {
    const char *const turn_uris[] = { tls_uri, udp_uri, NULL };

    start_chat (fixture, turn_uris, fixture->ca_file, NULL, &host, &joiner);
  }
  assert_connected_over (host, "udp", fixture->turn_port, FALSE);
  assert_connected_over (joiner, "udp", fixture->turn_port, FALSE);
  assert_chat_and_goodbye (host, joiner);
}

/* @peer's message events so far are "@prefix 0" to "@prefix @count-1",
 * each once and in order. */
static void
assert_received_once (PhTestProcess *peer, const char *prefix, guint count)
{
  GPtrArray *events = ph_test_process_get_events (peer);
  guint next = 0;

  for (guint i = 0; i < events->len; i++)
    {
      JsonObject *event = g_ptr_array_index (events, i);
      g_autofree char *expected = NULL;

      if (!g_str_equal (json_object_get_string_member (event, "event"), "message"))
        continue;
      expected = g_strdup_printf ("%s %u", prefix, next++);
      g_assert_cmpstr (json_object_get_string_member (event, "text"), ==, expected);
    }
  g_assert_cmpuint (next, ==, count);
}

/* Whether @peer reported a path change within @timeout_ms; it must be to
 * a direct path. */
static gboolean
moved_to_direct (PhTestProcess *peer, guint timeout_ms)
{
  const char *const path_changed[] = { "path-changed", NULL };
  g_autoptr (JsonObject) event = ph_test_process_next_event (peer, path_changed, timeout_ms);
  JsonObject *path;

  if (event == NULL)
    return FALSE;
  path = json_object_get_object_member (event, "path");
  g_assert_nonnull (path);
  g_assert_false (json_object_get_boolean_member (path, "relayed"));
  g_assert_cmpstr (
      json_object_get_string_member (json_object_get_object_member (path, "local"), "type"), !=,
      "relay");
  return TRUE;
}

/* Relayed first where a direct path exists (a test hook keeps the first
 * ICE stream's direct candidates to itself): the chat moves to the direct
 * path in the background, both sides say so in a path-changed event, and
 * the messages both write every ~0.1 s before, during and after the move
 * each arrive once and in order. */
static void
test_relayed_then_direct (Fixture *fixture, gconstpointer data)
{
  const char *const env[] = { "PINHOLE_TEST_HIDE_DIRECT_CANDIDATES=1", NULL };
  g_autoptr (PhTestProcess) host = NULL;
  g_autoptr (PhTestProcess) joiner = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *last = NULL;
  gboolean host_moved = FALSE;
  gboolean joiner_moved = FALSE;
  guint sent = 0;
  gint64 connected;
  gint64 deadline;

  if (fixture->coturn == NULL)
    return;
  fixture->allow_direct = TRUE;
  uri = g_strdup_printf ("turn:%s:%u", fixture->host_address, fixture->turn_port);
  {
    const char *const turn_uris[] = { uri, NULL };

    start_chat (fixture, turn_uris, fixture->ca_file, env, &host, &joiner);
  }
  assert_connected_over (host, "udp", fixture->turn_port, FALSE);
  assert_connected_over (joiner, "udp", fixture->turn_port, FALSE);
  connected = g_get_monotonic_time ();
  deadline = connected + ph_test_scaled_ms (10000) * G_TIME_SPAN_MILLISECOND;

  while ((!host_moved || !joiner_moved) && g_get_monotonic_time () < deadline)
    {
      g_autofree char *from_host = g_strdup_printf ("from Alice %u", sent);
      g_autofree char *from_joiner = g_strdup_printf ("from Bob %u", sent);

      ph_test_process_write_line (host, from_host);
      ph_test_process_write_line (joiner, from_joiner);
      sent++;
      host_moved = host_moved || moved_to_direct (host, 50);
      joiner_moved = joiner_moved || moved_to_direct (joiner, 50);
    }
  g_test_message ("relayed -> direct %.2f s after connecting, %u messages each way meanwhile",
                  (g_get_monotonic_time () - connected) / (double)G_USEC_PER_SEC, sent);
  g_assert_true (host_moved);
  g_assert_true (joiner_moved);

  /* One more each way on the direct path; once it is in, all before it
   * have been shown. */
  last = g_strdup_printf ("from Alice %u", sent);
  ph_test_process_write_line (host, last);
  while (TRUE)
    {
      g_autoptr (JsonObject) message
          = ph_test_process_wait_event (joiner, "message", EVENT_TIMEOUT_MS);

      if (g_str_equal (json_object_get_string_member (message, "text"), last))
        break;
    }
  g_free (last);
  last = g_strdup_printf ("from Bob %u", sent);
  ph_test_process_write_line (joiner, last);
  while (TRUE)
    {
      g_autoptr (JsonObject) message
          = ph_test_process_wait_event (host, "message", EVENT_TIMEOUT_MS);

      if (g_str_equal (json_object_get_string_member (message, "text"), last))
        break;
    }
  sent++;

  ph_test_process_close_stdin (host);
  json_object_unref (ph_test_process_wait_event (joiner, "closed", EVENT_TIMEOUT_MS));
  g_assert_cmpint (ph_test_process_wait_exit (host, EVENT_TIMEOUT_MS), ==, 0);
  ph_test_process_close_stdin (joiner);
  g_assert_cmpint (ph_test_process_wait_exit (joiner, EVENT_TIMEOUT_MS), ==, 0);
  /* After both ended, so that a late copy would be counted too. */
  assert_received_once (joiner, "from Alice", sent);
  assert_received_once (host, "from Bob", sent);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/turn-bridge/tunnel", test_bridge_tunnel);
  g_test_add_func ("/turn-bridge/refuses-others", test_bridge_refuses_others);
  g_test_add_func ("/turn-bridge/untrusted-certificate", test_bridge_untrusted_certificate);
  g_test_add_func ("/turn-bridge/server-down", test_bridge_server_down);

#define ADD(path, func)                                                                            \
  ph_test_add_with_hooks ("/turn-transports/" path, Fixture, NULL, fixture_set_up, func,           \
                          fixture_tear_down)
  /* The peers trust the test's certificate through a test hook. */
  ADD ("tls", test_tls);
  ADD ("tls-through-proxy", test_tls_through_proxy);
  ADD ("untrusted-certificate", test_untrusted_certificate);
  ADD ("udp-preferred", test_udp_preferred);
  /* And a direct path hidden from the first ICE stream. */
  ADD ("relayed-then-direct", test_relayed_then_direct);
#undef ADD
  g_test_add ("/turn-transports/tcp", Fixture, NULL, fixture_set_up, test_tcp, fixture_tear_down);

  return g_test_run ();
}
