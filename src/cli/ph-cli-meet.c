/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "pinhole-cli"

#include "config.h"

#include <glib-unix.h>
#include <gio/gunixinputstream.h>
#include <signal.h>
#include <unistd.h>

#include "ph-cli-contacts.h"
#include "ph-cli-meet.h"
#include "ph-contact-outbox.h"
#include "ph-error.h"

/* `chat CONTACT` and `listen`: meeting saved contacts again without a
 * code (ph-contact-meetings.h), with what is said kept in the profile's
 * history, so that what one run did not deliver the next one does
 * (ph-contact-outbox.h). */

typedef struct
{
  GMainLoop *loop;
  PhCliOutput *output;
  PhContactBook *book;
  PhHistory *history; /* NULL: nothing outlives this run */
  PhContactMeetings *meetings;
  PhContact *contact;  /* `chat`: the one contact; NULL for `listen` */
  GPtrArray *outboxes; /* of PhContactOutbox: the contact's, or every contact's */
  GDataInputStream *input;
  GCancellable *cancellable;
  guint timeout_seconds;
  guint timeout_id;
  gboolean told_waiting;
  gboolean input_ended;
  gboolean finishing;
  int exit_status;
} Meet;

static const char *
contact_name (PhConversation *conversation)
{
  return ph_contact_get_name (ph_conversation_get_meeting_contact (conversation));
}

static PhContactOutbox *
chat_outbox (Meet *meet)
{
  return g_ptr_array_index (meet->outboxes, 0);
}

/* Leaving */

static void
meetings_left_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Meet *meet = user_data;
  PhConversation *conversation = NULL;

  ph_contact_meetings_leave_finish (PH_CONTACT_MEETINGS (source), result);
  if (meet->contact != NULL)
    conversation = ph_contact_meetings_get_conversation (meet->meetings, meet->contact);
  /* Its "closed" ends the loop. */
  if (conversation != NULL
      && ph_conversation_get_state (conversation) == PH_CONVERSATION_STATE_CONNECTED)
    ph_conversation_leave (conversation);
  else
    g_main_loop_quit (meet->loop);
}

static void
finish (Meet *meet, int status)
{
  if (meet->finishing)
    return;
  meet->finishing = TRUE;
  meet->exit_status = status;
  g_clear_handle_id (&meet->timeout_id, g_source_remove);
  g_cancellable_cancel (meet->cancellable);
  ph_contact_meetings_leave_async (meet->meetings, meetings_left_cb, meet);
}

/* At the end of input, once each message (of this run or an earlier one)
 * was delivered or waits on the server. */
static void
maybe_finish (Meet *meet)
{
  if (meet->contact != NULL && meet->input_ended
      && ph_contact_outbox_get_unsettled (chat_outbox (meet)) == 0)
    finish (meet, 0);
}

static void
timeout_cb (gpointer user_data)
{
  Meet *meet = user_data;
  g_autoptr (GError) error = g_error_new (
      PH_ERROR, PH_ERROR_TIMEOUT,
      "%u message(s) did not reach %s within %u s; they are kept and go with the next `chat` or "
      "`listen`.",
      ph_contact_outbox_get_unsettled (chat_outbox (meet)), ph_contact_get_name (meet->contact),
      meet->timeout_seconds);

  meet->timeout_id = 0;
  ph_cli_output_error (meet->output, error);
  finish (meet, 1);
}

/* Messages */

static void
stored_cb (PhContactOutbox *outbox, const char *id, Meet *meet)
{
  ph_cli_output_stored (meet->output, id,
                        ph_contact_get_name (ph_contact_outbox_get_contact (outbox)));
  maybe_finish (meet);
}

static void
delivered_cb (PhContactOutbox *outbox, const char *id, Meet *meet)
{
  ph_cli_output_delivered (meet->output, id);
  maybe_finish (meet);
}

static void
received_cb (PhContactOutbox *outbox, const char *id, gint64 time_ms, const char *text, Meet *meet)
{
  ph_cli_output_contact_message (meet->output, id, ph_contact_outbox_get_contact (outbox), text);
}

static void
add_outbox (Meet *meet, PhContact *contact, gboolean leave_copies)
{
  PhContactOutbox *outbox
      = ph_contact_outbox_new (meet->meetings, contact, meet->history, leave_copies);

  g_signal_connect (outbox, "message-stored", G_CALLBACK (stored_cb), meet);
  g_signal_connect (outbox, "message-delivered", G_CALLBACK (delivered_cb), meet);
  g_signal_connect (outbox, "message-received", G_CALLBACK (received_cb), meet);
  g_ptr_array_add (meet->outboxes, outbox);
}

static void read_next_line (Meet *meet);

static void
line_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Meet *meet = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;
  g_autofree char *id = NULL;
  gsize length;

  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, &length,
                                                    &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (error != NULL)
    {
      ph_cli_output_error (meet->output, error);
      read_next_line (meet);
      return;
    }
  if (line == NULL)
    {
      meet->input_ended = TRUE;
      meet->timeout_id = g_timeout_add_once (meet->timeout_seconds * 1000, timeout_cb, meet);
      maybe_finish (meet);
      return;
    }

  if (length > 0 && line[length - 1] == '\r')
    line[length - 1] = '\0';
  id = ph_contact_outbox_send (chat_outbox (meet), line, &error);
  if (id == NULL)
    ph_cli_output_error (meet->output, error);
  else
    ph_cli_output_sent (meet->output, id, line);
  read_next_line (meet);
}

static void
read_next_line (Meet *meet)
{
  g_data_input_stream_read_line_async (meet->input, G_PRIORITY_DEFAULT, meet->cancellable,
                                       line_read_cb, meet);
}

/* A conversation's events */

