/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-nat-check"

#include "config.h"

#include <string.h>

#include "ph-error.h"
#include "ph-nat-check.h"
#include "ph-test-wait.h"

static const guint8 test_id[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

/* --- a STUN response writer, independent of the code under test --- */

static void
append_u16 (GByteArray *message, guint16 value)
{
  guint8 bytes[2] = { value >> 8, value & 0xff };

  g_byte_array_append (message, bytes, 2);
}

static GByteArray *
response_new (guint16 type, const guint8 *id)
{
  GByteArray *message = g_byte_array_new ();
  const guint8 cookie[4] = { 0x21, 0x12, 0xA4, 0x42 };

  append_u16 (message, type);
  append_u16 (message, 0);
  g_byte_array_append (message, cookie, 4);
  g_byte_array_append (message, id, 12);
  return message;
}

static void
response_add (GByteArray *message, guint16 type, const guint8 *value, guint16 length)
{
  const guint8 zeros[3] = { 0 };
  guint16 body;

  append_u16 (message, type);
  append_u16 (message, length);
  g_byte_array_append (message, value, length);
  g_byte_array_append (message, zeros, (4 - length % 4) % 4);
  body = (guint16)(message->len - 20);
  message->data[2] = body >> 8;
  message->data[3] = body & 0xff;
}

/* An IPv4 address attribute; XORed as XOR-MAPPED-ADDRESS wants. */
static void
response_add_address (GByteArray *message, guint16 type, const char *ip, guint16 port,
                      gboolean xored)
{
  g_autoptr (GInetAddress) address = g_inet_address_new_from_string (ip);
  const guint8 *bytes = g_inet_address_to_bytes (address);
  const guint8 cookie[4] = { 0x21, 0x12, 0xA4, 0x42 };
  guint8 value[8] = { 0, 0x01 };

  if (xored)
    port ^= 0x2112;
  value[2] = port >> 8;
  value[3] = port & 0xff;
  for (guint i = 0; i < 4; i++)
    value[4 + i] = bytes[i] ^ (xored ? cookie[i] : 0);
  response_add (message, type, value, sizeof value);
}

static char *
address_string (const PhStunAddress *address)
{
  g_autoptr (GSocketAddress) socket_address = ph_stun_address_to_socket_address (address);
  GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (socket_address);
  g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (inet));

  return g_strdup_printf ("%s:%u", ip, g_inet_socket_address_get_port (inet));
}

/* --- the codec --- */

static void
test_build_request (void)
{
  guint8 buffer[28];
  const guint8 plain_header[8] = { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42 };
  const guint8 change[12] = { 0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xA4, 0x42 };
  const guint8 change_attribute[8] = { 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x00, 0x06 };
  gsize length;

  length = ph_stun_build_binding_request (buffer, test_id, 0);
  g_assert_cmpuint (length, ==, 20);
  g_assert_cmpmem (buffer, 8, plain_header, 8);
  g_assert_cmpmem (buffer + 8, 12, test_id, 12);

  length = ph_stun_build_binding_request (buffer, test_id, PH_STUN_CHANGE_IP | PH_STUN_CHANGE_PORT);
  g_assert_cmpuint (length, ==, 28);
  g_assert_cmpmem (buffer, 8, change, 8);
  g_assert_cmpmem (buffer + 20, 8, change_attribute, 8);
}

static void
test_parse_rfc5780_response (void)
{
  g_autoptr (GByteArray) message = response_new (0x0101, test_id);
  g_autoptr (GError) error = NULL;
  g_autofree char *mapped = NULL;
  g_autofree char *other = NULL;
  g_autofree char *origin = NULL;
  PhStunResponse response;
  const guint8 software[5] = { 't', 'e', 's', 't', '!' };

  response_add (message, 0x8022, software, sizeof software);
  response_add_address (message, 0x0020, "198.51.100.7", 40000, TRUE);
  /* A second XOR-MAPPED-ADDRESS must not override the first. */
  response_add_address (message, 0x0020, "198.51.100.99", 1, TRUE);
  response_add_address (message, 0x802C, "203.0.113.11", 3479, FALSE);
  response_add_address (message, 0x802B, "203.0.113.10", 3478, FALSE);

  g_assert_true (ph_stun_parse_response (message->data, message->len, test_id, &response, &error));
  g_assert_no_error (error);
  g_assert_true (response.success);
  mapped = address_string (&response.mapped);
  other = address_string (&response.other);
  origin = address_string (&response.origin);
  g_assert_cmpstr (mapped, ==, "198.51.100.7:40000");
  g_assert_cmpstr (other, ==, "203.0.113.11:3479");
  g_assert_cmpstr (origin, ==, "203.0.113.10:3478");
}

