/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-meet-waits"

#include "config.h"

#include "ph-rendezvous-server-private.h"

/* A wait at many meeting points (POST /v1/meet/wait): one request for all
 * of a profile's contacts. It reads every point it names in one operation
 * of the store; with nothing new it is held until the other side posts
 * or stores at one of them ("point-changed") or its hold ends. It watches
 * its points from before its first read, so a change during a read is not
 * missed: it reads again.
 *
 * Like held polls (ph-held-polls.c), waits share one timer, in queues by
 * hold, rather than a GSource each. A held wait stays a paused libsoup
 * message: a client that hangs up is noticed when its hold ends. */

typedef enum
{
  WAIT_READING,
  WAIT_WAITING,
} WaitState;

typedef struct
{
  PhRendezvousServer *server;
  SoupServerMessage *msg;
  GCancellable *cancellable; /* the server's */
  GArray *points;            /* PhPointCursor */
  WaitState state;
  gboolean first_read_done;
  gboolean notified; /* a point changed while it was read */
  gboolean gone;     /* the message finished while it was read */
  guint hold_seconds;
  gint64 deadline_us;
  GList hold_link; /* in meet_holds[hold_seconds] while waiting */
  PhClientUsage *usage;
  gulong finished_id;
} PhMeetWait;

static void wait_read (PhMeetWait *wait);

static void
wait_free (PhMeetWait *wait)
{
  if (wait->msg != NULL)
    {
      g_clear_signal_handler (&wait->finished_id, wait->msg);
      g_object_unref (wait->msg);
    }
  g_array_unref (wait->points);
  g_clear_object (&wait->cancellable);
  g_free (wait);
}

static void
watch_points (PhMeetWait *wait)
{
  PhRendezvousServer *self = wait->server;

  for (guint i = 0; i < wait->points->len; i++)
    {
      const char *id = g_array_index (wait->points, PhPointCursor, i).id;
      GPtrArray *watchers = g_hash_table_lookup (self->meet_watchers, id);

      if (watchers == NULL)
        {
          watchers = g_ptr_array_new ();
          g_hash_table_insert (self->meet_watchers, g_strdup (id), watchers);
          ph_store_watch_point (self->store, id);
        }
      g_ptr_array_add (watchers, wait);
    }
}

static void
unwatch_points (PhMeetWait *wait)
{
  PhRendezvousServer *self = wait->server;

  for (guint i = 0; i < wait->points->len; i++)
    {
      const char *id = g_array_index (wait->points, PhPointCursor, i).id;
      GPtrArray *watchers = g_hash_table_lookup (self->meet_watchers, id);

      g_ptr_array_remove_fast (watchers, wait);
      if (watchers->len == 0)
        {
          ph_store_unwatch_point (self->store, id);
          g_hash_table_remove (self->meet_watchers, id);
        }
    }
}

static PhMeetWait *
earliest_hold (PhRendezvousServer *self)
{
  PhMeetWait *earliest = NULL;

  for (guint i = 1; i < G_N_ELEMENTS (self->meet_holds); i++)
    {
      PhMeetWait *head = g_queue_peek_head (&self->meet_holds[i]);

      if (head != NULL && (earliest == NULL || head->deadline_us < earliest->deadline_us))
        earliest = head;
    }
  return earliest;
}

static void schedule_holds (PhRendezvousServer *self);
static void wait_answer (PhMeetWait *wait, const PhStoreReply *reply);

static void
stop_waiting (PhMeetWait *wait)
{
  PhRendezvousServer *self = wait->server;

  g_assert (wait->state == WAIT_WAITING);

  g_queue_unlink (&self->meet_holds[wait->hold_seconds], &wait->hold_link);
  ph_server_quota_remove_poll (self, g_steal_pointer (&wait->usage));
  ph_rendezvous_server_set_waiting_polls (self, self->waiting_polls - 1);
  wait->state = WAIT_READING;
}

