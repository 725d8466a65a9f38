/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ph-link-emulator: joins two network interfaces like a cable that holds
 * every frame for a while. This kernel has no netem (shared/NOTES.md), so
 * the NAT lab adds delay and jitter here, in user space: an AF_PACKET socket
 * on each interface reads every frame that arrives and writes it out of the
 * other interface once its time has come.
 *
 *   ph-link-emulator --a IFACE --b IFACE [--delay MS] [--jitter MS]
 *
 * Each direction is delayed by MS milliseconds, plus a uniform random
 * amount in [-jitter, +jitter]. Frames are never reordered (a frame leaves
 * no earlier than the one before it), so jitter stretches gaps instead of
 * swapping packets. Loss is not done here: the lab drops with nft.
 *
 * Frames are read and written with a virtio-net header (PACKET_VNET_HDR):
 * veth hands over packets whose checksum is still to be filled in and
 * large segmentation-offload packets, and the header carries that
 * information across so the kernel finishes them on the way out. */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <arpa/inet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FRAME_MAX (sizeof (struct virtio_net_hdr) + 65536)
/* Frames in flight per direction; more are dropped like a full queue.
 * 4096 full-size frames is far more than 1 Gbit/s for 100 ms. */
#define QUEUE_MAX 4096

typedef struct
{
  int64_t due_ns;
  size_t length;
  uint8_t *data;
} Frame;

typedef struct
{
  int in_fd;
  int out_fd;
  Frame frames[QUEUE_MAX];
  size_t head;
  size_t count;
  int64_t last_due_ns;
  uint64_t dropped;
} Direction;

static volatile sig_atomic_t stop_requested;

static void
stop_cb (int signum)
{
  (void)signum;
  stop_requested = 1;
}

static int64_t
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
open_interface (const char *name)
{
  struct sockaddr_ll address = { 0 };
  struct packet_mreq membership = { 0 };
  int on = 1;
  int fd;
  unsigned int index = if_nametoindex (name);

  if (index == 0)
    {
      fprintf (stderr, "ph-link-emulator: no interface %s: %s\n", name, strerror (errno));
      return -1;
    }

  fd = socket (AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons (ETH_P_ALL));
  if (fd < 0)
    {
      fprintf (stderr, "ph-link-emulator: AF_PACKET socket: %s (run as root)\n", strerror (errno));
      return -1;
    }

  /* Our own writes on this interface must not come back as reads. */
  if (setsockopt (fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &on, sizeof on) < 0
      || setsockopt (fd, SOL_PACKET, PACKET_VNET_HDR, &on, sizeof on) < 0)
    {
      fprintf (stderr, "ph-link-emulator: setsockopt on %s: %s\n", name, strerror (errno));
      close (fd);
      return -1;
    }

  address.sll_family = AF_PACKET;
  address.sll_protocol = htons (ETH_P_ALL);
  address.sll_ifindex = (int)index;
  if (bind (fd, (struct sockaddr *)&address, sizeof address) < 0)
    {
      fprintf (stderr, "ph-link-emulator: bind to %s: %s\n", name, strerror (errno));
      close (fd);
      return -1;
    }

  /* Frames for the far end's MAC address must be read too. */
  membership.mr_ifindex = (int)index;
  membership.mr_type = PACKET_MR_PROMISC;
  if (setsockopt (fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &membership, sizeof membership) < 0)
    {
      fprintf (stderr, "ph-link-emulator: promiscuous mode on %s: %s\n", name, strerror (errno));
      close (fd);
      return -1;
    }
  return fd;
}

static int64_t
random_jitter_ns (int64_t jitter_ns)
{
  uint32_t r;

  if (jitter_ns == 0)
    return 0;
  if (getrandom (&r, sizeof r, 0) != sizeof r)
    r = (uint32_t)rand ();
  return (int64_t)((double)r / UINT32_MAX * 2.0 * (double)jitter_ns) - jitter_ns;
}

/* Reads every frame waiting on the direction's input and queues it. */
static int
receive_frames (Direction *dir, int64_t delay_ns, int64_t jitter_ns)
{
  static uint8_t buffer[FRAME_MAX];

  for (;;)
    {
      ssize_t length = recv (dir->in_fd, buffer, sizeof buffer, 0);
      uint8_t *data;
      int64_t due;
      Frame *frame;

      if (length < 0)
        {
          if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
          if (errno == EINTR)
            continue;
          fprintf (stderr, "ph-link-emulator: recv: %s\n", strerror (errno));
          return -1;
        }

      if (dir->count == QUEUE_MAX)
        {
          dir->dropped++;
          continue;
        }
      data = malloc ((size_t)length);
      if (data == NULL)
        return -1;
      memcpy (data, buffer, (size_t)length);

      due = now_ns () + delay_ns + random_jitter_ns (jitter_ns);
      if (due < dir->last_due_ns)
        due = dir->last_due_ns;
      dir->last_due_ns = due;

      frame = &dir->frames[(dir->head + dir->count) % QUEUE_MAX];
      frame->due_ns = due;
      frame->length = (size_t)length;
      frame->data = data;
      dir->count++;
    }
}

