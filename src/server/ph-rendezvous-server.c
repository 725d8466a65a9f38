/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-rendezvous-server"

#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ph-mailbox-format.h"
#include "ph-mailbox-store.h"
#include "ph-post-reader.h"
#include "ph-rate-limiter.h"
#include "ph-rendezvous-server.h"
#include "ph-turn-credentials.h"

/* Long-polls are answered within the hold, so a client whose HTTP session
 * times out after 60 s never sees a poll outlive it. */
#define MAX_WAIT_SECONDS 60
#define RATE_LIMITER_MAX_CLIENTS 65536
/* GSocket's default of 10 drops connections when a few thousand clients
 * arrive at once; the kernel caps it at net.core.somaxconn. */
#define LISTEN_BACKLOG 4096
/* libsoup 3.2 has no name, nor a reason phrase, for it. */
#define STATUS_TOO_MANY_REQUESTS 429
/* The version needs no escaping: it is the project's own. */
#define HEALTH_JSON "{\"status\":\"ok\",\"version\":\"" PACKAGE_VERSION "\"}"

static const char *const phases[] = { "pake", "confirm", "desc", "cand", "bye" };

/* How many hang-ups one wake of the hang-up watch takes in. */
#define HANGUP_BATCH 64

/* A long-poll. One that has to wait takes its connection from libsoup
 * (see poll_take_connection ()) and keeps only the stream; on a TLS
 * server it stays a paused libsoup message instead. */
typedef struct
{
  PhRendezvousServer *server;
  SoupServerMessage *msg; /* paused, or NULL once the connection is taken */
  GIOStream *stream;      /* the connection taken from libsoup, or NULL */
  GSocket *socket;        /* the connection's socket */
  gboolean watched;       /* the socket is in the hang-up watch */
  SoupHTTPVersion http_version;
  guint nameplate;
  guint64 after;
  gboolean waiting;
  guint hold_seconds;
  gint64 deadline_us;
  GList hold_link; /* in holds[hold_seconds] while waiting */
  gulong finished_id;
  GString *answer; /* what is left to write of the answer, on a taken connection */
  guint status;
  GList link; /* in its nameplate's queue while waiting, then in answered */
} Poll;

/* A client connection, known by its socket from its first request on. It
 * has a deadline whenever the server waits for it: to send a request, to
 * read a response. Only a held long-poll has none; its hold bounds it. */
typedef struct
{
  PhRendezvousServer *server;
  GSocket *socket; /* weak: the entry goes when libsoup drops the socket */
  char *host;      /* its address, for the rate limit, once asked for */
  gint64 deadline_us;
  gboolean armed;
  GList link; /* in PhRendezvousServer.deadlines while armed */
} Client;

struct _PhRendezvousServer
{
  GObject parent_instance;

  guint max_body_bytes;
  guint max_mailboxes;
  guint max_messages;
  guint64 max_mailbox_bytes;
  guint max_waiting_polls;
  guint rate;
  guint burst;
  guint max_hold;
  guint mailbox_lifetime;
  guint client_timeout;
  char *turn_secret;
  GStrv turn_uris;
  GStrv stun_uris;
  guint turn_ttl;
  GTlsCertificate *tls_certificate;

  SoupServer *soup;
  PhMailboxStore *store;
  PhRateLimiter *limiter;
  GHashTable *polls; /* nameplate → GQueue of waiting Poll */
  GQueue answered;   /* Poll answered, its response not yet written */
  char *server_header;
  guint waiting_polls;
  /* Waiting polls by hold in seconds: each queue is in deadline order. */
  GQueue holds[MAX_WAIT_SECONDS + 1];
  guint hold_id;
  gint64 hold_due_us;
  int hangup_fd; /* epoll set of the waiting polls' sockets */
  guint hangup_id;
  GHashTable *clients; /* GSocket → Client */
  GQueue deadlines;    /* armed Client, earliest deadline first */
  guint deadline_id;
  guint port;
  char *url;

  guint64 mailboxes_allocated;
  guint64 mailboxes_claimed;
  guint64 messages_posted;
  guint64 rate_limited;
  guint64 requests_aborted;
  guint64 clients_timed_out;
  GHashTable *requests_by_status; /* status → count */
  GHashTable *errors_by_code;     /* static code string → count */
};

G_DEFINE_FINAL_TYPE (PhRendezvousServer, ph_rendezvous_server, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_MAX_BODY_BYTES,
  PROP_MAX_MAILBOXES,
  PROP_MAX_MESSAGES,
  PROP_MAX_MAILBOX_BYTES,
  PROP_MAX_WAITING_POLLS,
  PROP_RATE,
  PROP_BURST,
  PROP_MAX_HOLD,
  PROP_MAILBOX_LIFETIME,
  PROP_CLIENT_TIMEOUT,
  PROP_TURN_SECRET,
  PROP_TURN_URIS,
  PROP_STUN_URIS,
  PROP_TURN_TTL,
  PROP_TLS_CERTIFICATE,
  PROP_WAITING_POLLS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
count (GHashTable *table, gconstpointer key)
{
  gsize n = GPOINTER_TO_SIZE (g_hash_table_lookup (table, key));

  g_hash_table_insert (table, (gpointer)key, GSIZE_TO_POINTER (n + 1));
}

/* Answers @text (taken), a JSON object. */
static void
respond_text (SoupServerMessage *msg, guint status, char *text)
{
  soup_server_message_set_status (msg, status,
                                  status == STATUS_TOO_MANY_REQUESTS ? "Too Many Requests" : NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, text, strlen (text));
}

/* {"error":"@code","message":"@message"}. @code is a static string: it
 * names the error in the JSON body and in pinhole_errors_total, whose set
 * of labels must stay small. */
static char *
error_json (PhRendezvousServer *self, const char *code, const char *message)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "error");
  json_builder_add_string_value (builder, code);
  json_builder_set_member_name (builder, "message");
  json_builder_add_string_value (builder, message);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);

  count (self->errors_by_code, code);
  return json_to_string (root, FALSE);
}

G_GNUC_PRINTF (5, 6)
static void
respond_error (PhRendezvousServer *self, SoupServerMessage *msg, guint status, const char *code,
               const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  respond_text (msg, status, error_json (self, code, message));
}

static void
respond_store_error (PhRendezvousServer *self, SoupServerMessage *msg, const GError *error)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  g_assert (error->domain == PH_MAILBOX_STORE_ERROR);

  switch ((PhMailboxStoreError)error->code)
    {
    case PH_MAILBOX_STORE_ERROR_NO_SUCH_MAILBOX:
      respond_error (self, msg, SOUP_STATUS_NOT_FOUND, "unknown-mailbox", "%s", error->message);
      break;
    case PH_MAILBOX_STORE_ERROR_NO_FREE_MAILBOX:
      soup_message_headers_replace (headers, "Retry-After", "30");
      respond_error (self, msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "no-free-mailbox", "%s",
                     error->message);
      break;
    case PH_MAILBOX_STORE_ERROR_THIRD_SIDE:
      respond_error (self, msg, SOUP_STATUS_CONFLICT, "mailbox-full", "%s", error->message);
      break;
    case PH_MAILBOX_STORE_ERROR_MAILBOX_LIMIT:
      respond_error (self, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "mailbox-limit", "%s",
                     error->message);
      break;
    case PH_MAILBOX_STORE_ERROR_NAMEPLATE_UNAVAILABLE:
      respond_error (self, msg, SOUP_STATUS_CONFLICT, "nameplate-unavailable", "%s",
                     error->message);
      break;
    default:
      g_assert_not_reached ();
    }
}

/* The ETag naming the mailbox open under @nameplate, or NULL. A client
 * sends it back in If-Match and learns from a 412 that its mailbox is gone
 * even when the number is open again (a restarted server, a host that
 * claimed it back). */
static char *
mailbox_etag (PhRendezvousServer *self, guint nameplate)
{
  const char *tag = ph_mailbox_store_get_tag (self->store, nameplate);

  return tag != NULL ? g_strdup_printf ("\"%s\"", tag) : NULL;
}

