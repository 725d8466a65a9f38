/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-rendezvous-answer"

#include "config.h"

#include <string.h>

#include "ph-error.h"
#include "ph-rendezvous-answer.h"

/* The rendezvous client's readers of answer bodies, on the bytes that
 * pinhole-rendezvous really sends and on what a hostile server could. */

#define SERVER "http://127.0.0.1:8470"
#define SECRET "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void
test_real_answers (void)
{
  const char *allocated
      = "{\"nameplate\":\"1\",\"expires_in\":600,\"side\":1,\"secret\":\"" SECRET "\"}";
  const char *joined
      = "{\"nameplate\":\"1\",\"expires_in\":600,\"side\":2,\"secret\":\"" SECRET "\"}";
  const char *fetched = "{\"messages\":[{\"index\":1,\"side\":1,\"phase\":"
                        "\"pake\",\"body\":\"AAECAw==\"},{\"index\":2,\"side\":2,"
                        "\"phase\":\"desc\",\"body\":\"\"}]}";
  const char *turn = "{\"stun\":[\"stun:192.0.2.1:3478\"],\"turn\":[\"turn:192.0.2.1:3478\"],"
                     "\"username\":\"1796276825:d3a0bb15\",\"credential\":"
                     "\"Hi+pFyNxovbZm33D4CQ3VaZMplI=\",\"ttl\":600}";
  g_autoptr (GError) error = NULL;
  g_autofree char *nameplate = NULL;
  g_autofree char *secret = NULL;
  g_autofree char *claimed = NULL;
  g_autofree char *join_secret = NULL;
  g_autofree char *not_joined = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  g_autoptr (PhTurnInfo) info = NULL;
  PhMailboxMessage *message;
  guint expires_in = 0;
  guint64 index = 0;

  nameplate = ph_rendezvous_answer_parse_allocate (SERVER, allocated, strlen (allocated),
                                                   &expires_in, &secret, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (nameplate, ==, "1");
  g_assert_cmpuint (expires_in, ==, 600);
  g_assert_cmpstr (secret, ==, SECRET);

  claimed = ph_rendezvous_answer_parse_claim (SERVER, allocated, strlen (allocated), "1", &error);
  g_assert_cmpstr (claimed, ==, SECRET);
  g_assert_null (
      ph_rendezvous_answer_parse_claim (SERVER, allocated, strlen (allocated), "2", &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS);
  g_clear_error (&error);

  /* Each seat answers with its own side: a join is side 2. */
  join_secret = ph_rendezvous_answer_parse_join (SERVER, joined, strlen (joined), "1", &error);
  g_assert_cmpstr (join_secret, ==, SECRET);
  not_joined = ph_rendezvous_answer_parse_join (SERVER, allocated, strlen (allocated), "1", &error);
  g_assert_null (not_joined);
  g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS);
  g_assert_nonnull (strstr (error->message, "secret"));
  g_clear_error (&error);

  g_assert_true (ph_rendezvous_answer_parse_post (SERVER, "{\"index\":3}", 11, &index, &error));
  g_assert_cmpuint (index, ==, 3);

  messages = ph_rendezvous_answer_parse_fetch (SERVER, fetched, strlen (fetched), 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (messages->len, ==, 2);
  message = g_ptr_array_index (messages, 0);
  g_assert_cmpuint (message->index, ==, 1);
  g_assert_cmpstr (message->side, ==, "1");
  g_assert_cmpstr (((PhMailboxMessage *)g_ptr_array_index (messages, 1))->side, ==, "2");
  g_assert_cmpstr (message->phase, ==, "pake");
  g_assert_cmpmem (g_bytes_get_data (message->body, NULL), g_bytes_get_size (message->body),
                   "\0\1\2\3", 4);
  g_clear_pointer (&messages, g_ptr_array_unref);

  /* Asked for what follows 1, a message 1 is one seen twice. */
  messages = ph_rendezvous_answer_parse_fetch (SERVER, fetched, strlen (fetched), 1, &error);
  g_assert_null (messages);
  g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS);
  g_assert_nonnull (strstr (error->message, "out of order"));
  g_clear_error (&error);
  messages
      = ph_rendezvous_answer_parse_fetch (SERVER, fetched, strlen (fetched), G_MAXUINT64, &error);
  g_assert_null (messages);
  g_clear_error (&error);

  info = ph_rendezvous_answer_parse_turn (SERVER, turn, strlen (turn), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (info->stun_uris[0], ==, "stun:192.0.2.1:3478");
  g_assert_cmpstr (info->turn_uris[0], ==, "turn:192.0.2.1:3478");
  g_assert_null (info->turn_uris[1]);
  g_assert_cmpstr (info->username, ==, "1796276825:d3a0bb15");
  g_assert_cmpuint (info->ttl, ==, 600);
}

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static GPtrArray *
parse_wait (const char *answer, GError **error)
{
  const char *const ids[] = { ID_A, ID_B };
  const guint64 afters[] = { 0, 5 };

  return ph_rendezvous_answer_parse_meet_wait (SERVER, answer, strlen (answer), ids, afters, 2,
                                               error);
}

static void
assert_wait_refused (const char *answer)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) points = parse_wait (answer, &error);

  g_test_message ("%s", answer);
  g_assert_null (points);
  g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS);
}

