/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "pinhole-rendezvous"

#include "config.h"

#include <glib-unix.h>
#include <gio/gio.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>

#include "ph-client-address.h"
#include "ph-rate-limiter.h"
#include "ph-rendezvous-server.h"
#include "ph-store-uri.h"
#include "ph-store.h"

#define EXIT_USAGE 2

/* The objects the options configure: each limit is a construct property
 * of the one whose job it is. */
enum
{
  SERVER,
  STORE,
  LIMITER,
  N_OBJECTS
};

typedef struct
{
  const char *option;
  guint object;
  const char *property;
  gint64 value; /* -1 when not given */
} LimitOption;

/* The construct properties of one of the objects. */
typedef struct
{
  GPtrArray *names;
  GArray *values;
} Properties;

enum
{
  MAX_BODY_BYTES,
  MAX_MAILBOXES,
  MAX_MESSAGES,
  MAX_MAILBOX_BYTES,
  MAX_WAITING_POLLS,
  MAX_MAILBOXES_PER_CLIENT,
  MAX_POLLS_PER_CLIENT,
  ALLOCATIONS_PER_MINUTE,
  JOINS_PER_HOUR,
  RATE,
  BURST,
  MAX_HOLD,
  MAILBOX_LIFETIME,
  CLIENT_TIMEOUT,
  TURN_TTL,
  STORED_LIFETIME,
  MAX_STORED_PER_POINT,
  MAX_STORED_BYTES,
  MAX_STORED_TOTAL_BYTES,
  N_LIMITS
};

static LimitOption limits[N_LIMITS] = {
  [MAX_BODY_BYTES] = { "--max-body-bytes", SERVER, "max-body-bytes", -1 },
  [MAX_MAILBOXES] = { "--max-mailboxes", STORE, "max-mailboxes", -1 },
  [MAX_MESSAGES] = { "--max-messages", STORE, "max-messages", -1 },
  [MAX_MAILBOX_BYTES] = { "--max-mailbox-bytes", STORE, "max-mailbox-bytes", -1 },
  [MAX_WAITING_POLLS] = { "--max-waiting-polls", SERVER, "max-waiting-polls", -1 },
  [MAX_MAILBOXES_PER_CLIENT]
  = { "--max-mailboxes-per-client", SERVER, "max-mailboxes-per-client", -1 },
  [MAX_POLLS_PER_CLIENT] = { "--max-polls-per-client", SERVER, "max-polls-per-client", -1 },
  [ALLOCATIONS_PER_MINUTE] = { "--allocations-per-minute", SERVER, "allocations-per-minute", -1 },
  [JOINS_PER_HOUR] = { "--joins-per-hour", SERVER, "joins-per-hour", -1 },
  [RATE] = { "--rate", LIMITER, "rate", -1 },
  [BURST] = { "--burst", LIMITER, "burst", -1 },
  [MAX_HOLD] = { "--max-hold", SERVER, "max-hold", -1 },
  [MAILBOX_LIFETIME] = { "--mailbox-lifetime", STORE, "lifetime", -1 },
  [CLIENT_TIMEOUT] = { "--client-timeout", SERVER, "client-timeout", -1 },
  [TURN_TTL] = { "--turn-ttl", SERVER, "turn-ttl", -1 },
  [STORED_LIFETIME] = { "--stored-lifetime", SERVER, "stored-lifetime", -1 },
  [MAX_STORED_PER_POINT] = { "--max-stored-per-point", SERVER, "max-stored-per-point", -1 },
  [MAX_STORED_BYTES] = { "--max-stored-bytes", SERVER, "max-stored-bytes", -1 },
  [MAX_STORED_TOTAL_BYTES] = { "--max-stored-total-bytes", SERVER, "max-stored-total-bytes", -1 },
};

static gboolean
quit_cb (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_CONTINUE;
}

static int usage_error (const char *format, ...) G_GNUC_PRINTF (1, 2);

