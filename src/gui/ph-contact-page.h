/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "ph-contact-book.h"

G_BEGIN_DECLS

/* A contact's page: its name (renamed in place), the safety number as
 * digits and as a QR code, verifying it and removing it. Errors of the
 * book are shown on the page. Signal "removed": the contact is gone from
 * the book after the person confirmed. */

#define PH_TYPE_CONTACT_PAGE (ph_contact_page_get_type ())
G_DECLARE_FINAL_TYPE (PhContactPage, ph_contact_page, PH, CONTACT_PAGE, GtkBox)

GtkWidget *ph_contact_page_new (void);
void ph_contact_page_set_contact (PhContactPage *self, PhContactBook *book, PhContact *contact);
PhContact *ph_contact_page_get_contact (PhContactPage *self);
/* The digits as shown, groups separated by spaces (for tests). */
char *ph_contact_page_dup_shown_safety_number (PhContactPage *self);
/* Renames as the name entry's apply button does; FALSE when refused. */
gboolean ph_contact_page_rename (PhContactPage *self, const char *name);
/* The error shown under the name, or NULL. */
const char *ph_contact_page_get_rename_error (PhContactPage *self);
/* Removes the contact without the confirmation (for tests). */
gboolean ph_contact_page_remove (PhContactPage *self);

G_END_DECLS
