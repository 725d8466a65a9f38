/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/* Who a request comes from, for limits. Behind a reverse proxy every
 * request comes from the proxy, so the server believes the proxy's
 * Forwarded or X-Forwarded-For header, but only when the connection
 * comes from an address the operator named (--trusted-proxy CIDR):
 * anyone else could write any address there. */

typedef struct _PhTrustedProxies PhTrustedProxies;

/* @cidrs: "10.0.0.0/8", "::1", … (NULL or empty: trust no one).
 * G_IO_ERROR_INVALID_ARGUMENT names the entry that does not parse. */
PhTrustedProxies *ph_trusted_proxies_new (const char *const *cidrs, GError **error);
void ph_trusted_proxies_free (PhTrustedProxies *self);
gboolean ph_trusted_proxies_contain (PhTrustedProxies *self, GInetAddress *address);

/* The client's address: @peer itself unless @peer is a trusted proxy;
 * then, walking the forwarding headers from the right, the first address
 * that is not a trusted proxy. A header that does not parse is ignored
 * from that hop leftwards. Never NULL. */
GInetAddress *ph_client_address_resolve (PhTrustedProxies *proxies, GInetAddress *peer,
                                         SoupMessageHeaders *headers);

/* The key limits count under: an IPv4 address as itself; an IPv6
 * address by its /64, which one subscriber usually holds whole, so that
 * walking through 2^64 addresses earns nothing. */
char *ph_client_address_limit_key (GInetAddress *address);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhTrustedProxies, ph_trusted_proxies_free)

G_END_DECLS
