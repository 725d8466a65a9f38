/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-frame"

#include "config.h"

#include <string.h>

#include "ph-error.h"
#include "ph-frame-decoder.h"
#include "ph-frame.h"

#define FUZZ_ITERATIONS 20000
#define MANY_FRAMES 20000

static void
assert_frames_equal (const PhFrame *a, const PhFrame *b)
{
  g_assert_cmpint (a->type, ==, b->type);
  g_assert_cmpuint (a->version, ==, b->version);
  g_assert_cmpstr (a->name, ==, b->name);
  g_assert_cmpstr (a->id, ==, b->id);
  g_assert_cmpuint (a->seq, ==, b->seq);
  g_assert_cmpint (a->time_ms, ==, b->time_ms);
  g_assert_cmpstr (a->text, ==, b->text);
  g_assert_cmpint (a->active, ==, b->active);
  g_assert_cmpstr (a->reason, ==, b->reason);
  g_assert_cmpuint (a->ping_id, ==, b->ping_id);
  g_assert_cmpuint (a->probe_id, ==, b->probe_id);
  g_assert_cmpstr (a->ufrag, ==, b->ufrag);
  g_assert_cmpstr (a->pwd, ==, b->pwd);
  g_assert_cmpuint (a->candidates ? g_strv_length (a->candidates) : 0, ==,
                    b->candidates ? g_strv_length (b->candidates) : 0);
  if (a->candidates != NULL && b->candidates != NULL)
    g_assert_true (
        g_strv_equal ((const char *const *)a->candidates, (const char *const *)b->candidates));
  if (a->features == NULL || b->features == NULL)
    g_assert_cmpuint (a->features ? g_strv_length (a->features) : 0, ==,
                      b->features ? g_strv_length (b->features) : 0);
  else
    g_assert_true (
        g_strv_equal ((const char *const *)a->features, (const char *const *)b->features));
}

static char *
make_text (gsize size)
{
  /* Mixed widths so a byte limit and a character count differ. */
  static const char *const pieces[] = { "a", "é", "中", "🙂" };
  GString *s = g_string_new (NULL);

  for (guint i = 0; s->len < size; i++)
    {
      const char *piece = pieces[i % G_N_ELEMENTS (pieces)];

      if (s->len + strlen (piece) > size)
        piece = "a";
      g_string_append (s, piece);
    }

  return g_string_free (s, FALSE);
}

/* One of each type, including long and non-ASCII text. */
static GPtrArray *
make_frames (void)
{
  GPtrArray *frames = g_ptr_array_new_with_free_func ((GDestroyNotify)ph_frame_free);
  const char *const features[] = { "typing", "ack", NULL };
  g_autofree char *long_text = make_text (60 * 1024);

  g_ptr_array_add (frames, ph_frame_new_hello ("Zoë 🙂", features));
  g_ptr_array_add (frames, ph_frame_new_msg ("m-1", 1700000000123, "hello"));
  g_ptr_array_add (
      frames, ph_frame_new_msg (
                  "m-2", 0, "emoji 👋🏽🇯🇵 and CJK 你好，世界 / こんにちは"));
  g_ptr_array_add (frames, ph_frame_new_msg ("m-3", 1700000000999, long_text));
  g_ptr_array_add (frames, ph_frame_new_msg ("m-4", 1, "quotes \" \\ and\nnew lines\t\x01"));
  g_ptr_array_add (frames, ph_frame_new_msg ("m-5", 2, ""));
  /* The largest sequence number a peer may send survives the round trip. */
  g_ptr_array_add (frames, ph_frame_new_msg ("m-6", 3, "last"));
  ((PhFrame *)g_ptr_array_index (frames, frames->len - 1))->seq = PH_FRAME_MAX_SEQ;
  g_ptr_array_add (frames, ph_frame_new_ack ("m-1"));
  g_ptr_array_add (frames, ph_frame_new_typing (TRUE));
  g_ptr_array_add (frames, ph_frame_new_typing (FALSE));
  g_ptr_array_add (frames, ph_frame_new_ping ());
  g_ptr_array_add (frames, ph_frame_new_ping ());
  ((PhFrame *)g_ptr_array_index (frames, frames->len - 1))->ping_id = 7;
  g_ptr_array_add (frames, ph_frame_new_pong (PH_FRAME_MAX_SEQ));
  g_ptr_array_add (frames, ph_frame_new_bye (NULL));
  g_ptr_array_add (frames, ph_frame_new_bye ("user-quit"));
  {
    const char *const candidates[]
        = { "candidate:1 1 UDP 2015363327 10.0.1.2 40000 typ host",
            "candidate:2 1 UDP 1679819007 198.51.100.2 40000 typ srflx raddr 10.0.1.2 rport 40000",
            NULL };

    g_ptr_array_add (frames, ph_frame_new_probe (3, "Ab+/", "0123456789abcdefghijkl", candidates));
    g_ptr_array_add (frames, ph_frame_new_probe (PH_FRAME_MAX_SEQ, "u1u2", "p", NULL));
  }

  return frames;
}

static GBytes *
encode_ok (const PhFrame *frame)
{
  g_autoptr (GError) error = NULL;
  GBytes *bytes = ph_frame_encode (frame, &error);

  g_assert_no_error (error);
  g_assert_nonnull (bytes);
  return bytes;
}

static PhFrame *
parse_string (const char *json, GError **error)
{
  return ph_frame_parse (json, strlen (json), error);
}

static void
test_round_trip (void)
{
  g_autoptr (GPtrArray) frames = make_frames ();

  for (guint i = 0; i < frames->len; i++)
    {
      const PhFrame *frame = g_ptr_array_index (frames, i);
      g_autoptr (GBytes) bytes = encode_ok (frame);
      g_autoptr (PhFrame) parsed = NULL;
      g_autoptr (GError) error = NULL;
      gsize size;
      const guint8 *data = g_bytes_get_data (bytes, &size);
      guint32 length = ((guint32)data[0] << 24) | (data[1] << 16) | (data[2] << 8) | data[3];

      g_assert_cmpuint (length, ==, size - 4);
      parsed = ph_frame_parse ((const char *)data + 4, length, &error);
      g_assert_no_error (error);
      assert_frames_equal (frame, parsed);
    }
}

