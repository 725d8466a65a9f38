/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-store"

#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ph-mailbox-format.h"
#include "ph-memory-store.h"
#include "ph-redis-store.h"
#include "ph-sqlite-store.h"
#include "ph-store.h"
#include "ph-test-files.h"
#include "ph-test-redis.h"
#include "ph-test-wait.h"

/* The store contract: what every backend of PhStore (ph-store.h) does,
 * the same cases run against each, through the interface alone and on
 * the main loop as the server uses it. A backend added later adds itself
 * to `backends` below and passes these unchanged. */

/* Anything that takes longer than this has hung: the test fails. */
#define DEADLINE_MS ph_test_scaled_ms (15000)

#define HOST PH_MAILBOX_HOST_SIDE
#define JOINER PH_MAILBOX_JOINER_SIDE
/* Shaped as a secret is, and no side's. */
#define WRONG_SECRET "0000000000000000000000000000000000000000000000000000000000000000"

typedef struct _Fixture Fixture;

typedef struct
{
  const char *name;
  /* Makes the store of a case, with its limits, in @fixture's folder. */
  PhStore *(*make) (Fixture *fixture, const PhStoreLimits *limits);
} Backend;

struct _Fixture
{
  const Backend *backend;
  char *dir; /* the case's own folder, for stores that keep files */
  PhStoreLimits limits;
  PhStore *store;
  PhTestRedis *redis; /* the redis backend's, started with its first store */
};

static PhStore *
make_memory (Fixture *fixture, const PhStoreLimits *limits)
{
  return g_object_new (PH_TYPE_MEMORY_STORE, "max-mailboxes", limits->max_mailboxes, "max-messages",
                       limits->max_messages, "max-mailbox-bytes", limits->max_mailbox_bytes,
                       "lifetime", limits->lifetime, NULL);
}

static char *
database_path (Fixture *fixture)
{
  return g_build_filename (fixture->dir, "rendezvous.db", NULL);
}

static PhStore *
make_sqlite (Fixture *fixture, const PhStoreLimits *limits)
{
  g_autofree char *path = database_path (fixture);
  g_autoptr (GError) error = NULL;
  PhStore *store = g_initable_new (PH_TYPE_SQLITE_STORE, NULL, &error, "path", path,
                                   "max-mailboxes", limits->max_mailboxes, "max-messages",
                                   limits->max_messages, "max-mailbox-bytes",
                                   limits->max_mailbox_bytes, "lifetime", limits->lifetime, NULL);

  g_assert_no_error (error);
  return store;
}

static gboolean
store_connected (gpointer store)
{
  return ph_redis_store_is_connected (store);
}

/* A store on the case's own redis-server, once it is connected: a store
 * still connecting fails what it is asked. */
static PhStore *
make_redis (Fixture *fixture, const PhStoreLimits *limits)
{
  PhStore *store;

  if (fixture->redis == NULL)
    fixture->redis = ph_test_redis_start (fixture->dir, PH_TEST_REDIS_VOLATILE);
  store = g_object_new (
      PH_TYPE_REDIS_STORE, "host", "127.0.0.1", "port", ph_test_redis_get_port (fixture->redis),
      "max-mailboxes", limits->max_mailboxes, "max-messages", limits->max_messages,
      "max-mailbox-bytes", limits->max_mailbox_bytes, "lifetime", limits->lifetime, NULL);
  g_assert_true (ph_test_wait_until (store_connected, store, DEADLINE_MS));
  return store;
}

static gboolean
store_disconnected (gpointer store)
{
  return !ph_redis_store_is_connected (store);
}

static const Backend backends[] = {
  { "memory", make_memory },
  { "sqlite", make_sqlite },
  { "redis", make_redis },
};

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture->backend = data;
  fixture->dir = g_dir_make_tmp ("test-store-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  if (fixture->store != NULL)
    g_assert_finalize_object (g_steal_pointer (&fixture->store));
  g_clear_pointer (&fixture->redis, ph_test_redis_free);
  ph_test_remove_tree (fixture->dir);
  g_free (fixture->dir);
}

/* The store of the case, with these limits. */
static PhStore *
open_store (Fixture *fixture, guint max_mailboxes, guint max_messages, guint64 max_mailbox_bytes,
            guint lifetime)
{
  fixture->limits = (PhStoreLimits){ max_mailboxes, max_messages, max_mailbox_bytes, lifetime };
  fixture->store = fixture->backend->make (fixture, &fixture->limits);
  g_assert_nonnull (fixture->store);
  g_assert_cmpstr (ph_store_get_name (fixture->store), ==, fixture->backend->name);
  return fixture->store;
}

/* Runs @request (taken) and waits for its answer. */
static PhStoreReply *
run (PhStore *store, PhStoreRequest *request, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  ph_store_run_async (store, request, NULL, ph_test_result_cb, &result);
  return ph_store_run_finish (store, ph_test_wait_for_result (&result, DEADLINE_MS), error);
}

/* Runs @request (taken), which the store must refuse with @code. */
static void
assert_refused (PhStore *store, PhStoreRequest *request, PhStoreError code)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PhStoreReply) reply = run (store, request, &error);

  g_assert_null (reply);
  g_assert_error (error, PH_STORE_ERROR, (gint)code);
  g_assert_cmpuint (strlen (error->message), >, 10);
}

/* Runs @request (taken), which must succeed. */
static PhStoreReply *
run_ok (PhStore *store, PhStoreRequest *request)
{
  g_autoptr (GError) error = NULL;
  PhStoreReply *reply = run (store, request, &error);

  g_assert_no_error (error);
  g_assert_nonnull (reply);
  return reply;
}

/* A request of the side whose secret is @secret (or none, NULL). */
static PhStoreRequest *
as_side (PhStoreOp op, guint nameplate, const char *secret)
{
  PhStoreRequest *request = ph_store_request_new (op, nameplate);

  ph_store_request_set_secret (request, secret);
  return request;
}

/* Allocates a mailbox; its host's secret goes to @out_secret. */
static guint
allocate (PhStore *store, char **out_secret)
{
  PhStoreRequest *request = ph_store_request_new (PH_STORE_OP_ALLOCATE, 0);
  g_autofree char *secret = ph_store_request_new_seat_secret (request);
  g_autoptr (PhStoreReply) reply = run_ok (store, request);

  g_assert_cmpuint (reply->side, ==, HOST);
  g_assert_true (reply->created);
  g_assert_cmpuint (strlen (reply->tag), ==, PH_STORE_TAG_LENGTH);
  g_assert_cmpuint (reply->expires_in, >, 0);
  if (out_secret != NULL)
    *out_secret = g_steal_pointer (&secret);
  return reply->nameplate;
}

/* A claim or join of @nameplate, with @key (or none) and, for a join,
 * a first message (or none): the reply, or NULL and @error. */
static PhStoreReply *
take_seat (PhStore *store, PhStoreOp op, guint nameplate, const char *key, const char *phase,
           const char *first, char **out_secret, GError **error)
{
  PhStoreRequest *request = ph_store_request_new (op, nameplate);
  g_autofree char *secret = ph_store_request_new_seat_secret (request);
  PhStoreReply *reply;

  ph_store_request_set_request_key (request, key);
  if (phase != NULL)
    ph_store_request_set_message (request, phase, g_bytes_new (first, strlen (first)));
  reply = run (store, request, error);
  if (reply != NULL && out_secret != NULL)
    *out_secret = g_steal_pointer (&secret);
  return reply;
}

