/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-session-description"

#include "config.h"

#include <stdarg.h>
#include <string.h>

#include <gio/gio.h>

#include "ph-error.h"
#include "ph-session-description.h"

/* The writer and the strict parser of one small SDP dialect. The parser
 * is most of this file, and long on purpose: every line a peer can send
 * is checked here, with an error that names the line, before anything
 * else sees it (fuzzed: fuzz/fuzz-session-description.c). */

#define FINGERPRINT_BYTES 32
#define FINGERPRINT_TEXT_LENGTH (FINGERPRINT_BYTES * 3 - 1)
#define ICE_UFRAG_MIN_LENGTH 4
#define ICE_PWD_MIN_LENGTH 22
#define ICE_CREDENTIAL_MAX 256
#define FOUNDATION_MAX_LENGTH 32
#define ATTRIBUTE_NAME_MAX 64
#define QUOTE_MAX 40
#define MEDIA_LINE "application 9 UDP/TLS/PINHOLE text"

/* Session attributes that may appear once per description. */
typedef enum
{
  UNIQUE_ICE_OPTIONS,
  UNIQUE_FINGERPRINT,
  UNIQUE_SETUP,
  UNIQUE_NAME,
  UNIQUE_MID,
  UNIQUE_ICE_UFRAG,
  UNIQUE_ICE_PWD,
  UNIQUE_END_OF_CANDIDATES,
  UNIQUE_LINK_ISN,
  N_UNIQUE
} UniqueAttribute;

static const char *const unique_names[N_UNIQUE] = {
  [UNIQUE_ICE_OPTIONS] = "ice-options",
  [UNIQUE_FINGERPRINT] = "fingerprint",
  [UNIQUE_SETUP] = "setup",
  [UNIQUE_NAME] = "x-pinhole-name",
  [UNIQUE_MID] = "mid",
  [UNIQUE_ICE_UFRAG] = "ice-ufrag",
  [UNIQUE_ICE_PWD] = "ice-pwd",
  [UNIQUE_END_OF_CANDIDATES] = "end-of-candidates",
  [UNIQUE_LINK_ISN] = "x-pinhole-link-isn",
};

typedef struct
{
  PhSessionDescription *desc;
  guint line_no;
  char label[ATTRIBUTE_NAME_MAX + 3]; /* "a=<name>" or "<letter>=" or "" */
  guint o_line;
  guint s_line;
  guint t_line;
  guint m_line;
  guint unique_lines[N_UNIQUE];
} Parser;

PhSessionDescription *
ph_session_description_new (void)
{
  PhSessionDescription *self = g_new0 (PhSessionDescription, 1);

  self->candidates = g_ptr_array_new_with_free_func (g_free);
  return self;
}

void
ph_session_description_free (PhSessionDescription *self)
{
  if (self == NULL)
    return;

  g_free (self->name);
  g_free (self->fingerprint);
  g_free (self->setup);
  g_free (self->ice_ufrag);
  g_free (self->ice_pwd);
  g_clear_pointer (&self->candidates, g_ptr_array_unref);
  g_free (self);
}

PhSessionDescription *
ph_session_description_copy (const PhSessionDescription *self)
{
  PhSessionDescription *copy;

  g_return_val_if_fail (self != NULL, NULL);

  copy = ph_session_description_new ();
  copy->session_id = self->session_id;
  copy->session_version = self->session_version;
  copy->name = g_strdup (self->name);
  copy->fingerprint = g_strdup (self->fingerprint);
  copy->setup = g_strdup (self->setup);
  copy->ice_ufrag = g_strdup (self->ice_ufrag);
  copy->ice_pwd = g_strdup (self->ice_pwd);
  copy->end_of_candidates = self->end_of_candidates;
  copy->has_link_isn = self->has_link_isn;
  copy->link_isn = self->link_isn;
  for (guint i = 0; self->candidates != NULL && i < self->candidates->len; i++)
    g_ptr_array_add (copy->candidates, g_strdup (g_ptr_array_index (self->candidates, i)));

  return copy;
}

