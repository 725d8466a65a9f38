/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-server-clients"

#include "config.h"

#include "ph-rendezvous-server-private.h"

/* The client connections libsoup accepted, by socket: each has a deadline
 * whenever the server waits for it, so a slow or idle client cannot keep
 * its connection for ever. And who each request comes from, for the
 * limits that count per client. */

/* A request's client key, when it is not its connection's. */
static GQuark
client_key_quark (void)
{
  static GQuark quark;

  if (quark == 0)
    quark = g_quark_from_static_string ("ph-server-client-key");
  return quark;
}

static void schedule_deadline (PhRendezvousServer *self);

/* Every deadline is the same time from now, so the queue stays in order
 * by appending, and one timer for its head serves every client. */
static gboolean
deadline_cb (gpointer user_data)
{
  PhRendezvousServer *self = user_data;
  gint64 now = g_get_monotonic_time ();
  PhServerClient *client;

  self->deadline_id = 0;
  while ((client = g_queue_peek_head (&self->deadlines)) != NULL && client->deadline_us <= now)
    {
      /* Shutting the socket down, rather than closing it, lets libsoup
       * read end-of-file and drop the connection the usual way. The entry
       * goes either way: libsoup 3.2 never frees an accepted socket, so
       * its weak reference cannot be relied on to clear the table. */
      if (!g_socket_is_closed (client->socket)
          && g_socket_shutdown (client->socket, TRUE, TRUE, NULL))
        self->clients_timed_out++;
      g_hash_table_remove (self->clients, client->socket);
    }
  schedule_deadline (self);

  return G_SOURCE_REMOVE;
}

static void
schedule_deadline (PhRendezvousServer *self)
{
  PhServerClient *head = g_queue_peek_head (&self->deadlines);
  gint64 delay_us;

  if (head == NULL || self->deadline_id != 0)
    return;

  delay_us = MAX (head->deadline_us - g_get_monotonic_time (), 0);
  self->deadline_id = g_timeout_add ((guint)((delay_us + 999) / 1000), deadline_cb, self);
}

void
ph_server_client_disarm (PhServerClient *client)
{
  if (!client->armed)
    return;
  g_queue_unlink (&client->server->deadlines, &client->link);
  client->armed = FALSE;
}

static void
client_socket_gone_cb (gpointer user_data, GObject *where_the_socket_was)
{
  PhServerClient *client = user_data;

  /* Stolen, not removed: the weak reference is already gone. */
  ph_server_client_disarm (client);
  g_hash_table_steal (client->server->clients, where_the_socket_was);
  g_free (client->key);
  g_free (client);
}

void
ph_server_client_free (PhServerClient *client)
{
  ph_server_client_disarm (client);
  g_object_weak_unref (G_OBJECT (client->socket), client_socket_gone_cb, client);
  g_free (client->key);
  g_free (client);
}

PhServerClient *
ph_server_lookup_client (PhRendezvousServer *self, GSocket *socket)
{
  PhServerClient *client;

  if (socket == NULL)
    return NULL;

  client = g_hash_table_lookup (self->clients, socket);
  if (client == NULL)
    {
      client = g_new0 (PhServerClient, 1);
      client->server = self;
      client->socket = socket;
      client->link.data = client;
      g_object_weak_ref (G_OBJECT (socket), client_socket_gone_cb, client);
      g_hash_table_insert (self->clients, socket, client);
    }
  return client;
}

/* Gives the client on @socket client-timeout seconds from now. */
void
ph_server_client_arm (PhRendezvousServer *self, GSocket *socket)
{
  PhServerClient *client = ph_server_lookup_client (self, socket);

  if (client == NULL)
    return;

  ph_server_client_disarm (client);
  client->deadline_us = g_get_monotonic_time () + (gint64)self->client_timeout * G_USEC_PER_SEC;
  client->armed = TRUE;
  g_queue_push_tail_link (&self->deadlines, &client->link);
  schedule_deadline (self);
}

