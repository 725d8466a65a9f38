/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A profile's long-term identity: one key pair made on first start and
 * kept in the profile's folder, shown to people as a fingerprint.
 *
 * The key is Ed25519 (libsodium's crypto_sign), kept as its 32-byte seed.
 * The contacts work runs the Double Ratchet of libsignal-protocol-c on
 * this identity, and libsignal's identity keys are Curve25519 (a public
 * key serialized as the DJB type byte 0x05 and the X25519 point) with
 * XEdDSA signatures. The conversion goes one way only:
 * crypto_sign_ed25519_{pk,sk}_to_curve25519 turn this key into exactly
 * such a pair (ph_identity_get_signal_public_key and
 * ph_identity_copy_signal_private_key), and the XEdDSA signatures
 * libsignal makes with that private key verify with that public key. The
 * other way, a Curve25519 key loses the sign of the Edwards point, and
 * signing with it would need XEdDSA, which libsodium does not have and we
 * will not write ourselves. So Ed25519 serves both: our own signatures
 * (ph_identity_sign) with libsodium as it is, and libsignal unchanged.
 *
 * The fingerprint is 30 digits in six groups of five ("05137 98112 …"):
 * the "displayable fingerprint" of libsignal-protocol-c 2.3 for the
 * libsignal form of the public key, with an empty stable identifier
 * (Pinhole has no phone numbers: the key is the identity) and Signal's
 * 5200 iterations of SHA-512. Digits read out well in any language, and
 * the safety number of two contacts can then be libsignal's own: the two
 * fingerprints, the lower first, so each person finds their own half in
 * it. 30 digits hold 99.7 bits; finding another key with the same digits
 * costs about 2^99.7 × 5200 hashes.
 *
 * Files: PH_IDENTITY_KEY_FILE in the profile folder, mode 0600, in a
 * folder of mode 0700 owned by the user; a key file or folder that other
 * users can open is refused, never used. The file is written to a
 * temporary name and linked into place, so a crash leaves either no key
 * or a whole one, and two programs starting at once agree on one key. */

#define PH_IDENTITY_KEY_FILE "identity.key"
#define PH_IDENTITY_PUBLIC_KEY_SIZE 32
#define PH_IDENTITY_SIGNATURE_SIZE 64
#define PH_IDENTITY_SIGNAL_PUBLIC_KEY_SIZE 33
#define PH_IDENTITY_SIGNAL_PRIVATE_KEY_SIZE 32
#define PH_IDENTITY_FINGERPRINT_DIGITS 30

#define PH_IDENTITY_ERROR (ph_identity_error_quark ())

/* What can be wrong with a profile's identity or a backup of it; each
 * message says which file and what to do. */
typedef enum
{
  PH_IDENTITY_ERROR_NO_IDENTITY,         /* the profile has no identity yet */
  PH_IDENTITY_ERROR_INSECURE,            /* the key file or its folder is open to other users */
  PH_IDENTITY_ERROR_DAMAGED,             /* not well formed, or changed after it was written */
  PH_IDENTITY_ERROR_TRUNCATED,           /* a backup shorter than it says */
  PH_IDENTITY_ERROR_NOT_A_BACKUP,        /* no backup's magic at the start */
  PH_IDENTITY_ERROR_UNSUPPORTED_VERSION, /* written by a newer Pinhole */
  PH_IDENTITY_ERROR_WRONG_PASSPHRASE,
  PH_IDENTITY_ERROR_WEAK_PASSPHRASE, /* too short to protect a backup */
  PH_IDENTITY_ERROR_EXISTS,          /* the profile already has another identity */
} PhIdentityError;

GQuark ph_identity_error_quark (void);

#define PH_TYPE_IDENTITY (ph_identity_get_type ())
G_DECLARE_FINAL_TYPE (PhIdentity, ph_identity, PH, IDENTITY, GObject)

/* The profile folder when none is given (pinhole-cli's --data-dir):
 * $PINHOLE_DATA_DIR, else g_get_user_data_dir()/pinhole. */
char *ph_identity_get_default_profile_dir (void);

/* The identity in profile folder @dir, made (with the folder) when there
 * is none yet. Blocks on the disk, briefly. */
PhIdentity *ph_identity_load_or_create (const char *dir, GError **error);
/* The same without making one: PH_IDENTITY_ERROR_NO_IDENTITY when @dir
 * has none. */
PhIdentity *ph_identity_load (const char *dir, GError **error);
/* Stores @self as the identity of profile @dir (an import); TRUE also when
 * @dir already holds this same identity. PH_IDENTITY_ERROR_EXISTS, and
 * nothing changed, when it holds another one. */
gboolean ph_identity_save (PhIdentity *self, const char *dir, GError **error);

/* The Ed25519 public key (PH_IDENTITY_PUBLIC_KEY_SIZE bytes). */
GBytes *ph_identity_get_public_key (PhIdentity *self);
/* "ddddd ddddd ddddd ddddd ddddd ddddd" */
const char *ph_identity_get_fingerprint (PhIdentity *self);
/* The fingerprint of someone else's Ed25519 public key, or NULL when
 * @public_key is not one. */
char *ph_identity_fingerprint_for_public_key (GBytes *public_key);

/* libsignal-protocol-c's forms of this key: the public key as
 * curve_decode_point() reads it (0x05 || X25519 public key), and the
 * private key as curve_decode_private_point() reads it. Wipe @out with
 * sodium_memzero() when done. */
GBytes *ph_identity_get_signal_public_key (PhIdentity *self);
void ph_identity_copy_signal_private_key (PhIdentity *self,
                                          guint8 out[PH_IDENTITY_SIGNAL_PRIVATE_KEY_SIZE]);

/* A detached Ed25519 signature over @message under @context, a short
 * name for what is signed ("contact-save", …): a signature made for one
 * purpose never verifies for another. */
GBytes *ph_identity_sign (PhIdentity *self, const char *context, GBytes *message);
gboolean ph_identity_verify (GBytes *public_key, const char *context, GBytes *message,
                             GBytes *signature);

G_END_DECLS