static int
usage_error (const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_printerr ("pinhole-rendezvous: %s\nRun “pinhole-rendezvous --help” to see the options.\n",
              message);
  return EXIT_USAGE;
}

/* Checks a limit against the range its property accepts and adds it to
 * the construct properties. */
static gboolean
add_limit (GObjectClass *klass, LimitOption *limit, GPtrArray *names, GArray *values,
           char **out_message)
{
  GParamSpec *pspec = g_object_class_find_property (klass, limit->property);
  guint64 minimum;
  guint64 maximum;
  GValue value = G_VALUE_INIT;

  if (limit->value < 0)
    return TRUE;

  if (G_IS_PARAM_SPEC_UINT64 (pspec))
    {
      minimum = G_PARAM_SPEC_UINT64 (pspec)->minimum;
      maximum = G_PARAM_SPEC_UINT64 (pspec)->maximum;
    }
  else
    {
      minimum = G_PARAM_SPEC_UINT (pspec)->minimum;
      maximum = G_PARAM_SPEC_UINT (pspec)->maximum;
    }

  if ((guint64)limit->value < minimum || (guint64)limit->value > maximum)
    {
      *out_message
          = g_strdup_printf ("%s must be between %" G_GUINT64_FORMAT " and %" G_GUINT64_FORMAT ".",
                             limit->option, minimum, maximum);
      return FALSE;
    }

  g_value_init (&value, G_PARAM_SPEC_VALUE_TYPE (pspec));
  if (G_IS_PARAM_SPEC_UINT64 (pspec))
    g_value_set_uint64 (&value, (guint64)limit->value);
  else
    g_value_set_uint (&value, (guint)limit->value);
  g_ptr_array_add (names, (gpointer)limit->property);
  g_array_append_val (values, value);
  return TRUE;
}

/* Copies @data (an object, string or string array) into a construct property. */
static void
add_property (GPtrArray *names, GArray *values, const char *name, GType type, gconstpointer data)
{
  GValue value = G_VALUE_INIT;

  g_value_init (&value, type);
  if (type == G_TYPE_STRING)
    g_value_set_string (&value, data);
  else if (g_type_is_a (type, G_TYPE_OBJECT))
    g_value_set_object (&value, (gpointer)data);
  else
    g_value_set_boxed (&value, data);
  g_ptr_array_add (names, (gpointer)name);
  g_array_append_val (values, value);
}

static GObject *
new_with_properties (GType type, Properties *properties)
{
  return g_object_new_with_properties (type, properties->names->len,
                                       (const char **)properties->names->pdata,
                                       (GValue *)properties->values->data);
}

static void
clear_objects (Properties *objects)
{
  for (guint i = 0; i < N_OBJECTS; i++)
    {
      g_ptr_array_unref (objects[i].names);
      g_array_unref (objects[i].values);
    }
}

