/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Which nameplates are free, so that allocation hands out the lowest one
 * from 1 and codes stay short, with numbers also opened by claim. Only the
 * freed numbers below a high-water mark are listed: every number above it
 * is free but those claimed, which are listed while they are open. A store
 * that finds its open mailboxes again at start takes each of them as a
 * claim, and allocation fills the gaps below them from 1. */
typedef struct _PhNameplatePool PhNameplatePool;

PhNameplatePool *ph_nameplate_pool_new (void);
void ph_nameplate_pool_free (PhNameplatePool *self);
/* Takes the lowest free number. */
guint ph_nameplate_pool_take_lowest (PhNameplatePool *self);
/* Takes @nameplate, which must be free. */
void ph_nameplate_pool_take (PhNameplatePool *self, guint nameplate);
/* Gives back @nameplate, which must have been taken. */
void ph_nameplate_pool_release (PhNameplatePool *self, guint nameplate);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhNameplatePool, ph_nameplate_pool_free)

G_END_DECLS
