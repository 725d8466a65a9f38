/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-fuzz-rendezvous-answer"

#include "config.h"

#include <json-glib/json-glib.h>
#include <stdint.h>
#include <string.h>

#include "ph-error.h"
#include "ph-mailbox-batch.h"
#include "ph-mailbox-format.h"
#include "ph-rendezvous-answer.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define SERVER "http://rendezvous.example:8470"
#define NAMEPLATE "42"

/* Byte 0 picks the answer, byte 1 is its parameter (the index a fetch
 * reads past, what a refusal was about, the index a wait's points read
 * past), the rest is the body as a server sent it (for a batch, a fetched
 * message's body). Allocation, claim and join answers carry a side's
 * secret; fetched messages name sides by number. */
enum
{
  ANSWER_ALLOCATE,
  ANSWER_CLAIM,
  ANSWER_POST,
  ANSWER_FETCH,
  ANSWER_TURN,
  ANSWER_REFUSAL,
  ANSWER_JOIN,
  ANSWER_MEET_WAIT,
  ANSWER_STORED,
  ANSWER_COPIES,
  ANSWER_BATCH,
  N_ANSWERS
};

/* An error of a parser: the server's fault, said in a sentence naming it. */
static void
check_malformed (const GError *error)
{
  g_assert (error != NULL);
  g_assert (error->domain == PH_ERROR && error->code == PH_ERROR_RENDEZVOUS);
  g_assert (g_utf8_validate (error->message, -1, NULL));
  g_assert (strstr (error->message, SERVER) != NULL);
}

/* Messages that parsed, written as the server writes them, parse again
 * to the same messages. */
static void
check_fetch_round_trip (GPtrArray *messages, guint64 after)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GPtrArray) again = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "messages");
  json_builder_begin_array (builder);
  for (guint i = 0; i < messages->len; i++)
    {
      PhMailboxMessage *message = g_ptr_array_index (messages, i);
      gsize length;
      const guchar *body = g_bytes_get_data (message->body, &length);
      g_autofree char *encoded = g_base64_encode (body, length);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "index");
      json_builder_add_int_value (builder, (gint64)message->index);
      json_builder_set_member_name (builder, "side");
      json_builder_add_int_value (builder, g_ascii_strtoll (message->side, NULL, 10));
      json_builder_set_member_name (builder, "phase");
      json_builder_add_string_value (builder, message->phase);
      json_builder_set_member_name (builder, "body");
      json_builder_add_string_value (builder, encoded);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  text = json_to_string (root, FALSE);

  again = ph_rendezvous_answer_parse_fetch (SERVER, text, strlen (text), after, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (again->len, ==, messages->len);
  for (guint i = 0; i < messages->len; i++)
    {
      PhMailboxMessage *a = g_ptr_array_index (messages, i);
      PhMailboxMessage *b = g_ptr_array_index (again, i);

      g_assert_cmpuint (a->index, ==, b->index);
      g_assert_cmpstr (a->side, ==, b->side);
      g_assert_cmpstr (a->phase, ==, b->phase);
      g_assert (g_bytes_equal (a->body, b->body));
    }
}

static void
fuzz_fetch (const char *body, gsize length, guint64 after)
{
  g_autoptr (GPtrArray) messages = NULL;
  g_autoptr (GError) error = NULL;
  guint64 last = after;

  messages = ph_rendezvous_answer_parse_fetch (SERVER, body, length, after, &error);
  if (messages == NULL)
    {
      check_malformed (error);
      return;
    }

  g_assert (error == NULL);
  for (guint i = 0; i < messages->len; i++)
    {
      PhMailboxMessage *message = g_ptr_array_index (messages, i);

      g_assert_cmpuint (message->index, >, last);
      g_assert_cmpuint (message->index, <=, G_MAXINT64);
      g_assert (g_str_equal (message->side, "1") || g_str_equal (message->side, "2"));
      g_assert (message->phase[0] != '\0');
      g_assert (message->body != NULL);
      last = message->index;
    }
  check_fetch_round_trip (messages, after);
}

