/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-system-watch"

#include "config.h"

#include <gio/gio.h>

#include "ph-system-watch.h"
#include "ph-test-wait.h"

#define LOGIND_NAME "org.freedesktop.login1"
#define LOGIND_PATH "/org/freedesktop/login1"
#define LOGIND_MANAGER_INTERFACE "org.freedesktop.login1.Manager"

/* The test's own signal, sent after the ones under test: the bus keeps a
 * sender's messages in order, so once it arrives they have too. */
#define MARKER_INTERFACE "org.gnome.Pinhole.Test"
#define MARKER_PATH "/org/gnome/Pinhole/Test"

#define NETWORK_CHANGED "The network changed"
#define WOKE_UP "The machine woke up"

/* Anything that takes longer than this has hung. */
static guint
deadline_ms (void)
{
  return ph_test_scaled_ms (5000);
}

/* A network monitor of the test's own, so the real one's changes on this
 * machine cannot add to what a test counts. */
#define TEST_TYPE_MONITOR (test_monitor_get_type ())
G_DECLARE_FINAL_TYPE (TestMonitor, test_monitor, TEST, MONITOR, GObject)

struct _TestMonitor
{
  GObject parent_instance;
};

enum
{
  MONITOR_PROP_0,
  MONITOR_PROP_NETWORK_AVAILABLE,
  MONITOR_PROP_NETWORK_METERED,
  MONITOR_PROP_CONNECTIVITY,
};

static gboolean
test_monitor_initable_init (GInitable *initable, GCancellable *cancellable, GError **error)
{
  return TRUE;
}

static void
test_monitor_initable_iface_init (GInitableIface *iface)
{
  iface->init = test_monitor_initable_init;
}

static void
test_monitor_iface_init (GNetworkMonitorInterface *iface)
{
}

G_DEFINE_FINAL_TYPE_WITH_CODE (TestMonitor, test_monitor, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      test_monitor_initable_iface_init)
                                   G_IMPLEMENT_INTERFACE (G_TYPE_NETWORK_MONITOR,
                                                          test_monitor_iface_init))