static void
set_etag (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate)
{
  g_autofree char *etag = mailbox_etag (self, nameplate);

  if (etag != NULL)
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "ETag", etag);
}

/* {"messages":[{"index":1,"side":"…","phase":"…","body":"…"},…]}, as
 * json-glib wrote it, without building a tree of nodes for it. No string
 * needs escaping: sides are hex digits, phases are from a fixed list, and
 * bodies are written here in base64. */
static char *
messages_json (GPtrArray *messages)
{
  GString *out = g_string_sized_new (64);

  g_string_append (out, "{\"messages\":[");
  for (guint i = 0; i < messages->len; i++)
    {
      PhStoredMessage *message = g_ptr_array_index (messages, i);
      gsize size;
      const guchar *data = g_bytes_get_data (message->body, &size);
      gsize start;
      int state = 0;
      int save = 0;
      gsize written;

      g_string_append_printf (
          out, "%s{\"index\":%" G_GUINT64_FORMAT ",\"side\":\"%s\",\"phase\":\"%s\",\"body\":\"",
          i > 0 ? "," : "", message->index, message->side, message->phase);
      /* g_base64_encode_step () documents the room it needs. */
      start = out->len;
      g_string_set_size (out, start + (size / 3 + 1) * 4 + 4);
      written = g_base64_encode_step (data, size, FALSE, out->str + start, &state, &save);
      written += g_base64_encode_close (FALSE, out->str + start + written, &state, &save);
      g_string_set_size (out, start + written);
      g_string_append (out, "\"}");
    }
  g_string_append (out, "]}");

  return g_string_free (out, FALSE);
}

static void schedule_deadline (PhRendezvousServer *self);

/* Every deadline is the same time from now, so the queue stays in order
 * by appending, and one timer for its head serves every client. */
static gboolean
deadline_cb (gpointer user_data)
{
  PhRendezvousServer *self = user_data;
  gint64 now = g_get_monotonic_time ();
  Client *client;

  self->deadline_id = 0;
  while ((client = g_queue_peek_head (&self->deadlines)) != NULL && client->deadline_us <= now)
    {
      /* Shutting the socket down, rather than closing it, lets libsoup
       * read end-of-file and drop the connection the usual way. The entry
       * goes either way: libsoup 3.2 never frees an accepted socket, so
       * its weak reference cannot be relied on to clear the table. */
      if (!g_socket_is_closed (client->socket)
          && g_socket_shutdown (client->socket, TRUE, TRUE, NULL))
        self->clients_timed_out++;
      g_hash_table_remove (self->clients, client->socket);
    }
  schedule_deadline (self);

  return G_SOURCE_REMOVE;
}

static void
schedule_deadline (PhRendezvousServer *self)
{
  Client *head = g_queue_peek_head (&self->deadlines);
  gint64 delay_us;

  if (head == NULL || self->deadline_id != 0)
    return;

  delay_us = MAX (head->deadline_us - g_get_monotonic_time (), 0);
  self->deadline_id = g_timeout_add ((guint)((delay_us + 999) / 1000), deadline_cb, self);
}

static void
client_disarm (Client *client)
{
  if (!client->armed)
    return;
  g_queue_unlink (&client->server->deadlines, &client->link);
  client->armed = FALSE;
}

static void
client_socket_gone_cb (gpointer user_data, GObject *where_the_socket_was)
{
  Client *client = user_data;

  /* Stolen, not removed: the weak reference is already gone. */
  client_disarm (client);
  g_hash_table_steal (client->server->clients, where_the_socket_was);
  g_free (client->host);
  g_free (client);
}

static void
client_free (Client *client)
{
  client_disarm (client);
  g_object_weak_unref (G_OBJECT (client->socket), client_socket_gone_cb, client);
  g_free (client->host);
  g_free (client);
}

static Client *
lookup_client (PhRendezvousServer *self, GSocket *socket)
{
  Client *client;

  if (socket == NULL)
    return NULL;

  client = g_hash_table_lookup (self->clients, socket);
  if (client == NULL)
    {
      client = g_new0 (Client, 1);
      client->server = self;
      client->socket = socket;
      client->link.data = client;
      g_object_weak_ref (G_OBJECT (socket), client_socket_gone_cb, client);
      g_hash_table_insert (self->clients, socket, client);
    }
  return client;
}

/* Gives the client on @socket client-timeout seconds from now. */
static void
client_arm (PhRendezvousServer *self, GSocket *socket)
{
  Client *client = lookup_client (self, socket);

  if (client == NULL)
    return;

  client_disarm (client);
  client->deadline_us = g_get_monotonic_time () + (gint64)self->client_timeout * G_USEC_PER_SEC;
  client->armed = TRUE;
  g_queue_push_tail_link (&self->deadlines, &client->link);
  schedule_deadline (self);
}

static void
set_waiting_polls (PhRendezvousServer *self, guint waiting_polls)
{
  self->waiting_polls = waiting_polls;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WAITING_POLLS]);
}

/* GLib walks every source of the main context on every iteration, so a
 * GSource per waiting poll (a timer, a socket watch) makes every request
 * cost time in proportion to the polls held: at 10,000 the server
 * answered a few hundred requests a second. The polls share one timer and
 * one epoll set instead, and a waiting poll is no libsoup message, which
 * would keep a source of its own (docs/ARCHITECTURE.md has the numbers). */

static void poll_answer (Poll *poll);

/* The waiting poll whose hold ends first, or NULL. Polls with the same
 * hold start in order, so each queue is in deadline order and the
 * earliest is one of the heads. */
static Poll *
earliest_hold (PhRendezvousServer *self)
{
  Poll *earliest = NULL;

  for (guint i = 1; i < G_N_ELEMENTS (self->holds); i++)
    {
      Poll *head = g_queue_peek_head (&self->holds[i]);

      if (head != NULL && (earliest == NULL || head->deadline_us < earliest->deadline_us))
        earliest = head;
    }
  return earliest;
}

static void schedule_holds (PhRendezvousServer *self);

static gboolean
holds_due_cb (gpointer user_data)
{
  PhRendezvousServer *self = user_data;
  gint64 now = g_get_monotonic_time ();
  Poll *poll;

  self->hold_id = 0;
  while ((poll = earliest_hold (self)) != NULL && poll->deadline_us <= now)
    poll_answer (poll);
  schedule_holds (self);

  return G_SOURCE_REMOVE;
}

/* Sets the timer for the earliest hold. One that would fire earlier is
 * left alone: it finds nothing due and sets itself again. */
static void
schedule_holds (PhRendezvousServer *self)
{
  Poll *earliest = earliest_hold (self);
  gint64 delay_us;

  if (earliest == NULL || (self->hold_id != 0 && self->hold_due_us <= earliest->deadline_us))
    return;

  g_clear_handle_id (&self->hold_id, g_source_remove);
  delay_us = MAX (earliest->deadline_us - g_get_monotonic_time (), 0);
  self->hold_due_us = earliest->deadline_us;
  self->hold_id = g_timeout_add ((guint)((delay_us + 999) / 1000), holds_due_cb, self);
}

/* A closed socket is out of the epoll set already: removing its number
 * could remove a newer socket that reuses it. */
static void
poll_unwatch (Poll *poll)
{
  if (!poll->watched)
    return;
  if (!g_socket_is_closed (poll->socket))
    epoll_ctl (poll->server->hangup_fd, EPOLL_CTL_DEL, g_socket_get_fd (poll->socket), NULL);
  poll->watched = FALSE;
}

/* Neither libsoup nor anyone else reads a connection while its poll
 * waits, so a client that hangs up mid-poll would only be noticed when
 * the hold ends. Watching the socket notices it at once and frees the
 * poll. The same set tells when an answer too long for the socket's
 * buffer can go on (@events EPOLLOUT). */
