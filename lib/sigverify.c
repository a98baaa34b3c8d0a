/*
 * sigverify.c - the signature check of signed entities from outside:
 * the signature part of a multipart/signed, CMS verification of the
 * signature, and the signer's chain.  See sigverify.h.  Shared by
 * harvesting, inbound verification and smime-tool; the body itself is read
 * by sigverify_spool.c, which uses this file, also for a body in memory.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "errmsg.h"
#include "mime.h"
#include "sigverify.h"
#include "sigverify_int.h"

const unsigned char *
sigverify_find(const unsigned char *hay, size_t len, const char *needle)
{
	size_t nl = strlen(needle), i;

	for (i = 0; i + nl <= len; i++)
		if (hay[i] == (unsigned char)needle[0] && memcmp(hay + i, needle, nl) == 0)
			return hay + i;
	return NULL;
}

unsigned char *
sigverify_base64(const unsigned char *p, size_t len, size_t *outlen)
{
	unsigned char *clean = malloc(len + 1), *out;
	size_t n = 0, i, pad = 0;
	int d;

	if (clean == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		if (!isspace(p[i]))
			clean[n++] = p[i];
	clean[n] = '\0';
	if (n == 0 || n % 4 != 0) {
		free(clean);
		return NULL;
	}
	pad = (clean[n - 1] == '=') + (clean[n - 2] == '=');
	out = malloc(n / 4 * 3 + 1);
	d = out != NULL ? EVP_DecodeBlock(out, clean, (int)n) : -1;
	free(clean);
	if (d < 0) {
		free(out);
		return NULL;
	}
	*outlen = (size_t)d - pad;
	return out;
}

static int
is_signature_type(const char *type)
{
	return strcmp(type, "application/pkcs7-signature") == 0 ||
	    strcmp(type, "application/x-pkcs7-signature") == 0;
}

/* The delimiter "--boundary" after a CRLF, from p on; NULL if none. */
static const unsigned char *
find_delim(const unsigned char *b, size_t len, const unsigned char *p, const char *delim)
{
	char nd[260];

	snprintf(nd, sizeof(nd), "\r\n%s", delim);
	return sigverify_find(p, len - (size_t)(p - b), nd);
}

/* The Content-Type media type of the part whose header starts at ph (len bytes on). */
static int
part_type(const unsigned char *ph, size_t len, size_t *body_off, char *type, size_t typelen,
    char *reason, size_t reasonlen)
{
	struct mime_headers ph_list;
	const struct mime_header *h;
	int rc;

	mime_headers_init(&ph_list);
	rc = mime_parse_headers((const char *)ph, len, &ph_list, body_off, reason, reasonlen);
	h = rc == 0 ? mime_headers_find(&ph_list, "Content-Type") : NULL;
	type[0] = '\0';
	if (h != NULL)
		(void)mime_type(h->value, type, typelen);
	mime_headers_clear(&ph_list);
	return rc;
}

int
sigverify_sig_part(const unsigned char *t, size_t len, const char *delim, unsigned char **sig,
    size_t *siglen, char *reason, size_t reasonlen)
{
	const unsigned char *ph, *pb, *pe;
	char type[128] = "";
	size_t body_off;

	ph = sigverify_find(t, len, "\r\n");
	if (ph == NULL) {
		errmsg_set(reason, reasonlen, "truncated multipart/signed");
		return -1;
	}
	ph += 2;
	if (part_type(ph, len - (size_t)(ph - t), &body_off, type, sizeof(type), reason,
	        reasonlen) != 0)
		return -1;
	if (!is_signature_type(type)) {
		errmsg_set(reason, reasonlen, "second part is %s, not an S/MIME signature",
		    type[0] ? type : "untyped");
		return -1;
	}
	pb = ph + body_off;
	pe = find_delim(t, len, pb, delim);
	if (pe == NULL)
		pe = t + len;
	*sig = sigverify_base64(pb, (size_t)(pe - pb), siglen);
	if (*sig == NULL) {
		errmsg_set(reason, reasonlen, "signature part is not base64");
		return -1;
	}
	return 0;
}

