/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-direct-search"

#include "config.h"

#include "ph-direct-search.h"

struct _PhDirectSearch
{
  GObject parent_instance;

  gboolean leader;
  PhIceTransport *ice;
  guint delay_ms;   /* before the next probe */
  guint timer_id;   /* the next probe, when one is due */
  guint64 probe_id; /* the last one we started; never reused in a chat */
  gboolean probing; /* a probe of ours is under way */
};

enum
{
  SIGNAL_SEND_FRAME,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PhDirectSearch, ph_direct_search, G_TYPE_OBJECT)

static gboolean
is_relayed (PhDirectSearch *self)
{
  g_autoptr (PhPath) path = ph_ice_transport_get_path (self->ice);

  return path != NULL && path->relayed;
}

static gboolean probe_due_cb (gpointer user_data);

static void
schedule (PhDirectSearch *self)
{
  if (!self->leader || self->probing || self->timer_id != 0 || !is_relayed (self))
    return;
  g_debug ("Relayed: looking for a direct path in %u ms", self->delay_ms);
  self->timer_id = g_timeout_add (self->delay_ms, probe_due_cb, self);
}

/* After a probe that found nothing, or could not start. */
static void
back_off (PhDirectSearch *self)
{
  self->probing = FALSE;
  self->delay_ms = MIN (self->delay_ms * 2, PH_DIRECT_SEARCH_MAX_DELAY_MS);
  schedule (self);
}

static gboolean
probe_due_cb (gpointer user_data)
{
  PhDirectSearch *self = user_data;

  self->timer_id = 0;
  self->probing = ph_ice_transport_start_probe (self->ice, ++self->probe_id);
  if (!self->probing)
    back_off (self);
  return G_SOURCE_REMOVE;
}

static void
probe_ready_cb (PhIceTransport *ice, guint64 probe_id, const char *ufrag, const char *pwd,
                const char *const *candidates, PhDirectSearch *self)
{
  g_autoptr (PhFrame) frame = ph_frame_new_probe (probe_id, ufrag, pwd, candidates);

  g_signal_emit (self, signals[SIGNAL_SEND_FRAME], 0, frame);
}

static void
probe_failed_cb (PhIceTransport *ice, guint64 probe_id, PhDirectSearch *self)
{
  if (self->leader && probe_id == self->probe_id)
    back_off (self);
}

static void
path_changed_cb (PhIceTransport *ice, const PhPath *path, PhDirectSearch *self)
{
  if (path->relayed)
    {
      schedule (self);
      return;
    }
  g_debug ("The path is direct; the search is over");
  self->probing = FALSE;
  g_clear_handle_id (&self->timer_id, g_source_remove);
}

void
ph_direct_search_stop (PhDirectSearch *self)
{
  g_return_if_fail (PH_IS_DIRECT_SEARCH (self));

  g_clear_handle_id (&self->timer_id, g_source_remove);
  self->probing = FALSE;
  if (self->ice == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->ice, self);
  ph_ice_transport_stop_probe (self->ice);
  g_clear_object (&self->ice);
}

void
ph_direct_search_start (PhDirectSearch *self, PhIceTransport *ice)
{
  g_return_if_fail (PH_IS_DIRECT_SEARCH (self));
  g_return_if_fail (PH_IS_ICE_TRANSPORT (ice));

  ph_direct_search_stop (self);
  self->ice = g_object_ref (ice);
  self->delay_ms = PH_DIRECT_SEARCH_FIRST_DELAY_MS;
  g_signal_connect (ice, "probe-ready", G_CALLBACK (probe_ready_cb), self);
  g_signal_connect (ice, "probe-failed", G_CALLBACK (probe_failed_cb), self);
  g_signal_connect (ice, "path-changed", G_CALLBACK (path_changed_cb), self);
  schedule (self);
}

void
ph_direct_search_handle_frame (PhDirectSearch *self, const PhFrame *frame)
{
  g_autoptr (GError) error = NULL;

  g_return_if_fail (PH_IS_DIRECT_SEARCH (self));
  g_return_if_fail (frame != NULL && frame->type == PH_FRAME_PROBE);

  /* A bad probe costs the peer its direct path, not the chat. */
  if (self->ice != NULL
      && !ph_ice_transport_set_probe_peer (self->ice, frame->probe_id, frame->ufrag, frame->pwd,
                                           (const char *const *)frame->candidates, &error))
    g_debug ("Ignoring the peer’s probe %" G_GUINT64_FORMAT ": %s", frame->probe_id,
             error->message);
}

static void
ph_direct_search_dispose (GObject *object)
{
  ph_direct_search_stop (PH_DIRECT_SEARCH (object));

  G_OBJECT_CLASS (ph_direct_search_parent_class)->dispose (object);
}

static void
ph_direct_search_class_init (PhDirectSearchClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ph_direct_search_dispose;

  signals[SIGNAL_SEND_FRAME]
      = g_signal_new ("send-frame", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
}

static void
ph_direct_search_init (PhDirectSearch *self)
{
  self->delay_ms = PH_DIRECT_SEARCH_FIRST_DELAY_MS;
}

PhDirectSearch *
ph_direct_search_new (gboolean leader)
{
  PhDirectSearch *self = g_object_new (PH_TYPE_DIRECT_SEARCH, NULL);

  self->leader = leader;
  return self;
}
