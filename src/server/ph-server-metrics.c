/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-server-metrics"

#include "config.h"

#include <string.h>

#include "ph-rendezvous-server-private.h"

/* The counters a Prometheus scrape of /metrics reads, and its text. The
 * counters live on the server, where each part adds to them. */

void
ph_server_count (GHashTable *table, gconstpointer key)
{
  gsize n = GPOINTER_TO_SIZE (g_hash_table_lookup (table, key));

  g_hash_table_insert (table, (gpointer)key, GSIZE_TO_POINTER (n + 1));
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
guint
ph_server_count_open_clients (PhRendezvousServer *self)
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

typedef struct
{
  PhRendezvousServer *server;
  GCancellable *cancellable; /* the server's: cancelled as it goes */
  SoupServerMessage *msg;
  PhStoreReply *open;   /* the count of open mailboxes, or NULL */
  PhStoreReply *copies; /* the count of stored copies, or NULL */
  guint pending;
} MetricsRequest;

static void
respond_metrics (PhRendezvousServer *self, SoupServerMessage *msg, const PhStoreReply *reply,
                 const PhStoreReply *copies)
{
  g_autoptr (GString) text = g_string_new (NULL);
  GList *keys;
  gsize length;

  /* The store that failed to count still has its own numbers to show. */
  append_metric (text, "pinhole_mailboxes_open", "gauge", "Mailboxes open now.");
  if (reply != NULL)
    g_string_append_printf (text, "pinhole_mailboxes_open %u\n", reply->n_open);
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
  append_metric (text, "pinhole_stored_copies", "gauge",
                 "Sealed copies kept at meeting points now, for contacts who are offline.");
  if (copies != NULL)
    g_string_append_printf (text, "pinhole_stored_copies %" G_GUINT64_FORMAT "\n",
                            copies->n_copies);
  append_metric (text, "pinhole_stored_copy_bytes", "gauge",
                 "Bytes of the sealed copies kept at meeting points now.");
  if (copies != NULL)
    g_string_append_printf (text, "pinhole_stored_copy_bytes %" G_GUINT64_FORMAT "\n",
                            copies->copy_bytes);
  append_metric (text, "pinhole_stored_copies_total", "counter",
                 "Sealed copies stored at meeting points.");
  g_string_append_printf (text, "pinhole_stored_copies_total %" G_GUINT64_FORMAT "\n",
                          self->copies_stored);
  append_metric (text, "pinhole_polls_waiting", "gauge",
                 "Long-polls waiting for a message, at mailboxes or meeting points.");
  g_string_append_printf (text, "pinhole_polls_waiting %u\n", self->waiting_polls);
  append_metric (text, "pinhole_connections_open", "gauge", "PhServerClient connections open now.");
  g_string_append_printf (text, "pinhole_connections_open %u\n",
                          ph_server_count_open_clients (self));
  append_metric (text, "pinhole_connections_timed_out_total", "counter",
                 "Connections closed because the client was too slow or idle too long.");
  g_string_append_printf (text, "pinhole_connections_timed_out_total %" G_GUINT64_FORMAT "\n",
                          self->clients_timed_out);
  append_metric (text, "pinhole_clients_holding", "gauge",
                 "Clients (IPv4 addresses, IPv6 /64s) holding an open mailbox or a waiting poll.");
  g_string_append_printf (text, "pinhole_clients_holding %u\n", g_hash_table_size (self->usage));
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

  ph_store_append_metrics (self->store, text);

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  length = text->len;
  soup_server_message_set_response (msg, "text/plain; version=0.0.4; charset=utf-8",
                                    SOUP_MEMORY_TAKE,
                                    g_string_free (g_steal_pointer (&text), FALSE), length);
}

/* Answers once both counts are in (or failed: NULL). */
static void
count_done (MetricsRequest *request)
{
  if (--request->pending > 0)
    return;

  if (!g_cancellable_is_cancelled (request->cancellable))
    {
      respond_metrics (request->server, request->msg, request->open, request->copies);
      soup_server_message_unpause (request->msg);
    }
  g_clear_pointer (&request->open, ph_store_reply_free);
  g_clear_pointer (&request->copies, ph_store_reply_free);
  g_object_unref (request->msg);
  g_object_unref (request->cancellable);
  g_free (request);
}

static void
counted_open_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  MetricsRequest *request = user_data;

  request->open = ph_store_run_finish (PH_STORE (source), result, NULL);
  count_done (request);
}

static void
counted_copies_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  MetricsRequest *request = user_data;

  request->copies = ph_store_run_finish (PH_STORE (source), result, NULL);
  count_done (request);
}

/* The counts are the store's: one shared by several servers counts
 * them all. */
void
ph_server_handle_metrics (PhRendezvousServer *self, SoupServerMessage *msg)
{
  MetricsRequest *request = g_new0 (MetricsRequest, 1);

  request->server = self;
  request->cancellable = g_object_ref (self->cancellable);
  request->msg = g_object_ref (msg);
  request->pending = 2;
  soup_server_message_pause (msg);
  ph_store_run_async (self->store, ph_store_request_new (PH_STORE_OP_COUNT_OPEN, 0),
                      self->cancellable, counted_open_cb, request);
  ph_store_run_async (self->store, ph_store_request_new (PH_STORE_OP_COUNT_COPIES, 0),
                      self->cancellable, counted_copies_cb, request);
}
