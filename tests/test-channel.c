/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-channel"

#include "config.h"

#include <string.h>

#include "ph-certificate.h"
#include "ph-error.h"
#include "ph-ice-transport-private.h"
#include "ph-nice-stream.h"
#include "ph-secure-channel.h"
#include "ph-test-wait.h"

#define TIMEOUT_MS ph_test_scaled_ms (10000)

static const char *const loopback[] = { "127.0.0.1", NULL };

static gboolean
set_true_cb (gpointer data)
{
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the main context until @cond holds; fails the test after
 * TIMEOUT_MS. */
#define WAIT_FOR(cond)                                                                             \
  G_STMT_START                                                                                     \
  {                                                                                                \
    gboolean timed_out_ = FALSE;                                                                   \
    guint timeout_id_ = g_timeout_add (TIMEOUT_MS, set_true_cb, &timed_out_);                      \
    while (!(cond) && !timed_out_)                                                                 \
      g_main_context_iteration (NULL, TRUE);                                                       \
    if (!timed_out_)                                                                               \
      g_source_remove (timeout_id_);                                                               \
    if (!(cond))                                                                                   \
      g_test_message ("timed out waiting for %s", #cond);                                          \
    g_assert_true (cond);                                                                          \
  }                                                                                                \
  G_STMT_END

typedef struct _Peer Peer;

struct _Peer
{
  PhIceTransport *transport;
  Peer *other;
  PhIceState state;
  gboolean ever_ready;
  gboolean gathering_done;
  guint n_local_candidates;
  PhPath *path;
  guint n_path_changes;

  GTlsCertificate *certificate;
  PhSecureChannel *channel;
  gboolean open_done;
  GError *open_error;
  GPtrArray *frames; /* PhFrame, copies of what arrived */
  gboolean closed;
  GError *closed_error;
  guint n_closed;
};

static void
local_candidate_cb (PhIceTransport *transport, const char *candidate, Peer *peer)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (g_str_has_prefix (candidate, "candidate:"));
  g_assert_null (strchr (candidate, '\n'));
  peer->n_local_candidates++;
  ph_ice_transport_add_remote_candidate (peer->other->transport, candidate, &error);
  g_assert_no_error (error);
}

static void
gathering_done_cb (PhIceTransport *transport, Peer *peer)
{
  peer->gathering_done = TRUE;
  ph_ice_transport_remote_gathering_done (peer->other->transport);
}

static void
state_changed_cb (PhIceTransport *transport, int state, Peer *peer)
{
  g_assert_cmpint (state, ==, ph_ice_transport_get_state (transport));
  peer->state = state;
  if (state == PH_ICE_STATE_READY)
    peer->ever_ready = TRUE;
}

static void
path_changed_cb (PhIceTransport *transport, const PhPath *path, Peer *peer)
{
  g_clear_pointer (&peer->path, ph_path_free);
  peer->path = ph_path_copy (path);
  peer->n_path_changes++;
}

static void
peer_init (Peer *peer, Peer *other, PhIceConfig *config, gboolean controlling)
{
  g_autoptr (GError) error = NULL;

  memset (peer, 0, sizeof *peer);
  peer->other = other;
  peer->transport = ph_ice_transport_new (config, controlling);
  ph_ice_transport_set_local_addresses (peer->transport, loopback, &error);
  g_assert_no_error (error);
  g_signal_connect (peer->transport, "local-candidate", G_CALLBACK (local_candidate_cb), peer);
  g_signal_connect (peer->transport, "gathering-done", G_CALLBACK (gathering_done_cb), peer);
  g_signal_connect (peer->transport, "state-changed", G_CALLBACK (state_changed_cb), peer);
  g_signal_connect (peer->transport, "path-changed", G_CALLBACK (path_changed_cb), peer);
  peer->frames = g_ptr_array_new_with_free_func ((GDestroyNotify)ph_frame_free);
}

static void
transport_closed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ph_ice_transport_close_finish (PH_ICE_TRANSPORT (source), result);
  *(gboolean *)user_data = TRUE;
}

