/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-server-handlers"

#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "ph-mailbox-format.h"
#include "ph-mailbox-secret.h"
#include "ph-post-reader.h"
#include "ph-rendezvous-server-private.h"
#include "ph-turn-credentials.h"

/* The answers of the v1 API: one handler per endpoint, called by
 * ph-server-routing.c once the path and method are known. A handler reads
 * the request, pauses it and asks the store (ph-store.h) in one operation,
 * which also checks the If-Match tag and, for every request about a
 * mailbox but a claim or a join, which side is asking by that side's
 * secret; the answer goes out once the store has done it. */

/* The version needs no escaping: it is the project's own. */
#define HEALTH_JSON "{\"status\":\"ok\",\"version\":\"" PACKAGE_VERSION "\"}"
/* Ours are 32 hex digits; room for other clients', not for a body's worth. */
#define MAX_REQUEST_KEY_LENGTH 128

static const char *const phases[] = { "pake", "confirm", "desc", "cand", "bye", "batch" };

/* Answers @text (taken), a JSON object. */
void
ph_server_respond_text (SoupServerMessage *msg, guint status, char *text)
{
  soup_server_message_set_status (
      msg, status, status == PH_SERVER_STATUS_TOO_MANY_REQUESTS ? "Too Many Requests" : NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, text, strlen (text));
}

/* {"error":"@code","message":"@message"}. @code is a static string: it
 * names the error in the JSON body and in pinhole_errors_total, whose set
 * of labels must stay small. */
char *
ph_server_error_json (PhRendezvousServer *self, const char *code, const char *message)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "error");
  json_builder_add_string_value (builder, code);
  json_builder_set_member_name (builder, "message");
  json_builder_add_string_value (builder, message);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);

  ph_server_count (self->errors_by_code, code);
  return json_to_string (root, FALSE);
}

G_GNUC_PRINTF (5, 6)
void
ph_server_respond_error (PhRendezvousServer *self, SoupServerMessage *msg, guint status,
                         const char *code, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  ph_server_respond_text (msg, status, ph_server_error_json (self, code, message));
}

/* Store failures are logged when they start and when they end, not at
 * every request they fail. */
void
ph_server_note_store_health (PhRendezvousServer *self, const GError *error)
{
  gboolean failing = g_error_matches (error, PH_STORE_ERROR, PH_STORE_ERROR_FAILED);

  if (failing && !self->store_failing)
    g_warning ("The %s store failed: %s", ph_store_get_name (self->store), error->message);
  else if (!failing && self->store_failing)
    g_message ("The %s store answers again", ph_store_get_name (self->store));
  self->store_failing = failing;
}

