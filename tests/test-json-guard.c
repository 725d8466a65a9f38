/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-json-guard"

#include "config.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "ph-json-guard.h"

/* The guard in front of json-glib, whose parser recurses once per bracket
 * and whose scanner is more lenient than JSON. */

#define SUBJECT "The text"
#define RANDOM_INPUTS 100000
#define RANDOM_DEPTH 2

/* Checks @json from a buffer of exactly its length, so that a read past
 * the end shows under valgrind or ASan. */
static gboolean
check (const char *json, gsize length, guint max_depth, PhJsonGuardFlags flags, GError **error)
{
  g_autofree char *copy = g_memdup2 (json, length);

  return ph_json_guard_check (copy, length, max_depth, flags, SUBJECT, error);
}

static void
assert_passes (const char *json, guint max_depth, PhJsonGuardFlags flags)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *shown = g_strescape (json, NULL);

  g_test_message ("passes: %s", shown);
  g_assert_true (check (json, strlen (json), max_depth, flags, &error));
  g_assert_no_error (error);
}

/* Refused, with a sentence that names the subject and mentions @reason. */
static void
assert_refused (const char *json, gsize length, guint max_depth, PhJsonGuardFlags flags,
                const char *reason)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *head = g_strndup (json, MIN (length, 60));
  g_autofree char *shown = g_strescape (head, NULL);

  g_test_message ("refused: %s", shown);
  g_assert_false (check (json, length, max_depth, flags, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  g_assert_true (g_str_has_prefix (error->message, SUBJECT " "));
  if (strstr (error->message, reason) == NULL)
    g_error ("“%s” does not mention “%s”", error->message, reason);
}

static char *
nest (guint depth, const char *inner)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < depth; i++)
    g_string_append_c (s, i % 2 == 0 ? '[' : '{');
  g_string_append (s, inner);
  for (guint i = depth; i > 0; i--)
    g_string_append (s, (i - 1) % 2 == 0 ? "]" : "\"k\":1}");
  return g_string_free (s, FALSE);
}

static void
test_strict_json (void)
{
  const char *const valid[] = {
    "{}",
    "[]",
    " \t\r\n{ \"a\" : [ 1, -2.5e+3, 0.1E-2, true, false, null ] }\n",
    "{\"type\":\"msg\",\"text\":\"héllo 🙂 世界\"}",
    "{\"e\":\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"}",
    "{\"u\":\"\\u00e9\\u00E9\\uffff\\u0041\"}",
    "{\"pair\":\"\\ud83d\\ude42\\uDBFF\\uDFFF\"}",
    /* Anything but a quote or a backslash, raw, in a string. */
    "{\"raw\":\"' / # /* // x \x01 \x7f\"}",
    "\"just a string\"",
    "42",
    "",
  };

  for (guint i = 0; i < G_N_ELEMENTS (valid); i++)
    assert_passes (valid[i], 2, PH_JSON_GUARD_DEFAULT);
}

/* Brackets in strings do not count, nor do escaped quotes end a string;
 * an escaped backslash does not escape the quote after it. */
static void
test_strings_do_not_count (void)
{
  g_autofree char *brackets = g_strnfill (10000, '[');
  g_autofree char *in_string = g_strdup_printf ("{\"a\":\"%s\",\"b\":\"]]]}}}\"}", brackets);
  g_autofree char *after_escaped_quote
      = g_strdup_printf ("{\"a\":\"\\\"%s\\\"\",\"b\":1}", brackets);
  g_autofree char *after_escaped_backslash = g_strdup_printf ("[\"\\\\\",%s", brackets);
  g_autofree char *run = g_strnfill (40, '[');
  g_autofree char *long_runs = g_strdup_printf ("[\"%s\\\"%s\\\"%s\\\\\"]", run, run, run);
  g_autofree char *long_runs_then_deep = g_strdup_printf ("[\"%s\\\"%s\\\"%s\",[[", run, run, run);

  assert_passes (in_string, 1, PH_JSON_GUARD_DEFAULT);
  /* Long runs, for which the next quote is looked up ahead, with escaped
   * quotes between them: the string ends at none of those. */
  assert_passes (long_runs, 1, PH_JSON_GUARD_DEFAULT);
  assert_refused (long_runs_then_deep, strlen (long_runs_then_deep), 2, PH_JSON_GUARD_DEFAULT,
                  "more than 2");
  assert_passes (after_escaped_quote, 1, PH_JSON_GUARD_DEFAULT);
  assert_passes ("{\"a\":\"\\u005b\\u007b\"}", 1, PH_JSON_GUARD_DEFAULT);
  /* The quote after "\\" ends the string: the brackets after it count. */
  assert_refused (after_escaped_backslash, strlen (after_escaped_backslash), 1,
                  PH_JSON_GUARD_DEFAULT, "more than 1 levels deep");
}

