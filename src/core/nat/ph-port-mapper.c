/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-port-mapper"

#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <glib-unix.h>
#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>
/* libnatpmp declares strnatpmperr() only when asked to. */
#define ENABLE_STRNATPMPERR
#include <natpmp.h>

#include "ph-port-mapper.h"

/* RFC 6886 recommends two hours; renewed at half of what the router
 * grants, so a chat never outlives its mapping. */
#define NATPMP_LIFETIME_S 7200
/* A router that speaks NAT-PMP answers its LAN within milliseconds; the
 * first request is sent again after 250 ms and given up after 750 ms. */
#define NATPMP_FIRST_TRIES 2
/* miniupnpc waits this long for SSDP answers (1 s is its floor: MX=1). */
#define UPNP_DISCOVERY_MS 1000
#define UPNP_LEASE_S 3600
/* RFC 8445: type preference 105 is what libnice gives NAT-assisted
 * (UPnP) candidates, between host (126) and server-reflexive (100). */
#define MAPPED_TYPE_PREFERENCE 105u

typedef enum
{
  NATPMP_IDLE,
  NATPMP_PUBLIC_ADDRESS, /* asking for the external address */
  NATPMP_MAPPING,        /* asking for the mapping */
  NATPMP_MAPPED,         /* waiting to renew */
  NATPMP_RENEWING,
  NATPMP_FAILED,
} NatpmpStep;

/* What the UPnP thread found and mapped; owned by whoever holds it. */
typedef struct
{
  char *control_url;
  char *service_type;
  char *external_address;
  char *external_port;
  char *internal_address;
  char *internal_port;
  char *multicast_if;
} UpnpJob;

struct _PhPortMapper
{
  GObject parent_instance;

  GMainContext *context;
  char *lan_address;      /* ours on the route to the gateway */
  char *internal_address; /* the host candidate's */
  guint internal_port;
  gboolean requested;
  gboolean stopped;

  natpmp_t natpmp;
  gboolean natpmp_open;
  NatpmpStep natpmp_step;
  char *natpmp_public_address;
  GSource *natpmp_readable;
  GSource *natpmp_timer;

  GCancellable *upnp_cancellable;
  gboolean upnp_done;
  UpnpJob *upnp; /* the mapping UPnP holds, NULL if none */

  GSource *renew_timer;

  PhPortMappingProtocol protocol;
  char *external_address;
  guint external_port;
  gboolean settled;
};

G_DEFINE_FINAL_TYPE (PhPortMapper, ph_port_mapper, G_TYPE_OBJECT)

