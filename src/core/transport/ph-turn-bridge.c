/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-turn-bridge"

#include "config.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "ph-test-hooks.h"
#include "ph-turn-bridge.h"

/* libnice's CONNECT is a request line and a few headers, ~200 bytes. */
#define MAX_REQUEST_BYTES 4096
/* The placeholders are 127.0.0.2 and up: 127.0.0.1 is the bridge. */
#define FIRST_PLACEHOLDER 2
#define MAX_PLACEHOLDERS 250
/* Reaching the server (its name, the proxy, TCP and TLS) in this long, or
 * not at all: libnice 0.1.21 gives up on an allocation over TCP after 2 s
 * without an answer (STUN_TIMER_DEFAULT_RELIABLE_TIMEOUT) anyway, and the
 * reason must be known before ICE fails, so that its error can say it. */
#define CONNECT_TIMEOUT_SECONDS 5

static const char response_ok[] = "HTTP/1.0 200 Connection established\r\n\r\n";
static const char response_refused[] = "HTTP/1.0 403 Forbidden\r\n\r\n";

typedef struct
{
  char *host;
  guint port;
  PhTurnTransport transport;
  char *uri;         /* as messages name it */
  char *placeholder; /* what libnice connects to */
  gboolean via_proxy;
  gboolean reported;
} Target;

struct _PhTurnBridge
{
  GObject parent_instance;

  GSocketService *service;
  guint16 port;
  GPtrArray *targets;     /* of Target */
  GTlsDatabase *database; /* NULL: the system's trust store */
  GCancellable *cancellable;
  char *problem;
  gboolean problem_is_unreachable;
  gboolean closed;
};

G_DEFINE_FINAL_TYPE (PhTurnBridge, ph_turn_bridge, G_TYPE_OBJECT)

enum
{
  SIGNAL_PROBLEM,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* One CONNECT from libnice and the connection it asked for. */
typedef struct
{
  PhTurnBridge *bridge;
  GSocketConnection *client; /* libnice's end */
  Target *target;
  GSocketClient *socket_client;
  GIOStream *upstream;
  guint8 request[MAX_REQUEST_BYTES];
  gsize filled;
  gsize header_length;
  GTlsCertificateFlags certificate_errors;
  gboolean via_proxy;
} Tunnel;

static void
target_free (Target *target)
{
  g_free (target->host);
  g_free (target->uri);
  g_free (target->placeholder);
  g_free (target);
}

static void
tunnel_free (Tunnel *tunnel)
{
  if (tunnel->socket_client != NULL)
    g_signal_handlers_disconnect_by_data (tunnel->socket_client, tunnel);
  g_clear_object (&tunnel->socket_client);
  g_clear_object (&tunnel->upstream);
  g_clear_object (&tunnel->client);
  g_clear_object (&tunnel->bridge);
  g_free (tunnel);
}

static void
response_written_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Tunnel *tunnel = user_data;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL);
  /* Dropping the connection closes it, the answer written. */
  tunnel_free (tunnel);
}

/* Answers a request that is not libnice's, and ends it. */
static void
refuse (Tunnel *tunnel)
{
  GOutputStream *output = g_io_stream_get_output_stream (G_IO_STREAM (tunnel->client));

  g_output_stream_write_all_async (output, response_refused, strlen (response_refused),
                                   G_PRIORITY_DEFAULT, tunnel->bridge->cancellable,
                                   response_written_cb, tunnel);
}

static const char *
describe_certificate_errors (GTlsCertificateFlags errors)
{
  /* Translators: this and the reasons below end the sentence “The TURN
   * server %s was not used: %s.”; “its” is the server's. */
  if (errors & G_TLS_CERTIFICATE_UNKNOWN_CA)
    return _ ("its certificate is not signed by an authority this computer trusts");
  if (errors & G_TLS_CERTIFICATE_BAD_IDENTITY)
    return _ ("its certificate is for another server name");
  if (errors & G_TLS_CERTIFICATE_NOT_ACTIVATED)
    return _ ("its certificate is not valid yet");
  if (errors & G_TLS_CERTIFICATE_EXPIRED)
    return _ ("its certificate has expired");
  if (errors & G_TLS_CERTIFICATE_REVOKED)
    return _ ("its certificate has been revoked");
  if (errors & G_TLS_CERTIFICATE_INSECURE)
    return _ ("its certificate uses insecure cryptography");
  return _ ("its certificate could not be verified");
}

