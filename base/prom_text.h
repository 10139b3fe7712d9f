/*
 * The Prometheus text exposition format (version 0.0.4), with no I/O:
 * families (# HELP, # TYPE) and samples appended to a kefo_buf, label
 * values and help text escaped as the format asks. The consumer's and the
 * producer's metrics (runtime/metrics.c) are written through it.
 */
#ifndef KEFO_PROM_TEXT_H
#define KEFO_PROM_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* The Content-Type of what this writes. */
#define KEFO_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* One label: |name| must be a valid label name (it is not escaped),
   |value| any NUL-terminated string (escaped). */
typedef struct kefo_prom_label {
  const char *name;
  const char *value;
} kefo_prom_label;

/*
 * A writer over |out|. Errors are sticky, as in a stdio stream: after the
 * first failed append every call does nothing and |error| holds
 * KEFO_ERR_NOMEM, so a renderer checks once at the end.
 */
typedef struct kefo_prom_text {
  kefo_buf *out;
  int error;
} kefo_prom_text;

void kefo__prom_text_init(kefo_prom_text *w, kefo_buf *out);

/* Starts the family |name|: "# HELP name help" (help escaped) and
   "# TYPE name type" (|type| one of counter, gauge, histogram, summary,
   untyped). */
void kefo__prom_text_family(kefo_prom_text *w, const char *name,
                            const char *type, const char *help);

/* A sample of |name| (with |suffix| appended when not NULL, such as
   "_bucket") with |n| labels; the value as an unsigned, a signed integer
   or a double (+Inf, -Inf and NaN as the format spells them). */
void kefo__prom_text_u64(kefo_prom_text *w, const char *name,
                         const char *suffix, const kefo_prom_label *labels,
                         size_t n, uint64_t value);
void kefo__prom_text_i64(kefo_prom_text *w, const char *name,
                         const char *suffix, const kefo_prom_label *labels,
                         size_t n, int64_t value);
void kefo__prom_text_f64(kefo_prom_text *w, const char *name,
                         const char *suffix, const kefo_prom_label *labels,
                         size_t n, double value);
/* A value of |ms| milliseconds written in seconds, exactly ("0.25",
   "-1.005", "12"), without going through a double. */
void kefo__prom_text_millis(kefo_prom_text *w, const char *name,
                            const char *suffix, const kefo_prom_label *labels,
                            size_t n, int64_t ms);

/*
 * Labels escaped once for many samples: a scrape writes each shard's
 * labels in every per-shard family, and escaping them again for each
 * sample was most of a scrape's time at 1,000 shards. Appends |n| labels
 * to |out| as `a="v",b="w"` (no braces). Returns 0 or KEFO_ERR_NOMEM.
 */
int kefo__prom_text_label_text(kefo_buf *out, const kefo_prom_label *labels,
                               size_t n);

/* A sample of |name| with the label text |labels| (|len| bytes, from
   kefo__prom_text_label_text; |len| > 0) followed by |more| (NULL, or
   escaped label text starting with ','), and the value as
   kefo__prom_text_u64 and kefo__prom_text_millis write it. */
void kefo__prom_text_u64_pre(kefo_prom_text *w, const char *name,
                             const char *labels, size_t len, const char *more,
                             uint64_t value);
void kefo__prom_text_millis_pre(kefo_prom_text *w, const char *name,
                                const char *labels, size_t len,
                                const char *more, int64_t ms);

/*
 * The samples of a histogram (its family written before): one _bucket per
 * upper bound of |bounds| (|nb| of them, increasing), then le="+Inf",
 * _sum and _count. |counts| holds |nb| + 1 per-bucket (not cumulative)
 * counts, the last one above every bound; |labels| (|n|) come before
 * "le", for which one more slot is needed: |n| < 8.
 */
void kefo__prom_text_histogram(kefo_prom_text *w, const char *name,
                               const kefo_prom_label *labels, size_t n,
                               const double *bounds, const uint64_t *counts,
                               size_t nb, double sum);

/* Writes |value| as the format spells a float into |out| (|cap| >= 32):
   the shortest of %.15g and %.17g that reads back equal, never with a
   locale's decimal comma. */
void kefo__prom_text_format_double(char *out, size_t cap, double value);

#endif /* KEFO_PROM_TEXT_H */
