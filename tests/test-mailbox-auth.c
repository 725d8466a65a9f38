/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-mailbox-auth"

#include "config.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "ph-conversation.h"
#include "ph-error.h"
#include "ph-memory-store.h"
#include "ph-rendezvous-client.h"
#include "ph-test-server.h"
#include "ph-test-wait.h"

/* An attacker who knows only a nameplate, which every code shows and
 * which servers hand out as small sequential numbers, against a
 * rendezvous server and beside the real chat the mailbox is for. It must
 * learn whether the number is open and nothing else (no side, no message,
 * no TURN credentials), and can neither post, leave, renew nor take over
 * the mailbox, while the real chat goes on as if it were not there. */

#define TIMEOUT_MS ph_test_scaled_ms (20000)
#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"

/* Every Authorization an attacker might try without a side's secret: none,
 * a secret of the right shape but nobody's, an old-style side id, other
 * schemes, nothing after the scheme, upper-case hex. */
static const char *const forged[] = {
  NULL,
  "Bearer " ZEROS,
  "Bearer 0123456789abcdef",
  "Basic YWxpY2U6c2VjcmV0",
  "Bearer",
  "Bearer "
  "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF",
};

typedef struct
{
  SoupMessage *msg;
  char *body;
  GError *error;
  gboolean done;
} Call;

typedef struct
{
  PhConversation *conversation;
  GPtrArray *received;
  gboolean connected;
  gboolean ended;
} Peer;

static void
call_free (Call *call)
{
  g_clear_object (&call->msg);
  g_free (call->body);
  g_clear_error (&call->error);
  g_free (call);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Call, call_free)

static void
call_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  g_autoptr (GBytes) body
      = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &call->error);

  if (body != NULL)
    call->body = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  call->done = TRUE;
}

/* One request of the attacker's, with @authorization as it is (or none)
 * and the headers given as name, value, …, NULL. */
static Call *
attack (SoupSession *session, const char *url, const char *method, const char *path,
        const char *authorization, const char *body, ...)
{
  g_autofree char *uri = g_strconcat (url, path, NULL);
  Call *call = g_new0 (Call, 1);
  SoupMessageHeaders *headers;
  const char *name;
  va_list args;

  call->msg = soup_message_new (method, uri);
  headers = soup_message_get_request_headers (call->msg);
  if (authorization != NULL)
    soup_message_headers_replace (headers, "Authorization", authorization);
  va_start (args, body);
  while ((name = va_arg (args, const char *)) != NULL)
    soup_message_headers_replace (headers, name, va_arg (args, const char *));
  va_end (args);
  if (body != NULL)
    {
      g_autoptr (GBytes) bytes = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (call->msg, "application/json", bytes);
    }
  soup_session_send_and_read_async (session, call->msg, G_PRIORITY_DEFAULT, NULL, call_done_cb,
                                    call);
  g_assert_true (ph_test_wait_for_flag (&call->done, TIMEOUT_MS));
  g_assert_no_error (call->error);
  return call;
}

/* Refused with @status and @code, and telling nothing about the mailbox:
 * no side, message, secret or credential in the answer, nor its tag. */
static void
assert_refused (Call *call, guint status, const char *code)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *object;

  g_test_message ("%s %s: %u %s", soup_message_get_method (call->msg),
                  g_uri_get_path (soup_message_get_uri (call->msg)),
                  soup_message_get_status (call->msg), call->body);
  g_assert_cmpuint (soup_message_get_status (call->msg), ==, status);
  g_assert_true (json_parser_load_from_data (parser, call->body, -1, NULL));
  object = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (object, "error"), ==, code);
  g_assert_cmpuint (strlen (json_object_get_string_member (object, "message")), >, 10);
  g_assert_cmpuint (json_object_get_size (object), ==, 2);
  g_assert_null (
      soup_message_headers_get_one (soup_message_get_response_headers (call->msg), "ETag"));
}

static void
state_cb (PhConversation *conversation, GParamSpec *pspec, Peer *peer)
{
  switch (ph_conversation_get_state (conversation))
    {
    case PH_CONVERSATION_STATE_CONNECTED:
      peer->connected = TRUE;
      break;
    case PH_CONVERSATION_STATE_CLOSED:
    case PH_CONVERSATION_STATE_FAILED:
      peer->ended = TRUE;
      break;
    default:
      break;
    }
}

