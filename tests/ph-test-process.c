/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-test-process"

#include "config.h"

#include <signal.h>
#include <sys/prctl.h>

#include <glib/gstdio.h>

#include "ph-test-process.h"

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

      g_subprocess_launcher_setenv (launcher, pair[0], pair[1] != NULL ? pair[1] : "", TRUE);
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
timeout_cb (gpointer user_data)
{
  gboolean *timed_out = user_data;

  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

char *
ph_test_process_read_line (PhTestProcess *self, guint timeout_ms)
{
  gboolean timed_out = FALSE;
  guint timeout_id = g_timeout_add (timeout_ms, timeout_cb, &timed_out);

  while (g_queue_is_empty (&self->lines) && !self->stdout_ended && !timed_out)
    g_main_context_iteration (NULL, TRUE);

  if (!timed_out)
    g_source_remove (timeout_id);
  return g_queue_pop_head (&self->lines);
}

JsonObject *
ph_test_process_wait_event (PhTestProcess *self, const char *event, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * (gint64)1000;

  for (;;)
    {
      gint64 left_ms = (deadline - g_get_monotonic_time ()) / 1000;
      g_autofree char *line = NULL;
      g_autoptr (JsonParser) parser = json_parser_new ();
      g_autoptr (GError) error = NULL;
      JsonObject *object;

      if (left_ms <= 0)
        g_error ("%s: no “%s” event within %u ms", self->name, event, timeout_ms);

      line = ph_test_process_read_line (self, left_ms);
      if (line == NULL)
        {
          if (self->stdout_ended)
            g_error ("%s ended its output before a “%s” event", self->name, event);
          continue;
        }

      if (!json_parser_load_from_data (parser, line, -1, &error))
        g_error ("%s printed a line that is not JSON: %s", self->name, line);
      g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
      object = json_node_get_object (json_parser_get_root (parser));
      g_ptr_array_add (self->events, json_object_ref (object));

      if (g_strcmp0 (json_object_get_string_member_with_default (object, "event", ""), event) == 0)
        return json_object_ref (object);
    }
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
  if (!ph_test_wait_for_flag (&written, 10000))
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

void
ph_test_process_free (PhTestProcess *self)
{
  if (!self->exited)
    {
      g_subprocess_force_exit (self->process);
      ph_test_wait_for_flag (&self->exited, 5000);
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

PhTestProcess *
ph_test_start_rendezvous (const char *const *extra_args, char **out_url)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *line = NULL;
  const char *prefix = "pinhole-rendezvous listening on ";
  PhTestProcess *server;

  g_ptr_array_add (argv, (gpointer)g_getenv ("PINHOLE_RENDEZVOUS_BIN"));
  g_ptr_array_add (argv, (gpointer) "--port=0");
  for (guint i = 0; extra_args != NULL && extra_args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer)extra_args[i]);
  g_ptr_array_add (argv, NULL);

  g_assert_nonnull (g_ptr_array_index (argv, 0));
  server = ph_test_process_spawn ((const char *const *)argv->pdata, NULL);
  line = ph_test_process_read_line (server, 10000);
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, prefix));
  *out_url = g_strdup (line + strlen (prefix));
  return server;
}

gboolean
ph_test_wait_for_flag (gboolean *flag, guint timeout_ms)
{
  gboolean timed_out = FALSE;
  guint timeout_id = g_timeout_add (timeout_ms, timeout_cb, &timed_out);

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
  guint timeout_id = g_timeout_add (timeout_ms, timeout_cb, &timed_out);

  while (!check (data) && !timed_out)
    g_main_context_iteration (NULL, TRUE);

  if (!timed_out)
    g_source_remove (timeout_id);
  return check (data);
}

struct _PhTestDeadPort
{
  GSocketService *service;
  guint connections;
};

static gboolean
dead_port_incoming_cb (GSocketService *service, GSocketConnection *connection, GObject *source,
                       PhTestDeadPort *self)
{
  self->connections++;
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  return TRUE;
}

PhTestDeadPort *
ph_test_dead_port_new (guint16 port)
{
  PhTestDeadPort *self = g_new0 (PhTestDeadPort, 1);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, port);
  g_autoptr (GError) error = NULL;

  self->service = g_socket_service_new ();
  g_signal_connect (self->service, "incoming", G_CALLBACK (dead_port_incoming_cb), self);
  g_socket_listener_add_address (G_SOCKET_LISTENER (self->service), address, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, NULL, &error);
  g_assert_no_error (error);
  return self;
}

static gboolean
dead_port_reached (gpointer data)
{
  gpointer *wanted = data;

  return ((PhTestDeadPort *)wanted[0])->connections >= GPOINTER_TO_UINT (wanted[1]);
}

gboolean
ph_test_dead_port_wait (PhTestDeadPort *self, guint count, guint timeout_ms)
{
  gpointer wanted[] = { self, GUINT_TO_POINTER (count) };

  return ph_test_wait_until (dead_port_reached, wanted, timeout_ms);
}

void
ph_test_dead_port_free (PhTestDeadPort *self)
{
  g_socket_service_stop (self->service);
  g_socket_listener_close (G_SOCKET_LISTENER (self->service));
  g_object_unref (self->service);
  g_free (self);
}

void
ph_test_remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir == NULL)
    {
      g_remove (path);
      return;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      ph_test_remove_tree (child);
    }
  g_rmdir (path);
}

void
ph_test_skip_without_hooks (void)
{
  g_test_skip ("needs the test hooks: configure with -Dtest_hooks=true (scripts/test.sh does)");
}