static gboolean
all_have_prefix (char *const *uris, const char *first, const char *second)
{
  for (guint i = 0; uris != NULL && uris[i] != NULL; i++)
    if (!g_str_has_prefix (uris[i], first) && !g_str_has_prefix (uris[i], second))
      return FALSE;
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_autofree char *listen = NULL;
  gint64 port = 8470;
  g_autofree char *tls_cert = NULL;
  g_autofree char *tls_key = NULL;
  g_autofree char *turn_secret = NULL;
  g_auto (GStrv) turn_uris = NULL;
  g_auto (GStrv) stun_uris = NULL;
  g_autofree char *port_file = NULL;
  g_auto (GStrv) trusted_proxies = NULL;
  g_autofree char *store_uri = NULL;
  g_autofree char *data_dir = NULL;
  GOptionEntry entries[] = {
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen, "Address to listen on (127.0.0.1)", "ADDR" },
    { "port", 0, 0, G_OPTION_ARG_INT64, &port, "Port to listen on; 0 picks a free one (8470)",
      "N" },
    { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &tls_cert, "Serve HTTPS with this PEM certificate",
      "FILE" },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &tls_key, "The certificate's PEM private key",
      "FILE" },
    { "turn-secret", 0, 0, G_OPTION_ARG_STRING, &turn_secret,
      "coturn static-auth-secret for TURN credentials (or $PINHOLE_TURN_SECRET)", "S" },
    { "turn-uri", 0, 0, G_OPTION_ARG_STRING_ARRAY, &turn_uris, "A TURN server, repeatable", "URI" },
    { "stun-uri", 0, 0, G_OPTION_ARG_STRING_ARRAY, &stun_uris, "A STUN server, repeatable", "URI" },
    { "turn-ttl", 0, 0, G_OPTION_ARG_INT64, &limits[TURN_TTL].value,
      "Lifetime of TURN credentials, at most 3600 (3600)", "SECONDS" },
    { "max-body-bytes", 0, 0, G_OPTION_ARG_INT64, &limits[MAX_BODY_BYTES].value,
      "Largest request body (65536)", "N" },
    { "max-mailboxes", 0, 0, G_OPTION_ARG_INT64, &limits[MAX_MAILBOXES].value,
      "Mailboxes open at once (10000)", "N" },
    { "max-messages", 0, 0, G_OPTION_ARG_INT64, &limits[MAX_MESSAGES].value,
      "Messages per mailbox (256)", "N" },
    { "max-mailbox-bytes", 0, 0, G_OPTION_ARG_INT64, &limits[MAX_MAILBOX_BYTES].value,
      "Message bytes per mailbox (1048576)", "N" },
    { "max-waiting-polls", 0, 0, G_OPTION_ARG_INT64, &limits[MAX_WAITING_POLLS].value,
      "Long-polls held at once (20000)", "N" },
    { "max-mailboxes-per-client", 0, 0, G_OPTION_ARG_INT64, &limits[MAX_MAILBOXES_PER_CLIENT].value,
      "Mailboxes one client (an IPv4 address or an IPv6 /64) may hold open (32)", "N" },
    { "max-polls-per-client", 0, 0, G_OPTION_ARG_INT64, &limits[MAX_POLLS_PER_CLIENT].value,
      "Long-polls held at once for one client (64)", "N" },
    { "allocations-per-minute", 0, 0, G_OPTION_ARG_INT64, &limits[ALLOCATIONS_PER_MINUTE].value,
      "Mailboxes one client may open a minute (30)", "N" },
    { "joins-per-hour", 0, 0, G_OPTION_ARG_INT64, &limits[JOINS_PER_HOUR].value,
      "Chats one client may join an hour, each a guess at a code (60)", "N" },
    { "rate", 0, 0, G_OPTION_ARG_INT64, &limits[RATE].value, "Requests per second per client (20)",
      "N" },
    { "burst", 0, 0, G_OPTION_ARG_INT64, &limits[BURST].value, "Request burst per client (60)",
      "N" },
    { "max-hold", 0, 0, G_OPTION_ARG_INT64, &limits[MAX_HOLD].value, "Longest long-poll hold (30)",
      "S" },
    { "mailbox-lifetime", 0, 0, G_OPTION_ARG_INT64, &limits[MAILBOX_LIFETIME].value,
      "Seconds a mailbox lives (600)", "S" },
    { "stored-lifetime", 0, 0, G_OPTION_ARG_INT64, &limits[STORED_LIFETIME].value,
      "Seconds a stored copy at a meeting point is kept unless fetched and acknowledged (604800)",
      "S" },
    { "max-stored-per-point", 0, 0, G_OPTION_ARG_INT64, &limits[MAX_STORED_PER_POINT].value,
      "Stored copies one meeting point keeps (100)", "N" },
    { "max-stored-bytes", 0, 0, G_OPTION_ARG_INT64, &limits[MAX_STORED_BYTES].value,
      "Bytes of stored copies one meeting point keeps (1048576)", "N" },
    { "max-stored-total-bytes", 0, 0, G_OPTION_ARG_INT64, &limits[MAX_STORED_TOTAL_BYTES].value,
      "Bytes of stored copies all meeting points keep together (1073741824)", "N" },
    { "client-timeout", 0, 0, G_OPTION_ARG_INT64, &limits[CLIENT_TIMEOUT].value,
      "Seconds a client may take to send a request or read a response, or stay idle (30)", "S" },
    { "trusted-proxy", 0, 0, G_OPTION_ARG_STRING_ARRAY, &trusted_proxies,
      "A reverse proxy whose X-Forwarded-For or Forwarded header names the client, as an "
      "address or a block such as 10.0.0.0/8; repeatable (none)",
      "CIDR" },
    { "port-file", 0, 0, G_OPTION_ARG_FILENAME, &port_file, "Write the port to FILE once listening",
      "FILE" },
    { "store", 0, 0, G_OPTION_ARG_STRING, &store_uri,
      "Where mailboxes are kept: sqlite:PATH, or memory: (lost on exit; for tests) "
      "(sqlite:DIR/" PH_STORE_URI_DATABASE_NAME ")",
      "URI" },
    { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir,
      "DIR of the default store ($STATE_DIRECTORY, else $XDG_STATE_HOME/pinhole-rendezvous)",
      "DIR" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetAddress) address = NULL;
  g_autoptr (GTlsCertificate) certificate = NULL;
  g_autoptr (PhTrustedProxies) proxies = NULL;
  GType types[N_OBJECTS] = { PH_TYPE_RENDEZVOUS_SERVER, G_TYPE_INVALID, PH_TYPE_RATE_LIMITER };
  Properties objects[N_OBJECTS];
  g_autoptr (GObject) store = NULL;
  g_autoptr (GObject) limiter = NULL;
  GPtrArray *names;
  GArray *values;
  g_autoptr (PhRendezvousServer) server = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  g_autofree char *url = NULL;
  guint sigint_id;
  guint sigterm_id;

  setlocale (LC_ALL, "");

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context,
                                "The Pinhole rendezvous server: mailboxes where two peers meet, "
                                "and STUN/TURN settings for them.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return usage_error ("%s", error->message);
  if (argc > 1)
    return usage_error ("unexpected argument “%s”.", argv[1]);

  address = g_inet_address_new_from_string (listen != NULL ? listen : "127.0.0.1");
  if (address == NULL)
    return usage_error ("--listen needs an IP address such as 127.0.0.1 or ::, not “%s”.", listen);
  if (port < 0 || port > G_MAXUINT16)
    return usage_error ("--port must be between 0 and 65535.");
  if ((tls_cert == NULL) != (tls_key == NULL))
    return usage_error ("--tls-cert and --tls-key go together.");

  if (turn_secret == NULL && g_getenv ("PINHOLE_TURN_SECRET") != NULL)
    turn_secret = g_strdup (g_getenv ("PINHOLE_TURN_SECRET"));
  if (turn_secret != NULL && *turn_secret == '\0')
    return usage_error ("the TURN secret is empty.");
  if ((turn_secret == NULL) != (turn_uris == NULL))
    return usage_error ("--turn-secret and --turn-uri go together.");
  if (!all_have_prefix (turn_uris, "turn:", "turns:"))
    return usage_error ("--turn-uri takes turn: or turns: URIs, such as turn:192.0.2.1:3478.");
  if (!all_have_prefix (stun_uris, "stun:", "stuns:"))
    return usage_error ("--stun-uri takes stun: URIs, such as stun:192.0.2.1:3478.");
  proxies = ph_trusted_proxies_new ((const char *const *)trusted_proxies, &error);
  if (proxies == NULL)
    return usage_error ("%s.", error->message);

  if (store_uri != NULL && data_dir != NULL)
    return usage_error ("--data-dir is where the default store goes: it does not go with --store.");
  if (store_uri == NULL)
    store_uri = ph_store_uri_default (data_dir);

  for (guint i = 0; i < N_OBJECTS; i++)
    {
      objects[i].names = g_ptr_array_new ();
      objects[i].values = g_array_new (FALSE, TRUE, sizeof (GValue));
      g_array_set_clear_func (objects[i].values, (GDestroyNotify)g_value_unset);
    }
  if (!ph_store_uri_parse (store_uri, &types[STORE], objects[STORE].names, objects[STORE].values,
                           &error))
    {
      clear_objects (objects);
      return usage_error ("%s", error->message);
    }
  for (guint i = 0; i < G_N_ELEMENTS (limits); i++)
    {
      Properties *target = &objects[limits[i].object];
      GObjectClass *klass = g_type_class_ref (types[limits[i].object]);
      g_autofree char *message = NULL;
      gboolean ok = add_limit (klass, &limits[i], target->names, target->values, &message);

      g_type_class_unref (klass);
      if (!ok)
        {
          clear_objects (objects);
          return usage_error ("%s", message);
        }
    }

  /* A store that cannot be used (a damaged database, one in use by
   * another server) says so here, before anyone is told we listen. */
  store = new_with_properties (types[STORE], &objects[STORE]);
  if (G_IS_INITABLE (store) && !g_initable_init (G_INITABLE (store), NULL, &error))
    {
      g_printerr ("pinhole-rendezvous: %s\n", error->message);
      clear_objects (objects);
      return EXIT_FAILURE;
    }
  limiter = new_with_properties (types[LIMITER], &objects[LIMITER]);
  names = objects[SERVER].names;
  values = objects[SERVER].values;
  add_property (names, values, "store", PH_TYPE_STORE, store);
  add_property (names, values, "limiter", PH_TYPE_RATE_LIMITER, limiter);

  if (tls_cert != NULL)
    {
      certificate = g_tls_certificate_new_from_files (tls_cert, tls_key, &error);
      if (certificate == NULL)
        {
          g_printerr ("pinhole-rendezvous: could not load the TLS certificate: %s\n",
                      error->message);
          clear_objects (objects);
          return EXIT_FAILURE;
        }
      add_property (names, values, "tls-certificate", G_TYPE_TLS_CERTIFICATE, certificate);
    }
  if (turn_secret != NULL)
    {
      add_property (names, values, "turn-secret", G_TYPE_STRING, turn_secret);
      add_property (names, values, "turn-uris", G_TYPE_STRV, turn_uris);
    }
  if (stun_uris != NULL)
    add_property (names, values, "stun-uris", G_TYPE_STRV, stun_uris);
  if (trusted_proxies != NULL)
    add_property (names, values, "trusted-proxies", G_TYPE_STRV, trusted_proxies);

  server = PH_RENDEZVOUS_SERVER (new_with_properties (types[SERVER], &objects[SERVER]));
  clear_objects (objects);

  if (!ph_rendezvous_server_listen (server, address, (guint)port, &error))
    {
      g_printerr ("pinhole-rendezvous: could not listen on port %" G_GINT64_FORMAT ": %s\n", port,
                  error->message);
      return EXIT_FAILURE;
    }

  /* The port file is complete before the line that says we listen. */
  if (port_file != NULL)
    {
      g_autofree char *text = g_strdup_printf ("%u\n", ph_rendezvous_server_get_port (server));

      if (!g_file_set_contents (port_file, text, -1, &error))
        {
          g_printerr ("pinhole-rendezvous: could not write the port file: %s\n", error->message);
          return EXIT_FAILURE;
        }
    }

  /* Signals are handled before anyone learns we listen, so a supervisor
   * that stops us at once still gets a clean exit. */
  loop = g_main_loop_new (NULL, FALSE);
  sigint_id = g_unix_signal_add (SIGINT, quit_cb, loop);
  sigterm_id = g_unix_signal_add (SIGTERM, quit_cb, loop);

  url = ph_rendezvous_server_get_url (server);
  g_print ("pinhole-rendezvous listening on %s\n", url);
  fflush (stdout);

  g_main_loop_run (loop);
  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);

  return EXIT_SUCCESS;
}
