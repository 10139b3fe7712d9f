/*
 * libFuzzer target for records split into runs as an event arrives
 * (aws/records_split.c), differential against the records parser reading
 * the whole payload at once. The input is the payload; its length picks
 * the chunk size and the run size, so the sts_event corpus serves as is.
 *
 * Oracles: the records of the runs (as read while cut, and as their texts
 * read again), then of the end, are exactly the whole parse's, in order,
 * with the same sequence numbers, keys, data and arrival times, and the
 * end has the same members (continuation, behind, children), whenever
 * the whole parse accepts the payload; the split and the end refuse
 * exactly what the whole parse refuses; memory stays within what was
 * fed.
 */
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "aws/records_reader.h"
#include "aws/records_split.h"
#include "base/error.h"

static kefo_records_parser whole_p, run_p, text_p;
static kefo_records_split split;
static int ready;

static int same_str(const char *a, const char *b) {
  return (a == NULL) == (b == NULL) && (a == NULL || strcmp(a, b) == 0);
}

/* Record |i| of the whole parse is |r|. */
static void same_record(const kefo_records_event *whole, size_t i,
                        const kefo_wire_record *r) {
  const kefo_wire_record *w;

  if (i >= whole->nrecords) {
    abort();
  }
  w = &whole->records[i];
  if (!same_str(w->seq, r->seq) || w->pk_len != r->pk_len ||
      (w->pk == NULL) != (r->pk == NULL) ||
      (w->pk && memcmp(w->pk, r->pk, w->pk_len) != 0) ||
      w->data_len != r->data_len || (w->data == NULL) != (r->data == NULL) ||
      (w->data && memcmp(w->data, r->data, w->data_len) != 0) ||
      w->arrival_ms != r->arrival_ms) {
    abort();
  }
}

/* The records of |again| (a run's text read again) are those of |ev|. */
static void same_run(const kefo_records_event *ev,
                     const kefo_records_event *again) {
  size_t i;

  if (again->nrecords != ev->nrecords || !again->has_records ||
      again->continuation || again->has_behind) {
    abort();
  }
  for (i = 0; i < ev->nrecords; ++i) {
    same_record(again, i, &ev->records[i]);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kefo_records_event whole, ev, again;
  size_t chunk = 1 + size % 97, off = 0, seen = 0, i, len;
  const uint8_t *json;
  int whole_rv, rv = 0;

  if (!ready) {
    kefo__records_parser_init(&whole_p, NULL);
    kefo__records_parser_init(&run_p, NULL);
    kefo__records_parser_init(&text_p, NULL);
    kefo__records_split_init(&split, NULL, 1);
    ready = 1;
  }
  kefo__records_split_free(&split);
  kefo__records_split_init(&split, NULL, 1 + size % 61);
  whole_rv = kefo__records_parse(&whole_p, data, size, &whole);
  kefo__records_split_begin(&split);
  while (off < size && rv == 0) {
    size_t n = size - off < chunk ? size - off : chunk;
    rv = kefo__records_split_feed(&split, data + off, n);
    off += n;
    if (rv == 0) {
      rv = kefo__records_split_run(&split, &run_p, &json, &len, &ev);
    }
    if (rv == 1) {
      if (kefo__records_parse(&text_p, json, len, &again) != 0) {
        abort();
      }
      same_run(&ev, &again);
      for (i = 0; whole_rv == 0 && i < ev.nrecords; ++i) {
        same_record(&whole, seen + i, &ev.records[i]);
      }
      seen += ev.nrecords;
      kefo__records_split_taken(&split);
      rv = 0;
    }
    if (split.buf.len > size + 16 || split.tail.len > size) {
      abort();
    }
  }
  if (rv == 0) {
    rv = kefo__records_split_end(&split, &json, &len);
  }
  if (rv != 0) {
    /* Refused as it arrived: only what the whole parse refuses. */
    if (rv != KEFO_ERR_BAD_RESPONSE || whole_rv == 0 || split.error == NULL ||
        split.error_offset >= size) {
      abort();
    }
    return 0;
  }
  if (kefo__records_parse(&run_p, json, len, &ev) != 0) {
    if (whole_rv == 0) {
      abort();
    }
    return 0;
  }
  if (whole_rv != 0) {
    abort(); /* the end reads where the whole payload does not */
  }
  for (i = 0; i < ev.nrecords; ++i) {
    same_record(&whole, seen + i, &ev.records[i]);
  }
  if (seen + ev.nrecords != whole.nrecords ||
      ev.has_records != whole.has_records ||
      !same_str(ev.continuation, whole.continuation) ||
      ev.continuation_null != whole.continuation_null ||
      ev.has_behind != whole.has_behind || ev.behind_ms != whole.behind_ms ||
      !same_str(ev.next_iterator, whole.next_iterator) ||
      ev.child_shards_len != whole.child_shards_len ||
      (ev.child_shards &&
       memcmp(ev.child_shards, whole.child_shards, ev.child_shards_len) != 0)) {
    abort();
  }
  return 0;
}
