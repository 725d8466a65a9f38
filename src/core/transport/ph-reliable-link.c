/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-reliable-link"

#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "ph-reliable-link.h"

/* Why not pseudo-TCP: libnice's pseudotcp.c waits at least 1 s before
 * retransmitting (MIN_RTO 1000) and does not count a duplicate ACK that
 * carries data, so in a chat, where both sides always have acknowledgements
 * to send, nearly every lost packet cost a full second or more. Measured
 * in the NAT lab at 40 ms round trip and ~6% loss: 1,000 messages each
 * way took 0.54–4.2 s against 0.2 s without loss.
 *
 * This link numbers packets, not bytes, and every packet carries a
 * cumulative acknowledgement plus a bitmap of the 64 packets after it, so
 * the sender learns of a loss from the next packet that arrives (as with
 * SACK and RACK, RFC 8985) and resends it within about one round trip; a
 * timer, set from the measured round trip (RFC 6298) with a 10 ms floor,
 * covers the last packets of a burst. Congestion control is Reno-like on
 * packets: slow start, then a step down per window of losses that look
 * like congestion. docs/protocol.md, "The reliable link", has the
 * numbers and why.
 *
 * Packet: kind (1), reserved (1), window (2), seq (4), ack (4), sack (8),
 * payload; numbers big-endian. Each side numbers from its own random
 * start, announced in the sealed session description, so that someone
 * off the path who can guess the addresses and ports still cannot make
 * a packet the link takes (RFC 6528's reasoning for TCP); a packet whose
 * seq or ack is outside the window is refused before it changes
 * anything. */

#define HEADER_SIZE 20
#define MAX_PAYLOAD (PH_RELIABLE_LINK_MAX_PACKET - HEADER_SIZE)
/* Packets in flight, and held out of order. More overflowed the peer's UDP
 * receive buffer on loopback (a 1,200-byte datagram costs ~2.3 KB of it). */
#define WINDOW 64
#define SACK_BITS 64
#define SEND_BUFFER (WINDOW * MAX_PAYLOAD)
#define INITIAL_CWND 10.0
/* On a loss with the queue building up (round trip above its floor), the
 * window shrinks by CUBIC's factor (RFC 9438), never below the initial
 * window, which a chat rarely fills. A loss while the round trip sits at
 * its floor found no queue to overflow: a random loss, as on Wi-Fi, which
 * leaves the window alone (TCP Veno's reasoning, Fu & Liew 2003); cutting
 * it on every such loss made a burst of messages crawl at 5% loss. */
#define BACKOFF_FACTOR 0.7
#define MIN_CWND 2.0
#define QUEUE_FREE_RTT(min_rtt) ((min_rtt)*5 / 4 + 2 * G_TIME_SPAN_MILLISECOND)
/* ...unless losses are frequent: a shallow queue overflows before the round
 * trip grows, and then only the loss rate tells. */
#define RANDOM_LOSS_RATE_MAX 0.1
#define LOSS_RATE_GAIN (1.0 / 64)
#define REORDER_PACKETS 3 /* later packets delivered before one counts as lost */
#define INITIAL_RTO (500 * G_TIME_SPAN_MILLISECOND)
#define MIN_RTO (10 * G_TIME_SPAN_MILLISECOND)
#define MAX_RTO (2 * G_TIME_SPAN_SECOND)
#define ACK_DELAY G_TIME_SPAN_MILLISECOND /* for a lone packet in order */
/* How late an acknowledgement may come on top of the round trip before
 * the probe timer fires: the peer acknowledges from its main loop, which in
 * the desktop app can be busy drawing for tens of milliseconds (QUIC's
 * max_ack_delay, RFC 9002 6.2.1). Without it, a loopback chat with the app
 * resent one packet in ten for nothing. */
#define PEER_ACK_DELAY (25 * G_TIME_SPAN_MILLISECOND)

enum
{
  KIND_DATA = 0xd1,
  KIND_ACK = 0xd2,
  KIND_FIN = 0xd3,
  KIND_GONE = 0xd4, /* nothing more will come, not even resent: seq is the count sent */
};

typedef struct
{
  guint8 *payload;
  guint16 length;
  gboolean fin;
  gboolean acked;
  gboolean lost; /* waiting to go out again */
  gboolean retransmitted;
  gint64 sent_at; /* of the last transmission */
  guint64 order;  /* of the last transmission, among all of them */
} Outgoing;

