/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A self-signed ECDSA P-256 certificate made with GnuTLS (P-256 keys take
 * under a millisecond; RSA would add hundreds to every setup). */
GTlsCertificate *ph_certificate_generate (const char *common_name, GError **error);

/* SHA-256 of the certificate's DER as 32 upper-case hex pairs joined by ':'. */
char *ph_certificate_get_fingerprint (GTlsCertificate *certificate);

G_END_DECLS
