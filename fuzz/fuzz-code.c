/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-fuzz-code"

#include "config.h"

#include <stdint.h>

#include "ph-code.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* What a person types reaches the parser as a NUL-terminated string; a
 * code it accepts must parse again to itself. */
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = g_strndup ((const char *)data, size);
  g_autofree char *nameplate = NULL;
  g_autofree char *canonical = NULL;
  g_autofree char *nameplate_again = NULL;
  g_autofree char *canonical_again = NULL;
  g_autoptr (GError) error = NULL;

  if (!ph_code_parse (text, &nameplate, &canonical, &error))
    {
      g_assert (error != NULL);
      return 0;
    }

  g_assert (g_str_has_prefix (canonical, nameplate));
  g_assert (ph_code_parse (canonical, &nameplate_again, &canonical_again, NULL));
  g_assert_cmpstr (canonical, ==, canonical_again);
  g_assert_cmpstr (nameplate, ==, nameplate_again);

  return 0;
}
