/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-gui"

#include "config.h"

#include <signal.h>

#include <glib/gstdio.h>

#include "ph-application.h"
#include "ph-chat-view.h"
#include "ph-code.h"
#include "ph-contact-page.h"
#include "ph-contact-row.h"
#include "ph-inspector.h"
#include "ph-join-page.h"
#include "ph-message-row.h"
#include "ph-path-diagram.h"
#include "ph-preferences-window.h"
#include "ph-safety-number.h"
#include "ph-session.h"
#include "ph-settings.h"
#include "ph-test-files.h"
#include "ph-test-needs-hooks.h"
#include "ph-test-programs.h"
#include "ph-test-wait.h"
#include "ph-window.h"

/* The app in this process, driven the way a person would: type into the
 * join entry, press send, open the inspector. Its peer is a real
 * pinhole-cli through a real rendezvous server on loopback. Each main state
 * is also saved as a PNG under G_TEST_BUILDDIR/screenshots. */

#define CONNECT_TIMEOUT_MS ph_test_scaled_ms (20000)
#define EVENT_TIMEOUT_MS ph_test_scaled_ms (10000)

static PhApplication *application;
static PhWindow *window;
static PhTestProcess *server;
static char *server_url;
static char *history_dir;

/* Waiting */

static gboolean
chat_page_is (gpointer data)
{
  return g_strcmp0 (ph_chat_view_get_visible_page (PH_CHAT_VIEW (ph_window_get_chat_view (window))),
                    data)
         == 0;
}

static void
wait_for_chat_page (const char *page, guint timeout_ms)
{
  if (!ph_test_wait_until (chat_page_is, (gpointer)page, timeout_ms))
    g_error ("the chat view shows “%s”, not “%s”, after %u ms",
             ph_chat_view_get_visible_page (PH_CHAT_VIEW (ph_window_get_chat_view (window))), page,
             timeout_ms);
}

static void
frame_painted_cb (GdkFrameClock *clock, gpointer user_data)
{
  *(gboolean *)user_data = TRUE;
}

/* Lets the window lay out and paint what changed, so what a test checks
 * or saves is what a person would see. */
static void
wait_for_widget_paint (GtkWidget *widget)
{
  GdkFrameClock *clock = gtk_widget_get_frame_clock (widget);
  gboolean painted = FALSE;
  gulong handler = g_signal_connect (clock, "after-paint", G_CALLBACK (frame_painted_cb), &painted);

  gtk_widget_queue_draw (widget);
  if (!ph_test_wait_for_flag (&painted, ph_test_scaled_ms (5000)))
    g_error ("the window was not painted within 5 s");
  g_signal_handler_disconnect (clock, handler);
}

static void
wait_for_paint (void)
{
  wait_for_widget_paint (GTK_WIDGET (window));
}

static void
save_widget_screenshot (GtkWidget *widget, const char *name)
{
  g_autoptr (GdkPaintable) paintable = NULL;
  g_autoptr (GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr (GskRenderNode) node = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  g_autofree char *directory = g_build_filename (g_getenv ("G_TEST_BUILDDIR"), "screenshots", NULL);
  g_autofree char *path = NULL;
  int width, height;

  wait_for_widget_paint (widget);
  width = gtk_widget_get_width (widget);
  height = gtk_widget_get_height (widget);
  paintable = gtk_widget_paintable_new (widget);
  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), width, height);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (GTK_NATIVE (widget)), node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));

  g_assert_cmpint (g_mkdir_with_parents (directory, 0755), ==, 0);
  path = g_build_filename (directory, name, NULL);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("screenshot: %s", path);
}

static void
save_screenshot (const char *name)
{
  save_widget_screenshot (GTK_WIDGET (window), name);
}

/* Widgets */

static void
expand_all (GtkWidget *widget)
{
  if (ADW_IS_EXPANDER_ROW (widget))
    adw_expander_row_set_expanded (ADW_EXPANDER_ROW (widget), TRUE);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    expand_all (child);
}

static GtkScrolledWindow *
find_scrolled_window (GtkWidget *widget)
{
  if (GTK_IS_SCROLLED_WINDOW (widget) && gtk_widget_get_mapped (widget))
    return GTK_SCROLLED_WINDOW (widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkScrolledWindow *found = find_scrolled_window (child);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* What the inspector shows further down, scrolled @fraction of the way. */
static void
save_scrolled_screenshot (GtkWidget *widget, double fraction, const char *name)
{
  GtkScrolledWindow *scrolled = find_scrolled_window (widget);
  GtkAdjustment *adjustment;

  g_assert_nonnull (scrolled);
  adjustment = gtk_scrolled_window_get_vadjustment (scrolled);
  gtk_adjustment_set_value (adjustment, fraction
                                            * (gtk_adjustment_get_upper (adjustment)
                                               - gtk_adjustment_get_page_size (adjustment)));
  save_screenshot (name);
}

static gboolean
round_trip_measured (gpointer data)
{
  return ph_conversation_get_round_trip_ms (data) >= 0;
}

static void
collect_message_rows (GtkWidget *widget, GPtrArray *rows)
{
  if (PH_IS_MESSAGE_ROW (widget))
    {
      g_ptr_array_add (rows, widget);
      return;
    }
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    collect_message_rows (child, rows);
}

static GPtrArray *
message_rows (void)
{
  GPtrArray *rows = g_ptr_array_new ();
  PhChatView *view = PH_CHAT_VIEW (ph_window_get_chat_view (window));

  collect_message_rows (GTK_WIDGET (ph_chat_view_get_message_list (view)), rows);
  return rows;
}

static GtkWidget *
find_descendant (GtkWidget *widget, GType type)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (widget, type))
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_descendant (child, type);

      if (found != NULL)
        return found;
    }
  return NULL;
}

typedef struct
{
  const char *text;
  const char *icon; /* the delivery icon the row must show, or NULL */
} RowQuery;

/* The row on screen that shows @query->text, with the delivery icon asked. */
static gboolean
row_is_shown (gpointer data)
{
  RowQuery *query = data;
  g_autoptr (GPtrArray) rows = message_rows ();

  for (guint i = 0; i < rows->len; i++)
    {
      PhMessage *message = ph_message_row_get_message (rows->pdata[i]);
      GtkWidget *label, *image;

      if (message == NULL || g_strcmp0 (ph_message_get_text (message), query->text) != 0)
        continue;
      label = find_descendant (rows->pdata[i], GTK_TYPE_LABEL);
      g_assert_nonnull (label);
      if (strstr (gtk_label_get_text (GTK_LABEL (label)), query->text) == NULL)
        continue;
      if (query->icon == NULL)
        return TRUE;
      image = find_descendant (rows->pdata[i], GTK_TYPE_IMAGE);
      if (gtk_widget_get_visible (image)
          && g_strcmp0 (gtk_image_get_icon_name (GTK_IMAGE (image)), query->icon) == 0)
        return TRUE;
    }
  return FALSE;
}

static void
type_into_composer (const char *text)
{
  PhChatView *view = PH_CHAT_VIEW (ph_window_get_chat_view (window));
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (ph_chat_view_get_composer (view));

  gtk_text_buffer_set_text (buffer, text, -1);
}

static void
close_current_chat (void)
{
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.close-chat", NULL));
  g_assert_cmpstr (ph_window_get_visible_page (window), ==, "welcome");
}

/* A notification server on the private session bus, so the test sees
 * what the desktop would show. */

static GPtrArray *notifications; /* "summary: body" strings */

static const char notifications_xml[]
    = "<node><interface name='org.freedesktop.Notifications'>"
      "<method name='Notify'><arg type='s' direction='in'/><arg type='u' direction='in'/>"
      "<arg type='s' direction='in'/><arg type='s' direction='in'/><arg type='s' direction='in'/>"
      "<arg type='as' direction='in'/><arg type='a{sv}' direction='in'/>"
      "<arg type='i' direction='in'/><arg type='u' direction='out'/></method>"
      "<method name='CloseNotification'><arg type='u' direction='in'/></method>"
      "<method name='GetCapabilities'><arg type='as' direction='out'/></method>"
      "</interface></node>";

static void
notifications_method_cb (GDBusConnection *connection, const char *sender, const char *object_path,
                         const char *interface_name, const char *method_name, GVariant *parameters,
                         GDBusMethodInvocation *invocation, gpointer user_data)
{
  if (g_str_equal (method_name, "Notify"))
    {
      const char *summary, *body;

      g_variant_get_child (parameters, 3, "&s", &summary);
      g_variant_get_child (parameters, 4, "&s", &body);
      g_ptr_array_add (notifications, g_strdup_printf ("%s: %s", summary, body));
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(u)", notifications->len));
    }
  else if (g_str_equal (method_name, "GetCapabilities"))
    g_dbus_method_invocation_return_value (invocation, g_variant_new_parsed ("(@as [],)"));
  else
    g_dbus_method_invocation_return_value (invocation, NULL);
}