/* A wait's answer names only points asked about, each once and with
 * news, their messages above each point's own index. */
static void
test_meeting_point_answers (void)
{
  const char *woken = "{\"points\":[{\"id\":\"" ID_B "\",\"stored\":2,\"messages\":["
                      "{\"index\":7,\"side\":1,\"phase\":\"here\",\"body\":\"\"}]}]}";
  const char *copies = "{\"stored\":[{\"index\":3,\"side\":2,\"body\":\"AAE=\","
                       "\"expires_in\":600},{\"index\":9,\"side\":1,\"body\":\"\","
                       "\"expires_in\":1}]}";
  const char *stored_answer = "{\"index\":4,\"expires_in\":604800}";
  const char *no_index = "{\"index\":0,\"expires_in\":1}";
  g_autoptr (GPtrArray) points = NULL;
  g_autoptr (GPtrArray) stored = NULL;
  g_autoptr (GError) error = NULL;
  PhMeetingPointNews *news;
  PhStoredCopy *copy;
  guint64 index = 0;
  guint expires_in = 0;

  points = parse_wait (woken, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (points->len, ==, 1);
  news = g_ptr_array_index (points, 0);
  g_assert_cmpstr (news->id, ==, ID_B);
  g_assert_cmpuint (news->n_stored, ==, 2);
  g_assert_cmpuint (((PhMailboxMessage *)g_ptr_array_index (news->messages, 0))->index, ==, 7);
  g_clear_pointer (&points, g_ptr_array_unref);
  points = parse_wait ("{\"points\":[]}", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (points->len, ==, 0);

  /* Not asked about, twice, without news, at or below its index. */
  assert_wait_refused ("{\"points\":[{\"id\":\"cc\",\"stored\":1,\"messages\":[]}]}");
  assert_wait_refused ("{\"points\":[{\"id\":\"" ID_A "\",\"stored\":1,\"messages\":[]},"
                       "{\"id\":\"" ID_A "\",\"stored\":1,\"messages\":[]}]}");
  assert_wait_refused ("{\"points\":[{\"id\":\"" ID_A "\",\"stored\":0,\"messages\":[]}]}");
  assert_wait_refused ("{\"points\":[{\"id\":\"" ID_B "\",\"stored\":0,\"messages\":["
                       "{\"index\":5,\"side\":1,\"phase\":\"here\",\"body\":\"\"}]}]}");
  assert_wait_refused ("{\"points\":[{\"id\":\"" ID_A "\",\"stored\":-1,\"messages\":[]}]}");
  assert_wait_refused ("{\"points\":{}}");

  g_assert_true (ph_rendezvous_answer_parse_stored (SERVER, stored_answer, strlen (stored_answer),
                                                    &index, &expires_in, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (index, ==, 4);
  g_assert_cmpuint (expires_in, ==, 604800);
  g_assert_false (
      ph_rendezvous_answer_parse_stored (SERVER, no_index, strlen (no_index), NULL, NULL, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS);
  g_clear_error (&error);

  stored = ph_rendezvous_answer_parse_copies (SERVER, copies, strlen (copies), 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (stored->len, ==, 2);
  copy = g_ptr_array_index (stored, 0);
  g_assert_cmpuint (copy->index, ==, 3);
  g_assert_cmpstr (copy->side, ==, "2");
  g_assert_cmpuint (copy->expires_in, ==, 600);
  g_assert_cmpmem (g_bytes_get_data (copy->body, NULL), g_bytes_get_size (copy->body), "\0\1", 2);
  g_clear_pointer (&stored, g_ptr_array_unref);
  stored = ph_rendezvous_answer_parse_copies (SERVER, copies, strlen (copies), 3, &error);
  g_assert_null (stored);
  g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS);
  g_assert_nonnull (strstr (error->message, "out of order"));
}

/* json-glib 1.6 recurses once per level and overflows the stack some
 * 100 000 levels down: such an answer must be refused before it parses,
 * also when a comment, a quote or an escape of json-glib's own ("\u1"
 * takes the quote after it) would hide the nesting from a simpler count. */
static void
test_deep_nesting_is_refused (void)
{
  const char *prefixes[] = {
    "", "{\"nameplate\":", "[#\"\n", "['\n", "[/*\"*/", "{\"a\":\"\\u1\"\",\"a\":",
  };
  const gsize depth = 1000000;

  for (guint i = 0; i < G_N_ELEMENTS (prefixes); i++)
    {
      g_autoptr (GString) body = g_string_new (prefixes[i]);
      g_autoptr (GError) error = NULL;
      g_autoptr (GError) refusal_error = NULL;
      g_autofree char *nameplate = NULL;
      g_autofree char *secret = NULL;
      PhRendezvousRefusal refusal = {
        .server = SERVER,
        .method = "GET",
        .status = 500,
        .retry_after = -1,
      };

      for (gsize j = 0; j < depth; j++)
        g_string_append_c (body, '[');
      nameplate = ph_rendezvous_answer_parse_allocate (SERVER, body->str, body->len, NULL, &secret,
                                                       &error);
      g_assert_null (nameplate);
      g_assert_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS);
      g_assert_nonnull (strstr (error->message, "not a JSON object"));

      refusal_error = ph_rendezvous_answer_parse_refusal (&refusal, body->str, body->len);
      g_assert_error (refusal_error, PH_ERROR, PH_ERROR_RENDEZVOUS);
      g_assert_nonnull (strstr (refusal_error->message, "HTTP 500"));
    }
}

/* Nesting within reason, and brackets inside strings, still parse. */
static void
test_shallow_nesting_parses (void)
{
  g_autoptr (GString) body = g_string_new ("{\"stun\":[\"[[[[{{{{\\\"]]]\"],\"x\":");
  g_autoptr (PhTurnInfo) info = NULL;
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < 30; i++)
    g_string_append_c (body, '[');
  for (guint i = 0; i < 30; i++)
    g_string_append_c (body, ']');
  g_string_append_c (body, '}');

  info = ph_rendezvous_answer_parse_turn (SERVER, body->str, body->len, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (info->stun_uris[0], ==, "[[[[{{{{\"]]]");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/rendezvous-answer/real-answers", test_real_answers);
  g_test_add_func ("/rendezvous-answer/meeting-point-answers", test_meeting_point_answers);
  g_test_add_func ("/rendezvous-answer/deep-nesting-is-refused", test_deep_nesting_is_refused);
  g_test_add_func ("/rendezvous-answer/shallow-nesting-parses", test_shallow_nesting_parses);

  return g_test_run ();
}
