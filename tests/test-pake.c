/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-pake"

#include "config.h"

#include <string.h>

#include <sodium.h>

#include "ph-error.h"
#include "ph-pake.h"
#include "ph-sealer.h"

#define ALICE_SIDE "0123456789abcdef"
#define BOB_SIDE "fedcba9876543210"

/* Known answers, computed once with the Pinhole 1 wire format. */
#define PAKE_ALICE_MESSAGE "1ae4d8c94813407cd257a475e19a166fb180204071c70fd2a10c95791472a441"
#define PAKE_BOB_MESSAGE "f462778a9327b4466dae2556b48281bddc5abaf1eb9074a6870a2e7bbc0b3800"
#define PAKE_ALICE_CONFIRMATION "5c75f78d2ef6a21bfed3c0a66e15593e8a46845e44b52f4aecaea8d823127b74"
#define PAKE_BOB_CONFIRMATION "ced04492cc1b3d3d83656dd9dce11553355ce74ff835bb85025496dfe817a9f9"
#define PAKE_SESSION_KEY "21aae8b25d2e6308c4fb64b8a1554df155ac5ed71692547134351cd403a22a5d"
#define SEALER_SESSION_KEY "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
/* Alice's first and second message in phase "desc": "v=0\r\n" and "". */
#define SEALER_FIRST                                                                               \
  "000000000000000156598d2be2dbea44275e8e3c5e23381967dc986aae120360298189eb2f484e42834d8d114e8565" \
  "03349b421ef0"
#define SEALER_SECOND                                                                              \
  "00000000000000027cc063a4811fd45c7e0a0262a7654ddd218ce91ab50d3872fa0b010689f3f3ecfd5d3ae7f52354" \
  "f4"

/* Known-answer vectors need the same random bytes on every run. libsodium
 * lets a program choose its random source before sodium_init(), so the
 * test installs one that replays a fixed stream while a vector is computed
 * and draws from the system otherwise; nothing of this ships. */
static gboolean replay_fixed_randomness;
static guint64 replay_counter;

static void
test_random_buf (void *buf, const size_t size)
{
  static const guint8 seed_key[crypto_generichash_KEYBYTES] = "pinhole known-answer seed";
  guint8 seed[randombytes_SEEDBYTES];
  guint8 counter[8];

  if (!replay_fixed_randomness)
    {
      randombytes_sysrandom_implementation.buf (buf, size);
      return;
    }

  /* Each draw gets its own seed from a counter: the stream is the same on
   * every run as long as the code draws in the same order. */
  for (guint i = 0; i < sizeof counter; i++)
    counter[i] = (replay_counter >> (8 * i)) & 0xff;
  replay_counter++;
  crypto_generichash (seed, sizeof seed, counter, sizeof counter, seed_key, sizeof seed_key);
  randombytes_buf_deterministic (buf, size, seed);
}

static uint32_t
test_random (void)
{
  uint32_t value;

  test_random_buf (&value, sizeof value);
  return value;
}

static const char *
test_random_name (void)
{
  return "pinhole-test";
}

static void
test_random_stir (void)
{
  randombytes_sysrandom_implementation.stir ();
}

static struct randombytes_implementation test_randomness = {
  .implementation_name = test_random_name,
  .random = test_random,
  .stir = test_random_stir,
  .buf = test_random_buf,
};

static void
begin_fixed_randomness (void)
{
  replay_fixed_randomness = TRUE;
  replay_counter = 0;
}

static void
end_fixed_randomness (void)
{
  replay_fixed_randomness = FALSE;
}

static void
assert_bytes_hex (GBytes *bytes, const char *expected_hex)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  g_autoptr (GString) hex = g_string_new (NULL);

  for (gsize i = 0; i < size; i++)
    g_string_append_printf (hex, "%02x", data[i]);
  g_assert_cmpstr (hex->str, ==, expected_hex);
}

