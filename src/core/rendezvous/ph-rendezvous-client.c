/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-rendezvous-client"

#include "config.h"

#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "ph-error.h"
#include "ph-mailbox-format.h"
#include "ph-rendezvous-client.h"

/* A long-poll must be able to wait while the same peer posts: libsoup's
 * default of two connections per host is too few. */
#define MAX_CONNS_PER_HOST 8
/* How long past the server's own hold a fetch may take before the server
 * counts as unreachable, and how long any other request may take. */
#define FETCH_MARGIN_SECONDS 15
#define REQUEST_TIMEOUT_SECONDS 30
/* Bounds what a broken or hostile server can make a client hold in memory:
 * a full mailbox of the largest messages fits well below it. */
#define MAX_RESPONSE_BYTES (32 * 1024 * 1024)
#define READ_CHUNK_BYTES 16384
#define MAX_SERVER_SENTENCE 512
/* A busy server (429, 503) says when to come back; we do, a few times,
 * as long as it asks for a short wait. */
#define MAX_RETRIES 4
#define HTTP_TOO_MANY_REQUESTS 429 /* not named in libsoup 3.2 */
#define MAX_RETRY_AFTER_SECONDS 10
/* Ours are 18 bytes with the quotes; anything much longer is not a tag. */
#define MAX_TAG_LENGTH 64

struct _PhRendezvousClient
{
  GObject parent_instance;

  char *base_url; /* without a trailing slash */
  SoupSession *session;
  GHashTable *tags; /* nameplate → ETag of the mailbox it named */
};

G_DEFINE_FINAL_TYPE (PhRendezvousClient, ph_rendezvous_client, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_BASE_URL,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

typedef struct
{
  char *nameplate;      /* NULL unless the request is about a mailbox */
  gboolean conditional; /* sends the mailbox's tag, if known */
  guint expected_status;
  guint64 after; /* for fetches: every message must be newer */
  guint timeout_seconds;
  gboolean timed_out;
  SoupMessage *msg;
  GCancellable *cancellable;
  GCancellable *caller_cancellable;
  gulong caller_cancelled_id;
  GSource *timeout_source;
  GByteArray *body;
  char *method;
  char *url;
  GBytes *payload;
  guint retries;
  guint retry_id;
} Request;

void
ph_mailbox_message_free (PhMailboxMessage *message)
{
  if (message == NULL)
    return;

  g_free (message->side);
  g_free (message->phase);
  g_clear_pointer (&message->body, g_bytes_unref);
  g_free (message);
}

void
ph_turn_info_free (PhTurnInfo *info)
{
  if (info == NULL)
    return;

  g_strfreev (info->stun_uris);
  g_strfreev (info->turn_uris);
  g_free (info->username);
  g_free (info->credential);
  g_free (info);
}

static void
request_free (Request *request)
{
  if (request->caller_cancellable != NULL)
    g_cancellable_disconnect (request->caller_cancellable, request->caller_cancelled_id);
  g_clear_object (&request->caller_cancellable);
  if (request->timeout_source != NULL)
    g_source_destroy (request->timeout_source);
  g_clear_pointer (&request->timeout_source, g_source_unref);
  g_clear_object (&request->cancellable);
  g_clear_object (&request->msg);
  g_clear_pointer (&request->body, g_byte_array_unref);
  g_clear_handle_id (&request->retry_id, g_source_remove);
  g_clear_pointer (&request->payload, g_bytes_unref);
  g_free (request->method);
  g_free (request->url);
  g_free (request->nameplate);
  g_free (request);
}

static void
ph_rendezvous_client_finalize (GObject *object)
{
  PhRendezvousClient *self = PH_RENDEZVOUS_CLIENT (object);

  g_clear_object (&self->session);
  g_clear_pointer (&self->base_url, g_free);
  g_clear_pointer (&self->tags, g_hash_table_unref);

  G_OBJECT_CLASS (ph_rendezvous_client_parent_class)->finalize (object);
}

static void
ph_rendezvous_client_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PhRendezvousClient *self = PH_RENDEZVOUS_CLIENT (object);

  switch (prop_id)
    {
    case PROP_BASE_URL:
      g_value_set_string (value, self->base_url);
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
  const char *url;

  switch (prop_id)
    {
    case PROP_BASE_URL:
      url = g_value_get_string (value);
      self->base_url = g_strndup (url, strlen (url) - (g_str_has_suffix (url, "/") ? 1 : 0));
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
  /* No session timeout: every request carries its own bound instead, one
   * that allows for the long-poll's wait. */
  self->session
      = soup_session_new_with_options ("max-conns-per-host", MAX_CONNS_PER_HOST, "timeout", 0,
                                       "user-agent", "pinhole/" PACKAGE_VERSION, NULL);
  self->tags = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
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

const char *
ph_rendezvous_client_get_base_url (PhRendezvousClient *self)
{
  g_return_val_if_fail (PH_IS_RENDEZVOUS_CLIENT (self), NULL);

  return self->base_url;
}

static const char *
get_string (JsonObject *object, const char *name)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static gboolean
get_uint (JsonObject *object, const char *name, guint64 minimum, guint64 maximum,
          guint64 *out_value)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;
  gint64 value;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;

  value = json_node_get_int (node);
  if (value < 0 || (guint64)value < minimum || (guint64)value > maximum)
    return FALSE;

  *out_value = (guint64)value;
  return TRUE;
}

/* A JSON array of strings, or NULL for anything else. */
static GStrv
get_string_array (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  JsonArray *array;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return NULL;

  array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);

      if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING)
        return NULL;
      g_strv_builder_add (builder, json_node_get_string (element));
    }

  return g_strv_builder_end (builder);
}

