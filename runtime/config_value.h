/*
 * Configuration values: what each type of key accepts (durations and sizes
 * with units, ISO 8601 times, URLs, names and ARNs), checked against the
 * key's limits, with the reason of a refusal. Used by the configuration's
 * own files (runtime/config*.c) only.
 */
#ifndef KEFO_CONFIG_VALUE_H
#define KEFO_CONFIG_VALUE_H

#include <stddef.h>
#include <stdint.h>

#define MS_SEC 1000LL
#define MS_MIN (60 * MS_SEC)
#define MS_HOUR (60 * MS_MIN)
#define MS_DAY (24 * MS_HOUR)
#define KIB 1024LL
#define MIB (1024 * KIB)

/* 9999-12-31T23:59:59.999Z: AWS timestamps go no further. */
#define TIME_MAX_MS 253402300799999LL

/* How much of a bad value an error message shows. */
#define SHOW_MAX 48

typedef enum {
  T_STR,
  T_URL,
  T_ENUM,
  T_BOOL,
  T_DURATION,
  T_INT,
  T_SIZE,
  T_TIME
} kefo_config_value_type;

/* Extra rules for text values, on top of "no control characters". */
typedef enum {
  S_PATH,   /* anything printable */
  S_TOKEN,  /* no white space */
  S_NAME,   /* Kinesis stream and consumer names */
  S_TABLE,  /* DynamoDB table names */
  S_REGION, /* us-east-1 */
  S_ARN,    /* arn:partition:service:region:account:resource */
  S_SESSION /* STS role session names */
} kefo_config_text_rule;

#define F_SECRET 1u

typedef struct kefo_config_key_def {
  const char *name;
  kefo_config_value_type type;
  /* The default as text; NULL: none. */
  const char *def;
  /* Numeric range, or the length range of text. */
  int64_t min, max;
  /* T_ENUM: the values, NULL-terminated. */
  const char *const *choices;
  kefo_config_text_rule rule;
  unsigned flags;
  /* What the key does, for kefo-config(5); never NULL or empty. */
  const char *doc;
} kefo_config_key_def;

static inline int kefo__config_lower(int c) {
  return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Equal ignoring ASCII case; |b| is NUL-terminated. */
int kefo__config_value_eq_nocase(const char *a, size_t alen, const char *b);

/* Writes |s| quoted, cut and with unprintable bytes as '?', into |out|
   (at least SHOW_MAX + 6 bytes), for error messages. */
void kefo__config_value_show(char *out, const char *s, size_t len);

/* Write |ms| or |n| in the largest unit that divides it exactly. */
void kefo__config_value_fmt_duration(char *out, size_t outlen, int64_t ms);
void kefo__config_value_fmt_size(char *out, size_t outlen, int64_t n);

/*
 * Parses |v| (|len| bytes, trimmed) for key |k| into |*num| and, for enums
 * and booleans, the canonical spelling |*canon|. On error writes the
 * reason, without the key, to |why|. Returns 0 or KEFO_ERR_CONFIG.
 */
int kefo__config_value_parse(const kefo_config_key_def *k, const char *v,
                             size_t len, int64_t *num, const char **canon,
                             char *why, size_t whylen);

#endif /* KEFO_CONFIG_VALUE_H */
