/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-ice-transport"

#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>
#include <nice.h>

#include "ph-error.h"
#include "ph-ice-transport-private.h"
#include "ph-nice-stream.h"
#include "ph-port-mapper.h"
#include "ph-session-description.h"
#include "ph-test-hooks.h"
#include "ph-turn-bridge.h"

/* One libnice agent and everything it is told: servers resolved before
 * gathering, relays ordered UDP, TCP, TLS (the last two through
 * PhTurnBridge), trickle both ways, states, the selected pair and its
 * TURN leg, and closing in the order libnice needs. Longer than most
 * files here because those are one conversation with one NiceAgent;
 * split further, each part would reach into the same agent. */

#define COMPONENT_ID 1
/* Trickle lets a peer send candidates without end; a real peer has a few. */
#define MAX_REMOTE_CANDIDATES 64

/* libnice gives up on a STUN request after three retransmissions (2 s).
 * While pairs are checked, five (9.5 s): behind an address-restricted
 * NAT the peer's checks get in only once this side has sent to the
 * peer's address, which it can do only after the rendezvous has brought
 * the peer's candidates; when that took over 2 s (a busy or rate-limiting
 * server), the peer had given up on a pair that would have worked
 * (tests/test-natlab.c, /natlab/fault/slow-rendezvous). Gathering, four
 * (4.5 s): with three, 3 setups in 70 under 20% loss ended up
 * without a server-reflexive candidate and failed; candidates trickle, so
 * only the end of gathering waits for a silent server. Once connected,
 * TURN refreshes and the deallocation on close keep three: waiting longer
 * would only hold up a closing peer. */
#define CHECKING_STUN_RETRANSMISSIONS 5
#define GATHERING_STUN_RETRANSMISSIONS 4
#define CONNECTED_STUN_RETRANSMISSIONS 3

/* A probe (below) that has neither found a direct pair nor failed by then
 * counts as failed: one STUN round trip to gather, the answer through the
 * relay, and the checks, which give up within a few seconds. */
#define PROBE_TIMEOUT_MS 10000
/* A probe's candidates go out with its first server-reflexive one, at the
 * end of gathering, or after this, whichever comes first: libnice ends
 * gathering for the whole agent at once, and a server-reflexive request
 * of the first stream that goes unanswered (seen when the STUN server is
 * also its TURN server) would otherwise hold the probe up for seconds. */
#define PROBE_GATHER_MS 500
/* After moving, how often we look whether the peer has moved too. */
#define RETIRE_CHECK_MS 500

/* Tests make a chat start relayed where a direct path exists: the first
 * stream announces its relay candidates only; probes announce all. */
#define HIDE_DIRECT_CANDIDATES() ph_test_hook_is_set ("PINHOLE_TEST_HIDE_DIRECT_CANDIDATES")

struct _PhIceTransport
{
  GObject parent_instance;

  PhIceConfig *config;
  gboolean controlling;
  GMainContext *context;
  NiceAgent *agent;
  guint stream_id;
  char *ufrag;
  char *pwd;
  PhNiceStream *stream;
  PhIceState state;
  PhPath *path;

  GCancellable *cancellable;
  guint pending_lookups;
  char *stun_address;
  GPtrArray *turn_addresses; /* char *, one per config->turn_servers, NULL if unresolved */
  PhTurnBridge *bridge;      /* for TURN over TCP and TLS; NULL without such servers */
  char *relay_problem;       /* why there is no bridge, when there could be none */
  char *mapping_protocol;    /* the router's port for our host candidate, if any */
  char *mapping_address;
  guint mapping_port;
  guint n_local_candidates;
  guint n_remote_candidates;
  gboolean started;
  gboolean closed;

  /* A probe: a second stream without relays, looking for a direct path
   * while this one is relayed (see "Probes" below). */
  guint probe_stream_id; /* 0: none */
  guint64 probe_id;
  GPtrArray *probe_candidates; /* char *, our lines */
  gboolean probe_announced;    /* "probe-ready" was emitted */
  guint probe_gather_id;
  guint probe_timeout_id;
  guint old_stream_id; /* moved away from; goes once the peer has moved too */
  guint retire_id;
};

enum
{
  SIGNAL_LOCAL_CANDIDATE,
  SIGNAL_GATHERING_DONE,
  SIGNAL_STATE_CHANGED,
  SIGNAL_PATH_CHANGED,
  SIGNAL_RELAY_PROBLEM,
  SIGNAL_PROBE_READY,
  SIGNAL_PROBE_FAILED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PhIceTransport, ph_ice_transport, G_TYPE_OBJECT)

const char *
ph_ice_state_to_string (PhIceState state)
{
  switch (state)
    {
    case PH_ICE_STATE_NEW:
      return "new";
    case PH_ICE_STATE_GATHERING:
      return "gathering";
    case PH_ICE_STATE_CONNECTING:
      return "connecting";
    case PH_ICE_STATE_CONNECTED:
      return "connected";
    case PH_ICE_STATE_READY:
      return "ready";
    case PH_ICE_STATE_FAILED:
      return "failed";
    case PH_ICE_STATE_CLOSED:
      return "closed";
    default:
      return "unknown";
    }
}

static void
set_state (PhIceTransport *self, PhIceState state)
{
  if (self->state == state || self->state == PH_ICE_STATE_CLOSED)
    return;
  g_debug ("ICE state %s → %s", ph_ice_state_to_string (self->state),
           ph_ice_state_to_string (state));
  self->state = state;
  if (state == PH_ICE_STATE_CONNECTED)
    g_object_set (self->agent, "stun-max-retransmissions", CONNECTED_STUN_RETRANSMISSIONS, NULL);
  g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0, (int)state);
}

