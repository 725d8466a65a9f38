/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* An invite code: "<nameplate>-<word>-<word>", e.g. "42-orbit-velvet".
 * The first word comes from one list of 256, the second from another,
 * so a code carries 16 bits of secret beside its public nameplate. */

#define PH_CODE_WORDS_PER_LIST 256
#define PH_CODE_MAX_NAMEPLATE_DIGITS 6

const char *const *ph_code_get_first_words (void);
const char *const *ph_code_get_second_words (void);

/* A fresh code for @nameplate with two random words. */
char *ph_code_generate (const char *nameplate);

/* Parses what a person typed: surrounding space, upper case and spaces
 * between the parts are forgiven. On success sets the canonical form
 * ("42-orbit-velvet") and the nameplate ("42"). A misspelt word gives
 * PH_ERROR_INVALID_CODE with a suggestion ("Did you mean “orbit”?"). */
gboolean ph_code_parse (const char *text, char **out_nameplate, char **out_canonical,
                        GError **error);

/* Overwrites a code in memory, then frees it: a code stays secret after
 * its chat (it is all a guesser needs while the mailbox lives). */
void ph_code_wipe (char *code);

typedef char PhCodeText;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhCodeText, ph_code_wipe)

/* Words from the list a code's word at @position (0 or 1) comes from that
 * start with @prefix (case-insensitive), in list order; for completion. */
GStrv ph_code_complete (guint position, const char *prefix);

G_END_DECLS
