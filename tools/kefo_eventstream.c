/*
 * kefo-eventstream: decodes an application/vnd.amazon.eventstream capture
 * (a file, or stdin) into JSON lines, one per message, for people debugging
 * SubscribeToShard traffic. A bad frame stops it with the byte offset and
 * the check that failed.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <kefo/kefo.h>

#include "aws/event_stream.h"
#include "base/buf.h"
#include "base/json_writer.h"

/* Exit codes, documented in --help. */
enum { EXIT_OK = 0, EXIT_BAD_INPUT = 1, EXIT_USAGE = 2 };
/* parse_args' "no status yet": decode. */
enum { CARRY_ON = -1 };

typedef struct tool {
  kefo_buf line;
  uint64_t messages;
  uint64_t msg_offset;
  int nomem;
} tool;

static void usage(FILE *f) {
  fprintf(f,
          "Usage: kefo-eventstream [OPTIONS] [FILE]\n"
          "Decode an AWS event-stream (application/vnd.amazon.eventstream)\n"
          "capture, FILE or standard input, into one JSON object a line:\n"
          "  {\"offset\":N,\"total_length\":N,\"headers\":{...},\n"
          "   \"payload_encoding\":\"json\"|\"text\"|\"base64\","
          "\"payload\":...}\n"
          "The payload is embedded as JSON when it is JSON, as a string when\n"
          "it is other UTF-8 text, else as base64.\n"
          "\n"
          "Options:\n"
          "  --max-message BYTES  refuse messages larger than BYTES\n"
          "                       (default and maximum 16777216)\n"
          "  -h, --help           show this help\n"
          "  --version            show the version\n"
          "\n"
          "Exit status: 0 all messages decoded; 1 a bad or truncated frame\n"
          "(the error names its byte offset and the failed check); 2 usage\n"
          "or I/O error.\n");
}

/* Bytes, and strings that are not UTF-8, as {"base64":"..."}. */
static int append_bytes(kefo_buf *b, const kefo_es_header *h) {
  int rv = kefo__buf_append_str(b, "{\"base64\":");

  if (rv == 0) {
    rv = kefo__json_append_base64(b, h->value, h->value_len);
  }
  if (rv == 0) {
    rv = kefo__buf_append_byte(b, '}');
  }
  return rv;
}

static int append_header_value(kefo_buf *b, const kefo_es_header *h) {
  char num[64];

  switch (h->type) {
  case KEFO_ES_BOOL_TRUE:
    return kefo__buf_append_str(b, "true");
  case KEFO_ES_BOOL_FALSE:
    return kefo__buf_append_str(b, "false");
  case KEFO_ES_BYTE:
  case KEFO_ES_INT16:
  case KEFO_ES_INT32:
  case KEFO_ES_INT64:
    snprintf(num, sizeof(num), "%lld", (long long)h->int_value);
    return kefo__buf_append_str(b, num);
  case KEFO_ES_TIMESTAMP:
    snprintf(num, sizeof(num), "{\"timestamp_ms\":%lld}",
             (long long)h->int_value);
    return kefo__buf_append_str(b, num);
  case KEFO_ES_UUID: {
    static const char hex[] = "0123456789abcdef";
    char u[40];
    size_t i, o = 0;
    u[o++] = '"';
    for (i = 0; i < 16; ++i) {
      if (i == 4 || i == 6 || i == 8 || i == 10) {
        u[o++] = '-';
      }
      u[o++] = hex[h->value[i] >> 4];
      u[o++] = hex[h->value[i] & 15];
    }
    u[o++] = '"';
    return kefo__buf_append(b, u, o);
  }
  case KEFO_ES_STRING:
    if (kefo__utf8_valid(h->value, h->value_len)) {
      return kefo__json_append_string(b, h->value, h->value_len);
    }
    return append_bytes(b, h);
  case KEFO_ES_BYTES:
  default:
    return append_bytes(b, h);
  }
}

static int append_payload(kefo_buf *b, const uint8_t *p, size_t n) {
  int rv;

  if (kefo__utf8_valid(p, n)) {
    cJSON *j = n ? cJSON_ParseWithLength((const char *)p, n) : NULL;
    if (j != NULL) {
      /* Re-printed compactly, so a pretty-printed payload stays on one
         line. */
      char *s = cJSON_PrintUnformatted(j);
      cJSON_Delete(j);
      if (s == NULL) {
        return KEFO_ERR_NOMEM;
      }
      rv = kefo__buf_append_str(b,
                                ",\"payload_encoding\":\"json\",\"payload\":");
      if (rv == 0) {
        rv = kefo__buf_append_str(b, s);
      }
      free(s);
      return rv;
    }
    rv = kefo__buf_append_str(b, ",\"payload_encoding\":\"text\",\"payload\":");
    return rv ? rv : kefo__json_append_string(b, p, n);
  }
  rv = kefo__buf_append_str(b, ",\"payload_encoding\":\"base64\",\"payload\":");
  return rv ? rv : kefo__json_append_base64(b, p, n);
}

