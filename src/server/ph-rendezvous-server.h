/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The rendezvous server: the v1 HTTP API (docs/protocol.md) on a
 * SoupServer. Its mailboxes and rate limit are objects of their own (a
 * PhStore, a PhRateLimiter) given as the "store" and "limiter" construct
 * properties, each configured on its own; without them the server makes
 * them with their defaults (the store in memory). The server's own limits (body
 * size, holds, waiting polls, client timeout) are construct-only
 * properties with sane defaults. */

#define PH_TYPE_RENDEZVOUS_SERVER (ph_rendezvous_server_get_type ())
G_DECLARE_FINAL_TYPE (PhRendezvousServer, ph_rendezvous_server, PH, RENDEZVOUS_SERVER, GObject)

PhRendezvousServer *ph_rendezvous_server_new (void);
gboolean ph_rendezvous_server_listen (PhRendezvousServer *self, GInetAddress *address, guint port,
                                      GError **error);
guint ph_rendezvous_server_get_port (PhRendezvousServer *self);
char *ph_rendezvous_server_get_url (PhRendezvousServer *self);
guint ph_rendezvous_server_get_waiting_polls (PhRendezvousServer *self);

G_END_DECLS
