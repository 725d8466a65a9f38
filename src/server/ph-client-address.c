/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-client-address"

#include "config.h"

#include <string.h>

#include "ph-client-address.h"

struct _PhTrustedProxies
{
  GPtrArray *masks; /* GInetAddressMask */
};

/* For "10.0.0.1/8", which GInetAddressMask refuses for its host bits:
 * "10.0.0.0/8", the block the operator most likely meant. NULL when
 * @cidr is no address and length at all. */
static char *
block_meant (const char *cidr)
{
  const char *slash = strchr (cidr, '/');
  g_autofree char *text = NULL;
  g_autoptr (GInetAddress) address = NULL;
  g_autoptr (GInetAddress) network = NULL;
  g_autofree char *network_text = NULL;
  guint8 bytes[16];
  gsize size;
  guint64 length;

  if (slash == NULL)
    return NULL;
  text = g_strndup (cidr, (gsize)(slash - cidr));
  address = g_inet_address_new_from_string (text);
  if (address == NULL)
    return NULL;
  size = g_inet_address_get_native_size (address);
  if (!g_ascii_string_to_unsigned (slash + 1, 10, 0, size * 8, &length, NULL))
    return NULL;

  memcpy (bytes, g_inet_address_to_bytes (address), size);
  for (gsize i = 0; i < size; i++)
    {
      guint kept = (guint)CLAMP ((gint64)length - (gint64)i * 8, 0, 8);

      bytes[i] &= (guint8)(0xff00 >> kept);
    }
  network = g_inet_address_new_from_bytes (bytes, g_inet_address_get_family (address));
  network_text = g_inet_address_to_string (network);
  return g_strdup_printf ("%s/%" G_GUINT64_FORMAT, network_text, length);
}

PhTrustedProxies *
ph_trusted_proxies_new (const char *const *cidrs, GError **error)
{
  g_autoptr (GPtrArray) masks = g_ptr_array_new_with_free_func (g_object_unref);
  PhTrustedProxies *self;

  for (guint i = 0; cidrs != NULL && cidrs[i] != NULL; i++)
    {
      g_autoptr (GError) local_error = NULL;
      GInetAddressMask *mask = g_inet_address_mask_new_from_string (cidrs[i], &local_error);

      if (mask == NULL)
        {
          g_autofree char *meant = block_meant (cidrs[i]);

          if (meant != NULL)
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                         "--trusted-proxy %s has bits set past its prefix length; write the "
                         "block as %s",
                         cidrs[i], meant);
          else
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                         "--trusted-proxy %s is not an address or CIDR block (like 10.0.0.0/8)",
                         cidrs[i]);
          return NULL;
        }
      g_ptr_array_add (masks, mask);
    }
  self = g_new0 (PhTrustedProxies, 1);
  self->masks = g_steal_pointer (&masks);
  return self;
}

void
ph_trusted_proxies_free (PhTrustedProxies *self)
{
  if (self == NULL)
    return;
  g_ptr_array_unref (self->masks);
  g_free (self);
}

/* ::ffff:192.0.2.1, as a dual-stack socket reports an IPv4 client
 * (g_inet_address_get_is_ipv4_mapped is GLib 2.76). */
static GInetAddress *
unmap_ipv4 (GInetAddress *address)
{
  static const guint8 mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  const guint8 *bytes;

  if (g_inet_address_get_family (address) != G_SOCKET_FAMILY_IPV6)
    return g_object_ref (address);
  bytes = g_inet_address_to_bytes (address);
  if (memcmp (bytes, mapped_prefix, sizeof mapped_prefix) != 0)
    return g_object_ref (address);
  return g_inet_address_new_from_bytes (bytes + 12, G_SOCKET_FAMILY_IPV4);
}

gboolean
ph_trusted_proxies_contain (PhTrustedProxies *self, GInetAddress *address)
{
  g_autoptr (GInetAddress) plain = NULL;

  if (self == NULL || self->masks->len == 0)
    return FALSE;
  plain = unmap_ipv4 (address);
  for (guint i = 0; i < self->masks->len; i++)
    if (g_inet_address_mask_matches (self->masks->pdata[i], plain))
      return TRUE;
  return FALSE;
}

