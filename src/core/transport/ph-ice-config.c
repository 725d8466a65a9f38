/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-ice-config"

#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <glib/gi18n-lib.h>

#include "ph-error.h"
#include "ph-ice-config.h"

#define DEFAULT_PORT 3478
/* RFC 7065: turns: defaults to the TURN-over-TLS port. */
#define DEFAULT_TLS_PORT 5349
/* RFC 1035 limits a host name to 253 characters. */
#define MAX_HOST_LENGTH 253

PhIceConfig *
ph_ice_config_new (void)
{
  PhIceConfig *self = g_new0 (PhIceConfig, 1);

  self->stun_port = DEFAULT_PORT;
  self->port_mapping = TRUE;
  self->turn_servers = g_ptr_array_new_with_free_func ((GDestroyNotify)ph_turn_server_free);
  return self;
}

static PhTurnServer *
turn_server_copy (const PhTurnServer *server)
{
  PhTurnServer *copy = g_new0 (PhTurnServer, 1);

  copy->host = g_strdup (server->host);
  copy->port = server->port;
  copy->username = g_strdup (server->username);
  copy->password = g_strdup (server->password);
  copy->transport = server->transport;
  return copy;
}

PhIceConfig *
ph_ice_config_copy (const PhIceConfig *self)
{
  PhIceConfig *copy;

  g_return_val_if_fail (self != NULL, NULL);

  copy = ph_ice_config_new ();
  copy->stun_host = g_strdup (self->stun_host);
  copy->stun_port = self->stun_port;
  copy->relay_only = self->relay_only;
  copy->port_mapping = self->port_mapping;
  for (guint i = 0; self->turn_servers != NULL && i < self->turn_servers->len; i++)
    g_ptr_array_add (copy->turn_servers,
                     turn_server_copy (g_ptr_array_index (self->turn_servers, i)));
  return copy;
}

void
ph_ice_config_free (PhIceConfig *self)
{
  if (self == NULL)
    return;
  g_free (self->stun_host);
  g_clear_pointer (&self->turn_servers, g_ptr_array_unref);
  g_free (self);
}

void
ph_turn_server_free (PhTurnServer *server)
{
  if (server == NULL)
    return;
  g_free (server->host);
  g_free (server->username);
  if (server->password != NULL)
    memset (server->password, 0, strlen (server->password));
  g_free (server->password);
  g_free (server);
}