char *
ph_session_description_to_string (const PhSessionDescription *self)
{
  GString *s;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (self->fingerprint != NULL, NULL);
  g_return_val_if_fail (self->setup != NULL, NULL);
  g_return_val_if_fail (self->ice_ufrag != NULL, NULL);
  g_return_val_if_fail (self->ice_pwd != NULL, NULL);

  s = g_string_new ("v=0\r\n");
  g_string_append_printf (s, "o=- %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " IN IP4 0.0.0.0\r\n",
                          self->session_id, self->session_version);
  g_string_append (s, "s=pinhole\r\n"
                      "t=0 0\r\n"
                      "a=ice-options:trickle\r\n");
  g_string_append_printf (s, "a=fingerprint:sha-256 %s\r\n", self->fingerprint);
  g_string_append_printf (s, "a=setup:%s\r\n", self->setup);
  if (self->name != NULL && self->name[0] != '\0')
    g_string_append_printf (s, "a=x-pinhole-name:%s\r\n", self->name);
  g_string_append (s, "m=" MEDIA_LINE "\r\n"
                      "c=IN IP4 0.0.0.0\r\n"
                      "a=mid:0\r\n");
  g_string_append_printf (s, "a=ice-ufrag:%s\r\n", self->ice_ufrag);
  g_string_append_printf (s, "a=ice-pwd:%s\r\n", self->ice_pwd);
  if (self->has_link_isn)
    g_string_append_printf (s, "a=x-pinhole-link-isn:%" G_GUINT32_FORMAT "\r\n", self->link_isn);
  for (guint i = 0; self->candidates != NULL && i < self->candidates->len; i++)
    g_string_append_printf (s, "a=%s\r\n", (const char *)g_ptr_array_index (self->candidates, i));
  if (self->end_of_candidates)
    g_string_append (s, "a=end-of-candidates\r\n");

  return g_string_free (s, FALSE);
}

/* RFC 8839 ice-char: ALPHA / DIGIT / "+" / "/". */
static gboolean
is_ice_string (const char *s, gsize min_length, gsize max_length)
{
  gsize n = 0;

  for (; s[n] != '\0'; n++)
    {
      if (n >= max_length)
        return FALSE;
      if (!g_ascii_isalnum (s[n]) && s[n] != '+' && s[n] != '/')
        return FALSE;
    }

  return n >= min_length;
}

/* RFC 8866 token characters, used for attribute names. */
static gboolean
is_token_char (char c)
{
  return g_ascii_isalnum (c) || (c != '\0' && strchr ("!#$%&'*+-.^_`{|}~", c) != NULL);
}

/* Decimal digits only (no sign, no space), at most @max. */
static gboolean
parse_decimal (const char *s, guint64 max, guint64 *out)
{
  guint64 value = 0;

  if (s[0] == '\0')
    return FALSE;

  for (gsize i = 0; s[i] != '\0'; i++)
    {
      guint digit;

      if (!g_ascii_isdigit (s[i]))
        return FALSE;
      digit = s[i] - '0';
      if (value > (max - digit) / 10)
        return FALSE;
      value = value * 10 + digit;
    }

  *out = value;
  return TRUE;
}

/* Untrusted text shown in a message: escaped and cut short. */
static char *
quote (const char *s)
{
  g_autofree char *head = g_strndup (s, QUOTE_MAX);
  g_autofree char *escaped = g_strescape (head, NULL);

  return g_strdup_printf ("“%s%s”", escaped, strlen (s) > QUOTE_MAX ? "…" : "");
}

static char *
address_problem (const char *field, const char *text, gboolean allow_unspecified)
{
  g_autoptr (GInetAddress) address = g_inet_address_new_from_string (text);
  g_autofree char *quoted = quote (text);

  if (address == NULL)
    {
      gsize len = strlen (text);

      if (len >= 6 && g_ascii_strcasecmp (text + len - 6, ".local") == 0)
        return g_strdup_printf ("the %s %s is an mDNS name; Pinhole needs numeric IP addresses and "
                                "does not resolve .local names",
                                field, quoted);
      return g_strdup_printf ("the %s %s is not a numeric IPv4 or IPv6 address (host names are "
                              "not allowed)",
                              field, quoted);
    }

  if (!allow_unspecified && g_inet_address_get_is_any (address))
    return g_strdup_printf ("the %s %s is unspecified and cannot be reached", field, quoted);
  if (g_inet_address_get_is_multicast (address))
    return g_strdup_printf ("the %s %s is a multicast address", field, quoted);

  return NULL;
}

