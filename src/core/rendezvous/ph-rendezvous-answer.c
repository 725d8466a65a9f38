/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-rendezvous-answer"

#include "config.h"

#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "ph-error.h"
#include "ph-json-guard.h"
#include "ph-mailbox-format.h"
#include "ph-rendezvous-answer.h"

/* json-glib 1.6 parses nested arrays and objects by recursion with no
 * bound: some 100 000 '[' overflow the stack. No answer nests deeper than
 * three; this leaves room for whatever a later server adds. */
#define MAX_JSON_DEPTH 32
#define MAX_SERVER_SENTENCE 512
#define MAX_ERROR_CODE 64

#define HTTP_TOO_MANY_REQUESTS 429 /* not named in libsoup 3.2 */

void
ph_mailbox_message_free (PhMailboxMessage *message)
{
  if (message == NULL)
    return;

  g_free (message->side);
  g_free (message->phase);
  g_clear_pointer (&message->body, g_bytes_unref);
  g_free (message);
}

void
ph_meeting_point_news_free (PhMeetingPointNews *news)
{
  if (news == NULL)
    return;

  g_free (news->id);
  g_clear_pointer (&news->messages, g_ptr_array_unref);
  g_free (news);
}

void
ph_stored_copy_free (PhStoredCopy *copy)
{
  if (copy == NULL)
    return;

  g_free (copy->side);
  g_clear_pointer (&copy->body, g_bytes_unref);
  g_free (copy);
}

void
ph_turn_info_free (PhTurnInfo *info)
{
  if (info == NULL)
    return;

  g_strfreev (info->stun_uris);
  g_strfreev (info->turn_uris);
  g_free (info->username);
  g_free (info->credential);
  g_free (info);
}

static void
set_malformed_error (const char *server, GError **error, const char *what)
{
  g_set_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS,
               /* Translators: the first %s is the server's URL, the second a short phrase that says
                * what was wrong, such as “no valid nameplate”. */
               _ ("The rendezvous server at %s sent a malformed answer (%s); it may not be a "
                  "Pinhole rendezvous server, or a different version."),
               server, what);
}

/* The root of @data when it is a JSON object, or NULL. */
static JsonNode *
parse_json_object (const char *data, gsize length)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (JsonNode) root = NULL;

  if (length == 0 || length > G_MAXSSIZE
      || !ph_json_guard_check (data, length, MAX_JSON_DEPTH, PH_JSON_GUARD_DEFAULT, "The answer",
                               NULL))
    return NULL;

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, (gssize)length, NULL))
    return NULL;

  root = json_parser_steal_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  return g_steal_pointer (&root);
}

static JsonNode *
parse_answer (const char *server, const char *data, gsize length, GError **error)
{
  JsonNode *root = parse_json_object (data, length);

  if (root == NULL)
    set_malformed_error (server, error, C_ ("malformed rendezvous answer", "not a JSON object"));
  return root;
}

static const char *
get_string (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static gboolean
get_uint (JsonObject *object, const char *name, guint64 minimum, guint64 maximum,
          guint64 *out_value)
{
  JsonNode *node = json_object_get_member (object, name);
  gint64 value;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;

  value = json_node_get_int (node);
  if (value < 0 || (guint64)value < minimum || (guint64)value > maximum)
    return FALSE;

  *out_value = (guint64)value;
  return TRUE;
}

/* A JSON array of strings, or NULL for anything else. */
static GStrv
get_string_array (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);
  g_autoptr (GStrvBuilder) builder = NULL;
  JsonArray *array;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return NULL;

  builder = g_strv_builder_new ();
  array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);

      if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING)
        return NULL;
      g_strv_builder_add (builder, json_node_get_string (element));
    }

  return g_strv_builder_end (builder);
}

/* What a side learns as it takes seat @side: the nameplate (which must
 * be @nameplate, unless NULL), the mailbox lifetime and its secret. */