/*
 * A failed CMS_verify, from the queued OpenSSL errors: BAD when the
 * signature or the content digest is wrong, MALFORMED when it could not
 * be processed.  The newest reason goes into reason.  Clears the queue.
 */
static enum sigverify_status
failure_reason(char *reason, size_t reasonlen)
{
	unsigned long e, last = 0;
	int bad = 0;

	while ((e = ERR_get_error()) != 0) {
		if (ERR_GET_LIB(e) == ERR_LIB_CMS &&
		    (ERR_GET_REASON(e) == CMS_R_VERIFICATION_FAILURE ||
		        ERR_GET_REASON(e) == CMS_R_CONTENT_VERIFY_ERROR))
			bad = 1;
		last = e;
	}
	errmsg_set(reason, reasonlen, "signature does not verify: %s",
	    last != 0 && ERR_reason_error_string(last) != NULL ? ERR_reason_error_string(last)
	                                                       : "unknown error");
	return bad ? SIGVERIFY_BAD : SIGVERIFY_MALFORMED;
}

/* The signer's chain to trust for S/MIME signing, with the certificates the signature carries. */
static void
check_chain(struct sigverify_result *r, X509_STORE *trust, STACK_OF(X509_CRL) *crls)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();

	if (ctx == NULL || !X509_STORE_CTX_init(ctx, trust, r->signer, r->certs)) {
		X509_STORE_CTX_free(ctx);
		r->status = SIGVERIFY_ERROR;
		errmsg_set(r->reason, sizeof(r->reason), "cannot check the signer's chain");
		return;
	}
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SMIME_SIGN);
	if (crls != NULL) {
		X509_STORE_CTX_set0_crls(ctx, crls);
		X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	}
	if (X509_verify_cert(ctx) == 1) {
		r->chain_error = X509_V_OK;
	} else {
		r->chain_error = X509_STORE_CTX_get_error(ctx);
		if (r->chain_error == X509_V_OK)
			r->chain_error = X509_V_ERR_UNSPECIFIED;
		errmsg_set(r->reason, sizeof(r->reason), "signer certificate: %s",
		    X509_verify_cert_error_string(r->chain_error));
	}
	X509_STORE_CTX_free(ctx);
}

void
sigverify_verify_cms(struct sigverify_result *r, CMS_ContentInfo *cms, BIO *detached,
    X509_STORE *trust, STACK_OF(X509_CRL) *crls)
{
	X509_STORE *none = X509_STORE_new();
	STACK_OF(X509) *signers;
	int i, ok;

	if (none == NULL) {
		r->status = SIGVERIFY_ERROR;
		errmsg_set(r->reason, sizeof(r->reason), "out of memory");
		return;
	}
	r->nsigners = sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms));
	ok = CMS_verify(cms, NULL, none, detached, NULL, CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY);
	if (ok != 1)
		r->status = failure_reason(r->reason, sizeof(r->reason));
	/* the signers are known once their certificates were found, also when a signature is bad */
	signers = CMS_get0_signers(cms);
	for (i = 0; signers != NULL && i < sk_X509_num(signers) && r->signer == NULL; i++)
		if (sk_X509_value(signers, i) != NULL && X509_up_ref(sk_X509_value(signers, i)))
			r->signer = sk_X509_value(signers, i);
	sk_X509_free(signers);
	r->certs = CMS_get1_certs(cms);
	X509_STORE_free(none);
	ERR_clear_error();
	if (ok != 1)
		return;
	if (r->nsigners < 1 || r->signer == NULL) {
		r->status = SIGVERIFY_MALFORMED;
		errmsg_set(r->reason, sizeof(r->reason), "no signer certificate in the signature");
		return;
	}
	r->status = SIGVERIFY_GOOD;
	if (trust != NULL)
		check_chain(r, trust, crls);
}

void
sigverify_result_free(struct sigverify_result *r)
{
	X509_free(r->signer);
	sk_X509_pop_free(r->certs, X509_free);
	r->signer = NULL;
	r->certs = NULL;
}
