/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-redis-store"

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <hiredis/adapters/glib.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "ph-mailbox-format.h"
#include "ph-redis-store.h"
#include "ph-server-resources.h"

/* Two connections, as Redis wants: one for the operations, one that only
 * listens (SUBSCRIBE) for what the other servers changed. Each lives and
 * reconnects on its own, on the store's main context through hiredis's
 * GLib adapter.
 *
 * An operation is one EVALSHA of ph-redis-store.lua, loaded with SCRIPT
 * LOAD at every connection, sent again as EVAL when Redis does not know
 * it (NOSCRIPT: a Redis restarted or flushed under us). The script says
 * which mailboxes it closed and which message it added; this server tells
 * its own listeners from that (before the reply, as the interface wants),
 * and the other servers from what the script published, marked with this
 * store's instance id so that it does not hear itself twice.
 *
 * Expiry. A mailbox's keys carry its end (PEXPIREAT), so Redis forgets it
 * on time whether or not any server runs. To tell the listeners, and free
 * the number at once, every script first sweeps what ended, and each
 * server runs the sweep alone when the next mailbox it knows of is due
 * (and at least every SWEEP_MAX_MS, for mailboxes another server made
 * and may no longer be there to sweep): what the sweep closes is
 * published, so every server hears of it once. */

#define KEY_PREFIX "pinhole:"
/* The script's arguments after EVALSHA's SHA and key count, before the
 * points of a meet-fetch (three each). */
#define N_SCRIPT_ARGS 27
/* Its answer's elements. */
#define N_ANSWER_ELEMENTS 15
/* Reconnection: after 100 ms, then twice as long each time, up to 2 s. */
#define FIRST_RETRY_MS 100
#define LAST_RETRY_MS 2000
#define SWEEP_MAX_MS 1000
/* Beyond the last PhStoreError: a join whose mailbox has no message yet. */
#define STATUS_NO_MESSAGE_YET 100

typedef enum
{
  LINK_COMMANDS,
  LINK_EVENTS,
  N_LINKS
} LinkKind;

typedef struct
{
  PhRedisStore *store;
  LinkKind kind;
  redisAsyncContext *ac;
  GSource *source;
  gboolean up;
  guint retry_ms;
  guint retry_id;
  GCancellable *resolving;
} Link;

/* One script run: a request's, or the sweep's (task NULL). */
typedef struct
{
  PhRedisStore *store;
  GTask *task;
  PhStoreOp op;
  guint nameplate;
  guint64 after;
  /* A meeting point's operation: for its notification and refusals. */
  PhStoreRequest *point_request;
  GPtrArray *args; /* GBytes */
  gboolean sent_whole;
  /* Filled from the answer. */
  GError *error;
  PhStoreReply *reply;
  GArray *closed; /* guint */
  gint64 next_due_ms;
} Call;

struct _PhRedisStore
{
  GObject parent_instance;

  PhStoreLimits limits;
  char *host;
  guint port;
  char *socket_path;
  guint database;
  char *address; /* for messages: host:port or the socket's path */
  char *channel;
  char instance[17];

  GMainContext *context;
  GBytes *script;
  char *script_sha;
  Link links[N_LINKS];
  gboolean connected;
  gboolean ever_connected;
  guint64 reconnects;
  char *last_error;
  gboolean disposing;

  /* Answers go back from an idle, never inside a hiredis callback: a
   * caller that drops the last reference there would free the store under
   * hiredis. */
  GQueue answered;
  GSource *answer_source;

  guint sweep_id;
  gint64 sweep_due_us;
};

static void ph_redis_store_store_init (PhStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PhRedisStore, ph_redis_store, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PH_TYPE_STORE, ph_redis_store_store_init))

enum
{
  PROP_0,
  PROP_HOST,
  PROP_PORT,
  PROP_SOCKET_PATH,
  PROP_DATABASE,
  N_OWN_PROPS,
  PROP_MAX_MAILBOXES = N_OWN_PROPS,
  PROP_MAX_MESSAGES,
  PROP_MAX_MAILBOX_BYTES,
  PROP_LIFETIME,
  N_PROPS
};

static GParamSpec *properties[N_OWN_PROPS];

static void link_connect (Link *link);
static void run_sweep (PhRedisStore *self);

/* Calls */

static void
call_free (Call *call)
{
  g_ptr_array_unref (call->args);
  g_clear_pointer (&call->point_request, ph_store_request_free);
  g_clear_object (&call->task);
  g_clear_error (&call->error);
  g_clear_pointer (&call->reply, ph_store_reply_free);
  g_clear_pointer (&call->closed, g_array_unref);
  g_free (call);
}

static GBytes *
text_arg (const char *text)
{
  return g_bytes_new (text != NULL ? text : "", text != NULL ? strlen (text) : 0);
}

static GBytes *
number_arg (guint64 value)
{
  char text[24];

  g_snprintf (text, sizeof text, "%" G_GUINT64_FORMAT, value);
  return text_arg (text);
}

static GBytes *
hash_arg (gboolean present, const guint8 *hash)
{
  return present ? g_bytes_new (hash, PH_MAILBOX_SECRET_HASH_SIZE) : text_arg (NULL);
}

