/*
 * Metrics in the Prometheus text format: the glue between the counters
 * the consumer keeps in place (the slots' kefo_shard_stats, c->counters,
 * the lease coordinator, the HTTP/2 client) and the I/O-free writer of
 * base/prom_text.c. Nothing here runs unless someone asks for the text.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <kefo/kefo.h>

#include "aws/http.h"
#include "base/prom_text.h"
#include "runtime/consumer_internal.h"
#include "runtime/metrics.h"

/* Seconds, as the histogram's le labels say; KEFO_METRIC_CP_BUCKETS. */
static const double cp_bounds[KEFO_METRIC_CP_BUCKETS] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

static const char *const err_kind_names[KEFO_METRIC_ERR_KINDS] = {
    "throttled", "transport", "server", "lease_lost", "other"};

static int throttling_type(const char *t) {
  static const char *const types[] = {
      "LimitExceededException",   "ProvisionedThroughputExceededException",
      "ThrottlingException",      "Throttling",
      "TooManyRequestsException", "RequestLimitExceeded"};
  size_t i;

  for (i = 0; t && i < sizeof(types) / sizeof(types[0]); ++i) {
    if (strcmp(t, types[i]) == 0) {
      return 1;
    }
  }
  return 0;
}

static kefo_metric_err_kind err_kind(int code, const kefo_error_info *info) {
  if (info && (throttling_type(info->aws_type) || info->http_status == 429)) {
    return KEFO_METRIC_ERR_THROTTLED;
  }
  switch (code) {
  case KEFO_ERR_LEASE_LOST:
    return KEFO_METRIC_ERR_LEASE_LOST;
  case KEFO_ERR_CONNECT:
  case KEFO_ERR_TLS:
  case KEFO_ERR_TIMEOUT:
  case KEFO_ERR_HTTP:
  case KEFO_ERR_STREAM_RESET:
  case KEFO_ERR_RESPONSE_TOO_LARGE:
  case KEFO_ERR_ES_PRELUDE_CRC:
  case KEFO_ERR_ES_MESSAGE_CRC:
  case KEFO_ERR_ES_TOO_LARGE:
  case KEFO_ERR_ES_BAD_LENGTH:
  case KEFO_ERR_ES_BAD_HEADER:
  case KEFO_ERR_ES_TRUNCATED:
    return KEFO_METRIC_ERR_TRANSPORT;
  case KEFO_ERR_AWS:
  case KEFO_ERR_BAD_RESPONSE:
  case KEFO_ERR_LEASE_STORE:
    return KEFO_METRIC_ERR_SERVER;
  default:
    return KEFO_METRIC_ERR_OTHER;
  }
}

void kefo__metrics_count_error(kefo_consumer *c, int code,
                               const kefo_error_info *info) {
  ++c->counters.errors[err_kind(code, info)];
}

void kefo__metrics_checkpoint(kefo_consumer *c, size_t n, int error,
                              int64_t ms) {
  kefo_consumer_counters *k = &c->counters;
  size_t b = 0;

  if (error) {
    k->checkpoint_failures += n;
    return;
  }
  k->checkpoints += n;
  ms = ms < 0 ? 0 : ms;
  while (b < KEFO_METRIC_CP_BUCKETS && (double)ms > cp_bounds[b] * 1000.0) {
    ++b;
  }
  ++k->cp_buckets[b];
  k->cp_sum_ms += ms;
}

/* ---- rendering ---------------------------------------------------------- */

typedef struct render {
  kefo_prom_text w;
  kefo_consumer *c;
  const char *stream;
  int64_t now_ms;
  const kefo_shard_watermark *wms; /* in the readers' order */
} render;

static const char *stream_label(kefo_consumer *c) {
  const char *name = kefo__config_get_str(c->cfg, KEFO_CFG_STREAM_NAME);
  const char *arn = c->stream_arn[0]
                        ? c->stream_arn
                        : kefo__config_get_str(c->cfg, KEFO_CFG_STREAM_ARN);
  const char *slash;

  if (name && name[0]) {
    return name;
  }
  /* arn:aws:kinesis:region:account:stream/NAME */
  slash = arn ? strstr(arn, ":stream/") : NULL;
  return slash ? slash + 8 : arn ? arn : "";
}

