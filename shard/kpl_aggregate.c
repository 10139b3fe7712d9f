/*
 * KPL aggregation: key tables de-duplicated through open-addressing hash
 * tables, records encoded into their protobuf bytes as they are added, so
 * that finishing is writing the tables, one copy and one MD5; a lent
 * record's data is copied once, at the finish, from where its owner keeps
 * it. The format is summarised in the vectors' SOURCES.md, section 3.
 */
#include "shard/kpl_aggregate.h"
#include "shard/kpl_format.h"

#include <string.h>

#include "base/hash.h"
#include "base/md5.h"
#include "shard/hash_key.h"
#include "shard/kpl.h"

/* Slots hold an entry's index plus one in 32 bits (0: empty), and a table
   never has more entries than the aggregate has records. */
#define MAX_RECORDS (UINT32_MAX - 1)
#define NOT_FOUND SIZE_MAX
#define MIN_SLOTS 16
/* The most a varint of a size_t takes. */
#define VARINT_MAX 10
/* A record's bytes besides its data: the record's tag and length, and
   the three fields' tags and varints. */
#define RECORD_OVERHEAD (1 + VARINT_MAX + 1 + 5 + 1 + 5 + 1 + VARINT_MAX)

typedef struct kpl_entry {
  /* Where the key's bytes start in the table's |bytes|. */
  size_t off;
  size_t len;
  uint32_t hash;
} kpl_entry;

/* One key table: its entries in first-use order and the hash index. */
typedef struct kpl_table {
  kpl_entry *entries;
  size_t n;
  size_t cap;
  kefo_buf bytes;
  /* Power of two, at least twice |n| (0 before the first key). */
  uint32_t *slots;
  size_t nslots;
  /* The bytes this table's fields take in the protobuf. */
  size_t pb_len;
} kpl_table;

/* A lent record's data: it goes at |at| of |recs| when the aggregate is
   finished, straight from where the caller keeps it. */
typedef struct kpl_lent {
  size_t at;
  const uint8_t *data;
  size_t len;
} kpl_lent;

struct kefo_kpl_aggregator {
  kefo_mem mem;
  kpl_table pk;
  kpl_table ehk;
  /* The records' fields (field 3), encoded, in order; a lent record's
     without its data, which |lent| points to. */
  kefo_buf recs;
  kpl_lent *lent;
  size_t nlent, lent_cap;
  size_t count;
  /* Protobuf bytes: both tables and |recs|. Kept at most SIZE_MAX -
     KEFO_KPL_EMPTY_AGGREGATE_LEN, so the finished size always fits. */
  size_t pb_len;
  /* Fetched on the first finish and kept: fetching MD5 again for every
     aggregate would cost more than hashing a small one. */
};

/* The new key a record brings, or what it shares: see record_plan. */
typedef struct kpl_plan {
  uint32_t pk_hash;
  uint32_t ehk_hash;
  size_t pk_index;
  size_t ehk_index;
  int pk_new;
  int ehk_new;
  /* The record's whole field 3, tag and length included. */
  size_t field_len;
  size_t body_len;
  /* The protobuf's length once the record is in. */
  size_t pb_len;
} kpl_plan;

