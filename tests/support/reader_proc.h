/*
 * A kefo-reader process run by a test: started with its stdout on a pipe
 * read by the test's event loop, one callback per complete output line,
 * stopped with a signal. A line cut short by a kill is never passed on:
 * whatever the process had not written whole was not delivered.
 */
#ifndef KEFO_TESTS_READER_PROC_H
#define KEFO_TESTS_READER_PROC_H

#include <stddef.h>
#include <sys/types.h>

#include <event2/event.h>

typedef void (*kefo_proc_line_cb)(const char *line, size_t len, void *ud);

typedef struct kefo_proc {
  pid_t pid;
  int fd; /* the read end of its stdout */
  struct event *ev;
  char *buf;
  size_t len, cap;
  int eof;
  kefo_proc_line_cb on_line;
  void *ud;
} kefo_proc;

/* Starts |argv| (argv[0] a path) with stdin from /dev/null, stdout to the
   pipe and stderr appended to |stderr_path| (NULL: inherited). Returns 0
   or -1 (errno set). */
int kefo_proc_start(kefo_proc *p, struct event_base *base,
                    const char *const argv[], const char *stderr_path,
                    kefo_proc_line_cb on_line, void *ud);

/* Sends |sig|, reads what it wrote until its stdout closes (|ms| at
   most), and reaps it. Returns its wait status, or -1 when it outlived
   |ms| (it is then SIGKILLed and reaped). */
int kefo_proc_stop(kefo_proc *p, struct event_base *base, int sig, int ms);

#endif /* KEFO_TESTS_READER_PROC_H */
