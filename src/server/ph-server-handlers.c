/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-server-handlers"

#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "ph-mailbox-format.h"
#include "ph-mailbox-secret.h"
#include "ph-post-reader.h"
#include "ph-rendezvous-server-private.h"
#include "ph-turn-credentials.h"

/* The answers of the v1 API: one handler per endpoint,
 * called by ph-server-routing.c once the path and method are known.
 * Every request about a mailbox but a claim or a join proves which side
 * of it is asking with that side's secret (ph-mailbox-store.h). */

/* The version needs no escaping: it is the project's own. */
#define HEALTH_JSON "{\"status\":\"ok\",\"version\":\"" PACKAGE_VERSION "\"}"
/* Ours are 32 hex digits; room for other clients', not for a body's worth. */
#define MAX_REQUEST_KEY_LENGTH 128

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
    case PH_MAILBOX_STORE_ERROR_UNAUTHORIZED:
      soup_message_headers_replace (headers, "WWW-Authenticate",
                                    "Bearer realm=\"pinhole-rendezvous\"");
      ph_server_respond_error (self, msg, SOUP_STATUS_UNAUTHORIZED, "unauthorized", "%s",
                               error->message);
      break;
    case PH_MAILBOX_STORE_ERROR_OTHER_FIRST_MESSAGE:
      ph_server_respond_error (self, msg, SOUP_STATUS_CONFLICT, "mailbox-mismatch", "%s",
                               error->message);
      break;
    case PH_MAILBOX_STORE_ERROR_TURN_QUOTA:
      ph_server_respond_error (self, msg, PH_SERVER_STATUS_TOO_MANY_REQUESTS, "turn-quota", "%s",
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

/* {"messages":[{"index":1,"side":1,"phase":"…","body":"…"},…]}, as
 * json-glib wrote it, without building a tree of nodes for it. No string
 * needs escaping: phases are from a fixed list, and bodies are written
 * here in base64. Sides are numbers: a reader learns no secret from them. */
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
          out, "%s{\"index\":%" G_GUINT64_FORMAT ",\"side\":%u,\"phase\":\"%s\",\"body\":\"",
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

/* The token of "Authorization: Bearer <token>", or NULL. */
static const char *
bearer_token (SoupServerMessage *msg)
{
  const char *value = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                    "Authorization");

  if (value == NULL || g_ascii_strncasecmp (value, "Bearer ", strlen ("Bearer ")) != 0)
    return NULL;
  value += strlen ("Bearer ");
  while (*value == ' ')
    value++;
  return value;
}

/* The side whose secret @msg carries for mailbox @nameplate, or 0 once it
 * is answered: 404 when no mailbox is open there, 401 when the secret is
 * missing or not one of its sides'. Either way the asker learns no more
 * than whether the number is open. */
static guint
authenticate (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate)
{
  g_autoptr (GError) error = NULL;
  guint side = ph_mailbox_store_authenticate (self->store, nameplate, bearer_token (msg), &error);

  if (side == 0)
    respond_store_error (self, msg, error);
  return side;
}

/* The Idempotency-Key of a claim or join, in @out_key (NULL without one);
 * FALSE once it answered a key that is too long. */
static gboolean
read_request_key (PhRendezvousServer *self, SoupServerMessage *msg, const char **out_key)
{
  *out_key = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                           "Idempotency-Key");
  if (*out_key == NULL || strlen (*out_key) <= MAX_REQUEST_KEY_LENGTH)
    return TRUE;

  ph_server_respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed",
                           "The Idempotency-Key is longer than %u bytes.", MAX_REQUEST_KEY_LENGTH);
  return FALSE;
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

/* {"nameplate":"N","expires_in":S,"side":K,"secret":"…"}: what a side
 * learns as it takes its seat, and only then. @secret is taken and wiped. */
static void
respond_seat (PhRendezvousServer *self, SoupServerMessage *msg, guint status, guint nameplate,
              guint side, char *secret)
{
  char *text
      = g_strdup_printf ("{\"nameplate\":\"%u\",\"expires_in\":%u,\"side\":%u,\"secret\":\"%s\"}",
                         nameplate, ph_mailbox_store_get_lifetime (self->store), side, secret);

  memset (secret, 0, strlen (secret));
  g_free (secret);
  set_etag (self, msg, nameplate);
  ph_server_respond_text (msg, status, text);
}

