/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-candidate-ledger"

#include "config.h"

#include "ph-candidate-ledger.h"
#include "ph-error.h"

#define HOST "candidate:1 1 UDP 2130706431 192.0.2.1 40000 typ host"
#define SRFLX "candidate:2 1 UDP 1694498815 203.0.113.1 40001 typ srflx raddr 0.0.0.0 rport 0"
#define RELAY "candidate:3 1 UDP 16777215 198.51.100.1 40002 typ relay raddr 0.0.0.0 rport 0"

static void
test_has_type (void)
{
  g_assert_true (ph_candidate_has_type (HOST, "host"));
  g_assert_true (ph_candidate_has_type (SRFLX, "srflx"));
  g_assert_false (ph_candidate_has_type (SRFLX, "host"));
  /* "typ relay" is not "typ rel". */
  g_assert_false (ph_candidate_has_type (RELAY, "rel"));
}

static void
test_local_counted_and_capped (void)
{
  g_autoptr (PhCandidateLedger) ledger = ph_candidate_ledger_new (2);
  PhIceDiagnosisInput input = { 0 };
  g_auto (GStrv) local = NULL;

  g_assert_true (ph_candidate_ledger_add_local (ledger, HOST));
  g_assert_true (ph_candidate_ledger_add_local (ledger, SRFLX));
  /* The list is full, but what was gathered still counts. */
  g_assert_false (ph_candidate_ledger_add_local (ledger, RELAY));
  ph_candidate_ledger_fill_diagnosis (ledger, &input);
  g_assert_cmpuint (input.local_srflx, ==, 1);
  g_assert_cmpuint (input.local_relay, ==, 1);

  local = ph_candidate_ledger_dup_local (ledger);
  g_assert_cmpuint (g_strv_length (local), ==, 2);
  g_assert_cmpstr (local[1], ==, SRFLX);
  g_assert_false (ph_candidate_ledger_get_local_done (ledger));
  ph_candidate_ledger_set_local_done (ledger);
  g_assert_true (ph_candidate_ledger_get_local_done (ledger));
}

/* Each of the peer's candidates reaches ICE once, however often the peer
 * repeats it, and a flood is refused. */
