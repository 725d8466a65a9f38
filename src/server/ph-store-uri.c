/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-store-uri"

#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "ph-memory-store.h"
#include "ph-store-uri.h"

char *
ph_store_uri_default (const char *data_dir)
{
  const char *state_directory = g_getenv ("STATE_DIRECTORY");
  g_autofree char *directory = NULL;
  g_autofree char *path = NULL;

  if (data_dir != NULL)
    directory = g_strdup (data_dir);
  else if (state_directory != NULL && *state_directory != '\0')
    /* systemd lists one folder per StateDirectory= entry, joined by ':'. */
    directory = g_strndup (state_directory, strcspn (state_directory, ":"));
  else
    directory = g_build_filename (g_get_user_state_dir (), "pinhole-rendezvous", NULL);

  path = g_build_filename (directory, PH_STORE_URI_DATABASE_NAME, NULL);
  return g_strconcat ("sqlite:", path, NULL);
}

gboolean
ph_store_uri_parse (const char *uri, GType *out_type, GPtrArray *names, GArray *values,
                    GError **error)
{
  g_return_val_if_fail (uri != NULL, FALSE);

  if (strcmp (uri, "memory:") == 0)
    {
      *out_type = PH_TYPE_MEMORY_STORE;
      return TRUE;
    }

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "--store takes memory: or sqlite:PATH, not “%s”.", uri);
  return FALSE;
}
