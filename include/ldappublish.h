/*
 * ldappublish.h - harvested certificates written to the LDAP directory
 * (harvest-ldap), so that every node of a fleet finds them with its
 * ordinary lookup (ldapstore.h) instead of each keeping its own
 * harvest-dir.
 *
 * One entry per address, "mail=<address>,<base>": objectClass
 * inetOrgPerson, cn and sn the address, mail, and userSMIMECertificate, a
 * DER PKCS#7 certs-only SignedData holding the certificate and the CA
 * certificates its signer sent along (the value userSMIMECertificate is
 * defined to hold).  The write goes over a connection of the lookup
 * store's pool, bound with the same ldap-bind-dn.
 *
 * Two nodes harvesting the same address at once end in one entry: the DN
 * is fixed by the address, so one add succeeds and the other finds the
 * entry there (LDAP_ALREADY_EXISTS); it then replaces the certificate
 * only when its own has a later notBefore.  The writing node's cache of
 * that address is dropped, so its next lookup sees the entry.
 */
#ifndef SMIME_LDAPPUBLISH_H
#define SMIME_LDAPPUBLISH_H

#include <stddef.h>

#include <openssl/x509.h>

#include "ldapstore.h"

/*
 * Store cert (and chain, CA certificates, may be NULL) for addr under base.
 * 1 when written (added or replaced), 0 when the entry already holds this
 * certificate or a later one, -1 with err (the directory refused or could
 * not be reached).
 */
int ldappublish_store(ldapstore *ls, const char *base, const char *addr, X509 *cert,
    STACK_OF(X509) *chain, char *err, size_t errlen);

/* The entry's DN for addr under base, RFC 4514-escaped.  0, or -1 when it does not fit. */
int ldappublish_dn(const char *base, const char *addr, char *out, size_t outlen);

#endif