static void
test_encoding_exact (void)
{
  const char *const features[] = { "typing", NULL };
  const struct
  {
    PhFrame *frame;
    const char *json;
  } cases[] = {
    { ph_frame_new_hello ("Bob", features),
      "{\"type\":\"hello\",\"version\":1,\"name\":\"Bob\",\"features\":[\"typing\"]}" },
    { ph_frame_new_hello (NULL, NULL),
      "{\"type\":\"hello\",\"version\":1,\"name\":\"\",\"features\":[]}" },
    { ph_frame_new_msg ("a1", 1700000000123, "hi 🙂"),
      "{\"type\":\"msg\",\"id\":\"a1\",\"seq\":1,\"time\":1700000000123,\"text\":\"hi 🙂\"}" },
    { ph_frame_new_ack ("a1"), "{\"type\":\"ack\",\"id\":\"a1\"}" },
    { ph_frame_new_typing (TRUE), "{\"type\":\"typing\",\"active\":true}" },
    { ph_frame_new_bye ("done"), "{\"type\":\"bye\",\"reason\":\"done\"}" },
    { ph_frame_new_bye (NULL), "{\"type\":\"bye\"}" },
    { ph_frame_new_ping (), "{\"type\":\"ping\"}" },
    { ph_frame_new_pong (42), "{\"type\":\"pong\",\"id\":42}" },
    { ph_frame_new_probe (2, "uf", "pw", (const char *const[]){ "c 1", NULL }),
      "{\"type\":\"probe\",\"id\":2,\"ufrag\":\"uf\",\"pwd\":\"pw\",\"candidates\":[\"c 1\"]}" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) bytes = encode_ok (cases[i].frame);
      gsize size;
      const guint8 *data = g_bytes_get_data (bytes, &size);
      gsize json_length = strlen (cases[i].json);

      g_assert_cmpuint (size, ==, json_length + 4);
      g_assert_cmpuint (data[0], ==, 0);
      g_assert_cmpuint (data[1], ==, 0);
      g_assert_cmpuint (data[2], ==, json_length >> 8);
      g_assert_cmpuint (data[3], ==, json_length & 0xff);
      g_assert_cmpmem (data + 4, size - 4, cases[i].json, json_length);
      ph_frame_free (cases[i].frame);
    }
}

static char *
hex_of (const guint8 *data, gsize size)
{
  GString *hex = g_string_new (NULL);

  for (gsize i = 0; i < size; i++)
    g_string_append_printf (hex, "%02x", data[i]);
  return g_string_free (hex, FALSE);
}

/* Known answers, computed once with the Pinhole 1 wire format: the exact
 * bytes of each frame type, escapes included, and those bytes parsed back.
 * A peer of the previous version writes and reads exactly these. */
static void
test_known_answer (void)
{
  const char *const features[] = { "typing", "ack", NULL };
  PhFrame *msg = ph_frame_new_msg ("m-7", 1700000000123, "two\nlines\t\"q\" \\ \x01 é 🙂 /");
  PhFrame *ping = ph_frame_new_ping ();
  const struct
  {
    PhFrame *frame;
    const char *prefix_hex;
    const char *json;
  } cases[] = {
    { ph_frame_new_hello ("Ana \"A\" \\ é", features), "00000051",
      "{\"type\":\"hello\",\"version\":1,\"name\":\"Ana \\\"A\\\" \\\\ "
      "é\",\"features\":[\"typing\",\"ack\"]}" },
    { ph_frame_new_hello (NULL, NULL), "00000034",
      "{\"type\":\"hello\",\"version\":1,\"name\":\"\",\"features\":[]}" },
    { msg, "00000074",
      "{\"type\":\"msg\",\"id\":\"m-7\",\"seq\":4503599627370497,\"time\":1700000000123,\"text\":"
      "\"two\\nlines\\t\\\"q\\\" \\\\ \\u0001 é 🙂 /\"}" },
    { ph_frame_new_ack ("m-7"), "00000019", "{\"type\":\"ack\",\"id\":\"m-7\"}" },
    { ph_frame_new_typing (FALSE), "00000020", "{\"type\":\"typing\",\"active\":false}" },
    { ph_frame_new_typing (TRUE), "0000001f", "{\"type\":\"typing\",\"active\":true}" },
    { ph_frame_new_bye ("closed\r\n"), "00000024",
      "{\"type\":\"bye\",\"reason\":\"closed\\r\\n\"}" },
    { ph_frame_new_bye (NULL), "0000000e", "{\"type\":\"bye\"}" },
    { ping, "00000017", "{\"type\":\"ping\",\"id\":12}" },
    { ph_frame_new_ping (), "0000000f", "{\"type\":\"ping\"}" },
    { ph_frame_new_pong (9007199254740991), "00000025",
      "{\"type\":\"pong\",\"id\":9007199254740991}" },
  };

  msg->seq = 4503599627370497;
  ping->ping_id = 12;

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) bytes = encode_ok (cases[i].frame);
      g_autoptr (PhFrameDecoder) decoder = ph_frame_decoder_new ();
      g_autoptr (PhFrame) parsed = NULL;
      g_autoptr (GError) error = NULL;
      gsize size;
      const guint8 *data = g_bytes_get_data (bytes, &size);
      g_autofree char *prefix_hex = hex_of (data, MIN (size, 4));
      g_autofree char *vector = NULL;
      g_autofree char *json = NULL;
      gsize json_length = strlen (cases[i].json);

      g_assert_cmpstr (prefix_hex, ==, cases[i].prefix_hex);
      g_assert_cmpuint (size, >=, 4);
      json = g_strndup ((const char *)data + 4, size - 4);
      g_assert_cmpstr (json, ==, cases[i].json);

      /* The vector itself, not this build's output, parses back. */
      vector = g_malloc (4 + json_length);
      for (guint b = 0; b < 4; b++)
        vector[b] = (g_ascii_xdigit_value (cases[i].prefix_hex[2 * b]) << 4)
                    | g_ascii_xdigit_value (cases[i].prefix_hex[2 * b + 1]);
      memcpy (vector + 4, cases[i].json, json_length);
      g_assert_true (
          ph_frame_decoder_push (decoder, (const guint8 *)vector, 4 + json_length, &error));
      g_assert_no_error (error);
      parsed = ph_frame_decoder_pop (decoder, &error);
      g_assert_no_error (error);
      g_assert_nonnull (parsed);
      g_assert_cmpuint (ph_frame_decoder_get_pending (decoder), ==, 0);
      if (cases[i].frame->type == PH_FRAME_HELLO && cases[i].frame->features == NULL)
        g_assert_cmpuint (g_strv_length (parsed->features), ==, 0);
      else
        assert_frames_equal (parsed, cases[i].frame);
      ph_frame_free (cases[i].frame);
    }
}