static void
peer_clear (Peer *peer)
{
  gboolean closed = FALSE;

  if (peer->channel != NULL)
    g_signal_handlers_disconnect_by_data (peer->channel, peer);
  g_clear_object (&peer->channel);

  ph_ice_transport_close_async (peer->transport, transport_closed_cb, &closed);
  WAIT_FOR (closed);
  g_assert_cmpint (ph_ice_transport_get_state (peer->transport), ==, PH_ICE_STATE_CLOSED);
  g_signal_handlers_disconnect_by_data (peer->transport, peer);
  g_assert_finalize_object (peer->transport);

  g_clear_object (&peer->certificate);
  g_clear_pointer (&peer->path, ph_path_free);
  g_clear_pointer (&peer->frames, g_ptr_array_unref);
  g_clear_error (&peer->open_error);
  g_clear_error (&peer->closed_error);
}

static void
exchange_credentials (Peer *a, Peer *b)
{
  g_autoptr (GError) error = NULL;

  ph_ice_transport_set_remote_credentials (a->transport, ph_ice_transport_get_ufrag (b->transport),
                                           ph_ice_transport_get_pwd (b->transport), &error);
  g_assert_no_error (error);
  ph_ice_transport_set_remote_credentials (b->transport, ph_ice_transport_get_ufrag (a->transport),
                                           ph_ice_transport_get_pwd (a->transport), &error);
  g_assert_no_error (error);
}

/* Host (controlling) and joiner, connected over loopback. */
static void
connect_pair (Peer *host, Peer *joiner)
{
  peer_init (host, joiner, NULL, TRUE);
  peer_init (joiner, host, NULL, FALSE);
  exchange_credentials (host, joiner);

  g_assert_cmpint (ph_ice_transport_get_state (host->transport), ==, PH_ICE_STATE_NEW);
  ph_ice_transport_start (host->transport);
  ph_ice_transport_start (joiner->transport);

  WAIT_FOR (host->state == PH_ICE_STATE_READY && joiner->state == PH_ICE_STATE_READY
            && host->path != NULL && joiner->path != NULL);
}

static void
test_ice_connect (void)
{
  Peer host, joiner;
  g_autoptr (PhPath) path = NULL;
  g_autofree char *description = NULL;

  connect_pair (&host, &joiner);

  g_assert_true (host.gathering_done);
  g_assert_cmpuint (host.n_local_candidates, >, 0);
  for (Peer *p = &host; p != NULL; p = p == &host ? &joiner : NULL)
    {
      g_assert_cmpstr (p->path->local_type, ==, "host");
      g_assert_cmpstr (p->path->remote_type, ==, "host");
      g_assert_cmpstr (p->path->local_transport, ==, "udp");
      g_assert_cmpstr (p->path->local_address, ==, "127.0.0.1");
      g_assert_cmpstr (p->path->remote_address, ==, "127.0.0.1");
      g_assert_false (p->path->relayed);
    }
  /* Each side's remote end is the other's local end. */
  g_assert_cmpuint (host.path->remote_port, ==, joiner.path->local_port);
  g_assert_cmpuint (joiner.path->remote_port, ==, host.path->local_port);

  path = ph_ice_transport_get_path (host.transport);
  g_assert_true (ph_path_equal (path, host.path));
  description = ph_path_describe (path);
  g_assert_cmpstr (description, ==, "direct (host ↔ host, udp)");

  peer_clear (&host);
  peer_clear (&joiner);
}

