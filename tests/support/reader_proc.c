/*
 * A kefo-reader process run by a test, its stdout read line by line.
 */
#include "tests/support/reader_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/aws_test_util.h"

static void take_lines(kefo_proc *p) {
  size_t start = 0, i;

  for (i = 0; i < p->len; ++i) {
    if (p->buf[i] == '\n') {
      p->on_line(p->buf + start, i - start, p->ud);
      start = i + 1;
    }
  }
  memmove(p->buf, p->buf + start, p->len - start);
  p->len -= start;
}

static void on_readable(evutil_socket_t fd, short what, void *arg) {
  kefo_proc *p = arg;
  ssize_t got;

  (void)what;
  for (;;) {
    if (p->cap - p->len < 65536) {
      char *nb = realloc(p->buf, p->cap * 2 + 65536);
      if (nb == NULL) {
        abort();
      }
      p->buf = nb;
      p->cap = p->cap * 2 + 65536;
    }
    got = read(fd, p->buf + p->len, p->cap - p->len);
    if (got > 0) {
      p->len += (size_t)got;
      continue;
    }
    if (got == 0) {
      p->eof = 1;
      event_del(p->ev);
    }
    break; /* EAGAIN: the rest comes with the next event */
  }
  take_lines(p);
}

int kefo_proc_start(kefo_proc *p, struct event_base *base,
                    const char *const argv[], const char *stderr_path,
                    kefo_proc_line_cb on_line, void *ud) {
  int fds[2];

  memset(p, 0, sizeof(*p));
  p->fd = -1;
  p->on_line = on_line;
  p->ud = ud;
  if (pipe(fds) != 0) {
    return -1;
  }
  /* Not inherited by other children the test starts later. */
  fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  p->pid = fork();
  if (p->pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (p->pid == 0) {
    int in = open("/dev/null", O_RDONLY);
    /* Dies with the test, even when the test crashes: no reader left
       running against the next test's emulator. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(in, 0);
    dup2(fds[1], 1);
    close(in);
    close(fds[1]);
    if (stderr_path) {
      int err = open(stderr_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(err, 2);
      close(err);
    }
    /* execv takes char *const[] for history's sake; it writes nothing. */
    execv(argv[0], (char *const *)(uintptr_t)argv);
    _exit(127);
  }
  close(fds[1]);
  p->fd = fds[0];
  fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_NONBLOCK);
  p->ev = event_new(base, p->fd, EV_READ | EV_PERSIST, on_readable, p);
  if (p->ev == NULL || event_add(p->ev, NULL) != 0) {
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    return -1;
  }
  return 0;
}

int kefo_proc_stop(kefo_proc *p, struct event_base *base, int sig, int ms) {
  int status = -1, outlived;

  kill(p->pid, sig);
  kefo_test_run_until(base, &p->eof, ms);
  outlived = !p->eof;
  if (outlived) {
    kill(p->pid, SIGKILL);
  }
  while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR) {
  }
  event_free(p->ev);
  close(p->fd);
  free(p->buf);
  memset(p, 0, sizeof(*p));
  p->fd = -1;
  return outlived ? -1 : status;
}
