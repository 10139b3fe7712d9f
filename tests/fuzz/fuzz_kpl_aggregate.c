/*
 * libFuzzer target for KPL aggregation. The input describes a list of
 * user records (partition key, optional explicit hash key, data; keys
 * new or reused); they are aggregated, and the aggregate de-aggregated.
 * Oracle: what one writes the other reads back, for any records:
 * exactly the same records in order, the size foretold by size_with at
 * every step, refused records leaving no trace, each key once in its
 * table in first-use order, and a reset aggregator writing the same
 * bytes again with every other record lent (kefo__kpl_aggregator_add_lent)
 * instead of copied.
 *
 * Input, one record after another until the bytes run out:
 *   h            bits 0-1 partition key: 0 reuse (next byte picks which),
 *                1-2 new of 1 + bits 2-4 bytes, 3 new of 1 + next byte
 *                bits 5-6 explicit hash key: 0 none, 1 reuse (next byte),
 *                2 new (next byte % 41 characters, each from a byte:
 *                a digit, or the byte itself when >= 250), 3 2^128 - 1
 *                bit 7 data length in the next 2 bytes, else in 1
 *   key bytes, then data bytes, taken from the input (cut short at its
 *   end).
 */
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "base/buf.h"
#include "shard/hash_key.h"
#include "shard/kpl.h"
#include "shard/kpl_aggregate.h"

#define MAX_RECS 512
#define MAX_EHK 40

typedef struct frec {
  const char *pk;
  size_t pk_len;
  const char *ehk;
  size_t ehk_len;
  const uint8_t *data;
  size_t data_len;
} frec;

typedef struct fkey {
  const char *s;
  size_t len;
} fkey;

typedef struct fstate {
  frec recs[MAX_RECS];
  size_t n;
  char ehk_store[MAX_RECS][MAX_EHK];
  /* Distinct keys in first-use order, as the tables must hold them. */
  fkey pks[MAX_RECS];
  size_t npk;
  fkey ehks[MAX_RECS];
  size_t nehk;
  /* De-aggregation's check. */
  size_t seen;
} fstate;

typedef struct cursor {
  const uint8_t *p;
  const uint8_t *end;
} cursor;

static size_t take_byte(cursor *c) {
  return c->p < c->end ? *c->p++ : 0;
}

static const uint8_t *take(cursor *c, size_t *len) {
  const uint8_t *p = c->p;

  if (*len > (size_t)(c->end - c->p)) {
    *len = (size_t)(c->end - c->p);
  }
  c->p += *len;
  return p;
}