enum
{
  SIGNAL_MAPPED,
  SIGNAL_SETTLED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
upnp_job_free (UpnpJob *job)
{
  g_free (job->control_url);
  g_free (job->service_type);
  g_free (job->external_address);
  g_free (job->external_port);
  g_free (job->internal_address);
  g_free (job->internal_port);
  g_free (job->multicast_if);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (UpnpJob, upnp_job_free)

gboolean
ph_port_mapping_allowed (void)
{
  return g_strcmp0 (g_getenv ("PINHOLE_PORT_MAPPING"), "off") != 0;
}

const char *
ph_port_mapping_protocol_to_string (PhPortMappingProtocol protocol)
{
  switch (protocol)
    {
    case PH_PORT_MAPPING_PROTOCOL_NATPMP:
      return "NAT-PMP";
    case PH_PORT_MAPPING_PROTOCOL_UPNP:
      return "UPnP";
    case PH_PORT_MAPPING_PROTOCOL_NONE:
    default:
      return NULL;
    }
}

static const char *
protocol_foundation (PhPortMappingProtocol protocol)
{
  return protocol == PH_PORT_MAPPING_PROTOCOL_UPNP ? "upnp" : "natpmp";
}

PhPortMappingProtocol
ph_port_mapping_protocol_from_foundation (const char *foundation)
{
  if (g_strcmp0 (foundation, "natpmp") == 0)
    return PH_PORT_MAPPING_PROTOCOL_NATPMP;
  if (g_strcmp0 (foundation, "upnp") == 0)
    return PH_PORT_MAPPING_PROTOCOL_UPNP;
  return PH_PORT_MAPPING_PROTOCOL_NONE;
}

static void
settle (PhPortMapper *self)
{
  if (self->settled || self->stopped)
    return;
  self->settled = TRUE;
  g_signal_emit (self, signals[SIGNAL_SETTLED], 0);
}

static void
maybe_settle (PhPortMapper *self)
{
  if (self->protocol != PH_PORT_MAPPING_PROTOCOL_NONE
      || (self->natpmp_step == NATPMP_FAILED && self->upnp_done))
    settle (self);
}

static void
clear_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

static GSource *
attach (PhPortMapper *self, GSource *source, GSourceFunc callback)
{
  g_source_set_callback (source, callback, self, NULL);
  g_source_attach (source, self->context);
  return source;
}

static void schedule_renewal (PhPortMapper *self, guint lifetime_s);

static void
mapped (PhPortMapper *self, PhPortMappingProtocol protocol, const char *address, guint port)
{
  G_GNUC_UNUSED g_autoptr (PhPortMapper) hold = g_object_ref (self);

  self->protocol = protocol;
  g_free (self->external_address);
  self->external_address = g_strdup (address);
  self->external_port = port;
  g_debug ("The router maps %s:%u to %s:%u (%s)", address, port, self->internal_address,
           self->internal_port, ph_port_mapping_protocol_to_string (protocol));
  g_signal_emit (self, signals[SIGNAL_MAPPED], 0);
  settle (self);
}

/* --- NAT-PMP --- */

static gboolean natpmp_timeout_cb (gpointer user_data);

static void
natpmp_wait (PhPortMapper *self)
{
  struct timeval timeout;

  clear_source (&self->natpmp_timer);
  if (getnatpmprequesttimeout (&self->natpmp, &timeout) < 0)
    return;
  self->natpmp_timer = attach (
      self, g_timeout_source_new ((guint)(timeout.tv_sec * 1000 + timeout.tv_usec / 1000) + 1),
      natpmp_timeout_cb);
}

static void
natpmp_fail (PhPortMapper *self, int code)
{
  gboolean renewing = self->natpmp_step == NATPMP_RENEWING;

  clear_source (&self->natpmp_timer);
  clear_source (&self->natpmp_readable);
  self->natpmp_step = NATPMP_FAILED;
  if (renewing)
    g_warning ("The router did not renew its port mapping (NAT-PMP: %s)", strnatpmperr (code));
  else
    g_debug ("No NAT-PMP mapping: %s", strnatpmperr (code));
  maybe_settle (self);
}

static void
natpmp_request_mapping (PhPortMapper *self, guint public_port, NatpmpStep step)
{
  int sent = sendnewportmappingrequest (&self->natpmp, NATPMP_PROTOCOL_UDP,
                                        (uint16_t)self->internal_port, (uint16_t)public_port,
                                        NATPMP_LIFETIME_S);

  if (sent < 0)
    {
      natpmp_fail (self, sent);
      return;
    }
  self->natpmp_step = step;
  natpmp_wait (self);
}

static void
natpmp_answered (PhPortMapper *self, const natpmpresp_t *response)
{
  switch (self->natpmp_step)
    {
    case NATPMP_PUBLIC_ADDRESS:
      {
        char address[INET_ADDRSTRLEN];

        inet_ntop (AF_INET, &response->pnu.publicaddress.addr, address, sizeof address);
        self->natpmp_public_address = g_strdup (address);
        natpmp_request_mapping (self, self->internal_port, NATPMP_MAPPING);
        break;
      }
    case NATPMP_MAPPING:
    case NATPMP_RENEWING:
      clear_source (&self->natpmp_timer);
      if (self->protocol == PH_PORT_MAPPING_PROTOCOL_UPNP)
        {
          /* UPnP got there first (a slow router): this one goes again. */
          sendnewportmappingrequest (&self->natpmp, NATPMP_PROTOCOL_UDP,
                                     (uint16_t)self->internal_port, 0, 0);
          natpmp_fail (self, NATPMP_ERR_UNDEFINEDERROR);
          break;
        }
      self->natpmp_step = NATPMP_MAPPED;
      schedule_renewal (self, response->pnu.newportmapping.lifetime);
      if (self->protocol == PH_PORT_MAPPING_PROTOCOL_NONE)
        {
          g_cancellable_cancel (self->upnp_cancellable);
          mapped (self, PH_PORT_MAPPING_PROTOCOL_NATPMP, self->natpmp_public_address,
                  response->pnu.newportmapping.mappedpublicport);
        }
      else
        self->external_port = response->pnu.newportmapping.mappedpublicport;
      break;
    case NATPMP_IDLE:
    case NATPMP_MAPPED:
    case NATPMP_FAILED:
    default:
      break;
    }
}

static void
natpmp_read (PhPortMapper *self)
{
  natpmpresp_t response;
  int result = readnatpmpresponseorretry (&self->natpmp, &response);

  if (result == NATPMP_TRYAGAIN)
    {
      /* A first answer comes within milliseconds or not at all; a renewal
       * keeps libnatpmp's own nine tries. */
      if (self->natpmp_step != NATPMP_RENEWING && self->natpmp.try_number >= NATPMP_FIRST_TRIES)
        natpmp_fail (self, NATPMP_ERR_NOGATEWAYSUPPORT);
      else
        natpmp_wait (self);
      return;
    }
  if (result < 0)
    {
      natpmp_fail (self, result);
      return;
    }
  natpmp_answered (self, &response);
}

static gboolean
natpmp_timeout_cb (gpointer user_data)
{
  PhPortMapper *self = user_data;

  g_clear_pointer (&self->natpmp_timer, g_source_unref);
  natpmp_read (self);
  return G_SOURCE_REMOVE;
}

static gboolean
natpmp_readable_cb (int fd, GIOCondition condition, gpointer user_data)
{
  natpmp_read (user_data);
  return G_SOURCE_CONTINUE;
}

static void
natpmp_start (PhPortMapper *self)
{
  int sent = sendpublicaddressrequest (&self->natpmp);

  if (sent < 0)
    {
      natpmp_fail (self, sent);
      return;
    }
  self->natpmp_step = NATPMP_PUBLIC_ADDRESS;
  self->natpmp_readable = g_unix_fd_source_new (self->natpmp.s, G_IO_IN | G_IO_ERR);
  g_source_set_callback (self->natpmp_readable, G_SOURCE_FUNC (natpmp_readable_cb), self, NULL);
  g_source_attach (self->natpmp_readable, self->context);
  natpmp_wait (self);
}

/* --- UPnP-IGD (blocking calls, each in a thread of its own) --- */

static gboolean
upnp_add (UpnpJob *job, const char *lease)
{
  char reserved[6] = "";
  int result = UPNP_AddPortMapping (job->control_url, job->service_type, job->external_port,
                                    job->internal_port, job->internal_address, "Pinhole", "UDP",
                                    NULL, lease);

  if (result == 0)
    return TRUE;
  /* The same external port is taken: any other will do. */
  result = UPNP_AddAnyPortMapping (job->control_url, job->service_type, job->external_port,
                                   job->internal_port, job->internal_address, "Pinhole", "UDP",
                                   NULL, lease, reserved);
  if (result != 0)
    {
      g_debug ("No UPnP mapping: %s", strupnperror (result));
      return FALSE;
    }
  g_free (job->external_port);
  job->external_port = g_strdup (reserved);
  return TRUE;
}

static void
upnp_map_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  UpnpJob *job = task_data;
  struct UPNPDev *devices;
  struct UPNPUrls urls = { 0 };
  struct IGDdatas data;
  char lan[INET6_ADDRSTRLEN];
  char external[INET6_ADDRSTRLEN] = "";
  int error = 0;
  int igd;

  devices = upnpDiscover (UPNP_DISCOVERY_MS, job->multicast_if, NULL, UPNP_LOCAL_PORT_ANY, 0, 2,
                          &error);
  if (devices == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no UPnP router answered");
      return;
    }
  igd = UPNP_GetValidIGD (devices, &urls, &data, lan, sizeof lan);
  freeUPNPDevlist (devices);
  if (igd != 1 || g_cancellable_is_cancelled (cancellable)
      || UPNP_GetExternalIPAddress (urls.controlURL, data.first.servicetype, external) != 0
      || g_hostname_is_ip_address (external) == FALSE)
    {
      if (igd != 0)
        FreeUPNPUrls (&urls);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                               "no connected UPnP router with an external address");
      return;
    }
  job->control_url = g_strdup (urls.controlURL);
  job->service_type = g_strdup (data.first.servicetype);
  job->external_address = g_strdup (external);
  job->external_port = g_strdup (job->internal_port);
  FreeUPNPUrls (&urls);

