/*
 * What the consumer tells its log hook of shards and failures (the
 * readers, credentials, leases and alignment tell their own): kept apart
 * from consumer.c so that the hook's wording lives in one place.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "runtime/consumer_internal.h"

void kefo__consumer_log_shard_event(kefo_consumer *c, const char *shard,
                                    kefo_shard_event ev) {
  char cause[256];

  switch (ev) {
  case KEFO_SHARD_EVENT_STARTED:
    KEFO_LOG(&c->log, KEFO_LOG_INFO, "shard.started", shard,
             "reading started (its parents are finished)");
    break;
  case KEFO_SHARD_EVENT_DISCOVERED:
    KEFO_LOG(&c->log, KEFO_LOG_DEBUG, "shard.discovered", shard,
             "shard listed for the first time");
    break;
  case KEFO_SHARD_EVENT_RESUBSCRIBED:
    KEFO_LOG(&c->log, KEFO_LOG_DEBUG, "shard.resubscribed", shard,
             "reading goes on after the last delivered record");
    break;
  case KEFO_SHARD_EVENT_FAILED:
    /* The final failure was reported just before (the readers report,
       then give up): its cause is the last error kept. */
    if (KEFO_LOG_ON(&c->log, KEFO_LOG_ERROR)) {
      KEFO_LOG(&c->log, KEFO_LOG_ERROR, "shard.failed", shard,
               "the shard's reader gave up: %s",
               kefo__log_cause(cause, sizeof(cause), c->last_error.code,
                               &c->last_error));
    }
    break;
  case KEFO_SHARD_EVENT_LEASE_LOST:
    KEFO_LOG(&c->log, KEFO_LOG_INFO, "shard.stopped", shard,
             "reading stopped: the lease is no longer this worker's");
    break;
  default:
    /* Finished, paused and resumed are told where their detail is
       (kefo__consumer_log_finished, alignment.c). */
    break;
  }
}

void kefo__consumer_log_finished(kefo_consumer *c, const char *shard,
                                 const cJSON *children) {
  char ids[384];
  size_t n = 0, len = 0;
  const cJSON *ch;

  if (!KEFO_LOG_ON(&c->log, KEFO_LOG_INFO)) {
    return;
  }
  ids[0] = '\0';
  cJSON_ArrayForEach(ch, children) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(ch, "ShardId");
    if (cJSON_IsString(id) && len < sizeof(ids)) {
      len += (size_t)snprintf(ids + len, sizeof(ids) - len, "%s%s",
                              n ? ", " : "", id->valuestring);
    }
    ++n;
  }
  KEFO_LOG(&c->log, KEFO_LOG_INFO, "shard.finished", shard,
           "read to its end; %zu child shard(s)%s%s", n, n ? ": " : "", ids);
}

void kefo__consumer_log_call_retry(kefo_consumer *c,
                                   const kefo_error_info *info) {
  char cause[256];

  if (KEFO_LOG_ON(&c->log, KEFO_LOG_WARN)) {
    KEFO_LOG(&c->log, KEFO_LOG_WARN, "retry", info->shard_id,
             "call failed, tried again after a backoff: %s",
             kefo__log_cause(cause, sizeof(cause), info->code, info));
  }
}
