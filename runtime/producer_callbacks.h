/*
 * The producer's callbacks object (kefo_producer_callbacks in kefo.h),
 * which kefo_producer_new copies: its layout, private to runtime/.
 */
#ifndef KEFO_PRODUCER_CALLBACKS_H
#define KEFO_PRODUCER_CALLBACKS_H

#include <kefo/kefo.h>

#include "base/log.h"

struct kefo_producer_callbacks {
  kefo_producer_on_ack_cb on_ack;
  kefo_producer_on_failure_cb on_failure;
  kefo_producer_on_writable_cb on_writable;
  kefo_producer_on_stopped_cb on_stopped;
  kefo_log log; /* the log hook (base/log.h) */
};

#endif /* KEFO_PRODUCER_CALLBACKS_H */
