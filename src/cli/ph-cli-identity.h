/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* `pinhole-cli identity` (@command NULL): the profile's fingerprint, made
 * on first use; "export" and "import": its backup in @file. Returns the
 * exit status. */
int ph_cli_run_identity (const char *command, const char *file, const char *profile,
                         const char *passphrase_file, gboolean json);

G_END_DECLS
