/*
 * Replays a fuzz target's kept corpus without libFuzzer, so `make check`
 * runs every input found so far through the same entry point (under the
 * sanitizers when configured with --enable-asan). Usage: replay [DIR...]; no
 * DIR: the corpus folder compiled in.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"

static int replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf;
  long n;

  if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
      fseek(f, 0, SEEK_SET) != 0) {
    fprintf(stderr, "cannot read %s\n", path);
    if (f) {
      fclose(f);
    }
    return -1;
  }
  buf = malloc((size_t)n + 1);
  if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
    fprintf(stderr, "cannot read %s\n", path);
    free(buf);
    fclose(f);
    return -1;
  }
  fclose(f);
  LLVMFuzzerTestOneInput(buf, (size_t)n);
  free(buf);
  return 0;
}

int main(int argc, char **argv) {
  int i, failed = 0;
  long passed = 0;
  const char *default_dir[] = {argv[0], KEFO_FUZZ_CORPUS};

  if (argc < 2) {
    argc = 2;
    argv = (char **)default_dir;
  }
  for (i = 1; i < argc; ++i) {
    DIR *d = opendir(argv[i]);
    struct dirent *e;
    if (d == NULL) {
      fprintf(stderr, "cannot open corpus folder %s\n", argv[i]);
      ++failed;
      continue;
    }
    while ((e = readdir(d)) != NULL) {
      char path[4096];
      if (e->d_name[0] == '.') {
        continue;
      }
      snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
      if (replay_file(path) == 0) {
        ++passed;
      } else {
        ++failed;
      }
    }
    closedir(d);
  }
  /* A crash or sanitizer report ends the process before this line; an
     empty corpus proves nothing, so it fails. */
  if (passed == 0) {
    ++failed;
  }
  printf("%ld passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
