/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-ice-diagnosis"

#include "config.h"

#include <glib/gi18n-lib.h>

#include "ph-ice-diagnosis.h"

/* Most diagnoses end in the same advice, translated once. */
static char *
advise_turn (const char *diagnosis)
{
  return g_strdup_printf ("%s %s", diagnosis,
                          _ ("Set up a TURN relay server on either side (pinhole-cli --turn, or a "
                             "rendezvous server that hands one out)."));
}

static gboolean
is_strict (PhNatType type)
{
  return type == PH_NAT_TYPE_PORT_RESTRICTED || type == PH_NAT_TYPE_SYMMETRIC;
}

/* "You and your peer are both …" / "You are …" / "Your peer is …" for a
 * symmetric NAT on either side; both NAT types are known to be strict or
 * unknown here. */
static char *
describe_symmetric (PhNatType local, PhNatType remote)
{
  gboolean local_symmetric = local == PH_NAT_TYPE_SYMMETRIC;
  gboolean remote_symmetric = remote == PH_NAT_TYPE_SYMMETRIC;
  g_autofree char *diagnosis = NULL;

  if (local_symmetric && remote_symmetric)
    return advise_turn (_ ("You and your peer are both behind symmetric NATs, which use a new port "
                           "for every destination, so a direct path is impossible without a TURN "
                           "relay."));
  if (local_symmetric && remote == PH_NAT_TYPE_UNKNOWN)
    return advise_turn (_ ("You are behind a symmetric NAT, which uses a new port for every "
                           "destination; unless your peer's NAT is open or a full or "
                           "address-restricted cone, a direct path is impossible without a TURN "
                           "relay."));
  if (local_symmetric)
    {
      /* Translators: %s is the peer's NAT type as a fixed English term,
       * “port-restricted” or “symmetric”. */
      diagnosis = g_strdup_printf (_ ("You are behind a symmetric NAT, which uses a new port for "
                                      "every destination, and your peer's %s NAT only lets in "
                                      "answers from the exact addresses it contacted, so a direct "
                                      "path is impossible without a TURN relay."),
                                   ph_nat_type_to_string (remote));
      return advise_turn (diagnosis);
    }
  if (is_strict (local))
    return advise_turn (_ ("Your peer is behind a symmetric NAT, which uses a new port for every "
                           "destination, and your own NAT only lets in answers from the exact "
                           "addresses you contacted, so a direct path is impossible without a TURN "
                           "relay."));
  return advise_turn (_ ("Your peer is behind a symmetric NAT, which uses a new port for every "
                         "destination, so a direct path is impossible without a TURN relay."));
}

/* No UDP got out (the STUN server never answered) and the TURN server
 * gave no relay: what would get through is TCP, and TLS on port 443 where
 * only web traffic gets out, or the network's proxy when even that fails.
 * FALSE when this is not what happened. */
static gboolean
diagnose_udp_blocked_relay (const PhIceDiagnosisInput *input, char **out_message,
                            PhIceFailureCause *out_cause)
{
  gboolean udp_blocked = input->local_nat == PH_NAT_TYPE_UDP_BLOCKED
                         || (input->stun_configured && input->local_srflx == 0
                             && input->local_nat == PH_NAT_TYPE_UNKNOWN);

  if (!udp_blocked || !input->turn_configured || input->local_relay > 0)
    return FALSE;
  if (!input->turn_over_tcp)
    {
      *out_message = g_strdup (_ ("Your network blocks UDP: the STUN server never answered, and "
                                  "your TURN server is reached over UDP only, so it gave you no "
                                  "relay address. A TURN server over TLS on port 443 "
                                  "(turns:HOST:443) would get through."));
      *out_cause = PH_ICE_FAILURE_UDP_BLOCKED;
      return TRUE;
    }
  if (input->relay_unreachable_directly && input->relay_problem != NULL)
    {
      /* Translators: %s is a sentence saying which TURN server could not
       * be reached and why, such as “The TURN server turns:turn.example.org:443
       * could not be reached: Socket I/O timed out.” */
      *out_message = g_strdup_printf (_ ("Your network blocks UDP, and TCP to the TURN server did "
                                         "not get out either. %s Networks like this often let "
                                         "traffic out only through an HTTP proxy: if yours has "
                                         "one, set it in your system's network settings (or "
                                         "https_proxy), and Pinhole reaches the TURN server "
                                         "through it."),
                                      input->relay_problem);
      *out_cause = PH_ICE_FAILURE_NEEDS_PROXY;
      return TRUE;
    }
  return FALSE;
}

