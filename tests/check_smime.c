/*
 * check_smime.c - unit tests of the CMS engine (smime), the recipient
 * certificate store (certstore) and the signing key store (keystore).
 *
 * Everything smime_protect produces is opened again with OpenSSL's CMS
 * API: decrypted with each recipient's key, the detached signature
 * verified against the test CA, and the signed content compared byte for
 * byte with the inner entity that went in.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/pem.h>
#include <openssl/err.h>

#include "certstore.h"
#include "keystore.h"
#include "keystore_pkcs11.h"
#include "smime.h"
#include "spool.h"
#include "testdir.h"
#include "testpki.h"

static struct testpki_id ca, alice, bob, carol, dave, expired, future, webonly, signonly;
static char dir[256], certdir[300], keydir[300];

static const char head[] = "Content-Type: text/plain; charset=utf-8\r\n"
                           "Content-Transfer-Encoding: 8bit\r\n\r\n";
static const char body[] = "Hello Bob,\r\n\r\nthe figures are attached: 42 \xe2\x82\xac.\r\n"
                           "From the start of a line.\r\n.\r\nend";

/* ---- fixture: one PKI for the whole suite ---- */

static void
path_of(char *out, size_t len, const char *d, const char *addr, const char *ext)
{
	snprintf(out, len, "%s/%s%s", d, addr, ext);
}

static void
pki_setup(void)
{
	const char *ee_ku = "critical,digitalSignature,keyEncipherment";
	char p[512];

	testdir_make(dir, sizeof(dir), "check_smime");
	snprintf(certdir, sizeof(certdir), "%s/certs", dir);
	snprintf(keydir, sizeof(keydir), "%s/keys", dir);
	ck_assert_int_eq(mkdir(certdir, 0755), 0);
	ck_assert_int_eq(mkdir(keydir, 0700), 0);

	ca = testpki_issue("rsa", "Test CA", NULL, NULL, -1, 365, NULL, NULL);
	alice = testpki_issue("rsa", "Alice", "alice@example.com", &ca, -1, 365, ee_ku,
	    "emailProtection");
	bob = testpki_issue("rsa", "Bob", "bob@partner.example", &ca, -1, 365, ee_ku,
	    "emailProtection");
	carol = testpki_issue("rsa", "Carol", "carol@partner.example", &ca, -1, 365, ee_ku, NULL);
	dave = testpki_issue("rsa", "Dave", "dave@partner.example", &ca, -1, 365, ee_ku,
	    "emailProtection");
	expired = testpki_issue("rsa", "Old", "old@partner.example", &ca, -30, -1, ee_ku, NULL);
	future = testpki_issue("rsa", "New", "new@partner.example", &ca, 5, 30, ee_ku, NULL);
	webonly =
	    testpki_issue("rsa", "Web", "web@partner.example", &ca, -1, 30, ee_ku, "serverAuth");
	signonly = testpki_issue("rsa", "Sig", "sig@partner.example", &ca, -1, 30,
	    "critical,digitalSignature", NULL);

	{
		X509 *const bobc[] = {bob.cert, NULL}, *const carolc[] = {carol.cert, NULL};
		X509 *const oldc[] = {expired.cert, NULL}, *const newc[] = {future.cert, NULL};
		X509 *const webc[] = {webonly.cert, NULL}, *const sigc[] = {signonly.cert, NULL};
		X509 *const alicec[] = {alice.cert, ca.cert, NULL};
		path_of(p, sizeof(p), certdir, "bob@partner.example", ".crt");
		testpki_write(p, 0644, NULL, bobc, 0);
		path_of(p, sizeof(p), certdir, "carol@partner.example", ".crt");
		testpki_write(p, 0644, NULL, carolc, 1); /* DER */
		path_of(p, sizeof(p), certdir, "old@partner.example", ".crt");
		testpki_write(p, 0644, NULL, oldc, 0);
		path_of(p, sizeof(p), certdir, "new@partner.example", ".crt");
		testpki_write(p, 0644, NULL, newc, 0);
		path_of(p, sizeof(p), certdir, "web@partner.example", ".crt");
		testpki_write(p, 0644, NULL, webc, 0);
		path_of(p, sizeof(p), certdir, "sig@partner.example", ".crt");
		testpki_write(p, 0644, NULL, sigc, 0);
		path_of(p, sizeof(p), certdir, "junk@partner.example", ".crt");
		FILE *f = fopen(p, "w");
		fputs("not a certificate\n", f);
		fclose(f);
		/* alice: key + cert + chain in one file */
		path_of(p, sizeof(p), keydir, "alice@example.com", ".pem");
		testpki_write(p, 0600, alice.key, alicec, 0);
		/* bob: key in .pem, certificate beside it in .crt (the original tool's layout) */
		path_of(p, sizeof(p), keydir, "bob@partner.example", ".pem");
		testpki_write(p, 0600, bob.key, NULL, 0);
		path_of(p, sizeof(p), keydir, "bob@partner.example", ".crt");
		testpki_write(p, 0644, NULL, bobc, 0);
		/* carol: key readable by others */
		path_of(p, sizeof(p), keydir, "carol@partner.example", ".pem");
		testpki_write(p, 0644, carol.key, carolc, 0);
	}
}

