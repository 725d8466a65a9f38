/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <libsoup/soup.h>

#include "ph-client-address.h"
#include "ph-rate-limiter.h"
#include "ph-rendezvous-server.h"
#include "ph-store.h"

G_BEGIN_DECLS

/* What the parts of PhRendezvousServer share. Each part has a file of its
 * own and touches the fields of its job:
 *   ph-rendezvous-server.c  the object: properties, the SoupServer, listening;
 *   ph-server-routing.c     path to handler, methods, the rate-limit gate;
 *   ph-server-handlers.c    mailboxes, messages, join, leave, claim, turn, health,
 *                           each one operation of the store (ph-store.h);
 *   ph-server-metrics.c     counters and the /metrics text;
 *   ph-server-clients.c     client connections and their deadlines, client keys;
 *   ph-server-quotas.c      what one client may hold: mailboxes, polls, allocation rate;
 *   ph-held-polls.c         long-polls waiting for a message;
 *   ph-meet-handlers.c      meeting points: their messages and stored copies;
 *   ph-meet-waits.c         long-polls waiting at many meeting points at once;
 *   ph-taken-connection.c   the connections a waiting poll takes from libsoup. */

/* Long-polls are answered within the hold, so a client whose HTTP session
 * times out after 60 s never sees a poll outlive it. */
#define PH_SERVER_MAX_WAIT_SECONDS 60
/* How long a held poll keeps its libsoup message before it takes the
 * connection ("take-after-ms"). */
#define PH_SERVER_TAKE_AFTER_MS 2000
/* libsoup 3.2 has no name, nor a reason phrase, for it. */
#define PH_SERVER_STATUS_TOO_MANY_REQUESTS 429

/* What one client key (ph-client-address.h) holds now. An entry lives
 * while it holds anything, so the table is bounded by the global caps. */
typedef struct
{
  char *key;
  guint mailboxes; /* open mailboxes it allocated or claimed */
  guint polls;     /* its polls waiting now */
} PhClientUsage;
typedef enum
{
  PH_HELD_POLL_READING,   /* its first read of the mailbox is under way */
  PH_HELD_POLL_WAITING,   /* found nothing new: waits for a message or its hold's end */
  PH_HELD_POLL_ANSWERING, /* reads the mailbox for its answer */
  PH_HELD_POLL_ANSWERED,  /* its answer is on its way out */
} PhHeldPollState;

/* A long-poll. One that has to wait takes its connection from libsoup
 * (see ph-taken-connection.c) and keeps only the stream; where it cannot,
 * it stays a paused libsoup message instead. */
typedef struct
{
  PhRendezvousServer *server;
  SoupServerMessage *msg; /* paused, or NULL once the connection is taken */
  GIOStream *stream;      /* the connection taken from libsoup, or NULL */
  GSocket *socket;        /* the connection's socket */
  gboolean watched;       /* the socket is in the hang-up watch */
  SoupHTTPVersion http_version;
  guint nameplate;
  guint64 after;
  /* What each read of the mailbox proves: the side's secret and the tag
   * of If-Match, then the tag of the mailbox the first read found. */
  gboolean has_secret;
  guint8 secret_hash[PH_MAILBOX_SECRET_HASH_SIZE];
  char *tag;
  GCancellable *cancellable; /* the server's */
  PhHeldPollState state;
  gboolean notified;    /* the mailbox changed while it was read */
  PhClientUsage *usage; /* its client's, while waiting */
  guint hold_seconds;
  gint64 deadline_us;
  GList hold_link; /* in holds[hold_seconds] while waiting */
  /* While waiting as a paused message that will take its connection. */
  gint64 take_due_us;
  GList young_link; /* in young_polls meanwhile */
  gulong finished_id;
  GString *answer; /* what is left to write of the answer, on a taken connection */
  guint status;
  GList link; /* in its nameplate's queue while reading or waiting, then in answered */
} PhHeldPoll;

/* A client connection, known by its socket from its first request on. It
 * has a deadline whenever the server waits for it: to send a request, to
 * read a response. Only a held long-poll has none; its hold bounds it. */
typedef struct
{
  PhRendezvousServer *server;
  GSocket *socket; /* weak: the entry goes when libsoup drops the socket */
  char *key;       /* its peer's limit key, once asked for; never a trusted proxy's */
  gint64 deadline_us;
  gboolean armed;
  GList link; /* in PhRendezvousServer.deadlines while armed */
} PhServerClient;

struct _PhRendezvousServer
{
  GObject parent_instance;

  guint max_body_bytes;
  guint max_waiting_polls;
  guint max_hold;
  guint client_timeout;
  char *turn_secret;
  GStrv turn_uris;
  GStrv stun_uris;
  guint turn_ttl;
  guint turn_quota;
  GTlsCertificate *tls_certificate;
  gboolean take_connections;
  guint take_after_ms;
  GStrv trusted_proxy_cidrs;
  guint max_mailboxes_per_client;
  guint max_polls_per_client;
  guint allocations_per_minute;
  guint joins_per_hour;
  guint stored_lifetime;
  guint max_stored_per_point;
  guint max_stored_bytes;
  guint64 max_stored_total_bytes;