static void consumer_u64(render *m, const char *name, const char *type,
                         const char *help, uint64_t v) {
  kefo_prom_label l = {"stream", m->stream};

  kefo__prom_text_family(&m->w, name, type, help);
  kefo__prom_text_u64(&m->w, name, NULL, &l, 1, v);
}

typedef enum { F_RECORDS, F_BYTES, F_BEHIND, F_AGE, F_WATERMARK } shard_field;

/* Escapes each shard's stream and shard labels once per render into
   c->metrics_labels: written again in each of the ten per-shard samples,
   they were most of a scrape's time at 1,000 shards. */
static int shard_labels(render *m) {
  kefo_buf *b = &m->c->metrics_labels;
  kefo_prom_label l[2] = {{"stream", m->stream}, {"shard", NULL}};
  kefo_shard_slot *r;

  kefo__buf_reset(b);
  for (r = m->c->readers; r; r = r->next) {
    size_t at = b->len, len;
    l[1].value = r->shard_id;
    if (kefo__buf_reserve(b, sizeof(len)) != 0) {
      return KEFO_ERR_NOMEM;
    }
    b->len += sizeof(len);
    if (kefo__prom_text_label_text(b, l, 2) != 0) {
      return KEFO_ERR_NOMEM;
    }
    len = b->len - at - sizeof(len);
    memcpy(b->data + at, &len, sizeof(len));
  }
  return 0;
}

/* The next shard's label text from c->metrics_labels, at *|at|. */
static const char *next_labels(const render *m, size_t *at, size_t *len) {
  const uint8_t *p = m->c->metrics_labels.data + *at;

  memcpy(len, p, sizeof(*len));
  *at += sizeof(*len) + *len;
  return (const char *)p + sizeof(*len);
}

/* One per-shard family; shards without a value (no MillisBehindLatest,
   no record, no watermark yet) have no sample rather than a made-up
   one. */
static void shard_family(render *m, const char *name, const char *type,
                         const char *help, shard_field f) {
  kefo_shard_slot *r;
  size_t i = 0, at = 0, len;

  kefo__prom_text_family(&m->w, name, type, help);
  for (r = m->c->readers; r; r = r->next, ++i) {
    const char *l = next_labels(m, &at, &len);
    if (f == F_RECORDS) {
      kefo__prom_text_u64_pre(&m->w, name, l, len, NULL, r->stats.records);
    } else if (f == F_BYTES) {
      kefo__prom_text_u64_pre(&m->w, name, l, len, NULL, r->stats.bytes);
    } else if (f == F_BEHIND && r->stats.millis_behind_latest >= 0) {
      kefo__prom_text_millis_pre(&m->w, name, l, len, NULL,
                                 r->stats.millis_behind_latest);
    } else if (f == F_AGE && r->delivered_at_ms > 0) {
      kefo__prom_text_millis_pre(&m->w, name, l, len, NULL,
                                 m->now_ms - r->delivered_at_ms);
    } else if (f == F_WATERMARK && m->wms &&
               m->wms[i].watermark != KEFO_WATERMARK_NONE) {
      kefo__prom_text_millis_pre(&m->w, name, l, len, NULL,
                                 m->wms[i].watermark);
    }
  }
}

static const char *shard_state(const kefo_consumer *c,
                               const kefo_shard_slot *r) {
  return r->state == R_FINISHED   ? "finished"
         : r->state == R_FAILED   ? "failed"
         : c->state >= C_STOPPING ? "stopped"
         : r->paused              ? "paused"
                                  : "reading";
}

/* A state set: one sample per state and shard, 1 for the state it is
   in, so that sum by (state) counts shards and a query needs no regex. */
static void shard_states(render *m) {
  static const char *const states[] = {"reading", "paused", "finished",
                                       "failed", "stopped"};
  static const char *const state_labels[] = {
      ",state=\"reading\"", ",state=\"paused\"", ",state=\"finished\"",
      ",state=\"failed\"", ",state=\"stopped\""};
  const char *name = "kefo_shard_state";
  kefo_shard_slot *r;
  size_t i, at = 0, len;

  kefo__prom_text_family(&m->w, name, "gauge",
                         "1 for the state the shard is in, else 0.");
  for (r = m->c->readers; r; r = r->next) {
    const char *now = shard_state(m->c, r);
    const char *l = next_labels(m, &at, &len);
    for (i = 0; i < sizeof(states) / sizeof(states[0]); ++i) {
      kefo__prom_text_u64_pre(&m->w, name, l, len, state_labels[i],
                              strcmp(now, states[i]) == 0);
    }
  }
}

