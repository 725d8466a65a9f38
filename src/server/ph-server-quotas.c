/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-server-quotas"

#include "config.h"

#include "ph-rendezvous-server-private.h"

/* What one client may hold at once, so that no single address can take
 * what the global caps share out: open mailboxes
 * (max-mailboxes-per-client), waiting polls (max-polls-per-client), and
 * how fast it may open mailboxes (allocations-per-minute). Clients are
 * counted by ph_server_client_key (). A client over a cap is refused
 * with 429 and a sentence naming the cap: it is that client asking too
 * much, while 503 stays for a server that is full for everyone. */

static void
usage_free (PhClientUsage *usage)
{
  g_free (usage->key);
  g_free (usage);
}

void
ph_server_quotas_init (PhRendezvousServer *self)
{
  self->usage = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify)usage_free);
  self->mailbox_owners = g_hash_table_new (NULL, NULL);
  /* A minute's allocations at once, then one every 60/N seconds. */
  self->allocation_limiter
      = g_object_new (PH_TYPE_RATE_LIMITER, "rate", self->allocations_per_minute, "burst",
                      self->allocations_per_minute, "period", 60, NULL);
  /* Each join is one online guess at someone's code. */
  self->join_limiter = g_object_new (PH_TYPE_RATE_LIMITER, "rate", self->joins_per_hour, "burst",
                                     self->joins_per_hour, "period", 3600, NULL);
  g_signal_connect_object (self->store, "mailbox-closed",
                           G_CALLBACK (ph_server_quotas_mailbox_closed_cb), self, 0);
}

void
ph_server_quotas_clear (PhRendezvousServer *self)
{
  g_clear_pointer (&self->mailbox_owners, g_hash_table_unref);
  g_clear_pointer (&self->usage, g_hash_table_unref);
  g_clear_object (&self->allocation_limiter);
  g_clear_object (&self->join_limiter);
}

static PhClientUsage *
lookup_usage (PhRendezvousServer *self, const char *key)
{
  PhClientUsage *usage = g_hash_table_lookup (self->usage, key);

  if (usage == NULL)
    {
      usage = g_new0 (PhClientUsage, 1);
      usage->key = g_strdup (key);
      g_hash_table_insert (self->usage, usage->key, usage);
    }
  return usage;
}

static void
forget_if_idle (PhRendezvousServer *self, PhClientUsage *usage)
{
  if (usage->mailboxes == 0 && usage->polls == 0)
    g_hash_table_remove (self->usage, usage->key);
}

/* How a sentence names the client: its address, or its /64. */
static const char *
client_name (const char *key)
{
  return *key != '\0' ? key : "This address";
}

static void
set_retry_after (SoupServerMessage *msg, guint seconds)
{
  g_autofree char *text = g_strdup_printf ("%u", seconds);

  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
                                text);
}

/* Whether the client may open one more mailbox, by allocation or claim;
 * answers the request when it may not. An allowed one takes a token of
 * the allocation rate, a refused one none. */
gboolean
ph_server_quota_allow_mailbox (PhRendezvousServer *self, SoupServerMessage *msg)
{
  const char *key = ph_server_client_key (self, msg);
  PhClientUsage *usage = g_hash_table_lookup (self->usage, key);
  guint lifetime = ph_store_get_lifetime (self->store);
  guint retry_after;

  if (usage != NULL && usage->mailboxes >= self->max_mailboxes_per_client)
    {
      /* One of them frees a place when its chat leaves it, or, for a
       * code nobody joined, within a lifetime. */
      set_retry_after (msg, lifetime);
      ph_server_respond_error (
          self, msg, PH_SERVER_STATUS_TOO_MANY_REQUESTS, "client-mailbox-limit",
          "%s already holds %u open mailboxes, the most one address may; leave a chat you "
          "no longer use, or try again once one has expired (a code nobody joined expires "
          "after %u seconds).",
          client_name (key), usage->mailboxes, lifetime);
      return FALSE;
    }

  if (!ph_rate_limiter_check (self->allocation_limiter, key, &retry_after))
    {
      set_retry_after (msg, retry_after);
      ph_server_respond_error (self, msg, PH_SERVER_STATUS_TOO_MANY_REQUESTS,
                               "allocation-rate-limited",
                               "%s opens mailboxes faster than %u a minute, the most one "
                               "address may; try again in %u seconds.",
                               client_name (key), self->allocations_per_minute, retry_after);
      return FALSE;
    }
  return TRUE;
}