static gboolean
is_host_name (const char *host)
{
  gsize len = strlen (host);

  if (len == 0 || len > MAX_HOST_LENGTH || host[0] == '-' || host[0] == '.')
    return FALSE;
  for (const char *p = host; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.')
      return FALSE;
  return TRUE;
}

/* Splits "HOST", "HOST:PORT", "[V6]", "[V6]:PORT" or a bare IPv6 address;
 * without a port, @default_port. @protocol ("STUN" or "TURN") and @shown
 * (the whole input) make error messages. */
static gboolean
parse_host_port (const char *text, guint default_port, const char *protocol, const char *shown,
                 char **host_out, guint *port_out, GError **error)
{
  g_autofree char *host = NULL;
  const char *port_text = NULL;
  guint64 port = default_port;

  if (text[0] == '[')
    {
      const char *end = strchr (text, ']');
      g_autoptr (GInetAddress) address = NULL;

      if (end == NULL)
        {
          g_set_error (error, PH_ERROR, PH_ERROR_FAILED,
                       /* Translators: the first %s is STUN or TURN, the second the server's address
                          as given. */
                       _ ("The %s server address “%s” has a “[” without a closing “]”."), protocol,
                       shown);
          return FALSE;
        }
      host = g_strndup (text + 1, end - text - 1);
      address = g_inet_address_new_from_string (host);
      if (address == NULL || g_inet_address_get_family (address) != G_SOCKET_FAMILY_IPV6)
        {
          g_set_error (error, PH_ERROR, PH_ERROR_FAILED,
                       /* Translators: the first %s is STUN or TURN, the second the server's address
                          as given. */
                       _ ("The %s server address “%s” has no valid IPv6 address inside “[ ]”."),
                       protocol, shown);
          return FALSE;
        }
      if (end[1] == ':')
        port_text = end + 2;
      else if (end[1] != '\0')
        {
          g_set_error (error, PH_ERROR, PH_ERROR_FAILED,
                       /* Translators: the first %s is STUN or TURN, the second the server's address
                          as given. */
                       _ ("The %s server address “%s” has unexpected text after “]”."), protocol,
                       shown);
          return FALSE;
        }
    }
  else
    {
      const char *colon = strchr (text, ':');

      if (colon != NULL && strchr (colon + 1, ':') != NULL)
        {
          /* Two colons: only a bare IPv6 address makes sense. */
          g_autoptr (GInetAddress) address = g_inet_address_new_from_string (text);

          if (address == NULL)
            {
              g_set_error (error, PH_ERROR, PH_ERROR_FAILED,
                           /* Translators: the first %s is STUN or TURN, the second the server's
                            * address as given; keep [ADDRESS]:PORT. */
                           _ ("The %s server address “%s” is not valid; write an IPv6 address "
                              "with a port as [ADDRESS]:PORT."),
                           protocol, shown);
              return FALSE;
            }
          host = g_strdup (text);
        }
      else if (colon != NULL)
        {
          host = g_strndup (text, colon - text);
          port_text = colon + 1;
        }
      else
        host = g_strdup (text);

      /* A bare IPv6 address was checked above. */
      if (strchr (host, ':') == NULL && !is_host_name (host))
        {
          g_set_error (error, PH_ERROR, PH_ERROR_FAILED,
                       /* Translators: the first %s is STUN or TURN, the second the server's address
                          as given. */
                       _ ("The %s server address “%s” does not start with a valid host name."),
                       protocol, shown);
          return FALSE;
        }
    }

  if (port_text != NULL
      && (!g_ascii_string_to_unsigned (port_text, 10, 1, 65535, &port, NULL)
          || !g_ascii_isdigit (port_text[0])))
    {
      g_set_error (
          error, PH_ERROR, PH_ERROR_FAILED,
          /* Translators: the first %s is STUN or TURN, the second the server's address as given. */
          _ ("The %s server address “%s” has an invalid port; use a number from 1 to "
             "65535."),
          protocol, shown);
      return FALSE;
    }

  *host_out = g_steal_pointer (&host);
  *port_out = (guint)port;
  return TRUE;
}

gboolean
ph_ice_config_set_stun (PhIceConfig *self, const char *server, GError **error)
{
  const char *rest = server;
  char *host = NULL;
  guint port = 0;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (server != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (g_ascii_strncasecmp (server, "stuns:", 6) == 0)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_FAILED,
                   /* Translators: %s is the STUN server's address as given; keep stun:. */
                   _ ("STUN over TLS (“%s”) is not supported; use a stun: address."), server);
      return FALSE;
    }
  if (g_ascii_strncasecmp (server, "stun:", 5) == 0)
    rest = server + 5;
  if (strchr (rest, '?') != NULL || strchr (rest, '/') != NULL || strchr (rest, '@') != NULL)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_FAILED,
                   /* Translators: %s is the STUN server's address as given. */
                   _ ("The STUN server “%s” must be written as HOST or HOST:PORT."), server);
      return FALSE;
    }
  if (!parse_host_port (rest, DEFAULT_PORT, "STUN", server, &host, &port, error))
    return FALSE;

  g_free (self->stun_host);
  self->stun_host = host;
  self->stun_port = port;
  return TRUE;
}

