/*
 * smime.c - streaming S/MIME construction with OpenSSL's CMS API.
 *
 * Two passes over the inner entity, both streaming:
 *   1. (sign) the entity is pushed through CMS_dataInit's digest BIOs; the
 *      detached SignedData is produced by CMS_dataFinal;
 *   2. the multipart/signed entity (inner entity + signature part) is
 *      pushed into BIO_new_CMS over an EnvelopedData, whose BER output
 *      goes through our sink: base64, 76-column CRLF lines, flushed to the
 *      caller's callback in bounded chunks.
 * Without encryption pass 2 writes the multipart/signed body straight to
 * the sink.  No pass keeps the message in memory.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "log.h"
#include "smime.h"

#define SINK_BUF 65536
#define B64_LINE_IN 57 /* 57 bytes -> 76 base64 characters */
#define COPY_CHUNK 65536

/* ---- the output sink: a BIO that feeds the caller's callback ---- */

struct sink {
	smime_write_fn fn;
	void *arg;
	int base64;
	unsigned char pend[B64_LINE_IN];
	size_t npend;
	unsigned char buf[SINK_BUF];
	size_t blen;
	size_t chunk;  /* flush threshold, <= SINK_BUF */
	size_t used;   /* high-water mark of buf, wiped at the end */
	uint64_t bytes;
	int failed;
};

static int
sink_flush(struct sink *s)
{
	if (s->blen > s->used)
		s->used = s->blen;
	if (s->blen > 0 && !s->failed) {
		if (s->fn(s->arg, s->buf, s->blen) != 0)
			s->failed = 1;
		s->bytes += s->blen;
	}
	s->blen = 0;
	return s->failed ? -1 : 0;
}

static int
sink_put(struct sink *s, const unsigned char *p, size_t len)
{
	while (len > 0) {
		size_t room = s->chunk - s->blen, take = len < room ? len : room;
		memcpy(s->buf + s->blen, p, take);
		s->blen += take;
		p += take;
		len -= take;
		if (s->blen == s->chunk && sink_flush(s) != 0)
			return -1;
	}
	return 0;
}

/* Encode the pending bytes as one base64 line + CRLF. */
static int
sink_b64_line(struct sink *s)
{
	unsigned char line[80];
	int n = EVP_EncodeBlock(line, s->pend, (int)s->npend);

	line[n++] = '\r';
	line[n++] = '\n';
	s->npend = 0;
	return sink_put(s, line, (size_t)n);
}

static int
sink_write(struct sink *s, const unsigned char *p, size_t len)
{
	if (!s->base64)
		return sink_put(s, p, len);
	while (len > 0) {
		size_t take = B64_LINE_IN - s->npend;
		if (take > len)
			take = len;
		memcpy(s->pend + s->npend, p, take);
		s->npend += take;
		p += take;
		len -= take;
		if (s->npend == B64_LINE_IN && sink_b64_line(s) != 0)
			return -1;
	}
	return 0;
}

/* Encode what is left and hand everything to the callback. */
static int
sink_finish(struct sink *s)
{
	if (s->base64 && s->npend > 0 && sink_b64_line(s) != 0)
		return -1;
	return sink_flush(s);
}

static int
sink_bio_write(BIO *b, const char *data, int len)
{
	struct sink *s = BIO_get_data(b);

	if (len <= 0)
		return 0;
	return sink_write(s, (const unsigned char *)data, (size_t)len) == 0 ? len : -1;
}

static long
sink_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1; /* the caller finishes the sink explicitly */
	case BIO_CTRL_PENDING:
	case BIO_CTRL_WPENDING:
		return 0;
	default:
		return 0;
	}
}

static BIO_METHOD *sink_method;
static CRYPTO_ONCE sink_once = CRYPTO_ONCE_STATIC_INIT;

static void
sink_method_init(void)
{
	sink_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "smime sink");
	if (sink_method != NULL) {
		BIO_meth_set_write(sink_method, sink_bio_write);
		BIO_meth_set_ctrl(sink_method, sink_bio_ctrl);
	}
}

static BIO *
sink_bio_new(struct sink *s)
{
	BIO *b;

	if (!CRYPTO_THREAD_run_once(&sink_once, sink_method_init) || sink_method == NULL)
		return NULL;
	b = BIO_new(sink_method);
	if (b != NULL) {
		BIO_set_data(b, s);
		BIO_set_init(b, 1);
	}
	return b;
}

/* ---- writing into BIO chains ---- */