static const char *
script_op_name (const Call *call)
{
  return call->task != NULL ? ph_store_op_get_name (call->op) : "sweep";
}

static gboolean
is_point_op (PhStoreOp op)
{
  return op == PH_STORE_OP_MEET_ADD_MESSAGE || op == PH_STORE_OP_STORE_COPY
         || op == PH_STORE_OP_FETCH_COPIES || op == PH_STORE_OP_DELETE_COPY;
}

/* What a refusal or a notification says of @request's point. */
static PhStoreRequest *
point_request_copy (const PhStoreRequest *request)
{
  PhStoreRequest *copy = ph_store_point_request_new (request->op, request->point_id);

  copy->side = request->side;
  copy->index = request->index;
  copy->max_count = request->max_count;
  copy->max_bytes = request->max_bytes;
  copy->max_total_bytes = request->max_total_bytes;
  return copy;
}

/* ARGV of ph-redis-store.lua, in its order. */
static Call *
call_new (PhRedisStore *self, GTask *task, const PhStoreRequest *request)
{
  Call *call = g_new0 (Call, 1);
  char tag[PH_STORE_TAG_LENGTH + 1];
  GPtrArray *args = g_ptr_array_new_with_free_func ((GDestroyNotify)g_bytes_unref);

  call->store = self;
  call->task = task != NULL ? g_object_ref (task) : NULL;
  call->op = request != NULL ? request->op : PH_STORE_OP_COUNT_OPEN;
  call->nameplate = request != NULL ? request->nameplate : 0;
  call->after = request != NULL ? MIN (request->after, (guint64)G_MAXINT64) : 0;
  call->next_due_ms = -1;
  ph_store_new_tag (tag);

  g_ptr_array_add (args, text_arg (script_op_name (call)));
  g_ptr_array_add (args, text_arg (KEY_PREFIX));
  g_ptr_array_add (args, text_arg (self->channel));
  g_ptr_array_add (args, text_arg (self->instance));
  g_ptr_array_add (args, number_arg (call->nameplate));
  g_ptr_array_add (args, hash_arg (request != NULL && request->has_secret,
                                   request != NULL ? request->secret_hash : NULL));
  g_ptr_array_add (args,
                   hash_arg (request != NULL, request != NULL ? request->seat_secret_hash : NULL));
  g_ptr_array_add (args, hash_arg (request != NULL && request->has_request_key,
                                   request != NULL ? request->request_key_hash : NULL));
  g_ptr_array_add (args, text_arg (request != NULL ? request->tag : NULL));
  g_ptr_array_add (args, text_arg (tag));
  g_ptr_array_add (args, text_arg (request != NULL ? request->phase : NULL));
  g_ptr_array_add (args, request != NULL && request->body != NULL ? g_bytes_ref (request->body)
                                                                  : text_arg (NULL));
  g_ptr_array_add (args, text_arg (request != NULL && request->body != NULL ? "1" : "0"));
  g_ptr_array_add (args, number_arg (call->after));
  g_ptr_array_add (args, number_arg (request != NULL ? request->quota : 0));
  g_ptr_array_add (args, number_arg (request != NULL ? request->window_seconds : 0));
  g_ptr_array_add (args, number_arg (self->limits.max_mailboxes));
  g_ptr_array_add (args, number_arg (self->limits.max_messages));
  g_ptr_array_add (args, number_arg (self->limits.max_mailbox_bytes));
  g_ptr_array_add (args, number_arg (self->limits.lifetime));
  g_ptr_array_add (args, text_arg (request != NULL ? request->point_id : NULL));
  g_ptr_array_add (args, number_arg (request != NULL ? request->side : 0));
  g_ptr_array_add (args, number_arg (request != NULL ? request->index : 0));
  g_ptr_array_add (args, number_arg (request != NULL ? request->lifetime_seconds : 0));
  g_ptr_array_add (args, number_arg (request != NULL ? request->max_count : 0));
  g_ptr_array_add (args, number_arg (request != NULL ? request->max_bytes : 0));
  g_ptr_array_add (args, number_arg (request != NULL ? request->max_total_bytes : 0));
  g_assert (args->len == N_SCRIPT_ARGS);
  for (guint i = 0; request != NULL && request->points != NULL && i < request->points->len; i++)
    {
      const PhPointCursor *cursor = &g_array_index (request->points, PhPointCursor, i);

      g_ptr_array_add (args, text_arg (cursor->id));
      g_ptr_array_add (args, number_arg (cursor->side));
      g_ptr_array_add (args, number_arg (MIN (cursor->after, (guint64)G_MAXINT64)));
    }
  call->args = args;
  if (request != NULL && is_point_op (request->op))
    call->point_request = point_request_copy (request);
  return call;
}

static void command_cb (redisAsyncContext *ac, void *reply, void *privdata);