static void
test_depth_exact (void)
{
  const guint limits[] = { 0, 1, 2, 8, 16, 32 };

  for (guint i = 0; i < G_N_ELEMENTS (limits); i++)
    {
      g_autofree char *at_limit = nest (limits[i], "\"[{\"");
      g_autofree char *over = nest (limits[i] + 1, "");
      g_autofree char *reason = g_strdup_printf ("nests JSON more than %u levels deep", limits[i]);

      assert_passes (at_limit, limits[i], PH_JSON_GUARD_DEFAULT);
      assert_refused (over, strlen (over), limits[i], PH_JSON_GUARD_DEFAULT, reason);
    }

  /* Depth is how many are open, not how many there are. */
  assert_passes ("[[1],[2],{\"a\":[3]},[[]]]", 3, PH_JSON_GUARD_DEFAULT);
  assert_refused ("[[1],[2],{\"a\":[3]},[[[]]]]", strlen ("[[1],[2],{\"a\":[3]},[[[]]]]"), 3,
                  PH_JSON_GUARD_DEFAULT, "more than 3");
  /* Stray closers do not buy depth. */
  assert_refused ("]]]][[", 6, 1, PH_JSON_GUARD_DEFAULT, "more than 1");
}

static void
test_very_deep (void)
{
  const gsize n = 1000000;
  g_autofree char *brackets = g_strnfill (n, '[');
  g_autofree char *braces = g_strnfill (n, '{');

  assert_refused (brackets, n, 32, PH_JSON_GUARD_DEFAULT, "more than 32 levels deep");
  assert_refused (braces, n, 16, PH_JSON_GUARD_ONE_OBJECT, "more than 16 levels deep");
}

