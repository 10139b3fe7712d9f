/*
 * Internal error text: the one helper every parser and provider uses to
 * fill a caller's optional message buffer.
 */
#ifndef KEFO_ERROR_H
#define KEFO_ERROR_H

#include <stddef.h>

#ifdef __GNUC__
#define KEFO_PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define KEFO_PRINTF_LIKE(f, a)
#endif

/* Formats into |err| (|errlen| bytes, truncating); a NULL |err| or a zero
   |errlen| is ignored, so callers may pass no buffer. */
void kefo__set_err(char *err, size_t errlen, const char *fmt, ...)
    KEFO_PRINTF_LIKE(3, 4);

#endif /* KEFO_ERROR_H */
