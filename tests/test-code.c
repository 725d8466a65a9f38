/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-code"

#include "config.h"

#include <string.h>

#include "ph-code.h"
#include "ph-error.h"

static void
assert_valid_list (const char *const *words)
{
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  guint n = 0;

  for (; words[n] != NULL; n++)
    {
      gsize length = strlen (words[n]);

      g_assert_cmpuint (length, >=, 4);
      g_assert_cmpuint (length, <=, 8);
      for (gsize i = 0; i < length; i++)
        g_assert_true (words[n][i] >= 'a' && words[n][i] <= 'z');
      g_assert_true (g_hash_table_add (seen, (gpointer)words[n]));
    }
  g_assert_cmpuint (n, ==, PH_CODE_WORDS_PER_LIST);

  /* No word is a prefix of another, so completion narrows to one word. */
  for (guint i = 0; words[i] != NULL; i++)
    {
      for (guint j = 0; words[j] != NULL; j++)
        {
          if (i != j)
            g_assert_false (g_str_has_prefix (words[j], words[i]));
        }
    }
}

static void
test_word_lists (void)
{
  const char *const *first = ph_code_get_first_words ();
  const char *const *second = ph_code_get_second_words ();

  assert_valid_list (first);
  assert_valid_list (second);

  for (guint i = 0; first[i] != NULL; i++)
    g_assert_false (g_strv_contains (second, first[i]));
}

