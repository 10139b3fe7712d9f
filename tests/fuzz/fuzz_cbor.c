/*
 * libFuzzer target for CBOR answers, differential. Oracles: an item the
 * converter accepts is valid JSON to cJSON and is passed over whole by
 * kefo__cbor_skip; a PutRecords answer read straight from CBOR
 * (kefo__put_answer_parse_cbor) gives as many entries as its JSON text
 * read by the JSON reader whenever both accept, every field it reads
 * equal to that route's, and is accepted whenever the JSON route accepts
 * (but for strings holding a NUL, which only the straight reader
 * refuses). A field the straight reader leaves absent may be present on
 * the JSON route: a byte string there is not text, and the converter
 * makes base64 text of it (the fuzzer's third finding, in the oracle).
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/put_answer_cbor.h"
#include "base/cbor.h"
#include "tests/fuzz/fuzz.h"

/* |c| (the straight reader's) is absent or equal to |j|. */
static int same_str(const char *c, const char *j) {
  return c == NULL || (j && strcmp(c, j) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kefo_records_parser pc, pj;
  const kefo_put_answer_entry *ec = NULL, *ej = NULL;
  size_t nc = 0, nj = 0, i;
  const uint8_t *p = data;
  const char *skip_err;
  kefo_buf json;
  char err[200];
  int rconv, rc, rj = -1;

  kefo__buf_init(&json, NULL);
  rconv = kefo__cbor_to_json(data, size, 1u << 24, &json, err, sizeof(err));
  skip_err = kefo__cbor_skip(&p, data + size, KEFO_CBOR_MAX_DEPTH);
  if (rconv == 0) {
    cJSON *j = cJSON_ParseWithLength((const char *)json.data, json.len);
    if (j == NULL || skip_err != NULL || p != data + size) {
      abort();
    }
    cJSON_Delete(j);
  }
  kefo__records_parser_init(&pc, NULL);
  kefo__records_parser_init(&pj, NULL);
  rc = kefo__put_answer_parse_cbor(&pc, data, size, 500, &ec, &nc);
  if (rconv == 0) {
    rj =
        kefo__records_put_answer_parse(&pj, json.data, json.len, 500, &ej, &nj);
  }
  if (rc == 0 && rj == 0) {
    if (nc != nj) {
      abort();
    }
    for (i = 0; i < nc; ++i) {
      if (!same_str(ec[i].sequence_number, ej[i].sequence_number) ||
          !same_str(ec[i].shard_id, ej[i].shard_id) ||
          !same_str(ec[i].error_code, ej[i].error_code) ||
          !same_str(ec[i].error_message, ej[i].error_message)) {
        abort();
      }
    }
  }
  if (rj == 0 && rc != 0 && strstr(pc.error, "NUL") == NULL) {
    abort();
  }
  kefo__records_parser_free(&pc);
  kefo__records_parser_free(&pj);
  kefo__buf_free(&json);
  return 0;
}
