/*
 * The consumer end to end against kinesis-local (started by
 * tests/integration/consumer_test.sh): a JOB_MANAGED EFO consumer reads a
 * 3-shard stream from TRIM_HORIZON through the public API; every record arrives
 * once and in order per shard, including records written while it runs
 * and the user records of a KPL aggregate; a graceful stop deregisters
 * the consumer. The same read runs again with the polling reader, which
 * registers no consumer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <event2/event.h>
#include <openssl/evp.h>

#include <kefo/kefo.h>

#include "aws/aws_client.h"
#include "base/base64.h"
#include "efo/subscription.h"
#include "tests/support/aws_test_util.h"

#define NSHARDS 3
#define NREC 60
#define NLATE 15

static struct event_base *base;
/* The reader type under test, set by the suite: "EFO" or "POLLING". */
static const char *reader = "EFO";
/* The stream put_records and put_aggregate write to. */
static char current_stream[64];
static kefo_http_client *http;
static kefo_aws_client *aws;
static kefo_aws_service kinesis;

typedef struct seen {
  int records;
  int kpl_records;
  int out_of_order;
  int duplicates;
  int started;
  char last[NSHARDS + 8][2][160]; /* shard id, last sequence */
  char **keys;
  size_t nkeys;
  int errors;
  int bad_data;
  /* The aggregate's shard and sequence number (from its second user
     record), and the first record seen on |watch| (a shard id, or ""). */
  char kpl_shard[64];
  char kpl_seq[160];
  char watch[64];
  char first_seq[160];
  uint64_t first_sub;
} seen;

static int has_key(seen *s, const char *k) {
  size_t i;
  for (i = 0; i < s->nkeys; ++i) {
    if (strcmp(s->keys[i], k) == 0) {
      return 1;
    }
  }
  return 0;
}

static int on_records(kefo_consumer *c, const char *shard, const kefo_record *r,
                      size_t n, int64_t behind, void *ud) {
  seen *s = ud;
  size_t i, k;
  (void)c;
  (void)behind;
  for (i = 0; i < n; ++i) {
    char key[256];
    int slot = -1;
    snprintf(key, sizeof(key), "%s/%llu", r[i].sequence_number,
             (unsigned long long)r[i].sub_sequence_number);
    if (has_key(s, key)) {
      ++s->duplicates;
    } else {
      s->keys = realloc(s->keys, (s->nkeys + 1) * sizeof(char *));
      s->keys[s->nkeys++] = strdup(key);
    }
    for (k = 0; k < NSHARDS + 8; ++k) {
      if (strcmp(s->last[k][0], shard) == 0 || s->last[k][0][0] == 0) {
        slot = (int)k;
        break;
      }
    }
    if (slot >= 0) {
      if (s->last[slot][0][0] && s->last[slot][1][0] &&
          r[i].sub_sequence_number == 0 &&
          kefo__seq_cmp(s->last[slot][1], r[i].sequence_number) >= 0) {
        ++s->out_of_order;
      }
      snprintf(s->last[slot][0], sizeof(s->last[slot][0]), "%s", shard);
      snprintf(s->last[slot][1], sizeof(s->last[slot][1]), "%s",
               r[i].sequence_number);
    }
    if (s->watch[0] && !s->first_seq[0] && strcmp(shard, s->watch) == 0) {
      snprintf(s->first_seq, sizeof(s->first_seq), "%s", r[i].sequence_number);
      s->first_sub = r[i].sub_sequence_number;
    }
    if (strncmp(r[i].partition_key, "kpl-", 4) == 0) {
      /* User record k of the aggregate holds "x<k>" under key kpl-a/b/c. */
      ++s->kpl_records;
      if (r[i].sub_sequence_number == 1) {
        snprintf(s->kpl_shard, sizeof(s->kpl_shard), "%s", shard);
        snprintf(s->kpl_seq, sizeof(s->kpl_seq), "%s", r[i].sequence_number);
      }
      s->bad_data +=
          r[i].data_len != 2 || r[i].data[0] != 'x' ||
          r[i].data[1] != '0' + (int)r[i].sub_sequence_number ||
          r[i].partition_key[4] != 'a' + (int)r[i].sub_sequence_number;
    } else {
      s->bad_data += r[i].data_len != 6 || memcmp(r[i].data, "record", 6) ||
                     strncmp(r[i].partition_key, "key-", 4) != 0;
    }
    ++s->records;
  }
  return 0;
}