/* EVALSHA, or the whole script with EVAL. */
static gboolean
call_send (PhRedisStore *self, Call *call, gboolean whole)
{
  redisAsyncContext *ac = self->links[LINK_COMMANDS].ac;
  guint argc = 3 + call->args->len;
  g_autofree const char **argv = NULL;
  g_autofree size_t *lengths = NULL;

  if (ac == NULL || !self->links[LINK_COMMANDS].up)
    return FALSE;

  argv = g_new (const char *, argc);
  lengths = g_new (size_t, argc);
  argv[0] = whole ? "EVAL" : "EVALSHA";
  lengths[0] = strlen (argv[0]);
  argv[1] = whole ? g_bytes_get_data (self->script, &lengths[1]) : self->script_sha;
  if (!whole)
    lengths[1] = strlen (self->script_sha);
  argv[2] = "0";
  lengths[2] = 1;
  for (guint i = 0; i < call->args->len; i++)
    {
      argv[3 + i] = g_bytes_get_data (g_ptr_array_index (call->args, i), &lengths[3 + i]);
      if (argv[3 + i] == NULL)
        argv[3 + i] = "";
    }
  call->sent_whole = whole;
  /* hiredis copies the arguments into its output buffer. */
  return redisAsyncCommandArgv (ac, command_cb, call, (int)argc, argv, lengths) == REDIS_OK;
}

/* Answers */

static void
set_unreachable_error (PhRedisStore *self, GError **error)
{
  g_set_error (error, PH_STORE_ERROR, PH_STORE_ERROR_FAILED,
               "Redis at %s cannot be reached (%s); the server keeps trying to reconnect.",
               self->address, self->last_error != NULL ? self->last_error : "not connected yet");
}

static void schedule_sweep (PhRedisStore *self, gint64 delay_ms);

/* On the store's context, outside hiredis: the notifications, then the
 * reply. */
static void
deliver (PhRedisStore *self, Call *call)
{
  for (guint i = 0; call->closed != NULL && i < call->closed->len; i++)
    ph_store_emit_mailbox_closed (PH_STORE (self), g_array_index (call->closed, guint, i));
  if (call->reply != NULL && call->op == PH_STORE_OP_ADD_MESSAGE && call->task != NULL)
    ph_store_emit_message_added (PH_STORE (self), call->reply->nameplate, call->reply->index);
  if (call->reply != NULL
      && (call->op == PH_STORE_OP_MEET_ADD_MESSAGE || call->op == PH_STORE_OP_STORE_COPY))
    ph_store_emit_point_changed (PH_STORE (self), call->point_request->point_id, call->reply->index,
                                 call->point_request->side);

  if (call->task == NULL)
    schedule_sweep (self,
                    call->next_due_ms >= 0 ? MIN (call->next_due_ms, SWEEP_MAX_MS) : SWEEP_MAX_MS);
  else if (call->next_due_ms >= 0)
    schedule_sweep (self, call->next_due_ms);

  if (call->task == NULL)
    return;
  if (call->error != NULL)
    g_task_return_error (call->task, g_steal_pointer (&call->error));
  else
    ph_store_return_reply (call->task, g_steal_pointer (&call->reply));
}

static gboolean
answer_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  g_source_set_ready_time (source, -1);
  return callback (user_data);
}

static GSourceFuncs answer_funcs = { .dispatch = answer_dispatch };

static gboolean
answer_cb (gpointer user_data)
{
  PhRedisStore *self = user_data;
  Call *call;

  g_object_ref (self);
  while ((call = g_queue_pop_head (&self->answered)) != NULL)
    {
      deliver (self, call);
      call_free (call);
    }
  g_object_unref (self);
  return G_SOURCE_CONTINUE;
}

static void
finish_call (PhRedisStore *self, Call *call)
{
  g_queue_push_tail (&self->answered, call);
  if (!self->disposing)
    g_source_set_ready_time (self->answer_source, 0);
}

static gint64
element_integer (const redisReply *reply, guint i)
{
  return reply->element[i]->type == REDIS_REPLY_INTEGER ? reply->element[i]->integer : 0;
}

/* "SIDE LENGTH PHASEBODY", as the script stores a message. */
static PhStoredMessage *
decode_message (const redisReply *element, guint64 index)
{
  const char *text = element->str;
  const char *end = text + element->len;
  const char *phase;
  char *after = NULL;
  guint64 side;
  guint64 length;
  g_autofree char *phase_text = NULL;
  g_autoptr (GBytes) body = NULL;

  if (element->type != REDIS_REPLY_STRING)
    return NULL;
  side = g_ascii_strtoull (text, &after, 10);
  if (after == text || after >= end || *after != ' ')
    return NULL;
  text = after + 1;
  length = g_ascii_strtoull (text, &after, 10);
  if (after == text || after >= end || *after != ' ' || length > (guint64)(end - after - 1))
    return NULL;
  phase = after + 1;
  phase_text = g_strndup (phase, length);
  body = g_bytes_new (phase + length, end - phase - length);
  return ph_stored_message_new (index, (guint)side, phase_text, body);
}

/* "INDEX REST" with REST as decode_message () reads it. */
static PhStoredMessage *
decode_point_message (const redisReply *element)
{
  redisReply rest = { 0 };
  const char *space;
  guint64 index;

  if (element->type != REDIS_REPLY_STRING
      || (space = memchr (element->str, ' ', element->len)) == NULL)
    return NULL;
  index = g_ascii_strtoull (element->str, NULL, 10);
  rest.type = REDIS_REPLY_STRING;
  rest.str = (char *)space + 1;
  rest.len = element->len - (space + 1 - element->str);
  return decode_message (&rest, index);
}

