/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-server-handlers"

#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "ph-mailbox-format.h"
#include "ph-post-reader.h"
#include "ph-rendezvous-server-private.h"
#include "ph-turn-credentials.h"

/* The answers of the v1 API: one handler per endpoint,
 * called by ph-server-routing.c once the path and method are known. */

/* The version needs no escaping: it is the project's own. */
#define HEALTH_JSON "{\"status\":\"ok\",\"version\":\"" PACKAGE_VERSION "\"}"

static const char *const phases[] = { "pake", "confirm", "desc", "cand", "bye" };

/* Answers @text (taken), a JSON object. */
void
ph_server_respond_text (SoupServerMessage *msg, guint status, char *text)
{
  soup_server_message_set_status (
      msg, status, status == PH_SERVER_STATUS_TOO_MANY_REQUESTS ? "Too Many Requests" : NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, text, strlen (text));
}

/* {"error":"@code","message":"@message"}. @code is a static string: it
 * names the error in the JSON body and in pinhole_errors_total, whose set
 * of labels must stay small. */
char *
ph_server_error_json (PhRendezvousServer *self, const char *code, const char *message)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "error");
  json_builder_add_string_value (builder, code);
  json_builder_set_member_name (builder, "message");
  json_builder_add_string_value (builder, message);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);

  ph_server_count (self->errors_by_code, code);
  return json_to_string (root, FALSE);
}

G_GNUC_PRINTF (5, 6)
void
ph_server_respond_error (PhRendezvousServer *self, SoupServerMessage *msg, guint status,
                         const char *code, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  ph_server_respond_text (msg, status, ph_server_error_json (self, code, message));
}

static void
respond_store_error (PhRendezvousServer *self, SoupServerMessage *msg, const GError *error)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  g_assert (error->domain == PH_MAILBOX_STORE_ERROR);

  switch ((PhMailboxStoreError)error->code)
    {
    case PH_MAILBOX_STORE_ERROR_NO_SUCH_MAILBOX:
      ph_server_respond_error (self, msg, SOUP_STATUS_NOT_FOUND, "unknown-mailbox", "%s",
                               error->message);
      break;
    case PH_MAILBOX_STORE_ERROR_NO_FREE_MAILBOX:
      soup_message_headers_replace (headers, "Retry-After", "30");
      ph_server_respond_error (self, msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "no-free-mailbox", "%s",
                               error->message);
      break;
    case PH_MAILBOX_STORE_ERROR_THIRD_SIDE:
      ph_server_respond_error (self, msg, SOUP_STATUS_CONFLICT, "mailbox-full", "%s",
                               error->message);
      break;
    case PH_MAILBOX_STORE_ERROR_MAILBOX_LIMIT:
      ph_server_respond_error (self, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "mailbox-limit",
                               "%s", error->message);
      break;
    case PH_MAILBOX_STORE_ERROR_NAMEPLATE_UNAVAILABLE:
      ph_server_respond_error (self, msg, SOUP_STATUS_CONFLICT, "nameplate-unavailable", "%s",
                               error->message);
      break;
    default:
      g_assert_not_reached ();
    }
}

/* The ETag naming the mailbox open under @nameplate, or NULL. A client
 * sends it back in If-Match and learns from a 412 that its mailbox is gone
 * even when the number is open again (a restarted server, a host that
 * claimed it back). */
char *
ph_server_mailbox_etag (PhRendezvousServer *self, guint nameplate)
{
  const char *tag = ph_mailbox_store_get_tag (self->store, nameplate);

  return tag != NULL ? g_strdup_printf ("\"%s\"", tag) : NULL;
}

static void
set_etag (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate)
{
  g_autofree char *etag = ph_server_mailbox_etag (self, nameplate);

  if (etag != NULL)
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "ETag", etag);
}

/* {"messages":[{"index":1,"side":"…","phase":"…","body":"…"},…]}, as
 * json-glib wrote it, without building a tree of nodes for it. No string
 * needs escaping: sides are hex digits, phases are from a fixed list, and
 * bodies are written here in base64. */
char *
ph_server_messages_json (GPtrArray *messages)
{
  GString *out = g_string_sized_new (64);

  g_string_append (out, "{\"messages\":[");
  for (guint i = 0; i < messages->len; i++)
    {
      PhStoredMessage *message = g_ptr_array_index (messages, i);
      gsize size;
      const guchar *data = g_bytes_get_data (message->body, &size);
      gsize start;
      int state = 0;
      int save = 0;
      gsize written;

      g_string_append_printf (
          out, "%s{\"index\":%" G_GUINT64_FORMAT ",\"side\":\"%s\",\"phase\":\"%s\",\"body\":\"",
          i > 0 ? "," : "", message->index, message->side, message->phase);
      /* g_base64_encode_step () documents the room it needs. */
      start = out->len;
      g_string_set_size (out, start + (size / 3 + 1) * 4 + 4);
      written = g_base64_encode_step (data, size, FALSE, out->str + start, &state, &save);
      written += g_base64_encode_close (FALSE, out->str + start + written, &state, &save);
      g_string_set_size (out, start + written);
      g_string_append (out, "\"}");
    }
  g_string_append (out, "]}");

  return g_string_free (out, FALSE);
}

