/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Removes @path and, when it is a directory, everything in it. */
void ph_test_remove_tree (const char *path);

G_END_DECLS
