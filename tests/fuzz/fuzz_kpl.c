/*
 * libFuzzer target for KPL de-aggregation. Each input is tried twice: as
 * a record's data blob as is (magic, checksum and pass-through paths),
 * and as the protobuf of an aggregate wrapped with the magic and a
 * correct MD5, so mutations reach the protobuf reader instead of dying
 * at the checksum. Oracles: every byte handed out lies inside the blob
 * (and is read, for ASan), sub-sequence numbers count up from 0, hash
 * keys agree with their decimal strings, and the range rule drops all
 * records exactly when one of them lies outside the range.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tests/fuzz/fuzz.h"
#include "shard/kpl.h"

typedef struct fuzz_run {
  const uint8_t *blob;
  size_t len;
  const char *pk;
  size_t pk_len;
  const kefo_hash_range *range;
  size_t calls;
  /* Some record's hash key is invalid or outside |range|. */
  int outside;
} fuzz_run;

static volatile uint8_t sink;

static void touch(const void *p, size_t len) {
  const uint8_t *b = p;
  uint8_t x = 0;
  size_t i;

  for (i = 0; i < len; ++i) {
    x ^= b[i];
  }
  sink ^= x;
}

static int inside(const void *p, size_t len, const void *base,
                  size_t base_len) {
  const uint8_t *q = p, *b = base;
  return len == 0 || (q != NULL && b != NULL && q >= b && len <= base_len &&
                      (size_t)(q - b) <= base_len - len);
}

static int on_record(const kefo_kpl_record *rec, void *user_data) {
  fuzz_run *run = user_data;
  kefo_hash_key k;
  char dec[KEFO_HASH_KEY_DEC_LEN];

  if (rec->sub_sequence_number != run->calls++ ||
      !inside(rec->data, rec->data_len, run->blob, run->len)) {
    abort();
  }
  touch(rec->data, rec->data_len);
  touch(rec->partition_key, rec->partition_key_len);
  touch(rec->explicit_hash_key, rec->explicit_hash_key_len);
  if (rec->aggregated) {
    if (!inside(rec->partition_key, rec->partition_key_len, run->blob,
                run->len) ||
        !inside(rec->explicit_hash_key, rec->explicit_hash_key_len, run->blob,
                run->len)) {
      abort();
    }
  } else if (rec->data != run->blob || rec->data_len != run->len ||
             rec->partition_key != run->pk || rec->explicit_hash_key) {
    abort();
  }
  if (!rec->hash_key_valid) {
    /* Only an explicit hash key that is no number leaves it unset. */
    if (rec->explicit_hash_key == NULL ||
        kefo__hash_key_parse(&k, rec->explicit_hash_key,
                             rec->explicit_hash_key_len) == 0) {
      abort();
    }
    run->outside = 1;
    return 0;
  }
  if (rec->explicit_hash_key != NULL) {
    if (kefo__hash_key_parse(&k, rec->explicit_hash_key,
                             rec->explicit_hash_key_len) != 0 ||
        kefo__hash_key_cmp(&k, &rec->hash_key) != 0) {
      abort();
    }
  }
  kefo__hash_key_format(dec, &rec->hash_key);
  if (kefo__hash_key_parse(&k, dec, strlen(dec)) != 0 ||
      kefo__hash_key_cmp(&k, &rec->hash_key) != 0) {
    abort();
  }
  if (!kefo__hash_range_contains(run->range, &rec->hash_key)) {
    run->outside = 1;
  }
  return 0;
}

static void check_blob(const uint8_t *blob, size_t len,
                       const kefo_hash_range *range) {
  static const char pk[] = "fuzz-pk";
  kefo_kpl_options opts;
  kefo_kpl_result res, res2;
  fuzz_run run;

  memset(&run, 0, sizeof(run));
  run.blob = blob;
  run.len = len;
  run.pk = pk;
  run.pk_len = sizeof(pk) - 1;
  run.range = range;
  opts.flags = KEFO_KPL_HASH_KEYS;
  opts.range = NULL;
  if (kefo__kpl_deaggregate(NULL, blob, len, pk, run.pk_len, &opts, on_record,
                            &run, &res) != 0 ||
      res.delivered != run.calls || res.nrecords != run.calls ||
      res.dropped != 0 || (!res.aggregated && run.calls != 1)) {
    abort();
  }

  /* Again with the range: all or nothing, as the first run predicts. */
  run.calls = 0;
  opts.range = range;
  if (kefo__kpl_deaggregate(NULL, blob, len, pk, run.pk_len, &opts, on_record,
                            &run, &res2) != 0 ||
      res2.aggregated != res.aggregated || res2.nrecords != res.nrecords) {
    abort();
  }
  if (res.aggregated && run.outside) {
    if (res2.dropped != res.nrecords || res2.delivered != 0) {
      abort();
    }
  } else if (res2.dropped != 0 || res2.delivered != res.nrecords) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char half[] = "170141183460469231731687303715884105727";
  static const char top[] = "340282366920938463463374607431768211455";
  kefo_hash_range range;
  kefo_hash_key k;
  uint8_t *wrapped;
  size_t wlen;
  unsigned int mdlen = 0;

  /* A shard that owns one half of the key space, chosen by the input. */
  if (size % 2 == 0) {
    kefo__hash_range_init(&range, "0", 1, half, sizeof(half) - 1);
  } else {
    kefo__hash_range_init(&range, "170141183460469231731687303715884105728", 39,
                          top, sizeof(top) - 1);
  }

  check_blob(data, size, &range);

  /* Exactly sized, so ASan sees any read past the end. */
  if (size > SIZE_MAX - KEFO_KPL_MAGIC_LEN - KEFO_KPL_DIGEST_LEN) {
    return 0;
  }
  wlen = KEFO_KPL_MAGIC_LEN + size + KEFO_KPL_DIGEST_LEN;
  wrapped = malloc(wlen);
  if (wrapped == NULL) {
    return 0;
  }
  wrapped[0] = 0xF3;
  wrapped[1] = 0x89;
  wrapped[2] = 0x9A;
  wrapped[3] = 0xC2;
  if (size > 0) {
    memcpy(wrapped + KEFO_KPL_MAGIC_LEN, data, size);
  }
  if (EVP_Digest(data, size, wrapped + KEFO_KPL_MAGIC_LEN + size, &mdlen,
                 EVP_md5(), NULL) &&
      mdlen == KEFO_KPL_DIGEST_LEN) {
    check_blob(wrapped, wlen, &range);
  }
  free(wrapped);

  /* The decimal parser on raw bytes: whatever it accepts prints back to
     the same value. */
  if (kefo__hash_key_parse(&k, (const char *)data, size < 48 ? size : 48) ==
      0) {
    char dec[KEFO_HASH_KEY_DEC_LEN];
    kefo_hash_key k2;

    kefo__hash_key_format(dec, &k);
    if (kefo__hash_key_parse(&k2, dec, strlen(dec)) != 0 ||
        kefo__hash_key_cmp(&k, &k2) != 0) {
      abort();
    }
  }
  return 0;
}