static const char *
candidate_type_name (NiceCandidateType type)
{
  switch (type)
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
      return "unknown";
    }
}

/* How this end reaches the TURN server of its relay candidate @local,
 * found by the server's address, which libnice tells: a placeholder of
 * the bridge for TCP and TLS, the resolved address for UDP. */
static void
describe_turn_leg (PhIceTransport *self, const NiceCandidate *local, PhPath *path)
{
  GPtrArray *servers = self->config->turn_servers;
  char address[NICE_ADDRESS_STRING_LEN];
  PhTurnTransport transport;
  gboolean via_proxy = FALSE;
  NiceCandidate *selected_local = NULL;
  NiceCandidate *selected_remote = NULL;
  NiceAddress relay;
  guint port;

  if (local->type != NICE_CANDIDATE_TYPE_RELAYED)
    return;
  /* The candidates of libnice's signals are copies without their TURN
   * server (nice_candidate_copy in 0.1.21), which
   * nice_candidate_relay_address would read through a NULL pointer; the
   * agent's own selected pair has it. */
  if (!nice_agent_get_selected_pair (self->agent, self->stream_id, COMPONENT_ID, &selected_local,
                                     &selected_remote)
      || selected_local->type != NICE_CANDIDATE_TYPE_RELAYED
      || !nice_address_equal (&selected_local->addr, &local->addr))
    return;
  nice_candidate_relay_address (selected_local, &relay);
  nice_address_to_string (&relay, address);
  port = nice_address_get_port (&relay);

  if (self->bridge != NULL
      && ph_turn_bridge_lookup (self->bridge, address, port, &transport, &via_proxy))
    {
      path->turn_transport = g_strdup (ph_turn_transport_to_string (transport));
      path->turn_port = port;
      path->turn_proxy = via_proxy;
      return;
    }

  for (guint i = 0; i < servers->len && i < self->turn_addresses->len; i++)
    {
      const PhTurnServer *server = g_ptr_array_index (servers, i);
      const char *server_address = g_ptr_array_index (self->turn_addresses, i);
      NiceAddress candidate;

      if (server->transport != PH_TURN_TRANSPORT_UDP || server_address == NULL
          || !nice_address_set_from_string (&candidate, server_address))
        continue;
      nice_address_set_port (&candidate, server->port);
      if (nice_address_equal (&relay, &candidate))
        {
          path->turn_transport = g_strdup (ph_turn_transport_to_string (server->transport));
          path->turn_port = server->port;
          return;
        }
    }
}

/* Our end: the peer's answers saw our mapped address (a local prflx, or
 * the mapped candidate itself). The peer's end: its mapped candidate
 * carries the protocol as its foundation. */
static void
describe_port_mapping (PhIceTransport *self, const NiceCandidate *remote, PhPath *path)
{
  PhPortMappingProtocol peer_protocol;

  if (path->relayed)
    return;
  if (self->mapping_address != NULL && g_strcmp0 (path->local_address, self->mapping_address) == 0
      && path->local_port == self->mapping_port)
    {
      path->port_mapping = g_strdup (self->mapping_protocol);
      return;
    }
  peer_protocol = ph_port_mapping_protocol_from_foundation (remote->foundation);
  if (peer_protocol != PH_PORT_MAPPING_PROTOCOL_NONE)
    {
      path->port_mapping = g_strdup (ph_port_mapping_protocol_to_string (peer_protocol));
      path->port_mapping_by_peer = TRUE;
    }
}

static PhPath *
path_from_pair (PhIceTransport *self, const NiceCandidate *local, const NiceCandidate *remote)
{
  PhPath *path = g_new0 (PhPath, 1);
  char address[NICE_ADDRESS_STRING_LEN];

  path->local_type = g_strdup (candidate_type_name (local->type));
  path->local_transport
      = g_strdup (local->transport == NICE_CANDIDATE_TRANSPORT_UDP ? "udp" : "tcp");
  nice_address_to_string (&local->addr, address);
  path->local_address = g_strdup (address);
  path->local_port = nice_address_get_port (&local->addr);

  path->remote_type = g_strdup (candidate_type_name (remote->type));
  path->remote_transport
      = g_strdup (remote->transport == NICE_CANDIDATE_TRANSPORT_UDP ? "udp" : "tcp");
  nice_address_to_string (&remote->addr, address);
  path->remote_address = g_strdup (address);
  path->remote_port = nice_address_get_port (&remote->addr);

  path->relayed
      = local->type == NICE_CANDIDATE_TYPE_RELAYED || remote->type == NICE_CANDIDATE_TYPE_RELAYED;
  describe_turn_leg (self, local, path);
  describe_port_mapping (self, remote, path);
  return path;
}

static void probe_candidate (PhIceTransport *self, NiceCandidateType type, const char *line);
static void announce_probe (PhIceTransport *self);
static void probe_state_changed (PhIceTransport *self, NiceComponentState state);

static void
new_candidate_full_cb (NiceAgent *agent, NiceCandidate *candidate, PhIceTransport *self)
{
  g_autofree char *sdp = NULL;
  const char *line;

  if (candidate->component_id != COMPONENT_ID
      || (candidate->stream_id != self->stream_id
          && (candidate->stream_id != self->probe_stream_id || self->probe_stream_id == 0)))
    return;

  sdp = nice_agent_generate_local_candidate_sdp (agent, candidate);
  if (sdp == NULL)
    return;
  g_strchomp (sdp);
  line = g_str_has_prefix (sdp, "a=") ? sdp + 2 : sdp;

  if (candidate->stream_id == self->probe_stream_id)
    {
      probe_candidate (self, candidate->type, line);
      return;
    }
  if (HIDE_DIRECT_CANDIDATES () && candidate->type != NICE_CANDIDATE_TYPE_RELAYED)
    return;
  self->n_local_candidates++;
  g_signal_emit (self, signals[SIGNAL_LOCAL_CANDIDATE], 0, line);
}

