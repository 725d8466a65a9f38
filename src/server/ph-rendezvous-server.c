/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-rendezvous-server"

#include "config.h"

#include <netinet/in.h>

#include "ph-memory-store.h"
#include "ph-rendezvous-server-private.h"

/* The object itself: its properties, the SoupServer it runs and the
 * socket it listens on. The other parts are listed in
 * ph-rendezvous-server-private.h. */

/* GSocket's default of 10 drops connections when a few thousand clients
 * arrive at once; the kernel caps it at net.core.somaxconn. */
#define LISTEN_BACKLOG 4096

G_DEFINE_FINAL_TYPE (PhRendezvousServer, ph_rendezvous_server, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_MAX_BODY_BYTES,
  PROP_MAX_WAITING_POLLS,
  PROP_MAX_MAILBOXES_PER_CLIENT,
  PROP_MAX_POLLS_PER_CLIENT,
  PROP_ALLOCATIONS_PER_MINUTE,
  PROP_JOINS_PER_HOUR,
  PROP_MAX_HOLD,
  PROP_CLIENT_TIMEOUT,
  PROP_TURN_SECRET,
  PROP_TURN_URIS,
  PROP_STUN_URIS,
  PROP_TURN_TTL,
  PROP_TURN_QUOTA,
  PROP_STORED_LIFETIME,
  PROP_MAX_STORED_PER_POINT,
  PROP_MAX_STORED_BYTES,
  PROP_MAX_STORED_TOTAL_BYTES,
  PROP_TLS_CERTIFICATE,
  PROP_STORE,
  PROP_LIMITER,
  PROP_TAKE_CONNECTIONS,
  PROP_TAKE_AFTER_MS,
  PROP_TRUSTED_PROXIES,
  PROP_WAITING_POLLS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

void
ph_rendezvous_server_set_waiting_polls (PhRendezvousServer *self, guint waiting_polls)
{
  self->waiting_polls = waiting_polls;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WAITING_POLLS]);
}

static void
ph_rendezvous_server_constructed (GObject *object)
{
  PhRendezvousServer *self = PH_RENDEZVOUS_SERVER (object);
  g_autoptr (GError) error = NULL;

  G_OBJECT_CLASS (ph_rendezvous_server_parent_class)->constructed (object);

  /* The caller checks the blocks first (pinhole-rendezvous makes a usage
   * error of a bad one): one that does not parse here is a programming
   * error, and trusting no one is the safe way on. */
  self->trusted_proxies
      = ph_trusted_proxies_new ((const char *const *)self->trusted_proxy_cidrs, &error);
  if (self->trusted_proxies == NULL)
    {
      g_critical ("%s", error->message);
      self->trusted_proxies = ph_trusted_proxies_new (NULL, NULL);
    }

  /* A server given no store or limiter uses their defaults: in a test's
   * process, the store in memory. */
  if (self->store == NULL)
    self->store = g_object_new (PH_TYPE_MEMORY_STORE, NULL);
  if (self->limiter == NULL)
    self->limiter = g_object_new (PH_TYPE_RATE_LIMITER, NULL);
  g_signal_connect_object (self->store, "message-added",
                           G_CALLBACK (ph_held_polls_message_added_cb), self, 0);
  g_signal_connect_object (self->store, "mailbox-closed",
                           G_CALLBACK (ph_held_polls_mailbox_closed_cb), self, 0);
  g_signal_connect_object (self->store, "changes-lost", G_CALLBACK (ph_held_polls_changes_lost_cb),
                           self, 0);
  g_signal_connect_object (self->store, "point-changed",
                           G_CALLBACK (ph_meet_waits_point_changed_cb), self, 0);
  g_signal_connect_object (self->store, "changes-lost", G_CALLBACK (ph_meet_waits_changes_lost_cb),
                           self, 0);
  ph_held_polls_init (self);
  ph_meet_waits_init (self);
  ph_server_quotas_init (self);

  self->soup = soup_server_new ("server-header", "pinhole-rendezvous/" PACKAGE_VERSION " ",
                                "tls-certificate", self->tls_certificate, NULL);
  /* As libsoup completes it ("… libsoup/3.2.3"), for the answers it
   * does not write. */
  g_object_get (self->soup, "server-header", &self->server_header, NULL);
  soup_server_add_early_handler (self->soup, NULL, ph_server_early_cb, self, NULL);
  soup_server_add_handler (self->soup, NULL, ph_server_request_cb, self, NULL);
  g_signal_connect_object (self->soup, "request-started", G_CALLBACK (ph_server_request_started_cb),
                           self, 0);
  g_signal_connect_object (self->soup, "request-finished",
                           G_CALLBACK (ph_server_request_finished_cb), self, 0);
  g_signal_connect_object (self->soup, "request-aborted", G_CALLBACK (ph_server_request_aborted_cb),
                           self, 0);
}