static char *
join (PhStore *store, guint nameplate)
{
  g_autoptr (GError) error = NULL;
  char *secret = NULL;
  g_autoptr (PhStoreReply) reply
      = take_seat (store, PH_STORE_OP_JOIN, nameplate, NULL, NULL, NULL, &secret, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (reply->side, ==, JOINER);
  g_assert_true (reply->created);
  return secret;
}

static guint
authenticate_with (PhStore *store, PhStoreRequest *request)
{
  g_autoptr (PhStoreReply) reply = run_ok (store, request);

  return reply->side;
}

static guint
authenticate (PhStore *store, guint nameplate, const char *secret)
{
  g_autoptr (PhStoreReply) reply
      = run_ok (store, as_side (PH_STORE_OP_AUTHENTICATE, nameplate, secret));

  return reply->side;
}

/* Posts @text as the side of @secret; returns its index. */
static guint64
post (PhStore *store, guint nameplate, const char *secret, const char *phase, const char *text)
{
  PhStoreRequest *request = as_side (PH_STORE_OP_ADD_MESSAGE, nameplate, secret);
  g_autoptr (PhStoreReply) reply = NULL;

  ph_store_request_set_message (request, phase, g_bytes_new (text, strlen (text)));
  reply = run_ok (store, request);
  return reply->index;
}

static PhStoreRequest *
post_request (guint nameplate, const char *secret, const char *text)
{
  PhStoreRequest *request = as_side (PH_STORE_OP_ADD_MESSAGE, nameplate, secret);

  ph_store_request_set_message (request, "pake", g_bytes_new (text, strlen (text)));
  return request;
}

static GPtrArray *
fetch (PhStore *store, guint nameplate, const char *secret, guint64 after)
{
  PhStoreRequest *request = as_side (PH_STORE_OP_FETCH, nameplate, secret);
  g_autoptr (PhStoreReply) reply = NULL;

  request->after = after;
  reply = run_ok (store, request);
  return g_steal_pointer (&reply->messages);
}

static void
leave (PhStore *store, guint nameplate, const char *secret)
{
  g_autoptr (PhStoreReply) reply = run_ok (store, as_side (PH_STORE_OP_LEAVE, nameplate, secret));
}

static guint
count_open (PhStore *store)
{
  g_autoptr (PhStoreReply) reply = run_ok (store, ph_store_request_new (PH_STORE_OP_COUNT_OPEN, 0));

  return reply->n_open;
}

static gboolean
is_open (PhStore *store, guint nameplate)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PhStoreReply) reply
      = run (store, as_side (PH_STORE_OP_AUTHENTICATE, nameplate, NULL), &error);

  return !g_error_matches (error, PH_STORE_ERROR, PH_STORE_ERROR_NO_SUCH_MAILBOX);
}

static char *
get_tag (PhStore *store, guint nameplate, const char *secret)
{
  g_autoptr (PhStoreReply) reply
      = run_ok (store, as_side (PH_STORE_OP_AUTHENTICATE, nameplate, secret));

  return g_strdup (reply->tag);
}

static void
record_closed_cb (PhStore *store, guint nameplate, GArray *closed)
{
  gint64 record[] = { nameplate, g_get_monotonic_time () };

  g_array_append_vals (closed, record, G_N_ELEMENTS (record));
}

static void
record_added_cb (PhStore *store, guint nameplate, guint64 index, GArray *added)
{
  guint64 record[] = { nameplate, index };

  g_array_append_vals (added, record, G_N_ELEMENTS (record));
}

static guint
n_closed (GArray *closed)
{
  return closed->len / 2;
}

static guint
closed_nameplate (GArray *closed, guint i)
{
  return (guint)g_array_index (closed, gint64, 2 * i);
}

/* --- the cases --- */

/* Lowest free first, limits on mailboxes and on a mailbox's messages and
 * bytes, and a mailbox that closes once every side in it left. */
static void
test_lifecycle (Fixture *fixture, gconstpointer data)
{
  PhStore *store = open_store (fixture, 3, 2, 10, 600);
  g_autoptr (GArray) closed = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GPtrArray) secrets = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) messages = NULL;
  g_autofree char *joiner = NULL;
  PhStoredMessage *message;

  g_signal_connect (store, "mailbox-closed", G_CALLBACK (record_closed_cb), closed);

  g_ptr_array_add (secrets, NULL);
  for (guint expected = 1; expected <= 3; expected++)
    {
      char *secret = NULL;

      g_assert_cmpuint (allocate (store, &secret), ==, expected);
      g_assert_true (ph_mailbox_secret_is_valid (secret));
      g_ptr_array_add (secrets, secret);
      g_assert_cmpuint (authenticate (store, expected, secret), ==, HOST);
    }
  g_assert_cmpstr (secrets->pdata[1], !=, secrets->pdata[2]);
  assert_refused (store, ph_store_request_new (PH_STORE_OP_ALLOCATE, 0),
                  PH_STORE_ERROR_NO_FREE_MAILBOX);
  g_assert_cmpuint (count_open (store), ==, 3);

  g_assert_cmpuint (post (store, 2, secrets->pdata[2], "pake", "hello"), ==, 1);
  joiner = join (store, 2);
  g_assert_cmpuint (authenticate (store, 2, joiner), ==, JOINER);
  g_assert_cmpuint (post (store, 2, joiner, "pake", "hello"), ==, 2);
  assert_refused (store, ph_store_request_new (PH_STORE_OP_JOIN, 2), PH_STORE_ERROR_THIRD_SIDE);

  /* Two messages of five bytes reach both the count and the byte cap. */
  assert_refused (store, post_request (2, secrets->pdata[2], "x"), PH_STORE_ERROR_MAILBOX_LIMIT);
  messages = fetch (store, 2, secrets->pdata[2], 1);
  g_assert_cmpuint (messages->len, ==, 1);
  message = g_ptr_array_index (messages, 0);
  g_assert_cmpuint (message->side, ==, JOINER);
  g_assert_cmpuint (message->index, ==, 2);
  g_assert_cmpstr (message->phase, ==, "pake");

  leave (store, 2, secrets->pdata[2]);
  g_assert_true (is_open (store, 2));
  g_assert_cmpuint (n_closed (closed), ==, 0);
  leave (store, 2, joiner);
  g_assert_false (is_open (store, 2));
  g_assert_cmpuint (n_closed (closed), ==, 1);
  g_assert_cmpuint (closed_nameplate (closed, 0), ==, 2);
  g_assert_cmpuint (count_open (store), ==, 2);

  /* Messages already handed out outlive their mailbox. */
  g_assert_cmpuint (message->index, ==, 2);

  assert_refused (store, post_request (2, secrets->pdata[2], "x"), PH_STORE_ERROR_NO_SUCH_MAILBOX);
  assert_refused (store, as_side (PH_STORE_OP_AUTHENTICATE, 2, joiner),
                  PH_STORE_ERROR_NO_SUCH_MAILBOX);

  g_assert_cmpuint (allocate (store, NULL), ==, 2);
}

/* Posts are numbered in arrival order; a fetch reads those after the
 * index it names, with their sides, phases and bodies byte for byte. */
static void
test_posts_and_fetches (Fixture *fixture, gconstpointer data)
{
  PhStore *store = open_store (fixture, 10, 100, 100000, 600);
  g_autoptr (GArray) added = g_array_new (FALSE, FALSE, sizeof (guint64));
  g_autofree char *host = NULL;
  g_autofree char *joiner = NULL;
  g_autoptr (GPtrArray) all = NULL;
  g_autoptr (GPtrArray) later = NULL;
  g_autoptr (GPtrArray) none = NULL;
  g_autoptr (GPtrArray) beyond = NULL;
  const char binary[] = { 'a', '\0', '\xff', 'b' };
  const char *const phases[] = { "pake", "confirm", "desc", "cand" };
  guint nameplate;

  g_signal_connect (store, "message-added", G_CALLBACK (record_added_cb), added);
  nameplate = allocate (store, &host);
  joiner = join (store, nameplate);

  for (guint i = 0; i < G_N_ELEMENTS (phases); i++)
    {
      g_autofree char *text = g_strdup_printf ("message %u", i + 1);

      g_assert_cmpuint (post (store, nameplate, (i % 2 == 0 ? host : joiner), phases[i], text), ==,
                        i + 1);
      g_assert_cmpuint (added->len, ==, 2 * (i + 1));
      g_assert_cmpuint (g_array_index (added, guint64, 2 * i), ==, nameplate);
      g_assert_cmpuint (g_array_index (added, guint64, 2 * i + 1), ==, i + 1);
    }
  {
    PhStoreRequest *request = as_side (PH_STORE_OP_ADD_MESSAGE, nameplate, host);
    g_autoptr (PhStoreReply) reply = NULL;

    ph_store_request_set_message (request, "bye", g_bytes_new (binary, sizeof binary));
    reply = run_ok (store, request);
    g_assert_cmpuint (reply->index, ==, 5);
  }

  all = fetch (store, nameplate, joiner, 0);
  g_assert_cmpuint (all->len, ==, 5);
  for (guint i = 0; i < all->len; i++)
    {
      PhStoredMessage *message = g_ptr_array_index (all, i);

      g_assert_cmpuint (message->index, ==, i + 1);
      g_assert_cmpuint (message->side, ==, (i % 2 == 0 ? HOST : JOINER));
      if (i < G_N_ELEMENTS (phases))
        {
          g_autofree char *text = g_strdup_printf ("message %u", i + 1);
          g_autoptr (GBytes) expected = g_bytes_new (text, strlen (text));

          g_assert_cmpstr (message->phase, ==, phases[i]);
          g_assert_true (g_bytes_equal (message->body, expected));
        }
    }
  {
    PhStoredMessage *last = g_ptr_array_index (all, 4);
    g_autoptr (GBytes) expected = g_bytes_new (binary, sizeof binary);

    g_assert_cmpstr (last->phase, ==, "bye");
    g_assert_true (g_bytes_equal (last->body, expected));
  }

  later = fetch (store, nameplate, host, 3);
  g_assert_cmpuint (later->len, ==, 2);
  g_assert_cmpuint (((PhStoredMessage *)later->pdata[0])->index, ==, 4);
  none = fetch (store, nameplate, host, 5);
  g_assert_cmpuint (none->len, ==, 0);
  beyond = fetch (store, nameplate, host, G_MAXINT64);
  g_assert_cmpuint (beyond->len, ==, 0);

  /* A refused post tells nobody. */
  assert_refused (store, post_request (nameplate, WRONG_SECRET, "x"), PH_STORE_ERROR_UNAUTHORIZED);
  g_assert_cmpuint (added->len, ==, 2 * 5);
}