static void
test_bad_remote_input (void)
{
  g_autoptr (PhIceTransport) transport = ph_ice_transport_new (NULL, TRUE);
  g_autoptr (GError) error = NULL;

  g_assert_false (ph_ice_transport_set_remote_credentials (transport, "ab", "short", &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_INVALID_DESCRIPTION);
  g_clear_error (&error);

  g_assert_false (ph_ice_transport_add_remote_candidate (transport, "candidate:garbage", &error));
  g_assert_nonnull (error);
  g_assert_cmpuint (error->domain, ==, PH_ERROR);
}

static void
blocking_read_thread (gpointer data)
{
  GIOStream *stream = data;
  g_autoptr (GError) error = NULL;
  guint8 buffer[16];
  gssize n;

  n = g_input_stream_read (g_io_stream_get_input_stream (stream), buffer, sizeof buffer, NULL,
                           &error);
  g_assert_cmpint (n, ==, -1);
  g_assert_nonnull (error);
}

static gpointer
blocking_read_thread_func (gpointer data)
{
  blocking_read_thread (data);
  return NULL;
}

/* GTlsConnection reads its base stream blockingly from a worker thread;
 * closing must end such a read instead of leaving the thread hanging. */
static void
test_blocking_read_ends_on_close (void)
{
  Peer host, joiner;
  GIOStream *stream;
  GThread *thread;
  guint8 payload[] = "ping";
  guint8 buffer[16];
  gssize n;
  g_autoptr (GError) error = NULL;

  connect_pair (&host, &joiner);

  /* A blocking read in this thread gets bytes written on the other side. */
  g_assert_cmpint (g_output_stream_write (
                       g_io_stream_get_output_stream (ph_ice_transport_get_stream (host.transport)),
                       payload, sizeof payload, NULL, &error),
                   ==, sizeof payload);
  g_assert_no_error (error);
  stream = ph_ice_transport_get_stream (joiner.transport);
  WAIT_FOR (g_pollable_input_stream_is_readable (
      G_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (stream))));
  n = g_input_stream_read (g_io_stream_get_input_stream (stream), buffer, sizeof buffer, NULL,
                           &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, sizeof payload);
  g_assert_cmpmem (buffer, n, payload, sizeof payload);

  thread = g_thread_new ("reader", blocking_read_thread_func, g_object_ref (stream));
  g_io_stream_close (stream, NULL, &error);
  g_assert_no_error (error);
  g_thread_join (thread);
  g_object_unref (stream);

  peer_clear (&host);
  peer_clear (&joiner);
}

typedef struct
{
  GPollableOutputStream *output;
  gsize left;
  guint8 chunk[64 * 1024];
} Flood;

static gboolean
flood_cb (GObject *stream, gpointer user_data)
{
  Flood *flood = user_data;

  while (flood->left > 0)
    {
      g_autoptr (GError) error = NULL;
      gssize n = g_pollable_output_stream_write_nonblocking (
          flood->output, flood->chunk, MIN (flood->left, sizeof flood->chunk), NULL, &error);

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        return G_SOURCE_CONTINUE;
      g_assert_no_error (error);
      flood->left -= n;
    }
  return G_SOURCE_REMOVE;
}

/* A peer that sends while nobody reads must not grow memory without end:
 * the reader gets at most the bound, then an error. */
static void
test_receive_buffer_bound (void)
{
  Peer host, joiner;
  Flood flood = { 0 };
  GSource *source;
  GInputStream *input;
  g_autofree guint8 *buffer = g_malloc (1024 * 1024);
  g_autoptr (GError) error = NULL;
  gsize received = 0;
  gssize n;

  connect_pair (&host, &joiner);
  flood.output = G_POLLABLE_OUTPUT_STREAM (
      g_io_stream_get_output_stream (ph_ice_transport_get_stream (host.transport)));
  flood.left = PH_NICE_STREAM_MAX_BUFFERED + 1024 * 1024;
  source = g_pollable_output_stream_create_source (flood.output, NULL);
  g_source_set_callback (source, G_SOURCE_FUNC (flood_cb), &flood, NULL);
  g_source_attach (source, NULL);
  WAIT_FOR (flood.left == 0);
  g_source_destroy (source);
  g_source_unref (source);

  input = g_io_stream_get_input_stream (ph_ice_transport_get_stream (joiner.transport));
  for (;;)
    {
      n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (input), buffer,
                                                    1024 * 1024, NULL, &error);
      if (n > 0)
        received += n;
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          g_clear_error (&error);
          WAIT_FOR (g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (input)));
        }
      else
        break;
    }
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_assert_cmpuint (received, <=, PH_NICE_STREAM_MAX_BUFFERED);
  g_assert_cmpuint (received, >, 0);

  peer_clear (&host);
  peer_clear (&joiner);
}

static void
frame_received_cb (PhSecureChannel *channel, const PhFrame *frame, Peer *peer)
{
  PhFrame *copy = ph_frame_new_msg (frame->id, frame->time_ms, frame->text);

  copy->type = frame->type;
  g_ptr_array_add (peer->frames, copy);
}

static void
channel_closed_cb (PhSecureChannel *channel, const GError *error, Peer *peer)
{
  peer->closed = TRUE;
  peer->n_closed++;
  g_clear_error (&peer->closed_error);
  if (error != NULL)
    peer->closed_error = g_error_copy (error);
}

