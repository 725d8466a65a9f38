/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-security"

#include "config.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "ph-code.h"
#include "ph-conversation-private.h"
#include "ph-conversation.h"
#include "ph-error.h"
#include "ph-mailbox-batch.h"
#include "ph-mailbox-format.h"
#include "ph-memory-store.h"
#include "ph-nice-stream.h"
#include "ph-pake.h"
#include "ph-reliable-link.h"
#include "ph-rendezvous-client.h"
#include "ph-signaling.h"
#include "ph-store.h"
#include "ph-test-needs-hooks.h"
#include "ph-test-programs.h"
#include "ph-test-server.h"
#include "ph-test-wait.h"

/* A rendezvous server in the middle: every request of two real peers goes
 * through this proxy, which tampers with what it relays the way a hostile
 * server could. It sees each side's secret (in the answer that gave it,
 * then in every request's Authorization), so it can post and replay in a
 * side's name. Whatever it does, the peers must never connect to anyone
 * but each other, and must say why they stopped.
 *
 * Then a guesser who knows only the nameplate: it takes the joiner's seat
 * before the real joiner and runs the PAKE on a guessed code. And the
 * server itself, the only one left who can post in a side's name once
 * both seats are taken, forging control messages after the key.
 *
 * Last, a third party off the path of a connected chat that knows both
 * ends' addresses and ports, and sends each end reliable-link packets from
 * the other's address, numbered the way every link used to start. */

#define TIMEOUT_MS ph_test_scaled_ms (20000)
/* Well under the 20 s a peer has to confirm the key: an ending this quick
 * did not come from running out of patience. */
#define PROMPT_MS ph_test_scaled_ms (8000)

typedef enum
{
  ATTACK_FLIP_DESCRIPTION_BIT,  /* change one bit of a sealed description */
  ATTACK_REPLAY_DESCRIPTION,    /* post a sealed description a second time */
  ATTACK_OWN_PAKE,              /* answer the host's PAKE with the attacker's guess */
  ATTACK_FORGE_BYE,             /* after each side's description, an unsealed bye in its name */
  ATTACK_HOLD_HOST_DESCRIPTION, /* keep the host's description until the joiner's bye */
} Attack;

typedef struct
{
  SoupServerMessage *message;
  char *path_and_query;
  GBytes *body;
} Held;

typedef struct
{
  Attack attack;
  SoupServer *proxy;
  SoupSession *session;
  char *upstream;
  /* "Bearer <secret>" → side number, learnt from the answers that gave
   * each seat its secret. */
  GHashTable *sides;
  gboolean host_pake_stored;
  gboolean attacked;
  guint forged_for; /* bit 1 << side for each side whose description was followed by a forged bye */
  Held *held;
} Proxy;

typedef struct
{
  SoupServerMessage *message;
  Proxy *proxy;
  gboolean host_pake;  /* the host's PAKE message: the proxy notes when it is stored */
  SoupMessage *forged; /* a forged bye goes upstream before the answer is relayed */
} Forward;

/* What a relaying server passes on each way: the side's secret and the
 * mailbox's tag, and what the server says about waiting. */
static const char *const request_headers[] = { "Authorization", "If-Match", "Idempotency-Key" };
/* What a forged post in a side's name carries of that side's request. */
static const char *const side_headers[] = { "Authorization", "If-Match" };
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
forward_free (Forward *forward)
{
  soup_server_message_unpause (forward->message);
  g_object_unref (forward->message);
  g_clear_object (&forward->forged);
  g_free (forward);
}

static void
forged_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Forward *forward = user_data;
  g_autoptr (GBytes) answer
      = soup_session_send_and_read_finish (SOUP_SESSION (source), result, NULL);

  /* Stored in the side's name: its Authorization was good for it. */
  g_assert_cmpuint (soup_message_get_status (forward->forged), ==, SOUP_STATUS_CREATED);
  forward_free (forward);
}

/* An answer that gives a seat its secret: from then on the proxy knows
 * that side by its Authorization. */
static void
note_seat (Proxy *proxy, GBytes *answer)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *object;

  if (g_bytes_get_size (answer) == 0
      || !json_parser_load_from_data (parser, g_bytes_get_data (answer, NULL),
                                      g_bytes_get_size (answer), NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return;
  object = json_node_get_object (json_parser_get_root (parser));
  if (json_object_has_member (object, "secret") && json_object_has_member (object, "side"))
    g_hash_table_insert (
        proxy->sides,
        g_strconcat ("Bearer ", json_object_get_string_member (object, "secret"), NULL),
        GUINT_TO_POINTER ((guint)json_object_get_int_member (object, "side")));
}

/* The side whose secret @message carries, or 0. */
static guint
side_of (Proxy *proxy, SoupServerMessage *message)
{
  const char *authorization = soup_message_headers_get_one (
      soup_server_message_get_request_headers (message), "Authorization");

  if (authorization == NULL)
    return 0;
  return GPOINTER_TO_UINT (g_hash_table_lookup (proxy->sides, authorization));
}

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
      note_seat (forward->proxy, body);
      if (forward->host_pake && soup_message_get_status (upstream) == SOUP_STATUS_CREATED)
        forward->proxy->host_pake_stored = TRUE;
    }
  if (body != NULL && forward->forged != NULL)
    {
      /* Stored right after the description, before its poster hears back. */
      soup_session_send_and_read_async (forward->proxy->session, forward->forged,
                                        G_PRIORITY_DEFAULT, NULL, forged_cb, forward);
      return;
    }
  forward_free (forward);
}

/* Sends a request on upstream for @message, which must be paused. */
static Forward *
send_upstream (Proxy *proxy, SoupServerMessage *message, const char *method,
               const char *path_and_query, GBytes *body)
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
  soup_session_send_and_read_async (proxy->session, upstream, G_PRIORITY_DEFAULT, NULL,
                                    relay_answer_cb, forward);
  return forward;
}

static Forward *
relay (Proxy *proxy, SoupServerMessage *message, const char *method, const char *path_and_query,
       GBytes *body)
{
  soup_server_message_pause (message);
  return send_upstream (proxy, message, method, path_and_query, body);
}

/* A mailbox post as the server takes it: the side is the one whose
 * secret comes with it. */
static GBytes *
message_json (const char *phase, const char *body)
{
  g_autofree char *encoded = g_base64_encode ((const guchar *)body, strlen (body));
  char *text = g_strdup_printf ("{\"phase\":\"%s\",\"body\":\"%s\"}", phase, encoded);

  return g_bytes_new_take (text, strlen (text));
}

/* A bye posted in the name of the side that sent @message, with its
 * Authorization. */
