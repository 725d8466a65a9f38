/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-nat-check"

#include "config.h"

#include <glib/gi18n-lib.h>
#include <sodium.h>
#include <string.h>

#include "ph-error.h"
#include "ph-nat-check.h"
#include "ph-stun-binding.h"

#define DEFAULT_TIMEOUT_MS 1200
/* A datagram larger than any STUN response we accept; longer ones are
 * truncated and then fail the length check. */
#define RECEIVE_BUFFER_SIZE 1500

struct _PhNatCheck
{
  GObject parent_instance;

  char *host;
  guint port;
  guint timeout_ms;

  /* While a check runs: */
  GTask *task;
  GSocket *socket;
  GSource *socket_source;
  GSource *cancel_source;
  GInetSocketAddress *server;
  GInetSocketAddress *other;
  GInetAddress *local_address;
  guint16 local_port;
  GPtrArray *transactions;
  PhNatCheckResult *result;
  PhStunAddress first_mapping;
  PhStunAddress second_mapping;
  guint filtering_pending;
  gboolean answered_from_other_address;
  gboolean answered_from_other_port;
};

G_DEFINE_FINAL_TYPE (PhNatCheck, ph_nat_check, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_HOST,
  PROP_PORT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

typedef struct _Transaction Transaction;
typedef void (*TransactionDone) (PhNatCheck *self, const PhStunResponse *response,
                                 GInetSocketAddress *from);

/* One Binding request, retransmitted until answered or out of time
 * (RFC 5389 §7.2.1, with the total bounded by the check's timeout). */
struct _Transaction
{
  PhNatCheck *self;
  guint8 id[12];
  GSocketAddress *destination;
  guint8 request[PH_STUN_HEADER_SIZE + 8];
  gsize request_length;
  gint64 started_us;
  guint interval_ms;
  GSource *timer;
  TransactionDone done;
};

const char *
ph_nat_type_to_string (PhNatType type)
{
  switch (type)
    {
    case PH_NAT_TYPE_OPEN:
      return "open";
    case PH_NAT_TYPE_FULL_CONE:
      return "full-cone";
    case PH_NAT_TYPE_ADDRESS_RESTRICTED:
      return "address-restricted";
    case PH_NAT_TYPE_PORT_RESTRICTED:
      return "port-restricted";
    case PH_NAT_TYPE_SYMMETRIC:
      return "symmetric";
    case PH_NAT_TYPE_UDP_BLOCKED:
      return "udp-blocked";
    case PH_NAT_TYPE_UNKNOWN:
    default:
      return "unknown";
    }
}

const char *
ph_nat_behaviour_to_string (PhNatBehaviour behaviour)
{
  switch (behaviour)
    {
    case PH_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT:
      return "endpoint-independent";
    case PH_NAT_BEHAVIOUR_ADDRESS_DEPENDENT:
      return "address-dependent";
    case PH_NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT:
      return "address-and-port-dependent";
    case PH_NAT_BEHAVIOUR_UNKNOWN:
    default:
      return "unknown";
    }
}

void
ph_nat_check_result_free (PhNatCheckResult *result)
{
  if (result == NULL)
    return;
  g_free (result->public_address);
  g_free (result->note);
  g_free (result);
}

/* --- addresses --- */

static gboolean
stun_address_equal (const PhStunAddress *a, const PhStunAddress *b)
{
  gsize size = a->family == G_SOCKET_FAMILY_IPV4 ? 4 : 16;

  return a->present && b->present && a->family == b->family && a->port == b->port
         && memcmp (a->address, b->address, size) == 0;
}

static gboolean
stun_address_is_ipv4 (const PhStunAddress *address)
{
  return address->present && address->family == G_SOCKET_FAMILY_IPV4;
}

static gboolean
inet_socket_address_equal (GInetSocketAddress *a, GInetSocketAddress *b)
{
  return g_inet_socket_address_get_port (a) == g_inet_socket_address_get_port (b)
         && g_inet_address_equal (g_inet_socket_address_get_address (a),
                                  g_inet_socket_address_get_address (b));
}

/* --- transactions --- */

static void transaction_send (Transaction *tx);

static void
transaction_free (Transaction *tx)
{
  if (tx->timer != NULL)
    {
      g_source_destroy (tx->timer);
      g_source_unref (tx->timer);
    }
  g_clear_object (&tx->destination);
  g_free (tx);
}

static gboolean
transaction_timer_cb (gpointer user_data)
{
  Transaction *tx = user_data;
  /* done() may hand the result over and drop the caller's last reference. */
  g_autoptr (PhNatCheck) self = g_object_ref (tx->self);
  gint64 elapsed_ms = (g_get_monotonic_time () - tx->started_us) / 1000;
  TransactionDone done = tx->done;

  g_source_unref (tx->timer);
  tx->timer = NULL;
  if (elapsed_ms >= self->timeout_ms)
    {
      g_ptr_array_remove (self->transactions, tx);
      done (self, NULL, NULL);
      return G_SOURCE_REMOVE;
    }
  tx->interval_ms *= 2;
  transaction_send (tx);
  return G_SOURCE_REMOVE;
}

static void
transaction_send (Transaction *tx)
{
  PhNatCheck *self = tx->self;
  g_autoptr (GError) error = NULL;
  gint64 elapsed_ms = (g_get_monotonic_time () - tx->started_us) / 1000;
  guint wait_ms;

  /* A refused send (no route, say) is a request that got no answer. */
  if (g_socket_send_to (self->socket, tx->destination, (const char *)tx->request,
                        tx->request_length, NULL, &error)
      < 0)
    g_debug ("Could not send a STUN request: %s", error->message);

  wait_ms = MIN ((gint64)tx->interval_ms, MAX (0, (gint64)self->timeout_ms - elapsed_ms));
  tx->timer = g_timeout_source_new (wait_ms);
  g_source_set_callback (tx->timer, transaction_timer_cb, tx, NULL);
  g_source_set_static_name (tx->timer, "[pinhole] STUN retransmission");
  g_source_attach (tx->timer, g_task_get_context (self->task));
}

static void
start_transaction (PhNatCheck *self, GSocketAddress *destination, guint change_flags,
                   TransactionDone done)
{
  Transaction *tx = g_new0 (Transaction, 1);

  tx->self = self;
  /* Unpredictable, so an off-path sender cannot forge the answers. */
  randombytes_buf (tx->id, sizeof tx->id);
  tx->destination = g_object_ref (destination);
  /* Retransmissions repeat the same bytes (RFC 5389 §7.2.1). */
  tx->request_length = ph_stun_build_binding_request (tx->request, tx->id, change_flags);
  tx->started_us = g_get_monotonic_time ();
  /* RFC 5389's doubling from its initial RTO, scaled to the time allowed:
   * sends at 0, T/8, 3T/8 and 7T/8. */
  tx->interval_ms = MAX (self->timeout_ms / 8, 1);
  tx->done = done;
  g_ptr_array_add (self->transactions, tx);
  transaction_send (tx);
}

/* --- the check --- */

static void
stop_running (PhNatCheck *self)
{
  g_ptr_array_set_size (self->transactions, 0);
  if (self->socket_source != NULL)
    {
      g_source_destroy (self->socket_source);
      g_clear_pointer (&self->socket_source, g_source_unref);
    }
  if (self->cancel_source != NULL)
    {
      g_source_destroy (self->cancel_source);
      g_clear_pointer (&self->cancel_source, g_source_unref);
    }
  if (self->socket != NULL)
    g_socket_close (self->socket, NULL);
  g_clear_object (&self->socket);
  g_clear_object (&self->server);
  g_clear_object (&self->other);
  g_clear_object (&self->local_address);
}

static void
finish (PhNatCheck *self)
{
  g_autoptr (GTask) task = g_steal_pointer (&self->task);

  stop_running (self);
  g_task_return_pointer (task, g_steal_pointer (&self->result),
                         (GDestroyNotify)ph_nat_check_result_free);
}

static void
fail (PhNatCheck *self, GError *error)
{
  g_autoptr (GTask) task = g_steal_pointer (&self->task);

  stop_running (self);
  g_clear_pointer (&self->result, ph_nat_check_result_free);
  g_task_return_error (task, error);
}

static PhNatType
classify (PhNatBehaviour mapping, PhNatBehaviour filtering, gboolean behind_nat)
{
  if (mapping == PH_NAT_BEHAVIOUR_ADDRESS_DEPENDENT
      || mapping == PH_NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT)
    return PH_NAT_TYPE_SYMMETRIC;
  if (mapping != PH_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT)
    return PH_NAT_TYPE_UNKNOWN;

  /* Without a NAT a filtering firewall still acts like a restricted cone. */
  switch (filtering)
    {
    case PH_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT:
      return behind_nat ? PH_NAT_TYPE_FULL_CONE : PH_NAT_TYPE_OPEN;
    case PH_NAT_BEHAVIOUR_ADDRESS_DEPENDENT:
      return PH_NAT_TYPE_ADDRESS_RESTRICTED;
    case PH_NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT:
      return PH_NAT_TYPE_PORT_RESTRICTED;
    case PH_NAT_BEHAVIOUR_UNKNOWN:
    default:
      return PH_NAT_TYPE_UNKNOWN;
    }
}

static void
finish_classified (PhNatCheck *self)
{
  self->result->type
      = classify (self->result->mapping, self->result->filtering, self->result->behind_nat);
  finish (self);
}

static void
mapping_third_done (PhNatCheck *self, const PhStunResponse *response, GInetSocketAddress *from)
{
  if (response == NULL || !stun_address_is_ipv4 (&response->mapped))
    {
      self->result->note = g_strdup (_ ("The STUN server's second address stopped answering, so "
                                        "the NAT's mapping behaviour is unknown."));
      finish_classified (self);
      return;
    }
  self->result->mapping = stun_address_equal (&response->mapped, &self->second_mapping)
                              ? PH_NAT_BEHAVIOUR_ADDRESS_DEPENDENT
                              : PH_NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT;
  finish_classified (self);
}

/* Mapping test II: the alternate address, primary port (RFC 5780 §4.3). */
static void
mapping_second_done (PhNatCheck *self, const PhStunResponse *response, GInetSocketAddress *from)
{
  g_autoptr (GSocketAddress) destination = NULL;

  if (response == NULL || !stun_address_is_ipv4 (&response->mapped))
    {
      self->result->note = g_strdup (_ ("The STUN server's second address did not answer, so the "
                                        "NAT's mapping behaviour is unknown."));
      finish_classified (self);
      return;
    }
  if (stun_address_equal (&response->mapped, &self->first_mapping))
    {
      self->result->mapping = PH_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT;
      finish_classified (self);
      return;
    }
  self->second_mapping = response->mapped;
  destination = G_SOCKET_ADDRESS (g_object_ref (self->other));
  start_transaction (self, destination, 0, mapping_third_done);
}

static void
filtering_done (PhNatCheck *self)
{
  g_autoptr (GSocketAddress) destination = NULL;

  if (self->answered_from_other_address)
    self->result->filtering = PH_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT;
  else if (self->answered_from_other_port)
    self->result->filtering = PH_NAT_BEHAVIOUR_ADDRESS_DEPENDENT;
  else
    self->result->filtering = PH_NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT;

  /* Only now may we send to the alternate address: that opens an
   * address-restricted NAT for it and would have made it look full-cone. */
  destination = g_inet_socket_address_new (g_inet_socket_address_get_address (self->other),
                                           g_inet_socket_address_get_port (self->server));
  start_transaction (self, destination, 0, mapping_second_done);
}

/* Filtering test II: "answer from your other address and port". Only an
 * answer that really comes from there counts. */
static void
filtering_change_both_done (PhNatCheck *self, const PhStunResponse *response,
                            GInetSocketAddress *from)
{
  self->answered_from_other_address
      = response != NULL && inet_socket_address_equal (from, self->other);
  if (--self->filtering_pending == 0)
    filtering_done (self);
}

/* Filtering test III: "answer from your other port". */
static void
filtering_change_port_done (PhNatCheck *self, const PhStunResponse *response,
                            GInetSocketAddress *from)
{
  self->answered_from_other_port
      = response != NULL
        && g_inet_address_equal (g_inet_socket_address_get_address (from),
                                 g_inet_socket_address_get_address (self->server))
        && g_inet_socket_address_get_port (from) == g_inet_socket_address_get_port (self->other);
  if (--self->filtering_pending == 0)
    filtering_done (self);
}

static gboolean
is_our_address (PhNatCheck *self, const PhStunAddress *mapped)
{
  g_autoptr (GSocketAddress) address = ph_stun_address_to_socket_address (mapped);
  GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (address);

  return self->local_address != NULL
         && g_inet_address_equal (g_inet_socket_address_get_address (inet), self->local_address)
         && g_inet_socket_address_get_port (inet) == self->local_port;
}

static void
tcp_probe_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhNatCheck) self = user_data;
  g_autoptr (GSocketConnection) connection
      = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, NULL);

  if (self->task == NULL)
    return;
  if (connection != NULL)
    self->result->note = g_strdup_printf (
        /* Translators: %s is the STUN server's host name or address. */
        _ ("The STUN server %s answers over TCP but not over UDP: this network blocks UDP, so no "
           "direct path can be made from it. Chats get through with a TURN server over TLS on "
           "port 443 (turns:HOST:443)."),
        self->host);
  else
    self->result->note = g_strdup_printf (
        /* Translators: %s is the STUN server's host name or address. */
        _ ("The STUN server %s did not answer over UDP: UDP is blocked on this network, or the "
           "server is down. Where UDP is blocked, chats get through with a TURN server over TLS "
           "on port 443 (turns:HOST:443)."),
        self->host);
  finish (self);
}