/* The limit key of the message's peer; @out_proxy says whether the peer
 * is a trusted proxy. A message without an address (none arrives from a
 * socket without one) counts under "". */
static char *
peer_key (PhRendezvousServer *self, SoupServerMessage *msg, gboolean *out_proxy)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  GInetAddress *peer;

  *out_proxy = FALSE;
  if (!G_IS_INET_SOCKET_ADDRESS (remote))
    return g_strdup ("");
  peer = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote));
  *out_proxy = ph_trusted_proxies_contain (self->trusted_proxies, peer);
  return ph_client_address_limit_key (peer);
}

/* The key every per-client limit counts the request under
 * (ph-client-address.h). A connection from anyone but a trusted proxy
 * keeps its key; behind a proxy one kept-alive connection carries many
 * clients' requests, so there each request is asked its own, from its
 * forwarding headers. */
const char *
ph_server_client_key (PhRendezvousServer *self, SoupServerMessage *msg)
{
  PhServerClient *client;
  char *key = g_object_get_qdata (G_OBJECT (msg), client_key_quark ());
  gboolean proxy;
  g_autoptr (GInetAddress) forwarded = NULL;

  if (key != NULL)
    return key;
  client = ph_server_lookup_client (self, soup_server_message_get_socket (msg));
  if (client != NULL && client->key != NULL)
    return client->key;

  key = peer_key (self, msg, &proxy);
  if (!proxy && client != NULL)
    {
      client->key = key;
      return key;
    }
  if (proxy)
    {
      GInetAddress *peer = g_inet_socket_address_get_address (
          G_INET_SOCKET_ADDRESS (soup_server_message_get_remote_address (msg)));

      g_free (key);
      forwarded = ph_client_address_resolve (self->trusted_proxies, peer,
                                             soup_server_message_get_request_headers (msg));
      key = ph_client_address_limit_key (forwarded);
    }
  g_object_set_qdata_full (G_OBJECT (msg), client_key_quark (), key, g_free);
  return key;
}

/* libsoup starts a request when a connection is accepted and, on a kept-alive
 * connection, at the first byte of the next one: from then on the client
 * has client-timeout seconds to send it all, however slowly it trickles. */
void
ph_server_request_started_cb (SoupServer *server, SoupServerMessage *msg, PhRendezvousServer *self)
{
  ph_server_client_arm (self, soup_server_message_get_socket (msg));
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control",
                                "no-store");
}

void
ph_server_request_finished_cb (SoupServer *server, SoupServerMessage *msg, PhRendezvousServer *self)
{
  /* libsoup 3.2 strips a 204's Content-Length as it writes the headers
   * (write_headers () in soup-server-message-io-http1.c), which leaves the
   * response headers without an encoding; soup_message_headers_get_encoding ()
   * then calls the response one that ends at end-of-file, and
   * soup_server_message_is_keepalive () closes the connection when
   * request_finished () in soup-server.c asks it, right after this signal.
   * A 204 has no body: saying so keeps the connection, so a client that
   * leaves a mailbox does not have to connect again. */
  if (soup_server_message_get_status (msg) == SOUP_STATUS_NO_CONTENT)
    soup_message_headers_set_encoding (soup_server_message_get_response_headers (msg),
                                       SOUP_ENCODING_NONE);

  /* A kept-alive connection idles until its next request, within bounds. */
  ph_server_client_arm (self, soup_server_message_get_socket (msg));
  ph_server_count (self->requests_by_status,
                   GUINT_TO_POINTER (soup_server_message_get_status (msg)));
}

/* libsoup reports a request whose client hung up as status 500, which
 * would read as a server fault: such requests get a label of their own. */
void
ph_server_request_aborted_cb (SoupServer *server, SoupServerMessage *msg, PhRendezvousServer *self)
{
  ph_server_client_arm (self, soup_server_message_get_socket (msg));
  self->requests_aborted++;
}