static void
test_monitor_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  switch (prop_id)
    {
    case MONITOR_PROP_NETWORK_AVAILABLE:
      g_value_set_boolean (value, TRUE);
      break;
    case MONITOR_PROP_NETWORK_METERED:
      g_value_set_boolean (value, FALSE);
      break;
    case MONITOR_PROP_CONNECTIVITY:
      g_value_set_enum (value, G_NETWORK_CONNECTIVITY_FULL);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
test_monitor_class_init (TestMonitorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = test_monitor_get_property;
  g_object_class_override_property (object_class, MONITOR_PROP_NETWORK_AVAILABLE,
                                    "network-available");
  g_object_class_override_property (object_class, MONITOR_PROP_NETWORK_METERED, "network-metered");
  g_object_class_override_property (object_class, MONITOR_PROP_CONNECTIVITY, "connectivity");
}

static void
test_monitor_init (TestMonitor *self)
{
}

/* A private message bus playing the system bus, shared by all tests: the
 * watch's connection, one that owns logind's name, and one that does not.
 * One daemon for the program, started before any other: GTestDBus's
 * clean-up process is forked at the first daemon, and a daemon spawned
 * after it keeps its pipe open, so a failed test would leave both behind. */
typedef struct
{
  GTestDBus *dbus;
  GDBusConnection *bus;
  GDBusConnection *logind;
  GDBusConnection *impostor;
} SystemBus;

static SystemBus system_bus;

typedef struct
{
  GDBusConnection *bus;
  GDBusConnection *logind;
  GDBusConnection *impostor;
  GNetworkMonitor *monitor;
  guint marker_subscription;
  guint32 markers_sent;
  guint32 markers_seen;
  GPtrArray *changes; /* the "why" of every "changed", in order */
} Fixture;

static GDBusConnection *
connect_to_system_bus (void)
{
  g_autoptr (GError) error = NULL;
  GDBusConnection *connection = g_dbus_connection_new_for_address_sync (
      g_test_dbus_get_bus_address (system_bus.dbus),
      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT
          | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
      NULL, NULL, &error);

  g_assert_no_error (error);
  return connection;
}

static void
system_bus_up (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  guint32 answer;

  system_bus.dbus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (system_bus.dbus);
  system_bus.bus = connect_to_system_bus ();
  system_bus.logind = connect_to_system_bus ();
  system_bus.impostor = connect_to_system_bus ();

  reply = g_dbus_connection_call_sync (
      system_bus.logind, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
      "RequestName", g_variant_new ("(su)", LOGIND_NAME, 4 /* DBUS_NAME_FLAG_DO_NOT_QUEUE */),
      G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(u)", &answer);
  g_assert_cmpuint (answer, ==, 1 /* DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER */);
}

static void
system_bus_down (void)
{
  g_clear_object (&system_bus.impostor);
  g_clear_object (&system_bus.logind);
  g_clear_object (&system_bus.bus);
  g_test_dbus_down (system_bus.dbus);
  g_clear_object (&system_bus.dbus);
}

/* Messages from one connection are handled by the bus in order: after
 * this answer, every match rule @connection added before is in place. */
static void
round_trip (GDBusConnection *connection)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = g_dbus_connection_call_sync (
      connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetId",
      NULL, G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);

  g_assert_no_error (error);
}

static void
marker_cb (GDBusConnection *connection, const char *sender_name, const char *object_path,
           const char *interface_name, const char *signal_name, GVariant *parameters,
           gpointer user_data)
{
  Fixture *fixture = user_data;

  g_variant_get (parameters, "(u)", &fixture->markers_seen);
}

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  fixture->bus = system_bus.bus;
  fixture->logind = system_bus.logind;
  fixture->impostor = system_bus.impostor;
  fixture->monitor = g_object_new (TEST_TYPE_MONITOR, NULL);
  fixture->changes = g_ptr_array_new_with_free_func (g_free);
  fixture->marker_subscription = g_dbus_connection_signal_subscribe (
      fixture->bus, NULL, MARKER_INTERFACE, "Marker", MARKER_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
      marker_cb, fixture, NULL);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  g_dbus_connection_signal_unsubscribe (fixture->bus, fixture->marker_subscription);
  g_clear_pointer (&fixture->changes, g_ptr_array_unref);
  g_assert_finalize_object (fixture->monitor);
}

static void
changed_cb (PhSystemWatch *watch, const char *why, Fixture *fixture)
{
  g_ptr_array_add (fixture->changes, g_strdup (why));
}

static PhSystemWatch *
watch_new (Fixture *fixture, GNetworkMonitor *monitor, GDBusConnection *bus)
{
  PhSystemWatch *watch = ph_system_watch_new (monitor, bus);

  g_signal_connect (watch, "changed", G_CALLBACK (changed_cb), fixture);
  return watch;
}

static void
emit (GDBusConnection *connection, const char *path, const char *interface, const char *name,
      GVariant *parameters)
{
  g_autoptr (GError) error = NULL;

  g_dbus_connection_emit_signal (connection, NULL, path, interface, name, parameters, &error);
  g_assert_no_error (error);
}

static void
emit_prepare_for_sleep (GDBusConnection *connection, gboolean going_to_sleep)
{
  emit (connection, LOGIND_PATH, LOGIND_MANAGER_INTERFACE, "PrepareForSleep",
        g_variant_new ("(b)", going_to_sleep));
}

static gboolean
marker_arrived (gpointer data)
{
  Fixture *fixture = data;

  return fixture->markers_seen == fixture->markers_sent;
}

/* Sends a marker from @connection and waits until it arrives: every signal
 * @connection sent before it has been handled by then. */
static void
wait_for_marker (Fixture *fixture, GDBusConnection *connection)
{
  emit (connection, MARKER_PATH, MARKER_INTERFACE, "Marker",
        g_variant_new ("(u)", ++fixture->markers_sent));
  g_assert_true (ph_test_wait_until (marker_arrived, fixture, deadline_ms ()));
}

