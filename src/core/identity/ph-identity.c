/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-identity"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <sodium.h>

#include "ph-identity-private.h"
#include "ph-identity.h"

/* The key file: magic, format version, the seed and the public key the
 * seed gives, which tells a damaged file from a file with another key. */
#define KEY_FILE_MAGIC "PHIDKEY" /* 8 bytes with its NUL */
#define KEY_FILE_MAGIC_SIZE 8
#define KEY_FILE_VERSION 1
#define KEY_FILE_SIZE                                                                              \
  (KEY_FILE_MAGIC_SIZE + 1 + PH_IDENTITY_SEED_SIZE + PH_IDENTITY_PUBLIC_KEY_SIZE)
#define SIGNAL_DJB_TYPE 0x05
#define FINGERPRINT_CHUNK 5

G_STATIC_ASSERT (sizeof KEY_FILE_MAGIC == KEY_FILE_MAGIC_SIZE);
G_STATIC_ASSERT (PH_IDENTITY_SEED_SIZE == crypto_sign_SEEDBYTES);
G_STATIC_ASSERT (PH_IDENTITY_PUBLIC_KEY_SIZE == crypto_sign_PUBLICKEYBYTES);
G_STATIC_ASSERT (PH_IDENTITY_SIGNATURE_SIZE == crypto_sign_BYTES);
G_STATIC_ASSERT (PH_IDENTITY_SIGNAL_PUBLIC_KEY_SIZE == 1 + crypto_scalarmult_curve25519_BYTES);
G_STATIC_ASSERT (PH_IDENTITY_SIGNAL_PRIVATE_KEY_SIZE == crypto_scalarmult_curve25519_SCALARBYTES);

struct _PhIdentity
{
  GObject parent_instance;

  guint8 secret_key[crypto_sign_SECRETKEYBYTES];
  GBytes *public_key;
  GBytes *signal_public_key;
  char *fingerprint;
};

G_DEFINE_FINAL_TYPE (PhIdentity, ph_identity, G_TYPE_OBJECT)

G_DEFINE_QUARK (ph - identity - error - quark, ph_identity_error)

static void
ensure_sodium (void)
{
  if (sodium_init () < 0)
    g_error ("libsodium could not be initialised");
}

static void
ph_identity_finalize (GObject *object)
{
  PhIdentity *self = (PhIdentity *)object;

  sodium_memzero (self->secret_key, sizeof self->secret_key);
  g_clear_pointer (&self->public_key, g_bytes_unref);
  g_clear_pointer (&self->signal_public_key, g_bytes_unref);
  g_clear_pointer (&self->fingerprint, g_free);

  G_OBJECT_CLASS (ph_identity_parent_class)->finalize (object);
}

static void
ph_identity_class_init (PhIdentityClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ph_identity_finalize;

  /* Runs once, before any instance draws a key. */
  ensure_sodium ();
}

static void
ph_identity_init (PhIdentity *self)
{
}

void
ph_identity_compute_fingerprint_digits (const guint8 *key, gsize key_size,
                                        const char *stable_identifier, guint iterations,
                                        char out[PH_IDENTITY_FINGERPRINT_DIGITS + 1])
{
  static const guint8 version[2] = { 0, 0 };
  guint8 hash[crypto_hash_sha512_BYTES];
  crypto_hash_sha512_state state;

  g_return_if_fail (key != NULL && stable_identifier != NULL && iterations > 0);

  /* As libsignal: H(version || key || id || key), then H(previous || key). */
  crypto_hash_sha512_init (&state);
  crypto_hash_sha512_update (&state, version, sizeof version);
  crypto_hash_sha512_update (&state, key, key_size);
  crypto_hash_sha512_update (&state, (const guint8 *)stable_identifier, strlen (stable_identifier));
  crypto_hash_sha512_update (&state, key, key_size);
  crypto_hash_sha512_final (&state, hash);
  for (guint i = 1; i < iterations; i++)
    {
      crypto_hash_sha512_init (&state);
      crypto_hash_sha512_update (&state, hash, sizeof hash);
      crypto_hash_sha512_update (&state, key, key_size);
      crypto_hash_sha512_final (&state, hash);
    }

  /* Each five bytes, as a 40-bit big-endian number, give five digits. */
  for (guint i = 0; i < PH_IDENTITY_FINGERPRINT_DIGITS; i += FINGERPRINT_CHUNK)
    {
      guint64 chunk = 0;

      for (guint j = 0; j < FINGERPRINT_CHUNK; j++)
        chunk = (chunk << 8) | hash[i + j];
      g_snprintf (out + i, FINGERPRINT_CHUNK + 1, "%05u", (guint)(chunk % 100000));
    }
}