static SoupMessage *
forged_bye (Proxy *proxy, SoupServerMessage *message, const char *path_and_query)
{
  g_autofree char *url = g_strconcat (proxy->upstream, path_and_query, NULL);
  g_autoptr (GBytes) body = message_json ("bye", "ice-failed");
  SoupMessage *forged = soup_message_new ("POST", url);

  soup_message_set_request_body_from_bytes (forged, "application/json", body);
  copy_headers (soup_server_message_get_request_headers (message),
                soup_message_get_request_headers (forged), side_headers,
                G_N_ELEMENTS (side_headers));
  return forged;
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

/* The messages in @posted: itself, or those of its batch (a side posts
 * what it has at once as one batch: ph-mailbox-batch.h). */
static GPtrArray *
posted_messages (JsonObject *posted)
{
  PhMailboxMessage message
      = { 0, (char *)"0", (char *)json_object_get_string_member (posted, "phase"), NULL };
  GPtrArray *messages;
  gsize length;
  guint8 *raw = g_base64_decode (json_object_get_string_member (posted, "body"), &length);

  message.body = g_bytes_new_take (raw, length);
  if (g_str_equal (message.phase, PH_MAILBOX_BATCH_PHASE))
    messages = ph_mailbox_batch_decode (&message, NULL);
  else
    {
      PhMailboxMessage *copy = g_new0 (PhMailboxMessage, 1);

      messages = g_ptr_array_new_with_free_func ((GDestroyNotify)ph_mailbox_message_free);
      copy->side = g_strdup (message.side);
      copy->phase = g_strdup (message.phase);
      copy->body = g_bytes_ref (message.body);
      g_ptr_array_add (messages, copy);
    }
  g_bytes_unref (message.body);
  g_assert_nonnull (messages);
  return messages;
}

/* The first message of @phase in @posted, or NULL. */
static PhMailboxMessage *
find_posted (GPtrArray *messages, const char *phase)
{
  for (guint i = 0; i < messages->len; i++)
    {
      PhMailboxMessage *message = g_ptr_array_index (messages, i);

      if (g_str_equal (message->phase, phase))
        return message;
    }
  return NULL;
}

/* Whether @posted is, or carries, a message of @phase. */
static gboolean
posts (JsonObject *posted, const char *phase)
{
  g_autoptr (GPtrArray) messages = NULL;

  if (posted == NULL)
    return FALSE;
  messages = posted_messages (posted);
  return find_posted (messages, phase) != NULL;
}

/* @posted again, with @messages (those of posted_messages()) in it. */
static GBytes *
with_messages (JsonObject *posted, GPtrArray *messages)
{
  const char *phases[PH_MAILBOX_BATCH_MAX_MESSAGES];
  GBytes *bodies[PH_MAILBOX_BATCH_MAX_MESSAGES];
  g_autoptr (GBytes) batch = NULL;

  if (messages->len == 1)
    return with_body (posted, ((PhMailboxMessage *)g_ptr_array_index (messages, 0))->body);
  for (guint i = 0; i < messages->len; i++)
    {
      phases[i] = ((PhMailboxMessage *)g_ptr_array_index (messages, i))->phase;
      bodies[i] = ((PhMailboxMessage *)g_ptr_array_index (messages, i))->body;
    }
  batch = ph_mailbox_batch_encode (phases, bodies, messages->len);
  return with_body (posted, batch);
}

/* The nameplate of a "/v1/mailboxes/N/messages" path. */
static char *
nameplate_of_path (const char *path)
{
  g_auto (GStrv) parts = g_strsplit (path, "/", -1);

  g_assert_cmpuint (g_strv_length (parts), ==, 5);
  return g_strdup (parts[3]);
}

/* What the proxy posts in place of @posted, a message of @side. */
static GBytes *
attacked_body (Proxy *proxy, const char *path, JsonObject *posted, guint side, GBytes *body)
{
  g_autoptr (GPtrArray) messages = NULL;
  PhMailboxMessage *description;

  if (proxy->attacked || posted == NULL)
    return g_bytes_ref (body);

  messages = posted_messages (posted);
  switch (proxy->attack)
    {
    case ATTACK_FLIP_DESCRIPTION_BIT:
      if ((description = find_posted (messages, "desc")) != NULL)
        {
          gsize length;
          g_autofree guint8 *raw = g_bytes_unref_to_data (description->body, &length);

          raw[length / 2] ^= 0x01;
          description->body = g_bytes_new (raw, length);
          proxy->attacked = TRUE;
          return with_messages (posted, messages);
        }
      break;

    case ATTACK_OWN_PAKE:
      /* The joiner's PAKE message is swapped for one the attacker made
       * from a guessed code, in the joiner's place. */
      if (side == PH_MAILBOX_JOINER_SIDE && (description = find_posted (messages, "pake")) != NULL)
        {
          const char *const *first = ph_code_get_first_words ();
          const char *const *second = ph_code_get_second_words ();
          g_autofree char *nameplate = nameplate_of_path (path);
          g_autofree char *guess = g_strdup_printf ("%s-%s-%s", nameplate, first[0], second[0]);
          g_autofree char *joiner = g_strdup_printf ("%u", PH_MAILBOX_JOINER_SIDE);
          g_autoptr (PhPake) attacker = ph_pake_new (guess, nameplate, joiner);
          g_autoptr (GBytes) message = ph_pake_get_message (attacker);

          proxy->attacked = TRUE;
          g_bytes_unref (description->body);
          description->body = g_bytes_ref (message);
          return with_messages (posted, messages);
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
  const char *method = soup_server_message_get_method (message);
  /* A joiner posts its first messages with its join (…/join?post=1). */
  gboolean join_posts = g_str_has_suffix (path, "/join") && query != NULL
                        && g_strcmp0 (g_hash_table_lookup (query, "post"), "1") == 0;
  guint side = join_posts ? PH_MAILBOX_JOINER_SIDE : side_of (proxy, message);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *posted = NULL;
  g_autofree char *path_and_query = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GBytes) forwarded = NULL;
  Forward *forward;

  path_and_query = g_uri_get_query (uri) != NULL
                       ? g_strconcat (g_uri_get_path (uri), "?", g_uri_get_query (uri), NULL)
                       : g_strdup (g_uri_get_path (uri));
  body = soup_message_body_flatten (soup_server_message_get_request_body (message));
  if (g_str_equal (method, "POST") && (g_str_has_suffix (path, "/messages") || join_posts))
    {
      g_assert_true (json_parser_load_from_data (parser, g_bytes_get_data (body, NULL),
                                                 g_bytes_get_size (body), NULL));
      posted = json_node_get_object (json_parser_get_root (parser));
    }
  forwarded = attacked_body (proxy, path, posted, side, body);

  if (proxy->attack == ATTACK_REPLAY_DESCRIPTION && !proxy->attacked && posts (posted, "desc"))
    {
      g_autofree char *url = g_strconcat (proxy->upstream, path_and_query, NULL);
      g_autoptr (SoupMessage) again = soup_message_new ("POST", url);

      /* The same sealed description arrives twice, as a replaying server
       * would post it, with its poster's Authorization. */
      proxy->attacked = TRUE;
      soup_message_set_request_body_from_bytes (again, "application/json", body);
      copy_headers (soup_server_message_get_request_headers (message),
                    soup_message_get_request_headers (again), request_headers,
                    G_N_ELEMENTS (request_headers));
      soup_session_send_and_read_async (proxy->session, again, G_PRIORITY_DEFAULT, NULL,
                                        replay_posted_cb, NULL);
    }

  if (proxy->attack == ATTACK_FORGE_BYE && posts (posted, "desc") && side != 0
      && (proxy->forged_for & (1u << side)) == 0)
    {
      forward = relay (proxy, message, method, path_and_query, forwarded);
      forward->forged = forged_bye (proxy, message, path_and_query);
      proxy->forged_for |= 1u << side;
      proxy->attacked
          = proxy->forged_for == ((1u << PH_MAILBOX_HOST_SIDE) | (1u << PH_MAILBOX_JOINER_SIDE));
      return;
    }

  if (proxy->attack == ATTACK_HOLD_HOST_DESCRIPTION && posts (posted, "desc")
      && side == PH_MAILBOX_HOST_SIDE && !proxy->attacked)
    {
      proxy->held = g_new0 (Held, 1);
      proxy->held->message = g_object_ref (message);
      proxy->held->path_and_query = g_strdup (path_and_query);
      proxy->held->body = g_bytes_ref (forwarded);
      proxy->attacked = TRUE;
      soup_server_message_pause (message);
      return;
    }

  /* Let the host post again once the joiner has said goodbye. */
  if (proxy->held != NULL && posts (posted, "bye"))
    {
      Held *held = g_steal_pointer (&proxy->held);

      send_upstream (proxy, held->message, "POST", held->path_and_query, held->body);
      g_object_unref (held->message);
      g_free (held->path_and_query);
      g_bytes_unref (held->body);
      g_free (held);
    }

  forward = relay (proxy, message, method, path_and_query, forwarded);
  forward->host_pake = side == PH_MAILBOX_HOST_SIDE && posts (posted, "pake");
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
both_connected_or_one_ended (gpointer data)
{
  Peer *peers = data;

  return (peers[0].connected && peers[1].connected) || peers[0].ended || peers[1].ended;
}

static gboolean
has_code (gpointer data)
{
  return ph_conversation_get_code (data) != NULL;
}

/* Starts a real rendezvous server and the proxy in front of it; returns
 * the proxy's URL. */
static char *
proxy_start (Proxy *proxy, Attack attack, PhTestProcess **out_server)
{
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) listening = NULL;
  GSList *listeners;

  *proxy = (Proxy){ .attack = attack };
  proxy->sides = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  *out_server = ph_test_start_rendezvous (NULL, &proxy->upstream);
  proxy->session = soup_session_new_with_options ("max-conns-per-host", 16, NULL);
  proxy->proxy = soup_server_new (NULL, NULL);
  soup_server_add_handler (proxy->proxy, NULL, proxy_handler_cb, proxy, NULL);
  g_assert_true (soup_server_listen (proxy->proxy, address, 0, &error));
  g_assert_no_error (error);
  /* The port from the listening socket: soup_server_get_uris() leaks in 3.2. */
  listeners = soup_server_get_listeners (proxy->proxy);
  listening = g_socket_get_local_address (listeners->data, &error);
  g_assert_no_error (error);
  g_slist_free (listeners);
  return g_strdup_printf ("http://127.0.0.1:%u",
                          g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (listening)));
}

static void
proxy_stop (Proxy *proxy, PhTestProcess *server)
{
  g_assert_null (proxy->held);
  soup_server_disconnect (proxy->proxy);
  g_clear_object (&proxy->proxy);
  g_clear_object (&proxy->session);
  g_assert_cmpint (ph_test_process_stop (server), ==, 0);
  g_free (proxy->upstream);
  g_hash_table_unref (proxy->sides);
}

static void
peers_init (Peer peers[2], const char *url)
{
  for (guint i = 0; i < 2; i++)
    {
      peers[i] = (Peer){ ph_conversation_new (url, i == 0 ? "Alice" : "Bob", NULL) };
      g_signal_connect (peers[i].conversation, "notify::state", G_CALLBACK (state_cb), &peers[i]);
    }
}

static void
peers_clear (Peer peers[2])
{
  for (guint i = 0; i < 2; i++)
    g_clear_object (&peers[i].conversation);
}

/* Takes the joiner's seat in @nameplate's mailbox, as anyone who knows
 * the number can while it is free. */
static void
join (PhRendezvousClient *client, const char *nameplate)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  ph_rendezvous_client_join_async (client, nameplate, NULL, NULL, NULL, ph_test_result_cb, &result);
  ph_test_wait_for_result (&result, TIMEOUT_MS);
  g_assert_true (ph_rendezvous_client_join_finish (client, result, &error));
  g_assert_no_error (error);
}

