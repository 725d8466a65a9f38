/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-frame"

#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "ph-error.h"
#include "ph-frame.h"
#include "ph-json-guard.h"

/* json-glib parses nested values recursively: a frame of a few hundred
 * thousand "[" would exhaust the stack, so nesting is bounded first.
 * Frames are flat (two levels); the rest is room for newer types. */
#define MAX_JSON_DEPTH 16

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

PhFrame *
ph_frame_new_contact_offer (const char *public_key, const char *share, const char *name,
                            const char *signature)
{
  PhFrame *frame;

  g_return_val_if_fail (public_key != NULL && share != NULL, NULL);
  g_return_val_if_fail (name != NULL && signature != NULL, NULL);

  frame = frame_new (PH_FRAME_CONTACT_OFFER);
  frame->public_key = g_strdup (public_key);
  frame->share = g_strdup (share);
  frame->name = g_strdup (name);
  frame->signature = g_strdup (signature);
  return frame;
}

PhFrame *
ph_frame_new_ratchet_bundle (const char *bundle)
{
  PhFrame *frame;

  g_return_val_if_fail (bundle != NULL, NULL);

  frame = frame_new (PH_FRAME_RATCHET_BUNDLE);
  frame->bundle = g_strdup (bundle);
  return frame;
}

PhFrame *
ph_frame_new_probe (guint64 probe_id, const char *ufrag, const char *pwd,
                    const char *const *candidates)
{
  PhFrame *frame;

  g_return_val_if_fail (ufrag != NULL && pwd != NULL, NULL);

  frame = frame_new (PH_FRAME_PROBE);
  frame->probe_id = probe_id;
  frame->ufrag = g_strdup (ufrag);
  frame->pwd = g_strdup (pwd);
  frame->candidates = candidates != NULL ? g_strdupv ((GStrv)candidates) : g_new0 (char *, 1);
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
  g_free (frame->public_key);
  g_free (frame->share);
  g_free (frame->signature);
  g_free (frame->ufrag);
  g_free (frame->pwd);
  g_strfreev (frame->candidates);
  g_free (frame->bundle);
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
    case PH_FRAME_CONTACT_OFFER:
      return "contact-offer";
    case PH_FRAME_PROBE:
      return "probe";
    case PH_FRAME_RATCHET_BUNDLE:
      return "ratchet-bundle";
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

/* ICE strings (RFC 8839 ice-char, candidate lines) are printable ASCII;
 * the transport checks their grammar. */
static gboolean
is_ice_text (const char *text)
{
  gsize n = 0;

  for (; text[n] != '\0'; n++)
    if (n >= PH_FRAME_MAX_ICE_STRING_LENGTH || text[n] < 0x20 || text[n] > 0x7e)
      return FALSE;
  return n > 0;
}

static gboolean
check_outgoing_probe (const PhFrame *frame, GError **error)
{
  if (frame->probe_id < 1 || frame->probe_id > PH_FRAME_MAX_SEQ)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME, "A probe id must be 1 to 2⁵³−1");
      return FALSE;
    }
  if (frame->ufrag == NULL || !is_ice_text (frame->ufrag) || frame->pwd == NULL
      || !is_ice_text (frame->pwd))
    {
      g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME,
                   "A probe's ICE credentials must be 1 to %d printable ASCII characters",
                   PH_FRAME_MAX_ICE_STRING_LENGTH);
      return FALSE;
    }
  if (frame->candidates == NULL
      || g_strv_length (frame->candidates) > PH_FRAME_MAX_PROBE_CANDIDATES)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_TOO_LARGE, "A probe lists at most %d candidates",
                   PH_FRAME_MAX_PROBE_CANDIDATES);
      return FALSE;
    }
  for (guint i = 0; frame->candidates[i] != NULL; i++)
    if (!is_ice_text (frame->candidates[i]))
      {
        g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME,
                     "A probe's candidate must be 1 to %d printable ASCII characters",
                     PH_FRAME_MAX_ICE_STRING_LENGTH);
        return FALSE;
      }
  return TRUE;
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

    case PH_FRAME_CONTACT_OFFER:
      if (frame->public_key == NULL || frame->share == NULL || frame->signature == NULL
          || frame->name == NULL || !g_utf8_validate (frame->public_key, -1, NULL)
          || !g_utf8_validate (frame->share, -1, NULL)
          || !g_utf8_validate (frame->signature, -1, NULL)
          || !g_utf8_validate (frame->name, -1, NULL))
        {
          g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME,
                       "A contact offer needs a key, a share, a name and a signature in UTF-8");
          return FALSE;
        }
      return TRUE;

    case PH_FRAME_PROBE:
      return check_outgoing_probe (frame, error);

    case PH_FRAME_RATCHET_BUNDLE:
      if (frame->bundle == NULL || !g_utf8_validate (frame->bundle, -1, NULL))
        {
          g_set_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME,
                       "A ratchet bundle needs its bundle in UTF-8");
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

