/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ph-conversation.h"

G_BEGIN_DECLS

/* The chat history: conversations and their messages in one SQLite
 * database (WAL), readable only by its owner. Outgoing messages are
 * written before they are sent, so the undelivered ones (the outbox)
 * survive a crash. Every failure is a GError in G_IO_ERROR:
 * G_IO_ERROR_NO_SPACE (disk full), G_IO_ERROR_INVALID_DATA (damaged or
 * not a history file), G_IO_ERROR_PERMISSION_DENIED, G_IO_ERROR_NOT_FOUND,
 * G_IO_ERROR_NOT_SUPPORTED (made by a newer Pinhole), G_IO_ERROR_FAILED. */

typedef enum
{
  PH_HISTORY_MESSAGE_SENDING,   /* written, not yet on the wire */
  PH_HISTORY_MESSAGE_SENT,      /* on the wire, not yet acknowledged */
  PH_HISTORY_MESSAGE_DELIVERED, /* acknowledged; received messages are stored so */
  PH_HISTORY_MESSAGE_FAILED,    /* see failure_reason */
} PhHistoryMessageState;

typedef struct
{
  char *id;        /* a random UUID */
  char *peer_name; /* NULL until the peer said hello */
  char *code;
  gint64 created_ms; /* wall-clock milliseconds since 1970 */
  gint64 last_activity_ms;
  PhConversationState state;
  char *path_summary; /* ph_path_describe () of the path, or NULL */
  char *close_reason; /* "peer-left", "peer-lost", "left", an error, or NULL */
} PhHistoryConversation;

typedef struct
{
  char *id;
  char *conversation_id;
  gboolean outgoing;
  gint64 time_ms;
  char *text;
  PhHistoryMessageState state;
  char *failure_reason;
  gint64 seq; /* set by ph_history_add_message (); grows with every message */
} PhHistoryMessage;

/* A conversation with a new id, created and active now, state IDLE. */
PhHistoryConversation *ph_history_conversation_new (void);
PhHistoryConversation *ph_history_conversation_copy (const PhHistoryConversation *conversation);
void ph_history_conversation_free (PhHistoryConversation *conversation);
PhHistoryMessage *ph_history_message_new (const char *conversation_id, const char *id,
                                          gboolean outgoing, gint64 time_ms, const char *text);
void ph_history_message_free (PhHistoryMessage *message);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhHistoryConversation, ph_history_conversation_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhHistoryMessage, ph_history_message_free)

#define PH_TYPE_HISTORY (ph_history_get_type ())
G_DECLARE_FINAL_TYPE (PhHistory, ph_history, PH, HISTORY, GObject)

/* Opens or creates the database at @path, creating its folder (mode 0700)
 * and the file (mode 0600), and brings its schema up to date. */
PhHistory *ph_history_open (const char *path, GError **error);
const char *ph_history_get_path (PhHistory *self);

/* Conversations, most recently active first. */
gboolean ph_history_add_conversation (PhHistory *self, const PhHistoryConversation *conversation,
                                      GError **error);
/* Everything but id and created_ms; NOT_FOUND when there is no such row. */
gboolean ph_history_update_conversation (PhHistory *self, const PhHistoryConversation *conversation,
                                         GError **error);
/* Removes the conversation and all its messages. */
gboolean ph_history_delete_conversation (PhHistory *self, const char *conversation_id,
                                         GError **error);
/* Of PhHistoryConversation. */
GPtrArray *ph_history_list_conversations (PhHistory *self, GError **error);

/* Stores @message (its state too) and sets its seq. Message ids need not
 * be unique: a peer chooses the ids of what it sends. */
gboolean ph_history_add_message (PhHistory *self, PhHistoryMessage *message, GError **error);
/* For the outgoing message @message_id; NOT_FOUND when there is none. */
gboolean ph_history_set_message_state (PhHistory *self, const char *conversation_id,
                                       const char *message_id, PhHistoryMessageState state,
                                       const char *failure_reason, GError **error);
/* Pages of PhHistoryMessage, oldest first: at most @limit (0: all)
 * messages with a seq below @before_seq (0: the newest), or above
 * @after_seq. */
GPtrArray *ph_history_list_messages_before (PhHistory *self, const char *conversation_id,
                                            gint64 before_seq, guint limit, GError **error);
GPtrArray *ph_history_list_messages_after (PhHistory *self, const char *conversation_id,
                                           gint64 after_seq, guint limit, GError **error);
/* The conversation that holds everything said with the saved contact
 * @contact_id (ph-contact-outbox.h), and whether @conversation_id is one:
 * it never ends, and its outbox goes on in the next run. */
char *ph_history_contact_conversation_id (const char *contact_id);
gboolean ph_history_is_contact_conversation (const char *conversation_id);
/* Outgoing messages not yet delivered nor failed, oldest first. */
GPtrArray *ph_history_list_outbox (PhHistory *self, GError **error);

G_END_DECLS
