/*
 * gencerts.c - a large cert-dir for bench/certstore.sh, fast: a few RSA
 * keys are reused, an ECDSA P-256 CA signs (tens of microseconds a
 * certificate), subjects and subjectAltNames vary.
 *
 *   gencerts DIR COUNT PREFIX CA_KEY_PEM CA_CERT_PEM
 *
 * Writes DIR/<PREFIX>NNNNNN@dNNN.example.crt (PEM), each certificate
 * naming that address in its subject emailAddress and subjectAltName, the
 * even ones a second address <PREFIX>NNNNNN.alt@dNNN.example in the SAN,
 * valid from yesterday for 30 days, S/MIME key usage.  The CA (created by
 * the caller) is read from CA_KEY_PEM / CA_CERT_PEM.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define GEN_KEYS 4

static int
gen_ext(X509 *x, X509 *ca, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *e;
	int ok;

	X509V3_set_ctx(&v3, ca, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (e == NULL)
		return -1;
	ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok ? 0 : -1;
}

static X509 *
gen_cert(EVP_PKEY *key, X509 *ca, EVP_PKEY *cakey, const char *addr, const char *alt, long serial)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	char san[600];

	if (x == NULL || n == NULL)
		goto fail;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400);
	X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400);
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"Bench", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)addr, -1, -1, 0);
	X509_NAME_add_entry_by_NID(n, NID_pkcs9_emailAddress, MBSTRING_ASC,
	    (const unsigned char *)addr, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, X509_get_subject_name(ca));
	X509_set_pubkey(x, key);
	if (alt != NULL)
		snprintf(san, sizeof(san), "email:%s,email:%s", addr, alt);
	else
		snprintf(san, sizeof(san), "email:%s", addr);
	if (gen_ext(x, ca, NID_basic_constraints, "CA:FALSE") != 0 ||
	    gen_ext(x, ca, NID_key_usage, "critical,digitalSignature,keyEncipherment") != 0 ||
	    gen_ext(x, ca, NID_ext_key_usage, "emailProtection") != 0 ||
	    gen_ext(x, ca, NID_subject_alt_name, san) != 0 ||
	    X509_sign(x, cakey, EVP_sha256()) == 0)
		goto fail;
	X509_NAME_free(n);
	return x;
fail:
	X509_NAME_free(n);
	X509_free(x);
	return NULL;
}

int
main(int argc, char **argv)
{
	EVP_PKEY *keys[GEN_KEYS], *cakey;
	X509 *ca;
	FILE *f;
	long count, i;
	int k;

	if (argc != 6) {
		fprintf(stderr, "usage: gencerts DIR COUNT PREFIX CA_KEY_PEM CA_CERT_PEM\n");
		return 2;
	}
	count = strtol(argv[2], NULL, 10);
	f = fopen(argv[4], "r");
	cakey = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f != NULL)
		fclose(f);
	f = fopen(argv[5], "r");
	ca = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f != NULL)
		fclose(f);
	if (cakey == NULL || ca == NULL) {
		fprintf(stderr, "gencerts: cannot read the CA\n");
		return 1;
	}
	for (k = 0; k < GEN_KEYS; k++)
		if ((keys[k] = EVP_RSA_gen(2048)) == NULL)
			return 1;
	for (i = 0; i < count; i++) {
		char addr[256], alt[256], path[4096];
		X509 *x;
		snprintf(addr, sizeof(addr), "%s%06ld@d%03ld.example", argv[3], i, i % 997);
		snprintf(alt, sizeof(alt), "%s%06ld.alt@d%03ld.example", argv[3], i, i % 997);
		x = gen_cert(keys[i % GEN_KEYS], ca, cakey, addr, i % 2 == 0 ? alt : NULL,
		    0x10000 + i);
		snprintf(path, sizeof(path), "%s/%s.crt", argv[1], addr);
		f = x != NULL ? fopen(path, "w") : NULL;
		if (f == NULL || !PEM_write_X509(f, x) || fclose(f) != 0) {
			fprintf(stderr, "gencerts: cannot write %s\n", path);
			return 1;
		}
		X509_free(x);
	}
	for (k = 0; k < GEN_KEYS; k++)
		EVP_PKEY_free(keys[k]);
	EVP_PKEY_free(cakey);
	X509_free(ca);
	return 0;
}
