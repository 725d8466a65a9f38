/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-memory-store"

#include "config.h"

#include <string.h>

#include "ph-mailbox-format.h"
#include "ph-memory-store.h"
#include "ph-nameplate-pool.h"

typedef struct
{
  gboolean taken;
  gboolean left;
  /* Until the side first uses its secret: a claim or join repeated with
   * the request key it was taken with gives it a new one. */
  gboolean has_request_key;
  guint8 secret_hash[PH_MAILBOX_SECRET_HASH_SIZE];
  guint8 request_key_hash[PH_MAILBOX_SECRET_HASH_SIZE];
  guint turn_requests;
  gint64 turn_window_end_us;
} Seat;

typedef struct
{
  PhMemoryStore *store;
  guint nameplate;
  Seat seats[2];       /* side N at N - 1 */
  GPtrArray *messages; /* PhStoredMessage, index i + 1 at i */
  guint64 bytes;
  gint64 expires_us;
  GList link; /* in PhMemoryStore.expiring */
  char tag[PH_STORE_TAG_LENGTH + 1];
} Mailbox;

/* A message or a stored copy at a meeting point. */
typedef struct
{
  struct _Point *point;
  PhStoredMessage *message;
  gint64 expires_us;
  GList point_link;  /* in its point's messages or copies, oldest first */
  GList expiry_link; /* in the store's messages or copies, earliest expiry first */
} Item;

typedef struct _Point
{
  char id[PH_STORE_POINT_ID_LENGTH + 1];
  GQueue messages; /* Item */
  GQueue copies;   /* Item */
  guint64 message_bytes;
  guint64 copy_bytes;
} Point;

struct _PhMemoryStore
{
  GObject parent_instance;

  PhStoreLimits limits;
  GHashTable *mailboxes; /* nameplate → Mailbox */
  PhNameplatePool *pool;
  /* Every mailbox has the same lifetime from its last renewal, so moving a
   * renewed one to the tail keeps them in order of expiry, and one timer
   * for the head serves them all: a GSource per mailbox would make every
   * iteration of the main loop cost time in proportion to them. */
  GQueue expiring;
  guint expiry_id;

  GHashTable *points;    /* id → Point, while it holds anything */
  GQueue point_messages; /* Item, earliest expiry first */
  GQueue point_copies;   /* Item, earliest expiry first */
  guint64 last_index;    /* of every message and copy at every point */
  guint64 n_copies;
  guint64 copy_bytes;
};

static void ph_memory_store_store_init (PhStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PhMemoryStore, ph_memory_store, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PH_TYPE_STORE, ph_memory_store_store_init))

enum
{
  PROP_0,
  PROP_MAX_MAILBOXES,
  PROP_MAX_MESSAGES,
  PROP_MAX_MAILBOX_BYTES,
  PROP_LIFETIME,
  N_PROPS
};

static void
mailbox_free (Mailbox *mailbox)
{
  g_queue_unlink (&mailbox->store->expiring, &mailbox->link);
  g_ptr_array_unref (mailbox->messages);
  g_free (mailbox);
}

static void
close_mailbox (PhMemoryStore *self, guint nameplate)
{
  g_hash_table_remove (self->mailboxes, GUINT_TO_POINTER (nameplate));
  ph_nameplate_pool_release (self->pool, nameplate);
  ph_store_emit_mailbox_closed (PH_STORE (self), nameplate);
}

static void schedule_expiry (PhMemoryStore *self);

static gboolean
expiry_cb (gpointer user_data)
{
  PhMemoryStore *self = user_data;
  gint64 now = g_get_monotonic_time ();
  Mailbox *mailbox;

  self->expiry_id = 0;
  while ((mailbox = g_queue_peek_head (&self->expiring)) != NULL && mailbox->expires_us <= now)
    close_mailbox (self, mailbox->nameplate);
  schedule_expiry (self);

  return G_SOURCE_REMOVE;
}

/* A timer already set is due no later than the head: it finds nothing
 * due, or the head, and sets itself again. */
static void
schedule_expiry (PhMemoryStore *self)
{
  Mailbox *head = g_queue_peek_head (&self->expiring);
  gint64 delay_us;

  if (head == NULL || self->expiry_id != 0)
    return;

  delay_us = MAX (head->expires_us - g_get_monotonic_time (), 0);
  self->expiry_id = g_timeout_add ((guint)((delay_us + 999) / 1000), expiry_cb, self);
}

