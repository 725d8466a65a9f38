/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-contact-row"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "ph-contact-row.h"

struct _PhContactRow
{
  GtkBox parent_instance;

  AdwAvatar *avatar;
  GtkWidget *presence_dot;
  GtkLabel *name_label;
  GtkWidget *unread_badge;
  GtkWidget *verified_icon;

  PhContact *contact;
  gboolean online;
  guint unread;
};

G_DEFINE_FINAL_TYPE (PhContactRow, ph_contact_row, GTK_TYPE_BOX)

enum
{
  PROP_0,
  PROP_CONTACT,
  PROP_ONLINE,
  PROP_UNREAD,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
update (PhContactRow *self)
{
  const char *name = self->contact != NULL ? ph_contact_get_name (self->contact) : "";
  gboolean verified = self->contact != NULL && ph_contact_get_verified (self->contact);

  gtk_label_set_text (self->name_label, name);
  adw_avatar_set_text (self->avatar, name);
  gtk_widget_set_visible (self->verified_icon, verified);
}

static void
ph_contact_row_dispose (GObject *object)
{
  ph_contact_row_set_contact (PH_CONTACT_ROW (object), NULL);

  G_OBJECT_CLASS (ph_contact_row_parent_class)->dispose (object);
}

static void
ph_contact_row_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PhContactRow *self = PH_CONTACT_ROW (object);

  switch (prop_id)
    {
    case PROP_CONTACT:
      g_value_set_object (value, self->contact);
      break;
    case PROP_ONLINE:
      g_value_set_boolean (value, self->online);
      break;
    case PROP_UNREAD:
      g_value_set_uint (value, self->unread);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_contact_row_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  PhContactRow *self = PH_CONTACT_ROW (object);

  switch (prop_id)
    {
    case PROP_CONTACT:
      ph_contact_row_set_contact (self, g_value_get_object (value));
      break;
    case PROP_ONLINE:
      ph_contact_row_set_online (self, g_value_get_boolean (value));
      break;
    case PROP_UNREAD:
      ph_contact_row_set_unread (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_contact_row_class_init (PhContactRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ph_contact_row_dispose;
  object_class->get_property = ph_contact_row_get_property;
  object_class->set_property = ph_contact_row_set_property;

  properties[PROP_CONTACT]
      = g_param_spec_object ("contact", NULL, NULL, PH_TYPE_CONTACT,
                             G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_ONLINE]
      = g_param_spec_boolean ("online", NULL, NULL, FALSE,
                              G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_UNREAD]
      = g_param_spec_uint ("unread", NULL, NULL, 0, G_MAXUINT, 0,
                           G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

/* The avatar, with a green dot on it while the contact is online, as
 * GNOME's chat apps show it. */
static GtkWidget *
make_avatar (PhContactRow *self)
{
  GtkWidget *overlay = gtk_overlay_new ();

  self->avatar = ADW_AVATAR (adw_avatar_new (32, NULL, TRUE));
  gtk_overlay_set_child (GTK_OVERLAY (overlay), GTK_WIDGET (self->avatar));
  self->presence_dot = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 0);
  gtk_widget_add_css_class (self->presence_dot, "presence-dot");
  gtk_widget_set_halign (self->presence_dot, GTK_ALIGN_END);
  gtk_widget_set_valign (self->presence_dot, GTK_ALIGN_END);
  gtk_widget_set_visible (self->presence_dot, FALSE);
  gtk_overlay_add_overlay (GTK_OVERLAY (overlay), self->presence_dot);
  return overlay;
}

static void
ph_contact_row_init (PhContactRow *self)
{
  gtk_box_set_spacing (GTK_BOX (self), 12);
  gtk_widget_add_css_class (GTK_WIDGET (self), "contact-row");

  gtk_box_append (GTK_BOX (self), make_avatar (self));
  self->name_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->name_label, 0);
  gtk_label_set_ellipsize (self->name_label, PANGO_ELLIPSIZE_END);
  gtk_widget_set_hexpand (GTK_WIDGET (self->name_label), TRUE);
  gtk_box_append (GTK_BOX (self), GTK_WIDGET (self->name_label));

  self->unread_badge = gtk_label_new (NULL);
  gtk_widget_add_css_class (self->unread_badge, "unread-badge");
  gtk_widget_set_valign (self->unread_badge, GTK_ALIGN_CENTER);
  gtk_widget_set_visible (self->unread_badge, FALSE);
  gtk_box_append (GTK_BOX (self), self->unread_badge);

  self->verified_icon = gtk_image_new_from_icon_name ("emblem-ok-symbolic");
  gtk_widget_set_tooltip_text (self->verified_icon, _ ("Verified"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->verified_icon),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _ ("Verified"), -1);
  gtk_widget_add_css_class (self->verified_icon, "verified-mark");
  gtk_box_append (GTK_BOX (self), self->verified_icon);
}

GtkWidget *
ph_contact_row_new (void)
{
  return g_object_new (PH_TYPE_CONTACT_ROW, NULL);
}

void
ph_contact_row_set_contact (PhContactRow *self, PhContact *contact)
{
  g_return_if_fail (PH_IS_CONTACT_ROW (self));
  g_return_if_fail (contact == NULL || PH_IS_CONTACT (contact));

  if (self->contact == contact)
    return;
  if (self->contact != NULL)
    g_signal_handlers_disconnect_by_func (self->contact, update, self);
  g_set_object (&self->contact, contact);
  /* The book renames and verifies the contact object itself. */
  if (contact != NULL)
    {
      g_signal_connect_swapped (contact, "notify::name", G_CALLBACK (update), self);
      g_signal_connect_swapped (contact, "notify::verified", G_CALLBACK (update), self);
    }
  update (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONTACT]);
}

PhContact *
ph_contact_row_get_contact (PhContactRow *self)
{
  g_return_val_if_fail (PH_IS_CONTACT_ROW (self), NULL);

  return self->contact;
}

gboolean
ph_contact_row_get_online (PhContactRow *self)
{
  g_return_val_if_fail (PH_IS_CONTACT_ROW (self), FALSE);

  return self->online;
}

void
ph_contact_row_set_online (PhContactRow *self, gboolean online)
{
  g_return_if_fail (PH_IS_CONTACT_ROW (self));

  online = !!online;
  if (self->online == online)
    return;
  self->online = online;
  gtk_widget_set_visible (self->presence_dot, online);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->avatar), online ? _ ("Online") : NULL);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                  online ? _ ("Online") : _ ("Offline"), -1);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ONLINE]);
}

guint
ph_contact_row_get_unread (PhContactRow *self)
{
  g_return_val_if_fail (PH_IS_CONTACT_ROW (self), 0);

  return self->unread;
}

void
ph_contact_row_set_unread (PhContactRow *self, guint unread)
{
  g_autofree char *text = NULL;

  g_return_if_fail (PH_IS_CONTACT_ROW (self));

  if (self->unread == unread)
    return;
  self->unread = unread;
  text = g_strdup_printf ("%u", unread);
  gtk_label_set_text (GTK_LABEL (self->unread_badge), text);
  gtk_widget_set_visible (self->unread_badge, unread > 0);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNREAD]);
}
