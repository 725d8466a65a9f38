/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-chat"

#include "config.h"

#include <glib/gi18n.h>

#include "ph-chat.h"
#include "ph-contact-outbox.h"
#include "ph-error-text.h"
#include "ph-error.h"
#include "ph-message-text.h"
#include "ph-untrusted-text.h"

struct _PhChat
{
  GObject parent_instance;

  PhConversation *conversation;
  GListStore *messages;
  GHashTable *unacknowledged; /* id → PhMessage */
  char *peer_name;            /* as shown: see update_peer_name () */
  char *title;
  char *subtitle;
  char *close_reason;
  gboolean peer_typing;
  gboolean typing;

  /* What the chat shows; see ph_chat_get_state (). */
  PhConversationState shown_state;
  guint quiet_setup_id;

  PhHistory *history; /* NULL: nothing is stored */
  PhHistoryConversation *record;
  gboolean archived;
  gboolean messages_loaded;

  /* A contact's chat (ph_chat_new_for_contact): one list of messages across
   * the contact's meetings and the app's runs, kept by its outbox. */
  PhContact *contact;
  PhContactOutbox *outbox;
  gboolean contact_online;
  guint unread; /* messages received since the chat was last shown */
};

G_DEFINE_FINAL_TYPE (PhChat, ph_chat, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_CONVERSATION,
  PROP_STATE,
  PROP_TITLE,
  PROP_PEER_NAME,
  PROP_SUBTITLE,
  PROP_PEER_TYPING,
  PROP_CONTACT,
  PROP_CONTACT_ONLINE,
  PROP_UNREAD,
  N_PROPS
};