/* A meet-fetch's { ID, N_STORED, { message… } } per point. */
static gboolean
read_points (PhStoreReply *reply, const redisReply *points)
{
  reply->points = g_ptr_array_new_with_free_func ((GDestroyNotify)ph_point_news_free);
  for (size_t i = 0; i < points->elements; i++)
    {
      const redisReply *point = points->element[i];
      PhPointNews *news;

      if (point->type != REDIS_REPLY_ARRAY || point->elements != 3
          || point->element[0]->type != REDIS_REPLY_STRING
          || point->element[0]->len != PH_STORE_POINT_ID_LENGTH
          || point->element[2]->type != REDIS_REPLY_ARRAY)
        return FALSE;
      news = ph_point_news_new (point->element[0]->str);
      g_ptr_array_add (reply->points, news);
      news->n_stored = (guint)MAX (element_integer (point, 1), 0);
      for (size_t j = 0; j < point->element[2]->elements; j++)
        {
          PhStoredMessage *message = decode_point_message (point->element[2]->element[j]);

          if (message == NULL)
            return FALSE;
          g_ptr_array_add (news->messages, message);
        }
    }
  return TRUE;
}

/* fetch-copies' "INDEX SIDE EXPIRES_IN BODY", EXPIRES_IN in ms. */
static gboolean
read_copies (PhStoreReply *reply, const redisReply *copies)
{
  reply->messages
      = g_ptr_array_new_full (copies->elements, (GDestroyNotify)ph_stored_message_unref);
  for (size_t i = 0; i < copies->elements; i++)
    {
      const redisReply *element = copies->element[i];
      g_auto (GStrv) words = NULL;
      g_autoptr (GBytes) body = NULL;
      PhStoredMessage *copy;
      gsize head;

      if (element->type != REDIS_REPLY_STRING)
        return FALSE;
      words = g_strsplit (element->str, " ", 4);
      if (g_strv_length (words) != 4)
        return FALSE;
      head = strlen (words[0]) + strlen (words[1]) + strlen (words[2]) + 3;
      body = g_bytes_new (element->str + head, element->len - head);
      copy = ph_stored_message_new (g_ascii_strtoull (words[0], NULL, 10),
                                    (guint)g_ascii_strtoull (words[1], NULL, 10), NULL, body);
      copy->expires_in = (guint)((g_ascii_strtoull (words[2], NULL, 10) + 999) / 1000);
      g_ptr_array_add (reply->messages, copy);
    }
  return TRUE;
}

/* The script's answer (its header comment says what each element is). */
static gboolean
read_answer (PhRedisStore *self, Call *call, const redisReply *answer)
{
  g_autoptr (PhStoreReply) reply = ph_store_reply_new ();
  const redisReply *closed;
  const redisReply *messages;
  const redisReply *tag;
  gint64 status;

  if (answer->type != REDIS_REPLY_ARRAY || answer->elements != N_ANSWER_ELEMENTS
      || answer->element[1]->type != REDIS_REPLY_ARRAY
      || answer->element[5]->type != REDIS_REPLY_STRING
      || answer->element[11]->type != REDIS_REPLY_ARRAY)
    return FALSE;

  closed = answer->element[1];
  call->closed = g_array_sized_new (FALSE, FALSE, sizeof (guint), closed->elements);
  for (size_t i = 0; i < closed->elements; i++)
    {
      guint nameplate = closed->element[i]->type == REDIS_REPLY_INTEGER
                            ? (guint)closed->element[i]->integer
                            : 0;

      g_array_append_val (call->closed, nameplate);
    }
  call->next_due_ms = element_integer (answer, 12);

  status = element_integer (answer, 0);
  if (status == STATUS_NO_MESSAGE_YET)
    {
      call->error
          = g_error_new (PH_STORE_ERROR, PH_STORE_ERROR_NO_SUCH_MAILBOX,
                         "Mailbox %u holds no message yet: the chat you were in may not be back.",
                         call->nameplate);
      return TRUE;
    }
  if (status > 0 && status <= PH_STORE_ERROR_FAILED && call->point_request != NULL)
    {
      call->error = ph_store_point_refusal_new ((PhStoreError)(status - 1), call->point_request,
                                                &self->limits);
      return call->error != NULL;
    }
  if (status > 0 && status <= PH_STORE_ERROR_FAILED)
    {
      call->error
          = ph_store_refusal_new ((PhStoreError)(status - 1), call->nameplate, &self->limits);
      return TRUE;
    }
  if (status != 0)
    return FALSE;

  reply->nameplate = (guint)element_integer (answer, 2);
  reply->side = (guint)element_integer (answer, 3);
  reply->created = element_integer (answer, 4) != 0;
  tag = answer->element[5];
  g_strlcpy (reply->tag, tag->str, sizeof reply->tag);
  reply->expires_in = (guint)((MAX (element_integer (answer, 6), 0) + 999) / 1000);
  reply->index = (guint64)element_integer (answer, 7);
  reply->turn_granted = element_integer (answer, 8) != 0;
  reply->retry_after = (guint)((MAX (element_integer (answer, 9), 0) + 999) / 1000);
  reply->n_open = (guint)element_integer (answer, 10);
  reply->n_copies = (guint64)MAX (element_integer (answer, 13), 0);
  reply->copy_bytes = (guint64)MAX (element_integer (answer, 14), 0);
  if ((call->op == PH_STORE_OP_MEET_FETCH && !read_points (reply, answer->element[11]))
      || (call->op == PH_STORE_OP_FETCH_COPIES && !read_copies (reply, answer->element[11])))
    return FALSE;
  if (call->op == PH_STORE_OP_FETCH)
    {
      messages = answer->element[11];
      reply->messages
          = g_ptr_array_new_full (messages->elements, (GDestroyNotify)ph_stored_message_unref);
      for (size_t i = 0; i < messages->elements; i++)
        {
          PhStoredMessage *message = decode_message (messages->element[i], call->after + i + 1);

          if (message == NULL)
            return FALSE;
          g_ptr_array_add (reply->messages, message);
        }
    }
  call->reply = g_steal_pointer (&reply);
  return TRUE;
}

