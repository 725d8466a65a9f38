/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-message-row"

#include "config.h"

#include <glib/gi18n.h>

#include "ph-message-row.h"
#include "ph-message-text.h"

struct _PhMessageRow
{
  GtkWidget parent_instance;

  GtkWidget *bubble;
  GtkLabel *text_label;
  GtkLabel *time_label;
  GtkImage *state_image;

  PhMessage *message;
  gulong state_handler;
};

G_DEFINE_FINAL_TYPE (PhMessageRow, ph_message_row, GTK_TYPE_WIDGET)

static void
update_state (PhMessageRow *self)
{
  const char *icon = NULL;
  const char *tooltip = NULL;
  g_autofree char *failure = NULL;
  PhMessageState state = ph_message_get_state (self->message);

  gtk_widget_remove_css_class (GTK_WIDGET (self->state_image), "error");
  switch (state)
    {
    case PH_MESSAGE_STATE_SENDING:
      icon = "content-loading-symbolic";
      tooltip = _ ("Sending: waiting for the connection to your peer");
      break;
    case PH_MESSAGE_STATE_SENT:
      icon = "mail-send-symbolic";
      tooltip = _ ("Sent: your peer’s app has not confirmed it yet");
      break;
    case PH_MESSAGE_STATE_WAITING:
      icon = "alarm-symbolic";
      tooltip = _ ("Waiting: your contact is offline and gets it, sealed, from the server when "
                   "they are back");
      break;
    case PH_MESSAGE_STATE_DELIVERED:
      icon = "emblem-ok-symbolic";
      tooltip = _ ("Delivered: your peer’s app received it");
      break;
    case PH_MESSAGE_STATE_FAILED:
      icon = "dialog-error-symbolic";
      if (ph_message_get_failure_reason (self->message) != NULL)
        tooltip = failure = g_strdup_printf (_ ("Not delivered: %s"),
                                             ph_message_get_failure_reason (self->message));
      else
        tooltip = _ ("Not delivered: the chat ended before your peer received it");
      gtk_widget_add_css_class (GTK_WIDGET (self->state_image), "error");
      break;
    case PH_MESSAGE_STATE_RECEIVED:
    default:
      break;
    }

  gtk_widget_set_visible (GTK_WIDGET (self->state_image), icon != NULL);
  gtk_image_set_from_icon_name (self->state_image, icon);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->state_image), tooltip);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->state_image), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  tooltip != NULL ? tooltip : "", -1);
}

static void
message_state_cb (PhMessageRow *self)
{
  update_state (self);
}

static void
ph_message_row_dispose (GObject *object)
{
  PhMessageRow *self = PH_MESSAGE_ROW (object);

  ph_message_row_set_message (self, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), PH_TYPE_MESSAGE_ROW);

  G_OBJECT_CLASS (ph_message_row_parent_class)->dispose (object);
}

static void
ph_message_row_class_init (PhMessageRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = ph_message_row_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/pinhole/Pinhole/ph-message-row.ui");
  gtk_widget_class_bind_template_child (widget_class, PhMessageRow, bubble);
  gtk_widget_class_bind_template_child (widget_class, PhMessageRow, text_label);
  gtk_widget_class_bind_template_child (widget_class, PhMessageRow, time_label);
  gtk_widget_class_bind_template_child (widget_class, PhMessageRow, state_image);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "messagerow");
}

static void
ph_message_row_init (PhMessageRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
ph_message_row_new (void)
{
  return g_object_new (PH_TYPE_MESSAGE_ROW, NULL);
}

void
ph_message_row_set_message (PhMessageRow *self, PhMessage *message)
{
  g_autofree char *markup = NULL;
  g_autofree char *time_text = NULL;
  g_autofree char *time_tooltip = NULL;
  g_autoptr (GDateTime) time = NULL;
  gboolean outgoing;

  g_return_if_fail (PH_IS_MESSAGE_ROW (self));
  g_return_if_fail (message == NULL || PH_IS_MESSAGE (message));

  if (self->message == message)
    return;

  if (self->message != NULL)
    {
      g_clear_signal_handler (&self->state_handler, self->message);
      g_clear_object (&self->message);
    }
  if (message == NULL)
    return;

  self->message = g_object_ref (message);
  self->state_handler
      = g_signal_connect_swapped (message, "notify::state", G_CALLBACK (message_state_cb), self);

  markup = ph_message_text_to_markup (ph_message_get_text (message));
  gtk_label_set_markup (self->text_label, markup);

  time = g_date_time_new_from_unix_local (ph_message_get_time (message) / 1000);
  time_text = g_date_time_format (time, "%R");
  time_tooltip = g_date_time_format (time, "%c");
  gtk_label_set_text (self->time_label, time_text);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->time_label), time_tooltip);

  outgoing = ph_message_get_outgoing (message);
  gtk_widget_set_halign (self->bubble, outgoing ? GTK_ALIGN_END : GTK_ALIGN_START);
  if (outgoing)
    {
      gtk_widget_add_css_class (self->bubble, "outgoing");
      gtk_widget_remove_css_class (self->bubble, "incoming");
    }
  else
    {
      gtk_widget_add_css_class (self->bubble, "incoming");
      gtk_widget_remove_css_class (self->bubble, "outgoing");
    }
  update_state (self);
}

PhMessage *
ph_message_row_get_message (PhMessageRow *self)
{
  g_return_val_if_fail (PH_IS_MESSAGE_ROW (self), NULL);

  return self->message;
}
