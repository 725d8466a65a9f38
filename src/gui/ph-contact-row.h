/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "ph-contact.h"

G_BEGIN_DECLS

/* A contact in the sidebar: its name and whether it is verified.
 * Property "online" is for presence to bind to; until presence exists it
 * stays FALSE and the row shows no online mark, rather than a false one. */

#define PH_TYPE_CONTACT_ROW (ph_contact_row_get_type ())
G_DECLARE_FINAL_TYPE (PhContactRow, ph_contact_row, PH, CONTACT_ROW, GtkBox)

GtkWidget *ph_contact_row_new (void);
void ph_contact_row_set_contact (PhContactRow *self, PhContact *contact);
PhContact *ph_contact_row_get_contact (PhContactRow *self);
gboolean ph_contact_row_get_online (PhContactRow *self);
void ph_contact_row_set_online (PhContactRow *self, gboolean online);

G_END_DECLS