/* The post that comes with a join (join?post=1) carries the join's key:
 * the seat keeps it, so a repeat of the join whose answer was lost is
 * still the same join; the side's next request of its own forgets it. */
static void
test_join_post_keeps_key (Fixture *fixture, gconstpointer data)
{
  PhStore *store = open_store (fixture, 10, 10, 1000, 600);
  g_autoptr (GError) error = NULL;
  g_autoptr (PhStoreReply) joined = NULL;
  g_autoptr (PhStoreReply) repeated = NULL;
  g_autoptr (PhStoreReply) posted = NULL;
  g_autoptr (PhStoreReply) refused = NULL;
  g_autofree char *host = NULL;
  g_autofree char *joiner = NULL;
  g_autofree char *again = NULL;
  guint nameplate = allocate (store, &host);
  PhStoreRequest *with_join;

  joined = take_seat (store, PH_STORE_OP_JOIN, nameplate, "join-key", NULL, NULL, &joiner, &error);
  g_assert_no_error (error);
  with_join = post_request (nameplate, joiner, "hello");
  ph_store_request_set_request_key (with_join, "join-key");
  posted = run_ok (store, with_join);
  g_assert_cmpuint (posted->index, ==, 1);

  repeated = take_seat (store, PH_STORE_OP_JOIN, nameplate, "join-key", NULL, NULL, &again, &error);
  g_assert_no_error (error);
  g_assert_false (repeated->created);
  g_assert_cmpuint (repeated->side, ==, JOINER);

  g_assert_cmpuint (post (store, nameplate, again, "pake", "on its own"), ==, 2);
  refused = take_seat (store, PH_STORE_OP_JOIN, nameplate, "join-key", NULL, NULL, NULL, &error);
  g_assert_null (refused);
  g_assert_error (error, PH_STORE_ERROR, PH_STORE_ERROR_THIRD_SIDE);
}

/* Only a side's own secret says it is that side; a taken seat stays taken,
 * even once its side left; a joiner back after a restart enters only the
 * mailbox whose first message it read. */
static void
test_sides_and_secrets (Fixture *fixture, gconstpointer data)
{
  PhStore *store = open_store (fixture, 10, 10, 1000, 600);
  g_autoptr (GError) error = NULL;
  g_autoptr (PhStoreReply) reply = NULL;
  g_autofree char *host = NULL;
  g_autofree char *elsewhere = NULL;
  g_autofree char *joiner = NULL;
  g_autofree char *again = NULL;
  g_autofree char *upper = NULL;
  const char *refused[] = { NULL, "", NULL, WRONG_SECRET, NULL, "Bearer" };
  guint nameplate;
  guint second;

  nameplate = allocate (store, &host);
  second = allocate (store, &elsewhere);
  g_assert_cmpuint (nameplate, !=, second);

  /* No secret, someone else's, one of the wrong shape, or for a closed
   * mailbox: none of them is a side. */
  upper = g_ascii_strup (host, -1);
  refused[2] = elsewhere;
  refused[4] = upper;
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    assert_refused (store, as_side (PH_STORE_OP_AUTHENTICATE, nameplate, refused[i]),
                    PH_STORE_ERROR_UNAUTHORIZED);
  assert_refused (store, as_side (PH_STORE_OP_AUTHENTICATE, 9, host),
                  PH_STORE_ERROR_NO_SUCH_MAILBOX);
  /* Nor may anyone but a side read, post, leave or count TURN requests. */
  assert_refused (store, as_side (PH_STORE_OP_FETCH, nameplate, elsewhere),
                  PH_STORE_ERROR_UNAUTHORIZED);
  assert_refused (store, post_request (nameplate, NULL, "x"), PH_STORE_ERROR_UNAUTHORIZED);
  assert_refused (store, as_side (PH_STORE_OP_LEAVE, nameplate, WRONG_SECRET),
                  PH_STORE_ERROR_UNAUTHORIZED);
  assert_refused (store, as_side (PH_STORE_OP_COUNT_TURN, nameplate, upper),
                  PH_STORE_ERROR_UNAUTHORIZED);

  /* A returning joiner asks for the mailbox whose first message it read:
   * none yet, another one, then the one. */
  reply = take_seat (store, PH_STORE_OP_JOIN, nameplate, NULL, "pake", "first", NULL, &error);
  g_assert_null (reply);
  g_assert_error (error, PH_STORE_ERROR, PH_STORE_ERROR_NO_SUCH_MAILBOX);
  g_clear_error (&error);
  g_assert_cmpuint (post (store, nameplate, host, "pake", "first"), ==, 1);
  reply = take_seat (store, PH_STORE_OP_JOIN, nameplate, NULL, "pake", "other", NULL, &error);
  g_assert_error (error, PH_STORE_ERROR, PH_STORE_ERROR_OTHER_FIRST_MESSAGE);
  g_clear_error (&error);
  reply = take_seat (store, PH_STORE_OP_JOIN, nameplate, NULL, "confirm", "first", NULL, &error);
  g_assert_error (error, PH_STORE_ERROR, PH_STORE_ERROR_OTHER_FIRST_MESSAGE);
  g_clear_error (&error);

  /* Repeated with its request key before it used its secret, a join gets
   * the seat again under a new secret; after, it is a third side. */
  reply = take_seat (store, PH_STORE_OP_JOIN, nameplate, "key-1", "pake", "first", &joiner, &error);
  g_assert_no_error (error);
  g_assert_true (reply->created);
  g_clear_pointer (&reply, ph_store_reply_free);
  reply = take_seat (store, PH_STORE_OP_JOIN, nameplate, "key-1", NULL, NULL, &again, &error);
  g_assert_no_error (error);
  g_assert_false (reply->created);
  g_assert_cmpuint (reply->side, ==, JOINER);
  g_clear_pointer (&reply, ph_store_reply_free);
  g_assert_cmpstr (again, !=, joiner);
  assert_refused (store, as_side (PH_STORE_OP_AUTHENTICATE, nameplate, joiner),
                  PH_STORE_ERROR_UNAUTHORIZED);
  g_assert_cmpuint (authenticate (store, nameplate, again), ==, JOINER);
  reply = take_seat (store, PH_STORE_OP_JOIN, nameplate, "key-1", NULL, NULL, NULL, &error);
  g_assert_error (error, PH_STORE_ERROR, PH_STORE_ERROR_THIRD_SIDE);
  g_clear_error (&error);
  reply = take_seat (store, PH_STORE_OP_JOIN, nameplate, "key-2", NULL, NULL, NULL, &error);
  g_assert_error (error, PH_STORE_ERROR, PH_STORE_ERROR_THIRD_SIDE);
  g_clear_error (&error);

  /* The joiner leaves: its seat is not free for anyone else, and the
   * host still holds the mailbox, which nobody can claim. */
  leave (store, nameplate, again);
  reply = take_seat (store, PH_STORE_OP_JOIN, nameplate, NULL, NULL, NULL, NULL, &error);
  g_assert_error (error, PH_STORE_ERROR, PH_STORE_ERROR_THIRD_SIDE);
  g_clear_error (&error);
  reply = take_seat (store, PH_STORE_OP_CLAIM, nameplate, NULL, NULL, NULL, NULL, &error);
  g_assert_error (error, PH_STORE_ERROR, PH_STORE_ERROR_NAMEPLATE_UNAVAILABLE);
  g_clear_error (&error);
  g_assert_cmpuint (authenticate (store, nameplate, host), ==, HOST);
}

