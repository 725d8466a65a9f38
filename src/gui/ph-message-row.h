/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "ph-message.h"

G_BEGIN_DECLS

/* A message bubble: the text with clickable links, the time and, for the
 * person's own messages, whether it arrived. Rows are recycled by the chat's
 * list view, so a row shows whichever message it is given. */

#define PH_TYPE_MESSAGE_ROW (ph_message_row_get_type ())
G_DECLARE_FINAL_TYPE (PhMessageRow, ph_message_row, PH, MESSAGE_ROW, GtkWidget)

GtkWidget *ph_message_row_new (void);
void ph_message_row_set_message (PhMessageRow *self, PhMessage *message);
PhMessage *ph_message_row_get_message (PhMessageRow *self);

G_END_DECLS
