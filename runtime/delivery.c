/*
 * Delivery: the records a reader hands on (shard/reader.h's deliver)
 * become the application's kefo_records (shard/assembly.c) and go to
 * on_records; what the application finished with is noted for
 * checkpoints, alignment and stats.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <kefo/kefo.h>

#include "runtime/consumer_internal.h"

/*
 * Turns the records of one event (after |skip| already delivered ones)
 * into kefo_records and hands them on: first every Data is decoded once
 * into the arena, then each blob is de-aggregated where it lies. Returns
 * 0, KEFO_DELIVER_STOP when the application asked to stop,
 * KEFO_DELIVER_HELD when alignment holds the batch back (nothing of it
 * handed on), or KEFO_DELIVER_BAD for malformed records or no memory
 * (reported through on_error).
 */
int kefo__consumer_deliver(kefo_consumer *c, kefo_shard_slot *r,
                           const kefo_wire_record *records, size_t nrecs,
                           int skip, int64_t behind) {
  kefo_resume_filter filter = {r->resume_filter, r->resume, r->resume_sub};
  kefo_record *recs;
  size_t k, nout;
  int rv;
  int64_t newest = KEFO_WATERMARK_NONE, oldest = KEFO_WATERMARK_NONE, t;
  uint64_t bytes = 0;

  if (c->state != C_RUNNING) {
    /* A stop was asked: nothing more is handed on. These records are
       not finished with, so no checkpoint covers them and the next run
       reads them. */
    return 0;
  }
  rv = kefo__assembly_run(&c->assembly, records, nrecs,
                          skip > 0 ? (size_t)skip : 0, &filter, &recs, &nout,
                          &bytes);
  if (rv != 0) {
    r->resume_filter = filter.active;
    if (c->assembly.error) {
      kefo__consumer_report(c, rv, r->shard_id, NULL, c->assembly.error);
    }
    return KEFO_DELIVER_BAD;
  }
  if (nout == 0) {
    r->resume_filter = filter.active;
    return 0;
  }
  for (k = 0; k < nout; ++k) {
    t = kefo__alignment_event_time(c, r, &recs[k]);
    newest = t > newest ? t : newest;
    oldest = oldest == KEFO_WATERMARK_NONE || t < oldest ? t : oldest;
  }
  if (!kefo__alignment_admits(r, oldest)) {
    /* Handed on again whole after the resume: the resume filter, which
       this run may have switched off, must then drop the same records. */
    return KEFO_DELIVER_HELD;
  }
  r->resume_filter = filter.active;
  /* Lent to the application: it may checkpoint these records from
     inside the call (kefo_checkpoint), but only their return makes them
     finished with, and so covered by automatic checkpoints. */
  c->in_records = r;
  c->lent = recs;
  c->nlent = nout;
  c->taken = nout;
  c->stop_asked = STOP_ASKED_NONE;
  rv = c->cb.on_records(c, r->shard_id, recs, nout, behind, c->user_data);
  c->in_records = NULL;
  if (rv != 0) {
    /* Stops at once (the reader does it): nothing of this call counts
       as finished with. */
    c->stop_asked = STOP_ASKED_NONE;
    if (!c->stop_reason) {
      c->stop_reason = KEFO_STOP_CALLBACK;
    }
    return KEFO_DELIVER_STOP;
  }
  if (c->taken > 0) {
    /* The readers checked every sequence number's length (at most 128
       digits); the bound is kept anyway. A copy of known length, not
       snprintf: this runs for every event. */
    const kefo_record *last = &recs[c->taken - 1];
    size_t len = strlen(last->sequence_number);
    if (len >= sizeof(r->delivered)) {
      len = sizeof(r->delivered) - 1;
    }
    memcpy(r->delivered, last->sequence_number, len);
    r->delivered[len] = '\0';
    r->delivered_sub = last->sub_sequence_number;
    /* Counted in the loop above; a stop inside the call (rare) takes
       back the records it left. */
    for (k = c->taken; k < nout; ++k) {
      bytes -= recs[k].data_len;
    }
    r->stats.records += c->taken;
    r->stats.bytes += bytes;
  }
  if (c->stop_asked != STOP_ASKED_NONE) {
    kefo_consumer_stop(c, c->stop_asked == STOP_ASKED_GRACEFUL);
    return 0; /* stopping: the reader hands on nothing more */
  }
  kefo__alignment_delivered(r, newest);
  /* For the metrics' last delivery age: the time alignment has just
     read, rather than a clock read of its own per event. */
  r->delivered_at_ms = r->last_record_ms;
  return 0;
}

const char *const *
kefo__consumer_sequence_numbers(kefo_consumer *c,
                                const kefo_wire_record *records, size_t n) {
  static const char *const none[1] = {""};
  size_t i;

  if (n == 0) {
    return none; /* an empty event: nothing to allocate */
  }
  if (n > c->seqs_cap) {
    const char **ns = kefo__mem_realloc(c->mem, c->seqs, n * sizeof(*ns));
    if (ns == NULL) {
      return NULL;
    }
    c->seqs = ns;
    c->seqs_cap = n;
  }
  for (i = 0; i < n; ++i) {
    c->seqs[i] = records[i].seq ? records[i].seq : "";
  }
  return c->seqs;
}
