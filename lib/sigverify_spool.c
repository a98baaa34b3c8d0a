/*
 * sigverify_spool.c - the signature check of a signed entity held in a
 * spool, in bounded memory whatever its size.  See sigverify.h.
 *
 * multipart/signed: one pass over the spool through a small window finds
 * the signed first part (its offset and length); only the signature part
 * after it is read into memory (at most TAIL_MAX bytes), and CMS_verify
 * reads the first part from the spool.  Opaque signed-data: cmssplit_read
 * moves its content into a spool of its own and the rest (certificates,
 * signer infos) is parsed in memory; CMS_verify reads the content from
 * that spool, which is also what an unwrapped message becomes.  A body in
 * memory (sigverify_body) is read the same way, from a spool in memory.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "cmssplit.h"
#include "errmsg.h"
#include "mime.h"
#include "secbuf.h"
#include "sigverify.h"
#include "sigverify_int.h"

#define SCAN_BUF 65536
#define TAIL_MAX (1024 * 1024) /* the signature part and the epilogue */

/* A forward-only window on the spool. */
struct scan {
	spool *sp;
	unsigned char *buf;
	size_t len;
	uint64_t base; /* offset in the spool of buf[0] */
	int eof;
	char *reason;
	size_t reasonlen;
};

/* Read more after what the window holds.  1, 0 at the end, -1 on an error. */
static int
scan_read(struct scan *s)
{
	ssize_t n;

	if (s->eof)
		return 0;
	n = spool_read(s->sp, s->buf + s->len, SCAN_BUF - s->len, s->reason, s->reasonlen);
	if (n < 0)
		return -1;
	if (n == 0)
		s->eof = 1;
	s->len += (size_t)n;
	return n > 0;
}

/* The first needle at or after offset from (never before the window): 1 with *at, 0, -1. */
static int
scan_find(struct scan *s, uint64_t from, const char *needle, uint64_t *at)
{
	size_t nl = strlen(needle), i, keep;
	const unsigned char *p;
	int k;

	for (;;) {
		if (from < s->base)
			from = s->base;
		i = from - s->base < s->len ? (size_t)(from - s->base) : s->len;
		p = sigverify_find(s->buf + i, s->len - i, needle);
		if (p != NULL) {
			*at = s->base + (uint64_t)(p - s->buf);
			return 1;
		}
		/* what could still start a needle: the last nl - 1 bytes */
		keep = s->len - i < nl - 1 ? s->len - i : nl - 1;
		memmove(s->buf, s->buf + s->len - keep, keep);
		s->base += s->len - keep;
		s->len = keep;
		if ((k = scan_read(s)) <= 0)
			return k;
	}
}

/* The window's bytes from offset from on, then the rest of the spool, into out (bounded). */
static int
scan_rest(struct scan *s, uint64_t from, struct secbuf *out)
{
	int k;

	if (from > s->base + s->len)
		return 0;
	do {
		size_t i = from > s->base ? (size_t)(from - s->base) : 0;
		if (out->len + (s->len - i) > TAIL_MAX) {
			errmsg_set(s->reason, s->reasonlen,
			    "the signature part of the multipart/signed is over %d bytes",
			    TAIL_MAX);
			return -1;
		}
		if (secbuf_append(out, s->buf + i, s->len - i) != 0) {
			errmsg_set(s->reason, s->reasonlen, "out of memory");
			return -1;
		}
		s->base += s->len;
		s->len = 0;
	} while ((k = scan_read(s)) > 0);
	return k;
}

/*
 * multipart/signed in sp from off on: the signed part [*part, *part + *plen)
 * (offsets in sp) and the DER of the signature.  0, or -1 with r->reason
 * (r->status ERROR for a read error, else MALFORMED).
 */