static GBytes *
bytes_from_hex (const char *hex)
{
  gsize length = strlen (hex) / 2;
  guint8 *data = g_malloc (length);

  g_assert_cmpuint (strlen (hex) % 2, ==, 0);
  for (gsize i = 0; i < length; i++)
    data[i] = (g_ascii_xdigit_value (hex[2 * i]) << 4) | g_ascii_xdigit_value (hex[2 * i + 1]);
  return g_bytes_new_take (data, length);
}

/* Both sides exchange messages; each finish must succeed. */
static void
exchange (PhPake *alice, PhPake *bob)
{
  g_autoptr (GBytes) alice_message = ph_pake_get_message (alice);
  g_autoptr (GBytes) bob_message = ph_pake_get_message (bob);
  g_autoptr (GError) error = NULL;

  g_assert_cmpuint (g_bytes_get_size (alice_message), ==, PH_PAKE_MESSAGE_SIZE);
  g_assert_cmpuint (g_bytes_get_size (bob_message), ==, PH_PAKE_MESSAGE_SIZE);

  g_assert_true (ph_pake_finish (alice, BOB_SIDE, bob_message, &error));
  g_assert_no_error (error);
  g_assert_true (ph_pake_finish (bob, ALICE_SIDE, alice_message, &error));
  g_assert_no_error (error);
}

static void
assert_confirmation (PhPake *verifier, PhPake *sender, int expected_code)
{
  g_autoptr (GBytes) confirmation = ph_pake_get_confirmation (sender);
  g_autoptr (GError) error = NULL;

  g_assert_cmpuint (g_bytes_get_size (confirmation), ==, PH_PAKE_CONFIRMATION_SIZE);
  if (expected_code < 0)
    {
      g_assert_true (ph_pake_verify_confirmation (verifier, confirmation, &error));
      g_assert_no_error (error);
    }
  else
    {
      g_assert_false (ph_pake_verify_confirmation (verifier, confirmation, &error));
      g_assert_error (error, PH_ERROR, expected_code);
    }
}

/* Fixed scalars in, fixed messages, tags and session key out: a change to
 * the generator, the transcript or the key derivation fails here before it
 * fails between two versions of Pinhole. (The scalars come from the fixed
 * random stream through crypto_core_ristretto255_scalar_random.) */
static void
test_known_answer (void)
{
  g_autoptr (PhPake) alice = NULL;
  g_autoptr (PhPake) bob = NULL;
  g_autoptr (GBytes) alice_message = NULL;
  g_autoptr (GBytes) bob_message = NULL;
  g_autoptr (GBytes) alice_confirmation = NULL;
  g_autoptr (GBytes) bob_confirmation = NULL;
  g_autoptr (GBytes) alice_key = NULL;
  g_autoptr (GBytes) bob_key = NULL;

  begin_fixed_randomness ();
  alice = ph_pake_new ("42-orbit-velvet", "42", ALICE_SIDE);
  bob = ph_pake_new ("42-orbit-velvet", "42", BOB_SIDE);
  end_fixed_randomness ();

  alice_message = ph_pake_get_message (alice);
  bob_message = ph_pake_get_message (bob);
  assert_bytes_hex (alice_message, PAKE_ALICE_MESSAGE);
  assert_bytes_hex (bob_message, PAKE_BOB_MESSAGE);

  exchange (alice, bob);
  alice_confirmation = ph_pake_get_confirmation (alice);
  bob_confirmation = ph_pake_get_confirmation (bob);
  alice_key = ph_pake_get_session_key (alice);
  bob_key = ph_pake_get_session_key (bob);
  assert_bytes_hex (alice_confirmation, PAKE_ALICE_CONFIRMATION);
  assert_bytes_hex (bob_confirmation, PAKE_BOB_CONFIRMATION);
  assert_bytes_hex (alice_key, PAKE_SESSION_KEY);
  assert_bytes_hex (bob_key, PAKE_SESSION_KEY);
}