/* Gives @mailbox its whole lifetime from now. */
static void
start_lifetime (PhMemoryStore *self, Mailbox *mailbox)
{
  if (mailbox->link.data != NULL)
    g_queue_unlink (&self->expiring, &mailbox->link);
  mailbox->link.data = mailbox;
  mailbox->expires_us = g_get_monotonic_time () + (gint64)self->limits.lifetime * G_USEC_PER_SEC;
  g_queue_push_tail_link (&self->expiring, &mailbox->link);
  schedule_expiry (self);
}

/* Seconds until @expires_us, rounded up. */
static guint
seconds_left (gint64 expires_us)
{
  gint64 left_us = expires_us - g_get_monotonic_time ();

  return left_us > 0 ? (guint)((left_us + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC) : 0;
}

/* Meeting points */

static void
item_free (Item *item)
{
  ph_stored_message_unref (item->message);
  g_free (item);
}

/* Unlinks @item from its point (dropped once empty) and frees it; the
 * caller has unlinked it from the store's queue. */
static void
item_remove (PhMemoryStore *self, Item *item, gboolean is_copy)
{
  Point *point = item->point;
  gsize size = g_bytes_get_size (item->message->body);

  if (is_copy)
    {
      g_queue_unlink (&point->copies, &item->point_link);
      point->copy_bytes -= size;
      self->n_copies--;
      self->copy_bytes -= size;
    }
  else
    {
      g_queue_unlink (&point->messages, &item->point_link);
      point->message_bytes -= size;
    }
  if (g_queue_is_empty (&point->messages) && g_queue_is_empty (&point->copies))
    g_hash_table_remove (self->points, point->id);
  item_free (item);
}

/* What expired goes before any operation looks. */
static void
prune_points (PhMemoryStore *self)
{
  gint64 now = g_get_monotonic_time ();
  GQueue *queues[] = { &self->point_messages, &self->point_copies };

  for (guint i = 0; i < G_N_ELEMENTS (queues); i++)
    {
      Item *head;

      while ((head = g_queue_peek_head (queues[i])) != NULL && head->expires_us <= now)
        {
          g_queue_unlink (queues[i], &head->expiry_link);
          item_remove (self, head, queues[i] == &self->point_copies);
        }
    }
}

static Point *
lookup_point (PhMemoryStore *self, const char *id, gboolean create)
{
  Point *point = g_hash_table_lookup (self->points, id);

  if (point == NULL && create)
    {
      point = g_new0 (Point, 1);
      memcpy (point->id, id, sizeof point->id);
      g_hash_table_insert (self->points, point->id, point);
    }
  return point;
}

/* Adds a message or copy that lives @lifetime_us, in expiry order: the
 * same lifetime for all keeps it the tail, but copies' may differ. */
static Item *
add_item (PhMemoryStore *self, Point *point, gboolean is_copy, const PhStoreRequest *request,
          gint64 lifetime_us)
{
  GQueue *all = is_copy ? &self->point_copies : &self->point_messages;
  Item *item = g_new0 (Item, 1);
  GList *after = all->tail;

  item->point = point;
  item->message = ph_stored_message_new (++self->last_index, request->side,
                                         is_copy ? NULL : request->phase, request->body);
  item->expires_us = g_get_monotonic_time () + lifetime_us;
  item->point_link.data = item;
  item->expiry_link.data = item;
  g_queue_push_tail_link (is_copy ? &point->copies : &point->messages, &item->point_link);
  while (after != NULL && ((Item *)after->data)->expires_us > item->expires_us)
    after = after->prev;
  if (after == NULL)
    g_queue_push_head_link (all, &item->expiry_link);
  else
    g_queue_insert_after_link (all, after, &item->expiry_link);
  return item;
}

static gboolean
meet_add_message (PhMemoryStore *self, const PhStoreRequest *request, PhStoreReply *reply,
                  GError **error)
{
  Point *point = lookup_point (self, request->point_id, FALSE);
  gsize size = g_bytes_get_size (request->body);
  Item *item;
  guint count = point != NULL ? point->messages.length : 0;
  guint64 bytes = point != NULL ? point->message_bytes : 0;

  if (count >= self->limits.max_messages || size > self->limits.max_mailbox_bytes - bytes)
    {
      g_propagate_error (
          error, ph_store_point_refusal_new (PH_STORE_ERROR_POINT_LIMIT, request, &self->limits));
      return FALSE;
    }

  point = lookup_point (self, request->point_id, TRUE);
  item = add_item (self, point, FALSE, request, (gint64)self->limits.lifetime * G_USEC_PER_SEC);
  point->message_bytes += size;
  reply->index = item->message->index;
  ph_store_emit_point_changed (PH_STORE (self), point->id, reply->index, request->side);
  return TRUE;
}

static void
meet_fetch (PhMemoryStore *self, const PhStoreRequest *request, PhStoreReply *reply)
{
  reply->points = g_ptr_array_new_with_free_func ((GDestroyNotify)ph_point_news_free);
  for (guint i = 0; request->points != NULL && i < request->points->len; i++)
    {
      const PhPointCursor *cursor = &g_array_index (request->points, PhPointCursor, i);
      Point *point = lookup_point (self, cursor->id, FALSE);
      PhPointNews *news = ph_point_news_new (cursor->id);

      g_ptr_array_add (reply->points, news);
      if (point == NULL)
        continue;
      for (GList *l = point->messages.head; l != NULL; l = l->next)
        {
          PhStoredMessage *message = ((Item *)l->data)->message;

          if (message->index > cursor->after && message->side != cursor->side)
            g_ptr_array_add (news->messages, ph_stored_message_ref (message));
        }
      for (GList *l = point->copies.head; l != NULL; l = l->next)
        {
          PhStoredMessage *copy = ((Item *)l->data)->message;

          if (copy->index > cursor->after && copy->side != cursor->side)
            news->n_stored++;
        }
    }
}

static gboolean
store_copy (PhMemoryStore *self, const PhStoreRequest *request, PhStoreReply *reply, GError **error)
{
  Point *point = lookup_point (self, request->point_id, FALSE);
  gsize size = g_bytes_get_size (request->body);
  guint count = point != NULL ? point->copies.length : 0;
  guint64 bytes = point != NULL ? point->copy_bytes : 0;
  Item *item;

  if (!ph_store_check_copy_room (request, count, bytes, self->copy_bytes, &self->limits, error))
    return FALSE;

  point = lookup_point (self, request->point_id, TRUE);
  item = add_item (self, point, TRUE, request, (gint64)request->lifetime_seconds * G_USEC_PER_SEC);
  point->copy_bytes += size;
  self->n_copies++;
  self->copy_bytes += size;
  reply->index = item->message->index;
  reply->expires_in = request->lifetime_seconds;
  ph_store_emit_point_changed (PH_STORE (self), point->id, reply->index, request->side);
  return TRUE;
}

static void
fetch_copies (PhMemoryStore *self, const PhStoreRequest *request, PhStoreReply *reply)
{
  Point *point = lookup_point (self, request->point_id, FALSE);

  reply->messages = g_ptr_array_new_with_free_func ((GDestroyNotify)ph_stored_message_unref);
  for (GList *l = point != NULL ? point->copies.head : NULL; l != NULL; l = l->next)
    {
      Item *item = l->data;
      PhStoredMessage *copy;

      if (item->message->index <= request->after)
        continue;
      /* A copy of its own, with the time left now. */
      copy = ph_stored_message_new (item->message->index, item->message->side, NULL,
                                    item->message->body);
      copy->expires_in = seconds_left (item->expires_us);
      g_ptr_array_add (reply->messages, copy);
    }
}

static gboolean
delete_copy (PhMemoryStore *self, const PhStoreRequest *request, GError **error)
{
  Point *point = lookup_point (self, request->point_id, FALSE);

  for (GList *l = point != NULL ? point->copies.head : NULL; l != NULL; l = l->next)
    {
      Item *item = l->data;

      if (item->message->index == request->index)
        {
          g_queue_unlink (&self->point_copies, &item->expiry_link);
          item_remove (self, item, TRUE);
          return TRUE;
        }
    }
  g_propagate_error (
      error, ph_store_point_refusal_new (PH_STORE_ERROR_NO_SUCH_COPY, request, &self->limits));
  return FALSE;
}

static void
ph_memory_store_dispose (GObject *object)
{
  PhMemoryStore *self = PH_MEMORY_STORE (object);

  g_hash_table_remove_all (self->mailboxes);
  g_clear_handle_id (&self->expiry_id, g_source_remove);
  if (self->points != NULL)
    {
      GList *link;

      /* The links are the items' own: none to free. */
      while ((link = g_queue_pop_head_link (&self->point_messages)) != NULL)
        item_free (link->data);
      while ((link = g_queue_pop_head_link (&self->point_copies)) != NULL)
        item_free (link->data);
      g_hash_table_remove_all (self->points);
    }

  G_OBJECT_CLASS (ph_memory_store_parent_class)->dispose (object);
}

static void
ph_memory_store_finalize (GObject *object)
{
  PhMemoryStore *self = PH_MEMORY_STORE (object);

  g_clear_pointer (&self->mailboxes, g_hash_table_unref);
  g_clear_pointer (&self->pool, ph_nameplate_pool_free);
  g_clear_pointer (&self->points, g_hash_table_unref);

  G_OBJECT_CLASS (ph_memory_store_parent_class)->finalize (object);
}

static void
ph_memory_store_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PhMemoryStore *self = PH_MEMORY_STORE (object);

  switch (prop_id)
    {
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
ph_memory_store_set_property (GObject *object, guint prop_id, const GValue *value,
                              GParamSpec *pspec)
{
  PhMemoryStore *self = PH_MEMORY_STORE (object);

  switch (prop_id)
    {
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
ph_memory_store_class_init (PhMemoryStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ph_memory_store_dispose;
  object_class->finalize = ph_memory_store_finalize;
  object_class->get_property = ph_memory_store_get_property;
  object_class->set_property = ph_memory_store_set_property;

  g_object_class_override_property (object_class, PROP_MAX_MAILBOXES, "max-mailboxes");
  g_object_class_override_property (object_class, PROP_MAX_MESSAGES, "max-messages");
  g_object_class_override_property (object_class, PROP_MAX_MAILBOX_BYTES, "max-mailbox-bytes");
  g_object_class_override_property (object_class, PROP_LIFETIME, "lifetime");
}

static void
ph_memory_store_init (PhMemoryStore *self)
{
  self->mailboxes = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify)mailbox_free);
  self->pool = ph_nameplate_pool_new ();
  self->points = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
}

static Mailbox *
open_mailbox (PhMemoryStore *self, guint nameplate)
{
  Mailbox *mailbox = g_new0 (Mailbox, 1);

  mailbox->store = self;
  mailbox->nameplate = nameplate;
  mailbox->messages = g_ptr_array_new_with_free_func ((GDestroyNotify)ph_stored_message_unref);
  ph_store_new_tag (mailbox->tag);
  g_hash_table_insert (self->mailboxes, GUINT_TO_POINTER (nameplate), mailbox);
  start_lifetime (self, mailbox);
  return mailbox;
}

static Seat *
seat_of (Mailbox *mailbox, guint side)
{
  g_assert (side == PH_MAILBOX_HOST_SIDE || side == PH_MAILBOX_JOINER_SIDE);
  return &mailbox->seats[side - 1];
}

/* Gives @seat the secret @request brings, and remembers its request key. */
static void
take_seat (Seat *seat, const PhStoreRequest *request)
{
  seat->taken = TRUE;
  memcpy (seat->secret_hash, request->seat_secret_hash, sizeof seat->secret_hash);
  seat->has_request_key = request->has_request_key;
  memcpy (seat->request_key_hash, request->request_key_hash, sizeof seat->request_key_hash);
}

/* Whether @request is the one @seat was taken with, and its secret is
 * still unused: the same client asking again. */
static gboolean
is_repeat (const Seat *seat, const PhStoreRequest *request)
{
  return seat->taken && seat->has_request_key
         && ph_store_request_key_matches (request, seat->request_key_hash);
}

static void
fill_seat_reply (const Mailbox *mailbox, guint side, gboolean created, PhStoreReply *reply)
{
  reply->nameplate = mailbox->nameplate;
  reply->side = side;
  reply->created = created;
  memcpy (reply->tag, mailbox->tag, sizeof reply->tag);
  reply->expires_in = seconds_left (mailbox->expires_us);
}

static gboolean
check_capacity (PhMemoryStore *self, GError **error)
{
  if (g_hash_table_size (self->mailboxes) < self->limits.max_mailboxes)
    return TRUE;

  g_propagate_error (error,
                     ph_store_refusal_new (PH_STORE_ERROR_NO_FREE_MAILBOX, 0, &self->limits));
  return FALSE;
}

static gboolean
refuse (PhMemoryStore *self, PhStoreError code, guint nameplate, GError **error)
{
  g_propagate_error (error, ph_store_refusal_new (code, nameplate, &self->limits));
  return FALSE;
}

/* The open mailbox @request is about, if it is the one its tag names. */
static Mailbox *
find_mailbox (PhMemoryStore *self, const PhStoreRequest *request, GError **error)
{
  Mailbox *mailbox = g_hash_table_lookup (self->mailboxes, GUINT_TO_POINTER (request->nameplate));

  if (mailbox == NULL)
    refuse (self, PH_STORE_ERROR_NO_SUCH_MAILBOX, request->nameplate, error);
  else if (request->tag != NULL && strcmp (request->tag, mailbox->tag) != 0)
    {
      refuse (self, PH_STORE_ERROR_REPLACED, request->nameplate, error);
      mailbox = NULL;
    }
  return mailbox;
}

/* The mailbox and the side that @request's secret makes the asker. */
static Mailbox *
find_side (PhMemoryStore *self, const PhStoreRequest *request, guint *out_side, GError **error)
{
  Mailbox *mailbox = find_mailbox (self, request, error);
  guint side;

  if (mailbox == NULL)
    return NULL;

  side = ph_store_match_side (request, mailbox->seats[0].taken, mailbox->seats[0].secret_hash,
                              mailbox->seats[1].taken, mailbox->seats[1].secret_hash);
  if (side == 0)
    {
      refuse (self, PH_STORE_ERROR_UNAUTHORIZED, request->nameplate, error);
      return NULL;
    }

  /* The client has its secret: a repeated claim or join is no longer it,
   * unless this is the post that came with the join (its own key). */
  if (!ph_store_request_key_matches (request, seat_of (mailbox, side)->request_key_hash))
    seat_of (mailbox, side)->has_request_key = FALSE;
  *out_side = side;
  return mailbox;
}

/* A mailbox both sides joined stays open while they use it: the chat
 * keeps it to reconnect through, so its lifetime counts from the last
 * message or poll. A code nobody has joined yet still expires on time. */
static void
renew_if_paired (PhMemoryStore *self, Mailbox *mailbox)
{
  if (seat_of (mailbox, PH_MAILBOX_JOINER_SIDE)->taken)
    start_lifetime (self, mailbox);
}

static gboolean
allocate (PhMemoryStore *self, const PhStoreRequest *request, PhStoreReply *reply, GError **error)
{
  Mailbox *mailbox;
  Seat *host;

  if (!check_capacity (self, error))
    return FALSE;

  mailbox = open_mailbox (self, ph_nameplate_pool_take_lowest (self->pool));
  host = seat_of (mailbox, PH_MAILBOX_HOST_SIDE);
  take_seat (host, request);
  /* Allocation is never repeated: nothing to recognise it by. */
  host->has_request_key = FALSE;
  fill_seat_reply (mailbox, PH_MAILBOX_HOST_SIDE, TRUE, reply);
  return TRUE;
}

static gboolean
claim (PhMemoryStore *self, const PhStoreRequest *request, PhStoreReply *reply, GError **error)
{
  guint nameplate = request->nameplate;
  Mailbox *mailbox = g_hash_table_lookup (self->mailboxes, GUINT_TO_POINTER (nameplate));
  Seat *host;

  if (mailbox != NULL)
    {
      if ((mailbox = find_mailbox (self, request, error)) == NULL)
        return FALSE;
      host = seat_of (mailbox, PH_MAILBOX_HOST_SIDE);
      if (!is_repeat (host, request))
        return refuse (self, PH_STORE_ERROR_NAMEPLATE_UNAVAILABLE, nameplate, error);
      take_seat (host, request);
      fill_seat_reply (mailbox, PH_MAILBOX_HOST_SIDE, FALSE, reply);
      return TRUE;
    }

  if (nameplate == 0 || nameplate > self->limits.max_mailboxes)
    return refuse (self, PH_STORE_ERROR_NAMEPLATE_UNAVAILABLE, nameplate, error);
  if (!check_capacity (self, error))
    return FALSE;

  ph_nameplate_pool_take (self->pool, nameplate);
  mailbox = open_mailbox (self, nameplate);
  take_seat (seat_of (mailbox, PH_MAILBOX_HOST_SIDE), request);
  fill_seat_reply (mailbox, PH_MAILBOX_HOST_SIDE, TRUE, reply);
  return TRUE;
}

/* The first message of @mailbox when it is the one @request names, from
 * the host, as a joiner coming back remembers it. */
static gboolean
check_first_message (PhMemoryStore *self, Mailbox *mailbox, const PhStoreRequest *request,
                     GError **error)
{
  PhStoredMessage *first
      = mailbox->messages->len > 0 ? g_ptr_array_index (mailbox->messages, 0) : NULL;

  if (first == NULL)
    {
      g_set_error (error, PH_STORE_ERROR, PH_STORE_ERROR_NO_SUCH_MAILBOX,
                   "Mailbox %u holds no message yet: the chat you were in may not be back.",
                   mailbox->nameplate);
      return FALSE;
    }
  if (first->side != PH_MAILBOX_HOST_SIDE || strcmp (first->phase, request->phase) != 0
      || !g_bytes_equal (first->body, request->body))
    return refuse (self, PH_STORE_ERROR_OTHER_FIRST_MESSAGE, mailbox->nameplate, error);
  return TRUE;
}

/* The first to join holds side 2 from then on; anyone after it, even once
 * it left, finds the mailbox full. */
static gboolean
join (PhMemoryStore *self, const PhStoreRequest *request, PhStoreReply *reply, GError **error)
{
  Mailbox *mailbox = find_mailbox (self, request, error);
  Seat *joiner;

  if (mailbox == NULL)
    return FALSE;

  joiner = seat_of (mailbox, PH_MAILBOX_JOINER_SIDE);
  if (is_repeat (joiner, request))
    {
      take_seat (joiner, request);
      fill_seat_reply (mailbox, PH_MAILBOX_JOINER_SIDE, FALSE, reply);
      return TRUE;
    }
  if (joiner->taken)
    return refuse (self, PH_STORE_ERROR_THIRD_SIDE, mailbox->nameplate, error);
  if (request->body != NULL && !check_first_message (self, mailbox, request, error))
    return FALSE;

  take_seat (joiner, request);
  /* Paired from now on: the chat keeps it while it uses it. */
  start_lifetime (self, mailbox);
  fill_seat_reply (mailbox, PH_MAILBOX_JOINER_SIDE, TRUE, reply);
  return TRUE;
}

static gboolean
authenticate (PhMemoryStore *self, const PhStoreRequest *request, PhStoreReply *reply,
              GError **error)
{
  Mailbox *mailbox = find_side (self, request, &reply->side, error);

  if (mailbox == NULL)
    return FALSE;
  memcpy (reply->tag, mailbox->tag, sizeof reply->tag);
  return TRUE;
}

static gboolean
add_message (PhMemoryStore *self, const PhStoreRequest *request, PhStoreReply *reply,
             GError **error)
{
  Mailbox *mailbox = find_side (self, request, &reply->side, error);
  PhStoredMessage *message;
  gsize size;

  if (mailbox == NULL)
    return FALSE;

  size = g_bytes_get_size (request->body);
  if (mailbox->messages->len >= self->limits.max_messages
      || size > self->limits.max_mailbox_bytes - mailbox->bytes)
    return refuse (self, PH_STORE_ERROR_MAILBOX_LIMIT, mailbox->nameplate, error);

  message = ph_stored_message_new (mailbox->messages->len + 1, reply->side, request->phase,
                                   request->body);
  g_ptr_array_add (mailbox->messages, message);
  mailbox->bytes += size;
  renew_if_paired (self, mailbox);

  reply->index = message->index;
  memcpy (reply->tag, mailbox->tag, sizeof reply->tag);
  ph_store_emit_message_added (PH_STORE (self), mailbox->nameplate, message->index);
  return TRUE;
}

static gboolean
fetch (PhMemoryStore *self, const PhStoreRequest *request, PhStoreReply *reply, GError **error)
{
  Mailbox *mailbox = find_side (self, request, &reply->side, error);

  if (mailbox == NULL)
    return FALSE;

  renew_if_paired (self, mailbox);
  reply->messages = g_ptr_array_new_with_free_func ((GDestroyNotify)ph_stored_message_unref);
  for (guint64 i = request->after; i < mailbox->messages->len; i++)
    g_ptr_array_add (reply->messages,
                     ph_stored_message_ref (g_ptr_array_index (mailbox->messages, i)));
  memcpy (reply->tag, mailbox->tag, sizeof reply->tag);
  return TRUE;
}

static gboolean
leave (PhMemoryStore *self, const PhStoreRequest *request, PhStoreReply *reply, GError **error)
{
  Mailbox *mailbox = find_side (self, request, &reply->side, error);

  if (mailbox == NULL)
    return FALSE;

  seat_of (mailbox, reply->side)->left = TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (mailbox->seats); i++)
    if (mailbox->seats[i].taken && !mailbox->seats[i].left)
      return TRUE;

  close_mailbox (self, mailbox->nameplate);
  return TRUE;
}

static gboolean
count_turn (PhMemoryStore *self, const PhStoreRequest *request, PhStoreReply *reply, GError **error)
{
  gint64 now = g_get_monotonic_time ();
  Mailbox *mailbox = find_side (self, request, &reply->side, error);
  Seat *seat;

  if (mailbox == NULL)
    return FALSE;

  memcpy (reply->tag, mailbox->tag, sizeof reply->tag);
  seat = seat_of (mailbox, reply->side);
  if (now >= seat->turn_window_end_us)
    {
      seat->turn_requests = 0;
      seat->turn_window_end_us = now + (gint64)request->window_seconds * G_USEC_PER_SEC;
    }
  reply->turn_granted = seat->turn_requests < request->quota;
  if (reply->turn_granted)
    seat->turn_requests++;
  else
    reply->retry_after
        = (guint)((seat->turn_window_end_us - now + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
  return TRUE;
}

static void
ph_memory_store_run (PhStore *store, PhStoreRequest *request, GTask *task)
{
  PhMemoryStore *self = PH_MEMORY_STORE (store);
  g_autoptr (PhStoreReply) reply = ph_store_reply_new ();
  GError *error = NULL;
  gboolean done = FALSE;

  reply->nameplate = request->nameplate;
  switch (request->op)
    {
    case PH_STORE_OP_ALLOCATE:
      done = allocate (self, request, reply, &error);
      break;
    case PH_STORE_OP_CLAIM:
      done = claim (self, request, reply, &error);
      break;
    case PH_STORE_OP_JOIN:
      done = join (self, request, reply, &error);
      break;
    case PH_STORE_OP_AUTHENTICATE:
      done = authenticate (self, request, reply, &error);
      break;
    case PH_STORE_OP_ADD_MESSAGE:
      done = add_message (self, request, reply, &error);
      break;
    case PH_STORE_OP_FETCH:
      done = fetch (self, request, reply, &error);
      break;
    case PH_STORE_OP_LEAVE:
      done = leave (self, request, reply, &error);
      break;
    case PH_STORE_OP_COUNT_TURN:
      done = count_turn (self, request, reply, &error);
      break;
    case PH_STORE_OP_COUNT_OPEN:
      reply->n_open = g_hash_table_size (self->mailboxes);
      done = TRUE;
      break;
    case PH_STORE_OP_MEET_ADD_MESSAGE:
      prune_points (self);
      done = meet_add_message (self, request, reply, &error);
      break;
    case PH_STORE_OP_MEET_FETCH:
      prune_points (self);
      meet_fetch (self, request, reply);
      done = TRUE;
      break;
    case PH_STORE_OP_STORE_COPY:
      prune_points (self);
      done = store_copy (self, request, reply, &error);
      break;
    case PH_STORE_OP_FETCH_COPIES:
      prune_points (self);
      fetch_copies (self, request, reply);
      done = TRUE;
      break;
    case PH_STORE_OP_DELETE_COPY:
      prune_points (self);
      done = delete_copy (self, request, &error);
      break;
    case PH_STORE_OP_COUNT_COPIES:
      prune_points (self);
      reply->n_copies = self->n_copies;
      reply->copy_bytes = self->copy_bytes;
      done = TRUE;
      break;
    case PH_STORE_N_OPS:
    default:
      g_assert_not_reached ();
    }

  if (done)
    ph_store_return_reply (task, g_steal_pointer (&reply));
  else
    g_task_return_error (task, error);
}

static void
ph_memory_store_store_init (PhStoreInterface *iface)
{
  iface->name = "memory";
  iface->run = ph_memory_store_run;
}

gboolean
ph_memory_store_contains (PhMemoryStore *self, guint nameplate)
{
  g_return_val_if_fail (PH_IS_MEMORY_STORE (self), FALSE);

  return g_hash_table_contains (self->mailboxes, GUINT_TO_POINTER (nameplate));
}