static gboolean
parse_seat (const char *server, const char *data, gsize length, const char *nameplate, guint side,
            char **out_nameplate, guint *out_expires_in, char **out_secret, GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  JsonObject *object;
  const char *answered;
  const char *secret;
  guint64 expires_in;
  guint64 answered_side;

  root = parse_answer (server, data, length, error);
  if (root == NULL)
    return FALSE;

  object = json_node_get_object (root);
  answered = get_string (object, "nameplate");
  if (answered == NULL || !ph_mailbox_parse_nameplate (answered, strlen (answered), NULL)
      || !get_uint (object, "expires_in", 0, G_MAXUINT, &expires_in))
    {
      set_malformed_error (server, error, C_ ("malformed rendezvous answer", "no valid nameplate"));
      return FALSE;
    }
  if (nameplate != NULL && strcmp (answered, nameplate) != 0)
    {
      set_malformed_error (server, error,
                           C_ ("malformed rendezvous answer", "another nameplate than asked for"));
      return FALSE;
    }
  secret = get_string (object, "secret");
  if (!get_uint (object, "side", 0, G_MAXUINT, &answered_side) || answered_side != side
      || !ph_mailbox_secret_is_valid (secret))
    {
      set_malformed_error (server, error,
                           C_ ("malformed rendezvous answer", "no valid secret for our side"));
      return FALSE;
    }

  if (out_nameplate != NULL)
    *out_nameplate = g_strdup (answered);
  if (out_expires_in != NULL)
    *out_expires_in = (guint)expires_in;
  *out_secret = g_strdup (secret);
  return TRUE;
}

char *
ph_rendezvous_answer_parse_allocate (const char *server, const char *data, gsize length,
                                     guint *out_expires_in, char **out_secret, GError **error)
{
  char *nameplate = NULL;

  g_return_val_if_fail (server != NULL, NULL);
  g_return_val_if_fail (data != NULL || length == 0, NULL);
  g_return_val_if_fail (out_secret != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!parse_seat (server, data, length, NULL, PH_MAILBOX_HOST_SIDE, &nameplate, out_expires_in,
                   out_secret, error))
    return NULL;
  return nameplate;
}

char *
ph_rendezvous_answer_parse_claim (const char *server, const char *data, gsize length,
                                  const char *nameplate, GError **error)
{
  char *secret = NULL;

  g_return_val_if_fail (server != NULL, NULL);
  g_return_val_if_fail (data != NULL || length == 0, NULL);
  g_return_val_if_fail (nameplate != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!parse_seat (server, data, length, nameplate, PH_MAILBOX_HOST_SIDE, NULL, NULL, &secret,
                   error))
    return NULL;
  return secret;
}

char *
ph_rendezvous_answer_parse_join (const char *server, const char *data, gsize length,
                                 const char *nameplate, GError **error)
{
  char *secret = NULL;

  g_return_val_if_fail (server != NULL, NULL);
  g_return_val_if_fail (data != NULL || length == 0, NULL);
  g_return_val_if_fail (nameplate != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!parse_seat (server, data, length, nameplate, PH_MAILBOX_JOINER_SIDE, NULL, NULL, &secret,
                   error))
    return NULL;
  return secret;
}

