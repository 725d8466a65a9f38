/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-natlab"

#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ph-test-files.h"
#include "ph-test-needs-hooks.h"
#include "ph-test-process.h"
#include "ph-test-wait.h"

/* The NAT lab suite: pinhole-cli peers behind real (nftables) NATs in
 * network namespaces, built by tests/natlab/natlab.sh. Needs root,
 * nftables, conntrack and coturn; without them every test fails and says
 * what is missing. One lab serves the whole matrix: between cells the
 * routers switch NAT type and forget every mapping (natlab.sh nat). */

#define LAB_UP_TIMEOUT_MS ph_test_scaled_ms (30000)
#define CODE_TIMEOUT_MS ph_test_scaled_ms (15000)
#define CONNECT_TIMEOUT_MS ph_test_scaled_ms (30000)
#define FAIL_TIMEOUT_MS ph_test_scaled_ms (30000)
#define PATH_CHANGE_TIMEOUT_MS ph_test_scaled_ms (10000)
#define MESSAGE_TIMEOUT_MS ph_test_scaled_ms (10000)
#define EXIT_TIMEOUT_MS ph_test_scaled_ms (15000)

typedef struct
{
  char *spec;            /* the natlab.sh up options it was built with */
  PhTestProcess *holder; /* natlab.sh up --hold: the lab lives while it does */
  GHashTable *env;       /* NATLAB_* from its env file */
} Lab;

static Lab *current_lab;
static char *lab_error;
static GString *summary;
/* Each peer's debug log (GLib, libnice and Pinhole's own) goes to
 * natlab-logs/TEST/SIDE-N.log in the build directory; scripts/test.sh
 * prints the ends of a failed test's logs. */
static char *peer_log_root;

static const char *const nat_types[] = {
  "full-cone",
  "address-restricted",
  "port-restricted",
  "symmetric",
};

/* --- the lab --- */

static const char *
lab_get (Lab *lab, const char *key)
{
  const char *value = g_hash_table_lookup (lab->env, key);

  g_assert_nonnull (value);
  return value;
}

static void
lab_free (Lab *lab)
{
  int status;

  /* The end of its input tells natlab.sh to take the lab down. */
  ph_test_process_close_stdin (lab->holder);
  status = ph_test_process_wait_exit (lab->holder, ph_test_scaled_ms (30000));
  if (status != 0)
    g_test_message ("natlab.sh exited with %d while taking lab %s down", status,
                    (char *)g_hash_table_lookup (lab->env, "NATLAB_ID"));
  ph_test_process_free (lab->holder);
  g_hash_table_unref (lab->env);
  g_free (lab->spec);
  g_free (lab);
}

static char *
check_preconditions (void)
{
  const char *const variables[] = { "PH_NATLAB_SH", "PINHOLE_CLI_BIN", "PINHOLE_RENDEZVOUS_BIN" };

  if (geteuid () != 0)
    return g_strdup ("the natlab suite needs root: it builds network namespaces and nftables "
                     "NATs; run it as root (CI does)");
  for (guint i = 0; i < G_N_ELEMENTS (variables); i++)
    if (g_getenv (variables[i]) == NULL
        || !g_file_test (g_getenv (variables[i]), G_FILE_TEST_IS_EXECUTABLE))
      return g_strdup_printf ("%s does not name an executable; run the suite with meson test",
                              variables[i]);
  return NULL;
}

/* Returns the lab built with @spec (space-separated natlab.sh up options),
 * building it (and taking the previous one down) when needed; NULL after
 * failing the test with the reason. */
static Lab *
get_lab (const char *spec)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) options = g_strsplit (spec, " ", -1);
  g_autofree char *id = g_strdup_printf ("t%05x", g_random_int_range (0, 0xfffff));
  Lab *lab;

  if (current_lab != NULL && g_str_equal (current_lab->spec, spec))
    return current_lab;
  g_clear_pointer (&current_lab, lab_free);

  if (lab_error == NULL)
    lab_error = check_preconditions ();
  if (lab_error != NULL)
    {
      g_test_fail_printf ("%s", lab_error);
      return NULL;
    }

  g_ptr_array_add (argv, g_strdup (g_getenv ("PH_NATLAB_SH")));
  g_ptr_array_add (argv, g_strdup ("up"));
  g_ptr_array_add (argv, g_strdup ("--id"));
  g_ptr_array_add (argv, g_strdup (id));
  for (guint i = 0; options[i] != NULL; i++)
    if (*options[i] != '\0')
      g_ptr_array_add (argv, g_strdup (options[i]));
  g_ptr_array_add (argv, g_strdup ("--hold"));
  g_ptr_array_add (argv, NULL);

  lab = g_new0 (Lab, 1);
  lab->spec = g_strdup (spec);
  lab->env = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  lab->holder = ph_test_process_spawn ((const char *const *)argv->pdata, NULL);
  for (;;)
    {
      g_autofree char *line = ph_test_process_read_line (lab->holder, LAB_UP_TIMEOUT_MS);
      char *equals;

      if (line == NULL)
        {
          lab_free (lab);
          g_test_fail_printf ("natlab.sh up %s did not build the lab (its reason is in the log "
                              "above: missing tools are named there)",
                              spec);
          return NULL;
        }
      equals = strchr (line, '=');
      if (equals == NULL)
        continue;
      *equals = '\0';
      g_hash_table_insert (lab->env, g_strdup (line), g_strdup (equals + 1));
      if (g_str_equal (line, "NATLAB_READY"))
        break;
    }
  current_lab = lab;
  return lab;
}

static gboolean
lab_set_nat (Lab *lab, const char *side, const char *type)
{
  const char *argv[]
      = { g_getenv ("PH_NATLAB_SH"), "nat", lab_get (lab, "NATLAB_ID"), side, type, NULL };
  g_autoptr (GError) error = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status,
                     &error)
      || !g_spawn_check_wait_status (status, &error))
    {
      g_test_fail_printf ("could not make router %s %s: %s", side, type, error->message);
      return FALSE;
    }
  return TRUE;
}

/* --- peers --- */

/* A new log file for a peer on @side in the directory of the running test. */
static char *
new_peer_log_path (const char *side)
{
  static guint count;
  g_autofree char *test_dir = g_strdup (g_test_get_path () + strlen ("/natlab/"));
  g_autofree char *dir = g_build_filename (peer_log_root, g_strdelimit (test_dir, "/", '_'), NULL);
  g_autofree char *name = g_strdup_printf ("%s-%u.log", side, ++count);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  return g_build_filename (dir, name, NULL);
}

/* Spawns @argv (pinhole-cli in a namespace) with every debug message on,
 * written to a new log of @side. */
static PhTestProcess *
spawn_peer (const char *side, const char *const *argv, const char *const *envp)
{
  g_autoptr (GStrvBuilder) environment = g_strv_builder_new ();
  g_auto (GStrv) full_envp = NULL;
  g_autofree char *log_path = new_peer_log_path (side);

  g_strv_builder_add (environment, "G_MESSAGES_DEBUG=all");
  if (envp != NULL)
    g_strv_builder_addv (environment, (const char **)envp);
  full_envp = g_strv_builder_end (environment);
  return ph_test_process_spawn_logged (argv, (const char *const *)full_envp, log_path);
}

/* pinhole-cli in the namespace of @side. @ice_args are its STUN/TURN
 * options; "TURN" in them stands for the lab's TURN options. */
static PhTestProcess *
spawn_cli_env (Lab *lab, const char *side, const char *ice_args, const char *command,
               const char *code, const char *const *envp)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) options = g_strsplit (ice_args, " ", -1);
  g_autofree char *ns_key = g_strdup_printf ("NATLAB_NS_%s", side);

  g_ptr_array_add (argv, g_strdup ("ip"));
  g_ptr_array_add (argv, g_strdup ("netns"));
  g_ptr_array_add (argv, g_strdup ("exec"));
  g_ptr_array_add (argv, g_strdup (lab_get (lab, ns_key)));
  g_ptr_array_add (argv, g_strdup (g_getenv ("PINHOLE_CLI_BIN")));
  g_ptr_array_add (argv, g_strdup ("--json"));
  g_ptr_array_add (argv, g_strdup_printf ("--rendezvous=%s", lab_get (lab, "NATLAB_RENDEZVOUS")));
  g_ptr_array_add (argv, g_strdup_printf ("--name=%s", side));
  for (guint i = 0; options[i] != NULL; i++)
    {
      if (*options[i] == '\0')
        continue;
      if (g_str_equal (options[i], "STUN"))
        g_ptr_array_add (argv, g_strdup_printf ("--stun=%s", lab_get (lab, "NATLAB_STUN")));
      else if (g_str_equal (options[i], "TURN"))
        {
          g_ptr_array_add (argv, g_strdup_printf ("--turn=%s", lab_get (lab, "NATLAB_TURN")));
          g_ptr_array_add (argv,
                           g_strdup_printf ("--turn-user=%s", lab_get (lab, "NATLAB_TURN_USER")));
          g_ptr_array_add (argv,
                           g_strdup_printf ("--turn-pass=%s", lab_get (lab, "NATLAB_TURN_PASS")));
        }
      else
        g_ptr_array_add (argv, g_strdup (options[i]));
    }
  g_ptr_array_add (argv, g_strdup (command));
  if (code != NULL)
    g_ptr_array_add (argv, g_strdup (code));
  g_ptr_array_add (argv, NULL);
  return spawn_peer (side, (const char *const *)argv->pdata, envp);
}

static PhTestProcess *
spawn_cli (Lab *lab, const char *side, const char *ice_args, const char *command, const char *code)
{
  return spawn_cli_env (lab, side, ice_args, command, code, NULL);
}

static const char *
path_end_type (JsonObject *connected, const char *end)
{
  JsonObject *path = json_object_get_object_member (connected, "path");
  JsonObject *side;

  if (path == NULL || !json_object_has_member (path, end))
    return "?";
  side = json_object_get_object_member (path, end);
  return json_object_get_string_member_with_default (side, "type", "?");
}

static gboolean
path_relayed (JsonObject *connected)
{
  JsonObject *path = json_object_get_object_member (connected, "path");

  return path != NULL && json_object_get_boolean_member_with_default (path, "relayed", FALSE);
}

typedef enum
{
  EXPECT_DIRECT,
  EXPECT_RELAYED,
  EXPECT_RELAY_ONLY, /* relayed, and the local end a relay on both sides */
  EXPECT_HOST,       /* both peers on one LAN: host ↔ host */
  EXPECT_FAILURE,
  EXPECT_RELAYED_TCP,   /* relayed, a relay end's TURN leg TCP to port 3478 */
  EXPECT_RELAYED_TLS,   /* relayed, a relay end's TURN leg TLS to port 443 */
  EXPECT_RELAYED_PROXY, /* as TLS, and through the system's proxy */
  EXPECT_DIRECT_IPV6,   /* host ↔ host over global IPv6, through two firewalls */
} Expectation;

/* A relay end names how it reaches the lab's coturn: over UDP unless the
 * cell says TCP (port 3478) or TLS (port 443, maybe through the proxy). */
