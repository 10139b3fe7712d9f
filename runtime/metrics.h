/*
 * The producer's side of runtime/metrics.c, apart from the consumer's
 * internal header so that producer.c need not include it.
 */
#ifndef KEFO_METRICS_H
#define KEFO_METRICS_H

#include <kefo/kefo.h>

#include "base/buf.h"

/* Replaces the contents of |out| with the producer's metrics for the
   |n| streams |streams| (an entry may be NULL) and their figures |st|:
   each family once, a sample per stream. Returns 0 or KEFO_ERR_NOMEM. */
int kefo__metrics_render_producer(kefo_buf *out, const char *const *streams,
                                  const kefo_put_stats *st, size_t n);

#endif /* KEFO_METRICS_H */
