/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "pinhole-cli"

#include "config.h"

#include <glib-unix.h>
#include <gio/gunixinputstream.h>
#include <signal.h>
#include <unistd.h>

#include "ph-cli-contacts.h"
#include "ph-cli-meet.h"
#include "ph-contact-meetings.h"
#include "ph-error.h"

/* `chat CONTACT` and `listen`: meeting saved contacts again without a
 * code (ph-contact-meetings.h). */

/* A message typed to the contact: the same id whichever way it goes
 * (directly in each conversation, as a stored copy), so the contact tells
 * it once. */
typedef struct
{
  char *text;
  char *id;
  gint64 time_ms;
  gboolean storing;
  gboolean stored; /* a sealed copy waits on the server */
} Outgoing;

typedef struct
{
  GMainLoop *loop;
  PhCliOutput *output;
  PhContactBook *book;
  PhContactMeetings *meetings;
  PhContact *contact; /* `chat`: the one contact; NULL for `listen` */
  GDataInputStream *input;
  GCancellable *cancellable;
  GPtrArray *undelivered; /* of Outgoing, in the order typed */
  guint timeout_seconds;
  guint timeout_id;
  gboolean leave_copies;
  gboolean told_waiting;
  gboolean contact_offline; /* after the first look, until they are back */
  gboolean input_ended;
  gboolean finishing;
  int exit_status;
} Meet;

static void
outgoing_free (Outgoing *outgoing)
{
  g_free (outgoing->text);
  g_free (outgoing->id);
  g_free (outgoing);
}

static const char *
contact_name (PhConversation *conversation)
{
  return ph_contact_get_name (ph_conversation_get_meeting_contact (conversation));
}

static Outgoing *
find_outgoing (Meet *meet, const char *id, guint *out_position)
{
  for (guint i = 0; i < meet->undelivered->len; i++)
    {
      Outgoing *outgoing = g_ptr_array_index (meet->undelivered, i);

      if (g_str_equal (outgoing->id, id))
        {
          if (out_position != NULL)
            *out_position = i;
          return outgoing;
        }
    }
  return NULL;
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

/* At the end of input, once each message was delivered or waits on the
 * server. */
static void
maybe_finish (Meet *meet)
{
  if (meet->contact == NULL || !meet->input_ended)
    return;
  for (guint i = 0; i < meet->undelivered->len; i++)
    if (!((Outgoing *)g_ptr_array_index (meet->undelivered, i))->stored)
      return;
  finish (meet, 0);
}

static void
timeout_cb (gpointer user_data)
{
  Meet *meet = user_data;
  guint waiting = 0;
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < meet->undelivered->len; i++)
    waiting += !((Outgoing *)g_ptr_array_index (meet->undelivered, i))->stored;
  error = g_error_new (PH_ERROR, PH_ERROR_TIMEOUT,
                       "%u message(s) did not reach %s within %u s; start `chat` again to send "
                       "them.",
                       waiting, ph_contact_get_name (meet->contact), meet->timeout_seconds);

  meet->timeout_id = 0;
  ph_cli_output_error (meet->output, error);
  finish (meet, 1);
}

/* Messages */

static void
hand_over (Meet *meet, PhConversation *conversation, Outgoing *outgoing)
{
  g_autoptr (GError) error = NULL;

  if (ph_conversation_send_message_with_id (conversation, outgoing->id, outgoing->time_ms,
                                            outgoing->text, &error))
    ph_cli_output_sent (meet->output, outgoing->id, outgoing->text);
  else
    ph_cli_output_error (meet->output, error);
}

typedef struct
{
  Meet *meet;
  char *id;
} CopyLeaving;

static void
copy_left_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autofree CopyLeaving *leaving = user_data;
  g_autofree char *id = leaving->id;
  Meet *meet = leaving->meet;
  g_autoptr (GError) error = NULL;
  /* The message may have been delivered (and freed) meanwhile. */
  Outgoing *outgoing = find_outgoing (meet, id, NULL);

  if (!ph_contact_meetings_leave_copy_finish (PH_CONTACT_MEETINGS (source), result, &error))
    {
      if (outgoing != NULL)
        outgoing->storing = FALSE;
      ph_cli_output_error (meet->output, error);
      return;
    }
  ph_cli_output_stored (meet->output, id, ph_contact_get_name (meet->contact));
  if (outgoing != NULL)
    outgoing->stored = TRUE;
  maybe_finish (meet);
}

/* While the contact is away, a sealed copy of each message waits for them
 * on the server (ph-sealed-mail.h); it still goes directly if they come
 * back while this runs. */