/* Two characters that json-glib 1.6 writes otherwise than Pinhole 1's own
 * writer did: U+001F raw rather than as \u001f, U+007F as \u007f rather
 * than raw. Pinhole 1's reader accepts both forms (checked against its
 * code before it was removed), and this one reads what Pinhole 1 wrote. */
static void
test_known_answer_escapes (void)
{
  const char *const pinhole1
      = "{\"type\":\"msg\",\"id\":\"m\",\"seq\":1,\"time\":1,\"text\":\"a\\u001fb\x7f"
        "c\"}";
  const char *const now = "{\"type\":\"msg\",\"id\":\"m\",\"seq\":1,\"time\":1,\"text\":\"a\x1f"
                          "b\\u007fc\"}";
  g_autoptr (PhFrame) frame = ph_frame_new_msg ("m", 1,
                                                "a\x1f"
                                                "b\x7f"
                                                "c");
  g_autoptr (GBytes) bytes = encode_ok (frame);
  g_autoptr (PhFrame) from_pinhole1 = NULL;
  g_autoptr (PhFrame) from_now = NULL;
  g_autoptr (GError) error = NULL;
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);

  g_assert_cmpmem (data + 4, size - 4, now, strlen (now));

  from_pinhole1 = ph_frame_parse (pinhole1, strlen (pinhole1), &error);
  g_assert_no_error (error);
  assert_frames_equal (from_pinhole1, frame);
  from_now = ph_frame_parse (now, strlen (now), &error);
  g_assert_no_error (error);
  assert_frames_equal (from_now, frame);
}

static void
test_encode_too_large (void)
{
  g_autofree char *text = make_text (PH_FRAME_MAX_TEXT_SIZE + 1);
  g_autofree char *fits = make_text (PH_FRAME_MAX_TEXT_SIZE);
  g_autofree char *long_name = NULL;
  g_autoptr (PhFrame) msg = ph_frame_new_msg ("m", 1, text);
  g_autoptr (PhFrame) fitting = ph_frame_new_msg ("m", 1, fits);
  g_autoptr (PhFrame) hello = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GBytes) fitting_bytes = NULL;
  g_autoptr (GError) error = NULL;
  GString *name = g_string_new (NULL);

  bytes = ph_frame_encode (msg, &error);
  g_assert_null (bytes);
  g_assert_error (error, PH_ERROR, PH_ERROR_TOO_LARGE);
  g_assert_nonnull (strstr (error->message, "65537 bytes"));
  g_clear_error (&error);

  fitting_bytes = ph_frame_encode (fitting, &error);
  g_assert_no_error (error);
  g_assert_nonnull (fitting_bytes);

  for (int i = 0; i < PH_FRAME_MAX_NAME_LENGTH + 1; i++)
    g_string_append (name, "ü");
  long_name = g_string_free (name, FALSE);
  hello = ph_frame_new_hello (long_name, NULL);
  g_assert_null (ph_frame_encode (hello, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_TOO_LARGE);
}

/* Pinhole never sends what a peer would refuse. */
static void
test_encode_invalid (void)
{
  g_autofree char *long_id = g_strnfill (PH_FRAME_MAX_ID_LENGTH + 1, 'x');
  PhFrame *frames[] = {
    ph_frame_new_msg ("m", 1, "bad \xff UTF-8"), /* not UTF-8 */
    ph_frame_new_msg ("", 1, "empty id"),        /* empty id */
    ph_frame_new_msg (long_id, 1, "long id"),    /* id over the limit */
    ph_frame_new_ack ("has space"),              /* id not plain ASCII */
    ph_frame_new_hello ("new\nline", NULL),      /* control character in the name */
    ph_frame_new_bye ("\xc3"),                   /* truncated UTF-8 */
    ph_frame_new_pong (0),                       /* a pong answers a numbered ping */
    ph_frame_new_msg ("seq 0", 1, "no number"),  /* seq set to 0 below */
    ph_frame_new_hello ("version 0", NULL),      /* version set to 0 below */
  };

  frames[G_N_ELEMENTS (frames) - 2]->seq = 0;
  frames[G_N_ELEMENTS (frames) - 1]->version = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (frames); i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_null (ph_frame_encode (frames[i], &error));
      g_assert_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME);
      ph_frame_free (frames[i]);
    }
}

static void
test_parse_valid_variants (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PhFrame) unknown = NULL;
  g_autoptr (PhFrame) hello = NULL;
  g_autoptr (PhFrame) msg = NULL;
  g_autoptr (PhFrame) bye = NULL;
  g_autofree char *max_text_json = NULL;
  g_autofree char *max_text = make_text (PH_FRAME_MAX_TEXT_SIZE);

  /* A type from a newer peer is not an error: it is ignored. */
  unknown = parse_string ("{\"type\":\"reaction\",\"id\":5,\"emoji\":[1,2]}", &error);
  g_assert_no_error (error);
  g_assert_cmpint (unknown->type, ==, PH_FRAME_UNKNOWN);

  /* A newer version, extra members and whitespace are all fine. */
  hello = parse_string (" \r\n{ \"type\" : \"hello\", \"version\": 3, \"name\": \"A\","
                        " \"future\": {\"x\": [true]} }\n",
                        &error);
  g_assert_no_error (error);
  g_assert_cmpint (hello->type, ==, PH_FRAME_HELLO);
  g_assert_cmpuint (hello->version, ==, 3);
  g_assert_cmpstr (hello->name, ==, "A");
  g_assert_null (hello->features);

  /* Escapes decode to the characters they stand for. */
  msg = parse_string ("{\"type\":\"msg\",\"id\":\"x\",\"seq\":1,\"time\":5,"
                      "\"text\":\"\\u00e9\\ud83d\\ude42\\n\"}",
                      &error);
  g_assert_no_error (error);
  g_assert_cmpstr (msg->text, ==, "é🙂\n");

  bye = parse_string ("{\"type\":\"bye\"}", &error);
  g_assert_no_error (error);
  g_assert_null (bye->reason);

  max_text_json = g_strdup_printf (
      "{\"type\":\"msg\",\"id\":\"x\",\"seq\":1,\"time\":5,\"text\":\"%s\"}", max_text);
  g_clear_pointer (&msg, ph_frame_free);
  msg = parse_string (max_text_json, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (msg->text), ==, PH_FRAME_MAX_TEXT_SIZE);
}

