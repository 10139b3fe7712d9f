/*
 * Region and endpoint resolution as the AWS SDKs do it: the region from
 * kefo's config, AWS_REGION, AWS_DEFAULT_REGION or the profile; the
 * endpoint of Kinesis, DynamoDB and STS from an explicit URL, the
 * AWS_ENDPOINT_URL_<SERVICE> and AWS_ENDPOINT_URL variables, or the
 * region's partition.
 */
#ifndef KEFO_REGION_H
#define KEFO_REGION_H

#include <stddef.h>

#include <kefo/kefo.h>

#include "aws/http.h"
#include "aws/profile_file.h"

/* Room for a region name and its NUL; names are at most 63 bytes. */
#define KEFO_REGION_MAX 64
/* Room for an endpoint URL and its NUL. */
#define KEFO_ENDPOINT_URL_MAX 512

typedef enum {
  KEFO_SERVICE_KINESIS = 0,
  KEFO_SERVICE_DYNAMODB = 1,
  KEFO_SERVICE_STS = 2
} kefo_service_id;

/* Returns 1 when |region| looks like a region name: 1 to 63 of
   [a-z0-9-], starting and ending with a letter or digit. */
int kefo__region_valid(const char *region);

/*
 * Resolves the region into |out| (KEFO_REGION_MAX bytes): |configured|
 * (aws.region) when not NULL, else AWS_REGION, else AWS_DEFAULT_REGION,
 * else the "region" of profile |profile_name| in |profiles| (both may be
 * NULL: no profile step). |env| NULL is the process environment.
 *
 * Returns 0 or KEFO_ERR_CONFIG, with |err| saying what was wrong: no
 * region anywhere (listing where it was looked for), or a value that is
 * not a region name (naming where it came from).
 */
int kefo__region_resolve(char *out, const char *configured, const kefo_env *env,
                         const kefo_profile_set *profiles,
                         const char *profile_name, char *err, size_t errlen);

/*
 * As kefo__region_resolve, loading the shared files (through |mem|) only
 * when neither |configured| nor the environment gives a region. The
 * profile is |profile_name|, or AWS_PROFILE, or "default".
 *
 * Returns 0, KEFO_ERR_CONFIG (as above, or a shared file does not parse)
 * or KEFO_ERR_NOMEM.
 */
int kefo__region_resolve_default(char *out, const char *configured,
                                 const char *profile_name, const kefo_env *env,
                                 const kefo_mem *mem, char *err, size_t errlen);

/*
 * Copies the region of |arn| ("arn:PARTITION:SERVICE:REGION:ACCOUNT:..."),
 * its fourth field, into |out| (KEFO_REGION_MAX bytes). A stream's ARN
 * names the one region whose endpoint serves calls for it.
 *
 * Returns 1, or 0 (|out| empty) when |arn| is NULL, not an ARN, or its
 * region field is empty or not a region name.
 */
int kefo__arn_region(const char *arn, char *out);

/* Returns the service's name as in its host ("kinesis", "dynamodb",
   "sts"), or NULL for an unknown value. */
const char *kefo__service_name(kefo_service_id svc);

/*
 * Resolves the endpoint of |svc| into |url| (KEFO_ENDPOINT_URL_MAX bytes)
 * and |ep| (may be NULL): |configured| (aws.endpoint) when not NULL, else
 * AWS_ENDPOINT_URL_KINESIS / _DYNAMODB / _STS, else AWS_ENDPOINT_URL
 * (both ignored when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is "true"), else
 * "https://<service>.<region>.amazonaws.com" (".amazonaws.com.cn" for
 * "cn-" regions). STS without a region, or with "aws-global", is the
 * global "https://sts.amazonaws.com". An explicit URL must be
 * "http[s]://host[:port][/]".
 *
 * Returns 0 or KEFO_ERR_CONFIG, with |err| naming the source of a bad
 * URL ("AWS_ENDPOINT_URL_KINESIS is not an http:// or https:// URL with
 * only a host and port: ...") or saying that the region is missing or
 * invalid.
 */
int kefo__endpoint_resolve(char *url, kefo_endpoint *ep, kefo_service_id svc,
                           const char *region, const char *configured,
                           const kefo_env *env, char *err, size_t errlen);

#endif /* KEFO_REGION_H */
