/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

#include "ph-core-enums.h"

#include "ph-nat-check.h"

G_BEGIN_DECLS

/* Why ICE found no path, from what one side knows when it fails, and what
 * would fix it: the sentence PH_ERROR_ICE_FAILED carries. A pure function
 * with no network access, so every rule has a unit test. */

typedef enum
{
  PH_ICE_FAILURE_NO_REMOTE_CANDIDATES, /* the peer sent no address at all */
  PH_ICE_FAILURE_RELAY_UNAVAILABLE,    /* TURN configured, no relay candidate */
  PH_ICE_FAILURE_UDP_BLOCKED,          /* STUN configured, no public address learnt */
  PH_ICE_FAILURE_PEER_UDP_BLOCKED,     /* the peer sent private addresses only */
  PH_ICE_FAILURE_SYMMETRIC_NAT,        /* a symmetric NAT on a side, and no relay */
  PH_ICE_FAILURE_RELAY_FAILED,         /* relays on both sides, still no path */
  PH_ICE_FAILURE_NEEDS_RELAY,          /* strict NATs or firewalls, no relay */
  PH_ICE_FAILURE_NEEDS_PROXY,          /* no UDP, no direct TCP to the TURN server */
} PhIceFailureCause;

typedef struct
{
  PhNatType local_nat;  /* from PhNatCheck, else PH_NAT_TYPE_UNKNOWN */
  PhNatType remote_nat; /* if the peer told us, else PH_NAT_TYPE_UNKNOWN */
  gboolean stun_configured;
  gboolean turn_configured;
  gboolean relay_only;
  guint local_srflx; /* our gathered candidates, by type */
  guint local_relay;
  guint remote_host; /* the peer's candidates, by type */
  guint remote_srflx;
  guint remote_relay;
  /* Why a TURN server over TCP or TLS could not be used, a sentence
   * naming it (the ICE transport's "relay-problem"), or NULL. */
  const char *relay_problem;
  /* A TURN server over TCP or TLS is configured: a TCP connection, which
   * a network that blocks UDP may let through. */
  gboolean turn_over_tcp;
  /* The relay problem is that no TCP connection to the TURN server could
   * be made, with no proxy on the way: what a network does that lets
   * nothing out but through its HTTP proxy. */
  gboolean relay_unreachable_directly;
} PhIceDiagnosisInput;

/* Returns the most likely cause and sets @out_message to a sentence that
 * says why and what would fix it. */
PhIceFailureCause ph_ice_diagnose (const PhIceDiagnosisInput *input, char **out_message);

G_END_DECLS
