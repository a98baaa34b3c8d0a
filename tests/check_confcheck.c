/*
 * check_confcheck.c - unit tests of what a loaded configuration is checked
 * against beyond its own text: the socket specs of conf_check.h, and the
 * signing identities of conf_check_signers (conf_signers.c) with
 * certificates made at test time: an identity that may not sign is an
 * error naming the key file and the reason, one that expires within
 * warn-expiry days a warning, a role key with signer-address-check no is
 * not held to its address, and a key that does not load is left to the
 * run-time checks.
 */
#include "config.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf.h"
#include "conf_check.h"
#include "testconf.h"
#include "testdir.h"
#include "testpki.h"

#define MAXMSG 16

static char dir[PATH_MAX];
static char msgs[2][MAXMSG][1400]; /* [0] errors, [1] warnings */
static int nmsgs[2];
static struct testpki_id ca;

static void
report_error(void *arg, const char *msg)
{
	(void)arg;
	ck_assert_int_lt(nmsgs[0], MAXMSG);
	snprintf(msgs[0][nmsgs[0]++], sizeof(msgs[0][0]), "%s", msg);
}

static void
report_warning(void *arg, const char *msg)
{
	(void)arg;
	ck_assert_int_lt(nmsgs[1], MAXMSG);
	snprintf(msgs[1][nmsgs[1]++], sizeof(msgs[1][0]), "%s", msg);
}

static const char *
in_dir(const char *name)
{
	return testdir_path(dir, name);
}

/* keys/NAME.pem: a key and certificate for email, valid from_days..to_days, signed by ca. */
static void
put_identity(const char *name, const char *email, long from_days, long to_days, const char *eku)
{
	struct testpki_id id = testpki_issue("rsa", email, email, &ca, from_days, to_days,
	    "critical,digitalSignature,keyEncipherment", eku);
	X509 *const certs[] = {id.cert, NULL};
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/keys/%s.pem", dir, name);
	testpki_write(path, 0600, id.key, certs, 0);
	testpki_free(&id);
}

static void
setup(void)
{
	testdir_make(dir, sizeof(dir), "check_confcheck");
	ck_assert_int_eq(mkdir(in_dir("keys"), 0700), 0);
	ca = testpki_issue("rsa", "Signers CA", NULL, NULL, -1, 365, NULL, NULL);
	{
		X509 *const c[] = {ca.cert, NULL};
		testpki_write(in_dir("ca.pem"), 0644, NULL, c, 0);
	}
	nmsgs[0] = nmsgs[1] = 0;
}

static void
teardown(void)
{
	testpki_free(&ca);
	testdir_remove(dir);
}

/* Load text ("@D" stands for the test directory); it must be valid. */
static struct conf *
load(const char *text)
{
	return testconf_load(dir, "test.conf", NULL, text);
}

START_TEST(test_signers_errors_and_warnings)
{
	char want[2 * PATH_MAX + 512];
	struct conf *c;

	put_identity("alice@example.com", "alice@example.com", -1, 365, "emailProtection");
	put_identity("old@example.com", "old@example.com", -40, -10, "emailProtection");
	put_identity("web@example.com", "web@example.com", -1, 365, "serverAuth");
	put_identity("other@example.com", "alice@example.com", -1, 365, "emailProtection");
	put_identity("soon@example.com", "soon@example.com", -1, 5, "emailProtection");
	put_identity("role@example.com", "alice@example.com", -1, 365, "emailProtection");
	c = load("socket unix:@D/s\nkey-dir @D/keys\nca-file @D/ca.pem\nsign yes\n"
	         "<sender role@example.com>\n    signer-address-check no\n</sender>\n");
	ck_assert_int_eq(conf_check_signers(c, report_error, report_warning, NULL), 3);
	ck_assert_int_eq(nmsgs[0], 3);
	/* alphabetical: old, other, web; alice and role pass */
	snprintf(want, sizeof(want),
	    "%s/test.conf:2: key-dir %s/keys/old@example.com.pem: "
	    "signing certificate expired on ",
	    dir, dir);
	ck_assert_msg(strncmp(msgs[0][0], want, strlen(want)) == 0, "%s", msgs[0][0]);
	snprintf(want, sizeof(want),
	    "%s/test.conf:2: key-dir %s/keys/other@example.com.pem: "
	    "signing certificate does not name <other@example.com>",
	    dir, dir);
	ck_assert_str_eq(msgs[0][1], want);
	snprintf(want, sizeof(want),
	    "%s/test.conf:2: key-dir %s/keys/web@example.com.pem: "
	    "signing certificate does not allow emailProtection",
	    dir, dir);
	ck_assert_str_eq(msgs[0][2], want);
	ck_assert_int_eq(nmsgs[1], 1);
	snprintf(want, sizeof(want),
	    "%s/test.conf:2: key-dir %s/keys/soon@example.com.pem: "
	    "warning: signing certificate expires on ",
	    dir, dir);
	ck_assert_msg(strncmp(msgs[1][0], want, strlen(want)) == 0, "%s", msgs[1][0]);
	ck_assert_ptr_nonnull(strstr(msgs[1][0], "(within 30 days)"));
	conf_unref(c);
}
END_TEST