static void
open_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Peer *peer = user_data;

  ph_secure_channel_open_finish (PH_SECURE_CHANNEL (source), result, &peer->open_error);
  peer->open_done = TRUE;
}

static void
make_certificate (Peer *peer, const char *name)
{
  g_autoptr (GError) error = NULL;

  peer->certificate = ph_certificate_generate (name, &error);
  g_assert_no_error (error);
}

static void
start_channel (Peer *peer, gboolean is_server, const char *pin)
{
  peer->channel = ph_secure_channel_new (ph_ice_transport_get_stream (peer->transport), is_server,
                                         peer->certificate, pin);
  g_signal_connect (peer->channel, "frame-received", G_CALLBACK (frame_received_cb), peer);
  g_signal_connect (peer->channel, "closed", G_CALLBACK (channel_closed_cb), peer);
  ph_secure_channel_open_async (peer->channel, NULL, open_cb, peer);
}

/* Channels over a connected pair; pins are right unless a peer is named
 * to get a wrong one. */
static void
open_channels (Peer *host, Peer *joiner, Peer *wrong_pin)
{
  g_autofree char *host_pin = NULL;
  g_autofree char *joiner_pin = NULL;
  g_autoptr (GTlsCertificate) stranger = NULL;
  g_autoptr (GError) error = NULL;

  connect_pair (host, joiner);
  make_certificate (host, "Alice");
  make_certificate (joiner, "Bob");
  stranger = ph_certificate_generate ("Mallory", &error);
  g_assert_no_error (error);

  /* Each side pins the other's certificate. */
  host_pin = ph_certificate_get_fingerprint (wrong_pin == host ? stranger : joiner->certificate);
  joiner_pin = ph_certificate_get_fingerprint (wrong_pin == joiner ? stranger : host->certificate);

  start_channel (host, TRUE, host_pin);
  start_channel (joiner, FALSE, joiner_pin);
  /* A client that rejects the server leaves the server waiting for the
   * rest of the handshake: only the rejecting side is sure to finish. */
  if (wrong_pin != NULL)
    WAIT_FOR (wrong_pin->open_done);
  else
    WAIT_FOR (host->open_done && joiner->open_done);
}

static void
send_msg (Peer *peer, const char *id, const char *text)
{
  g_autoptr (PhFrame) frame = ph_frame_new_msg (id, 1700000000000, text);
  g_autoptr (GError) error = NULL;

  ph_secure_channel_send (peer->channel, frame, &error);
  g_assert_no_error (error);
}

static void
channel_close_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (ph_secure_channel_close_finish (PH_SECURE_CHANNEL (source), result, &error));
  g_assert_no_error (error);
  *(gboolean *)user_data = TRUE;
}

