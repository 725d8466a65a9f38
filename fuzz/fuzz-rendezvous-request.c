/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-fuzz-rendezvous-request"

#include "config.h"

#include <gio/gio.h>
#include <stdint.h>
#include <string.h>

#include "ph-memory-store.h"
#include "ph-rate-limiter.h"
#include "ph-rendezvous-server.h"

/* Past this the exchange is cut short: each long-poll is held for at most
 * a second (max-hold), and the fuzzer's own -timeout must not trip on a
 * few pipelined ones. */
#define DEADLINE_MS 3000
/* How long the server must stay idle for the exchange to count as over. */
#define SETTLE_MS 2
#define REPLY_KEPT 65536

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

typedef struct
{
  GSocket *client;
  const guint8 *data;
  gsize size;
  gsize written;
  GSource *source;
  GString *reply;
  gboolean done;
} Exchange;

static gboolean client_ready_cb (GSocket *socket, GIOCondition condition, gpointer user_data);

/* Waits for room to write while the request is going out, then only for
 * the answer: a source that also waits on G_IO_OUT would spin. */
static void
watch_client (Exchange *exchange)
{
  GIOCondition condition = G_IO_IN | G_IO_HUP | G_IO_ERR;

  if (exchange->source != NULL)
    {
      g_source_destroy (exchange->source);
      g_source_unref (exchange->source);
    }
  if (exchange->written < exchange->size)
    condition |= G_IO_OUT;
  exchange->source = g_socket_create_source (exchange->client, condition, NULL);
  g_source_set_callback (exchange->source, G_SOURCE_FUNC (client_ready_cb), exchange, NULL);
  g_source_attach (exchange->source, NULL);
}

/* Everything is sent, then the write side is shut so the server sees the
 * end of the request stream and closes the connection after answering. */
static void
send_some (Exchange *exchange)
{
  g_autoptr (GError) error = NULL;
  gssize sent;

  sent = g_socket_send (exchange->client, (const char *)exchange->data + exchange->written,
                        exchange->size - exchange->written, NULL, &error);
  if (sent < 0)
    {
      /* The server may hang up on a request it refused, before reading it all. */
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        exchange->written = exchange->size;
      return;
    }
  exchange->written += sent;
  if (exchange->written == exchange->size)
    {
      g_socket_shutdown (exchange->client, FALSE, TRUE, NULL);
      watch_client (exchange);
    }
}

