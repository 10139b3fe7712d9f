/*
 * Numbers of Kinesis answers (see records_number.c): exact conversion
 * without strtod for the shapes Kinesis sends, and clamped milliseconds.
 */
#ifndef KEFO_RECORDS_NUMBER_H
#define KEFO_RECORDS_NUMBER_H

#include <stddef.h>
#include <stdint.h>

/*
 * Converts the JSON number |s| (|n| bytes, grammar already checked) into
 * |*out| when that is exact without strtod: at most 15 significant
 * digits and a net power of ten within 10^+-22. Returns 0, or -1 when the
 * caller must use strtod (|*out| then untouched).
 */
int kefo__records_number(const uint8_t *s, size_t n, double *out);

/* Seconds as a JSON number (|v|) times |scale|, clamped to [0, 2^53]
   with NaN and negatives as 0, so that no value a server sends (negative,
   1e300, inf) makes the conversion undefined. */
int64_t kefo__records_ms(double v, double scale);

#endif /* KEFO_RECORDS_NUMBER_H */
