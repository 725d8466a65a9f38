/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-held-polls"

#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ph-rendezvous-server-private.h"

/* How many hang-ups one wake of the hang-up watch takes in. */
#define HANGUP_BATCH 64
/* Polls that wait as paused messages for a moment before they take their
 * connections, at most: about 5 MB of libsoup's buffers. */
#define MAX_YOUNG_POLLS 256

/* GLib walks every source of the main context on every iteration, so a
 * GSource per waiting poll (a timer, a socket watch) makes every request
 * cost time in proportion to the polls held: at 10,000 the server
 * answered a few hundred requests a second. The polls share one timer and
 * one epoll set instead, and a waiting poll is no libsoup message, which
 * would keep a source of its own (docs/performance.md has the numbers). */

static void poll_wake (PhHeldPoll *poll);
static void poll_finished_cb (SoupServerMessage *msg, PhHeldPoll *poll);
static void poll_deliver (PhHeldPoll *poll, guint status, char *body);
static void poll_stop_waiting (PhHeldPoll *poll);

/* The waiting poll whose hold ends first, or NULL. Polls with the same
 * hold start in order, so each queue is in deadline order and the
 * earliest is one of the heads. */
static PhHeldPoll *
earliest_hold (PhRendezvousServer *self)
{
  PhHeldPoll *earliest = NULL;

  for (guint i = 1; i < G_N_ELEMENTS (self->holds); i++)
    {
      PhHeldPoll *head = g_queue_peek_head (&self->holds[i]);

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
  PhHeldPoll *poll;

  self->hold_id = 0;
  while ((poll = earliest_hold (self)) != NULL && poll->deadline_us <= now)
    poll_wake (poll);
  schedule_holds (self);

  return G_SOURCE_REMOVE;
}

/* Sets the timer for the earliest hold. One that would fire earlier is
 * left alone: it finds nothing due and sets itself again. */
static void
schedule_holds (PhRendezvousServer *self)
{
  PhHeldPoll *earliest = earliest_hold (self);
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
void
ph_held_poll_unwatch (PhHeldPoll *poll)
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
void
ph_held_poll_watch (PhHeldPoll *poll, guint32 events)
{
  struct epoll_event event = { .events = events, .data.ptr = poll };
  int op = poll->watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

  if (poll->socket == NULL || poll->server->hangup_fd < 0)
    return;
  if (epoll_ctl (poll->server->hangup_fd, op, g_socket_get_fd (poll->socket), &event) == 0)
    poll->watched = TRUE;
}

void
ph_held_poll_free (PhHeldPoll *poll)
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
  g_free (poll->tag);
  g_clear_object (&poll->cancellable);
  g_free (poll);
}

/* Peeks at the socket of a waiting poll the watch woke for. */
static void
poll_check_hangup (PhHeldPoll *poll)
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
  ph_held_poll_unwatch (poll);
  if (received > 0)
    return;

  poll_stop_waiting (poll);
  if (poll->msg != NULL)
    {
      /* libsoup finds out as it writes the answer; nobody reads it. */
      poll_deliver (poll, SOUP_STATUS_OK, g_strdup ("{\"messages\":[]}"));
      return;
    }
  poll->server->requests_aborted++;
  ph_taken_connection_close (poll);
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
      PhHeldPoll *poll = events[i].data.ptr;

      if (!poll->watched)
        continue;
      if (poll->state == PH_HELD_POLL_WAITING)
        poll_check_hangup (poll);
      else
        ph_taken_connection_write_answer (poll);
    }
  if (n < 0 && errno != EINTR)
    g_warning ("Could not watch waiting polls for hang-ups: %s", g_strerror (errno));

  return G_SOURCE_CONTINUE;
}

/* The queue of the polls on @nameplate; the store is watched for it
 * while there is one. */
static void
poll_link (PhHeldPoll *poll)
{
  PhRendezvousServer *self = poll->server;
  GQueue *queue = g_hash_table_lookup (self->polls, GUINT_TO_POINTER (poll->nameplate));

  if (queue == NULL)
    {
      queue = g_queue_new ();
      g_hash_table_insert (self->polls, GUINT_TO_POINTER (poll->nameplate), queue);
      ph_store_watch (self->store, poll->nameplate);
    }
  g_queue_push_tail_link (queue, &poll->link);
}

