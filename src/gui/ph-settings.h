/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ph-ice-config.h"

G_BEGIN_DECLS

/* The app's settings (GSettings schema io.github.pinhole.Pinhole) turned
 * into what a conversation needs. The TURN password is not a setting: it
 * lives in the keyring under the libsecret schema below. */

#define PH_TURN_PASSWORD_SCHEMA "io.github.pinhole.Pinhole.TurnPassword"

GSettings *ph_settings_new (void);
/* The name the peer sees: the setting, or the person's real name,
 * without the characters ph_untrusted_text_check_name() refuses. */
char *ph_settings_dup_display_name (GSettings *settings);
char *ph_settings_dup_rendezvous_url (GSettings *settings);
/* PH_ERROR_FAILED naming the server entry that is wrong. */
PhIceConfig *ph_settings_build_ice_config (GSettings *settings, const char *turn_password,
                                           GError **error);

void ph_settings_lookup_turn_password_async (GCancellable *cancellable,
                                             GAsyncReadyCallback callback, gpointer user_data);
/* NULL without an error when no password is stored. */
char *ph_settings_lookup_turn_password_finish (GAsyncResult *result, GError **error);
/* An empty @password removes the stored one. */
void ph_settings_store_turn_password_async (const char *password, GCancellable *cancellable,
                                            GAsyncReadyCallback callback, gpointer user_data);
gboolean ph_settings_store_turn_password_finish (GAsyncResult *result, GError **error);

G_END_DECLS
