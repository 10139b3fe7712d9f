/*
 * The producer's other streams (kefo_producer_put_to): a producer of its
 * own for each stream a record names, a kid, started beside the
 * application's producer at that stream's first record, on its loop and
 * with its config, whose reports go to the application's callbacks as
 * the parent's; flushes, the stop, stats and metrics over all of them.
 *
 * Why a whole producer per stream rather than streams inside one core: a
 * call is for one stream, with its own shard map, rate limits and
 * answers; a kid reuses all of that unchanged, and a stream that cannot
 * be listed stops its kid alone. What is not per stream is shared: a
 * kid of its parent's region signs and sends through its parent's HTTP
 * client and credentials (one connection pool, one credentials cache);
 * a kid of another region (a stream ARN's) has its own, since only that
 * region's endpoint serves its stream.
 */
#include <string.h>

#include <event2/event.h>
#include <kefo/kefo.h>

#include "aws/region.h"
#include "base/hash.h"
#include "base/mem.h"
#include "runtime/config.h"
#include "runtime/metrics.h"
#include "runtime/producer_glue.h"

/* A kid's reports, handed to its parent's callbacks as the parent's. */
static void kid_ack(kefo_producer *kid, void *ctx, const kefo_put_result *res,
                    void *ud) {
  kefo_producer *p = ud;

  (void)kid;
  if (p->cb.on_ack) {
    p->cb.on_ack(p, ctx, res, p->user_data);
  }
}

static void kid_fail(kefo_producer *kid, void *ctx, const kefo_error_info *err,
                     void *ud) {
  kefo_producer *p = ud;

  (void)kid;
  if (p->cb.on_failure) {
    p->cb.on_failure(p, ctx, err, p->user_data);
  }
}

static void kid_writable(kefo_producer *kid, void *ud) {
  kefo_producer *p = ud;

  (void)kid;
  if (p->state == P_RUNNING && p->cb.on_writable) {
    p->cb.on_writable(p, p->user_data);
  }
}

/* A kid stopped: alone (its stream could not be listed; its records were
   each told why), or as part of its parent's stop. With
   sink.fail-on-error, a kid's error stops the parent as its own would. */
static void kid_stopped(kefo_producer *kid, const kefo_error_info *err,
                        void *ud) {
  kefo_producer *p = ud;

  (void)kid;
  if (p->state == P_RUNNING) {
    if (err && kefo__config_get_bool(p->cfg, KEFO_CFG_SINK_FAIL_ON_ERROR)) {
      kefo__producer_keep_fatal(p, err);
    }
    kefo__producer_soon(p); /* the pass frees it, or stops the parent */
    return;
  }
  if (p->state == P_STOPPED && kefo__producer_kids_stopped(p)) {
    event_active(p->stopped_ev, 0, 0);
  }
}

int kefo__producer_kids_stopped(const kefo_producer *p) {
  size_t i;

  for (i = 0; i < p->nstreams; ++i) {
    if (p->streams[i].kid && p->streams[i].kid->state != P_STOPPED) {
      return 0;
    }
  }
  return 1;
}

void kefo__producer_stop_kids(kefo_producer *p, int graceful) {
  size_t i;

  for (i = 0; i < p->nstreams; ++i) {
    if (p->streams[i].kid) {
      kefo_producer_stop(p->streams[i].kid, graceful);
    }
  }
}

/* Adds |from|'s counters (not its gauges) to |to|: a stopped kid's
   are kept, its gauges are zero. */
static void add_counters(kefo_put_stats *to, const kefo_put_stats *from) {
  to->put += from->put;
  to->acknowledged += from->acknowledged;
  to->failed += from->failed;
  to->retried += from->retried;
  to->throttled += from->throttled;
  to->calls += from->calls;
  to->kinesis_records += from->kinesis_records;
  to->bytes_sent += from->bytes_sent;
}

/* |s|'s kid, stopped alone, moves to the dead (its counters kept in the
   stream's), to be freed at the next pass: this may run inside one of
   its callbacks. */