static void
start_notification_server (void)
{
  static const GDBusInterfaceVTable vtable = { notifications_method_cb };
  GDBusConnection *connection = g_application_get_dbus_connection (G_APPLICATION (application));
  g_autoptr (GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (notifications_xml, NULL);
  g_autoptr (GError) error = NULL;

  g_assert_nonnull (connection);
  notifications = g_ptr_array_new_with_free_func (g_free);
  g_dbus_connection_register_object (connection, "/org/freedesktop/Notifications",
                                     info->interfaces[0], &vtable, NULL, NULL, &error);
  g_assert_no_error (error);
  g_bus_own_name_on_connection (connection, "org.freedesktop.Notifications",
                                G_BUS_NAME_OWNER_FLAGS_NONE, NULL, NULL, NULL, NULL);
}

/* Peers */

static PhTestProcess *
spawn_cli_with_env (const char *name, const char *const *args, const char *const *envp)
{
  return ph_test_spawn_cli (server_url, name, PH_TEST_CLI_JSON | PH_TEST_CLI_NO_SERVER_ICE, args,
                            envp);
}

static PhTestProcess *
spawn_cli (const char *name, const char *const *args)
{
  return spawn_cli_with_env (name, args, NULL);
}

static char *
valid_code (const char *nameplate)
{
  return g_strdup_printf ("%s-%s-%s", nameplate, ph_code_get_first_words ()[0],
                          ph_code_get_second_words ()[0]);
}

/* Tests */

static void
test_window_actions (void)
{
  struct
  {
    const char *action;
    const char *accel;
  } shortcuts[] = {
    { "win.start-chat", "<Control>n" },
    { "win.join-chat", "<Control>j" },
    { "win.toggle-inspector", "<Control>i" },
    { "app.preferences", "<Control>comma" },
    { "app.quit", "<Control>q" },
    { "window.close", "<Control>w" },
  };
  GtkWidget *preferences;

  g_assert_cmpstr (ph_window_get_visible_page (window), ==, "welcome");
  save_screenshot ("welcome.png");

  for (guint i = 0; i < G_N_ELEMENTS (shortcuts); i++)
    {
      g_auto (GStrv) accels = gtk_application_get_accels_for_action (GTK_APPLICATION (application),
                                                                     shortcuts[i].action);

      g_assert_nonnull (accels[0]);
      g_assert_cmpstr (accels[0], ==, shortcuts[i].accel);
    }

  /* The shortcuts window comes from gtk/help-overlay.ui in the resources. */
  g_assert_true (g_action_group_has_action (G_ACTION_GROUP (window), "show-help-overlay"));
  g_assert_nonnull (gtk_application_window_get_help_overlay (GTK_APPLICATION_WINDOW (window)));

  /* Preferences open from the menu and show the settings. */
  g_action_group_activate_action (G_ACTION_GROUP (application), "preferences", NULL);
  preferences = GTK_WIDGET (gtk_application_get_active_window (GTK_APPLICATION (application)));
  g_assert_true (ADW_IS_PREFERENCES_WINDOW (preferences));
  gtk_window_destroy (GTK_WINDOW (preferences));
}

static void
test_join_validation (void)
{
  PhJoinPage *page = PH_JOIN_PAGE (ph_window_get_join_page (window));
  GtkEditable *entry = ph_join_page_get_entry (page);
  const char *first_word = ph_code_get_first_words ()[0];
  g_autofree char *prefix = g_strndup (first_word, 2);
  g_autofree char *half_typed = g_strdup_printf ("7-%s", prefix);
  g_autofree char *misspelt = g_strdup_printf ("7-%sqq", first_word);
  g_autofree char *code = valid_code ("7");
  g_auto (GStrv) suggestions = NULL;

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.join-chat", NULL));
  g_assert_cmpstr (ph_window_get_visible_page (window), ==, "join");

  /* Half a code is not an error yet, and the words it may become are offered. */
  gtk_editable_set_text (entry, half_typed);
  g_assert_null (ph_join_page_get_error (page));
  suggestions = ph_join_page_dup_suggestions (page);
  g_assert_true (g_strv_contains ((const char *const *)suggestions, first_word));

  /* A word no list has is an error at once, with the sentence under the entry. */
  gtk_editable_set_text (entry, misspelt);
  g_assert_nonnull (ph_join_page_get_error (page));
  g_assert_nonnull (strstr (ph_join_page_get_error (page), "is not a word"));
  g_assert_true (gtk_widget_has_css_class (GTK_WIDGET (entry), "error"));
  save_screenshot ("join.png");

  gtk_editable_set_text (entry, "x7-orbit");
  g_assert_nonnull (strstr (ph_join_page_get_error (page), "starts with a number"));

  gtk_editable_set_text (entry, code);
  g_assert_null (ph_join_page_get_error (page));
  g_assert_false (gtk_widget_has_css_class (GTK_WIDGET (entry), "error"));
  gtk_editable_set_text (entry, "");
}

static void
test_join_unknown_code (void)
{
  g_autofree char *code = valid_code ("987654");
  PhChatView *view = PH_CHAT_VIEW (ph_window_get_chat_view (window));

  g_assert_nonnull (ph_window_join_chat (window, code));
  wait_for_chat_page ("failed", CONNECT_TIMEOUT_MS);
  g_assert_cmpstr (ph_chat_view_get_label_text (view, "error-title"), ==,
                   "Unknown or Expired Code");
  save_screenshot ("failed.png");
  close_current_chat ();
}

/* A code that failed once is refused the second time before anything is
 * sent (it may be someone's guess waiting for another try), and the join
 * page says so where the person typed it. */
static void
test_join_burned_code (void)
{
  const char *host_args[] = { "host", NULL };
  g_autoptr (PhTestProcess) host = spawn_cli ("Carol", host_args);
  g_autoptr (JsonObject) event = NULL;
  PhChatView *view = PH_CHAT_VIEW (ph_window_get_chat_view (window));
  PhJoinPage *page = PH_JOIN_PAGE (ph_window_get_join_page (window));
  const char *const *first_words = ph_code_get_first_words ();
  g_auto (GStrv) parts = NULL;
  g_autofree char *wrong = NULL;
  guint n_chats;

  event = ph_test_process_wait_event (host, "code", EVENT_TIMEOUT_MS);
  parts = g_strsplit (json_object_get_string_member (event, "code"), "-", 3);
  g_assert_cmpuint (g_strv_length (parts), ==, 3);
  /* The host's nameplate with another first word: the PAKE disagrees. */
  wrong = g_strdup_printf ("%s-%s-%s", parts[0],
                           g_str_equal (parts[1], first_words[0]) ? first_words[1] : first_words[0],
                           parts[2]);

  g_assert_nonnull (ph_window_join_chat (window, wrong));
  wait_for_chat_page ("failed", CONNECT_TIMEOUT_MS);
  g_assert_cmpstr (ph_chat_view_get_label_text (view, "error-title"), ==, "Wrong Code");
  close_current_chat ();
  ph_test_process_wait_exit (host, EVENT_TIMEOUT_MS);

  n_chats = g_list_model_get_n_items (ph_window_get_chats (window));
  g_assert_null (ph_window_join_chat (window, wrong));
  g_assert_cmpstr (ph_window_get_visible_page (window), ==, "join");
  g_assert_cmpuint (g_list_model_get_n_items (ph_window_get_chats (window)), ==, n_chats);
  g_assert_cmpstr (gtk_editable_get_text (ph_join_page_get_entry (page)), ==, wrong);
  g_assert_nonnull (ph_join_page_get_error (page));
  g_assert_true (g_str_has_prefix (ph_join_page_get_error (page), "This Code Already Failed\n"));
  g_assert_nonnull (strstr (ph_join_page_get_error (page), "new code"));
  g_assert_true (gtk_widget_has_css_class (GTK_WIDGET (ph_join_page_get_entry (page)), "error"));
  save_screenshot ("join-burned.png");

  /* Typing another code takes the message away. */
  gtk_editable_set_text (ph_join_page_get_entry (page), "7");
  g_assert_null (ph_join_page_get_error (page));
  ph_join_page_reset (page);
}

static void
flap_revealed_cb (AdwFlap *flap, GParamSpec *pspec, gboolean *revealed)
{
  if (adw_flap_get_reveal_flap (flap))
    *revealed = TRUE;
}

static gboolean
window_is_900_wide (gpointer data)
{
  int width = gtk_widget_get_width (GTK_WIDGET (window));

  return width > 850 && width <= 900;
}

/* Joining draws the chat at once and nothing else moves while the setup's
 * packets are in flight. Here the wide code of a chat this person hosts
 * folds the inspector away, and the narrow "Connecting…" page of the chat
 * joined next unfolds it: that once slid the inspector open by itself. */
static void
test_join_opens_no_inspector (void)
{
  const char *host_args[] = { "host", NULL };
  g_autoptr (PhTestProcess) host = spawn_cli ("Carol", host_args);
  g_autoptr (JsonObject) event = NULL;
  g_autoptr (PhChat) hosted = NULL;
  g_autoptr (PhChat) joined = NULL;
  AdwFlap *flap
      = ADW_FLAP (gtk_widget_get_ancestor (ph_window_get_inspector (window), ADW_TYPE_FLAP));
  gboolean revealed = FALSE;
  gulong handler;

  gtk_window_set_default_size (GTK_WINDOW (window), 900, 720);
  if (!ph_test_wait_until (window_is_900_wide, NULL, EVENT_TIMEOUT_MS))
    g_error ("the window did not narrow to 900 pixels");
  hosted = ph_window_start_chat (window);
  wait_for_chat_page ("waiting", EVENT_TIMEOUT_MS);
  wait_for_paint ();
  g_assert_true (adw_flap_get_folded (flap));

  event = ph_test_process_wait_event (host, "code", EVENT_TIMEOUT_MS);
  handler
      = g_signal_connect (flap, "notify::reveal-flap", G_CALLBACK (flap_revealed_cb), &revealed);
  joined = ph_window_join_chat (window, json_object_get_string_member (event, "code"));
  g_assert_nonnull (joined);
  wait_for_paint ();
  g_assert_cmpstr (ph_chat_view_get_visible_page (PH_CHAT_VIEW (ph_window_get_chat_view (window))),
                   ==, "connecting");
  wait_for_chat_page ("chat", CONNECT_TIMEOUT_MS);
  wait_for_paint ();
  g_signal_handler_disconnect (flap, handler);
  g_assert_false (revealed);
  g_assert_cmpfloat (adw_flap_get_reveal_progress (flap), ==, 0.0);

  /* Asked for, it opens. */
  ph_window_set_inspector_visible (window, TRUE);
  g_assert_true (adw_flap_get_reveal_flap (flap));
  ph_window_set_inspector_visible (window, FALSE);

  ph_test_process_close_stdin (host);
  g_assert_cmpint (ph_test_process_wait_exit (host, EVENT_TIMEOUT_MS), ==, 0);
  close_current_chat ();
  ph_window_show_chat (window, hosted);
  close_current_chat ();
  gtk_window_set_default_size (GTK_WINDOW (window), 1100, 720);
}

static gboolean
connecting_says_retrying (gpointer view)
{
  const char *text = ph_chat_view_get_label_text (view, "connecting-description");

  return text != NULL && strstr (text, "does not answer") != NULL;
}

static void
test_join_unreachable_server (void)
{
  GSettings *settings = ph_session_get_settings (ph_application_get_session (application));
  g_autofree char *code = valid_code ("7");
  PhChatView *view = PH_CHAT_VIEW (ph_window_get_chat_view (window));
  g_autoptr (GSocketListener) listener = g_socket_listener_new ();
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autofree char *url = NULL;
  g_autoptr (GError) error = NULL;

  /* A port that was free a moment ago: nothing answers there. */
  g_socket_listener_add_address (listener, address, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                 NULL, &bound, &error);
  g_assert_no_error (error);
  url = g_strdup_printf ("http://127.0.0.1:%u",
                         g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  g_socket_listener_close (listener);

  g_settings_set_string (settings, "rendezvous-url", url);
  /* The app keeps asking for a while (the server may be restarting). */
  g_setenv ("PINHOLE_TEST_RENDEZVOUS_PATIENCE_SECONDS", "2", TRUE);
  g_assert_nonnull (ph_window_join_chat (window, code));
  g_unsetenv ("PINHOLE_TEST_RENDEZVOUS_PATIENCE_SECONDS");
  /* Meanwhile the page says why nothing happens yet. */
  if (!ph_test_wait_until (connecting_says_retrying, view, CONNECT_TIMEOUT_MS))
    g_error ("the connecting page never said the server does not answer");
  g_assert_cmpstr (ph_chat_view_get_visible_page (view), ==, "connecting");
  wait_for_chat_page ("failed", CONNECT_TIMEOUT_MS);
  g_assert_cmpstr (ph_chat_view_get_label_text (view, "error-title"), ==,
                   "Cannot Reach the Rendezvous Server");
  close_current_chat ();
  g_settings_set_string (settings, "rendezvous-url", server_url);
}

static guint history_failures;

static gboolean conversation_ended (gpointer data);

static void
note_history_failure (void)
{
  history_failures++;
}

static void
test_start_shows_code (void)
{
  PhChatView *view = PH_CHAT_VIEW (ph_window_get_chat_view (window));
  g_autoptr (PhChat) chat = NULL;
  PhConversation *conversation;

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.start-chat", NULL));
  g_assert_cmpuint (g_list_model_get_n_items (ph_window_get_chats (window)), ==, 1);
  chat = g_list_model_get_item (ph_window_get_chats (window), 0);
  conversation = ph_chat_get_conversation (chat);

  wait_for_chat_page ("waiting", EVENT_TIMEOUT_MS);
  g_assert_nonnull (ph_conversation_get_code (conversation));
  g_assert_cmpstr (ph_chat_view_get_label_text (view, "code"), ==,
                   ph_conversation_get_code (conversation));
  g_assert_true (ph_code_parse (ph_chat_view_get_label_text (view, "code"), NULL, NULL, NULL));
  save_screenshot ("start.png");

  /* Cancelling leaves the mailbox and takes the chat off the list; the
   * chat, deleted from the history, complains of nothing as its
   * conversation ends. */
  g_signal_connect_swapped (chat, "history-failed", G_CALLBACK (note_history_failure), NULL);
  close_current_chat ();
  g_assert_cmpuint (g_list_model_get_n_items (ph_window_get_chats (window)), ==, 0);
  if (!ph_test_wait_until (conversation_ended, conversation, EVENT_TIMEOUT_MS))
    g_error ("the cancelled chat's conversation did not end");
  g_assert_cmpuint (history_failures, ==, 0);
}

/* When the conversation started connecting and when the chat view first
 * said so. */
typedef struct
{
  gint64 conversation_connecting;
  gint64 conversation_connected;
  gint64 page_connecting;
} SetupWatch;

static void
watched_state_cb (PhConversation *conversation, GParamSpec *pspec, SetupWatch *watch)
{
  PhConversationState state = ph_conversation_get_state (conversation);

  if (state == PH_CONVERSATION_STATE_CONNECTING && watch->conversation_connecting == 0)
    watch->conversation_connecting = g_get_monotonic_time ();
  if (state == PH_CONVERSATION_STATE_CONNECTED && watch->conversation_connected == 0)
    watch->conversation_connected = g_get_monotonic_time ();
}

static gboolean
chat_page_is_chat_watching (gpointer data)
{
  SetupWatch *watch = data;
  PhChatView *view = PH_CHAT_VIEW (ph_window_get_chat_view (window));
  const char *page = ph_chat_view_get_visible_page (view);

  if (g_str_equal (page, "connecting") && watch->page_connecting == 0)
    watch->page_connecting = g_get_monotonic_time ();
  return g_str_equal (page, "chat");
}

static void
host_and_watch (const char *const *envp, SetupWatch *watch)
{
  g_autoptr (PhChat) chat = ph_window_start_chat (window);
  PhConversation *conversation = ph_chat_get_conversation (chat);
  g_autoptr (PhTestProcess) bob = NULL;
  const char *join_args[3] = { "join", NULL, NULL };
  gulong handler;

  wait_for_chat_page ("waiting", EVENT_TIMEOUT_MS);
  handler = g_signal_connect (conversation, "notify::state", G_CALLBACK (watched_state_cb), watch);
  join_args[1] = ph_conversation_get_code (conversation);
  bob = spawn_cli_with_env ("Bob", join_args, envp);
  if (!ph_test_wait_until (chat_page_is_chat_watching, watch, CONNECT_TIMEOUT_MS))
    g_error ("the chat with Bob was not shown");
  g_signal_handler_disconnect (conversation, handler);
  g_assert_cmpint (watch->conversation_connecting, >, 0);
  g_assert_cmpint (watch->conversation_connected, >, 0);

  ph_test_process_close_stdin (bob);
  g_assert_cmpint (ph_test_process_wait_exit (bob, EVENT_TIMEOUT_MS), ==, 0);
  close_current_chat ();
}

/* Nothing moves on screen while a quick setup's packets are in flight (a
 * frame can hold the main loop for tens of milliseconds): the host's chat
 * goes from the code straight to the chat. A slow one says "Connecting…",
 * a second after the peer arrived. */
static void
test_start_quiet_setup (void)
{
  const char *slow_server[] = { "PINHOLE_TEST_POLL_DELAY_MS=2500", NULL };
  SetupWatch quick = { 0 }, slow = { 0 };

  host_and_watch (NULL, &quick);
  /* Under valgrind a setup on loopback may take longer than the second. */
  if (quick.conversation_connected - quick.conversation_connecting < 900 * 1000)
    g_assert_cmpint (quick.page_connecting, ==, 0);

  host_and_watch (slow_server, &slow);
  g_assert_cmpint (slow.page_connecting, >, 0);
  g_assert_cmpint (slow.page_connecting - slow.conversation_connecting, >=, 900 * 1000);
}

static gboolean
has_n_messages (gpointer data)
{
  PhChat *chat = ph_chat_view_get_chat (PH_CHAT_VIEW (ph_window_get_chat_view (window)));

  return g_list_model_get_n_items (ph_chat_get_messages (chat)) >= GPOINTER_TO_UINT (data);
}

static gboolean
banner_is_shown (gpointer data)
{
  PhChatView *view = PH_CHAT_VIEW (ph_window_get_chat_view (window));

  return ph_chat_view_get_label_text (view, "banner") != NULL;
}

static void
test_chat_with_cli_peer (void)
{
  PhChatView *view = PH_CHAT_VIEW (ph_window_get_chat_view (window));
  PhInspector *inspector = PH_INSPECTOR (ph_window_get_inspector (window));
  const char *text = "Hello Bob, the notes are at https://example.org/notes.";
  RowQuery sent = { text, "emblem-ok-symbolic" };
  RowQuery received = { "Hi Alice! Got them.", NULL };
  g_autoptr (PhChat) chat = NULL;
  g_autoptr (PhTestProcess) bob = NULL;
  g_autoptr (JsonObject) event = NULL;
  g_autoptr (GPtrArray) rows = NULL;
  g_auto (GStrv) hops = NULL;
  g_autofree char *report = NULL;
  const char *join_args[3] = { "join", NULL, NULL };

  chat = ph_window_start_chat (window);
  g_assert_nonnull (chat);
  wait_for_chat_page ("waiting", EVENT_TIMEOUT_MS);

  join_args[1] = ph_conversation_get_code (ph_chat_get_conversation (chat));
  bob = spawn_cli ("Bob", join_args);
  event = ph_test_process_wait_event (bob, "connected", CONNECT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (event, "peer"), ==, "Alice");
  g_clear_pointer (&event, json_object_unref);
  wait_for_chat_page ("chat", CONNECT_TIMEOUT_MS);
  g_assert_cmpstr (ph_chat_get_title (chat), ==, "Bob");

  /* Enter in the composer sends; the bubble turns "delivered" on Bob's ack. */
  type_into_composer (text);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "chat.send", NULL));
  event = ph_test_process_wait_event (bob, "message", EVENT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (event, "text"), ==, text);
  g_clear_pointer (&event, json_object_unref);
  if (!ph_test_wait_until (row_is_shown, &sent, EVENT_TIMEOUT_MS))
    g_error ("the sent message is not shown as delivered");

  ph_test_process_write_line (bob, received.text);
  if (!ph_test_wait_until (row_is_shown, &received, EVENT_TIMEOUT_MS))
    g_error ("Bob’s message is not shown");

  /* The inspector draws this machine's path: two hosts, nothing between. */
  ph_window_set_inspector_visible (window, TRUE);
  hops = ph_path_diagram_dup_hops (PH_PATH_DIAGRAM (ph_inspector_get_diagram (inspector)));
  g_assert_cmpuint (g_strv_length (hops), ==, 2);
  g_assert_true (g_str_has_prefix (hops[0], "You ("));
  g_assert_true (g_str_has_prefix (hops[1], "Bob ("));
  report = ph_inspector_dup_report (inspector);
  g_assert_nonnull (strstr (report, "Your candidate: host"));
  g_assert_nonnull (strstr (report, "Peer’s candidate: host"));
  g_assert_nonnull (strstr (report, "Setup: rendezvous"));
  g_clear_pointer (&report, g_free);

  /* Every candidate both ways, the ICE states, and the round trip once the
   * first ping came back. */
  if (!ph_test_wait_until (round_trip_measured, ph_chat_get_conversation (chat), EVENT_TIMEOUT_MS))
    g_error ("no round-trip time");
  g_assert_cmpuint (ph_inspector_get_n_candidates (inspector, FALSE), >, 0);
  g_assert_cmpuint (ph_inspector_get_n_candidates (inspector, TRUE), >, 0);
  report = ph_inspector_dup_report (inspector);
  g_assert_nonnull (strstr (report, "Your network: Unknown"));
  g_assert_nonnull (strstr (report, "Round trip: "));
  g_assert_null (strstr (report, "not measured"));
  g_assert_true (g_regex_match_simple ("^Packets resent: [0-9]+ of [1-9][0-9]* \\([0-9.]+%\\)$",
                                       report, G_REGEX_MULTILINE, 0));
  g_assert_nonnull (strstr (report, "Candidates gathered here:\n  host "));
  g_assert_nonnull (strstr (report, "Candidates received from your peer:\n  host "));
  g_assert_nonnull (strstr (report, "Timeline:\n"));
  g_assert_nonnull (strstr (report, " Checking paths (connecting)\n"));
  save_screenshot ("inspector.png");
  expand_all (GTK_WIDGET (inspector));
  wait_for_paint ();
  save_scrolled_screenshot (GTK_WIDGET (inspector), 0.5, "inspector-middle.png");
  save_scrolled_screenshot (GTK_WIDGET (inspector), 1.0, "inspector-end.png");
  ph_window_set_inspector_visible (window, FALSE);

  /* Bob leaves: a banner says so and the composer is off. */
  ph_test_process_close_stdin (bob);
  g_assert_cmpint (ph_test_process_wait_exit (bob, EVENT_TIMEOUT_MS), ==, 0);
  if (!ph_test_wait_until (banner_is_shown, NULL, EVENT_TIMEOUT_MS))
    g_error ("no banner after the peer left");
  g_assert_cmpstr (ph_chat_get_close_reason (chat), ==, "peer-left");
  g_assert_cmpstr (ph_chat_view_get_label_text (view, "banner"), ==, "Bob left the chat.");
  g_assert_false (gtk_widget_is_sensitive (GTK_WIDGET (ph_chat_view_get_composer (view))));
  g_assert_true (has_n_messages (GUINT_TO_POINTER (2)));

  /* Ten thousand messages: the list recycles a screenful of rows, and the
   * view stays on the newest. (After Bob left: adding them blocks the main
   * loop for a moment, which an ICE connection would not survive.) */
  for (guint i = 0; i < 10000; i++)
    {
      g_autofree char *line = g_strdup_printf ("Message %u", i);

      ph_chat_add_received (chat, "bulk", g_get_real_time () / 1000, line);
    }
  wait_for_paint ();
  wait_for_paint ();
  rows = message_rows ();
  g_assert_cmpuint (rows->len, <, 300);
  {
    RowQuery last = { "Message 9999", NULL };

    if (!ph_test_wait_until (row_is_shown, &last, EVENT_TIMEOUT_MS))
      g_error ("the newest of 10,000 messages is not on screen");
  }

  close_current_chat ();
}

