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

/* Whether @name may be a display name: valid UTF-8 without controls,
 * bidirectional controls or zero-width characters. The error says which. */
gboolean ph_untrusted_text_check_name (const char *name, GError **error);

/* @name without the characters ph_untrusted_text_check_name() refuses,
 * for a peer's name that arrived anyway. */
char *ph_untrusted_text_clean_name (const char *name);

G_END_DECLS
