/*
 * The mock's stream model: shards, records, sequence numbers, resharding
 * and consumers, in memory and without I/O (see mock_stream.h).
 */
#include "tests/support/mock/mock_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define ACCOUNT_PREFIX "arn:aws:kinesis:us-east-1:123456789012:stream/"

void mock_world_init(mock_world *w) {
  memset(w, 0, sizeof(*w));
}

static void consumer_free(mock_consumer *c) {
  free(c->live);
  free(c->last_call_ms);
  free(c);
}

static void shard_free(mock_shard *sh) {
  free(sh->records);
  free(sh->bytes);
  free(sh->stats.subscribe_times);
  free(sh->stats.get_records_times);
  free(sh);
}

void mock_world_free(mock_world *w) {
  mock_stream *s, *sn;
  mock_consumer *c, *cn;
  size_t i;

  for (s = w->streams; s; s = sn) {
    sn = s->next;
    for (i = 0; i < s->nshards; ++i) {
      shard_free(s->shards[i]);
    }
    free(s->shards);
    free(s->route);
    for (c = s->consumers; c; c = cn) {
      cn = c->next;
      consumer_free(c);
    }
    free(s);
  }
  for (c = w->graveyard; c; c = cn) {
    cn = c->next;
    consumer_free(c);
  }
  memset(w, 0, sizeof(*w));
}

int mock_valid_name(const char *name) {
  size_t n = strlen(name), i;

  if (n == 0 || n > MOCK_MAX_NAME) {
    return 0;
  }
  for (i = 0; i < n; ++i) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')) {
      return 0;
    }
  }
  return 1;
}

static mock_shard *shard_new(mock_stream *s, mock_u128 start, mock_u128 end,
                             int parent, int adjacent) {
  mock_shard *sh;

  if (s->nshards >= MOCK_MAX_SHARDS_PER_STREAM) {
    return NULL;
  }
  if (s->nshards == s->shards_cap) {
    size_t cap = s->shards_cap ? s->shards_cap * 2 : 8;
    mock_shard **p = realloc(s->shards, cap * sizeof(*p));
    if (!p) {
      return NULL;
    }
    s->shards = p;
    s->shards_cap = cap;
  }
  sh = calloc(1, sizeof(*sh));
  if (!sh) {
    return NULL;
  }
  sh->stream = s;
  sh->index = (uint32_t)s->nshards;
  snprintf(sh->id, sizeof(sh->id), "shardId-%012u", (unsigned)sh->index);
  sh->parent = parent;
  sh->adjacent_parent = adjacent;
  sh->start_hash = start;
  sh->end_hash = end;
  sh->start_counter = ++s->counter;
  sh->watchers.next = sh->watchers.prev = &sh->watchers;
  s->shards[s->nshards++] = sh;
  s->route_stale = 1;
  return sh;
}

int mock_stream_create(mock_world *w, const char *name, uint32_t shard_count,
                       int64_t now_ms, mock_stream **out) {
  mock_stream *s;
  mock_u128 max = ~(mock_u128)0, step;
  uint32_t i;

  if (mock_stream_find(w, name)) {
    return MOCK_EINUSE;
  }
  if (shard_count == 0 || shard_count > 10000 || !mock_valid_name(name)) {
    return MOCK_EINVAL;
  }
  s = calloc(1, sizeof(*s));
  if (!s) {
    return MOCK_ENOMEM;
  }
  s->world = w;
  snprintf(s->name, sizeof(s->name), "%s", name);
  snprintf(s->arn, sizeof(s->arn), ACCOUNT_PREFIX "%s", name);
  s->created_ms = now_ms;
  /* Ranges of floor(2^128 / n) keys, the last one taking the remainder,
     as CreateStream does. */
  step = max / shard_count + (max % shard_count + 1 == shard_count);
  for (i = 0; i < shard_count; ++i) {
    mock_u128 start = step * i;
    mock_u128 end = i + 1 == shard_count ? max : step * (i + 1) - 1;
    if (!shard_new(s, start, end, -1, -1)) {
      for (i = 0; i < s->nshards; ++i) {
        shard_free(s->shards[i]);
      }
      free(s->shards);
      free(s);
      return MOCK_ENOMEM;
    }
  }
  s->next = w->streams;
  w->streams = s;
  if (out) {
    *out = s;
  }
  return MOCK_OK;
}

mock_stream *mock_stream_find(mock_world *w, const char *name) {
  mock_stream *s;

  for (s = w->streams; s; s = s->next) {
    if (strcmp(s->name, name) == 0) {
      return s;
    }
  }
  return NULL;
}

