/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-cli-output"

#include "config.h"

#include <stdio.h>

#include <json-glib/json-glib.h>

#include "ph-cli-output.h"
#include "ph-error.h"
#include "ph-untrusted-text.h"

struct _PhCliOutput
{
  gboolean json;
};

PhCliOutput *
ph_cli_output_new (gboolean json)
{
  PhCliOutput *self = g_new0 (PhCliOutput, 1);

  self->json = json;
  return self;
}

void
ph_cli_output_free (PhCliOutput *self)
{
  g_free (self);
}

/* json-glib 1.6 writes every double with 17 significant digits
 * ("24.399999999999999"), so an event is written member by member: json-glib
 * writes the names, strings and integers, and times are rounded to a tenth
 * of a millisecond, as the human output shows them. */
static void
append_json (GString *out, JsonNode *node)
{
  g_autofree char *text = NULL;

  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      g_autoptr (GList) members = json_object_get_members (json_node_get_object (node));

      g_string_append_c (out, '{');
      for (GList *l = members; l != NULL; l = l->next)
        {
          g_autoptr (JsonNode) name = json_node_init_string (json_node_alloc (), l->data);

          if (l != members)
            g_string_append_c (out, ',');
          append_json (out, name);
          g_string_append_c (out, ':');
          append_json (out, json_object_get_member (json_node_get_object (node), l->data));
        }
      g_string_append_c (out, '}');
    }
  else if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_DOUBLE)
    {
      char number[G_ASCII_DTOSTR_BUF_SIZE];

      g_string_append (
          out, g_ascii_formatd (number, sizeof number, "%.1f", json_node_get_double (node)));
    }
  else
    {
      text = json_to_string (node, FALSE);
      g_string_append (out, text);
    }
}

/* Each event is flushed at once: scripts read the stream line by line. */
static void
print_event (JsonBuilder *builder)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GString) line = g_string_new (NULL);

  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  append_json (line, root);
  fprintf (stdout, "%s\n", line->str);
  fflush (stdout);
}

static JsonBuilder *
begin_event (const char *event)
{
  JsonBuilder *builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "event");
  json_builder_add_string_value (builder, event);
  return builder;
}

static void
add_string (JsonBuilder *builder, const char *name, const char *value)
{
  json_builder_set_member_name (builder, name);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

static void say (const char *format, ...) G_GNUC_PRINTF (1, 2);

static void
say (const char *format, ...)
{
  va_list args;

  va_start (args, format);
  vfprintf (stdout, format, args);
  va_end (args);
  fputc ('\n', stdout);
  fflush (stdout);
}

void
ph_cli_output_code (PhCliOutput *self, const char *code)
{
  g_autoptr (JsonBuilder) builder = NULL;

  if (!self->json)
    {
      say ("Your code is %s", code);
      say ("Your peer runs: pinhole-cli join %s", code);
      say ("Waiting for your peer…");
      return;
    }

  builder = begin_event ("code");
  add_string (builder, "code", code);
  print_event (builder);
}

void
ph_cli_output_connected (PhCliOutput *self, const char *peer, const PhSetupTimes *times,
                         const PhPath *path)
{
  g_autoptr (JsonBuilder) builder = NULL;

  if (!self->json)
    {
      g_autofree char *description = path != NULL ? ph_path_describe (path) : g_strdup ("unknown");

      g_autofree char *shown_peer = ph_untrusted_text_for_terminal (peer);

      say ("Connected to %s in %.1f ms: %s", shown_peer, times->total_ms, description);
      say ("Type a message and press Enter; Ctrl+D leaves.");
      return;
    }

  builder = begin_event ("connected");
  add_string (builder, "peer", peer);
  json_builder_set_member_name (builder, "setup_ms");
  json_builder_add_double_value (builder, times->total_ms);
  json_builder_set_member_name (builder, "setup");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "rendezvous_ms");
  json_builder_add_double_value (builder, times->rendezvous_ms);
  json_builder_set_member_name (builder, "ice_ms");
  json_builder_add_double_value (builder, times->ice_ms);
  json_builder_set_member_name (builder, "tls_ms");
  json_builder_add_double_value (builder, times->tls_ms);
  json_builder_end_object (builder);
  json_builder_set_member_name (builder, "path");
  if (path != NULL)
    json_builder_add_value (builder, ph_path_to_json (path));
  else
    json_builder_add_null_value (builder);
  print_event (builder);
}