static void
candidate_gathering_done_cb (NiceAgent *agent, guint stream_id, PhIceTransport *self)
{
  if (stream_id != 0 && stream_id == self->probe_stream_id)
    announce_probe (self);
  if (stream_id != self->stream_id)
    return;

  g_signal_emit (self, signals[SIGNAL_GATHERING_DONE], 0);
  /* Without a single local candidate no check can ever be sent; libnice
   * would wait forever (relay-only with no usable TURN server). */
  if (self->n_local_candidates == 0)
    set_state (self, PH_ICE_STATE_FAILED);
}

static void
component_state_changed_cb (NiceAgent *agent, guint stream_id, guint component_id, guint state,
                            PhIceTransport *self)
{
  if (component_id == COMPONENT_ID && stream_id != 0 && stream_id == self->probe_stream_id)
    probe_state_changed (self, state);
  if (stream_id != self->stream_id || component_id != COMPONENT_ID)
    return;

  switch ((NiceComponentState)state)
    {
    case NICE_COMPONENT_STATE_GATHERING:
      set_state (self, PH_ICE_STATE_GATHERING);
      break;
    case NICE_COMPONENT_STATE_CONNECTING:
      set_state (self, PH_ICE_STATE_CONNECTING);
      break;
    case NICE_COMPONENT_STATE_CONNECTED:
      set_state (self, PH_ICE_STATE_CONNECTED);
      break;
    case NICE_COMPONENT_STATE_READY:
      set_state (self, PH_ICE_STATE_READY);
      break;
    case NICE_COMPONENT_STATE_FAILED:
      set_state (self, PH_ICE_STATE_FAILED);
      break;
    case NICE_COMPONENT_STATE_DISCONNECTED:
    case NICE_COMPONENT_STATE_LAST:
    default:
      /* Before gathering, or transient during a restart: nothing a person
       * needs to see. */
      break;
    }
}

static void
new_selected_pair_full_cb (NiceAgent *agent, guint stream_id, guint component_id,
                           NiceCandidate *local, NiceCandidate *remote, PhIceTransport *self)
{
  g_autoptr (PhPath) path = NULL;

  if (stream_id != self->stream_id || component_id != COMPONENT_ID)
    return;

  path = path_from_pair (self, local, remote);
  if (ph_path_equal (path, self->path))
    return;

  g_clear_pointer (&self->path, ph_path_free);
  self->path = g_steal_pointer (&path);
  g_signal_emit (self, signals[SIGNAL_PATH_CHANGED], 0, self->path);
}

/* The probe's stream and the one we moved away from, with their timers. */
static void
remove_side_streams (PhIceTransport *self)
{
  g_clear_handle_id (&self->probe_gather_id, g_source_remove);
  g_clear_handle_id (&self->probe_timeout_id, g_source_remove);
  g_clear_handle_id (&self->retire_id, g_source_remove);
  if (self->probe_stream_id != 0)
    nice_agent_remove_stream (self->agent, self->probe_stream_id);
  if (self->old_stream_id != 0)
    nice_agent_remove_stream (self->agent, self->old_stream_id);
  self->probe_stream_id = 0;
  self->old_stream_id = 0;
  g_ptr_array_set_size (self->probe_candidates, 0);
}

static void
ph_ice_transport_dispose (GObject *object)
{
  PhIceTransport *self = PH_ICE_TRANSPORT (object);

  g_cancellable_cancel (self->cancellable);

  if (self->agent != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->agent, self);
      /* Drop the stream first: it detaches its receive callback from the
       * agent stream it wraps. */
      g_clear_object (&self->stream);
      if (!self->closed)
        nice_agent_remove_stream (self->agent, self->stream_id);
      self->closed = TRUE;
      remove_side_streams (self);
      g_clear_object (&self->agent);
    }
  /* After the agent: its last TURN messages (the deallocations) go
   * through the bridge. */
  if (self->bridge != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->bridge, self);
      ph_turn_bridge_close (self->bridge);
    }
  g_clear_object (&self->bridge);

  G_OBJECT_CLASS (ph_ice_transport_parent_class)->dispose (object);
}

static void
ph_ice_transport_finalize (GObject *object)
{
  PhIceTransport *self = PH_ICE_TRANSPORT (object);

  g_clear_pointer (&self->config, ph_ice_config_free);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_pointer (&self->path, ph_path_free);
  g_clear_pointer (&self->turn_addresses, g_ptr_array_unref);
  g_clear_pointer (&self->probe_candidates, g_ptr_array_unref);
  g_clear_object (&self->cancellable);
  g_free (self->stun_address);
  g_free (self->relay_problem);
  g_free (self->mapping_protocol);
  g_free (self->mapping_address);
  g_free (self->ufrag);
  g_free (self->pwd);

  G_OBJECT_CLASS (ph_ice_transport_parent_class)->finalize (object);
}

