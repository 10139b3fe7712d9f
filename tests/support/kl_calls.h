/*
 * Raw Kinesis calls on kinesis-local for the test programs that set up
 * streams and write records themselves: one signed JSON call run to its
 * answer on the caller's event loop, stream creation, and writing
 * numbered records while noting where PutRecords put each one.
 */
#ifndef KEFO_TESTS_KL_CALLS_H
#define KEFO_TESTS_KL_CALLS_H

#include <cjson/cJSON.h>
#include <event2/event.h>

#include "efo/subscription.h"

typedef struct kefo_kl_answer {
  int done;
  int error;
  char aws_type[128];
  cJSON *resp; /* the caller frees it */
} kefo_kl_answer;

/* What PutRecords said about one record. */
typedef struct kefo_kl_expected {
  char shard[32];
  char seq[KEFO_SEQ_MAX];
} kefo_kl_expected;

/* Talks to kinesis-local on 127.0.0.1:|port| (h2c) from |base|. Returns 0
   or -1. */
int kefo_kl_open(struct event_base *base, const char *port);

void kefo_kl_close(void);

/* Calls |op| with |body| (consumed) and runs the loop until it answers
   (30 s at most). */
void kefo_kl_call(const char *op, cJSON *body, kefo_kl_answer *a);

/* Creates |name| with |shards| shards and waits for it (CUnit asserts). */
void kefo_kl_create_stream(const char *name, int shards);

/* The ARN of |name| (malloc'ed), or NULL. */
char *kefo_kl_stream_arn(const char *name);

/* Writes records first..first+n-1 (data "rec-<i>", partition key
   "pk-<i>") in calls of 500, noting each one's shard and sequence number
   in |ex| (CUnit asserts). */
void kefo_kl_put_range(const char *stream, int first, int n,
                       kefo_kl_expected *ex);

#endif /* KEFO_TESTS_KL_CALLS_H */