/* A mailbox holds so many bytes of bodies, to the byte. */
static void
test_byte_limit (Fixture *fixture, gconstpointer data)
{
  PhStore *store = open_store (fixture, 10, 10, 10, 600);
  g_autofree char *host = NULL;
  guint nameplate;

  nameplate = allocate (store, &host);
  g_assert_cmpuint (post (store, nameplate, host, "pake", "123456789"), ==, 1);
  assert_refused (store, post_request (nameplate, host, "12"), PH_STORE_ERROR_MAILBOX_LIMIT);
  g_assert_cmpuint (post (store, nameplate, host, "pake", "1"), ==, 2);
  assert_refused (store, post_request (nameplate, host, "1"), PH_STORE_ERROR_MAILBOX_LIMIT);
}

/* A request that names a tag (If-Match) is about that mailbox only: once
 * the number is open under another, it is refused, before the secret is
 * looked at; with the mailbox gone it is a mailbox like any other gone. */
static void
test_tags (Fixture *fixture, gconstpointer data)
{
  PhStore *store = open_store (fixture, 10, 10, 1000, 600);
  g_autofree char *host = NULL;
  g_autofree char *tag = NULL;
  g_autofree char *second_host = NULL;
  g_autofree char *second_tag = NULL;
  PhStoreRequest *request;
  guint nameplate;

  nameplate = allocate (store, &host);
  tag = get_tag (store, nameplate, host);
  g_assert_cmpuint (strlen (tag), ==, PH_STORE_TAG_LENGTH);

  request = as_side (PH_STORE_OP_AUTHENTICATE, nameplate, host);
  ph_store_request_set_tag (request, tag);
  g_assert_cmpuint (authenticate_with (store, request), ==, HOST);

  leave (store, nameplate, host);
  request = as_side (PH_STORE_OP_FETCH, nameplate, host);
  ph_store_request_set_tag (request, tag);
  assert_refused (store, request, PH_STORE_ERROR_NO_SUCH_MAILBOX);

  g_assert_cmpuint (allocate (store, &second_host), ==, nameplate);
  second_tag = get_tag (store, nameplate, second_host);
  g_assert_cmpstr (second_tag, !=, tag);
  for (PhStoreOp op = PH_STORE_OP_JOIN; op <= PH_STORE_OP_COUNT_TURN; op++)
    {
      request = as_side (op, nameplate, op == PH_STORE_OP_JOIN ? NULL : second_host);
      ph_store_request_set_tag (request, tag);
      if (op == PH_STORE_OP_ADD_MESSAGE)
        ph_store_request_set_message (request, "pake", g_bytes_new_static ("x", 1));
      assert_refused (store, request, PH_STORE_ERROR_REPLACED);
    }
  request = ph_store_request_new (PH_STORE_OP_CLAIM, nameplate);
  ph_store_request_set_tag (request, tag);
  assert_refused (store, request, PH_STORE_ERROR_REPLACED);

  /* Not even the secret of a side opens it under the wrong tag. */
  request = as_side (PH_STORE_OP_AUTHENTICATE, nameplate, NULL);
  ph_store_request_set_tag (request, tag);
  assert_refused (store, request, PH_STORE_ERROR_REPLACED);
  request = as_side (PH_STORE_OP_AUTHENTICATE, nameplate, NULL);
  ph_store_request_set_tag (request, second_tag);
  assert_refused (store, request, PH_STORE_ERROR_UNAUTHORIZED);
}

/* Each side may have a few sets of TURN credentials per window, its own
 * count; once the window is over it starts again. */
static void
test_turn_quota (Fixture *fixture, gconstpointer data)
{
  PhStore *store = open_store (fixture, 10, 10, 1000, 600);
  g_autofree char *host = NULL;
  g_autofree char *joiner = NULL;
  PhStoreRequest *request;
  guint nameplate;

  nameplate = allocate (store, &host);
  joiner = join (store, nameplate);
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr (PhStoreReply) reply = NULL;

      request = as_side (PH_STORE_OP_COUNT_TURN, nameplate, host);
      request->quota = 2;
      request->window_seconds = 1;
      reply = run_ok (store, request);
      g_assert_cmpuint (reply->side, ==, HOST);
      g_assert_cmpint (reply->turn_granted, ==, i < 2);
      if (i == 2)
        g_assert_cmpuint (reply->retry_after, ==, 1);
    }
  {
    g_autoptr (PhStoreReply) reply = NULL;

    request = as_side (PH_STORE_OP_COUNT_TURN, nameplate, joiner);
    request->quota = 2;
    request->window_seconds = 1;
    reply = run_ok (store, request);
    g_assert_true (reply->turn_granted);
  }

  ph_test_run_for (1100);
  {
    g_autoptr (PhStoreReply) reply = NULL;

    request = as_side (PH_STORE_OP_COUNT_TURN, nameplate, host);
    request->quota = 2;
    request->window_seconds = 1;
    reply = run_ok (store, request);
    g_assert_true (reply->turn_granted);
  }
  assert_refused (store, as_side (PH_STORE_OP_COUNT_TURN, 9, host), PH_STORE_ERROR_NO_SUCH_MAILBOX);
}

static void
assert_claim_refused (PhStore *store, guint nameplate, const char *key)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PhStoreReply) reply
      = take_seat (store, PH_STORE_OP_CLAIM, nameplate, key, NULL, NULL, NULL, &error);

  g_assert_null (reply);
  g_assert_error (error, PH_STORE_ERROR, PH_STORE_ERROR_NAMEPLATE_UNAVAILABLE);
}

static char *
claim (PhStore *store, guint nameplate, const char *key, gboolean *out_created)
{
  g_autoptr (GError) error = NULL;
  char *secret = NULL;
  g_autoptr (PhStoreReply) reply
      = take_seat (store, PH_STORE_OP_CLAIM, nameplate, key, NULL, NULL, &secret, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (reply->side, ==, HOST);
  g_assert_cmpuint (reply->nameplate, ==, nameplate);
  if (out_created != NULL)
    *out_created = reply->created;
  return secret;
}

/* A host whose mailbox a store that loses state forgot claims its number
 * again; allocation goes on giving out the lowest free number around the
 * claimed ones, and a claim never takes a number someone else holds. */
static void
test_claim (Fixture *fixture, gconstpointer data)
{
  PhStore *store = open_store (fixture, 10, 10, 1000, 600);
  g_autofree char *first_tag = NULL;
  g_autofree char *later_tag = NULL;
  g_autofree char *claimed = NULL;
  g_autofree char *again = NULL;
  g_autofree char *nine = NULL;
  g_autofree char *two = NULL;
  g_autofree char *ten = NULL;
  gboolean created = FALSE;

  /* Above the high water: allocation steps over it. */
  claimed = claim (store, 3, "key-3", &created);
  g_assert_true (created);
  g_free (claim (store, 5, NULL, &created));
  for (guint expected = 1; expected <= 6; expected++)
    {
      g_autofree char *secret = NULL;

      if (expected == 3 || expected == 5)
        continue;
      g_assert_cmpuint (allocate (store, expected == 2 ? &two : &secret), ==, expected);
    }

  /* The claimer holds side 1, and may claim it again with the same key
   * (a lost answer) until it uses its secret: a new secret for the same
   * side. Without the key, or after, the number is someone else's. */
  again = claim (store, 3, "key-3", &created);
  g_assert_false (created);
  assert_refused (store, as_side (PH_STORE_OP_AUTHENTICATE, 3, claimed),
                  PH_STORE_ERROR_UNAUTHORIZED);
  g_assert_cmpuint (authenticate (store, 3, again), ==, HOST);
  assert_claim_refused (store, 3, "key-3");
  assert_claim_refused (store, 5, NULL);

  /* Open for someone else, or outside the store's numbers: refused. */
  assert_claim_refused (store, 4, NULL);
  assert_claim_refused (store, 11, NULL);
  assert_claim_refused (store, 0, NULL);

  /* A claimed number above the high water that closes is simply free. */
  nine = claim (store, 9, NULL, NULL);
  leave (store, 9, nine);
  g_assert_false (is_open (store, 9));

  /* A freed number below it can be claimed, under a new tag. */
  first_tag = get_tag (store, 2, two);
  leave (store, 2, two);
  g_clear_pointer (&two, g_free);
  two = claim (store, 2, NULL, &created);
  g_assert_true (created);
  later_tag = get_tag (store, 2, two);
  g_assert_cmpstr (later_tag, !=, first_tag);

  /* 1 to 6 are open, 3 and 5 by claim, 2 claimed back; 9 closed again. */
  g_assert_cmpuint (count_open (store), ==, 6);
  for (guint expected = 7; expected <= 10; expected++)
    {
      g_autofree char *secret = NULL;

      g_assert_cmpuint (allocate (store, expected == 10 ? &ten : &secret), ==, expected);
    }
  assert_claim_refused (store, 11, NULL);
  leave (store, 10, ten);
  g_free (claim (store, 10, NULL, NULL));
  assert_refused (store, ph_store_request_new (PH_STORE_OP_ALLOCATE, 0),
                  PH_STORE_ERROR_NO_FREE_MAILBOX);
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (PhStoreReply) reply
        = take_seat (store, PH_STORE_OP_CLAIM, 4, NULL, NULL, NULL, NULL, &error);

    g_assert_error (error, PH_STORE_ERROR, PH_STORE_ERROR_NAMEPLATE_UNAVAILABLE);
  }
}

