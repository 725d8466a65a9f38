/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "pinhole-cli"

#include "config.h"

#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <glib/gi18n.h>

#include "ph-cli-contacts.h"
#include "ph-cli-identity.h"
#include "ph-cli-meet.h"
#include "ph-cli-output.h"
#include "ph-cli-secrets.h"
#include "ph-code.h"
#include "ph-conversation.h"
#include "ph-error.h"
#include "ph-identity.h"
#include "ph-nat-check-server.h"
#include "ph-nat-check.h"
#include "ph-rendezvous-http.h"
#include "ph-untrusted-text.h"

#define EXIT_USAGE 2

typedef struct
{
  GMainLoop *loop;
  PhConversation *conversation;
  PhCliOutput *output;
  GDataInputStream *input;
  GCancellable *cancellable;
  gboolean input_ended;
  gboolean interrupted;
  int exit_status;
  /* --save-contact: the end of input waits for the contact to be saved
   * (or refused), not only for the messages to be delivered. */
  PhContactBook *contact_book;
  gboolean contact_settled;
  gboolean contact_error;
} Cli;

static void read_next_line (Cli *cli);

static void
leave_when_connected (Cli *cli)
{
  PhConversationState state = ph_conversation_get_state (cli->conversation);

  /* Input that ends before the peer arrives is still delivered first. */
  if (cli->input_ended && state == PH_CONVERSATION_STATE_CONNECTED
      && (cli->contact_book == NULL || cli->contact_settled))
    ph_conversation_leave (cli->conversation);
}

static void
send_line (Cli *cli, const char *line)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;

  id = ph_conversation_send_message (cli->conversation, line, &error);
  if (id == NULL)
    {
      ph_cli_output_error (cli->output, error);
      return;
    }
  ph_cli_output_sent (cli->output, id, line);
}

static void
line_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Cli *cli = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;
  gsize length;

  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, &length,
                                                    &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  if (error != NULL)
    {
      g_autoptr (GError) input_error = g_error_new (
          PH_ERROR, PH_ERROR_FAILED, "A line of input was skipped: %s", error->message);

      ph_cli_output_error (cli->output, input_error);
      read_next_line (cli);
      return;
    }

  if (line == NULL)
    {
      cli->input_ended = TRUE;
      leave_when_connected (cli);
      return;
    }

  if (length > 0 && line[length - 1] == '\r')
    line[length - 1] = '\0';
  send_line (cli, line);
  read_next_line (cli);
}

static void
read_next_line (Cli *cli)
{
  g_data_input_stream_read_line_async (cli->input, G_PRIORITY_DEFAULT, cli->cancellable,
                                       line_read_cb, cli);
}

static void
retrying_rendezvous_cb (PhConversation *conversation, GParamSpec *pspec, Cli *cli)
{
  ph_cli_output_rendezvous (cli->output, !ph_conversation_get_retrying_rendezvous (conversation));
}

static void
conversation_state_cb (PhConversation *conversation, GParamSpec *pspec, Cli *cli)
{
  switch (ph_conversation_get_state (conversation))
    {
    case PH_CONVERSATION_STATE_WAITING_FOR_PEER:
      ph_cli_output_code (cli->output, ph_conversation_get_code (conversation));
      break;

    case PH_CONVERSATION_STATE_CONNECTED:
      ph_cli_output_connected (cli->output, ph_conversation_get_peer_name (conversation),
                               ph_conversation_get_setup_times (conversation),
                               ph_conversation_get_path (conversation));
      leave_when_connected (cli);
      break;

    case PH_CONVERSATION_STATE_RECONNECTING:
      ph_cli_output_reconnecting (cli->output);
      break;

    case PH_CONVERSATION_STATE_IDLE:
    case PH_CONVERSATION_STATE_CONNECTING:
    case PH_CONVERSATION_STATE_CLOSED:
    case PH_CONVERSATION_STATE_FAILED:
    default:
      break;
    }
}

static void
message_received_cb (PhConversation *conversation, const char *id, gint64 time_ms, const char *text,
                     Cli *cli)
{
  ph_cli_output_message (cli->output, id, ph_conversation_get_peer_name (conversation), text);
}

static void
message_delivered_cb (PhConversation *conversation, const char *id, Cli *cli)
{
  ph_cli_output_delivered (cli->output, id);
}

