/*
 * KPL de-aggregation with a minimal proto2 reader for the KCL's
 * AggregatedRecord, and the 128-bit hash-key arithmetic of the KCL's
 * resharding rule. The format and rules are summarised in the vectors'
 * SOURCES.md, section 3.
 */
#include "shard/kpl.h"
#include "shard/kpl_format.h"
#include "base/md5.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

/* The blob is not an aggregate: deliver it whole. */
#define KPL_PASS_THROUGH 1
/* A record's explicit hash key is no number below 2^128. */
#define KPL_NO_HASH_KEY 1

/* hash_state values for the per-key cache. */
#define HASH_UNKNOWN 0
#define HASH_OK 1
#define HASH_BAD 2

typedef struct kpl_key {
  const char *s;
  size_t len;
} kpl_key;

typedef struct kpl_rec {
  uint64_t pk_index;
  uint64_t ehk_index;
  int has_ehk;
  const uint8_t *data;
  size_t data_len;
} kpl_rec;

typedef struct kpl_ctx {
  const kefo_mem *mem;
  const uint8_t *blob;
  size_t len;
  const char *outer_pk;
  size_t outer_pk_len;
  uint32_t flags;
  const kefo_hash_range *range;
  kefo_kpl_on_record on_record;
  void *user_data;
  kefo_kpl_result result;
  /* The protobuf between the magic and the trailer. */
  const uint8_t *pb;
  const uint8_t *pb_end;
  size_t npk;
  size_t nehk;
  size_t nrec;
  /* Where the key tables end and the records begin, so the table fill
     and the delivery each walk only their part when the producer wrote
     tables first (as every protobuf serializer does). */
  const uint8_t *tables_end;
  const uint8_t *records_begin;
  /* Partition keys, then explicit hash keys, in one block with the
     hash-key cache (NULL when no hash key is wanted). */
  void *block;
  kpl_key *keys;
  kefo_hash_key *hashes;
  uint8_t *hash_state;
} kpl_ctx;

static void hash_of_pk(kefo_hash_key *key, const char *pk, size_t len) {
  uint8_t d[KEFO_KPL_DIGEST_LEN];

  kefo__md5(pk, len, d);
  kefo__hash_key_from_digest(key, d);
}

/*
 * Protobuf reading. Each function reads at *pp, below |end|, and advances
 * *pp only on success; -1 means the bytes do not parse.
 */

static int pb_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out) {
  const uint8_t *p = *pp;
  uint64_t v = 0;
  unsigned shift;

  for (shift = 0;; shift += 7) {
    uint8_t b;

    if (p == end) {
      return -1;
    }
    b = *p++;
    /* The tenth byte holds bit 63 only: anything more is a value past
       64 bits or an eleventh byte. */
    if (shift == 63 && b > 1) {
      return -1;
    }
    v |= (uint64_t)(b & 0x7F) << shift;
    if ((b & 0x80) == 0) {
      break;
    }
  }
  *pp = p;
  *out = v;
  return 0;
}

static int pb_tag(const uint8_t **pp, const uint8_t *end, uint32_t *tag) {
  uint64_t v;

  /* Nearly every tag here is one byte. */
  if (*pp < end && **pp < 0x80) {
    v = **pp;
    ++*pp;
  } else if (pb_varint(pp, end, &v) != 0) {
    return -1;
  }
  /* Field numbers stop at 2^29 - 1, and 0 is no field (protobuf-java
     rejects it too). */
  if (v > UINT32_MAX || (v >> 3) == 0) {
    return -1;
  }
  *tag = (uint32_t)v;
  return 0;
}

static int pb_bytes(const uint8_t **pp, const uint8_t *end,
                    const uint8_t **data, size_t *len) {
  const uint8_t *p = *pp;
  uint64_t n;

  if (pb_varint(&p, end, &n) != 0 || n > (uint64_t)(end - p)) {
    return -1;
  }
  *data = p;
  *len = (size_t)n;
  *pp = p + n;
  return 0;
}

static int pb_skip(const uint8_t **pp, const uint8_t *end, uint32_t wire) {
  const uint8_t *data;
  size_t len;
  uint64_t v;

  switch (wire) {
  case KPL_WIRE_VARINT:
    return pb_varint(pp, end, &v);
  case KPL_WIRE_LEN:
    return pb_bytes(pp, end, &data, &len);
  case KPL_WIRE_I64:
    len = 8;
    break;
  case KPL_WIRE_I32:
    len = 4;
    break;
  default:
    /* Groups (3, 4) are long deprecated and no KPL writes them; 6 and 7
       are not wire types. Either way the aggregate is not one. */
    return -1;
  }
  if ((size_t)(end - *pp) < len) {
    return -1;
  }
  *pp += len;
  return 0;
}

