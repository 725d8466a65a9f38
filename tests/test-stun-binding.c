/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-stun-binding"

#include "config.h"

#include <string.h>

#include "ph-error.h"
#include "ph-stun-binding.h"

/* Real answers from coturn 4.6.1 (`turnserver --stun-only`, listening on
 * 127.0.0.1 and 127.0.0.2, ports 47478 and 47479, and on ::1 port 47488),
 * as the transaction id they answer followed by the datagram: the same
 * form as the seeds in fuzz/corpus/stun-answer. Each ends with coturn's
 * SOFTWARE attribute. */
static const char coturn_plain[]
    = "5043c134935453d5f5d0b6d4"
      "010100482112a4425043c134935453d5f5d0b6d4"
      "0020000800019a915e12a443" /* XOR-MAPPED-ADDRESS 127.0.0.1:48003 */
      "000100080001bb837f000001" /* MAPPED-ADDRESS, the same */
      "802b00080001b9767f000001" /* RESPONSE-ORIGIN 127.0.0.1:47478 */
      "802c00080001b9777f000002" /* OTHER-ADDRESS 127.0.0.2:47479 */
      "80220014436f7475726e2d342e362e312027476f72737427";
static const char coturn_change_ip_port[]
    = "516492d28ef0efabc4b5f59e"
      "010100482112a442516492d28ef0efabc4b5f59e"
      "0020000800019a915e12a443000100080001bb837f000001"
      "802b00080001b9777f000002" /* sent from the other address and port */
      "802c00080001b9777f000002"
      "80220014436f7475726e2d342e362e312027476f72737427";
static const char coturn_unknown_attribute[]
    = "544bad1df54f67539784519a"
      "0111003c2112a442544bad1df54f67539784519a"
      /* 420 Unknown Attribute, then UNKNOWN-ATTRIBUTES 0x7f00 */
      "0009001800000414556e6b6e6f776e20417474726962757465000000"
      "000a00027f000000"
      "80220014436f7475726e2d342e362e312027476f72737427";
static const char coturn_ipv6[]
    = "60d8baf81955c7fd7b9247eb"
      "010100602112a44260d8baf81955c7fd7b9247eb"
      "002000140002b1d32112a44260d8baf81955c7fd7b9247ea" /* [::1]:37057 */
      "00010014000290c100000000000000000000000000000001"
      "802b00140002b98000000000000000000000000000000001"
      "80220014436f7475726e2d342e362e312027476f72737427";
/* What coturn sends to a request without the magic cookie (RFC 3489). */
static const char coturn_rfc3489[]
    = "51788656285857613a2e98ed"
      "010100400102030451788656285857613a2e98ed"
      "000100080001bb837f000001000400080001b9767f000001000500080001b9777f000002"
      "80220018436f7475726e2d342e362e312027476f7273742700000000";

/* A known answer: the transaction id in id[], the datagram in bytes. */
typedef struct
{
  guint8 id[12];
  GByteArray *bytes;
} Answer;

static void
answer_free (Answer *answer)
{
  g_byte_array_unref (answer->bytes);
  g_free (answer);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Answer, answer_free)

static Answer *
answer_new (const char *hex)
{
  Answer *answer = g_new0 (Answer, 1);
  gsize length = strlen (hex);

  g_assert_cmpuint (length % 2, ==, 0);
  g_assert_cmpuint (length, >=, 24);
  answer->bytes = g_byte_array_new ();
  for (gsize i = 0; i < length; i += 2)
    {
      guint8 byte
          = (guint8)(g_ascii_xdigit_value (hex[i]) << 4 | g_ascii_xdigit_value (hex[i + 1]));

      if (i < 24)
        answer->id[i / 2] = byte;
      else
        g_byte_array_append (answer->bytes, &byte, 1);
    }
  return answer;
}

static char *
address_string (const PhStunAddress *address)
{
  g_autoptr (GSocketAddress) socket_address = NULL;
  g_autofree char *ip = NULL;
  GInetSocketAddress *inet;

  if (!address->present)
    return g_strdup ("(none)");
  socket_address = ph_stun_address_to_socket_address (address);
  inet = G_INET_SOCKET_ADDRESS (socket_address);
  ip = g_inet_address_to_string (g_inet_socket_address_get_address (inet));
  return g_strdup_printf ("%s:%u", ip, g_inet_socket_address_get_port (inet));
}

static void
assert_address (const PhStunAddress *address, const char *expected)
{
  g_autofree char *text = address_string (address);

  g_assert_cmpstr (text, ==, expected);
}

/* Parses @bytes as an answer to @id, expecting a refusal whose message
 * contains @reason. */
static void
assert_refused (const guint8 *bytes, gsize length, const guint8 *id, const char *reason)
{
  g_autoptr (GError) error = NULL;
  PhStunResponse response;

  if (ph_stun_parse_response (bytes, length, id, &response, &error))
    g_error ("an answer that should fail with “%s” was accepted", reason);
  g_assert_error (error, PH_ERROR, PH_ERROR_PROTOCOL);
  if (strstr (error->message, reason) == NULL)
    g_error ("expected “%s” in “%s”", reason, error->message);
}