/* A chat keeps its mailbox to reconnect through: while both sides poll it
 * outlives its lifetime; once they stop it expires like any other. */
static void
test_paired_mailbox_lives_while_used (Fixture *fixture, gconstpointer data)
{
  PhStore *store = open_store (fixture, 10, 100, 100000, 1);
  g_autoptr (GArray) closed = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autofree char *host = NULL;
  g_autofree char *joiner = NULL;
  guint nameplate;
  gint64 last_used;

  g_signal_connect (store, "mailbox-closed", G_CALLBACK (record_closed_cb), closed);
  nameplate = allocate (store, &host);
  joiner = join (store, nameplate);
  post (store, nameplate, host, "pake", "x");
  post (store, nameplate, joiner, "pake", "x");

  for (guint i = 0; i < 6; i++)
    {
      g_autoptr (GPtrArray) messages = NULL;

      ph_test_run_for (500);
      messages = fetch (store, nameplate, i % 2 == 0 ? host : joiner, 0);
      g_assert_cmpuint (messages->len, ==, 2);
    }
  g_assert_cmpuint (n_closed (closed), ==, 0);

  last_used = g_get_monotonic_time ();
  while (n_closed (closed) == 0 && g_get_monotonic_time () - last_used < DEADLINE_MS * (gint64)1000)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (n_closed (closed), ==, 1);
  g_assert_cmpint (g_get_monotonic_time () - last_used, >=, G_USEC_PER_SEC - 50000);
  g_assert_false (is_open (store, nameplate));
}

/* Mailboxes close each when its own lifetime ends, counted from its last
 * renewal, in that order, and tell so. */
static void
test_expiry_order (Fixture *fixture, gconstpointer data)
{
  PhStore *store = open_store (fixture, 10, 100, 100000, 1);
  g_autoptr (GArray) closed = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GPtrArray) secrets = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) messages = NULL;
  g_autofree char *joiner = NULL;
  guint nameplates[3];
  gint64 started = g_get_monotonic_time ();
  gint64 renewed;
  /* The first and last close a lifetime after they were made, then the
   * middle one a lifetime after its renewal. */
  const guint expected[] = { 0, 2, 1 };

  g_signal_connect (store, "mailbox-closed", G_CALLBACK (record_closed_cb), closed);
  for (guint i = 0; i < G_N_ELEMENTS (nameplates); i++)
    {
      char *secret = NULL;

      nameplates[i] = allocate (store, &secret);
      g_ptr_array_add (secrets, secret);
    }
  joiner = join (store, nameplates[1]);
  post (store, nameplates[1], secrets->pdata[1], "pake", "x");
  post (store, nameplates[1], joiner, "pake", "x");

  /* The middle one, paired, is renewed by a poll after 600 ms. */
  ph_test_run_for (600);
  messages = fetch (store, nameplates[1], joiner, 0);
  renewed = g_get_monotonic_time ();

  while (n_closed (closed) < G_N_ELEMENTS (expected)
         && g_get_monotonic_time () - started < DEADLINE_MS * (gint64)1000)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (n_closed (closed), ==, G_N_ELEMENTS (expected));

  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      gint64 at = g_array_index (closed, gint64, 2 * i + 1);
      gint64 from = expected[i] == 1 ? renewed : started;

      g_assert_cmpuint (closed_nameplate (closed, i), ==, nameplates[expected[i]]);
      g_assert_cmpint (at - from, >=, G_USEC_PER_SEC - 50000);
      g_assert_cmpint (at - from, <, G_USEC_PER_SEC + ph_test_scaled_ms (900) * (gint64)1000);
    }
  g_assert_cmpuint (count_open (store), ==, 0);
}

/* Polling or posting to a code nobody joined does not keep it: it
 * expires on time, and its number is free again. */
static void
test_unjoined_code_expires_on_time (Fixture *fixture, gconstpointer data)
{
  PhStore *store = open_store (fixture, 10, 100, 100000, 1);
  g_autoptr (GArray) closed = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autofree char *host = NULL;
  guint nameplate;
  gint64 allocated;

  g_signal_connect (store, "mailbox-closed", G_CALLBACK (record_closed_cb), closed);
  nameplate = allocate (store, &host);
  allocated = g_get_monotonic_time ();
  post (store, nameplate, host, "pake", "x");
  while (n_closed (closed) == 0 && g_get_monotonic_time () - allocated < DEADLINE_MS * (gint64)1000)
    {
      g_autoptr (GError) error = NULL;
      PhStoreRequest *request = as_side (PH_STORE_OP_FETCH, nameplate, host);
      g_autoptr (PhStoreReply) reply = run (store, request, &error);

      ph_test_run_for (50);
    }
  g_assert_cmpuint (n_closed (closed), ==, 1);
  g_assert_cmpint (g_get_monotonic_time () - allocated, <, ph_test_scaled_ms (2000) * (gint64)1000);
  g_assert_cmpuint (allocate (store, NULL), ==, nameplate);
}

/* A mailbox left alone closes by itself, telling so, and is gone to every
 * request after. */
static void
test_expiry (Fixture *fixture, gconstpointer data)
{
  PhStore *store = open_store (fixture, 10, 10, 1000, 1);
  g_autoptr (GArray) closed = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autofree char *host = NULL;
  guint nameplate;
  gint64 allocated;

  g_signal_connect (store, "mailbox-closed", G_CALLBACK (record_closed_cb), closed);
  nameplate = allocate (store, &host);
  allocated = g_get_monotonic_time ();

  while (n_closed (closed) == 0 && g_get_monotonic_time () - allocated < DEADLINE_MS * (gint64)1000)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (n_closed (closed), ==, 1);
  g_assert_cmpint (g_array_index (closed, gint64, 1) - allocated, >=, G_USEC_PER_SEC - 50000);
  g_assert_cmpuint (count_open (store), ==, 0);
  assert_refused (store, post_request (nameplate, host, "x"), PH_STORE_ERROR_NO_SUCH_MAILBOX);
}

/* What a side learns as it takes a seat: how long the mailbox has. */
static void
test_expires_in (Fixture *fixture, gconstpointer data)
{
  PhStore *store = open_store (fixture, 10, 10, 1000, 600);
  PhStoreRequest *request = ph_store_request_new (PH_STORE_OP_ALLOCATE, 0);
  g_autofree char *secret = ph_store_request_new_seat_secret (request);
  g_autoptr (PhStoreReply) reply = run_ok (store, request);

  g_assert_cmpuint (reply->expires_in, ==, 600);
  g_assert_cmpuint (ph_store_get_lifetime (store), ==, 600);
}

/* --- what a durable store keeps across a restart --- */

/* Closes the store and opens it again on what it kept. */
static PhStore *
reopen_store (Fixture *fixture)
{
  g_assert_finalize_object (g_steal_pointer (&fixture->store));
  fixture->store = fixture->backend->make (fixture, &fixture->limits);
  return fixture->store;
}

