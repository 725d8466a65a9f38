/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Where ICE finds its STUN and TURN servers, and the relay policy. Built
 * from command-line options, settings, or the rendezvous server's /v1/turn. */

/* How this end reaches a TURN server: the leg between it and the relay.
 * The relayed candidate itself is UDP in every case. */
typedef enum
{
  PH_TURN_TRANSPORT_UDP,
  PH_TURN_TRANSPORT_TCP,
  PH_TURN_TRANSPORT_TLS, /* turns: TLS over TCP (RFC 7065) */
} PhTurnTransport;

typedef struct
{
  char *host; /* as given; resolved before gathering */
  guint port;
  char *username;
  char *password;
  PhTurnTransport transport;
} PhTurnServer;

typedef struct
{
  char *stun_host; /* NULL: no STUN */
  guint stun_port;
  GPtrArray *turn_servers; /* of PhTurnServer */
  gboolean relay_only;
  /* Ask the router for a port (NAT-PMP, UPnP-IGD) beside gathering, on
   * by default; PINHOLE_PORT_MAPPING=off overrides it (ph-port-mapper.h). */
  gboolean port_mapping;
} PhIceConfig;

PhIceConfig *ph_ice_config_new (void);
PhIceConfig *ph_ice_config_copy (const PhIceConfig *self);
void ph_ice_config_free (PhIceConfig *self);

/* "HOST", "HOST:PORT", "stun:HOST[:PORT]", "[V6]:PORT". Default port 3478.
 * PH_ERROR_FAILED with a sentence saying what is wrong. */
gboolean ph_ice_config_set_stun (PhIceConfig *self, const char *server, GError **error);
/* "turn:HOST[:PORT][?transport=udp|tcp]" (default port 3478) or
 * "turns:HOST[:PORT][?transport=tcp]" (TLS, default port 5349), RFC 7065. */
gboolean ph_ice_config_add_turn (PhIceConfig *self, const char *uri, const char *username,
                                 const char *password, GError **error);

void ph_turn_server_free (PhTurnServer *server);
/* "udp", "tcp" or "tls". */
const char *ph_turn_transport_to_string (PhTurnTransport transport);
/* The server as a URI a person recognises in a message:
 * "turns:turn.example.org:443", "turn:[2001:db8::1]:3478?transport=tcp". */
char *ph_turn_server_to_uri (const PhTurnServer *server);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhIceConfig, ph_ice_config_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhTurnServer, ph_turn_server_free)

G_END_DECLS
