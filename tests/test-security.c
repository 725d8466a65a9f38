/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-security"

#include "config.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "ph-code.h"
#include "ph-conversation.h"
#include "ph-error.h"
#include "ph-pake.h"
#include "ph-test-programs.h"
#include "ph-test-wait.h"

/* A rendezvous server in the middle: every request of two real peers goes
 * through this proxy, which tampers with what it relays the way a hostile
 * server could. Whatever it does, the peers must never connect to anyone
 * but each other, and must say why they stopped. */

#define TIMEOUT_MS ph_test_scaled_ms (20000)

typedef enum
{
  ATTACK_FLIP_DESCRIPTION_BIT, /* change one bit of a sealed description */
  ATTACK_REPLAY_DESCRIPTION,   /* post a sealed description a second time */
  ATTACK_OWN_PAKE,             /* answer the host's PAKE with the attacker's guess */
} Attack;

typedef struct
{
  Attack attack;
  SoupServer *proxy;
  SoupSession *session;
  char *upstream;
  guint pake_messages;
  gboolean attacked;
} Proxy;

typedef struct
{
  SoupServerMessage *message;
  Proxy *proxy;
} Forward;

/* What a relaying server passes on each way: the side's secret and the
 * mailbox's tag, and what the server says about waiting. */
static const char *const request_headers[] = { "Authorization", "If-Match", "Idempotency-Key" };
static const char *const response_headers[] = { "ETag", "Retry-After", "WWW-Authenticate" };

static void
copy_headers (SoupMessageHeaders *from, SoupMessageHeaders *to, const char *const *names,
              guint n_names)
{
  for (guint i = 0; i < n_names; i++)
    {
      const char *value = soup_message_headers_get_one (from, names[i]);

      if (value != NULL)
        soup_message_headers_replace (to, names[i], value);
    }
}

typedef struct
{
  PhConversation *conversation;
  gboolean connected;
  gboolean ended;
} Peer;

static void
relay_answer_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Forward *forward = user_data;
  SoupMessage *upstream = soup_session_get_async_result_message (SOUP_SESSION (source), result);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body
      = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);

  if (body == NULL)
    soup_server_message_set_status (forward->message, SOUP_STATUS_BAD_GATEWAY, NULL);
  else
    {
      gsize length;
      const char *data = g_bytes_get_data (body, &length);

      soup_server_message_set_status (forward->message, soup_message_get_status (upstream), NULL);
      copy_headers (soup_message_get_response_headers (upstream),
                    soup_server_message_get_response_headers (forward->message), response_headers,
                    G_N_ELEMENTS (response_headers));
      soup_server_message_set_response (forward->message, "application/json", SOUP_MEMORY_COPY,
                                        data, length);
    }
  soup_server_message_unpause (forward->message);
  g_object_unref (forward->message);
  g_free (forward);
}

static void
relay (Proxy *proxy, SoupServerMessage *message, const char *method, const char *path_and_query,
       GBytes *body)
{
  g_autofree char *url = g_strconcat (proxy->upstream, path_and_query, NULL);
  g_autoptr (SoupMessage) upstream = soup_message_new (method, url);
  Forward *forward = g_new0 (Forward, 1);

  if (body != NULL && g_bytes_get_size (body) > 0)
    soup_message_set_request_body_from_bytes (upstream, "application/json", body);
  copy_headers (soup_server_message_get_request_headers (message),
                soup_message_get_request_headers (upstream), request_headers,
                G_N_ELEMENTS (request_headers));
  forward->message = g_object_ref (message);
  forward->proxy = proxy;
  soup_server_message_pause (message);
  soup_session_send_and_read_async (proxy->session, upstream, G_PRIORITY_DEFAULT, NULL,
                                    relay_answer_cb, forward);
}