static void
command_cb (redisAsyncContext *ac, void *reply_data, void *privdata)
{
  Call *call = privdata;
  PhRedisStore *self = call->store;
  redisReply *reply = reply_data;

  if (reply == NULL)
    {
      g_set_error (&call->error, PH_STORE_ERROR, PH_STORE_ERROR_FAILED,
                   "The connection to Redis at %s was lost before it answered.", self->address);
    }
  else if (reply->type == REDIS_REPLY_ERROR && g_str_has_prefix (reply->str, "NOSCRIPT")
           && !call->sent_whole)
    {
      if (call_send (self, call, TRUE))
        return;
      set_unreachable_error (self, &call->error);
    }
  else if (reply->type == REDIS_REPLY_ERROR)
    {
      g_set_error (&call->error, PH_STORE_ERROR, PH_STORE_ERROR_FAILED,
                   "Redis at %s failed the %s operation: %s", self->address, script_op_name (call),
                   reply->str);
    }
  else if (!read_answer (self, call, reply))
    {
      g_clear_error (&call->error);
      g_clear_pointer (&call->reply, ph_store_reply_free);
      g_set_error (&call->error, PH_STORE_ERROR, PH_STORE_ERROR_FAILED,
                   "Redis at %s answered the %s operation with something this server cannot "
                   "read: is another program using the keys under “" KEY_PREFIX "”?",
                   self->address, script_op_name (call));
    }
  finish_call (self, call);
}

/* Expiry */

static gboolean
sweep_cb (gpointer user_data)
{
  PhRedisStore *self = user_data;

  self->sweep_id = 0;
  run_sweep (self);
  return G_SOURCE_REMOVE;
}

/* A sweep in @delay_ms, unless one is due sooner. */
static void
schedule_sweep (PhRedisStore *self, gint64 delay_ms)
{
  gint64 due_us = g_get_monotonic_time () + delay_ms * 1000;
  GSource *source;

  if (self->disposing || (self->sweep_id != 0 && self->sweep_due_us <= due_us))
    return;

  if (self->sweep_id != 0)
    g_source_remove (self->sweep_id);
  /* Redis may not have let go of a key due now (see the script): a
   * millisecond later it has. */
  source = g_timeout_source_new ((guint)MAX (delay_ms, 1));
  g_source_set_callback (source, sweep_cb, self, NULL);
  self->sweep_id = g_source_attach (source, self->context);
  self->sweep_due_us = due_us;
  g_source_unref (source);
}

static void
run_sweep (PhRedisStore *self)
{
  Call *call = call_new (self, NULL, NULL);

  if (!call_send (self, call, FALSE))
    call_free (call);
}

/* Connections */

static const char *
link_name (const Link *link)
{
  return link->kind == LINK_COMMANDS ? "requests" : "notifications";
}

static void
update_state (PhRedisStore *self)
{
  gboolean connected = self->links[LINK_COMMANDS].up && self->links[LINK_EVENTS].up;

  if (connected == self->connected)
    return;
  self->connected = connected;
  if (connected)
    {
      if (self->ever_connected)
        {
          self->reconnects++;
          g_message ("Redis at %s answers again", self->address);
        }
      self->ever_connected = TRUE;
      g_clear_pointer (&self->last_error, g_free);
      run_sweep (self);
    }
  else
    g_warning ("Lost the connection to Redis at %s: %s", self->address,
               self->last_error != NULL ? self->last_error : "closed");

  /* Lost: the polls waiting are answered (their reads fail). Back: what
   * was published meanwhile never reached us. Either way, read again. */
  if (self->ever_connected)
    ph_store_emit_changes_lost (PH_STORE (self));
}

static gboolean
retry_cb (gpointer user_data)
{
  Link *link = user_data;

  link->retry_id = 0;
  link_connect (link);
  return G_SOURCE_REMOVE;
}

