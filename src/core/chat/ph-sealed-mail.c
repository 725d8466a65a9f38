/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-sealed-mail"

#include "config.h"

#include <string.h>

#include "ph-frame.h"
#include "ph-sealed-mail.h"

typedef struct
{
  char *key;
  guint64 index;
} LeftCopy;

struct _PhSealedMail
{
  GObject parent_instance;

  PhRendezvousClient *client;
  PhRatchet *ratchet;
  GHashTable *left;       /* message id → LeftCopy, until delivered */
  GHashTable *collecting; /* key → GINT_TO_POINTER (another collect asked for meanwhile) */
  GCancellable *cancellable;
  guint busy;         /* fetches, receipts and deletions in flight */
  GPtrArray *waiting; /* of GTask: ph_sealed_mail_wait_idle_async () */
};

G_DEFINE_FINAL_TYPE (PhSealedMail, ph_sealed_mail, G_TYPE_OBJECT)

enum
{
  SIGNAL_MESSAGE_RECEIVED,
  SIGNAL_MESSAGE_DELIVERED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
left_copy_free (LeftCopy *copy)
{
  g_free (copy->key);
  g_free (copy);
}

/* What goes on after a copy was opened (the receipt, the deletion) must
 * reach the server before a process that is leaving exits: otherwise the
 * copy is fetched again later, opens no more, and its sender never learns
 * it was delivered. */
static void
begin_request (PhSealedMail *self)
{
  self->busy++;
}

static void
end_request (PhSealedMail *self)
{
  g_autoptr (GPtrArray) waiting = NULL;

  if (--self->busy > 0)
    return;
  waiting = g_steal_pointer (&self->waiting);
  self->waiting = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < waiting->len; i++)
    g_task_return_boolean (g_ptr_array_index (waiting, i), TRUE);
}

/* The sealed form of @frame for @contact, or NULL (logged). */
static GBytes *
seal_frame (PhSealedMail *self, PhContact *contact, const PhFrame *frame, GError **error)
{
  g_autoptr (GBytes) encoded = ph_frame_encode (frame, error);

  if (encoded == NULL)
    return NULL;
  return ph_ratchet_seal (self->ratchet, ph_contact_get_id (contact), encoded, error);
}

/* Requests whose answer only matters for the log */

static void
deleted_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhSealedMail) self = user_data;
  g_autoptr (GError) error = NULL;

  if (!ph_rendezvous_client_delete_copy_finish (PH_RENDEZVOUS_CLIENT (source), result, &error)
      && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_debug ("A stored copy was not deleted: %s", error->message);
  end_request (self);
}

static void
delete_copy (PhSealedMail *self, const char *key, guint64 index)
{
  begin_request (self);
  ph_rendezvous_client_delete_copy_async (self->client, key, index, self->cancellable, deleted_cb,
                                          g_object_ref (self));
}

static void
receipt_stored_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhSealedMail) self = user_data;
  g_autoptr (GError) error = NULL;

  if (!ph_rendezvous_client_store_copy_finish (PH_RENDEZVOUS_CLIENT (source), result, NULL, NULL,
                                               &error)
      && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_debug ("A receipt was not stored: %s", error->message);
  end_request (self);
}

/* Leaving a copy */

typedef struct
{
  char *id;
  char *key;
} Leave;

static void
leave_free (Leave *leave)
{
  g_free (leave->id);
  g_free (leave->key);
  g_free (leave);
}

gboolean
ph_sealed_mail_can_seal (PhSealedMail *self, PhContact *contact)
{
  g_return_val_if_fail (PH_IS_SEALED_MAIL (self), FALSE);

  return ph_ratchet_has_session (self->ratchet, ph_contact_get_id (contact));
}