/* "ddddd ddddd …" for the libsignal form of @signal_key. */
static char *
format_fingerprint (const guint8 signal_key[PH_IDENTITY_SIGNAL_PUBLIC_KEY_SIZE])
{
  char digits[PH_IDENTITY_FINGERPRINT_DIGITS + 1];
  GString *out = g_string_sized_new (PH_IDENTITY_FINGERPRINT_DIGITS * 6 / 5);

  ph_identity_compute_fingerprint_digits (signal_key, PH_IDENTITY_SIGNAL_PUBLIC_KEY_SIZE, "",
                                          PH_IDENTITY_FINGERPRINT_ITERATIONS, digits);
  for (guint i = 0; i < PH_IDENTITY_FINGERPRINT_DIGITS; i += FINGERPRINT_CHUNK)
    {
      if (i > 0)
        g_string_append_c (out, ' ');
      g_string_append_len (out, digits + i, FINGERPRINT_CHUNK);
    }
  return g_string_free (out, FALSE);
}

/* libsignal's serialized public key for an Ed25519 key; FALSE when
 * @public_key is not a point that converts. */
static gboolean
to_signal_public_key (const guint8 public_key[PH_IDENTITY_PUBLIC_KEY_SIZE],
                      guint8 out[PH_IDENTITY_SIGNAL_PUBLIC_KEY_SIZE])
{
  out[0] = SIGNAL_DJB_TYPE;
  return crypto_sign_ed25519_pk_to_curve25519 (out + 1, public_key) == 0;
}

PhIdentity *
ph_identity_new_from_seed (const guint8 seed[PH_IDENTITY_SEED_SIZE])
{
  PhIdentity *self = g_object_new (PH_TYPE_IDENTITY, NULL);
  guint8 public_key[PH_IDENTITY_PUBLIC_KEY_SIZE];
  guint8 signal_key[PH_IDENTITY_SIGNAL_PUBLIC_KEY_SIZE];

  crypto_sign_seed_keypair (public_key, self->secret_key, seed);
  /* A key made from a seed is never of small order, so it converts. */
  if (!to_signal_public_key (public_key, signal_key))
    g_assert_not_reached ();

  self->public_key = g_bytes_new (public_key, sizeof public_key);
  self->signal_public_key = g_bytes_new (signal_key, sizeof signal_key);
  self->fingerprint = format_fingerprint (signal_key);
  return self;
}

void
ph_identity_copy_seed (PhIdentity *self, guint8 out[PH_IDENTITY_SEED_SIZE])
{
  g_return_if_fail (PH_IS_IDENTITY (self));

  crypto_sign_ed25519_sk_to_seed (out, self->secret_key);
}

char *
ph_identity_get_default_profile_dir (void)
{
  const char *dir = g_getenv ("PINHOLE_DATA_DIR");

  if (dir != NULL && *dir != '\0')
    return g_strdup (dir);
  return g_build_filename (g_get_user_data_dir (), "pinhole", NULL);
}

static gboolean fail_with_errno (GError **error, int saved_errno, const char *format, ...)
    G_GNUC_PRINTF (3, 4);

/* @format says what failed; the system's reason follows it, after a
 * colon. */
static gboolean
fail_with_errno (GError **error, int saved_errno, const char *format, ...)
{
  g_autofree char *what = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "%s: %s.", what,
               g_strerror (saved_errno));
  return FALSE;
}

