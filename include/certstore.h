/*
 * certstore.h - recipient certificates from a directory of files.
 *
 * The certificate of <address> is cert-dir/<address>.crt (PEM or DER), the
 * naming of the original sparkpostSMIME tool.  A certificate is usable for
 * encryption when it is inside its validity period, its keyUsage (when
 * present) allows key encipherment (RSA) or key agreement (EC), and its
 * extendedKeyUsage (when present) allows emailProtection.
 */
#ifndef SMIME_CERTSTORE_H
#define SMIME_CERTSTORE_H

#include <stddef.h>
#include <openssl/x509.h>

/* Results of a lookup. */
enum certstore_result {
	CERTSTORE_FOUND = 0, /* *cert set */
	CERTSTORE_MISSING,   /* no certificate for the address */
	CERTSTORE_UNUSABLE,  /* a certificate exists but may not be used */
	CERTSTORE_ERROR      /* could not look (I/O error, bad address) */
};

/*
 * Find the usable certificate of addr (already lower-cased in its domain
 * part, see mime_extract_address) in dir.  On CERTSTORE_FOUND *cert is a
 * new reference (caller frees with X509_free).  Otherwise reason says why
 * (file name and cause), for logs and SMTP replies.
 */
enum certstore_result certstore_lookup(const char *dir, const char *addr, X509 **cert, char *reason,
    size_t reasonlen);

/*
 * Load the first certificate of a file, PEM or DER.  Caller frees.  NULL
 * with err filled when the file cannot be read or holds no certificate.
 */
X509 *certstore_load_file(const char *path, char *err, size_t errlen);

/* 0 when cert may be used to encrypt to addr; else -1 with reason filled. */
int certstore_check_usable(X509 *cert, const char *addr, char *reason, size_t reasonlen);

/*
 * 0 when cert may sign mail: inside its validity period, keyUsage (when
 * present) allows digitalSignature (or nonRepudiation), extendedKeyUsage
 * (when present) allows emailProtection.  Else -1 with reason filled
 * ("signing certificate expired on 2020-01-31", ...).  The address is not
 * checked here (certindex_validate_signer does).
 */
int certstore_check_signing(X509 *cert, char *reason, size_t reasonlen);

/* A certificate time as YYYY-MM-DD (with_time: YYYY-MM-DDTHH:MM:SSZ); "?" if unreadable. */
void certstore_time(const ASN1_TIME *t, int with_time, char *out, size_t outlen);

#endif
