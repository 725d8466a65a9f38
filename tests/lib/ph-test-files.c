/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-test-files"

#include "config.h"

#include <glib/gstdio.h>

#include "ph-test-files.h"

void
ph_test_remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir == NULL)
    {
      g_remove (path);
      return;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      ph_test_remove_tree (child);
    }
  g_rmdir (path);
}

void
ph_test_copy_tree (const char *from, const char *to)
{
  g_autoptr (GDir) dir = g_dir_open (from, 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *source = g_build_filename (from, name, NULL);
      g_autofree char *target = g_build_filename (to, name, NULL);
      g_autofree char *contents = NULL;
      g_autoptr (GError) error = NULL;
      GStatBuf info;
      gsize length;

      g_assert_cmpint (g_stat (source, &info), ==, 0);
      if (S_ISDIR (info.st_mode))
        {
          g_assert_cmpint (g_mkdir (target, info.st_mode & 0777), ==, 0);
          ph_test_copy_tree (source, target);
          continue;
        }
      g_assert_true (g_file_get_contents (source, &contents, &length, &error));
      g_assert_true (g_file_set_contents_full (
          target, contents, (gssize)length, G_FILE_SET_CONTENTS_NONE, info.st_mode & 0777, &error));
      g_assert_no_error (error);
    }
}
