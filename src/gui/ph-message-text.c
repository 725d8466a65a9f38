/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-message-text"

#include "config.h"

#include "ph-message-text.h"
#include "ph-untrusted-text.h"

/* A URL ends before trailing punctuation, so "see https://x.org." links
 * https://x.org. */
#define URL_PATTERN "\\b(?:https?|ftp)://[^\\s<>\"]*[^\\s<>\".,;:!?)\\]'”’]"

/* @text with its URLs as they are shown: as markup links, or as plain
 * text when @markup is FALSE. */
static char *
rewrite_urls (const char *text, gboolean markup)
{
  static GRegex *url_regex;
  g_autoptr (GMatchInfo) match = NULL;
  g_autoptr (GString) out = g_string_new (NULL);
  int copied = 0;

  if (g_once_init_enter (&url_regex))
    g_once_init_leave (&url_regex, g_regex_new (URL_PATTERN, G_REGEX_OPTIMIZE, 0, NULL));

  g_regex_match (url_regex, text, 0, &match);
  while (g_match_info_matches (match))
    {
      int start, end;
      g_autofree char *found = NULL;
      g_autofree char *url = NULL;

      g_match_info_fetch_pos (match, 0, &start, &end);
      found = g_strndup (text + start, end - start);
      url = ph_untrusted_text_url_for_display (found);
      if (url != NULL && markup)
        {
          g_autofree char *before = g_markup_escape_text (text + copied, start - copied);
          g_autofree char *escaped = g_markup_escape_text (url, -1);

          /* The link reads as where it goes: the same text is its target. */
          g_string_append_printf (out, "%s<a href=\"%s\">%s</a>", before, escaped, escaped);
          copied = end;
        }
      else if (url != NULL)
        {
          g_string_append_len (out, text + copied, start - copied);
          g_string_append (out, url);
          copied = end;
        }
      g_match_info_next (match, NULL);
    }

  if (markup)
    {
      g_autofree char *rest = g_markup_escape_text (text + copied, -1);

      g_string_append (out, rest);
    }
  else
    g_string_append (out, text + copied);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

char *
ph_message_text_to_markup (const char *text)
{
  g_return_val_if_fail (text != NULL, NULL);

  return rewrite_urls (text, TRUE);
}

char *
ph_message_text_to_one_line (const char *text)
{
  g_autofree char *plain = NULL;

  g_return_val_if_fail (text != NULL, NULL);

  plain = rewrite_urls (text, FALSE);
  return ph_untrusted_text_for_one_line (plain);
}
