/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-message"

#include "config.h"

#include "ph-message.h"

struct _PhMessage
{
  GObject parent_instance;

  char *id;
  char *text;
  gint64 time_ms;
  gboolean outgoing;
  PhMessageState state;
  char *failure_reason;
};

G_DEFINE_FINAL_TYPE (PhMessage, ph_message, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_ID,
  PROP_TEXT,
  PROP_TIME,
  PROP_OUTGOING,
  PROP_STATE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
ph_message_finalize (GObject *object)
{
  PhMessage *self = PH_MESSAGE (object);

  g_free (self->id);
  g_free (self->text);
  g_free (self->failure_reason);

  G_OBJECT_CLASS (ph_message_parent_class)->finalize (object);
}

static void
ph_message_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PhMessage *self = PH_MESSAGE (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;
    case PROP_TEXT:
      g_value_set_string (value, self->text);
      break;
    case PROP_TIME:
      g_value_set_int64 (value, self->time_ms);
      break;
    case PROP_OUTGOING:
      g_value_set_boolean (value, self->outgoing);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_message_class_init (PhMessageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ph_message_finalize;
  object_class->get_property = ph_message_get_property;

  properties[PROP_ID]
      = g_param_spec_string ("id", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_TEXT]
      = g_param_spec_string ("text", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_TIME] = g_param_spec_int64 ("time", NULL, NULL, 0, G_MAXINT64, 0,
                                              G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_OUTGOING] = g_param_spec_boolean ("outgoing", NULL, NULL, FALSE,
                                                    G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATE]
      = g_param_spec_enum ("state", NULL, NULL, PH_TYPE_MESSAGE_STATE, PH_MESSAGE_STATE_SENDING,
                           G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ph_message_init (PhMessage *self)
{
}

PhMessage *
ph_message_new (const char *id, const char *text, gint64 time_ms, gboolean outgoing)
{
  PhMessage *self;

  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (text != NULL, NULL);

  self = g_object_new (PH_TYPE_MESSAGE, NULL);
  self->id = g_strdup (id);
  self->text = g_strdup (text);
  self->time_ms = time_ms;
  self->outgoing = outgoing;
  self->state = outgoing ? PH_MESSAGE_STATE_SENDING : PH_MESSAGE_STATE_RECEIVED;
  return self;
}

const char *
ph_message_get_id (PhMessage *self)
{
  g_return_val_if_fail (PH_IS_MESSAGE (self), NULL);

  return self->id;
}

const char *
ph_message_get_text (PhMessage *self)
{
  g_return_val_if_fail (PH_IS_MESSAGE (self), NULL);

  return self->text;
}

gint64
ph_message_get_time (PhMessage *self)
{
  g_return_val_if_fail (PH_IS_MESSAGE (self), 0);

  return self->time_ms;
}

gboolean
ph_message_get_outgoing (PhMessage *self)
{
  g_return_val_if_fail (PH_IS_MESSAGE (self), FALSE);

  return self->outgoing;
}

PhMessageState
ph_message_get_state (PhMessage *self)
{
  g_return_val_if_fail (PH_IS_MESSAGE (self), PH_MESSAGE_STATE_SENDING);

  return self->state;
}

void
ph_message_set_state (PhMessage *self, PhMessageState state)
{
  g_return_if_fail (PH_IS_MESSAGE (self));

  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

const char *
ph_message_get_failure_reason (PhMessage *self)
{
  g_return_val_if_fail (PH_IS_MESSAGE (self), NULL);

  return self->failure_reason;
}

void
ph_message_set_failure_reason (PhMessage *self, const char *reason)
{
  g_return_if_fail (PH_IS_MESSAGE (self));

  g_free (self->failure_reason);
  self->failure_reason = g_strdup (reason);
}
