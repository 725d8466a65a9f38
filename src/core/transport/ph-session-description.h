/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* An SDP-style session description (RFC 8866 line syntax, ICE attributes
 * as in RFC 8839). Parsing is strict and bounded; an error names the line. */

#define PH_SESSION_DESCRIPTION_MAX_SIZE (16 * 1024)
#define PH_SESSION_DESCRIPTION_MAX_LINES 128
#define PH_SESSION_DESCRIPTION_MAX_LINE_LENGTH 512
#define PH_SESSION_DESCRIPTION_MAX_CANDIDATES 32
#define PH_SESSION_DESCRIPTION_MAX_NAME_LENGTH 64

typedef struct
{
  guint64 session_id;
  guint64 session_version;
  char *name;        /* a=x-pinhole-name: UTF-8, may be NULL */
  char *fingerprint; /* a=fingerprint:sha-256: "3A:9C:…" 32 upper-case hex pairs */
  char *setup;       /* a=setup: "actpass", "active" or "passive" */
  char *ice_ufrag;
  char *ice_pwd;
  GPtrArray *candidates; /* of char *, each "candidate:…" (no "a=") */
  gboolean end_of_candidates;
  /* a=x-pinhole-link-isn: where this side's reliable link starts numbering
   * its packets. Absent (older peers): both sides number from 0. */
  gboolean has_link_isn;
  guint32 link_isn;
} PhSessionDescription;

PhSessionDescription *ph_session_description_new (void);
void ph_session_description_free (PhSessionDescription *self);
PhSessionDescription *ph_session_description_copy (const PhSessionDescription *self);

/* Lines end in "\r\n" as RFC 8866 says. */
char *ph_session_description_to_string (const PhSessionDescription *self);

/* Accepts "\r\n" or "\n" line ends (not a mix). PH_ERROR_INVALID_DESCRIPTION
 * with the line number and what is wrong. */
PhSessionDescription *ph_session_description_parse (const char *text, gsize length, GError **error);

/* Validates one ICE candidate attribute value ("candidate:1 1 UDP 2015363327
 * 10.1.0.2 39989 typ host …") before libnice sees it: foundation, component 1,
 * UDP/TCP, priority 1..2^32-1, a numeric IPv4/IPv6 address, port 1..65535,
 * type host/srflx/prflx/relay, raddr/rport where the type needs them, tcptype
 * on TCP candidates. */
gboolean ph_candidate_validate (const char *candidate, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhSessionDescription, ph_session_description_free)

G_END_DECLS