PhIceFailureCause
ph_ice_diagnose (const PhIceDiagnosisInput *input, char **out_message)
{
  PhIceFailureCause cause;
  guint remote_total;

  g_return_val_if_fail (input != NULL, PH_ICE_FAILURE_NEEDS_RELAY);
  g_return_val_if_fail (out_message != NULL, PH_ICE_FAILURE_NEEDS_RELAY);

  if (diagnose_udp_blocked_relay (input, out_message, &cause))
    return cause;

  /* First: a server of this side's own that could not be used for a
   * reason it knows (a certificate it does not trust) is what this person
   * can fix, whatever the peer sent. */
  if (input->turn_configured && input->local_relay == 0 && input->relay_problem != NULL)
    {
      /* Translators: %s is a sentence saying which TURN server could not
       * be used and why, such as “The TURN server turns:turn.example.org:443
       * was not used: its certificate has expired.” */
      *out_message = g_strdup_printf (_ ("The TURN server gave you no relay address. %s"),
                                      input->relay_problem);
      return PH_ICE_FAILURE_RELAY_UNAVAILABLE;
    }

  remote_total = input->remote_host + input->remote_srflx + input->remote_relay;
  if (remote_total == 0)
    {
      *out_message
          = g_strdup (_ ("Your peer sent no network addresses, so there was nothing to try. "
                         "Their network may be down or allow only web traffic; ask them to "
                         "try another network."));
      return PH_ICE_FAILURE_NO_REMOTE_CANDIDATES;
    }

  if (input->relay_only && !input->turn_configured)
    {
      *out_message
          = g_strdup (_ ("You asked to connect only through a relay, but no TURN server is "
                         "configured. Add one, or allow direct connections."));
      return PH_ICE_FAILURE_RELAY_UNAVAILABLE;
    }
  if (input->turn_configured && input->local_relay == 0)
    {
      *out_message = g_strdup (_ ("The TURN server gave you no relay address: it is unreachable or "
                                  "refused your user name and password. Check the TURN server's "
                                  "address and credentials."));
      return PH_ICE_FAILURE_RELAY_UNAVAILABLE;
    }

  if (input->local_relay > 0 || input->remote_relay > 0)
    {
      *out_message
          = g_strdup (_ ("Even the TURN relay could not connect you: the relay may refuse to "
                         "forward between you, or a firewall drops its traffic. Try another "
                         "TURN server, or TURN over TCP or TLS (turn:HOST?transport=tcp, "
                         "turns:HOST:443)."));
      return PH_ICE_FAILURE_RELAY_FAILED;
    }

  if (input->local_nat == PH_NAT_TYPE_UDP_BLOCKED)
    {
      *out_message = g_strdup (_ ("Your network blocks UDP (the STUN server never answered), so no "
                                  "direct path can be made. A TURN relay over TCP "
                                  "(turn:HOST?transport=tcp) would get through, or over TLS "
                                  "(turns:HOST:443) where only web traffic gets out."));
      return PH_ICE_FAILURE_UDP_BLOCKED;
    }
  if (input->stun_configured && input->local_srflx == 0 && input->local_nat == PH_NAT_TYPE_UNKNOWN)
    {
      *out_message = advise_turn (_ ("The STUN server told you no public address: UDP may be "
                                     "blocked on your network."));
      return PH_ICE_FAILURE_UDP_BLOCKED;
    }

  if (input->remote_srflx == 0 && input->remote_nat != PH_NAT_TYPE_OPEN)
    {
      *out_message = g_strdup (_ ("Your peer sent only addresses on its own network: it learnt no "
                                  "public address (no STUN server, or UDP is blocked there). Your "
                                  "peer needs a STUN server, or either of you a TURN relay."));
      return PH_ICE_FAILURE_PEER_UDP_BLOCKED;
    }

  /* Symmetric meets strict (or unknown, which is likely strict): the
   * port the peer learns is not the one the next packet comes from. */
  if ((input->local_nat == PH_NAT_TYPE_SYMMETRIC
       && (is_strict (input->remote_nat) || input->remote_nat == PH_NAT_TYPE_UNKNOWN))
      || (input->remote_nat == PH_NAT_TYPE_SYMMETRIC
          && (is_strict (input->local_nat) || input->local_nat == PH_NAT_TYPE_UNKNOWN)))
    {
      *out_message = describe_symmetric (input->local_nat, input->remote_nat);
      return PH_ICE_FAILURE_SYMMETRIC_NAT;
    }

  if (is_strict (input->local_nat) || input->local_nat == PH_NAT_TYPE_ADDRESS_RESTRICTED)
    {
      g_autofree char *diagnosis = NULL;

      /* Translators: %s is your NAT type as a fixed English term,
       * “address-restricted”, “port-restricted” or “symmetric”. */
      diagnosis = g_strdup_printf (_ ("No direct path to your peer was found: your %s NAT and your "
                                      "peer's NAT or firewall let in only answers from addresses "
                                      "they contacted, and the holes they punched did not meet."),
                                   ph_nat_type_to_string (input->local_nat));

      *out_message = advise_turn (diagnosis);
    }
  else
    *out_message = advise_turn (_ ("No direct path to your peer was found: a NAT or firewall on "
                                   "one side lets in only answers from addresses it contacted, and "
                                   "the holes punched did not meet."));
  return PH_ICE_FAILURE_NEEDS_RELAY;
}