static void
ph_ice_transport_class_init (PhIceTransportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ph_ice_transport_dispose;
  object_class->finalize = ph_ice_transport_finalize;

  signals[SIGNAL_LOCAL_CANDIDATE]
      = g_signal_new ("local-candidate", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                      NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_GATHERING_DONE]
      = g_signal_new ("gathering-done", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_STATE_CHANGED]
      = g_signal_new ("state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, PH_TYPE_ICE_STATE);
  signals[SIGNAL_PATH_CHANGED]
      = g_signal_new ("path-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, PH_TYPE_PATH | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_RELAY_PROBLEM]
      = g_signal_new ("relay-problem", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_PROBE_READY] = g_signal_new (
      "probe-ready", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
      4, G_TYPE_UINT64, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
      G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE, G_TYPE_STRV | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_PROBE_FAILED]
      = g_signal_new ("probe-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_UINT64);
}

static void
ph_ice_transport_init (PhIceTransport *self)
{
  self->cancellable = g_cancellable_new ();
  self->turn_addresses = g_ptr_array_new_with_free_func (g_free);
  self->probe_candidates = g_ptr_array_new_with_free_func (g_free);
}

PhIceTransport *
ph_ice_transport_new (const PhIceConfig *config, gboolean controlling)
{
  g_autoptr (PhIceConfig) default_config = NULL;
  PhIceTransport *self;

  if (config == NULL)
    config = default_config = ph_ice_config_new ();

  self = g_object_new (PH_TYPE_ICE_TRANSPORT, NULL);
  self->config = ph_ice_config_copy (config);
  self->controlling = controlling;
  self->context = g_main_context_ref_thread_default ();

  /* Not libnice's reliable mode: its pseudo-TCP recovers a lost packet
   * only after a second or more, so datagrams go to our own link
   * (ph-reliable-link.c, through PhNiceStream) instead. Trickle: candidates go out as they are
   * found, so setup does not wait for the slowest STUN/TURN server. Aggressive nomination (the
   * default, no REGULAR_NOMINATION) selects the first working pair at once instead of waiting for
   * every check; a better pair found later still replaces it and is reported by "path-changed". No
   * CONSENT_FRESHNESS: in 0.1.21 one late response can fail the component; keepalive-conncheck
   * below gives liveness instead. */
  self->agent = nice_agent_new_full (self->context, NICE_COMPATIBILITY_RFC5245,
                                     NICE_AGENT_OPTION_ICE_TRICKLE);
  /* UDP only: ICE-TCP pairs need BYTESTREAM_TCP framing and add
   * candidates that rarely help behind NATs; TURN over TCP still works
   * because the relay candidate itself is UDP towards the peer. libnice's
   * UPnP holds up every setup by ~200 ms: PhPortMapper asks the router
   * beside gathering instead (PhConnectionAttempt). Checks are
   * paced at 5 ms, the floor RFC 8445 allows, instead of libnice's 20 ms:
   * with the few candidates a peer has, this takes loopback setup from
   * ~21 ms to ~6 ms. */
  g_object_set (self->agent, "controlling-mode", controlling, "upnp", FALSE, "ice-tcp", FALSE,
                "keepalive-conncheck", TRUE, "force-relay", config->relay_only, "stun-pacing-timer",
                5, "stun-max-retransmissions", GATHERING_STUN_RETRANSMISSIONS, NULL);

  self->stream_id = nice_agent_add_stream (self->agent, 1);
  nice_agent_get_local_credentials (self->agent, self->stream_id, &self->ufrag, &self->pwd);

  g_signal_connect (self->agent, "new-candidate-full", G_CALLBACK (new_candidate_full_cb), self);
  g_signal_connect (self->agent, "candidate-gathering-done",
                    G_CALLBACK (candidate_gathering_done_cb), self);
  g_signal_connect (self->agent, "component-state-changed", G_CALLBACK (component_state_changed_cb),
                    self);
  g_signal_connect (self->agent, "new-selected-pair-full", G_CALLBACK (new_selected_pair_full_cb),
                    self);

  /* Attached from the start so that STUN responses are read while
   * gathering, long before anyone reads the stream. */
  self->stream = ph_nice_stream_new (self->agent, self->stream_id, COMPONENT_ID, self->context);

  return self;
}

/* libnice ranks a relay candidate of a UDP server above one of a TCP
 * server (its type preference), and among those, the server given later
 * above the one given earlier (its local preference). So TLS goes first,
 * then TCP, then UDP, each in reverse: the fallback costs nothing while
 * UDP works, and among equals the server named first wins. */
static void
add_relays (PhIceTransport *self)
{
  static const PhTurnTransport order[]
      = { PH_TURN_TRANSPORT_TLS, PH_TURN_TRANSPORT_TCP, PH_TURN_TRANSPORT_UDP };
  GPtrArray *servers = self->config->turn_servers;

  for (guint t = 0; t < G_N_ELEMENTS (order); t++)
    for (guint i = servers->len; i-- > 0;)
      {
        const PhTurnServer *server = g_ptr_array_index (servers, i);
        const char *address = g_ptr_array_index (self->turn_addresses, i);

        if (server->transport != order[t] || address == NULL)
          continue;
        /* TCP and TLS are NICE_RELAY_TYPE_TURN_TCP to a placeholder, through
         * the bridge: libnice's TURN_TLS is not TLS. */
        nice_agent_set_relay_info (self->agent, self->stream_id, COMPONENT_ID, address,
                                   server->port, server->username, server->password,
                                   server->transport == PH_TURN_TRANSPORT_UDP
                                       ? NICE_RELAY_TYPE_TURN_UDP
                                       : NICE_RELAY_TYPE_TURN_TCP);
      }
}

static void
configure_and_gather (PhIceTransport *self)
{
  if (self->stun_address != NULL)
    g_object_set (self->agent, "stun-server", self->stun_address, "stun-server-port",
                  self->config->stun_port, NULL);

  /* libnice sends every TCP TURN connection of the agent through its
   * proxy: all of them are the bridge's. */
  if (self->bridge != NULL)
    g_object_set (self->agent, "proxy-type", NICE_PROXY_TYPE_HTTP, "proxy-ip", "127.0.0.1",
                  "proxy-port", (guint)ph_turn_bridge_get_port (self->bridge), NULL);
  add_relays (self);

  if (!nice_agent_gather_candidates (self->agent, self->stream_id))
    {
      g_warning ("Could not gather ICE candidates: no usable local network address");
      set_state (self, PH_ICE_STATE_FAILED);
    }
}

typedef struct
{
  PhIceTransport *self;
  int index; /* into turn_servers, or -1 for STUN */
} Lookup;

/* A name with both an IPv6 and an IPv4 address gave no relay candidate in
 * testing (see NOTES), so IPv4 wins when there is one. */
static char *
pick_address (GList *addresses)
{
  for (GList *l = addresses; l != NULL; l = l->next)
    if (g_inet_address_get_family (l->data) == G_SOCKET_FAMILY_IPV4)
      return g_inet_address_to_string (l->data);
  return addresses != NULL ? g_inet_address_to_string (addresses->data) : NULL;
}

static void
lookup_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Lookup *lookup = user_data;
  g_autoptr (PhIceTransport) self = lookup->self;
  g_autoptr (GError) error = NULL;
  GList *addresses;
  int index = lookup->index;

  g_free (lookup);

  addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || self->closed)
    {
      g_resolver_free_addresses (addresses);
      return;
    }

  if (addresses == NULL)
    {
      const char *host
          = index < 0
                ? self->config->stun_host
                : ((PhTurnServer *)g_ptr_array_index (self->config->turn_servers, index))->host;
      g_warning ("Could not resolve the %s server %s (%s); gathering without it",
                 index < 0 ? "STUN" : "TURN", host, error->message);
    }
  else if (index < 0)
    self->stun_address = pick_address (addresses);
  else
    {
      g_free (g_ptr_array_index (self->turn_addresses, index));
      g_ptr_array_index (self->turn_addresses, index) = pick_address (addresses);
    }
  g_resolver_free_addresses (addresses);

  if (--self->pending_lookups == 0)
    configure_and_gather (self);
}

/* Returns TRUE when @host needs an asynchronous lookup; otherwise stores
 * the literal address in @address. */
static gboolean
resolve (PhIceTransport *self, const char *host, int index, char **address)
{
  g_autoptr (GResolver) resolver = NULL;
  Lookup *lookup;

  if (g_hostname_is_ip_address (host))
    {
      *address = g_strdup (host);
      return FALSE;
    }

  lookup = g_new0 (Lookup, 1);
  lookup->self = g_object_ref (self);
  lookup->index = index;
  resolver = g_resolver_get_default ();
  g_resolver_lookup_by_name_async (resolver, host, self->cancellable, lookup_cb, lookup);
  return TRUE;
}

static void
bridge_problem_cb (PhTurnBridge *bridge, const char *problem, PhIceTransport *self)
{
  if (!self->closed)
    g_signal_emit (self, signals[SIGNAL_RELAY_PROBLEM], 0, problem);
}

/* The placeholder address of @server on the bridge, made on first use;
 * NULL, and the reason kept, when there can be none. */
static char *
bridge_server (PhIceTransport *self, const PhTurnServer *server)
{
  g_autoptr (GError) error = NULL;
  char *placeholder;

  if (self->bridge == NULL && self->relay_problem == NULL)
    {
      self->bridge = ph_turn_bridge_new (&error);
      if (self->bridge != NULL)
        g_signal_connect (self->bridge, "problem", G_CALLBACK (bridge_problem_cb), self);
      else
        {
          self->relay_problem = g_strdup_printf (
              /* Translators: %s is the system's error message. */
              _ ("TURN over TCP and TLS is unavailable: there is no local port for it (%s)."),
              error->message);
          g_warning ("%s", self->relay_problem);
          g_signal_emit (self, signals[SIGNAL_RELAY_PROBLEM], 0, self->relay_problem);
        }
    }
  if (self->bridge == NULL)
    return NULL;
  placeholder = ph_turn_bridge_add_server (self->bridge, server);
  if (placeholder == NULL)
    g_warning ("Too many TURN servers over TCP and TLS; %s:%u is left out", server->host,
               server->port);
  return placeholder;
}

void
ph_ice_transport_start (PhIceTransport *self)
{
  g_return_if_fail (PH_IS_ICE_TRANSPORT (self));
  g_return_if_fail (!self->started);

  self->started = TRUE;
  if (self->closed)
    return;
  set_state (self, PH_ICE_STATE_GATHERING);

  g_ptr_array_set_size (self->turn_addresses, self->config->turn_servers->len);

  /* Count every lookup before starting any, so that one finishing early
   * cannot start gathering before the others are known. */
  self->pending_lookups = 1;
  if (self->config->stun_host != NULL
      && resolve (self, self->config->stun_host, -1, &self->stun_address))
    self->pending_lookups++;
  for (guint i = 0; i < self->config->turn_servers->len; i++)
    {
      const PhTurnServer *server = g_ptr_array_index (self->config->turn_servers, i);

      if (server->transport != PH_TURN_TRANSPORT_UDP)
        /* The bridge resolves the name when it connects, or the proxy
         * does: on a network where only the proxy reaches out, this
         * machine may not resolve outside names at all. */
        g_ptr_array_index (self->turn_addresses, i) = bridge_server (self, server);
      else if (resolve (self, server->host, (int)i,
                        (char **)&g_ptr_array_index (self->turn_addresses, i)))
        self->pending_lookups++;
    }
  if (--self->pending_lookups == 0)
    configure_and_gather (self);
}

gboolean
ph_ice_transport_set_local_addresses (PhIceTransport *self, const char *const *addresses,
                                      GError **error)
{
  g_return_val_if_fail (PH_IS_ICE_TRANSPORT (self), FALSE);
  g_return_val_if_fail (addresses != NULL, FALSE);
  g_return_val_if_fail (!self->started, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  for (guint i = 0; addresses[i] != NULL; i++)
    {
      NiceAddress address;

      nice_address_init (&address);
      if (!nice_address_set_from_string (&address, addresses[i]))
        {
          g_set_error (error, PH_ERROR, PH_ERROR_FAILED,
                       "“%s” is not a numeric IP address to gather on.", addresses[i]);
          return FALSE;
        }
      nice_agent_add_local_address (self->agent, &address);
    }
  return TRUE;
}

void
ph_ice_transport_force_fail (PhIceTransport *self)
{
  g_return_if_fail (PH_IS_ICE_TRANSPORT (self));

  set_state (self, PH_ICE_STATE_FAILED);
}

const char *
ph_ice_transport_get_ufrag (PhIceTransport *self)
{
  g_return_val_if_fail (PH_IS_ICE_TRANSPORT (self), NULL);
  return self->ufrag;
}

const char *
ph_ice_transport_get_pwd (PhIceTransport *self)
{
  g_return_val_if_fail (PH_IS_ICE_TRANSPORT (self), NULL);
  return self->pwd;
}

PhIceState
ph_ice_transport_get_state (PhIceTransport *self)
{
  g_return_val_if_fail (PH_IS_ICE_TRANSPORT (self), PH_ICE_STATE_CLOSED);
  return self->state;
}

/* RFC 8839: ice-char is ALPHA / DIGIT / "+" / "/". */
static gboolean
is_ice_string (const char *text, gsize min_length, gsize max_length)
{
  gsize len = strlen (text);

  if (len < min_length || len > max_length)
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '+' && *p != '/')
      return FALSE;
  return TRUE;
}

gboolean
ph_ice_transport_set_remote_credentials (PhIceTransport *self, const char *ufrag, const char *pwd,
                                         GError **error)
{
  g_return_val_if_fail (PH_IS_ICE_TRANSPORT (self), FALSE);
  g_return_val_if_fail (ufrag != NULL && pwd != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->closed)
    {
      g_set_error_literal (error, PH_ERROR, PH_ERROR_NOT_CONNECTED,
                           "The connection is already closed.");
      return FALSE;
    }
  if (!is_ice_string (ufrag, 4, 256) || !is_ice_string (pwd, 22, 256))
    {
      g_set_error_literal (error, PH_ERROR, PH_ERROR_INVALID_DESCRIPTION,
                           "The peer’s ICE user fragment or password is malformed.");
      return FALSE;
    }
  if (!nice_agent_set_remote_credentials (self->agent, self->stream_id, ufrag, pwd))
    {
      g_set_error_literal (error, PH_ERROR, PH_ERROR_FAILED,
                           "The peer’s ICE credentials could not be set.");
      return FALSE;
    }
  /* Checks can start now. */
  if (self->state != PH_ICE_STATE_CONNECTED && self->state != PH_ICE_STATE_READY)
    g_object_set (self->agent, "stun-max-retransmissions", CHECKING_STUN_RETRANSMISSIONS, NULL);
  return TRUE;
}

/* Checks @candidate (ph_candidate_validate) and gives it to @stream_id. */
static gboolean
add_remote_candidate_to (PhIceTransport *self, guint stream_id, const char *candidate,
                         GError **error)
{
  g_autofree char *line = NULL;
  NiceCandidate *parsed;
  GSList *list;
  int added;

  if (!ph_candidate_validate (candidate, error))
    return FALSE;

  /* libnice only reads the attribute with its "a=" prefix. */
  line = g_strconcat ("a=", candidate, NULL);
  parsed = nice_agent_parse_remote_candidate_sdp (self->agent, stream_id, line);
  if (parsed == NULL)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_INVALID_DESCRIPTION,
                   "The peer’s network candidate “%s” could not be read.", candidate);
      return FALSE;
    }

  list = g_slist_append (NULL, parsed);
  added = nice_agent_set_remote_candidates (self->agent, stream_id, COMPONENT_ID, list);
  g_slist_free_full (list, (GDestroyNotify)nice_candidate_free);
  if (added < 0)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_FAILED,
                   "The peer’s network candidate “%s” could not be used.", candidate);
      return FALSE;
    }
  return TRUE;
}