typedef struct
{
  guint8 *payload; /* NULL: not here yet */
  guint16 length;
  gboolean fin;
  gboolean present;
} Held;

struct _PhReliableLink
{
  /* Sending: packets [snd_una, snd_next) sit in @sent, by seq % WINDOW. */
  GByteArray *unsent;
  gboolean finish_requested;
  gboolean fin_sent;
  Outgoing sent[WINDOW];
  guint32 snd_una;
  guint32 snd_next;
  guint in_flight; /* sent, neither acknowledged nor given up as lost */
  guint lost;      /* given up as lost, not sent again yet */
  gsize buffered;  /* payload bytes in @sent */
  guint32 highest_acked;
  gboolean any_acked;
  guint64 next_order;
  gint64 last_sent_at;
  guint64 latest_delivered_order; /* RACK: the newest transmission known delivered */
  gint64 loss_deadline;           /* when a packet sent before it counts as lost, or -1 */
  double cwnd;
  double ssthresh;
  guint32 recovery_end; /* losses below it belong to the congestion event we had */
  gint64 srtt;          /* 0 until the first sample */
  gint64 rttvar;
  gint64 latest_rtt;
  gint64 min_rtt;
  double loss_rate; /* moving average over about the last 64 packets */
  guint backoff;
  guint peer_window;
  guint64 transmissions; /* data and FIN packets, first copies and again */
  guint64 retransmissions;
  guint64 refused;
  gboolean in_use; /* wrote, sent or took something: the numbers are fixed */

  /* Receiving: packets [rcv_next, rcv_next + WINDOW) in @held. */
  Held held[WINDOW];
  guint32 rcv_next;
  gboolean peer_finished;
  gboolean peer_gone;   /* it said KIND_GONE */
  guint32 peer_sent;    /* how many packets it had sent then */
  guint held_count;     /* packets in @held, waiting for a gap to fill */
  gboolean ack_due;     /* send an acknowledgement now */
  guint unacknowledged; /* in-order packets since our last acknowledgement */
  gint64 ack_deadline;  /* when a delayed acknowledgement goes, or -1 */

  GQueue wire; /* GBytes */
};

static gboolean
seq_before (guint32 a, guint32 b)
{
  return (gint32)(a - b) < 0;
}

PhReliableLink *
ph_reliable_link_new (void)
{
  PhReliableLink *self = g_new0 (PhReliableLink, 1);

  self->unsent = g_byte_array_new ();
  self->cwnd = INITIAL_CWND;
  self->ssthresh = WINDOW;
  self->peer_window = WINDOW;
  self->loss_deadline = -1;
  self->ack_deadline = -1;
  g_queue_init (&self->wire);
  return self;
}

void
ph_reliable_link_set_initial_numbers (PhReliableLink *self, guint32 send_isn, guint32 receive_isn)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (!self->in_use);

  self->snd_una = self->snd_next = send_isn;
  self->highest_acked = send_isn;
  /* Losses before it would be taken for an old congestion event. */
  self->recovery_end = send_isn;
  self->rcv_next = receive_isn;
  self->peer_sent = receive_isn;
}

void
ph_reliable_link_free (PhReliableLink *self)
{
  if (self == NULL)
    return;
  for (guint i = 0; i < WINDOW; i++)
    {
      g_free (self->sent[i].payload);
      g_free (self->held[i].payload);
    }
  g_byte_array_unref (self->unsent);
  g_queue_clear_full (&self->wire, (GDestroyNotify)g_bytes_unref);
  g_free (self);
}

static gint64
rto (PhReliableLink *self)
{
  gint64 base = self->srtt == 0 ? INITIAL_RTO
                                : self->srtt + MAX (4 * self->rttvar, 10 * G_TIME_SPAN_MILLISECOND)
                                      + PEER_ACK_DELAY;

  base = CLAMP (base, MIN_RTO, MAX_RTO);
  return MIN (base << MIN (self->backoff, 6u), MAX_RTO);
}

