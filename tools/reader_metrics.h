/*
 * kefo-reader --metrics-listen: /metrics (the library's Prometheus text)
 * and /healthz served over HTTP/1.1 by libevent's evhttp on the
 * reader's own loop, listening on the one address given.
 */
#ifndef KEFO_TOOLS_READER_METRICS_H
#define KEFO_TOOLS_READER_METRICS_H

#include <stddef.h>

#include <event2/event.h>
#include <kefo/kefo.h>

typedef struct reader_metrics reader_metrics;

/*
 * Listens on |addr_port| ("127.0.0.1:9464", "[::1]:9464"; port 0 picks
 * a free one) for |c|'s metrics. On failure writes why into |err| (room
 * for |errlen|) and returns -1 (|addr_port| is no numeric address and
 * port) or -2 (it cannot be listened on: in use, not this host's); else
 * 0, with the address listened on in |*out|'s reader_metrics_address.
 */
int reader_metrics_start(reader_metrics **out, struct event_base *base,
                         kefo_consumer *c, const char *addr_port, char *err,
                         size_t errlen);

/* "127.0.0.1:9464": the address and the port actually listened on. */
const char *reader_metrics_address(const reader_metrics *m);

/* Stops listening and frees |m|. NULL is allowed. */
void reader_metrics_free(reader_metrics *m);

#endif /* KEFO_TOOLS_READER_METRICS_H */