static void
test_parse_invalid (void)
{
  g_autofree char *long_text = make_text (PH_FRAME_MAX_TEXT_SIZE + 1);
  g_autofree char *long_text_json = g_strdup_printf (
      "{\"type\":\"msg\",\"id\":\"x\",\"seq\":1,\"time\":1,\"text\":\"%s\"}", long_text);
  g_autofree char *long_id = g_strnfill (PH_FRAME_MAX_ID_LENGTH + 1, 'i');
  g_autofree char *long_id_json = g_strdup_printf ("{\"type\":\"ack\",\"id\":\"%s\"}", long_id);
  g_autofree char *max_id = g_strnfill (PH_FRAME_MAX_ID_LENGTH, 'i');
  g_autofree char *max_id_json = g_strdup_printf ("{\"type\":\"ack\",\"id\":\"%s\"}", max_id);
  g_autofree char *brackets = g_strnfill (100000, '[');
  g_autofree char *deep = g_strconcat ("{\"type\":\"ping\",\"x\":", brackets, NULL);
  const struct
  {
    const char *json;
    const char *reason;
  } cases[] = {
    { "", "not a JSON object" },
    { "   ", "not a JSON object" },
    { "hello", "not a JSON object" },
    { "{\"type\":", "not valid JSON" },
    { "{\"type\":\"ping\"", "not valid JSON" },
    { "{type:\"ping\"}", "has “y” outside a string at offset 2" },
    { "{\"type\":'ping'}", "has “'” outside a string" },
    { "{\"type\":\"ping\" /* a comment */}", "has “/” outside a string" },
    { "{\"type\":\"ping\",\"x\":\"\\q\"}", "invalid escape" },
    { "[{\"type\":\"ping\"}]", "not a JSON object" },
    { "\"ping\"", "not a JSON object" },
    { "{\"type\":\"ping\"}{\"type\":\"ping\"}", "data after its JSON object" },
    { "{\"type\":\"ping\"} x", "data after its JSON object" },
    { "{}", "has no “type”" },
    { "{\"type\":\"probe\",\"ufrag\":\"u\",\"pwd\":\"p\",\"candidates\":[]}",
      "“probe” frame’s “id” is missing" },
    { "{\"type\":\"probe\",\"id\":0,\"ufrag\":\"u\",\"pwd\":\"p\",\"candidates\":[]}",
      "“id” must be 1 to 2⁵³−1" },
    { "{\"type\":\"probe\",\"id\":1,\"ufrag\":\"\",\"pwd\":\"p\",\"candidates\":[]}",
      "“ufrag” must be 1 to 256 printable ASCII characters" },
    { "{\"type\":\"probe\",\"id\":1,\"ufrag\":\"u\",\"pwd\":\"p\\n\",\"candidates\":[]}",
      "“pwd” must be 1 to 256 printable ASCII characters" },
    { "{\"type\":\"probe\",\"id\":1,\"ufrag\":\"u\",\"pwd\":\"p\"}",
      "“candidates” must be an array of strings" },
    { "{\"type\":\"probe\",\"id\":1,\"ufrag\":\"u\",\"pwd\":\"p\",\"candidates\":[1]}",
      "“candidates” must be an array of candidate lines" },
    { "{\"type\":\"probe\",\"id\":1,\"ufrag\":\"u\",\"pwd\":\"p\",\"candidates\":"
      "[\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\","
      "\"a\",\"a\"]}",
      "“candidates” lists more than 16 candidates" },
    { "{\"id\":\"x\"}", "has no “type”" },
    { "{\"type\":5}", "“type” must be a string" },
    { "{\"type\":null}", "“type” must be a string" },
    { "{\"type\":[\"msg\"]}", "“type” must be a string" },
    { "{\"type\":\"msg\",\"id\":5,\"seq\":1,\"time\":1,\"text\":\"t\"}",
      "“msg” frame’s “id” must be a string" },
    { "{\"type\":\"msg\",\"id\":\"x\",\"seq\":1,\"time\":\"x\",\"text\":\"t\"}",
      "“time” must be an integer" },
    { "{\"type\":\"msg\",\"id\":\"x\",\"seq\":1,\"time\":1.5,\"text\":\"t\"}",
      "“time” must be an integer" },
    { "{\"type\":\"msg\",\"id\":\"x\",\"seq\":1,\"time\":-1,\"text\":\"t\"}",
      "“time” is negative" },
    { "{\"type\":\"msg\",\"id\":\"x\",\"seq\":1,\"time\":1,\"text\":null}",
      "“text” must be a string" },
    { "{\"type\":\"msg\",\"id\":\"x\",\"seq\":1,\"time\":1,\"text\":{}}",
      "“text” must be a string" },
    { "{\"type\":\"msg\",\"id\":\"x\",\"seq\":1,\"time\":1}", "“text” is missing" },
    { "{\"type\":\"msg\",\"seq\":1,\"time\":1,\"text\":\"t\"}", "“id” is missing" },
    { "{\"type\":\"msg\",\"id\":\"x\",\"seq\":1,\"text\":\"t\"}", "“time” is missing" },
    { "{\"type\":\"msg\",\"id\":\"x\",\"time\":1,\"text\":\"t\"}", "“seq” is missing" },
    { "{\"type\":\"msg\",\"id\":\"x\",\"seq\":0,\"time\":1,\"text\":\"t\"}", "“seq” must be 1 to" },
    { "{\"type\":\"msg\",\"id\":\"x\",\"seq\":9007199254740992,\"time\":1,\"text\":\"t\"}",
      "“seq” must be 1 to" },
    { "{\"type\":\"msg\",\"id\":\"x\",\"seq\":\"1\",\"time\":1,\"text\":\"t\"}",
      "“seq” must be an integer" },
    { "{\"type\":\"msg\",\"id\":\"\",\"seq\":1,\"time\":1,\"text\":\"t\"}",
      "“id” must be 1 to 64" },
    { "{\"type\":\"ack\",\"id\":\"a b\"}", "“id” must be 1 to 64" },
    { long_id_json, "“ack” frame’s “id” must be 1 to 64" },
    { "{\"type\":\"ack\"}", "“ack” frame’s “id” is missing" },
    { "{\"type\":\"ack\",\"id\":true}", "“id” must be a string" },
    { long_text_json, "“text” is longer than 65536 bytes" },
    { "{\"type\":\"typing\"}", "“active” is missing" },
    { "{\"type\":\"typing\",\"active\":1}", "“active” must be true or false" },
    { "{\"type\":\"typing\",\"active\":\"true\"}", "“active” must be true or false" },
    { "{\"type\":\"bye\",\"reason\":7}", "“reason” must be a string" },
    { "{\"type\":\"pong\"}", "“pong” frame’s “id” is missing" },
    { "{\"type\":\"pong\",\"id\":0}", "“id” must be 1 to 2⁵³−1" },
    { "{\"type\":\"ping\",\"id\":\"1\"}", "“id” must be an integer" },
    { "{\"type\":\"ping\",\"id\":9007199254740992}", "“id” must be 1 to 2⁵³−1" },
    { "{\"type\":\"bye\",\"reason\":null}", "“reason” must be a string" },
    { "{\"type\":\"hello\",\"name\":\"A\"}", "“version” is missing" },
    { "{\"type\":\"hello\",\"version\":0,\"name\":\"A\"}", "“version” must be a positive integer" },
    { "{\"type\":\"hello\",\"version\":-1,\"name\":\"A\"}", "“version” must be a positive" },
    { "{\"type\":\"hello\",\"version\":1.0,\"name\":\"A\"}", "“version” must be a positive" },
    { "{\"type\":\"hello\",\"version\":\"1\",\"name\":\"A\"}", "“version” must be a positive" },
    { "{\"type\":\"hello\",\"version\":4294967296,\"name\":\"A\"}",
      "“version” must be a positive" },
    { "{\"type\":\"hello\",\"version\":1}", "“name” is missing" },
    { "{\"type\":\"hello\",\"version\":1,\"name\":\"12345678901234567890123456789012345678901234567"
      "890123456789012345\"}",
      "“name” is longer than 64 characters" },
    { "{\"type\":\"hello\",\"version\":1,\"name\":\"a\\u0007b\"}", "control character" },
    { "{\"type\":\"hello\",\"version\":1,\"name\":\"A\",\"features\":\"typing\"}",
      "“features” must be an array of strings" },
    { "{\"type\":\"hello\",\"version\":1,\"name\":\"A\",\"features\":[\"a\",1]}",
      "“features” must be an array of strings" },
    { "{\"type\":\"msg\",\"id\":\"x\",\"seq\":1,\"time\":1,\"text\":\"a\\u0000b\"}",
      "NUL character" },
    { "{\"type\":\"msg\",\"id\":\"x\",\"seq\":1,\"time\":1,\"text\":\"a\\ud800b\"}",
      "invalid escape" },
    { "{\"type\":\"msg\",\"id\":\"x\",\"seq\":1,\"time\":1,\"text\":\"bad \xff byte\"}",
      "not valid UTF-8" },
    { "{\"type\":\"msg\",\"id\":\"x\",\"seq\":1,\"time\":1,\"text\":\"overlong \xc0\xaf\"}",
      "not valid UTF-8" },
    { deep, "more than 16 levels deep" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PhFrame) frame = NULL;
      g_autofree char *shown = g_strndup (cases[i].json, 80);
      g_autofree char *escaped = g_strescape (shown, NULL);

      g_test_message ("%s", escaped);
      frame = parse_string (cases[i].json, &error);
      g_assert_null (frame);
      g_assert_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      if (strstr (error->message, cases[i].reason) == NULL)
        g_error ("“%s” does not mention “%s”", error->message, cases[i].reason);
    }

  /* The longest id is still fine. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (PhFrame) frame = parse_string (max_id_json, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (frame->id, ==, max_id);
  }

  /* An embedded NUL byte (not an escape) is invalid UTF-8 for the parser. */
  {
    g_autoptr (GError) error = NULL;
    const char json[] = "{\"type\":\"ping\"}\0";

    g_assert_null (ph_frame_parse (json, sizeof json - 1, &error));
    g_assert_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME);
  }
}

