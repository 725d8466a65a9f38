/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-meeting-point"

#include "config.h"

#include <string.h>

#include "ph-mailbox-format.h"
#include "ph-meeting-point.h"

gboolean
ph_meeting_point_id_is_valid (const char *id)
{
  /* The same shape as a secret: 64 lower-case hex digits. */
  return id != NULL && ph_mailbox_secret_is_valid (id);
}

gboolean
ph_meeting_point_id_from_key (const char *key, char out_id[PH_MEETING_POINT_ID_LENGTH + 1])
{
  g_autoptr (GChecksum) checksum = NULL;
  guint8 bytes[PH_MAILBOX_SECRET_LENGTH / 2];

  if (key == NULL || !ph_mailbox_secret_is_valid (key))
    return FALSE;

  for (gsize i = 0; i < sizeof bytes; i++)
    bytes[i]
        = (guint8)(g_ascii_xdigit_value (key[2 * i]) << 4 | g_ascii_xdigit_value (key[2 * i + 1]));
  checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (checksum, (const guchar *)PH_MEETING_POINT_ID_PREFIX,
                     strlen (PH_MEETING_POINT_ID_PREFIX));
  g_checksum_update (checksum, bytes, sizeof bytes);
  memset (bytes, 0, sizeof bytes);
  g_strlcpy (out_id, g_checksum_get_string (checksum), PH_MEETING_POINT_ID_LENGTH + 1);
  return TRUE;
}

gboolean
ph_meeting_point_key_matches (const char *key, const char *id)
{
  char expected[PH_MEETING_POINT_ID_LENGTH + 1];
  volatile guint8 difference = 0;

  if (!ph_meeting_point_id_is_valid (id) || !ph_meeting_point_id_from_key (key, expected))
    return FALSE;
  for (gsize i = 0; i < PH_MEETING_POINT_ID_LENGTH; i++)
    difference |= (guint8)(expected[i] ^ id[i]);
  return difference == 0;
}

guint
ph_meeting_point_parse_side (const char *side)
{
  if (g_strcmp0 (side, "1") == 0)
    return 1;
  if (g_strcmp0 (side, "2") == 0)
    return 2;
  return 0;
}
