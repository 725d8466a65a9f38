/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ph-candidate-ledger.h"
#include "ph-ice-config.h"
#include "ph-ice-transport.h"
#include "ph-secure-channel.h"
#include "ph-session-description.h"

G_BEGIN_DECLS

/* One attempt at a path to the peer: a fresh ICE agent, the candidates of
 * both sides, and the TLS channel opened on the first working pair. A
 * broken path is mended by a new attempt rather than an ICE restart, so a
 * late packet of the old path cannot reach the new sockets and every
 * handshake starts clean; only the pinned certificate carries over.
 *
 * Signals:
 *  "local-candidate" (const char *candidate): gathered (and in the ledger)
 *  "gathering-done"
 *  "ice-state-changed" (PhIceState state)
 *  "path-changed" (const PhPath *path)
 *  "channel-created" (PhSecureChannel *channel): before its handshake, so
 *     the owner hears every frame on it
 *  "channel-opened": the handshake succeeded
 *  "channel-failed" (const GError *error): the handshake failed;
 *     PH_ERROR_SECURITY when the peer's certificate is not the pinned one
 * None is emitted once the attempt was dropped or closed. */

#define PH_TYPE_CONNECTION_ATTEMPT (ph_connection_attempt_get_type ())
G_DECLARE_FINAL_TYPE (PhConnectionAttempt, ph_connection_attempt, PH, CONNECTION_ATTEMPT, GObject)

/* Attempt @number (1 for the first) with @certificate for TLS; the host
 * is the TLS server and the ICE controlling side. Each side keeps at most
 * @max_candidates candidates. */
PhConnectionAttempt *ph_connection_attempt_new (guint64 number, gboolean is_host,
                                                GTlsCertificate *certificate, guint max_candidates);
/* Makes the ICE agent with the STUN and TURN servers of @config (known
 * only now: they may come from the rendezvous server) and starts
 * gathering; a peer description that came first goes to it now. */
gboolean ph_connection_attempt_start (PhConnectionAttempt *self, const PhIceConfig *config,
                                      GError **error);
guint64 ph_connection_attempt_get_number (PhConnectionAttempt *self);
gboolean ph_connection_attempt_is_started (PhConnectionAttempt *self);

/* Fills this side's part of @description: the TLS role, ICE credentials,
 * where its reliable link starts numbering (random per attempt), the
 * candidates gathered so far and whether gathering is done. */
void ph_connection_attempt_describe (PhConnectionAttempt *self, PhSessionDescription *description);

/* The peer's description of this attempt: its credentials and candidates
 * go to ICE (once it is started), its link's start numbers the link (none:
 * an older peer, both sides number from 0) and its fingerprint is the only
 * certificate the channel accepts. */
gboolean ph_connection_attempt_set_peer_description (PhConnectionAttempt *self,
                                                     const PhSessionDescription *description,
                                                     GError **error);
gboolean ph_connection_attempt_has_peer_description (PhConnectionAttempt *self);
/* A candidate trickled by the peer. FALSE without an error for a copy of
 * one already known; PH_ERROR_PROTOCOL for a flood or a bad line. */
gboolean ph_connection_attempt_add_remote_candidate (PhConnectionAttempt *self,
                                                     const char *candidate, GError **error);
gboolean ph_connection_attempt_remote_gathering_done (PhConnectionAttempt *self, GError **error);

PhCandidateLedger *ph_connection_attempt_get_candidates (PhConnectionAttempt *self);
/* NULL before ICE started or found a pair. */
PhIceTransport *ph_connection_attempt_get_ice (PhConnectionAttempt *self);
PhSecureChannel *ph_connection_attempt_get_channel (PhConnectionAttempt *self);

/* Given up: ICE closes first (a TLS session dropped over an open stream
 * would say goodbye with a blocking write into a path that is gone), in
 * the background; no more signals. */
void ph_connection_attempt_drop (PhConnectionAttempt *self);
/* The end of the chat: TLS says close_notify on the stream, then ICE
 * closes. No more signals. */
void ph_connection_attempt_close_async (PhConnectionAttempt *self, GAsyncReadyCallback callback,
                                        gpointer user_data);
void ph_connection_attempt_close_finish (PhConnectionAttempt *self, GAsyncResult *result);

G_END_DECLS