/* The mailbox as @client's side reads it, waiting up to @wait_seconds for
 * a first message. */
static GPtrArray *
read_mailbox (PhRendezvousClient *client, const char *nameplate, guint wait_seconds)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  GPtrArray *messages;

  ph_rendezvous_client_fetch_async (client, nameplate, 0, wait_seconds, NULL, ph_test_result_cb,
                                    &result);
  ph_test_wait_for_result (&result, TIMEOUT_MS);
  messages = ph_rendezvous_client_fetch_finish (client, result, &error);
  g_assert_no_error (error);
  return messages;
}

static void
post (PhRendezvousClient *client, const char *nameplate, const char *phase, GBytes *body)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  ph_rendezvous_client_post_async (client, nameplate, phase, body, NULL, ph_test_result_cb,
                                   &result);
  ph_test_wait_for_result (&result, TIMEOUT_MS);
  g_assert_true (ph_rendezvous_client_post_finish (client, result, NULL, &error));
  g_assert_no_error (error);
}

static char *
nameplate_of (const char *code)
{
  g_autofree char *nameplate = NULL;

  g_assert_true (ph_code_parse (code, &nameplate, NULL, NULL));
  return g_steal_pointer (&nameplate);
}

/* Hosts and waits for the code; returns it. */
static const char *
host_and_wait_for_code (Peer *host)
{
  ph_conversation_host (host->conversation);
  g_assert_true (ph_test_wait_until (has_code, host->conversation, TIMEOUT_MS));
  return ph_conversation_get_code (host->conversation);
}

/* Hosts through @proxy, and waits until the server has stored the host's
 * PAKE message (so the joiner's cannot overtake it); returns the code. */
static const char *
host_and_wait_for_pake (Peer *host, Proxy *proxy)
{
  host_and_wait_for_code (host);
  g_assert_true (ph_test_wait_for_flag (&proxy->host_pake_stored, TIMEOUT_MS));
  return ph_conversation_get_code (host->conversation);
}

/* @expected_a and @expected_b are the errors the two peers must end with,
 * in either order: which peer's description is attacked first is a race. */
