/*
 * inbound.c - decryption, verification and unwrapping of S/MIME mail
 * from outside.  See inbound.h.  The Authentication-Results value and the
 * protected header fields are in inbound_ar.c.
 *
 * An "entity" here is a MIME entity held in a spool: its header fields
 * (parsed) and its body, the spool's bytes from an offset on.  The
 * message starts as one (its headers, the body spool); decryption and
 * unwrapping each make a new one in a spool of their own.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "certindex.h"
#include "cmssplit.h"
#include "inbound.h"
#include "errmsg.h"
#include "sigverify.h"

#define HEAD_MAX (256 * 1024) /* the largest header block of a decrypted entity */

enum kind {
	KIND_OTHER,
	KIND_PKCS7,
	KIND_SIGNED_DETACHED
};

struct entity {
	const struct mime_headers *hp; /* every field of its header: h, or the message's */
	struct mime_headers h;
	spool *sp;    /* its bytes; owned unless it is the message's body */
	uint64_t off; /* where its body starts in sp */
	int owned;
};

const char *
inbound_smime_name(enum inbound_smime s)
{
	static const char *const names[] = {"none", "pass", "fail", "neutral", "temperror",
	    "permerror"};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "none";
}

static enum kind
kind_of(const struct mime_headers *h)
{
	const struct mime_header *ct = mime_headers_find(h, "Content-Type");
	char type[128], proto[128];

	if (ct == NULL || mime_type(ct->value, type, sizeof(type)) != 0)
		return KIND_OTHER;
	if (strcmp(type, "application/pkcs7-mime") == 0 ||
	    strcmp(type, "application/x-pkcs7-mime") == 0)
		return KIND_PKCS7;
	if (strcmp(type, "multipart/signed") == 0 &&
	    mime_param(ct->value, "protocol", proto, sizeof(proto)) == 0 &&
	    (strcasecmp(proto, "application/pkcs7-signature") == 0 ||
	        strcasecmp(proto, "application/x-pkcs7-signature") == 0))
		return KIND_SIGNED_DETACHED;
	return KIND_OTHER;
}

static void
entity_clear(struct entity *e)
{
	mime_headers_clear(&e->h);
	if (e->owned)
		spool_free(e->sp);
	memset(e, 0, sizeof(*e));
}

static spool *
new_spool(const struct inbound_options *o)
{
	return spool_new(o->spool_memory > 0 ? o->spool_memory : SPOOL_DEFAULT_MEMORY,
	    o->spool_dir);
}

int
inbound_read_headers(spool *sp, uint64_t off, uint64_t len, struct mime_headers *h,
    uint64_t *body_off, char *err, size_t errlen)
{
	uint64_t size = spool_size(sp), left = off < size ? size - off : 0;
	size_t want, got = 0, boff = 0;
	char *buf;
	BIO *in;
	int n = 0, rc = -1;

	if (len < left)
		left = len;
	want = left < HEAD_MAX ? (size_t)left : HEAD_MAX;
	buf = malloc(want + 1);
	in = buf != NULL ? spool_bio_reader(sp, off, want) : NULL;
	if (in == NULL) {
		errmsg_set(err, errlen, "out of memory");
		goto cleanup;
	}
	while (got < want && (n = BIO_read(in, buf + got, (int)(want - got))) > 0)
		got += (size_t)n;
	if (n < 0 || spool_bio_error(in)[0] != '\0') {
		errmsg_set(err, errlen, "cannot read the spool: %s", spool_bio_error(in));
		goto cleanup;
	}
	buf[got] = '\0';
	if (got == want && left > want && strstr(buf, "\r\n\r\n") == NULL &&
	    strncmp(buf, "\r\n", 2) != 0) {
		errmsg_set(err, errlen, "a header block over %d bytes", HEAD_MAX);
		goto cleanup;
	}
	if (mime_parse_headers(buf, got, h, &boff, err, errlen) != 0)
		goto cleanup;
	*body_off = off + boff;
	rc = 0;
cleanup:
	BIO_free(in);
	if (buf != NULL)
		OPENSSL_cleanse(buf, want + 1);
	free(buf);
	return rc;
}