enum
{
  SIGNAL_MESSAGE_RECEIVED,
  SIGNAL_HISTORY_FAILED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/* How long a peer's arrival still shows as "waiting": a quick setup goes
 * from the code straight to the chat, with nothing drawn while its packets
 * are in flight. A frame can take the main loop, which also runs ICE and
 * TLS, for tens of milliseconds (GTK's GL renderer on llvmpipe). */
#define QUIET_SETUP_MS 1000

/* Failure reasons stored with a message, shown by its row. */
#define FAILED_CHAT_ENDED "chat-ended"
#define FAILED_APP_CLOSED "app-closed"

static const char *
describe_failure (const char *reason)
{
  if (g_strcmp0 (reason, FAILED_APP_CLOSED) == 0)
    return _ ("not delivered before Pinhole closed");
  return NULL;
}

static void
report_history_error (PhChat *self, const GError *error)
{
  g_signal_emit (self, signals[SIGNAL_HISTORY_FAILED], 0, error);
}

static void
store_record (PhChat *self)
{
  g_autoptr (GError) error = NULL;

  if (self->history == NULL || self->archived)
    return;
  if (!ph_history_update_conversation (self->history, self->record, &error))
    report_history_error (self, error);
}

static gboolean
set_field (char **field, const char *value)
{
  if (value == NULL || g_strcmp0 (*field, value) == 0)
    return FALSE;
  g_free (*field);
  *field = g_strdup (value);
  return TRUE;
}

/* Keeps the stored chat in step with the conversation. The last path
 * stays once the chat has ended, to say how it went. */
static void
record_conversation (PhChat *self)
{
  PhConversation *conversation = self->conversation;
  const PhPath *path = ph_conversation_get_path (conversation);
  g_autofree char *path_summary = path != NULL ? ph_path_describe (path) : NULL;
  gboolean changed = FALSE;

  if (self->archived)
    return;
  changed |= set_field (&self->record->peer_name, ph_conversation_get_peer_name (conversation));
  changed |= set_field (&self->record->code, ph_conversation_get_code (conversation));
  changed |= set_field (&self->record->path_summary, path_summary);
  if (self->record->state != ph_conversation_get_state (conversation))
    {
      self->record->state = ph_conversation_get_state (conversation);
      changed = TRUE;
    }
  if (changed)
    store_record (self);
}

static void
store_message (PhChat *self, PhMessage *message)
{
  g_autoptr (PhHistoryMessage) stored = NULL;
  g_autoptr (GError) error = NULL;

  if (self->history == NULL)
    return;
  stored = ph_history_message_new (self->record->id, ph_message_get_id (message),
                                   ph_message_get_outgoing (message), ph_message_get_time (message),
                                   ph_message_get_text (message));
  if (!ph_history_add_message (self->history, stored, &error))
    report_history_error (self, error);
}

static void
store_message_state (PhChat *self, PhMessage *message, PhHistoryMessageState state,
                     const char *reason)
{
  g_autoptr (GError) error = NULL;

  if (self->history == NULL)
    return;
  if (!ph_history_set_message_state (self->history, self->record->id, ph_message_get_id (message),
                                     state, reason, &error))
    report_history_error (self, error);
}

static void
set_string_property (PhChat *self, char **field, const char *value, GParamSpec *pspec)
{
  if (g_strcmp0 (*field, value) == 0)
    return;
  g_free (*field);
  *field = g_strdup (value);
  g_object_notify_by_pspec (G_OBJECT (self), pspec);
}

/* The first line of the newest message, or where the chat stands. */
static void
update_subtitle (PhChat *self)
{
  PhConversationState state = ph_chat_get_state (self);
  guint n_messages = g_list_model_get_n_items (G_LIST_MODEL (self->messages));
  g_autofree char *subtitle = NULL;

  if (self->contact != NULL && n_messages == 0)
    subtitle = g_strdup (self->contact_online ? _ ("Online") : _ ("Offline"));
  else if (state == PH_CONVERSATION_STATE_FAILED)
    {
      const char *title;

      ph_error_text_get (ph_conversation_get_error (self->conversation), &title, NULL, NULL);
      subtitle = g_strdup (title);
    }
  else if (state == PH_CONVERSATION_STATE_CLOSED)
    subtitle = g_strdup (_ ("Chat ended"));
  else if (n_messages > 0)
    {
      g_autoptr (PhMessage) last
          = g_list_model_get_item (G_LIST_MODEL (self->messages), n_messages - 1);
      const char *text = ph_message_get_text (last);
      const char *newline = strchr (text, '\n');
      g_autofree char *first_line
          = newline != NULL ? g_strndup (text, newline - text) : g_strdup (text);

      subtitle = ph_message_text_to_one_line (first_line);
    }
  else if (state == PH_CONVERSATION_STATE_WAITING_FOR_PEER)
    subtitle = g_strdup (_ ("Waiting for your peer"));
  else if (state == PH_CONVERSATION_STATE_CONNECTING)
    subtitle = g_strdup (_ ("Connecting…"));
  else if (state == PH_CONVERSATION_STATE_CONNECTED)
    subtitle = g_strdup (_ ("Connected"));
  else if (state == PH_CONVERSATION_STATE_RECONNECTING)
    subtitle = g_strdup (_ ("Reconnecting…"));
  else
    subtitle = g_strdup ("");

  set_string_property (self, &self->subtitle, subtitle, properties[PROP_SUBTITLE]);
}

/* The peer chose its name: it is shown without the characters that could
 * reverse or hide the text around it, whatever its app let through. */
static void
update_peer_name (PhChat *self)
{
  const char *name = self->contact != NULL ? ph_contact_get_name (self->contact)
                     : self->archived      ? self->record->peer_name
                                           : ph_conversation_get_peer_name (self->conversation);

  g_clear_pointer (&self->peer_name, g_free);
  if (name != NULL)
    self->peer_name = ph_untrusted_text_clean_name (name);
}

static void
update_title (PhChat *self)
{
  const char *peer_name = ph_chat_get_peer_name (self);
  const char *code = ph_chat_get_code (self);

  if (peer_name != NULL && peer_name[0] != '\0')
    set_string_property (self, &self->title, peer_name, properties[PROP_TITLE]);
  else if (code != NULL)
    set_string_property (self, &self->title, code, properties[PROP_TITLE]);
  else
    set_string_property (self, &self->title, _ ("New Chat"), properties[PROP_TITLE]);
}

static void
set_peer_typing (PhChat *self, gboolean peer_typing)
{
  if (self->peer_typing == peer_typing)
    return;
  self->peer_typing = peer_typing;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PEER_TYPING]);
}