gboolean
ph_rendezvous_answer_parse_post (const char *server, const char *data, gsize length,
                                 guint64 *out_index, GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  guint64 index;

  g_return_val_if_fail (server != NULL, FALSE);
  g_return_val_if_fail (data != NULL || length == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  root = parse_answer (server, data, length, error);
  if (root == NULL)
    return FALSE;

  if (!get_uint (json_node_get_object (root), "index", 1, G_MAXINT64, &index))
    {
      set_malformed_error (server, error,
                           C_ ("malformed rendezvous answer", "no valid message index"));
      return FALSE;
    }

  if (out_index != NULL)
    *out_index = index;
  return TRUE;
}

/* One message of a fetch, or NULL when it is malformed or its index is
 * not above @after. */
static PhMailboxMessage *
parse_message (JsonNode *node, guint64 after)
{
  g_autoptr (PhMailboxMessage) message = NULL;
  JsonObject *object;
  const char *phase;
  const char *body;
  guint64 index;
  guint64 side;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  object = json_node_get_object (node);

  phase = get_string (object, "phase");
  body = get_string (object, "body");
  if (!get_uint (object, "index", 1, G_MAXINT64, &index) || index <= after
      || !get_uint (object, "side", PH_MAILBOX_HOST_SIDE, PH_MAILBOX_JOINER_SIDE, &side)
      || phase == NULL || *phase == '\0' || body == NULL)
    return NULL;

  message = g_new0 (PhMailboxMessage, 1);
  message->index = index;
  message->body = ph_mailbox_decode_body (body);
  if (message->body == NULL)
    return NULL;
  message->side = g_strdup_printf ("%u", (guint)side);
  message->phase = g_strdup (phase);

  return g_steal_pointer (&message);
}

/* The messages of @array, indices rising above @after, or NULL. */
static GPtrArray *
parse_messages (JsonNode *member, guint64 after)
{
  g_autoptr (GPtrArray) messages = NULL;
  JsonArray *array;
  guint64 last = after;

  if (member == NULL || !JSON_NODE_HOLDS_ARRAY (member))
    return NULL;

  /* Indices must rise past the one asked for, or a message would be lost
   * or seen twice. */
  array = json_node_get_array (member);
  messages = g_ptr_array_new_with_free_func ((GDestroyNotify)ph_mailbox_message_free);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      PhMailboxMessage *message = parse_message (json_array_get_element (array, i), last);

      if (message == NULL)
        return NULL;
      last = message->index;
      g_ptr_array_add (messages, message);
    }
  return g_steal_pointer (&messages);
}

GPtrArray *
ph_rendezvous_answer_parse_fetch (const char *server, const char *data, gsize length, guint64 after,
                                  GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  JsonNode *member;
  GPtrArray *messages;

  g_return_val_if_fail (server != NULL, NULL);
  g_return_val_if_fail (data != NULL || length == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  root = parse_answer (server, data, length, error);
  if (root == NULL)
    return NULL;

  member = json_object_get_member (json_node_get_object (root), "messages");
  if (member == NULL || !JSON_NODE_HOLDS_ARRAY (member))
    {
      set_malformed_error (server, error,
                           C_ ("malformed rendezvous answer", "no list of messages"));
      return NULL;
    }
  messages = parse_messages (member, after);
  if (messages == NULL)
    set_malformed_error (
        server, error,
        C_ ("malformed rendezvous answer", "a message is malformed or out of order"));
  return messages;
}

/* One point of a wait's answer, or NULL when it is malformed, names no
 * point asked about, or one named before (@seen), or has no news. */
static PhMeetingPointNews *
parse_point_news (JsonNode *node, const char *const *ids, const guint64 *afters, guint n_points,
                  gboolean *seen)
{
  g_autoptr (PhMeetingPointNews) news = NULL;
  JsonObject *object;
  const char *id;
  guint64 stored;
  guint which;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  object = json_node_get_object (node);
  id = get_string (object, "id");
  if (id == NULL || !get_uint (object, "stored", 0, G_MAXUINT, &stored))
    return NULL;
  for (which = 0; which < n_points; which++)
    if (g_str_equal (ids[which], id))
      break;
  if (which == n_points || seen[which])
    return NULL;
  seen[which] = TRUE;

  news = g_new0 (PhMeetingPointNews, 1);
  news->messages = parse_messages (json_object_get_member (object, "messages"), afters[which]);
  if (news->messages == NULL || (news->messages->len == 0 && stored == 0))
    return NULL;
  news->id = g_strdup (id);
  news->n_stored = (guint)stored;
  return g_steal_pointer (&news);
}

GPtrArray *
ph_rendezvous_answer_parse_meet_wait (const char *server, const char *data, gsize length,
                                      const char *const *ids, const guint64 *afters, guint n_points,
                                      GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GPtrArray) points = NULL;
  g_autofree gboolean *seen = NULL;
  JsonNode *member;
  JsonArray *array;

  g_return_val_if_fail (server != NULL, NULL);
  g_return_val_if_fail (data != NULL || length == 0, NULL);
  g_return_val_if_fail (ids != NULL || n_points == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  root = parse_answer (server, data, length, error);
  if (root == NULL)
    return NULL;

  member = json_object_get_member (json_node_get_object (root), "points");
  if (member == NULL || !JSON_NODE_HOLDS_ARRAY (member))
    {
      set_malformed_error (server, error,
                           C_ ("malformed rendezvous answer", "no list of meeting points"));
      return NULL;
    }
  array = json_node_get_array (member);
  seen = g_new0 (gboolean, MAX (n_points, 1));
  points = g_ptr_array_new_with_free_func ((GDestroyNotify)ph_meeting_point_news_free);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      PhMeetingPointNews *news
          = parse_point_news (json_array_get_element (array, i), ids, afters, n_points, seen);

      if (news == NULL)
        {
          set_malformed_error (server, error,
                               C_ ("malformed rendezvous answer",
                                   "a meeting point is malformed, repeated or not asked about"));
          return NULL;
        }
      g_ptr_array_add (points, news);
    }
  return g_steal_pointer (&points);
}

