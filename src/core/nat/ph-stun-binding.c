/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-stun-binding"

#include "config.h"

#include <netinet/in.h>
#include <string.h>
#include <stun/stunagent.h>
#include <stun/stunmessage.h>

#include "ph-error.h"
#include "ph-stun-binding.h"

/* Attributes libnice's StunAttribute does not name (RFC 5780 §7). */
#define ATTRIBUTE_PADDING 0x0026
#define ATTRIBUTE_RESPONSE_PORT 0x0027
#define ATTRIBUTE_RESPONSE_ORIGIN 0x802B
#define ATTRIBUTE_OTHER_ADDRESS 0x802C

/* After the type, the length and the magic cookie. */
#define TRANSACTION_ID_OFFSET 8
#define REQUEST_SIZE (PH_STUN_HEADER_SIZE + 8)

/* The comprehension-required attributes (below 0x8000) an answer may
 * carry; libnice's validation refuses any other (RFC 5389 §7.3.3). */
static const uint16_t known_attributes[] = {
  STUN_ATTRIBUTE_MAPPED_ADDRESS,
  STUN_ATTRIBUTE_RESPONSE_ADDRESS,
  STUN_ATTRIBUTE_CHANGE_REQUEST,
  STUN_ATTRIBUTE_SOURCE_ADDRESS,
  STUN_ATTRIBUTE_CHANGED_ADDRESS,
  STUN_ATTRIBUTE_USERNAME,
  STUN_ATTRIBUTE_MESSAGE_INTEGRITY,
  STUN_ATTRIBUTE_ERROR_CODE,
  STUN_ATTRIBUTE_UNKNOWN_ATTRIBUTES,
  STUN_ATTRIBUTE_REALM,
  STUN_ATTRIBUTE_NONCE,
  STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS,
  ATTRIBUTE_PADDING,
  ATTRIBUTE_RESPONSE_PORT,
  0,
};

/* Binding discovery against a public server uses no credentials: nothing
 * is signed, and a MESSAGE-INTEGRITY in an answer is ignored. No
 * FINGERPRINT either, so the requests are the plain 20 or 28 bytes that
 * every RFC 3489 or 5389 server reads. */
static void
agent_init (StunAgent *agent)
{
  stun_agent_init (agent, known_attributes, STUN_COMPATIBILITY_RFC5389,
                   STUN_AGENT_USAGE_IGNORE_CREDENTIALS);
}

/* What stun_usage_bind_create() does, with room for CHANGE-REQUEST and
 * the caller's transaction id. The agent remembers the request, so that
 * stun_agent_validate() accepts its answer. */
static gsize
build_request (StunAgent *agent, guint8 *buffer, gsize size, const guint8 transaction_id[12],
               guint change_flags)
{
  StunMessage message;

  if (!stun_agent_init_request (agent, &message, buffer, size, STUN_BINDING))
    return 0;
  /* libnice drew an id of its own; answers are matched by the caller's. */
  memcpy (buffer + TRANSACTION_ID_OFFSET, transaction_id, 12);
  if (change_flags != 0
      && stun_message_append32 (&message, STUN_ATTRIBUTE_CHANGE_REQUEST,
                                change_flags & (PH_STUN_CHANGE_IP | PH_STUN_CHANGE_PORT))
             != STUN_MESSAGE_RETURN_SUCCESS)
    return 0;
  return stun_agent_finish_message (agent, &message, NULL, 0);
}

gsize
ph_stun_build_binding_request (guint8 *buffer, const guint8 transaction_id[12], guint change_flags)
{
  StunAgent agent;
  gsize length;

  g_return_val_if_fail (buffer != NULL, 0);
  g_return_val_if_fail (transaction_id != NULL, 0);

  agent_init (&agent);
  length = build_request (&agent, buffer, REQUEST_SIZE, transaction_id, change_flags);
  /* A fresh agent and 28 bytes always suffice. */
  g_assert (length > 0);
  return length;
}

static gboolean
refuse (GError **error, const char *what)
{
  g_set_error (error, PH_ERROR, PH_ERROR_PROTOCOL, "The STUN server sent a malformed answer (%s).",
               what);
  return FALSE;
}

/* stun_agent_validate() says NOT_STUN for several faults; the header
 * tells which one, so that the log names it. */
static const char *
describe_refusal (StunValidationStatus status, const guint8 *data, gsize length)
{
  if (length < PH_STUN_HEADER_SIZE)
    return "shorter than a STUN header";

  switch (status)
    {
    case STUN_VALIDATION_INCOMPLETE_STUN:
      return "truncated: shorter than its header says";
    case STUN_VALIDATION_NOT_STUN:
      if ((data[0] & 0xC0) != 0)
        return "not a STUN message";
      if (stun_message_validate_buffer_length (data, length, TRUE) > 0)
        return "longer than its header says";
      if ((data[3] & 0x03) != 0)
        return "a length that is not a multiple of four";
      return "an attribute runs past the end of the message";
    case STUN_VALIDATION_BAD_REQUEST:
      /* Without FINGERPRINT checks the cookie is the only reason. */
      return "no STUN magic cookie";
    case STUN_VALIDATION_UNMATCHED_RESPONSE:
      return "an answer to another request";
    case STUN_VALIDATION_UNKNOWN_ATTRIBUTE:
    case STUN_VALIDATION_UNKNOWN_REQUEST_ATTRIBUTE:
      return "an unknown comprehension-required attribute";
    case STUN_VALIDATION_SUCCESS:
    case STUN_VALIDATION_UNAUTHORIZED_BAD_REQUEST:
    case STUN_VALIDATION_UNAUTHORIZED:
    case STUN_VALIDATION_FORBIDDEN:
    default:
      return "refused by STUN validation";
    }
}