/* Servers of the RFC 3489 era answer with the older attributes. */
static void
test_parse_rfc3489_response (void)
{
  g_autoptr (GByteArray) message = response_new (0x0101, test_id);
  g_autofree char *mapped = NULL;
  g_autofree char *other = NULL;
  PhStunResponse response;

  response_add_address (message, 0x0001, "198.51.100.8", 5000, FALSE);
  response_add_address (message, 0x0005, "203.0.113.11", 3479, FALSE);
  response_add_address (message, 0x0004, "203.0.113.10", 3478, FALSE);

  g_assert_true (ph_stun_parse_response (message->data, message->len, test_id, &response, NULL));
  mapped = address_string (&response.mapped);
  other = address_string (&response.other);
  g_assert_cmpstr (mapped, ==, "198.51.100.8:5000");
  g_assert_cmpstr (other, ==, "203.0.113.11:3479");
}

static void
test_parse_ipv6_mapping (void)
{
  g_autoptr (GByteArray) message = response_new (0x0101, test_id);
  g_autofree char *mapped = NULL;
  PhStunResponse response;
  guint8 value[20] = { 0, 0x02, 0x12 ^ 0x21, 0x34 ^ 0x12 };
  const guint8 plain[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x01 };
  const guint8 cookie[4] = { 0x21, 0x12, 0xA4, 0x42 };

  for (guint i = 0; i < 16; i++)
    value[4 + i] = plain[i] ^ (i < 4 ? cookie[i] : test_id[i - 4]);
  response_add (message, 0x0020, value, sizeof value);

  g_assert_true (ph_stun_parse_response (message->data, message->len, test_id, &response, NULL));
  g_assert_true (response.mapped.family == G_SOCKET_FAMILY_IPV6);
  mapped = address_string (&response.mapped);
  g_assert_cmpstr (mapped, ==, "2001:db8::1:4660");
}

static void
test_parse_error_response (void)
{
  g_autoptr (GByteArray) message = response_new (0x0111, test_id);
  const guint8 error_code[8] = { 0, 0, 4, 20, 'n', 'o', 'p', 'e' };
  PhStunResponse response;

  response_add (message, 0x0009, error_code, sizeof error_code);
  g_assert_true (ph_stun_parse_response (message->data, message->len, test_id, &response, NULL));
  g_assert_false (response.success);
  g_assert_cmpuint (response.error_code, ==, 420);
  g_assert_false (response.mapped.present);
}

static void
assert_rejected (const guint8 *data, gsize length, const char *why)
{
  g_autoptr (GError) error = NULL;
  PhStunResponse response;

  if (ph_stun_parse_response (data, length, test_id, &response, &error))
    g_error ("a response with %s was accepted", why);
  g_assert_error (error, PH_ERROR, PH_ERROR_PROTOCOL);
}

static GByteArray *
valid_response (void)
{
  GByteArray *message = response_new (0x0101, test_id);

  response_add_address (message, 0x0020, "198.51.100.7", 40000, TRUE);
  response_add_address (message, 0x802C, "203.0.113.11", 3479, FALSE);
  return message;
}