/* What is wrong with a candidate attribute value, or NULL when it is fine.
 * The checks keep libnice 0.1.21 away from input it asserts on or
 * misreads (a TCP candidate without tcptype, an odd number of extension
 * fields, priorities that wrap). */
static char *
candidate_problem (const char *candidate)
{
  g_auto (GStrv) fields = NULL;
  const char *body;
  const char *raddr = NULL;
  const char *rport = NULL;
  const char *tcptype = NULL;
  gboolean is_tcp;
  guint64 value;
  guint n_fields;
  char *problem;

  if (!g_str_has_prefix (candidate, "candidate:"))
    return g_strdup ("the value must start with “candidate:”");
  if (strlen (candidate) > PH_SESSION_DESCRIPTION_MAX_LINE_LENGTH)
    return g_strdup_printf ("the candidate is longer than %d bytes",
                            PH_SESSION_DESCRIPTION_MAX_LINE_LENGTH);

  body = candidate + strlen ("candidate:");
  for (gsize i = 0; body[i] != '\0'; i++)
    {
      if (body[i] != ' ' && (body[i] < 0x21 || body[i] > 0x7e))
        return g_strdup ("the candidate contains a character that is not printable ASCII");
    }

  fields = g_strsplit (body, " ", -1);
  n_fields = g_strv_length (fields);
  for (guint i = 0; i < n_fields; i++)
    {
      if (fields[i][0] == '\0')
        return g_strdup ("the candidate’s fields must be separated by single spaces");
    }
  if (n_fields < 8)
    return g_strdup ("the candidate has too few fields; it must look like “candidate:<foundation> "
                     "1 UDP <priority> <address> <port> typ <type>”");

  if (!is_ice_string (fields[0], 1, FOUNDATION_MAX_LENGTH))
    {
      g_autofree char *quoted = quote (fields[0]);
      return g_strdup_printf ("the foundation %s must be 1 to %d characters from A–Z, a–z, 0–9, "
                              "“+” and “/”",
                              quoted, FOUNDATION_MAX_LENGTH);
    }

  if (!parse_decimal (fields[1], G_MAXUINT16, &value) || value != 1)
    {
      g_autofree char *quoted = quote (fields[1]);
      return g_strdup_printf ("the component must be 1, not %s", quoted);
    }

  if (g_ascii_strcasecmp (fields[2], "UDP") == 0)
    is_tcp = FALSE;
  else if (g_ascii_strcasecmp (fields[2], "TCP") == 0)
    is_tcp = TRUE;
  else
    {
      g_autofree char *quoted = quote (fields[2]);
      return g_strdup_printf ("the transport must be UDP or TCP, not %s", quoted);
    }

  if (!parse_decimal (fields[3], G_MAXUINT32, &value) || value == 0)
    {
      g_autofree char *quoted = quote (fields[3]);
      return g_strdup_printf ("the priority must be a number from 1 to %u, not %s", G_MAXUINT32,
                              quoted);
    }

  if ((problem = address_problem ("address", fields[4], FALSE)) != NULL)
    return problem;

  if (!parse_decimal (fields[5], G_MAXUINT16, &value) || value == 0)
    {
      g_autofree char *quoted = quote (fields[5]);
      return g_strdup_printf ("the port must be a number from 1 to 65535, not %s", quoted);
    }

  if (strcmp (fields[6], "typ") != 0)
    {
      g_autofree char *quoted = quote (fields[6]);
      return g_strdup_printf ("the seventh field must be “typ”, not %s", quoted);
    }

  if (!g_strv_contains ((const char *const[]){ "host", "srflx", "prflx", "relay", NULL },
                        fields[7]))
    {
      g_autofree char *quoted = quote (fields[7]);
      return g_strdup_printf ("the candidate type must be host, srflx, prflx or relay, not %s",
                              quoted);
    }

  if ((n_fields - 8) % 2 != 0)
    {
      g_autofree char *quoted = quote (fields[n_fields - 1]);
      return g_strdup_printf ("the extension %s has no value", quoted);
    }

  for (guint i = 8; i < n_fields; i += 2)
    {
      const char *name = fields[i];
      const char **slot;

      /* libnice reads "typ" wherever it appears: a second one would win. */
      if (strcmp (name, "typ") == 0)
        return g_strdup ("“typ” appears twice");
      if (strcmp (name, "raddr") == 0)
        slot = &raddr;
      else if (strcmp (name, "rport") == 0)
        slot = &rport;
      else if (strcmp (name, "tcptype") == 0)
        slot = &tcptype;
      else
        continue; /* generation, network-id and the like: not ours to judge */

      if (*slot != NULL)
        return g_strdup_printf ("“%s” appears twice", name);
      *slot = fields[i + 1];
    }

  if ((raddr == NULL) != (rport == NULL))
    return g_strdup ("raddr and rport must be given together");
  /* Browsers hide the base address as "raddr 0.0.0.0 rport 0". */
  if (raddr != NULL && (problem = address_problem ("raddr", raddr, TRUE)) != NULL)
    return problem;
  if (rport != NULL && !parse_decimal (rport, G_MAXUINT16, &value))
    {
      g_autofree char *quoted = quote (rport);
      return g_strdup_printf ("the rport must be a number from 0 to 65535, not %s", quoted);
    }
  if (strcmp (fields[7], "host") != 0 && raddr == NULL)
    return g_strdup_printf ("a %s candidate needs raddr and rport", fields[7]);

  if (is_tcp && tcptype == NULL)
    return g_strdup ("a TCP candidate needs a tcptype (active, passive or so)");
  if (!is_tcp && tcptype != NULL)
    return g_strdup ("tcptype is only allowed on TCP candidates");
  if (tcptype != NULL && g_ascii_strcasecmp (tcptype, "active") != 0
      && g_ascii_strcasecmp (tcptype, "passive") != 0 && g_ascii_strcasecmp (tcptype, "so") != 0)
    {
      g_autofree char *quoted = quote (tcptype);
      return g_strdup_printf ("the tcptype must be active, passive or so, not %s", quoted);
    }

  return NULL;
}

