/*
 * A log hook for tests (see log_capture.h).
 */
#include "tests/support/log_capture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kefo_log_capture_hook(kefo_log_level level, const char *event,
                           const char *shard, const char *message,
                           void *user_data) {
  kefo_log_capture *lc = user_data;
  size_t need = strlen(event) + strlen(message) + (shard ? strlen(shard) : 1) +
                16 + lc->len + 1;
  int n;

  if (need > lc->cap) {
    size_t cap = lc->cap ? lc->cap * 2 : 65536;
    char *t;
    while (cap < need) {
      cap *= 2;
    }
    t = realloc(lc->text, cap);
    if (t == NULL) {
      return;
    }
    lc->text = t;
    lc->cap = cap;
  }
  n = snprintf(lc->text + lc->len, lc->cap - lc->len, "%s %s %s %s\n",
               kefo_log_level_name(level), event, shard ? shard : "-", message);
  if (n > 0) {
    lc->len += (size_t)n;
    ++lc->lines;
  }
}

void kefo_log_capture_reset(kefo_log_capture *lc) {
  lc->len = 0;
  lc->lines = 0;
  if (lc->text) {
    lc->text[0] = '\0';
  }
}

int kefo_log_capture_find(const kefo_log_capture *lc, const char *event,
                          const char *shard, const char *const *needles,
                          size_t n, char *out, size_t cap) {
  const char *line = lc->text, *end;
  char buf[1024], ev[128], sh[160];
  size_t i, len;

  if (line == NULL) {
    return 0;
  }
  for (; line < lc->text + lc->len; line = end + 1) {
    end = strchr(line, '\n');
    if (end == NULL) {
      break;
    }
    len = (size_t)(end - line) < sizeof(buf) - 1 ? (size_t)(end - line)
                                                 : sizeof(buf) - 1;
    memcpy(buf, line, len);
    buf[len] = '\0';
    /* "LEVEL EVENT SHARD MESSAGE" */
    if (sscanf(buf, "%*s %127s %159s", ev, sh) != 2 || strcmp(ev, event) != 0 ||
        (shard && strcmp(sh, shard) != 0)) {
      continue;
    }
    for (i = 0; i < n && strstr(buf, needles[i]); ++i) {
    }
    if (i == n) {
      snprintf(out, cap, "%s", buf);
      return 1;
    }
  }
  return 0;
}

void kefo_log_capture_free(kefo_log_capture *lc) {
  free(lc->text);
  memset(lc, 0, sizeof(*lc));
}
