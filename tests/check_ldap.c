/*
 * check_ldap.c - unit tests of the LDAP certificate store (ldapstore)
 * that need no directory: RFC 4515 escaping of the address in the search
 * filter (no filter injection), filter templates, the certificates of a
 * userSMIMECertificate value (PKCS#7 certs-only SignedData or one DER
 * certificate), option checks, and that a directory nobody answers for is
 * an error (tempfail), never "no certificate".  Lookups against a real
 * slapd are in tests/ldap.sh.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pkcs7.h>

#include "ldapstore.h"
#include "testpki.h"

static struct testpki_id ca, bob;

/* Made once, before the tests fork. */
static void
setup_pki(void)
{
	ca = testpki_issue("rsa", "LDAP Test CA", NULL, NULL, -1, 30, NULL, NULL);
	bob = testpki_issue("rsa", "Bob", "bob@partner.example", &ca, -1, 30,
	    "critical,digitalSignature,keyEncipherment", "emailProtection");
}

START_TEST(test_escape)
{
	char out[128];
	const char nul[] = {'x', '\0', 'y'};

	ck_assert_int_eq(ldapstore_escape("a*b(c)d\\e", 9, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "a\\2ab\\28c\\29d\\5ce");
	ck_assert_int_eq(ldapstore_escape(nul, sizeof(nul), out, sizeof(out)), 0);
	ck_assert_str_eq(out, "x\\00y");
	ck_assert_int_eq(ldapstore_escape("b\xc3\xb6rje@x.example", 16, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "b\xc3\xb6rje@x.example");
	ck_assert_int_eq(ldapstore_escape("", 0, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "");
	/* exactly fits, one byte short */
	ck_assert_int_eq(ldapstore_escape("a*", 2, out, 5), 0);
	ck_assert_str_eq(out, "a\\2a");
	ck_assert_int_eq(ldapstore_escape("a*", 2, out, 4), -1);
	ck_assert_int_eq(ldapstore_escape("abc", 3, out, 3), -1);
}
END_TEST

START_TEST(test_filter)
{
	char out[256], err[256];

	ck_assert_int_eq(ldapstore_filter(LDAPSTORE_DEFAULT_FILTER, "bob@partner.example", out,
	                     sizeof(out), err, sizeof(err)),
	    0);
	ck_assert_str_eq(out, "(mail=bob@partner.example)");
	/* an address trying to widen the search stays one value */
	ck_assert_int_eq(ldapstore_filter("(mail=%s)", "*)(uid=*", out, sizeof(out), err,
	                     sizeof(err)),
	    0);
	ck_assert_str_eq(out, "(mail=\\2a\\29\\28uid=\\2a)");
	ck_assert_int_eq(ldapstore_filter("(mail=%s)", "x\\29@y", out, sizeof(out), err,
	                     sizeof(err)),
	    0);
	ck_assert_str_eq(out, "(mail=x\\5c29@y)");
	ck_assert_int_eq(ldapstore_filter("(|(mail=%s)(mailAlternateAddress=%s))", "a@b", out,
	                     sizeof(out), err, sizeof(err)),
	    0);
	ck_assert_str_eq(out, "(|(mail=a@b)(mailAlternateAddress=a@b))");
	ck_assert_int_eq(ldapstore_filter("(&(mail=%s)(description=100%%))", "a@b", out,
	                     sizeof(out), err, sizeof(err)),
	    0);
	ck_assert_str_eq(out, "(&(mail=a@b)(description=100%))");
	ck_assert_int_eq(ldapstore_filter("(mail=%d)", "a@b", out, sizeof(out), err, sizeof(err)),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "only %s and %% may follow %"));
	ck_assert_int_eq(ldapstore_filter("(cn=x)", "a@b", out, sizeof(out), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "has no %s"));
	ck_assert_int_eq(ldapstore_filter("(mail=%s)", "abcdefgh@x", out, 12, err, sizeof(err)),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "too long"));
}
END_TEST

/* DER of a PKCS#7 SignedData without signers holding certs (NULL-terminated). */
static unsigned char *
certs_only(X509 *const *certs, int *len)
{
	PKCS7 *p7 = PKCS7_new();
	unsigned char *der = NULL;

	ck_assert_ptr_nonnull(p7);
	ck_assert_int_eq(PKCS7_set_type(p7, NID_pkcs7_signed), 1);
	ck_assert_int_eq(PKCS7_content_new(p7, NID_pkcs7_data), 1);
	for (; *certs != NULL; certs++)
		ck_assert_int_eq(PKCS7_add_certificate(p7, *certs), 1);
	*len = i2d_PKCS7(p7, &der);
	ck_assert_int_gt(*len, 0);
	PKCS7_free(p7);
	return der;
}

START_TEST(test_parse_smime_certs_only)
{
	X509 *both[] = {ca.cert, bob.cert, NULL}, *one[] = {bob.cert, NULL};
	STACK_OF(X509) *sk;
	unsigned char *der;
	int len;

	der = certs_only(both, &len);
	sk = ldapstore_parse_smime(der, (size_t)len);
	ck_assert_ptr_nonnull(sk);
	ck_assert_int_eq(sk_X509_num(sk), 2);
	ck_assert_int_eq(X509_cmp(sk_X509_value(sk, 0), ca.cert), 0);
	ck_assert_int_eq(X509_cmp(sk_X509_value(sk, 1), bob.cert), 0);
	sk_X509_pop_free(sk, X509_free);
	/* cut short: not a certificate either */
	ck_assert_ptr_null(ldapstore_parse_smime(der, (size_t)len / 2));
	OPENSSL_free(der);

	der = certs_only(one, &len);
	sk = ldapstore_parse_smime(der, (size_t)len);
	ck_assert_ptr_nonnull(sk);
	ck_assert_int_eq(sk_X509_num(sk), 1);
	ck_assert_int_eq(X509_cmp(sk_X509_value(sk, 0), bob.cert), 0);
	sk_X509_pop_free(sk, X509_free);
	OPENSSL_free(der);
}
END_TEST

START_TEST(test_parse_smime_der_cert)
{
	char dir[] = "/tmp/check_ldap.XXXXXX", path[300];
	X509 *one[] = {bob.cert, NULL};
	unsigned char buf[8192];
	STACK_OF(X509) *sk;
	size_t n;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/bob.der", dir);
	testpki_write(path, 0644, NULL, one, 1);
	f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	unlink(path);
	rmdir(dir);
	sk = ldapstore_parse_smime(buf, n);
	ck_assert_ptr_nonnull(sk);
	ck_assert_int_eq(sk_X509_num(sk), 1);
	ck_assert_int_eq(X509_cmp(sk_X509_value(sk, 0), bob.cert), 0);
	sk_X509_pop_free(sk, X509_free);
	ck_assert_ptr_null(ldapstore_parse_smime((const unsigned char *)"garbage", 7));
	ck_assert_ptr_null(ldapstore_parse_smime(buf, 0));
}
END_TEST

START_TEST(test_open_options)
{
	struct ldapstore_options o = {"ldap://127.0.0.1:389", "dc=example,dc=test", NULL, NULL,
	    NULL, 5, 300, 60};
	char err[512];
	ldapstore *ls;

	ls = ldapstore_open(&o, err, sizeof(err));
	ck_assert_ptr_nonnull(ls);
	ck_assert_str_eq(ldapstore_uri(ls), "ldap://127.0.0.1:389");
	ldapstore_free(ls);

	o.uri = "http://127.0.0.1/";
	ck_assert_ptr_null(ldapstore_open(&o, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "ldap-uri http://127.0.0.1/"));
	o.uri = "ldap://127.0.0.1:389";
	o.filter = "(cn=fixed)";
	ck_assert_ptr_null(ldapstore_open(&o, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "has no %s"));
	o.filter = "mail=%s";
	ck_assert_ptr_null(ldapstore_open(&o, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "not a parenthesised filter"));
	o.filter = "(mail=%s))";
	ck_assert_ptr_null(ldapstore_open(&o, err, sizeof(err)));
	o.filter = NULL;
	o.bind_dn = "cn=milter,dc=example,dc=test";
	ck_assert_ptr_null(ldapstore_open(&o, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "go together"));
	o.bind_dn = NULL;
	o.base = NULL;
	ck_assert_ptr_null(ldapstore_open(&o, err, sizeof(err)));
}
END_TEST

/* Nothing listens on port 1: refused at once, an error every time (never cached). */
START_TEST(test_unreachable_is_error)
{
	struct ldapstore_options o = {"ldap://127.0.0.1:1", "dc=example,dc=test", NULL, NULL, NULL,
	    2, 300, 60};
	char err[512], reason[512];
	STACK_OF(X509) *certs = NULL;
	X509 *cert = NULL;
	ldapstore *ls = ldapstore_open(&o, err, sizeof(err));
	int i;

	ck_assert_ptr_nonnull(ls);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(ldapstore_lookup(ls, "bob@partner.example", &certs, reason,
		                     sizeof(reason)),
		    CERTSTORE_ERROR);
		ck_assert_ptr_null(certs);
		ck_assert_ptr_nonnull(strstr(reason, "LDAP ldap://127.0.0.1:1: "));
		ck_assert_int_eq(ldapstore_find(ls, NULL, "bob@partner.example", &cert, reason,
		                     sizeof(reason)),
		    CERTSTORE_ERROR);
		ck_assert_ptr_null(cert);
	}
	/* an address that cannot be put in a filter safely is not looked up */
	ck_assert_int_eq(ldapstore_lookup(ls, "bob\r\n@x", &certs, reason, sizeof(reason)),
	    CERTSTORE_ERROR);
	ldapstore_free(ls);
}
END_TEST

