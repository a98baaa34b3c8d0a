/*
 * check_algos.c - unit tests of the S/MIME 4.0 algorithm choices, the
 * formats and RFC 9788 header protection of the CMS engine, and of the
 * 7-bit re-encoding before signing (mime7bit).
 *
 * Everything smime_protect produces is opened again with OpenSSL's CMS
 * API: decrypted with the recipient's key, the signature verified against
 * the test CA, the algorithm identifiers inspected, and the signed content
 * compared byte for byte with what went in (or, after 7-bit re-encoding,
 * decoded and compared).
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "mime.h"
#include "mime7bit.h"
#include "smime.h"
#include "spool.h"
#include "testpki.h"

static struct testpki_id ca, rsa_id, ec256, ec384, ed, x25519;

static const char head[] = "Content-Type: text/plain; charset=utf-8\r\n"
                           "Content-Transfer-Encoding: 8bit\r\n\r\n";
static const char body[] = "Gr\xc3\xbc\xc3\x9f"
                           "e, 42 \xe2\x82\xac.\r\n.\r\nFrom here\r\nend";

static void
pki_setup(void)
{
	const char *ku = "critical,digitalSignature,keyEncipherment,keyAgreement";

	ca = testpki_issue("rsa", "Algo CA", NULL, NULL, -1, 30, NULL, NULL);
	rsa_id = testpki_issue("rsa", "Rsa", "rsa@example.com", &ca, -1, 30, ku, "emailProtection");
	ec256 =
	    testpki_issue("ec", "Ec256", "ec256@example.com", &ca, -1, 30, ku, "emailProtection");
	ec384 =
	    testpki_issue("ec", "Ec384", "ec384@example.com", &ca, -1, 30, ku, "emailProtection");
	testpki_rekey(&ec384, &ca, "P-384");
	ed = testpki_issue("ec", "Ed", "ed@example.com", &ca, -1, 30, ku, NULL);
	testpki_rekey(&ed, &ca, "ED25519");
	x25519 = testpki_issue("ec", "X", "x@example.com", &ca, -1, 30, ku, NULL);
	testpki_rekey(&x25519, &ca, "X25519");
}

static void
pki_teardown(void)
{
	struct testpki_id *ids[] = {&ca, &rsa_id, &ec256, &ec384, &ed, &x25519};

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		testpki_free(ids[i]);
}

/* ---- helpers ---- */

struct outbuf {
	unsigned char *p;
	size_t len, cap;
};

static int
collect(void *arg, const void *data, size_t len)
{
	struct outbuf *o = arg;

	if (o->len + len + 1 > o->cap) {
		o->cap = (o->len + len + 1) * 2;
		o->p = realloc(o->p, o->cap);
		ck_assert_ptr_nonnull(o->p);
	}
	memcpy(o->p + o->len, data, len);
	o->len += len;
	o->p[o->len] = '\0';
	return 0;
}

static spool *
make_body(const void *data, size_t len)
{
	spool *sp = spool_new(SPOOL_DEFAULT_MEMORY, NULL);
	char err[256];

	ck_assert_ptr_nonnull(sp);
	ck_assert_int_eq(spool_write(sp, data, len, err, sizeof(err)), 0);
	return sp;
}

static struct keystore_identity
signer_of(const struct testpki_id *id)
{
	struct keystore_identity k = {id->key, id->cert, sk_X509_new_null()};

	sk_X509_push(k.chain, ca.cert);
	return k;
}

static CMS_ContentInfo *
parse_b64(const unsigned char *p, size_t len)
{
	BIO *mem = BIO_new_mem_buf(p, (int)len), *b64 = BIO_new(BIO_f_base64());
	CMS_ContentInfo *cms;

	BIO_push(b64, mem);
	cms = d2i_CMS_bio(b64, NULL);
	BIO_free_all(b64);
	ck_assert_msg(cms != NULL, "not base64 CMS");
	return cms;
}

/* malloc'd, NUL-terminated copy of a memory BIO */
static char *
bio_text(BIO *b, size_t *len)
{
	char *data, *r;
	long n = BIO_get_mem_data(b, &data);

	r = malloc((size_t)n + 1);
	memcpy(r, data, (size_t)n);
	r[n] = '\0';
	*len = (size_t)n;
	return r;
}