static void
test_forbidden_bytes (void)
{
  const struct
  {
    const char *json;
    gsize length;
    const char *reason;
  } cases[] = {
    { "{'a':1}", 7, "has “'” outside a string at offset 1" },
    { "{\"a\":1 /* c */}", 15, "“/” outside a string at offset 7" },
    { "{\"a\":1 # c\n}", 12, "“#”" },
    { "{\"a\":0x10}", 10, "“x”" },
    { "{b:1}", 5, "“b” outside a string at offset 1" },
    { "{\"a\":1}\0", 8, "the byte 0x00 outside a string at offset 7" },
    { "\xef\xbb\xbf{}", 5, "the byte 0xEF" },
    { "{\"a\":\xc3\xa9}", 8, "0xC3" },
    { "{\"a\":\x01}", 7, "0x01" },
    { "{\"a\":1}\x0b", 8, "0x0B" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    assert_refused (cases[i].json, cases[i].length, 8, PH_JSON_GUARD_DEFAULT, cases[i].reason);
}

static void
test_escapes (void)
{
  const char *const invalid[] = {
    "{\"a\":\"\\q\"}",
    "{\"a\":\"\\'\"}",
    "{\"a\":\"\\U0041\"}",
    "{\"a\":\"\\u12G4\"}",
    "{\"a\":\"\\u1\"}\"}",
    /* A lone surrogate, a low one first, a high one with no low. */
    "{\"a\":\"\\ud800x\"}",
    "{\"a\":\"\\ud800\"}",
    "{\"a\":\"\\udc00\\ud800\"}",
    "{\"a\":\"\\udfff\"}",
    "{\"a\":\"\\ud800\\u0041\"}",
    "{\"a\":\"\\ud800\\ud800\"}",
    "{\"a\":\"\\ud800\\n\"}",
    "{\"a\":\"\\ud800\\uDC0\"}\"}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (invalid); i++)
    assert_refused (invalid[i], strlen (invalid[i]), 8, PH_JSON_GUARD_DEFAULT,
                    "has an invalid escape in a string at offset 6");

  {
    const char with_nul[] = "{\"a\":\"\\\0\"}";

    assert_refused (with_nul, sizeof with_nul - 1, 8, PH_JSON_GUARD_DEFAULT, "invalid escape");
  }
}

/* Each way json-glib 1.6.6 finds a string where a bracket counter does
 * not, followed by the stack overflow it hid: the guard refuses them all.
 * tests/test-frame.c sends the same to the frame parser. */
static void
test_json_glib_leniency (void)
{
  const struct
  {
    const char *head;
    const char *reason;
  } cases[] = {
    /* Single quotes: json-glib reads '"' as a string. */
    { "{\"a\":'\"',\"a\":", "“'” outside a string at offset 5" },
    /* A comment holding a quote. */
    { "{\"a\":1 /*\"*/,\"a\":", "“/” outside a string at offset 7" },
    /* "\u1" takes the quote after it as a hex digit. */
    { "{\"a\":\"\\u1\"\",\"a\":", "invalid escape in a string at offset 6" },
    /* After a surrogate json-glib reads six more bytes, quote or not. */
    { "{\"a\":\"\\udc00\"\",\"a\":", "invalid escape in a string at offset 6" },
    { "{\"a\":\"\\ud800\\u\"\",\"a\":", "invalid escape in a string at offset 6" },
  };
  g_autofree char *brackets = g_strnfill (200000, '[');

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *json = g_strconcat (cases[i].head, brackets, NULL);

      assert_refused (json, strlen (json), 16, PH_JSON_GUARD_DEFAULT, cases[i].reason);
    }
}

static void
assert_prefixes_pass (const char *json, PhJsonGuardFlags flags)
{
  gsize length = strlen (json);

  for (gsize n = 1; n <= length; n++)
    {
      g_autoptr (GError) error = NULL;

      if (!check (json, n, 4, flags, &error))
        g_error ("The first %zu bytes of %s were refused: %s", n, json, error->message);
    }
}

/* Input that ends early is fine so far, wherever it ends (json-glib says
 * it is cut short), and the guard reads no byte past the end. */
static void
test_truncated (void)
{
  g_autoptr (GError) error = NULL;

  assert_prefixes_pass ("{\"a\":[\"x\\\"y\",\"\\u00e9\\ud83d\\ude42\\n\"],\"b\":{\"c\":-1.5e3}}",
                        PH_JSON_GUARD_ONE_OBJECT | PH_JSON_GUARD_NO_NUL);
  assert_prefixes_pass ("[[[[\"\\", PH_JSON_GUARD_DEFAULT);

  g_assert_true (check ("", 0, 0, PH_JSON_GUARD_DEFAULT, &error));
  g_assert_no_error (error);
  g_assert_true (ph_json_guard_check (NULL, 0, 0, PH_JSON_GUARD_DEFAULT, SUBJECT, &error));
  g_assert_no_error (error);
  /* What is there is still checked. */
  assert_refused ("{\"a\":\"\\u1\"", 10, 4, PH_JSON_GUARD_DEFAULT, "invalid escape");
  assert_refused ("[[[[[", 5, 4, PH_JSON_GUARD_DEFAULT, "more than 4");
}

static void
test_one_object (void)
{
  const struct
  {
    const char *json;
    const char *reason;
  } cases[] = {
    { "", "is not a JSON object" },
    { " \n ", "is not a JSON object" },
    { "[{}]", "is not a JSON object" },
    { "\"{}\"", "is not a JSON object" },
    { "null", "is not a JSON object" },
    { "{}{}", "has data after its JSON object" },
    { "{\"a\":[1]} ,", "has data after its JSON object" },
    { "{\"a\":\"}\"}}", "has data after its JSON object" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    assert_refused (cases[i].json, strlen (cases[i].json), 8, PH_JSON_GUARD_ONE_OBJECT,
                    cases[i].reason);

  assert_passes (" \r\n{\"a\":{\"b\":[]}} \t\n", 8, PH_JSON_GUARD_ONE_OBJECT);
  /* Without the flag, json-glib decides. */
  assert_passes ("{}{}", 8, PH_JSON_GUARD_DEFAULT);
}

static void
test_no_nul (void)
{
  assert_refused ("{\"a\":\"x\\u0000y\"}", strlen ("{\"a\":\"x\\u0000y\"}"), 8,
                  PH_JSON_GUARD_NO_NUL, "contains a NUL character (\\u0000)");
  assert_passes ("{\"a\":\"x\\u0000y\"}", 8, PH_JSON_GUARD_DEFAULT);
  /* An escaped backslash, then the text u0000. */
  assert_passes ("{\"a\":\"x\\\\u0000y\"}", 8, PH_JSON_GUARD_NO_NUL);
  assert_passes ("{\"a\":\"\\u0001\\u0100\"}", 8, PH_JSON_GUARD_NO_NUL);
}

/* Random JSON whose strings hold what matters to both scanners: quotes,
 * backslashes, the escapes json-glib reads too far, brackets. */
static void
append_random_value (GRand *rand, GString *json, guint depth)
{
  static const char *const pieces[] = {
    "\"", "\\", "\\\"", "\\\\", "\\u", "\\u1", "\\u0041", "\\ud800", "\\udc00", "\\ud800\\udc00",
    "'",  "/*", "*/",   "[",    "]",   "{",    "}",       ",",       ":",       "a",
    " ",
  };
  guint kind = g_rand_int_range (rand, 0, depth < 5 ? 6 : 3);
  guint n = g_rand_int_range (rand, 0, 4);

  switch (kind)
    {
    case 0:
      g_string_append (json, "1");
      break;
    case 1:
    case 2: /* json-glib's own: 'single-quoted' */
      {
        char quote = kind == 1 ? '"' : '\'';

        g_string_append_c (json, quote);
        for (guint i = 0; i < n; i++)
          g_string_append (json, pieces[g_rand_int_range (rand, 0, G_N_ELEMENTS (pieces))]);
        g_string_append_c (json, quote);
      }
      break;
    case 3: /* and a comment before a value */
      g_string_append (json, "/*");
      for (guint i = 0; i < n; i++)
        g_string_append (json, pieces[g_rand_int_range (rand, 0, G_N_ELEMENTS (pieces))]);
      g_string_append (json, "*/");
      append_random_value (rand, json, depth);
      break;
    case 4:
      g_string_append_c (json, '[');
      for (guint i = 0; i < n; i++)
        {
          if (i > 0)
            g_string_append_c (json, ',');
          append_random_value (rand, json, depth + 1);
        }
      g_string_append_c (json, ']');
      break;
    default:
      g_string_append_c (json, '{');
      for (guint i = 0; i < n; i++)
        {
          if (i > 0)
            g_string_append_c (json, ',');
          append_random_value (rand, json, 5); /* a key: a string or 1 */
          g_string_append_c (json, ':');
          append_random_value (rand, json, depth + 1);
        }
      g_string_append_c (json, '}');
      break;
    }
}

static guint
node_depth (JsonNode *node)
{
  guint deepest = 0;

  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        deepest = MAX (deepest, node_depth (json_array_get_element (array, i)));
      return deepest + 1;
    }
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      g_autoptr (GList) members = json_object_get_values (json_node_get_object (node));

      for (GList *l = members; l != NULL; l = l->next)
        deepest = MAX (deepest, node_depth (l->data));
      return deepest + 1;
    }
  return 0;
}

/* Whenever the guard passes a text and json-glib builds a tree from it,
 * the tree is no deeper than the guard allowed: both found the same
 * strings. */
static void
test_agrees_with_json_glib (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (0x6a5d);
  guint parsed = 0;

  for (guint i = 0; i < RANDOM_INPUTS; i++)
    {
      g_autoptr (GString) json = g_string_new (NULL);
      g_autoptr (JsonParser) parser = NULL;

      append_random_value (rand, json, 0);
      if (!check (json->str, json->len, RANDOM_DEPTH, PH_JSON_GUARD_DEFAULT, NULL))
        continue;
      parser = json_parser_new ();
      if (!json_parser_load_from_data (parser, json->str, (gssize)json->len, NULL)
          || json_parser_get_root (parser) == NULL)
        continue;

      parsed++;
      if (node_depth (json_parser_get_root (parser)) > RANDOM_DEPTH)
        {
          g_autofree char *shown = g_strescape (json->str, NULL);

          g_error ("json-glib parsed %s deeper than the guard allowed", shown);
        }
    }

  g_test_message ("%u of %u random texts passed and parsed", parsed, RANDOM_INPUTS);
  g_assert_cmpuint (parsed, >, RANDOM_INPUTS / 100);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/json-guard/strict-json", test_strict_json);
  g_test_add_func ("/json-guard/strings-do-not-count", test_strings_do_not_count);
  g_test_add_func ("/json-guard/depth-exact", test_depth_exact);
  g_test_add_func ("/json-guard/very-deep", test_very_deep);
  g_test_add_func ("/json-guard/forbidden-bytes", test_forbidden_bytes);
  g_test_add_func ("/json-guard/escapes", test_escapes);
  g_test_add_func ("/json-guard/json-glib-leniency", test_json_glib_leniency);
  g_test_add_func ("/json-guard/truncated", test_truncated);
  g_test_add_func ("/json-guard/one-object", test_one_object);
  g_test_add_func ("/json-guard/no-nul", test_no_nul);
  g_test_add_func ("/json-guard/agrees-with-json-glib", test_agrees_with_json_glib);

  return g_test_run ();
}
