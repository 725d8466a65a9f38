/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "pinhole-cli"

#include "config.h"

#include <stdio.h>

#include <json-glib/json-glib.h>

#include "ph-cli-identity.h"
#include "ph-cli-output.h"
#include "ph-cli-secrets.h"
#include "ph-identity-backup.h"
#include "ph-identity.h"

static void
print_identity (gboolean json, const char *event, const char *place_name, const char *place,
                PhIdentity *identity, const char *sentence)
{
  if (json)
    {
      g_autoptr (JsonBuilder) builder = json_builder_new ();
      g_autoptr (JsonNode) root = NULL;
      g_autofree char *line = NULL;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "event");
      json_builder_add_string_value (builder, event);
      json_builder_set_member_name (builder, place_name);
      json_builder_add_string_value (builder, place);
      json_builder_set_member_name (builder, "fingerprint");
      json_builder_add_string_value (builder, ph_identity_get_fingerprint (identity));
      json_builder_end_object (builder);
      root = json_builder_get_root (builder);
      line = json_to_string (root, FALSE);
      printf ("%s\n", line);
    }
  else
    {
      printf ("%s\n", sentence);
    }
  fflush (stdout);
}

/* `pinhole-cli identity`: the profile's fingerprint, made on first use;
 * `export-identity FILE` and `import-identity FILE`: its backup. */
int
ph_cli_run_identity (const char *command, const char *file, const char *profile,
                     const char *passphrase_file, gboolean json)
{
  g_autoptr (PhCliOutput) output = ph_cli_output_new (json);
  g_autoptr (PhIdentity) identity = NULL;
  g_autoptr (PhIdentityBackup) backup = NULL;
  g_autoptr (PhCliSecret) passphrase = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *sentence = NULL;

  if (command == NULL)
    {
      gboolean created = FALSE;

      identity = ph_identity_load (profile, &error);
      if (g_error_matches (error, PH_IDENTITY_ERROR, PH_IDENTITY_ERROR_NO_IDENTITY))
        {
          g_clear_error (&error);
          identity = ph_identity_load_or_create (profile, &error);
          created = identity != NULL;
        }
      if (identity == NULL)
        goto failed;
      if (created)
        fprintf (stderr, "pinhole-cli: made a new identity in %s\n", profile);
      sentence = g_strdup_printf ("Fingerprint: %s", ph_identity_get_fingerprint (identity));
      print_identity (json, "identity", "profile", profile, identity, sentence);
      return 0;
    }

  if (g_str_equal (command, "export"))
    {
      identity = ph_identity_load (profile, &error);
      if (identity == NULL)
        goto failed;
      passphrase = ph_cli_read_passphrase (passphrase_file, TRUE, &error);
      if (passphrase == NULL)
        goto failed;
      backup = ph_identity_backup_new (identity);
      if (!ph_identity_backup_write_file (backup, file, passphrase, &error))
        goto failed;
      sentence = g_strdup_printf ("Exported the identity %s to %s",
                                  ph_identity_get_fingerprint (identity), file);
      print_identity (json, "identity-exported", "file", file, identity, sentence);
      return 0;
    }

  /* import: the profile is written only once the whole backup has opened. */
  passphrase = ph_cli_read_passphrase (passphrase_file, FALSE, &error);
  if (passphrase == NULL)
    goto failed;
  backup = ph_identity_backup_read_file (file, passphrase, &error);
  if (backup == NULL)
    goto failed;
  identity = g_object_ref (ph_identity_backup_get_identity (backup));
  if (!ph_identity_save (identity, profile, &error))
    goto failed;
  sentence = g_strdup_printf ("Imported the identity %s into %s",
                              ph_identity_get_fingerprint (identity), profile);
  print_identity (json, "identity-imported", "profile", profile, identity, sentence);
  return 0;

failed:
  ph_cli_output_error (output, error);
  return 1;
}