static void
test_parse_malformed (void)
{
  g_autoptr (GByteArray) good = valid_response ();
  g_autoptr (GByteArray) copy = NULL;
  const guint8 other_id[12] = { 9 };

  assert_rejected (NULL, 0, "no bytes");
  assert_rejected (good->data, 19, "a short header");

  /* Every truncation is refused, and none reads out of bounds. */
  for (guint length = 0; length < good->len; length++)
    assert_rejected (good->data, length, "a truncated body");

#define MUTATE(offset, byte, why)                                                                  \
  G_STMT_START                                                                                     \
  {                                                                                                \
    copy = g_byte_array_sized_new (good->len);                                                     \
    g_byte_array_append (copy, good->data, good->len);                                             \
    copy->data[offset] = (byte);                                                                   \
    assert_rejected (copy->data, copy->len, why);                                                  \
    g_clear_pointer (&copy, g_byte_array_unref);                                                   \
  }                                                                                                \
  G_STMT_END

  MUTATE (0, 0x41, "the top bits set");
  MUTATE (0, 0x00, "a request type");
  MUTATE (4, 0x00, "a wrong magic cookie");
  MUTATE (3, good->data[3] + 4, "a length longer than the datagram");
  MUTATE (3, good->data[3] - 4, "a length shorter than the datagram");
  MUTATE (3, good->data[3] + 1, "a length not a multiple of four");
  MUTATE (8, 0xff, "another transaction id");
  MUTATE (23, 0x40, "an attribute running past the end");
  MUTATE (23, 0x07, "an address of the wrong size");
  MUTATE (25, 0x03, "an unknown address family");
  MUTATE (24, 0x01, "a non-zero reserved byte");
  MUTATE (20, 0x7f, "an unknown comprehension-required attribute");
#undef MUTATE

  {
    g_autoptr (GByteArray) other = response_new (0x0101, other_id);

    response_add_address (other, 0x0020, "198.51.100.7", 40000, TRUE);
    assert_rejected (other->data, other->len, "an unexpected transaction id");
  }
}

/* Random bodies behind a valid header: refused or parsed, never a crash
 * (AddressSanitizer and valgrind watch the reads). */
static void
test_parse_random_bodies (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (5780);

  for (guint round = 0; round < 20000; round++)
    {
      g_autoptr (GByteArray) message = response_new (0x0101, test_id);
      guint body = g_rand_int_range (rand, 0, 16) * 4;
      PhStunResponse response;

      for (guint i = 0; i < body; i++)
        {
          guint8 byte = (guint8)g_rand_int_range (rand, 0, 256);

          /* Favour small lengths and known types so the walk goes deep. */
          if (i % 4 == 2)
            byte = 0;
          if (i % 4 == 3)
            byte = (guint8)g_rand_int_range (rand, 0, 24);
          g_byte_array_append (message, &byte, 1);
        }
      message->data[2] = body >> 8;
      message->data[3] = body & 0xff;
      ph_stun_parse_response (message->data, message->len, test_id, &response, NULL);
    }
}

/* --- a fake RFC 5780 server on 127.0.0.1 and 127.0.0.2, two ports each,
 * which also plays the NAT: it reports the mapping the chosen NAT would
 * make and drops the answers that NAT's filter would not let in. --- */

typedef struct
{
  PhNatBehaviour mapping;
  PhNatBehaviour filtering;
  gboolean no_nat;         /* report the real source address */
  gboolean single_address; /* no OTHER-ADDRESS: not an RFC 5780 server */
  gboolean silent;         /* never answer: UDP blocked */
  gboolean send_garbage;   /* a malformed answer before each real one */
} FakeNat;

typedef struct
{
  FakeNat nat;
  GSocket *sockets[4]; /* [ip][port]: ip 0 = 127.0.0.1, 1 = 127.0.0.2; port 0 = primary */
  GSource *sources[4];
  guint16 ports[2];
  GPtrArray *contacted; /* "ip:port" strings the client sent to */
  guint requests;
} FakeServer;

static const char *const fake_ips[2] = { "127.0.0.1", "127.0.0.2" };

static GSocket *
bind_udp (const char *ip, guint16 port)
{
  g_autoptr (GInetAddress) address = g_inet_address_new_from_string (ip);
  g_autoptr (GSocketAddress) socket_address = g_inet_socket_address_new (address, port);
  g_autoptr (GSocket) socket
      = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);

  if (socket == NULL || !g_socket_bind (socket, socket_address, FALSE, NULL))
    return NULL;
  g_socket_set_blocking (socket, FALSE);
  return g_steal_pointer (&socket);
}

static guint16
socket_port (GSocket *socket)
{
  g_autoptr (GSocketAddress) local = g_socket_get_local_address (socket, NULL);

  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
}

/* The mapped port the fake NAT gives for traffic to @ip/@port. */
static guint16
fake_mapped_port (FakeServer *server, guint ip, guint port, guint16 source_port)
{
  switch (server->nat.mapping)
    {
    case PH_NAT_BEHAVIOUR_ADDRESS_DEPENDENT:
      return 30000 + ip;
    case PH_NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT:
      return 30000 + ip * 2 + port;
    case PH_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT:
    case PH_NAT_BEHAVIOUR_UNKNOWN:
    default:
      return server->nat.no_nat ? source_port : 30000;
    }
}

