/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-test-process"

#include "config.h"

#include <signal.h>
#include <sys/prctl.h>

#include "ph-test-process.h"
#include "ph-test-wait.h"

struct _PhTestProcess
{
  GSubprocess *process;
  GDataInputStream *stdout_lines;
  GOutputStream *stdin_pipe;
  GCancellable *cancellable;
  GQueue lines;
  GPtrArray *events; /* of JsonObject */
  gboolean stdout_ended;
  gboolean exited;
  char *name;
};

static void read_next_line (PhTestProcess *self);

static void
line_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PhTestProcess *self = user_data;
  g_autoptr (GError) error = NULL;
  char *line;

  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL,
                                                    &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (line == NULL)
    {
      self->stdout_ended = TRUE;
      return;
    }

  g_test_message ("%s: %s", self->name, line);
  g_queue_push_tail (&self->lines, line);
  read_next_line (self);
}

static void
read_next_line (PhTestProcess *self)
{
  g_data_input_stream_read_line_async (self->stdout_lines, G_PRIORITY_DEFAULT, self->cancellable,
                                       line_read_cb, self);
}

static void
exited_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  gboolean *exited = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *exited = TRUE;
}

/* A test that aborts must not leave its servers and peers behind. */
static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

PhTestProcess *
ph_test_process_spawn (const char *const *argv, const char *const *envp)
{
  return ph_test_process_spawn_logged (argv, envp, NULL);
}

PhTestProcess *
ph_test_process_spawn_logged (const char *const *argv, const char *const *envp,
                              const char *stderr_path)
{
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GError) error = NULL;
  PhTestProcess *self = g_new0 (PhTestProcess, 1);

  launcher
      = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  if (stderr_path != NULL)
    g_subprocess_launcher_set_stderr_file_path (launcher, stderr_path);
  for (guint i = 0; envp != NULL && envp[i] != NULL; i++)
    {
      g_auto (GStrv) pair = g_strsplit (envp[i], "=", 2);

      if (pair[1] != NULL)
        g_subprocess_launcher_setenv (launcher, pair[0], pair[1], TRUE);
      else
        g_subprocess_launcher_unsetenv (launcher, pair[0]);
    }

  self->process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);

  self->name = g_path_get_basename (argv[0]);
  self->cancellable = g_cancellable_new ();
  self->events = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);
  g_queue_init (&self->lines);
  self->stdin_pipe = g_object_ref (g_subprocess_get_stdin_pipe (self->process));
  self->stdout_lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (self->process));
  read_next_line (self);
  g_subprocess_wait_async (self->process, NULL, exited_cb, &self->exited);
  return self;
}

static gboolean
has_line_or_ended (gpointer data)
{
  PhTestProcess *self = data;

  return !g_queue_is_empty (&self->lines) || self->stdout_ended;
}

char *
ph_test_process_read_line (PhTestProcess *self, guint timeout_ms)
{
  ph_test_wait_until (has_line_or_ended, self, timeout_ms);
  return g_queue_pop_head (&self->lines);
}

/* Reads lines until one is an event named in @events; NULL when none
 * comes within @timeout_ms or the output ends. With @strict a line that is
 * not an event fails the test; otherwise it is skipped. */
static JsonObject *
read_event (PhTestProcess *self, const char *const *events, guint timeout_ms, gboolean strict)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * (gint64)1000;

  for (;;)
    {
      gint64 left_ms = (deadline - g_get_monotonic_time ()) / 1000;
      g_autofree char *line = NULL;
      g_autoptr (JsonObject) object = NULL;

      if (left_ms <= 0)
        return NULL;
      line = ph_test_process_read_line (self, (guint)left_ms);
      if (line == NULL)
        {
          if (self->stdout_ended)
            return NULL;
          continue;
        }

      object = ph_test_parse_event (line);
      if (object == NULL)
        {
          if (strict)
            g_error ("%s printed a line that is not a JSON object: %s", self->name, line);
          continue;
        }
      g_ptr_array_add (self->events, json_object_ref (object));

      if (g_strv_contains (events,
                           json_object_get_string_member_with_default (object, "event", "")))
        return g_steal_pointer (&object);
    }
}

JsonObject *
ph_test_process_wait_event (PhTestProcess *self, const char *event, guint timeout_ms)
{
  const char *const events[] = { event, NULL };
  JsonObject *object = read_event (self, events, timeout_ms, TRUE);

  if (object == NULL && self->stdout_ended)
    g_error ("%s ended its output before a “%s” event", self->name, event);
  if (object == NULL)
    g_error ("%s: no “%s” event within %u ms", self->name, event, timeout_ms);
  return object;
}

JsonObject *
ph_test_process_next_event (PhTestProcess *self, const char *const *events, guint timeout_ms)
{
  return read_event (self, events, timeout_ms, FALSE);
}

GPtrArray *
ph_test_process_get_events (PhTestProcess *self)
{
  return self->events;
}

static void
written_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  gboolean *written = user_data;
  g_autoptr (GError) error = NULL;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error);
  g_assert_no_error (error);
  *written = TRUE;
}

void
ph_test_process_write_line (PhTestProcess *self, const char *line)
{
  g_autofree char *with_newline = g_strconcat (line, "\n", NULL);
  gboolean written = FALSE;

  /* Written asynchronously: the child may print while it reads, and its
   * output must be drained meanwhile or both would wait on a full pipe. */
  g_output_stream_write_all_async (self->stdin_pipe, with_newline, strlen (with_newline),
                                   G_PRIORITY_DEFAULT, NULL, written_cb, &written);
  if (!ph_test_wait_for_flag (&written, ph_test_scaled_ms (10000)))
    g_error ("%s did not read its input within 10 s", self->name);
}

void
ph_test_process_close_stdin (PhTestProcess *self)
{
  g_output_stream_close (self->stdin_pipe, NULL, NULL);
}

void
ph_test_process_kill (PhTestProcess *self, int signum)
{
  g_subprocess_send_signal (self->process, signum);
}

int
ph_test_process_wait_exit (PhTestProcess *self, guint timeout_ms)
{
  if (!ph_test_wait_for_flag (&self->exited, timeout_ms))
    g_error ("%s did not exit within %u ms", self->name, timeout_ms);

  if (g_subprocess_get_if_signaled (self->process))
    return 128 + g_subprocess_get_term_sig (self->process);
  return g_subprocess_get_exit_status (self->process);
}

int
ph_test_process_stop (PhTestProcess *self)
{
  ph_test_process_kill (self, SIGTERM);
  return ph_test_process_wait_exit (self, ph_test_scaled_ms (5000));
}

void
ph_test_process_free (PhTestProcess *self)
{
  if (!self->exited)
    {
      g_subprocess_force_exit (self->process);
      ph_test_wait_for_flag (&self->exited, ph_test_scaled_ms (5000));
    }
  g_cancellable_cancel (self->cancellable);
  /* Let the cancelled read report before its stream goes away. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_queue_clear_full (&self->lines, g_free);
  g_ptr_array_unref (self->events);
  g_clear_object (&self->stdout_lines);
  g_clear_object (&self->stdin_pipe);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->process);
  g_free (self->name);
  g_free (self);
}

JsonObject *
ph_test_parse_event (const char *line)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;

  if (!json_parser_load_from_data (parser, line, -1, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  return json_object_ref (json_node_get_object (root));
}
