/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-contact-page"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "ph-contact-page.h"
#include "ph-safety-number.h"

#define QR_QUIET_ZONE 4 /* modules of white around the code, as scanners expect */

struct _PhContactPage
{
  GtkBox parent_instance;

  AdwEntryRow *name_row;
  GtkLabel *rename_error;
  AdwPreferencesGroup *safety_group;
  GtkLabel *digits[PH_SAFETY_NUMBER_GROUPS];
  GtkWidget *qr_area;
  GtkToggleButton *verify_button;

  PhContactBook *book;
  PhContact *contact;
  GBytes *qr_matrix;
  guint qr_width;
  gboolean updating;
};

G_DEFINE_FINAL_TYPE (PhContactPage, ph_contact_page, GTK_TYPE_BOX)

enum
{
  REMOVED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
show_rename_error (PhContactPage *self, const char *message)
{
  gtk_label_set_text (self->rename_error, message != NULL ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->rename_error), message != NULL);
  if (message != NULL)
    gtk_widget_add_css_class (GTK_WIDGET (self->name_row), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->name_row), "error");
}

static void
update_verified (PhContactPage *self)
{
  gboolean verified = self->contact != NULL && ph_contact_get_verified (self->contact);

  self->updating = TRUE;
  gtk_toggle_button_set_active (self->verify_button, verified);
  self->updating = FALSE;
  gtk_button_set_label (GTK_BUTTON (self->verify_button),
                        verified ? _ ("Verified") : _ ("Mark as Verified"));
}

static void
update (PhContactPage *self)
{
  const char *number = self->contact != NULL ? ph_contact_get_safety_number (self->contact) : "";
  g_auto (GStrv) groups = g_strsplit (number, " ", -1);
  g_autofree char *description = NULL;
  g_autoptr (GError) error = NULL;

  gtk_editable_set_text (GTK_EDITABLE (self->name_row),
                         self->contact != NULL ? ph_contact_get_name (self->contact) : "");
  show_rename_error (self, NULL);
  for (guint i = 0; i < PH_SAFETY_NUMBER_GROUPS; i++)
    gtk_label_set_text (self->digits[i], i < g_strv_length (groups) ? groups[i] : "");

  description = g_strdup_printf (
      _ ("Compare these numbers with %s in person, or scan the code on their screen. If they "
         "match, no one is between you."),
      self->contact != NULL ? ph_contact_get_name (self->contact) : "");
  adw_preferences_group_set_description (self->safety_group, description);

  g_clear_pointer (&self->qr_matrix, g_bytes_unref);
  self->qr_width = 0;
  if (self->contact != NULL)
    {
      self->qr_matrix = ph_safety_number_to_qr_matrix (number, &self->qr_width, &error);
      if (self->qr_matrix == NULL)
        g_warning ("No QR code for the safety number: %s", error->message);
    }
  gtk_widget_set_visible (self->qr_area, self->qr_matrix != NULL);
  gtk_widget_queue_draw (self->qr_area);
  update_verified (self);
}

/* Dark modules on white whatever the style: a scanner needs the contrast
 * and the light border. Whole pixels per module keep the edges sharp. */
static void
draw_qr (GtkDrawingArea *area, cairo_t *cr, int width, int height, gpointer user_data)
{
  PhContactPage *self = user_data;
  const guint8 *modules;
  guint size, scale;
  double x0, y0;

  if (self->qr_matrix == NULL)
    return;
  modules = g_bytes_get_data (self->qr_matrix, NULL);
  size = self->qr_width + 2 * QR_QUIET_ZONE;
  scale = MAX (1, (guint)MIN (width, height) / size);
  x0 = (width - (int)(size * scale)) / 2;
  y0 = (height - (int)(size * scale)) / 2;

  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_rectangle (cr, x0, y0, size * scale, size * scale);
  cairo_fill (cr);
  cairo_set_source_rgb (cr, 0, 0, 0);
  for (guint y = 0; y < self->qr_width; y++)
    for (guint x = 0; x < self->qr_width; x++)
      if (modules[y * self->qr_width + x])
        cairo_rectangle (cr, x0 + (x + QR_QUIET_ZONE) * scale, y0 + (y + QR_QUIET_ZONE) * scale,
                         scale, scale);
  cairo_fill (cr);
}

static void
name_applied_cb (PhContactPage *self)
{
  ph_contact_page_rename (self, gtk_editable_get_text (GTK_EDITABLE (self->name_row)));
}

