/*
 * Writing JSON text into a kefo_buf: string escaping and UTF-8 checks, for
 * the tools' JSON-lines output (records, decoded event-stream messages).
 */
#ifndef KEFO_JSON_WRITER_H
#define KEFO_JSON_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Returns 1 when |len| bytes at |s| are well-formed UTF-8 (no overlongs,
   no surrogates, nothing above U+10FFFF), else 0. */
int kefo__utf8_valid(const uint8_t *s, size_t len);

/*
 * Appends |len| bytes of UTF-8 text at |s| as a quoted JSON string,
 * escaping quotes, backslashes and control characters. The text must be
 * valid UTF-8 (check with kefo__utf8_valid).
 *
 * Returns 0 or KEFO_ERR_NOMEM.
 */
int kefo__json_append_string(kefo_buf *b, const uint8_t *s, size_t len);

/*
 * Appends |len| bytes as a quoted JSON string of their base64 text.
 *
 * Returns 0 or KEFO_ERR_NOMEM.
 */
int kefo__json_append_base64(kefo_buf *b, const uint8_t *s, size_t len);

#endif /* KEFO_JSON_WRITER_H */
