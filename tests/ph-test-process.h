/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* A child process of the test (pinhole-rendezvous, pinhole-cli) whose
 * standard output is read line by line on the main context, so a test can
 * wait for "the next event of this kind" with a bound instead of sleeping. */

typedef struct _PhTestProcess PhTestProcess;

/* Spawns @argv with piped stdin/stdout; stderr goes to the test's stderr.
 * @envp adds to the environment (NULL-terminated "NAME=VALUE" list). */
PhTestProcess *ph_test_process_spawn (const char *const *argv, const char *const *envp);
/* The same, with stderr written to the file @stderr_path. */
PhTestProcess *ph_test_process_spawn_logged (const char *const *argv, const char *const *envp,
                                             const char *stderr_path);
/* Waits up to @timeout_ms for the next stdout line. */
char *ph_test_process_read_line (PhTestProcess *self, guint timeout_ms);
/* Waits up to @timeout_ms for a JSON event line whose "event" is @event,
 * skipping others (kept in ph_test_process_get_events). Fails the test on
 * timeout or when the process exits first. */
JsonObject *ph_test_process_wait_event (PhTestProcess *self, const char *event, guint timeout_ms);
/* Every JSON event read so far, in order. */
GPtrArray *ph_test_process_get_events (PhTestProcess *self);
void ph_test_process_write_line (PhTestProcess *self, const char *line);
void ph_test_process_close_stdin (PhTestProcess *self);
void ph_test_process_kill (PhTestProcess *self, int signum);
/* Waits up to @timeout_ms for the exit; returns the exit status (or 128 +
 * signal number). Fails the test on timeout. */
int ph_test_process_wait_exit (PhTestProcess *self, guint timeout_ms);
void ph_test_process_free (PhTestProcess *self);

/* Starts pinhole-rendezvous on an ephemeral loopback port; returns its URL. */
PhTestProcess *ph_test_start_rendezvous (const char *const *extra_args, char **out_url);
/* Iterates the default main context until *@flag is TRUE or @timeout_ms
 * passes; returns *@flag. */
gboolean ph_test_wait_for_flag (gboolean *flag, guint timeout_ms);

/* Iterates the default main context until @check returns TRUE or
 * @timeout_ms passes; returns the last answer of @check. */
gboolean ph_test_wait_until (gboolean (*check) (gpointer data), gpointer data, guint timeout_ms);

/* Removes @path and, when it is a directory, everything in it. */
void ph_test_remove_tree (const char *path);

/* Holds a port while its server is away: takes each connection and drops
 * it unanswered, as a server on its way down or up does, and counts them,
 * so a test can wait until the clients have found the server gone. */
typedef struct _PhTestDeadPort PhTestDeadPort;

PhTestDeadPort *ph_test_dead_port_new (guint16 port);
/* Waits up to @timeout_ms until @count connections came; returns whether. */
gboolean ph_test_dead_port_wait (PhTestDeadPort *self, guint count, guint timeout_ms);
/* Closes the port, free for a server again. */
void ph_test_dead_port_free (PhTestDeadPort *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhTestProcess, ph_test_process_free)

/* A test that turns a PINHOLE_TEST_* knob (src/core/testing/ph-test-hooks.h)
 * runs only in a build with -Dtest_hooks=true, as scripts/test.sh makes; in
 * any other build it is registered as skipped, saying why, so it is never
 * counted as passed. */
void ph_test_skip_without_hooks (void);
#ifdef PH_TEST_HOOKS
#define ph_test_add_func_with_hooks(path, func) g_test_add_func (path, func)
#define ph_test_add_with_hooks(path, Fixture, data, setup, func, teardown) \
  g_test_add (path, Fixture, data, setup, func, teardown)
#else
#define ph_test_add_func_with_hooks(path, func) \
  ((void)(func), g_test_add_func (path, ph_test_skip_without_hooks))
#define ph_test_add_with_hooks(path, Fixture, data, setup, func, teardown) \
  ((void)(setup), (void)(func), (void)(teardown), \
   g_test_add_func (path, ph_test_skip_without_hooks))
#endif

G_END_DECLS