static void
test_same_code_agrees (void)
{
  PhPake *alice = ph_pake_new ("42-orbit-velvet", "42", ALICE_SIDE);
  PhPake *bob = ph_pake_new ("42-orbit-velvet", "42", BOB_SIDE);
  g_autoptr (GBytes) alice_key = NULL;
  g_autoptr (GBytes) bob_key = NULL;
  g_autoptr (GBytes) alice_confirmation = NULL;
  g_autoptr (GBytes) bob_confirmation = NULL;
  g_autoptr (GBytes) alice_message = ph_pake_get_message (alice);
  g_autoptr (GBytes) bob_message = ph_pake_get_message (bob);

  /* Each side's message is fresh, even for the same code. */
  g_assert_false (g_bytes_equal (alice_message, bob_message));

  exchange (alice, bob);

  alice_key = ph_pake_get_session_key (alice);
  bob_key = ph_pake_get_session_key (bob);
  g_assert_cmpuint (g_bytes_get_size (alice_key), ==, PH_PAKE_KEY_SIZE);
  g_assert_true (g_bytes_equal (alice_key, bob_key));

  assert_confirmation (alice, bob, -1);
  assert_confirmation (bob, alice, -1);

  /* A side's own tag is not the peer's: a reflected tag does not pass. */
  alice_confirmation = ph_pake_get_confirmation (alice);
  bob_confirmation = ph_pake_get_confirmation (bob);
  g_assert_false (g_bytes_equal (alice_confirmation, bob_confirmation));
  assert_confirmation (alice, alice, PH_ERROR_WRONG_CODE);

  g_assert_finalize_object (alice);
  g_assert_finalize_object (bob);
}

static void
test_fresh_keys_each_run (void)
{
  g_autoptr (PhPake) alice1 = ph_pake_new ("42-orbit-velvet", "42", ALICE_SIDE);
  g_autoptr (PhPake) bob1 = ph_pake_new ("42-orbit-velvet", "42", BOB_SIDE);
  g_autoptr (PhPake) alice2 = ph_pake_new ("42-orbit-velvet", "42", ALICE_SIDE);
  g_autoptr (PhPake) bob2 = ph_pake_new ("42-orbit-velvet", "42", BOB_SIDE);
  g_autoptr (GBytes) key1 = NULL;
  g_autoptr (GBytes) key2 = NULL;

  exchange (alice1, bob1);
  exchange (alice2, bob2);
  key1 = ph_pake_get_session_key (alice1);
  key2 = ph_pake_get_session_key (alice2);
  g_assert_false (g_bytes_equal (key1, key2));
}

static void
test_wrong_code (void)
{
  g_autoptr (PhPake) alice = ph_pake_new ("42-orbit-velvet", "42", ALICE_SIDE);
  g_autoptr (PhPake) bob = ph_pake_new ("42-orbit-velvex", "42", BOB_SIDE);
  g_autoptr (GBytes) alice_key = NULL;
  g_autoptr (GBytes) bob_key = NULL;

  /* The exchange itself gives nothing away; only confirmation fails. */
  exchange (alice, bob);

  assert_confirmation (alice, bob, PH_ERROR_WRONG_CODE);
  assert_confirmation (bob, alice, PH_ERROR_WRONG_CODE);

  alice_key = ph_pake_get_session_key (alice);
  bob_key = ph_pake_get_session_key (bob);
  g_assert_false (g_bytes_equal (alice_key, bob_key));
}

static void
test_different_nameplate (void)
{
  g_autoptr (PhPake) alice = ph_pake_new ("42-orbit-velvet", "42", ALICE_SIDE);
  g_autoptr (PhPake) bob = ph_pake_new ("42-orbit-velvet", "43", BOB_SIDE);

  exchange (alice, bob);

  assert_confirmation (alice, bob, PH_ERROR_WRONG_CODE);
  assert_confirmation (bob, alice, PH_ERROR_WRONG_CODE);
}