static char *
decrypt(const struct outbuf *o, const struct testpki_id *id, size_t *len)
{
	CMS_ContentInfo *cms = parse_b64(o->p, o->len);
	BIO *out = BIO_new(BIO_s_mem());
	char *r;

	ck_assert_msg(CMS_decrypt(cms, id->key, id->cert, NULL, out, CMS_BINARY) == 1,
	    "decrypt: %s", ERR_reason_error_string(ERR_get_error()));
	r = bio_text(out, len);
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	return r;
}

/* Verify sig (over content when detached) to the CA; the signer must be who. */
static void
verify(CMS_ContentInfo *sig, const char *content, size_t clen, const struct testpki_id *who,
    const char *expect, size_t expectlen, int sig_nid, int md_nid)
{
	X509_STORE *store = X509_STORE_new();
	BIO *in = content ? BIO_new_mem_buf(content, (int)clen) : NULL, *out = BIO_new(BIO_s_mem());
	STACK_OF(X509) *signers;
	CMS_SignerInfo *si;
	X509_ALGOR *dig, *salg;
	const ASN1_OBJECT *obj;
	char *got;
	size_t glen;

	X509_STORE_add_cert(store, ca.cert);
	ck_assert_msg(CMS_verify(sig, NULL, store, in, out, CMS_BINARY) == 1, "verify: %s",
	    ERR_reason_error_string(ERR_get_error()));
	signers = CMS_get0_signers(sig);
	ck_assert_int_eq(X509_cmp(sk_X509_value(signers, 0), who->cert), 0);
	sk_X509_free(signers);
	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(sig), 0);
	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &salg);
	X509_ALGOR_get0(&obj, NULL, NULL, dig);
	ck_assert_int_eq(OBJ_obj2nid(obj), md_nid);
	X509_ALGOR_get0(&obj, NULL, NULL, salg);
	if (sig_nid != NID_undef)
		ck_assert_msg(OBJ_obj2nid(obj) == sig_nid, "signature algorithm %s",
		    OBJ_nid2sn(OBJ_obj2nid(obj)));
	ck_assert_int_ge(CMS_signed_get_attr_by_NID(si, NID_SMIMECapabilities, -1), 0);
	got = bio_text(out, &glen);
	ck_assert_uint_eq(glen, expectlen);
	ck_assert_msg(memcmp(got, expect, expectlen) == 0, "signed content differs");
	free(got);
	BIO_free(in);
	BIO_free(out);
	X509_STORE_free(store);
}

static char *
memfind(const char *hay, size_t hlen, const char *needle)
{
	size_t nl = strlen(needle);

	for (size_t i = 0; i + nl <= hlen; i++)
		if (memcmp(hay + i, needle, nl) == 0)
			return (char *)hay + i;
	return NULL;
}

/* Split a multipart/signed body with boundary b and verify it. */
static void
verify_multipart(const char *mp, size_t mplen, const char *b, const struct testpki_id *who,
    const char *expect, size_t expectlen, int sig_nid, int md_nid)
{
	char delim[128], *start, *end, *sigstart, *sigend;
	CMS_ContentInfo *sig;

	snprintf(delim, sizeof(delim), "--%s\r\n", b);
	start = memfind(mp, mplen, delim);
	ck_assert_ptr_nonnull(start);
	start += strlen(delim);
	snprintf(delim, sizeof(delim), "\r\n--%s\r\n", b);
	end = memfind(start, mplen - (size_t)(start - mp), delim);
	ck_assert_ptr_nonnull(end);
	sigstart = memfind(end, mplen - (size_t)(end - mp), "\r\n\r\n") + 4;
	snprintf(delim, sizeof(delim), "--%s--\r\n", b);
	sigend = memfind(sigstart, mplen - (size_t)(sigstart - mp), delim);
	ck_assert_ptr_nonnull(sigend);
	ck_assert_msg(sigend + strlen(delim) == mp + mplen, "epilogue after the close delimiter");
	sig = parse_b64((unsigned char *)sigstart, (size_t)(sigend - sigstart));
	verify(sig, start, (size_t)(end - start), who, expect, expectlen, sig_nid, md_nid);
	CMS_ContentInfo_free(sig);
}

static char *
inner_of(const char *h, const char *b, size_t *len)
{
	size_t hl = strlen(h), bl = strlen(b);
	char *e = malloc(hl + bl + 1);

	memcpy(e, h, hl);
	memcpy(e + hl, b, bl + 1);
	*len = hl + bl;
	return e;
}

