/*
 * timed -o FILE COMMAND [ARG...]: runs COMMAND and writes to FILE, on one
 * line, what /usr/bin/time -f "%U %S %M %F %R %e" would: user and system
 * seconds, peak RSS in KiB, major and minor page faults, wall seconds.
 *
 * Why not /usr/bin/time: it prints CPU seconds with two decimals, and a
 * whole read of 50,000 records by kefo-reader takes 25-30 ms of CPU, so
 * its figure moved in steps of a third of itself (bench/path5.sh). wait4
 * gives the same counts to the microsecond.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double seconds(struct timeval tv) {
  return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int main(int argc, char **argv) {
  struct timespec t0, t1;
  struct rusage ru;
  FILE *out;
  pid_t pid;
  int status;

  if (argc < 4 || strcmp(argv[1], "-o") != 0) {
    fprintf(stderr, "usage: timed -o FILE COMMAND [ARG...]\n");
    return 2;
  }
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid = fork();
  if (pid < 0) {
    perror("timed: fork");
    return 2;
  }
  if (pid == 0) {
    execvp(argv[3], argv + 3);
    fprintf(stderr, "timed: cannot run %s: %s\n", argv[3], strerror(errno));
    _exit(127);
  }
  while (wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) {
      perror("timed: wait4");
      return 2;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  out = fopen(argv[2], "w");
  if (out == NULL) {
    fprintf(stderr, "timed: cannot write %s: %s\n", argv[2], strerror(errno));
    return 2;
  }
  fprintf(out, "%.6f %.6f %ld %ld %ld %.3f\n", seconds(ru.ru_utime),
          seconds(ru.ru_stime), ru.ru_maxrss, ru.ru_majflt, ru.ru_minflt,
          (double)(t1.tv_sec - t0.tv_sec) +
              (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
  if (fclose(out) != 0) {
    fprintf(stderr, "timed: cannot write %s\n", argv[2]);
    return 2;
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return WEXITSTATUS(status);
}