static gboolean
window_is_narrow (gpointer data)
{
  GtkWidget *leaflet = gtk_widget_get_ancestor (ph_window_get_chat_view (window), ADW_TYPE_LEAFLET);

  return gtk_widget_get_width (GTK_WIDGET (window)) <= 400
         && adw_leaflet_get_folded (ADW_LEAFLET (leaflet));
}

typedef struct
{
  gboolean heard;
  gboolean active;
} TypingNews;

static void
peer_typing_cb (PhConversation *conversation, GParamSpec *pspec, gpointer user_data)
{
  TypingNews *news = user_data;

  news->heard = TRUE;
  news->active = ph_conversation_get_peer_typing (conversation);
}

static gboolean
typing_is_shown (gpointer data)
{
  PhChatView *view = PH_CHAT_VIEW (ph_window_get_chat_view (window));

  return g_strcmp0 (ph_chat_view_get_label_text (view, "typing"), data) == 0;
}

static gboolean
conversation_ended (gpointer data)
{
  PhConversationState state = ph_conversation_get_state (data);

  return state == PH_CONVERSATION_STATE_CLOSED || state == PH_CONVERSATION_STATE_FAILED;
}

/* Typing goes both ways: the peer hears when this person composes, and
 * "Bob is typing…" shows while Bob does, until his message arrives. The
 * peer is a conversation in this process. */
