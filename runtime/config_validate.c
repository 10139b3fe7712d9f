/*
 * The rules between configuration keys, checked once every key is set:
 * kefo_config_validate. Each key's own value was checked when it was set
 * (runtime/config.c), so these read the typed getters only.
 */
#include "runtime/config.h"

#include <string.h>

#include "aws/region.h"
#include "base/error.h"
#include "runtime/config_value.h"

/*
 * Non-zero when |arn| is a Kinesis ARN whose resource (after the fifth
 * ':') is "stream/NAME" (|consumer| 0) or "stream/NAME/consumer/NAME:EPOCH"
 * (|consumer| 1). The generic ARN rule checked its shape already.
 */
static int kinesis_arn_is(const char *arn, int consumer) {
  const char *p = arn, *name, *slash;
  char region[KEFO_REGION_MAX];
  int colons = 0;

  /* A stream's ARN always names its region; without one (or with one
     that is no region's name) the calls would go to whatever region the
     environment says, and fail there as "not found". */
  if (strncmp(arn, "arn:", 4) != 0 || !kefo__arn_region(arn, region)) {
    return 0;
  }
  while (*p && colons < 5) {
    if (*p++ == ':') {
      ++colons;
      if (colons == 2 && strncmp(p, "kinesis:", 8) != 0) {
        return 0;
      }
    }
  }
  if (colons < 5 || strncmp(p, "stream/", 7) != 0) {
    return 0;
  }
  name = p + 7;
  slash = strchr(name, '/');
  if (!consumer) {
    return name[0] != '\0' && slash == NULL;
  }
  return slash != NULL && slash > name &&
         strncmp(slash, "/consumer/", 10) == 0 && slash[10] != '\0' &&
         slash[10] != ':' && strchr(slash + 10, '/') == NULL;
}

/*
 * The ARNs of |keys| (those set) in one region, and in aws.region's when
 * that is set: a call for a stream goes to the endpoint of the region
 * its ARN names, so an ARN of another region could only fail there (and
 * with aws.region unset, the ARN's region is the one used).
 */
static int check_arn_regions(const kefo_config *cfg, const char *const *keys,
                             size_t n, char *err, size_t errlen) {
  const char *region = kefo__config_get_str(cfg, KEFO_CFG_AWS_REGION);
  const char *first = NULL;
  char first_region[KEFO_REGION_MAX], r[KEFO_REGION_MAX];
  size_t i;

  for (i = 0; i < n; ++i) {
    if (!kefo_config_is_set(cfg, keys[i]) ||
        !kefo__arn_region(kefo__config_get_str(cfg, keys[i]), r)) {
      continue;
    }
    if (region && region[0] && strcmp(r, region) != 0) {
      kefo__set_err(err, errlen,
                    "%s: the ARN is in region %s, but %s is %s (calls for "
                    "a stream go to its own region; leave %s unset to take "
                    "the ARN's)",
                    keys[i], r, KEFO_CFG_AWS_REGION, region,
                    KEFO_CFG_AWS_REGION);
      return KEFO_ERR_CONFIG;
    }
    if (first && strcmp(r, first_region) != 0) {
      kefo__set_err(err, errlen,
                    "%s: the ARN is in region %s, but %s is in %s (a "
                    "consumer is in its stream's region)",
                    keys[i], r, first, first_region);
      return KEFO_ERR_CONFIG;
    }
    if (!first) {
      first = keys[i];
      memcpy(first_region, r, sizeof(r));
    }
  }
  return 0;
}

/* A stream named once, by |name_key| or by |arn_key|, and the ARN shaped
   as a stream's: the source's keys and the sink's. */
static int check_named_once(const kefo_config *cfg, const char *name_key,
                            const char *arn_key, char *err, size_t errlen) {
  int has_name = kefo_config_is_set(cfg, name_key);
  int has_arn = kefo_config_is_set(cfg, arn_key);

  if (!has_name && !has_arn) {
    kefo__set_err(err, errlen, "%s: required (or %s)", arn_key, name_key);
    return KEFO_ERR_CONFIG;
  }
  if (has_name && has_arn) {
    kefo__set_err(err, errlen,
                  "%s and %s: give one, not both (the ARN names the stream "
                  "already)",
                  name_key, arn_key);
    return KEFO_ERR_CONFIG;
  }
  if (has_arn && !kinesis_arn_is(kefo__config_get_str(cfg, arn_key), 0)) {
    kefo__set_err(err, errlen,
                  "%s: \"%s\" is not a stream's ARN "
                  "(arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME)",
                  arn_key, kefo__config_get_str(cfg, arn_key));
    return KEFO_ERR_CONFIG;
  }
  return 0;
}

