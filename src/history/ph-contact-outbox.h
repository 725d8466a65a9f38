/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ph-contact-meetings.h"
#include "ph-history.h"

G_BEGIN_DECLS

/* What is said with one saved contact, across their meetings and across
 * runs: the app's contact chat and `pinhole-cli chat`/`listen` share it.
 *
 * Everything is kept in the history (when there is one) as the
 * conversation ph_history_contact_conversation_id(): each message of ours
 * before it goes anywhere, so what was not delivered when the process
 * stopped is the outbox of the next run, and each of theirs once, whichever
 * way it came (directly, or from a stored copy), in this run or an earlier
 * one.
 *
 * A message goes directly while the contact is connected (and proved who
 * they are), under its id, again in each new conversation until it is
 * acknowledged. While the contact is offline, and unless copies are off,
 * a sealed copy waits for them on the server (ph-sealed-mail.h): "stored"
 * in the history. Offline means: the meetings' first look found them away.
 *
 * Signals (ids are the messages'):
 *  "message-sent" (const char *id): written on a connection to the contact
 *  "message-stored" (const char *id): a sealed copy waits on the server
 *  "message-delivered" (const char *id): the contact acknowledged it
 *  "message-received" (const char *id, gint64 time_ms, const char *text):
 *     a message from the contact, new to this profile */

#define PH_TYPE_CONTACT_OUTBOX (ph_contact_outbox_get_type ())
G_DECLARE_FINAL_TYPE (PhContactOutbox, ph_contact_outbox, PH, CONTACT_OUTBOX, GObject)

/* For @contact, met by @meetings (started by the caller); @history may be
 * NULL (then nothing outlives the process). Messages of earlier runs that
 * were not delivered go on as soon as they can. */
PhContactOutbox *ph_contact_outbox_new (PhContactMeetings *meetings, PhContact *contact,
                                        PhHistory *history, gboolean leave_copies);

PhContact *ph_contact_outbox_get_contact (PhContactOutbox *self);
/* Whether sealed copies are left while the contact is offline, from now
 * on (a setting of the app's). */
void ph_contact_outbox_set_leave_copies (PhContactOutbox *self, gboolean leave_copies);
/* The history conversation of this contact; NULL without a history. */
const PhHistoryConversation *ph_contact_outbox_get_record (PhContactOutbox *self);

/* Queues @text as a new message; its id, or NULL with PH_ERROR_TOO_LARGE
 * or PH_ERROR_FAILED (not UTF-8, or the history could not keep it). */
char *ph_contact_outbox_send (PhContactOutbox *self, const char *text, GError **error);

/* Messages not yet delivered: all, and those without a copy on the
 * server either. */
guint ph_contact_outbox_get_undelivered (PhContactOutbox *self);
guint ph_contact_outbox_get_unsettled (PhContactOutbox *self);
/* The ids of the messages not yet delivered, oldest first. */
GStrv ph_contact_outbox_dup_undelivered_ids (PhContactOutbox *self);

/* The contact's conversation once they proved who they are, else NULL. */
PhConversation *ph_contact_outbox_get_live_conversation (PhContactOutbox *self);

G_END_DECLS
