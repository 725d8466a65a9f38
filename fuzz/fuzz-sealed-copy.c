/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-fuzz-sealed-copy"

#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include <glib/gstdio.h>

#include "ph-contact.h"
#include "ph-frame.h"
#include "ph-identity.h"
#include "ph-ratchet.h"

/* What a rendezvous server can hand Bob as a stored copy from Alice, his
 * contact: it opens only if Alice sealed it, and what opens goes through
 * the same parse as in ph-sealed-mail.c. */

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

typedef struct
{
  char *dir;
  PhIdentity *identity;
  PhRatchet *ratchet;
  char *contact_id; /* the id the other profile knows this one by */
} Profile;

/* Made once: profiles on disk and an X3DH per input would drown the
 * parser's work. Only a copy this Alice sealed could move Bob's ratchet
 * on, and the fuzzer has none, so every input meets the same state. */
static Profile alice;
static Profile bob;

static void
profile_set_up (Profile *profile, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *template = g_strdup_printf ("pinhole-fuzz-%s-XXXXXX", name);

  profile->dir = g_dir_make_tmp (template, &error);
  g_assert_no_error (error);
  profile->identity = ph_identity_load_or_create (profile->dir, &error);
  g_assert_no_error (error);
  profile->ratchet = ph_ratchet_new (profile->dir, profile->identity, &error);
  g_assert_no_error (error);
  profile->contact_id
      = ph_contact_id_for_public_key (ph_identity_get_public_key (profile->identity));
}

/* The folders hold nothing but files (the key and ratchet.db), so one
 * level is enough; a fuzz run must not leave profiles behind in /tmp. */
static void
profile_remove (Profile *profile)
{
  g_autoptr (GDir) dir = g_dir_open (profile->dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (profile->dir, name, NULL);

      g_remove (path);
    }
  g_rmdir (profile->dir);
}

static void
remove_profiles (void)
{
  profile_remove (&alice);
  profile_remove (&bob);
}

/* @from starts its session with @to from @to's bundle, pinning @to's key. */
static void
start_session (Profile *from, Profile *to)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bundle = ph_ratchet_make_bundle (to->ratchet, &error);

  g_assert_no_error (error);
  g_assert_true (ph_ratchet_start_session (from->ratchet, to->contact_id, bundle,
                                           ph_identity_get_public_key (to->identity), &error));
  g_assert_no_error (error);
}

/* Two contacts who saved each other: both sides start a session. */
static void
meet (void)
{
  profile_set_up (&alice, "alice");
  profile_set_up (&bob, "bob");
  atexit (remove_profiles);
  start_session (&alice, &bob);
  start_session (&bob, &alice);
}

/* As open_copy() reads a plaintext: a whole frame, length prefix first. */
static void
parse_copy (GBytes *plaintext)
{
  g_autoptr (PhFrame) frame = NULL;
  g_autoptr (GError) error = NULL;
  const char *data;
  gsize size;

  data = g_bytes_get_data (plaintext, &size);
  if (size <= PH_FRAME_LENGTH_PREFIX_SIZE)
    return;
  frame = ph_frame_parse (data + PH_FRAME_LENGTH_PREFIX_SIZE, size - PH_FRAME_LENGTH_PREFIX_SIZE,
                          &error);
  g_assert_true ((frame == NULL) == (error != NULL));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GBytes) sealed = g_bytes_new (data, size);
  g_autoptr (GBytes) plaintext = NULL;
  g_autoptr (GError) error = NULL;

  if (bob.ratchet == NULL)
    meet ();

  plaintext = ph_ratchet_open (bob.ratchet, alice.contact_id, sealed, &error);
  if (plaintext == NULL)
    {
      g_assert_nonnull (error);
      g_assert_true (error->domain == PH_RATCHET_ERROR);
      /* open_copy() deletes such copies; anything else would keep a
       * made-up copy on the server for ever and blame Bob's keys. */
      g_assert_true (error->code == PH_RATCHET_ERROR_INVALID
                     || error->code == PH_RATCHET_ERROR_DUPLICATE
                     || error->code == PH_RATCHET_ERROR_IDENTITY_CHANGED);
      return 0;
    }
  g_assert_no_error (error);
  parse_copy (plaintext);
  return 0;
}
