/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-certificate"

#include "config.h"

#include <string.h>
#include <time.h>

#include <glib/gi18n-lib.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "ph-certificate.h"
#include "ph-error.h"

#define VALIDITY_SECONDS (365 * 24 * 60 * 60)
/* Clocks disagree; a certificate "not yet valid" on the peer's clock would
 * fail for no reason a person could see. */
#define BACKDATE_SECONDS (24 * 60 * 60)

G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_privkey_t, gnutls_x509_privkey_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_crt_t, gnutls_x509_crt_deinit, NULL)

static GTlsCertificate *
fail_with_gnutls_error (GError **error, const char *what, int ret)
{
  /* Translators: the first %s is the failed step as an English technical
   * term, such as “key generation”, the second GnuTLS's reason. */
  g_set_error (error, PH_ERROR, PH_ERROR_FAILED, _ ("Could not create a certificate (%s: %s)."),
               what, gnutls_strerror (ret));
  return NULL;
}

static char *
export_pem (int (*export_fn) (void *, gnutls_x509_crt_fmt_t, gnutls_datum_t *), void *object)
{
  gnutls_datum_t datum = { NULL, 0 };
  char *pem;

  if (export_fn (object, GNUTLS_X509_FMT_PEM, &datum) < 0)
    return NULL;
  pem = g_strndup ((const char *)datum.data, datum.size);
  gnutls_free (datum.data);
  return pem;
}

static int
export_crt (void *crt, gnutls_x509_crt_fmt_t format, gnutls_datum_t *out)
{
  return gnutls_x509_crt_export2 (crt, format, out);
}

static int
export_key_pkcs8 (void *key, gnutls_x509_crt_fmt_t format, gnutls_datum_t *out)
{
  return gnutls_x509_privkey_export2_pkcs8 (key, format, NULL, GNUTLS_PKCS_PLAIN, out);
}

GTlsCertificate *
ph_certificate_generate (const char *common_name, GError **error)
{
  g_auto (gnutls_x509_privkey_t) key = NULL;
  g_auto (gnutls_x509_crt_t) crt = NULL;
  g_autofree char *cert_pem = NULL;
  g_autofree char *key_pem = NULL;
  g_autofree char *both = NULL;
  guint8 serial[16];
  time_t now = time (NULL);
  int ret;

  g_return_val_if_fail (common_name != NULL && *common_name != '\0', NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if ((ret = gnutls_x509_privkey_init (&key)) < 0)
    return fail_with_gnutls_error (error, "key", ret);
  ret = gnutls_x509_privkey_generate (key, GNUTLS_PK_ECDSA,
                                      GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), 0);
  if (ret < 0)
    return fail_with_gnutls_error (error, "key generation", ret);

  if ((ret = gnutls_x509_crt_init (&crt)) < 0)
    return fail_with_gnutls_error (error, "certificate", ret);

  /* A positive 128-bit serial: the top bit clear keeps DER from reading it
   * as negative. */
  if ((ret = gnutls_rnd (GNUTLS_RND_NONCE, serial, sizeof serial)) < 0)
    return fail_with_gnutls_error (error, "serial", ret);
  serial[0] &= 0x7f;
  serial[0] |= 0x01;

  if ((ret = gnutls_x509_crt_set_version (crt, 3)) < 0
      || (ret = gnutls_x509_crt_set_serial (crt, serial, sizeof serial)) < 0
      || (ret = gnutls_x509_crt_set_activation_time (crt, now - BACKDATE_SECONDS)) < 0
      || (ret = gnutls_x509_crt_set_expiration_time (crt, now + VALIDITY_SECONDS)) < 0
      || (ret = gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0, common_name,
                                               strlen (common_name)))
             < 0
      || (ret = gnutls_x509_crt_set_key (crt, key)) < 0
      || (ret = gnutls_x509_crt_set_basic_constraints (crt, 0, -1)) < 0
      || (ret = gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0)
    return fail_with_gnutls_error (error, "fields", ret);

  if ((ret = gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA256, 0)) < 0)
    return fail_with_gnutls_error (error, "signature", ret);

  cert_pem = export_pem (export_crt, crt);
  key_pem = export_pem (export_key_pkcs8, key);
  if (cert_pem == NULL || key_pem == NULL)
    return fail_with_gnutls_error (error, "export", GNUTLS_E_INTERNAL_ERROR);

  both = g_strconcat (cert_pem, key_pem, NULL);
  return g_tls_certificate_new_from_pem (both, -1, error);
}

char *
ph_certificate_get_fingerprint (GTlsCertificate *certificate)
{
  g_autoptr (GByteArray) der = NULL;
  g_autoptr (GChecksum) checksum = NULL;
  guint8 digest[32];
  gsize digest_len = sizeof digest;
  GString *out;

  g_return_val_if_fail (G_IS_TLS_CERTIFICATE (certificate), NULL);

  g_object_get (certificate, "certificate", &der, NULL);
  g_return_val_if_fail (der != NULL, NULL);

  checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (checksum, der->data, der->len);
  g_checksum_get_digest (checksum, digest, &digest_len);

  out = g_string_sized_new (3 * sizeof digest);
  for (gsize i = 0; i < digest_len; i++)
    g_string_append_printf (out, i == 0 ? "%02X" : ":%02X", digest[i]);
  return g_string_free (out, FALSE);
}
