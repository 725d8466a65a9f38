/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A redis-server of the test's own (PH_REDIS_SERVER_BIN) on a free
 * loopback port, its files in a folder of the test's. */

typedef struct _PhTestRedis PhTestRedis;

typedef enum
{
  PH_TEST_REDIS_VOLATILE = 0,         /* no RDB, no AOF: a restart empties it */
  PH_TEST_REDIS_APPEND_ONLY = 1 << 0, /* AOF, fsync at every write, as docs/server.md says */
} PhTestRedisFlags;

/* Starts it in @dir and waits until it accepts connections; fails the
 * test if it cannot. */
PhTestRedis *ph_test_redis_start (const char *dir, PhTestRedisFlags flags);
/* redis://127.0.0.1:PORT */
const char *ph_test_redis_get_uri (PhTestRedis *self);
guint ph_test_redis_get_port (PhTestRedis *self);
/* SIGKILL, and waits for the exit. */
void ph_test_redis_kill (PhTestRedis *self);
/* Starts it again, on the same port, on what it kept. */
void ph_test_redis_restart (PhTestRedis *self);
/* Kills it if it runs. */
void ph_test_redis_free (PhTestRedis *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhTestRedis, ph_test_redis_free)

G_END_DECLS
