/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-json-guard"

#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "ph-json-guard.h"

/* Bytes of a string read one by one before memchr takes over. */
#define SHORT_RUN 16

typedef enum
{
  BYTE_FORBIDDEN = 0,
  BYTE_PLAIN,
  BYTE_OPEN,
  BYTE_CLOSE,
  BYTE_QUOTE,
} ByteClass;

/* Outside strings: white space, structure, and what numbers, true, false
 * and null are spelt with. Everything else (quotes ', comments /, #,
 * NUL, bytes over 0x7f) would let json-glib see strings or tokens where
 * this scan does not. */
static const guint8 byte_class[256] = {
  [' '] = BYTE_PLAIN, ['\t'] = BYTE_PLAIN, ['\r'] = BYTE_PLAIN, ['\n'] = BYTE_PLAIN,
  [':'] = BYTE_PLAIN, [','] = BYTE_PLAIN,  ['-'] = BYTE_PLAIN,  ['+'] = BYTE_PLAIN,
  ['.'] = BYTE_PLAIN, ['0'] = BYTE_PLAIN,  ['1'] = BYTE_PLAIN,  ['2'] = BYTE_PLAIN,
  ['3'] = BYTE_PLAIN, ['4'] = BYTE_PLAIN,  ['5'] = BYTE_PLAIN,  ['6'] = BYTE_PLAIN,
  ['7'] = BYTE_PLAIN, ['8'] = BYTE_PLAIN,  ['9'] = BYTE_PLAIN,  ['e'] = BYTE_PLAIN,
  ['E'] = BYTE_PLAIN, ['t'] = BYTE_PLAIN,  ['r'] = BYTE_PLAIN,  ['u'] = BYTE_PLAIN,
  ['f'] = BYTE_PLAIN, ['a'] = BYTE_PLAIN,  ['l'] = BYTE_PLAIN,  ['s'] = BYTE_PLAIN,
  ['n'] = BYTE_PLAIN, ['['] = BYTE_OPEN,   ['{'] = BYTE_OPEN,   [']'] = BYTE_CLOSE,
  ['}'] = BYTE_CLOSE, ['"'] = BYTE_QUOTE,
};

typedef enum
{
  SCAN_OK,
  SCAN_INVALID, /* not strict JSON: refused */
  SCAN_CUT,     /* the input ends inside: json-glib says so */
} ScanResult;