/* With a bind DN, a password file others can read is refused at connect: error, not missing. */
START_TEST(test_password_file_mode)
{
	char dir[] = "/tmp/check_ldap.XXXXXX", pw[300], err[512], reason[512];
	struct ldapstore_options o = {"ldap://127.0.0.1:1", "dc=example,dc=test", NULL,
	    "cn=milter,dc=example,dc=test", pw, 2, 300, 60};
	STACK_OF(X509) *certs = NULL;
	ldapstore *ls;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(pw, sizeof(pw), "%s/pw", dir);
	f = fopen(pw, "w");
	ck_assert_ptr_nonnull(f);
	fputs("secret\n", f);
	fclose(f);
	chmod(pw, 0644);
	ls = ldapstore_open(&o, err, sizeof(err));
	ck_assert_ptr_nonnull(ls);
	ck_assert_int_eq(ldapstore_lookup(ls, "bob@partner.example", &certs, reason,
	                     sizeof(reason)),
	    CERTSTORE_ERROR);
	ck_assert_ptr_nonnull(strstr(reason, "readable by group or others"));
	ck_assert_ptr_null(strstr(reason, "secret"));
	ldapstore_free(ls);
	unlink(pw);
	rmdir(dir);
}
END_TEST

static Suite *
ldap_suite(void)
{
	Suite *s = suite_create("ldapstore");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_unchecked_fixture(tc, setup_pki, NULL);
	tcase_add_test(tc, test_escape);
	tcase_add_test(tc, test_filter);
	tcase_add_test(tc, test_parse_smime_certs_only);
	tcase_add_test(tc, test_parse_smime_der_cert);
	tcase_add_test(tc, test_open_options);
	tcase_add_test(tc, test_unreachable_is_error);
	tcase_add_test(tc, test_password_file_mode);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ldap_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
