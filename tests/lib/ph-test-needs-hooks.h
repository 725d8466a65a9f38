/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "config.h"

#include <glib.h>

G_BEGIN_DECLS

/* A test that turns a PINHOLE_TEST_* knob (src/core/testing/ph-test-hooks.h)
 * runs only in a build with -Dtest_hooks=true, as scripts/test.sh makes; in
 * any other build it is registered as skipped, saying why, so it is never
 * counted as passed. */
void ph_test_skip_without_hooks (void);
#ifdef PH_TEST_HOOKS
#define ph_test_add_func_with_hooks(path, func) g_test_add_func (path, func)
#define ph_test_add_data_func_with_hooks(path, data, func) g_test_add_data_func (path, data, func)
#define ph_test_add_with_hooks(path, Fixture, data, setup, func, teardown)                         \
  g_test_add (path, Fixture, data, setup, func, teardown)
#else
#define ph_test_add_func_with_hooks(path, func)                                                    \
  ((void)(func), g_test_add_func (path, ph_test_skip_without_hooks))
#define ph_test_add_data_func_with_hooks(path, data, func)                                         \
  ((void)(data), (void)(func), g_test_add_func (path, ph_test_skip_without_hooks))
#define ph_test_add_with_hooks(path, Fixture, data, setup, func, teardown)                         \
  ((void)(setup), (void)(func), (void)(teardown),                                                  \
   g_test_add_func (path, ph_test_skip_without_hooks))
#endif

G_END_DECLS