static void
test_typing_indicator (void)
{
  g_autoptr (PhChat) chat = ph_window_start_chat (window);
  g_autoptr (PhIceConfig) ice_config = ph_ice_config_new ();
  g_autoptr (PhConversation) bob = ph_conversation_new (server_url, "Bob", ice_config);
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  RowQuery from_bob = { "Here it comes", NULL };
  TypingNews alice = { FALSE, FALSE };

  wait_for_chat_page ("waiting", EVENT_TIMEOUT_MS);
  g_signal_connect (bob, "notify::peer-typing", G_CALLBACK (peer_typing_cb), &alice);
  g_assert_true (ph_conversation_join (
      bob, ph_conversation_get_code (ph_chat_get_conversation (chat)), &error));
  g_assert_no_error (error);
  wait_for_chat_page ("chat", CONNECT_TIMEOUT_MS);

  type_into_composer ("Hel");
  if (!ph_test_wait_for_flag (&alice.heard, EVENT_TIMEOUT_MS) || !alice.active)
    g_error ("the peer did not hear that Alice is typing");
  alice.heard = FALSE;
  type_into_composer ("");
  if (!ph_test_wait_for_flag (&alice.heard, EVENT_TIMEOUT_MS) || alice.active)
    g_error ("the peer did not hear that Alice stopped typing");

  ph_conversation_set_typing (bob, TRUE);
  if (!ph_test_wait_until (typing_is_shown, "Bob is typing…", EVENT_TIMEOUT_MS))
    g_error ("“Bob is typing…” is not shown");

  id = ph_conversation_send_message (bob, from_bob.text, &error);
  g_assert_no_error (error);
  if (!ph_test_wait_until (row_is_shown, &from_bob, EVENT_TIMEOUT_MS))
    g_error ("Bob’s message is not shown");
  g_assert_null (
      ph_chat_view_get_label_text (PH_CHAT_VIEW (ph_window_get_chat_view (window)), "typing"));

  ph_conversation_leave (bob);
  if (!ph_test_wait_until (conversation_ended, bob, EVENT_TIMEOUT_MS))
    g_error ("Bob’s conversation did not end");
  close_current_chat ();
}

/* A name with a character that reverses what follows it is not saved,
 * and the preferences say why under the entry. */
static void
test_preferences_refuse_hidden_characters (void)
{
  PhSession *session = ph_application_get_session (application);
  GSettings *settings = ph_session_get_settings (session);
  PhPreferencesWindow *preferences
      = PH_PREFERENCES_WINDOW (ph_preferences_window_new (GTK_APPLICATION (application), session));
  GtkEditable *entry = ph_preferences_window_get_display_name_entry (preferences);
  g_autofree char *saved = NULL;

  gtk_window_present (GTK_WINDOW (preferences));
  g_assert_cmpstr (gtk_editable_get_text (entry), ==, "Alice");
  g_assert_null (ph_preferences_window_get_display_name_error (preferences));

  /* "Alice" followed by a right-to-left override: "exe.txt" would read "txt.exe". */
  gtk_editable_set_text (entry, "Alice\xe2\x80\xae"
                                "txt.exe");
  saved = g_settings_get_string (settings, "display-name");
  g_assert_cmpstr (saved, ==, "Alice");
  g_assert_nonnull (ph_preferences_window_get_display_name_error (preferences));
  g_assert_nonnull (strstr (ph_preferences_window_get_display_name_error (preferences), "U+202E"));
  g_assert_nonnull (
      strstr (ph_preferences_window_get_display_name_error (preferences), "still see “Alice”"));
  g_assert_true (gtk_widget_has_css_class (GTK_WIDGET (entry), "error"));
  save_widget_screenshot (GTK_WIDGET (preferences), "preferences-name-refused.png");

  /* A zero-width space is refused too; a name in any script is not. */
  gtk_editable_set_text (entry, "Al\xe2\x80\x8bice");
  g_assert_nonnull (ph_preferences_window_get_display_name_error (preferences));
  gtk_editable_set_text (entry, "Zoë 李");
  g_assert_null (ph_preferences_window_get_display_name_error (preferences));
  g_assert_false (gtk_widget_has_css_class (GTK_WIDGET (entry), "error"));
  g_clear_pointer (&saved, g_free);
  saved = g_settings_get_string (settings, "display-name");
  g_assert_cmpstr (saved, ==, "Zoë 李");

  gtk_editable_set_text (entry, "Alice");
  gtk_window_destroy (GTK_WINDOW (preferences));
}

/* TURN over TLS on port 443, the way out of a network that blocks UDP,
 * is taken in the preferences as the CLI takes it, and reaches the chats'
 * ICE settings; a URI nothing could use is refused, and what was saved
 * stays. */