static gboolean
fake_filter_lets_in (FakeServer *server, guint ip, guint port)
{
  g_autofree char *endpoint = g_strdup_printf ("%u:%u", ip, port);

  switch (server->nat.filtering)
    {
    case PH_NAT_BEHAVIOUR_ADDRESS_DEPENDENT:
      for (guint i = 0; i < server->contacted->len; i++)
        if (g_str_has_prefix (g_ptr_array_index (server->contacted, i), fake_ips[ip]))
          return TRUE;
      return FALSE;
    case PH_NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT:
      {
        g_autofree char *wanted = g_strdup_printf ("%s:%u", fake_ips[ip], server->ports[port]);

        return g_ptr_array_find_with_equal_func (server->contacted, wanted, g_str_equal, NULL);
      }
    case PH_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT:
    case PH_NAT_BEHAVIOUR_UNKNOWN:
    default:
      return TRUE;
    }
}

static gboolean
fake_readable_cb (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  FakeServer *server = user_data;
  guint self_index = 0;
  guint8 buffer[1500];
  gssize length;
  g_autoptr (GSocketAddress) from = NULL;

  for (guint i = 0; i < 4; i++)
    if (server->sockets[i] == socket)
      self_index = i;

  length = g_socket_receive_from (socket, &from, (char *)buffer, sizeof buffer, NULL, NULL);
  if (length < 20)
    return G_SOURCE_CONTINUE;
  server->requests++;
  if (server->nat.silent)
    return G_SOURCE_CONTINUE;

  {
    guint ip = self_index / 2;
    guint port = self_index % 2;
    guint flags = length >= 28 ? buffer[27] : 0;
    guint reply_ip = (flags & PH_STUN_CHANGE_IP) ? 1 - ip : ip;
    guint reply_port = (flags & PH_STUN_CHANGE_PORT) ? 1 - port : port;
    GInetSocketAddress *client = G_INET_SOCKET_ADDRESS (from);
    g_autofree char *client_ip
        = g_inet_address_to_string (g_inet_socket_address_get_address (client));
    guint16 client_port = g_inet_socket_address_get_port (client);
    g_autoptr (GByteArray) answer = response_new (0x0101, buffer + 8);
    g_autofree char *contacted = g_strdup_printf ("%s:%u", fake_ips[ip], server->ports[port]);

    if (!g_ptr_array_find_with_equal_func (server->contacted, contacted, g_str_equal, NULL))
      g_ptr_array_add (server->contacted, g_steal_pointer (&contacted));

    response_add_address (answer, 0x0020, server->nat.no_nat ? client_ip : "203.0.113.77",
                          fake_mapped_port (server, ip, port, client_port), TRUE);
    if (!server->nat.single_address)
      response_add_address (answer, 0x802C, fake_ips[1 - ip], server->ports[1 - port], FALSE);
    response_add_address (answer, 0x802B, fake_ips[reply_ip], server->ports[reply_port], FALSE);

    if (!fake_filter_lets_in (server, reply_ip, reply_port))
      return G_SOURCE_CONTINUE;
    if (server->nat.send_garbage)
      {
        g_autoptr (GByteArray) garbage = response_new (0x0101, buffer + 8);

        /* Right transaction id, broken attribute: must be ignored. */
        response_add_address (garbage, 0x0020, "192.0.2.1", 1, TRUE);
        garbage->data[23] = 0x30;
        g_socket_send_to (server->sockets[reply_ip * 2 + reply_port], from,
                          (const char *)garbage->data, garbage->len, NULL, NULL);
      }
    g_socket_send_to (server->sockets[reply_ip * 2 + reply_port], from, (const char *)answer->data,
                      answer->len, NULL, NULL);
  }
  return G_SOURCE_CONTINUE;
}