static void
pki_teardown(void)
{
	struct testpki_id *ids[] = {&ca, &alice, &bob, &carol, &dave, &expired, &future, &webonly,
	    &signonly};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		testpki_free(ids[i]);
	testdir_remove(dir);
}

/* ---- helpers ---- */

struct outbuf {
	unsigned char *p;
	size_t len, cap;
	size_t calls, max_chunk;
	int fail;
};

static int
collect(void *arg, const void *data, size_t len)
{
	struct outbuf *o = arg;

	if (o->fail)
		return -1;
	if (o->len + len > o->cap) {
		o->cap = (o->len + len) * 2;
		o->p = realloc(o->p, o->cap);
		ck_assert_ptr_nonnull(o->p);
	}
	memcpy(o->p + o->len, data, len);
	o->len += len;
	o->calls++;
	if (len > o->max_chunk)
		o->max_chunk = len;
	return 0;
}

static spool *
make_body(const void *data, size_t len, size_t limit)
{
	spool *sp = spool_new(limit, dir);
	char err[256];

	ck_assert_ptr_nonnull(sp);
	ck_assert_int_eq(spool_write(sp, data, len, err, sizeof(err)), 0);
	return sp;
}

static STACK_OF(X509) *
recipients(X509 *a, X509 *b)
{
	STACK_OF(X509) *sk = sk_X509_new_null();

	sk_X509_push(sk, X509_dup(a));
	if (b != NULL)
		sk_X509_push(sk, X509_dup(b));
	return sk;
}

static struct keystore_identity
signer_alice(void)
{
	struct keystore_identity id = {alice.key, alice.cert, sk_X509_new_null()};
	sk_X509_push(id.chain, ca.cert);
	return id;
}

/* Every line of a base64 body: at most 76 characters, CRLF-terminated. */
static void
assert_b64_lines(const struct outbuf *o)
{
	size_t i, col = 0;

	ck_assert_uint_gt(o->len, 0);
	ck_assert_int_eq(o->p[o->len - 1], '\n');
	for (i = 0; i < o->len; i++) {
		if (o->p[i] == '\r') {
			ck_assert_int_eq(o->p[i + 1], '\n');
			ck_assert_uint_le(col, 76);
			col = 0;
			i++;
			continue;
		}
		ck_assert_msg(o->p[i] != '\n', "bare LF at %zu", i);
		col++;
	}
}

static CMS_ContentInfo *
parse_b64_cms(const unsigned char *p, size_t len)
{
	BIO *mem = BIO_new_mem_buf(p, (int)len), *b64 = BIO_new(BIO_f_base64());
	CMS_ContentInfo *cms;

	BIO_push(b64, mem);
	cms = d2i_CMS_bio(b64, NULL);
	BIO_free_all(b64);
	ck_assert_msg(cms != NULL, "output is not base64 CMS");
	return cms;
}