/* Everything: which numbers are open and under which tags, the sides and
 * their secrets (a request key not yet spent too), the messages, TURN
 * counts, lifetimes; allocation goes on from the lowest free number. */
static void
test_survives_reopening (Fixture *fixture, gconstpointer data)
{
  PhStore *store = open_store (fixture, 10, 10, 1000, 600);
  g_autofree char *host = NULL;
  g_autofree char *joiner = NULL;
  g_autofree char *gone = NULL;
  g_autofree char *third = NULL;
  g_autofree char *claimed = NULL;
  g_autofree char *again = NULL;
  g_autofree char *tag = NULL;
  g_autofree char *tag_after = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  g_autoptr (PhStoreReply) reply = NULL;
  g_autoptr (GError) error = NULL;
  PhStoreRequest *request;
  gboolean created;
  guint nameplate;

  nameplate = allocate (store, &host);
  g_assert_cmpuint (allocate (store, &gone), ==, 2);
  g_assert_cmpuint (allocate (store, &third), ==, 3);
  joiner = join (store, nameplate);
  post (store, nameplate, host, "pake", "from the host");
  post (store, nameplate, joiner, "pake", "from the joiner");
  leave (store, 2, gone);
  claimed = claim (store, 7, "key-7", &created);
  tag = get_tag (store, nameplate, host);
  request = as_side (PH_STORE_OP_COUNT_TURN, nameplate, host);
  request->quota = 1;
  request->window_seconds = 600;
  g_clear_pointer (&reply, ph_store_reply_free);
  reply = run_ok (store, request);
  g_assert_true (reply->turn_granted);

  store = reopen_store (fixture);

  g_assert_cmpuint (count_open (store), ==, 3);
  tag_after = get_tag (store, nameplate, host);
  g_assert_cmpstr (tag_after, ==, tag);
  g_assert_cmpuint (authenticate (store, nameplate, joiner), ==, JOINER);
  messages = fetch (store, nameplate, joiner, 0);
  g_assert_cmpuint (messages->len, ==, 2);
  g_assert_cmpuint (((PhStoredMessage *)messages->pdata[1])->side, ==, JOINER);
  g_assert_cmpuint (post (store, nameplate, host, "desc", "after"), ==, 3);
  assert_refused (store, ph_store_request_new (PH_STORE_OP_JOIN, nameplate),
                  PH_STORE_ERROR_THIRD_SIDE);

  /* The claim's request key is still good until its secret is used. */
  again = claim (store, 7, "key-7", &created);
  g_assert_false (created);
  assert_refused (store, as_side (PH_STORE_OP_AUTHENTICATE, 7, claimed),
                  PH_STORE_ERROR_UNAUTHORIZED);
  g_assert_cmpuint (authenticate (store, 7, again), ==, HOST);

  request = as_side (PH_STORE_OP_COUNT_TURN, nameplate, host);
  request->quota = 1;
  request->window_seconds = 600;
  g_clear_pointer (&reply, ph_store_reply_free);
  reply = run_ok (store, request);
  g_assert_false (reply->turn_granted);
  g_assert_cmpuint (reply->retry_after, >, 590);

  /* 2 was left, then 4, 5, 6; 7 is claimed; then 8. */
  g_assert_cmpuint (allocate (store, NULL), ==, 2);
  g_assert_cmpuint (allocate (store, NULL), ==, 4);
  g_assert_cmpuint (allocate (store, NULL), ==, 5);
  g_assert_cmpuint (allocate (store, NULL), ==, 6);
  g_assert_cmpuint (allocate (store, NULL), ==, 8);

  g_clear_pointer (&reply, ph_store_reply_free);
  reply = take_seat (store, PH_STORE_OP_CLAIM, 3, NULL, NULL, NULL, NULL, &error);
  g_assert_error (error, PH_STORE_ERROR, PH_STORE_ERROR_NAMEPLATE_UNAVAILABLE);
}

/* A mailbox whose lifetime ran out while the store was closed is gone
 * when it opens again, and its number free. */
static void
test_expires_while_closed (Fixture *fixture, gconstpointer data)
{
  PhStore *store = open_store (fixture, 10, 10, 1000, 1);
  g_autofree char *host = NULL;

  g_assert_cmpuint (allocate (store, &host), ==, 1);
  g_assert_finalize_object (g_steal_pointer (&fixture->store));
  ph_test_run_for (1100);
  store = fixture->store = fixture->backend->make (fixture, &fixture->limits);
  g_assert_cmpuint (count_open (store), ==, 0);
  assert_refused (store, as_side (PH_STORE_OP_AUTHENTICATE, 1, host),
                  PH_STORE_ERROR_NO_SUCH_MAILBOX);
  g_assert_cmpuint (allocate (store, NULL), ==, 1);
}

/* --- meeting points --- */

#define POINT_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define POINT_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static PhStoreRequest *
point_post_request (PhStoreOp op, const char *point, guint side, const char *text)
{
  PhStoreRequest *request = ph_store_point_request_new (op, point);

  request->side = side;
  ph_store_request_set_message (request, op == PH_STORE_OP_STORE_COPY ? "stored" : "here",
                                g_bytes_new (text, strlen (text)));
  if (op == PH_STORE_OP_STORE_COPY)
    {
      request->lifetime_seconds = 600;
      request->max_count = 3;
      request->max_bytes = 100;
      request->max_total_bytes = 1000;
    }
  return request;
}

static guint64
point_post (PhStore *store, const char *point, guint side, const char *text)
{
  g_autoptr (PhStoreReply) reply
      = run_ok (store, point_post_request (PH_STORE_OP_MEET_ADD_MESSAGE, point, side, text));

  g_assert_cmpuint (reply->index, >, 0);
  return reply->index;
}

static guint64
store_copy (PhStore *store, const char *point, guint side, const char *text, guint lifetime)
{
  PhStoreRequest *request = point_post_request (PH_STORE_OP_STORE_COPY, point, side, text);
  g_autoptr (PhStoreReply) reply = NULL;

  request->lifetime_seconds = lifetime;
  reply = run_ok (store, request);
  g_assert_cmpuint (reply->index, >, 0);
  g_assert_cmpuint (reply->expires_in, ==, lifetime);
  return reply->index;
}

/* What side @side finds at @point above @after; the news of the point. */
static PhPointNews *
point_fetch (PhStore *store, const char *point, guint side, guint64 after)
{
  PhStoreRequest *request = ph_store_request_new (PH_STORE_OP_MEET_FETCH, 0);
  g_autoptr (PhStoreReply) reply = NULL;

  ph_store_request_add_point (request, point, side, after);
  reply = run_ok (store, request);
  g_assert_cmpuint (reply->points->len, ==, 1);
  g_assert_cmpstr (((PhPointNews *)g_ptr_array_index (reply->points, 0))->id, ==, point);
  return g_ptr_array_steal_index (reply->points, 0);
}

static GPtrArray *
fetch_copies (PhStore *store, const char *point, guint64 after)
{
  PhStoreRequest *request = ph_store_point_request_new (PH_STORE_OP_FETCH_COPIES, point);
  g_autoptr (PhStoreReply) reply = NULL;

  request->after = after;
  reply = run_ok (store, request);
  return g_steal_pointer (&reply->messages);
}

static PhStoreRequest *
delete_copy_request (const char *point, guint64 index)
{
  PhStoreRequest *request = ph_store_point_request_new (PH_STORE_OP_DELETE_COPY, point);

  request->index = index;
  return request;
}

static void
count_copies (PhStore *store, guint64 expected_count, guint64 expected_bytes)
{
  g_autoptr (PhStoreReply) reply
      = run_ok (store, ph_store_request_new (PH_STORE_OP_COUNT_COPIES, 0));

  g_assert_cmpuint (reply->n_copies, ==, expected_count);
  g_assert_cmpuint (reply->copy_bytes, ==, expected_bytes);
}

static void
record_point_changed_cb (PhStore *store, const char *point, guint64 index, guint side,
                         GPtrArray *changes)
{
  g_ptr_array_add (changes, g_strdup_printf ("%.4s %" G_GUINT64_FORMAT " %u", point, index, side));
}

/* Each side reads the other's messages only, above its cursor; points
 * are apart; indexes rise; each post is told once it is stored. */
