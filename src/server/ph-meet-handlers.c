/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-meet-handlers"

#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "ph-json-guard.h"
#include "ph-mailbox-format.h"
#include "ph-meeting-point.h"
#include "ph-post-reader.h"
#include "ph-rendezvous-server-private.h"

/* The endpoints of meeting points (docs/protocol.md, "Meeting points"):
 * the path and method, the point's key, the request, then one operation
 * of the store. The key is checked here, before the store is asked: the
 * store knows ids only. */

/* Waits are flat: an object holding an array of flat objects. */
#define MAX_WAIT_JSON_DEPTH 4

static const char *const meet_phases[] = { "here", "auth", "desc", "cand", "bye" };

static void
respond_unauthorized (PhRendezvousServer *self, SoupServerMessage *msg, const char *point_id)
{
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "WWW-Authenticate",
                                "Bearer realm=\"pinhole-rendezvous\"");
  ph_server_respond_error (
      self, msg, SOUP_STATUS_UNAUTHORIZED, "unauthorized",
      "The request does not carry the key of the meeting point %.8s… it names.", point_id);
}

static void
respond_malformed (PhRendezvousServer *self, SoupServerMessage *msg, const char *sentence)
{
  ph_server_respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed", "%s", sentence);
}

static gboolean
is_meet_phase (const char *phase)
{
  for (guint i = 0; i < G_N_ELEMENTS (meet_phases); i++)
    if (g_strcmp0 (phase, meet_phases[i]) == 0)
      return TRUE;
  return FALSE;
}

/* Reads {"side":"1","phase":…,"body":…} (phase only with @with_phase)
 * into @request; otherwise answers 400. */
static gboolean
read_point_post (PhRendezvousServer *self, SoupServerMessage *msg, PhStoreRequest *request,
                 gboolean with_phase)
{
  g_auto (PhPost) post = { 0 };
  g_autoptr (GBytes) data = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_autoptr (GError) error = NULL;
  GBytes *body;
  gsize size;
  const char *bytes = g_bytes_get_data (data, &size);

  if (!ph_post_read (bytes, size, &post, &error))
    {
      respond_malformed (self, msg, error->message);
      return FALSE;
    }
  request->side = ph_meeting_point_parse_side (post.side);
  if (request->side == 0)
    {
      respond_malformed (self, msg, "\"side\" must be \"1\" or \"2\".");
      return FALSE;
    }
  if (with_phase && !is_meet_phase (post.phase))
    {
      respond_malformed (
          self, msg, "\"phase\" must be one of here, auth, desc, cand or bye at a meeting point.");
      return FALSE;
    }
  if (post.body == NULL || (body = ph_mailbox_decode_body (post.body)) == NULL)
    {
      respond_malformed (self, msg, "\"body\" must be a base64 string.");
      return FALSE;
    }
  ph_store_request_set_message (request, with_phase ? post.phase : "stored", body);
  return TRUE;
}

static void
answer_point_posted (PhRendezvousServer *self, SoupServerMessage *msg, const PhStoreReply *reply,
                     PhServerPending *pending)
{
  ph_server_respond_text (msg, SOUP_STATUS_CREATED,
                          g_strdup_printf ("{\"index\":%" G_GUINT64_FORMAT "}", reply->index));
}

static void
handle_post_message (PhRendezvousServer *self, SoupServerMessage *msg, const char *point_id)
{
  g_autoptr (PhStoreRequest) request
      = ph_store_point_request_new (PH_STORE_OP_MEET_ADD_MESSAGE, point_id);

  if (read_point_post (self, msg, request, TRUE))
    ph_server_ask_store (self, msg, g_steal_pointer (&request), answer_point_posted);
}

static void
answer_copy_stored (PhRendezvousServer *self, SoupServerMessage *msg, const PhStoreReply *reply,
                    PhServerPending *pending)
{
  self->copies_stored++;
  ph_server_respond_text (msg, SOUP_STATUS_CREATED,
                          g_strdup_printf ("{\"index\":%" G_GUINT64_FORMAT ",\"expires_in\":%u}",
                                           reply->index, reply->expires_in));
}

static void
handle_store_copy (PhRendezvousServer *self, SoupServerMessage *msg, const char *point_id)
{
  g_autoptr (PhStoreRequest) request
      = ph_store_point_request_new (PH_STORE_OP_STORE_COPY, point_id);

  if (!read_point_post (self, msg, request, FALSE))
    return;
  request->lifetime_seconds = self->stored_lifetime;
  request->max_count = self->max_stored_per_point;
  request->max_bytes = self->max_stored_bytes;
  request->max_total_bytes = self->max_stored_total_bytes;
  ph_server_ask_store (self, msg, g_steal_pointer (&request), answer_copy_stored);
}

