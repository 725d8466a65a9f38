/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* A child process of the test (pinhole-rendezvous, pinhole-cli) whose
 * standard output is read line by line on the main context, so a test can
 * wait for "the next event of this kind" with a bound instead of sleeping.
 * Pass bounds through ph_test_scaled_ms() (ph-test-wait.h). */

typedef struct _PhTestProcess PhTestProcess;

/* Spawns @argv with piped stdin/stdout; stderr goes to the test's stderr.
 * @envp changes the environment: a NULL-terminated list of "NAME=VALUE"
 * to set and "NAME" to unset. */
PhTestProcess *ph_test_process_spawn (const char *const *argv, const char *const *envp);
/* The same, with stderr written to the file @stderr_path. */
PhTestProcess *ph_test_process_spawn_logged (const char *const *argv, const char *const *envp,
                                             const char *stderr_path);
/* Waits up to @timeout_ms for the next stdout line. */
char *ph_test_process_read_line (PhTestProcess *self, guint timeout_ms);
/* Waits up to @timeout_ms for a JSON event line whose "event" is @event,
 * skipping others (kept in ph_test_process_get_events). Fails the test on
 * timeout, on a line that is not a JSON object, or when the process exits
 * first. */
JsonObject *ph_test_process_wait_event (PhTestProcess *self, const char *event, guint timeout_ms);
/* Waits up to @timeout_ms for an event named in @events, skipping other
 * lines; NULL when none comes in time or the process ends first. Unlike
 * ph_test_process_wait_event() this does not fail the test. */
JsonObject *ph_test_process_next_event (PhTestProcess *self, const char *const *events,
                                        guint timeout_ms);
/* Every JSON event read so far, in order. */
GPtrArray *ph_test_process_get_events (PhTestProcess *self);
void ph_test_process_write_line (PhTestProcess *self, const char *line);
void ph_test_process_close_stdin (PhTestProcess *self);
void ph_test_process_kill (PhTestProcess *self, int signum);
/* Waits up to @timeout_ms for the exit; returns the exit status (or 128 +
 * signal number). Fails the test on timeout. */
int ph_test_process_wait_exit (PhTestProcess *self, guint timeout_ms);
/* Sends SIGTERM, as a service manager does, and waits for the exit;
 * returns ph_test_process_wait_exit(). */
int ph_test_process_stop (PhTestProcess *self);
void ph_test_process_free (PhTestProcess *self);

/* The JSON object on @line (one event of `pinhole-cli --json`), or NULL
 * when the line is not one. */
JsonObject *ph_test_parse_event (const char *line);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhTestProcess, ph_test_process_free)

G_END_DECLS