/* A Tag message: only its required key matters, as nobody reads tags. */
static int parse_tag_msg(const uint8_t *p, const uint8_t *end) {
  int has_key = 0;
  uint32_t tag;

  while (p < end) {
    if (pb_tag(&p, end, &tag) != 0) {
      return -1;
    }
    if (tag == KPL_TAG_TAG_KEY) {
      has_key = 1;
    }
    if (pb_skip(&p, end, tag & 7) != 0) {
      return -1;
    }
  }
  return has_key ? 0 : -1;
}

/*
 * Parses one Record message. A repeated singular field keeps its last
 * value, as protobuf does. Tags are checked only when |check_tags|: the
 * delivery pass reads records already checked.
 */
static int parse_record(kpl_rec *r, const uint8_t *p, const uint8_t *end,
                        int check_tags) {
  int has_pk = 0, has_data = 0;
  uint32_t tag;
  const uint8_t *sub;
  size_t sublen;

  r->has_ehk = 0;
  while (p < end) {
    if (pb_tag(&p, end, &tag) != 0) {
      return -1;
    }
    switch (tag) {
    case KPL_TAG_REC_PARTITION_KEY_INDEX:
      if (pb_varint(&p, end, &r->pk_index) != 0) {
        return -1;
      }
      has_pk = 1;
      break;
    case KPL_TAG_REC_EXPLICIT_HASH_KEY_INDEX:
      if (pb_varint(&p, end, &r->ehk_index) != 0) {
        return -1;
      }
      r->has_ehk = 1;
      break;
    case KPL_TAG_REC_DATA:
      if (pb_bytes(&p, end, &r->data, &r->data_len) != 0) {
        return -1;
      }
      has_data = 1;
      break;
    case KPL_TAG_REC_TAG:
      if (pb_bytes(&p, end, &sub, &sublen) != 0 ||
          (check_tags && parse_tag_msg(sub, sub + sublen) != 0)) {
        return -1;
      }
      break;
    default:
      if (pb_skip(&p, end, tag & 7) != 0) {
        return -1;
      }
    }
  }
  return has_pk && has_data ? 0 : -1;
}

/*
 * Walks the top level once, counting table entries and records and
 * checking the framing, so the one allocation can be sized before any
 * record is parsed.
 */
static int scan_aggregate(kpl_ctx *c) {
  const uint8_t *p = c->pb, *field;
  uint32_t tag;

  c->tables_end = c->pb;
  c->records_begin = c->pb_end;
  while (p < c->pb_end) {
    field = p;
    if (pb_tag(&p, c->pb_end, &tag) != 0 ||
        pb_skip(&p, c->pb_end, tag & 7) != 0) {
      return -1;
    }
    switch (tag) {
    case KPL_TAG_AGG_PARTITION_KEY:
      ++c->npk;
      c->tables_end = p;
      break;
    case KPL_TAG_AGG_EXPLICIT_HASH_KEY:
      ++c->nehk;
      c->tables_end = p;
      break;
    case KPL_TAG_AGG_RECORD:
      if (c->nrec++ == 0) {
        c->records_begin = field;
      }
      break;
    }
  }
  return 0;
}

static int alloc_tables(kpl_ctx *c) {
  size_t n = c->npk + c->nehk, per, key_off, state_off;
  int want_hash = (c->flags & KEFO_KPL_HASH_KEYS) || c->range != NULL;
  uint8_t *b;

  if (n == 0) {
    return 0;
  }
  /* Each entry took at least 2 bytes of the blob, so this cannot
     overflow on 64-bit hosts; the check is for 32-bit ones. */
  per = sizeof(kpl_key) + (want_hash ? sizeof(kefo_hash_key) + 1 : 0);
  if (n > SIZE_MAX / per) {
    return KEFO_ERR_NOMEM;
  }
  /* Hash keys first: they need the strictest alignment. */
  key_off = want_hash ? n * sizeof(kefo_hash_key) : 0;
  state_off = key_off + n * sizeof(kpl_key);
  b = kefo__mem_malloc(c->mem, n * per);
  if (b == NULL) {
    return KEFO_ERR_NOMEM;
  }
  c->block = b;
  c->keys = (kpl_key *)(void *)(b + key_off);
  if (want_hash) {
    c->hashes = (kefo_hash_key *)(void *)b;
    c->hash_state = b + state_off;
    memset(c->hash_state, HASH_UNKNOWN, n);
  }
  return 0;
}