gboolean
ph_ice_transport_add_remote_candidate (PhIceTransport *self, const char *candidate, GError **error)
{
  g_return_val_if_fail (PH_IS_ICE_TRANSPORT (self), FALSE);
  g_return_val_if_fail (candidate != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->closed)
    {
      g_set_error_literal (error, PH_ERROR, PH_ERROR_NOT_CONNECTED,
                           "The connection is already closed.");
      return FALSE;
    }
  if (self->n_remote_candidates >= MAX_REMOTE_CANDIDATES)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_PROTOCOL,
                   "The peer sent more than %u network candidates.", MAX_REMOTE_CANDIDATES);
      return FALSE;
    }
  if (!add_remote_candidate_to (self, self->stream_id, candidate, error))
    return FALSE;
  self->n_remote_candidates++;
  return TRUE;
}

void
ph_ice_transport_remote_gathering_done (PhIceTransport *self)
{
  g_return_if_fail (PH_IS_ICE_TRANSPORT (self));

  if (!self->closed)
    nice_agent_peer_candidate_gathering_done (self->agent, self->stream_id);
}

PhPath *
ph_ice_transport_get_path (PhIceTransport *self)
{
  g_return_val_if_fail (PH_IS_ICE_TRANSPORT (self), NULL);

  return self->path != NULL ? ph_path_copy (self->path) : NULL;
}