void
ph_cli_output_sent (PhCliOutput *self, const char *id, const char *text)
{
  g_autoptr (JsonBuilder) builder = NULL;

  /* A person sees their own line as they typed it. */
  if (!self->json)
    return;

  builder = begin_event ("sent");
  add_string (builder, "id", id);
  add_string (builder, "text", text);
  print_event (builder);
}

static void
print_message (PhCliOutput *self, const char *id, const char *from, const char *contact_id,
               const char *text)
{
  g_autoptr (JsonBuilder) builder = NULL;

  if (!self->json)
    {
      g_autofree char *shown_from = ph_untrusted_text_for_terminal (from);
      g_autofree char *shown_text = ph_untrusted_text_for_terminal (text);

      say ("%s: %s", shown_from, shown_text);
      return;
    }

  builder = begin_event ("message");
  add_string (builder, "id", id);
  add_string (builder, "from", from);
  if (contact_id != NULL)
    add_string (builder, "contact", contact_id);
  add_string (builder, "text", text);
  print_event (builder);
}

void
ph_cli_output_message (PhCliOutput *self, const char *id, const char *from, const char *text)
{
  print_message (self, id, from, NULL, text);
}

void
ph_cli_output_contact_message (PhCliOutput *self, const char *id, PhContact *contact,
                               const char *text)
{
  print_message (self, id, ph_contact_get_name (contact), ph_contact_get_id (contact), text);
}

void
ph_cli_output_stored (PhCliOutput *self, const char *id, const char *contact)
{
  g_autoptr (JsonBuilder) builder = NULL;

  if (!self->json)
    {
      g_autofree char *shown = ph_untrusted_text_for_terminal (contact);

      say ("Sealed and left on the server: %s gets it when they are back.", shown);
      return;
    }

  builder = begin_event ("stored");
  add_string (builder, "id", id);
  print_event (builder);
}

void
ph_cli_output_delivered (PhCliOutput *self, const char *id)
{
  g_autoptr (JsonBuilder) builder = NULL;

  if (!self->json)
    return;

  builder = begin_event ("delivered");
  add_string (builder, "id", id);
  print_event (builder);
}

void
ph_cli_output_not_delivered (PhCliOutput *self, const char *id, const char *reason)
{
  g_autoptr (JsonBuilder) builder = NULL;

  if (!self->json)
    {
      say ("A message was %s.", reason);
      return;
    }

  builder = begin_event ("failed");
  add_string (builder, "id", id);
  add_string (builder, "reason", reason);
  print_event (builder);
}

void
ph_cli_output_reconnecting (PhCliOutput *self)
{
  g_autoptr (JsonBuilder) builder = NULL;

  if (!self->json)
    {
      say ("The connection broke; reconnecting…");
      return;
    }

  builder = begin_event ("reconnecting");
  print_event (builder);
}

void
ph_cli_output_rendezvous (PhCliOutput *self, gboolean reachable)
{
  g_autoptr (JsonBuilder) builder = NULL;

  if (!self->json)
    {
      say (reachable ? "The rendezvous server answers again."
                     : "The rendezvous server does not answer; trying again…");
      return;
    }

  builder = begin_event ("rendezvous");
  json_builder_set_member_name (builder, "reachable");
  json_builder_add_boolean_value (builder, reachable);
  print_event (builder);
}

