/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-window"

#include "config.h"

#include <glib/gi18n.h>

#include "ph-background.h"
#include "ph-chat-view.h"
#include "ph-contact-page.h"
#include "ph-contact-row.h"
#include "ph-conversation-row.h"
#include "ph-error-text.h"
#include "ph-error.h"
#include "ph-inspector.h"
#include "ph-join-page.h"
#include "ph-message-text.h"
#include "ph-window.h"

#define NOTIFICATION_ID "new-message"

struct _PhWindow
{
  AdwApplicationWindow parent_instance;

  AdwToastOverlay *toast_overlay;
  AdwLeaflet *leaflet;
  GtkWidget *sidebar_box;
  GtkStack *sidebar_stack;
  GtkListView *sidebar_list;
  GtkStack *contacts_stack;
  GtkListView *contacts_list;
  PhContactPage *contact_page;
  GtkWidget *content_box;
  AdwWindowTitle *content_title;
  GtkWidget *inspector_button;
  GtkWidget *save_contact_button;
  GtkWidget *contact_details_button;
  AdwFlap *flap;
  GtkStack *content_stack;
  PhJoinPage *join_page;
  PhChatView *chat_view;
  PhInspector *inspector;

  PhSession *session;
  GListModel *chats; /* the session's */
  GtkSingleSelection *selection;
  GListModel *contacts; /* the session's book, or an empty list without one */
  GtkSingleSelection *contacts_selection;
  PhContact *shown_contact; /* on the contact page */
  GHashTable *tracked;      /* contacts' chats whose messages this window announces */
  gboolean quitting;        /* closing for good, whatever "run-in-background" says */
};

G_DEFINE_FINAL_TYPE (PhWindow, ph_window, ADW_TYPE_APPLICATION_WINDOW)