  /* Some routers take only permanent leases (error 725): then 0, and the
   * deletion at the end matters all the more. */
  if (!upnp_add (job, G_STRINGIFY (UPNP_LEASE_S)) && !upnp_add (job, "0"))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED, "the UPnP router refused");
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
upnp_renew_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  UpnpJob *job = task_data;

  if (!upnp_add (job, G_STRINGIFY (UPNP_LEASE_S)))
    g_warning ("The router did not renew its port mapping (UPnP)");
  g_task_return_boolean (task, TRUE);
}

static void
upnp_delete_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  UpnpJob *job = task_data;

  UPNP_DeletePortMapping (job->control_url, job->service_type, job->external_port, "UDP", NULL);
  g_task_return_boolean (task, TRUE);
}

typedef struct
{
  GTask *task;
  GTaskThreadFunc func;
} UpnpWork;

static void
upnp_work_run (gpointer data, gpointer user_data)
{
  UpnpWork *work = data;

  work->func (work->task, g_task_get_source_object (work->task), g_task_get_task_data (work->task),
              g_task_get_cancellable (work->task));
  g_object_unref (work->task);
  g_free (work);
}

/* miniupnpc blocks for a second or more (SSDP waits its whole timeout, a
 * router's HTTP may be slow). On GTask's shared pool, a few chats'
 * discoveries would hold every thread it has, and libsoup's name lookups
 * and connections would queue behind them (setups took 1 s more after a
 * few chats in bench-setup): they get threads of their own. */
