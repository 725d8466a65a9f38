/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-client-address"

#include "config.h"

#include <string.h>

#include "ph-client-address.h"

/* Which address a request is counted under: spoofing a forwarding header
 * from anywhere but a trusted proxy changes nothing. */

static char *
resolve (const char *const *trusted, const char *peer, const char *header, const char *value)
{
  g_autoptr (PhTrustedProxies) proxies = NULL;
  g_autoptr (GInetAddress) peer_address = g_inet_address_new_from_string (peer);
  g_autoptr (SoupMessageHeaders) headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  g_autoptr (GInetAddress) client = NULL;
  g_autoptr (GError) error = NULL;

  proxies = ph_trusted_proxies_new (trusted, &error);
  g_assert_no_error (error);
  g_assert_nonnull (peer_address);
  if (header != NULL)
    soup_message_headers_append (headers, header, value);
  client = ph_client_address_resolve (proxies, peer_address, headers);
  return g_inet_address_to_string (client);
}

#define ASSERT_RESOLVES(trusted, peer, header, value, expected)                                    \
  G_STMT_START                                                                                     \
  {                                                                                                \
    g_autofree char *got = resolve (trusted, peer, header, value);                                 \
    g_assert_cmpstr (got, ==, expected);                                                           \
  }                                                                                                \
  G_STMT_END

static void
test_untrusted_peer_is_the_client (void)
{
  const char *none[] = { NULL };
  const char *proxy[] = { "127.0.0.1", NULL };

  /* Anyone can write the header: it is ignored unless a proxy wrote it. */
  ASSERT_RESOLVES (none, "198.51.100.7", "X-Forwarded-For", "203.0.113.1", "198.51.100.7");
  ASSERT_RESOLVES (proxy, "198.51.100.7", "X-Forwarded-For", "203.0.113.1", "198.51.100.7");
  ASSERT_RESOLVES (proxy, "198.51.100.7", "Forwarded", "for=203.0.113.1", "198.51.100.7");
  ASSERT_RESOLVES (none, "::ffff:198.51.100.7", NULL, NULL, "198.51.100.7");
}

static void
test_trusted_proxy_forwards (void)
{
  const char *proxy[] = { "127.0.0.0/8", "2001:db8:ff::/48", NULL };

  ASSERT_RESOLVES (proxy, "127.0.0.1", "X-Forwarded-For", "203.0.113.1", "203.0.113.1");
  ASSERT_RESOLVES (proxy, "::ffff:127.0.0.1", "X-Forwarded-For", "203.0.113.1", "203.0.113.1");
  /* A client that sends its own X-Forwarded-For gets it kept on the left
   * by the proxy: the rightmost untrusted hop is the real client. */
  ASSERT_RESOLVES (proxy, "127.0.0.1", "X-Forwarded-For", "6.6.6.6, 203.0.113.1", "203.0.113.1");
  ASSERT_RESOLVES (proxy, "127.0.0.1", "X-Forwarded-For", "203.0.113.1, 127.0.0.2", "203.0.113.1");
  ASSERT_RESOLVES (proxy, "127.0.0.1", "Forwarded",
                   "for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\";proto=https",
                   "2001:db8:cafe::17");
  ASSERT_RESOLVES (proxy, "2001:db8:ff::1", "Forwarded", "for=203.0.113.9:5000;by=x",
                   "203.0.113.9");
  /* Nothing but the proxy: the proxy is who asked. */
  ASSERT_RESOLVES (proxy, "127.0.0.1", NULL, NULL, "127.0.0.1");
}

static void
test_malformed_headers_fall_back_to_the_proxy (void)
{
  const char *proxy[] = { "127.0.0.1", NULL };
  const char *bad[] = { "",        "unknown",      "203.0.113.1 junk", "[2001:db8::1", "for=",
                        "_hidden", "203.0.113.1;", "\"203.0.113.1",    "999.1.1.1",    "::1]:80" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      ASSERT_RESOLVES (proxy, "127.0.0.1", "X-Forwarded-For", bad[i], "127.0.0.1");
      ASSERT_RESOLVES (proxy, "127.0.0.1", "Forwarded", bad[i], "127.0.0.1");
    }
}

static void
test_bad_cidr_is_refused (void)
{
  const char *bad[] = { "10.0.0.0/33", NULL };
  const char *junk[] = { "proxy.example", NULL };
  g_autoptr (GError) error = NULL;

  g_assert_null (ph_trusted_proxies_new (bad, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "10.0.0.0/33"));
  g_clear_error (&error);
  g_assert_null (ph_trusted_proxies_new (junk, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

static void
test_limit_keys (void)
{
  const struct
  {
    const char *address;
    const char *key;
  } cases[] = {
    { "198.51.100.7", "198.51.100.7" },
    { "::ffff:198.51.100.7", "198.51.100.7" },
    { "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64" },
    { "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64" },
    { "2001:db8:1:3::1", "2001:db8:1:3::/64" },
    { "::1", "::/64" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GInetAddress) address = g_inet_address_new_from_string (cases[i].address);
      g_autofree char *key = ph_client_address_limit_key (address);

      g_assert_cmpstr (key, ==, cases[i].key);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/client-address/untrusted-peer-is-the-client",
                   test_untrusted_peer_is_the_client);
  g_test_add_func ("/client-address/trusted-proxy-forwards", test_trusted_proxy_forwards);
  g_test_add_func ("/client-address/malformed-headers-fall-back-to-the-proxy",
                   test_malformed_headers_fall_back_to_the_proxy);
  g_test_add_func ("/client-address/bad-cidr-is-refused", test_bad_cidr_is_refused);
  g_test_add_func ("/client-address/limit-keys", test_limit_keys);
  return g_test_run ();
}
