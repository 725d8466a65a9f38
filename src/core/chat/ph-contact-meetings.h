/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ph-contact-book.h"
#include "ph-conversation.h"
#include "ph-ice-config.h"

G_BEGIN_DECLS

/* Meeting saved contacts again without a code (docs/protocol.md, "Meeting
 * a contact again"). At each contact's meeting point of the day this
 * profile says `here` (again every few minutes while it runs, with the
 * same session; a new process says it with a new one) and waits, with one
 * long-poll for the points of all its contacts. When a contact's new
 * session is there, side 1 (ph_meeting_side()) hosts a mailbox and leaves
 * a sealed invitation to it at the point, and side 2 joins it: from there
 * the conversation runs as a code chat does, on a PAKE secret only the
 * two know and a proof of the saved identity
 * (ph_conversation_host_contact()).
 *
 * Signals:
 *  "conversation-started" (PhContact *contact, PhConversation *conversation):
 *     a meeting began; connect to the conversation in the handler. The
 *     meetings hold it until it ends, and replace it when the contact
 *     starts over (a new session of theirs, or a new invitation).
 *  "presence-changed" (PhContact *contact): ph_contact_meetings_is_online()
 *     changed; also once for every contact after the first look at the
 *     points, so a front end can say "waiting" at once.
 *  "message-received" (PhContact *contact, const char *id, gint64 time_ms,
 *     const char *text): from a conversation or a stored copy
 *     (ph-sealed-mail.h); the same id may come both ways
 *     (ph-contact-outbox.h tells each once).
 *  "message-delivered" (PhContact *contact, const char *id): the contact
 *     acknowledged it directly or by a receipt, perhaps both; a copy still
 *     on the server is then deleted.
 *
 * Stored copies at the points are fetched as soon as a wait reports
 * them, and once at start at the points of the last days (copies live 7
 * days on the server). */

#define PH_TYPE_CONTACT_MEETINGS (ph_contact_meetings_get_type ())
G_DECLARE_FINAL_TYPE (PhContactMeetings, ph_contact_meetings, PH, CONTACT_MEETINGS, GObject)

PhContactMeetings *ph_contact_meetings_new (const char *rendezvous_url, PhContactBook *book,
                                            const char *own_name, const PhIceConfig *ice_config,
                                            gboolean use_server_turn);
/* Meets @only (`pinhole-cli chat CONTACT`), or every contact of the book
 * when NULL: then also those saved later, and no longer those removed. */
void ph_contact_meetings_start (PhContactMeetings *self, PhContact *only);
/* One look at the points of every contact, for ph_contact_meetings_is_online()
 * (`pinhole-cli contacts`): says nothing there, meets nobody, fetches
 * nothing. Instead of ph_contact_meetings_start(). */
void ph_contact_meetings_look_async (PhContactMeetings *self, GAsyncReadyCallback callback,
                                     gpointer user_data);
gboolean ph_contact_meetings_look_finish (PhContactMeetings *self, GAsyncResult *result,
                                          GError **error);
/* Whether @contact said `here` within the last few minutes and not `bye`
 * since, or is connected. */
gboolean ph_contact_meetings_is_online (PhContactMeetings *self, PhContact *contact);
/* The conversation with @contact, NULL when there is none. */
PhConversation *ph_contact_meetings_get_conversation (PhContactMeetings *self, PhContact *contact);
/* Whether a message to @contact can wait for them on the server: a
 * ratchet session with them exists (set up when both saved). */
gboolean ph_contact_meetings_can_leave_copy (PhContactMeetings *self, PhContact *contact);
/* Leaves a sealed copy of message @id at today's point of @contact
 * (started with ph_contact_meetings_start for that contact). The same id
 * goes directly with ph_conversation_send_message_with_id(). */
void ph_contact_meetings_leave_copy_async (PhContactMeetings *self, PhContact *contact,
                                           const char *id, gint64 time_ms, const char *text,
                                           GAsyncReadyCallback callback, gpointer user_data);
gboolean ph_contact_meetings_leave_copy_finish (PhContactMeetings *self, GAsyncResult *result,
                                                GError **error);
/* Stops waiting and says `bye` at every point, so contacts see this
 * profile offline at once. The conversations are the caller's to leave. */
void ph_contact_meetings_leave_async (PhContactMeetings *self, GAsyncReadyCallback callback,
                                      gpointer user_data);
void ph_contact_meetings_leave_finish (PhContactMeetings *self, GAsyncResult *result);

G_END_DECLS