static char *
parse_side (const char *text)
{
  return ph_mailbox_side_is_valid (text) ? g_ascii_strdown (text, -1) : NULL;
}

static gboolean
is_known_phase (const char *phase)
{
  for (guint i = 0; i < G_N_ELEMENTS (phases); i++)
    if (g_strcmp0 (phase, phases[i]) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
parse_uint_param (GHashTable *query, const char *name, guint64 max, guint64 *out_value)
{
  const char *text = query != NULL ? g_hash_table_lookup (query, name) : NULL;

  *out_value = 0;
  if (text == NULL)
    return TRUE;

  return g_ascii_string_to_unsigned (text, 10, 0, max, out_value, NULL);
}

static void
respond_nameplate (PhRendezvousServer *self, SoupServerMessage *msg, guint status, guint nameplate)
{
  set_etag (self, msg, nameplate);
  ph_server_respond_text (msg, status,
                          g_strdup_printf ("{\"nameplate\":\"%u\",\"expires_in\":%u}", nameplate,
                                           ph_mailbox_store_get_lifetime (self->store)));
}

void
ph_server_handle_allocate (PhRendezvousServer *self, SoupServerMessage *msg)
{
  g_autoptr (GError) error = NULL;
  guint nameplate;

  if (!ph_server_quota_allow_mailbox (self, msg))
    return;
  if (!ph_mailbox_store_allocate (self->store, &nameplate, &error))
    {
      respond_store_error (self, msg, error);
      return;
    }
  ph_server_quota_add_mailbox (self, msg, nameplate);
  self->mailboxes_allocated++;
  respond_nameplate (self, msg, SOUP_STATUS_CREATED, nameplate);
}

/* PUT /v1/mailboxes/N {"side": …}: a host whose mailbox this server lost
 * (it restarted) opens the same number again, so the code it showed stays
 * good. Anyone may claim a free number, as anyone may allocate the lowest
 * one; the PAKE keeps a claimer who is not the host from learning or
 * forging anything. */
void
ph_server_handle_claim (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate)
{
  g_auto (PhPost) claim = { 0 };
  g_autoptr (GBytes) request = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *side = NULL;
  gboolean created;
  const char *data;
  gsize size;

  request = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  data = g_bytes_get_data (request, &size);
  if (!ph_post_read (data, size, &claim, &error))
    {
      ph_server_respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed", "%s",
                               error->message);
      return;
    }

  side = parse_side (claim.side);
  if (side == NULL)
    {
      ph_server_respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed",
                               "\"side\" must be a string of 16 hexadecimal digits.");
      return;
    }

  /* A claim that would open a mailbox counts as an allocation; one of a
   * number already open opens nothing, whatever its answer. */
  if (!ph_mailbox_store_contains (self->store, nameplate)
      && !ph_server_quota_allow_mailbox (self, msg))
    return;
  if (!ph_mailbox_store_claim (self->store, nameplate, side, &created, &error))
    {
      respond_store_error (self, msg, error);
      return;
    }
  if (created)
    {
      ph_server_quota_add_mailbox (self, msg, nameplate);
      self->mailboxes_claimed++;
    }
  respond_nameplate (self, msg, created ? SOUP_STATUS_CREATED : SOUP_STATUS_OK, nameplate);
}

void
ph_server_handle_post_message (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate)
{
  g_auto (PhPost) post = { 0 };
  g_autoptr (GBytes) request = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *side = NULL;
  const char *data;
  gsize size;
  guint64 index;

  request = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  data = g_bytes_get_data (request, &size);
  if (!ph_post_read (data, size, &post, &error))
    {
      ph_server_respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed", "%s",
                               error->message);
      return;
    }

  side = parse_side (post.side);
  if (side == NULL)
    {
      ph_server_respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed",
                               "\"side\" must be a string of 16 hexadecimal digits.");
      return;
    }

  if (!is_known_phase (post.phase))
    {
      ph_server_respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed",
                               "\"phase\" must be one of pake, confirm, desc, cand or bye.");
      return;
    }

  if (post.body == NULL || (body = ph_mailbox_decode_body (post.body)) == NULL)
    {
      ph_server_respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed",
                               "\"body\" must be a base64 string.");
      return;
    }

  if (!ph_mailbox_store_add_message (self->store, nameplate, side, post.phase, body, &index,
                                     &error))
    {
      respond_store_error (self, msg, error);
      return;
    }
  self->messages_posted++;

  set_etag (self, msg, nameplate);
  ph_server_respond_text (msg, SOUP_STATUS_CREATED,
                          g_strdup_printf ("{\"index\":%" G_GUINT64_FORMAT "}", index));
}

