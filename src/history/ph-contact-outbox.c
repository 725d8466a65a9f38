/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-contact-outbox"

#include "config.h"

#include <string.h>

#include "ph-contact-outbox.h"
#include "ph-error.h"
#include "ph-frame.h"

typedef struct
{
  char *id;
  gint64 time_ms;
  char *text;
  gboolean storing;
  gboolean stored; /* a sealed copy waits on the server */
  guint handed_to; /* the conversation it was last written to (a serial), or 0 */
} Outgoing;

struct _PhContactOutbox
{
  GObject parent_instance;

  PhContactMeetings *meetings;
  PhContact *contact;
  PhHistory *history; /* NULL: nothing is kept */
  PhHistoryConversation *record;
  gboolean leave_copies;
  gboolean looked;           /* the meetings' first look is done: presence is known */
  guint conversation_serial; /* counts the contact's conversations */
  GPtrArray *undelivered;    /* of Outgoing, oldest first */
  GHashTable *received;      /* ids of the contact's messages, in any run */
};

G_DEFINE_FINAL_TYPE (PhContactOutbox, ph_contact_outbox, G_TYPE_OBJECT)

enum
{
  SIGNAL_MESSAGE_SENT,
  SIGNAL_MESSAGE_STORED,
  SIGNAL_MESSAGE_DELIVERED,
  SIGNAL_MESSAGE_RECEIVED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
outgoing_free (Outgoing *outgoing)
{
  g_free (outgoing->id);
  g_free (outgoing->text);
  g_free (outgoing);
}

static Outgoing *
find_undelivered (PhContactOutbox *self, const char *id, guint *out_position)
{
  for (guint i = 0; i < self->undelivered->len; i++)
    {
      Outgoing *outgoing = g_ptr_array_index (self->undelivered, i);

      if (g_str_equal (outgoing->id, id))
        {
          if (out_position != NULL)
            *out_position = i;
          return outgoing;
        }
    }
  return NULL;
}

static gboolean
is_our_contact (PhContactOutbox *self, PhContact *contact)
{
  return ph_contact_equal (contact, self->contact);
}

/* The history */

static void
keep_state (PhContactOutbox *self, const char *id, PhHistoryMessageState state)
{
  g_autoptr (GError) error = NULL;

  if (self->history != NULL
      && !ph_history_set_message_state (self->history, self->record->id, id, state, NULL, &error))
    g_warning ("The history did not keep a message's state: %s", error->message);
}

/* The contact's conversation, made on the first run. */
static gboolean
find_or_add_record (PhContactOutbox *self, GError **error)
{
  g_autofree char *id = ph_history_contact_conversation_id (ph_contact_get_id (self->contact));
  g_autoptr (GPtrArray) records = ph_history_list_conversations (self->history, error);

  if (records == NULL)
    return FALSE;
  for (guint i = 0; i < records->len; i++)
    {
      const PhHistoryConversation *record = records->pdata[i];

      if (g_str_equal (record->id, id))
        {
          self->record = ph_history_conversation_copy (record);
          return TRUE;
        }
    }
  self->record = ph_history_conversation_new ();
  g_free (self->record->id);
  self->record->id = g_steal_pointer (&id);
  self->record->peer_name = g_strdup (ph_contact_get_name (self->contact));
  return ph_history_add_conversation (self->history, self->record, error);
}

/* What earlier runs left: the contact's messages (so a copy fetched again
 * is not shown again) and ours not delivered yet, the outbox. */
static gboolean
restore (PhContactOutbox *self, GError **error)
{
  g_autoptr (GPtrArray) messages = NULL;

  if (!find_or_add_record (self, error))
    return FALSE;
  messages = ph_history_list_messages_before (self->history, self->record->id, 0, 0, error);
  if (messages == NULL)
    return FALSE;
  for (guint i = 0; i < messages->len; i++)
    {
      const PhHistoryMessage *message = messages->pdata[i];
      Outgoing *outgoing;

      if (!message->outgoing)
        {
          g_hash_table_add (self->received, g_strdup (message->id));
          continue;
        }
      if (message->state != PH_HISTORY_MESSAGE_SENDING && message->state != PH_HISTORY_MESSAGE_SENT)
        continue;
      outgoing = g_new0 (Outgoing, 1);
      outgoing->id = g_strdup (message->id);
      outgoing->time_ms = message->time_ms;
      outgoing->text = g_strdup (message->text);
      /* Ours is "sent" in the history once its copy is on the server. */
      outgoing->stored = message->state == PH_HISTORY_MESSAGE_SENT;
      g_ptr_array_add (self->undelivered, outgoing);
    }
  return TRUE;
}

/* Delivering */

PhConversation *
ph_contact_outbox_get_live_conversation (PhContactOutbox *self)
{
  PhConversation *conversation;
  PhConversationState state;

  g_return_val_if_fail (PH_IS_CONTACT_OUTBOX (self), NULL);

  conversation = ph_contact_meetings_get_conversation (self->meetings, self->contact);
  if (conversation == NULL || ph_conversation_get_contact (conversation) == NULL)
    return NULL;
  state = ph_conversation_get_state (conversation);
  if (state != PH_CONVERSATION_STATE_CONNECTED && state != PH_CONVERSATION_STATE_RECONNECTING)
    return NULL;
  return conversation;
}

typedef struct
{
  PhContactOutbox *self; /* a reference */
  char *id;
} CopyLeaving;

static void
copy_left_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autofree CopyLeaving *leaving = user_data;
  g_autoptr (PhContactOutbox) self = leaving->self;
  g_autofree char *id = leaving->id;
  g_autoptr (GError) error = NULL;
  /* Delivered directly meanwhile, it is gone. */
  Outgoing *outgoing = find_undelivered (self, id, NULL);