void
ph_server_handle_allocate (PhRendezvousServer *self, SoupServerMessage *msg)
{
  g_autoptr (GError) error = NULL;
  guint nameplate;
  char *secret;

  if (!ph_server_quota_allow_mailbox (self, msg))
    return;
  if (!ph_mailbox_store_allocate (self->store, &nameplate, &secret, &error))
    {
      respond_store_error (self, msg, error);
      return;
    }
  ph_server_quota_add_mailbox (self, msg, nameplate);
  self->mailboxes_allocated++;
  respond_seat (self, msg, SOUP_STATUS_CREATED, nameplate, PH_MAILBOX_HOST_SIDE, secret);
}

/* PUT /v1/mailboxes/N: a host whose mailbox this server lost (it
 * restarted) opens the same number again, so the code it showed stays
 * good. Anyone may claim a free number, as anyone may allocate the lowest
 * one; an open one is nobody's to claim. The PAKE keeps a claimer who is
 * not the host from learning or forging anything. A body is ignored. */
void
ph_server_handle_claim (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate)
{
  g_autoptr (GError) error = NULL;
  const char *request_key;
  gboolean created;
  char *secret;

  if (!read_request_key (self, msg, &request_key))
    return;
  /* A claim that would open a mailbox counts as an allocation; one of a
   * number already open opens nothing, whatever its answer. */
  if (!ph_mailbox_store_contains (self->store, nameplate)
      && !ph_server_quota_allow_mailbox (self, msg))
    return;
  if (!ph_mailbox_store_claim (self->store, nameplate, request_key, &secret, &created, &error))
    {
      respond_store_error (self, msg, error);
      return;
    }
  if (created)
    {
      ph_server_quota_add_mailbox (self, msg, nameplate);
      self->mailboxes_claimed++;
    }
  respond_seat (self, msg, created ? SOUP_STATUS_CREATED : SOUP_STATUS_OK, nameplate,
                PH_MAILBOX_HOST_SIDE, secret);
}

/* Reads @post's phase and body; FALSE once it answered what is wrong. */
static gboolean
read_message (PhRendezvousServer *self, SoupServerMessage *msg, const PhPost *post,
              GBytes **out_body)
{
  if (!is_known_phase (post->phase))
    {
      ph_server_respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed",
                               "\"phase\" must be one of pake, confirm, desc, cand or bye.");
      return FALSE;
    }

  if (post->body == NULL || (*out_body = ph_mailbox_decode_body (post->body)) == NULL)
    {
      ph_server_respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed",
                               "\"body\" must be a base64 string.");
      return FALSE;
    }
  return TRUE;
}

/* Reads the JSON object of @msg's body into @out_post; FALSE once it
 * answered that it is none. */
static gboolean
read_post (PhRendezvousServer *self, SoupServerMessage *msg, PhPost *out_post)
{
  g_autoptr (GBytes) request = NULL;
  g_autoptr (GError) error = NULL;
  const char *data;
  gsize size;

  request = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  data = g_bytes_get_data (request, &size);
  if (ph_post_read (data, size, out_post, &error))
    return TRUE;

  ph_server_respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed", "%s", error->message);
  return FALSE;
}

/* POST /v1/mailboxes/N/join: takes side 2. Without a body anyone who has
 * the number may, once; with {"phase":…,"body":…} only in the mailbox
 * whose first message that is (a joiner back after a restart). */
void
ph_server_handle_join (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate)
{
  g_auto (PhPost) first = { 0 };
  g_autoptr (GBytes) first_body = NULL;
  g_autoptr (GError) error = NULL;
  const char *request_key;
  gboolean created;
  char *secret;

  if (!read_request_key (self, msg, &request_key))
    return;
  if (soup_server_message_get_request_body (msg)->length > 0)
    {
      if (!read_post (self, msg, &first) || !read_message (self, msg, &first, &first_body))
        return;
    }
  if (!ph_server_quota_allow_join (self, msg))
    return;

  if (!ph_mailbox_store_join (self->store, nameplate, request_key, first.phase, first_body, &secret,
                              &created, &error))
    {
      respond_store_error (self, msg, error);
      return;
    }
  respond_seat (self, msg, created ? SOUP_STATUS_CREATED : SOUP_STATUS_OK, nameplate,
                PH_MAILBOX_JOINER_SIDE, secret);
}

