/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What two contacts derive from their pair secret to meet again without a
 * code (docs/protocol.md, "Meeting a contact again"): all of it is keyed
 * BLAKE2b-256 under the pair secret, so the server, which sees only the
 * results, can neither link one day's point to the next nor take part. */

/* Days since 1970 in UTC: the meeting point changes at midnight UTC. */
gint64 ph_meeting_day_now (void);
/* The key of the contacts' meeting point on @day: 64 lower-case hex
 * digits (ph-meeting-point.h gives its id). */
char *ph_meeting_point_key (GBytes *pair_secret, gint64 day);
/* "1" when @own_key sorts before @contact_key, else "2": the two sides
 * agree on who is who without a word. Side 1 hosts the mailbox the two
 * meet in; side 2 joins it. */
const char *ph_meeting_side (GBytes *own_key, GBytes *contact_key);
/* What the PAKE runs on instead of a code: 64 hex digits. */
char *ph_meeting_pake_secret (GBytes *pair_secret);
/* The host's invitation to the mailbox @nameplate, for the contact's
 * session @session (its `here`), left at the point of the day: with the
 * host's PAKE message, so the contact can post its PAKE message, its
 * confirmation and its description with its join, and with the host's
 * session description (or NULL), so the contact starts ICE at once. */
typedef struct
{
  char *nameplate;
  GBytes *pake_message;
  char *session;
  char *description;
} PhMeetingInvitation;

/* A description longer than this goes through the mailbox instead. */
#define PH_MEETING_INVITATION_MAX_DESCRIPTION 4096

void ph_meeting_invitation_free (PhMeetingInvitation *invitation);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhMeetingInvitation, ph_meeting_invitation_free)

/* Sealed (XChaCha20-Poly1305) so that the server cannot tell which mailbox
 * a point leads to, and bound to @point_key, so a copy moved to another
 * point does not open. */
GBytes *ph_meeting_seal_invitation (GBytes *pair_secret, const char *point_key,
                                    const PhMeetingInvitation *invitation);
/* NULL and PH_ERROR_PROTOCOL for anything that did not come sealed from
 * the contact for this point. */
PhMeetingInvitation *ph_meeting_open_invitation (GBytes *pair_secret, const char *point_key,
                                                 GBytes *sealed, GError **error);

G_END_DECLS
