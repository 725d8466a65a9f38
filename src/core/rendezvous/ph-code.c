/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-code"

#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>
#include <sodium.h>

#include "ph-code.h"
#include "ph-error.h"

#define EXAMPLE_CODE "42-orbit-velvet"
#define MAX_SUGGESTION_DISTANCE 2
/* Longer than any word in the lists plus MAX_SUGGESTION_DISTANCE. */
#define MAX_COMPARED_WORD_LENGTH 16

static void
ensure_sodium (void)
{
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      /* Fails only when the system has no usable randomness; no code could
       * be made safely then. */
      if (sodium_init () < 0)
        g_error ("libsodium could not be initialised");
      g_once_init_leave (&initialized, 1);
    }
}

static const char *const *
get_words (guint position)
{
  g_assert (position <= 1);

  return position == 0 ? ph_code_get_first_words () : ph_code_get_second_words ();
}

static const char *
find_word (const char *const *words, const char *word)
{
  for (guint i = 0; words[i] != NULL; i++)
    {
      if (strcmp (words[i], word) == 0)
        return words[i];
    }
  return NULL;
}

/* Optimal string alignment distance: a swap of two neighbouring letters
 * counts as one typo, as it does for a person. */
static guint
typo_distance (const char *a, const char *b)
{
  gsize la = strlen (a);
  gsize lb = strlen (b);
  guint d[MAX_COMPARED_WORD_LENGTH + 1][MAX_COMPARED_WORD_LENGTH + 1];

  g_assert (la <= MAX_COMPARED_WORD_LENGTH && lb <= MAX_COMPARED_WORD_LENGTH);

  for (gsize i = 0; i <= la; i++)
    d[i][0] = i;
  for (gsize j = 0; j <= lb; j++)
    d[0][j] = j;

  for (gsize i = 1; i <= la; i++)
    {
      for (gsize j = 1; j <= lb; j++)
        {
          guint cost = a[i - 1] == b[j - 1] ? 0 : 1;
          guint best = MIN (d[i - 1][j] + 1, d[i][j - 1] + 1);

          best = MIN (best, d[i - 1][j - 1] + cost);
          if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
            best = MIN (best, d[i - 2][j - 2] + 1);
          d[i][j] = best;
        }
    }

  return d[la][lb];
}

/* The closest word within MAX_SUGGESTION_DISTANCE typos, the first in list
 * order on a tie, or NULL. */
static const char *
suggest_word (const char *const *words, const char *typed)
{
  gsize typed_length = strlen (typed);
  const char *best = NULL;
  guint best_distance = MAX_SUGGESTION_DISTANCE + 1;

  if (typed_length > MAX_COMPARED_WORD_LENGTH)
    return NULL;

  for (guint i = 0; words[i] != NULL; i++)
    {
      gsize length = strlen (words[i]);
      guint distance;

      if (MAX (length, typed_length) - MIN (length, typed_length) > MAX_SUGGESTION_DISTANCE)
        continue;

      distance = typo_distance (typed, words[i]);
      if (distance < best_distance)
        {
          best = words[i];
          best_distance = distance;
        }
    }

  return best;
}

static gboolean
is_separator (char c)
{
  return c == '-' || g_ascii_isspace (c);
}

/* Everything but ASCII letters, digits and separators is refused up front,
 * so every error below can quote what was typed. */
static gboolean
check_characters (const char *text, GError **error)
{
  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, PH_ERROR, PH_ERROR_INVALID_CODE,
                   /* Translators: %s is an example code such as 42-orbit-velvet. */
                   _ ("A code has only letters, digits and dashes, like %s."), EXAMPLE_CODE);
      return FALSE;
    }

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      if (!g_ascii_isalnum (*p) && !is_separator (*p))
        {
          char character[8] = { 0 };

          g_unichar_to_utf8 (g_utf8_get_char (p), character);
          g_set_error (error, PH_ERROR, PH_ERROR_INVALID_CODE,
                       /* Translators: the first %s is the character that was typed, the second an
                        * example code such as 42-orbit-velvet. */
                       _ ("“%s” cannot be part of a code. A code has only letters, digits and "
                          "dashes, like %s."),
                       character, EXAMPLE_CODE);
          return FALSE;
        }
    }

  return TRUE;
}

