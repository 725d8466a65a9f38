/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-test-needs-hooks"

#include "config.h"

#include "ph-test-needs-hooks.h"

void
ph_test_skip_without_hooks (void)
{
  g_test_skip ("needs the test hooks: configure with -Dtest_hooks=true (scripts/test.sh does)");
}
