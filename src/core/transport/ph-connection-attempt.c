/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-connection-attempt"

#include "config.h"

#include <string.h>

#include <sodium.h>

#include "ph-connection-attempt.h"
#include "ph-core-enums.h"
#include "ph-nice-stream.h"
#include "ph-port-mapper.h"
#include "ph-test-hooks.h"

/* Tests play a peer from before the link ISN: it announces none and
 * numbers from 0 whatever the peer announced. */
#define OLDER_PEER() ph_test_hook_is_set ("PINHOLE_TEST_NO_LINK_ISN")

/* How long TLS waits on a relayed pair for a direct one still being
 * checked (see open_channel_when_settled): the direct pair comes about a
 * round trip after the relay's, if at all. Every relayed setup where no
 * direct path exists pays it (at 300 ms: 704 instead of ~400 ms for
 * port-restricted <-> symmetric at a 40 ms round trip), and the search
 * in the background (ph-direct-search.c) moves a chat that settled too
 * early within about a second and a half. */
#define RELAY_SETTLE_MS 100

struct _PhConnectionAttempt
{
  GObject parent_instance;

  guint64 number;
  gboolean is_host;
  GTlsCertificate *certificate;
  guint32 link_isn; /* where our link starts numbering, random per attempt */

  PhIceTransport *ice;
  PhCandidateLedger *candidates;
  PhSessionDescription *peer_description;
  PhSecureChannel *channel;
  gboolean relay_only;         /* every pair is relayed: nothing better to wait for */
  guint settle_id;             /* TLS waits for a direct pair, see open_channel_when_settled */
  PhPortMapper *mapper;        /* NULL when port mapping is off or impossible */
  gboolean ice_gathering_done; /* ours is done once the mapper has settled too */
  gboolean finished;           /* dropped or closed: silent from then on */
};

G_DEFINE_FINAL_TYPE (PhConnectionAttempt, ph_connection_attempt, G_TYPE_OBJECT)

enum
{
  SIGNAL_LOCAL_CANDIDATE,
  SIGNAL_GATHERING_DONE,
  SIGNAL_ICE_STATE_CHANGED,
  SIGNAL_PATH_CHANGED,
  SIGNAL_CHANNEL_CREATED,
  SIGNAL_CHANNEL_OPENED,
  SIGNAL_CHANNEL_FAILED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* Remote candidates wait until both ICE and the peer's credentials exist;
 * then each goes to libnice once. */
static gboolean
feed_remote_candidates (PhConnectionAttempt *self, GError **error)
{
  const char *candidate;

  if (self->ice == NULL || self->peer_description == NULL)
    return TRUE;

  while ((candidate = ph_candidate_ledger_next_for_ice (self->candidates)) != NULL)
    if (!ph_ice_transport_add_remote_candidate (self->ice, candidate, error))
      return FALSE;
  if (ph_candidate_ledger_get_remote_done (self->candidates))
    ph_ice_transport_remote_gathering_done (self->ice);
  return TRUE;
}

/* Each side's link numbers from the start it announced; a peer that
 * announced none is older and numbers from 0 both ways, so we do too.
 * Set before ICE gets the peer's credentials, so before any pair of ours
 * works; what the peer sent earlier was dropped and comes again. */
static void
number_link (PhConnectionAttempt *self)
{
  const PhSessionDescription *peer = self->peer_description;
  PhNiceStream *stream = PH_NICE_STREAM (ph_ice_transport_get_stream (self->ice));

  if (peer->has_link_isn && !OLDER_PEER ())
    ph_nice_stream_set_link_numbers (stream, self->link_isn, peer->link_isn);
  else
    ph_nice_stream_set_link_numbers (stream, 0, 0);
}

static gboolean
apply_peer_description (PhConnectionAttempt *self, GError **error)
{
  if (self->ice == NULL || self->peer_description == NULL)
    return TRUE;

  number_link (self);
  if (!ph_ice_transport_set_remote_credentials (self->ice, self->peer_description->ice_ufrag,
                                                self->peer_description->ice_pwd, error))
    return FALSE;
  return feed_remote_candidates (self, error);
}

static void
channel_opened_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhConnectionAttempt) self = user_data;
  g_autoptr (GError) error = NULL;
  gboolean opened = ph_secure_channel_open_finish (PH_SECURE_CHANNEL (source), result, &error);

  if (self->finished)
    return;
  if (opened)
    g_signal_emit (self, signals[SIGNAL_CHANNEL_OPENED], 0);
  else
    g_signal_emit (self, signals[SIGNAL_CHANNEL_FAILED], 0, error);
}