static void
set_malformed_error (PhRendezvousClient *self, GError **error, const char *what)
{
  g_set_error (error, PH_ERROR, PH_ERROR_RENDEZVOUS,
               /* Translators: the first %s is the server's URL, the second a short phrase that says
                * what was wrong, such as “no valid nameplate”. */
               _ ("The rendezvous server at %s sent a malformed answer (%s); it may not be a "
                  "Pinhole rendezvous server, or a different version."),
               self->base_url, what);
}

static JsonNode *
parse_json (GByteArray *body)
{
  g_autoptr (JsonParser) parser = json_parser_new ();

  if (body->len == 0
      || !json_parser_load_from_data (parser, (const char *)body->data, body->len, NULL))
    return NULL;

  return json_parser_steal_root (parser);
}

/* The server's own sentence from an error body, when it sent a usable one. */
static char *
server_sentence (GByteArray *body)
{
  g_autoptr (JsonNode) root = parse_json (body);
  const char *message;

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;

  message = get_string (json_node_get_object (root), "message");
  if (message == NULL || *message == '\0' || strlen (message) > MAX_SERVER_SENTENCE
      || !g_utf8_validate (message, -1, NULL))
    return NULL;

  return g_strdup (message);
}

static void
return_http_error (GTask *task)
{
  PhRendezvousClient *self = g_task_get_source_object (task);
  Request *request = g_task_get_task_data (task);
  guint status = soup_message_get_status (request->msg);
  g_autofree char *sentence = server_sentence (request->body);

  if (status == SOUP_STATUS_PRECONDITION_FAILED && request->nameplate != NULL)
    g_task_return_new_error (task, PH_ERROR, PH_ERROR_UNKNOWN_CODE,
                             /* Translators: %s is the number at the start of a code, such as 42. */
                             _ ("The rendezvous server no longer has the mailbox for the code that "
                                "starts with %s: it restarted, or the mailbox expired."),
                             request->nameplate);
  else if (status == SOUP_STATUS_CONFLICT && request->nameplate != NULL
           && g_str_equal (request->method, SOUP_METHOD_PUT))
    g_task_return_new_error (task, PH_ERROR, PH_ERROR_MAILBOX_FULL,
                             /* Translators: %s is the number at the start of a code, such as 42. */
                             _ ("The rendezvous server restarted and has given the number %s to "
                                "another chat; start a new chat for a new code."),
                             request->nameplate);
  else if (status == SOUP_STATUS_NOT_FOUND && request->nameplate != NULL)
    g_task_return_new_error (task, PH_ERROR, PH_ERROR_UNKNOWN_CODE,
                             /* Translators: %s is the number at the start of a code, such as 42. */
                             _ ("No one is waiting with the code that starts with %s: it may be "
                                "mistyped, or it has expired."),
                             request->nameplate);
  else if (status == SOUP_STATUS_CONFLICT && request->nameplate != NULL)
    g_task_return_new_error (task, PH_ERROR, PH_ERROR_MAILBOX_FULL,
                             /* Translators: %s is the number at the start of a code, such as 42. */
                             _ ("Two people are already using the code that starts with %s; ask "
                                "for a new code."),
                             request->nameplate);
  else if (sentence != NULL)
    g_task_return_new_error (task, PH_ERROR, PH_ERROR_RENDEZVOUS, "%s", sentence);
  else
    g_task_return_new_error (task, PH_ERROR, PH_ERROR_RENDEZVOUS,
                             /* Translators: %s is the server's URL, %u an HTTP status code. */
                             _ ("The rendezvous server at %s refused the request (HTTP %u)."),
                             self->base_url, status);
}

