/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-fuzz-stun-answer"

#include "config.h"

#include <stdint.h>
#include <string.h>

#include "ph-error.h"
#include "ph-stun-binding.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_address (const PhStunAddress *address)
{
  g_autoptr (GSocketAddress) socket_address = NULL;

  if (!address->present)
    return;
  g_assert (address->family == G_SOCKET_FAMILY_IPV4 || address->family == G_SOCKET_FAMILY_IPV6);
  socket_address = ph_stun_address_to_socket_address (address);
  g_assert (G_IS_INET_SOCKET_ADDRESS (socket_address));
}

/* The input is the transaction id the NAT check waits for (12 bytes),
 * then the datagram that arrived: the seeds are real answers to that id,
 * and the fuzzer also tries them against other ids. */
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  const guint8 *transaction_id = data;
  PhStunResponse response;

  if (size < 12)
    return 0;
  data += 12;
  size -= 12;

  if (!ph_stun_parse_response (data, size, transaction_id, &response, &error))
    {
      g_assert_error (error, PH_ERROR, PH_ERROR_PROTOCOL);
      return 0;
    }
  g_assert_no_error (error);

  /* Whatever was accepted answers this very request... */
  g_assert (size >= PH_STUN_HEADER_SIZE);
  g_assert (memcmp (data + 8, transaction_id, 12) == 0);
  /* ...and holds only addresses the check can use. */
  g_assert (response.success ? response.error_code == 0
                             : response.error_code == 0
                                   || (response.error_code >= 300 && response.error_code <= 699));
  check_address (&response.mapped);
  check_address (&response.other);
  check_address (&response.origin);
  return 0;
}
