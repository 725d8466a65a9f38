/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-server-routing"

#include "config.h"

#include <string.h>

#include "ph-mailbox-format.h"
#include "ph-rendezvous-server-private.h"

/* Which handler answers a request: the path, the method, and before the
 * body is read, the rate limit and the body size limit. (If-Match is the
 * store's to check, in the same operation as the request's own.) */

/* @allowed lists the methods as the Allow header does: "GET, POST". */
gboolean
ph_server_check_method (PhRendezvousServer *self, SoupServerMessage *msg, const char *allowed)
{
  const char *method = soup_server_message_get_method (msg);
  gsize length = strlen (method);

  for (const char *p = allowed; length > 0 && (p = strstr (p, method)) != NULL; p += length)
    if ((p == allowed || p[-1] == ' ') && (p[length] == '\0' || p[length] == ','))
      return TRUE;

  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", allowed);
  ph_server_respond_error (self, msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method-not-allowed",
                           "%s is not allowed here; use %s.", method, allowed);
  return FALSE;
}

static void
route_mailbox (PhRendezvousServer *self, SoupServerMessage *msg, const char *rest,
               GHashTable *query)
{
  const char *slash = strchr (rest, '/');
  gsize digits = slash != NULL ? (gsize)(slash - rest) : strlen (rest);
  const char *method = soup_server_message_get_method (msg);
  guint nameplate;

  if (slash != NULL && strcmp (slash, "/messages") != 0 && strcmp (slash, "/join") != 0
      && strcmp (slash, "/turn") != 0)
    {
      ph_server_respond_error (self, msg, SOUP_STATUS_NOT_FOUND, "not-found",
                               "There is nothing at %s.",
                               g_uri_get_path (soup_server_message_get_uri (msg)));
      return;
    }

  if (!ph_mailbox_parse_nameplate (rest, digits, &nameplate))
    {
      ph_server_respond_error (self, msg, SOUP_STATUS_NOT_FOUND, "unknown-mailbox",
                               "There is no mailbox with that nameplate.");
      return;
    }

  if (slash == NULL)
    {
      if (!ph_server_check_method (self, msg, "PUT, DELETE"))
        return;
      if (strcmp (method, SOUP_METHOD_PUT) == 0)
        ph_server_handle_claim (self, msg, nameplate);
      else
        ph_server_handle_leave (self, msg, nameplate);
    }
  else if (strcmp (slash, "/join") == 0)
    {
      if (ph_server_check_method (self, msg, "POST"))
        ph_server_handle_join (self, msg, nameplate, query);
    }
  else if (strcmp (slash, "/turn") == 0)
    {
      if (ph_server_check_method (self, msg, "GET"))
        ph_server_handle_mailbox_turn (self, msg, nameplate);
    }
  else if (ph_server_check_method (self, msg, "GET, POST"))
    {
      if (strcmp (method, SOUP_METHOD_POST) == 0)
        ph_server_handle_post_message (self, msg, nameplate);
      else
        ph_server_handle_get_messages (self, msg, nameplate, query);
    }
}

void
ph_server_request_cb (SoupServer *server, SoupServerMessage *msg, const char *path,
                      GHashTable *query, gpointer user_data)
{
  PhRendezvousServer *self = user_data;

  /* The request is in; the response must go out in time. */
  ph_server_client_arm (self, soup_server_message_get_socket (msg));

  if (strcmp (path, "/v1/mailboxes") == 0)
    {
      if (ph_server_check_method (self, msg, "POST"))
        ph_server_handle_allocate (self, msg);
    }
  else if (g_str_has_prefix (path, "/v1/mailboxes/"))
    {
      route_mailbox (self, msg, path + strlen ("/v1/mailboxes/"), query);
    }
  else if (g_str_has_prefix (path, "/v1/meet/"))
    {
      ph_server_route_meet (self, msg, path + strlen ("/v1/meet/"), query);
    }
  else if (strcmp (path, "/v1/turn") == 0)
    {
      if (ph_server_check_method (self, msg, "GET"))
        ph_server_handle_turn (self, msg);
    }
  else if (strcmp (path, "/v1/health") == 0)
    {
      if (ph_server_check_method (self, msg, "GET"))
        ph_server_handle_health (self, msg);
    }
  else if (strcmp (path, "/metrics") == 0)
    {
      if (ph_server_check_method (self, msg, "GET"))
        ph_server_handle_metrics (self, msg);
    }
  else
    {
      ph_server_respond_error (self, msg, SOUP_STATUS_NOT_FOUND, "not-found",
                               "There is nothing at %s.", path);
    }
}

/* Past the limit the body is still read off the connection, but no longer
 * kept, so a client cannot grow the server's memory by sending more. */
static void
refuse_large_body (PhRendezvousServer *self, SoupServerMessage *msg)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);

  soup_message_body_set_accumulate (body, FALSE);
  soup_message_body_truncate (body);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection",
                                "close");
  ph_server_respond_error (self, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "too-large",
                           "The request body is over the limit of %u bytes.", self->max_body_bytes);
}

static void
request_got_chunk_cb (SoupServerMessage *msg, GBytes *chunk, PhRendezvousServer *self)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);

  if (soup_server_message_get_status (msg) == 0 && body->length > (goffset)self->max_body_bytes)
    refuse_large_body (self, msg);
}

/* Runs once the headers are in, before the body is read: refuses what is
 * rate-limited or announced as too large without storing the body. */
void
ph_server_early_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                    gpointer user_data)
{
  PhRendezvousServer *self = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *client = ph_server_client_key (self, msg);
  SoupEncoding encoding;
  guint retry_after;

  if (!ph_rate_limiter_check (self->limiter, client, &retry_after))
    {
      g_autofree char *seconds = g_strdup_printf ("%u", retry_after);

      self->rate_limited++;
      soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
                                    seconds);
      ph_server_respond_error (self, msg, PH_SERVER_STATUS_TOO_MANY_REQUESTS, "rate-limited",
                               "Too many requests from %s; try again in %u seconds.",
                               *client != '\0' ? client : "this address", retry_after);
      return;
    }

  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH
      && soup_message_headers_get_content_length (headers) > (goffset)self->max_body_bytes)
    {
      refuse_large_body (self, msg);
      return;
    }

  /* A request without a body, or whose length was announced (checked
   * above), is read to that length and no further: only one of unknown
   * length (chunked) needs watching as it comes: connecting a handler to
   * every request took a few percent of the server's time. */
  encoding = soup_message_headers_get_encoding (headers);
  if (encoding != SOUP_ENCODING_NONE && encoding != SOUP_ENCODING_CONTENT_LENGTH)
    g_signal_connect_object (msg, "got-chunk", G_CALLBACK (request_got_chunk_cb), self, 0);
}