static void
return_transport_error (GTask *task, GError *error)
{
  PhRendezvousClient *self = g_task_get_source_object (task);
  Request *request = g_task_get_task_data (task);

  if (request->timed_out)
    g_task_return_new_error (task, PH_ERROR, PH_ERROR_RENDEZVOUS_UNREACHABLE,
                             g_dngettext (GETTEXT_PACKAGE,
                                          /* Translators: %s is the server's URL. */
                                          "The rendezvous server at %s did not answer within %u "
                                          "second.",
                                          "The rendezvous server at %s did not answer within %u "
                                          "seconds.",
                                          request->timeout_seconds),
                             self->base_url, request->timeout_seconds);
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_task_return_error (task, g_error_copy (error));
  else
    g_task_return_new_error (task, PH_ERROR, PH_ERROR_RENDEZVOUS_UNREACHABLE,
                             /* Translators: the first %s is the server's URL, the second the
                              * system's reason, such as “Connection refused”. */
                             _ ("Could not reach the rendezvous server at %s: %s"), self->base_url,
                             error->message);
}

static void send_request (GTask *task);

static gboolean
retry_cb (gpointer user_data)
{
  GTask *task = user_data;
  Request *request = g_task_get_task_data (task);

  request->retry_id = 0;
  send_request (task);
  return G_SOURCE_REMOVE;
}

/* Schedules the request again when the server asked us to wait a little;
 * takes over @task then. */
static gboolean
retry_later (GTask *task)
{
  Request *request = g_task_get_task_data (task);
  guint status = soup_message_get_status (request->msg);
  const char *retry_after;
  guint64 seconds = 1;

  if ((status != HTTP_TOO_MANY_REQUESTS && status != SOUP_STATUS_SERVICE_UNAVAILABLE)
      || request->retries >= MAX_RETRIES || g_cancellable_is_cancelled (request->cancellable))
    return FALSE;

  retry_after = soup_message_headers_get_one (soup_message_get_response_headers (request->msg),
                                              "Retry-After");
  if (retry_after != NULL
      && (!g_ascii_string_to_unsigned (retry_after, 10, 0, MAX_RETRY_AFTER_SECONDS, &seconds,
                                       NULL)))
    return FALSE;

  request->retries++;
  g_debug ("%s %s: HTTP %u, trying again in %" G_GUINT64_FORMAT " s", request->method, request->url,
           status, seconds);
  request->retry_id = g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, MAX (seconds, 1), retry_cb,
                                                  g_object_ref (task), g_object_unref);
  return TRUE;
}

