/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-reliable-link"

#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "ph-reliable-link.h"

/* Two links joined by a simulated wire with its own clock: delay, jitter,
 * loss and duplication come from a seeded GRand, so every run sees the
 * same packets and the times below are simulated, never waited for. */

#define MS G_TIME_SPAN_MILLISECOND

typedef struct
{
  gint64 at;
  int to; /* 0 or 1 */
  GBytes *packet;
} InFlight;

typedef struct
{
  PhReliableLink *link[2];
  GByteArray *received[2];
  GSequence *wire; /* InFlight by arrival time */
  GRand *rand;
  gint64 now;
  gint64 one_way; /* µs */
  gint64 jitter;  /* µs, uniform 0..jitter on top */
  double loss;
  double duplicate;
  gint64 service; /* µs per packet at a bottleneck from 0 to 1, or 0 */
  guint queue_limit;
  gint64 queue_free_at;
  guint dropped_at_queue;
  guint packets;
  guint packets_to[2];
  guint malformed;
} Wire;

static gint
by_arrival (gconstpointer a, gconstpointer b, gpointer unused)
{
  const InFlight *x = a, *y = b;

  return x->at < y->at ? -1 : x->at > y->at;
}

static void
in_flight_free (InFlight *packet)
{
  g_bytes_unref (packet->packet);
  g_free (packet);
}

static void
wire_init (Wire *wire, gint64 rtt_ms, gint64 jitter_ms, double loss, guint32 seed)
{
  memset (wire, 0, sizeof *wire);
  for (int i = 0; i < 2; i++)
    {
      wire->link[i] = ph_reliable_link_new ();
      wire->received[i] = g_byte_array_new ();
    }
  wire->wire = g_sequence_new ((GDestroyNotify)in_flight_free);
  wire->rand = g_rand_new_with_seed (seed);
  wire->now = 1000 * MS;
  wire->one_way = rtt_ms * MS / 2;
  wire->jitter = jitter_ms * MS;
  wire->loss = loss;
}

/* Link 0 numbers from @isn0, link 1 from @isn1, each told the other's. */
static void
wire_number (Wire *wire, guint32 isn0, guint32 isn1)
{
  ph_reliable_link_set_initial_numbers (wire->link[0], isn0, isn1);
  ph_reliable_link_set_initial_numbers (wire->link[1], isn1, isn0);
}

static void
wire_clear (Wire *wire)
{
  for (int i = 0; i < 2; i++)
    {
      ph_reliable_link_free (wire->link[i]);
      g_byte_array_unref (wire->received[i]);
    }
  g_sequence_free (wire->wire);
  g_rand_free (wire->rand);
}

static void
put_on_wire (Wire *wire, int to, GBytes *packet)
{
  InFlight *copy;
  gint64 queued = 0;

  /* A router's queue in front of a slow link: full means dropped. */
  if (to == 1 && wire->service > 0)
    {
      wire->queue_free_at = MAX (wire->queue_free_at, wire->now);
      if ((wire->queue_free_at - wire->now) / wire->service >= wire->queue_limit)
        {
          wire->dropped_at_queue++;
          return;
        }
      wire->queue_free_at += wire->service;
      queued = wire->queue_free_at - wire->now;
    }
  copy = g_new0 (InFlight, 1);
  copy->at = wire->now + wire->one_way + queued
             + (wire->jitter > 0 ? g_rand_int_range (wire->rand, 0, (gint32)wire->jitter) : 0);
  copy->to = to;
  copy->packet = g_bytes_ref (packet);
  g_sequence_insert_sorted (wire->wire, copy, by_arrival, NULL);
}