static int fill_tables(kpl_ctx *c) {
  const uint8_t *p = c->pb, *data;
  size_t ipk = 0, iehk = 0, len;
  uint32_t tag;

  while (p < c->tables_end) {
    if (pb_tag(&p, c->pb_end, &tag) != 0) {
      return -1;
    }
    if (tag == KPL_TAG_AGG_PARTITION_KEY ||
        tag == KPL_TAG_AGG_EXPLICIT_HASH_KEY) {
      kpl_key *k;

      if (pb_bytes(&p, c->pb_end, &data, &len) != 0) {
        return -1;
      }
      k = tag == KPL_TAG_AGG_PARTITION_KEY ? &c->keys[ipk++]
                                           : &c->keys[c->npk + iehk++];
      k->s = (const char *)data;
      k->len = len;
    } else if (pb_skip(&p, c->pb_end, tag & 7) != 0) {
      return -1;
    }
  }
  return 0;
}

/*
 * The effective hash key of |r|, computed once per table entry. Returns 0,
 * KPL_NO_HASH_KEY, or KEFO_ERR_NOMEM (only on an entry's first use: the
 * check pass makes that first use, so delivery never fails here).
 */
static int record_hash(kpl_ctx *c, const kpl_rec *r, kefo_hash_key *out) {
  size_t i = r->has_ehk ? c->npk + (size_t)r->ehk_index : (size_t)r->pk_index;
  const kpl_key *k = &c->keys[i];
  int rv;

  if (c->hash_state[i] == HASH_UNKNOWN) {
    if (r->has_ehk) {
      rv = kefo__hash_key_parse(&c->hashes[i], k->s, k->len);
      c->hash_state[i] = rv == 0 ? HASH_OK : HASH_BAD;
    } else {
      hash_of_pk(&c->hashes[i], k->s, k->len);
      c->hash_state[i] = HASH_OK;
    }
  }
  if (c->hash_state[i] == HASH_BAD) {
    return KPL_NO_HASH_KEY;
  }
  *out = c->hashes[i];
  return 0;
}

/*
 * Parses every record and checks its key indexes. When hash keys are
 * wanted it computes them here, so that an MD5 failure comes before the
 * first delivery; with a range it tells through |*outside| whether any
 * record falls outside it. Returns 0, -1 for a record that does not parse,
 * or KEFO_ERR_NOMEM.
 */
static int validate_records(kpl_ctx *c, int *outside) {
  const uint8_t *p = c->records_begin, *data;
  size_t len;
  uint32_t tag;
  kpl_rec r;
  kefo_hash_key key;
  int rv;

  *outside = 0;
  while (p < c->pb_end) {
    if (pb_tag(&p, c->pb_end, &tag) != 0) {
      return -1;
    }
    if (tag != KPL_TAG_AGG_RECORD) {
      if (pb_skip(&p, c->pb_end, tag & 7) != 0) {
        return -1;
      }
      continue;
    }
    if (pb_bytes(&p, c->pb_end, &data, &len) != 0 ||
        parse_record(&r, data, data + len, 1) != 0 ||
        r.pk_index >= (uint64_t)c->npk ||
        (r.has_ehk && r.ehk_index >= (uint64_t)c->nehk)) {
      return -1;
    }
    /* Once one record is outside, nothing will be delivered and the rest
       need parsing only: the aggregate may still turn out not to be
       one. */
    if (c->hashes != NULL && !*outside) {
      rv = record_hash(c, &r, &key);
      if (rv < 0) {
        return rv;
      }
      if (c->range != NULL && (rv == KPL_NO_HASH_KEY ||
                               !kefo__hash_range_contains(c->range, &key))) {
        *outside = 1;
      }
    }
  }
  return 0;
}

static int deliver_records(kpl_ctx *c) {
  const uint8_t *p = c->records_begin, *data;
  size_t len;
  uint32_t tag;
  kpl_rec r;
  kefo_kpl_record rec;
  int rv;

  memset(&rec, 0, sizeof(rec));
  rec.aggregated = 1;
  while (p < c->pb_end) {
    /* Everything here was checked by validate_records. */
    if (pb_tag(&p, c->pb_end, &tag) != 0) {
      return KEFO_ERR_INVALID_STATE;
    }
    if (tag != KPL_TAG_AGG_RECORD) {
      if (pb_skip(&p, c->pb_end, tag & 7) != 0) {
        return KEFO_ERR_INVALID_STATE;
      }
      continue;
    }
    if (pb_bytes(&p, c->pb_end, &data, &len) != 0 ||
        parse_record(&r, data, data + len, 0) != 0) {
      return KEFO_ERR_INVALID_STATE;
    }
    rec.data = r.data;
    rec.data_len = r.data_len;
    rec.partition_key = c->keys[r.pk_index].s;
    rec.partition_key_len = c->keys[r.pk_index].len;
    if (r.has_ehk) {
      rec.explicit_hash_key = c->keys[c->npk + r.ehk_index].s;
      rec.explicit_hash_key_len = c->keys[c->npk + r.ehk_index].len;
    } else {
      rec.explicit_hash_key = NULL;
      rec.explicit_hash_key_len = 0;
    }
    if (c->flags & KEFO_KPL_HASH_KEYS) {
      rec.hash_key.hi = rec.hash_key.lo = 0;
      rv = record_hash(c, &r, &rec.hash_key);
      if (rv < 0) {
        return rv;
      }
      rec.hash_key_valid = rv == 0;
    }
    if (c->on_record(&rec, c->user_data) != 0) {
      return KEFO_ERR_CALLBACK_FAILURE;
    }
    ++c->result.delivered;
    ++rec.sub_sequence_number;
  }
  return 0;
}