static void
poll_watch (Poll *poll, guint32 events)
{
  struct epoll_event event = { .events = events, .data.ptr = poll };
  int op = poll->watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

  if (poll->socket == NULL || poll->server->hangup_fd < 0)
    return;
  if (epoll_ctl (poll->server->hangup_fd, op, g_socket_get_fd (poll->socket), &event) == 0)
    poll->watched = TRUE;
}

static void
poll_free (Poll *poll)
{
  if (poll->msg != NULL)
    {
      g_clear_signal_handler (&poll->finished_id, poll->msg);
      g_object_unref (poll->msg);
    }
  if (poll->stream != NULL)
    {
      g_io_stream_close (poll->stream, NULL, NULL);
      g_object_unref (poll->stream);
    }
  g_clear_object (&poll->socket);
  if (poll->answer != NULL)
    g_string_free (poll->answer, TRUE);
  g_free (poll);
}

/* Ends a taken connection that is no longer waiting: the client's record
 * goes with it, as libsoup's would. */
static void
poll_close (Poll *poll)
{
  PhRendezvousServer *self = poll->server;
  char drain[512];

  g_assert (!poll->waiting && poll->stream != NULL);

  poll_unwatch (poll);
  if (poll->answer != NULL)
    g_queue_unlink (&self->answered, &poll->link);

  /* Closing a socket with unread bytes makes the kernel reset the
   * connection, which can lose the answer on its way: say we are done,
   * then read away what the client sent (a pipelined request, which
   * Connection: close leaves unanswered) before closing. */
  g_socket_shutdown (poll->socket, FALSE, TRUE, NULL);
  while (g_socket_receive_with_blocking (poll->socket, drain, sizeof drain, FALSE, NULL, NULL) > 0)
    ;
  g_hash_table_remove (self->clients, poll->socket);
  poll_free (poll);
}

/* Writes what is left of the answer on a taken connection; what the
 * socket does not take now waits for the hang-up watch to say it can
 * go on, within the client's deadline. */
static void
poll_write_answer (Poll *poll)
{
  PhRendezvousServer *self = poll->server;

  while (poll->answer->len > 0)
    {
      g_autoptr (GError) error = NULL;
      gssize sent = g_socket_send_with_blocking (poll->socket, poll->answer->str, poll->answer->len,
                                                 FALSE, NULL, &error);

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          poll_watch (poll, EPOLLOUT);
          return;
        }
      if (sent < 0)
        {
          self->requests_aborted++;
          poll_close (poll);
          return;
        }
      g_string_erase (poll->answer, 0, sent);
    }

  count (self->requests_by_status, GUINT_TO_POINTER (poll->status));
  poll_close (poll);
}

static void poll_stop_waiting (Poll *poll);

/* Peeks at the socket of a waiting poll the watch woke for. */
static void
poll_check_hangup (Poll *poll)
{
  GInputVector vector;
  char byte;
  int flags = G_SOCKET_MSG_PEEK;
  gssize received;
  g_autoptr (GError) error = NULL;

  vector.buffer = &byte;
  vector.size = 1;
  received
      = g_socket_receive_message (poll->socket, NULL, &vector, 1, NULL, NULL, &flags, NULL, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return;

  /* Data here is a pipelined request or a TLS record, left for after
   * the answer; the hold still bounds the wait. */
  poll_unwatch (poll);
  if (received > 0)
    return;

  if (poll->msg != NULL)
    {
      /* libsoup finds out as it writes the answer. */
      poll_answer (poll);
      return;
    }
  poll_stop_waiting (poll);
  poll->server->requests_aborted++;
  poll_close (poll);
}

static gboolean
hangup_ready_cb (int fd, GIOCondition condition, gpointer user_data)
{
  struct epoll_event events[HANGUP_BATCH];
  int n = epoll_wait (fd, events, G_N_ELEMENTS (events), 0);

  /* Each event is for a different poll, and handling one frees no
   * other: every pointer here is live when its turn comes. */
  for (int i = 0; i < n; i++)
    {
      Poll *poll = events[i].data.ptr;

      if (!poll->watched)
        continue;
      if (poll->waiting)
        poll_check_hangup (poll);
      else
        poll_write_answer (poll);
    }
  if (n < 0 && errno != EINTR)
    g_warning ("Could not watch waiting polls for hang-ups: %s", g_strerror (errno));

  return G_SOURCE_CONTINUE;
}

static void
poll_stop_waiting (Poll *poll)
{
  PhRendezvousServer *self = poll->server;
  GQueue *queue;

  g_assert (poll->waiting);

  queue = g_hash_table_lookup (self->polls, GUINT_TO_POINTER (poll->nameplate));
  g_queue_unlink (queue, &poll->link);
  if (g_queue_is_empty (queue))
    g_hash_table_remove (self->polls, GUINT_TO_POINTER (poll->nameplate));

  /* The timer may now fire early, find nothing due and set itself again. */
  g_queue_unlink (&self->holds[poll->hold_seconds], &poll->hold_link);
  poll_unwatch (poll);
  poll->waiting = FALSE;
  set_waiting_polls (self, self->waiting_polls - 1);
}

/* The whole HTTP/1.x response libsoup would have written for @body
 * (taken), closing the connection: what it wrote for a paused message,
 * with the Date of the answer rather than of the request. @etag, if not
 * NULL, names the mailbox. */
static GString *
http_answer (PhRendezvousServer *self, SoupHTTPVersion http_version, guint status, char *body,
             const char *etag)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *date = soup_date_time_to_string (now, SOUP_DATE_HTTP);
  gsize length = strlen (body);
  GString *out = g_string_sized_new (256 + length);

  g_string_append_printf (out,
                          "HTTP/1.%c %u %s\r\n"
                          "Server: %s\r\n"
                          "Cache-Control: no-store\r\n"
                          "Date: %s\r\n",
                          http_version == SOUP_HTTP_1_0 ? '0' : '1', status,
                          soup_status_get_phrase (status), self->server_header, date);
  if (etag != NULL)
    g_string_append_printf (out, "ETag: %s\r\n", etag);
  g_string_append_printf (out,
                          "Content-Type: application/json\r\n"
                          "Content-Length: %" G_GSIZE_FORMAT "\r\n"
                          "Connection: close\r\n"
                          "\r\n",
                          length);
  g_string_append_len (out, body, (gssize)length);
  g_free (body);
  return out;
}

/* Answers a waiting poll with its messages, or 404 when its mailbox has
 * gone. A paused message lives on until libsoup has written (or failed
 * to write) the response; a taken connection until the answer is out. */
static void
poll_answer (Poll *poll)
{
  PhRendezvousServer *self = poll->server;
  g_autoptr (GPtrArray) messages = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *etag = NULL;
  guint status = SOUP_STATUS_OK;
  char *body;

  poll_stop_waiting (poll);
  g_queue_push_tail_link (&self->answered, &poll->link);

  messages = ph_mailbox_store_get_messages (self->store, poll->nameplate, poll->after, &error);
  if (messages == NULL)
    {
      g_autofree char *message
          = g_strdup_printf ("Mailbox %u was closed while waiting for messages.", poll->nameplate);

      status = SOUP_STATUS_NOT_FOUND;
      body = error_json (self, "unknown-mailbox", message);
    }
  else
    {
      body = messages_json (messages);
      etag = mailbox_etag (self, poll->nameplate);
    }

  /* The answer must go out within the client's deadline. */
  client_arm (self, poll->socket);

  if (poll->msg != NULL)
    {
      if (etag != NULL)
        soup_message_headers_replace (soup_server_message_get_response_headers (poll->msg), "ETag",
                                      etag);
      respond_text (poll->msg, status, body);
      soup_server_message_unpause (poll->msg);
      return;
    }
  poll->status = status;
  poll->answer = http_answer (self, poll->http_version, status, body, etag);
  poll_write_answer (poll);
}

static void
poll_finished_cb (SoupServerMessage *msg, Poll *poll)
{
  PhRendezvousServer *self = poll->server;

  if (poll->waiting)
    poll_stop_waiting (poll);
  else
    g_queue_unlink (&self->answered, &poll->link);

  poll_free (poll);
}