static void shards(render *m) {
  shard_family(m, "kefo_shard_records_total", "counter",
               "User records (after KPL de-aggregation) delivered.", F_RECORDS);
  shard_family(m, "kefo_shard_bytes_total", "counter",
               "Data bytes of the records delivered.", F_BYTES);
  shard_family(m, "kefo_shard_behind_latest_seconds", "gauge",
               "MillisBehindLatest of the last event or GetRecords answer, "
               "in seconds.",
               F_BEHIND);
  shard_family(m, "kefo_shard_last_delivery_age_seconds", "gauge",
               "Seconds since records of the shard were last delivered.",
               F_AGE);
  shard_family(m, "kefo_shard_watermark_seconds", "gauge",
               "The shard's event-time watermark (Unix seconds).", F_WATERMARK);
  shard_states(m);
}

static void errors(render *m) {
  const char *name = "kefo_errors_total";
  kefo_prom_label l[2] = {{"stream", m->stream}, {"kind", NULL}};
  size_t i;

  kefo__prom_text_family(&m->w, name, "counter",
                         "Errors reported (retried ones included), by kind.");
  for (i = 0; i < KEFO_METRIC_ERR_KINDS; ++i) {
    l[1].value = err_kind_names[i];
    kefo__prom_text_u64(&m->w, name, NULL, l, 2, m->c->counters.errors[i]);
  }
}

static void checkpoints(render *m) {
  const kefo_consumer_counters *k = &m->c->counters;
  const char *name = "kefo_checkpoint_duration_seconds";
  kefo_prom_label l = {"stream", m->stream};

  consumer_u64(m, "kefo_checkpoints_total", "counter",
               "Shard checkpoints the lease store wrote.", k->checkpoints);
  consumer_u64(m, "kefo_checkpoint_failures_total", "counter",
               "Shard checkpoints the lease store refused or failed.",
               k->checkpoint_failures);
  kefo__prom_text_family(&m->w, name, "histogram",
                         "Time from asking the lease store to write a batch "
                         "of checkpoints to its answer.");
  kefo__prom_text_histogram(&m->w, name, &l, 1, cp_bounds, k->cp_buckets,
                            KEFO_METRIC_CP_BUCKETS,
                            (double)k->cp_sum_ms / 1000.0);
}

static void consumer_wide(render *m) {
  const kefo_consumer_counters *k = &m->c->counters;
  size_t conns = 0, streams = 0;
  kefo_prom_label v = {"version", KEFO_VERSION};

  kefo__prom_text_family(&m->w, "kefo_build_info", "gauge",
                         "Always 1; the version of libkefo in a label.");
  kefo__prom_text_u64(&m->w, "kefo_build_info", NULL, &v, 1, 1);
  consumer_u64(m, "kefo_subscriptions_opened_total", "counter",
               "Subscriptions (polling: shard iterators) opened, each "
               "shard's first included.",
               k->subscriptions);
  consumer_u64(m, "kefo_subscriptions_renewed_total", "counter",
               "Subscriptions opened after one that ended without error.",
               k->renewals);
  consumer_u64(m, "kefo_resubscribes_after_error_total", "counter",
               "Subscriptions opened after one that ended with an error.",
               k->resubscribes_after_error);
  errors(m);
  consumer_u64(m, "kefo_leases_held", "gauge",
               "Leases this worker holds (0 without a lease table).",
               kefo__coord_leases_held(m->c));
  checkpoints(m);
  if (m->c->http) {
    kefo__http_client_h2_counts(m->c->http, &conns, &streams);
  }
  consumer_u64(m, "kefo_http2_connections", "gauge", "HTTP/2 connections open.",
               conns);
  consumer_u64(m, "kefo_http2_streams", "gauge",
               "HTTP/2 streams open (subscriptions and calls).", streams);
}

