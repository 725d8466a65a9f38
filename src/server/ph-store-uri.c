/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-store-uri"

#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "ph-memory-store.h"
#include "ph-sqlite-store.h"
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

static void
add_property (GPtrArray *names, GArray *values, const char *name, const GValue *value)
{
  GValue copy = G_VALUE_INIT;

  g_value_init (&copy, G_VALUE_TYPE (value));
  g_value_copy (value, &copy);
  g_ptr_array_add (names, (gpointer)name);
  g_array_append_val (values, copy);
}

/* sqlite:PATH, and ?synchronous=normal or full after it. */
static gboolean
parse_sqlite (const char *rest, GPtrArray *names, GArray *values, GError **error)
{
  const char *query = strrchr (rest, '?');
  g_autofree char *path = g_strndup (rest, query != NULL ? (gsize)(query - rest) : strlen (rest));
  gboolean full_sync = FALSE;
  GValue value = G_VALUE_INIT;

  if (query != NULL && strcmp (query, "?synchronous=full") == 0)
    full_sync = TRUE;
  else if (query != NULL && strcmp (query, "?synchronous=normal") != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "sqlite:PATH takes ?synchronous=normal or ?synchronous=full, not “%s”.", query);
      return FALSE;
    }
  if (*path == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "sqlite: needs the database's file name, as in sqlite:/var/lib/"
                           "pinhole-rendezvous/" PH_STORE_URI_DATABASE_NAME ".");
      return FALSE;
    }

  g_value_init (&value, G_TYPE_STRING);
  g_value_set_string (&value, path);
  add_property (names, values, "path", &value);
  g_value_unset (&value);
  g_value_init (&value, G_TYPE_BOOLEAN);
  g_value_set_boolean (&value, full_sync);
  add_property (names, values, "full-sync", &value);
  return TRUE;
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
  if (g_str_has_prefix (uri, "sqlite:"))
    {
      *out_type = PH_TYPE_SQLITE_STORE;
      return parse_sqlite (uri + strlen ("sqlite:"), names, values, error);
    }

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "--store takes sqlite:PATH or memory:, not “%s”.", uri);
  return FALSE;
}