/* No answer over UDP: is the server there over TCP? Then it is this
 * network that drops UDP, not a server that is down. */
static void
probe_tcp (PhNatCheck *self)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();

  /* GSocketClient counts whole seconds. */
  g_socket_client_set_timeout (client, MAX (1, self->timeout_ms / 1000));
  g_socket_client_set_enable_proxy (client, FALSE);
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (self->server),
                                 g_task_get_cancellable (self->task), tcp_probe_done_cb,
                                 g_object_ref (self));
}

/* Test I: a plain Binding request to the server's primary address. */
static void
first_done (PhNatCheck *self, const PhStunResponse *response, GInetSocketAddress *from)
{
  g_autoptr (GSocketAddress) other = NULL;
  g_autoptr (GSocketAddress) public_address = NULL;
  GInetSocketAddress *other_inet;

  if (response == NULL)
    {
      self->result->udp_blocked = TRUE;
      self->result->type = PH_NAT_TYPE_UDP_BLOCKED;
      probe_tcp (self);
      return;
    }
  if (!stun_address_is_ipv4 (&response->mapped))
    {
      self->result->note
          = g_strdup (_ ("The STUN server answered without telling the public address."));
      finish (self);
      return;
    }

  self->first_mapping = response->mapped;
  public_address = ph_stun_address_to_socket_address (&response->mapped);
  self->result->public_address = g_inet_address_to_string (
      g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (public_address)));
  self->result->public_port = response->mapped.port;
  self->result->behind_nat = !is_our_address (self, &response->mapped);

  if (!stun_address_is_ipv4 (&response->other))
    {
      self->result->note = g_strdup (_ ("The STUN server has only one address, so it cannot tell "
                                        "how the NAT behaves (RFC 5780); only the public address "
                                        "is known."));
      if (!self->result->behind_nat)
        self->result->mapping = PH_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT;
      finish (self);
      return;
    }
  other = ph_stun_address_to_socket_address (&response->other);
  other_inet = G_INET_SOCKET_ADDRESS (other);
  if (g_inet_address_equal (g_inet_socket_address_get_address (other_inet),
                            g_inet_socket_address_get_address (self->server))
      || g_inet_socket_address_get_port (other_inet)
             == g_inet_socket_address_get_port (self->server))
    {
      self->result->note = g_strdup (_ ("The STUN server's other address is not different enough "
                                        "from its first one to test the NAT."));
      finish (self);
      return;
    }
  self->other = G_INET_SOCKET_ADDRESS (g_steal_pointer (&other));

  /* Filtering first, on this mapping that has only seen the primary
   * address (shared/NOTES.md); tests II and III run side by side. */
  self->filtering_pending = 2;
  start_transaction (self, G_SOCKET_ADDRESS (self->server), PH_STUN_CHANGE_IP | PH_STUN_CHANGE_PORT,
                     filtering_change_both_done);
  start_transaction (self, G_SOCKET_ADDRESS (self->server), PH_STUN_CHANGE_PORT,
                     filtering_change_port_done);
}

