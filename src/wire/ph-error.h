/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PH_ERROR (ph_error_quark ())

/* Errors a person or the network can cause. Each has a stable name
 * (ph_error_code_name) that pinhole-cli prints in its `error` events. */
typedef enum
{
  PH_ERROR_FAILED,                 /* "failed" */
  PH_ERROR_INVALID_CODE,           /* "invalid-code": not of the form 42-word-word */
  PH_ERROR_WRONG_CODE,             /* "wrong-code": the PAKE did not agree */
  PH_ERROR_UNKNOWN_CODE,           /* "unknown-code": no such nameplate (expired or never made) */
  PH_ERROR_MAILBOX_FULL,           /* "mailbox-full": two people already use this code */
  PH_ERROR_RENDEZVOUS_UNREACHABLE, /* "rendezvous-unreachable" */
  PH_ERROR_RENDEZVOUS,             /* "rendezvous-error": the server refused a request */
  PH_ERROR_INVALID_DESCRIPTION,    /* "invalid-description" */
  PH_ERROR_INVALID_FRAME,          /* "invalid-frame" */
  PH_ERROR_TAMPERED,               /* "tampered": a sealed message failed authentication */
  PH_ERROR_REPLAYED,               /* "replayed": a sealed message arrived twice */
  PH_ERROR_SECURITY,               /* "security": the peer's certificate is not the one promised */
  PH_ERROR_ICE_FAILED,             /* "ice-failed": no path between the peers */
  PH_ERROR_TIMEOUT,                /* "timeout" */
  PH_ERROR_PEER_LEFT,              /* "peer-left" */
  PH_ERROR_PROTOCOL,               /* "protocol": the peer broke the protocol */
  PH_ERROR_TOO_LARGE,              /* "too-large": a message is over the size limit */
  PH_ERROR_NOT_CONNECTED,          /* "not-connected" */
  PH_ERROR_POSSIBLE_GUESS,         /* "possible-guess": the peer ran the PAKE, then did not
                                    * prove it knew the code */
  PH_ERROR_BURNED_CODE,            /* "burned-code": this code failed once already */
} PhError;

GQuark ph_error_quark (void);
const char *ph_error_code_name (const GError *error);

G_END_DECLS
