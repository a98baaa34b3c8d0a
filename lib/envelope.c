/*
 * envelope.c - decryption of (Auth)EnvelopedData from outside with the
 * keys we hold.  See envelope.h.  The structure is untrusted: it is parsed
 * once, a key is tried only against a RecipientInfo that names its
 * certificate, and every failure is classified from OpenSSL's errors.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "envelope.h"
#include "errmsg.h"

const char *
envelope_result_name(enum envelope_result r)
{
	switch (r) {
	case ENVELOPE_OK: return "decrypted";
	case ENVELOPE_NOT_ENVELOPED: return "not encrypted";
	case ENVELOPE_NO_KEY: return "not encrypted for a key we hold";
	case ENVELOPE_CORRUPT: return "corrupt";
	case ENVELOPE_UNSUPPORTED: return "unsupported algorithm";
	default: return "internal error";
	}
}

/* Does ri name cert (key transport: issuer/serial or SKI; key agreement: one of its keys)? */
static int
ri_names(CMS_RecipientInfo *ri, X509 *cert)
{
	STACK_OF(CMS_RecipientEncryptedKey) *reks;
	int i;

	switch (CMS_RecipientInfo_type(ri)) {
	case CMS_RECIPINFO_TRANS: return CMS_RecipientInfo_ktri_cert_cmp(ri, cert) == 0;
	case CMS_RECIPINFO_AGREE:
		reks = CMS_RecipientInfo_kari_get0_reks(ri);
		for (i = 0; i < sk_CMS_RecipientEncryptedKey_num(reks); i++)
			if (CMS_RecipientEncryptedKey_cert_cmp(
			        sk_CMS_RecipientEncryptedKey_value(reks, i), cert) == 0)
				return 1;
		return 0;
	default: return 0;
	}
}

/* "serial 2003 by CN=..." of a key transport recipient, for the log. */
static void
describe_ri(CMS_RecipientInfo *ri, char *out, size_t outlen)
{
	ASN1_OCTET_STRING *keyid = NULL;
	X509_NAME *issuer = NULL;
	ASN1_INTEGER *sno = NULL;
	char name[200] = "?";
	BIGNUM *bn;
	char *hex = NULL;

	if (CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_TRANS ||
	    CMS_RecipientInfo_ktri_get0_signer_id(ri, &keyid, &issuer, &sno) != 1) {
		snprintf(out, outlen, "%s",
		    CMS_RecipientInfo_type(ri) == CMS_RECIPINFO_AGREE
		        ? "an EC key agreement recipient"
		        : "a recipient of another kind");
		return;
	}
	if (keyid != NULL) {
		snprintf(out, outlen, "subject key identifier of %d bytes",
		    ASN1_STRING_length(keyid));
		return;
	}
	if (issuer != NULL)
		X509_NAME_oneline(issuer, name, sizeof(name));
	bn = sno != NULL ? ASN1_INTEGER_to_BN(sno, NULL) : NULL;
	hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	snprintf(out, outlen, "serial %s by %s", hex != NULL ? hex : "?", name);
	OPENSSL_free(hex);
	BN_free(bn);
}

/* The recipients as a list for the reason of ENVELOPE_NO_KEY (at most three named). */
static void
no_key_reason(STACK_OF(CMS_RecipientInfo) *ris, char *reason, size_t reasonlen)
{
	char list[600] = "", one[260];
	int i, n = sk_CMS_RecipientInfo_num(ris);

	for (i = 0; i < n && i < 3; i++) {
		size_t used = strlen(list);
		describe_ri(sk_CMS_RecipientInfo_value(ris, i), one, sizeof(one));
		snprintf(list + used, sizeof(list) - used, "%s%s", i > 0 ? "; " : "", one);
	}
	errmsg_set(reason, reasonlen, "encrypted for %d recipient%s, none a key we hold (%s%s)", n,
	    n == 1 ? "" : "s", list, n > 3 ? "; ..." : "");
}

/* An algorithm OpenSSL cannot process (rather than bad data)? Reads and clears the queue. */
static enum envelope_result
failure_kind(char *reason, size_t reasonlen, const char *what)
{
	unsigned long e, last = 0;
	int unsupported = 0;

	while ((e = ERR_get_error()) != 0) {
		int lib = ERR_GET_LIB(e), r = ERR_GET_REASON(e);
		if ((lib == ERR_LIB_CMS &&
		        (r == CMS_R_UNKNOWN_CIPHER ||
		            r == CMS_R_UNSUPPORTED_KEY_ENCRYPTION_ALGORITHM ||
		            r == CMS_R_UNSUPPORTED_ENCRYPTION_TYPE ||
		            r == CMS_R_UNSUPPORTED_RECIPIENTINFO_TYPE ||
		            r == CMS_R_UNSUPPORTED_KEK_ALGORITHM ||
		            r == CMS_R_NOT_SUPPORTED_FOR_THIS_KEY_TYPE ||
		            r == CMS_R_UNKNOWN_DIGEST_ALGORITHM)) ||
		    (lib == ERR_LIB_EVP &&
		        (r == EVP_R_UNSUPPORTED_CIPHER || r == EVP_R_UNSUPPORTED_ALGORITHM ||
		            r == EVP_R_UNSUPPORTED_KEYLENGTH)) ||
		    r == ERR_R_UNSUPPORTED)
			unsupported = 1;
		last = e;
	}
	errmsg_set(reason, reasonlen, "%s: %s", what,
	    last != 0 && ERR_reason_error_string(last) != NULL ? ERR_reason_error_string(last)
	                                                       : "unknown error");
	return unsupported ? ENVELOPE_UNSUPPORTED : ENVELOPE_CORRUPT;
}

