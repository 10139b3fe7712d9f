/*
 * JSON string escapes (RFC 8259, section 7): the one decoder of "\n",
 * "\u00e9" and surrogate pairs that the credential documents and the
 * SubscribeToShard events share. Finding a string's closing quote stays
 * with each reader, so the event reader keeps its vector scan.
 */
#ifndef KEFO_JSON_STRING_H
#define KEFO_JSON_STRING_H

#include <stddef.h>
#include <stdint.h>

/* The most UTF-8 bytes one escape decodes to (a surrogate pair). No
   escape decodes to more bytes than its own text. */
#define KEFO_JSON_STRING_UTF8_MAX 4

/*
 * Reads the escape at |*p| (its backslash), before |end|: one of \" \\ \/
 * \b \f \n \r \t, or \uXXXX (hex digits in either case) where a high
 * surrogate must be followed at once by a \u low surrogate, the pair
 * giving one code point, and a low surrogate alone is refused. \u0000 is
 * allowed (callers that cannot hold a NUL check for it). Moves |*p| past
 * the escape and, when |out| is not NULL, writes its UTF-8 there (room
 * for KEFO_JSON_STRING_UTF8_MAX bytes) and its length to |*outlen|
 * (|outlen| may be NULL when |out| is).
 *
 * Returns 0 or KEFO_ERR_INVALID_ARGUMENT (not an escape: |*p| is left on
 * the backslash and |*why|, when |why| is not NULL, says what was wrong,
 * as static text that never quotes the input).
 */
int kefo__json_string_unescape(const uint8_t **p, const uint8_t *end,
                               uint8_t *out, size_t *outlen, const char **why);

/*
 * Decodes the |len| bytes at |s|, a string's text between its quotes,
 * into |out| (room for |len| bytes; decoding never lengthens), and its
 * length into |*outlen|. Bytes other than escapes are copied as they are:
 * the reader that found the closing quote has refused control
 * characters, and UTF-8 is not checked.
 *
 * Returns 0 or KEFO_ERR_INVALID_ARGUMENT (a bad escape, see
 * kefo__json_string_unescape; |*why| says which, |out| holds garbage).
 */
int kefo__json_string_decode(uint8_t *out, size_t *outlen, const uint8_t *s,
                             size_t len, const char **why);

#endif /* KEFO_JSON_STRING_H */
