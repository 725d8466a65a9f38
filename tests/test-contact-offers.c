/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-contact-offers"

#include "config.h"

#include <sodium.h>

#include "ph-contact-exchange.h"
#include "ph-conversation-private.h"
#include "ph-identity-private.h"
#include "ph-test-files.h"
#include "ph-test-programs.h"
#include "ph-test-wait.h"

/* Saving a contact inside a real chat: two PhConversations in this process
 * meeting through pinhole-rendezvous, each with a contact book of its own,
 * and a peer that puts forged contact offers on the channel. */

#define TIMEOUT_MS ph_test_scaled_ms (20000)

typedef struct
{
  PhConversation *conversation;
  PhContactBook *book;
  PhContact *saved; /* from "contact-saved" */
  guint failures;   /* "contact-failed" */
  GError *last_failure;
  guint delivered;
  gboolean connected;
  gboolean ended;
} Peer;

typedef struct
{
  PhTestProcess *server;
  char *url;
  char *top;
  Peer host;
  Peer joiner;
} Fixture;

static void
state_cb (PhConversation *conversation, GParamSpec *pspec, Peer *peer)
{
  PhConversationState state = ph_conversation_get_state (conversation);

  if (state == PH_CONVERSATION_STATE_CONNECTED)
    peer->connected = TRUE;
  else if (state == PH_CONVERSATION_STATE_CLOSED || state == PH_CONVERSATION_STATE_FAILED)
    peer->ended = TRUE;
}

static void
contact_saved_cb (PhConversation *conversation, PhContact *contact, Peer *peer)
{
  g_assert_null (peer->saved);
  peer->saved = g_object_ref (contact);
}

static void
contact_failed_cb (PhConversation *conversation, const GError *error, Peer *peer)
{
  peer->failures++;
  g_clear_error (&peer->last_failure);
  peer->last_failure = g_error_copy (error);
}

static void
delivered_cb (PhConversation *conversation, const char *id, Peer *peer)
{
  peer->delivered++;
}

static void
peer_init (Peer *peer, const char *url, const char *name, const char *top)
{
  g_autofree char *profile = g_build_filename (top, name, NULL);
  g_autoptr (PhIdentity) identity = NULL;
  g_autoptr (GError) error = NULL;

  identity = ph_identity_load_or_create (profile, &error);
  g_assert_no_error (error);
  peer->book = ph_contact_book_open (profile, identity, &error);
  g_assert_no_error (error);

  peer->conversation = ph_conversation_new (url, name, NULL);
  g_signal_connect (peer->conversation, "notify::state", G_CALLBACK (state_cb), peer);
  g_signal_connect (peer->conversation, "contact-saved", G_CALLBACK (contact_saved_cb), peer);
  g_signal_connect (peer->conversation, "contact-failed", G_CALLBACK (contact_failed_cb), peer);
  g_signal_connect (peer->conversation, "message-delivered", G_CALLBACK (delivered_cb), peer);
}

static void
peer_clear (Peer *peer)
{
  if (!peer->ended && ph_conversation_get_state (peer->conversation) != PH_CONVERSATION_STATE_IDLE)
    {
      ph_conversation_leave (peer->conversation);
      ph_test_wait_for_flag (&peer->ended, TIMEOUT_MS);
    }
  g_assert_finalize_object (peer->conversation);
  g_clear_object (&peer->saved);
  g_assert_finalize_object (peer->book);
  g_clear_error (&peer->last_failure);
}

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture->server = ph_test_start_rendezvous (NULL, &fixture->url);
  fixture->top = g_dir_make_tmp ("test-contact-offers-XXXXXX", &error);
  g_assert_no_error (error);
  peer_init (&fixture->host, fixture->url, "Alice", fixture->top);
  peer_init (&fixture->joiner, fixture->url, "Bob", fixture->top);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  peer_clear (&fixture->host);
  peer_clear (&fixture->joiner);
  g_assert_cmpint (ph_test_process_stop (fixture->server), ==, 0);
  g_clear_pointer (&fixture->server, ph_test_process_free);
  ph_test_remove_tree (fixture->top);
  g_free (fixture->top);
  g_free (fixture->url);
}

static gboolean
code_ready (gpointer data)
{
  return ph_conversation_get_code (data) != NULL;
}