gboolean
ph_candidate_validate (const char *candidate, GError **error)
{
  g_autofree char *problem = NULL;

  g_return_val_if_fail (candidate != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  problem = candidate_problem (candidate);
  if (problem != NULL)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_INVALID_DESCRIPTION,
                   "The peer’s ICE candidate is invalid: %s", problem);
      return FALSE;
    }

  return TRUE;
}

static gboolean line_error (Parser *parser, GError **error, const char *format, ...)
    G_GNUC_PRINTF (3, 4);

static gboolean
line_error (Parser *parser, GError **error, const char *format, ...)
{
  g_autofree char *what = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);

  if (parser->label[0] != '\0')
    g_set_error (error, PH_ERROR, PH_ERROR_INVALID_DESCRIPTION, "Line %u (%s): %s", parser->line_no,
                 parser->label, what);
  else
    g_set_error (error, PH_ERROR, PH_ERROR_INVALID_DESCRIPTION, "Line %u: %s", parser->line_no,
                 what);
  return FALSE;
}

/* "a=ice-pwd" for an attribute line, "m=" for another field, "" when the
 * line does not even look like a field. Only token characters are copied,
 * so the label is always safe to show. */
static void
set_label (Parser *parser, const char *line, gsize length)
{
  gsize n = 0;

  parser->label[0] = '\0';
  if (length < 2 || !g_ascii_islower (line[0]) || line[1] != '=')
    return;

  parser->label[0] = line[0];
  parser->label[1] = '=';
  parser->label[2] = '\0';
  if (line[0] != 'a')
    return;

  while (2 + n < length && n < ATTRIBUTE_NAME_MAX && is_token_char (line[2 + n]))
    n++;
  if (2 + n == length || line[2 + n] == ':')
    {
      memcpy (parser->label + 2, line + 2, n);
      parser->label[2 + n] = '\0';
    }
}

