/*
 * Test credentials and loop helpers shared by the AWS test programs.
 */
#include "tests/aws_test_util.h"

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

static const kefo_credentials_provider_ops creds_ops = {creds_get, creds_del};
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