static char *
describe_failure (Tunnel *tunnel, const GError *error)
{
  const char *uri = tunnel->target->uri;
  g_autofree char *reason = g_strdup (error->message);

  /* The reason ends the sentence, which brings its own full stop. */
  if (g_str_has_suffix (reason, "."))
    reason[strlen (reason) - 1] = '\0';

  if (tunnel->certificate_errors != 0)
    /* Translators: the first %s is the TURN server's URI, such as
     * turns:turn.example.org:443, the second why its certificate was
     * refused, such as “its certificate has expired”. */
    return g_strdup_printf (_ ("The TURN server %s was not used: %s."), uri,
                            describe_certificate_errors (tunnel->certificate_errors));
  if (tunnel->via_proxy)
    /* Translators: the first %s is the TURN server's URI, the second the
     * system's error message. “Your proxy” is the HTTP proxy of the system
     * settings. */
    return g_strdup_printf (_ ("The TURN server %s could not be reached through your proxy: %s."),
                            uri, reason);
  /* Translators: the first %s is the TURN server's URI, the second the
   * system's error message. */
  return g_strdup_printf (_ ("The TURN server %s could not be reached: %s."), uri, reason);
}

static void hold (Tunnel *tunnel);

static void
held_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Tunnel *tunnel = user_data;

  if (g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL) > 0)
    hold (tunnel);
  else
    tunnel_free (tunnel);
}

/* Keeps libnice's connection open, unanswered, until libnice drops it.
 * An answer would be worse: libnice 0.1.21 removes a TCP TURN socket that
 * fails, and with it the allocation's discovery, and when that was the
 * last one it never ends gathering (agent.c component_io_cb, then
 * discovery_prune_socket). Unanswered, the allocation times out like one
 * to a server that is down, and gathering ends. */
static void
hold (Tunnel *tunnel)
{
  GInputStream *input = g_io_stream_get_input_stream (G_IO_STREAM (tunnel->client));

  g_input_stream_read_async (input, tunnel->request, sizeof tunnel->request, G_PRIORITY_DEFAULT,
                             tunnel->bridge->cancellable, held_read_cb, tunnel);
}

static void
fail (Tunnel *tunnel, const GError *error)
{
  PhTurnBridge *self = tunnel->bridge;
  g_autofree char *problem = describe_failure (tunnel, error);

  /* libnice opens one connection per local address: one warning for all. */
  if (!tunnel->target->reported)
    g_warning ("%s", problem);
  tunnel->target->reported = TRUE;
  /* Held first: a handler may close the bridge. */
  hold (tunnel);
  if (self->problem == NULL)
    {
      self->problem = g_steal_pointer (&problem);
      self->problem_is_unreachable = tunnel->certificate_errors == 0 && !tunnel->via_proxy;
      g_signal_emit (self, signals[SIGNAL_PROBLEM], 0, self->problem);
    }
}

static void
spliced_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Tunnel *tunnel = user_data;
  g_autoptr (GError) error = NULL;

  if (!g_io_stream_splice_finish (result, &error))
    g_debug ("The connection to %s ended: %s", tunnel->target->uri, error->message);
  tunnel_free (tunnel);
}

static void
splice (Tunnel *tunnel)
{
  /* The first end to close closes the other: libnice's socket when the
   * agent closes, the server's when it drops the allocation. */
  g_io_stream_splice_async (G_IO_STREAM (tunnel->client), tunnel->upstream,
                            G_IO_STREAM_SPLICE_CLOSE_STREAM1 | G_IO_STREAM_SPLICE_CLOSE_STREAM2,
                            G_PRIORITY_DEFAULT, tunnel->bridge->cancellable, spliced_cb, tunnel);
}

static void
early_bytes_written_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Tunnel *tunnel = user_data;
  g_autoptr (GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      g_debug ("Could not write to %s: %s", tunnel->target->uri, error->message);
      tunnel_free (tunnel);
      return;
    }
  splice (tunnel);
}