mock_stream *mock_stream_find_arn(mock_world *w, const char *arn) {
  mock_stream *s;

  for (s = w->streams; s; s = s->next) {
    if (strcmp(s->arn, arn) == 0) {
      return s;
    }
  }
  return NULL;
}

mock_shard *mock_shard_find(mock_stream *s, const char *shard_id) {
  const char *p = shard_id;
  unsigned long v;
  char *end;

  /* Both "shardId-000000000001" and the bare number are accepted, as
     Kinesis does. */
  if (strncmp(p, "shardId-", 8) == 0) {
    p += 8;
  }
  if (*p < '0' || *p > '9' || strlen(p) > 12) {
    return NULL;
  }
  v = strtoul(p, &end, 10);
  if (*end || v >= s->nshards) {
    return NULL;
  }
  return s->shards[v];
}

size_t mock_stream_open_shards(const mock_stream *s) {
  size_t i, n = 0;

  for (i = 0; i < s->nshards; ++i) {
    n += !s->shards[i]->closed;
  }
  return n;
}

mock_u128 mock_hash_key(const char *pk, size_t pk_len) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  mock_u128 v = 0;
  int i;

  EVP_Digest(pk, pk_len, md, &mdlen, EVP_md5(), NULL);
  for (i = 0; i < 16; ++i) {
    v = (v << 8) | md[i];
  }
  return v;
}

int mock_u128_parse(const char *s, mock_u128 *out) {
  mock_u128 v = 0, max = ~(mock_u128)0;
  size_t n = strlen(s), i;

  if (n == 0 || n > 39) {
    return MOCK_EINVAL;
  }
  for (i = 0; i < n; ++i) {
    unsigned d;
    if (s[i] < '0' || s[i] > '9') {
      return MOCK_EINVAL;
    }
    d = (unsigned)(s[i] - '0');
    if (v > (max - d) / 10) {
      return MOCK_EINVAL;
    }
    v = v * 10 + d;
  }
  *out = v;
  return MOCK_OK;
}

void mock_u128_format(mock_u128 v, char *out) {
  char tmp[40];
  size_t n = 0, i;

  do {
    tmp[n++] = (char)('0' + (int)(v % 10));
    v /= 10;
  } while (v);
  for (i = 0; i < n; ++i) {
    out[i] = tmp[n - 1 - i];
  }
  out[n] = '\0';
}

static int by_start_hash(const void *a, const void *b) {
  const mock_shard *x = *(mock_shard *const *)a, *y = *(mock_shard *const *)b;
  return x->start_hash < y->start_hash ? -1 : x->start_hash > y->start_hash;
}

mock_shard *mock_stream_route(mock_stream *s, mock_u128 hash) {
  size_t i, lo, hi;

  if (s->route_stale) {
    mock_shard **r =
        realloc(s->route, (s->nshards ? s->nshards : 1) * sizeof(*r));
    if (!r) {
      return NULL;
    }
    s->route = r;
    s->nroute = 0;
    for (i = 0; i < s->nshards; ++i) {
      if (!s->shards[i]->closed) {
        r[s->nroute++] = s->shards[i];
      }
    }
    qsort(r, s->nroute, sizeof(*r), by_start_hash);
    s->route_stale = 0;
  }
  /* The last open shard starting at or below |hash|. */
  lo = 0;
  hi = s->nroute;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->route[mid]->start_hash <= hash) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == 0 || hash > s->route[lo - 1]->end_hash) {
    return NULL;
  }
  return s->route[lo - 1];
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  size_t c = *cap ? *cap : 64;
  void *q;

  if (need <= *cap) {
    return 0;
  }
  while (c < need) {
    c *= 2;
  }
  q = realloc(*p, c * elem);
  if (!q) {
    return MOCK_ENOMEM;
  }
  *p = q;
  *cap = c;
  return 0;
}

int mock_shard_append(mock_shard *sh, const char *pk, size_t pk_len,
                      const uint8_t *data, size_t data_len, int64_t now_ms,
                      mock_record **out) {
  mock_record *r;

  if (sh->closed || pk_len == 0 || pk_len > MOCK_MAX_PK ||
      data_len > MOCK_MAX_DATA) {
    return MOCK_EINVAL;
  }
  if (grow((void **)&sh->records, &sh->records_cap, sh->nrecords + 1,
           sizeof(*sh->records)) ||
      grow((void **)&sh->bytes, &sh->bytes_cap, sh->nbytes + pk_len + data_len,
           1)) {
    return MOCK_ENOMEM;
  }
  r = &sh->records[sh->nrecords++];
  r->counter = ++sh->stream->counter;
  r->arrival_ms = now_ms;
  r->off = sh->nbytes;
  r->pk_len = (uint16_t)pk_len;
  r->data_len = (uint32_t)data_len;
  memcpy(sh->bytes + sh->nbytes, pk, pk_len);
  if (data_len) {
    memcpy(sh->bytes + sh->nbytes + pk_len, data, data_len);
  }
  sh->nbytes += pk_len + data_len;
  ++sh->stream->nrecords;
  mock_shard_notify(sh);
  if (out) {
    *out = r;
  }
  return MOCK_OK;
}

