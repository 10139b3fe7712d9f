/*
 * Starting positions (shard/position.h).
 */
#include "config.h"

#include "shard/position.h"

#include <string.h>

#include "shard/seq.h"

static const char *const position_types[] = {
    "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP", "AT_SEQUENCE_NUMBER",
    "AFTER_SEQUENCE_NUMBER"};

int kefo__position_valid(const char *type, const char *value) {
  size_t i;
  int known = 0, needs_value;

  if (type == NULL) {
    return 0;
  }
  for (i = 0; i < sizeof(position_types) / sizeof(position_types[0]); ++i) {
    known |= strcmp(type, position_types[i]) == 0;
  }
  needs_value = kefo__position_needs_value(type);
  return known && (!needs_value || value != NULL) &&
         (value == NULL || strlen(value) < KEFO_SEQ_MAX) &&
         (!needs_value || !strstr(type, "SEQUENCE") || kefo__seq_valid(value));
}

int kefo__position_needs_value(const char *type) {
  return strcmp(type, "TRIM_HORIZON") != 0 && strcmp(type, "LATEST") != 0;
}
