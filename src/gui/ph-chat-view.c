/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-chat-view"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "ph-chat-view.h"
#include "ph-error-text.h"
#include "ph-message-row.h"

/* The peer hears "stopped typing" this long after the last key press. */
#define TYPING_IDLE_SECONDS 5
/* How close to the end still counts as "at the bottom", in pixels. */
#define BOTTOM_SLACK 24
/* A spinner draws a frame each time the screen refreshes, and a frame can
 * take the main loop, which also runs ICE and TLS, for tens of
 * milliseconds (GTK's GL renderer on llvmpipe): it starts only once a
 * setup takes long enough that the person wants to see it is alive. Waiting
 * for the peer, which may take minutes, shows none. */
#define SPINNER_DELAY_MS 1000

struct _PhChatView
{
  GtkWidget parent_instance;

  GtkStack *stack;
  GtkLabel *code_label;
  AdwStatusPage *waiting_page;
  AdwStatusPage *connecting_page;
  GtkSpinner *connecting_spinner;
  AdwStatusPage *failed_page;
  GtkScrolledWindow *scroller;
  GtkListView *message_list;
  GtkRevealer *typing_revealer;
  GtkLabel *typing_label;
  GtkRevealer *banner_revealer;
  GtkLabel *banner_label;
  GtkWidget *delete_chat_button;
  GtkWidget *close_chat_button;
  GtkRevealer *contact_revealer;
  GtkLabel *contact_label;
  GtkWidget *composer_box;
  GtkTextView *composer;

  PhChat *chat;
  GtkNoSelection *selection;
  guint typing_timeout_id;
  guint scroll_id;
  guint spinner_id;
  gboolean stick_to_bottom;
};

G_DEFINE_FINAL_TYPE (PhChatView, ph_chat_view, GTK_TYPE_WIDGET)

static const char *
peer_name (PhChatView *self)
{
  const char *name = ph_chat_get_peer_name (self->chat);

  return name != NULL && name[0] != '\0' ? name : _ ("Your peer");
}

static void
update_banner (PhChatView *self)
{
  PhConversation *conversation = ph_chat_get_conversation (self->chat);
  const char *reason = ph_chat_get_close_reason (self->chat);
  g_autofree char *text = NULL;

  if (ph_chat_get_contact (self->chat) != NULL && !ph_chat_get_contact_online (self->chat))
    text = g_strdup_printf (_ ("%s is offline; your messages will be delivered when they are "
                               "back."),
                            peer_name (self));
  else if (ph_chat_is_archived (self->chat))
    /* Translators: a chat from before Pinhole was last started */
    text = g_strdup (_ ("This chat has ended. Codes work only once, so it cannot go on: start a "
                        "new chat to talk again."));
  else if (ph_chat_get_state (self->chat) == PH_CONVERSATION_STATE_FAILED)
    {
      const char *title, *advice;

      ph_error_text_get (ph_conversation_get_error (conversation), &title, &advice, NULL);
      text = g_strdup_printf ("%s. %s", title, advice);
    }
  else if (ph_chat_get_state (self->chat) == PH_CONVERSATION_STATE_RECONNECTING)
    text = g_strdup_printf (_ ("Reconnecting to %s… Messages you write now are sent once the "
                               "connection is back."),
                            peer_name (self));
  else if (g_strcmp0 (reason, "peer-left") == 0)
    text = g_strdup_printf (_ ("%s left the chat."), peer_name (self));
  else if (g_strcmp0 (reason, "peer-lost") == 0)
    text = g_strdup_printf (_ ("The connection to %s was lost: nothing was heard from them for "
                               "ten seconds."),
                            peer_name (self));
  else if (reason != NULL)
    text = g_strdup (_ ("You left the chat."));

  gtk_label_set_text (self->banner_label, text != NULL ? text : "");
  gtk_revealer_set_reveal_child (self->banner_revealer, text != NULL);
  /* A contact's chat is not closed: it goes on with the contact. */
  gtk_widget_set_visible (self->delete_chat_button, ph_chat_get_contact (self->chat) == NULL);
  gtk_widget_set_visible (self->close_chat_button, ph_chat_get_contact (self->chat) == NULL);
}

/* The peer saved us first: saving them too makes the contact. */
static void
update_contact_banner (PhChatView *self)
{
  PhConversation *conversation = ph_chat_get_conversation (self->chat);
  gboolean wants = !ph_chat_is_archived (self->chat)
                   && ph_conversation_get_peer_wants_contact (conversation)
                   && ph_conversation_get_contact (conversation) == NULL;
  g_autofree char *text = NULL;

  if (wants)
    text = g_strdup_printf (_ ("%s wants to save you as a contact"), peer_name (self));
  gtk_label_set_text (self->contact_label, text != NULL ? text : "");
  gtk_revealer_set_reveal_child (self->contact_revealer, wants);
}