static void
verify_toggled_cb (PhContactPage *self)
{
  g_autoptr (GError) error = NULL;

  if (self->updating || self->contact == NULL)
    return;
  if (!ph_contact_book_set_verified (self->book, self->contact,
                                     gtk_toggle_button_get_active (self->verify_button), &error))
    {
      show_rename_error (self, error->message);
      update_verified (self);
    }
}

static void
remove_response_cb (AdwMessageDialog *dialog, const char *response, PhContactPage *self)
{
  if (g_str_equal (response, "remove"))
    ph_contact_page_remove (self);
}

static void
remove_clicked_cb (PhContactPage *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  AdwMessageDialog *dialog;

  if (self->contact == NULL)
    return;
  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (
      GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, _ ("Remove Contact?"), NULL));
  adw_message_dialog_format_body (
      dialog, _ ("%s will no longer be able to reach you without a new code. Your chats stay."),
      ph_contact_get_name (self->contact));
  adw_message_dialog_add_responses (dialog, "cancel", _ ("_Cancel"), "remove", _ ("_Remove"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "remove", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "cancel");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (remove_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
ph_contact_page_dispose (GObject *object)
{
  PhContactPage *self = PH_CONTACT_PAGE (object);

  ph_contact_page_set_contact (self, NULL, NULL);

  G_OBJECT_CLASS (ph_contact_page_parent_class)->dispose (object);
}

static void
ph_contact_page_class_init (PhContactPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ph_contact_page_dispose;

  signals[REMOVED] = g_signal_new ("removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                   NULL, NULL, G_TYPE_NONE, 0);
}

static GtkWidget *
build_safety_grid (PhContactPage *self)
{
  GtkWidget *grid = gtk_grid_new ();

  gtk_grid_set_row_spacing (GTK_GRID (grid), 6);
  gtk_grid_set_column_spacing (GTK_GRID (grid), 18);
  gtk_widget_set_halign (grid, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (grid, "safety-number");
  for (guint i = 0; i < PH_SAFETY_NUMBER_GROUPS; i++)
    {
      self->digits[i] = GTK_LABEL (gtk_label_new (NULL));
      gtk_label_set_selectable (self->digits[i], TRUE);
      gtk_widget_add_css_class (GTK_WIDGET (self->digits[i]), "monospace");
      gtk_grid_attach (GTK_GRID (grid), GTK_WIDGET (self->digits[i]), i % 4, i / 4, 1, 1);
    }
  return grid;
}

static void
ph_contact_page_init (PhContactPage *self)
{
  GtkWidget *scrolled = gtk_scrolled_window_new ();
  GtkWidget *clamp = adw_clamp_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 24);
  AdwPreferencesGroup *name_group = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());
  AdwPreferencesGroup *verify_group = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());
  GtkWidget *safety_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 18);
  GtkWidget *remove_button = gtk_button_new_with_mnemonic (_ ("_Remove Contact"));

  gtk_orientable_set_orientation (GTK_ORIENTABLE (self), GTK_ORIENTATION_VERTICAL);
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_NEVER,
                                  GTK_POLICY_AUTOMATIC);
  gtk_widget_set_vexpand (scrolled, TRUE);
  gtk_box_append (GTK_BOX (self), scrolled);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), clamp);
  adw_clamp_set_child (ADW_CLAMP (clamp), box);
  gtk_widget_set_margin_top (box, 24);
  gtk_widget_set_margin_bottom (box, 24);
  gtk_widget_set_margin_start (box, 12);
  gtk_widget_set_margin_end (box, 12);

  self->name_row = ADW_ENTRY_ROW (adw_entry_row_new ());
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->name_row), _ ("Name"));
  adw_entry_row_set_show_apply_button (self->name_row, TRUE);
  g_signal_connect_swapped (self->name_row, "apply", G_CALLBACK (name_applied_cb), self);
  adw_preferences_group_add (name_group, GTK_WIDGET (self->name_row));
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (name_group));
  self->rename_error = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (self->rename_error, TRUE);
  gtk_label_set_xalign (self->rename_error, 0);
  gtk_widget_add_css_class (GTK_WIDGET (self->rename_error), "error");
  gtk_widget_set_visible (GTK_WIDGET (self->rename_error), FALSE);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->rename_error));

  self->safety_group = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());
  adw_preferences_group_set_title (self->safety_group, _ ("Safety Number"));
  gtk_box_append (GTK_BOX (safety_box), build_safety_grid (self));
  self->qr_area = gtk_drawing_area_new ();
  gtk_drawing_area_set_content_width (GTK_DRAWING_AREA (self->qr_area), 200);
  gtk_drawing_area_set_content_height (GTK_DRAWING_AREA (self->qr_area), 200);
  gtk_widget_set_halign (self->qr_area, GTK_ALIGN_CENTER);
  gtk_drawing_area_set_draw_func (GTK_DRAWING_AREA (self->qr_area), draw_qr, self, NULL);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->qr_area), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _ ("Safety number as a QR code"), -1);
  gtk_box_append (GTK_BOX (safety_box), self->qr_area);
  adw_preferences_group_add (self->safety_group, safety_box);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->safety_group));

  self->verify_button = GTK_TOGGLE_BUTTON (gtk_toggle_button_new ());
  gtk_widget_set_halign (GTK_WIDGET (self->verify_button), GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (GTK_WIDGET (self->verify_button), "pill");
  g_signal_connect_swapped (self->verify_button, "toggled", G_CALLBACK (verify_toggled_cb), self);
  adw_preferences_group_set_description (
      verify_group, _ ("Mark the contact as verified once you compared the safety number in "
                       "person and it matched."));
  adw_preferences_group_add (verify_group, GTK_WIDGET (self->verify_button));
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (verify_group));

  gtk_widget_set_halign (remove_button, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (remove_button, "destructive-action");
  gtk_widget_add_css_class (remove_button, "pill");
  g_signal_connect_swapped (remove_button, "clicked", G_CALLBACK (remove_clicked_cb), self);
  gtk_box_append (GTK_BOX (box), remove_button);
}