void
ph_server_handle_post_message (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate)
{
  g_auto (PhPost) post = { 0 };
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  guint64 index;
  guint side;

  if ((side = authenticate (self, msg, nameplate)) == 0 || !read_post (self, msg, &post)
      || !read_message (self, msg, &post, &body))
    return;

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

  if (authenticate (self, msg, nameplate) == 0)
    return;
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
ph_server_handle_leave (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate)
{
  g_autoptr (GError) error = NULL;
  guint side;

  if ((side = authenticate (self, msg, nameplate)) == 0)
    return;

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

static gboolean
has_turn (PhRendezvousServer *self)
{
  return self->turn_secret != NULL && self->turn_uris != NULL && self->turn_uris[0] != NULL;
}

static gboolean
has_stun (PhRendezvousServer *self)
{
  return self->stun_uris != NULL && self->stun_uris[0] != NULL;
}

/* {"stun":[…]} and, with @with_turn, the TURN servers and credentials
 * for them that last turn_ttl seconds. */
static void
respond_ice_servers (PhRendezvousServer *self, SoupServerMessage *msg, gboolean with_turn)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (builder);
  add_string_array (builder, "stun", (const char *const *)self->stun_uris);
  if (with_turn)
    {
      guint32 random_id;
      g_autofree char *id = NULL;
      gint64 expires_at = g_get_real_time () / G_USEC_PER_SEC + self->turn_ttl;
      g_autofree char *username = NULL;
      g_autofree char *credential = NULL;

      ph_mailbox_secret_random ((guint8 *)&random_id, sizeof random_id);
      id = g_strdup_printf ("%08x", random_id);
      username = ph_turn_credentials_make_username (expires_at, id);
      credential = ph_turn_credentials_make_credential (self->turn_secret, username);
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

static void
respond_not_configured (PhRendezvousServer *self, SoupServerMessage *msg)
{
  ph_server_respond_error (self, msg, SOUP_STATUS_NOT_FOUND, "turn-not-configured",
                           "This rendezvous server offers no STUN or TURN servers.");
}

/* GET /v1/turn: the STUN servers, for anyone (a NAT check needs no
 * mailbox, and STUN relays nothing). TURN credentials are only for the
 * sides of an open mailbox: an open relay would carry anyone's traffic. */
void
ph_server_handle_turn (PhRendezvousServer *self, SoupServerMessage *msg)
{
  if (!has_stun (self) && !has_turn (self))
    {
      respond_not_configured (self, msg);
      return;
    }
  respond_ice_servers (self, msg, FALSE);
}

/* GET /v1/mailboxes/N/turn: STUN and TURN for a side of the mailbox, at
 * most turn_quota sets of credentials per side in turn_ttl seconds: enough
 * to renew them as a chat goes on, too few to run a relay for others. */
void
ph_server_handle_mailbox_turn (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate)
{
  g_autoptr (GError) error = NULL;
  guint retry_after = 0;
  guint side;

  if ((side = authenticate (self, msg, nameplate)) == 0)
    return;
  if (!has_stun (self) && !has_turn (self))
    {
      respond_not_configured (self, msg);
      return;
    }
  if (has_turn (self)
      && !ph_mailbox_store_count_turn_request (self->store, nameplate, side, self->turn_quota,
                                               self->turn_ttl, &retry_after, &error))
    {
      g_autofree char *seconds = g_strdup_printf ("%u", retry_after);

      if (g_error_matches (error, PH_MAILBOX_STORE_ERROR, PH_MAILBOX_STORE_ERROR_TURN_QUOTA))
        soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
                                      seconds);
      respond_store_error (self, msg, error);
      return;
    }
  respond_ice_servers (self, msg, has_turn (self));
}

void
ph_server_handle_health (PhRendezvousServer *self, SoupServerMessage *msg)
{
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, HEALTH_JSON,
                                    strlen (HEALTH_JSON));
}
