/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ph-conversation.h"
#include "ph-message.h"

G_BEGIN_DECLS

/* One chat as the app shows it: the conversation, its messages as a
 * GListModel of PhMessage, and what the sidebar says about it.
 * Signals: "message-received" (PhMessage *message). */

#define PH_TYPE_CHAT (ph_chat_get_type ())
G_DECLARE_FINAL_TYPE (PhChat, ph_chat, PH, CHAT, GObject)

PhChat *ph_chat_new (PhConversation *conversation);
PhConversation *ph_chat_get_conversation (PhChat *self);
GListModel *ph_chat_get_messages (PhChat *self);
const char *ph_chat_get_title (PhChat *self);
const char *ph_chat_get_subtitle (PhChat *self);
gboolean ph_chat_get_peer_typing (PhChat *self);
/* "peer-left", "peer-lost", "left" once closed, else NULL. */
const char *ph_chat_get_close_reason (PhChat *self);
/* Sends @text and adds it to the messages; NULL and @error when refused. */
PhMessage *ph_chat_send (PhChat *self, const char *text, GError **error);
/* Tells the peer whether this person is composing; repeats are dropped. */
void ph_chat_set_typing (PhChat *self, gboolean typing);
/* Adds a received message as if it came from the peer. */
PhMessage *ph_chat_add_received (PhChat *self, const char *id, gint64 time_ms, const char *text);

G_END_DECLS