/* While setting up, what the status pages say underneath, or why nothing
 * happens yet: the rendezvous server is not answering and is asked again. */
static void
update_setup_descriptions (PhChatView *self)
{
  PhConversation *conversation = ph_chat_get_conversation (self->chat);
  gboolean retrying = ph_conversation_get_retrying_rendezvous (conversation);
  const char *retrying_text
      = _ ("The rendezvous server does not answer. Pinhole keeps trying for a little while.");

  adw_status_page_set_description (
      self->waiting_page, retrying ? retrying_text
                                   : _ ("Give this code to the person you want to chat with. It "
                                        "works once and expires after ten minutes."));
  adw_status_page_set_description (
      self->connecting_page,
      retrying ? retrying_text
               : _ ("Agreeing on a key with your peer and finding a path through both networks."));
}

static gboolean
start_spinner_cb (gpointer user_data)
{
  PhChatView *self = user_data;

  self->spinner_id = 0;
  gtk_spinner_start (self->connecting_spinner);
  return G_SOURCE_REMOVE;
}

static void
update_spinner (PhChatView *self, gboolean connecting)
{
  if (!connecting)
    {
      g_clear_handle_id (&self->spinner_id, g_source_remove);
      gtk_spinner_stop (self->connecting_spinner);
    }
  else if (self->spinner_id == 0 && !gtk_spinner_get_spinning (self->connecting_spinner))
    self->spinner_id = g_timeout_add (SPINNER_DELAY_MS, start_spinner_cb, self);
}

/* The setup pages come and go at once: a crossfade is a dozen frames,
 * each of which can hold the main loop that runs ICE and TLS for tens of
 * milliseconds, right while the setup's packets are in flight. */
static GtkStackTransitionType
transition_between (PhChatView *self, const char *page)
{
  const char *shown = gtk_stack_get_visible_child_name (self->stack);

  if (g_str_equal (page, "waiting") || g_str_equal (page, "connecting")
      || g_strcmp0 (shown, "waiting") == 0 || g_strcmp0 (shown, "connecting") == 0)
    return GTK_STACK_TRANSITION_TYPE_NONE;
  return gtk_stack_get_transition_type (self->stack);
}

static void
update_state (PhChatView *self)
{
  PhConversation *conversation = ph_chat_get_conversation (self->chat);
  PhConversationState state = ph_chat_get_state (self->chat);
  gboolean has_messages = g_list_model_get_n_items (ph_chat_get_messages (self->chat)) > 0;
  const char *page = "chat";
  const char *code = ph_chat_get_code (self->chat);

  gtk_label_set_text (self->code_label, code != NULL ? code : "");
  update_setup_descriptions (self);

  switch (state)
    {
    case PH_CONVERSATION_STATE_IDLE:
    case PH_CONVERSATION_STATE_CONNECTING:
      page = "connecting";
      break;
    case PH_CONVERSATION_STATE_WAITING_FOR_PEER:
      page = "waiting";
      break;
    case PH_CONVERSATION_STATE_FAILED:
      /* A failure after the chat began keeps the messages on screen. */
      if (!has_messages && ph_conversation_get_path (conversation) == NULL)
        {
          const char *title, *advice, *icon_name;

          ph_error_text_get (ph_conversation_get_error (conversation), &title, &advice, &icon_name);
          adw_status_page_set_icon_name (self->failed_page, icon_name);
          adw_status_page_set_title (self->failed_page, title);
          adw_status_page_set_description (self->failed_page, advice);
          page = "failed";
        }
      break;
    case PH_CONVERSATION_STATE_CONNECTED:
    case PH_CONVERSATION_STATE_RECONNECTING:
    case PH_CONVERSATION_STATE_CLOSED:
    default:
      break;
    }

  update_spinner (self, g_str_equal (page, "connecting"));
  gtk_stack_set_visible_child_full (self->stack, page, transition_between (self, page));

  /* While reconnecting, messages wait in the outbox and go out after. */
  gtk_widget_set_sensitive (self->composer_box, state == PH_CONVERSATION_STATE_CONNECTED
                                                    || state == PH_CONVERSATION_STATE_RECONNECTING);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "chat.send",
                                 state == PH_CONVERSATION_STATE_CONNECTED
                                     || state == PH_CONVERSATION_STATE_RECONNECTING);
  update_banner (self);

  if (g_str_equal (page, "chat") && state == PH_CONVERSATION_STATE_CONNECTED)
    gtk_widget_grab_focus (GTK_WIDGET (self->composer));
}