  if (!ph_contact_meetings_leave_copy_finish (PH_CONTACT_MEETINGS (source), result, &error))
    {
      if (outgoing != NULL)
        outgoing->storing = FALSE;
      g_warning ("A message to %s did not reach the server: %s",
                 ph_contact_get_name (self->contact), error->message);
      return;
    }
  if (outgoing == NULL)
    return;
  outgoing->storing = FALSE;
  outgoing->stored = TRUE;
  keep_state (self, id, PH_HISTORY_MESSAGE_SENT);
  g_signal_emit (self, signals[SIGNAL_MESSAGE_STORED], 0, id);
}

static void
leave_copy (PhContactOutbox *self, Outgoing *outgoing)
{
  CopyLeaving *leaving = g_new0 (CopyLeaving, 1);

  outgoing->storing = TRUE;
  leaving->self = g_object_ref (self);
  leaving->id = g_strdup (outgoing->id);
  ph_contact_meetings_leave_copy_async (self->meetings, self->contact, outgoing->id,
                                        outgoing->time_ms, outgoing->text, copy_left_cb, leaving);
}

/* Every message not delivered yet, in order: directly when the contact is
 * connected, else as a copy once they are known to be away. */
static void
deliver_all (PhContactOutbox *self)
{
  PhConversation *conversation = ph_contact_outbox_get_live_conversation (self);
  gboolean away = self->looked && !ph_contact_meetings_is_online (self->meetings, self->contact);
  gboolean can_leave = self->leave_copies && away
                       && ph_contact_meetings_can_leave_copy (self->meetings, self->contact);

  for (guint i = 0; i < self->undelivered->len; i++)
    {
      Outgoing *outgoing = g_ptr_array_index (self->undelivered, i);
      g_autoptr (GError) error = NULL;

      if (conversation != NULL && outgoing->handed_to != self->conversation_serial)
        {
          outgoing->handed_to = self->conversation_serial;
          if (!ph_conversation_send_message_with_id (conversation, outgoing->id, outgoing->time_ms,
                                                     outgoing->text, &error))
            g_warning ("A message to %s was not sent: %s", ph_contact_get_name (self->contact),
                       error->message);
        }
      else if (can_leave && !outgoing->stored && !outgoing->storing)
        leave_copy (self, outgoing);
    }
}

/* What the meetings say */

static void
presence_cb (PhContactOutbox *self, PhContact *contact, PhContactMeetings *meetings)
{
  if (!is_our_contact (self, contact))
    return;
  self->looked = TRUE;
  deliver_all (self);
}