static void
test_wrong_confirmation_size (void)
{
  g_autoptr (PhPake) alice = ph_pake_new ("42-orbit-velvet", "42", ALICE_SIDE);
  g_autoptr (PhPake) bob = ph_pake_new ("42-orbit-velvet", "42", BOB_SIDE);
  g_autoptr (GBytes) tag = NULL;
  g_autoptr (GBytes) short_tag = NULL;
  g_autoptr (GError) error = NULL;

  exchange (alice, bob);
  tag = ph_pake_get_confirmation (bob);
  short_tag = g_bytes_new_from_bytes (tag, 0, PH_PAKE_CONFIRMATION_SIZE - 1);

  g_assert_false (ph_pake_verify_confirmation (alice, short_tag, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_PROTOCOL);
}

static void
assert_rejected (PhPake *pake, const char *peer_side, GBytes *message)
{
  g_autoptr (GError) error = NULL;

  g_assert_false (ph_pake_finish (pake, peer_side, message, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_PROTOCOL);
}

static void
test_invalid_peer_messages (void)
{
  g_autoptr (PhPake) alice = ph_pake_new ("42-orbit-velvet", "42", ALICE_SIDE);
  g_autoptr (PhPake) bob = ph_pake_new ("42-orbit-velvet", "42", BOB_SIDE);
  g_autoptr (GBytes) own = ph_pake_get_message (alice);
  g_autoptr (GBytes) honest = ph_pake_get_message (bob);
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr (GBytes) short_message = g_bytes_new_from_bytes (honest, 0, PH_PAKE_MESSAGE_SIZE - 1);
  guint8 buffer[PH_PAKE_MESSAGE_SIZE + 1] = { 0 };
  g_autoptr (GBytes) long_message = NULL;
  g_autoptr (GBytes) identity = NULL;
  g_autoptr (GBytes) odd = NULL;
  g_autoptr (GBytes) too_big = NULL;
  g_autoptr (GError) error = NULL;

  memcpy (buffer, g_bytes_get_data (honest, NULL), PH_PAKE_MESSAGE_SIZE);
  long_message = g_bytes_new (buffer, sizeof buffer);

  /* All zeros encodes the identity: a valid encoding, but it would make
   * the shared secret known to everyone. */
  memset (buffer, 0, sizeof buffer);
  identity = g_bytes_new (buffer, PH_PAKE_MESSAGE_SIZE);

  /* ristretto255 refuses odd ("negative") field elements... */
  buffer[0] = 1;
  g_assert_false (crypto_core_ristretto255_is_valid_point (buffer));
  odd = g_bytes_new (buffer, PH_PAKE_MESSAGE_SIZE);

  /* ...and field elements that are not reduced. */
  memset (buffer, 0xff, sizeof buffer);
  buffer[0] = 0xfe;
  buffer[PH_PAKE_MESSAGE_SIZE - 1] = 0x7f;
  g_assert_false (crypto_core_ristretto255_is_valid_point (buffer));
  too_big = g_bytes_new (buffer, PH_PAKE_MESSAGE_SIZE);

  assert_rejected (alice, BOB_SIDE, empty);
  assert_rejected (alice, BOB_SIDE, short_message);
  assert_rejected (alice, BOB_SIDE, long_message);
  assert_rejected (alice, BOB_SIDE, identity);
  assert_rejected (alice, BOB_SIDE, odd);
  assert_rejected (alice, BOB_SIDE, too_big);
  assert_rejected (alice, BOB_SIDE, own);
  /* A peer that claims our own side id would make the transcript order
   * ambiguous. */
  assert_rejected (alice, ALICE_SIDE, honest);

  /* None of that spoiled the exchange with the real peer. */
  g_assert_true (ph_pake_finish (alice, BOB_SIDE, honest, &error));
  g_assert_no_error (error);
  g_assert_true (ph_pake_finish (bob, ALICE_SIDE, own, &error));
  g_assert_no_error (error);
  assert_confirmation (alice, bob, -1);
  assert_confirmation (bob, alice, -1);
}

typedef struct
{
  PhSealer *alice;
  PhSealer *bob;
} SealerFixture;

static void
sealer_fixture_set_up (SealerFixture *fixture, gconstpointer user_data)
{
  g_autoptr (PhPake) alice = ph_pake_new ("7-acorn-zipper", "7", ALICE_SIDE);
  g_autoptr (PhPake) bob = ph_pake_new ("7-acorn-zipper", "7", BOB_SIDE);

  exchange (alice, bob);
  fixture->alice = ph_pake_create_sealer (alice);
  fixture->bob = ph_pake_create_sealer (bob);
}

static void
sealer_fixture_tear_down (SealerFixture *fixture, gconstpointer user_data)
{
  g_assert_finalize_object (fixture->alice);
  g_assert_finalize_object (fixture->bob);
}

static GBytes *
bytes_from_string (const char *text)
{
  return g_bytes_new (text, strlen (text));
}

static gboolean
contains_text (GBytes *bytes, const char *text)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  gsize length = strlen (text);

  for (gsize i = 0; i + length <= size; i++)
    {
      if (memcmp (data + i, text, length) == 0)
        return TRUE;
    }
  return FALSE;
}

static void
assert_opens_to (PhSealer *sealer, const char *phase, GBytes *sealed, GBytes *expected)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) opened = ph_sealer_open (sealer, phase, sealed, &error);

  g_assert_no_error (error);
  g_assert_nonnull (opened);
  g_assert_true (g_bytes_equal (opened, expected));
}

