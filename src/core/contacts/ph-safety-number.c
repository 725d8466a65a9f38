/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-safety-number"

#include "config.h"

#include <errno.h>
#include <string.h>

#include <qrencode.h>

#include "ph-error.h"
#include "ph-identity.h"
#include "ph-safety-number.h"

#define GROUP_DIGITS 5

/* The digits of @text, which must be exactly @count digits in groups
 * separated by single spaces or no spaces at all; FALSE otherwise. */
static gboolean
collect_digits (const char *text, guint count, char *out)
{
  guint n = 0;

  for (const char *p = text; *p != '\0'; p++)
    {
      if (*p == ' ' && n > 0 && n % GROUP_DIGITS == 0 && p[1] != ' ' && p[1] != '\0')
        continue;
      if (!g_ascii_isdigit (*p) || n == count)
        return FALSE;
      out[n++] = *p;
    }
  out[n] = '\0';
  return n == count;
}

char *
ph_safety_number_compute (const char *fingerprint, const char *other_fingerprint)
{
  char a[PH_IDENTITY_FINGERPRINT_DIGITS + 1];
  char b[PH_IDENTITY_FINGERPRINT_DIGITS + 1];
  GString *number;
  const char *first;
  const char *second;

  g_return_val_if_fail (fingerprint != NULL, NULL);
  g_return_val_if_fail (other_fingerprint != NULL, NULL);

  if (!collect_digits (fingerprint, PH_IDENTITY_FINGERPRINT_DIGITS, a)
      || !collect_digits (other_fingerprint, PH_IDENTITY_FINGERPRINT_DIGITS, b))
    return NULL;

  /* Digit strings of one length sort as the numbers they write. */
  first = strcmp (a, b) <= 0 ? a : b;
  second = first == a ? b : a;
  number = g_string_sized_new (PH_SAFETY_NUMBER_DIGITS + PH_SAFETY_NUMBER_GROUPS);
  for (guint i = 0; i < PH_SAFETY_NUMBER_DIGITS; i++)
    {
      if (i > 0 && i % GROUP_DIGITS == 0)
        g_string_append_c (number, ' ');
      g_string_append_c (number, i < PH_IDENTITY_FINGERPRINT_DIGITS
                                     ? first[i]
                                     : second[i - PH_IDENTITY_FINGERPRINT_DIGITS]);
    }
  return g_string_free (number, FALSE);
}

GBytes *
ph_safety_number_to_qr_matrix (const char *safety_number, guint *out_width, GError **error)
{
  char digits[PH_SAFETY_NUMBER_DIGITS + 1];
  QRcode *code;
  guint8 *modules;
  gsize count;

  g_return_val_if_fail (safety_number != NULL, NULL);
  g_return_val_if_fail (out_width != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!collect_digits (safety_number, PH_SAFETY_NUMBER_DIGITS, digits))
    {
      g_set_error_literal (error, PH_ERROR, PH_ERROR_FAILED,
                           "A safety number is 60 digits in groups of five.");
      return NULL;
    }

  /* Digits only, so libqrencode picks numeric mode: version 2 at level M. */
  code = QRcode_encodeString (digits, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  if (code == NULL)
    {
      int saved_errno = errno;

      g_set_error (error, PH_ERROR, PH_ERROR_FAILED, "The QR code could not be made: %s",
                   g_strerror (saved_errno));
      return NULL;
    }

  /* libqrencode's bytes carry flags in the upper bits; bit 0 is the colour. */
  count = (gsize)code->width * code->width;
  modules = g_malloc (count);
  for (gsize i = 0; i < count; i++)
    modules[i] = code->data[i] & 1;
  *out_width = code->width;
  QRcode_free (code);
  return g_bytes_new_take (modules, count);
}
