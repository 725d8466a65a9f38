/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

#include "ph-gui-enums.h"

G_BEGIN_DECLS

/* Where a message is on its way. Only outgoing messages move: a received
 * message is always PH_MESSAGE_STATE_RECEIVED. */
typedef enum
{
  PH_MESSAGE_STATE_SENDING,   /* queued until the channel is open */
  PH_MESSAGE_STATE_SENT,      /* on the channel; the peer has not acknowledged it yet */
  PH_MESSAGE_STATE_WAITING,   /* the contact is offline: a sealed copy waits on the server */
  PH_MESSAGE_STATE_DELIVERED, /* the peer's app acknowledged it */
  PH_MESSAGE_STATE_FAILED,    /* the chat ended before the peer acknowledged it */
  PH_MESSAGE_STATE_RECEIVED,
} PhMessageState;

#define PH_TYPE_MESSAGE (ph_message_get_type ())
G_DECLARE_FINAL_TYPE (PhMessage, ph_message, PH, MESSAGE, GObject)

PhMessage *ph_message_new (const char *id, const char *text, gint64 time_ms, gboolean outgoing);
const char *ph_message_get_id (PhMessage *self);
const char *ph_message_get_text (PhMessage *self);
gint64 ph_message_get_time (PhMessage *self);
gboolean ph_message_get_outgoing (PhMessage *self);
PhMessageState ph_message_get_state (PhMessage *self);
void ph_message_set_state (PhMessage *self, PhMessageState state);
/* Why a failed message failed, as a person reads it, or NULL for the usual
 * reason (the chat ended first). Set it before the state. */
const char *ph_message_get_failure_reason (PhMessage *self);
void ph_message_set_failure_reason (PhMessage *self, const char *reason);

G_END_DECLS
