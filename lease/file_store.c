/*
 * The embedded file store: one stream's and application's checkpoints in
 * one JSON file,
 *
 *   {"kefo_checkpoints": 1, "stream": ARN, "application": NAME,
 *    "shards": {"shardId-000000000000": {"sequence": "...", "sub": 0}}}
 *
 * replaced as a whole on every write: write PATH.tmp, fsync it, rename it
 * over PATH, fsync the directory. A crash at any point leaves either the
 * old file or the new one, never a mix, so the last completed checkpoint
 * survives. An exclusive flock on PATH.lock, held while the store is open,
 * keeps a second store off the same file, in this process or another.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <kefo/kefo.h>

#include "lease/checkpoint_table.h"
#include "lease/lease_store.h"
#include "base/buf.h"
#include "base/json_writer.h"

/* A checkpoint file of a stream with 100,000 shards is about 15 MB. */
#define MAX_FILE_BYTES (64u << 20)
#define FORMAT_VERSION 1

typedef struct file_store {
  kefo_lease_store base;
  kefo_checkpoint_table table;
  char *path;
  char *stream_arn;
  char *application;
  int lock_fd;
  int dirty; /* the table holds what the file does not yet */
  char msg[512 + 4096];
} file_store;

static int fail(file_store *s, const char *what, int err) {
  snprintf(s->msg, sizeof(s->msg), "lease file %s: %s%s%s", s->path, what,
           err ? ": " : "", err ? strerror(err) : "");
  return KEFO_ERR_LEASE_STORE;
}

/* Reads the whole file into |b|; |*exists| 0 when there is none. */
static int read_file(file_store *s, kefo_buf *b, int *exists) {
  int fd = open(s->path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  ssize_t got;

  *exists = fd >= 0;
  if (fd < 0) {
    return errno == ENOENT ? 0 : fail(s, "cannot open", errno);
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return fail(s, "not a regular file", 0);
  }
  if ((uint64_t)st.st_size > MAX_FILE_BYTES) {
    close(fd);
    return fail(s, "larger than 64 MiB, not a kefo checkpoint file", 0);
  }
  if (kefo__buf_reserve(b, (size_t)st.st_size + 1) != 0) {
    close(fd);
    return KEFO_ERR_NOMEM;
  }
  for (;;) {
    if (b->len == b->cap - 1) {
      if (b->len >= MAX_FILE_BYTES) {
        close(fd);
        return fail(s, "larger than 64 MiB, not a kefo checkpoint file", 0);
      }
      if (kefo__buf_reserve(b, 4096) != 0) {
        close(fd);
        return KEFO_ERR_NOMEM;
      }
    }
    got = read(fd, b->data + b->len, b->cap - 1 - b->len);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0) {
      int e = errno;
      close(fd);
      return fail(s, "cannot read", e);
    }
    if (got == 0) {
      break;
    }
    b->len += (size_t)got;
  }
  close(fd);
  b->data[b->len] = 0;
  return 0;
}

static int bad(file_store *s, const char *why) {
  char what[256];

  snprintf(what, sizeof(what), "not a kefo checkpoint file (%s)", why);
  return fail(s, what, 0);
}

/* Loads |text| into the table, checking it belongs to this stream. */
static int load(file_store *s, const char *text, size_t len) {
  cJSON *doc = cJSON_ParseWithLength(text, len);
  const cJSON *v, *stream, *app, *shards, *shard;
  int rv = 0;

  if (doc == NULL || !cJSON_IsObject(doc)) {
    cJSON_Delete(doc);
    return bad(s, "not a JSON object");
  }
  v = cJSON_GetObjectItemCaseSensitive(doc, "kefo_checkpoints");
  stream = cJSON_GetObjectItemCaseSensitive(doc, "stream");
  app = cJSON_GetObjectItemCaseSensitive(doc, "application");
  shards = cJSON_GetObjectItemCaseSensitive(doc, "shards");
  if (!cJSON_IsNumber(v) || v->valuedouble != FORMAT_VERSION) {
    rv = bad(s, "no kefo_checkpoints version 1");
  } else if (!cJSON_IsString(stream) || !cJSON_IsString(app) ||
             !cJSON_IsObject(shards)) {
    rv = bad(s, "stream, application or shards missing");
  } else if (strcmp(stream->valuestring, s->stream_arn) != 0 ||
             strcmp(app->valuestring, s->application) != 0) {
    char what[1200];
    snprintf(what, sizeof(what),
             "holds the checkpoints of stream %.500s for application %.300s, "
             "not this consumer's: set source.lease.file to another file",
             stream->valuestring, app->valuestring);
    rv = fail(s, what, 0);
  }
  if (rv != 0) {
    cJSON_Delete(doc);
    return rv;
  }
  cJSON_ArrayForEach(shard, shards) {
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(shard, "sequence");
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive(shard, "sub");
    kefo_checkpoint_entry e;
    if (!cJSON_IsString(seq) || !cJSON_IsNumber(sub) || sub->valuedouble < 0 ||
        sub->valuedouble > 9007199254740992.0) {
      rv = bad(s, "a shard's sequence or sub is malformed");
      break;
    }
    e.shard_id = shard->string;
    e.sequence_number = seq->valuestring;
    e.sub_sequence_number = (uint64_t)sub->valuedouble;
    rv = kefo__checkpoint_table_put(&s->table, &e, NULL);
    if (rv == KEFO_ERR_INVALID_ARGUMENT) {
      rv = bad(s, "a shard id or sequence number is malformed");
    }
    if (rv != 0) {
      break;
    }
  }
  cJSON_Delete(doc);
  return rv;
}

