/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-frame"

#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "ph-error.h"
#include "ph-frame.h"
#include "ph-json-escape.h"

#define LENGTH_PREFIX_SIZE 4
/* json-glib parses nested values recursively: a frame of a few hundred
 * thousand "[" would exhaust the stack, so nesting is bounded first. */
#define MAX_JSON_DEPTH 16
/* Memory a decoder keeps after a large frame is popped. */
#define DECODER_KEEP_SIZE (64 * 1024)
/* Compacting only once this much is consumed keeps small frames cheap. */
#define DECODER_COMPACT_MIN 4096

struct _PhFrameDecoder
{
  GByteArray *buffer;
  gsize read_offset; /* first byte not yet popped */
  gsize scan_offset; /* first byte after the frames known to be whole */
  gboolean failed;
};

static PhFrame *
frame_new (PhFrameType type)
{
  PhFrame *frame = g_new0 (PhFrame, 1);

  frame->type = type;
  return frame;
}

/* A NULL name is sent as "" (no name). */
PhFrame *
ph_frame_new_hello (const char *name, const char *const *features)
{
  PhFrame *frame = frame_new (PH_FRAME_HELLO);

  frame->version = PH_FRAME_PROTOCOL_VERSION;
  frame->name = g_strdup (name != NULL ? name : "");
  frame->features = g_strdupv ((GStrv)features);
  return frame;
}

PhFrame *
ph_frame_new_msg (const char *id, gint64 time_ms, const char *text)
{
  PhFrame *frame;

  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (text != NULL, NULL);

  frame = frame_new (PH_FRAME_MSG);
  frame->id = g_strdup (id);
  frame->seq = 1;
  frame->time_ms = time_ms;
  frame->text = g_strdup (text);
  return frame;
}

PhFrame *
ph_frame_new_ack (const char *id)
{
  PhFrame *frame;

  g_return_val_if_fail (id != NULL, NULL);

  frame = frame_new (PH_FRAME_ACK);
  frame->id = g_strdup (id);
  return frame;
}

PhFrame *
ph_frame_new_typing (gboolean active)
{
  PhFrame *frame = frame_new (PH_FRAME_TYPING);

  frame->active = !!active;
  return frame;
}

PhFrame *
ph_frame_new_bye (const char *reason)
{
  PhFrame *frame = frame_new (PH_FRAME_BYE);

  frame->reason = g_strdup (reason);
  return frame;
}

PhFrame *
ph_frame_new_ping (void)
{
  return frame_new (PH_FRAME_PING);
}

PhFrame *
ph_frame_new_pong (guint64 ping_id)
{
  PhFrame *frame = frame_new (PH_FRAME_PONG);

  frame->ping_id = ping_id;
  return frame;
}

void
ph_frame_free (PhFrame *frame)
{
  if (frame == NULL)
    return;

  g_free (frame->name);
  g_strfreev (frame->features);
  g_free (frame->id);
  g_free (frame->text);
  g_free (frame->reason);
  g_free (frame);
}

static const char *
type_name (PhFrameType type)
{
  switch (type)
    {
    case PH_FRAME_HELLO:
      return "hello";
    case PH_FRAME_MSG:
      return "msg";
    case PH_FRAME_ACK:
      return "ack";
    case PH_FRAME_TYPING:
      return "typing";
    case PH_FRAME_BYE:
      return "bye";
    case PH_FRAME_PING:
      return "ping";
    case PH_FRAME_PONG:
      return "pong";
    case PH_FRAME_UNKNOWN:
    default:
      return NULL;
    }
}

/* Message ids are echoed into logs and the CLI's output: keep them plain. */
static gboolean
is_valid_id (const char *id)
{
  gsize n = 0;

  for (; id[n] != '\0'; n++)
    {
      if (n >= PH_FRAME_MAX_ID_LENGTH || id[n] < 0x21 || id[n] > 0x7e)
        return FALSE;
    }

  return n > 0;
}