/* Rewrites the "body" member of a posted mailbox message. */
static GBytes *
with_body (JsonObject *posted, GBytes *new_body)
{
  g_autoptr (JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *encoded
      = g_base64_encode (g_bytes_get_data (new_body, NULL), g_bytes_get_size (new_body));
  char *text;

  json_object_set_string_member (posted, "body", encoded);
  json_node_set_object (root, posted);
  text = json_to_string (root, FALSE);
  return g_bytes_new_take (text, strlen (text));
}

static GBytes *
attacked_body (Proxy *proxy, const char *path, GBytes *body)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *posted;
  const char *phase;
  gsize length;
  g_autofree guint8 *raw = NULL;

  if (proxy->attacked || !g_str_has_suffix (path, "/messages") || g_bytes_get_size (body) == 0
      || !json_parser_load_from_data (parser, g_bytes_get_data (body, NULL),
                                      g_bytes_get_size (body), NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return g_bytes_ref (body);

  posted = json_node_get_object (json_parser_get_root (parser));
  phase = json_object_get_string_member (posted, "phase");
  raw = g_base64_decode (json_object_get_string_member (posted, "body"), &length);

  switch (proxy->attack)
    {
    case ATTACK_FLIP_DESCRIPTION_BIT:
      if (g_str_equal (phase, "desc"))
        {
          g_autoptr (GBytes) changed = NULL;

          raw[length / 2] ^= 0x01;
          changed = g_bytes_new (raw, length);
          proxy->attacked = TRUE;
          return with_body (posted, changed);
        }
      break;

    case ATTACK_OWN_PAKE:
      /* The host's PAKE message comes first; the joiner's is swapped for
       * one the attacker made from a guessed code. */
      if (g_str_equal (phase, "pake") && ++proxy->pake_messages == 2)
        {
          const char *const *first = ph_code_get_first_words ();
          const char *const *second = ph_code_get_second_words ();
          g_autofree char *guess = g_strdup_printf ("1-%s-%s", first[0], second[0]);
          /* In the joiner's place: side 2. */
          g_autoptr (PhPake) attacker = ph_pake_new (guess, "1", "2");
          g_autoptr (GBytes) message = ph_pake_get_message (attacker);

          proxy->attacked = TRUE;
          return with_body (posted, message);
        }
      break;

    case ATTACK_REPLAY_DESCRIPTION:
    default:
      break;
    }

  return g_bytes_ref (body);
}

static void
replay_posted_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GBytes) answer
      = soup_session_send_and_read_finish (SOUP_SESSION (source), result, NULL);
}

static void
proxy_handler_cb (SoupServer *server, SoupServerMessage *message, const char *path,
                  GHashTable *query, gpointer user_data)
{
  Proxy *proxy = user_data;
  GUri *uri = soup_server_message_get_uri (message);
  g_autofree char *path_and_query = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GBytes) forwarded = NULL;

  path_and_query = g_uri_get_query (uri) != NULL
                       ? g_strconcat (g_uri_get_path (uri), "?", g_uri_get_query (uri), NULL)
                       : g_strdup (g_uri_get_path (uri));
  body = soup_message_body_flatten (soup_server_message_get_request_body (message));
  forwarded = attacked_body (proxy, path, body);

  if (proxy->attack == ATTACK_REPLAY_DESCRIPTION && !proxy->attacked
      && strstr (g_bytes_get_data (body, NULL) != NULL ? g_bytes_get_data (body, NULL) : "",
                 "\"phase\":\"desc\"")
             != NULL)
    {
      g_autofree char *url = g_strconcat (proxy->upstream, path_and_query, NULL);
      g_autoptr (SoupMessage) again = soup_message_new ("POST", url);

      /* The same sealed description arrives twice, as a replaying server
       * would post it. */
      proxy->attacked = TRUE;
      soup_message_set_request_body_from_bytes (again, "application/json", body);
      copy_headers (soup_server_message_get_request_headers (message),
                    soup_message_get_request_headers (again), request_headers,
                    G_N_ELEMENTS (request_headers));
      soup_session_send_and_read_async (proxy->session, again, G_PRIORITY_DEFAULT, NULL,
                                        replay_posted_cb, NULL);
    }

  relay (proxy, message, soup_server_message_get_method (message), path_and_query, forwarded);
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

static gboolean
both_ended (gpointer data)
{
  Peer *peers = data;

  return peers[0].ended && peers[1].ended;
}

static gboolean
has_code (gpointer data)
{
  return ph_conversation_get_code (data) != NULL;
}

/* @expected_a and @expected_b are the errors the two peers must end with,
 * in either order: which peer's description is attacked first is a race. */
