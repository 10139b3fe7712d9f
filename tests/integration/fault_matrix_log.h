/*
 * What the log hook must have told for each cell of the fault matrix
 * (issue 27): the event, the shard it names and what its message holds
 * (the cause, and the delay for a retry).
 */
#ifndef KEFO_TESTS_FAULT_MATRIX_LOG_H
#define KEFO_TESTS_FAULT_MATRIX_LOG_H

#include <stddef.h>

typedef struct fault_log_expect {
  const char *event;
  const char *shard; /* "-": the line names no shard */
  const char *needles[3];
  size_t nneedles;
} fault_log_expect;

/* Fills |out| for the cell named |cell| of the EFO run (|efo| 1) or the
   polling run, struck at |target|; returns 1, or 0 when the cell has no
   event to tell (a fault the reader absorbs without a failed call). */
int fault_log_expected(const char *cell, int efo, const char *target,
                       fault_log_expect *out);

#endif /* KEFO_TESTS_FAULT_MATRIX_LOG_H */
