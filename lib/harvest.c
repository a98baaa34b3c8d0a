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
#include "sigverify.h"

#define HARVEST_DEFAULT_MAX (20 * 1024 * 1024)

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

/* The From: address into addr, and the DKIM requirement.  1, or 0 with reason. */
static int
sender_ok(const struct mime_headers *h, const struct harvest_options *o, char *addr, size_t addrlen,
    char *reason, size_t reasonlen)
{
	const struct mime_header *from = mime_headers_find(h, "From");

	if (from == NULL || mime_extract_address(from->value, addr, addrlen) != 0) {
		errmsg_set(reason, reasonlen, "no usable From: address");
		return 0;
	}
	if (o->require_dkim &&
	    !dkim_passed(h, o->authserv_id ? o->authserv_id : "", strrchr(addr, '@') + 1)) {
		errmsg_set(reason, reasonlen, "no dkim=pass for %s from %s", strrchr(addr, '@') + 1,
		    o->authserv_id ? o->authserv_id : "(no authserv-id)");
		return 0;
	}
	return 1;
}

/* A verified signer's certificate may be stored for addr: it names it and can encrypt. */
static int
signer_ok(X509 *signer, const char *addr, char *reason, size_t reasonlen)
{
	if (!certindex_names_address(signer, addr)) {
		errmsg_set(reason, reasonlen,
		    "signer certificate does not name the From: address %s", addr);
		return 0;
	}
	return certstore_check_usable(signer, addr, reason, reasonlen) == 0 ? 1 : 0;
}

int
harvest_accept_signer(const struct mime_headers *h, X509 *signer, const struct harvest_options *o,
    char *addr, size_t addrlen, char *reason, size_t reasonlen)
{
	if (!sender_ok(h, o, addr, addrlen, reason, reasonlen))
		return 0;
	return signer_ok(signer, addr, reason, reasonlen);
}

STACK_OF(X509) *
harvest_ca_certs(STACK_OF(X509) *certs, X509 *signer)
{
	STACK_OF(X509) *out = sk_X509_new_null();
	int i;

	for (i = 0; out != NULL && i < sk_X509_num(certs); i++) {
		X509 *c = sk_X509_value(certs, i);
		if (X509_cmp(c, signer) != 0 && X509_check_ca(c) != 0 && sk_X509_push(out, c))
			X509_up_ref(c);
	}
	return out;
}

int
harvest_signer(const struct mime_headers *h, spool *body, const struct harvest_options *o,
    X509 **signer, STACK_OF(X509) **chain, char *addr, size_t addrlen, char *reason,
    size_t reasonlen)
{
	const struct mime_header *cth = mime_headers_find(h, "Content-Type");
	size_t max = o->max_size ? o->max_size : HARVEST_DEFAULT_MAX;
	struct sigverify_result r;
	spool *content = NULL;
	int rc = 0;

	*signer = NULL;
	if (chain != NULL)
		*chain = NULL;
	memset(&r, 0, sizeof(r));
	if (mime_headers_find(h, "From") == NULL) {
		errmsg_set(reason, reasonlen, "no usable From: address");
		return 0;
	}
	if (cth == NULL || !harvest_is_signed_type(cth->value)) {
		errmsg_set(reason, reasonlen, "not an S/MIME signed message");
		return 0;
	}
	if (!sender_ok(h, o, addr, addrlen, reason, reasonlen))
		return 0;
	if (spool_size(body) > max) {
		errmsg_set(reason, reasonlen, "message too large to check (%llu bytes)",
		    (unsigned long long)spool_size(body));
		return 0;
	}
	/* read from the spool by the verification; an opaque signature's content goes to content */
	content = spool_new(SPOOL_DEFAULT_MEMORY, NULL);
	if (content == NULL) {
		errmsg_set(reason, reasonlen, "out of memory");
		return -1;
	}
	switch (sigverify_spool(cth->value, body, 0, o->trust, NULL, content, &r)) {
	case SIGVERIFY_GOOD: break;
	case SIGVERIFY_ERROR:
		rc = -1;
		/* fall through */
	default: errmsg_set(reason, reasonlen, "%s", r.reason); goto cleanup;
	}
	if (r.chain_error > 0) {
		errmsg_set(reason, reasonlen, "signature does not verify: %s", r.reason);
		goto cleanup;
	}
	if (r.nsigners != 1) {
		errmsg_set(reason, reasonlen, "expected exactly one signer");
		goto cleanup;
	}
	if (!signer_ok(r.signer, addr, reason, reasonlen))
		goto cleanup;
	if (chain != NULL && (*chain = harvest_ca_certs(r.certs, r.signer)) == NULL) {
		errmsg_set(reason, reasonlen, "out of memory");
		rc = -1;
		goto cleanup;
	}
	X509_up_ref(r.signer);
	*signer = r.signer;
	rc = 1;
cleanup:
	sigverify_result_free(&r);
	spool_free(content);
	return rc;
}