static void
received_cb (PhConversation *conversation, const char *id, gint64 time_ms, const char *text,
             Peer *peer)
{
  g_ptr_array_add (peer->received, g_strdup (text));
}

static void
peer_init (Peer *peer, const char *url, const char *name)
{
  peer->conversation = ph_conversation_new (url, name, NULL);
  peer->received = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (peer->conversation, "notify::state", G_CALLBACK (state_cb), peer);
  g_signal_connect (peer->conversation, "message-received", G_CALLBACK (received_cb), peer);
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
  g_ptr_array_unref (peer->received);
}

static gboolean
has_code (gpointer data)
{
  return ph_conversation_get_code (((Peer *)data)->conversation) != NULL;
}

/* The host's conversation shows its code; returns the nameplate. */
static char *
host_waits (Peer *host)
{
  const char *code;

  ph_conversation_host (host->conversation);
  g_assert_true (ph_test_wait_until (has_code, host, TIMEOUT_MS));
  code = ph_conversation_get_code (host->conversation);
  return g_strndup (code, strchr (code, '-') - code);
}

static gboolean
both_connected (gpointer data)
{
  Peer *peers = data;

  return (peers[0].connected && peers[1].connected) || peers[0].ended || peers[1].ended;
}

static gboolean
has_received (gpointer data)
{
  return ((Peer *)data)->received->len > 0 || ((Peer *)data)->ended;
}

/* The joiner types the host's code; they connect and a message goes
 * through, from the host the code came from. */
static void
chat_connects (Peer *peers)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;

  g_assert_true (ph_conversation_join (peers[1].conversation,
                                       ph_conversation_get_code (peers[0].conversation), &error));
  g_assert_no_error (error);
  g_assert_true (ph_test_wait_until (both_connected, peers, TIMEOUT_MS));
  g_assert_true (peers[0].connected && peers[1].connected);
  g_assert_cmpstr (ph_conversation_get_peer_name (peers[1].conversation), ==, "Alice");

  id = ph_conversation_send_message (peers[0].conversation, "only for Bob", &error);
  g_assert_no_error (error);
  g_assert_true (ph_test_wait_until (has_received, &peers[1], TIMEOUT_MS));
  g_assert_cmpuint (peers[1].received->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (peers[1].received, 0), ==, "only for Bob");
}

static PhRendezvousServer *
server_start (char **out_url)
{
  PhRendezvousServer *server = ph_test_server_start (0, NULL);

  *out_url = ph_rendezvous_server_get_url (server);
  return server;
}

/* With the number of a waiting host and any secret but the host's, the
 * attacker can read, post, leave and ask for TURN nothing: every request
 * is refused at once, 401, and says nothing. The host's chat then
 * connects as if nothing had happened. */
static void
test_nameplate_alone_gets_nothing (void)
{
  g_autoptr (SoupSession) attacker = soup_session_new ();
  g_autofree char *url = NULL;
  g_autofree char *nameplate = NULL;
  PhRendezvousServer *server = server_start (&url);
  Peer peers[2] = { { 0 } };

  peer_init (&peers[0], url, "Alice");
  peer_init (&peers[1], url, "Bob");
  nameplate = host_waits (&peers[0]);

  for (guint i = 0; i < G_N_ELEMENTS (forged); i++)
    {
      g_autofree char *messages = g_strdup_printf ("/v1/mailboxes/%s/messages", nameplate);
      g_autofree char *poll = g_strdup_printf ("%s?after=0&wait=30", messages);
      g_autofree char *mailbox = g_strdup_printf ("/v1/mailboxes/%s", nameplate);
      g_autofree char *turn = g_strdup_printf ("/v1/mailboxes/%s/turn", nameplate);
      gint64 poll_started = g_get_monotonic_time ();
      g_autoptr (Call) polled = attack (attacker, url, "GET", poll, forged[i], NULL, NULL);
      /* Answered at once, not held for the 30 s asked for. */
      gint64 poll_took = g_get_monotonic_time () - poll_started;
      g_autoptr (Call) fetched = attack (attacker, url, "GET", messages, forged[i], NULL, NULL);
      g_autoptr (Call) posted = attack (attacker, url, "POST", messages, forged[i],
                                        "{\"phase\":\"pake\",\"body\":\"AAECAw==\"}", NULL);
      g_autoptr (Call) left = attack (attacker, url, "DELETE", mailbox, forged[i], NULL, NULL);
      g_autoptr (Call) relay = attack (attacker, url, "GET", turn, forged[i], NULL, NULL);

      assert_refused (fetched, 401, "unauthorized");
      assert_refused (polled, 401, "unauthorized");
      g_assert_cmpint (poll_took, <, ph_test_scaled_ms (5000) * (gint64)1000);
      assert_refused (posted, 401, "unauthorized");
      assert_refused (left, 401, "unauthorized");
      assert_refused (relay, 401, "unauthorized");
    }

  chat_connects (peers);

  peer_clear (&peers[0]);
  peer_clear (&peers[1]);
  g_clear_object (&attacker);
  g_assert_finalize_object (server);
}

