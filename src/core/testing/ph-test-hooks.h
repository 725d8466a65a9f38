/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "config.h"

#include <glib.h>

/* Test hooks: knobs the test suites turn through the environment (shorter
 * patience, a slower server, a machine in the middle). They exist only in
 * builds configured with -Dtest_hooks=true, which scripts/test.sh uses; in
 * every other build each hook is its default, and the variable names are
 * not in the binaries at all, so a user's environment cannot reach them. */

G_BEGIN_DECLS

#ifdef PH_TEST_HOOKS

/* Whether the hook variable is set at all. */
static inline gboolean
ph_test_hook_is_set (const char *name)
{
  return g_getenv (name) != NULL;
}

/* The hook's number, clamped to [min, max], or fallback when it is unset. */
static inline guint64
ph_test_hook_uint (const char *name, guint64 fallback, guint64 min, guint64 max)
{
  const char *value = g_getenv (name);

  if (value == NULL)
    return fallback;
  return CLAMP (g_ascii_strtoull (value, NULL, 10), min, max);
}

/* The hook's text, or NULL when it is unset. */
static inline const char *
ph_test_hook_string (const char *name)
{
  return g_getenv (name);
}

#else

#define ph_test_hook_is_set(name) FALSE
#define ph_test_hook_uint(name, fallback, min, max) (fallback)
#define ph_test_hook_string(name) ((const char *)NULL)

#endif

G_END_DECLS
