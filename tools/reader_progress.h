/*
 * kefo-reader's live progress on stderr: per shard, its state, records
 * and megabytes a second since the last report, and how far behind the
 * stream's tip it reads. On a terminal a compact table redrawn in place;
 * otherwise one plain line per report, for logs.
 */
#ifndef KEFO_TOOLS_READER_PROGRESS_H
#define KEFO_TOOLS_READER_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#include <kefo/kefo.h>

typedef struct kefo_progress_prev {
  char shard[130];
  uint64_t records, bytes;
} kefo_progress_prev;

typedef struct kefo_progress {
  FILE *out;
  int tty;
  int lines_drawn; /* the table on screen, to erase before a redraw */
  double last_s;
  kefo_progress_prev *prev;
  size_t nprev, cap;
} kefo_progress;

/* Reports to |out|, as a table when |tty|. */
void kefo_progress_init(kefo_progress *p, FILE *out, int tty);

/* Reports |st| at |now_s| seconds since the start. */
void kefo_progress_show(kefo_progress *p, const kefo_stats *st, double now_s);

/*
 * Reports alignment under the last report: the paused shards and the
 * spread of the watermarks (largest minus smallest of the shards being
 * read that have one), with the slowest and the fastest shard.
 */
void kefo_progress_watermarks(kefo_progress *p, const kefo_watermarks *wm);

/* Erases the table (terminal only), so another line can be printed. */
void kefo_progress_clear(kefo_progress *p);

void kefo_progress_free(kefo_progress *p);

#endif /* KEFO_TOOLS_READER_PROGRESS_H */
