/*
 * check_stores.c - unit tests of the certificate index (certindex) and of
 * harvesting (harvest) over certificates, CRLs and signed messages made at
 * test time: every validation failure (expired, not yet valid, wrong EKU,
 * wrong keyUsage, address mismatch, untrusted chain, revoked), lookup by
 * file name and by subjectAltName, latest notBefore, refresh, incremental
 * rescans (a file added, rewritten in place, removed), storing, and
 * which signed messages yield a certificate; and the checks a signing
 * certificate must pass before it signs.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/pem.h>
#include <openssl/err.h>

#include "certindex.h"
#include "harvest.h"
#include "mime.h"
#include "spool.h"
#include "testdir.h"
#include "testpki.h"

static const char *KU = "critical,digitalSignature,keyEncipherment";
static struct testpki_id ca, otherca, alice, bob, bobold, carol, expired, future, web, sigonly,
    mismatch, revoked, stranger, oldalice;
static char dir[256], certdir[300], cafile[300], crlfile[300], harvdir[300];

static void
put(const char *d, const char *name, X509 *const *certs, int der)
{
	char p[600];

	snprintf(p, sizeof(p), "%s/%s", d, name);
	testpki_write(p, 0644, NULL, certs, der);
}

/* A CRL from ca revoking one certificate. */
static void
write_crl(const char *path, const struct testpki_id *issuer, X509 *victim)
{
	X509_CRL *crl = testpki_crl(issuer, victim);
	BIO *b = BIO_new_file(path, "w");

	ck_assert_ptr_nonnull(b);
	PEM_write_bio_X509_CRL(b, crl);
	BIO_free(b);
	X509_CRL_free(crl);
}

static void
pki_setup(void)
{
	testdir_make(dir, sizeof(dir), "check_stores");
	snprintf(certdir, sizeof(certdir), "%s/certs", dir);
	snprintf(harvdir, sizeof(harvdir), "%s/harvest", dir);
	snprintf(cafile, sizeof(cafile), "%s/ca.pem", dir);
	snprintf(crlfile, sizeof(crlfile), "%s/crl.pem", dir);
	mkdir(certdir, 0755);
	mkdir(harvdir, 0755);

	ca = testpki_issue("rsa", "Stores CA", NULL, NULL, -1, 365, NULL, NULL);
	otherca = testpki_issue("rsa", "Other CA", NULL, NULL, -1, 365, NULL, NULL);
	alice =
	    testpki_issue("rsa", "Alice", "alice@example.com", &ca, -1, 365, KU, "emailProtection");
	oldalice = testpki_issue("rsa", "Alice old", "alice@example.com", &ca, -30, -2, KU, NULL);
	bob =
	    testpki_issue("rsa", "Bob", "bob@partner.example", &ca, -1, 365, KU, "emailProtection");
	bobold = testpki_issue("rsa", "Bob older", "bob@partner.example", &ca, -5, 365, KU, NULL);
	carol = testpki_issue("ec", "Carol", "carol@partner.example", &ca, -1, 365,
	    "critical,digitalSignature,keyAgreement", NULL);
	expired = testpki_issue("rsa", "Exp", "exp@partner.example", &ca, -30, -1, KU, NULL);
	future = testpki_issue("rsa", "Fut", "fut@partner.example", &ca, 3, 30, KU, NULL);
	web = testpki_issue("rsa", "Web", "web@partner.example", &ca, -1, 30, KU, "serverAuth");
	sigonly = testpki_issue("rsa", "Sig", "sig@partner.example", &ca, -1, 30,
	    "critical,digitalSignature", NULL);
	mismatch =
	    testpki_issue("rsa", "Mallory", "mallory@partner.example", &ca, -1, 30, KU, NULL);
	revoked = testpki_issue("rsa", "Rev", "rev@partner.example", &ca, -1, 30, KU, NULL);
	stranger = testpki_issue("rsa", "Str", "str@partner.example", &otherca, -1, 30, KU, NULL);
	{
		X509 *const c_bob[] = {bob.cert, NULL}, *const c_bobold[] = {bobold.cert, NULL};
		X509 *const c_carol[] = {carol.cert, ca.cert, NULL},
		            *const c_exp[] = {expired.cert, NULL};
		X509 *const c_fut[] = {future.cert, NULL}, *const c_web[] = {web.cert, NULL};
		X509 *const c_sig[] = {sigonly.cert, NULL}, *const c_mis[] = {mismatch.cert, NULL};
		X509 *const c_rev[] = {revoked.cert, NULL}, *const c_str[] = {stranger.cert, NULL};
		X509 *const c_ca[] = {ca.cert, NULL};
		put(certdir, "bob@partner.example.crt", c_bob, 0);
		put(certdir, "bob-2019.pem", c_bobold, 1);       /* DER, found by SAN */
		put(certdir, "carol-and-chain.pem", c_carol, 0); /* with its CA, by SAN */
		put(certdir, "exp@partner.example.crt", c_exp, 0);
		put(certdir, "fut@partner.example.crt", c_fut, 0);
		put(certdir, "web@partner.example.crt", c_web, 0);
		put(certdir, "sig@partner.example.crt", c_sig, 0);
		put(certdir, "eve@partner.example.crt", c_mis, 0); /* names mallory, filed as eve */
		put(certdir, "rev@partner.example.crt", c_rev, 0);
		put(certdir, "str@partner.example.crt", c_str, 0);
		put(dir, "ca.pem", c_ca, 0);
	}
	write_crl(crlfile, &ca, revoked.cert);
}

