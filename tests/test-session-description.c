/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-session-description"

#include "config.h"

#include <string.h>

#include <nice.h>

#include "ph-error.h"
#include "ph-session-description.h"

#define FINGERPRINT                                                                                \
  "3A:9C:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:01:23:45:67:89:AB:CD:EF:10:32:54:76:98:"  \
  "F0"
#define FUZZ_ITERATIONS 20000

static const char *const valid_candidates[] = {
  "candidate:1 1 UDP 2015363327 10.1.0.2 39989 typ host",
  "candidate:2 1 UDP 2015363071 2001:db8::7 40123 typ host",
  "candidate:3 1 UDP 1679819007 203.0.113.1 39989 typ srflx raddr 10.1.0.2 rport 39989",
  "candidate:4 1 udp 8331263 198.51.100.9 50000 typ relay raddr 203.0.113.1 rport 39989",
  "candidate:5 1 UDP 8331007 2001:db8:1::9 50002 typ relay raddr 2001:db8::7 rport 40123",
  "candidate:6 1 TCP 1015022079 10.1.0.2 9 typ host tcptype active",
  "candidate:7 1 TCP 1010827775 10.1.0.2 41000 typ host tcptype passive",
  "candidate:8 1 tcp 1015021823 10.1.0.2 41001 typ host tcptype so",
  "candidate:9 1 UDP 1845501695 203.0.113.1 39990 typ prflx raddr 10.1.0.2 rport 39990",
  "candidate:a+/Z 1 UDP 4294967295 10.1.0.2 1 typ host generation 0 network-id 1",
  "candidate:11 1 UDP 1686052607 203.0.113.1 39989 typ srflx raddr 0.0.0.0 rport 0",
};

/* The lines of a valid description, as the tests below number them. */
static const char *const base_lines[] = {
  "v=0",                                                                                   /* 1 */
  "o=- 4611731400430051336 1 IN IP4 0.0.0.0",                                              /* 2 */
  "s=pinhole",                                                                             /* 3 */
  "t=0 0",                                                                                 /* 4 */
  "a=ice-options:trickle",                                                                 /* 5 */
  "a=fingerprint:sha-256 " FINGERPRINT,                                                    /* 6 */
  "a=setup:actpass",                                                                       /* 7 */
  "a=x-pinhole-name:Alice",                                                                /* 8 */
  "m=application 9 UDP/TLS/PINHOLE text",                                                  /* 9 */
  "c=IN IP4 0.0.0.0",                                                                      /* 10 */
  "a=mid:0",                                                                               /* 11 */
  "a=ice-ufrag:6Dh2",                                                                      /* 12 */
  "a=ice-pwd:Zp3QxYk8mN2bV7cL1rT9wE4s",                                                    /* 13 */
  "a=candidate:1 1 UDP 2015363327 10.1.0.2 39989 typ host",                                /* 14 */
  "a=candidate:3 1 UDP 1679819007 203.0.113.1 39989 typ srflx raddr 10.1.0.2 rport 39989", /* 15 */
  "a=end-of-candidates",                                                                   /* 16 */
};

typedef struct
{
  char *name;
  GBytes *text;
  char *pattern; /* a regular expression the error message must match */
} RejectCase;

static GPtrArray *reject_cases;

static PhSessionDescription *
make_description (void)
{
  PhSessionDescription *desc = ph_session_description_new ();

  desc->session_id = G_GUINT64_CONSTANT (4611731400430051336);
  desc->session_version = 7;
  desc->name = g_strdup ("Zoë 🙂 李");
  desc->fingerprint = g_strdup (FINGERPRINT);
  desc->setup = g_strdup ("actpass");
  desc->ice_ufrag = g_strdup ("6Dh2");
  desc->ice_pwd = g_strdup ("Zp3QxYk8mN2bV7cL1rT9wE4s+/");
  for (gsize i = 0; i < G_N_ELEMENTS (valid_candidates); i++)
    g_ptr_array_add (desc->candidates, g_strdup (valid_candidates[i]));
  desc->end_of_candidates = TRUE;
  desc->has_link_isn = TRUE;
  desc->link_isn = G_MAXUINT32;

  return desc;
}

static void
assert_descriptions_equal (const PhSessionDescription *a, const PhSessionDescription *b)
{
  g_assert_cmpuint (a->session_id, ==, b->session_id);
  g_assert_cmpuint (a->session_version, ==, b->session_version);
  g_assert_cmpstr (a->name, ==, b->name);
  g_assert_cmpstr (a->fingerprint, ==, b->fingerprint);
  g_assert_cmpstr (a->setup, ==, b->setup);
  g_assert_cmpstr (a->ice_ufrag, ==, b->ice_ufrag);
  g_assert_cmpstr (a->ice_pwd, ==, b->ice_pwd);
  g_assert_cmpint (a->end_of_candidates, ==, b->end_of_candidates);
  g_assert_cmpint (a->has_link_isn, ==, b->has_link_isn);
  g_assert_cmpuint (a->link_isn, ==, b->link_isn);
  g_assert_cmpuint (a->candidates->len, ==, b->candidates->len);
  for (guint i = 0; i < a->candidates->len; i++)
    g_assert_cmpstr (g_ptr_array_index (a->candidates, i), ==,
                     g_ptr_array_index (b->candidates, i));
}

static char *
join_lines (const char *const *lines, gsize n_lines, const char *ending)
{
  GString *s = g_string_new (NULL);

  for (gsize i = 0; i < n_lines; i++)
    {
      g_string_append (s, lines[i]);
      g_string_append (s, ending);
    }

  return g_string_free (s, FALSE);
}