static void
run_attack (Attack attack, PhError expected_a, PhError expected_b)
{
  g_autoptr (PhTestProcess) server = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *proxy_url = NULL;
  Proxy proxy;
  Peer peers[2];

  proxy_url = proxy_start (&proxy, attack, &server);
  peers_init (peers, proxy_url);

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

  peers_clear (peers);
  proxy_stop (&proxy, server);
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

static char *
code_with_other_second_word (const char *code)
{
  g_auto (GStrv) parts = g_strsplit (code, "-", 3);
  const char *const *second = ph_code_get_second_words ();

  return g_strdup_printf ("%s-%s-%s", parts[0], parts[1],
                          g_str_equal (parts[2], second[0]) ? second[1] : second[0]);
}

/* A joiner with a wrong code: both sides say so at once, and the code it
 * typed is refused from then on, by the app's library and by the CLI. */
static void
test_wrong_guess_is_wrong_code_on_both_sides (void)
{
  g_autoptr (PhTestProcess) server = NULL;
  g_autoptr (PhTestProcess) cli = NULL;
  g_autoptr (PhConversation) again = NULL;
  g_autoptr (JsonObject) event = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *wrong = NULL;
  const char *args[] = { "join", NULL, NULL };
  Peer peers[2];

  server = ph_test_start_rendezvous (NULL, &url);
  peers_init (peers, url);
  ph_conversation_host (peers[0].conversation);
  g_assert_true (ph_test_wait_until (has_code, peers[0].conversation, TIMEOUT_MS));
  wrong = code_with_other_second_word (ph_conversation_get_code (peers[0].conversation));

  g_assert_true (ph_conversation_join (peers[1].conversation, wrong, &error));
  g_assert_true (ph_test_wait_until (both_ended, peers, PROMPT_MS));
  for (guint i = 0; i < 2; i++)
    {
      g_assert_false (peers[i].connected);
      g_assert_error (ph_conversation_get_error (peers[i].conversation), PH_ERROR,
                      PH_ERROR_WRONG_CODE);
    }

  /* Typed again, it is refused before anything reaches the server. */
  again = ph_conversation_new (url, "Bob", NULL);
  g_assert_false (ph_conversation_join (again, wrong, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_BURNED_CODE);
  g_assert_cmpint (ph_conversation_get_state (again), ==, PH_CONVERSATION_STATE_IDLE);

  args[1] = wrong;
  cli = ph_test_spawn_cli (url, "Bob", PH_TEST_CLI_JSON, args, NULL);
  event = ph_test_process_wait_event (cli, "error", TIMEOUT_MS);
  g_assert_cmpstr (json_object_get_string_member (event, "code"), ==, "burned-code");
  g_assert_cmpint (ph_test_process_wait_exit (cli, TIMEOUT_MS), ==, 1);

  peers_clear (peers);
  g_assert_cmpint (ph_test_process_stop (server), ==, 0);
}

typedef enum
{
  GUESSER_GOES_SILENT,
  GUESSER_LEAVES,
} GuesserEnd;

/* Someone who knows only the nameplate takes the joiner's seat before
 * the real joiner, reads the host's PAKE message and runs the PAKE on a
 * guessed code, then waits to learn from the host whether it was right,
 * or gives up. The host tells its person, and the guess learns nothing. */
static void
run_guesser (GuesserEnd end)
{
  g_autoptr (PhTestProcess) server = NULL;
  g_autoptr (PhRendezvousClient) seat = NULL;
  g_autoptr (PhPake) guesser = NULL;
  g_autoptr (GBytes) pake = NULL;
  g_autoptr (GBytes) bye = g_bytes_new (NULL, 0);
  g_autoptr (GPtrArray) messages = NULL;
  g_autofree char *url = NULL;
  g_autofree char *nameplate = NULL;
  g_autofree char *guess = NULL;
  g_autofree char *host_side = g_strdup_printf ("%u", PH_MAILBOX_HOST_SIDE);
  g_autofree char *joiner_side = g_strdup_printf ("%u", PH_MAILBOX_JOINER_SIDE);
  const GError *error;
  gboolean host_said_bye = FALSE;
  gint64 start;
  Peer peers[2];

  server = ph_test_start_rendezvous (NULL, &url);
  peers_init (peers, url);
  if (end == GUESSER_GOES_SILENT)
    g_setenv ("PINHOLE_TEST_CONFIRM_PATIENCE_SECONDS", "2", TRUE);
  nameplate = nameplate_of (host_and_wait_for_code (&peers[0]));
  g_unsetenv ("PINHOLE_TEST_CONFIRM_PATIENCE_SECONDS");
  guess = code_with_other_second_word (ph_conversation_get_code (peers[0].conversation));

  seat = ph_rendezvous_client_new (url, NULL);
  join (seat, nameplate);
  messages = read_mailbox (seat, nameplate, 10);
  g_assert_cmpuint (messages->len, >=, 1);
  g_assert_cmpstr (((PhMailboxMessage *)g_ptr_array_index (messages, 0))->side, ==, host_side);
  g_assert_cmpstr (((PhMailboxMessage *)g_ptr_array_index (messages, 0))->phase, ==, "pake");
  g_clear_pointer (&messages, g_ptr_array_unref);

  /* In the joiner's seat, the PAKE binds the joiner's side number. */
  guesser = ph_pake_new (guess, nameplate, joiner_side);
  pake = ph_pake_get_message (guesser);
  start = g_get_monotonic_time ();
  post (seat, nameplate, "pake", pake);
  if (end == GUESSER_LEAVES)
    post (seat, nameplate, "bye", bye);

  g_assert_true (ph_test_wait_for_flag (&peers[0].ended, PROMPT_MS));
  error = ph_conversation_get_error (peers[0].conversation);
  g_assert_error (error, PH_ERROR, PH_ERROR_POSSIBLE_GUESS);
  g_assert_nonnull (strstr (error->message, "guess your code"));
  /* It waited out its patience (2 s, which a seconds timeout may cut by a
   * quarter of a second) rather than giving up at once. */
  if (end == GUESSER_GOES_SILENT)
    g_assert_cmpint (g_get_monotonic_time () - start, >=, 3 * G_USEC_PER_SEC / 2);

  /* Neither the host's confirmation nor anything sealed: nothing that
   * could tell the guess whether it was right. */
  messages = read_mailbox (seat, nameplate, 0);
  for (guint i = 0; i < messages->len; i++)
    {
      PhMailboxMessage *message = g_ptr_array_index (messages, i);

      if (g_str_equal (message->side, joiner_side))
        continue;
      g_assert_cmpstr (message->side, ==, host_side);
      g_test_message ("host posted %s", message->phase);
      g_assert_true (g_str_equal (message->phase, "pake") || g_str_equal (message->phase, "bye"));
      host_said_bye |= g_str_equal (message->phase, "bye");
    }
  g_assert_true (host_said_bye);

  peers_clear (peers);
  g_assert_cmpint (ph_test_process_stop (server), ==, 0);
}

static void
test_guesser_goes_silent (void)
{
  run_guesser (GUESSER_GOES_SILENT);
}

static void
test_guesser_leaves (void)
{
  run_guesser (GUESSER_LEAVES);
}

/* The PhSignaling side of a chat, as far as these tests look. */
typedef struct
{
  PhSignaling *signaling;
  char *code;
  guint descriptions;
  guint candidates;
  char *left_reason;
  gboolean left_sealed;
  GError *error;
} Side;

static void
side_code_ready_cb (PhSignaling *signaling, const char *code, Side *side)
{
  side->code = g_strdup (code);
}

static void
side_description_cb (PhSignaling *signaling, const PhSessionDescription *description, Side *side)
{
  side->descriptions++;
}

static void
side_candidate_cb (PhSignaling *signaling, guint64 attempt, const char *candidate, Side *side)
{
  side->candidates++;
}

static void
side_peer_left_cb (PhSignaling *signaling, const char *reason, gboolean sealed, Side *side)
{
  g_assert_null (side->left_reason);
  side->left_reason = g_strdup (reason);
  side->left_sealed = sealed;
}

static void
side_failed_cb (PhSignaling *signaling, const GError *error, Side *side)
{
  g_assert_null (side->error);
  side->error = g_error_copy (error);
}

static void
side_init (Side *side, const char *url)
{
  g_autoptr (PhRendezvousClient) client = ph_rendezvous_client_new (url, NULL);

  *side = (Side){ ph_signaling_new (client) };
  g_signal_connect (side->signaling, "code-ready", G_CALLBACK (side_code_ready_cb), side);
  g_signal_connect (side->signaling, "description", G_CALLBACK (side_description_cb), side);
  g_signal_connect (side->signaling, "candidate", G_CALLBACK (side_candidate_cb), side);
  g_signal_connect (side->signaling, "peer-left", G_CALLBACK (side_peer_left_cb), side);
  g_signal_connect (side->signaling, "failed", G_CALLBACK (side_failed_cb), side);
}

static void
side_left_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ph_signaling_leave_finish (PH_SIGNALING (source), result);
  *(gboolean *)user_data = TRUE;
}

static void
side_leave (Side *side, const char *reason)
{
  gboolean left = FALSE;

  ph_signaling_leave_async (side->signaling, reason, side_left_cb, &left);
  g_assert_true (ph_test_wait_for_flag (&left, TIMEOUT_MS));
  g_assert_finalize_object (side->signaling);
  g_free (side->code);
  g_free (side->left_reason);
  g_clear_error (&side->error);
}

static void
side_send_description (Side *side, gboolean host)
{
  g_autoptr (PhSessionDescription) description = ph_session_description_new ();

  description->session_id = 42;
  description->session_version = 1;
  description->fingerprint
      = g_strdup ("3A:9C:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:"
                  "77:88:99:AA:BB:CC:F0");
  description->setup = g_strdup (host ? "passive" : "active");
  description->ice_ufrag = g_strdup ("6Dh2");
  description->ice_pwd = g_strdup ("Zp3QxYk8mN2bV7cL1rT9wE4s");
  ph_signaling_send_description (side->signaling, description);
}

typedef struct
{
  Side *host;
  Side *joiner;
  guint host_ignored;
  guint joiner_ignored;
} Sides;

static gboolean
has_code_or_error (gpointer data)
{
  Side *side = data;

  return side->code != NULL || side->error != NULL;
}

static gboolean
both_have_descriptions (gpointer data)
{
  Sides *sides = data;

  return (sides->host->descriptions > 0 && sides->joiner->descriptions > 0)
         || sides->host->error != NULL || sides->joiner->error != NULL;
}

static gboolean
both_ignored (gpointer data)
{
  Sides *sides = data;

  return ph_signaling_get_ignored_count (sides->host->signaling) >= sides->host_ignored
         && ph_signaling_get_ignored_count (sides->joiner->signaling) >= sides->joiner_ignored;
}

static gboolean
joiner_has_left (gpointer data)
{
  Side *joiner = data;

  return joiner->left_reason != NULL || joiner->error != NULL;
}

static gboolean
joiner_heard (gpointer data)
{
  Side *joiner = ((Sides *)data)->joiner;

  return joiner->candidates > 0 || joiner->left_reason != NULL || joiner->error != NULL;
}

/* The store of a server that forges: the memory store, and what its
 * server sees of each side, the hash of the side's secret, kept so that it
 * can post in that side's name. */
#define TEST_TYPE_FORGING_STORE (test_forging_store_get_type ())
G_DECLARE_FINAL_TYPE (TestForgingStore, test_forging_store, TEST, FORGING_STORE, GObject)

struct _TestForgingStore
{
  GObject parent_instance;

  PhStore *inner;
  GHashTable *seats; /* nameplate << 1 | side - 1 → its secret's hash */
};

enum
{
  FORGING_PROP_0,
  FORGING_PROP_MAX_MAILBOXES,
  FORGING_PROP_MAX_MESSAGES,
  FORGING_PROP_MAX_MAILBOX_BYTES,
  FORGING_PROP_LIFETIME,
};

static const char *const forging_properties[]
    = { NULL, "max-mailboxes", "max-messages", "max-mailbox-bytes", "lifetime" };

static void test_forging_store_iface_init (PhStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestForgingStore, test_forging_store, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PH_TYPE_STORE, test_forging_store_iface_init))

