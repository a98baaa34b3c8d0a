/*
 * smime.h - build the S/MIME entity of a message: sign (CMS SignedData,
 * detached multipart/signed or opaque signed-data) and/or encrypt (CMS
 * EnvelopedData, or AuthEnvelopedData for AES-GCM) the inner entity,
 * streaming.
 *
 * The inner entity is a header block (the message's Content-* headers and
 * the empty line, CRLF) followed by the canonical (CRLF) body held in a
 * spool.  With header protection (RFC 9788) the protected header fields
 * of opt->outer are added to it.  Sign-only output is made 7-bit clean
 * first when opt->transport_7bit asks (8bit/binary leaves re-encoded, see
 * mime7bit.h).  The result is
 * written through a callback in bounded chunks and never held whole in
 * memory: base64 in 76-column CRLF lines for application/pkcs7-mime, or
 * the multipart/signed body.  What the outer Content-* headers must become
 * is returned in the request's struct smime_result.
 *
 * Algorithms: AES-128/256-CBC or -GCM; RSA recipients by PKCS#1 v1.5 or
 * RSAES-OAEP (SHA-256, MGF1-SHA-256); EC recipients (P-256, P-384) by
 * ECDH (X9.63 KDF with SHA-256, AES key wrap); RSA signers by PKCS#1 v1.5
 * or RSASSA-PSS (MGF1 and salt length of the digest); ECDSA signers;
 * SHA-256/384/512.
 */
#ifndef SMIME_SMIME_H
#define SMIME_SMIME_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "keystore.h"
#include "mime.h"
#include "spool.h"

/* How the content-encryption key reaches an RSA recipient. */
enum smime_key_transport {
	SMIME_KT_RSA_PKCS1 = 0,
	SMIME_KT_RSA_OAEP
};
/* RSA signature scheme (ECDSA keys always sign with ECDSA). */
enum smime_signature {
	SMIME_SIG_RSA_PKCS1 = 0,
	SMIME_SIG_RSA_PSS
};
/* multipart/signed (detached) or application/pkcs7-mime signed-data (opaque). */
enum smime_sign_format {
	SMIME_SIGN_DETACHED = 0,
	SMIME_SIGN_OPAQUE
};

struct smime_options {
	int sign;                 /* add a signature (needs signer) */
	int encrypt;              /* envelope to the recipients */
	const EVP_CIPHER *cipher; /* NULL: AES-256-CBC */
	const EVP_MD *digest;     /* NULL: SHA-256 */
	const char *boundary;     /* NULL: a random one (fixed only in tests) */
	size_t chunk;             /* output handed over in pieces of at most this; 0: 64 KiB */
	enum smime_key_transport key_transport;
	enum smime_signature signature;
	enum smime_sign_format sign_format;
	int header_protection; /* RFC 9788: protected headers in the inner entity */
	int hide_subject;      /* the caller shows "[...]" as the outer Subject (HP-Outer) */
	const struct mime_headers
	    *outer;            /* the message's headers, for header protection; borrowed */
	int transport_7bit;    /* sign-only: re-encode 8bit/binary leaves first (mime7bit.h);
	                              the milter sets it, a local tool may keep 8-bit content */
	size_t spool_memory;   /* bound of the 7-bit re-encoding spool; 0: SPOOL_DEFAULT_MEMORY */
	const char *spool_dir; /* its overflow directory; NULL: $TMPDIR or /tmp; borrowed */
};

/* Receives output bytes; return 0, or -1 to stop with an error. */
typedef int (*smime_write_fn)(void *arg, const void *data, size_t len);

struct smime_result {
	char content_type[256];     /* value of the new outer Content-Type */
	char transfer_encoding[16]; /* "base64", or "" for none */
	char disposition[64];       /* value of Content-Disposition, or "" */
	uint64_t bytes;             /* body bytes written */
};

/*
 * One message to protect.  The caller fills everything above result;
 * smime_protect borrows it all and fills result.  Ownership: signer,
 * recipients, head and body stay the caller's.
 */
struct smime_request {
	struct smime_options opt;               /* what to do */
	const struct keystore_identity *signer; /* needed when opt.sign */
	STACK_OF(X509) *recipients;             /* at least one when opt.encrypt */
	const char *head; /* the inner header block (Content-* + empty line) */
	size_t headlen;
	spool *body;        /* the canonical body: rewound and read */
	smime_write_fn out; /* the output sink */
	void *out_arg;
	struct smime_result result; /* what the outer headers must become */
};

/*
 * Protect one message as req says.  0 on success (req->result filled), -1
 * with err filled (nothing valid has been produced then; the caller must
 * not use partial output).
 */
int smime_protect(struct smime_request *req, char *err, size_t errlen);

/*
 * 0 when this build can honour opt (cipher, digest, key transport,
 * signature scheme, sign format); -1 with err saying what is not
 * supported.  The configuration checks every scope with it, so a setting
 * the engine cannot honour is refused at load time rather than ignored.
 * What depends on the keys is decided per message: rsa-pss and rsa-oaep
 * apply to RSA keys only (EC keys use ECDSA and ECDH), and a recipient key
 * of another type makes smime_protect fail.
 */
int smime_check_options(const struct smime_options *opt, char *err, size_t errlen);

/* "sha-256" etc. for a digest (RFC 5751 micalg names); NULL if unknown. */
const char *smime_micalg(const EVP_MD *md);

#endif