static void
fuzz_turn (const char *body, gsize length)
{
  g_autoptr (PhTurnInfo) info = NULL;
  g_autoptr (GError) error = NULL;

  info = ph_rendezvous_answer_parse_turn (SERVER, body, length, &error);
  if (info == NULL)
    {
      check_malformed (error);
      return;
    }

  g_assert (error == NULL);
  g_assert (info->stun_uris != NULL && info->turn_uris != NULL);
  /* TURN servers come with credentials. */
  g_assert ((info->username == NULL) == (info->credential == NULL));
  if (info->turn_uris[0] != NULL)
    g_assert (info->username != NULL);
}

#define POINT_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define POINT_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* Points that parsed are some of those asked about, each once, each with
 * news above its own index. */
static void
fuzz_meet_wait (const char *body, gsize length, guint8 parameter)
{
  const char *const ids[] = { POINT_A, POINT_B };
  const guint64 afters[] = { parameter, 0 };
  g_autoptr (GPtrArray) points = NULL;
  g_autoptr (GError) error = NULL;
  gboolean seen[2] = { FALSE, FALSE };

  points = ph_rendezvous_answer_parse_meet_wait (SERVER, body, length, ids, afters, 2, &error);
  if (points == NULL)
    {
      check_malformed (error);
      return;
    }

  g_assert (error == NULL);
  g_assert_cmpuint (points->len, <=, 2);
  for (guint i = 0; i < points->len; i++)
    {
      PhMeetingPointNews *news = g_ptr_array_index (points, i);
      guint which = g_str_equal (news->id, POINT_A) ? 0 : 1;
      guint64 last = afters[which];

      g_assert (g_str_equal (news->id, ids[which]));
      g_assert (!seen[which]);
      seen[which] = TRUE;
      g_assert (news->messages->len > 0 || news->n_stored > 0);
      for (guint j = 0; j < news->messages->len; j++)
        {
          PhMailboxMessage *message = g_ptr_array_index (news->messages, j);

          g_assert_cmpuint (message->index, >, last);
          last = message->index;
        }
    }
}

static void
fuzz_copies (const char *body, gsize length, guint64 after)
{
  g_autoptr (GPtrArray) copies = NULL;
  g_autoptr (GError) error = NULL;
  guint64 last = after;

  copies = ph_rendezvous_answer_parse_copies (SERVER, body, length, after, &error);
  if (copies == NULL)
    {
      check_malformed (error);
      return;
    }

  g_assert (error == NULL);
  for (guint i = 0; i < copies->len; i++)
    {
      PhStoredCopy *copy = g_ptr_array_index (copies, i);

      g_assert_cmpuint (copy->index, >, last);
      g_assert_cmpuint (copy->index, <=, G_MAXINT64);
      g_assert (g_str_equal (copy->side, "1") || g_str_equal (copy->side, "2"));
      g_assert (copy->body != NULL);
      last = copy->index;
    }
}

/* A secret that parsed: what a server answered for our side, in the
 * one shape the client sends back. */
static void
check_secret (const char *secret)
{
  g_assert (ph_mailbox_secret_is_valid (secret));
}

static void
fuzz_refusal (const char *body, gsize length, guint8 parameter)
{
  /* Bits 0-2 and 5 pick the status. */
  static const guint statuses[]
      = { 400, 404, 409, 412, 413, 429, 500, 503, 401, 403, 405, 410, 422, 502, 504, 302 };
  static const gint64 waits[] = { -1, 0, 1, 30 };
  PhRendezvousRefusal refusal = {
    .server = SERVER,
    .method = parameter & 0x08 ? "PUT" : "POST",
    .mailbox = parameter & 0x10 ? NAMEPLATE : NULL,
    .status = statuses[(parameter & 0x07) | ((parameter & 0x20) >> 2)],
    .retry_after = waits[parameter >> 6],
  };
  g_autoptr (GError) error = ph_rendezvous_answer_parse_refusal (&refusal, body, length);

  g_assert (error != NULL);
  g_assert (error->domain == PH_ERROR);
  g_assert (g_utf8_validate (error->message, -1, NULL));
  g_assert (error->message[0] != '\0');
  switch (error->code)
    {
    case PH_ERROR_UNKNOWN_CODE:
    case PH_ERROR_MAILBOX_FULL:
      /* Only about a mailbox, and they say which. */
      g_assert (refusal.mailbox != NULL);
      g_assert (strstr (error->message, NAMEPLATE) != NULL);
      break;
    case PH_ERROR_RENDEZVOUS:
      break;
    default:
      g_assert_not_reached ();
    }
}