static int
locate(spool *sp, uint64_t off, const char *boundary, uint64_t *part, uint64_t *plen,
    unsigned char **sig, size_t *siglen, struct sigverify_result *r)
{
	struct scan s = {sp, malloc(SCAN_BUF), 0, off, 0, r->reason, sizeof(r->reason)};
	struct secbuf tail = SECBUF_INIT;
	char delim[256], nl_delim[260];
	uint64_t start = 0, eol = 0, end = 0, skip = off;
	int k = 1, rc = -1;

	snprintf(delim, sizeof(delim), "--%s", boundary);
	snprintf(nl_delim, sizeof(nl_delim), "\r\n%s", delim);
	if (s.buf == NULL || spool_rewind(sp, r->reason, sizeof(r->reason)) != 0)
		goto io;
	while (skip > 0) { /* the entity's header block */
		ssize_t n = spool_read(sp, s.buf, skip < SCAN_BUF ? (size_t)skip : SCAN_BUF,
		    r->reason, sizeof(r->reason));
		if (n <= 0)
			goto io;
		skip -= (uint64_t)n;
	}
	while (s.len < strlen(delim) && (k = scan_read(&s)) > 0)
		;
	if (k < 0)
		goto io;
	k = 1;
	if (s.len < strlen(delim) || memcmp(s.buf, delim, strlen(delim)) != 0) {
		k = scan_find(&s, off, nl_delim, &start);
		start += 2;
	}
	if (k < 0 || (k == 1 && (k = scan_find(&s, start, "\r\n", &eol)) < 0))
		goto io;
	if (k == 0) {
		errmsg_set(r->reason, sizeof(r->reason), "multipart/signed without its first part");
		goto cleanup;
	}
	if ((k = scan_find(&s, eol + 2, nl_delim, &end)) < 0)
		goto io;
	if (k == 0) {
		errmsg_set(r->reason, sizeof(r->reason),
		    "multipart/signed without its signature part");
		goto cleanup;
	}
	*part = eol + 2;
	*plen = end - *part;
	if (scan_rest(&s, end + 2, &tail) != 0)
		goto cleanup;
	rc = sigverify_sig_part((const unsigned char *)tail.data, tail.len, delim, sig, siglen,
	    r->reason, sizeof(r->reason));
	goto cleanup;
io:
	r->status = SIGVERIFY_ERROR;
	if (s.buf == NULL)
		errmsg_set(r->reason, sizeof(r->reason), "out of memory");
cleanup:
	secbuf_free(&tail);
	free(s.buf);
	return rc;
}

/* Verify cms over the detached content: len bytes of sp from off on. */
static void
verify_from(struct sigverify_result *r, CMS_ContentInfo *cms, spool *sp, uint64_t off, uint64_t len,
    X509_STORE *trust, STACK_OF(X509_CRL) *crls)
{
	BIO *in = spool_bio_reader(sp, off, len);

	if (in == NULL) {
		r->status = SIGVERIFY_ERROR;
		errmsg_set(r->reason, sizeof(r->reason), "out of memory");
		return;
	}
	sigverify_verify_cms(r, cms, in, trust, crls);
	if (spool_bio_error(in)[0] != '\0') {
		/* the digest of a part of the content must never count */
		r->status = SIGVERIFY_ERROR;
		errmsg_set(r->reason, sizeof(r->reason), "cannot read the signed content: %s",
		    spool_bio_error(in));
	}
	BIO_free(in);
}

/* A SignedData from der, or NULL with r->reason. */
static CMS_ContentInfo *
parse_signed(const unsigned char *der, size_t len, struct sigverify_result *r)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = len <= 0x7fffffff ? d2i_CMS_ContentInfo(NULL, &p, (long)len) : NULL;

	if (cms == NULL || OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		CMS_ContentInfo_free(cms);
		errmsg_set(r->reason, sizeof(r->reason), "signature is not CMS SignedData");
		return NULL;
	}
	return cms;
}

static void
verify_opaque(spool *sp, uint64_t off, X509_STORE *trust, STACK_OF(X509_CRL) *crls, spool *content,
    struct sigverify_result *r)
{
	struct cmssplit s;
	CMS_ContentInfo *cms = NULL;

