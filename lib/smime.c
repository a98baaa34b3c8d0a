/*
 * smime.c - streaming S/MIME construction with OpenSSL's CMS API: the
 * options, the recipients (RSA PKCS#1 v1.5 / OAEP, EC by ECDH), and the
 * assembly of the formats.  The byte plumbing is in smime_io.c, the
 * signatures in smime_sign.c, header protection in smime_hp.c.
 *
 * Every path streams the inner entity from its spool:
 *   detached  pass 1 pushes it through CMS_dataInit's digest BIOs; pass 2
 *             writes the multipart/signed entity (inner entity + signature
 *             part) into the EnvelopedData stream, or straight to the sink
 *             when signing only;
 *   opaque    one pass through a SignedData BIO_new_CMS whose BER output is
 *             base64-encoded into the EnvelopedData stream (or the sink);
 *   encrypt   BIO_new_CMS over an (Auth)EnvelopedData whose BER output goes
 *             through the sink: base64, 76-column CRLF lines, bounded chunks.
 * No pass keeps the message in memory.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "errmsg.h"
#include "mime7bit.h"
#include "smime_int.h"

#define OPAQUE_INNER_HEAD                                                   \
	"Content-Type: application/pkcs7-mime; smime-type=signed-data;\r\n" \
	" name=\"smime.p7m\"\r\n"                                           \
	"Content-Transfer-Encoding: base64\r\n"                             \
	"Content-Disposition: attachment; filename=\"smime.p7m\"\r\n\r\n"

int
smime_check_options(const struct smime_options *opt, char *err, size_t errlen)
{
	if (opt->cipher != NULL) {
		switch (EVP_CIPHER_get_nid(opt->cipher)) {
		case NID_aes_128_cbc:
		case NID_aes_256_cbc:
		case NID_aes_128_gcm:
		case NID_aes_256_gcm: break;
		default:
			errmsg_set(err, errlen, "cipher %s is not supported",
			    EVP_CIPHER_get0_name(opt->cipher));
			return -1;
		}
	}
	if (opt->digest != NULL && smime_micalg(opt->digest) == NULL) {
		errmsg_set(err, errlen, "digest %s is not supported",
		    EVP_MD_get0_name(opt->digest));
		return -1;
	}
	if (opt->key_transport != SMIME_KT_RSA_PKCS1 && opt->key_transport != SMIME_KT_RSA_OAEP) {
		errmsg_set(err, errlen, "unknown key transport");
		return -1;
	}
	if (opt->signature != SMIME_SIG_RSA_PKCS1 && opt->signature != SMIME_SIG_RSA_PSS) {
		errmsg_set(err, errlen, "unknown signature scheme");
		return -1;
	}
	if (opt->sign_format != SMIME_SIGN_DETACHED && opt->sign_format != SMIME_SIGN_OPAQUE) {
		errmsg_set(err, errlen, "unknown sign format");
		return -1;
	}
	return 0;
}

const char *
smime_micalg(const EVP_MD *md)
{
	switch (EVP_MD_get_type(md)) {
	case NID_sha256: return "sha-256";
	case NID_sha384: return "sha-384";
	case NID_sha512: return "sha-512";
	default: return NULL;
	}
}

/* One recipient: RSA (PKCS#1 v1.5 or OAEP) key transport or EC key agreement. */
static int
add_recipient(CMS_ContentInfo *env, X509 *cert, const struct smime_options *opt, int n, char *err,
    size_t errlen)
{
	EVP_PKEY *pk = X509_get0_pubkey(cert);
	CMS_RecipientInfo *ri;
	EVP_PKEY_CTX *pctx;
	int rsa = pk != NULL && EVP_PKEY_is_a(pk, "RSA");
	int ec = pk != NULL && EVP_PKEY_is_a(pk, "EC");

	if (!rsa && !ec) {
		errmsg_set(err, errlen,
		    "recipient certificate %d: key type %s is not supported "
		    "(RSA or EC P-256/P-384)",
		    n, pk != NULL ? EVP_PKEY_get0_type_name(pk) : "none");
		return -1;
	}
	ri = CMS_add1_recipient_cert(env, cert, CMS_KEY_PARAM);
	pctx = ri != NULL ? CMS_RecipientInfo_get0_pkey_ctx(ri) : NULL;
	if (pctx == NULL) {
		errmsg_set_ssl(err, errlen, "cannot add recipient certificate %d", n);
		return -1;
	}
	if (rsa && opt->key_transport == SMIME_KT_RSA_OAEP) {
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0) {
			errmsg_set_ssl(err, errlen, "cannot set RSA-OAEP for recipient %d", n);
			return -1;
		}
	} else if (ec) {
		/* X9.63 KDF: OpenSSL would use SHA-1 for it unless told otherwise */
		if (EVP_PKEY_CTX_set_ecdh_kdf_md(pctx, EVP_sha256()) <= 0) {
			errmsg_set_ssl(err, errlen, "cannot set the ECDH KDF for recipient %d", n);
			return -1;
		}
	}
	return 0;
}