/* Decrypt with id; returns malloc'd plaintext or NULL when id cannot. */
static char *
decrypt_with(const struct outbuf *o, const struct testpki_id *id, size_t *len)
{
	CMS_ContentInfo *cms = parse_b64_cms(o->p, o->len);
	BIO *out = BIO_new(BIO_s_mem());
	char *res = NULL, *data;
	long n;

	if (CMS_decrypt(cms, id->key, id->cert, NULL, out, CMS_BINARY) == 1) {
		n = BIO_get_mem_data(out, &data);
		res = malloc((size_t)n + 1);
		memcpy(res, data, (size_t)n);
		res[n] = '\0';
		*len = (size_t)n;
	}
	ERR_clear_error();
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	return res;
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

/*
 * Check a multipart/signed body (boundary given) signed by alice: the
 * signed part equals expect exactly and the signature verifies to the CA.
 */
static void
verify_multipart(const char *mp, size_t mplen, const char *boundary, const char *expect,
    size_t expectlen, const char *micalg_sn)
{
	char delim[128], *start, *end, *sigstart, *sigend;
	X509_STORE *store = X509_STORE_new();
	CMS_ContentInfo *sig;
	BIO *content;
	STACK_OF(X509) *signers;

	snprintf(delim, sizeof(delim), "--%s\r\n", boundary);
	start = memfind(mp, mplen, delim);
	ck_assert_ptr_nonnull(start);
	start += strlen(delim);
	snprintf(delim, sizeof(delim), "\r\n--%s\r\n", boundary);
	end = memfind(start, mplen - (size_t)(start - mp), delim);
	ck_assert_ptr_nonnull(end);
	ck_assert_uint_eq((size_t)(end - start), expectlen);
	ck_assert_msg(memcmp(start, expect, expectlen) == 0, "signed content differs");

	sigstart = memfind(end, mplen - (size_t)(end - mp), "\r\n\r\n");
	ck_assert_ptr_nonnull(sigstart);
	sigstart += 4;
	snprintf(delim, sizeof(delim), "--%s--\r\n", boundary);
	sigend = memfind(sigstart, mplen - (size_t)(sigstart - mp), delim);
	ck_assert_ptr_nonnull(sigend);
	ck_assert_msg(sigend + strlen(delim) == mp + mplen, "bytes after the closing boundary");
	sig = parse_b64_cms((unsigned char *)sigstart, (size_t)(sigend - sigstart));

	X509_STORE_add_cert(store, ca.cert);
	content = BIO_new_mem_buf(start, (int)(end - start));
	ck_assert_msg(CMS_verify(sig, NULL, store, content, NULL, CMS_BINARY) == 1,
	    "signature does not verify: %s", ERR_reason_error_string(ERR_get_error()));
	signers = CMS_get0_signers(sig);
	ck_assert_int_eq(sk_X509_num(signers), 1);
	ck_assert_int_eq(X509_cmp(sk_X509_value(signers, 0), alice.cert), 0);
	sk_X509_free(signers);
	{
		CMS_SignerInfo *si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(sig), 0);
		X509_ALGOR *dig;
		const ASN1_OBJECT *obj;
		CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, NULL);
		X509_ALGOR_get0(&obj, NULL, NULL, dig);
		ck_assert_str_eq(OBJ_nid2sn(OBJ_obj2nid(obj)), micalg_sn);
		/* signingTime and SMIMECapabilities are present */
		ck_assert_int_ge(CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1), 0);
		ck_assert_int_ge(CMS_signed_get_attr_by_NID(si, NID_SMIMECapabilities, -1), 0);
		/* the CA (chain) is included */
		STACK_OF(X509) *certs = CMS_get1_certs(sig);
		ck_assert_int_eq(sk_X509_num(certs), 2);
		sk_X509_pop_free(certs, X509_free);
	}
	BIO_free(content);
	X509_STORE_free(store);
	CMS_ContentInfo_free(sig);
}

static char *
expected_inner(size_t *len)
{
	size_t hl = strlen(head), bl = strlen(body);
	char *e = malloc(hl + bl + 1);

	memcpy(e, head, hl);
	memcpy(e + hl, body, bl + 1);
	*len = hl + bl;
	return e;
}

/* ---- smime_protect ---- */

START_TEST(test_sign_encrypt_two_recipients)
{
	struct smime_options opt = {.sign = 1, .encrypt = 1, .boundary = "b0undary"};
	struct keystore_identity signer = signer_alice();
	STACK_OF(X509) *rc = recipients(bob.cert, carol.cert);
	struct outbuf o = {0};
	struct smime_request req;
	spool *sp = make_body(body, strlen(body), SPOOL_DEFAULT_MEMORY);
	char err[256], *plain, *inner;
	const char *who[] = {"bob", "carol"};
	const struct testpki_id *ids[] = {&bob, &carol};
	size_t plen, ilen;
	const char *ctype = "Content-Type: multipart/signed;\r\n"
	                    " protocol=\"application/pkcs7-signature\";\r\n"
	                    " micalg=sha-256; boundary=\"b0undary\"\r\n\r\n";

	req = (struct smime_request){.opt = opt,
	    .signer = &signer,
	    .recipients = rc,
	    .head = head,
	    .headlen = strlen(head),
	    .body = sp,
	    .out = collect,
	    .out_arg = &o};
	ck_assert_int_eq(smime_protect(&req, err, sizeof(err)), 0);
	ck_assert_str_eq(req.result.content_type,
	    "application/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\"");
	ck_assert_str_eq(req.result.transfer_encoding, "base64");
	ck_assert_str_eq(req.result.disposition, "attachment; filename=\"smime.p7m\"");
	ck_assert_uint_eq(req.result.bytes, o.len);
	assert_b64_lines(&o);
	inner = expected_inner(&ilen);
	for (int i = 0; i < 2; i++) {
		plain = decrypt_with(&o, ids[i], &plen);
		ck_assert_msg(plain != NULL, "%s cannot decrypt", who[i]);
		ck_assert_msg(strncmp(plain, ctype, strlen(ctype)) == 0, "inner header: %.120s",
		    plain);
		verify_multipart(plain, plen, "b0undary", inner, ilen, "SHA256");
		free(plain);
	}
	plain = decrypt_with(&o, &dave, &plen);
	ck_assert_msg(plain == NULL, "dave is no recipient but could decrypt");
	{
		CMS_ContentInfo *cms = parse_b64_cms(o.p, o.len);
		ck_assert_int_eq(OBJ_obj2nid(CMS_get0_type(cms)), NID_pkcs7_enveloped);
		ck_assert_int_eq(sk_CMS_RecipientInfo_num(CMS_get0_RecipientInfos(cms)), 2);
		CMS_ContentInfo_free(cms);
	}
	free(inner);
	free(o.p);
	spool_free(sp);
	sk_X509_free(signer.chain);
	sk_X509_pop_free(rc, X509_free);
}
END_TEST

