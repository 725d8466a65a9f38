/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Waiting on the default main context with a bound, and the bounds
 * themselves: valgrind runs the code many times slower, so a bound on
 * wall-clock time (a hang, "within 2 s") stretches there. Lower bounds
 * ("not before 1 s") do not: a slow run cannot make them fail. */

/* TRUE under the valgrind test setup (PINHOLE_TEST_UNDER_VALGRIND). */
gboolean ph_test_under_valgrind (void);
/* The bound to use for an upper bound of @seconds of wall-clock time. */
double ph_test_scaled_seconds (double seconds);
/* ph_test_scaled_seconds() in milliseconds, for GLib's timeouts. */
guint ph_test_scaled_ms (guint milliseconds);

/* Iterates the default main context until *@flag is TRUE or @timeout_ms
 * passes; returns *@flag. */
gboolean ph_test_wait_for_flag (gboolean *flag, guint timeout_ms);
/* Iterates the default main context until @check returns TRUE or
 * @timeout_ms passes; returns the last answer of @check. */
gboolean ph_test_wait_until (gboolean (*check) (gpointer data), gpointer data, guint timeout_ms);
/* Iterates the default main context for @milliseconds, for what must
 * happen, or must not, while time passes. */
void ph_test_run_for (guint milliseconds);

/* A GAsyncReadyCallback that keeps a reference to the result in the
 * GAsyncResult * that @user_data points to. */
void ph_test_result_cb (GObject *source, GAsyncResult *result, gpointer user_data);
/* Waits up to @timeout_ms until ph_test_result_cb() filled *@result;
 * returns *@result, or fails the test on the hang. */
GAsyncResult *ph_test_wait_for_result (GAsyncResult **result, guint timeout_ms);

G_END_DECLS
