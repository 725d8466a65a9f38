/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-rendezvous-client"

#include "config.h"

#include <libsoup/soup.h>
#include <string.h>

#include "ph-error.h"
#include "ph-rate-limiter.h"
#include "ph-rendezvous-client.h"
#include "ph-test-server.h"
#include "ph-test-wait.h"

/* Anything that takes longer than this has hung: the test fails. */
#define DEADLINE_MS ph_test_scaled_ms (15000)

#define HOST "1"
#define SECRET "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define JOINER "2"

/* A server, and the clients of a host and of a joiner. */
typedef struct
{
  PhRendezvousServer *server;
  PhRendezvousClient *client;
  PhRendezvousClient *joiner;
} Fixture;

/* The result of the operation started with ph_test_result_cb and
 * @result; fails the test on a hang. */
static GAsyncResult *
wait_result (GAsyncResult **result)
{
  return ph_test_wait_for_result (result, DEADLINE_MS);
}

static void
fixture_start (Fixture *fixture, const char *first_property, ...)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *url = NULL;
  va_list args;

  va_start (args, first_property);
  fixture->server = ph_test_server_start_valist (0, first_property, args);
  va_end (args);

  url = ph_rendezvous_server_get_url (fixture->server);
  fixture->client = ph_rendezvous_client_new (url, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ph_rendezvous_client_get_base_url (fixture->client), ==, url);
  fixture->joiner = ph_rendezvous_client_new (url, &error);
  g_assert_no_error (error);
}

static void
fixture_stop (Fixture *fixture)
{
  g_assert_finalize_object (fixture->client);
  g_assert_finalize_object (fixture->joiner);
  g_assert_finalize_object (fixture->server);
}

static char *
allocate (PhRendezvousClient *client, guint *out_expires_in, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  ph_rendezvous_client_allocate_async (client, NULL, ph_test_result_cb, &result);
  return ph_rendezvous_client_allocate_finish (client, wait_result (&result), out_expires_in,
                                               error);
}

static gboolean
join (PhRendezvousClient *client, const char *nameplate, const char *first_text, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GBytes) first
      = first_text != NULL ? g_bytes_new (first_text, strlen (first_text)) : NULL;

  ph_rendezvous_client_join_async (client, nameplate, first != NULL ? "pake" : NULL, first, NULL,
                                   ph_test_result_cb, &result);
  return ph_rendezvous_client_join_finish (client, wait_result (&result), error);
}

static gboolean
post_phase (PhRendezvousClient *client, const char *nameplate, const char *phase, const char *text,
            guint64 *out_index, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GBytes) body = g_bytes_new (text, strlen (text));

  ph_rendezvous_client_post_async (client, nameplate, phase, body, NULL, ph_test_result_cb,
                                   &result);
  return ph_rendezvous_client_post_finish (client, wait_result (&result), out_index, error);
}

static gboolean
post (PhRendezvousClient *client, const char *nameplate, const char *text, guint64 *out_index,
      GError **error)
{
  return post_phase (client, nameplate, "pake", text, out_index, error);
}

static GPtrArray *
fetch (PhRendezvousClient *client, const char *nameplate, guint64 after, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  ph_rendezvous_client_fetch_async (client, nameplate, after, 0, NULL, ph_test_result_cb, &result);
  return ph_rendezvous_client_fetch_finish (client, wait_result (&result), error);
}

static gboolean
leave (PhRendezvousClient *client, const char *nameplate, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  ph_rendezvous_client_leave_async (client, nameplate, NULL, ph_test_result_cb, &result);
  return ph_rendezvous_client_leave_finish (client, wait_result (&result), error);
}

static gboolean
claim (PhRendezvousClient *client, const char *nameplate, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  ph_rendezvous_client_claim_async (client, nameplate, NULL, ph_test_result_cb, &result);
  return ph_rendezvous_client_claim_finish (client, wait_result (&result), error);
}