  PhTrustedProxies *trusted_proxies;
  SoupServer *soup;
  PhStore *store;
  gboolean store_failing;
  /* Cancelled as the server goes: what the store still does for it is
   * dropped when it answers. */
  GCancellable *cancellable;
  PhRateLimiter *limiter;
  PhRateLimiter *allocation_limiter;
  PhRateLimiter *join_limiter;
  GHashTable *usage;          /* client key → PhClientUsage */
  GHashTable *mailbox_owners; /* nameplate → PhClientUsage of the client that opened it */
  GHashTable *polls;          /* nameplate → GQueue of reading or waiting PhHeldPoll */
  GQueue answered;            /* PhHeldPoll answered, its response not yet written */
  GHashTable *meet_watchers;  /* point id → GPtrArray of the PhMeetWait on it */
  /* Waiting meeting-point waits by hold in seconds, in deadline order. */
  GQueue meet_holds[PH_SERVER_MAX_WAIT_SECONDS + 1];
  guint meet_hold_id;
  gint64 meet_hold_due_us;
  char *server_header;
  guint waiting_polls;
  /* Waiting polls by hold in seconds: each queue is in deadline order. */
  GQueue holds[PH_SERVER_MAX_WAIT_SECONDS + 1];
  guint hold_id;
  gint64 hold_due_us;
  /* Waiting polls that take their connections once they have waited a
   * moment, oldest first, and the timer for the oldest. */
  GQueue young_polls;
  guint take_id;
  int hangup_fd; /* epoll set of the waiting polls' sockets */
  guint hangup_id;
  GHashTable *clients; /* GSocket → PhServerClient */
  GQueue deadlines;    /* armed PhServerClient, earliest deadline first */
  guint deadline_id;
  guint port;
  char *url;

  guint64 mailboxes_allocated;
  guint64 mailboxes_claimed;
  guint64 messages_posted;
  guint64 copies_stored;
  guint64 rate_limited;
  guint64 requests_aborted;
  guint64 clients_timed_out;
  GHashTable *requests_by_status; /* status → count */
  GHashTable *errors_by_code;     /* static code string → count */
};

/* ph-rendezvous-server.c */
void ph_rendezvous_server_set_waiting_polls (PhRendezvousServer *self, guint waiting_polls);

/* ph-server-routing.c */
/* Whether @msg's method is one of @allowed ("GET, POST"); answers 405
 * otherwise. */
gboolean ph_server_check_method (PhRendezvousServer *self, SoupServerMessage *msg,
                                 const char *allowed);
void ph_server_early_cb (SoupServer *server, SoupServerMessage *msg, const char *path,
                         GHashTable *query, gpointer user_data);
void ph_server_request_cb (SoupServer *server, SoupServerMessage *msg, const char *path,
                           GHashTable *query, gpointer user_data);

/* ph-server-handlers.c */
void ph_server_respond_text (SoupServerMessage *msg, guint status, char *text);
char *ph_server_error_json (PhRendezvousServer *self, const char *code, const char *message);
void ph_server_respond_error (PhRendezvousServer *self, SoupServerMessage *msg, guint status,
                              const char *code, const char *format, ...) G_GNUC_PRINTF (5, 6);
void ph_server_respond_store_error (PhRendezvousServer *self, SoupServerMessage *msg,
                                    const GError *error);
/* Logs the store's failures as they start and end; @error may be NULL. */
void ph_server_note_store_health (PhRendezvousServer *self, const GError *error);
char *ph_server_etag (const char *tag);
char *ph_server_messages_json (GPtrArray *messages);
void ph_server_handle_allocate (PhRendezvousServer *self, SoupServerMessage *msg);
void ph_server_handle_claim (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate);
void ph_server_handle_join (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate,
                            GHashTable *query);
void ph_server_handle_post_message (PhRendezvousServer *self, SoupServerMessage *msg,
                                    guint nameplate);
void ph_server_handle_get_messages (PhRendezvousServer *self, SoupServerMessage *msg,
                                    guint nameplate, GHashTable *query);
void ph_server_handle_leave (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate);
void ph_server_handle_turn (PhRendezvousServer *self, SoupServerMessage *msg);
void ph_server_handle_mailbox_turn (PhRendezvousServer *self, SoupServerMessage *msg,
                                    guint nameplate);
void ph_server_handle_health (PhRendezvousServer *self, SoupServerMessage *msg);
/* A request paused while the store does one operation for it. */
typedef struct _PhServerPending PhServerPending;
typedef void (*PhServerAnswerFunc) (PhRendezvousServer *self, SoupServerMessage *msg,
                                    const PhStoreReply *reply, PhServerPending *pending);
