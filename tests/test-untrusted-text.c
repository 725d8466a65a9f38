/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-untrusted-text"

#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "ph-untrusted-text.h"

/* What a hostile peer's text turns into before a person sees it. */

static void
test_terminal_escapes (void)
{
  const struct
  {
    const char *text;
    const char *shown;
  } cases[] = {
    { "hello, wörld", "hello, wörld" },
    /* Set the window title, clear the screen, ring the bell. */
    { "\x1b]0;pwned\x07\x1b[2J", "\\e]0;pwned\\u{7}\\e[2J" },
    /* A fake second line that looks like the peer left. */
    { "ok\nYour peer left the conversation.", "ok\\nYour peer left the conversation." },
    { "a\rb\tc\x7f", "a\\rb\\tc\\u{7F}" },
    /* C1 controls, CSI among them, as UTF-8. */
    { "x\xc2\x9b"
      "31mred",
      "x\\u{9B}31mred" },
    /* Right-to-left override and a zero-width space. */
    { "invoice\xe2\x80\xaeGPJ.exe\xe2\x80\x8b", "invoice\\u{202E}GPJ.exe\\u{200B}" },
    /* Invalid UTF-8 cannot smuggle a byte through. */
    { "bad\xff\x1b", "bad\xef\xbf\xbd\\e" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *shown = ph_untrusted_text_for_terminal (cases[i].text);

      g_assert_cmpstr (shown, ==, cases[i].shown);
      g_assert_null (strchr (shown, '\x1b'));
    }
}

static void
test_names (void)
{
  const char *refused[] = {
    "Bob\xe2\x80\xae",   /* right-to-left override */
    "Al\xe2\x80\x8bice", /* zero-width space */
    "Eve\xe2\x81\xa6",   /* left-to-right isolate */
    "\xef\xbb\xbf"
    "Carol", /* byte-order mark */
    "Dan\n",
    "\x1b[31mMallory",
    "bad\xff",
  };
  g_autoptr (GError) error = NULL;

  g_assert_true (ph_untrusted_text_check_name ("Zoë Ünal 李", &error));
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_assert_false (ph_untrusted_text_check_name (refused[i], &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      g_clear_error (&error);
    }
}

static void
test_clean_name (void)
{
  g_autofree char *a = ph_untrusted_text_clean_name ("Bob\xe2\x80\xae"
                                                     "exe.doc");
  g_autofree char *b = ph_untrusted_text_clean_name ("\x1b[31mMal\xe2\x80\x8blory");
  g_autofree char *c = ph_untrusted_text_clean_name ("Zoë");

  g_assert_cmpstr (a, ==, "Bobexe.doc");
  g_assert_cmpstr (b, ==, "[31mMallory");
  g_assert_cmpstr (c, ==, "Zoë");
}

/* A notification shows one line: breaks are spaces, the rest escaped. */
static void
test_one_line (void)
{
  const struct
  {
    const char *text;
    const char *shown;
  } cases[] = {
    { "Meet at 5\nBring the notes", "Meet at 5 Bring the notes" },
    { "a\r\tb", "a  b" },
    { "invoice\xe2\x80\xaeGPJ.exe", "invoice\\u{202E}GPJ.exe" },
    { "\x1b]0;pwned\x07", "\\e]0;pwned\\u{7}" },
    { "Zoë says hi", "Zoë says hi" },
    /* A joiner between emoji writes a family; between letters it hides. */
    { "\U0001F468\u200D\U0001F469\u200D\U0001F467", "\U0001F468\u200D\U0001F469\u200D\U0001F467" },
    { "\U0001F44D\U0001F3FD\u200D\u2642\uFE0F", "\U0001F44D\U0001F3FD\u200D\u2642\uFE0F" },
    { "pay\u200Dpal", "pay\\u{200D}pal" },
    { "\u200D\U0001F469", "\\u{200D}\U0001F469" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *shown = ph_untrusted_text_for_one_line (cases[i].text);

      g_assert_cmpstr (shown, ==, cases[i].shown);
    }
}

/* A host that is not ASCII reads as punycode, so "pаypal" with a
 * Cyrillic а cannot pass for PayPal; every other URL is left alone. */
static void
test_url_for_display (void)
{
  const struct
  {
    const char *url;
    const char *shown; /* NULL: not made a link */
  } cases[] = {
    { "https://p\xd0\xb0ypal.com", "https://xn--pypal-4ve.com" },
    { "https://p\xd0\xb0ypal.com/login?next=/", "https://xn--pypal-4ve.com/login?next=/" },
    { "https://user@p\xd0\xb0ypal.com:8443/a", "https://user@xn--pypal-4ve.com:8443/a" },
    { "https://b\xc3\xbc"
      "cher.example#top",
      "https://xn--bcher-kva.example#top" },
    { "https://example.org/notes", "https://example.org/notes" },
    { "https://Example.ORG:8080/Stra\xc3\x9f"
      "e",
      "https://Example.ORG:8080/Stra\xc3\x9f"
      "e" },
    { "http://[::1]:8080/", "http://[::1]:8080/" },
    { "ftp://files.example.net", "ftp://files.example.net" },
    /* Characters that hide or reorder what follows them. */
    { "https://example.org/\xe2\x80\xaegpj.exe", NULL },
    { "https://pay\xe2\x80\x8bpal.com", NULL },
    { "https://", NULL },
    { "example.org", NULL },
    { "https://bad\xff.com", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *shown = ph_untrusted_text_url_for_display (cases[i].url);

      g_assert_cmpstr (shown, ==, cases[i].shown);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/untrusted-text/terminal-escapes", test_terminal_escapes);
  g_test_add_func ("/untrusted-text/names", test_names);
  g_test_add_func ("/untrusted-text/clean-name", test_clean_name);
  g_test_add_func ("/untrusted-text/one-line", test_one_line);
  g_test_add_func ("/untrusted-text/url-for-display", test_url_for_display);
  return g_test_run ();
}
