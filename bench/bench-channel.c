/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "bench-channel"

#include "config.h"

#include <locale.h>
#include <string.h>

#include <nice.h>

#include "ph-certificate.h"
#include "ph-frame-decoder.h"
#include "ph-ice-transport-private.h"
#include "ph-secure-channel.h"

/* Measures, in one run and on loopback, what the secure channel costs over
 * bare pseudo-TCP: round trips of small messages and one-way bulk
 * throughput, first with two raw reliable NiceAgents, then with
 * PhIceTransport + PhSecureChannel frames. Prints numbers; never fails on
 * time. */

#define PING_SIZE 64
#define BULK_BYTES (32 * 1024 * 1024)
#define RAW_CHUNK (64 * 1024)
#define CHANNEL_HIGH_WATER (512 * 1024)
/* Only a run where nothing at all happens for this long is given up: the
 * benchmark reports speed, it never fails for being slow. */
#define STALL_TIMEOUT_S 60

static guint n_pings = 2000;

/* Bumped by every callback that shows the run moving. */
static guint64 progress;

static gboolean
tick_cb (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

static void
iterate_until (gboolean *done, const char *what)
{
  guint64 seen = progress;
  gint64 last_change = g_get_monotonic_time ();
  guint tick = g_timeout_add_seconds (1, tick_cb, NULL);

  while (!*done)
    {
      g_main_context_iteration (NULL, TRUE);
      if (progress != seen)
        {
          seen = progress;
          last_change = g_get_monotonic_time ();
        }
      else if (g_get_monotonic_time () - last_change > STALL_TIMEOUT_S * G_USEC_PER_SEC)
        g_error ("Nothing happened for %d s while waiting for %s", STALL_TIMEOUT_S, what);
    }
  g_source_remove (tick);
}

static int
compare_int64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *)a;
  gint64 y = *(const gint64 *)b;

  return x < y ? -1 : x > y;
}

typedef struct
{
  double median_us;
  double p90_us;
} RoundTrip;

static RoundTrip
summarise (GArray *samples)
{
  RoundTrip r;

  g_array_sort (samples, compare_int64);
  r.median_us = g_array_index (samples, gint64, samples->len / 2);
  r.p90_us = g_array_index (samples, gint64, samples->len * 9 / 10);
  return r;
}

/* Raw reliable agents */

typedef struct _RawPeer RawPeer;

struct _RawPeer
{
  NiceAgent *agent;
  guint stream_id;
  RawPeer *other;
  gboolean gathered;
  gboolean ready;

  gsize received;      /* bytes in the current phase */
  GByteArray *pending; /* bytes nice_agent_send did not take yet */
  gsize bulk_left;     /* bytes the bulk sender still has to hand over */
};

typedef struct
{
  RawPeer a, b;
  enum
  {
    RAW_IDLE,
    RAW_PING,
    RAW_BULK
  } phase;
  GArray *samples;
  gint64 sent_at;
  gint64 bulk_start;
  gint64 bulk_end;
  gboolean both_gathered;
  gboolean both_ready;
  gboolean done;
} RawBench;

static RawBench raw;
static guint8 chunk[RAW_CHUNK];

static void
raw_flush (RawPeer *peer)
{
  while (peer->pending->len > 0)
    {
      int sent = nice_agent_send (peer->agent, peer->stream_id, 1, peer->pending->len,
                                  (const char *)peer->pending->data);
      if (sent <= 0)
        return;
      g_byte_array_remove_range (peer->pending, 0, sent);
    }
  while (peer->bulk_left > 0)
    {
      int sent = nice_agent_send (peer->agent, peer->stream_id, 1, MIN (peer->bulk_left, RAW_CHUNK),
                                  (const char *)chunk);
      if (sent <= 0)
        return;
      peer->bulk_left -= sent;
    }
}

static void
raw_send (RawPeer *peer, gsize size)
{
  g_byte_array_append (peer->pending, chunk, size);
  raw_flush (peer);
}

