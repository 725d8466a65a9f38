/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-mailbox-format"

#include "config.h"

#include <string.h>

#include "ph-mailbox-format.h"

gboolean
ph_mailbox_parse_nameplate (const char *text, gsize length, guint *out_nameplate)
{
  guint value = 0;

  g_return_val_if_fail (text != NULL, FALSE);

  if (length == 0 || length > PH_MAILBOX_MAX_NAMEPLATE_DIGITS || text[0] == '0')
    return FALSE;

  for (gsize i = 0; i < length; i++)
    {
      if (!g_ascii_isdigit (text[i]))
        return FALSE;
      value = value * 10 + (text[i] - '0');
    }

  if (out_nameplate != NULL)
    *out_nameplate = value;
  return TRUE;
}

gboolean
ph_mailbox_secret_is_valid (const char *secret)
{
  if (secret == NULL || strlen (secret) != PH_MAILBOX_SECRET_LENGTH)
    return FALSE;

  for (guint i = 0; i < PH_MAILBOX_SECRET_LENGTH; i++)
    if (!g_ascii_isdigit (secret[i]) && (secret[i] < 'a' || secret[i] > 'f'))
      return FALSE;
  return TRUE;
}

GBytes *
ph_mailbox_decode_body (const char *text)
{
  g_autofree guchar *data = NULL;
  g_autofree char *again = NULL;
  gsize length;

  g_return_val_if_fail (text != NULL, NULL);

  if (*text == '\0')
    return g_bytes_new (NULL, 0);

  data = g_base64_decode (text, &length);
  again = g_base64_encode (data, length);
  if (strcmp (again, text) != 0)
    return NULL;

  return g_bytes_new_take (g_steal_pointer (&data), length);
}