static size_t varint_len(uint64_t v) {
  size_t n = 1;

  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

static size_t table_find(const kpl_table *t, const char *s, size_t len,
                         uint32_t hash) {
  size_t mask = t->nslots - 1, i;
  uint32_t v;

  if (t->nslots == 0) {
    return NOT_FOUND;
  }
  for (i = hash & mask; (v = t->slots[i]) != 0; i = (i + 1) & mask) {
    const kpl_entry *e = &t->entries[v - 1];

    if (e->hash == hash && e->len == len &&
        memcmp(t->bytes.data + e->off, s, len) == 0) {
      return v - 1;
    }
  }
  return NOT_FOUND;
}

static void table_init(kpl_table *t, const kefo_mem *mem) {
  memset(t, 0, sizeof(*t));
  kefo__buf_init(&t->bytes, mem);
}

static void table_free(kpl_table *t, const kefo_mem *mem) {
  kefo__mem_free(mem, t->entries);
  kefo__mem_free(mem, t->slots);
  kefo__buf_free(&t->bytes);
}

static void table_reset(kpl_table *t) {
  if (t->n > 0) {
    memset(t->slots, 0, t->nslots * sizeof(uint32_t));
  }
  t->n = 0;
  t->pb_len = 0;
  kefo__buf_reset(&t->bytes);
}

static void table_insert_slot(uint32_t *slots, size_t nslots, uint32_t hash,
                              uint32_t value) {
  size_t mask = nslots - 1, i;

  for (i = hash & mask; slots[i] != 0; i = (i + 1) & mask) {
  }
  slots[i] = value;
}

/*
 * Makes room in |t| for one more key of |len| bytes, so that adding it
 * cannot fail. Only capacity changes: on failure the table holds what it
 * held. Returns 0 or KEFO_ERR_NOMEM.
 */
static int table_reserve(kpl_table *t, const kefo_mem *mem, size_t len) {
  size_t i;

  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : MIN_SLOTS;
    kpl_entry *e;

    if (cap > SIZE_MAX / sizeof(kpl_entry)) {
      return KEFO_ERR_NOMEM;
    }
    e = kefo__mem_realloc(mem, t->entries, cap * sizeof(kpl_entry));
    if (e == NULL) {
      return KEFO_ERR_NOMEM;
    }
    t->entries = e;
    t->cap = cap;
  }
  if (kefo__buf_reserve(&t->bytes, len) != 0) {
    return KEFO_ERR_NOMEM;
  }
  /* At most half full, so probes stay short and always end. */
  if (t->n + 1 > t->nslots / 2) {
    size_t nslots = t->nslots ? t->nslots * 2 : MIN_SLOTS;
    uint32_t *slots;

    if (nslots > SIZE_MAX / sizeof(uint32_t)) {
      return KEFO_ERR_NOMEM;
    }
    slots = kefo__mem_calloc(mem, nslots, sizeof(uint32_t));
    if (slots == NULL) {
      return KEFO_ERR_NOMEM;
    }
    for (i = 0; i < t->n; ++i) {
      table_insert_slot(slots, nslots, t->entries[i].hash, (uint32_t)(i + 1));
    }
    kefo__mem_free(mem, t->slots);
    t->slots = slots;
    t->nslots = nslots;
  }
  return 0;
}

/* Adds a key that table_reserve made room for; returns its index. */
static size_t table_add(kpl_table *t, const char *s, size_t len, uint32_t hash,
                        size_t pb_cost) {
  kpl_entry *e = &t->entries[t->n];

  e->off = t->bytes.len;
  e->len = len;
  e->hash = hash;
  if (len > 0) {
    memcpy(t->bytes.data + t->bytes.len, s, len);
  }
  t->bytes.len += len;
  table_insert_slot(t->slots, t->nslots, hash, (uint32_t)(t->n + 1));
  t->pb_len += pb_cost;
  return t->n++;
}

/* What a table entry of |len| bytes takes in the protobuf; 0 when that
   would not fit a size_t. */
static size_t key_cost(size_t len) {
  if (len > SIZE_MAX - 1 - VARINT_MAX) {
    return 0;
  }
  return 1 + varint_len(len) + len;
}

/* |*sum| += |v|; -1 when that would pass |limit|. */
static int add_within(size_t *sum, size_t v, size_t limit) {
  if (*sum > limit || v > limit - *sum) {
    return -1;
  }
  *sum += v;
  return 0;
}

/*
 * Works out where a record would go: its key indexes (new ones at the
 * end of their tables) and the protobuf's length with it. |pk| may be NULL
 * (counted as new), |ehk| NULL for none. Returns 0, or -1 when the
 * aggregate would pass SIZE_MAX bytes.
 */