gboolean
ph_rendezvous_answer_parse_stored (const char *server, const char *data, gsize length,
                                   guint64 *out_index, guint *out_expires_in, GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  guint64 index;
  guint64 expires_in;

  g_return_val_if_fail (server != NULL, FALSE);
  g_return_val_if_fail (data != NULL || length == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  root = parse_answer (server, data, length, error);
  if (root == NULL)
    return FALSE;
  if (!get_uint (json_node_get_object (root), "index", 1, G_MAXINT64, &index)
      || !get_uint (json_node_get_object (root), "expires_in", 0, G_MAXUINT, &expires_in))
    {
      set_malformed_error (server, error,
                           C_ ("malformed rendezvous answer", "no index or lifetime of the copy"));
      return FALSE;
    }
  if (out_index != NULL)
    *out_index = index;
  if (out_expires_in != NULL)
    *out_expires_in = (guint)expires_in;
  return TRUE;
}

/* One copy, or NULL when it is malformed or its index not above @after. */
static PhStoredCopy *
parse_copy (JsonNode *node, guint64 after)
{
  g_autoptr (PhStoredCopy) copy = NULL;
  JsonObject *object;
  const char *body;
  guint64 index;
  guint64 side;
  guint64 expires_in;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  object = json_node_get_object (node);
  body = get_string (object, "body");
  if (!get_uint (object, "index", 1, G_MAXINT64, &index) || index <= after
      || !get_uint (object, "side", 1, 2, &side)
      || !get_uint (object, "expires_in", 0, G_MAXUINT, &expires_in) || body == NULL)
    return NULL;

  copy = g_new0 (PhStoredCopy, 1);
  copy->index = index;
  copy->body = ph_mailbox_decode_body (body);
  if (copy->body == NULL)
    return NULL;
  copy->side = g_strdup_printf ("%u", (guint)side);
  copy->expires_in = (guint)expires_in;
  return g_steal_pointer (&copy);
}

GPtrArray *
ph_rendezvous_answer_parse_copies (const char *server, const char *data, gsize length,
                                   guint64 after, GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GPtrArray) copies = NULL;
  JsonNode *member;
  JsonArray *array;
  guint64 last = after;

  g_return_val_if_fail (server != NULL, NULL);
  g_return_val_if_fail (data != NULL || length == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  root = parse_answer (server, data, length, error);
  if (root == NULL)
    return NULL;

  member = json_object_get_member (json_node_get_object (root), "stored");
  if (member == NULL || !JSON_NODE_HOLDS_ARRAY (member))
    {
      set_malformed_error (server, error,
                           C_ ("malformed rendezvous answer", "no list of stored copies"));
      return NULL;
    }
  array = json_node_get_array (member);
  copies = g_ptr_array_new_with_free_func ((GDestroyNotify)ph_stored_copy_free);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      PhStoredCopy *copy = parse_copy (json_array_get_element (array, i), last);

      if (copy == NULL)
        {
          set_malformed_error (
              server, error,
              C_ ("malformed rendezvous answer", "a stored copy is malformed or out of order"));
          return NULL;
        }
      last = copy->index;
      g_ptr_array_add (copies, copy);
    }
  return g_steal_pointer (&copies);
}