static gboolean
turn_leg_named (const char *who, JsonObject *connected, Expectation expect)
{
  JsonObject *path = json_object_get_object_member (connected, "path");
  const char *transport
      = path != NULL ? json_object_get_string_member_with_default (path, "turn_transport", NULL)
                     : NULL;
  gint64 port = path != NULL ? json_object_get_int_member_with_default (path, "turn_port", 0) : 0;
  gboolean proxy
      = path != NULL && json_object_get_boolean_member_with_default (path, "turn_proxy", FALSE);
  const char *wanted = "udp";
  gint64 wanted_port = 0;

  if (expect == EXPECT_RELAYED_TCP)
    {
      wanted = "tcp";
      wanted_port = 3478;
    }
  else if (expect == EXPECT_RELAYED_TLS || expect == EXPECT_RELAYED_PROXY)
    {
      wanted = "tls";
      wanted_port = 443;
    }
  if (!g_str_equal (path_end_type (connected, "local"), "relay")
      || (g_strcmp0 (transport, wanted) == 0 && (wanted_port == 0 || port == wanted_port)
          && proxy == (expect == EXPECT_RELAYED_PROXY)))
    return TRUE;
  g_test_fail_printf (
      "%s: a relayed path names its TURN leg \"%s\", port %" G_GINT64_FORMAT "%s, not \"%s\"%s",
      who, transport != NULL ? transport : "(none)", port, proxy ? " through a proxy" : "", wanted,
      expect == EXPECT_RELAYED_PROXY ? " through the proxy" : "");
  return FALSE;
}

/* Whether an end of the path is a global IPv6 address. */
static gboolean
path_end_ipv6 (JsonObject *connected, const char *end)
{
  JsonObject *path = json_object_get_object_member (connected, "path");
  const char *address;

  if (path == NULL || !json_object_has_member (path, end))
    return FALSE;
  address = json_object_get_string_member_with_default (json_object_get_object_member (path, end),
                                                        "address", "");
  return g_str_has_prefix (address, "2001:db8:");
}

static gboolean
check_path (const char *who, JsonObject *connected, Expectation expect)
{
  const char *local = path_end_type (connected, "local");
  const char *remote = path_end_type (connected, "remote");
  gboolean relayed = path_relayed (connected);
  const char *const direct_types[] = { "host", "srflx", "prflx", NULL };

  switch (expect)
    {
    case EXPECT_DIRECT:
      if (!relayed && g_strv_contains (direct_types, local)
          && g_strv_contains (direct_types, remote)
          && !(g_str_equal (local, "host") && g_str_equal (remote, "host")))
        return TRUE;
      break;
    case EXPECT_HOST:
      if (!relayed && g_str_equal (local, "host") && g_str_equal (remote, "host"))
        return TRUE;
      break;
    case EXPECT_RELAYED:
    case EXPECT_RELAYED_TCP:
    case EXPECT_RELAYED_TLS:
    case EXPECT_RELAYED_PROXY:
      if (relayed && (g_str_equal (local, "relay") || g_str_equal (remote, "relay")))
        return turn_leg_named (who, connected, expect);
      break;
    case EXPECT_RELAY_ONLY:
      if (relayed && g_str_equal (local, "relay"))
        return turn_leg_named (who, connected, expect);
      break;
    case EXPECT_DIRECT_IPV6:
      if (!relayed && g_str_equal (local, "host") && g_str_equal (remote, "host")
          && path_end_ipv6 (connected, "local") && path_end_ipv6 (connected, "remote"))
        return TRUE;
      break;
    case EXPECT_FAILURE:
    default:
      break;
    }
  g_test_fail_printf ("%s: unexpected path %s <-> %s (relayed: %s)", who, local, remote,
                      relayed ? "yes" : "no");
  return FALSE;
}

/* The channel opens on the first pair that works, which may be a relay;
 * where a direct path exists ICE must then move to it and say so. */
static JsonObject *
settled_path (PhTestProcess *peer, JsonObject *connected, Expectation expect)
{
  const char *const path_changed[] = { "path-changed", NULL };
  JsonObject *changed;

  if ((expect != EXPECT_DIRECT && expect != EXPECT_DIRECT_IPV6) || !path_relayed (connected))
    return json_object_ref (connected);

  changed = ph_test_process_next_event (peer, path_changed, PATH_CHANGE_TIMEOUT_MS);
  return changed != NULL ? changed : json_object_ref (connected);
}

static gboolean
exchange_message (PhTestProcess *from, PhTestProcess *to, const char *text)
{
  const char *const message_event[] = { "message", NULL };
  g_autoptr (JsonObject) received = NULL;

  ph_test_process_write_line (from, text);
  received = ph_test_process_next_event (to, message_event, MESSAGE_TIMEOUT_MS);
  if (received == NULL
      || g_strcmp0 (json_object_get_string_member_with_default (received, "text", ""), text) != 0)
    {
      g_test_fail_printf ("'%s' did not arrive within %u ms", text, MESSAGE_TIMEOUT_MS);
      return FALSE;
    }
  return TRUE;
}

/* One cell: host on side A (with @host_envp added to its environment),
 * join on side B, and what must happen. Adds a line to the summary. */
static void
run_cell_full (Lab *lab, const char *label, const char *ice_args_a, const char *ice_args_b,
               Expectation expect, const char *const *host_envp)
{
  const char *const code_event[] = { "code", "error", NULL };
  const char *const outcome_events[] = { "connected", "error", NULL };
  const char *const closed_event[] = { "closed", NULL };
  g_autoptr (PhTestProcess) host = NULL;
  g_autoptr (PhTestProcess) join = NULL;
  g_autoptr (JsonObject) code = NULL;
  g_autoptr (JsonObject) host_outcome = NULL;
  g_autoptr (JsonObject) join_outcome = NULL;
  g_autoptr (JsonObject) host_path = NULL;
  g_autoptr (JsonObject) join_path = NULL;
  g_autofree char *outcome = NULL;
  gint64 start;
  gint64 elapsed_ms;

  host = spawn_cli_env (lab, "A", ice_args_a, "host", NULL, host_envp);
  code = ph_test_process_next_event (host, code_event, CODE_TIMEOUT_MS);
  if (code == NULL || !json_object_has_member (code, "code"))
    {
      g_test_fail_printf ("the host printed no code within %u ms", CODE_TIMEOUT_MS);
      g_string_append_printf (summary, "%-52s no code\n", label);
      return;
    }

  start = g_get_monotonic_time ();
  join = spawn_cli (lab, "B", ice_args_b, "join", json_object_get_string_member (code, "code"));
  join_outcome = ph_test_process_next_event (
      join, outcome_events, expect == EXPECT_FAILURE ? FAIL_TIMEOUT_MS : CONNECT_TIMEOUT_MS);
  host_outcome = ph_test_process_next_event (host, outcome_events, ph_test_scaled_ms (10000));
  elapsed_ms = (g_get_monotonic_time () - start) / 1000;

  if (join_outcome == NULL || host_outcome == NULL)
    {
      g_test_fail_printf ("%s: no connected or error event within %" G_GINT64_FORMAT " ms", label,
                          elapsed_ms);
      g_string_append_printf (summary, "%-52s nothing after %" G_GINT64_FORMAT " ms\n", label,
                              elapsed_ms);
      return;
    }

  if (expect == EXPECT_FAILURE)
    {
      const char *join_code = json_object_get_string_member_with_default (join_outcome, "code", "");
      const char *host_code = json_object_get_string_member_with_default (host_outcome, "code", "");

      outcome = g_strdup_printf (
          "failed as expected: %s after %" G_GINT64_FORMAT " ms: %s", join_code, elapsed_ms,
          json_object_get_string_member_with_default (join_outcome, "message", ""));
      if (!g_str_equal (json_object_get_string_member (join_outcome, "event"), "error")
          || !g_str_equal (join_code, "ice-failed") || !g_str_equal (host_code, "ice-failed"))
        {
          g_free (outcome);
          outcome = g_strdup_printf ("should have failed with ice-failed, got %s/%s", join_code,
                                     host_code);
          g_test_fail_printf ("%s: %s", label, outcome);
        }
      g_string_append_printf (summary, "%-52s %s\n", label, outcome);
      return;
    }

  if (!g_str_equal (json_object_get_string_member (join_outcome, "event"), "connected")
      || !g_str_equal (json_object_get_string_member (host_outcome, "event"), "connected"))
    {
      g_test_fail_printf (
          "%s: did not connect: %s", label,
          json_object_get_string_member_with_default (
              join_outcome, "message",
              json_object_get_string_member_with_default (host_outcome, "message", "")));
      g_string_append_printf (summary, "%-52s FAILED to connect\n", label);
      return;
    }

  host_path = settled_path (host, host_outcome, expect);
  join_path = settled_path (join, join_outcome, expect);
  g_string_append_printf (
      summary, "%-52s %s %s<->%s (join %" G_GINT64_FORMAT " ms, setup_ms %" G_GINT64_FORMAT ")%s\n",
      label, path_relayed (join_path) ? "relayed" : "direct ", path_end_type (join_path, "local"),
      path_end_type (join_path, "remote"), elapsed_ms,
      json_object_get_int_member_with_default (join_outcome, "setup_ms", -1),
      join_path != join_outcome ? ", after starting on a relay" : "");
  if (!check_path ("host", host_path, expect) || !check_path ("join", join_path, expect))
    return;
  if (!exchange_message (host, join, "hello from behind NAT A")
      || !exchange_message (join, host, "hello back from behind NAT B"))
    return;

  /* Both leave; each side reports the end and exits cleanly. */
  ph_test_process_close_stdin (host);
  ph_test_process_close_stdin (join);
  g_clear_pointer (&host_outcome, json_object_unref);
  host_outcome = ph_test_process_next_event (host, closed_event, EXIT_TIMEOUT_MS);
  join_outcome = ph_test_process_next_event (join, closed_event, EXIT_TIMEOUT_MS);
  if (host_outcome == NULL || join_outcome == NULL)
    g_test_fail_printf ("%s: the peers did not report the end of the chat", label);
  g_assert_cmpint (ph_test_process_wait_exit (host, EXIT_TIMEOUT_MS), ==, 0);
  g_assert_cmpint (ph_test_process_wait_exit (join, EXIT_TIMEOUT_MS), ==, 0);
}

static void
run_cell (Lab *lab, const char *label, const char *ice_args_a, const char *ice_args_b,
          Expectation expect)
{
  run_cell_full (lab, label, ice_args_a, ice_args_b, expect, NULL);
}

/* --- faults: a conversation that has to outlive its network --- */

#define FAULT_TIMEOUT_MS ph_test_scaled_ms (90000)
/* How long a peer tries to reconnect before it reports the other lost, in
 * the peer-killed test (the default is 60 s). */
#define KILL_RECONNECT_SECONDS 8

static gboolean
lab_command (Lab *lab, const char *command, const char *side, const char *argument)
{
  const char *argv[]
      = { g_getenv ("PH_NATLAB_SH"), command, lab_get (lab, "NATLAB_ID"), side, argument, NULL };
  g_autoptr (GError) error = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status,
                     &error)
      || !g_spawn_check_wait_status (status, &error))
    {
      g_test_fail_printf ("natlab.sh %s %s %s failed: %s", command, side,
                          argument != NULL ? argument : "", error->message);
      return FALSE;
    }
  return TRUE;
}

/* What one pinhole-cli has printed so far. */
typedef struct
{
  const char *who;
  PhTestProcess *process;
  GPtrArray *messages;   /* texts, in the order printed */
  GHashTable *sent;      /* id → text */
  GHashTable *delivered; /* id → text */
  GHashTable *failed;    /* id → reason */
  guint connected;
  guint reconnecting;
  gboolean relayed; /* the path of the last connected or path-changed */
  char *closed;     /* reason */
  char *error;      /* code */
} Tally;

