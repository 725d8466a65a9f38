/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-fuzz-reliable-link"

#include "config.h"

#include <stdint.h>

#include "ph-reliable-link.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* The input is the peer: packets, each behind a two-byte length, fed to a
 * link that has data of its own out, with time moving on between them.
 * Nothing may crash, and what the link hands over never exceeds what a
 * peer could have sent in that many packets. */
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (PhReliableLink) link = ph_reliable_link_new ();
  g_autoptr (GByteArray) delivered = g_byte_array_new ();
  static guint8 outgoing[64 * 1024];
  gint64 now = G_TIME_SPAN_SECOND;
  guint packets = 0;
  GBytes *packet;

  ph_reliable_link_write (link, outgoing, sizeof outgoing, now);
  while (size >= 2)
    {
      size_t length = MIN ((size_t)(data[0] << 8 | data[1]), size - 2);

      ph_reliable_link_receive (link, data + 2, length, now, delivered, NULL);
      packets++;
      g_assert_cmpuint (delivered->len, <=, packets * PH_RELIABLE_LINK_MAX_PACKET);
      now += (length % 7) * 10 * G_TIME_SPAN_MILLISECOND;
      ph_reliable_link_tick (link, now);
      while ((packet = ph_reliable_link_pop_packet (link)) != NULL)
        {
          g_assert_cmpuint (g_bytes_get_size (packet), <=, PH_RELIABLE_LINK_MAX_PACKET);
          g_bytes_unref (packet);
        }
      data += 2 + length;
      size -= 2 + length;
    }
  return 0;
}