static gboolean
socket_readable_cb (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  g_autoptr (PhNatCheck) self = g_object_ref (user_data);

  /* Every callback below may end the check; stop reading when it does. */
  while (self->task != NULL)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GSocketAddress) from = NULL;
      guint8 buffer[RECEIVE_BUFFER_SIZE];
      gssize length;
      Transaction *tx = NULL;
      PhStunResponse response;
      TransactionDone done;

      length = g_socket_receive_from (socket, &from, (char *)buffer, sizeof buffer, NULL, &error);
      if (length < 0)
        {
          /* ICMP errors surface here as ECONNREFUSED and the like; they
           * are not answers, so the retransmission timers decide. */
          if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            g_debug ("STUN socket: %s", error->message);
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            break;
          continue;
        }
      if (length < PH_STUN_HEADER_SIZE || !G_IS_INET_SOCKET_ADDRESS (from))
        continue;

      for (guint i = 0; i < self->transactions->len; i++)
        {
          Transaction *candidate = g_ptr_array_index (self->transactions, i);

          if (memcmp (candidate->id, buffer + 8, sizeof candidate->id) == 0)
            tx = candidate;
        }
      if (tx == NULL)
        continue;
      if (!ph_stun_parse_response (buffer, (gsize)length, tx->id, &response, &error))
        {
          g_debug ("Ignoring a STUN answer: %s", error->message);
          continue;
        }

      done = tx->done;
      g_ptr_array_remove (self->transactions, tx);
      done (self, &response, G_INET_SOCKET_ADDRESS (from));
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
cancelled_cb (GCancellable *cancellable, gpointer user_data)
{
  g_autoptr (PhNatCheck) self = g_object_ref (user_data);
  GError *error = NULL;

  g_cancellable_set_error_if_cancelled (cancellable, &error);
  fail (self, error);
  return G_SOURCE_REMOVE;
}