static void
tally_init (Tally *tally, const char *who, PhTestProcess *process)
{
  *tally = (Tally){ .who = who, .process = process };
  tally->messages = g_ptr_array_new_with_free_func (g_free);
  tally->sent = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  tally->delivered = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  tally->failed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

static void
tally_clear (Tally *tally)
{
  g_clear_pointer (&tally->process, ph_test_process_free);
  g_ptr_array_unref (tally->messages);
  g_hash_table_unref (tally->sent);
  g_hash_table_unref (tally->delivered);
  g_hash_table_unref (tally->failed);
  g_free (tally->closed);
  g_free (tally->error);
}

static void
tally_line (Tally *tally, const char *line)
{
  g_autoptr (JsonObject) object = ph_test_parse_event (line);
  const char *event;
  const char *id;

  if (object == NULL)
    return;
  event = json_object_get_string_member_with_default (object, "event", "");
  id = json_object_get_string_member_with_default (object, "id", "");

  if (g_str_equal (event, "message"))
    g_ptr_array_add (tally->messages,
                     g_strdup (json_object_get_string_member_with_default (object, "text", "")));
  else if (g_str_equal (event, "sent"))
    g_hash_table_insert (
        tally->sent, g_strdup (id),
        g_strdup (json_object_get_string_member_with_default (object, "text", "")));
  else if (g_str_equal (event, "delivered"))
    {
      if (g_hash_table_contains (tally->delivered, id))
        g_test_fail_printf ("%s: %s was reported delivered twice", tally->who, id);
      g_hash_table_insert (tally->delivered, g_strdup (id),
                           g_strdup (g_hash_table_lookup (tally->sent, id)));
    }
  else if (g_str_equal (event, "failed"))
    g_hash_table_insert (
        tally->failed, g_strdup (id),
        g_strdup (json_object_get_string_member_with_default (object, "reason", "")));
  else if (g_str_equal (event, "connected") || g_str_equal (event, "path-changed"))
    {
      tally->connected += g_str_equal (event, "connected");
      tally->relayed = path_relayed (object);
    }
  else if (g_str_equal (event, "reconnecting"))
    tally->reconnecting++;
  else if (g_str_equal (event, "closed"))
    tally->closed = g_strdup (json_object_get_string_member_with_default (object, "reason", ""));
  else if (g_str_equal (event, "error"))
    {
      tally->error = g_strdup (json_object_get_string_member_with_default (object, "code", "?"));
      g_test_message ("%s: error %s: %s", tally->who, tally->error,
                      json_object_get_string_member_with_default (object, "message", ""));
    }
}

typedef gboolean (*TallyCheck) (Tally *a, Tally *b, gpointer data);

/* Reads both peers' events until @check holds (TRUE) or @timeout_ms
 * passes (FALSE). A NULL @check just reads for @timeout_ms. */
static gboolean
pump (Tally *a, Tally *b, TallyCheck check, gpointer data, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * (gint64)1000;

  while (g_get_monotonic_time () < deadline)
    {
      Tally *tallies[] = { a, b };

      if (check != NULL && check (a, b, data))
        return TRUE;
      for (guint i = 0; i < G_N_ELEMENTS (tallies); i++)
        {
          g_autofree char *line = NULL;

          if (tallies[i] == NULL || tallies[i]->process == NULL)
            continue;
          line = ph_test_process_read_line (tallies[i]->process, 20);
          while (line != NULL)
            {
              tally_line (tallies[i], line);
              g_free (line);
              line = ph_test_process_read_line (tallies[i]->process, 0);
            }
        }
    }
  return check != NULL && check (a, b, data);
}

static gboolean
both_connected (Tally *a, Tally *b, gpointer data)
{
  guint wanted = GPOINTER_TO_UINT (data);

  return (a->connected >= wanted && b->connected >= wanted) || a->error != NULL || b->error != NULL
         || a->closed != NULL || b->closed != NULL;
}

typedef struct
{
  guint messages;  /* each side has received this many */
  guint delivered; /* each side has had this many acknowledged */
} Counts;

static gboolean
counts_reached (Tally *a, Tally *b, gpointer data)
{
  const Counts *counts = data;

  if (a->error != NULL || b->error != NULL || a->closed != NULL || b->closed != NULL)
    return TRUE;
  return a->messages->len >= counts->messages && b->messages->len >= counts->messages
         && g_hash_table_size (a->delivered) >= counts->delivered
         && g_hash_table_size (b->delivered) >= counts->delivered;
}

static gboolean
both_closed (Tally *a, Tally *b, gpointer data)
{
  return a->closed != NULL && b->closed != NULL;
}

/* Host on A, join on B; TRUE once both are connected. */
static gboolean
start_chat (Lab *lab, const char *ice_args, const char *const *envp, Tally *a, Tally *b)
{
  const char *const code_event[] = { "code", "error", NULL };
  g_autoptr (JsonObject) code = NULL;
  PhTestProcess *host = spawn_cli_env (lab, "A", ice_args, "host", NULL, envp);
  PhTestProcess *join;

  tally_init (a, "A", host);
  code = ph_test_process_next_event (host, code_event, CODE_TIMEOUT_MS);
  if (code == NULL || !json_object_has_member (code, "code"))
    {
      tally_init (b, "B", NULL);
      g_test_fail_printf ("the host printed no code within %u ms", CODE_TIMEOUT_MS);
      return FALSE;
    }
  join = spawn_cli_env (lab, "B", ice_args, "join", json_object_get_string_member (code, "code"),
                        envp);
  tally_init (b, "B", join);
  if (!pump (a, b, both_connected, GUINT_TO_POINTER (1), CONNECT_TIMEOUT_MS) || a->connected < 1
      || b->connected < 1)
    {
      g_test_fail_printf ("the peers did not connect (errors: %s / %s)", a->error, b->error);
      return FALSE;
    }
  return TRUE;
}

/* Every line each side wrote arrived on the other, once and in order, and
 * every one of them was acknowledged. */
static gboolean
check_received (Tally *from, Tally *to, const char *prefix, guint count)
{
  if (to->messages->len != count)
    {
      g_test_fail_printf ("%s received %u messages from %s, not %u", to->who, to->messages->len,
                          from->who, count);
      return FALSE;
    }
  for (guint i = 0; i < count; i++)
    {
      g_autofree char *expected = g_strdup_printf ("%s %u", prefix, i);

      if (!g_str_equal (g_ptr_array_index (to->messages, i), expected))
        {
          g_test_fail_printf ("%s's message %u is '%s', not '%s'", to->who, i,
                              (char *)g_ptr_array_index (to->messages, i), expected);
          return FALSE;
        }
    }
  if (g_hash_table_size (from->delivered) != count)
    {
      g_test_fail_printf ("%s had %u of %u messages acknowledged", from->who,
                          g_hash_table_size (from->delivered), count);
      return FALSE;
    }
  return TRUE;
}

static void
write_lines (Tally *tally, const char *prefix, guint from, guint to)
{
  for (guint i = from; i < to; i++)
    {
      g_autofree char *line = g_strdup_printf ("%s %u", prefix, i);

      ph_test_process_write_line (tally->process, line);
    }
}

/* Both leave; both report it and exit cleanly. */
static void
end_chat (Tally *a, Tally *b)
{
  ph_test_process_close_stdin (a->process);
  ph_test_process_close_stdin (b->process);
  if (!pump (a, b, both_closed, NULL, EXIT_TIMEOUT_MS))
    g_test_fail_printf ("the peers did not report the end of the chat");
  g_assert_cmpint (ph_test_process_wait_exit (a->process, EXIT_TIMEOUT_MS), ==, 0);
  g_assert_cmpint (ph_test_process_wait_exit (b->process, EXIT_TIMEOUT_MS), ==, 0);
}

/* @count messages each way at once; returns the seconds until every one
 * was acknowledged (within @timeout_ms), or -1 after failing the test.
 * With @loss (a percentage, one decimal allowed), both routers drop that
 * much more once the peers are connected, until the chat ends.
 * @out_reconnections, if not NULL, counts the reconnections both sides
 * went through meanwhile. */
static double
run_bulk (Lab *lab, guint count, const char *loss, guint timeout_ms, guint *out_reconnections)
{
  Tally a, b;
  Counts all = { count, count };
  gint64 start;
  double seconds = -1;

  if (start_chat (lab, "STUN", NULL, &a, &b)
      && (loss == NULL
          || (lab_command (lab, "loss", "a", loss) && lab_command (lab, "loss", "b", loss))))
    {
      start = g_get_monotonic_time ();
      write_lines (&a, "from A", 0, count);
      write_lines (&b, "from B", 0, count);
      if (!pump (&a, &b, counts_reached, &all, timeout_ms))
        g_test_message ("after %u s: A has %u of B's messages and %u acknowledged, B has %u "
                        "and %u acknowledged",
                        timeout_ms / 1000, a.messages->len, g_hash_table_size (a.delivered),
                        b.messages->len, g_hash_table_size (b.delivered));
      seconds = (g_get_monotonic_time () - start) / (double)G_USEC_PER_SEC;
      if (out_reconnections != NULL)
        *out_reconnections = a.reconnecting + b.reconnecting;
      end_chat (&a, &b);
      if (loss != NULL)
        {
          lab_command (lab, "loss", "a", "0");
          lab_command (lab, "loss", "b", "0");
        }
      /* Checked after the end, so a late duplicate would be counted too. */
      if (!check_received (&a, &b, "from A", count) || !check_received (&b, &a, "from B", count))
        seconds = -1;
    }
  tally_clear (&a);
  tally_clear (&b);
  return seconds;
}

static double lossless_bulk_seconds = -1;

static void
test_bulk_lossless (void)
{
  Lab *lab = get_lab ("");

  if (lab == NULL || !lab_set_nat (lab, "a", "port-restricted")
      || !lab_set_nat (lab, "b", "port-restricted"))
    return;
  lossless_bulk_seconds = run_bulk (lab, 1000, NULL, FAULT_TIMEOUT_MS, NULL);
  g_test_message ("1,000 messages each way without loss: %.2f s", lossless_bulk_seconds);
  g_string_append_printf (summary, "%-52s %.2f s\n", "fault: 1,000 each way, no loss",
                          lossless_bulk_seconds);
}

/* Each router drops 5% of what it forwards, both ways (so about 10% of
 * the packets between the peers): the link resends, and every
 * message still arrives once and in order. */
static void
test_bulk_with_loss (void)
{
  Lab *lab = get_lab ("--loss 5");
  double seconds;

  if (lab == NULL)
    return;
  seconds = run_bulk (lab, 1000, NULL, FAULT_TIMEOUT_MS, NULL);
  g_test_message ("1,000 messages each way with 5%% loss per router: %.2f s (%.2f s without loss)",
                  seconds, lossless_bulk_seconds);
  g_string_append_printf (summary, "%-52s %.2f s (no loss: %.2f s)\n",
                          "fault: 1,000 each way, 5% loss per router", seconds,
                          lossless_bulk_seconds);
}

/* Heavy loss and jitter: each access link holds frames 50 ms +/- 50 ms
 * one way, so a packet between the peers (two links) waits 100 ms +/- 100
 * ms; once the peers are connected each router also drops 10.6% of what
 * it forwards, both ways, so a packet between the peers (two routers) is
 * lost with 1 - 0.894^2 = 20.1% in each direction. The loss starts after
 * the setup because this test is about delivery: a setup under it fails
 * now and then (2 in 35 here, both ice-failed: libnice's connectivity
 * checks ran out of retransmissions, or a server-reflexive candidate went
 * missing). A reconnection mid-bulk is allowed, and would set up under
 * the full loss; losing, duplicating or reordering a message is not.
 * Measured here: 5-7 s, without reconnections; the bound leaves room for
 * a reconnection or two. */
#define HEAVY_LOSS_LAB "--delay 50 --jitter 50"
#define HEAVY_LOSS_PERCENT "10.6"
#define HEAVY_LOSS_TIMEOUT_MS ph_test_scaled_ms (120000)

static void
test_bulk_with_heavy_loss (void)
{
  Lab *lab = get_lab (HEAVY_LOSS_LAB);
  guint reconnections = 0;
  double seconds;

  if (lab == NULL)
    return;
  seconds = run_bulk (lab, 1000, HEAVY_LOSS_PERCENT, HEAVY_LOSS_TIMEOUT_MS, &reconnections);
  g_test_message ("1,000 messages each way with 20.1%% loss and 100 +/- 100 ms one way between "
                  "the peers: %.2f s, %u reconnections (%.2f s without loss or delay)",
                  seconds, reconnections, lossless_bulk_seconds);
  g_string_append_printf (summary, "%-52s %.2f s, %u reconnections\n",
                          "fault: 1,000 each way, 20.1% loss, 100+/-100 ms", seconds,
                          reconnections);
}

/* The rendezvous answers the host 2.5 s late (a busy or rate-limiting
 * server). The joiner, behind a symmetric NAT, checks the host's
 * address-restricted NAT as soon as it has the host's candidates, but
 * that NAT lets nothing in until the host, having heard the joiner at
 * last, sends to it: the joiner's checks must still be going then. */
static void
test_slow_rendezvous (void)
{
  Lab *lab = get_lab ("");

  if (lab != NULL && lab_set_nat (lab, "a", "address-restricted")
      && lab_set_nat (lab, "b", "symmetric"))
    {
      const char *const slow_server[] = { "PINHOLE_TEST_POLL_DELAY_MS=2500", NULL };

      run_cell_full (lab, "fault: the host hears the rendezvous 2.5 s late", "STUN", "STUN",
                     EXPECT_DIRECT, slow_server);
    }
}

/* Both uplinks go dead for 15 s in the middle of a chat, while both sides
 * keep typing: they notice, reconnect once the lines are back, and deliver
 * everything. */
static void
test_path_cut (void)
{
  Lab *lab = get_lab ("");
  Tally a, b;
  Counts first = { 1, 1 };
  Counts all = { 6, 6 };
  gint64 restored;
  double seconds;

  if (lab == NULL || !lab_set_nat (lab, "a", "port-restricted")
      || !lab_set_nat (lab, "b", "port-restricted"))
    return;
  if (start_chat (lab, "STUN", NULL, &a, &b))
    {
      write_lines (&a, "from A", 0, 1);
      write_lines (&b, "from B", 0, 1);
      g_assert_true (pump (&a, &b, counts_reached, &first, MESSAGE_TIMEOUT_MS));

      if (lab_command (lab, "cut", "a", "on") && lab_command (lab, "cut", "b", "on"))
        {
          write_lines (&a, "from A", 1, 6);
          write_lines (&b, "from B", 1, 6);
          pump (&a, &b, NULL, NULL, 15000);
          lab_command (lab, "cut", "a", "off");
          lab_command (lab, "cut", "b", "off");
          restored = g_get_monotonic_time ();

          pump (&a, &b, both_connected, GUINT_TO_POINTER (2), FAULT_TIMEOUT_MS);
          pump (&a, &b, counts_reached, &all, FAULT_TIMEOUT_MS);
          seconds = (g_get_monotonic_time () - restored) / (double)G_USEC_PER_SEC;
          g_test_message ("path cut for 15 s: reconnecting seen %u/%u times, everything "
                          "delivered %.1f s after the lines came back",
                          a.reconnecting, b.reconnecting, seconds);
          g_string_append_printf (summary, "%-52s reconnected, all delivered %.1f s after\n",
                                  "fault: both uplinks cut for 15 s", seconds);
          g_assert_cmpuint (a.reconnecting, >=, 1);
          g_assert_cmpuint (b.reconnecting, >=, 1);
          g_assert_cmpuint (a.connected, >=, 2);
          g_assert_cmpuint (b.connected, >=, 2);
          end_chat (&a, &b);
          check_received (&a, &b, "from A", 6);
          check_received (&b, &a, "from B", 6);
        }
      lab_command (lab, "cut", "a", "off");
      lab_command (lab, "cut", "b", "off");
    }
  tally_clear (&a);
  tally_clear (&b);
}

/* Both routers forget every mapping mid-chat. Behind symmetric NATs over
 * TURN that moves each peer to a new port, which its TURN allocation does
 * not know: the chat has to recover (by reconnecting) and lose nothing. */
static void
test_nat_flush (void)
{
  Lab *lab = get_lab ("");
  Tally a, b;
  Counts first = { 1, 1 };
  Counts all = { 4, 4 };
  gint64 flushed;
  double seconds;

  if (lab == NULL || !lab_set_nat (lab, "a", "symmetric") || !lab_set_nat (lab, "b", "symmetric"))
    return;
  if (start_chat (lab, "STUN TURN", NULL, &a, &b))
    {
      write_lines (&a, "from A", 0, 1);
      write_lines (&b, "from B", 0, 1);
      g_assert_true (pump (&a, &b, counts_reached, &first, MESSAGE_TIMEOUT_MS));

      if (lab_command (lab, "flush", "a", NULL) && lab_command (lab, "flush", "b", NULL))
        {
          flushed = g_get_monotonic_time ();
          write_lines (&a, "from A", 1, 4);
          write_lines (&b, "from B", 1, 4);
          pump (&a, &b, counts_reached, &all, FAULT_TIMEOUT_MS);
          seconds = (g_get_monotonic_time () - flushed) / (double)G_USEC_PER_SEC;
          g_test_message ("NAT mappings flushed: reconnecting seen %u/%u times, everything "
                          "delivered after %.1f s",
                          a.reconnecting, b.reconnecting, seconds);
          g_string_append_printf (
              summary, "%-52s %s, all delivered after %.1f s\n",
              "fault: NAT mappings flushed (symmetric, TURN)",
              a.reconnecting + b.reconnecting > 0 ? "reconnected" : "kept the path", seconds);
          if (a.reconnecting > 0)
            g_assert_cmpuint (a.connected, >=, 2);
          if (b.reconnecting > 0)
            g_assert_cmpuint (b.connected, >=, 2);
          end_chat (&a, &b);
          check_received (&a, &b, "from A", 4);
          check_received (&b, &a, "from B", 4);
        }
    }
  tally_clear (&a);
  tally_clear (&b);
}

/* Reads @tally's lines (keeping its events) until one contains @text. */
static gboolean
wait_for_line (Tally *tally, const char *text, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * (gint64)1000;

  while (g_get_monotonic_time () < deadline)
    {
      g_autofree char *line = ph_test_process_read_line (
          tally->process, (guint)MAX (1, (deadline - g_get_monotonic_time ()) / 1000));

      if (line == NULL)
        break;
      tally_line (tally, line);
      if (strstr (line, text) != NULL)
        return TRUE;
    }
  g_test_fail_printf ("%s printed no line with '%s' within %u ms", tally->who, text, timeout_ms);
  return FALSE;
}

/* How many long-polls the lab's rendezvous server holds, from its /metrics
 * (read from inside the server's namespace), or -1. */
static int
waiting_polls (Lab *lab)
{
  g_autoptr (GUri) uri = g_uri_parse (lab_get (lab, "NATLAB_RENDEZVOUS"), G_URI_FLAGS_NONE, NULL);
  g_autofree char *script = g_strdup_printf (
      "exec 3<>/dev/tcp/%s/%d && printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3",
      g_uri_get_host (uri), g_uri_get_port (uri));
  const char *argv[] = {
    g_getenv ("PH_NATLAB_SH"), "exec", lab_get (lab, "NATLAB_ID"), "srv", "bash", "-c", script, NULL
  };
  g_autofree char *out = NULL;
  const char *found;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL,
                     &status, NULL)
      || !g_spawn_check_wait_status (status, NULL)
      || (found = strstr (out, "\npinhole_polls_waiting ")) == NULL)
    return -1;
  return atoi (found + strlen ("\npinhole_polls_waiting "));
}

