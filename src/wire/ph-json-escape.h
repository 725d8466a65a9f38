/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The character a two-character JSON escape \@letter stands for, or '\0'
 * for \u and anything else: the hand-written readers of frames and posts
 * leave those to json-glib. */
static inline char
ph_json_unescape_short (char letter)
{
  switch (letter)
    {
    case '"':
    case '\\':
    case '/':
      return letter;
    case 'b':
      return '\b';
    case 'f':
      return '\f';
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    default:
      return '\0';
    }
}

G_END_DECLS
