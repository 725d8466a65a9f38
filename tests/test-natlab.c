/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-natlab"

#include "config.h"

#include <string.h>
#include <unistd.h>

#include "ph-test-process.h"

/* The NAT lab suite: pinhole-cli peers behind real (nftables) NATs in
 * network namespaces, built by tests/natlab/natlab.sh. Needs root,
 * nftables, conntrack and coturn; without them every test fails and says
 * what is missing. One lab serves the whole matrix: between cells the
 * routers switch NAT type and forget every mapping (natlab.sh nat). */

#define LAB_UP_TIMEOUT_MS 30000
#define CODE_TIMEOUT_MS 15000
#define CONNECT_TIMEOUT_MS 30000
#define FAIL_TIMEOUT_MS 30000
#define PATH_CHANGE_TIMEOUT_MS 10000
#define MESSAGE_TIMEOUT_MS 10000
#define EXIT_TIMEOUT_MS 15000

typedef struct
{
  char *spec;            /* the natlab.sh up options it was built with */
  PhTestProcess *holder; /* natlab.sh up --hold: the lab lives while it does */
  GHashTable *env;       /* NATLAB_* from its env file */
} Lab;

static Lab *current_lab;
static char *lab_error;
static GString *summary;

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
  status = ph_test_process_wait_exit (lab->holder, 30000);
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

/* pinhole-cli in the namespace of @side. @ice_args are its STUN/TURN
 * options; "TURN" in them stands for the lab's TURN options. */
static PhTestProcess *
spawn_cli (Lab *lab, const char *side, const char *ice_args, const char *command, const char *code)
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
  return ph_test_process_spawn ((const char *const *)argv->pdata, NULL);
}

/* The next event whose name is one of @names, or NULL when none comes
 * within @timeout_ms (or the process ends first). Unlike
 * ph_test_process_wait_event this does not abort: one bad cell must not
 * hide the rest of the matrix. */
static JsonObject *
next_event (PhTestProcess *process, const char *const *names, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * (gint64)1000;

  for (;;)
    {
      gint64 left_ms = (deadline - g_get_monotonic_time ()) / 1000;
      g_autofree char *line = NULL;
      g_autoptr (JsonParser) parser = json_parser_new ();
      JsonObject *object;
      const char *event;

      if (left_ms <= 0)
        return NULL;
      line = ph_test_process_read_line (process, (guint)left_ms);
      if (line == NULL)
        return NULL;
      if (!json_parser_load_from_data (parser, line, -1, NULL)
          || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        continue;
      object = json_node_get_object (json_parser_get_root (parser));
      event = json_object_get_string_member_with_default (object, "event", "");
      if (g_strv_contains (names, event))
        return json_object_ref (object);
    }
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
} Expectation;

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
      if (relayed && (g_str_equal (local, "relay") || g_str_equal (remote, "relay")))
        return TRUE;
      break;
    case EXPECT_RELAY_ONLY:
      if (relayed && g_str_equal (local, "relay"))
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

  if (expect != EXPECT_DIRECT || !path_relayed (connected))
    return json_object_ref (connected);

  changed = next_event (peer, path_changed, PATH_CHANGE_TIMEOUT_MS);
  return changed != NULL ? changed : json_object_ref (connected);
}

static gboolean
exchange_message (PhTestProcess *from, PhTestProcess *to, const char *text)
{
  const char *const message_event[] = { "message", NULL };
  g_autoptr (JsonObject) received = NULL;

  ph_test_process_write_line (from, text);
  received = next_event (to, message_event, MESSAGE_TIMEOUT_MS);
  if (received == NULL
      || g_strcmp0 (json_object_get_string_member_with_default (received, "text", ""), text) != 0)
    {
      g_test_fail_printf ("'%s' did not arrive within %d ms", text, MESSAGE_TIMEOUT_MS);
      return FALSE;
    }
  return TRUE;
}

/* One cell: host on side A, join on side B, and what must happen. Adds a
 * line to the summary. */
static void
run_cell (Lab *lab, const char *label, const char *ice_args_a, const char *ice_args_b,
          Expectation expect)
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

  host = spawn_cli (lab, "A", ice_args_a, "host", NULL);
  code = next_event (host, code_event, CODE_TIMEOUT_MS);
  if (code == NULL || !json_object_has_member (code, "code"))
    {
      g_test_fail_printf ("the host printed no code within %d ms", CODE_TIMEOUT_MS);
      g_string_append_printf (summary, "%-52s no code\n", label);
      return;
    }

  start = g_get_monotonic_time ();
  join = spawn_cli (lab, "B", ice_args_b, "join", json_object_get_string_member (code, "code"));
  join_outcome = next_event (join, outcome_events,
                             expect == EXPECT_FAILURE ? FAIL_TIMEOUT_MS : CONNECT_TIMEOUT_MS);
  host_outcome = next_event (host, outcome_events, 10000);
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
  host_outcome = next_event (host, closed_event, EXIT_TIMEOUT_MS);
  join_outcome = next_event (join, closed_event, EXIT_TIMEOUT_MS);
  if (host_outcome == NULL || join_outcome == NULL)
    g_test_fail_printf ("%s: the peers did not report the end of the chat", label);
  g_assert_cmpint (ph_test_process_wait_exit (host, EXIT_TIMEOUT_MS), ==, 0);
  g_assert_cmpint (ph_test_process_wait_exit (join, EXIT_TIMEOUT_MS), ==, 0);
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

    check = ph_test_process_spawn (argv, NULL);
  }
  result = next_event (check, nat_event, 10000);
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
  g_assert_cmpint (ph_test_process_wait_exit (check, 5000), ==, 0);
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

static void
test_print_summary (void)
{
  g_clear_pointer (&current_lab, lab_free);
  g_test_message ("NAT lab results:\n%s", summary->str);
}

int
main (int argc, char *argv[])
{
  g_autoptr (GPtrArray) cells = g_ptr_array_new_with_free_func (g_free);
  const char *const configs[] = { "stun-only", "stun-turn" };
  int status;

  g_test_init (&argc, &argv, NULL);
  summary = g_string_new (NULL);

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
  /* Last: a suite's own cases run before its sub-suites. */
  g_test_add_func ("/natlab/summary/print", test_print_summary);

  status = g_test_run ();
  g_clear_pointer (&current_lab, lab_free);
  g_string_free (summary, TRUE);
  g_free (lab_error);
  return status;
}
