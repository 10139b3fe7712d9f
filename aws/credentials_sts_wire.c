/*
 * The STS wire format, with no I/O: the form body of AssumeRole and
 * AssumeRoleWithWebIdentity, and a small bounded scanner for the few XML
 * elements of the response (the credentials, or the error's code and
 * message). aws/credentials_sts.c has the providers that send them.
 */
#include "aws/credentials.h"

#include <stdio.h>
#include <string.h>

#include "base/error.h"

#define STS_VERSION "2011-06-15"
/* The <Message> of an error document is cut to this, so that the whole
   error text fits in the providers' messages (640 bytes). */
#define ERROR_MESSAGE_MAX 320

/* ---- The request body ---- */

static int form_append(kefo_buf *b, const char *key, const char *value) {
  static const char hex[] = "0123456789ABCDEF";
  const unsigned char *v = (const unsigned char *)value;
  int rv;

  if (b->len > 0 && (rv = kefo__buf_append_byte(b, '&')) != 0) {
    return rv;
  }
  if ((rv = kefo__buf_append_str(b, key)) != 0 ||
      (rv = kefo__buf_append_byte(b, '=')) != 0) {
    return rv;
  }
  for (; *v; ++v) {
    unsigned char c = *v;
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      rv = kefo__buf_append_byte(b, c);
    } else {
      char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
      rv = kefo__buf_append(b, enc, 3);
    }
    if (rv != 0) {
      return rv;
    }
  }
  return 0;
}