static void
run_in_upnp_thread (GTask *task, GTaskThreadFunc func)
{
  static GThreadPool *pool;
  UpnpWork *work = g_new0 (UpnpWork, 1);

  if (g_once_init_enter (&pool))
    g_once_init_leave (&pool, g_thread_pool_new (upnp_work_run, NULL, -1, FALSE, NULL));
  work->task = g_object_ref (task);
  work->func = func;
  g_thread_pool_push (pool, work, NULL);
}

static void
run_upnp (UpnpJob *job, GTaskThreadFunc func)
{
  g_autoptr (GTask) task = g_task_new (NULL, NULL, NULL, NULL);

  g_task_set_task_data (task, job, (GDestroyNotify)upnp_job_free);
  run_in_upnp_thread (task, func);
}

static UpnpJob *
upnp_job_copy (const UpnpJob *job)
{
  UpnpJob *copy = g_new0 (UpnpJob, 1);

  copy->control_url = g_strdup (job->control_url);
  copy->service_type = g_strdup (job->service_type);
  copy->external_address = g_strdup (job->external_address);
  copy->external_port = g_strdup (job->external_port);
  copy->internal_address = g_strdup (job->internal_address);
  copy->internal_port = g_strdup (job->internal_port);
  return copy;
}

static void
upnp_mapped_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PhPortMapper *self = PH_PORT_MAPPER (source);
  g_autoptr (GError) error = NULL;
  UpnpJob *job = g_task_get_task_data (G_TASK (result));

  self->upnp_done = TRUE;
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_debug ("No UPnP mapping: %s", error->message);
      maybe_settle (self);
      return;
    }
  /* Mapped too late: NAT-PMP holds the mapping, or the chat is over. */
  if (self->stopped || self->protocol != PH_PORT_MAPPING_PROTOCOL_NONE)
    {
      run_upnp (upnp_job_copy (job), upnp_delete_thread);
      return;
    }
  self->upnp = upnp_job_copy (job);
  schedule_renewal (self, UPNP_LEASE_S);
  mapped (self, PH_PORT_MAPPING_PROTOCOL_UPNP, job->external_address,
          (guint)g_ascii_strtoull (job->external_port, NULL, 10));
}

