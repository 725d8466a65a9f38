/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-test-programs"

#include "config.h"

#include <string.h>

#include "ph-test-programs.h"
#include "ph-test-wait.h"

static const char *
program (const char *variable)
{
  const char *path = g_getenv (variable);

  if (path == NULL)
    g_error ("%s is not set: run the tests with meson test", variable);
  return path;
}

static gboolean
names_store (const char *const *args)
{
  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    if (g_str_has_prefix (args[i], "--store"))
      return TRUE;
  return FALSE;
}

PhTestProcess *
ph_test_start_rendezvous (const char *const *extra_args, char **out_url)
{
  g_autoptr (GStrvBuilder) argv = g_strv_builder_new ();
  g_auto (GStrv) strv = NULL;
  g_autofree char *line = NULL;
  const char *prefix = "pinhole-rendezvous listening on ";
  PhTestProcess *server;

  g_strv_builder_add (argv, program ("PINHOLE_RENDEZVOUS_BIN"));
  g_strv_builder_add (argv, "--port=0");
  /* A server of its own for each test, which a restart empties (the
   * clients' re-entry is tested on it), unless the test names a store. */
  if (!names_store (extra_args))
    g_strv_builder_add (argv, "--store=memory:");
  if (extra_args != NULL)
    g_strv_builder_addv (argv, (const char **)extra_args);
  strv = g_strv_builder_end (argv);

  server = ph_test_process_spawn ((const char *const *)strv, NULL);
  line = ph_test_process_read_line (server, ph_test_scaled_ms (10000));
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, prefix));
  *out_url = g_strdup (line + strlen (prefix));
  return server;
}

void
ph_test_rendezvous_fixture_set_up (PhTestRendezvousFixture *fixture, gconstpointer data)
{
  fixture->server = ph_test_start_rendezvous (data, &fixture->url);
}

void
ph_test_rendezvous_fixture_tear_down (PhTestRendezvousFixture *fixture, gconstpointer data)
{
  g_assert_cmpint (ph_test_process_stop (fixture->server), ==, 0);
  g_clear_pointer (&fixture->server, ph_test_process_free);
  g_clear_pointer (&fixture->url, g_free);
}

PhTestProcess *
ph_test_spawn_cli (const char *url, const char *name, PhTestCliFlags flags, const char *const *args,
                   const char *const *envp)
{
  g_autoptr (GStrvBuilder) argv = g_strv_builder_new ();
  g_autofree char *rendezvous_option = g_strdup_printf ("--rendezvous=%s", url);
  g_autofree char *name_option = name != NULL ? g_strdup_printf ("--name=%s", name) : NULL;
  g_auto (GStrv) strv = NULL;

  g_strv_builder_add (argv, program ("PINHOLE_CLI_BIN"));
  if (flags & PH_TEST_CLI_JSON)
    g_strv_builder_add (argv, "--json");
  if (flags & PH_TEST_CLI_NO_SERVER_ICE)
    g_strv_builder_add (argv, "--no-server-ice");
  g_strv_builder_add (argv, rendezvous_option);
  if (name_option != NULL)
    g_strv_builder_add (argv, name_option);
  g_strv_builder_addv (argv, (const char **)args);
  strv = g_strv_builder_end (argv);

  return ph_test_process_spawn ((const char *const *)strv, envp);
}

void
ph_test_cli_assert_connected (PhTestProcess *peer, const char *expected_peer_name)
{
  g_autoptr (JsonObject) event
      = ph_test_process_wait_event (peer, "connected", ph_test_scaled_ms (20000));

  g_assert_cmpstr (json_object_get_string_member (event, "peer"), ==, expected_peer_name);
}

void
ph_test_cli_assert_message_goes_through (PhTestProcess *sender, PhTestProcess *receiver,
                                         const char *text)
{
  g_autoptr (JsonObject) received = NULL;
  g_autoptr (JsonObject) delivered = NULL;

  ph_test_process_write_line (sender, text);
  received = ph_test_process_wait_event (receiver, "message", ph_test_scaled_ms (10000));
  g_assert_cmpstr (json_object_get_string_member (received, "text"), ==, text);
  delivered = ph_test_process_wait_event (sender, "delivered", ph_test_scaled_ms (10000));
}
