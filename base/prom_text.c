/*
 * The Prometheus text exposition format 0.0.4: what is escaped where (a
 * label value: backslash, double quote, line feed; help text: backslash
 * and line feed) and how numbers are spelled.
 */
#include "base/prom_text.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kefo/kefo.h>

void kefo__prom_text_init(kefo_prom_text *w, kefo_buf *out) {
  w->out = out;
  w->error = 0;
}

static void put(kefo_prom_text *w, const char *s, size_t len) {
  if (w->error == 0 && kefo__buf_append(w->out, s, len) != 0) {
    w->error = KEFO_ERR_NOMEM;
  }
}

static void puts_(kefo_prom_text *w, const char *s) {
  put(w, s, strlen(s));
}

/* Copies runs of plain bytes at once (strcspn finds the next byte to
   escape); |quote| says whether '"' is escaped too (label values) or
   not (help text). */
static void escaped(kefo_prom_text *w, const char *s, int quote) {
  const char *stop = quote ? "\\\n\"" : "\\\n";

  for (;;) {
    size_t run = strcspn(s, stop);
    put(w, s, run);
    s += run;
    if (*s == '\0') {
      return;
    }
    puts_(w, *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" : "\\\"");
    ++s;
  }
}

void kefo__prom_text_family(kefo_prom_text *w, const char *name,
                            const char *type, const char *help) {
  puts_(w, "# HELP ");
  puts_(w, name);
  puts_(w, " ");
  escaped(w, help, 0);
  puts_(w, "\n# TYPE ");
  puts_(w, name);
  puts_(w, " ");
  puts_(w, type);
  puts_(w, "\n");
}

static void head(kefo_prom_text *w, const char *name, const char *suffix,
                 const kefo_prom_label *labels, size_t n) {
  size_t i;

  puts_(w, name);
  if (suffix) {
    puts_(w, suffix);
  }
  if (n == 0) {
    puts_(w, " ");
    return;
  }
  for (i = 0; i < n; ++i) {
    puts_(w, i ? "," : "{");
    puts_(w, labels[i].name);
    puts_(w, "=\"");
    escaped(w, labels[i].value ? labels[i].value : "", 1);
    puts_(w, "\"");
  }
  puts_(w, "} ");
}

/* Digits of |v| ending at |end| (exclusive); returns where they start.
   By hand: a scrape of thousands of shards formats tens of thousands of
   numbers, and snprintf was most of its time. */