static void
assert_changes (Fixture *fixture, const char *const *expected)
{
  g_assert_cmpuint (fixture->changes->len, ==, g_strv_length ((char **)expected));
  for (guint i = 0; expected[i] != NULL; i++)
    g_assert_cmpstr (g_ptr_array_index (fixture->changes, i), ==, expected[i]);
}

static void
test_network_changed (Fixture *fixture, gconstpointer data)
{
  const char *const once[] = { NETWORK_CHANGED, NULL };
  guint network_changed = g_signal_lookup ("network-changed", G_TYPE_NETWORK_MONITOR);
  PhSystemWatch *watch = watch_new (fixture, fixture->monitor, fixture->bus);
  g_autoptr (GNetworkMonitor) monitor = NULL;

  g_object_get (watch, "network-monitor", &monitor, NULL);
  g_assert_true (monitor == fixture->monitor);

  g_signal_emit_by_name (fixture->monitor, "network-changed", TRUE);
  assert_changes (fixture, once);

  /* Gone with the watch: the monitor calls nobody. */
  g_assert_finalize_object (watch);
  g_assert_false (g_signal_has_handler_pending (fixture->monitor, network_changed, 0, FALSE));
}

static void
test_default_monitor (Fixture *fixture, gconstpointer data)
{
  GNetworkMonitor *default_monitor = g_network_monitor_get_default ();
  PhSystemWatch *watch = watch_new (fixture, NULL, fixture->bus);
  g_autoptr (GNetworkMonitor) monitor = NULL;

  g_object_get (watch, "network-monitor", &monitor, NULL);
  g_assert_true (monitor == default_monitor);

  /* The machine's own network may change during the test too: every
   * change counts as one, and ours is among them. */
  g_signal_emit_by_name (default_monitor, "network-changed", TRUE);
  g_assert_cmpuint (fixture->changes->len, >=, 1);
  for (guint i = 0; i < fixture->changes->len; i++)
    g_assert_cmpstr (g_ptr_array_index (fixture->changes, i), ==, NETWORK_CHANGED);

  g_clear_object (&monitor);
  g_assert_finalize_object (watch);
}

static void
test_woke_up (Fixture *fixture, gconstpointer data)
{
  const char *const once[] = { WOKE_UP, NULL };
  PhSystemWatch *watch = watch_new (fixture, fixture->monitor, fixture->bus);
  g_autoptr (GDBusConnection) bus = NULL;

  g_object_get (watch, "system-bus", &bus, NULL);
  g_assert_true (bus == fixture->bus);
  round_trip (fixture->bus);

  emit_prepare_for_sleep (fixture->logind, FALSE);
  wait_for_marker (fixture, fixture->logind);
  assert_changes (fixture, once);

  g_clear_object (&bus);
  g_assert_finalize_object (watch);

  /* Unsubscribed: a resume after the watch is gone reaches nobody (under
   * ASan or valgrind a call into the freed watch would show). */
  emit_prepare_for_sleep (fixture->logind, FALSE);
  wait_for_marker (fixture, fixture->logind);
  assert_changes (fixture, once);
}

/* Each case is followed by a resume that does count, so a watch that
 * heard nothing at all would fail here too. */
static void
test_not_a_resume (Fixture *fixture, gconstpointer data)
{
  const char *const once[] = { WOKE_UP, NULL };
  const char *const none[] = { NULL };
  PhSystemWatch *watch = watch_new (fixture, fixture->monitor, fixture->bus);

  round_trip (fixture->bus);

  emit_prepare_for_sleep (fixture->logind, TRUE);
  wait_for_marker (fixture, fixture->logind);
  assert_changes (fixture, none);

  /* The wrong type, and no arguments at all. */
  emit (fixture->logind, LOGIND_PATH, LOGIND_MANAGER_INTERFACE, "PrepareForSleep",
        g_variant_new ("(s)", "false"));
  emit (fixture->logind, LOGIND_PATH, LOGIND_MANAGER_INTERFACE, "PrepareForSleep", NULL);
  wait_for_marker (fixture, fixture->logind);
  assert_changes (fixture, none);

  /* Another object than logind's manager. */
  emit (fixture->logind, "/org/freedesktop/login1/session/self", LOGIND_MANAGER_INTERFACE,
        "PrepareForSleep", g_variant_new ("(b)", FALSE));
  wait_for_marker (fixture, fixture->logind);
  assert_changes (fixture, none);

  emit_prepare_for_sleep (fixture->logind, FALSE);
  wait_for_marker (fixture, fixture->logind);
  assert_changes (fixture, once);

  g_assert_finalize_object (watch);
}