enum
{
  PROP_0,
  PROP_SESSION,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static PhChat *
current_chat (PhWindow *self)
{
  if (!g_str_equal (gtk_stack_get_visible_child_name (self->content_stack), "chat"))
    return NULL;
  return ph_chat_view_get_chat (self->chat_view);
}

static void
show_toast (PhWindow *self, const char *text)
{
  AdwToast *toast = adw_toast_new (text);

  adw_toast_set_timeout (toast, 4);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

static const char *
describe_state (PhChat *chat)
{
  PhConversation *conversation = ph_chat_get_conversation (chat);
  const PhPath *path = ph_conversation_get_path (conversation);

  if (ph_chat_get_contact (chat) != NULL)
    return ph_chat_get_contact_online (chat) ? _ ("Online") : _ ("Offline");
  switch (ph_chat_get_state (chat))
    {
    case PH_CONVERSATION_STATE_WAITING_FOR_PEER:
      return _ ("Waiting for your peer");
    case PH_CONVERSATION_STATE_CONNECTED:
      if (path == NULL)
        return _ ("Connected");
      return path->relayed ? _ ("Connected through a relay") : _ ("Connected directly");
    case PH_CONVERSATION_STATE_CLOSED:
      return _ ("Chat ended");
    case PH_CONVERSATION_STATE_FAILED:
      return _ ("Failed");
    case PH_CONVERSATION_STATE_IDLE:
    case PH_CONVERSATION_STATE_CONNECTING:
    default:
      return _ ("Connecting…");
    }
}

/* "Save Contact" while the chat is live and its peer is not a contact
 * yet; saving before it connects is allowed, the offer waits for it. */
static void
update_save_contact (PhWindow *self)
{
  PhChat *chat = current_chat (self);
  PhConversation *conversation = chat != NULL ? ph_chat_get_conversation (chat) : NULL;
  PhConversationState state = chat != NULL ? ph_chat_get_state (chat) : PH_CONVERSATION_STATE_IDLE;
  gboolean can_save
      = conversation != NULL && !ph_chat_is_archived (chat) && ph_chat_get_contact (chat) == NULL
        && ph_session_get_contact_book (self->session) != NULL
        && ph_conversation_get_contact (conversation) == NULL
        && state != PH_CONVERSATION_STATE_CLOSED && state != PH_CONVERSATION_STATE_FAILED;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.save-contact", can_save);
  gtk_widget_set_visible (self->save_contact_button, can_save);
}

static void
update_content_title (PhWindow *self)
{
  const char *page = gtk_stack_get_visible_child_name (self->content_stack);
  PhChat *chat = current_chat (self);

  if (chat != NULL)
    {
      adw_window_title_set_title (self->content_title, ph_chat_get_title (chat));
      adw_window_title_set_subtitle (self->content_title, describe_state (chat));
    }
  else if (g_str_equal (page, "contact") && self->shown_contact != NULL)
    {
      adw_window_title_set_title (self->content_title, ph_contact_get_name (self->shown_contact));
      adw_window_title_set_subtitle (
          self->content_title,
          ph_contact_get_verified (self->shown_contact) ? _ ("Verified contact") : _ ("Contact"));
    }
  else
    {
      adw_window_title_set_title (self->content_title,
                                  g_str_equal (page, "join") ? _ ("Join a Chat") : "");
      adw_window_title_set_subtitle (self->content_title, "");
    }
  update_save_contact (self);
}

/* The inspector follows the chat only while it is out: a hidden one would
 * still lay itself out for every candidate and path change, in the middle
 * of a setup, whenever the flap is mapped (it is, folded). */
static void
follow_in_inspector (PhWindow *self, PhChat *chat)
{
  gboolean out
      = adw_flap_get_reveal_flap (self->flap) || adw_flap_get_reveal_progress (self->flap) > 0;

  ph_inspector_set_chat (self->inspector, out ? chat : NULL);
}

static void
flap_moved_cb (PhWindow *self)
{
  follow_in_inspector (self, current_chat (self));
}

/* Setting up or reconnecting: every packet counts. */
static gboolean
is_on_the_network (PhChat *chat)
{
  switch (ph_conversation_get_state (ph_chat_get_conversation (chat)))
    {
    case PH_CONVERSATION_STATE_IDLE:
      return !ph_chat_is_archived (chat);
    case PH_CONVERSATION_STATE_WAITING_FOR_PEER:
    case PH_CONVERSATION_STATE_CONNECTING:
    case PH_CONVERSATION_STATE_RECONNECTING:
      return TRUE;
    case PH_CONVERSATION_STATE_CONNECTED:
    case PH_CONVERSATION_STATE_CLOSED:
    case PH_CONVERSATION_STATE_FAILED:
    default:
      return FALSE;
    }
}

static void
show_contact_on_page (PhWindow *self, PhContact *contact)
{
  if (self->shown_contact == contact)
    return;
  if (self->shown_contact != NULL)
    g_signal_handlers_disconnect_by_func (self->shown_contact, update_content_title, self);
  g_set_object (&self->shown_contact, contact);
  if (contact != NULL)
    {
      g_signal_connect_swapped (contact, "notify::name", G_CALLBACK (update_content_title), self);
      g_signal_connect_swapped (contact, "notify::verified", G_CALLBACK (update_content_title),
                                self);
    }
  ph_contact_page_set_contact (self->contact_page, ph_session_get_contact_book (self->session),
                               contact);
}

static void
set_content_page (PhWindow *self, const char *page, PhChat *chat)
{
  PhChat *previous = current_chat (self);
  gboolean code_chat = chat != NULL && ph_chat_get_contact (chat) == NULL;

  if (previous != NULL && previous != chat)
    {
      g_signal_handlers_disconnect_by_func (previous, update_content_title, self);
      g_signal_handlers_disconnect_by_func (ph_chat_get_conversation (previous),
                                            update_content_title, self);
    }

  ph_chat_view_set_chat (self->chat_view, chat);
  if (chat != NULL)
    ph_chat_mark_read (chat);
  follow_in_inspector (self, chat);
  if (!g_str_equal (page, "contact"))
    show_contact_on_page (self, NULL);
  if (!g_str_equal (page, "contact") && (chat == NULL || ph_chat_get_contact (chat) == NULL))
    gtk_selection_model_unselect_all (GTK_SELECTION_MODEL (self->contacts_selection));
  /* A chat on its way to connect appears at once: a crossfade is a dozen
   * frames while its packets are in flight. */
  gtk_stack_set_visible_child_full (self->content_stack, page,
                                    chat != NULL && is_on_the_network (chat)
                                        ? GTK_STACK_TRANSITION_TYPE_NONE
                                        : gtk_stack_get_transition_type (self->content_stack));

  if (chat != NULL && chat != previous)
    {
      g_signal_connect_swapped (chat, "notify::title", G_CALLBACK (update_content_title), self);
      g_signal_connect_swapped (chat, "notify::state", G_CALLBACK (update_content_title), self);
      g_signal_connect_swapped (chat, "notify::contact-online", G_CALLBACK (update_content_title),
                                self);
      g_signal_connect_swapped (ph_chat_get_conversation (chat), "notify::path",
                                G_CALLBACK (update_content_title), self);
      g_signal_connect_swapped (ph_chat_get_conversation (chat), "notify::contact",
                                G_CALLBACK (update_content_title), self);
    }

  /* The inspector explains a chat's connection; without a chat, or for a
   * chat from an earlier run, it has nothing to say. A contact's chat is
   * many connections; its details are the contact's page. */
  gtk_widget_set_visible (self->inspector_button, chat != NULL && !ph_chat_is_archived (chat)
                                                      && ph_chat_get_contact (chat) == NULL);
  gtk_widget_set_visible (self->contact_details_button,
                          chat != NULL && ph_chat_get_contact (chat) != NULL);
  if (!code_chat)
    {
      adw_flap_set_reveal_flap (self->flap, FALSE);
      gtk_selection_model_unselect_all (GTK_SELECTION_MODEL (self->selection));
    }
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.close-chat", code_chat);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.delete-chat", code_chat);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.toggle-inspector",
                                 code_chat && !ph_chat_is_archived (chat));
  update_content_title (self);
}