/* The stream libsoup 3.2 hands over is its own SoupIOStream: a buffered
 * input stream (with whatever it read past the request: a pipelined
 * request, dropped, as Connection: close allows) over the connection.
 * Keeping only the connection drops the buffer; dropping the wrapper
 * leaves the connection open only if it was made not to close it. */
static GIOStream *
unwrap_stream (GIOStream *stream)
{
  GObjectClass *klass = G_OBJECT_GET_CLASS (stream);
  GParamSpec *base_spec = g_object_class_find_property (klass, "base-iostream");
  GParamSpec *close_spec = g_object_class_find_property (klass, "close-on-dispose");
  g_autoptr (GIOStream) base = NULL;
  gboolean close_on_dispose = TRUE;

  if (base_spec == NULL || base_spec->value_type != G_TYPE_IO_STREAM || close_spec == NULL
      || close_spec->value_type != G_TYPE_BOOLEAN)
    return stream;

  g_object_get (stream, "base-iostream", &base, "close-on-dispose", &close_on_dispose, NULL);
  if (base == NULL || close_on_dispose)
    return stream;

  g_object_unref (stream);
  return g_steal_pointer (&base);
}

/* What libsoup keeps for a paused message is most of a held poll's
 * memory (a 16 KiB header buffer, its message and I/O objects) and one
 * main-loop source each, which every request then pays for; what a
 * waiting poll needs is its socket. So the poll takes the connection and
 * writes its one answer itself. Not on a TLS server: the stream would be
 * a TLS connection (and possibly HTTP/2, several requests on one). */
static gboolean
poll_take_connection (Poll *poll)
{
  PhRendezvousServer *self = poll->server;
  GIOStream *stream;

  if (self->tls_certificate != NULL || poll->http_version > SOUP_HTTP_1_1 || poll->socket == NULL)
    return FALSE;

  /* libsoup frees the message's I/O at once; the request's handler (the
   * caller) is still running, which libsoup's own WebSocket upgrade does
   * too, and its I/O loop stops for a message it no longer runs. */
  stream = soup_server_message_steal_connection (poll->msg);
  g_clear_object (&poll->msg);
  if (stream != NULL)
    poll->stream = unwrap_stream (stream);
  return TRUE;
}

static void
poll_start (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate, guint64 after,
            guint hold_seconds)
{
  Poll *poll = g_new0 (Poll, 1);
  GQueue *queue;
  Client *client;

  g_assert (hold_seconds >= 1 && hold_seconds < G_N_ELEMENTS (self->holds));

  poll->server = self;
  poll->msg = g_object_ref (msg);
  poll->socket = soup_server_message_get_socket (msg);
  if (poll->socket != NULL)
    g_object_ref (poll->socket);
  poll->http_version = soup_server_message_get_http_version (msg);
  poll->nameplate = nameplate;
  poll->after = after;
  poll->link.data = poll;
  poll->hold_link.data = poll;

  client = lookup_client (self, poll->socket);
  if (client != NULL)
    client_disarm (client);

  if (poll_take_connection (poll))
    {
      if (poll->stream == NULL)
        {
          /* The client was gone already. */
          self->requests_aborted++;
          poll_free (poll);
          return;
        }
    }
  else
    {
      poll->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (poll_finished_cb), poll);
      soup_server_message_pause (msg);
    }

  queue = g_hash_table_lookup (self->polls, GUINT_TO_POINTER (nameplate));
  if (queue == NULL)
    {
      queue = g_queue_new ();
      g_hash_table_insert (self->polls, GUINT_TO_POINTER (nameplate), queue);
    }
  g_queue_push_tail_link (queue, &poll->link);

  poll->waiting = TRUE;
  poll->hold_seconds = hold_seconds;
  poll->deadline_us = g_get_monotonic_time () + (gint64)hold_seconds * G_USEC_PER_SEC;
  g_queue_push_tail_link (&self->holds[hold_seconds], &poll->hold_link);
  schedule_holds (self);

  poll_watch (poll, EPOLLIN | EPOLLRDHUP);

  set_waiting_polls (self, self->waiting_polls + 1);
}

static void
message_added_cb (PhMailboxStore *store, guint nameplate, guint64 index, PhRendezvousServer *self)
{
  GQueue *queue = g_hash_table_lookup (self->polls, GUINT_TO_POINTER (nameplate));
  GList *link;

  if (queue == NULL)
    return;

  /* Answering unlinks the poll and may free the queue: find the next one first. */
  link = queue->head;
  while (link != NULL)
    {
      Poll *poll = link->data;

      link = link->next;
      if (poll->after < index)
        poll_answer (poll);
    }
}

static void
mailbox_closed_cb (PhMailboxStore *store, guint nameplate, PhRendezvousServer *self)
{
  GQueue *queue;

  while ((queue = g_hash_table_lookup (self->polls, GUINT_TO_POINTER (nameplate))) != NULL)
    poll_answer (g_queue_peek_head (queue));
}

static char *
parse_side (const char *text)
{
  return ph_mailbox_side_is_valid (text) ? g_ascii_strdown (text, -1) : NULL;
}

static gboolean
is_known_phase (const char *phase)
{
  for (guint i = 0; i < G_N_ELEMENTS (phases); i++)
    if (g_strcmp0 (phase, phases[i]) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
parse_uint_param (GHashTable *query, const char *name, guint64 max, guint64 *out_value)
{
  const char *text = query != NULL ? g_hash_table_lookup (query, name) : NULL;

  *out_value = 0;
  if (text == NULL)
    return TRUE;

  return g_ascii_string_to_unsigned (text, 10, 0, max, out_value, NULL);
}

static void
respond_nameplate (PhRendezvousServer *self, SoupServerMessage *msg, guint status, guint nameplate)
{
  set_etag (self, msg, nameplate);
  respond_text (msg, status,
                g_strdup_printf ("{\"nameplate\":\"%u\",\"expires_in\":%u}", nameplate,
                                 ph_mailbox_store_get_lifetime (self->store)));
}

static void
handle_allocate (PhRendezvousServer *self, SoupServerMessage *msg)
{
  g_autoptr (GError) error = NULL;
  guint nameplate;

  if (!ph_mailbox_store_allocate (self->store, &nameplate, &error))
    {
      respond_store_error (self, msg, error);
      return;
    }
  self->mailboxes_allocated++;
  respond_nameplate (self, msg, SOUP_STATUS_CREATED, nameplate);
}

/* PUT /v1/mailboxes/N {"side": …}: a host whose mailbox this server lost
 * (it restarted) opens the same number again, so the code it showed stays
 * good. Anyone may claim a free number, as anyone may allocate the lowest
 * one; the PAKE keeps a claimer who is not the host from learning or
 * forging anything. */
static void
handle_claim (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate)
{
  g_auto (PhPost) claim = { 0 };
  g_autoptr (GBytes) request = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *side = NULL;
  gboolean created;
  const char *data;
  gsize size;

  request = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  data = g_bytes_get_data (request, &size);
  if (!ph_post_read (data, size, &claim, &error))
    {
      respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed", "%s", error->message);
      return;
    }

  side = parse_side (claim.side);
  if (side == NULL)
    {
      respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed",
                     "\"side\" must be a string of 16 hexadecimal digits.");
      return;
    }

  if (!ph_mailbox_store_claim (self->store, nameplate, side, &created, &error))
    {
      respond_store_error (self, msg, error);
      return;
    }
  if (created)
    self->mailboxes_claimed++;
  respond_nameplate (self, msg, created ? SOUP_STATUS_CREATED : SOUP_STATUS_OK, nameplate);
}

static void
handle_post_message (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate)
{
  g_auto (PhPost) post = { 0 };
  g_autoptr (GBytes) request = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *side = NULL;
  const char *data;
  gsize size;
  guint64 index;

  request = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  data = g_bytes_get_data (request, &size);
  if (!ph_post_read (data, size, &post, &error))
    {
      respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed", "%s", error->message);
      return;
    }

  side = parse_side (post.side);
  if (side == NULL)
    {
      respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed",
                     "\"side\" must be a string of 16 hexadecimal digits.");
      return;
    }

  if (!is_known_phase (post.phase))
    {
      respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed",
                     "\"phase\" must be one of pake, confirm, desc, cand or bye.");
      return;
    }

  if (post.body == NULL || (body = ph_mailbox_decode_body (post.body)) == NULL)
    {
      respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed",
                     "\"body\" must be a base64 string.");
      return;
    }

  if (!ph_mailbox_store_add_message (self->store, nameplate, side, post.phase, body, &index,
                                     &error))
    {
      respond_store_error (self, msg, error);
      return;
    }
  self->messages_posted++;

  set_etag (self, msg, nameplate);
  respond_text (msg, SOUP_STATUS_CREATED,
                g_strdup_printf ("{\"index\":%" G_GUINT64_FORMAT "}", index));
}

