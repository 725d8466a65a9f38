/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-mailbox-store"

#include "config.h"

#include <string.h>

#include "ph-mailbox-format.h"
#include "ph-mailbox-secret.h"
#include "ph-mailbox-store.h"

G_DEFINE_QUARK (ph - mailbox - store - error - quark, ph_mailbox_store_error)

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
  PhMailboxStore *store;
  guint nameplate;
  Seat seats[2];       /* side N at N - 1 */
  GPtrArray *messages; /* PhStoredMessage, index i + 1 at i */
  gsize bytes;
  gint64 expires_us;
  GList link; /* in PhMailboxStore.expiring */
  char tag[17];
} Mailbox;

struct _PhMailboxStore
{
  GObject parent_instance;

  guint max_mailboxes;
  guint max_messages;
  gsize max_mailbox_bytes;
  guint lifetime;

  GHashTable *mailboxes; /* nameplate → Mailbox */
  GTree *free_numbers;   /* freed nameplates below high_water */
  guint high_water;      /* every nameplate above it is free, but those claimed */
  GTree *claimed_above;  /* open nameplates above high_water, all claimed */
  /* Every mailbox has the same lifetime from its last renewal, so moving a
   * renewed one to the tail keeps them in order of expiry, and one timer
   * for the head serves them all: a GSource per mailbox would make every
   * iteration of the main loop cost time in proportion to them. */
  GQueue expiring;
  guint expiry_id;
};

