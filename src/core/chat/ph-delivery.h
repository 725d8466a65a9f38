/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* Delivery bookkeeping of one conversation, both ways: the outbox of what
 * the peer has not acknowledged yet, and the numbering of what the peer
 * delivered to us. No I/O: the conversation writes the frames. */

typedef struct
{
  char *id;       /* random UUID, also the history's key */
  guint64 seq;    /* 1, 2, 3… in the order of sending */
  gint64 time_ms; /* wall clock, when it was written */
  char *text;
} PhOutgoingMessage;

typedef enum
{
  PH_INCOMING_NEW,  /* the next number: show it */
  PH_INCOMING_COPY, /* seen already (written again after a reconnection) */
  PH_INCOMING_GAP,  /* numbers were skipped: only a broken peer does that */
} PhIncomingVerdict;

#define PH_TYPE_DELIVERY (ph_delivery_get_type ())
G_DECLARE_FINAL_TYPE (PhDelivery, ph_delivery, PH, DELIVERY, GObject)

PhDelivery *ph_delivery_new (void);

/* Queues @text as the next message; the outbox owns what it returns. */
const PhOutgoingMessage *ph_delivery_queue (PhDelivery *self, const char *text, gint64 time_ms);
/* The same with the id the message already has (a copy of it went
 * another way, see ph-sealed-mail.h). */
const PhOutgoingMessage *ph_delivery_queue_with_id (PhDelivery *self, const char *id,
                                                    const char *text, gint64 time_ms);
/* The oldest message not written on the current channel yet, now counted
 * as written; NULL when all are. */
const PhOutgoingMessage *ph_delivery_next_unwritten (PhDelivery *self);
/* A new channel: what the peer has not acknowledged may have been lost
 * with the old one, so all of it is to be written again, in order. */
void ph_delivery_rewind (PhDelivery *self);
/* The peer acknowledged @id: it leaves the outbox. FALSE for an id that is
 * not waiting (a second acknowledgement of the same message). */
gboolean ph_delivery_acknowledge (PhDelivery *self, const char *id);
guint ph_delivery_get_unacknowledged (PhDelivery *self);
/* Empties the outbox, oldest first: the ids of what was never delivered. */
GStrv ph_delivery_drain (PhDelivery *self);

/* What to do with the peer's message number @seq; NEW advances the count. */
PhIncomingVerdict ph_delivery_receive (PhDelivery *self, guint64 seq);
/* The highest number the peer delivered in order; 0 before any. */
guint64 ph_delivery_get_received (PhDelivery *self);

G_END_DECLS
