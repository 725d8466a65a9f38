/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "pinhole-cli"

#include "config.h"

#include <stdio.h>

#include <json-glib/json-glib.h>

#include "ph-cli-contacts.h"
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

/* The contacts travel in the backup beside the identity. */
static gboolean
add_contacts (PhIdentityBackup *backup, const char *profile, GError **error)
{
  g_autoptr (PhContactBook) book
      = ph_contact_book_open (profile, ph_identity_backup_get_identity (backup), error);

  if (book == NULL)
    return FALSE;
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (book)); i++)
    {
      g_autoptr (PhContact) contact = g_list_model_get_item (G_LIST_MODEL (book), i);
      g_autoptr (GBytes) record = ph_contact_to_record (contact);

      ph_identity_backup_add_contact (backup, record);
    }
  return TRUE;
}

/* Every record is read before the first is saved, so a damaged backup
 * changes nothing. */
static gboolean
restore_contacts (PhIdentityBackup *backup, const char *profile, GError **error)
{
  PhIdentity *identity = ph_identity_backup_get_identity (backup);
  GPtrArray *records = ph_identity_backup_get_contacts (backup);
  g_autoptr (GPtrArray) contacts = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (PhContactBook) book = NULL;

  for (guint i = 0; i < records->len; i++)
    {
      PhContact *contact = ph_contact_new_from_record (ph_identity_get_public_key (identity),
                                                       g_ptr_array_index (records, i), error);

      if (contact == NULL)
        return FALSE;
      g_ptr_array_add (contacts, contact);
    }

  book = ph_contact_book_open (profile, identity, error);
  if (book == NULL)
    return FALSE;
  for (guint i = 0; i < contacts->len; i++)
    {
      g_autoptr (PhContact) saved
          = ph_contact_book_save (book, g_ptr_array_index (contacts, i), error);

      if (saved == NULL)
        return FALSE;
    }
  return TRUE;
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
      if (!add_contacts (backup, profile, &error)
          || !ph_identity_backup_write_file (backup, file, passphrase, &error))
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
  if (!ph_identity_save (identity, profile, &error) || !restore_contacts (backup, profile, &error))
    goto failed;
  sentence = g_strdup_printf ("Imported the identity %s into %s",
                              ph_identity_get_fingerprint (identity), profile);
  print_identity (json, "identity-imported", "profile", profile, identity, sentence);
  return 0;

failed:
  ph_cli_output_error (output, error);
  return 1;
}