static int serialize(file_store *s, kefo_buf *b) {
  size_t i;
  char num[32];
  int rv = kefo__buf_append_str(b, "{\"kefo_checkpoints\":1,\"stream\":");

  rv = rv ? rv
          : kefo__json_append_string(b, (const uint8_t *)s->stream_arn,
                                     strlen(s->stream_arn));
  rv = rv ? rv : kefo__buf_append_str(b, ",\"application\":");
  rv = rv ? rv
          : kefo__json_append_string(b, (const uint8_t *)s->application,
                                     strlen(s->application));
  rv = rv ? rv : kefo__buf_append_str(b, ",\"shards\":{");
  for (i = 0; rv == 0 && i < s->table.n; ++i) {
    const kefo_checkpoint_slot *slot = &s->table.slots[i];
    if (i > 0) {
      rv = kefo__buf_append_str(b, ",\n");
    }
    rv = rv ? rv
            : kefo__json_append_string(b, (const uint8_t *)slot->shard_id,
                                       strlen(slot->shard_id));
    rv = rv ? rv : kefo__buf_append_str(b, ":{\"sequence\":\"");
    rv = rv ? rv : kefo__buf_append_str(b, slot->sequence_number);
    snprintf(num, sizeof(num), "\",\"sub\":%llu}",
             (unsigned long long)slot->sub_sequence_number);
    rv = rv ? rv : kefo__buf_append_str(b, num);
  }
  rv = rv ? rv : kefo__buf_append_str(b, "}}\n");
  return rv;
}

static int write_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) {
      continue;
    }
    if (w <= 0) {
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* The directory of |path|, for its fsync. */
static void dir_of(const char *path, char *dir, size_t cap) {
  const char *slash = strrchr(path, '/');

  if (slash == NULL) {
    snprintf(dir, cap, ".");
  } else if (slash == path) {
    snprintf(dir, cap, "/");
  } else {
    snprintf(dir, cap, "%.*s", (int)(slash - path), path);
  }
}

static int save(file_store *s) {
  kefo_buf b;
  char tmp[4200], dir[4200];
  int fd, rv, e;

  kefo__buf_init(&b, s->table.mem);
  rv = serialize(s, &b);
  if (rv != 0) {
    kefo__buf_free(&b);
    return rv;
  }
  snprintf(tmp, sizeof(tmp), "%s.tmp", s->path);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    e = errno;
    kefo__buf_free(&b);
    return fail(s, "cannot create the temporary file", e);
  }
  if (write_all(fd, b.data, b.len) != 0 || fsync(fd) != 0) {
    e = errno;
    close(fd);
    unlink(tmp);
    kefo__buf_free(&b);
    return fail(s, "cannot write the temporary file", e);
  }
  kefo__buf_free(&b);
  if (close(fd) != 0) {
    e = errno;
    unlink(tmp);
    return fail(s, "cannot write the temporary file", e);
  }
  if (rename(tmp, s->path) != 0) {
    e = errno;
    unlink(tmp);
    return fail(s, "cannot replace the file", e);
  }
  /* The rename itself is durable only once the directory is. */
  dir_of(s->path, dir, sizeof(dir));
  fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    if (fsync(fd) != 0 && errno != EINVAL) {
      e = errno;
      close(fd);
      return fail(s, "cannot sync the directory", e);
    }
    close(fd);
  }
  return 0;
}