static void
copy_stored_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PhSealedMail *self = g_task_get_source_object (task);
  Leave *leave = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  LeftCopy *copy;
  guint64 index;

  if (!ph_rendezvous_client_store_copy_finish (PH_RENDEZVOUS_CLIENT (source), result, &index, NULL,
                                               &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  copy = g_new0 (LeftCopy, 1);
  copy->key = g_strdup (leave->key);
  copy->index = index;
  g_hash_table_replace (self->left, g_strdup (leave->id), copy);
  g_task_return_boolean (task, TRUE);
}

void
ph_sealed_mail_leave_async (PhSealedMail *self, PhContact *contact, const char *key,
                            const char *side, const char *id, gint64 time_ms, const char *text,
                            GCancellable *cancellable, GAsyncReadyCallback callback,
                            gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (PhFrame) frame = NULL;
  g_autoptr (GBytes) sealed = NULL;
  g_autoptr (GError) error = NULL;
  Leave *leave;

  g_return_if_fail (PH_IS_SEALED_MAIL (self));
  g_return_if_fail (PH_IS_CONTACT (contact));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ph_sealed_mail_leave_async);
  frame = ph_frame_new_msg (id, time_ms, text);
  sealed = seal_frame (self, contact, frame, &error);
  if (sealed == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  leave = g_new0 (Leave, 1);
  leave->id = g_strdup (id);
  leave->key = g_strdup (key);
  g_task_set_task_data (task, leave, (GDestroyNotify)leave_free);
  ph_rendezvous_client_store_copy_async (self->client, key, side, sealed, cancellable,
                                         copy_stored_cb, g_steal_pointer (&task));
}

gboolean
ph_sealed_mail_leave_finish (PhSealedMail *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
ph_sealed_mail_withdraw (PhSealedMail *self, const char *id)
{
  LeftCopy *copy;

  g_return_if_fail (PH_IS_SEALED_MAIL (self));

  copy = g_hash_table_lookup (self->left, id);
  if (copy == NULL)
    return;
  delete_copy (self, copy->key, copy->index);
  g_hash_table_remove (self->left, id);
}

/* Collecting */

/* Holds no reference to the mail: disposing it cancels the fetch. */
typedef struct
{
  PhSealedMail *self;
  PhContact *contact;
  char *key;
  char *side;
} Collect;

static void
collect_free (Collect *collect)
{
  g_object_unref (collect->contact);
  g_free (collect->key);
  g_free (collect->side);
  g_free (collect);
}

static void
send_receipt (PhSealedMail *self, Collect *collect, const char *id)
{
  g_autoptr (PhFrame) ack = ph_frame_new_ack (id);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) sealed = seal_frame (self, collect->contact, ack, &error);

  if (sealed == NULL)
    {
      g_warning ("No receipt for %s: %s", ph_contact_get_name (collect->contact), error->message);
      return;
    }
  begin_request (self);
  ph_rendezvous_client_store_copy_async (self->client, collect->key, collect->side, sealed,
                                         self->cancellable, receipt_stored_cb, g_object_ref (self));
}

/* A copy the profile cannot open now but may later (its keys could not
 * be read) stays; one that can never open is deleted. */
static gboolean
is_hopeless (const GError *error)
{
  return g_error_matches (error, PH_RATCHET_ERROR, PH_RATCHET_ERROR_INVALID)
         || g_error_matches (error, PH_RATCHET_ERROR, PH_RATCHET_ERROR_DUPLICATE)
         || g_error_matches (error, PH_RATCHET_ERROR, PH_RATCHET_ERROR_IDENTITY_CHANGED);
}

static void
open_copy (PhSealedMail *self, Collect *collect, const PhStoredCopy *copy)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (PhFrame) frame = NULL;
  const char *data;
  gsize size;

  plain = ph_ratchet_open (self->ratchet, ph_contact_get_id (collect->contact), copy->body, &error);
  if (plain == NULL)
    {
      if (!g_error_matches (error, PH_RATCHET_ERROR, PH_RATCHET_ERROR_DUPLICATE))
        g_warning ("A stored copy from %s does not open: %s",
                   ph_contact_get_name (collect->contact), error->message);
      if (is_hopeless (error))
        delete_copy (self, collect->key, copy->index);
      return;
    }
  data = g_bytes_get_data (plain, &size);
  if (size > PH_FRAME_LENGTH_PREFIX_SIZE)
    frame = ph_frame_parse (data + PH_FRAME_LENGTH_PREFIX_SIZE, size - PH_FRAME_LENGTH_PREFIX_SIZE,
                            &error);
  if (frame != NULL && frame->type == PH_FRAME_MSG)
    {
      g_signal_emit (self, signals[SIGNAL_MESSAGE_RECEIVED], 0, collect->contact, frame->id,
                     frame->time_ms, frame->text);
      send_receipt (self, collect, frame->id);
    }
  else if (frame != NULL && frame->type == PH_FRAME_ACK)
    {
      g_hash_table_remove (self->left, frame->id);
      g_signal_emit (self, signals[SIGNAL_MESSAGE_DELIVERED], 0, collect->contact, frame->id);
    }
  else
    g_warning ("A stored copy from %s is neither a message nor a receipt: dropped",
               ph_contact_get_name (collect->contact));
  delete_copy (self, collect->key, copy->index);
}

static void start_fetch (Collect *collect);