static void
poll_unlink (PhHeldPoll *poll)
{
  PhRendezvousServer *self = poll->server;
  GQueue *queue = g_hash_table_lookup (self->polls, GUINT_TO_POINTER (poll->nameplate));

  g_queue_unlink (queue, &poll->link);
  if (g_queue_is_empty (queue))
    {
      g_hash_table_remove (self->polls, GUINT_TO_POINTER (poll->nameplate));
      ph_store_unwatch (self->store, poll->nameplate);
    }
}

static void
poll_stop_waiting (PhHeldPoll *poll)
{
  PhRendezvousServer *self = poll->server;

  g_assert (poll->state == PH_HELD_POLL_WAITING);

  poll_unlink (poll);
  /* The timers may now fire early, find nothing due and set themselves again. */
  g_queue_unlink (&self->holds[poll->hold_seconds], &poll->hold_link);
  if (poll->take_due_us != 0)
    {
      g_queue_unlink (&self->young_polls, &poll->young_link);
      poll->take_due_us = 0;
    }
  ph_held_poll_unwatch (poll);
  poll->state = PH_HELD_POLL_ANSWERING;
  ph_server_quota_remove_poll (self, g_steal_pointer (&poll->usage));
  ph_rendezvous_server_set_waiting_polls (self, self->waiting_polls - 1);
}

/* Answers a poll that no longer waits with @body (taken), a JSON object.
 * A paused message lives on until libsoup has written (or failed to
 * write) the response; a taken connection until the answer is out. */
static void
poll_deliver (PhHeldPoll *poll, guint status, char *body)
{
  PhRendezvousServer *self = poll->server;
  g_autofree char *etag = status == SOUP_STATUS_OK ? ph_server_etag (poll->tag) : NULL;

  g_assert (poll->state == PH_HELD_POLL_ANSWERING);

  poll->state = PH_HELD_POLL_ANSWERED;
  g_queue_push_tail_link (&self->answered, &poll->link);

  /* The answer must go out within the client's deadline. */
  ph_server_client_arm (self, poll->socket);

  if (poll->msg != NULL)
    {
      if (etag != NULL)
        soup_message_headers_replace (soup_server_message_get_response_headers (poll->msg), "ETag",
                                      etag);
      /* A store that failed: the client tries again soon, as after any 503. */
      if (status == SOUP_STATUS_SERVICE_UNAVAILABLE)
        soup_message_headers_replace (soup_server_message_get_response_headers (poll->msg),
                                      "Retry-After", "1");
      ph_server_respond_text (poll->msg, status, body);
      soup_server_message_unpause (poll->msg);
      return;
    }
  ph_taken_connection_answer (poll, status, body, etag);
}

/* A mailbox that closed, or opened again for someone else, while the poll
 * waited: all there is to say. */
static void
poll_deliver_closed (PhHeldPoll *poll)
{
  g_autofree char *message
      = g_strdup_printf ("Mailbox %u was closed while waiting for messages.", poll->nameplate);

  poll_deliver (poll, SOUP_STATUS_NOT_FOUND,
                ph_server_error_json (poll->server, "unknown-mailbox", message));
}

static void poll_read (PhHeldPoll *poll);

static void schedule_takes (PhRendezvousServer *self);

/* A poll that waited long enough gives its paused message up for the
 * connection alone. */
static void
poll_take_connection (PhHeldPoll *poll)
{
  PhRendezvousServer *self = poll->server;

  g_clear_signal_handler (&poll->finished_id, poll->msg);
  ph_taken_connection_take (poll);
  if (poll->stream != NULL)
    return;
  /* The client was gone already. */
  self->requests_aborted++;
  poll_stop_waiting (poll);
  ph_held_poll_free (poll);
}

static gboolean
takes_due_cb (gpointer user_data)
{
  PhRendezvousServer *self = user_data;
  gint64 now = g_get_monotonic_time ();
  PhHeldPoll *poll;

  self->take_id = 0;
  while ((poll = g_queue_peek_head (&self->young_polls)) != NULL && poll->take_due_us <= now)
    {
      g_queue_unlink (&self->young_polls, &poll->young_link);
      poll->take_due_us = 0;
      poll_take_connection (poll);
    }
  schedule_takes (self);
  return G_SOURCE_REMOVE;
}