static void
ph_rendezvous_server_dispose (GObject *object)
{
  PhRendezvousServer *self = PH_RENDEZVOUS_SERVER (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  ph_held_polls_clear (self);
  ph_meet_waits_clear (self);

  /* Before the disconnect, which would finalize the sockets under us. */
  if (self->clients != NULL)
    g_hash_table_remove_all (self->clients);
  g_clear_handle_id (&self->deadline_id, g_source_remove);

  if (self->soup != NULL)
    soup_server_disconnect (self->soup);
  g_clear_object (&self->soup);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->store);
  g_clear_object (&self->limiter);
  g_clear_object (&self->tls_certificate);

  G_OBJECT_CLASS (ph_rendezvous_server_parent_class)->dispose (object);
}

static void
ph_rendezvous_server_finalize (GObject *object)
{
  PhRendezvousServer *self = PH_RENDEZVOUS_SERVER (object);

  g_clear_pointer (&self->polls, g_hash_table_unref);
  ph_server_quotas_clear (self);
  g_clear_pointer (&self->clients, g_hash_table_unref);
  g_clear_pointer (&self->requests_by_status, g_hash_table_unref);
  g_clear_pointer (&self->errors_by_code, g_hash_table_unref);
  g_clear_pointer (&self->turn_secret, g_free);
  g_clear_pointer (&self->turn_uris, g_strfreev);
  g_clear_pointer (&self->stun_uris, g_strfreev);
  g_clear_pointer (&self->trusted_proxy_cidrs, g_strfreev);
  g_clear_pointer (&self->trusted_proxies, ph_trusted_proxies_free);
  g_clear_pointer (&self->url, g_free);
  g_clear_pointer (&self->server_header, g_free);

  G_OBJECT_CLASS (ph_rendezvous_server_parent_class)->finalize (object);
}

