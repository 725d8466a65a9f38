/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A meeting point of two contacts (docs/protocol.md, "Meeting points"):
 * its key is 32 bytes as PH_MAILBOX_SECRET_LENGTH lower-case hex digits,
 * its id the SHA-256 of PH_MEETING_POINT_ID_PREFIX and the key's bytes,
 * as many hex digits. Whoever can act at a point knows a preimage of its
 * id, so the server keeps ids only and a point cannot be taken over. */

#define PH_MEETING_POINT_ID_PREFIX "pinhole-meet-v1:"
#define PH_MEETING_POINT_ID_LENGTH 64
/* The most points one wait may name. */
#define PH_MEETING_POINT_MAX_WAIT 500

/* Exactly PH_MEETING_POINT_ID_LENGTH lower-case hex digits. */
gboolean ph_meeting_point_id_is_valid (const char *id);
/* The id of the point whose key is @key; FALSE when @key is not of the
 * shape of one. */
gboolean ph_meeting_point_id_from_key (const char *key,
                                       char out_id[PH_MEETING_POINT_ID_LENGTH + 1]);
/* Whether @key is the key of the point @id, in a time that does not
 * depend on where they differ. */
gboolean ph_meeting_point_key_matches (const char *key, const char *id);
/* A side at a point is "1" or "2"; 0 for anything else. */
guint ph_meeting_point_parse_side (const char *side);

G_END_DECLS
