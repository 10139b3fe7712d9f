/*
 * Sequence numbers (shard/seq.h): the calls that are not inline.
 */
#include "config.h"

#include "shard/seq.h"

int kefo__seq_valid(const char *s) {
  return kefo__seq_len(s) != 0;
}

int kefo__seq_cmp(const char *a, const char *b) {
  return kefo__seq_cmp_len(a, strlen(a), b, strlen(b));
}
