/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ph-contact.h"
#include "ph-ratchet.h"
#include "ph-rendezvous-client.h"

G_BEGIN_DECLS

/* Messages that wait for a contact who is offline (docs/protocol.md,
 * "Stored copies"): a copy of the message, sealed with the contact's
 * Double Ratchet session (ph-ratchet.h), left at a meeting point of the
 * two; the contact opens it when they come online, even with the sender
 * gone, leaves a sealed receipt there in turn and deletes the copy. The
 * sealed bytes are a whole frame (ph-frame.h): a `msg` for a message, an
 * `ack` with its id for a receipt; anything else is dropped.
 *
 * Signals:
 *  "message-received" (PhContact *contact, const char *id, gint64 time_ms,
 *     const char *text): a copy opened (the same message may also come
 *     directly: the caller drops it by id)
 *  "message-delivered" (PhContact *contact, const char *id): the contact's
 *     receipt for a copy we left */

#define PH_TYPE_SEALED_MAIL (ph_sealed_mail_get_type ())
G_DECLARE_FINAL_TYPE (PhSealedMail, ph_sealed_mail, PH, SEALED_MAIL, GObject)

PhSealedMail *ph_sealed_mail_new (PhRendezvousClient *client, PhRatchet *ratchet);

/* Whether copies can be sealed for @contact (a ratchet session was set up
 * when both saved each other). */
gboolean ph_sealed_mail_can_seal (PhSealedMail *self, PhContact *contact);

/* Seals message @id for @contact and leaves it at point @key, where we
 * are @side. */
void ph_sealed_mail_leave_async (PhSealedMail *self, PhContact *contact, const char *key,
                                 const char *side, const char *id, gint64 time_ms, const char *text,
                                 GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data);
gboolean ph_sealed_mail_leave_finish (PhSealedMail *self, GAsyncResult *result, GError **error);

/* The contact's copy of @id is no longer needed (it was delivered
 * directly): deleted from the server if we left one. */
void ph_sealed_mail_withdraw (PhSealedMail *self, const char *id);

/* Fetches and opens what @contact left at point @key (where we are
 * @side), once a wait said there are copies: emits the signals above,
 * answers messages with receipts and deletes what it opened. */
void ph_sealed_mail_collect (PhSealedMail *self, PhContact *contact, const char *key,
                             const char *side);

/* Once every receipt, deletion and fetch in flight has been answered:
 * before a process that leaves exits. */
void ph_sealed_mail_wait_idle_async (PhSealedMail *self, GAsyncReadyCallback callback,
                                     gpointer user_data);
void ph_sealed_mail_wait_idle_finish (PhSealedMail *self, GAsyncResult *result);

G_END_DECLS
