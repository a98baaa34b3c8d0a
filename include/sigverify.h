/*
 * sigverify.h - check the S/MIME signature of a signed entity that came
 * from outside: multipart/signed (RFC 8551 3.5.3, detached signature) or
 * application/pkcs7-mime signed-data (opaque).
 *
 * The check has two parts with separate verdicts, because receivers
 * report them differently (RFC 7281): the signature itself (does it
 * verify over the content with the signer's key: GOOD, BAD, or MALFORMED
 * when it cannot be processed at all), and -- when trusted CAs are given
 * -- the signer's certificate chain (X509_V_OK or the verifier's error
 * code, e.g. X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, _CERT_REVOKED).
 *
 * Everything here comes from outside: lengths are checked, nothing is
 * trusted before the signature verifies.  Bodies are canonical CRLF
 * bytes, held in memory (sigverify_body: the caller bounds their size)
 * or in a spool (sigverify_spool: streaming, in bounded memory).
 */
#ifndef SMIME_SIGVERIFY_H
#define SMIME_SIGVERIFY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bio.h>
#include <openssl/x509.h>

#include "spool.h"

enum sigverify_status {
	SIGVERIFY_GOOD = 0,  /* every signature verifies over the content */
	SIGVERIFY_BAD,       /* a signature or the content digest does not verify */
	SIGVERIFY_MALFORMED, /* not a usable signature: syntax, missing signer certificate,
	                        an algorithm that cannot be processed */
	SIGVERIFY_ERROR      /* internal failure (out of memory) */
};

struct sigverify_result {
	enum sigverify_status status;
	int chain_error;       /* with trust and GOOD: X509_V_OK or the chain's error; else -1 */
	X509 *signer;          /* the first signer's certificate (also when BAD), or NULL; owned */
	STACK_OF(X509) *certs; /* every certificate the signature carries, or NULL; owned */
	int nsigners;
	size_t part_off, part_len; /* multipart/signed: the signed first part within the body */
	char reason[300];          /* why not GOOD, or the chain's error */
};

/*
 * Check the signed body (len bytes) whose Content-Type is content_type
 * (multipart/signed with its boundary, or application/pkcs7-mime
 * signed-data in base64).  trust: CAs the signer must chain to for
 * S/MIME signing (NULL: no chain check); crls: checked with the chain
 * when not NULL.  content: receives the signed content of an opaque
 * signature (may be NULL).  Returns r->status; r is always filled and
 * must be released with sigverify_result_free.
 */
enum sigverify_status sigverify_body(const char *content_type, const unsigned char *body,
    size_t len, X509_STORE *trust, STACK_OF(X509_CRL) *crls, BIO *content,
    struct sigverify_result *r);

/*
 * The same for a signed entity whose body is sp's bytes from off on, in
 * bounded memory whatever its size: the signed content is read from the
 * spool by the verification, never copied into memory; only the signature
 * part of a multipart/signed (at most 1 MiB) is.  content: for an opaque
 * signature, receives its signed content (appended; required then, and
 * what an unwrapped message becomes).  part_off is counted from off.
 */
enum sigverify_status sigverify_spool(const char *content_type, spool *sp, uint64_t off,
    X509_STORE *trust, STACK_OF(X509_CRL) *crls, spool *content, struct sigverify_result *r);

void sigverify_result_free(struct sigverify_result *r);

/* base64 text (any white space) -> bytes.  Caller frees.  NULL when it is not base64. */
unsigned char *sigverify_base64(const unsigned char *p, size_t len, size_t *outlen);

#endif
