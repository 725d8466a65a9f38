/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-fuzz-frame"

#include "config.h"

#include <stdint.h>
#include <string.h>

#include "ph-contact-exchange.h"
#include "ph-frame-decoder.h"
#include "ph-frame.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static guint
strv_length (GStrv strv)
{
  return strv != NULL ? g_strv_length (strv) : 0;
}

/* A frame that parses must encode and parse again to the same frame. */
static void
check_round_trip (const PhFrame *frame)
{
  g_autoptr (GBytes) encoded = NULL;
  g_autoptr (PhFrame) again = NULL;
  g_autoptr (GError) error = NULL;
  const guint8 *bytes;
  gsize length;

  if (frame->type == PH_FRAME_UNKNOWN)
    return;

  encoded = ph_frame_encode (frame, &error);
  g_assert_no_error (error);
  bytes = g_bytes_get_data (encoded, &length);
  g_assert_cmpuint (length, >, 4);
  again = ph_frame_parse ((const char *)bytes + 4, length - 4, &error);
  g_assert_no_error (error);
  g_assert_cmpint (again->type, ==, frame->type);
  g_assert_cmpuint (again->version, ==, frame->version);
  g_assert_cmpstr (again->name, ==, frame->name);
  g_assert_cmpstr (again->id, ==, frame->id);
  g_assert_cmpint (again->time_ms, ==, frame->time_ms);
  g_assert_cmpstr (again->text, ==, frame->text);
  g_assert_cmpint (again->active, ==, frame->active);
  g_assert_cmpstr (again->reason, ==, frame->reason);
  g_assert_cmpuint (strv_length (again->features), ==, strv_length (frame->features));
  for (guint i = 0; i < strv_length (frame->features); i++)
    g_assert_cmpstr (again->features[i], ==, frame->features[i]);
  g_assert_cmpuint (again->probe_id, ==, frame->probe_id);
  g_assert_cmpstr (again->ufrag, ==, frame->ufrag);
  g_assert_cmpstr (again->pwd, ==, frame->pwd);
  g_assert_cmpuint (strv_length (again->candidates), ==, strv_length (frame->candidates));
  for (guint i = 0; i < strv_length (frame->candidates); i++)
    g_assert_cmpstr (again->candidates[i], ==, frame->candidates[i]);
  g_assert_cmpstr (again->public_key, ==, frame->public_key);
  g_assert_cmpstr (again->share, ==, frame->share);
  g_assert_cmpstr (again->signature, ==, frame->signature);
}

/* A peer's contact offer is base64 and a signature: whatever it holds,
 * it is refused with an error or kept, never more. */
static void
check_contact_offer (const PhFrame *frame)
{
  static const guint8 binding[PH_CONTACT_BINDING_SIZE] = { 7 };
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (PhContactExchange) exchange = NULL;
  g_autoptr (GError) error = NULL;

  if (frame->type != PH_FRAME_CONTACT_OFFER)
    return;
  bytes = g_bytes_new_static (binding, sizeof binding);
  exchange = ph_contact_exchange_new (bytes);
  if (!ph_contact_exchange_receive_offer (exchange, frame, &error))
    g_assert (error != NULL);
}

static void
fuzz_parse (const uint8_t *data, size_t size)
{
  g_autoptr (PhFrame) frame = NULL;
  g_autoptr (GError) error = NULL;

  frame = ph_frame_parse ((const char *)data, size, &error);
  if (frame == NULL)
    g_assert (error != NULL);
  else
    {
      check_round_trip (frame);
      check_contact_offer (frame);
    }
}

/* The first byte sets the chunk size, so the fuzzer also finds frames and
 * length prefixes split across reads. */
static void
fuzz_decoder (const uint8_t *data, size_t size)
{
  g_autoptr (PhFrameDecoder) decoder = ph_frame_decoder_new ();
  gsize chunk;

  if (size == 0)
    return;
  chunk = data[0] + 1;
  data++;
  size--;

  while (size > 0)
    {
      gsize n = MIN (chunk, size);
      g_autoptr (GError) error = NULL;

      if (!ph_frame_decoder_push (decoder, data, n, &error))
        {
          g_assert (error != NULL);
          return;
        }
      data += n;
      size -= n;

      for (;;)
        {
          g_autoptr (PhFrame) frame = ph_frame_decoder_pop (decoder, &error);

          if (frame == NULL)
            {
              /* A malformed frame closes the channel: stop as it would. */
              if (error != NULL)
                return;
              break;
            }
          check_round_trip (frame);
        }
      g_assert_cmpuint (ph_frame_decoder_get_pending (decoder), <=, 4 + PH_FRAME_MAX_SIZE);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  fuzz_parse (data, size);
  fuzz_decoder (data, size);
  return 0;
}
