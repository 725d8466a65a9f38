/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-rendezvous-client"

#include "config.h"

#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <sodium.h>
#include <string.h>

#include "ph-error.h"
#include "ph-mailbox-format.h"
#include "ph-meeting-point.h"
#include "ph-rendezvous-answer.h"
#include "ph-rendezvous-client.h"
#include "ph-rendezvous-http.h"

/* How long past the server's own hold a fetch may take before the server
 * counts as unreachable. */
#define FETCH_MARGIN_SECONDS 15
#define MAX_FETCH_WAIT_SECONDS 60
/* Random bytes of an Idempotency-Key. */
#define REQUEST_KEY_BYTES 16

/* Each endpoint builds its request, PhRendezvousHttp sends it, and
 * ph-rendezvous-answer reads what came back. */
struct _PhRendezvousClient
{
  GObject parent_instance;

  PhRendezvousHttp *http;
  /* nameplate → the Idempotency-Key of a claim or join tried and not yet
   * answered, so that trying again is the same request. */
  GHashTable *request_keys;
};

G_DEFINE_FINAL_TYPE (PhRendezvousClient, ph_rendezvous_client, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_BASE_URL,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* What a _finish needs to know about its request to read the answer. */
typedef struct
{
  char *nameplate;
  guint64 after;
  /* A wait: the ids of its points, and the index after which each reads. */
  GStrv ids;
  guint64 *afters;
} Call;

static void
call_free (Call *call)
{
  g_free (call->nameplate);
  g_strfreev (call->ids);
  g_free (call->afters);
  g_free (call);
}

static void
ph_rendezvous_client_finalize (GObject *object)
{
  PhRendezvousClient *self = PH_RENDEZVOUS_CLIENT (object);

  g_clear_object (&self->http);
  g_clear_pointer (&self->request_keys, g_hash_table_unref);

  G_OBJECT_CLASS (ph_rendezvous_client_parent_class)->finalize (object);
}

static void
ph_rendezvous_client_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PhRendezvousClient *self = PH_RENDEZVOUS_CLIENT (object);

  switch (prop_id)
    {
    case PROP_BASE_URL:
      g_value_set_string (value, ph_rendezvous_client_get_base_url (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_rendezvous_client_set_property (GObject *object, guint prop_id, const GValue *value,
                                   GParamSpec *pspec)
{
  PhRendezvousClient *self = PH_RENDEZVOUS_CLIENT (object);

  switch (prop_id)
    {
    case PROP_BASE_URL:
      g_return_if_fail (g_value_get_string (value) != NULL);
      self->http = ph_rendezvous_http_new (g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_rendezvous_client_class_init (PhRendezvousClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ph_rendezvous_client_finalize;
  object_class->get_property = ph_rendezvous_client_get_property;
  object_class->set_property = ph_rendezvous_client_set_property;

  properties[PROP_BASE_URL]
      = g_param_spec_string ("base-url", NULL, NULL, NULL,
                             G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS
                                 | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ph_rendezvous_client_init (PhRendezvousClient *self)
{
  if (sodium_init () < 0)
    g_error ("libsodium could not be initialised");

  self->request_keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

PhRendezvousClient *
ph_rendezvous_client_new (const char *base_url, GError **error)
{
  g_autoptr (GUri) uri = NULL;
  const char *scheme;

  g_return_val_if_fail (base_url != NULL, NULL);

  uri = g_uri_parse (base_url, G_URI_FLAGS_NONE, NULL);
  scheme = uri != NULL ? g_uri_get_scheme (uri) : NULL;
  if (uri == NULL
      || (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0)
      || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0'
      || g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL
      || g_uri_get_userinfo (uri) != NULL)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS_UNREACHABLE,
                   /* Translators: %s is the server address as typed. */
                   _ ("“%s” is not a rendezvous server address; use an http:// or https:// URL "
                      "such as http://127.0.0.1:8470."),
                   base_url);
      return NULL;
    }

  return g_object_new (PH_TYPE_RENDEZVOUS_CLIENT, "base-url", base_url, NULL);
}

PhRendezvousClient *
ph_rendezvous_client_new_sharing (PhRendezvousClient *other)
{
  PhRendezvousClient *self;

  g_return_val_if_fail (PH_IS_RENDEZVOUS_CLIENT (other), NULL);

  self = g_object_new (PH_TYPE_RENDEZVOUS_CLIENT, "base-url",
                       ph_rendezvous_client_get_base_url (other), NULL);
  ph_rendezvous_http_share_connections (self->http, other->http);
  return self;
}

const char *
ph_rendezvous_client_get_base_url (PhRendezvousClient *self)
{
  g_return_val_if_fail (PH_IS_RENDEZVOUS_CLIENT (self), NULL);

  return ph_rendezvous_http_get_base_url (self->http);
}

static void
sent_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;
  PhRendezvousResponse *response;

  response = ph_rendezvous_http_send_finish (PH_RENDEZVOUS_HTTP (source), result, &error);
  if (response == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, response, (GDestroyNotify)ph_rendezvous_response_free);
}

/* Starts @request for a task of @source_tag; @nameplate and @after are
 * kept for its _finish. */
static void
send_request (PhRendezvousClient *self, const PhRendezvousRequest *request, gpointer source_tag,
              guint64 after, GCancellable *cancellable, GAsyncReadyCallback callback,
              gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  Call *call = g_new0 (Call, 1);

  g_task_set_source_tag (task, source_tag);
  call->nameplate = g_strdup (request->mailbox);
  call->after = after;
  g_task_set_task_data (task, call, (GDestroyNotify)call_free);

  ph_rendezvous_http_send_async (self->http, request, cancellable, sent_cb, task);
}

/* Fails @source_tag's task at once with @message (a programming error of
 * the caller that a person may still have caused, such as a damaged
 * contact file). */
static void
fail_request (PhRendezvousClient *self, gpointer source_tag, const char *message,
              GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (self, NULL, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s", message);
}

/* The answer of a request started by send_request(), or NULL with @error
 * set; @out_call tells what the request was. */
static PhRendezvousResponse *
propagate_response (PhRendezvousClient *self, GAsyncResult *result, gpointer source_tag,
                    Call **out_call, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, NULL);

  if (out_call != NULL)
    *out_call = g_task_get_task_data (G_TASK (result));
  return g_task_propagate_pointer (G_TASK (result), error);
}

static const char *
response_data (PhRendezvousResponse *response, gsize *out_length)
{
  return g_bytes_get_data (response->body, out_length);
}

static char *
mailbox_path (const char *nameplate, const char *suffix)
{
  g_autofree char *escaped = g_uri_escape_string (nameplate, NULL, FALSE);

  return g_strconcat ("/v1/mailboxes/", escaped, suffix, NULL);
}

void
ph_rendezvous_client_allocate_async (PhRendezvousClient *self, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  PhRendezvousRequest request = {
    .method = SOUP_METHOD_POST,
    .path = "/v1/mailboxes",
    .expected_status = SOUP_STATUS_CREATED,
  };

  g_return_if_fail (PH_IS_RENDEZVOUS_CLIENT (self));

  send_request (self, &request, ph_rendezvous_client_allocate_async, 0, cancellable, callback,
                user_data);
}

char *
ph_rendezvous_client_allocate_finish (PhRendezvousClient *self, GAsyncResult *result,
                                      guint *out_expires_in, GError **error)
{
  g_autoptr (PhRendezvousResponse) response = NULL;
  g_autofree char *nameplate = NULL;
  char *secret = NULL;
  const char *data;
  gsize length;

  g_return_val_if_fail (PH_IS_RENDEZVOUS_CLIENT (self), NULL);

  response = propagate_response (self, result, ph_rendezvous_client_allocate_async, NULL, error);
  if (response == NULL)
    return NULL;

  data = response_data (response, &length);
  nameplate = ph_rendezvous_answer_parse_allocate (ph_rendezvous_client_get_base_url (self), data,
                                                   length, out_expires_in, &secret, error);
  if (nameplate == NULL)
    return NULL;

  /* The request named no mailbox: the tag is for the one it opened. */
  ph_rendezvous_http_remember_tag (self->http, nameplate, response->etag);
  ph_rendezvous_http_remember_secret (self->http, nameplate, secret);
  sodium_memzero (secret, strlen (secret));
  g_free (secret);
  return g_steal_pointer (&nameplate);
}

/* The Idempotency-Key for taking a seat in @nameplate: the same until an
 * answer comes, so that a request tried again after a lost answer is known
 * for a repeat. */
static const char *
request_key_for (PhRendezvousClient *self, const char *nameplate)
{
  guint8 bytes[REQUEST_KEY_BYTES];
  char *key = g_hash_table_lookup (self->request_keys, nameplate);

  if (key != NULL)
    return key;
  randombytes_buf (bytes, sizeof bytes);
  key = g_malloc (2 * sizeof bytes + 1);
  sodium_bin2hex (key, 2 * sizeof bytes + 1, bytes, sizeof bytes);
  g_hash_table_insert (self->request_keys, g_strdup (nameplate), key);
  return key;
}

/* Starts a claim or join of @nameplate: whatever we knew about the number
 * is about a mailbox that is gone. */
static void
take_seat (PhRendezvousClient *self, const char *method, const char *nameplate, const char *suffix,
           JsonNode *body, gpointer source_tag, GCancellable *cancellable,
           GAsyncReadyCallback callback, gpointer user_data)
{
  g_autofree char *path = mailbox_path (nameplate, suffix);
  PhRendezvousRequest request = {
    .method = method,
    .path = path,
    .body = body,
    .mailbox = nameplate,
    /* About whatever is open under the number now. */
    .conditional = FALSE,
    /* Taken again after its answer was lost: 200 rather than 201. */
    .expected_status = 0,
  };

  ph_rendezvous_http_forget_tag (self->http, nameplate);
  ph_rendezvous_http_forget_secret (self->http, nameplate);
  request.idempotency_key = request_key_for (self, nameplate);
  send_request (self, &request, source_tag, 0, cancellable, callback, user_data);
}

/* The secret of a claim or join, remembered; FALSE with @error when the
 * request or its answer failed. */
static gboolean
finish_seat (PhRendezvousClient *self, GAsyncResult *result, gpointer source_tag,
             char *(*parse) (const char *, const char *, gsize, const char *, GError **),
             guint64 *out_posted_index, GError **error)
{
  g_autoptr (PhRendezvousResponse) response = NULL;
  GError *local_error = NULL;
  const char *data;
  gsize length;
  char *secret;
  Call *call;

  response = propagate_response (self, result, source_tag, &call, &local_error);
  /* A definite answer ends the request; only an unanswered one is tried
   * again under the same key. */
  if (response != NULL || !g_error_matches (local_error, PH_ERROR, PH_ERROR_RENDEZVOUS_UNREACHABLE))
    g_hash_table_remove (self->request_keys, call->nameplate);
  if (response == NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }

  data = response_data (response, &length);
  secret = parse (ph_rendezvous_client_get_base_url (self), data, length, call->nameplate, error);
  if (secret == NULL)
    return FALSE;
  ph_rendezvous_http_remember_secret (self->http, call->nameplate, secret);
  sodium_memzero (secret, strlen (secret));
  g_free (secret);
  /* A join that posted says where its message went; a repeat does not. */
  if (out_posted_index != NULL
      && !ph_rendezvous_answer_parse_post (ph_rendezvous_client_get_base_url (self), data, length,
                                           out_posted_index, NULL))
    *out_posted_index = 0;
  return TRUE;
}

void
ph_rendezvous_client_claim_async (PhRendezvousClient *self, const char *nameplate,
                                  GCancellable *cancellable, GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  g_return_if_fail (PH_IS_RENDEZVOUS_CLIENT (self));
  g_return_if_fail (nameplate != NULL);

  take_seat (self, SOUP_METHOD_PUT, nameplate, "", NULL, ph_rendezvous_client_claim_async,
             cancellable, callback, user_data);
}

gboolean
ph_rendezvous_client_claim_finish (PhRendezvousClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PH_IS_RENDEZVOUS_CLIENT (self), FALSE);

  return finish_seat (self, result, ph_rendezvous_client_claim_async,
                      ph_rendezvous_answer_parse_claim, NULL, error);
}

static JsonNode *
message_payload (const char *phase, GBytes *body)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autofree char *encoded = NULL;
  const guchar *data;
  gsize size;

  data = g_bytes_get_data (body, &size);
  encoded = g_base64_encode (data, size);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "phase");
  json_builder_add_string_value (builder, phase);
  json_builder_set_member_name (builder, "body");
  json_builder_add_string_value (builder, encoded);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

void
ph_rendezvous_client_join_async (PhRendezvousClient *self, const char *nameplate,
                                 const char *first_phase, GBytes *first_body,
                                 GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  g_autoptr (JsonNode) payload = NULL;

  g_return_if_fail (PH_IS_RENDEZVOUS_CLIENT (self));
  g_return_if_fail (nameplate != NULL);
  g_return_if_fail ((first_phase == NULL) == (first_body == NULL));

  if (first_phase != NULL)
    payload = message_payload (first_phase, first_body);
  take_seat (self, SOUP_METHOD_POST, nameplate, "/join", payload, ph_rendezvous_client_join_async,
             cancellable, callback, user_data);
}

gboolean
ph_rendezvous_client_join_finish (PhRendezvousClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PH_IS_RENDEZVOUS_CLIENT (self), FALSE);

  return finish_seat (self, result, ph_rendezvous_client_join_async,
                      ph_rendezvous_answer_parse_join, NULL, error);
}

void
ph_rendezvous_client_join_and_post_async (PhRendezvousClient *self, const char *nameplate,
                                          const char *phase, GBytes *body,
                                          GCancellable *cancellable, GAsyncReadyCallback callback,
                                          gpointer user_data)
{
  g_autoptr (JsonNode) payload = NULL;

  g_return_if_fail (PH_IS_RENDEZVOUS_CLIENT (self));
  g_return_if_fail (nameplate != NULL && phase != NULL && body != NULL);

  payload = message_payload (phase, body);
  take_seat (self, SOUP_METHOD_POST, nameplate, "/join?post=1", payload,
             ph_rendezvous_client_join_and_post_async, cancellable, callback, user_data);
}

gboolean
ph_rendezvous_client_join_and_post_finish (PhRendezvousClient *self, GAsyncResult *result,
                                           guint64 *out_index, GError **error)
{
  g_return_val_if_fail (PH_IS_RENDEZVOUS_CLIENT (self), FALSE);
  g_return_val_if_fail (out_index != NULL, FALSE);

  return finish_seat (self, result, ph_rendezvous_client_join_and_post_async,
                      ph_rendezvous_answer_parse_join, out_index, error);
}

void
ph_rendezvous_client_forget_mailbox (PhRendezvousClient *self, const char *nameplate)
{
  g_return_if_fail (PH_IS_RENDEZVOUS_CLIENT (self));
  g_return_if_fail (nameplate != NULL);

  ph_rendezvous_http_forget_tag (self->http, nameplate);
  ph_rendezvous_http_forget_secret (self->http, nameplate);
  g_hash_table_remove (self->request_keys, nameplate);
}

void
ph_rendezvous_client_post_async (PhRendezvousClient *self, const char *nameplate, const char *phase,
                                 GBytes *body, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (JsonNode) payload = NULL;
  g_autofree char *path = NULL;
  PhRendezvousRequest request = {
    .method = SOUP_METHOD_POST,
    .mailbox = nameplate,
    .conditional = TRUE,
    .authenticated = TRUE,
    .expected_status = SOUP_STATUS_CREATED,
  };

  g_return_if_fail (PH_IS_RENDEZVOUS_CLIENT (self));
  g_return_if_fail (nameplate != NULL);
  g_return_if_fail (phase != NULL);
  g_return_if_fail (body != NULL);

  payload = message_payload (phase, body);
  path = mailbox_path (nameplate, "/messages");
  request.path = path;
  request.body = payload;

  send_request (self, &request, ph_rendezvous_client_post_async, 0, cancellable, callback,
                user_data);
}

/* Both posts answer with the index the message got. */
static gboolean
finish_post (PhRendezvousClient *self, GAsyncResult *result, gpointer source_tag,
             guint64 *out_index, GError **error)
{
  g_autoptr (PhRendezvousResponse) response = NULL;
  const char *data;
  gsize length;

  g_return_val_if_fail (PH_IS_RENDEZVOUS_CLIENT (self), FALSE);

  response = propagate_response (self, result, source_tag, NULL, error);
  if (response == NULL)
    return FALSE;

  data = response_data (response, &length);
  return ph_rendezvous_answer_parse_post (ph_rendezvous_client_get_base_url (self), data, length,
                                          out_index, error);
}

gboolean
ph_rendezvous_client_post_finish (PhRendezvousClient *self, GAsyncResult *result,
                                  guint64 *out_index, GError **error)
{
  return finish_post (self, result, ph_rendezvous_client_post_async, out_index, error);
}

void
ph_rendezvous_client_fetch_async (PhRendezvousClient *self, const char *nameplate, guint64 after,
                                  guint wait_seconds, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  g_autofree char *base = NULL;
  g_autofree char *path = NULL;
  PhRendezvousRequest request = {
    .method = SOUP_METHOD_GET,
    .mailbox = nameplate,
    .conditional = TRUE,
    .authenticated = TRUE,
    .expected_status = SOUP_STATUS_OK,
    .timeout_seconds = wait_seconds + FETCH_MARGIN_SECONDS,
  };

  g_return_if_fail (PH_IS_RENDEZVOUS_CLIENT (self));
  g_return_if_fail (nameplate != NULL);
  g_return_if_fail (wait_seconds <= MAX_FETCH_WAIT_SECONDS);

  base = mailbox_path (nameplate, "/messages");
  path = g_strdup_printf ("%s?after=%" G_GUINT64_FORMAT "&wait=%u", base, after, wait_seconds);
  request.path = path;

  send_request (self, &request, ph_rendezvous_client_fetch_async, after, cancellable, callback,
                user_data);
}

GPtrArray *
ph_rendezvous_client_fetch_finish (PhRendezvousClient *self, GAsyncResult *result, GError **error)
{
  g_autoptr (PhRendezvousResponse) response = NULL;
  const char *data;
  gsize length;
  Call *call;

  g_return_val_if_fail (PH_IS_RENDEZVOUS_CLIENT (self), NULL);

  response = propagate_response (self, result, ph_rendezvous_client_fetch_async, &call, error);
  if (response == NULL)
    return NULL;

  data = response_data (response, &length);
  return ph_rendezvous_answer_parse_fetch (ph_rendezvous_client_get_base_url (self), data, length,
                                           call->after, error);
}

void
ph_rendezvous_client_leave_async (PhRendezvousClient *self, const char *nameplate,
                                  GCancellable *cancellable, GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  g_autofree char *path = NULL;
  PhRendezvousRequest request = {
    .method = SOUP_METHOD_DELETE,
    .mailbox = nameplate,
    .conditional = TRUE,
    .authenticated = TRUE,
    .expected_status = SOUP_STATUS_NO_CONTENT,
  };

  g_return_if_fail (PH_IS_RENDEZVOUS_CLIENT (self));
  g_return_if_fail (nameplate != NULL);

  path = mailbox_path (nameplate, "");
  request.path = path;

  send_request (self, &request, ph_rendezvous_client_leave_async, 0, cancellable, callback,
                user_data);
}

gboolean
ph_rendezvous_client_leave_finish (PhRendezvousClient *self, GAsyncResult *result, GError **error)
{
  g_autoptr (PhRendezvousResponse) response = NULL;
  Call *call;

  g_return_val_if_fail (PH_IS_RENDEZVOUS_CLIENT (self), FALSE);

  response = propagate_response (self, result, ph_rendezvous_client_leave_async, &call, error);
  if (response == NULL)
    return FALSE;
  ph_rendezvous_client_forget_mailbox (self, call->nameplate);
  return TRUE;
}

void
ph_rendezvous_client_get_turn_async (PhRendezvousClient *self, const char *nameplate,
                                     GCancellable *cancellable, GAsyncReadyCallback callback,
                                     gpointer user_data)
{
  g_autofree char *path = NULL;
  PhRendezvousRequest request = {
    .method = SOUP_METHOD_GET,
    .path = "/v1/turn",
    .mailbox = nameplate,
    .conditional = nameplate != NULL,
    .authenticated = nameplate != NULL,
    .expected_status = SOUP_STATUS_OK,
  };

  g_return_if_fail (PH_IS_RENDEZVOUS_CLIENT (self));

  if (nameplate != NULL)
    {
      path = mailbox_path (nameplate, "/turn");
      request.path = path;
    }
  send_request (self, &request, ph_rendezvous_client_get_turn_async, 0, cancellable, callback,
                user_data);
}

PhTurnInfo *
ph_rendezvous_client_get_turn_finish (PhRendezvousClient *self, GAsyncResult *result,
                                      GError **error)
{
  g_autoptr (PhRendezvousResponse) response = NULL;
  const char *data;
  gsize length;

  g_return_val_if_fail (PH_IS_RENDEZVOUS_CLIENT (self), NULL);

  response = propagate_response (self, result, ph_rendezvous_client_get_turn_async, NULL, error);
  if (response == NULL)
    return NULL;

  data = response_data (response, &length);
  return ph_rendezvous_answer_parse_turn (ph_rendezvous_client_get_base_url (self), data, length,
                                          error);
}

/* Meeting points */

static JsonNode *
point_payload (const char *side, const char *phase, GBytes *body)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autofree char *encoded = NULL;
  const guchar *data;
  gsize size;

  data = g_bytes_get_data (body, &size);
  encoded = g_base64_encode (data, size);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "side");
  json_builder_add_string_value (builder, side);
  if (phase != NULL)
    {
      json_builder_set_member_name (builder, "phase");
      json_builder_add_string_value (builder, phase);
    }
  json_builder_set_member_name (builder, "body");
  json_builder_add_string_value (builder, encoded);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

/* /v1/meet/<id of @key><suffix>; NULL when @key is not one. */
static char *
point_path (const char *key, const char *suffix)
{
  char id[PH_MEETING_POINT_ID_LENGTH + 1];

  if (!ph_meeting_point_id_from_key (key, id))
    return NULL;
  return g_strconcat ("/v1/meet/", id, suffix, NULL);
}

void
ph_rendezvous_client_meet_wait_async (PhRendezvousClient *self, const PhMeetingPointCursor *points,
                                      guint n_points, guint wait_seconds, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) payload = NULL;
  g_autoptr (GTask) task = NULL;
  PhRendezvousRequest request = {
    .method = SOUP_METHOD_POST,
    .path = "/v1/meet/wait",
    .expected_status = SOUP_STATUS_OK,
    .timeout_seconds = wait_seconds + FETCH_MARGIN_SECONDS,
  };
  Call *call;

  g_return_if_fail (PH_IS_RENDEZVOUS_CLIENT (self));
  g_return_if_fail (points != NULL || n_points == 0);
  g_return_if_fail (n_points <= PH_MEETING_POINT_MAX_WAIT);
  g_return_if_fail (wait_seconds <= MAX_FETCH_WAIT_SECONDS);

  call = g_new0 (Call, 1);
  call->ids = g_new0 (char *, n_points + 1);
  call->afters = g_new0 (guint64, MAX (n_points, 1));
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "wait");
  json_builder_add_int_value (builder, wait_seconds);
  json_builder_set_member_name (builder, "points");
  json_builder_begin_array (builder);
  for (guint i = 0; i < n_points; i++)
    {
      call->ids[i] = g_malloc (PH_MEETING_POINT_ID_LENGTH + 1);
      if (!ph_meeting_point_id_from_key (points[i].key, call->ids[i])
          || ph_meeting_point_parse_side (points[i].side) == 0 || points[i].after > G_MAXINT64)
        {
          call_free (call);
          fail_request (self, ph_rendezvous_client_meet_wait_async,
                        "A meeting point to wait at needs a key of 64 lower-case hex digits, "
                        "a side of \"1\" or \"2\" and an index.",
                        callback, user_data);
          return;
        }
      call->afters[i] = points[i].after;
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "key");
      json_builder_add_string_value (builder, points[i].key);
      json_builder_set_member_name (builder, "side");
      json_builder_add_string_value (builder, points[i].side);
      json_builder_set_member_name (builder, "after");
      json_builder_add_int_value (builder, (gint64)points[i].after);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  payload = json_builder_get_root (builder);
  request.body = payload;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ph_rendezvous_client_meet_wait_async);
  g_task_set_task_data (task, call, (GDestroyNotify)call_free);
  ph_rendezvous_http_send_async (self->http, &request, cancellable, sent_cb,
                                 g_steal_pointer (&task));
}