static void
peer_typing_cb (PhChatView *self)
{
  gboolean typing = ph_chat_get_peer_typing (self->chat);

  if (typing)
    {
      g_autofree char *text = g_strdup_printf (_ ("%s is typing…"), peer_name (self));

      gtk_label_set_text (self->typing_label, text);
    }
  gtk_revealer_set_reveal_child (self->typing_revealer, typing);
}

static gboolean
scroll_to_newest_cb (gpointer user_data)
{
  PhChatView *self = user_data;
  guint n_messages;

  self->scroll_id = 0;
  n_messages = g_list_model_get_n_items (ph_chat_get_messages (self->chat));
  if (n_messages > 0)
    gtk_widget_activate_action (GTK_WIDGET (self->message_list), "list.scroll-to-item", "u",
                                n_messages - 1);
  return G_SOURCE_REMOVE;
}

/* Once the list has taken in the new rows; the list view scrolls by item,
 * which stays right where pixel offsets of unmeasured rows are guesses. */
static void
scroll_to_bottom (PhChatView *self)
{
  if (self->scroll_id == 0)
    self->scroll_id = g_idle_add (scroll_to_newest_cb, self);
}

static void
adjustment_value_changed_cb (PhChatView *self, GtkAdjustment *adjustment)
{
  self->stick_to_bottom
      = gtk_adjustment_get_value (adjustment) + gtk_adjustment_get_page_size (adjustment)
        >= gtk_adjustment_get_upper (adjustment) - BOTTOM_SLACK;
}

/* Follow the newest message only when the person was already reading it,
 * never pull them away from history they scrolled back to. */
static void
messages_changed_cb (PhChatView *self, guint position, guint removed, guint added)
{
  if (added > 0 && self->stick_to_bottom)
    scroll_to_bottom (self);
}

static gboolean
typing_timeout_cb (gpointer user_data)
{
  PhChatView *self = user_data;

  self->typing_timeout_id = 0;
  if (self->chat != NULL)
    ph_chat_set_typing (self->chat, FALSE);
  return G_SOURCE_REMOVE;
}

static void
composer_changed_cb (PhChatView *self, GtkTextBuffer *buffer)
{
  gboolean composing = gtk_text_buffer_get_char_count (buffer) > 0;

  if (self->chat == NULL)
    return;

  g_clear_handle_id (&self->typing_timeout_id, g_source_remove);
  ph_chat_set_typing (self->chat, composing);
  if (composing)
    self->typing_timeout_id = g_timeout_add_seconds (TYPING_IDLE_SECONDS, typing_timeout_cb, self);
}

static void
send_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  PhChatView *self = PH_CHAT_VIEW (widget);
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->composer);
  GtkTextIter start, end;
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  text = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
  if (g_strstrip (text)[0] == '\0')
    return;

  if (ph_chat_send (self->chat, text, &error) == NULL)
    {
      const char *title;

      ph_error_text_get (error, &title, NULL, NULL);
      gtk_widget_activate_action (widget, "win.show-toast", "s", title);
      return;
    }

  g_clear_handle_id (&self->typing_timeout_id, g_source_remove);
  self->stick_to_bottom = TRUE;
  gtk_text_buffer_set_text (buffer, "", 0);
}

static void
copy_code_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  PhChatView *self = PH_CHAT_VIEW (widget);

  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), gtk_label_get_text (self->code_label));
  gtk_widget_activate_action (widget, "win.show-toast", "s", _ ("Code copied"));
}

/* Enter sends; Shift+Enter starts a new line. */
static gboolean
composer_key_pressed_cb (PhChatView *self, guint keyval, guint keycode, GdkModifierType state)
{
  if (keyval != GDK_KEY_Return && keyval != GDK_KEY_KP_Enter && keyval != GDK_KEY_ISO_Enter)
    return GDK_EVENT_PROPAGATE;
  if (state & (GDK_SHIFT_MASK | GDK_CONTROL_MASK | GDK_ALT_MASK))
    return GDK_EVENT_PROPAGATE;

  gtk_widget_activate_action (GTK_WIDGET (self), "chat.send", NULL);
  return GDK_EVENT_STOP;
}

