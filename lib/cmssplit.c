/*
 * cmssplit.c - a streaming reader of the BER of a CMS ContentInfo that
 * copies the content out and rebuilds the rest.  See cmssplit.h.
 *
 * The input is read once, front to back, through a small buffer (and a
 * base64 decoder).  Elements outside the path ContentInfo -> [0] ->
 * (Auth)EnvelopedData / SignedData -> its content info are copied as they
 * came (BER inside is fine for d2i); the four containers on that path are
 * written again with definite lengths, since their content changes.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include "cmssplit.h"
#include "errmsg.h"
#include "secbuf.h"

#define RAW_CHUNK 49152
#define BUF_CAP   (RAW_CHUNK + 256)
#define DEPTH_MAX 24
#define OID_MAX   64

struct rd {
	spool *sp;
	uint64_t skip;       /* input bytes still to skip (before the structure) */
	EVP_ENCODE_CTX *b64; /* NULL: the input is DER/BER */
	unsigned char *raw;  /* base64 text read, RAW_CHUNK bytes */
	unsigned char *buf;  /* bytes of the structure, BUF_CAP */
	size_t bpos, blen;
	int eof;
	uint64_t pos;    /* offset in the structure of the next byte */
	uint64_t copied; /* bytes copied into the rebuilt structure */
	spool *content;  /* where the content goes */
	uint64_t content_len;
	enum cmssplit_result status;
	char *reason;
	size_t reasonlen;
};

struct tlv {
	unsigned char hdr[16]; /* identifier and length octets as read */
	size_t hdrlen;
	unsigned char id; /* first identifier octet */
	int cons, indef;
	uint64_t len; /* definite length */
};

/* Where a constructed element ends: an offset, or (indefinite) its end-of-contents. */
struct frame {
	int indef;
	uint64_t end;
};