static void
remember_tag (PhRendezvousClient *self, const char *nameplate, SoupMessage *msg)
{
  const char *etag = soup_message_headers_get_one (soup_message_get_response_headers (msg), "ETag");

  /* An old server sends none: requests then go unconditionally, as before. */
  if (nameplate != NULL && etag != NULL && *etag != '\0' && strlen (etag) <= MAX_TAG_LENGTH)
    g_hash_table_replace (self->tags, g_strdup (nameplate), g_strdup (etag));
}

static void
response_complete (GTask *task)
{
  PhRendezvousClient *self = g_task_get_source_object (task);
  Request *request = g_task_get_task_data (task);
  guint status = soup_message_get_status (request->msg);
  JsonNode *root;

  if (retry_later (task))
    return;

  /* A claim repeated after its answer was lost finds the mailbox open: 200. */
  if (status != request->expected_status
      && !(status == SOUP_STATUS_OK && g_str_equal (request->method, SOUP_METHOD_PUT)))
    {
      if (SOUP_STATUS_IS_SUCCESSFUL (status))
        g_task_return_new_error (
            task, PH_ERROR, PH_ERROR_RENDEZVOUS,
            /* Translators: %s is the server's URL, the two %u HTTP status codes. */
            _ ("The rendezvous server at %s answered with HTTP %u where %u "
               "was expected."),
            self->base_url, status, request->expected_status);
      else
        return_http_error (task);
      return;
    }

  remember_tag (self, request->nameplate, request->msg);

  if (status == SOUP_STATUS_NO_CONTENT)
    {
      g_task_return_pointer (task, json_node_new (JSON_NODE_NULL), (GDestroyNotify)json_node_unref);
      return;
    }

  root = parse_json (request->body);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      GError *error = NULL;

      g_clear_pointer (&root, json_node_unref);
      set_malformed_error (self, &error, C_ ("malformed rendezvous answer", "not a JSON object"));
      g_task_return_error (task, error);
      return;
    }

  g_task_return_pointer (task, root, (GDestroyNotify)json_node_unref);
}

static void
read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PhRendezvousClient *self = g_task_get_source_object (task);
  Request *request = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) chunk = NULL;

  chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  if (chunk == NULL)
    {
      return_transport_error (task, error);
      return;
    }

  if (g_bytes_get_size (chunk) == 0)
    {
      response_complete (task);
      return;
    }

  if (g_bytes_get_size (chunk) > MAX_RESPONSE_BYTES - request->body->len)
    {
      g_task_return_new_error (task, PH_ERROR, PH_ERROR_RENDEZVOUS,
                               g_dngettext (GETTEXT_PACKAGE,
                                            /* Translators: %s is the server's URL. */
                                            "The rendezvous server at %s sent an answer over %u "
                                            "byte.",
                                            "The rendezvous server at %s sent an answer over %u "
                                            "bytes.",
                                            MAX_RESPONSE_BYTES),
                               self->base_url, MAX_RESPONSE_BYTES);
      return;
    }

  g_byte_array_append (request->body, g_bytes_get_data (chunk, NULL), g_bytes_get_size (chunk));
  g_input_stream_read_bytes_async (G_INPUT_STREAM (source), READ_CHUNK_BYTES, G_PRIORITY_DEFAULT,
                                   request->cancellable, read_cb, g_steal_pointer (&task));
}

static void
send_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Request *request = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) stream = NULL;

  stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (stream == NULL)
    {
      return_transport_error (task, error);
      return;
    }

  g_input_stream_read_bytes_async (stream, READ_CHUNK_BYTES, G_PRIORITY_DEFAULT,
                                   request->cancellable, read_cb, g_steal_pointer (&task));
}

