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
 * the session it answers (hex digits, as in `here`), then, if the host had
 * one ready, a newline and its session description. */
#define MAX_SESSION_LENGTH 64
#define MAX_PLAIN_SIZE                                                                             \
  (MAX_NAMEPLATE_LENGTH + 1 + PH_PAKE_MESSAGE_SIZE + MAX_SESSION_LENGTH + 1                        \
   + PH_MEETING_INVITATION_MAX_DESCRIPTION)
#define SEAL_OVERHEAD                                                                              \
  (crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES)

void
ph_meeting_invitation_free (PhMeetingInvitation *invitation)
{
  if (invitation == NULL)
    return;
  g_free (invitation->nameplate);
  g_clear_pointer (&invitation->pake_message, g_bytes_unref);
  g_free (invitation->session);
  g_free (invitation->description);
  g_free (invitation);
}

GBytes *
ph_meeting_seal_invitation (GBytes *pair_secret, const char *point_key,
                            const PhMeetingInvitation *invitation)
{
  gsize length = strlen (invitation->nameplate);
  gsize session_length = strlen (invitation->session);
  gsize description_length = invitation->description != NULL ? strlen (invitation->description) : 0;
  g_autoptr (GByteArray) plain = g_byte_array_sized_new (MAX_PLAIN_SIZE);
  guint8 *sealed;
  gsize size;
  guint8 key[KEY_SIZE];

  g_return_val_if_fail (length <= MAX_NAMEPLATE_LENGTH, NULL);
  g_return_val_if_fail (session_length >= 1 && session_length <= MAX_SESSION_LENGTH, NULL);
  g_return_val_if_fail (g_bytes_get_size (invitation->pake_message) == PH_PAKE_MESSAGE_SIZE, NULL);
  g_return_val_if_fail (description_length <= PH_MEETING_INVITATION_MAX_DESCRIPTION, NULL);

  g_byte_array_append (plain, (const guint8 *)invitation->nameplate, length + 1);
  g_byte_array_append (plain, g_bytes_get_data (invitation->pake_message, NULL),
                       PH_PAKE_MESSAGE_SIZE);
  g_byte_array_append (plain, (const guint8 *)invitation->session, session_length);
  if (description_length > 0)
    {
      g_byte_array_append (plain, (const guint8 *)"\n", 1);
      g_byte_array_append (plain, (const guint8 *)invitation->description, description_length);
    }

  size = SEAL_OVERHEAD + plain->len;
  sealed = g_malloc (size);
  derive (pair_secret, "pinhole meeting invitation", NULL, 0, key);
  randombytes_buf (sealed, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  crypto_aead_xchacha20poly1305_ietf_encrypt (
      sealed + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, NULL, plain->data, plain->len,
      (const guint8 *)point_key, strlen (point_key), NULL, sealed, key);
  sodium_memzero (key, sizeof key);
  sodium_memzero (plain->data, plain->len);
  return g_bytes_new_take (sealed, size);
}

static GError *
invitation_error (const char *message)
{
  return g_error_new_literal (PH_ERROR, PH_ERROR_PROTOCOL, message);
}

PhMeetingInvitation *
ph_meeting_open_invitation (GBytes *pair_secret, const char *point_key, GBytes *sealed,
                            GError **error)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (sealed, &size);
  g_autofree guint8 *plain = NULL;
  guint8 key[KEY_SIZE];
  unsigned long long length = 0;
  const char *text;
  const char *end;
  const char *session;
  const char *newline;
  gsize nameplate_length;
  gsize session_length;
  PhMeetingInvitation *invitation;
  int opened;

  if (size < SEAL_OVERHEAD + 2 + PH_PAKE_MESSAGE_SIZE + 1 || size > SEAL_OVERHEAD + MAX_PLAIN_SIZE)
    {
      g_propagate_error (error,
                         invitation_error ("A meeting invitation of the wrong size was ignored."));
      return NULL;
    }
  plain = g_malloc (size - SEAL_OVERHEAD + 1);
  derive (pair_secret, "pinhole meeting invitation", NULL, 0, key);
  opened = crypto_aead_xchacha20poly1305_ietf_decrypt (
      plain, &length, NULL, data + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
      size - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, (const guint8 *)point_key,
      strlen (point_key), data, key);
  sodium_memzero (key, sizeof key);
  if (opened != 0)
    {
      g_propagate_error (
          error,
          invitation_error ("A meeting invitation that the contact did not seal was ignored."));
      return NULL;
    }
  plain[length] = '\0';
  text = (const char *)plain;
  end = memchr (text, '\0', (gsize)length);
  nameplate_length = end != NULL ? (gsize)(end - text) : 0;
  session = text + MIN ((gsize)length, nameplate_length + 1 + PH_PAKE_MESSAGE_SIZE);
  newline = memchr (session, '\n', (gsize)(text + length - session));
  session_length = (gsize)((newline != NULL ? newline : text + length) - session);
  if (nameplate_length == 0 || nameplate_length > MAX_NAMEPLATE_LENGTH
      || strspn (text, "0123456789") != nameplate_length || session_length == 0
      || session_length > MAX_SESSION_LENGTH
      || strspn (session, "0123456789abcdef") != session_length
      || (newline != NULL
          && (newline[1] == '\0'
              || memchr (newline, '\0', (gsize)(text + length - newline)) != NULL)))
    {
      g_propagate_error (
          error,
          invitation_error ("A meeting invitation without a nameplate or session was ignored."));
      return NULL;
    }

  invitation = g_new0 (PhMeetingInvitation, 1);
  invitation->nameplate = g_strndup (text, nameplate_length);
  invitation->pake_message = g_bytes_new (text + nameplate_length + 1, PH_PAKE_MESSAGE_SIZE);
  invitation->session = g_strndup (session, session_length);
  invitation->description = newline != NULL ? g_strdup (newline + 1) : NULL;
  sodium_memzero (plain, (gsize)length);
  return invitation;
}