static void
handle_get_messages (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate,
                     GHashTable *query)
{
  g_autoptr (GPtrArray) messages = NULL;
  g_autoptr (GError) error = NULL;
  guint64 after;
  guint64 wait;

  if (!parse_uint_param (query, "after", G_MAXINT64, &after)
      || !parse_uint_param (query, "wait", MAX_WAIT_SECONDS, &wait))
    {
      respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed",
                     "\"after\" must be a message index and \"wait\" a number of seconds from 0 "
                     "to %u.",
                     MAX_WAIT_SECONDS);
      return;
    }

  messages = ph_mailbox_store_get_messages (self->store, nameplate, after, &error);
  if (messages == NULL)
    {
      respond_store_error (self, msg, error);
      return;
    }

  if (messages->len > 0 || wait == 0)
    {
      set_etag (self, msg, nameplate);
      respond_text (msg, SOUP_STATUS_OK, messages_json (messages));
      return;
    }

  if (self->waiting_polls >= self->max_waiting_polls)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
                                    "1");
      respond_error (self, msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "too-many-polls",
                     "The server is holding too many waiting requests; try again shortly.");
      return;
    }

  poll_start (self, msg, nameplate, after, MIN ((guint)wait, self->max_hold));
}

static void
handle_leave (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate, GHashTable *query)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *side = NULL;

  side = parse_side (query != NULL ? g_hash_table_lookup (query, "side") : NULL);
  if (side == NULL)
    {
      respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed",
                     "\"side\" must be a string of 16 hexadecimal digits.");
      return;
    }

  if (!ph_mailbox_store_leave (self->store, nameplate, side, &error))
    {
      respond_store_error (self, msg, error);
      return;
    }

  soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
}

static void
add_string_array (JsonBuilder *builder, const char *name, const char *const *strings)
{
  json_builder_set_member_name (builder, name);
  json_builder_begin_array (builder);
  for (guint i = 0; strings != NULL && strings[i] != NULL; i++)
    json_builder_add_string_value (builder, strings[i]);
  json_builder_end_array (builder);
}

static void
handle_turn (PhRendezvousServer *self, SoupServerMessage *msg)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  gboolean has_stun = self->stun_uris != NULL && self->stun_uris[0] != NULL;
  gboolean has_turn
      = self->turn_secret != NULL && self->turn_uris != NULL && self->turn_uris[0] != NULL;

  if (!has_stun && !has_turn)
    {
      respond_error (self, msg, SOUP_STATUS_NOT_FOUND, "turn-not-configured",
                     "This rendezvous server offers no STUN or TURN servers.");
      return;
    }

  json_builder_begin_object (builder);
  add_string_array (builder, "stun", (const char *const *)self->stun_uris);
  if (has_turn)
    {
      g_autofree char *id = g_strdup_printf ("%08x", g_random_int ());
      gint64 expires_at = g_get_real_time () / G_USEC_PER_SEC + self->turn_ttl;
      g_autofree char *username = ph_turn_credentials_make_username (expires_at, id);
      g_autofree char *credential
          = ph_turn_credentials_make_credential (self->turn_secret, username);

      add_string_array (builder, "turn", (const char *const *)self->turn_uris);
      json_builder_set_member_name (builder, "username");
      json_builder_add_string_value (builder, username);
      json_builder_set_member_name (builder, "credential");
      json_builder_add_string_value (builder, credential);
      json_builder_set_member_name (builder, "ttl");
      json_builder_add_int_value (builder, self->turn_ttl);
    }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);

  respond_text (msg, SOUP_STATUS_OK, json_to_string (root, FALSE));
}

static void
handle_health (PhRendezvousServer *self, SoupServerMessage *msg)
{
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, HEALTH_JSON,
                                    strlen (HEALTH_JSON));
}