/* Whether the client may take the second seat of one more mailbox: each
 * join runs the PAKE against a code, so this bounds the guesses one
 * address makes; answers the request when it may not. */
gboolean
ph_server_quota_allow_join (PhRendezvousServer *self, SoupServerMessage *msg)
{
  const char *key = ph_server_client_key (self, msg);
  guint retry_after;

  if (ph_rate_limiter_check (self->join_limiter, key, &retry_after))
    return TRUE;
  set_retry_after (msg, retry_after);
  ph_server_respond_error (self, msg, PH_SERVER_STATUS_TOO_MANY_REQUESTS, "join-rate-limited",
                           "%s joins chats faster than %u an hour, the most one address may; "
                           "try again in %u seconds.",
                           client_name (key), self->joins_per_hour, retry_after);
  return FALSE;
}

/* Counts the mailbox the client just opened under @nameplate against it
 * until the mailbox closes. */
void
ph_server_quota_add_mailbox (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate)
{
  PhClientUsage *usage = lookup_usage (self, ph_server_client_key (self, msg));

  /* The store's answers and its signals come back separately: should the
   * answer of a number opened again come before the signal that it
   * closed, the close has happened, and is counted now. */
  ph_server_quotas_mailbox_closed_cb (self->store, nameplate, self);

  usage->mailboxes++;
  g_hash_table_insert (self->mailbox_owners, GUINT_TO_POINTER (nameplate), usage);
}

/* Left, expired or closed, the mailbox counts no more. One the server
 * did not open for a client (a store given mailboxes directly) is no
 * one's. */
void
ph_server_quotas_mailbox_closed_cb (PhStore *store, guint nameplate, PhRendezvousServer *self)
{
  PhClientUsage *usage;

  if (!g_hash_table_steal_extended (self->mailbox_owners, GUINT_TO_POINTER (nameplate), NULL,
                                    (gpointer *)&usage))
    return;
  g_assert (usage->mailboxes > 0);
  usage->mailboxes--;
  forget_if_idle (self, usage);
}

/* Whether @nameplate is open for a client the server opened it for. */
gboolean
ph_server_quota_owns_mailbox (PhRendezvousServer *self, guint nameplate)
{
  return g_hash_table_contains (self->mailbox_owners, GUINT_TO_POINTER (nameplate));
}

/* Whether the client may hold one more waiting poll; answers the request
 * when it may not. Its polls end within the hold, so it may try again
 * soon. */
gboolean
ph_server_quota_allow_poll (PhRendezvousServer *self, SoupServerMessage *msg)
{
  const char *key = ph_server_client_key (self, msg);
  PhClientUsage *usage = g_hash_table_lookup (self->usage, key);

  if (usage == NULL || usage->polls < self->max_polls_per_client)
    return TRUE;

  set_retry_after (msg, 1);
  ph_server_respond_error (self, msg, PH_SERVER_STATUS_TOO_MANY_REQUESTS, "client-poll-limit",
                           "%s already has %u requests waiting for messages, the most one "
                           "address may; try again when one has been answered.",
                           client_name (key), usage->polls);
  return FALSE;
}

/* Counts a poll that starts waiting against its client; the poll keeps
 * the entry and gives it back with ph_server_quota_remove_poll (). */
PhClientUsage *
ph_server_quota_add_poll (PhRendezvousServer *self, SoupServerMessage *msg)
{
  PhClientUsage *usage = lookup_usage (self, ph_server_client_key (self, msg));

  usage->polls++;
  return usage;
}

void
ph_server_quota_remove_poll (PhRendezvousServer *self, PhClientUsage *usage)
{
  g_assert (usage->polls > 0);
  usage->polls--;
  forget_if_idle (self, usage);
}
