/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Tells its owner when a connected path may have broken under it: the
 * machine's network changed (GNetworkMonitor) or the machine woke from
 * sleep (logind's PrepareForSleep(false) on the system bus). */

#define PH_TYPE_SYSTEM_WATCH (ph_system_watch_get_type ())
G_DECLARE_FINAL_TYPE (PhSystemWatch, ph_system_watch, PH, SYSTEM_WATCH, GObject)

/* Signals:
 *  "changed" (const char *why): a sentence for the log, "The network
 *    changed" or "The machine woke up".
 *
 * Properties (construct-only):
 *  "network-monitor": the monitor watched; NULL at construction means
 *    g_network_monitor_get_default ();
 *  "system-bus": the bus logind is heard on; NULL at construction means the
 *    system bus, looked up asynchronously: the property stays NULL (and a
 *    resume goes unnoticed) until it answers, then is notified. A watch
 *    finalized before the answer is neither kept alive nor called. */

/* @monitor: NULL for g_network_monitor_get_default ().
 * @system_bus: NULL to get the system bus asynchronously. */
PhSystemWatch *ph_system_watch_new (GNetworkMonitor *monitor, GDBusConnection *system_bus);

G_END_DECLS