START_TEST(test_encrypt_only)
{
	struct smime_options opt = {.encrypt = 1};
	STACK_OF(X509) *rc = recipients(bob.cert, NULL);
	struct outbuf o = {0};
	struct smime_request req;
	spool *sp = make_body(body, strlen(body), SPOOL_DEFAULT_MEMORY);
	char err[256], *plain, *inner;
	size_t plen, ilen;

	req = (struct smime_request){.opt = opt,
	    .signer = NULL,
	    .recipients = rc,
	    .head = head,
	    .headlen = strlen(head),
	    .body = sp,
	    .out = collect,
	    .out_arg = &o};
	ck_assert_int_eq(smime_protect(&req, err, sizeof(err)), 0);
	plain = decrypt_with(&o, &bob, &plen);
	inner = expected_inner(&ilen);
	ck_assert_ptr_nonnull(plain);
	ck_assert_uint_eq(plen, ilen);
	ck_assert_int_eq(memcmp(plain, inner, ilen), 0);
	free(plain);
	free(inner);
	free(o.p);
	spool_free(sp);
	sk_X509_pop_free(rc, X509_free);
}
END_TEST

START_TEST(test_sign_only)
{
	struct smime_options opt = {.sign = 1, .digest = EVP_sha512()};
	struct keystore_identity signer = signer_alice();
	struct outbuf o = {0};
	struct smime_request req;
	spool *sp = make_body(body, strlen(body), SPOOL_DEFAULT_MEMORY);
	char err[256], *inner, boundary[80], *b;
	size_t ilen;

	req = (struct smime_request){.opt = opt,
	    .signer = &signer,
	    .recipients = NULL,
	    .head = head,
	    .headlen = strlen(head),
	    .body = sp,
	    .out = collect,
	    .out_arg = &o};
	ck_assert_int_eq(smime_protect(&req, err, sizeof(err)), 0);
	ck_assert_msg(strstr(req.result.content_type,
	                  "multipart/signed;\r\n protocol=\"application/"
	                  "pkcs7-signature\";\r\n micalg=sha-512;") == req.result.content_type,
	    "%s", req.result.content_type);
	ck_assert_str_eq(req.result.transfer_encoding, "");
	b = strstr(req.result.content_type, "boundary=\"");
	ck_assert_ptr_nonnull(b);
	snprintf(boundary, sizeof(boundary), "%s", b + 10);
	boundary[strlen(boundary) - 1] = '\0';
	ck_assert_uint_ge(strlen(boundary), 30); /* random */
	inner = expected_inner(&ilen);
	verify_multipart((char *)o.p, o.len, boundary, inner, ilen, "SHA512");
	free(inner);
	free(o.p);
	spool_free(sp);
	sk_X509_free(signer.chain);
}
END_TEST

START_TEST(test_large_spilled_body)
{
	struct smime_options opt = {.sign = 1, .encrypt = 1, .boundary = "big"};
	struct keystore_identity signer = signer_alice();
	STACK_OF(X509) *rc = recipients(bob.cert, NULL);
	struct outbuf o = {0};
	struct smime_request req;
	size_t blen = 3 * 1024 * 1024 + 17, i, plen, hl = strlen(head);
	char *big = malloc(blen), *expect = malloc(hl + blen), err[256], *plain;
	spool *sp;

	for (i = 0; i < blen; i++)
		big[i] = (i % 78 == 76) ? '\r' : (i % 78 == 77) ? '\n' : (char)('A' + i % 26);
	sp = make_body(big, blen, 65536);
	ck_assert(spool_on_disk(sp));
	memcpy(expect, head, hl);
	memcpy(expect + hl, big, blen);
	req = (struct smime_request){.opt = opt,
	    .signer = &signer,
	    .recipients = rc,
	    .head = head,
	    .headlen = hl,
	    .body = sp,
	    .out = collect,
	    .out_arg = &o};
	ck_assert_int_eq(smime_protect(&req, err, sizeof(err)), 0);
	ck_assert_uint_le(o.max_chunk, 65536); /* bounded hand-over to the MTA */
	ck_assert_uint_gt(o.calls, 50);
	plain = decrypt_with(&o, &bob, &plen);
	ck_assert_ptr_nonnull(plain);
	verify_multipart(plain, plen, "big", expect, hl + blen, "SHA256");
	free(plain);
	free(big);
	free(expect);
	free(o.p);
	spool_free(sp);
	sk_X509_free(signer.chain);
	sk_X509_pop_free(rc, X509_free);
}
END_TEST

