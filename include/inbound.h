/*
 * inbound.h - the receiving half of the gateway, for mail that arrives
 * from outside: decrypt S/MIME for our recipients, verify signatures and
 * report them as an RFC 7281 Authentication-Results value, unwrap opaque
 * signatures, and find the RFC 9788 protected header fields.  No
 * libmilter here: the milter (and the unit tests) hand in a message's
 * headers and canonical body and apply what comes back.
 *
 * What a message becomes:
 *   application/pkcs7-mime enveloped-data or authEnveloped-data, with a key
 *     that a RecipientInfo names -> the decrypted entity: its Content-*
 *     fields replace the message's, its body the message's body; other
 *     fields in the entity (RFC 9788 protected header fields) are reported.
 *   a signature (multipart/signed, or opaque signed-data; at the top or in
 *     the decrypted entity) -> verified: the verdict for RFC 7281; an
 *     opaque one, with unwrap_opaque, is replaced by the content it signs.
 *
 * The verdicts (RFC 7281 on RFC 8601's Authentication-Results):
 *   pass       the signature verifies, the signer's certificate chains to
 *              the trusted CAs for S/MIME signing (valid, unrevoked) and
 *              names the From: address
 *   fail       the signature or content digest does not verify; or the
 *              signer's certificate is revoked, expired, not yet valid or
 *              not for e-mail signing; or it does not name the From: address
 *   neutral    signed, but it cannot be processed (syntax, no signer
 *              certificate, an algorithm we cannot check), or the signer's
 *              certificate does not chain to the trusted CAs, so the signer
 *              is not authenticated
 *   temperror  a CRL for the signer's chain is missing or out of date
 *   permerror  no From: address to compare the signer with, or the message
 *              is too large to check
 *
 * Decrypted content lives only in spools (memory, then an encrypted file)
 * and in memory that is wiped; it is never logged.  Everything streams
 * through those spools (cmssplit.h, envelope_open, sigverify_spool):
 * memory stays bounded whatever the size of the message.
 */
#ifndef SMIME_INBOUND_H
#define SMIME_INBOUND_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "envelope.h"
#include "keystore.h"
#include "mime.h"
#include "spool.h"

struct inbound_options {
	int decrypt;                          /* open (auth)enveloped-data */
	int verify;                           /* check signatures */
	int unwrap_opaque;                    /* with verify: opaque signed-data -> its content */
	const struct keystore_identity *keys; /* decryption identities; borrowed */
	size_t nkeys;
	X509_STORE *trust;        /* ca-file; NULL: no signer can pass */
	STACK_OF(X509_CRL) *crls; /* crl-file, or NULL */
	size_t max_size;          /* larger bodies are not opened; 0: no bound (memory does
	                             not grow with the size: everything streams) */
	size_t spool_memory;      /* bound of the spools made here; 0: SPOOL_DEFAULT_MEMORY */
	const char *spool_dir;    /* their overflow directory; NULL: $TMPDIR or /tmp */
};

enum inbound_smime {
	INBOUND_SMIME_NONE = 0, /* not signed (or not checked) */
	INBOUND_SMIME_PASS,
	INBOUND_SMIME_FAIL,
	INBOUND_SMIME_NEUTRAL,
	INBOUND_SMIME_TEMPERROR,
	INBOUND_SMIME_PERMERROR
};

struct inbound_result {
	int encrypted;                   /* the message is (auth)enveloped-data */
	enum envelope_result decryption; /* with encrypted and decrypt: ENVELOPE_OK or why not */
	int auth_enveloped;              /* AuthEnvelopedData */
	int key;                         /* index of the key that decrypted, or -1 */
	enum inbound_smime smime;        /* the signature's verdict */
	int signature_ok;                /* the signature verifies, whatever the chain says */
	char identifier[256];            /* body.smime-identifier: the signer's address */
	char serial[80];                 /* body.smime-serial: hexadecimal */
	char issuer[512];                /* body.smime-issuer: RFC 4514 string */
	char part[32];                   /* body.smime-part: the signed part, an IMAP section
	                                    ("TEXT": the message's body) */
	X509 *signer;                    /* the signer's certificate, or NULL; owned */
	STACK_OF(X509) *certs;           /* certificates sent with the signature; owned */
	int opaque;                      /* the signature was opaque signed-data */
	int unwrapped;                   /* ... and was replaced by its content */
	char reason[512];                /* why not decrypted, or the verdict's detail */
	/* the new content, when changed is set */
	int changed;
	struct mime_headers content;        /* its Content-* fields, in order, values as received */
	struct mime_headers protected_hdrs; /* RFC 9788 fields of the Cryptographic Payload */
	spool *body;                        /* its body: the bytes from body_off on; owned */
	uint64_t body_off;
};

/*
 * Look at one message from outside: h its header fields, body its
 * canonical CRLF body (borrowed, read from the start).  r is filled and
 * must be released with inbound_result_free, also on failure.  Returns 0,
 * or -1 with err on an internal failure (out of memory, spool I/O): the
 * message must then be kept by the MTA (tempfail), never passed.
 */
int inbound_process(const struct mime_headers *h, spool *body, const struct inbound_options *o,
    struct inbound_result *r, char *err, size_t errlen);

void inbound_result_free(struct inbound_result *r);

/*
 * The header block of the entity of len bytes (UINT64_MAX: to the end) at
 * offset off of sp, which must end within them and within 256 KiB, into h
 * (initialised and cleared by the caller); *body_off: where its body
 * starts in sp.  0, or -1 with err (too long, not a header block, I/O).
 */
int inbound_read_headers(spool *sp, uint64_t off, uint64_t len, struct mime_headers *h,
    uint64_t *body_off, char *err, size_t errlen);

/* "pass", "fail", ... (RFC 7281 result names); "none" for INBOUND_SMIME_NONE. */
const char *inbound_smime_name(enum inbound_smime s);

/*
 * inbound_ar.c: the Authentication-Results value for r's verdict:
 * "authserv-id; smime=pass body.smime-identifier=... body.smime-serial=...
 * body.smime-issuer=\"...\" body.smime-part=TEXT" (a reason="..." for other
 * verdicts), folded with CRLF TAB.  0, or -1 when it does not fit (out is then "").
 */
int inbound_ar_value(const char *authserv_id, const struct inbound_result *r, char *out,
    size_t outlen);

/*
 * Nonzero when an Authentication-Results value claims authserv_id
 * (compared case-insensitively) and reports an smime result: such a field
 * that arrived with a message is forged, for only this filter reports
 * smime results under its authserv-id.
 */
int inbound_ar_claims_smime(const char *value, const char *authserv_id);

/*
 * The protected Subject (value as received) to show instead of the outer
 * one, or NULL: the outer Subject is the RFC 9788 placeholder "[...]" and
 * the Cryptographic Payload carries a Subject.  Borrowed from r.
 */
const char *inbound_protected_subject(const struct mime_headers *outer,
    const struct inbound_result *r);

/* The names of the protected fields, "From, To, Subject" (or "none"), for logs. */
void inbound_protected_names(const struct inbound_result *r, char *out, size_t outlen);

#endif
