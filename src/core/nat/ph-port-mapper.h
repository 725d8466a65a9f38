/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Asks the router for a UDP port that forwards to one local socket (the
 * ICE host candidate's), with NAT-PMP (libnatpmp, driven from the main
 * loop: its socket is non-blocking) and UPnP-IGD (miniupnpc, whose
 * discovery blocks: on a thread pool of its own) at the same time; the first that
 * answers keeps the mapping, renews it before its lease ends and deletes
 * it on ph_port_mapper_stop(). PCP is not asked: Debian has no maintained
 * PCP client library (libpcp is not packaged), and every router that
 * speaks PCP also answers NAT-PMP (RFC 6887, appendix A).
 *
 * Traffic goes to the default gateway (NAT-PMP) and to the SSDP multicast
 * group on the interface of the route to it (UPnP). The environment
 * controls both for tests and benchmarks:
 *   PINHOLE_PORT_MAPPING=off          never ask anything;
 *   PINHOLE_PORT_MAPPING_GATEWAY=IP   ask IP instead of the default
 *                                     gateway (127.0.0.1: nobody answers,
 *                                     and SSDP stays on loopback). */

typedef enum
{
  PH_PORT_MAPPING_PROTOCOL_NONE,
  PH_PORT_MAPPING_PROTOCOL_NATPMP,
  PH_PORT_MAPPING_PROTOCOL_UPNP,
} PhPortMappingProtocol;

#define PH_TYPE_PORT_MAPPER (ph_port_mapper_get_type ())
G_DECLARE_FINAL_TYPE (PhPortMapper, ph_port_mapper, PH, PORT_MAPPER, GObject)

/* FALSE when PINHOLE_PORT_MAPPING=off. */
gboolean ph_port_mapping_allowed (void);
/* "NAT-PMP", "UPnP", or NULL for none: as a person reads it. */
const char *ph_port_mapping_protocol_to_string (PhPortMappingProtocol protocol);
/* The ICE foundation of a mapped candidate, which tells the peer how the
 * port was opened: "natpmp" or "upnp"; NONE for any other foundation. */
PhPortMappingProtocol ph_port_mapping_protocol_from_foundation (const char *foundation);

/* Finds the gateway and the local address of the route to it. NULL, and
 * nothing sent, when mapping is not allowed or there is no IPv4 gateway.
 * Runs on the thread-default main context. */
PhPortMapper *ph_port_mapper_new (void);
/* Whether the router can forward to a host candidate at @address: it is
 * on the gateway's network. With a loopback gateway (tests, benchmarks)
 * every address is, and nobody answers. */
gboolean ph_port_mapper_can_map (PhPortMapper *self, const char *address);
/* Asks for a mapping of UDP @port of host candidate @address (once;
 * ph_port_mapper_can_map() first). "mapped"
 * follows when a router answers; "settled" once it has, or once neither
 * protocol got an answer (within about a second). */
void ph_port_mapper_map (PhPortMapper *self, const char *address, guint port);
gboolean ph_port_mapper_is_requested (PhPortMapper *self);
gboolean ph_port_mapper_is_settled (PhPortMapper *self);
/* The mapped external address and port, when there is a mapping. */
PhPortMappingProtocol ph_port_mapper_get_mapping (PhPortMapper *self, const char **address,
                                                  guint *port);
/* The ICE candidate line of the mapping (type srflx, related address the
 * host candidate), or NULL without one. */
char *ph_port_mapper_dup_candidate (PhPortMapper *self);
/* Deletes the mapping at the router and stops renewing; silent from then
 * on. Also done on dispose. */
void ph_port_mapper_stop (PhPortMapper *self);

G_END_DECLS
