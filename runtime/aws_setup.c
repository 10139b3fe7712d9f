/*
 * The Kinesis client stack from a configuration (see aws_setup.h): one
 * place for the consumer and the producer.
 */
#include "runtime/aws_setup.h"

#include <string.h>

#include "aws/region.h"
#include "base/error.h"
#include "runtime/config.h"

/* A text key, NULL when unset or empty. */
static const char *nonempty(const kefo_config *cfg, const char *key) {
  const char *v = kefo__config_get_str(cfg, key);
  return v && v[0] ? v : NULL;
}

/* The region: aws.region; else |arn|'s, whose region alone can serve
   calls for its stream (before AWS_REGION or a profile's, which name a
   default); else as the SDKs find it. The config's rules refused an
   ARN of another region than aws.region's. */
static int resolve(kefo_aws_setup *out, const kefo_config *cfg, const char *arn,
                   const kefo_mem *mem, char *err, size_t errlen) {
  const char *region = kefo__config_get_str(cfg, KEFO_CFG_AWS_REGION);
  char url[KEFO_ENDPOINT_URL_MAX], arn_region[KEFO_REGION_MAX];
  int rv;

  if ((region == NULL || region[0] == '\0') &&
      kefo__arn_region(arn, arn_region)) {
    region = arn_region;
  }
  rv = kefo__region_resolve_default(
      out->region, region, kefo__config_get_str(cfg, KEFO_CFG_PROFILE_NAME),
      NULL, mem, err, errlen);
  if (rv == 0) {
    rv = kefo__endpoint_resolve(
        url, NULL, KEFO_SERVICE_KINESIS, out->region,
        kefo__config_get_str(cfg, KEFO_CFG_AWS_ENDPOINT), NULL, err, errlen);
  }
  if (rv == 0) {
    rv = kefo__aws_service_kinesis(&out->svc, url, out->region);
  }
  return rv;
}

static int credentials(kefo_aws_setup *out, const kefo_config *cfg,
                       struct event_base *base, const kefo_mem *mem,
                       const kefo_log *log) {
  kefo_credentials_options copts;

  memset(&copts, 0, sizeof(copts));
  kefo__credentials_transport_client(&copts.transport, out->http);
  copts.mem = mem;
  copts.base = base;
  copts.log = log;
  copts.region = out->region;
  copts.profile = nonempty(cfg, KEFO_CFG_PROFILE_NAME);
  if (kefo__config_get_enum(cfg, KEFO_CFG_CREDENTIALS_PROVIDER) ==
      KEFO_CREDENTIALS_BASIC) {
    copts.access_key_id = kefo__config_get_str(cfg, KEFO_CFG_ACCESS_KEY_ID);
    copts.secret_access_key = kefo__config_get_str(cfg, KEFO_CFG_SECRET_KEY);
  }
  return kefo__credentials_default_new(&out->creds, &copts);
}

int kefo__aws_setup_kinesis(kefo_aws_setup *out, const kefo_config *cfg,
                            const char *arn, struct event_base *base,
                            const kefo_mem *mem, uint32_t stream_window,
                            const kefo_log *log, char *err, size_t errlen) {
  kefo_http_client_options hopts;
  int rv;

  memset(out, 0, sizeof(*out));
  kefo__set_err(err, errlen, "%s", "");
  if ((rv = resolve(out, cfg, arn, mem, err, errlen)) != 0) {
    return rv;
  }
  kefo__http_client_options_init(&hopts);
  hopts.mem = mem;
  hopts.ca_file = nonempty(cfg, KEFO_CFG_AWS_CA_FILE);
  hopts.stream_window = stream_window;
  hopts.request_timeout_ms =
      (uint32_t)kefo__config_get_ms(cfg, KEFO_CFG_HTTP_REQUEST_TIMEOUT);
  hopts.connect_timeout_ms = hopts.tls_timeout_ms =
      (uint32_t)kefo__config_get_ms(cfg, KEFO_CFG_HTTP_CONNECT_TIMEOUT);
  rv = kefo__http_client_new(&out->http, base, &hopts);
  if (rv == 0) {
    rv = credentials(out, cfg, base, mem, log);
  }
  if (rv == 0) {
    rv =
        kefo__aws_client_new(&out->aws, base, out->http, out->creds, NULL, mem);
  }
  if (rv != 0) {
    kefo__aws_setup_free(out);
  }
  return rv;
}

void kefo__aws_setup_free(kefo_aws_setup *s) {
  kefo__aws_client_del(s->aws);
  kefo__credentials_provider_del(s->creds);
  kefo__http_client_del(s->http);
  s->aws = NULL;
  s->creds = NULL;
  s->http = NULL;
}