/* The stream, named once (by name or by ARN), and the ARNs given shaped
   as a stream's and a consumer's. */
static int check_stream(const kefo_config *cfg, char *err, size_t errlen) {
  int rv = check_named_once(cfg, KEFO_CFG_STREAM_NAME, KEFO_CFG_STREAM_ARN, err,
                            errlen);

  if (rv != 0) {
    return rv;
  }
  if (kefo_config_is_set(cfg, KEFO_CFG_EFO_CONSUMER_ARN) &&
      !kinesis_arn_is(kefo__config_get_str(cfg, KEFO_CFG_EFO_CONSUMER_ARN),
                      1)) {
    kefo__set_err(err, errlen,
                  "%s: \"%s\" is not a stream consumer's ARN "
                  "(arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME/consumer/"
                  "NAME:EPOCH)",
                  KEFO_CFG_EFO_CONSUMER_ARN,
                  kefo__config_get_str(cfg, KEFO_CFG_EFO_CONSUMER_ARN));
    return KEFO_ERR_CONFIG;
  }
  {
    static const char *const arns[] = {KEFO_CFG_STREAM_ARN,
                                       KEFO_CFG_EFO_CONSUMER_ARN};
    return check_arn_regions(cfg, arns, 2, err, errlen);
  }
}

/* What the starting position and the EFO lifecycle need. */
static int check_reader(const kefo_config *cfg, char *err, size_t errlen) {
  if (kefo__config_get_enum(cfg, KEFO_CFG_INIT_POSITION) ==
          KEFO_POSITION_AT_TIMESTAMP &&
      !kefo_config_is_set(cfg, KEFO_CFG_INIT_TIMESTAMP)) {
    kefo__set_err(err, errlen, "%s: required when %s is AT_TIMESTAMP",
                  KEFO_CFG_INIT_TIMESTAMP, KEFO_CFG_INIT_POSITION);
    return KEFO_ERR_CONFIG;
  }
  if (kefo__config_get_enum(cfg, KEFO_CFG_READER_TYPE) == KEFO_READER_EFO) {
    int lc = kefo__config_get_enum(cfg, KEFO_CFG_EFO_LIFECYCLE);
    if (lc == KEFO_LIFECYCLE_JOB_MANAGED &&
        !kefo_config_is_set(cfg, KEFO_CFG_EFO_CONSUMER_NAME)) {
      kefo__set_err(err, errlen,
                    "%s: required when %s is EFO and %s is JOB_MANAGED",
                    KEFO_CFG_EFO_CONSUMER_NAME, KEFO_CFG_READER_TYPE,
                    KEFO_CFG_EFO_LIFECYCLE);
      return KEFO_ERR_CONFIG;
    }
    if (lc == KEFO_LIFECYCLE_JOB_MANAGED &&
        kefo_config_is_set(cfg, KEFO_CFG_EFO_CONSUMER_ARN)) {
      /* Ignoring it would register a consumer of our own beside the one
         the application meant to use. */
      kefo__set_err(err, errlen,
                    "%s: given, but %s is JOB_MANAGED (a consumer is "
                    "registered by name); set %s=SELF_MANAGED to read with "
                    "this consumer",
                    KEFO_CFG_EFO_CONSUMER_ARN, KEFO_CFG_EFO_LIFECYCLE,
                    KEFO_CFG_EFO_LIFECYCLE);
      return KEFO_ERR_CONFIG;
    }
    if (lc == KEFO_LIFECYCLE_SELF_MANAGED &&
        !kefo_config_is_set(cfg, KEFO_CFG_EFO_CONSUMER_ARN)) {
      kefo__set_err(err, errlen,
                    "%s: required when %s is EFO and %s is SELF_MANAGED",
                    KEFO_CFG_EFO_CONSUMER_ARN, KEFO_CFG_READER_TYPE,
                    KEFO_CFG_EFO_LIFECYCLE);
      return KEFO_ERR_CONFIG;
    }
  }
  return 0;
}