static void
pki_teardown(void)
{
	testdir_remove(dir);
}

static certindex *
open_index(const char *ca_file, const char *crl_file)
{
	const char *dirs[] = {certdir, harvdir, NULL};
	struct certindex_options o = {ca_file, crl_file};
	char err[512];
	certindex *ci = certindex_open(dirs, &o, err, sizeof(err));

	ck_assert_msg(ci != NULL, "certindex_open: %s", err);
	return ci;
}

static void
expect_found(certindex *ci, const char *addr, X509 *want)
{
	char reason[512];
	X509 *x = NULL;

	ck_assert_msg(certindex_find(ci, addr, &x, reason, sizeof(reason)) == CERTSTORE_FOUND,
	    "%s: %s", addr, reason);
	ck_assert_int_eq(X509_cmp(x, want), 0);
	X509_free(x);
}

static void
expect_unusable(certindex *ci, const char *addr, const char *reason_want)
{
	char reason[512];
	X509 *x = NULL;

	ck_assert_int_eq(certindex_find(ci, addr, &x, reason, sizeof(reason)), CERTSTORE_UNUSABLE);
	ck_assert_ptr_null(x);
	ck_assert_str_eq(reason, reason_want);
}

START_TEST(test_index_lookup)
{
	certindex *ci = open_index(NULL, NULL);
	char reason[512];
	X509 *x;

	expect_found(ci, "bob@partner.example", bob.cert); /* latest notBefore of two */
	expect_found(ci, "bob@PARTNER.example", bob.cert);
	expect_found(ci, "carol@partner.example", carol.cert); /* EC, by SAN, CA in file skipped */
	ck_assert_int_eq(certindex_find(ci, "nobody@partner.example", &x, reason, sizeof(reason)),
	    CERTSTORE_MISSING);
	ck_assert_str_eq(reason, "no certificate for nobody@partner.example");
	ck_assert_int_eq(certindex_find(ci, "../x@partner.example", &x, reason, sizeof(reason)),
	    CERTSTORE_ERROR);
	certindex_free(ci);
}
END_TEST

START_TEST(test_index_validation_failures)
{
	certindex *ci = open_index(NULL, NULL);

	expect_unusable(ci, "exp@partner.example",
	    "certificate for exp@partner.example has expired");
	expect_unusable(ci, "fut@partner.example",
	    "certificate for fut@partner.example is not valid yet");
	expect_unusable(ci, "web@partner.example",
	    "certificate for web@partner.example does not allow emailProtection");
	expect_unusable(ci, "sig@partner.example",
	    "certificate for sig@partner.example does not allow keyEncipherment");
	expect_unusable(ci, "eve@partner.example",
	    "certificate for eve@partner.example does not name that address");
	/* without a ca-file, any issuer and no revocation check */
	expect_found(ci, "str@partner.example", stranger.cert);
	expect_found(ci, "rev@partner.example", revoked.cert);
	certindex_free(ci);
}
END_TEST