static gboolean
store_lacks (PhMemoryStore *store, guint nameplate)
{
  return !ph_memory_store_contains (store, nameplate);
}

/* A chat keeps its mailbox open for as long as its sides poll it; the
 * attacker's polls, beside it, keep no mailbox open. */
static void
test_nameplate_alone_renews_nothing (void)
{
  g_autoptr (PhMemoryStore) store = g_object_new (PH_TYPE_MEMORY_STORE, "lifetime", 2, NULL);
  g_autoptr (SoupSession) attacker = soup_session_new ();
  PhRendezvousServer *server = ph_test_server_start (0, "store", store, NULL);
  g_autofree char *url = ph_rendezvous_server_get_url (server);
  PhRendezvousClient *hosts[2];
  PhRendezvousClient *joiners[2];
  g_autofree char *abandoned = NULL;
  g_autofree char *used = NULL;
  g_autofree char *path = NULL;
  guint abandoned_number;
  gint64 started;

  for (guint i = 0; i < 2; i++)
    {
      g_autoptr (GAsyncResult) result = NULL;
      g_autoptr (GError) error = NULL;
      char *nameplate;

      hosts[i] = ph_rendezvous_client_new (url, NULL);
      joiners[i] = ph_rendezvous_client_new (url, NULL);
      ph_rendezvous_client_allocate_async (hosts[i], NULL, ph_test_result_cb, &result);
      nameplate = ph_rendezvous_client_allocate_finish (
          hosts[i], ph_test_wait_for_result (&result, TIMEOUT_MS), NULL, &error);
      g_assert_no_error (error);
      g_clear_object (&result);
      ph_rendezvous_client_join_async (joiners[i], nameplate, NULL, NULL, NULL, ph_test_result_cb,
                                       &result);
      g_assert_true (ph_rendezvous_client_join_finish (
          joiners[i], ph_test_wait_for_result (&result, TIMEOUT_MS), &error));
      if (i == 0)
        abandoned = nameplate;
      else
        used = nameplate;
    }
  path = g_strdup_printf ("/v1/mailboxes/%s/messages?after=0", abandoned);
  abandoned_number = (guint)g_ascii_strtoull (abandoned, NULL, 10);

  /* Twice the lifetime: the attacker polls the abandoned mailbox, the
   * host the one in use. */
  started = g_get_monotonic_time ();
  while (g_get_monotonic_time () - started < 4 * G_USEC_PER_SEC)
    {
      /* Refused while open; once expired (maybe while it was asked), gone. */
      gboolean gone_before = store_lacks (store, abandoned_number);
      g_autoptr (Call) polled = attack (attacker, url, "GET", path, NULL, NULL, NULL);
      guint status = soup_message_get_status (polled->msg);
      g_autoptr (GAsyncResult) result = NULL;
      g_autoptr (GPtrArray) messages = NULL;
      g_autoptr (GError) error = NULL;

      g_assert_true (status == 404 || (!gone_before && status == 401));
      ph_rendezvous_client_fetch_async (hosts[1], used, 0, 0, NULL, ph_test_result_cb, &result);
      messages = ph_rendezvous_client_fetch_finish (
          hosts[1], ph_test_wait_for_result (&result, TIMEOUT_MS), &error);
      g_assert_no_error (error);
      ph_test_run_for (250);
    }
  g_assert_false (ph_memory_store_contains (store, abandoned_number));
  g_assert_true (ph_memory_store_contains (store, (guint)g_ascii_strtoull (used, NULL, 10)));

  for (guint i = 0; i < 2; i++)
    {
      g_assert_finalize_object (hosts[i]);
      g_assert_finalize_object (joiners[i]);
    }
  g_clear_object (&attacker);
  g_assert_finalize_object (server);
}