/*
 * Delivers the blob's user records if it is an aggregate. Returns 0,
 * KPL_PASS_THROUGH when it is not one (nothing delivered), or an error.
 */
static int try_aggregate(kpl_ctx *c) {
  uint8_t digest[KEFO_KPL_DIGEST_LEN];
  int rv, outside;

  if (c->len <= KEFO_KPL_MAGIC_LEN + KEFO_KPL_DIGEST_LEN ||
      memcmp(c->blob, kefo__kpl_magic, KEFO_KPL_MAGIC_LEN) != 0) {
    return KPL_PASS_THROUGH;
  }
  c->pb = c->blob + KEFO_KPL_MAGIC_LEN;
  c->pb_end = c->blob + c->len - KEFO_KPL_DIGEST_LEN;
  kefo__md5(c->pb, (size_t)(c->pb_end - c->pb), digest);
  if (memcmp(digest, c->pb_end, KEFO_KPL_DIGEST_LEN) != 0 ||
      scan_aggregate(c) != 0) {
    return KPL_PASS_THROUGH;
  }
  rv = alloc_tables(c);
  if (rv != 0) {
    goto fail_alloc;
  }
  if (fill_tables(c) != 0) {
    rv = KPL_PASS_THROUGH;
    goto fail_check;
  }
  rv = validate_records(c, &outside);
  if (rv != 0) {
    if (rv == -1) {
      rv = KPL_PASS_THROUGH;
    }
    goto fail_check;
  }
  c->result.aggregated = 1;
  c->result.nrecords = c->nrec;
  if (outside) {
    c->result.dropped = c->nrec;
  } else {
    rv = deliver_records(c);
  }

fail_check:
  kefo__mem_free(c->mem, c->block);
  c->block = NULL;
fail_alloc:
  return rv;
}

static int deliver_whole(kpl_ctx *c) {
  kefo_kpl_record rec;

  memset(&rec, 0, sizeof(rec));
  rec.data = c->blob;
  rec.data_len = c->len;
  rec.partition_key = c->outer_pk;
  rec.partition_key_len = c->outer_pk_len;
  if ((c->flags & KEFO_KPL_HASH_KEYS) && c->outer_pk != NULL) {
    hash_of_pk(&rec.hash_key, c->outer_pk, c->outer_pk_len);
    rec.hash_key_valid = 1;
  }
  c->result.aggregated = 0;
  c->result.nrecords = 1;
  if (c->on_record(&rec, c->user_data) != 0) {
    return KEFO_ERR_CALLBACK_FAILURE;
  }
  c->result.delivered = 1;
  return 0;
}

int kefo__kpl_deaggregate(const kefo_mem *mem, const uint8_t *blob, size_t len,
                          const char *partition_key, size_t partition_key_len,
                          const kefo_kpl_options *opts,
                          kefo_kpl_on_record on_record, void *user_data,
                          kefo_kpl_result *result) {
  kpl_ctx c;
  int rv;

  memset(&c, 0, sizeof(c));
  if (on_record == NULL || (blob == NULL && len > 0)) {
    rv = KEFO_ERR_INVALID_ARGUMENT;
    goto fail_args;
  }
  c.mem = kefo__mem_or_default(mem);
  c.blob = blob;
  c.len = len;
  c.outer_pk = partition_key;
  c.outer_pk_len = partition_key ? partition_key_len : 0;
  if (opts != NULL) {
    c.flags = opts->flags;
    c.range = opts->range;
  }
  c.on_record = on_record;
  c.user_data = user_data;

  rv = try_aggregate(&c);
  if (rv == KPL_PASS_THROUGH) {
    memset(&c.result, 0, sizeof(c.result));
    rv = deliver_whole(&c);
  }

fail_args:
  if (result != NULL) {
    *result = c.result;
  }
  return rv;
}