static void
assert_open_fails (PhSealer *sealer, const char *phase, GBytes *sealed, int expected_code)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) opened = ph_sealer_open (sealer, phase, sealed, &error);

  g_assert_null (opened);
  g_assert_error (error, PH_ERROR, expected_code);
}

static void
test_sealer_round_trip (SealerFixture *fixture, gconstpointer user_data)
{
  g_autoptr (GBytes) hello = bytes_from_string ("v=0\r\ns=pinhole\r\n");
  g_autoptr (GBytes) reply = bytes_from_string ("a=candidate:1 1 UDP 2015363327 10.1.0.2 39989");
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr (GBytes) sealed_hello = ph_sealer_seal (fixture->alice, "desc", hello);
  g_autoptr (GBytes) sealed_again = ph_sealer_seal (fixture->alice, "desc", hello);
  g_autoptr (GBytes) sealed_empty = ph_sealer_seal (fixture->alice, "bye", empty);
  g_autoptr (GBytes) sealed_reply = ph_sealer_seal (fixture->bob, "cand", reply);

  g_assert_cmpuint (g_bytes_get_size (sealed_hello), ==,
                    g_bytes_get_size (hello) + PH_SEALER_OVERHEAD);
  g_assert_cmpuint (g_bytes_get_size (sealed_empty), ==, PH_SEALER_OVERHEAD);
  /* The plaintext is not visible on the wire, and the same plaintext
   * sealed twice looks different. */
  g_assert_false (contains_text (sealed_hello, "pinhole"));
  g_assert_false (g_bytes_equal (sealed_hello, sealed_again));

  assert_opens_to (fixture->bob, "desc", sealed_hello, hello);
  assert_opens_to (fixture->bob, "desc", sealed_again, hello);
  assert_opens_to (fixture->bob, "bye", sealed_empty, empty);
  assert_opens_to (fixture->alice, "cand", sealed_reply, reply);
}

static void
test_sealer_largest_message (SealerFixture *fixture, gconstpointer user_data)
{
  g_autofree guint8 *data = g_malloc (PH_SEALER_MAX_PLAINTEXT);
  g_autoptr (GBytes) largest = NULL;
  g_autoptr (GBytes) sealed = NULL;

  memset (data, 'x', PH_SEALER_MAX_PLAINTEXT);
  largest = g_bytes_new (data, PH_SEALER_MAX_PLAINTEXT);
  sealed = ph_sealer_seal (fixture->alice, "desc", largest);
  assert_opens_to (fixture->bob, "desc", sealed, largest);
}