static int check_leases(const kefo_config *cfg, char *err, size_t errlen) {
  if (kefo__config_get_enum(cfg, KEFO_CFG_LEASE_STORE) ==
          KEFO_LEASE_STORE_DYNAMODB &&
      !kefo_config_is_set(cfg, KEFO_CFG_LEASE_TABLE)) {
    kefo__set_err(err, errlen, "%s: required when %s is dynamodb",
                  KEFO_CFG_LEASE_TABLE, KEFO_CFG_LEASE_STORE);
    return KEFO_ERR_CONFIG;
  }
  if (kefo_config_is_set(cfg, KEFO_CFG_LEASE_RENEWAL_INTERVAL) &&
      kefo__config_get_ms(cfg, KEFO_CFG_LEASE_RENEWAL_INTERVAL) >=
          kefo__config_get_ms(cfg, KEFO_CFG_LEASE_DURATION)) {
    kefo__set_err(err, errlen,
                  "%s: must be shorter than %s, or leases expire between "
                  "renewals",
                  KEFO_CFG_LEASE_RENEWAL_INTERVAL, KEFO_CFG_LEASE_DURATION);
    return KEFO_ERR_CONFIG;
  }
  return 0;
}

/* The keys the chosen credentials provider needs. */
static int check_credentials(const kefo_config *cfg, char *err, size_t errlen) {
  int provider;

  provider = kefo__config_get_enum(cfg, KEFO_CFG_CREDENTIALS_PROVIDER);
  if (provider == KEFO_CREDENTIALS_BASIC) {
    const char *missing = !kefo_config_is_set(cfg, KEFO_CFG_ACCESS_KEY_ID)
                              ? KEFO_CFG_ACCESS_KEY_ID
                          : !kefo_config_is_set(cfg, KEFO_CFG_SECRET_KEY)
                              ? KEFO_CFG_SECRET_KEY
                              : NULL;
    if (missing != NULL) {
      kefo__set_err(err, errlen, "%s: required when %s is BASIC", missing,
                    KEFO_CFG_CREDENTIALS_PROVIDER);
      return KEFO_ERR_CONFIG;
    }
  }
  if (provider == KEFO_CREDENTIALS_ASSUME_ROLE &&
      !kefo_config_is_set(cfg, KEFO_CFG_ROLE_ARN)) {
    kefo__set_err(err, errlen, "%s: required when %s is ASSUME_ROLE",
                  KEFO_CFG_ROLE_ARN, KEFO_CFG_CREDENTIALS_PROVIDER);
    return KEFO_ERR_CONFIG;
  }
  return 0;
}

static int check_retry_delays(const kefo_config *cfg, char *err,
                              size_t errlen) {
  static const char *const retry[][2] = {
      {KEFO_CFG_RETRY_MIN_DELAY, KEFO_CFG_RETRY_MAX_DELAY},
      {KEFO_CFG_EFO_DESCRIBE_MIN_DELAY, KEFO_CFG_EFO_DESCRIBE_MAX_DELAY}};
  size_t i;

  for (i = 0; i < sizeof(retry) / sizeof(retry[0]); ++i) {
    int64_t lo = kefo__config_get_ms(cfg, retry[i][0]);
    int64_t hi = kefo__config_get_ms(cfg, retry[i][1]);
    if (lo > hi) {
      char a[32], b[32];
      kefo__config_value_fmt_duration(a, sizeof(a), lo);
      kefo__config_value_fmt_duration(b, sizeof(b), hi);
      kefo__set_err(err, errlen, "%s: %s is more than %s (%s)", retry[i][0], a,
                    retry[i][1], b);
      return KEFO_ERR_CONFIG;
    }
  }
  return 0;
}

int kefo_config_validate(const kefo_config *cfg, char *err, size_t errlen) {
  int rv;

  kefo__set_err(err, errlen, "%s", "");
  if (cfg == NULL) {
    kefo__set_err(err, errlen, "invalid argument");
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  /* The first failed check is the one reported, in this order. */
  if ((rv = check_stream(cfg, err, errlen)) != 0 ||
      (rv = check_reader(cfg, err, errlen)) != 0 ||
      (rv = check_leases(cfg, err, errlen)) != 0 ||
      (rv = check_credentials(cfg, err, errlen)) != 0 ||
      (rv = check_retry_delays(cfg, err, errlen)) != 0) {
    return rv;
  }
  return 0;
}

int kefo__config_validate_sink(const kefo_config *cfg, char *err,
                               size_t errlen) {
  static const char *const arn[] = {KEFO_CFG_SINK_STREAM_ARN};
  int rv;

  kefo__set_err(err, errlen, "%s", "");
  rv = check_named_once(cfg, KEFO_CFG_SINK_STREAM_NAME,
                        KEFO_CFG_SINK_STREAM_ARN, err, errlen);
  return rv != 0 ? rv : check_arn_regions(cfg, arn, 1, err, errlen);
}