static gboolean
has_control_character (const char *text)
{
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      GUnicodeType type = g_unichar_type (g_utf8_get_char (p));

      if (type == G_UNICODE_CONTROL || type == G_UNICODE_LINE_SEPARATOR
          || type == G_UNICODE_PARAGRAPH_SEPARATOR)
        return TRUE;
    }

  return FALSE;
}

/* The same rules as the parser, so Pinhole never sends what a peer refuses. */
static gboolean
check_outgoing (const PhFrame *frame, GError **error)
{
  switch (frame->type)
    {
    case PH_FRAME_HELLO:
      if (frame->version == 0)
        {
          g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME,
                       "The protocol version must be a positive integer");
          return FALSE;
        }
      if (frame->name == NULL || !g_utf8_validate (frame->name, -1, NULL)
          || has_control_character (frame->name))
        {
          g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME,
                       "The name must be UTF-8 text without control characters");
          return FALSE;
        }
      if (g_utf8_strlen (frame->name, -1) > PH_FRAME_MAX_NAME_LENGTH)
        {
          g_set_error (error, PH_ERROR, PH_ERROR_TOO_LARGE, "The name is longer than %d characters",
                       PH_FRAME_MAX_NAME_LENGTH);
          return FALSE;
        }
      for (guint i = 0; frame->features != NULL && frame->features[i] != NULL; i++)
        {
          if (!g_utf8_validate (frame->features[i], -1, NULL))
            {
              g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME,
                           "A feature name is not valid UTF-8");
              return FALSE;
            }
        }
      return TRUE;

    case PH_FRAME_MSG:
      if (frame->text == NULL || !g_utf8_validate (frame->text, -1, NULL))
        {
          g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME,
                       "The message is not valid UTF-8 text");
          return FALSE;
        }
      if (strlen (frame->text) > PH_FRAME_MAX_TEXT_SIZE)
        {
          g_set_error (error, PH_ERROR, PH_ERROR_TOO_LARGE,
                       "The message is %zu bytes long; the limit is %d bytes", strlen (frame->text),
                       PH_FRAME_MAX_TEXT_SIZE);
          return FALSE;
        }
      if (frame->seq < 1 || frame->seq > PH_FRAME_MAX_SEQ)
        {
          g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME,
                       "A message sequence number must be 1 to 2⁵³−1");
          return FALSE;
        }
      G_GNUC_FALLTHROUGH;

    case PH_FRAME_ACK:
      if (frame->id == NULL || !is_valid_id (frame->id))
        {
          g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME,
                       "A message id must be 1 to %d printable ASCII characters",
                       PH_FRAME_MAX_ID_LENGTH);
          return FALSE;
        }
      return TRUE;

    case PH_FRAME_BYE:
      if (frame->reason != NULL && !g_utf8_validate (frame->reason, -1, NULL))
        {
          g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME,
                       "The goodbye reason is not valid UTF-8 text");
          return FALSE;
        }
      return TRUE;

    case PH_FRAME_TYPING:
      return TRUE;

    case PH_FRAME_PING:
    case PH_FRAME_PONG:
      if (frame->ping_id > PH_FRAME_MAX_SEQ
          || (frame->type == PH_FRAME_PONG && frame->ping_id == 0))
        {
          g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME, "A ping id must be 1 to 2⁵³−1");
          return FALSE;
        }
      return TRUE;

    case PH_FRAME_UNKNOWN:
    default:
      g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME,
                   "A frame of unknown type cannot be sent");
      return FALSE;
    }
}

/* A JSON string literal for valid UTF-8 @text, escaped as json-glib's
 * generator escapes it: quotes, backslashes and control characters. */