static gboolean
check_nameplate (const char *nameplate, GError **error)
{
  gsize length = strlen (nameplate);

  for (gsize i = 0; i < length; i++)
    {
      if (!g_ascii_isdigit (nameplate[i]))
        {
          g_set_error (error, PH_ERROR, PH_ERROR_INVALID_CODE,
                       /* Translators: the first %s is the example code 42-orbit-velvet, the second
                        * what was typed where the number belongs. */
                       _ ("A code starts with a number, like the 42 in %s, not “%s”."),
                       EXAMPLE_CODE, nameplate);
          return FALSE;
        }
    }

  if (nameplate[0] == '0')
    {
      g_set_error (error, PH_ERROR, PH_ERROR_INVALID_CODE,
                   /* Translators: %s is the number at the start of a code, such as 042. */
                   _ ("The number “%s” cannot start with 0. Type the code as it was shown."),
                   nameplate);
      return FALSE;
    }

  if (length > PH_CODE_MAX_NAMEPLATE_DIGITS)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_INVALID_CODE,
                   g_dngettext (GETTEXT_PACKAGE,
                                /* Translators: %s is the number at the start of a code as typed. */
                                "The number “%s” is too long for a code: it has at most %d digit.",
                                "The number “%s” is too long for a code: it has at most %d digits.",
                                PH_CODE_MAX_NAMEPLATE_DIGITS),
                   nameplate, PH_CODE_MAX_NAMEPLATE_DIGITS);
      return FALSE;
    }

  return TRUE;
}

/* The word at @position (0 or 1) in the list it must come from, or an
 * error that says what is wrong with it. */
static const char *
lookup_word (guint position, const char *typed, GError **error)
{
  const char *word = find_word (get_words (position), typed);
  const char *suggestion;

  if (word != NULL)
    return word;

  if (find_word (get_words (1 - position), typed) != NULL)
    {
      if (position == 0)
        g_set_error (error, PH_ERROR, PH_ERROR_INVALID_CODE,
                     /* Translators: the first %s is a word of a code as typed, the second an
                      * example code such as 42-orbit-velvet. */
                     _ ("“%s” belongs at the end of a code, not in the middle. A code looks like "
                        "%s."),
                     typed, EXAMPLE_CODE);
      else
        g_set_error (error, PH_ERROR, PH_ERROR_INVALID_CODE,
                     /* Translators: the first %s is a word of a code as typed, the second an
                      * example code such as 42-orbit-velvet. */
                     _ ("“%s” belongs in the middle of a code, not at the end. A code looks like "
                        "%s."),
                     typed, EXAMPLE_CODE);
      return NULL;
    }

  suggestion = suggest_word (get_words (position), typed);
  if (suggestion != NULL)
    g_set_error (error, PH_ERROR, PH_ERROR_INVALID_CODE,
                 /* Translators: the first %s is a word as typed, the second the word of a code it
                  * most likely was meant to be. */
                 _ ("“%s” is not a word Pinhole uses. Did you mean “%s”?"), typed, suggestion);
  else
    g_set_error (error, PH_ERROR, PH_ERROR_INVALID_CODE,
                 /* Translators: %s is a word of a code as typed. */
                 _ ("“%s” is not a word Pinhole uses. Check the code with the person who made it."),
                 typed);
  return NULL;
}

