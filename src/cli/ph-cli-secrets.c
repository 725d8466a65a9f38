/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "pinhole-cli"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <gio/gio.h>

#include "ph-cli-secrets.h"

/* Frees a secret (a password, a code) after wiping it. */
void
ph_cli_secret_free (char *secret)
{
  if (secret != NULL)
    sodium_memzero (secret, strlen (secret));
  g_free (secret);
}

/* The first line of @path, without its newline: a password kept in a
 * file stays out of `ps`, which shows every argument. */
char *
ph_cli_read_secret_file (const char *path, GError **error)
{
  g_autoptr (PhCliSecret) contents = NULL;
  gsize length;

  if (!g_file_get_contents (path, &contents, &length, error))
    return NULL;
  contents[strcspn (contents, "\r\n")] = '\0';
  if (*contents == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s is empty", path);
      return NULL;
    }
  return g_strdup (contents);
}

/* A passphrase longer than this is a file read by mistake. */
#define MAX_PASSPHRASE_LENGTH 1024

/* One line from @fd, without its line ending. Read a byte at a time, so
 * no stdio buffer keeps a copy and nothing after the line is consumed. */
static char *
read_secret_line (int fd, GError **error)
{
  char line[MAX_PASSPHRASE_LENGTH + 1];
  gsize length = 0;
  char *secret;

  for (;;)
    {
      char c;
      gssize ret = read (fd, &c, 1);

      if (ret < 0 && errno == EINTR)
        continue;
      if (ret < 0)
        {
          int saved_errno = errno;

          sodium_memzero (line, sizeof line);
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                       "Could not read the passphrase: %s", g_strerror (saved_errno));
          return NULL;
        }
      if (ret == 0 || c == '\n')
        break;
      if (length == MAX_PASSPHRASE_LENGTH)
        {
          sodium_memzero (line, sizeof line);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "The passphrase is longer than %d bytes.", MAX_PASSPHRASE_LENGTH);
          return NULL;
        }
      line[length++] = c;
    }
  if (length > 0 && line[length - 1] == '\r')
    length--;

  secret = g_strndup (line, length);
  sodium_memzero (line, sizeof line);
  if (*secret == '\0')
    {
      ph_cli_secret_free (secret);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "The passphrase is empty.");
      return NULL;
    }
  return secret;
}

/* The terminal as it was before echo was turned off, for a signal that
 * arrives while a passphrase is typed. */
static struct termios terminal_before_prompt;

static void
restore_terminal_and_die (int signum)
{
  tcsetattr (STDIN_FILENO, TCSAFLUSH, &terminal_before_prompt);
  signal (signum, SIG_DFL);
  raise (signum);
}

/* Asks on the terminal, with echo off (the newline still shows). */
static char *
prompt_secret (const char *prompt, GError **error)
{
  static const int signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
  struct sigaction restore = { 0 };
  struct sigaction before[G_N_ELEMENTS (signals)];
  struct termios quiet;
  char *secret;

  if (tcgetattr (STDIN_FILENO, &terminal_before_prompt) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "Could not turn off the terminal's echo: %s", g_strerror (saved_errno));
      return NULL;
    }
  restore.sa_handler = restore_terminal_and_die;
  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    sigaction (signals[i], &restore, &before[i]);

  /* Echo goes off before the prompt shows, so nothing typed after it
   * can be echoed or flushed away. */
  quiet = terminal_before_prompt;
  quiet.c_lflag &= ~ECHO;
  quiet.c_lflag |= ECHONL;
  tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet);
  fprintf (stderr, "%s", prompt);
  fflush (stderr);
  secret = read_secret_line (STDIN_FILENO, error);
  tcsetattr (STDIN_FILENO, TCSAFLUSH, &terminal_before_prompt);

  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    sigaction (signals[i], &before[i], NULL);
  return secret;
}

/* The backup's passphrase: the first line of --passphrase-file, else
 * typed on the terminal (twice when it protects a new backup), else the
 * first line of standard input. Never an argument: `ps` shows those. */
char *
ph_cli_read_passphrase (const char *passphrase_file, gboolean twice, GError **error)
{
  g_autoptr (PhCliSecret) again = NULL;
  char *passphrase;

  if (passphrase_file != NULL)
    {
      int fd = open (passphrase_file, O_RDONLY | O_CLOEXEC | O_NOCTTY);

      if (fd < 0)
        {
          int saved_errno = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                       "Could not read the passphrase file %s: %s", passphrase_file,
                       g_strerror (saved_errno));
          return NULL;
        }
      passphrase = read_secret_line (fd, error);
      close (fd);
      return passphrase;
    }

  if (!isatty (STDIN_FILENO))
    return read_secret_line (STDIN_FILENO, error);

  passphrase = prompt_secret ("Passphrase of the backup: ", error);
  if (passphrase == NULL || !twice)
    return passphrase;
  again = prompt_secret ("The same passphrase again: ", error);
  if (again == NULL)
    {
      ph_cli_secret_free (passphrase);
      return NULL;
    }
  if (!g_str_equal (passphrase, again))
    {
      ph_cli_secret_free (passphrase);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "The two passphrases differ; nothing was exported.");
      return NULL;
    }
  return passphrase;
}

/* One line: a JSON event with --json, else a sentence. */