void
ph_server_respond_store_error (PhRendezvousServer *self, SoupServerMessage *msg,
                               const GError *error)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  g_assert (error->domain == PH_STORE_ERROR);

  switch ((PhStoreError)error->code)
    {
    case PH_STORE_ERROR_NO_SUCH_MAILBOX:
      ph_server_respond_error (self, msg, SOUP_STATUS_NOT_FOUND, "unknown-mailbox", "%s",
                               error->message);
      break;
    case PH_STORE_ERROR_NO_FREE_MAILBOX:
      soup_message_headers_replace (headers, "Retry-After", "30");
      ph_server_respond_error (self, msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "no-free-mailbox", "%s",
                               error->message);
      break;
    case PH_STORE_ERROR_THIRD_SIDE:
      ph_server_respond_error (self, msg, SOUP_STATUS_CONFLICT, "mailbox-full", "%s",
                               error->message);
      break;
    case PH_STORE_ERROR_MAILBOX_LIMIT:
      ph_server_respond_error (self, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "mailbox-limit",
                               "%s", error->message);
      break;
    case PH_STORE_ERROR_NAMEPLATE_UNAVAILABLE:
      ph_server_respond_error (self, msg, SOUP_STATUS_CONFLICT, "nameplate-unavailable", "%s",
                               error->message);
      break;
    case PH_STORE_ERROR_UNAUTHORIZED:
      soup_message_headers_replace (headers, "WWW-Authenticate",
                                    "Bearer realm=\"pinhole-rendezvous\"");
      ph_server_respond_error (self, msg, SOUP_STATUS_UNAUTHORIZED, "unauthorized", "%s",
                               error->message);
      break;
    case PH_STORE_ERROR_OTHER_FIRST_MESSAGE:
      ph_server_respond_error (self, msg, SOUP_STATUS_CONFLICT, "mailbox-mismatch", "%s",
                               error->message);
      break;
    case PH_STORE_ERROR_REPLACED:
      ph_server_respond_error (self, msg, SOUP_STATUS_PRECONDITION_FAILED, "mailbox-replaced", "%s",
                               error->message);
      break;
    case PH_STORE_ERROR_POINT_LIMIT:
      ph_server_respond_error (self, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "point-limit", "%s",
                               error->message);
      break;
    case PH_STORE_ERROR_STORED_LIMIT:
      ph_server_respond_error (self, msg, SOUP_STATUS_INSUFFICIENT_STORAGE, "stored-limit", "%s",
                               error->message);
      break;
    case PH_STORE_ERROR_STORED_FULL:
      ph_server_respond_error (self, msg, SOUP_STATUS_INSUFFICIENT_STORAGE, "stored-full", "%s",
                               error->message);
      break;
    case PH_STORE_ERROR_NO_SUCH_COPY:
      ph_server_respond_error (self, msg, SOUP_STATUS_NOT_FOUND, "unknown-copy", "%s",
                               error->message);
      break;
    case PH_STORE_ERROR_FAILED:
      /* Whatever went wrong is the operator's to see in the log, not the
       * client's. */
      soup_message_headers_replace (headers, "Retry-After", "1");
      ph_server_respond_error (self, msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "store-unavailable",
                               "The server cannot reach where it keeps its mailboxes right now; "
                               "try again shortly.");
      break;
    default:
      g_assert_not_reached ();
    }
}

/* The ETag naming the mailbox whose tag is @tag. A client sends it back in
 * If-Match and learns from a 412 that its mailbox is gone even when the
 * number is open again (a restarted server, a host that claimed it back). */
char *
ph_server_etag (const char *tag)
{
  return g_strdup_printf ("\"%s\"", tag);
}

static void
set_etag (SoupServerMessage *msg, const PhStoreReply *reply)
{
  g_autofree char *etag = ph_server_etag (reply->tag);

  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "ETag", etag);
}

/* {"messages":[{"index":1,"side":1,"phase":"…","body":"…"},…]}, as
 * json-glib wrote it, without building a tree of nodes for it. No string
 * needs escaping: phases are from a fixed list, and bodies are written
 * here in base64. Sides are numbers: a reader learns no secret from them. */
char *
ph_server_messages_json (GPtrArray *messages)
{
  GString *out = g_string_sized_new (64);

  g_string_append (out, "{\"messages\":[");
  for (guint i = 0; i < messages->len; i++)
    {
      PhStoredMessage *message = g_ptr_array_index (messages, i);
      gsize size;
      const guchar *data = g_bytes_get_data (message->body, &size);
      gsize start;
      int state = 0;
      int save = 0;
      gsize written;

      g_string_append_printf (
          out, "%s{\"index\":%" G_GUINT64_FORMAT ",\"side\":%u,\"phase\":\"%s\",\"body\":\"",
          i > 0 ? "," : "", message->index, message->side, message->phase);
      /* g_base64_encode_step () documents the room it needs. */
      start = out->len;
      g_string_set_size (out, start + (size / 3 + 1) * 4 + 4);
      written = g_base64_encode_step (data, size, FALSE, out->str + start, &state, &save);
      written += g_base64_encode_close (FALSE, out->str + start + written, &state, &save);
      g_string_set_size (out, start + written);
      g_string_append (out, "\"}");
    }
  g_string_append (out, "]}");

  return g_string_free (out, FALSE);
}