static void on_shard_event(kefo_consumer *c, const char *shard,
                           kefo_shard_event ev, void *ud) {
  (void)c;
  (void)shard;
  if (ev == KEFO_SHARD_EVENT_STARTED) {
    ++((seen *)ud)->started;
  }
}

static void on_error(kefo_consumer *c, const kefo_error_info *e, void *ud) {
  (void)c;
  ++((seen *)ud)->errors;
  printf("consumer error: %s (%s)\n", e->message, kefo_strerror(e->code));
}

typedef struct answer {
  int done;
  int error;
  char aws_type[128];
} answer;

static void on_answer(int error, const cJSON *resp, const kefo_error_info *info,
                      void *ud) {
  answer *a = ud;
  (void)resp;
  a->done = 1;
  a->error = error;
  if (info && info->aws_type) {
    snprintf(a->aws_type, sizeof(a->aws_type), "%s", info->aws_type);
  }
}

static void call(const char *op, cJSON *body, answer *a) {
  memset(a, 0, sizeof(*a));
  kefo__aws_call_start(aws, &kinesis, op, body, NULL, on_answer, a, NULL);
  cJSON_Delete(body);
  kefo_test_run_until(base, &a->done, 10000);
}

static void put_records(int first, int n) {
  cJSON *b = cJSON_CreateObject(), *recs;
  answer a;
  int i;

  cJSON_AddStringToObject(b, "StreamName", current_stream);
  recs = cJSON_AddArrayToObject(b, "Records");
  for (i = first; i < first + n; ++i) {
    char pk[32];
    cJSON *e = cJSON_CreateObject();
    snprintf(pk, sizeof(pk), "key-%d", i);
    cJSON_AddStringToObject(e, "PartitionKey", pk);
    cJSON_AddStringToObject(e, "Data", "cmVjb3Jk");
    cJSON_AddItemToArray(recs, e);
  }
  call("PutRecords", b, &a);
  CU_ASSERT_EQUAL(a.error, 0);
}

/* A KPL aggregate of three user records (protobuf written by hand). */
static void put_aggregate(void) {
  uint8_t pb[128], blob[160], md5[16];
  char text[256];
  size_t n = 0, k, len;
  unsigned int mdlen;
  cJSON *b;
  answer a;
  static const char *const keys[] = {"kpl-a", "kpl-b", "kpl-c"};

  for (k = 0; k < 3; ++k) { /* partition_key_table */
    pb[n++] = 0x0a;
    pb[n++] = 5;
    memcpy(pb + n, keys[k], 5);
    n += 5;
  }
  for (k = 0; k < 3; ++k) { /* records {pk index, data "xy"} */
    pb[n++] = 0x1a;
    pb[n++] = 6;
    pb[n++] = 0x08;
    pb[n++] = (uint8_t)k;
    pb[n++] = 0x1a;
    pb[n++] = 2;
    pb[n++] = 'x';
    pb[n++] = (uint8_t)('0' + k);
  }
  memcpy(blob, "\xf3\x89\x9a\xc2", 4);
  memcpy(blob + 4, pb, n);
  EVP_Digest(pb, n, md5, &mdlen, EVP_md5(), NULL);
  memcpy(blob + 4 + n, md5, 16);
  kefo__base64_encode((uint8_t *)text, sizeof(text), blob, n + 20, &len);
  text[len] = 0;
  b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "StreamName", current_stream);
  cJSON_AddStringToObject(b, "PartitionKey", "kpl-outer");
  cJSON_AddStringToObject(b, "Data", text);
  call("PutRecord", b, &a);
  CU_ASSERT_EQUAL(a.error, 0);
}

static void test_read_stream(void) {
  kefo_config *cfg;
  kefo_consumer *c;
  kefo_callbacks cb = {on_records, on_shard_event, on_error};
  seen s;
  char url[128], err[256];
  cJSON *b;
  answer a;
  int i, want;
  const char *stream = current_stream;
  char path[512];
  seen s2;

  /* A stream per reader type. */
  snprintf(current_stream, sizeof(current_stream), "kefo-consumer-%s", reader);
  memset(&s, 0, sizeof(s));
  b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "StreamName", stream);
  cJSON_AddNumberToObject(b, "ShardCount", NSHARDS);
  call("CreateStream", b, &a);
  CU_ASSERT_EQUAL_FATAL(a.error, 0);
  kefo_test_run_until(base, &s.errors, 300);
  put_records(0, NREC);
  put_aggregate();

  snprintf(url, sizeof(url), "http://127.0.0.1:%s", getenv("KINESIS_PORT"));
  CU_ASSERT_EQUAL_FATAL(kefo_config_new(&cfg), 0);