static void
raw_recv_cb (NiceAgent *agent, guint stream_id, guint component_id, guint len, gchar *buf,
             gpointer user_data)
{
  RawPeer *peer = user_data;

  peer->received += len;
  progress++;
  if (raw.phase == RAW_PING)
    {
      if (peer->received < PING_SIZE)
        return;
      peer->received -= PING_SIZE;
      if (peer == &raw.b)
        raw_send (peer, PING_SIZE);
      else
        {
          gint64 now = g_get_monotonic_time ();

          g_array_append_val (raw.samples, (gint64){ now - raw.sent_at });
          if (raw.samples->len == n_pings)
            raw.done = TRUE;
          else
            {
              raw.sent_at = g_get_monotonic_time ();
              raw_send (peer, PING_SIZE);
            }
        }
    }
  else if (raw.phase == RAW_BULK && peer->received >= BULK_BYTES)
    {
      raw.bulk_end = g_get_monotonic_time ();
      raw.done = TRUE;
    }
}

static void
raw_writable_cb (NiceAgent *agent, guint stream_id, guint component_id, RawPeer *peer)
{
  raw_flush (peer);
}

static void
raw_gathering_done_cb (NiceAgent *agent, guint stream_id, RawPeer *peer)
{
  peer->gathered = TRUE;
  raw.both_gathered = raw.a.gathered && raw.b.gathered;
  progress++;
}

static void
raw_state_cb (NiceAgent *agent, guint stream_id, guint component_id, guint state, RawPeer *peer)
{
  if (state == NICE_COMPONENT_STATE_READY)
    peer->ready = TRUE;
  raw.both_ready = raw.a.ready && raw.b.ready;
  progress++;
}

static void
raw_peer_init (RawPeer *peer, RawPeer *other, gboolean controlling)
{
  NiceAddress address;

  peer->other = other;
  peer->pending = g_byte_array_new ();
  peer->agent = nice_agent_new_full (NULL, NICE_COMPATIBILITY_RFC5245, NICE_AGENT_OPTION_RELIABLE);
  g_object_set (peer->agent, "controlling-mode", controlling, "upnp", FALSE, "ice-tcp", FALSE,
                NULL);
  nice_address_init (&address);
  nice_address_set_from_string (&address, "127.0.0.1");
  nice_agent_add_local_address (peer->agent, &address);
  peer->stream_id = nice_agent_add_stream (peer->agent, 1);
  g_signal_connect (peer->agent, "candidate-gathering-done", G_CALLBACK (raw_gathering_done_cb),
                    peer);
  g_signal_connect (peer->agent, "component-state-changed", G_CALLBACK (raw_state_cb), peer);
  g_signal_connect (peer->agent, "reliable-transport-writable", G_CALLBACK (raw_writable_cb), peer);
  nice_agent_attach_recv (peer->agent, peer->stream_id, 1, g_main_context_default (), raw_recv_cb,
                          peer);
  nice_agent_gather_candidates (peer->agent, peer->stream_id);
}

static void
raw_tell (RawPeer *from, RawPeer *to)
{
  g_autofree char *ufrag = NULL;
  g_autofree char *pwd = NULL;
  GSList *candidates;

  nice_agent_get_local_credentials (from->agent, from->stream_id, &ufrag, &pwd);
  nice_agent_set_remote_credentials (to->agent, to->stream_id, ufrag, pwd);
  candidates = nice_agent_get_local_candidates (from->agent, from->stream_id, 1);
  nice_agent_set_remote_candidates (to->agent, to->stream_id, 1, candidates);
  g_slist_free_full (candidates, (GDestroyNotify)nice_candidate_free);
}

static void
raw_peer_clear (RawPeer *peer)
{
  nice_agent_remove_stream (peer->agent, peer->stream_id);
  g_clear_object (&peer->agent);
  g_clear_pointer (&peer->pending, g_byte_array_unref);
}

static void
run_raw (RoundTrip *rtt, double *mb_per_s)
{
  raw_peer_init (&raw.a, &raw.b, TRUE);
  raw_peer_init (&raw.b, &raw.a, FALSE);
  iterate_until (&raw.both_gathered, "raw agents to gather");
  raw_tell (&raw.a, &raw.b);
  raw_tell (&raw.b, &raw.a);
  iterate_until (&raw.both_ready, "raw agents to connect");

  raw.samples = g_array_new (FALSE, FALSE, sizeof (gint64));
  raw.phase = RAW_PING;
  raw.done = FALSE;
  raw.sent_at = g_get_monotonic_time ();
  raw_send (&raw.a, PING_SIZE);
  iterate_until (&raw.done, "raw round trips");
  *rtt = summarise (raw.samples);
  g_array_unref (raw.samples);

  raw.phase = RAW_BULK;
  raw.done = FALSE;
  raw.b.received = 0;
  raw.bulk_start = g_get_monotonic_time ();
  raw.a.bulk_left = BULK_BYTES;
  raw_flush (&raw.a);
  iterate_until (&raw.done, "raw bulk transfer");
  *mb_per_s = (double)BULK_BYTES / (raw.bulk_end - raw.bulk_start);

  raw_peer_clear (&raw.a);
  raw_peer_clear (&raw.b);
}

