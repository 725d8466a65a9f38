/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-reconnection"

#include "config.h"

#include "ph-reconnection.h"
#include "ph-timer.h"

struct _PhReconnection
{
  GObject parent_instance;

  guint give_up_ms;
  guint attempt_timeout_ms;
  guint retry_ms;
  GMainContext *context;

  guint64 attempt;
  guint64 peer_attempt;
  gboolean active;
  GSource *deadline_source;
  GSource *attempt_source;
};

G_DEFINE_FINAL_TYPE (PhReconnection, ph_reconnection, G_TYPE_OBJECT)

enum
{
  SIGNAL_ATTEMPT_DUE,
  SIGNAL_GAVE_UP,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
finish (PhReconnection *self)
{
  ph_timer_clear (&self->deadline_source);
  ph_timer_clear (&self->attempt_source);
  self->active = FALSE;
}

/* Each handler runs last in its callback: the owner may start another
 * attempt, stop, or drop the object from it. */
static gboolean
attempt_due_cb (gpointer user_data)
{
  PhReconnection *self = user_data;

  ph_timer_clear (&self->attempt_source);
  g_signal_emit (self, signals[SIGNAL_ATTEMPT_DUE], 0, ph_reconnection_next_attempt (self));
  return G_SOURCE_REMOVE;
}

static gboolean
deadline_cb (gpointer user_data)
{
  PhReconnection *self = user_data;

  g_debug ("No path to the peer for %u ms (last attempt %" G_GUINT64_FORMAT "); giving up",
           self->give_up_ms, self->attempt);
  finish (self);
  g_signal_emit (self, signals[SIGNAL_GAVE_UP], 0);
  return G_SOURCE_REMOVE;
}

static void
arm_attempt_timer (PhReconnection *self, guint ms)
{
  ph_timer_clear (&self->attempt_source);
  self->attempt_source
      = ph_timer_start (self->context, ms, attempt_due_cb, self, "[pinhole] reconnection attempt");
}

PhReconnection *
ph_reconnection_new (guint give_up_ms, guint attempt_timeout_ms, guint retry_ms)
{
  PhReconnection *self;

  g_return_val_if_fail (give_up_ms > 0, NULL);
  g_return_val_if_fail (attempt_timeout_ms > 0, NULL);
  g_return_val_if_fail (retry_ms > 0, NULL);

  self = g_object_new (PH_TYPE_RECONNECTION, NULL);
  self->give_up_ms = give_up_ms;
  self->attempt_timeout_ms = attempt_timeout_ms;
  self->retry_ms = retry_ms;
  return self;
}

guint64
ph_reconnection_get_attempt (PhReconnection *self)
{
  g_return_val_if_fail (PH_IS_RECONNECTION (self), 0);

  return self->attempt;
}

guint64
ph_reconnection_get_peer_attempt (PhReconnection *self)
{
  g_return_val_if_fail (PH_IS_RECONNECTION (self), 0);

  return self->peer_attempt;
}

void
ph_reconnection_set_peer_attempt (PhReconnection *self, guint64 attempt)
{
  g_return_if_fail (PH_IS_RECONNECTION (self));

  self->peer_attempt = MAX (self->peer_attempt, attempt);
}

guint64
ph_reconnection_next_attempt (PhReconnection *self)
{
  g_return_val_if_fail (PH_IS_RECONNECTION (self), 0);

  return MAX (self->attempt, self->peer_attempt) + 1;
}

gboolean
ph_reconnection_is_active (PhReconnection *self)
{
  g_return_val_if_fail (PH_IS_RECONNECTION (self), FALSE);

  return self->active;
}

void
ph_reconnection_begin (PhReconnection *self)
{
  g_return_if_fail (PH_IS_RECONNECTION (self));

  self->active = TRUE;
  /* A path that breaks again while it is being mended gets no more time. */
  if (self->deadline_source == NULL)
    self->deadline_source = ph_timer_start (self->context, self->give_up_ms, deadline_cb, self,
                                            "[pinhole] reconnection deadline");
}

void
ph_reconnection_start_attempt (PhReconnection *self, guint64 attempt)
{
  g_return_if_fail (PH_IS_RECONNECTION (self));
  g_return_if_fail (attempt > 0);

  g_debug ("Attempt %" G_GUINT64_FORMAT, attempt);
  self->attempt = attempt;
  if (self->active)
    arm_attempt_timer (self, self->attempt_timeout_ms);
}

void
ph_reconnection_retry_soon (PhReconnection *self)
{
  g_return_if_fail (PH_IS_RECONNECTION (self));

  if (self->active)
    arm_attempt_timer (self, self->retry_ms);
}

void
ph_reconnection_connected (PhReconnection *self)
{
  g_return_if_fail (PH_IS_RECONNECTION (self));

  if (self->active)
    g_debug ("Reconnected (attempt %" G_GUINT64_FORMAT ")", self->attempt);
  finish (self);
}

void
ph_reconnection_stop (PhReconnection *self)
{
  g_return_if_fail (PH_IS_RECONNECTION (self));

  finish (self);
}

guint
ph_reconnection_get_give_up_ms (PhReconnection *self)
{
  g_return_val_if_fail (PH_IS_RECONNECTION (self), 0);

  return self->give_up_ms;
}

guint
ph_reconnection_get_attempt_timeout_ms (PhReconnection *self)
{
  g_return_val_if_fail (PH_IS_RECONNECTION (self), 0);

  return self->attempt_timeout_ms;
}

guint
ph_reconnection_get_retry_ms (PhReconnection *self)
{
  g_return_val_if_fail (PH_IS_RECONNECTION (self), 0);

  return self->retry_ms;
}

static void
ph_reconnection_finalize (GObject *object)
{
  PhReconnection *self = PH_RECONNECTION (object);

  finish (self);
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (ph_reconnection_parent_class)->finalize (object);
}

static void
ph_reconnection_class_init (PhReconnectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ph_reconnection_finalize;

  /* The owner should begin the attempt numbered here:
   * ph_reconnection_next_attempt() when it fired. */
  signals[SIGNAL_ATTEMPT_DUE]
      = g_signal_new ("attempt-due", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_UINT64);
  /* The deadline passed without a connection; the reconnection is over. */
  signals[SIGNAL_GAVE_UP] = g_signal_new ("gave-up", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
ph_reconnection_init (PhReconnection *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->attempt = 1;
}
