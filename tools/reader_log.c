/*
 * kefo-reader's log lines (see reader_log.h).
 */
#include "tools/reader_log.h"

#include <time.h>

void kefo_reader_log_line(FILE *out, kefo_log_level level, const char *event,
                          const char *shard, const char *message) {
  struct timespec ts;
  struct tm tm;
  char when[32];

  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
  /* One fprintf: a line is not split by another writer of stderr. */
  fprintf(out, "%s.%03ldZ %-5s %s %s %s\n", when, ts.tv_nsec / 1000000L,
          kefo_log_level_name(level), event, shard ? shard : "-", message);
}
