/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-ratchet"

#include "config.h"

#include <string.h>

#include "ph-identity.h"
#include "ph-ratchet-store.h"
#include "ph-ratchet.h"
#include "ph-test-files.h"

/* Sealed copies between two profiles, Alice and Bob, each with its own
 * folder, identity and ratchet.db: what the contact who was offline
 * fetches later must open once, in any order, and never again; and what
 * someone who steals a profile afterwards finds must not open what was
 * sent before. */

typedef struct
{
  char *dir;
  PhIdentity *identity;
  PhRatchet *ratchet;
} Profile;

typedef struct
{
  Profile alice;
  Profile bob;
} Fixture;

static void
profile_open (Profile *profile)
{
  g_autoptr (GError) error = NULL;

  g_clear_object (&profile->ratchet);
  profile->ratchet = ph_ratchet_new (profile->dir, profile->identity, &error);
  g_assert_no_error (error);
  g_assert_nonnull (profile->ratchet);
}

static void
profile_set_up (Profile *profile, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *template = g_strdup_printf ("pinhole-ratchet-%s-XXXXXX", name);

  profile->dir = g_dir_make_tmp (template, &error);
  g_assert_no_error (error);
  profile->identity = ph_identity_load_or_create (profile->dir, &error);
  g_assert_no_error (error);
  profile_open (profile);
}

static void
profile_tear_down (Profile *profile)
{
  g_clear_object (&profile->ratchet);
  g_clear_object (&profile->identity);
  ph_test_remove_tree (profile->dir);
  g_free (profile->dir);
}

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  profile_set_up (&fixture->alice, "alice");
  profile_set_up (&fixture->bob, "bob");
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  profile_tear_down (&fixture->alice);
  profile_tear_down (&fixture->bob);
}

/* @from starts its session with @to from @to's bundle, pinning @to's key;
 * the contact ids are the other's name. */
static void
start_session (Profile *from, const char *to_id, Profile *to)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bundle = ph_ratchet_make_bundle (to->ratchet, &error);

  g_assert_no_error (error);
  g_assert_true (ph_ratchet_start_session (from->ratchet, to_id, bundle,
                                           ph_identity_get_public_key (to->identity), &error));
  g_assert_no_error (error);
  g_assert_true (ph_ratchet_has_session (from->ratchet, to_id));
}

/* What saving each other as contacts does: both make a bundle, and both
 * start a session from the other's. */
static void
meet (Fixture *fixture)
{
  start_session (&fixture->alice, "bob", &fixture->bob);
  start_session (&fixture->bob, "alice", &fixture->alice);
}

static GBytes *
seal (Profile *from, const char *to_id, const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) plaintext = g_bytes_new (text, strlen (text));
  GBytes *sealed = ph_ratchet_seal (from->ratchet, to_id, plaintext, &error);

  g_assert_no_error (error);
  g_assert_nonnull (sealed);
  /* Nothing of the text shows in what the server keeps. */
  g_assert_null (g_strstr_len (g_bytes_get_data (sealed, NULL), g_bytes_get_size (sealed), text));
  return sealed;
}

static void
assert_opens_to (Profile *to, const char *from_id, GBytes *sealed, const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) opened = ph_ratchet_open (to->ratchet, from_id, sealed, &error);

  g_assert_no_error (error);
  g_assert_nonnull (opened);
  g_assert_cmpmem (g_bytes_get_data (opened, NULL), g_bytes_get_size (opened), text, strlen (text));
}

static void
assert_refused (Profile *to, const char *from_id, GBytes *sealed, int code)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) opened = ph_ratchet_open (to->ratchet, from_id, sealed, &error);

  g_assert_null (opened);
  g_assert_error (error, PH_RATCHET_ERROR, code);
  g_test_message ("refused: %s", error->message);
}

/* Alice writes while Bob is away; Bob opens the copies later, in any
 * order, and answers; Alice opens the answer, and so on. */