static gpointer
seat_key (guint nameplate, guint side)
{
  return GUINT_TO_POINTER (nameplate << 1 | (side - 1));
}

typedef struct
{
  TestForgingStore *self;
  GTask *task;
  gboolean takes_seat;
  guint nameplate;
  guint8 seat_hash[PH_MAILBOX_SECRET_HASH_SIZE];
} Forwarded;

static void
forwarded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Forwarded *forwarded = user_data;
  GError *error = NULL;
  PhStoreReply *reply = ph_store_run_finish (PH_STORE (source), result, &error);

  if (reply == NULL)
    {
      g_task_return_error (forwarded->task, error);
    }
  else
    {
      if (forwarded->takes_seat)
        g_hash_table_insert (
            forwarded->self->seats,
            seat_key (forwarded->nameplate != 0 ? forwarded->nameplate : reply->nameplate,
                      reply->side),
            g_memdup2 (forwarded->seat_hash, sizeof forwarded->seat_hash));
      ph_store_return_reply (forwarded->task, reply);
    }
  g_object_unref (forwarded->task);
  g_free (forwarded);
}

/* Passes @request on to the memory store, as a copy: the task keeps the
 * original. */
static void
test_forging_store_run (PhStore *store, PhStoreRequest *request, GTask *task)
{
  TestForgingStore *self = TEST_FORGING_STORE (store);
  PhStoreRequest *copy = ph_store_request_new (request->op, request->nameplate);
  Forwarded *forwarded = g_new0 (Forwarded, 1);

  copy->has_secret = request->has_secret;
  memcpy (copy->secret_hash, request->secret_hash, sizeof copy->secret_hash);
  memcpy (copy->seat_secret_hash, request->seat_secret_hash, sizeof copy->seat_secret_hash);
  copy->has_request_key = request->has_request_key;
  memcpy (copy->request_key_hash, request->request_key_hash, sizeof copy->request_key_hash);
  copy->tag = g_strdup (request->tag);
  if (request->phase != NULL)
    ph_store_request_set_message (copy, request->phase, g_bytes_ref (request->body));
  copy->after = request->after;
  copy->quota = request->quota;
  copy->window_seconds = request->window_seconds;

  forwarded->self = self;
  forwarded->task = g_object_ref (task);
  forwarded->takes_seat = request->op == PH_STORE_OP_ALLOCATE || request->op == PH_STORE_OP_CLAIM
                          || request->op == PH_STORE_OP_JOIN;
  forwarded->nameplate = request->nameplate;
  memcpy (forwarded->seat_hash, request->seat_secret_hash, sizeof forwarded->seat_hash);
  ph_store_run_async (self->inner, copy, NULL, forwarded_cb, forwarded);
}

static void
test_forging_store_iface_init (PhStoreInterface *iface)
{
  iface->name = "forging";
  iface->run = test_forging_store_run;
}

static void
relay_message_added_cb (PhStore *inner, guint nameplate, guint64 index, PhStore *self)
{
  ph_store_emit_message_added (self, nameplate, index);
}

static void
relay_mailbox_closed_cb (PhStore *inner, guint nameplate, PhStore *self)
{
  ph_store_emit_mailbox_closed (self, nameplate);
}

static void
relay_changes_lost_cb (PhStore *inner, PhStore *self)
{
  ph_store_emit_changes_lost (self);
}

static void
test_forging_store_init (TestForgingStore *self)
{
  self->inner = g_object_new (PH_TYPE_MEMORY_STORE, NULL);
  self->seats = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  g_signal_connect_object (self->inner, "message-added", G_CALLBACK (relay_message_added_cb), self,
                           0);
  g_signal_connect_object (self->inner, "mailbox-closed", G_CALLBACK (relay_mailbox_closed_cb),
                           self, 0);
  g_signal_connect_object (self->inner, "changes-lost", G_CALLBACK (relay_changes_lost_cb), self,
                           0);
}

static void
test_forging_store_finalize (GObject *object)
{
  TestForgingStore *self = TEST_FORGING_STORE (object);

  g_clear_object (&self->inner);
  g_clear_pointer (&self->seats, g_hash_table_unref);
  G_OBJECT_CLASS (test_forging_store_parent_class)->finalize (object);
}

/* The limits are the memory store's own, at their defaults. */
static void
test_forging_store_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  g_object_get_property (G_OBJECT (TEST_FORGING_STORE (object)->inner), forging_properties[prop_id],
                         value);
}

static void
test_forging_store_set_property (GObject *object, guint prop_id, const GValue *value,
                                 GParamSpec *pspec)
{
}

