/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "ph-store.h"

G_BEGIN_DECLS

/* The store in this process's memory (`--store memory:`): fast, and gone
 * when the process ends, which is what the clients' claim-back re-entry
 * is for (docs/protocol.md). For tests, and the reference the contract in
 * tests/test-store.c was written from. Operations finish on the next
 * iteration of the main context. */

#define PH_TYPE_MEMORY_STORE (ph_memory_store_get_type ())
G_DECLARE_FINAL_TYPE (PhMemoryStore, ph_memory_store, PH, MEMORY_STORE, GObject)

/* Whether @nameplate is open now: for tests, which look without a side. */
gboolean ph_memory_store_contains (PhMemoryStore *self, guint nameplate);

G_END_DECLS
