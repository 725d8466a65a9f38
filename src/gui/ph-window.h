/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "ph-chat.h"
#include "ph-session.h"

G_BEGIN_DECLS

/* The main window: chats in a sidebar, the selected chat beside them, the
 * connection inspector in a flap; folds down to a phone-sized window.
 * It shows the chats of its PhSession (construct-only property "session"). */

#define PH_TYPE_WINDOW (ph_window_get_type ())
G_DECLARE_FINAL_TYPE (PhWindow, ph_window, PH, WINDOW, AdwApplicationWindow)

PhWindow *ph_window_new (GtkApplication *application, PhSession *session);
/* Hosts a new chat and shows its code. */
PhChat *ph_window_start_chat (PhWindow *self);
/* Joins the chat with @code; a malformed code shows its error on the join
 * page and returns NULL. */
PhChat *ph_window_join_chat (PhWindow *self, const char *code);
void ph_window_show_join_page (PhWindow *self);
void ph_window_show_chat (PhWindow *self, PhChat *chat);
/* The session's chats, as the sidebar lists them. */
/* Opens @contact's page, selecting its row in the sidebar. */
void ph_window_show_contact (PhWindow *self, PhContact *contact);
/* Closes the window for good, also when "run-in-background" would only
 * hide it (app.quit). */
void ph_window_quit (PhWindow *self);
/* The chat with @contact (its page when contacts are not met). */
void ph_window_show_contact_chat (PhWindow *self, PhContact *contact);
GtkWidget *ph_window_get_contact_page (PhWindow *self);
GListModel *ph_window_get_chats (PhWindow *self);
/* Children for tests and screenshots. */
GtkWidget *ph_window_get_chat_view (PhWindow *self);
GtkWidget *ph_window_get_join_page (PhWindow *self);
GtkWidget *ph_window_get_inspector (PhWindow *self);
/* "welcome", "join" or "chat". */
const char *ph_window_get_visible_page (PhWindow *self);
void ph_window_set_inspector_visible (PhWindow *self, gboolean visible);

G_END_DECLS