static gboolean
check_unique (Parser *parser, UniqueAttribute which, GError **error)
{
  if (parser->unique_lines[which] != 0)
    return line_error (parser, error, "a=%s appears twice (first on line %u)", unique_names[which],
                       parser->unique_lines[which]);

  parser->unique_lines[which] = parser->line_no;
  return TRUE;
}

static gboolean
parse_origin (Parser *parser, const char *value, GError **error)
{
  g_auto (GStrv) fields = g_strsplit (value, " ", -1);
  guint64 id, version;

  if (g_strv_length (fields) != 6 || fields[0][0] == '\0' || strcmp (fields[3], "IN") != 0
      || (strcmp (fields[4], "IP4") != 0 && strcmp (fields[4], "IP6") != 0) || fields[5][0] == '\0')
    return line_error (parser, error,
                       "the origin must look like “o=- <session id> <version> IN IP4 <address>”");
  if (!parse_decimal (fields[1], G_MAXUINT64, &id))
    return line_error (parser, error, "the session id must be a decimal number");
  if (!parse_decimal (fields[2], G_MAXUINT64, &version))
    return line_error (parser, error, "the session version must be a decimal number");

  parser->desc->session_id = id;
  parser->desc->session_version = version;
  return TRUE;
}

static gboolean
parse_timing (Parser *parser, const char *value, GError **error)
{
  g_auto (GStrv) fields = g_strsplit (value, " ", -1);
  guint64 ignored;

  if (g_strv_length (fields) != 2 || !parse_decimal (fields[0], G_MAXUINT64, &ignored)
      || !parse_decimal (fields[1], G_MAXUINT64, &ignored))
    return line_error (parser, error, "the timing must look like “t=0 0”");

  return TRUE;
}

static gboolean
parse_fingerprint (Parser *parser, const char *value, GError **error)
{
  const char *space = strchr (value, ' ');
  g_autofree char *hash = NULL;
  const char *hex;

  if (space == NULL)
    return line_error (parser, error,
                       "the fingerprint must look like “sha-256 3A:9C:…”, with 32 hex pairs");

  hash = g_strndup (value, space - value);
  if (g_ascii_strcasecmp (hash, "sha-256") != 0)
    {
      g_autofree char *quoted = quote (hash);
      return line_error (parser, error, "only sha-256 fingerprints are supported, not %s", quoted);
    }

  hex = space + 1;
  if (strlen (hex) != FINGERPRINT_TEXT_LENGTH)
    return line_error (parser, error,
                       "a sha-256 fingerprint must be 32 hex pairs separated by colons");
  for (gsize i = 0; i < FINGERPRINT_TEXT_LENGTH; i++)
    {
      gboolean ok = (i % 3 == 2) ? hex[i] == ':' : g_ascii_isxdigit (hex[i]);

      if (!ok)
        return line_error (parser, error,
                           "a sha-256 fingerprint must be 32 hex pairs separated by colons");
    }

  parser->desc->fingerprint = g_ascii_strup (hex, -1);
  return TRUE;
}

static gboolean
parse_name (Parser *parser, const char *value, GError **error)
{
  glong n_chars;

  if (!g_utf8_validate (value, -1, NULL))
    return line_error (parser, error, "the name is not valid UTF-8 text");
  if (value[0] == '\0')
    return line_error (parser, error, "the name is empty; leave the line out instead");

  n_chars = g_utf8_strlen (value, -1);
  if (n_chars > PH_SESSION_DESCRIPTION_MAX_NAME_LENGTH)
    return line_error (parser, error, "the name is %ld characters long; the limit is %d", n_chars,
                       PH_SESSION_DESCRIPTION_MAX_NAME_LENGTH);

  for (const char *p = value; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      GUnicodeType type = g_unichar_type (c);

      if (type == G_UNICODE_CONTROL || type == G_UNICODE_LINE_SEPARATOR
          || type == G_UNICODE_PARAGRAPH_SEPARATOR)
        return line_error (parser, error, "the name contains a control character (U+%04X)", c);
    }

  parser->desc->name = g_strdup (value);
  return TRUE;
}