static void
run_attack (Attack attack, PhError expected_a, PhError expected_b)
{
  g_autoptr (PhTestProcess) server = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) listening = NULL;
  GSList *listeners;
  g_autofree char *proxy_url = NULL;
  Proxy proxy = { .attack = attack };
  Peer peers[2] = { { 0 } };

  server = ph_test_start_rendezvous (NULL, &proxy.upstream);
  proxy.session = soup_session_new_with_options ("max-conns-per-host", 16, NULL);
  proxy.proxy = soup_server_new (NULL, NULL);
  soup_server_add_handler (proxy.proxy, NULL, proxy_handler_cb, &proxy, NULL);
  g_assert_true (soup_server_listen (proxy.proxy, address, 0, &error));
  g_assert_no_error (error);
  /* The port from the listening socket: soup_server_get_uris() leaks in 3.2. */
  listeners = soup_server_get_listeners (proxy.proxy);
  listening = g_socket_get_local_address (listeners->data, &error);
  g_assert_no_error (error);
  g_slist_free (listeners);
  proxy_url = g_strdup_printf ("http://127.0.0.1:%u",
                               g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (listening)));

  for (guint i = 0; i < 2; i++)
    {
      peers[i].conversation = ph_conversation_new (proxy_url, i == 0 ? "Alice" : "Bob", NULL);
      g_signal_connect (peers[i].conversation, "notify::state", G_CALLBACK (state_cb), &peers[i]);
    }

  ph_conversation_host (peers[0].conversation);
  g_assert_true (ph_test_wait_until (has_code, peers[0].conversation, TIMEOUT_MS));
  g_assert_true (ph_conversation_join (peers[1].conversation,
                                       ph_conversation_get_code (peers[0].conversation), &error));
  g_assert_true (ph_test_wait_until (both_ended, peers, TIMEOUT_MS));

  g_assert_true (proxy.attacked);
  g_assert_false (peers[0].connected);
  g_assert_false (peers[1].connected);
  for (guint i = 0; i < 2; i++)
    {
      const GError *peer_error = ph_conversation_get_error (peers[i].conversation);
      const GError *other_error = ph_conversation_get_error (peers[1 - i].conversation);

      g_assert_nonnull (peer_error);
      g_assert_nonnull (other_error);
      g_test_message ("%s: %s", i == 0 ? "host" : "joiner", peer_error->message);
      if (g_error_matches (peer_error, PH_ERROR, expected_a)
          && g_error_matches (other_error, PH_ERROR, expected_b))
        break;
      if (i == 1)
        g_error ("the peers ended with %s and %s, not %s and %s", ph_error_code_name (other_error),
                 ph_error_code_name (peer_error),
                 ph_error_code_name (&(GError){ PH_ERROR, expected_a, NULL }),
                 ph_error_code_name (&(GError){ PH_ERROR, expected_b, NULL }));
    }

  for (guint i = 0; i < 2; i++)
    g_clear_object (&peers[i].conversation);
  soup_server_disconnect (proxy.proxy);
  g_clear_object (&proxy.proxy);
  g_clear_object (&proxy.session);
  g_assert_cmpint (ph_test_process_stop (server), ==, 0);
  g_free (proxy.upstream);
}

static void
test_tampered_description (void)
{
  /* The peer that cannot open the description says so and leaves; the
   * other learns at once that its peer left. */
  run_attack (ATTACK_FLIP_DESCRIPTION_BIT, PH_ERROR_TAMPERED, PH_ERROR_PEER_LEFT);
}

static void
test_replayed_description (void)
{
  run_attack (ATTACK_REPLAY_DESCRIPTION, PH_ERROR_REPLAYED, PH_ERROR_PEER_LEFT);
}

static void
test_attacker_runs_its_own_pake (void)
{
  run_attack (ATTACK_OWN_PAKE, PH_ERROR_WRONG_CODE, PH_ERROR_WRONG_CODE);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/security/tampered-description", test_tampered_description);
  g_test_add_func ("/security/replayed-description", test_replayed_description);
  g_test_add_func ("/security/attacker-runs-its-own-pake", test_attacker_runs_its_own_pake);

  return g_test_run ();
}