/* {"stored":[{"index":I,"side":1,"body":"…","expires_in":S},…]}; bodies
 * are base64 and need no escaping. */
static void
answer_copies (PhRendezvousServer *self, SoupServerMessage *msg, const PhStoreReply *reply,
               PhServerPending *pending)
{
  GString *out = g_string_new ("{\"stored\":[");

  for (guint i = 0; i < reply->messages->len; i++)
    {
      PhStoredMessage *copy = g_ptr_array_index (reply->messages, i);
      gsize size;
      const guchar *data = g_bytes_get_data (copy->body, &size);
      g_autofree char *encoded = g_base64_encode (data, size);

      g_string_append_printf (
          out, "%s{\"index\":%" G_GUINT64_FORMAT ",\"side\":%u,\"body\":\"%s\",\"expires_in\":%u}",
          i > 0 ? "," : "", copy->index, copy->side, encoded, copy->expires_in);
    }
  g_string_append (out, "]}");
  ph_server_respond_text (msg, SOUP_STATUS_OK, g_string_free (out, FALSE));
}

static void
handle_fetch_copies (PhRendezvousServer *self, SoupServerMessage *msg, const char *point_id,
                     GHashTable *query)
{
  const char *text = query != NULL ? g_hash_table_lookup (query, "after") : NULL;
  guint64 after = 0;
  PhStoreRequest *request;

  if (text != NULL && !g_ascii_string_to_unsigned (text, 10, 0, G_MAXINT64, &after, NULL))
    {
      respond_malformed (self, msg, "\"after\" must be an index.");
      return;
    }
  request = ph_store_point_request_new (PH_STORE_OP_FETCH_COPIES, point_id);
  request->after = after;
  ph_server_ask_store (self, msg, request, answer_copies);
}

static void
answer_copy_deleted (PhRendezvousServer *self, SoupServerMessage *msg, const PhStoreReply *reply,
                     PhServerPending *pending)
{
  soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
}

static void
handle_delete_copy (PhRendezvousServer *self, SoupServerMessage *msg, const char *point_id,
                    const char *index_text)
{
  guint64 index = 0;
  PhStoreRequest *request;

  /* Canonical decimal, as the server writes indexes. */
  if (index_text[0] == '0'
      || !g_ascii_string_to_unsigned (index_text, 10, 1, G_MAXINT64, &index, NULL))
    {
      ph_server_respond_error (self, msg, SOUP_STATUS_NOT_FOUND, "unknown-copy",
                               "There is no stored copy with that index.");
      return;
    }
  request = ph_store_point_request_new (PH_STORE_OP_DELETE_COPY, point_id);
  request->index = index;
  ph_server_ask_store (self, msg, request, answer_copy_deleted);
}

/* Reads one entry of a wait into @request; the sentence of what is wrong
 * otherwise. */
static char *
read_wait_entry (JsonNode *node, guint i, GHashTable *seen, PhStoreRequest *request)
{
  JsonObject *entry = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  JsonNode *key_node = entry != NULL ? json_object_get_member (entry, "key") : NULL;
  JsonNode *side_node = entry != NULL ? json_object_get_member (entry, "side") : NULL;
  JsonNode *after_node = entry != NULL ? json_object_get_member (entry, "after") : NULL;
  char id[PH_MEETING_POINT_ID_LENGTH + 1];
  const char *key;
  guint side;
  gint64 after = 0;

  if (entry == NULL)
    return g_strdup_printf ("Point %u of the wait is not an object.", i + 1);
  key = key_node != NULL && JSON_NODE_HOLDS_VALUE (key_node)
                && json_node_get_value_type (key_node) == G_TYPE_STRING
            ? json_node_get_string (key_node)
            : NULL;
  if (!ph_meeting_point_id_from_key (key, id))
    return g_strdup_printf ("Point %u of the wait needs a \"key\" of 64 lower-case hex digits.",
                            i + 1);
  side = side_node != NULL && JSON_NODE_HOLDS_VALUE (side_node)
                 && json_node_get_value_type (side_node) == G_TYPE_STRING
             ? ph_meeting_point_parse_side (json_node_get_string (side_node))
             : 0;
  if (side == 0)
    return g_strdup_printf ("Point %u of the wait needs a \"side\" of \"1\" or \"2\".", i + 1);
  if (after_node != NULL)
    {
      if (!JSON_NODE_HOLDS_VALUE (after_node)
          || json_node_get_value_type (after_node) != G_TYPE_INT64
          || (after = json_node_get_int (after_node)) < 0)
        return g_strdup_printf ("Point %u of the wait has an \"after\" that is not an index.",
                                i + 1);
    }
  if (!g_hash_table_add (seen, g_strdup (id)))
    return g_strdup_printf ("Point %u of the wait names a point named before it.", i + 1);
  ph_store_request_add_point (request, id, side, (guint64)after);
  return NULL;
}