static void
test_remote_once_each (void)
{
  g_autoptr (PhCandidateLedger) ledger = ph_candidate_ledger_new (2);
  g_autoptr (GError) error = NULL;

  g_assert_true (ph_candidate_ledger_add_remote (ledger, HOST, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (ph_candidate_ledger_next_for_ice (ledger), ==, HOST);
  g_assert_null (ph_candidate_ledger_next_for_ice (ledger));

  g_assert_false (ph_candidate_ledger_add_remote (ledger, HOST, &error));
  g_assert_no_error (error);
  g_assert_null (ph_candidate_ledger_next_for_ice (ledger));

  g_assert_true (ph_candidate_ledger_add_remote (ledger, RELAY, &error));
  g_assert_false (ph_candidate_ledger_add_remote (ledger, SRFLX, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_PROTOCOL);
  g_assert_cmpstr (ph_candidate_ledger_next_for_ice (ledger), ==, RELAY);
  g_assert_null (ph_candidate_ledger_next_for_ice (ledger));
}

static void
test_diagnosis_counts_remote (void)
{
  g_autoptr (PhCandidateLedger) ledger = ph_candidate_ledger_new (8);
  PhIceDiagnosisInput input = { .stun_configured = TRUE };

  ph_candidate_ledger_add_remote (ledger, HOST, NULL);
  ph_candidate_ledger_add_remote (ledger, SRFLX, NULL);
  ph_candidate_ledger_add_remote (ledger, RELAY, NULL);
  ph_candidate_ledger_fill_diagnosis (ledger, &input);
  g_assert_cmpuint (input.remote_host, ==, 1);
  g_assert_cmpuint (input.remote_srflx, ==, 1);
  g_assert_cmpuint (input.remote_relay, ==, 1);
  /* The caller's fields are left alone. */
  g_assert_true (input.stun_configured);
}

/* A direct check can reach a side from another network only through a
 * server-reflexive or public host candidate: behind a network that
 * blocks UDP there is none, and the chat need not wait for one. */
static void
test_may_go_direct (void)
{
  const char *private_hosts[] = {
    "candidate:4 1 UDP 2130706431 10.0.1.2 40000 typ host",
    "candidate:5 1 UDP 2130706431 192.168.1.2 40000 typ host",
    "candidate:6 1 UDP 2130706431 172.20.0.2 40000 typ host",
    "candidate:7 1 UDP 2130706431 100.64.3.2 40000 typ host",
    "candidate:8 1 UDP 2130706431 fd12:3456::2 40000 typ host",
    "candidate:9 1 UDP 2130706431 fe80::1 40000 typ host",
  };
  g_autoptr (PhCandidateLedger) stuck = ph_candidate_ledger_new (16);
  g_autoptr (PhCandidateLedger) open = ph_candidate_ledger_new (16);
  g_autoptr (PhCandidateLedger) public_host = ph_candidate_ledger_new (16);
  g_autoptr (PhCandidateLedger) ipv6 = ph_candidate_ledger_new (16);

  /* Private hosts and a relay on one side: nothing to wait for. */
  for (guint i = 0; i < G_N_ELEMENTS (private_hosts); i++)
    g_assert_true (ph_candidate_ledger_add_local (stuck, private_hosts[i]));
  g_assert_true (ph_candidate_ledger_add_local (stuck, RELAY));
  g_assert_true (ph_candidate_ledger_add_remote (stuck, SRFLX, NULL));
  g_assert_false (ph_candidate_ledger_may_go_direct (stuck));

  /* The same from the other end. */
  g_assert_true (ph_candidate_ledger_add_local (open, SRFLX));
  g_assert_true (ph_candidate_ledger_add_remote (open, private_hosts[0], NULL));
  g_assert_true (ph_candidate_ledger_add_remote (open, RELAY, NULL));
  g_assert_false (ph_candidate_ledger_may_go_direct (open));
  g_assert_true (ph_candidate_ledger_add_remote (open, SRFLX, NULL));
  g_assert_true (ph_candidate_ledger_may_go_direct (open));

  /* A public host needs no server-reflexive candidate. */
  g_assert_true (ph_candidate_ledger_add_local (public_host, HOST));
  g_assert_true (ph_candidate_ledger_add_remote (public_host, SRFLX, NULL));
  g_assert_true (ph_candidate_ledger_may_go_direct (public_host));

  /* Global IPv6 behind symmetric IPv4 NATs. */
  g_assert_true (ph_candidate_ledger_add_local (
      ipv6, "candidate:10 1 UDP 2130706431 2001:db8:a::2 40000 typ host"));
  g_assert_true (ph_candidate_ledger_add_remote (
      ipv6, "candidate:11 1 UDP 2130706431 2001:db8:b::2 40000 typ host", NULL));
  g_assert_true (ph_candidate_ledger_may_go_direct (ipv6));
}

static void
test_reset (void)
{
  g_autoptr (PhCandidateLedger) ledger = ph_candidate_ledger_new (8);
  g_auto (GStrv) local = NULL;
  g_auto (GStrv) remote = NULL;
  PhIceDiagnosisInput input = { 0 };

  ph_candidate_ledger_add_local (ledger, SRFLX);
  ph_candidate_ledger_set_local_done (ledger);
  ph_candidate_ledger_add_remote (ledger, HOST, NULL);
  ph_candidate_ledger_set_remote_done (ledger);
  ph_candidate_ledger_reset (ledger);

  local = ph_candidate_ledger_dup_local (ledger);
  remote = ph_candidate_ledger_dup_remote (ledger);
  g_assert_cmpuint (g_strv_length (local), ==, 0);
  g_assert_cmpuint (g_strv_length (remote), ==, 0);
  g_assert_false (ph_candidate_ledger_get_local_done (ledger));
  g_assert_false (ph_candidate_ledger_get_remote_done (ledger));
  ph_candidate_ledger_fill_diagnosis (ledger, &input);
  g_assert_cmpuint (input.local_srflx, ==, 0);
  /* A candidate of the old attempt is new to the next one's ICE agent. */
  g_assert_true (ph_candidate_ledger_add_remote (ledger, HOST, NULL));
  g_assert_cmpstr (ph_candidate_ledger_next_for_ice (ledger), ==, HOST);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/candidate-ledger/has-type", test_has_type);
  g_test_add_func ("/candidate-ledger/local-counted-and-capped", test_local_counted_and_capped);
  g_test_add_func ("/candidate-ledger/remote-once-each", test_remote_once_each);
  g_test_add_func ("/candidate-ledger/diagnosis-counts-remote", test_diagnosis_counts_remote);
  g_test_add_func ("/candidate-ledger/may-go-direct", test_may_go_direct);
  g_test_add_func ("/candidate-ledger/reset", test_reset);

  return g_test_run ();
}
