/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-session"

#include "config.h"

#include "ph-session.h"
#include "ph-settings.h"

struct _PhSession
{
  GObject parent_instance;

  char *profile;
  GSettings *settings;
  char *turn_password;
  PhHistory *history;
  GError *history_error;
  PhContactBook *contact_book;
  GError *contact_book_error;
  PhContactMeetings *meetings; /* NULL until ph_session_meet_contacts () */
  GHashTable *contact_chats;   /* contact id → PhChat */
  gboolean meetings_leaving;
  GListStore *chats;
  /* Conversations saying goodbye (PhConversation, owned), kept alive
   * until they have closed or failed. */
  GHashTable *leaving;
  gboolean is_leaving;
};

G_DEFINE_FINAL_TYPE (PhSession, ph_session, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_PROFILE,
  PROP_SETTINGS,
  PROP_CHATS,
  PROP_LEAVING,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* $PINHOLE_HISTORY_DIR (for tests), else the user's data folder; each
 * profile keeps its own file, as it is a separate person. */
static char *
history_path (PhSession *self)
{
  const char *directory = g_getenv ("PINHOLE_HISTORY_DIR");
  g_autofree char *name = NULL;

  name = self->profile != NULL ? g_strdup_printf ("history-%s.db", self->profile)
                               : g_strdup ("history.db");
  if (directory != NULL && directory[0] != '\0')
    return g_build_filename (directory, name, NULL);
  return g_build_filename (g_get_user_data_dir (), "pinhole", name, NULL);
}

/* No code chat survives the process that ran it: whatever was still
 * going on when Pinhole last stopped (a crash included) has ended, and
 * what was still on its way was not delivered. A contact's chat goes on:
 * its outbox is sent when the app starts again. */
static gboolean
close_unfinished (PhHistory *history, GError **error)
{
  g_autoptr (GPtrArray) outbox = ph_history_list_outbox (history, error);
  g_autoptr (GPtrArray) conversations = NULL;

  if (outbox == NULL)
    return FALSE;
  for (guint i = 0; i < outbox->len; i++)
    {
      PhHistoryMessage *message = outbox->pdata[i];

      if (ph_history_is_contact_conversation (message->conversation_id))
        continue;
      if (!ph_history_set_message_state (history, message->conversation_id, message->id,
                                         PH_HISTORY_MESSAGE_FAILED, "app-closed", error))
        return FALSE;
    }

  conversations = ph_history_list_conversations (history, error);
  if (conversations == NULL)
    return FALSE;
  for (guint i = 0; i < conversations->len; i++)
    {
      PhHistoryConversation *conversation = conversations->pdata[i];

      if (conversation->state == PH_CONVERSATION_STATE_CLOSED
          || conversation->state == PH_CONVERSATION_STATE_FAILED
          || ph_history_is_contact_conversation (conversation->id))
        continue;
      conversation->state = PH_CONVERSATION_STATE_CLOSED;
      if (conversation->close_reason == NULL)
        conversation->close_reason = g_strdup ("app-closed");
      if (!ph_history_update_conversation (history, conversation, error))
        return FALSE;
    }
  return TRUE;
}

static void
open_history (PhSession *self)
{
  g_autofree char *path = history_path (self);

  self->history = ph_history_open (path, &self->history_error);
  if (self->history != NULL && !close_unfinished (self->history, &self->history_error))
    g_clear_object (&self->history);
  /* The app works without a history; the window says why it is off. */
  if (self->history_error != NULL)
    g_warning ("Chats will not be kept: %s", self->history_error->message);
}

/* The profile folder the CLI uses too ($PINHOLE_DATA_DIR, else the user's
 * data folder); a named profile is a separate person with its own folder. */
static char *
contact_book_dir (PhSession *self)
{
  g_autofree char *dir = ph_identity_get_default_profile_dir ();

  if (self->profile == NULL)
    return g_steal_pointer (&dir);
  return g_build_filename (dir, "profiles", self->profile, NULL);
}

static void
open_contact_book (PhSession *self)
{
  g_autofree char *dir = contact_book_dir (self);
  g_autoptr (PhIdentity) identity = NULL;

  /* Both make the folder 0700 if it is not there yet. */
  identity = ph_identity_load_or_create (dir, &self->contact_book_error);
  if (identity != NULL)
    self->contact_book = ph_contact_book_open (dir, identity, &self->contact_book_error);
  /* Code chats work without contacts; the window says why they are off. */
  if (self->contact_book_error != NULL)
    g_warning ("Contacts are not available: %s", self->contact_book_error->message);
}

/* Earlier chats, newest first; their messages are read when a chat is
 * opened. */
static void
restore_chats (PhSession *self)
{
  g_autoptr (GPtrArray) conversations = NULL;

  if (self->history == NULL)
    return;

  conversations = ph_history_list_conversations (self->history, &self->history_error);
  if (conversations == NULL)
    return;
  for (guint i = 0; i < conversations->len; i++)
    {
      const PhHistoryConversation *record = conversations->pdata[i];
      g_autoptr (PhChat) chat = NULL;

      /* Contacts' chats are listed with the contacts. */
      if (ph_history_is_contact_conversation (record->id))
        continue;
      chat = ph_chat_new_from_history (self->history, record);
      g_list_store_append (self->chats, chat);
    }
}

static void
turn_password_looked_up_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhSession) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *password = ph_settings_lookup_turn_password_finish (result, &error);

  if (error != NULL)
    g_warning ("Could not read the TURN password from the keyring: %s", error->message);
  else if (self->turn_password == NULL)
    self->turn_password = g_steal_pointer (&password);
}

