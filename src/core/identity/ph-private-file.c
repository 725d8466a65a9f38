/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-private-file"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "ph-private-file.h"

static gboolean
set_errno_error (GError **error, int saved_errno, const char *action, const char *path,
                 const char *what)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
               "Could not %s “%s” for %s: %s.", action, path, what, g_strerror (saved_errno));
  return FALSE;
}

gboolean
ph_private_file_prepare (const char *path, const char *what, GError **error)
{
  g_autofree char *directory = NULL;
  struct stat st;
  int fd;

  g_return_val_if_fail (path != NULL && what != NULL, FALSE);

  directory = g_path_get_dirname (path);
  if (g_mkdir_with_parents (directory, 0700) != 0)
    return set_errno_error (error, errno, "create the folder", directory, what);
  if (g_stat (directory, &st) != 0)
    return set_errno_error (error, errno, "look at the folder", directory, what);
  if ((st.st_mode & 0777) != 0700 && g_chmod (directory, 0700) != 0)
    return set_errno_error (error, errno, "make private the folder", directory, what);

  fd = g_open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return set_errno_error (error, errno, "open", path, what);
  if (fchmod (fd, 0600) != 0 || fstat (fd, &st) != 0)
    {
      int saved_errno = errno;

      close (fd);
      return set_errno_error (error, saved_errno, "make private", path, what);
    }
  close (fd);
  if ((st.st_mode & 0777) != 0600)
    return set_errno_error (error, EPERM, "make private", path, what);
  return TRUE;
}