const char *
ph_server_bearer_token (SoupServerMessage *msg)
{
  const char *value = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                    "Authorization");

  if (value == NULL || g_ascii_strncasecmp (value, "Bearer ", strlen ("Bearer ")) != 0)
    return NULL;
  value += strlen ("Bearer ");
  while (*value == ' ')
    value++;
  return value;
}

/* The tag a request's If-Match names: a request with one is about the
 * mailbox that tag names, and the store refuses it (412) when the number
 * is open under another tag. Anything but one quoted tag names no
 * mailbox: it is kept as it came, which matches none. */
static char *
if_match_tag (SoupServerMessage *msg)
{
  const char *if_match
      = soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "If-Match");
  g_autofree char *wanted = NULL;
  gsize length;

  if (if_match == NULL)
    return NULL;
  wanted = g_strstrip (g_strdup (if_match));
  length = strlen (wanted);
  if (length == PH_STORE_TAG_LENGTH + 2 && wanted[0] == '"' && wanted[length - 1] == '"')
    return g_strndup (wanted + 1, PH_STORE_TAG_LENGTH);
  return g_steal_pointer (&wanted);
}

/* A request about mailbox @nameplate, with the side's secret and the tag
 * that @msg carry. */
static PhStoreRequest *
mailbox_request (SoupServerMessage *msg, PhStoreOp op, guint nameplate)
{
  PhStoreRequest *request = ph_store_request_new (op, nameplate);

  ph_store_request_set_secret (request, ph_server_bearer_token (msg));
  request->tag = if_match_tag (msg);
  return request;
}

/* The Idempotency-Key of a claim or join, in @out_key (NULL without one);
 * FALSE once it answered a key that is too long. */
static gboolean
read_request_key (PhRendezvousServer *self, SoupServerMessage *msg, const char **out_key)
{
  *out_key = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                           "Idempotency-Key");
  if (*out_key == NULL || strlen (*out_key) <= MAX_REQUEST_KEY_LENGTH)
    return TRUE;

  ph_server_respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed",
                           "The Idempotency-Key is longer than %u bytes.", MAX_REQUEST_KEY_LENGTH);
  return FALSE;
}

