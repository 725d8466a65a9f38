/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-ice-config"

#include "config.h"

#include <string.h>

#include "ph-error.h"
#include "ph-ice-config.h"

static void
test_stun_good (void)
{
  static const struct
  {
    const char *input;
    const char *host;
    guint port;
  } cases[] = {
    { "stun.example.org", "stun.example.org", 3478 },
    { "stun.example.org:19302", "stun.example.org", 19302 },
    { "stun:stun.example.org", "stun.example.org", 3478 },
    { "STUN:stun.example.org:5349", "stun.example.org", 5349 },
    { "192.0.2.7:3479", "192.0.2.7", 3479 },
    { "[2001:db8::1]:3480", "2001:db8::1", 3480 },
    { "[2001:db8::1]", "2001:db8::1", 3478 },
    { "stun:[::1]:65535", "::1", 65535 },
    { "2001:db8::5", "2001:db8::5", 3478 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (PhIceConfig) config = ph_ice_config_new ();
      g_autoptr (GError) error = NULL;

      g_test_message ("%s", cases[i].input);
      g_assert_true (ph_ice_config_set_stun (config, cases[i].input, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (config->stun_host, ==, cases[i].host);
      g_assert_cmpuint (config->stun_port, ==, cases[i].port);
    }
}

static void
test_stun_bad (void)
{
  static const char *cases[] = {
    "",
    "stun:",
    ":3478",
    "host:",
    "host:0",
    "host:65536",
    "host:-1",
    "host:+80",
    "host:12ab",
    "[2001:db8::1",
    "[not-an-address]:3478",
    "[2001:db8::1]x",
    "stuns:stun.example.org",
    "turn:stun.example.org",
    "stun:host?transport=udp",
    "user@host",
    "host name",
    "-host",
    "12:34:zz",
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (PhIceConfig) config = ph_ice_config_new ();
      g_autoptr (GError) error = NULL;

      g_test_message ("%s", cases[i]);
      g_assert_false (ph_ice_config_set_stun (config, cases[i], &error));
      g_assert_error (error, PH_ERROR, PH_ERROR_FAILED);
      /* The message names what was given, so a person can find it. */
      g_assert_nonnull (strstr (error->message, cases[i]));
      g_assert_null (config->stun_host);
    }
}

static void
test_turn_good (void)
{
  g_autoptr (PhIceConfig) config = ph_ice_config_new ();
  g_autoptr (PhIceConfig) copy = NULL;
  g_autoptr (GError) error = NULL;
  PhTurnServer *server;

  g_assert_true (ph_ice_config_add_turn (config, "turn:turn.example.org", "u", "p", &error));
  g_assert_true (ph_ice_config_add_turn (config, "turn:192.0.2.9:3479?transport=tcp", "user",
                                         "secret", &error));
  g_assert_true (
      ph_ice_config_add_turn (config, "TURN:[2001:db8::9]:5000?transport=UDP", "u2", "", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (config->turn_servers->len, ==, 3);

  server = g_ptr_array_index (config->turn_servers, 0);
  g_assert_cmpstr (server->host, ==, "turn.example.org");
  g_assert_cmpuint (server->port, ==, 3478);
  g_assert_cmpint (server->transport, ==, PH_TURN_TRANSPORT_UDP);
  g_assert_cmpstr (server->username, ==, "u");
  g_assert_cmpstr (server->password, ==, "p");

  server = g_ptr_array_index (config->turn_servers, 1);
  g_assert_cmpstr (server->host, ==, "192.0.2.9");
  g_assert_cmpuint (server->port, ==, 3479);
  g_assert_cmpint (server->transport, ==, PH_TURN_TRANSPORT_TCP);

  server = g_ptr_array_index (config->turn_servers, 2);
  g_assert_cmpstr (server->host, ==, "2001:db8::9");
  g_assert_cmpuint (server->port, ==, 5000);
  g_assert_cmpint (server->transport, ==, PH_TURN_TRANSPORT_UDP);

  /* A copy is deep and independent. */
  config->relay_only = TRUE;
  g_assert_true (ph_ice_config_set_stun (config, "stun.example.org:3000", &error));
  copy = ph_ice_config_copy (config);
  g_assert_cmpstr (copy->stun_host, ==, "stun.example.org");
  g_assert_cmpuint (copy->stun_port, ==, 3000);
  g_assert_true (copy->relay_only);
  g_assert_true (copy->port_mapping);
  g_assert_cmpuint (copy->turn_servers->len, ==, 3);
  server = g_ptr_array_index (copy->turn_servers, 1);
  g_assert_true (server != g_ptr_array_index (config->turn_servers, 1));
  g_assert_cmpstr (server->password, ==, "secret");
  g_ptr_array_set_size (config->turn_servers, 0);
  g_assert_cmpuint (copy->turn_servers->len, ==, 3);
}

/* Every transport a TURN URI can name (RFC 7065), each with its default
 * port, and the URI a message names it by. */
static void
test_turn_transports (void)
{
  static const struct
  {
    const char *input;
    const char *host;
    guint port;
    PhTurnTransport transport;
    const char *uri;
  } cases[] = {
    { "turn:turn.example.org", "turn.example.org", 3478, PH_TURN_TRANSPORT_UDP,
      "turn:turn.example.org:3478" },
    { "turn:turn.example.org?transport=udp", "turn.example.org", 3478, PH_TURN_TRANSPORT_UDP,
      "turn:turn.example.org:3478" },
    { "turn:turn.example.org?transport=tcp", "turn.example.org", 3478, PH_TURN_TRANSPORT_TCP,
      "turn:turn.example.org:3478?transport=tcp" },
    /* The web port, where TURN over TCP gets through most firewalls. */
    { "turn:turn.example.org:443?transport=tcp", "turn.example.org", 443, PH_TURN_TRANSPORT_TCP,
      "turn:turn.example.org:443?transport=tcp" },
    { "turns:turn.example.org", "turn.example.org", 5349, PH_TURN_TRANSPORT_TLS,
      "turns:turn.example.org:5349" },
    { "TURNS:turn.example.org:443", "turn.example.org", 443, PH_TURN_TRANSPORT_TLS,
      "turns:turn.example.org:443" },
    { "turns:192.0.2.9:443?transport=tcp", "192.0.2.9", 443, PH_TURN_TRANSPORT_TLS,
      "turns:192.0.2.9:443" },
    { "turns:[2001:db8::9]", "2001:db8::9", 5349, PH_TURN_TRANSPORT_TLS,
      "turns:[2001:db8::9]:5349" },
    { "turn:[2001:db8::9]:443?transport=TCP", "2001:db8::9", 443, PH_TURN_TRANSPORT_TCP,
      "turn:[2001:db8::9]:443?transport=tcp" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (PhIceConfig) config = ph_ice_config_new ();
      g_autoptr (GError) error = NULL;
      g_autofree char *uri = NULL;
      PhTurnServer *server;

      g_test_message ("%s", cases[i].input);
      g_assert_true (ph_ice_config_add_turn (config, cases[i].input, "u", "p", &error));
      g_assert_no_error (error);
      g_assert_cmpuint (config->turn_servers->len, ==, 1);
      server = g_ptr_array_index (config->turn_servers, 0);
      g_assert_cmpstr (server->host, ==, cases[i].host);
      g_assert_cmpuint (server->port, ==, cases[i].port);
      g_assert_cmpint (server->transport, ==, cases[i].transport);
      uri = ph_turn_server_to_uri (server);
      g_assert_cmpstr (uri, ==, cases[i].uri);
    }

  g_assert_cmpstr (ph_turn_transport_to_string (PH_TURN_TRANSPORT_UDP), ==, "udp");
  g_assert_cmpstr (ph_turn_transport_to_string (PH_TURN_TRANSPORT_TCP), ==, "tcp");
  g_assert_cmpstr (ph_turn_transport_to_string (PH_TURN_TRANSPORT_TLS), ==, "tls");
}

static void
test_turn_bad (void)
{
  static const char *cases[] = {
    "turn.example.org",
    "stun:turn.example.org",
    "turn:",
    "turns:",
    "turn:host:99999",
    "turns:host:0",
    "turn:host?transport=sctp",
    "turn:host?transport=tls",
    "turns:host?transport=sctp",
    "turn:host?foo=bar",
    "turn:user:pass@host",
    "turns:user:pass@host",
    "turn://host",
    "turns://host:443",
    "turn:[2001:db8::1",
    "turnss:host",
  };
  g_autoptr (PhIceConfig) config = ph_ice_config_new ();

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;

      g_test_message ("%s", cases[i]);
      g_assert_false (ph_ice_config_add_turn (config, cases[i], "u", "p", &error));
      g_assert_error (error, PH_ERROR, PH_ERROR_FAILED);
      /* The message names what was given, so a person can find it. */
      g_assert_nonnull (strstr (error->message, cases[i]));
    }
  g_assert_cmpuint (config->turn_servers->len, ==, 0);
}

/* turns: over UDP would be DTLS: refused, saying so, not taken as TLS. */
static void
test_turn_dtls_refused (void)
{
  g_autoptr (PhIceConfig) config = ph_ice_config_new ();
  g_autoptr (GError) error = NULL;

  g_assert_false (
      ph_ice_config_add_turn (config, "turns:turn.example.org?transport=udp", "u", "p", &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "DTLS"));
  g_assert_cmpuint (config->turn_servers->len, ==, 0);
}

static void
test_turn_needs_credentials (void)
{
  g_autoptr (PhIceConfig) config = ph_ice_config_new ();
  g_autoptr (GError) error = NULL;

  g_assert_false (ph_ice_config_add_turn (config, "turn:192.0.2.9", NULL, "p", &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "user name"));
  g_clear_error (&error);
  g_assert_false (ph_ice_config_add_turn (config, "turn:192.0.2.9", "u", NULL, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_FAILED);
  g_assert_cmpuint (config->turn_servers->len, ==, 0);
}

static void
test_defaults (void)
{
  g_autoptr (PhIceConfig) config = ph_ice_config_new ();

  g_assert_null (config->stun_host);
  g_assert_cmpuint (config->turn_servers->len, ==, 0);
  g_assert_false (config->relay_only);
  /* Asking the router costs nothing when none answers: on. */
  g_assert_true (config->port_mapping);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ice-config/defaults", test_defaults);
  g_test_add_func ("/ice-config/stun-good", test_stun_good);
  g_test_add_func ("/ice-config/stun-bad", test_stun_bad);
  g_test_add_func ("/ice-config/turn-good", test_turn_good);
  g_test_add_func ("/ice-config/turn-transports", test_turn_transports);
  g_test_add_func ("/ice-config/turn-bad", test_turn_bad);
  g_test_add_func ("/ice-config/turn-dtls-refused", test_turn_dtls_refused);
  g_test_add_func ("/ice-config/turn-needs-credentials", test_turn_needs_credentials);

  return g_test_run ();
}
