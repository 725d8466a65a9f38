/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Codes that failed on this machine (a wrong code, or a possible guess at
 * it): typing one again would hand whoever guessed another try, so a join
 * refuses it for a day. The store is a file,
 * $PINHOLE_STATE_DIR/burned-codes when that is set (tests), else
 * g_get_user_state_dir()/pinhole/burned-codes; it keeps a hash of the
 * server's URL and the canonical code, never the code itself. @now is in
 * seconds since 1970 (g_get_real_time () / G_USEC_PER_SEC). */

#define PH_BURNED_CODE_LIFETIME_SECONDS (24 * 60 * 60)

/* Remembers @code (canonical, as ph_code_parse gives it) as failed on the
 * rendezvous server at @server_url. A store that cannot be written is only
 * logged: the chat has failed already. */
void ph_burned_codes_add (const char *server_url, const char *code, gint64 now);
/* FALSE with PH_ERROR_BURNED_CODE when @code failed on @server_url within
 * PH_BURNED_CODE_LIFETIME_SECONDS of @now. */
gboolean ph_burned_codes_check (const char *server_url, const char *code, gint64 now,
                                GError **error);

G_END_DECLS