static void
received_cb (PhContactOutbox *self, PhContact *contact, const char *id, gint64 time_ms,
             const char *text, PhContactMeetings *meetings)
{
  g_autoptr (GError) error = NULL;

  if (!is_our_contact (self, contact) || g_hash_table_contains (self->received, id))
    return;
  g_hash_table_add (self->received, g_strdup (id));
  if (self->history != NULL)
    {
      g_autoptr (PhHistoryMessage) message
          = ph_history_message_new (self->record->id, id, FALSE, time_ms, text);

      if (!ph_history_add_message (self->history, message, &error))
        g_warning ("The history did not keep a message from %s: %s",
                   ph_contact_get_name (self->contact), error->message);
    }
  g_signal_emit (self, signals[SIGNAL_MESSAGE_RECEIVED], 0, id, time_ms, text);
}

static void
delivered_cb (PhContactOutbox *self, PhContact *contact, const char *id,
              PhContactMeetings *meetings)
{
  guint position;

  if (!is_our_contact (self, contact) || find_undelivered (self, id, &position) == NULL)
    return;
  g_ptr_array_remove_index (self->undelivered, position);
  keep_state (self, id, PH_HISTORY_MESSAGE_DELIVERED);
  g_signal_emit (self, signals[SIGNAL_MESSAGE_DELIVERED], 0, id);
}

static void
identity_proven_cb (PhContactOutbox *self, GParamSpec *pspec, PhConversation *conversation)
{
  if (ph_conversation_get_contact (conversation) != NULL)
    deliver_all (self);
}

static void
sent_cb (PhContactOutbox *self, const char *id, PhConversation *conversation)
{
  Outgoing *outgoing = find_undelivered (self, id, NULL);

  if (outgoing == NULL)
    return;
  /* A stored message stays "sent" in the history as it already is. */
  if (!outgoing->stored)
    keep_state (self, id, PH_HISTORY_MESSAGE_SENT);
  g_signal_emit (self, signals[SIGNAL_MESSAGE_SENT], 0, id);
}