static void
leave_copies (Meet *meet)
{
  if (!meet->leave_copies || !meet->contact_offline
      || !ph_contact_meetings_can_leave_copy (meet->meetings, meet->contact))
    return;
  for (guint i = 0; i < meet->undelivered->len; i++)
    {
      Outgoing *outgoing = g_ptr_array_index (meet->undelivered, i);
      CopyLeaving *leaving;

      if (outgoing->storing || outgoing->stored)
        continue;
      outgoing->storing = TRUE;
      leaving = g_new0 (CopyLeaving, 1);
      leaving->meet = meet;
      leaving->id = g_strdup (outgoing->id);
      ph_contact_meetings_leave_copy_async (meet->meetings, meet->contact, outgoing->id,
                                            outgoing->time_ms, outgoing->text, copy_left_cb,
                                            leaving);
    }
}

static PhConversation *
live_conversation (Meet *meet)
{
  PhConversation *conversation
      = ph_contact_meetings_get_conversation (meet->meetings, meet->contact);

  if (conversation == NULL
      || ph_conversation_get_state (conversation) >= PH_CONVERSATION_STATE_CLOSED)
    return NULL;
  return conversation;
}

static void read_next_line (Meet *meet);

static void
line_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Meet *meet = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;
  gsize length;
  Outgoing *outgoing;
  PhConversation *conversation;

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
  outgoing = g_new0 (Outgoing, 1);
  outgoing->text = g_steal_pointer (&line);
  outgoing->id = g_uuid_string_random ();
  outgoing->time_ms = g_get_real_time () / 1000;
  g_ptr_array_add (meet->undelivered, outgoing);
  conversation = live_conversation (meet);
  if (conversation != NULL)
    hand_over (meet, conversation, outgoing);
  leave_copies (meet);
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
message_received_cb (PhContactMeetings *meetings, PhContact *contact, const char *id,
                     gint64 time_ms, const char *text, Meet *meet)
{
  ph_cli_output_contact_message (meet->output, id, contact, text);
}

static void
message_delivered_cb (PhContactMeetings *meetings, PhContact *contact, const char *id, Meet *meet)
{
  guint position;

  ph_cli_output_delivered (meet->output, id);
  if (find_outgoing (meet, id, &position) != NULL)
    g_ptr_array_remove_index (meet->undelivered, position);
  maybe_finish (meet);
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
  /* What an earlier conversation did not deliver goes again in this one. */
  if (meet->contact != NULL)
    for (guint i = 0; i < meet->undelivered->len; i++)
      hand_over (meet, conversation, g_ptr_array_index (meet->undelivered, i));
}

static void
presence_changed_cb (PhContactMeetings *meetings, PhContact *contact, Meet *meet)
{
  gboolean online = ph_contact_meetings_is_online (meetings, contact);

  ph_cli_output_presence (meet->output, ph_contact_get_name (contact), online);
  if (meet->contact == NULL)
    return;
  meet->contact_offline = !online && live_conversation (meet) == NULL;
  if (meet->contact_offline && !meet->told_waiting)
    {
      meet->told_waiting = TRUE;
      ph_cli_output_waiting (meet->output, ph_contact_get_name (contact));
    }
  leave_copies (meet);
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
  finish (meet, meet->contact != NULL && meet->undelivered->len > 0 ? 1 : 0);
  return G_SOURCE_CONTINUE;
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
  meet.undelivered = g_ptr_array_new_with_free_func ((GDestroyNotify)outgoing_free);
  meet.timeout_seconds = options->timeout_seconds;
  meet.leave_copies = options->leave_copies;
  meet.meetings = ph_contact_meetings_new (options->rendezvous, meet.book, options->name,
                                           options->ice_config, options->use_server_turn);
  g_signal_connect (meet.meetings, "conversation-started", G_CALLBACK (conversation_started_cb),
                    &meet);
  g_signal_connect (meet.meetings, "presence-changed", G_CALLBACK (presence_changed_cb), &meet);
  g_signal_connect (meet.meetings, "message-received", G_CALLBACK (message_received_cb), &meet);
  g_signal_connect (meet.meetings, "message-delivered", G_CALLBACK (message_delivered_cb), &meet);
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
  g_clear_object (&meet.meetings);
  g_clear_object (&meet.contact);
  g_clear_object (&meet.book);
  g_clear_object (&meet.cancellable);
  g_ptr_array_unref (meet.undelivered);
  g_main_loop_unref (meet.loop);
  return meet.exit_status;
}
