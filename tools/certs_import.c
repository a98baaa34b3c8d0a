/*
 * certs_import.c - "smime-tool certs import FILE|SIGNED.eml": put a
 * correspondent's certificate into a cert-dir, accepted by the same rules
 * as smime-milter's.
 *
 * A certificate file (PEM with one or more certificates, DER, or a PKCS#7
 * certificate bundle): every end-entity certificate is stored, for every
 * address it names (subjectAltName rfc822Name, subject emailAddress), as
 * DIR/<address>.crt followed by the file's CA certificates, with
 * certindex_store, which keeps a file already holding a certificate
 * with the same or a later notBefore -- when the milter's index would use
 * it: the file is first written to a private temporary directory and
 * looked up there with certindex_find and the same ca-file and crl-file
 * (validity, keyUsage, extendedKeyUsage, address, chain, revocation).
 *
 * A message (it has a header block with From: or Content-Type:): its
 * S/MIME signature is checked with harvest_signer, as the milter's
 * harvesting does (signature over the content, signer names the From:
 * address, usable for encryption, chain to --ca-file unless --trust any),
 * and the signer's certificate is stored for the From: address with the
 * intermediates that came with it, as the milter stores it.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "certindex.h"
#include "certs.h"
#include "errmsg.h"
#include "harvest.h"
#include "mime.h"
#include "spool.h"
#include "tool.h"

#define IMPORT_MAX_ADDRS 32

struct import_counts {
	int stored, refused, errors;
};

/* ---- reading certificate files ---- */

static int
push_up_ref(STACK_OF(X509) *sk, X509 *x)
{
	if (!sk_X509_push(sk, x))
		return -1;
	X509_up_ref(x);
	return 0;
}

/* The certificates of a PKCS#7 SignedData bundle (.p7b, .p7c), PEM or DER. */
static void
read_pkcs7(const struct secbuf *raw, STACK_OF(X509) *sk)
{
	BIO *b = BIO_new_mem_buf(raw->data, (int)raw->len);
	PKCS7 *p7 = b != NULL ? PEM_read_bio_PKCS7(b, NULL, NULL, NULL) : NULL;
	STACK_OF(X509) *certs;
	int i;

	if (p7 == NULL && b != NULL && BIO_reset(b) == 1)
		p7 = d2i_PKCS7_bio(b, NULL);
	if (p7 != NULL && PKCS7_type_is_signed(p7) && p7->d.sign != NULL) {
		certs = p7->d.sign->cert;
		for (i = 0; i < sk_X509_num(certs); i++)
			(void)push_up_ref(sk, sk_X509_value(certs, i));
	}
	PKCS7_free(p7);
	BIO_free(b);
	ERR_clear_error();
}

/* Every certificate of a file: PEM (any number), else DER, else PKCS#7.  NULL: out of memory. */
static STACK_OF(X509) *
read_certs(const struct secbuf *raw)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *b = BIO_new_mem_buf(raw->data, (int)raw->len);
	X509 *x;

	if (sk == NULL || b == NULL) {
		BIO_free(b);
		sk_X509_free(sk);
		return NULL;
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(sk, x))
			X509_free(x);
	ERR_clear_error();
	if (sk_X509_num(sk) == 0 && BIO_reset(b) == 1 && (x = d2i_X509_bio(b, NULL)) != NULL &&
	    !sk_X509_push(sk, x))
		X509_free(x);
	ERR_clear_error();
	BIO_free(b);
	if (sk_X509_num(sk) == 0)
		read_pkcs7(raw, sk);
	return sk;
}

/*
 * The addresses a certificate names, domain lower-cased, each once; names
 * with an embedded NUL or unfit for a file name are left out.
 */
static size_t
cert_addresses(X509 *x, char addrs[][TOOL_ADDR_MAX], size_t max)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	X509_NAME *subj = X509_get_subject_name(x);
	const ASN1_STRING *names[IMPORT_MAX_ADDRS];
	size_t n = 0, count = 0, i, j;
	int k;

	for (k = 0; gens != NULL && k < sk_GENERAL_NAME_num(gens) && n < IMPORT_MAX_ADDRS; k++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, k);
		if (g->type == GEN_EMAIL)
			names[n++] = g->d.rfc822Name;
	}
	for (k = -1; n < IMPORT_MAX_ADDRS &&
	     (k = X509_NAME_get_index_by_NID(subj, NID_pkcs9_emailAddress, k)) >= 0;)
		names[n++] = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, k));
	for (i = 0; i < n && count < max; i++) {
		char raw[TOOL_ADDR_MAX];
		int len = ASN1_STRING_length(names[i]);
		const unsigned char *d = ASN1_STRING_get0_data(names[i]);
		if (len <= 0 || (size_t)len >= sizeof(raw) || memchr(d, '\0', (size_t)len) != NULL)
			continue;
		memcpy(raw, d, (size_t)len);
		raw[len] = '\0';
		if (mime_extract_address(raw, addrs[count], TOOL_ADDR_MAX) != 0 ||
		    !mime_address_is_safe(addrs[count]))
			continue;
		for (j = 0; j < count && strcmp(addrs[j], addrs[count]) != 0; j++)
			;
		if (j == count)
			count++;
	}
	GENERAL_NAMES_free(gens);
	return count;
}

