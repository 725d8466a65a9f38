/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-meeting-keys"

#include "config.h"

#include <sodium.h>
#include <string.h>

#include "ph-error.h"
#include "ph-meeting-keys.h"
#include "ph-pake.h"

#define KEY_SIZE 32
/* Nameplates are short numbers; anything longer is not one. */
#define MAX_NAMEPLATE_LENGTH 16

static void
derive (GBytes *pair_secret, const char *context, const guint8 *extra, gsize extra_size,
        guint8 out[KEY_SIZE])
{
  crypto_generichash_state state;

  g_assert (g_bytes_get_size (pair_secret) >= crypto_generichash_KEYBYTES_MIN);
  crypto_generichash_init (&state, g_bytes_get_data (pair_secret, NULL),
                           g_bytes_get_size (pair_secret), KEY_SIZE);
  crypto_generichash_update (&state, (const guint8 *)context, strlen (context) + 1);
  if (extra_size > 0)
    crypto_generichash_update (&state, extra, extra_size);
  crypto_generichash_final (&state, out, KEY_SIZE);
}

static char *
to_hex (const guint8 bytes[KEY_SIZE])
{
  char hex[2 * KEY_SIZE + 1];

  sodium_bin2hex (hex, sizeof hex, bytes, KEY_SIZE);
  return g_strdup (hex);
}

gint64
ph_meeting_day_now (void)
{
  return g_get_real_time () / G_USEC_PER_SEC / (24 * 3600);
}

char *
ph_meeting_point_key (GBytes *pair_secret, gint64 day)
{
  guint8 day_bytes[8];
  guint8 key[KEY_SIZE];
  char *hex;

  for (guint i = 0; i < sizeof day_bytes; i++)
    day_bytes[i] = (guint8)((guint64)day >> (8 * (7 - i)));
  derive (pair_secret, "pinhole meeting point", day_bytes, sizeof day_bytes, key);
  hex = to_hex (key);
  sodium_memzero (key, sizeof key);
  return hex;
}

const char *
ph_meeting_side (GBytes *own_key, GBytes *contact_key)
{
  return g_bytes_compare (own_key, contact_key) < 0 ? "1" : "2";
}

char *
ph_meeting_pake_secret (GBytes *pair_secret)
{
  guint8 key[KEY_SIZE];
  char *hex;

  derive (pair_secret, "pinhole meeting pake", NULL, 0, key);
  hex = to_hex (key);
  sodium_memzero (key, sizeof key);
  return hex;
}

/* The sealed plaintext: the nameplate's digits, a NUL, the PAKE message,
 * then the session it answers (hex digits, as in `here`). */
#define MAX_SESSION_LENGTH 64
#define MAX_PLAIN_SIZE (MAX_NAMEPLATE_LENGTH + 1 + PH_PAKE_MESSAGE_SIZE + MAX_SESSION_LENGTH)

GBytes *
ph_meeting_seal_invitation (GBytes *pair_secret, const char *point_key, const char *nameplate,
                            GBytes *pake_message, const char *session)
{
  gsize length = strlen (nameplate);
  gsize session_length = strlen (session);
  gsize plain_size = length + 1 + PH_PAKE_MESSAGE_SIZE + session_length;
  gsize size = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + plain_size
               + crypto_aead_xchacha20poly1305_ietf_ABYTES;
  guint8 *sealed = g_malloc (size);
  guint8 plain[MAX_PLAIN_SIZE];
  guint8 key[KEY_SIZE];

  g_return_val_if_fail (length <= MAX_NAMEPLATE_LENGTH, NULL);
  g_return_val_if_fail (session_length >= 1 && session_length <= MAX_SESSION_LENGTH, NULL);
  g_return_val_if_fail (g_bytes_get_size (pake_message) == PH_PAKE_MESSAGE_SIZE, NULL);

  memcpy (plain, nameplate, length);
  plain[length] = '\0';
  memcpy (plain + length + 1, g_bytes_get_data (pake_message, NULL), PH_PAKE_MESSAGE_SIZE);
  memcpy (plain + length + 1 + PH_PAKE_MESSAGE_SIZE, session, session_length);
  derive (pair_secret, "pinhole meeting invitation", NULL, 0, key);
  randombytes_buf (sealed, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  crypto_aead_xchacha20poly1305_ietf_encrypt (sealed + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
                                              NULL, plain, plain_size, (const guint8 *)point_key,
                                              strlen (point_key), NULL, sealed, key);
  sodium_memzero (key, sizeof key);
  return g_bytes_new_take (sealed, size);
}

char *
ph_meeting_open_invitation (GBytes *pair_secret, const char *point_key, GBytes *sealed,
                            GBytes **out_pake_message, char **out_session, GError **error)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (sealed, &size);
  const gsize overhead
      = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES;
  guint8 key[KEY_SIZE];
  guint8 plain[MAX_PLAIN_SIZE + 1];
  unsigned long long length = 0;
  const guint8 *end;
  gsize nameplate_length;
  gsize session_length;
  int opened;

  if (size < overhead + 2 + PH_PAKE_MESSAGE_SIZE + 1 || size > overhead + MAX_PLAIN_SIZE)
    {
      g_set_error_literal (error, PH_ERROR, PH_ERROR_PROTOCOL,
                           "A meeting invitation of the wrong size was ignored.");
      return NULL;
    }
  derive (pair_secret, "pinhole meeting invitation", NULL, 0, key);
  opened = crypto_aead_xchacha20poly1305_ietf_decrypt (
      plain, &length, NULL, data + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
      size - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, (const guint8 *)point_key,
      strlen (point_key), data, key);
  sodium_memzero (key, sizeof key);
  if (opened != 0)
    {
      g_set_error_literal (error, PH_ERROR, PH_ERROR_PROTOCOL,
                           "A meeting invitation that the contact did not seal was ignored.");
      return NULL;
    }
  plain[length] = '\0';
  end = memchr (plain, '\0', (gsize)length);
  nameplate_length = end != NULL ? (gsize)(end - plain) : 0;
  session_length = (gsize)length - MIN ((gsize)length, nameplate_length + 1 + PH_PAKE_MESSAGE_SIZE);
  if (nameplate_length == 0 || nameplate_length > MAX_NAMEPLATE_LENGTH
      || strspn ((const char *)plain, "0123456789") != nameplate_length || session_length == 0
      || strspn ((const char *)plain + nameplate_length + 1 + PH_PAKE_MESSAGE_SIZE,
                 "0123456789abcdef")
             != session_length)
    {
      g_set_error_literal (error, PH_ERROR, PH_ERROR_PROTOCOL,
                           "A meeting invitation without a nameplate or session was ignored.");
      return NULL;
    }
  *out_pake_message = g_bytes_new (plain + nameplate_length + 1, PH_PAKE_MESSAGE_SIZE);
  *out_session = g_strndup ((const char *)plain + nameplate_length + 1 + PH_PAKE_MESSAGE_SIZE,
                            session_length);
  return g_strndup ((const char *)plain, nameplate_length);
}