static void
test_impostor (Fixture *fixture, gconstpointer data)
{
  const char *const once[] = { WOKE_UP, NULL };
  const char *const none[] = { NULL };
  PhSystemWatch *watch = watch_new (fixture, fixture->monitor, fixture->bus);

  round_trip (fixture->bus);

  emit_prepare_for_sleep (fixture->impostor, FALSE);
  wait_for_marker (fixture, fixture->impostor);
  assert_changes (fixture, none);

  emit_prepare_for_sleep (fixture->logind, FALSE);
  wait_for_marker (fixture, fixture->logind);
  assert_changes (fixture, once);

  g_assert_finalize_object (watch);
}

static void
system_bus_notify_cb (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  gboolean *notified = user_data;

  *notified = TRUE;
}

static gboolean
changed_once (gpointer data)
{
  Fixture *fixture = data;

  return fixture->changes->len >= 1;
}

/* With no bus given the watch finds the system bus itself: here the
 * private bus stands in for it. */
static void
test_system_bus_looked_up (Fixture *fixture, gconstpointer data)
{
  const char *const once[] = { WOKE_UP, NULL };
  PhSystemWatch *abandoned;
  PhSystemWatch *watch;
  g_autoptr (GDBusConnection) bus = NULL;
  gboolean notified = FALSE;

  g_setenv ("DBUS_SYSTEM_BUS_ADDRESS", g_test_dbus_get_bus_address (system_bus.dbus), TRUE);

  /* Finalized while the lookup is under way: not kept alive by it, and
   * not called when it ends. */
  abandoned = watch_new (fixture, fixture->monitor, NULL);
  g_object_get (abandoned, "system-bus", &bus, NULL);
  g_assert_null (bus);
  g_assert_finalize_object (abandoned);

  watch = watch_new (fixture, fixture->monitor, NULL);
  g_signal_connect (watch, "notify::system-bus", G_CALLBACK (system_bus_notify_cb), &notified);
  g_assert_true (ph_test_wait_for_flag (&notified, deadline_ms ()));
  g_object_get (watch, "system-bus", &bus, NULL);
  g_assert_nonnull (bus);
  /* The singleton would end the test process when the bus goes away. */
  g_dbus_connection_set_exit_on_close (bus, FALSE);
  round_trip (bus);

  emit_prepare_for_sleep (fixture->logind, FALSE);
  g_assert_true (ph_test_wait_until (changed_once, fixture, deadline_ms ()));
  assert_changes (fixture, once);

  g_assert_finalize_object (watch);
  g_dbus_connection_close_sync (bus, NULL, NULL);
  g_unsetenv ("DBUS_SYSTEM_BUS_ADDRESS");
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  system_bus_up ();

  g_test_add ("/system-watch/network-changed", Fixture, NULL, fixture_set_up, test_network_changed,
              fixture_tear_down);
  g_test_add ("/system-watch/default-monitor", Fixture, NULL, fixture_set_up, test_default_monitor,
              fixture_tear_down);
  g_test_add ("/system-watch/woke-up", Fixture, NULL, fixture_set_up, test_woke_up,
              fixture_tear_down);
  g_test_add ("/system-watch/not-a-resume", Fixture, NULL, fixture_set_up, test_not_a_resume,
              fixture_tear_down);
  g_test_add ("/system-watch/impostor", Fixture, NULL, fixture_set_up, test_impostor,
              fixture_tear_down);
  g_test_add ("/system-watch/system-bus-looked-up", Fixture, NULL, fixture_set_up,
              test_system_bus_looked_up, fixture_tear_down);

  status = g_test_run ();
  system_bus_down ();
  return status;
}