static void
set_shown_state (PhChat *self, PhConversationState state)
{
  g_clear_handle_id (&self->quiet_setup_id, g_source_remove);
  if (self->shown_state == state)
    return;
  self->shown_state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static gboolean
quiet_setup_over_cb (gpointer user_data)
{
  PhChat *self = user_data;

  self->quiet_setup_id = 0;
  set_shown_state (self, ph_conversation_get_state (self->conversation));
  update_subtitle (self);
  return G_SOURCE_REMOVE;
}

static void
update_shown_state (PhChat *self)
{
  PhConversationState state = ph_conversation_get_state (self->conversation);

  if (self->shown_state == PH_CONVERSATION_STATE_WAITING_FOR_PEER
      && state == PH_CONVERSATION_STATE_CONNECTING)
    {
      if (self->quiet_setup_id == 0)
        self->quiet_setup_id = g_timeout_add (QUIET_SETUP_MS, quiet_setup_over_cb, self);
      return;
    }
  set_shown_state (self, state);
}

static void
conversation_changed_cb (PhChat *self)
{
  update_peer_name (self);
  update_shown_state (self);
  update_title (self);
  update_subtitle (self);
  record_conversation (self);
}

static void
peer_name_cb (PhChat *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PEER_NAME]);
}

static void
message_received_cb (PhChat *self, const char *id, gint64 time_ms, const char *text,
                     PhConversation *conversation)
{
  /* A message ends the typing that led to it, whether or not the peer's
   * app says so. */
  set_peer_typing (self, FALSE);
  ph_chat_add_received (self, id, time_ms, text);
}

static void
message_delivered_cb (PhChat *self, const char *id, PhConversation *conversation)
{
  PhMessage *message = g_hash_table_lookup (self->unacknowledged, id);

  if (message == NULL)
    return;
  store_message_state (self, message, PH_HISTORY_MESSAGE_DELIVERED, NULL);
  ph_message_set_state (message, PH_MESSAGE_STATE_DELIVERED);
  g_hash_table_remove (self->unacknowledged, id);
}

static void
message_sent_cb (PhChat *self, const char *id, PhConversation *conversation)
{
  PhMessage *message = g_hash_table_lookup (self->unacknowledged, id);

  /* Sent again after a reconnection: still only "sent" until acknowledged. */
  if (message == NULL || ph_message_get_state (message) == PH_MESSAGE_STATE_SENT)
    return;
  store_message_state (self, message, PH_HISTORY_MESSAGE_SENT, NULL);
  ph_message_set_state (message, PH_MESSAGE_STATE_SENT);
}

static void
peer_typing_cb (PhChat *self, GParamSpec *pspec, PhConversation *conversation)
{
  set_peer_typing (self, ph_conversation_get_peer_typing (conversation));
}

static void
mark_unacknowledged_failed (PhChat *self)
{
  GHashTableIter iter;
  PhMessage *message;

  g_hash_table_iter_init (&iter, self->unacknowledged);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *)&message))
    {
      store_message_state (self, message, PH_HISTORY_MESSAGE_FAILED, FAILED_CHAT_ENDED);
      ph_message_set_state (message, PH_MESSAGE_STATE_FAILED);
    }
  g_hash_table_remove_all (self->unacknowledged);
}

static void
closed_cb (PhChat *self, const char *reason, PhConversation *conversation)
{
  g_free (self->close_reason);
  self->close_reason = g_strdup (reason);
  if (set_field (&self->record->close_reason, reason))
    store_record (self);
  set_peer_typing (self, FALSE);
  mark_unacknowledged_failed (self);
  update_subtitle (self);
}

static void
failed_cb (PhChat *self, const GError *error, PhConversation *conversation)
{
  if (set_field (&self->record->close_reason, ph_error_code_name (error)))
    store_record (self);
  set_peer_typing (self, FALSE);
  mark_unacknowledged_failed (self);
  update_subtitle (self);
}