/* The secure channel */

typedef struct _Peer Peer;

struct _Peer
{
  PhIceTransport *transport;
  Peer *other;
  gboolean ready;
  GTlsCertificate *certificate;
  PhSecureChannel *channel;
  gboolean opened;
  gsize received;
};

typedef struct
{
  Peer host, joiner;
  gboolean pinging;
  gboolean bulk;
  GArray *samples;
  gint64 sent_at;
  char *ping_text;
  GPtrArray *bulk_frames; /* msg frames of 16-60 KiB, sent round-robin */
  gsize bulk_queued;      /* text bytes handed to the channel */
  guint bulk_next;
  gint64 bulk_start;
  gint64 bulk_end;
  gboolean both_ready;
  gboolean both_open;
  gboolean done;
} ChannelBench;

static ChannelBench bench;

static void
local_candidate_cb (PhIceTransport *transport, const char *candidate, Peer *peer)
{
  g_autoptr (GError) error = NULL;

  if (!ph_ice_transport_add_remote_candidate (peer->other->transport, candidate, &error))
    g_error ("%s", error->message);
}

static void
gathering_done_cb (PhIceTransport *transport, Peer *peer)
{
  ph_ice_transport_remote_gathering_done (peer->other->transport);
}

static void
state_changed_cb (PhIceTransport *transport, int state, Peer *peer)
{
  if (state == PH_ICE_STATE_READY)
    peer->ready = TRUE;
  bench.both_ready = bench.host.ready && bench.joiner.ready;
  progress++;
}

static void
send_text (Peer *peer, const char *text)
{
  g_autoptr (PhFrame) frame = ph_frame_new_msg ("p", 0, text);
  g_autoptr (GError) error = NULL;

  if (!ph_secure_channel_send (peer->channel, frame, &error))
    g_error ("%s", error->message);
}

static void
frame_received_cb (PhSecureChannel *channel, const PhFrame *frame, Peer *peer)
{
  progress++;
  if (bench.pinging)
    {
      if (peer == &bench.joiner)
        send_text (peer, frame->text);
      else
        {
          gint64 now = g_get_monotonic_time ();

          g_array_append_val (bench.samples, (gint64){ now - bench.sent_at });
          if (bench.samples->len == n_pings)
            bench.done = TRUE;
          else
            {
              bench.sent_at = g_get_monotonic_time ();
              send_text (peer, bench.ping_text);
            }
        }
    }
  else if (bench.bulk)
    {
      peer->received += strlen (frame->text);
      if (peer->received >= BULK_BYTES)
        {
          bench.bulk_end = g_get_monotonic_time ();
          bench.done = TRUE;
        }
    }
}

static void
channel_closed_cb (PhSecureChannel *channel, const GError *error, Peer *peer)
{
  if (!bench.done)
    g_error ("The channel closed during the benchmark: %s",
             error != NULL ? error->message : "clean end");
}

/* Keeps the sender's queue topped up; pseudo-TCP and TLS drain it. Runs
 * whenever nothing else is ready. */
static gboolean
refill_cb (gpointer user_data)
{
  PhSecureChannel *channel = bench.host.channel;
  g_autoptr (GError) error = NULL;

  while (bench.bulk_queued < BULK_BYTES
         && ph_secure_channel_get_queued (channel) < CHANNEL_HIGH_WATER)
    {
      PhFrame *frame
          = g_ptr_array_index (bench.bulk_frames, bench.bulk_next++ % bench.bulk_frames->len);

      if (!ph_secure_channel_send (channel, frame, &error))
        g_error ("%s", error->message);
      bench.bulk_queued += strlen (frame->text);
    }
  return bench.bulk_queued < BULK_BYTES ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void
open_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Peer *peer = user_data;
  g_autoptr (GError) error = NULL;

  if (!ph_secure_channel_open_finish (PH_SECURE_CHANNEL (source), result, &error))
    g_error ("Handshake failed: %s", error->message);
  peer->opened = TRUE;
  bench.both_open = bench.host.opened && bench.joiner.opened;
  progress++;
}