static char *digits(char *end, uint64_t v) {
  do {
    *--end = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  return end;
}

/* The value and its line feed, ending at |end|; returns where they
   start (at most 22 bytes for a u64, 25 for millis). */
static char *u64_line(char *end, uint64_t v) {
  *--end = '\n';
  return digits(end, v);
}

static char *millis_line(char *end, int64_t ms) {
  char *p = end;
  uint64_t m = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
  unsigned frac = (unsigned)(m % 1000);

  *--p = '\n';
  if (frac) {
    /* Three digits, trailing zeros dropped: 250 ms is "0.25". */
    int k = 3;
    while (frac % 10 == 0) {
      frac /= 10;
      --k;
    }
    while (k-- > 0) {
      *--p = (char)('0' + frac % 10);
      frac /= 10;
    }
    *--p = '.';
  }
  p = digits(p, m / 1000);
  if (ms < 0) {
    *--p = '-';
  }
  return p;
}

void kefo__prom_text_u64(kefo_prom_text *w, const char *name,
                         const char *suffix, const kefo_prom_label *labels,
                         size_t n, uint64_t value) {
  char num[32], *p = u64_line(num + sizeof(num), value);

  head(w, name, suffix, labels, n);
  put(w, p, (size_t)(num + sizeof(num) - p));
}

void kefo__prom_text_millis(kefo_prom_text *w, const char *name,
                            const char *suffix, const kefo_prom_label *labels,
                            size_t n, int64_t ms) {
  char num[40], *p = millis_line(num + sizeof(num), ms);

  head(w, name, suffix, labels, n);
  put(w, p, (size_t)(num + sizeof(num) - p));
}

int kefo__prom_text_label_text(kefo_buf *out, const kefo_prom_label *labels,
                               size_t n) {
  kefo_prom_text w;
  size_t i;

  kefo__prom_text_init(&w, out);
  for (i = 0; i < n; ++i) {
    if (i) {
      puts_(&w, ",");
    }
    puts_(&w, labels[i].name);
    puts_(&w, "=\"");
    escaped(&w, labels[i].value ? labels[i].value : "", 1);
    puts_(&w, "\"");
  }
  return w.error;
}

/* name{labels more} value: one reservation and straight copies, as this
   runs for every per-shard sample of a scrape. */
static void sample_pre(kefo_prom_text *w, const char *name, const char *labels,
                       size_t len, const char *more, const char *num,
                       size_t num_len) {
  size_t name_len = strlen(name), more_len = more ? strlen(more) : 0;
  uint8_t *p;

  if (w->error ||
      kefo__buf_reserve(w->out, name_len + len + more_len + num_len + 3) != 0) {
    w->error = KEFO_ERR_NOMEM;
    return;
  }
  p = w->out->data + w->out->len;
  memcpy(p, name, name_len);
  p += name_len;
  *p++ = '{';
  memcpy(p, labels, len);
  p += len;
  if (more_len) {
    memcpy(p, more, more_len);
    p += more_len;
  }
  *p++ = '}';
  *p++ = ' ';
  memcpy(p, num, num_len);
  w->out->len += name_len + len + more_len + num_len + 3;
}

void kefo__prom_text_u64_pre(kefo_prom_text *w, const char *name,
                             const char *labels, size_t len, const char *more,
                             uint64_t value) {
  char num[32], *p = u64_line(num + sizeof(num), value);

  sample_pre(w, name, labels, len, more, p, (size_t)(num + sizeof(num) - p));
}

void kefo__prom_text_millis_pre(kefo_prom_text *w, const char *name,
                                const char *labels, size_t len,
                                const char *more, int64_t ms) {
  char num[40], *p = millis_line(num + sizeof(num), ms);

  sample_pre(w, name, labels, len, more, p, (size_t)(num + sizeof(num) - p));
}

void kefo__prom_text_i64(kefo_prom_text *w, const char *name,
                         const char *suffix, const kefo_prom_label *labels,
                         size_t n, int64_t value) {
  char num[32];

  head(w, name, suffix, labels, n);
  snprintf(num, sizeof(num), "%" PRId64 "\n", value);
  puts_(w, num);
}

void kefo__prom_text_format_double(char *out, size_t cap, double value) {
  char *comma;

  if (isnan(value)) {
    snprintf(out, cap, "NaN");
    return;
  }
  if (isinf(value)) {
    snprintf(out, cap, "%s", value > 0 ? "+Inf" : "-Inf");
    return;
  }
  /* %.15g keeps 0.1 as "0.1"; %.17g only when 15 digits lose bits.
     strtod reads the string in the locale that wrote it, so the
     check holds before the decimal comma of an application's
     setlocale(LC_NUMERIC) is turned into the point the format needs. */
  snprintf(out, cap, "%.15g", value);
  if (strtod(out, NULL) != value) {
    snprintf(out, cap, "%.17g", value);
  }
  if ((comma = strchr(out, ',')) != NULL) {
    *comma = '.';
  }
}

void kefo__prom_text_f64(kefo_prom_text *w, const char *name,
                         const char *suffix, const kefo_prom_label *labels,
                         size_t n, double value) {
  char num[40];

  head(w, name, suffix, labels, n);
  kefo__prom_text_format_double(num, sizeof(num) - 1, value);
  puts_(w, num);
  puts_(w, "\n");
}

void kefo__prom_text_histogram(kefo_prom_text *w, const char *name,
                               const kefo_prom_label *labels, size_t n,
                               const double *bounds, const uint64_t *counts,
                               size_t nb, double sum) {
  kefo_prom_label l[8];
  char le[40];
  uint64_t total = 0;
  size_t i;

  if (n >= sizeof(l) / sizeof(l[0])) {
    w->error = w->error ? w->error : KEFO_ERR_INVALID_ARGUMENT;
    return;
  }
  memcpy(l, labels, n * sizeof(l[0]));
  l[n].name = "le";
  l[n].value = le;
  for (i = 0; i <= nb; ++i) {
    total += counts[i];
    if (i < nb) {
      kefo__prom_text_format_double(le, sizeof(le), bounds[i]);
    } else {
      snprintf(le, sizeof(le), "+Inf");
    }
    kefo__prom_text_u64(w, name, "_bucket", l, n + 1, total);
  }
  kefo__prom_text_f64(w, name, "_sum", labels, n, sum);
  kefo__prom_text_u64(w, name, "_count", labels, n, total);
}