PhTurnInfo *
ph_rendezvous_answer_parse_turn (const char *server, const char *data, gsize length, GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (PhTurnInfo) info = NULL;
  JsonObject *object;
  const char *username;
  const char *credential;
  guint64 ttl = 0;

  g_return_val_if_fail (server != NULL, NULL);
  g_return_val_if_fail (data != NULL || length == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  root = parse_answer (server, data, length, error);
  if (root == NULL)
    return NULL;

  object = json_node_get_object (root);
  info = g_new0 (PhTurnInfo, 1);
  info->stun_uris = get_string_array (object, "stun");
  if (info->stun_uris == NULL)
    {
      set_malformed_error (server, error,
                           C_ ("malformed rendezvous answer", "no list of STUN servers"));
      return NULL;
    }

  if (!json_object_has_member (object, "turn"))
    {
      info->turn_uris = g_new0 (char *, 1);
      return g_steal_pointer (&info);
    }

  info->turn_uris = get_string_array (object, "turn");
  username = get_string (object, "username");
  credential = get_string (object, "credential");
  if (info->turn_uris == NULL || username == NULL || credential == NULL
      || !get_uint (object, "ttl", 0, G_MAXUINT, &ttl))
    {
      set_malformed_error (server, error,
                           C_ ("malformed rendezvous answer", "incomplete TURN credentials"));
      return NULL;
    }

  info->username = g_strdup (username);
  info->credential = g_strdup (credential);
  info->ttl = (guint)ttl;
  return g_steal_pointer (&info);
}

/* The error name of a refusal's body: lower-case letters, digits and
 * dashes, as the server's are. */
static gboolean
error_code_is_valid (const char *code)
{
  gsize length = strlen (code);

  if (length == 0 || length > MAX_ERROR_CODE)
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_islower (code[i]) && !g_ascii_isdigit (code[i]) && code[i] != '-')
      return FALSE;
  return TRUE;
}

/* The server's error name and its own sentence, each when the body has a
 * usable one. */
static void
read_refusal_body (const char *data, gsize length, char **out_code, char **out_sentence)
{
  g_autoptr (JsonNode) root = parse_json_object (data, length);
  JsonObject *object;
  const char *code;
  const char *sentence;

  *out_code = NULL;
  *out_sentence = NULL;
  if (root == NULL)
    return;

  object = json_node_get_object (root);
  code = get_string (object, "error");
  if (code != NULL && error_code_is_valid (code))
    *out_code = g_strdup (code);

  /* json-glib took only valid UTF-8, but a string may end at an escaped
   * NUL; what is left must still say something. */
  sentence = get_string (object, "message");
  if (sentence != NULL && *sentence != '\0' && strlen (sentence) <= MAX_SERVER_SENTENCE
      && g_utf8_validate (sentence, -1, NULL))
    *out_sentence = g_strdup (sentence);
}