static void
update_sidebar (PhWindow *self)
{
  gboolean empty = g_list_model_get_n_items (self->chats) == 0;

  gtk_stack_set_visible_child_name (self->sidebar_stack, empty ? "empty" : "list");
}

static void
update_contacts (PhWindow *self)
{
  gboolean empty = g_list_model_get_n_items (self->contacts) == 0;

  gtk_stack_set_visible_child_name (self->contacts_stack, empty ? "empty" : "list");
}

/* Whether the person sees the window: a window hidden by
 * "run-in-background" may still count as active. */
static gboolean
is_in_front (PhWindow *self)
{
  return gtk_widget_get_visible (GTK_WIDGET (self)) && gtk_window_is_active (GTK_WINDOW (self));
}

static void
chat_message_received_cb (PhWindow *self, PhMessage *message, PhChat *chat)
{
  GSettings *settings = ph_session_get_settings (self->session);
  GApplication *application = G_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));
  g_autoptr (GNotification) notification = NULL;
  g_autofree char *body = NULL;

  /* Read at once when on screen. */
  if (chat == current_chat (self) && is_in_front (self))
    ph_chat_mark_read (chat);
  if (application == NULL || is_in_front (self)
      || !g_settings_get_boolean (settings, "notifications"))
    return;

  /* The desktop shows it outside the chat, where a reversed or hidden
   * character could pass for the app's own words and a look-alike host
   * for a real one. The title is the peer's name, cleaned by the chat. */
  body = ph_message_text_to_one_line (ph_message_get_text (message));
  notification = g_notification_new (ph_chat_get_title (chat));
  g_notification_set_body (notification, body);
  g_application_send_notification (application, NOTIFICATION_ID, notification);
}

static void
chat_failed_cb (PhWindow *self, const GError *error, PhConversation *conversation)
{
  g_autofree char *text = NULL;
  const char *title;

  /* The chat on screen shows its own failure. */
  if (current_chat (self) != NULL && ph_chat_get_conversation (current_chat (self)) == conversation)
    return;

  ph_error_text_get (error, &title, NULL, NULL);
  text = g_strdup_printf (_ ("A chat ended: %s"), title);
  show_toast (self, text);
}

static void
contact_saved_cb (PhWindow *self, PhContact *contact, PhConversation *conversation)
{
  g_autofree char *text
      = g_strdup_printf (_ ("%s saved as a contact"), ph_contact_get_name (contact));

  show_toast (self, text);
}

static void
contact_failed_cb (PhWindow *self, const GError *error, PhConversation *conversation)
{
  g_autofree char *text = g_strdup_printf (_ ("Could not save the contact: %s"), error->message);

  show_toast (self, text);
}

static void
chat_history_failed_cb (PhWindow *self, const GError *error, PhChat *chat)
{
  show_toast (self, error->message);
}

