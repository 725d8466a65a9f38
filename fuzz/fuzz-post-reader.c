/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-fuzz-post-reader"

#include "config.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <stdint.h>

#include "ph-json-guard.h"
#include "ph-post-reader.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* What json-glib makes of member @name of @object, as the reader should. */
static const char *
string_member (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* The server's reader of request bodies has a fast path of its own beside
 * json-glib: on every input it must decide as json-glib behind the JSON
 * guard does (a JSON object, or an error) and read the same side, phase
 * and body. The guard comes first here too, or a deep input would crash
 * this check rather than find a bug. */
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_auto (PhPost) post = { 0 };
  g_autoptr (GError) error = NULL;
  gboolean json_ok;
  gboolean read_ok;
  JsonNode *root;
  JsonObject *object;

  json_ok = size > 0
            && ph_json_guard_check ((const char *)data, size, PH_POST_MAX_JSON_DEPTH,
                                    PH_JSON_GUARD_DEFAULT, "The body", NULL)
            && json_parser_load_from_data (parser, (const char *)data, (gssize)size, NULL);
  root = json_ok ? json_parser_get_root (parser) : NULL;
  json_ok = root != NULL && JSON_NODE_HOLDS_OBJECT (root);

  read_ok = ph_post_read ((const char *)data, size, &post, &error);
  if (read_ok != json_ok)
    g_error ("The post reader %s a body that json-glib %s.", read_ok ? "accepted" : "rejected",
             json_ok ? "accepts" : "rejects");
  if (!read_ok)
    {
      g_assert (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA));
      g_assert (post.side == NULL && post.phase == NULL && post.body == NULL);
      return 0;
    }

  g_assert (error == NULL);
  object = json_node_get_object (root);
  g_assert_cmpstr (post.side, ==, string_member (object, "side"));
  g_assert_cmpstr (post.phase, ==, string_member (object, "phase"));
  g_assert_cmpstr (post.body, ==, string_member (object, "body"));
  return 0;
}
