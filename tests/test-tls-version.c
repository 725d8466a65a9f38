/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-tls-version"

#include "config.h"

#include <gio/gio.h>
#include <sys/socket.h>

#include "ph-certificate.h"
#include "ph-error.h"
#include "ph-secure-channel.h"
#include "ph-test-wait.h"

/* An attacker who can make one side's TLS library stop at 1.2 (an old
 * build, a downgraded priority string) must not get a channel: the
 * secure channel checks the negotiated version itself. */

#define TIMEOUT_MS ph_test_scaled_ms (10000)

typedef struct
{
  GTlsCertificate *certificate;
  PhSecureChannel *channel;
  gboolean open_done;
  GError *open_error;
  GPtrArray *texts;
} Side;

static void
frame_received_cb (PhSecureChannel *channel, const PhFrame *frame, Side *side)
{
  if (frame->type == PH_FRAME_MSG)
    g_ptr_array_add (side->texts, g_strdup (frame->text));
}

static void
open_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Side *side = user_data;

  ph_secure_channel_open_finish (PH_SECURE_CHANNEL (source), result, &side->open_error);
  side->open_done = TRUE;
}

static gboolean
both_open_done (gpointer data)
{
  Side **sides = data;

  return sides[0]->open_done && sides[1]->open_done;
}

/* Fails the test if either handshake hangs. */
static void
wait_for_handshakes (Side *host, Side *joiner)
{
  Side *sides[] = { host, joiner };

  if (!ph_test_wait_until (both_open_done, sides, TIMEOUT_MS))
    g_error ("the handshake did not finish within %u ms", TIMEOUT_MS);
}

static GIOStream *
stream_from_fd (int fd)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket = g_socket_new_from_fd (fd, &error);

  g_assert_no_error (error);
  return G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
}

/* A host and a joiner over a local socket pair, each pinning the other. */
static void
open_pair (Side *host, Side *joiner)
{
  int fds[2];
  g_autoptr (GIOStream) host_stream = NULL;
  g_autoptr (GIOStream) joiner_stream = NULL;
  g_autofree char *host_pin = NULL;
  g_autofree char *joiner_pin = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  host_stream = stream_from_fd (fds[0]);
  joiner_stream = stream_from_fd (fds[1]);

  host->certificate = ph_certificate_generate ("Alice", &error);
  g_assert_no_error (error);
  joiner->certificate = ph_certificate_generate ("Bob", &error);
  g_assert_no_error (error);
  host->texts = g_ptr_array_new_with_free_func (g_free);
  joiner->texts = g_ptr_array_new_with_free_func (g_free);
  host_pin = ph_certificate_get_fingerprint (joiner->certificate);
  joiner_pin = ph_certificate_get_fingerprint (host->certificate);

  host->channel = ph_secure_channel_new (host_stream, TRUE, host->certificate, host_pin);
  joiner->channel = ph_secure_channel_new (joiner_stream, FALSE, joiner->certificate, joiner_pin);
  g_signal_connect (host->channel, "frame-received", G_CALLBACK (frame_received_cb), host);
  g_signal_connect (joiner->channel, "frame-received", G_CALLBACK (frame_received_cb), joiner);
  ph_secure_channel_open_async (host->channel, NULL, open_cb, host);
  ph_secure_channel_open_async (joiner->channel, NULL, open_cb, joiner);
}

static void
side_clear (Side *side)
{
  g_clear_object (&side->channel);
  g_clear_object (&side->certificate);
  g_clear_error (&side->open_error);
  g_clear_pointer (&side->texts, g_ptr_array_unref);
}

/* The control: with the system's TLS settings the pair talks TLS 1.3. */
static void
test_tls13_connects (void)
{
  Side host = { 0 }, joiner = { 0 };
  g_autoptr (PhFrame) frame = ph_frame_new_msg ("m1", 1700000000000, "hello");
  g_autoptr (GError) error = NULL;

  open_pair (&host, &joiner);
  wait_for_handshakes (&host, &joiner);
  g_assert_no_error (host.open_error);
  g_assert_no_error (joiner.open_error);

  g_assert_true (ph_secure_channel_send (joiner.channel, frame, &error));
  g_assert_no_error (error);
  while (host.texts->len == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (g_ptr_array_index (host.texts, 0), ==, "hello");

  side_clear (&host);
  side_clear (&joiner);
}

static void
downgraded_child (void)
{
  Side host = { 0 }, joiner = { 0 };

  open_pair (&host, &joiner);
  /* Both refuse: the first to finish its handshake closes the link, so
   * the other may instead see the connection end. */
  wait_for_handshakes (&host, &joiner);
  g_assert_nonnull (host.open_error);
  g_assert_nonnull (joiner.open_error);
  g_assert_true (g_error_matches (host.open_error, PH_ERROR, PH_ERROR_SECURITY)
                 || g_error_matches (joiner.open_error, PH_ERROR, PH_ERROR_SECURITY));
  g_assert_cmpuint (host.texts->len, ==, 0);
  g_assert_cmpuint (joiner.texts->len, ==, 0);
  g_print ("refused: %s / %s\n", host.open_error->message, joiner.open_error->message);

  side_clear (&host);
  side_clear (&joiner);
}

/* The same pair with GnuTLS told to stop at 1.2 (glib-networking reads
 * G_TLS_GNUTLS_PRIORITY once, when its backend starts: hence a child). */
static void
test_tls12_refused (void)
{
  if (g_test_subprocess ())
    {
      downgraded_child ();
      return;
    }
  g_setenv ("G_TLS_GNUTLS_PRIORITY", "NORMAL:-VERS-TLS1.3", TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_unsetenv ("G_TLS_GNUTLS_PRIORITY");
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("*refused: *");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tls-version/tls13-connects", test_tls13_connects);
  g_test_add_func ("/tls-version/tls12-refused", test_tls12_refused);
  return g_test_run ();
}