static void
test_both_ways (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GBytes) first = NULL;
  g_autoptr (GBytes) second = NULL;
  g_autoptr (GBytes) third = NULL;
  g_autoptr (GBytes) answer = NULL;
  g_autoptr (GBytes) again = NULL;

  meet (fixture);
  first = seal (&fixture->alice, "bob", "are you there?");
  second = seal (&fixture->alice, "bob", "I'll be late");
  third = seal (&fixture->alice, "bob", "see you at eight");
  g_assert_false (g_bytes_equal (first, second));

  /* The first copy sets up Bob's side of the session. */
  assert_opens_to (&fixture->bob, "alice", first, "are you there?");
  assert_opens_to (&fixture->bob, "alice", third, "see you at eight");
  assert_opens_to (&fixture->bob, "alice", second, "I'll be late");

  answer = seal (&fixture->bob, "alice", "fine, eight it is");
  assert_opens_to (&fixture->alice, "bob", answer, "fine, eight it is");
  again = seal (&fixture->alice, "bob", "great");
  assert_opens_to (&fixture->bob, "alice", again, "great");
}

/* A copy that came by both paths opens once; the second is a duplicate
 * to drop, and the session goes on. */
static void
test_duplicate_dropped (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GBytes) sealed = NULL;
  g_autoptr (GBytes) next = NULL;

  meet (fixture);
  sealed = seal (&fixture->alice, "bob", "once");
  assert_opens_to (&fixture->bob, "alice", sealed, "once");
  assert_refused (&fixture->bob, "alice", sealed, PH_RATCHET_ERROR_DUPLICATE);
  next = seal (&fixture->alice, "bob", "twice");
  assert_opens_to (&fixture->bob, "alice", next, "twice");
}

/* Once the session is answered, every copy is a whole authenticated
 * message: a changed byte anywhere, a cut or a stranger's bytes are
 * refused, and the session still opens the real copy afterwards. (The
 * first copies, before an answer, carry libsignal's registration id
 * outside the MAC; it names no key.) */
static void
test_tampered_refused (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GBytes) hello = NULL;
  g_autoptr (GBytes) answer = NULL;
  g_autoptr (GBytes) sealed = NULL;
  const guint8 *bytes;
  gsize size;

  meet (fixture);
  hello = seal (&fixture->alice, "bob", "hello");
  assert_opens_to (&fixture->bob, "alice", hello, "hello");
  answer = seal (&fixture->bob, "alice", "hello back");
  assert_opens_to (&fixture->alice, "bob", answer, "hello back");
  sealed = seal (&fixture->alice, "bob", "the real one");
  bytes = g_bytes_get_data (sealed, &size);

  for (gsize at = 0; at < size; at++)
    {
      g_autofree guint8 *copy = g_memdup2 (bytes, size);
      g_autoptr (GBytes) changed = NULL;
      g_autoptr (GError) error = NULL;
      g_autoptr (GBytes) opened = NULL;

      copy[at] ^= 0x40;
      changed = g_bytes_new (copy, size);
      opened = ph_ratchet_open (fixture->bob.ratchet, "alice", changed, &error);
      g_assert_null (opened);
      g_assert_nonnull (error);
      g_assert_true (error->domain == PH_RATCHET_ERROR);
    }
  {
    g_autoptr (GBytes) cut = g_bytes_new (bytes, size / 2);
    g_autoptr (GBytes) noise = g_bytes_new_static ("not a sealed message at all", 27);
    g_autoptr (GBytes) empty = g_bytes_new_static ("", 0);

    assert_refused (&fixture->bob, "alice", cut, PH_RATCHET_ERROR_INVALID);
    assert_refused (&fixture->bob, "alice", noise, PH_RATCHET_ERROR_INVALID);
    assert_refused (&fixture->bob, "alice", empty, PH_RATCHET_ERROR_INVALID);
  }
  assert_opens_to (&fixture->bob, "alice", sealed, "the real one");
}