static void
setup_row_cb (GtkSignalListItemFactory *factory, GtkListItem *item)
{
  gtk_list_item_set_child (item, ph_message_row_new ());
  gtk_list_item_set_activatable (item, FALSE);
  gtk_list_item_set_selectable (item, FALSE);
}

static void
bind_row_cb (GtkSignalListItemFactory *factory, GtkListItem *item)
{
  ph_message_row_set_message (PH_MESSAGE_ROW (gtk_list_item_get_child (item)),
                              gtk_list_item_get_item (item));
}

static void
unbind_row_cb (GtkSignalListItemFactory *factory, GtkListItem *item)
{
  ph_message_row_set_message (PH_MESSAGE_ROW (gtk_list_item_get_child (item)), NULL);
}

static void
ph_chat_view_dispose (GObject *object)
{
  PhChatView *self = PH_CHAT_VIEW (object);

  ph_chat_view_set_chat (self, NULL);
  g_clear_object (&self->selection);
  gtk_widget_dispose_template (GTK_WIDGET (self), PH_TYPE_CHAT_VIEW);

  G_OBJECT_CLASS (ph_chat_view_parent_class)->dispose (object);
}

static void
ph_chat_view_class_init (PhChatViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = ph_chat_view_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/pinhole/Pinhole/ph-chat-view.ui");
  gtk_widget_class_bind_template_child (widget_class, PhChatView, stack);
  gtk_widget_class_bind_template_child (widget_class, PhChatView, code_label);
  gtk_widget_class_bind_template_child (widget_class, PhChatView, waiting_page);
  gtk_widget_class_bind_template_child (widget_class, PhChatView, connecting_page);
  gtk_widget_class_bind_template_child (widget_class, PhChatView, connecting_spinner);
  gtk_widget_class_bind_template_child (widget_class, PhChatView, failed_page);
  gtk_widget_class_bind_template_child (widget_class, PhChatView, scroller);
  gtk_widget_class_bind_template_child (widget_class, PhChatView, message_list);
  gtk_widget_class_bind_template_child (widget_class, PhChatView, typing_revealer);
  gtk_widget_class_bind_template_child (widget_class, PhChatView, typing_label);
  gtk_widget_class_bind_template_child (widget_class, PhChatView, banner_revealer);
  gtk_widget_class_bind_template_child (widget_class, PhChatView, banner_label);
  gtk_widget_class_bind_template_child (widget_class, PhChatView, delete_chat_button);
  gtk_widget_class_bind_template_child (widget_class, PhChatView, close_chat_button);
  gtk_widget_class_bind_template_child (widget_class, PhChatView, contact_revealer);
  gtk_widget_class_bind_template_child (widget_class, PhChatView, contact_label);
  gtk_widget_class_bind_template_child (widget_class, PhChatView, composer_box);
  gtk_widget_class_bind_template_child (widget_class, PhChatView, composer);

  gtk_widget_class_install_action (widget_class, "chat.send", NULL, send_action);
  gtk_widget_class_install_action (widget_class, "chat.copy-code", NULL, copy_code_action);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
ph_chat_view_init (PhChatView *self)
{
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
  GtkEventController *keys = gtk_event_controller_key_new ();
  GtkAdjustment *adjustment;

  gtk_widget_init_template (GTK_WIDGET (self));

  g_signal_connect (factory, "setup", G_CALLBACK (setup_row_cb), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_row_cb), NULL);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_row_cb), NULL);
  gtk_list_view_set_factory (self->message_list, factory);
  g_object_unref (factory);

  self->selection = gtk_no_selection_new (NULL);
  gtk_list_view_set_model (self->message_list, GTK_SELECTION_MODEL (self->selection));

  gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
  g_signal_connect_swapped (keys, "key-pressed", G_CALLBACK (composer_key_pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self->composer), keys);
  g_signal_connect_swapped (gtk_text_view_get_buffer (self->composer), "changed",
                            G_CALLBACK (composer_changed_cb), self);

  self->stick_to_bottom = TRUE;
  adjustment = gtk_scrolled_window_get_vadjustment (self->scroller);
  g_signal_connect_swapped (adjustment, "value-changed", G_CALLBACK (adjustment_value_changed_cb),
                            self);
}

GtkWidget *
ph_chat_view_new (void)
{
  return g_object_new (PH_TYPE_CHAT_VIEW, NULL);
}

