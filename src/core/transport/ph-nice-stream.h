/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <nice.h>

G_BEGIN_DECLS

/* A pollable byte stream over one component of a NiceAgent stream: the
 * component's datagrams carry a PhReliableLink, which makes them an ordered,
 * reliable byte stream. The agent's sockets are read from @context all the
 * time (nice_agent_attach_recv), so STUN keepalives and the link's
 * acknowledgements flow even when nobody reads. Blocking reads and writes work from other threads
 * (GTlsConnection runs its handshake in one) and fail instead of hanging once the stream is closed
 * or the component fails. Dispose it on @context's thread. */

/* Bytes received but not yet read that the stream holds before failing. */
#define PH_NICE_STREAM_MAX_BUFFERED (16 * 1024 * 1024)

#define PH_TYPE_NICE_STREAM (ph_nice_stream_get_type ())
G_DECLARE_FINAL_TYPE (PhNiceStream, ph_nice_stream, PH, NICE_STREAM, GIOStream)

PhNiceStream *ph_nice_stream_new (NiceAgent *agent, guint stream_id, guint component_id,
                                  GMainContext *context);
void ph_nice_stream_abandon (PhNiceStream *self);
void ph_nice_stream_get_packet_counts (PhNiceStream *self, guint64 *sent, guint64 *resent);

/* The link's numbers come with the peer's session description, which may
 * arrive after ICE started: from ph_nice_stream_await_link_numbers()
 * (called before the agent gathers) until ph_nice_stream_set_link_numbers(),
 * the stream drops what arrives, counted as refused, and takes no writes.
 * Without either, the link numbers from 0 both ways, as older peers do.
 * Setting them on a closed stream does nothing. */
void ph_nice_stream_await_link_numbers (PhNiceStream *self);
void ph_nice_stream_set_link_numbers (PhNiceStream *self, guint32 send_isn, guint32 receive_isn);
/* Datagrams that were not the peer's link packets: malformed, numbered
 * outside the window, or early. */
guint64 ph_nice_stream_get_refused_packets (PhNiceStream *self);

/* Moving to a better path without a new link: the stream also reads
 * @stream_id, another stream of the same agent (listen), then sends on it
 * (send_on) once its component has a pair; from then on the stream's
 * state follows that component. The peer moves on its own, so the old
 * stream is read until the transport removes it; get_heard_on tells the
 * stream the peer's last link packet came on. A removed stream that is
 * not sent on ends nothing. */
gboolean ph_nice_stream_listen (PhNiceStream *self, guint stream_id);
void ph_nice_stream_send_on (PhNiceStream *self, guint stream_id);
guint ph_nice_stream_get_heard_on (PhNiceStream *self);

G_END_DECLS