static FakeServer *
fake_server_new (const FakeNat *nat)
{
  FakeServer *server = g_new0 (FakeServer, 1);

  server->nat = *nat;
  server->contacted = g_ptr_array_new_with_free_func (g_free);
  /* The same two ports must be free on both addresses; ephemeral ports
   * rarely collide, so a few tries are plenty. */
  for (guint attempt = 0; attempt < 20; attempt++)
    {
      gboolean complete = TRUE;

      server->sockets[0] = bind_udp (fake_ips[0], 0);
      server->sockets[1] = bind_udp (fake_ips[0], 0);
      server->ports[0] = socket_port (server->sockets[0]);
      server->ports[1] = socket_port (server->sockets[1]);
      server->sockets[2] = bind_udp (fake_ips[1], server->ports[0]);
      server->sockets[3] = bind_udp (fake_ips[1], server->ports[1]);
      for (guint i = 0; i < 4; i++)
        complete = complete && server->sockets[i] != NULL;
      if (complete)
        break;
      for (guint i = 0; i < 4; i++)
        g_clear_object (&server->sockets[i]);
    }
  g_assert_nonnull (server->sockets[3]);

  for (guint i = 0; i < 4; i++)
    {
      server->sources[i] = g_socket_create_source (server->sockets[i], G_IO_IN, NULL);
      g_source_set_callback (server->sources[i], G_SOURCE_FUNC (fake_readable_cb), server, NULL);
      g_source_attach (server->sources[i], NULL);
    }
  return server;
}

static void
fake_server_free (FakeServer *server)
{
  for (guint i = 0; i < 4; i++)
    {
      g_source_destroy (server->sources[i]);
      g_source_unref (server->sources[i]);
      g_object_unref (server->sockets[i]);
    }
  g_ptr_array_unref (server->contacted);
  g_free (server);
}

/* Runs a check against @server with short timeouts; fails the test if it
 * takes longer than its promise. */
static PhNatCheckResult *
run_check (FakeServer *server, GCancellable *cancellable, GError **error)
{
  g_autoptr (PhNatCheck) check = ph_nat_check_new (fake_ips[0], server->ports[0]);
  g_autoptr (GAsyncResult) result = NULL;
  PhNatCheckResult *answer;

  ph_nat_check_set_timeout (check, 250);
  ph_nat_check_run_async (check, cancellable, ph_test_result_cb, &result);
  /* At most: test I, then II and III side by side, then two mapping tests. */
  ph_test_wait_for_result (&result, ph_test_scaled_ms (4 * 250 + 500));
  answer = ph_nat_check_run_finish (check, result, error);
  g_clear_object (&result);
  g_assert_finalize_object (g_steal_pointer (&check));
  return answer;
}

typedef struct
{
  FakeNat nat;
  PhNatType type;
  gboolean behind_nat;
} BehaviourCase;

static void
test_behaviour (gconstpointer data)
{
  const BehaviourCase *c = data;
  FakeServer *server = fake_server_new (&c->nat);
  g_autoptr (PhNatCheckResult) result = NULL;
  g_autoptr (GError) error = NULL;

  result = run_check (server, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ph_nat_type_to_string (result->type), ==, ph_nat_type_to_string (c->type));
  g_assert_cmpstr (ph_nat_behaviour_to_string (result->mapping), ==,
                   ph_nat_behaviour_to_string (c->nat.mapping));
  g_assert_cmpstr (ph_nat_behaviour_to_string (result->filtering), ==,
                   ph_nat_behaviour_to_string (c->nat.filtering));
  g_assert_cmpint (result->behind_nat, ==, c->behind_nat);
  g_assert_false (result->udp_blocked);
  g_assert_cmpstr (result->public_address, ==, c->behind_nat ? "203.0.113.77" : "127.0.0.1");
  g_assert_null (result->note);
  fake_server_free (server);
}

static const BehaviourCase behaviour_cases[] = {
  { { PH_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT, PH_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT, TRUE },
    PH_NAT_TYPE_OPEN,
    FALSE },
  { { PH_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT, PH_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT },
    PH_NAT_TYPE_FULL_CONE,
    TRUE },
  { { PH_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT, PH_NAT_BEHAVIOUR_ADDRESS_DEPENDENT },
    PH_NAT_TYPE_ADDRESS_RESTRICTED,
    TRUE },
  { { PH_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT, PH_NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT },
    PH_NAT_TYPE_PORT_RESTRICTED,
    TRUE },
  { { PH_NAT_BEHAVIOUR_ADDRESS_DEPENDENT, PH_NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT },
    PH_NAT_TYPE_SYMMETRIC,
    TRUE },
  { { PH_NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT, PH_NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT },
    PH_NAT_TYPE_SYMMETRIC,
    TRUE },
  { { PH_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT, PH_NAT_BEHAVIOUR_ADDRESS_DEPENDENT,
      .send_garbage = TRUE },
    PH_NAT_TYPE_ADDRESS_RESTRICTED,
    TRUE },
};