static void
append_json_string (GString *out, const char *text)
{
  const char *run = text;

  g_string_append_c (out, '"');
  for (const char *p = text; *p != '\0'; p++)
    {
      guchar c = *p;

      if (c >= 0x20 && c != '"' && c != '\\')
        continue;

      g_string_append_len (out, run, p - run);
      switch (c)
        {
        case '"':
          g_string_append (out, "\\\"");
          break;
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '\b':
          g_string_append (out, "\\b");
          break;
        case '\f':
          g_string_append (out, "\\f");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        case '\t':
          g_string_append (out, "\\t");
          break;
        default:
          g_string_append_printf (out, "\\u%04x", c);
          break;
        }
      run = p + 1;
    }
  g_string_append (out, run);
  g_string_append_c (out, '"');
}

GBytes *
ph_frame_encode (const PhFrame *frame, GError **error)
{
  GString *out;
  gsize json_length;

  g_return_val_if_fail (frame != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_outgoing (frame, error))
    return NULL;

  /* Written by hand rather than through JsonBuilder and JsonGenerator:
   * encoding is on every message's path and this is several times faster
   * (bench/bench-channel). The output is what JsonGenerator would write. */
  out = g_string_sized_new (LENGTH_PREFIX_SIZE + 64
                            + (frame->text != NULL ? strlen (frame->text) + 16 : 0));
  g_string_append_len (out, "\0\0\0\0", LENGTH_PREFIX_SIZE);
  g_string_append (out, "{\"type\":");
  append_json_string (out, type_name (frame->type));

  switch (frame->type)
    {
    case PH_FRAME_HELLO:
      g_string_append_printf (out, ",\"version\":%u,\"name\":", frame->version);
      append_json_string (out, frame->name);
      g_string_append (out, ",\"features\":[");
      for (guint i = 0; frame->features != NULL && frame->features[i] != NULL; i++)
        {
          if (i > 0)
            g_string_append_c (out, ',');
          append_json_string (out, frame->features[i]);
        }
      g_string_append_c (out, ']');
      break;

    case PH_FRAME_MSG:
      g_string_append (out, ",\"id\":");
      append_json_string (out, frame->id);
      g_string_append_printf (
          out, ",\"seq\":%" G_GINT64_FORMAT ",\"time\":%" G_GINT64_FORMAT ",\"text\":",
          (gint64)frame->seq, frame->time_ms);
      append_json_string (out, frame->text);
      break;

    case PH_FRAME_ACK:
      g_string_append (out, ",\"id\":");
      append_json_string (out, frame->id);
      break;

    case PH_FRAME_TYPING:
      g_string_append (out, frame->active ? ",\"active\":true" : ",\"active\":false");
      break;

    case PH_FRAME_BYE:
      if (frame->reason != NULL)
        {
          g_string_append (out, ",\"reason\":");
          append_json_string (out, frame->reason);
        }
      break;

    case PH_FRAME_PING:
    case PH_FRAME_PONG:
      if (frame->ping_id != 0)
        g_string_append_printf (out, ",\"id\":%" G_GINT64_FORMAT, (gint64)frame->ping_id);
      break;

    case PH_FRAME_UNKNOWN:
    default:
      break;
    }
  g_string_append_c (out, '}');

  json_length = out->len - LENGTH_PREFIX_SIZE;
  if (json_length > PH_FRAME_MAX_SIZE)
    {
      g_string_free (out, TRUE);
      g_set_error (error, PH_ERROR, PH_ERROR_TOO_LARGE,
                   "The frame is %zu bytes long; the limit is %d bytes", json_length,
                   PH_FRAME_MAX_SIZE);
      return NULL;
    }

  out->str[0] = (json_length >> 24) & 0xff;
  out->str[1] = (json_length >> 16) & 0xff;
  out->str[2] = (json_length >> 8) & 0xff;
  out->str[3] = json_length & 0xff;
  json_length = out->len;
  return g_bytes_new_take (g_string_free (out, FALSE), json_length);
}

