/*
 * Faults the mock injects on command (KefoMock.Fault): what production
 * networks and AWS do now and then, and the emulators never. One fault is
 * armed at a time, for a number of strikes; each request or event it
 * matches uses one. I/O-free: the server and the subscriptions ask whether
 * a fault strikes and then act it out.
 */
#ifndef KEFO_MOCK_FAULT_H
#define KEFO_MOCK_FAULT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

typedef enum mock_fault_kind {
  MOCK_FAULT_NONE = 0,
  /* The connection or the stream. */
  MOCK_FAULT_DROP,       /* the TCP connection closes in mid-frame */
  MOCK_FAULT_RST_STREAM, /* RST_STREAM (INTERNAL_ERROR) */
  MOCK_FAULT_GOAWAY,     /* GOAWAY, then the connection closes */
  MOCK_FAULT_STALL,      /* no bytes for Ms, the connection kept */
  MOCK_FAULT_SLOW,       /* the connection's output trickles for Ms */
  /* The bytes. */
  MOCK_FAULT_TRUNCATE,       /* half the body or event, then END_STREAM */
  MOCK_FAULT_MALFORMED_JSON, /* a 200 answer or event that is not JSON */
  MOCK_FAULT_OVERSIZED,      /* a length far above any limit */
  MOCK_FAULT_BAD_MESSAGE_CRC,
  MOCK_FAULT_BAD_PRELUDE_CRC,
  MOCK_FAULT_UNKNOWN_EVENT, /* an event type no client knows yet */
  MOCK_FAULT_EXPIRE,        /* the subscription ends now, as at 5 min */
  /* Exceptions: an exception event on a subscription, an error answer
     to any other call. */
  MOCK_FAULT_IN_USE,
  MOCK_FAULT_LIMIT_EXCEEDED,
  MOCK_FAULT_INTERNAL_FAILURE,
  MOCK_FAULT_KMS_THROTTLING,
  /* Error answers only. */
  MOCK_FAULT_THROTTLE, /* ProvisionedThroughputExceeded / LimitExceeded */
  MOCK_FAULT_UNAVAILABLE,
  MOCK_FAULT_BAD_SIGNATURE,
  MOCK_FAULT_EXPIRED_TOKEN,
  MOCK_FAULT_EXPIRED_ITERATOR, /* GetRecords only */
  /* AccessDeniedException (400): a refusal no retry mends, so the
     shard it strikes fails (issue 27's /healthz). */
  MOCK_FAULT_ACCESS_DENIED,
  MOCK_FAULT_KINDS
} mock_fault_kind;

/* Where a kind strikes. */
#define MOCK_FAULT_AT_ANSWER                                                   \
  1u                           /* an API answer (SubscribeToShard's HTTP one   \
                                  included) */
#define MOCK_FAULT_AT_EVENT 2u /* the next SubscribeToShardEvent */

typedef struct mock_fault {
  mock_fault_kind kind;
  /* The operation struck; "" for the data path (GetRecords and
     SubscribeToShard). */
  char op[64];
  /* The shard struck; "" for any. */
  char shard[32];
  char then_op[64];
  int64_t left; /* strikes to go */
  int64_t ms;   /* STALL and SLOW: how long */
  /* Armed once this one has struck its last: lets a test strike the
     answer to a SubscribeToShard that another fault brought about. */
  mock_fault_kind then;
  int64_t then_count;
  uint64_t fired;   /* strikes since the server started, of every fault */
  int64_t fired_ms; /* epoch ms of the last strike, 0 before any */
} mock_fault;

/* The kind's name in KefoMock.Fault ("drop", "rst-stream", ...), or NULL
   past the last. */
const char *mock_fault_name(mock_fault_kind kind);
unsigned mock_fault_where(mock_fault_kind kind);

/*
 * Arms |f| from a KefoMock.Fault request: {"Kind": name, "Count": n
 * (default 1), "Operation": op, "Shard": id, "Ms": ms (default 10000),
 * "Then": kind, "ThenCount": n (default 1), "ThenOperation": op}.
 * Returns 0, or -1 with |err| saying what was wrong (|f| unchanged).
 */
int mock_fault_arm(mock_fault *f, const cJSON *req, char *err, size_t errlen);

/* Whether the armed fault wants to know the shard of a request. */
int mock_fault_needs_shard(const mock_fault *f);

/*
 * Whether the armed fault strikes a call to |op| on |shard| (NULL when
 * unknown: matches only a fault for any shard) at |where|. When it does,
 * the strike is counted at |now_ms| and its kind returned; else NONE.
 */
mock_fault_kind mock_fault_take(mock_fault *f, const char *op,
                                const char *shard, unsigned where,
                                int64_t now_ms);

/* The exception an exception or error-answer kind stands for, on |op|,
   and its HTTP status. Returns 0, or -1 for other kinds. */
int mock_fault_exception(mock_fault_kind kind, const char *op,
                         const char **type, int *status);

/* {"Kind", "Operation", "Shard", "Left", "Fired", "FiredMs"}. */
cJSON *mock_fault_json(const mock_fault *f);

#endif /* KEFO_MOCK_FAULT_H */