static void
open_channel (PhConnectionAttempt *self)
{
  G_GNUC_UNUSED g_autoptr (PhConnectionAttempt) hold = g_object_ref (self);

  if (self->channel != NULL)
    return;

  self->channel = ph_secure_channel_new (ph_ice_transport_get_stream (self->ice), self->is_host,
                                         self->certificate, self->peer_description->fingerprint);
  g_signal_emit (self, signals[SIGNAL_CHANNEL_CREATED], 0, self->channel);
  if (!self->finished)
    ph_secure_channel_open_async (self->channel, NULL, channel_opened_cb, g_object_ref (self));
}

/* A relay pair first, a direct one a moment later. With aggressive
 * nomination (ph-ice-transport.c) libnice selects the first pair that
 * works, and behind an address-restricted NAT that is often the relay:
 * the NAT already lets the TURN server in, but the peer only once this
 * side has sent to the peer's address. libnice goes on checking the pairs
 * ranked above the selected one that are in flight, switches to one that
 * works (both sides, through USE-CANDIDATE), and reports READY only when
 * none is left (priv_prune_pending_checks in 0.1.21's conncheck.c). So a
 * relayed pair in CONNECTED means a direct one may still come: TLS waits
 * for it, at most RELAY_SETTLE_MS, so that the handshake and the first
 * path the person sees are direct; not where one side has nothing a
 * direct check could reach (UDP blocked), so that such a network does
 * not pay for it in every setup. Regular nomination would instead wait
 * for every direct check to fail, seconds where only the relay works. */
static gboolean
may_get_direct_pair (PhConnectionAttempt *self, PhIceState state)
{
  g_autoptr (PhPath) path = NULL;

  if (state != PH_ICE_STATE_CONNECTED || self->relay_only
      || !ph_candidate_ledger_may_go_direct (self->candidates))
    return FALSE;
  path = ph_ice_transport_get_path (self->ice);
  return path != NULL && path->relayed;
}

static gboolean
settle_timeout_cb (gpointer user_data)
{
  PhConnectionAttempt *self = user_data;

  self->settle_id = 0;
  g_debug ("No direct pair within %u ms; TLS starts on the relay", RELAY_SETTLE_MS);
  open_channel (self);
  return G_SOURCE_REMOVE;
}

static void
open_channel_when_settled (PhConnectionAttempt *self, PhIceState state)
{
  if (self->channel != NULL)
    return;
  if (may_get_direct_pair (self, state))
    {
      if (self->settle_id == 0)
        self->settle_id = g_timeout_add (RELAY_SETTLE_MS, settle_timeout_cb, self);
      return;
    }
  g_clear_handle_id (&self->settle_id, g_source_remove);
  open_channel (self);
}

/* The owner may drop the attempt from a handler of its signals: those
 * that still look at the attempt afterwards hold it meanwhile. */
static void
ice_state_changed_cb (PhIceTransport *ice, PhIceState state, PhConnectionAttempt *self)
{
  G_GNUC_UNUSED g_autoptr (PhConnectionAttempt) hold = g_object_ref (self);

  g_signal_emit (self, signals[SIGNAL_ICE_STATE_CHANGED], 0, state);
  /* TLS starts on the first working pair (or the best within a moment,
   * above): waiting for READY would also wait for every better pair to
   * fail, seconds behind a NAT. */
  if (!self->finished && (state == PH_ICE_STATE_CONNECTED || state == PH_ICE_STATE_READY)
      && self->peer_description != NULL)
    open_channel_when_settled (self, state);
  else if (state == PH_ICE_STATE_FAILED || state == PH_ICE_STATE_CLOSED)
    g_clear_handle_id (&self->settle_id, g_source_remove);
}

static void
ice_path_changed_cb (PhIceTransport *ice, const PhPath *path, PhConnectionAttempt *self)
{
  G_GNUC_UNUSED g_autoptr (PhConnectionAttempt) hold = g_object_ref (self);

  g_signal_emit (self, signals[SIGNAL_PATH_CHANGED], 0, path);
  if (!self->finished && self->settle_id != 0 && !path->relayed)
    open_channel_when_settled (self, ph_ice_transport_get_state (self->ice));
}

static void
add_local_candidate (PhConnectionAttempt *self, const char *candidate)
{
  ph_candidate_ledger_add_local (self->candidates, candidate);
  g_signal_emit (self, signals[SIGNAL_LOCAL_CANDIDATE], 0, candidate);
}

/* The first IPv4 UDP host candidate on the gateway's network is the one
 * the router can forward to. */