static void
peer_init (Peer *peer, Peer *other, gboolean controlling, const char *name)
{
  static const char *const loopback[] = { "127.0.0.1", NULL };
  g_autoptr (GError) error = NULL;

  peer->other = other;
  peer->transport = ph_ice_transport_new (NULL, controlling);
  if (!ph_ice_transport_set_local_addresses (peer->transport, loopback, &error))
    g_error ("%s", error->message);
  g_signal_connect (peer->transport, "local-candidate", G_CALLBACK (local_candidate_cb), peer);
  g_signal_connect (peer->transport, "gathering-done", G_CALLBACK (gathering_done_cb), peer);
  g_signal_connect (peer->transport, "state-changed", G_CALLBACK (state_changed_cb), peer);
  peer->certificate = ph_certificate_generate (name, &error);
  if (peer->certificate == NULL)
    g_error ("%s", error->message);
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

  g_signal_handlers_disconnect_by_data (peer->channel, peer);
  g_clear_object (&peer->channel);
  ph_ice_transport_close_async (peer->transport, transport_closed_cb, &closed);
  iterate_until (&closed, "the transport to close");
  g_clear_object (&peer->transport);
  g_clear_object (&peer->certificate);
}

static void
run_channel (RoundTrip *rtt, double *mb_per_s, double *ice_ms, double *tls_ms)
{
  g_autofree char *host_pin = NULL;
  g_autofree char *joiner_pin = NULL;
  g_autoptr (GError) error = NULL;
  gint64 start;

  peer_init (&bench.host, &bench.joiner, TRUE, "Host");
  peer_init (&bench.joiner, &bench.host, FALSE, "Joiner");

  start = g_get_monotonic_time ();
  ph_ice_transport_set_remote_credentials (
      bench.host.transport, ph_ice_transport_get_ufrag (bench.joiner.transport),
      ph_ice_transport_get_pwd (bench.joiner.transport), &error);
  g_assert_no_error (error);
  ph_ice_transport_set_remote_credentials (bench.joiner.transport,
                                           ph_ice_transport_get_ufrag (bench.host.transport),
                                           ph_ice_transport_get_pwd (bench.host.transport), &error);
  g_assert_no_error (error);
  ph_ice_transport_start (bench.host.transport);
  ph_ice_transport_start (bench.joiner.transport);
  iterate_until (&bench.both_ready, "ICE");
  *ice_ms = (g_get_monotonic_time () - start) / 1000.0;

  start = g_get_monotonic_time ();
  host_pin = ph_certificate_get_fingerprint (bench.joiner.certificate);
  joiner_pin = ph_certificate_get_fingerprint (bench.host.certificate);
  bench.host.channel = ph_secure_channel_new (ph_ice_transport_get_stream (bench.host.transport),
                                              TRUE, bench.host.certificate, host_pin);
  bench.joiner.channel
      = ph_secure_channel_new (ph_ice_transport_get_stream (bench.joiner.transport), FALSE,
                               bench.joiner.certificate, joiner_pin);
  for (Peer *p = &bench.host; p != NULL; p = p == &bench.host ? &bench.joiner : NULL)
    {
      g_signal_connect (p->channel, "frame-received", G_CALLBACK (frame_received_cb), p);
      g_signal_connect (p->channel, "closed", G_CALLBACK (channel_closed_cb), p);
      ph_secure_channel_open_async (p->channel, NULL, open_cb, p);
    }
  iterate_until (&bench.both_open, "the TLS handshake");
  *tls_ms = (g_get_monotonic_time () - start) / 1000.0;

  bench.samples = g_array_new (FALSE, FALSE, sizeof (gint64));
  bench.ping_text = g_strnfill (PING_SIZE, 'x');
  bench.pinging = TRUE;
  bench.sent_at = g_get_monotonic_time ();
  send_text (&bench.host, bench.ping_text);
  iterate_until (&bench.done, "channel round trips");
  bench.pinging = FALSE;
  *rtt = summarise (bench.samples);
  g_array_unref (bench.samples);
  g_free (bench.ping_text);

  bench.bulk_frames = g_ptr_array_new_with_free_func ((GDestroyNotify)ph_frame_free);
  for (gsize size = 16 * 1024; size <= 60 * 1024; size += 4 * 1024)
    {
      g_autofree char *text = g_strnfill (size, 'b');

      g_ptr_array_add (bench.bulk_frames, ph_frame_new_msg ("bulk", 0, text));
    }
  bench.done = FALSE;
  bench.bulk = TRUE;
  bench.bulk_start = g_get_monotonic_time ();
  g_idle_add (refill_cb, NULL);
  iterate_until (&bench.done, "channel bulk transfer");
  *mb_per_s = (double)bench.joiner.received / (bench.bulk_end - bench.bulk_start);
  g_ptr_array_unref (bench.bulk_frames);

  peer_clear (&bench.host);
  peer_clear (&bench.joiner);
}