static void
receive_all (Exchange *exchange)
{
  char buffer[16384];

  for (;;)
    {
      g_autoptr (GError) error = NULL;
      gssize received = g_socket_receive (exchange->client, buffer, sizeof buffer, NULL, &error);

      if (received > 0)
        {
          gsize room = REPLY_KEPT - MIN (exchange->reply->len, REPLY_KEPT);

          g_string_append_len (exchange->reply, buffer, MIN ((gsize)received, room));
          continue;
        }
      if (received < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        return;
      exchange->done = TRUE;
      return;
    }
}

static gboolean
client_ready_cb (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Exchange *exchange = user_data;

  if (exchange->written < exchange->size)
    send_some (exchange);
  receive_all (exchange);
  return G_SOURCE_CONTINUE;
}

static gboolean
flag_cb (gpointer user_data)
{
  gboolean *flag = user_data;

  *flag = TRUE;
  return G_SOURCE_REMOVE;
}

/* libsoup 3.2 neither answers nor closes a connection whose client shut its
 * write side between requests (fixed in libsoup 3.3), so the end of the
 * exchange is when the server has nothing left to do: no event ready, the
 * whole request sent, no long-poll held, and still nothing after a short
 * while for loopback to deliver what is in flight. */
static gboolean
server_is_idle (PhRendezvousServer *server, Exchange *exchange)
{
  gboolean settled = FALSE;
  guint settle_id;

  if (g_main_context_iteration (NULL, FALSE))
    return FALSE;
  if (exchange->written < exchange->size || ph_rendezvous_server_get_waiting_polls (server) > 0)
    {
      g_main_context_iteration (NULL, TRUE);
      return FALSE;
    }

  settle_id = g_timeout_add (SETTLE_MS, flag_cb, &settled);
  g_main_context_iteration (NULL, TRUE);
  if (!settled)
    {
      g_source_remove (settle_id);
      return FALSE;
    }
  return !g_main_context_iteration (NULL, FALSE);
}

static PhRendezvousServer *
start_server (guint16 *out_port)
{
  const char *stun_uris[] = { "stun:stun.example.org:3478", NULL };
  const char *turn_uris[] = { "turn:turn.example.org:3478?transport=udp", NULL };
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GError) error = NULL;
  g_autoptr (PhMemoryStore) store = NULL;
  g_autoptr (PhRateLimiter) limiter = NULL;
  PhRendezvousServer *server;

  /* Small limits, so that a short input reaches them too. */
  store = g_object_new (PH_TYPE_MEMORY_STORE, "max-mailboxes", 4, "max-messages", 8,
                        "max-mailbox-bytes", (guint64)4096, NULL);
  limiter = g_object_new (PH_TYPE_RATE_LIMITER, "burst", 16, NULL);
  server = g_object_new (PH_TYPE_RENDEZVOUS_SERVER, "max-hold", 1, "max-body-bytes", 1024,
                         "max-waiting-polls", 2, "store", store, "limiter", limiter, "stun-uris",
                         stun_uris, "turn-uris", turn_uris, "turn-secret", "fuzz", NULL);
  if (!ph_rendezvous_server_listen (server, loopback, 0, &error))
    g_error ("The server could not listen on loopback: %s", error->message);
  *out_port = ph_rendezvous_server_get_port (server);
  return server;
}

static GSocket *
connect_client (guint16 port)
{
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, port);
  g_autoptr (GError) error = NULL;
  GSocket *client;

  client = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  if (client == NULL || !g_socket_connect (client, address, NULL, &error))
    g_error ("Could not connect to the server on loopback: %s", error->message);
  g_socket_set_blocking (client, FALSE);
  return client;
}

/* The input is sent as raw bytes on one connection, as any client on the
 * internet could: one request or several pipelined. A fresh server each
 * time keeps runs reproducible: the first mailbox is always nameplate 1. */
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (PhRendezvousServer) server = NULL;
  Exchange exchange = { 0 };
  gboolean expired = FALSE;
  guint deadline_id;
  guint16 port;

  server = start_server (&port);
  exchange.client = connect_client (port);
  exchange.data = data;
  exchange.size = size;
  exchange.reply = g_string_new (NULL);
  if (size == 0)
    g_socket_shutdown (exchange.client, FALSE, TRUE, NULL);
  watch_client (&exchange);
  deadline_id = g_timeout_add (DEADLINE_MS, flag_cb, &expired);

  while (!exchange.done && !expired && !server_is_idle (server, &exchange))
    ;

  if (!expired)
    g_source_remove (deadline_id);
  g_source_destroy (exchange.source);
  g_source_unref (exchange.source);
  g_socket_close (exchange.client, NULL);
  g_object_unref (exchange.client);

  /* For a person replaying one input: what the server answered. */
  if (g_getenv ("PH_FUZZ_SHOW_REPLY") != NULL)
    g_printerr ("%s\n", exchange.reply->str);

  /* A 500 is libsoup's answer to a handler that set no status: a route
   * the server forgot to answer. Only the first status line is checked: a
   * later one cannot be told from body text without parsing HTTP. */
  g_assert_false (
      g_str_has_prefix (exchange.reply->str, "HTTP/")
      && g_str_has_prefix (exchange.reply->str + strcspn (exchange.reply->str, " "), " 500"));
  g_string_free (exchange.reply, TRUE);

  g_clear_object (&server);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  return 0;
}
