/*
 * The producer's glue (kefo_producer, runtime/producer.c) and its other
 * streams (kefo_producer_put_to, runtime/producer_streams.c): the object
 * they share and what each calls of the other. Private to those two
 * files.
 */
#ifndef KEFO_PRODUCER_GLUE_H
#define KEFO_PRODUCER_GLUE_H

#include <event2/event.h>
#include <kefo/kefo.h>

#include "aws/kinesis.h"
#include "aws/records_reader.h"
#include "base/buf.h"
#include "runtime/aws_setup.h"
#include "runtime/producer_callbacks.h"
#include "runtime/producer_core.h"

/* One PutRecords call in flight, the batch it carries and its body,
   lent to the call until the body is in the socket (or the call ends).
   The room of bodies is kept for the next calls (PBODY_SPARES of them,
   at most sink.buffer.max-bytes and PBODY_SPARE_BYTES in all; two once
   the producer is idle): a body is up to 5 MiB, and a fresh one each
   call was mapped, faulted in page by page and unmapped again. Given
   back as soon as it is sent, a body is held while it waits for the
   socket, not for the answer. */
#define PBODY_SPARES 64
/* The room they may keep in all, whatever the buffer: as many bodies as
   wait for the socket at once. Plain 1 KiB records had 20 to 24 calls'
   bodies waiting (about 480 KB written each, in 1 MiB of room:
   kefo__buf_reserve rounds up to a power of two); with room for sixteen,
   the others were freed and the next calls faulted their pages in again
   (10 us a page on the benchmark VM; bench/RESULTS.md). The buffer bounds
   it too: the bodies carry no more records than it holds. */
#define PBODY_SPARE_BYTES (64u << 20)

typedef struct pcall {
  struct pcall *prev, *next;
  kefo_producer *p;
  kefo_producer_batch *batch;
  kefo_aws_call *call;
  kefo_buf body;
} pcall;

typedef struct pwaiter {
  int64_t token;
  kefo_producer_flush_cb cb;
  void *data;
} pwaiter;

typedef enum { P_RUNNING, P_STOPPING, P_STOPPED } pstate;

/* A stream other than the producer's own (kefo_producer_put_to), written
   by a producer of its own, a kid, started at its first record and
   started again after it stopped alone (a stream that could not be
   listed). */
typedef struct pstream {
  char *stream;  /* as put_to named it: a name or an ARN */
  uint32_t hash; /* of |stream| */
  kefo_producer *kid;
  /* The counters of the kids of this stream that stopped and were freed,
     so that the stream's counters never go back. */
  kefo_put_stats gone;
} pstream;

/* A flush over the producer and its kids: done once every part is. */
typedef struct pflush {
  struct pflush *prev, *next;
  kefo_producer *p;
  kefo_producer_flush_cb cb;
  void *data;
  size_t parts;
} pflush;

