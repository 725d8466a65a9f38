/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-post-reader"

#include "config.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "ph-json-escape.h"
#include "ph-json-guard.h"
#include "ph-post-reader.h"

/* Every post is a small flat object of ASCII strings, and json-glib's
 * parser (a scanner, a tree of nodes, a hash table per object) was a
 * tenth of the server's time per post. The simple reader below takes
 * exactly that shape: an object whose members are all strings of printable
 * ASCII with no \u escapes, each of side, phase and body at most once.
 * Anything else (other values, nesting, \u escapes, other bytes, repeated
 * members, odd input) goes to json-glib behind the JSON guard, so both
 * read every body the same way: tests/test-server.c checks them against
 * each other, and fuzz/fuzz-post-reader.c on whatever the fuzzer makes. */

typedef struct
{
  const char *p;
  const char *end;
} Reader;

static gboolean
is_json_space (char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void
skip_space (Reader *r)
{
  while (r->p < r->end && is_json_space (*r->p))
    r->p++;
}

/* Reads a string literal into @out (emptied first). */
static gboolean
read_simple_string (Reader *r, GString *out)
{
  const char *run;

  g_string_truncate (out, 0);
  if (r->p >= r->end || *r->p != '"')
    return FALSE;
  run = ++r->p;
  while (r->p < r->end)
    {
      guchar c = *r->p;
      char escaped;

      if (c == '"')
        {
          g_string_append_len (out, run, r->p - run);
          r->p++;
          return TRUE;
        }
      if (c < 0x20 || c > 0x7e)
        return FALSE;
      if (c != '\\')
        {
          r->p++;
          continue;
        }

      if (r->end - r->p < 2)
        return FALSE;
      escaped = ph_json_unescape_short (r->p[1]);
      if (escaped == '\0')
        return FALSE; /* \u and anything else: json-glib */
      g_string_append_len (out, run, r->p - run);
      g_string_append_c (out, escaped);
      r->p += 2;
      run = r->p;
    }
  return FALSE;
}

/* Keeps @value as *@slot, unless the member came before. */
static gboolean
take_member (char **slot, GString *value)
{
  if (*slot != NULL)
    return FALSE;
  *slot = g_strndup (value->str, value->len);
  return TRUE;
}

static gboolean
read_simple_post (const char *json, gsize length, PhPost *post)
{
  g_autoptr (GString) name = g_string_sized_new (16);
  g_autoptr (GString) value = g_string_sized_new (64);
  Reader r = { json, json + length };

  skip_space (&r);
  if (r.p >= r.end || *r.p++ != '{')
    return FALSE;
  skip_space (&r);
  if (r.p < r.end && *r.p == '}')
    r.p++;
  else
    for (;;)
      {
        gboolean ok = TRUE;

        if (!read_simple_string (&r, name))
          return FALSE;
        skip_space (&r);
        if (r.p >= r.end || *r.p++ != ':')
          return FALSE;
        skip_space (&r);
        if (!read_simple_string (&r, value))
          return FALSE;

        /* A name with a NUL in it (from "\u0000") never gets here. */
        if (strcmp (name->str, "side") == 0)
          ok = take_member (&post->side, value);
        else if (strcmp (name->str, "phase") == 0)
          ok = take_member (&post->phase, value);
        else if (strcmp (name->str, "body") == 0)
          ok = take_member (&post->body, value);
        if (!ok)
          return FALSE;

        skip_space (&r);
        if (r.p >= r.end)
          return FALSE;
        if (*r.p == '}')
          {
            r.p++;
            break;
          }
        if (*r.p++ != ',')
          return FALSE;
        skip_space (&r);
      }

  skip_space (&r);
  return r.p == r.end;
}

static char *
dup_string_member (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return g_strdup (json_node_get_string (node));
}

gboolean
ph_post_read (const char *json, gsize length, PhPost *out_post, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) guard_error = NULL;
  JsonObject *object;
  JsonNode *root;

  g_return_val_if_fail (json != NULL || length == 0, FALSE);
  g_return_val_if_fail (out_post != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  memset (out_post, 0, sizeof *out_post);
  if (length == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "The request body is not valid JSON.");
      return FALSE;
    }

  if (read_simple_post (json, length, out_post))
    return TRUE;
  ph_post_clear (out_post);

  /* The fast path takes nothing nested or lenient, so the guard is paid
   * only here. */
  if (!ph_json_guard_check (json, length, PH_POST_MAX_JSON_DEPTH, PH_JSON_GUARD_DEFAULT,
                            "The request body", &guard_error))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s.", guard_error->message);
      return FALSE;
    }

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, json, (gssize)length, NULL))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "The request body is not valid JSON.");
      return FALSE;
    }

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "The request body must be a JSON object.");
      return FALSE;
    }

  object = json_node_get_object (root);
  out_post->side = dup_string_member (object, "side");
  out_post->phase = dup_string_member (object, "phase");
  out_post->body = dup_string_member (object, "body");
  return TRUE;
}

void
ph_post_clear (PhPost *post)
{
  g_clear_pointer (&post->side, g_free);
  g_clear_pointer (&post->phase, g_free);
  g_clear_pointer (&post->body, g_free);
}