static gboolean
host_polls (Lab *lab, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * (gint64)1000;

  while (g_get_monotonic_time () < deadline)
    if (waiting_polls (lab) >= 1)
      return TRUE;
  g_test_fail_printf ("the rendezvous server held no poll within %u ms", timeout_ms);
  return FALSE;
}

/* The rendezvous server (a real process) goes away while the host waits
 * with its code shown, the joiner types the code while it is away, and a
 * new server process starts on the same address with none of the old
 * one's mailboxes. The host claims its number again, the joiner keeps
 * asking, and they connect with the code that was read out. */
static void
test_rendezvous_restarted_during_setup (void)
{
  /* Each side says when it notices the server gone (the "rendezvous"
   * event), so the restart comes after that, not after a guess. */
  const char *const unreachable = "{\"event\":\"rendezvous\",\"reachable\":false}";
  const char *const code_event[] = { "code", "error", NULL };
  Lab *lab = get_lab ("");
  g_autoptr (JsonObject) code = NULL;
  Counts all = { 3, 3 };
  Tally a, b;
  gint64 restarted;
  double seconds;

  if (lab == NULL || !lab_set_nat (lab, "a", "port-restricted")
      || !lab_set_nat (lab, "b", "port-restricted"))
    return;
  tally_init (&a, "A", spawn_cli_env (lab, "A", "STUN", "host", NULL, NULL));
  tally_init (&b, "B", NULL);
  code = ph_test_process_next_event (a.process, code_event, CODE_TIMEOUT_MS);
  if (code == NULL || !json_object_has_member (code, "code"))
    g_test_fail_printf ("the host printed no code within %u ms", CODE_TIMEOUT_MS);
  else if (host_polls (lab, CODE_TIMEOUT_MS) && lab_command (lab, "service", "rendezvous", "stop"))
    {
      b.process = spawn_cli_env (lab, "B", "STUN", "join",
                                 json_object_get_string_member (code, "code"), NULL);
      if (wait_for_line (&a, unreachable, MESSAGE_TIMEOUT_MS)
          && wait_for_line (&b, unreachable, MESSAGE_TIMEOUT_MS)
          && lab_command (lab, "service", "rendezvous", "start"))
        {
          restarted = g_get_monotonic_time ();
          pump (&a, &b, both_connected, GUINT_TO_POINTER (1), CONNECT_TIMEOUT_MS);
          seconds = (g_get_monotonic_time () - restarted) / (double)G_USEC_PER_SEC;
          g_test_message ("rendezvous server restarted during setup: connected %.1f s after it "
                          "was back (errors: %s / %s)",
                          seconds, a.error, b.error);
          g_string_append_printf (summary, "%-52s connected %.1f s after it was back\n",
                                  "fault: rendezvous restarted during setup", seconds);
          g_assert_null (a.error);
          g_assert_null (b.error);
          g_assert_cmpuint (a.connected, ==, 1);
          g_assert_cmpuint (b.connected, ==, 1);

          write_lines (&a, "from A", 0, 3);
          write_lines (&b, "from B", 0, 3);
          g_assert_true (pump (&a, &b, counts_reached, &all, MESSAGE_TIMEOUT_MS));
          end_chat (&a, &b);
          check_received (&a, &b, "from A", 3);
          check_received (&b, &a, "from B", 3);
        }
    }
  /* Whatever happened, the lab has its server for the tests after. */
  if (waiting_polls (lab) < 0)
    lab_command (lab, "service", "rendezvous", "start");
  tally_clear (&a);
  tally_clear (&b);
}

/* Two peers behind symmetric NATs talk through the TURN relay, and coturn
 * (a real process) restarts: every allocation is gone, so the relayed path
 * is dead. The chat must notice, reconnect through the mailbox with new
 * allocations, and deliver what was written before, during and after,
 * once each and in order. */
