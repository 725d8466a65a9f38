/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Removes @path and, when it is a directory, everything in it. */
void ph_test_remove_tree (const char *path);
/* Copies the files under @from into the folder @to, which exists, with
 * their modes: a profile as someone who takes the disk finds it. */
void ph_test_copy_tree (const char *from, const char *to);

G_END_DECLS
