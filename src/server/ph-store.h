/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ph-mailbox-secret.h"
#include "ph-meeting-point.h"

G_BEGIN_DECLS

/* Everything the rendezvous server keeps, behind one interface so that it
 * can live in this process (PhMemoryStore, tests only), in a database file
 * (PhSqliteStore, the default) or in a store shared by several servers.
 *
 * What is kept. A mailbox is named by a nameplate, the lowest free number
 * from 1 so that codes stay short. It has two seats: side 1 for whoever
 * opened it (allocated or claimed it), side 2 for the first to join it.
 * Taking a seat gives that side a secret; the store keeps only its SHA-256
 * (ph-mailbox-secret.h) and every later request of the side proves it: the
 * number alone, which is all a code shows, lets nobody read, post, leave
 * or renew. A taken seat stays taken, even after its side left. Messages
 * are numbered from 1 in arrival order. Each mailbox has a tag, random and
 * new each time a nameplate is opened, so that a client can tell the
 * mailbox it used from a later one under the same number (the ETag). A
 * mailbox closes when every side that took a seat has left or its lifetime
 * runs out; either way its nameplate is free again. Its lifetime starts
 * when it opens and, once both sides are in, again at every message or
 * fetch: a chat keeps its mailbox to reconnect through while it uses it.
 * Each side may ask for TURN credentials a few times per window.
 *
 * Meeting points (docs/protocol.md) are mailboxes of contacts, named by a
 * 64-hex-digit id the server has checked against the point's key before it
 * asks: the store sees ids only, and checks nothing about them. A point is
 * there while it holds messages (each lives "lifetime" seconds, within
 * "max-messages" and "max-mailbox-bytes" per point) or stored copies
 * (each lives the request's lifetime_seconds, within its max_count and
 * max_bytes). Messages and copies of all points take their index from one
 * counter, rising and never reused, so a point that empties and fills
 * again never repeats an index. What expired is never answered.
 *
 * How it is asked. Every request of the server is one operation
 * (PhStoreRequest), done as one unit (one transaction, one script) with
 * ph_store_run_async (); its answer is a PhStoreReply. The operation itself
 * checks what the request proves: the If-Match tag (PH_STORE_ERROR_REPLACED
 * when the number is open under another one) and, but for allocate, claim,
 * join and count-open, the side's secret (PH_STORE_ERROR_UNAUTHORIZED), in
 * that order, after PH_STORE_ERROR_NO_SUCH_MAILBOX. Refusals a client
 * causes are PH_STORE_ERROR codes; PH_STORE_ERROR_FAILED is the store's own
 * failure (a disk, a connection), which the server answers with 503.
 *
 * What it tells. "message-added" (nameplate, index), "mailbox-closed"
 * (nameplate) and "point-changed" (point id, index, side) are emitted on
 * the main context the store was made in, after the change is stored, so
 * that held polls and waits wake; a backend shared by several servers
 * relays them between servers. A listener that must not miss a change
 * watches first and reads after (ph_store_watch (),
 * ph_store_watch_point ()), and reads again when told: a notification may
 * come for a change it has read already, or for a mailbox or point it
 * does not watch. "changes-lost" says that notifications may have gone
 * missing (a backend lost its connection to a shared store): every reader
 * reads again.
 *
 * Writing a backend. Implement run (): do the operation, then complete the
 * GTask with ph_store_return_reply () or g_task_return_error (), from any
 * thread (GTask hands the answer to the caller's main context, and never
 * before run () has returned). Use neither the task's data nor its source
 * tag: ph_store_run_async () keeps the request and the time there for the
 * latency histogram. Emit the signals with ph_store_emit_message_added ()
 * and ph_store_emit_mailbox_closed () on the store's main context, after
 * the change is stored. Override the four limit properties of the
 * interface and refuse with ph_store_refusal_new (), so that every backend
 * refuses alike. Say whether a restart keeps what was stored
 * (is_durable): on a store that does not, the server lets a host claim
 * its number back (docs/protocol.md). tests/test-store.c is the contract
 * every backend passes. */

#define PH_STORE_ERROR (ph_store_error_quark ())

