/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "ph-test-process.h"

G_BEGIN_DECLS

/* The project's own programs as children of the test, found through the
 * environment the test setup gives (PINHOLE_RENDEZVOUS_BIN,
 * PINHOLE_CLI_BIN). */

/* Starts pinhole-rendezvous on a free loopback port with @extra_args
 * (NULL-terminated, or NULL); returns it and, in @out_url, its URL. Stop it
 * with ph_test_process_stop(). Its store is memory: unless @extra_args
 * name one (--store). */
PhTestProcess *ph_test_start_rendezvous (const char *const *extra_args, char **out_url);

/* A g_test_add() fixture: a pinhole-rendezvous of its own for each test,
 * started with the extra arguments in the test's data (or none), and
 * stopped after it, which it must survive (exit status 0). */
typedef struct
{
  PhTestProcess *server;
  char *url;
} PhTestRendezvousFixture;

void ph_test_rendezvous_fixture_set_up (PhTestRendezvousFixture *fixture, gconstpointer data);
void ph_test_rendezvous_fixture_tear_down (PhTestRendezvousFixture *fixture, gconstpointer data);

typedef enum
{
  PH_TEST_CLI_TEXT = 0,               /* the output a person reads */
  PH_TEST_CLI_JSON = 1 << 0,          /* --json: one JSON event a line */
  PH_TEST_CLI_NO_SERVER_ICE = 1 << 1, /* --no-server-ice: no TURN from the server */
} PhTestCliFlags;

/* Starts a pinhole-cli peer that meets its peer through the rendezvous
 * server at @url, called @name (NULL: its default), with @args after the
 * options (its command and the command's arguments); @envp adds to its
 * environment, as with ph_test_process_spawn(). */
PhTestProcess *ph_test_spawn_cli (const char *url, const char *name, PhTestCliFlags flags,
                                  const char *const *args, const char *const *envp);

/* For --json peers: @peer connects (within 20 s, scaled) to a peer called
 * @expected_peer_name; @sender's line @text reaches @receiver, and
 * @sender is told it was delivered (10 s each). */
void ph_test_cli_assert_connected (PhTestProcess *peer, const char *expected_peer_name);
void ph_test_cli_assert_message_goes_through (PhTestProcess *sender, PhTestProcess *receiver,
                                              const char *text);

G_END_DECLS
