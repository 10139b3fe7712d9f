/*
 * Sequence numbers (shard/seq.h): the calls that are not inline.
 */
#include "config.h"

#include "shard/seq.h"

int kefo_seq_valid(const char *s) {
  return kefo_seq_len(s) != 0;
}

int kefo_seq_cmp(const char *a, const char *b) {
  return kefo_seq_cmp_len(a, strlen(a), b, strlen(b));
}
