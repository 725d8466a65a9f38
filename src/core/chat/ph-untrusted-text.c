/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-untrusted-text"

#include "config.h"

#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <string.h>

#include "ph-untrusted-text.h"

/* Characters that change how the text around them is laid out or hide
 * themselves: the "Trojan Source" set (CVE-2021-42574) plus zero-width
 * joiners, spaces and the byte-order mark. */
static gboolean
is_invisible_or_bidi (gunichar c)
{
  return c == 0x061C                     /* arabic letter mark */
         || (c >= 0x200B && c <= 0x200F) /* zero-width space … right-to-left mark */
         || (c >= 0x202A && c <= 0x202E) /* embeddings and overrides */
         || (c >= 0x2060 && c <= 0x2064) /* word joiner, invisible operators */
         || (c >= 0x2066 && c <= 0x2069) /* isolates */
         || c == 0xFEFF;                 /* zero-width no-break space */
}

static gboolean
is_control (gunichar c)
{
  return c < 0x20 || (c >= 0x7F && c <= 0x9F);
}

/* A part of an emoji sequence: a pictograph, a skin tone or the emoji
 * variation selector. */
static gboolean
is_emoji_part (gunichar c)
{
  return g_unichar_type (c) == G_UNICODE_OTHER_SYMBOL || (c >= 0x1F3FB && c <= 0x1F3FF)
         || c == 0xFE0F;
}

/* Whether the character at @p, within @text, hides itself or turns the
 * text around it. A zero-width joiner between two emoji is how families,
 * professions and flags are written (👨‍👩‍👧): that one is shown. */
static gboolean
is_hidden_at (const char *text, const char *p)
{
  gunichar c = g_utf8_get_char (p);
  const char *before;
  const char *after;

  if (c != 0x200D)
    return is_invisible_or_bidi (c);
  before = g_utf8_find_prev_char (text, p);
  after = g_utf8_next_char (p);
  return before == NULL || *after == '\0' || !is_emoji_part (g_utf8_get_char (before))
         || !is_emoji_part (g_utf8_get_char (after));
}

static void
append_escape (GString *out, gunichar c)
{
  switch (c)
    {
    case '\n':
      g_string_append (out, "\\n");
      break;
    case '\r':
      g_string_append (out, "\\r");
      break;
    case '\t':
      g_string_append (out, "\\t");
      break;
    case 0x1B:
      g_string_append (out, "\\e");
      break;
    default:
      g_string_append_printf (out, "\\u{%X}", c);
    }
}

/* With @one_line, line breaks and tabs are spaces instead of escapes. */
static char *
escape (const char *text, gboolean one_line)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  GString *out = g_string_sized_new (strlen (valid));

  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (one_line && (c == '\n' || c == '\r' || c == '\t'))
        g_string_append_c (out, ' ');
      else if (is_control (c) || is_hidden_at (valid, p))
        append_escape (out, c);
      else
        g_string_append_unichar (out, c);
    }
  return g_string_free (out, FALSE);
}

char *
ph_untrusted_text_for_terminal (const char *text)
{
  g_return_val_if_fail (text != NULL, NULL);

  return escape (text, FALSE);
}

char *
ph_untrusted_text_for_one_line (const char *text)
{
  g_return_val_if_fail (text != NULL, NULL);

  return escape (text, TRUE);
}

gboolean
ph_untrusted_text_check_name (const char *name, GError **error)
{
  g_return_val_if_fail (name != NULL, FALSE);

  if (!g_utf8_validate (name, -1, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s",
                   _ ("A name must be valid UTF-8."));
      return FALSE;
    }
  for (const char *p = name; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (is_control (c))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s",
                       _ ("A name cannot contain control characters."));
          return FALSE;
        }
      if (is_hidden_at (name, p))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       /* Translators: %04X is a Unicode code point such as 202E. */
                       _ ("A name cannot contain invisible or text-direction characters "
                          "(U+%04X)."),
                       c);
          return FALSE;
        }
    }
  return TRUE;
}

char *
ph_untrusted_text_clean_name (const char *name)
{
  g_autofree char *valid = NULL;
  GString *out;

  g_return_val_if_fail (name != NULL, NULL);

  valid = g_utf8_make_valid (name, -1);
  out = g_string_sized_new (strlen (valid));
  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (!is_control (c) && !is_hidden_at (valid, p))
        g_string_append_unichar (out, c);
    }
  return g_string_free (out, FALSE);
}

static gboolean
has_hidden_characters (const char *text)
{
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (is_control (c) || is_invisible_or_bidi (c))
        return TRUE;
    }
  return FALSE;
}

static gboolean
is_ascii (const char *start, const char *end)
{
  for (const char *p = start; p < end; p++)
    if ((guchar)*p >= 0x80)
      return FALSE;
  return TRUE;
}

char *
ph_untrusted_text_url_for_display (const char *url)
{
  const char *authority, *authority_end, *host, *host_end;
  g_autofree char *unicode_host = NULL;
  g_autofree char *ascii_host = NULL;
  g_autofree char *before_host = NULL;

  g_return_val_if_fail (url != NULL, NULL);

  if (!g_utf8_validate (url, -1, NULL) || has_hidden_characters (url))
    return NULL;
  authority = strstr (url, "://");
  if (authority == NULL)
    return NULL;
  authority += strlen ("://");
  authority_end = authority + strcspn (authority, "/?#");

  /* The host follows the user information, if any, and ends at the port. */
  host = authority;
  for (const char *p = authority; p < authority_end; p++)
    if (*p == '@')
      host = p + 1;
  host_end = memchr (host, ':', authority_end - host);
  if (host_end == NULL || *host == '[')
    host_end = authority_end;
  if (host_end == host)
    return NULL;
  if (is_ascii (host, host_end))
    return g_strdup (url);

  unicode_host = g_strndup (host, host_end - host);
  ascii_host = g_hostname_to_ascii (unicode_host);
  if (ascii_host == NULL)
    return NULL;
  before_host = g_strndup (url, host - url);
  return g_strconcat (before_host, ascii_host, host_end, NULL);
}