static void
track_chat (PhWindow *self, PhChat *chat)
{
  g_signal_connect_object (chat, "message-received", G_CALLBACK (chat_message_received_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (chat, "history-failed", G_CALLBACK (chat_history_failed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (ph_chat_get_conversation (chat), "failed", G_CALLBACK (chat_failed_cb),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (ph_chat_get_conversation (chat), "contact-saved",
                           G_CALLBACK (contact_saved_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (ph_chat_get_conversation (chat), "contact-failed",
                           G_CALLBACK (contact_failed_cb), self, G_CONNECT_SWAPPED);
}

/* Every chat the session lists, whichever window made it. */
static void
chats_changed_cb (PhWindow *self, guint position, guint removed, guint added)
{
  for (guint i = position; i < position + added; i++)
    {
      g_autoptr (PhChat) chat = g_list_model_get_item (self->chats, i);

      track_chat (self, chat);
    }
  update_sidebar (self);
}

static void
leave_page_of (PhWindow *self, PhChat *chat)
{
  if (current_chat (self) == chat)
    set_content_page (self, "welcome", NULL);
}

static void
delete_chat (PhWindow *self, PhChat *chat)
{
  g_autoptr (GError) error = NULL;

  leave_page_of (self, chat);
  if (!ph_session_delete_chat (self->session, chat, &error))
    show_toast (self, error->message);
}

static void
close_chat (PhWindow *self, PhChat *chat)
{
  g_autoptr (GError) error = NULL;

  leave_page_of (self, chat);
  if (!ph_session_close_chat (self->session, chat, &error))
    show_toast (self, error->message);
}

static void
show_settings_error (PhWindow *self, const GError *error)
{
  g_autofree char *text
      = g_strdup_printf (_ ("Check the servers in Preferences: %s"), error->message);

  show_toast (self, text);
}

static void
sidebar_activate_cb (PhWindow *self, guint position)
{
  g_autoptr (PhChat) chat = g_list_model_get_item (self->chats, position);

  ph_window_show_chat (self, chat);
}

/* A contact opens their chat; their page is a button away. */
static void
contacts_activate_cb (PhWindow *self, guint position)
{
  g_autoptr (PhContact) contact = g_list_model_get_item (self->contacts, position);

  ph_window_show_contact_chat (self, contact);
}

/* Contacts' chats are not in the session's list: their messages are
 * announced as those of the listed chats are. */
static void
track_contact_chats (PhWindow *self)
{
  for (guint i = 0; i < g_list_model_get_n_items (self->contacts); i++)
    {
      g_autoptr (PhContact) contact = g_list_model_get_item (self->contacts, i);
      PhChat *chat = ph_session_get_contact_chat (self->session, contact);

      if (chat == NULL || g_hash_table_contains (self->tracked, chat))
        continue;
      g_hash_table_add (self->tracked, g_object_ref (chat));
      g_signal_connect_object (chat, "message-received", G_CALLBACK (chat_message_received_cb),
                               self, G_CONNECT_SWAPPED);
      g_signal_connect_object (chat, "history-failed", G_CALLBACK (chat_history_failed_cb), self,
                               G_CONNECT_SWAPPED);
    }
}

static void
contact_removed_cb (PhWindow *self)
{
  g_autofree char *text
      = g_strdup_printf (_ ("%s removed from contacts"), ph_contact_get_name (self->shown_contact));

  set_content_page (self, "welcome", NULL);
  show_toast (self, text);
}

static void
join_cb (PhWindow *self, const char *code)
{
  ph_window_join_chat (self, code);
}

static void
sidebar_setup_cb (GtkSignalListItemFactory *factory, GtkListItem *item)
{
  gtk_list_item_set_child (item, ph_conversation_row_new ());
}

static void
sidebar_bind_cb (GtkSignalListItemFactory *factory, GtkListItem *item)
{
  ph_conversation_row_set_chat (PH_CONVERSATION_ROW (gtk_list_item_get_child (item)),
                                gtk_list_item_get_item (item));
}

static void
sidebar_unbind_cb (GtkSignalListItemFactory *factory, GtkListItem *item)
{
  ph_conversation_row_set_chat (PH_CONVERSATION_ROW (gtk_list_item_get_child (item)), NULL);
}

static void
contacts_setup_cb (GtkSignalListItemFactory *factory, GtkListItem *item)
{
  gtk_list_item_set_child (item, ph_contact_row_new ());
}

static void
drop_binding (GBinding *binding)
{
  g_binding_unbind (binding);
  g_object_unref (binding);
}

static void
contacts_bind_cb (GtkSignalListItemFactory *factory, GtkListItem *item, PhWindow *self)
{
  PhContactRow *row = PH_CONTACT_ROW (gtk_list_item_get_child (item));
  PhContact *contact = gtk_list_item_get_item (item);
  PhChat *chat = ph_session_get_contact_chat (self->session, contact);

  ph_contact_row_set_contact (row, contact);
  if (chat == NULL)
    return;
  g_object_set_data_full (G_OBJECT (row), "ph-online-binding",
                          g_object_ref (g_object_bind_property (chat, "contact-online", row,
                                                                "online", G_BINDING_SYNC_CREATE)),
                          (GDestroyNotify)drop_binding);
  g_object_set_data_full (
      G_OBJECT (row), "ph-unread-binding",
      g_object_ref (g_object_bind_property (chat, "unread", row, "unread", G_BINDING_SYNC_CREATE)),
      (GDestroyNotify)drop_binding);
}

static void
contacts_unbind_cb (GtkSignalListItemFactory *factory, GtkListItem *item, PhWindow *self)
{
  PhContactRow *row = PH_CONTACT_ROW (gtk_list_item_get_child (item));

  g_object_set_data (G_OBJECT (row), "ph-online-binding", NULL);
  g_object_set_data (G_OBJECT (row), "ph-unread-binding", NULL);
  ph_contact_row_set_online (row, FALSE);
  ph_contact_row_set_unread (row, 0);
  ph_contact_row_set_contact (row, NULL);
}

static void
start_chat_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  g_autoptr (PhChat) chat = ph_window_start_chat (PH_WINDOW (widget));
}

static void
join_chat_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  ph_window_show_join_page (PH_WINDOW (widget));
}

static void
close_chat_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  PhWindow *self = PH_WINDOW (widget);
  PhChat *chat = current_chat (self);

  if (chat != NULL)
    close_chat (self, chat);
}

static void
delete_chat_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  PhWindow *self = PH_WINDOW (widget);
  PhChat *chat = current_chat (self);

  if (chat != NULL)
    delete_chat (self, chat);
}

static void
save_contact_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  PhWindow *self = PH_WINDOW (widget);
  PhChat *chat = current_chat (self);
  PhContactBook *book = ph_session_get_contact_book (self->session);
  g_autofree char *text = NULL;

  if (chat == NULL || book == NULL)
    return;
  ph_conversation_save_contact (ph_chat_get_conversation (chat), book);
  /* Nothing is stored until the peer saves too; say so. */
  if (!ph_conversation_get_peer_wants_contact (ph_chat_get_conversation (chat)))
    {
      text = g_strdup_printf (_ ("%s becomes a contact once they save you too"),
                              ph_chat_get_title (chat));
      show_toast (self, text);
    }
}

static void
contact_details_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  PhWindow *self = PH_WINDOW (widget);
  PhChat *chat = current_chat (self);

  if (chat != NULL && ph_chat_get_contact (chat) != NULL)
    ph_window_show_contact (self, ph_chat_get_contact (chat));
}

static void
toggle_inspector_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  PhWindow *self = PH_WINDOW (widget);

  ph_window_set_inspector_visible (self, !adw_flap_get_reveal_flap (self->flap));
}

