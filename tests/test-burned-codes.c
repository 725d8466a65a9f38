/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-burned-codes"

#include "config.h"

#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "ph-burned-codes.h"
#include "ph-error.h"
#include "ph-test-files.h"

/* The store of codes that failed: a code typed again within a day is
 * refused, on the server it failed on only, and the store never holds a
 * code a person could read back. Each test has a state folder of its own. */

#define SERVER "http://127.0.0.1:8080"
#define CODE "7-orbit-velvet"
#define NOW ((gint64)1767225600)

typedef struct
{
  char *directory;
  char *path;
} Fixture;

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture->directory = g_dir_make_tmp ("ph-burned-codes-XXXXXX", &error);
  g_assert_no_error (error);
  /* A folder still to be made, as on a first run. */
  fixture->path = g_build_filename (fixture->directory, "state", "burned-codes", NULL);
  {
    g_autofree char *state = g_path_get_dirname (fixture->path);

    g_setenv ("PINHOLE_STATE_DIR", state, TRUE);
  }
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  g_unsetenv ("PINHOLE_STATE_DIR");
  ph_test_remove_tree (fixture->directory);
  g_free (fixture->directory);
  g_free (fixture->path);
}

static void
assert_burned (const char *server, const char *code, gint64 now)
{
  g_autoptr (GError) error = NULL;

  g_assert_false (ph_burned_codes_check (server, code, now, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_BURNED_CODE);
  g_assert_nonnull (strstr (error->message, "new code"));
}

static void
assert_not_burned (const char *server, const char *code, gint64 now)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (ph_burned_codes_check (server, code, now, &error));
  g_assert_no_error (error);
}

static void
test_refused_once_failed (Fixture *fixture, gconstpointer data)
{
  assert_not_burned (SERVER, CODE, NOW);
  ph_burned_codes_add (SERVER, CODE, NOW);
  assert_burned (SERVER, CODE, NOW);
  /* The client drops a trailing slash: the same server. */
  assert_burned (SERVER "/", CODE, NOW + 60);

  /* Another code, or the same code on another server, is another chat. */
  assert_not_burned (SERVER, "7-orbit-walnut", NOW);
  assert_not_burned ("http://127.0.0.1:8081", CODE, NOW);
}

static void
test_forgotten_after_a_day (Fixture *fixture, gconstpointer data)
{
  ph_burned_codes_add (SERVER, CODE, NOW);
  assert_burned (SERVER, CODE, NOW + PH_BURNED_CODE_LIFETIME_SECONDS - 1);
  assert_not_burned (SERVER, CODE, NOW + PH_BURNED_CODE_LIFETIME_SECONDS);
  /* A clock set back a long way forgets it too, rather than keeping it. */
  assert_not_burned (SERVER, CODE, NOW - PH_BURNED_CODE_LIFETIME_SECONDS);
}

static guint
count_lines (const char *path)
{
  g_autofree char *contents = NULL;
  guint lines = 0;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  for (const char *c = contents; *c != '\0'; c++)
    lines += *c == '\n';
  return lines;
}

/* Old entries go when the next one is written, so the file stays small. */
static void
test_pruned_when_written (Fixture *fixture, gconstpointer data)
{
  ph_burned_codes_add (SERVER, CODE, NOW);
  ph_burned_codes_add (SERVER, "7-orbit-walnut", NOW + 1);
  g_assert_cmpuint (count_lines (fixture->path), ==, 2);

  ph_burned_codes_add (SERVER, "8-orbit-velvet", NOW + PH_BURNED_CODE_LIFETIME_SECONDS + 1);
  g_assert_cmpuint (count_lines (fixture->path), ==, 1);
  assert_burned (SERVER, "8-orbit-velvet", NOW + PH_BURNED_CODE_LIFETIME_SECONDS + 1);
  assert_not_burned (SERVER, "7-orbit-walnut", NOW + PH_BURNED_CODE_LIFETIME_SECONDS + 1);
}

/* Only hashes, in a file only its owner reads. */
static void
test_keeps_no_code (Fixture *fixture, gconstpointer data)
{
  g_autofree char *contents = NULL;
  GStatBuf status;

  ph_burned_codes_add (SERVER, CODE, NOW);
  g_assert_true (g_file_get_contents (fixture->path, &contents, NULL, NULL));
  g_assert_null (strstr (contents, "orbit"));
  g_assert_null (strstr (contents, "velvet"));
  g_assert_null (strstr (contents, "127.0.0.1"));
  g_assert_cmpint (g_stat (fixture->path, &status), ==, 0);
  g_assert_cmpint (status.st_mode & 0777, ==, 0600);
}

/* A damaged store loses its damaged lines, not the others, and never
 * stops a join. */
static void
test_damaged_store (Fixture *fixture, gconstpointer data)
{
  g_autofree char *contents = NULL;
  g_autofree char *damaged = NULL;

  ph_burned_codes_add (SERVER, CODE, NOW);
  g_assert_true (g_file_get_contents (fixture->path, &contents, NULL, NULL));
  damaged = g_strconcat ("garbage\n-5 abc\n", contents, "1767225600 ZZ\n", NULL);
  g_assert_true (g_file_set_contents (fixture->path, damaged, -1, NULL));

  assert_burned (SERVER, CODE, NOW);
  assert_not_burned (SERVER, "7-orbit-walnut", NOW);
  ph_burned_codes_add (SERVER, "7-orbit-walnut", NOW);
  g_assert_cmpuint (count_lines (fixture->path), ==, 2);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/burned-codes/refused-once-failed", test_refused_once_failed);
  ADD ("/burned-codes/forgotten-after-a-day", test_forgotten_after_a_day);
  ADD ("/burned-codes/pruned-when-written", test_pruned_when_written);
  ADD ("/burned-codes/keeps-no-code", test_keeps_no_code);
  ADD ("/burned-codes/damaged-store", test_damaged_store);
#undef ADD

  return g_test_run ();
}
