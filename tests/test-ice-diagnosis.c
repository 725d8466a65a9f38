/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-ice-diagnosis"

#include "config.h"

#include <string.h>

#include "ph-ice-diagnosis.h"

typedef struct
{
  const char *name;
  PhIceDiagnosisInput input;
  PhIceFailureCause cause;
  const char *must_say[3]; /* phrases the person must read */
} DiagnosisCase;

/* A peer behind a NAT that gathered normally: host and srflx candidates. */
#define PEER_BEHIND_NAT .remote_host = 1, .remote_srflx = 1
#define STUN_WORKED .stun_configured = TRUE, .local_srflx = 1

static const DiagnosisCase cases[] = {
  { "/ice-diagnosis/peer-sent-nothing",
    { PH_NAT_TYPE_PORT_RESTRICTED, PH_NAT_TYPE_UNKNOWN, STUN_WORKED },
    PH_ICE_FAILURE_NO_REMOTE_CANDIDATES,
    { "no network addresses", "another network" } },
  { "/ice-diagnosis/relay-only-without-turn",
    { PH_NAT_TYPE_FULL_CONE, PH_NAT_TYPE_UNKNOWN, STUN_WORKED, .relay_only = TRUE,
      PEER_BEHIND_NAT },
    PH_ICE_FAILURE_RELAY_UNAVAILABLE,
    { "no TURN server is configured" } },
  { "/ice-diagnosis/turn-gave-no-relay",
    { PH_NAT_TYPE_SYMMETRIC, PH_NAT_TYPE_UNKNOWN, STUN_WORKED, .turn_configured = TRUE,
      PEER_BEHIND_NAT },
    PH_ICE_FAILURE_RELAY_UNAVAILABLE,
    { "no relay address", "credentials" } },
  /* The TLS server's certificate was refused: the message says so and
   * names the server, instead of blaming the credentials. */
  { "/ice-diagnosis/turn-certificate-refused",
    { PH_NAT_TYPE_UNKNOWN, PH_NAT_TYPE_UNKNOWN, .turn_configured = TRUE, .relay_only = TRUE,
      PEER_BEHIND_NAT,
      .relay_problem = "The TURN server turns:turn.example.org:443 was not used: its "
                       "certificate has expired." },
    PH_ICE_FAILURE_RELAY_UNAVAILABLE,
    { "no relay address", "turns:turn.example.org:443", "certificate has expired" } },
  /* Relay-only on both sides with the same server: the peer sent nothing
   * either, but the cause this side knows comes first. */
  { "/ice-diagnosis/turn-certificate-refused-peer-silent",
    { PH_NAT_TYPE_UNKNOWN, PH_NAT_TYPE_UNKNOWN, .turn_configured = TRUE, .relay_only = TRUE,
      .relay_problem = "The TURN server turns:192.0.2.1:5349 was not used: its certificate is "
                       "for another server name." },
    PH_ICE_FAILURE_RELAY_UNAVAILABLE,
    { "turns:192.0.2.1:5349", "another server name" } },
  { "/ice-diagnosis/relay-failed",
    { PH_NAT_TYPE_SYMMETRIC, PH_NAT_TYPE_UNKNOWN, STUN_WORKED, .turn_configured = TRUE,
      .local_relay = 1, PEER_BEHIND_NAT, .remote_relay = 1 },
    PH_ICE_FAILURE_RELAY_FAILED,
    { "Even the TURN relay", "transport=tcp", "turns:HOST:443" } },
  { "/ice-diagnosis/udp-blocked-known",
    { PH_NAT_TYPE_UDP_BLOCKED, PH_NAT_TYPE_UNKNOWN, .stun_configured = TRUE, PEER_BEHIND_NAT },
    PH_ICE_FAILURE_UDP_BLOCKED,
    { "blocks UDP", "transport=tcp", "turns:HOST:443" } },
  /* UDP blocked, and the only TURN server is over UDP too: the words say
   * what would get through, whatever the peer sent. */
  { "/ice-diagnosis/udp-blocked-udp-turn",
    { PH_NAT_TYPE_UDP_BLOCKED, PH_NAT_TYPE_UNKNOWN, .stun_configured = TRUE,
      .turn_configured = TRUE },
    PH_ICE_FAILURE_UDP_BLOCKED,
    { "Your network blocks UDP", "TURN server over TLS on port 443", "turns:HOST:443" } },
  { "/ice-diagnosis/udp-blocked-udp-turn-no-nat-check",
    { PH_NAT_TYPE_UNKNOWN, PH_NAT_TYPE_UNKNOWN, .stun_configured = TRUE, .turn_configured = TRUE,
      PEER_BEHIND_NAT },
    PH_ICE_FAILURE_UDP_BLOCKED,
    { "blocks UDP", "TLS on port 443" } },
  /* Neither UDP nor TCP to the TURN server got out, and no proxy was
   * tried: the proxy is what is left. */
  { "/ice-diagnosis/udp-blocked-tcp-unreachable",
    { PH_NAT_TYPE_UDP_BLOCKED, PH_NAT_TYPE_UNKNOWN, .stun_configured = TRUE,
      .turn_configured = TRUE, PEER_BEHIND_NAT, .turn_over_tcp = TRUE,
      .relay_unreachable_directly = TRUE,
      .relay_problem = "The TURN server turns:192.0.2.1:443 could not be reached: Socket I/O "
                       "timed out." },
    PH_ICE_FAILURE_NEEDS_PROXY,
    { "turns:192.0.2.1:443", "HTTP proxy", "https_proxy" } },
  /* Through a proxy that refused: the proxy is named, not suggested. */
  { "/ice-diagnosis/udp-blocked-proxy-refused",
    { PH_NAT_TYPE_UDP_BLOCKED, PH_NAT_TYPE_UNKNOWN, .stun_configured = TRUE,
      .turn_configured = TRUE, PEER_BEHIND_NAT, .turn_over_tcp = TRUE,
      .relay_problem = "The TURN server turns:192.0.2.1:443 could not be reached through your "
                       "proxy: Connection refused." },
    PH_ICE_FAILURE_RELAY_UNAVAILABLE,
    { "through your proxy", "turns:192.0.2.1:443" } },
  { "/ice-diagnosis/udp-blocked-guessed",
    { PH_NAT_TYPE_UNKNOWN, PH_NAT_TYPE_UNKNOWN, .stun_configured = TRUE, PEER_BEHIND_NAT },
    PH_ICE_FAILURE_UDP_BLOCKED,
    { "no public address", "TURN" } },
  { "/ice-diagnosis/peer-without-public-address",
    { PH_NAT_TYPE_PORT_RESTRICTED, PH_NAT_TYPE_UNKNOWN, STUN_WORKED, .remote_host = 2 },
    PH_ICE_FAILURE_PEER_UDP_BLOCKED,
    { "only addresses on its own network", "STUN server" } },
  { "/ice-diagnosis/peer-symmetric",
    { PH_NAT_TYPE_PORT_RESTRICTED, PH_NAT_TYPE_SYMMETRIC, STUN_WORKED, PEER_BEHIND_NAT },
    PH_ICE_FAILURE_SYMMETRIC_NAT,
    { "Your peer is behind a symmetric NAT", "a direct path is impossible without a TURN relay",
      "your own NAT" } },
  { "/ice-diagnosis/both-symmetric",
    { PH_NAT_TYPE_SYMMETRIC, PH_NAT_TYPE_SYMMETRIC, STUN_WORKED, PEER_BEHIND_NAT },
    PH_ICE_FAILURE_SYMMETRIC_NAT,
    { "both behind symmetric NATs", "TURN relay" } },
  { "/ice-diagnosis/self-symmetric-peer-port-restricted",
    { PH_NAT_TYPE_SYMMETRIC, PH_NAT_TYPE_PORT_RESTRICTED, STUN_WORKED, PEER_BEHIND_NAT },
    PH_ICE_FAILURE_SYMMETRIC_NAT,
    { "You are behind a symmetric NAT", "port-restricted", "TURN relay" } },
  { "/ice-diagnosis/self-symmetric-peer-unknown",
    { PH_NAT_TYPE_SYMMETRIC, PH_NAT_TYPE_UNKNOWN, STUN_WORKED, PEER_BEHIND_NAT },
    PH_ICE_FAILURE_SYMMETRIC_NAT,
    { "You are behind a symmetric NAT", "unless your peer's NAT", "TURN relay" } },
  { "/ice-diagnosis/strict-nats",
    { PH_NAT_TYPE_PORT_RESTRICTED, PH_NAT_TYPE_UNKNOWN, STUN_WORKED, PEER_BEHIND_NAT },
    PH_ICE_FAILURE_NEEDS_RELAY,
    { "your port-restricted NAT", "TURN relay" } },
  { "/ice-diagnosis/nothing-known",
    { PH_NAT_TYPE_UNKNOWN, PH_NAT_TYPE_UNKNOWN, STUN_WORKED, PEER_BEHIND_NAT },
    PH_ICE_FAILURE_NEEDS_RELAY,
    { "No direct path", "TURN relay" } },
  /* A public peer sends host candidates only; that is not a STUN failure,
   * and a symmetric NAT can reach it directly, so blame no NAT type. */
  { "/ice-diagnosis/public-peer",
    { PH_NAT_TYPE_SYMMETRIC, PH_NAT_TYPE_OPEN, STUN_WORKED, .remote_host = 1 },
    PH_ICE_FAILURE_NEEDS_RELAY,
    { "No direct path", "TURN relay" } },
};

static void
test_case (gconstpointer data)
{
  const DiagnosisCase *c = data;
  g_autofree char *message = NULL;
  PhIceFailureCause cause = ph_ice_diagnose (&c->input, &message);

  g_test_message ("%s", message);
  g_assert_cmpint (cause, ==, c->cause);
  for (guint i = 0; i < G_N_ELEMENTS (c->must_say) && c->must_say[i] != NULL; i++)
    if (strstr (message, c->must_say[i]) == NULL)
      g_error ("“%s” does not say “%s”", message, c->must_say[i]);
  /* A sentence a person reads: starts with a capital, ends with a stop. */
  g_assert_true (g_unichar_isupper (g_utf8_get_char (message)));
  g_assert_true (g_str_has_suffix (message, "."));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_test_add_data_func (cases[i].name, &cases[i], test_case);

  return g_test_run ();
}