void
ph_server_handle_get_messages (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate,
                               GHashTable *query)
{
  g_autoptr (GPtrArray) messages = NULL;
  g_autoptr (GError) error = NULL;
  guint64 after;
  guint64 wait;

  if (!parse_uint_param (query, "after", G_MAXINT64, &after)
      || !parse_uint_param (query, "wait", PH_SERVER_MAX_WAIT_SECONDS, &wait))
    {
      ph_server_respond_error (
          self, msg, SOUP_STATUS_BAD_REQUEST, "malformed",
          "\"after\" must be a message index and \"wait\" a number of seconds from 0 "
          "to %u.",
          PH_SERVER_MAX_WAIT_SECONDS);
      return;
    }

  messages = ph_mailbox_store_get_messages (self->store, nameplate, after, &error);
  if (messages == NULL)
    {
      respond_store_error (self, msg, error);
      return;
    }

  if (messages->len > 0 || wait == 0)
    {
      set_etag (self, msg, nameplate);
      ph_server_respond_text (msg, SOUP_STATUS_OK, ph_server_messages_json (messages));
      return;
    }

  if (!ph_server_quota_allow_poll (self, msg))
    return;
  if (self->waiting_polls >= self->max_waiting_polls)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
                                    "1");
      ph_server_respond_error (
          self, msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "too-many-polls",
          "The server is holding too many waiting requests; try again shortly.");
      return;
    }

  ph_held_poll_start (self, msg, nameplate, after, MIN ((guint)wait, self->max_hold));
}

void
ph_server_handle_leave (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate,
                        GHashTable *query)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *side = NULL;

  side = parse_side (query != NULL ? g_hash_table_lookup (query, "side") : NULL);
  if (side == NULL)
    {
      ph_server_respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed",
                               "\"side\" must be a string of 16 hexadecimal digits.");
      return;
    }

  if (!ph_mailbox_store_leave (self->store, nameplate, side, &error))
    {
      respond_store_error (self, msg, error);
      return;
    }

  soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
}

static void
add_string_array (JsonBuilder *builder, const char *name, const char *const *strings)
{
  json_builder_set_member_name (builder, name);
  json_builder_begin_array (builder);
  for (guint i = 0; strings != NULL && strings[i] != NULL; i++)
    json_builder_add_string_value (builder, strings[i]);
  json_builder_end_array (builder);
}

void
ph_server_handle_turn (PhRendezvousServer *self, SoupServerMessage *msg)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  gboolean has_stun = self->stun_uris != NULL && self->stun_uris[0] != NULL;
  gboolean has_turn
      = self->turn_secret != NULL && self->turn_uris != NULL && self->turn_uris[0] != NULL;

  if (!has_stun && !has_turn)
    {
      ph_server_respond_error (self, msg, SOUP_STATUS_NOT_FOUND, "turn-not-configured",
                               "This rendezvous server offers no STUN or TURN servers.");
      return;
    }

  json_builder_begin_object (builder);
  add_string_array (builder, "stun", (const char *const *)self->stun_uris);
  if (has_turn)
    {
      g_autofree char *id = g_strdup_printf ("%08x", g_random_int ());
      gint64 expires_at = g_get_real_time () / G_USEC_PER_SEC + self->turn_ttl;
      g_autofree char *username = ph_turn_credentials_make_username (expires_at, id);
      g_autofree char *credential
          = ph_turn_credentials_make_credential (self->turn_secret, username);

      add_string_array (builder, "turn", (const char *const *)self->turn_uris);
      json_builder_set_member_name (builder, "username");
      json_builder_add_string_value (builder, username);
      json_builder_set_member_name (builder, "credential");
      json_builder_add_string_value (builder, credential);
      json_builder_set_member_name (builder, "ttl");
      json_builder_add_int_value (builder, self->turn_ttl);
    }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);

  ph_server_respond_text (msg, SOUP_STATUS_OK, json_to_string (root, FALSE));
}

void
ph_server_handle_health (PhRendezvousServer *self, SoupServerMessage *msg)
{
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, HEALTH_JSON,
                                    strlen (HEALTH_JSON));
}