static int bytes_eq(const void *a, size_t alen, const void *b, size_t blen) {
  return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static void note_key(fkey *keys, size_t *n, const char *s, size_t len) {
  size_t i;

  for (i = 0; i < *n; ++i) {
    if (bytes_eq(keys[i].s, keys[i].len, s, len)) {
      return;
    }
  }
  keys[*n].s = s;
  keys[(*n)++].len = len;
}

/* Reads one record's description; 0 when the input is used up. */
static int next_record(cursor *c, fstate *st, frec *r) {
  static const char top[] = "340282366920938463463374607431768211455";
  size_t h, len, i;

  if (c->p == c->end) {
    return 0;
  }
  h = take_byte(c);
  memset(r, 0, sizeof(*r));
  if ((h & 3) == 0 && st->n > 0) {
    *r = st->recs[take_byte(c) % st->n];
  } else {
    len = (h & 3) == 3 ? 1 + take_byte(c) : 1 + ((h >> 2) & 7);
    r->pk = (const char *)take(c, &len);
    r->pk_len = len;
  }
  r->ehk = NULL;
  r->ehk_len = 0;
  switch ((h >> 5) & 3) {
  case 1:
    if (st->nehk > 0) {
      i = take_byte(c) % st->nehk;
      r->ehk = st->ehks[i].s;
      r->ehk_len = st->ehks[i].len;
    }
    break;
  case 2:
    len = take_byte(c) % (MAX_EHK + 1);
    for (i = 0; i < len && c->p < c->end; ++i) {
      uint8_t b = *c->p++;

      st->ehk_store[st->n][i] = b >= 250 ? (char)b : (char)('0' + b % 10);
    }
    r->ehk = st->ehk_store[st->n];
    r->ehk_len = i;
    break;
  case 3:
    r->ehk = top;
    r->ehk_len = sizeof(top) - 1;
    break;
  }
  len = take_byte(c);
  if (h & 0x80) {
    len |= take_byte(c) << 8;
  }
  r->data = take(c, &len);
  r->data_len = len;
  return 1;
}

static int on_record(const kefo_kpl_record *rec, void *user_data) {
  fstate *st = user_data;
  const frec *r;

  if (st->n == 0) {
    /* No records: the empty aggregate comes back whole, as plain data. */
    ++st->seen;
    return rec->aggregated ? -1 : 0;
  }
  if (st->seen >= st->n || rec->sub_sequence_number != st->seen ||
      !rec->aggregated) {
    abort();
  }
  r = &st->recs[st->seen++];
  if (!bytes_eq(rec->data, rec->data_len, r->data, r->data_len) ||
      !bytes_eq(rec->partition_key, rec->partition_key_len, r->pk, r->pk_len) ||
      (r->ehk == NULL) != (rec->explicit_hash_key == NULL) ||
      (r->ehk != NULL &&
       !bytes_eq(rec->explicit_hash_key, rec->explicit_hash_key_len, r->ehk,
                 r->ehk_len)) ||
      !rec->hash_key_valid) {
    abort();
  }
  return 0;
}

static uint64_t read_varint(const uint8_t **p, const uint8_t *end) {
  uint64_t v = 0;
  unsigned shift = 0;

  for (;;) {
    if (*p == end || shift > 63) {
      abort();
    }
    v |= (uint64_t)(**p & 0x7F) << shift;
    if ((*(*p)++ & 0x80) == 0) {
      return v;
    }
    shift += 7;
  }
}

/* The tables must be the distinct keys in first-use order, before the
   records. */
static void check_tables(const fstate *st, const uint8_t *blob, size_t len) {
  const uint8_t *p = blob + KEFO_KPL_MAGIC_LEN;
  const uint8_t *end = blob + len - KEFO_KPL_DIGEST_LEN;
  size_t ipk = 0, iehk = 0, nrec = 0;
  uint64_t tag, n;

  while (p < end) {
    tag = read_varint(&p, end);
    n = read_varint(&p, end);
    if (n > (uint64_t)(end - p)) {
      abort();
    }
    if (tag == 0x0A && nrec == 0 && ipk < st->npk &&
        bytes_eq(p, n, st->pks[ipk].s, st->pks[ipk].len)) {
      ++ipk;
    } else if (tag == 0x12 && nrec == 0 && iehk < st->nehk &&
               bytes_eq(p, n, st->ehks[iehk].s, st->ehks[iehk].len)) {
      ++iehk;
    } else if (tag == 0x1A) {
      ++nrec;
    } else {
      abort();
    }
    p += n;
  }
  if (ipk != st->npk || iehk != st->nehk || nrec != st->n) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static fstate st;
  kefo_kpl_aggregator *a = NULL;
  kefo_kpl_result res;
  kefo_hash_key k;
  kefo_buf out, again;
  cursor c;
  frec r;
  size_t want, i;
  int rv, valid;

  memset(&st, 0, sizeof(st));
  c.p = data;
  c.end = data + size;
  kefo__buf_init(&out, NULL);
  kefo__buf_init(&again, NULL);
  if (kefo__kpl_aggregator_new(&a, NULL) != 0) {
    return 0;
  }
  while (st.n < MAX_RECS && next_record(&c, &st, &r)) {
    want = kefo__kpl_aggregator_size_with(a, r.pk, r.pk_len, r.ehk, r.ehk_len,
                                          r.data_len);
    valid = r.pk_len > 0 && r.pk_len <= KEFO_KPL_MAX_PARTITION_KEY_LEN &&
            (r.ehk == NULL || kefo__hash_key_parse(&k, r.ehk, r.ehk_len) == 0);
    i = kefo__kpl_aggregator_size(a);
    rv = kefo__kpl_aggregator_add(a, r.pk, r.pk_len, r.ehk, r.ehk_len, r.data,
                                  r.data_len);
    if (!valid) {
      if (rv != KEFO_ERR_INVALID_ARGUMENT ||
          kefo__kpl_aggregator_size(a) != i ||
          kefo__kpl_aggregator_count(a) != st.n) {
        abort();
      }
      continue;
    }
    if (rv != 0 || kefo__kpl_aggregator_size(a) != want ||
        kefo__kpl_aggregator_count(a) != st.n + 1) {
      abort();
    }
    st.recs[st.n++] = r;
    note_key(st.pks, &st.npk, r.pk, r.pk_len);
    if (r.ehk != NULL) {
      note_key(st.ehks, &st.nehk, r.ehk, r.ehk_len);
    }
  }

  if (kefo__kpl_aggregator_finish(a, &out) != 0 ||
      out.len != kefo__kpl_aggregator_size(a)) {
    abort();
  }
  rv = kefo__kpl_deaggregate(NULL, out.data, out.len, "outer", 5,
                             &(kefo_kpl_options){KEFO_KPL_HASH_KEYS, NULL},
                             on_record, &st, &res);
  if (st.n == 0) {
    /* An empty aggregate is too short for the KCL: one plain record. */
    if (out.len != KEFO_KPL_EMPTY_AGGREGATE_LEN || rv != 0 || res.aggregated ||
        st.seen != 1) {
      abort();
    }
  } else if (rv != 0 || !res.aggregated || res.nrecords != st.n ||
             st.seen != st.n) {
    abort();
  } else {
    check_tables(&st, out.data, out.len);
  }

  /* Reset and again, every other record lent instead of copied: the
     same bytes. */
  kefo__kpl_aggregator_reset(a);
  for (i = 0; i < st.n; ++i) {
    const frec *q = &st.recs[i];

    if ((i % 2
             ? kefo__kpl_aggregator_add_lent(a, q->pk, q->pk_len, q->ehk,
                                             q->ehk_len, q->data, q->data_len)
             : kefo__kpl_aggregator_add(a, q->pk, q->pk_len, q->ehk, q->ehk_len,
                                        q->data, q->data_len)) != 0) {
      abort();
    }
  }
  if (kefo__kpl_aggregator_finish(a, &again) != 0 ||
      !bytes_eq(out.data, out.len, again.data, again.len)) {
    abort();
  }

  kefo__kpl_aggregator_del(a);
  kefo__buf_free(&out);
  kefo__buf_free(&again);
  return 0;
}