static void
test_preferences_turn_over_tls (void)
{
  PhSession *session = ph_application_get_session (application);
  GSettings *settings = ph_session_get_settings (session);
  PhPreferencesWindow *preferences
      = PH_PREFERENCES_WINDOW (ph_preferences_window_new (GTK_APPLICATION (application), session));
  AdwEntryRow *row = ph_preferences_window_get_turn_row (preferences);
  g_auto (GStrv) saved = NULL;
  g_auto (GStrv) kept = NULL;
  g_autoptr (PhIceConfig) config = NULL;
  g_autoptr (GError) error = NULL;
  const PhTurnServer *tls;
  const PhTurnServer *udp;

  gtk_window_present (GTK_WINDOW (preferences));
  g_settings_set_string (settings, "turn-username", "alice");
  gtk_editable_set_text (GTK_EDITABLE (row),
                         "turns:turn.example.org:443, turn:turn.example.org:3478?transport=udp");
  g_signal_emit_by_name (row, "apply");
  g_assert_false (gtk_widget_has_css_class (GTK_WIDGET (row), "error"));
  saved = g_settings_get_strv (settings, "turn-servers");
  g_assert_cmpuint (g_strv_length (saved), ==, 2);

  config = ph_settings_build_ice_config (settings, "relay-secret", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (config->turn_servers->len, ==, 2);
  tls = g_ptr_array_index (config->turn_servers, 0);
  udp = g_ptr_array_index (config->turn_servers, 1);
  g_assert_cmpint (tls->transport, ==, PH_TURN_TRANSPORT_TLS);
  g_assert_cmpuint (tls->port, ==, 443);
  g_assert_cmpstr (tls->password, ==, "relay-secret");
  g_assert_cmpint (udp->transport, ==, PH_TURN_TRANSPORT_UDP);

  gtk_editable_set_text (GTK_EDITABLE (row), "turns:turn.example.org?transport=sctp");
  g_signal_emit_by_name (row, "apply");
  g_assert_true (gtk_widget_has_css_class (GTK_WIDGET (row), "error"));
  kept = g_settings_get_strv (settings, "turn-servers");
  g_assert_cmpstrv (kept, saved);

  g_settings_reset (settings, "turn-servers");
  g_settings_reset (settings, "turn-username");
  gtk_window_destroy (GTK_WINDOW (preferences));
}

/* The label of the row that shows the message @text, or NULL. */
static GtkLabel *
label_of_message (const char *text)
{
  g_autoptr (GPtrArray) rows = message_rows ();

  for (guint i = 0; i < rows->len; i++)
    {
      PhMessage *message = ph_message_row_get_message (rows->pdata[i]);

      if (message != NULL && g_strcmp0 (ph_message_get_text (message), text) == 0)
        return GTK_LABEL (find_descendant (rows->pdata[i], GTK_TYPE_LABEL));
    }
  return NULL;
}

static gboolean
message_is_shown (gpointer data)
{
  return label_of_message (data) != NULL;
}

/* A peer that chose a name with hidden and reversing characters, and a
 * link whose host spells "paypal" with a Cyrillic а: the name is shown
 * without them, the link as the punycode it goes to. The peer is a
 * conversation in this process, which checks no names. */
static void
test_untrusted_peer (void)
{
  g_autoptr (PhChat) chat = ph_window_start_chat (window);
  g_autoptr (PhIceConfig) ice_config = ph_ice_config_new ();
  g_autoptr (PhConversation) mallory
      = ph_conversation_new (server_url, "Mal\xe2\x80\x8blory\xe2\x80\xae", ice_config);
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  const char *text = "Log in at https://p\xd0\xb0ypal.com/login or see https://example.org/help.";
  GtkLabel *label;

  wait_for_chat_page ("waiting", EVENT_TIMEOUT_MS);
  g_assert_true (ph_conversation_join (
      mallory, ph_conversation_get_code (ph_chat_get_conversation (chat)), &error));
  g_assert_no_error (error);
  wait_for_chat_page ("chat", CONNECT_TIMEOUT_MS);
  g_assert_cmpstr (ph_chat_get_peer_name (chat), ==, "Mallory");
  g_assert_cmpstr (ph_chat_get_title (chat), ==, "Mallory");

  id = ph_conversation_send_message (mallory, text, &error);
  g_assert_no_error (error);
  if (!ph_test_wait_until (message_is_shown, (gpointer)text, EVENT_TIMEOUT_MS))
    g_error ("Mallory’s message is not shown");
  label = label_of_message (text);
  g_assert_cmpstr (gtk_label_get_text (label), ==,
                   "Log in at https://xn--pypal-4ve.com/login or see https://example.org/help.");
  g_assert_nonnull (
      strstr (gtk_label_get_label (label), "<a href=\"https://xn--pypal-4ve.com/login\">"));
  g_assert_nonnull (strstr (gtk_label_get_label (label), "<a href=\"https://example.org/help\">"));
  /* The sidebar's preview of it reads the same. */
  g_assert_cmpstr (ph_chat_get_subtitle (chat), ==, gtk_label_get_text (label));
  save_screenshot ("chat-untrusted-peer.png");

  ph_conversation_leave (mallory);
  if (!ph_test_wait_until (conversation_ended, mallory, EVENT_TIMEOUT_MS))
    g_error ("Mallory’s conversation did not end");
  close_current_chat ();
}

/* The drawing for a path a test on one machine cannot produce: through
 * this side's NAT to the peer's TURN relay. */
static void
test_diagram_of_a_relayed_path (void)
{
  PhPath path = {
    .local_type = (char *)"srflx",
    .local_transport = (char *)"udp",
    .local_address = (char *)"203.0.113.7",
    .local_port = 40000,
    .remote_type = (char *)"relay",
    .remote_transport = (char *)"udp",
    .remote_address = (char *)"198.51.100.9",
    .remote_port = 50123,
    .relayed = TRUE,
  };
  const char *expected[]
      = { "You", "Your NAT (203.0.113.7:40000)", "Their relay (198.51.100.9:50123)", "Bob", NULL };
  GtkWidget *diagram = ph_path_diagram_new ();
  GtkWindow *other = GTK_WINDOW (gtk_window_new ());
  GtkWidget *card = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  g_auto (GStrv) hops = NULL;

  ph_path_diagram_set_path (PH_PATH_DIAGRAM (diagram), &path, "Bob");
  hops = ph_path_diagram_dup_hops (PH_PATH_DIAGRAM (diagram));
  g_assert_cmpstrv (hops, expected);

  gtk_widget_add_css_class (card, "card");
  gtk_widget_add_css_class (card, "path-card");
  gtk_box_append (GTK_BOX (card), diagram);
  gtk_widget_set_margin_top (card, 18);
  gtk_widget_set_margin_bottom (card, 18);
  gtk_widget_set_margin_start (card, 18);
  gtk_widget_set_margin_end (card, 18);
  gtk_window_set_child (other, card);
  gtk_window_set_default_size (other, 560, -1);
  gtk_window_set_decorated (other, FALSE);
  gtk_window_present (other);
  save_widget_screenshot (GTK_WIDGET (other), "path-relayed.png");
  gtk_window_destroy (other);
}

/* A conversation as a person would have it, saved as chat.png and, with
 * the inspector open, inspector.png. */
static void
test_screenshots_of_a_chat (void)
{
  const char *lines_from_bob[] = {
    "Hi Alice! Is this the new app?",
    "Nice. The inspector says we are on a direct path, no relay.",
  };
  const char *lines_from_alice[] = {
    "It is. Nothing but the two of us on this connection.",
    "The code is only good once. Notes for Friday: https://example.org/notes",
  };
  PhChatView *view = PH_CHAT_VIEW (ph_window_get_chat_view (window));
  g_autoptr (PhChat) chat = ph_window_start_chat (window);
  g_autoptr (PhTestProcess) bob = NULL;
  g_autoptr (JsonObject) event = NULL;
  const char *join_args[3] = { "join", NULL, NULL };

  wait_for_chat_page ("waiting", EVENT_TIMEOUT_MS);
  join_args[1] = ph_conversation_get_code (ph_chat_get_conversation (chat));
  bob = spawn_cli ("Bob", join_args);
  wait_for_chat_page ("chat", CONNECT_TIMEOUT_MS);

  for (guint i = 0; i < G_N_ELEMENTS (lines_from_bob); i++)
    {
      RowQuery from_bob = { lines_from_bob[i], NULL };
      RowQuery to_bob = { lines_from_alice[i], "emblem-ok-symbolic" };

      ph_test_process_write_line (bob, lines_from_bob[i]);
      if (!ph_test_wait_until (row_is_shown, &from_bob, EVENT_TIMEOUT_MS))
        g_error ("Bob’s message is not shown");
      type_into_composer (lines_from_alice[i]);
      g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "chat.send", NULL));
      if (!ph_test_wait_until (row_is_shown, &to_bob, EVENT_TIMEOUT_MS))
        g_error ("Alice’s message is not shown as delivered");
    }
  type_into_composer ("See you then");
  save_screenshot ("chat.png");

  ph_window_set_inspector_visible (window, TRUE);
  save_screenshot ("inspector.png");
  ph_window_set_inspector_visible (window, FALSE);

  adw_style_manager_set_color_scheme (adw_style_manager_get_default (),
                                      ADW_COLOR_SCHEME_FORCE_DARK);
  save_screenshot ("chat-dark.png");
  adw_style_manager_set_color_scheme (adw_style_manager_get_default (), ADW_COLOR_SCHEME_DEFAULT);

  /* Phone-sized, the sidebar folds away and the chat has the window. */
  gtk_window_set_default_size (GTK_WINDOW (window), 360, 720);
  if (!ph_test_wait_until (window_is_narrow, NULL, EVENT_TIMEOUT_MS))
    g_error ("the window did not fold to a phone-sized layout");
  save_screenshot ("chat-narrow.png");
  gtk_window_set_default_size (GTK_WINDOW (window), 1100, 720);
  type_into_composer ("");

  ph_test_process_close_stdin (bob);
  g_assert_cmpint (ph_test_process_wait_exit (bob, EVENT_TIMEOUT_MS), ==, 0);
  close_current_chat ();
}

static gboolean
window_is_inactive (gpointer data)
{
  return !gtk_window_is_active (GTK_WINDOW (window));
}

static gboolean
notification_is_shown (gpointer data)
{
  return g_ptr_array_find_with_equal_func (notifications, data, g_str_equal, NULL);
}

/* A message that arrives while the window is in the background shows a
 * notification with the peer's name and the text. */
static void
test_notification_in_background (void)
{
  GSettings *settings = ph_session_get_settings (ph_application_get_session (application));
  g_autoptr (PhChat) chat = ph_window_start_chat (window);
  g_autoptr (PhTestProcess) bob = NULL;
  const char *join_args[3] = { "join", NULL, NULL };
  GtkWindow *other;

  wait_for_chat_page ("waiting", EVENT_TIMEOUT_MS);
  join_args[1] = ph_conversation_get_code (ph_chat_get_conversation (chat));
  bob = spawn_cli ("Bob", join_args);
  wait_for_chat_page ("chat", CONNECT_TIMEOUT_MS);

  g_settings_set_boolean (settings, "notifications", TRUE);
  other = GTK_WINDOW (gtk_window_new ());
  gtk_window_present (other);
  if (!ph_test_wait_until (window_is_inactive, NULL, EVENT_TIMEOUT_MS))
    g_error ("the main window stayed active behind another window");

  ph_test_process_write_line (bob, "Are you there?");
  if (!ph_test_wait_until (notification_is_shown, "Bob: Are you there?", EVENT_TIMEOUT_MS))
    g_error ("no notification for a message that arrived in the background");
  /* A right-to-left override would show "invoice.exe" as "invoice.txt"
   * outside the app: the notification shows it escaped. */
  ph_test_process_write_line (bob, "invoice\xe2\x80\xaetxt.exe");
  if (!ph_test_wait_until (notification_is_shown, "Bob: invoice\\u{202E}txt.exe", EVENT_TIMEOUT_MS))
    g_error ("no notification with the override escaped");

  gtk_window_destroy (other);
  g_settings_set_boolean (settings, "notifications", FALSE);
  ph_test_process_close_stdin (bob);
  g_assert_cmpint (ph_test_process_wait_exit (bob, EVENT_TIMEOUT_MS), ==, 0);
  close_current_chat ();
}