GError *
ph_rendezvous_answer_parse_refusal (const PhRendezvousRefusal *refusal, const char *data,
                                    gsize length)
{
  g_autofree char *code = NULL;
  g_autofree char *sentence = NULL;
  const char *mailbox;
  guint status;
  gboolean busy;

  g_return_val_if_fail (refusal != NULL, NULL);
  g_return_val_if_fail (refusal->server != NULL, NULL);
  g_return_val_if_fail (refusal->method != NULL, NULL);
  g_return_val_if_fail (data != NULL || length == 0, NULL);

  read_refusal_body (data, length, &code, &sentence);
  mailbox = refusal->mailbox;
  status = refusal->status;
  busy = status == HTTP_TOO_MANY_REQUESTS || status == SOUP_STATUS_SERVICE_UNAVAILABLE;

  /* After a restart the number may be open again, where our secret is
   * nobody's: for us the mailbox is gone. */
  if (mailbox != NULL && status == SOUP_STATUS_UNAUTHORIZED)
    return g_error_new (PH_ERROR, PH_ERROR_UNKNOWN_CODE,
                        /* Translators: %s is the number at the start of a code, such as 42. */
                        _ ("The rendezvous server no longer knows this side of the chat for the "
                           "code that starts with %s: it restarted, or the mailbox expired."),
                        mailbox);

  if (mailbox != NULL && status == SOUP_STATUS_PRECONDITION_FAILED)
    return g_error_new (PH_ERROR, PH_ERROR_UNKNOWN_CODE,
                        /* Translators: %s is the number at the start of a code, such as 42. */
                        _ ("The rendezvous server no longer has the mailbox for the code that "
                           "starts with %s: it restarted, or the mailbox expired."),
                        mailbox);

  /* A claim that finds the number taken; an old server names no error. */
  if (mailbox != NULL && status == SOUP_STATUS_CONFLICT
      && (g_strcmp0 (code, "nameplate-unavailable") == 0
          || (code == NULL && strcmp (refusal->method, SOUP_METHOD_PUT) == 0)))
    return g_error_new (PH_ERROR, PH_ERROR_MAILBOX_FULL,
                        /* Translators: %s is the number at the start of a code, such as 42. */
                        _ ("The rendezvous server restarted and has given the number %s to "
                           "another chat; start a new chat for a new code."),
                        mailbox);

  /* A joiner back after a restart, whose host's number went to someone else. */
  if (mailbox != NULL && status == SOUP_STATUS_CONFLICT
      && g_strcmp0 (code, "mailbox-mismatch") == 0)
    return g_error_new (PH_ERROR, PH_ERROR_MAILBOX_FULL,
                        /* Translators: %s is the number at the start of a code, such as 42. */
                        _ ("The rendezvous server restarted and has given the number %s to "
                           "another chat; ask for a new code."),
                        mailbox);

  if (mailbox != NULL && status == SOUP_STATUS_NOT_FOUND)
    return g_error_new (PH_ERROR, PH_ERROR_UNKNOWN_CODE,
                        /* Translators: %s is the number at the start of a code, such as 42. */
                        _ ("No one is waiting with the code that starts with %s: it may be "
                           "mistyped, or it has expired."),
                        mailbox);

  if (mailbox != NULL && status == SOUP_STATUS_CONFLICT)
    return g_error_new (PH_ERROR, PH_ERROR_MAILBOX_FULL,
                        /* Translators: %s is the number at the start of a code, such as 42. */
                        _ ("Two people are already using the code that starts with %s; ask "
                           "for a new code."),
                        mailbox);

  if (sentence != NULL)
    return g_error_new (PH_ERROR, PH_ERROR_RENDEZVOUS, "%s", sentence);

  if (busy && refusal->retry_after >= 0 && refusal->retry_after <= G_MAXUINT)
    return g_error_new (PH_ERROR, PH_ERROR_RENDEZVOUS,
                        g_dngettext (GETTEXT_PACKAGE,
                                     /* Translators: %s is the server's URL. */
                                     "The rendezvous server at %s is busy; try again in %u "
                                     "second.",
                                     "The rendezvous server at %s is busy; try again in %u "
                                     "seconds.",
                                     (gulong)refusal->retry_after),
                        refusal->server, (guint)refusal->retry_after);

  return g_error_new (PH_ERROR, PH_ERROR_RENDEZVOUS,
                      /* Translators: %s is the server's URL, %u an HTTP status code. */
                      _ ("The rendezvous server at %s refused the request (HTTP %u)."),
                      refusal->server, status);
}