static JsonNode *
build_object (const PhFrame *frame)
{
  /* Mutable: sealing a node hashes its strings, a pass over every text
   * for nodes that are never shared. */
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  /* Members in this order, as every earlier version wrote them. */
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, type_name (frame->type));

  switch (frame->type)
    {
    case PH_FRAME_HELLO:
      json_builder_set_member_name (builder, "version");
      json_builder_add_int_value (builder, frame->version);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, frame->name);
      json_builder_set_member_name (builder, "features");
      json_builder_begin_array (builder);
      for (guint i = 0; frame->features != NULL && frame->features[i] != NULL; i++)
        json_builder_add_string_value (builder, frame->features[i]);
      json_builder_end_array (builder);
      break;

    case PH_FRAME_MSG:
      json_builder_set_member_name (builder, "id");
      json_builder_add_string_value (builder, frame->id);
      json_builder_set_member_name (builder, "seq");
      json_builder_add_int_value (builder, (gint64)frame->seq);
      json_builder_set_member_name (builder, "time");
      json_builder_add_int_value (builder, frame->time_ms);
      json_builder_set_member_name (builder, "text");
      json_builder_add_string_value (builder, frame->text);
      break;

    case PH_FRAME_ACK:
      json_builder_set_member_name (builder, "id");
      json_builder_add_string_value (builder, frame->id);
      break;

    case PH_FRAME_TYPING:
      json_builder_set_member_name (builder, "active");
      json_builder_add_boolean_value (builder, frame->active);
      break;

    case PH_FRAME_BYE:
      if (frame->reason != NULL)
        {
          json_builder_set_member_name (builder, "reason");
          json_builder_add_string_value (builder, frame->reason);
        }
      break;

    case PH_FRAME_PING:
    case PH_FRAME_PONG:
      if (frame->ping_id != 0)
        {
          json_builder_set_member_name (builder, "id");
          json_builder_add_int_value (builder, (gint64)frame->ping_id);
        }
      break;

    case PH_FRAME_CONTACT_OFFER:
      json_builder_set_member_name (builder, "key");
      json_builder_add_string_value (builder, frame->public_key);
      json_builder_set_member_name (builder, "share");
      json_builder_add_string_value (builder, frame->share);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, frame->name);
      json_builder_set_member_name (builder, "signature");
      json_builder_add_string_value (builder, frame->signature);
      break;

    case PH_FRAME_PROBE:
      json_builder_set_member_name (builder, "id");
      json_builder_add_int_value (builder, (gint64)frame->probe_id);
      json_builder_set_member_name (builder, "ufrag");
      json_builder_add_string_value (builder, frame->ufrag);
      json_builder_set_member_name (builder, "pwd");
      json_builder_add_string_value (builder, frame->pwd);
      json_builder_set_member_name (builder, "candidates");
      json_builder_begin_array (builder);
      for (guint i = 0; frame->candidates[i] != NULL; i++)
        json_builder_add_string_value (builder, frame->candidates[i]);
      json_builder_end_array (builder);
      break;

    case PH_FRAME_RATCHET_BUNDLE:
      json_builder_set_member_name (builder, "bundle");
      json_builder_add_string_value (builder, frame->bundle);
      break;

    case PH_FRAME_UNKNOWN:
    default:
      g_assert_not_reached ();
    }
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

