/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-certificate"

#include "config.h"

#include <string.h>

#include "ph-certificate.h"

static void
assert_fingerprint_format (const char *fingerprint)
{
  g_assert_cmpuint (strlen (fingerprint), ==, 32 * 2 + 31);
  for (guint i = 0; fingerprint[i] != '\0'; i++)
    {
      if (i % 3 == 2)
        g_assert_cmpint (fingerprint[i], ==, ':');
      else
        g_assert_true (g_ascii_isdigit (fingerprint[i])
                       || (fingerprint[i] >= 'A' && fingerprint[i] <= 'F'));
    }
}

static void
test_generate (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GTlsCertificate) certificate = ph_certificate_generate ("Alice", &error);
  g_autoptr (GByteArray) der = NULL;
  g_autofree char *pem = NULL;
  g_autofree char *key_pem = NULL;
  g_autofree char *subject = NULL;
  g_autoptr (GDateTime) not_before = NULL;
  g_autoptr (GDateTime) not_after = NULL;
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();

  g_assert_no_error (error);
  g_assert_true (G_IS_TLS_CERTIFICATE (certificate));

  g_object_get (certificate, "certificate", &der, "certificate-pem", &pem, "private-key-pem",
                &key_pem, "subject-name", &subject, "not-valid-before", &not_before,
                "not-valid-after", &not_after, NULL);
  g_assert_nonnull (der);
  g_assert_cmpuint (der->len, >, 100);
  g_assert_true (g_str_has_prefix (pem, "-----BEGIN CERTIFICATE-----"));
  /* TLS needs the private key to prove ownership of the certificate. */
  g_assert_nonnull (key_pem);
  g_assert_true (g_str_has_prefix (key_pem, "-----BEGIN PRIVATE KEY-----"));
  g_assert_nonnull (strstr (subject, "CN=Alice"));

  /* Valid now, even on a peer whose clock is somewhat behind, for a year. */
  g_assert_cmpint (g_date_time_difference (now, not_before), >=, 23 * G_TIME_SPAN_HOUR);
  g_assert_cmpint (g_date_time_difference (not_after, now), >=, 364 * G_TIME_SPAN_DAY);
  g_assert_cmpint (g_date_time_difference (not_after, now), <=, 366 * G_TIME_SPAN_DAY);
}

static void
test_fingerprint (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GTlsCertificate) first = ph_certificate_generate ("Alice", &error);
  g_autoptr (GTlsCertificate) second = NULL;
  g_autoptr (GTlsCertificate) reloaded = NULL;
  g_autofree char *first_fingerprint = NULL;
  g_autofree char *again = NULL;
  g_autofree char *second_fingerprint = NULL;
  g_autofree char *reloaded_fingerprint = NULL;
  g_autofree char *pem = NULL;
  g_autoptr (GByteArray) der = NULL;
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree char *expected = NULL;

  g_assert_no_error (error);
  second = ph_certificate_generate ("Alice", &error);
  g_assert_no_error (error);

  first_fingerprint = ph_certificate_get_fingerprint (first);
  assert_fingerprint_format (first_fingerprint);

  /* Stable: the same certificate, also read back from PEM, gives the same. */
  again = ph_certificate_get_fingerprint (first);
  g_assert_cmpstr (first_fingerprint, ==, again);
  g_object_get (first, "certificate-pem", &pem, NULL);
  reloaded = g_tls_certificate_new_from_pem (pem, -1, &error);
  g_assert_no_error (error);
  reloaded_fingerprint = ph_certificate_get_fingerprint (reloaded);
  g_assert_cmpstr (first_fingerprint, ==, reloaded_fingerprint);

  /* It is the SHA-256 of the DER, which is what a peer can check. */
  g_object_get (first, "certificate", &der, NULL);
  g_checksum_update (checksum, der->data, der->len);
  expected = g_ascii_strup (g_checksum_get_string (checksum), -1);
  for (guint i = 0; i < 32; i++)
    g_assert_true (strncmp (first_fingerprint + 3 * i, expected + 2 * i, 2) == 0);

  /* Same name, new key and serial: a different certificate. */
  second_fingerprint = ph_certificate_get_fingerprint (second);
  assert_fingerprint_format (second_fingerprint);
  g_assert_cmpstr (first_fingerprint, !=, second_fingerprint);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/certificate/generate", test_generate);
  g_test_add_func ("/certificate/fingerprint", test_fingerprint);

  return g_test_run ();
}