	switch (cmssplit_read(sp, off, 1, content, &s, r->reason, sizeof(r->reason))) {
	case CMSSPLIT_ERROR: r->status = SIGVERIFY_ERROR; goto cleanup;
	case CMSSPLIT_CORRUPT: goto cleanup;
	case CMSSPLIT_OTHER:
		errmsg_set(r->reason, sizeof(r->reason), "signature is not CMS SignedData");
		goto cleanup;
	case CMSSPLIT_OK: break;
	}
	if (s.nid != NID_pkcs7_signed || !s.has_content) {
		errmsg_set(r->reason, sizeof(r->reason), "%s",
		    s.nid != NID_pkcs7_signed ? "signature is not CMS SignedData"
		                              : "signed-data without its content");
		goto cleanup;
	}
	if ((cms = parse_signed(s.head, s.headlen, r)) != NULL)
		verify_from(r, cms, content, 0, UINT64_MAX, trust, crls);
cleanup:
	CMS_ContentInfo_free(cms);
	cmssplit_free(&s);
}

enum sigverify_status
sigverify_spool(const char *content_type, spool *sp, uint64_t off, X509_STORE *trust,
    STACK_OF(X509_CRL) *crls, spool *content, struct sigverify_result *r)
{
	char type[128], boundary[200];
	unsigned char *der = NULL;
	size_t derlen = 0;
	uint64_t part = 0, plen = 0;
	CMS_ContentInfo *cms;

	memset(r, 0, sizeof(*r));
	r->chain_error = -1;
	r->status = SIGVERIFY_MALFORMED;
	if (content_type == NULL || mime_type(content_type, type, sizeof(type)) != 0) {
		errmsg_set(r->reason, sizeof(r->reason), "no Content-Type");
		return r->status;
	}
	if (strcmp(type, "multipart/signed") != 0) {
		verify_opaque(sp, off, trust, crls, content, r);
		ERR_clear_error();
		return r->status;
	}
	if (mime_param(content_type, "boundary", boundary, sizeof(boundary)) != 0) {
		errmsg_set(r->reason, sizeof(r->reason), "multipart/signed without a boundary");
		return r->status;
	}
	if (locate(sp, off, boundary, &part, &plen, &der, &derlen, r) == 0) {
		r->part_off = (size_t)(part - off);
		r->part_len = (size_t)plen;
		if ((cms = parse_signed(der, derlen, r)) != NULL)
			verify_from(r, cms, sp, part, plen, trust, crls);
		CMS_ContentInfo_free(cms);
	}
	free(der);
	ERR_clear_error();
	return r->status;
}

/* A body in memory: the same reading, from a spool that holds it in memory. */
enum sigverify_status
sigverify_body(const char *content_type, const unsigned char *body, size_t len, X509_STORE *trust,
    STACK_OF(X509_CRL) *crls, BIO *content, struct sigverify_result *r)
{
	spool *sp = spool_new(len + 1, NULL), *c = spool_new(SPOOL_DEFAULT_MEMORY, NULL);
	char buf[4096];
	ssize_t n = 0;

	memset(r, 0, sizeof(*r));
	r->chain_error = -1;
	r->status = SIGVERIFY_ERROR;
	if (sp == NULL || c == NULL ||
	    spool_write(sp, body, len, r->reason, sizeof(r->reason)) != 0) {
		errmsg_set(r->reason, sizeof(r->reason), "out of memory");
		goto cleanup;
	}
	(void)sigverify_spool(content_type, sp, 0, trust, crls, c, r);
	if (content == NULL || spool_size(c) == 0 || r->status == SIGVERIFY_ERROR)
		goto cleanup;
	if (spool_rewind(c, r->reason, sizeof(r->reason)) != 0)
		n = -1;
	while (n == 0 && (n = spool_read(c, buf, sizeof(buf), r->reason, sizeof(r->reason))) > 0)
		n = BIO_write(content, buf, (int)n) == (int)n ? 0 : -1;
	if (n < 0) {
		r->status = SIGVERIFY_ERROR;
		errmsg_set(r->reason, sizeof(r->reason), "cannot keep the signed content");
	}
cleanup:
	OPENSSL_cleanse(buf, sizeof(buf));
	spool_free(sp);
	spool_free(c);
	return r->status;
}