static gboolean
request_timed_out_cb (gpointer user_data)
{
  Request *request = user_data;

  request->timed_out = TRUE;
  g_cancellable_cancel (request->cancellable);
  g_clear_pointer (&request->timeout_source, g_source_unref);

  return G_SOURCE_REMOVE;
}

static void
caller_cancelled_cb (GCancellable *caller_cancellable, GCancellable *cancellable)
{
  g_cancellable_cancel (cancellable);
}

/* Sends @method @path (with a JSON @payload, if any) and completes @task with
 * the answer's JSON root when the status is @expected_status. @nameplate
 * names the mailbox the request is about, for 404 and 409; @after is the
 * index a fetch asks to read past. */
static void
send_request (GTask *task)
{
  PhRendezvousClient *self = g_task_get_source_object (task);
  Request *request = g_task_get_task_data (task);
  const char *tag;

  g_clear_object (&request->msg);
  g_byte_array_set_size (request->body, 0);
  request->msg = soup_message_new (request->method, request->url);
  if (request->payload != NULL)
    soup_message_set_request_body_from_bytes (request->msg, "application/json", request->payload);
  /* Looked up on each try, so a retry carries the tag as it is now. */
  if (request->conditional && (tag = g_hash_table_lookup (self->tags, request->nameplate)) != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (request->msg), "If-Match", tag);

  if (request->timeout_source != NULL)
    g_source_destroy (request->timeout_source);
  g_clear_pointer (&request->timeout_source, g_source_unref);
  request->timeout_source = g_timeout_source_new_seconds (request->timeout_seconds);
  g_source_set_callback (request->timeout_source, request_timed_out_cb, request, NULL);
  g_source_attach (request->timeout_source, g_main_context_get_thread_default ());

  soup_session_send_async (self->session, request->msg, G_PRIORITY_DEFAULT, request->cancellable,
                           send_cb, g_object_ref (task));
}

static void
start_request (PhRendezvousClient *self, GTask *task, const char *method, const char *path,
               JsonNode *payload, const char *nameplate, guint64 after, guint expected_status,
               guint timeout_seconds, GCancellable *cancellable)
{
  Request *request = g_new0 (Request, 1);
  g_autoptr (GUri) uri = NULL;
  GError *error = NULL;

  g_task_set_task_data (task, request, (GDestroyNotify)request_free);
  request->nameplate = g_strdup (nameplate);
  /* A claim is about whatever is open under the number now. */
  request->conditional = nameplate != NULL && strcmp (method, SOUP_METHOD_PUT) != 0;
  request->after = after;
  request->expected_status = expected_status;
  request->timeout_seconds = timeout_seconds;
  request->body = g_byte_array_new ();
  request->cancellable = g_cancellable_new ();
  request->method = g_strdup (method);
  request->url = g_strconcat (self->base_url, path, NULL);

  uri = g_uri_parse (request->url, SOUP_HTTP_URI_FLAGS, NULL);
  if (uri == NULL)
    {
      g_set_error (&error, PH_ERROR, PH_ERROR_RENDEZVOUS_UNREACHABLE,
                   /* Translators: %s is the server's URL. */
                   _ ("Could not make a request to the rendezvous server at %s."), self->base_url);
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }

  if (payload != NULL)
    {
      char *text = json_to_string (payload, FALSE);

      request->payload = g_bytes_new_take (text, strlen (text));
    }

  if (cancellable != NULL)
    {
      request->caller_cancellable = g_object_ref (cancellable);
      request->caller_cancelled_id = g_cancellable_connect (
          cancellable, G_CALLBACK (caller_cancelled_cb), request->cancellable, NULL);
    }

  send_request (task);
  g_object_unref (task);
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
  GTask *task;

  g_return_if_fail (PH_IS_RENDEZVOUS_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ph_rendezvous_client_allocate_async);
  start_request (self, task, SOUP_METHOD_POST, "/v1/mailboxes", NULL, NULL, 0, SOUP_STATUS_CREATED,
                 REQUEST_TIMEOUT_SECONDS, cancellable);
}

