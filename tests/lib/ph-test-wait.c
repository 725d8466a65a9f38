/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-test-wait"

#include "config.h"

#include "ph-test-wait.h"

/* Valgrind's memcheck runs code 10 to 50 times slower; a bound twenty
 * times as long has held for every test here. */
#define VALGRIND_SLOWDOWN 20

gboolean
ph_test_under_valgrind (void)
{
  return g_getenv ("PINHOLE_TEST_UNDER_VALGRIND") != NULL;
}

double
ph_test_scaled_seconds (double seconds)
{
  return ph_test_under_valgrind () ? seconds * VALGRIND_SLOWDOWN : seconds;
}

guint
ph_test_scaled_ms (guint milliseconds)
{
  return (guint)(ph_test_scaled_seconds (milliseconds / 1000.0) * 1000);
}

static gboolean
set_true_cb (gpointer user_data)
{
  gboolean *flag = user_data;

  *flag = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean
ph_test_wait_for_flag (gboolean *flag, guint timeout_ms)
{
  gboolean timed_out = FALSE;
  guint timeout_id = g_timeout_add (timeout_ms, set_true_cb, &timed_out);

  while (!*flag && !timed_out)
    g_main_context_iteration (NULL, TRUE);

  if (!timed_out)
    g_source_remove (timeout_id);
  return *flag;
}

gboolean
ph_test_wait_until (gboolean (*check) (gpointer data), gpointer data, guint timeout_ms)
{
  gboolean timed_out = FALSE;
  guint timeout_id = g_timeout_add (timeout_ms, set_true_cb, &timed_out);

  while (!check (data) && !timed_out)
    g_main_context_iteration (NULL, TRUE);

  if (!timed_out)
    g_source_remove (timeout_id);
  return check (data);
}

void
ph_test_run_for (guint milliseconds)
{
  gboolean done = FALSE;

  g_timeout_add (milliseconds, set_true_cb, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

void
ph_test_result_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **out_result = user_data;

  *out_result = g_object_ref (result);
}

static gboolean
has_result (gpointer data)
{
  return *(GAsyncResult **)data != NULL;
}

GAsyncResult *
ph_test_wait_for_result (GAsyncResult **result, guint timeout_ms)
{
  if (!ph_test_wait_until (has_result, result, timeout_ms))
    g_error ("the operation did not finish within %u ms", timeout_ms);
  return *result;
}
