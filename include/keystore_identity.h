/*
 * keystore_identity.h - a signing identity: a private key, its
 * certificate and the chain to include in signatures, and the results of
 * loading one.  Shared by the key loaders (keystore.h for files,
 * keystore_pkcs11.h for tokens) and by whoever signs with an identity.
 *
 * Ownership: an identity holds one reference to each object; the struct
 * itself is the caller's (on the stack or inside another struct).
 */
#ifndef SMIME_KEYSTORE_IDENTITY_H
#define SMIME_KEYSTORE_IDENTITY_H

#include <openssl/evp.h>
#include <openssl/x509.h>

struct keystore_identity {
	EVP_PKEY *key;
	X509 *cert;            /* the certificate matching key */
	STACK_OF(X509) *chain; /* further certificates, may be empty */
};

enum keystore_result {
	KEYSTORE_FOUND = 0,
	KEYSTORE_MISSING, /* no key file for the address */
	KEYSTORE_ERROR,   /* a key file exists but cannot be read or parsed */
	KEYSTORE_MISMATCH /* key and certificates read, but no certificate matches the key */
};

/*
 * A second reference to everything id holds, into *out (overwritten).
 * 0, or -1 out of memory (*out then holds nothing).
 */
int keystore_identity_copy(const struct keystore_identity *id, struct keystore_identity *out);

/* Drop what an identity holds and zero it; an empty identity is fine. */
void keystore_identity_free(struct keystore_identity *id);

#endif
