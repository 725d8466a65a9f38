/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ph-store.h"

G_BEGIN_DECLS

/* The store in a Redis server (`--store redis://HOST:PORT[/DB]` or
 * `unix:PATH[?db=N]`), which several rendezvous servers share: any of
 * them answers any request. Every operation is one Lua script
 * (ph-redis-store.lua), atomic in Redis whichever server sent it;
 * mailboxes end by their keys' TTLs; each server publishes what changed
 * on a channel every server subscribes to, so a poll held by one wakes
 * when another stores a message. Nothing waits on Redis: hiredis's
 * asynchronous API on the store's main context. While Redis cannot be
 * reached every operation fails with PH_STORE_ERROR_FAILED (503 for the
 * client) and the store reconnects by itself, 100 ms after the loss and
 * then less and less often, up to every 2 s; "changes-lost" is emitted
 * when the connection goes and when it is back. */

#define PH_TYPE_REDIS_STORE (ph_redis_store_get_type ())
G_DECLARE_FINAL_TYPE (PhRedisStore, ph_redis_store, PH, REDIS_STORE, GObject)

/* Whether both connections (requests, notifications) are up. */
gboolean ph_redis_store_is_connected (PhRedisStore *self);

G_END_DECLS