static void
test_forging_store_class_init (TestForgingStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = test_forging_store_finalize;
  object_class->get_property = test_forging_store_get_property;
  object_class->set_property = test_forging_store_set_property;
  for (guint i = FORGING_PROP_MAX_MAILBOXES; i <= FORGING_PROP_LIFETIME; i++)
    g_object_class_override_property (object_class, i, forging_properties[i]);
}

typedef struct
{
  TestForgingStore *store;
  guint nameplate;
} StoredMailbox;

/* Runs @request (taken) on @mailbox's store and waits for its answer. */
static PhStoreReply *
run_as (StoredMailbox *mailbox, PhStoreRequest *request, guint side)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  const guint8 *hash
      = g_hash_table_lookup (mailbox->store->seats, seat_key (mailbox->nameplate, side));
  PhStoreReply *reply;

  g_assert_nonnull (hash);
  request->has_secret = TRUE;
  memcpy (request->secret_hash, hash, sizeof request->secret_hash);
  ph_store_run_async (PH_STORE (mailbox->store), request, NULL, ph_test_result_cb, &result);
  reply = ph_store_run_finish (PH_STORE (mailbox->store),
                               ph_test_wait_for_result (&result, TIMEOUT_MS), &error);
  g_assert_no_error (error);
  return reply;
}

static gboolean
has_a_message (gpointer data)
{
  StoredMailbox *mailbox = data;
  g_autoptr (PhStoreReply) reply = NULL;

  if (!g_hash_table_contains (mailbox->store->seats,
                              seat_key (mailbox->nameplate, PH_MAILBOX_HOST_SIDE)))
    return FALSE;
  reply = run_as (mailbox, ph_store_request_new (PH_STORE_OP_FETCH, mailbox->nameplate),
                  PH_MAILBOX_HOST_SIDE);
  return reply->messages->len > 0;
}

/* What only the rendezvous server (or whoever runs it) can do once both
 * seats are taken: store a message in a side's name, with what it holds
 * of the side, the hash of its secret. */
static void
forge (StoredMailbox *mailbox, guint side, const char *phase, GBytes *body)
{
  PhStoreRequest *request = ph_store_request_new (PH_STORE_OP_ADD_MESSAGE, mailbox->nameplate);
  g_autoptr (PhStoreReply) reply = NULL;

  ph_store_request_set_message (request, phase, g_bytes_ref (body));
  reply = run_as (mailbox, request, side);
  g_assert_cmpuint (reply->index, >, 0);
}

/* Once the key is confirmed, byes, PAKE messages and confirmations that
 * the server itself stores in a side's name are ignored and counted; the
 * chat goes on, and the real peer's sealed bye still ends it, with its
 * reason. */
static void
test_forged_control_messages_after_the_key (void)
{
  g_autoptr (TestForgingStore) store = g_object_new (TEST_TYPE_FORGING_STORE, NULL);
  g_autoptr (PhRendezvousServer) server = ph_test_server_start (0, "store", store, NULL);
  g_autofree char *url = ph_rendezvous_server_get_url (server);
  g_autoptr (GBytes) reason = g_bytes_new_static ("ice-failed", 10);
  g_autoptr (GBytes) garbage = g_bytes_new_static ("0123456789abcdef0123456789abcdef", 32);
  g_autofree char *nameplate = NULL;
  StoredMailbox mailbox;
  Side host;
  Side joiner;
  Sides sides = { &host, &joiner, 1, 3 };

  side_init (&host, url);
  side_init (&joiner, url);
  ph_signaling_host (host.signaling);
  g_assert_true (ph_test_wait_until (has_code_or_error, &host, TIMEOUT_MS));
  g_assert_no_error (host.error);
  nameplate = nameplate_of (host.code);
  mailbox = (StoredMailbox){ store, (guint)g_ascii_strtoull (nameplate, NULL, 10) };
  g_assert_true (ph_test_wait_until (has_a_message, &mailbox, TIMEOUT_MS));
  ph_signaling_join (joiner.signaling, host.code);
  side_send_description (&host, TRUE);
  side_send_description (&joiner, FALSE);
  /* Each side's description came after its confirmation verified. */
  g_assert_true (ph_test_wait_until (both_have_descriptions, &sides, TIMEOUT_MS));
  g_assert_no_error (host.error);
  g_assert_no_error (joiner.error);

  forge (&mailbox, PH_MAILBOX_HOST_SIDE, "bye", reason);
  forge (&mailbox, PH_MAILBOX_HOST_SIDE, "pake", garbage);
  forge (&mailbox, PH_MAILBOX_HOST_SIDE, "confirm", garbage);
  forge (&mailbox, PH_MAILBOX_JOINER_SIDE, "bye", reason);
  g_assert_true (ph_test_wait_until (both_ignored, &sides, TIMEOUT_MS));
  g_assert_cmpuint (ph_signaling_get_ignored_count (host.signaling), ==, 1);
  g_assert_cmpuint (ph_signaling_get_ignored_count (joiner.signaling), ==, 3);
  g_assert_null (host.left_reason);
  g_assert_null (joiner.left_reason);
  g_assert_no_error (host.error);
  g_assert_no_error (joiner.error);

  /* Still talking: a candidate gets through after all that. */
  ph_signaling_send_candidate (host.signaling, 1, "candidate:late");
  g_assert_true (ph_test_wait_until (joiner_heard, &sides, TIMEOUT_MS));
  g_assert_cmpuint (joiner.candidates, ==, 1);
  g_assert_null (joiner.left_reason);

  side_leave (&host, "ice-failed");
  g_assert_true (ph_test_wait_until (joiner_has_left, &joiner, TIMEOUT_MS));
  g_assert_no_error (joiner.error);
  g_assert_cmpstr (joiner.left_reason, ==, "ice-failed");
  g_assert_true (joiner.left_sealed);
  side_leave (&joiner, NULL);
}

/* An unsealed bye that says "ice-failed", posted in each side's name right
 * after its description: neither peer takes it for the other's diagnosis,
 * nor for the other leaving, and they connect. */
static void
test_forged_bye_during_setup (void)
{
  g_autoptr (PhTestProcess) server = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *proxy_url = NULL;
  Proxy proxy;
  Peer peers[2];

  proxy_url = proxy_start (&proxy, ATTACK_FORGE_BYE, &server);
  peers_init (peers, proxy_url);
  host_and_wait_for_pake (&peers[0], &proxy);
  g_assert_true (ph_conversation_join (peers[1].conversation,
                                       ph_conversation_get_code (peers[0].conversation), &error));
  g_assert_true (ph_test_wait_until (both_connected_or_one_ended, peers, TIMEOUT_MS));
  for (guint i = 0; i < 2; i++)
    {
      g_assert_no_error (ph_conversation_get_error (peers[i].conversation));
      g_assert_true (peers[i].connected);
    }
  g_assert_true (proxy.attacked);

  for (guint i = 0; i < 2; i++)
    ph_conversation_leave (peers[i].conversation);
  g_assert_true (ph_test_wait_until (both_ended, peers, TIMEOUT_MS));
  for (guint i = 0; i < 2; i++)
    g_assert_no_error (ph_conversation_get_error (peers[i].conversation));
  peers_clear (peers);
  proxy_stop (&proxy, server);
}

/* The joiner gives up after the key is confirmed but before a path is
 * found (the host's description is held up on its way): its sealed bye
 * reaches the host, which stops at once with peer-left. */