START_TEST(test_gcm_auth_enveloped)
{
	struct smime_options opt = {.sign = 1,
	    .encrypt = 1,
	    .cipher = EVP_aes_128_gcm(),
	    .boundary = "g"};
	struct keystore_identity signer = signer_alice();
	STACK_OF(X509) *rc = recipients(bob.cert, NULL);
	struct outbuf o = {0};
	struct smime_request req;
	spool *sp = make_body(body, strlen(body), SPOOL_DEFAULT_MEMORY);
	char err[256], *plain, *inner;
	size_t plen, ilen;

	req = (struct smime_request){.opt = opt,
	    .signer = &signer,
	    .recipients = rc,
	    .head = head,
	    .headlen = strlen(head),
	    .body = sp,
	    .out = collect,
	    .out_arg = &o};
	ck_assert_int_eq(smime_protect(&req, err, sizeof(err)), 0);
	ck_assert_str_eq(req.result.content_type,
	    "application/pkcs7-mime; smime-type=authEnveloped-data; name=\"smime.p7m\"");
	plain = decrypt_with(&o, &bob, &plen);
	ck_assert_ptr_nonnull(plain);
	inner = expected_inner(&ilen);
	verify_multipart(plain, plen, "g", inner, ilen, "SHA256");
	free(plain);
	free(inner);
	free(o.p);
	spool_free(sp);
	sk_X509_free(signer.chain);
	sk_X509_pop_free(rc, X509_free);
}
END_TEST

START_TEST(test_empty_body)
{
	struct smime_options opt = {.sign = 1, .encrypt = 1, .boundary = "e"};
	struct keystore_identity signer = signer_alice();
	STACK_OF(X509) *rc = recipients(bob.cert, NULL);
	struct outbuf o = {0};
	struct smime_request req;
	spool *sp = make_body("", 0, SPOOL_DEFAULT_MEMORY);
	char err[256], *plain;
	size_t plen;

	req = (struct smime_request){.opt = opt,
	    .signer = &signer,
	    .recipients = rc,
	    .head = "\r\n",
	    .headlen = 2,
	    .body = sp,
	    .out = collect,
	    .out_arg = &o};
	ck_assert_int_eq(smime_protect(&req, err, sizeof(err)), 0);
	plain = decrypt_with(&o, &bob, &plen);
	ck_assert_ptr_nonnull(plain);
	verify_multipart(plain, plen, "e", "\r\n", 2, "SHA256");
	free(plain);
	free(o.p);
	spool_free(sp);
	sk_X509_free(signer.chain);
	sk_X509_pop_free(rc, X509_free);
}
END_TEST

