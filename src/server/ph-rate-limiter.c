/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "ph-rate-limiter"

#include "config.h"

#include "ph-rate-limiter.h"

typedef struct
{
  char *client;
  double tokens;
  gint64 last_us;
  GList link; /* in PhRateLimiter.recent, most recently seen last */
} Bucket;

struct _PhRateLimiter
{
  GObject parent_instance;

  guint rate;
  guint burst;
  guint period;
  guint max_clients;

  GHashTable *buckets; /* client → Bucket */
  GQueue recent;
};

G_DEFINE_FINAL_TYPE (PhRateLimiter, ph_rate_limiter, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_RATE,
  PROP_BURST,
  PROP_PERIOD,
  PROP_MAX_CLIENTS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
bucket_free (Bucket *bucket)
{
  g_free (bucket->client);
  g_free (bucket);
}

static void
ph_rate_limiter_finalize (GObject *object)
{
  PhRateLimiter *self = PH_RATE_LIMITER (object);

  /* The queue's links live inside the buckets, which the table frees. */
  g_queue_init (&self->recent);
  g_clear_pointer (&self->buckets, g_hash_table_unref);

  G_OBJECT_CLASS (ph_rate_limiter_parent_class)->finalize (object);
}

static void
ph_rate_limiter_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PhRateLimiter *self = PH_RATE_LIMITER (object);

  switch (prop_id)
    {
    case PROP_RATE:
      g_value_set_uint (value, self->rate);
      break;
    case PROP_BURST:
      g_value_set_uint (value, self->burst);
      break;
    case PROP_PERIOD:
      g_value_set_uint (value, self->period);
      break;
    case PROP_MAX_CLIENTS:
      g_value_set_uint (value, self->max_clients);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_rate_limiter_set_property (GObject *object, guint prop_id, const GValue *value,
                              GParamSpec *pspec)
{
  PhRateLimiter *self = PH_RATE_LIMITER (object);

  switch (prop_id)
    {
    case PROP_RATE:
      self->rate = g_value_get_uint (value);
      break;
    case PROP_BURST:
      self->burst = g_value_get_uint (value);
      break;
    case PROP_PERIOD:
      self->period = g_value_get_uint (value);
      break;
    case PROP_MAX_CLIENTS:
      self->max_clients = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ph_rate_limiter_class_init (PhRateLimiterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ph_rate_limiter_finalize;
  object_class->get_property = ph_rate_limiter_get_property;
  object_class->set_property = ph_rate_limiter_set_property;

  properties[PROP_RATE]
      = g_param_spec_uint ("rate", NULL, NULL, 1, 1000000, 20,
                           G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS
                               | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_BURST]
      = g_param_spec_uint ("burst", NULL, NULL, 1, 1000000, 60,
                           G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS
                               | G_PARAM_EXPLICIT_NOTIFY);
  /* "rate" tokens come every "period" seconds: 30 a minute is rate 30,
   * period 60. */
  properties[PROP_PERIOD]
      = g_param_spec_uint ("period", NULL, NULL, 1, 24 * 3600, 1,
                           G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS
                               | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_MAX_CLIENTS]
      = g_param_spec_uint ("max-clients", NULL, NULL, 1, G_MAXUINT, 65536,
                           G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS
                               | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ph_rate_limiter_init (PhRateLimiter *self)
{
  self->buckets
      = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify)bucket_free);
}

PhRateLimiter *
ph_rate_limiter_new (guint rate, guint burst, guint max_clients)
{
  return g_object_new (PH_TYPE_RATE_LIMITER, "rate", rate, "burst", burst, "max-clients",
                       max_clients, NULL);
}

static Bucket *
lookup_bucket (PhRateLimiter *self, const char *client, gint64 now_us)
{
  Bucket *bucket = g_hash_table_lookup (self->buckets, client);

  if (bucket != NULL)
    {
      g_queue_unlink (&self->recent, &bucket->link);
      g_queue_push_tail_link (&self->recent, &bucket->link);
      return bucket;
    }

  if (g_hash_table_size (self->buckets) >= self->max_clients)
    {
      GList *oldest = g_queue_pop_head_link (&self->recent);

      g_hash_table_remove (self->buckets, ((Bucket *)oldest->data)->client);
    }

  bucket = g_new0 (Bucket, 1);
  bucket->client = g_strdup (client);
  bucket->tokens = self->burst;
  bucket->last_us = now_us;
  bucket->link.data = bucket;
  g_hash_table_insert (self->buckets, bucket->client, bucket);
  g_queue_push_tail_link (&self->recent, &bucket->link);

  return bucket;
}

/* Takes one token from @client's bucket. When there is none, returns FALSE
 * and sets @out_retry_after to the whole seconds until there will be one. */
gboolean
ph_rate_limiter_check_at (PhRateLimiter *self, const char *client, gint64 now_us,
                          guint *out_retry_after)
{
  Bucket *bucket;
  double elapsed;
  double per_second;

  g_return_val_if_fail (PH_IS_RATE_LIMITER (self), FALSE);
  g_return_val_if_fail (client != NULL, FALSE);

  bucket = lookup_bucket (self, client, now_us);
  per_second = self->rate / (double)self->period;

  /* A clock that went backwards must not mint tokens. */
  elapsed = MAX (now_us - bucket->last_us, 0) / (double)G_USEC_PER_SEC;
  bucket->tokens = MIN (bucket->tokens + elapsed * per_second, (double)self->burst);
  bucket->last_us = MAX (now_us, bucket->last_us);

  if (bucket->tokens >= 1.0)
    {
      bucket->tokens -= 1.0;
      if (out_retry_after != NULL)
        *out_retry_after = 0;
      return TRUE;
    }

  if (out_retry_after != NULL)
    {
      double wait = (1.0 - bucket->tokens) / per_second;
      guint seconds = (guint)wait;

      *out_retry_after = MAX (1, seconds < wait ? seconds + 1 : seconds);
    }
  return FALSE;
}

gboolean
ph_rate_limiter_check (PhRateLimiter *self, const char *client, guint *out_retry_after)
{
  return ph_rate_limiter_check_at (self, client, g_get_monotonic_time (), out_retry_after);
}

guint
ph_rate_limiter_get_n_clients (PhRateLimiter *self)
{
  g_return_val_if_fail (PH_IS_RATE_LIMITER (self), 0);

  return g_hash_table_size (self->buckets);
}
