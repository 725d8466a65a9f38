/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "ph-contact.h"
#include "ph-conversation.h"
#include "ph-path.h"

G_BEGIN_DECLS

/* What pinhole-cli prints: one JSON object per line with --json (the
 * contract in README.md), or sentences for a person. */

typedef struct _PhCliOutput PhCliOutput;

PhCliOutput *ph_cli_output_new (gboolean json);
void ph_cli_output_free (PhCliOutput *self);

void ph_cli_output_code (PhCliOutput *self, const char *code);
void ph_cli_output_connected (PhCliOutput *self, const char *peer, const PhSetupTimes *times,
                              const PhPath *path);
void ph_cli_output_sent (PhCliOutput *self, const char *id, const char *text);
void ph_cli_output_message (PhCliOutput *self, const char *id, const char *from, const char *text);
/* A message from a saved contact: "contact" is their id. */
void ph_cli_output_contact_message (PhCliOutput *self, const char *id, PhContact *contact,
                                    const char *text);
/* A sealed copy of message @id waits on the server for @contact. */
void ph_cli_output_stored (PhCliOutput *self, const char *id, const char *contact);
void ph_cli_output_delivered (PhCliOutput *self, const char *id);
/* The conversation ended before the peer acknowledged message @id. */
void ph_cli_output_not_delivered (PhCliOutput *self, const char *id, const char *reason);
void ph_cli_output_reconnecting (PhCliOutput *self);
void ph_cli_output_rendezvous (PhCliOutput *self, gboolean reachable);
void ph_cli_output_path (PhCliOutput *self, const PhPath *path);
void ph_cli_output_closed (PhCliOutput *self, const char *reason);
void ph_cli_output_error (PhCliOutput *self, const GError *error);
/* `chat CONTACT`: the contact is not online, messages wait for them. */
void ph_cli_output_waiting (PhCliOutput *self, const char *contact);
/* `listen`, `chat CONTACT`: a contact came online or went offline. */
void ph_cli_output_presence (PhCliOutput *self, const char *contact, gboolean online);
/* Both sides saved each other: {"event":"contact-saved","contact":{"id",
 * "name","fingerprint","safety_number"}}. */
void ph_cli_output_contact_saved (PhCliOutput *self, PhContact *contact);
/* The peer saved us; this side was not asked to (--save-contact). */
void ph_cli_output_peer_wants_contact (PhCliOutput *self, const char *name,
                                       const char *fingerprint);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhCliOutput, ph_cli_output_free)

G_END_DECLS