void mock_shard_notify(mock_shard *sh) {
  mock_watch *w, *next;

  /* A watcher may remove itself while being told. */
  for (w = sh->watchers.next; w != &sh->watchers; w = next) {
    next = w->next;
    w->changed(w);
  }
}

/*
 * A sequence number is "49", the stream's creation time in seconds (14
 * digits), the stream-wide counter (24 digits) and the shard index (16
 * digits): 56 digits, increasing within a shard, unique within a stream,
 * and changing when a stream of the same name is made again.
 */
static void put_digits(char *out, uint64_t v, int n) {
  int i;

  for (i = n - 1; i >= 0; --i) {
    out[i] = (char)('0' + (int)(v % 10));
    v /= 10;
  }
}

void mock_seq_format(const mock_stream *s, uint64_t counter,
                     uint32_t shard_index, char *out) {
  out[0] = '4';
  out[1] = '9';
  put_digits(out + 2, (uint64_t)(s->created_ms / 1000), 14);
  put_digits(out + 16, counter, 24);
  put_digits(out + 40, shard_index, 16);
  out[MOCK_SEQ_LEN] = '\0';
}

static int get_digits(const char *p, int n, uint64_t *v) {
  uint64_t x = 0;
  int i;

  for (i = 0; i < n; ++i) {
    if (p[i] < '0' || p[i] > '9' || x > (UINT64_MAX - 9) / 10) {
      return MOCK_EINVAL;
    }
    x = x * 10 + (uint64_t)(p[i] - '0');
  }
  *v = x;
  return 0;
}

int mock_seq_parse(const mock_stream *s, const char *seq, uint64_t *counter,
                   uint32_t *shard_index) {
  uint64_t created, shard;

  if (strlen(seq) != MOCK_SEQ_LEN || seq[0] != '4' || seq[1] != '9' ||
      get_digits(seq + 2, 14, &created) || get_digits(seq + 16, 24, counter) ||
      get_digits(seq + 40, 16, &shard) ||
      created != (uint64_t)(s->created_ms / 1000) || shard >= s->nshards) {
    return MOCK_EINVAL;
  }
  *shard_index = (uint32_t)shard;
  return MOCK_OK;
}

