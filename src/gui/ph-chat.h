/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ph-contact-outbox.h"
#include "ph-conversation.h"
#include "ph-history.h"
#include "ph-message.h"

G_BEGIN_DECLS

/* One chat as the app shows it: the conversation, its messages as a
 * GListModel of PhMessage, and what the sidebar says about it. With a
 * history, the chat and every message it shows are stored as they
 * happen; an outgoing message is stored before it is shown as sending.
 * A chat read back from the history is "archived": it has ended and its
 * conversation never starts.
 * Signals: "message-received" (PhMessage *message),
 * "history-failed" (GError *error): the history could not be written. */

#define PH_TYPE_CHAT (ph_chat_get_type ())
G_DECLARE_FINAL_TYPE (PhChat, ph_chat, PH, CHAT, GObject)

/* @history may be NULL: then nothing is stored. */
PhChat *ph_chat_new (PhConversation *conversation, PhHistory *history);
/* A chat from an earlier run; its messages are read when first asked for. */
PhChat *ph_chat_new_from_history (PhHistory *history, const PhHistoryConversation *record);
/* The chat with a saved contact: one list of messages, kept in the
 * history, across every meeting with them (@meetings, which the caller
 * started for all contacts) and every run of the app. A message goes
 * directly while the contact is connected; while they are offline a
 * sealed copy waits for them on the server (PH_MESSAGE_STATE_WAITING);
 * what was not delivered when the app stopped goes on when it starts.
 * Its state is always CONNECTED: the contact can be written to any time.
 * Property "contact-online": whether the contact is online now. */
PhChat *ph_chat_new_for_contact (PhContactMeetings *meetings, PhContact *contact,
                                 PhHistory *history, gboolean leave_copies);
/* Whether a contact's chat leaves sealed copies (ph-contact-outbox.h). */
void ph_chat_set_leave_copies (PhChat *self, gboolean leave_copies);
/* The contact of a contact's chat, else NULL. */
PhContact *ph_chat_get_contact (PhChat *self);
gboolean ph_chat_get_contact_online (PhChat *self);
gboolean ph_chat_is_archived (PhChat *self);
/* The state the chat shows (property "state"): the conversation's, or
 * CLOSED for an archived chat; but a host's peer that arrived shows as
 * WAITING_FOR_PEER for up to a second more, so a quick setup goes from the
 * code straight to the chat and nothing is drawn while its packets are in
 * flight. */
PhConversationState ph_chat_get_state (PhChat *self);
/* The peer's name as it may be shown: without controls, bidirectional
 * or zero-width characters. */
const char *ph_chat_get_peer_name (PhChat *self);
const char *ph_chat_get_code (PhChat *self);
/* The chat's id in the history. */
const char *ph_chat_get_history_id (PhChat *self);
/* Removes the chat and its messages from the history. */
gboolean ph_chat_delete_from_history (PhChat *self, GError **error);
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
/* Messages received since ph_chat_mark_read () (property "unread"):
 * the window marks a chat read while it shows it. */
guint ph_chat_get_unread (PhChat *self);
void ph_chat_mark_read (PhChat *self);
/* Adds a received message as if it came from the peer. */
PhMessage *ph_chat_add_received (PhChat *self, const char *id, gint64 time_ms, const char *text);

G_END_DECLS