/* The first to join holds the second seat: once Bob is in, a second
 * joiner with the very code, and the attacker with the number, find the
 * mailbox full, and Bob's chat goes on. */
static void
test_second_joiner_finds_it_full (void)
{
  g_autoptr (SoupSession) attacker = soup_session_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *nameplate = NULL;
  g_autofree char *join = NULL;
  g_autofree char *id = NULL;
  PhRendezvousServer *server = server_start (&url);
  Peer peers[2] = { { 0 } };
  Peer late = { 0 };

  peer_init (&peers[0], url, "Alice");
  peer_init (&peers[1], url, "Bob");
  peer_init (&late, url, "Mallory");
  nameplate = host_waits (&peers[0]);
  chat_connects (peers);

  join = g_strdup_printf ("/v1/mailboxes/%s/join", nameplate);
  for (guint i = 0; i < G_N_ELEMENTS (forged); i++)
    {
      g_autoptr (Call) joined = attack (attacker, url, "POST", join, forged[i], NULL,
                                        "Idempotency-Key", "0123456789abcdef", NULL);

      assert_refused (joined, 409, "mailbox-full");
    }

  g_assert_true (ph_conversation_join (late.conversation,
                                       ph_conversation_get_code (peers[0].conversation), &error));
  g_assert_true (ph_test_wait_for_flag (&late.ended, TIMEOUT_MS));
  g_assert_error (ph_conversation_get_error (late.conversation), PH_ERROR, PH_ERROR_MAILBOX_FULL);

  g_clear_error (&error);
  g_ptr_array_set_size (peers[0].received, 0);
  id = ph_conversation_send_message (peers[1].conversation, "still us", &error);
  g_assert_no_error (error);
  g_assert_true (ph_test_wait_until (has_received, &peers[0], TIMEOUT_MS));
  g_assert_cmpstr (g_ptr_array_index (peers[0].received, 0), ==, "still us");
  g_assert_false (peers[0].ended || peers[1].ended);

  peer_clear (&late);
  peer_clear (&peers[0]);
  peer_clear (&peers[1]);
  g_clear_object (&attacker);
  g_assert_finalize_object (server);
}

static gboolean
client_call (PhRendezvousClient *client, const char *what, const char *nameplate, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GBytes) body = g_bytes_new_static ("hi", 2);

  if (strcmp (what, "join") == 0)
    {
      ph_rendezvous_client_join_async (client, nameplate, NULL, NULL, NULL, ph_test_result_cb,
                                       &result);
      return ph_rendezvous_client_join_finish (
          client, ph_test_wait_for_result (&result, TIMEOUT_MS), error);
    }
  if (strcmp (what, "leave") == 0)
    {
      ph_rendezvous_client_leave_async (client, nameplate, NULL, ph_test_result_cb, &result);
      return ph_rendezvous_client_leave_finish (
          client, ph_test_wait_for_result (&result, TIMEOUT_MS), error);
    }
  g_assert_cmpstr (what, ==, "post");
  ph_rendezvous_client_post_async (client, nameplate, "pake", body, NULL, ph_test_result_cb,
                                   &result);
  return ph_rendezvous_client_post_finish (client, ph_test_wait_for_result (&result, TIMEOUT_MS),
                                           NULL, error);
}

/* A side that leaves keeps its seat: nobody takes the joiner's place
 * after it left, nor the host's number while the host holds it. */
