/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A peer's message as the app shows it. Every URL in it reads as
 * ph_untrusted_text_url_for_display() writes it (a host that is not ASCII
 * in punycode), in the chat and wherever a line of it is previewed, so a
 * look-alike host cannot pass for another anywhere; a URL that function
 * refuses stays plain text. */

/* Pango markup for @text with every URL a link to what it reads. */
char *ph_message_text_to_markup (const char *text);
/* @text on one line, for the sidebar or a notification: URLs as in the
 * chat, then ph_untrusted_text_for_one_line(). */
char *ph_message_text_to_one_line (const char *text);

G_END_DECLS