static void
test_point_messages (Fixture *fixture, gconstpointer data)
{
  PhStore *store = open_store (fixture, 10, 3, 1000, 600);
  g_autoptr (GPtrArray) changes = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (PhPointNews) news = NULL;
  g_autoptr (PhPointNews) other = NULL;
  g_autofree char *expected = NULL;
  PhStoredMessage *message;
  guint64 first;
  guint64 second;
  guint64 third;

  g_signal_connect (store, "point-changed", G_CALLBACK (record_point_changed_cb), changes);
  first = point_post (store, POINT_A, 1, "here from 1");
  second = point_post (store, POINT_A, 2, "here from 2");
  third = point_post (store, POINT_A, 1, "desc from 1");
  g_assert_cmpuint (second, >, first);
  g_assert_cmpuint (third, >, second);
  g_assert_cmpuint (changes->len, ==, 3);
  expected = g_strdup_printf ("aaaa %" G_GUINT64_FORMAT " 2", second);
  g_assert_cmpstr (g_ptr_array_index (changes, 1), ==, expected);

  news = point_fetch (store, POINT_A, 2, 0);
  g_assert_cmpuint (news->messages->len, ==, 2);
  message = g_ptr_array_index (news->messages, 0);
  g_assert_cmpuint (message->index, ==, first);
  g_assert_cmpuint (message->side, ==, 1);
  g_assert_cmpstr (message->phase, ==, "here");
  g_assert_cmpmem (g_bytes_get_data (message->body, NULL), g_bytes_get_size (message->body),
                   "here from 1", 11);
  g_clear_pointer (&news, ph_point_news_free);
  news = point_fetch (store, POINT_A, 2, first);
  g_assert_cmpuint (news->messages->len, ==, 1);
  g_assert_cmpuint (((PhStoredMessage *)g_ptr_array_index (news->messages, 0))->index, ==, third);
  g_clear_pointer (&news, ph_point_news_free);
  news = point_fetch (store, POINT_A, 1, 0);
  g_assert_cmpuint (news->messages->len, ==, 1);
  g_assert_cmpuint (news->n_stored, ==, 0);

  other = point_fetch (store, POINT_B, 2, 0);
  g_assert_cmpuint (other->messages->len, ==, 0);

  /* Full at max-messages, for both sides; another point is not. */
  assert_refused (store, point_post_request (PH_STORE_OP_MEET_ADD_MESSAGE, POINT_A, 2, "more"),
                  PH_STORE_ERROR_POINT_LIMIT);
  g_assert_cmpuint (point_post (store, POINT_B, 2, "elsewhere"), >, third);
  g_assert_cmpuint (changes->len, ==, 4);
}

static void
test_point_byte_limit (Fixture *fixture, gconstpointer data)
{
  PhStore *store = open_store (fixture, 10, 10, 10, 600);

  point_post (store, POINT_A, 1, "123456");
  assert_refused (store, point_post_request (PH_STORE_OP_MEET_ADD_MESSAGE, POINT_A, 2, "12345"),
                  PH_STORE_ERROR_POINT_LIMIT);
  point_post (store, POINT_A, 2, "1234");
}

/* Copies are kept whole, within their count and byte limits, counted for
 * the other side, and gone once acknowledged. */
static void
test_stored_copies (Fixture *fixture, gconstpointer data)
{
  PhStore *store = open_store (fixture, 10, 10, 1000, 600);
  g_autoptr (GPtrArray) changes = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) copies = NULL;
  g_autoptr (PhPointNews) news = NULL;
  g_autoptr (PhStoreReply) reply = NULL;
  g_autofree char *big = g_strnfill (95, 'x');
  PhStoredMessage *copy;
  guint64 first;
  guint64 second;

  g_signal_connect (store, "point-changed", G_CALLBACK (record_point_changed_cb), changes);
  first = store_copy (store, POINT_A, 1, "sealed one", 600);
  second = store_copy (store, POINT_A, 1, "sealed two", 600);
  g_assert_cmpuint (second, >, first);
  g_assert_cmpuint (changes->len, ==, 2);
  count_copies (store, 2, 20);

  copies = fetch_copies (store, POINT_A, 0);
  g_assert_cmpuint (copies->len, ==, 2);
  copy = g_ptr_array_index (copies, 0);
  g_assert_cmpuint (copy->index, ==, first);
  g_assert_cmpuint (copy->side, ==, 1);
  g_assert_cmpuint (copy->expires_in, >, 590);
  g_assert_cmpuint (copy->expires_in, <=, 600);
  g_assert_cmpmem (g_bytes_get_data (copy->body, NULL), g_bytes_get_size (copy->body), "sealed one",
                   10);
  g_clear_pointer (&copies, g_ptr_array_unref);
  copies = fetch_copies (store, POINT_A, first);
  g_assert_cmpuint (copies->len, ==, 1);
  g_clear_pointer (&copies, g_ptr_array_unref);
  copies = fetch_copies (store, POINT_B, 0);
  g_assert_cmpuint (copies->len, ==, 0);

  /* Side 2 is told of them, side 1 not of its own. */
  news = point_fetch (store, POINT_A, 2, 0);
  g_assert_cmpuint (news->n_stored, ==, 2);
  g_assert_cmpuint (news->messages->len, ==, 0);
  g_clear_pointer (&news, ph_point_news_free);
  news = point_fetch (store, POINT_A, 2, first);
  g_assert_cmpuint (news->n_stored, ==, 1);
  g_clear_pointer (&news, ph_point_news_free);
  news = point_fetch (store, POINT_A, 1, 0);
  g_assert_cmpuint (news->n_stored, ==, 0);

  /* The bytes (100 in all), then the count (3). */
  assert_refused (store, point_post_request (PH_STORE_OP_STORE_COPY, POINT_A, 2, big),
                  PH_STORE_ERROR_STORED_LIMIT);
  store_copy (store, POINT_A, 2, "three", 600);
  assert_refused (store, point_post_request (PH_STORE_OP_STORE_COPY, POINT_A, 2, "four"),
                  PH_STORE_ERROR_STORED_LIMIT);
  store_copy (store, POINT_B, 2, "elsewhere", 600);
  count_copies (store, 4, 34);

  /* Acknowledged: deleted, once, and only at its own point. */
  assert_refused (store, delete_copy_request (POINT_B, first), PH_STORE_ERROR_NO_SUCH_COPY);
  reply = run_ok (store, delete_copy_request (POINT_A, first));
  assert_refused (store, delete_copy_request (POINT_A, first), PH_STORE_ERROR_NO_SUCH_COPY);
  g_clear_pointer (&copies, g_ptr_array_unref);
  copies = fetch_copies (store, POINT_A, 0);
  g_assert_cmpuint (copies->len, ==, 2);
  g_assert_cmpuint (((PhStoredMessage *)g_ptr_array_index (copies, 0))->index, ==, second);
  count_copies (store, 3, 24);
  store_copy (store, POINT_A, 2, "room again", 600);
}

/* All points' copies together stay within the cap, which an
 * acknowledgement makes room under again. */
static void
test_stored_total_limit (Fixture *fixture, gconstpointer data)
{
  PhStore *store = open_store (fixture, 10, 10, 1000, 600);
  g_autoptr (PhStoreReply) reply = NULL;
  PhStoreRequest *request;
  guint64 first;

  first = store_copy (store, POINT_A, 1, "twenty bytes of copy", 600);
  request = point_post_request (PH_STORE_OP_STORE_COPY, POINT_B, 1, "fifteen bytes..");
  request->max_total_bytes = 30;
  assert_refused (store, request, PH_STORE_ERROR_STORED_FULL);
  reply = run_ok (store, delete_copy_request (POINT_A, first));
  g_clear_pointer (&reply, ph_store_reply_free);
  request = point_post_request (PH_STORE_OP_STORE_COPY, POINT_B, 1, "fifteen bytes..");
  request->max_total_bytes = 30;
  reply = run_ok (store, request);
  count_copies (store, 1, 15);
}

/* Messages live the store's lifetime, copies theirs; what expired is
 * never answered, and its index is not given again. */
