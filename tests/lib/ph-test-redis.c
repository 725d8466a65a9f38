/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-test-redis"

#include "config.h"

#include <gio/gio.h>
#include <signal.h>
#include <string.h>

#include "ph-test-process.h"
#include "ph-test-redis.h"
#include "ph-test-wait.h"

struct _PhTestRedis
{
  char *dir;
  PhTestRedisFlags flags;
  guint port;
  char *uri;
  PhTestProcess *process;
};

/* A port nobody listens on now. Another program could take it before
 * redis-server does; then the start fails and says so. */
static guint
free_port (void)
{
  g_autoptr (GSocket) socket
      = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_nonnull (socket);
  g_socket_bind (socket, any, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static void
spawn (PhTestRedis *self)
{
  const char *program = g_getenv ("PH_REDIS_SERVER_BIN");
  g_autofree char *port = g_strdup_printf ("%u", self->port);
  gboolean aof = (self->flags & PH_TEST_REDIS_APPEND_ONLY) != 0;
  const char *argv[] = {
    program != NULL ? program : "redis-server",
    "--port",
    port,
    "--bind",
    "127.0.0.1",
    "--dir",
    self->dir,
    "--save",
    "",
    "--appendonly",
    aof ? "yes" : "no",
    "--appendfsync",
    "always",
    "--logfile",
    "",
    "--daemonize",
    "no",
    NULL,
  };
  g_autofree char *line = NULL;

  self->process = ph_test_process_spawn (argv, NULL);
  /* Its log goes to standard output; this line says it serves. */
  while ((line = ph_test_process_read_line (self->process, ph_test_scaled_ms (10000))) != NULL
         && strstr (line, "Ready to accept connections") == NULL)
    g_clear_pointer (&line, g_free);
  if (line == NULL)
    g_error ("redis-server did not start on port %u", self->port);
}

PhTestRedis *
ph_test_redis_start (const char *dir, PhTestRedisFlags flags)
{
  PhTestRedis *self = g_new0 (PhTestRedis, 1);

  self->dir = g_strdup (dir);
  self->flags = flags;
  self->port = free_port ();
  self->uri = g_strdup_printf ("redis://127.0.0.1:%u", self->port);
  spawn (self);
  return self;
}

const char *
ph_test_redis_get_uri (PhTestRedis *self)
{
  return self->uri;
}

guint
ph_test_redis_get_port (PhTestRedis *self)
{
  return self->port;
}

void
ph_test_redis_kill (PhTestRedis *self)
{
  if (self->process == NULL)
    return;
  ph_test_process_kill (self->process, SIGKILL);
  ph_test_process_wait_exit (self->process, ph_test_scaled_ms (10000));
  g_clear_pointer (&self->process, ph_test_process_free);
}

void
ph_test_redis_restart (PhTestRedis *self)
{
  g_assert_null (self->process);
  spawn (self);
}

void
ph_test_redis_free (PhTestRedis *self)
{
  if (self == NULL)
    return;
  ph_test_redis_kill (self);
  g_free (self->dir);
  g_free (self->uri);
  g_free (self);
}
