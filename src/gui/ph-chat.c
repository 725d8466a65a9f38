/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-chat"

#include "config.h"

#include <glib/gi18n.h>

#include "ph-chat.h"
#include "ph-error-text.h"

struct _PhChat
{
  GObject parent_instance;

  PhConversation *conversation;
  GListStore *messages;
  GHashTable *unacknowledged; /* id → PhMessage */
  char *title;
  char *subtitle;
  char *close_reason;
  gboolean peer_typing;
  gboolean typing;
};

G_DEFINE_FINAL_TYPE (PhChat, ph_chat, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_CONVERSATION,
  PROP_TITLE,
  PROP_PEER_NAME,
  PROP_SUBTITLE,
  PROP_PEER_TYPING,
  N_PROPS
};

enum
{
  SIGNAL_MESSAGE_RECEIVED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

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
  PhConversationState state = ph_conversation_get_state (self->conversation);
  guint n_messages = g_list_model_get_n_items (G_LIST_MODEL (self->messages));
  g_autofree char *subtitle = NULL;

  if (state == PH_CONVERSATION_STATE_FAILED)
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

      subtitle = newline != NULL ? g_strndup (text, newline - text) : g_strdup (text);
    }
  else if (state == PH_CONVERSATION_STATE_WAITING_FOR_PEER)
    subtitle = g_strdup (_ ("Waiting for your peer"));
  else if (state == PH_CONVERSATION_STATE_CONNECTING)
    subtitle = g_strdup (_ ("Connecting…"));
  else if (state == PH_CONVERSATION_STATE_CONNECTED)
    subtitle = g_strdup (_ ("Connected"));
  else
    subtitle = g_strdup ("");

  set_string_property (self, &self->subtitle, subtitle, properties[PROP_SUBTITLE]);
}

static void
update_title (PhChat *self)
{
  const char *peer_name = ph_conversation_get_peer_name (self->conversation);
  const char *code = ph_conversation_get_code (self->conversation);

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
conversation_changed_cb (PhChat *self)
{
  update_title (self);
  update_subtitle (self);
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
  ph_message_set_state (message, PH_MESSAGE_STATE_DELIVERED);
  g_hash_table_remove (self->unacknowledged, id);
}

static void
peer_typing_cb (PhChat *self, gboolean active, PhConversation *conversation)
{
  set_peer_typing (self, active);
}

static void
mark_unacknowledged_failed (PhChat *self)
{
  GHashTableIter iter;
  PhMessage *message;

  g_hash_table_iter_init (&iter, self->unacknowledged);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *)&message))
    ph_message_set_state (message, PH_MESSAGE_STATE_FAILED);
  g_hash_table_remove_all (self->unacknowledged);
}

static void
closed_cb (PhChat *self, const char *reason, PhConversation *conversation)
{
  g_free (self->close_reason);
  self->close_reason = g_strdup (reason);
  set_peer_typing (self, FALSE);
  mark_unacknowledged_failed (self);
  update_subtitle (self);
}

static void
failed_cb (PhChat *self, const GError *error, PhConversation *conversation)
{
  set_peer_typing (self, FALSE);
  mark_unacknowledged_failed (self);
  update_subtitle (self);
}

static void
ph_chat_constructed (GObject *object)
{
  PhChat *self = PH_CHAT (object);

  G_OBJECT_CLASS (ph_chat_parent_class)->constructed (object);

  g_signal_connect_object (self->conversation, "notify::state",
                           G_CALLBACK (conversation_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->conversation, "notify::peer-name",
                           G_CALLBACK (conversation_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->conversation, "notify::peer-name", G_CALLBACK (peer_name_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->conversation, "notify::code", G_CALLBACK (conversation_changed_cb),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->conversation, "message-received", G_CALLBACK (message_received_cb),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->conversation, "message-delivered",
                           G_CALLBACK (message_delivered_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->conversation, "peer-typing", G_CALLBACK (peer_typing_cb), self,
                           G_CONNECT_SWAPPED);
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

  g_clear_pointer (&self->unacknowledged, g_hash_table_unref);
  g_clear_object (&self->messages);
  g_clear_object (&self->conversation);

  G_OBJECT_CLASS (ph_chat_parent_class)->dispose (object);
}

static void
ph_chat_finalize (GObject *object)
{
  PhChat *self = PH_CHAT (object);

  g_free (self->title);
  g_free (self->subtitle);
  g_free (self->close_reason);

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
    case PROP_TITLE:
      g_value_set_string (value, self->title);
      break;
    case PROP_PEER_NAME:
      g_value_set_string (value, ph_conversation_get_peer_name (self->conversation));
      break;
    case PROP_SUBTITLE:
      g_value_set_string (value, self->subtitle);
      break;
    case PROP_PEER_TYPING:
      g_value_set_boolean (value, self->peer_typing);
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
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_MESSAGE_RECEIVED]
      = g_signal_new ("message-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                      NULL, NULL, G_TYPE_NONE, 1, PH_TYPE_MESSAGE);
}

static void
ph_chat_init (PhChat *self)
{
  self->messages = g_list_store_new (PH_TYPE_MESSAGE);
  self->unacknowledged = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
}

PhChat *
ph_chat_new (PhConversation *conversation)
{
  g_return_val_if_fail (PH_IS_CONVERSATION (conversation), NULL);

  return g_object_new (PH_TYPE_CHAT, "conversation", conversation, NULL);
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

  id = ph_conversation_send_message (self->conversation, text, error);
  if (id == NULL)
    return NULL;

  message = ph_message_new (id, text, g_get_real_time () / 1000, TRUE);
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
  ph_conversation_set_typing (self->conversation, typing);
}

PhMessage *
ph_chat_add_received (PhChat *self, const char *id, gint64 time_ms, const char *text)
{
  g_autoptr (PhMessage) message = NULL;

  g_return_val_if_fail (PH_IS_CHAT (self), NULL);

  message = ph_message_new (id, text, time_ms, FALSE);
  g_list_store_append (self->messages, message);
  update_subtitle (self);
  g_signal_emit (self, signals[SIGNAL_MESSAGE_RECEIVED], 0, message);
  return message;
}