/* All young polls wait the same time, so the oldest is due first. */
static void
schedule_takes (PhRendezvousServer *self)
{
  PhHeldPoll *oldest = g_queue_peek_head (&self->young_polls);
  gint64 delay_us;

  if (oldest == NULL || self->take_id != 0)
    return;
  delay_us = MAX (oldest->take_due_us - g_get_monotonic_time (), 0);
  self->take_id = g_timeout_add ((guint)((delay_us + 999) / 1000), takes_due_cb, self);
}

/* The poll found nothing new: from now on it waits. */
static void
poll_wait (PhHeldPoll *poll)
{
  PhRendezvousServer *self = poll->server;
  PhServerClient *client = ph_server_lookup_client (self, poll->socket);

  if (client != NULL)
    ph_server_client_disarm (client);
  /* Counted now: the message, and the client key it may keep, can go
   * with the connection it gives up. */
  poll->usage = ph_server_quota_add_poll (self, poll->msg);

  poll->finished_id = g_signal_connect (poll->msg, "finished", G_CALLBACK (poll_finished_cb), poll);
  poll->state = PH_HELD_POLL_WAITING;
  poll->deadline_us = g_get_monotonic_time () + (gint64)poll->hold_seconds * G_USEC_PER_SEC;
  g_queue_push_tail_link (&self->holds[poll->hold_seconds], &poll->hold_link);
  schedule_holds (self);
  ph_held_poll_watch (poll, EPOLLIN | EPOLLRDHUP);
  ph_rendezvous_server_set_waiting_polls (self, self->waiting_polls + 1);

  /* A taken connection is closed with its answer, and the client's next
   * request then pays a round trip for a new one: polls answered within
   * moments (a chat being set up posts every few tens of milliseconds)
   * keep theirs, and only those that wait on, the long waits of idle
   * clients that are most of the memory, take it. */
  if (!ph_taken_connection_possible (poll))
    return;
  /* A flood of polls (every client back after a restart) takes at once:
   * waiting as paused messages, they would cost 20 KB each. */
  if (self->take_after_ms == 0 || g_queue_get_length (&self->young_polls) >= MAX_YOUNG_POLLS)
    {
      poll_take_connection (poll);
      return;
    }
  poll->take_due_us = g_get_monotonic_time () + (gint64)self->take_after_ms * 1000;
  g_queue_push_tail_link (&self->young_polls, &poll->young_link);
  schedule_takes (self);
}

/* What the first read found: messages, a refusal or nothing new. Nothing
 * new after a change came during the read calls for another. */
static void
poll_first_read (PhHeldPoll *poll, const PhStoreReply *reply, const GError *error)
{
  PhRendezvousServer *self = poll->server;

  if (reply != NULL && reply->messages->len == 0 && poll->notified)
    {
      poll_read (poll);
      return;
    }
  /* A poll that would wait counts against its client's polls first, then
   * against the server's. */
  if (reply != NULL && reply->messages->len == 0 && !ph_server_quota_allow_poll (self, poll->msg))
    {
      poll_unlink (poll);
      soup_server_message_unpause (poll->msg);
      ph_held_poll_free (poll);
      return;
    }
  if (reply != NULL && reply->messages->len == 0 && self->waiting_polls < self->max_waiting_polls)
    {
      g_free (poll->tag);
      poll->tag = g_strdup (reply->tag);
      poll_wait (poll);
      return;
    }

  /* Answered at once, as any request: the message was never more than
   * paused. */
  poll_unlink (poll);
  if (reply == NULL)
    {
      ph_server_respond_store_error (self, poll->msg, error);
    }
  else if (reply->messages->len == 0)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (poll->msg),
                                    "Retry-After", "1");
      ph_server_respond_error (
          self, poll->msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "too-many-polls",
          "The server is holding too many waiting requests; try again shortly.");
    }
  else
    {
      g_autofree char *etag = ph_server_etag (reply->tag);

      soup_message_headers_replace (soup_server_message_get_response_headers (poll->msg), "ETag",
                                    etag);
      ph_server_respond_text (poll->msg, SOUP_STATUS_OK, ph_server_messages_json (reply->messages));
    }
  soup_server_message_unpause (poll->msg);
  ph_held_poll_free (poll);
}