static void
test_sealer_refuses_too_large (SealerFixture *fixture, gconstpointer user_data)
{
  g_autofree guint8 *data = g_malloc0 (PH_SEALER_MAX_PLAINTEXT + PH_SEALER_OVERHEAD + 1);
  g_autoptr (GBytes) too_large_plaintext = g_bytes_new (data, PH_SEALER_MAX_PLAINTEXT + 1);
  g_autoptr (GBytes) too_large_sealed
      = g_bytes_new (data, PH_SEALER_MAX_PLAINTEXT + PH_SEALER_OVERHEAD + 1);
  g_autoptr (GBytes) sealed = NULL;

  g_test_expect_message ("ph-sealer", G_LOG_LEVEL_CRITICAL, "*PH_SEALER_MAX_PLAINTEXT*");
  sealed = ph_sealer_seal (fixture->alice, "desc", too_large_plaintext);
  g_test_assert_expected_messages ();
  g_assert_null (sealed);

  assert_open_fails (fixture->bob, "desc", too_large_sealed, PH_ERROR_TOO_LARGE);
}

static void
test_sealer_tampering (SealerFixture *fixture, gconstpointer user_data)
{
  g_autoptr (GBytes) plaintext = bytes_from_string ("a=fingerprint:sha-256 3A:9C");
  g_autoptr (GBytes) sealed = ph_sealer_seal (fixture->alice, "desc", plaintext);
  gsize size = g_bytes_get_size (sealed);
  g_autofree guint8 *copy = g_memdup2 (g_bytes_get_data (sealed, NULL), size);

  /* One flipped bit anywhere: counter, nonce, ciphertext or tag. */
  for (gsize i = 0; i < size; i++)
    {
      g_autoptr (GBytes) tampered = NULL;

      copy[i] ^= 0x01;
      tampered = g_bytes_new (copy, size);
      copy[i] ^= 0x01;
      assert_open_fails (fixture->bob, "desc", tampered, PH_ERROR_TAMPERED);
    }

  /* Cut short anywhere, including below the fixed overhead. */
  for (gsize length = 0; length < size; length++)
    {
      g_autoptr (GBytes) truncated = g_bytes_new_from_bytes (sealed, 0, length);

      assert_open_fails (fixture->bob, "desc", truncated, PH_ERROR_TAMPERED);
    }

  /* Moved to another phase. */
  assert_open_fails (fixture->bob, "cand", sealed, PH_ERROR_TAMPERED);

  /* Failed attempts did not use up the real message. */
  assert_opens_to (fixture->bob, "desc", sealed, plaintext);
}

static void
test_sealer_replay (SealerFixture *fixture, gconstpointer user_data)
{
  g_autoptr (GBytes) first = bytes_from_string ("first");
  g_autoptr (GBytes) second = bytes_from_string ("second");
  g_autoptr (GBytes) third = bytes_from_string ("third");
  g_autoptr (GBytes) sealed_first = ph_sealer_seal (fixture->alice, "cand", first);
  g_autoptr (GBytes) sealed_second = ph_sealer_seal (fixture->alice, "cand", second);
  g_autoptr (GBytes) sealed_third = ph_sealer_seal (fixture->alice, "cand", third);

  assert_opens_to (fixture->bob, "cand", sealed_first, first);
  assert_open_fails (fixture->bob, "cand", sealed_first, PH_ERROR_REPLAYED);

  /* Reordered: once the third is in, the second is stale. */
  assert_opens_to (fixture->bob, "cand", sealed_third, third);
  assert_open_fails (fixture->bob, "cand", sealed_second, PH_ERROR_REPLAYED);
}

static void
test_sealer_no_reflection (SealerFixture *fixture, gconstpointer user_data)
{
  g_autoptr (GBytes) plaintext = bytes_from_string ("v=0");
  g_autoptr (GBytes) sealed = ph_sealer_seal (fixture->alice, "desc", plaintext);

  /* Sent back to its sender, a message does not open. */
  assert_open_fails (fixture->alice, "desc", sealed, PH_ERROR_TAMPERED);
  assert_opens_to (fixture->bob, "desc", sealed, plaintext);
}