static void
test_turn_restarted_while_relayed (void)
{
  Lab *lab = get_lab ("");
  Tally a, b;
  Counts first = { 2, 2 };
  Counts during = { 5, 5 };
  Counts all = { 8, 8 };
  gint64 restarted;
  double reconnected_after = -1;
  double delivered_after;

  if (lab == NULL || !lab_set_nat (lab, "a", "symmetric") || !lab_set_nat (lab, "b", "symmetric"))
    return;
  if (start_chat (lab, "STUN TURN", NULL, &a, &b))
    {
      g_assert_true (a.relayed);
      g_assert_true (b.relayed);
      write_lines (&a, "from A", 0, 2);
      write_lines (&b, "from B", 0, 2);
      g_assert_true (pump (&a, &b, counts_reached, &first, MESSAGE_TIMEOUT_MS));

      if (lab_command (lab, "service", "turn", "restart"))
        {
          restarted = g_get_monotonic_time ();
          write_lines (&a, "from A", 2, 5);
          write_lines (&b, "from B", 2, 5);
          if (pump (&a, &b, both_connected, GUINT_TO_POINTER (2), FAULT_TIMEOUT_MS))
            reconnected_after = (g_get_monotonic_time () - restarted) / (double)G_USEC_PER_SEC;
          pump (&a, &b, counts_reached, &during, FAULT_TIMEOUT_MS);
          write_lines (&a, "from A", 5, 8);
          write_lines (&b, "from B", 5, 8);
          pump (&a, &b, counts_reached, &all, FAULT_TIMEOUT_MS);
          delivered_after = (g_get_monotonic_time () - restarted) / (double)G_USEC_PER_SEC;
          g_test_message ("coturn restarted under a relayed chat: reconnecting seen %u/%u times, "
                          "connected again after %.1f s, everything delivered after %.1f s",
                          a.reconnecting, b.reconnecting, reconnected_after, delivered_after);
          g_string_append_printf (summary, "%-52s reconnected after %.1f s, all delivered %.1f s\n",
                                  "fault: TURN restarted (symmetric, relayed)", reconnected_after,
                                  delivered_after);
          g_assert_null (a.error);
          g_assert_null (b.error);
          g_assert_cmpuint (a.reconnecting, >=, 1);
          g_assert_cmpuint (b.reconnecting, >=, 1);
          g_assert_cmpuint (a.connected, >=, 2);
          g_assert_cmpuint (b.connected, >=, 2);
          /* Still no direct path: through new allocations on the new coturn. */
          g_assert_true (a.relayed);
          g_assert_true (b.relayed);
          end_chat (&a, &b);
          check_received (&a, &b, "from A", 8);
          check_received (&b, &a, "from B", 8);
        }
    }
  tally_clear (&a);
  tally_clear (&b);
}

static gboolean
a_closed (Tally *a, Tally *b, gpointer data)
{
  return a->closed != NULL;
}

static gboolean
a_delivered (Tally *a, Tally *b, gpointer data)
{
  return g_hash_table_size (a->delivered) >= GPOINTER_TO_UINT (data);
}

/* The lines a process printed before it ended. */
static void
drain (Tally *tally)
{
  char *line;

  while ((line = ph_test_process_read_line (tally->process, 100)) != NULL)
    {
      tally_line (tally, line);
      g_free (line);
    }
}

/* B is killed with SIGKILL mid-burst, A keeps typing, and B is started
 * again. A reports B lost within a bound, everything A had acknowledged was
 * shown on B before it died, and everything else A reports as not
 * delivered. */
static void
test_peer_killed (void)
{
  g_autofree char *reconnect
      = g_strdup_printf ("PINHOLE_TEST_RECONNECT_SECONDS=%d", KILL_RECONNECT_SECONDS);
  const char *envp[] = { reconnect, NULL };
  Lab *lab = get_lab ("");
  Tally a, b, a2, b2;
  gint64 killed;
  double seconds;
  GHashTableIter iter;
  gpointer id, text;

  if (lab == NULL || !lab_set_nat (lab, "a", "port-restricted")
      || !lab_set_nat (lab, "b", "port-restricted"))
    return;
  if (start_chat (lab, "STUN", envp, &a, &b))
    {
      /* B sends nothing: this waits for A's 20 acknowledgements only. */
      write_lines (&a, "from A", 0, 20);
      g_assert_true (pump (&a, &b, a_delivered, GUINT_TO_POINTER (20), MESSAGE_TIMEOUT_MS));

      write_lines (&a, "from A", 20, 40);
      pump (&a, &b, NULL, NULL, 5);
      ph_test_process_kill (b.process, SIGKILL);
      killed = g_get_monotonic_time ();
      g_assert_cmpint (ph_test_process_wait_exit (b.process, EXIT_TIMEOUT_MS), ==, 128 + SIGKILL);
      drain (&b);
      g_clear_pointer (&b.process, ph_test_process_free);
      /* Written into a path with no one at the other end. */
      write_lines (&a, "from A", 40, 45);

      pump (&a, NULL, a_closed, NULL, FAULT_TIMEOUT_MS);
      seconds = (g_get_monotonic_time () - killed) / (double)G_USEC_PER_SEC;
      g_test_message ("A reported B %s %.1f s after the kill (%u acknowledged, %u not delivered)",
                      a.closed, seconds, g_hash_table_size (a.delivered),
                      g_hash_table_size (a.failed));
      g_string_append_printf (summary, "%-52s %s after %.1f s, %u acked, %u not delivered\n",
                              "fault: B killed with SIGKILL", a.closed, seconds,
                              g_hash_table_size (a.delivered), g_hash_table_size (a.failed));
      g_assert_cmpstr (a.closed, ==, "peer-lost");
      /* Silence limit + reconnection window + the last attempt's slack. */
      g_assert_cmpfloat (seconds, <, 10 + KILL_RECONNECT_SECONDS + ph_test_scaled_seconds (10));
      g_assert_cmpint (ph_test_process_wait_exit (a.process, EXIT_TIMEOUT_MS), ==, 0);

      /* Nothing acknowledged is lost; nothing sent is unaccounted for. */
      g_assert_cmpuint (g_hash_table_size (a.sent), ==, 45);
      g_assert_cmpuint (g_hash_table_size (a.delivered) + g_hash_table_size (a.failed), ==, 45);
      g_assert_cmpuint (g_hash_table_size (a.failed), >=, 5);
      g_hash_table_iter_init (&iter, a.delivered);
      while (g_hash_table_iter_next (&iter, &id, &text))
        {
          g_assert_false (g_hash_table_contains (a.failed, id));
          g_assert_true (g_ptr_array_find_with_equal_func (b.messages, text, g_str_equal, NULL));
        }
      g_hash_table_iter_init (&iter, a.failed);
      while (g_hash_table_iter_next (&iter, &id, &text))
        g_assert_cmpstr (text, ==, "not delivered");

      /* B, started again, chats as before. */
      if (start_chat (lab, "STUN", NULL, &a2, &b2))
        {
          Counts one = { 1, 1 };

          write_lines (&a2, "from A", 0, 1);
          write_lines (&b2, "from B", 0, 1);
          g_assert_true (pump (&a2, &b2, counts_reached, &one, MESSAGE_TIMEOUT_MS));
          end_chat (&a2, &b2);
        }
      tally_clear (&a2);
      tally_clear (&b2);
    }
  tally_clear (&a);
  tally_clear (&b);
}

/* --- relayed first, direct as soon as it can be --- */

#define UPGRADE_LAB "--nat-a address-restricted --nat-b symmetric --delay 20"
#define UPGRADE_BATCHES 20

static gboolean
both_direct (Tally *a, Tally *b, gpointer data)
{
  return (!a->relayed && !b->relayed) || a->error != NULL || b->error != NULL || a->closed != NULL
         || b->closed != NULL;
}

/* A chat in @lab with TURN: five messages each way every 100 ms for 2 s,
 * while the path may move, and it must end up direct on both sides with
 * every message delivered once and in order. Returns the seconds from
 * connected to direct (0: it connected direct), or -1. @out_started_relayed
 * tells how it started. */
static double
run_upgrade (Lab *lab, const char *const *envp, gboolean *out_started_relayed)
{
  Tally a, b;
  Counts all = { UPGRADE_BATCHES * 5, UPGRADE_BATCHES * 5 };
  gint64 connected;
  double direct_after = -1;

  *out_started_relayed = FALSE;
  if (start_chat (lab, "STUN TURN", envp, &a, &b))
    {
      connected = g_get_monotonic_time ();
      *out_started_relayed = a.relayed || b.relayed;
      if (!*out_started_relayed)
        direct_after = 0;
      for (guint i = 0; i < UPGRADE_BATCHES; i++)
        {
          write_lines (&a, "from A", i * 5, i * 5 + 5);
          write_lines (&b, "from B", i * 5, i * 5 + 5);
          pump (&a, &b, NULL, NULL, 100);
          if (direct_after < 0 && !a.relayed && !b.relayed)
            direct_after = (g_get_monotonic_time () - connected) / (double)G_USEC_PER_SEC;
        }
      if (direct_after < 0 && pump (&a, &b, both_direct, NULL, PATH_CHANGE_TIMEOUT_MS) && !a.relayed
          && !b.relayed)
        direct_after = (g_get_monotonic_time () - connected) / (double)G_USEC_PER_SEC;
      pump (&a, &b, counts_reached, &all, MESSAGE_TIMEOUT_MS);
      g_assert_null (a.error);
      g_assert_null (b.error);
      g_assert_cmpuint (a.reconnecting + b.reconnecting, ==, 0);
      if (a.relayed || b.relayed)
        g_test_fail_printf ("still relayed %.0f s after connecting (A %s, B %s)",
                            (g_get_monotonic_time () - connected) / (double)G_USEC_PER_SEC,
                            a.relayed ? "relayed" : "direct", b.relayed ? "relayed" : "direct");
      end_chat (&a, &b);
      /* After the end, so that a late copy would be counted too. */
      if (!check_received (&a, &b, "from A", UPGRADE_BATCHES * 5)
          || !check_received (&b, &a, "from B", UPGRADE_BATCHES * 5))
        direct_after = -1;
    }
  tally_clear (&a);
  tally_clear (&b);
  /* The next test that wants this lab gets one nobody has used. */
  g_clear_pointer (&current_lab, lab_free);
  return direct_after;
}

/* Address-restricted <-> symmetric from a lab nobody has used: the relay
 * pair validates first (the address-restricted NAT already lets the TURN
 * server in), the direct one only once that NAT has sent to the symmetric
 * NAT's address. The links add 20 ms each way, as on a real network. */
static void
test_upgrade_fresh_lab (void)
{
  Lab *lab = get_lab (UPGRADE_LAB);
  gboolean started_relayed;
  double direct_after;

  if (lab == NULL)
    return;
  direct_after = run_upgrade (lab, NULL, &started_relayed);
  g_string_append_printf (summary, "%-52s %s, direct after %.2f s\n",
                          "upgrade: address-restricted <-> symmetric, fresh",
                          started_relayed ? "started relayed" : "started direct", direct_after);
}

/* The first ICE stream of both peers announces only relay candidates, so
 * the chat starts relayed although a direct path exists from the start:
 * the background search must find it and move the chat, within the
 * issue's 2 s target (a benchmark: measured, not asserted). */
static void
test_upgrade_hidden_direct (void)
{
  const char *const envp[] = { "PINHOLE_TEST_HIDE_DIRECT_CANDIDATES=1", NULL };
  Lab *lab = get_lab (UPGRADE_LAB);
  gboolean started_relayed;
  double direct_after;

  if (lab == NULL)
    return;
  direct_after = run_upgrade (lab, envp, &started_relayed);
  g_string_append_printf (summary, "%-52s %s, direct after %.2f s\n",
                          "upgrade: direct candidates hidden at first",
                          started_relayed ? "started relayed" : "started direct", direct_after);
  g_test_message ("relayed -> direct after %.2f s (target: 2 s)", direct_after);
  g_assert_true (started_relayed);
}

/* Where no direct path exists the search must leave the chat alone: it
 * stays relayed, never reconnects, and every message arrives, through
 * the probes of 16 s (the first 1 s in; each gives up within 10 s, and
 * the next comes 2, 4… s later). */