static void
test_sealed_bye_ends_setup (void)
{
  g_autoptr (PhTestProcess) server = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *proxy_url = NULL;
  Proxy proxy;
  Peer peers[2];

  proxy_url = proxy_start (&proxy, ATTACK_HOLD_HOST_DESCRIPTION, &server);
  peers_init (peers, proxy_url);
  host_and_wait_for_pake (&peers[0], &proxy);
  g_assert_true (ph_conversation_join (peers[1].conversation,
                                       ph_conversation_get_code (peers[0].conversation), &error));
  g_assert_true (ph_test_wait_for_flag (&proxy.attacked, TIMEOUT_MS));

  ph_conversation_leave (peers[1].conversation);
  g_assert_true (ph_test_wait_until (both_ended, peers, PROMPT_MS));
  g_assert_false (peers[0].connected);
  g_assert_false (peers[1].connected);
  g_assert_error (ph_conversation_get_error (peers[0].conversation), PH_ERROR, PH_ERROR_PEER_LEFT);
  peers_clear (peers);
  proxy_stop (&proxy, server);
}

/* A third party that sends datagrams in someone else's name: a raw
 * socket bound to that address writes the UDP header itself, with the
 * other's port. Needs CAP_NET_RAW. */
typedef struct
{
  int fd;
  struct sockaddr_storage to; /* port 0: a raw IPv6 socket reads it as the protocol */
  socklen_t to_length;
  guint16 from_port;
  guint16 to_port;
} Forger;

/* A link-local address needs its interface, which the path does not say:
 * the one that holds the address (both ends are on this machine). */
static void
set_scope (struct sockaddr_storage *address)
{
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)address;
  struct ifaddrs *interfaces;

  if (address->ss_family != AF_INET6 || !IN6_IS_ADDR_LINKLOCAL (&in6->sin6_addr))
    return;
  g_assert_cmpint (getifaddrs (&interfaces), ==, 0);
  for (struct ifaddrs *i = interfaces; i != NULL; i = i->ifa_next)
    if (i->ifa_addr != NULL && i->ifa_addr->sa_family == AF_INET6
        && memcmp (&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, &in6->sin6_addr,
                   sizeof in6->sin6_addr)
               == 0)
      in6->sin6_scope_id = ((struct sockaddr_in6 *)i->ifa_addr)->sin6_scope_id;
  freeifaddrs (interfaces);
}

static gboolean
forger_open (Forger *forger, const char *from_address, guint16 from_port, const char *to_address,
             guint16 to_port)
{
  g_autoptr (GInetAddress) from = g_inet_address_new_from_string (from_address);
  g_autoptr (GInetAddress) to = g_inet_address_new_from_string (to_address);
  g_autoptr (GSocketAddress) from_socket = NULL;
  g_autoptr (GSocketAddress) to_socket = NULL;
  struct sockaddr_storage bound;
  int family;

  g_assert_nonnull (from);
  g_assert_nonnull (to);
  family = g_inet_address_get_family (from) == G_SOCKET_FAMILY_IPV6 ? AF_INET6 : AF_INET;
  from_socket = g_inet_socket_address_new (from, 0);
  to_socket = g_inet_socket_address_new (to, 0);
  *forger = (Forger){ .from_port = from_port, .to_port = to_port };
  forger->to_length = g_socket_address_get_native_size (to_socket);
  g_assert_true (g_socket_address_to_native (to_socket, &forger->to, sizeof forger->to, NULL));
  g_assert_true (g_socket_address_to_native (from_socket, &bound, sizeof bound, NULL));
  set_scope (&forger->to);
  set_scope (&bound);

  forger->fd = socket (family, SOCK_RAW, IPPROTO_UDP);
  if (forger->fd < 0)
    return FALSE;
  if (family == AF_INET6)
    {
      int offset = 6; /* the kernel fills in the UDP checksum, which IPv6 needs */

      g_assert_cmpint (setsockopt (forger->fd, IPPROTO_IPV6, IPV6_CHECKSUM, &offset, sizeof offset),
                       ==, 0);
    }
  if (bind (forger->fd, (struct sockaddr *)&bound, g_socket_address_get_native_size (from_socket))
      != 0)
    g_error ("Could not bind a raw socket to %s: %s", from_address, g_strerror (errno));
  return TRUE;
}

static void
forger_send (Forger *forger, const guint8 *payload, gsize length)
{
  guint8 datagram[8 + 1200];
  gsize total = 8 + length;

  g_assert_cmpuint (length, <=, 1200);
  datagram[0] = forger->from_port >> 8;
  datagram[1] = forger->from_port & 0xff;
  datagram[2] = forger->to_port >> 8;
  datagram[3] = forger->to_port & 0xff;
  datagram[4] = total >> 8;
  datagram[5] = total & 0xff;
  datagram[6] = datagram[7] = 0; /* none over IPv4; the kernel's over IPv6 */
  memcpy (datagram + 8, payload, length);
  if (sendto (forger->fd, datagram, total, 0, (struct sockaddr *)&forger->to, forger->to_length)
      != (gssize)total)
    g_error ("Could not send a forged datagram: %s", g_strerror (errno));
}

/* A link packet (docs/protocol.md, "The reliable link"). Data looks like
 * the start of a TLS record, so a link that took it would hand TLS junk. */
static gsize
forge_link_packet (guint8 *packet, guint8 kind, guint32 seq, guint32 ack)
{
  gsize length = kind == 0xd1 ? 20 + 64 : 20;

  memset (packet, 0, length);
  packet[0] = kind;
  packet[3] = 64;
  for (guint i = 0; i < 4; i++)
    {
      packet[4 + i] = seq >> (24 - 8 * i);
      packet[8 + i] = ack >> (24 - 8 * i);
    }
  memset (packet + 12, 0xff, 8);
  if (length > 20)
    {
      packet[20] = 0x17;
      packet[21] = packet[22] = 0x03;
      packet[24] = 59;
      memset (packet + 25, 0xa5, length - 25);
    }
  return length;
}

typedef struct
{
  PhConversation *conversation;
  gboolean connected;
  gboolean left_connected; /* reconnected, closed or failed after connecting */
  guint received;
} ChatPeer;

static void
chat_state_cb (PhConversation *conversation, GParamSpec *pspec, ChatPeer *peer)
{
  if (ph_conversation_get_state (conversation) == PH_CONVERSATION_STATE_CONNECTED)
    peer->connected = TRUE;
  else if (peer->connected)
    peer->left_connected = TRUE;
}

static void
chat_received_cb (PhConversation *conversation, const char *id, gint64 time_ms, const char *text,
                  ChatPeer *peer)
{
  peer->received++;
}

static gboolean
chat_both_connected (gpointer data)
{
  ChatPeer *peers = data;

  return peers[0].connected && peers[1].connected;
}

typedef struct
{
  ChatPeer *peers;
  guint count;
} Received;

static gboolean
chat_both_received (gpointer data)
{
  Received *r = data;

  return r->peers[0].received >= r->count && r->peers[1].received >= r->count;
}

static gboolean
chat_one_left (gpointer data)
{
  ChatPeer *peers = data;

  return peers[0].left_connected || peers[1].left_connected;
}

static gboolean
chat_both_closed (gpointer data)
{
  ChatPeer *peers = data;

  for (guint i = 0; i < 2; i++)
    if (ph_conversation_get_state (peers[i].conversation) != PH_CONVERSATION_STATE_CLOSED
        && ph_conversation_get_state (peers[i].conversation) != PH_CONVERSATION_STATE_FAILED)
      return FALSE;
  return TRUE;
}

