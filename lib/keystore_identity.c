/*
 * keystore_identity.c - references to a signing identity.  See
 * keystore_identity.h.
 */
#include "config.h"

#include <string.h>

#include "keystore_identity.h"

int
keystore_identity_copy(const struct keystore_identity *id, struct keystore_identity *out)
{
	memset(out, 0, sizeof(*out));
	out->chain = X509_chain_up_ref(id->chain);
	if (out->chain == NULL)
		return -1;
	EVP_PKEY_up_ref(id->key);
	X509_up_ref(id->cert);
	out->key = id->key;
	out->cert = id->cert;
	return 0;
}

void
keystore_identity_free(struct keystore_identity *id)
{
	EVP_PKEY_free(id->key);
	X509_free(id->cert);
	sk_X509_pop_free(id->chain, X509_free);
	memset(id, 0, sizeof(*id));
}