static gboolean
is_json_space (char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Checks what json-glib would get wrong or accept silently: nesting that
 * recurses too deep, "\u0000" (which truncates a string), data after the
 * object, and a top level that is not an object. */
static gboolean
check_json_shape (const char *json, gsize length, GError **error)
{
  guint depth = 0;
  gboolean in_string = FALSE;
  gsize i = 0;

  while (i < length && is_json_space (json[i]))
    i++;
  if (i == length || json[i] != '{')
    {
      g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME, "The frame is not a JSON object");
      return FALSE;
    }

  for (; i < length; i++)
    {
      char c = json[i];

      if (in_string)
        {
          if (c == '"')
            in_string = FALSE;
          else if (c == '\\')
            {
              if (length - i > 5 && memcmp (json + i + 1, "u0000", 5) == 0)
                {
                  g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME,
                               "The frame contains a NUL character (\\u0000)");
                  return FALSE;
                }
              i++;
            }
          continue;
        }

      if (c == '"')
        in_string = TRUE;
      else if (c == '{' || c == '[')
        {
          if (++depth > MAX_JSON_DEPTH)
            {
              g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME,
                           "The frame nests JSON more than %d levels deep", MAX_JSON_DEPTH);
              return FALSE;
            }
        }
      else if ((c == '}' || c == ']') && depth > 0 && --depth == 0)
        {
          for (i++; i < length; i++)
            {
              if (!is_json_space (json[i]))
                {
                  g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME,
                               "The frame has data after its JSON object");
                  return FALSE;
                }
            }
        }
    }

  return TRUE;
}

static gboolean
member_error (const char *type, const char *member, const char *problem, GError **error)
{
  g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME, "The “%s” frame’s “%s” %s", type, member,
               problem);
  return FALSE;
}

/* Looks up a member that must hold a scalar of @value_type. */
static JsonNode *
get_member (JsonObject *object, const char *type, const char *member, GType value_type,
            const char *expected, gboolean required, GError **error)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL)
    {
      if (required)
        member_error (type, member, "is missing", error);
      return NULL;
    }

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != value_type)
    {
      g_autofree char *problem = g_strdup_printf ("must be %s", expected);
      member_error (type, member, problem, error);
      return NULL;
    }

  return node;
}

/* Strings from JSON escapes may still be invalid UTF-8 (a lone "\ud800"). */
static gboolean
get_string (JsonObject *object, const char *type, const char *member, gboolean required, char **out,
            GError **error)
{
  GError *local_error = NULL;
  JsonNode *node
      = get_member (object, type, member, G_TYPE_STRING, "a string", required, &local_error);
  const char *value;

  if (node == NULL)
    {
      if (local_error == NULL)
        return TRUE;
      g_propagate_error (error, local_error);
      return FALSE;
    }

  value = json_node_get_string (node);
  if (!g_utf8_validate (value, -1, NULL))
    return member_error (type, member, "is not valid UTF-8", error);

  *out = g_strdup (value);
  return TRUE;
}

static gboolean
get_id (JsonObject *object, const char *type, char **out, GError **error)
{
  g_autofree char *id = NULL;

  if (!get_string (object, type, "id", TRUE, &id, error))
    return FALSE;
  if (!is_valid_id (id))
    {
      g_autofree char *problem
          = g_strdup_printf ("must be 1 to %d printable ASCII characters", PH_FRAME_MAX_ID_LENGTH);
      return member_error (type, "id", problem, error);
    }

  *out = g_steal_pointer (&id);
  return TRUE;
}