static void
established_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Tunnel *tunnel = user_data;
  g_autoptr (GError) error = NULL;
  gsize early = tunnel->filled - tunnel->header_length;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      g_debug ("libnice left before its tunnel to %s was open: %s", tunnel->target->uri,
               error->message);
      tunnel_free (tunnel);
      return;
    }
  /* libnice waits for the answer before it sends, but bytes that came
   * with the request belong to the server all the same. */
  if (early > 0)
    g_output_stream_write_all_async (
        g_io_stream_get_output_stream (tunnel->upstream), tunnel->request + tunnel->header_length,
        early, G_PRIORITY_DEFAULT, tunnel->bridge->cancellable, early_bytes_written_cb, tunnel);
  else
    splice (tunnel);
}

/* STUN and ICE checks are small writes each waiting for an answer: Nagle's
 * algorithm would hold each one for the server's delayed ACK. */
static void
send_at_once (GSocketConnection *connection)
{
  g_autoptr (GError) error = NULL;

  if (!g_socket_set_option (g_socket_connection_get_socket (connection), IPPROTO_TCP, TCP_NODELAY,
                            TRUE, &error))
    g_debug ("TCP_NODELAY: %s", error->message);
}

static void
upstream_connected_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Tunnel *tunnel = user_data;
  g_autoptr (GError) error = NULL;
  GSocketConnection *connection;
  GOutputStream *output;

  connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (connection == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        tunnel_free (tunnel);
      else
        fail (tunnel, error);
      return;
    }

  /* The timeout bounded the setup; an idle relay must not time out. */
  g_socket_set_timeout (g_socket_connection_get_socket (connection), 0);
  send_at_once (connection);
  tunnel->upstream = G_IO_STREAM (connection);
  tunnel->target->via_proxy = tunnel->via_proxy;
  g_debug ("Connected to %s%s", tunnel->target->uri, tunnel->via_proxy ? " through a proxy" : "");

  output = g_io_stream_get_output_stream (G_IO_STREAM (tunnel->client));
  g_output_stream_write_all_async (output, response_ok, strlen (response_ok), G_PRIORITY_DEFAULT,
                                   tunnel->bridge->cancellable, established_cb, tunnel);
}

static gboolean
accept_certificate_cb (GTlsConnection *connection, GTlsCertificate *certificate,
                       GTlsCertificateFlags errors, Tunnel *tunnel)
{
  /* Only called for a certificate that failed validation: remember why,
   * for the message, and refuse it. */
  tunnel->certificate_errors = errors;
  return FALSE;
}

static void
socket_client_event_cb (GSocketClient *client, GSocketClientEvent event,
                        GSocketConnectable *connectable, GIOStream *connection, Tunnel *tunnel)
{
  switch (event)
    {
    case G_SOCKET_CLIENT_CONNECTING:
      /* A new address, maybe the next proxy or none. */
      tunnel->via_proxy = FALSE;
      break;
    case G_SOCKET_CLIENT_PROXY_NEGOTIATING:
      tunnel->via_proxy = TRUE;
      break;
    case G_SOCKET_CLIENT_TLS_HANDSHAKING:
      if (tunnel->bridge->database != NULL)
        g_tls_connection_set_database (G_TLS_CONNECTION (connection), tunnel->bridge->database);
      g_signal_connect (connection, "accept-certificate", G_CALLBACK (accept_certificate_cb),
                        tunnel);
      break;
    case G_SOCKET_CLIENT_RESOLVING:
    case G_SOCKET_CLIENT_RESOLVED:
    case G_SOCKET_CLIENT_CONNECTED:
    case G_SOCKET_CLIENT_PROXY_NEGOTIATED:
    case G_SOCKET_CLIENT_TLS_HANDSHAKED:
    case G_SOCKET_CLIENT_COMPLETE:
    default:
      break;
    }
}

static void
connect_upstream (Tunnel *tunnel)
{
  Target *target = tunnel->target;
  g_autoptr (GSocketConnectable) server = NULL;

  /* By name, so that a proxy resolves it when it is the only one that
   * can. "https": TURN's CONNECT is the tunnel an HTTPS proxy makes, and
   * the system's settings name a proxy per scheme. */
  server = g_object_new (G_TYPE_NETWORK_ADDRESS, "hostname", target->host, "port", target->port,
                         "scheme", "https", NULL);

  /* One client per tunnel: its "event" signal tells this connection's
   * story only. */
  tunnel->socket_client = g_socket_client_new ();
  g_socket_client_set_timeout (tunnel->socket_client, CONNECT_TIMEOUT_SECONDS);
  g_socket_client_set_enable_proxy (tunnel->socket_client, TRUE);
  g_socket_client_set_tls (tunnel->socket_client, target->transport == PH_TURN_TRANSPORT_TLS);
  g_signal_connect (tunnel->socket_client, "event", G_CALLBACK (socket_client_event_cb), tunnel);
  g_socket_client_connect_async (tunnel->socket_client, server, tunnel->bridge->cancellable,
                                 upstream_connected_cb, tunnel);
}

