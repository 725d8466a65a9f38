/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-candidate-ledger"

#include "config.h"

#include <string.h>

#include "ph-candidate-ledger.h"
#include "ph-error.h"

struct _PhCandidateLedger
{
  GObject parent_instance;

  guint max_per_side;
  GPtrArray *local;
  guint local_srflx;
  guint local_relay;
  gboolean local_done;
  GPtrArray *remote;
  guint remote_for_ice; /* how many of remote ICE has */
  gboolean remote_done;
  char *relay_problem;
  gboolean relay_unreachable;
};

G_DEFINE_FINAL_TYPE (PhCandidateLedger, ph_candidate_ledger, G_TYPE_OBJECT)

gboolean
ph_candidate_has_type (const char *candidate, const char *type)
{
  g_autofree char *needle = g_strdup_printf (" typ %s", type);
  const char *found = strstr (candidate, needle);

  return found != NULL && (found[strlen (needle)] == ' ' || found[strlen (needle)] == '\0');
}

static guint
count_type (GPtrArray *candidates, const char *type)
{
  guint count = 0;

  for (guint i = 0; i < candidates->len; i++)
    count += ph_candidate_has_type (g_ptr_array_index (candidates, i), type);
  return count;
}

/* Whether a candidate could be reached from another network: a
 * server-reflexive one (port-mapped ones are too), or a host one on a
 * public address. */
static gboolean
reachable_from_outside (const char *candidate)
{
  g_auto (GStrv) fields = NULL;
  g_autoptr (GInetAddress) address = NULL;
  const guint8 *bytes;

  if (ph_candidate_has_type (candidate, "srflx"))
    return TRUE;
  if (!ph_candidate_has_type (candidate, "host"))
    return FALSE;
  /* candidate:FOUNDATION COMPONENT TRANSPORT PRIORITY ADDRESS PORT typ … */
  fields = g_strsplit (candidate, " ", 6);
  if (g_strv_length (fields) < 6 || (address = g_inet_address_new_from_string (fields[4])) == NULL)
    return FALSE;
  if (g_inet_address_get_is_site_local (address) || g_inet_address_get_is_link_local (address)
      || g_inet_address_get_is_loopback (address))
    return FALSE;
  bytes = g_inet_address_to_bytes (address);
  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6)
    return (bytes[0] & 0xfe) != 0xfc;                   /* unique local, fc00::/7 */
  return !(bytes[0] == 100 && (bytes[1] & 0xc0) == 64); /* carrier-grade NAT, 100.64/10 */
}

static gboolean
any_reachable_from_outside (GPtrArray *candidates)
{
  for (guint i = 0; i < candidates->len; i++)
    if (reachable_from_outside (g_ptr_array_index (candidates, i)))
      return TRUE;
  return FALSE;
}

static GStrv
dup_list (GPtrArray *candidates)
{
  GStrv copy = g_new0 (char *, candidates->len + 1);

  for (guint i = 0; i < candidates->len; i++)
    copy[i] = g_strdup (g_ptr_array_index (candidates, i));
  return copy;
}

void
ph_candidate_ledger_reset (PhCandidateLedger *self)
{
  g_return_if_fail (PH_IS_CANDIDATE_LEDGER (self));

  g_ptr_array_set_size (self->local, 0);
  self->local_srflx = 0;
  self->local_relay = 0;
  self->local_done = FALSE;
  g_ptr_array_set_size (self->remote, 0);
  self->remote_for_ice = 0;
  self->remote_done = FALSE;
  g_clear_pointer (&self->relay_problem, g_free);
}

gboolean
ph_candidate_ledger_add_local (PhCandidateLedger *self, const char *candidate)
{
  g_return_val_if_fail (PH_IS_CANDIDATE_LEDGER (self), FALSE);
  g_return_val_if_fail (candidate != NULL, FALSE);

  self->local_srflx += ph_candidate_has_type (candidate, "srflx");
  self->local_relay += ph_candidate_has_type (candidate, "relay");
  if (self->local->len >= self->max_per_side)
    return FALSE;
  g_ptr_array_add (self->local, g_strdup (candidate));
  return TRUE;
}

void
ph_candidate_ledger_set_local_done (PhCandidateLedger *self)
{
  g_return_if_fail (PH_IS_CANDIDATE_LEDGER (self));

  self->local_done = TRUE;
}

gboolean
ph_candidate_ledger_get_local_done (PhCandidateLedger *self)
{
  g_return_val_if_fail (PH_IS_CANDIDATE_LEDGER (self), FALSE);

  return self->local_done;
}