static gboolean
parse_hello (JsonObject *object, PhFrame *frame, GError **error)
{
  JsonNode *node;
  gint64 version;

  node = get_member (object, "hello", "version", G_TYPE_INT64, "a positive integer", TRUE, error);
  if (node == NULL)
    return FALSE;
  version = json_node_get_int (node);
  if (version < 1 || version > G_MAXUINT)
    return member_error ("hello", "version", "must be a positive integer", error);
  frame->version = version;

  if (!get_string (object, "hello", "name", TRUE, &frame->name, error))
    return FALSE;
  if (g_utf8_strlen (frame->name, -1) > PH_FRAME_MAX_NAME_LENGTH)
    {
      g_autofree char *problem
          = g_strdup_printf ("is longer than %d characters", PH_FRAME_MAX_NAME_LENGTH);
      return member_error ("hello", "name", problem, error);
    }
  if (has_control_character (frame->name))
    return member_error ("hello", "name", "contains a control character", error);

  node = json_object_get_member (object, "features");
  if (node != NULL)
    {
      g_autoptr (GStrvBuilder) features = g_strv_builder_new ();
      JsonArray *array;

      if (!JSON_NODE_HOLDS_ARRAY (node))
        return member_error ("hello", "features", "must be an array of strings", error);

      array = json_node_get_array (node);
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *element = json_array_get_element (array, i);

          if (!JSON_NODE_HOLDS_VALUE (element)
              || json_node_get_value_type (element) != G_TYPE_STRING)
            return member_error ("hello", "features", "must be an array of strings", error);
          if (!g_utf8_validate (json_node_get_string (element), -1, NULL))
            return member_error ("hello", "features", "is not valid UTF-8", error);
          g_strv_builder_add (features, json_node_get_string (element));
        }
      frame->features = g_strv_builder_end (features);
    }

  return TRUE;
}

static gboolean
parse_msg (JsonObject *object, PhFrame *frame, GError **error)
{
  JsonNode *node;

  if (!get_id (object, "msg", &frame->id, error))
    return FALSE;

  node = get_member (object, "msg", "seq", G_TYPE_INT64, "an integer (the message's number)", TRUE,
                     error);
  if (node == NULL)
    return FALSE;
  if (json_node_get_int (node) < 1 || (guint64)json_node_get_int (node) > PH_FRAME_MAX_SEQ)
    return member_error ("msg", "seq", "must be 1 to 2⁵³−1", error);
  frame->seq = json_node_get_int (node);

  node = get_member (object, "msg", "time", G_TYPE_INT64, "an integer (milliseconds since 1970)",
                     TRUE, error);
  if (node == NULL)
    return FALSE;
  frame->time_ms = json_node_get_int (node);
  if (frame->time_ms < 0)
    return member_error ("msg", "time", "is negative", error);

  if (!get_string (object, "msg", "text", TRUE, &frame->text, error))
    return FALSE;
  if (strlen (frame->text) > PH_FRAME_MAX_TEXT_SIZE)
    {
      g_autofree char *problem
          = g_strdup_printf ("is longer than %d bytes", PH_FRAME_MAX_TEXT_SIZE);
      return member_error ("msg", "text", problem, error);
    }

  return TRUE;
}

static gboolean
parse_ping_id (JsonObject *object, const char *type, gboolean required, PhFrame *frame,
               GError **error)
{
  GError *local_error = NULL;
  JsonNode *node = get_member (object, type, "id", G_TYPE_INT64, "an integer (the ping's number)",
                               required, &local_error);

  if (node == NULL)
    {
      if (local_error == NULL)
        return TRUE;
      g_propagate_error (error, local_error);
      return FALSE;
    }
  if (json_node_get_int (node) < 1 || (guint64)json_node_get_int (node) > PH_FRAME_MAX_SEQ)
    return member_error (type, "id", "must be 1 to 2⁵³−1", error);
  frame->ping_id = json_node_get_int (node);
  return TRUE;
}

