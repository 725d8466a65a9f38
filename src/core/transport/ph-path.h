/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The candidate pair ICE selected: what pinhole-cli prints as "path" and
 * the inspector draws. Types are "host", "srflx", "prflx" or "relay";
 * transports "udp" or "tcp". */
typedef struct
{
  char *local_type;
  char *local_transport;
  char *local_address;
  guint local_port;
  char *remote_type;
  char *remote_transport;
  char *remote_address;
  guint remote_port;
  gboolean relayed; /* either end is a relay candidate */
  /* How this end reaches its TURN server when its end is a relay
   * candidate ("udp", "tcp" or "tls"); NULL otherwise or when not known.
   * Then also the server's port (0 when not known) and whether the leg
   * goes through the system's HTTP proxy. */
  char *turn_transport;
  guint turn_port;
  gboolean turn_proxy;
  /* The direct path goes through a port a router opened on request:
   * "NAT-PMP" or "UPnP" (NULL otherwise), this end's router or, with
   * port_mapping_by_peer, the peer's. */
  char *port_mapping;
  gboolean port_mapping_by_peer;
} PhPath;

#define PH_TYPE_PATH (ph_path_get_type ())

GType ph_path_get_type (void) G_GNUC_CONST;
PhPath *ph_path_copy (const PhPath *path);
void ph_path_free (PhPath *path);
gboolean ph_path_equal (const PhPath *a, const PhPath *b);
/* {"relayed":…,"local":{"type","transport","address","port"},"remote":{…}},
 * and, when the TURN leg is known, "turn_transport", "turn_proxy" and
 * (when known) "turn_port"; through a mapped port, "port_mapping" and
 * "port_mapping_by" ("local" or "peer"). */
JsonNode *ph_path_to_json (const PhPath *path);
/* "direct (srflx ↔ prflx, udp)", "relayed (relay ↔ host, udp)" or, when
 * the TURN leg is known, "relayed through TURN over TLS, port 443 (relay ↔
 * host, udp)", with ", through your proxy" after the port when the leg
 * goes through the system's proxy; "direct through a port your router
 * opened (NAT-PMP) (prflx ↔ srflx, udp)" through a mapped port. */
char *ph_path_describe (const PhPath *path);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhPath, ph_path_free)

G_END_DECLS
