/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-background"

#include "config.h"

#include <glib/gi18n.h>
#include <libportal-gtk4/portal-gtk4.h>

#include "ph-background.h"

static void
requested_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (XdpPortal) portal = XDP_PORTAL (source);
  g_autoptr (GError) error = NULL;

  if (xdp_portal_request_background_finish (portal, result, &error))
    g_debug ("The desktop lets Pinhole run in the background");
  else
    g_message ("The desktop did not confirm that Pinhole may run in the background (%s); it keeps "
               "running until you quit it",
               error->message);
}

void
ph_background_request (GtkWindow *parent)
{
  static gboolean asked;
  XdpPortal *portal;
  XdpParent *portal_parent;

  g_return_if_fail (GTK_IS_WINDOW (parent));

  if (asked)
    return;
  asked = TRUE;
  portal = xdp_portal_new ();
  portal_parent = xdp_parent_new_gtk (parent);
  xdp_portal_request_background (portal, portal_parent,
                                 (char *)_ ("Pinhole stays reachable by your contacts."), NULL,
                                 XDP_BACKGROUND_FLAG_NONE, NULL, requested_cb, portal);
  xdp_parent_free (portal_parent);
}
