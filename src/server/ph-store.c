/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-store"

#include "config.h"

#include <string.h>

#include "ph-mailbox-format.h"
#include "ph-store.h"

G_DEFINE_QUARK (ph - store - error - quark, ph_store_error)

G_DEFINE_INTERFACE (PhStore, ph_store, G_TYPE_OBJECT)

enum
{
  MESSAGE_ADDED,
  MAILBOX_CLOSED,
  CHANGES_LOST,
  POINT_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static const char *const op_names[PH_STORE_N_OPS] = {
  [PH_STORE_OP_ALLOCATE] = "allocate",
  [PH_STORE_OP_CLAIM] = "claim",
  [PH_STORE_OP_JOIN] = "join",
  [PH_STORE_OP_AUTHENTICATE] = "authenticate",
  [PH_STORE_OP_ADD_MESSAGE] = "add-message",
  [PH_STORE_OP_FETCH] = "fetch",
  [PH_STORE_OP_LEAVE] = "leave",
  [PH_STORE_OP_COUNT_TURN] = "count-turn",
  [PH_STORE_OP_COUNT_OPEN] = "count-open",
  [PH_STORE_OP_MEET_ADD_MESSAGE] = "meet-add-message",
  [PH_STORE_OP_MEET_FETCH] = "meet-fetch",
  [PH_STORE_OP_STORE_COPY] = "store-copy",
  [PH_STORE_OP_FETCH_COPIES] = "fetch-copies",
  [PH_STORE_OP_DELETE_COPY] = "delete-copy",
  [PH_STORE_OP_COUNT_COPIES] = "count-copies",
};

/* Upper bounds of the latency histogram's buckets, in seconds: from what
 * a lookup in memory takes to what a disk that stalls does. */
static const struct
{
  double seconds;
  const char *label;
} latency_buckets[] = {
  { 0.00005, "0.00005" }, { 0.0001, "0.0001" }, { 0.00025, "0.00025" }, { 0.0005, "0.0005" },
  { 0.001, "0.001" },     { 0.0025, "0.0025" }, { 0.005, "0.005" },     { 0.01, "0.01" },
  { 0.025, "0.025" },     { 0.1, "0.1" },
};
#define N_BUCKETS G_N_ELEMENTS (latency_buckets)

/* Kept on the store's main context, where every operation finishes. */
typedef struct
{
  guint64 in_bucket[PH_STORE_N_OPS][N_BUCKETS + 1]; /* the last one: above them all */
  guint64 count[PH_STORE_N_OPS];
  double seconds[PH_STORE_N_OPS];
  guint64 failures[PH_STORE_N_OPS];
} Stats;

static GQuark stats_quark;

/* What an operation under way keeps: its request and when it started. */
typedef struct
{
  PhStoreRequest *request;
  gint64 started_us;
} Call;

static void
call_free (Call *call)
{
  ph_store_request_free (call->request);
  g_free (call);
}

static void
ph_store_default_init (PhStoreInterface *iface)
{
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS
                      | G_PARAM_EXPLICIT_NOTIFY;

  stats_quark = g_quark_from_static_string ("ph-store-stats");

  /* Nameplates stay below a billion so they always fit in nine digits. */
  g_object_interface_install_property (
      iface, g_param_spec_uint ("max-mailboxes", NULL, NULL, 1, 999999999, 10000, flags));
  g_object_interface_install_property (
      iface, g_param_spec_uint ("max-messages", NULL, NULL, 1, 1000000, 256, flags));
  g_object_interface_install_property (
      iface,
      g_param_spec_uint64 ("max-mailbox-bytes", NULL, NULL, 1, G_MAXSIZE, 1024 * 1024, flags));
  g_object_interface_install_property (
      iface, g_param_spec_uint ("lifetime", NULL, NULL, 1, 7 * 24 * 3600, 600, flags));

  signals[MESSAGE_ADDED]
      = g_signal_new ("message-added", G_TYPE_FROM_INTERFACE (iface), G_SIGNAL_RUN_LAST, 0, NULL,
                      NULL, NULL, G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_UINT64);
  signals[MAILBOX_CLOSED]
      = g_signal_new ("mailbox-closed", G_TYPE_FROM_INTERFACE (iface), G_SIGNAL_RUN_LAST, 0, NULL,
                      NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
  signals[CHANGES_LOST] = g_signal_new ("changes-lost", G_TYPE_FROM_INTERFACE (iface),
                                        G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[POINT_CHANGED]
      = g_signal_new ("point-changed", G_TYPE_FROM_INTERFACE (iface), G_SIGNAL_RUN_LAST, 0, NULL,
                      NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_UINT64, G_TYPE_UINT);
}

/* Messages */

static void
stored_message_clear (PhStoredMessage *message)
{
  g_free (message->phase);
  g_bytes_unref (message->body);
}

PhStoredMessage *
ph_stored_message_new (guint64 index, guint side, const char *phase, GBytes *body)
{
  PhStoredMessage *message = g_rc_box_new0 (PhStoredMessage);

  message->index = index;
  message->side = side;
  message->phase = g_strdup (phase);
  message->body = g_bytes_ref (body);
  return message;
}

PhStoredMessage *
ph_stored_message_ref (PhStoredMessage *message)
{
  return g_rc_box_acquire (message);
}

void
ph_stored_message_unref (PhStoredMessage *message)
{
  g_rc_box_release_full (message, (GDestroyNotify)stored_message_clear);
}

/* Requests and replies */

PhStoreRequest *
ph_store_request_new (PhStoreOp op, guint nameplate)
{
  PhStoreRequest *request;

  g_return_val_if_fail (op < PH_STORE_N_OPS, NULL);

  request = g_new0 (PhStoreRequest, 1);
  request->op = op;
  request->nameplate = nameplate;
  return request;
}

void
ph_store_request_free (PhStoreRequest *request)
{
  if (request == NULL)
    return;
  g_free (request->tag);
  g_free (request->phase);
  g_clear_pointer (&request->body, g_bytes_unref);
  g_clear_pointer (&request->points, g_array_unref);
  g_free (request);
}

PhStoreRequest *
ph_store_point_request_new (PhStoreOp op, const char *point_id)
{
  PhStoreRequest *request;

  g_return_val_if_fail (point_id != NULL && strlen (point_id) == PH_STORE_POINT_ID_LENGTH, NULL);

  request = ph_store_request_new (op, 0);
  memcpy (request->point_id, point_id, sizeof request->point_id);
  return request;
}

void
ph_store_request_add_point (PhStoreRequest *request, const char *point_id, guint side,
                            guint64 after)
{
  PhPointCursor cursor = { .side = side, .after = after };

  g_return_if_fail (request != NULL && request->op == PH_STORE_OP_MEET_FETCH);
  g_return_if_fail (point_id != NULL && strlen (point_id) == PH_STORE_POINT_ID_LENGTH);

  memcpy (cursor.id, point_id, sizeof cursor.id);
  if (request->points == NULL)
    request->points = g_array_new (FALSE, FALSE, sizeof (PhPointCursor));
  g_array_append_val (request->points, cursor);
}

PhPointNews *
ph_point_news_new (const char *id)
{
  PhPointNews *news = g_new0 (PhPointNews, 1);

  g_strlcpy (news->id, id, sizeof news->id);
  news->messages = g_ptr_array_new_with_free_func ((GDestroyNotify)ph_stored_message_unref);
  return news;
}

void
ph_point_news_free (PhPointNews *news)
{
  if (news == NULL)
    return;
  g_ptr_array_unref (news->messages);
  g_free (news);
}

void
ph_store_request_set_secret (PhStoreRequest *request, const char *secret)
{
  g_return_if_fail (request != NULL);

  request->has_secret = secret != NULL && ph_mailbox_secret_is_valid (secret);
  if (request->has_secret)
    ph_mailbox_secret_hash (secret, request->secret_hash);
}

char *
ph_store_request_new_seat_secret (PhStoreRequest *request)
{
  g_return_val_if_fail (request != NULL, NULL);

  return ph_mailbox_secret_new (request->seat_secret_hash);
}

void
ph_store_request_set_request_key (PhStoreRequest *request, const char *key)
{
  g_return_if_fail (request != NULL);

  request->has_request_key = key != NULL;
  if (key != NULL)
    ph_mailbox_secret_hash (key, request->request_key_hash);
}

void
ph_store_request_set_tag (PhStoreRequest *request, const char *tag)
{
  g_return_if_fail (request != NULL);

  g_free (request->tag);
  request->tag = g_strdup (tag);
}

void
ph_store_request_set_message (PhStoreRequest *request, const char *phase, GBytes *body)
{
  g_return_if_fail (request != NULL);
  g_return_if_fail ((phase == NULL) == (body == NULL));

  g_free (request->phase);
  request->phase = g_strdup (phase);
  g_clear_pointer (&request->body, g_bytes_unref);
  request->body = body;
}

PhStoreReply *
ph_store_reply_new (void)
{
  return g_new0 (PhStoreReply, 1);
}

void
ph_store_reply_free (PhStoreReply *reply)
{
  if (reply == NULL)
    return;
  g_clear_pointer (&reply->messages, g_ptr_array_unref);
  g_clear_pointer (&reply->points, g_ptr_array_unref);
  g_free (reply);
}

/* Running operations */

void
ph_store_run_async (PhStore *self, PhStoreRequest *request, GCancellable *cancellable,
                    GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  Call *call;

  g_return_if_fail (PH_IS_STORE (self));
  g_return_if_fail (request != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ph_store_run_async);
  call = g_new0 (Call, 1);
  call->request = request;
  call->started_us = g_get_monotonic_time ();
  g_task_set_task_data (task, call, (GDestroyNotify)call_free);

  PH_STORE_GET_IFACE (self)->run (self, request, task);
}

static Stats *
get_stats (PhStore *self)
{
  Stats *stats = g_object_get_qdata (G_OBJECT (self), stats_quark);

  if (stats == NULL)
    {
      stats = g_new0 (Stats, 1);
      g_object_set_qdata_full (G_OBJECT (self), stats_quark, stats, g_free);
    }
  return stats;
}

static void
record (PhStore *self, const Call *call, const GError *error)
{
  Stats *stats = get_stats (self);
  PhStoreOp op = call->request->op;
  double seconds = (g_get_monotonic_time () - call->started_us) / (double)G_USEC_PER_SEC;
  guint bucket = 0;

  while (bucket < N_BUCKETS && seconds > latency_buckets[bucket].seconds)
    bucket++;
  stats->in_bucket[op][bucket]++;
  stats->count[op]++;
  stats->seconds[op] += seconds;
  if (g_error_matches (error, PH_STORE_ERROR, PH_STORE_ERROR_FAILED))
    stats->failures[op]++;
}

PhStoreReply *
ph_store_run_finish (PhStore *self, GAsyncResult *result, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  PhStoreReply *reply;

  g_return_val_if_fail (PH_IS_STORE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ph_store_run_async, NULL);

  reply = g_task_propagate_pointer (G_TASK (result), &local_error);
  record (self, g_task_get_task_data (G_TASK (result)), local_error);
  if (local_error != NULL)
    g_propagate_error (error, g_steal_pointer (&local_error));
  return reply;
}

void
ph_store_return_reply (GTask *task, PhStoreReply *reply)
{
  g_task_return_pointer (task, reply, (GDestroyNotify)ph_store_reply_free);
}

const char *
ph_store_get_name (PhStore *self)
{
  g_return_val_if_fail (PH_IS_STORE (self), NULL);

  return PH_STORE_GET_IFACE (self)->name;
}

gboolean
ph_store_is_durable (PhStore *self)
{
  PhStoreInterface *iface;

  g_return_val_if_fail (PH_IS_STORE (self), FALSE);

  iface = PH_STORE_GET_IFACE (self);
  return iface->is_durable != NULL && iface->is_durable (self);
}

void
ph_store_watch (PhStore *self, guint nameplate)
{
  PhStoreInterface *iface;

  g_return_if_fail (PH_IS_STORE (self));

  iface = PH_STORE_GET_IFACE (self);
  if (iface->watch != NULL)
    iface->watch (self, nameplate);
}

void
ph_store_unwatch (PhStore *self, guint nameplate)
{
  PhStoreInterface *iface;

  g_return_if_fail (PH_IS_STORE (self));

  iface = PH_STORE_GET_IFACE (self);
  if (iface->unwatch != NULL)
    iface->unwatch (self, nameplate);
}

void
ph_store_watch_point (PhStore *self, const char *point_id)
{
  PhStoreInterface *iface;

  g_return_if_fail (PH_IS_STORE (self));

  iface = PH_STORE_GET_IFACE (self);
  if (iface->watch_point != NULL)
    iface->watch_point (self, point_id);
}

void
ph_store_unwatch_point (PhStore *self, const char *point_id)
{
  PhStoreInterface *iface;

  g_return_if_fail (PH_IS_STORE (self));

  iface = PH_STORE_GET_IFACE (self);
  if (iface->unwatch_point != NULL)
    iface->unwatch_point (self, point_id);
}

guint
ph_store_get_lifetime (PhStore *self)
{
  guint lifetime = 0;

  g_return_val_if_fail (PH_IS_STORE (self), 0);

  g_object_get (self, "lifetime", &lifetime, NULL);
  return lifetime;
}

const char *
ph_store_op_get_name (PhStoreOp op)
{
  g_return_val_if_fail (op < PH_STORE_N_OPS, NULL);

  return op_names[op];
}

static void
append_metric (GString *text, const char *name, const char *type, const char *help)
{
  g_string_append_printf (text, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
ph_store_append_metrics (PhStore *self, GString *text)
{
  const char *name = ph_store_get_name (self);
  Stats *stats = get_stats (self);

  append_metric (text, "pinhole_store_info", "gauge", "The store that keeps the mailboxes.");
  g_string_append_printf (text, "pinhole_store_info{backend=\"%s\",durable=\"%s\"} 1\n", name,
                          ph_store_is_durable (self) ? "true" : "false");

  append_metric (text, "pinhole_store_seconds", "histogram",
                 "Time from asking the store to its answer, by operation.");
  for (guint op = 0; op < PH_STORE_N_OPS; op++)
    {
      guint64 cumulative = 0;

      char sum[G_ASCII_DTOSTR_BUF_SIZE];

      for (guint i = 0; i <= N_BUCKETS; i++)
        {
          cumulative += stats->in_bucket[op][i];
          g_string_append_printf (
              text,
              "pinhole_store_seconds_bucket{backend=\"%s\",operation=\"%s\",le=\"%s\"} "
              "%" G_GUINT64_FORMAT "\n",
              name, op_names[op], i < N_BUCKETS ? latency_buckets[i].label : "+Inf", cumulative);
        }
      g_string_append_printf (
          text, "pinhole_store_seconds_sum{backend=\"%s\",operation=\"%s\"} %s\n", name,
          op_names[op], g_ascii_formatd (sum, sizeof sum, "%.6f", stats->seconds[op]));
      g_string_append_printf (text,
                              "pinhole_store_seconds_count{backend=\"%s\",operation=\"%s\"} "
                              "%" G_GUINT64_FORMAT "\n",
                              name, op_names[op], stats->count[op]);
    }

  append_metric (text, "pinhole_store_errors_total", "counter",
                 "Operations the store itself failed (not refusals), by operation.");
  for (guint op = 0; op < PH_STORE_N_OPS; op++)
    g_string_append_printf (text,
                            "pinhole_store_errors_total{backend=\"%s\",operation=\"%s\"} "
                            "%" G_GUINT64_FORMAT "\n",
                            name, op_names[op], stats->failures[op]);
}

/* For backends */

void
ph_store_emit_message_added (PhStore *self, guint nameplate, guint64 index)
{
  g_return_if_fail (PH_IS_STORE (self));

  g_signal_emit (self, signals[MESSAGE_ADDED], 0, nameplate, index);
}

void
ph_store_emit_mailbox_closed (PhStore *self, guint nameplate)
{
  g_return_if_fail (PH_IS_STORE (self));

  g_signal_emit (self, signals[MAILBOX_CLOSED], 0, nameplate);
}

void
ph_store_emit_changes_lost (PhStore *self)
{
  g_return_if_fail (PH_IS_STORE (self));

  g_signal_emit (self, signals[CHANGES_LOST], 0);
}

void
ph_store_emit_point_changed (PhStore *self, const char *point_id, guint64 index, guint side)
{
  g_return_if_fail (PH_IS_STORE (self));

  g_signal_emit (self, signals[POINT_CHANGED], 0, point_id, index, side);
}

gboolean
ph_store_check_copy_room (const PhStoreRequest *request, guint64 count, guint64 bytes,
                          guint64 total_bytes, const PhStoreLimits *limits, GError **error)
{
  gsize size = g_bytes_get_size (request->body);

  if (count >= request->max_count || size > request->max_bytes || bytes > request->max_bytes - size)
    {
      g_propagate_error (error,
                         ph_store_point_refusal_new (PH_STORE_ERROR_STORED_LIMIT, request, limits));
      return FALSE;
    }
  if (size > request->max_total_bytes || total_bytes > request->max_total_bytes - size)
    {
      g_propagate_error (error,
                         ph_store_point_refusal_new (PH_STORE_ERROR_STORED_FULL, request, limits));
      return FALSE;
    }
  return TRUE;
}

/* Ids are no secret, but long: a sentence names a point by its first
 * digits. */
GError *
ph_store_point_refusal_new (PhStoreError code, const PhStoreRequest *request,
                            const PhStoreLimits *limits)
{
  switch (code)
    {
    case PH_STORE_ERROR_POINT_LIMIT:
      return g_error_new (PH_STORE_ERROR, code,
                          "Meeting point %.8s… is full: it holds at most %u messages and "
                          "%" G_GUINT64_FORMAT " bytes of them.",
                          request->point_id, limits->max_messages, limits->max_mailbox_bytes);
    case PH_STORE_ERROR_STORED_LIMIT:
      return g_error_new (PH_STORE_ERROR, code,
                          "Meeting point %.8s… keeps at most %u stored copies and "
                          "%" G_GUINT64_FORMAT " bytes of them; the contact must fetch some first.",
                          request->point_id, request->max_count, request->max_bytes);
    case PH_STORE_ERROR_STORED_FULL:
      return g_error_new (PH_STORE_ERROR, code,
                          "This server keeps at most %" G_GUINT64_FORMAT
                          " bytes of stored copies, and has no room for more now.",
                          request->max_total_bytes);
    case PH_STORE_ERROR_NO_SUCH_COPY:
      return g_error_new (PH_STORE_ERROR, code,
                          "Meeting point %.8s… has no stored copy %" G_GUINT64_FORMAT
                          "; it may have been acknowledged already or expired.",
                          request->point_id, request->index);
    default:
      g_return_val_if_reached (NULL);
    }
}

GError *
ph_store_refusal_new (PhStoreError code, guint nameplate, const PhStoreLimits *limits)
{
  switch (code)
    {
    case PH_STORE_ERROR_NO_SUCH_MAILBOX:
      return g_error_new (PH_STORE_ERROR, code,
                          "There is no mailbox %u; it may have expired or been closed.", nameplate);
    case PH_STORE_ERROR_NO_FREE_MAILBOX:
      return g_error_new (PH_STORE_ERROR, code,
                          "All %u mailboxes are in use; try again in a few minutes.",
                          limits->max_mailboxes);
    case PH_STORE_ERROR_THIRD_SIDE:
      return g_error_new (PH_STORE_ERROR, code,
                          "Mailbox %u already has two sides; a code works for two people only.",
                          nameplate);
    case PH_STORE_ERROR_MAILBOX_LIMIT:
      return g_error_new (PH_STORE_ERROR, code,
                          "Mailbox %u is full: it holds at most %u messages and %" G_GUINT64_FORMAT
                          " bytes.",
                          nameplate, limits->max_messages, limits->max_mailbox_bytes);
    case PH_STORE_ERROR_NAMEPLATE_UNAVAILABLE:
      if (nameplate == 0 || nameplate > limits->max_mailboxes)
        return g_error_new (PH_STORE_ERROR, code, "Nameplates here run from 1 to %u.",
                            limits->max_mailboxes);
      return g_error_new (PH_STORE_ERROR, code, "Mailbox %u is already open for another chat.",
                          nameplate);
    case PH_STORE_ERROR_UNAUTHORIZED:
      return g_error_new (PH_STORE_ERROR, code,
                          "The request does not carry the secret of a side of mailbox %u.",
                          nameplate);
    case PH_STORE_ERROR_OTHER_FIRST_MESSAGE:
      return g_error_new (PH_STORE_ERROR, code,
                          "Mailbox %u holds another chat than the one you were in.", nameplate);
    case PH_STORE_ERROR_REPLACED:
      return g_error_new (PH_STORE_ERROR, code,
                          "Mailbox %u is not the one you used: this server has restarted, or the "
                          "mailbox expired, and the number was opened again.",
                          nameplate);
    case PH_STORE_ERROR_FAILED:
    default:
      g_return_val_if_reached (NULL);
    }
}

guint
ph_store_match_side (const PhStoreRequest *request, gboolean host_taken, const guint8 *host_hash,
                     gboolean joiner_taken, const guint8 *joiner_hash)
{
  gboolean is_host;
  gboolean is_joiner;

  if (!request->has_secret)
    return 0;

  is_host = ph_mailbox_secret_hash_equal (request->secret_hash, host_hash);
  is_joiner = ph_mailbox_secret_hash_equal (request->secret_hash, joiner_hash);
  if (is_host && host_taken)
    return PH_MAILBOX_HOST_SIDE;
  if (is_joiner && joiner_taken)
    return PH_MAILBOX_JOINER_SIDE;
  return 0;
}

gboolean
ph_store_request_key_matches (const PhStoreRequest *request, const guint8 *key_hash)
{
  return request->has_request_key
         && ph_mailbox_secret_hash_equal (request->request_key_hash, key_hash);
}

void
ph_store_new_tag (char out_tag[PH_STORE_TAG_LENGTH + 1])
{
  g_snprintf (out_tag, PH_STORE_TAG_LENGTH + 1, "%08x%08x", g_random_int (), g_random_int ());
}
