/*
 * SigV4's canonical URI and canonical query string, for
 * aws/sigv4_canonical.c and aws/sigv4.c: the parts of the canonical request
 * that are built from the request's path and query, and the encoding of the
 * X-Amz-* values sent in a query.
 */
#ifndef KEFO_SIGV4_URI_H
#define KEFO_SIGV4_URI_H

#include <stddef.h>

#include "base/buf.h"

/*
 * Appends |s| (|len| bytes) percent-encoded to |b|: everything but RFC
 * 3986's unreserved characters, and '/' unless |keep_slash|. Returns 0 or
 * KEFO_ERR_NOMEM.
 */
int kefo__sigv4_uri_encode(kefo_buf *b, const char *s, size_t len,
                           int keep_slash);

/*
 * Appends the canonical URI of |path| to |out|, every byte but the
 * unreserved ones and '/' percent-encoded (an encoded path is encoded
 * again, as SigV4 wants for every service but S3). With |normalize|,
 * empty and "." segments are dropped and ".." drops the segment before
 * it; a trailing slash stays, and nothing left is "/". Returns 0 or
 * KEFO_ERR_NOMEM.
 */
int kefo__sigv4_uri_path(kefo_buf *out, const char *path, int normalize);

/*
 * Appends the canonical query string of |query| and the signer's own
 * |xquery| parameters (either may be NULL) to |out|: each key and value
 * decoded and encoded again, the pairs sorted by bytes. With
 * |reject_signing|, |query| may not carry X-Amz-* signing parameters
 * itself (KEFO_ERR_SIGV4). Returns 0, KEFO_ERR_SIGV4 or KEFO_ERR_NOMEM.
 */
int kefo__sigv4_uri_query(kefo_buf *out, const char *query, const char *xquery,
                          int reject_signing);

#endif /* KEFO_SIGV4_URI_H */