static void
message_failed_cb (PhConversation *conversation, const char *id, const char *reason, Cli *cli)
{
  ph_cli_output_not_delivered (cli->output, id, reason);
}

static void
path_changed_cb (PhConversation *conversation, GParamSpec *pspec, Cli *cli)
{
  const PhPath *path = ph_conversation_get_path (conversation);

  /* The path ICE settles on first is part of the "connected" event. */
  if (path != NULL && ph_conversation_get_state (conversation) == PH_CONVERSATION_STATE_CONNECTED)
    ph_cli_output_path (cli->output, path);
}

static void
contact_saved_cb (PhConversation *conversation, PhContact *contact, Cli *cli)
{
  ph_cli_output_contact_saved (cli->output, contact);
  cli->contact_settled = TRUE;
  leave_when_connected (cli);
}

static void
peer_wants_contact_cb (PhConversation *conversation, GParamSpec *pspec, Cli *cli)
{
  if (ph_conversation_get_peer_wants_contact (conversation))
    ph_cli_output_peer_wants_contact (cli->output, ph_conversation_get_peer_name (conversation),
                                      ph_conversation_get_peer_fingerprint (conversation));
}

/* A refused offer leaves the chat as it was; a contact that could not be
 * stored (an identity that changed) ends the wait with an error. */
static void
contact_failed_cb (PhConversation *conversation, const GError *error, Cli *cli)
{
  ph_cli_output_error (cli->output, error);
  if (g_error_matches (error, PH_CONTACT_ERROR, PH_CONTACT_ERROR_INVALID_OFFER))
    return;
  cli->contact_settled = TRUE;
  cli->contact_error = TRUE;
  leave_when_connected (cli);
}

static void
closed_cb (PhConversation *conversation, const char *reason, Cli *cli)
{
  ph_cli_output_closed (cli->output, reason);
  cli->exit_status = cli->contact_error ? 1 : 0;
  g_main_loop_quit (cli->loop);
}

static void
failed_cb (PhConversation *conversation, const GError *error, Cli *cli)
{
  ph_cli_output_error (cli->output, error);
  cli->exit_status = 1;
  g_main_loop_quit (cli->loop);
}

/* The first Ctrl+C leaves politely; a second one does not wait. */
static gboolean
interrupt_cb (gpointer user_data)
{
  Cli *cli = user_data;

  if (cli->interrupted)
    {
      cli->exit_status = 1;
      g_main_loop_quit (cli->loop);
      return G_SOURCE_CONTINUE;
    }

  cli->interrupted = TRUE;
  g_cancellable_cancel (cli->cancellable);
  ph_conversation_leave (cli->conversation);
  return G_SOURCE_CONTINUE;
}

static char *
default_name (void)
{
  const char *real_name = g_get_real_name ();

  if (real_name != NULL && *real_name != '\0' && !g_str_equal (real_name, "Unknown"))
    return g_utf8_substring (real_name, 0,
                             MIN (g_utf8_strlen (real_name, -1), PH_CONVERSATION_MAX_NAME_LENGTH));
  return g_strdup (g_get_user_name ());
}

/* Waits on a nested main loop for one async call; nothing else runs in
 * pinhole-cli meanwhile. */
typedef struct
{
  GMainLoop *loop;
  GAsyncResult *result;
} NatCheckWait;

static void
nat_check_wait_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  NatCheckWait *wait = user_data;

  wait->result = g_object_ref (result);
  g_main_loop_quit (wait->loop);
}

/* `pinhole-cli nat-check`: what NAT this machine is behind, tested
 * against --stun or else the rendezvous server's STUN server. */