static void bury(kefo_producer *p, pstream *s) {
  kefo_put_stats st;

  kefo__producer_core_stats(s->kid->core, &st);
  add_counters(&s->gone, &st);
  s->kid->dead_next = p->dead;
  p->dead = s->kid;
  s->kid = NULL;
}

void kefo__producer_reap_dead(kefo_producer *p) {
  size_t i;

  if (p->state != P_RUNNING) {
    return; /* a stopping parent reports once every kid is done */
  }
  for (i = 0; i < p->nstreams; ++i) {
    if (p->streams[i].kid && p->streams[i].kid->state == P_STOPPED) {
      bury(p, &p->streams[i]);
    }
  }
  while (p->dead) {
    kefo_producer *kid = p->dead;
    p->dead = kid->dead_next;
    kefo_producer_del(kid);
  }
}

/* Whether |stream| is the producer's own: its name or ARN, or the name
   at the end of its ARN (".../stream/NAME"). */
static int own_stream(const kefo_producer *p, const char *stream) {
  size_t n, m;

  if (p->stream_name) {
    return strcmp(stream, p->stream_name) == 0;
  }
  if (strcmp(stream, p->stream_arn) == 0) {
    return 1;
  }
  n = strlen(p->stream_arn);
  m = strlen(stream);
  return m < n && p->stream_arn[n - m - 1] == '/' &&
         strcmp(p->stream_arn + n - m, stream) == 0;
}

/* This producer's setup for |region| (another than its own) in |*out|:
   the one its first stream there made, else a new one from |cfg| (the
   kid's config, aws.region set to |region|) for |arn|. Connections and
   credentials of that region are then shared by all its streams, as
   those of the producer's own region are. */
static int far_setup(kefo_producer *p, const kefo_config *cfg,
                     const char *region, const char *arn,
                     const kefo_aws_setup **out) {
  char err[512];
  size_t i;
  int rv;

  for (i = 0; i < p->nfar; ++i) {
    if (strcmp(p->far[i].region, region) == 0) {
      *out = &p->far[i];
      return 0;
    }
  }
  if (kefo__mem_grow(p->mem, (void **)&p->far, p->nfar + 1, &p->far_cap,
                     sizeof(*p->far)) != 0) {
    return KEFO_ERR_NOMEM;
  }
  /* The config passed the sink's rules and the producer's own setup
     from it was made: what may still fail is memory (or a CA file gone
     since), told by the return code as a refused stream is. */
  rv = kefo__aws_setup_kinesis(&p->far[p->nfar], cfg, arn, p->base, p->mem,
                               1u << 20, &p->cb.log, err, sizeof(err));
  if (rv != 0) {
    return rv;
  }
  *out = &p->far[p->nfar++];
  return 0;
}

/* Starts a kid for |stream| in |*out|: this producer's config with that
   stream (refused as the config refuses a name or an ARN), this loop,
   callbacks that hand its reports to this producer's. */
