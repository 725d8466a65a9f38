/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "ph-cli-output.h"
#include "ph-ice-config.h"

G_BEGIN_DECLS

/* In the profile folder: what is said with contacts, and the outbox. */
#define PH_CLI_HISTORY_FILE "history.db"

typedef struct
{
  const char *profile;
  const char *contact; /* `chat CONTACT`: its id or name; NULL for `listen` */
  const char *rendezvous;
  const char *name;
  const PhIceConfig *ice_config;
  gboolean use_server_turn;
  guint timeout_seconds; /* `chat`: after the end of input */
  gboolean leave_copies; /* `chat`: sealed copies for an offline contact */
} PhCliMeetOptions;

/* `chat CONTACT`: lines on standard input are messages to the contact,
 * met again without a code; while the contact is offline each also waits
 * for them on the server as a sealed copy (`stored`). At the end of input
 * it exits 0 once every message was delivered or stored, or 1 with an
 * `error` event after timeout_seconds. `listen`: waits for every contact
 * until SIGINT or SIGTERM, prints what they send, directly or in stored
 * copies, and the receipts of copies it left. Returns the exit status. */
int ph_cli_run_meet (const PhCliMeetOptions *options, PhCliOutput *output);

G_END_DECLS