/* The real `pinhole` binary, started with --join, chats with a CLI host:
 * the host sees it connect under its display name and acknowledge a
 * message, which only the app's conversation does once it shows it. */
static void
test_app_binary_joins (void)
{
  const char *host_args[] = { "host", NULL };
  g_autoptr (PhTestProcess) host = spawn_cli ("Carol", host_args);
  g_autoptr (PhTestProcess) app = NULL;
  g_autoptr (JsonObject) event = NULL;
  g_autofree char *code = NULL;
  g_autofree char *rendezvous_env = g_strdup_printf ("PINHOLE_RENDEZVOUS=%s", server_url);
  const char *envp[] = { rendezvous_env, NULL };
  const char *argv[] = { g_getenv ("PINHOLE_APP_BIN"), "--profile=e2e", "--join", NULL, NULL };

  g_assert_nonnull (argv[0]);
  event = ph_test_process_wait_event (host, "code", EVENT_TIMEOUT_MS);
  code = g_strdup (json_object_get_string_member (event, "code"));
  g_clear_pointer (&event, json_object_unref);

  argv[3] = code;
  app = ph_test_process_spawn (argv, envp);
  event = ph_test_process_wait_event (host, "connected", CONNECT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (event, "peer"), !=, "");
  g_clear_pointer (&event, json_object_unref);

  ph_test_process_write_line (host, "Hello from the command line");
  event = ph_test_process_wait_event (host, "delivered", EVENT_TIMEOUT_MS);
  g_clear_pointer (&event, json_object_unref);

  /* Quitting the app says goodbye: the host hears "peer-left". */
  ph_test_process_kill (app, SIGINT);
  event = ph_test_process_wait_event (host, "closed", EVENT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (event, "reason"), ==, "peer-left");
  ph_test_process_wait_exit (app, EVENT_TIMEOUT_MS);
  g_assert_cmpint (ph_test_process_wait_exit (host, EVENT_TIMEOUT_MS), ==, 0);
}

static PhChat *
find_chat (GListModel *chats, const char *title)
{
  for (guint i = 0; i < g_list_model_get_n_items (chats); i++)
    {
      g_autoptr (PhChat) chat = g_list_model_get_item (chats, i);

      if (g_strcmp0 (ph_chat_get_title (chat), title) == 0)
        return g_steal_pointer (&chat);
    }
  return NULL;
}

static PhMessage *
find_message (PhChat *chat, const char *text)
{
  GListModel *messages = ph_chat_get_messages (chat);

  for (guint i = 0; i < g_list_model_get_n_items (messages); i++)
    {
      g_autoptr (PhMessage) message = g_list_model_get_item (messages, i);

      if (g_strcmp0 (ph_message_get_text (message), text) == 0)
        return g_steal_pointer (&message);
    }
  return NULL;
}

static gboolean
outbox_has (PhHistory *history, const char *text)
{
  g_autoptr (GPtrArray) outbox = ph_history_list_outbox (history, NULL);

  for (guint i = 0; outbox != NULL && i < outbox->len; i++)
    if (g_strcmp0 (((PhHistoryMessage *)outbox->pdata[i])->text, text) == 0)
      return TRUE;
  return FALSE;
}

/* A chat, then the app dies without a goodbye while a message is on its
 * way; the app started again lists the chat as ended with every message in
 * its state, the undelivered one failed; "Delete Chat" removes it for good. */
static void
test_history_after_restart (void)
{
  const char *delivered_text = "This one Dave will get.";
  const char *pending_text = "Are you still there?";
  RowQuery delivered = { delivered_text, "emblem-ok-symbolic" };
  RowQuery received = { "Noted, Alice.", NULL };
  RowQuery failed = { pending_text, "dialog-error-symbolic" };
  RowQuery sending = { pending_text, "content-loading-symbolic" };
  const char *join_args[3] = { "join", NULL, NULL };
  g_autoptr (PhTestProcess) dave = NULL;
  g_autoptr (JsonObject) event = NULL;
  g_autoptr (PhChat) chat = NULL;
  g_autoptr (PhMessage) message = NULL;
  g_autoptr (GPtrArray) conversations = NULL;
  g_autofree char *chat_id = NULL;
  PhSession *crashing, *restarted;
  PhConversation *crashed_conversation;
  PhChatView *view;

  /* A session of its own, so that the crash takes all of it. */
  gtk_window_destroy (GTK_WINDOW (window));
  crashing = ph_session_new (NULL);
  window = ph_window_new (GTK_APPLICATION (application), crashing);
  gtk_window_present (GTK_WINDOW (window));

  chat = ph_window_start_chat (window);
  g_assert_nonnull (chat);
  wait_for_chat_page ("waiting", EVENT_TIMEOUT_MS);
  join_args[1] = ph_conversation_get_code (ph_chat_get_conversation (chat));
  dave = spawn_cli ("Dave", join_args);
  event = ph_test_process_wait_event (dave, "connected", CONNECT_TIMEOUT_MS);
  g_clear_pointer (&event, json_object_unref);
  wait_for_chat_page ("chat", CONNECT_TIMEOUT_MS);

  view = PH_CHAT_VIEW (ph_window_get_chat_view (window));
  type_into_composer (delivered_text);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "chat.send", NULL));
  if (!ph_test_wait_until (row_is_shown, &delivered, EVENT_TIMEOUT_MS))
    g_error ("the first message is not shown as delivered");
  ph_test_process_write_line (dave, received.text);
  if (!ph_test_wait_until (row_is_shown, &received, EVENT_TIMEOUT_MS))
    g_error ("Dave’s message is not shown");

  /* Dave stops answering; what is "sending" on screen is already stored. */
  ph_test_process_kill (dave, SIGSTOP);
  type_into_composer (pending_text);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "chat.send", NULL));
  if (!ph_test_wait_until (row_is_shown, &sending, EVENT_TIMEOUT_MS))
    g_error ("the second message is not shown as sending");
  g_assert_true (outbox_has (ph_session_get_history (crashing), pending_text));

  /* The crash: the app goes with no goodbye (its conversation with it),
   * and one starts afresh with the same history. */
  chat_id = g_strdup (ph_chat_get_history_id (chat));
  crashed_conversation = ph_chat_get_conversation (chat);
  g_object_add_weak_pointer (G_OBJECT (crashed_conversation), (gpointer *)&crashed_conversation);
  g_clear_object (&chat);
  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_finalize_object (crashing);
  g_assert_null (crashed_conversation);
  restarted = ph_session_new (NULL);
  g_assert_nonnull (ph_session_get_history (restarted));
  window = ph_window_new (GTK_APPLICATION (application), restarted);
  gtk_window_present (GTK_WINDOW (window));

  chat = find_chat (ph_window_get_chats (window), "Dave");
  g_assert_nonnull (chat);
  g_assert_true (ph_chat_is_archived (chat));
  g_assert_cmpstr (ph_chat_get_history_id (chat), ==, chat_id);
  g_assert_cmpstr (ph_chat_get_subtitle (chat), ==, "Chat ended");
  ph_window_show_chat (window, chat);
  wait_for_chat_page ("chat", EVENT_TIMEOUT_MS);
  view = PH_CHAT_VIEW (ph_window_get_chat_view (window));
  g_assert_cmpuint (g_list_model_get_n_items (ph_chat_get_messages (chat)), ==, 3);
  if (!ph_test_wait_until (row_is_shown, &delivered, EVENT_TIMEOUT_MS))
    g_error ("the delivered message is not shown as delivered after the restart");
  if (!ph_test_wait_until (row_is_shown, &received, EVENT_TIMEOUT_MS))
    g_error ("Dave’s message is not shown after the restart");
  if (!ph_test_wait_until (row_is_shown, &failed, EVENT_TIMEOUT_MS))
    g_error ("the undelivered message is not shown as failed after the restart");
  message = find_message (chat, pending_text);
  g_assert_cmpstr (ph_message_get_failure_reason (message), ==,
                   "not delivered before Pinhole closed");
  g_assert_false (outbox_has (ph_session_get_history (restarted), pending_text));
  g_assert_nonnull (strstr (ph_chat_view_get_label_text (view, "banner"), "This chat has ended"));
  g_assert_false (gtk_widget_is_sensitive (GTK_WIDGET (ph_chat_view_get_composer (view))));
  save_screenshot ("history.png");

  /* Deleting takes it off the list and out of the history. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.delete-chat", NULL));
  g_assert_cmpstr (ph_window_get_visible_page (window), ==, "welcome");
  g_clear_object (&chat);
  chat = find_chat (ph_window_get_chats (window), "Dave");
  g_assert_null (chat);
  conversations = ph_history_list_conversations (ph_session_get_history (restarted), NULL);
  for (guint i = 0; i < conversations->len; i++)
    g_assert_cmpstr (((PhHistoryConversation *)conversations->pdata[i])->id, !=, chat_id);

  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_finalize_object (restarted);
  window = ph_window_new (GTK_APPLICATION (application), ph_application_get_session (application));
  gtk_window_present (GTK_WINDOW (window));
  ph_test_process_kill (dave, SIGKILL);
  ph_test_process_wait_exit (dave, EVENT_TIMEOUT_MS);
}

/* Contacts */

/* The sidebar's row of the contact named @name, or NULL. */
static PhContactRow *
find_contact_row (GtkWidget *widget, const char *name)
{
  if (PH_IS_CONTACT_ROW (widget))
    {
      PhContact *contact = ph_contact_row_get_contact (PH_CONTACT_ROW (widget));

      if (contact != NULL && g_strcmp0 (ph_contact_get_name (contact), name) == 0)
        return PH_CONTACT_ROW (widget);
    }
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      PhContactRow *row = find_contact_row (child, name);

      if (row != NULL)
        return row;
    }
  return NULL;
}

