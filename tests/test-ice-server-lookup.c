/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-ice-server-lookup"

#include "config.h"

#include <signal.h>
#include <string.h>

#include "ph-error.h"
#include "ph-ice-server-lookup.h"
#include "ph-test-process.h"
#include "ph-test-programs.h"
#include "ph-test-wait.h"

static guint
deadline_ms (void)
{
  return ph_test_scaled_ms (15000);
}

/* The whole configuration as one line, so "unchanged" and "as expected"
 * are one comparison. */
static char *
describe (const PhIceConfig *config)
{
  GString *text = g_string_new (NULL);

  if (config->stun_host != NULL)
    g_string_append_printf (text, "stun %s:%u", config->stun_host, config->stun_port);
  else
    g_string_append (text, "no stun");
  for (guint i = 0; i < config->turn_servers->len; i++)
    {
      const PhTurnServer *server = g_ptr_array_index (config->turn_servers, i);

      g_string_append_printf (text, "; turn %s:%u/%s %s %s", server->host, server->port,
                              ph_turn_transport_to_string (server->transport), server->username,
                              server->password);
    }
  return g_string_free (text, FALSE);
}

static void
assert_config (const PhIceConfig *config, const char *expected)
{
  g_autofree char *text = describe (config);

  g_assert_cmpstr (text, ==, expected);
}

/* An offer as ph_rendezvous_client_get_turn_finish gives it: lists are
 * never NULL, maybe empty. */
static PhTurnInfo *
offer_new (const char *const *stun_uris, const char *const *turn_uris, const char *username,
           const char *credential)
{
  const char *const none[] = { NULL };
  PhTurnInfo *offer = g_new0 (PhTurnInfo, 1);

  offer->stun_uris = g_strdupv ((char **)(stun_uris != NULL ? stun_uris : none));
  offer->turn_uris = g_strdupv ((char **)(turn_uris != NULL ? turn_uris : none));
  offer->username = g_strdup (username);
  offer->credential = g_strdup (credential);
  offer->ttl = username != NULL ? 86400 : 0;
  return offer;
}