GPtrArray *
ph_rendezvous_client_meet_wait_finish (PhRendezvousClient *self, GAsyncResult *result,
                                       GError **error)
{
  g_autoptr (PhRendezvousResponse) response = NULL;
  const char *data;
  gsize length;
  Call *call;

  g_return_val_if_fail (PH_IS_RENDEZVOUS_CLIENT (self), NULL);

  response = propagate_response (self, result, ph_rendezvous_client_meet_wait_async, &call, error);
  if (response == NULL)
    return NULL;

  data = response_data (response, &length);
  return ph_rendezvous_answer_parse_meet_wait (ph_rendezvous_client_get_base_url (self), data,
                                               length, (const char *const *)call->ids, call->afters,
                                               g_strv_length (call->ids), error);
}

/* Sends a request about the point of @key, or fails at once when @key is
 * not one. */
static void
send_point_request (PhRendezvousClient *self, const char *method, const char *key,
                    const char *suffix, JsonNode *payload, guint expected_status,
                    gpointer source_tag, guint64 after, GCancellable *cancellable,
                    GAsyncReadyCallback callback, gpointer user_data)
{
  g_autofree char *path = point_path (key, suffix);
  PhRendezvousRequest request = {
    .method = method,
    .path = path,
    .body = payload,
    .bearer = key,
    .expected_status = expected_status,
  };

  if (path == NULL)
    {
      fail_request (self, source_tag, "A meeting point's key is 64 lower-case hex digits.",
                    callback, user_data);
      return;
    }
  send_request (self, &request, source_tag, after, cancellable, callback, user_data);
}

