/*
 * libFuzzer target for records split into runs as an event arrives
 * (aws/records_split.c), differential against the records parser reading
 * the whole payload at once. The input is the payload; its length picks
 * the chunk size and the run size, so the sts_event corpus serves as is.
 *
 * Oracles: the records of the runs, then of the end, are exactly the
 * whole parse's, in order, with the same sequence numbers, keys, data and
 * arrival times, and the end has the same members (continuation, behind,
 * children), whenever the whole parse accepts the payload and every
 * record is an object; the split refuses only what the whole parse
 * refuses or would not deliver, and even then every record it handed on
 * is one the whole parse reads at that place; memory stays within
 * what was fed.
 */
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "aws/records_reader.h"
#include "aws/records_split.h"
#include "base/error.h"

static kefo_records_parser whole_p, run_p;
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kefo_records_event whole, ev;
  size_t chunk = 1 + size % 97, off = 0, seen = 0, i, len;
  const uint8_t *json;
  int whole_rv, rv = 0, objects = 1;

  if (!ready) {
    kefo__records_parser_init(&whole_p, NULL);
    kefo__records_parser_init(&run_p, NULL);
    kefo__records_split_init(&split, NULL, 1);
    ready = 1;
  }
  kefo__records_split_free(&split);
  kefo__records_split_init(&split, NULL, 1 + size % 61);
  whole_rv = kefo__records_parse(&whole_p, data, size, &whole);
  for (i = 0; whole_rv == 0 && i < whole.nrecords; ++i) {
    /* A record that is not an object reads as one with nothing: no
       reader hands such an event on, and the split refuses it. */
    objects &= whole.records[i].seq != NULL;
  }
  kefo__records_split_begin(&split);
  while (off < size && rv == 0) {
    size_t n = size - off < chunk ? size - off : chunk;
    rv = kefo__records_split_feed(&split, data + off, n);
    off += n;
    if (rv == 0 && kefo__records_split_run(&split, &json, &len)) {
      if (kefo__records_parse(&run_p, json, len, &ev) != 0) {
        /* A run is refused only where the whole payload is. */
        if (whole_rv == 0) {
          abort();
        }
        rv = KEFO_ERR_BAD_RESPONSE;
        break;
      }
      if (!ev.has_records || ev.continuation || ev.has_behind) {
        abort();
      }
      for (i = 0; whole_rv == 0 && i < ev.nrecords; ++i) {
        same_record(&whole, seen + i, &ev.records[i]);
      }
      seen += ev.nrecords;
      kefo__records_split_taken(&split);
    }
    if (split.buf.len > size + 16 || split.tail.len > size) {
      abort();
    }
  }
  if (rv != 0) {
    if (rv != KEFO_ERR_BAD_RESPONSE ||
        (whole_rv == 0 && objects && split.error != NULL)) {
      abort();
    }
    if (split.error && split.error_offset >= size) {
      abort();
    }
    return 0;
  }
  if (kefo__records_split_end(&split, &json, &len) != 0) {
    abort();
  }
  if (kefo__records_parse(&run_p, json, len, &ev) != 0) {
    if (whole_rv == 0) {
      abort();
    }
    return 0;
  }
  if (whole_rv != 0) {
    /* The end reads while the whole does not: only after runs went,
       whose texts blank the ',' before their first record (so a ','
       left before the ']' reads as white space). With no run, the end
       is the payload's own bytes. */
    if (split.runs == 0) {
      abort();
    }
    return 0;
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