/* One spelling per number: decimal digits, no sign, no leading zero. */
static gboolean
parse_link_isn (Parser *parser, const char *value, GError **error)
{
  guint64 isn;

  if (!parse_decimal (value, G_MAXUINT32, &isn) || (value[0] == '0' && value[1] != '\0'))
    {
      g_autofree char *quoted = quote (value);
      return line_error (parser, error,
                         "the link’s initial sequence number must be a decimal number from 0 "
                         "to %u without leading zeros, not %s",
                         G_MAXUINT32, quoted);
    }

  parser->desc->has_link_isn = TRUE;
  parser->desc->link_isn = (guint32)isn;
  return TRUE;
}

static gboolean
parse_attribute (Parser *parser, const char *line, GError **error)
{
  PhSessionDescription *desc = parser->desc;
  const char *name = parser->label + 2;
  const char *value;

  if (name[0] == '\0')
    return line_error (parser, error,
                       "an attribute must look like “a=<name>” or “a=<name>:<value>”, with a name "
                       "of at most %d letters, digits and symbols",
                       ATTRIBUTE_NAME_MAX);

  value = line + 2 + strlen (name);
  if (*value == ':')
    value++;
  else
    value = NULL;

  if (parser->m_line == 0 && parser->t_line == 0)
    return line_error (parser, error, "attributes must come after the t= line");

  if (strcmp (name, "end-of-candidates") == 0)
    {
      if (value != NULL)
        return line_error (parser, error, "a=end-of-candidates takes no value");
      if (!check_unique (parser, UNIQUE_END_OF_CANDIDATES, error))
        return FALSE;
      desc->end_of_candidates = TRUE;
      return TRUE;
    }

  if (strcmp (name, "candidate") == 0)
    {
      g_autofree char *problem = NULL;

      if (parser->m_line == 0)
        return line_error (parser, error, "candidates belong after the m= line");
      if (parser->unique_lines[UNIQUE_END_OF_CANDIDATES] != 0)
        return line_error (parser, error, "a candidate follows a=end-of-candidates (line %u)",
                           parser->unique_lines[UNIQUE_END_OF_CANDIDATES]);
      if (desc->candidates->len >= PH_SESSION_DESCRIPTION_MAX_CANDIDATES)
        return line_error (parser, error, "a session description may carry at most %d candidates",
                           PH_SESSION_DESCRIPTION_MAX_CANDIDATES);
      if ((problem = candidate_problem (line + 2)) != NULL)
        return line_error (parser, error, "%s", problem);
      g_ptr_array_add (desc->candidates, g_strdup (line + 2));
      return TRUE;
    }

  for (guint which = 0; which < N_UNIQUE; which++)
    {
      if (strcmp (name, unique_names[which]) != 0)
        continue;

      if (value == NULL)
        return line_error (parser, error, "a=%s needs a value after “:”", name);
      if (!check_unique (parser, which, error))
        return FALSE;

      switch ((UniqueAttribute)which)
        {
        case UNIQUE_FINGERPRINT:
          return parse_fingerprint (parser, value, error);

        case UNIQUE_SETUP:
          if (strcmp (value, "actpass") != 0 && strcmp (value, "active") != 0
              && strcmp (value, "passive") != 0)
            {
              g_autofree char *quoted = quote (value);
              return line_error (parser, error,
                                 "the setup role must be actpass, active or passive, not %s",
                                 quoted);
            }
          desc->setup = g_strdup (value);
          return TRUE;

        case UNIQUE_NAME:
          return parse_name (parser, value, error);

        case UNIQUE_LINK_ISN:
          return parse_link_isn (parser, value, error);

        case UNIQUE_ICE_UFRAG:
          if (!is_ice_string (value, ICE_UFRAG_MIN_LENGTH, ICE_CREDENTIAL_MAX))
            return line_error (parser, error,
                               "the ICE username fragment must be %d to %d characters from A–Z, "
                               "a–z, 0–9, “+” and “/”",
                               ICE_UFRAG_MIN_LENGTH, ICE_CREDENTIAL_MAX);
          desc->ice_ufrag = g_strdup (value);
          return TRUE;

        case UNIQUE_ICE_PWD:
          if (!is_ice_string (value, ICE_PWD_MIN_LENGTH, ICE_CREDENTIAL_MAX))
            return line_error (parser, error,
                               "the ICE password must be %d to %d characters from A–Z, a–z, 0–9, "
                               "“+” and “/”",
                               ICE_PWD_MIN_LENGTH, ICE_CREDENTIAL_MAX);
          desc->ice_pwd = g_strdup (value);
          return TRUE;

        case UNIQUE_ICE_OPTIONS:
        case UNIQUE_MID:
          return TRUE;

        case UNIQUE_END_OF_CANDIDATES:
        case N_UNIQUE:
        default:
          g_assert_not_reached ();
        }
    }

  /* An attribute from a newer peer: ignored, so old and new can still talk. */
  return TRUE;
}