/* What the read for the answer found. */
static void
poll_last_read (PhHeldPoll *poll, const PhStoreReply *reply, const GError *error)
{
  if (reply != NULL)
    poll_deliver (poll, SOUP_STATUS_OK, ph_server_messages_json (reply->messages));
  else if (g_error_matches (error, PH_STORE_ERROR, PH_STORE_ERROR_FAILED))
    poll_deliver (poll, SOUP_STATUS_SERVICE_UNAVAILABLE,
                  ph_server_error_json (poll->server, "store-unavailable",
                                        "The server cannot reach where it keeps its mailboxes "
                                        "right now; try again shortly."));
  else
    poll_deliver_closed (poll);
}

static void
poll_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PhHeldPoll *poll = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PhStoreReply) reply = ph_store_run_finish (PH_STORE (source), result, &error);

  /* The server is gone, and left the poll to us. */
  if (g_cancellable_is_cancelled (poll->cancellable))
    {
      ph_held_poll_free (poll);
      return;
    }
  ph_server_note_store_health (poll->server, error);
  if (poll->state == PH_HELD_POLL_READING)
    poll_first_read (poll, reply, error);
  else
    poll_last_read (poll, reply, error);
}

/* Reads what is new in the mailbox, as the side the poll proved. */
static void
poll_read (PhHeldPoll *poll)
{
  PhStoreRequest *request = ph_store_request_new (PH_STORE_OP_FETCH, poll->nameplate);

  request->has_secret = poll->has_secret;
  memcpy (request->secret_hash, poll->secret_hash, sizeof request->secret_hash);
  ph_store_request_set_tag (request, poll->tag);
  request->after = poll->after;
  poll->notified = FALSE;
  ph_store_run_async (poll->server->store, request, poll->cancellable, poll_read_cb, poll);
}

/* A message came, or the hold ended: the answer is what is new now. */
static void
poll_wake (PhHeldPoll *poll)
{
  poll_stop_waiting (poll);
  poll_read (poll);
}

static void
poll_finished_cb (SoupServerMessage *msg, PhHeldPoll *poll)
{
  PhRendezvousServer *self = poll->server;

  if (poll->state == PH_HELD_POLL_WAITING)
    poll_stop_waiting (poll);
  if (poll->state == PH_HELD_POLL_ANSWERED)
    g_queue_unlink (&self->answered, &poll->link);

  ph_held_poll_free (poll);
}

void
ph_held_poll_start (PhRendezvousServer *self, SoupServerMessage *msg, PhStoreRequest *request,
                    guint hold_seconds)
{
  PhHeldPoll *poll = g_new0 (PhHeldPoll, 1);

  g_assert (hold_seconds >= 1 && hold_seconds < G_N_ELEMENTS (self->holds));
  g_assert (request->op == PH_STORE_OP_FETCH);

  poll->server = self;
  poll->msg = g_object_ref (msg);
  poll->socket = soup_server_message_get_socket (msg);
  if (poll->socket != NULL)
    g_object_ref (poll->socket);
  poll->http_version = soup_server_message_get_http_version (msg);
  poll->nameplate = request->nameplate;
  poll->after = request->after;
  poll->has_secret = request->has_secret;
  memcpy (poll->secret_hash, request->secret_hash, sizeof poll->secret_hash);
  poll->tag = g_strdup (request->tag);
  poll->cancellable = g_object_ref (self->cancellable);
  poll->hold_seconds = hold_seconds;
  poll->link.data = poll;
  poll->hold_link.data = poll;
  poll->young_link.data = poll;
  poll->state = PH_HELD_POLL_READING;
  ph_store_request_free (request);

  soup_server_message_pause (msg);
  poll_link (poll);
  poll_read (poll);
}