gboolean
ph_ice_transport_get_relay_unreachable (PhIceTransport *self)
{
  g_return_val_if_fail (PH_IS_ICE_TRANSPORT (self), FALSE);

  return self->bridge != NULL && ph_turn_bridge_get_problem_is_unreachable (self->bridge);
}

void
ph_ice_transport_set_port_mapping (PhIceTransport *self, const char *protocol, const char *address,
                                   guint port)
{
  g_return_if_fail (PH_IS_ICE_TRANSPORT (self));
  g_return_if_fail (protocol != NULL && address != NULL);

  g_free (self->mapping_protocol);
  self->mapping_protocol = g_strdup (protocol);
  g_free (self->mapping_address);
  self->mapping_address = g_strdup (address);
  self->mapping_port = port;
}

GIOStream *
ph_ice_transport_get_stream (PhIceTransport *self)
{
  g_return_val_if_fail (PH_IS_ICE_TRANSPORT (self), NULL);

  return G_IO_STREAM (self->stream);
}

static void
agent_closed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PhIceTransport *self = g_task_get_source_object (task);

  nice_agent_remove_stream (self->agent, self->stream_id);
  remove_side_streams (self);
  g_task_return_boolean (task, TRUE);
}

void
ph_ice_transport_close_async (PhIceTransport *self, GAsyncReadyCallback callback,
                              gpointer user_data)
{
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (PH_IS_ICE_TRANSPORT (self));

  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, ph_ice_transport_close_async);

  if (self->closed)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }

  self->closed = TRUE;
  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->probe_gather_id, g_source_remove);
  g_clear_handle_id (&self->probe_timeout_id, g_source_remove);
  g_clear_handle_id (&self->retire_id, g_source_remove);
  set_state (self, PH_ICE_STATE_CLOSED);

  /* The stream first, then the TURN allocations, then the agent stream.
   * NOTES.md removes the agent stream before the allocations, but then
   * nothing reads the sockets any more: the server's answers to the
   * deallocations go unread, and the close waits for libnice to give up
   * on them (2 s). */
  ph_nice_stream_abandon (self->stream);
  nice_agent_close_async (self->agent, agent_closed_cb, g_steal_pointer (&task));
}