/* The header every packet carries: what we have received so far. */
static void
put_header (PhReliableLink *self, guint8 *packet, guint8 kind, guint32 seq)
{
  guint64 sack = 0;
  guint32 ack = self->rcv_next;
  guint16 window = WINDOW;

  for (guint i = 0; i < SACK_BITS; i++)
    if (self->held[(ack + 1 + i) % WINDOW].present)
      sack |= G_GUINT64_CONSTANT (1) << i;

  packet[0] = kind;
  packet[1] = 0;
  packet[2] = window >> 8;
  packet[3] = window & 0xff;
  for (guint i = 0; i < 4; i++)
    {
      packet[4 + i] = seq >> (24 - 8 * i);
      packet[8 + i] = ack >> (24 - 8 * i);
    }
  for (guint i = 0; i < 8; i++)
    packet[12 + i] = sack >> (56 - 8 * i);
  self->ack_due = FALSE;
  self->unacknowledged = 0;
  self->ack_deadline = -1;
}

static void
transmit (PhReliableLink *self, guint32 seq, gint64 now)
{
  Outgoing *out = &self->sent[seq % WINDOW];
  guint8 *packet = g_malloc (HEADER_SIZE + out->length);

  put_header (self, packet, out->fin ? KIND_FIN : KIND_DATA, seq);
  if (out->length > 0)
    memcpy (packet + HEADER_SIZE, out->payload, out->length);
  g_queue_push_tail (&self->wire, g_bytes_new_take (packet, HEADER_SIZE + out->length));
  out->sent_at = self->last_sent_at = now;
  out->order = self->next_order++;
  self->transmissions++;
  self->in_flight++;
}

/* Puts on the wire lost packets first, then new ones, as far as the
 * congestion window allows, else a bare acknowledgement if one is owed. */
static void
flush (PhReliableLink *self, gint64 now)
{
  guint limit = (guint)MIN (self->cwnd, (double)self->peer_window);

  for (guint32 seq = self->snd_una;
       self->lost > 0 && seq_before (seq, self->snd_next) && self->in_flight < limit; seq++)
    {
      Outgoing *out = &self->sent[seq % WINDOW];

      if (out->acked || !out->lost)
        continue;
      out->lost = FALSE;
      self->lost--;
      out->retransmitted = TRUE;
      self->retransmissions++;
      transmit (self, seq, now);
    }

  while (self->in_flight < limit && self->snd_next - self->snd_una < WINDOW
         && (self->unsent->len > 0 || (self->finish_requested && !self->fin_sent)))
    {
      Outgoing *out = &self->sent[self->snd_next % WINDOW];
      guint length = MIN (self->unsent->len, MAX_PAYLOAD);

      memset (out, 0, sizeof *out);
      out->length = length;
      if (length > 0)
        {
          out->payload = g_memdup2 (self->unsent->data, length);
          g_byte_array_remove_range (self->unsent, 0, length);
          self->buffered += length;
        }
      else
        out->fin = self->fin_sent = TRUE;
      transmit (self, self->snd_next++, now);
    }

  if (self->ack_due)
    {
      guint8 *packet = g_malloc (HEADER_SIZE);

      put_header (self, packet, KIND_ACK, self->snd_next);
      g_queue_push_tail (&self->wire, g_bytes_new_take (packet, HEADER_SIZE));
    }
}

gsize
ph_reliable_link_write (PhReliableLink *self, const guint8 *data, gsize length, gint64 now)
{
  gsize taken;

  g_return_val_if_fail (self != NULL, 0);
  g_return_val_if_fail (!self->finish_requested, 0);

  self->in_use = TRUE;
  taken = MIN (length, ph_reliable_link_get_send_space (self));
  g_byte_array_append (self->unsent, data, taken);
  flush (self, now);
  return taken;
}

gsize
ph_reliable_link_get_send_space (PhReliableLink *self)
{
  gsize used = self->unsent->len + self->buffered;

  return used < SEND_BUFFER ? SEND_BUFFER - used : 0;
}

void
ph_reliable_link_finish (PhReliableLink *self, gint64 now)
{
  g_return_if_fail (self != NULL);

  if (self->finish_requested)
    return;
  self->in_use = TRUE;
  self->finish_requested = TRUE;
  flush (self, now);
}