static void
test_point_expiry (Fixture *fixture, gconstpointer data)
{
  PhStore *store = open_store (fixture, 10, 10, 1000, 1);
  g_autoptr (GPtrArray) copies = NULL;
  g_autoptr (PhPointNews) news = NULL;
  guint64 message;
  guint64 copy;

  message = point_post (store, POINT_A, 1, "here");
  copy = store_copy (store, POINT_A, 1, "short", 1);
  store_copy (store, POINT_B, 1, "long", 600);
  ph_test_run_for (1200);

  news = point_fetch (store, POINT_A, 2, 0);
  g_assert_cmpuint (news->messages->len, ==, 0);
  g_assert_cmpuint (news->n_stored, ==, 0);
  copies = fetch_copies (store, POINT_A, 0);
  g_assert_cmpuint (copies->len, ==, 0);
  assert_refused (store, delete_copy_request (POINT_A, copy), PH_STORE_ERROR_NO_SUCH_COPY);
  count_copies (store, 1, 4);
  g_assert_cmpuint (point_post (store, POINT_A, 1, "here again"), >, MAX (message, copy));
}

/* Copies and messages at meeting points are kept; indexes go on above
 * the highest ever given, also once it was deleted. */
static void
test_points_survive_reopening (Fixture *fixture, gconstpointer data)
{
  PhStore *store = open_store (fixture, 10, 10, 1000, 600);
  g_autoptr (GPtrArray) copies = NULL;
  g_autoptr (PhPointNews) news = NULL;
  g_autoptr (PhStoreReply) reply = NULL;
  guint64 kept;
  guint64 acknowledged;

  point_post (store, POINT_A, 1, "here");
  kept = store_copy (store, POINT_A, 1, "kept", 600);
  acknowledged = store_copy (store, POINT_A, 1, "acknowledged", 600);
  reply = run_ok (store, delete_copy_request (POINT_A, acknowledged));

  store = reopen_store (fixture);

  copies = fetch_copies (store, POINT_A, 0);
  g_assert_cmpuint (copies->len, ==, 1);
  g_assert_cmpuint (((PhStoredMessage *)g_ptr_array_index (copies, 0))->index, ==, kept);
  news = point_fetch (store, POINT_A, 2, 0);
  g_assert_cmpuint (news->messages->len, ==, 1);
  g_assert_cmpuint (news->n_stored, ==, 1);
  count_copies (store, 1, 4);
  g_assert_cmpuint (point_post (store, POINT_A, 1, "here again"), >, acknowledged);
}

/* --- what the Redis store does when Redis goes away --- */

static void
count_cb (PhStore *store, guint *count)
{
  (*count)++;
}

/* Requests fail at once, as the store's own failure (503 for a client),
 * while Redis is gone, and listeners are told to read again; once it is
 * back, the store is too, by itself, with what Redis kept. */
static void
test_redis_restart (Fixture *fixture, gconstpointer data)
{
  PhStore *store;
  g_autofree char *host = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PhStoreReply) reply = NULL;
  g_autoptr (GString) metrics = g_string_new (NULL);
  guint lost = 0;
  guint nameplate;

  fixture->redis = ph_test_redis_start (fixture->dir, PH_TEST_REDIS_APPEND_ONLY);
  store = open_store (fixture, 10, 10, 1000, 600);
  g_signal_connect (store, "changes-lost", G_CALLBACK (count_cb), &lost);
  nameplate = allocate (store, &host);
  post (store, nameplate, host, "pake", "kept");

  g_test_expect_message ("ph-redis-store", G_LOG_LEVEL_WARNING, "Lost the connection to Redis*");
  ph_test_redis_kill (fixture->redis);
  g_assert_true (ph_test_wait_until (store_disconnected, store, DEADLINE_MS));
  g_assert_cmpuint (lost, ==, 1);
  g_test_assert_expected_messages ();
  reply = run (store, as_side (PH_STORE_OP_FETCH, nameplate, host), &error);
  g_assert_null (reply);
  g_assert_error (error, PH_STORE_ERROR, PH_STORE_ERROR_FAILED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "Redis"));
  ph_store_append_metrics (store, metrics);
  g_assert_nonnull (strstr (metrics->str, "\npinhole_store_redis_up 0\n"));

  ph_test_redis_restart (fixture->redis);
  g_assert_true (ph_test_wait_until (store_connected, store, DEADLINE_MS));
  g_assert_cmpuint (lost, ==, 2);
  {
    g_autoptr (GPtrArray) messages = fetch (store, nameplate, host, 0);

    g_assert_cmpuint (messages->len, ==, 1);
  }
  g_string_truncate (metrics, 0);
  ph_store_append_metrics (store, metrics);
  g_assert_nonnull (strstr (metrics->str, "\npinhole_store_redis_up 1\n"));
  g_assert_nonnull (strstr (metrics->str, "\npinhole_store_redis_reconnects_total 1\n"));
}

/* --- what the SQLite store refuses to open --- */

static void
assert_open_fails (const char *path, GIOErrorEnum code, const char *words)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GObject) store
      = g_initable_new (PH_TYPE_SQLITE_STORE, NULL, &error, "path", path, NULL);

  g_assert_null (store);
  g_assert_error (error, G_IO_ERROR, (gint)code);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_nonnull (strstr (error->message, words));
}

static void
test_sqlite_refuses (Fixture *fixture, gconstpointer data)
{
  g_autofree char *path = database_path (fixture);
  g_autofree char *garbage = g_strnfill (8192, 'x');
  g_autoptr (GError) error = NULL;
  struct stat st;

  /* Made for us: private. */
  g_assert_cmpuint (count_open (open_store (fixture, 10, 10, 1000, 600)), ==, 0);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  /* In use by a store that has it open. */
  assert_open_fails (path, G_IO_ERROR_BUSY, "in use");
  g_assert_finalize_object (g_steal_pointer (&fixture->store));

  /* Not a database at all. */
  g_assert_true (g_file_set_contents (path, garbage, -1, &error));
  assert_open_fails (path, G_IO_ERROR_INVALID_DATA, "damaged or is not");
}

int
main (int argc, char **argv)
{
  const struct
  {
    const char *name;
    void (*func) (Fixture *fixture, gconstpointer data);
  } cases[] = {
    { "lifecycle", test_lifecycle },
    { "posts-and-fetches", test_posts_and_fetches },
    { "sides-and-secrets", test_sides_and_secrets },
    { "join-post-keeps-key", test_join_post_keeps_key },
    { "byte-limit", test_byte_limit },
    { "tags", test_tags },
    { "turn-quota", test_turn_quota },
    { "claim", test_claim },
    { "expires-in", test_expires_in },
    { "expiry", test_expiry },
    { "expiry-order", test_expiry_order },
    { "paired-mailbox-lives-while-used", test_paired_mailbox_lives_while_used },
    { "unjoined-code-expires-on-time", test_unjoined_code_expires_on_time },
    { "point-messages", test_point_messages },
    { "point-byte-limit", test_point_byte_limit },
    { "stored-copies", test_stored_copies },
    { "stored-total-limit", test_stored_total_limit },
    { "point-expiry", test_point_expiry },
  };

  g_test_init (&argc, &argv, NULL);

  for (guint b = 0; b < G_N_ELEMENTS (backends); b++)
    for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        g_autofree char *path = g_strdup_printf ("/store/%s/%s", backends[b].name, cases[i].name);

        g_test_add (path, Fixture, &backends[b], fixture_set_up, cases[i].func, fixture_tear_down);
      }
  g_test_add ("/store/sqlite/survives-reopening", Fixture, &backends[1], fixture_set_up,
              test_survives_reopening, fixture_tear_down);
  g_test_add ("/store/sqlite/points-survive-reopening", Fixture, &backends[1], fixture_set_up,
              test_points_survive_reopening, fixture_tear_down);
  g_test_add ("/store/sqlite/expires-while-closed", Fixture, &backends[1], fixture_set_up,
              test_expires_while_closed, fixture_tear_down);
  g_test_add ("/store/sqlite/refuses-what-it-cannot-use", Fixture, &backends[1], fixture_set_up,
              test_sqlite_refuses, fixture_tear_down);
  g_test_add ("/store/redis/survives-reopening", Fixture, &backends[2], fixture_set_up,
              test_survives_reopening, fixture_tear_down);
  g_test_add ("/store/redis/expires-while-closed", Fixture, &backends[2], fixture_set_up,
              test_expires_while_closed, fixture_tear_down);
  g_test_add ("/store/redis/outlives-a-redis-restart", Fixture, &backends[2], fixture_set_up,
              test_redis_restart, fixture_tear_down);

  return g_test_run ();
}