/* The target of "CONNECT ADDRESS:PORT HTTP/1.x" when it is a placeholder. */
static Target *
find_requested_target (PhTurnBridge *self, const char *request_line)
{
  g_auto (GStrv) words = g_strsplit (request_line, " ", 0);
  const char *colon;
  guint64 port;

  if (g_strv_length (words) != 3 || strcmp (words[0], "CONNECT") != 0
      || !g_str_has_prefix (words[2], "HTTP/1."))
    return NULL;
  colon = strrchr (words[1], ':');
  if (colon == NULL || !g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &port, NULL))
    return NULL;
  for (guint i = 0; i < self->targets->len; i++)
    {
      Target *target = g_ptr_array_index (self->targets, i);

      if (target->port == port && strlen (target->placeholder) == (gsize)(colon - words[1])
          && strncmp (target->placeholder, words[1], colon - words[1]) == 0)
        return target;
    }
  return NULL;
}

static void read_request (Tunnel *tunnel);

static void
request_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Tunnel *tunnel = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *request_line = NULL;
  gssize n;
  const guint8 *line_end;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (n <= 0)
    {
      if (n < 0 && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("Could not read a proxy request: %s", error->message);
      tunnel_free (tunnel);
      return;
    }
  tunnel->filled += n;

  for (gsize i = 3; i < tunnel->filled && tunnel->header_length == 0; i++)
    if (memcmp (tunnel->request + i - 3, "\r\n\r\n", 4) == 0)
      tunnel->header_length = i + 1;
  if (tunnel->header_length == 0)
    {
      if (tunnel->filled < sizeof tunnel->request)
        read_request (tunnel);
      else
        refuse (tunnel);
      return;
    }

  line_end = memchr (tunnel->request, '\r', tunnel->header_length);
  request_line = g_strndup ((const char *)tunnel->request, line_end - tunnel->request);
  tunnel->target = find_requested_target (tunnel->bridge, request_line);
  if (tunnel->target == NULL)
    {
      /* Not libnice asking for one of this bridge's servers: some other
       * program on this machine, which gets no open proxy. */
      g_debug ("Refused a proxy request for something else: %s", request_line);
      refuse (tunnel);
      return;
    }
  connect_upstream (tunnel);
}

static void
read_request (Tunnel *tunnel)
{
  GInputStream *input = g_io_stream_get_input_stream (G_IO_STREAM (tunnel->client));

  g_input_stream_read_async (input, tunnel->request + tunnel->filled,
                             sizeof tunnel->request - tunnel->filled, G_PRIORITY_DEFAULT,
                             tunnel->bridge->cancellable, request_read_cb, tunnel);
}

static gboolean
incoming_cb (GSocketService *service, GSocketConnection *connection, GObject *source_object,
             PhTurnBridge *self)
{
  Tunnel *tunnel;

  if (self->closed)
    return TRUE;
  tunnel = g_new0 (Tunnel, 1);
  tunnel->bridge = g_object_ref (self);
  tunnel->client = g_object_ref (connection);
  send_at_once (connection);
  read_request (tunnel);
  return TRUE;
}

void
ph_turn_bridge_close (PhTurnBridge *self)
{
  g_return_if_fail (PH_IS_TURN_BRIDGE (self));

  if (self->closed)
    return;
  self->closed = TRUE;
  g_cancellable_cancel (self->cancellable);
  if (self->service != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->service, self);
      g_socket_service_stop (self->service);
      g_socket_listener_close (G_SOCKET_LISTENER (self->service));
    }
}

static void
ph_turn_bridge_dispose (GObject *object)
{
  PhTurnBridge *self = PH_TURN_BRIDGE (object);

  ph_turn_bridge_close (self);
  g_clear_object (&self->service);
  g_clear_object (&self->database);

  G_OBJECT_CLASS (ph_turn_bridge_parent_class)->dispose (object);
}

