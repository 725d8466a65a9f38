/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-system-watch"

#include "config.h"

#include "ph-system-watch.h"

#define LOGIND_NAME "org.freedesktop.login1"
#define LOGIND_PATH "/org/freedesktop/login1"
#define LOGIND_MANAGER_INTERFACE "org.freedesktop.login1.Manager"

struct _PhSystemWatch
{
  GObject parent_instance;

  GNetworkMonitor *monitor;
  gulong network_changed_id;

  GDBusConnection *system_bus;
  guint sleep_subscription;
  /* TRUE while the system bus is being looked up; dispose clears it, so
   * an answer after it is dropped. The lookup is not cancelled: the bus is
   * a process-wide singleton, and cancelling its set-up would fail it for
   * every other object waiting on it. */
  gboolean looking_up_bus;
};

G_DEFINE_FINAL_TYPE (PhSystemWatch, ph_system_watch, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_NETWORK_MONITOR,
  PROP_SYSTEM_BUS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  SIGNAL_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
network_changed_cb (GNetworkMonitor *monitor, gboolean available, PhSystemWatch *self)
{
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0, "The network changed");
}

static void
prepare_for_sleep_cb (GDBusConnection *connection, const char *sender_name, const char *object_path,
                      const char *interface_name, const char *signal_name, GVariant *parameters,
                      gpointer user_data)
{
  PhSystemWatch *self = user_data;
  gboolean going_to_sleep;

  if (!g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(b)")))
    return;
  g_variant_get (parameters, "(b)", &going_to_sleep);
  if (!going_to_sleep)
    g_signal_emit (self, signals[SIGNAL_CHANGED], 0, "The machine woke up");
}

/* Only logind's own name may wake us: anyone on the bus can send a
 * signal that looks like its PrepareForSleep. */
static void
watch_sleep (PhSystemWatch *self)
{
  g_assert (self->system_bus != NULL);

  self->sleep_subscription = g_dbus_connection_signal_subscribe (
      self->system_bus, LOGIND_NAME, LOGIND_MANAGER_INTERFACE, "PrepareForSleep", LOGIND_PATH, NULL,
      G_DBUS_SIGNAL_FLAGS_NONE, prepare_for_sleep_cb, self, NULL);
}

/* A weak reference: a watch finalized before the bus answers must not be
 * kept alive by the lookup. */
static void
system_bus_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GWeakRef *weak = user_data;
  g_autoptr (PhSystemWatch) self = g_weak_ref_get (weak);
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusConnection) bus = g_bus_get_finish (result, &error);

  g_weak_ref_clear (weak);
  g_free (weak);
  if (self == NULL || !self->looking_up_bus)
    return;
  self->looking_up_bus = FALSE;
  if (bus == NULL)
    {
      g_debug ("No system bus, so a resume from suspend goes unnoticed: %s", error->message);
      return;
    }

  self->system_bus = g_steal_pointer (&bus);
  watch_sleep (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SYSTEM_BUS]);
}

static void
ph_system_watch_constructed (GObject *object)
{
  PhSystemWatch *self = PH_SYSTEM_WATCH (object);

  G_OBJECT_CLASS (ph_system_watch_parent_class)->constructed (object);

  if (self->monitor == NULL)
    self->monitor = g_object_ref (g_network_monitor_get_default ());
  self->network_changed_id
      = g_signal_connect (self->monitor, "network-changed", G_CALLBACK (network_changed_cb), self);

  if (self->system_bus != NULL)
    watch_sleep (self);
  else
    {
      GWeakRef *weak = g_new0 (GWeakRef, 1);

      g_weak_ref_init (weak, self);
      self->looking_up_bus = TRUE;
      g_bus_get (G_BUS_TYPE_SYSTEM, NULL, system_bus_cb, weak);
    }
}

static void
ph_system_watch_dispose (GObject *object)
{
  PhSystemWatch *self = PH_SYSTEM_WATCH (object);

  if (self->monitor != NULL)
    g_clear_signal_handler (&self->network_changed_id, self->monitor);
  g_clear_object (&self->monitor);

  if (self->sleep_subscription != 0)
    g_dbus_connection_signal_unsubscribe (self->system_bus, self->sleep_subscription);
  self->sleep_subscription = 0;
  g_clear_object (&self->system_bus);

  self->looking_up_bus = FALSE;

  G_OBJECT_CLASS (ph_system_watch_parent_class)->dispose (object);
}

static void
ph_system_watch_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PhSystemWatch *self = PH_SYSTEM_WATCH (object);

  switch (prop_id)
    {
    case PROP_NETWORK_MONITOR:
      g_value_set_object (value, self->monitor);
      break;
    case PROP_SYSTEM_BUS:
      g_value_set_object (value, self->system_bus);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_system_watch_set_property (GObject *object, guint prop_id, const GValue *value,
                              GParamSpec *pspec)
{
  PhSystemWatch *self = PH_SYSTEM_WATCH (object);

  switch (prop_id)
    {
    case PROP_NETWORK_MONITOR:
      self->monitor = g_value_dup_object (value);
      break;
    case PROP_SYSTEM_BUS:
      self->system_bus = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_system_watch_class_init (PhSystemWatchClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS
                      | G_PARAM_EXPLICIT_NOTIFY;

  object_class->constructed = ph_system_watch_constructed;
  object_class->dispose = ph_system_watch_dispose;
  object_class->get_property = ph_system_watch_get_property;
  object_class->set_property = ph_system_watch_set_property;

  properties[PROP_NETWORK_MONITOR]
      = g_param_spec_object ("network-monitor", NULL, NULL, G_TYPE_NETWORK_MONITOR, flags);
  properties[PROP_SYSTEM_BUS]
      = g_param_spec_object ("system-bus", NULL, NULL, G_TYPE_DBUS_CONNECTION, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
ph_system_watch_init (PhSystemWatch *self)
{
}

PhSystemWatch *
ph_system_watch_new (GNetworkMonitor *monitor, GDBusConnection *system_bus)
{
  g_return_val_if_fail (monitor == NULL || G_IS_NETWORK_MONITOR (monitor), NULL);
  g_return_val_if_fail (system_bus == NULL || G_IS_DBUS_CONNECTION (system_bus), NULL);

  return g_object_new (PH_TYPE_SYSTEM_WATCH, "network-monitor", monitor, "system-bus", system_bus,
                       NULL);
}