void
ph_rendezvous_client_meet_post_async (PhRendezvousClient *self, const char *key, const char *side,
                                      const char *phase, GBytes *body, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (JsonNode) payload = NULL;

  g_return_if_fail (PH_IS_RENDEZVOUS_CLIENT (self));
  g_return_if_fail (side != NULL && phase != NULL && body != NULL);

  payload = point_payload (side, phase, body);
  send_point_request (self, SOUP_METHOD_POST, key, "/messages", payload, SOUP_STATUS_CREATED,
                      ph_rendezvous_client_meet_post_async, 0, cancellable, callback, user_data);
}

gboolean
ph_rendezvous_client_meet_post_finish (PhRendezvousClient *self, GAsyncResult *result,
                                       guint64 *out_index, GError **error)
{
  return finish_post (self, result, ph_rendezvous_client_meet_post_async, out_index, error);
}

void
ph_rendezvous_client_store_copy_async (PhRendezvousClient *self, const char *key, const char *side,
                                       GBytes *body, GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (JsonNode) payload = NULL;

  g_return_if_fail (PH_IS_RENDEZVOUS_CLIENT (self));
  g_return_if_fail (side != NULL && body != NULL);

  payload = point_payload (side, NULL, body);
  send_point_request (self, SOUP_METHOD_POST, key, "/stored", payload, SOUP_STATUS_CREATED,
                      ph_rendezvous_client_store_copy_async, 0, cancellable, callback, user_data);
}