static void
upnp_start (PhPortMapper *self)
{
  g_autoptr (GTask) task = NULL;
  UpnpJob *job = g_new0 (UpnpJob, 1);

  job->internal_address = g_strdup (self->internal_address);
  job->internal_port = g_strdup_printf ("%u", self->internal_port);
  /* SSDP goes out on the gateway's network only, never on every
   * interface. */
  job->multicast_if = g_strdup (self->lan_address);
  task = g_task_new (self, self->upnp_cancellable, upnp_mapped_cb, NULL);
  /* A mapping the thread made after all must reach upnp_mapped_cb, which
   * deletes it. */
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_task_data (task, job, (GDestroyNotify)upnp_job_free);
  run_in_upnp_thread (task, upnp_map_thread);
}

/* --- renewal and the end --- */

static gboolean
renew_cb (gpointer user_data)
{
  PhPortMapper *self = user_data;

  g_clear_pointer (&self->renew_timer, g_source_unref);
  if (self->protocol == PH_PORT_MAPPING_PROTOCOL_NATPMP)
    natpmp_request_mapping (self, self->external_port, NATPMP_RENEWING);
  else if (self->protocol == PH_PORT_MAPPING_PROTOCOL_UPNP)
    {
      run_upnp (upnp_job_copy (self->upnp), upnp_renew_thread);
      schedule_renewal (self, UPNP_LEASE_S);
    }
  return G_SOURCE_REMOVE;
}

static void
schedule_renewal (PhPortMapper *self, guint lifetime_s)
{
  clear_source (&self->renew_timer);
  if (lifetime_s == 0)
    return;
  self->renew_timer
      = attach (self, g_timeout_source_new_seconds (MAX (lifetime_s / 2, 1)), renew_cb);
}

void
ph_port_mapper_stop (PhPortMapper *self)
{
  g_return_if_fail (PH_IS_PORT_MAPPER (self));

  if (self->stopped)
    return;
  self->stopped = TRUE;
  g_cancellable_cancel (self->upnp_cancellable);
  clear_source (&self->renew_timer);
  clear_source (&self->natpmp_timer);
  clear_source (&self->natpmp_readable);
  if (self->natpmp_open)
    {
      /* Lifetime 0 deletes the mapping; one datagram, no answer awaited. */
      if (self->natpmp_step == NATPMP_MAPPED || self->natpmp_step == NATPMP_RENEWING)
        sendnewportmappingrequest (&self->natpmp, NATPMP_PROTOCOL_UDP,
                                   (uint16_t)self->internal_port, 0, 0);
      closenatpmp (&self->natpmp);
      self->natpmp_open = FALSE;
    }
  if (self->upnp != NULL)
    run_upnp (g_steal_pointer (&self->upnp), upnp_delete_thread);
}

/* --- API --- */

gboolean
ph_port_mapper_can_map (PhPortMapper *self, const char *address)
{
  g_return_val_if_fail (PH_IS_PORT_MAPPER (self), FALSE);
  g_return_val_if_fail (address != NULL, FALSE);

  return g_strcmp0 (address, self->lan_address) == 0
         || g_str_has_prefix (self->lan_address, "127.");
}

void
ph_port_mapper_map (PhPortMapper *self, const char *address, guint port)
{
  g_return_if_fail (PH_IS_PORT_MAPPER (self));
  g_return_if_fail (address != NULL);
  g_return_if_fail (port > 0 && port <= G_MAXUINT16);

  if (self->requested || self->stopped)
    return;
  self->requested = TRUE;
  self->internal_address = g_strdup (address);
  self->internal_port = port;
  natpmp_start (self);
  upnp_start (self);
}

gboolean
ph_port_mapper_is_requested (PhPortMapper *self)
{
  g_return_val_if_fail (PH_IS_PORT_MAPPER (self), FALSE);

  return self->requested;
}