/* One hop of either header: "192.0.2.1", "192.0.2.1:8080", "[2001:db8::1]",
 * "[2001:db8::1]:443" or a bare IPv6 address. Obfuscated identifiers and
 * "unknown" (RFC 7239) are not addresses: NULL. */
static GInetAddress *
parse_hop (const char *text)
{
  g_autofree char *hop = g_strstrip (g_strdup (text));
  char *end;

  if (hop[0] == '"')
    {
      gsize length = strlen (hop);

      if (length < 2 || hop[length - 1] != '"')
        return NULL;
      hop[length - 1] = '\0';
      memmove (hop, hop + 1, length - 1);
    }
  if (hop[0] == '[')
    {
      end = strchr (hop, ']');
      if (end == NULL || (end[1] != '\0' && end[1] != ':'))
        return NULL;
      *end = '\0';
      return g_inet_address_new_from_string (hop + 1);
    }
  /* Only IPv4 carries a port after a single colon. */
  end = strchr (hop, ':');
  if (end != NULL && strchr (end + 1, ':') == NULL)
    *end = '\0';
  return g_inet_address_new_from_string (hop);
}

/* The addresses in the "for" parameters of a Forwarded header, or in an
 * X-Forwarded-For list, leftmost first, from the right of the last hop
 * that is not an address: what stands left of it cannot be followed, and
 * a client could write junk there itself to be counted as the proxy. */
static void
collect_hops (const char *header, gboolean forwarded, GPtrArray *hops)
{
  g_auto (GStrv) elements = g_strsplit (header, ",", -1);

  for (guint i = 0; elements[i] != NULL; i++)
    {
      GInetAddress *address = NULL;

      if (forwarded)
        {
          g_auto (GStrv) pairs = g_strsplit (elements[i], ";", -1);

          for (guint j = 0; pairs[j] != NULL; j++)
            {
              char *pair = g_strstrip (pairs[j]);

              if (g_ascii_strncasecmp (pair, "for=", 4) == 0)
                {
                  address = parse_hop (pair + 4);
                  break;
                }
            }
        }
      else
        address = parse_hop (elements[i]);
      if (address == NULL)
        g_ptr_array_set_size (hops, 0);
      else
        g_ptr_array_add (hops, address);
    }
}

GInetAddress *
ph_client_address_resolve (PhTrustedProxies *proxies, GInetAddress *peer,
                           SoupMessageHeaders *headers)
{
  g_autoptr (GPtrArray) hops = g_ptr_array_new_with_free_func (g_object_unref);
  const char *forwarded;
  const char *forwarded_for;
  GInetAddress *client = peer;

  g_return_val_if_fail (G_IS_INET_ADDRESS (peer), NULL);

  if (!ph_trusted_proxies_contain (proxies, peer) || headers == NULL)
    return unmap_ipv4 (peer);

  /* Forwarded is the standard (RFC 7239); a proxy that sets it is the
   * newer one, so it wins over X-Forwarded-For. */
  forwarded = soup_message_headers_get_list (headers, "Forwarded");
  forwarded_for = soup_message_headers_get_list (headers, "X-Forwarded-For");
  if (forwarded != NULL)
    collect_hops (forwarded, TRUE, hops);
  else if (forwarded_for != NULL)
    collect_hops (forwarded_for, FALSE, hops);

  /* From the right: each trusted proxy vouches for the hop before it. */
  for (guint i = hops->len; i > 0; i--)
    {
      client = hops->pdata[i - 1];
      if (!ph_trusted_proxies_contain (proxies, client))
        break;
    }
  return unmap_ipv4 (client);
}

char *
ph_client_address_limit_key (GInetAddress *address)
{
  g_autoptr (GInetAddress) plain = NULL;
  guint8 prefix[16] = { 0 };
  g_autoptr (GInetAddress) network = NULL;
  g_autofree char *text = NULL;

  g_return_val_if_fail (G_IS_INET_ADDRESS (address), NULL);

  plain = unmap_ipv4 (address);
  if (g_inet_address_get_family (plain) == G_SOCKET_FAMILY_IPV4)
    return g_inet_address_to_string (plain);
  memcpy (prefix, g_inet_address_to_bytes (plain), 8);
  network = g_inet_address_new_from_bytes (prefix, G_SOCKET_FAMILY_IPV6);
  text = g_inet_address_to_string (network);
  return g_strconcat (text, "/64", NULL);
}
