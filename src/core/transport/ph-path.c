/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-path"

#include "config.h"

#include <glib/gi18n-lib.h>

#include "ph-path.h"

G_DEFINE_BOXED_TYPE (PhPath, ph_path, ph_path_copy, ph_path_free)

PhPath *
ph_path_copy (const PhPath *path)
{
  PhPath *copy;

  g_return_val_if_fail (path != NULL, NULL);

  copy = g_new0 (PhPath, 1);
  copy->local_type = g_strdup (path->local_type);
  copy->local_transport = g_strdup (path->local_transport);
  copy->local_address = g_strdup (path->local_address);
  copy->local_port = path->local_port;
  copy->remote_type = g_strdup (path->remote_type);
  copy->remote_transport = g_strdup (path->remote_transport);
  copy->remote_address = g_strdup (path->remote_address);
  copy->remote_port = path->remote_port;
  copy->relayed = path->relayed;
  copy->turn_transport = g_strdup (path->turn_transport);
  copy->turn_port = path->turn_port;
  copy->turn_proxy = path->turn_proxy;
  copy->port_mapping = g_strdup (path->port_mapping);
  copy->port_mapping_by_peer = path->port_mapping_by_peer;
  return copy;
}

void
ph_path_free (PhPath *path)
{
  if (path == NULL)
    return;
  g_free (path->local_type);
  g_free (path->local_transport);
  g_free (path->local_address);
  g_free (path->remote_type);
  g_free (path->remote_transport);
  g_free (path->remote_address);
  g_free (path->turn_transport);
  g_free (path->port_mapping);
  g_free (path);
}

gboolean
ph_path_equal (const PhPath *a, const PhPath *b)
{
  if (a == b)
    return TRUE;
  if (a == NULL || b == NULL)
    return FALSE;
  return g_strcmp0 (a->local_type, b->local_type) == 0
         && g_strcmp0 (a->local_transport, b->local_transport) == 0
         && g_strcmp0 (a->local_address, b->local_address) == 0 && a->local_port == b->local_port
         && g_strcmp0 (a->remote_type, b->remote_type) == 0
         && g_strcmp0 (a->remote_transport, b->remote_transport) == 0
         && g_strcmp0 (a->remote_address, b->remote_address) == 0
         && a->remote_port == b->remote_port && !a->relayed == !b->relayed
         && g_strcmp0 (a->turn_transport, b->turn_transport) == 0 && a->turn_port == b->turn_port
         && !a->turn_proxy == !b->turn_proxy && g_strcmp0 (a->port_mapping, b->port_mapping) == 0
         && !a->port_mapping_by_peer == !b->port_mapping_by_peer;
}

static void
add_end (JsonBuilder *builder, const char *name, const char *type, const char *transport,
         const char *address, guint port)
{
  json_builder_set_member_name (builder, name);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, type != NULL ? type : "");
  json_builder_set_member_name (builder, "transport");
  json_builder_add_string_value (builder, transport != NULL ? transport : "");
  json_builder_set_member_name (builder, "address");
  json_builder_add_string_value (builder, address != NULL ? address : "");
  json_builder_set_member_name (builder, "port");
  json_builder_add_int_value (builder, port);
  json_builder_end_object (builder);
}

JsonNode *
ph_path_to_json (const PhPath *path)
{
  g_autoptr (JsonBuilder) builder = NULL;

  g_return_val_if_fail (path != NULL, NULL);

  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "relayed");
  json_builder_add_boolean_value (builder, path->relayed);
  add_end (builder, "local", path->local_type, path->local_transport, path->local_address,
           path->local_port);
  add_end (builder, "remote", path->remote_type, path->remote_transport, path->remote_address,
           path->remote_port);
  if (path->turn_transport != NULL)
    {
      json_builder_set_member_name (builder, "turn_transport");
      json_builder_add_string_value (builder, path->turn_transport);
      if (path->turn_port != 0)
        {
          json_builder_set_member_name (builder, "turn_port");
          json_builder_add_int_value (builder, path->turn_port);
        }
      json_builder_set_member_name (builder, "turn_proxy");
      json_builder_add_boolean_value (builder, path->turn_proxy);
    }
  if (path->port_mapping != NULL)
    {
      json_builder_set_member_name (builder, "port_mapping");
      json_builder_add_string_value (builder, path->port_mapping);
      json_builder_set_member_name (builder, "port_mapping_by");
      json_builder_add_string_value (builder, path->port_mapping_by_peer ? "peer" : "local");
    }
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