static void
append_metric (GString *text, const char *name, const char *type, const char *help)
{
  g_string_append_printf (text, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int
compare_uints (gconstpointer a, gconstpointer b)
{
  guint x = GPOINTER_TO_UINT (a);
  guint y = GPOINTER_TO_UINT (b);

  return x < y ? -1 : x > y;
}

/* A closed connection stays in the table until its deadline. */
static guint
count_open_clients (PhRendezvousServer *self)
{
  GHashTableIter iter;
  GSocket *socket;
  guint n = 0;

  g_hash_table_iter_init (&iter, self->clients);
  while (g_hash_table_iter_next (&iter, (gpointer *)&socket, NULL))
    if (!g_socket_is_closed (socket))
      n++;
  return n;
}

static void
handle_metrics (PhRendezvousServer *self, SoupServerMessage *msg)
{
  g_autoptr (GString) text = g_string_new (NULL);
  GList *keys;
  gsize length;

  append_metric (text, "pinhole_mailboxes_open", "gauge", "Mailboxes open now.");
  g_string_append_printf (text, "pinhole_mailboxes_open %u\n",
                          ph_mailbox_store_get_n_open (self->store));
  append_metric (text, "pinhole_mailboxes_allocated_total", "counter", "Mailboxes allocated.");
  g_string_append_printf (text, "pinhole_mailboxes_allocated_total %" G_GUINT64_FORMAT "\n",
                          self->mailboxes_allocated);
  append_metric (text, "pinhole_mailboxes_claimed_total", "counter",
                 "Mailboxes opened again by number, after this server lost them.");
  g_string_append_printf (text, "pinhole_mailboxes_claimed_total %" G_GUINT64_FORMAT "\n",
                          self->mailboxes_claimed);
  append_metric (text, "pinhole_messages_total", "counter", "Messages posted to mailboxes.");
  g_string_append_printf (text, "pinhole_messages_total %" G_GUINT64_FORMAT "\n",
                          self->messages_posted);
  append_metric (text, "pinhole_polls_waiting", "gauge", "Long-polls waiting for a message.");
  g_string_append_printf (text, "pinhole_polls_waiting %u\n", self->waiting_polls);
  append_metric (text, "pinhole_connections_open", "gauge", "Client connections open now.");
  g_string_append_printf (text, "pinhole_connections_open %u\n", count_open_clients (self));
  append_metric (text, "pinhole_connections_timed_out_total", "counter",
                 "Connections closed because the client was too slow or idle too long.");
  g_string_append_printf (text, "pinhole_connections_timed_out_total %" G_GUINT64_FORMAT "\n",
                          self->clients_timed_out);
  append_metric (text, "pinhole_rate_limited_total", "counter",
                 "Requests refused by the rate limit.");
  g_string_append_printf (text, "pinhole_rate_limited_total %" G_GUINT64_FORMAT "\n",
                          self->rate_limited);

  append_metric (text, "pinhole_requests_total", "counter",
                 "Requests, by the status answered or \"aborted\" when the client hung up.");
  keys = g_list_sort (g_hash_table_get_keys (self->requests_by_status), compare_uints);
  for (GList *l = keys; l != NULL; l = l->next)
    {
      gpointer key = l->data;

      g_string_append_printf (
          text, "pinhole_requests_total{status=\"%u\"} %" G_GSIZE_FORMAT "\n",
          GPOINTER_TO_UINT (key),
          GPOINTER_TO_SIZE (g_hash_table_lookup (self->requests_by_status, key)));
    }
  g_list_free (keys);
  g_string_append_printf (text,
                          "pinhole_requests_total{status=\"aborted\"} %" G_GUINT64_FORMAT "\n",
                          self->requests_aborted);

  append_metric (text, "pinhole_errors_total", "counter", "Error responses, by error code.");
  keys = g_list_sort (g_hash_table_get_keys (self->errors_by_code), (GCompareFunc)strcmp);
  for (GList *l = keys; l != NULL; l = l->next)
    {
      const char *code = l->data;

      g_string_append_printf (text, "pinhole_errors_total{code=\"%s\"} %" G_GSIZE_FORMAT "\n", code,
                              GPOINTER_TO_SIZE (g_hash_table_lookup (self->errors_by_code, code)));
    }
  g_list_free (keys);

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  length = text->len;
  soup_server_message_set_response (msg, "text/plain; version=0.0.4; charset=utf-8",
                                    SOUP_MEMORY_TAKE,
                                    g_string_free (g_steal_pointer (&text), FALSE), length);
}

/* @allowed lists the methods as the Allow header does: "GET, POST". */
static gboolean
check_method (PhRendezvousServer *self, SoupServerMessage *msg, const char *allowed)
{
  const char *method = soup_server_message_get_method (msg);
  gsize length = strlen (method);

  for (const char *p = allowed; length > 0 && (p = strstr (p, method)) != NULL; p += length)
    if ((p == allowed || p[-1] == ' ') && (p[length] == '\0' || p[length] == ','))
      return TRUE;

  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", allowed);
  respond_error (self, msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method-not-allowed",
                 "%s is not allowed here; use %s.", method, allowed);
  return FALSE;
}

/* A request with If-Match is about the mailbox that tag names: when the
 * number is open under another tag, the client's mailbox is gone (412).
 * When nothing is open there the handler answers 404 as it would anyway. */
static gboolean
check_if_match (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate)
{
  const char *if_match
      = soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "If-Match");
  g_autofree char *etag = NULL;
  g_autofree char *wanted = NULL;

  if (if_match == NULL || (etag = mailbox_etag (self, nameplate)) == NULL)
    return TRUE;
  wanted = g_strstrip (g_strdup (if_match));
  if (strcmp (wanted, etag) == 0)
    return TRUE;

  respond_error (self, msg, SOUP_STATUS_PRECONDITION_FAILED, "mailbox-replaced",
                 "Mailbox %u is not the one you used: this server has restarted, or the mailbox "
                 "expired, and the number was opened again.",
                 nameplate);
  return FALSE;
}

static void
route_mailbox (PhRendezvousServer *self, SoupServerMessage *msg, const char *rest,
               GHashTable *query)
{
  const char *slash = strchr (rest, '/');
  gsize digits = slash != NULL ? (gsize)(slash - rest) : strlen (rest);
  const char *method = soup_server_message_get_method (msg);
  guint nameplate;

  if (slash != NULL && strcmp (slash, "/messages") != 0)
    {
      respond_error (self, msg, SOUP_STATUS_NOT_FOUND, "not-found", "There is nothing at %s.",
                     g_uri_get_path (soup_server_message_get_uri (msg)));
      return;
    }

  if (!ph_mailbox_parse_nameplate (rest, digits, &nameplate))
    {
      respond_error (self, msg, SOUP_STATUS_NOT_FOUND, "unknown-mailbox",
                     "There is no mailbox with that nameplate.");
      return;
    }

  if (slash == NULL)
    {
      if (!check_method (self, msg, "PUT, DELETE") || !check_if_match (self, msg, nameplate))
        return;
      if (strcmp (method, SOUP_METHOD_PUT) == 0)
        handle_claim (self, msg, nameplate);
      else
        handle_leave (self, msg, nameplate, query);
    }
  else if (check_method (self, msg, "GET, POST") && check_if_match (self, msg, nameplate))
    {
      if (strcmp (method, SOUP_METHOD_POST) == 0)
        handle_post_message (self, msg, nameplate);
      else
        handle_get_messages (self, msg, nameplate, query);
    }
}

static void
server_request_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                   gpointer user_data)
{
  PhRendezvousServer *self = user_data;

  /* The request is in; the response must go out in time. */
  client_arm (self, soup_server_message_get_socket (msg));

  if (strcmp (path, "/v1/mailboxes") == 0)
    {
      if (check_method (self, msg, "POST"))
        handle_allocate (self, msg);
    }
  else if (g_str_has_prefix (path, "/v1/mailboxes/"))
    {
      route_mailbox (self, msg, path + strlen ("/v1/mailboxes/"), query);
    }
  else if (strcmp (path, "/v1/turn") == 0)
    {
      if (check_method (self, msg, "GET"))
        handle_turn (self, msg);
    }
  else if (strcmp (path, "/v1/health") == 0)
    {
      if (check_method (self, msg, "GET"))
        handle_health (self, msg);
    }
  else if (strcmp (path, "/metrics") == 0)
    {
      if (check_method (self, msg, "GET"))
        handle_metrics (self, msg);
    }
  else
    {
      respond_error (self, msg, SOUP_STATUS_NOT_FOUND, "not-found", "There is nothing at %s.",
                     path);
    }
}

/* Past the limit the body is still read off the connection, but no longer
 * kept, so a client cannot grow the server's memory by sending more. */
static void
refuse_large_body (PhRendezvousServer *self, SoupServerMessage *msg)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);

  soup_message_body_set_accumulate (body, FALSE);
  soup_message_body_truncate (body);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection",
                                "close");
  respond_error (self, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "too-large",
                 "The request body is over the limit of %u bytes.", self->max_body_bytes);
}

static void
request_got_chunk_cb (SoupServerMessage *msg, GBytes *chunk, PhRendezvousServer *self)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);

  if (soup_server_message_get_status (msg) == 0 && body->length > (goffset)self->max_body_bytes)
    refuse_large_body (self, msg);
}

/* The client's address as text. libsoup formats it anew for every
 * request; the connection keeps it. */
static const char *
remote_host (PhRendezvousServer *self, SoupServerMessage *msg)
{
  Client *client = lookup_client (self, soup_server_message_get_socket (msg));

  if (client == NULL)
    return soup_server_message_get_remote_host (msg);
  if (client->host == NULL)
    client->host = g_strdup (soup_server_message_get_remote_host (msg));
  return client->host;
}

/* Runs once the headers are in, before the body is read: refuses what is
 * rate-limited or announced as too large without storing the body. */
static void
server_early_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                 gpointer user_data)
{
  PhRendezvousServer *self = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *client = remote_host (self, msg);
  SoupEncoding encoding;
  guint retry_after;

  if (!ph_rate_limiter_check (self->limiter, client != NULL ? client : "", &retry_after))
    {
      g_autofree char *seconds = g_strdup_printf ("%u", retry_after);

      self->rate_limited++;
      soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
                                    seconds);
      respond_error (self, msg, STATUS_TOO_MANY_REQUESTS, "rate-limited",
                     "Too many requests from %s; try again in %u seconds.",
                     client != NULL ? client : "this address", retry_after);
      return;
    }

  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH
      && soup_message_headers_get_content_length (headers) > (goffset)self->max_body_bytes)
    {
      refuse_large_body (self, msg);
      return;
    }

  /* A request without a body, or whose length was announced (checked
   * above), is read to that length and no further: only one of unknown
   * length (chunked) needs watching as it comes: connecting a handler to
   * every request took a few percent of the server's time. */
  encoding = soup_message_headers_get_encoding (headers);
  if (encoding != SOUP_ENCODING_NONE && encoding != SOUP_ENCODING_CONTENT_LENGTH)
    g_signal_connect_object (msg, "got-chunk", G_CALLBACK (request_got_chunk_cb), self, 0);
}

/* libsoup starts a request when a connection is accepted and, on a kept-alive
 * connection, at the first byte of the next one: from then on the client
 * has client-timeout seconds to send it all, however slowly it trickles. */