void
ph_ice_transport_close_finish (PhIceTransport *self, GAsyncResult *result)
{
  g_return_if_fail (g_task_is_valid (result, self));

  g_task_propagate_boolean (G_TASK (result), NULL);
}

/* Probes: a direct path beside a relayed one.
 *
 * libnice prunes the pairs it has not checked yet once one is nominated,
 * and in aggressive nomination the first that works is; when that was a
 * relay pair and the direct pair would have worked a moment later (an
 * address-restricted NAT that had not yet seen the peer), the chat would
 * stay relayed. A probe is a second stream of the same agent, gathered
 * without relays: host and server-reflexive candidates on new sockets,
 * exchanged with the peer by whoever runs the probe (the conversation,
 * over the secure channel). When its component gets a pair, the link
 * moves to it (ph_nice_stream_send_on) and keeps its numbers, its TLS
 * session and everything in flight; the relayed stream (and its TURN
 * allocation) goes once the peer's packets come on the new one. A probe
 * that fails is removed and changes nothing. */

static gboolean
probe_timeout_cb (gpointer user_data)
{
  PhIceTransport *self = user_data;

  self->probe_timeout_id = 0;
  g_debug ("Probe %" G_GUINT64_FORMAT " found no direct path in %u ms", self->probe_id,
           PROBE_TIMEOUT_MS);
  probe_state_changed (self, NICE_COMPONENT_STATE_FAILED);
  return G_SOURCE_REMOVE;
}

static void
remove_probe (PhIceTransport *self)
{
  g_clear_handle_id (&self->probe_gather_id, g_source_remove);
  g_clear_handle_id (&self->probe_timeout_id, g_source_remove);
  if (self->probe_stream_id != 0)
    nice_agent_remove_stream (self->agent, self->probe_stream_id);
  self->probe_stream_id = 0;
  g_ptr_array_set_size (self->probe_candidates, 0);
  self->probe_announced = FALSE;
}

static void
probe_candidate (PhIceTransport *self, NiceCandidateType type, const char *line)
{
  if (self->probe_announced)
    return;
  if (self->probe_candidates->len < PH_ICE_TRANSPORT_MAX_PROBE_CANDIDATES)
    g_ptr_array_add (self->probe_candidates, g_strdup (line));
  if (type == NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE)
    announce_probe (self);
}

static gboolean
probe_gather_timeout_cb (gpointer user_data)
{
  PhIceTransport *self = user_data;

  self->probe_gather_id = 0;
  announce_probe (self);
  return G_SOURCE_REMOVE;
}

static void
announce_probe (PhIceTransport *self)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) candidates = NULL;
  g_autofree char *ufrag = NULL;
  g_autofree char *pwd = NULL;

  if (self->probe_announced || self->probe_stream_id == 0)
    return;
  self->probe_announced = TRUE;
  g_clear_handle_id (&self->probe_gather_id, g_source_remove);
  if (self->probe_candidates->len == 0)
    {
      probe_state_changed (self, NICE_COMPONENT_STATE_FAILED);
      return;
    }
  for (guint i = 0; i < self->probe_candidates->len; i++)
    g_strv_builder_add (builder, g_ptr_array_index (self->probe_candidates, i));
  candidates = g_strv_builder_end (builder);
  nice_agent_get_local_credentials (self->agent, self->probe_stream_id, &ufrag, &pwd);
  g_signal_emit (self, signals[SIGNAL_PROBE_READY], 0, self->probe_id, ufrag, pwd, candidates);
}

/* The peer's link packets come on the stream we moved to: it has moved
 * too, and the old stream carries nothing more. */