static int on_message(const kefo_es_message *m, void *ud) {
  tool *t = ud;
  kefo_buf *b = &t->line;
  char head[128];
  size_t i;
  int rv;

  kefo__buf_reset(b);
  snprintf(head, sizeof(head),
           "{\"offset\":%llu,\"total_length\":%u,\"headers\":{",
           (unsigned long long)t->msg_offset, m->total_length);
  rv = kefo__buf_append_str(b, head);
  for (i = 0; rv == 0 && i < m->nheaders; ++i) {
    const kefo_es_header *h = &m->headers[i];
    if (i > 0) {
      rv = kefo__buf_append_byte(b, ',');
    }
    if (rv == 0) {
      rv = kefo__utf8_valid((const uint8_t *)h->name, h->name_len)
               ? kefo__json_append_string(b, (const uint8_t *)h->name,
                                          h->name_len)
               : kefo__json_append_base64(b, (const uint8_t *)h->name,
                                          h->name_len);
    }
    if (rv == 0) {
      rv = kefo__buf_append_byte(b, ':');
    }
    if (rv == 0) {
      rv = append_header_value(b, h);
    }
  }
  if (rv == 0) {
    rv = kefo__buf_append_byte(b, '}');
  }
  if (rv == 0) {
    rv = append_payload(b, m->payload, m->payload_len);
  }
  if (rv == 0) {
    rv = kefo__buf_append_str(b, "}\n");
  }
  if (rv != 0) {
    t->nomem = 1;
    return -1;
  }
  fwrite(b->data, 1, b->len, stdout);
  t->msg_offset += m->total_length;
  ++t->messages;
  return 0;
}

static void report(const char *name, const kefo_es_decoder *dec, int rv) {
  fprintf(stderr,
          "kefo-eventstream: %s: bad frame: %s check failed at byte offset "
          "%llu (message starting at byte %llu): %s\n",
          name, kefo__es_decoder_error_check(dec),
          (unsigned long long)kefo__es_decoder_error_offset(dec),
          (unsigned long long)dec->msg_offset, kefo_strerror(rv));
}

/* Reads the command line into |*path| (NULL or "-": stdin) and
   |*max_message|. Returns CARRY_ON, or the status to exit with (--help
   and --version included). */
static int parse_args(int argc, char **argv, const char **path,
                      unsigned long *max_message) {
  int i;

  for (i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return EXIT_OK;
    } else if (strcmp(argv[i], "--version") == 0) {
      printf("kefo-eventstream %s\n", KEFO_VERSION);
      return EXIT_OK;
    } else if (strcmp(argv[i], "--max-message") == 0 && i + 1 < argc) {
      char *end;
      errno = 0;
      *max_message = strtoul(argv[++i], &end, 10);
      if (errno || *end || *max_message < KEFO_ES_MIN_MESSAGE_LEN ||
          *max_message > KEFO_ES_MAX_MESSAGE_LEN) {
        fprintf(stderr,
                "kefo-eventstream: --max-message must be a number of bytes "
                "from %u to %u, not '%s'\n",
                KEFO_ES_MIN_MESSAGE_LEN, KEFO_ES_MAX_MESSAGE_LEN, argv[i]);
        return EXIT_USAGE;
      }
    } else if (argv[i][0] == '-' && strcmp(argv[i], "-") != 0) {
      fprintf(stderr, "kefo-eventstream: unknown option '%s' (see --help)\n",
              argv[i]);
      return EXIT_USAGE;
    } else if (*path == NULL) {
      *path = argv[i];
    } else {
      fprintf(stderr, "kefo-eventstream: one input at a time (see --help)\n");
      return EXIT_USAGE;
    }
  }
  return CARRY_ON;
}

/* Decodes |in| to JSON lines on stdout and returns the status to exit
   with; the reason of a failure goes to stderr. */
static int decode(FILE *in, const char *name, unsigned long max_message) {
  kefo_es_decoder dec;
  tool t;
  static uint8_t chunk[64 * 1024];
  int rv = 0, status = EXIT_OK;

  memset(&t, 0, sizeof(t));
  kefo__buf_init(&t.line, NULL);
  kefo__es_decoder_init(&dec, NULL, (uint32_t)max_message, 0, on_message, &t);
  for (;;) {
    size_t n = fread(chunk, 1, sizeof(chunk), in);
    if (n == 0) {
      break;
    }
    rv = kefo__es_decoder_feed(&dec, chunk, n);
    if (rv != 0) {
      break;
    }
  }
  if (rv == 0 && ferror(in)) {
    fprintf(stderr, "kefo-eventstream: cannot read %s: %s\n", name,
            strerror(errno));
    status = EXIT_USAGE;
  } else if (rv == 0 && (rv = kefo__es_decoder_finish(&dec)) != 0) {
    fprintf(stderr,
            "kefo-eventstream: %s: input ends inside a message at byte "
            "offset %llu (message starting at byte %llu)\n",
            name, (unsigned long long)kefo__es_decoder_error_offset(&dec),
            (unsigned long long)dec.msg_offset);
    status = EXIT_BAD_INPUT;
  } else if (rv != 0 && t.nomem) {
    fprintf(stderr, "kefo-eventstream: out of memory\n");
    status = EXIT_USAGE;
  } else if (rv != 0) {
    report(name, &dec, rv);
    status = EXIT_BAD_INPUT;
  }
  fflush(stdout);
  fprintf(stderr, "kefo-eventstream: %llu message(s) decoded\n",
          (unsigned long long)t.messages);
  kefo__es_decoder_free(&dec);
  kefo__buf_free(&t.line);
  return status;
}

int main(int argc, char **argv) {
  const char *path = NULL, *name = "<stdin>";
  unsigned long max_message = 0;
  FILE *in = stdin;
  int status;

  status = parse_args(argc, argv, &path, &max_message);
  if (status != CARRY_ON) {
    return status;
  }
  if (path != NULL && strcmp(path, "-") != 0) {
    in = fopen(path, "rb");
    if (in == NULL) {
      fprintf(stderr, "kefo-eventstream: cannot open %s: %s\n", path,
              strerror(errno));
      return EXIT_USAGE;
    }
    name = path;
  }
  status = decode(in, name, max_message);
  if (in != stdin) {
    fclose(in);
  }
  return status;
}