int kefo_consumer_metrics(kefo_consumer *c, const char **text, size_t *len) {
  render m;
  kefo_watermarks wm;

  if (c == NULL || text == NULL || len == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  *text = NULL;
  *len = 0;
  if (c->metrics_text.mem == NULL) {
    kefo__buf_init(&c->metrics_text, c->mem);
    kefo__buf_init(&c->metrics_labels, c->mem);
  }
  kefo__buf_reset(&c->metrics_text);
  kefo__prom_text_init(&m.w, &c->metrics_text);
  m.c = c;
  m.stream = stream_label(c);
  m.now_ms = c->aws ? kefo__consumer_now_ms(c) : 0;
  m.wms = NULL;
  if (kefo_consumer_watermarks(c, &wm) != 0) {
    return KEFO_ERR_NOMEM;
  }
  m.wms = wm.shards;
  if (shard_labels(&m) != 0) {
    return KEFO_ERR_NOMEM;
  }
  consumer_wide(&m);
  shards(&m);
  kefo__prom_text_family(&m.w, "kefo_watermark_seconds", "gauge",
                         "The global watermark (Unix seconds): the smallest "
                         "of the shards being read that are not idle.");
  if (wm.global != KEFO_WATERMARK_NONE) {
    kefo_prom_label l = {"stream", m.stream};
    kefo__prom_text_millis(&m.w, "kefo_watermark_seconds", NULL, &l, 1,
                           wm.global);
  }
  if (m.w.error || kefo__buf_cstr(&c->metrics_text) == NULL) {
    return KEFO_ERR_NOMEM;
  }
  *text = (const char *)c->metrics_text.data;
  *len = c->metrics_text.len;
  return 0;
}

/* ---- the producer ------------------------------------------------------- */

int kefo__metrics_render_producer(kefo_buf *out, const char *const *streams,
                                  const kefo_put_stats *st, size_t n) {
  static const struct {
    const char *name, *type, *help;
    size_t off;
  } f[] = {{"kefo_producer_buffered_records", "gauge",
            "User records held: queued or in flight.",
            offsetof(kefo_put_stats, buffered_records)},
           {"kefo_producer_buffered_bytes", "gauge",
            "Data and partition key bytes of the records held.",
            offsetof(kefo_put_stats, buffered_bytes)},
           {"kefo_producer_in_flight_calls", "gauge",
            "PutRecords calls in flight.",
            offsetof(kefo_put_stats, in_flight_calls)},
           {"kefo_producer_in_flight_records", "gauge",
            "User records in the PutRecords calls in flight.",
            offsetof(kefo_put_stats, in_flight_records)},
           {"kefo_producer_records_put_total", "counter",
            "User records accepted by kefo_producer_put.",
            offsetof(kefo_put_stats, put)},
           {"kefo_producer_records_acked_total", "counter",
            "User records the stream acknowledged.",
            offsetof(kefo_put_stats, acknowledged)},
           {"kefo_producer_records_retried_total", "counter",
            "User records sent again after a failed entry or call (each time).",
            offsetof(kefo_put_stats, retried)},
           {"kefo_producer_records_failed_total", "counter",
            "User records given up (reported to on_failure).",
            offsetof(kefo_put_stats, failed)},
           {"kefo_producer_records_throttled_total", "counter",
            "Entries answered ProvisionedThroughputExceededException.",
            offsetof(kefo_put_stats, throttled)},
           {"kefo_producer_calls_total", "counter",
            "PutRecords calls answered.", offsetof(kefo_put_stats, calls)},
           {"kefo_producer_kinesis_records_total", "counter",
            "Kinesis records written (aggregates count once).",
            offsetof(kefo_put_stats, kinesis_records)},
           {"kefo_producer_sent_bytes_total", "counter",
            "Request body bytes sent.", offsetof(kefo_put_stats, bytes_sent)}};
  kefo_prom_text w;
  size_t i, k;

  kefo__buf_reset(out);
  kefo__prom_text_init(&w, out);
  for (i = 0; i < sizeof(f) / sizeof(f[0]); ++i) {
    kefo__prom_text_family(&w, f[i].name, f[i].type, f[i].help);
    for (k = 0; k < n; ++k) {
      kefo_prom_label l = {"stream", streams[k] ? streams[k] : ""};
      uint64_t v;
      memcpy(&v, (const char *)&st[k] + f[i].off, sizeof(v));
      kefo__prom_text_u64(&w, f[i].name, NULL, &l, 1, v);
    }
  }
  return w.error ? w.error : kefo__buf_cstr(out) ? 0 : KEFO_ERR_NOMEM;
}