static void
maybe_map (PhConnectionAttempt *self, const char *candidate)
{
  g_auto (GStrv) fields = NULL;
  guint64 port;

  if (self->mapper == NULL || ph_port_mapper_is_requested (self->mapper)
      || !ph_candidate_has_type (candidate, "host"))
    return;
  fields = g_strsplit (candidate, " ", 7);
  if (g_strv_length (fields) < 6 || g_ascii_strcasecmp (fields[2], "UDP") != 0
      || strchr (fields[4], ':') != NULL
      || !g_ascii_string_to_unsigned (fields[5], 10, 1, G_MAXUINT16, &port, NULL)
      || !ph_port_mapper_can_map (self->mapper, fields[4]))
    return;
  ph_port_mapper_map (self->mapper, fields[4], (guint)port);
}

static void
ice_local_candidate_cb (PhIceTransport *ice, const char *candidate, PhConnectionAttempt *self)
{
  G_GNUC_UNUSED g_autoptr (PhConnectionAttempt) hold = g_object_ref (self);

  add_local_candidate (self, candidate);
  if (!self->finished)
    maybe_map (self, candidate);
}

/* Trickled like any other candidate: the peer's checks to it reach our
 * host socket through the router. */
static void
port_mapped_cb (PhPortMapper *mapper, PhConnectionAttempt *self)
{
  g_autofree char *candidate = ph_port_mapper_dup_candidate (mapper);
  const char *address;
  guint port;
  PhPortMappingProtocol protocol = ph_port_mapper_get_mapping (mapper, &address, &port);

  ph_ice_transport_set_port_mapping (self->ice, ph_port_mapping_protocol_to_string (protocol),
                                     address, port);
  add_local_candidate (self, candidate);
}

static void
maybe_gathering_done (PhConnectionAttempt *self)
{
  if (!self->ice_gathering_done || self->finished
      || ph_candidate_ledger_get_local_done (self->candidates))
    return;
  if (self->mapper != NULL && ph_port_mapper_is_requested (self->mapper)
      && !ph_port_mapper_is_settled (self->mapper))
    return;
  ph_candidate_ledger_set_local_done (self->candidates);
  g_signal_emit (self, signals[SIGNAL_GATHERING_DONE], 0);
}

static void
port_mapping_settled_cb (PhPortMapper *mapper, PhConnectionAttempt *self)
{
  maybe_gathering_done (self);
}

/* Kept for the explanation of a failure, whichever way it comes. */
static void
ice_relay_problem_cb (PhIceTransport *ice, const char *problem, PhConnectionAttempt *self)
{
  ph_candidate_ledger_set_relay_problem (self->candidates, problem,
                                         ph_ice_transport_get_relay_unreachable (ice));
}

/* The end of our candidates waits for the router's answer (about a
 * second at most) so that a mapped candidate is not sent after it. */
static void
ice_gathering_done_cb (PhIceTransport *ice, PhConnectionAttempt *self)
{
  self->ice_gathering_done = TRUE;
  maybe_gathering_done (self);
}

gboolean
ph_connection_attempt_start (PhConnectionAttempt *self, const PhIceConfig *config, GError **error)
{
  g_return_val_if_fail (PH_IS_CONNECTION_ATTEMPT (self), FALSE);
  g_return_val_if_fail (self->ice == NULL && !self->finished, FALSE);

  self->ice = ph_ice_transport_new (config, self->is_host);
  self->relay_only = config != NULL && config->relay_only;
  /* Before gathering opens the sockets. */
  ph_nice_stream_await_link_numbers (PH_NICE_STREAM (ph_ice_transport_get_stream (self->ice)));
  g_signal_connect (self->ice, "local-candidate", G_CALLBACK (ice_local_candidate_cb), self);
  g_signal_connect (self->ice, "gathering-done", G_CALLBACK (ice_gathering_done_cb), self);
  g_signal_connect (self->ice, "state-changed", G_CALLBACK (ice_state_changed_cb), self);
  g_signal_connect (self->ice, "path-changed", G_CALLBACK (ice_path_changed_cb), self);
  g_signal_connect (self->ice, "relay-problem", G_CALLBACK (ice_relay_problem_cb), self);
  /* Before gathering: host candidates come synchronously inside it. */
  if (config == NULL || config->port_mapping)
    self->mapper = ph_port_mapper_new ();
  if (self->mapper != NULL)
    {
      g_signal_connect (self->mapper, "mapped", G_CALLBACK (port_mapped_cb), self);
      g_signal_connect (self->mapper, "settled", G_CALLBACK (port_mapping_settled_cb), self);
    }
  ph_ice_transport_start (self->ice);
  return apply_peer_description (self, error);
}

