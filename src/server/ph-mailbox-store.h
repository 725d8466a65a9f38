/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* The rendezvous server's mailboxes, in memory and without HTTP.
 *
 * A mailbox is named by a nameplate, the lowest free number from 1 so that
 * codes stay short. It has two seats: side 1 for whoever opened it
 * (allocated or claimed it), side 2 for the first to join it. Taking a
 * seat gives that side a secret (see ph-mailbox-secret.h), and every later
 * request of the side proves it: the number alone, which is all a code
 * shows, lets nobody read, post, leave or renew. A taken seat stays taken,
 * even after its side left. Messages are numbered from 1 in arrival order.
 * A mailbox closes when every side that took a seat has left or its
 * lifetime runs out; either way its nameplate is free again and
 * "mailbox-closed" is emitted so that waiting readers can be told.
 *
 * Each mailbox has a tag, random and new each time a nameplate is opened,
 * so that a client can tell the mailbox it used from a later one under the
 * same number. A nameplate can also be claimed by number: a host whose
 * mailbox a restarted server forgot opens it again, so that the code it
 * showed stays good. Claiming or joining may name a request key (the
 * client's Idempotency-Key): repeated with it before the secret was first
 * used, as after an answer that was lost, it hands the same seat a new
 * secret instead of failing. */

#define PH_MAILBOX_STORE_ERROR (ph_mailbox_store_error_quark ())

typedef enum
{
  PH_MAILBOX_STORE_ERROR_NO_SUCH_MAILBOX,
  PH_MAILBOX_STORE_ERROR_NO_FREE_MAILBOX,
  PH_MAILBOX_STORE_ERROR_THIRD_SIDE,
  PH_MAILBOX_STORE_ERROR_MAILBOX_LIMIT,
  PH_MAILBOX_STORE_ERROR_NAMEPLATE_UNAVAILABLE,
  PH_MAILBOX_STORE_ERROR_UNAUTHORIZED,
  PH_MAILBOX_STORE_ERROR_OTHER_FIRST_MESSAGE,
  PH_MAILBOX_STORE_ERROR_TURN_QUOTA,
} PhMailboxStoreError;

GQuark ph_mailbox_store_error_quark (void);

typedef struct
{
  guint64 index;
  guint side; /* PH_MAILBOX_HOST_SIDE or PH_MAILBOX_JOINER_SIDE */
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
/* Each of allocate, claim and join returns the new side's secret in
 * @out_secret, to be handed to the client and forgotten. */
gboolean ph_mailbox_store_allocate (PhMailboxStore *self, guint *out_nameplate, char **out_secret,
                                    GError **error);
/* Opens @nameplate with the claimer as side 1. With the same
 * @request_key (or NULL) as an earlier claim of the mailbox open now,
 * whose secret was never used, it gives side 1 a new secret instead
 * (@out_created FALSE). */
gboolean ph_mailbox_store_claim (PhMailboxStore *self, guint nameplate, const char *request_key,
                                 char **out_secret, gboolean *out_created, GError **error);
/* Takes side 2 of the open mailbox @nameplate; repeated as a claim is.
 * With @first_phase and @first_body it takes it only in the mailbox whose
 * first message they are: a joiner coming back after a restart enters
 * the mailbox its host claimed again, and no other
 * (PH_MAILBOX_STORE_ERROR_OTHER_FIRST_MESSAGE; NO_SUCH_MAILBOX while it
 * has no message yet). */
gboolean ph_mailbox_store_join (PhMailboxStore *self, guint nameplate, const char *request_key,
                                const char *first_phase, GBytes *first_body, char **out_secret,
                                gboolean *out_created, GError **error);
/* The side whose secret is @secret in the open mailbox @nameplate, or 0
 * (PH_MAILBOX_STORE_ERROR_NO_SUCH_MAILBOX or _UNAUTHORIZED). */
guint ph_mailbox_store_authenticate (PhMailboxStore *self, guint nameplate, const char *secret,
                                     GError **error);
/* The open mailbox's tag (16 hexadecimal digits), or NULL. */
const char *ph_mailbox_store_get_tag (PhMailboxStore *self, guint nameplate);
/* @side is one authenticated for @nameplate. */
gboolean ph_mailbox_store_add_message (PhMailboxStore *self, guint nameplate, guint side,
                                       const char *phase, GBytes *body, guint64 *out_index,
                                       GError **error);
GPtrArray *ph_mailbox_store_get_messages (PhMailboxStore *self, guint nameplate, guint64 after,
                                          GError **error);
gboolean ph_mailbox_store_leave (PhMailboxStore *self, guint nameplate, guint side, GError **error);
/* Counts a request of @side for TURN credentials: at most @quota in
 * @window_seconds from the first of them. Past it, fails with
 * PH_MAILBOX_STORE_ERROR_TURN_QUOTA and the seconds until the window ends
 * in @out_retry_after. */
gboolean ph_mailbox_store_count_turn_request (PhMailboxStore *self, guint nameplate, guint side,
                                              guint quota, guint window_seconds,
                                              guint *out_retry_after, GError **error);
gboolean ph_mailbox_store_contains (PhMailboxStore *self, guint nameplate);
guint ph_mailbox_store_get_n_open (PhMailboxStore *self);
guint ph_mailbox_store_get_lifetime (PhMailboxStore *self);

G_END_DECLS
