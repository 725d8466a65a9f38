/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-nameplate-pool"

#include "config.h"

#include "ph-nameplate-pool.h"

struct _PhNameplatePool
{
  GTree *free_numbers;  /* freed numbers below high_water */
  guint high_water;     /* every number above it is free, but those claimed */
  GTree *claimed_above; /* taken numbers above high_water, all claimed */
};

static int
compare_numbers (gconstpointer a, gconstpointer b)
{
  guint x = GPOINTER_TO_UINT (a);
  guint y = GPOINTER_TO_UINT (b);

  return x < y ? -1 : x > y;
}

PhNameplatePool *
ph_nameplate_pool_new (void)
{
  PhNameplatePool *self = g_new0 (PhNameplatePool, 1);

  self->free_numbers = g_tree_new (compare_numbers);
  self->claimed_above = g_tree_new (compare_numbers);
  return self;
}

void
ph_nameplate_pool_free (PhNameplatePool *self)
{
  if (self == NULL)
    return;
  g_tree_unref (self->free_numbers);
  g_tree_unref (self->claimed_above);
  g_free (self);
}

guint
ph_nameplate_pool_take_lowest (PhNameplatePool *self)
{
  GTreeNode *lowest_free = g_tree_node_first (self->free_numbers);
  guint nameplate;

  if (lowest_free != NULL)
    {
      nameplate = GPOINTER_TO_UINT (g_tree_node_key (lowest_free));
      g_tree_remove (self->free_numbers, GUINT_TO_POINTER (nameplate));
      return nameplate;
    }

  /* Claimed numbers the high water passes are taken: step over them. */
  nameplate = ++self->high_water;
  while (g_tree_remove (self->claimed_above, GUINT_TO_POINTER (nameplate)))
    nameplate = ++self->high_water;
  return nameplate;
}

/* A claim above the high water is only remembered until the high water
 * passes it or it is given back: no list of every free number below a
 * large claimed one. */
void
ph_nameplate_pool_take (PhNameplatePool *self, guint nameplate)
{
  g_assert (nameplate > 0);

  if (nameplate > self->high_water)
    g_tree_insert (self->claimed_above, GUINT_TO_POINTER (nameplate), GUINT_TO_POINTER (nameplate));
  else
    g_tree_remove (self->free_numbers, GUINT_TO_POINTER (nameplate));
}

void
ph_nameplate_pool_release (PhNameplatePool *self, guint nameplate)
{
  if (nameplate > self->high_water)
    g_tree_remove (self->claimed_above, GUINT_TO_POINTER (nameplate));
  else
    g_tree_insert (self->free_numbers, GUINT_TO_POINTER (nameplate), GUINT_TO_POINTER (nameplate));
}
