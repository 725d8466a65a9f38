/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Makes @path's folder 0700 and @path 0600 (an empty file when there is
 * none), whatever the umask, and checks the file is so: the profile's
 * databases hold secrets and messages. SQLite gives its -wal and -shm
 * files the database's mode. @what names the file in the G_IO_ERROR, as
 * in "the contact book". */
gboolean ph_private_file_prepare (const char *path, const char *what, GError **error);

G_END_DECLS
