/*
 * harvest.c - verify the S/MIME signature of incoming mail and hand back
 * the signer's certificate when it may be stored.  See harvest.h.
 * Everything here comes from outside: lengths are checked, nothing is
 * trusted before the signature verifies.
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

#include "certindex.h"
#include "certstore.h"
#include "errmsg.h"
#include "harvest.h"

#define HARVEST_DEFAULT_MAX (20 * 1024 * 1024)

static int
is_signature_type(const char *type)
{
	return strcmp(type, "application/pkcs7-signature") == 0 ||
	    strcmp(type, "application/x-pkcs7-signature") == 0;
}

int
harvest_is_signed_type(const char *ct)
{
	char type[128], st[64];

	if (ct == NULL || mime_type(ct, type, sizeof(type)) != 0)
		return 0;
	if (strcmp(type, "multipart/signed") == 0)
		return 1;
	if (strcmp(type, "application/pkcs7-mime") == 0 ||
	    strcmp(type, "application/x-pkcs7-mime") == 0)
		return mime_param(ct, "smime-type", st, sizeof(st)) == 0 &&
		    strcasecmp(st, "signed-data") == 0;
	return 0;
}

/* The whole body, up to max bytes.  Caller wipes and frees. */
static unsigned char *
read_body(spool *body, size_t max, size_t *len, char *reason, size_t reasonlen)
{
	uint64_t size = spool_size(body);
	unsigned char *buf;
	size_t got = 0;
	ssize_t n;

	if (size > max) {
		errmsg_set(reason, reasonlen, "message too large to check (%llu bytes)",
		    (unsigned long long)size);
		return NULL;
	}
	buf = malloc((size_t)size + 1);
	if (buf == NULL || spool_rewind(body, reason, reasonlen) != 0) {
		free(buf);
		return NULL;
	}
	while (got < size && (n = spool_read(body, buf + got, (size_t)size - got, reason,
	                          reasonlen)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	*len = got;
	return buf;
}

static const unsigned char *
find(const unsigned char *hay, size_t len, const char *needle)
{
	size_t nl = strlen(needle), i;

	for (i = 0; i + nl <= len; i++)
		if (hay[i] == (unsigned char)needle[0] && memcmp(hay + i, needle, nl) == 0)
			return hay + i;
	return NULL;
}

/* base64 text (any white space) -> bytes.  Caller frees. */
static unsigned char *
decode_base64(const unsigned char *p, size_t len, size_t *outlen)
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

/*
 * multipart/signed: the first part (exact bytes) and the DER of the
 * signature part.  0, or -1 with reason.
 */
static int
split_multipart(const unsigned char *b, size_t len, const char *boundary,
    const unsigned char **content, size_t *clen, unsigned char **sig, size_t *siglen,
    char *reason, size_t reasonlen)
{
	char delim[256], ct[512], type[128];
	const unsigned char *start, *end, *ph, *pb, *pe, *eol;
	struct mime_headers ph_list;
	size_t body_off;
	const struct mime_header *h;

	snprintf(delim, sizeof(delim), "--%s", boundary);
	/* the first delimiter: at the start, or after a CRLF */
	start = (len >= strlen(delim) && memcmp(b, delim, strlen(delim)) == 0) ? b : NULL;
	if (start == NULL) {
		char nd[260];
		snprintf(nd, sizeof(nd), "\r\n%s", delim);
		start = find(b, len, nd);
		if (start != NULL)
			start += 2;
	}
	if (start == NULL || (eol = find(start, len - (size_t)(start - b), "\r\n")) == NULL) {
		errmsg_set(reason, reasonlen, "multipart/signed without its first part");
		return -1;
	}
	*content = eol + 2;
	{
		char nd[260];
		snprintf(nd, sizeof(nd), "\r\n%s", delim);
		end = find(*content, len - (size_t)(*content - b), nd);
	}
	if (end == NULL) {
		errmsg_set(reason, reasonlen, "multipart/signed without its signature part");
		return -1;
	}
	*clen = (size_t)(end - *content);
	ph = find(end + 2, len - (size_t)(end + 2 - b), "\r\n");
	if (ph == NULL) {
		errmsg_set(reason, reasonlen, "truncated multipart/signed");
		return -1;
	}
	ph += 2;
	mime_headers_init(&ph_list);
	if (mime_parse_headers((const char *)ph, len - (size_t)(ph - b), &ph_list, &body_off, reason,
	        reasonlen) != 0) {
		mime_headers_clear(&ph_list);
		return -1;
	}
	h = mime_headers_find(&ph_list, "Content-Type");
	snprintf(ct, sizeof(ct), "%s", h != NULL ? h->value : "");
	mime_headers_clear(&ph_list);
	if (mime_type(ct, type, sizeof(type)) != 0 || !is_signature_type(type)) {
		errmsg_set(reason, reasonlen, "second part is %s, not an S/MIME signature",
		    type[0] ? type : "untyped");
		return -1;
	}
	pb = ph + body_off;
	{
		char nd[260];
		snprintf(nd, sizeof(nd), "\r\n%s", delim);
		pe = find(pb, len - (size_t)(pb - b), nd);
	}
	if (pe == NULL)
		pe = b + len;
	*sig = decode_base64(pb, (size_t)(pe - pb), siglen);
	if (*sig == NULL) {
		errmsg_set(reason, reasonlen, "signature part is not base64");
		return -1;
	}
	return 0;
}

/* Authentication-Results from authserv_id with dkim=pass header.d=domain. */
static int
dkim_passed(const struct mime_headers *h, const char *authserv_id, const char *domain)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		char buf[2048], *save = NULL, *seg, *id;
		if (strcasecmp(h->v[i].name, "Authentication-Results") != 0)
			continue;
		snprintf(buf, sizeof(buf), "%s", h->v[i].value);
		id = strtok_r(buf, ";", &save);
		if (id == NULL)
			continue;
		while (isspace((unsigned char)*id))
			id++;
		id[strcspn(id, " \t\r\n")] = '\0';
		if (strcasecmp(id, authserv_id) != 0)
			continue; /* someone else's claim */
		while ((seg = strtok_r(NULL, ";", &save)) != NULL) {
			char *d;
			while (isspace((unsigned char)*seg))
				seg++;
			if (strncasecmp(seg, "dkim=pass", 9) != 0 ||
			    (seg[9] != '\0' && !isspace((unsigned char)seg[9])))
				continue;
			d = strcasestr(seg, "header.d=");
			if (d == NULL)
				continue;
			d += 9;
			d[strcspn(d, " \t\r\n;")] = '\0';
			if (strcasecmp(d, domain) == 0)
				return 1;
		}
	}
	return 0;
}