/* The address our packets to the server leave from: a connected UDP
 * socket learns it from the routing table without sending anything. */
static void
find_local_address (PhNatCheck *self)
{
  g_autoptr (GSocket) probe = NULL;
  g_autoptr (GSocketAddress) local = NULL;
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) error = NULL;

  bound = g_socket_get_local_address (self->socket, &error);
  if (bound != NULL)
    self->local_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));

  probe
      = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  if (probe == NULL || !g_socket_connect (probe, G_SOCKET_ADDRESS (self->server), NULL, &error))
    {
      g_debug ("Cannot tell the local address: %s", error->message);
      return;
    }
  local = g_socket_get_local_address (probe, NULL);
  if (local != NULL)
    self->local_address
        = g_object_ref (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local)));
}

static void
start_with_address (PhNatCheck *self, GInetAddress *address)
{
  g_autoptr (GInetAddress) any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) bind_address = g_inet_socket_address_new (any, 0);
  GError *error = NULL;

  self->server = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (address, (guint16)self->port));
  self->socket
      = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  if (self->socket == NULL || !g_socket_bind (self->socket, bind_address, FALSE, &error))
    {
      GError *wrapped
          = g_error_new (PH_ERROR, PH_ERROR_FAILED,
                         /* Translators: %s is the system's reason. */
                         _ ("Could not open a UDP socket to test the NAT: %s"), error->message);
      g_error_free (error);
      fail (self, wrapped);
      return;
    }
  g_socket_set_blocking (self->socket, FALSE);
  find_local_address (self);

  self->socket_source = g_socket_create_source (self->socket, G_IO_IN, NULL);
  g_source_set_callback (self->socket_source, G_SOURCE_FUNC (socket_readable_cb), self, NULL);
  g_source_attach (self->socket_source, g_task_get_context (self->task));

  start_transaction (self, G_SOCKET_ADDRESS (self->server), 0, first_done);
}