int kefo__sts_build_body(kefo_buf *out, const kefo_sts_params *p) {
  size_t start;
  int rv, web;
  char dur[16];

  if (out == NULL || p == NULL || p->action == NULL || p->role_arn == NULL ||
      p->role_arn[0] == '\0' || p->session_name == NULL ||
      p->session_name[0] == '\0') {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  web = strcmp(p->action, "AssumeRoleWithWebIdentity") == 0;
  if (!web && strcmp(p->action, "AssumeRole") != 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (web && (p->web_identity_token == NULL || !p->web_identity_token[0])) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  start = out->len;
  /* form_append puts '&' before every pair when the buffer is not empty;
     a fresh body must not start with one. */
  if ((rv = form_append(out, "Action", p->action)) != 0 ||
      (rv = form_append(out, "Version", STS_VERSION)) != 0 ||
      (rv = form_append(out, "RoleArn", p->role_arn)) != 0 ||
      (rv = form_append(out, "RoleSessionName", p->session_name)) != 0) {
    goto fail;
  }
  if (p->duration_s > 0) {
    snprintf(dur, sizeof(dur), "%u", (unsigned)p->duration_s);
    if ((rv = form_append(out, "DurationSeconds", dur)) != 0) {
      goto fail;
    }
  }
  if (!web && p->external_id != NULL && p->external_id[0] != '\0' &&
      (rv = form_append(out, "ExternalId", p->external_id)) != 0) {
    goto fail;
  }
  if (web &&
      (rv = form_append(out, "WebIdentityToken", p->web_identity_token)) != 0) {
    goto fail;
  }
  return 0;

fail:
  if (out->data != NULL) {
    kefo__credentials_wipe(out->data + start, out->len - start);
  }
  out->len = start;
  return rv;
}

/* ---- The response ---- */

static int xml_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Finds the first element |name| in [s, s + len) and its content. No
   namespaces prefixes, comments or CDATA: STS writes none. */
static int xml_find(const char *s, size_t len, const char *name,
                    const char **content, size_t *clen) {
  size_t nlen = strlen(name), i = 0;

  while (i < len) {
    const char *lt = memchr(s + i, '<', len - i), *gt;
    size_t start, j;

    if (lt == NULL) {
      return -1;
    }
    i = (size_t)(lt - s) + 1;
    if (len - i <= nlen || memcmp(s + i, name, nlen) != 0 ||
        !(s[i + nlen] == '>' || s[i + nlen] == '/' || xml_space(s[i + nlen]))) {
      continue;
    }
    gt = memchr(s + i + nlen, '>', len - i - nlen);
    if (gt == NULL) {
      return -1;
    }
    if (gt[-1] == '/') {
      *content = gt;
      *clen = 0;
      return 0;
    }
    start = (size_t)(gt - s) + 1;
    for (j = start; j < len;) {
      const char *lt2 = memchr(s + j, '<', len - j);
      size_t k;

      if (lt2 == NULL) {
        return -1;
      }
      j = (size_t)(lt2 - s) + 1;
      if (len - j < nlen + 2 || s[j] != '/' ||
          memcmp(s + j + 1, name, nlen) != 0) {
        continue;
      }
      for (k = j + 1 + nlen; k < len && xml_space(s[k]); ++k) {
      }
      if (k < len && s[k] == '>') {
        *content = s + start;
        *clen = (size_t)(lt2 - (s + start));
        return 0;
      }
    }
    return -1;
  }
  return -1;
}

static int put_utf8(char *out, size_t outlen, size_t *n, unsigned long cp) {
  char b[4];
  size_t k;

  if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    return -1;
  }
  if (cp < 0x80) {
    b[0] = (char)cp;
    k = 1;
  } else if (cp < 0x800) {
    b[0] = (char)(0xc0 | cp >> 6);
    b[1] = (char)(0x80 | (cp & 0x3f));
    k = 2;
  } else if (cp < 0x10000) {
    b[0] = (char)(0xe0 | cp >> 12);
    b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    b[2] = (char)(0x80 | (cp & 0x3f));
    k = 3;
  } else {
    b[0] = (char)(0xf0 | cp >> 18);
    b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    b[3] = (char)(0x80 | (cp & 0x3f));
    k = 4;
  }
  /* Truncation keeps whole characters. */
  if (*n + k < outlen) {
    memcpy(out + *n, b, k);
    *n += k;
  }
  return 0;
}

/* Decodes the text [s, s + len) (entities, no markup) into |out|,
   truncated to |outlen| - 1 bytes and NUL-terminated, surrounding
   whitespace trimmed. */
static int xml_text(const char *s, size_t len, char *out, size_t outlen) {
  size_t i = 0, n = 0;

  while (len > 0 && xml_space(s[0])) {
    ++s;
    --len;
  }
  while (len > 0 && xml_space(s[len - 1])) {
    --len;
  }
  while (i < len) {
    char c = s[i];
    if (c == '<' || c == '\0') {
      return -1;
    }
    if (c != '&') {
      if (n + 1 < outlen) {
        out[n++] = c;
      }
      ++i;
      continue;
    }
    {
      const char *semi = memchr(s + i, ';', len - i > 12 ? 12 : len - i);
      size_t elen;
      unsigned long cp = 0;

      if (semi == NULL) {
        return -1;
      }
      elen = (size_t)(semi - (s + i)) + 1;
      if (elen == 4 && memcmp(s + i, "&lt;", 4) == 0) {
        cp = '<';
      } else if (elen == 4 && memcmp(s + i, "&gt;", 4) == 0) {
        cp = '>';
      } else if (elen == 5 && memcmp(s + i, "&amp;", 5) == 0) {
        cp = '&';
      } else if (elen == 6 && memcmp(s + i, "&quot;", 6) == 0) {
        cp = '"';
      } else if (elen == 6 && memcmp(s + i, "&apos;", 6) == 0) {
        cp = '\'';
      } else if (elen > 3 && s[i + 1] == '#') {
        size_t k = i + 2;
        int hexa = s[k] == 'x' || s[k] == 'X';
        if (hexa) {
          ++k;
        }
        if (s + k == semi) {
          return -1;
        }
        for (; s + k < semi; ++k) {
          char d = s[k];
          int v;
          if (d >= '0' && d <= '9') {
            v = d - '0';
          } else if (hexa && (d | 0x20) >= 'a' && (d | 0x20) <= 'f') {
            v = (d | 0x20) - 'a' + 10;
          } else {
            return -1;
          }
          cp = cp * (hexa ? 16u : 10u) + (unsigned long)v;
          if (cp > 0x10ffff) {
            return -1;
          }
        }
      } else {
        return -1;
      }
      if (put_utf8(out, outlen, &n, cp) != 0) {
        return -1;
      }
      i += elen;
    }
  }
  if (outlen > 0) {
    out[n] = '\0';
  }
  return 0;
}

/* Printable ASCII only, others as '?': server text in messages. */
static void sanitize(char *s) {
  for (; *s; ++s) {
    if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f) {
      *s = '?';
    }
  }
}

/* A call that failed: the <Error> document's Code (the AWS error type,
   to |aws_type|) and Message, as the error text. */