static PhFrame *
parse_object (JsonObject *object, GError **error)
{
  g_autoptr (PhFrame) frame = NULL;
  JsonNode *type_node = json_object_get_member (object, "type");
  const char *type;
  gboolean ok = TRUE;

  if (type_node == NULL)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME, "The frame has no “type”");
      return NULL;
    }
  if (!JSON_NODE_HOLDS_VALUE (type_node) || json_node_get_value_type (type_node) != G_TYPE_STRING)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME, "The frame’s “type” must be a string");
      return NULL;
    }
  type = json_node_get_string (type_node);

  if (strcmp (type, "hello") == 0)
    {
      frame = frame_new (PH_FRAME_HELLO);
      ok = parse_hello (object, frame, error);
    }
  else if (strcmp (type, "msg") == 0)
    {
      frame = frame_new (PH_FRAME_MSG);
      ok = parse_msg (object, frame, error);
    }
  else if (strcmp (type, "ack") == 0)
    {
      frame = frame_new (PH_FRAME_ACK);
      ok = get_id (object, "ack", &frame->id, error);
    }
  else if (strcmp (type, "typing") == 0)
    {
      JsonNode *node
          = get_member (object, "typing", "active", G_TYPE_BOOLEAN, "true or false", TRUE, error);

      frame = frame_new (PH_FRAME_TYPING);
      ok = node != NULL;
      if (ok)
        frame->active = json_node_get_boolean (node);
    }
  else if (strcmp (type, "bye") == 0)
    {
      frame = frame_new (PH_FRAME_BYE);
      ok = get_string (object, "bye", "reason", FALSE, &frame->reason, error);
    }
  else if (strcmp (type, "ping") == 0)
    {
      frame = frame_new (PH_FRAME_PING);
      ok = parse_ping_id (object, "ping", FALSE, frame, error);
    }
  else if (strcmp (type, "pong") == 0)
    {
      frame = frame_new (PH_FRAME_PONG);
      ok = parse_ping_id (object, "pong", TRUE, frame, error);
    }
  else
    frame = frame_new (PH_FRAME_UNKNOWN); /* from a newer peer: ignored, not an error */

  if (!ok)
    return NULL;

  return g_steal_pointer (&frame);
}

/* A fast reader for the frames Pinhole itself writes: one flat object whose
 * members are strings without \u escapes or raw control characters,
 * integers, true, false or null. Anything else (arrays, nesting, fractions,
 * \u escapes, odd input) returns NULL without judging it, and the frame goes
 * to json-glib, which decides. Both build the same JsonObject, so every
 * frame meets the same checks (bench/bench-channel: json-glib's parser was
 * most of the channel's cost per message). */
typedef struct
{
  const char *p;
  const char *end;
} Reader;

static void
skip_space (Reader *r)
{
  while (r->p < r->end && is_json_space (*r->p))
    r->p++;
}

static char *
read_simple_string (Reader *r)
{
  GString *out;
  const char *start;

  if (r->p >= r->end || *r->p != '"')
    return NULL;
  start = ++r->p;
  out = g_string_sized_new (r->end - start < 64 ? (gsize)(r->end - start) : 64);
  while (r->p < r->end)
    {
      guchar c = *r->p;

      if (c == '"')
        {
          g_string_append_len (out, start, r->p - start);
          r->p++;
          return g_string_free (out, FALSE);
        }
      if (c < 0x20)
        break;
      if (c == '\\')
        {
          char escaped;

          g_string_append_len (out, start, r->p - start);
          if (r->end - r->p < 2)
            break;
          escaped = ph_json_unescape_short (r->p[1]);
          if (escaped == '\0')
            break;
          g_string_append_c (out, escaped);
          r->p += 2;
          start = r->p;
          continue;
        }
      r->p++;
    }
  g_string_free (out, TRUE);
  return NULL;
}

