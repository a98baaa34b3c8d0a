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
	X509_STORE *trust; /* borrowed; NULL: any signer (harvest-trust any) */
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

/*
 * For a signer whose signature was verified elsewhere (inbound
 * verification, with its own chain check): the other conditions of
 * harvesting -- a usable From: address (into addr), dkim=pass when
 * required, the certificate names that address and is usable for
 * encryption.  1: it may be stored; 0 with reason.
 */
int harvest_accept_signer(const struct mime_headers *h, X509 *signer,
    const struct harvest_options *o, char *addr, size_t addrlen, char *reason, size_t reasonlen);

/*
 * The CA certificates among certs (what a signer sent along), other than
 * signer: the chain to store with a harvested certificate.  A new stack
 * (caller frees with sk_X509_pop_free), NULL when out of memory.
 */
STACK_OF(X509) *harvest_ca_certs(STACK_OF(X509) *certs, X509 *signer);

#endif