static void
request_started_cb (SoupServer *server, SoupServerMessage *msg, PhRendezvousServer *self)
{
  client_arm (self, soup_server_message_get_socket (msg));
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control",
                                "no-store");
}

static void
request_finished_cb (SoupServer *server, SoupServerMessage *msg, PhRendezvousServer *self)
{
  /* libsoup 3.2 strips a 204's Content-Length as it writes the headers
   * (write_headers () in soup-server-message-io-http1.c), which leaves the
   * response headers without an encoding; soup_message_headers_get_encoding ()
   * then calls the response one that ends at end-of-file, and
   * soup_server_message_is_keepalive () closes the connection when
   * request_finished () in soup-server.c asks it, right after this signal.
   * A 204 has no body: saying so keeps the connection, so a client that
   * leaves a mailbox does not have to connect again. */
  if (soup_server_message_get_status (msg) == SOUP_STATUS_NO_CONTENT)
    soup_message_headers_set_encoding (soup_server_message_get_response_headers (msg),
                                       SOUP_ENCODING_NONE);

  /* A kept-alive connection idles until its next request, within bounds. */
  client_arm (self, soup_server_message_get_socket (msg));
  count (self->requests_by_status, GUINT_TO_POINTER (soup_server_message_get_status (msg)));
}

/* libsoup reports a request whose client hung up as status 500, which
 * would read as a server fault: such requests get a label of their own. */
static void
request_aborted_cb (SoupServer *server, SoupServerMessage *msg, PhRendezvousServer *self)
{
  client_arm (self, soup_server_message_get_socket (msg));
  self->requests_aborted++;
}

static void
ph_rendezvous_server_constructed (GObject *object)
{
  PhRendezvousServer *self = PH_RENDEZVOUS_SERVER (object);

  G_OBJECT_CLASS (ph_rendezvous_server_parent_class)->constructed (object);

  self->store = ph_mailbox_store_new (self->max_mailboxes, self->max_messages,
                                      self->max_mailbox_bytes, self->mailbox_lifetime);
  g_signal_connect_object (self->store, "message-added", G_CALLBACK (message_added_cb), self, 0);
  g_signal_connect_object (self->store, "mailbox-closed", G_CALLBACK (mailbox_closed_cb), self, 0);

  self->limiter = ph_rate_limiter_new (self->rate, self->burst, RATE_LIMITER_MAX_CLIENTS);

  /* Without the watch (out of descriptors), a poll whose client hangs up
   * is only freed when its hold ends. */
  self->hangup_fd = epoll_create1 (EPOLL_CLOEXEC);
  if (self->hangup_fd >= 0)
    self->hangup_id = g_unix_fd_add (self->hangup_fd, G_IO_IN, hangup_ready_cb, NULL);
  else
    g_warning ("Could not watch waiting polls for hang-ups: %s", g_strerror (errno));

  self->soup = soup_server_new ("server-header", "pinhole-rendezvous/" PACKAGE_VERSION " ",
                                "tls-certificate", self->tls_certificate, NULL);
  /* As libsoup completes it ("… libsoup/3.2.3"), for the answers it
   * does not write. */
  g_object_get (self->soup, "server-header", &self->server_header, NULL);
  soup_server_add_early_handler (self->soup, NULL, server_early_cb, self, NULL);
  soup_server_add_handler (self->soup, NULL, server_request_cb, self, NULL);
  g_signal_connect_object (self->soup, "request-started", G_CALLBACK (request_started_cb), self, 0);
  g_signal_connect_object (self->soup, "request-finished", G_CALLBACK (request_finished_cb), self,
                           0);
  g_signal_connect_object (self->soup, "request-aborted", G_CALLBACK (request_aborted_cb), self, 0);
}

static void
ph_rendezvous_server_dispose (GObject *object)
{
  PhRendezvousServer *self = PH_RENDEZVOUS_SERVER (object);
  GHashTableIter iter;
  GQueue *queue;
  Poll *poll;

  /* Disconnecting the server drops its connections without finishing the
   * paused messages, and the taken connections are ours: the polls are
   * freed here. */
  if (self->polls != NULL)
    {
      g_hash_table_iter_init (&iter, self->polls);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *)&queue))
        {
          while ((poll = g_queue_peek_head (queue)) != NULL)
            {
              g_queue_unlink (queue, &poll->link);
              g_queue_unlink (&self->holds[poll->hold_seconds], &poll->hold_link);
              poll_unwatch (poll);
              poll_free (poll);
            }
          g_hash_table_iter_remove (&iter);
        }
    }
  while ((poll = g_queue_pop_head (&self->answered)) != NULL)
    poll_free (poll);
  self->waiting_polls = 0;
  g_clear_handle_id (&self->hold_id, g_source_remove);
  g_clear_handle_id (&self->hangup_id, g_source_remove);
  if (self->hangup_fd >= 0)
    {
      close (self->hangup_fd);
      self->hangup_fd = -1;
    }

  /* Before the disconnect, which would finalize the sockets under us. */
  if (self->clients != NULL)
    g_hash_table_remove_all (self->clients);
  g_clear_handle_id (&self->deadline_id, g_source_remove);

  if (self->soup != NULL)
    soup_server_disconnect (self->soup);
  g_clear_object (&self->soup);
  g_clear_object (&self->store);
  g_clear_object (&self->limiter);
  g_clear_object (&self->tls_certificate);

  G_OBJECT_CLASS (ph_rendezvous_server_parent_class)->dispose (object);
}

static void
ph_rendezvous_server_finalize (GObject *object)
{
  PhRendezvousServer *self = PH_RENDEZVOUS_SERVER (object);

  g_clear_pointer (&self->polls, g_hash_table_unref);
  g_clear_pointer (&self->clients, g_hash_table_unref);
  g_clear_pointer (&self->requests_by_status, g_hash_table_unref);
  g_clear_pointer (&self->errors_by_code, g_hash_table_unref);
  g_clear_pointer (&self->turn_secret, g_free);
  g_clear_pointer (&self->turn_uris, g_strfreev);
  g_clear_pointer (&self->stun_uris, g_strfreev);
  g_clear_pointer (&self->url, g_free);
  g_clear_pointer (&self->server_header, g_free);

  G_OBJECT_CLASS (ph_rendezvous_server_parent_class)->finalize (object);
}

