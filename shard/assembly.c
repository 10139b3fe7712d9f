/*
 * Record assembly (shard/assembly.h). Two passes over one event: first
 * every Data is decoded into the arena (one reservation for all of
 * them), then each blob is de-aggregated in place; only once both
 * buffers have stopped growing do offsets become pointers.
 */
#include "config.h"

#include "shard/assembly.h"

#include <string.h>

#include "base/base64.h"
#include "shard/kpl.h"
#include "shard/seq.h"

void kefo__assembly_init(kefo_assembly *a, const kefo_mem *mem) {
  memset(a, 0, sizeof(*a));
  a->mem = kefo__mem_or_default(mem);
  kefo__buf_init(&a->arena, a->mem);
  kefo__buf_init(&a->strings, a->mem);
}

void kefo__assembly_free(kefo_assembly *a) {
  kefo__mem_big_free(a->mem, a->arena.data, a->arena.cap);
  a->arena.data = NULL;
  a->arena.cap = 0;
  kefo__buf_free(&a->strings);
  kefo__mem_free(a->mem, a->krecs);
  kefo__mem_free(a->mem, a->urecs);
  kefo__mem_free(a->mem, a->recs);
  a->krecs = NULL;
  a->urecs = NULL;
  a->recs = NULL;
  a->krecs_cap = a->urecs_cap = a->recs_cap = 0;
}

static int push_str(kefo_buf *b, const char *s, size_t n, size_t *off) {
  *off = b->len;
  if (kefo__buf_append(b, s, n) != 0 || kefo__buf_append_byte(b, 0) != 0) {
    return KEFO_ERR_NOMEM;
  }
  return 0;
}

/* 1 when the user record (|seq|, |sub|) is at or before the filter's
   checkpoint. */
static int covered(const kefo_resume_filter *f, const char *seq, uint64_t sub) {
  int c = kefo__seq_cmp(seq, f->seq);
  return c < 0 || (c == 0 && sub <= f->sub);
}

static int on_user_record(const kefo_kpl_record *r, void *ud) {
  kefo_assembly *a = ud;
  kefo_assembly_urec *u;

  if (a->filter && a->filter->active) {
    if (covered(a->filter, a->cur->seq, r->sub_sequence_number)) {
      return 0; /* delivered by an earlier run */
    }
    a->filter->active = 0;
  }
  if (kefo__mem_grow(a->mem, (void **)&a->urecs, a->nurecs, &a->urecs_cap,
                     sizeof(*u)) != 0) {
    return -1;
  }
  u = &a->urecs[a->nurecs];
  u->seq = a->cur->seq;
  u->sub_seq = r->sub_sequence_number;
  u->arrival_ms = a->cur->arrival_ms;
  u->ehk = SIZE_MAX;
  /* Data stays where it was decoded: inside the blob, in the arena, which
     does not grow any more. A plain record's key is the outer one,
     already stored; an aggregate's keys come from its blob. */
  u->data = (size_t)(r->data - a->arena.data);
  u->data_len = r->data_len;
  u->pk = NULL;
  if (r->aggregated) {
    if (push_str(&a->strings, r->partition_key, r->partition_key_len,
                 &u->pk_off) != 0) {
      return -1;
    }
  } else {
    u->pk = a->cur->pk;
  }
  if (r->explicit_hash_key &&
      push_str(&a->strings, r->explicit_hash_key, r->explicit_hash_key_len,
               &u->ehk) != 0) {
    return -1;
  }
  ++a->nurecs;
  return 0;
}

/*
 * Makes the (empty) arena hold |total| bytes. Its old contents are not
 * needed, so a bigger block replaces it rather than growing it, and one
 * of 2 MiB or more comes in huge pages (kefo__mem_big_alloc): the arena
 * of an event of 10,000 records of 1 KiB is 10 MB, 2,500 page faults of
 * about 12 us each on the benchmark VM when it first fills.
 */
static int arena_reserve(kefo_assembly *a, size_t total) {
  size_t cap;
  uint8_t *p;

  if (total <= a->arena.cap) {
    return 0;
  }
  kefo__mem_big_free(a->mem, a->arena.data, a->arena.cap);
  a->arena.data = NULL;
  a->arena.cap = 0;
  cap = total + total / 8;
  if (cap < total) {
    cap = total;
  }
  p = kefo__mem_big_alloc(a->mem, cap, &cap);
  if (p == NULL) {
    return KEFO_ERR_NOMEM;
  }
  a->arena.data = p;
  a->arena.cap = cap;
  return 0;
}

