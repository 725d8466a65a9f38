/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-keepalive"

#include "config.h"

#include "ph-keepalive.h"
#include "ph-timer.h"

struct _PhKeepalive
{
  GObject parent_instance;

  guint interval_ms;
  guint silence_ms;
  guint probe_ms;
  GMainContext *context;

  gboolean running;
  GSource *tick_source;
  GSource *probe_source; /* while a probe waits for an answer */
  gint64 last_heard;

  guint64 last_ping_id;   /* ids are never reused, not even across restarts */
  guint64 latest_ping_id; /* 0: none sent since start, or already answered */
  gint64 latest_ping_sent;
  double round_trip_ms;
};

G_DEFINE_FINAL_TYPE (PhKeepalive, ph_keepalive, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_ROUND_TRIP_MS,
  N_PROPS
};

enum
{
  SIGNAL_PING,
  SIGNAL_PEER_SILENT,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void
stop_timers (PhKeepalive *self)
{
  ph_timer_clear (&self->tick_source);
  ph_timer_clear (&self->probe_source);
}

/* Everything is recorded before the emission: a handler may stop, restart
 * or drop the keepalive, so the caller must not touch @self after it. */
static void
send_ping (PhKeepalive *self)
{
  guint64 id = ++self->last_ping_id;

  self->latest_ping_id = id;
  self->latest_ping_sent = g_get_monotonic_time ();
  g_signal_emit (self, signals[SIGNAL_PING], 0, id);
}

/* Stops first, so that a handler may start the keepalive again. */
static void
go_silent (PhKeepalive *self)
{
  g_debug ("The peer has been silent for %.1f s",
           (g_get_monotonic_time () - self->last_heard) / (double)G_USEC_PER_SEC);
  ph_keepalive_stop (self);
  g_signal_emit (self, signals[SIGNAL_PEER_SILENT], 0);
}

static gboolean
tick_cb (gpointer user_data)
{
  PhKeepalive *self = user_data;
  gint64 silence = g_get_monotonic_time () - self->last_heard;

  /* Returning after a handler dropped the source (or @self) is safe: a
   * destroyed source is not dispatched again. */
  if (silence >= (gint64)self->silence_ms * 1000)
    {
      go_silent (self);
      return G_SOURCE_REMOVE;
    }
  send_ping (self);
  return G_SOURCE_CONTINUE;
}

/* Only reached when nothing was heard since the probe (see heard). */
static gboolean
probe_timeout_cb (gpointer user_data)
{
  PhKeepalive *self = user_data;

  go_silent (self);
  return G_SOURCE_REMOVE;
}

PhKeepalive *
ph_keepalive_new (guint interval_ms, guint silence_ms, guint probe_ms)
{
  PhKeepalive *self;

  g_return_val_if_fail (interval_ms > 0, NULL);
  g_return_val_if_fail (silence_ms > 0, NULL);
  g_return_val_if_fail (probe_ms > 0, NULL);

  self = g_object_new (PH_TYPE_KEEPALIVE, NULL);
  self->interval_ms = interval_ms;
  self->silence_ms = silence_ms;
  self->probe_ms = probe_ms;
  return self;
}

void
ph_keepalive_start (PhKeepalive *self)
{
  g_return_if_fail (PH_IS_KEEPALIVE (self));

  stop_timers (self);
  self->running = TRUE;
  self->last_heard = g_get_monotonic_time ();
  self->latest_ping_id = 0;
  self->tick_source = ph_timer_start (self->context, self->interval_ms, tick_cb, self,
                                      "[pinhole] keepalive ping");
}

void
ph_keepalive_stop (PhKeepalive *self)
{
  g_return_if_fail (PH_IS_KEEPALIVE (self));

  stop_timers (self);
  self->running = FALSE;
  /* An answer that comes after this changes nothing. */
  self->latest_ping_id = 0;
}

gboolean
ph_keepalive_is_running (PhKeepalive *self)
{
  g_return_val_if_fail (PH_IS_KEEPALIVE (self), FALSE);

  return self->running;
}

void
ph_keepalive_heard (PhKeepalive *self)
{
  g_return_if_fail (PH_IS_KEEPALIVE (self));

  self->last_heard = g_get_monotonic_time ();
  ph_timer_clear (&self->probe_source);
}

void
ph_keepalive_pong_received (PhKeepalive *self, guint64 ping_id)
{
  double round_trip_ms;

  g_return_if_fail (PH_IS_KEEPALIVE (self));

  ph_keepalive_heard (self);
  if (ping_id == 0 || ping_id != self->latest_ping_id)
    return;

  /* A second answer to the same ping would measure nothing. */
  self->latest_ping_id = 0;
  round_trip_ms = (self->last_heard - self->latest_ping_sent) / 1000.0;
  if (round_trip_ms == self->round_trip_ms)
    return;
  self->round_trip_ms = round_trip_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ROUND_TRIP_MS]);
}

void
ph_keepalive_probe (PhKeepalive *self)
{
  g_return_if_fail (PH_IS_KEEPALIVE (self));

  if (!self->running)
    return;

  g_debug ("Probing the peer; silent after %u ms without an answer", self->probe_ms);
  ph_timer_clear (&self->probe_source);
  self->probe_source = ph_timer_start (self->context, self->probe_ms, probe_timeout_cb, self,
                                       "[pinhole] keepalive probe");
  send_ping (self);
}

double
ph_keepalive_get_round_trip_ms (PhKeepalive *self)
{
  g_return_val_if_fail (PH_IS_KEEPALIVE (self), -1);

  return self->round_trip_ms;
}

guint
ph_keepalive_get_interval_ms (PhKeepalive *self)
{
  g_return_val_if_fail (PH_IS_KEEPALIVE (self), 0);

  return self->interval_ms;
}

guint
ph_keepalive_get_silence_ms (PhKeepalive *self)
{
  g_return_val_if_fail (PH_IS_KEEPALIVE (self), 0);

  return self->silence_ms;
}

guint
ph_keepalive_get_probe_ms (PhKeepalive *self)
{
  g_return_val_if_fail (PH_IS_KEEPALIVE (self), 0);

  return self->probe_ms;
}

static void
ph_keepalive_finalize (GObject *object)
{
  PhKeepalive *self = PH_KEEPALIVE (object);

  stop_timers (self);
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (ph_keepalive_parent_class)->finalize (object);
}

static void
ph_keepalive_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PhKeepalive *self = PH_KEEPALIVE (object);

  switch (prop_id)
    {
    case PROP_ROUND_TRIP_MS:
      g_value_set_double (value, self->round_trip_ms);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_keepalive_class_init (PhKeepaliveClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ph_keepalive_finalize;
  object_class->get_property = ph_keepalive_get_property;

  /* The time from the latest ping to its answer; -1 until measured. */
  properties[PROP_ROUND_TRIP_MS]
      = g_param_spec_double ("round-trip-ms", NULL, NULL, -1, G_MAXDOUBLE, -1,
                             G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* The owner sends a ping frame with this id (never 0, increasing). */
  signals[SIGNAL_PING] = g_signal_new ("ping", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                       NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT64);
  /* Emitted once; the keepalive is stopped by then. */
  signals[SIGNAL_PEER_SILENT]
      = g_signal_new ("peer-silent", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 0);
}

static void
ph_keepalive_init (PhKeepalive *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->round_trip_ms = -1;
}