static void
schedule_retry (Link *link)
{
  GSource *source = g_timeout_source_new (link->retry_ms);

  g_source_set_callback (source, retry_cb, link, NULL);
  link->retry_id = g_source_attach (source, link->store->context);
  g_source_unref (source);
  link->retry_ms = MIN (link->retry_ms * 2, LAST_RETRY_MS);
}

/* hiredis frees the context after this returns. The adapter's source is
 * still being dispatched (GLib holds it until then): no read may follow
 * a write that failed, as the context is gone. */
static void
link_gone (Link *link, const char *reason)
{
  PhRedisStore *self = link->store;

  if (link->source != NULL)
    {
      RedisSource *redis = (RedisSource *)link->source;

      redis->poll_fd.revents = 0;
      /* After a failed connection hiredis cleans up only once this
       * returns, when the adapter would remove its poll from a source
       * destroyed by then (a critical): it is removed here instead. */
      if (link->ac != NULL)
        link->ac->ev.cleanup = NULL;
      if (redis->poll_fd.fd >= 0)
        {
          g_source_remove_poll (link->source, &redis->poll_fd);
          redis->poll_fd.fd = -1;
        }
      g_source_destroy (link->source);
      g_clear_pointer (&link->source, g_source_unref);
    }
  link->ac = NULL;
  link->up = FALSE;
  if (self->disposing)
    return;

  g_free (self->last_error);
  self->last_error = g_strdup (reason != NULL && *reason != '\0' ? reason : "connection closed");
  g_debug ("Redis %s connection to %s gone: %s", link_name (link), self->address, self->last_error);
  update_state (self);
  schedule_retry (link);
}

static void
disconnect_cb (const redisAsyncContext *ac, int status)
{
  link_gone (ac->data, ac->errstr);
}

static void
events_cb (redisAsyncContext *ac, void *reply_data, void *privdata)
{
  Link *link = privdata;
  PhRedisStore *self = link->store;
  redisReply *reply = reply_data;
  const char *kind;
  g_auto (GStrv) words = NULL;

  if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3
      || reply->element[0]->type != REDIS_REPLY_STRING)
    return;

  kind = reply->element[0]->str;
  if (strcmp (kind, "subscribe") == 0)
    {
      link->up = TRUE;
      link->retry_ms = FIRST_RETRY_MS;
      update_state (self);
      return;
    }
  if (strcmp (kind, "message") != 0 || reply->element[2]->type != REDIS_REPLY_STRING)
    return;

  /* "INSTANCE a NAMEPLATE INDEX", "INSTANCE c NAMEPLATE" or "INSTANCE p
   * POINT INDEX SIDE"; our own changes were told as they were made. */
  words = g_strsplit (reply->element[2]->str, " ", 0);
  if (g_strv_length (words) < 3 || strcmp (words[0], self->instance) == 0)
    return;
  if (strcmp (words[1], "a") == 0 && words[3] != NULL)
    ph_store_emit_message_added (PH_STORE (self), (guint)g_ascii_strtoull (words[2], NULL, 10),
                                 g_ascii_strtoull (words[3], NULL, 10));
  else if (strcmp (words[1], "c") == 0)
    ph_store_emit_mailbox_closed (PH_STORE (self), (guint)g_ascii_strtoull (words[2], NULL, 10));
  else if (strcmp (words[1], "p") == 0 && g_strv_length (words) == 5
           && strlen (words[2]) == PH_STORE_POINT_ID_LENGTH)
    ph_store_emit_point_changed (PH_STORE (self), words[2], g_ascii_strtoull (words[3], NULL, 10),
                                 (guint)g_ascii_strtoull (words[4], NULL, 10));
}

static void
checked_cb (redisAsyncContext *ac, void *reply_data, void *privdata)
{
  Link *link = privdata;
  redisReply *reply = reply_data;

  /* A database that does not exist, a script Redis refuses: the
   * operator's to fix; the connection goes and is tried again. */
  if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
    {
      g_warning ("Redis at %s refused to set up the connection: %s", link->store->address,
                 reply->str);
      redisAsyncDisconnect (ac);
    }
}

static void
link_connected (Link *link)
{
  PhRedisStore *self = link->store;
  redisAsyncContext *ac = link->ac;

  if (link->kind == LINK_EVENTS)
    {
      redisAsyncCommand (ac, events_cb, link, "SUBSCRIBE %s", self->channel);
      return;
    }

  if (self->database != 0)
    redisAsyncCommand (ac, checked_cb, link, "SELECT %u", self->database);
  redisAsyncCommand (ac, checked_cb, link, "SCRIPT LOAD %b", g_bytes_get_data (self->script, NULL),
                     g_bytes_get_size (self->script));
  link->up = TRUE;
  link->retry_ms = FIRST_RETRY_MS;
  update_state (self);
}

static void
connect_cb (const redisAsyncContext *ac, int status)
{
  Link *link = ac->data;

  if (status == REDIS_OK)
    link_connected (link);
  else
    link_gone (link, ac->c.errstr);
}