G_DEFINE_FINAL_TYPE (PhMailboxStore, ph_mailbox_store, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_MAX_MAILBOXES,
  PROP_MAX_MESSAGES,
  PROP_MAX_MAILBOX_BYTES,
  PROP_LIFETIME,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  MESSAGE_ADDED,
  MAILBOX_CLOSED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
stored_message_clear (PhStoredMessage *message)
{
  g_free (message->phase);
  g_bytes_unref (message->body);
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

static void
mailbox_free (Mailbox *mailbox)
{
  g_queue_unlink (&mailbox->store->expiring, &mailbox->link);
  g_ptr_array_unref (mailbox->messages);
  g_free (mailbox);
}

static int
compare_numbers (gconstpointer a, gconstpointer b)
{
  guint x = GPOINTER_TO_UINT (a);
  guint y = GPOINTER_TO_UINT (b);

  return x < y ? -1 : x > y;
}

static void
close_mailbox (PhMailboxStore *self, guint nameplate)
{
  g_hash_table_remove (self->mailboxes, GUINT_TO_POINTER (nameplate));
  if (nameplate > self->high_water)
    g_tree_remove (self->claimed_above, GUINT_TO_POINTER (nameplate));
  else
    g_tree_insert (self->free_numbers, GUINT_TO_POINTER (nameplate), GUINT_TO_POINTER (nameplate));
  g_signal_emit (self, signals[MAILBOX_CLOSED], 0, nameplate);
}

static void schedule_expiry (PhMailboxStore *self);

static gboolean
expiry_cb (gpointer user_data)
{
  PhMailboxStore *self = user_data;
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
schedule_expiry (PhMailboxStore *self)
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
start_lifetime (PhMailboxStore *self, Mailbox *mailbox)
{
  if (mailbox->link.data != NULL)
    g_queue_unlink (&self->expiring, &mailbox->link);
  mailbox->link.data = mailbox;
  mailbox->expires_us = g_get_monotonic_time () + (gint64)self->lifetime * G_USEC_PER_SEC;
  g_queue_push_tail_link (&self->expiring, &mailbox->link);
  schedule_expiry (self);
}

static void
ph_mailbox_store_dispose (GObject *object)
{
  PhMailboxStore *self = PH_MAILBOX_STORE (object);

  g_hash_table_remove_all (self->mailboxes);
  g_clear_handle_id (&self->expiry_id, g_source_remove);

  G_OBJECT_CLASS (ph_mailbox_store_parent_class)->dispose (object);
}

static void
ph_mailbox_store_finalize (GObject *object)
{
  PhMailboxStore *self = PH_MAILBOX_STORE (object);

  g_clear_pointer (&self->mailboxes, g_hash_table_unref);
  g_clear_pointer (&self->free_numbers, g_tree_unref);
  g_clear_pointer (&self->claimed_above, g_tree_unref);

  G_OBJECT_CLASS (ph_mailbox_store_parent_class)->finalize (object);
}

static void
ph_mailbox_store_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PhMailboxStore *self = PH_MAILBOX_STORE (object);

  switch (prop_id)
    {
    case PROP_MAX_MAILBOXES:
      g_value_set_uint (value, self->max_mailboxes);
      break;
    case PROP_MAX_MESSAGES:
      g_value_set_uint (value, self->max_messages);
      break;
    case PROP_MAX_MAILBOX_BYTES:
      g_value_set_uint64 (value, self->max_mailbox_bytes);
      break;
    case PROP_LIFETIME:
      g_value_set_uint (value, self->lifetime);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_mailbox_store_set_property (GObject *object, guint prop_id, const GValue *value,
                               GParamSpec *pspec)
{
  PhMailboxStore *self = PH_MAILBOX_STORE (object);

  switch (prop_id)
    {
    case PROP_MAX_MAILBOXES:
      self->max_mailboxes = g_value_get_uint (value);
      break;
    case PROP_MAX_MESSAGES:
      self->max_messages = g_value_get_uint (value);
      break;
    case PROP_MAX_MAILBOX_BYTES:
      self->max_mailbox_bytes = g_value_get_uint64 (value);
      break;
    case PROP_LIFETIME:
      self->lifetime = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_mailbox_store_class_init (PhMailboxStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ph_mailbox_store_dispose;
  object_class->finalize = ph_mailbox_store_finalize;
  object_class->get_property = ph_mailbox_store_get_property;
  object_class->set_property = ph_mailbox_store_set_property;

  /* Nameplates stay below a billion so they always fit in nine digits. */
  properties[PROP_MAX_MAILBOXES]
      = g_param_spec_uint ("max-mailboxes", NULL, NULL, 1, 999999999, 10000,
                           G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS
                               | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_MAX_MESSAGES]
      = g_param_spec_uint ("max-messages", NULL, NULL, 1, 1000000, 256,
                           G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS
                               | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_MAX_MAILBOX_BYTES]
      = g_param_spec_uint64 ("max-mailbox-bytes", NULL, NULL, 1, G_MAXSIZE, 1024 * 1024,
                             G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS
                                 | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_LIFETIME]
      = g_param_spec_uint ("lifetime", NULL, NULL, 1, 7 * 24 * 3600, 600,
                           G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS
                               | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[MESSAGE_ADDED]
      = g_signal_new ("message-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_UINT64);
  signals[MAILBOX_CLOSED]
      = g_signal_new ("mailbox-closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
}

static void
ph_mailbox_store_init (PhMailboxStore *self)
{
  self->mailboxes = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify)mailbox_free);
  self->free_numbers = g_tree_new (compare_numbers);
  self->claimed_above = g_tree_new (compare_numbers);
}

PhMailboxStore *
ph_mailbox_store_new (guint max_mailboxes, guint max_messages, gsize max_mailbox_bytes,
                      guint lifetime_seconds)
{
  return g_object_new (PH_TYPE_MAILBOX_STORE, "max-mailboxes", max_mailboxes, "max-messages",
                       max_messages, "max-mailbox-bytes", (guint64)max_mailbox_bytes, "lifetime",
                       lifetime_seconds, NULL);
}

static Mailbox *
open_mailbox (PhMailboxStore *self, guint nameplate)
{
  Mailbox *mailbox = g_new0 (Mailbox, 1);
  guint32 tag[2] = { g_random_int (), g_random_int () };

  mailbox->store = self;
  mailbox->nameplate = nameplate;
  mailbox->messages = g_ptr_array_new_with_free_func ((GDestroyNotify)ph_stored_message_unref);
  g_snprintf (mailbox->tag, sizeof mailbox->tag, "%08x%08x", tag[0], tag[1]);
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

/* Gives @seat a new secret, remembering the request key it came with. */
static char *
take_seat (Seat *seat, const char *request_key)
{
  char *secret = ph_mailbox_secret_new (seat->secret_hash);

  seat->taken = TRUE;
  seat->has_request_key = request_key != NULL;
  if (request_key != NULL)
    ph_mailbox_secret_hash (request_key, seat->request_key_hash);
  return secret;
}

/* Whether @request_key is the one @seat was taken with, and its secret
 * is still unused: the same client asking again. */
static gboolean
is_repeat (const Seat *seat, const char *request_key)
{
  guint8 hash[PH_MAILBOX_SECRET_HASH_SIZE];

  if (request_key == NULL || !seat->taken || !seat->has_request_key)
    return FALSE;
  ph_mailbox_secret_hash (request_key, hash);
  return ph_mailbox_secret_hash_equal (hash, seat->request_key_hash);
}

static gboolean
check_capacity (PhMailboxStore *self, GError **error)
{
  if (g_hash_table_size (self->mailboxes) < self->max_mailboxes)
    return TRUE;

  g_set_error (error, PH_MAILBOX_STORE_ERROR, PH_MAILBOX_STORE_ERROR_NO_FREE_MAILBOX,
               "All %u mailboxes are in use; try again in a few minutes.", self->max_mailboxes);
  return FALSE;
}

gboolean
ph_mailbox_store_allocate (PhMailboxStore *self, guint *out_nameplate, char **out_secret,
                           GError **error)
{
  GTreeNode *lowest_free;
  guint nameplate;
  Mailbox *mailbox;

  g_return_val_if_fail (PH_IS_MAILBOX_STORE (self), FALSE);
  g_return_val_if_fail (out_nameplate != NULL, FALSE);
  g_return_val_if_fail (out_secret != NULL, FALSE);

  if (!check_capacity (self, error))
    return FALSE;

  lowest_free = g_tree_node_first (self->free_numbers);
  if (lowest_free != NULL)
    {
      nameplate = GPOINTER_TO_UINT (g_tree_node_key (lowest_free));
      g_tree_remove (self->free_numbers, GUINT_TO_POINTER (nameplate));
    }
  else
    {
      /* Claimed numbers the high water passes are open: step over them. */
      nameplate = ++self->high_water;
      while (g_tree_remove (self->claimed_above, GUINT_TO_POINTER (nameplate)))
        nameplate = ++self->high_water;
    }

  mailbox = open_mailbox (self, nameplate);
  *out_secret = take_seat (seat_of (mailbox, PH_MAILBOX_HOST_SIDE), NULL);
  *out_nameplate = nameplate;
  return TRUE;
}

/* Numbers above the high water stay implicit (no list of every free one
 * below a large claimed number): a claim there is only remembered until
 * the high water passes it or it closes. */
gboolean
ph_mailbox_store_claim (PhMailboxStore *self, guint nameplate, const char *request_key,
                        char **out_secret, gboolean *out_created, GError **error)
{
  Mailbox *mailbox;
  Seat *host;

  g_return_val_if_fail (PH_IS_MAILBOX_STORE (self), FALSE);
  g_return_val_if_fail (out_secret != NULL, FALSE);

  mailbox = g_hash_table_lookup (self->mailboxes, GUINT_TO_POINTER (nameplate));
  if (mailbox != NULL)
    {
      host = seat_of (mailbox, PH_MAILBOX_HOST_SIDE);
      if (is_repeat (host, request_key))
        {
          *out_secret = take_seat (host, request_key);
          if (out_created != NULL)
            *out_created = FALSE;
          return TRUE;
        }
      g_set_error (error, PH_MAILBOX_STORE_ERROR, PH_MAILBOX_STORE_ERROR_NAMEPLATE_UNAVAILABLE,
                   "Mailbox %u is already open for another chat.", nameplate);
      return FALSE;
    }

  if (nameplate == 0 || nameplate > self->max_mailboxes)
    {
      g_set_error (error, PH_MAILBOX_STORE_ERROR, PH_MAILBOX_STORE_ERROR_NAMEPLATE_UNAVAILABLE,
                   "Nameplates here run from 1 to %u.", self->max_mailboxes);
      return FALSE;
    }
  if (!check_capacity (self, error))
    return FALSE;

  if (nameplate > self->high_water)
    g_tree_insert (self->claimed_above, GUINT_TO_POINTER (nameplate), GUINT_TO_POINTER (nameplate));
  else
    g_tree_remove (self->free_numbers, GUINT_TO_POINTER (nameplate));

  mailbox = open_mailbox (self, nameplate);
  *out_secret = take_seat (seat_of (mailbox, PH_MAILBOX_HOST_SIDE), request_key);
  if (out_created != NULL)
    *out_created = TRUE;
  return TRUE;
}

const char *
ph_mailbox_store_get_tag (PhMailboxStore *self, guint nameplate)
{
  Mailbox *mailbox;

  g_return_val_if_fail (PH_IS_MAILBOX_STORE (self), NULL);

  mailbox = g_hash_table_lookup (self->mailboxes, GUINT_TO_POINTER (nameplate));
  return mailbox != NULL ? mailbox->tag : NULL;
}

/* A mailbox both sides joined stays open while they use it: the chat
 * keeps it to reconnect through, so its lifetime counts from the last
 * message or poll. A code nobody has joined yet still expires on time. */
static void
renew_if_paired (PhMailboxStore *self, Mailbox *mailbox)
{
  if (!seat_of (mailbox, PH_MAILBOX_JOINER_SIDE)->taken)
    return;
  start_lifetime (self, mailbox);
}

static Mailbox *
lookup_mailbox (PhMailboxStore *self, guint nameplate, GError **error)
{
  Mailbox *mailbox = g_hash_table_lookup (self->mailboxes, GUINT_TO_POINTER (nameplate));

  if (mailbox == NULL)
    g_set_error (error, PH_MAILBOX_STORE_ERROR, PH_MAILBOX_STORE_ERROR_NO_SUCH_MAILBOX,
                 "There is no mailbox %u; it may have expired or been closed.", nameplate);
  return mailbox;
}

/* The first message of @mailbox when it is @phase and @body from the
 * host, as a joiner coming back remembers it. */
static gboolean
check_first_message (Mailbox *mailbox, const char *phase, GBytes *body, GError **error)
{
  PhStoredMessage *first
      = mailbox->messages->len > 0 ? g_ptr_array_index (mailbox->messages, 0) : NULL;

  if (first == NULL)
    {
      g_set_error (error, PH_MAILBOX_STORE_ERROR, PH_MAILBOX_STORE_ERROR_NO_SUCH_MAILBOX,
                   "Mailbox %u holds no message yet: the chat you were in may not be back.",
                   mailbox->nameplate);
      return FALSE;
    }
  if (first->side != PH_MAILBOX_HOST_SIDE || strcmp (first->phase, phase) != 0
      || !g_bytes_equal (first->body, body))
    {
      g_set_error (error, PH_MAILBOX_STORE_ERROR, PH_MAILBOX_STORE_ERROR_OTHER_FIRST_MESSAGE,
                   "Mailbox %u holds another chat than the one you were in.", mailbox->nameplate);
      return FALSE;
    }
  return TRUE;
}

/* The first to join holds side 2 from then on; anyone after it, even once
 * it left, finds the mailbox full. */
gboolean
ph_mailbox_store_join (PhMailboxStore *self, guint nameplate, const char *request_key,
                       const char *first_phase, GBytes *first_body, char **out_secret,
                       gboolean *out_created, GError **error)
{
  Mailbox *mailbox;
  Seat *joiner;

  g_return_val_if_fail (PH_IS_MAILBOX_STORE (self), FALSE);
  g_return_val_if_fail ((first_phase == NULL) == (first_body == NULL), FALSE);
  g_return_val_if_fail (out_secret != NULL, FALSE);

  mailbox = lookup_mailbox (self, nameplate, error);
  if (mailbox == NULL)
    return FALSE;

  joiner = seat_of (mailbox, PH_MAILBOX_JOINER_SIDE);
  if (is_repeat (joiner, request_key))
    {
      *out_secret = take_seat (joiner, request_key);
      if (out_created != NULL)
        *out_created = FALSE;
      return TRUE;
    }
  if (joiner->taken)
    {
      g_set_error (error, PH_MAILBOX_STORE_ERROR, PH_MAILBOX_STORE_ERROR_THIRD_SIDE,
                   "Mailbox %u already has two sides; a code works for two people only.",
                   nameplate);
      return FALSE;
    }
  if (first_body != NULL && !check_first_message (mailbox, first_phase, first_body, error))
    return FALSE;

  *out_secret = take_seat (joiner, request_key);
  if (out_created != NULL)
    *out_created = TRUE;
  /* Paired from now on: the chat keeps it while it uses it. */
  start_lifetime (self, mailbox);
  return TRUE;
}

guint
ph_mailbox_store_authenticate (PhMailboxStore *self, guint nameplate, const char *secret,
                               GError **error)
{
  guint8 hash[PH_MAILBOX_SECRET_HASH_SIZE];
  Mailbox *mailbox;
  guint side = 0;

  g_return_val_if_fail (PH_IS_MAILBOX_STORE (self), 0);

  mailbox = lookup_mailbox (self, nameplate, error);
  if (mailbox == NULL)
    return 0;

  if (secret != NULL && ph_mailbox_secret_is_valid (secret))
    {
      ph_mailbox_secret_hash (secret, hash);
      /* Both seats, taken or not, so the time taken tells nothing. */
      for (guint i = 0; i < G_N_ELEMENTS (mailbox->seats); i++)
        {
          gboolean equal = ph_mailbox_secret_hash_equal (hash, mailbox->seats[i].secret_hash);

          if (equal && mailbox->seats[i].taken)
            side = i + 1;
        }
    }
  if (side == 0)
    {
      g_set_error (error, PH_MAILBOX_STORE_ERROR, PH_MAILBOX_STORE_ERROR_UNAUTHORIZED,
                   "The request does not carry the secret of a side of mailbox %u.", nameplate);
      return 0;
    }

  /* The client has its secret: a repeated claim or join is no longer it. */
  seat_of (mailbox, side)->has_request_key = FALSE;
  return side;
}

gboolean
ph_mailbox_store_add_message (PhMailboxStore *self, guint nameplate, guint side, const char *phase,
                              GBytes *body, guint64 *out_index, GError **error)
{
  PhStoredMessage *message;
  Mailbox *mailbox;
  gsize size;

  g_return_val_if_fail (PH_IS_MAILBOX_STORE (self), FALSE);
  g_return_val_if_fail (side == PH_MAILBOX_HOST_SIDE || side == PH_MAILBOX_JOINER_SIDE, FALSE);
  g_return_val_if_fail (phase != NULL, FALSE);
  g_return_val_if_fail (body != NULL, FALSE);

  mailbox = lookup_mailbox (self, nameplate, error);
  if (mailbox == NULL)
    return FALSE;

  size = g_bytes_get_size (body);
  if (mailbox->messages->len >= self->max_messages
      || size > self->max_mailbox_bytes - mailbox->bytes)
    {
      g_set_error (error, PH_MAILBOX_STORE_ERROR, PH_MAILBOX_STORE_ERROR_MAILBOX_LIMIT,
                   "Mailbox %u is full: it holds at most %u messages and %" G_GSIZE_FORMAT
                   " bytes.",
                   nameplate, self->max_messages, self->max_mailbox_bytes);
      return FALSE;
    }

  message = g_rc_box_new0 (PhStoredMessage);
  message->index = mailbox->messages->len + 1;
  message->side = side;
  message->phase = g_strdup (phase);
  message->body = g_bytes_ref (body);
  g_ptr_array_add (mailbox->messages, message);
  mailbox->bytes += size;

  if (out_index != NULL)
    *out_index = message->index;

  renew_if_paired (self, mailbox);
  g_signal_emit (self, signals[MESSAGE_ADDED], 0, nameplate, message->index);
  return TRUE;
}

/* Returns the messages with an index above @after, oldest first. */
GPtrArray *
ph_mailbox_store_get_messages (PhMailboxStore *self, guint nameplate, guint64 after, GError **error)
{
  GPtrArray *messages;
  Mailbox *mailbox;

  g_return_val_if_fail (PH_IS_MAILBOX_STORE (self), NULL);

  mailbox = lookup_mailbox (self, nameplate, error);
  if (mailbox == NULL)
    return NULL;

  renew_if_paired (self, mailbox);
  messages = g_ptr_array_new_with_free_func ((GDestroyNotify)ph_stored_message_unref);
  for (guint64 i = after; i < mailbox->messages->len; i++)
    g_ptr_array_add (messages, ph_stored_message_ref (g_ptr_array_index (mailbox->messages, i)));

  return messages;
}

gboolean
ph_mailbox_store_leave (PhMailboxStore *self, guint nameplate, guint side, GError **error)
{
  Mailbox *mailbox;

  g_return_val_if_fail (PH_IS_MAILBOX_STORE (self), FALSE);
  g_return_val_if_fail (side == PH_MAILBOX_HOST_SIDE || side == PH_MAILBOX_JOINER_SIDE, FALSE);

  mailbox = lookup_mailbox (self, nameplate, error);
  if (mailbox == NULL)
    return FALSE;

  seat_of (mailbox, side)->left = TRUE;

  for (guint i = 0; i < G_N_ELEMENTS (mailbox->seats); i++)
    if (mailbox->seats[i].taken && !mailbox->seats[i].left)
      return TRUE;

  close_mailbox (self, nameplate);
  return TRUE;
}

gboolean
ph_mailbox_store_count_turn_request (PhMailboxStore *self, guint nameplate, guint side, guint quota,
                                     guint window_seconds, guint *out_retry_after, GError **error)
{
  gint64 now = g_get_monotonic_time ();
  Mailbox *mailbox;
  Seat *seat;
  guint retry_after;

  g_return_val_if_fail (PH_IS_MAILBOX_STORE (self), FALSE);
  g_return_val_if_fail (side == PH_MAILBOX_HOST_SIDE || side == PH_MAILBOX_JOINER_SIDE, FALSE);

  mailbox = lookup_mailbox (self, nameplate, error);
  if (mailbox == NULL)
    return FALSE;

  seat = seat_of (mailbox, side);
  if (now >= seat->turn_window_end_us)
    {
      seat->turn_requests = 0;
      seat->turn_window_end_us = now + (gint64)window_seconds * G_USEC_PER_SEC;
    }
  if (seat->turn_requests < quota)
    {
      seat->turn_requests++;
      return TRUE;
    }

  retry_after = (guint)((seat->turn_window_end_us - now + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
  if (out_retry_after != NULL)
    *out_retry_after = retry_after;
  g_set_error (error, PH_MAILBOX_STORE_ERROR, PH_MAILBOX_STORE_ERROR_TURN_QUOTA,
               "This side of mailbox %u has had its %u sets of TURN credentials for now; try "
               "again in %u seconds.",
               nameplate, quota, retry_after);
  return FALSE;
}

gboolean
ph_mailbox_store_contains (PhMailboxStore *self, guint nameplate)
{
  g_return_val_if_fail (PH_IS_MAILBOX_STORE (self), FALSE);

  return g_hash_table_contains (self->mailboxes, GUINT_TO_POINTER (nameplate));
}

guint
ph_mailbox_store_get_n_open (PhMailboxStore *self)
{
  g_return_val_if_fail (PH_IS_MAILBOX_STORE (self), 0);

  return g_hash_table_size (self->mailboxes);
}

guint
ph_mailbox_store_get_lifetime (PhMailboxStore *self)
{
  g_return_val_if_fail (PH_IS_MAILBOX_STORE (self), 0);

  return self->lifetime;
}
