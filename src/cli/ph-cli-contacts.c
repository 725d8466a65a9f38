/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "pinhole-cli"

#include "config.h"

#include <stdio.h>

#include <json-glib/json-glib.h>

#include "ph-cli-contacts.h"
#include "ph-cli-output.h"
#include "ph-contact-meetings.h"
#include "ph-untrusted-text.h"

PhContactBook *
ph_cli_open_contact_book (const char *profile, GError **error)
{
  g_autoptr (PhIdentity) identity = ph_identity_load_or_create (profile, error);

  if (identity == NULL)
    return NULL;
  return ph_contact_book_open (profile, identity, error);
}

static void
print_json (JsonBuilder *builder)
{
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *line = NULL;

  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  line = json_to_string (root, FALSE);
  printf ("%s\n", line);
}

static JsonBuilder *
begin_contact_object (const char *event, PhContact *contact)
{
  JsonBuilder *builder = json_builder_new ();

  json_builder_begin_object (builder);
  if (event != NULL)
    {
      json_builder_set_member_name (builder, "event");
      json_builder_add_string_value (builder, event);
    }
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, ph_contact_get_id (contact));
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, ph_contact_get_name (contact));
  return builder;
}

static void
looked_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GMainLoop *loop = user_data;
  g_autoptr (GError) error = NULL;

  if (!ph_contact_meetings_look_finish (PH_CONTACT_MEETINGS (source), result, &error))
    g_printerr ("Presence unknown, shown as offline: %s\n", error->message);
  g_main_loop_quit (loop);
}

/* Who is online: one look at the contacts' meeting points, or nobody
 * when the rendezvous server cannot be asked. */
static PhContactMeetings *
look_at_presence (PhContactBook *book, const char *rendezvous)
{
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr (PhIceConfig) no_ice = ph_ice_config_new ();
  PhContactMeetings *meetings = ph_contact_meetings_new (rendezvous, book, NULL, no_ice, FALSE);

  ph_contact_meetings_look_async (meetings, looked_cb, loop);
  g_main_loop_run (loop);
  return meetings;
}

static void
list_contacts (PhContactBook *book, const char *rendezvous, gboolean json)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (book));
  g_autoptr (PhContactMeetings) meetings = NULL;

  if (!json && n == 0)
    printf ("No contacts yet. Save one with: pinhole-cli host --save-contact\n");
  else if (!json)
    printf ("%-32s  %-24s  %-8s  %s\n", "ID", "NAME", "VERIFIED", "ONLINE");
  if (n > 0)
    meetings = look_at_presence (book, rendezvous);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (PhContact) contact = g_list_model_get_item (G_LIST_MODEL (book), i);
      gboolean online = ph_contact_meetings_is_online (meetings, contact);

      if (json)
        {
          g_autoptr (JsonBuilder) builder = begin_contact_object (NULL, contact);

          json_builder_set_member_name (builder, "verified");
          json_builder_add_boolean_value (builder, ph_contact_get_verified (contact));
          json_builder_set_member_name (builder, "online");
          json_builder_add_boolean_value (builder, online);
          print_json (builder);
        }
      else
        {
          g_autofree char *name = ph_untrusted_text_for_terminal (ph_contact_get_name (contact));

          printf ("%-32s  %-24s  %-8s  %s\n", ph_contact_get_id (contact), name,
                  ph_contact_get_verified (contact) ? "yes" : "no", online ? "yes" : "no");
        }
    }
  fflush (stdout);
}

static void
print_change (gboolean json, const char *event, PhContact *contact, const char *sentence)
{
  if (json)
    {
      g_autoptr (JsonBuilder) builder = begin_contact_object (event, contact);

      print_json (builder);
    }
  else
    {
      g_autofree char *shown = ph_untrusted_text_for_terminal (sentence);

      printf ("%s\n", shown);
    }
  fflush (stdout);
}

int
ph_cli_run_contacts (const char *const *args, const char *profile, const char *rendezvous,
                     gboolean json)
{
  g_autoptr (PhCliOutput) output = ph_cli_output_new (json);
  g_autoptr (PhContactBook) book = NULL;
  g_autoptr (PhContact) contact = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *sentence = NULL;
  const char *command = args[0];

  book = ph_cli_open_contact_book (profile, &error);
  if (book == NULL)
    goto failed;

  if (g_str_equal (command, "contacts"))
    {
      list_contacts (book, rendezvous, json);
      return 0;
    }

  contact = ph_contact_book_lookup (book, args[1], &error);
  if (contact == NULL)
    goto failed;

  if (g_str_equal (command, "verify"))
    {
      if (!ph_contact_book_set_verified (book, contact, TRUE, &error))
        goto failed;
      sentence = g_strdup_printf ("Marked %s as verified.", ph_contact_get_name (contact));
      print_change (json, "contact-verified", contact, sentence);
    }
  else if (g_str_equal (command, "rename"))
    {
      g_autofree char *old_name = g_strdup (ph_contact_get_name (contact));

      if (!ph_contact_book_rename (book, contact, args[2], &error))
        goto failed;
      sentence = g_strdup_printf ("Renamed %s to %s.", old_name, ph_contact_get_name (contact));
      print_change (json, "contact-renamed", contact, sentence);
    }
  else
    {
      if (!ph_contact_book_remove (book, contact, &error))
        goto failed;
      sentence = g_strdup_printf ("Removed %s from your contacts.", ph_contact_get_name (contact));
      print_change (json, "contact-removed", contact, sentence);
    }
  return 0;

failed:
  ph_cli_output_error (output, error);
  return 1;
}
