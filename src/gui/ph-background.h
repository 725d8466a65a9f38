/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Running with the window closed ("run-in-background"): the desktop is
 * asked, through the Background portal (libportal), to let Pinhole run
 * without a window, once per process. A desktop without the portal (or
 * one that says no) is noted in the log; the app keeps running all the
 * same, until it is quit. */
void ph_background_request (GtkWindow *parent);

G_END_DECLS