void
ph_held_polls_message_added_cb (PhStore *store, guint nameplate, guint64 index,
                                PhRendezvousServer *self)
{
  GQueue *queue = g_hash_table_lookup (self->polls, GUINT_TO_POINTER (nameplate));
  GList *link;

  if (queue == NULL)
    return;

  /* Waking unlinks the poll and may free the queue: find the next one first. */
  link = queue->head;
  while (link != NULL)
    {
      PhHeldPoll *poll = link->data;

      link = link->next;
      if (poll->state == PH_HELD_POLL_READING)
        poll->notified = TRUE;
      else if (poll->after < index)
        poll_wake (poll);
    }
}

void
ph_held_polls_mailbox_closed_cb (PhStore *store, guint nameplate, PhRendezvousServer *self)
{
  GQueue *queue = g_hash_table_lookup (self->polls, GUINT_TO_POINTER (nameplate));
  GList *link;

  if (queue == NULL)
    return;

  link = queue->head;
  while (link != NULL)
    {
      PhHeldPoll *poll = link->data;

      link = link->next;
      if (poll->state == PH_HELD_POLL_READING)
        {
          poll->notified = TRUE;
          continue;
        }
      poll_stop_waiting (poll);
      poll_deliver_closed (poll);
    }
}

/* Every poll reads again: the one reading now once its read is in, the
 * waiting ones at once, and each answers with what it finds. */
void
ph_held_polls_changes_lost_cb (PhStore *store, PhRendezvousServer *self)
{
  g_autoptr (GList) queues = g_hash_table_get_values (self->polls);
  g_autoptr (GPtrArray) waiting = g_ptr_array_new ();

  /* Waking unlinks polls and frees queues: gather them first. */
  for (GList *l = queues; l != NULL; l = l->next)
    for (GList *link = ((GQueue *)l->data)->head; link != NULL; link = link->next)
      {
        PhHeldPoll *poll = link->data;

        if (poll->state == PH_HELD_POLL_READING)
          poll->notified = TRUE;
        else
          g_ptr_array_add (waiting, poll);
      }
  for (guint i = 0; i < waiting->len; i++)
    poll_wake (g_ptr_array_index (waiting, i));
}

/* Without the watch (out of descriptors), a poll whose client hangs up is
 * only freed when its hold ends. */
void
ph_held_polls_init (PhRendezvousServer *self)
{
  self->hangup_fd = epoll_create1 (EPOLL_CLOEXEC);
  if (self->hangup_fd >= 0)
    self->hangup_id = g_unix_fd_add (self->hangup_fd, G_IO_IN, hangup_ready_cb, NULL);
  else
    g_warning ("Could not watch waiting polls for hang-ups: %s", g_strerror (errno));
}

/* On shutdown, once the server's cancellable is cancelled. Disconnecting
 * the server drops its connections without finishing the paused messages,
 * and the taken connections are ours: the polls are freed here, but those
 * the store still reads for, which their answer frees. */
void
ph_held_polls_clear (PhRendezvousServer *self)
{
  GHashTableIter iter;
  GQueue *queue;
  PhHeldPoll *poll;

  if (self->polls != NULL)
    {
      g_hash_table_iter_init (&iter, self->polls);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *)&queue))
        {
          while ((poll = g_queue_peek_head (queue)) != NULL)
            {
              g_queue_unlink (queue, &poll->link);
              /* One the store reads for is freed when it answers. */
              if (poll->state == PH_HELD_POLL_READING)
                continue;
              g_queue_unlink (&self->holds[poll->hold_seconds], &poll->hold_link);
              if (poll->take_due_us != 0)
                g_queue_unlink (&self->young_polls, &poll->young_link);
              ph_held_poll_unwatch (poll);
              ph_held_poll_free (poll);
            }
          g_hash_table_iter_remove (&iter);
        }
    }
  while ((poll = g_queue_pop_head (&self->answered)) != NULL)
    ph_held_poll_free (poll);
  self->waiting_polls = 0;
  g_clear_handle_id (&self->hold_id, g_source_remove);
  g_clear_handle_id (&self->take_id, g_source_remove);
  g_clear_handle_id (&self->hangup_id, g_source_remove);
  if (self->hangup_fd >= 0)
    {
      close (self->hangup_fd);
      self->hangup_fd = -1;
    }
}