/* Sessions are on disk: both profiles closed and opened again carry on. */
static void
test_survives_restart (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GBytes) before = NULL;
  g_autoptr (GBytes) after = NULL;
  g_autoptr (GBytes) answer = NULL;

  meet (fixture);
  before = seal (&fixture->alice, "bob", "before the restart");
  profile_open (&fixture->alice);
  after = seal (&fixture->alice, "bob", "after the restart");
  profile_open (&fixture->bob);
  assert_opens_to (&fixture->bob, "alice", after, "after the restart");
  profile_open (&fixture->bob);
  assert_opens_to (&fixture->bob, "alice", before, "before the restart");
  answer = seal (&fixture->bob, "alice", "both here");
  profile_open (&fixture->alice);
  assert_opens_to (&fixture->alice, "bob", answer, "both here");
}

/* A bundle that is not of the pinned identity is refused: someone in the
 * middle cannot slip in a session of their own. */
static void
test_other_identity_refused (Fixture *fixture, gconstpointer data)
{
  Profile mallory = { 0 };
  g_autoptr (GBytes) bundle = NULL;
  g_autoptr (GError) error = NULL;

  profile_set_up (&mallory, "mallory");
  bundle = ph_ratchet_make_bundle (mallory.ratchet, &error);
  g_assert_no_error (error);
  g_assert_false (ph_ratchet_start_session (fixture->alice.ratchet, "bob", bundle,
                                            ph_identity_get_public_key (fixture->bob.identity),
                                            &error));
  g_assert_error (error, PH_RATCHET_ERROR, PH_RATCHET_ERROR_IDENTITY_CHANGED);
  g_assert_false (ph_ratchet_has_session (fixture->alice.ratchet, "bob"));
  profile_tear_down (&mallory);

  /* The real bundle still works. */
  start_session (&fixture->alice, "bob", &fixture->bob);
}

/* Someone who takes Bob's profile folder after he read his copies finds
 * nothing there that opens them: each message's key is gone once used,
 * and the ratchet has moved on. */
static void
test_forward_secrecy (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GBytes) captured = NULL;
  g_autoptr (GBytes) reply = NULL;
  g_autoptr (GBytes) later = NULL;
  Profile thief = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) opened = NULL;

  meet (fixture);
  /* What a server (or anyone on the way) keeps. */
  captured = seal (&fixture->alice, "bob", "the secret plan");
  assert_opens_to (&fixture->bob, "alice", captured, "the secret plan");
  reply = seal (&fixture->bob, "alice", "got it");
  assert_opens_to (&fixture->alice, "bob", reply, "got it");
  later = seal (&fixture->alice, "bob", "next step");
  assert_opens_to (&fixture->bob, "alice", later, "next step");

  /* A copy of Bob's whole profile as it is now: identity and ratchet.db. */
  g_clear_object (&fixture->bob.ratchet);
  thief.dir = g_dir_make_tmp ("pinhole-ratchet-thief-XXXXXX", &error);
  g_assert_no_error (error);
  ph_test_copy_tree (fixture->bob.dir, thief.dir);
  thief.identity = ph_identity_load (thief.dir, &error);
  g_assert_no_error (error);
  profile_open (&thief);

  opened = ph_ratchet_open (thief.ratchet, "alice", captured, &error);
  g_assert_null (opened);
  g_assert_nonnull (error);
  g_test_message ("the stolen profile cannot open the captured copy: %s", error->message);
  profile_tear_down (&thief);
  profile_open (&fixture->bob);
}

/* A contact forgotten: their copies no longer open, and there is no
 * session to seal with. */
static void
test_forget_contact (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GBytes) sealed = NULL;
  g_autoptr (GBytes) plaintext = g_bytes_new_static ("hello?", 6);
  g_autoptr (GBytes) refused = NULL;
  g_autoptr (GError) error = NULL;

  meet (fixture);
  sealed = seal (&fixture->alice, "bob", "first");
  assert_opens_to (&fixture->bob, "alice", sealed, "first");

  g_assert_true (ph_ratchet_forget_contact (fixture->alice.ratchet, "bob", &error));
  g_assert_no_error (error);
  g_assert_false (ph_ratchet_has_session (fixture->alice.ratchet, "bob"));
  refused = ph_ratchet_seal (fixture->alice.ratchet, "bob", plaintext, &error);
  g_assert_null (refused);
  g_assert_error (error, PH_RATCHET_ERROR, PH_RATCHET_ERROR_NO_SESSION);
}