static PhIceConfig *
config_new (const char *stun, const char *turn, const char *username, const char *password)
{
  g_autoptr (PhIceConfig) config = ph_ice_config_new ();
  g_autoptr (GError) error = NULL;

  if (stun != NULL)
    g_assert_true (ph_ice_config_set_stun (config, stun, &error));
  if (turn != NULL)
    g_assert_true (ph_ice_config_add_turn (config, turn, username, password, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&config);
}

static void
test_user_stun_kept (void)
{
  const char *const stun[] = { "stun:192.0.2.1:3478", NULL };
  g_autoptr (PhIceConfig) config = config_new ("stun.example.org:3479", NULL, NULL, NULL);
  g_autoptr (PhTurnInfo) offer = offer_new (stun, NULL, NULL, NULL);

  g_assert_cmpuint (ph_ice_config_merge_offer (config, offer), ==, 0);
  assert_config (config, "stun stun.example.org:3479");
}

static void
test_server_stun_taken (void)
{
  const char *const stun[] = { "stun:192.0.2.1:3479", "stun:192.0.2.2", NULL };
  g_autoptr (PhIceConfig) config = ph_ice_config_new ();
  g_autoptr (PhTurnInfo) offer = offer_new (stun, NULL, NULL, NULL);

  /* One STUN server is all ICE uses: the first. */
  g_assert_cmpuint (ph_ice_config_merge_offer (config, offer), ==, 1);
  assert_config (config, "stun 192.0.2.1:3479");
}

static void
test_user_turn_kept (void)
{
  const char *const stun[] = { "stun:192.0.2.1", NULL };
  const char *const turn[] = { "turn:192.0.2.1:3478", NULL };
  g_autoptr (PhIceConfig) config
      = config_new (NULL, "turn:198.51.100.7:3478?transport=tcp", "alice", "secret");
  g_autoptr (PhTurnInfo) offer = offer_new (stun, turn, "1700000000:ab", "credential");

  /* The STUN server is still welcome: only TURN was configured. */
  g_assert_cmpuint (ph_ice_config_merge_offer (config, offer), ==, 1);
  assert_config (config, "stun 192.0.2.1:3478; turn 198.51.100.7:3478/tcp alice secret");
}

static void
test_server_turn_taken (void)
{
  const char *const turn[] = { "turn:192.0.2.1:3478", "turn:192.0.2.1:443?transport=tcp",
                               "turns:turn.example.org:443", NULL };
  g_autoptr (PhIceConfig) config = config_new ("stun.example.org", NULL, NULL, NULL);
  g_autoptr (PhTurnInfo) offer = offer_new (NULL, turn, "1700000000:ab", "credential");

  g_assert_cmpuint (ph_ice_config_merge_offer (config, offer), ==, 3);
  assert_config (config, "stun stun.example.org:3478"
                         "; turn 192.0.2.1:3478/udp 1700000000:ab credential"
                         "; turn 192.0.2.1:443/tcp 1700000000:ab credential"
                         "; turn turn.example.org:443/tls 1700000000:ab credential");
}

static void
test_invalid_skipped (void)
{
  const char *const stun[] = { "stuns:192.0.2.1", "stun:bad host", "stun:192.0.2.2:3480", NULL };
  const char *const turn[] = { "turns:192.0.2.1:5349?transport=udp", "turn:[::1",
                               "turn:192.0.2.1:70000", "turn:192.0.2.1:3478", NULL };
  g_autoptr (PhIceConfig) config = ph_ice_config_new ();
  g_autoptr (PhTurnInfo) offer = offer_new (stun, turn, "1700000000:ab", "credential");

  /* Each one skipped says why, for whoever reads the log. */
  g_test_expect_message ("ph-ice-server-lookup", G_LOG_LEVEL_DEBUG,
                         "Ignoring the rendezvous server’s STUN URI: STUN over TLS*");
  g_test_expect_message ("ph-ice-server-lookup", G_LOG_LEVEL_DEBUG,
                         "Ignoring the rendezvous server’s STUN URI: *valid host name*");
  g_test_expect_message ("ph-ice-server-lookup", G_LOG_LEVEL_DEBUG,
                         "Ignoring the rendezvous server’s TURN URI: *DTLS*");
  g_test_expect_message ("ph-ice-server-lookup", G_LOG_LEVEL_DEBUG,
                         "Ignoring the rendezvous server’s TURN URI: *“]”*");
  g_test_expect_message ("ph-ice-server-lookup", G_LOG_LEVEL_DEBUG,
                         "Ignoring the rendezvous server’s TURN URI: *invalid port*");
  g_assert_cmpuint (ph_ice_config_merge_offer (config, offer), ==, 2);
  g_test_assert_expected_messages ();
  assert_config (config, "stun 192.0.2.2:3480; turn 192.0.2.1:3478/udp 1700000000:ab credential");
}

static void
test_empty_offer (void)
{
  g_autoptr (PhIceConfig) empty = ph_ice_config_new ();
  g_autoptr (PhIceConfig) configured
      = config_new ("stun.example.org", "turn:198.51.100.7", "alice", "secret");
  g_autoptr (PhTurnInfo) offer = offer_new (NULL, NULL, NULL, NULL);

  g_assert_cmpuint (ph_ice_config_merge_offer (empty, offer), ==, 0);
  assert_config (empty, "no stun");
  g_assert_cmpuint (ph_ice_config_merge_offer (configured, offer), ==, 0);
  assert_config (configured, "stun stun.example.org:3478; turn 198.51.100.7:3478/udp alice secret");
}

static void
test_renewal_replaces_offered_turn (void)
{
  const char *const first[] = { "turn:192.0.2.1:3478", "turn:192.0.2.1:443?transport=tcp", NULL };
  const char *const second[] = { "turn:192.0.2.1:3478", NULL };
  g_autoptr (PhIceConfig) config = config_new ("stun.example.org", NULL, NULL, NULL);
  g_autoptr (PhTurnInfo) offer = offer_new (NULL, first, "1700000000:ab", "old");
  g_autoptr (PhTurnInfo) renewal = offer_new (NULL, second, "1700086400:ab", "new");

  g_assert_cmpuint (ph_ice_config_merge_offer (config, offer), ==, 2);
  /* A plain merge would keep the old credentials: TURN is configured. */
  g_assert_cmpuint (ph_ice_config_renew_offer (config, renewal), ==, 1);
  assert_config (config, "stun stun.example.org:3478; turn 192.0.2.1:3478/udp 1700086400:ab new");
}

static void
test_renewal_without_usable_turn_keeps_old (void)
{
  const char *const first[] = { "turn:192.0.2.1:3478", NULL };
  const char *const unusable[] = { "turns:192.0.2.1:5349?transport=udp", NULL };
  g_autoptr (PhIceConfig) config = ph_ice_config_new ();
  g_autoptr (PhTurnInfo) offer = offer_new (NULL, first, "1700000000:ab", "old");
  g_autoptr (PhTurnInfo) empty = offer_new (NULL, NULL, NULL, NULL);
  g_autoptr (PhTurnInfo) bad = offer_new (NULL, unusable, "1700086400:ab", "new");

  g_assert_cmpuint (ph_ice_config_merge_offer (config, offer), ==, 1);
  /* A refused or empty renewal must not leave a chat without its relay. */
  g_assert_cmpuint (ph_ice_config_renew_offer (config, empty), ==, 0);
  g_test_expect_message ("ph-ice-server-lookup", G_LOG_LEVEL_DEBUG,
                         "Ignoring the rendezvous server’s TURN URI: *DTLS*");
  g_assert_cmpuint (ph_ice_config_renew_offer (config, bad), ==, 0);
  g_test_assert_expected_messages ();
  assert_config (config, "no stun; turn 192.0.2.1:3478/udp 1700000000:ab old");
}

typedef struct
{
  PhTestProcess *server;
  PhRendezvousClient *client;
  PhIceConfig *config;
  GAsyncResult *result;
  guint ttl;
} Fixture;

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *url = NULL;

  /* @data: the server's options. */
  fixture->server = ph_test_start_rendezvous (data, &url);
  fixture->client = ph_rendezvous_client_new (url, &error);
  g_assert_no_error (error);
  fixture->config = ph_ice_config_new ();
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  g_clear_object (&fixture->result);
  g_clear_pointer (&fixture->config, ph_ice_config_free);
  g_assert_finalize_object (fixture->client);
  ph_test_process_kill (fixture->server, SIGTERM);
  g_assert_cmpint (ph_test_process_wait_exit (fixture->server, 5000), ==, 0);
  g_clear_pointer (&fixture->server, ph_test_process_free);
}

