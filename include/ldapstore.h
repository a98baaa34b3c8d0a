/*
 * ldapstore.h - recipient certificates from an LDAP directory (OpenLDAP's
 * libldap), asked when the file store (cert-dir) has none.
 *
 * A lookup searches ldap-base (subtree) with ldap-filter, "%s" replaced
 * by the address escaped as RFC 4515 says (*, (, ), \ and NUL become \2a,
 * \28, \29, \5c, \00), and reads userSMIMECertificate (DER: a PKCS#7
 * certs-only SignedData, or one certificate) and userCertificate;binary
 * (DER) of every entry found.  CA certificates among them are skipped.
 *
 * Connections: a small pool of handles (LDAPSTORE_POOL), each used by one
 * thread at a time under the pool's mutex; a handle is opened on first
 * use (simple bind with ldap-bind-dn and the password read from
 * ldap-password-file, which is wiped after the bind), and dropped and
 * opened again after any error, so a restarted directory is reached
 * again.  ldap-timeout bounds the connect, the bind, the search and the
 * wait for a free handle.
 *
 * Results are cached in memory per address (domain part lower-cased):
 * certificates for ldap-cache-ttl seconds, "no certificate" for
 * ldap-negative-ttl seconds.  Errors are never cached.  A directory that
 * cannot be asked (refused, timed out, bind refused) gives
 * CERTSTORE_ERROR, never CERTSTORE_MISSING.
 *
 * Thread-safe; SIGPIPE from a dead connection is blocked and discarded in
 * the calling thread.
 */
#ifndef SMIME_LDAPSTORE_H
#define SMIME_LDAPSTORE_H

#include <stddef.h>
#include <openssl/x509.h>

#include "certindex.h"
#include "certstore.h"

#define LDAPSTORE_POOL                 4
#define LDAPSTORE_DEFAULT_FILTER       "(mail=%s)"
#define LDAPSTORE_DEFAULT_TIMEOUT      5
#define LDAPSTORE_DEFAULT_CACHE_TTL    300
#define LDAPSTORE_DEFAULT_NEGATIVE_TTL 60

typedef struct ldapstore ldapstore;

struct ldapstore_options {
	const char *uri;           /* ldap://host:port (or ldaps://, ldapi://) */
	const char *base;          /* search base */
	const char *filter;        /* template with %s; NULL: LDAPSTORE_DEFAULT_FILTER */
	const char *bind_dn;       /* NULL: anonymous */
	const char *password_file; /* with bind_dn: the password, first line */
	int timeout;               /* seconds, > 0 */
	int cache_ttl;             /* seconds; 0: no cache */
	int negative_ttl;          /* seconds; 0: misses are not cached */
};

/*
 * A store for opt (copied).  Nothing is connected yet: the URI and filter
 * are checked.  NULL with err filled on a bad option.  Free with
 * ldapstore_free.
 */
ldapstore *ldapstore_open(const struct ldapstore_options *opt, char *err, size_t errlen);

/*
 * The certificates the directory holds for addr, unvalidated: the
 * end-entity ones and the CA certificates (intermediates) a PKCS#7 value
 * carries.  CERTSTORE_FOUND: *certs is a new stack (caller frees with
 * sk_X509_pop_free).  CERTSTORE_MISSING: no entry or no certificate.
 * CERTSTORE_ERROR: the directory could not be asked; reason names the URI.
 */
enum certstore_result ldapstore_lookup(ldapstore *ls, const char *addr, STACK_OF(X509) **certs,
    char *reason, size_t reasonlen);

/*
 * ldapstore_lookup, then validation of each certificate for addr with
 * certindex_validate(ci, ...) (ci NULL: certstore_check_usable and the
 * address check), the other certificates of the entry (a PKCS#7's
 * intermediates) helping to build the chain; of the usable ones the
 * latest notBefore wins.  Returns
 * like certindex_find: FOUND (*cert a new reference), MISSING, UNUSABLE
 * (reason: the first failure), ERROR.
 */
enum certstore_result ldapstore_find(ldapstore *ls, certindex *ci, const char *addr, X509 **cert,
    char *reason, size_t reasonlen);

/* The configured URI (borrowed), for messages. */
const char *ldapstore_uri(const ldapstore *ls);

/*
 * RFC 4515 escaping of len bytes of value into out (NUL-terminated).
 * 0, or -1 when out is too small.
 */
int ldapstore_escape(const char *value, size_t len, char *out, size_t outlen);

/*
 * The filter for addr: tmpl with every "%s" replaced by the escaped
 * address and "%%" by "%".  0, or -1 with err (other % sequences, no %s,
 * too long).
 */
int ldapstore_filter(const char *tmpl, const char *addr, char *out, size_t outlen, char *err,
    size_t errlen);

/* ldapstore_filter.c: nonzero when a filter is parenthesised and balanced (a cheap check). */
int ldapstore_filter_balanced(const char *filter);

/*
 * Run fn on a connection of the pool, bound as for lookups (ldap-bind-dn):
 * fn returns an LDAP result code (LDAP_SUCCESS, or an error with err
 * filled); after an error the connection is dropped, and when a kept
 * connection turns out closed by the server fn runs once more on a new
 * one.  ld is the libldap handle (LDAP *).  0, or -1 with err.
 */
typedef int (*ldapstore_conn_fn)(void *ld, void *arg, char *err, size_t errlen);
int ldapstore_with_conn(ldapstore *ls, ldapstore_conn_fn fn, void *arg, char *err, size_t errlen);

/* Forget what the cache holds for addr (after a write, so that the next lookup asks). */
void ldapstore_forget(ldapstore *ls, const char *addr);

/*
 * The certificates of a userSMIMECertificate value: a DER PKCS#7
 * SignedData (certs-only or not: its certificates), or one DER
 * certificate.  NULL when it is neither.  Caller frees.
 */
STACK_OF(X509) *ldapstore_parse_smime(const unsigned char *der, size_t len);

void ldapstore_free(ldapstore *ls);

#endif