#define SET(k, v)                                                              \
  CU_ASSERT_EQUAL_FATAL(kefo_config_set2(cfg, k, v, err, sizeof(err)), 0)
  CU_ASSERT_EQUAL_FATAL(
      kefo_test_consumer_config(cfg, url, stream, reader, "kefo-consumer-test"),
      0);
  /* Manual checkpoints only, into a file of this run's own. */
  snprintf(path, sizeof(path), "%s/kefo-consumer-test-%ld-%s.leases",
           getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp",
           (long)getpid(), reader);
  SET("source.lease.store", "file");
  SET("source.lease.file", path);
  SET("source.checkpoint.interval", "0ms");
#undef SET
  CU_ASSERT_EQUAL_FATAL(kefo_consumer_new(&c, cfg, &cb, &s, base), 0);
  CU_ASSERT_EQUAL(kefo_consumer_start(c), 0);
  CU_ASSERT_EQUAL(kefo_consumer_start(c), KEFO_ERR_INVALID_STATE);
  want = NREC + 3;
  for (i = 0; i < 1500 && s.records < want; ++i) {
    kefo_test_run_until(base, &s.errors, 10);
  }
  printf("\nconsumer (%s): %d shard readers, %d of %d records (%d from a KPL "
         "aggregate), %d duplicates, %d out of order\n",
         reader, s.started, s.records, want, s.kpl_records, s.duplicates,
         s.out_of_order);
  CU_ASSERT_EQUAL(s.started, NSHARDS);
  CU_ASSERT_EQUAL(s.records, want);
  CU_ASSERT_EQUAL(s.kpl_records, 3);
  /* Records written while it runs arrive too. */
  put_records(NREC, NLATE);
  want += NLATE;
  for (i = 0; i < 1500 && s.records < want; ++i) {
    kefo_test_run_until(base, &s.errors, 10);
  }
  printf("consumer: written while running: %d of %d records in all\n",
         s.records, want);
  CU_ASSERT_EQUAL(s.records, want);
  CU_ASSERT_EQUAL(s.duplicates, 0);
  CU_ASSERT_EQUAL(s.out_of_order, 0);
  CU_ASSERT_EQUAL(s.errors, 0);
  /* Every record's data and key, plain and de-aggregated, as written. */
  CU_ASSERT_EQUAL(s.bad_data, 0);
  /* A checkpoint inside the aggregate: its second user record. */
  CU_ASSERT_FATAL(s.kpl_seq[0] != '\0');
  CU_ASSERT_EQUAL(kefo_checkpoint(c, s.kpl_shard, s.kpl_seq, 1), 0);
  /* Graceful stop: the job-managed consumer is deregistered (the polling
     reader registers none). */
  CU_ASSERT_EQUAL(kefo_consumer_stop(c, 1), 0);
  for (i = 0; i < 1000 && !kefo_consumer_stopped(c); ++i) {
    kefo_test_run_until(base, &s.errors, 10);
  }
  CU_ASSERT(kefo_consumer_stopped(c));
  kefo_consumer_del(c);
  b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "StreamName", stream);
  cJSON_AddStringToObject(b, "ConsumerName", "kefo-consumer-test");
  {
    char arn[256];
    answer d;
    memset(&d, 0, sizeof(d));
    snprintf(arn, sizeof(arn),
             "arn:aws:kinesis:us-east-1:000000000000:stream/%s", stream);
    cJSON_DeleteItemFromObject(b, "StreamName");
    cJSON_AddStringToObject(b, "StreamARN", arn);
    call("DescribeStreamConsumer", b, &d);
    printf("consumer: after the graceful stop, DescribeStreamConsumer: %s\n",
           d.aws_type);
    CU_ASSERT_STRING_EQUAL(d.aws_type, "ResourceNotFoundException");
  }
  /* A second reader on that file resumes inside the aggregate: the first
     record of its shard is the third user record, nothing before it. */
  memset(&s2, 0, sizeof(s2));
  snprintf(s2.watch, sizeof(s2.watch), "%s", s.kpl_shard);
  CU_ASSERT_EQUAL_FATAL(kefo_consumer_new(&c, cfg, &cb, &s2, base), 0);
  CU_ASSERT_EQUAL(kefo_consumer_start(c), 0);
  for (i = 0; i < 1500 && !s2.first_seq[0]; ++i) {
    kefo_test_run_until(base, &s2.errors, 10);
  }
  for (i = 0; i < 100; ++i) {
    kefo_test_run_until(base, &s2.errors, 10);
  }
  printf("consumer (%s): checkpointed at %s sub 1 of the aggregate; the next "
         "reader began that shard at sub %llu of %s, %d of the aggregate's "
         "records again\n",
         reader, s.kpl_shard, (unsigned long long)s2.first_sub,
         s2.first_seq[0] && strcmp(s2.first_seq, s.kpl_seq) == 0
             ? "the same record"
             : "another record",
         s2.kpl_records);
  CU_ASSERT_STRING_EQUAL(s2.first_seq, s.kpl_seq);
  CU_ASSERT_EQUAL(s2.first_sub, 2);
  CU_ASSERT_EQUAL(s2.kpl_records, 1);
  CU_ASSERT_EQUAL(s2.duplicates, 0);
  CU_ASSERT_EQUAL(s2.bad_data, 0);
  CU_ASSERT_EQUAL(kefo_consumer_stop(c, 1), 0);
  for (i = 0; i < 1000 && !kefo_consumer_stopped(c); ++i) {
    kefo_test_run_until(base, &s2.errors, 10);
  }
  CU_ASSERT(kefo_consumer_stopped(c));
  kefo_consumer_del(c);
  kefo_config_del(cfg);
  unlink(path);
  for (i = 0; i < (int)s.nkeys; ++i) {
    free(s.keys[i]);
  }
  free(s.keys);
  for (i = 0; i < (int)s2.nkeys; ++i) {
    free(s2.keys[i]);
  }
  free(s2.keys);
}