static int
bio_put(BIO *b, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		int chunk = len > COPY_CHUNK ? COPY_CHUNK : (int)len;
		int n = BIO_write(b, p, chunk);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
bio_puts(BIO *b, const char *s)
{
	return bio_put(b, s, strlen(s));
}

/* The inner entity: header block, spooled body, and a copy buffer. */
struct inner {
	const char *head;
	size_t headlen;
	spool *body;
	unsigned char *buf; /* COPY_CHUNK bytes */
	size_t used;        /* high-water mark of buf, wiped at the end */
};

/* Write the inner entity (header block + spooled body) into b. */
static int
emit_inner(BIO *b, struct inner *in, char *err, size_t errlen)
{
	ssize_t n;

	if (bio_put(b, in->head, in->headlen) != 0) {
		errmsg_set_ssl(err, errlen, "cannot process the message headers");
		return -1;
	}
	if (spool_rewind(in->body, err, errlen) != 0)
		return -1;
	while ((n = spool_read(in->body, in->buf, COPY_CHUNK, err, errlen)) > 0) {
		if ((size_t)n > in->used)
			in->used = (size_t)n;
		if (bio_put(b, in->buf, (size_t)n) != 0) {
			errmsg_set_ssl(err, errlen, "cannot process the message body");
			return -1;
		}
	}
	return n == 0 ? 0 : -1;
}

/* base64 of a small buffer, 76-column CRLF lines, into b. */
static int
emit_base64(BIO *b, const unsigned char *data, size_t len)
{
	unsigned char line[80];

	while (len > 0) {
		size_t take = len < B64_LINE_IN ? len : B64_LINE_IN;
		int n = EVP_EncodeBlock(line, data, (int)take);
		line[n++] = '\r';
		line[n++] = '\n';
		if (bio_put(b, line, (size_t)n) != 0)
			return -1;
		data += take;
		len -= take;
	}
	return 0;
}

int
smime_check_options(const struct smime_options *opt, char *err, size_t errlen)
{
	if (opt->key_transport != SMIME_KT_RSA_PKCS1) {
		errmsg_set(err, errlen, "key-transport rsa-oaep is not supported yet");
		return -1;
	}
	if (opt->signature != SMIME_SIG_RSA_PKCS1) {
		errmsg_set(err, errlen, "signature rsa-pss is not supported yet");
		return -1;
	}
	if (opt->sign_format != SMIME_SIGN_DETACHED) {
		errmsg_set(err, errlen, "sign-format opaque is not supported yet");
		return -1;
	}
	if (opt->header_protection) {
		errmsg_set(err, errlen, "header-protection is not supported yet");
		return -1;
	}
	return 0;
}

const char *
smime_micalg(const EVP_MD *md)
{
	switch (EVP_MD_get_type(md)) {
	case NID_sha256:
		return "sha-256";
	case NID_sha384:
		return "sha-384";
	case NID_sha512:
		return "sha-512";
	case NID_sha1:
		return "sha-1";
	default:
		return NULL;
	}
}

/* ---- pass 1: the detached signature ---- */

static int
sign_detached(const struct smime_options *opt, const struct keystore_identity *signer,
    struct inner *in, unsigned char **der, size_t *derlen, char *err, size_t errlen)
{
	const int flags = CMS_DETACHED | CMS_BINARY | CMS_PARTIAL | CMS_STREAM;
	CMS_ContentInfo *cms = NULL;
	BIO *dbio = NULL, *mem = NULL;
	BUF_MEM *bm;
	int i, rc = -1;

	cms = CMS_sign(NULL, NULL, NULL, NULL, flags);
	if (cms == NULL ||
	    CMS_add1_signer(cms, signer->cert, signer->key, opt->digest, flags) == NULL) {
		errmsg_set_ssl(err, errlen, "cannot set up the signature");
		goto cleanup;
	}
	for (i = 0; signer->chain != NULL && i < sk_X509_num(signer->chain); i++) {
		if (!CMS_add1_cert(cms, sk_X509_value(signer->chain, i))) {
			errmsg_set_ssl(err, errlen, "cannot add the signer's chain");
			goto cleanup;
		}
	}
	dbio = CMS_dataInit(cms, NULL);
	if (dbio == NULL) {
		errmsg_set_ssl(err, errlen, "cannot start the signature");
		goto cleanup;
	}
	if (emit_inner(dbio, in, err, errlen) != 0)
		goto cleanup;
	if (!CMS_dataFinal(cms, dbio)) {
		errmsg_set_ssl(err, errlen, "signing failed");
		goto cleanup;
	}
	mem = BIO_new(BIO_s_mem());
	if (mem == NULL || i2d_CMS_bio(mem, cms) <= 0) {
		errmsg_set_ssl(err, errlen, "cannot encode the signature");
		goto cleanup;
	}
	BIO_get_mem_ptr(mem, &bm);
	*der = malloc(bm->length);
	if (*der == NULL) {
		errmsg_set(err, errlen, "out of memory");
		goto cleanup;
	}
	memcpy(*der, bm->data, bm->length);
	*derlen = bm->length;
	rc = 0;
cleanup:
	BIO_free_all(dbio);
	BIO_free(mem);
	CMS_ContentInfo_free(cms);
	return rc;
}

/* ---- pass 2: the entity that gets encrypted (or sent as it is) ---- */

static int
emit_signed(BIO *b, int with_header, const char *ctype, const char *boundary,
    struct inner *in, const unsigned char *sig, size_t siglen, char *err, size_t errlen)
{
	char line[512];

	if (with_header) {
		snprintf(line, sizeof(line), "Content-Type: %s\r\n\r\n", ctype);
		if (bio_puts(b, line) != 0)
			goto io;
	}
	snprintf(line, sizeof(line),
	    "This is a cryptographically signed message in MIME format.\r\n\r\n--%s\r\n",
	    boundary);
	if (bio_puts(b, line) != 0)
		goto io;
	if (emit_inner(b, in, err, errlen) != 0)
		return -1;
	snprintf(line, sizeof(line),
	    "\r\n--%s\r\n"
	    "Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "Content-Disposition: attachment; filename=\"smime.p7s\"\r\n"
	    "Content-Description: S/MIME Cryptographic Signature\r\n\r\n",
	    boundary);
	if (bio_puts(b, line) != 0 || emit_base64(b, sig, siglen) != 0)
		goto io;
	snprintf(line, sizeof(line), "\r\n--%s--\r\n", boundary);
	if (bio_puts(b, line) != 0)
		goto io;
	return 0;
io:
	errmsg_set_ssl(err, errlen, "cannot write the signed entity");
	return -1;
}

static int
make_boundary(const struct smime_options *opt, char *out, size_t outlen)
{
	unsigned char rnd[16];
	size_t i;

	if (opt->boundary != NULL) {
		snprintf(out, outlen, "%s", opt->boundary);
		return 0;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	i = (size_t)snprintf(out, outlen, "----=_smime_");
	for (size_t k = 0; k < sizeof(rnd) && i + 3 < outlen; k++)
		i += (size_t)snprintf(out + i, outlen - i, "%02x", rnd[k]);
	return 0;
}

/* Remove the CMS streaming BIOs stacked on top of the sink. */
static void
free_chain_to(BIO *top, BIO *bottom)
{
	while (top != NULL && top != bottom) {
		BIO *next = BIO_pop(top);
		BIO_free(top);
		top = next;
	}
}

int
smime_protect(const struct smime_options *opt_in, const struct keystore_identity *signer,
    STACK_OF(X509) *recipients, const char *head, size_t headlen, spool *body,
    smime_write_fn out, void *out_arg, struct smime_result *res, char *err, size_t errlen)
{
	struct smime_options opt = *opt_in;
	struct sink *sink = NULL;
	struct inner in = {head, headlen, body, NULL, 0};
	CMS_ContentInfo *env = NULL;
	BIO *sbio = NULL, *cbio = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	char boundary[80], signed_type[256];
	const char *micalg;
	int i, rc = -1;

	memset(res, 0, sizeof(*res));
	if (opt.cipher == NULL)
		opt.cipher = EVP_aes_256_cbc();
	if (opt.digest == NULL)
		opt.digest = EVP_sha256();
	if (smime_check_options(&opt, err, errlen) != 0)
		return -1;
	if (!opt.sign && !opt.encrypt) {
		errmsg_set(err, errlen, "nothing to do: neither sign nor encrypt");
		return -1;
	}
	if (opt.sign && (signer == NULL || signer->key == NULL || signer->cert == NULL)) {
		errmsg_set(err, errlen, "signing requested without a signing identity");
		return -1;
	}
	if (opt.encrypt && (recipients == NULL || sk_X509_num(recipients) == 0)) {
		errmsg_set(err, errlen, "encryption requested without recipient certificates");
		return -1;
	}
	micalg = smime_micalg(opt.digest);
	if (micalg == NULL) {
		errmsg_set(err, errlen, "unsupported digest %s", EVP_MD_get0_name(opt.digest));
		return -1;
	}
	if (make_boundary(&opt, boundary, sizeof(boundary)) != 0) {
		errmsg_set_ssl(err, errlen, "no random bytes for a MIME boundary");
		return -1;
	}
	snprintf(signed_type, sizeof(signed_type),
	    "multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=%s;\r\n"
	    "\tboundary=\"%s\"", micalg, boundary);

	in.buf = malloc(COPY_CHUNK);
	sink = malloc(sizeof(*sink));
	if (in.buf == NULL || sink == NULL) {
		errmsg_set(err, errlen, "out of memory");
		goto cleanup;
	}
	sink->npend = sink->blen = sink->used = 0;
	sink->chunk = opt.chunk > 0 && opt.chunk < SINK_BUF ? opt.chunk : SINK_BUF;
	sink->bytes = 0;
	sink->failed = 0;
	if (opt.sign && sign_detached(&opt, signer, &in, &sig, &siglen, err, errlen) != 0)
		goto cleanup;

	sink->fn = out;
	sink->arg = out_arg;
	sink->base64 = opt.encrypt;
	sbio = sink_bio_new(sink);
	if (sbio == NULL) {
		errmsg_set_ssl(err, errlen, "cannot create the output stream");
		goto cleanup;
	}

	if (!opt.encrypt) {
		/* sign only: the multipart/signed body goes out as it is */
		if (emit_signed(sbio, 0, NULL, boundary, &in, sig, siglen, err, errlen) != 0)
			goto cleanup;
		snprintf(res->content_type, sizeof(res->content_type), "%s", signed_type);
	} else {
		int gcm = EVP_CIPHER_get_mode(opt.cipher) == EVP_CIPH_GCM_MODE;
		env = CMS_encrypt(NULL, NULL, opt.cipher, CMS_BINARY | CMS_PARTIAL | CMS_STREAM);
		if (env == NULL) {
			errmsg_set_ssl(err, errlen, "cannot set up encryption with %s",
			    EVP_CIPHER_get0_name(opt.cipher));
			goto cleanup;
		}
		for (i = 0; i < sk_X509_num(recipients); i++) {
			if (CMS_add1_recipient_cert(env, sk_X509_value(recipients, i), 0) == NULL) {
				errmsg_set_ssl(err, errlen, "cannot add recipient certificate %d", i + 1);
				goto cleanup;
			}
		}
		cbio = BIO_new_CMS(sbio, env);
		if (cbio == NULL) {
			errmsg_set_ssl(err, errlen, "cannot start encryption");
			goto cleanup;
		}
		if (opt.sign) {
			if (emit_signed(cbio, 1, signed_type, boundary, &in, sig, siglen, err,
			        errlen) != 0)
				goto cleanup;
		} else if (emit_inner(cbio, &in, err, errlen) != 0) {
			goto cleanup;
		}
		if (BIO_flush(cbio) != 1) {
			errmsg_set_ssl(err, errlen, "encryption failed");
			goto cleanup;
		}
		snprintf(res->content_type, sizeof(res->content_type),
		    "application/pkcs7-mime; smime-type=%s; name=\"smime.p7m\"",
		    gcm ? "authEnveloped-data" : "enveloped-data");
		snprintf(res->transfer_encoding, sizeof(res->transfer_encoding), "base64");
		snprintf(res->disposition, sizeof(res->disposition),
		    "attachment; filename=\"smime.p7m\"");
	}
	if (sink_finish(sink) != 0 || sink->failed) {
		errmsg_set(err, errlen, "cannot hand the result to the MTA");
		goto cleanup;
	}
	res->bytes = sink->bytes;
	rc = 0;
cleanup:
	if (cbio != NULL)
		free_chain_to(cbio, sbio);
	BIO_free(sbio);
	CMS_ContentInfo_free(env);
	free(sig);
	if (sink != NULL) {
		/* plaintext passes through here in sign-only mode */
		OPENSSL_cleanse(sink->buf, sink->used > sink->blen ? sink->used : sink->blen);
		OPENSSL_cleanse(sink->pend, sizeof(sink->pend));
		free(sink);
	}
	if (in.buf != NULL) {
		OPENSSL_cleanse(in.buf, in.used);
		free(in.buf);
	}
	ERR_clear_error();
	return rc;
}