static void
update_leaving (PhSession *self)
{
  gboolean leaving = g_hash_table_size (self->leaving) > 0 || self->meetings_leaving;

  if (self->is_leaving == leaving)
    return;
  self->is_leaving = leaving;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LEAVING]);
}

static void
conversation_ended_cb (PhConversation *conversation, gconstpointer unused, gpointer user_data)
{
  PhSession *self = user_data;

  g_signal_handlers_disconnect_by_func (conversation, conversation_ended_cb, self);
  g_hash_table_remove (self->leaving, conversation);
  update_leaving (self);
}

static void
leave_conversation (PhSession *self, PhConversation *conversation)
{
  PhConversationState state = ph_conversation_get_state (conversation);

  if (state == PH_CONVERSATION_STATE_CLOSED || state == PH_CONVERSATION_STATE_FAILED
      || g_hash_table_contains (self->leaving, conversation))
    return;

  g_hash_table_add (self->leaving, g_object_ref (conversation));
  g_signal_connect (conversation, "closed", G_CALLBACK (conversation_ended_cb), self);
  g_signal_connect (conversation, "failed", G_CALLBACK (conversation_ended_cb), self);
  /* It may close at once (not connected yet): then it is gone already. */
  ph_conversation_leave (conversation);
  update_leaving (self);
}

static PhConversation *
new_conversation (PhSession *self, GError **error)
{
  g_autoptr (PhIceConfig) ice_config = NULL;
  g_autofree char *url = NULL;
  g_autofree char *name = NULL;
  PhConversation *conversation;

  ice_config = ph_settings_build_ice_config (self->settings, self->turn_password, error);
  if (ice_config == NULL)
    return NULL;

  url = ph_settings_dup_rendezvous_url (self->settings);
  name = ph_settings_dup_display_name (self->settings);
  conversation = ph_conversation_new (url, name, ice_config);
  ph_conversation_set_use_server_turn (conversation,
                                       g_settings_get_boolean (self->settings, "use-server-turn"));
  return conversation;
}

static void
remove_chat (PhSession *self, PhChat *chat)
{
  g_autoptr (PhChat) hold = g_object_ref (chat);
  guint position;

  if (!ph_chat_is_archived (chat))
    leave_conversation (self, ph_chat_get_conversation (chat));
  if (g_list_store_find (self->chats, chat, &position))
    g_list_store_remove (self->chats, position);
}

/* Every contact has a chat from the start, so that what they send while
 * theirs is not on screen is shown and kept all the same. */
static void
make_contact_chats (PhSession *self)
{
  GListModel *contacts = G_LIST_MODEL (self->contact_book);

  for (guint i = 0; i < g_list_model_get_n_items (contacts); i++)
    {
      g_autoptr (PhContact) contact = g_list_model_get_item (contacts, i);

      if (!g_hash_table_contains (self->contact_chats, ph_contact_get_id (contact)))
        g_hash_table_insert (self->contact_chats, g_strdup (ph_contact_get_id (contact)),
                             ph_chat_new_for_contact (
                                 self->meetings, contact, self->history,
                                 g_settings_get_boolean (self->settings, "leave-stored-copies")));
    }
}

static void
leave_stored_copies_changed_cb (PhSession *self)
{
  gboolean leave = g_settings_get_boolean (self->settings, "leave-stored-copies");
  GHashTableIter iter;
  gpointer chat;

  g_hash_table_iter_init (&iter, self->contact_chats);
  while (g_hash_table_iter_next (&iter, NULL, &chat))
    ph_chat_set_leave_copies (chat, leave);
}

static void
meetings_left_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhSession) self = user_data;

  ph_contact_meetings_leave_finish (PH_CONTACT_MEETINGS (source), result);
  self->meetings_leaving = FALSE;
  update_leaving (self);
}