/* Moves what both links want to send onto the wire, losing some. */
static void
collect (Wire *wire)
{
  for (int from = 0; from < 2; from++)
    {
      GBytes *packet;

      while ((packet = ph_reliable_link_pop_packet (wire->link[from])) != NULL)
        {
          g_assert_cmpuint (g_bytes_get_size (packet), <=, PH_RELIABLE_LINK_MAX_PACKET);
          wire->packets++;
          wire->packets_to[!from]++;
          if (g_rand_double (wire->rand) >= wire->loss)
            put_on_wire (wire, !from, packet);
          if (wire->duplicate > 0 && g_rand_double (wire->rand) < wire->duplicate)
            put_on_wire (wire, !from, packet);
          g_bytes_unref (packet);
        }
    }
}

/* Advances the clock to the next arrival or timer; FALSE when nothing is
 * left to happen. */
static gboolean
step (Wire *wire)
{
  GSequenceIter *first;
  gint64 next = G_MAXINT64;

  collect (wire);
  first = g_sequence_get_begin_iter (wire->wire);

  for (int i = 0; i < 2; i++)
    {
      gint64 deadline = ph_reliable_link_get_deadline (wire->link[i]);

      if (deadline >= 0)
        next = MIN (next, deadline);
    }
  if (!g_sequence_iter_is_end (first))
    next = MIN (next, ((InFlight *)g_sequence_get (first))->at);
  if (next == G_MAXINT64)
    return FALSE;

  wire->now = MAX (wire->now, next);
  while (!g_sequence_iter_is_end (first = g_sequence_get_begin_iter (wire->wire))
         && ((InFlight *)g_sequence_get (first))->at <= wire->now)
    {
      InFlight *packet = g_sequence_get (first);
      gsize length;
      const guint8 *data = g_bytes_get_data (packet->packet, &length);
      g_autoptr (GError) error = NULL;

      if (!ph_reliable_link_receive (wire->link[packet->to], data, length, wire->now,
                                     wire->received[packet->to], &error))
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
          wire->malformed++;
        }
      g_sequence_remove (first);
    }
  for (int i = 0; i < 2; i++)
    ph_reliable_link_tick (wire->link[i], wire->now);
  collect (wire);
  return TRUE;
}

typedef gboolean (*Done) (Wire *wire, gpointer data);

static void
run_until (Wire *wire, Done done, gpointer data)
{
  while (!done (wire, data))
    g_assert_true (step (wire));
}

static GBytes *
pattern (gsize size, guint seed)
{
  guint8 *data = g_malloc (size);

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8)(i * 31 + seed + i / 251);
  return g_bytes_new_take (data, size);
}

/* Writes everything, as a sender that retries when the buffer is full. */
typedef struct
{
  GBytes *data[2];
  gsize written[2];
} Transfer;

static gboolean
transfer_done (Wire *wire, gpointer data)
{
  Transfer *transfer = data;
  gboolean done = TRUE;

  for (int i = 0; i < 2; i++)
    {
      gsize size;
      const guint8 *bytes = g_bytes_get_data (transfer->data[i], &size);

      if (transfer->written[i] < size)
        transfer->written[i] += ph_reliable_link_write (wire->link[i], bytes + transfer->written[i],
                                                        size - transfer->written[i], wire->now);
      if (wire->received[!i]->len < size || !ph_reliable_link_all_acknowledged (wire->link[i]))
        done = FALSE;
    }
  return done;
}

/* @size0 bytes from 0 to 1 and @size1 back at once; returns the
 * simulated time it took. */
static gint64
transfer_sizes (Wire *wire, gsize size0, gsize size1)
{
  Transfer t = { { pattern (size0, 1), pattern (size1, 2) }, { 0, 0 } };
  gint64 start = wire->now;

  run_until (wire, transfer_done, &t);
  for (int i = 0; i < 2; i++)
    {
      gsize size;
      const guint8 *data = g_bytes_get_data (t.data[i], &size);

      g_assert_cmpmem (wire->received[!i]->data, wire->received[!i]->len, data, size);
      g_bytes_unref (t.data[i]);
    }
  return wire->now - start;
}

static gint64
transfer (Wire *wire, gsize size)
{
  return transfer_sizes (wire, size, size);
}