static void
connect_peers (Fixture *fixture)
{
  g_autoptr (GError) error = NULL;

  ph_conversation_host (fixture->host.conversation);
  g_assert_true (ph_test_wait_until (code_ready, fixture->host.conversation, TIMEOUT_MS));
  g_assert_true (ph_conversation_join (
      fixture->joiner.conversation, ph_conversation_get_code (fixture->host.conversation), &error));
  g_assert_no_error (error);
  g_assert_true (ph_test_wait_for_flag (&fixture->host.connected, TIMEOUT_MS));
  g_assert_true (ph_test_wait_for_flag (&fixture->joiner.connected, TIMEOUT_MS));
}

typedef struct
{
  Peer *peer;
  guint before;
} Delivery;

static gboolean
delivered_or_ended (gpointer data)
{
  Delivery *delivery = data;

  return delivery->peer->delivered > delivery->before || delivery->peer->ended;
}

/* A message from @from acknowledged: everything @from sent before it has
 * been handled by the other side, and the chat still works. */
static void
round_trip (Peer *from)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  Delivery delivery = { from, from->delivered };

  id = ph_conversation_send_message (from->conversation, "still here", &error);
  g_assert_no_error (error);
  g_assert_true (ph_test_wait_until (delivered_or_ended, &delivery, TIMEOUT_MS));
  g_assert_false (from->ended);
  g_assert_cmpuint (from->delivered, ==, delivery.before + 1);
}

static gboolean
both_saved (gpointer data)
{
  Fixture *fixture = data;

  return (fixture->host.saved != NULL && fixture->joiner.saved != NULL) || fixture->host.ended
         || fixture->joiner.ended;
}

static void
assert_in_book (Peer *peer, PhContact *contact)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PhContact) found
      = ph_contact_book_lookup (peer->book, ph_contact_get_id (contact), &error);

  g_assert_no_error (error);
  g_assert_true (found == contact);
}

/* The host saves before the chat connects, the joiner after: both end up
 * with the other, under the same safety number and pair secret. */
static void
test_both_save (Fixture *fixture, gconstpointer data)
{
  PhIdentity *alice = ph_contact_book_get_identity (fixture->host.book);
  PhIdentity *bob = ph_contact_book_get_identity (fixture->joiner.book);

  ph_conversation_save_contact (fixture->host.conversation, fixture->host.book);
  connect_peers (fixture);
  g_assert_null (fixture->host.saved);
  ph_conversation_save_contact (fixture->joiner.conversation, fixture->joiner.book);

  g_assert_true (ph_test_wait_until (both_saved, fixture, TIMEOUT_MS));
  g_assert_nonnull (fixture->host.saved);
  g_assert_nonnull (fixture->joiner.saved);
  g_assert_cmpuint (fixture->host.failures + fixture->joiner.failures, ==, 0);

  g_assert_cmpstr (ph_contact_get_name (fixture->host.saved), ==, "Bob");
  g_assert_cmpstr (ph_contact_get_name (fixture->joiner.saved), ==, "Alice");
  g_assert_cmpstr (ph_contact_get_fingerprint (fixture->host.saved), ==,
                   ph_identity_get_fingerprint (bob));
  g_assert_cmpstr (ph_contact_get_fingerprint (fixture->joiner.saved), ==,
                   ph_identity_get_fingerprint (alice));
  g_assert_cmpstr (ph_contact_get_safety_number (fixture->host.saved), ==,
                   ph_contact_get_safety_number (fixture->joiner.saved));
  g_assert_true (g_bytes_equal (ph_contact_get_pair_secret (fixture->host.saved),
                                ph_contact_get_pair_secret (fixture->joiner.saved)));
  g_assert_true (ph_conversation_get_contact (fixture->host.conversation) == fixture->host.saved);
  g_assert_false (ph_conversation_get_peer_wants_contact (fixture->host.conversation));
  assert_in_book (&fixture->host, fixture->host.saved);
  assert_in_book (&fixture->joiner, fixture->joiner.saved);

  round_trip (&fixture->host);
}