static void
test_secure_channel (void)
{
  Peer host, joiner;
  g_autoptr (GString) big = g_string_new (NULL);
  const char *unicode = "Grüße, 世界! 👋 — “quotes”";
  gboolean close_done = FALSE;
  g_autoptr (GError) error = NULL;
  g_autoptr (PhFrame) late = NULL;

  open_channels (&host, &joiner, NULL);
  g_assert_no_error (host.open_error);
  g_assert_no_error (joiner.open_error);

  while (big->len < 60 * 1024)
    g_string_append_printf (big, "line %zu of a long message\n", big->len);

  send_msg (&host, "h1", "hello from the host");
  send_msg (&host, "h2", big->str);
  send_msg (&host, "h3", unicode);
  send_msg (&joiner, "j1", unicode);
  send_msg (&joiner, "j2", big->str);
  WAIT_FOR (joiner.frames->len == 3 && host.frames->len == 2);

  g_assert_cmpstr (((PhFrame *)joiner.frames->pdata[0])->id, ==, "h1");
  g_assert_cmpstr (((PhFrame *)joiner.frames->pdata[0])->text, ==, "hello from the host");
  g_assert_cmpint (((PhFrame *)joiner.frames->pdata[0])->time_ms, ==, 1700000000000);
  g_assert_cmpstr (((PhFrame *)joiner.frames->pdata[1])->text, ==, big->str);
  g_assert_cmpstr (((PhFrame *)joiner.frames->pdata[2])->text, ==, unicode);
  g_assert_cmpstr (((PhFrame *)host.frames->pdata[0])->text, ==, unicode);
  g_assert_cmpstr (((PhFrame *)host.frames->pdata[1])->text, ==, big->str);

  /* Many small frames, queued at once: all arrive, in order. */
  g_ptr_array_set_size (joiner.frames, 0);
  for (guint i = 0; i < 1000; i++)
    {
      g_autofree char *id = g_strdup_printf ("m%u", i);

      send_msg (&host, id, id);
    }
  WAIT_FOR (joiner.frames->len == 1000);
  for (guint i = 0; i < 1000; i++)
    {
      g_autofree char *id = g_strdup_printf ("m%u", i);

      g_assert_cmpstr (((PhFrame *)joiner.frames->pdata[i])->id, ==, id);
    }
  g_assert_cmpuint (ph_secure_channel_get_queued (host.channel), ==, 0);

  /* A frame queued just before close is still delivered; then the peer
   * sees a clean end. */
  send_msg (&host, "last", "bye for now");
  ph_secure_channel_close_async (host.channel, channel_close_cb, &close_done);
  WAIT_FOR (close_done && joiner.closed && host.closed);
  g_assert_no_error (joiner.closed_error);
  g_assert_no_error (host.closed_error);
  g_assert_cmpstr (((PhFrame *)joiner.frames->pdata[joiner.frames->len - 1])->id, ==, "last");

  late = ph_frame_new_msg ("late", 0, "too late");
  g_assert_false (ph_secure_channel_send (host.channel, late, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_NOT_CONNECTED);
  g_assert_cmpuint (host.n_closed, ==, 1);
  g_assert_cmpuint (joiner.n_closed, ==, 1);

  peer_clear (&host);
  peer_clear (&joiner);
}

static void
check_wrong_pin (gboolean server_has_wrong_pin)
{
  Peer host, joiner;
  Peer *wrong, *right;

  open_channels (&host, &joiner, server_has_wrong_pin ? &host : &joiner);
  wrong = server_has_wrong_pin ? &host : &joiner;
  right = server_has_wrong_pin ? &joiner : &host;

  g_assert_error (wrong->open_error, PH_ERROR, PH_ERROR_SECURITY);
  g_assert_nonnull (strstr (wrong->open_error->message, "intercept"));

  /* The other side either fails its handshake too, or (TLS 1.3 lets a
   * client finish before the server has checked it) believes it is open.
   * What it sends then must go nowhere, and it must end once the rejecting
   * side gives up the connection, as an application does. */
  if (right->open_done && right->open_error == NULL)
    {
      g_autoptr (PhFrame) frame = ph_frame_new_msg ("x", 0, "secret");
      g_autoptr (GError) error = NULL;

      ph_secure_channel_send (right->channel, frame, &error);
      g_assert_no_error (error);
    }
  g_assert_false (wrong->closed);
  g_assert_cmpuint (wrong->frames->len, ==, 0);
  peer_clear (wrong);

  WAIT_FOR (right->open_error != NULL || right->closed_error != NULL);
  g_assert_cmpuint (right->frames->len, ==, 0);

  peer_clear (right);
}

static void
test_wrong_pin_server (void)
{
  check_wrong_pin (TRUE);
}

static void
test_wrong_pin_client (void)
{
  check_wrong_pin (FALSE);
}

static gboolean
accept_any_cb (GTlsConnection *connection, GTlsCertificate *certificate,
               GTlsCertificateFlags errors, gpointer user_data)
{
  return TRUE;
}

static void
raw_handshake_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error);
  g_assert_no_error (error);
  *(gboolean *)user_data = TRUE;
}

static void
raw_written_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error);
  g_assert_no_error (error);
  *(gboolean *)user_data = TRUE;
}

/* Writes one length-prefixed frame body as the peer's TLS layer would. */
static void
raw_send (GIOStream *tls, const char *json)
{
  gsize length = strlen (json);
  g_autofree guint8 *frame = g_malloc (length + 4);
  gboolean written = FALSE;

  frame[0] = length >> 24;
  frame[1] = length >> 16;
  frame[2] = length >> 8;
  frame[3] = length;
  memcpy (frame + 4, json, length);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (tls), frame, length + 4,
                                   G_PRIORITY_DEFAULT, NULL, raw_written_cb, &written);
  WAIT_FOR (written);
}