static void
test_upgrade_symmetric_stays_relayed (void)
{
  Lab *lab = get_lab ("");
  Tally a, b;
  Counts all = { 40, 40 };
  guint path_changes = 0;

  if (lab == NULL || !lab_set_nat (lab, "a", "symmetric") || !lab_set_nat (lab, "b", "symmetric"))
    return;
  if (start_chat (lab, "STUN TURN", NULL, &a, &b))
    {
      g_assert_true (a.relayed);
      g_assert_true (b.relayed);
      for (guint i = 0; i < 20; i++)
        {
          write_lines (&a, "from A", i * 2, i * 2 + 2);
          write_lines (&b, "from B", i * 2, i * 2 + 2);
          pump (&a, &b, NULL, NULL, ph_test_scaled_ms (800));
          path_changes += !a.relayed || !b.relayed;
        }
      pump (&a, &b, counts_reached, &all, MESSAGE_TIMEOUT_MS);
      g_assert_null (a.error);
      g_assert_null (b.error);
      g_assert_cmpuint (a.reconnecting + b.reconnecting, ==, 0);
      g_assert_cmpuint (path_changes, ==, 0);
      end_chat (&a, &b);
      check_received (&a, &b, "from A", 40);
      check_received (&b, &a, "from B", 40);
      g_string_append_printf (summary, "%-52s stayed relayed for 16 s, no reconnection\n",
                              "upgrade: symmetric <-> symmetric");
    }
  tally_clear (&a);
  tally_clear (&b);
}

/* --- the matrix --- */

typedef struct
{
  const char *nat_a;
  const char *nat_b;
  const char *config; /* "stun-only", "stun-turn", "server-turn", "relay-only" */
} Cell;

static gboolean
needs_relay (const char *a, const char *b)
{
  gboolean a_sym = g_str_equal (a, "symmetric");
  gboolean b_sym = g_str_equal (b, "symmetric");

  return (a_sym && b_sym) || (a_sym && g_str_equal (b, "port-restricted"))
         || (b_sym && g_str_equal (a, "port-restricted"));
}

/* --- contacts --- */

/* Two people behind two NATs save each other in a code chat; later, with
 * no code, `chat` on one side finds `listen` on the other through their
 * meeting point on the lab's rendezvous server, and they connect directly,
 * as the code chat did. */
static void
test_contacts_meet_again (void)
{
  const char *const contact_saved_event[] = { "contact-saved", "error", NULL };
  g_autofree char *top = g_dir_make_tmp ("natlab-contacts-XXXXXX", NULL);
  g_autofree char *save_a = g_strdup_printf ("STUN --data-dir=%s/a --save-contact", top);
  g_autofree char *save_b = g_strdup_printf ("STUN --data-dir=%s/b --save-contact", top);
  g_autofree char *listen_a = g_strdup_printf ("STUN --data-dir=%s/a", top);
  g_autofree char *chat_b = g_strdup_printf ("STUN --data-dir=%s/b --no-stored-copies", top);
  const char *const code_event[] = { "code", NULL };
  g_autoptr (PhTestProcess) a = NULL;
  g_autoptr (PhTestProcess) b = NULL;
  g_autoptr (JsonObject) code = NULL;
  g_autoptr (JsonObject) saved_a = NULL;
  g_autoptr (JsonObject) saved_b = NULL;
  g_autoptr (JsonObject) connected = NULL;
  g_autoptr (JsonObject) message = NULL;
  g_autoptr (JsonObject) first_look = NULL;
  Lab *lab = get_lab ("");
  gint64 start;

  if (lab == NULL || !lab_set_nat (lab, "a", "port-restricted")
      || !lab_set_nat (lab, "b", "port-restricted"))
    return;
  a = spawn_cli (lab, "A", save_a, "host", NULL);
  code = ph_test_process_next_event (a, code_event, CODE_TIMEOUT_MS);
  g_assert_nonnull (code);
  b = spawn_cli (lab, "B", save_b, "join", json_object_get_string_member (code, "code"));
  ph_test_process_close_stdin (a);
  ph_test_process_close_stdin (b);
  saved_a = ph_test_process_next_event (a, contact_saved_event, CONNECT_TIMEOUT_MS);
  saved_b = ph_test_process_next_event (b, contact_saved_event, CONNECT_TIMEOUT_MS);
  g_assert_nonnull (saved_a);
  g_assert_nonnull (saved_b);
  g_assert_cmpstr (json_object_get_string_member (saved_a, "event"), ==, "contact-saved");
  g_assert_cmpstr (json_object_get_string_member (saved_b, "event"), ==, "contact-saved");
  g_assert_cmpint (ph_test_process_wait_exit (a, EXIT_TIMEOUT_MS), ==, 0);
  g_assert_cmpint (ph_test_process_wait_exit (b, EXIT_TIMEOUT_MS), ==, 0);
  g_clear_pointer (&a, ph_test_process_free);
  g_clear_pointer (&b, ph_test_process_free);

  a = spawn_cli (lab, "A", listen_a, "listen", NULL);
  first_look = ph_test_process_wait_event (a, "presence", CODE_TIMEOUT_MS);
  start = g_get_monotonic_time ();
  b = spawn_cli (lab, "B", chat_b, "chat", "A");
  ph_test_process_write_line (b, "met again behind two NATs");
  ph_test_process_close_stdin (b);
  connected = ph_test_process_wait_event (b, "connected", CONNECT_TIMEOUT_MS);
  g_string_append_printf (
      summary, "%-52s %s after %" G_GINT64_FORMAT " ms (setup %.1f ms)\n",
      "contacts met again, port-restricted <-> port-restricted",
      json_object_get_boolean_member (json_object_get_object_member (connected, "path"), "relayed")
          ? "relayed"
          : "direct",
      (g_get_monotonic_time () - start) / 1000,
      json_object_get_double_member (connected, "setup_ms"));
  g_assert_false (json_object_get_boolean_member (json_object_get_object_member (connected, "path"),
                                                  "relayed"));
  message = ph_test_process_wait_event (a, "message", CONNECT_TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (message, "text"), ==,
                   "met again behind two NATs");
  g_assert_cmpint (ph_test_process_wait_exit (b, EXIT_TIMEOUT_MS), ==, 0);
  ph_test_process_kill (a, SIGTERM);
  g_assert_cmpint (ph_test_process_wait_exit (a, EXIT_TIMEOUT_MS), ==, 0);
  ph_test_remove_tree (top);
}

static void
test_cell (gconstpointer data)
{
  const Cell *cell = data;
  g_autofree char *label = g_strdup_printf ("%s %s -> %s", cell->config, cell->nat_a, cell->nat_b);
  gboolean relay = needs_relay (cell->nat_a, cell->nat_b);
  const char *ice_args = "";
  Expectation expect;
  Lab *lab = get_lab ("");

  if (lab == NULL || !lab_set_nat (lab, "a", cell->nat_a) || !lab_set_nat (lab, "b", cell->nat_b))
    return;

  if (g_str_equal (cell->config, "stun-only"))
    {
      ice_args = "STUN";
      expect = relay ? EXPECT_FAILURE : EXPECT_DIRECT;
    }
  else if (g_str_equal (cell->config, "stun-turn"))
    {
      ice_args = "STUN TURN";
      expect = relay ? EXPECT_RELAYED : EXPECT_DIRECT;
    }
  else if (g_str_equal (cell->config, "server-turn"))
    {
      /* No --stun/--turn: the CLI asks the rendezvous server's /v1/turn,
       * which hands out coturn's address and a time-limited credential. */
      expect = relay ? EXPECT_RELAYED : EXPECT_DIRECT;
    }
  else
    {
      ice_args = "STUN TURN --relay-only";
      expect = EXPECT_RELAY_ONLY;
    }
  run_cell (lab, label, ice_args, ice_args, expect);
}

/* --- NAT type detection behind each lab NAT --- */

typedef struct
{
  const char *lab_spec;
  const char *nat; /* NULL: as built */
  const char *type;
  const char *mapping;
  const char *filtering;
} NatCheckCase;

static void
test_nat_check (gconstpointer data)
{
  const NatCheckCase *c = data;
  const char *const nat_event[] = { "nat", "error", NULL };
  g_autoptr (PhTestProcess) check = NULL;
  g_autoptr (JsonObject) result = NULL;
  g_autofree char *stun = NULL;
  Lab *lab = get_lab (c->lab_spec);
  const char *public_address;

  if (lab == NULL || (c->nat != NULL && !lab_set_nat (lab, "a", c->nat)))
    return;

  stun = g_strdup_printf ("--stun=%s", lab_get (lab, "NATLAB_STUN"));
  {
    const char *argv[] = { "ip",
                           "netns",
                           "exec",
                           lab_get (lab, "NATLAB_NS_A"),
                           g_getenv ("PINHOLE_CLI_BIN"),
                           "--json",
                           stun,
                           "nat-check",
                           NULL };

    check = spawn_peer ("A", argv, NULL);
  }
  result = ph_test_process_next_event (check, nat_event, ph_test_scaled_ms (10000));
  if (result == NULL)
    {
      g_test_fail_printf ("pinhole-cli nat-check printed no result within 10 s");
      return;
    }
  public_address = c->nat != NULL ? lab_get (lab, "NATLAB_RA_WAN") : lab_get (lab, "NATLAB_A_IP");
  g_string_append_printf (
      summary, "nat-check behind %-20s -> %s, mapping %s, filtering %s, %s\n",
      c->nat != NULL ? c->nat : "no NAT",
      json_object_get_string_member_with_default (result, "type", "?"),
      json_object_get_string_member_with_default (result, "mapping", "?"),
      json_object_get_string_member_with_default (result, "filtering", "?"),
      json_object_get_string_member_with_default (result, "public_address", "?"));
  g_assert_cmpstr (json_object_get_string_member_with_default (result, "event", ""), ==, "nat");
  g_assert_cmpstr (json_object_get_string_member (result, "type"), ==, c->type);
  g_assert_cmpstr (json_object_get_string_member (result, "mapping"), ==, c->mapping);
  g_assert_cmpstr (json_object_get_string_member (result, "filtering"), ==, c->filtering);
  g_assert_cmpstr (json_object_get_string_member (result, "public_address"), ==, public_address);
  g_assert_false (json_object_get_boolean_member (result, "udp_blocked"));
  g_assert_cmpint (ph_test_process_wait_exit (check, ph_test_scaled_ms (5000)), ==, 0);
}

#define EIM "endpoint-independent"
#define ADM "address-dependent"
#define APDM "address-and-port-dependent"
#define PUBLIC_LAB "--nat-a none --nat-b symmetric --delay 10 --jitter 2"
#define HAIRPIN_LAB "--nat-a port-restricted --hairpin"

static const NatCheckCase nat_check_cases[] = {
  { "", "full-cone", "full-cone", EIM, EIM },
  { "", "address-restricted", "address-restricted", EIM, ADM },
  { "", "port-restricted", "port-restricted", EIM, APDM },
  { "", "symmetric", "symmetric", APDM, APDM },
};

static void
test_public_nat_check (void)
{
  static const NatCheckCase open = { PUBLIC_LAB, NULL, "open", EIM, EIM };

  test_nat_check (&open);
}

/* A public host reaches a symmetric NAT directly, through links that add
 * 10 ms (±2 ms) each way: the link emulator carries the rendezvous's TCP
 * and ICE's UDP alike. */
static void
test_public_to_symmetric_with_delay (void)
{
  Lab *lab = get_lab (PUBLIC_LAB);

  if (lab != NULL)
    run_cell (lab, "stun-only none -> symmetric, 40 ms round trip", "STUN", "STUN", EXPECT_DIRECT);
}

/* Both peers behind one NAT find each other on their LAN. */
static void
test_hairpin (void)
{
  Lab *lab = get_lab (HAIRPIN_LAB);

  if (lab != NULL)
    run_cell (lab, "stun-turn both behind one port-restricted NAT", "STUN TURN", "STUN TURN",
              EXPECT_HOST);
}

