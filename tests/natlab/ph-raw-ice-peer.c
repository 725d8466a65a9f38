/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-raw-ice-peer"

#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <glib/gstdio.h>
#include <string.h>

#include <agent.h>
#include <gio/gio.h>

/* ph-raw-ice-peer: a bare libnice agent, the baseline bench-natlab puts
 * next to Pinhole in each cell of the NAT lab. Two of them (one per
 * namespace) swap their full SDP through files in a directory both can
 * see, then run ICE; the controlling one prints how long it took:
 *
 *   ph-raw-ice-peer --controlling|--controlled --dir DIR --stun IP:PORT
 *                   [--turn IP:PORT --turn-user U --turn-pass P [--turn-tcp]]
 *                   [--upnp]
 *
 * --turn-tcp reaches the TURN server over TCP; --upnp turns on libnice's
 * own UPnP-IGD port mapping (off otherwise, as in Pinhole).
 *
 * Output: one JSON line, {"event":"ready","ms":…,"ready_ms":…,
 * "local":"srflx","remote":"prflx","ipv6":false} (ms: first selected pair; ready_ms:
 * component READY) or {"event":"failed","ms":…}. The clock starts when
 * the process starts, as Pinhole's setup_ms does. */

typedef struct
{
  NiceAgent *agent;
  GMainLoop *loop;
  guint stream_id;
  gboolean controlling;
  char *dir;
  gint64 start_us;
  double selected_ms; /* first selected pair: data can flow from here */
  char *selected_types;
  int exit_status;
} Peer;

static double
elapsed_ms (Peer *peer)
{
  return (g_get_monotonic_time () - peer->start_us) / 1000.0;
}

static const char *
candidate_type (NiceCandidate *candidate)
{
  switch (candidate->type)
    {
    case NICE_CANDIDATE_TYPE_HOST:
      return "host";
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE:
      return "srflx";
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE:
      return "prflx";
    case NICE_CANDIDATE_TYPE_RELAYED:
      return "relay";
    default:
      return "?";
    }
}

static char *
sdp_path (Peer *peer, gboolean ours)
{
  gboolean controlling_file = ours ? peer->controlling : !peer->controlling;

  return g_build_filename (peer->dir, controlling_file ? "controlling.sdp" : "controlled.sdp",
                           NULL);
}

static void
gathering_done_cb (NiceAgent *agent, guint stream_id, Peer *peer)
{
  g_autofree char *sdp = nice_agent_generate_local_sdp (agent);
  g_autofree char *path = sdp_path (peer, TRUE);
  g_autofree char *partial = g_strconcat (path, ".part", NULL);
  g_autoptr (GError) error = NULL;

  /* Written then renamed, so the peer never reads half a file. */
  if (!g_file_set_contents (partial, sdp, -1, &error) || g_rename (partial, path) != 0)
    {
      g_printerr ("ph-raw-ice-peer: cannot write %s: %s\n", path,
                  error != NULL ? error->message : g_strerror (errno));
      peer->exit_status = 2;
      g_main_loop_quit (peer->loop);
    }
}

static gboolean
poll_remote_cb (gpointer user_data)
{
  Peer *peer = user_data;
  g_autofree char *path = sdp_path (peer, FALSE);
  g_autofree char *sdp = NULL;

  if (!g_file_get_contents (path, &sdp, NULL, NULL))
    return G_SOURCE_CONTINUE;
  if (nice_agent_parse_remote_sdp (peer->agent, sdp) <= 0)
    {
      g_printerr ("ph-raw-ice-peer: the peer's SDP in %s does not parse\n", path);
      peer->exit_status = 2;
      g_main_loop_quit (peer->loop);
    }
  return G_SOURCE_REMOVE;
}

static void
new_selected_pair_cb (NiceAgent *agent, guint stream_id, guint component_id, NiceCandidate *local,
                      NiceCandidate *remote, Peer *peer)
{
  if (peer->selected_types != NULL)
    return;
  peer->selected_ms = elapsed_ms (peer);
  peer->selected_types = g_strdup_printf (
      "\"local\":\"%s\",\"remote\":\"%s\",\"ipv6\":%s", candidate_type (local),
      candidate_type (remote), nice_address_ip_version (&local->addr) == 6 ? "true" : "false");
}

static void
state_changed_cb (NiceAgent *agent, guint stream_id, guint component_id, guint state, Peer *peer)
{
  /* READY waits until every higher-priority pair has failed too, which
   * with unreachable private host candidates takes seconds; the first
   * selected pair is when data could flow. Both are printed. */
  if (state == NICE_COMPONENT_STATE_READY && peer->selected_types != NULL)
    {
      printf ("{\"event\":\"ready\",\"ms\":%.1f,\"ready_ms\":%.1f,%s}\n", peer->selected_ms,
              elapsed_ms (peer), peer->selected_types);
      fflush (stdout);
      peer->exit_status = 0;
      /* The controlled agent keeps answering until the controlling one is
       * done too: leaving early would fail the other side's checks. */
      if (peer->controlling)
        {
          g_autofree char *done = g_build_filename (peer->dir, "done", NULL);

          g_file_set_contents (done, "", 0, NULL);
          g_main_loop_quit (peer->loop);
        }
    }
  else if (state == NICE_COMPONENT_STATE_FAILED)
    {
      printf ("{\"event\":\"failed\",\"ms\":%.1f}\n", elapsed_ms (peer));
      peer->exit_status = 1;
      g_main_loop_quit (peer->loop);
    }
}

static void
receive_cb (NiceAgent *agent, guint stream_id, guint component_id, guint length, gchar *data,
            gpointer user_data)
{
}

