/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* The rendezvous server's mailboxes, in memory and without HTTP.
 *
 * A mailbox is named by a nameplate, the lowest free number from 1 so that
 * codes stay short. At most two sides use it; a side joins with its first
 * message (or by leaving). Messages are numbered from 1 in arrival order.
 * A mailbox closes when every side that joined has left or its lifetime
 * runs out; either way its nameplate is free again and "mailbox-closed" is
 * emitted so that waiting readers can be told.
 *
 * Each mailbox has a tag, random and new each time a nameplate is opened,
 * so that a client can tell the mailbox it used from a later one under the
 * same number. A nameplate can also be claimed by number: a host whose
 * mailbox a restarted server forgot opens it again, so that the code it
 * showed stays good. */

#define PH_MAILBOX_STORE_ERROR (ph_mailbox_store_error_quark ())

typedef enum
{
  PH_MAILBOX_STORE_ERROR_NO_SUCH_MAILBOX,
  PH_MAILBOX_STORE_ERROR_NO_FREE_MAILBOX,
  PH_MAILBOX_STORE_ERROR_THIRD_SIDE,
  PH_MAILBOX_STORE_ERROR_MAILBOX_LIMIT,
  PH_MAILBOX_STORE_ERROR_NAMEPLATE_UNAVAILABLE,
} PhMailboxStoreError;

GQuark ph_mailbox_store_error_quark (void);

typedef struct
{
  guint64 index;
  char *side;
  char *phase;
  GBytes *body;
} PhStoredMessage;

PhStoredMessage *ph_stored_message_ref (PhStoredMessage *message);
void ph_stored_message_unref (PhStoredMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhStoredMessage, ph_stored_message_unref)

#define PH_TYPE_MAILBOX_STORE (ph_mailbox_store_get_type ())
G_DECLARE_FINAL_TYPE (PhMailboxStore, ph_mailbox_store, PH, MAILBOX_STORE, GObject)

PhMailboxStore *ph_mailbox_store_new (guint max_mailboxes, guint max_messages,
                                      gsize max_mailbox_bytes, guint lifetime_seconds);
gboolean ph_mailbox_store_allocate (PhMailboxStore *self, guint *out_nameplate, GError **error);
/* Opens @nameplate with @side as its first side. Claiming a mailbox that
 * @side already holds succeeds again (a claim whose answer was lost is
 * repeated); @out_created says which it was. */
gboolean ph_mailbox_store_claim (PhMailboxStore *self, guint nameplate, const char *side,
                                 gboolean *out_created, GError **error);
/* The open mailbox's tag (16 hexadecimal digits), or NULL. */
const char *ph_mailbox_store_get_tag (PhMailboxStore *self, guint nameplate);
gboolean ph_mailbox_store_add_message (PhMailboxStore *self, guint nameplate, const char *side,
                                       const char *phase, GBytes *body, guint64 *out_index,
                                       GError **error);
GPtrArray *ph_mailbox_store_get_messages (PhMailboxStore *self, guint nameplate, guint64 after,
                                          GError **error);
gboolean ph_mailbox_store_leave (PhMailboxStore *self, guint nameplate, const char *side,
                                 GError **error);
gboolean ph_mailbox_store_contains (PhMailboxStore *self, guint nameplate);
guint ph_mailbox_store_get_n_open (PhMailboxStore *self);
guint ph_mailbox_store_get_lifetime (PhMailboxStore *self);

G_END_DECLS
