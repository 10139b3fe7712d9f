/*
 * Endpoint URLs: what is accepted, the authority signed and sent, and what
 * is refused with KEFO_ERR_CONFIG. Also the AWS error classification.
 */
#include <string.h>

#include <CUnit/CUnit.h>
#include <cjson/cJSON.h>

#include "aws/aws_client.h"
#include "aws/http.h"
#include "tests/unit/suites.h"

static void check(const char *url, int tls, const char *host, unsigned port,
                  const char *authority) {
  kefo_endpoint ep;

  CU_ASSERT_EQUAL_FATAL(kefo__endpoint_parse(&ep, url), 0);
  CU_ASSERT_EQUAL(ep.tls, tls);
  CU_ASSERT_STRING_EQUAL(ep.host, host);
  CU_ASSERT_EQUAL(ep.port, port);
  CU_ASSERT_STRING_EQUAL(ep.authority, authority);
}

static void test_parse(void) {
  kefo_endpoint ep;

  check("https://kinesis.us-east-1.amazonaws.com", 1,
        "kinesis.us-east-1.amazonaws.com", 443,
        "kinesis.us-east-1.amazonaws.com");
  check("https://kinesis.cn-north-1.amazonaws.com.cn/", 1,
        "kinesis.cn-north-1.amazonaws.com.cn", 443,
        "kinesis.cn-north-1.amazonaws.com.cn");
  check("http://127.0.0.1:4568", 0, "127.0.0.1", 4568, "127.0.0.1:4568");
  check("http://localhost:80", 0, "localhost", 80, "localhost");
  check("https://[::1]:8443", 1, "::1", 8443, "[::1]:8443");
  CU_ASSERT_EQUAL(kefo__endpoint_parse(&ep, "ftp://x"), KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo__endpoint_parse(&ep, "kinesis.amazonaws.com"),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo__endpoint_parse(&ep, "https://"), KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo__endpoint_parse(&ep, "https://h:0"), KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo__endpoint_parse(&ep, "https://h:65536"),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo__endpoint_parse(&ep, "https://h:x"), KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo__endpoint_parse(&ep, "https://h/path"), KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo__endpoint_parse(&ep, "https://user@h"), KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo__endpoint_parse(&ep, "https://[::1"), KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo__endpoint_parse(&ep, NULL), KEFO_ERR_CONFIG);
}

static void test_retryable(void) {
  CU_ASSERT(
      kefo__aws_error_retryable("ProvisionedThroughputExceededException", 400));
  CU_ASSERT(kefo__aws_error_retryable("LimitExceededException", 400));
  CU_ASSERT(kefo__aws_error_retryable(NULL, 503));
  CU_ASSERT(kefo__aws_error_retryable(NULL, 429));
  CU_ASSERT(!kefo__aws_error_retryable("ResourceNotFoundException", 400));
  CU_ASSERT(!kefo__aws_error_retryable("ConditionalCheckFailedException", 400));
  CU_ASSERT(!kefo__aws_error_retryable("AccessDeniedException", 400));
  CU_ASSERT(!kefo__aws_error_retryable(NULL, 400));
  /* Refused credentials: new ones (or a new signature) may cure it. */
  CU_ASSERT(kefo__aws_error_retryable("ExpiredTokenException", 400));
  CU_ASSERT(kefo__aws_error_retryable("InvalidSignatureException", 403));
  CU_ASSERT(kefo__aws_error_credentials("ExpiredTokenException"));
  CU_ASSERT(kefo__aws_error_credentials("RequestExpired"));
  CU_ASSERT(kefo__aws_error_credentials("SignatureDoesNotMatch"));
  /* A key that does not exist, or a right that is missing, stays so. */
  CU_ASSERT(!kefo__aws_error_credentials("UnrecognizedClientException"));
  CU_ASSERT(!kefo__aws_error_credentials("AccessDeniedException"));
  CU_ASSERT(!kefo__aws_error_credentials(NULL));
  CU_ASSERT(!kefo__aws_error_retryable("UnrecognizedClientException", 400));
}

/* A server's error text reaches logs without control bytes. */
static void test_error_text(void) {
  cJSON *j = cJSON_Parse("{\"__type\":\"ns#Bad\\nType\",\"message\":"
                         "\"line\\nforged \\u001b[31m\\u007f\"}");
  kefo_error_info info;
  char msg[256];

  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  memset(&info, 0, sizeof(info));
  kefo__aws_error_from_json(&info, msg, sizeof(msg), "GetRecords", 400, j);
  CU_ASSERT_STRING_EQUAL(info.message, "GetRecords failed: HTTP 400 "
                                       "Bad?Type: line?forged ?[31m?");
  CU_ASSERT_EQUAL(info.retryable, 0);
  cJSON_Delete(j);
}

static void test_services(void) {
  kefo_aws_service s;

  CU_ASSERT_EQUAL(
      kefo__aws_service_kinesis(&s, "https://kinesis.eu-west-1.amazonaws.com",
                                "eu-west-1"),
      0);
  CU_ASSERT_EQUAL(s.version, KEFO_HTTP_2);
  CU_ASSERT_STRING_EQUAL(s.content_type, "application/x-amz-json-1.1");
  CU_ASSERT_EQUAL(
      kefo__aws_service_dynamodb(&s, "http://127.0.0.1:8000", "us-east-1"), 0);
  CU_ASSERT_EQUAL(s.version, KEFO_HTTP_1_1);
  CU_ASSERT_STRING_EQUAL(s.content_type, "application/x-amz-json-1.0");
  CU_ASSERT_EQUAL(kefo__aws_service_kinesis(&s, "https://k", "US EAST"),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo__aws_service_kinesis(&s, "https://k", ""),
                  KEFO_ERR_CONFIG);
  /* The same rule as kefo__region_valid: no hyphen at either end. */
  CU_ASSERT_EQUAL(kefo__aws_service_kinesis(&s, "https://k", "us-east-1-"),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo__aws_service_dynamodb(&s, "https://k", "-us-east-1"),
                  KEFO_ERR_CONFIG);
}

int kefo_add_endpoint_suite(void) {
  CU_pSuite s = CU_add_suite("endpoint", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "parse", test_parse) ||
      !CU_add_test(s, "retryable", test_retryable) ||
      !CU_add_test(s, "error_text", test_error_text) ||
      !CU_add_test(s, "services", test_services)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