/* ---- storing ---- */

/*
 * What the milter's index makes of x (+ chain) stored for addr: written to
 * a private temporary directory, indexed there with the same ca-file and
 * crl-file, looked up.  0 usable, 1 not (reason says why), -1 error (reason).
 */
static int
index_verdict(const struct certs_args *a, const char *addr, X509 *x, STACK_OF(X509) *chain,
    char *reason, size_t reasonlen)
{
	const char *tmp = getenv("TMPDIR");
	char dir[4096], file[4400];
	const char *dirs[2] = {dir, NULL};
	struct certindex_options o = {a->ca_file, a->crl_file};
	certindex *ci = NULL;
	X509 *found = NULL;
	int rc = -1;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/smime-tool-import.XXXXXX",
	        tmp != NULL && *tmp != '\0' ? tmp : "/tmp") >= sizeof(dir) ||
	    mkdtemp(dir) == NULL) {
		errmsg_set(reason, reasonlen, "cannot create a temporary directory: %s",
		    strerror(errno));
		return -1;
	}
	snprintf(file, sizeof(file), "%s/%s.crt", dir, addr);
	if (certindex_store(dir, addr, x, chain, reason, reasonlen) != 1)
		goto cleanup;
	ci = certindex_open(dirs, &o, reason, reasonlen);
	if (ci == NULL)
		goto cleanup;
	switch (certindex_find(ci, addr, &found, reason, reasonlen)) {
	case CERTSTORE_FOUND: rc = 0; break;
	case CERTSTORE_ERROR: break;
	default: rc = 1;
	}
cleanup:
	X509_free(found);
	certindex_free(ci);
	(void)unlink(file);
	(void)rmdir(dir);
	return rc;
}

static void
store_one(const struct certs_args *a, const char *addr, X509 *x, STACK_OF(X509) *chain,
    struct import_counts *c)
{
	char err[512], serial[128], until[32];

	certs_serial(x, serial, sizeof(serial));
	certstore_time(X509_get0_notAfter(x), 0, until, sizeof(until));
	switch (certindex_store(a->cert_dir, addr, x, chain, err, sizeof(err))) {
	case 1:
		printf("%s: stored %s/%s.crt (serial %s, valid until %s)\n", addr, a->cert_dir,
		    addr, serial, until);
		c->stored++;
		break;
	case 0:
		printf("%s: not imported: %s/%s.crt holds a certificate with the same or a later "
		       "notBefore\n",
		    addr, a->cert_dir, addr);
		c->refused++;
		break;
	default: fprintf(stderr, "smime-tool certs import: %s: %s\n", addr, err); c->errors++;
	}
}

static void
import_certs(const struct certs_args *a, STACK_OF(X509) *sk, struct import_counts *c)
{
	char addrs[IMPORT_MAX_ADDRS][TOOL_ADDR_MAX], subject[512], reason[512];
	STACK_OF(X509) *cas = sk_X509_new_null();
	size_t n, j;
	int i;

	for (i = 0; cas != NULL && i < sk_X509_num(sk); i++)
		if (X509_check_ca(sk_X509_value(sk, i)) != 0 &&
		    push_up_ref(cas, sk_X509_value(sk, i)) != 0)
			break;
	if (cas == NULL || i < sk_X509_num(sk)) {
		fprintf(stderr, "smime-tool certs import: out of memory\n");
		c->errors++;
		sk_X509_pop_free(cas, X509_free);
		return;
	}
	for (i = 0; i < sk_X509_num(sk); i++) {
		X509 *x = sk_X509_value(sk, i);
		certs_name(X509_get_subject_name(x), subject, sizeof(subject));
		if (X509_check_ca(x) != 0) {
			printf("%s: skipped: CA certificate %s\n", a->arg, subject);
			continue;
		}
		n = cert_addresses(x, addrs, IMPORT_MAX_ADDRS);
		if (n == 0) {
			printf("%s: not imported: certificate %s names no e-mail address\n", a->arg,
			    subject);
			c->refused++;
			continue;
		}
		for (j = 0; j < n; j++) {
			switch (index_verdict(a, addrs[j], x, cas, reason, sizeof(reason))) {
			case 0: store_one(a, addrs[j], x, cas, c); break;
			case 1:
				printf("%s: not imported: %s\n", addrs[j], reason);
				c->refused++;
				break;
			default:
				fprintf(stderr, "smime-tool certs import: %s: %s\n", addrs[j],
				    reason);
				c->errors++;
			}
		}
	}
	sk_X509_pop_free(cas, X509_free);
}

/* ---- signed messages ---- */