static void
ph_session_constructed (GObject *object)
{
  PhSession *self = PH_SESSION (object);
  g_auto (GStrv) turn_servers = NULL;

  G_OBJECT_CLASS (ph_session_parent_class)->constructed (object);

  self->settings = ph_settings_new ();
  open_history (self);
  restore_chats (self);
  open_contact_book (self);

  /* Only people who set up their own TURN server have a password stored;
   * everyone else never touches the keyring. */
  turn_servers = g_settings_get_strv (self->settings, "turn-servers");
  if (turn_servers[0] != NULL)
    ph_settings_lookup_turn_password_async (NULL, turn_password_looked_up_cb, g_object_ref (self));
}

static void
ph_session_dispose (GObject *object)
{
  PhSession *self = PH_SESSION (object);

  if (self->leaving != NULL)
    {
      GHashTableIter iter;
      gpointer conversation;

      g_hash_table_iter_init (&iter, self->leaving);
      while (g_hash_table_iter_next (&iter, &conversation, NULL))
        g_signal_handlers_disconnect_by_func (conversation, conversation_ended_cb, self);
      g_clear_pointer (&self->leaving, g_hash_table_unref);
    }
  g_clear_object (&self->chats);
  g_clear_pointer (&self->contact_chats, g_hash_table_unref);
  /* No waiting on, nor meeting, contacts for a session that is gone. */
  if (self->meetings != NULL && !self->meetings_leaving)
    ph_contact_meetings_leave_async (self->meetings, NULL, NULL);
  g_clear_object (&self->meetings);
  g_clear_object (&self->history);
  g_clear_object (&self->contact_book);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (ph_session_parent_class)->dispose (object);
}

static void
ph_session_finalize (GObject *object)
{
  PhSession *self = PH_SESSION (object);

  g_clear_error (&self->history_error);
  g_clear_error (&self->contact_book_error);
  g_free (self->turn_password);
  g_free (self->profile);

  G_OBJECT_CLASS (ph_session_parent_class)->finalize (object);
}