static gboolean
holds_due_cb (gpointer user_data)
{
  PhRendezvousServer *self = user_data;
  gint64 now = g_get_monotonic_time ();
  PhMeetWait *wait;

  self->meet_hold_id = 0;
  while ((wait = earliest_hold (self)) != NULL && wait->deadline_us <= now)
    {
      /* Notifications are sure in this process, and a store that lost
       * some says so (changes-lost): nothing came, nothing to read. */
      stop_waiting (wait);
      wait_answer (wait, NULL);
    }
  schedule_holds (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_holds (PhRendezvousServer *self)
{
  PhMeetWait *earliest = earliest_hold (self);
  gint64 delay_us;

  /* One that would fire earlier is left alone: it finds nothing due and
   * sets itself again. */
  if (earliest == NULL
      || (self->meet_hold_id != 0 && self->meet_hold_due_us <= earliest->deadline_us))
    return;

  g_clear_handle_id (&self->meet_hold_id, g_source_remove);
  delay_us = MAX (earliest->deadline_us - g_get_monotonic_time (), 0);
  self->meet_hold_due_us = earliest->deadline_us;
  self->meet_hold_id = g_timeout_add ((guint)((delay_us + 999) / 1000), holds_due_cb, self);
}

static gboolean
has_news (const PhPointNews *news)
{
  return news->messages->len > 0 || news->n_stored > 0;
}

/* {"points":[{"id":"…","stored":N,"messages":[…]},…]}: the points with
 * news only. */
static char *
points_json (const PhStoreReply *reply)
{
  GString *out = g_string_new ("{\"points\":[");
  gboolean first = TRUE;

  for (guint i = 0; reply != NULL && i < reply->points->len; i++)
    {
      PhPointNews *news = g_ptr_array_index (reply->points, i);
      g_autofree char *messages = NULL;

      if (!has_news (news))
        continue;
      messages = ph_server_messages_json (news->messages);
      /* messages is {"messages":[…]}: its members go on in this object. */
      g_string_append_printf (out, "%s{\"id\":\"%s\",\"stored\":%u,%s", first ? "" : ",", news->id,
                              news->n_stored, messages + 1);
      first = FALSE;
    }
  g_string_append (out, "]}");
  return g_string_free (out, FALSE);
}

/* Answers with what @reply found (NULL: nothing new) and lets go. */
static void
wait_answer (PhMeetWait *wait, const PhStoreReply *reply)
{
  g_assert (wait->state == WAIT_READING);

  unwatch_points (wait);
  ph_server_client_arm (wait->server, soup_server_message_get_socket (wait->msg));
  ph_server_respond_text (wait->msg, SOUP_STATUS_OK, points_json (reply));
  soup_server_message_unpause (wait->msg);
  wait_free (wait);
}

/* The client went (the server dropping its connection): a wait that is
 * read for is freed when the read is in. */
static void
wait_finished_cb (SoupServerMessage *msg, PhMeetWait *wait)
{
  if (wait->state == WAIT_READING)
    {
      g_clear_signal_handler (&wait->finished_id, wait->msg);
      wait->gone = TRUE;
      return;
    }
  stop_waiting (wait);
  unwatch_points (wait);
  wait_free (wait);
}

static void
wait_hold (PhMeetWait *wait)
{
  PhRendezvousServer *self = wait->server;
  PhServerClient *client
      = ph_server_lookup_client (self, soup_server_message_get_socket (wait->msg));

  if (client != NULL)
    ph_server_client_disarm (client);
  wait->usage = ph_server_quota_add_poll (self, wait->msg);
  wait->state = WAIT_WAITING;
  wait->deadline_us = g_get_monotonic_time () + (gint64)wait->hold_seconds * G_USEC_PER_SEC;
  g_queue_push_tail_link (&self->meet_holds[wait->hold_seconds], &wait->hold_link);
  if (wait->finished_id == 0)
    wait->finished_id
        = g_signal_connect (wait->msg, "finished", G_CALLBACK (wait_finished_cb), wait);
  schedule_holds (self);
  ph_rendezvous_server_set_waiting_polls (self, self->waiting_polls + 1);
}

/* Whether a wait that found nothing new may be held: its client's share
 * of polls and the server's have room; otherwise it is answered so. */
static gboolean
may_hold (PhMeetWait *wait)
{
  PhRendezvousServer *self = wait->server;

  if (!ph_server_quota_allow_poll (self, wait->msg))
    return FALSE;
  if (self->waiting_polls >= self->max_waiting_polls)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (wait->msg),
                                    "Retry-After", "1");
      ph_server_respond_error (
          self, wait->msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "too-many-polls",
          "The server is holding too many waiting requests; try again shortly.");
      return FALSE;
    }
  return TRUE;
}

static void
wait_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PhMeetWait *wait = user_data;
  PhRendezvousServer *self = wait->server;
  g_autoptr (GError) error = NULL;
  g_autoptr (PhStoreReply) reply = ph_store_run_finish (PH_STORE (source), result, &error);
  gboolean news = FALSE;

  /* The server is gone, and left the wait to us. */
  if (g_cancellable_is_cancelled (wait->cancellable))
    {
      wait_free (wait);
      return;
    }
  ph_server_note_store_health (self, error);
  if (wait->gone)
    {
      unwatch_points (wait);
      wait_free (wait);
      return;
    }
  if (reply == NULL)
    {
      unwatch_points (wait);
      ph_server_respond_store_error (self, wait->msg, error);
      soup_server_message_unpause (wait->msg);
      wait_free (wait);
      return;
    }

  for (guint i = 0; i < reply->points->len; i++)
    news = news || has_news (g_ptr_array_index (reply->points, i));
  if (news)
    {
      wait_answer (wait, reply);
      return;
    }
  if (wait->notified)
    {
      wait_read (wait);
      return;
    }
  if (wait->first_read_done)
    {
      wait_answer (wait, reply);
      return;
    }

  wait->first_read_done = TRUE;
  if (wait->hold_seconds == 0)
    {
      wait_answer (wait, reply);
      return;
    }
  if (!may_hold (wait))
    {
      /* Answered with the refusal. */
      unwatch_points (wait);
      soup_server_message_unpause (wait->msg);
      wait_free (wait);
      return;
    }
  wait_hold (wait);
}