static void
show_toast_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  show_toast (PH_WINDOW (widget), g_variant_get_string (parameter, NULL));
}

static void
go_back_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  PhWindow *self = PH_WINDOW (widget);

  adw_leaflet_set_visible_child (self->leaflet, self->sidebar_box);
}

static void
is_active_cb (PhWindow *self)
{
  if (gtk_window_is_active (GTK_WINDOW (self)))
    {
      GtkApplication *application = gtk_window_get_application (GTK_WINDOW (self));

      if (application != NULL)
        g_application_withdraw_notification (G_APPLICATION (application), NOTIFICATION_ID);
      if (current_chat (self) != NULL)
        ph_chat_mark_read (current_chat (self));
    }
}

static gboolean
ph_window_close_request (GtkWindow *window)
{
  PhWindow *self = PH_WINDOW (window);
  GSettings *settings = ph_session_get_settings (self->session);
  int width, height;

  gtk_window_get_default_size (window, &width, &height);
  g_settings_set_int (settings, "window-width", width);
  g_settings_set_int (settings, "window-height", height);
  g_settings_set_boolean (settings, "window-maximized", gtk_window_is_maximized (window));

  /* Hidden, not gone: contacts still reach this profile and their
   * messages come as notifications, until the app is quit. */
  if (!self->quitting && g_settings_get_boolean (settings, "run-in-background")
      && ph_session_get_contact_book (self->session) != NULL)
    {
      ph_background_request (window);
      gtk_widget_set_visible (GTK_WIDGET (window), FALSE);
      return TRUE;
    }

  /* Peers hear goodbye instead of waiting for a timeout. */
  ph_session_leave_all (self->session);

  return GTK_WINDOW_CLASS (ph_window_parent_class)->close_request (window);
}