struct kefo_producer {
  const kefo_mem *mem;
  /* The application's allocator, copied: its config may go. */
  kefo_mem mem_copy;
  kefo_config *cfg;
  struct event_base *base;
  int own_base;
  kefo_aws_setup aws;
  /* aws.svc for PutRecords: its content type is CBOR's with
     sink.protocol cbor (ListShards stays JSON). */
  kefo_aws_service put_svc;
  kefo_retry_strategy list_retry;
  kefo_retry_strategy put_retry;
  kefo_producer_core *core;
  kefo_producer_callbacks cb;
  void *user_data;
  const char *stream_name, *stream_arn;
  /* The core's wake-up, the pass run soon after a change, the stop's
     deadline, the on_stopped report, and own-loop keep-alive. */
  struct event *timer, *soon, *stop_timer, *stopped_ev, *keepalive;
  /* |soon| is active and its pass has not run yet. */
  int soon_armed;
  kefo_kinesis_list *listing;
  int have_map;
  /* When ListShards is asked again after it met out of memory (0: not
     due): memory may come back, and a producer without a map can write
     nothing. */
  int64_t relist_at;
  pcall *calls;
  pcall *spares; /* finished calls kept (PCALL_SPARES), without body */
  size_t nspares;
  /* Bodies' room kept for the next calls (PBODY_SPARES). */
  kefo_buf bodies[PBODY_SPARES];
  size_t nbodies;
  size_t bodies_room;          /* their capacity, in all */
  size_t bodies_max;           /* the most bodies_room may reach */
  kefo_records_parser answers; /* read without a tree */
  pwaiter *waiters;
  size_t nwaiters, waiters_cap;
  pstate state;
  /* The error that stops the producer (fail-on-error, a stream that
     cannot be listed), kept for on_stopped. */
  int fatal;
  kefo_error_info fatal_info;
  char fatal_msg[512];
  char fatal_type[128];
  /* The text of the last kefo_producer_metrics, its storage reused. */
  kefo_buf metrics_text;
  /* Set in a kid: the producer that started it, whose callbacks and user
     data its reports go to. */
  kefo_producer *parent;
  /* aws was set up by this producer, and is freed with it: every
     producer the application made. A kid's is lent by its parent. */
  int own_aws;
  /* In a kid, set by kid_start before kefo__producer_init, which copies
     it into |aws| and clears it: the parent's setup for the kid's region
     when that is not the parent's own (NULL: the parent's own aws). */
  const kefo_aws_setup *aws_lent;
  /* The setups of other regions than this producer's, one a region,
     lent to every kid of a stream there and freed after them. */
  kefo_aws_setup *far;
  size_t nfar, far_cap;
  /* Other streams and their kids (kefo_producer_put_to), never removed,
     and an open-addressing index of them by name (slots hold an index
     into |streams| plus one; 0 is empty): a routing sink names a stream
     at every record. */
  pstream *streams;
  size_t nstreams, streams_cap;
  uint32_t *stream_slots;
  size_t nstream_slots;
  /* Kids that stopped alone, freed at the next pass (never inside one of
     their own callbacks). */
  kefo_producer *dead;
  kefo_producer *dead_next; /* in a kid: the next in its parent's list */
  pflush *flushes;          /* flushes over several streams not yet done */
  int stop_reported;
};

/* ---- in producer.c --------------------------------------------------------
 */

/* A pass at the next turn of the loop. */
void kefo__producer_soon(kefo_producer *p);

/* Keeps |info| (lent) as the error that stops the producer. */
void kefo__producer_keep_fatal(kefo_producer *p, const kefo_error_info *info);

/* A producer with its callbacks (may be NULL) and user data, its
   allocator |mem| copied; NULL when out of memory. Then
   kefo__producer_init, and kefo__producer_list_shards. */
kefo_producer *kefo__producer_alloc(const kefo_mem *mem,
                                    const kefo_producer_callbacks *cbs,
                                    void *user_data);

/* Sets up |p| from |cfg| (copied) on |base| (NULL: a loop of its own).
   Returns 0, KEFO_ERR_CONFIG, KEFO_ERR_TLS or KEFO_ERR_NOMEM; on error
   free |p| with kefo_producer_del. */
int kefo__producer_init(kefo_producer *p, const kefo_config *cfg,
                        struct event_base *base);

/* Asks ListShards for |p|'s stream's map. */
void kefo__producer_list_shards(kefo_producer *p);

/* Makes room for one more kefo__producer_flush_own on |p|, which then
   cannot fail. Returns 0 or KEFO_ERR_NOMEM. */
int kefo__producer_flush_reserve(kefo_producer *p);

/* A flush of |p|'s own stream only: |cb| once every record put to it
   before is reported. Returns 0 or KEFO_ERR_NOMEM. */
int kefo__producer_flush_own(kefo_producer *p, kefo_producer_flush_cb cb,
                             void *flush_data);

/* ---- in producer_streams.c ---------------------------------------------- */

/* Whether every kid of |p| has stopped (true without kids). */
int kefo__producer_kids_stopped(const kefo_producer *p);

/* kefo_producer_stop on every kid of |p|. */
void kefo__producer_stop_kids(kefo_producer *p, int graceful);

/* Frees the kids that stopped alone (from |p|'s pass, never inside one of
   their callbacks); only while |p| runs. */
void kefo__producer_reap_dead(kefo_producer *p);

/* A flush over |p|'s stream and its kids' (kefo_producer_flush when |p|
   has other streams). Returns 0 or KEFO_ERR_NOMEM. */
int kefo__producer_flush_streams(kefo_producer *p, kefo_producer_flush_cb cb,
                                 void *flush_data);

/* Frees |p|'s kids and what they need (kefo_producer_del). */
void kefo__producer_streams_free(kefo_producer *p);

#endif /* KEFO_PRODUCER_GLUE_H */