static void
wait_read (PhMeetWait *wait)
{
  PhStoreRequest *request = ph_store_request_new (PH_STORE_OP_MEET_FETCH, 0);

  request->points = g_array_ref (wait->points);
  wait->notified = FALSE;
  ph_store_run_async (wait->server->store, request, wait->cancellable, wait_read_cb, wait);
}

void
ph_meet_wait_start (PhRendezvousServer *self, SoupServerMessage *msg, PhStoreRequest *request,
                    guint hold_seconds)
{
  PhMeetWait *wait = g_new0 (PhMeetWait, 1);

  g_assert (request->op == PH_STORE_OP_MEET_FETCH);
  g_assert (hold_seconds < G_N_ELEMENTS (self->meet_holds));

  wait->server = self;
  wait->msg = g_object_ref (msg);
  wait->cancellable = g_object_ref (self->cancellable);
  wait->points = request->points != NULL ? g_array_ref (request->points)
                                         : g_array_new (FALSE, FALSE, sizeof (PhPointCursor));
  wait->hold_seconds = hold_seconds;
  wait->hold_link.data = wait;
  wait->state = WAIT_READING;
  ph_store_request_free (request);

  soup_server_message_pause (msg);
  watch_points (wait);
  wait_read (wait);
}

/* Whether @wait cares about @side's change with @index at @point_id. */
static gboolean
wants (const PhMeetWait *wait, const char *point_id, guint64 index, guint side)
{
  for (guint i = 0; i < wait->points->len; i++)
    {
      const PhPointCursor *cursor = &g_array_index (wait->points, PhPointCursor, i);

      if (g_str_equal (cursor->id, point_id))
        return cursor->side != side && index > cursor->after;
    }
  return FALSE;
}

static void
wake (PhMeetWait *wait)
{
  stop_waiting (wait);
  wait_read (wait);
}

void
ph_meet_waits_point_changed_cb (PhStore *store, const char *point_id, guint64 index, guint side,
                                PhRendezvousServer *self)
{
  GPtrArray *watchers = g_hash_table_lookup (self->meet_watchers, point_id);
  g_autoptr (GPtrArray) due = g_ptr_array_new ();

  if (watchers == NULL)
    return;

  /* Waking changes nothing in the watchers, but gather them first all
   * the same: a read that answers at once unwatches. */
  for (guint i = 0; i < watchers->len; i++)
    {
      PhMeetWait *wait = g_ptr_array_index (watchers, i);

      if (wait->state == WAIT_READING)
        wait->notified = TRUE;
      else if (wants (wait, point_id, index, side))
        g_ptr_array_add (due, wait);
    }
  for (guint i = 0; i < due->len; i++)
    wake (g_ptr_array_index (due, i));
}

/* Every wait reads again: those reading now once their read is in, the
 * waiting ones at once. */
void
ph_meet_waits_changes_lost_cb (PhStore *store, PhRendezvousServer *self)
{
  g_autoptr (GPtrArray) due = g_ptr_array_new ();
  GHashTableIter iter;
  GPtrArray *watchers;

  g_hash_table_iter_init (&iter, self->meet_watchers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *)&watchers))
    for (guint i = 0; i < watchers->len; i++)
      {
        PhMeetWait *wait = g_ptr_array_index (watchers, i);

        if (wait->state == WAIT_READING)
          wait->notified = TRUE;
      }
  for (guint i = 1; i < G_N_ELEMENTS (self->meet_holds); i++)
    for (GList *l = self->meet_holds[i].head; l != NULL; l = l->next)
      g_ptr_array_add (due, l->data);
  for (guint i = 0; i < due->len; i++)
    wake (g_ptr_array_index (due, i));
}

void
ph_meet_waits_init (PhRendezvousServer *self)
{
  self->meet_watchers
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
}

/* On shutdown, once the server's cancellable is cancelled: the waiting
 * ones are freed here, those the store reads for when it answers. */
void
ph_meet_waits_clear (PhRendezvousServer *self)
{
  for (guint i = 1; i < G_N_ELEMENTS (self->meet_holds); i++)
    {
      GList *link;

      /* The links are the waits' own: none to free. */
      while ((link = g_queue_pop_head_link (&self->meet_holds[i])) != NULL)
        wait_free (link->data);
    }
  g_clear_pointer (&self->meet_watchers, g_hash_table_unref);
  g_clear_handle_id (&self->meet_hold_id, g_source_remove);
}