/* --- networks where chats get stuck: UDP blocked, proxy only, dual stack --- */

/* Side A behind a router that forwards only TCP; side B a public host. */
#define UDP_BLOCKED_PUBLIC_LAB "--nat-a udp-blocked --nat-b none"
#define DUAL_STACK_LAB "--nat-a symmetric --nat-b symmetric --dual-stack"

/* pinhole-cli's STUN option and the lab's TURN server over @transport
 * ("udp", "tcp" to port 3478, or "tls" to port 443). */
static char *
lab_ice_args (Lab *lab, const char *transport)
{
  const char *uri = lab_get (lab, "NATLAB_TURN");

  if (g_str_equal (transport, "tcp"))
    uri = lab_get (lab, "NATLAB_TURN_TCP");
  else if (g_str_equal (transport, "tls"))
    uri = lab_get (lab, "NATLAB_TURNS");
  return g_strdup_printf ("STUN --turn=%s --turn-user=%s --turn-pass=%s", uri,
                          lab_get (lab, "NATLAB_TURN_USER"), lab_get (lab, "NATLAB_TURN_PASS"));
}

/* Every peer started from now on trusts the lab's self-signed coturn
 * certificate (a test hook, as in test-turn-transports). */
static void
trust_lab_turn (Lab *lab)
{
  g_setenv ("PINHOLE_TEST_TLS_CA_FILE", lab_get (lab, "NATLAB_TURN_CA"), TRUE);
}

/* The system proxy as GIO's default resolver reads it outside GNOME: the
 * lab's proxy in https_proxy, or (from the second entry on) none at all,
 * with no proxy setting of the machine that runs the tests either. */
static const char *const *
proxy_environment (Lab *lab, gboolean with_proxy)
{
  static char *proxy;
  static const char *envp[] = { NULL,          "GIO_USE_PROXY_RESOLVER",
                                "HTTPS_PROXY", "http_proxy",
                                "HTTP_PROXY",  "all_proxy",
                                "ALL_PROXY",   "no_proxy",
                                "NO_PROXY",    "XDG_CURRENT_DESKTOP",
                                NULL };

  g_free (proxy);
  proxy = g_strdup_printf ("https_proxy=%s", lab_get (lab, "NATLAB_PROXY"));
  envp[0] = proxy;
  return with_proxy ? envp : envp + 1;
}

/* Host on side A, join on side B, and both give up: A, the side in the
 * stuck network, within FAIL_TIMEOUT_MS of the join, with ice-failed and
 * a message that says each of @words. */
static void
expect_stuck (Lab *lab, const char *label, const char *ice_args_a, const char *ice_args_b,
              const char *const *host_envp, const char *const *words)
{
  const char *const code_event[] = { "code", "error", NULL };
  const char *const outcome_events[] = { "connected", "error", NULL };
  g_autoptr (PhTestProcess) host = NULL;
  g_autoptr (PhTestProcess) join = NULL;
  g_autoptr (JsonObject) code = NULL;
  g_autoptr (JsonObject) host_outcome = NULL;
  g_autoptr (JsonObject) join_outcome = NULL;
  const char *message;
  gint64 start;
  gint64 elapsed_ms;

  host = spawn_cli_env (lab, "A", ice_args_a, "host", NULL, host_envp);
  code = ph_test_process_next_event (host, code_event, CODE_TIMEOUT_MS);
  if (code == NULL || !json_object_has_member (code, "code"))
    {
      g_test_fail_printf ("the host printed no code within %u ms", CODE_TIMEOUT_MS);
      return;
    }
  start = g_get_monotonic_time ();
  join = spawn_cli (lab, "B", ice_args_b, "join", json_object_get_string_member (code, "code"));
  host_outcome = ph_test_process_next_event (host, outcome_events, FAIL_TIMEOUT_MS);
  elapsed_ms = (g_get_monotonic_time () - start) / 1000;
  join_outcome = ph_test_process_next_event (join, outcome_events, ph_test_scaled_ms (10000));
  if (host_outcome == NULL || join_outcome == NULL)
    {
      g_test_fail_printf ("%s: no connected or error event within %u ms", label, FAIL_TIMEOUT_MS);
      g_string_append_printf (summary, "%-52s nothing after %" G_GINT64_FORMAT " ms\n", label,
                              elapsed_ms);
      return;
    }
  message = json_object_get_string_member_with_default (host_outcome, "message", "");
  g_test_message ("%s: %s", label, message);
  g_string_append_printf (summary, "%-52s failed as expected after %" G_GINT64_FORMAT " ms: %s\n",
                          label, elapsed_ms, message);
  g_assert_cmpstr (json_object_get_string_member (host_outcome, "event"), ==, "error");
  g_assert_cmpstr (json_object_get_string_member (host_outcome, "code"), ==, "ice-failed");
  g_assert_cmpstr (json_object_get_string_member (join_outcome, "event"), ==, "error");
  for (guint i = 0; words[i] != NULL; i++)
    if (strstr (message, words[i]) == NULL)
      g_test_fail_printf ("%s: the error does not say “%s”: %s", label, words[i], message);
  g_assert_cmpint (ph_test_process_wait_exit (host, EXIT_TIMEOUT_MS), ==, 1);
  g_assert_cmpint (ph_test_process_wait_exit (join, EXIT_TIMEOUT_MS), ==, 1);
}

typedef struct
{
  const char *lab_spec;
  const char *nat_b; /* NULL: as the lab was built */
  const char *turn;  /* how both reach coturn: "tcp" or "tls" */
} UdpBlockedCell;

/* A network that forwards only TCP, to each kind of peer: relayed, over
 * the TCP or TLS leg the cell gives. */
static void
test_udp_blocked_cell (gconstpointer data)
{
  const UdpBlockedCell *cell = data;
  g_autofree char *label = g_strdup_printf ("udp-blocked -> %s, TURN over %s",
                                            cell->nat_b != NULL ? cell->nat_b : "none", cell->turn);
  g_autofree char *ice_args = NULL;
  Lab *lab = get_lab (cell->lab_spec);

  if (lab == NULL || !lab_set_nat (lab, "a", "udp-blocked")
      || (cell->nat_b != NULL && !lab_set_nat (lab, "b", cell->nat_b)))
    return;
  trust_lab_turn (lab);
  ice_args = lab_ice_args (lab, cell->turn);
  run_cell (lab, label, ice_args, ice_args,
            g_str_equal (cell->turn, "tls") ? EXPECT_RELAYED_TLS : EXPECT_RELAYED_TCP);
}

/* TURN over UDP only, where UDP is blocked: the error names the cause and
 * what would get through. */
static void
test_udp_blocked_udp_turn (void)
{
  const char *const words[] = { "blocks UDP", "TURN server over TLS on port 443", NULL };
  g_autofree char *ice_args = NULL;
  Lab *lab = get_lab ("");

  if (lab == NULL || !lab_set_nat (lab, "a", "udp-blocked")
      || !lab_set_nat (lab, "b", "port-restricted"))
    return;
  ice_args = lab_ice_args (lab, "udp");
  expect_stuck (lab, "udp-blocked -> port-restricted, TURN over UDP only", ice_args, ice_args, NULL,
                words);
}

/* nat-check on a network that blocks UDP says so, and what to use. */
static void
test_udp_blocked_nat_check (void)
{
  const char *const nat_event[] = { "nat", "error", NULL };
  g_autoptr (PhTestProcess) check = NULL;
  g_autoptr (JsonObject) result = NULL;
  g_autofree char *stun = NULL;
  Lab *lab = get_lab ("");
  const char *note;

  if (lab == NULL || !lab_set_nat (lab, "a", "udp-blocked"))
    return;
  stun = g_strdup_printf ("--stun=%s", lab_get (lab, "NATLAB_STUN"));
  {
    const char *argv[] = { "ip",
                           "netns",
                           "exec",
                           lab_get (lab, "NATLAB_NS_A"),
                           g_getenv ("PINHOLE_CLI_BIN"),
                           "--json",
                           stun,
                           "nat-check",
                           NULL };

    check = spawn_peer ("A", argv, NULL);
  }
  result = ph_test_process_next_event (check, nat_event, ph_test_scaled_ms (15000));
  if (result == NULL)
    {
      g_test_fail_printf ("pinhole-cli nat-check printed no result within 15 s");
      return;
    }
  note = json_object_get_string_member_with_default (result, "note", "");
  g_string_append_printf (summary, "nat-check behind %-20s -> %s: %s\n", "udp-blocked",
                          json_object_get_string_member_with_default (result, "type", "?"), note);
  g_assert_cmpstr (json_object_get_string_member_with_default (result, "event", ""), ==, "nat");
  g_assert_cmpstr (json_object_get_string_member (result, "type"), ==, "udp-blocked");
  g_assert_true (json_object_get_boolean_member (result, "udp_blocked"));
  g_assert_true (json_object_get_null_member (result, "public_address"));
  g_assert_nonnull (strstr (note, "this network blocks UDP"));
  g_assert_nonnull (strstr (note, "turns:"));
  g_assert_cmpint (ph_test_process_wait_exit (check, ph_test_scaled_ms (5000)), ==, 0);
}

/* An office network that lets out only its HTTP proxy, with the proxy in
 * the system's settings: relayed over TLS through it, and the proxy did
 * carry it. */
static void
test_proxy_only_with_proxy (void)
{
  g_autofree char *ice_args = NULL;
  g_autofree char *log = NULL;
  g_autofree char *request = NULL;
  Lab *lab = get_lab (UDP_BLOCKED_PUBLIC_LAB);

  if (lab == NULL || !lab_set_nat (lab, "a", "proxy-only"))
    return;
  trust_lab_turn (lab);
  ice_args = lab_ice_args (lab, "tls");
  run_cell_full (lab, "proxy-only -> none, TURN over TLS, proxy set", ice_args, ice_args,
                 EXPECT_RELAYED_PROXY, proxy_environment (lab, TRUE));
  g_assert_true (g_file_get_contents (lab_get (lab, "NATLAB_PROXY_LOG"), &log, NULL, NULL));
  request = g_strdup_printf ("CONNECT %s ", lab_get (lab, "NATLAB_TURNS") + strlen ("turns:"));
  g_assert_nonnull (strstr (log, request));
}

/* The same network with no proxy set: neither UDP nor TCP gets out, and
 * the error says the proxy is what is left. */
static void
test_proxy_only_without_proxy (void)
{
  g_autofree char *ice_args = NULL;
  Lab *lab = get_lab (UDP_BLOCKED_PUBLIC_LAB);

  if (lab == NULL || !lab_set_nat (lab, "a", "proxy-only"))
    return;
  trust_lab_turn (lab);
  ice_args = lab_ice_args (lab, "tls");
  {
    const char *const words[] = { "blocks UDP", lab_get (lab, "NATLAB_TURNS"), "HTTP proxy", NULL };

    expect_stuck (lab, "proxy-only -> none, TURN over TLS, no proxy set", ice_args, ice_args,
                  proxy_environment (lab, FALSE), words);
  }
}

/* Symmetric IPv4 NATs on both sides, but global IPv6 behind stateful
 * firewalls: direct over IPv6, though TURN was there to fall back on. */
static void
test_dual_stack (void)
{
  g_autofree char *ice_args = NULL;
  Lab *lab = get_lab (DUAL_STACK_LAB);

  if (lab == NULL)
    return;
  ice_args = lab_ice_args (lab, "udp");
  run_cell (lab, "dual-stack symmetric -> symmetric, TURN too", ice_args, ice_args,
            EXPECT_DIRECT_IPV6);
}

/* --- router port mapping: miniupnpd on router A (natlab.sh --port-mapping) --- */

