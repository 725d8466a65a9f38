/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* TURN credentials in coturn's shared-secret scheme (`use-auth-secret`,
 * the "TURN REST API"): the user name carries its own expiry time, and the
 * password is an HMAC of it, so coturn can check both without a database. */

char *ph_turn_credentials_make_username (gint64 expires_at_unix, const char *id);
char *ph_turn_credentials_make_credential (const char *secret, const char *username);

G_END_DECLS
