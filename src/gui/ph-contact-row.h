/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "ph-contact.h"

G_BEGIN_DECLS

/* A contact in the sidebar: its name, whether it is verified, a green dot
 * while they are online (property "online") and the number of their
 * messages not read yet (property "unread"), both bound to the contact's
 * chat by the window. */

#define PH_TYPE_CONTACT_ROW (ph_contact_row_get_type ())
G_DECLARE_FINAL_TYPE (PhContactRow, ph_contact_row, PH, CONTACT_ROW, GtkBox)

GtkWidget *ph_contact_row_new (void);
void ph_contact_row_set_contact (PhContactRow *self, PhContact *contact);
PhContact *ph_contact_row_get_contact (PhContactRow *self);
gboolean ph_contact_row_get_online (PhContactRow *self);
void ph_contact_row_set_online (PhContactRow *self, gboolean online);
guint ph_contact_row_get_unread (PhContactRow *self);
void ph_contact_row_set_unread (PhContactRow *self, guint unread);

G_END_DECLS