static void
conversation_started_cb (PhContactOutbox *self, PhContact *contact, PhConversation *conversation,
                         PhContactMeetings *meetings)
{
  if (!is_our_contact (self, contact))
    return;
  /* It replaces the last one: everything goes again in it. */
  self->conversation_serial++;
  g_signal_connect_object (conversation, "notify::contact", G_CALLBACK (identity_proven_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (conversation, "message-sent", G_CALLBACK (sent_cb), self,
                           G_CONNECT_SWAPPED);
}

/* API */

PhContactOutbox *
ph_contact_outbox_new (PhContactMeetings *meetings, PhContact *contact, PhHistory *history,
                       gboolean leave_copies)
{
  PhContactOutbox *self;
  g_autoptr (GError) error = NULL;

  g_return_val_if_fail (PH_IS_CONTACT_MEETINGS (meetings), NULL);
  g_return_val_if_fail (PH_IS_CONTACT (contact), NULL);
  g_return_val_if_fail (history == NULL || PH_IS_HISTORY (history), NULL);

  self = g_object_new (PH_TYPE_CONTACT_OUTBOX, NULL);
  self->meetings = g_object_ref (meetings);
  self->contact = g_object_ref (contact);
  self->leave_copies = leave_copies;
  if (history != NULL)
    {
      self->history = g_object_ref (history);
      if (!restore (self, &error))
        {
          g_warning ("What is said with %s will not be kept: %s", ph_contact_get_name (contact),
                     error->message);
          g_clear_object (&self->history);
        }
    }
  g_signal_connect_object (meetings, "presence-changed", G_CALLBACK (presence_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (meetings, "message-received", G_CALLBACK (received_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (meetings, "message-delivered", G_CALLBACK (delivered_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (meetings, "conversation-started", G_CALLBACK (conversation_started_cb),
                           self, G_CONNECT_SWAPPED);
  return self;
}

PhContact *
ph_contact_outbox_get_contact (PhContactOutbox *self)
{
  g_return_val_if_fail (PH_IS_CONTACT_OUTBOX (self), NULL);

  return self->contact;
}

void
ph_contact_outbox_set_leave_copies (PhContactOutbox *self, gboolean leave_copies)
{
  g_return_if_fail (PH_IS_CONTACT_OUTBOX (self));

  self->leave_copies = leave_copies;
  deliver_all (self);
}

const PhHistoryConversation *
ph_contact_outbox_get_record (PhContactOutbox *self)
{
  g_return_val_if_fail (PH_IS_CONTACT_OUTBOX (self), NULL);

  return self->history != NULL ? self->record : NULL;
}

char *
ph_contact_outbox_send (PhContactOutbox *self, const char *text, GError **error)
{
  Outgoing *outgoing;

  g_return_val_if_fail (PH_IS_CONTACT_OUTBOX (self), NULL);
  g_return_val_if_fail (text != NULL, NULL);

  if (strlen (text) > PH_FRAME_MAX_TEXT_SIZE)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_TOO_LARGE,
                   "The message is %zu bytes long; at most %d bytes fit in one message.",
                   strlen (text), PH_FRAME_MAX_TEXT_SIZE);
      return NULL;
    }
  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error_literal (error, PH_ERROR, PH_ERROR_FAILED, "The message is not valid UTF-8.");
      return NULL;
    }

  outgoing = g_new0 (Outgoing, 1);
  outgoing->id = g_uuid_string_random ();
  outgoing->time_ms = g_get_real_time () / 1000;
  outgoing->text = g_strdup (text);
  /* Kept before it goes anywhere: it survives a crash as the outbox. */
  if (self->history != NULL)
    {
      g_autoptr (PhHistoryMessage) message = ph_history_message_new (
          self->record->id, outgoing->id, TRUE, outgoing->time_ms, outgoing->text);
      g_autoptr (GError) history_error = NULL;

      if (!ph_history_add_message (self->history, message, &history_error))
        {
          g_set_error (error, PH_ERROR, PH_ERROR_FAILED, "The message was not kept: %s",
                       history_error->message);
          outgoing_free (outgoing);
          return NULL;
        }
    }
  g_ptr_array_add (self->undelivered, outgoing);
  deliver_all (self);
  return g_strdup (outgoing->id);
}

guint
ph_contact_outbox_get_undelivered (PhContactOutbox *self)
{
  g_return_val_if_fail (PH_IS_CONTACT_OUTBOX (self), 0);

  return self->undelivered->len;
}

guint
ph_contact_outbox_get_unsettled (PhContactOutbox *self)
{
  guint n = 0;

  g_return_val_if_fail (PH_IS_CONTACT_OUTBOX (self), 0);

  for (guint i = 0; i < self->undelivered->len; i++)
    n += !((Outgoing *)g_ptr_array_index (self->undelivered, i))->stored;
  return n;
}

GStrv
ph_contact_outbox_dup_undelivered_ids (PhContactOutbox *self)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  g_return_val_if_fail (PH_IS_CONTACT_OUTBOX (self), NULL);

  for (guint i = 0; i < self->undelivered->len; i++)
    g_strv_builder_add (builder, ((Outgoing *)g_ptr_array_index (self->undelivered, i))->id);
  return g_strv_builder_end (builder);
}

static void
ph_contact_outbox_finalize (GObject *object)
{
  PhContactOutbox *self = PH_CONTACT_OUTBOX (object);

  g_ptr_array_unref (self->undelivered);
  g_hash_table_unref (self->received);
  g_clear_pointer (&self->record, ph_history_conversation_free);
  g_clear_object (&self->history);
  g_clear_object (&self->contact);
  g_clear_object (&self->meetings);

  G_OBJECT_CLASS (ph_contact_outbox_parent_class)->finalize (object);
}

static void
ph_contact_outbox_class_init (PhContactOutboxClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ph_contact_outbox_finalize;

  signals[SIGNAL_MESSAGE_SENT]
      = g_signal_new ("message-sent", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_MESSAGE_STORED]
      = g_signal_new ("message-stored", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_MESSAGE_DELIVERED]
      = g_signal_new ("message-delivered", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                      NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_MESSAGE_RECEIVED]
      = g_signal_new ("message-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                      NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_INT64, G_TYPE_STRING);
}

static void
ph_contact_outbox_init (PhContactOutbox *self)
{
  self->undelivered = g_ptr_array_new_with_free_func ((GDestroyNotify)outgoing_free);
  self->received = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}