static const char *const behaviour_names[] = {
  "/nat-check/fake/open",
  "/nat-check/fake/full-cone",
  "/nat-check/fake/address-restricted",
  "/nat-check/fake/port-restricted",
  "/nat-check/fake/symmetric-address-dependent",
  "/nat-check/fake/symmetric",
  "/nat-check/fake/ignores-malformed-answers",
};

static void
test_udp_blocked (void)
{
  FakeNat nat = { .silent = TRUE };
  FakeServer *server = fake_server_new (&nat);
  g_autoptr (PhNatCheckResult) result = NULL;
  g_autoptr (GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  result = run_check (server, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (result->udp_blocked);
  g_assert_cmpint (result->type, ==, PH_NAT_TYPE_UDP_BLOCKED);
  g_assert_null (result->public_address);
  g_assert_nonnull (strstr (result->note, "UDP"));
  /* It retransmitted, and gave up on time. */
  g_assert_cmpuint (server->requests, ==, 4);
  g_assert_cmpint (g_get_monotonic_time () - start, <, ph_test_scaled_ms (1000) * (gint64)1000);
  fake_server_free (server);
}

static void
test_single_address_server (void)
{
  FakeNat nat = { PH_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT, PH_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT,
                  .single_address = TRUE };
  FakeServer *server = fake_server_new (&nat);
  g_autoptr (PhNatCheckResult) result = NULL;

  result = run_check (server, NULL, NULL);
  g_assert_cmpint (result->type, ==, PH_NAT_TYPE_UNKNOWN);
  g_assert_cmpint (result->mapping, ==, PH_NAT_BEHAVIOUR_UNKNOWN);
  g_assert_cmpstr (result->public_address, ==, "203.0.113.77");
  g_assert_true (result->behind_nat);
  g_assert_nonnull (strstr (result->note, "RFC 5780"));
  fake_server_free (server);
}

static void
test_retransmits (void)
{
  FakeNat nat
      = { PH_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT, PH_NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT };
  FakeServer *server = fake_server_new (&nat);
  g_autoptr (PhNatCheckResult) result = run_check (server, NULL, NULL);

  /* Tests II and III get no answer through a port-restricted NAT: each
   * is sent four times before the check gives up on it. */
  g_assert_cmpint (result->type, ==, PH_NAT_TYPE_PORT_RESTRICTED);
  g_assert_cmpuint (server->requests, >=, 1 + 4 + 4 + 1);
  fake_server_free (server);
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static void
test_cancel (void)
{
  FakeNat nat = { .silent = TRUE };
  FakeServer *server = fake_server_new (&nat);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (PhNatCheckResult) result = NULL;
  g_autoptr (GError) error = NULL;

  g_timeout_add (50, cancel_cb, cancellable);
  result = run_check (server, cancellable, &error);
  g_assert_null (result);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  fake_server_free (server);
}

static void
test_names (void)
{
  g_assert_cmpstr (ph_nat_type_to_string (PH_NAT_TYPE_PORT_RESTRICTED), ==, "port-restricted");
  g_assert_cmpstr (ph_nat_type_to_string (PH_NAT_TYPE_UDP_BLOCKED), ==, "udp-blocked");
  g_assert_cmpstr (ph_nat_behaviour_to_string (PH_NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT), ==,
                   "address-and-port-dependent");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/nat-check/stun/build-request", test_build_request);
  g_test_add_func ("/nat-check/stun/parse-rfc5780", test_parse_rfc5780_response);
  g_test_add_func ("/nat-check/stun/parse-rfc3489", test_parse_rfc3489_response);
  g_test_add_func ("/nat-check/stun/parse-ipv6", test_parse_ipv6_mapping);
  g_test_add_func ("/nat-check/stun/parse-error-response", test_parse_error_response);
  g_test_add_func ("/nat-check/stun/parse-malformed", test_parse_malformed);
  g_test_add_func ("/nat-check/stun/parse-random", test_parse_random_bodies);
  for (guint i = 0; i < G_N_ELEMENTS (behaviour_cases); i++)
    g_test_add_data_func (behaviour_names[i], &behaviour_cases[i], test_behaviour);
  g_test_add_func ("/nat-check/fake/udp-blocked", test_udp_blocked);
  g_test_add_func ("/nat-check/fake/single-address-server", test_single_address_server);
  g_test_add_func ("/nat-check/fake/retransmits", test_retransmits);
  g_test_add_func ("/nat-check/cancel", test_cancel);
  g_test_add_func ("/nat-check/names", test_names);

  return g_test_run ();
}
