/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Frames on the secure channel: a 4-byte big-endian length, then one UTF-8
 * JSON object with a "type" member. */

#define PH_FRAME_PROTOCOL_VERSION 1
#define PH_FRAME_LENGTH_PREFIX_SIZE 4
#define PH_FRAME_MAX_TEXT_SIZE (64 * 1024) /* bytes of UTF-8 in a message */
#define PH_FRAME_MAX_SIZE (512 * 1024)     /* JSON bytes after the length */
#define PH_FRAME_MAX_NAME_LENGTH 64
#define PH_FRAME_MAX_ID_LENGTH 64
/* A probe lists the candidates of one side's new ICE stream. */
#define PH_FRAME_MAX_PROBE_CANDIDATES 16
#define PH_FRAME_MAX_ICE_STRING_LENGTH 256
/* Sequence numbers stay exact in every JSON implementation. */
#define PH_FRAME_MAX_SEQ ((G_GUINT64_CONSTANT (1) << 53) - 1)

typedef enum
{
  PH_FRAME_HELLO,          /* version, name, features */
  PH_FRAME_MSG,            /* id, seq, time (ms since the epoch), text */
  PH_FRAME_ACK,            /* id */
  PH_FRAME_TYPING,         /* active */
  PH_FRAME_BYE,            /* reason (optional) */
  PH_FRAME_PING,           /* liveness while idle; id (optional) asks for a pong */
  PH_FRAME_PONG,           /* id: the answer to a ping, for the round-trip time */
  PH_FRAME_CONTACT_OFFER,  /* key, share, name, signature (ph-contact-exchange.h) */
  PH_FRAME_PROBE,          /* id, ufrag, pwd, candidates: a search for a direct path */
  PH_FRAME_RATCHET_BUNDLE, /* bundle: a contact's pre-keys for sealed copies (ph-ratchet.h) */
  PH_FRAME_UNKNOWN,        /* a type from a newer peer: ignored */
} PhFrameType;

typedef struct
{
  PhFrameType type;
  guint version;   /* hello */
  char *name;      /* hello, contact-offer */
  GStrv features;  /* hello, may be NULL */
  char *id;        /* msg, ack */
  guint64 seq;     /* msg: 1, 2, 3… per conversation and direction */
  gint64 time_ms;  /* msg */
  char *text;      /* msg */
  gboolean active; /* typing */
  char *reason;    /* bye, may be NULL */
  guint64 ping_id; /* ping (0: no pong wanted), pong: 1 to PH_FRAME_MAX_SEQ */
  /* contact-offer, each in base64, checked by ph-contact-exchange.c (a
   * bad value refuses the offer, not the channel) */
  char *public_key;
  char *share;
  char *signature;
  guint64 probe_id; /* probe: 1 to PH_FRAME_MAX_SEQ, the same in both sides' frames */
  char *ufrag;      /* probe: the ICE credentials of the new stream */
  char *pwd;
  GStrv candidates; /* probe: its candidates, at most PH_FRAME_MAX_PROBE_CANDIDATES */
  char *bundle;     /* ratchet-bundle, base64, checked by ph-ratchet.c */
} PhFrame;

PhFrame *ph_frame_new_hello (const char *name, const char *const *features);
/* The frame's seq is 1; set frame->seq for every later message. */
PhFrame *ph_frame_new_msg (const char *id, gint64 time_ms, const char *text);
PhFrame *ph_frame_new_ack (const char *id);
PhFrame *ph_frame_new_typing (gboolean active);
PhFrame *ph_frame_new_bye (const char *reason);
/* Set frame->ping_id to ask for a pong. */
PhFrame *ph_frame_new_ping (void);
PhFrame *ph_frame_new_pong (guint64 ping_id);
PhFrame *ph_frame_new_contact_offer (const char *public_key, const char *share, const char *name,
                                     const char *signature);
PhFrame *ph_frame_new_ratchet_bundle (const char *bundle);
PhFrame *ph_frame_new_probe (guint64 probe_id, const char *ufrag, const char *pwd,
                             const char *const *candidates);
void ph_frame_free (PhFrame *frame);

/* The whole frame, length prefix included. PH_ERROR_TOO_LARGE when a text
 * or the encoded frame is over its limit. */
GBytes *ph_frame_encode (const PhFrame *frame, GError **error);

/* Parses the JSON part of one frame. PH_ERROR_INVALID_FRAME for invalid
 * UTF-8 or JSON, a missing or mistyped member, an over-long field. */
PhFrame *ph_frame_parse (const char *json, gsize length, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhFrame, ph_frame_free)

G_END_DECLS
