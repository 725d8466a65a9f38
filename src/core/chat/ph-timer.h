/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Timers of objects that destroy them before they go: the callback gets
 * a plain pointer, since no source can fire on a finalized object. */

/* A timeout of @ms on @context (NULL: the global default), named @name
 * for profilers; the caller keeps the returned reference. */
static inline GSource *
ph_timer_start (GMainContext *context, guint ms, GSourceFunc func, gpointer data, const char *name)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, func, data, NULL);
  g_source_set_static_name (source, name);
  g_source_attach (source, context);
  return source;
}

/* Stops *@source, if any, and drops the reference. */
static inline void
ph_timer_clear (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

G_END_DECLS