gboolean
ph_ice_config_add_turn (PhIceConfig *self, const char *uri, const char *username,
                        const char *password, GError **error)
{
  g_autofree char *authority = NULL;
  const char *rest;
  const char *query;
  gboolean tls = FALSE;
  PhTurnTransport transport;
  PhTurnServer *server;
  char *host = NULL;
  guint port = 0;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (uri != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (g_ascii_strncasecmp (uri, "turns:", 6) == 0)
    {
      rest = uri + 6;
      tls = TRUE;
    }
  else if (g_ascii_strncasecmp (uri, "turn:", 5) == 0)
    rest = uri + 5;
  else
    {
      g_set_error (error, PH_ERROR, PH_ERROR_FAILED,
                   /* Translators: %s is the TURN server's URI as given; keep “?transport=udp”. */
                   _ ("The TURN server “%s” must be a URI like turn:HOST:PORT?transport=udp."),
                   uri);
      return FALSE;
    }
  transport = tls ? PH_TURN_TRANSPORT_TLS : PH_TURN_TRANSPORT_UDP;
  if (username == NULL || *username == '\0' || password == NULL)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_FAILED,
                   /* Translators: %s is the TURN server's URI as given. */
                   _ ("The TURN server “%s” needs a user name and a password."), uri);
      return FALSE;
    }

  query = strchr (rest, '?');
  authority = query != NULL ? g_strndup (rest, query - rest) : g_strdup (rest);
  if (strchr (authority, '/') != NULL || strchr (authority, '@') != NULL)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_FAILED,
                   /* Translators: %s is the TURN server's URI as given; keep “?transport=udp”. */
                   _ ("The TURN server “%s” must be a URI like turn:HOST:PORT?transport=udp; "
                      "give the user name and password separately."),
                   uri);
      return FALSE;
    }

  if (query != NULL)
    {
      if (tls && g_ascii_strcasecmp (query, "?transport=tcp") == 0)
        transport = PH_TURN_TRANSPORT_TLS;
      else if (tls && g_ascii_strcasecmp (query, "?transport=udp") == 0)
        {
          /* turns: over UDP would be DTLS, which libnice cannot speak. */
          g_set_error (error, PH_ERROR, PH_ERROR_FAILED,
                       /* Translators: %s is the TURN server's URI as given; keep turns:,
                        * transport=udp and turn:. */
                       _ ("The TURN server “%s” asks for TURN over DTLS, which is not supported; "
                          "use turns: without transport=udp (TLS over TCP), or turn: for UDP."),
                       uri);
          return FALSE;
        }
      else if (!tls && g_ascii_strcasecmp (query, "?transport=udp") == 0)
        transport = PH_TURN_TRANSPORT_UDP;
      else if (!tls && g_ascii_strcasecmp (query, "?transport=tcp") == 0)
        transport = PH_TURN_TRANSPORT_TCP;
      else
        {
          g_set_error (error, PH_ERROR, PH_ERROR_FAILED,
                       /* Translators: the first %s is the TURN server's URI as given, the second
                        * the option after “?”; keep transport=udp and transport=tcp. */
                       _ ("The TURN server “%s” has an unknown option “%s”; only transport=udp or "
                          "transport=tcp are understood."),
                       uri, query + 1);
          return FALSE;
        }
    }

  if (!parse_host_port (authority, tls ? DEFAULT_TLS_PORT : DEFAULT_PORT, "TURN", uri, &host, &port,
                        error))
    return FALSE;

  server = g_new0 (PhTurnServer, 1);
  server->host = host;
  server->port = port;
  server->username = g_strdup (username);
  server->password = g_strdup (password);
  server->transport = transport;
  g_ptr_array_add (self->turn_servers, server);
  return TRUE;
}

const char *
ph_turn_transport_to_string (PhTurnTransport transport)
{
  switch (transport)
    {
    case PH_TURN_TRANSPORT_TCP:
      return "tcp";
    case PH_TURN_TRANSPORT_TLS:
      return "tls";
    case PH_TURN_TRANSPORT_UDP:
    default:
      return "udp";
    }
}

char *
ph_turn_server_to_uri (const PhTurnServer *server)
{
  gboolean ipv6;

  g_return_val_if_fail (server != NULL, NULL);

  ipv6 = strchr (server->host, ':') != NULL;
  return g_strdup_printf ("%s:%s%s%s:%u%s",
                          server->transport == PH_TURN_TRANSPORT_TLS ? "turns" : "turn",
                          ipv6 ? "[" : "", server->host, ipv6 ? "]" : "", server->port,
                          server->transport == PH_TURN_TRANSPORT_TCP ? "?transport=tcp" : "");
}
