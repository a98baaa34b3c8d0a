/*
 * smime.h - build the S/MIME entity of a message: sign (CMS SignedData,
 * detached multipart/signed) and/or encrypt (CMS EnvelopedData) the inner
 * entity, streaming.
 *
 * The inner entity is a header block (the message's Content-* headers and
 * the empty line, CRLF) followed by the canonical (CRLF) body held in a
 * spool.  The result is written through a callback in bounded chunks and
 * never held whole in memory: for encryption, base64 in 76-column CRLF
 * lines; for sign-only, the multipart/signed body.  What the outer
 * Content-* headers must become is returned in struct smime_result.
 */
#ifndef SMIME_SMIME_H
#define SMIME_SMIME_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "keystore.h"
#include "spool.h"

struct smime_options {
	int sign;                  /* add a signature (needs signer) */
	int encrypt;               /* envelope to the recipients */
	const EVP_CIPHER *cipher;  /* NULL: AES-256-CBC */
	const EVP_MD *digest;      /* NULL: SHA-256 */
	const char *boundary;      /* NULL: a random one (fixed only in tests) */
	size_t chunk;              /* output handed over in pieces of at most this; 0: 64 KiB */
};

/* Receives output bytes; return 0, or -1 to stop with an error. */
typedef int (*smime_write_fn)(void *arg, const void *data, size_t len);

struct smime_result {
	char content_type[256];      /* value of the new outer Content-Type */
	char transfer_encoding[16];  /* "base64", or "" for none */
	char disposition[64];        /* value of Content-Disposition, or "" */
	uint64_t bytes;              /* body bytes written */
};

/*
 * Protect one message.  signer: borrowed, needed when opt->sign.
 * recipients: borrowed, at least one when opt->encrypt.  head/headlen: the
 * inner header block (borrowed).  body: the canonical body (rewound and
 * read; borrowed).  0 on success, -1 with err filled (nothing valid has
 * been produced then; the caller must not use partial output).
 */
int smime_protect(const struct smime_options *opt, const struct keystore_identity *signer,
    STACK_OF(X509) *recipients, const char *head, size_t headlen, spool *body,
    smime_write_fn out, void *out_arg, struct smime_result *res, char *err, size_t errlen);

/* "sha-256" etc. for a digest (RFC 5751 micalg names); NULL if unknown. */
const char *smime_micalg(const EVP_MD *md);

#endif