static GBytes *
encode_stream (GPtrArray *frames)
{
  GByteArray *stream = g_byte_array_new ();

  for (guint i = 0; i < frames->len; i++)
    {
      g_autoptr (GBytes) bytes = encode_ok (g_ptr_array_index (frames, i));
      gsize size;
      const guint8 *data = g_bytes_get_data (bytes, &size);

      g_byte_array_append (stream, data, size);
    }

  return g_byte_array_free_to_bytes (stream);
}

/* Pops every whole frame into @out. */
static void
drain (PhFrameDecoder *decoder, GPtrArray *out)
{
  PhFrame *frame;
  g_autoptr (GError) error = NULL;

  while ((frame = ph_frame_decoder_pop (decoder, &error)) != NULL)
    g_ptr_array_add (out, frame);
  g_assert_no_error (error);
}

static void
test_decoder_chunks (void)
{
  g_autoptr (GPtrArray) frames = make_frames ();
  g_autoptr (GBytes) stream = encode_stream (frames);
  const gsize chunk_sizes[] = { 1, 2, 3, 5, 7, 13, 4096, 65537, G_MAXSIZE };
  gsize size;
  const guint8 *data = g_bytes_get_data (stream, &size);

  for (gsize c = 0; c < G_N_ELEMENTS (chunk_sizes); c++)
    {
      g_autoptr (PhFrameDecoder) decoder = ph_frame_decoder_new ();
      g_autoptr (GPtrArray) got = g_ptr_array_new_with_free_func ((GDestroyNotify)ph_frame_free);

      for (gsize offset = 0; offset < size;)
        {
          g_autoptr (GError) error = NULL;
          gsize n = MIN (chunk_sizes[c], size - offset);

          g_assert_true (ph_frame_decoder_push (decoder, data + offset, n, &error));
          g_assert_no_error (error);
          offset += n;
          drain (decoder, got);
          g_assert_cmpuint (ph_frame_decoder_get_pending (decoder), <=, PH_FRAME_MAX_SIZE + 4);
        }

      g_assert_cmpuint (ph_frame_decoder_get_pending (decoder), ==, 0);
      g_assert_cmpuint (got->len, ==, frames->len);
      for (guint i = 0; i < frames->len; i++)
        assert_frames_equal (g_ptr_array_index (frames, i), g_ptr_array_index (got, i));
    }
}

