/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "bench-setup"

#include "config.h"

#include <stdio.h>

#include "ph-conversation.h"
#include "ph-ice-config.h"
#include "ph-test-programs.h"
#include "ph-test-wait.h"

/* Full setup on loopback, code entered → channel open, split into
 * rendezvous + PAKE / ICE / TLS, over many runs against a real
 * pinhole-rendezvous. Runs alternate between port mapping off and on
 * with the gateway on 127.0.0.1, where nobody answers (NAT-PMP is
 * refused, SSDP stays on loopback): what asking the router costs a setup
 * when no router answers. Prints numbers; never fails on time. */

#define DEFAULT_RUNS 30

typedef struct
{
  gboolean connected;
  gboolean ended;
} PeerState;

static void
state_cb (PhConversation *conversation, GParamSpec *pspec, PeerState *state)
{
  switch (ph_conversation_get_state (conversation))
    {
    case PH_CONVERSATION_STATE_CONNECTED:
      state->connected = TRUE;
      break;
    case PH_CONVERSATION_STATE_CLOSED:
    case PH_CONVERSATION_STATE_FAILED:
      state->ended = TRUE;
      break;
    default:
      break;
    }
}

static gboolean
has_code (gpointer data)
{
  return ph_conversation_get_code (data) != NULL;
}

static gboolean
both_connected_or_one_ended (gpointer data)
{
  PeerState *states = data;

  return (states[0].connected && states[1].connected) || states[0].ended || states[1].ended;
}

static gboolean
both_ended (gpointer data)
{
  PeerState *states = data;

  return states[0].ended && states[1].ended;
}

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return (x > y) - (x < y);
}

static void
print_stats (const char *label, GArray *samples)
{
  g_array_sort (samples, compare_doubles);
  printf ("  %-22s median %7.2f ms   p90 %7.2f ms   min %7.2f ms   max %7.2f ms\n", label,
          g_array_index (samples, double, samples->len / 2),
          g_array_index (samples, double, (samples->len * 9) / 10),
          g_array_index (samples, double, 0), g_array_index (samples, double, samples->len - 1));
}

int
main (int argc, char *argv[])
{
  g_autoptr (PhTestProcess) server = NULL;
  g_autofree char *url = NULL;
  g_autoptr (GArray) total = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) rendezvous = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) ice = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) tls = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) mapping_off = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) mapping_on = g_array_new (FALSE, FALSE, sizeof (double));
  guint runs = argc > 1 ? (guint)g_ascii_strtoull (argv[1], NULL, 10) : DEFAULT_RUNS;

  /* Never the real gateway: this runs on the host. */
  g_setenv ("PINHOLE_PORT_MAPPING_GATEWAY", "127.0.0.1", TRUE);
  g_unsetenv ("PINHOLE_PORT_MAPPING");
  if (g_getenv ("PINHOLE_RENDEZVOUS_BIN") == NULL)
    g_setenv ("PINHOLE_RENDEZVOUS_BIN", PH_BENCH_RENDEZVOUS_BIN, TRUE);
  /* Every run comes from 127.0.0.1: lift the per-client limits. */
  server = ph_test_start_rendezvous (
      (const char *[]){ "--store=memory:", "--rate=100000", "--burst=100000",
                        "--allocations-per-minute=100000", "--joins-per-hour=100000",
                        "--max-mailboxes-per-client=100000", NULL },
      &url);

  for (guint run = 0; run < MAX (runs, 1); run++)
    {
      g_autoptr (PhIceConfig) config = ph_ice_config_new ();
      g_autoptr (PhIceConfig) joiner_config = NULL;
      g_autoptr (PhConversation) host = NULL;
      g_autoptr (PhConversation) joiner = NULL;
      PeerState states[2] = { { 0 } };
      const PhSetupTimes *times;

      config->port_mapping = run % 2 == 1;
      joiner_config = ph_ice_config_copy (config);
      host = ph_conversation_new (url, "Alice", config);
      joiner = ph_conversation_new (url, "Bob", joiner_config);
      g_signal_connect (host, "notify::state", G_CALLBACK (state_cb), &states[0]);
      g_signal_connect (joiner, "notify::state", G_CALLBACK (state_cb), &states[1]);
      ph_conversation_host (host);
      if (!ph_test_wait_until (has_code, host, 10000))
        g_error ("no code after 10 s");
      if (!ph_conversation_join (joiner, ph_conversation_get_code (host), NULL))
        g_error ("the host's code was refused");
      if (!ph_test_wait_until (both_connected_or_one_ended, states, 30000) || !states[0].connected
          || !states[1].connected)
        {
          const GError *error = ph_conversation_get_error (states[0].ended ? host : joiner);

          g_error ("run %u did not connect: %s", run, error != NULL ? error->message : "timeout");
        }

      times = ph_conversation_get_setup_times (joiner);
      g_array_append_val (total, times->total_ms);
      g_array_append_val (rendezvous, times->rendezvous_ms);
      g_array_append_val (ice, times->ice_ms);
      g_array_append_val (tls, times->tls_ms);
      g_array_append_val (config->port_mapping ? mapping_on : mapping_off, times->total_ms);

      ph_conversation_leave (joiner);
      ph_conversation_leave (host);
      ph_test_wait_until (both_ended, states, 10000);
    }

  printf ("Setup on loopback, code entered → channel open (%u runs, joiner's clock):\n",
          total->len);
  print_stats ("total", total);
  print_stats ("rendezvous + PAKE", rendezvous);
  print_stats ("ICE", ice);
  print_stats ("TLS + hello", tls);
  if (mapping_on->len > 0)
    {
      print_stats ("port mapping off", mapping_off);
      print_stats ("on, nobody answers", mapping_on);
      printf ("summary: port_mapping_cost_ms=%.2f (median on - median off)\n",
              g_array_index (mapping_on, double, mapping_on->len / 2)
                  - g_array_index (mapping_off, double, mapping_off->len / 2));
    }
  printf ("summary: setup_median_ms=%.2f setup_p90_ms=%.2f\n",
          g_array_index (total, double, total->len / 2),
          g_array_index (total, double, (total->len * 9) / 10));

  ph_test_process_stop (server);
  return 0;
}
