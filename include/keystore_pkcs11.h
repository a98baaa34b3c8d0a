/*
 * keystore_pkcs11.h - signing keys that stay in a PKCS#11 token (HSM,
 * smart card, SoftHSM), named by an RFC 7512 "pkcs11:" URI.
 *
 * The key is reached through OpenSSL's "pkcs11" engine (libp11, Debian
 * package libengine-pkcs11-openssl), which loads the PKCS#11 module that
 * p11-kit has registered for the token.  The key never leaves the token:
 * the EVP_PKEY handed back signs through the engine.
 *
 * URI attributes understood here besides those of RFC 7512's path, which
 * select the object (token, object, id, serial, ...):
 *   type=private      optional; any other type is refused
 *   pin-value=PIN     the user PIN, in the URI itself
 *   pin-source=file:/path
 *                     the user PIN is the first line of a file that only its
 *                     owner may read; wiped from memory after use
 *   x-cert-file=/path PEM certificates: the signer's certificate (used when
 *                     it matches the key, else the token's certificate of
 *                     the same object is used) and the chain to include in
 *                     signatures
 * These may be given as query attributes (after '?', separated by '&') as
 * RFC 7512 has it, or as further ';' path attributes.
 *
 * Identities are cached per URI for the life of the process (a key in a
 * token does not change under us); the certificate file is re-read when it
 * changes.  Failures, a failed login above all, are never cached.
 */
#ifndef SMIME_KEYSTORE_PKCS11_H
#define SMIME_KEYSTORE_PKCS11_H

#include <stddef.h>

#include "keystore_identity.h"

/*
 * Load the identity named by uri.  cert_path: a PEM file with the
 * certificate and chain, or NULL (x-cert-file, else the token).  On
 * KEYSTORE_FOUND *id is filled (free with keystore_identity_free); else err
 * says why, naming the URI without its PIN.
 */
enum keystore_result keystore_pkcs11_load(const char *uri, const char *cert_path,
    struct keystore_identity *id, char *err, size_t errlen);

/*
 * uri without any pin-value attribute, for messages and logs.  Returns 0,
 * or -1 when out is too small (out then holds a truncated, PIN-free text).
 */
int keystore_pkcs11_display_uri(const char *uri, char *out, size_t outlen);

/*
 * Forget every cached token identity (on a reload: a certificate renewed in
 * the token is read again).  Identities handed out stay valid: they hold
 * their own references.
 */
void keystore_pkcs11_flush(void);

#endif