static void
ph_session_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PhSession *self = PH_SESSION (object);

  switch (prop_id)
    {
    case PROP_PROFILE:
      g_value_set_string (value, self->profile);
      break;
    case PROP_SETTINGS:
      g_value_set_object (value, self->settings);
      break;
    case PROP_CHATS:
      g_value_set_object (value, self->chats);
      break;
    case PROP_LEAVING:
      g_value_set_boolean (value, self->is_leaving);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_session_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  PhSession *self = PH_SESSION (object);

  switch (prop_id)
    {
    case PROP_PROFILE:
      self->profile = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_session_class_init (PhSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = ph_session_constructed;
  object_class->dispose = ph_session_dispose;
  object_class->finalize = ph_session_finalize;
  object_class->get_property = ph_session_get_property;
  object_class->set_property = ph_session_set_property;

  properties[PROP_PROFILE]
      = g_param_spec_string ("profile", NULL, NULL, NULL,
                             G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SETTINGS] = g_param_spec_object ("settings", NULL, NULL, G_TYPE_SETTINGS,
                                                   G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_CHATS] = g_param_spec_object ("chats", NULL, NULL, G_TYPE_LIST_MODEL,
                                                G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_LEAVING]
      = g_param_spec_boolean ("leaving", NULL, NULL, FALSE,
                              G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ph_session_init (PhSession *self)
{
  self->chats = g_list_store_new (PH_TYPE_CHAT);
  self->leaving = g_hash_table_new_full (g_direct_hash, g_direct_equal, g_object_unref, NULL);
  self->contact_chats = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
}

PhSession *
ph_session_new (const char *profile)
{
  return g_object_new (PH_TYPE_SESSION, "profile", profile, NULL);
}

GSettings *
ph_session_get_settings (PhSession *self)
{
  g_return_val_if_fail (PH_IS_SESSION (self), NULL);

  return self->settings;
}

PhHistory *
ph_session_get_history (PhSession *self)
{
  g_return_val_if_fail (PH_IS_SESSION (self), NULL);

  return self->history;
}

const GError *
ph_session_get_history_error (PhSession *self)
{
  g_return_val_if_fail (PH_IS_SESSION (self), NULL);

  return self->history_error;
}

PhContactBook *
ph_session_get_contact_book (PhSession *self)
{
  g_return_val_if_fail (PH_IS_SESSION (self), NULL);

  return self->contact_book;
}

const GError *
ph_session_get_contact_book_error (PhSession *self)
{
  g_return_val_if_fail (PH_IS_SESSION (self), NULL);

  return self->contact_book_error;
}

GListModel *
ph_session_get_chats (PhSession *self)
{
  g_return_val_if_fail (PH_IS_SESSION (self), NULL);

  return G_LIST_MODEL (self->chats);
}

gboolean
ph_session_get_leaving (PhSession *self)
{
  g_return_val_if_fail (PH_IS_SESSION (self), FALSE);

  return self->is_leaving;
}

void
ph_session_set_turn_password (PhSession *self, const char *password)
{
  g_return_if_fail (PH_IS_SESSION (self));

  g_free (self->turn_password);
  self->turn_password = g_strdup (password);
}

PhChat *
ph_session_host (PhSession *self, GError **error)
{
  g_autoptr (PhConversation) conversation = NULL;
  g_autoptr (PhChat) chat = NULL;

  g_return_val_if_fail (PH_IS_SESSION (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  conversation = new_conversation (self, error);
  if (conversation == NULL)
    return NULL;

  /* The chat first, so it sees the hosting fail if it fails at once. */
  chat = ph_chat_new (conversation, self->history);
  ph_conversation_host (conversation);
  g_list_store_insert (self->chats, 0, chat);
  return g_steal_pointer (&chat);
}

PhChat *
ph_session_join (PhSession *self, const char *code, GError **error)
{
  g_autoptr (PhConversation) conversation = NULL;
  g_autoptr (PhChat) chat = NULL;

  g_return_val_if_fail (PH_IS_SESSION (self), NULL);
  g_return_val_if_fail (code != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  conversation = new_conversation (self, error);
  if (conversation == NULL)
    return NULL;

  /* A code that cannot be joined leaves nothing in the history. */
  if (!ph_conversation_join (conversation, code, error))
    return NULL;
  chat = ph_chat_new (conversation, self->history);
  g_list_store_insert (self->chats, 0, chat);
  return g_steal_pointer (&chat);
}

gboolean
ph_session_close_chat (PhSession *self, PhChat *chat, GError **error)
{
  g_return_val_if_fail (PH_IS_SESSION (self), FALSE);
  g_return_val_if_fail (PH_IS_CHAT (chat), FALSE);

  if (g_list_model_get_n_items (ph_chat_get_messages (chat)) == 0)
    return ph_session_delete_chat (self, chat, error);
  remove_chat (self, chat);
  return TRUE;
}

gboolean
ph_session_delete_chat (PhSession *self, PhChat *chat, GError **error)
{
  gboolean deleted;

  g_return_val_if_fail (PH_IS_SESSION (self), FALSE);
  g_return_val_if_fail (PH_IS_CHAT (chat), FALSE);

  deleted = ph_chat_delete_from_history (chat, error);
  remove_chat (self, chat);
  return deleted;
}

void
ph_session_leave_all (PhSession *self)
{
  GListModel *chats;

  g_return_if_fail (PH_IS_SESSION (self));

  chats = G_LIST_MODEL (self->chats);
  for (guint i = 0; i < g_list_model_get_n_items (chats); i++)
    {
      g_autoptr (PhChat) chat = g_list_model_get_item (chats, i);

      if (!ph_chat_is_archived (chat))
        leave_conversation (self, ph_chat_get_conversation (chat));
    }
  /* Contacts see us offline at once, not minutes later. */
  if (self->meetings != NULL && !self->meetings_leaving)
    {
      self->meetings_leaving = TRUE;
      update_leaving (self);
      ph_contact_meetings_leave_async (self->meetings, meetings_left_cb, g_object_ref (self));
    }
}

void
ph_session_meet_contacts (PhSession *self)
{
  g_autoptr (PhIceConfig) ice_config = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *name = NULL;

  g_return_if_fail (PH_IS_SESSION (self));

  if (self->meetings != NULL || self->contact_book == NULL)
    return;
  ice_config = ph_settings_build_ice_config (self->settings, self->turn_password, &error);
  if (ice_config == NULL)
    {
      g_warning ("Contacts cannot be met: %s", error->message);
      return;
    }
  url = ph_settings_dup_rendezvous_url (self->settings);
  name = ph_settings_dup_display_name (self->settings);
  self->meetings
      = ph_contact_meetings_new (url, self->contact_book, name, ice_config,
                                 g_settings_get_boolean (self->settings, "use-server-turn"));
  make_contact_chats (self);
  g_signal_connect_object (self->contact_book, "items-changed", G_CALLBACK (make_contact_chats),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::leave-stored-copies",
                           G_CALLBACK (leave_stored_copies_changed_cb), self, G_CONNECT_SWAPPED);
  ph_contact_meetings_start (self->meetings, NULL);
}

PhChat *
ph_session_get_contact_chat (PhSession *self, PhContact *contact)
{
  g_return_val_if_fail (PH_IS_SESSION (self), NULL);
  g_return_val_if_fail (PH_IS_CONTACT (contact), NULL);

  return g_hash_table_lookup (self->contact_chats, ph_contact_get_id (contact));
}