/* Both seal before either has opened anything: whichever session wins,
 * every copy either sealed opens on the other side. */
static void
test_both_start (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GBytes) from_alice = NULL;
  g_autoptr (GBytes) from_bob = NULL;
  g_autoptr (GBytes) then_alice = NULL;
  g_autoptr (GBytes) then_bob = NULL;

  meet (fixture);
  from_alice = seal (&fixture->alice, "bob", "hi from Alice");
  from_bob = seal (&fixture->bob, "alice", "hi from Bob");
  assert_opens_to (&fixture->bob, "alice", from_alice, "hi from Alice");
  assert_opens_to (&fixture->alice, "bob", from_bob, "hi from Bob");
  then_alice = seal (&fixture->alice, "bob", "again from Alice");
  then_bob = seal (&fixture->bob, "alice", "again from Bob");
  assert_opens_to (&fixture->bob, "alice", then_alice, "again from Alice");
  assert_opens_to (&fixture->alice, "bob", then_bob, "again from Bob");
}

/* A ratchet.db that is not one (damaged on disk, or another program's
 * file) is refused with a sentence that says what to do, and left as it
 * was: nothing in it is lost. */
static void
test_damaged_store_refused (Fixture *fixture, gconstpointer data)
{
  static const char garbage[] = "SQLite format 3\0 but only in its first bytes, then nothing";
  g_autofree char *path = g_build_filename (fixture->alice.dir, PH_RATCHET_STORE_FILE, NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *after = NULL;
  gsize length;

  g_clear_object (&fixture->alice.ratchet);
  g_assert_true (g_file_set_contents_full (path, garbage, sizeof garbage,
                                           G_FILE_SET_CONTENTS_CONSISTENT, 0600, NULL));
  g_assert_null (ph_ratchet_new (fixture->alice.dir, fixture->alice.identity, &error));
  g_assert_error (error, PH_RATCHET_ERROR, PH_RATCHET_ERROR_DAMAGED);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_nonnull (strstr (error->message, "Move the file away"));
  g_assert_true (g_file_get_contents (path, &after, &length, NULL));
  g_assert_cmpmem (after, length, garbage, sizeof garbage);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/ratchet/both-ways", Fixture, NULL, fixture_set_up, test_both_ways,
              fixture_tear_down);
  g_test_add ("/ratchet/survives-restart", Fixture, NULL, fixture_set_up, test_survives_restart,
              fixture_tear_down);
  g_test_add ("/ratchet/forget-contact", Fixture, NULL, fixture_set_up, test_forget_contact,
              fixture_tear_down);
  g_test_add ("/ratchet/both-start", Fixture, NULL, fixture_set_up, test_both_start,
              fixture_tear_down);
  g_test_add ("/security/ratchet/duplicate-dropped", Fixture, NULL, fixture_set_up,
              test_duplicate_dropped, fixture_tear_down);
  g_test_add ("/security/ratchet/tampered-refused", Fixture, NULL, fixture_set_up,
              test_tampered_refused, fixture_tear_down);
  g_test_add ("/security/ratchet/other-identity-refused", Fixture, NULL, fixture_set_up,
              test_other_identity_refused, fixture_tear_down);
  g_test_add ("/ratchet/damaged-store-refused", Fixture, NULL, fixture_set_up,
              test_damaged_store_refused, fixture_tear_down);
  g_test_add ("/security/ratchet/forward-secrecy", Fixture, NULL, fixture_set_up,
              test_forward_secrecy, fixture_tear_down);

  return g_test_run ();
}
