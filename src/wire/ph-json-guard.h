/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A look at untrusted JSON before json-glib parses it. json-glib 1.6
 * recurses once per '[' or '{', with no bound, so some 100 000 of them
 * overflow the stack; and its scanner is lenient (single-quoted strings,
 * comments, escapes that swallow the next quote), so a scan that counts
 * brackets is only sound if json-glib finds strings where it does. The
 * guard therefore passes only text that is strict JSON outside its
 * strings and has strict escapes inside them, nested at most max_depth
 * deep. It reads each byte once and allocates nothing. Input that ends
 * early passes if it is fine so far: json-glib reports it. */

typedef enum
{
  PH_JSON_GUARD_DEFAULT = 0,
  /* One object and only white space around it (json-glib takes "{}{}"). */
  PH_JSON_GUARD_ONE_OBJECT = 1 << 0,
  /* No "\u0000", at which json-glib cuts a string short. */
  PH_JSON_GUARD_NO_NUL = 1 << 1,
} PhJsonGuardFlags;

/* Fails with G_IO_ERROR_INVALID_DATA and a sentence that begins with
 * @subject ("The frame"), says what is wrong and where. */
gboolean ph_json_guard_check (const char *json, gsize length, guint max_depth,
                              PhJsonGuardFlags flags, const char *subject, GError **error);

G_END_DECLS