/* --- requests --- */

/* A request carries nothing but CHANGE-REQUEST: servers and the test
 * fakes read the flags at a fixed place, and a request signed or
 * fingerprinted would be refused by servers without credentials. */
static void
test_request_layout (void)
{
  const guint8 id[12] = { 0xa0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xab };
  guint8 buffer[28];
  gsize length;

  length = ph_stun_build_binding_request (buffer, id, PH_STUN_CHANGE_PORT);
  g_assert_cmpuint (length, ==, 28);
  g_assert_cmpuint (buffer[0] << 8 | buffer[1], ==, 0x0001);
  g_assert_cmpuint (buffer[2] << 8 | buffer[3], ==, 8);
  g_assert_cmpmem (buffer + 8, 12, id, 12);
  g_assert_cmpuint (buffer[20] << 8 | buffer[21], ==, 0x0003);
  g_assert_cmpuint (buffer[27], ==, PH_STUN_CHANGE_PORT);

  /* Flags other than the two RFC 5780 defines are not sent. */
  length = ph_stun_build_binding_request (buffer, id, 0xff);
  g_assert_cmpuint (length, ==, 28);
  g_assert_cmpuint (buffer[27], ==, PH_STUN_CHANGE_IP | PH_STUN_CHANGE_PORT);
}

/* --- real answers --- */

static void
test_coturn_answer (void)
{
  g_autoptr (Answer) answer = answer_new (coturn_plain);
  g_autoptr (GError) error = NULL;
  PhStunResponse response;

  g_assert_true (ph_stun_parse_response (answer->bytes->data, answer->bytes->len, answer->id,
                                         &response, &error));
  g_assert_no_error (error);
  g_assert_true (response.success);
  g_assert_cmpuint (response.error_code, ==, 0);
  assert_address (&response.mapped, "127.0.0.1:48003");
  assert_address (&response.other, "127.0.0.2:47479");
  assert_address (&response.origin, "127.0.0.1:47478");
}

static void
test_coturn_changed_answer (void)
{
  g_autoptr (Answer) answer = answer_new (coturn_change_ip_port);
  PhStunResponse response;

  g_assert_true (ph_stun_parse_response (answer->bytes->data, answer->bytes->len, answer->id,
                                         &response, NULL));
  assert_address (&response.mapped, "127.0.0.1:48003");
  assert_address (&response.origin, "127.0.0.2:47479");
}

static void
test_coturn_ipv6_answer (void)
{
  g_autoptr (Answer) answer = answer_new (coturn_ipv6);
  PhStunResponse response;

  g_assert_true (ph_stun_parse_response (answer->bytes->data, answer->bytes->len, answer->id,
                                         &response, NULL));
  g_assert_cmpint (response.mapped.family, ==, G_SOCKET_FAMILY_IPV6);
  assert_address (&response.mapped, "::1:37057");
  assert_address (&response.origin, "::1:47488");
  g_assert_false (response.other.present);
}

static void
test_coturn_error_answer (void)
{
  g_autoptr (Answer) answer = answer_new (coturn_unknown_attribute);
  PhStunResponse response;

  g_assert_true (ph_stun_parse_response (answer->bytes->data, answer->bytes->len, answer->id,
                                         &response, NULL));
  g_assert_false (response.success);
  g_assert_cmpuint (response.error_code, ==, 420);
  g_assert_false (response.mapped.present);
}

/* Without the cookie an answer may come from anyone who saw the request's
 * id go by; the check sends RFC 5389 requests and wants RFC 5389 answers. */
static void
test_coturn_rfc3489_answer (void)
{
  g_autoptr (Answer) answer = answer_new (coturn_rfc3489);

  assert_refused (answer->bytes->data, answer->bytes->len, answer->id, "no STUN magic cookie");
}

/* A server may sign or fingerprint its answers; without credentials of
 * our own both are ignored. */
static void
test_integrity_and_fingerprint_ignored (void)
{
  g_autoptr (Answer) answer = answer_new (coturn_plain);
  g_autoptr (GError) error = NULL;
  const guint8 integrity[24] = { 0x00, 0x08, 0x00, 0x14, 0xde, 0xad };
  const guint8 fingerprint[8] = { 0x80, 0x28, 0x00, 0x04, 0x12, 0x34, 0x56, 0x78 };
  PhStunResponse response;
  guint16 body;

  g_byte_array_append (answer->bytes, integrity, sizeof integrity);
  g_byte_array_append (answer->bytes, fingerprint, sizeof fingerprint);
  body = (guint16)(answer->bytes->len - PH_STUN_HEADER_SIZE);
  answer->bytes->data[2] = body >> 8;
  answer->bytes->data[3] = body & 0xff;

  g_assert_true (ph_stun_parse_response (answer->bytes->data, answer->bytes->len, answer->id,
                                         &response, &error));
  g_assert_no_error (error);
  assert_address (&response.mapped, "127.0.0.1:48003");
}