static void
identity_proven_cb (PhConversation *conversation, GParamSpec *pspec, Meet *meet)
{
  if (ph_conversation_get_contact (conversation) == NULL)
    return;
  meet->told_waiting = FALSE;
  ph_cli_output_connected (meet->output, contact_name (conversation),
                           ph_conversation_get_setup_times (conversation),
                           ph_conversation_get_path (conversation));
}

static void
closed_cb (PhConversation *conversation, const char *reason, Meet *meet)
{
  ph_cli_output_closed (meet->output, reason);
  if (meet->finishing)
    g_main_loop_quit (meet->loop);
}

/* Someone with the pair secret but not the saved identity is an attack,
 * not a network trouble: `chat` stops at once. */
static void
failed_cb (PhConversation *conversation, const GError *error, Meet *meet)
{
  ph_cli_output_error (meet->output, error);
  if (meet->contact != NULL && g_error_matches (error, PH_ERROR, PH_ERROR_SECURITY))
    finish (meet, 1);
}

static void
conversation_started_cb (PhContactMeetings *meetings, PhContact *contact,
                         PhConversation *conversation, Meet *meet)
{
  g_signal_connect (conversation, "notify::contact", G_CALLBACK (identity_proven_cb), meet);
  g_signal_connect (conversation, "closed", G_CALLBACK (closed_cb), meet);
  g_signal_connect (conversation, "failed", G_CALLBACK (failed_cb), meet);
}

static void
presence_changed_cb (PhContactMeetings *meetings, PhContact *contact, Meet *meet)
{
  gboolean online = ph_contact_meetings_is_online (meetings, contact);

  ph_cli_output_presence (meet->output, ph_contact_get_name (contact), online);
  if (meet->contact != NULL && !online && !meet->told_waiting
      && ph_contact_outbox_get_live_conversation (chat_outbox (meet)) == NULL)
    {
      meet->told_waiting = TRUE;
      ph_cli_output_waiting (meet->output, ph_contact_get_name (contact));
    }
}

static gboolean
interrupt_cb (gpointer user_data)
{
  Meet *meet = user_data;

  if (meet->finishing)
    {
      meet->exit_status = 1;
      g_main_loop_quit (meet->loop);
      return G_SOURCE_CONTINUE;
    }
  finish (meet, meet->contact != NULL && ph_contact_outbox_get_unsettled (chat_outbox (meet)) > 0
                    ? 1
                    : 0);
  return G_SOURCE_CONTINUE;
}

/* The profile's history: what is said with contacts, and the outbox. */
static PhHistory *
open_history (const char *profile)
{
  g_autofree char *path = g_build_filename (profile, PH_CLI_HISTORY_FILE, NULL);
  g_autoptr (GError) error = NULL;
  PhHistory *history = ph_history_open (path, &error);

  if (history == NULL)
    g_printerr ("Messages will not be kept: %s\n", error->message);
  return history;
}

int
ph_cli_run_meet (const PhCliMeetOptions *options, PhCliOutput *output)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) stdin_stream = NULL;
  Meet meet = { 0 };
  guint interrupt_id, terminate_id;

  meet.book = ph_cli_open_contact_book (options->profile, &error);
  if (meet.book == NULL)
    {
      ph_cli_output_error (output, error);
      return 1;
    }
  if (options->contact != NULL)
    {
      meet.contact = ph_contact_book_lookup (meet.book, options->contact, &error);
      if (meet.contact == NULL)
        {
          ph_cli_output_error (output, error);
          g_object_unref (meet.book);
          return 1;
        }
    }

  meet.output = output;
  meet.loop = g_main_loop_new (NULL, FALSE);
  meet.cancellable = g_cancellable_new ();
  meet.timeout_seconds = options->timeout_seconds;
  meet.history = open_history (options->profile);
  meet.meetings = ph_contact_meetings_new (options->rendezvous, meet.book, options->name,
                                           options->ice_config, options->use_server_turn);
  g_signal_connect (meet.meetings, "conversation-started", G_CALLBACK (conversation_started_cb),
                    &meet);
  g_signal_connect (meet.meetings, "presence-changed", G_CALLBACK (presence_changed_cb), &meet);
  meet.outboxes = g_ptr_array_new_with_free_func (g_object_unref);
  if (meet.contact != NULL)
    add_outbox (&meet, meet.contact, options->leave_copies);
  else
    for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (meet.book)); i++)
      {
        g_autoptr (PhContact) contact = g_list_model_get_item (G_LIST_MODEL (meet.book), i);

        /* `listen` delivers what earlier runs left, directly only. */
        add_outbox (&meet, contact, FALSE);
      }
  interrupt_id = g_unix_signal_add (SIGINT, interrupt_cb, &meet);
  terminate_id = g_unix_signal_add (SIGTERM, interrupt_cb, &meet);

  ph_contact_meetings_start (meet.meetings, meet.contact);
  if (meet.contact != NULL)
    {
      stdin_stream = g_unix_input_stream_new (STDIN_FILENO, FALSE);
      meet.input = g_data_input_stream_new (stdin_stream);
      read_next_line (&meet);
    }

  g_main_loop_run (meet.loop);

  g_source_remove (interrupt_id);
  g_source_remove (terminate_id);
  g_clear_handle_id (&meet.timeout_id, g_source_remove);
  g_cancellable_cancel (meet.cancellable);
  g_clear_object (&meet.input);
  g_ptr_array_unref (meet.outboxes);
  g_clear_object (&meet.meetings);
  g_clear_object (&meet.history);
  g_clear_object (&meet.contact);
  g_clear_object (&meet.book);
  g_clear_object (&meet.cancellable);
  g_main_loop_unref (meet.loop);
  return meet.exit_status;
}