static void
ph_turn_bridge_finalize (GObject *object)
{
  PhTurnBridge *self = PH_TURN_BRIDGE (object);

  g_ptr_array_unref (self->targets);
  g_clear_object (&self->cancellable);
  g_free (self->problem);

  G_OBJECT_CLASS (ph_turn_bridge_parent_class)->finalize (object);
}

static void
ph_turn_bridge_class_init (PhTurnBridgeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ph_turn_bridge_dispose;
  object_class->finalize = ph_turn_bridge_finalize;

  signals[SIGNAL_PROBLEM]
      = g_signal_new ("problem", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                      G_TYPE_NONE, 1, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
ph_turn_bridge_init (PhTurnBridge *self)
{
  self->targets = g_ptr_array_new_with_free_func ((GDestroyNotify)target_free);
  self->cancellable = g_cancellable_new ();
}

/* Tests trust their own certificate authority instead of the system's;
 * in other builds the hook is never set. */
static GTlsDatabase *
load_test_database (void)
{
  const char *ca_file = ph_test_hook_string ("PINHOLE_TEST_TLS_CA_FILE");
  g_autoptr (GError) error = NULL;
  GTlsDatabase *database;

  if (ca_file == NULL)
    return NULL;
  database = g_tls_file_database_new (ca_file, &error);
  if (database == NULL)
    g_warning ("Could not load the test certificate authorities %s: %s", ca_file, error->message);
  return database;
}

PhTurnBridge *
ph_turn_bridge_new (GError **error)
{
  g_autoptr (PhTurnBridge) self = NULL;
  g_autoptr (GInetAddress) loopback = NULL;
  g_autoptr (GSocketAddress) address = NULL;
  g_autoptr (GSocketAddress) bound = NULL;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (PH_TYPE_TURN_BRIDGE, NULL);
  self->database = load_test_database ();
  self->service = g_socket_service_new ();
  loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  address = g_inet_socket_address_new (loopback, 0);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (self->service), address,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL, &bound,
                                      error))
    return NULL;
  self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_signal_connect (self->service, "incoming", G_CALLBACK (incoming_cb), self);
  g_socket_service_start (self->service);
  return g_steal_pointer (&self);
}

guint16
ph_turn_bridge_get_port (PhTurnBridge *self)
{
  g_return_val_if_fail (PH_IS_TURN_BRIDGE (self), 0);

  return self->port;
}

char *
ph_turn_bridge_add_server (PhTurnBridge *self, const PhTurnServer *server)
{
  Target *target;

  g_return_val_if_fail (PH_IS_TURN_BRIDGE (self), NULL);
  g_return_val_if_fail (server != NULL, NULL);
  g_return_val_if_fail (server->transport != PH_TURN_TRANSPORT_UDP, NULL);

  if (self->targets->len >= MAX_PLACEHOLDERS)
    return NULL;
  target = g_new0 (Target, 1);
  target->host = g_strdup (server->host);
  target->port = server->port;
  target->transport = server->transport;
  target->uri = ph_turn_server_to_uri (server);
  target->placeholder = g_strdup_printf ("127.0.0.%u", FIRST_PLACEHOLDER + self->targets->len);
  g_ptr_array_add (self->targets, target);
  return g_strdup (target->placeholder);
}

gboolean
ph_turn_bridge_lookup (PhTurnBridge *self, const char *address, guint port,
                       PhTurnTransport *out_transport, gboolean *out_via_proxy)
{
  g_return_val_if_fail (PH_IS_TURN_BRIDGE (self), FALSE);
  g_return_val_if_fail (address != NULL, FALSE);

  for (guint i = 0; i < self->targets->len; i++)
    {
      const Target *target = g_ptr_array_index (self->targets, i);

      if (target->port != port || strcmp (target->placeholder, address) != 0)
        continue;
      if (out_transport != NULL)
        *out_transport = target->transport;
      if (out_via_proxy != NULL)
        *out_via_proxy = target->via_proxy;
      return TRUE;
    }
  return FALSE;
}

const char *
ph_turn_bridge_get_problem (PhTurnBridge *self)
{
  g_return_val_if_fail (PH_IS_TURN_BRIDGE (self), NULL);

  return self->problem;
}

gboolean
ph_turn_bridge_get_problem_is_unreachable (PhTurnBridge *self)
{
  g_return_val_if_fail (PH_IS_TURN_BRIDGE (self), FALSE);

  return self->problem_is_unreachable;
}