static JsonNode *
read_simple_value (Reader *r)
{
  JsonNode *node;

  if (r->p >= r->end)
    return NULL;

  if (*r->p == '"')
    {
      g_autofree char *text = read_simple_string (r);

      if (text == NULL)
        return NULL;
      node = json_node_new (JSON_NODE_VALUE);
      json_node_set_string (node, text);
      return node;
    }

  if (*r->p == '-' || g_ascii_isdigit (*r->p))
    {
      const char *start = r->p;
      gint64 value = 0;
      gboolean negative = *r->p == '-';

      if (negative)
        r->p++;
      /* No leading zeros, at most 15 digits: exact in an int64 and in a
       * double, as json-glib would read it. */
      if (r->p >= r->end || !g_ascii_isdigit (*r->p)
          || (*r->p == '0' && r->p + 1 < r->end && g_ascii_isdigit (r->p[1])))
        return NULL;
      while (r->p < r->end && g_ascii_isdigit (*r->p) && r->p - start < 16)
        value = value * 10 + (*r->p++ - '0');
      if (r->p < r->end
          && (g_ascii_isdigit (*r->p) || *r->p == '.' || *r->p == 'e' || *r->p == 'E'))
        return NULL;
      node = json_node_new (JSON_NODE_VALUE);
      json_node_set_int (node, negative ? -value : value);
      return node;
    }

  if (r->end - r->p >= 4 && memcmp (r->p, "true", 4) == 0)
    {
      r->p += 4;
      node = json_node_new (JSON_NODE_VALUE);
      json_node_set_boolean (node, TRUE);
      return node;
    }
  if (r->end - r->p >= 5 && memcmp (r->p, "false", 5) == 0)
    {
      r->p += 5;
      node = json_node_new (JSON_NODE_VALUE);
      json_node_set_boolean (node, FALSE);
      return node;
    }
  if (r->end - r->p >= 4 && memcmp (r->p, "null", 4) == 0)
    {
      r->p += 4;
      return json_node_new (JSON_NODE_NULL);
    }

  return NULL;
}

static JsonObject *
read_simple_object (const char *json, gsize length)
{
  g_autoptr (JsonObject) object = json_object_new ();
  Reader r = { json, json + length };

  skip_space (&r);
  if (r.p >= r.end || *r.p++ != '{')
    return NULL;
  skip_space (&r);
  if (r.p < r.end && *r.p == '}')
    r.p++;
  else
    for (;;)
      {
        g_autofree char *name = NULL;
        JsonNode *value;

        skip_space (&r);
        name = read_simple_string (&r);
        if (name == NULL)
          return NULL;
        skip_space (&r);
        if (r.p >= r.end || *r.p++ != ':')
          return NULL;
        skip_space (&r);
        value = read_simple_value (&r);
        if (value == NULL)
          return NULL;
        json_object_set_member (object, name, value);
        skip_space (&r);
        if (r.p >= r.end)
          return NULL;
        if (*r.p == '}')
          {
            r.p++;
            break;
          }
        if (*r.p++ != ',')
          return NULL;
      }

  skip_space (&r);
  return r.p == r.end ? g_steal_pointer (&object) : NULL;
}

PhFrame *
ph_frame_parse (const char *json, gsize length, GError **error)
{
  g_autoptr (JsonObject) simple = NULL;
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) json_error = NULL;
  JsonNode *root;

  g_return_val_if_fail (json != NULL || length == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (length > PH_FRAME_MAX_SIZE)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME,
                   "The frame is %zu bytes long; the limit is %d bytes", length, PH_FRAME_MAX_SIZE);
      return NULL;
    }
  if (length == 0)
    json = "";
  if (!g_utf8_validate_len (json, length, NULL))
    {
      g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME, "The frame is not valid UTF-8 text");
      return NULL;
    }
  /* The simple reader refuses nesting, \u escapes and trailing data by
   * itself, so only what it hands on needs the shape check. */
  simple = read_simple_object (json, length);
  if (simple != NULL)
    return parse_object (simple, error);
  if (!check_json_shape (json, length, error))
    return NULL;

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, json, length, &json_error))
    {
      g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME, "The frame is not valid JSON: %s",
                   json_error->message);
      return NULL;
    }

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME, "The frame is not a JSON object");
      return NULL;
    }

  return parse_object (json_node_get_object (root), error);
}