/* Against the local server's small stream (tests/support/harness/h2_server.js
   --stream): a closed parent split into two children, subscriptions that
   end after two events, resubscriptions that resend a record. */
typedef struct lineage {
  int records;
  int parent_records;
  int child_before_parent_end;
  int parent_finished;
  int children_started;
  int children_started_early;
  int resubscribed;
  int duplicates;
  int discovered;
  int discovered_after_start; /* DISCOVERED after the shard's STARTED */
  char started[8][32];
  int nstarted;
  char seen[64][32];
  int nseen;
} lineage;

static int lin_records(kefo_consumer *c, const char *shard,
                       const kefo_record *r, size_t n, int64_t behind,
                       void *ud) {
  lineage *l = ud;
  size_t i;
  int k;
  (void)c;
  (void)behind;
  for (i = 0; i < n; ++i) {
    for (k = 0; k < l->nseen; ++k) {
      l->duplicates += strcmp(l->seen[k], r[i].sequence_number) == 0;
    }
    if (l->nseen < 64) {
      snprintf(l->seen[l->nseen++], 32, "%s", r[i].sequence_number);
    }
    ++l->records;
    if (strcmp(shard, "shardId-000000000000") == 0) {
      ++l->parent_records;
    } else if (!l->parent_finished) {
      ++l->child_before_parent_end;
    }
  }
  return 0;
}

static void lin_event(kefo_consumer *c, const char *shard, kefo_shard_event ev,
                      void *ud) {
  lineage *l = ud;
  int parent = strcmp(shard, "shardId-000000000000") == 0;
  (void)c;
  if (ev == KEFO_SHARD_EVENT_FINISHED && parent) {
    l->parent_finished = 1;
  } else if (ev == KEFO_SHARD_EVENT_STARTED && !parent) {
    ++l->children_started;
    l->children_started_early += !l->parent_finished;
  } else if (ev == KEFO_SHARD_EVENT_RESUBSCRIBED) {
    ++l->resubscribed;
  } else if (ev == KEFO_SHARD_EVENT_DISCOVERED) {
    int k;
    ++l->discovered;
    for (k = 0; k < l->nstarted; ++k) {
      l->discovered_after_start += strcmp(l->started[k], shard) == 0;
    }
  }
  if (ev == KEFO_SHARD_EVENT_STARTED && l->nstarted < 8) {
    snprintf(l->started[l->nstarted++], sizeof(l->started[0]), "%s", shard);
  }
}

