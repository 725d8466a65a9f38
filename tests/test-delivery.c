/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-delivery"

#include "config.h"

#include "ph-delivery.h"

/* Writes what is unwritten and returns the texts, in order, joined by " ". */
static char *
write_all (PhDelivery *delivery)
{
  g_autoptr (GStrvBuilder) texts = g_strv_builder_new ();
  g_auto (GStrv) joined = NULL;
  const PhOutgoingMessage *message;

  while ((message = ph_delivery_next_unwritten (delivery)) != NULL)
    g_strv_builder_add (texts, message->text);
  joined = g_strv_builder_end (texts);
  return g_strjoinv (" ", joined);
}

static void
test_in_order_once (void)
{
  g_autoptr (PhDelivery) delivery = ph_delivery_new ();
  const PhOutgoingMessage *first = ph_delivery_queue (delivery, "one", 1000);
  const PhOutgoingMessage *second = ph_delivery_queue (delivery, "two", 2000);
  g_autofree char *written = NULL;
  g_autofree char *again = NULL;

  g_assert_cmpuint (first->seq, ==, 1);
  g_assert_cmpuint (second->seq, ==, 2);
  g_assert_cmpint (second->time_ms, ==, 2000);
  g_assert_cmpstr (first->id, !=, second->id);
  g_assert_true (g_uuid_string_is_valid (first->id));

  written = write_all (delivery);
  g_assert_cmpstr (written, ==, "one two");
  /* Written once per channel. */
  again = write_all (delivery);
  g_assert_cmpstr (again, ==, "");
  g_assert_cmpuint (ph_delivery_get_unacknowledged (delivery), ==, 2);
}

/* After a reconnection the peer gets again what it did not acknowledge,
 * in the original order and with the original numbers. */
static void
test_rewind_writes_unacknowledged_again (void)
{
  g_autoptr (PhDelivery) delivery = ph_delivery_new ();
  g_autofree char *first_id = g_strdup (ph_delivery_queue (delivery, "one", 1)->id);
  g_autofree char *written = NULL;
  const PhOutgoingMessage *message;

  ph_delivery_queue (delivery, "two", 2);
  ph_delivery_queue (delivery, "three", 3);
  g_free (write_all (delivery));
  g_assert_true (ph_delivery_acknowledge (delivery, first_id));

  ph_delivery_rewind (delivery);
  message = ph_delivery_next_unwritten (delivery);
  g_assert_cmpstr (message->text, ==, "two");
  g_assert_cmpuint (message->seq, ==, 2);
  written = write_all (delivery);
  g_assert_cmpstr (written, ==, "three");
}

static void
test_acknowledge (void)
{
  g_autoptr (PhDelivery) delivery = ph_delivery_new ();
  g_autofree char *id = g_strdup (ph_delivery_queue (delivery, "one", 1)->id);
  g_autofree char *written = NULL;

  g_assert_true (ph_delivery_acknowledge (delivery, id));
  g_assert_cmpuint (ph_delivery_get_unacknowledged (delivery), ==, 0);
  /* A second acknowledgement of the same message, or of one never sent. */
  g_assert_false (ph_delivery_acknowledge (delivery, id));
  g_assert_false (ph_delivery_acknowledge (delivery, "not-a-message"));
  /* Acknowledged before it was written on this channel: not written. */
  ph_delivery_rewind (delivery);
  written = write_all (delivery);
  g_assert_cmpstr (written, ==, "");
}

/* An acknowledgement of the next message to write skips it, and the
 * messages after it still go. */
static void
test_acknowledge_unwritten (void)
{
  g_autoptr (PhDelivery) delivery = ph_delivery_new ();
  g_autofree char *id = g_strdup (ph_delivery_queue (delivery, "one", 1)->id);
  g_autofree char *written = NULL;

  ph_delivery_queue (delivery, "two", 2);
  g_assert_true (ph_delivery_acknowledge (delivery, id));
  written = write_all (delivery);
  g_assert_cmpstr (written, ==, "two");
}

static void
test_drain (void)
{
  g_autoptr (PhDelivery) delivery = ph_delivery_new ();
  g_autofree char *one = g_strdup (ph_delivery_queue (delivery, "one", 1)->id);
  g_autofree char *two = g_strdup (ph_delivery_queue (delivery, "two", 2)->id);
  g_auto (GStrv) lost = ph_delivery_drain (delivery);

  g_assert_cmpuint (g_strv_length (lost), ==, 2);
  g_assert_cmpstr (lost[0], ==, one);
  g_assert_cmpstr (lost[1], ==, two);
  g_assert_cmpuint (ph_delivery_get_unacknowledged (delivery), ==, 0);
  g_assert_null (ph_delivery_next_unwritten (delivery));
  /* Numbers go on after a drain: they are never reused. */
  g_assert_cmpuint (ph_delivery_queue (delivery, "three", 3)->seq, ==, 3);
}

static void
test_receive (void)
{
  g_autoptr (PhDelivery) delivery = ph_delivery_new ();

  g_assert_cmpint (ph_delivery_receive (delivery, 1), ==, PH_INCOMING_NEW);
  g_assert_cmpint (ph_delivery_receive (delivery, 2), ==, PH_INCOMING_NEW);
  /* Written again after a reconnection. */
  g_assert_cmpint (ph_delivery_receive (delivery, 1), ==, PH_INCOMING_COPY);
  g_assert_cmpint (ph_delivery_receive (delivery, 2), ==, PH_INCOMING_COPY);
  g_assert_cmpint (ph_delivery_receive (delivery, 0), ==, PH_INCOMING_COPY);
  /* A skipped number, and the gap does not advance the count. */
  g_assert_cmpint (ph_delivery_receive (delivery, 4), ==, PH_INCOMING_GAP);
  g_assert_cmpuint (ph_delivery_get_received (delivery), ==, 2);
  g_assert_cmpint (ph_delivery_receive (delivery, 3), ==, PH_INCOMING_NEW);
  g_assert_cmpint (ph_delivery_receive (delivery, G_MAXUINT64), ==, PH_INCOMING_GAP);
}

static void
test_finalize_with_messages (void)
{
  PhDelivery *delivery = ph_delivery_new ();

  ph_delivery_queue (delivery, "one", 1);
  ph_delivery_queue (delivery, "two", 2);
  ph_delivery_next_unwritten (delivery);
  g_assert_finalize_object (delivery);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/delivery/in-order-once", test_in_order_once);
  g_test_add_func ("/delivery/rewind-writes-unacknowledged-again",
                   test_rewind_writes_unacknowledged_again);
  g_test_add_func ("/delivery/acknowledge", test_acknowledge);
  g_test_add_func ("/delivery/acknowledge-unwritten", test_acknowledge_unwritten);
  g_test_add_func ("/delivery/drain", test_drain);
  g_test_add_func ("/delivery/receive", test_receive);
  g_test_add_func ("/delivery/finalize-with-messages", test_finalize_with_messages);

  return g_test_run ();
}