/* Returns whether @seq was news. */
static gboolean
acknowledge (PhReliableLink *self, guint32 seq, gint64 now, gint64 *rtt_sample)
{
  Outgoing *out = &self->sent[seq % WINDOW];

  if (out->acked)
    return FALSE;
  out->acked = TRUE;
  if (out->lost)
    self->lost--;
  else
    self->in_flight--;
  out->lost = FALSE;
  self->buffered -= out->length;
  g_clear_pointer (&out->payload, g_free);
  /* Karn: a resent packet's acknowledgement could be for either copy. */
  if (!out->retransmitted)
    *rtt_sample = now - out->sent_at;
  /* An acknowledgement sooner than the shortest round trip after resending
   * is for the first copy: it says nothing about what was sent since
   * (RFC 8985, 6.2 step 2). */
  if (!out->retransmitted || now - out->sent_at >= self->min_rtt)
    self->latest_delivered_order = MAX (self->latest_delivered_order, out->order + 1);
  if (!self->any_acked || seq_before (self->highest_acked, seq))
    self->highest_acked = seq;
  self->any_acked = TRUE;

  self->loss_rate -= self->loss_rate * LOSS_RATE_GAIN;
  if (self->cwnd < self->ssthresh)
    self->cwnd += 1;
  else
    self->cwnd += 1 / self->cwnd;
  self->cwnd = MIN (self->cwnd, (double)WINDOW);
  return TRUE;
}

static void
update_rtt (PhReliableLink *self, gint64 sample)
{
  self->latest_rtt = sample;
  self->min_rtt = self->min_rtt == 0 ? sample : MIN (self->min_rtt, sample);
  if (self->srtt == 0)
    {
      self->srtt = MAX (sample, 1);
      self->rttvar = sample / 2;
      return;
    }
  self->rttvar = (3 * self->rttvar + ABS (self->srtt - sample)) / 4;
  self->srtt = MAX ((7 * self->srtt + sample) / 8, 1);
}

/* RACK (RFC 8985): a packet is lost once one sent after it has arrived
 * and either three packets numbered after it have too, or a round trip
 * and a quarter has passed since it went out; until then a reordered
 * packet has time to turn up. */
static void
detect_losses (PhReliableLink *self, gint64 now)
{
  gint64 wait = (self->srtt > 0 ? self->srtt : INITIAL_RTO) * 5 / 4 + G_TIME_SPAN_MILLISECOND;
  gboolean congestion = FALSE;

  self->loss_deadline = -1;
  if (!self->any_acked)
    return;
  for (guint32 seq = self->snd_una; seq_before (seq, self->snd_next); seq++)
    {
      Outgoing *out = &self->sent[seq % WINDOW];

      if (out->acked || out->lost || out->order >= self->latest_delivered_order)
        continue;
      if (!seq_before (seq + REORDER_PACKETS - 1, self->highest_acked) && now < out->sent_at + wait)
        {
          if (self->loss_deadline < 0 || out->sent_at + wait < self->loss_deadline)
            self->loss_deadline = out->sent_at + wait;
          continue;
        }
      g_debug ("Packet %u lost: a later one arrived %" G_GINT64_FORMAT " µs after it was sent", seq,
               now - out->sent_at);
      out->lost = TRUE;
      self->lost++;
      self->in_flight--;
      self->loss_rate += (1 - self->loss_rate) * LOSS_RATE_GAIN;
      if (!seq_before (seq, self->recovery_end))
        congestion = TRUE;
    }

  if (congestion
      && (self->latest_rtt > QUEUE_FREE_RTT (self->min_rtt)
          || self->loss_rate > RANDOM_LOSS_RATE_MAX))
    {
      self->ssthresh = MAX (self->cwnd * BACKOFF_FACTOR, INITIAL_CWND);
      self->cwnd = self->ssthresh;
      self->recovery_end = self->snd_next;
    }
}

static guint32
read_u32 (const guint8 *p)
{
  return (guint32)p[0] << 24 | (guint32)p[1] << 16 | (guint32)p[2] << 8 | p[3];
}

static void
take_acknowledgements (PhReliableLink *self, guint32 ack, guint64 sack, gint64 now)
{
  gint64 rtt_sample = -1;
  gboolean progress = FALSE;

  if (seq_before (self->snd_una, ack))
    for (guint32 seq = self->snd_una; seq != ack; seq++)
      progress |= acknowledge (self, seq, now, &rtt_sample);
  for (guint i = 0; i < SACK_BITS; i++)
    {
      guint32 seq = ack + 1 + i;

      if ((sack >> i & 1) && !seq_before (seq, self->snd_una) && seq_before (seq, self->snd_next))
        progress |= acknowledge (self, seq, now, &rtt_sample);
    }
  if (rtt_sample >= 0)
    update_rtt (self, rtt_sample);
  /* The path works: the next timeout starts from the round trip again. */
  if (progress)
    self->backoff = 0;

  while (seq_before (self->snd_una, self->snd_next) && self->sent[self->snd_una % WINDOW].acked)
    self->snd_una++;
  detect_losses (self, now);
}

