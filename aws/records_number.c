/*
 * JSON numbers of Kinesis answers as doubles without strtod where that is
 * exact (Clinger's fast path), and seconds as clamped milliseconds: the
 * arithmetic of the records reader, apart from its grammar.
 */
#include "aws/records_number.h"

int kefo__records_number(const uint8_t *s, size_t n, double *out) {
  static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const uint8_t *p = s, *end = s + n;
  uint64_t m = 0;
  int sig = 0, frac = 0, neg = 0, e = 0, eneg = 0, net;
  double v;

  /*
   * Clinger's fast path (1990): with at most 15 significant digits the
   * digits are an exact double, and so is 10^k for k <= 22, so one
   * multiplication or division, which IEEE 754 rounds correctly, gives
   * the correctly rounded value, as strtod would. Arrival timestamps
   * (13 digits) always take it; strtod was 2% of the EFO reader's CPU.
   */
  if (p < end && *p == '-') {
    neg = 1;
    ++p;
  }
  for (; p < end && *p >= '0' && *p <= '9'; ++p) {
    m = m * 10 + (uint64_t)(*p - '0');
    sig += m != 0;
  }
  if (p < end && *p == '.') {
    for (++p; p < end && *p >= '0' && *p <= '9'; ++p) {
      m = m * 10 + (uint64_t)(*p - '0');
      sig += m != 0;
      ++frac;
      if (sig > 15) {
        break;
      }
    }
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    ++p;
    if (p < end && (*p == '+' || *p == '-')) {
      eneg = *p == '-';
      ++p;
    }
    for (; p < end && *p >= '0' && *p <= '9' && e < 1000; ++p) {
      e = e * 10 + (*p - '0');
    }
  }
  if (p != end || sig > 15) {
    return -1;
  }
  net = (eneg ? -e : e) - frac;
  if (net < -22 || net > 22) {
    return -1;
  }
  v = (double)m;
  v = net < 0 ? v / pow10[-net] : v * pow10[net];
  *out = neg ? -v : v;
  return 0;
}

int64_t kefo__records_ms(double v, double scale) {
  v *= scale;
  /* Written so that NaN lands on 0 too. */
  if (!(v > 0)) {
    return 0;
  }
  return v < 9007199254740992.0 ? (int64_t)v : INT64_C(9007199254740992);
}