static void
test_leaving_keeps_the_seat (void)
{
  g_autoptr (SoupSession) attacker = soup_session_new ();
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *nameplate = NULL;
  g_autofree char *join = NULL;
  g_autofree char *mailbox = NULL;
  g_autoptr (Call) joined = NULL;
  g_autoptr (Call) claimed = NULL;
  PhRendezvousServer *server = server_start (&url);
  g_autoptr (PhRendezvousClient) host = ph_rendezvous_client_new (url, NULL);
  g_autoptr (PhRendezvousClient) joiner = ph_rendezvous_client_new (url, NULL);
  g_autoptr (PhRendezvousClient) next = ph_rendezvous_client_new (url, NULL);

  ph_rendezvous_client_allocate_async (host, NULL, ph_test_result_cb, &result);
  nameplate = ph_rendezvous_client_allocate_finish (
      host, ph_test_wait_for_result (&result, TIMEOUT_MS), NULL, &error);
  g_clear_object (&result);
  g_assert_true (client_call (joiner, "join", nameplate, &error));
  g_assert_true (client_call (joiner, "post", nameplate, &error));
  g_assert_true (client_call (joiner, "leave", nameplate, &error));
  g_assert_no_error (error);

  join = g_strdup_printf ("/v1/mailboxes/%s/join", nameplate);
  joined = attack (attacker, url, "POST", join, NULL, NULL, NULL);
  assert_refused (joined, 409, "mailbox-full");
  mailbox = g_strdup_printf ("/v1/mailboxes/%s", nameplate);
  claimed = attack (attacker, url, "PUT", mailbox, NULL, NULL, NULL);
  assert_refused (claimed, 409, "nameplate-unavailable");
  g_assert_false (client_call (next, "join", nameplate, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_MAILBOX_FULL);
  g_clear_error (&error);

  /* The host is still in, and still alone with what the joiner said. */
  g_assert_true (client_call (host, "post", nameplate, &error));
  g_assert_no_error (error);

  g_assert_finalize_object (g_steal_pointer (&host));
  g_assert_finalize_object (g_steal_pointer (&joiner));
  g_assert_finalize_object (g_steal_pointer (&next));
  g_clear_object (&attacker);
  g_assert_finalize_object (server);
}

/* Leaving as the waiting host and claiming its number at once took the
 * host's code over; now the leave is refused, the number stays the
 * host's, and the joiner meets the host the code came from. */
static void
test_host_cannot_be_displaced (void)
{
  g_autoptr (SoupSession) attacker = soup_session_new ();
  g_autofree char *url = NULL;
  g_autofree char *nameplate = NULL;
  g_autofree char *mailbox = NULL;
  PhRendezvousServer *server = server_start (&url);
  Peer peers[2] = { { 0 } };

  peer_init (&peers[0], url, "Alice");
  peer_init (&peers[1], url, "Bob");
  nameplate = host_waits (&peers[0]);
  mailbox = g_strdup_printf ("/v1/mailboxes/%s", nameplate);

  for (guint i = 0; i < G_N_ELEMENTS (forged); i++)
    {
      g_autoptr (Call) left = attack (attacker, url, "DELETE", mailbox, forged[i], NULL, NULL);
      g_autoptr (Call) claimed = attack (attacker, url, "PUT", mailbox, forged[i], NULL,
                                         "Idempotency-Key", "0123456789abcdef", NULL);

      assert_refused (left, 401, "unauthorized");
      assert_refused (claimed, 409, "nameplate-unavailable");
    }

  chat_connects (peers);

  peer_clear (&peers[0]);
  peer_clear (&peers[1]);
  g_clear_object (&attacker);
  g_assert_finalize_object (server);
}

static PhTurnInfo *
get_turn (PhRendezvousClient *client, const char *nameplate, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  ph_rendezvous_client_get_turn_async (client, nameplate, NULL, ph_test_result_cb, &result);
  return ph_rendezvous_client_get_turn_finish (
      client, ph_test_wait_for_result (&result, TIMEOUT_MS), error);
}

/* The credentials are coturn's and expire within @ttl seconds. */
static void
assert_credentials (const PhTurnInfo *info, guint ttl)
{
  g_autofree char *expected = NULL;
  guchar digest[20];
  gsize digest_len = sizeof digest;
  g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA1, (const guchar *)"s3cret", 6);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gint64 expiry = g_ascii_strtoll (info->username, NULL, 10);

  g_assert_cmpuint (info->ttl, ==, ttl);
  g_assert_cmpint (expiry, >, now);
  g_assert_cmpint (expiry, <=, now + ttl + 2);
  g_hmac_update (hmac, (const guchar *)info->username, strlen (info->username));
  g_hmac_get_digest (hmac, digest, &digest_len);
  expected = g_base64_encode (digest, digest_len);
  g_assert_cmpstr (info->credential, ==, expected);
}

/* No open relay: TURN credentials go only to a side of an open mailbox,
 * last an hour at most, and only a few sets per side per hour. */