static void
resolved_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PhNatCheck) self = user_data;
  g_autoptr (GError) error = NULL;
  GList *addresses;

  addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (source), result, &error);
  if (self->task == NULL)
    {
      g_resolver_free_addresses (addresses);
      return;
    }
  for (GList *l = addresses; l != NULL; l = l->next)
    if (g_inet_address_get_family (l->data) == G_SOCKET_FAMILY_IPV4)
      {
        start_with_address (self, l->data);
        g_resolver_free_addresses (addresses);
        return;
      }
  g_resolver_free_addresses (addresses);
  fail (self, g_error_new (PH_ERROR, PH_ERROR_FAILED,
                           /* Translators: the first %s is the STUN server's host name, the
                            * second the reason, such as “it has no IPv4 address”. */
                           _ ("Could not find the STUN server “%s”: %s"), self->host,
                           error != NULL ? error->message : _ ("it has no IPv4 address")));
}

void
ph_nat_check_run_async (PhNatCheck *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                        gpointer user_data)
{
  g_autoptr (GInetAddress) address = NULL;

  g_return_if_fail (PH_IS_NAT_CHECK (self));
  g_return_if_fail (self->task == NULL);

  self->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (self->task, ph_nat_check_run_async);
  self->result = g_new0 (PhNatCheckResult, 1);
  self->answered_from_other_address = FALSE;
  self->answered_from_other_port = FALSE;
  memset (&self->first_mapping, 0, sizeof self->first_mapping);
  memset (&self->second_mapping, 0, sizeof self->second_mapping);

  if (cancellable != NULL)
    {
      self->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (self->cancel_source, G_SOURCE_FUNC (cancelled_cb), self, NULL);
      g_source_attach (self->cancel_source, g_task_get_context (self->task));
    }

  address = g_inet_address_new_from_string (self->host);
  if (address != NULL)
    {
      if (g_inet_address_get_family (address) != G_SOCKET_FAMILY_IPV4)
        {
          fail (self,
                g_error_new (PH_ERROR, PH_ERROR_FAILED,
                             /* Translators: %s is the STUN server's address as given. */
                             _ ("The NAT check needs an IPv4 STUN server, not “%s”."), self->host));
          return;
        }
      start_with_address (self, address);
      return;
    }
  g_resolver_lookup_by_name_async (g_resolver_get_default (), self->host, cancellable, resolved_cb,
                                   g_object_ref (self));
}

