/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

#include "ph-ice-diagnosis.h"

G_BEGIN_DECLS

/* The candidates of one connection attempt, both sides: what this side
 * gathered (for its description, the trickle and the inspector) and what
 * the peer sent (kept until ICE can take them, each handed over once).
 * Counts by type feed the explanation of a failure. No I/O. */

#define PH_TYPE_CANDIDATE_LEDGER (ph_candidate_ledger_get_type ())
G_DECLARE_FINAL_TYPE (PhCandidateLedger, ph_candidate_ledger, PH, CANDIDATE_LEDGER, GObject)

/* Each side keeps at most @max_per_side candidates. */
PhCandidateLedger *ph_candidate_ledger_new (guint max_per_side);
/* A new attempt: everything is forgotten. */
void ph_candidate_ledger_reset (PhCandidateLedger *self);

/* A candidate this side gathered. It is counted by type in any case, and
 * listed unless the list is full (then FALSE). */
gboolean ph_candidate_ledger_add_local (PhCandidateLedger *self, const char *candidate);
void ph_candidate_ledger_set_local_done (PhCandidateLedger *self);
gboolean ph_candidate_ledger_get_local_done (PhCandidateLedger *self);
GPtrArray *ph_candidate_ledger_get_local (PhCandidateLedger *self);

/* A candidate from the peer. A copy of one already listed is dropped
 * (FALSE, no error); more than any network has is PH_ERROR_PROTOCOL. */
gboolean ph_candidate_ledger_add_remote (PhCandidateLedger *self, const char *candidate,
                                         GError **error);
void ph_candidate_ledger_set_remote_done (PhCandidateLedger *self);
gboolean ph_candidate_ledger_get_remote_done (PhCandidateLedger *self);
/* The oldest remote candidate not handed to ICE yet, now counted as
 * handed over; NULL when all are. */
const char *ph_candidate_ledger_next_for_ice (PhCandidateLedger *self);

/* Why a TURN server could not be used at all, for the explanation of a
 * failure (the ICE transport's "relay-problem"); NULL for none. */
void ph_candidate_ledger_set_relay_problem (PhCandidateLedger *self, const char *problem,
                                            gboolean unreachable);

/* Fills the candidate counts and the relay problem of @input (the NAT and
 * configuration fields are the caller's); @input borrows the problem
 * until the ledger changes. */
void ph_candidate_ledger_fill_diagnosis (PhCandidateLedger *self, PhIceDiagnosisInput *input);

/* Whether both sides have so far a candidate another network could reach
 * (server-reflexive, or a public host address). Without one on either
 * side, checks between different networks cannot work: UDP is blocked
 * there, or it has nothing but a relay to offer. Two ends on one LAN
 * still can, but their host pairs win long before a relay's. */
gboolean ph_candidate_ledger_may_go_direct (PhCandidateLedger *self);

GStrv ph_candidate_ledger_dup_local (PhCandidateLedger *self);
GStrv ph_candidate_ledger_dup_remote (PhCandidateLedger *self);

/* Whether the validated "candidate:…" line has "typ @type". */
gboolean ph_candidate_has_type (const char *candidate, const char *type);

G_END_DECLS
