/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Where a person types the code they were given. The code is checked as it
 * is typed, words are completed from Pinhole's word lists, and a code that
 * cannot be right says why under the entry.
 * Signals: "join" (const char *code): the canonical code to join. */

#define PH_TYPE_JOIN_PAGE (ph_join_page_get_type ())
G_DECLARE_FINAL_TYPE (PhJoinPage, ph_join_page, PH, JOIN_PAGE, GtkWidget)

GtkWidget *ph_join_page_new (void);
void ph_join_page_reset (PhJoinPage *self);
/* Shows @code in the entry with why it cannot be joined: @title and
 * @advice as ph_error_text_get() gives them. */
void ph_join_page_show_refusal (PhJoinPage *self, const char *code, const char *title,
                                const char *advice);
GtkEditable *ph_join_page_get_entry (PhJoinPage *self);
/* The error shown under the entry, or NULL. */
const char *ph_join_page_get_error (PhJoinPage *self);
/* The completions offered for the word being typed. */
GStrv ph_join_page_dup_suggestions (PhJoinPage *self);

G_END_DECLS
