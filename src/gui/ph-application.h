/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "ph-conversation.h"
#include "ph-history.h"

G_BEGIN_DECLS

/* The app: one instance per profile (`--profile NAME` or $PINHOLE_PROFILE,
 * so two can run side by side), its settings, app-wide actions
 * (preferences, about, style, quit, and host/join for the command line). */

#define PH_TYPE_APPLICATION (ph_application_get_type ())
G_DECLARE_FINAL_TYPE (PhApplication, ph_application, PH, APPLICATION, AdwApplication)

PhApplication *ph_application_new (void);
GSettings *ph_application_get_settings (PhApplication *self);
/* A conversation set up from the settings; PH_ERROR_FAILED when a STUN or
 * TURN server in them is malformed. */
PhConversation *ph_application_new_conversation (PhApplication *self, GError **error);
/* Says goodbye to the peer, keeping the app running until that is done. */
void ph_application_leave_conversation (PhApplication *self, PhConversation *conversation);
/* The TURN password from the keyring, kept for new conversations. */
void ph_application_set_turn_password (PhApplication *self, const char *password);
/* The chat history, opened at startup; NULL, with the reason in
 * ph_application_get_history_error (), when it could not be. */
PhHistory *ph_application_get_history (PhApplication *self);
const GError *ph_application_get_history_error (PhApplication *self);

G_END_DECLS
