/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* A token bucket per client address: "rate" tokens every "period"
 * seconds (1 unless set), "burst" at most. The table of buckets has a
 * fixed maximum size: when it is full the least recently seen client is
 * forgotten, which costs that client nothing but a fresh, full bucket. */

#define PH_TYPE_RATE_LIMITER (ph_rate_limiter_get_type ())
G_DECLARE_FINAL_TYPE (PhRateLimiter, ph_rate_limiter, PH, RATE_LIMITER, GObject)

PhRateLimiter *ph_rate_limiter_new (guint rate, guint burst, guint max_clients);
gboolean ph_rate_limiter_check (PhRateLimiter *self, const char *client, guint *out_retry_after);
gboolean ph_rate_limiter_check_at (PhRateLimiter *self, const char *client, gint64 now_us,
                                   guint *out_retry_after);
guint ph_rate_limiter_get_n_clients (PhRateLimiter *self);

G_END_DECLS