static void test_lineage_and_resubscription(void) {
  kefo_config *cfg;
  kefo_consumer *c;
  kefo_callbacks cb = {lin_records, lin_event, on_error};
  lineage l;
  char url[128], err[256];
  int i;

  memset(&l, 0, sizeof(l));
  snprintf(url, sizeof(url), "http://127.0.0.1:%s", getenv("FAKE_STREAM_PORT"));
  kefo_config_new(&cfg);
  kefo_config_set2(cfg, "source.stream.name", "fake", err, sizeof(err));
  kefo_config_set2(cfg, "source.efo.consumer.name", "kefo-fake", err,
                   sizeof(err));
  kefo_config_set2(cfg, "source.lease.store", "memory", err, sizeof(err));
  kefo_config_set2(cfg, "source.init.position", "TRIM_HORIZON", err,
                   sizeof(err));
  kefo_config_set2(cfg, "aws.region", "us-east-1", err, sizeof(err));
  kefo_config_set2(cfg, "aws.endpoint", url, err, sizeof(err));
  kefo_config_set2(cfg, "aws.credentials.provider", "BASIC", err, sizeof(err));
  kefo_config_set2(cfg, "aws.credentials.provider.basic.accesskeyid",
                   "AKIDKEFOTEST", err, sizeof(err));
  kefo_config_set2(cfg, "aws.credentials.provider.basic.secretkey",
                   KEFO_TEST_SECRET, err, sizeof(err));
  CU_ASSERT_EQUAL_FATAL(kefo_consumer_new(&c, cfg, &cb, &l, base), 0);
  kefo_config_del(cfg);
  CU_ASSERT_EQUAL(kefo_consumer_start(c), 0);
  /* 6 parent records, then 4 + 4 from the children; every subscription
     ends after two events, and one call a second per shard is allowed,
     so this takes a few seconds. */
  for (i = 0; i < 2000 && l.records < 14; ++i) {
    kefo_test_run_until(base, &l.duplicates, 10);
  }
  printf("\nconsumer (split stream): %d records (%d from the parent), "
         "parent finished %d, %d children started (%d before the parent "
         "ended), %d resubscriptions, %d duplicates delivered\n",
         l.records, l.parent_records, l.parent_finished, l.children_started,
         l.children_started_early, l.resubscribed, l.duplicates);
  CU_ASSERT_EQUAL(l.records, 14);
  CU_ASSERT_EQUAL(l.parent_records, 6);
  CU_ASSERT_EQUAL(l.parent_finished, 1);
  CU_ASSERT_EQUAL(l.children_started, 2);
  /* The parent and both children, each reported once, before it
     started. */
  CU_ASSERT_EQUAL(l.discovered, 3);
  CU_ASSERT_EQUAL(l.discovered_after_start, 0);
  CU_ASSERT_EQUAL(l.children_started_early, 0);
  CU_ASSERT_EQUAL(l.child_before_parent_end, 0);
  /* The parent needs two subscriptions; the second resends 1004. */
  CU_ASSERT(l.resubscribed >= 1);
  CU_ASSERT_EQUAL(l.duplicates, 0);
  kefo_consumer_stop(c, 1);
  for (i = 0; i < 500 && !kefo_consumer_stopped(c); ++i) {
    kefo_test_run_until(base, &l.duplicates, 10);
  }
  CU_ASSERT(kefo_consumer_stopped(c));
  kefo_consumer_del(c);
}

static int polling_suite(void) {
  reader = "POLLING";
  return 0;
}

static void test_bad_config(void) {
  kefo_config *cfg;
  kefo_consumer *c = NULL;
  kefo_callbacks cb = {on_records, NULL, NULL};

  kefo_config_new(&cfg);
  /* No stream named: refused at creation. */
  CU_ASSERT_EQUAL(kefo_consumer_new(&c, cfg, &cb, NULL, base), KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo_consumer_new(&c, cfg, NULL, NULL, base),
                  KEFO_ERR_INVALID_ARGUMENT);
  kefo_config_del(cfg);
}

int main(void) {
  CU_pSuite s;
  unsigned failures;
  char url[128];

  base = event_base_new();
  if (kefo__http_client_new(&http, base, NULL) != 0 ||
      kefo__aws_client_new(&aws, base, http, kefo_test_credentials(), NULL,
                           NULL) != 0) {
    return 1;
  }
  snprintf(url, sizeof(url), "http://127.0.0.1:%s", getenv("KINESIS_PORT"));
  kefo__aws_service_kinesis(&kinesis, url, "us-east-1");
  CU_initialize_registry();
  s = CU_add_suite("consumer", NULL, NULL);
  CU_add_test(s, "bad config", test_bad_config);
  CU_add_test(s, "read a stream over EFO", test_read_stream);
  CU_add_test(s, "lineage and resubscription", test_lineage_and_resubscription);
  s = CU_add_suite("polling consumer", polling_suite, NULL);
  CU_add_test(s, "read a stream by polling", test_read_stream);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  kefo__aws_client_del(aws);
  kefo__http_client_del(http);
  event_base_free(base);
  return failures ? 1 : 0;
}