/* ---- multipart/signed ---- */

/* The Content-Type of a detached signature, folded with spaces within 76 columns. */
#define SIGNED_TYPE_FMT                                                                  \
	"multipart/signed;\r\n protocol=\"application/pkcs7-signature\";\r\n micalg=%s;" \
	" boundary=\"%s\""

static int
emit_signed(BIO *b, int with_header, const char *ctype, const char *boundary, struct inner *in,
    const unsigned char *sig, size_t siglen, char *err, size_t errlen)
{
	char line[512];

	if (with_header) {
		snprintf(line, sizeof(line), "Content-Type: %s\r\n\r\n", ctype);
		if (smime_io_puts(b, line) != 0)
			goto io;
	}
	snprintf(line, sizeof(line),
	    "This is a cryptographically signed message in MIME format.\r\n\r\n--%s\r\n", boundary);
	if (smime_io_puts(b, line) != 0)
		goto io;
	if (smime_io_inner(b, in, err, errlen) != 0)
		return -1;
	snprintf(line, sizeof(line),
	    "\r\n--%s\r\n"
	    "Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "Content-Disposition: attachment; filename=\"smime.p7s\"\r\n"
	    "Content-Description: S/MIME Cryptographic Signature\r\n\r\n",
	    boundary);
	if (smime_io_puts(b, line) != 0 || smime_io_base64(b, sig, siglen) != 0)
		goto io;
	/* the entity ends with the close delimiter: no epilogue */
	snprintf(line, sizeof(line), "\r\n--%s--\r\n", boundary);
	if (smime_io_puts(b, line) != 0)
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

/* Opaque signed-data as a MIME entity (header + base64) written into b. */
static int
emit_opaque_entity(BIO *b, const struct smime_options *opt, const struct keystore_identity *signer,
    struct inner *in, char *err, size_t errlen)
{
	struct sink *s = malloc(sizeof(*s));
	BIO *sb = NULL;
	int rc = -1;

	if (s == NULL) {
		errmsg_set(err, errlen, "out of memory");
		return -1;
	}
	smime_io_sink_init(s, smime_io_to_bio, b, 1, 0);
	sb = smime_io_sink_bio(s);
	if (sb == NULL || smime_io_puts(b, OPAQUE_INNER_HEAD) != 0) {
		errmsg_set_ssl(err, errlen, "cannot write the signed entity");
		goto cleanup;
	}
	if (smime_sign_opaque(opt, signer, in, sb, err, errlen) != 0)
		goto cleanup;
	if (smime_io_sink_finish(s) != 0) {
		errmsg_set_ssl(err, errlen, "cannot write the signed entity");
		goto cleanup;
	}
	rc = 0;
cleanup:
	BIO_free(sb);
	smime_io_sink_wipe(s);
	free(s);
	return rc;
}

static void
set_pkcs7_result(struct smime_result *res, const char *smime_type)
{
	snprintf(res->content_type, sizeof(res->content_type),
	    "application/pkcs7-mime; smime-type=%s; name=\"smime.p7m\"", smime_type);
	snprintf(res->transfer_encoding, sizeof(res->transfer_encoding), "base64");
	snprintf(res->disposition, sizeof(res->disposition), "attachment; filename=\"smime.p7m\"");
}

/* One smime_protect call: the request's options with defaults, and what it allocates. */
struct protect {
	struct smime_options opt;
	const struct smime_request *req;
	struct sink *sink;  /* owned */
	struct inner in;    /* owns in.buf */
	BIO *sbio;          /* writes into sink; owned */
	unsigned char *sig; /* detached signature (DER); owned */
	size_t siglen;
	char boundary[80];
	char *hphead; /* protected header block; owned, wiped */
	size_t hplen;
	spool *body7; /* 7-bit re-encoded body; owned */
	int opaque;
};

/* Defaults, the checks of the request, the buffers and the sink.  0 or -1 with err. */
static int
protect_prepare(struct protect *p, const struct smime_request *req, char *err, size_t errlen)
{
	struct smime_options *opt = &p->opt;

	*opt = req->opt;
	p->req = req;
	if (opt->cipher == NULL)
		opt->cipher = EVP_aes_256_cbc();
	if (opt->digest == NULL)
		opt->digest = EVP_sha256();
	if (smime_check_options(opt, err, errlen) != 0)
		return -1;
	if (!opt->sign && !opt->encrypt) {
		errmsg_set(err, errlen, "nothing to do: neither sign nor encrypt");
		return -1;
	}
	if (opt->sign &&
	    (req->signer == NULL || req->signer->key == NULL || req->signer->cert == NULL)) {
		errmsg_set(err, errlen, "signing requested without a signing identity");
		return -1;
	}
	if (opt->encrypt && (req->recipients == NULL || sk_X509_num(req->recipients) == 0)) {
		errmsg_set(err, errlen, "encryption requested without recipient certificates");
		return -1;
	}
	p->opaque = opt->sign && opt->sign_format == SMIME_SIGN_OPAQUE;
	if (make_boundary(opt, p->boundary, sizeof(p->boundary)) != 0) {
		errmsg_set_ssl(err, errlen, "no random bytes for a MIME boundary");
		return -1;
	}
	p->in.head = req->head;
	p->in.headlen = req->headlen;
	p->in.body = req->body;
	p->in.buf = malloc(SMIME_COPY_CHUNK);
	p->sink = malloc(sizeof(*p->sink));
	if (p->in.buf == NULL || p->sink == NULL) {
		errmsg_set(err, errlen, "out of memory");
		return -1;
	}
	smime_io_sink_init(p->sink, req->out, req->out_arg, opt->encrypt || p->opaque, opt->chunk);
	return 0;
}

/* The Cryptographic Payload: protected headers, then 7-bit clean when signed only. */
static int
protect_payload(struct protect *p, char *err, size_t errlen)
{
	const struct smime_options *opt = &p->opt;
	int r;

	if (opt->header_protection) {
		if (smime_hp_head(opt->outer, p->req->head, p->req->headlen, opt->encrypt,
		        opt->hide_subject, &p->hphead, &p->hplen, err, errlen) != 0)
			return -1;
		p->in.head = p->hphead;
		p->in.headlen = p->hplen;
	}
	if (!opt->sign || opt->encrypt || !opt->transport_7bit)
		return 0;
	p->body7 = spool_new(opt->spool_memory > 0 ? opt->spool_memory : SPOOL_DEFAULT_MEMORY,
	    opt->spool_dir);
	if (p->body7 == NULL) {
		errmsg_set(err, errlen, "out of memory");
		return -1;
	}
	r = mime7bit_encode(p->in.head, p->in.headlen, p->in.body, p->body7, err, errlen);
	if (r < 0)
		return -1;
	if (r == 1) {
		p->in.head = "";
		p->in.headlen = 0;
		p->in.body = p->body7;
	}
	return 0;
}

/* Signed only: opaque signed-data, or the multipart/signed body as it is. */
static int
protect_signed(struct protect *p, struct smime_result *res, char *err, size_t errlen)
{
	const struct keystore_identity *signer = p->req->signer;

	if (p->opaque) {
		if (smime_sign_opaque(&p->opt, signer, &p->in, p->sbio, err, errlen) != 0)
			return -1;
		set_pkcs7_result(res, "signed-data");
		return 0;
	}
	/* its header folded with a space */
	if (emit_signed(p->sbio, 0, NULL, p->boundary, &p->in, p->sig, p->siglen, err, errlen) != 0)
		return -1;
	snprintf(res->content_type, sizeof(res->content_type), SIGNED_TYPE_FMT,
	    smime_micalg(p->opt.digest), p->boundary);
	return 0;
}

/* The inner entity (signed or not) written into the EnvelopedData stream cbio. */
static int
protect_inner(struct protect *p, BIO *cbio, char *err, size_t errlen)
{
	char signed_type[256];

	if (p->opt.sign && p->opaque)
		return emit_opaque_entity(cbio, &p->opt, p->req->signer, &p->in, err, errlen);
	if (p->opt.sign) {
		snprintf(signed_type, sizeof(signed_type), SIGNED_TYPE_FMT,
		    smime_micalg(p->opt.digest), p->boundary);
		return emit_signed(cbio, 1, signed_type, p->boundary, &p->in, p->sig, p->siglen,
		    err, errlen);
	}
	return smime_io_inner(cbio, &p->in, err, errlen);
}

/* Encrypted (signed inside or not): (Auth)EnvelopedData to every recipient. */
static int
protect_encrypted(struct protect *p, struct smime_result *res, char *err, size_t errlen)
{
	const struct smime_options *opt = &p->opt;
	STACK_OF(X509) *recipients = p->req->recipients;
	int gcm = EVP_CIPHER_get_mode(opt->cipher) == EVP_CIPH_GCM_MODE, i, rc = -1;
	CMS_ContentInfo *env;
	BIO *cbio = NULL;

	env = CMS_encrypt(NULL, NULL, opt->cipher, CMS_BINARY | CMS_PARTIAL | CMS_STREAM);
	if (env == NULL) {
		errmsg_set_ssl(err, errlen, "cannot set up encryption with %s",
		    EVP_CIPHER_get0_name(opt->cipher));
		return -1;
	}
	for (i = 0; i < sk_X509_num(recipients); i++)
		if (add_recipient(env, sk_X509_value(recipients, i), opt, i + 1, err, errlen) != 0)
			goto cleanup;
	cbio = BIO_new_CMS(p->sbio, env);
	if (cbio == NULL) {
		errmsg_set_ssl(err, errlen, "cannot start encryption");
		goto cleanup;
	}
	if (protect_inner(p, cbio, err, errlen) != 0)
		goto cleanup;
	if (BIO_flush(cbio) != 1) {
		errmsg_set_ssl(err, errlen, "encryption failed");
		goto cleanup;
	}
	set_pkcs7_result(res, gcm ? "authEnveloped-data" : "enveloped-data");
	rc = 0;
cleanup:
	while (cbio != NULL && cbio != p->sbio) {
		BIO *next = BIO_pop(cbio);
		BIO_free(cbio);
		cbio = next;
	}
	CMS_ContentInfo_free(env);
	return rc;
}

/* Free and wipe what p holds. */
static void
protect_free(struct protect *p)
{
	BIO_free(p->sbio);
	free(p->sig);
	spool_free(p->body7);
	if (p->hphead != NULL) {
		OPENSSL_cleanse(p->hphead, p->hplen);
		free(p->hphead);
	}
	if (p->sink != NULL) {
		smime_io_sink_wipe(p->sink); /* plaintext passes through here when signing only */
		free(p->sink);
	}
	if (p->in.buf != NULL) {
		OPENSSL_cleanse(p->in.buf, p->in.used);
		free(p->in.buf);
	}
}

int
smime_protect(struct smime_request *req, char *err, size_t errlen)
{
	struct smime_result *res = &req->result;
	struct protect p;
	int rc = -1;

	memset(&p, 0, sizeof(p));
	memset(res, 0, sizeof(*res));
	if (protect_prepare(&p, req, err, errlen) != 0 || protect_payload(&p, err, errlen) != 0)
		goto cleanup;
	if (p.opt.sign && !p.opaque &&
	    smime_sign_detached(&p.opt, req->signer, &p.in, &p.sig, &p.siglen, err, errlen) != 0)
		goto cleanup;
	p.sbio = smime_io_sink_bio(p.sink);
	if (p.sbio == NULL) {
		errmsg_set_ssl(err, errlen, "cannot create the output stream");
		goto cleanup;
	}
	if ((p.opt.encrypt ? protect_encrypted(&p, res, err, errlen)
	                   : protect_signed(&p, res, err, errlen)) != 0)
		goto cleanup;
	if (smime_io_sink_finish(p.sink) != 0 || p.sink->failed) {
		errmsg_set(err, errlen, "cannot hand the result to the MTA");
		goto cleanup;
	}
	res->bytes = p.sink->bytes;
	rc = 0;
cleanup:
	protect_free(&p);
	ERR_clear_error();
	return rc;
}