static void
test_to_string_exact (void)
{
  g_autoptr (PhSessionDescription) desc = ph_session_description_new ();
  g_autofree char *text = NULL;

  desc->session_id = 42;
  desc->session_version = 1;
  desc->name = g_strdup ("Alice");
  desc->fingerprint = g_strdup (FINGERPRINT);
  desc->setup = g_strdup ("active");
  desc->ice_ufrag = g_strdup ("6Dh2");
  desc->ice_pwd = g_strdup ("Zp3QxYk8mN2bV7cL1rT9wE4s");
  g_ptr_array_add (desc->candidates, g_strdup (valid_candidates[0]));
  desc->end_of_candidates = TRUE;
  desc->has_link_isn = TRUE;
  desc->link_isn = 3735928559u;

  text = ph_session_description_to_string (desc);
  g_assert_cmpstr (text, ==,
                   "v=0\r\n"
                   "o=- 42 1 IN IP4 0.0.0.0\r\n"
                   "s=pinhole\r\n"
                   "t=0 0\r\n"
                   "a=ice-options:trickle\r\n"
                   "a=fingerprint:sha-256 " FINGERPRINT "\r\n"
                   "a=setup:active\r\n"
                   "a=x-pinhole-name:Alice\r\n"
                   "m=application 9 UDP/TLS/PINHOLE text\r\n"
                   "c=IN IP4 0.0.0.0\r\n"
                   "a=mid:0\r\n"
                   "a=ice-ufrag:6Dh2\r\n"
                   "a=ice-pwd:Zp3QxYk8mN2bV7cL1rT9wE4s\r\n"
                   "a=x-pinhole-link-isn:3735928559\r\n"
                   "a=candidate:1 1 UDP 2015363327 10.1.0.2 39989 typ host\r\n"
                   "a=end-of-candidates\r\n");

  /* Without a name, end-of-candidates or link ISN those lines are left out. */
  g_clear_pointer (&desc->name, g_free);
  desc->end_of_candidates = FALSE;
  desc->has_link_isn = FALSE;
  g_clear_pointer (&text, g_free);
  text = ph_session_description_to_string (desc);
  g_assert_null (strstr (text, "x-pinhole-name"));
  g_assert_null (strstr (text, "end-of-candidates"));
  g_assert_null (strstr (text, "x-pinhole-link-isn"));
  g_assert_true (g_str_has_suffix (text, "typ host\r\n"));
}

static void
test_round_trip (void)
{
  g_autoptr (PhSessionDescription) desc = make_description ();
  g_autoptr (PhSessionDescription) parsed = NULL;
  g_autoptr (PhSessionDescription) copy = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = ph_session_description_to_string (desc);

  parsed = ph_session_description_parse (text, strlen (text), &error);
  g_assert_no_error (error);
  g_assert_nonnull (parsed);
  assert_descriptions_equal (desc, parsed);

  copy = ph_session_description_copy (parsed);
  assert_descriptions_equal (desc, copy);
  g_assert_true (copy->candidates != parsed->candidates);
}

static void
test_round_trip_minimal (void)
{
  g_autoptr (PhSessionDescription) desc = make_description ();
  g_autoptr (PhSessionDescription) parsed = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;

  g_clear_pointer (&desc->name, g_free);
  g_ptr_array_set_size (desc->candidates, 0);
  desc->end_of_candidates = FALSE;
  text = ph_session_description_to_string (desc);

  parsed = ph_session_description_parse (text, strlen (text), &error);
  g_assert_no_error (error);
  assert_descriptions_equal (desc, parsed);
  g_assert_null (parsed->name);
}