/* One field line, without its line ending. */
static gboolean
parse_line (Parser *parser, const char *line, gsize length, GError **error)
{
  char letter;
  const char *value;

  if (length == 0)
    return line_error (parser, error,
                       "the line is empty; a session description has no blank lines");
  if (parser->label[0] == '\0')
    {
      g_autofree char *quoted = quote (line);
      return line_error (parser, error, "%s is not of the form <letter>=<value>", quoted);
    }
  if (!g_utf8_validate (line, length, NULL))
    {
      if (strcmp (parser->label, "a=x-pinhole-name") == 0)
        return line_error (parser, error, "the name is not valid UTF-8 text");
      return line_error (parser, error, "the line is not valid UTF-8 text");
    }

  letter = line[0];
  value = line + 2;

  if (parser->line_no == 1)
    {
      if (letter != 'v')
        return line_error (parser, error, "a session description must start with “v=0”");
      if (strcmp (value, "0") != 0)
        {
          g_autofree char *quoted = quote (value);
          return line_error (parser, error, "the version must be 0, not %s", quoted);
        }
      return TRUE;
    }

  switch (letter)
    {
    case 'v':
      return line_error (parser, error, "v= may only be the first line");

    case 'o':
      if (parser->line_no != 2)
        return line_error (parser, error, "o= must be the second line, after v=0");
      parser->o_line = parser->line_no;
      return parse_origin (parser, value, error);

    case 's':
      if (parser->line_no != 3)
        return line_error (parser, error, "s= must be the third line, after o=");
      if (value[0] == '\0')
        return line_error (parser, error, "the session name is empty");
      parser->s_line = parser->line_no;
      return TRUE;

    default:
      break;
    }

  if (parser->line_no == 2)
    return line_error (parser, error, "the second line must be o=");
  if (parser->line_no == 3)
    return line_error (parser, error, "the third line must be s=");

  switch (letter)
    {
    case 'a':
      return parse_attribute (parser, line, error);

    case 't':
      if (parser->m_line != 0)
        return line_error (parser, error, "t= must come before the m= line");
      if (parser->t_line != 0)
        return line_error (parser, error, "t= appears twice (first on line %u)", parser->t_line);
      parser->t_line = parser->line_no;
      return parse_timing (parser, value, error);

    case 'm':
      if (parser->m_line != 0)
        return line_error (parser, error,
                           "only one m= section is supported (the first is on line %u)",
                           parser->m_line);
      if (parser->t_line == 0)
        return line_error (parser, error, "t= must come before the m= line");
      if (strcmp (value, MEDIA_LINE) != 0)
        return line_error (parser, error, "the media line must be “m=" MEDIA_LINE "”");
      parser->m_line = parser->line_no;
      return TRUE;

    case 'i':
    case 'c':
    case 'b':
    case 'k':
      return TRUE;

    case 'u':
    case 'e':
    case 'p':
    case 'r':
    case 'z':
      if (parser->m_line != 0)
        return line_error (parser, error, "%c= is not allowed after the m= line", letter);
      return TRUE;

    default:
      return line_error (parser, error, "“%c=” is not a session description field", letter);
    }
}

