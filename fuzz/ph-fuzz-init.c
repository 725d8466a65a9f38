/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-fuzz"

#include "config.h"

#include <glib.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);

/* A critical means a g_return_if_fail tripped on some input: a bug the
 * fuzzer must report as a crash, not log and carry on past. */
int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  g_setenv ("GIO_USE_PROXY_RESOLVER", "dummy", TRUE);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  return 0;
}
