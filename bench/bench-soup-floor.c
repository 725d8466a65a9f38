/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "bench-soup-floor"

#include "config.h"

#include <gio/gio.h>
#include <libsoup/soup.h>
#include <stdio.h>
#include <string.h>

/* libsoup with nothing of Pinhole's: one handler that gives every request
 * of bench-rendezvous a canned answer of the same status, shape and size as
 * pinhole-rendezvous gives it, without looking at anything else. The bench
 * runs the same loads against both, so what libsoup itself costs each
 * request on this machine is known, and what the server adds to it. It
 * takes (and ignores) the server's options, and prints the same first
 * line. */

#define LISTEN_BACKLOG 4096

static void
respond (SoupServerMessage *msg, guint status, const char *body)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, body,
                                    strlen (body));
}

static void
handle_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
           gpointer user_data)
{
  const char *method = soup_server_message_get_method (msg);

  if (strcmp (path, "/v1/health") == 0)
    respond (msg, SOUP_STATUS_OK, "{\"status\":\"ok\",\"version\":\"" PACKAGE_VERSION "\"}");
  else if (strcmp (path, "/v1/mailboxes") == 0)
    respond (msg, SOUP_STATUS_CREATED, "{\"nameplate\":\"1\",\"expires_in\":3600}");
  else if (method == SOUP_METHOD_POST)
    respond (msg, SOUP_STATUS_CREATED, "{\"index\":1}");
  else if (method == SOUP_METHOD_GET)
    respond (msg, SOUP_STATUS_OK,
             "{\"messages\":[{\"index\":1,\"side\":\"0123456789abcdef\",\"phase\":\"pake\","
             "\"body\":\"aGVsbG8=\"}]}");
  else
    soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
}

/* As pinhole-rendezvous does, and for the same reason (see
 * request_finished_cb () there): a 204 keeps its connection. */
static void
request_finished_cb (SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
  if (soup_server_message_get_status (msg) == SOUP_STATUS_NO_CONTENT)
    soup_message_headers_set_encoding (soup_server_message_get_response_headers (msg),
                                       SOUP_ENCODING_NONE);
}

int
main (int argc, char *argv[])
{
  g_autoptr (SoupServer) server = soup_server_new (NULL, NULL);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr (GError) error = NULL;

  soup_server_add_handler (server, NULL, handle_cb, NULL, NULL);
  g_signal_connect (server, "request-finished", G_CALLBACK (request_finished_cb), NULL);
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
                         &error);
  if (socket != NULL)
    g_socket_set_listen_backlog (socket, LISTEN_BACKLOG);
  if (socket == NULL || !g_socket_bind (socket, address, TRUE, &error)
      || !g_socket_listen (socket, &error) || !soup_server_listen_socket (server, socket, 0, &error)
      || (bound = g_socket_get_local_address (socket, &error)) == NULL)
    g_error ("could not listen: %s", error->message);

  printf ("pinhole-rendezvous listening on http://127.0.0.1:%u\n",
          g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  fflush (stdout);
  g_main_loop_run (loop);
  return 0;
}
