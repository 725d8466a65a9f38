/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-burned-codes"

#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib/gi18n-lib.h>
#include <sodium.h>

#include "ph-burned-codes.h"
#include "ph-error.h"

/* One line per burned code: "<seconds since 1970> <64 hex digits>". */

#define HASH_LABEL "pinhole-burned-code-v1"
#define HASH_SIZE 32
#define HEX_SIZE (2 * HASH_SIZE)
/* Bounds the file however many chats fail in a day; the oldest go first. */
#define MAX_ENTRIES 1024

typedef struct
{
  gint64 time;
  char hex[HEX_SIZE + 1];
} Entry;

static char *
store_path (void)
{
  const char *directory = g_getenv ("PINHOLE_STATE_DIR");

  if (directory != NULL && directory[0] != '\0')
    return g_build_filename (directory, "burned-codes", NULL);
  return g_build_filename (g_get_user_state_dir (), "pinhole", "burned-codes", NULL);
}

static void
hash_update_part (crypto_generichash_state *state, const char *part, gsize length)
{
  guint8 prefix[8];

  for (guint i = 0; i < sizeof prefix; i++)
    prefix[i] = (guint8)((guint64)length >> (8 * i));
  crypto_generichash_update (state, prefix, sizeof prefix);
  crypto_generichash_update (state, (const guint8 *)part, length);
}

/* A code names a mailbox on one server, so the URL is part of what burns.
 * The words carry only 16 bits, so the hash does not keep a determined
 * reader from the code; it keeps failed codes from being read at a glance,
 * and a failed code opens nothing anyway. */
static void
hash_code (const char *server_url, const char *code, char out_hex[HEX_SIZE + 1])
{
  crypto_generichash_state state;
  guint8 hash[HASH_SIZE];
  gsize url_length = strlen (server_url);

  /* The client drops a trailing slash too: both forms are one server. */
  while (url_length > 0 && server_url[url_length - 1] == '/')
    url_length--;

  if (sodium_init () < 0)
    g_error ("libsodium could not be initialised");
  crypto_generichash_init (&state, NULL, 0, sizeof hash);
  hash_update_part (&state, HASH_LABEL, strlen (HASH_LABEL));
  hash_update_part (&state, server_url, url_length);
  hash_update_part (&state, code, strlen (code));
  crypto_generichash_final (&state, hash, sizeof hash);
  sodium_bin2hex (out_hex, HEX_SIZE + 1, hash, sizeof hash);
}

static gboolean
is_fresh (const Entry *entry, gint64 now)
{
  /* A clock set back by more than a day must not keep a code for ever. */
  return entry->time > now - PH_BURNED_CODE_LIFETIME_SECONDS
         && entry->time < now + PH_BURNED_CODE_LIFETIME_SECONDS;
}

static gboolean
parse_line (const char *line, Entry *out_entry)
{
  const char *space = strchr (line, ' ');
  g_autofree char *time_text = NULL;

  if (space == NULL || strlen (space + 1) != HEX_SIZE)
    return FALSE;
  for (const char *c = space + 1; *c != '\0'; c++)
    if (!g_ascii_isxdigit (*c) || g_ascii_isupper (*c))
      return FALSE;
  time_text = g_strndup (line, space - line);
  if (!g_ascii_string_to_signed (time_text, 10, 0, G_MAXINT64, &out_entry->time, NULL))
    return FALSE;
  memcpy (out_entry->hex, space + 1, HEX_SIZE + 1);
  return TRUE;
}

/* The fresh entries of the store, oldest first as written; a missing or
 * unreadable store has none. */
static GArray *
load_entries (const char *path, gint64 now)
{
  g_autoptr (GArray) entries = g_array_new (FALSE, FALSE, sizeof (Entry));
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  g_auto (GStrv) lines = NULL;

  if (!g_file_get_contents (path, &contents, NULL, &error))
    {
      if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_warning ("Could not read the failed codes in %s: %s", path, error->message);
      return g_steal_pointer (&entries);
    }

  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      Entry entry;

      if (parse_line (lines[i], &entry) && is_fresh (&entry, now))
        g_array_append_val (entries, entry);
    }
  return g_steal_pointer (&entries);
}

void
ph_burned_codes_add (const char *server_url, const char *code, gint64 now)
{
  g_autofree char *path = NULL;
  g_autofree char *directory = NULL;
  g_autoptr (GArray) entries = NULL;
  g_autoptr (GString) contents = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  Entry entry = { .time = now };
  guint first;

  g_return_if_fail (server_url != NULL);
  g_return_if_fail (code != NULL);

  path = store_path ();
  directory = g_path_get_dirname (path);
  hash_code (server_url, code, entry.hex);
  entries = load_entries (path, now);
  g_array_append_val (entries, entry);

  first = entries->len > MAX_ENTRIES ? entries->len - MAX_ENTRIES : 0;
  for (guint i = first; i < entries->len; i++)
    {
      const Entry *kept = &g_array_index (entries, Entry, i);

      g_string_append_printf (contents, "%" G_GINT64_FORMAT " %s\n", kept->time, kept->hex);
    }

  /* Written whole and renamed into place: a crash leaves the old store or
   * the new one. Two programs failing at the same moment may lose one
   * entry; each still told its person to start again. */
  if (g_mkdir_with_parents (directory, 0700) != 0)
    {
      int saved_errno = errno;

      g_warning ("Could not create %s to remember a failed code: %s", directory,
                 g_strerror (saved_errno));
      return;
    }
  if (!g_file_set_contents_full (path, contents->str, (gssize)contents->len,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
    g_warning ("Could not remember a failed code: %s", error->message);
}

gboolean
ph_burned_codes_check (const char *server_url, const char *code, gint64 now, GError **error)
{
  g_autofree char *path = NULL;
  g_autoptr (GArray) entries = NULL;
  char hex[HEX_SIZE + 1];

  g_return_val_if_fail (server_url != NULL, FALSE);
  g_return_val_if_fail (code != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  path = store_path ();
  hash_code (server_url, code, hex);
  entries = load_entries (path, now);
  for (guint i = 0; i < entries->len; i++)
    {
      if (g_str_equal (g_array_index (entries, Entry, i).hex, hex))
        {
          g_set_error_literal (error, PH_ERROR, PH_ERROR_BURNED_CODE,
                               _ ("This code already failed once, and someone may be trying to "
                                  "guess it. Start a new chat with a new code."));
          return FALSE;
        }
    }
  return TRUE;
}