static int kid_start(kefo_producer *p, const char *stream,
                     kefo_producer **out) {
  kefo_producer_callbacks cbs;
  kefo_config *cfg;
  kefo_producer *kid;
  const kefo_aws_setup *lent = NULL;
  int arn = strncmp(stream, "arn:", 4) == 0, rv;
  char region[KEFO_REGION_MAX], err[512];
  /* A stream of another region is served by that region's endpoint
     only: its kid calls there (aws.endpoint, when set, is kept: an
     emulator serves every region at one address). */
  int other_region = arn && kefo__arn_region(stream, region) &&
                     strcmp(region, p->aws.region) != 0;

  if ((rv = kefo__config_dup(&cfg, p->cfg, p->mem)) != 0) {
    return rv;
  }
  rv = kefo_config_set(cfg, KEFO_CFG_SINK_STREAM_NAME, arn ? NULL : stream);
  if (rv == 0) {
    rv = kefo_config_set(cfg, KEFO_CFG_SINK_STREAM_ARN, arn ? stream : NULL);
  }
  if (rv == 0 && other_region) {
    rv = kefo_config_set(cfg, KEFO_CFG_AWS_REGION, region);
    /* Checked before that region's connections are made for it. */
    if (rv == 0 && kefo__config_validate_sink(cfg, err, sizeof(err)) != 0) {
      rv = KEFO_ERR_CONFIG;
    }
    if (rv == 0) {
      rv = far_setup(p, cfg, region, stream, &lent);
    }
  }
  if (rv != 0) {
    kefo_config_del(cfg);
    return rv == KEFO_ERR_NOMEM ? rv : KEFO_ERR_INVALID_ARGUMENT;
  }
  memset(&cbs, 0, sizeof(cbs));
  cbs.on_ack = kid_ack;
  cbs.on_failure = kid_fail;
  cbs.on_writable = kid_writable;
  cbs.on_stopped = kid_stopped;
  kid = kefo__producer_alloc(p->mem, &cbs, p);
  if (kid == NULL) {
    kefo_config_del(cfg);
    return KEFO_ERR_NOMEM;
  }
  kid->parent = p;
  kid->aws_lent = lent;
  rv = kefo__producer_init(kid, cfg, p->base);
  kefo_config_del(cfg);
  if (rv != 0) {
    /* A stream the sink's rules refuse (an ARN not a stream's) is the
       caller's argument, told by the return code, not by a log line at
       every record that names it. */
    kefo_producer_del(kid);
    return rv == KEFO_ERR_CONFIG ? KEFO_ERR_INVALID_ARGUMENT : rv;
  }
  /* Its log goes to the application's hook with the application's data. */
  kid->cb.log = p->cb.log;
  kefo__producer_list_shards(kid);
  *out = kid;
  return 0;
}

/* Streams below this many are found by a walk, no index: a few string
   comparisons are cheaper than a hash. */
#define STREAMS_WALK 8

/* The entry of |stream| (hashed: |hash|), or NULL. */
static pstream *stream_find(kefo_producer *p, const char *stream,
                            uint32_t hash) {
  size_t i, mask = p->nstream_slots - 1;
  uint32_t v;

  if (p->nstream_slots == 0) {
    for (i = 0; i < p->nstreams; ++i) {
      if (strcmp(p->streams[i].stream, stream) == 0) {
        return &p->streams[i];
      }
    }
    return NULL;
  }
  for (i = hash & mask; (v = p->stream_slots[i]) != 0; i = (i + 1) & mask) {
    pstream *s = &p->streams[v - 1];
    if (s->hash == hash && strcmp(s->stream, stream) == 0) {
      return s;
    }
  }
  return NULL;
}

/* Indexes every stream in a table of |n| slots (a power of two, more
   than twice the streams). */
static int index_streams(kefo_producer *p, size_t n) {
  uint32_t *slots = kefo__mem_calloc(p->mem, n, sizeof(*slots));
  size_t i, j;

  if (slots == NULL) {
    return KEFO_ERR_NOMEM;
  }
  for (i = 0; i < p->nstreams; ++i) {
    for (j = p->streams[i].hash & (n - 1); slots[j] != 0; j = (j + 1) & (n - 1))
      ;
    slots[j] = (uint32_t)(i + 1);
  }
  kefo__mem_free(p->mem, p->stream_slots);
  p->stream_slots = slots;
  p->nstream_slots = n;
  return 0;
}