static PhTurnInfo *
get_turn (PhRendezvousClient *client, const char *nameplate, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  ph_rendezvous_client_get_turn_async (client, nameplate, NULL, ph_test_result_cb, &result);
  return ph_rendezvous_client_get_turn_finish (client, wait_result (&result), error);
}

static void
assert_message (PhMailboxMessage *message, guint64 index, const char *side, const char *text)
{
  gsize size;
  const char *data = g_bytes_get_data (message->body, &size);

  g_assert_cmpuint (message->index, ==, index);
  g_assert_cmpstr (message->side, ==, side);
  g_assert_cmpstr (message->phase, ==, "pake");
  g_assert_cmpmem (data, size, text, strlen (text));
}

static void
test_mailbox_round_trip (void)
{
  Fixture fixture = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *nameplate = NULL;
  g_autofree char *second = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  g_autoptr (GPtrArray) seen_by_joiner = NULL;
  g_autoptr (GPtrArray) newer = NULL;
  g_autoptr (GPtrArray) gone = NULL;
  guint expires_in = 0;
  guint64 index = 0;

  fixture_start (&fixture, NULL);

  nameplate = allocate (fixture.client, &expires_in, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (nameplate, ==, "1");
  g_assert_cmpuint (expires_in, ==, 600);
  second = allocate (fixture.client, NULL, &error);
  g_assert_cmpstr (second, ==, "2");

  g_assert_true (post (fixture.client, nameplate, "hello", &index, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (index, ==, 1);
  g_assert_true (join (fixture.joiner, nameplate, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (post (fixture.joiner, nameplate, "", &index, &error));
  g_assert_cmpuint (index, ==, 2);

  /* Each side reads both messages, named by side number. */
  messages = fetch (fixture.client, nameplate, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (messages->len, ==, 2);
  assert_message (messages->pdata[0], 1, HOST, "hello");
  assert_message (messages->pdata[1], 2, JOINER, "");
  seen_by_joiner = fetch (fixture.joiner, nameplate, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (seen_by_joiner->len, ==, 2);
  assert_message (seen_by_joiner->pdata[0], 1, HOST, "hello");

  newer = fetch (fixture.client, nameplate, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (newer->len, ==, 0);

  g_assert_true (leave (fixture.client, nameplate, &error));
  g_assert_true (leave (fixture.joiner, nameplate, &error));
  g_assert_no_error (error);

  /* Both sides left: the code no longer leads anywhere. */
  gone = fetch (fixture.client, nameplate, 0, &error);
  g_assert_null (gone);
  g_assert_error (error, PH_ERROR, PH_ERROR_UNKNOWN_CODE);
  g_assert_nonnull (strstr (error->message, nameplate));

  fixture_stop (&fixture);
}

static void
test_fetch_waits_for_post (void)
{
  Fixture fixture = { 0 };
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *nameplate = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  gint64 started;

  fixture_start (&fixture, NULL);
  nameplate = allocate (fixture.client, NULL, &error);

  /* The same client keeps a long-poll open and posts at the same time. */
  started = g_get_monotonic_time ();
  ph_rendezvous_client_fetch_async (fixture.client, nameplate, 0, 20, NULL, ph_test_result_cb,
                                    &result);
  g_assert_true (post (fixture.client, nameplate, "one", NULL, &error));
  g_assert_no_error (error);

  messages = ph_rendezvous_client_fetch_finish (fixture.client, wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (messages->len, ==, 1);
  assert_message (messages->pdata[0], 1, HOST, "one");
  g_assert_cmpint (g_get_monotonic_time () - started, <, ph_test_scaled_ms (2000) * (gint64)1000);

  g_clear_object (&result);
  fixture_stop (&fixture);
}

static void
test_cancel_fetch (void)
{
  Fixture fixture = { 0 };
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *nameplate = NULL;
  g_autoptr (GPtrArray) messages = NULL;

  fixture_start (&fixture, NULL);
  nameplate = allocate (fixture.client, NULL, &error);

  ph_rendezvous_client_fetch_async (fixture.client, nameplate, 0, 30, cancellable,
                                    ph_test_result_cb, &result);
  g_cancellable_cancel (cancellable);
  messages = ph_rendezvous_client_fetch_finish (fixture.client, wait_result (&result), &error);
  g_assert_null (messages);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  g_clear_object (&result);
  fixture_stop (&fixture);
}

static void
test_refusals (void)
{
  Fixture fixture = { 0 };
  g_autoptr (PhRendezvousClient) stranger = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *nameplate = NULL;
  g_autoptr (GPtrArray) messages = NULL;

  fixture_start (&fixture, NULL);
  stranger = ph_rendezvous_client_new (ph_rendezvous_client_get_base_url (fixture.client), NULL);

  g_assert_false (post (fixture.client, "77", "x", NULL, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_UNKNOWN_CODE);
  g_clear_error (&error);

  g_assert_false (leave (fixture.client, "77", &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_UNKNOWN_CODE);
  g_clear_error (&error);

  g_assert_false (join (fixture.joiner, "77", NULL, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_UNKNOWN_CODE);
  g_clear_error (&error);

  messages = fetch (fixture.client, "abc", 0, &error);
  g_assert_null (messages);
  g_assert_error (error, PH_ERROR, PH_ERROR_UNKNOWN_CODE);
  g_clear_error (&error);

  /* A nameplate is escaped into the path, so it cannot reach another route. */
  messages = fetch (fixture.client, "../turn", 0, &error);
  g_assert_null (messages);
  g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS);
  g_clear_error (&error);

  nameplate = allocate (fixture.client, NULL, &error);
  g_assert_true (post (fixture.client, nameplate, "a", NULL, &error));
  g_assert_true (join (fixture.joiner, nameplate, NULL, &error));
  g_assert_false (join (stranger, nameplate, NULL, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_MAILBOX_FULL);
  g_clear_error (&error);

  /* Without a side of its own, a client is nobody there. */
  g_assert_false (post (stranger, nameplate, "c", NULL, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_UNKNOWN_CODE);
  g_assert_nonnull (strstr (error->message, "no longer knows this side"));
  g_clear_error (&error);
  messages = fetch (stranger, nameplate, 0, &error);
  g_assert_null (messages);
  g_assert_error (error, PH_ERROR, PH_ERROR_UNKNOWN_CODE);
  g_clear_error (&error);
  g_assert_false (leave (stranger, nameplate, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_UNKNOWN_CODE);
  g_clear_error (&error);

  /* Any other refusal carries the server's own sentence. */
  g_assert_false (post_phase (fixture.client, nameplate, "hello", "c", NULL, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS);
  g_assert_nonnull (strstr (error->message, "\"phase\" must be one of"));

  g_assert_finalize_object (g_steal_pointer (&stranger));
  fixture_stop (&fixture);
}

static char *
base64_to_hex (const char *text)
{
  gsize length;
  g_autofree guchar *data = g_base64_decode (text, &length);
  GString *hex = g_string_new (NULL);

  for (gsize i = 0; i < length; i++)
    g_string_append_printf (hex, "%02x", data[i]);
  return g_string_free (hex, FALSE);
}

static void
test_turn (void)
{
  const char *const turn_uris[] = { "turn:192.0.2.1:3478", "turns:192.0.2.1:5349", NULL };
  const char *const stun_uris[] = { "stun:192.0.2.1:3478", NULL };
  Fixture fixture = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (PhTurnInfo) info = NULL;
  g_autoptr (PhTurnInfo) anyone = NULL;
  g_autoptr (PhTurnInfo) refused = NULL;
  g_autoptr (PhTurnInfo) over_quota = NULL;
  g_autofree char *nameplate = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *credential_hex = NULL;

  fixture_start (&fixture, "turn-secret", "s3cret", "turn-uris", turn_uris, "stun-uris", stun_uris,
                 "turn-ttl", 600, "turn-quota", 1, NULL);

  /* Without a mailbox: the STUN servers, and no relay. */
  anyone = get_turn (fixture.client, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_strv_equal ((const char *const *)anyone->stun_uris, stun_uris));
  g_assert_cmpuint (g_strv_length (anyone->turn_uris), ==, 0);
  g_assert_null (anyone->username);
  g_assert_null (anyone->credential);

  nameplate = allocate (fixture.client, NULL, &error);
  refused = get_turn (fixture.joiner, nameplate, &error);
  g_assert_null (refused);
  g_assert_error (error, PH_ERROR, PH_ERROR_UNKNOWN_CODE);
  g_clear_error (&error);

  info = get_turn (fixture.client, nameplate, &error);
  g_assert_no_error (error);

  g_assert_true (g_strv_equal ((const char *const *)info->stun_uris, stun_uris));
  g_assert_true (g_strv_equal ((const char *const *)info->turn_uris, turn_uris));
  g_assert_cmpuint (info->ttl, ==, 600);

  /* GLib's one-shot HMAC, not the server's code path. */
  expected = g_compute_hmac_for_string (G_CHECKSUM_SHA1, (const guchar *)"s3cret", 6,
                                        info->username, -1);
  credential_hex = base64_to_hex (info->credential);
  g_assert_cmpstr (credential_hex, ==, expected);

  /* One set per side per ttl here: the next is refused, saying why. */
  over_quota = get_turn (fixture.client, nameplate, &error);
  g_assert_null (over_quota);
  g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS);
  g_assert_nonnull (strstr (error->message, "TURN credentials"));

  fixture_stop (&fixture);
}

static void
test_turn_not_configured (void)
{
  Fixture fixture = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (PhTurnInfo) info = NULL;

  fixture_start (&fixture, NULL);

  info = get_turn (fixture.client, NULL, &error);
  g_assert_null (info);
  g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS);

  fixture_stop (&fixture);
}

static void
test_unreachable (void)
{
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (PhRendezvousClient) client = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *nameplate = NULL;

  /* A port that was just free and has nothing listening on it. */
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_true (g_socket_bind (socket, address, FALSE, &error));
  bound = g_socket_get_local_address (socket, &error);
  url = g_strdup_printf ("http://127.0.0.1:%u",
                         g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  g_socket_close (socket, &error);
  g_assert_no_error (error);

  client = ph_rendezvous_client_new (url, &error);
  g_assert_no_error (error);
  nameplate = allocate (client, NULL, &error);
  g_assert_null (nameplate);
  g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS_UNREACHABLE);
  g_assert_true (g_str_has_prefix (error->message, "Could not reach the rendezvous server at "));
  g_assert_nonnull (strstr (error->message, url));
}

static void
test_bad_base_url (void)
{
  const char *bad[] = {
    "",
    "127.0.0.1:8470",
    "ftp://example.org",
    "http://",
    "http:///path",
    "http://host/?q=1",
    "http://user@host",
    "not a url",
  };
  const char *good[] = { "http://127.0.0.1:8470", "https://rendezvous.example.org/pinhole/" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PhRendezvousClient) client = ph_rendezvous_client_new (bad[i], &error);

      g_test_message ("%s", bad[i]);
      g_assert_null (client);
      g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS_UNREACHABLE);
    }

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PhRendezvousClient) client = ph_rendezvous_client_new (good[i], &error);

      g_assert_no_error (error);
      g_assert_false (g_str_has_suffix (ph_rendezvous_client_get_base_url (client), "/"));
    }
}

/* A server that answers every request with the same canned body. */
static void
canned_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
           gpointer user_data)
{
  const char *body = user_data;
  guint status = strcmp (soup_server_message_get_method (msg), "GET") == 0 ? 200 : 201;

  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, body, strlen (body));
}

static void
test_malformed_answers (void)
{
  const struct
  {
    const char *operation;
    const char *body;
  } cases[] = {
    { "allocate", "not json" },
    { "allocate", "[]" },
    { "allocate", "{\"nameplate\":42,\"expires_in\":600,\"side\":1,\"secret\":\"" SECRET "\"}" },
    { "allocate",
      "{\"nameplate\":\"042\",\"expires_in\":600,\"side\":1,\"secret\":\"" SECRET "\"}" },
    { "allocate",
      "{\"nameplate\":\"4x\",\"expires_in\":600,\"side\":1,\"secret\":\"" SECRET "\"}" },
    { "allocate", "{\"nameplate\":\"42\",\"expires_in\":-1,\"side\":1,\"secret\":\"" SECRET "\"}" },
    { "allocate",
      "{\"nameplate\":\"42\",\"expires_in\":1.5,\"side\":1,\"secret\":\"" SECRET "\"}" },
    { "allocate", "{\"nameplate\":\"42\",\"expires_in\":600}" },
    { "allocate",
      "{\"nameplate\":\"42\",\"expires_in\":600,\"side\":2,\"secret\":\"" SECRET "\"}" },
    { "allocate", "{\"nameplate\":\"42\",\"expires_in\":600,\"side\":1,\"secret\":\"abc\"}" },
    { "allocate", "{\"nameplate\":\"42\",\"expires_in\":600,\"side\":1,\"secret\":\""
                  "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\"}" },
    { "join", "{\"nameplate\":\"1\",\"expires_in\":600,\"side\":1,\"secret\":\"" SECRET "\"}" },
    { "join", "{\"nameplate\":\"7\",\"expires_in\":600,\"side\":2,\"secret\":\"" SECRET "\"}" },
    { "join", "{\"nameplate\":\"1\",\"expires_in\":600,\"side\":2}" },
    { "post", "{\"index\":0}" },
    { "post", "{\"index\":\"1\"}" },
    { "fetch", "{}" },
    { "fetch", "{\"messages\":{}}" },
    { "fetch", "{\"messages\":[1]}" },
    { "fetch", "{\"messages\":[{\"index\":1,\"side\":1,\"phase\":\"pake\",\"body\":\"a\"}]}" },
    { "fetch", "{\"messages\":[{\"index\":1,\"side\":\"1\",\"phase\":\"pake\",\"body\":\"\"}]}" },
    { "fetch", "{\"messages\":[{\"index\":1,\"side\":3,\"phase\":\"pake\",\"body\":\"\"}]}" },
    { "fetch", "{\"messages\":[{\"index\":1,\"side\":0,\"phase\":\"pake\",\"body\":\"\"}]}" },
    { "fetch", "{\"messages\":[{\"index\":1,\"side\":\"0123456789abcdef\",\"phase\":\"pake\","
               "\"body\":\"\"}]}" },
    { "fetch", "{\"messages\":[{\"index\":2,\"side\":1,\"phase\":\"pake\",\"body\":\"\"},"
               "{\"index\":2,\"side\":1,\"phase\":\"pake\",\"body\":\"\"}]}" },
    { "fetch", "{\"messages\":[{\"index\":1,\"side\":1,\"body\":\"\"}]}" },
    { "turn", "{\"turn\":[\"turn:x\"]}" },
    { "turn", "{\"stun\":[1]}" },
    { "turn", "{\"stun\":[],\"turn\":[\"turn:x\"],\"username\":\"u\"}" },
  };
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (SoupServer) server = soup_server_new (NULL, NULL);
      g_autoptr (PhRendezvousClient) client = NULL;
      g_autoptr (GAsyncResult) result = NULL;
      g_autoptr (GError) error = NULL;
      g_autoptr (GSocketAddress) bound = NULL;
      g_autofree char *url = NULL;
      GSList *listeners;
      gboolean ok;

      g_test_message ("%s: %s", cases[i].operation, cases[i].body);
      soup_server_add_handler (server, NULL, canned_cb, (gpointer)cases[i].body, NULL);
      g_assert_true (soup_server_listen (server, address, 0, &error));
      listeners = soup_server_get_listeners (server);
      bound = g_socket_get_local_address (listeners->data, &error);
      g_slist_free (listeners);
      url = g_strdup_printf ("http://127.0.0.1:%u",
                             g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
      client = ph_rendezvous_client_new (url, &error);

      if (strcmp (cases[i].operation, "allocate") == 0)
        {
          g_autofree char *nameplate = NULL;

          ph_rendezvous_client_allocate_async (client, NULL, ph_test_result_cb, &result);
          nameplate
              = ph_rendezvous_client_allocate_finish (client, wait_result (&result), NULL, &error);
          ok = nameplate != NULL;
        }
      else if (strcmp (cases[i].operation, "post") == 0)
        {
          g_autoptr (GBytes) body = g_bytes_new_static ("x", 1);

          ph_rendezvous_client_post_async (client, "1", "pake", body, NULL, ph_test_result_cb,
                                           &result);
          ok = ph_rendezvous_client_post_finish (client, wait_result (&result), NULL, &error);
        }
      else if (strcmp (cases[i].operation, "join") == 0)
        ok = join (client, "1", NULL, &error);
      else if (strcmp (cases[i].operation, "fetch") == 0)
        {
          g_autoptr (GPtrArray) messages = NULL;

          ph_rendezvous_client_fetch_async (client, "1", 0, 0, NULL, ph_test_result_cb, &result);
          messages = ph_rendezvous_client_fetch_finish (client, wait_result (&result), &error);
          ok = messages != NULL;
        }
      else
        {
          g_autoptr (PhTurnInfo) info = NULL;

          info = get_turn (client, NULL, &error);
          ok = info != NULL;
        }

      g_assert_false (ok);
      g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS);
      g_assert_nonnull (strstr (error->message, url));
    }
}

/* A client over its rate limit waits as the server says and then gets
 * through, instead of failing the person's chat. */
static void
test_busy_server_is_retried (void)
{
  Fixture fixture = { 0 };
  gint64 start;
  g_autoptr (PhRateLimiter) limiter
      = g_object_new (PH_TYPE_RATE_LIMITER, "rate", 1, "burst", 2, NULL);

  fixture_start (&fixture, "limiter", limiter, NULL);
  start = g_get_monotonic_time ();
  for (guint i = 0; i < 4; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *nameplate = allocate (fixture.client, NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (nameplate);
    }
  /* Two requests fit the burst; the other two waited for Retry-After. */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, G_USEC_PER_SEC);
  fixture_stop (&fixture);
}

/* A new server on the fixture's port, as after a restart: no mailboxes. */
static void
restart_server (Fixture *fixture)
{
  guint port = ph_rendezvous_server_get_port (fixture->server);

  g_assert_finalize_object (g_steal_pointer (&fixture->server));
  fixture->server = ph_test_server_start (port, NULL);
}

/* After a restart the client's mailbox is gone (404); it claims the
 * number back, with a new secret. After another restart someone else has
 * the number: the client's requests, which name its own mailbox, are
 * refused (412) rather than reaching the stranger's, and so is its claim;
 * without its tag, its old secret is nobody's there (401). */
static void
test_claim_after_restart (void)
{
  Fixture fixture = { 0 };
  g_autoptr (PhRendezvousClient) stranger = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *nameplate = NULL;
  g_autofree char *strangers = NULL;

  fixture_start (&fixture, NULL);
  nameplate = allocate (fixture.client, NULL, &error);
  g_assert_true (post (fixture.client, nameplate, "one", NULL, &error));

  restart_server (&fixture);
  g_assert_null (fetch (fixture.client, nameplate, 0, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_UNKNOWN_CODE);
  g_clear_error (&error);
  g_assert_true (claim (fixture.client, nameplate, &error));
  g_assert_no_error (error);
  g_assert_true (post (fixture.client, nameplate, "two", NULL, &error));
  messages = fetch (fixture.client, nameplate, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (messages->len, ==, 1);
  assert_message (g_ptr_array_index (messages, 0), 1, HOST, "two");
  g_clear_pointer (&messages, g_ptr_array_unref);
  /* Its own, which it holds: no one else's claim takes it. */
  g_assert_false (claim (fixture.joiner, nameplate, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_MAILBOX_FULL);
  g_clear_error (&error);

  restart_server (&fixture);
  stranger = ph_rendezvous_client_new (ph_rendezvous_client_get_base_url (fixture.client), NULL);
  strangers = allocate (stranger, NULL, &error);
  g_assert_cmpstr (strangers, ==, nameplate);
  g_assert_true (post (stranger, strangers, "not yours", NULL, &error));

  g_assert_null (fetch (fixture.client, nameplate, 0, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_UNKNOWN_CODE);
  g_assert_nonnull (strstr (error->message, "no longer has"));
  g_clear_error (&error);
  g_assert_false (post (fixture.client, nameplate, "three", NULL, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_UNKNOWN_CODE);
  g_clear_error (&error);
  g_assert_false (leave (fixture.client, nameplate, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_UNKNOWN_CODE);
  g_clear_error (&error);
  g_assert_false (claim (fixture.client, nameplate, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_MAILBOX_FULL);
  g_clear_error (&error);

  /* Forgotten, the number is just a number again, and the stranger's
   * mailbox none of its business. */
  ph_rendezvous_client_forget_mailbox (fixture.client, nameplate);
  g_assert_null (fetch (fixture.client, nameplate, 0, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_UNKNOWN_CODE);
  g_clear_error (&error);
  messages = fetch (stranger, strangers, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (messages->len, ==, 1);
  assert_message (g_ptr_array_index (messages, 0), 1, HOST, "not yours");

  g_assert_finalize_object (g_steal_pointer (&stranger));
  fixture_stop (&fixture);
}

/* A joiner back after a restart joins only the mailbox whose first
 * message it read: not before its host has claimed the number and posted
 * that again, and never a stranger's. */
static void
test_join_after_restart (void)
{
  Fixture fixture = { 0 };
  g_autoptr (PhRendezvousClient) stranger = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *nameplate = NULL;
  g_autofree char *strangers = NULL;

  fixture_start (&fixture, NULL);
  nameplate = allocate (fixture.client, NULL, &error);
  g_assert_true (post (fixture.client, nameplate, "first", NULL, &error));
  g_assert_true (join (fixture.joiner, nameplate, NULL, &error));

  restart_server (&fixture);
  g_assert_false (join (fixture.joiner, nameplate, "first", &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_UNKNOWN_CODE);
  g_clear_error (&error);
  g_assert_true (claim (fixture.client, nameplate, &error));
  g_assert_false (join (fixture.joiner, nameplate, "first", &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_UNKNOWN_CODE);
  g_clear_error (&error);
  g_assert_true (post (fixture.client, nameplate, "first", NULL, &error));
  g_assert_true (join (fixture.joiner, nameplate, "first", &error));
  g_assert_no_error (error);
  messages = fetch (fixture.joiner, nameplate, 0, &error);
  g_assert_no_error (error);
  assert_message (g_ptr_array_index (messages, 0), 1, HOST, "first");

  restart_server (&fixture);
  stranger = ph_rendezvous_client_new (ph_rendezvous_client_get_base_url (fixture.client), NULL);
  strangers = allocate (stranger, NULL, &error);
  g_assert_cmpstr (strangers, ==, nameplate);
  g_assert_true (post (stranger, strangers, "someone else", NULL, &error));
  g_assert_false (join (fixture.joiner, nameplate, "first", &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_MAILBOX_FULL);
  g_assert_nonnull (strstr (error->message, "another chat"));
  g_clear_error (&error);
  /* The stranger's second seat is still free for its own joiner. */
  g_assert_true (join (fixture.client, strangers, NULL, &error));
  g_assert_no_error (error);

  g_assert_finalize_object (g_steal_pointer (&stranger));
  fixture_stop (&fixture);
}

/* A server that drops the connection of the first claim it gets, as if
 * its answer was lost, and answers the others. */
typedef struct
{
  GPtrArray *keys; /* the Idempotency-Key of each claim */
} Claims;

static void
lossy_claim_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                gpointer user_data)
{
  static const char answer[]
      = "{\"nameplate\":\"5\",\"expires_in\":600,\"side\":1,\"secret\":\"" SECRET "\"}";
  Claims *claims = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);

  g_ptr_array_add (claims->keys,
                   g_strdup (soup_message_headers_get_one (headers, "Idempotency-Key")));
  if (claims->keys->len == 1)
    {
      g_autoptr (GIOStream) stream = soup_server_message_steal_connection (msg);

      g_io_stream_close (stream, NULL, NULL);
      return;
    }
  soup_server_message_set_status (msg, claims->keys->len == 2 ? 201 : 200, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, answer,
                                    strlen (answer));
}

/* A claim tried again after its answer was lost is the same claim to the
 * server: it carries the same Idempotency-Key, which a later claim does
 * not. */
static void
test_claim_repeated_after_lost_answer (void)
{
  g_autoptr (SoupServer) server = soup_server_new (NULL, NULL);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (PhRendezvousClient) client = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *url = NULL;
  Claims claims = { g_ptr_array_new_with_free_func (g_free) };
  GSList *listeners;

  soup_server_add_handler (server, NULL, lossy_claim_cb, &claims, NULL);
  g_assert_true (soup_server_listen (server, address, 0, &error));
  listeners = soup_server_get_listeners (server);
  bound = g_socket_get_local_address (listeners->data, &error);
  g_slist_free (listeners);
  url = g_strdup_printf ("http://127.0.0.1:%u",
                         g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  client = ph_rendezvous_client_new (url, &error);

  g_assert_false (claim (client, "5", &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS_UNREACHABLE);
  g_clear_error (&error);
  g_assert_true (claim (client, "5", &error));
  g_assert_no_error (error);
  g_assert_true (claim (client, "5", &error));

  g_assert_cmpuint (claims.keys->len, ==, 3);
  g_assert_cmpuint (strlen (g_ptr_array_index (claims.keys, 0)), ==, 32);
  g_assert_cmpstr (g_ptr_array_index (claims.keys, 1), ==, g_ptr_array_index (claims.keys, 0));
  g_assert_cmpstr (g_ptr_array_index (claims.keys, 2), !=, g_ptr_array_index (claims.keys, 1));
  g_ptr_array_unref (claims.keys);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/rendezvous-client/mailbox-round-trip", test_mailbox_round_trip);
  g_test_add_func ("/rendezvous-client/fetch-waits-for-post", test_fetch_waits_for_post);
  g_test_add_func ("/rendezvous-client/cancel-fetch", test_cancel_fetch);
  g_test_add_func ("/rendezvous-client/refusals", test_refusals);
  g_test_add_func ("/rendezvous-client/turn", test_turn);
  g_test_add_func ("/rendezvous-client/turn-not-configured", test_turn_not_configured);
  g_test_add_func ("/rendezvous-client/unreachable", test_unreachable);
  g_test_add_func ("/rendezvous-client/busy-server-is-retried", test_busy_server_is_retried);
  g_test_add_func ("/rendezvous-client/claim-after-restart", test_claim_after_restart);
  g_test_add_func ("/rendezvous-client/join-after-restart", test_join_after_restart);
  g_test_add_func ("/rendezvous-client/claim-repeated-after-lost-answer",
                   test_claim_repeated_after_lost_answer);
  g_test_add_func ("/rendezvous-client/bad-base-url", test_bad_base_url);
  g_test_add_func ("/rendezvous-client/malformed-answers", test_malformed_answers);

  return g_test_run ();
}