char *
ph_path_describe (const PhPath *path)
{
  g_return_val_if_fail (path != NULL, NULL);

  if (path->relayed && path->turn_transport != NULL)
    {
      g_autofree char *transport = g_ascii_strup (path->turn_transport, -1);

      if (path->turn_port != 0 && path->turn_proxy)
        /* Translators: the first %s is how this end reaches its TURN server
         * (UDP, TCP or TLS), %u the server's port, the next two %s ICE
         * candidate types (host, srflx, prflx or relay) of your end and
         * your peer's, the last the transport (udp or tcp); keep them as
         * they are. “Your proxy” is the HTTP proxy of the system settings. */
        return g_strdup_printf (_ ("relayed through TURN over %s, port %u, through your proxy "
                                   "(%s ↔ %s, %s)"),
                                transport, path->turn_port, path->local_type, path->remote_type,
                                path->local_transport);
      if (path->turn_port != 0)
        /* Translators: the first %s is how this end reaches its TURN server
         * (UDP, TCP or TLS), %u the server's port, the next two %s ICE
         * candidate types (host, srflx, prflx or relay) of your end and
         * your peer's, the last the transport (udp or tcp); keep them as
         * they are. */
        return g_strdup_printf (_ ("relayed through TURN over %s, port %u (%s ↔ %s, %s)"),
                                transport, path->turn_port, path->local_type, path->remote_type,
                                path->local_transport);
      /* Translators: the first %s is how this end reaches its TURN server
       * (UDP, TCP or TLS), the next two ICE candidate types (host, srflx,
       * prflx or relay) of your end and your peer's, the last the transport
       * (udp or tcp); keep them as they are. */
      return g_strdup_printf (_ ("relayed through TURN over %s (%s ↔ %s, %s)"), transport,
                              path->local_type, path->remote_type, path->local_transport);
    }
  if (path->relayed)
    /* Translators: the first two %s are ICE candidate types (host, srflx,
     * prflx or relay) of your end and your peer's, the last the transport
     * (udp or tcp); keep them as they are. */
    return g_strdup_printf (_ ("relayed (%s ↔ %s, %s)"), path->local_type, path->remote_type,
                            path->local_transport);
  /* Translators: the first two %s are ICE candidate types (host, srflx,
   * prflx or relay) of your end and your peer's, the last the transport
   * (udp or tcp); keep them as they are. */
  if (path->port_mapping != NULL && path->port_mapping_by_peer)
    /* Translators: the first %s is how the router was asked (NAT-PMP or
     * UPnP), the next two ICE candidate types (host, srflx, prflx or
     * relay) of your end and your peer's, the last the transport (udp or
     * tcp); keep them as they are. */
    return g_strdup_printf (_ ("direct through a port your peer’s router opened (%s) (%s ↔ %s, "
                               "%s)"),
                            path->port_mapping, path->local_type, path->remote_type,
                            path->local_transport);
  if (path->port_mapping != NULL)
    /* Translators: the first %s is how the router was asked (NAT-PMP or
     * UPnP), the next two ICE candidate types (host, srflx, prflx or
     * relay) of your end and your peer's, the last the transport (udp or
     * tcp); keep them as they are. */
    return g_strdup_printf (_ ("direct through a port your router opened (%s) (%s ↔ %s, %s)"),
                            path->port_mapping, path->local_type, path->remote_type,
                            path->local_transport);
  return g_strdup_printf (_ ("direct (%s ↔ %s, %s)"), path->local_type, path->remote_type,
                          path->local_transport);
}
