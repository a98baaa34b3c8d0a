/*
 * certindex.h - the recipient certificate store of a configuration: the
 * certificates of one or more directories (cert-dir, harvest-dir), indexed
 * by address, validated before use.
 *
 * Every file of a directory is read (PEM with one or more certificates, or
 * DER); each certificate is indexed under the address its file is named
 * after (<address>.crt, .pem, .cer, .der) and under every rfc822Name of its
 * subjectAltName (and a subject emailAddress), the domain part compared
 * case-insensitively.  Changes are picked up incrementally: the files
 * inotify reports written, renamed or removed are read again at the next
 * lookup; without inotify, new directory entries are (the directory's
 * modification time changes), and every file is stat'ed every 5 seconds.
 * With inotify every file is still stat'ed every 5 minutes.  Unchanged
 * files are not read again.  A certificate is parsed in full when first
 * looked up (a bounded number are kept parsed); the result of its
 * validation is kept until the next notAfter of its chain or nextUpdate of
 * a CRL (an unusable one is checked again after a minute).
 *
 * A certificate is usable for <address> when it is inside its validity
 * period, its keyUsage (if present) allows keyEncipherment (RSA) or
 * keyAgreement (EC), its extendedKeyUsage (if present) allows
 * emailProtection or anyExtendedKeyUsage, it names the address (except
 * domain certificates), and -- with a ca-file -- it chains to a trusted CA
 * for S/MIME encryption and, with a crl-file, is not revoked.  Of several
 * usable certificates the one with the latest notBefore wins.
 *
 * Thread-safe: one index is shared by all connections using its
 * configuration.
 */
#ifndef SMIME_CERTINDEX_H
#define SMIME_CERTINDEX_H

#include <stddef.h>
#include <openssl/x509.h>

#include "certstore.h"

typedef struct certindex certindex;

struct certindex_options {
	const char *ca_file;  /* trusted CAs (PEM); NULL: no chain check */
	const char *crl_file; /* CRLs (PEM) checked with the chain; NULL: none */
};

/*
 * An index over dirs (NULL-terminated; NULL entries skipped).  NULL with
 * err filled when a directory, the CA file or the CRL file cannot be read.
 * Caller frees with certindex_free.
 */
certindex *certindex_open(const char *const *dirs, const struct certindex_options *opt, char *err,
    size_t errlen);

/*
 * The usable certificate of addr (domain part lower-cased).  On
 * CERTSTORE_FOUND *cert is a new reference (caller frees).  Otherwise
 * reason names the address and why (the first candidate's failure when
 * none is usable).
 */
enum certstore_result certindex_find(certindex *ci, const char *addr, X509 **cert, char *reason,
    size_t reasonlen);

/* Stat every file now and take up what changed.  0, or -1 with err. */
int certindex_rescan(certindex *ci, char *err, size_t errlen);

/*
 * Full validation of one certificate: usable for addr (NULL: skip the
 * address check, as for a domain certificate), chaining to the trusted
 * CAs through intermediates from untrusted (borrowed; NULL: none), as a
 * directory entry's PKCS#7 carries them.  0, or -1 with reason.
 */
int certindex_validate(certindex *ci, X509 *cert, STACK_OF(X509) *untrusted, const char *addr,
    char *reason, size_t reasonlen);

/*
 * May cert (with chain, the certificates sent along, may be NULL) sign
 * mail from addr?  certstore_check_signing, then -- unless addr is NULL
 * (signer-address-check no) -- the certificate names addr, then with a
 * ca-file a trusted, unrevoked chain for S/MIME signing.  ci may be NULL
 * (no chain check).  0, or -1 with reason ("signing certificate expired
 * on 2020-01-31", "signing certificate does not name <a@b>", ...).
 */
int certindex_validate_signer(certindex *ci, X509 *cert, STACK_OF(X509) *chain, const char *addr,
    char *reason, size_t reasonlen);

/* Nonzero when cert names addr in its subjectAltName (or subject email). */
int certindex_names_address(X509 *cert, const char *addr);

/* The trusted store (ca-file), or NULL; borrowed. */
X509_STORE *certindex_trust(certindex *ci);

/* The CRLs of crl-file, or NULL; borrowed. */
STACK_OF(X509_CRL) *certindex_crls(certindex *ci);

/*
 * Every indexed (address, certificate, file) triple, with its usability,
 * in no particular order -- for listings.
 */
typedef void (*certindex_visit_fn)(void *arg, const char *addr, X509 *cert, const char *file,
    int usable, const char *reason);
void certindex_foreach(certindex *ci, certindex_visit_fn fn, void *arg);

/* The (address, certificate) pairs in the index now (read again first if it is due). */
size_t certindex_count(certindex *ci);

/*
 * Store cert for addr as dir/<addr>.crt (PEM, written to a temporary file
 * and renamed), followed by chain (CA certificates; may be NULL), unless
 * the file there holds a certificate with the same or a later notBefore.
 * 1 when written, 0 when kept, -1 with err.
 */
int certindex_store(const char *dir, const char *addr, X509 *cert, STACK_OF(X509) *chain, char *err,
    size_t errlen);

void certindex_free(certindex *ci);

#endif