/* Acknowledges at once what the sender needs to hear about soon: a gap,
 * a copy, every second packet of a stream. A lone packet in order waits a
 * moment instead, so the answer the application is about to write can
 * carry the acknowledgement (delayed ACKs, RFC 1122 4.2.3.2, but short). */
static void
schedule_ack (PhReliableLink *self, gboolean in_order, gint64 now)
{
  if (!in_order || self->held_count > 0 || ++self->unacknowledged >= 2)
    self->ack_due = TRUE;
  else if (self->ack_deadline < 0)
    self->ack_deadline = now + ACK_DELAY;
}

static void
hold (PhReliableLink *self, guint32 seq, const guint8 *payload, gsize length, gboolean fin,
      gint64 now, GByteArray *delivered)
{
  Held *slot;

  if (seq_before (seq, self->rcv_next) || seq - self->rcv_next >= WINDOW || self->peer_finished)
    {
      self->ack_due = TRUE;
      return;
    }
  slot = &self->held[seq % WINDOW];
  if (slot->present)
    {
      self->ack_due = TRUE;
      return;
    }
  slot->present = TRUE;
  slot->fin = fin;
  slot->length = length;
  slot->payload = length > 0 ? g_memdup2 (payload, length) : NULL;
  self->held_count++;

  while ((slot = &self->held[self->rcv_next % WINDOW])->present && !self->peer_finished)
    {
      if (slot->length > 0)
        g_byte_array_append (delivered, slot->payload, slot->length);
      self->peer_finished = slot->fin;
      g_clear_pointer (&slot->payload, g_free);
      slot->present = FALSE;
      self->held_count--;
      self->rcv_next++;
    }
  schedule_ack (self, seq == self->rcv_next - 1 && !fin, now);
}

static gboolean
receive (PhReliableLink *self, const guint8 *packet, gsize length, gint64 now,
         GByteArray *delivered, GError **error)
{
  guint8 kind;
  guint32 seq, ack;
  guint64 sack = 0;
  gsize payload_length;

  if (length < HEADER_SIZE || length > PH_RELIABLE_LINK_MAX_PACKET)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "A link packet of %" G_GSIZE_FORMAT " bytes", length);
      return FALSE;
    }
  kind = packet[0];
  payload_length = length - HEADER_SIZE;
  if ((kind != KIND_DATA && kind != KIND_ACK && kind != KIND_FIN && kind != KIND_GONE)
      || packet[1] != 0 || (kind != KIND_DATA && payload_length > 0)
      || (kind == KIND_DATA && payload_length == 0))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "A link packet of kind 0x%02x with %" G_GSIZE_FORMAT " payload bytes", kind,
                   payload_length);
      return FALSE;
    }
  seq = read_u32 (packet + 4);
  ack = read_u32 (packet + 8);
  for (guint i = 0; i < 8; i++)
    sack = sack << 8 | packet[12 + i];
  /* What the peer sends now is numbered from the oldest packet it may
   * still resend, at most a window before what we expect (it has not heard
   * that we have those), to the end of its window; pure acknowledgements
   * and GONE carry its next number, in the same range. Anything else was
   * not numbered by our peer, or is too stale to tell us anything. */
  if (seq - (self->rcv_next - WINDOW) > 2 * WINDOW)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "A link packet numbered %u, outside %u–%u", seq, self->rcv_next - WINDOW,
                   self->rcv_next + WINDOW);
      return FALSE;
    }
  /* Acknowledging what was never sent is not a reordering but a lie. */
  if (seq_before (self->snd_next, ack) || seq_before (ack, self->snd_una - WINDOW))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "A link packet acknowledges %u, outside %u–%u", ack, self->snd_una - WINDOW,
                   self->snd_next);
      return FALSE;
    }

  self->in_use = TRUE;

  self->peer_window = MAX ((guint)(packet[2] << 8 | packet[3]), 1u);
  take_acknowledgements (self, ack, sack, now);
  if (kind == KIND_GONE)
    {
      self->peer_gone = TRUE;
      self->peer_sent = seq;
      return TRUE;
    }
  if (kind != KIND_ACK)
    hold (self, seq, packet + HEADER_SIZE, payload_length, kind == KIND_FIN, now, delivered);
  flush (self, now);
  return TRUE;
}