static int fail(struct rd *r, enum cmssplit_result st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The first failure wins; -1 for the caller to return. */
static int
fail(struct rd *r, enum cmssplit_result st, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	if (r->status != CMSSPLIT_OK)
		return -1;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	r->status = st;
	if (st == CMSSPLIT_CORRUPT)
		errmsg_set(r->reason, r->reasonlen, "not a usable CMS structure: %s at byte %llu",
		    what, (unsigned long long)r->pos);
	else
		errmsg_set(r->reason, r->reasonlen, "%s", what);
	return -1;
}

/* More bytes into buf: 1, 0 at the end of the input, -1 on failure. */
static int
rd_fill(struct rd *r)
{
	char err[256];
	ssize_t n;
	size_t from;
	int outl;

	r->bpos = r->blen = 0;
	while (r->blen == 0 && !r->eof) {
		n = spool_read(r->sp, r->b64 != NULL ? r->raw : r->buf, RAW_CHUNK, err,
		    sizeof(err));
		if (n < 0)
			return fail(r, CMSSPLIT_ERROR, "cannot read the spool: %s", err);
		if (n == 0) {
			r->eof = 1;
			outl = 0;
			if (r->b64 != NULL && EVP_DecodeFinal(r->b64, r->buf, &outl) < 0)
				return fail(r, CMSSPLIT_CORRUPT, "the base64 text stops mid-group");
			break;
		}
		from = r->skip < (uint64_t)n ? (size_t)r->skip : (size_t)n;
		r->skip -= from;
		if (from == (size_t)n)
			continue;
		if (r->b64 != NULL) {
			outl = 0;
			if (EVP_DecodeUpdate(r->b64, r->buf, &outl, r->raw + from,
			        (int)((size_t)n - from)) < 0)
				return fail(r, CMSSPLIT_CORRUPT, "the body is not base64");
			r->blen = (size_t)outl;
		} else {
			memmove(r->buf, r->buf + from, (size_t)n - from);
			r->blen = (size_t)n - from;
		}
	}
	return r->blen > 0;
}

/* n bytes on: into head (may be NULL), into the content spool when content is set. */
static int
rd_pass(struct rd *r, uint64_t n, struct secbuf *head, int content, unsigned char *one)
{
	char err[256];
	size_t k;

	while (n > 0) {
		if (r->bpos == r->blen && rd_fill(r) <= 0)
			return fail(r, CMSSPLIT_CORRUPT, "truncated");
		k = r->blen - r->bpos;
		if ((uint64_t)k > n)
			k = (size_t)n;
		if (one != NULL)
			*one = r->buf[r->bpos];
		if (head != NULL && secbuf_append(head, r->buf + r->bpos, k) != 0)
			return fail(r, CMSSPLIT_ERROR, "out of memory");
		if (content && spool_write(r->content, r->buf + r->bpos, k, err, sizeof(err)) != 0)
			return fail(r, CMSSPLIT_ERROR, "cannot spool the content: %s", err);
		if (content)
			r->content_len += k;
		if (head != NULL)
			r->copied += k;
		r->bpos += k;
		r->pos += k;
		n -= k;
	}
	return 0;
}

static int
rd_byte(struct rd *r, struct tlv *t, unsigned char *c)
{
	if (t->hdrlen >= sizeof(t->hdr))
		return fail(r, CMSSPLIT_CORRUPT, "an identifier or length too long");
	if (rd_pass(r, 1, NULL, 0, c) != 0)
		return -1;
	t->hdr[t->hdrlen++] = *c;
	return 0;
}

/* The identifier and length octets of the next element. */
static int
rd_tlv(struct rd *r, struct tlv *t)
{
	unsigned char c = 0;
	int i, n;

	memset(t, 0, sizeof(*t));
	if (rd_byte(r, t, &c) != 0)
		return -1;
	t->id = c;
	t->cons = (c & 0x20) != 0;
	if ((c & 0x1f) == 0x1f)
		do {
			if (t->hdrlen > 5)
				return fail(r, CMSSPLIT_CORRUPT, "a tag number too large");
			if (rd_byte(r, t, &c) != 0)
				return -1;
		} while (c & 0x80);
	if (rd_byte(r, t, &c) != 0)
		return -1;
	if (c == 0x80) {
		if (!t->cons)
			return fail(r, CMSSPLIT_CORRUPT,
			    "an indefinite length on a primitive element");
		t->indef = 1;
	} else if (c < 0x80) {
		t->len = c;
	} else {
		n = c & 0x7f;
		if (n > 8 || c == 0xff)
			return fail(r, CMSSPLIT_CORRUPT, "a length of more than 8 octets");
		for (i = 0; i < n; i++) {
			if (t->len >> 55 != 0)
				return fail(r, CMSSPLIT_CORRUPT, "a length too large");
			if (rd_byte(r, t, &c) != 0)
				return -1;
			t->len = t->len << 8 | c;
		}
	}
	return 0;
}

static struct frame
frame_of(const struct rd *r, const struct tlv *t)
{
	struct frame f = {t->indef, t->indef ? 0 : r->pos + t->len};

	return f;
}

/* The next child of f into t: 1, or 0 at f's end (its end-of-contents read), -1 on failure. */
static int
next_child(struct rd *r, const struct frame *f, struct tlv *t)
{
	if (!f->indef && r->pos == f->end)
		return 0;
	if (!f->indef && r->pos > f->end)
		return fail(r, CMSSPLIT_CORRUPT, "an element overruns its parent");
	if (rd_tlv(r, t) != 0)
		return -1;
	if (t->id == 0 && t->hdrlen == 2 && t->len == 0) { /* end-of-contents */
		if (!f->indef)
			return fail(r, CMSSPLIT_CORRUPT, "a misplaced end-of-contents");
		return 0;
	} /* another element of tag 0 is judged by where it stands, as any other */
	if (!f->indef && (r->pos > f->end || (!t->indef && t->len > f->end - r->pos)))
		return fail(r, CMSSPLIT_CORRUPT, "an element overruns its parent");
	return 1;
}

/* The element whose header t was just read, copied as it came into head. */
static int
copy_element(struct rd *r, const struct tlv *t, struct secbuf *head, int depth)
{
	static const unsigned char eoc[2] = {0, 0};
	struct frame f;
	struct tlv c;
	int k;

	if (secbuf_append(head, t->hdr, t->hdrlen) != 0)
		return fail(r, CMSSPLIT_ERROR, "out of memory");
	r->copied += t->hdrlen;
	if (!t->indef) {
		if (t->len > CMSSPLIT_HEAD_MAX || r->copied + t->len > CMSSPLIT_HEAD_MAX)
			return fail(r, CMSSPLIT_CORRUPT, "more than %u bytes besides the content",
			    CMSSPLIT_HEAD_MAX);
		return rd_pass(r, t->len, head, 0, NULL);
	}
	if (depth >= DEPTH_MAX)
		return fail(r, CMSSPLIT_CORRUPT, "nested too deeply");
	f = frame_of(r, t);
	while ((k = next_child(r, &f, &c)) == 1)
		if (copy_element(r, &c, head, depth + 1) != 0)
			return -1;
	if (k == 0 && secbuf_append(head, eoc, sizeof(eoc)) != 0)
		return fail(r, CMSSPLIT_ERROR, "out of memory");
	return k;
}

/* The octets of an OCTET STRING (or implicitly tagged one), primitive or in chunks. */
static int
stream_octets(struct rd *r, const struct tlv *t, int depth)
{
	struct frame f;
	struct tlv c;
	int k;

	if (!t->cons)
		return rd_pass(r, t->len, NULL, 1, NULL);
	if (depth >= DEPTH_MAX)
		return fail(r, CMSSPLIT_CORRUPT, "nested too deeply");
	f = frame_of(r, t);
	while ((k = next_child(r, &f, &c)) == 1) {
		if ((c.id & 0xdf) != 0x04)
			return fail(r, CMSSPLIT_CORRUPT,
			    "a chunk of the content is not an OCTET STRING");
		if (stream_octets(r, &c, depth + 1) != 0)
			return -1;
	}
	return k;
}

/* eContent [0] EXPLICIT OCTET STRING of SignedData. */
static int
signed_content(struct rd *r, const struct tlv *t)
{
	struct frame f;
	struct tlv c;

	if (!t->cons)
		return fail(r, CMSSPLIT_CORRUPT, "eContent is not [0] EXPLICIT");
	f = frame_of(r, t);
	if (next_child(r, &f, &c) != 1)
		return fail(r, CMSSPLIT_CORRUPT, "an empty eContent");
	if ((c.id & 0xdf) != 0x04)
		return fail(r, CMSSPLIT_CORRUPT, "eContent is not an OCTET STRING");
	if (stream_octets(r, &c, 1) != 0)
		return -1;
	if (next_child(r, &f, &c) != 0)
		return fail(r, CMSSPLIT_CORRUPT, "more than one element in eContent");
	return 0;
}

/* EncryptedContentInfo or EncapsulatedContentInfo t: the content out, the rest into eci. */
static int
content_info(struct rd *r, const struct tlv *t, int is_signed, struct cmssplit *s,
    struct secbuf *eci)
{
	struct frame f = frame_of(r, t);
	struct tlv c;
	int k;

	while ((k = next_child(r, &f, &c)) == 1) {
		if (s->has_content)
			return fail(r, CMSSPLIT_CORRUPT, "an element after the content");
		if ((c.id & 0xdf) == 0x80) { /* [0]: the content */
			s->has_content = 1;
			if ((is_signed ? signed_content(r, &c) : stream_octets(r, &c, 1)) != 0)
				return -1;
			continue;
		}
		if (copy_element(r, &c, eci, 1) != 0)
			return -1;
	}
	return k;
}

/* DER identifier and definite length of len content octets, then the octets. */
static int
append_tlv(struct secbuf *out, unsigned char id, const void *data, size_t len)
{
	unsigned char h[10];
	size_t n = 0, l = len;
	int bytes = 0;

	h[n++] = id;
	if (len < 0x80) {
		h[n++] = (unsigned char)len;
	} else {
		for (; l > 0; l >>= 8)
			bytes++;
		h[n++] = (unsigned char)(0x80 | bytes);
		while (bytes-- > 0)
			h[n++] = (unsigned char)(len >> (8 * bytes));
	}
	if (secbuf_append(out, h, n) != 0)
		return -1;
	return len > 0 ? secbuf_append(out, data, len) : 0;
}

/* The (Auth)EnvelopedData or SignedData t, its content out, rebuilt into body. */
static int
inner_body(struct rd *r, const struct tlv *t, struct cmssplit *s, struct secbuf *body)
{
	struct secbuf eci = SECBUF_INIT;
	struct frame f = frame_of(r, t);
	struct tlv c;
	int k, seen = 0, rc = -1;

	while ((k = next_child(r, &f, &c)) == 1) {
		if (!seen && c.id == 0x30) { /* the first SEQUENCE: the content info */
			seen = 1;
			if (content_info(r, &c, s->nid == NID_pkcs7_signed, s, &eci) != 0)
				goto cleanup;
			if (append_tlv(body, 0x30, eci.data, eci.len) != 0) {
				fail(r, CMSSPLIT_ERROR, "out of memory");
				goto cleanup;
			}
			continue;
		}
		if (seen && s->nid == NID_id_smime_ct_authEnvelopedData && !s->has_mac &&
		    (c.id & 0xdf) == 0x04) { /* the mac, after the authAttrs */
			if (c.cons) {
				fail(r, CMSSPLIT_CORRUPT, "a mac in chunks");
				goto cleanup;
			}
			s->has_mac = 1;
			s->maclen = (size_t)c.len;
		}
		if (copy_element(r, &c, body, 1) != 0)
			goto cleanup;
	}
	if (k == 0 && !seen)
		fail(r, CMSSPLIT_CORRUPT, "no content info");
	rc = k == 0 && seen ? 0 : -1;
cleanup:
	secbuf_free(&eci);
	return rc;
}

/* contentType OBJECT IDENTIFIER t: its element into oid, its NID. */
static int
content_type(struct rd *r, const struct tlv *t, struct secbuf *oid, int *nid)
{
	const unsigned char *p;
	ASN1_OBJECT *o;

	if (t->id != 0x06 || t->len == 0 || t->len > OID_MAX)
		return fail(r, CMSSPLIT_CORRUPT, "no contentType");
	if (secbuf_append(oid, t->hdr, t->hdrlen) != 0)
		return fail(r, CMSSPLIT_ERROR, "out of memory");
	if (rd_pass(r, t->len, oid, 0, NULL) != 0)
		return -1;
	p = (const unsigned char *)oid->data;
	o = d2i_ASN1_OBJECT(NULL, &p, (long)oid->len);
	*nid = o != NULL ? OBJ_obj2nid(o) : NID_undef;
	ASN1_OBJECT_free(o);
	return 0;
}

/* ContentInfo ::= SEQUENCE { contentType, [0] EXPLICIT content }, rebuilt as
 * 30 { oid, A0 { 30 { body } } }.  0, 1 for a type without a content to split, -1. */
static int
content_info_top(struct rd *r, struct cmssplit *s, struct secbuf *out)
{
	struct secbuf oid = SECBUF_INIT, body = SECBUF_INIT, b1 = SECBUF_INIT, b2 = SECBUF_INIT;
	struct tlv ci, c, ctx0;
	struct frame top, f0;
	int rc = -1;

	if (rd_tlv(r, &ci) != 0)
		goto cleanup;
	if (ci.id != 0x30) {
		fail(r, CMSSPLIT_CORRUPT, "no ContentInfo SEQUENCE");
		goto cleanup;
	}
	top = frame_of(r, &ci);
	if (next_child(r, &top, &c) != 1) {
		fail(r, CMSSPLIT_CORRUPT, "no contentType");
		goto cleanup;
	}
	if (content_type(r, &c, &oid, &s->nid) != 0)
		goto cleanup;
	if (s->nid != NID_pkcs7_enveloped && s->nid != NID_id_smime_ct_authEnvelopedData &&
	    s->nid != NID_pkcs7_signed) {
		rc = 1;
		goto cleanup;
	}
	if (next_child(r, &top, &ctx0) != 1 || ctx0.id != 0xa0) {
		fail(r, CMSSPLIT_CORRUPT, "no [0] content");
		goto cleanup;
	}
	f0 = frame_of(r, &ctx0);
	if (next_child(r, &f0, &c) != 1 || c.id != 0x30) {
		fail(r, CMSSPLIT_CORRUPT, "the content is not a SEQUENCE");
		goto cleanup;
	}
	if (inner_body(r, &c, s, &body) != 0)
		goto cleanup;
	if (next_child(r, &f0, &c) != 0 || next_child(r, &top, &c) != 0) {
		fail(r, CMSSPLIT_CORRUPT, "more elements than the syntax has");
		goto cleanup;
	}
	if (append_tlv(&b1, 0x30, body.data, body.len) != 0 ||
	    append_tlv(&b2, 0xa0, b1.data, b1.len) != 0 ||
	    secbuf_append(&oid, b2.data, b2.len) != 0 ||
	    append_tlv(out, 0x30, oid.data, oid.len) != 0) {
		fail(r, CMSSPLIT_ERROR, "out of memory");
		goto cleanup;
	}
	rc = 0;
cleanup:
	secbuf_free(&oid);
	secbuf_free(&body);
	secbuf_free(&b1);
	secbuf_free(&b2);
	return rc;
}

enum cmssplit_result
cmssplit_read(spool *sp, uint64_t off, int base64, spool *content, struct cmssplit *s, char *reason,
    size_t reasonlen)
{
	struct secbuf head = SECBUF_INIT;
	struct rd r;
	char err[256];
	int k;

	memset(s, 0, sizeof(*s));
	memset(&r, 0, sizeof(r));
	r.sp = sp;
	r.skip = off;
	r.content = content;
	r.reason = reason;
	r.reasonlen = reasonlen;
	r.buf = malloc(BUF_CAP);
	r.raw = base64 ? malloc(RAW_CHUNK) : NULL;
	r.b64 = base64 ? EVP_ENCODE_CTX_new() : NULL;
	if (r.buf == NULL || (base64 && (r.raw == NULL || r.b64 == NULL))) {
		fail(&r, CMSSPLIT_ERROR, "out of memory");
		goto cleanup;
	}
	if (r.b64 != NULL)
		EVP_DecodeInit(r.b64);
	if (spool_rewind(sp, err, sizeof(err)) != 0) {
		fail(&r, CMSSPLIT_ERROR, "cannot read the spool: %s", err);
		goto cleanup;
	}
	k = content_info_top(&r, s, &head);
	if (k > 0) {
		r.status = CMSSPLIT_OTHER;
		errmsg_set(reason, reasonlen, "CMS %s, not enveloped-data or signed-data",
		    s->nid != NID_undef ? OBJ_nid2sn(s->nid) : "of an unknown type");
	} else if (k == 0) {
		s->head = (unsigned char *)head.data;
		s->headlen = head.len;
		head.data = NULL;
	}
cleanup:
	s->content_len = r.content_len;
	secbuf_free(&head);
	if (r.buf != NULL)
		OPENSSL_cleanse(r.buf, BUF_CAP);
	free(r.buf);
	free(r.raw);
	EVP_ENCODE_CTX_free(r.b64);
	return r.status;
}

void
cmssplit_free(struct cmssplit *s)
{
	if (s->head != NULL) {
		OPENSSL_cleanse(s->head, s->headlen);
		free(s->head);
	}
	s->head = NULL;
	s->headlen = 0;
}