GBytes *
ph_frame_encode (const PhFrame *frame, GError **error)
{
  g_autoptr (JsonGenerator) generator = NULL;
  g_autoptr (JsonNode) root = NULL;
  GString *out;
  gsize json_length;

  g_return_val_if_fail (frame != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_outgoing (frame, error))
    return NULL;

  root = build_object (frame);
  generator = json_generator_new ();
  json_generator_set_root (generator, root);
  out = g_string_sized_new (PH_FRAME_LENGTH_PREFIX_SIZE + 64
                            + (frame->text != NULL ? strlen (frame->text) + 16 : 0));
  g_string_append_len (out, "\0\0\0\0", PH_FRAME_LENGTH_PREFIX_SIZE);
  json_generator_to_gstring (generator, out);

  json_length = out->len - PH_FRAME_LENGTH_PREFIX_SIZE;
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

static gboolean
get_ice_text (JsonObject *object, const char *member, char **out, GError **error)
{
  if (!get_string (object, "probe", member, TRUE, out, error))
    return FALSE;
  if (!is_ice_text (*out))
    {
      g_autofree char *problem = g_strdup_printf ("must be 1 to %d printable ASCII characters",
                                                  PH_FRAME_MAX_ICE_STRING_LENGTH);
      return member_error ("probe", member, problem, error);
    }
  return TRUE;
}

static gboolean
parse_probe (JsonObject *object, PhFrame *frame, GError **error)
{
  g_autoptr (GStrvBuilder) candidates = g_strv_builder_new ();
  JsonNode *node;
  JsonArray *array;

  node = get_member (object, "probe", "id", G_TYPE_INT64, "an integer (the probe's number)", TRUE,
                     error);
  if (node == NULL)
    return FALSE;
  if (json_node_get_int (node) < 1 || (guint64)json_node_get_int (node) > PH_FRAME_MAX_SEQ)
    return member_error ("probe", "id", "must be 1 to 2⁵³−1", error);
  frame->probe_id = json_node_get_int (node);

  if (!get_ice_text (object, "ufrag", &frame->ufrag, error)
      || !get_ice_text (object, "pwd", &frame->pwd, error))
    return FALSE;

  node = json_object_get_member (object, "candidates");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return member_error ("probe", "candidates", "must be an array of strings", error);
  array = json_node_get_array (node);
  if (json_array_get_length (array) > PH_FRAME_MAX_PROBE_CANDIDATES)
    {
      g_autofree char *problem
          = g_strdup_printf ("lists more than %d candidates", PH_FRAME_MAX_PROBE_CANDIDATES);
      return member_error ("probe", "candidates", problem, error);
    }
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);

      if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING
          || !is_ice_text (json_node_get_string (element)))
        return member_error ("probe", "candidates", "must be an array of candidate lines", error);
      g_strv_builder_add (candidates, json_node_get_string (element));
    }
  frame->candidates = g_strv_builder_end (candidates);
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
  else if (strcmp (type, "contact-offer") == 0)
    {
      frame = frame_new (PH_FRAME_CONTACT_OFFER);
      ok = get_string (object, "contact-offer", "key", TRUE, &frame->public_key, error)
           && get_string (object, "contact-offer", "share", TRUE, &frame->share, error)
           && get_string (object, "contact-offer", "name", TRUE, &frame->name, error)
           && get_string (object, "contact-offer", "signature", TRUE, &frame->signature, error);
    }
  else if (strcmp (type, "probe") == 0)
    {
      frame = frame_new (PH_FRAME_PROBE);
      ok = parse_probe (object, frame, error);
    }
  else if (strcmp (type, "ratchet-bundle") == 0)
    {
      frame = frame_new (PH_FRAME_RATCHET_BUNDLE);
      ok = get_string (object, "ratchet-bundle", "bundle", TRUE, &frame->bundle, error);
    }
  else
    frame = frame_new (PH_FRAME_UNKNOWN); /* from a newer peer: ignored, not an error */

  if (!ok)
    return NULL;

  return g_steal_pointer (&frame);
}

PhFrame *
ph_frame_parse (const char *json, gsize length, GError **error)
{
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
  /* Also what json-glib would accept silently: "\u0000" (which cuts a
   * string short) and data after the object. */
  if (!ph_json_guard_check (json, length, MAX_JSON_DEPTH,
                            PH_JSON_GUARD_ONE_OBJECT | PH_JSON_GUARD_NO_NUL, "The frame",
                            &json_error))
    {
      g_set_error_literal (error, PH_ERROR, PH_ERROR_INVALID_FRAME, json_error->message);
      return NULL;
    }

  /* Mutable for the same reason as the builder's. */
  parser = json_parser_new ();
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
