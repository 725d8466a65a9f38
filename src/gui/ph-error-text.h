/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What the app tells a person when a chat fails: a short title and a
 * sentence that says what to do, both translated, for each PhError. */
void ph_error_text_get (const GError *error, const char **out_title, const char **out_advice);

G_END_DECLS
