/*
 * smime_sign.c - CMS SignedData for the engine: signer set-up (digest,
 * RSA PKCS#1 v1.5 or RSA-PSS, ECDSA), the signer's chain, our
 * SMIMECapabilities, and the two formats: a detached signature (for
 * multipart/signed) and an opaque, streamed signed-data.  See smime_int.h.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "errmsg.h"
#include "smime_int.h"

/* What we announce we can receive (RFC 8551 2.5.2), strongest first. */
static int
add_capabilities(CMS_SignerInfo *si)
{
	static const int nids[] = {NID_aes_256_gcm, NID_aes_128_gcm, NID_aes_256_cbc,
	    NID_aes_128_cbc};
	STACK_OF(X509_ALGOR) *caps = NULL;
	size_t i;
	int ok = 0;

	for (i = 0; i < sizeof(nids) / sizeof(nids[0]); i++)
		if (!CMS_add_simple_smimecap(&caps, nids[i], -1))
			goto cleanup;
	if (!CMS_add_simple_smimecap(&caps, NID_rsaesOaep, -1))
		goto cleanup;
	ok = CMS_add_smimecap(si, caps);
cleanup:
	sk_X509_ALGOR_pop_free(caps, X509_ALGOR_free);
	return ok;
}

CMS_ContentInfo *
smime_signed_new(const struct smime_options *opt, const struct keystore_identity *signer,
    int detached, char *err, size_t errlen)
{
	int flags = CMS_BINARY | CMS_PARTIAL | CMS_STREAM | CMS_NOSMIMECAP;
	int pss = 0, i;
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;
	X509_ALGOR *salg;

	if (detached)
		flags |= CMS_DETACHED;
	/* the scheme applies to RSA keys; an ECDSA key signs with ECDSA whatever it says */
	if (opt->signature == SMIME_SIG_RSA_PSS && EVP_PKEY_is_a(signer->key, "RSA"))
		pss = 1;
	cms = CMS_sign(NULL, NULL, NULL, NULL, flags);
	if (cms == NULL) {
		errmsg_set_ssl(err, errlen, "cannot set up the signature");
		return NULL;
	}
	si = CMS_add1_signer(cms, signer->cert, signer->key, opt->digest,
	    flags | (pss ? CMS_KEY_PARAM : 0));
	if (si == NULL) {
		errmsg_set_ssl(err, errlen, "cannot set up the signature");
		goto fail;
	}
	if (pss) {
		EVP_PKEY_CTX *pctx = CMS_SignerInfo_get0_pkey_ctx(si);
		if (pctx == NULL ||
		    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, opt->digest) <= 0) {
			errmsg_set_ssl(err, errlen, "cannot set up RSA-PSS");
			goto fail;
		}
		/*
		 * With CMS_KEY_PARAM the signature AlgorithmIdentifier is only
		 * filled in when signing; a streamed SignedData encodes it
		 * before that, so it must not be empty: name the scheme now
		 * (signing replaces it with the full RSASSA-PSS-params).
		 */
		CMS_SignerInfo_get0_algs(si, NULL, NULL, NULL, &salg);
		if (!X509_ALGOR_set0(salg, OBJ_nid2obj(NID_rsassaPss), V_ASN1_UNDEF, NULL)) {
			errmsg_set_ssl(err, errlen, "cannot set up RSA-PSS");
			goto fail;
		}
	}
	if (!add_capabilities(si)) {
		errmsg_set_ssl(err, errlen, "cannot add SMIMECapabilities");
		goto fail;
	}
	for (i = 0; signer->chain != NULL && i < sk_X509_num(signer->chain); i++) {
		if (!CMS_add1_cert(cms, sk_X509_value(signer->chain, i))) {
			errmsg_set_ssl(err, errlen, "cannot add the signer's chain");
			goto fail;
		}
	}
	return cms;
fail:
	CMS_ContentInfo_free(cms);
	return NULL;
}

int
smime_sign_detached(const struct smime_options *opt, const struct keystore_identity *signer,
    struct inner *in, unsigned char **der, size_t *derlen, char *err, size_t errlen)
{
	CMS_ContentInfo *cms;
	BIO *dbio = NULL, *mem = NULL;
	BUF_MEM *bm;
	int rc = -1;

	cms = smime_signed_new(opt, signer, 1, err, errlen);
	if (cms == NULL)
		return -1;
	dbio = CMS_dataInit(cms, NULL);
	if (dbio == NULL) {
		errmsg_set_ssl(err, errlen, "cannot start the signature");
		goto cleanup;
	}
	if (smime_io_inner(dbio, in, err, errlen) != 0)
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

int
smime_sign_opaque(const struct smime_options *opt, const struct keystore_identity *signer,
    struct inner *in, BIO *out, char *err, size_t errlen)
{
	CMS_ContentInfo *cms;
	BIO *cbio = NULL;
	int rc = -1;

	cms = smime_signed_new(opt, signer, 0, err, errlen);
	if (cms == NULL)
		return -1;
	cbio = BIO_new_CMS(out, cms);
	if (cbio == NULL) {
		errmsg_set_ssl(err, errlen, "cannot start the signature");
		goto cleanup;
	}
	if (smime_io_inner(cbio, in, err, errlen) != 0)
		goto cleanup;
	if (BIO_flush(cbio) != 1) {
		errmsg_set_ssl(err, errlen, "signing failed");
		goto cleanup;
	}
	rc = 0;
cleanup:
	/* unstack the CMS filters, leave out to the caller */
	while (cbio != NULL && cbio != out) {
		BIO *next = BIO_pop(cbio);
		BIO_free(cbio);
		cbio = next;
	}
	CMS_ContentInfo_free(cms);
	return rc;
}
