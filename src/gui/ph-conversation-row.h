/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "ph-chat.h"

G_BEGIN_DECLS

/* A sidebar entry: the peer's avatar and name, and the newest message or
 * where the chat stands. */

#define PH_TYPE_CONVERSATION_ROW (ph_conversation_row_get_type ())
G_DECLARE_FINAL_TYPE (PhConversationRow, ph_conversation_row, PH, CONVERSATION_ROW, GtkWidget)

GtkWidget *ph_conversation_row_new (void);
void ph_conversation_row_set_chat (PhConversationRow *self, PhChat *chat);

G_END_DECLS
