/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The safety number two contacts compare in person: libsignal's form, the
 * two 30-digit fingerprints of ph_identity_get_fingerprint(), the lower
 * first, so it is the same on both sides and each person finds their own
 * fingerprint as one half of it. Shown as 12 groups of 5 digits. */

#define PH_SAFETY_NUMBER_DIGITS 60
#define PH_SAFETY_NUMBER_GROUPS 12

/* "ddddd ddddd …" (12 groups) from two fingerprints, with or without
 * their spaces, or NULL when either is not 30 digits. */
char *ph_safety_number_compute (const char *fingerprint, const char *other_fingerprint);

/* The safety number as a QR code (libqrencode, error correction level M,
 * the 60 digits without spaces in numeric mode) for the app to draw:
 * @out_width × @out_width modules, row by row, each byte 1 for a dark
 * module and 0 for a light one, without the quiet zone around it (4
 * modules that the drawing adds). NULL and PH_ERROR_FAILED when
 * @safety_number is not 60 digits in groups. */
GBytes *ph_safety_number_to_qr_matrix (const char *safety_number, guint *out_width, GError **error);

G_END_DECLS