static gboolean
is_known_phase (const char *phase)
{
  for (guint i = 0; i < G_N_ELEMENTS (phases); i++)
    if (g_strcmp0 (phase, phases[i]) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
parse_uint_param (GHashTable *query, const char *name, guint64 max, guint64 *out_value)
{
  const char *text = query != NULL ? g_hash_table_lookup (query, name) : NULL;

  *out_value = 0;
  if (text == NULL)
    return TRUE;

  return g_ascii_string_to_unsigned (text, 10, 0, max, out_value, NULL);
}

/* Asking the store */

typedef PhServerPending Pending;
typedef PhServerAnswerFunc AnswerFunc;
/* Answers a refusal of the store its own way; FALSE leaves it to
 * ph_server_respond_store_error (). */
typedef gboolean (*RefusedFunc) (PhRendezvousServer *self, SoupServerMessage *msg,
                                 const GError *error, Pending *pending);

/* A request paused while the store works on it. It does not keep the
 * server: one that goes away first cancels it, and it is dropped. */
struct _PhServerPending
{
  PhRendezvousServer *server;
  GCancellable *cancellable; /* the server's */
  SoupServerMessage *msg;
  PhStoreOp op;
  guint nameplate;
  AnswerFunc answer;
  RefusedFunc refused;
  char *secret;  /* the seat's new secret, for the answer only */
  char *refusal; /* what to answer once the side is proven */
  /* A join that posts once seated: the post, then the join's answer. */
  PhStoreRequest *then;
  gboolean request_key_set;
  guint8 request_key_hash[PH_MAILBOX_SECRET_HASH_SIZE];
  char *seat_answer;
  gboolean chained; /* answered by the request it started */
};

static void
pending_free (Pending *pending)
{
  if (pending->secret != NULL)
    {
      memset (pending->secret, 0, strlen (pending->secret));
      g_free (pending->secret);
    }
  g_free (pending->refusal);
  g_clear_pointer (&pending->then, ph_store_request_free);
  g_free (pending->seat_answer);
  g_object_unref (pending->msg);
  g_object_unref (pending->cancellable);
  g_free (pending);
}

static void
store_answered_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Pending *pending = user_data;
  PhRendezvousServer *self = pending->server;
  g_autoptr (GError) error = NULL;
  g_autoptr (PhStoreReply) reply = ph_store_run_finish (PH_STORE (source), result, &error);

  if (g_cancellable_is_cancelled (pending->cancellable))
    {
      pending_free (pending);
      return;
    }
  ph_server_note_store_health (self, error);
  if (reply != NULL)
    pending->answer (self, pending->msg, reply, pending);
  else if (pending->refused == NULL || !pending->refused (self, pending->msg, error, pending))
    ph_server_respond_store_error (self, pending->msg, error);
  if (!pending->chained)
    soup_server_message_unpause (pending->msg);
  pending_free (pending);
}

/* The store answers on a later iteration of the main loop (ph-store.h),
 * so the caller may still fill in what the answer needs. */
PhServerPending *
ph_server_ask_store (PhRendezvousServer *self, SoupServerMessage *msg, PhStoreRequest *request,
                     AnswerFunc answer)
{
  Pending *pending = g_new0 (Pending, 1);

  pending->server = self;
  pending->cancellable = g_object_ref (self->cancellable);
  pending->msg = g_object_ref (msg);
  pending->op = request->op;
  pending->nameplate = request->nameplate;
  pending->answer = answer;
  soup_server_message_pause (msg);
  ph_store_run_async (self->store, request, self->cancellable, store_answered_cb, pending);
  return pending;
}

static void answer_joined_and_posted (PhRendezvousServer *self, SoupServerMessage *msg,
                                      const PhStoreReply *reply, Pending *pending);
static gboolean joined_but_not_posted (PhRendezvousServer *self, SoupServerMessage *msg,
                                       const GError *error, Pending *pending);

/* A first join that carried a message posts it as the new side; a join
 * repeated (its first answer lost) does not: it is answered without an
 * index, and the client posts as ever. */
static gboolean
post_after_join (PhRendezvousServer *self, SoupServerMessage *msg, const PhStoreReply *reply,
                 Pending *pending, char *seat_answer)
{
  PhStoreRequest *post = g_steal_pointer (&pending->then);
  Pending *posting;

  if (post == NULL || !reply->created)
    {
      g_clear_pointer (&post, ph_store_request_free);
      return FALSE;
    }
  post->has_secret = TRUE;
  ph_mailbox_secret_hash (pending->secret, post->secret_hash);
  /* The join's own key: the seat keeps it, so a repeat of the join (its
   * answer lost) is still known for one. */
  post->has_request_key = pending->request_key_set;
  memcpy (post->request_key_hash, pending->request_key_hash, sizeof post->request_key_hash);
  posting = ph_server_ask_store (self, msg, post, answer_joined_and_posted);
  posting->refused = joined_but_not_posted;
  posting->seat_answer = seat_answer;
  pending->chained = TRUE;
  return TRUE;
}

/* {"nameplate":"N","expires_in":S,"side":K,"secret":"…"}: what a side
 * learns as it takes its seat, and only then. */
static void
answer_seat (PhRendezvousServer *self, SoupServerMessage *msg, const PhStoreReply *reply,
             Pending *pending)
{
  char *text
      = g_strdup_printf ("{\"nameplate\":\"%u\",\"expires_in\":%u,\"side\":%u,\"secret\":\"%s\"",
                         reply->nameplate, reply->expires_in, reply->side, pending->secret);

  /* A mailbox the client opened counts against it until it closes. */
  if (pending->op == PH_STORE_OP_ALLOCATE)
    {
      ph_server_quota_add_mailbox (self, msg, reply->nameplate);
      self->mailboxes_allocated++;
    }
  else if (pending->op == PH_STORE_OP_CLAIM && reply->created)
    {
      ph_server_quota_add_mailbox (self, msg, reply->nameplate);
      self->mailboxes_claimed++;
    }
  set_etag (msg, reply);
  if (post_after_join (self, msg, reply, pending, text))
    return;
  ph_server_respond_text (msg, reply->created ? SOUP_STATUS_CREATED : SOUP_STATUS_OK,
                          g_strconcat (text, "}", NULL));
  g_free (text);
}

/* {"nameplate",…,"secret":"…","index":I}: seated, and the message posted. */
static void
answer_joined_and_posted (PhRendezvousServer *self, SoupServerMessage *msg,
                          const PhStoreReply *reply, Pending *pending)
{
  self->messages_posted++;
  set_etag (msg, reply);
  ph_server_respond_text (
      msg, SOUP_STATUS_CREATED,
      g_strdup_printf ("%s,\"index\":%" G_GUINT64_FORMAT "}", pending->seat_answer, reply->index));
}

/* The seat is taken whatever became of the message (a mailbox full of
 * messages, a store that failed meanwhile): the client posts it again. */
static gboolean
joined_but_not_posted (PhRendezvousServer *self, SoupServerMessage *msg, const GError *error,
                       Pending *pending)
{
  ph_server_respond_text (msg, SOUP_STATUS_CREATED, g_strconcat (pending->seat_answer, "}", NULL));
  return TRUE;
}

/* A request whose side had to be proven before its own fault is told. */
static void
answer_refusal (PhRendezvousServer *self, SoupServerMessage *msg, const PhStoreReply *reply,
                Pending *pending)
{
  ph_server_respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed", "%s", pending->refusal);
}

/* The secret is made before the store is asked: its hash is part of the
 * request. */
static Pending *
take_seat (PhRendezvousServer *self, SoupServerMessage *msg, PhStoreRequest *request)
{
  char *secret = ph_store_request_new_seat_secret (request);
  Pending *pending = ph_server_ask_store (self, msg, request, answer_seat);

  pending->secret = secret;
  return pending;
}

void
ph_server_handle_allocate (PhRendezvousServer *self, SoupServerMessage *msg)
{
  if (!ph_server_quota_allow_mailbox (self, msg))
    return;
  take_seat (self, msg, ph_store_request_new (PH_STORE_OP_ALLOCATE, 0));
}

/* A durable store has not lost the mailbox a claim would open again: its
 * number is open for someone else (409), or the mailbox closed or expired
 * (404), and a code that pointed at it is spent. Asked whether the number
 * is open without a side's secret, the store can only refuse. */
static gboolean
refuse_reopening (PhRendezvousServer *self, SoupServerMessage *msg, const GError *error,
                  Pending *pending)
{
  if (g_error_matches (error, PH_STORE_ERROR, PH_STORE_ERROR_NO_SUCH_MAILBOX))
    ph_server_respond_error (self, msg, SOUP_STATUS_NOT_FOUND, "unknown-mailbox",
                             "Mailbox %u is closed: this server keeps its mailboxes across "
                             "restarts, so it opens no closed one again by number.",
                             pending->nameplate);
  else if (g_error_matches (error, PH_STORE_ERROR, PH_STORE_ERROR_UNAUTHORIZED))
    ph_server_respond_error (self, msg, SOUP_STATUS_CONFLICT, "nameplate-unavailable",
                             "Mailbox %u is already open for another chat.", pending->nameplate);
  else
    return FALSE;
  return TRUE;
}

static void
answer_open_elsewhere (PhRendezvousServer *self, SoupServerMessage *msg, const PhStoreReply *reply,
                       Pending *pending)
{
  ph_server_respond_error (self, msg, SOUP_STATUS_CONFLICT, "nameplate-unavailable",
                           "Mailbox %u is already open for another chat.", pending->nameplate);
}

/* PUT /v1/mailboxes/N: a host whose mailbox this server lost (it
 * restarted, on a store that loses state) opens the same number again, so
 * the code it showed stays good. Anyone may claim a free number, as anyone
 * may allocate the lowest one; an open one is nobody's to claim. The PAKE
 * keeps a claimer who is not the host from learning or forging anything.
 * A body is ignored. */
void
ph_server_handle_claim (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate)
{
  PhStoreRequest *request;
  const char *request_key;

  if (!read_request_key (self, msg, &request_key))
    return;

  if (ph_store_is_durable (self->store))
    {
      request = mailbox_request (msg, PH_STORE_OP_AUTHENTICATE, nameplate);
      request->has_secret = FALSE;
      ph_server_ask_store (self, msg, request, answer_open_elsewhere)->refused = refuse_reopening;
      return;
    }

  /* A claim that would open a mailbox counts as an allocation; one of a
   * number already open opens nothing, whatever its answer. The server's
   * own count of who opened what says which are open without asking the
   * store: on a store that is not durable, every open mailbox is one it
   * opened for a client. */
  if (!ph_server_quota_owns_mailbox (self, nameplate) && !ph_server_quota_allow_mailbox (self, msg))
    return;

  request = mailbox_request (msg, PH_STORE_OP_CLAIM, nameplate);
  request->has_secret = FALSE;
  ph_store_request_set_request_key (request, request_key);
  take_seat (self, msg, request);
}

/* Reads @post's phase and body into @request; otherwise sets
 * @out_refusal to what is wrong. */
static gboolean
read_message (const PhPost *post, PhStoreRequest *request, char **out_refusal)
{
  GBytes *body;

  if (!is_known_phase (post->phase))
    {
      *out_refusal = g_strdup ("\"phase\" must be one of pake, confirm, desc, cand, bye or batch.");
      return FALSE;
    }
  if (post->body == NULL || (body = ph_mailbox_decode_body (post->body)) == NULL)
    {
      *out_refusal = g_strdup ("\"body\" must be a base64 string.");
      return FALSE;
    }
  ph_store_request_set_message (request, post->phase, body);
  return TRUE;
}

/* Reads the JSON object of @msg's body, a message, into @request;
 * otherwise sets @out_refusal to what is wrong. */
static gboolean
read_post (SoupServerMessage *msg, PhStoreRequest *request, char **out_refusal)
{
  g_auto (PhPost) post = { 0 };
  g_autoptr (GBytes) data = NULL;
  g_autoptr (GError) error = NULL;
  const char *bytes;
  gsize size;

  data = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  bytes = g_bytes_get_data (data, &size);
  if (!ph_post_read (bytes, size, &post, &error))
    {
      *out_refusal = g_strdup (error->message);
      return FALSE;
    }
  return read_message (&post, request, out_refusal);
}

/* POST /v1/mailboxes/N/join: takes side 2. Without a body anyone who has
 * the number may, once; with {"phase":…,"body":…} only in the mailbox
 * whose first message that is (a joiner back after a restart). With
 * ?post=1 that body is instead the joiner's first message, posted once it
 * is seated: a round trip fewer. */
void
ph_server_handle_join (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate,
                       GHashTable *query)
{
  g_autoptr (PhStoreRequest) request = NULL;
  g_autoptr (PhStoreRequest) then = NULL;
  g_autofree char *refusal = NULL;
  const char *request_key;
  const char *post = query != NULL ? g_hash_table_lookup (query, "post") : NULL;
  gboolean has_body = soup_server_message_get_request_body (msg)->length > 0;
  Pending *pending;

  if (!read_request_key (self, msg, &request_key))
    return;

  request = mailbox_request (msg, PH_STORE_OP_JOIN, nameplate);
  request->has_secret = FALSE;
  ph_store_request_set_request_key (request, request_key);
  if (post != NULL && (!g_str_equal (post, "1") || !has_body))
    {
      ph_server_respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed",
                               "post=1 takes a message to post as the body.");
      return;
    }
  if (post != NULL)
    {
      then = ph_store_request_new (PH_STORE_OP_ADD_MESSAGE, nameplate);
      if (!read_post (msg, then, &refusal))
        {
          ph_server_respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed", "%s", refusal);
          return;
        }
    }
  else if (has_body && !read_post (msg, request, &refusal))
    {
      ph_server_respond_error (self, msg, SOUP_STATUS_BAD_REQUEST, "malformed", "%s", refusal);
      return;
    }
  if (!ph_server_quota_allow_join (self, msg))
    return;

  pending = take_seat (self, msg, g_steal_pointer (&request));
  pending->then = g_steal_pointer (&then);
  pending->request_key_set = request_key != NULL;
  if (request_key != NULL)
    ph_mailbox_secret_hash (request_key, pending->request_key_hash);
}

