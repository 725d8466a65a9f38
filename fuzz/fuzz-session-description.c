/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-fuzz-session-description"

#include "config.h"

#include <stdint.h>

#include "ph-session-description.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* A description that parses must survive printing and parsing again
 * unchanged: what one peer writes, the other must read. */
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (PhSessionDescription) description = NULL;
  g_autoptr (PhSessionDescription) again = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *text_again = NULL;

  description = ph_session_description_parse ((const char *)data, size, &error);
  if (description == NULL)
    {
      g_assert (error != NULL);
      return 0;
    }

  for (guint i = 0; i < description->candidates->len; i++)
    g_assert (ph_candidate_validate (g_ptr_array_index (description->candidates, i), NULL));

  text = ph_session_description_to_string (description);
  again = ph_session_description_parse (text, strlen (text), &error);
  g_assert_no_error (error);
  text_again = ph_session_description_to_string (again);
  g_assert_cmpstr (text, ==, text_again);

  return 0;
}