/* Only the user may open the profile folder and the key: another user who
 * could read the key could be us to our contacts, one who could write the
 * folder could put their own key in. */
static gboolean
check_private (const char *path, const struct stat *st, gboolean is_folder, GError **error)
{
  if (st->st_uid != getuid ())
    {
      g_set_error (error, PH_IDENTITY_ERROR, PH_IDENTITY_ERROR_INSECURE,
                   _ ("%s belongs to another user, so Pinhole does not use it for your identity."),
                   path);
      return FALSE;
    }
  if ((st->st_mode & 077) == 0)
    return TRUE;

  if (is_folder)
    g_set_error (error, PH_IDENTITY_ERROR, PH_IDENTITY_ERROR_INSECURE,
                 /* Translators: the first and last %s are a folder, %04o
                  * its permissions in octal, as in “0755”. */
                 _ ("Other users can open the profile folder %s (mode %04o), so Pinhole does not "
                    "keep an identity there. Run “chmod 700 %s” to make it private."),
                 path, (guint)(st->st_mode & 07777), path);
  else
    g_set_error (error, PH_IDENTITY_ERROR, PH_IDENTITY_ERROR_INSECURE,
                 /* Translators: the first and last %s are a file, %04o its
                  * permissions in octal, as in “0644”. */
                 _ ("Other users can read the identity key %s (mode %04o), so Pinhole does not "
                    "use it. If nobody else can have copied it, run “chmod 600 %s”."),
                 path, (guint)(st->st_mode & 07777), path);
  return FALSE;
}

/* The profile folder exists (when @create, it is made private: 0700) and
 * is private to the user. */
static gboolean
prepare_profile_dir (const char *dir, gboolean create, GError **error)
{
  struct stat st;

  if (create && g_mkdir_with_parents (dir, 0700) != 0)
    /* Translators: %s is a folder; the system's reason follows after a colon. */
    return fail_with_errno (error, errno, _ ("Could not make the profile folder %s"), dir);

  if (stat (dir, &st) != 0)
    {
      int saved_errno = errno;

      if (saved_errno == ENOENT)
        {
          g_set_error (error, PH_IDENTITY_ERROR, PH_IDENTITY_ERROR_NO_IDENTITY,
                       _ ("The profile %s has no identity yet."), dir);
          return FALSE;
        }
      /* Translators: %s is a folder; the system's reason follows after a colon. */
      return fail_with_errno (error, saved_errno, _ ("Could not open the profile folder %s"), dir);
    }
  if (!S_ISDIR (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY,
                   _ ("The profile folder %s is not a folder."), dir);
      return FALSE;
    }
  return check_private (dir, &st, TRUE, error);
}

static gssize
read_all (int fd, guint8 *buffer, gsize size)
{
  gsize done = 0;

  while (done < size)
    {
      gssize ret = read (fd, buffer + done, size - done);

      if (ret < 0 && errno == EINTR)
        continue;
      if (ret < 0)
        return -1;
      if (ret == 0)
        break;
      done += ret;
    }
  return done;
}

static gboolean
write_all (int fd, const guint8 *buffer, gsize size)
{
  gsize done = 0;

  while (done < size)
    {
      gssize ret = write (fd, buffer + done, size - done);

      if (ret < 0 && errno == EINTR)
        continue;
      if (ret < 0)
        return FALSE;
      done += ret;
    }
  return TRUE;
}

