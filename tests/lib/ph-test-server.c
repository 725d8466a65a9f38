/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-test-server"

#include "config.h"

#include "ph-test-server.h"

PhRendezvousServer *
ph_test_server_start_valist (guint port, const char *first_property, va_list args)
{
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GError) error = NULL;
  g_autoptr (PhRendezvousServer) server = PH_RENDEZVOUS_SERVER (
      g_object_new_valist (PH_TYPE_RENDEZVOUS_SERVER, first_property, args));

  g_assert_true (ph_rendezvous_server_listen (server, loopback, port, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ph_rendezvous_server_get_port (server), >, 0);
  return g_steal_pointer (&server);
}

PhRendezvousServer *
ph_test_server_start (guint port, const char *first_property, ...)
{
  PhRendezvousServer *server;
  va_list args;

  va_start (args, first_property);
  server = ph_test_server_start_valist (port, first_property, args);
  va_end (args);
  return server;
}
