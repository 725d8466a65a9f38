/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-error"

#include "config.h"

#include <gio/gio.h>

#include "ph-error.h"

G_DEFINE_QUARK (ph - error - quark, ph_error)

static const char *const code_names[] = {
  [PH_ERROR_FAILED] = "failed",
  [PH_ERROR_INVALID_CODE] = "invalid-code",
  [PH_ERROR_WRONG_CODE] = "wrong-code",
  [PH_ERROR_UNKNOWN_CODE] = "unknown-code",
  [PH_ERROR_MAILBOX_FULL] = "mailbox-full",
  [PH_ERROR_RENDEZVOUS_UNREACHABLE] = "rendezvous-unreachable",
  [PH_ERROR_RENDEZVOUS] = "rendezvous-error",
  [PH_ERROR_INVALID_DESCRIPTION] = "invalid-description",
  [PH_ERROR_INVALID_FRAME] = "invalid-frame",
  [PH_ERROR_TAMPERED] = "tampered",
  [PH_ERROR_REPLAYED] = "replayed",
  [PH_ERROR_SECURITY] = "security",
  [PH_ERROR_ICE_FAILED] = "ice-failed",
  [PH_ERROR_TIMEOUT] = "timeout",
  [PH_ERROR_PEER_LEFT] = "peer-left",
  [PH_ERROR_PROTOCOL] = "protocol",
  [PH_ERROR_TOO_LARGE] = "too-large",
  [PH_ERROR_NOT_CONNECTED] = "not-connected",
  [PH_ERROR_POSSIBLE_GUESS] = "possible-guess",
  [PH_ERROR_BURNED_CODE] = "burned-code",
};

/* Errors from other domains (GIO, TLS) are named "failed" unless they
 * map onto something a person can act on. */
const char *
ph_error_code_name (const GError *error)
{
  g_return_val_if_fail (error != NULL, "failed");

  if (error->domain == PH_ERROR && error->code >= 0 && error->code < (int)G_N_ELEMENTS (code_names))
    return code_names[error->code];
  if (error->domain == G_TLS_ERROR)
    return "security";
  return "failed";
}