static int f_open(kefo_lease_store *base, const char *stream_arn,
                  const char *application, kefo_lease_done_cb cb, void *ud) {
  file_store *s = (file_store *)base;
  const kefo_mem *mem = s->table.mem;
  char lock[4200];
  kefo_buf b;
  int rv, exists;

  if (stream_arn == NULL || application == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (s->lock_fd >= 0 || s->stream_arn) {
    return KEFO_ERR_INVALID_STATE;
  }
  s->stream_arn = kefo__mem_strdup(mem, stream_arn);
  s->application = kefo__mem_strdup(mem, application);
  if (s->stream_arn == NULL || s->application == NULL) {
    return KEFO_ERR_NOMEM;
  }
  snprintf(lock, sizeof(lock), "%s.lock", s->path);
  s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (s->lock_fd < 0) {
    rv = fail(s, "cannot create its lock file", errno);
    cb(rv, s->msg, ud);
    return 0;
  }
  if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    /* flock locks belong to the open file, so the holder may as well be
       another consumer of this very process: the message cannot say
       which. */
    rv = errno == EWOULDBLOCK
             ? fail(s,
                    "locked by another reader, in this process or another "
                    "(its .lock is held)",
                    0)
             : fail(s, "cannot lock", errno);
    close(s->lock_fd);
    s->lock_fd = -1;
    cb(rv, s->msg, ud);
    return 0;
  }
  kefo__buf_init(&b, mem);
  rv = read_file(s, &b, &exists);
  if (rv == 0 && exists) {
    /* kefo never leaves an empty file (it renames complete ones), so an
       empty one is someone else's, and guessing could reread it all. */
    rv = b.len == 0 ? bad(s, "empty") : load(s, (const char *)b.data, b.len);
  }
  kefo__buf_free(&b);
  if (rv != 0) {
    /* Never run on a file we could not understand: unlock and refuse. */
    close(s->lock_fd);
    s->lock_fd = -1;
    cb(rv, rv == KEFO_ERR_NOMEM ? "out of memory" : s->msg, ud);
    return 0;
  }
  cb(0, "", ud);
  return 0;
}

static int f_read(kefo_lease_store *base, kefo_lease_read_cb cb, void *ud) {
  file_store *s = (file_store *)base;

  if (s->lock_fd < 0) {
    return KEFO_ERR_INVALID_STATE;
  }
  return kefo__checkpoint_table_read(&s->table, cb, ud);
}

static int f_checkpoint(kefo_lease_store *base, const kefo_checkpoint_entry *e,
                        size_t n, kefo_lease_done_cb cb, void *ud) {
  file_store *s = (file_store *)base;
  size_t i;
  int rv = 0, changed;

  if (s->lock_fd < 0) {
    return KEFO_ERR_INVALID_STATE;
  }
  if (kefo__checkpoint_entries_valid(e, n) != 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  for (i = 0; rv == 0 && i < n; ++i) {
    rv = kefo__checkpoint_table_put(&s->table, &e[i], &changed);
    s->dirty |= changed;
  }
  /* A failed write is reported and retried by the next checkpoint. */
  if (rv == 0 && s->dirty) {
    rv = save(s);
    if (rv == 0) {
      s->dirty = 0;
    }
  }
  cb(rv, rv == 0 ? "" : rv == KEFO_ERR_NOMEM ? "out of memory" : s->msg, ud);
  return 0;
}

static void f_del(kefo_lease_store *base) {
  file_store *s = (file_store *)base;
  const kefo_mem *mem = s->table.mem;

  if (s->lock_fd >= 0) {
    close(s->lock_fd); /* releases the flock */
  }
  kefo__checkpoint_table_free(&s->table);
  kefo__mem_free(mem, s->path);
  kefo__mem_free(mem, s->stream_arn);
  kefo__mem_free(mem, s->application);
  kefo__mem_free(mem, s);
}

/* One worker owns every shard: no lease operations. */
static const kefo_lease_store_ops file_ops = {
    "file", f_open, f_read, f_checkpoint, f_del, NULL, NULL, NULL, NULL, NULL};

int kefo__file_store_new(kefo_lease_store **out, const char *path,
                         const kefo_mem *mem) {
  file_store *s;

  if (out == NULL || path == NULL || path[0] == '\0' || strlen(path) > 4096) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  mem = kefo__mem_or_default(mem);
  s = kefo__mem_calloc(mem, 1, sizeof(*s));
  if (s == NULL) {
    return KEFO_ERR_NOMEM;
  }
  s->base.ops = &file_ops;
  s->lock_fd = -1;
  kefo__checkpoint_table_init(&s->table, mem);
  s->path = kefo__mem_strdup(mem, path);
  if (s->path == NULL) {
    kefo__mem_free(mem, s);
    return KEFO_ERR_NOMEM;
  }
  *out = &s->base;
  return 0;
}