static void
link_start (Link *link, redisAsyncContext *ac)
{
  PhRedisStore *self = link->store;

  if (ac == NULL || ac->err != 0)
    {
      g_autofree char *reason = g_strdup (ac != NULL ? ac->errstr : "out of memory");

      if (ac != NULL)
        redisAsyncFree (ac);
      link_gone (link, reason);
      return;
    }

  ac->data = link;
  link->ac = ac;
  link->source = redis_source_new (ac);
  g_source_attach (link->source, self->context);
  redisAsyncSetConnectCallback (ac, connect_cb);
  redisAsyncSetDisconnectCallback (ac, disconnect_cb);
}

/* getaddrinfo () would block the main loop: a name is looked up first. */
static void
resolved_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Link *link = user_data;
  g_autoptr (GError) error = NULL;
  g_autolist (GInetAddress) addresses
      = g_resolver_lookup_by_name_finish (G_RESOLVER (source), result, &error);
  g_autofree char *ip = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_clear_object (&link->resolving);
  if (addresses == NULL)
    {
      link_gone (link, error->message);
      return;
    }
  ip = g_inet_address_to_string (addresses->data);
  link_start (link, redisAsyncConnect (ip, (int)link->store->port));
}

static void
link_connect (Link *link)
{
  PhRedisStore *self = link->store;
  g_autoptr (GResolver) resolver = NULL;

  if (self->socket_path != NULL)
    {
      link_start (link, redisAsyncConnectUnix (self->socket_path));
      return;
    }
  if (g_hostname_is_ip_address (self->host))
    {
      link_start (link, redisAsyncConnect (self->host, (int)self->port));
      return;
    }

  resolver = g_resolver_get_default ();
  link->resolving = g_cancellable_new ();
  g_main_context_push_thread_default (self->context);
  g_resolver_lookup_by_name_async (resolver, self->host, link->resolving, resolved_cb, link);
  g_main_context_pop_thread_default (self->context);
}

static void
link_close (Link *link)
{
  g_clear_handle_id (&link->retry_id, g_source_remove);
  if (link->resolving != NULL)
    {
      g_cancellable_cancel (link->resolving);
      g_clear_object (&link->resolving);
    }
  /* Runs every callback still waiting, with no reply; then the
   * disconnect callback, if it had connected. */
  if (link->ac != NULL)
    redisAsyncFree (link->ac);
  link_gone (link, NULL);
}

/* The store */

static void
ph_redis_store_constructed (GObject *object)
{
  PhRedisStore *self = PH_REDIS_STORE (object);
  g_autoptr (GError) error = NULL;

  G_OBJECT_CLASS (ph_redis_store_parent_class)->constructed (object);

  /* From the resource itself: the static library's constructor that
   * would register it is not linked in unless something names it. */
  self->script = g_resource_lookup_data (ph_server_get_resource (),
                                         "/io/github/pinhole/rendezvous/ph-redis-store.lua",
                                         G_RESOURCE_LOOKUP_FLAGS_NONE, &error);
  g_assert_no_error (error);
  self->script_sha = g_compute_checksum_for_bytes (G_CHECKSUM_SHA1, self->script);

  if (self->socket_path != NULL)
    self->address = g_strdup (self->socket_path);
  else
    self->address = g_strdup_printf ("%s:%u", self->host, self->port);
  /* Pub/sub ignores databases: the channel names one. */
  self->channel = g_strdup_printf (KEY_PREFIX "events:%u", self->database);

  for (guint i = 0; i < N_LINKS; i++)
    link_connect (&self->links[i]);
}

static void
ph_redis_store_dispose (GObject *object)
{
  PhRedisStore *self = PH_REDIS_STORE (object);
  Call *call;

  self->disposing = TRUE;
  g_clear_handle_id (&self->sweep_id, g_source_remove);
  for (guint i = 0; i < N_LINKS; i++)
    link_close (&self->links[i]);
  while ((call = g_queue_pop_head (&self->answered)) != NULL)
    {
      deliver (self, call);
      call_free (call);
    }
  if (self->answer_source != NULL)
    {
      g_source_destroy (self->answer_source);
      g_clear_pointer (&self->answer_source, g_source_unref);
    }

  G_OBJECT_CLASS (ph_redis_store_parent_class)->dispose (object);
}

static void
ph_redis_store_finalize (GObject *object)
{
  PhRedisStore *self = PH_REDIS_STORE (object);

  g_free (self->host);
  g_free (self->socket_path);
  g_free (self->address);
  g_free (self->channel);
  g_free (self->script_sha);
  g_free (self->last_error);
  g_clear_pointer (&self->script, g_bytes_unref);
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (ph_redis_store_parent_class)->finalize (object);
}