/* Writes out every queued frame whose time has come. */
static void
send_due_frames (Direction *dir, int64_t now)
{
  while (dir->count > 0 && dir->frames[dir->head].due_ns <= now)
    {
      Frame *frame = &dir->frames[dir->head];

      /* A failed write is a lost frame, as on a real link. */
      if (send (dir->out_fd, frame->data, frame->length, 0) < 0 && errno != EAGAIN)
        dir->dropped++;
      free (frame->data);
      frame->data = NULL;
      dir->head = (dir->head + 1) % QUEUE_MAX;
      dir->count--;
    }
}

static int
parse_ms (const char *text, int64_t *out_ns)
{
  char *end = NULL;
  double ms = strtod (text, &end);

  if (end == text || *end != '\0' || ms < 0 || ms > 60000)
    return -1;
  *out_ns = (int64_t)(ms * 1e6);
  return 0;
}

static void
usage (void)
{
  fprintf (stderr, "usage: ph-link-emulator --a IFACE --b IFACE [--delay MS] [--jitter MS]\n");
}

int
main (int argc, char *argv[])
{
  static const struct option options[] = {
    { "a", required_argument, NULL, 'a' },
    { "b", required_argument, NULL, 'b' },
    { "delay", required_argument, NULL, 'd' },
    { "jitter", required_argument, NULL, 'j' },
    { NULL, 0, NULL, 0 },
  };
  static Direction dirs[2];
  const char *iface_a = NULL;
  const char *iface_b = NULL;
  int64_t delay_ns = 0;
  int64_t jitter_ns = 0;
  struct sigaction action = { 0 };
  int fd_a, fd_b;
  int option;

  while ((option = getopt_long (argc, argv, "", options, NULL)) != -1)
    {
      switch (option)
        {
        case 'a':
          iface_a = optarg;
          break;
        case 'b':
          iface_b = optarg;
          break;
        case 'd':
          if (parse_ms (optarg, &delay_ns) < 0)
            {
              fprintf (stderr, "ph-link-emulator: --delay takes milliseconds (0–60000)\n");
              return 2;
            }
          break;
        case 'j':
          if (parse_ms (optarg, &jitter_ns) < 0)
            {
              fprintf (stderr, "ph-link-emulator: --jitter takes milliseconds (0–60000)\n");
              return 2;
            }
          break;
        default:
          usage ();
          return 2;
        }
    }
  if (iface_a == NULL || iface_b == NULL || optind != argc)
    {
      usage ();
      return 2;
    }

  fd_a = open_interface (iface_a);
  if (fd_a < 0)
    return 1;
  fd_b = open_interface (iface_b);
  if (fd_b < 0)
    return 1;

  action.sa_handler = stop_cb;
  sigaction (SIGINT, &action, NULL);
  sigaction (SIGTERM, &action, NULL);

  dirs[0].in_fd = fd_a;
  dirs[0].out_fd = fd_b;
  dirs[1].in_fd = fd_b;
  dirs[1].out_fd = fd_a;

  while (!stop_requested)
    {
      struct pollfd fds[2] = { { fd_a, POLLIN, 0 }, { fd_b, POLLIN, 0 } };
      int64_t now = now_ns ();
      int64_t next_due = INT64_MAX;
      struct timespec timeout;
      struct timespec *timeout_p = NULL;

      for (int i = 0; i < 2; i++)
        if (dirs[i].count > 0 && dirs[i].frames[dirs[i].head].due_ns < next_due)
          next_due = dirs[i].frames[dirs[i].head].due_ns;
      if (next_due != INT64_MAX)
        {
          int64_t wait_ns = next_due > now ? next_due - now : 0;

          timeout.tv_sec = wait_ns / 1000000000;
          timeout.tv_nsec = wait_ns % 1000000000;
          timeout_p = &timeout;
        }

      if (ppoll (fds, 2, timeout_p, NULL) < 0 && errno != EINTR)
        {
          fprintf (stderr, "ph-link-emulator: poll: %s\n", strerror (errno));
          return 1;
        }

      for (int i = 0; i < 2; i++)
        if ((fds[i].revents & POLLIN) && receive_frames (&dirs[i], delay_ns, jitter_ns) < 0)
          return 1;

      now = now_ns ();
      for (int i = 0; i < 2; i++)
        send_due_frames (&dirs[i], now);
    }

  for (int i = 0; i < 2; i++)
    while (dirs[i].count > 0)
      {
        free (dirs[i].frames[dirs[i].head].data);
        dirs[i].head = (dirs[i].head + 1) % QUEUE_MAX;
        dirs[i].count--;
      }
  close (fd_a);
  close (fd_b);
  return 0;
}