static PhMessageState
message_state_from_history (const PhHistoryMessage *stored)
{
  if (!stored->outgoing)
    return PH_MESSAGE_STATE_RECEIVED;
  switch (stored->state)
    {
    case PH_HISTORY_MESSAGE_DELIVERED:
      return PH_MESSAGE_STATE_DELIVERED;
    case PH_HISTORY_MESSAGE_FAILED:
      return PH_MESSAGE_STATE_FAILED;
    case PH_HISTORY_MESSAGE_SENT:
      return PH_MESSAGE_STATE_SENT;
    case PH_HISTORY_MESSAGE_SENDING:
    default:
      return PH_MESSAGE_STATE_SENDING;
    }
}

/* A contact's chat: what its outbox (ph-contact-outbox.h) keeps and
 * reports, as messages on screen. */

static gboolean
is_our_contact (PhChat *self, PhContact *contact)
{
  return ph_contact_equal (contact, self->contact);
}

static void
set_contact_online (PhChat *self, gboolean online)
{
  if (self->contact_online == online)
    return;
  self->contact_online = online;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONTACT_ONLINE]);
  update_subtitle (self);
}

static void
contact_presence_cb (PhChat *self, PhContact *contact, PhContactMeetings *meetings)
{
  if (is_our_contact (self, contact))
    set_contact_online (self, ph_contact_meetings_is_online (meetings, contact));
}

static void
contact_conversation_cb (PhChat *self, PhContact *contact, PhConversation *conversation,
                         PhContactMeetings *meetings)
{
  if (is_our_contact (self, contact))
    g_signal_connect_object (conversation, "notify::peer-typing", G_CALLBACK (peer_typing_cb), self,
                             G_CONNECT_SWAPPED);
}

static void
outbox_sent_cb (PhChat *self, const char *id, PhContactOutbox *outbox)
{
  message_sent_cb (self, id, NULL);
}

static void
outbox_stored_cb (PhChat *self, const char *id, PhContactOutbox *outbox)
{
  PhMessage *message = g_hash_table_lookup (self->unacknowledged, id);

  if (message != NULL)
    ph_message_set_state (message, PH_MESSAGE_STATE_WAITING);
}

static void
outbox_delivered_cb (PhChat *self, const char *id, PhContactOutbox *outbox)
{
  message_delivered_cb (self, id, NULL);
}

static void
outbox_received_cb (PhChat *self, const char *id, gint64 time_ms, const char *text,
                    PhContactOutbox *outbox)
{
  set_peer_typing (self, FALSE);
  ph_chat_add_received (self, id, time_ms, text);
}

static void
contact_renamed_cb (PhChat *self)
{
  update_peer_name (self);
  update_title (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PEER_NAME]);
}

/* Everything said with the contact in earlier runs. Ours not delivered
 * yet are the outbox's to send; "sent" in the history means a copy waits
 * on the server, or the contact has not acknowledged it. */
static void
load_contact_messages (PhChat *self, PhHistory *history)
{
  const PhHistoryConversation *record = ph_contact_outbox_get_record (self->outbox);
  g_autoptr (GPtrArray) stored = NULL;
  g_autoptr (GError) error = NULL;

  self->messages_loaded = TRUE;
  if (record == NULL)
    return;
  stored = ph_history_list_messages_before (history, record->id, 0, 0, &error);
  if (stored == NULL)
    {
      report_history_error (self, error);
      return;
    }
  for (guint i = 0; i < stored->len; i++)
    {
      const PhHistoryMessage *entry = stored->pdata[i];
      g_autoptr (PhMessage) message
          = ph_message_new (entry->id, entry->text, entry->time_ms, entry->outgoing);
      PhMessageState state = message_state_from_history (entry);

      if (state == PH_MESSAGE_STATE_SENDING || state == PH_MESSAGE_STATE_SENT)
        g_hash_table_insert (self->unacknowledged, g_strdup (entry->id), g_object_ref (message));
      if (state == PH_MESSAGE_STATE_SENT)
        state = PH_MESSAGE_STATE_WAITING;
      ph_message_set_state (message, state);
      g_list_store_append (self->messages, message);
    }
}

