/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "ph-session.h"

G_BEGIN_DECLS

/* The settings a person can change: their name, notifications, the
 * rendezvous server, STUN/TURN servers and the relay policy. The name
 * and the server entries are checked before they are saved. They are the settings of
 * the window's PhSession (construct-only property "session"). */

#define PH_TYPE_PREFERENCES_WINDOW (ph_preferences_window_get_type ())
G_DECLARE_FINAL_TYPE (PhPreferencesWindow, ph_preferences_window, PH, PREFERENCES_WINDOW,
                      AdwPreferencesWindow)

GtkWidget *ph_preferences_window_new (GtkApplication *application, PhSession *session);
/* Why the display name typed was not saved, as shown under it, or NULL. */
const char *ph_preferences_window_get_display_name_error (PhPreferencesWindow *self);
/* The entry for the display name. */
GtkEditable *ph_preferences_window_get_display_name_entry (PhPreferencesWindow *self);
/* The row for the TURN servers; its "apply" saves them. */
AdwEntryRow *ph_preferences_window_get_turn_row (PhPreferencesWindow *self);

G_END_DECLS
