/*
 * keystore.h - signing identities: a private key, its certificate and the
 * chain to include in signatures.
 *
 * The identity of <address> is key-dir/<address>.pem holding the private
 * key and, in the same file or in key-dir/<address>.crt beside it, the
 * certificate and its chain (the layout of the original sparkpostSMIME
 * tool).  A key file that group or others may read is refused, as OpenSSH
 * refuses such keys.  Key bytes read from disk are wiped after parsing.
 */
#ifndef SMIME_KEYSTORE_H
#define SMIME_KEYSTORE_H

#include <stddef.h>

#include "keystore_identity.h"

/*
 * Load the identity of addr from dir.  On KEYSTORE_FOUND *id is filled
 * (caller frees with keystore_identity_free); else err says why.
 */
enum keystore_result keystore_load(const char *dir, const char *addr,
    struct keystore_identity *id, char *err, size_t errlen);

/*
 * Load an identity from a key file (and optional separate cert file, NULL
 * to look for certificates in the key file only).
 */
enum keystore_result keystore_load_files(const char *key_path, const char *cert_path,
    struct keystore_identity *id, char *err, size_t errlen);

/*
 * Where keys come from beyond plain PEM files.  passphrase_file: a file
 * whose first line is the passphrase of encrypted PEM keys (NULL: none;
 * the passphrase is wiped after use).  Set once per configuration.
 */
struct keystore_options {
	const char *passphrase_file;
};

/*
 * Load an identity from a key spec: a PEM file path (certificates in it or
 * in cert_path), or a "pkcs11:" URI (RFC 7512) naming a key in a token,
 * whose certificate is then read from cert_path or from the token.
 */
enum keystore_result keystore_load_spec(const char *spec, const char *cert_path,
    const struct keystore_options *opts, struct keystore_identity *id, char *err,
    size_t errlen);

/* keystore_load with options (passphrase file). */
enum keystore_result keystore_load_opts(const char *dir, const char *addr,
    const struct keystore_options *opts, struct keystore_identity *id, char *err,
    size_t errlen);

/* A key spec (file path or pkcs11: URI) for messages: a URI without its PIN. */
void keystore_spec_display(const char *spec, char *out, size_t outlen);

#endif