static int
run_nat_check (const char *stun, const char *rendezvous, gboolean json)
{
  g_autoptr (PhCliOutput) output = ph_cli_output_new (json);
  g_autoptr (PhIceConfig) config = ph_ice_config_new ();
  g_autoptr (PhNatCheck) check = NULL;
  g_autoptr (PhNatCheckResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *server = g_strdup (stun);
  NatCheckWait wait = { g_main_loop_new (NULL, FALSE), NULL };

  if (server == NULL)
    {
      ph_nat_check_find_server_async (rendezvous, NULL, nat_check_wait_cb, &wait);
      g_main_loop_run (wait.loop);
      server = ph_nat_check_find_server_finish (wait.result, &error);
      g_clear_object (&wait.result);
    }

  if (server != NULL && ph_ice_config_set_stun (config, server, &error))
    {
      check = ph_nat_check_new (config->stun_host, config->stun_port);
      ph_nat_check_run_async (check, NULL, nat_check_wait_cb, &wait);
      g_main_loop_run (wait.loop);
      result = ph_nat_check_run_finish (check, wait.result, &error);
      g_clear_object (&wait.result);
    }
  g_main_loop_unref (wait.loop);

  if (result == NULL)
    {
      ph_cli_output_error (output, error);
      return 1;
    }

  if (json)
    {
      g_autoptr (JsonBuilder) builder = json_builder_new ();
      g_autoptr (JsonNode) root = NULL;
      g_autofree char *line = NULL;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "event");
      json_builder_add_string_value (builder, "nat");
      json_builder_set_member_name (builder, "type");
      json_builder_add_string_value (builder, ph_nat_type_to_string (result->type));
      json_builder_set_member_name (builder, "mapping");
      json_builder_add_string_value (builder, ph_nat_behaviour_to_string (result->mapping));
      json_builder_set_member_name (builder, "filtering");
      json_builder_add_string_value (builder, ph_nat_behaviour_to_string (result->filtering));
      json_builder_set_member_name (builder, "public_address");
      if (result->public_address != NULL)
        json_builder_add_string_value (builder, result->public_address);
      else
        json_builder_add_null_value (builder);
      json_builder_set_member_name (builder, "udp_blocked");
      json_builder_add_boolean_value (builder, result->udp_blocked);
      if (result->note != NULL)
        {
          json_builder_set_member_name (builder, "note");
          json_builder_add_string_value (builder, result->note);
        }
      json_builder_end_object (builder);
      root = json_builder_get_root (builder);
      line = json_to_string (root, FALSE);
      printf ("%s\n", line);
    }
  else
    {
      printf ("NAT type: %s (mapping %s, filtering %s)\n", ph_nat_type_to_string (result->type),
              ph_nat_behaviour_to_string (result->mapping),
              ph_nat_behaviour_to_string (result->filtering));
      if (result->public_address != NULL)
        printf ("Public address: %s\n", result->public_address);
      if (result->note != NULL)
        printf ("%s\n", result->note);
    }
  fflush (stdout);
  return 0;
}

static int
usage_error (GOptionContext *context, const char *message)
{
  g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);

  fprintf (stderr, "pinhole-cli: %s\n\n%s", message, help);
  return EXIT_USAGE;
}

/* `join -`: the code is the first line of standard input, so it never
 * shows in `ps`; later lines are messages, as usual. */
static char *
read_code_line (GDataInputStream *input, GError **error)
{
  g_autoptr (PhCliSecret) line = g_data_input_stream_read_line_utf8 (input, NULL, NULL, error);

  if (line == NULL)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s",
                     "“join -” reads the code from standard input, which ended first.");
      return NULL;
    }
  return g_strdup (g_strstrip (line));
}

/* --rendezvous, else $PINHOLE_RENDEZVOUS, else the built-in default.
 * Called before anything starts a thread. */
static void
choose_rendezvous (char **rendezvous)
{
  if (*rendezvous == NULL)
    *rendezvous = g_strdup (g_getenv ("PINHOLE_RENDEZVOUS"));
  if (*rendezvous == NULL || **rendezvous == '\0')
    {
      g_free (*rendezvous);
      *rendezvous = g_strdup (PH_DEFAULT_RENDEZVOUS);
    }
  ph_rendezvous_http_prepare_process (*rendezvous);
}

