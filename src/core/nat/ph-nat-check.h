/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ph-core-enums.h"
/* The STUN codec the check uses (PhStunResponse and friends), for the
 * unit tests that include this header. */
#include "ph-stun-binding.h"

G_BEGIN_DECLS

/* What kind of NAT stands between this machine and the internet, found
 * with RFC 5780 behaviour discovery against a STUN server that has two
 * addresses (coturn started with two --listening-ip does). Against a server
 * with one address only the public address is learnt and the type stays
 * unknown. The check sends STUN Binding requests itself over UDP/IPv4 and
 * takes about 2 s (the filtering tests must wait for answers that a
 * restrictive NAT never lets in). */

typedef enum
{
  PH_NAT_TYPE_UNKNOWN,
  PH_NAT_TYPE_OPEN, /* no NAT, no filtering */
  PH_NAT_TYPE_FULL_CONE,
  PH_NAT_TYPE_ADDRESS_RESTRICTED,
  PH_NAT_TYPE_PORT_RESTRICTED,
  PH_NAT_TYPE_SYMMETRIC,
  PH_NAT_TYPE_UDP_BLOCKED,
} PhNatType;

/* RFC 4787 mapping and filtering behaviours. */
typedef enum
{
  PH_NAT_BEHAVIOUR_UNKNOWN,
  PH_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT,
  PH_NAT_BEHAVIOUR_ADDRESS_DEPENDENT,
  PH_NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT,
} PhNatBehaviour;

typedef struct
{
  PhNatType type;
  PhNatBehaviour mapping;
  PhNatBehaviour filtering;
  char *public_address; /* NULL when no server answered */
  guint public_port;
  gboolean udp_blocked;
  gboolean behind_nat; /* the public address is not one of ours */
  char *note;          /* why something is unknown, or NULL */
} PhNatCheckResult;

/* "open", "full-cone", "address-restricted", "port-restricted",
 * "symmetric", "udp-blocked", "unknown" */
const char *ph_nat_type_to_string (PhNatType type);
/* "endpoint-independent", "address-dependent",
 * "address-and-port-dependent", "unknown" */
const char *ph_nat_behaviour_to_string (PhNatBehaviour behaviour);
void ph_nat_check_result_free (PhNatCheckResult *result);

#define PH_TYPE_NAT_CHECK (ph_nat_check_get_type ())

G_DECLARE_FINAL_TYPE (PhNatCheck, ph_nat_check, PH, NAT_CHECK, GObject)

/* @host is a name or an IPv4 address; @port usually 3478. */
PhNatCheck *ph_nat_check_new (const char *host, guint port);
/* How long one test waits for an answer (retransmitting meanwhile);
 * 1200 ms by default. Tests against loopback lower it. */
void ph_nat_check_set_timeout (PhNatCheck *self, guint timeout_ms);
/* Runs the check once. Fails with PH_ERROR_FAILED when the server's name
 * does not resolve or no socket can be opened; a server that does not
 * answer is a result (udp_blocked), not an error. */
void ph_nat_check_run_async (PhNatCheck *self, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data);
PhNatCheckResult *ph_nat_check_run_finish (PhNatCheck *self, GAsyncResult *result, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhNatCheckResult, ph_nat_check_result_free)

G_END_DECLS