typedef enum
{
  PH_STORE_ERROR_NO_SUCH_MAILBOX,
  PH_STORE_ERROR_NO_FREE_MAILBOX,
  PH_STORE_ERROR_THIRD_SIDE,
  PH_STORE_ERROR_MAILBOX_LIMIT,
  PH_STORE_ERROR_NAMEPLATE_UNAVAILABLE,
  PH_STORE_ERROR_UNAUTHORIZED,
  PH_STORE_ERROR_OTHER_FIRST_MESSAGE,
  PH_STORE_ERROR_REPLACED,
  PH_STORE_ERROR_POINT_LIMIT,
  PH_STORE_ERROR_STORED_LIMIT,
  PH_STORE_ERROR_NO_SUCH_COPY,
  PH_STORE_ERROR_STORED_FULL,
  PH_STORE_ERROR_FAILED,
} PhStoreError;

GQuark ph_store_error_quark (void);

typedef enum
{
  /* Opens the lowest free nameplate with the asker as side 1.
   * Reply: nameplate, side, tag, expires_in. */
  PH_STORE_OP_ALLOCATE,
  /* Opens @nameplate with the asker as side 1: a host whose mailbox a store
   * that loses state forgot opens it again, so that the code it showed
   * stays good. Repeated with the request key of an earlier claim of the
   * mailbox open now, whose secret was never used, it gives side 1 the new
   * secret instead (reply created FALSE). Reply: side, created, tag,
   * expires_in. */
  PH_STORE_OP_CLAIM,
  /* Takes side 2, repeated as a claim is. With a first message (phase and
   * body) it takes it only in the mailbox whose first message that is, from
   * side 1: a joiner coming back after a restart enters the mailbox its
   * host claimed again, and no other (PH_STORE_ERROR_OTHER_FIRST_MESSAGE;
   * NO_SUCH_MAILBOX while it has no message yet). Reply: side, created,
   * tag, expires_in. */
  PH_STORE_OP_JOIN,
  /* Only proves the side. Reply: side, tag. */
  PH_STORE_OP_AUTHENTICATE,
  /* Adds phase and body as the side's message. Reply: side, tag, index. */
  PH_STORE_OP_ADD_MESSAGE,
  /* The messages with an index above after, oldest first. Reply: side,
   * tag, messages. */
  PH_STORE_OP_FETCH,
  /* The side leaves; the mailbox closes once every side in it has. Reply:
   * side. */
  PH_STORE_OP_LEAVE,
  /* Counts a request of the side for TURN credentials: at most quota in
   * window_seconds from the first of them. Reply: side, tag, turn_granted
   * and, when not, retry_after (seconds until the window ends). */
  PH_STORE_OP_COUNT_TURN,
  /* Reply: n_open, the mailboxes open now. */
  PH_STORE_OP_COUNT_OPEN,
  /* Adds phase and body as side's message at point_id.
   * PH_STORE_ERROR_POINT_LIMIT past the limits. Reply: index. */
  PH_STORE_OP_MEET_ADD_MESSAGE,
  /* For each of points: the messages with an index above its after from
   * the side that is not its side, oldest first, and how many copies the
   * other side stored there above after. Reply: points, one for each
   * asked, in the same order. */
  PH_STORE_OP_MEET_FETCH,
  /* Keeps body as side's copy at point_id for lifetime_seconds;
   * PH_STORE_ERROR_STORED_LIMIT when the point would hold more than
   * max_count copies or max_bytes bytes of them, then
   * PH_STORE_ERROR_STORED_FULL when all points would hold more than
   * max_total_bytes. Reply: index, expires_in. */
  PH_STORE_OP_STORE_COPY,
  /* The copies at point_id with an index above after, oldest first, as
   * messages (phase NULL, expires_in set). Reply: messages. */
  PH_STORE_OP_FETCH_COPIES,
  /* Deletes the copy index at point_id; PH_STORE_ERROR_NO_SUCH_COPY when
   * it is not there. Reply: nothing. */
  PH_STORE_OP_DELETE_COPY,
  /* Reply: n_copies and copy_bytes, the copies kept now at all points. */
  PH_STORE_OP_COUNT_COPIES,
  PH_STORE_N_OPS
} PhStoreOp;

/* 16 hexadecimal digits. */
#define PH_STORE_TAG_LENGTH 16
/* A meeting point's id (ph-meeting-point.h). */
#define PH_STORE_POINT_ID_LENGTH PH_MEETING_POINT_ID_LENGTH

typedef struct
{
  guint64 index;
  guint side;  /* PH_MAILBOX_HOST_SIDE or PH_MAILBOX_JOINER_SIDE */
  char *phase; /* NULL for a stored copy */
  GBytes *body;
  guint expires_in; /* a stored copy's seconds left; 0 for a message */
} PhStoredMessage;