static void
ph_rendezvous_server_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PhRendezvousServer *self = PH_RENDEZVOUS_SERVER (object);

  switch (prop_id)
    {
    case PROP_MAX_BODY_BYTES:
      g_value_set_uint (value, self->max_body_bytes);
      break;
    case PROP_MAX_WAITING_POLLS:
      g_value_set_uint (value, self->max_waiting_polls);
      break;
    case PROP_MAX_MAILBOXES_PER_CLIENT:
      g_value_set_uint (value, self->max_mailboxes_per_client);
      break;
    case PROP_MAX_POLLS_PER_CLIENT:
      g_value_set_uint (value, self->max_polls_per_client);
      break;
    case PROP_ALLOCATIONS_PER_MINUTE:
      g_value_set_uint (value, self->allocations_per_minute);
      break;
    case PROP_JOINS_PER_HOUR:
      g_value_set_uint (value, self->joins_per_hour);
      break;
    case PROP_MAX_HOLD:
      g_value_set_uint (value, self->max_hold);
      break;
    case PROP_CLIENT_TIMEOUT:
      g_value_set_uint (value, self->client_timeout);
      break;
    case PROP_TURN_SECRET:
      g_value_set_string (value, self->turn_secret);
      break;
    case PROP_TURN_URIS:
      g_value_set_boxed (value, self->turn_uris);
      break;
    case PROP_STUN_URIS:
      g_value_set_boxed (value, self->stun_uris);
      break;
    case PROP_TURN_TTL:
      g_value_set_uint (value, self->turn_ttl);
      break;
    case PROP_TURN_QUOTA:
      g_value_set_uint (value, self->turn_quota);
      break;
    case PROP_STORED_LIFETIME:
      g_value_set_uint (value, self->stored_lifetime);
      break;
    case PROP_MAX_STORED_PER_POINT:
      g_value_set_uint (value, self->max_stored_per_point);
      break;
    case PROP_MAX_STORED_BYTES:
      g_value_set_uint (value, self->max_stored_bytes);
      break;
    case PROP_MAX_STORED_TOTAL_BYTES:
      g_value_set_uint64 (value, self->max_stored_total_bytes);
      break;
    case PROP_TLS_CERTIFICATE:
      g_value_set_object (value, self->tls_certificate);
      break;
    case PROP_STORE:
      g_value_set_object (value, self->store);
      break;
    case PROP_LIMITER:
      g_value_set_object (value, self->limiter);
      break;
    case PROP_TAKE_CONNECTIONS:
      g_value_set_boolean (value, self->take_connections);
      break;
    case PROP_TAKE_AFTER_MS:
      g_value_set_uint (value, self->take_after_ms);
      break;
    case PROP_TRUSTED_PROXIES:
      g_value_set_boxed (value, self->trusted_proxy_cidrs);
      break;
    case PROP_WAITING_POLLS:
      g_value_set_uint (value, self->waiting_polls);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_rendezvous_server_set_property (GObject *object, guint prop_id, const GValue *value,
                                   GParamSpec *pspec)
{
  PhRendezvousServer *self = PH_RENDEZVOUS_SERVER (object);

  switch (prop_id)
    {
    case PROP_MAX_BODY_BYTES:
      self->max_body_bytes = g_value_get_uint (value);
      break;
    case PROP_MAX_WAITING_POLLS:
      self->max_waiting_polls = g_value_get_uint (value);
      break;
    case PROP_MAX_MAILBOXES_PER_CLIENT:
      self->max_mailboxes_per_client = g_value_get_uint (value);
      break;
    case PROP_MAX_POLLS_PER_CLIENT:
      self->max_polls_per_client = g_value_get_uint (value);
      break;
    case PROP_ALLOCATIONS_PER_MINUTE:
      self->allocations_per_minute = g_value_get_uint (value);
      break;
    case PROP_JOINS_PER_HOUR:
      self->joins_per_hour = g_value_get_uint (value);
      break;
    case PROP_MAX_HOLD:
      self->max_hold = g_value_get_uint (value);
      break;
    case PROP_CLIENT_TIMEOUT:
      self->client_timeout = g_value_get_uint (value);
      break;
    case PROP_TURN_SECRET:
      self->turn_secret = g_value_dup_string (value);
      break;
    case PROP_TURN_URIS:
      self->turn_uris = g_value_dup_boxed (value);
      break;
    case PROP_STUN_URIS:
      self->stun_uris = g_value_dup_boxed (value);
      break;
    case PROP_TURN_TTL:
      self->turn_ttl = g_value_get_uint (value);
      break;
    case PROP_TURN_QUOTA:
      self->turn_quota = g_value_get_uint (value);
      break;
    case PROP_STORED_LIFETIME:
      self->stored_lifetime = g_value_get_uint (value);
      break;
    case PROP_MAX_STORED_PER_POINT:
      self->max_stored_per_point = g_value_get_uint (value);
      break;
    case PROP_MAX_STORED_BYTES:
      self->max_stored_bytes = g_value_get_uint (value);
      break;
    case PROP_MAX_STORED_TOTAL_BYTES:
      self->max_stored_total_bytes = g_value_get_uint64 (value);
      break;
    case PROP_TLS_CERTIFICATE:
      self->tls_certificate = g_value_dup_object (value);
      break;
    case PROP_STORE:
      self->store = g_value_dup_object (value);
      break;
    case PROP_LIMITER:
      self->limiter = g_value_dup_object (value);
      break;
    case PROP_TAKE_CONNECTIONS:
      self->take_connections = g_value_get_boolean (value);
      break;
    case PROP_TAKE_AFTER_MS:
      self->take_after_ms = g_value_get_uint (value);
      break;
    case PROP_TRUSTED_PROXIES:
      self->trusted_proxy_cidrs = g_value_dup_boxed (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static GParamSpec *
limit_param (const char *name, guint minimum, guint maximum, guint default_value)
{
  return g_param_spec_uint (name, NULL, NULL, minimum, maximum, default_value,
                            G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS
                                | G_PARAM_EXPLICIT_NOTIFY);
}

static void
ph_rendezvous_server_class_init (PhRendezvousServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS
                      | G_PARAM_EXPLICIT_NOTIFY;

  object_class->constructed = ph_rendezvous_server_constructed;
  object_class->dispose = ph_rendezvous_server_dispose;
  object_class->finalize = ph_rendezvous_server_finalize;
  object_class->get_property = ph_rendezvous_server_get_property;
  object_class->set_property = ph_rendezvous_server_set_property;

  properties[PROP_MAX_BODY_BYTES] = limit_param ("max-body-bytes", 256, 16 * 1024 * 1024, 65536);
  properties[PROP_MAX_WAITING_POLLS] = limit_param ("max-waiting-polls", 1, 10000000, 20000);
  /* What one client may hold (ph-server-quotas.c): a chat takes one
   * mailbox and at most two polls, so twice as many polls as mailboxes;
   * 313 addresses are needed to take all of the global caps' defaults. */
  properties[PROP_MAX_MAILBOXES_PER_CLIENT]
      = limit_param ("max-mailboxes-per-client", 1, 999999999, 32);
  properties[PROP_MAX_POLLS_PER_CLIENT] = limit_param ("max-polls-per-client", 1, 10000000, 64);
  properties[PROP_ALLOCATIONS_PER_MINUTE] = limit_param ("allocations-per-minute", 1, 1000000, 30);
  /* 60 guesses an hour at 16-bit codes: one address needs about 45 days
   * for even odds on one code, and each guess ends a host's chat with
   * "possible-guess". */
  properties[PROP_JOINS_PER_HOUR] = limit_param ("joins-per-hour", 1, 1000000, 60);
  properties[PROP_MAX_HOLD] = limit_param ("max-hold", 1, PH_SERVER_MAX_WAIT_SECONDS, 30);
  properties[PROP_CLIENT_TIMEOUT] = limit_param ("client-timeout", 1, 3600, 30);
  properties[PROP_TURN_SECRET] = g_param_spec_string ("turn-secret", NULL, NULL, NULL, flags);
  properties[PROP_TURN_URIS] = g_param_spec_boxed ("turn-uris", NULL, NULL, G_TYPE_STRV, flags);
  properties[PROP_STUN_URIS] = g_param_spec_boxed ("stun-uris", NULL, NULL, G_TYPE_STRV, flags);
  /* TURN credentials cannot be taken back: an hour at most bounds what a
   * side that leaves keeps of the relay. */
  properties[PROP_TURN_TTL] = limit_param ("turn-ttl", 60, 3600, 3600);
  /* Sets of credentials per mailbox side per turn-ttl: the first, a
   * renewal before it runs out, and a few for reconnections. */
  properties[PROP_TURN_QUOTA] = limit_param ("turn-quota", 1, 1000, 4);
  /* Stored copies at meeting points: a week by default, so that a
   * contact away for a few days still finds what was left; per point a
   * hundred copies and a mebibyte, so nobody fills the disk through
   * one point. */
  properties[PROP_STORED_LIFETIME]
      = limit_param ("stored-lifetime", 1, 30 * 24 * 3600, 7 * 24 * 3600);
  properties[PROP_MAX_STORED_PER_POINT] = limit_param ("max-stored-per-point", 1, 100000, 100);
  properties[PROP_MAX_STORED_BYTES]
      = limit_param ("max-stored-bytes", 1, 1024 * 1024 * 1024, 1024 * 1024);
  /* All points' copies together, so that anyone making points of their
   * own cannot fill the disk: 1 GiB, a thousand full points. */
  properties[PROP_MAX_STORED_TOTAL_BYTES] = g_param_spec_uint64 (
      "max-stored-total-bytes", NULL, NULL, 1, G_MAXINT64, G_GUINT64_CONSTANT (1) << 30, flags);
  properties[PROP_TLS_CERTIFICATE]
      = g_param_spec_object ("tls-certificate", NULL, NULL, G_TYPE_TLS_CERTIFICATE, flags);
  /* The mailboxes and the rate limit are configured on their own
   * objects; the server only uses them. */
  properties[PROP_STORE] = g_param_spec_object ("store", NULL, NULL, PH_TYPE_STORE, flags);
  properties[PROP_LIMITER]
      = g_param_spec_object ("limiter", NULL, NULL, PH_TYPE_RATE_LIMITER, flags);
  /* Whether a waiting poll may take its connection from libsoup where
   * ph_taken_connection_supported () says it can; FALSE keeps every
   * waiting poll a paused libsoup message. */
  properties[PROP_TAKE_CONNECTIONS]
      = g_param_spec_boolean ("take-connections", NULL, NULL, TRUE, flags);
  /* How long a held poll waits as a paused message, keeping its
   * connection for the client's next request, before it takes the
   * connection (ph-held-polls.c); 0: at once. */
  properties[PROP_TAKE_AFTER_MS]
      = g_param_spec_uint ("take-after-ms", NULL, NULL, 0, 60000, PH_SERVER_TAKE_AFTER_MS, flags);
  /* Address blocks ("10.0.0.0/8", "::1") of reverse proxies whose
   * Forwarded or X-Forwarded-For header names the client
   * (ph-client-address.h); a request from anywhere else is its peer's. */
  properties[PROP_TRUSTED_PROXIES]
      = g_param_spec_boxed ("trusted-proxies", NULL, NULL, G_TYPE_STRV, flags);
  properties[PROP_WAITING_POLLS]
      = g_param_spec_uint ("waiting-polls", NULL, NULL, 0, G_MAXUINT, 0,
                           G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ph_rendezvous_server_init (PhRendezvousServer *self)
{
  self->polls = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify)g_queue_free);
  self->cancellable = g_cancellable_new ();
  self->hangup_fd = -1;
  self->take_connections = TRUE;
  self->take_after_ms = PH_SERVER_TAKE_AFTER_MS;
  self->clients = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify)ph_server_client_free);
  self->requests_by_status = g_hash_table_new (NULL, NULL);
  self->errors_by_code = g_hash_table_new (g_str_hash, g_str_equal);
}

PhRendezvousServer *
ph_rendezvous_server_new (void)
{
  return g_object_new (PH_TYPE_RENDEZVOUS_SERVER, NULL);
}

gboolean
ph_rendezvous_server_listen (PhRendezvousServer *self, GInetAddress *address, guint port,
                             GError **error)
{
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GSocketAddress) socket_address = NULL;
  g_autoptr (GSocketAddress) bound = NULL;
  GSocketFamily family;
  g_autofree char *host = NULL;
  GSList *listeners;

  g_return_val_if_fail (PH_IS_RENDEZVOUS_SERVER (self), FALSE);
  g_return_val_if_fail (G_IS_INET_ADDRESS (address), FALSE);
  g_return_val_if_fail (port <= G_MAXUINT16, FALSE);
  g_return_val_if_fail (self->url == NULL, FALSE);

  family = g_inet_address_get_family (address);
  socket = g_socket_new (family, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, error);
  if (socket == NULL)
    return FALSE;
  /* As soup_server_listen () does: "::" means IPv6 only. */
  if (family == G_SOCKET_FAMILY_IPV6)
    g_socket_set_option (socket, IPPROTO_IPV6, IPV6_V6ONLY, TRUE, NULL);
  g_socket_set_listen_backlog (socket, LISTEN_BACKLOG);

  socket_address = g_inet_socket_address_new (address, port);
  if (!g_socket_bind (socket, socket_address, TRUE, error) || !g_socket_listen (socket, error)
      || !soup_server_listen_socket (
          self->soup, socket, self->tls_certificate != NULL ? SOUP_SERVER_LISTEN_HTTPS : 0, error))
    return FALSE;

  /* The socket, not soup_server_get_uris (), which leaks in libsoup 3.2. */
  listeners = soup_server_get_listeners (self->soup);
  bound = g_socket_get_local_address (listeners->data, error);
  g_slist_free (listeners);
  if (bound == NULL)
    return FALSE;
  self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));

  host = g_inet_address_to_string (address);
  self->url = g_strdup_printf (
      g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6 ? "%s://[%s]:%u" : "%s://%s:%u",
      self->tls_certificate != NULL ? "https" : "http", host, self->port);
  return TRUE;
}

guint
ph_rendezvous_server_get_port (PhRendezvousServer *self)
{
  g_return_val_if_fail (PH_IS_RENDEZVOUS_SERVER (self), 0);

  return self->port;
}

/* The base URL clients use, such as http://127.0.0.1:8470, once listening. */
char *
ph_rendezvous_server_get_url (PhRendezvousServer *self)
{
  g_return_val_if_fail (PH_IS_RENDEZVOUS_SERVER (self), NULL);

  return g_strdup (self->url);
}

guint
ph_rendezvous_server_get_waiting_polls (PhRendezvousServer *self)
{
  g_return_val_if_fail (PH_IS_RENDEZVOUS_SERVER (self), 0);

  return self->waiting_polls;
}