/* POST /v1/meet/wait: {"wait":S,"points":[{"key","side","after"},…]}. */
static void
handle_wait (PhRendezvousServer *self, SoupServerMessage *msg)
{
  g_autoptr (GBytes) data = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (PhStoreRequest) request = ph_store_request_new (PH_STORE_OP_MEET_FETCH, 0);
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GError) error = NULL;
  gsize size;
  const char *bytes = g_bytes_get_data (data, &size);
  JsonObject *root;
  JsonNode *points_node;
  JsonNode *wait_node;
  JsonArray *points;
  gint64 wait = 0;

  if (!ph_json_guard_check (bytes, size, MAX_WAIT_JSON_DEPTH,
                            PH_JSON_GUARD_ONE_OBJECT | PH_JSON_GUARD_NO_NUL, "The wait", &error)
      || !json_parser_load_from_data (parser, bytes, (gssize)size, &error))
    {
      respond_malformed (self, msg, error->message);
      return;
    }
  root = JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))
             ? json_node_get_object (json_parser_get_root (parser))
             : NULL;
  points_node = root != NULL ? json_object_get_member (root, "points") : NULL;
  wait_node = root != NULL ? json_object_get_member (root, "wait") : NULL;
  if (points_node == NULL || !JSON_NODE_HOLDS_ARRAY (points_node))
    {
      respond_malformed (self, msg, "A wait is an object with an array \"points\".");
      return;
    }
  if (wait_node != NULL
      && (!JSON_NODE_HOLDS_VALUE (wait_node) || json_node_get_value_type (wait_node) != G_TYPE_INT64
          || (wait = json_node_get_int (wait_node)) < 0 || wait > PH_SERVER_MAX_WAIT_SECONDS))
    {
      ph_server_respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed",
                               "\"wait\" must be a number of seconds from 0 to %u.",
                               PH_SERVER_MAX_WAIT_SECONDS);
      return;
    }
  points = json_node_get_array (points_node);
  if (json_array_get_length (points) > PH_MEETING_POINT_MAX_WAIT)
    {
      ph_server_respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "too-many-points",
                               "A wait names at most %u meeting points, not %u.",
                               PH_MEETING_POINT_MAX_WAIT, json_array_get_length (points));
      return;
    }
  for (guint i = 0; i < json_array_get_length (points); i++)
    {
      g_autofree char *refusal
          = read_wait_entry (json_array_get_element (points, i), i, seen, request);

      if (refusal != NULL)
        {
          respond_malformed (self, msg, refusal);
          return;
        }
    }

  ph_meet_wait_start (self, msg, g_steal_pointer (&request), MIN ((guint)wait, self->max_hold));
}

void
ph_server_route_meet (PhRendezvousServer *self, SoupServerMessage *msg, const char *rest,
                      GHashTable *query)
{
  const char *method = soup_server_message_get_method (msg);
  g_autofree char *point_id = NULL;
  const char *tail;

  if (strcmp (rest, "wait") == 0)
    {
      if (ph_server_check_method (self, msg, "POST"))
        handle_wait (self, msg);
      return;
    }

  point_id = g_strndup (rest, PH_MEETING_POINT_ID_LENGTH);
  tail = rest + strlen (point_id);
  if (!ph_meeting_point_id_is_valid (point_id) || *tail != '/'
      || (strcmp (tail, "/messages") != 0 && strcmp (tail, "/stored") != 0
          && !g_str_has_prefix (tail, "/stored/")))
    {
      ph_server_respond_error (self, msg, SOUP_STATUS_NOT_FOUND, "not-found",
                               "There is nothing at %s.",
                               g_uri_get_path (soup_server_message_get_uri (msg)));
      return;
    }

  if (strcmp (tail, "/messages") == 0 && !ph_server_check_method (self, msg, "POST"))
    return;
  if (strcmp (tail, "/stored") == 0 && !ph_server_check_method (self, msg, "GET, POST"))
    return;
  if (g_str_has_prefix (tail, "/stored/") && !ph_server_check_method (self, msg, "DELETE"))
    return;

  if (!ph_meeting_point_key_matches (ph_server_bearer_token (msg), point_id))
    {
      respond_unauthorized (self, msg, point_id);
      return;
    }

  if (strcmp (tail, "/messages") == 0)
    handle_post_message (self, msg, point_id);
  else if (g_str_has_prefix (tail, "/stored/"))
    handle_delete_copy (self, msg, point_id, tail + strlen ("/stored/"));
  else if (strcmp (method, SOUP_METHOD_POST) == 0)
    handle_store_copy (self, msg, point_id);
  else
    handle_fetch_copies (self, msg, point_id, query);
}