static void
ph_window_dispose (GObject *object)
{
  PhWindow *self = PH_WINDOW (object);

  if (self->chat_view != NULL)
    set_content_page (self, "welcome", NULL);
  if (self->flap != NULL)
    g_signal_handlers_disconnect_by_data (self->flap, self);
  gtk_widget_dispose_template (GTK_WIDGET (self), PH_TYPE_WINDOW);
  g_clear_object (&self->selection);
  g_clear_object (&self->contacts_selection);
  g_clear_object (&self->contacts);
  g_clear_pointer (&self->tracked, g_hash_table_unref);
  self->chats = NULL;
  g_clear_object (&self->session);

  G_OBJECT_CLASS (ph_window_parent_class)->dispose (object);
}

static void
ph_window_constructed (GObject *object)
{
  PhWindow *self = PH_WINDOW (object);
  GSettings *settings = ph_session_get_settings (self->session);
  const GError *history_error = ph_session_get_history_error (self->session);
  const GError *contact_book_error = ph_session_get_contact_book_error (self->session);

  G_OBJECT_CLASS (ph_window_parent_class)->constructed (object);

  self->chats = ph_session_get_chats (self->session);
  self->selection = gtk_single_selection_new (g_object_ref (self->chats));
  gtk_single_selection_set_autoselect (self->selection, FALSE);
  gtk_single_selection_set_can_unselect (self->selection, TRUE);
  gtk_list_view_set_model (self->sidebar_list, GTK_SELECTION_MODEL (self->selection));
  chats_changed_cb (self, 0, 0, g_list_model_get_n_items (self->chats));
  g_signal_connect_object (self->chats, "items-changed", G_CALLBACK (chats_changed_cb), self,
                           G_CONNECT_SWAPPED);

  /* Without a contact book (its error is shown) the section stays empty. */
  if (ph_session_get_contact_book (self->session) != NULL)
    self->contacts = g_object_ref (G_LIST_MODEL (ph_session_get_contact_book (self->session)));
  else
    self->contacts = G_LIST_MODEL (g_list_store_new (PH_TYPE_CONTACT));
  self->contacts_selection = gtk_single_selection_new (g_object_ref (self->contacts));
  gtk_single_selection_set_autoselect (self->contacts_selection, FALSE);
  gtk_single_selection_set_can_unselect (self->contacts_selection, TRUE);
  gtk_list_view_set_model (self->contacts_list, GTK_SELECTION_MODEL (self->contacts_selection));
  ph_session_meet_contacts (self->session);
  update_contacts (self);
  track_contact_chats (self);
  g_signal_connect_object (self->contacts, "items-changed", G_CALLBACK (update_contacts), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->contacts, "items-changed", G_CALLBACK (track_contact_chats), self,
                           G_CONNECT_SWAPPED);
  set_content_page (self, "welcome", NULL);

  gtk_window_set_default_size (GTK_WINDOW (self), g_settings_get_int (settings, "window-width"),
                               g_settings_get_int (settings, "window-height"));
  if (g_settings_get_boolean (settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));
  if (history_error != NULL)
    show_toast (self, history_error->message);
  if (contact_book_error != NULL)
    show_toast (self, contact_book_error->message);
}

