/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-fuzz-sealer"

#include "config.h"

#include <stdint.h>
#include <string.h>

#include "ph-error.h"
#include "ph-pake.h"
#include "ph-sealer.h"

#define ALICE_SIDE "0123456789abcdef"
#define BOB_SIDE "fedcba9876543210"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static const char *const phases[] = { "pake", "confirm", "desc", "cand" };

static GBytes *
fixed_key (void)
{
  static const guint8 key[PH_PAKE_KEY_SIZE]
      = { 1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
          17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };

  return g_bytes_new_static (key, sizeof key);
}

/* What the rendezvous server hands over as Bob's sealed message: nothing
 * it makes up may open. */
static void
fuzz_open (const uint8_t *data, size_t size)
{
  g_autoptr (GBytes) key = fixed_key ();
  g_autoptr (PhSealer) alice = ph_sealer_new (key, ALICE_SIDE, BOB_SIDE);
  g_autoptr (GBytes) sealed = g_bytes_new (data, size);
  g_autoptr (GBytes) opened = NULL;
  g_autoptr (GError) error = NULL;

  opened = ph_sealer_open (alice, "desc", sealed, &error);
  g_assert_null (opened);
  g_assert_true (g_error_matches (error, PH_ERROR, PH_ERROR_TAMPERED)
                 || g_error_matches (error, PH_ERROR, PH_ERROR_TOO_LARGE));
}

/* Bob's PAKE message, then his key confirmation, as the server delivers
 * them: a made-up confirmation never verifies. */
static void
fuzz_pake (const uint8_t *data, size_t size)
{
  g_autoptr (PhPake) alice = ph_pake_new ("42-orbit-velvet", "42", ALICE_SIDE);
  g_autoptr (GBytes) message = NULL;
  g_autoptr (GBytes) confirmation = NULL;
  g_autoptr (GError) error = NULL;
  gsize message_size;

  /* The first byte says how much of the rest is the PAKE message. */
  if (size == 0)
    return;
  message_size = MIN (data[0], size - 1);
  message = g_bytes_new (data + 1, message_size);
  confirmation = g_bytes_new (data + 1 + message_size, size - 1 - message_size);

  if (!ph_pake_finish (alice, BOB_SIDE, message, &error))
    {
      g_assert_true (g_error_matches (error, PH_ERROR, PH_ERROR_PROTOCOL));
      return;
    }
  g_assert_cmpuint (message_size, ==, PH_PAKE_MESSAGE_SIZE);
  g_assert_false (ph_pake_verify_confirmation (alice, confirmation, &error));
  g_assert_true (g_error_matches (error, PH_ERROR, PH_ERROR_WRONG_CODE)
                 || g_error_matches (error, PH_ERROR, PH_ERROR_PROTOCOL));
}

static guint64
read_counter (GBytes *sealed)
{
  guint64 counter_be;

  memcpy (&counter_be, g_bytes_get_data (sealed, NULL), sizeof counter_be);
  return GUINT64_FROM_BE (counter_be);
}

/* A run of genuine messages from Bob, some opened under another phase,
 * changed on the way or replayed: each opens exactly when it should.
 * Each record is: flags, plaintext length, plaintext. */
static void
fuzz_sequence (const uint8_t *data, size_t size)
{
  g_autoptr (GBytes) key = fixed_key ();
  g_autoptr (PhSealer) bob = ph_sealer_new (key, BOB_SIDE, ALICE_SIDE);
  g_autoptr (PhSealer) alice = ph_sealer_new (key, ALICE_SIDE, BOB_SIDE);
  g_autoptr (GBytes) previous = NULL;
  g_autoptr (GBytes) previous_plaintext = NULL;
  const char *previous_phase = NULL;
  guint64 highest_opened = 0;
  guint64 sent = 0;

  while (size >= 2)
    {
      guint8 flags = data[0];
      gsize length = MIN (data[1], size - 2);
      const char *open_phase = phases[(flags >> 2) & 3];
      gboolean tamper = (flags & 0x10) != 0;
      g_autoptr (GBytes) plaintext = g_bytes_new (data + 2, length);
      g_autoptr (GBytes) delivered = NULL;
      g_autoptr (GBytes) opened = NULL;
      g_autoptr (GError) error = NULL;
      guint64 counter;

      data += 2 + length;
      size -= 2 + length;

      if ((flags & 0x20) == 0 || previous == NULL)
        {
          g_clear_pointer (&previous, g_bytes_unref);
          g_clear_pointer (&previous_plaintext, g_bytes_unref);
          previous_phase = phases[flags & 3];
          previous = ph_sealer_seal (bob, previous_phase, plaintext);
          previous_plaintext = g_bytes_ref (plaintext);
          g_assert_cmpuint (g_bytes_get_size (previous), ==, length + PH_SEALER_OVERHEAD);
          g_assert_cmpuint (read_counter (previous), ==, ++sent);
        }
      counter = read_counter (previous);

      if (tamper)
        {
          gsize sealed_size;
          guint8 *bytes = g_bytes_unref_to_data (g_bytes_ref (previous), &sealed_size);

          bytes[(flags >> 6) * 13 % sealed_size] ^= 0x80;
          delivered = g_bytes_new_take (bytes, sealed_size);
        }
      else
        {
          delivered = g_bytes_ref (previous);
        }

      opened = ph_sealer_open (alice, open_phase, delivered, &error);

      if (tamper || strcmp (previous_phase, open_phase) != 0)
        {
          g_assert_null (opened);
          g_assert_true (g_error_matches (error, PH_ERROR, PH_ERROR_TAMPERED));
        }
      else if (counter <= highest_opened)
        {
          g_assert_null (opened);
          g_assert_true (g_error_matches (error, PH_ERROR, PH_ERROR_REPLAYED));
        }
      else
        {
          g_assert_no_error (error);
          g_assert_true (g_bytes_equal (opened, previous_plaintext));
          highest_opened = counter;
        }
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;

  switch (data[0] % 3)
    {
    case 0:
      fuzz_open (data + 1, size - 1);
      break;
    case 1:
      fuzz_pake (data + 1, size - 1);
      break;
    default:
      fuzz_sequence (data + 1, size - 1);
      break;
    }
  return 0;
}