static void
ph_redis_store_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PhRedisStore *self = PH_REDIS_STORE (object);

  switch (prop_id)
    {
    case PROP_HOST:
      g_value_set_string (value, self->host);
      break;
    case PROP_PORT:
      g_value_set_uint (value, self->port);
      break;
    case PROP_SOCKET_PATH:
      g_value_set_string (value, self->socket_path);
      break;
    case PROP_DATABASE:
      g_value_set_uint (value, self->database);
      break;
    case PROP_MAX_MAILBOXES:
      g_value_set_uint (value, self->limits.max_mailboxes);
      break;
    case PROP_MAX_MESSAGES:
      g_value_set_uint (value, self->limits.max_messages);
      break;
    case PROP_MAX_MAILBOX_BYTES:
      g_value_set_uint64 (value, self->limits.max_mailbox_bytes);
      break;
    case PROP_LIFETIME:
      g_value_set_uint (value, self->limits.lifetime);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_redis_store_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  PhRedisStore *self = PH_REDIS_STORE (object);

  switch (prop_id)
    {
    case PROP_HOST:
      g_free (self->host);
      self->host = g_value_dup_string (value);
      break;
    case PROP_PORT:
      self->port = g_value_get_uint (value);
      break;
    case PROP_SOCKET_PATH:
      g_free (self->socket_path);
      self->socket_path = g_value_dup_string (value);
      break;
    case PROP_DATABASE:
      self->database = g_value_get_uint (value);
      break;
    case PROP_MAX_MAILBOXES:
      self->limits.max_mailboxes = g_value_get_uint (value);
      break;
    case PROP_MAX_MESSAGES:
      self->limits.max_messages = g_value_get_uint (value);
      break;
    case PROP_MAX_MAILBOX_BYTES:
      self->limits.max_mailbox_bytes = g_value_get_uint64 (value);
      break;
    case PROP_LIFETIME:
      self->limits.lifetime = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_redis_store_class_init (PhRedisStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS
                      | G_PARAM_EXPLICIT_NOTIFY;

  object_class->constructed = ph_redis_store_constructed;
  object_class->dispose = ph_redis_store_dispose;
  object_class->finalize = ph_redis_store_finalize;
  object_class->get_property = ph_redis_store_get_property;
  object_class->set_property = ph_redis_store_set_property;

  properties[PROP_HOST] = g_param_spec_string ("host", NULL, NULL, "127.0.0.1", flags);
  properties[PROP_PORT] = g_param_spec_uint ("port", NULL, NULL, 1, 65535, 6379, flags);
  /* Set: a Unix socket instead of host and port. */
  properties[PROP_SOCKET_PATH] = g_param_spec_string ("socket-path", NULL, NULL, NULL, flags);
  properties[PROP_DATABASE] = g_param_spec_uint ("database", NULL, NULL, 0, 65535, 0, flags);
  g_object_class_install_properties (object_class, N_OWN_PROPS, properties);

  g_object_class_override_property (object_class, PROP_MAX_MAILBOXES, "max-mailboxes");
  g_object_class_override_property (object_class, PROP_MAX_MESSAGES, "max-messages");
  g_object_class_override_property (object_class, PROP_MAX_MAILBOX_BYTES, "max-mailbox-bytes");
  g_object_class_override_property (object_class, PROP_LIFETIME, "lifetime");
}

static void
ph_redis_store_init (PhRedisStore *self)
{
  self->context = g_main_context_ref_thread_default ();
  g_snprintf (self->instance, sizeof self->instance, "%08x%08x", g_random_int (), g_random_int ());
  for (guint i = 0; i < N_LINKS; i++)
    {
      self->links[i].store = self;
      self->links[i].kind = (LinkKind)i;
      self->links[i].retry_ms = FIRST_RETRY_MS;
    }

  /* Ready when answers are queued: one source for all of them. */
  self->answer_source = g_source_new (&answer_funcs, sizeof (GSource));
  g_source_set_callback (self->answer_source, answer_cb, self, NULL);
  g_source_attach (self->answer_source, self->context);
}

static void
ph_redis_store_run (PhStore *store, PhStoreRequest *request, GTask *task)
{
  PhRedisStore *self = PH_REDIS_STORE (store);
  Call *call = call_new (self, task, request);

  if (!call_send (self, call, FALSE))
    {
      set_unreachable_error (self, &call->error);
      finish_call (self, call);
    }
}

static gboolean
ph_redis_store_is_durable (PhStore *store)
{
  /* As durable as the operator makes Redis (docs/server.md: AOF). */
  return TRUE;
}

static void
ph_redis_store_append_metrics (PhStore *store, GString *text)
{
  PhRedisStore *self = PH_REDIS_STORE (store);

  g_string_append (text, "# HELP pinhole_store_redis_up Whether both connections to Redis "
                         "are up.\n# TYPE pinhole_store_redis_up gauge\n");
  g_string_append_printf (text, "pinhole_store_redis_up %d\n", self->connected ? 1 : 0);
  g_string_append (text, "# HELP pinhole_store_redis_reconnects_total Times the connections "
                         "to Redis came back after a loss.\n"
                         "# TYPE pinhole_store_redis_reconnects_total counter\n");
  g_string_append_printf (text, "pinhole_store_redis_reconnects_total %" G_GUINT64_FORMAT "\n",
                          self->reconnects);
}

static void
ph_redis_store_store_init (PhStoreInterface *iface)
{
  iface->name = "redis";
  iface->run = ph_redis_store_run;
  iface->is_durable = ph_redis_store_is_durable;
  iface->append_metrics = ph_redis_store_append_metrics;
}

gboolean
ph_redis_store_is_connected (PhRedisStore *self)
{
  g_return_val_if_fail (PH_IS_REDIS_STORE (self), FALSE);

  return self->connected;
}
