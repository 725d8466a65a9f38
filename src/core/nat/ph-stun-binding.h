/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* STUN Binding requests and their answers, as the NAT check needs them
 * (RFC 5389, with RFC 5780's CHANGE-REQUEST and OTHER-ADDRESS and the RFC
 * 3489 attributes older servers send). Encoding and validation are
 * libnice's stun/ API; these functions only choose the attributes and turn
 * libnice's verdicts into GErrors. Stateless, so that the parser can be
 * fuzzed (fuzz/fuzz-stun-answer.c). */

#define PH_STUN_HEADER_SIZE 20
#define PH_STUN_CHANGE_IP 0x04
#define PH_STUN_CHANGE_PORT 0x02

typedef struct
{
  gboolean present;
  GSocketFamily family;
  guint8 address[16];
  guint16 port;
} PhStunAddress;

typedef struct
{
  gboolean success;     /* Binding success response (else error response) */
  guint error_code;     /* for error responses, 0 when absent */
  PhStunAddress mapped; /* XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS */
  PhStunAddress other;  /* OTHER-ADDRESS, else CHANGED-ADDRESS */
  PhStunAddress origin; /* RESPONSE-ORIGIN, else SOURCE-ADDRESS */
} PhStunResponse;

/* Writes a Binding request (with CHANGE-REQUEST when @change_flags is not
 * 0) into @buffer, which must hold 28 bytes; returns its size. */
gsize ph_stun_build_binding_request (guint8 *buffer, const guint8 transaction_id[12],
                                     guint change_flags);
/* Parses a Binding response to the request with @transaction_id. FALSE
 * with PH_ERROR_PROTOCOL, and a message that says what is wrong, for
 * anything malformed, for another transaction or with a
 * comprehension-required attribute it does not know. */
gboolean ph_stun_parse_response (const guint8 *data, gsize length, const guint8 transaction_id[12],
                                 PhStunResponse *response, GError **error);
GSocketAddress *ph_stun_address_to_socket_address (const PhStunAddress *address);

G_END_DECLS
