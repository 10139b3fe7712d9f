/*
 * kefo-reader's lines of the library's log hook: one per event on
 * stderr, "TIMESTAMP LEVEL EVENT SHARD MESSAGE", the timestamp ISO-8601
 * UTC with milliseconds, "-" where there is no shard.
 */
#ifndef KEFO_TOOLS_READER_LOG_H
#define KEFO_TOOLS_READER_LOG_H

#include <stdio.h>

#include <kefo/kefo.h>

/* Writes one line to |out|. */
void kefo_reader_log_line(FILE *out, kefo_log_level level, const char *event,
                          const char *shard, const char *message);

#endif /* KEFO_TOOLS_READER_LOG_H */