guint64
ph_connection_attempt_get_number (PhConnectionAttempt *self)
{
  g_return_val_if_fail (PH_IS_CONNECTION_ATTEMPT (self), 0);

  return self->number;
}

gboolean
ph_connection_attempt_is_started (PhConnectionAttempt *self)
{
  g_return_val_if_fail (PH_IS_CONNECTION_ATTEMPT (self), FALSE);

  return self->ice != NULL;
}

void
ph_connection_attempt_describe (PhConnectionAttempt *self, PhSessionDescription *description)
{
  GPtrArray *local;

  g_return_if_fail (PH_IS_CONNECTION_ATTEMPT (self));
  g_return_if_fail (self->ice != NULL);

  local = ph_candidate_ledger_get_local (self->candidates);
  description->session_version = self->number;
  g_free (description->setup);
  description->setup = g_strdup (self->is_host ? "passive" : "active");
  g_free (description->ice_ufrag);
  description->ice_ufrag = g_strdup (ph_ice_transport_get_ufrag (self->ice));
  g_free (description->ice_pwd);
  description->ice_pwd = g_strdup (ph_ice_transport_get_pwd (self->ice));
  for (guint i = 0; i < local->len && i < PH_SESSION_DESCRIPTION_MAX_CANDIDATES; i++)
    g_ptr_array_add (description->candidates, g_strdup (g_ptr_array_index (local, i)));
  description->end_of_candidates = ph_candidate_ledger_get_local_done (self->candidates);
  description->has_link_isn = !OLDER_PEER ();
  description->link_isn = description->has_link_isn ? self->link_isn : 0;
}

gboolean
ph_connection_attempt_set_peer_description (PhConnectionAttempt *self,
                                            const PhSessionDescription *description, GError **error)
{
  g_return_val_if_fail (PH_IS_CONNECTION_ATTEMPT (self), FALSE);
  g_return_val_if_fail (description != NULL, FALSE);
  g_return_val_if_fail (self->peer_description == NULL, FALSE);

  self->peer_description = ph_session_description_copy (description);
  /* A description holds fewer candidates than the ledger takes. */
  for (guint i = 0; i < description->candidates->len; i++)
    ph_candidate_ledger_add_remote (self->candidates,
                                    g_ptr_array_index (description->candidates, i), NULL);
  if (description->end_of_candidates)
    ph_candidate_ledger_set_remote_done (self->candidates);
  return apply_peer_description (self, error);
}

gboolean
ph_connection_attempt_has_peer_description (PhConnectionAttempt *self)
{
  g_return_val_if_fail (PH_IS_CONNECTION_ATTEMPT (self), FALSE);

  return self->peer_description != NULL;
}

gboolean
ph_connection_attempt_add_remote_candidate (PhConnectionAttempt *self, const char *candidate,
                                            GError **error)
{
  g_return_val_if_fail (PH_IS_CONNECTION_ATTEMPT (self), FALSE);
  g_return_val_if_fail (candidate != NULL, FALSE);

  if (!ph_candidate_ledger_add_remote (self->candidates, candidate, error))
    return FALSE;
  return feed_remote_candidates (self, error);
}

gboolean
ph_connection_attempt_remote_gathering_done (PhConnectionAttempt *self, GError **error)
{
  g_return_val_if_fail (PH_IS_CONNECTION_ATTEMPT (self), FALSE);

  ph_candidate_ledger_set_remote_done (self->candidates);
  return feed_remote_candidates (self, error);
}

PhCandidateLedger *
ph_connection_attempt_get_candidates (PhConnectionAttempt *self)
{
  g_return_val_if_fail (PH_IS_CONNECTION_ATTEMPT (self), NULL);

  return self->candidates;
}

PhIceTransport *
ph_connection_attempt_get_ice (PhConnectionAttempt *self)
{
  g_return_val_if_fail (PH_IS_CONNECTION_ATTEMPT (self), NULL);

  return self->ice;
}

PhSecureChannel *
ph_connection_attempt_get_channel (PhConnectionAttempt *self)
{
  g_return_val_if_fail (PH_IS_CONNECTION_ATTEMPT (self), NULL);

  return self->channel;
}

static void
finish (PhConnectionAttempt *self)
{
  self->finished = TRUE;
  g_clear_handle_id (&self->settle_id, g_source_remove);
  if (self->ice != NULL)
    g_signal_handlers_disconnect_by_data (self->ice, self);
  /* The router forgets the port with the attempt. */
  if (self->mapper != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->mapper, self);
      ph_port_mapper_stop (self->mapper);
    }
}