START_TEST(test_index_chain_and_crl)
{
	certindex *ci = open_index(cafile, crlfile);

	expect_found(ci, "bob@partner.example", bob.cert);
	expect_found(ci, "carol@partner.example",
	    carol.cert); /* EC: keyAgreement, no keyEncipherment */
	expect_unusable(ci, "str@partner.example",
	    "certificate for str@partner.example is not trusted: unable to get local issuer "
	    "certificate");
	expect_unusable(ci, "rev@partner.example",
	    "certificate for rev@partner.example is not trusted: certificate revoked");
	/* a domain certificate: no address check, still the chain */
	{
		char reason[512];
		ck_assert_int_eq(certindex_validate(ci, mismatch.cert, NULL, NULL, reason,
		                     sizeof(reason)),
		    0);
		ck_assert_int_eq(certindex_validate(ci, stranger.cert, NULL, NULL, reason,
		                     sizeof(reason)),
		    -1);
	}
	certindex_free(ci);
}
END_TEST

/* reason of certindex_validate_signer, "" when it may sign */
static const char *
signer_reason(certindex *ci, X509 *cert, const char *addr)
{
	static char reason[512];

	reason[0] = '\0';
	if (certindex_validate_signer(ci, cert, NULL, addr, reason, sizeof(reason)) == 0)
		ck_assert_str_eq(reason, "");
	else
		ck_assert_str_ne(reason, "");
	return reason;
}

START_TEST(test_signer_validation)
{
	certindex *ci = open_index(cafile, crlfile);
	struct testpki_id enc_only = testpki_issue("rsa", "Enc", "enc@example.com", &ca, -1, 30,
	    "critical,keyEncipherment", NULL);
	struct testpki_id nonrep = testpki_issue("rsa", "NR", "nr@example.com", &ca, -1, 30,
	    "critical,nonRepudiation", NULL);
	char want[200], when[32];

	ck_assert_str_eq(signer_reason(ci, alice.cert, "alice@example.com"), "");
	ck_assert_str_eq(signer_reason(ci, alice.cert, "alice@EXAMPLE.COM"), "");
	certstore_time(X509_get0_notAfter(oldalice.cert), 0, when, sizeof(when));
	snprintf(want, sizeof(want), "signing certificate expired on %s", when);
	ck_assert_str_eq(signer_reason(ci, oldalice.cert, "alice@example.com"), want);
	certstore_time(X509_get0_notBefore(future.cert), 0, when, sizeof(when));
	snprintf(want, sizeof(want), "signing certificate not valid before %s", when);
	ck_assert_str_eq(signer_reason(ci, future.cert, "fut@partner.example"), want);
	ck_assert_str_eq(signer_reason(ci, web.cert, "web@partner.example"),
	    "signing certificate does not allow emailProtection");
	ck_assert_str_eq(signer_reason(ci, enc_only.cert, "enc@example.com"),
	    "signing certificate does not allow digitalSignature");
	ck_assert_str_eq(signer_reason(ci, nonrep.cert, "nr@example.com"), "");
	ck_assert_str_eq(signer_reason(ci, alice.cert, "bob@partner.example"),
	    "signing certificate does not name <bob@partner.example>");
	ck_assert_str_eq(signer_reason(ci, alice.cert, NULL), ""); /* signer-address-check no */
	ck_assert_str_eq(signer_reason(ci, stranger.cert, "str@partner.example"),
	    "signing certificate is not trusted: unable to get local issuer certificate");
	ck_assert_str_eq(signer_reason(ci, revoked.cert, "rev@partner.example"),
	    "signing certificate is not trusted: certificate revoked");
	/* without a ca-file (no index at all, as smime-tool without --ca-file): no chain check */
	ck_assert_str_eq(signer_reason(NULL, stranger.cert, "str@partner.example"), "");
	testpki_free(&enc_only);
	testpki_free(&nonrep);
	certindex_free(ci);
}
END_TEST

