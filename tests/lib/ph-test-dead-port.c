/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-test-dead-port"

#include "config.h"

#include "ph-test-dead-port.h"
#include "ph-test-wait.h"

struct _PhTestDeadPort
{
  GSocketService *service;
  guint connections;
};

static gboolean
dead_port_incoming_cb (GSocketService *service, GSocketConnection *connection, GObject *source,
                       PhTestDeadPort *self)
{
  self->connections++;
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  return TRUE;
}

PhTestDeadPort *
ph_test_dead_port_new (guint16 port)
{
  PhTestDeadPort *self = g_new0 (PhTestDeadPort, 1);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, port);
  g_autoptr (GError) error = NULL;

  self->service = g_socket_service_new ();
  g_signal_connect (self->service, "incoming", G_CALLBACK (dead_port_incoming_cb), self);
  g_socket_listener_add_address (G_SOCKET_LISTENER (self->service), address, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, NULL, &error);
  g_assert_no_error (error);
  return self;
}

typedef struct
{
  PhTestDeadPort *port;
  guint count;
} Wanted;

static gboolean
dead_port_reached (gpointer data)
{
  Wanted *wanted = data;

  return wanted->port->connections >= wanted->count;
}

gboolean
ph_test_dead_port_wait (PhTestDeadPort *self, guint count, guint timeout_ms)
{
  Wanted wanted = { self, count };

  return ph_test_wait_until (dead_port_reached, &wanted, timeout_ms);
}

void
ph_test_dead_port_free (PhTestDeadPort *self)
{
  g_socket_service_stop (self->service);
  g_socket_listener_close (G_SOCKET_LISTENER (self->service));
  g_object_unref (self->service);
  g_free (self);
}