PhStoredMessage *ph_stored_message_new (guint64 index, guint side, const char *phase, GBytes *body);
PhStoredMessage *ph_stored_message_ref (PhStoredMessage *message);
void ph_stored_message_unref (PhStoredMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhStoredMessage, ph_stored_message_unref)

/* One point of MEET_FETCH: what it asks, in the request's points. */
typedef struct
{
  char id[PH_STORE_POINT_ID_LENGTH + 1];
  guint side; /* the asker's: only the other side's news count */
  guint64 after;
} PhPointCursor;

/* What MEET_FETCH found at one point. */
typedef struct
{
  char id[PH_STORE_POINT_ID_LENGTH + 1];
  GPtrArray *messages; /* PhStoredMessage */
  guint n_stored;
} PhPointNews;

PhPointNews *ph_point_news_new (const char *id);
void ph_point_news_free (PhPointNews *news);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhPointNews, ph_point_news_free)

/* One operation and what it needs. Hashes, not secrets: a store never
 * sees a side's secret or a client's Idempotency-Key. Strings and bodies
 * are the request's own, so that a backend may use them on another
 * thread. */
typedef struct
{
  PhStoreOp op;
  guint nameplate; /* but for ALLOCATE and COUNT_OPEN */
  /* The asker's secret, when it had one of the right shape. */
  gboolean has_secret;
  guint8 secret_hash[PH_MAILBOX_SECRET_HASH_SIZE];
  /* ALLOCATE, CLAIM, JOIN: the secret the seat gets. */
  guint8 seat_secret_hash[PH_MAILBOX_SECRET_HASH_SIZE];
  /* CLAIM, JOIN: the client's Idempotency-Key, when it gave one. */
  gboolean has_request_key;
  guint8 request_key_hash[PH_MAILBOX_SECRET_HASH_SIZE];
  /* The tag the client named in If-Match, or NULL. */
  char *tag;
  /* ADD_MESSAGE; JOIN's first message, or both NULL. */
  char *phase;
  GBytes *body;
  guint64 after;        /* FETCH */
  guint quota;          /* COUNT_TURN */
  guint window_seconds; /* COUNT_TURN */
  /* The meeting point's operations */
  char point_id[PH_STORE_POINT_ID_LENGTH + 1]; /* all but MEET_FETCH, COUNT_COPIES */
  guint side;                                  /* MEET_ADD_MESSAGE, STORE_COPY */
  GArray *points;                              /* MEET_FETCH: PhPointCursor */
  guint64 index;                               /* DELETE_COPY */
  guint lifetime_seconds;                      /* STORE_COPY */
  guint max_count;                             /* STORE_COPY */
  guint64 max_bytes;                           /* STORE_COPY */
  guint64 max_total_bytes;                     /* STORE_COPY: of all points' copies */
} PhStoreRequest;

PhStoreRequest *ph_store_request_new (PhStoreOp op, guint nameplate);
void ph_store_request_free (PhStoreRequest *request);
/* The secret of the side asking (a header's value, any string, or NULL):
 * one of the wrong shape is none. */
void ph_store_request_set_secret (PhStoreRequest *request, const char *secret);
/* A new secret for the seat the request takes, to be handed to the client
 * once the operation succeeds; the request keeps its hash. */
char *ph_store_request_new_seat_secret (PhStoreRequest *request);
void ph_store_request_set_request_key (PhStoreRequest *request, const char *key);
void ph_store_request_set_tag (PhStoreRequest *request, const char *tag);
/* Takes @body. */
void ph_store_request_set_message (PhStoreRequest *request, const char *phase, GBytes *body);
/* A request about the meeting point @point_id (PH_STORE_POINT_ID_LENGTH
 * hex digits, checked by the caller). */
PhStoreRequest *ph_store_point_request_new (PhStoreOp op, const char *point_id);
/* Adds a point to a MEET_FETCH. */
void ph_store_request_add_point (PhStoreRequest *request, const char *point_id, guint side,
                                 guint64 after);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhStoreRequest, ph_store_request_free)

/* What an operation tells; what each fills in is listed with the operation. */
typedef struct
{
  guint nameplate;
  guint side;
  gboolean created;
  char tag[PH_STORE_TAG_LENGTH + 1];
  guint expires_in; /* seconds the mailbox lives from now */
  guint64 index;
  GPtrArray *messages; /* PhStoredMessage */
  gboolean turn_granted;
  guint retry_after;
  guint n_open;
  GPtrArray *points; /* MEET_FETCH: PhPointNews */
  guint64 n_copies;
  guint64 copy_bytes;
} PhStoreReply;