static void
test_turn_only_for_sides (void)
{
  const char *const turn_uris[] = { "turn:192.0.2.1:3478", NULL };
  const char *const stun_uris[] = { "stun:192.0.2.1:3478", NULL };
  g_autoptr (SoupSession) attacker = soup_session_new ();
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PhTurnInfo) anyone = NULL;
  g_autoptr (PhTurnInfo) joiners = NULL;
  g_autoptr (PhTurnInfo) after = NULL;
  g_autoptr (Call) public_list = NULL;
  g_autofree char *nameplate = NULL;
  g_autofree char *turn = NULL;
  PhRendezvousServer *server
      = ph_test_server_start (0, "turn-secret", "s3cret", "turn-uris", turn_uris, "stun-uris",
                              stun_uris, "turn-quota", 2, NULL);
  g_autofree char *url = ph_rendezvous_server_get_url (server);
  g_autoptr (PhRendezvousClient) host = ph_rendezvous_client_new (url, NULL);
  g_autoptr (PhRendezvousClient) joiner = ph_rendezvous_client_new (url, NULL);
  GParamSpec *ttl_spec = g_object_class_find_property (G_OBJECT_GET_CLASS (server), "turn-ttl");

  /* An hour by default, and at most. */
  g_assert_cmpuint (G_PARAM_SPEC_UINT (ttl_spec)->maximum, ==, 3600);
  g_assert_cmpuint (G_PARAM_SPEC_UINT (ttl_spec)->default_value, ==, 3600);

  ph_rendezvous_client_allocate_async (host, NULL, ph_test_result_cb, &result);
  nameplate = ph_rendezvous_client_allocate_finish (
      host, ph_test_wait_for_result (&result, TIMEOUT_MS), NULL, &error);
  g_clear_object (&result);
  g_assert_true (client_call (joiner, "join", nameplate, &error));

  /* Anyone gets the STUN servers, and no relay. */
  public_list = attack (attacker, url, "GET", "/v1/turn", NULL, NULL, NULL);
  g_assert_cmpuint (soup_message_get_status (public_list->msg), ==, 200);
  g_assert_null (strstr (public_list->body, "credential"));
  g_assert_null (strstr (public_list->body, "turn:"));
  anyone = get_turn (joiner, NULL, &error);
  g_assert_no_error (error);
  g_assert_null (anyone->username);

  turn = g_strdup_printf ("/v1/mailboxes/%s/turn", nameplate);
  for (guint i = 0; i < G_N_ELEMENTS (forged); i++)
    {
      g_autoptr (Call) relay = attack (attacker, url, "GET", turn, forged[i], NULL, NULL);

      assert_refused (relay, 401, "unauthorized");
    }

  for (guint i = 0; i < 2; i++)
    {
      g_autoptr (PhTurnInfo) info = get_turn (host, nameplate, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (info->turn_uris[0], ==, turn_uris[0]);
      assert_credentials (info, 3600);
    }
  g_assert_null (get_turn (host, nameplate, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS);
  g_clear_error (&error);
  joiners = get_turn (joiner, nameplate, &error);
  g_assert_no_error (error);
  assert_credentials (joiners, 3600);

  /* Once both left, the mailbox is closed: no side to give them to. */
  g_assert_true (client_call (host, "leave", nameplate, &error));
  g_assert_true (client_call (joiner, "leave", nameplate, &error));
  after = get_turn (joiner, nameplate, &error);
  g_assert_null (after);
  g_assert_error (error, PH_ERROR, PH_ERROR_UNKNOWN_CODE);

  g_assert_finalize_object (g_steal_pointer (&host));
  g_assert_finalize_object (g_steal_pointer (&joiner));
  g_clear_object (&attacker);
  g_assert_finalize_object (server);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/mailbox-auth/nameplate-alone-gets-nothing", test_nameplate_alone_gets_nothing);
  g_test_add_func ("/mailbox-auth/nameplate-alone-renews-nothing",
                   test_nameplate_alone_renews_nothing);
  g_test_add_func ("/mailbox-auth/second-joiner-finds-it-full", test_second_joiner_finds_it_full);
  g_test_add_func ("/mailbox-auth/leaving-keeps-the-seat", test_leaving_keeps_the_seat);
  g_test_add_func ("/mailbox-auth/host-cannot-be-displaced", test_host_cannot_be_displaced);
  g_test_add_func ("/mailbox-auth/turn-only-for-sides", test_turn_only_for_sides);

  return g_test_run ();
}