START_TEST(test_protect_errors)
{
	struct keystore_identity signer = signer_alice();
	STACK_OF(X509) *rc = recipients(bob.cert, NULL), *none = sk_X509_new_null();
	struct outbuf o = {0};
	spool *sp = make_body(body, strlen(body), SPOOL_DEFAULT_MEMORY);
	struct smime_request req = {.opt = {.sign = 1, .encrypt = 1},
	    .signer = NULL,
	    .recipients = rc,
	    .head = head,
	    .headlen = strlen(head),
	    .body = sp,
	    .out = collect,
	    .out_arg = &o};
	char err[256];

	ck_assert_int_eq(smime_protect(&req, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "signing requested without a signing identity");
	req.signer = &signer;
	req.recipients = none;
	ck_assert_int_eq(smime_protect(&req, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "encryption requested without recipient certificates");
	req.recipients = rc;
	req.opt.sign = req.opt.encrypt = 0;
	ck_assert_int_eq(smime_protect(&req, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "nothing to do: neither sign nor encrypt");
	req.opt.sign = req.opt.encrypt = 1;
	o.fail = 1; /* the MTA refuses the body */
	ck_assert_int_eq(smime_protect(&req, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "cannot hand the result to the MTA");
	spool_free(sp);
	sk_X509_free(signer.chain);
	sk_X509_pop_free(rc, X509_free);
	sk_X509_free(none);
}
END_TEST

/* ---- certstore ---- */

START_TEST(test_certstore_lookup)
{
	char reason[512];
	X509 *c = NULL;

	ck_assert_int_eq(certstore_lookup(certdir, "bob@partner.example", &c, reason,
	                     sizeof(reason)),
	    CERTSTORE_FOUND);
	ck_assert_int_eq(X509_cmp(c, bob.cert), 0);
	X509_free(c);
	/* DER file */
	ck_assert_int_eq(certstore_lookup(certdir, "carol@partner.example", &c, reason,
	                     sizeof(reason)),
	    CERTSTORE_FOUND);
	ck_assert_int_eq(X509_cmp(c, carol.cert), 0);
	X509_free(c);
	ck_assert_int_eq(certstore_lookup(certdir, "nobody@partner.example", &c, reason,
	                     sizeof(reason)),
	    CERTSTORE_MISSING);
	ck_assert_str_eq(reason, "no certificate for nobody@partner.example");
	ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_certstore_unusable)
{
	static const struct {
		const char *addr, *reason;
	} cases[] = {
	    {"old@partner.example", "certificate for old@partner.example has expired"},
	    {"new@partner.example", "certificate for new@partner.example is not valid yet"},
	    {"web@partner.example",
	        "certificate for web@partner.example does not allow emailProtection"},
	    {"sig@partner.example",
	        "certificate for sig@partner.example does not allow keyEncipherment"},
	};
	char reason[512];
	X509 *c = NULL;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(certstore_lookup(certdir, cases[i].addr, &c, reason,
		                     sizeof(reason)),
		    CERTSTORE_UNUSABLE);
		ck_assert_str_eq(reason, cases[i].reason);
		ck_assert_ptr_null(c);
	}
	ck_assert_int_eq(certstore_lookup(certdir, "junk@partner.example", &c, reason,
	                     sizeof(reason)),
	    CERTSTORE_UNUSABLE);
	ck_assert_msg(strstr(reason, "junk@partner.example.crt holds no PEM or DER certificate"),
	    "%s", reason);
	ck_assert_int_eq(certstore_lookup(certdir, "../keys/alice@example.com", &c, reason,
	                     sizeof(reason)),
	    CERTSTORE_ERROR);
	ck_assert_str_eq(reason,
	    "address ../keys/alice@example.com cannot name a certificate file");
}
END_TEST

/* ---- keystore ---- */

/* keystore_load of addr's identity in key_dir (passfile: key-passphrase-file, or NULL). */
static enum keystore_result
load_addr(const char *key_dir, const char *addr, const char *passfile, struct keystore_identity *id,
    char *err, size_t errlen)
{
	struct keystore_request kq = {.dir = key_dir, .addr = addr, .passphrase_file = passfile};

	return keystore_load(&kq, id, err, errlen);
}

/* A pkcs11: URI for logs and messages: every attribute kept but pin-value, path and query. */
START_TEST(test_pkcs11_display_uri)
{
	char out[256];

	ck_assert_int_eq(
	    keystore_pkcs11_display_uri(
	        "pkcs11:token=smime;pin-value=1234;object=alice?pin-value=99&x-cert-file=/c.pem",
	        out, sizeof(out)),
	    0);
	ck_assert_str_eq(out, "pkcs11:token=smime;object=alice?x-cert-file=/c.pem");
	ck_assert_int_eq(keystore_pkcs11_display_uri("pkcs11:object=a;;pin-value=7", out,
	                     sizeof(out)),
	    0);
	ck_assert_str_eq(out, "pkcs11:object=a");
	ck_assert_int_eq(keystore_pkcs11_display_uri("pkcs11:object=a?pin-value=7", out,
	                     sizeof(out)),
	    0);
	ck_assert_str_eq(out, "pkcs11:object=a");
	ck_assert_int_eq(keystore_pkcs11_display_uri("pkcs11:object=averylongname;id=%01%02", out,
	                     16),
	    -1);
	ck_assert_ptr_null(strstr(out, "pin"));
	ck_assert_int_eq(keystore_pkcs11_display_uri("/etc/key.pem", out, sizeof(out)), -1);
}
END_TEST

START_TEST(test_keystore_load)
{
	struct keystore_identity id;
	char err[512];

	ck_assert_int_eq(load_addr(keydir, "alice@example.com", NULL, &id, err, sizeof(err)),
	    KEYSTORE_FOUND);
	ck_assert_int_eq(X509_cmp(id.cert, alice.cert), 0);
	ck_assert_int_eq(EVP_PKEY_eq(id.key, alice.key), 1);
	ck_assert_int_eq(sk_X509_num(id.chain), 1);
	ck_assert_int_eq(X509_cmp(sk_X509_value(id.chain, 0), ca.cert), 0);
	keystore_identity_free(&id);
	/* key in .pem, certificate in .crt beside it */
	ck_assert_int_eq(load_addr(keydir, "bob@partner.example", NULL, &id, err, sizeof(err)),
	    KEYSTORE_FOUND);
	ck_assert_int_eq(X509_cmp(id.cert, bob.cert), 0);
	ck_assert_int_eq(sk_X509_num(id.chain), 0);
	keystore_identity_free(&id);
}
END_TEST

START_TEST(test_keystore_refusals)
{
	struct keystore_identity id;
	char err[512], expect[700], p[512];
	FILE *f;

	ck_assert_int_eq(load_addr(keydir, "carol@partner.example", NULL, &id, err, sizeof(err)),
	    KEYSTORE_ERROR);
	snprintf(expect, sizeof(expect),
	    "key file %s/carol@partner.example.pem: readable by group or others (mode 0644): "
	    "chmod 600 it",
	    keydir);
	ck_assert_str_eq(err, expect);
	ck_assert_ptr_null(id.key);

	ck_assert_int_eq(load_addr(keydir, "nobody@example.com", NULL, &id, err, sizeof(err)),
	    KEYSTORE_MISSING);
	snprintf(expect, sizeof(expect), "%s/nobody@example.com.pem not found", keydir);
	ck_assert_str_eq(err, expect);

	/* an encrypted key fails cleanly, without prompting */
	path_of(p, sizeof(p), keydir, "enc@example.com", ".pem");
	{
		BIO *b = BIO_new_file(p, "wb");
		PEM_write_bio_PrivateKey(b, dave.key, EVP_aes_256_cbc(), NULL, 0, NULL, "secret");
		PEM_write_bio_X509(b, dave.cert);
		BIO_free(b);
		chmod(p, 0600);
	}
	ck_assert_int_eq(load_addr(keydir, "enc@example.com", NULL, &id, err, sizeof(err)),
	    KEYSTORE_ERROR);
	ck_assert_msg(strstr(err, "holds no readable (unencrypted PEM) private key") != NULL, "%s",
	    err);

	/* a key without any matching certificate */
	path_of(p, sizeof(p), keydir, "lone@example.com", ".pem");
	f = fopen(p, "w");
	fclose(f);
	chmod(p, 0600);
	{
		X509 *const other[] = {bob.cert, NULL};
		testpki_write(p, 0600, dave.key, other, 0);
	}
	ck_assert_int_eq(load_addr(keydir, "lone@example.com", NULL, &id, err, sizeof(err)),
	    KEYSTORE_MISMATCH);
	ck_assert_msg(strstr(err, "no certificate matching the private key") != NULL, "%s", err);
}
END_TEST

/* Encrypted PEM keys open with key-passphrase-file, and only with the right one. */
START_TEST(test_keystore_passphrase_file)
{
	struct keystore_identity id;
	struct keystore_request kq = {0};
	const char *passfile;
	char err[512], key[512], pass[512], bad[512], expect[1400];
	FILE *f;

	path_of(key, sizeof(key), keydir, "pp@example.com", ".pem");
	{
		BIO *b = BIO_new_file(key, "wb");
		PEM_write_bio_PrivateKey(b, alice.key, EVP_aes_256_cbc(), NULL, 0, NULL,
		    "s3cret pass");
		PEM_write_bio_X509(b, alice.cert);
		BIO_free(b);
		chmod(key, 0600);
	}
	snprintf(pass, sizeof(pass), "%s/pass", dir);
	f = fopen(pass, "w");
	fputs("s3cret pass\n", f);
	fclose(f);
	chmod(pass, 0600);
	snprintf(bad, sizeof(bad), "%s/badpass", dir);
	f = fopen(bad, "w");
	fputs("wrong\n", f);
	fclose(f);
	chmod(bad, 0600);

	passfile = pass;
	ck_assert_int_eq(load_addr(keydir, "pp@example.com", passfile, &id, err, sizeof(err)),
	    KEYSTORE_FOUND);
	ck_assert_int_eq(EVP_PKEY_eq(id.key, alice.key), 1);
	keystore_identity_free(&id);
	kq.spec = key;
	kq.passphrase_file = passfile;
	ck_assert_int_eq(keystore_load(&kq, &id, err, sizeof(err)), KEYSTORE_FOUND);
	keystore_identity_free(&id);

	passfile = bad;
	path_of(key, sizeof(key), keydir, "pp2@example.com", ".pem");
	{
		BIO *b = BIO_new_file(key, "wb");
		PEM_write_bio_PrivateKey(b, alice.key, EVP_aes_256_cbc(), NULL, 0, NULL,
		    "s3cret pass");
		PEM_write_bio_X509(b, alice.cert);
		BIO_free(b);
		chmod(key, 0600);
	}
	ck_assert_int_eq(load_addr(keydir, "pp2@example.com", passfile, &id, err, sizeof(err)),
	    KEYSTORE_ERROR);
	ck_assert_msg(strstr(err, "holds no PEM private key that opens with the passphrase in") !=
	        NULL,
	    "%s", err);
	/* a passphrase file others can read is not used, and the message names it */
	chmod(pass, 0644);
	passfile = pass;
	ck_assert_int_eq(load_addr(keydir, "pp2@example.com", passfile, &id, err, sizeof(err)),
	    KEYSTORE_ERROR);
	snprintf(expect, sizeof(expect),
	    "%s is encrypted and its passphrase cannot be read: "
	    "key-passphrase-file %s: readable by group or others (mode 0644): chmod 600 it",
	    key, pass);
	ck_assert_str_eq(err, expect);
	/* nor an empty one */
	f = fopen(pass, "w");
	fclose(f);
	chmod(pass, 0600);
	ck_assert_int_eq(load_addr(keydir, "pp2@example.com", passfile, &id, err, sizeof(err)),
	    KEYSTORE_ERROR);
	snprintf(expect, sizeof(expect),
	    "%s is encrypted and its passphrase cannot be read: "
	    "key-passphrase-file %s: empty first line",
	    key, pass);
	ck_assert_str_eq(err, expect);
}
END_TEST

/* The parsed-file cache never serves a changed or newly unsafe file. */
START_TEST(test_cache_revalidates)
{
	struct keystore_identity id;
	char err[512], p[512], reason[512];
	X509 *c = NULL;
	struct testpki_id bob2;

	path_of(p, sizeof(p), keydir, "alice@example.com", ".pem");
	ck_assert_int_eq(load_addr(keydir, "alice@example.com", NULL, &id, err, sizeof(err)),
	    KEYSTORE_FOUND); /* now cached */
	keystore_identity_free(&id);
	ck_assert_int_eq(chmod(p, 0640), 0);
	ck_assert_int_eq(load_addr(keydir, "alice@example.com", NULL, &id, err, sizeof(err)),
	    KEYSTORE_ERROR);
	ck_assert_msg(strstr(err, "readable by group or others") != NULL, "%s", err);
	ck_assert_int_eq(chmod(p, 0600), 0);
	ck_assert_int_eq(load_addr(keydir, "alice@example.com", NULL, &id, err, sizeof(err)),
	    KEYSTORE_FOUND);
	keystore_identity_free(&id);

	/* a replaced certificate file is read again */
	ck_assert_int_eq(certstore_lookup(certdir, "bob@partner.example", &c, reason,
	                     sizeof(reason)),
	    CERTSTORE_FOUND);
	X509_free(c);
	bob2 = testpki_issue("rsa", "Bob 2", "bob@partner.example", &ca, -1, 30, "keyEncipherment",
	    NULL);
	{
		X509 *const one[] = {bob2.cert, NULL};
		char tmp[600];
		path_of(p, sizeof(p), certdir, "bob@partner.example", ".crt");
		snprintf(tmp, sizeof(tmp), "%s.new", p);
		testpki_write(tmp, 0644, NULL, one, 0);
		ck_assert_int_eq(rename(tmp, p), 0);
	}
	ck_assert_int_eq(certstore_lookup(certdir, "bob@partner.example", &c, reason,
	                     sizeof(reason)),
	    CERTSTORE_FOUND);
	ck_assert_int_eq(X509_cmp(c, bob2.cert), 0);
	X509_free(c);
	testpki_free(&bob2);
}
END_TEST

static Suite *
smime_suite(void)
{
	Suite *s = suite_create("smime");
	TCase *tc = tcase_create("protect");

	tcase_add_unchecked_fixture(tc, pki_setup, pki_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_sign_encrypt_two_recipients);
	tcase_add_test(tc, test_encrypt_only);
	tcase_add_test(tc, test_sign_only);
	tcase_add_test(tc, test_large_spilled_body);
	tcase_add_test(tc, test_gcm_auth_enveloped);
	tcase_add_test(tc, test_empty_body);
	tcase_add_test(tc, test_protect_errors);
	tcase_add_test(tc, test_certstore_lookup);
	tcase_add_test(tc, test_certstore_unusable);
	tcase_add_test(tc, test_pkcs11_display_uri);
	tcase_add_test(tc, test_keystore_load);
	tcase_add_test(tc, test_keystore_refusals);
	tcase_add_test(tc, test_keystore_passphrase_file);
	tcase_add_test(tc, test_cache_revalidates);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(smime_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
