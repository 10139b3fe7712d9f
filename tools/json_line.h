/*
 * json_line: kefo-reader's output line for one record, written with the
 * public API's types only (the tools link libkefo as any application does,
 * and the library's own JSON and base64 code is not exported).
 */
#ifndef KEFO_TOOLS_JSON_LINE_H
#define KEFO_TOOLS_JSON_LINE_H

#include <stddef.h>
#include <stdint.h>

#include <kefo/kefo.h>

/* A growing line buffer, reused from record to record. */
typedef struct json_line {
  char *data;
  size_t len, cap;
} json_line;

/*
 * Makes |out| the JSON line of |r| read on |shard|: shard, sequence
 * number, sub-sequence, arrival (ISO 8601), partition key, and data as a
 * JSON string when it is valid UTF-8, else as "data_base64". Returns 0,
 * or -1 when out of memory.
 */
int json_line_record(json_line *out, const char *shard, const kefo_record *r);

void json_line_free(json_line *out);

/* Non-zero when |s| (|n| bytes) is valid UTF-8 (RFC 3629: no overlongs,
   no surrogates, nothing above U+10FFFF). */
int json_line_utf8_valid(const uint8_t *s, size_t n);

#endif /* KEFO_TOOLS_JSON_LINE_H */