/* Parse the header block at the start of sp into e (which takes sp over).  0 or -1. */
static int
entity_from_spool(struct entity *e, spool *sp, char *err, size_t errlen)
{
	memset(e, 0, sizeof(*e));
	e->sp = sp;
	e->owned = 1;
	mime_headers_init(&e->h);
	e->hp = &e->h;
	return inbound_read_headers(sp, 0, UINT64_MAX, &e->h, &e->off, err, errlen);
}

/* The field values of every non-Content field of h (the RFC 9788 protected fields). */
static int
collect_protected(struct inbound_result *r, const struct mime_headers *h)
{
	size_t i;

	mime_headers_clear(&r->protected_hdrs);
	for (i = 0; i < h->n; i++)
		if (!mime_is_content_header(h->v[i].name) &&
		    strcasecmp(h->v[i].name, "MIME-Version") != 0 &&
		    mime_headers_add(&r->protected_hdrs, h->v[i].name, h->v[i].value) != 0)
			return -1;
	return 0;
}

/*
 * Decrypt the split message (sp: the structure without its content,
 * cipher: the encrypted content) into *dec.  0 (see r), or -1 internal.
 */
static int
decrypt_message(const struct inbound_options *o, const struct cmssplit *sp, spool *cipher,
    struct inbound_result *r, struct entity *dec, char *err, size_t errlen)
{
	struct envelope_info info;
	spool *plain = new_spool(o);
	BIO *out = plain != NULL ? spool_bio_new(plain) : NULL;
	int rc = -1;

	if (out == NULL) {
		errmsg_set(err, errlen, "out of memory");
		goto cleanup;
	}
	/* without decrypt, no key is tried: the answer only says whether it is encrypted */
	r->decryption = envelope_open(sp, cipher, o->decrypt ? o->keys : NULL,
	    o->decrypt ? o->nkeys : 0, out, &info, r->reason, sizeof(r->reason));
	r->auth_enveloped = info.auth;
	r->key = info.key;
	if (spool_bio_error(out)[0] != '\0') {
		errmsg_set(err, errlen, "cannot spool the decrypted content: %s",
		    spool_bio_error(out));
		goto cleanup;
	}
	if (r->decryption == ENVELOPE_ERROR) {
		errmsg_set(err, errlen, "%s", r->reason);
		goto cleanup;
	}
	r->encrypted = r->decryption != ENVELOPE_NOT_ENVELOPED;
	rc = 0;
	if (r->decryption != ENVELOPE_OK)
		goto cleanup; /* what reached plain is discarded with it */
	BIO_free(out);
	out = NULL;
	if (entity_from_spool(dec, plain, r->reason, sizeof(r->reason)) != 0) {
		/* content that is not a MIME entity: a corrupt message, kept as it came */
		entity_clear(dec);
		plain = NULL;
		r->decryption = ENVELOPE_CORRUPT;
		goto cleanup;
	}
	plain = NULL;
	r->reason[0] = '\0';
cleanup:
	BIO_free(out);
	spool_free(plain);
	return rc;
}

