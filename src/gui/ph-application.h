/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "ph-session.h"

G_BEGIN_DECLS

/* The app: one instance per profile (`--profile NAME` or $PINHOLE_PROFILE,
 * so two can run side by side), its PhSession, app-wide actions
 * (preferences, about, style, quit, and host/join for the command line). */

#define PH_TYPE_APPLICATION (ph_application_get_type ())
G_DECLARE_FINAL_TYPE (PhApplication, ph_application, PH, APPLICATION, AdwApplication)

PhApplication *ph_application_new (void);
/* The profile's settings, history and chats; NULL before startup. */
PhSession *ph_application_get_session (PhApplication *self);

G_END_DECLS