static PhIdentity *
parse_key_file (const char *path, const guint8 *contents, gsize size, GError **error)
{
  g_autoptr (PhIdentity) identity = NULL;
  const guint8 *seed = contents + KEY_FILE_MAGIC_SIZE + 1;
  const guint8 *public_key = seed + PH_IDENTITY_SEED_SIZE;

  if (size < KEY_FILE_MAGIC_SIZE + 1 || memcmp (contents, KEY_FILE_MAGIC, KEY_FILE_MAGIC_SIZE) != 0)
    {
      g_set_error (error, PH_IDENTITY_ERROR, PH_IDENTITY_ERROR_DAMAGED,
                   _ ("%s is not a Pinhole identity key. Restore it from a backup, or move it "
                      "away to start a new identity."),
                   path);
      return NULL;
    }
  if (contents[KEY_FILE_MAGIC_SIZE] > KEY_FILE_VERSION)
    {
      g_set_error (error, PH_IDENTITY_ERROR, PH_IDENTITY_ERROR_UNSUPPORTED_VERSION,
                   _ ("The identity key %s was written by a newer version of Pinhole (format %u); "
                      "update Pinhole to use it."),
                   path, contents[KEY_FILE_MAGIC_SIZE]);
      return NULL;
    }

  if (size == KEY_FILE_SIZE && contents[KEY_FILE_MAGIC_SIZE] == KEY_FILE_VERSION)
    identity = ph_identity_new_from_seed (seed);
  if (identity == NULL
      || sodium_memcmp (g_bytes_get_data (identity->public_key, NULL), public_key,
                        PH_IDENTITY_PUBLIC_KEY_SIZE)
             != 0)
    {
      g_set_error (error, PH_IDENTITY_ERROR, PH_IDENTITY_ERROR_DAMAGED,
                   _ ("The identity key %s is damaged. Restore it from a backup."), path);
      return NULL;
    }
  return g_steal_pointer (&identity);
}

static PhIdentity *
load_key_file (const char *dir, GError **error)
{
  g_autofree char *path = g_build_filename (dir, PH_IDENTITY_KEY_FILE, NULL);
  /* One byte more than a key file, to notice a longer file. */
  guint8 contents[KEY_FILE_SIZE + 1];
  PhIdentity *identity;
  struct stat st;
  gssize size;
  int fd;

  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    {
      int saved_errno = errno;

      if (saved_errno == ENOENT)
        {
          g_set_error (error, PH_IDENTITY_ERROR, PH_IDENTITY_ERROR_NO_IDENTITY,
                       _ ("The profile %s has no identity yet."), dir);
          return NULL;
        }
      /* Translators: %s is a file; the system's reason follows after a colon. */
      fail_with_errno (error, saved_errno, _ ("Could not read the identity key %s"), path);
      return NULL;
    }

  /* The checks are on the file opened, not on a name that could change. */
  if (fstat (fd, &st) != 0)
    {
      fail_with_errno (error, errno, _ ("Could not read the identity key %s"), path);
      close (fd);
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, PH_IDENTITY_ERROR, PH_IDENTITY_ERROR_DAMAGED,
                   _ ("The identity key %s is not a file."), path);
      close (fd);
      return NULL;
    }
  if (!check_private (path, &st, FALSE, error))
    {
      close (fd);
      return NULL;
    }

  size = read_all (fd, contents, sizeof contents);
  if (size < 0)
    {
      fail_with_errno (error, errno, _ ("Could not read the identity key %s"), path);
      close (fd);
      sodium_memzero (contents, sizeof contents);
      return NULL;
    }
  close (fd);

  identity = parse_key_file (path, contents, size, error);
  sodium_memzero (contents, sizeof contents);
  return identity;
}

/* Makes a directory entry durable; some file systems cannot, and the key
 * is written already then, so a failure here is not one. */
static void
sync_folder (const char *dir)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0)
    return;
  fsync (fd);
  close (fd);
}

/* Writes the key to a temporary file, then links it into place: link()
 * fails when a key file is there, so a key is never replaced. FALSE with
 * *@out_exists and no error when one was there (another program made it
 * meanwhile). */