static void
test_generate_parse_round_trip (void)
{
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < 2000; i++)
    {
      g_autofree char *nameplate = g_strdup_printf ("%u", 1 + i * 487 % 999999);
      g_autofree char *code = ph_code_generate (nameplate);
      g_autofree char *parsed_nameplate = NULL;
      g_autofree char *canonical = NULL;
      g_auto (GStrv) parts = g_strsplit (code, "-", -1);
      g_autoptr (GError) error = NULL;

      g_assert_cmpuint (g_strv_length (parts), ==, 3);
      g_assert_cmpstr (parts[0], ==, nameplate);
      g_assert_true (g_strv_contains (ph_code_get_first_words (), parts[1]));
      g_assert_true (g_strv_contains (ph_code_get_second_words (), parts[2]));

      g_assert_true (ph_code_parse (code, &parsed_nameplate, &canonical, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (parsed_nameplate, ==, nameplate);
      g_assert_cmpstr (canonical, ==, code);

      g_hash_table_add (seen, g_strdup_printf ("%s-%s", parts[1], parts[2]));
    }

  /* Words are drawn at random: 2000 draws from 65,536 pairs repeat rarely
   * (about 30 collisions expected); a broken generator repeats far more. */
  g_assert_cmpuint (g_hash_table_size (seen), >, 1900);
}

static void
test_forgiving_input (void)
{
  const char *inputs[] = {
    "42-orbit-velvet",   "42 orbit velvet",     " 42-Orbit-VELVET ", "42 - orbit - velvet",
    "42--orbit--velvet", "\t42 orbit-velvet\n", "42-ORBIT velvet",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (inputs); i++)
    {
      g_autofree char *nameplate = NULL;
      g_autofree char *canonical = NULL;
      g_autoptr (GError) error = NULL;

      g_autofree char *shown = g_strescape (inputs[i], NULL);

      g_test_message ("input: \"%s\"", shown);
      g_assert_true (ph_code_parse (inputs[i], &nameplate, &canonical, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (nameplate, ==, "42");
      g_assert_cmpstr (canonical, ==, "42-orbit-velvet");
    }
}

static void
test_largest_nameplate (void)
{
  g_autofree char *nameplate = NULL;

  g_assert_true (ph_code_parse ("999999-acorn-zipper", &nameplate, NULL, NULL));
  g_assert_cmpstr (nameplate, ==, "999999");
}

typedef struct
{
  const char *input;
  const char *hint;
} Malformed;

static void
test_malformed (void)
{
  const Malformed cases[] = {
    { "", "empty" },
    { "   ", "empty" },
    { " - -", "empty" },
    { "42", "three parts, like 42-orbit-velvet" },
    { "42-orbit", "three parts, like 42-orbit-velvet" },
    { "orbit-velvet", "three parts, like 42-orbit-velvet" },
    { "42-orbit-velvet-extra", "too many parts" },
    { "x42-orbit-velvet", "starts with a number" },
    { "orbit-42-velvet", "starts with a number" },
    { "042-orbit-velvet", "cannot start with 0" },
    { "0-orbit-velvet", "cannot start with 0" },
    { "1234567-orbit-velvet", "at most 6 digits" },
    { "42-orbt-velvet", "“orbt” is not a word Pinhole uses. Did you mean “orbit”?" },
    { "42-obrit-velvet", "Did you mean “orbit”?" },
    { "42-orbit-velvte", "Did you mean “velvet”?" },
    { "42-orbit-velvetz", "Did you mean “velvet”?" },
    { "42-ORBT-velvet", "“orbt” is not a word Pinhole uses" },
    { "42-qqqqqq-velvet", "“qqqqqq” is not a word Pinhole uses. Check the code" },
    { "42-orbit-abcdefghijklmnopqrstuvwxyz", "Check the code" },
    { "42-velvet-orbit", "wrong order. Did you mean “42-orbit-velvet”?" },
    { "42-velvet-velvet", "“velvet” belongs at the end" },
    { "42-orbit-orbit", "“orbit” belongs in the middle" },
    { "42-orbit-velvet.", "“.” cannot be part of a code" },
    { "42_orbit_velvet", "“_” cannot be part of a code" },
    { "42-orbït-velvet", "“ï” cannot be part of a code" },
    { "42-orbit-velvet\xff", "only letters, digits and dashes" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *nameplate = NULL;
      g_autofree char *canonical = NULL;
      g_autoptr (GError) error = NULL;

      g_autofree char *shown = g_strescape (cases[i].input, NULL);

      g_test_message ("input: \"%s\"", shown);
      g_assert_false (ph_code_parse (cases[i].input, &nameplate, &canonical, &error));
      g_assert_error (error, PH_ERROR, PH_ERROR_INVALID_CODE);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      g_assert_nonnull (strstr (error->message, cases[i].hint));
      g_assert_null (nameplate);
      g_assert_null (canonical);
    }
}

static void
test_complete (void)
{
  g_auto (GStrv) all_first = ph_code_complete (0, "");
  g_auto (GStrv) all_second = ph_code_complete (1, "");
  g_auto (GStrv) orb = ph_code_complete (0, "ORB");
  g_auto (GStrv) vel = ph_code_complete (1, "vel");
  g_auto (GStrv) velvet_in_first = ph_code_complete (0, "velv");
  g_auto (GStrv) none = ph_code_complete (1, "qq");
  g_auto (GStrv) ca = ph_code_complete (0, "ca");

  g_assert_cmpuint (g_strv_length (all_first), ==, PH_CODE_WORDS_PER_LIST);
  g_assert_cmpuint (g_strv_length (all_second), ==, PH_CODE_WORDS_PER_LIST);
  g_assert_cmpstrv (orb, ((const char *const[]){ "orbit", NULL }));
  g_assert_cmpstrv (vel, ((const char *const[]){ "velvet", NULL }));
  g_assert_cmpuint (g_strv_length (velvet_in_first), ==, 0);
  g_assert_cmpuint (g_strv_length (none), ==, 0);

  /* Several matches come back in list order, each with the prefix. */
  g_assert_cmpuint (g_strv_length (ca), >, 1);
  for (guint i = 0; ca[i] != NULL; i++)
    {
      g_assert_true (g_str_has_prefix (ca[i], "ca"));
      if (i > 0)
        g_assert_cmpint (strcmp (ca[i - 1], ca[i]), <, 0);
    }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/code/word-lists", test_word_lists);
  g_test_add_func ("/code/generate-parse-round-trip", test_generate_parse_round_trip);
  g_test_add_func ("/code/forgiving-input", test_forgiving_input);
  g_test_add_func ("/code/largest-nameplate", test_largest_nameplate);
  g_test_add_func ("/code/malformed", test_malformed);
  g_test_add_func ("/code/complete", test_complete);

  return g_test_run ();
}
