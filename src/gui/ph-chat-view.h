/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "ph-chat.h"

G_BEGIN_DECLS

/* One chat on screen: the code while waiting for the peer, progress while
 * connecting, what went wrong when it failed, and then the messages, the
 * composer, the typing indicator and a banner once the chat has ended. */

#define PH_TYPE_CHAT_VIEW (ph_chat_view_get_type ())
G_DECLARE_FINAL_TYPE (PhChatView, ph_chat_view, PH, CHAT_VIEW, GtkWidget)

GtkWidget *ph_chat_view_new (void);
void ph_chat_view_set_chat (PhChatView *self, PhChat *chat);
PhChat *ph_chat_view_get_chat (PhChatView *self);
/* "waiting", "connecting", "failed" or "chat". */
const char *ph_chat_view_get_visible_page (PhChatView *self);
GtkTextView *ph_chat_view_get_composer (PhChatView *self);
GtkListView *ph_chat_view_get_message_list (PhChatView *self);
/* The text of the code, status or banner label named @name ("code",
 * "error-title", "connecting-description", "banner", "contact-banner",
 * "typing"), for tests. */
const char *ph_chat_view_get_label_text (PhChatView *self, const char *name);

G_END_DECLS