static int
protect(struct smime_options *opt, const struct testpki_id *signer, X509 *rcpt, const char *h,
    const char *b, size_t blen, struct outbuf *o, struct smime_result *res, char *err,
    size_t errlen)
{
	struct keystore_identity k = signer ? signer_of(signer) : (struct keystore_identity){0};
	STACK_OF(X509) *rc = sk_X509_new_null();
	spool *sp = make_body(b, blen);
	struct smime_request req = {.opt = *opt,
	    .signer = signer ? &k : NULL,
	    .recipients = rc,
	    .head = h,
	    .headlen = strlen(h),
	    .body = sp,
	    .out = collect,
	    .out_arg = o};
	int r;

	if (rcpt != NULL)
		sk_X509_push(rc, rcpt);
	r = smime_protect(&req, err, errlen);
	*res = req.result;
	spool_free(sp);
	sk_X509_free(rc);
	sk_X509_free(k.chain);
	return r;
}

/* ---- encryption: cipher x key transport x recipient key ---- */

START_TEST(test_encrypt_matrix)
{
	const EVP_CIPHER *ciphers[] = {EVP_aes_128_cbc(), EVP_aes_256_cbc(), EVP_aes_128_gcm(),
	    EVP_aes_256_gcm()};
	const struct testpki_id *rcpts[] = {&rsa_id, &rsa_id, &ec256, &ec384};
	const enum smime_key_transport kts[] = {SMIME_KT_RSA_PKCS1, SMIME_KT_RSA_OAEP,
	    SMIME_KT_RSA_PKCS1, SMIME_KT_RSA_PKCS1};
	size_t c = (size_t)_i / 4, r = (size_t)_i % 4, plen, ilen;
	struct smime_options opt = {.sign = 1,
	    .encrypt = 1,
	    .boundary = "bb",
	    .cipher = ciphers[c],
	    .key_transport = kts[r]};
	struct outbuf o = {0};
	struct smime_result res;
	char err[256], *plain, *inner;
	CMS_ContentInfo *cms;
	CMS_RecipientInfo *ri;
	int gcm = c >= 2;

	ck_assert_msg(protect(&opt, &rsa_id, rcpts[r]->cert, head, body, strlen(body), &o, &res,
	                  err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_msg(strstr(res.content_type,
	                  gcm ? "smime-type=authEnveloped-data;" : "smime-type=enveloped-data;") !=
	        NULL,
	    "%s", res.content_type);
	cms = parse_b64(o.p, o.len);
	ck_assert_int_eq(OBJ_obj2nid(CMS_get0_type(cms)),
	    gcm ? NID_id_smime_ct_authEnvelopedData : NID_pkcs7_enveloped);
	ri = sk_CMS_RecipientInfo_value(CMS_get0_RecipientInfos(cms), 0);
	if (r < 2) {
		X509_ALGOR *alg;
		const ASN1_OBJECT *obj;
		ck_assert_int_eq(CMS_RecipientInfo_type(ri), CMS_RECIPINFO_TRANS);
		CMS_RecipientInfo_ktri_get0_algs(ri, NULL, NULL, &alg);
		X509_ALGOR_get0(&obj, NULL, NULL, alg);
		ck_assert_int_eq(OBJ_obj2nid(obj), r == 1 ? NID_rsaesOaep : NID_rsaEncryption);
	} else {
		X509_ALGOR *alg;
		ASN1_OCTET_STRING *ukm;
		const ASN1_OBJECT *obj;
		ck_assert_int_eq(CMS_RecipientInfo_type(ri), CMS_RECIPINFO_AGREE);
		CMS_RecipientInfo_kari_get0_alg(ri, &alg, &ukm);
		X509_ALGOR_get0(&obj, NULL, NULL, alg);
		ck_assert_int_eq(OBJ_obj2nid(obj), NID_dhSinglePass_stdDH_sha256kdf_scheme);
	}
	CMS_ContentInfo_free(cms);
	plain = decrypt(&o, rcpts[r], &plen);
	inner = inner_of(head, body, &ilen);
	verify_multipart(plain, plen, "bb", &rsa_id, inner, ilen, NID_undef, NID_sha256);
	free(plain);
	free(inner);
	free(o.p);
}
END_TEST

/* ---- signatures: key type x scheme x digest, detached and opaque ---- */

START_TEST(test_sign_matrix)
{
	const EVP_MD *mds[] = {EVP_sha256(), EVP_sha384(), EVP_sha512()};
	const int md_nids[] = {NID_sha256, NID_sha384, NID_sha512};
	const char *micalgs[] = {"sha-256", "sha-384", "sha-512"};
	/* signer: 0 rsa pkcs1, 1 rsa pss, 2 ecdsa p-256, 3 ecdsa p-384 */
	int s = _i % 4, d = (_i / 4) % 3, opaque = _i / 12;
	const struct testpki_id *who = s < 2 ? &rsa_id : s == 2 ? &ec256 : &ec384;
	struct smime_options opt = {.sign = 1,
	    .boundary = "sb",
	    .digest = mds[d],
	    .signature = s == 1 ? SMIME_SIG_RSA_PSS : SMIME_SIG_RSA_PKCS1,
	    .sign_format = opaque ? SMIME_SIGN_OPAQUE : SMIME_SIGN_DETACHED};
	struct outbuf o = {0};
	struct smime_result res;
	char err[256], *inner, want[128];
	size_t ilen;
	int sig_nid = s == 1 ? NID_rsassaPss : NID_undef;

	ck_assert_msg(protect(&opt, who, NULL, head, body, strlen(body), &o, &res, err,
	                  sizeof(err)) == 0,
	    "%s", err);
	inner = inner_of(head, body, &ilen);
	if (opaque) {
		CMS_ContentInfo *cms = parse_b64(o.p, o.len);
		ck_assert_str_eq(res.content_type,
		    "application/pkcs7-mime; smime-type=signed-data; name=\"smime.p7m\"");
		ck_assert_str_eq(res.transfer_encoding, "base64");
		verify(cms, NULL, 0, who, inner, ilen, sig_nid, md_nids[d]);
		CMS_ContentInfo_free(cms);
	} else {
		snprintf(want, sizeof(want), "\r\n micalg=%s; boundary=\"sb\"", micalgs[d]);
		ck_assert_msg(strstr(res.content_type, want) != NULL, "%s", res.content_type);
		verify_multipart((char *)o.p, o.len, "sb", who, inner, ilen, sig_nid, md_nids[d]);
	}
	if (s == 1) {
		/* PSS parameters: the digest for the hash and MGF1 */
		CMS_ContentInfo *cms = opaque ? parse_b64(o.p, o.len) : NULL;
		if (cms != NULL) {
			CMS_SignerInfo *si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
			X509_ALGOR *salg;
			const ASN1_OBJECT *obj;
			int ptype;
			const void *pval;
			CMS_SignerInfo_get0_algs(si, NULL, NULL, NULL, &salg);
			X509_ALGOR_get0(&obj, &ptype, &pval, salg);
			ck_assert_int_eq(ptype, V_ASN1_SEQUENCE); /* explicit RSASSA-PSS-params */
			CMS_ContentInfo_free(cms);
		}
	}
	free(inner);
	free(o.p);
}
END_TEST

/* opaque signed-data inside the envelope */
START_TEST(test_opaque_encrypted)
{
	struct smime_options opt = {.sign = 1,
	    .encrypt = 1,
	    .sign_format = SMIME_SIGN_OPAQUE,
	    .cipher = EVP_aes_256_gcm(),
	    .key_transport = SMIME_KT_RSA_OAEP,
	    .digest = EVP_sha384()};
	struct outbuf o = {0};
	struct smime_result res;
	char err[256], *plain, *inner, *b64;
	size_t plen, ilen;
	const char *h = "Content-Type: application/pkcs7-mime; smime-type=signed-data;\r\n"
	                " name=\"smime.p7m\"\r\nContent-Transfer-Encoding: base64\r\n";
	CMS_ContentInfo *sig;

	ck_assert_msg(protect(&opt, &ec384, rsa_id.cert, head, body, strlen(body), &o, &res, err,
	                  sizeof(err)) == 0,
	    "%s", err);
	plain = decrypt(&o, &rsa_id, &plen);
	ck_assert_msg(strncmp(plain, h, strlen(h)) == 0, "%.200s", plain);
	b64 = strstr(plain, "\r\n\r\n") + 4;
	for (char *p = b64; *p != '\0'; p++) /* 76-column CRLF base64 lines */
		ck_assert(*p == '\r' || *p == '\n' || *p == '=' || *p == '+' || *p == '/' ||
		    (*p >= '0' && *p <= '9') || ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z'));
	sig = parse_b64((unsigned char *)b64, strlen(b64));
	inner = inner_of(head, body, &ilen);
	verify(sig, NULL, 0, &ec384, inner, ilen, NID_undef, NID_sha384);
	CMS_ContentInfo_free(sig);
	free(inner);
	free(plain);
	free(o.p);
}
END_TEST

/* ---- RFC 9788 header protection ---- */

static void
outer_headers(struct mime_headers *h)
{
	mime_headers_init(h);
	mime_headers_add(h, "Received", " from x by y");
	mime_headers_add(h, "From", " Alice <alice@example.com>");
	mime_headers_add(h, "To", " Bob <bob@example.net>,\r\n Carol <carol@example.net>");
	mime_headers_add(h, "Subject", "The quarterly figures");
	mime_headers_add(h, "Date", " Mon, 23 Nov 2026 10:00:00 +0000");
	mime_headers_add(h, "Message-ID", " <hp@example.com>");
	mime_headers_add(h, "X-Mailer", " test");
	mime_headers_add(h, "Content-Type", " text/plain; charset=utf-8");
}

START_TEST(test_header_protection_cipher)
{
	struct mime_headers oh;
	struct smime_options opt = {.encrypt = 1,
	    .header_protection = 1,
	    .hide_subject = 1,
	    .outer = &oh};
	struct outbuf o = {0};
	struct smime_result res;
	char err[256], *plain;
	size_t plen;
	const char *want = "From: Alice <alice@example.com>\r\n"
	                   "To: Bob <bob@example.net>,\r\n Carol <carol@example.net>\r\n"
	                   "Subject: The quarterly figures\r\n"
	                   "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
	                   "Message-ID: <hp@example.com>\r\n"
	                   "HP-Outer: From: Alice <alice@example.com>\r\n"
	                   "HP-Outer: To: Bob <bob@example.net>,\r\n Carol <carol@example.net>\r\n"
	                   "HP-Outer: Subject: [...]\r\n"
	                   "HP-Outer: Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
	                   "HP-Outer: Message-ID: <hp@example.com>\r\n"
	                   "Content-Type: text/plain; charset=utf-8; hp=\"cipher\"\r\n"
	                   "Content-Transfer-Encoding: 8bit\r\n\r\n";

	outer_headers(&oh);
	ck_assert_msg(protect(&opt, NULL, rsa_id.cert, head, body, strlen(body), &o, &res, err,
	                  sizeof(err)) == 0,
	    "%s", err);
	plain = decrypt(&o, &rsa_id, &plen);
	ck_assert_msg(strncmp(plain, want, strlen(want)) == 0, "inner:\n%s", plain);
	ck_assert_str_eq(plain + strlen(want), body);
	free(plain);
	free(o.p);
	mime_headers_clear(&oh);
}
END_TEST

START_TEST(test_header_protection_clear)
{
	struct mime_headers oh;
	struct smime_options opt = {.sign = 1,
	    .header_protection = 1,
	    .outer = &oh,
	    .boundary = "hp"};
	struct outbuf o = {0};
	struct smime_result res;
	char err[256], *expect;
	/* no Content-Type: the default gets the parameter; a long one folds before it */
	const char *h2 =
	    "Content-Type: multipart/alternative; boundary=\"0123456789abcdefghij\"\r\n"
	    "\r\n";
	const char *b2 = "--0123456789abcdefghij\r\n\r\nplain\r\n--0123456789abcdefghij--\r\n";
	const char *prot = "From: Alice <alice@example.com>\r\n"
	                   "To: Bob <bob@example.net>,\r\n Carol <carol@example.net>\r\n"
	                   "Subject: The quarterly figures\r\n"
	                   "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
	                   "Message-ID: <hp@example.com>\r\n";
	size_t elen;

	outer_headers(&oh);
	ck_assert_msg(protect(&opt, &rsa_id, NULL, "\r\n", "hi\r\n", 4, &o, &res, err,
	                  sizeof(err)) == 0,
	    "%s", err);
	elen = strlen(prot) + 200;
	expect = malloc(elen);
	snprintf(expect, elen,
	    "%sContent-Type: text/plain; charset=us-ascii; hp=\"clear\"\r\n\r\n"
	    "hi\r\n",
	    prot);
	verify_multipart((char *)o.p, o.len, "hp", &rsa_id, expect, strlen(expect), NID_undef,
	    NID_sha256);
	ck_assert_ptr_null(memfind((char *)o.p, o.len, "HP-Outer"));
	free(o.p);
	memset(&o, 0, sizeof(o));
	ck_assert_msg(protect(&opt, &rsa_id, NULL, h2, b2, strlen(b2), &o, &res, err,
	                  sizeof(err)) == 0,
	    "%s", err);
	snprintf(expect, elen,
	    "%sContent-Type: multipart/alternative; "
	    "boundary=\"0123456789abcdefghij\";\r\n hp=\"clear\"\r\n\r\n%s",
	    prot, b2);
	verify_multipart((char *)o.p, o.len, "hp", &rsa_id, expect, strlen(expect), NID_undef,
	    NID_sha256);
	free(expect);
	free(o.p);
	mime_headers_clear(&oh);
}
END_TEST

/* odd Content-Type fields keep hp a parameter of their own (found by fuzzing) */
START_TEST(test_header_protection_open_quote)
{
	struct mime_headers oh;
	struct smime_options opt = {.sign = 1,
	    .header_protection = 1,
	    .outer = &oh,
	    .boundary = "hq"};
	struct outbuf o = {0};
	struct smime_result res;
	char err[256];
	const char *h = "Content-Type: text/plain; name=\"open;\r\n\r\n";

	outer_headers(&oh);
	ck_assert_msg(protect(&opt, &rsa_id, NULL, h, "hi\r\n", 4, &o, &res, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_ptr_nonnull(memfind((char *)o.p, o.len,
	    "Content-Type: text/plain; name=\"open;\"; hp=\"clear\"\r\n\r\nhi\r\n"));
	free(o.p);
	memset(&o, 0, sizeof(o));
	/* a last continuation line of blanks: hp goes after the parameters, not onto a line of its own */
	h = "Content-Type: text/plain;\r\n format=flowed;\r\n \r\n\r\n";
	ck_assert_msg(protect(&opt, &rsa_id, NULL, h, "hi\r\n", 4, &o, &res, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_ptr_nonnull(memfind((char *)o.p, o.len,
	    "Content-Type: text/plain;\r\n format=flowed; hp=\"clear\"\r\n\r\nhi\r\n"));
	free(o.p);
	mime_headers_clear(&oh);
}
END_TEST

/* ---- 7-bit re-encoding before signing ---- */

/* Decode quoted-printable text (soft breaks removed, =XX decoded). */
static size_t
qp_decode(const char *in, size_t len, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		if (in[i] == '=' && i + 2 < len && in[i + 1] == '\r' && in[i + 2] == '\n') {
			i += 2;
		} else if (in[i] == '=' && i + 2 < len) {
			char hex[3] = {in[i + 1], in[i + 2], 0};
			out[o++] = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			out[o++] = in[i];
		}
	}
	return o;
}

static void
assert_7bit(const char *p, size_t len, size_t maxcol)
{
	size_t i, col = 0;

	for (i = 0; i < len; i++) {
		ck_assert_msg((unsigned char)p[i] < 0x80 && p[i] != '\0', "8-bit byte at %zu", i);
		if (p[i] == '\n') {
			col = 0;
			continue;
		}
		if (p[i] != '\r')
			ck_assert_msg(++col <= maxcol, "line longer than %zu at %zu", maxcol, i);
	}
}

START_TEST(test_7bit_text)
{
	struct smime_options opt = {.sign = 1, .transport_7bit = 1, .boundary = "7b"};
	struct outbuf o = {0};
	struct smime_result res;
	char err[256], *start, *end, dec[512], *qp;
	size_t n;
	const char *bd = "Caf\xc3\xa9 = 1 \t \r\nFrom me\r\n.\r\n"
	                 "0123456789012345678901234567890123456789012345678901234567890123456789"
	                 "0123456789\xe2\x82\xac\r\nlast";

	ck_assert_msg(protect(&opt, &rsa_id, NULL, head, bd, strlen(bd), &o, &res, err,
	                  sizeof(err)) == 0,
	    "%s", err);
	assert_7bit((char *)o.p, o.len, 76);
	start = memfind((char *)o.p, o.len, "--7b\r\n") + 6;
	end = memfind(start, o.len - (size_t)(start - (char *)o.p), "\r\n--7b\r\n");
	ck_assert_ptr_nonnull(end);
	{
		const char *h = "Content-Type: text/plain; charset=utf-8\r\n"
		                "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
		ck_assert_msg(strncmp(start, h, strlen(h)) == 0, "%.200s", start);
		qp = start + strlen(h);
		ck_assert_ptr_nonnull(
		    memfind(qp, (size_t)(end - qp), "=3D 1 \t=20\r\n=46rom me\r\n=2E"));
		n = qp_decode(qp, (size_t)(end - qp), dec);
		ck_assert_uint_eq(n, strlen(bd));
		ck_assert_int_eq(memcmp(dec, bd, n), 0);
		/* the signature covers the re-encoded entity */
		verify_multipart((char *)o.p, o.len, "7b", &rsa_id, start, (size_t)(end - start),
		    NID_undef, NID_sha256);
	}
	free(o.p);
}
END_TEST

START_TEST(test_7bit_multipart)
{
	struct smime_options opt = {.sign = 1,
	    .transport_7bit = 1,
	    .boundary = "7m",
	    .sign_format = SMIME_SIGN_OPAQUE};
	struct outbuf o = {0};
	struct smime_result res;
	char err[256], *got;
	size_t glen;
	CMS_ContentInfo *cms;
	BIO *out;
	const char *h = "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n";
	static const char b[] =
	    "preamble\r\n--outer\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n\xc3\xa9t\xc3\xa9\r\n"
	    "--outer\r\nContent-Type: application/octet-stream\r\n"
	    "Content-Transfer-Encoding: binary\r\n\r\n\x01\x80\x00\xff\r\n"
	    "--outer\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n"
	    "Content-Type: text/plain\r\n\r\nna\xc3\xafve\r\n"
	    "--outer\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	    "aGk=\r\n--outer--\r\nepilogue\r\n";
	const char *want =
	    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
	    "preamble\r\n--outer\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9t=C3=A9\r\n"
	    "--outer\r\nContent-Type: application/octet-stream\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\nAYAA/w==\r\n"
	    "--outer\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n"
	    "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "na=C3=AFve\r\n"
	    "--outer\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	    "aGk=\r\n--outer--\r\nepilogue\r\n";

	ck_assert_msg(protect(&opt, &ec256, NULL, h, b, sizeof(b) - 1, &o, &res, err,
	                  sizeof(err)) == 0,
	    "%s", err);
	cms = parse_b64(o.p, o.len);
	out = BIO_new(BIO_s_mem());
	ck_assert(
	    CMS_verify(cms, NULL, NULL, NULL, out, CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) == 1);
	got = bio_text(out, &glen);
	ck_assert_msg(glen == strlen(want) && memcmp(got, want, glen) == 0, "got:\n%s", got);
	free(got);
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	free(o.p);
}
END_TEST

/* 7-bit clean input is signed exactly as it is; so is everything when encrypting */
START_TEST(test_7bit_untouched)
{
	struct smime_options opt = {.sign = 1, .transport_7bit = 1, .boundary = "u"};
	struct outbuf o = {0};
	struct smime_result res;
	char err[256];
	const char *h = "Content-Type: text/plain; charset=us-ascii\r\n\r\n";
	const char *b = "plain ascii = fine\r\n";
	char *inner;
	size_t ilen;

	ck_assert(protect(&opt, &rsa_id, NULL, h, b, strlen(b), &o, &res, err, sizeof(err)) == 0);
	inner = inner_of(h, b, &ilen);
	verify_multipart((char *)o.p, o.len, "u", &rsa_id, inner, ilen, NID_undef, NID_sha256);
	free(inner);
	free(o.p);
}
END_TEST

/* no Content-Type at all, 8-bit text: quoted-printable with the header added */
START_TEST(test_7bit_no_content_type)
{
	char err[256], buf[256];
	spool *in = make_body("\xc3\xa9\r\n", 4), *out = spool_new(SPOOL_DEFAULT_MEMORY, NULL);
	ssize_t n;
	const char *want = "Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9\r\n";

	ck_assert_int_eq(mime7bit_encode("\r\n", 2, in, out, err, sizeof(err)), 1);
	ck_assert_int_eq(spool_rewind(out, err, sizeof(err)), 0);
	n = spool_read(out, buf, sizeof(buf) - 1, err, sizeof(err));
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq(buf, want);
	spool_free(in);
	spool_free(out);
}
END_TEST

/* a long binary body, one line of 200 KB: base64, every line 76 columns */
START_TEST(test_7bit_long_binary)
{
	size_t len = 200000, i, olen = 0;
	unsigned char *b = malloc(len), *dec = malloc(len + 16);
	char err[256], *o = malloc(len * 2);
	const char *h =
	    "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n";
	spool *in, *out = spool_new(65536, NULL);
	ssize_t n;
	BIO *b64, *mem;
	int dl;

	for (i = 0; i < len; i++)
		b[i] = (unsigned char)(i * 7 + 1) == '\n' ? 0 : (unsigned char)(i * 7 + 1);
	in = make_body(b, len);
	ck_assert_int_eq(mime7bit_encode(h, strlen(h), in, out, err, sizeof(err)), 1);
	ck_assert_int_eq(spool_rewind(out, err, sizeof(err)), 0);
	while ((n = spool_read(out, o + olen, len * 2 - olen, err, sizeof(err))) > 0)
		olen += (size_t)n;
	assert_7bit(o, olen, 76);
	ck_assert_ptr_nonnull(memfind(o, olen, "Content-Transfer-Encoding: base64\r\n\r\n"));
	mem = BIO_new_mem_buf(strstr(o, "\r\n\r\n") + 4, -1);
	b64 = BIO_push(BIO_new(BIO_f_base64()), mem);
	dl = BIO_read(b64, dec, (int)len + 16);
	while (dl > 0 && (size_t)dl < len) {
		int m = BIO_read(b64, dec + dl, (int)len + 16 - dl);
		if (m <= 0)
			break;
		dl += m;
	}
	ck_assert_int_eq(dl, (int)len);
	ck_assert_int_eq(memcmp(dec, b, len), 0);
	BIO_free_all(b64);
	spool_free(in);
	spool_free(out);
	free(b);
	free(dec);
	free(o);
}
END_TEST

/* ---- options and refusals ---- */

START_TEST(test_check_options)
{
	struct smime_options opt = {.key_transport = SMIME_KT_RSA_OAEP,
	    .signature = SMIME_SIG_RSA_PSS,
	    .sign_format = SMIME_SIGN_OPAQUE,
	    .header_protection = 1};
	char err[256];

	ck_assert_int_eq(smime_check_options(&opt, err, sizeof(err)), 0);
	opt.cipher = EVP_des_ede3_cbc();
	ck_assert_int_eq(smime_check_options(&opt, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "cipher DES-EDE3-CBC is not supported");
	opt.cipher = NULL;
	opt.digest = EVP_sha1();
	ck_assert_int_eq(smime_check_options(&opt, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "digest SHA1 is not supported");
}
END_TEST

START_TEST(test_unsupported_keys)
{
	struct smime_options opt = {.encrypt = 1};
	struct outbuf o = {0};
	struct smime_result res;
	char err[256];

	ck_assert_int_eq(protect(&opt, NULL, x25519.cert, head, body, strlen(body), &o, &res, err,
	                     sizeof(err)),
	    -1);
	ck_assert_msg(strstr(err, "key type X25519 is not supported") != NULL, "%s", err);
	opt.encrypt = 0;
	opt.sign = 1;
	ck_assert_int_eq(protect(&opt, &ed, NULL, head, body, strlen(body), &o, &res, err,
	                     sizeof(err)),
	    -1);
	free(o.p);
}
END_TEST

static Suite *
algos_suite(void)
{
	Suite *s = suite_create("algos");
	TCase *tc = tcase_create("algos");

	tcase_add_unchecked_fixture(tc, pki_setup, pki_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_encrypt_matrix, 0, 16);
	tcase_add_loop_test(tc, test_sign_matrix, 0, 24);
	tcase_add_test(tc, test_opaque_encrypted);
	tcase_add_test(tc, test_header_protection_cipher);
	tcase_add_test(tc, test_header_protection_clear);
	tcase_add_test(tc, test_header_protection_open_quote);
	tcase_add_test(tc, test_7bit_text);
	tcase_add_test(tc, test_7bit_multipart);
	tcase_add_test(tc, test_7bit_untouched);
	tcase_add_test(tc, test_7bit_no_content_type);
	tcase_add_test(tc, test_7bit_long_binary);
	tcase_add_test(tc, test_check_options);
	tcase_add_test(tc, test_unsupported_keys);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(algos_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
