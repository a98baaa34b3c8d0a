/*
 * harvest.h - collect correspondents' certificates from the S/MIME
 * signatures of mail that arrives from outside, the way S/MIME users
 * exchange keys.
 *
 * A signer's certificate is taken only when the signature verifies over
 * the content, the certificate names the From: address, is valid now and
 * usable for encryption, chains to the trusted CAs (unless trust is NULL:
 * harvest-trust any) and, when DKIM is required, an Authentication-Results
 * header of our authserv-id reports dkim=pass for the From: domain.
 */
#ifndef SMIME_HARVEST_H
#define SMIME_HARVEST_H

#include <stddef.h>
#include <openssl/x509.h>

#include "mime.h"
#include "spool.h"

struct harvest_options {
	X509_STORE *trust;       /* borrowed; NULL: any signer (harvest-trust any) */
	int require_dkim;
	const char *authserv_id; /* with require_dkim */
	size_t max_size;         /* larger bodies are not checked */
};

/* Nonzero when a Content-Type may carry an S/MIME signature worth checking. */
int harvest_is_signed_type(const char *content_type);

/*
 * Check a message (all headers, canonical CRLF body).  1: *signer is a new
 * reference to the certificate to store for addr, and *chain (when chain
 * is not NULL) the signature's other certificates (the intermediates the
 * signer sent along, to be stored with it so that it chains to the
 * trusted CAs later; caller frees both); 0: nothing to harvest, reason
 * says why; -1: internal error, reason says what.
 */
int harvest_signer(const struct mime_headers *h, spool *body, const struct harvest_options *o,
    X509 **signer, STACK_OF(X509) **chain, char *addr, size_t addrlen, char *reason,
    size_t reasonlen);

#endif