START_TEST(test_index_refresh_and_store)
{
	certindex *ci = open_index(NULL, NULL);
	char reason[512], err[512], path[600];
	X509 *x = NULL;

	ck_assert_int_eq(certindex_find(ci, "alice@example.com", &x, reason, sizeof(reason)),
	    CERTSTORE_MISSING);
	/* harvested: written, then found without reopening */
	ck_assert_int_eq(certindex_store(harvdir, "alice@example.com", oldalice.cert, NULL, err,
	                     sizeof(err)),
	    1);
	ck_assert_int_eq(certindex_store(harvdir, "alice@example.com", alice.cert, NULL, err,
	                     sizeof(err)),
	    1); /* newer replaces */
	ck_assert_int_eq(certindex_store(harvdir, "alice@example.com", oldalice.cert, NULL, err,
	                     sizeof(err)),
	    0); /* older does not */
	snprintf(path, sizeof(path), "%s/alice@example.com.crt", harvdir);
	x = certstore_load_file(path, err, sizeof(err));
	ck_assert_int_eq(X509_cmp(x, alice.cert), 0);
	X509_free(x);
	expect_found(ci, "alice@example.com", alice.cert);
	ck_assert_int_eq(certindex_store(harvdir, "../evil@example.com", alice.cert, NULL, err,
	                     sizeof(err)),
	    -1);
	certindex_free(ci);
}
END_TEST

/* Files added, rewritten in place and removed are seen at the next lookup. */
START_TEST(test_index_incremental)
{
	const char *dirs[] = {NULL, NULL};
	char d[400], p[600], reason[512], err[512];
	struct certindex_options o = {NULL, NULL};
	X509 *const one[] = {bob.cert, NULL}, *const other[] = {carol.cert, NULL};
	certindex *ci;
	X509 *x = NULL;

	snprintf(d, sizeof(d), "%s/incremental", dir);
	ck_assert_int_eq(mkdir(d, 0755), 0);
	dirs[0] = d;
	ci = certindex_open(dirs, &o, err, sizeof(err));
	ck_assert_msg(ci != NULL, "certindex_open: %s", err);
	ck_assert_int_eq(certindex_find(ci, "bob@partner.example", &x, reason, sizeof(reason)),
	    CERTSTORE_MISSING);
	put(d, "bob@partner.example.crt", one, 0);
	expect_found(ci, "bob@partner.example", bob.cert);
	/* the same file, another certificate: bob's name no longer fits it */
	snprintf(p, sizeof(p), "%s/bob@partner.example.crt", d);
	testpki_write(p, 0644, NULL, other, 0);
	expect_unusable(ci, "bob@partner.example",
	    "certificate for bob@partner.example does not name that address");
	expect_found(ci, "carol@partner.example", carol.cert);
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(certindex_find(ci, "carol@partner.example", &x, reason, sizeof(reason)),
	    CERTSTORE_MISSING);
	put(d, "bob@partner.example.der", one, 1);
	ck_assert_int_eq(certindex_rescan(ci, err, sizeof(err)), 0);
	expect_found(ci, "bob@partner.example", bob.cert);
	certindex_free(ci);
}
END_TEST

/* ---- harvesting ---- */

/* A signed message: headers + body, as the milter would have them. */
struct msg {
	struct mime_headers h;
	spool *body;
};

static void
msg_init(struct msg *m, const char *from, const char *ctype)
{
	mime_headers_init(&m->h);
	mime_headers_add(&m->h, "From", from);
	if (ctype != NULL)
		mime_headers_add(&m->h, "Content-Type", ctype);
	m->body = spool_new(SPOOL_DEFAULT_MEMORY, dir);
}

static void
msg_body(struct msg *m, const char *s, size_t len)
{
	char err[256];

	ck_assert_int_eq(spool_write(m->body, s, len, err, sizeof(err)), 0);
}

static void
msg_free(struct msg *m)
{
	mime_headers_clear(&m->h);
	spool_free(m->body);
}