int
main (int argc, char *argv[])
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PhIceConfig) ice_config = ph_ice_config_new ();
  g_autoptr (PhCliOutput) output = NULL;
  g_autoptr (GInputStream) stdin_stream = NULL;
  g_autofree char *rendezvous = NULL;
  g_autofree char *stun = NULL;
  g_autofree char *turn_user = NULL;
  g_autoptr (PhCliSecret) turn_pass = NULL;
  g_autofree char *turn_pass_file = NULL;
  g_autoptr (PhCliSecret) code_from_stdin = NULL;
  const char *code = NULL;
  g_autofree char *name = NULL;
  g_auto (GStrv) turn_uris = NULL;
  gboolean relay_only = FALSE;
  gboolean json = FALSE;
  gboolean no_server_ice = FALSE;
  gboolean no_port_mapping = FALSE;
  gboolean show_version = FALSE;
  gboolean save_contact = FALSE;
  gboolean no_stored_copies = FALSE;
  int timeout_seconds = 30;
  g_autofree char *profile = NULL;
  g_autofree char *passphrase_file = NULL;
  Cli cli = { 0 };
  const GOptionEntry entries[] = {
    { "rendezvous", 0, 0, G_OPTION_ARG_STRING, &rendezvous,
      "Rendezvous server (default: $PINHOLE_RENDEZVOUS, then " PH_DEFAULT_RENDEZVOUS ")", "URL" },
    { "stun", 0, 0, G_OPTION_ARG_STRING, &stun, "STUN server", "HOST[:PORT]" },
    { "turn", 0, 0, G_OPTION_ARG_STRING_ARRAY, &turn_uris,
      "TURN server (repeatable); turns: is TURN over TLS, port 5349 by default",
      "turn[s]:HOST[:PORT][?transport=udp|tcp]" },
    { "turn-user", 0, 0, G_OPTION_ARG_STRING, &turn_user, "TURN user name", "USER" },
    { "turn-pass", 0, 0, G_OPTION_ARG_STRING, &turn_pass,
      "TURN password (visible to other users in ps: prefer --turn-pass-file or $PINHOLE_TURN_PASS)",
      "PASSWORD" },
    { "turn-pass-file", 0, 0, G_OPTION_ARG_FILENAME, &turn_pass_file,
      "Read the TURN password from the first line of FILE", "FILE" },
    { "relay-only", 0, 0, G_OPTION_ARG_NONE, &relay_only, "Connect only through a TURN relay",
      NULL },
    { "no-server-ice", 0, 0, G_OPTION_ARG_NONE, &no_server_ice,
      "Do not ask the rendezvous server for STUN/TURN servers", NULL },
    { "no-port-mapping", 0, 0, G_OPTION_ARG_NONE, &no_port_mapping,
      "Do not ask the router to open a port (NAT-PMP, UPnP)", NULL },
    { "name", 0, 0, G_OPTION_ARG_STRING, &name, "Your name as your peer sees it", "NAME" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON event per line", NULL },
    { "save-contact", 0, 0, G_OPTION_ARG_NONE, &save_contact,
      "host, join: save the peer as a contact once they save you too", NULL },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout_seconds,
      "chat: how long to try to deliver after the end of input (default 30)", "S" },
    { "no-stored-copies", 0, 0, G_OPTION_ARG_NONE, &no_stored_copies,
      "chat: never leave sealed copies on the server for an offline contact", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &show_version, "Print the version and exit", NULL },
    { NULL }
  };
  const GOptionEntry identity_entries[]
      = { { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &profile,
            "The profile: identity and contacts (default $PINHOLE_DATA_DIR, else "
            "$XDG_DATA_HOME/pinhole)",
            "DIR" },
          { "passphrase-file", 0, 0, G_OPTION_ARG_FILENAME, &passphrase_file,
            "Read the backup's passphrase from the first line of FILE", "FILE" },
          { NULL } };
  GOptionGroup *identity_group = NULL;

  /* Standard output carries only events (one JSON object per line with
   * --json); GLib would print debug and info messages there too. */
  g_log_writer_default_set_use_stderr (TRUE);
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");

  context = g_option_context_new ("host | join CODE | join - | chat CONTACT | listen | "
                                  "nat-check | identity | "
                                  "export-identity FILE | import-identity FILE | contacts | "
                                  "verify CONTACT | rename CONTACT NAME | remove CONTACT");
  g_option_context_set_summary (context,
                                "Chat directly and privately with a peer, even behind NATs.\n"
                                "Lines on standard input are sent as messages; the end of input "
                                "says goodbye.");
  g_option_context_add_main_entries (context, entries, NULL);
  identity_group = g_option_group_new (
      "identity", "Options of “identity”:", "Show the options of “identity”", NULL, NULL);
  g_option_group_add_entries (identity_group, identity_entries);
  g_option_context_add_group (context, identity_group);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return usage_error (context, error->message);

  if (show_version)
    {
      printf ("pinhole-cli %s\n", PACKAGE_VERSION);
      return 0;
    }

  if (argc >= 2
      && (g_str_equal (argv[1], "identity") || g_str_equal (argv[1], "export-identity")
          || g_str_equal (argv[1], "import-identity")))
    {
      const char *command = g_str_equal (argv[1], "export-identity")   ? "export"
                            : g_str_equal (argv[1], "import-identity") ? "import"
                                                                       : NULL;

      if (command == NULL ? argc != 2 : argc != 3)
        return usage_error (context, "“identity” takes nothing; “export-identity” and "
                                     "“import-identity” take a FILE.");
      if (passphrase_file != NULL && command == NULL)
        return usage_error (context,
                            "--passphrase-file is for “export-identity” and “import-identity”.");
      if (profile == NULL)
        profile = ph_identity_get_default_profile_dir ();
      return ph_cli_run_identity (command, argc == 3 ? argv[2] : NULL, profile, passphrase_file,
                                  json);
    }
  if (passphrase_file != NULL)
    return usage_error (context,
                        "--passphrase-file is for “export-identity” and “import-identity”.");

  if (argc >= 2
      && (g_str_equal (argv[1], "contacts") || g_str_equal (argv[1], "verify")
          || g_str_equal (argv[1], "rename") || g_str_equal (argv[1], "remove")))
    {
      int wanted = g_str_equal (argv[1], "contacts") ? 2 : g_str_equal (argv[1], "rename") ? 4 : 3;

      if (argc != wanted)
        return usage_error (context, "“contacts” takes nothing, “verify” and “remove” a CONTACT "
                                     "(its id or name), “rename” a CONTACT and a NAME.");
      if (profile == NULL)
        profile = ph_identity_get_default_profile_dir ();
      choose_rendezvous (&rendezvous);
      return ph_cli_run_contacts ((const char *const *)argv + 1, profile, rendezvous, json);
    }

  if (argc == 2 && g_str_equal (argv[1], "nat-check"))
    {
      choose_rendezvous (&rendezvous);
      return run_nat_check (stun, rendezvous, json);
    }

  if (argc < 2
      || (!g_str_equal (argv[1], "host") && !g_str_equal (argv[1], "join")
          && !g_str_equal (argv[1], "chat") && !g_str_equal (argv[1], "listen")))
    return usage_error (context, "Say “host” to start a chat, “join CODE” to join one, "
                                 "“chat CONTACT” to write to a contact or “listen” to wait "
                                 "for your contacts.");
  if (g_str_equal (argv[1], "chat") && argc != 3)
    return usage_error (context, "“chat” takes a CONTACT: its id or its name.");
  if (g_str_equal (argv[1], "listen") && argc != 2)
    return usage_error (context, "“listen” takes nothing.");
  if ((g_str_equal (argv[1], "chat") || g_str_equal (argv[1], "listen")) && save_contact)
    return usage_error (context, "--save-contact is for “host” and “join”.");
  if (timeout_seconds < 1 || timeout_seconds > 24 * 3600)
    return usage_error (context, "--timeout must be between 1 and 86400 seconds.");
  if (g_str_equal (argv[1], "host") && argc != 2)
    return usage_error (context, "“host” takes no code.");
  if (g_str_equal (argv[1], "join") && argc != 3)
    return usage_error (context, "“join” takes the code your peer gave you, like 7-orbit-velvet, "
                                 "or “-” to read it from standard input.");

  if (turn_pass != NULL && turn_pass_file != NULL)
    return usage_error (context, "Give --turn-pass or --turn-pass-file, not both.");
  if (turn_pass_file != NULL)
    {
      turn_pass = ph_cli_read_secret_file (turn_pass_file, &error);
      if (turn_pass == NULL)
        return usage_error (context, error->message);
    }
  if (turn_pass == NULL && g_getenv ("PINHOLE_TURN_PASS") != NULL)
    turn_pass = g_strdup (g_getenv ("PINHOLE_TURN_PASS"));

  if (stun != NULL && !ph_ice_config_set_stun (ice_config, stun, &error))
    return usage_error (context, error->message);
  for (guint i = 0; turn_uris != NULL && turn_uris[i] != NULL; i++)
    {
      if (turn_user == NULL || turn_pass == NULL)
        return usage_error (context, "--turn needs --turn-user and a password "
                                     "(--turn-pass-file, $PINHOLE_TURN_PASS or --turn-pass).");
      if (!ph_ice_config_add_turn (ice_config, turn_uris[i], turn_user, turn_pass, &error))
        return usage_error (context, error->message);
    }
  ice_config->relay_only = relay_only;
  ice_config->port_mapping = !no_port_mapping;

  if (name == NULL)
    name = default_name ();
  else if (!ph_untrusted_text_check_name (name, &error))
    return usage_error (context, error->message);
  else if (g_utf8_strlen (name, -1) > PH_CONVERSATION_MAX_NAME_LENGTH)
    return usage_error (context, "--name must be at most 64 characters.");

  choose_rendezvous (&rendezvous);

  output = ph_cli_output_new (json);
  if (g_str_equal (argv[1], "chat") || g_str_equal (argv[1], "listen"))
    {
      PhCliMeetOptions options = {
        .contact = argc == 3 ? argv[2] : NULL,
        .rendezvous = rendezvous,
        .name = name,
        .ice_config = ice_config,
        .use_server_turn = !no_server_ice && stun == NULL && turn_uris == NULL,
        .timeout_seconds = timeout_seconds,
        .leave_copies = !no_stored_copies,
      };

      if (profile == NULL)
        profile = ph_identity_get_default_profile_dir ();
      options.profile = profile;
      return ph_cli_run_meet (&options, output);
    }
  if (save_contact)
    {
      if (profile == NULL)
        profile = ph_identity_get_default_profile_dir ();
      cli.contact_book = ph_cli_open_contact_book (profile, &error);
      if (cli.contact_book == NULL)
        {
          ph_cli_output_error (output, error);
          return 1;
        }
    }
  cli.output = output;
  cli.loop = g_main_loop_new (NULL, FALSE);
  cli.cancellable = g_cancellable_new ();
  cli.conversation = ph_conversation_new (rendezvous, name, ice_config);
  ph_conversation_set_use_server_turn (cli.conversation,
                                       !no_server_ice && stun == NULL && turn_uris == NULL);

  g_signal_connect (cli.conversation, "notify::state", G_CALLBACK (conversation_state_cb), &cli);
  g_signal_connect (cli.conversation, "notify::retrying-rendezvous",
                    G_CALLBACK (retrying_rendezvous_cb), &cli);
  g_signal_connect (cli.conversation, "message-received", G_CALLBACK (message_received_cb), &cli);
  g_signal_connect (cli.conversation, "message-delivered", G_CALLBACK (message_delivered_cb), &cli);
  g_signal_connect (cli.conversation, "message-failed", G_CALLBACK (message_failed_cb), &cli);
  g_signal_connect (cli.conversation, "notify::path", G_CALLBACK (path_changed_cb), &cli);
  g_signal_connect (cli.conversation, "closed", G_CALLBACK (closed_cb), &cli);
  g_signal_connect (cli.conversation, "failed", G_CALLBACK (failed_cb), &cli);
  g_signal_connect (cli.conversation, "contact-saved", G_CALLBACK (contact_saved_cb), &cli);
  g_signal_connect (cli.conversation, "contact-failed", G_CALLBACK (contact_failed_cb), &cli);
  g_signal_connect (cli.conversation, "notify::peer-wants-contact",
                    G_CALLBACK (peer_wants_contact_cb), &cli);
  if (cli.contact_book != NULL)
    ph_conversation_save_contact (cli.conversation, cli.contact_book);
  g_unix_signal_add (SIGINT, interrupt_cb, &cli);
  g_unix_signal_add (SIGTERM, interrupt_cb, &cli);

  stdin_stream = g_unix_input_stream_new (STDIN_FILENO, FALSE);
  cli.input = g_data_input_stream_new (stdin_stream);

  if (g_str_equal (argv[1], "join"))
    {
      code = argv[2];
      if (g_str_equal (code, "-"))
        code = code_from_stdin = read_code_line (cli.input, &error);
    }
  if (g_str_equal (argv[1], "host"))
    ph_conversation_host (cli.conversation);
  else if (code == NULL || !ph_conversation_join (cli.conversation, code, &error))
    {
      ph_cli_output_error (output, error);
      cli.exit_status = 1;
      goto out;
    }

  read_next_line (&cli);

  g_main_loop_run (cli.loop);

out:
  g_cancellable_cancel (cli.cancellable);
  g_clear_object (&cli.input);
  g_clear_object (&cli.conversation);
  g_clear_object (&cli.contact_book);
  g_clear_object (&cli.cancellable);
  g_main_loop_unref (cli.loop);
  return cli.exit_status;
}