static void
ph_rendezvous_server_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PhRendezvousServer *self = PH_RENDEZVOUS_SERVER (object);

  switch (prop_id)
    {
    case PROP_MAX_BODY_BYTES:
      g_value_set_uint (value, self->max_body_bytes);
      break;
    case PROP_MAX_MAILBOXES:
      g_value_set_uint (value, self->max_mailboxes);
      break;
    case PROP_MAX_MESSAGES:
      g_value_set_uint (value, self->max_messages);
      break;
    case PROP_MAX_MAILBOX_BYTES:
      g_value_set_uint64 (value, self->max_mailbox_bytes);
      break;
    case PROP_MAX_WAITING_POLLS:
      g_value_set_uint (value, self->max_waiting_polls);
      break;
    case PROP_RATE:
      g_value_set_uint (value, self->rate);
      break;
    case PROP_BURST:
      g_value_set_uint (value, self->burst);
      break;
    case PROP_MAX_HOLD:
      g_value_set_uint (value, self->max_hold);
      break;
    case PROP_MAILBOX_LIFETIME:
      g_value_set_uint (value, self->mailbox_lifetime);
      break;
    case PROP_CLIENT_TIMEOUT:
      g_value_set_uint (value, self->client_timeout);
      break;
    case PROP_TURN_SECRET:
      g_value_set_string (value, self->turn_secret);
      break;
    case PROP_TURN_URIS:
      g_value_set_boxed (value, self->turn_uris);
      break;
    case PROP_STUN_URIS:
      g_value_set_boxed (value, self->stun_uris);
      break;
    case PROP_TURN_TTL:
      g_value_set_uint (value, self->turn_ttl);
      break;
    case PROP_TLS_CERTIFICATE:
      g_value_set_object (value, self->tls_certificate);
      break;
    case PROP_WAITING_POLLS:
      g_value_set_uint (value, self->waiting_polls);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_rendezvous_server_set_property (GObject *object, guint prop_id, const GValue *value,
                                   GParamSpec *pspec)
{
  PhRendezvousServer *self = PH_RENDEZVOUS_SERVER (object);

  switch (prop_id)
    {
    case PROP_MAX_BODY_BYTES:
      self->max_body_bytes = g_value_get_uint (value);
      break;
    case PROP_MAX_MAILBOXES:
      self->max_mailboxes = g_value_get_uint (value);
      break;
    case PROP_MAX_MESSAGES:
      self->max_messages = g_value_get_uint (value);
      break;
    case PROP_MAX_MAILBOX_BYTES:
      self->max_mailbox_bytes = g_value_get_uint64 (value);
      break;
    case PROP_MAX_WAITING_POLLS:
      self->max_waiting_polls = g_value_get_uint (value);
      break;
    case PROP_RATE:
      self->rate = g_value_get_uint (value);
      break;
    case PROP_BURST:
      self->burst = g_value_get_uint (value);
      break;
    case PROP_MAX_HOLD:
      self->max_hold = g_value_get_uint (value);
      break;
    case PROP_MAILBOX_LIFETIME:
      self->mailbox_lifetime = g_value_get_uint (value);
      break;
    case PROP_CLIENT_TIMEOUT:
      self->client_timeout = g_value_get_uint (value);
      break;
    case PROP_TURN_SECRET:
      self->turn_secret = g_value_dup_string (value);
      break;
    case PROP_TURN_URIS:
      self->turn_uris = g_value_dup_boxed (value);
      break;
    case PROP_STUN_URIS:
      self->stun_uris = g_value_dup_boxed (value);
      break;
    case PROP_TURN_TTL:
      self->turn_ttl = g_value_get_uint (value);
      break;
    case PROP_TLS_CERTIFICATE:
      self->tls_certificate = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static GParamSpec *
limit_param (const char *name, guint minimum, guint maximum, guint default_value)
{
  return g_param_spec_uint (name, NULL, NULL, minimum, maximum, default_value,
                            G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS
                                | G_PARAM_EXPLICIT_NOTIFY);
}

static void
ph_rendezvous_server_class_init (PhRendezvousServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS
                      | G_PARAM_EXPLICIT_NOTIFY;

  object_class->constructed = ph_rendezvous_server_constructed;
  object_class->dispose = ph_rendezvous_server_dispose;
  object_class->finalize = ph_rendezvous_server_finalize;
  object_class->get_property = ph_rendezvous_server_get_property;
  object_class->set_property = ph_rendezvous_server_set_property;

  properties[PROP_MAX_BODY_BYTES] = limit_param ("max-body-bytes", 256, 16 * 1024 * 1024, 65536);
  properties[PROP_MAX_MAILBOXES] = limit_param ("max-mailboxes", 1, 999999999, 10000);
  properties[PROP_MAX_MESSAGES] = limit_param ("max-messages", 1, 1000000, 256);
  properties[PROP_MAX_MAILBOX_BYTES]
      = g_param_spec_uint64 ("max-mailbox-bytes", NULL, NULL, 1, G_MAXSIZE, 1024 * 1024, flags);
  properties[PROP_MAX_WAITING_POLLS] = limit_param ("max-waiting-polls", 1, 10000000, 20000);
  properties[PROP_RATE] = limit_param ("rate", 1, 1000000, 20);
  properties[PROP_BURST] = limit_param ("burst", 1, 1000000, 60);
  properties[PROP_MAX_HOLD] = limit_param ("max-hold", 1, MAX_WAIT_SECONDS, 30);
  properties[PROP_MAILBOX_LIFETIME] = limit_param ("mailbox-lifetime", 1, 7 * 24 * 3600, 600);
  properties[PROP_CLIENT_TIMEOUT] = limit_param ("client-timeout", 1, 3600, 30);
  properties[PROP_TURN_SECRET] = g_param_spec_string ("turn-secret", NULL, NULL, NULL, flags);
  properties[PROP_TURN_URIS] = g_param_spec_boxed ("turn-uris", NULL, NULL, G_TYPE_STRV, flags);
  properties[PROP_STUN_URIS] = g_param_spec_boxed ("stun-uris", NULL, NULL, G_TYPE_STRV, flags);
  properties[PROP_TURN_TTL] = limit_param ("turn-ttl", 60, 7 * 24 * 3600, 86400);
  properties[PROP_TLS_CERTIFICATE]
      = g_param_spec_object ("tls-certificate", NULL, NULL, G_TYPE_TLS_CERTIFICATE, flags);
  properties[PROP_WAITING_POLLS]
      = g_param_spec_uint ("waiting-polls", NULL, NULL, 0, G_MAXUINT, 0,
                           G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ph_rendezvous_server_init (PhRendezvousServer *self)
{
  self->polls = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify)g_queue_free);
  self->hangup_fd = -1;
  self->clients = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify)client_free);
  self->requests_by_status = g_hash_table_new (NULL, NULL);
  self->errors_by_code = g_hash_table_new (g_str_hash, g_str_equal);
}

PhRendezvousServer *
ph_rendezvous_server_new (void)
{
  return g_object_new (PH_TYPE_RENDEZVOUS_SERVER, NULL);
}

gboolean
ph_rendezvous_server_listen (PhRendezvousServer *self, GInetAddress *address, guint port,
                             GError **error)
{
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GSocketAddress) socket_address = NULL;
  g_autoptr (GSocketAddress) bound = NULL;
  GSocketFamily family;
  g_autofree char *host = NULL;
  GSList *listeners;

  g_return_val_if_fail (PH_IS_RENDEZVOUS_SERVER (self), FALSE);
  g_return_val_if_fail (G_IS_INET_ADDRESS (address), FALSE);
  g_return_val_if_fail (port <= G_MAXUINT16, FALSE);
  g_return_val_if_fail (self->url == NULL, FALSE);

  family = g_inet_address_get_family (address);
  socket = g_socket_new (family, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, error);
  if (socket == NULL)
    return FALSE;
  /* As soup_server_listen () does: "::" means IPv6 only. */
  if (family == G_SOCKET_FAMILY_IPV6)
    g_socket_set_option (socket, IPPROTO_IPV6, IPV6_V6ONLY, TRUE, NULL);
  g_socket_set_listen_backlog (socket, LISTEN_BACKLOG);

  socket_address = g_inet_socket_address_new (address, port);
  if (!g_socket_bind (socket, socket_address, TRUE, error) || !g_socket_listen (socket, error)
      || !soup_server_listen_socket (
          self->soup, socket, self->tls_certificate != NULL ? SOUP_SERVER_LISTEN_HTTPS : 0, error))
    return FALSE;

  /* The socket, not soup_server_get_uris (), which leaks in libsoup 3.2. */
  listeners = soup_server_get_listeners (self->soup);
  bound = g_socket_get_local_address (listeners->data, error);
  g_slist_free (listeners);
  if (bound == NULL)
    return FALSE;
  self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));

  host = g_inet_address_to_string (address);
  self->url = g_strdup_printf (
      g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6 ? "%s://[%s]:%u" : "%s://%s:%u",
      self->tls_certificate != NULL ? "https" : "http", host, self->port);
  return TRUE;
}

guint
ph_rendezvous_server_get_port (PhRendezvousServer *self)
{
  g_return_val_if_fail (PH_IS_RENDEZVOUS_SERVER (self), 0);

  return self->port;
}

/* The base URL clients use, such as http://127.0.0.1:8470, once listening. */
char *
ph_rendezvous_server_get_url (PhRendezvousServer *self)
{
  g_return_val_if_fail (PH_IS_RENDEZVOUS_SERVER (self), NULL);

  return g_strdup (self->url);
}

guint
ph_rendezvous_server_get_waiting_polls (PhRendezvousServer *self)
{
  g_return_val_if_fail (PH_IS_RENDEZVOUS_SERVER (self), 0);

  return self->waiting_polls;
}
