/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Text a peer or a server chose (messages, names, error sentences) is
 * shown to a person only through these, so it cannot move the cursor,
 * recolour a terminal, reverse what follows it or hide characters. */

/* A copy of @text for a terminal: C0 and C1 controls (ESC among them),
 * DEL, and bidirectional and zero-width characters are written as
 * visible escapes (\e, \n, \u{202E}); invalid UTF-8 becomes U+FFFD. */
char *ph_untrusted_text_for_terminal (const char *text);

/* A copy of @text for one line a person reads outside the chat (a
 * notification): line breaks and tabs become spaces, and every other
 * character ph_untrusted_text_for_terminal() escapes is escaped the same
 * way. */
char *ph_untrusted_text_for_one_line (const char *text);

/* Whether @name may be a display name: valid UTF-8 without controls,
 * bidirectional controls or zero-width characters. The error says which. */
gboolean ph_untrusted_text_check_name (const char *name, GError **error);

/* @name without the characters ph_untrusted_text_check_name() refuses,
 * for a peer's name that arrived anyway. */
char *ph_untrusted_text_clean_name (const char *name);

/* @url as a link may show it: a host that is not ASCII is written in
 * punycode (g_hostname_to_ascii(): "https://p\u0430ypal.com" becomes
 * "https://xn--pypal-4ve.com"), so a letter from another script cannot
 * pass for the Latin one it looks like; other URLs come back unchanged.
 * NULL when @url has no scheme://host, its host is not a valid name, or
 * it holds controls, bidirectional or zero-width characters: such text is
 * not made a link. */
char *ph_untrusted_text_url_for_display (const char *url);

G_END_DECLS