static gboolean
check_complete (Parser *parser, GError **error)
{
  const struct
  {
    gboolean missing;
    const char *what;
  } required[] = {
    { parser->o_line == 0, "o=" },
    { parser->s_line == 0, "s=" },
    { parser->t_line == 0, "t=" },
    { parser->m_line == 0, "m=" },
    { parser->desc->fingerprint == NULL, "a=fingerprint" },
    { parser->desc->setup == NULL, "a=setup" },
    { parser->desc->ice_ufrag == NULL, "a=ice-ufrag" },
    { parser->desc->ice_pwd == NULL, "a=ice-pwd" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (required); i++)
    {
      if (required[i].missing)
        {
          g_set_error (error, PH_ERROR, PH_ERROR_INVALID_DESCRIPTION,
                       "Line %u (end of the description): there is no %s line", parser->line_no,
                       required[i].what);
          return FALSE;
        }
    }

  return TRUE;
}

/* Every check looks at most a line ahead, so a huge input costs no more
 * than the limits allow before it is refused. */
static gboolean
parse_text (Parser *parser, const char *text, gsize length, GError **error)
{
  gboolean crlf = FALSE;
  guint ending_line = 0; /* the first line that ended, which sets the style */
  gsize pos = 0;

  while (pos < length)
    {
      char line[PH_SESSION_DESCRIPTION_MAX_LINE_LENGTH + 2];
      gsize window = MIN (length - pos, (gsize)PH_SESSION_DESCRIPTION_MAX_LINE_LENGTH + 2);
      const char *newline = memchr (text + pos, '\n', window);
      gsize end, content_length;
      gboolean has_cr;

      parser->line_no++;
      if (newline == NULL && length - pos > window)
        {
          set_label (parser, text + pos, window);
          return line_error (parser, error, "the line is longer than %d bytes",
                             PH_SESSION_DESCRIPTION_MAX_LINE_LENGTH);
        }

      end = newline != NULL ? (gsize)(newline - text) : length;
      has_cr = newline != NULL && end > pos && text[end - 1] == '\r';
      content_length = end - pos - (has_cr ? 1 : 0);
      set_label (parser, text + pos, content_length);

      if (parser->line_no > PH_SESSION_DESCRIPTION_MAX_LINES)
        return line_error (parser, error, "a session description may have at most %d lines",
                           PH_SESSION_DESCRIPTION_MAX_LINES);
      if (content_length > PH_SESSION_DESCRIPTION_MAX_LINE_LENGTH)
        return line_error (parser, error, "the line is longer than %d bytes",
                           PH_SESSION_DESCRIPTION_MAX_LINE_LENGTH);
      if ((newline != NULL ? end + 1 : end) > PH_SESSION_DESCRIPTION_MAX_SIZE)
        return line_error (parser, error, "the session description is over the %d-byte limit",
                           PH_SESSION_DESCRIPTION_MAX_SIZE);
      if (memchr (text + pos, '\0', content_length) != NULL)
        return line_error (parser, error, "the line contains a NUL byte");

      if (newline != NULL)
        {
          if (ending_line == 0)
            {
              ending_line = parser->line_no;
              crlf = has_cr;
            }
          else if (crlf != has_cr)
            return line_error (parser, error,
                               "the line ends in %s but line %u ends in %s; use one kind of line "
                               "ending throughout",
                               has_cr ? "CR LF" : "a bare LF", ending_line,
                               crlf ? "CR LF" : "a bare LF");
        }
      if (memchr (text + pos, '\r', content_length) != NULL)
        return line_error (parser, error, "the line contains a stray carriage return");

      memcpy (line, text + pos, content_length);
      line[content_length] = '\0';
      if (!parse_line (parser, line, content_length, error))
        return FALSE;

      pos = newline != NULL ? end + 1 : end;
    }

  return check_complete (parser, error);
}

PhSessionDescription *
ph_session_description_parse (const char *text, gsize length, GError **error)
{
  g_autoptr (PhSessionDescription) desc = NULL;
  Parser parser = { 0 };

  g_return_val_if_fail (text != NULL || length == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (length == 0)
    {
      g_set_error (error, PH_ERROR, PH_ERROR_INVALID_DESCRIPTION,
                   "Line 1: the session description is empty");
      return NULL;
    }

  desc = ph_session_description_new ();
  parser.desc = desc;
  if (!parse_text (&parser, text, length, error))
    return NULL;

  return g_steal_pointer (&desc);
}