static gboolean
is_json_space (char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The value of hex digit @c, or -1: inline, as texts may be all \u escapes. */
static inline int
hex_digit_value (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  c |= 0x20; /* lower case */
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

static ScanResult
read_hex4 (const char *p, gsize left, gunichar *out_value)
{
  *out_value = 0;
  for (guint k = 0; k < 4; k++)
    {
      int digit;

      if (k == left)
        return SCAN_CUT;
      digit = hex_digit_value (p[k]);
      if (digit < 0)
        return SCAN_INVALID;
      *out_value = (*out_value << 4) | (gunichar)digit;
    }
  return SCAN_OK;
}

/* Checks the escape whose backslash is json[*at] and leaves *at on its
 * last byte. json-glib's scanner takes the four bytes after "\u" and,
 * after any surrogate, six more as "\uXXXX" whatever they are: a quote
 * among them ends no string for it. So only the escapes of strict JSON
 * pass, a surrogate only as a high and low pair. */
static ScanResult
check_escape (const char *json, gsize length, gsize *at, gboolean *out_is_nul)
{
  const char *p = json + *at + 1;
  gsize left = length - *at - 1;
  gunichar high;
  gunichar low;
  ScanResult result;

  *out_is_nul = FALSE;
  if (left == 0)
    return SCAN_CUT;
  switch (*p)
    {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
      *at += 1;
      return SCAN_OK;
    case 'u':
      break;
    default:
      return SCAN_INVALID;
    }

  result = read_hex4 (p + 1, left - 1, &high);
  if (result != SCAN_OK)
    return result;
  *at += 5;
  *out_is_nul = high == 0;
  if (high < 0xd800 || high > 0xdfff)
    return SCAN_OK;
  if (high > 0xdbff)
    return SCAN_INVALID;

  p += 5;
  left -= 5;
  if (left == 0)
    return SCAN_CUT;
  if (p[0] != '\\')
    return SCAN_INVALID;
  if (left == 1)
    return SCAN_CUT;
  if (p[1] != 'u')
    return SCAN_INVALID;
  result = read_hex4 (p + 2, left - 2, &low);
  if (result != SCAN_OK)
    return result;
  if (low < 0xdc00 || low > 0xdfff)
    return SCAN_INVALID;
  *at += 6;
  return SCAN_OK;
}

/* Moves *at from a string's opening quote to its closing one. Short runs
 * between escapes are read byte by byte; a longer one is skipped with
 * memchr, far faster for 64 KiB texts. The next quote is looked for only
 * once a run is long, and again only when an escape took it, so the scan
 * stays linear whatever the mix. */
static ScanResult
skip_string (const char *json, gsize length, gsize *at, PhJsonGuardFlags flags, const char *subject,
             GError **error)
{
  gsize i = *at + 1;
  gsize quote = 0; /* the next quote from where it was looked for, or length */
  gboolean quote_known = FALSE;

  for (;;)
    {
      gsize run_end = MIN (length, i + SHORT_RUN);
      gsize escape_at;
      gboolean is_nul;
      ScanResult result;

      while (i < run_end && json[i] != '"' && json[i] != '\\')
        i++;
      if (i == run_end)
        {
          const char *backslash;

          if (!quote_known || quote < i)
            {
              const char *found = memchr (json + i, '"', length - i);

              quote = found != NULL ? (gsize)(found - json) : length;
              quote_known = TRUE;
            }
          backslash = memchr (json + i, '\\', quote - i);
          i = backslash != NULL ? (gsize)(backslash - json) : quote;
        }

      if (i == length)
        return SCAN_CUT;
      if (json[i] == '"')
        {
          *at = i;
          return SCAN_OK;
        }

      escape_at = i;
      result = check_escape (json, length, &i, &is_nul);
      if (result == SCAN_INVALID)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "%s has an invalid escape in a string at offset %zu", subject, escape_at);
          return SCAN_INVALID;
        }
      if (result == SCAN_CUT)
        return SCAN_CUT;
      if (is_nul && (flags & PH_JSON_GUARD_NO_NUL))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "%s contains a NUL character (\\u0000)", subject);
          return SCAN_INVALID;
        }
      i++;
    }
}

static gboolean
check_only_space_after (const char *json, gsize length, gsize at, const char *subject,
                        GError **error)
{
  for (; at < length; at++)
    {
      if (!is_json_space (json[at]))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "%s has data after its JSON object", subject);
          return FALSE;
        }
    }
  return TRUE;
}

static void
set_forbidden_error (const char *json, gsize at, const char *subject, GError **error)
{
  guchar c = json[at];

  if (g_ascii_isgraph (c))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "%s has “%c” outside a string at offset %zu, which strict JSON does not allow",
                 subject, c, at);
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "%s has the byte 0x%02X outside a string at offset %zu, which strict JSON "
                 "does not allow",
                 subject, c, at);
}

gboolean
ph_json_guard_check (const char *json, gsize length, guint max_depth, PhJsonGuardFlags flags,
                     const char *subject, GError **error)
{
  guint depth = 0;
  gsize i = 0;

  g_return_val_if_fail (json != NULL || length == 0, FALSE);
  g_return_val_if_fail (subject != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (flags & PH_JSON_GUARD_ONE_OBJECT)
    {
      while (i < length && is_json_space (json[i]))
        i++;
      if (i == length || json[i] != '{')
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s is not a JSON object",
                       subject);
          return FALSE;
        }
    }

  for (; i < length; i++)
    {
      switch ((ByteClass)byte_class[(guchar)json[i]])
        {
        case BYTE_PLAIN:
          break;

        case BYTE_OPEN:
          if (++depth > max_depth)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "%s nests JSON more than %u levels deep", subject, max_depth);
              return FALSE;
            }
          break;

        case BYTE_CLOSE:
          /* A stray one is json-glib's to report. */
          if (depth > 0 && --depth == 0 && (flags & PH_JSON_GUARD_ONE_OBJECT))
            return check_only_space_after (json, length, i + 1, subject, error);
          break;

        case BYTE_QUOTE:
          switch (skip_string (json, length, &i, flags, subject, error))
            {
            case SCAN_OK:
              break;
            case SCAN_CUT:
              return TRUE;
            case SCAN_INVALID:
            default:
              return FALSE;
            }
          break;

        case BYTE_FORBIDDEN:
        default:
          set_forbidden_error (json, i, subject, error);
          return FALSE;
        }
    }

  return TRUE;
}