/* A new entry for |stream| with |kid|; NULL when out of memory. */
static pstream *stream_add(kefo_producer *p, const char *stream, uint32_t hash,
                           kefo_producer *kid) {
  pstream *s;
  size_t n = p->nstream_slots;

  if (kefo__mem_grow(p->mem, (void **)&p->streams, p->nstreams + 1,
                     &p->streams_cap, sizeof(*p->streams)) != 0) {
    return NULL;
  }
  /* The index, once there are enough streams for it, at most half full
     with the new one: grown (or made) before the entry is, so that out
     of memory leaves both as they were. */
  if (p->nstreams + 1 >= STREAMS_WALK && 2 * (p->nstreams + 1) >= n) {
    for (n = n ? n : 4 * STREAMS_WALK; 2 * (p->nstreams + 1) >= n; n *= 2)
      ;
    if (index_streams(p, n) != 0) {
      return NULL;
    }
  }
  s = &p->streams[p->nstreams];
  memset(s, 0, sizeof(*s));
  if ((s->stream = kefo__mem_strdup(p->mem, stream)) == NULL) {
    return NULL;
  }
  s->hash = hash;
  s->kid = kid;
  ++p->nstreams;
  if (p->nstream_slots > 0) {
    size_t j, mask = p->nstream_slots - 1;
    for (j = hash & mask; p->stream_slots[j] != 0; j = (j + 1) & mask)
      ;
    p->stream_slots[j] = (uint32_t)p->nstreams;
  }
  return s;
}

/* One part of a flush over several streams is done. */
static void flush_part(kefo_producer *any, void *data) {
  pflush *f = data;
  kefo_producer *p = f->p;

  (void)any;
  if (--f->parts > 0) {
    return;
  }
  if (f->prev) {
    f->prev->next = f->next;
  } else {
    p->flushes = f->next;
  }
  if (f->next) {
    f->next->prev = f->prev;
  }
  f->cb(p, f->data);
  kefo__mem_free(p->mem, f);
}