static int record_plan(const kefo_kpl_aggregator *a, kpl_plan *pl,
                       const char *pk, size_t pk_len, const char *ehk,
                       size_t ehk_len, size_t data_len) {
  const size_t limit = SIZE_MAX - KEFO_KPL_EMPTY_AGGREGATE_LEN;
  size_t cost;

  pl->pk_hash = pk != NULL ? kefo__hash_bytes(pk, pk_len) : 0;
  pl->pk_index =
      pk != NULL ? table_find(&a->pk, pk, pk_len, pl->pk_hash) : NOT_FOUND;
  pl->pk_new = pl->pk_index == NOT_FOUND;
  if (pl->pk_new) {
    pl->pk_index = a->pk.n;
  }
  pl->ehk_new = 0;
  pl->ehk_index = NOT_FOUND;
  if (ehk != NULL) {
    pl->ehk_hash = kefo__hash_bytes(ehk, ehk_len);
    pl->ehk_index = table_find(&a->ehk, ehk, ehk_len, pl->ehk_hash);
    pl->ehk_new = pl->ehk_index == NOT_FOUND;
    if (pl->ehk_new) {
      pl->ehk_index = a->ehk.n;
    }
  }

  if (data_len > SIZE_MAX - RECORD_OVERHEAD) {
    return -1;
  }
  pl->body_len =
      1 + varint_len(pl->pk_index) + 1 + varint_len(data_len) + data_len;
  if (ehk != NULL) {
    pl->body_len += 1 + varint_len(pl->ehk_index);
  }
  pl->field_len = 1 + varint_len(pl->body_len) + pl->body_len;

  pl->pb_len = a->pb_len;
  if (add_within(&pl->pb_len, pl->field_len, limit) != 0) {
    return -1;
  }
  if (pl->pk_new) {
    cost = key_cost(pk_len);
    if (cost == 0 || add_within(&pl->pb_len, cost, limit) != 0) {
      return -1;
    }
  }
  if (pl->ehk_new) {
    cost = key_cost(ehk_len);
    if (cost == 0 || add_within(&pl->pb_len, cost, limit) != 0) {
      return -1;
    }
  }
  return 0;
}