/* Frames are handed out one by one even when they arrive together. */
static void
test_decoder_many_small_frames (void)
{
  g_autoptr (PhFrameDecoder) decoder = ph_frame_decoder_new ();
  g_autoptr (PhFrame) ping = ph_frame_new_ping ();
  g_autoptr (GBytes) one = encode_ok (ping);
  g_autoptr (GByteArray) stream = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  gsize one_size;
  const guint8 *one_data = g_bytes_get_data (one, &one_size);
  guint popped = 0;
  PhFrame *frame;

  for (guint i = 0; i < MANY_FRAMES; i++)
    g_byte_array_append (stream, one_data, one_size);
  /* Half a frame at the end stays pending. */
  g_byte_array_append (stream, one_data, one_size / 2);

  g_assert_true (ph_frame_decoder_push (decoder, stream->data, stream->len, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ph_frame_decoder_get_pending (decoder), ==, one_size / 2);

  while ((frame = ph_frame_decoder_pop (decoder, &error)) != NULL)
    {
      g_assert_cmpint (frame->type, ==, PH_FRAME_PING);
      ph_frame_free (frame);
      popped++;
      /* Interleaved pushes while frames are still queued keep the order. */
      if (popped == MANY_FRAMES / 2)
        g_assert_true (ph_frame_decoder_push (decoder, one_data + one_size / 2,
                                              one_size - one_size / 2, &error));
    }
  g_assert_no_error (error);
  g_assert_cmpuint (popped, ==, MANY_FRAMES + 1);
  g_assert_cmpuint (ph_frame_decoder_get_pending (decoder), ==, 0);
}

static void
test_decoder_truncated (void)
{
  g_autoptr (PhFrameDecoder) decoder = ph_frame_decoder_new ();
  g_autoptr (PhFrame) msg = ph_frame_new_msg ("m", 1, "a truncated message");
  g_autoptr (GBytes) bytes = encode_ok (msg);
  g_autoptr (GError) error = NULL;
  g_autoptr (PhFrame) popped = NULL;
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);

  /* Only part of the length prefix. */
  g_assert_true (ph_frame_decoder_push (decoder, data, 2, &error));
  g_assert_null (ph_frame_decoder_pop (decoder, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ph_frame_decoder_get_pending (decoder), ==, 2);

  /* All but the last byte. */
  g_assert_true (ph_frame_decoder_push (decoder, data + 2, size - 3, &error));
  g_assert_null (ph_frame_decoder_pop (decoder, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ph_frame_decoder_get_pending (decoder), ==, size - 1);

  g_assert_true (ph_frame_decoder_push (decoder, data + size - 1, 1, &error));
  popped = ph_frame_decoder_pop (decoder, &error);
  g_assert_no_error (error);
  assert_frames_equal (msg, popped);
  g_assert_cmpuint (ph_frame_decoder_get_pending (decoder), ==, 0);
}

static void
assert_push_fails (PhFrameDecoder *decoder, const guint8 *data, gsize length, const char *reason)
{
  g_autoptr (GError) error = NULL;
  const guint8 more[] = { 0, 0, 0, 2, '{', '}' };

  g_assert_false (ph_frame_decoder_push (decoder, data, length, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME);
  if (strstr (error->message, reason) == NULL)
    g_error ("“%s” does not mention “%s”", error->message, reason);
  g_clear_error (&error);

  /* Nothing of the refused data is held, and the decoder stays refused. */
  g_assert_cmpuint (ph_frame_decoder_get_pending (decoder), <=, 3);
  g_assert_false (ph_frame_decoder_push (decoder, more, sizeof more, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME);
  g_clear_error (&error);
  g_assert_null (ph_frame_decoder_pop (decoder, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME);
}

static void
test_decoder_bad_length (void)
{
  const guint8 zero[] = { 0, 0, 0, 0, '{', '}' };
  const guint8 too_big[] = { 0, 0x08, 0, 1 }; /* 512 KiB + 1 */
  const guint8 huge[] = { 0xff, 0xff, 0xff, 0xff, 'x', 'x' };
  const guint8 after_ok[] = { 0, 0, 0, 2, '{', '}', 0x7f, 0, 0, 0 };

  {
    g_autoptr (PhFrameDecoder) decoder = ph_frame_decoder_new ();
    assert_push_fails (decoder, zero, sizeof zero, "empty frame");
  }
  {
    g_autoptr (PhFrameDecoder) decoder = ph_frame_decoder_new ();
    assert_push_fails (decoder, too_big, sizeof too_big, "524289 bytes; the limit is 524288");
  }
  {
    g_autoptr (PhFrameDecoder) decoder = ph_frame_decoder_new ();
    assert_push_fails (decoder, huge, sizeof huge, "4294967295 bytes");
  }
  {
    /* The bad prefix arrives split over two pushes. */
    g_autoptr (PhFrameDecoder) decoder = ph_frame_decoder_new ();
    g_autoptr (GError) error = NULL;

    g_assert_true (ph_frame_decoder_push (decoder, huge, 3, &error));
    assert_push_fails (decoder, huge + 3, 1, "4294967295 bytes");
  }
  {
    /* A bad prefix behind a good frame in the same push. */
    g_autoptr (PhFrameDecoder) decoder = ph_frame_decoder_new ();
    assert_push_fails (decoder, after_ok, sizeof after_ok, "the limit is 524288");
  }
}

/* The largest frame is accepted, and while it arrives the decoder holds
 * no more than the frame itself. */
static void
test_decoder_max_frame (void)
{
  g_autoptr (PhFrameDecoder) decoder = ph_frame_decoder_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (PhFrame) frame = NULL;
  GString *json = g_string_new ("{\"type\":\"future\",\"pad\":\"");
  guint8 prefix[4];
  const gsize chunk = 10000;

  while (json->len < PH_FRAME_MAX_SIZE - 2)
    g_string_append_c (json, 'p');
  g_string_append (json, "\"}");
  g_assert_cmpuint (json->len, ==, PH_FRAME_MAX_SIZE);

  prefix[0] = json->len >> 24;
  prefix[1] = (json->len >> 16) & 0xff;
  prefix[2] = (json->len >> 8) & 0xff;
  prefix[3] = json->len & 0xff;
  g_assert_true (ph_frame_decoder_push (decoder, prefix, 4, &error));
  for (gsize offset = 0; offset < json->len; offset += chunk)
    {
      g_assert_true (ph_frame_decoder_push (decoder, (const guint8 *)json->str + offset,
                                            MIN (chunk, json->len - offset), &error));
      g_assert_no_error (error);
      g_assert_cmpuint (ph_frame_decoder_get_pending (decoder), <=, PH_FRAME_MAX_SIZE + 4);
    }

  frame = ph_frame_decoder_pop (decoder, &error);
  g_assert_no_error (error);
  g_assert_cmpint (frame->type, ==, PH_FRAME_UNKNOWN);
  g_assert_cmpuint (ph_frame_decoder_get_pending (decoder), ==, 0);
  g_string_free (json, TRUE);
}

/* A malformed frame is an error from pop; the stream framing is intact,
 * so the next frame can still be read. */
static void
test_decoder_malformed_frame (void)
{
  g_autoptr (PhFrameDecoder) decoder = ph_frame_decoder_new ();
  const guint8 stream[]
      = { 0,  0,   0,   3,   0xff, 0xfe, 0xfd, 0,   0,   0,   2,   '[', ']', 0,   0,   0,
          15, '{', '"', 't', 'y',  'p',  'e',  '"', ':', '"', 'p', 'i', 'n', 'g', '"', '}' };
  g_autoptr (GError) error = NULL;
  g_autoptr (PhFrame) ping = NULL;

  g_assert_true (ph_frame_decoder_push (decoder, stream, sizeof stream, &error));
  g_assert_null (ph_frame_decoder_pop (decoder, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME);
  g_assert_nonnull (strstr (error->message, "UTF-8"));
  g_clear_error (&error);
  g_assert_null (ph_frame_decoder_pop (decoder, &error));
  g_assert_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME);
  g_assert_nonnull (strstr (error->message, "not a JSON object"));
  g_clear_error (&error);

  ping = ph_frame_decoder_pop (decoder, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ping->type, ==, PH_FRAME_PING);
}

static void
append_frame (GByteArray *stream, const char *json, gsize length)
{
  guint8 prefix[4] = { length >> 24, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff };

  g_byte_array_append (stream, prefix, sizeof prefix);
  g_byte_array_append (stream, (const guint8 *)json, length);
}

/* json-glib 1.6 recurses once per '[' and overflows the stack at some
 * 100 000. A peer that sends a frame nested as deep as the size limit
 * allows, also in the shapes json-glib reads differently from strict JSON
 * (single quotes, comments, a "\u" escape that eats the quote after it),
 * gets an error the channel closes on, never a crash; and a frame too
 * large to hold a million levels is refused by its length. */
static void
test_decoder_deep_nesting (void)
{
  const struct
  {
    const char *head;
    const char *reason;
  } cases[] = {
    { "{\"type\":\"msg\",\"x\":", "nests JSON more than 16 levels deep" },
    { "{\"type\":\"msg\",\"x\":'\"',\"a\":", "has “'” outside a string" },
    { "{\"type\":\"msg\",\"x\":1 /*\"*/,\"a\":", "has “/” outside a string" },
    { "{\"type\":\"msg\",\"x\":\"\\u1\"\",\"a\":", "invalid escape" },
    { "{\"type\":\"msg\",\"x\":\"\\udc00\"\",\"a\":", "invalid escape" },
  };
  const char ping[] = "{\"type\":\"ping\"}";
  const gsize million = 1000000;

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (PhFrameDecoder) decoder = ph_frame_decoder_new ();
      g_autoptr (GByteArray) stream = g_byte_array_new ();
      g_autoptr (GString) json = g_string_new (cases[i].head);
      g_autoptr (GError) error = NULL;
      g_autoptr (PhFrame) frame = NULL;
      g_autoptr (PhFrame) next = NULL;

      while (json->len < PH_FRAME_MAX_SIZE)
        g_string_append_c (json, '[');
      append_frame (stream, json->str, json->len);
      append_frame (stream, ping, strlen (ping));

      g_test_message ("%s", cases[i].head);
      g_assert_true (ph_frame_decoder_push (decoder, stream->data, stream->len, &error));
      g_assert_no_error (error);
      frame = ph_frame_decoder_pop (decoder, &error);
      g_assert_null (frame);
      g_assert_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME);
      if (strstr (error->message, cases[i].reason) == NULL)
        g_error ("“%s” does not mention “%s”", error->message, cases[i].reason);
      g_clear_error (&error);

      /* The framing is intact: the frame after it is read. */
      next = ph_frame_decoder_pop (decoder, &error);
      g_assert_no_error (error);
      g_assert_cmpint (next->type, ==, PH_FRAME_PING);
    }

  {
    g_autoptr (PhFrameDecoder) decoder = ph_frame_decoder_new ();
    g_autoptr (GByteArray) stream = g_byte_array_new ();
    g_autoptr (GError) error = NULL;
    g_autofree char *brackets = g_strnfill (million, '[');
    g_autofree char *json = g_strconcat ("{\"type\":\"msg\",\"x\":", brackets, NULL);

    g_assert_null (ph_frame_parse (json, strlen (json), &error));
    g_assert_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME);
    g_clear_error (&error);

    append_frame (stream, json, strlen (json));
    g_assert_false (ph_frame_decoder_push (decoder, stream->data, stream->len, &error));
    g_assert_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME);
    g_assert_nonnull (strstr (error->message, "the limit is 524288 bytes"));
  }
}

static void
mutate (GRand *rand, GString *s)
{
  guint kind = g_rand_int_range (rand, 0, 5);
  gsize at = s->len > 0 ? g_rand_int_range (rand, 0, s->len) : 0;
  gsize run = g_rand_int_range (rand, 1, 64);
  guint8 byte = g_rand_int_range (rand, 0, 256);

  switch (kind)
    {
    case 0: /* flip a bit */
      if (s->len > 0)
        s->str[at] ^= 1 << (byte % 8);
      break;
    case 1: /* truncate */
      g_string_truncate (s, at);
      break;
    case 2: /* insert a byte, often one that matters to JSON */
      if (byte % 2 == 0)
        byte = "{}[]\":,\\u0"[byte % 10];
      g_string_insert_c (s, at, byte);
      break;
    case 3: /* delete a run */
      g_string_erase (s, at, MIN (run, s->len - at));
      break;
    default: /* duplicate a run elsewhere */
      {
        gsize n = MIN (run, s->len - at);
        g_autofree char *copy = g_strndup (s->str + at, n);

        g_string_insert_len (s, g_rand_int_range (rand, 0, s->len + 1), copy, n);
      }
      break;
    }
}

/* Any frame that parses can be sent back unchanged: encode and parse agree. */
static void
assert_re_encodes (const PhFrame *frame)
{
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (PhFrame) again = NULL;
  g_autoptr (GError) error = NULL;
  gsize size;
  const guint8 *data;

  if (frame->type == PH_FRAME_UNKNOWN)
    return;

  bytes = encode_ok (frame);
  data = g_bytes_get_data (bytes, &size);
  again = ph_frame_parse ((const char *)data + 4, size - 4, &error);
  g_assert_no_error (error);
  assert_frames_equal (frame, again);
}

/* Whatever the bytes, the parser and the decoder return a frame or an
 * error, never crash, and never hold more than one frame's worth. Run it
 * under valgrind or ASan for the real check. */
static void
test_fuzz (void)
{
  g_autoptr (GPtrArray) frames = g_ptr_array_new_with_free_func ((GDestroyNotify)ph_frame_free);
  g_autoptr (GBytes) stream = NULL;
  /* A fixed seed keeps a failure reproducible. */
  g_autoptr (GRand) rand = g_rand_new_with_seed (0xf4a3e);
  const char *const features[] = { "typing", NULL };
  guint parsed = 0;

  g_ptr_array_add (frames, ph_frame_new_hello ("Zoë", features));
  g_ptr_array_add (frames, ph_frame_new_msg ("id-1", 1700000000123, "héllo 🙂 世界"));
  g_ptr_array_add (frames, ph_frame_new_ack ("id-1"));
  g_ptr_array_add (frames, ph_frame_new_typing (TRUE));
  g_ptr_array_add (frames, ph_frame_new_bye ("quit"));
  stream = encode_stream (frames);

  for (guint i = 0; i < FUZZ_ITERATIONS; i++)
    {
      g_autoptr (GString) b = g_string_new (NULL);
      g_autoptr (PhFrameDecoder) decoder = ph_frame_decoder_new ();
      gsize size;
      const guint8 *data = g_bytes_get_data (stream, &size);
      guint n_mutations = g_rand_int_range (rand, 1, 5);
      gboolean broken = FALSE;

      /* Half the time mutate one frame's JSON, half the whole stream. */
      if (i % 2 == 0)
        {
          guint which = g_rand_int_range (rand, 0, frames->len);
          g_autoptr (GBytes) one = encode_ok (g_ptr_array_index (frames, which));
          g_autoptr (PhFrame) frame = NULL;
          g_autoptr (GError) error = NULL;
          const guint8 *one_data = g_bytes_get_data (one, &size);

          g_string_append_len (b, (const char *)one_data + 4, size - 4);
          for (guint m = 0; m < n_mutations; m++)
            mutate (rand, b);

          frame = ph_frame_parse (b->str, b->len, &error);
          g_assert_true ((frame == NULL) != (error == NULL));
          if (frame == NULL)
            g_assert_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME);
          else
            {
              parsed++;
              assert_re_encodes (frame);
            }
          continue;
        }

      g_string_append_len (b, (const char *)data, size);
      for (guint m = 0; m < n_mutations; m++)
        mutate (rand, b);

      for (gsize offset = 0; offset < b->len && !broken;)
        {
          g_autoptr (GError) error = NULL;
          gsize chunk = g_rand_int_range (rand, 1, 200);
          gsize n = MIN (b->len - offset, chunk);
          PhFrame *frame;

          if (!ph_frame_decoder_push (decoder, (const guint8 *)b->str + offset, n, &error))
            {
              g_assert_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME);
              broken = TRUE;
              break;
            }
          g_assert_cmpuint (ph_frame_decoder_get_pending (decoder), <=, PH_FRAME_MAX_SIZE + 4);
          offset += n;

          while ((frame = ph_frame_decoder_pop (decoder, &error)) != NULL || error != NULL)
            {
              if (frame == NULL)
                {
                  g_assert_error (error, PH_ERROR, PH_ERROR_INVALID_FRAME);
                  g_clear_error (&error);
                  continue;
                }
              parsed++;
              assert_re_encodes (frame);
              ph_frame_free (frame);
            }
        }
    }

  g_test_message ("%u frames parsed from mutated input", parsed);
  g_assert_cmpuint (parsed, >, 0);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/frame/round-trip", test_round_trip);
  g_test_add_func ("/frame/encoding-exact", test_encoding_exact);
  g_test_add_func ("/frame/known-answer", test_known_answer);
  g_test_add_func ("/frame/known-answer-escapes", test_known_answer_escapes);
  g_test_add_func ("/frame/encode-too-large", test_encode_too_large);
  g_test_add_func ("/frame/encode-invalid", test_encode_invalid);
  g_test_add_func ("/frame/parse-valid-variants", test_parse_valid_variants);
  g_test_add_func ("/frame/parse-invalid", test_parse_invalid);
  g_test_add_func ("/frame/decoder/chunks", test_decoder_chunks);
  g_test_add_func ("/frame/decoder/many-small-frames", test_decoder_many_small_frames);
  g_test_add_func ("/frame/decoder/truncated", test_decoder_truncated);
  g_test_add_func ("/frame/decoder/bad-length", test_decoder_bad_length);
  g_test_add_func ("/frame/decoder/max-frame", test_decoder_max_frame);
  g_test_add_func ("/frame/decoder/malformed-frame", test_decoder_malformed_frame);
  g_test_add_func ("/frame/decoder/deep-nesting", test_decoder_deep_nesting);
  g_test_add_func ("/frame/fuzz", test_fuzz);

  return g_test_run ();
}