#define PORT_MAPPING_LAB "--nat-a symmetric --nat-b symmetric --port-mapping a"
#define UPNP_ONLY_LAB "--nat-a symmetric --nat-b symmetric --port-mapping a:upnp"

/* Whether @connected's path goes through the port router A opened with
 * @expected_protocol, as @by ("local" for A, "peer" for B) sees it. */
static gboolean
path_through_mapped_port (const char *who, JsonObject *connected, const char *expected_protocol,
                          const char *by)
{
  JsonObject *path = json_object_get_object_member (connected, "path");
  const char *protocol
      = path != NULL ? json_object_get_string_member_with_default (path, "port_mapping", NULL)
                     : NULL;
  const char *seen_by
      = path != NULL ? json_object_get_string_member_with_default (path, "port_mapping_by", "")
                     : "";

  if (path_relayed (connected) || g_strcmp0 (protocol, expected_protocol) != 0
      || !g_str_equal (seen_by, by))
    {
      g_test_fail_printf ("%s: the path should be direct through router A's %s port "
                          "(relayed: %s, port_mapping %s by %s)",
                          who, expected_protocol, path_relayed (connected) ? "yes" : "no",
                          protocol != NULL ? protocol : "none", seen_by);
      return FALSE;
    }
  return TRUE;
}

static gboolean
router_a_forwards_nothing (gpointer data)
{
  Lab *lab = data;
  const char *argv[] = { g_getenv ("PH_NATLAB_SH"),
                         "exec",
                         lab_get (lab, "NATLAB_ID"),
                         "ra",
                         "nft",
                         "list",
                         "chain",
                         "inet",
                         "miniupnpd",
                         "prerouting_miniupnpd",
                         NULL };
  g_autofree char *out = NULL;

  if (!g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL,
                     NULL, NULL))
    return FALSE;
  return strstr (out, "dnat") == NULL;
}

/* STUN alone cannot connect a symmetric NAT to a symmetric or
 * port-restricted one (the cells above need TURN for it); with the port
 * router A opens on request, they connect directly, and the port is
 * closed again when the chat ends. Only A asks its router. */
static void
run_mapped_cell (const char *lab_spec, const char *protocol, const char *nat_b)
{
  const char *const code_event[] = { "code", "error", NULL };
  const char *const outcome_events[] = { "connected", "error", NULL };
  const char *const closed_event[] = { "closed", NULL };
  const char *const host_envp[] = { "PINHOLE_PORT_MAPPING=on", NULL };
  g_autofree char *label = g_strdup_printf ("stun-only symmetric+%s -> %s", protocol, nat_b);
  g_autoptr (PhTestProcess) host = NULL;
  g_autoptr (PhTestProcess) join = NULL;
  g_autoptr (JsonObject) code = NULL;
  g_autoptr (JsonObject) host_outcome = NULL;
  g_autoptr (JsonObject) join_outcome = NULL;
  Lab *lab = get_lab (lab_spec);

  if (lab == NULL || !lab_set_nat (lab, "b", nat_b))
    return;
  host = spawn_cli_env (lab, "A", "STUN", "host", NULL, host_envp);
  code = ph_test_process_next_event (host, code_event, CODE_TIMEOUT_MS);
  if (code == NULL || !json_object_has_member (code, "code"))
    {
      g_test_fail_printf ("the host printed no code within %u ms", CODE_TIMEOUT_MS);
      return;
    }
  join = spawn_cli (lab, "B", "STUN", "join", json_object_get_string_member (code, "code"));
  join_outcome = ph_test_process_next_event (join, outcome_events, CONNECT_TIMEOUT_MS);
  host_outcome = ph_test_process_next_event (host, outcome_events, ph_test_scaled_ms (10000));
  if (join_outcome == NULL || host_outcome == NULL
      || !g_str_equal (json_object_get_string_member (join_outcome, "event"), "connected")
      || !g_str_equal (json_object_get_string_member (host_outcome, "event"), "connected"))
    {
      g_test_fail_printf ("%s: did not connect", label);
      g_string_append_printf (summary, "%-52s FAILED to connect\n", label);
      return;
    }
  g_string_append_printf (summary, "%-52s %s %s<->%s (setup_ms %" G_GINT64_FORMAT ")\n", label,
                          path_relayed (join_outcome) ? "relayed" : "direct ",
                          path_end_type (join_outcome, "local"),
                          path_end_type (join_outcome, "remote"),
                          json_object_get_int_member_with_default (join_outcome, "setup_ms", -1));
  if (!path_through_mapped_port ("host", host_outcome, protocol, "local")
      || !path_through_mapped_port ("join", join_outcome, protocol, "peer"))
    return;
  if (!exchange_message (host, join, "hello through the port my router opened")
      || !exchange_message (join, host, "hello back"))
    return;

  ph_test_process_close_stdin (host);
  ph_test_process_close_stdin (join);
  g_clear_pointer (&host_outcome, json_object_unref);
  host_outcome = ph_test_process_next_event (host, closed_event, EXIT_TIMEOUT_MS);
  g_assert_nonnull (host_outcome);
  g_assert_cmpint (ph_test_process_wait_exit (host, EXIT_TIMEOUT_MS), ==, 0);
  g_assert_cmpint (ph_test_process_wait_exit (join, EXIT_TIMEOUT_MS), ==, 0);
  if (!ph_test_wait_until (router_a_forwards_nothing, lab, ph_test_scaled_ms (2000)))
    g_test_fail_printf ("%s: router A still forwards the port after the chat ended", label);
}

static void
test_port_mapping_to_symmetric (void)
{
  run_mapped_cell (PORT_MAPPING_LAB, "NAT-PMP", "symmetric");
}

static void
test_port_mapping_to_port_restricted (void)
{
  run_mapped_cell (PORT_MAPPING_LAB, "NAT-PMP", "port-restricted");
}

/* A router that speaks only UPnP-IGD: the mapping comes about a second
 * later (SSDP discovery waits that long for answers). */
static void
test_upnp_to_symmetric (void)
{
  run_mapped_cell (UPNP_ONLY_LAB, "UPnP", "symmetric");
}

int
main (int argc, char *argv[])
{
  g_autoptr (GPtrArray) cells = g_ptr_array_new_with_free_func (g_free);
  const char *const configs[] = { "stun-only", "stun-turn" };
  int status;

  g_test_init (&argc, &argv, NULL);
  summary = g_string_new (NULL);
  peer_log_root = g_test_build_filename (G_TEST_BUILT, "natlab-logs", NULL);
  ph_test_remove_tree (peer_log_root);

  for (guint i = 0; i < G_N_ELEMENTS (nat_check_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/natlab/nat-check/%s", nat_check_cases[i].nat);

      g_test_add_data_func (path, &nat_check_cases[i], test_nat_check);
    }

  for (guint c = 0; c < G_N_ELEMENTS (configs); c++)
    for (guint a = 0; a < G_N_ELEMENTS (nat_types); a++)
      for (guint b = 0; b < G_N_ELEMENTS (nat_types); b++)
        {
          Cell *cell = g_new0 (Cell, 1);
          g_autofree char *path = NULL;

          cell->nat_a = nat_types[a];
          cell->nat_b = nat_types[b];
          cell->config = configs[c];
          path = g_strdup_printf ("/natlab/%s/%s/%s", cell->config, cell->nat_a, cell->nat_b);
          g_test_add_data_func (path, cell, test_cell);
          g_ptr_array_add (cells, cell);
        }

  {
    static const Cell extra[] = {
      { "port-restricted", "port-restricted", "server-turn" },
      { "symmetric", "symmetric", "server-turn" },
      { "full-cone", "full-cone", "relay-only" },
    };

    for (guint i = 0; i < G_N_ELEMENTS (extra); i++)
      {
        g_autofree char *path
            = g_strdup_printf ("/natlab/%s/%s/%s", extra[i].config, extra[i].nat_a, extra[i].nat_b);

        g_test_add_data_func (path, &extra[i], test_cell);
      }
  }

  g_test_add_func ("/natlab/public/nat-check", test_public_nat_check);
  g_test_add_func ("/natlab/public/symmetric-with-delay", test_public_to_symmetric_with_delay);
  g_test_add_func ("/natlab/hairpin/port-restricted", test_hairpin);
  g_test_add_func ("/natlab/contacts/meet-again", test_contacts_meet_again);
  g_test_add_func ("/natlab/fault/bulk-lossless", test_bulk_lossless);
  ph_test_add_func_with_hooks ("/natlab/fault/slow-rendezvous", test_slow_rendezvous);
  g_test_add_func ("/natlab/fault/path-cut", test_path_cut);
  g_test_add_func ("/natlab/fault/nat-flush", test_nat_flush);
  ph_test_add_func_with_hooks ("/natlab/fault/peer-killed", test_peer_killed);
  g_test_add_func ("/natlab/fault/rendezvous-restarted-during-setup",
                   test_rendezvous_restarted_during_setup);
  g_test_add_func ("/natlab/fault/turn-restarted-while-relayed", test_turn_restarted_while_relayed);
  /* Each of these builds a lab of its own. */
  g_test_add_func ("/natlab/upgrade/address-restricted-symmetric", test_upgrade_fresh_lab);
  ph_test_add_func_with_hooks ("/natlab/upgrade/hidden-direct", test_upgrade_hidden_direct);
  g_test_add_func ("/natlab/upgrade/symmetric-stays-relayed", test_upgrade_symmetric_stays_relayed);
  g_test_add_func ("/natlab/fault/bulk-with-loss", test_bulk_with_loss);
  g_test_add_func ("/natlab/fault/bulk-with-heavy-loss", test_bulk_with_heavy_loss);
  /* Networks where chats get stuck: UDP blocked, proxy only, dual stack.
   * TLS to every kind of peer, TCP to the two strictest. */
  {
    static const UdpBlockedCell udp_blocked[] = {
      { "", "full-cone", "tls" },
      { "", "address-restricted", "tls" },
      { "", "port-restricted", "tls" },
      { "", "symmetric", "tls" },
      { UDP_BLOCKED_PUBLIC_LAB, NULL, "tls" },
      { "", "port-restricted", "tcp" },
      { "", "symmetric", "tcp" },
    };

    for (guint i = 0; i < G_N_ELEMENTS (udp_blocked); i++)
      {
        g_autofree char *path
            = g_strdup_printf ("/natlab/udp-blocked/%s/%s", udp_blocked[i].turn,
                               udp_blocked[i].nat_b != NULL ? udp_blocked[i].nat_b : "none");

        ph_test_add_data_func_with_hooks (path, &udp_blocked[i], test_udp_blocked_cell);
      }
  }
  g_test_add_func ("/natlab/udp-blocked/udp/port-restricted", test_udp_blocked_udp_turn);
  g_test_add_func ("/natlab/udp-blocked/nat-check", test_udp_blocked_nat_check);
  ph_test_add_func_with_hooks ("/natlab/proxy-only/with-proxy", test_proxy_only_with_proxy);
  ph_test_add_func_with_hooks ("/natlab/proxy-only/without-proxy", test_proxy_only_without_proxy);
  g_test_add_func ("/natlab/dual-stack/symmetric", test_dual_stack);

  /* Router port mapping: one lab, router B switched between the cells. */
  g_test_add_func ("/natlab/port-mapping/symmetric/symmetric", test_port_mapping_to_symmetric);
  g_test_add_func ("/natlab/port-mapping/symmetric/port-restricted",
                   test_port_mapping_to_port_restricted);
  g_test_add_func ("/natlab/port-mapping/upnp-only/symmetric", test_upnp_to_symmetric);

  status = g_test_run ();
  g_clear_pointer (&current_lab, lab_free);
  /* The matrix at a glance, after the results it sums up. */
  if (summary->len > 0)
    g_test_message ("NAT lab results:\n%s", summary->str);
  g_string_free (summary, TRUE);
  g_free (lab_error);
  return status;
}