/* base64 of a CMS structure, 64-column CRLF lines. */
static char *
cms_base64(CMS_ContentInfo *cms)
{
	BIO *mem = BIO_new(BIO_s_mem()), *b64 = BIO_new(BIO_f_base64());
	char *data, *out;
	long n;
	size_t i, o = 0;

	BIO_push(b64, mem);
	i2d_CMS_bio(b64, cms);
	(void)BIO_flush(b64);
	n = BIO_get_mem_data(mem, &data);
	out = malloc((size_t)n * 2 + 1);
	for (i = 0; i < (size_t)n; i++) {
		if (data[i] == '\n')
			out[o++] = '\r';
		out[o++] = data[i];
	}
	out[o] = '\0';
	BIO_free_all(b64);
	return out;
}

/* A detached multipart/signed body signed by id over content. */
static void
signed_message(struct msg *m, const char *from, const struct testpki_id *id, const char *content,
    int tamper)
{
	BIO *in = BIO_new_mem_buf(content, -1);
	CMS_ContentInfo *cms = CMS_sign(id->cert, id->key, NULL, in, CMS_DETACHED | CMS_BINARY);
	char *b64 = cms_base64(cms), *body;
	size_t len = strlen(content) + strlen(b64) + 512;

	msg_init(m, from,
	    " multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256;\r\n"
	    "\tboundary=\"XyZ\"");
	body = malloc(len);
	snprintf(body, len,
	    "preamble\r\n--XyZ\r\n%s\r\n--XyZ\r\nContent-Type: application/pkcs7-signature; "
	    "name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n--XyZ--\r\n",
	    content, b64);
	if (tamper)
		body[strlen("preamble\r\n--XyZ\r\n") + 3] ^= 1;
	msg_body(m, body, strlen(body));
	free(body);
	free(b64);
	BIO_free(in);
	CMS_ContentInfo_free(cms);
}

static const char *content = "Content-Type: text/plain\r\n\r\nHello, here is my key.\r\n";

static int
run_harvest(struct msg *m, X509_STORE *trust, int dkim, X509 **x, char *reason, size_t len)
{
	struct harvest_options o = {trust, dkim, "mx.example.net", 0};
	char addr[256];

	*x = NULL;
	return harvest_signer(&m->h, m->body, &o, x, NULL, addr, sizeof(addr), reason, len);
}

START_TEST(test_harvest_accepts)
{
	certindex *ci = open_index(cafile, NULL);
	struct msg m;
	char reason[512];
	X509 *x;

	signed_message(&m, "Alice <alice@example.com>", &alice, content, 0);
	ck_assert_msg(run_harvest(&m, certindex_trust(ci), 0, &x, reason, sizeof(reason)) == 1,
	    "%s", reason);
	ck_assert_int_eq(X509_cmp(x, alice.cert), 0);
	X509_free(x);
	/* with DKIM required: our authserv-id says dkim=pass for example.com */
	mime_headers_add(&m.h, "Authentication-Results",
	    " mx.example.net; spf=pass smtp.mailfrom=example.com;\r\n\tdkim=pass header.d=example.com "
	    "header.s=sel");
	ck_assert_msg(run_harvest(&m, certindex_trust(ci), 1, &x, reason, sizeof(reason)) == 1,
	    "%s", reason);
	X509_free(x);
	msg_free(&m);
	/* harvest-trust any: a signer from another CA */
	signed_message(&m, "str@partner.example", &stranger, content, 0);
	ck_assert_msg(run_harvest(&m, NULL, 0, &x, reason, sizeof(reason)) == 1, "%s", reason);
	X509_free(x);
	msg_free(&m);
	certindex_free(ci);
}
END_TEST

