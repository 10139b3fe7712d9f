/*
 * The log hook's events per cell of the fault matrix (see
 * fault_matrix_log.h), as the readers word them: a retry names its
 * cause (the AWS type, or the transport failure, with the operation) and
 * its delay.
 */
#include "tests/integration/fault_matrix_log.h"

#include <string.h>

#define EFO 1u
#define POLL 2u

typedef struct row {
  const char *cell;
  unsigned readers;
  const char *event;
  int on_target; /* the struck shard; else no shard ("-") */
  const char *cause;
  const char *more; /* a further needle, or NULL */
} row;

static const row rows[] = {
    {"TCP connection dropped mid-frame", EFO | POLL, "retry", 1,
     "connection lost on ", NULL},
    {"RST_STREAM", EFO | POLL, "retry", 1, "HTTP/2 stream reset", NULL},
    {"GOAWAY, then the connection closes", EFO, "retry", 1,
     " on SubscribeToShard", NULL},
    {"GOAWAY, then the connection closes", POLL, "retry", 1, " on GetRecords",
     NULL},
    {"stall 6 s, connection kept", EFO, "subscription.inactive", 1,
     "no event for 2000 ms", NULL},
    {"stall 6 s, connection kept", POLL, "retry", 1, "Timed out on GetRecords",
     NULL},
    {"truncated frame or body", EFO, "retry", 1,
     "Event-stream input ended inside a message", NULL},
    {"truncated frame or body", POLL, "retry", 1, " on GetRecords", NULL},
    {"malformed JSON (event or answer)", EFO, "retry", 1,
     "Malformed response on SubscribeToShard", NULL},
    {"malformed JSON (event or answer)", POLL, "retry", 1, "Malformed response",
     "GetRecords answer refused"},
    {"oversized length", EFO, "retry", 1, "larger than the limit", NULL},
    {"oversized length", POLL, "retry", 1,
     "Response larger than allowed on GetRecords", NULL},
    {"bad message CRC", EFO, "retry", 1, "message CRC mismatch", NULL},
    {"bad prelude CRC", EFO, "retry", 1, "prelude CRC mismatch", NULL},
    {"subscription expires early", EFO, "subscription.renewed", 1,
     "SubscribeToShard from AFTER_SEQUENCE_NUMBER ", NULL},
    {"ResourceInUseException event", EFO, "retry", 1,
     "ResourceInUseException on SubscribeToShard", NULL},
    {"LimitExceededException", EFO | POLL, "retry", 1,
     "LimitExceededException on ", NULL},
    {"InternalFailure", EFO | POLL, "retry", 1, "InternalFailure on ", NULL},
    {"KMSThrottlingException", EFO | POLL, "retry", 1,
     "KMSThrottlingException on ", NULL},
    {"throttled x3 (LimitExceeded / ProvisionedThroughputExceeded)", EFO,
     "retry", 1, "LimitExceededException on SubscribeToShard (HTTP 400)",
     "(attempt 3)"},
    {"throttled x3 (LimitExceeded / ProvisionedThroughputExceeded)", POLL,
     "retry", 1, "ProvisionedThroughputExceededException on GetRecords",
     "(attempt 3)"},
    {"HTTP 503 ServiceUnavailable", EFO | POLL, "retry", 1,
     "ServiceUnavailable on ", "(HTTP 503)"},
    {"signature rejected (403)", EFO | POLL, "retry", 1,
     "InvalidSignatureException on ", "(HTTP 403)"},
    {"ExpiredTokenException", EFO | POLL, "retry", 1,
     "ExpiredTokenException on ", NULL},
    {"ExpiredIteratorException", POLL, "iterator.renewed", 1,
     "GetShardIterator from AFTER_SEQUENCE_NUMBER ", NULL},
    {"GetShardIterator fails after an expired iterator", POLL, "retry", 1,
     "InternalFailure on GetShardIterator", NULL},
    {"ListShards throttled x3", EFO | POLL, "retry", 0,
     "LimitExceededException on ListShards", "retrying in"},
    {"ListShards answers malformed JSON", EFO | POLL, "retry", 0,
     "Malformed response on ListShards", "retrying in"},
};

int fault_log_expected(const char *cell, int efo, const char *target,
                       fault_log_expect *out) {
  unsigned me = efo ? EFO : POLL;
  size_t i;

  memset(out, 0, sizeof(*out));
  /* Resharding: the parents' ends, with their children. */
  if (strcmp(cell, "shard split while reading") == 0) {
    out->event = "shard.finished";
    out->shard = "shardId-000000000000";
    out->needles[0] = "2 child shard(s): shardId-000000000004, "
                      "shardId-000000000005";
    out->nneedles = 1;
    return 1;
  }
  if (strcmp(cell, "shards merged while reading") == 0) {
    out->event = "shard.finished";
    out->shard = "shardId-000000000001";
    out->needles[0] = "1 child shard(s): shardId-000000000006";
    out->nneedles = 1;
    return 1;
  }
  for (i = 0; i < sizeof(rows) / sizeof(rows[0]); ++i) {
    const row *r = &rows[i];
    if (strcmp(r->cell, cell) != 0 || !(r->readers & me)) {
      continue;
    }
    out->event = r->event;
    out->shard = r->on_target ? target : "-";
    out->needles[out->nneedles++] = r->cause;
    if (r->more) {
      out->needles[out->nneedles++] = r->more;
    }
    /* A reader's retry says when it tries again. */
    if (r->on_target && strcmp(r->event, "retry") == 0) {
      out->needles[out->nneedles++] =
          efo ? "; resubscribing in " : "; next call in ";
    }
    return 1;
  }
  return 0;
}
