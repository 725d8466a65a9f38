/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The JSON body of a message post, {"side":…,"phase":…,"body":…}: each
 * member NULL when it is missing or not a string. Other members are
 * ignored. */
typedef struct
{
  char *side;
  char *phase;
  char *body;
} PhPost;

/* Deeper bodies are refused before json-glib, which recurses once per
 * level, sees them. Posts are flat; this leaves room for later clients. */
#define PH_POST_MAX_JSON_DEPTH 32

/* Reads @json; fails with G_IO_ERROR_INVALID_DATA and a sentence for the
 * client when it is not valid JSON or not an object, or not strict JSON
 * within PH_POST_MAX_JSON_DEPTH levels (ph-json-guard.h). */
gboolean ph_post_read (const char *json, gsize length, PhPost *out_post, GError **error);
void ph_post_clear (PhPost *post);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (PhPost, ph_post_clear)

G_END_DECLS