/* First pass: every record's Data decoded into the arena, its key and
   sequence number into the string buffer. */
static int decode_all(kefo_assembly *a, const kefo_wire_record *records,
                      size_t n, size_t skip) {
  size_t i, total = 0;

  /* One reservation for every record's data: base64 never decodes to
     more than three quarters of its text. */
  for (i = skip; i < n; ++i) {
    total += kefo__base64_decoded_max(records[i].data_len);
  }
  if (arena_reserve(a, total) != 0) {
    return KEFO_ERR_NOMEM;
  }
  for (i = skip; i < n; ++i) {
    const kefo_wire_record *rec = &records[i];
    kefo_assembly_krec *kr;
    size_t dlen;

    if (rec->data == NULL || rec->pk == NULL || rec->seq == NULL) {
      a->error = "a record lacks Data, PartitionKey or SequenceNumber";
      return KEFO_ERR_BAD_RESPONSE;
    }
    if (kefo__mem_grow(a->mem, (void **)&a->krecs, a->nkrecs, &a->krecs_cap,
                       sizeof(*kr)) != 0) {
      return KEFO_ERR_NOMEM;
    }
    kr = &a->krecs[a->nkrecs];
    if (kefo__base64_decode(a->arena.data + a->arena.len,
                            a->arena.cap - a->arena.len, rec->data,
                            rec->data_len, &dlen) != 0) {
      a->error = "a record's Data is not base64";
      return KEFO_ERR_BAD_RESPONSE;
    }
    kr->blob = a->arena.len;
    kr->blob_len = dlen;
    a->arena.len += dlen;
    /* As C strings: a key with an escaped NUL ends there. The parser's
       own strings live through the call: copying them again was 7% of
       the reader's CPU on 100 B records (perf, path 5). */
    kr->pk = rec->pk;
    kr->pk_len = strlen(rec->pk);
    kr->seq = rec->seq;
    kr->arrival_ms = rec->arrival_ms;
    ++a->nkrecs;
  }
  return 0;
}

/* Second pass: each blob de-aggregated where it lies. */
static int deaggregate_all(kefo_assembly *a) {
  size_t k;
  int rv;

  for (k = 0; k < a->nkrecs; ++k) {
    kefo_kpl_result res;

    a->cur = &a->krecs[k];
    rv = kefo__kpl_deaggregate(a->mem, a->arena.data + a->cur->blob,
                               a->cur->blob_len, a->cur->pk, a->cur->pk_len,
                               NULL, on_user_record, a, &res);
    if (rv != 0) {
      a->error = "cannot de-aggregate a record";
      return rv;
    }
  }
  return 0;
}

int kefo__assembly_run(kefo_assembly *a, const kefo_wire_record *records,
                       size_t n, size_t skip, kefo_resume_filter *filter,
                       kefo_record **out, size_t *nout, uint64_t *bytes) {
  uint64_t sum = 0;
  size_t k;
  int rv;

  kefo__buf_reset(&a->arena);
  kefo__buf_reset(&a->strings);
  a->nkrecs = 0;
  a->nurecs = 0;
  a->error = NULL;
  a->filter = filter;
  *out = NULL;
  *nout = 0;
  rv = decode_all(a, records, n, skip);
  if (rv == 0) {
    rv = deaggregate_all(a);
  }
  a->filter = NULL;
  if (rv != 0) {
    return rv;
  }
  if (a->recs_cap < a->nurecs) {
    kefo_record *nr =
        kefo__mem_realloc(a->mem, a->recs, a->nurecs * sizeof(*nr));
    if (nr == NULL) {
      return KEFO_ERR_NOMEM;
    }
    a->recs = nr;
    a->recs_cap = a->nurecs;
  }
  /* Both buffers have stopped growing: offsets become pointers. */
  for (k = 0; k < a->nurecs; ++k) {
    const char *str = (const char *)a->strings.data;
    const kefo_assembly_urec *u = &a->urecs[k];
    kefo_record *rec = &a->recs[k];

    rec->partition_key = u->pk ? u->pk : str + u->pk_off;
    rec->sequence_number = u->seq;
    rec->sub_sequence_number = u->sub_seq;
    rec->explicit_hash_key = u->ehk == SIZE_MAX ? NULL : str + u->ehk;
    rec->approximate_arrival_ms = u->arrival_ms;
    rec->data = a->arena.data + u->data;
    rec->data_len = u->data_len;
    sum += u->data_len;
  }
  *out = a->recs;
  *nout = a->nurecs;
  if (bytes) {
    *bytes = sum;
  }
  return 0;
}