/* Fills @out from the first attribute of @type, if there is one. */
static gboolean
find_address (const StunMessage *message, guint16 type, gboolean xored, PhStunAddress *out,
              GError **error)
{
  struct sockaddr_storage storage;
  socklen_t storage_length = sizeof storage;
  const guint8 *value;
  guint16 value_length = 0;
  StunMessageReturn found;

  value = stun_message_find (message, type, &value_length);
  if (value == NULL)
    return TRUE;
  /* libnice skips the reserved first byte; RFC 5389 §15.1 has it zero. */
  if (value_length < 4 || value[0] != 0)
    return refuse (error, "bad address attribute");

  found = xored ? stun_message_find_xor_addr (message, type, &storage, &storage_length)
                : stun_message_find_addr (message, type, &storage, &storage_length);
  if (found == STUN_MESSAGE_RETURN_UNSUPPORTED_ADDRESS)
    return refuse (error, "unknown address family");
  if (found != STUN_MESSAGE_RETURN_SUCCESS)
    return refuse (error, "address attribute of the wrong size");

  if (storage.ss_family == AF_INET)
    {
      const struct sockaddr_in *in = (const struct sockaddr_in *)&storage;

      out->family = G_SOCKET_FAMILY_IPV4;
      out->port = g_ntohs (in->sin_port);
      memcpy (out->address, &in->sin_addr, 4);
    }
  else
    {
      const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&storage;

      g_assert (storage.ss_family == AF_INET6);
      out->family = G_SOCKET_FAMILY_IPV6;
      out->port = g_ntohs (in6->sin6_port);
      memcpy (out->address, &in6->sin6_addr, 16);
    }
  out->present = TRUE;
  return TRUE;
}

gboolean
ph_stun_parse_response (const guint8 *data, gsize length, const guint8 transaction_id[12],
                        PhStunResponse *response, GError **error)
{
  StunAgent agent;
  StunMessage message;
  StunValidationStatus status;
  StunClass class;
  guint8 request[REQUEST_SIZE];
  PhStunAddress xor_mapped = { 0 };
  PhStunAddress mapped = { 0 };
  PhStunAddress other = { 0 };
  PhStunAddress changed = { 0 };
  PhStunAddress origin = { 0 };
  PhStunAddress source = { 0 };
  int code;

  g_return_val_if_fail (data != NULL || length == 0, FALSE);
  g_return_val_if_fail (transaction_id != NULL, FALSE);
  g_return_val_if_fail (response != NULL, FALSE);

  memset (response, 0, sizeof *response);
  /* The agent takes answers only to requests it sent: show it ours. */
  agent_init (&agent);
  build_request (&agent, request, sizeof request, transaction_id, 0);
  status = stun_agent_validate (&agent, &message, data, length, NULL, NULL);
  if (status != STUN_VALIDATION_SUCCESS)
    return refuse (error, describe_refusal (status, data, length));

  class = stun_message_get_class (&message);
  if (stun_message_get_method (&message) != STUN_BINDING
      || (class != STUN_RESPONSE && class != STUN_ERROR))
    return refuse (error, "not a Binding response");
  response->success = class == STUN_RESPONSE;
  if (!response->success)
    {
      switch (stun_message_find_error (&message, &code))
        {
        case STUN_MESSAGE_RETURN_SUCCESS:
          response->error_code = (guint)code;
          break;
        case STUN_MESSAGE_RETURN_NOT_FOUND:
          break;
        default:
          return refuse (error, "bad ERROR-CODE");
        }
    }

  /* Every address attribute must be well formed, even one that the
   * newer attribute beside it makes unnecessary. */
  if (!find_address (&message, STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS, TRUE, &xor_mapped, error)
      || !find_address (&message, STUN_ATTRIBUTE_MAPPED_ADDRESS, FALSE, &mapped, error)
      || !find_address (&message, ATTRIBUTE_OTHER_ADDRESS, FALSE, &other, error)
      || !find_address (&message, STUN_ATTRIBUTE_CHANGED_ADDRESS, FALSE, &changed, error)
      || !find_address (&message, ATTRIBUTE_RESPONSE_ORIGIN, FALSE, &origin, error)
      || !find_address (&message, STUN_ATTRIBUTE_SOURCE_ADDRESS, FALSE, &source, error))
    return FALSE;

  response->mapped = xor_mapped.present ? xor_mapped : mapped;
  response->other = other.present ? other : changed;
  response->origin = origin.present ? origin : source;
  return TRUE;
}

GSocketAddress *
ph_stun_address_to_socket_address (const PhStunAddress *address)
{
  g_autoptr (GInetAddress) inet = NULL;

  g_return_val_if_fail (address != NULL && address->present, NULL);
  inet = g_inet_address_new_from_bytes (address->address, address->family);
  return g_inet_socket_address_new (inet, address->port);
}