void
ph_connection_attempt_drop (PhConnectionAttempt *self)
{
  g_return_if_fail (PH_IS_CONNECTION_ATTEMPT (self));

  if (self->finished)
    return;
  finish (self);
  if (self->ice != NULL)
    ph_ice_transport_close_async (self->ice, NULL, NULL);
}

static void
ice_closed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;

  ph_ice_transport_close_finish (PH_ICE_TRANSPORT (source), result);
  g_task_return_boolean (task, TRUE);
}

static void
close_ice (GTask *task)
{
  PhConnectionAttempt *self = g_task_get_source_object (task);

  if (self->ice == NULL)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  ph_ice_transport_close_async (self->ice, ice_closed_cb, task);
}

static void
channel_closed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ph_secure_channel_close_finish (PH_SECURE_CHANNEL (source), result, NULL);
  /* The ICE stream goes only after TLS has said close_notify on it. */
  close_ice (user_data);
}

void
ph_connection_attempt_close_async (PhConnectionAttempt *self, GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  GTask *task;

  g_return_if_fail (PH_IS_CONNECTION_ATTEMPT (self));

  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, ph_connection_attempt_close_async);
  finish (self);
  if (self->channel != NULL)
    ph_secure_channel_close_async (self->channel, channel_closed_cb, task);
  else
    close_ice (task);
}

void
ph_connection_attempt_close_finish (PhConnectionAttempt *self, GAsyncResult *result)
{
  g_return_if_fail (g_task_is_valid (result, self));

  g_task_propagate_boolean (G_TASK (result), NULL);
}

static void
ph_connection_attempt_dispose (GObject *object)
{
  PhConnectionAttempt *self = PH_CONNECTION_ATTEMPT (object);

  finish (self);
  g_clear_object (&self->channel);
  g_clear_object (&self->mapper);
  g_clear_object (&self->ice);

  G_OBJECT_CLASS (ph_connection_attempt_parent_class)->dispose (object);
}

static void
ph_connection_attempt_finalize (GObject *object)
{
  PhConnectionAttempt *self = PH_CONNECTION_ATTEMPT (object);

  g_clear_object (&self->certificate);
  g_clear_object (&self->candidates);
  g_clear_pointer (&self->peer_description, ph_session_description_free);

  G_OBJECT_CLASS (ph_connection_attempt_parent_class)->finalize (object);
}

static void
ph_connection_attempt_class_init (PhConnectionAttemptClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GType type = G_TYPE_FROM_CLASS (klass);

  object_class->dispose = ph_connection_attempt_dispose;
  object_class->finalize = ph_connection_attempt_finalize;

  signals[SIGNAL_LOCAL_CANDIDATE]
      = g_signal_new ("local-candidate", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                      1, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_GATHERING_DONE] = g_signal_new ("gathering-done", type, G_SIGNAL_RUN_LAST, 0, NULL,
                                                 NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_ICE_STATE_CHANGED]
      = g_signal_new ("ice-state-changed", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                      G_TYPE_NONE, 1, PH_TYPE_ICE_STATE);
  signals[SIGNAL_PATH_CHANGED]
      = g_signal_new ("path-changed", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                      PH_TYPE_PATH | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_CHANNEL_CREATED]
      = g_signal_new ("channel-created", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                      1, PH_TYPE_SECURE_CHANNEL);
  signals[SIGNAL_CHANNEL_OPENED] = g_signal_new ("channel-opened", type, G_SIGNAL_RUN_LAST, 0, NULL,
                                                 NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_CHANNEL_FAILED]
      = g_signal_new ("channel-failed", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                      1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
ph_connection_attempt_init (PhConnectionAttempt *self)
{
}

PhConnectionAttempt *
ph_connection_attempt_new (guint64 number, gboolean is_host, GTlsCertificate *certificate,
                           guint max_candidates)
{
  PhConnectionAttempt *self;

  g_return_val_if_fail (number > 0, NULL);
  g_return_val_if_fail (G_IS_TLS_CERTIFICATE (certificate), NULL);

  if (sodium_init () < 0)
    g_error ("libsodium could not be initialised");

  self = g_object_new (PH_TYPE_CONNECTION_ATTEMPT, NULL);
  /* Unguessable, so that someone off the path who knows the addresses and
   * ports still cannot forge a link packet the link takes. */
  randombytes_buf (&self->link_isn, sizeof self->link_isn);
  self->number = number;
  self->is_host = is_host;
  self->certificate = g_object_ref (certificate);
  self->candidates = ph_candidate_ledger_new (max_candidates);
  return self;
}