/* The (Auth)EnvelopedData cms decrypted with the first of keys a RecipientInfo names. */
static enum envelope_result
decrypt_cms(CMS_ContentInfo *cms, BIO *dcont, const struct keystore_identity *keys, size_t nkeys,
    BIO *out, struct envelope_info *info, char *reason, size_t reasonlen)
{
	STACK_OF(CMS_RecipientInfo) *ris;
	unsigned int flags = CMS_BINARY;
	size_t k;
	int i, nid, found = -1;

	nid = OBJ_obj2nid(CMS_get0_type(cms));
	if (nid != NID_pkcs7_enveloped && nid != NID_id_smime_ct_authEnvelopedData) {
		errmsg_set(reason, reasonlen, "CMS %s, not enveloped-data", OBJ_nid2sn(nid));
		return ENVELOPE_NOT_ENVELOPED;
	}
	info->auth = nid == NID_id_smime_ct_authEnvelopedData;
	ris = CMS_get0_RecipientInfos(cms);
	info->nrecipients = sk_CMS_RecipientInfo_num(ris);
	for (k = 0; k < nkeys && found < 0; k++) {
		if (keys[k].cert == NULL || keys[k].key == NULL)
			continue;
		for (i = 0; i < info->nrecipients && found < 0; i++)
			if (ri_names(sk_CMS_RecipientInfo_value(ris, i), keys[k].cert))
				found = (int)k;
	}
	/* a key without its certificate (smime-tool's): tried on every recipient, misses reported */
	for (k = 0; k < nkeys && found < 0; k++)
		if (keys[k].cert == NULL && keys[k].key != NULL) {
			found = (int)k;
			flags |= CMS_DEBUG_DECRYPT;
		}
	if (found < 0) {
		no_key_reason(ris, reason, reasonlen);
		return ENVELOPE_NO_KEY;
	}
	info->key = found;
	/*
	 * The content streams through the cipher into out; an AEAD tag (set from
	 * the mac before the first byte) and CBC padding are checked at the end,
	 * and only a 1 here makes what was written to out usable.
	 */
	if (CMS_decrypt(cms, keys[found].key, keys[found].cert, dcont, out, flags) != 1)
		return failure_kind(reason, reasonlen, "decryption failed");
	if (BIO_flush(out) != 1) {
		errmsg_set(reason, reasonlen, "cannot keep the decrypted content");
		return ENVELOPE_ERROR;
	}
	return ENVELOPE_OK;
}

static void
info_init(struct envelope_info *info)
{
	memset(info, 0, sizeof(*info));
	info->key = -1;
	ERR_clear_error();
}

enum envelope_result
envelope_decrypt(const unsigned char *der, size_t len, const struct keystore_identity *keys,
    size_t nkeys, BIO *out, struct envelope_info *info, char *reason, size_t reasonlen)
{
	struct envelope_info dummy;
	const unsigned char *p = der;
	CMS_ContentInfo *cms = NULL;
	enum envelope_result rc;

	if (info == NULL)
		info = &dummy;
	info_init(info);
	if (len > 0x7fffffff || (cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL) {
		failure_kind(reason, reasonlen, "not a CMS structure");
		return ENVELOPE_CORRUPT;
	}
	rc = decrypt_cms(cms, NULL, keys, nkeys, out, info, reason, reasonlen);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return rc;
}

enum envelope_result
envelope_open(const struct cmssplit *s, spool *content, const struct keystore_identity *keys,
    size_t nkeys, BIO *out, struct envelope_info *info, char *reason, size_t reasonlen)
{
	struct envelope_info dummy;
	const unsigned char *p = s->head;
	CMS_ContentInfo *cms = NULL;
	BIO *dcont = NULL;
	enum envelope_result rc = ENVELOPE_CORRUPT;

	if (info == NULL)
		info = &dummy;
	info_init(info);
	if (s->headlen > 0x7fffffff ||
	    (cms = d2i_CMS_ContentInfo(NULL, &p, (long)s->headlen)) == NULL) {
		failure_kind(reason, reasonlen, "not a CMS structure");
		return ENVELOPE_CORRUPT;
	}
	if (s->nid == NID_id_smime_ct_authEnvelopedData && (!s->has_mac || s->maclen < 12)) {
		errmsg_set(reason, reasonlen,
		    "authEnveloped-data with a message authentication code of %zu bytes "
		    "(at least 12)",
		    s->maclen);
		goto cleanup;
	}
	if (!s->has_content && nkeys > 0) {
		errmsg_set(reason, reasonlen, "enveloped-data without its encrypted content");
		goto cleanup;
	}
	if ((dcont = spool_bio_reader(content, 0, UINT64_MAX)) == NULL) {
		errmsg_set(reason, reasonlen, "out of memory");
		rc = ENVELOPE_ERROR;
		goto cleanup;
	}
	rc = decrypt_cms(cms, dcont, keys, nkeys, out, info, reason, reasonlen);
	if (spool_bio_error(dcont)[0] != '\0') {
		/* a read error looks like the end to the cipher: never a success */
		errmsg_set(reason, reasonlen, "cannot read the encrypted content: %s",
		    spool_bio_error(dcont));
		rc = ENVELOPE_ERROR;
	}
cleanup:
	BIO_free(dcont);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return rc;
}