size_t mock_shard_lower_bound(const mock_shard *sh, uint64_t counter) {
  size_t lo = 0, hi = sh->nrecords;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (sh->records[mid].counter < counter) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

size_t mock_shard_at_time(const mock_shard *sh, int64_t ms) {
  size_t lo = 0, hi = sh->nrecords;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (sh->records[mid].arrival_ms < ms) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

static void shard_close(mock_shard *sh) {
  sh->closed = 1;
  sh->stream->route_stale = 1;
  sh->end_counter = ++sh->stream->counter;
}

int mock_split_shard(mock_stream *s, mock_shard *sh, mock_u128 new_start,
                     int64_t now_ms) {
  mock_shard *a, *b;
  size_t n = s->nshards;

  (void)now_ms;
  if (sh->closed) {
    return MOCK_EINUSE;
  }
  if (new_start <= sh->start_hash || new_start > sh->end_hash) {
    return MOCK_EINVAL;
  }
  a = shard_new(s, sh->start_hash, new_start - 1, (int)sh->index, -1);
  b = a ? shard_new(s, new_start, sh->end_hash, (int)sh->index, -1) : NULL;
  if (!b) {
    while (s->nshards > n) {
      shard_free(s->shards[--s->nshards]);
    }
    s->route_stale = 1;
    return MOCK_ENOMEM;
  }
  shard_close(sh);
  mock_shard_notify(sh);
  return MOCK_OK;
}

int mock_merge_shards(mock_stream *s, mock_shard *a, mock_shard *b,
                      int64_t now_ms) {
  mock_u128 lo, hi;

  (void)now_ms;
  if (a->closed || b->closed) {
    return MOCK_EINUSE;
  }
  if (a == b ||
      (a->end_hash + 1 != b->start_hash && b->end_hash + 1 != a->start_hash)) {
    return MOCK_EINVAL;
  }
  lo = a->start_hash < b->start_hash ? a->start_hash : b->start_hash;
  hi = a->end_hash > b->end_hash ? a->end_hash : b->end_hash;
  if (!shard_new(s, lo, hi, (int)a->index, (int)b->index)) {
    return MOCK_ENOMEM;
  }
  shard_close(a);
  shard_close(b);
  mock_shard_notify(a);
  mock_shard_notify(b);
  return MOCK_OK;
}

size_t mock_shard_children(const mock_shard *sh, uint32_t *out) {
  const mock_stream *s = sh->stream;
  size_t i, n = 0;

  for (i = sh->index + 1; i < s->nshards && n < 2; ++i) {
    const mock_shard *c = s->shards[i];
    if (c->parent == (int)sh->index || c->adjacent_parent == (int)sh->index) {
      out[n++] = (uint32_t)i;
    }
  }
  return n;
}

int mock_consumer_register(mock_stream *s, const char *name, int64_t now_ms,
                           int64_t delay_ms, mock_consumer **out) {
  mock_consumer *c;

  if (!mock_valid_name(name)) {
    return MOCK_EINVAL;
  }
  if (mock_consumer_find(s, name)) {
    return MOCK_EINUSE;
  }
  c = calloc(1, sizeof(*c));
  if (!c) {
    return MOCK_ENOMEM;
  }
  c->stream = s;
  snprintf(c->name, sizeof(c->name), "%s", name);
  snprintf(c->arn, sizeof(c->arn), "%s/consumer/%s:%lld", s->arn, name,
           (long long)(now_ms / 1000));
  c->created_ms = now_ms;
  c->active_at_ms = now_ms + delay_ms;
  if (mock_consumer_slots(c) != 0) {
    consumer_free(c);
    return MOCK_ENOMEM;
  }
  c->next = s->consumers;
  s->consumers = c;
  *out = c;
  return MOCK_OK;
}

mock_consumer *mock_consumer_find(mock_stream *s, const char *name) {
  mock_consumer *c;

  for (c = s->consumers; c; c = c->next) {
    if (strcmp(c->name, name) == 0) {
      return c;
    }
  }
  return NULL;
}

mock_consumer *mock_consumer_find_arn(mock_world *w, const char *arn) {
  mock_stream *s;
  mock_consumer *c;

  for (s = w->streams; s; s = s->next) {
    for (c = s->consumers; c; c = c->next) {
      if (strcmp(c->arn, arn) == 0) {
        return c;
      }
    }
  }
  return NULL;
}

void mock_consumer_deregister(mock_consumer *c) {
  mock_stream *s = c->stream;
  mock_consumer **pp;

  for (pp = &s->consumers; *pp; pp = &(*pp)->next) {
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  }
  c->next = s->world->graveyard;
  s->world->graveyard = c;
}

mock_consumer_status mock_consumer_status_at(const mock_consumer *c,
                                             int64_t now_ms) {
  return now_ms >= c->active_at_ms ? MOCK_CONSUMER_ACTIVE
                                   : MOCK_CONSUMER_CREATING;
}

int mock_consumer_slots(mock_consumer *c) {
  size_t n = c->stream->nshards;
  uint32_t *live;
  int64_t *last;

  if (n <= c->nslots) {
    return 0;
  }
  live = realloc(c->live, n * sizeof(*live));
  if (!live) {
    return MOCK_ENOMEM;
  }
  c->live = live;
  last = realloc(c->last_call_ms, n * sizeof(*last));
  if (!last) {
    return MOCK_ENOMEM;
  }
  c->last_call_ms = last;
  memset(live + c->nslots, 0, (n - c->nslots) * sizeof(*live));
  memset(last + c->nslots, 0, (n - c->nslots) * sizeof(*last));
  c->nslots = n;
  return 0;
}

void mock_watch_add(mock_shard *sh, mock_watch *w) {
  w->next = &sh->watchers;
  w->prev = sh->watchers.prev;
  sh->watchers.prev->next = w;
  sh->watchers.prev = w;
}

void mock_watch_remove(mock_watch *w) {
  if (w->next) {
    w->prev->next = w->next;
    w->next->prev = w->prev;
    w->next = w->prev = NULL;
  }
}

void mock_stats_time(int64_t **times, size_t *n, int64_t ms) {
  if (*n >= MOCK_STATS_TIMES_MAX) {
    return;
  }
  if (*n == 0 || (*n >= 4 && (*n & (*n - 1)) == 0)) {
    /* Room for 4, then doubling at each power of two. */
    size_t cap = *n ? *n * 2 : 4;
    int64_t *p = realloc(*times, cap * sizeof(*p));
    if (!p) {
      return;
    }
    *times = p;
  }
  (*times)[(*n)++] = ms;
}