static gboolean
poll_done_cb (gpointer user_data)
{
  Peer *peer = user_data;
  g_autofree char *done = g_build_filename (peer->dir, "done", NULL);

  if (!g_file_test (done, G_FILE_TEST_EXISTS))
    return G_SOURCE_CONTINUE;
  g_main_loop_quit (peer->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
timeout_cb (gpointer user_data)
{
  Peer *peer = user_data;

  printf ("{\"event\":\"failed\",\"ms\":%.1f,\"reason\":\"timeout\"}\n", elapsed_ms (peer));
  peer->exit_status = 1;
  g_main_loop_quit (peer->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
split_host_port (const char *text, char **out_host, guint *out_port)
{
  const char *colon = text != NULL ? strrchr (text, ':') : NULL;
  guint64 port;

  if (colon == NULL || !g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &port, NULL))
    return FALSE;
  *out_host = g_strndup (text, colon - text);
  *out_port = (guint)port;
  return TRUE;
}

int
main (int argc, char *argv[])
{
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *stun = NULL;
  g_autofree char *turn = NULL;
  g_autofree char *turn_user = NULL;
  g_autofree char *turn_pass = NULL;
  g_autofree char *host = NULL;
  gboolean controlling = FALSE;
  gboolean controlled = FALSE;
  gboolean turn_tcp = FALSE;
  gboolean upnp = FALSE;
  guint port;
  Peer peer = { 0 };
  const GOptionEntry entries[] = {
    { "controlling", 0, 0, G_OPTION_ARG_NONE, &controlling, "Be the controlling agent", NULL },
    { "controlled", 0, 0, G_OPTION_ARG_NONE, &controlled, "Be the controlled agent", NULL },
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &peer.dir, "Directory to swap SDP through", "DIR" },
    { "stun", 0, 0, G_OPTION_ARG_STRING, &stun, "STUN server", "IP:PORT" },
    { "turn", 0, 0, G_OPTION_ARG_STRING, &turn, "TURN server (UDP)", "IP:PORT" },
    { "turn-user", 0, 0, G_OPTION_ARG_STRING, &turn_user, "TURN user", "USER" },
    { "turn-pass", 0, 0, G_OPTION_ARG_STRING, &turn_pass, "TURN password", "PASSWORD" },
    { "turn-tcp", 0, 0, G_OPTION_ARG_NONE, &turn_tcp, "Reach the TURN server over TCP", NULL },
    { "upnp", 0, 0, G_OPTION_ARG_NONE, &upnp, "Ask the router for a port (UPnP-IGD)", NULL },
    { NULL }
  };

  peer.start_us = g_get_monotonic_time ();
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || controlling == controlled
      || peer.dir == NULL)
    {
      g_printerr ("usage: ph-raw-ice-peer --controlling|--controlled --dir DIR [--stun IP:PORT] "
                  "[--turn IP:PORT --turn-user U --turn-pass P [--turn-tcp]] [--upnp]\n");
      return 2;
    }

  peer.controlling = controlling;
  peer.loop = g_main_loop_new (NULL, FALSE);
  peer.agent = nice_agent_new_full (NULL, NICE_COMPATIBILITY_RFC5245, NICE_AGENT_OPTION_RELIABLE);
  /* Off unless asked, as Pinhole does (shared/NOTES.md): libnice's UPnP
   * costs ~200 ms even where no router answers. */
  g_object_set (peer.agent, "controlling-mode", controlling, "upnp", upnp, "ice-tcp", FALSE, NULL);
  if (stun != NULL)
    {
      if (!split_host_port (stun, &host, &port))
        {
          g_printerr ("ph-raw-ice-peer: --stun takes IP:PORT\n");
          return 2;
        }
      g_object_set (peer.agent, "stun-server", host, "stun-server-port", port, NULL);
      g_clear_pointer (&host, g_free);
    }

  g_signal_connect (peer.agent, "candidate-gathering-done", G_CALLBACK (gathering_done_cb), &peer);
  g_signal_connect (peer.agent, "component-state-changed", G_CALLBACK (state_changed_cb), &peer);
  g_signal_connect (peer.agent, "new-selected-pair-full", G_CALLBACK (new_selected_pair_cb), &peer);
  peer.stream_id = nice_agent_add_stream (peer.agent, 1);
  nice_agent_set_stream_name (peer.agent, peer.stream_id, "text");
  if (turn != NULL)
    {
      if (!split_host_port (turn, &host, &port) || turn_user == NULL || turn_pass == NULL)
        {
          g_printerr ("ph-raw-ice-peer: --turn takes IP:PORT and needs --turn-user, --turn-pass\n");
          return 2;
        }
      nice_agent_set_relay_info (peer.agent, peer.stream_id, 1, host, port, turn_user, turn_pass,
                                 turn_tcp ? NICE_RELAY_TYPE_TURN_TCP : NICE_RELAY_TYPE_TURN_UDP);
    }
  nice_agent_attach_recv (peer.agent, peer.stream_id, 1, NULL, receive_cb, &peer);
  if (!nice_agent_gather_candidates (peer.agent, peer.stream_id))
    {
      g_printerr ("ph-raw-ice-peer: gathering failed to start\n");
      return 2;
    }

  g_timeout_add (5, poll_remote_cb, &peer);
  if (!controlling)
    g_timeout_add (20, poll_done_cb, &peer);
  g_timeout_add_seconds (30, timeout_cb, &peer);
  g_main_loop_run (peer.loop);

  fflush (stdout);
  nice_agent_remove_stream (peer.agent, peer.stream_id);
  g_object_unref (peer.agent);
  g_main_loop_unref (peer.loop);
  g_free (peer.dir);
  g_free (peer.selected_types);
  return peer.exit_status;
}
