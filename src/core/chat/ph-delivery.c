/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-delivery"

#include "config.h"

#include "ph-delivery.h"

/* The channel is ordered and each side writes everything not acknowledged
 * again, in order, on each new channel. So the receiver needs no buffer:
 * a number already seen is a copy, a gap is a broken peer. */

struct _PhDelivery
{
  GObject parent_instance;

  GQueue outbox;            /* of PhOutgoingMessage, in seq order */
  GHashTable *outbox_index; /* id → its link in outbox */
  GList *unwritten;         /* first link not written on this channel */
  guint64 last_seq;
  guint64 received;
};

G_DEFINE_FINAL_TYPE (PhDelivery, ph_delivery, G_TYPE_OBJECT)

static void
outgoing_message_free (PhOutgoingMessage *message)
{
  g_free (message->id);
  g_free (message->text);
  g_free (message);
}

const PhOutgoingMessage *
ph_delivery_queue (PhDelivery *self, const char *text, gint64 time_ms)
{
  g_autofree char *id = g_uuid_string_random ();

  return ph_delivery_queue_with_id (self, id, text, time_ms);
}

const PhOutgoingMessage *
ph_delivery_queue_with_id (PhDelivery *self, const char *id, const char *text, gint64 time_ms)
{
  PhOutgoingMessage *message;

  g_return_val_if_fail (PH_IS_DELIVERY (self), NULL);
  g_return_val_if_fail (id != NULL && text != NULL, NULL);

  message = g_new0 (PhOutgoingMessage, 1);
  message->id = g_strdup (id);
  message->seq = ++self->last_seq;
  message->time_ms = time_ms;
  message->text = g_strdup (text);
  g_queue_push_tail (&self->outbox, message);
  g_hash_table_insert (self->outbox_index, message->id, self->outbox.tail);
  if (self->unwritten == NULL)
    self->unwritten = self->outbox.tail;
  return message;
}

const PhOutgoingMessage *
ph_delivery_next_unwritten (PhDelivery *self)
{
  const PhOutgoingMessage *message;

  g_return_val_if_fail (PH_IS_DELIVERY (self), NULL);

  if (self->unwritten == NULL)
    return NULL;
  message = self->unwritten->data;
  self->unwritten = self->unwritten->next;
  return message;
}

void
ph_delivery_rewind (PhDelivery *self)
{
  g_return_if_fail (PH_IS_DELIVERY (self));

  self->unwritten = self->outbox.head;
}

gboolean
ph_delivery_acknowledge (PhDelivery *self, const char *id)
{
  GList *link;

  g_return_val_if_fail (PH_IS_DELIVERY (self), FALSE);
  g_return_val_if_fail (id != NULL, FALSE);

  link = g_hash_table_lookup (self->outbox_index, id);
  if (link == NULL)
    return FALSE;
  if (self->unwritten == link)
    self->unwritten = link->next;
  g_hash_table_remove (self->outbox_index, id);
  outgoing_message_free (link->data);
  g_queue_delete_link (&self->outbox, link);
  return TRUE;
}

guint
ph_delivery_get_unacknowledged (PhDelivery *self)
{
  g_return_val_if_fail (PH_IS_DELIVERY (self), 0);

  return g_queue_get_length (&self->outbox);
}

GStrv
ph_delivery_drain (PhDelivery *self)
{
  g_autoptr (GStrvBuilder) ids = g_strv_builder_new ();
  PhOutgoingMessage *message;

  g_return_val_if_fail (PH_IS_DELIVERY (self), NULL);

  while ((message = g_queue_pop_head (&self->outbox)) != NULL)
    {
      g_hash_table_remove (self->outbox_index, message->id);
      g_strv_builder_add (ids, message->id);
      outgoing_message_free (message);
    }
  self->unwritten = NULL;
  return g_strv_builder_end (ids);
}

PhIncomingVerdict
ph_delivery_receive (PhDelivery *self, guint64 seq)
{
  g_return_val_if_fail (PH_IS_DELIVERY (self), PH_INCOMING_GAP);

  if (seq > self->received + 1)
    return PH_INCOMING_GAP;
  if (seq <= self->received)
    return PH_INCOMING_COPY;
  self->received = seq;
  return PH_INCOMING_NEW;
}

guint64
ph_delivery_get_received (PhDelivery *self)
{
  g_return_val_if_fail (PH_IS_DELIVERY (self), 0);

  return self->received;
}

static void
ph_delivery_finalize (GObject *object)
{
  PhDelivery *self = PH_DELIVERY (object);

  g_queue_clear_full (&self->outbox, (GDestroyNotify)outgoing_message_free);
  g_hash_table_unref (self->outbox_index);

  G_OBJECT_CLASS (ph_delivery_parent_class)->finalize (object);
}

static void
ph_delivery_class_init (PhDeliveryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ph_delivery_finalize;
}

static void
ph_delivery_init (PhDelivery *self)
{
  g_queue_init (&self->outbox);
  self->outbox_index = g_hash_table_new (g_str_hash, g_str_equal);
}

PhDelivery *
ph_delivery_new (void)
{
  return g_object_new (PH_TYPE_DELIVERY, NULL);
}