static GtkWidget *
find_widget_of_type (GtkWidget *widget, GType type)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (widget, type))
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_widget_of_type (child, type);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static gboolean
contact_row_is_shown (gpointer name)
{
  PhContactRow *row = find_contact_row (GTK_WIDGET (window), name);

  return row != NULL && gtk_widget_get_mapped (GTK_WIDGET (row));
}

static gboolean
contact_row_is_gone (gpointer name)
{
  return !contact_row_is_shown (name);
}

/* Saves a contact with a new identity of its own, as a code chat's
 * "contact-saved" leaves it in the session's book. */
static PhContact *
save_contact (const char *name, gboolean verified)
{
  PhContactBook *book = ph_session_get_contact_book (ph_application_get_session (application));
  g_autofree char *peer_dir = g_build_filename (history_dir, name, NULL);
  g_autoptr (PhIdentity) peer = NULL;
  g_autoptr (PhContact) contact = NULL;
  g_autoptr (GBytes) secret = NULL;
  g_autoptr (GError) error = NULL;
  guint8 secret_data[PH_CONTACT_PAIR_SECRET_SIZE];
  PhContact *saved;

  g_assert_nonnull (book);
  g_assert_cmpint (g_mkdir_with_parents (peer_dir, 0700), ==, 0);
  peer = ph_identity_load_or_create (peer_dir, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < sizeof secret_data; i++)
    secret_data[i] = g_random_int_range (0, 256);
  secret = g_bytes_new (secret_data, sizeof secret_data);
  contact = ph_contact_new (ph_identity_get_public_key (ph_contact_book_get_identity (book)),
                            ph_identity_get_public_key (peer), name, secret, FALSE,
                            g_get_real_time () / G_USEC_PER_SEC, &error);
  g_assert_no_error (error);
  saved = ph_contact_book_save (book, contact, &error);
  g_assert_no_error (error);
  if (verified)
    {
      ph_contact_book_set_verified (book, saved, TRUE, &error);
      g_assert_no_error (error);
    }
  return saved;
}

/* Saved contacts are listed above the chats, and a contact's page shows
 * the safety number both sides compute, as digits and as a QR code. */
static void
test_contacts_in_sidebar (void)
{
  PhContactBook *book = ph_session_get_contact_book (ph_application_get_session (application));
  g_autoptr (PhContact) bob = NULL;
  g_autoptr (PhContact) carol = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *shown = NULL;
  PhContactPage *page = PH_CONTACT_PAGE (ph_window_get_contact_page (window));

  g_assert_nonnull (book);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (book)), ==, 0);
  save_screenshot ("contacts-empty.png");

  bob = save_contact ("Bob", TRUE);
  carol = save_contact ("Carol", FALSE);
  if (!ph_test_wait_until (contact_row_is_shown, "Bob", EVENT_TIMEOUT_MS)
      || !ph_test_wait_until (contact_row_is_shown, "Carol", EVENT_TIMEOUT_MS))
    g_error ("the saved contacts are not in the sidebar");
  save_screenshot ("contacts-sidebar.png");

  ph_window_show_contact (window, bob);
  g_assert_cmpstr (ph_window_get_visible_page (window), ==, "contact");
  expected
      = ph_safety_number_compute (ph_identity_get_fingerprint (ph_contact_book_get_identity (book)),
                                  ph_contact_get_fingerprint (bob));
  shown = ph_contact_page_dup_shown_safety_number (page);
  g_assert_cmpstr (shown, ==, expected);
  g_assert_cmpstr (shown, ==, ph_contact_get_safety_number (bob));
  save_screenshot ("contact-page.png");
}

/* A name another contact has is refused with the book's reason; a free
 * one renames the contact in the sidebar too. Verifying is a toggle. */
static void
test_contact_rename (void)
{
  PhContactBook *book = ph_session_get_contact_book (ph_application_get_session (application));
  PhContactPage *page = PH_CONTACT_PAGE (ph_window_get_contact_page (window));
  g_autoptr (PhContact) carol = ph_contact_book_lookup (book, "Carol", NULL);
  g_autoptr (PhContact) bob = ph_contact_book_lookup (book, "Bob", NULL);
  g_autoptr (GError) error = NULL;
  GtkButton *verify;

  g_assert_nonnull (carol);
  ph_window_show_contact (window, carol);
  g_assert_false (ph_contact_page_rename (page, "Bob"));
  /* The page gives the book's own reason. */
  g_assert_false (ph_contact_book_rename (book, carol, "Bob", &error));
  g_assert_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_NAME_TAKEN);
  g_assert_cmpstr (ph_contact_page_get_rename_error (page), ==, error->message);
  g_assert_cmpstr (ph_contact_get_name (carol), ==, "Carol");

  g_assert_true (ph_contact_page_rename (page, "Caroline"));
  g_assert_null (ph_contact_page_get_rename_error (page));
  if (!ph_test_wait_until (contact_row_is_shown, "Caroline", EVENT_TIMEOUT_MS))
    g_error ("the renamed contact is not in the sidebar under its new name");
  g_assert_false (contact_row_is_shown ("Carol"));
  /* The other contact keeps its name and its verified mark. */
  g_assert_true (ph_contact_get_verified (bob));
  g_assert_false (ph_contact_get_verified (carol));

  /* "Mark as Verified" verifies in the book, and says so. */
  verify = GTK_BUTTON (find_widget_of_type (GTK_WIDGET (page), GTK_TYPE_TOGGLE_BUTTON));
  g_assert_cmpstr (gtk_button_get_label (verify), ==, "Mark as Verified");
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (verify), TRUE);
  g_assert_true (ph_contact_get_verified (carol));
  g_assert_cmpstr (gtk_button_get_label (verify), ==, "Verified");
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (verify), FALSE);
  g_assert_false (ph_contact_get_verified (carol));
}

/* Removing the contact on its page takes it off the sidebar and out of
 * the book, and the page closes. */
static void
test_contact_remove (void)
{
  PhContactBook *book = ph_session_get_contact_book (ph_application_get_session (application));
  PhContactPage *page = PH_CONTACT_PAGE (ph_window_get_contact_page (window));
  g_autoptr (PhContact) caroline = ph_contact_book_lookup (book, "Caroline", NULL);
  g_autoptr (PhContact) gone = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_nonnull (caroline);
  ph_window_show_contact (window, caroline);
  g_assert_true (ph_contact_page_remove (page));
  g_assert_cmpstr (ph_window_get_visible_page (window), ==, "welcome");
  if (!ph_test_wait_until (contact_row_is_gone, "Caroline", EVENT_TIMEOUT_MS))
    g_error ("the removed contact is still in the sidebar");
  gone = ph_contact_book_lookup (book, "Caroline", &error);
  g_assert_null (gone);
  g_assert_error (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_NOT_FOUND);
  g_assert_true (contact_row_is_shown ("Bob"));
}

static gboolean
contact_banner_says (gpointer text)
{
  PhChatView *view = PH_CHAT_VIEW (ph_window_get_chat_view (window));

  return g_strcmp0 (ph_chat_view_get_label_text (view, "contact-banner"), text) == 0;
}

/* A CLI peer in a code chat saves the app's person first: the chat asks
 * to save them too, and once saved they are a contact on both sides,
 * with the same safety number. */
static void
test_contact_saved_from_chat (void)
{
  PhContactBook *book = ph_session_get_contact_book (ph_application_get_session (application));
  PhChatView *view = PH_CHAT_VIEW (ph_window_get_chat_view (window));
  g_autofree char *dora_dir = g_build_filename (history_dir, "dora-profile", NULL);
  const char *join_args[] = { "join", NULL, "--save-contact", "--data-dir", dora_dir, NULL };
  g_autoptr (PhChat) chat = ph_window_start_chat (window);
  g_autoptr (PhTestProcess) dora = NULL;
  g_autoptr (JsonObject) event = NULL;
  g_autoptr (PhContact) contact = NULL;
  JsonObject *saved;

  wait_for_chat_page ("waiting", EVENT_TIMEOUT_MS);
  join_args[1] = ph_conversation_get_code (ph_chat_get_conversation (chat));
  dora = spawn_cli ("Dora", join_args);
  wait_for_chat_page ("chat", CONNECT_TIMEOUT_MS);
  if (!ph_test_wait_until (contact_banner_says, (gpointer) "Dora wants to save you as a contact",
                           EVENT_TIMEOUT_MS))
    g_error ("no banner for the peer's wish to save us");
  save_screenshot ("contact-request.png");

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.save-contact", NULL));
  if (!ph_test_wait_until (contact_row_is_shown, "Dora", CONNECT_TIMEOUT_MS))
    g_error ("the saved contact is not in the sidebar");
  g_assert_null (ph_chat_view_get_label_text (view, "contact-banner"));
  g_assert_nonnull (ph_conversation_get_contact (ph_chat_get_conversation (chat)));

  event = ph_test_process_wait_event (dora, "contact-saved", CONNECT_TIMEOUT_MS);
  saved = json_object_get_object_member (event, "contact");
  contact = ph_contact_book_lookup (book, "Dora", NULL);
  g_assert_nonnull (contact);
  g_assert_cmpstr (json_object_get_string_member (saved, "safety_number"), ==,
                   ph_contact_get_safety_number (contact));

  ph_test_process_close_stdin (dora);
  g_assert_cmpint (ph_test_process_wait_exit (dora, EVENT_TIMEOUT_MS), ==, 0);
  close_current_chat ();
}

static gboolean
contact_is_online (gpointer name)
{
  PhContactRow *row = find_contact_row (GTK_WIDGET (window), name);

  return row != NULL && ph_contact_row_get_online (row);
}

static gboolean
contact_has_unread (gpointer name)
{
  PhContactRow *row = find_contact_row (GTK_WIDGET (window), name);

  return row != NULL && ph_contact_row_get_unread (row) == 1;
}

static gboolean
banner_is_gone (gpointer unused)
{
  PhChatView *view = PH_CHAT_VIEW (ph_window_get_chat_view (window));

  return ph_chat_view_get_label_text (view, "banner") == NULL;
}

