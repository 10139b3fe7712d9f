/*
 * The producer's callbacks object: made, filled and freed by the
 * application, copied by kefo_producer_new (as consumer_callbacks.c does
 * for the consumer).
 */
#include "config.h"

#include <stdlib.h>

#include "runtime/producer_callbacks.h"

int kefo_producer_callbacks_new(kefo_producer_callbacks **out) {
  if (out == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  *out = calloc(1, sizeof(**out));
  return *out ? 0 : KEFO_ERR_NOMEM;
}

void kefo_producer_callbacks_del(kefo_producer_callbacks *cbs) {
  free(cbs);
}

void kefo_producer_callbacks_set_on_ack(kefo_producer_callbacks *cbs,
                                        kefo_producer_on_ack_cb cb) {
  if (cbs) {
    cbs->on_ack = cb;
  }
}

void kefo_producer_callbacks_set_on_failure(kefo_producer_callbacks *cbs,
                                            kefo_producer_on_failure_cb cb) {
  if (cbs) {
    cbs->on_failure = cb;
  }
}

void kefo_producer_callbacks_set_on_writable(kefo_producer_callbacks *cbs,
                                             kefo_producer_on_writable_cb cb) {
  if (cbs) {
    cbs->on_writable = cb;
  }
}

void kefo_producer_callbacks_set_on_stopped(kefo_producer_callbacks *cbs,
                                            kefo_producer_on_stopped_cb cb) {
  if (cbs) {
    cbs->on_stopped = cb;
  }
}

void kefo_producer_callbacks_set_log(kefo_producer_callbacks *cbs,
                                     kefo_log_cb cb, kefo_log_level level) {
  if (cbs) {
    cbs->log.fn = cb;
    cbs->log.level = (int)level;
  }
}
