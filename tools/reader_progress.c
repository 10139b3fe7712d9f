/*
 * kefo-reader's live progress on stderr.
 */
#include "tools/reader_progress.h"

#include <stdlib.h>
#include <string.h>

void kefo_progress_init(kefo_progress *p, FILE *out, int tty) {
  memset(p, 0, sizeof(*p));
  p->out = out;
  p->tty = tty;
}

void kefo_progress_free(kefo_progress *p) {
  free(p->prev);
  memset(p, 0, sizeof(*p));
}

void kefo_progress_clear(kefo_progress *p) {
  if (p->tty && p->lines_drawn > 0) {
    /* Up to the table's first line, then erase to the end. */
    fprintf(p->out, "\033[%dA\033[J", p->lines_drawn);
    p->lines_drawn = 0;
  }
}

static const char *state_name(kefo_shard_state_kind s) {
  switch (s) {
  case KEFO_SHARD_STATE_READING:
    return "reading";
  case KEFO_SHARD_STATE_FINISHED:
    return "finished";
  case KEFO_SHARD_STATE_FAILED:
    return "failed";
  case KEFO_SHARD_STATE_PAUSED:
    return "paused";
  default:
    return "waiting";
  }
}

static int by_shard(const void *a, const void *b) {
  return strcmp(((const kefo_shard_stats *)a)->shard_id,
                ((const kefo_shard_stats *)b)->shard_id);
}

/* The counters of |shard| at the last report (zeros the first time). */
static const kefo_progress_prev *previous(const kefo_progress *p,
                                          const char *shard) {
  static const kefo_progress_prev none;
  size_t i;

  for (i = 0; i < p->nprev; ++i) {
    if (strcmp(p->prev[i].shard, shard) == 0) {
      return &p->prev[i];
    }
  }
  return &none;
}

void kefo_progress_show(kefo_progress *p, const kefo_stats *st, double now_s) {
  kefo_shard_stats *rows = NULL;
  kefo_progress_prev *next = NULL;
  double dt = now_s - p->last_s, rate = 0, mbs = 0;
  int64_t behind = -1;
  size_t i, counts[5] = {0};

  if (st->nshards == 0) {
    return; /* nothing started yet: nothing to say */
  }
  if (dt <= 0) {
    dt = 1;
  }
  rows = malloc(st->nshards * sizeof(*rows));
  next = malloc(st->nshards * sizeof(*next));
  if (rows == NULL || next == NULL) {
    free(rows);
    free(next);
    return;
  }
  memcpy(rows, st->shards, st->nshards * sizeof(*rows));
  qsort(rows, st->nshards, sizeof(*rows), by_shard);
  kefo_progress_clear(p);
  if (p->tty) {
    fprintf(p->out, "%-22s %-9s %10s %8s %12s %12s\n", "shard", "state",
            "records/s", "MB/s", "behind (ms)", "records");
    p->lines_drawn = 1;
  }
  for (i = 0; i < st->nshards; ++i) {
    const kefo_shard_stats *r = &rows[i];
    const kefo_progress_prev *was = previous(p, r->shard_id);
    double rr = (double)(r->records - was->records) / dt;
    double mb = (double)(r->bytes - was->bytes) / dt / 1e6;
    rate += rr;
    mbs += mb;
    if (r->state >= 0 && (size_t)r->state < 5) {
      ++counts[r->state];
    }
    if (r->state == KEFO_SHARD_STATE_READING ||
        r->state == KEFO_SHARD_STATE_PAUSED) {
      behind =
          r->millis_behind_latest > behind ? r->millis_behind_latest : behind;
    }
    if (p->tty) {
      char b[24] = "-";
      if (r->millis_behind_latest >= 0) {
        snprintf(b, sizeof(b), "%lld", (long long)r->millis_behind_latest);
      }
      fprintf(p->out, "%-22.22s %-9s %10.0f %8.2f %12s %12llu\n", r->shard_id,
              state_name(r->state), rr, mb, b, (unsigned long long)r->records);
      ++p->lines_drawn;
    }
    snprintf(next[i].shard, sizeof(next[i].shard), "%s", r->shard_id);
    next[i].records = r->records;
    next[i].bytes = r->bytes;
  }
  if (p->tty) {
    fprintf(p->out, "%-22s %-9s %10.0f %8.2f %12s %12llu\n", "all", "", rate,
            mbs, "", (unsigned long long)st->records);
    ++p->lines_drawn;
  } else {
    fprintf(p->out,
            "kefo-reader: %.0f s: %zu shards (%zu reading, %zu paused, %zu "
            "finished, %zu failed), %.0f records/s, %.2f MB/s, %lld ms "
            "behind at most, %llu records in all\n",
            now_s, st->nshards, counts[KEFO_SHARD_STATE_READING],
            counts[KEFO_SHARD_STATE_PAUSED], counts[KEFO_SHARD_STATE_FINISHED],
            counts[KEFO_SHARD_STATE_FAILED], rate, mbs,
            (long long)(behind < 0 ? 0 : behind),
            (unsigned long long)st->records);
  }
  fflush(p->out);
  free(rows);
  free(p->prev);
  p->prev = next;
  p->nprev = st->nshards;
  p->last_s = now_s;
}

void kefo_progress_watermarks(kefo_progress *p, const kefo_watermarks *wm) {
  const kefo_shard_watermark *lo = NULL, *hi = NULL;
  char paused[256];
  size_t i, n = 0, len = 0;

  paused[0] = '\0';
  for (i = 0; i < wm->nshards; ++i) {
    const kefo_shard_watermark *s = &wm->shards[i];
    if (s->finished) {
      continue;
    }
    if (s->paused) {
      ++n;
      if (len < sizeof(paused)) {
        len += (size_t)snprintf(paused + len, sizeof(paused) - len, "%s%s",
                                n > 1 ? " " : "", s->shard_id);
      }
    }
    if (s->watermark == KEFO_WATERMARK_NONE) {
      continue;
    }
    if (lo == NULL || s->watermark < lo->watermark) {
      lo = s;
    }
    if (hi == NULL || s->watermark > hi->watermark) {
      hi = s;
    }
  }
  if (lo == NULL) {
    fprintf(p->out,
            "kefo-reader: alignment: %zu paused%s%s, no watermark "
            "yet\n",
            n, n ? ": " : "", paused);
  } else {
    fprintf(p->out,
            "kefo-reader: alignment: %zu paused%s%s, watermark spread %lld "
            "ms (slowest %s %lld, fastest %s %lld)\n",
            n, n ? ": " : "", paused,
            (long long)(hi->watermark - lo->watermark), lo->shard_id,
            (long long)lo->watermark, hi->shard_id, (long long)hi->watermark);
  }
  if (p->tty) {
    ++p->lines_drawn; /* part of the table: redrawn with it */
  }
  fflush(p->out);
}
