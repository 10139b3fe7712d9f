/*
 * MD5 with a kept context (see md5.h).
 */
#include "shard/md5.h"

#include <openssl/err.h>

#include <kefo/kefo.h>

int kefo__md5_digest(kefo_md5 *m, const void *data, size_t len,
                     uint8_t out[KEFO_MD5_LEN]) {
  unsigned int outlen = 0;
  int ok;

  /* A failure must not leave errors queued: SSL_get_error on this thread
     would read them as its own. */
  ERR_set_mark();
  if (m->md == NULL) {
    m->md = EVP_MD_fetch(NULL, "MD5", NULL);
  }
  if (m->md != NULL && m->ctx == NULL) {
    m->ctx = EVP_MD_CTX_new();
  }
  ok = m->md != NULL && m->ctx != NULL &&
       EVP_DigestInit_ex(m->ctx, m->md, NULL) &&
       EVP_DigestUpdate(m->ctx, data, len) &&
       EVP_DigestFinal_ex(m->ctx, out, &outlen) && outlen == KEFO_MD5_LEN;
  if (!ok) {
    ERR_pop_to_mark();
    return KEFO_ERR_CRYPTO;
  }
  ERR_clear_last_mark();
  return 0;
}

void kefo__md5_free(kefo_md5 *m) {
  EVP_MD_CTX_free(m->ctx);
  EVP_MD_free(m->md);
  m->ctx = NULL;
  m->md = NULL;
}