PhNatCheckResult *
ph_nat_check_run_finish (PhNatCheck *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PH_IS_NAT_CHECK (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

PhNatCheck *
ph_nat_check_new (const char *host, guint port)
{
  g_return_val_if_fail (host != NULL, NULL);
  g_return_val_if_fail (port > 0 && port <= G_MAXUINT16, NULL);

  return g_object_new (PH_TYPE_NAT_CHECK, "host", host, "port", port, NULL);
}

void
ph_nat_check_set_timeout (PhNatCheck *self, guint timeout_ms)
{
  g_return_if_fail (PH_IS_NAT_CHECK (self));
  g_return_if_fail (timeout_ms > 0);

  self->timeout_ms = timeout_ms;
}

static void
ph_nat_check_dispose (GObject *object)
{
  PhNatCheck *self = PH_NAT_CHECK (object);

  /* The task holds a reference, so no check runs any more. */
  g_assert (self->task == NULL);
  stop_running (self);
  G_OBJECT_CLASS (ph_nat_check_parent_class)->dispose (object);
}

static void
ph_nat_check_finalize (GObject *object)
{
  PhNatCheck *self = PH_NAT_CHECK (object);

  g_free (self->host);
  g_ptr_array_unref (self->transactions);
  G_OBJECT_CLASS (ph_nat_check_parent_class)->finalize (object);
}

static void
ph_nat_check_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PhNatCheck *self = PH_NAT_CHECK (object);

  switch (prop_id)
    {
    case PROP_HOST:
      g_value_set_string (value, self->host);
      break;
    case PROP_PORT:
      g_value_set_uint (value, self->port);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_nat_check_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  PhNatCheck *self = PH_NAT_CHECK (object);

  switch (prop_id)
    {
    case PROP_HOST:
      self->host = g_value_dup_string (value);
      break;
    case PROP_PORT:
      self->port = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_nat_check_class_init (PhNatCheckClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ph_nat_check_dispose;
  object_class->finalize = ph_nat_check_finalize;
  object_class->get_property = ph_nat_check_get_property;
  object_class->set_property = ph_nat_check_set_property;

  properties[PROP_HOST]
      = g_param_spec_string ("host", NULL, NULL, NULL,
                             G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS
                                 | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_PORT]
      = g_param_spec_uint ("port", NULL, NULL, 1, G_MAXUINT16, 3478,
                           G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS
                               | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ph_nat_check_init (PhNatCheck *self)
{
  self->timeout_ms = DEFAULT_TIMEOUT_MS;
  self->transactions = g_ptr_array_new_with_free_func ((GDestroyNotify)transaction_free);
}