void
ph_cli_output_path (PhCliOutput *self, const PhPath *path)
{
  g_autoptr (JsonBuilder) builder = NULL;

  if (!self->json)
    {
      g_autofree char *description = ph_path_describe (path);

      say ("The path changed: %s", description);
      return;
    }

  builder = begin_event ("path-changed");
  json_builder_set_member_name (builder, "path");
  json_builder_add_value (builder, ph_path_to_json (path));
  print_event (builder);
}

void
ph_cli_output_closed (PhCliOutput *self, const char *reason)
{
  g_autoptr (JsonBuilder) builder = NULL;

  if (!self->json)
    {
      if (g_str_equal (reason, "peer-left"))
        say ("Your peer left the conversation.");
      else if (g_str_equal (reason, "peer-lost"))
        say ("The connection to your peer was lost.");
      else
        say ("You left the conversation.");
      return;
    }

  builder = begin_event ("closed");
  add_string (builder, "reason", reason);
  print_event (builder);
}

void
ph_cli_output_error (PhCliOutput *self, const GError *error)
{
  g_autoptr (JsonBuilder) builder = NULL;

  if (!self->json)
    {
      /* Messages can carry a server's own sentence. */
      g_autofree char *shown = ph_untrusted_text_for_terminal (error->message);

      fprintf (stderr, "pinhole-cli: %s\n", shown);
      return;
    }

  builder = begin_event ("error");
  add_string (builder, "code", ph_error_code_name (error));
  add_string (builder, "message", error->message);
  print_event (builder);
}

void
ph_cli_output_contact_saved (PhCliOutput *self, PhContact *contact)
{
  g_autoptr (JsonBuilder) builder = NULL;

  if (!self->json)
    {
      g_autofree char *name = ph_untrusted_text_for_terminal (ph_contact_get_name (contact));

      say ("Saved %s as a contact.", name);
      say ("Safety number: %s", ph_contact_get_safety_number (contact));
      say ("Compare it with %s in person, then run: pinhole-cli verify %s", name,
           ph_contact_get_id (contact));
      return;
    }

  builder = begin_event ("contact-saved");
  json_builder_set_member_name (builder, "contact");
  json_builder_begin_object (builder);
  add_string (builder, "id", ph_contact_get_id (contact));
  add_string (builder, "name", ph_contact_get_name (contact));
  add_string (builder, "fingerprint", ph_contact_get_fingerprint (contact));
  add_string (builder, "safety_number", ph_contact_get_safety_number (contact));
  json_builder_end_object (builder);
  print_event (builder);
}

void
ph_cli_output_peer_wants_contact (PhCliOutput *self, const char *name, const char *fingerprint)
{
  g_autoptr (JsonBuilder) builder = NULL;

  if (!self->json)
    {
      g_autofree char *shown = ph_untrusted_text_for_terminal (name);

      say ("%s wants to save you as a contact (fingerprint %s); run with --save-contact to "
           "save them too.",
           shown, fingerprint);
      return;
    }

  builder = begin_event ("peer-wants-contact");
  add_string (builder, "name", name);
  add_string (builder, "fingerprint", fingerprint);
  print_event (builder);
}

void
ph_cli_output_waiting (PhCliOutput *self, const char *contact)
{
  g_autoptr (JsonBuilder) builder = NULL;

  if (!self->json)
    {
      g_autofree char *shown = ph_untrusted_text_for_terminal (contact);

      say ("%s is offline; your messages will be delivered when they are back.", shown);
      return;
    }

  builder = begin_event ("waiting");
  add_string (builder, "contact", contact);
  print_event (builder);
}

void
ph_cli_output_presence (PhCliOutput *self, const char *contact, gboolean online)
{
  g_autoptr (JsonBuilder) builder = NULL;

  if (!self->json)
    {
      g_autofree char *shown = ph_untrusted_text_for_terminal (contact);

      say ("%s is %s.", shown, online ? "online" : "offline");
      return;
    }

  builder = begin_event ("presence");
  add_string (builder, "contact", contact);
  json_builder_set_member_name (builder, "online");
  json_builder_add_boolean_value (builder, online);
  print_event (builder);
}
