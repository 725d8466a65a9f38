/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-turn-credentials"

#include "config.h"

#include <string.h>

#include "ph-turn-credentials.h"

char *
ph_turn_credentials_make_username (gint64 expires_at_unix, const char *id)
{
  g_return_val_if_fail (id != NULL, NULL);

  return g_strdup_printf ("%" G_GINT64_FORMAT ":%s", expires_at_unix, id);
}

/* base64 (HMAC-SHA1 (secret, username)), exactly what coturn computes. */
char *
ph_turn_credentials_make_credential (const char *secret, const char *username)
{
  g_autoptr (GHmac) hmac = NULL;
  guint8 digest[20];
  gsize digest_len = sizeof digest;

  g_return_val_if_fail (secret != NULL, NULL);
  g_return_val_if_fail (username != NULL, NULL);

  hmac = g_hmac_new (G_CHECKSUM_SHA1, (const guchar *)secret, strlen (secret));
  g_hmac_update (hmac, (const guchar *)username, strlen (username));
  g_hmac_get_digest (hmac, digest, &digest_len);

  return g_base64_encode (digest, digest_len);
}