static void
test_lossless (void)
{
  Wire wire;

  wire_init (&wire, 40, 0, 0, 1);
  transfer (&wire, 300 * 1024);
  g_assert_cmpuint (ph_reliable_link_get_retransmissions (wire.link[0]), ==, 0);
  g_assert_cmpuint (ph_reliable_link_get_retransmissions (wire.link[1]), ==, 0);
  g_assert_cmpuint (wire.malformed, ==, 0);
  wire_clear (&wire);
}

/* What a chat sends: 1,000 short messages each way at once. */
static gint64
chat_burst (double loss, gint64 jitter_ms, guint32 seed, guint64 *retransmissions)
{
  Wire wire;
  gint64 took;

  wire_init (&wire, 40, jitter_ms, loss, seed);
  took = transfer (&wire, 1000 * 120);
  *retransmissions = ph_reliable_link_get_retransmissions (wire.link[0])
                     + ph_reliable_link_get_retransmissions (wire.link[1]);
  wire_clear (&wire);
  return took;
}

/* Every byte arrives once and in order through loss, and a loss costs
 * about a round trip, not a second as with pseudo-TCP: the chat under 5%
 * loss takes at most ten round trips longer than without (simulated
 * time, several seeds; bench-loss measures the real thing). */
static void
test_loss_costs_round_trips (void)
{
  guint64 retransmissions;
  gint64 lossless = chat_burst (0, 0, 7, &retransmissions);

  for (guint32 seed = 1; seed <= 10; seed++)
    {
      gint64 lossy = chat_burst (0.05, 0, seed, &retransmissions);

      g_test_message ("seed %u: %.0f ms with 5%% loss (%" G_GUINT64_FORMAT
                      " resent), %.0f ms without",
                      seed, lossy / 1000.0, retransmissions, lossless / 1000.0);
      g_assert_cmpuint (retransmissions, >, 0);
      g_assert_cmpint (lossy, <=, lossless + 10 * 40 * MS);
    }
}

static void
test_heavy_loss_and_jitter (void)
{
  guint64 retransmissions;

  for (guint32 seed = 1; seed <= 5; seed++)
    {
      gint64 took = chat_burst (0.20, 100, seed, &retransmissions);

      g_test_message ("seed %u: %.0f ms with 20%% loss and 100 ms jitter", seed, took / 1000.0);
    }
}

/* A link slower than the sender: the window follows what the queue in
 * front of it takes, so the link stays busy without flooding the queue
 * (a sender that ignored losses would keep its 64 packets out and lose
 * a fifth of them). Drops come mostly from slow start's overshoot. */
static void
test_backs_off_at_a_bottleneck (void)
{
  Wire wire;
  gint64 took;
  guint sent;

  wire_init (&wire, 40, 0, 0, 8);
  wire.service = 1 * MS; /* 1,000 packets/s, about 1.2 MB/s */
  wire.queue_limit = 10; /* with the 40-packet round trip, below the window */
  took = transfer_sizes (&wire, 2 * 1024 * 1024, 0);
  sent = wire.packets_to[1];
  g_test_message ("%u of %u packets dropped at the queue; %.0f ms for 2 MiB", wire.dropped_at_queue,
                  sent, took / 1000.0);
  g_assert_cmpuint (wire.dropped_at_queue, >, 0);
  g_assert_cmpuint (wire.dropped_at_queue, <, sent / 6);
  /* 1,778 packets at 1 ms each, plus the round trips of slow start. */
  g_assert_cmpint (took, <, 3 * G_TIME_SPAN_SECOND);
  wire_clear (&wire);
}

static void
test_duplicates_and_reordering (void)
{
  Wire wire;

  wire_init (&wire, 20, 30, 0.02, 3);
  wire.duplicate = 0.2;
  transfer (&wire, 200 * 1024);
  g_assert_cmpuint (wire.malformed, ==, 0);
  wire_clear (&wire);
}

static gboolean
finished (Wire *wire, gpointer data)
{
  return ph_reliable_link_peer_finished (wire->link[1])
         && ph_reliable_link_all_acknowledged (wire->link[0]);
}