START_TEST(test_harvest_refusals)
{
	certindex *ci = open_index(cafile, NULL);
	X509_STORE *trust = certindex_trust(ci);
	struct msg m;
	char reason[512];
	X509 *x;

	/* a corrupted signature */
	signed_message(&m, "alice@example.com", &alice, content, 1);
	ck_assert_int_eq(run_harvest(&m, trust, 0, &x, reason, sizeof(reason)), 0);
	ck_assert_msg(strncmp(reason, "signature does not verify", 25) == 0, "%s", reason);
	msg_free(&m);
	/* From: is somebody else */
	signed_message(&m, "bob@partner.example", &alice, content, 0);
	ck_assert_int_eq(run_harvest(&m, trust, 0, &x, reason, sizeof(reason)), 0);
	ck_assert_str_eq(reason,
	    "signer certificate does not name the From: address bob@partner.example");
	msg_free(&m);
	/* an expired signer */
	signed_message(&m, "alice@example.com", &oldalice, content, 0);
	ck_assert_int_eq(run_harvest(&m, NULL, 0, &x, reason, sizeof(reason)), 0);
	ck_assert_str_eq(reason, "certificate for alice@example.com has expired");
	msg_free(&m);
	/* a signer from an untrusted CA */
	signed_message(&m, "str@partner.example", &stranger, content, 0);
	ck_assert_int_eq(run_harvest(&m, trust, 0, &x, reason, sizeof(reason)), 0);
	ck_assert_msg(strncmp(reason, "signature does not verify", 25) == 0, "%s", reason);
	msg_free(&m);
	/* DKIM required: none, someone else's Authentication-Results, or a failure */
	signed_message(&m, "alice@example.com", &alice, content, 0);
	ck_assert_int_eq(run_harvest(&m, trust, 1, &x, reason, sizeof(reason)), 0);
	ck_assert_str_eq(reason, "no dkim=pass for example.com from mx.example.net");
	mime_headers_add(&m.h, "Authentication-Results",
	    " evil.example; dkim=pass header.d=example.com");
	mime_headers_add(&m.h, "Authentication-Results",
	    " mx.example.net; dkim=fail header.d=example.com");
	ck_assert_int_eq(run_harvest(&m, trust, 1, &x, reason, sizeof(reason)), 0);
	msg_free(&m);
	/* an attachment merely named smime.p7s */
	msg_init(&m, "alice@example.com", " multipart/mixed; boundary=\"b\"");
	msg_body(&m,
	    "--b\r\n\r\nhi\r\n--b\r\nContent-Type: application/pkcs7-signature; "
	    "name=smime.p7s\r\n\r\nAAAA\r\n--b--\r\n",
	    86);
	ck_assert_int_eq(run_harvest(&m, trust, 0, &x, reason, sizeof(reason)), 0);
	ck_assert_str_eq(reason, "not an S/MIME signed message");
	msg_free(&m);
	/* multipart/signed whose second part is not a signature */
	msg_init(&m, "alice@example.com", " multipart/signed; boundary=b");
	msg_body(&m, "--b\r\n\r\nhi\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n", 52);
	ck_assert_int_eq(run_harvest(&m, trust, 0, &x, reason, sizeof(reason)), 0);
	ck_assert_str_eq(reason, "second part is text/plain, not an S/MIME signature");
	msg_free(&m);
	certindex_free(ci);
}
END_TEST

START_TEST(test_mime_params)
{
	char v[100];

	ck_assert_int_eq(mime_type(" Multipart/Signed; boundary=x", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "multipart/signed");
	ck_assert_int_eq(mime_param("multipart/signed; protocol=\"a;b\"; BOUNDARY=\"q\\\"x\"",
	                     "boundary", v, sizeof(v)),
	    0);
	ck_assert_str_eq(v, "q\"x");
	ck_assert_int_eq(mime_param("text/plain; charset=utf-8", "boundary", v, sizeof(v)), -1);
	ck_assert_int_eq(harvest_is_signed_type("application/pkcs7-mime; smime-type=signed-data"),
	    1);
	ck_assert_int_eq(harvest_is_signed_type(
	                     "application/pkcs7-mime; smime-type=enveloped-data"),
	    0);
	ck_assert_int_eq(harvest_is_signed_type("multipart/mixed"), 0);
}
END_TEST

static Suite *
stores_suite(void)
{
	Suite *s = suite_create("stores");
	TCase *tc = tcase_create("certindex");

	tcase_add_unchecked_fixture(tc, pki_setup, pki_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_index_lookup);
	tcase_add_test(tc, test_index_validation_failures);
	tcase_add_test(tc, test_index_chain_and_crl);
	tcase_add_test(tc, test_signer_validation);
	tcase_add_test(tc, test_index_refresh_and_store);
	tcase_add_test(tc, test_index_incremental);
	tcase_add_test(tc, test_harvest_accepts);
	tcase_add_test(tc, test_harvest_refusals);
	tcase_add_test(tc, test_mime_params);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(stores_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