static void
answer_posted (PhRendezvousServer *self, SoupServerMessage *msg, const PhStoreReply *reply,
               Pending *pending)
{
  self->messages_posted++;
  set_etag (msg, reply);
  ph_server_respond_text (msg, SOUP_STATUS_CREATED,
                          g_strdup_printf ("{\"index\":%" G_GUINT64_FORMAT "}", reply->index));
}

/* The side is proven before a malformed body is told: a request without
 * one learns no more than whether the number is open. */
static void
refuse_after_authentication (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate,
                             char *refusal)
{
  PhStoreRequest *request = mailbox_request (msg, PH_STORE_OP_AUTHENTICATE, nameplate);

  ph_server_ask_store (self, msg, request, answer_refusal)->refusal = refusal;
}

void
ph_server_handle_post_message (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate)
{
  PhStoreRequest *request = mailbox_request (msg, PH_STORE_OP_ADD_MESSAGE, nameplate);
  char *refusal = NULL;

  if (!read_post (msg, request, &refusal))
    {
      ph_store_request_free (request);
      refuse_after_authentication (self, msg, nameplate, refusal);
      return;
    }
  ph_server_ask_store (self, msg, request, answer_posted);
}

static void
answer_messages (PhRendezvousServer *self, SoupServerMessage *msg, const PhStoreReply *reply,
                 Pending *pending)
{
  set_etag (msg, reply);
  ph_server_respond_text (msg, SOUP_STATUS_OK, ph_server_messages_json (reply->messages));
}

