/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ph-chat.h"
#include "ph-contact-book.h"
#include "ph-history.h"

G_BEGIN_DECLS

/* What one running profile has, whichever windows show it: its settings,
 * its history, the chats listed in the sidebar (a GListModel of PhChat,
 * newest first) and the making of new ones. The application creates one;
 * the windows are given it, so none of them needs the application.
 * Property "leaving": TRUE while a chat taken off the list, or ended by
 * ph_session_leave_all (), is still saying goodbye to its peer; the
 * application keeps running until it is FALSE again. */

#define PH_TYPE_SESSION (ph_session_get_type ())
G_DECLARE_FINAL_TYPE (PhSession, ph_session, PH, SESSION, GObject)

/* @profile (NULL for the default person) picks the history file. Opens
 * the history and lists its earlier chats, ended. */
PhSession *ph_session_new (const char *profile);
GSettings *ph_session_get_settings (PhSession *self);
/* NULL when the history could not be opened: chats are not kept. */
PhHistory *ph_session_get_history (PhSession *self);
/* Why the history could not be opened, or its chats not read; else NULL. */
const GError *ph_session_get_history_error (PhSession *self);
/* The profile's contacts (a GListModel of PhContact), in the folder the
 * CLI uses for the default profile; NULL when it could not be opened. */
PhContactBook *ph_session_get_contact_book (PhSession *self);
/* Why the contact book could not be opened; else NULL. */
const GError *ph_session_get_contact_book_error (PhSession *self);
/* Starts meeting the saved contacts (ph-contact-meetings.h) with the
 * servers in the settings, and makes each contact's chat; once. */
void ph_session_meet_contacts (PhSession *self);
/* @contact's chat (ph_chat_new_for_contact), NULL before
 * ph_session_meet_contacts (). Not in ph_session_get_chats (). */
PhChat *ph_session_get_contact_chat (PhSession *self, PhContact *contact);
GListModel *ph_session_get_chats (PhSession *self);
gboolean ph_session_get_leaving (PhSession *self);
/* The TURN password from the keyring, kept for new conversations. */
void ph_session_set_turn_password (PhSession *self, const char *password);

/* Hosts a new chat and lists it first; NULL and PH_ERROR_FAILED when a
 * STUN or TURN server in the settings is malformed. */
PhChat *ph_session_host (PhSession *self, GError **error);
/* Joins the chat with @code and lists it first. Check @code with
 * ph_code_parse () first: NULL with PH_ERROR_INVALID_CODE when it is
 * malformed, or the error of the settings or of the rendezvous address. */
PhChat *ph_session_join (PhSession *self, const char *code, GError **error);
/* Takes @chat off the list, saying goodbye to its peer. One without
 * messages (a code never used) is deleted from the history too; one with
 * messages is listed again next time. */
gboolean ph_session_close_chat (PhSession *self, PhChat *chat, GError **error);
/* Takes @chat off the list and out of the history; FALSE with @error when
 * the history could not forget it (it is off the list all the same). */
gboolean ph_session_delete_chat (PhSession *self, PhChat *chat, GError **error);
/* Says goodbye to the peer of every chat still going, keeping them listed,
 * and tells the contacts this profile goes offline. */
void ph_session_leave_all (PhSession *self);

G_END_DECLS