/* Dora, saved in the chat before, is not running: her chat says she is
 * offline, and a message to her waits on the server. Her `listen` gets
 * it; the app sees her online and the message delivered. After a restart
 * of the app her chat shows it again, and her answer comes into it. */
static void
test_contact_chat (void)
{
  const char *question = "Are you there, Dora?";
  const char *answer = "Here now, Alice.";
  RowQuery waiting = { question, "alarm-symbolic" };
  RowQuery delivered = { question, "emblem-ok-symbolic" };
  RowQuery answered = { answer, NULL };
  g_autofree char *dora_dir = g_build_filename (history_dir, "dora-profile", NULL);
  const char *listen_args[] = { "--data-dir", dora_dir, "listen", NULL };
  const char *chat_args[] = { "--data-dir", dora_dir, "--no-stored-copies", "chat", "Alice", NULL };
  PhSession *session = ph_application_get_session (application);
  g_autoptr (PhContact) dora
      = ph_contact_book_lookup (ph_session_get_contact_book (session), "Dora", NULL);
  g_autoptr (PhTestProcess) peer = NULL;
  g_autoptr (JsonObject) message = NULL;
  g_autoptr (PhContact) dora_again = NULL;
  PhSession *restarted;
  PhChatView *view = PH_CHAT_VIEW (ph_window_get_chat_view (window));
  PhChat *chat;

  g_assert_nonnull (dora);
  ph_window_show_contact_chat (window, dora);
  wait_for_chat_page ("chat", EVENT_TIMEOUT_MS);
  chat = ph_chat_view_get_chat (view);
  g_assert_true (ph_chat_get_contact (chat) == dora);
  g_assert_cmpstr (ph_chat_view_get_label_text (view, "banner"), ==,
                   "Dora is offline; your messages will be delivered when they are back.");
  type_into_composer (question);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "chat.send", NULL));
  if (!ph_test_wait_until (row_is_shown, &waiting, EVENT_TIMEOUT_MS))
    g_error ("the message to offline Dora is not shown as waiting on the server");
  save_screenshot ("contact-offline.png");

  peer = spawn_cli ("Dora", listen_args);
  message = ph_test_process_wait_event (peer, "message", CONNECT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (message, "text"), ==, question);
  if (!ph_test_wait_until (row_is_shown, &delivered, CONNECT_TIMEOUT_MS))
    g_error ("the message Dora got is not shown as delivered");
  if (!ph_test_wait_until (contact_is_online, "Dora", CONNECT_TIMEOUT_MS)
      || !ph_test_wait_until (banner_is_gone, NULL, EVENT_TIMEOUT_MS))
    g_error ("Dora is not shown online while her listen runs");
  save_screenshot ("contact-online.png");
  ph_test_process_kill (peer, SIGTERM);
  g_assert_cmpint (ph_test_process_wait_exit (peer, EVENT_TIMEOUT_MS), ==, 0);
  g_clear_pointer (&peer, ph_test_process_free);

  /* The restart: this session says goodbye to its contacts, another one
   * starts on the same profile and history. */
  ph_session_leave_all (session);
  gtk_window_destroy (GTK_WINDOW (window));
  restarted = ph_session_new (NULL);
  window = ph_window_new (GTK_APPLICATION (application), restarted);
  gtk_window_present (GTK_WINDOW (window));
  view = PH_CHAT_VIEW (ph_window_get_chat_view (window));
  dora_again = ph_contact_book_lookup (ph_session_get_contact_book (restarted), "Dora", NULL);
  ph_window_show_contact_chat (window, dora_again);
  wait_for_chat_page ("chat", EVENT_TIMEOUT_MS);
  if (!ph_test_wait_until (row_is_shown, &delivered, EVENT_TIMEOUT_MS))
    g_error ("the chat with Dora is not shown again after a restart");

  /* Her answer comes while another page is shown: her row counts it. */
  ph_window_show_join_page (window);
  peer = spawn_cli ("Dora", chat_args);
  ph_test_process_write_line (peer, answer);
  ph_test_process_close_stdin (peer);
  g_assert_cmpint (ph_test_process_wait_exit (peer, CONNECT_TIMEOUT_MS), ==, 0);
  g_clear_pointer (&peer, ph_test_process_free);
  if (!ph_test_wait_until (contact_has_unread, "Dora", EVENT_TIMEOUT_MS))
    g_error ("Dora’s answer is not counted as unread in the sidebar");
  save_screenshot ("contact-unread.png");
  ph_window_show_contact_chat (window, dora_again);
  if (!ph_test_wait_until (row_is_shown, &answered, EVENT_TIMEOUT_MS))
    g_error ("Dora’s answer is not in her chat");
  g_assert_cmpuint (ph_contact_row_get_unread (find_contact_row (GTK_WIDGET (window), "Dora")), ==,
                    0);
  save_screenshot ("contact-chat.png");

  /* Running in the background: closing the window only hides it, and
   * Dora's next message comes as a notification. */
  g_settings_set_boolean (ph_session_get_settings (restarted), "run-in-background", TRUE);
  g_settings_set_boolean (ph_session_get_settings (restarted), "notifications", TRUE);
  gtk_window_close (GTK_WINDOW (window));
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (window)));
  peer = spawn_cli ("Dora", chat_args);
  ph_test_process_write_line (peer, "While your window is closed");
  ph_test_process_close_stdin (peer);
  g_assert_cmpint (ph_test_process_wait_exit (peer, CONNECT_TIMEOUT_MS), ==, 0);
  g_clear_pointer (&peer, ph_test_process_free);
  if (!ph_test_wait_until (notification_is_shown, "Dora: While your window is closed",
                           EVENT_TIMEOUT_MS))
    g_error ("no notification for Dora’s message with the window closed");
  g_settings_set_boolean (ph_session_get_settings (restarted), "run-in-background", FALSE);
  g_settings_set_boolean (ph_session_get_settings (restarted), "notifications", FALSE);

  ph_session_leave_all (restarted);
  gtk_window_destroy (GTK_WINDOW (window));
  g_object_unref (restarted);
  window = ph_window_new (GTK_APPLICATION (application), session);
  gtk_window_present (GTK_WINDOW (window));
}

int
main (int argc, char **argv)
{
  g_autofree char *profile_dir = NULL;
  GSettings *settings;
  int status;

  g_test_init (&argc, &argv, NULL);

  server = ph_test_start_rendezvous (NULL, &server_url);
  /* The app and the pinhole binary it starts keep their history here. */
  history_dir = g_dir_make_tmp ("pinhole-history-XXXXXX", NULL);
  g_assert_nonnull (history_dir);
  g_setenv ("PINHOLE_HISTORY_DIR", history_dir, TRUE);
  /* …and the profile (identity and contacts) here, not in the user's. */
  profile_dir = g_build_filename (history_dir, "profile", NULL);
  g_setenv ("PINHOLE_DATA_DIR", profile_dir, TRUE);

  application = ph_application_new ();
  g_application_set_flags (G_APPLICATION (application), G_APPLICATION_NON_UNIQUE);
  g_application_register (G_APPLICATION (application), NULL, NULL);
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);

  settings = ph_session_get_settings (ph_application_get_session (application));
  g_settings_set_string (settings, "rendezvous-url", server_url);
  g_settings_set_string (settings, "display-name", "Alice");
  g_settings_set_boolean (settings, "use-server-turn", FALSE);
  /* Only the notification test wants them; the window's focus under Xvfb
   * without a window manager is not for the other tests to depend on. */
  g_settings_set_boolean (settings, "notifications", FALSE);
  g_settings_set_int (settings, "window-width", 1100);
  g_settings_set_int (settings, "window-height", 720);

  start_notification_server ();
  /* The app's icon, as it will be installed. */
  gtk_icon_theme_add_search_path (gtk_icon_theme_get_for_display (gdk_display_get_default ()),
                                  PH_TEST_ICONS_DIR);
  window = ph_window_new (GTK_APPLICATION (application), ph_application_get_session (application));
  gtk_window_present (GTK_WINDOW (window));
  wait_for_paint ();

  g_test_add_func ("/gui/window/actions", test_window_actions);
  g_test_add_func ("/gui/join/validation", test_join_validation);
  g_test_add_func ("/gui/join/unknown-code", test_join_unknown_code);
  g_test_add_func ("/gui/join/burned-code", test_join_burned_code);
  g_test_add_func ("/gui/join/no-inspector", test_join_opens_no_inspector);
  ph_test_add_func_with_hooks ("/gui/join/unreachable-server", test_join_unreachable_server);
  g_test_add_func ("/gui/start/shows-code", test_start_shows_code);
  ph_test_add_func_with_hooks ("/gui/start/quiet-setup", test_start_quiet_setup);
  g_test_add_func ("/gui/chat/with-cli-peer", test_chat_with_cli_peer);
  g_test_add_func ("/gui/inspector/relayed-path", test_diagram_of_a_relayed_path);
  g_test_add_func ("/gui/chat/typing", test_typing_indicator);
  g_test_add_func ("/gui/preferences/hidden-characters", test_preferences_refuse_hidden_characters);
  g_test_add_func ("/gui/preferences/turn-over-tls", test_preferences_turn_over_tls);
  g_test_add_func ("/gui/chat/untrusted-peer", test_untrusted_peer);
  g_test_add_func ("/gui/chat/screenshots", test_screenshots_of_a_chat);
  g_test_add_func ("/gui/chat/notification", test_notification_in_background);
  g_test_add_func ("/gui/app/joins-cli-host", test_app_binary_joins);
  g_test_add_func ("/gui/history/after-restart", test_history_after_restart);
  g_test_add_func ("/gui/contacts/sidebar", test_contacts_in_sidebar);
  g_test_add_func ("/gui/contacts/rename", test_contact_rename);
  g_test_add_func ("/gui/contacts/remove", test_contact_remove);
  g_test_add_func ("/gui/contacts/saved-from-chat", test_contact_saved_from_chat);
  g_test_add_func ("/gui/contacts/chat", test_contact_chat);
  status = g_test_run ();

  gtk_window_destroy (GTK_WINDOW (window));
  g_clear_object (&application);
  g_ptr_array_unref (notifications);
  ph_test_process_stop (server);
  ph_test_process_free (server);
  g_free (server_url);
  ph_test_remove_tree (history_dir);
  g_free (history_dir);
  return status;
}