/* warn-expiry 3: a certificate 5 days from its end is no warning; not chaining is an error. */
START_TEST(test_signers_warn_expiry_and_chain)
{
	struct testpki_id other = testpki_issue("rsa", "Other CA", NULL, NULL, -1, 365, NULL, NULL);
	struct testpki_id stranger = testpki_issue("rsa", "s", "s@example.com", &other, -1, 365,
	    "critical,digitalSignature", "emailProtection");
	X509 *const certs[] = {stranger.cert, NULL};
	char path[PATH_MAX + 64], want[2 * PATH_MAX + 512];
	struct conf *c;

	put_identity("soon@example.com", "soon@example.com", -1, 5, "emailProtection");
	snprintf(path, sizeof(path), "%s/keys/s@example.com.pem", dir);
	testpki_write(path, 0600, stranger.key, certs, 0);
	c = load("socket unix:@D/s\nkey-dir @D/keys\nca-file @D/ca.pem\nwarn-expiry 3\nsign yes\n");
	ck_assert_int_eq(conf_check_signers(c, report_error, report_warning, NULL), 1);
	ck_assert_int_eq(nmsgs[1], 0);
	snprintf(want, sizeof(want),
	    "%s/test.conf:2: key-dir %s/keys/s@example.com.pem: "
	    "signing certificate is not trusted: unable to get local issuer certificate",
	    dir, dir);
	ck_assert_str_eq(msgs[0][0], want);
	conf_unref(c);
	testpki_free(&stranger);
	testpki_free(&other);
}
END_TEST

/* A key file that does not load is conf_check_runtime's to report, not counted twice here. */
START_TEST(test_signers_unloadable_left_to_runtime)
{
	struct conf *c;

	testdir_write(in_dir("keys/broken@example.com.pem"), "not a key\n", 0600);
	c = load("socket unix:@D/s\nkey-dir @D/keys\nsign yes\n");
	ck_assert_int_eq(conf_check_signers(c, report_error, report_warning, NULL), 0);
	ck_assert_int_eq(nmsgs[0] + nmsgs[1], 0);
	ck_assert_int_gt(conf_check_runtime(c, NULL, report_error, NULL), 0);
	ck_assert_ptr_nonnull(strstr(msgs[0][0], "broken@example.com.pem"));
	conf_unref(c);
}
END_TEST

START_TEST(test_socket_specs)
{
	char err[PATH_MAX + 64];

	ck_assert_int_eq(conf_check_socket("inet:8894@127.0.0.1", 0, err, sizeof(err)), 0);
	ck_assert_int_eq(conf_check_socket("inet6:8894@::1", 0, err, sizeof(err)), 0);
	ck_assert_int_eq(conf_check_socket("unix:/run/x.sock", 0, err, sizeof(err)), 0);
	ck_assert_int_eq(conf_check_socket("inet:0@127.0.0.1", 0, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "port \"0\" is not a number between 1 and 65535");
	ck_assert_int_eq(conf_check_socket("inet:65536", 0, err, sizeof(err)), -1);
	ck_assert_int_eq(conf_check_socket("inet:8894@::1", 0, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "::1 is an IPv6 address: use inet6:");
	ck_assert_int_eq(conf_check_socket("tcp:1@h", 0, err, sizeof(err)), -1);
	snprintf(err, sizeof(err), "%s/no-dir/x.sock", dir);
	{
		char spec[PATH_MAX + 128], why[PATH_MAX + 512];
		snprintf(spec, sizeof(spec), "unix:%s", err);
		ck_assert_int_eq(conf_check_socket(spec, 0, why, sizeof(why)),
		    0); /* the file's syntax */
		ck_assert_int_eq(conf_check_socket(spec, 1, why, sizeof(why)),
		    -1); /* at run time */
		ck_assert_ptr_nonnull(strstr(why, "does not exist"));
	}
}
END_TEST

static Suite *
confcheck_suite(void)
{
	Suite *s = suite_create("confcheck");
	TCase *tc = tcase_create("signers");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_signers_errors_and_warnings);
	tcase_add_test(tc, test_signers_warn_expiry_and_chain);
	tcase_add_test(tc, test_signers_unloadable_left_to_runtime);
	suite_add_tcase(s, tc);
	tc = tcase_create("socket");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_socket_specs);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(confcheck_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