gboolean
ph_reliable_link_receive (PhReliableLink *self, const guint8 *packet, gsize length, gint64 now,
                          GByteArray *delivered, GError **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (delivered != NULL, FALSE);

  if (receive (self, packet, length, now, delivered, error))
    return TRUE;
  self->refused++;
  return FALSE;
}

/* Ends the link at once: the peer hears that nothing more will come, not
 * even what would have been sent again. For a stream torn down with its
 * agent, whose FIN (or a packet before it) could otherwise be lost with
 * no one left to resend it. */
void
ph_reliable_link_abandon (PhReliableLink *self)
{
  guint8 *packet = g_malloc (HEADER_SIZE);

  self->in_use = TRUE;
  put_header (self, packet, KIND_GONE, self->snd_next);
  g_queue_push_tail (&self->wire, g_bytes_new_take (packet, HEADER_SIZE));
}

/* The peer abandoned the link before everything it sent arrived. */
gboolean
ph_reliable_link_peer_vanished (PhReliableLink *self)
{
  return self->peer_gone && !self->peer_finished && seq_before (self->rcv_next, self->peer_sent);
}

gboolean
ph_reliable_link_peer_finished (PhReliableLink *self)
{
  return self->peer_finished;
}

gboolean
ph_reliable_link_all_acknowledged (PhReliableLink *self)
{
  return self->snd_una == self->snd_next && self->unsent->len == 0;
}

GBytes *
ph_reliable_link_pop_packet (PhReliableLink *self)
{
  return g_queue_pop_head (&self->wire);
}

/* When a packet still out is due to be counted lost, or the path to be
 * probed: a timeout after the last packet sent (RFC 9002, 6.2.1). */
gint64
ph_reliable_link_get_deadline (PhReliableLink *self)
{
  gint64 deadline = self->ack_deadline;

  if (self->in_flight > 0)
    {
      gint64 probe = self->last_sent_at + rto (self);

      deadline = deadline >= 0 ? MIN (deadline, probe) : probe;
    }
  if (self->loss_deadline >= 0)
    deadline = deadline >= 0 ? MIN (deadline, self->loss_deadline) : self->loss_deadline;
  return deadline;
}

/* The timer ran out with no word on the packets out: the oldest goes
 * again as a probe, whose acknowledgement tells (through detect_losses)
 * what else is missing. One timeout leaves the window alone, as with
 * QUIC's probe timeout (RFC 9002, 6.2); each doubles the next, so a dead
 * path sees one packet per timeout. */
void
ph_reliable_link_tick (PhReliableLink *self, gint64 now)
{
  gint64 deadline = ph_reliable_link_get_deadline (self);
  Outgoing *oldest = NULL;

  if (deadline < 0 || now < deadline)
    return;
  if (self->ack_deadline >= 0 && now >= self->ack_deadline)
    self->ack_due = TRUE;
  if (self->loss_deadline >= 0 && now >= self->loss_deadline)
    detect_losses (self, now);
  if (self->in_flight == 0 || now < self->last_sent_at + rto (self))
    {
      flush (self, now);
      return;
    }
  for (guint32 seq = self->snd_una; seq_before (seq, self->snd_next) && oldest == NULL; seq++)
    {
      Outgoing *out = &self->sent[seq % WINDOW];

      if (!out->acked && !out->lost)
        oldest = out;
    }
  /* in_flight > 0 means there is one. */
  g_assert (oldest != NULL);
  g_debug ("No acknowledgement within %" G_GINT64_FORMAT " µs: probing", rto (self));
  oldest->lost = TRUE;
  self->lost++;
  self->in_flight--;
  self->backoff++;
  /* Three timeouts in a row: the path is gone or jammed, start small
   * (fewer could be a peer whose main loop was busy for a moment). */
  if (self->backoff >= 3)
    {
      self->ssthresh = MAX (self->cwnd * BACKOFF_FACTOR, INITIAL_CWND);
      self->cwnd = MIN_CWND;
    }
  flush (self, now);
}

guint64
ph_reliable_link_get_transmissions (PhReliableLink *self)
{
  return self->transmissions;
}

guint64
ph_reliable_link_get_retransmissions (PhReliableLink *self)
{
  return self->retransmissions;
}

guint64
ph_reliable_link_get_refused (PhReliableLink *self)
{
  return self->refused;
}
