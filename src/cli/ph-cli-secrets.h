/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Secrets pinhole-cli reads (a TURN password, a code, a backup's
 * passphrase): never from an argument, which `ps` shows, and wiped from
 * memory when freed. */

/* Wipes @secret, then frees it. */
void ph_cli_secret_free (char *secret);

typedef char PhCliSecret;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhCliSecret, ph_cli_secret_free)

/* The first line of @path, without its newline. */
char *ph_cli_read_secret_file (const char *path, GError **error);
/* The first line of @passphrase_file, else typed on the terminal without
 * echo (twice when @twice), else the first line of standard input. */
char *ph_cli_read_passphrase (const char *passphrase_file, gboolean twice, GError **error);

G_END_DECLS