int kefo_producer_put_to(kefo_producer *p, const char *stream,
                         const char *partition_key,
                         const char *explicit_hash_key, const void *data,
                         size_t len, void *record_ctx) {
  kefo_producer *kid;
  pstream *s;
  uint32_t hash;
  int rv;

  if (stream == NULL || (p && own_stream(p, stream))) {
    return kefo_producer_put(p, partition_key, explicit_hash_key, data, len,
                             record_ctx);
  }
  if (p == NULL || partition_key == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (p->state != P_RUNNING) {
    return KEFO_ERR_INVALID_STATE;
  }
  /* Hashed only once there is an index: below it the walk needs none. */
  hash = p->nstream_slots > 0 ? kefo__hash_bytes(stream, strlen(stream)) : 0;
  s = stream_find(p, stream, hash);
  if (s && s->kid && s->kid->state == P_STOPPED) {
    bury(p, s); /* stopped alone: this record starts it again */
    kefo__producer_soon(p);
  }
  if (s == NULL || s->kid == NULL) {
    /* The stream is checked (as the config checks sink.stream.*) before
       it gets an entry: a refused one leaves nothing behind. */
    if ((rv = kid_start(p, stream, &kid)) != 0) {
      return rv;
    }
    if (s) {
      s->kid = kid;
    } else if ((s = stream_add(p, stream,
                               kefo__hash_bytes(stream, strlen(stream)),
                               kid)) == NULL) {
      kefo_producer_del(kid);
      return KEFO_ERR_NOMEM;
    }
  }
  return kefo_producer_put(s->kid, partition_key, explicit_hash_key, data, len,
                           record_ctx);
}

int kefo__producer_flush_streams(kefo_producer *p, kefo_producer_flush_cb cb,
                                 void *flush_data) {
  pflush *f;
  size_t i;

  /* All or nothing: room for a part in every stream's producer first,
     so that no part is registered for a flush refused. A kid stopped
     already has every record reported: no part. */
  if (kefo__producer_flush_reserve(p) != 0) {
    return KEFO_ERR_NOMEM;
  }
  for (i = 0; i < p->nstreams; ++i) {
    kefo_producer *kid = p->streams[i].kid;
    if (kid && kid->state != P_STOPPED &&
        kefo__producer_flush_reserve(kid) != 0) {
      return KEFO_ERR_NOMEM;
    }
  }
  f = kefo__mem_calloc(p->mem, 1, sizeof(*f));
  if (f == NULL) {
    return KEFO_ERR_NOMEM;
  }
  f->p = p;
  f->cb = cb;
  f->data = flush_data;
  f->parts = 1;
  f->next = p->flushes;
  if (p->flushes) {
    p->flushes->prev = f;
  }
  p->flushes = f;
  /* A part each, done when the last part is; none can fail now. */
  for (i = 0; i < p->nstreams; ++i) {
    kefo_producer *kid = p->streams[i].kid;
    if (kid && kid->state != P_STOPPED) {
      ++f->parts;
      (void)kefo__producer_flush_own(kid, flush_part, f);
    }
  }
  (void)kefo__producer_flush_own(p, flush_part, f);
  return 0;
}

/* A stream's figures: its kid's now, and the counters of those before. */
static void stream_stats(const pstream *s, kefo_put_stats *out) {
  if (s->kid) {
    kefo__producer_core_stats(s->kid->core, out);
  } else {
    memset(out, 0, sizeof(*out));
  }
  add_counters(out, &s->gone);
}

int kefo_producer_stats(const kefo_producer *p, kefo_put_stats *out) {
  kefo_put_stats st;
  size_t i;

  if (p == NULL || out == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  kefo__producer_core_stats(p->core, out);
  for (i = 0; i < p->nstreams; ++i) {
    stream_stats(&p->streams[i], &st);
    add_counters(out, &st); /* and the gauges, live figures of a kid */
    out->buffered_records += st.buffered_records;
    out->buffered_bytes += st.buffered_bytes;
    out->in_flight_calls += st.in_flight_calls;
    out->in_flight_records += st.in_flight_records;
  }
  return 0;
}

/* Streams whose figures one scrape renders without an allocation. */
#define METRICS_STREAMS 16

int kefo_producer_metrics(kefo_producer *p, const char **text, size_t *len) {
  const char *names_room[METRICS_STREAMS], **names = names_room;
  kefo_put_stats st_room[METRICS_STREAMS], *st = st_room;
  size_t n = p ? 1 + p->nstreams : 0, i;
  int rv;

  if (p == NULL || text == NULL || len == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (p->metrics_text.mem == NULL) {
    kefo__buf_init(&p->metrics_text, p->mem);
  }
  if (n > METRICS_STREAMS) {
    names = kefo__mem_malloc(p->mem, n * sizeof(*names));
    st = kefo__mem_malloc(p->mem, n * sizeof(*st));
  }
  if (names == NULL || st == NULL) {
    rv = KEFO_ERR_NOMEM;
  } else {
    names[0] = p->stream_name ? p->stream_name : p->stream_arn;
    kefo__producer_core_stats(p->core, &st[0]);
    for (i = 1; i < n; ++i) {
      names[i] = p->streams[i - 1].stream;
      stream_stats(&p->streams[i - 1], &st[i]);
    }
    rv = kefo__metrics_render_producer(&p->metrics_text, names, st, n);
  }
  if (names != names_room) {
    kefo__mem_free(p->mem, (void *)names);
    kefo__mem_free(p->mem, st);
  }
  *text = rv ? NULL : (const char *)p->metrics_text.data;
  *len = rv ? 0 : p->metrics_text.len;
  return rv;
}

/* Frees |p|'s kids and what they need (kefo_producer_del). */
void kefo__producer_streams_free(kefo_producer *p) {
  size_t i;

  for (i = 0; i < p->nstreams; ++i) {
    kefo_producer_del(p->streams[i].kid);
    kefo__mem_free(p->mem, p->streams[i].stream);
  }
  kefo__mem_free(p->mem, p->streams);
  kefo__mem_free(p->mem, p->stream_slots);
  while (p->dead) {
    kefo_producer *kid = p->dead;
    p->dead = kid->dead_next;
    kefo_producer_del(kid);
  }
  while (p->flushes) { /* dropped without a report, as documented */
    pflush *f = p->flushes;
    p->flushes = f->next;
    kefo__mem_free(p->mem, f);
  }
}
