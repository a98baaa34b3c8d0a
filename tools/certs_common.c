/*
 * certs_common.c - what "smime-tool certs" list/check/expiring (certs.c)
 * and import (certs_import.c) share: certificate names and serial numbers
 * as they print them, and the index the milter would build.  See certs.h.
 */
#include "config.h"

#include <stdio.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>

#include "certindex.h"
#include "certs.h"

void
certs_name(const X509_NAME *name, char *out, size_t outlen)
{
	BIO *b = BIO_new(BIO_s_mem());
	unsigned long flags =
	    XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN | (ASN1_STRFLGS_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	char *data;
	long n;

	snprintf(out, outlen, "(unreadable name)");
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, name, 0, flags) >= 0) {
		n = BIO_get_mem_data(b, &data);
		if (n >= 0)
			snprintf(out, outlen, "%.*s", (int)n, data);
	}
	BIO_free(b);
	ERR_clear_error();
}

void
certs_serial(X509 *cert, char *out, size_t outlen)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

	snprintf(out, outlen, "%s", hex != NULL ? hex : "?");
	OPENSSL_free(hex);
	BN_free(bn);
}

certindex *
certs_open_index(const struct certs_args *a, int with_dirs, char *err, size_t errlen)
{
	const char *dirs[3] = {NULL, NULL, NULL};
	struct certindex_options o = {a->ca_file, a->crl_file};
	size_t n = 0;

	if (with_dirs) {
		dirs[n++] = a->cert_dir;
		if (a->harvest_dir != NULL)
			dirs[n++] = a->harvest_dir;
	}
	return certindex_open(dirs, &o, err, errlen);
}