static void
test_lf_only (void)
{
  g_autofree char *text = join_lines (base_lines, G_N_ELEMENTS (base_lines), "\n");
  g_autoptr (PhSessionDescription) desc = NULL;
  g_autoptr (GError) error = NULL;

  desc = ph_session_description_parse (text, strlen (text), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (desc->name, ==, "Alice");
  g_assert_cmpstr (desc->ice_pwd, ==, "Zp3QxYk8mN2bV7cL1rT9wE4s");
  g_assert_cmpuint (desc->candidates->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (desc->candidates, 1), ==, base_lines[14] + 2);
  g_assert_true (desc->end_of_candidates);
  /* An older peer's description: no link ISN. */
  g_assert_false (desc->has_link_isn);
}

/* The link's initial sequence number: any 32-bit value, where it stands
 * among the attributes does not matter, and without it the description
 * is an older peer's (the link then starts at 0 on both sides). */
static void
test_link_isn (void)
{
  const struct
  {
    guint line;
    const char *attribute;
    guint32 expected;
  } cases[] = {
    { 14, "a=x-pinhole-link-isn:0", 0 },
    { 14, "a=x-pinhole-link-isn:4294967295", G_MAXUINT32 },
    { 8, "a=x-pinhole-link-isn:2147483648", 2147483648u },
    { 17, "a=x-pinhole-link-isn:10", 10 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) text = NULL;
      g_autoptr (PhSessionDescription) desc = NULL;
      g_autoptr (PhSessionDescription) copy = NULL;
      g_autoptr (GError) error = NULL;
      const char *lines[G_N_ELEMENTS (base_lines) + 1];
      g_autofree char *joined = NULL;
      guint n = 0;

      for (guint j = 0; j < G_N_ELEMENTS (base_lines); j++)
        {
          if (j + 1 == cases[i].line)
            lines[n++] = cases[i].attribute;
          lines[n++] = base_lines[j];
        }
      if (n < G_N_ELEMENTS (lines))
        lines[n++] = cases[i].attribute;
      joined = join_lines (lines, n, "\r\n");

      desc = ph_session_description_parse (joined, strlen (joined), &error);
      g_assert_no_error (error);
      g_assert_true (desc->has_link_isn);
      g_assert_cmpuint (desc->link_isn, ==, cases[i].expected);
      copy = ph_session_description_copy (desc);
      g_assert_true (copy->has_link_isn);
      g_assert_cmpuint (copy->link_isn, ==, cases[i].expected);
    }
}

static void
test_last_line_unterminated (void)
{
  g_autofree char *text = join_lines (base_lines, G_N_ELEMENTS (base_lines), "\r\n");
  g_autoptr (PhSessionDescription) desc = NULL;
  g_autoptr (GError) error = NULL;

  desc = ph_session_description_parse (text, strlen (text) - 2, &error);
  g_assert_no_error (error);
  g_assert_true (desc->end_of_candidates);
}

static void
test_fingerprint_normalised (void)
{
  g_autofree char *lower = g_ascii_strdown ("a=fingerprint:SHA-256 " FINGERPRINT, -1);
  const char *lines[G_N_ELEMENTS (base_lines)];
  g_autofree char *text = NULL;
  g_autoptr (PhSessionDescription) desc = NULL;
  g_autoptr (GError) error = NULL;

  memcpy (lines, base_lines, sizeof lines);
  lines[5] = lower;
  text = join_lines (lines, G_N_ELEMENTS (lines), "\r\n");

  desc = ph_session_description_parse (text, strlen (text), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (desc->fingerprint, ==, FINGERPRINT);
}

/* A newer peer may add attributes and informational fields; they are skipped. */
static void
test_unknown_attributes_ignored (void)
{
  const char *lines[] = {
    "v=0",
    "o=- 1 2 IN IP6 ::",
    "s=-",
    "i=a chat",
    "t=0 0",
    "a=x-future:whatever",
    "a=recvonly",
    "a=fingerprint:sha-256 " FINGERPRINT,
    "a=setup:passive",
    "m=application 9 UDP/TLS/PINHOLE text",
    "b=AS:30",
    "a=ice-ufrag:abcd",
    "a=ice-pwd:0123456789012345678901",
    "a=x-something-else:1 2 3",
  };
  g_autofree char *text = join_lines (lines, G_N_ELEMENTS (lines), "\r\n");
  g_autoptr (PhSessionDescription) desc = NULL;
  g_autoptr (GError) error = NULL;

  desc = ph_session_description_parse (text, strlen (text), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (desc->session_id, ==, 1);
  g_assert_cmpuint (desc->session_version, ==, 2);
  g_assert_cmpstr (desc->setup, ==, "passive");
  g_assert_null (desc->name);
  g_assert_cmpuint (desc->candidates->len, ==, 0);
  g_assert_false (desc->end_of_candidates);
}

/* Every candidate Pinhole accepts must be one libnice 0.1.21 can take. */
static void
assert_libnice_accepts (NiceAgent *agent, guint stream_id, const char *candidate)
{
  g_autofree char *line = g_strconcat ("a=", candidate, NULL);
  NiceCandidate *parsed = nice_agent_parse_remote_candidate_sdp (agent, stream_id, line);

  if (parsed == NULL)
    g_error ("libnice refused “%s”", line);
  g_assert_cmpuint (parsed->component_id, ==, 1);
  g_assert_cmpuint (parsed->priority, >, 0);
  g_assert_cmpuint (nice_address_get_port (&parsed->addr), >, 0);
  nice_candidate_free (parsed);
}

static NiceAgent *
make_agent (guint *stream_id)
{
  NiceAgent *agent = nice_agent_new (g_main_context_default (), NICE_COMPATIBILITY_RFC5245);

  *stream_id = nice_agent_add_stream (agent, 1);
  g_assert_cmpuint (*stream_id, >, 0);
  return agent;
}

static void
test_candidate_valid (void)
{
  guint stream_id;
  NiceAgent *agent = make_agent (&stream_id);

  for (gsize i = 0; i < G_N_ELEMENTS (valid_candidates); i++)
    {
      g_autoptr (GError) error = NULL;

      g_test_message ("%s", valid_candidates[i]);
      g_assert_true (ph_candidate_validate (valid_candidates[i], &error));
      g_assert_no_error (error);
      assert_libnice_accepts (agent, stream_id, valid_candidates[i]);
    }

  g_object_unref (agent);
}

static void
test_candidate_invalid (void)
{
  const struct
  {
    const char *candidate;
    const char *reason;
  } cases[] = {
    { "a=candidate:1 1 UDP 1 10.0.0.1 1 typ host", "must start with “candidate:”" },
    { "candidate:1 1 UDP 1 10.0.0.1 1 typ", "too few fields" },
    { "candidate:1 1 UDP 1 10.0.0.1 1  typ host", "single spaces" },
    { "candidate:1 1 UDP 1 10.0.0.1 1 typ host ", "single spaces" },
    { "candidate:1\t1 UDP 1 10.0.0.1 1 typ host", "printable ASCII" },
    { "candidate:f-o 1 UDP 1 10.0.0.1 1 typ host", "foundation “f-o”" },
    { "candidate:123456789012345678901234567890123 1 UDP 1 10.0.0.1 1 typ host", "foundation" },
    { "candidate:1 2 UDP 1 10.0.0.1 1 typ host", "component must be 1, not “2”" },
    { "candidate:1 01x UDP 1 10.0.0.1 1 typ host", "component must be 1" },
    { "candidate:1 1 SCTP 1 10.0.0.1 1 typ host", "transport must be UDP or TCP" },
    { "candidate:1 1 UDP 0 10.0.0.1 1 typ host", "priority must be a number from 1 to 4294967295" },
    { "candidate:1 1 UDP 4294967296 10.0.0.1 1 typ host", "priority" },
    { "candidate:1 1 UDP -5 10.0.0.1 1 typ host", "priority" },
    { "candidate:1 1 UDP +5 10.0.0.1 1 typ host", "priority" },
    { "candidate:1 1 UDP 1 example.com 1 typ host", "“example.com” is not a numeric" },
    { "candidate:1 1 UDP 1 2b4f0a9c-1d2e.local 1 typ host", "mDNS" },
    { "candidate:1 1 UDP 1 10.0.0 1 typ host", "not a numeric IPv4 or IPv6" },
    { "candidate:1 1 UDP 1 2001:db8::zz 1 typ host", "not a numeric" },
    { "candidate:1 1 UDP 1 0.0.0.0 1 typ host", "unspecified" },
    { "candidate:1 1 UDP 1 224.0.0.1 1 typ host", "multicast" },
    { "candidate:1 1 UDP 1 10.0.0.1 0 typ host", "port must be a number from 1 to 65535" },
    { "candidate:1 1 UDP 1 10.0.0.1 65536 typ host", "port" },
    { "candidate:1 1 UDP 1 10.0.0.1 1 type host", "seventh field must be “typ”" },
    { "candidate:1 1 UDP 1 10.0.0.1 1 typ HOST", "type must be host, srflx, prflx or relay" },
    { "candidate:1 1 UDP 1 10.0.0.1 1 typ srflx", "srflx candidate needs raddr and rport" },
    { "candidate:1 1 UDP 1 10.0.0.1 1 typ relay", "relay candidate needs raddr" },
    { "candidate:1 1 UDP 1 10.0.0.1 1 typ prflx raddr 10.0.0.2 rport", "“rport” has no value" },
    { "candidate:1 1 UDP 1 10.0.0.1 1 typ prflx raddr 10.0.0.2 foo 1",
      "raddr and rport must be given together" },
    { "candidate:1 1 UDP 1 10.0.0.1 1 typ srflx raddr host.lan rport 1", "raddr “host.lan”" },
    { "candidate:1 1 UDP 1 10.0.0.1 1 typ srflx raddr 10.0.0.2 rport 99999", "rport" },
    { "candidate:1 1 UDP 1 10.0.0.1 1 typ host raddr 1.2.3.4 raddr 1.2.3.4 rport 1",
      "appears twice" },
    { "candidate:1 1 UDP 1 10.0.0.1 1 typ host typ srflx", "“typ” appears twice" },
    { "candidate:1 1 TCP 1 10.0.0.1 9 typ host", "TCP candidate needs a tcptype" },
    { "candidate:1 1 TCP 1 10.0.0.1 9 typ host tcptype sideways", "tcptype must be active" },
    { "candidate:1 1 UDP 1 10.0.0.1 9 typ host tcptype active", "only allowed on TCP" },
  };
  g_autoptr (GString) long_candidate = g_string_new ("candidate:1 1 UDP 1 10.0.0.1 1 typ host");

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;

      g_test_message ("%s", cases[i].candidate);
      g_assert_false (ph_candidate_validate (cases[i].candidate, &error));
      g_assert_error (error, PH_ERROR, PH_ERROR_INVALID_DESCRIPTION);
      g_assert_true (g_str_has_prefix (error->message, "The peer’s ICE candidate is invalid: "));
      if (strstr (error->message, cases[i].reason) == NULL)
        g_error ("“%s” does not mention “%s”", error->message, cases[i].reason);
    }

  while (long_candidate->len <= PH_SESSION_DESCRIPTION_MAX_LINE_LENGTH)
    g_string_append (long_candidate, " generation 0");
  {
    g_autoptr (GError) error = NULL;

    g_assert_false (ph_candidate_validate (long_candidate->str, &error));
    g_assert_error (error, PH_ERROR, PH_ERROR_INVALID_DESCRIPTION);
    g_assert_nonnull (strstr (error->message, "longer than 512 bytes"));
  }
}

static void
add_reject (const char *name, GBytes *text, const char *pattern)
{
  RejectCase *c = g_new0 (RejectCase, 1);

  c->name = g_strdup (name);
  c->text = text;
  c->pattern = g_strdup (pattern);
  g_ptr_array_add (reject_cases, c);
}

static GBytes *
bytes_from_string (char *text)
{
  return g_bytes_new_take (text, strlen (text));
}

/* The base description with line @line (1-based) replaced by @replacement,
 * or removed when @replacement is NULL; @insert puts it before @line instead. */
static GBytes *
mutate_line (guint line, const char *replacement, gboolean insert)
{
  GPtrArray *lines = g_ptr_array_new ();
  GBytes *text;

  for (guint i = 0; i < G_N_ELEMENTS (base_lines); i++)
    {
      if (i + 1 == line && replacement != NULL)
        g_ptr_array_add (lines, (gpointer)replacement);
      if (i + 1 != line || insert)
        g_ptr_array_add (lines, (gpointer)base_lines[i]);
    }
  if (line > G_N_ELEMENTS (base_lines))
    g_ptr_array_add (lines, (gpointer)replacement);

  text = bytes_from_string (join_lines ((const char *const *)lines->pdata, lines->len, "\r\n"));
  g_ptr_array_unref (lines);
  return text;
}

static void
add_line_rejects (void)
{
  const struct
  {
    const char *name;
    guint line;
    const char *replacement; /* NULL: delete the line */
    gboolean insert;
    const char *pattern;
  } cases[] = {
    { "missing-ice-ufrag", 12, NULL, FALSE,
      "^Line 15 \\(end of the description\\): there is no a=ice-ufrag line$" },
    { "missing-fingerprint", 6, NULL, FALSE,
      "^Line 15 \\(end of the description\\): .*a=fingerprint" },
    { "missing-setup", 7, NULL, FALSE, "^Line 15 .*no a=setup line" },
    { "missing-ice-pwd", 13, NULL, FALSE, "^Line 15 .*no a=ice-pwd line" },
    { "missing-v", 1, NULL, FALSE,
      "^Line 1 \\(o=\\): a session description must start with “v=0”" },
    { "missing-s", 3, NULL, FALSE, "^Line 3 \\(t=\\): the third line must be s=" },
    { "missing-t", 4, NULL, FALSE,
      "^Line 4 \\(a=ice-options\\): attributes must come after the t= line" },
    { "version-1", 1, "v=1", FALSE, "^Line 1 \\(v=\\): the version must be 0, not “1”" },
    { "bad-fingerprint-hex", 6,
      "a=fingerprint:sha-256 3A:9C:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:01:23:45:67:"
      "89:AB:CD:EF:10:32:54:76:98:G0",
      FALSE, "^Line 6 \\(a=fingerprint\\): a sha-256 fingerprint must be 32 hex pairs" },
    { "short-fingerprint", 6, "a=fingerprint:sha-256 3A:9C", FALSE,
      "^Line 6 \\(a=fingerprint\\): a sha-256 fingerprint must be 32 hex pairs" },
    { "md5-fingerprint", 6, "a=fingerprint:md5 3A:9C:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD",
      FALSE, "^Line 6 \\(a=fingerprint\\): only sha-256 fingerprints are supported, not “md5”" },
    { "duplicate-fingerprint", 7, "a=fingerprint:sha-256 " FINGERPRINT, TRUE,
      "^Line 7 \\(a=fingerprint\\): a=fingerprint appears twice \\(first on line 6\\)" },
    { "duplicate-ice-pwd", 14, "a=ice-pwd:Zp3QxYk8mN2bV7cL1rT9wE4s", TRUE,
      "^Line 14 \\(a=ice-pwd\\): a=ice-pwd appears twice \\(first on line 13\\)" },
    { "short-ice-pwd", 13, "a=ice-pwd:tooshort", FALSE,
      "^Line 13 \\(a=ice-pwd\\): the ICE password must be 22 to 256 characters" },
    { "ice-pwd-bad-char", 13, "a=ice-pwd:Zp3QxYk8mN2bV7cL1rT9wE4s-", FALSE,
      "^Line 13 \\(a=ice-pwd\\): the ICE password" },
    { "short-ice-ufrag", 12, "a=ice-ufrag:abc", FALSE,
      "^Line 12 \\(a=ice-ufrag\\): the ICE username fragment must be 4 to 256" },
    { "ice-ufrag-space", 12, "a=ice-ufrag:ab cd", FALSE, "^Line 12 \\(a=ice-ufrag\\)" },
    { "bad-setup", 7, "a=setup:holdconn", FALSE,
      "^Line 7 \\(a=setup\\): the setup role must be actpass, active or passive, not “holdconn”" },
    { "non-utf8-name", 8,
      "a=x-pinhole-name:Al\xff\xfe"
      "ce",
      FALSE, "^Line 8 \\(a=x-pinhole-name\\): the name is not valid UTF-8" },
    { "control-char-in-name", 8, "a=x-pinhole-name:Al\x07ice", FALSE,
      "^Line 8 \\(a=x-pinhole-name\\): the name contains a control character \\(U\\+0007\\)" },
    { "empty-name", 8, "a=x-pinhole-name:", FALSE,
      "^Line 8 \\(a=x-pinhole-name\\): the name is empty" },
    { "tcp-without-tcptype", 14, "a=candidate:1 1 TCP 1015023359 10.1.0.2 9 typ host", FALSE,
      "^Line 14 \\(a=candidate\\): a TCP candidate needs a tcptype" },
    { "priority-0", 14, "a=candidate:1 1 UDP 0 10.1.0.2 39989 typ host", FALSE,
      "^Line 14 \\(a=candidate\\): the priority must be a number from 1 to 4294967295, not “0”" },
    { "hostname-address", 14, "a=candidate:1 1 UDP 2015363327 peer.example.org 39989 typ host",
      FALSE,
      "^Line 14 \\(a=candidate\\): the address “peer.example.org” is not a numeric IPv4 or "
      "IPv6 address" },
    { "mdns-address", 14,
      "a=candidate:1 1 UDP 2015363327 1f4712db-ea17-4bcf-a596-105139dfd8bf.local 39989 typ host",
      FALSE, "^Line 14 \\(a=candidate\\): the address “.*…” is an mDNS name" },
    { "component-2", 14, "a=candidate:1 2 UDP 2015363327 10.1.0.2 39989 typ host", FALSE,
      "^Line 14 \\(a=candidate\\): the component must be 1, not “2”" },
    { "port-0", 14, "a=candidate:1 1 UDP 2015363327 10.1.0.2 0 typ host", FALSE,
      "^Line 14 \\(a=candidate\\): the port must be a number from 1 to 65535, not “0”" },
    { "port-70000", 15,
      "a=candidate:3 1 UDP 1679819007 203.0.113.1 70000 typ srflx raddr 10.1.0.2 rport 39989",
      FALSE, "^Line 15 \\(a=candidate\\): the port must be a number from 1 to 65535, not “70000”" },
    { "srflx-without-raddr", 15, "a=candidate:3 1 UDP 1679819007 203.0.113.1 39989 typ srflx",
      FALSE, "^Line 15 \\(a=candidate\\): a srflx candidate needs raddr and rport" },
    { "candidate-before-m", 8, "a=candidate:1 1 UDP 2015363327 10.1.0.2 39989 typ host", TRUE,
      "^Line 8 \\(a=candidate\\): candidates belong after the m= line" },
    { "candidate-after-end", 17, "a=candidate:9 1 UDP 2015363327 10.1.0.9 39989 typ host", FALSE,
      "^Line 17 \\(a=candidate\\): a candidate follows a=end-of-candidates \\(line 16\\)" },
    { "line-without-equals", 10, "c IN IP4 0.0.0.0", FALSE,
      "^Line 10: “c IN IP4 0.0.0.0” is not of the form <letter>=<value>" },
    { "upper-case-letter", 10, "C=IN IP4 0.0.0.0", FALSE, "^Line 10: “C=IN IP4 0.0.0.0” is not" },
    { "unknown-letter", 10, "x=whatever", FALSE,
      "^Line 10 \\(x=\\): “x=” is not a session description field" },
    { "blank-line", 10, "", TRUE, "^Line 10: the line is empty" },
    { "second-m-line", 16, "m=application 9 UDP/TLS/PINHOLE text", TRUE,
      "^Line 16 \\(m=\\): only one m= section is supported \\(the first is on line 9\\)" },
    { "wrong-media", 9, "m=audio 9 RTP/AVP 0", FALSE,
      "^Line 9 \\(m=\\): the media line must be “m=application 9 UDP/TLS/PINHOLE text”" },
    { "origin-not-numeric", 2, "o=- abc 1 IN IP4 0.0.0.0", FALSE,
      "^Line 2 \\(o=\\): the session id must be a decimal number" },
    { "origin-too-big", 2, "o=- 18446744073709551616 1 IN IP4 0.0.0.0", FALSE,
      "^Line 2 \\(o=\\): the session id" },
    { "origin-short", 2, "o=- 1 1 IN IP4", FALSE, "^Line 2 \\(o=\\): the origin must look like" },
    { "v-twice", 5, "v=0", TRUE, "^Line 5 \\(v=\\): v= may only be the first line" },
    { "end-of-candidates-value", 16, "a=end-of-candidates:yes", FALSE,
      "^Line 16 \\(a=end-of-candidates\\): a=end-of-candidates takes no value" },
    { "attribute-without-value", 12, "a=ice-ufrag", FALSE,
      "^Line 12 \\(a=ice-ufrag\\): a=ice-ufrag needs a value" },
    { "bad-attribute-name", 12, "a=ice ufrag:abcd", FALSE,
      "^Line 12 \\(a=\\): an attribute must look like" },
    { "session-field-in-media", 11, "z=0 -1h", TRUE,
      "^Line 11 \\(z=\\): z= is not allowed after the m= line" },
#define LINK_ISN_PROBLEM                                                                           \
  "^Line 14 \\(a=x-pinhole-link-isn\\): the link’s initial sequence number must be a decimal "   \
  "number from 0 to 4294967295 without leading zeros, not "
    { "link-isn-too-big", 14, "a=x-pinhole-link-isn:4294967296", TRUE,
      LINK_ISN_PROBLEM "“4294967296”$" },
    { "link-isn-huge", 14, "a=x-pinhole-link-isn:99999999999999999999999", TRUE,
      LINK_ISN_PROBLEM "“99999999999999999999999”$" },
    { "link-isn-negative", 14, "a=x-pinhole-link-isn:-1", TRUE, LINK_ISN_PROBLEM "“-1”$" },
    { "link-isn-plus", 14, "a=x-pinhole-link-isn:+1", TRUE, LINK_ISN_PROBLEM "“\\+1”$" },
    { "link-isn-hex", 14, "a=x-pinhole-link-isn:0x10", TRUE, LINK_ISN_PROBLEM "“0x10”$" },
    { "link-isn-leading-zero", 14, "a=x-pinhole-link-isn:0123", TRUE, LINK_ISN_PROBLEM "“0123”$" },
    { "link-isn-word", 14, "a=x-pinhole-link-isn:random", TRUE, LINK_ISN_PROBLEM "“random”$" },
    { "link-isn-space", 14, "a=x-pinhole-link-isn: 12", TRUE, LINK_ISN_PROBLEM "“ 12”$" },
    { "link-isn-trailing", 14, "a=x-pinhole-link-isn:12 34", TRUE, LINK_ISN_PROBLEM "“12 34”$" },
    { "link-isn-empty", 14, "a=x-pinhole-link-isn:", TRUE, LINK_ISN_PROBLEM "“”$" },
    { "link-isn-without-value", 14, "a=x-pinhole-link-isn", TRUE,
      "^Line 14 \\(a=x-pinhole-link-isn\\): a=x-pinhole-link-isn needs a value after “:”$" },
#undef LINK_ISN_PROBLEM
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    add_reject (cases[i].name, mutate_line (cases[i].line, cases[i].replacement, cases[i].insert),
                cases[i].pattern);
}

static void
add_whole_text_rejects (void)
{
  g_autofree char *crlf = join_lines (base_lines, G_N_ELEMENTS (base_lines), "\r\n");
  g_autofree char *lf = join_lines (base_lines, G_N_ELEMENTS (base_lines), "\n");
  GString *s;
  char *text;

  add_reject ("empty", g_bytes_new_static ("", 0), "^Line 1: the session description is empty$");

  /* Two numbers for one link: which would the peer use? */
  s = g_string_new (NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (base_lines); i++)
    {
      if (i == 13)
        g_string_append (s, "a=x-pinhole-link-isn:1\r\na=x-pinhole-link-isn:1\r\n");
      g_string_append_printf (s, "%s\r\n", base_lines[i]);
    }
  add_reject ("link-isn-twice", bytes_from_string (g_string_free (s, FALSE)),
              "^Line 15 \\(a=x-pinhole-link-isn\\): a=x-pinhole-link-isn appears twice \\(first "
              "on line 14\\)$");

  /* Line 7 ends in a bare LF in a CR LF description, and the reverse. */
  s = g_string_new (NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (base_lines); i++)
    g_string_append_printf (s, "%s%s", base_lines[i], i == 6 ? "\n" : "\r\n");
  add_reject ("crlf-mixed-with-lf", bytes_from_string (g_string_free (s, FALSE)),
              "^Line 7 \\(a=setup\\): the line ends in a bare LF but line 1 ends in CR LF");
  s = g_string_new (NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (base_lines); i++)
    g_string_append_printf (s, "%s%s", base_lines[i], i == 4 ? "\r\n" : "\n");
  add_reject ("lf-mixed-with-crlf", bytes_from_string (g_string_free (s, FALSE)),
              "^Line 5 \\(a=ice-options\\): the line ends in CR LF but line 1 ends in a bare LF");

  text = g_strdup (lf);
  *strstr (text, "trickle") = '\r';
  add_reject ("stray-cr", bytes_from_string (text),
              "^Line 5 \\(a=ice-options\\): the line contains a stray carriage return");

  /* A NUL inside the name on line 8. */
  text = g_strdup (crlf);
  text[strstr (text, "Alice") - text + 2] = '\0';
  add_reject ("embedded-nul", g_bytes_new_take (text, strlen (crlf)),
              "^Line 8 \\(a=x-pinhole-name\\): the line contains a NUL byte");

  /* 65 two-byte characters: within the line limit, over the name limit. */
  s = g_string_new ("a=x-pinhole-name:");
  for (gsize i = 0; i < PH_SESSION_DESCRIPTION_MAX_NAME_LENGTH + 1; i++)
    g_string_append (s, "é");
  text = g_string_free (s, FALSE);
  add_reject ("too-long-name", mutate_line (8, text, FALSE),
              "^Line 8 \\(a=x-pinhole-name\\): the name is 65 characters long; the limit is 64");
  g_free (text);

  s = g_string_new (NULL);
  for (gsize i = 0; i < 7; i++)
    g_string_append_printf (s, "%s\r\n", base_lines[i]);
  g_string_append (s, "a=x-pinhole-name:");
  for (gsize i = 0; i < 10 * 1024; i++)
    g_string_append_c (s, 'a');
  g_string_append (s, "\r\n");
  for (gsize i = 8; i < G_N_ELEMENTS (base_lines); i++)
    g_string_append_printf (s, "%s\r\n", base_lines[i]);
  add_reject ("huge-line", bytes_from_string (g_string_free (s, FALSE)),
              "^Line 8 \\(a=x-pinhole-name\\): the line is longer than 512 bytes");

  /* Unknown attributes are skipped, but still count against the limits. */
  s = g_string_new (NULL);
  for (gsize i = 0; i < 4; i++)
    g_string_append_printf (s, "%s\r\n", base_lines[i]);
  for (gsize i = 0; i < 40; i++)
    {
      g_string_append (s, "a=x-padding:");
      for (gsize j = 0; j < 480; j++)
        g_string_append_c (s, 'p');
      g_string_append (s, "\r\n");
    }
  g_string_append (s, crlf + strlen ("v=0\r\n"));
  add_reject ("over-size-limit", bytes_from_string (g_string_free (s, FALSE)),
              "^Line [0-9]+ \\(a=x-padding\\): the session description is over the 16384-byte "
              "limit");

  s = g_string_new (NULL);
  for (gsize i = 0; i < 4; i++)
    g_string_append_printf (s, "%s\r\n", base_lines[i]);
  for (gsize i = 0; i < 200; i++)
    g_string_append (s, "a=x-a\r\n");
  add_reject ("too-many-lines", bytes_from_string (g_string_free (s, FALSE)),
              "^Line 129 \\(a=x-a\\): a session description may have at most 128 lines");

  /* Lines 14 and 15 hold candidates; the 33rd lands on line 46. */
  s = g_string_new (NULL);
  for (gsize i = 0; i < 15; i++)
    g_string_append_printf (s, "%s\r\n", base_lines[i]);
  for (gsize i = 0; i < 1000; i++)
    g_string_append_printf (s, "a=candidate:%zu 1 UDP 2015363327 10.1.%zu.%zu 39989 typ host\r\n",
                            i + 100, i / 250, i % 250 + 1);
  add_reject ("1000-candidates", bytes_from_string (g_string_free (s, FALSE)),
              "^Line 46 \\(a=candidate\\): a session description may carry at most 32 candidates");
}

static void
free_reject_case (gpointer data)
{
  RejectCase *c = data;

  g_free (c->name);
  g_bytes_unref (c->text);
  g_free (c->pattern);
  g_free (c);
}

static void
test_reject (gconstpointer data)
{
  const RejectCase *c = data;
  g_autoptr (PhSessionDescription) desc = NULL;
  g_autoptr (GError) error = NULL;
  gsize length;
  const char *text = g_bytes_get_data (c->text, &length);

  desc = ph_session_description_parse (text, length, &error);
  g_assert_null (desc);
  g_assert_error (error, PH_ERROR, PH_ERROR_INVALID_DESCRIPTION);
  g_test_message ("%s", error->message);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  g_assert_true (g_regex_match_simple ("^Line [0-9]+", error->message, 0, 0));
  if (!g_regex_match_simple (c->pattern, error->message, 0, 0))
    g_error ("“%s” does not match /%s/", error->message, c->pattern);
}

static void
mutate (GRand *rand, GString *s)
{
  guint kind = g_rand_int_range (rand, 0, 6);
  gsize at = s->len > 0 ? g_rand_int_range (rand, 0, s->len) : 0;
  gsize run_length = g_rand_int_range (rand, 1, 120);

  switch (kind)
    {
    case 0: /* flip bits */
      if (s->len > 0)
        s->str[at] ^= 1 << g_rand_int_range (rand, 0, 8);
      break;
    case 1: /* truncate */
      g_string_truncate (s, at);
      break;
    case 2: /* insert a random byte */
      g_string_insert_c (s, at, g_rand_int_range (rand, 0, 256));
      break;
    case 3: /* insert an interesting one */
      g_string_insert_c (s, at, "\r\n \0:=a9"[g_rand_int_range (rand, 0, 8)]);
      break;
    case 4: /* delete a run */
      g_string_erase (s, at, MIN (s->len - at, 1 + run_length % 16));
      break;
    default: /* duplicate a run, which repeats whole lines at times */
      {
        gsize n = MIN (s->len - at, run_length);
        g_autofree char *run = g_strndup (s->str + at, n);

        g_string_insert_len (s, g_rand_int_range (rand, 0, s->len + 1), run, n);
      }
      break;
    }
}

/* Whatever the bytes, parsing gives a description or an error, never a
 * crash; and whatever it accepts survives a round trip and is safe to
 * give to libnice. Run it under valgrind or ASan for the real check. */
static void
test_fuzz (void)
{
  g_autoptr (PhSessionDescription) base = make_description ();
  g_autofree char *valid = ph_session_description_to_string (base);
  /* A fixed seed keeps a failure reproducible. */
  g_autoptr (GRand) rand = g_rand_new_with_seed (0x5d9);
  guint stream_id;
  NiceAgent *agent = make_agent (&stream_id);
  guint accepted = 0;

  for (guint i = 0; i < FUZZ_ITERATIONS; i++)
    {
      g_autoptr (GString) s = g_string_new (valid);
      g_autoptr (PhSessionDescription) desc = NULL;
      g_autoptr (GError) error = NULL;
      guint n_mutations = g_rand_int_range (rand, 1, 5);

      for (guint m = 0; m < n_mutations; m++)
        mutate (rand, s);

      desc = ph_session_description_parse (s->str, s->len, &error);
      g_assert_true ((desc == NULL) != (error == NULL));
      if (desc == NULL)
        {
          g_assert_error (error, PH_ERROR, PH_ERROR_INVALID_DESCRIPTION);
          g_assert_true (g_str_has_prefix (error->message, "Line "));
          g_assert_true (g_utf8_validate (error->message, -1, NULL));
          continue;
        }

      accepted++;
      {
        g_autofree char *again_text = ph_session_description_to_string (desc);
        g_autoptr (PhSessionDescription) again = NULL;
        g_autoptr (GError) again_error = NULL;

        again = ph_session_description_parse (again_text, strlen (again_text), &again_error);
        g_assert_no_error (again_error);
        assert_descriptions_equal (desc, again);
      }
      for (guint c = 0; c < desc->candidates->len; c++)
        assert_libnice_accepts (agent, stream_id, g_ptr_array_index (desc->candidates, c));
    }

  /* Some mutations only touch what the parser ignores (the session name,
   * unknown tokens); if none parse, the loop is not exercising success. */
  g_test_message ("%u of %u mutated descriptions parsed", accepted, FUZZ_ITERATIONS);
  g_assert_cmpuint (accepted, >, 0);
  g_object_unref (agent);
}

int
main (int argc, char *argv[])
{
  int status;

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/session-description/to-string-exact", test_to_string_exact);
  g_test_add_func ("/session-description/round-trip", test_round_trip);
  g_test_add_func ("/session-description/round-trip-minimal", test_round_trip_minimal);
  g_test_add_func ("/session-description/lf-only", test_lf_only);
  g_test_add_func ("/session-description/link-isn", test_link_isn);
  g_test_add_func ("/session-description/last-line-unterminated", test_last_line_unterminated);
  g_test_add_func ("/session-description/fingerprint-normalised", test_fingerprint_normalised);
  g_test_add_func ("/session-description/unknown-attributes-ignored",
                   test_unknown_attributes_ignored);
  g_test_add_func ("/session-description/candidate/valid", test_candidate_valid);
  g_test_add_func ("/session-description/candidate/invalid", test_candidate_invalid);

  reject_cases = g_ptr_array_new_with_free_func (free_reject_case);
  add_line_rejects ();
  add_whole_text_rejects ();
  for (guint i = 0; i < reject_cases->len; i++)
    {
      RejectCase *c = g_ptr_array_index (reject_cases, i);
      g_autofree char *path = g_strdup_printf ("/session-description/reject/%s", c->name);

      g_test_add_data_func (path, c, test_reject);
    }

  g_test_add_func ("/session-description/fuzz", test_fuzz);

  status = g_test_run ();
  g_ptr_array_unref (reject_cases);
  return status;
}