int kefo__kpl_aggregator_new(kefo_kpl_aggregator **out, const kefo_mem *mem) {
  kefo_kpl_aggregator *a;

  if (out == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  mem = kefo__mem_or_default(mem);
  a = kefo__mem_calloc(mem, 1, sizeof(*a));
  if (a == NULL) {
    return KEFO_ERR_NOMEM;
  }
  a->mem = *mem;
  /* Everything else grows on first use, so an aggregator costs one
     allocation until it holds records. */
  table_init(&a->pk, &a->mem);
  table_init(&a->ehk, &a->mem);
  kefo__buf_init(&a->recs, &a->mem);
  *out = a;
  return 0;
}

void kefo__kpl_aggregator_del(kefo_kpl_aggregator *a) {
  if (a == NULL) {
    return;
  }
  table_free(&a->pk, &a->mem);
  table_free(&a->ehk, &a->mem);
  kefo__buf_free(&a->recs);
  kefo__mem_free(&a->mem, a->lent);
  kefo__mem_free(&a->mem, a);
}

void kefo__kpl_aggregator_reset(kefo_kpl_aggregator *a) {
  if (a == NULL) {
    return;
  }
  table_reset(&a->pk);
  table_reset(&a->ehk);
  kefo__buf_reset(&a->recs);
  a->nlent = 0;
  a->count = 0;
  a->pb_len = 0;
}

size_t kefo__kpl_aggregator_size_with(const kefo_kpl_aggregator *a,
                                      const char *pk, size_t pk_len,
                                      const char *ehk, size_t ehk_len,
                                      size_t data_len) {
  kpl_plan pl;

  if (a == NULL ||
      record_plan(a, &pl, pk, pk_len, ehk, ehk_len, data_len) != 0) {
    return SIZE_MAX;
  }
  return pl.pb_len + KEFO_KPL_EMPTY_AGGREGATE_LEN;
}

/* Writes the record that add() made room for: its data copied after its
   field's head, or, when |lent|, noted to be written from where it is. */
static void append_record(kefo_kpl_aggregator *a, const kpl_plan *pl,
                          int has_ehk, const uint8_t *data, size_t data_len,
                          int lent) {
  uint8_t *p = a->recs.data + a->recs.len;

  *p++ = KPL_TAG_AGG_RECORD;
  p = put_varint(p, pl->body_len);
  *p++ = KPL_TAG_REC_PARTITION_KEY_INDEX;
  p = put_varint(p, pl->pk_index);
  /* Field 2 only when the record has a key: absent is not index 0. */
  if (has_ehk) {
    *p++ = KPL_TAG_REC_EXPLICIT_HASH_KEY_INDEX;
    p = put_varint(p, pl->ehk_index);
  }
  *p++ = KPL_TAG_REC_DATA;
  p = put_varint(p, data_len);
  if (lent) {
    kpl_lent *l = &a->lent[a->nlent++];
    l->at = (size_t)(p - a->recs.data);
    l->data = data;
    l->len = data_len;
    a->recs.len += pl->field_len - data_len;
  } else {
    if (data_len > 0) {
      memcpy(p, data, data_len);
    }
    a->recs.len += pl->field_len;
  }
  a->pb_len = pl->pb_len;
  ++a->count;
}

/* Room for one more lent record in a->lent. */
static int lent_reserve(kefo_kpl_aggregator *a) {
  kpl_lent *n;
  size_t cap;

  if (a->nlent < a->lent_cap) {
    return 0;
  }
  cap = a->lent_cap ? 2 * a->lent_cap : 64;
  if (cap > SIZE_MAX / sizeof(*n)) {
    return -1; /* a 32-bit size_t, and hundreds of millions of records */
  }
  n = kefo__mem_realloc(&a->mem, a->lent, cap * sizeof(*n));
  if (n == NULL) {
    return -1;
  }
  a->lent = n;
  a->lent_cap = cap;
  return 0;
}

static int add(kefo_kpl_aggregator *a, const char *pk, size_t pk_len,
               const char *ehk, size_t ehk_len, const uint8_t *data,
               size_t data_len, int lent) {
  kefo_hash_key key;
  kpl_plan pl;

  /* Every check before anything is allocated or changed. */
  if (a == NULL || pk == NULL || pk_len == 0 ||
      pk_len > KEFO_KPL_MAX_PARTITION_KEY_LEN ||
      (data == NULL && data_len > 0) ||
      (ehk != NULL && kefo__hash_key_parse(&key, ehk, ehk_len) != 0)) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (a->count >= MAX_RECORDS ||
      record_plan(a, &pl, pk, pk_len, ehk, ehk_len, data_len) != 0) {
    return KEFO_ERR_NOMEM;
  }
  /* Room for everything first, so that a failure leaves the aggregate as
     it was (only with more capacity) and the writes below cannot fail. */
  if (kefo__buf_reserve(&a->recs, pl.field_len - (lent ? data_len : 0)) != 0 ||
      (lent && lent_reserve(a) != 0) ||
      (pl.pk_new && table_reserve(&a->pk, &a->mem, pk_len) != 0) ||
      (pl.ehk_new && table_reserve(&a->ehk, &a->mem, ehk_len) != 0)) {
    return KEFO_ERR_NOMEM;
  }

  if (pl.pk_new) {
    table_add(&a->pk, pk, pk_len, pl.pk_hash, key_cost(pk_len));
  }
  if (pl.ehk_new) {
    table_add(&a->ehk, ehk, ehk_len, pl.ehk_hash, key_cost(ehk_len));
  }
  append_record(a, &pl, ehk != NULL, data, data_len, lent);
  return 0;
}

int kefo__kpl_aggregator_add(kefo_kpl_aggregator *a, const char *pk,
                             size_t pk_len, const char *ehk, size_t ehk_len,
                             const uint8_t *data, size_t data_len) {
  return add(a, pk, pk_len, ehk, ehk_len, data, data_len, 0);
}

int kefo__kpl_aggregator_add_lent(kefo_kpl_aggregator *a, const char *pk,
                                  size_t pk_len, const char *ehk,
                                  size_t ehk_len, const uint8_t *data,
                                  size_t data_len) {
  return add(a, pk, pk_len, ehk, ehk_len, data, data_len, 1);
}

size_t kefo__kpl_aggregator_count(const kefo_kpl_aggregator *a) {
  return a != NULL ? a->count : 0;
}

size_t kefo__kpl_aggregator_size(const kefo_kpl_aggregator *a) {
  return (a != NULL ? a->pb_len : 0) + KEFO_KPL_EMPTY_AGGREGATE_LEN;
}

static uint8_t *write_table(uint8_t *p, const kpl_table *t, uint8_t tag) {
  size_t i;

  for (i = 0; i < t->n; ++i) {
    const kpl_entry *e = &t->entries[i];

    *p++ = tag;
    p = put_varint(p, e->len);
    memcpy(p, t->bytes.data + e->off, e->len);
    p += e->len;
  }
  return p;
}

int kefo__kpl_aggregator_finish(kefo_kpl_aggregator *a, kefo_buf *out) {
  size_t start = out != NULL ? out->len : 0;
  int rv = kefo__kpl_aggregator_finish_undigested(a, out);

  if (rv == 0) {
    uint8_t *pb = out->data + start + KEFO_KPL_MAGIC_LEN;
    kefo__md5(pb, a->pb_len, pb + a->pb_len);
  }
  return rv;
}

int kefo__kpl_aggregator_finish_undigested(kefo_kpl_aggregator *a,
                                           kefo_buf *out) {
  size_t total;
  uint8_t *pb, *p;
  int rv;

  if (a == NULL || out == NULL) {
    rv = KEFO_ERR_INVALID_ARGUMENT;
    goto fail;
  }
  total = kefo__kpl_aggregator_size(a);
  if (kefo__buf_reserve(out, total) != 0) {
    rv = KEFO_ERR_NOMEM;
    goto fail;
  }
  /* Written past out->len, which moves only once every byte is there: a
     failure leaves |out| as it was. */
  p = out->data + out->len;
  memcpy(p, kefo__kpl_magic, KEFO_KPL_MAGIC_LEN);
  pb = p + KEFO_KPL_MAGIC_LEN;
  /* Tables before records, as the KPL writes them; kefo__kpl_deaggregate
     reads that order fastest. */
  p = write_table(pb, &a->pk, KPL_TAG_AGG_PARTITION_KEY);
  p = write_table(p, &a->ehk, KPL_TAG_AGG_EXPLICIT_HASH_KEY);
  {
    /* The fields, each lent record's data put in where it belongs. */
    size_t from = 0, i;

    for (i = 0; i < a->nlent; ++i) {
      const kpl_lent *l = &a->lent[i];

      memcpy(p, a->recs.data + from, l->at - from);
      p += l->at - from;
      if (l->len > 0) {
        memcpy(p, l->data, l->len);
        p += l->len;
      }
      from = l->at;
    }
    if (a->recs.len > from) {
      memcpy(p, a->recs.data + from, a->recs.len - from);
      p += a->recs.len - from;
    }
  }
  if ((size_t)(p - pb) != a->pb_len) {
    /* The running sizes and the bytes disagree: a bug, never a bad
       aggregate on the wire. */
    rv = KEFO_ERR_INVALID_STATE;
    goto fail;
  }
  out->len += total;
  rv = 0;

fail:
  return rv;
}
