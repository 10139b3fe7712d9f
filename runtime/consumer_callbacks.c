/*
 * kefo_consumer_callbacks: the consumer's callbacks as an object with a
 * setter each, so that a callback can be added without changing the size
 * of any struct an application compiled (see "The ABI rule" in kefo.h).
 */
#include "config.h"

#include <stdlib.h>

#include <kefo/kefo.h>

#include "runtime/consumer_internal.h"

int kefo_consumer_callbacks_new(kefo_consumer_callbacks **out) {
  if (out == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  *out = calloc(1, sizeof(**out));
  return *out ? 0 : KEFO_ERR_NOMEM;
}

void kefo_consumer_callbacks_del(kefo_consumer_callbacks *cbs) {
  free(cbs);
}

void kefo_consumer_callbacks_set_on_records(
    kefo_consumer_callbacks *cbs,
    int (*on_records)(kefo_consumer *c, const char *shard_id,
                      const kefo_record *records, size_t n,
                      int64_t millis_behind_latest, void *user_data)) {
  if (cbs) {
    cbs->cb.on_records = on_records;
  }
}

void kefo_consumer_callbacks_set_on_shard_event(
    kefo_consumer_callbacks *cbs,
    void (*on_shard_event)(kefo_consumer *c, const char *shard_id,
                           kefo_shard_event ev, void *user_data)) {
  if (cbs) {
    cbs->cb.on_shard_event = on_shard_event;
  }
}

void kefo_consumer_callbacks_set_on_error(
    kefo_consumer_callbacks *cbs,
    void (*on_error)(kefo_consumer *c, const kefo_error_info *err,
                     void *user_data)) {
  if (cbs) {
    cbs->cb.on_error = on_error;
  }
}

void kefo_consumer_callbacks_set_event_time(kefo_consumer_callbacks *cbs,
                                            kefo_event_time_cb event_time) {
  if (cbs) {
    cbs->event_time = event_time;
  }
}

void kefo_consumer_callbacks_set_on_stopped(kefo_consumer_callbacks *cbs,
                                            kefo_on_stopped_cb on_stopped) {
  if (cbs) {
    cbs->on_stopped = on_stopped;
  }
}

void kefo_consumer_callbacks_set_log(kefo_consumer_callbacks *cbs,
                                     kefo_log_cb cb, kefo_log_level level) {
  if (cbs) {
    cbs->log.fn = cb;
    cbs->log.level = (int)level;
  }
}
