/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ph-store.h"

G_BEGIN_DECLS

/* The store in an SQLite database file (`--store sqlite:PATH`, the
 * default): a restart, or a crash, loses nothing a client was told was
 * stored. Every operation is one transaction, committed before its answer
 * is handed back, on a thread of the store's own so that the main loop
 * never waits for the disk. The file is the server's alone while it runs
 * (SQLite's exclusive locking), which lets the thread keep which numbers
 * are free and when each mailbox expires in memory, read back from the
 * file at start. See ph-sqlite-store.c for the schema and durability.
 *
 * Made with g_initable_new (): a file that is not a database of ours,
 * is damaged, was written by a newer server or is in use fails there with
 * a G_IO_ERROR whose message names the file. */

#define PH_TYPE_SQLITE_STORE (ph_sqlite_store_get_type ())
G_DECLARE_FINAL_TYPE (PhSqliteStore, ph_sqlite_store, PH, SQLITE_STORE, GObject)

G_END_DECLS