GtkWidget *
ph_contact_page_new (void)
{
  return g_object_new (PH_TYPE_CONTACT_PAGE, NULL);
}

void
ph_contact_page_set_contact (PhContactPage *self, PhContactBook *book, PhContact *contact)
{
  g_return_if_fail (PH_IS_CONTACT_PAGE (self));
  g_return_if_fail (book == NULL || PH_IS_CONTACT_BOOK (book));
  g_return_if_fail (contact == NULL || PH_IS_CONTACT (contact));

  if (self->contact != NULL)
    g_signal_handlers_disconnect_by_func (self->contact, update_verified, self);
  g_set_object (&self->book, book);
  g_set_object (&self->contact, contact);
  if (contact != NULL)
    g_signal_connect_swapped (contact, "notify::verified", G_CALLBACK (update_verified), self);
  update (self);
}

PhContact *
ph_contact_page_get_contact (PhContactPage *self)
{
  g_return_val_if_fail (PH_IS_CONTACT_PAGE (self), NULL);

  return self->contact;
}

char *
ph_contact_page_dup_shown_safety_number (PhContactPage *self)
{
  GString *number = g_string_new (NULL);

  g_return_val_if_fail (PH_IS_CONTACT_PAGE (self), NULL);

  for (guint i = 0; i < PH_SAFETY_NUMBER_GROUPS; i++)
    {
      if (i > 0)
        g_string_append_c (number, ' ');
      g_string_append (number, gtk_label_get_text (self->digits[i]));
    }
  return g_string_free (number, FALSE);
}

gboolean
ph_contact_page_rename (PhContactPage *self, const char *name)
{
  g_autoptr (GError) error = NULL;

  g_return_val_if_fail (PH_IS_CONTACT_PAGE (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  if (self->contact == NULL)
    return FALSE;
  if (!ph_contact_book_rename (self->book, self->contact, name, &error))
    {
      show_rename_error (self, error->message);
      return FALSE;
    }
  update (self);
  return TRUE;
}

const char *
ph_contact_page_get_rename_error (PhContactPage *self)
{
  g_return_val_if_fail (PH_IS_CONTACT_PAGE (self), NULL);

  return gtk_widget_get_visible (GTK_WIDGET (self->rename_error))
             ? gtk_label_get_text (self->rename_error)
             : NULL;
}

gboolean
ph_contact_page_remove (PhContactPage *self)
{
  g_autoptr (GError) error = NULL;

  g_return_val_if_fail (PH_IS_CONTACT_PAGE (self), FALSE);

  if (self->contact == NULL)
    return FALSE;
  if (!ph_contact_book_remove (self->book, self->contact, &error))
    {
      show_rename_error (self, error->message);
      return FALSE;
    }
  g_signal_emit (self, signals[REMOVED], 0);
  return TRUE;
}