/* The end of the stream comes after every byte before it, even when the
 * packet that says so arrives first. */
static void
test_finish (void)
{
  Wire wire;
  g_autoptr (GBytes) data = pattern (50 * 1024, 9);

  wire_init (&wire, 40, 40, 0.1, 5);
  g_assert_cmpuint (ph_reliable_link_write (wire.link[0], g_bytes_get_data (data, NULL),
                                            g_bytes_get_size (data), wire.now),
                    ==, g_bytes_get_size (data));
  ph_reliable_link_finish (wire.link[0], wire.now);
  run_until (&wire, finished, NULL);
  g_assert_cmpmem (wire.received[1]->data, wire.received[1]->len, g_bytes_get_data (data, NULL),
                   g_bytes_get_size (data));
  g_assert_false (ph_reliable_link_peer_finished (wire.link[0]));
  wire_clear (&wire);
}

static gboolean
nothing_left (Wire *wire, gpointer data)
{
  return ph_reliable_link_all_acknowledged (wire->link[0]);
}

static gboolean
peer_heard_of_it (Wire *wire, gpointer data)
{
  return ph_reliable_link_peer_vanished (wire->link[1])
         || ph_reliable_link_peer_finished (wire->link[1]);
}

/* A sender torn down with packets still missing at the peer: told that
 * nothing more will come, the peer stops waiting at once, and only then. */
static void
test_abandoned (void)
{
  Wire wire;
  g_autoptr (GBytes) data = pattern (20 * 1024, 3);
  const guint8 *bytes = g_bytes_get_data (data, NULL);

  wire_init (&wire, 40, 0, 0, 9);
  ph_reliable_link_write (wire.link[0], bytes, 1000, wire.now);
  run_until (&wire, nothing_left, NULL);
  g_assert_false (ph_reliable_link_peer_vanished (wire.link[1]));

  /* The next packets are lost, and the sender goes before resending. */
  wire.loss = 1.0;
  ph_reliable_link_write (wire.link[0], bytes + 1000, 5000, wire.now);
  ph_reliable_link_finish (wire.link[0], wire.now);
  collect (&wire);
  wire.loss = 0;
  ph_reliable_link_abandon (wire.link[0]);
  run_until (&wire, peer_heard_of_it, NULL);
  g_assert_true (ph_reliable_link_peer_vanished (wire.link[1]));
  g_assert_false (ph_reliable_link_peer_finished (wire.link[1]));
  g_assert_cmpuint (wire.received[1]->len, ==, 1000);
  wire_clear (&wire);
}

/* A dead path: the sender backs off instead of flooding, and once the
 * path is back everything goes through. */
static void
test_backs_off_while_the_path_is_dead (void)
{
  Wire wire;
  g_autoptr (GBytes) data = pattern (20 * 1024, 4);
  guint before;

  wire_init (&wire, 40, 0, 1.0, 6);
  ph_reliable_link_write (wire.link[0], g_bytes_get_data (data, NULL), g_bytes_get_size (data),
                          wire.now);
  collect (&wire);
  before = wire.packets;
  while (wire.now < 1000 * MS + 20 * G_TIME_SPAN_SECOND)
    g_assert_true (step (&wire));
  /* One packet per timeout, the timeout doubling up to 2 s. */
  g_assert_cmpuint (wire.packets - before, <, 20);

  wire.loss = 0;
  run_until (&wire, nothing_left, NULL);
  g_assert_cmpmem (wire.received[1]->data, wire.received[1]->len, g_bytes_get_data (data, NULL),
                   g_bytes_get_size (data));
  wire_clear (&wire);
}

