/*
 * smime_int.h - internals shared by the files of the CMS engine (smime.c,
 * smime_io.c, smime_sign.c, smime_hp.c).  Not a public interface: only
 * the engine includes it.
 *
 * Ownership: a struct sink belongs to whoever allocated it; the BIO made
 * by smime_io_sink_bio borrows it and must be freed before it.  struct inner
 * borrows head and body and owns buf.
 */
#ifndef SMIME_SMIME_INT_H
#define SMIME_SMIME_INT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bio.h>
#include <openssl/cms.h>

#include "smime.h"
#include "spool.h"

#define SMIME_SINK_BUF    65536
#define SMIME_B64_LINE_IN 57 /* 57 bytes -> 76 base64 characters */
#define SMIME_COPY_CHUNK  65536

/* Output sink: optional base64 (76-column CRLF lines), then the callback in chunks. */
struct sink {
	smime_write_fn fn;
	void *arg;
	int base64;
	unsigned char pend[SMIME_B64_LINE_IN];
	size_t npend;
	unsigned char buf[SMIME_SINK_BUF];
	size_t blen;
	size_t chunk; /* flush threshold, <= SMIME_SINK_BUF */
	size_t used;  /* high-water mark of buf, wiped at the end */
	uint64_t bytes;
	int failed;
};

/* Prepare s (already allocated) for fn/arg; chunk 0 means SMIME_SINK_BUF. */
void smime_io_sink_init(struct sink *s, smime_write_fn fn, void *arg, int base64, size_t chunk);
/* Encode what is pending and hand everything to the callback.  0 or -1. */
int smime_io_sink_finish(struct sink *s);
/* Wipe the buffers (plaintext may have passed). */
void smime_io_sink_wipe(struct sink *s);
/* A BIO writing into s (borrowed).  NULL on failure. */
BIO *smime_io_sink_bio(struct sink *s);
/* smime_write_fn that writes into the BIO given as arg. */
int smime_io_to_bio(void *arg, const void *data, size_t len);

/* Write all of data into b.  0 or -1. */
int smime_io_put(BIO *b, const void *data, size_t len);
int smime_io_puts(BIO *b, const char *s);
/* base64 of a small buffer, 76-column CRLF lines, into b.  0 or -1. */
int smime_io_base64(BIO *b, const unsigned char *data, size_t len);

/* The inner entity: a header block and a spooled body. */
struct inner {
	const char *head;
	size_t headlen;
	spool *body;
	unsigned char *buf; /* SMIME_COPY_CHUNK bytes, owned */
	size_t used;        /* high-water mark of buf, wiped at the end */
};

/* Write the inner entity (header block + spooled body) into b.  0 or -1 with err. */
int smime_io_inner(BIO *b, struct inner *in, char *err, size_t errlen);

/*
 * A SignedData set up for streaming with the signer of opt (digest,
 * RSA-PSS or PKCS#1 v1.5, ECDSA), the signer's chain and our
 * SMIMECapabilities.  detached: CMS_DETACHED.  Caller frees.  NULL with err.
 */
CMS_ContentInfo *smime_signed_new(const struct smime_options *opt,
    const struct keystore_identity *signer, int detached, char *err, size_t errlen);

/* Detached signature over the inner entity: *der malloc'd (caller frees).  0 or -1. */
int smime_sign_detached(const struct smime_options *opt, const struct keystore_identity *signer,
    struct inner *in, unsigned char **der, size_t *derlen, char *err, size_t errlen);

/*
 * Opaque signing, streaming: the SignedData (BER) of the inner entity is
 * written into out.  0 or -1 with err.
 */
int smime_sign_opaque(const struct smime_options *opt, const struct keystore_identity *signer,
    struct inner *in, BIO *out, char *err, size_t errlen);

/*
 * RFC 9788 header protection: the inner header block made of the
 * protected header fields of outer (From, To, Cc, Subject, Date,
 * Message-ID, Reply-To, In-Reply-To, References), HP-Outer fields when
 * cipher, and the Content-* lines of head with hp="cipher" or hp="clear"
 * on Content-Type.  *out malloc'd (caller wipes and frees).  0 or -1.
 */
int smime_hp_head(const struct mime_headers *outer, const char *head, size_t headlen, int cipher,
    int hide_subject, char **out, size_t *outlen, char *err, size_t errlen);

#endif