/* GET /v1/mailboxes/N/messages?after=I&wait=S: with a wait, a poll that
 * finds nothing new is held until a message comes or the hold ends. */
void
ph_server_handle_get_messages (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate,
                               GHashTable *query)
{
  PhStoreRequest *request;
  guint64 after;
  guint64 wait;

  if (!parse_uint_param (query, "after", G_MAXINT64, &after)
      || !parse_uint_param (query, "wait", PH_SERVER_MAX_WAIT_SECONDS, &wait))
    {
      refuse_after_authentication (
          self, msg, nameplate,
          g_strdup_printf ("\"after\" must be a message index and \"wait\" a number of seconds "
                           "from 0 to %u.",
                           PH_SERVER_MAX_WAIT_SECONDS));
      return;
    }

  request = mailbox_request (msg, PH_STORE_OP_FETCH, nameplate);
  request->after = after;
  if (wait == 0)
    ph_server_ask_store (self, msg, request, answer_messages);
  else
    ph_held_poll_start (self, msg, request, MIN ((guint)wait, self->max_hold));
}

static void
answer_left (PhRendezvousServer *self, SoupServerMessage *msg, const PhStoreReply *reply,
             Pending *pending)
{
  soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
}

void
ph_server_handle_leave (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate)
{
  ph_server_ask_store (self, msg, mailbox_request (msg, PH_STORE_OP_LEAVE, nameplate), answer_left);
}