PhStoreReply *ph_store_reply_new (void);
void ph_store_reply_free (PhStoreReply *reply);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PhStoreReply, ph_store_reply_free)

/* The limits every backend applies, as the interface's properties
 * "max-mailboxes", "max-messages", "max-mailbox-bytes" and "lifetime". */
typedef struct
{
  guint max_mailboxes;
  guint max_messages;
  guint64 max_mailbox_bytes;
  guint lifetime;
} PhStoreLimits;

#define PH_TYPE_STORE (ph_store_get_type ())
G_DECLARE_INTERFACE (PhStore, ph_store, PH, STORE, GObject)

struct _PhStoreInterface
{
  GTypeInterface g_iface;

  /* The backend's name, for /metrics and messages: "memory", "sqlite". */
  const char *name;

  void (*run) (PhStore *self, PhStoreRequest *request, GTask *task);
  /* Whether a restart of the server keeps what was stored (default: no). */
  gboolean (*is_durable) (PhStore *self);
  /* Optional: the server has readers waiting on @nameplate from watch
   * until unwatch, so a backend may relay only those notifications. */
  void (*watch) (PhStore *self, guint nameplate);
  void (*unwatch) (PhStore *self, guint nameplate);
  /* Optional, the same for meeting points and "point-changed". */
  void (*watch_point) (PhStore *self, const char *point_id);
  void (*unwatch_point) (PhStore *self, const char *point_id);
};

/* Takes @request. */
void ph_store_run_async (PhStore *self, PhStoreRequest *request, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data);
PhStoreReply *ph_store_run_finish (PhStore *self, GAsyncResult *result, GError **error);

const char *ph_store_get_name (PhStore *self);
gboolean ph_store_is_durable (PhStore *self);
void ph_store_watch (PhStore *self, guint nameplate);
void ph_store_unwatch (PhStore *self, guint nameplate);
void ph_store_watch_point (PhStore *self, const char *point_id);
void ph_store_unwatch_point (PhStore *self, const char *point_id);
guint ph_store_get_lifetime (PhStore *self);

/* The store's latency per operation (a histogram), its failures and its
 * name, as Prometheus text. */
void ph_store_append_metrics (PhStore *self, GString *text);
/* "allocate", "add-message", …: a label in /metrics. */
const char *ph_store_op_get_name (PhStoreOp op);

/* For backends. */
void ph_store_return_reply (GTask *task, PhStoreReply *reply);
void ph_store_emit_message_added (PhStore *self, guint nameplate, guint64 index);
void ph_store_emit_mailbox_closed (PhStore *self, guint nameplate);
void ph_store_emit_changes_lost (PhStore *self);
/* "point-changed" (point id, index, side): side added a message or a
 * stored copy with that index at the point. */
void ph_store_emit_point_changed (PhStore *self, const char *point_id, guint64 index, guint side);
/* The refusal @code (POINT_LIMIT, STORED_LIMIT, NO_SUCH_COPY,
 * STORED_FULL) about the
 * point @request is about, with the sentence every backend gives. */
GError *ph_store_point_refusal_new (PhStoreError code, const PhStoreRequest *request,
                                    const PhStoreLimits *limits);
/* Whether a point holding @count copies of @bytes, on a store holding
 * @total_bytes of copies in all, has room for @request's copy; refuses
 * with STORED_LIMIT or STORED_FULL otherwise, alike in every backend. */
gboolean ph_store_check_copy_room (const PhStoreRequest *request, guint64 count, guint64 bytes,
                                   guint64 total_bytes, const PhStoreLimits *limits,
                                   GError **error);
/* The refusal @code about @nameplate, with the sentence every backend
 * gives; not for PH_STORE_ERROR_FAILED. */
GError *ph_store_refusal_new (PhStoreError code, guint nameplate, const PhStoreLimits *limits);
/* Which side @request's secret is, given each seat (taken or not) and its
 * secret's hash; 0 for none. Both seats are compared, in constant time, so
 * the time taken tells nothing. */
guint ph_store_match_side (const PhStoreRequest *request, gboolean host_taken,
                           const guint8 *host_hash, gboolean joiner_taken,
                           const guint8 *joiner_hash);
/* Whether @request carries the request key whose hash is @key_hash. */
gboolean ph_store_request_key_matches (const PhStoreRequest *request, const guint8 *key_hash);
/* A new random tag. */
void ph_store_new_tag (char out_tag[PH_STORE_TAG_LENGTH + 1]);

G_END_DECLS