static gboolean
retire_check_cb (gpointer user_data)
{
  PhIceTransport *self = user_data;

  if (ph_nice_stream_get_heard_on (self->stream) != self->stream_id)
    return G_SOURCE_CONTINUE;
  g_debug ("The peer moved too; removing the relayed stream");
  self->retire_id = 0;
  nice_agent_remove_stream (self->agent, self->old_stream_id);
  self->old_stream_id = 0;
  return G_SOURCE_REMOVE;
}

static void
move_to_probe (PhIceTransport *self)
{
  NiceCandidate *local = NULL;
  NiceCandidate *remote = NULL;
  g_autoptr (PhPath) path = NULL;

  if (!nice_agent_get_selected_pair (self->agent, self->probe_stream_id, COMPONENT_ID, &local,
                                     &remote))
    return;
  path = path_from_pair (self, local, remote);
  g_debug ("Probe %" G_GUINT64_FORMAT " found a direct path; moving the link to it",
           self->probe_id);

  ph_nice_stream_send_on (self->stream, self->probe_stream_id);
  /* A stream an earlier move left that the peer never left. */
  if (self->old_stream_id != 0)
    nice_agent_remove_stream (self->agent, self->old_stream_id);
  g_clear_handle_id (&self->retire_id, g_source_remove);
  self->old_stream_id = self->stream_id;
  self->stream_id = self->probe_stream_id;
  self->probe_stream_id = 0;
  g_clear_handle_id (&self->probe_gather_id, g_source_remove);
  g_clear_handle_id (&self->probe_timeout_id, g_source_remove);
  g_ptr_array_set_size (self->probe_candidates, 0);
  self->retire_id = g_timeout_add (RETIRE_CHECK_MS, retire_check_cb, self);

  g_clear_pointer (&self->path, ph_path_free);
  self->path = g_steal_pointer (&path);
  g_signal_emit (self, signals[SIGNAL_PATH_CHANGED], 0, self->path);
}

static void
probe_state_changed (PhIceTransport *self, NiceComponentState state)
{
  guint64 probe_id = self->probe_id;

  if (state == NICE_COMPONENT_STATE_CONNECTED || state == NICE_COMPONENT_STATE_READY)
    move_to_probe (self);
  else if (state == NICE_COMPONENT_STATE_FAILED)
    {
      remove_probe (self);
      g_signal_emit (self, signals[SIGNAL_PROBE_FAILED], 0, probe_id);
    }
}

gboolean
ph_ice_transport_start_probe (PhIceTransport *self, guint64 probe_id)
{
  g_return_val_if_fail (PH_IS_ICE_TRANSPORT (self), FALSE);
  g_return_val_if_fail (probe_id > 0, FALSE);

  if (self->closed || self->config->relay_only
      || (self->state != PH_ICE_STATE_CONNECTED && self->state != PH_ICE_STATE_READY))
    return FALSE;

  remove_probe (self);
  self->probe_id = probe_id;
  self->probe_stream_id = nice_agent_add_stream (self->agent, 1);
  if (self->probe_stream_id == 0 || !ph_nice_stream_listen (self->stream, self->probe_stream_id))
    {
      remove_probe (self);
      return FALSE;
    }
  self->probe_timeout_id = g_timeout_add (PROBE_TIMEOUT_MS, probe_timeout_cb, self);
  self->probe_gather_id = g_timeout_add (PROBE_GATHER_MS, probe_gather_timeout_cb, self);
  g_debug ("Probe %" G_GUINT64_FORMAT ": looking for a direct path on stream %u", probe_id,
           self->probe_stream_id);
  /* No relay info for this stream: its candidates are direct ones only. */
  if (!nice_agent_gather_candidates (self->agent, self->probe_stream_id))
    {
      remove_probe (self);
      return FALSE;
    }
  return TRUE;
}

gboolean
ph_ice_transport_set_probe_peer (PhIceTransport *self, guint64 probe_id, const char *ufrag,
                                 const char *pwd, const char *const *candidates, GError **error)
{
  g_return_val_if_fail (PH_IS_ICE_TRANSPORT (self), FALSE);
  g_return_val_if_fail (ufrag != NULL && pwd != NULL && candidates != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!is_ice_string (ufrag, 4, 256) || !is_ice_string (pwd, 22, 256))
    {
      g_set_error_literal (error, PH_ERROR, PH_ERROR_INVALID_DESCRIPTION,
                           "The peer’s ICE user fragment or password is malformed.");
      return FALSE;
    }
  if (g_strv_length ((GStrv)candidates) > PH_ICE_TRANSPORT_MAX_PROBE_CANDIDATES)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_PROTOCOL,
                   "The peer sent more than %u candidates for a direct path.",
                   PH_ICE_TRANSPORT_MAX_PROBE_CANDIDATES);
      return FALSE;
    }
  /* The peer's own probe, or an answer to one that is over. */
  if (probe_id != self->probe_id || self->probe_stream_id == 0)
    {
      if (self->controlling || probe_id <= self->probe_id)
        return TRUE;
      if (!ph_ice_transport_start_probe (self, probe_id))
        return TRUE;
    }
  if (!nice_agent_set_remote_credentials (self->agent, self->probe_stream_id, ufrag, pwd))
    {
      g_set_error_literal (error, PH_ERROR, PH_ERROR_FAILED,
                           "The peer’s ICE credentials could not be set.");
      return FALSE;
    }
  for (guint i = 0; candidates[i] != NULL; i++)
    if (!add_remote_candidate_to (self, self->probe_stream_id, candidates[i], error))
      {
        remove_probe (self);
        return FALSE;
      }
  nice_agent_peer_candidate_gathering_done (self->agent, self->probe_stream_id);
  return TRUE;
}

void
ph_ice_transport_stop_probe (PhIceTransport *self)
{
  g_return_if_fail (PH_IS_ICE_TRANSPORT (self));

  if (!self->closed)
    remove_probe (self);
}
