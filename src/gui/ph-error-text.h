/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What the app tells a person when a chat fails: a short title, a
 * sentence that says what to do (both translated) and an icon, for each
 * PhError. */
void ph_error_text_get (const GError *error, const char **out_title, const char **out_advice,
                        const char **out_icon_name);

G_END_DECLS
