/*
 * Calendar times as text: the one ISO 8601 / RFC 3339 reader that the
 * credential documents (AWS's Expiration) and the configuration
 * (source.init.timestamp) both use.
 */
#ifndef KEFO_TIME_H
#define KEFO_TIME_H

#include <stddef.h>
#include <stdint.h>

/*
 * Forms beyond the strict core that a caller may accept. The core is
 * "YYYY-MM-DDThh:mm:ss", an optional fraction of 1 to 9 digits, then a
 * zone, "Z" or an offset "+hh:mm" / "+hhmm" (either sign); 'T' and 'Z' in
 * either case; years 1970 to 9999.
 */
/* A space may stand for the 'T' (RFC 3339 allows it; the config did). */
#define KEFO_TIME_SPACE 0x1u
/* ":60" at minute 59, a leap second, reads as ":59". */
#define KEFO_TIME_LEAP_SECOND 0x2u
/* A fraction of any length (still read to the millisecond). */
#define KEFO_TIME_LONG_FRACTION 0x4u
/* Years 0000 to 1969, which give times before the epoch (negative). */
#define KEFO_TIME_BEFORE_1970 0x8u
/* Every form above: the union of what the callers accept. */
#define KEFO_TIME_ANY 0xfu

/*
 * Parses the |len| bytes at |s| (need not be NUL-terminated), all of them,
 * as an ISO 8601 time with a zone, in the core form plus the forms that
 * |flags| (KEFO_TIME_*) allow, into milliseconds since the epoch in
 * |*epoch_ms|. A fraction is truncated to the millisecond; a date must
 * exist (February 29th only in leap years). A time without a zone is
 * refused: reading it as local time or as UTC would be a guess.
 *
 * Returns 0 or KEFO_ERR_INVALID_ARGUMENT (|s| or |epoch_ms| is NULL, or
 * the text is not such a time; |*epoch_ms| is then unchanged).
 */
int kefo__time_parse_iso8601(const char *s, size_t len, unsigned flags,
                             int64_t *epoch_ms);

#endif /* KEFO_TIME_H */