static void
test_send_buffer_is_bounded (void)
{
  g_autoptr (PhReliableLink) link = ph_reliable_link_new ();
  g_autoptr (GBytes) data = pattern (4 * 1024 * 1024, 1);
  gsize taken;
  GBytes *packet;

  taken = ph_reliable_link_write (link, g_bytes_get_data (data, NULL), g_bytes_get_size (data), 0);
  g_assert_cmpuint (taken, >, 0);
  g_assert_cmpuint (taken, <, g_bytes_get_size (data));
  g_assert_cmpuint (ph_reliable_link_get_send_space (link), ==, 0);
  g_assert_cmpuint (ph_reliable_link_write (link, g_bytes_get_data (data, NULL), 10, 0), ==, 0);
  while ((packet = ph_reliable_link_pop_packet (link)) != NULL)
    g_bytes_unref (packet);
}

static void
check_rejected (PhReliableLink *link, const guint8 *packet, gsize length)
{
  g_autoptr (GByteArray) delivered = g_byte_array_new ();
  g_autoptr (GError) error = NULL;

  g_assert_false (ph_reliable_link_receive (link, packet, length, 0, delivered, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_cmpuint (delivered->len, ==, 0);
}

/* Packets that are too short or too long, of an unknown kind, a data
 * packet without data, or acknowledging what was never sent. */
static void
test_malformed_packets (void)
{
  g_autoptr (PhReliableLink) link = ph_reliable_link_new ();
  guint8 packet[PH_RELIABLE_LINK_MAX_PACKET + 1] = { 0 };
  g_autoptr (GByteArray) delivered = g_byte_array_new ();

  check_rejected (link, packet, 0);
  check_rejected (link, packet, 19);
  packet[0] = 0xd1;
  check_rejected (link, packet, sizeof packet);
  check_rejected (link, packet, 20); /* data without data */
  packet[0] = 0x17;
  check_rejected (link, packet, 21);
  packet[0] = 0xd2;
  check_rejected (link, packet, 21); /* an ack with a payload */
  packet[0] = 0xd1;
  packet[1] = 1;
  check_rejected (link, packet, 21);
  packet[1] = 0;
  packet[11] = 5; /* acknowledges packet 4 of none sent */
  check_rejected (link, packet, 21);
  g_assert_cmpuint (ph_reliable_link_get_refused (link), ==, 8);

  /* The same packet with a sane ack is taken. */
  packet[11] = 0;
  packet[20] = 'x';
  g_assert_true (ph_reliable_link_receive (link, packet, 21, 0, delivered, NULL));
  g_assert_cmpmem (delivered->data, delivered->len, "x", 1);
  g_assert_cmpuint (ph_reliable_link_get_refused (link), ==, 8);
}

/* Each side numbers from its own start, both near the end of the 32-bit
 * space, so the numbers wrap within the transfer: every byte still
 * arrives once and in order, through loss and reordering too. */
static void
test_numbers_wrap_around (void)
{
  Wire wire;

  wire_init (&wire, 40, 0, 0, 11);
  wire_number (&wire, 0xfffffff0u, 0xffffff80u);
  transfer (&wire, 300 * 1024);
  g_assert_cmpuint (ph_reliable_link_get_retransmissions (wire.link[0]), ==, 0);
  g_assert_cmpuint (wire.malformed, ==, 0);
  wire_clear (&wire);

  for (guint32 seed = 1; seed <= 3; seed++)
    {
      wire_init (&wire, 40, 30, 0.05, seed);
      wire.duplicate = 0.05;
      wire_number (&wire, G_MAXUINT32 - seed, G_MAXUINT32 - 100 * seed);
      transfer (&wire, 200 * 1024);
      g_assert_cmpuint (ph_reliable_link_get_retransmissions (wire.link[0]), >, 0);
      g_assert_cmpuint (wire.malformed, ==, 0);
      wire_clear (&wire);
    }
}

/* A link told the wrong start for its peer takes nothing from it: every
 * packet is refused, counted, and not even acknowledged. */
static void
test_wrong_peer_number_delivers_nothing (void)
{
  Wire wire;
  g_autoptr (GBytes) data = pattern (20 * 1024, 5);

  wire_init (&wire, 40, 0, 0, 12);
  ph_reliable_link_set_initial_numbers (wire.link[0], 0x12345678u, 0x9abcdef0u);
  ph_reliable_link_set_initial_numbers (wire.link[1], 0x9abcdef0u, 0x12345678u + 1000);
  ph_reliable_link_write (wire.link[0], g_bytes_get_data (data, NULL), g_bytes_get_size (data),
                          wire.now);
  while (wire.now < 1000 * MS + 10 * G_TIME_SPAN_SECOND)
    g_assert_true (step (&wire));

  g_assert_cmpuint (wire.received[1]->len, ==, 0);
  g_assert_cmpuint (wire.packets_to[0], ==, 0);
  /* All that arrived; the last probe may still be on the wire. */
  g_assert_cmpuint (wire.malformed, >, 10);
  g_assert_cmpuint (wire.malformed, >=, wire.packets_to[1] - 1);
  g_assert_cmpuint (ph_reliable_link_get_refused (wire.link[1]), ==, wire.malformed);
  g_assert_false (ph_reliable_link_all_acknowledged (wire.link[0]));
  wire_clear (&wire);
}

static gsize
forge (guint8 *packet, guint8 kind, guint32 seq, guint32 ack)
{
  gsize length = kind == 0xd1 ? 21 + seq % 100 : 20;

  memset (packet, 0, length);
  packet[0] = kind;
  packet[3] = 64;
  for (guint i = 0; i < 4; i++)
    {
      packet[4 + i] = seq >> (24 - 8 * i);
      packet[8 + i] = ack >> (24 - 8 * i);
    }
  memset (packet + 12, 0xff, 8); /* "everything after ack arrived" */
  if (length > 20)
    memset (packet + 20, 'X', length - 20);
  return length;
}

/* Someone off the path sends both links packets numbered the way every
 * link used to start (0, 1, 2…), of every kind, while they talk. */
typedef struct
{
  Transfer transfer;
  guint rounds;
  guint sent[2];
  guint taken[2];
} Injection;

#define INJECTION_ROUNDS 40

static void
inject (Wire *wire, Injection *injection)
{
  static const guint8 kinds[] = { 0xd1, 0xd2, 0xd3, 0xd4 };
  guint8 packet[PH_RELIABLE_LINK_MAX_PACKET];

  for (int to = 0; to < 2; to++)
    for (guint32 seq = injection->rounds % 8; seq < 320; seq += 8)
      for (guint32 ack = 0; ack < 320; ack += 40)
        {
          g_autoptr (GByteArray) junk = g_byte_array_new ();
          guint8 kind = kinds[(seq + ack / 40) % G_N_ELEMENTS (kinds)];
          gsize length = forge (packet, kind, seq, ack);

          injection->sent[to]++;
          if (ph_reliable_link_receive (wire->link[to], packet, length, wire->now,
                                        wire->received[to], NULL))
            injection->taken[to]++;
        }
  injection->rounds++;
}

static gboolean
injected_transfer_done (Wire *wire, gpointer data)
{
  Injection *injection = data;

  if (injection->rounds < INJECTION_ROUNDS)
    inject (wire, injection);
  return transfer_done (wire, &injection->transfer) && injection->rounds >= INJECTION_ROUNDS;
}

static gboolean
injected_enough (Wire *wire, gpointer data)
{
  Injection *injection = data;

  transfer_done (wire, &injection->transfer);
  if (injection->rounds < INJECTION_ROUNDS)
    inject (wire, injection);
  return injection->rounds >= INJECTION_ROUNDS;
}

/* With random starts, none of the forged packets is taken: each is
 * refused and counted, and the stream comes through intact. */
static void
test_guessed_numbers_are_refused (void)
{
  Wire wire;
  Injection injection = { { { pattern (300 * 1024, 1), pattern (300 * 1024, 2) }, { 0, 0 } } };

  wire_init (&wire, 40, 10, 0.01, 13);
  wire_number (&wire, 0x9e3779b9u, 0x7f4a7c15u);
  run_until (&wire, injected_transfer_done, &injection);
  for (int i = 0; i < 2; i++)
    {
      gsize size;
      const guint8 *data = g_bytes_get_data (injection.transfer.data[i], &size);

      g_assert_cmpmem (wire.received[!i]->data, wire.received[!i]->len, data, size);
      g_assert_cmpuint (injection.taken[i], ==, 0);
      g_assert_cmpuint (ph_reliable_link_get_refused (wire.link[i]), ==, injection.sent[i]);
      g_bytes_unref (injection.transfer.data[i]);
    }
  g_assert_cmpuint (wire.malformed, ==, 0);
  wire_clear (&wire);
}

/* Why: the same packets get into links that number from 0. */
static void
test_guessed_numbers_break_fixed_starts (void)
{
  Wire wire;
  Injection injection = { { { pattern (300 * 1024, 1), pattern (300 * 1024, 2) }, { 0, 0 } } };

  wire_init (&wire, 40, 10, 0.01, 13);
  run_until (&wire, injected_enough, &injection);
  g_test_message ("%u and %u forged packets taken", injection.taken[0], injection.taken[1]);
  g_assert_cmpuint (injection.taken[0], >, 0);
  g_assert_cmpuint (injection.taken[1], >, 0);
  for (int i = 0; i < 2; i++)
    g_bytes_unref (injection.transfer.data[i]);
  wire_clear (&wire);
}

/* Random bytes never crash it nor make it deliver anything it should not. */
static void
test_random_packets (void)
{
  g_autoptr (PhReliableLink) link = ph_reliable_link_new ();
  g_autoptr (GByteArray) delivered = g_byte_array_new ();
  GRand *rand = g_rand_new_with_seed (42);
  guint8 packet[PH_RELIABLE_LINK_MAX_PACKET];
  GBytes *out;

  for (guint i = 0; i < 20000; i++)
    {
      gsize length = g_rand_int_range (rand, 0, sizeof packet + 1);

      for (gsize j = 0; j < length; j++)
        packet[j] = g_rand_int (rand);
      if (length > 0 && g_rand_boolean (rand))
        packet[0] = 0xd1 + g_rand_int_range (rand, 0, 3);
      if (length > 1)
        packet[1] = 0;
      ph_reliable_link_receive (link, packet, length, i, delivered, NULL);
      ph_reliable_link_tick (link, i * MS);
      while ((out = ph_reliable_link_pop_packet (link)) != NULL)
        g_bytes_unref (out);
    }
  g_rand_free (rand);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/reliable-link/lossless", test_lossless);
  g_test_add_func ("/reliable-link/loss-costs-round-trips", test_loss_costs_round_trips);
  g_test_add_func ("/reliable-link/heavy-loss-and-jitter", test_heavy_loss_and_jitter);
  g_test_add_func ("/reliable-link/backs-off-at-a-bottleneck", test_backs_off_at_a_bottleneck);
  g_test_add_func ("/reliable-link/duplicates-and-reordering", test_duplicates_and_reordering);
  g_test_add_func ("/reliable-link/finish", test_finish);
  g_test_add_func ("/reliable-link/backs-off-while-the-path-is-dead",
                   test_backs_off_while_the_path_is_dead);
  g_test_add_func ("/reliable-link/abandoned", test_abandoned);
  g_test_add_func ("/reliable-link/send-buffer-is-bounded", test_send_buffer_is_bounded);
  g_test_add_func ("/reliable-link/malformed-packets", test_malformed_packets);
  g_test_add_func ("/reliable-link/random-packets", test_random_packets);
  g_test_add_func ("/reliable-link/numbers-wrap-around", test_numbers_wrap_around);
  g_test_add_func ("/reliable-link/wrong-peer-number-delivers-nothing",
                   test_wrong_peer_number_delivers_nothing);
  g_test_add_func ("/reliable-link/guessed-numbers-are-refused", test_guessed_numbers_are_refused);
  g_test_add_func ("/reliable-link/guessed-numbers-break-fixed-starts",
                   test_guessed_numbers_break_fixed_starts);

  return g_test_run ();
}
