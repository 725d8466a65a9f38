/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-mailbox-secret"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "ph-mailbox-format.h"
#include "ph-mailbox-secret.h"

/* Not GLib's g_random_*: a Mersenne Twister seeded from the clock and
 * /dev/urandom, whose output an observer can predict. */
void
ph_mailbox_secret_random (guint8 *buffer, gsize length)
{
  gsize filled = 0;

  while (filled < length)
    {
      gssize got = getrandom (buffer + filled, length - filled, 0);

      if (got < 0 && errno == EINTR)
        continue;
      if (got < 0)
        g_error ("The kernel gave no random bytes for a mailbox secret: %s", g_strerror (errno));
      filled += (gsize)got;
    }
}

char *
ph_mailbox_secret_new (guint8 out_hash[PH_MAILBOX_SECRET_HASH_SIZE])
{
  static const char digits[] = "0123456789abcdef";
  guint8 bytes[PH_MAILBOX_SECRET_LENGTH / 2];
  char *secret = g_malloc (PH_MAILBOX_SECRET_LENGTH + 1);

  ph_mailbox_secret_random (bytes, sizeof bytes);
  for (gsize i = 0; i < sizeof bytes; i++)
    {
      secret[2 * i] = digits[bytes[i] >> 4];
      secret[2 * i + 1] = digits[bytes[i] & 0x0f];
    }
  secret[PH_MAILBOX_SECRET_LENGTH] = '\0';
  memset (bytes, 0, sizeof bytes);

  ph_mailbox_secret_hash (secret, out_hash);
  return secret;
}

void
ph_mailbox_secret_hash (const char *text, guint8 out_hash[PH_MAILBOX_SECRET_HASH_SIZE])
{
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  gsize length = PH_MAILBOX_SECRET_HASH_SIZE;

  g_checksum_update (checksum, (const guchar *)text, (gssize)strlen (text));
  g_checksum_get_digest (checksum, out_hash, &length);
  g_assert (length == PH_MAILBOX_SECRET_HASH_SIZE);
}

gboolean
ph_mailbox_secret_hash_equal (const guint8 *a, const guint8 *b)
{
  volatile guint8 difference = 0;

  for (gsize i = 0; i < PH_MAILBOX_SECRET_HASH_SIZE; i++)
    difference |= a[i] ^ b[i];
  return difference == 0;
}
