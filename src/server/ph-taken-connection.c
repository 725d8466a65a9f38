/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-taken-connection"

#include "config.h"

#include <string.h>
#include <sys/epoll.h>

#include "ph-rendezvous-server-private.h"

/* A waiting long-poll can take its connection from libsoup
 * (soup_server_message_steal_connection ()) and write its one answer
 * itself. That leans on how libsoup 3.2 hands the connection over (its
 * SoupIOStream wrapper, I/O freed at once, the handler still running),
 * which is libsoup's internals, checked against 3.2.x only. Any other
 * libsoup, at build time or at run time, keeps every waiting poll a
 * paused message (soup_server_message_pause/unpause), which answers the
 * same but costs a libsoup message and a main-loop source per poll. */

/* The libsoup series this file was checked against. */
#define TESTED_SOUP_MAJOR 3
#define TESTED_SOUP_MINOR 2

gboolean
ph_taken_connection_supported (void)
{
#if SOUP_CHECK_VERSION(TESTED_SOUP_MAJOR, TESTED_SOUP_MINOR, 0)                                    \
    && !SOUP_CHECK_VERSION(TESTED_SOUP_MAJOR, TESTED_SOUP_MINOR + 1, 0)
  return soup_get_major_version () == TESTED_SOUP_MAJOR
         && soup_get_minor_version () == TESTED_SOUP_MINOR;
#else
  return FALSE;
#endif
}

/* Ends a taken connection that is no longer waiting: the client's record
 * goes with it, as libsoup's would. */
void
ph_taken_connection_close (PhHeldPoll *poll)
{
  PhRendezvousServer *self = poll->server;
  char drain[512];

  g_assert (poll->state != PH_HELD_POLL_WAITING && poll->stream != NULL);

  ph_held_poll_unwatch (poll);
  if (poll->answer != NULL)
    g_queue_unlink (&self->answered, &poll->link);

  /* Closing a socket with unread bytes makes the kernel reset the
   * connection, which can lose the answer on its way: say we are done,
   * then read away what the client sent (a pipelined request, which
   * Connection: close leaves unanswered) before closing. */
  g_socket_shutdown (poll->socket, FALSE, TRUE, NULL);
  while (g_socket_receive_with_blocking (poll->socket, drain, sizeof drain, FALSE, NULL, NULL) > 0)
    ;
  g_hash_table_remove (self->clients, poll->socket);
  ph_held_poll_free (poll);
}

/* Writes what is left of the answer on a taken connection; what the
 * socket does not take now waits for the hang-up watch to say it can
 * go on, within the client's deadline. */
void
ph_taken_connection_write_answer (PhHeldPoll *poll)
{
  PhRendezvousServer *self = poll->server;

  while (poll->answer->len > 0)
    {
      g_autoptr (GError) error = NULL;
      gssize sent = g_socket_send_with_blocking (poll->socket, poll->answer->str, poll->answer->len,
                                                 FALSE, NULL, &error);

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          ph_held_poll_watch (poll, EPOLLOUT);
          return;
        }
      if (sent < 0)
        {
          self->requests_aborted++;
          ph_taken_connection_close (poll);
          return;
        }
      g_string_erase (poll->answer, 0, sent);
    }

  ph_server_count (self->requests_by_status, GUINT_TO_POINTER (poll->status));
  ph_taken_connection_close (poll);
}

/* The whole HTTP/1.x response libsoup would have written for @body
 * (taken), closing the connection: what it wrote for a paused message,
 * with the Date of the answer rather than of the request. @etag, if not
 * NULL, names the mailbox. */
static GString *
http_answer (PhRendezvousServer *self, SoupHTTPVersion http_version, guint status, char *body,
             const char *etag)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *date = soup_date_time_to_string (now, SOUP_DATE_HTTP);
  gsize length = strlen (body);
  GString *out = g_string_sized_new (256 + length);

  g_string_append_printf (out,
                          "HTTP/1.%c %u %s\r\n"
                          "Server: %s\r\n"
                          "Cache-Control: no-store\r\n"
                          "Date: %s\r\n",
                          http_version == SOUP_HTTP_1_0 ? '0' : '1', status,
                          soup_status_get_phrase (status), self->server_header, date);
  if (etag != NULL)
    g_string_append_printf (out, "ETag: %s\r\n", etag);
  /* A store that failed: the client tries again soon, as after any 503. */
  if (status == SOUP_STATUS_SERVICE_UNAVAILABLE)
    g_string_append (out, "Retry-After: 1\r\n");
  g_string_append_printf (out,
                          "Content-Type: application/json\r\n"
                          "Content-Length: %" G_GSIZE_FORMAT "\r\n"
                          "Connection: close\r\n"
                          "\r\n",
                          length);
  g_string_append_len (out, body, (gssize)length);
  g_free (body);
  return out;
}

/* The stream libsoup 3.2 hands over is its own SoupIOStream: a buffered
 * input stream (with whatever it read past the request: a pipelined
 * request, dropped, as Connection: close allows) over the connection.
 * Keeping only the connection drops the buffer; dropping the wrapper
 * leaves the connection open only if it was made not to close it. */
static GIOStream *
unwrap_stream (GIOStream *stream)
{
  GObjectClass *klass = G_OBJECT_GET_CLASS (stream);
  GParamSpec *base_spec = g_object_class_find_property (klass, "base-iostream");
  GParamSpec *close_spec = g_object_class_find_property (klass, "close-on-dispose");
  g_autoptr (GIOStream) base = NULL;
  gboolean close_on_dispose = TRUE;

  if (base_spec == NULL || base_spec->value_type != G_TYPE_IO_STREAM || close_spec == NULL
      || close_spec->value_type != G_TYPE_BOOLEAN)
    return stream;

  g_object_get (stream, "base-iostream", &base, "close-on-dispose", &close_on_dispose, NULL);
  if (base == NULL || close_on_dispose)
    return stream;

  g_object_unref (stream);
  return g_steal_pointer (&base);
}

/* What libsoup keeps for a paused message is most of a held poll's
 * memory (a 16 KiB header buffer, its message and I/O objects) and one
 * main-loop source each, which every request then pays for; what a
 * waiting poll needs is its socket. So the poll takes the connection and
 * writes its one answer itself. Not on a TLS server: the stream would be
 * a TLS connection (and possibly HTTP/2, several requests on one). */
gboolean
ph_taken_connection_possible (PhHeldPoll *poll)
{
  PhRendezvousServer *self = poll->server;

  return self->take_connections && ph_taken_connection_supported () && self->tls_certificate == NULL
         && poll->http_version <= SOUP_HTTP_1_1 && poll->socket != NULL && poll->msg != NULL;
}

gboolean
ph_taken_connection_take (PhHeldPoll *poll)
{
  GIOStream *stream;

  if (!ph_taken_connection_possible (poll))
    return FALSE;

  /* libsoup frees the message's I/O at once, and its I/O loop stops for
   * a message it no longer runs; the message is paused, as it has been
   * since its handler asked the store. */
  stream = soup_server_message_steal_connection (poll->msg);
  g_clear_object (&poll->msg);
  if (stream != NULL)
    poll->stream = unwrap_stream (stream);
  return TRUE;
}

/* Answers a poll whose connection was taken: @body (taken) as the whole
 * HTTP response, written as the socket takes it. */
void
ph_taken_connection_answer (PhHeldPoll *poll, guint status, char *body, const char *etag)
{
  g_assert (poll->stream != NULL && poll->answer == NULL);

  poll->status = status;
  poll->answer = http_answer (poll->server, poll->http_version, status, body, etag);
  ph_taken_connection_write_answer (poll);
}