static void
chat_start (ChatPeer peers[2], const char *url)
{
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < 2; i++)
    {
      peers[i] = (ChatPeer){ ph_conversation_new (url, i == 0 ? "Alice" : "Bob", NULL) };
      g_signal_connect (peers[i].conversation, "notify::state", G_CALLBACK (chat_state_cb),
                        &peers[i]);
      g_signal_connect (peers[i].conversation, "message-received", G_CALLBACK (chat_received_cb),
                        &peers[i]);
    }
  ph_conversation_host (peers[0].conversation);
  g_assert_true (ph_test_wait_until (has_code, peers[0].conversation, TIMEOUT_MS));
  g_assert_true (ph_conversation_join (peers[1].conversation,
                                       ph_conversation_get_code (peers[0].conversation), &error));
  g_assert_no_error (error);
  g_assert_true (ph_test_wait_until (chat_both_connected, peers, TIMEOUT_MS));
}

/* One message each way, both delivered. */
static void
chat_exchange (ChatPeer peers[2], guint round)
{
  Received received = { peers, round };

  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *text
          = g_strdup_printf ("message %u from %s", round, i == 0 ? "Alice" : "Bob");

      g_free (ph_conversation_send_message (peers[i].conversation, text, NULL));
    }
  g_assert_true (ph_test_wait_until (chat_both_received, &received, TIMEOUT_MS));
}

static void
chat_stop (ChatPeer peers[2])
{
  for (guint i = 0; i < 2; i++)
    ph_conversation_leave (peers[i].conversation);
  g_assert_true (ph_test_wait_until (chat_both_closed, peers, TIMEOUT_MS));
  for (guint i = 0; i < 2; i++)
    g_clear_object (&peers[i].conversation);
}

static guint64
refused_by (ChatPeer *peer)
{
  PhIceTransport *ice = ph_conversation_get_ice_transport (peer->conversation);

  return ph_nice_stream_get_refused_packets (PH_NICE_STREAM (ph_ice_transport_get_stream (ice)));
}

typedef struct
{
  ChatPeer *peer;
  guint64 refused;
} Refused;

static gboolean
refused_all (gpointer data)
{
  Refused *r = data;

  return refused_by (r->peer) >= r->refused || r->peer->left_connected;
}

#define FORGED_BATCH 16

/* Sends @peer link packets from the other end's address: for every number
 * from 0 to 255, data and an acknowledgement of everything, then FIN and
 * GONE, acknowledging 0 (as a link that started at 0 would take). In
 * small batches, each read before the next when @expect_refused, so none
 * is lost to a full socket buffer. Returns how many, or 0 without
 * CAP_NET_RAW. */
static guint
forge_link_packets_to (ChatPeer *peer, gboolean expect_refused)
{
  const PhPath *path = ph_conversation_get_path (peer->conversation);
  guint8 packet[PH_RELIABLE_LINK_MAX_PACKET];
  Refused refused = { peer, refused_by (peer) };
  Forger forger;
  guint sent = 0;

  g_assert_nonnull (path);
  g_test_message ("Forging packets from %s port %u to %s port %u", path->remote_address,
                  path->remote_port, path->local_address, path->local_port);
  if (!forger_open (&forger, path->remote_address, path->remote_port, path->local_address,
                    path->local_port))
    return 0;
  for (guint i = 0; i < 2 * 256 + 32; i++)
    {
      gsize length;

      if (i < 2 * 256)
        length = forge_link_packet (packet, i % 2 == 0 ? 0xd1 : 0xd2, i / 2, 0);
      else
        length = forge_link_packet (packet, i % 2 == 0 ? 0xd3 : 0xd4, (i - 2 * 256) * 8, 0);
      forger_send (&forger, packet, length);
      sent++;
      refused.refused++;
      if (sent % FORGED_BATCH != 0 && i != 2 * 256 + 31)
        continue;
      /* A link that takes some has no count to wait for: a pause instead,
       * which only paces the sending. */
      if (expect_refused)
        g_assert_true (ph_test_wait_until (refused_all, &refused, ph_test_scaled_ms (5000)));
      else
        ph_test_run_for (10);
      if (peer->left_connected)
        break;
    }
  close (forger.fd);
  return sent;
}

static gboolean
can_forge (void)
{
  int fd = socket (AF_INET, SOCK_RAW, IPPROTO_UDP);

  if (fd < 0)
    {
      g_test_skip ("Forging another's address needs a raw socket (CAP_NET_RAW)");
      return FALSE;
    }
  close (fd);
  return TRUE;
}

/* Each link numbers from a random start that only the sealed descriptions
 * carry: packets with the numbers every link used to start with, from
 * the peer's own address and port, are refused (each one counted) and
 * the chat goes on as if nothing happened. */
static void
test_forged_link_packets_are_refused (void)
{
  g_autoptr (PhRendezvousServer) server = NULL;
  g_autofree char *url = NULL;
  ChatPeer peers[2];

  if (!can_forge ())
    return;
  server = ph_test_server_start (0, NULL);
  url = ph_rendezvous_server_get_url (server);
  chat_start (peers, url);
  chat_exchange (peers, 1);

  for (guint i = 0; i < 2; i++)
    g_assert_cmpuint (forge_link_packets_to (&peers[i], TRUE), >, 0);
  chat_exchange (peers, 2);
  for (guint i = 0; i < 2; i++)
    {
      g_assert_false (peers[i].left_connected);
      g_assert_cmpint (ph_conversation_get_state (peers[i].conversation), ==,
                       PH_CONVERSATION_STATE_CONNECTED);
      g_assert_no_error (ph_conversation_get_error (peers[i].conversation));
    }
  chat_stop (peers);
}

/* Why: the same packets break a chat whose links both start at 0, as
 * between two peers from before random starts. */
static void
test_forged_link_packets_break_fixed_starts (void)
{
  g_autoptr (PhRendezvousServer) server = NULL;
  g_autofree char *url = NULL;
  ChatPeer peers[2];

  if (!can_forge ())
    return;
  g_setenv ("PINHOLE_TEST_NO_LINK_ISN", "1", TRUE);
  server = ph_test_server_start (0, NULL);
  url = ph_rendezvous_server_get_url (server);
  chat_start (peers, url);
  chat_exchange (peers, 1);

  forge_link_packets_to (&peers[0], FALSE);
  g_assert_true (ph_test_wait_until (chat_one_left, peers, TIMEOUT_MS));
  chat_stop (peers);
  g_unsetenv ("PINHOLE_TEST_NO_LINK_ISN");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/security/tampered-description", test_tampered_description);
  g_test_add_func ("/security/replayed-description", test_replayed_description);
  g_test_add_func ("/security/attacker-runs-its-own-pake", test_attacker_runs_its_own_pake);
  g_test_add_func ("/security/wrong-guess-is-wrong-code-on-both-sides",
                   test_wrong_guess_is_wrong_code_on_both_sides);
  ph_test_add_func_with_hooks ("/security/guesser-goes-silent", test_guesser_goes_silent);
  g_test_add_func ("/security/guesser-leaves", test_guesser_leaves);
  g_test_add_func ("/security/forged-control-messages-after-the-key",
                   test_forged_control_messages_after_the_key);
  g_test_add_func ("/security/forged-bye-during-setup", test_forged_bye_during_setup);
  g_test_add_func ("/security/sealed-bye-ends-setup", test_sealed_bye_ends_setup);
  g_test_add_func ("/security/forged-link-packets-are-refused",
                   test_forged_link_packets_are_refused);
  ph_test_add_func_with_hooks ("/security/forged-link-packets-break-fixed-starts",
                               test_forged_link_packets_break_fixed_starts);

  return g_test_run ();
}