static void
lookup_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fixture *fixture = user_data;

  g_assert_null (fixture->result);
  fixture->result = g_object_ref (result);
}

static gboolean
lookup_done (gpointer data)
{
  Fixture *fixture = data;

  return fixture->result != NULL;
}

static gboolean
wait_for_lookup (Fixture *fixture, GError **error)
{
  g_assert_true (ph_test_wait_until (lookup_done, fixture, deadline_ms ()));
  return ph_ice_server_lookup_finish (fixture->result, &fixture->ttl, error);
}

/* For the mailbox @nameplate, or the public STUN list when NULL. */
static gboolean
lookup (Fixture *fixture, const char *nameplate, GError **error)
{
  g_clear_object (&fixture->result);
  ph_ice_server_lookup_async (fixture->client, nameplate, fixture->config, NULL, lookup_cb,
                              fixture);
  return wait_for_lookup (fixture, error);
}

/* A mailbox of our own, so the server hands out TURN credentials. */
static char *
allocate (Fixture *fixture)
{
  g_autoptr (GError) error = NULL;
  char *nameplate;

  g_clear_object (&fixture->result);
  ph_rendezvous_client_allocate_async (fixture->client, NULL, lookup_cb, fixture);
  g_assert_true (ph_test_wait_until (lookup_done, fixture, deadline_ms ()));
  nameplate = ph_rendezvous_client_allocate_finish (fixture->client, fixture->result, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&fixture->result);
  return nameplate;
}

