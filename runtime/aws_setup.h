/*
 * What both the consumer and the producer build from a configuration
 * before they talk to Kinesis: the region and endpoint, the HTTP client,
 * the credentials chain and the signed-call client.
 */
#ifndef KEFO_AWS_SETUP_H
#define KEFO_AWS_SETUP_H

#include <stdint.h>

#include <kefo/kefo.h>

#include "aws/aws_client.h"
#include "aws/credentials.h"
#include "aws/http.h"
#include "base/log.h"

typedef struct kefo_aws_setup {
  kefo_http_client *http;
  kefo_credentials_provider *creds;
  kefo_aws_client *aws;
  kefo_aws_service svc;
  char region[KEFO_REGION_MAX];
} kefo_aws_setup;

/*
 * Fills |out| for Kinesis as |cfg| says (aws.region, aws.endpoint,
 * aws.ca.file, the HTTP timeouts, the credentials keys) on |base|,
 * allocating through |mem|. |arn| (may be NULL) is the ARN of the
 * stream or consumer the calls are for: with aws.region unset, its
 * region is the region. |stream_window| is each HTTP/2 stream's
 * flow-control window; |log| (lent, may be NULL) hears credential
 * refreshes. On failure what was made is freed, and |err| (|errlen|
 * bytes, may be NULL) says why when the region or endpoint is the
 * cause.
 *
 * Returns 0, KEFO_ERR_CONFIG (the region or endpoint cannot be
 * resolved), KEFO_ERR_TLS (the CA file) or KEFO_ERR_NOMEM.
 */
int kefo__aws_setup_kinesis(kefo_aws_setup *out, const kefo_config *cfg,
                            const char *arn, struct event_base *base,
                            const kefo_mem *mem, uint32_t stream_window,
                            const kefo_log *log, char *err, size_t errlen);

/* Frees what kefo__aws_setup_kinesis made; calls must be over. */
void kefo__aws_setup_free(kefo_aws_setup *s);

#endif /* KEFO_AWS_SETUP_H */