static void
test_sealer_other_session (SealerFixture *fixture, gconstpointer user_data)
{
  g_autoptr (PhPake) alice = ph_pake_new ("7-acorn-zipper", "7", ALICE_SIDE);
  g_autoptr (PhPake) bob = ph_pake_new ("7-acorn-zipper", "7", BOB_SIDE);
  g_autoptr (PhSealer) other_bob = NULL;
  g_autoptr (GBytes) plaintext = bytes_from_string ("v=0");
  g_autoptr (GBytes) sealed = ph_sealer_seal (fixture->alice, "desc", plaintext);

  /* Same code, same sides, but a new exchange: a new key. */
  exchange (alice, bob);
  other_bob = ph_pake_create_sealer (bob);
  assert_open_fails (other_bob, "desc", sealed, PH_ERROR_TAMPERED);
}

/* A fixed key and nonce give fixed bytes; the fixed bytes open to the
 * plaintext for the other side, whatever this build's randomness. */
static void
test_sealer_known_answer (void)
{
  g_autoptr (GBytes) session_key = bytes_from_hex (SEALER_SESSION_KEY);
  g_autoptr (PhSealer) alice = ph_sealer_new (session_key, ALICE_SIDE, BOB_SIDE);
  g_autoptr (PhSealer) bob = ph_sealer_new (session_key, BOB_SIDE, ALICE_SIDE);
  g_autoptr (GBytes) first = bytes_from_string ("v=0\r\n");
  g_autoptr (GBytes) second = g_bytes_new (NULL, 0);
  g_autoptr (GBytes) sealed_first = NULL;
  g_autoptr (GBytes) sealed_second = NULL;
  g_autoptr (GBytes) vector_first = bytes_from_hex (SEALER_FIRST);
  g_autoptr (GBytes) vector_second = bytes_from_hex (SEALER_SECOND);

  begin_fixed_randomness ();
  sealed_first = ph_sealer_seal (alice, "desc", first);
  sealed_second = ph_sealer_seal (alice, "desc", second);
  end_fixed_randomness ();
  assert_bytes_hex (sealed_first, SEALER_FIRST);
  assert_bytes_hex (sealed_second, SEALER_SECOND);

  assert_opens_to (bob, "desc", vector_first, first);
  assert_opens_to (bob, "desc", vector_second, second);
}

int
main (int argc, char *argv[])
{
  /* Before anything calls sodium_init(). */
  if (randombytes_set_implementation (&test_randomness) != 0)
    g_error ("The test's random source could not be installed");
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/pake/same-code-agrees", test_same_code_agrees);
  g_test_add_func ("/pake/fresh-keys-each-run", test_fresh_keys_each_run);
  g_test_add_func ("/pake/wrong-code", test_wrong_code);
  g_test_add_func ("/pake/different-nameplate", test_different_nameplate);
  g_test_add_func ("/pake/wrong-confirmation-size", test_wrong_confirmation_size);
  g_test_add_func ("/pake/invalid-peer-messages", test_invalid_peer_messages);
  g_test_add_func ("/pake/known-answer", test_known_answer);
  g_test_add_func ("/sealer/known-answer", test_sealer_known_answer);

#define ADD_SEALER_TEST(path, func)                                                                \
  g_test_add (path, SealerFixture, NULL, sealer_fixture_set_up, func, sealer_fixture_tear_down)
  ADD_SEALER_TEST ("/sealer/round-trip", test_sealer_round_trip);
  ADD_SEALER_TEST ("/sealer/largest-message", test_sealer_largest_message);
  ADD_SEALER_TEST ("/sealer/refuses-too-large", test_sealer_refuses_too_large);
  ADD_SEALER_TEST ("/sealer/tampering", test_sealer_tampering);
  ADD_SEALER_TEST ("/sealer/replay", test_sealer_replay);
  ADD_SEALER_TEST ("/sealer/no-reflection", test_sealer_no_reflection);
  ADD_SEALER_TEST ("/sealer/other-session", test_sealer_other_session);
#undef ADD_SEALER_TEST

  return g_test_run ();
}