/* --- malformed answers: refused, with a message that says why --- */

static void
test_truncated (void)
{
  g_autoptr (Answer) answer = answer_new (coturn_plain);

  assert_refused (NULL, 0, answer->id, "shorter than a STUN header");
  for (guint length = 1; length < PH_STUN_HEADER_SIZE; length++)
    assert_refused (answer->bytes->data, length, answer->id, "shorter than a STUN header");
  for (guint length = PH_STUN_HEADER_SIZE; length < answer->bytes->len; length++)
    assert_refused (answer->bytes->data, length, answer->id, "truncated");
}

static void
test_wrong_cookie (void)
{
  g_autoptr (Answer) answer = answer_new (coturn_plain);

  answer->bytes->data[7] ^= 0x01;
  assert_refused (answer->bytes->data, answer->bytes->len, answer->id, "no STUN magic cookie");
}

static void
test_wrong_transaction (void)
{
  g_autoptr (Answer) answer = answer_new (coturn_plain);
  guint8 other_id[12];

  memcpy (other_id, answer->id, sizeof other_id);
  other_id[11] ^= 0x80;
  assert_refused (answer->bytes->data, answer->bytes->len, other_id,
                  "an answer to another request");
}

static void
test_bad_lengths (void)
{
  g_autoptr (Answer) answer = answer_new (coturn_plain);
  g_autoptr (GByteArray) longer = g_byte_array_new ();
  guint8 *data = answer->bytes->data;
  gsize length = answer->bytes->len;
  const guint8 zeros[4] = { 0 };

  /* The first attribute, XOR-MAPPED-ADDRESS, claims more than there is. */
  data[23] = 0xff;
  assert_refused (data, length, answer->id, "an attribute runs past the end of the message");
  /* 7 bytes, padded to 8: it fits, but is no IPv4 address (8 bytes). */
  data[23] = 0x07;
  assert_refused (data, length, answer->id, "address attribute of the wrong size");
  data[23] = 0x08;

  /* The header's length is not a multiple of four. */
  data[3] += 1;
  assert_refused (data, length, answer->id, "not a multiple of four");
  data[3] -= 1;

  /* The datagram goes on after the message its header describes. */
  g_byte_array_append (longer, data, length);
  g_byte_array_append (longer, zeros, sizeof zeros);
  assert_refused (longer->data, longer->len, answer->id, "longer than its header says");
}

static void
test_bad_content (void)
{
  g_autoptr (Answer) answer = answer_new (coturn_plain);
  g_autoptr (Answer) error_answer = answer_new (coturn_unknown_attribute);
  guint8 *data = answer->bytes->data;
  gsize length = answer->bytes->len;

  data[0] = 0x80;
  assert_refused (data, length, answer->id, "not a STUN message");
  data[0] = 0x00; /* a Binding request, not its answer */
  assert_refused (data, length, answer->id, "not a Binding response");
  data[0] = 0x01;

  data[25] = 0x03;
  assert_refused (data, length, answer->id, "unknown address family");
  data[25] = 0x01;
  data[24] = 0x01;
  assert_refused (data, length, answer->id, "bad address attribute");
  data[24] = 0x00;

  /* MAPPED-ADDRESS turned into 0x7f01, which nobody defined. */
  data[32] = 0x7f;
  assert_refused (data, length, answer->id, "unknown comprehension-required attribute");

  /* An ERROR-CODE of class 7 does not exist. */
  error_answer->bytes->data[26] = 0x07;
  assert_refused (error_answer->bytes->data, error_answer->bytes->len, error_answer->id,
                  "bad ERROR-CODE");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/stun-binding/request/layout", test_request_layout);
  g_test_add_func ("/stun-binding/coturn/answer", test_coturn_answer);
  g_test_add_func ("/stun-binding/coturn/changed-answer", test_coturn_changed_answer);
  g_test_add_func ("/stun-binding/coturn/ipv6-answer", test_coturn_ipv6_answer);
  g_test_add_func ("/stun-binding/coturn/error-answer", test_coturn_error_answer);
  g_test_add_func ("/stun-binding/coturn/rfc3489-answer", test_coturn_rfc3489_answer);
  g_test_add_func ("/stun-binding/integrity-and-fingerprint-ignored",
                   test_integrity_and_fingerprint_ignored);
  g_test_add_func ("/stun-binding/malformed/truncated", test_truncated);
  g_test_add_func ("/stun-binding/malformed/wrong-cookie", test_wrong_cookie);
  g_test_add_func ("/stun-binding/malformed/wrong-transaction", test_wrong_transaction);
  g_test_add_func ("/stun-binding/malformed/bad-lengths", test_bad_lengths);
  g_test_add_func ("/stun-binding/malformed/bad-content", test_bad_content);

  return g_test_run ();
}