gboolean
ph_rendezvous_client_store_copy_finish (PhRendezvousClient *self, GAsyncResult *result,
                                        guint64 *out_index, guint *out_expires_in, GError **error)
{
  g_autoptr (PhRendezvousResponse) response = NULL;
  const char *data;
  gsize length;

  g_return_val_if_fail (PH_IS_RENDEZVOUS_CLIENT (self), FALSE);

  response = propagate_response (self, result, ph_rendezvous_client_store_copy_async, NULL, error);
  if (response == NULL)
    return FALSE;

  data = response_data (response, &length);
  return ph_rendezvous_answer_parse_stored (ph_rendezvous_client_get_base_url (self), data, length,
                                            out_index, out_expires_in, error);
}

void
ph_rendezvous_client_fetch_copies_async (PhRendezvousClient *self, const char *key, guint64 after,
                                         GCancellable *cancellable, GAsyncReadyCallback callback,
                                         gpointer user_data)
{
  g_autofree char *suffix = NULL;

  g_return_if_fail (PH_IS_RENDEZVOUS_CLIENT (self));
  g_return_if_fail (after <= G_MAXINT64);

  suffix = g_strdup_printf ("/stored?after=%" G_GUINT64_FORMAT, after);
  send_point_request (self, SOUP_METHOD_GET, key, suffix, NULL, SOUP_STATUS_OK,
                      ph_rendezvous_client_fetch_copies_async, after, cancellable, callback,
                      user_data);
}