static PhMessage *
send_to_contact (PhChat *self, const char *text, GError **error)
{
  g_autofree char *id = ph_contact_outbox_send (self->outbox, text, error);
  g_autoptr (PhMessage) message = NULL;

  if (id == NULL)
    return NULL;
  message = ph_message_new (id, text, g_get_real_time () / 1000, TRUE);
  g_hash_table_insert (self->unacknowledged, g_strdup (id), g_object_ref (message));
  g_list_store_append (self->messages, message);
  update_subtitle (self);
  return g_steal_pointer (&message);
}

static void
ph_chat_constructed (GObject *object)
{
  PhChat *self = PH_CHAT (object);

  G_OBJECT_CLASS (ph_chat_parent_class)->constructed (object);

  /* A contact's chat follows the contact's meetings, not one
   * conversation (ph_chat_new_for_contact). */
  if (self->contact != NULL)
    {
      self->shown_state = PH_CONVERSATION_STATE_CONNECTED;
      return;
    }
  g_signal_connect_object (self->conversation, "notify::state",
                           G_CALLBACK (conversation_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->conversation, "notify::peer-name",
                           G_CALLBACK (conversation_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->conversation, "notify::peer-name", G_CALLBACK (peer_name_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->conversation, "notify::code", G_CALLBACK (conversation_changed_cb),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->conversation, "notify::path", G_CALLBACK (conversation_changed_cb),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->conversation, "message-received", G_CALLBACK (message_received_cb),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->conversation, "message-sent", G_CALLBACK (message_sent_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->conversation, "message-delivered",
                           G_CALLBACK (message_delivered_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->conversation, "notify::peer-typing", G_CALLBACK (peer_typing_cb),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->conversation, "closed", G_CALLBACK (closed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->conversation, "failed", G_CALLBACK (failed_cb), self,
                           G_CONNECT_SWAPPED);
  conversation_changed_cb (self);
}

static void
ph_chat_dispose (GObject *object)
{
  PhChat *self = PH_CHAT (object);

  g_clear_handle_id (&self->quiet_setup_id, g_source_remove);
  g_clear_pointer (&self->unacknowledged, g_hash_table_unref);
  g_clear_object (&self->messages);
  g_clear_object (&self->conversation);
  g_clear_object (&self->history);
  g_clear_object (&self->outbox);
  g_clear_object (&self->contact);

  G_OBJECT_CLASS (ph_chat_parent_class)->dispose (object);
}

static void
ph_chat_finalize (GObject *object)
{
  PhChat *self = PH_CHAT (object);

  g_free (self->peer_name);
  g_free (self->title);
  g_free (self->subtitle);
  g_free (self->close_reason);
  ph_history_conversation_free (self->record);

  G_OBJECT_CLASS (ph_chat_parent_class)->finalize (object);
}

static void
ph_chat_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PhChat *self = PH_CHAT (object);

  switch (prop_id)
    {
    case PROP_CONVERSATION:
      g_value_set_object (value, self->conversation);
      break;
    case PROP_STATE:
      g_value_set_int (value, ph_chat_get_state (self));
      break;
    case PROP_TITLE:
      g_value_set_string (value, self->title);
      break;
    case PROP_PEER_NAME:
      g_value_set_string (value, ph_chat_get_peer_name (self));
      break;
    case PROP_SUBTITLE:
      g_value_set_string (value, self->subtitle);
      break;
    case PROP_PEER_TYPING:
      g_value_set_boolean (value, self->peer_typing);
      break;
    case PROP_CONTACT:
      g_value_set_object (value, self->contact);
      break;
    case PROP_CONTACT_ONLINE:
      g_value_set_boolean (value, self->contact_online);
      break;
    case PROP_UNREAD:
      g_value_set_uint (value, self->unread);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_chat_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  PhChat *self = PH_CHAT (object);

  switch (prop_id)
    {
    case PROP_CONVERSATION:
      self->conversation = g_value_dup_object (value);
      break;
    case PROP_CONTACT:
      self->contact = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_chat_class_init (PhChatClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = ph_chat_constructed;
  object_class->dispose = ph_chat_dispose;
  object_class->finalize = ph_chat_finalize;
  object_class->get_property = ph_chat_get_property;
  object_class->set_property = ph_chat_set_property;

  properties[PROP_CONVERSATION]
      = g_param_spec_object ("conversation", NULL, NULL, PH_TYPE_CONVERSATION,
                             G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATE]
      = g_param_spec_int ("state", NULL, NULL, PH_CONVERSATION_STATE_IDLE,
                          PH_CONVERSATION_STATE_FAILED, PH_CONVERSATION_STATE_IDLE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_TITLE]
      = g_param_spec_string ("title", NULL, NULL, NULL,
                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_PEER_NAME]
      = g_param_spec_string ("peer-name", NULL, NULL, NULL,
                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_SUBTITLE]
      = g_param_spec_string ("subtitle", NULL, NULL, NULL,
                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_PEER_TYPING]
      = g_param_spec_boolean ("peer-typing", NULL, NULL, FALSE,
                              G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_CONTACT]
      = g_param_spec_object ("contact", NULL, NULL, PH_TYPE_CONTACT,
                             G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CONTACT_ONLINE]
      = g_param_spec_boolean ("contact-online", NULL, NULL, FALSE,
                              G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_UNREAD]
      = g_param_spec_uint ("unread", NULL, NULL, 0, G_MAXUINT, 0,
                           G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_MESSAGE_RECEIVED]
      = g_signal_new ("message-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                      NULL, NULL, G_TYPE_NONE, 1, PH_TYPE_MESSAGE);
  signals[SIGNAL_HISTORY_FAILED]
      = g_signal_new ("history-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
ph_chat_init (PhChat *self)
{
  self->messages = g_list_store_new (PH_TYPE_MESSAGE);
  self->unacknowledged = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->record = ph_history_conversation_new ();
}

PhChat *
ph_chat_new (PhConversation *conversation, PhHistory *history)
{
  g_autoptr (PhChat) self = NULL;
  g_autoptr (GError) error = NULL;

  g_return_val_if_fail (PH_IS_CONVERSATION (conversation), NULL);
  g_return_val_if_fail (history == NULL || PH_IS_HISTORY (history), NULL);

  self = g_object_new (PH_TYPE_CHAT, "conversation", conversation, NULL);
  if (history != NULL)
    {
      if (ph_history_add_conversation (history, self->record, &error))
        self->history = g_object_ref (history);
      else
        g_warning ("This chat will not be kept: %s", error->message);
    }
  return g_steal_pointer (&self);
}

PhChat *
ph_chat_new_from_history (PhHistory *history, const PhHistoryConversation *record)
{
  g_autoptr (PhConversation) idle = NULL;
  PhChat *self;

  g_return_val_if_fail (PH_IS_HISTORY (history), NULL);
  g_return_val_if_fail (record != NULL, NULL);

  /* A conversation that never starts: an ended chat cannot resume, as its
   * code worked once. */
  idle = ph_conversation_new ("", "", NULL);
  self = g_object_new (PH_TYPE_CHAT, "conversation", idle, NULL);
  self->archived = TRUE;
  self->history = g_object_ref (history);
  ph_history_conversation_free (self->record);
  self->record = ph_history_conversation_copy (record);
  self->close_reason = g_strdup (record->close_reason);
  update_peer_name (self);
  update_title (self);
  update_subtitle (self);
  return self;
}

PhChat *
ph_chat_new_for_contact (PhContactMeetings *meetings, PhContact *contact, PhHistory *history,
                         gboolean leave_copies)
{
  g_autoptr (PhConversation) idle = NULL;
  PhChat *self;

  g_return_val_if_fail (PH_IS_CONTACT_MEETINGS (meetings), NULL);
  g_return_val_if_fail (PH_IS_CONTACT (contact), NULL);
  g_return_val_if_fail (history == NULL || PH_IS_HISTORY (history), NULL);

  /* Views that look at a chat's conversation see one that never starts;
   * the contact's own come and go with their meetings. The outbox keeps
   * this chat's history, not the chat. */
  idle = ph_conversation_new ("", "", NULL);
  self = g_object_new (PH_TYPE_CHAT, "conversation", idle, "contact", contact, NULL);
  self->outbox = ph_contact_outbox_new (meetings, contact, history, leave_copies);
  if (history != NULL)
    load_contact_messages (self, history);

  g_signal_connect_object (self->outbox, "message-sent", G_CALLBACK (outbox_sent_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->outbox, "message-stored", G_CALLBACK (outbox_stored_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->outbox, "message-delivered", G_CALLBACK (outbox_delivered_cb),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->outbox, "message-received", G_CALLBACK (outbox_received_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (meetings, "presence-changed", G_CALLBACK (contact_presence_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (meetings, "conversation-started", G_CALLBACK (contact_conversation_cb),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (contact, "notify::name", G_CALLBACK (contact_renamed_cb), self,
                           G_CONNECT_SWAPPED);
  self->contact_online = ph_contact_meetings_is_online (meetings, contact);
  update_peer_name (self);
  update_title (self);
  update_subtitle (self);
  return self;
}

void
ph_chat_set_leave_copies (PhChat *self, gboolean leave_copies)
{
  g_return_if_fail (PH_IS_CHAT (self));
  g_return_if_fail (self->outbox != NULL);

  ph_contact_outbox_set_leave_copies (self->outbox, leave_copies);
}

PhContact *
ph_chat_get_contact (PhChat *self)
{
  g_return_val_if_fail (PH_IS_CHAT (self), NULL);

  return self->contact;
}

gboolean
ph_chat_get_contact_online (PhChat *self)
{
  g_return_val_if_fail (PH_IS_CHAT (self), FALSE);

  return self->contact_online;
}

gboolean
ph_chat_is_archived (PhChat *self)
{
  g_return_val_if_fail (PH_IS_CHAT (self), FALSE);

  return self->archived;
}

PhConversationState
ph_chat_get_state (PhChat *self)
{
  g_return_val_if_fail (PH_IS_CHAT (self), PH_CONVERSATION_STATE_IDLE);

  if (self->archived)
    return PH_CONVERSATION_STATE_CLOSED;
  return self->shown_state;
}

const char *
ph_chat_get_peer_name (PhChat *self)
{
  g_return_val_if_fail (PH_IS_CHAT (self), NULL);

  return self->peer_name;
}

const char *
ph_chat_get_code (PhChat *self)
{
  g_return_val_if_fail (PH_IS_CHAT (self), NULL);

  if (self->archived)
    return self->record->code;
  return ph_conversation_get_code (self->conversation);
}

const char *
ph_chat_get_history_id (PhChat *self)
{
  g_return_val_if_fail (PH_IS_CHAT (self), NULL);

  return self->record->id;
}

gboolean
ph_chat_delete_from_history (PhChat *self, GError **error)
{
  g_return_val_if_fail (PH_IS_CHAT (self), FALSE);

  if (self->history == NULL)
    return TRUE;
  if (!ph_history_delete_conversation (self->history, self->record->id, error))
    return FALSE;
  /* Its conversation may still be saying goodbye: what it reports then
   * belongs to no stored chat any more. */
  g_clear_object (&self->history);
  return TRUE;
}

/* All at once: 10,000 messages read in about 10 ms (tests/test-history.c),
 * and the list view only makes rows for the screenful shown. */
static void
load_messages (PhChat *self)
{
  g_autoptr (GPtrArray) stored = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  g_autoptr (GError) error = NULL;

  if (!self->archived || self->messages_loaded || self->history == NULL)
    return;
  self->messages_loaded = TRUE;

  stored = ph_history_list_messages_before (self->history, self->record->id, 0, 0, &error);
  if (stored == NULL)
    {
      report_history_error (self, error);
      return;
    }
  messages = g_ptr_array_new_full (stored->len, g_object_unref);
  for (guint i = 0; i < stored->len; i++)
    {
      const PhHistoryMessage *record = stored->pdata[i];
      PhMessage *message
          = ph_message_new (record->id, record->text, record->time_ms, record->outgoing);

      ph_message_set_failure_reason (message, describe_failure (record->failure_reason));
      ph_message_set_state (message, message_state_from_history (record));
      g_ptr_array_add (messages, message);
    }
  g_list_store_splice (self->messages, 0, 0, messages->pdata, messages->len);
}

PhConversation *
ph_chat_get_conversation (PhChat *self)
{
  g_return_val_if_fail (PH_IS_CHAT (self), NULL);

  return self->conversation;
}

GListModel *
ph_chat_get_messages (PhChat *self)
{
  g_return_val_if_fail (PH_IS_CHAT (self), NULL);

  load_messages (self);
  return G_LIST_MODEL (self->messages);
}

const char *
ph_chat_get_title (PhChat *self)
{
  g_return_val_if_fail (PH_IS_CHAT (self), NULL);

  return self->title;
}

const char *
ph_chat_get_subtitle (PhChat *self)
{
  g_return_val_if_fail (PH_IS_CHAT (self), NULL);

  return self->subtitle;
}

gboolean
ph_chat_get_peer_typing (PhChat *self)
{
  g_return_val_if_fail (PH_IS_CHAT (self), FALSE);

  return self->peer_typing;
}

const char *
ph_chat_get_close_reason (PhChat *self)
{
  g_return_val_if_fail (PH_IS_CHAT (self), NULL);

  return self->close_reason;
}

PhMessage *
ph_chat_send (PhChat *self, const char *text, GError **error)
{
  g_autofree char *id = NULL;
  g_autoptr (PhMessage) message = NULL;

  g_return_val_if_fail (PH_IS_CHAT (self), NULL);
  g_return_val_if_fail (text != NULL, NULL);

  if (self->contact != NULL)
    return send_to_contact (self, text, error);
  id = ph_conversation_send_message (self->conversation, text, error);
  if (id == NULL)
    return NULL;

  message = ph_message_new (id, text, g_get_real_time () / 1000, TRUE);
  /* The conversation only queued it: nothing goes out before the main
   * loop runs again, so the outbox has it before anyone sees "sending". */
  store_message (self, message);
  g_hash_table_insert (self->unacknowledged, g_strdup (id), g_object_ref (message));
  g_list_store_append (self->messages, message);
  update_subtitle (self);
  return message;
}

void
ph_chat_set_typing (PhChat *self, gboolean typing)
{
  g_return_if_fail (PH_IS_CHAT (self));

  if (self->typing == typing)
    return;
  self->typing = typing;
  if (self->contact != NULL)
    {
      PhConversation *conversation = ph_contact_outbox_get_live_conversation (self->outbox);

      if (conversation != NULL)
        ph_conversation_set_typing (conversation, typing);
      return;
    }
  ph_conversation_set_typing (self->conversation, typing);
}

PhMessage *
ph_chat_add_received (PhChat *self, const char *id, gint64 time_ms, const char *text)
{
  g_autoptr (PhMessage) message = NULL;

  g_return_val_if_fail (PH_IS_CHAT (self), NULL);

  message = ph_message_new (id, text, time_ms, FALSE);
  store_message (self, message);
  g_list_store_append (self->messages, message);
  update_subtitle (self);
  self->unread++;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNREAD]);
  g_signal_emit (self, signals[SIGNAL_MESSAGE_RECEIVED], 0, message);
  return message;
}

guint
ph_chat_get_unread (PhChat *self)
{
  g_return_val_if_fail (PH_IS_CHAT (self), 0);

  return self->unread;
}

void
ph_chat_mark_read (PhChat *self)
{
  g_return_if_fail (PH_IS_CHAT (self));

  if (self->unread == 0)
    return;
  self->unread = 0;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNREAD]);
}