static gboolean
publish_key_file (PhIdentity *self, const char *dir, gboolean *out_exists, GError **error)
{
  g_autofree char *path = g_build_filename (dir, PH_IDENTITY_KEY_FILE, NULL);
  g_autofree char *temporary = g_build_filename (dir, "." PH_IDENTITY_KEY_FILE ".XXXXXX", NULL);
  guint8 contents[KEY_FILE_SIZE];
  gboolean written;
  int saved_errno;
  int fd;

  *out_exists = FALSE;

  fd = g_mkstemp_full (temporary, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    /* Translators: %s is a folder; the system's reason follows after a colon. */
    return fail_with_errno (error, errno, _ ("Could not write an identity key in %s"), dir);

  memcpy (contents, KEY_FILE_MAGIC, KEY_FILE_MAGIC_SIZE);
  contents[KEY_FILE_MAGIC_SIZE] = KEY_FILE_VERSION;
  ph_identity_copy_seed (self, contents + KEY_FILE_MAGIC_SIZE + 1);
  memcpy (contents + KEY_FILE_MAGIC_SIZE + 1 + PH_IDENTITY_SEED_SIZE,
          g_bytes_get_data (self->public_key, NULL), PH_IDENTITY_PUBLIC_KEY_SIZE);

  written = write_all (fd, contents, sizeof contents) && fsync (fd) == 0;
  saved_errno = errno;
  sodium_memzero (contents, sizeof contents);
  if (close (fd) != 0 && written)
    {
      written = FALSE;
      saved_errno = errno;
    }
  if (!written)
    {
      unlink (temporary);
      return fail_with_errno (error, saved_errno, _ ("Could not write an identity key in %s"), dir);
    }

  if (link (temporary, path) != 0)
    {
      saved_errno = errno;
      unlink (temporary);
      if (saved_errno == EEXIST)
        {
          *out_exists = TRUE;
          return FALSE;
        }
      /* Translators: %s is a file; the system's reason follows after a colon. */
      return fail_with_errno (error, saved_errno, _ ("Could not write the identity key %s"), path);
    }
  unlink (temporary);
  sync_folder (dir);
  return TRUE;
}

PhIdentity *
ph_identity_load (const char *dir, GError **error)
{
  g_return_val_if_fail (dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!prepare_profile_dir (dir, FALSE, error))
    return NULL;
  return load_key_file (dir, error);
}

PhIdentity *
ph_identity_load_or_create (const char *dir, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autoptr (PhIdentity) identity = NULL;
  guint8 seed[PH_IDENTITY_SEED_SIZE];
  gboolean exists;

  g_return_val_if_fail (dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!prepare_profile_dir (dir, TRUE, error))
    return NULL;

  identity = load_key_file (dir, &local_error);
  if (identity != NULL)
    return g_steal_pointer (&identity);
  if (!g_error_matches (local_error, PH_IDENTITY_ERROR, PH_IDENTITY_ERROR_NO_IDENTITY))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  randombytes_buf (seed, sizeof seed);
  identity = ph_identity_new_from_seed (seed);
  sodium_memzero (seed, sizeof seed);

  if (publish_key_file (identity, dir, &exists, error))
    return g_steal_pointer (&identity);
  if (!exists)
    return NULL;

  /* Another program made the identity first: that one is the profile's. */
  g_debug ("%s got an identity meanwhile; using it", dir);
  return load_key_file (dir, error);
}

static gboolean
is_same_identity (PhIdentity *self, PhIdentity *existing, const char *dir, GError **error)
{
  if (g_bytes_equal (self->public_key, existing->public_key))
    return TRUE;

  g_set_error (error, PH_IDENTITY_ERROR, PH_IDENTITY_ERROR_EXISTS,
               /* Translators: the first %s is a folder, the second the
                * fingerprint of the identity kept there. */
               _ ("The profile %s already has another identity (fingerprint %s), and Pinhole does "
                  "not replace one. Choose a new profile folder, or move that one away first."),
               dir, existing->fingerprint);
  return FALSE;
}

gboolean
ph_identity_save (PhIdentity *self, const char *dir, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autoptr (PhIdentity) existing = NULL;
  gboolean exists;

  g_return_val_if_fail (PH_IS_IDENTITY (self), FALSE);
  g_return_val_if_fail (dir != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!prepare_profile_dir (dir, TRUE, error))
    return FALSE;

  /* A damaged or unreadable key is an error too: it is never overwritten. */
  existing = load_key_file (dir, &local_error);
  if (existing != NULL)
    return is_same_identity (self, existing, dir, error);
  if (!g_error_matches (local_error, PH_IDENTITY_ERROR, PH_IDENTITY_ERROR_NO_IDENTITY))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  if (publish_key_file (self, dir, &exists, error))
    return TRUE;
  if (!exists)
    return FALSE;

  existing = load_key_file (dir, error);
  return existing != NULL && is_same_identity (self, existing, dir, error);
}

GBytes *
ph_identity_get_public_key (PhIdentity *self)
{
  g_return_val_if_fail (PH_IS_IDENTITY (self), NULL);

  return self->public_key;
}

const char *
ph_identity_get_fingerprint (PhIdentity *self)
{
  g_return_val_if_fail (PH_IS_IDENTITY (self), NULL);

  return self->fingerprint;
}

char *
ph_identity_fingerprint_for_public_key (GBytes *public_key)
{
  guint8 signal_key[PH_IDENTITY_SIGNAL_PUBLIC_KEY_SIZE];

  g_return_val_if_fail (public_key != NULL, NULL);

  ensure_sodium ();
  if (g_bytes_get_size (public_key) != PH_IDENTITY_PUBLIC_KEY_SIZE
      || !to_signal_public_key (g_bytes_get_data (public_key, NULL), signal_key))
    return NULL;
  return format_fingerprint (signal_key);
}

GBytes *
ph_identity_get_signal_public_key (PhIdentity *self)
{
  g_return_val_if_fail (PH_IS_IDENTITY (self), NULL);

  return self->signal_public_key;
}

void
ph_identity_copy_signal_private_key (PhIdentity *self,
                                     guint8 out[PH_IDENTITY_SIGNAL_PRIVATE_KEY_SIZE])
{
  g_return_if_fail (PH_IS_IDENTITY (self));

  crypto_sign_ed25519_sk_to_curve25519 (out, self->secret_key);
}

/* length of @context (one byte) || @context || @message */
static guint8 *
build_signed_bytes (const char *context, GBytes *message, gsize *out_size)
{
  gsize context_length = strlen (context);
  gsize message_size;
  const guint8 *message_data = g_bytes_get_data (message, &message_size);
  guint8 *bytes = g_malloc (1 + context_length + message_size);

  bytes[0] = (guint8)context_length;
  memcpy (bytes + 1, context, context_length);
  if (message_size > 0)
    memcpy (bytes + 1 + context_length, message_data, message_size);
  *out_size = 1 + context_length + message_size;
  return bytes;
}

GBytes *
ph_identity_sign (PhIdentity *self, const char *context, GBytes *message)
{
  g_autofree guint8 *bytes = NULL;
  guint8 signature[PH_IDENTITY_SIGNATURE_SIZE];
  gsize size;

  g_return_val_if_fail (PH_IS_IDENTITY (self), NULL);
  g_return_val_if_fail (context != NULL && *context != '\0' && strlen (context) <= G_MAXUINT8,
                        NULL);
  g_return_val_if_fail (message != NULL, NULL);

  bytes = build_signed_bytes (context, message, &size);
  crypto_sign_detached (signature, NULL, bytes, size, self->secret_key);
  return g_bytes_new (signature, sizeof signature);
}

gboolean
ph_identity_verify (GBytes *public_key, const char *context, GBytes *message, GBytes *signature)
{
  g_autofree guint8 *bytes = NULL;
  gsize size;

  g_return_val_if_fail (public_key != NULL && message != NULL && signature != NULL, FALSE);
  g_return_val_if_fail (context != NULL && *context != '\0' && strlen (context) <= G_MAXUINT8,
                        FALSE);

  if (g_bytes_get_size (public_key) != PH_IDENTITY_PUBLIC_KEY_SIZE
      || g_bytes_get_size (signature) != PH_IDENTITY_SIGNATURE_SIZE)
    return FALSE;

  ensure_sodium ();
  bytes = build_signed_bytes (context, message, &size);
  return crypto_sign_verify_detached (g_bytes_get_data (signature, NULL), bytes, size,
                                      g_bytes_get_data (public_key, NULL))
         == 0;
}
