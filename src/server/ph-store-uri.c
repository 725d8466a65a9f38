/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-store-uri"

#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "ph-memory-store.h"
#include "ph-redis-store.h"
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

static void
add_string (GPtrArray *names, GArray *values, const char *name, const char *text)
{
  GValue value = G_VALUE_INIT;

  g_value_init (&value, G_TYPE_STRING);
  g_value_set_string (&value, text);
  add_property (names, values, name, &value);
  g_value_unset (&value);
}

static void
add_uint (GPtrArray *names, GArray *values, const char *name, guint number)
{
  GValue value = G_VALUE_INIT;

  g_value_init (&value, G_TYPE_UINT);
  g_value_set_uint (&value, number);
  add_property (names, values, name, &value);
}

static gboolean
parse_number (const char *text, guint min, guint max, guint *out_number)
{
  guint64 number;

  if (!g_ascii_string_to_unsigned (text, 10, min, max, &number, NULL))
    return FALSE;
  *out_number = (guint)number;
  return TRUE;
}

/* redis://HOST:PORT[/DB], HOST a name, an IPv4 address or [an IPv6 one]. */
static gboolean
parse_redis (const char *uri, GPtrArray *names, GArray *values, GError **error)
{
  g_autoptr (GUri) parsed = g_uri_parse (uri, G_URI_FLAGS_NONE, NULL);
  const char *path = parsed != NULL ? g_uri_get_path (parsed) : NULL;
  guint database = 0;

  if (parsed == NULL || g_uri_get_host (parsed) == NULL || *g_uri_get_host (parsed) == '\0'
      || g_uri_get_port (parsed) <= 0 || g_uri_get_userinfo (parsed) != NULL
      || g_uri_get_query (parsed) != NULL
      || (*path != '\0' && (*path != '/' || !parse_number (path + 1, 0, 65535, &database))))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "A Redis store is redis://HOST:PORT or redis://HOST:PORT/DB (DB a "
                   "number), as in redis://127.0.0.1:6379/0, not “%s”.",
                   uri);
      return FALSE;
    }

  add_string (names, values, "host", g_uri_get_host (parsed));
  add_uint (names, values, "port", (guint)g_uri_get_port (parsed));
  add_uint (names, values, "database", database);
  return TRUE;
}

/* unix:PATH[?db=DB], the path of Redis's unixsocket. */
static gboolean
parse_redis_socket (const char *rest, GPtrArray *names, GArray *values, GError **error)
{
  const char *query = strrchr (rest, '?');
  g_autofree char *path = g_strndup (rest, query != NULL ? (gsize)(query - rest) : strlen (rest));
  guint database = 0;

  if (!g_path_is_absolute (path)
      || (query != NULL
          && (!g_str_has_prefix (query, "?db=")
              || !parse_number (query + strlen ("?db="), 0, 65535, &database))))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "A Redis store on a Unix socket is unix:/PATH or unix:/PATH?db=DB, as in "
                   "unix:/run/redis/redis-server.sock, not “unix:%s”.",
                   rest);
      return FALSE;
    }

  add_string (names, values, "socket-path", path);
  add_uint (names, values, "database", database);
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
  if (g_str_has_prefix (uri, "redis://"))
    {
      *out_type = PH_TYPE_REDIS_STORE;
      return parse_redis (uri, names, values, error);
    }
  if (g_str_has_prefix (uri, "unix:"))
    {
      *out_type = PH_TYPE_REDIS_STORE;
      return parse_redis_socket (uri + strlen ("unix:"), names, values, error);
    }

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "--store takes sqlite:PATH, redis://HOST:PORT[/DB], unix:PATH[?db=DB] or "
               "memory:, not “%s”.",
               uri);
  return FALSE;
}