static void
ph_window_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PhWindow *self = PH_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      g_value_set_object (value, self->session);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_window_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  PhWindow *self = PH_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      self->session = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_window_class_init (PhWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->constructed = ph_window_constructed;
  object_class->dispose = ph_window_dispose;
  object_class->get_property = ph_window_get_property;
  object_class->set_property = ph_window_set_property;
  window_class->close_request = ph_window_close_request;

  properties[PROP_SESSION]
      = g_param_spec_object ("session", NULL, NULL, PH_TYPE_SESSION,
                             G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (PH_TYPE_CHAT_VIEW);
  g_type_ensure (PH_TYPE_CONTACT_PAGE);
  g_type_ensure (PH_TYPE_INSPECTOR);
  g_type_ensure (PH_TYPE_JOIN_PAGE);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/pinhole/Pinhole/ph-window.ui");
  gtk_widget_class_bind_template_child (widget_class, PhWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, PhWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, PhWindow, sidebar_box);
  gtk_widget_class_bind_template_child (widget_class, PhWindow, sidebar_stack);
  gtk_widget_class_bind_template_child (widget_class, PhWindow, sidebar_list);
  gtk_widget_class_bind_template_child (widget_class, PhWindow, contacts_stack);
  gtk_widget_class_bind_template_child (widget_class, PhWindow, contacts_list);
  gtk_widget_class_bind_template_child (widget_class, PhWindow, contact_page);
  gtk_widget_class_bind_template_child (widget_class, PhWindow, content_box);
  gtk_widget_class_bind_template_child (widget_class, PhWindow, content_title);
  gtk_widget_class_bind_template_child (widget_class, PhWindow, inspector_button);
  gtk_widget_class_bind_template_child (widget_class, PhWindow, save_contact_button);
  gtk_widget_class_bind_template_child (widget_class, PhWindow, contact_details_button);
  gtk_widget_class_bind_template_child (widget_class, PhWindow, flap);
  gtk_widget_class_bind_template_child (widget_class, PhWindow, content_stack);
  gtk_widget_class_bind_template_child (widget_class, PhWindow, join_page);
  gtk_widget_class_bind_template_child (widget_class, PhWindow, chat_view);
  gtk_widget_class_bind_template_child (widget_class, PhWindow, inspector);
  gtk_widget_class_bind_template_callback (widget_class, sidebar_activate_cb);
  gtk_widget_class_bind_template_callback (widget_class, join_cb);
  gtk_widget_class_bind_template_callback (widget_class, contacts_activate_cb);
  gtk_widget_class_bind_template_callback (widget_class, contact_removed_cb);

  gtk_widget_class_install_action (widget_class, "win.start-chat", NULL, start_chat_action);
  gtk_widget_class_install_action (widget_class, "win.join-chat", NULL, join_chat_action);
  gtk_widget_class_install_action (widget_class, "win.close-chat", NULL, close_chat_action);
  gtk_widget_class_install_action (widget_class, "win.delete-chat", NULL, delete_chat_action);
  gtk_widget_class_install_action (widget_class, "win.save-contact", NULL, save_contact_action);
  gtk_widget_class_install_action (widget_class, "win.contact-details", NULL,
                                   contact_details_action);
  gtk_widget_class_install_action (widget_class, "win.toggle-inspector", NULL,
                                   toggle_inspector_action);
  gtk_widget_class_install_action (widget_class, "win.show-toast", "s", show_toast_action);
  gtk_widget_class_install_action (widget_class, "win.go-back", NULL, go_back_action);
}

static void
ph_window_init (PhWindow *self)
{
  GtkListItemFactory *factory;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->tracked = g_hash_table_new_full (g_direct_hash, g_direct_equal, g_object_unref, NULL);

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (sidebar_setup_cb), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (sidebar_bind_cb), NULL);
  g_signal_connect (factory, "unbind", G_CALLBACK (sidebar_unbind_cb), NULL);
  gtk_list_view_set_factory (self->sidebar_list, factory);
  g_object_unref (factory);

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (contacts_setup_cb), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (contacts_bind_cb), self);
  g_signal_connect (factory, "unbind", G_CALLBACK (contacts_unbind_cb), self);
  gtk_list_view_set_factory (self->contacts_list, factory);
  g_object_unref (factory);

  g_signal_connect (self, "notify::is-active", G_CALLBACK (is_active_cb), NULL);
  g_signal_connect_swapped (self->flap, "notify::reveal-flap", G_CALLBACK (flap_moved_cb), self);
  g_signal_connect_swapped (self->flap, "notify::reveal-progress", G_CALLBACK (flap_moved_cb),
                            self);
}

PhWindow *
ph_window_new (GtkApplication *application, PhSession *session)
{
  g_return_val_if_fail (GTK_IS_APPLICATION (application), NULL);
  g_return_val_if_fail (PH_IS_SESSION (session), NULL);

  return g_object_new (PH_TYPE_WINDOW, "application", application, "session", session, NULL);
}

PhChat *
ph_window_start_chat (PhWindow *self)
{
  g_autoptr (PhChat) chat = NULL;
  g_autoptr (GError) error = NULL;

  g_return_val_if_fail (PH_IS_WINDOW (self), NULL);

  chat = ph_session_host (self->session, &error);
  if (chat == NULL)
    {
      show_settings_error (self, error);
      return NULL;
    }
  ph_window_show_chat (self, chat);
  return g_steal_pointer (&chat);
}

PhChat *
ph_window_join_chat (PhWindow *self, const char *code)
{
  g_autoptr (PhChat) chat = NULL;
  g_autoptr (GError) error = NULL;

  g_return_val_if_fail (PH_IS_WINDOW (self), NULL);
  g_return_val_if_fail (code != NULL, NULL);

  chat = ph_session_join (self->session, code, &error);
  if (chat == NULL && g_error_matches (error, PH_ERROR, PH_ERROR_INVALID_CODE))
    {
      /* The join page says what is wrong with it. */
      ph_window_show_join_page (self);
      gtk_editable_set_text (ph_join_page_get_entry (self->join_page), code);
      return NULL;
    }
  if (chat == NULL && g_error_matches (error, PH_ERROR, PH_ERROR_BURNED_CODE))
    {
      const char *title, *advice;

      /* Refused before anything was sent: the join page says why, where
       * the person typed it, and what to ask for instead. */
      ph_error_text_get (error, &title, &advice, NULL);
      ph_window_show_join_page (self);
      ph_join_page_show_refusal (self->join_page, code, title, advice);
      return NULL;
    }
  if (chat == NULL)
    {
      show_settings_error (self, error);
      return NULL;
    }

  ph_join_page_reset (self->join_page);
  ph_window_show_chat (self, chat);
  return g_steal_pointer (&chat);
}