void
ph_chat_view_set_chat (PhChatView *self, PhChat *chat)
{
  g_return_if_fail (PH_IS_CHAT_VIEW (self));
  g_return_if_fail (chat == NULL || PH_IS_CHAT (chat));

  if (self->chat == chat)
    return;

  g_clear_handle_id (&self->typing_timeout_id, g_source_remove);
  g_clear_handle_id (&self->scroll_id, g_source_remove);
  update_spinner (self, FALSE);
  if (self->chat != NULL)
    {
      g_signal_handlers_disconnect_by_data (ph_chat_get_messages (self->chat), self);
      ph_chat_set_typing (self->chat, FALSE);
      g_signal_handlers_disconnect_by_data (ph_chat_get_conversation (self->chat), self);
      g_signal_handlers_disconnect_by_data (self->chat, self);
    }

  /* The draft belongs to the chat it was written in. */
  g_signal_handlers_block_by_func (gtk_text_view_get_buffer (self->composer), composer_changed_cb,
                                   self);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->composer), "", 0);
  g_signal_handlers_unblock_by_func (gtk_text_view_get_buffer (self->composer), composer_changed_cb,
                                     self);

  g_set_object (&self->chat, chat);
  gtk_no_selection_set_model (self->selection, chat != NULL ? ph_chat_get_messages (chat) : NULL);
  if (chat == NULL)
    return;

  g_signal_connect_swapped (chat, "notify::state", G_CALLBACK (update_state), self);
  g_signal_connect_swapped (ph_chat_get_conversation (chat), "notify::code",
                            G_CALLBACK (update_state), self);
  g_signal_connect_swapped (ph_chat_get_conversation (chat), "notify::retrying-rendezvous",
                            G_CALLBACK (update_setup_descriptions), self);
  g_signal_connect_swapped (ph_chat_get_conversation (chat), "closed", G_CALLBACK (update_banner),
                            self);
  g_signal_connect_swapped (chat, "notify::peer-typing", G_CALLBACK (peer_typing_cb), self);
  g_signal_connect_swapped (chat, "notify::contact-online", G_CALLBACK (update_banner), self);
  g_signal_connect_swapped (ph_chat_get_conversation (chat), "notify::peer-wants-contact",
                            G_CALLBACK (update_contact_banner), self);
  g_signal_connect_swapped (ph_chat_get_conversation (chat), "notify::contact",
                            G_CALLBACK (update_contact_banner), self);
  g_signal_connect_swapped (ph_chat_get_messages (chat), "items-changed",
                            G_CALLBACK (messages_changed_cb), self);

  self->stick_to_bottom = TRUE;
  update_state (self);
  peer_typing_cb (self);
  update_contact_banner (self);
  scroll_to_bottom (self);
}

PhChat *
ph_chat_view_get_chat (PhChatView *self)
{
  g_return_val_if_fail (PH_IS_CHAT_VIEW (self), NULL);

  return self->chat;
}

const char *
ph_chat_view_get_visible_page (PhChatView *self)
{
  g_return_val_if_fail (PH_IS_CHAT_VIEW (self), NULL);

  return gtk_stack_get_visible_child_name (self->stack);
}

GtkTextView *
ph_chat_view_get_composer (PhChatView *self)
{
  g_return_val_if_fail (PH_IS_CHAT_VIEW (self), NULL);

  return self->composer;
}

GtkListView *
ph_chat_view_get_message_list (PhChatView *self)
{
  g_return_val_if_fail (PH_IS_CHAT_VIEW (self), NULL);

  return self->message_list;
}

const char *
ph_chat_view_get_label_text (PhChatView *self, const char *name)
{
  g_return_val_if_fail (PH_IS_CHAT_VIEW (self), NULL);

  if (g_strcmp0 (name, "code") == 0)
    return gtk_label_get_text (self->code_label);
  if (g_strcmp0 (name, "error-title") == 0)
    return adw_status_page_get_title (self->failed_page);
  if (g_strcmp0 (name, "connecting-description") == 0)
    return adw_status_page_get_description (self->connecting_page);
  if (g_strcmp0 (name, "contact-banner") == 0)
    return gtk_revealer_get_reveal_child (self->contact_revealer)
               ? gtk_label_get_text (self->contact_label)
               : NULL;
  if (g_strcmp0 (name, "banner") == 0)
    return gtk_revealer_get_reveal_child (self->banner_revealer)
               ? gtk_label_get_text (self->banner_label)
               : NULL;
  if (g_strcmp0 (name, "typing") == 0)
    return gtk_revealer_get_reveal_child (self->typing_revealer)
               ? gtk_label_get_text (self->typing_label)
               : NULL;
  g_return_val_if_reached (NULL);
}
