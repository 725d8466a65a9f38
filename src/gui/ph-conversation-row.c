/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-conversation-row"

#include "config.h"

#include <adwaita.h>

#include "ph-conversation-row.h"

struct _PhConversationRow
{
  GtkWidget parent_instance;

  AdwAvatar *avatar;
  GtkLabel *title_label;
  GtkLabel *subtitle_label;

  PhChat *chat;
  GBinding *bindings[3];
};

G_DEFINE_FINAL_TYPE (PhConversationRow, ph_conversation_row, GTK_TYPE_WIDGET)

static void
ph_conversation_row_dispose (GObject *object)
{
  PhConversationRow *self = PH_CONVERSATION_ROW (object);
  GtkWidget *child;

  ph_conversation_row_set_chat (self, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), PH_TYPE_CONVERSATION_ROW);
  /* The template's top widget has no id, so it is unparented by hand. */
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (object))) != NULL)
    gtk_widget_unparent (child);

  G_OBJECT_CLASS (ph_conversation_row_parent_class)->dispose (object);
}

static void
ph_conversation_row_class_init (PhConversationRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = ph_conversation_row_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/pinhole/Pinhole/ph-conversation-row.ui");
  gtk_widget_class_bind_template_child (widget_class, PhConversationRow, avatar);
  gtk_widget_class_bind_template_child (widget_class, PhConversationRow, title_label);
  gtk_widget_class_bind_template_child (widget_class, PhConversationRow, subtitle_label);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
ph_conversation_row_init (PhConversationRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
ph_conversation_row_new (void)
{
  return g_object_new (PH_TYPE_CONVERSATION_ROW, NULL);
}

void
ph_conversation_row_set_chat (PhConversationRow *self, PhChat *chat)
{
  g_return_if_fail (PH_IS_CONVERSATION_ROW (self));
  g_return_if_fail (chat == NULL || PH_IS_CHAT (chat));

  if (self->chat == chat)
    return;

  for (guint i = 0; i < G_N_ELEMENTS (self->bindings); i++)
    g_clear_pointer (&self->bindings[i], g_binding_unbind);
  g_clear_object (&self->chat);
  if (chat == NULL)
    return;

  self->chat = g_object_ref (chat);
  self->bindings[0]
      = g_object_bind_property (chat, "title", self->title_label, "label", G_BINDING_SYNC_CREATE);
  /* No initials before the peer is known: a code's digits are not a face. */
  self->bindings[1]
      = g_object_bind_property (chat, "peer-name", self->avatar, "text", G_BINDING_SYNC_CREATE);
  self->bindings[2] = g_object_bind_property (chat, "subtitle", self->subtitle_label, "label",
                                              G_BINDING_SYNC_CREATE);
}