/* A fetched message of phase "batch" (its body as the peer posted it):
 * what decodes encodes again to the same bytes. */
static void
fuzz_batch (const char *body, gsize length)
{
  g_autoptr (GBytes) bytes = g_bytes_new (body, length);
  PhMailboxMessage batch = { 3, (char *)"2", (char *)PH_MAILBOX_BATCH_PHASE, bytes };
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) messages = ph_mailbox_batch_decode (&batch, &error);
  const char *phases[PH_MAILBOX_BATCH_MAX_MESSAGES];
  GBytes *bodies[PH_MAILBOX_BATCH_MAX_MESSAGES];
  g_autoptr (GBytes) again = NULL;

  if (messages == NULL)
    {
      g_assert (error->domain == PH_ERROR && error->code == PH_ERROR_PROTOCOL);
      return;
    }
  g_assert (messages->len >= 1 && messages->len <= PH_MAILBOX_BATCH_MAX_MESSAGES);
  if (messages->len < 2)
    return;
  for (guint i = 0; i < messages->len; i++)
    {
      PhMailboxMessage *message = g_ptr_array_index (messages, i);

      g_assert (message->index == 3 && strcmp (message->side, "2") == 0);
      phases[i] = message->phase;
      bodies[i] = message->body;
    }
  again = ph_mailbox_batch_encode (phases, bodies, messages->len);
  g_assert (g_bytes_equal (again, bytes));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  const char *body;
  gsize length;
  guint8 parameter;

  if (size < 2)
    return 0;
  parameter = data[1];
  body = (const char *)data + 2;
  length = size - 2;

  switch (data[0] % N_ANSWERS)
    {
    case ANSWER_ALLOCATE:
      {
        guint expires_in = 0;
        g_autofree char *secret = NULL;
        g_autofree char *nameplate = ph_rendezvous_answer_parse_allocate (
            SERVER, body, length, &expires_in, &secret, &error);

        if (nameplate == NULL)
          {
            check_malformed (error);
            g_assert (secret == NULL);
          }
        else
          {
            g_assert (ph_mailbox_parse_nameplate (nameplate, strlen (nameplate), NULL));
            check_secret (secret);
          }
      }
      break;
    case ANSWER_CLAIM:
    case ANSWER_JOIN:
      {
        g_autofree char *secret
            = data[0] % N_ANSWERS == ANSWER_CLAIM
                  ? ph_rendezvous_answer_parse_claim (SERVER, body, length, NAMEPLATE, &error)
                  : ph_rendezvous_answer_parse_join (SERVER, body, length, NAMEPLATE, &error);

        if (secret == NULL)
          check_malformed (error);
        else
          check_secret (secret);
      }
      break;
    case ANSWER_POST:
      {
        guint64 index = 0;

        if (ph_rendezvous_answer_parse_post (SERVER, body, length, &index, &error))
          g_assert (index >= 1 && index <= G_MAXINT64);
        else
          check_malformed (error);
      }
      break;
    case ANSWER_FETCH:
      fuzz_fetch (body, length, parameter);
      break;
    case ANSWER_TURN:
      fuzz_turn (body, length);
      break;
    case ANSWER_REFUSAL:
      fuzz_refusal (body, length, parameter);
      break;
    case ANSWER_MEET_WAIT:
      fuzz_meet_wait (body, length, parameter);
      break;
    case ANSWER_STORED:
      {
        guint64 index = 0;
        guint expires_in = 0;

        if (ph_rendezvous_answer_parse_stored (SERVER, body, length, &index, &expires_in, &error))
          g_assert (index >= 1 && index <= G_MAXINT64);
        else
          check_malformed (error);
      }
      break;
    case ANSWER_COPIES:
      fuzz_copies (body, length, parameter);
      break;
    case ANSWER_BATCH:
      fuzz_batch (body, length);
      break;
    default:
      g_assert_not_reached ();
    }
  return 0;
}