PhFrameDecoder *
ph_frame_decoder_new (void)
{
  PhFrameDecoder *self = g_new0 (PhFrameDecoder, 1);

  self->buffer = g_byte_array_new ();
  return self;
}

void
ph_frame_decoder_free (PhFrameDecoder *self)
{
  if (self == NULL)
    return;

  g_byte_array_unref (self->buffer);
  g_free (self);
}

static void
set_broken_error (GError **error)
{
  g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME,
               "The channel already delivered a malformed frame and cannot continue");
}

/* Drops popped bytes once they are at least half the buffer, so a stream
 * of small frames costs amortised constant work per byte. */
static void
compact (PhFrameDecoder *self)
{
  if (self->read_offset == self->buffer->len)
    {
      if (self->buffer->len > DECODER_KEEP_SIZE)
        {
          g_byte_array_unref (self->buffer);
          self->buffer = g_byte_array_new ();
        }
      else
        g_byte_array_set_size (self->buffer, 0);
      self->scan_offset = 0;
      self->read_offset = 0;
    }
  else if (self->read_offset >= DECODER_COMPACT_MIN && self->read_offset >= self->buffer->len / 2)
    {
      g_byte_array_remove_range (self->buffer, 0, self->read_offset);
      self->scan_offset -= self->read_offset;
      self->read_offset = 0;
    }
}

gboolean
ph_frame_decoder_push (PhFrameDecoder *self, const guint8 *data, gsize length, GError **error)
{
  gsize held, total, pos;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (data != NULL || length == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->failed)
    {
      set_broken_error (error);
      return FALSE;
    }

  compact (self);

  /* Walk the length prefixes across what is held and what arrives before
   * keeping anything, so a bad prefix never makes the decoder buffer the
   * body it announces. */
  held = self->buffer->len;
  total = held + length;
  pos = self->scan_offset;
  while (total - pos >= LENGTH_PREFIX_SIZE)
    {
      guint32 frame_length = 0;

      for (gsize i = 0; i < LENGTH_PREFIX_SIZE; i++)
        {
          gsize at = pos + i;
          guint8 byte = at < held ? self->buffer->data[at] : data[at - held];

          frame_length = (frame_length << 8) | byte;
        }

      if (frame_length == 0 || frame_length > PH_FRAME_MAX_SIZE)
        {
          self->failed = TRUE;
          if (frame_length == 0)
            g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME,
                         "The peer sent an empty frame (length 0)");
          else
            g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME,
                         "The peer announced a frame of %u bytes; the limit is %d bytes",
                         frame_length, PH_FRAME_MAX_SIZE);
          return FALSE;
        }

      if (total - pos - LENGTH_PREFIX_SIZE < frame_length)
        break;
      pos += LENGTH_PREFIX_SIZE + frame_length;
    }

  g_byte_array_append (self->buffer, data, length);
  self->scan_offset = pos;
  return TRUE;
}

PhFrame *
ph_frame_decoder_pop (PhFrameDecoder *self, GError **error)
{
  const guint8 *start;
  guint32 frame_length;
  PhFrame *frame;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (self->failed)
    {
      set_broken_error (error);
      return NULL;
    }
  if (self->read_offset == self->scan_offset)
    return NULL;

  start = self->buffer->data + self->read_offset;
  frame_length
      = ((guint32)start[0] << 24) | ((guint32)start[1] << 16) | ((guint32)start[2] << 8) | start[3];
  frame = ph_frame_parse ((const char *)start + LENGTH_PREFIX_SIZE, frame_length, error);
  self->read_offset += LENGTH_PREFIX_SIZE + frame_length;
  compact (self);

  return frame;
}

gsize
ph_frame_decoder_get_pending (PhFrameDecoder *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->buffer->len - self->scan_offset;
}