/* The smime-type parameter of a pkcs7-mime entity, lower-cased ("" when absent). */
static void
smime_type(const struct mime_headers *h, char *out, size_t outlen)
{
	const struct mime_header *ct = mime_headers_find(h, "Content-Type");
	char *p;

	if (ct == NULL || mime_param(ct->value, "smime-type", out, outlen) != 0)
		out[0] = '\0';
	for (p = out; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
}

/* The verdict for a chain error of a signature that verifies (see inbound.h). */
static enum inbound_smime
chain_verdict(int chain_error, char *reason, size_t reasonlen)
{
	switch (chain_error) {
	case X509_V_OK: return INBOUND_SMIME_PASS;
	case X509_V_ERR_UNABLE_TO_GET_CRL:
	case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
	case X509_V_ERR_CRL_HAS_EXPIRED:
	case X509_V_ERR_CRL_NOT_YET_VALID:
		errmsg_set(reason, reasonlen, "cannot check revocation: %s",
		    X509_verify_cert_error_string(chain_error));
		return INBOUND_SMIME_TEMPERROR;
	case X509_V_ERR_CERT_REVOKED:
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
	case X509_V_ERR_INVALID_PURPOSE:
	case X509_V_ERR_CERT_REJECTED:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE:
		errmsg_set(reason, reasonlen, "signer certificate: %s",
		    X509_verify_cert_error_string(chain_error));
		return INBOUND_SMIME_FAIL;
	default:
		errmsg_set(reason, reasonlen,
		    "signer certificate does not chain to a trusted CA: %s",
		    X509_verify_cert_error_string(chain_error));
		return INBOUND_SMIME_NEUTRAL;
	}
}

static enum inbound_smime
verdict(const struct sigverify_result *sv, const char *from, int have_trust, char *reason,
    size_t reasonlen)
{
	enum inbound_smime v;

	if (sv->status != SIGVERIFY_GOOD) {
		errmsg_set(reason, reasonlen, "%s", sv->reason);
		return sv->status == SIGVERIFY_BAD ? INBOUND_SMIME_FAIL : INBOUND_SMIME_NEUTRAL;
	}
	if (!have_trust) {
		errmsg_set(reason, reasonlen, "no trusted CAs to check the signer against");
		return INBOUND_SMIME_NEUTRAL;
	}
	v = chain_verdict(sv->chain_error, reason, reasonlen);
	if (v != INBOUND_SMIME_PASS)
		return v;
	if (from == NULL) {
		errmsg_set(reason, reasonlen, "no From: address to compare the signer with");
		return INBOUND_SMIME_PERMERROR;
	}
	if (!certindex_names_address(sv->signer, from)) {
		errmsg_set(reason, reasonlen,
		    "signer certificate does not name the From: address %s", from);
		return INBOUND_SMIME_FAIL;
	}
	reason[0] = '\0';
	return INBOUND_SMIME_PASS;
}

/* body.smime-identifier, -serial and -issuer of the signer's certificate. */
static void
signer_props(struct inbound_result *r, X509 *x, const char *from)
{
	STACK_OF(OPENSSL_STRING) *emails;
	const ASN1_INTEGER *sno = X509_get0_serialNumber(x);
	BIGNUM *bn = ASN1_INTEGER_to_BN(sno, NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL, *data;
	BIO *b = BIO_new(BIO_s_mem());
	long n;

	if (from != NULL && certindex_names_address(x, from)) {
		snprintf(r->identifier, sizeof(r->identifier), "%s", from);
	} else if ((emails = X509_get1_email(x)) != NULL) {
		if (sk_OPENSSL_STRING_num(emails) > 0)
			snprintf(r->identifier, sizeof(r->identifier), "%s",
			    sk_OPENSSL_STRING_value(emails, 0));
		X509_email_free(emails);
	}
	snprintf(r->serial, sizeof(r->serial), "%s", hex != NULL ? hex : "");
	if (b != NULL && X509_NAME_print_ex(b, X509_get_issuer_name(x), 0, XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_get_mem_data(b, &data)) > 0)
		snprintf(r->issuer, sizeof(r->issuer), "%.*s", (int)n, data);
	BIO_free(b);
	OPENSSL_free(hex);
	BN_free(bn);
	ERR_clear_error();
}

/*
 * The header fields of the signed first part of a multipart/signed (RFC
 * 9788): len bytes at off in sp, within which its header block must end
 * (what follows is not signed).
 */
static int
detached_protected(struct inbound_result *r, spool *sp, uint64_t off, uint64_t len)
{
	struct mime_headers ph;
	uint64_t body_off;
	char why[300];
	int rc = 0;

	mime_headers_init(&ph);
	/* unreadable as a header block: nothing protected to report */
	if (inbound_read_headers(sp, off, len, &ph, &body_off, why, sizeof(why)) == 0)
		rc = collect_protected(r, &ph);
	mime_headers_clear(&ph);
	return rc;
}

/* The opaque signature's content, when it is a MIME entity, becomes *inner. */
static int
unwrap(struct inbound_result *r, spool *content, struct entity *inner)
{
	if (entity_from_spool(inner, content, r->reason, sizeof(r->reason)) != 0) {
		entity_clear(inner); /* signed content that is not a MIME entity stays wrapped */
		return 0;
	}
	inner->hp = &inner->h;
	r->unwrapped = 1;
	return collect_protected(r, &inner->h);
}

/*
 * Verify the signed entity e (kind k), streaming from its spool.  With
 * unwrap_opaque, an opaque signature's content becomes *inner.  0
 * (verdict in r), or -1 internal.
 */
static int
verify_entity(const struct inbound_options *o, const char *from, const struct entity *e,
    enum kind k, struct inbound_result *r, struct entity *inner, char *err, size_t errlen)
{
	const struct mime_header *ct = mime_headers_find(e->hp, "Content-Type");
	struct sigverify_result sv;
	spool *content = NULL;
	int rc = -1;

	memset(&sv, 0, sizeof(sv));
	r->opaque = k == KIND_PKCS7;
	/*
	 * The signed entity is the body of the message as delivered (at the top,
	 * or the decrypted entity that replaces the body): IMAP's "TEXT".
	 */
	snprintf(r->part, sizeof(r->part), "TEXT");
	if (o->max_size > 0 && spool_size(e->sp) - e->off > o->max_size) {
		r->smime = INBOUND_SMIME_PERMERROR;
		errmsg_set(r->reason, sizeof(r->reason), "too large to verify (%llu bytes)",
		    (unsigned long long)(spool_size(e->sp) - e->off));
		return 0;
	}
	if (r->opaque && (content = new_spool(o)) == NULL) {
		errmsg_set(err, errlen, "out of memory");
		return -1;
	}
	if (sigverify_spool(ct->value, e->sp, e->off, o->trust, o->crls, content, &sv) ==
	    SIGVERIFY_ERROR) {
		errmsg_set(err, errlen, "%s", sv.reason);
		goto cleanup;
	}
	r->smime = verdict(&sv, from, o->trust != NULL, r->reason, sizeof(r->reason));
	r->signature_ok = sv.status == SIGVERIFY_GOOD;
	if (sv.signer != NULL) {
		signer_props(r, sv.signer, from);
		r->signer = sv.signer;
		r->certs = sv.certs;
		sv.signer = NULL;
		sv.certs = NULL;
	}
	if (k == KIND_SIGNED_DETACHED && sv.part_len > 0 &&
	    detached_protected(r, e->sp, e->off + sv.part_off, sv.part_len) != 0) {
		errmsg_set(err, errlen, "out of memory");
		goto cleanup;
	}
	if (content != NULL && o->unwrap_opaque && spool_size(content) > 0) {
		spool *c = content;
		content = NULL; /* inner takes it over */
		if (unwrap(r, c, inner) != 0) {
			errmsg_set(err, errlen, "out of memory");
			goto cleanup;
		}
	}
	rc = 0;
cleanup:
	sigverify_result_free(&sv);
	spool_free(content);
	return rc;
}

/* Copy the Content-* fields of the final entity and hand its spool to r. */
static int
take_content(struct inbound_result *r, struct entity *e)
{
	size_t i;

	for (i = 0; i < e->hp->n; i++)
		if (mime_is_content_header(e->hp->v[i].name) &&
		    mime_headers_add(&r->content, e->hp->v[i].name, e->hp->v[i].value) != 0)
			return -1;
	r->body = e->sp;
	r->body_off = e->off;
	e->owned = 0;
	r->changed = 1;
	return 0;
}

/*
 * A pkcs7-mime message: decode and split (streaming), and decrypt when it
 * is enveloped.  *dec filled on success.
 */
static int
open_pkcs7(const struct inbound_options *o, struct entity *msg, struct inbound_result *r,
    struct entity *dec, char *err, size_t errlen)
{
	struct cmssplit sp;
	spool *cipher = NULL;
	char st[40];
	int rc = -1;

	memset(&sp, 0, sizeof(sp));
	smime_type(msg->hp, st, sizeof(st));
	if (strcmp(st, "signed-data") == 0 || strcmp(st, "certs-only") == 0 ||
	    strcmp(st, "compressed-data") == 0)
		return 0; /* not encrypted: nothing to open */
	r->decryption = ENVELOPE_NOT_ENVELOPED;
	if (o->max_size > 0 && spool_size(msg->sp) > o->max_size) {
		r->encrypted = st[0] != '\0';
		r->decryption = ENVELOPE_UNSUPPORTED;
		errmsg_set(r->reason, sizeof(r->reason),
		    "too large to decrypt (%llu bytes, at most %zu)",
		    (unsigned long long)spool_size(msg->sp), o->max_size);
		return 0;
	}
	if ((cipher = new_spool(o)) == NULL) {
		errmsg_set(err, errlen, "out of memory");
		return -1;
	}
	switch (cmssplit_read(msg->sp, msg->off, 1, cipher, &sp, r->reason, sizeof(r->reason))) {
	case CMSSPLIT_ERROR: errmsg_set(err, errlen, "%s", r->reason); goto cleanup;
	case CMSSPLIT_CORRUPT:
		r->encrypted = st[0] != '\0';
		r->decryption = ENVELOPE_CORRUPT;
		rc = 0;
		goto cleanup;
	case CMSSPLIT_OTHER: rc = 0; goto cleanup;
	case CMSSPLIT_OK: break;
	}
	if (sp.nid == NID_pkcs7_signed) {
		errmsg_set(r->reason, sizeof(r->reason), "CMS signed-data, not enveloped-data");
		rc = 0;
		goto cleanup;
	}
	rc = decrypt_message(o, &sp, cipher, r, dec, err, errlen);
	if (rc == 0 && r->decryption == ENVELOPE_OK && collect_protected(r, &dec->h) != 0) {
		errmsg_set(err, errlen, "out of memory");
		rc = -1;
	}
cleanup:
	cmssplit_free(&sp);
	spool_free(cipher);
	return rc;
}

/* Is entity e a signature to verify (multipart/signed, or pkcs7-mime that is not encrypted)? */
static enum kind
signed_kind(const struct entity *e)
{
	enum kind k = kind_of(e->hp);
	char st[40];

	if (k != KIND_PKCS7)
		return k;
	smime_type(e->hp, st, sizeof(st));
	return st[0] == '\0' || strcmp(st, "signed-data") == 0 ? KIND_PKCS7 : KIND_OTHER;
}

int
inbound_process(const struct mime_headers *h, spool *body, const struct inbound_options *o,
    struct inbound_result *r, char *err, size_t errlen)
{
	struct entity msg, dec, inner;
	const struct mime_header *f = mime_headers_find(h, "From");
	struct entity *cur = &msg;
	char from[256];
	const char *fromp = NULL;
	enum kind k;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	memset(&msg, 0, sizeof(msg));
	memset(&dec, 0, sizeof(dec));
	memset(&inner, 0, sizeof(inner));
	r->key = -1;
	r->decryption = ENVELOPE_NOT_ENVELOPED;
	mime_headers_init(&r->content);
	mime_headers_init(&r->protected_hdrs);
	msg.hp = h;
	msg.sp = body;
	if (f != NULL && mime_extract_address(f->value, from, sizeof(from)) == 0)
		fromp = from;
	k = kind_of(h);
	if (k == KIND_PKCS7) {
		if (open_pkcs7(o, &msg, r, &dec, err, errlen) != 0)
			goto cleanup;
		if (r->encrypted && r->decryption != ENVELOPE_OK) {
			rc = 0; /* not opened: the message stays as it came */
			goto cleanup;
		}
		if (r->decryption == ENVELOPE_OK)
			cur = &dec;
	}
	k = signed_kind(cur);
	if (o->verify && k != KIND_OTHER) {
		if (verify_entity(o, fromp, cur, k, r, &inner, err, errlen) != 0)
			goto cleanup;
		if (r->unwrapped)
			cur = &inner;
	}
	if (cur != &msg && take_content(r, cur) != 0) {
		errmsg_set(err, errlen, "out of memory");
		goto cleanup;
	}
	rc = 0;
cleanup:
	entity_clear(&dec);
	entity_clear(&inner);
	return rc;
}

void
inbound_result_free(struct inbound_result *r)
{
	X509_free(r->signer);
	sk_X509_pop_free(r->certs, X509_free);
	mime_headers_clear(&r->content);
	mime_headers_clear(&r->protected_hdrs);
	spool_free(r->body);
	r->signer = NULL;
	r->certs = NULL;
	r->body = NULL;
}