GPtrArray *
ph_rendezvous_client_fetch_copies_finish (PhRendezvousClient *self, GAsyncResult *result,
                                          GError **error)
{
  g_autoptr (PhRendezvousResponse) response = NULL;
  const char *data;
  gsize length;
  Call *call;

  g_return_val_if_fail (PH_IS_RENDEZVOUS_CLIENT (self), NULL);

  response
      = propagate_response (self, result, ph_rendezvous_client_fetch_copies_async, &call, error);
  if (response == NULL)
    return NULL;

  data = response_data (response, &length);
  return ph_rendezvous_answer_parse_copies (ph_rendezvous_client_get_base_url (self), data, length,
                                            call->after, error);
}

void
ph_rendezvous_client_delete_copy_async (PhRendezvousClient *self, const char *key, guint64 index,
                                        GCancellable *cancellable, GAsyncReadyCallback callback,
                                        gpointer user_data)
{
  g_autofree char *suffix = NULL;

  g_return_if_fail (PH_IS_RENDEZVOUS_CLIENT (self));
  g_return_if_fail (index >= 1 && index <= G_MAXINT64);

  suffix = g_strdup_printf ("/stored/%" G_GUINT64_FORMAT, index);
  send_point_request (self, SOUP_METHOD_DELETE, key, suffix, NULL, SOUP_STATUS_NO_CONTENT,
                      ph_rendezvous_client_delete_copy_async, 0, cancellable, callback, user_data);
}

gboolean
ph_rendezvous_client_delete_copy_finish (PhRendezvousClient *self, GAsyncResult *result,
                                         GError **error)
{
  g_autoptr (PhRendezvousResponse) response = NULL;

  g_return_val_if_fail (PH_IS_RENDEZVOUS_CLIENT (self), FALSE);

  response = propagate_response (self, result, ph_rendezvous_client_delete_copy_async, NULL, error);
  return response != NULL;
}
