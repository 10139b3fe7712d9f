/*
 * libFuzzer target for the SubscribeToShardEvent reader (aws/records_reader.c),
 * differential against cJSON, which the EFO reader used before it and the
 * polling reader still uses. The input is the payload.
 *
 * Oracles: the result is 0, KEFO_ERR_BAD_RESPONSE (with a reason and an
 * offset within the input) or KEFO_ERR_NOMEM; every document the reader
 * accepts cJSON accepts as an object, and every field agrees with what
 * cJSON's lookups give (the reader is stricter, so the converse does not
 * hold: control characters, trailing bytes, leading zeros, deep nesting);
 * a second parse with the same scratch gives the same answer.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tests/fuzz/fuzz.h"
#include "aws/records_reader.h"
#include "base/error.h"

static kefo_records_parser parser;
static int ready;

static int64_t json_ms(const cJSON *n, double scale) {
  return cJSON_IsNumber(n) ? kefo__records_ms(n->valuedouble, scale) : 0;
}

/* A string member as the reader keeps it: NULL unless a string. */
static void same_str(const cJSON *obj, const char *name, const char *got) {
  const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, name);
  if (!cJSON_IsString(j)) {
    if (got != NULL) {
      abort();
    }
    return;
  }
  if (got == NULL || strcmp(got, j->valuestring) != 0) {
    abort();
  }
}

static void compare(const cJSON *root, const kefo_records_event *ev) {
  const cJSON *recs = cJSON_GetObjectItemCaseSensitive(root, "Records");
  const cJSON *cont =
      cJSON_GetObjectItemCaseSensitive(root, "ContinuationSequenceNumber");
  const cJSON *behind =
      cJSON_GetObjectItemCaseSensitive(root, "MillisBehindLatest");
  const cJSON *children = cJSON_GetObjectItemCaseSensitive(root, "ChildShards");
  const cJSON *next =
      cJSON_GetObjectItemCaseSensitive(root, "NextShardIterator");
  const cJSON *r;
  size_t i = 0;

  if (ev->has_records != cJSON_IsArray(recs) ||
      ev->nrecords !=
          (ev->has_records ? (size_t)cJSON_GetArraySize(recs) : 0)) {
    abort();
  }
  if (ev->has_records) {
    cJSON_ArrayForEach(r, recs) {
      const kefo_wire_record *w = &ev->records[i++];
      const cJSON *data = cJSON_GetObjectItemCaseSensitive(r, "Data");
      same_str(r, "SequenceNumber", w->seq);
      same_str(r, "PartitionKey", w->pk);
      if (cJSON_IsString(data) != (w->data != NULL)) {
        abort();
      }
      /* cJSON's C string stops at an escaped NUL; the span does not. */
      if (w->data != NULL &&
          (strlen(data->valuestring) > w->data_len ||
           memcmp(w->data, data->valuestring, strlen(data->valuestring)) != 0 ||
           (strlen(data->valuestring) < w->data_len &&
            w->data[strlen(data->valuestring)] != '\0'))) {
        abort();
      }
      if (w->arrival_ms != json_ms(cJSON_GetObjectItemCaseSensitive(
                                       r, "ApproximateArrivalTimestamp"),
                                   1000)) {
        abort();
      }
    }
  }
  same_str(root, "ContinuationSequenceNumber", ev->continuation);
  /* GetRecords' NextShardIterator: a string, null, or flagged as bad. */
  same_str(root, "NextShardIterator", ev->next_iterator);
  if (ev->next_iterator_bad !=
      (next != NULL && !cJSON_IsString(next) && !cJSON_IsNull(next))) {
    abort();
  }
  if (ev->continuation_null != cJSON_IsNull(cont) ||
      ev->has_behind != cJSON_IsNumber(behind) ||
      ev->behind_ms != json_ms(behind, 1) ||
      (ev->child_shards != NULL) != cJSON_IsArray(children)) {
    abort();
  }
  if (ev->child_shards != NULL) {
    /* The span is the array's own text: it reads back to the same tree. */
    /* (Printed, not cJSON_Compare: that finds a repeated name's first
       member for both, so a tree with one is unequal to itself.) */
    cJSON *c = cJSON_ParseWithLength((const char *)ev->child_shards,
                                     ev->child_shards_len);
    char *a = c ? cJSON_PrintUnformatted(c) : NULL;
    char *b = cJSON_PrintUnformatted(children);
    if (a == NULL || b == NULL || strcmp(a, b) != 0) {
      abort();
    }
    cJSON_free(a);
    cJSON_free(b);
    cJSON_Delete(c);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kefo_records_event ev, again;
  int rv, rv2;

  if (!ready) {
    kefo__records_parser_init(&parser, NULL);
    ready = 1;
  }
  rv = kefo__records_parse(&parser, data, size, &ev);
  if (rv == KEFO_ERR_BAD_RESPONSE) {
    if (parser.error == NULL || parser.error_offset > size) {
      abort();
    }
  } else if (rv == 0) {
    cJSON *root = cJSON_ParseWithLength((const char *)data, size);
    if (!cJSON_IsObject(root)) {
      abort();
    }
    compare(root, &ev);
    cJSON_Delete(root);
    rv2 = kefo__records_parse(&parser, data, size, &again);
    if (rv2 != 0 || again.nrecords != ev.nrecords ||
        again.has_behind != ev.has_behind) {
      abort();
    }
  } else if (rv != KEFO_ERR_NOMEM) {
    abort();
  }
  /* Keep the scratch small between inputs, as a subscription's own. */
  kefo__records_parser_trim(&parser, 64 * 1024);
  return 0;
}