/* The JSON frame codec on its own, no I/O: how much of the channel's cost
 * is encoding and parsing messages rather than TLS and transport. */
static gsize
codec_round_trip (const PhFrame *frame)
{
  g_autoptr (GBytes) bytes = ph_frame_encode (frame, NULL);
  g_autoptr (PhFrameDecoder) decoder = ph_frame_decoder_new ();
  g_autoptr (PhFrame) parsed = NULL;
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);

  if (!ph_frame_decoder_push (decoder, data, size, NULL)
      || (parsed = ph_frame_decoder_pop (decoder, NULL)) == NULL)
    g_error ("The frame codec could not read its own frame");
  return strlen (parsed->text);
}

static void
measure_codec (double *small_us, double *bulk_mb_per_s)
{
  g_autofree char *ping_text = g_strnfill (PING_SIZE, 'x');
  g_autoptr (PhFrame) ping = ph_frame_new_msg ("p", 0, ping_text);
  gsize bytes = 0;
  gint64 start;

  start = g_get_monotonic_time ();
  for (guint i = 0; i < n_pings; i++)
    codec_round_trip (ping);
  *small_us = (double)(g_get_monotonic_time () - start) / n_pings;

  start = g_get_monotonic_time ();
  for (gsize size = 16 * 1024; bytes < BULK_BYTES / 4;
       size = size >= 60 * 1024 ? 16 * 1024 : size + 4 * 1024)
    {
      g_autofree char *text = g_strnfill (size, 'b');
      g_autoptr (PhFrame) frame = ph_frame_new_msg ("bulk", 0, text);

      bytes += codec_round_trip (frame);
    }
  *bulk_mb_per_s = (double)bytes / (g_get_monotonic_time () - start);
}

int
main (int argc, char *argv[])
{
  RoundTrip raw_rtt, channel_rtt;
  double raw_mbps, channel_mbps, ice_ms, tls_ms, codec_us, codec_mbps;

  setlocale (LC_ALL, "");

  if (argc > 1)
    n_pings = MAX (10, (guint)g_ascii_strtoull (argv[1], NULL, 10));

  run_raw (&raw_rtt, &raw_mbps);
  run_channel (&channel_rtt, &channel_mbps, &ice_ms, &tls_ms);
  measure_codec (&codec_us, &codec_mbps);

  g_print ("Loopback, %u round trips of %d bytes, %d MiB one way\n", n_pings, PING_SIZE,
           BULK_BYTES / (1024 * 1024));
  g_print ("  raw pseudo-TCP:  round trip median %7.1f µs  p90 %7.1f µs  bulk %7.1f MB/s\n",
           raw_rtt.median_us, raw_rtt.p90_us, raw_mbps);
  g_print ("  secure channel:  round trip median %7.1f µs  p90 %7.1f µs  bulk %7.1f MB/s\n",
           channel_rtt.median_us, channel_rtt.p90_us, channel_mbps);
  g_print ("  channel / raw:   round trip %.2f×  throughput %.0f%%   (targets ≤ 2× and ≥ 50%%)\n",
           channel_rtt.median_us / raw_rtt.median_us, 100.0 * channel_mbps / raw_mbps);
  g_print ("  setup:           ICE %.1f ms  TLS handshake %.1f ms\n", ice_ms, tls_ms);
  g_print ("  of which JSON:   encode + parse %.1f µs per small message (two per round trip), "
           "%.1f MB/s for 16-60 KiB\n",
           codec_us, codec_mbps);
  g_print ("bench-channel raw_rtt_us=%.1f raw_mbps=%.1f channel_rtt_us=%.1f channel_mbps=%.1f "
           "rtt_ratio=%.2f throughput_ratio=%.2f ice_ms=%.1f tls_ms=%.1f codec_us=%.1f "
           "codec_mbps=%.1f\n",
           raw_rtt.median_us, raw_mbps, channel_rtt.median_us, channel_mbps,
           channel_rtt.median_us / raw_rtt.median_us, channel_mbps / raw_mbps, ice_ms, tls_ms,
           codec_us, codec_mbps);
  return 0;
}
