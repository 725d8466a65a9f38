/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-path"

#include "config.h"

#include "ph-path.h"

static PhPath *
make_path (void)
{
  PhPath *path = g_new0 (PhPath, 1);

  path->local_type = g_strdup ("srflx");
  path->local_transport = g_strdup ("udp");
  path->local_address = g_strdup ("203.0.113.1");
  path->local_port = 40000;
  path->remote_type = g_strdup ("prflx");
  path->remote_transport = g_strdup ("udp");
  path->remote_address = g_strdup ("2001:db8::2");
  path->remote_port = 51234;
  return path;
}

static void
test_json (void)
{
  g_autoptr (PhPath) path = make_path ();
  g_autoptr (JsonNode) node = ph_path_to_json (path);
  g_autofree char *text = json_to_string (node, FALSE);

  g_assert_cmpstr (text, ==,
                   "{\"relayed\":false,"
                   "\"local\":{\"type\":\"srflx\",\"transport\":\"udp\","
                   "\"address\":\"203.0.113.1\",\"port\":40000},"
                   "\"remote\":{\"type\":\"prflx\",\"transport\":\"udp\","
                   "\"address\":\"2001:db8::2\",\"port\":51234}}");
}

static void
test_describe (void)
{
  g_autoptr (PhPath) path = make_path ();
  g_autofree char *direct = ph_path_describe (path);
  g_autofree char *relayed = NULL;
  g_autofree char *through = NULL;
  g_autofree char *with_port = NULL;
  g_autofree char *proxied = NULL;

  g_assert_cmpstr (direct, ==, "direct (srflx ↔ prflx, udp)");

  g_free (path->local_type);
  path->local_type = g_strdup ("relay");
  g_free (path->remote_type);
  path->remote_type = g_strdup ("host");
  path->relayed = TRUE;
  relayed = ph_path_describe (path);
  g_assert_cmpstr (relayed, ==, "relayed (relay ↔ host, udp)");

  /* The TURN leg is named when it is known. */
  path->turn_transport = g_strdup ("tcp");
  through = ph_path_describe (path);
  g_assert_cmpstr (through, ==, "relayed through TURN over TCP (relay ↔ host, udp)");

  /* And its port: 443 tells the way through a firewall for the web. */
  g_free (path->turn_transport);
  path->turn_transport = g_strdup ("tls");
  path->turn_port = 443;
  with_port = ph_path_describe (path);
  g_assert_cmpstr (with_port, ==, "relayed through TURN over TLS, port 443 (relay ↔ host, udp)");

  path->turn_proxy = TRUE;
  proxied = ph_path_describe (path);
  g_assert_cmpstr (proxied, ==,
                   "relayed through TURN over TLS, port 443, through your proxy (relay ↔ host, "
                   "udp)");
}

static void
test_json_turn_transport (void)
{
  g_autoptr (PhPath) path = make_path ();
  g_autoptr (JsonNode) node = NULL;
  JsonObject *object;

  path->relayed = TRUE;
  path->turn_transport = g_strdup ("udp");
  node = ph_path_to_json (path);
  object = json_node_get_object (node);
  g_assert_true (json_object_get_boolean_member (object, "relayed"));
  g_assert_cmpstr (json_object_get_string_member (object, "turn_transport"), ==, "udp");
  /* Not known: left out. */
  g_assert_false (json_object_has_member (object, "turn_port"));
  g_assert_false (json_object_get_boolean_member (object, "turn_proxy"));
}

static void
test_json_turn_proxy (void)
{
  g_autoptr (PhPath) path = make_path ();
  g_autoptr (JsonNode) node = NULL;
  JsonObject *object;

  path->relayed = TRUE;
  path->turn_transport = g_strdup ("tls");
  path->turn_port = 443;
  path->turn_proxy = TRUE;
  node = ph_path_to_json (path);
  object = json_node_get_object (node);
  g_assert_cmpstr (json_object_get_string_member (object, "turn_transport"), ==, "tls");
  g_assert_cmpint (json_object_get_int_member (object, "turn_port"), ==, 443);
  g_assert_true (json_object_get_boolean_member (object, "turn_proxy"));
}

static void
test_copy_equal (void)
{
  g_autoptr (PhPath) path = make_path ();
  g_autoptr (PhPath) copy = ph_path_copy (path);
  g_autoptr (PhPath) boxed = g_boxed_copy (PH_TYPE_PATH, path);

  g_assert_true (ph_path_equal (path, copy));
  g_assert_true (ph_path_equal (path, boxed));
  g_assert_true (copy->local_address != path->local_address);
  g_assert_false (ph_path_equal (path, NULL));
  g_assert_true (ph_path_equal (NULL, NULL));

  copy->remote_port++;
  g_assert_false (ph_path_equal (path, copy));
  copy->remote_port--;
  copy->relayed = TRUE;
  g_assert_false (ph_path_equal (path, copy));
  copy->relayed = FALSE;
  g_free (copy->local_address);
  copy->local_address = g_strdup ("203.0.113.9");
  g_assert_false (ph_path_equal (path, copy));
  g_free (copy->local_address);
  copy->local_address = g_strdup (path->local_address);
  g_assert_true (ph_path_equal (path, copy));
  copy->turn_transport = g_strdup ("tcp");
  g_assert_false (ph_path_equal (path, copy));
  g_clear_pointer (&copy->turn_transport, g_free);
  copy->turn_port = 443;
  g_assert_false (ph_path_equal (path, copy));
  copy->turn_port = 0;
  copy->turn_proxy = TRUE;
  g_assert_false (ph_path_equal (path, copy));
  copy->turn_proxy = FALSE;
  g_assert_true (ph_path_equal (path, copy));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/path/json", test_json);
  g_test_add_func ("/path/describe", test_describe);
  g_test_add_func ("/path/json-turn-transport", test_json_turn_transport);
  g_test_add_func ("/path/json-turn-proxy", test_json_turn_proxy);
  g_test_add_func ("/path/copy-equal", test_copy_equal);

  return g_test_run ();
}