char *
ph_rendezvous_client_allocate_finish (PhRendezvousClient *self, GAsyncResult *result,
                                      guint *out_expires_in, GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  JsonObject *object;
  const char *nameplate;
  guint64 expires_in;

  g_return_val_if_fail (PH_IS_RENDEZVOUS_CLIENT (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  root = g_task_propagate_pointer (G_TASK (result), error);
  if (root == NULL)
    return NULL;

  object = json_node_get_object (root);
  nameplate = get_string (object, "nameplate");
  if (nameplate == NULL || !ph_mailbox_parse_nameplate (nameplate, strlen (nameplate), NULL)
      || !get_uint (object, "expires_in", 0, G_MAXUINT, &expires_in))
    {
      set_malformed_error (self, error, C_ ("malformed rendezvous answer", "no valid nameplate"));
      return NULL;
    }

  remember_tag (self, nameplate, ((Request *)g_task_get_task_data (G_TASK (result)))->msg);
  if (out_expires_in != NULL)
    *out_expires_in = (guint)expires_in;
  return g_strdup (nameplate);
}

void
ph_rendezvous_client_claim_async (PhRendezvousClient *self, const char *nameplate, const char *side,
                                  GCancellable *cancellable, GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) payload = NULL;
  g_autofree char *path = NULL;
  GTask *task;

  g_return_if_fail (PH_IS_RENDEZVOUS_CLIENT (self));
  g_return_if_fail (nameplate != NULL);
  g_return_if_fail (side != NULL);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "side");
  json_builder_add_string_value (builder, side);
  json_builder_end_object (builder);
  payload = json_builder_get_root (builder);

  /* Whatever we knew about the number is about a mailbox that is gone. */
  g_hash_table_remove (self->tags, nameplate);
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ph_rendezvous_client_claim_async);
  path = mailbox_path (nameplate, "");
  start_request (self, task, SOUP_METHOD_PUT, path, payload, nameplate, 0, SOUP_STATUS_CREATED,
                 REQUEST_TIMEOUT_SECONDS, cancellable);
}

gboolean
ph_rendezvous_client_claim_finish (PhRendezvousClient *self, GAsyncResult *result, GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  const char *nameplate;

  g_return_val_if_fail (PH_IS_RENDEZVOUS_CLIENT (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  root = g_task_propagate_pointer (G_TASK (result), error);
  if (root == NULL)
    return FALSE;

  nameplate = get_string (json_node_get_object (root), "nameplate");
  if (g_strcmp0 (nameplate, ((Request *)g_task_get_task_data (G_TASK (result)))->nameplate) != 0)
    {
      set_malformed_error (self, error,
                           C_ ("malformed rendezvous answer", "another nameplate than claimed"));
      return FALSE;
    }
  return TRUE;
}

void
ph_rendezvous_client_forget_mailbox (PhRendezvousClient *self, const char *nameplate)
{
  g_return_if_fail (PH_IS_RENDEZVOUS_CLIENT (self));
  g_return_if_fail (nameplate != NULL);

  g_hash_table_remove (self->tags, nameplate);
}

void
ph_rendezvous_client_post_async (PhRendezvousClient *self, const char *nameplate, const char *side,
                                 const char *phase, GBytes *body, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) payload = NULL;
  g_autofree char *path = NULL;
  g_autofree char *encoded = NULL;
  const guchar *data;
  gsize size;
  GTask *task;

  g_return_if_fail (PH_IS_RENDEZVOUS_CLIENT (self));
  g_return_if_fail (nameplate != NULL);
  g_return_if_fail (side != NULL);
  g_return_if_fail (phase != NULL);
  g_return_if_fail (body != NULL);

  data = g_bytes_get_data (body, &size);
  encoded = g_base64_encode (data, size);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "side");
  json_builder_add_string_value (builder, side);
  json_builder_set_member_name (builder, "phase");
  json_builder_add_string_value (builder, phase);
  json_builder_set_member_name (builder, "body");
  json_builder_add_string_value (builder, encoded);
  json_builder_end_object (builder);
  payload = json_builder_get_root (builder);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ph_rendezvous_client_post_async);
  path = mailbox_path (nameplate, "/messages");
  start_request (self, task, SOUP_METHOD_POST, path, payload, nameplate, 0, SOUP_STATUS_CREATED,
                 REQUEST_TIMEOUT_SECONDS, cancellable);
}

