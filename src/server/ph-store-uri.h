/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* The store `--store URI` names, and the one used without it:
 *   memory:                     PhMemoryStore, lost when the server stops;
 *   sqlite:PATH                 PhSqliteStore in the database file PATH;
 *   sqlite:PATH?synchronous=full  the same, with an fsync at every commit;
 *   redis://HOST:PORT[/DB]      PhRedisStore, shared by several servers;
 *   unix:PATH[?db=DB]           the same through Redis's Unix socket.
 * Without --store the server uses sqlite:DIR/rendezvous.db, DIR being
 * --data-dir, else $STATE_DIRECTORY (systemd's StateDirectory=), else
 * $XDG_STATE_HOME/pinhole-rendezvous (~/.local/state/pinhole-rendezvous). */

#define PH_STORE_URI_DATABASE_NAME "rendezvous.db"

/* @data_dir: --data-dir, or NULL. */
char *ph_store_uri_default (const char *data_dir);
/* The type @uri names in @out_type, and the construct properties it
 * needs besides the limits added to @names (static strings) and @values.
 * G_IO_ERROR_INVALID_ARGUMENT, with a sentence, for a URI it does not
 * take. */
gboolean ph_store_uri_parse (const char *uri, GType *out_type, GPtrArray *names, GArray *values,
                             GError **error);

G_END_DECLS