char *
ph_code_generate (const char *nameplate)
{
  const char *const *first = ph_code_get_first_words ();
  const char *const *second = ph_code_get_second_words ();

  g_return_val_if_fail (nameplate != NULL, NULL);
  g_return_val_if_fail (check_nameplate (nameplate, NULL), NULL);

  ensure_sodium ();

  return g_strdup_printf ("%s-%s-%s", nameplate,
                          first[randombytes_uniform (PH_CODE_WORDS_PER_LIST)],
                          second[randombytes_uniform (PH_CODE_WORDS_PER_LIST)]);
}

gboolean
ph_code_parse (const char *text, char **out_nameplate, char **out_canonical, GError **error)
{
  g_autofree char *lowered = NULL;
  const char *parts[3];
  guint n_parts = 0;
  const char *first;
  const char *second;
  char *p;

  g_return_val_if_fail (text != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_characters (text, error))
    return FALSE;

  lowered = g_ascii_strdown (text, -1);

  /* Split in place on runs of dashes and spaces. */
  p = lowered;
  while (*p != '\0')
    {
      while (is_separator (*p))
        *p++ = '\0';
      if (*p == '\0')
        break;

      if (n_parts == G_N_ELEMENTS (parts))
        {
          g_set_error (error, PH_ERROR, PH_ERROR_INVALID_CODE,
                       /* Translators: %s is an example code such as 42-orbit-velvet. */
                       _ ("This code has too many parts. A code has three parts, like %s."),
                       EXAMPLE_CODE);
          return FALSE;
        }
      parts[n_parts++] = p;

      while (*p != '\0' && !is_separator (*p))
        p++;
    }

  if (n_parts == 0)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_INVALID_CODE,
                   /* Translators: %s is an example code such as 42-orbit-velvet. */
                   _ ("The code is empty. Type the code you were given, like %s."), EXAMPLE_CODE);
      return FALSE;
    }

  if (n_parts < G_N_ELEMENTS (parts))
    {
      g_set_error (error, PH_ERROR, PH_ERROR_INVALID_CODE,
                   /* Translators: %s is an example code such as 42-orbit-velvet. */
                   _ ("This code is missing a part. A code has three parts, like %s."),
                   EXAMPLE_CODE);
      return FALSE;
    }

  if (!check_nameplate (parts[0], error))
    return FALSE;

  /* Both words swapped is a likely slip; say so rather than name one word. */
  if (find_word (ph_code_get_second_words (), parts[1]) != NULL
      && find_word (ph_code_get_first_words (), parts[2]) != NULL)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_INVALID_CODE,
                   /* Translators: the three %s make up the code with its words swapped back, such
                    * as 42-orbit-velvet. */
                   _ ("The words are in the wrong order. Did you mean “%s-%s-%s”?"), parts[0],
                   parts[2], parts[1]);
      return FALSE;
    }

  first = lookup_word (0, parts[1], error);
  if (first == NULL)
    return FALSE;
  second = lookup_word (1, parts[2], error);
  if (second == NULL)
    return FALSE;

  if (out_nameplate != NULL)
    *out_nameplate = g_strdup (parts[0]);
  if (out_canonical != NULL)
    *out_canonical = g_strdup_printf ("%s-%s-%s", parts[0], first, second);
  return TRUE;
}

GStrv
ph_code_complete (guint position, const char *prefix)
{
  g_autoptr (GStrvBuilder) builder = NULL;
  g_autofree char *lowered = NULL;
  const char *const *words;
  gsize prefix_length;

  g_return_val_if_fail (position <= 1, NULL);
  g_return_val_if_fail (prefix != NULL, NULL);

  words = get_words (position);
  lowered = g_ascii_strdown (prefix, -1);
  prefix_length = strlen (lowered);
  builder = g_strv_builder_new ();

  for (guint i = 0; words[i] != NULL; i++)
    {
      if (strncmp (words[i], lowered, prefix_length) == 0)
        g_strv_builder_add (builder, words[i]);
    }

  return g_strv_builder_end (builder);
}

void
ph_code_wipe (char *code)
{
  if (code == NULL)
    return;
  sodium_memzero (code, strlen (code));
  g_free (code);
}