gboolean
ph_rendezvous_client_post_finish (PhRendezvousClient *self, GAsyncResult *result,
                                  guint64 *out_index, GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  guint64 index;

  g_return_val_if_fail (PH_IS_RENDEZVOUS_CLIENT (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  root = g_task_propagate_pointer (G_TASK (result), error);
  if (root == NULL)
    return FALSE;

  if (!get_uint (json_node_get_object (root), "index", 1, G_MAXINT64, &index))
    {
      set_malformed_error (self, error,
                           C_ ("malformed rendezvous answer", "no valid message index"));
      return FALSE;
    }

  if (out_index != NULL)
    *out_index = index;
  return TRUE;
}

void
ph_rendezvous_client_fetch_async (PhRendezvousClient *self, const char *nameplate, guint64 after,
                                  guint wait_seconds, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  g_autofree char *base = NULL;
  g_autofree char *path = NULL;
  GTask *task;

  g_return_if_fail (PH_IS_RENDEZVOUS_CLIENT (self));
  g_return_if_fail (nameplate != NULL);
  g_return_if_fail (wait_seconds <= 60);

  base = mailbox_path (nameplate, "/messages");
  path = g_strdup_printf ("%s?after=%" G_GUINT64_FORMAT "&wait=%u", base, after, wait_seconds);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ph_rendezvous_client_fetch_async);
  start_request (self, task, SOUP_METHOD_GET, path, NULL, nameplate, after, SOUP_STATUS_OK,
                 wait_seconds + FETCH_MARGIN_SECONDS, cancellable);
}

static PhMailboxMessage *
parse_message (JsonNode *node, guint64 after)
{
  g_autoptr (PhMailboxMessage) message = g_new0 (PhMailboxMessage, 1);
  JsonObject *object;
  const char *side;
  const char *phase;
  const char *body;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  object = json_node_get_object (node);

  side = get_string (object, "side");
  phase = get_string (object, "phase");
  body = get_string (object, "body");
  if (!get_uint (object, "index", after + 1, G_MAXINT64, &message->index) || side == NULL
      || !ph_mailbox_side_is_valid (side) || phase == NULL || *phase == '\0' || body == NULL)
    return NULL;

  message->body = ph_mailbox_decode_body (body);
  if (message->body == NULL)
    return NULL;
  message->side = g_strdup (side);
  message->phase = g_strdup (phase);

  return g_steal_pointer (&message);
}

GPtrArray *
ph_rendezvous_client_fetch_finish (PhRendezvousClient *self, GAsyncResult *result, GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  JsonNode *member;
  JsonArray *array;
  guint64 last;

  g_return_val_if_fail (PH_IS_RENDEZVOUS_CLIENT (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  root = g_task_propagate_pointer (G_TASK (result), error);
  if (root == NULL)
    return NULL;

  member = json_object_get_member (json_node_get_object (root), "messages");
  if (member == NULL || !JSON_NODE_HOLDS_ARRAY (member))
    {
      set_malformed_error (self, error, C_ ("malformed rendezvous answer", "no list of messages"));
      return NULL;
    }

  /* Indices must rise past the one asked for, or a message would be lost
   * or seen twice. */
  last = ((Request *)g_task_get_task_data (G_TASK (result)))->after;
  array = json_node_get_array (member);
  messages = g_ptr_array_new_with_free_func ((GDestroyNotify)ph_mailbox_message_free);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      PhMailboxMessage *message = parse_message (json_array_get_element (array, i), last);

      if (message == NULL)
        {
          set_malformed_error (
              self, error,
              C_ ("malformed rendezvous answer", "a message is malformed or out of order"));
          return NULL;
        }
      last = message->index;
      g_ptr_array_add (messages, message);
    }

  return g_steal_pointer (&messages);
}

void
ph_rendezvous_client_leave_async (PhRendezvousClient *self, const char *nameplate, const char *side,
                                  GCancellable *cancellable, GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  g_autofree char *base = NULL;
  g_autofree char *escaped_side = NULL;
  g_autofree char *path = NULL;
  GTask *task;

  g_return_if_fail (PH_IS_RENDEZVOUS_CLIENT (self));
  g_return_if_fail (nameplate != NULL);
  g_return_if_fail (side != NULL);

  base = mailbox_path (nameplate, "");
  escaped_side = g_uri_escape_string (side, NULL, FALSE);
  path = g_strdup_printf ("%s?side=%s", base, escaped_side);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ph_rendezvous_client_leave_async);
  start_request (self, task, SOUP_METHOD_DELETE, path, NULL, nameplate, 0, SOUP_STATUS_NO_CONTENT,
                 REQUEST_TIMEOUT_SECONDS, cancellable);
}

gboolean
ph_rendezvous_client_leave_finish (PhRendezvousClient *self, GAsyncResult *result, GError **error)
{
  g_autoptr (JsonNode) root = NULL;

  g_return_val_if_fail (PH_IS_RENDEZVOUS_CLIENT (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  root = g_task_propagate_pointer (G_TASK (result), error);
  return root != NULL;
}

void
ph_rendezvous_client_get_turn_async (PhRendezvousClient *self, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (PH_IS_RENDEZVOUS_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ph_rendezvous_client_get_turn_async);
  start_request (self, task, SOUP_METHOD_GET, "/v1/turn", NULL, NULL, 0, SOUP_STATUS_OK,
                 REQUEST_TIMEOUT_SECONDS, cancellable);
}

PhTurnInfo *
ph_rendezvous_client_get_turn_finish (PhRendezvousClient *self, GAsyncResult *result,
                                      GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (PhTurnInfo) info = NULL;
  JsonObject *object;
  const char *username;
  const char *credential;
  guint64 ttl = 0;

  g_return_val_if_fail (PH_IS_RENDEZVOUS_CLIENT (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  root = g_task_propagate_pointer (G_TASK (result), error);
  if (root == NULL)
    return NULL;

  object = json_node_get_object (root);
  info = g_new0 (PhTurnInfo, 1);
  info->stun_uris = get_string_array (object, "stun");
  if (info->stun_uris == NULL)
    {
      set_malformed_error (self, error,
                           C_ ("malformed rendezvous answer", "no list of STUN servers"));
      return NULL;
    }

  if (!json_object_has_member (object, "turn"))
    {
      info->turn_uris = g_new0 (char *, 1);
      return g_steal_pointer (&info);
    }

  info->turn_uris = get_string_array (object, "turn");
  username = get_string (object, "username");
  credential = get_string (object, "credential");
  if (info->turn_uris == NULL || username == NULL || credential == NULL
      || !get_uint (object, "ttl", 0, G_MAXUINT, &ttl))
    {
      set_malformed_error (self, error,
                           C_ ("malformed rendezvous answer", "incomplete TURN credentials"));
      return NULL;
    }

  info->username = g_strdup (username);
  info->credential = g_strdup (credential);
  info->ttl = (guint)ttl;
  return g_steal_pointer (&info);
}
