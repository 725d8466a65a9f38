/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Which STUN server `nat-check` tests against when none is named: the one
 * the rendezvous server at @rendezvous_url offers. Finishes with its
 * "host:port", or PH_ERROR_FAILED when the server offers none (or
 * PH_ERROR_RENDEZVOUS_UNREACHABLE and the like when it cannot be asked). */
void ph_nat_check_find_server_async (const char *rendezvous_url, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data);
char *ph_nat_check_find_server_finish (GAsyncResult *result, GError **error);

G_END_DECLS
