/*
 * Test credentials and loop helpers shared by the AWS test programs.
 */
#include "tests/support/aws_test_util.h"

#include <stdio.h>

static int creds_get(kefo_credentials_provider *p, kefo_credentials_cb cb,
                     void *ud) {
  kefo_credentials c = {"AKIDKEFOTEST", KEFO_TEST_SECRET, NULL, 0};
  (void)p;
  cb(0, &c, NULL, ud);
  return 0;
}

static void creds_del(kefo_credentials_provider *p) {
  (void)p;
}

static const kefo_credentials_provider_ops creds_ops = {creds_get, creds_del,
                                                        NULL};
static kefo_credentials_provider creds = {&creds_ops, "test"};

kefo_credentials_provider *kefo_test_credentials(void) {
  return &creds;
}

void kefo_test_run_until(struct event_base *base, int *flag, int ms) {
  struct timeval tv = {0, 10000};
  int i;

  for (i = 0; i < ms / 10 && !*flag; ++i) {
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
  }
}

int kefo_test_consumer_config(kefo_config *cfg, const char *url,
                              const char *stream, const char *reader,
                              const char *name) {
  const char *const kv[] = {
      "source.stream.name",
      stream,
      "source.reader.type",
      reader,
      "source.efo.consumer.name",
      name,
      "source.init.position",
      "TRIM_HORIZON",
      "aws.region",
      "us-east-1",
      "aws.endpoint",
      url,
      "aws.credentials.provider",
      "BASIC",
      "aws.credentials.provider.basic.accesskeyid",
      "AKIDKEFOTEST",
      "aws.credentials.provider.basic.secretkey",
      KEFO_TEST_SECRET,
      "source.efo.describe.retry-strategy.delay.min",
      "50ms",
      "source.efo.describe.retry-strategy.delay.max",
      "200ms",
      "source.lease.store",
      "memory",
  };
  char err[256];
  size_t i;
  int rv;

  for (i = 0; i < sizeof(kv) / sizeof(kv[0]); i += 2) {
    rv = kefo_config_set2(cfg, kv[i], kv[i + 1], err, sizeof(err));
    if (rv != 0) {
      printf("test config: %s\n", err);
      return rv;
    }
  }
  return 0;
}
