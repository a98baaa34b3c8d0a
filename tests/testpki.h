/*
 * testpki.h - a throwaway PKI made in memory at test time for the unit
 * tests and the benchmarks: a CA and S/MIME end-entity certificates with
 * chosen validity, key usage and extended key usage.  Nothing here is ever
 * written to the repository; files go to a private temporary directory.
 * The functions are in testpki.c (tests/libtestpki.la); every one of them
 * abort()s on failure.
 */
#ifndef SMIME_TESTPKI_H
#define SMIME_TESTPKI_H

#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct testpki_id {
	EVP_PKEY *key;
	X509 *cert;
};

/* A new key: "ec" (P-256) or anything else (RSA 2048). */
EVP_PKEY *testpki_key(const char *type);

/*
 * A certificate for subject cn (and email, when not NULL) signed by issuer
 * (self-signed when issuer is NULL).  Validity: now + from_days .. now +
 * to_days.  ku/eku: extension values, or NULL to leave them out.
 */
struct testpki_id testpki_issue(const char *keytype, const char *cn, const char *email,
    const struct testpki_id *issuer, long from_days, long to_days, const char *ku, const char *eku);

/* Free id's key and certificate and clear them. */
void testpki_free(struct testpki_id *id);

/*
 * Write key (may be NULL) and certs (NULL-terminated; PEM, or DER when der
 * is not 0) to path, then give it mode.
 */
void testpki_write(const char *path, mode_t mode, EVP_PKEY *key, X509 *const *certs, int der);

/*
 * A CRL from issuer, valid from an hour ago for a day, revoking victim
 * (a minute ago).  Caller frees with X509_CRL_free.
 */
X509_CRL *testpki_crl(const struct testpki_id *issuer, X509 *victim);

/*
 * Give id a new key (owned by id afterwards) and sign its certificate
 * again with issuer: how the tests get P-384, Ed25519 or X25519 keys.
 * keytype: "P-384", "ED25519", "X25519" ... (EVP_PKEY_Q_keygen names).
 */
void testpki_rekey(struct testpki_id *id, const struct testpki_id *issuer, const char *keytype);

#endif
