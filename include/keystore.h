/*
 * keystore.h - signing identities: a private key, its certificate and the
 * chain to include in signatures.
 *
 * The identity of <address> is key-dir/<address>.pem holding the private
 * key and, in the same file or in key-dir/<address>.crt beside it, the
 * certificate and its chain (the layout of the original sparkpostSMIME
 * tool).  A key file is a secret: it is opened under the rules of
 * privfile.h (not readable by group or others, as OpenSSH requires), and
 * its bytes are wiped after parsing.
 */
#ifndef SMIME_KEYSTORE_H
#define SMIME_KEYSTORE_H

#include <stddef.h>

#include "keystore_identity.h"

/*
 * What to load, in one of two forms:
 *   - dir and addr: the identity of addr in a key-dir, dir/<addr>.pem with
 *     its certificates in it or in dir/<addr>.crt;
 *   - spec: a PEM key file (certificates in it or in cert_path), or a
 *     "pkcs11:" URI (RFC 7512) naming a key in a token, whose certificate
 *     is then read from cert_path or from the token (keystore_pkcs11.h).
 * passphrase_file: a private file whose first line is the passphrase of
 * encrypted PEM keys (NULL: none; the passphrase is wiped after use).
 * Every field is borrowed for the call.
 */
struct keystore_request {
	const char *dir, *addr;
	const char *spec;
	const char *cert_path;
	const char *passphrase_file;
};

/*
 * Load the identity req names.  On KEYSTORE_FOUND *id is filled (the
 * caller frees it with keystore_identity_free); else *id is empty and err
 * says why, naming the file or URI (without its PIN).  Parsed file
 * identities are cached and re-read when a file changes (fileid.h); the
 * key file is opened under the rules of privfile.h.
 */
enum keystore_result keystore_load(const struct keystore_request *req, struct keystore_identity *id,
    char *err, size_t errlen);

/* A key spec (file path or pkcs11: URI) for messages: a URI without its PIN. */
void keystore_spec_display(const char *spec, char *out, size_t outlen);

#endif
