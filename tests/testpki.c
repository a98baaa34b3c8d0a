/*
 * testpki.c - the throwaway test PKI of testpki.h, for the unit tests and
 * the benchmarks.
 */
#include "testpki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

EVP_PKEY *
testpki_key(const char *type)
{
	if (strcmp(type, "ec") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
}

static void
testpki_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL || !X509_add_ext(cert, ext, -1))
		abort();
	X509_EXTENSION_free(ext);
}

/*
 * A certificate for subject cn (and email, when not NULL) signed by issuer
 * (self-signed when issuer is NULL).  Validity: now + from_days .. now +
 * to_days.  ku/eku: extension values, or NULL to leave them out.
 */
struct testpki_id
testpki_issue(const char *keytype, const char *cn, const char *email,
    const struct testpki_id *issuer, long from_days, long to_days, const char *ku, const char *eku)
{
	static long serial = 1000;
	struct testpki_id id;
	X509_NAME *name;
	char san[300];

	id.key = testpki_key(keytype);
	id.cert = X509_new();
	if (id.key == NULL || id.cert == NULL)
		abort();
	X509_set_version(id.cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(id.cert), serial++);
	X509_gmtime_adj(X509_getm_notBefore(id.cert), from_days * 86400L);
	X509_gmtime_adj(X509_getm_notAfter(id.cert), to_days * 86400L);
	X509_set_pubkey(id.cert, id.key);
	name = X509_get_subject_name(id.cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(id.cert, issuer ? X509_get_subject_name(issuer->cert) : name);
	if (issuer == NULL) {
		testpki_ext(id.cert, id.cert, NID_basic_constraints, "critical,CA:TRUE");
		testpki_ext(id.cert, id.cert, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		testpki_ext(id.cert, issuer->cert, NID_basic_constraints, "CA:FALSE");
	}
	if (ku != NULL)
		testpki_ext(id.cert, issuer ? issuer->cert : id.cert, NID_key_usage, ku);
	if (eku != NULL)
		testpki_ext(id.cert, issuer ? issuer->cert : id.cert, NID_ext_key_usage, eku);
	if (email != NULL) {
		snprintf(san, sizeof(san), "email:%s", email);
		testpki_ext(id.cert, issuer ? issuer->cert : id.cert, NID_subject_alt_name, san);
	}
	if (!X509_sign(id.cert, issuer ? issuer->key : id.key, EVP_sha256()))
		abort();
	return id;
}

void
testpki_free(struct testpki_id *id)
{
	EVP_PKEY_free(id->key);
	X509_free(id->cert);
	id->key = NULL;
	id->cert = NULL;
}

/* Write key (may be NULL) and certs (NULL-terminated) as PEM to path. */
void
testpki_write(const char *path, mode_t mode, EVP_PKEY *key, X509 *const *certs, int der)
{
	BIO *b = BIO_new_file(path, "wb");

	if (b == NULL)
		abort();
	if (key != NULL && !PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL))
		abort();
	for (; certs != NULL && *certs != NULL; certs++) {
		if (der ? !i2d_X509_bio(b, *certs) : !PEM_write_bio_X509(b, *certs))
			abort();
	}
	BIO_free(b);
	chmod(path, mode);
}

/*
 * Give id a new key (owned by id afterwards) and sign its certificate
 * again with issuer: how the tests get P-384, Ed25519 or X25519 keys.
 * keytype: "P-384", "ED25519", "X25519" ... (EVP_PKEY_Q_keygen names).
 */
void
testpki_rekey(struct testpki_id *id, const struct testpki_id *issuer, const char *keytype)
{
	EVP_PKEY *key;

	if (strncmp(keytype, "P-", 2) == 0)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", keytype);
	else
		key = EVP_PKEY_Q_keygen(NULL, NULL, keytype);
	if (key == NULL || !X509_set_pubkey(id->cert, key) ||
	    !X509_sign(id->cert, issuer->key, EVP_sha256()))
		abort();
	EVP_PKEY_free(id->key);
	id->key = key;
}

X509_CRL *
testpki_crl(const struct testpki_id *issuer, X509 *victim)
{
	X509_CRL *crl = X509_CRL_new();
	X509_REVOKED *r = X509_REVOKED_new();
	ASN1_TIME *t = ASN1_TIME_new();

	if (crl == NULL || r == NULL || t == NULL)
		abort();
	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer->cert));
	X509_gmtime_adj(t, -3600);
	X509_CRL_set1_lastUpdate(crl, t);
	X509_gmtime_adj(t, 86400);
	X509_CRL_set1_nextUpdate(crl, t);
	X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(victim));
	X509_gmtime_adj(t, -60);
	X509_REVOKED_set_revocationDate(r, t);
	X509_CRL_add0_revoked(crl, r);
	X509_CRL_sort(crl);
	if (X509_CRL_sign(crl, issuer->key, EVP_sha256()) <= 0)
		abort();
	ASN1_TIME_free(t);
	return crl;
}
