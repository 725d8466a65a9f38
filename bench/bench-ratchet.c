/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "bench-ratchet"

#include "config.h"

#include <stdio.h>

#include <sodium.h>

#include "ph-identity.h"
#include "ph-ratchet.h"

/* Sealing a copy for an offline contact and opening it on the other side,
 * through libsignal-protocol-c's Double Ratchet with its keys in each
 * profile's ratchet.db (a commit per message on each side), next to the
 * same bytes through one crypto_secretbox with a fixed key: what forward
 * secrecy and keys kept on disk cost a message. Prints numbers; never
 * fails on time.
 *
 *   bench-ratchet [MESSAGES] */

#define DEFAULT_MESSAGES 2000
#define MESSAGE "A message of about the size people write, with a link: https://example.org/"

static double
now_ms (void)
{
  return g_get_monotonic_time () / 1000.0;
}

static PhRatchet *
open_profile (const char *dir, PhIdentity **out_identity)
{
  g_autoptr (GError) error = NULL;
  PhRatchet *ratchet;

  *out_identity = ph_identity_load_or_create (dir, &error);
  if (*out_identity == NULL)
    g_error ("%s", error->message);
  ratchet = ph_ratchet_new (dir, *out_identity, &error);
  if (ratchet == NULL)
    g_error ("%s", error->message);
  return ratchet;
}

static void
start (PhRatchet *from, const char *to_id, PhRatchet *to, PhIdentity *to_identity)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bundle = ph_ratchet_make_bundle (to, &error);

  if (bundle == NULL
      || !ph_ratchet_start_session (from, to_id, bundle, ph_identity_get_public_key (to_identity),
                                    &error))
    g_error ("%s", error->message);
}

/* Seals and opens @n messages, answering every tenth so both ratchets
 * turn as in a conversation; returns the milliseconds. */
static double
run_ratchet (PhRatchet *alice, PhRatchet *bob, guint n, gsize *out_sealed_size)
{
  g_autoptr (GBytes) text = g_bytes_new_static (MESSAGE, sizeof MESSAGE - 1);
  double started = now_ms ();

  for (guint i = 0; i < n; i++)
    {
      gboolean answer = i % 10 == 9;
      g_autoptr (GError) error = NULL;
      g_autoptr (GBytes) sealed
          = ph_ratchet_seal (answer ? bob : alice, answer ? "alice" : "bob", text, &error);
      g_autoptr (GBytes) opened = NULL;

      if (sealed == NULL)
        g_error ("%s", error->message);
      opened = ph_ratchet_open (answer ? alice : bob, answer ? "bob" : "alice", sealed, &error);
      if (opened == NULL)
        g_error ("%s", error->message);
      *out_sealed_size = g_bytes_get_size (sealed);
    }
  return now_ms () - started;
}

static double
run_secretbox (guint n)
{
  guint8 key[crypto_secretbox_KEYBYTES];
  guint8 nonce[crypto_secretbox_NONCEBYTES];
  guint8 sealed[crypto_secretbox_MACBYTES + sizeof MESSAGE];
  guint8 opened[sizeof MESSAGE];
  double started = now_ms ();

  crypto_secretbox_keygen (key);
  for (guint i = 0; i < n; i++)
    {
      randombytes_buf (nonce, sizeof nonce);
      crypto_secretbox_easy (sealed, (const guint8 *)MESSAGE, sizeof MESSAGE - 1, nonce, key);
      if (crypto_secretbox_open_easy (opened, sealed,
                                      crypto_secretbox_MACBYTES + sizeof MESSAGE - 1, nonce, key)
          != 0)
        g_error ("crypto_secretbox_open_easy failed");
    }
  return now_ms () - started;
}

int
main (int argc, char *argv[])
{
  guint n = argc > 1 ? (guint)g_ascii_strtoull (argv[1], NULL, 10) : DEFAULT_MESSAGES;
  g_autoptr (GError) error = NULL;
  g_autofree char *alice_dir = g_dir_make_tmp ("bench-ratchet-alice-XXXXXX", &error);
  g_autofree char *bob_dir = g_dir_make_tmp ("bench-ratchet-bob-XXXXXX", &error);
  g_autoptr (PhIdentity) alice_identity = NULL;
  g_autoptr (PhIdentity) bob_identity = NULL;
  g_autoptr (PhRatchet) alice = NULL;
  g_autoptr (PhRatchet) bob = NULL;
  g_autofree char *command = NULL;
  gsize sealed_size = 0;
  double ratchet_ms;
  double box_ms;
  double started;
  double session_ms;

  if (sodium_init () < 0 || alice_dir == NULL || bob_dir == NULL)
    g_error ("could not set up: %s", error != NULL ? error->message : "libsodium");
  n = MAX (n, 10);
  alice = open_profile (alice_dir, &alice_identity);
  bob = open_profile (bob_dir, &bob_identity);
  started = now_ms ();
  start (alice, "bob", bob, bob_identity);
  start (bob, "alice", alice, alice_identity);
  session_ms = (now_ms () - started) / 2;

  ratchet_ms = run_ratchet (alice, bob, n, &sealed_size);
  box_ms = run_secretbox (n);

  printf ("%u messages of %zu bytes, sealed and opened (one answer in ten):\n", n,
          sizeof MESSAGE - 1);
  printf ("  Double Ratchet (libsignal, keys in ratchet.db): %8.0f messages/s, %.3f ms each, "
          "%zu bytes sealed\n",
          n / (ratchet_ms / 1000), ratchet_ms / n, sealed_size);
  printf ("  one crypto_secretbox, a fixed key:               %8.0f messages/s, %.4f ms each, "
          "%zu bytes sealed\n",
          n / (box_ms / 1000), box_ms / n, crypto_secretbox_MACBYTES + sizeof MESSAGE - 1);
  printf ("  the ratchet costs %.0fx the box a message; starting a session (bundle + X3DH) "
          "%.2f ms\n",
          ratchet_ms / box_ms, session_ms);
  printf ("summary: messages=%u ratchet_per_s=%.0f box_per_s=%.0f ratio=%.1f session_ms=%.2f\n", n,
          n / (ratchet_ms / 1000), n / (box_ms / 1000), ratchet_ms / box_ms, session_ms);

  g_clear_object (&alice);
  g_clear_object (&bob);
  command = g_strdup_printf ("rm -rf '%s' '%s'", alice_dir, bob_dir);
  return system (command) == 0 ? 0 : 1;
}