/* Parse canon as a message: 1 when it has a header block with From: or Content-Type:. */
static int
parse_message(const struct secbuf *canon, struct mime_headers *h, size_t *body_off)
{
	char err[256];

	if (mime_parse_headers(canon->data, canon->len, h, body_off, err, sizeof(err)) != 0)
		return 0;
	return mime_headers_find(h, "From") != NULL || mime_headers_find(h, "Content-Type") != NULL;
}

static int
import_message(const struct certs_args *a, certindex *ci, const struct mime_headers *h,
    const struct secbuf *canon, size_t body_off, struct import_counts *c)
{
	struct harvest_options o;
	char addr[TOOL_ADDR_MAX], reason[512], err[512];
	spool *body = spool_new(SPOOL_DEFAULT_MEMORY, NULL);
	STACK_OF(X509) *chain = NULL;
	X509 *x = NULL;
	int rc;

	memset(&o, 0, sizeof(o));
	o.trust = a->trust_any ? NULL : certindex_trust(ci);
	if (body == NULL ||
	    spool_write(body, canon->data + body_off, canon->len - body_off, err, sizeof(err)) !=
	        0) {
		fprintf(stderr, "smime-tool certs import: %s: %s\n", a->arg,
		    body == NULL ? "out of memory" : err);
		c->errors++;
		spool_free(body);
		return -1;
	}
	rc = harvest_signer(h, body, &o, &x, &chain, addr, sizeof(addr), reason, sizeof(reason));
	spool_free(body);
	if (rc < 0) {
		fprintf(stderr, "smime-tool certs import: %s: %s\n", a->arg, reason);
		c->errors++;
		return -1;
	}
	if (rc == 0) {
		printf("%s: not imported: %s\n", a->arg, reason);
		c->refused++;
		return 0;
	}
	printf("%s: signature verified, signer %s\n", a->arg, addr);
	store_one(a, addr, x, chain, c);
	/* stored as the milter's harvesting stores it; say when its index would still refuse it */
	if (c->stored > 0 && index_verdict(a, addr, x, chain, reason, sizeof(reason)) != 0)
		printf("%s: warning: not usable for encryption as stored: %s\n", addr, reason);
	sk_X509_pop_free(chain, X509_free);
	X509_free(x);
	return 0;
}

/* ---- the command ---- */

int
certs_import(const struct certs_args *a)
{
	struct import_counts c = {0, 0, 0};
	struct mime_headers h;
	struct secbuf raw, canon;
	struct mime_canon mc;
	STACK_OF(X509) *sk = NULL;
	certindex *ci = NULL;
	char err[512];
	size_t body_off = 0;
	int rc = CERTS_EXIT_ERROR;

	mime_headers_init(&h);
	secbuf_init(&canon);
	if (tool_read_file(a->arg, &raw, err, sizeof(err)) != 0) {
		fprintf(stderr, "smime-tool certs import: %s\n", err);
		return CERTS_EXIT_ERROR;
	}
	canon.cap = 2 * raw.len + 1;
	canon.data = malloc(canon.cap);
	if (canon.data == NULL) {
		fprintf(stderr, "smime-tool certs import: out of memory\n");
		goto cleanup;
	}
	mime_canon_init(&mc);
	canon.len = mime_canon_chunk(&mc, raw.data, raw.len, canon.data);
	canon.data[canon.len] = '\0';
	ci = certs_open_index(a, 0, err, sizeof(err));
	if (ci == NULL) {
		fprintf(stderr, "smime-tool certs import: %s\n", err);
		goto cleanup;
	}
	if (parse_message(&canon, &h, &body_off)) {
		if (!a->trust_any && a->ca_file == NULL) {
			fprintf(stderr,
			    "smime-tool certs import: %s is a message: its signer is "
			    "trusted only with --ca-file CA (or --trust any)\n",
			    a->arg);
			rc = TOOL_EXIT_USAGE;
			goto cleanup;
		}
		(void)import_message(a, ci, &h, &canon, body_off, &c);
	} else {
		sk = read_certs(&raw);
		if (sk == NULL) {
			fprintf(stderr, "smime-tool certs import: out of memory\n");
			goto cleanup;
		}
		if (sk_X509_num(sk) == 0) {
			fprintf(stderr,
			    "smime-tool certs import: %s holds no certificate (PEM, DER or "
			    "PKCS#7) and is not a message\n",
			    a->arg);
			goto cleanup;
		}
		import_certs(a, sk, &c);
	}
	if (fflush(stdout) != 0)
		c.errors++;
	rc = c.stored > 0 ? TOOL_EXIT_OK : c.errors > 0 ? CERTS_EXIT_ERROR : TOOL_EXIT_FAIL;
cleanup:
	sk_X509_pop_free(sk, X509_free);
	certindex_free(ci);
	mime_headers_clear(&h);
	secbuf_free(&canon);
	secbuf_free(&raw);
	return rc;
}