int
harvest_signer(const struct mime_headers *h, spool *body, const struct harvest_options *o,
    X509 **signer, STACK_OF(X509) **chain, char *addr, size_t addrlen, char *reason,
    size_t reasonlen)
{
	const struct mime_header *from = mime_headers_find(h, "From");
	const struct mime_header *cth = mime_headers_find(h, "Content-Type");
	char type[128], boundary[200];
	unsigned char *buf = NULL, *sig = NULL;
	const unsigned char *content = NULL;
	size_t len = 0, clen = 0, siglen = 0;
	CMS_ContentInfo *cms = NULL;
	BIO *cbio = NULL, *in = NULL;
	STACK_OF(X509) *signers = NULL;
	X509_STORE *anystore = NULL;
	X509 *x;
	int rc = 0, flags = CMS_BINARY;

	*signer = NULL;
	if (chain != NULL)
		*chain = NULL;
	if (from == NULL || mime_extract_address(from->value, addr, addrlen) != 0) {
		errmsg_set(reason, reasonlen, "no usable From: address");
		return 0;
	}
	if (cth == NULL || !harvest_is_signed_type(cth->value) ||
	    mime_type(cth->value, type, sizeof(type)) != 0) {
		errmsg_set(reason, reasonlen, "not an S/MIME signed message");
		return 0;
	}
	if (o->require_dkim &&
	    !dkim_passed(h, o->authserv_id ? o->authserv_id : "", strrchr(addr, '@') + 1)) {
		errmsg_set(reason, reasonlen, "no dkim=pass for %s from %s", strrchr(addr, '@') + 1,
		    o->authserv_id ? o->authserv_id : "(no authserv-id)");
		return 0;
	}
	buf = read_body(body, o->max_size ? o->max_size : HARVEST_DEFAULT_MAX, &len, reason,
	    reasonlen);
	if (buf == NULL)
		return 0;
	if (strcmp(type, "multipart/signed") == 0) {
		if (mime_param(cth->value, "boundary", boundary, sizeof(boundary)) != 0) {
			errmsg_set(reason, reasonlen, "multipart/signed without a boundary");
			goto cleanup;
		}
		if (split_multipart(buf, len, boundary, &content, &clen, &sig, &siglen, reason,
		        reasonlen) != 0)
			goto cleanup;
		in = BIO_new_mem_buf(sig, (int)siglen);
		cms = in != NULL ? d2i_CMS_bio(in, NULL) : NULL;
		cbio = BIO_new_mem_buf(content, (int)clen);
		flags |= CMS_DETACHED;
	} else {
		sig = decode_base64(buf, len, &siglen);
		in = sig != NULL ? BIO_new_mem_buf(sig, (int)siglen) : NULL;
		cms = in != NULL ? d2i_CMS_bio(in, NULL) : NULL;
	}
	if (cms == NULL || OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		errmsg_set(reason, reasonlen, "signature is not CMS SignedData");
		goto cleanup;
	}
	if (o->trust == NULL) {
		flags |= CMS_NO_SIGNER_CERT_VERIFY;
		anystore = X509_STORE_new();
	}
	if (CMS_verify(cms, NULL, o->trust != NULL ? o->trust : anystore, cbio, NULL,
	        flags & ~CMS_DETACHED) != 1) {
		errmsg_set_ssl(reason, reasonlen, "signature does not verify");
		goto cleanup;
	}
	signers = CMS_get0_signers(cms);
	if (signers == NULL || sk_X509_num(signers) != 1) {
		errmsg_set(reason, reasonlen, "expected exactly one signer");
		goto cleanup;
	}
	x = sk_X509_value(signers, 0);
	if (!certindex_names_address(x, addr)) {
		errmsg_set(reason, reasonlen, "signer certificate does not name the From: address %s",
		    addr);
		goto cleanup;
	}
	if (certstore_check_usable(x, addr, reason, reasonlen) != 0)
		goto cleanup;
	if (chain != NULL) {
		STACK_OF(X509) *all = CMS_get1_certs(cms);
		int i;
		*chain = sk_X509_new_null();
		for (i = 0; all != NULL && *chain != NULL && i < sk_X509_num(all); i++) {
			X509 *c = sk_X509_value(all, i);
			if (X509_cmp(c, x) != 0 && X509_check_ca(c) != 0 && sk_X509_push(*chain, c))
				X509_up_ref(c);
		}
		sk_X509_pop_free(all, X509_free);
	}
	X509_up_ref(x);
	*signer = x;
	rc = 1;
cleanup:
	sk_X509_free(signers);
	X509_STORE_free(anystore);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	BIO_free(cbio);
	free(sig);
	if (buf != NULL) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	ERR_clear_error();
	return rc;
}