static void
fetched_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Collect *collect = user_data;
  PhSealedMail *self = collect->self;
  g_autoptr (GPtrArray) copies = NULL;
  g_autoptr (GError) error = NULL;

  copies = ph_rendezvous_client_fetch_copies_finish (PH_RENDEZVOUS_CLIENT (source), result, &error);
  /* Cancelled: the mail is being disposed of, and may be gone. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      collect_free (collect);
      return;
    }
  if (copies == NULL)
    g_debug ("Stored copies could not be fetched: %s", error->message);
  else
    for (guint i = 0; i < copies->len; i++)
      {
        const PhStoredCopy *copy = g_ptr_array_index (copies, i);

        if (g_strcmp0 (copy->side, collect->side) != 0)
          open_copy (self, collect, copy);
      }

  /* A wait that saw more copies while this fetch was out asked again. */
  if (GPOINTER_TO_INT (g_hash_table_lookup (self->collecting, collect->key)))
    {
      g_hash_table_insert (self->collecting, g_strdup (collect->key), GINT_TO_POINTER (FALSE));
      start_fetch (collect);
    }
  else
    {
      g_hash_table_remove (self->collecting, collect->key);
      collect_free (collect);
    }
  /* Last: the receipts and deletions above are in flight by now. */
  end_request (self);
}

static void
start_fetch (Collect *collect)
{
  begin_request (collect->self);
  ph_rendezvous_client_fetch_copies_async (collect->self->client, collect->key, 0,
                                           collect->self->cancellable, fetched_cb, collect);
}

void
ph_sealed_mail_collect (PhSealedMail *self, PhContact *contact, const char *key, const char *side)
{
  Collect *collect;

  g_return_if_fail (PH_IS_SEALED_MAIL (self));
  g_return_if_fail (PH_IS_CONTACT (contact));

  if (g_hash_table_contains (self->collecting, key))
    {
      g_hash_table_insert (self->collecting, g_strdup (key), GINT_TO_POINTER (TRUE));
      return;
    }
  g_hash_table_insert (self->collecting, g_strdup (key), GINT_TO_POINTER (FALSE));
  collect = g_new0 (Collect, 1);
  collect->self = self;
  collect->contact = g_object_ref (contact);
  collect->key = g_strdup (key);
  collect->side = g_strdup (side);
  start_fetch (collect);
}

void
ph_sealed_mail_wait_idle_async (PhSealedMail *self, GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (PH_IS_SEALED_MAIL (self));

  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, ph_sealed_mail_wait_idle_async);
  if (self->busy == 0)
    g_task_return_boolean (task, TRUE);
  else
    g_ptr_array_add (self->waiting, g_steal_pointer (&task));
}

void
ph_sealed_mail_wait_idle_finish (PhSealedMail *self, GAsyncResult *result)
{
  g_return_if_fail (g_task_is_valid (result, self));

  g_task_propagate_boolean (G_TASK (result), NULL);
}

PhSealedMail *
ph_sealed_mail_new (PhRendezvousClient *client, PhRatchet *ratchet)
{
  PhSealedMail *self;

  g_return_val_if_fail (PH_IS_RENDEZVOUS_CLIENT (client), NULL);
  g_return_val_if_fail (PH_IS_RATCHET (ratchet), NULL);

  self = g_object_new (PH_TYPE_SEALED_MAIL, NULL);
  self->client = g_object_ref (client);
  self->ratchet = g_object_ref (ratchet);
  return self;
}

static void
ph_sealed_mail_dispose (GObject *object)
{
  PhSealedMail *self = PH_SEALED_MAIL (object);

  g_cancellable_cancel (self->cancellable);

  G_OBJECT_CLASS (ph_sealed_mail_parent_class)->dispose (object);
}

static void
ph_sealed_mail_finalize (GObject *object)
{
  PhSealedMail *self = PH_SEALED_MAIL (object);

  g_hash_table_unref (self->left);
  g_hash_table_unref (self->collecting);
  g_ptr_array_unref (self->waiting);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->client);
  g_clear_object (&self->ratchet);

  G_OBJECT_CLASS (ph_sealed_mail_parent_class)->finalize (object);
}

static void
ph_sealed_mail_class_init (PhSealedMailClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ph_sealed_mail_dispose;
  object_class->finalize = ph_sealed_mail_finalize;

  signals[SIGNAL_MESSAGE_RECEIVED] = g_signal_new (
      "message-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 4, PH_TYPE_CONTACT, G_TYPE_STRING, G_TYPE_INT64, G_TYPE_STRING);
  signals[SIGNAL_MESSAGE_DELIVERED]
      = g_signal_new ("message-delivered", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                      NULL, NULL, G_TYPE_NONE, 2, PH_TYPE_CONTACT, G_TYPE_STRING);
}

static void
ph_sealed_mail_init (PhSealedMail *self)
{
  self->left
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)left_copy_free);
  self->collecting = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->cancellable = g_cancellable_new ();
  self->waiting = g_ptr_array_new_with_free_func (g_object_unref);
}