static const char *const offering[]
    = { "--turn-secret",       "S", "--turn-uri", "turn:127.0.0.1:3478", "--stun-uri",
        "stun:127.0.0.1:3478", NULL };

static void
test_lookup (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *nameplate = NULL;
  const PhTurnServer *server;

  /* Anyone gets the STUN server, and no TURN credentials. */
  g_assert_true (lookup (fixture, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (fixture->config->stun_host, ==, "127.0.0.1");
  g_assert_cmpuint (fixture->config->turn_servers->len, ==, 0);
  g_assert_cmpuint (fixture->ttl, ==, 0);

  /* A side of a mailbox gets them, for at most an hour. */
  nameplate = allocate (fixture);
  g_assert_true (lookup (fixture, nameplate, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (fixture->ttl, >, 0);
  g_assert_cmpuint (fixture->ttl, <=, 3600);
  g_assert_cmpstr (fixture->config->stun_host, ==, "127.0.0.1");
  g_assert_cmpuint (fixture->config->stun_port, ==, 3478);
  g_assert_cmpuint (fixture->config->turn_servers->len, ==, 1);
  server = g_ptr_array_index (fixture->config->turn_servers, 0);
  g_assert_cmpstr (server->host, ==, "127.0.0.1");
  g_assert_cmpuint (server->port, ==, 3478);
  g_assert_cmpint (server->transport, ==, PH_TURN_TRANSPORT_UDP);
  /* Time-limited credentials: "EXPIRY:ID" and a password from the secret. */
  g_assert_nonnull (strchr (server->username, ':'));
  g_assert_cmpstr (server->password, !=, "");
}

static void
test_lookup_without_offer (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) add_error = NULL;
  g_autofree char *before = NULL;

  g_assert_true (
      ph_ice_config_add_turn (fixture->config, "turn:198.51.100.7", "alice", "secret", &add_error));
  g_assert_no_error (add_error);
  before = describe (fixture->config);

  g_assert_false (lookup (fixture, NULL, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS);
  assert_config (fixture->config, before);
}

static void
test_lookup_cancelled (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;

  ph_ice_server_lookup_async (fixture->client, NULL, fixture->config, cancellable, lookup_cb,
                              fixture);
  g_cancellable_cancel (cancellable);

  g_assert_false (wait_for_lookup (fixture, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  assert_config (fixture->config, "no stun");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ice-server-lookup/merge/user-stun-kept", test_user_stun_kept);
  g_test_add_func ("/ice-server-lookup/merge/server-stun-taken", test_server_stun_taken);
  g_test_add_func ("/ice-server-lookup/merge/user-turn-kept", test_user_turn_kept);
  g_test_add_func ("/ice-server-lookup/merge/server-turn-taken", test_server_turn_taken);
  g_test_add_func ("/ice-server-lookup/merge/invalid-skipped", test_invalid_skipped);
  g_test_add_func ("/ice-server-lookup/merge/empty-offer", test_empty_offer);
  g_test_add_func ("/ice-server-lookup/renew/replaces-offered-turn",
                   test_renewal_replaces_offered_turn);
  g_test_add_func ("/ice-server-lookup/renew/without-usable-turn-keeps-old",
                   test_renewal_without_usable_turn_keeps_old);
  g_test_add ("/ice-server-lookup/lookup", Fixture, offering, fixture_set_up, test_lookup,
              fixture_tear_down);
  g_test_add ("/ice-server-lookup/lookup-without-offer", Fixture, NULL, fixture_set_up,
              test_lookup_without_offer, fixture_tear_down);
  g_test_add ("/ice-server-lookup/lookup-cancelled", Fixture, offering, fixture_set_up,
              test_lookup_cancelled, fixture_tear_down);

  return g_test_run ();
}