gboolean
ph_port_mapper_is_settled (PhPortMapper *self)
{
  g_return_val_if_fail (PH_IS_PORT_MAPPER (self), TRUE);

  return self->settled;
}

PhPortMappingProtocol
ph_port_mapper_get_mapping (PhPortMapper *self, const char **address, guint *port)
{
  g_return_val_if_fail (PH_IS_PORT_MAPPER (self), PH_PORT_MAPPING_PROTOCOL_NONE);

  if (address != NULL)
    *address = self->external_address;
  if (port != NULL)
    *port = self->external_port;
  return self->protocol;
}

char *
ph_port_mapper_dup_candidate (PhPortMapper *self)
{
  guint32 priority;

  g_return_val_if_fail (PH_IS_PORT_MAPPER (self), NULL);

  if (self->protocol == PH_PORT_MAPPING_PROTOCOL_NONE)
    return NULL;
  /* RFC 8445 5.1.2.1, highest local preference, component 1. */
  priority = (MAPPED_TYPE_PREFERENCE << 24) | (65535u << 8) | (256u - 1u);
  return g_strdup_printf ("candidate:%s 1 UDP %u %s %u typ srflx raddr %s rport %u",
                          protocol_foundation (self->protocol), priority, self->external_address,
                          self->external_port, self->internal_address, self->internal_port);
}

static void
ph_port_mapper_dispose (GObject *object)
{
  ph_port_mapper_stop (PH_PORT_MAPPER (object));

  G_OBJECT_CLASS (ph_port_mapper_parent_class)->dispose (object);
}

static void
ph_port_mapper_finalize (GObject *object)
{
  PhPortMapper *self = PH_PORT_MAPPER (object);

  g_clear_object (&self->upnp_cancellable);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_free (self->lan_address);
  g_free (self->internal_address);
  g_free (self->natpmp_public_address);
  g_free (self->external_address);

  G_OBJECT_CLASS (ph_port_mapper_parent_class)->finalize (object);
}

static void
ph_port_mapper_class_init (PhPortMapperClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ph_port_mapper_dispose;
  object_class->finalize = ph_port_mapper_finalize;

  signals[SIGNAL_MAPPED] = g_signal_new ("mapped", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_SETTLED] = g_signal_new ("settled", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
ph_port_mapper_init (PhPortMapper *self)
{
  self->upnp_cancellable = g_cancellable_new ();
}

/* The source address the kernel picks for the route to the gateway:
 * libnatpmp's socket is connected to it. */
static char *
route_source_address (int fd)
{
  struct sockaddr_in local;
  socklen_t length = sizeof local;
  char address[INET_ADDRSTRLEN];

  if (getsockname (fd, (struct sockaddr *)&local, &length) != 0 || local.sin_family != AF_INET
      || local.sin_addr.s_addr == htonl (INADDR_ANY))
    return NULL;
  return g_strdup (inet_ntop (AF_INET, &local.sin_addr, address, sizeof address));
}

PhPortMapper *
ph_port_mapper_new (void)
{
  g_autoptr (PhPortMapper) self = NULL;
  const char *gateway = g_getenv ("PINHOLE_PORT_MAPPING_GATEWAY");
  struct in_addr forced = { 0 };
  int opened;

  if (!ph_port_mapping_allowed ())
    return NULL;
  if (gateway != NULL && inet_pton (AF_INET, gateway, &forced) != 1)
    {
      g_warning ("PINHOLE_PORT_MAPPING_GATEWAY=%s is not an IPv4 address; no port mapping",
                 gateway);
      return NULL;
    }

  self = g_object_new (PH_TYPE_PORT_MAPPER, NULL);
  self->context = g_main_context_ref_thread_default ();
  /* Opens a non-blocking UDP socket connected to the gateway; sends
   * nothing yet. */
  opened = initnatpmp (&self->natpmp, gateway != NULL, forced.s_addr);
  if (opened < 0)
    {
      g_debug ("No port mapping: %s", strnatpmperr (opened));
      return NULL;
    }
  self->natpmp_open = TRUE;
  self->lan_address = route_source_address (self->natpmp.s);
  if (self->lan_address == NULL)
    return NULL;
  return g_steal_pointer (&self);
}