void
ph_window_show_join_page (PhWindow *self)
{
  g_return_if_fail (PH_IS_WINDOW (self));

  ph_join_page_reset (self->join_page);
  set_content_page (self, "join", NULL);
  adw_leaflet_set_visible_child (self->leaflet, self->content_box);
  gtk_widget_grab_focus (GTK_WIDGET (self->join_page));
}

void
ph_window_show_chat (PhWindow *self, PhChat *chat)
{
  g_return_if_fail (PH_IS_WINDOW (self));
  g_return_if_fail (PH_IS_CHAT (chat));

  set_content_page (self, "chat", chat);
  for (guint i = 0; i < g_list_model_get_n_items (self->chats); i++)
    {
      g_autoptr (PhChat) listed = g_list_model_get_item (self->chats, i);

      if (listed == chat)
        {
          gtk_single_selection_set_selected (self->selection, i);
          break;
        }
    }
  adw_leaflet_set_visible_child (self->leaflet, self->content_box);
}

static void
select_contact (PhWindow *self, PhContact *contact)
{
  for (guint i = 0; i < g_list_model_get_n_items (self->contacts); i++)
    {
      g_autoptr (PhContact) listed = g_list_model_get_item (self->contacts, i);

      if (listed == contact)
        {
          gtk_single_selection_set_selected (self->contacts_selection, i);
          break;
        }
    }
}

void
ph_window_quit (PhWindow *self)
{
  g_return_if_fail (PH_IS_WINDOW (self));

  self->quitting = TRUE;
  gtk_window_close (GTK_WINDOW (self));
}

void
ph_window_show_contact_chat (PhWindow *self, PhContact *contact)
{
  PhChat *chat;

  g_return_if_fail (PH_IS_WINDOW (self));
  g_return_if_fail (PH_IS_CONTACT (contact));

  chat = ph_session_get_contact_chat (self->session, contact);
  if (chat == NULL)
    {
      ph_window_show_contact (self, contact);
      return;
    }
  set_content_page (self, "chat", chat);
  select_contact (self, contact);
  adw_leaflet_set_visible_child (self->leaflet, self->content_box);
}

void
ph_window_show_contact (PhWindow *self, PhContact *contact)
{
  g_return_if_fail (PH_IS_WINDOW (self));
  g_return_if_fail (PH_IS_CONTACT (contact));

  show_contact_on_page (self, contact);
  set_content_page (self, "contact", NULL);
  select_contact (self, contact);
  adw_leaflet_set_visible_child (self->leaflet, self->content_box);
}

GtkWidget *
ph_window_get_contact_page (PhWindow *self)
{
  g_return_val_if_fail (PH_IS_WINDOW (self), NULL);

  return GTK_WIDGET (self->contact_page);
}

GListModel *
ph_window_get_chats (PhWindow *self)
{
  g_return_val_if_fail (PH_IS_WINDOW (self), NULL);

  return self->chats;
}

GtkWidget *
ph_window_get_chat_view (PhWindow *self)
{
  g_return_val_if_fail (PH_IS_WINDOW (self), NULL);

  return GTK_WIDGET (self->chat_view);
}

GtkWidget *
ph_window_get_join_page (PhWindow *self)
{
  g_return_val_if_fail (PH_IS_WINDOW (self), NULL);

  return GTK_WIDGET (self->join_page);
}

GtkWidget *
ph_window_get_inspector (PhWindow *self)
{
  g_return_val_if_fail (PH_IS_WINDOW (self), NULL);

  return GTK_WIDGET (self->inspector);
}

const char *
ph_window_get_visible_page (PhWindow *self)
{
  g_return_val_if_fail (PH_IS_WINDOW (self), NULL);

  return gtk_stack_get_visible_child_name (self->content_stack);
}

void
ph_window_set_inspector_visible (PhWindow *self, gboolean visible)
{
  g_return_if_fail (PH_IS_WINDOW (self));

  adw_flap_set_reveal_flap (self->flap, visible);
}