static void
add_string_array (JsonBuilder *builder, const char *name, const char *const *strings)
{
  json_builder_set_member_name (builder, name);
  json_builder_begin_array (builder);
  for (guint i = 0; strings != NULL && strings[i] != NULL; i++)
    json_builder_add_string_value (builder, strings[i]);
  json_builder_end_array (builder);
}

static gboolean
has_turn (PhRendezvousServer *self)
{
  return self->turn_secret != NULL && self->turn_uris != NULL && self->turn_uris[0] != NULL;
}

static gboolean
has_stun (PhRendezvousServer *self)
{
  return self->stun_uris != NULL && self->stun_uris[0] != NULL;
}

/* {"stun":[…]} and, with @with_turn, the TURN servers and credentials
 * for them that last turn_ttl seconds. */
static void
respond_ice_servers (PhRendezvousServer *self, SoupServerMessage *msg, gboolean with_turn)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (builder);
  add_string_array (builder, "stun", (const char *const *)self->stun_uris);
  if (with_turn)
    {
      guint32 random_id;
      g_autofree char *id = NULL;
      gint64 expires_at = g_get_real_time () / G_USEC_PER_SEC + self->turn_ttl;
      g_autofree char *username = NULL;
      g_autofree char *credential = NULL;

      ph_mailbox_secret_random ((guint8 *)&random_id, sizeof random_id);
      id = g_strdup_printf ("%08x", random_id);
      username = ph_turn_credentials_make_username (expires_at, id);
      credential = ph_turn_credentials_make_credential (self->turn_secret, username);
      add_string_array (builder, "turn", (const char *const *)self->turn_uris);
      json_builder_set_member_name (builder, "username");
      json_builder_add_string_value (builder, username);
      json_builder_set_member_name (builder, "credential");
      json_builder_add_string_value (builder, credential);
      json_builder_set_member_name (builder, "ttl");
      json_builder_add_int_value (builder, self->turn_ttl);
    }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);

  ph_server_respond_text (msg, SOUP_STATUS_OK, json_to_string (root, FALSE));
}