/* A peer that speaks TLS but not the frame protocol: frames of unknown
 * types are skipped, a malformed one ends the channel with an error. */
static void
test_peer_frames (void)
{
  Peer host, joiner;
  g_autofree char *host_pin = NULL;
  g_autoptr (GIOStream) raw_tls = NULL;
  g_autoptr (GError) error = NULL;
  gboolean handshaken = FALSE;

  connect_pair (&host, &joiner);
  make_certificate (&host, "Alice");
  make_certificate (&joiner, "Bob");
  host_pin = ph_certificate_get_fingerprint (joiner.certificate);
  start_channel (&host, TRUE, host_pin);

  raw_tls = g_initable_new (g_tls_backend_get_client_connection_type (g_tls_backend_get_default ()),
                            NULL, &error, "base-io-stream",
                            ph_ice_transport_get_stream (joiner.transport), "certificate",
                            joiner.certificate, "database", NULL, NULL);
  g_assert_no_error (error);
  g_signal_connect (raw_tls, "accept-certificate", G_CALLBACK (accept_any_cb), NULL);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (raw_tls), G_PRIORITY_DEFAULT, NULL,
                                    raw_handshake_cb, &handshaken);
  WAIT_FOR (handshaken && host.open_done);
  g_assert_no_error (host.open_error);

  raw_send (raw_tls, "{\"type\":\"x-future\",\"colour\":\"blue\"}");
  raw_send (raw_tls, "{\"type\":\"msg\",\"id\":\"a1\",\"seq\":1,\"time\":5,\"text\":\"after\"}");
  WAIT_FOR (host.frames->len == 1);
  g_assert_cmpstr (((PhFrame *)host.frames->pdata[0])->id, ==, "a1");
  g_assert_cmpstr (((PhFrame *)host.frames->pdata[0])->text, ==, "after");
  g_assert_false (host.closed);

  raw_send (raw_tls, "{not json");
  WAIT_FOR (host.closed);
  g_assert_error (host.closed_error, PH_ERROR, PH_ERROR_INVALID_FRAME);
  g_assert_cmpuint (host.frames->len, ==, 1);
  g_assert_cmpuint (host.n_closed, ==, 1);

  g_clear_object (&raw_tls);
  peer_clear (&host);
  peer_clear (&joiner);
}

/* With no TURN server there is no relay candidate, so a relay-only peer
 * can never connect and must say so instead of waiting forever. */
static void
test_relay_only_without_turn (void)
{
  Peer host, joiner;
  g_autoptr (PhIceConfig) relay_only = ph_ice_config_new ();

  relay_only->relay_only = TRUE;
  peer_init (&host, &joiner, relay_only, TRUE);
  peer_init (&joiner, &host, NULL, FALSE);
  exchange_credentials (&host, &joiner);
  ph_ice_transport_start (host.transport);
  ph_ice_transport_start (joiner.transport);

  WAIT_FOR (host.state == PH_ICE_STATE_FAILED);
  g_assert_true (host.gathering_done);
  g_assert_cmpuint (host.n_local_candidates, ==, 0);
  g_assert_false (host.ever_ready);
  g_assert_false (joiner.ever_ready);
  g_assert_null (host.path);

  peer_clear (&host);
  peer_clear (&joiner);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/channel/ice-connect", test_ice_connect);
  g_test_add_func ("/channel/bad-remote-input", test_bad_remote_input);
  g_test_add_func ("/channel/blocking-read-ends-on-close", test_blocking_read_ends_on_close);
  g_test_add_func ("/channel/receive-buffer-bound", test_receive_buffer_bound);
  g_test_add_func ("/channel/secure-channel", test_secure_channel);
  g_test_add_func ("/channel/wrong-pin-server", test_wrong_pin_server);
  g_test_add_func ("/channel/wrong-pin-client", test_wrong_pin_client);
  g_test_add_func ("/channel/peer-frames", test_peer_frames);
  g_test_add_func ("/channel/relay-only-without-turn", test_relay_only_without_turn);

  return g_test_run ();
}