GPtrArray *
ph_candidate_ledger_get_local (PhCandidateLedger *self)
{
  g_return_val_if_fail (PH_IS_CANDIDATE_LEDGER (self), NULL);

  return self->local;
}

gboolean
ph_candidate_ledger_add_remote (PhCandidateLedger *self, const char *candidate, GError **error)
{
  g_return_val_if_fail (PH_IS_CANDIDATE_LEDGER (self), FALSE);
  g_return_val_if_fail (candidate != NULL, FALSE);

  if (g_ptr_array_find_with_equal_func (self->remote, candidate, g_str_equal, NULL))
    return FALSE;
  if (self->remote->len >= self->max_per_side)
    {
      g_set_error_literal (error, PH_ERROR, PH_ERROR_PROTOCOL,
                           "The peer sent more candidates than any network has.");
      return FALSE;
    }
  g_ptr_array_add (self->remote, g_strdup (candidate));
  return TRUE;
}

void
ph_candidate_ledger_set_remote_done (PhCandidateLedger *self)
{
  g_return_if_fail (PH_IS_CANDIDATE_LEDGER (self));

  self->remote_done = TRUE;
}

gboolean
ph_candidate_ledger_get_remote_done (PhCandidateLedger *self)
{
  g_return_val_if_fail (PH_IS_CANDIDATE_LEDGER (self), FALSE);

  return self->remote_done;
}

const char *
ph_candidate_ledger_next_for_ice (PhCandidateLedger *self)
{
  g_return_val_if_fail (PH_IS_CANDIDATE_LEDGER (self), NULL);

  if (self->remote_for_ice >= self->remote->len)
    return NULL;
  return g_ptr_array_index (self->remote, self->remote_for_ice++);
}

void
ph_candidate_ledger_set_relay_problem (PhCandidateLedger *self, const char *problem,
                                       gboolean unreachable)
{
  g_return_if_fail (PH_IS_CANDIDATE_LEDGER (self));

  g_free (self->relay_problem);
  self->relay_problem = g_strdup (problem);
  self->relay_unreachable = unreachable;
}

void
ph_candidate_ledger_fill_diagnosis (PhCandidateLedger *self, PhIceDiagnosisInput *input)
{
  g_return_if_fail (PH_IS_CANDIDATE_LEDGER (self));
  g_return_if_fail (input != NULL);

  input->local_srflx = self->local_srflx;
  input->local_relay = self->local_relay;
  input->remote_host = count_type (self->remote, "host");
  input->remote_srflx = count_type (self->remote, "srflx");
  input->remote_relay = count_type (self->remote, "relay");
  input->relay_problem = self->relay_problem;
  input->relay_unreachable_directly = self->relay_unreachable;
}

gboolean
ph_candidate_ledger_may_go_direct (PhCandidateLedger *self)
{
  g_return_val_if_fail (PH_IS_CANDIDATE_LEDGER (self), FALSE);

  /* The local list may be full: its server-reflexive ones count all the same. */
  return (self->local_srflx > 0 || any_reachable_from_outside (self->local))
         && any_reachable_from_outside (self->remote);
}

GStrv
ph_candidate_ledger_dup_local (PhCandidateLedger *self)
{
  g_return_val_if_fail (PH_IS_CANDIDATE_LEDGER (self), NULL);

  return dup_list (self->local);
}

GStrv
ph_candidate_ledger_dup_remote (PhCandidateLedger *self)
{
  g_return_val_if_fail (PH_IS_CANDIDATE_LEDGER (self), NULL);

  return dup_list (self->remote);
}

static void
ph_candidate_ledger_finalize (GObject *object)
{
  PhCandidateLedger *self = PH_CANDIDATE_LEDGER (object);

  g_ptr_array_unref (self->local);
  g_ptr_array_unref (self->remote);
  g_free (self->relay_problem);

  G_OBJECT_CLASS (ph_candidate_ledger_parent_class)->finalize (object);
}

static void
ph_candidate_ledger_class_init (PhCandidateLedgerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ph_candidate_ledger_finalize;
}

static void
ph_candidate_ledger_init (PhCandidateLedger *self)
{
  self->local = g_ptr_array_new_with_free_func (g_free);
  self->remote = g_ptr_array_new_with_free_func (g_free);
}

PhCandidateLedger *
ph_candidate_ledger_new (guint max_per_side)
{
  PhCandidateLedger *self = g_object_new (PH_TYPE_CANDIDATE_LEDGER, NULL);

  self->max_per_side = max_per_side;
  return self;
}