/* Only the host saves: the joiner is told, and nobody stores anything. */
static void
test_one_side_saves (Fixture *fixture, gconstpointer data)
{
  PhIdentity *alice = ph_contact_book_get_identity (fixture->host.book);

  connect_peers (fixture);
  ph_conversation_save_contact (fixture->host.conversation, fixture->host.book);
  round_trip (&fixture->host);
  round_trip (&fixture->joiner);

  g_assert_true (ph_conversation_get_peer_wants_contact (fixture->joiner.conversation));
  g_assert_cmpstr (ph_conversation_get_peer_fingerprint (fixture->joiner.conversation), ==,
                   ph_identity_get_fingerprint (alice));
  g_assert_false (ph_conversation_get_peer_wants_contact (fixture->host.conversation));
  g_assert_null (fixture->host.saved);
  g_assert_null (fixture->joiner.saved);
  g_assert_null (ph_conversation_get_contact (fixture->host.conversation));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (fixture->host.book)), ==, 0);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (fixture->joiner.book)), ==, 0);
}

static void
send_offer (Peer *peer, const char *key, const char *share, const char *name, const char *signature)
{
  g_autoptr (PhFrame) offer = ph_frame_new_contact_offer (key, share, name, signature);
  g_autoptr (GError) error = NULL;

  g_assert_true (ph_conversation_send_raw_frame (peer->conversation, offer, &error));
  g_assert_no_error (error);
}

/* Offers a machine in the middle or a malicious peer could send: made for
 * another chat, signed by no one, malformed. Each is refused and counted,
 * the chat goes on, and the real offers still save the contact. */
static void
test_forged_offers_refused (Fixture *fixture, gconstpointer data)
{
  PhIdentity *alice = ph_contact_book_get_identity (fixture->host.book);
  guint8 binding[PH_CONTACT_BINDING_SIZE];
  guint8 junk[PH_IDENTITY_SIGNATURE_SIZE];
  g_autoptr (GBytes) other_binding = NULL;
  g_autoptr (PhContactExchange) other_chat = NULL;
  g_autoptr (PhFrame) replayed = NULL;
  g_autofree char *junk_signature = NULL;

  connect_peers (fixture);

  /* Alice's genuine offer from another chat (another binding). */
  randombytes_buf (binding, sizeof binding);
  other_binding = g_bytes_new (binding, sizeof binding);
  other_chat = ph_contact_exchange_new (other_binding);
  replayed = ph_contact_exchange_make_offer (other_chat, alice, "Alice");
  send_offer (&fixture->host, replayed->public_key, replayed->share, replayed->name,
              replayed->signature);

  /* Alice's key with a signature nobody made. */
  randombytes_buf (junk, sizeof junk);
  junk_signature = g_base64_encode (junk, sizeof junk);
  send_offer (&fixture->host, replayed->public_key, replayed->share, "Alice", junk_signature);

  /* Not base64, not a key. */
  send_offer (&fixture->host, "%%%", replayed->share, "Alice", junk_signature);

  round_trip (&fixture->host);
  g_assert_cmpuint (fixture->joiner.failures, ==, 3);
  g_assert_cmpuint (ph_conversation_get_refused_contact_offers (fixture->joiner.conversation), ==,
                    3);
  g_assert_error (fixture->joiner.last_failure, PH_CONTACT_ERROR, PH_CONTACT_ERROR_INVALID_OFFER);
  g_assert_false (ph_conversation_get_peer_wants_contact (fixture->joiner.conversation));
  g_assert_null (ph_conversation_get_peer_fingerprint (fixture->joiner.conversation));

  ph_conversation_save_contact (fixture->host.conversation, fixture->host.book);
  ph_conversation_save_contact (fixture->joiner.conversation, fixture->joiner.book);
  g_assert_true (ph_test_wait_until (both_saved, fixture, TIMEOUT_MS));
  g_assert_nonnull (fixture->joiner.saved);
  g_assert_cmpstr (ph_contact_get_fingerprint (fixture->joiner.saved), ==,
                   ph_identity_get_fingerprint (alice));
  g_assert_cmpuint (fixture->joiner.failures, ==, 3);
  g_assert_cmpuint (fixture->host.failures, ==, 0);

  g_assert_finalize_object (g_steal_pointer (&other_chat));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  if (sodium_init () < 0)
    g_error ("libsodium could not be initialised");

#define ADD(path, func)                                                                            \
  g_test_add ("/contact-offers/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("both-save", test_both_save);
  ADD ("one-side-saves", test_one_side_saves);
  ADD ("forged-offers-refused", test_forged_offers_refused);

  return g_test_run ();
}