/* Pauses @msg until the store has done @request (taken), then answers it
 * with @answer, or with the store's refusal. */
PhServerPending *ph_server_ask_store (PhRendezvousServer *self, SoupServerMessage *msg,
                                      PhStoreRequest *request, PhServerAnswerFunc answer);
/* The token of "Authorization: Bearer <token>", or NULL. */
const char *ph_server_bearer_token (SoupServerMessage *msg);

/* ph-meet-handlers.c */
/* @rest is the path after "/v1/meet/". */
void ph_server_route_meet (PhRendezvousServer *self, SoupServerMessage *msg, const char *rest,
                           GHashTable *query);

/* ph-meet-waits.c */
void ph_meet_waits_init (PhRendezvousServer *self);
void ph_meet_waits_clear (PhRendezvousServer *self);
/* Takes @request, a MEET_FETCH; with @hold_seconds 0 it only reads. */
void ph_meet_wait_start (PhRendezvousServer *self, SoupServerMessage *msg, PhStoreRequest *request,
                         guint hold_seconds);
void ph_meet_waits_point_changed_cb (PhStore *store, const char *point_id, guint64 index,
                                     guint side, PhRendezvousServer *self);
void ph_meet_waits_changes_lost_cb (PhStore *store, PhRendezvousServer *self);

/* ph-server-metrics.c */
void ph_server_count (GHashTable *table, gconstpointer key);
void ph_server_handle_metrics (PhRendezvousServer *self, SoupServerMessage *msg);

/* ph-server-clients.c */
PhServerClient *ph_server_lookup_client (PhRendezvousServer *self, GSocket *socket);
void ph_server_client_arm (PhRendezvousServer *self, GSocket *socket);
void ph_server_client_disarm (PhServerClient *client);
void ph_server_client_free (PhServerClient *client);
guint ph_server_count_open_clients (PhRendezvousServer *self);
const char *ph_server_client_key (PhRendezvousServer *self, SoupServerMessage *msg);
void ph_server_request_started_cb (SoupServer *server, SoupServerMessage *msg,
                                   PhRendezvousServer *self);
void ph_server_request_finished_cb (SoupServer *server, SoupServerMessage *msg,
                                    PhRendezvousServer *self);
void ph_server_request_aborted_cb (SoupServer *server, SoupServerMessage *msg,
                                   PhRendezvousServer *self);

/* ph-server-quotas.c */
void ph_server_quotas_init (PhRendezvousServer *self);
void ph_server_quotas_clear (PhRendezvousServer *self);
gboolean ph_server_quota_allow_mailbox (PhRendezvousServer *self, SoupServerMessage *msg);
gboolean ph_server_quota_allow_join (PhRendezvousServer *self, SoupServerMessage *msg);
void ph_server_quota_add_mailbox (PhRendezvousServer *self, SoupServerMessage *msg,
                                  guint nameplate);
gboolean ph_server_quota_allow_poll (PhRendezvousServer *self, SoupServerMessage *msg);
PhClientUsage *ph_server_quota_add_poll (PhRendezvousServer *self, SoupServerMessage *msg);
void ph_server_quota_remove_poll (PhRendezvousServer *self, PhClientUsage *usage);
gboolean ph_server_quota_owns_mailbox (PhRendezvousServer *self, guint nameplate);
void ph_server_quotas_mailbox_closed_cb (PhStore *store, guint nameplate, PhRendezvousServer *self);

/* ph-held-polls.c */
void ph_held_polls_init (PhRendezvousServer *self);
void ph_held_polls_clear (PhRendezvousServer *self);
/* Takes @request, a fetch. */
void ph_held_poll_start (PhRendezvousServer *self, SoupServerMessage *msg, PhStoreRequest *request,
                         guint hold_seconds);
void ph_held_poll_watch (PhHeldPoll *poll, guint32 events);
void ph_held_poll_unwatch (PhHeldPoll *poll);
void ph_held_poll_free (PhHeldPoll *poll);
void ph_held_polls_message_added_cb (PhStore *store, guint nameplate, guint64 index,
                                     PhRendezvousServer *self);
void ph_held_polls_mailbox_closed_cb (PhStore *store, guint nameplate, PhRendezvousServer *self);
void ph_held_polls_changes_lost_cb (PhStore *store, PhRendezvousServer *self);

/* ph-taken-connection.c */
gboolean ph_taken_connection_supported (void);
gboolean ph_taken_connection_possible (PhHeldPoll *poll);
gboolean ph_taken_connection_take (PhHeldPoll *poll);
void ph_taken_connection_answer (PhHeldPoll *poll, guint status, char *body, const char *etag);
void ph_taken_connection_write_answer (PhHeldPoll *poll);
void ph_taken_connection_close (PhHeldPoll *poll);

G_END_DECLS