static int parse_error(int status, const char *s, size_t len, char *aws_type,
                       size_t typelen, char *err, size_t errlen) {
  char code[128] = "", message[ERROR_MESSAGE_MAX] = "";
  const char *e, *c;
  size_t elen, clen;

  if (xml_find(s, len, "Error", &e, &elen) == 0) {
    if (xml_find(e, elen, "Code", &c, &clen) == 0 &&
        xml_text(c, clen, code, sizeof(code)) != 0) {
      code[0] = '\0';
    }
    if (xml_find(e, elen, "Message", &c, &clen) == 0 &&
        xml_text(c, clen, message, sizeof(message)) != 0) {
      message[0] = '\0';
    }
  }
  sanitize(code);
  sanitize(message);
  if (aws_type != NULL && typelen > 0) {
    snprintf(aws_type, typelen, "%s", code);
  }
  if (code[0] != '\0') {
    kefo__set_err(err, errlen, "HTTP %d %s%s%s", status, code,
                  message[0] ? ": " : "", message);
  } else {
    kefo__set_err(err, errlen, "HTTP %d with no STS error document", status);
  }
  return KEFO_ERR_AWS;
}

/* Decodes each element |names| of <Credentials> ([creds, creds + clen))
   into |buf|, one NUL-terminated text after the other, the start of the
   i-th at |off|[i]. Each must be there, plain text and not empty. Returns
   0 or -1 (with the reason in |err|). */
static int credentials_texts(const char *creds, size_t clen,
                             const char *const names[4], char *buf,
                             size_t off[4], char *err, size_t errlen) {
  size_t used = 0, n;
  int i;

  for (i = 0; i < 4; ++i) {
    const char *v;
    size_t vlen;

    if (xml_find(creds, clen, names[i], &v, &vlen) != 0) {
      kefo__set_err(err, errlen, "the response's <Credentials> has no <%s>",
                    names[i]);
      return -1;
    }
    /* Decoded text is never longer than the element's content, and the
       contents do not overlap, so |buf| holds them all. */
    if (xml_text(v, vlen, buf + used, vlen + 1) != 0) {
      kefo__set_err(err, errlen, "the response's <%s> is not plain text",
                    names[i]);
      return -1;
    }
    off[i] = used;
    n = strlen(buf + used);
    if (n == 0) {
      kefo__set_err(err, errlen, "the response's <%s> is empty", names[i]);
      return -1;
    }
    used += n + 1;
  }
  return 0;
}

int kefo__sts_parse_response(kefo_credentials_copy *out, int status,
                             const uint8_t *body, size_t len, char *aws_type,
                             size_t typelen, char *err, size_t errlen) {
  static const char *const names[4] = {"AccessKeyId", "SecretAccessKey",
                                       "SessionToken", "Expiration"};
  const char *s = (const char *)body, *creds;
  size_t clen, off[4];
  kefo_credentials k;
  char *buf;
  int rv = KEFO_ERR_BAD_RESPONSE;

  if (aws_type != NULL && typelen > 0) {
    aws_type[0] = '\0';
  }
  if (out == NULL || (body == NULL && len > 0)) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (s == NULL) {
    s = "";
  }
  if (status != 200) {
    return parse_error(status, s, len, aws_type, typelen, err, errlen);
  }
  if (xml_find(s, len, "Credentials", &creds, &clen) != 0) {
    kefo__set_err(err, errlen, "the response has no <Credentials>");
    return KEFO_ERR_BAD_RESPONSE;
  }
  buf = kefo__mem_malloc(out->mem, clen + 4);
  if (buf == NULL) {
    kefo__set_err(err, errlen, "out of memory");
    return KEFO_ERR_NOMEM;
  }
  if (credentials_texts(creds, clen, names, buf, off, err, errlen) != 0) {
    goto done;
  }
  memset(&k, 0, sizeof(k));
  k.access_key_id = buf + off[0];
  k.secret_access_key = buf + off[1];
  k.session_token = buf + off[2];
  /* An Expiration at the epoch would read as 0, "never expires". */
  if (kefo__credentials_parse_time(buf + off[3], strlen(buf + off[3]),
                                   &k.expiration_ms) != 0 ||
      k.expiration_ms <= 0) {
    kefo__set_err(err, errlen,
                  "the response's <Expiration> is not an ISO 8601 time after "
                  "1970");
    goto done;
  }
  rv = kefo__credentials_check(&k, err, errlen);
  if (rv == 0) {
    rv = kefo__credentials_copy_set(out, &k);
    if (rv != 0) {
      kefo__set_err(err, errlen, "out of memory");
    }
  }

done:
  kefo__credentials_wipe(buf, clen + 4);
  kefo__mem_free(out->mem, buf);
  return rv;
}