static void
respond_not_configured (PhRendezvousServer *self, SoupServerMessage *msg)
{
  ph_server_respond_error (self, msg, SOUP_STATUS_NOT_FOUND, "turn-not-configured",
                           "This rendezvous server offers no STUN or TURN servers.");
}

/* GET /v1/turn: the STUN servers, for anyone (a NAT check needs no
 * mailbox, and STUN relays nothing). TURN credentials are only for the
 * sides of an open mailbox: an open relay would carry anyone's traffic. */
void
ph_server_handle_turn (PhRendezvousServer *self, SoupServerMessage *msg)
{
  if (!has_stun (self) && !has_turn (self))
    {
      respond_not_configured (self, msg);
      return;
    }
  respond_ice_servers (self, msg, FALSE);
}

/* The side is proven, and counted when there are TURN credentials to
 * hand out. */
static void
answer_mailbox_turn (PhRendezvousServer *self, SoupServerMessage *msg, const PhStoreReply *reply,
                     Pending *pending)
{
  if (!has_stun (self) && !has_turn (self))
    {
      respond_not_configured (self, msg);
      return;
    }
  if (pending->op == PH_STORE_OP_COUNT_TURN && !reply->turn_granted)
    {
      g_autofree char *seconds = g_strdup_printf ("%u", reply->retry_after);

      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
                                    seconds);
      ph_server_respond_error (self, msg, PH_SERVER_STATUS_TOO_MANY_REQUESTS, "turn-quota",
                               "This side of mailbox %u has had its %u sets of TURN credentials "
                               "for now; try again in %u seconds.",
                               pending->nameplate, self->turn_quota, reply->retry_after);
      return;
    }
  respond_ice_servers (self, msg, has_turn (self));
}

/* GET /v1/mailboxes/N/turn: STUN and TURN for a side of the mailbox, at
 * most turn_quota sets of credentials per side in turn_ttl seconds: enough
 * to renew them as a chat goes on, too few to run a relay for others. */
void
ph_server_handle_mailbox_turn (PhRendezvousServer *self, SoupServerMessage *msg, guint nameplate)
{
  PhStoreRequest *request = mailbox_request (
      msg, has_turn (self) ? PH_STORE_OP_COUNT_TURN : PH_STORE_OP_AUTHENTICATE, nameplate);

  request->quota = self->turn_quota;
  request->window_seconds = self->turn_ttl;
  ph_server_ask_store (self, msg, request, answer_mailbox_turn);
}

void
ph_server_handle_health (PhRendezvousServer *self, SoupServerMessage *msg)
{
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, HEALTH_JSON,
                                    strlen (HEALTH_JSON));
}
