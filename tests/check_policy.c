/*
 * check_policy.c - unit tests of the policy module: pattern matching and
 * specificity, the precedence of scopes (asserted exhaustively: every
 * keyword x every subset of the four scopes that may set it, through the
 * real configuration parser), <sender> blocks, and the strictest-wins
 * combination of recipients' settings.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "policy.h"
#include "testconf.h"
#include "testdir.h"

static char dir[256];

static void
setup(void)
{
	testdir_make(dir, sizeof(dir), "check_policy");
}

static void
teardown(void)
{
	testdir_remove(dir);
}

/* Load a configuration from text; it must have no error. */
static struct conf *
load(const char *text)
{
	return testconf_load(dir, "policy.conf", "cert-dir @D\nkey-dir @D\n", text);
}

/* ---- patterns ---- */

START_TEST(test_match_domain)
{
	ck_assert_int_eq(policy_match_domain("*", "anything.example"), 0);
	ck_assert_int_gt(policy_match_domain("example.com", "example.com"), 0);
	ck_assert_int_gt(policy_match_domain("example.com", "EXAMPLE.Com"), 0);
	ck_assert_int_lt(policy_match_domain("example.com", "sub.example.com"), 0);
	ck_assert_int_lt(policy_match_domain("example.com", "xexample.com"), 0);
	ck_assert_int_gt(policy_match_domain("*.example.com", "sub.example.com"), 0);
	ck_assert_int_gt(policy_match_domain("*.example.com", "a.b.example.com"), 0);
	ck_assert_int_lt(policy_match_domain("*.example.com", "example.com"), 0);
	ck_assert_int_lt(policy_match_domain("*.example.com", "badexample.com"), 0);
	/* specificity: exact > deeper wildcard > wildcard > * */
	ck_assert_int_gt(policy_match_domain("a.mail.example.com", "a.mail.example.com"),
	    policy_match_domain("*.mail.example.com", "a.mail.example.com"));
	ck_assert_int_gt(policy_match_domain("*.mail.example.com", "a.mail.example.com"),
	    policy_match_domain("*.example.com", "a.mail.example.com"));
	ck_assert_int_gt(policy_match_domain("*.example.com", "a.mail.example.com"),
	    policy_match_domain("*", "a.mail.example.com"));
}
END_TEST

START_TEST(test_match_sender)
{
	ck_assert_int_gt(policy_match_sender("steve@thetucks.com", "steve@THETUCKS.com"), 0);
	ck_assert_int_lt(policy_match_sender("steve@thetucks.com", "Steve@thetucks.com"), 0);
	ck_assert_int_lt(policy_match_sender("steve@thetucks.com", "eve@thetucks.com"), 0);
	ck_assert_int_lt(policy_match_sender("steve@thetucks.com", "steve@thetucks.co"), 0);
	ck_assert_int_gt(policy_match_sender("thetucks.com", "anyone@thetucks.com"), 0);
	ck_assert_int_gt(policy_match_sender("*.thetucks.com", "a@mail.thetucks.com"), 0);
	ck_assert_int_lt(policy_match_sender("*.thetucks.com", "a@thetucks.com"), 0);
	ck_assert_int_eq(policy_match_sender("*", "a@b.example"), 0);
	ck_assert_int_gt(policy_match_sender("steve@thetucks.com", "steve@thetucks.com"),
	    policy_match_sender("thetucks.com", "steve@thetucks.com"));
}
END_TEST

START_TEST(test_best_match_wins)
{
	struct conf *c = load("<domain *>\n cipher aes-128-cbc\n</domain>\n"
	                      "<domain *.example.com>\n cipher aes-128-gcm\n</domain>\n"
	                      "<domain *.mail.example.com>\n cipher aes-256-gcm\n</domain>\n"
	                      "<domain x.mail.example.com>\n cipher aes-256-cbc\n</domain>\n");
	struct policy_settings s;

	policy_for_recipient(&c->policy, NULL, "other.example", &s);
	ck_assert_int_eq(EVP_CIPHER_get_nid(s.cipher), NID_aes_128_cbc);
	policy_for_recipient(&c->policy, NULL, "b.example.com", &s);
	ck_assert_int_eq(EVP_CIPHER_get_nid(s.cipher), NID_aes_128_gcm);
	policy_for_recipient(&c->policy, NULL, "y.mail.example.com", &s);
	ck_assert_int_eq(EVP_CIPHER_get_nid(s.cipher), NID_aes_256_gcm);
	policy_for_recipient(&c->policy, NULL, "X.Mail.Example.com", &s);
	ck_assert_int_eq(EVP_CIPHER_get_nid(s.cipher), NID_aes_256_cbc);
	conf_unref(c);
}
END_TEST

/* ---- the precedence table ---- */

/*
 * One keyword: its values in the config language, in an order such that
 * the four scopes get values different from their neighbours, and a
 * function reading the effective value back as the index into values.
 */
struct kwcase {
	const char *keyword;
	const char *values[4]; /* for global, virtual-mta, domain, domain in virtual-mta */
	const char *deflt;     /* the built-in default's spelling */
	const char *(*get)(const struct policy_settings *s);
};

static const char *
yes_no(int v)
{
	return v ? "yes" : "no";
}

static const char *
get_sign(const struct policy_settings *s)
{
	return yes_no(s->sign);
}
static const char *
get_encrypt(const struct policy_settings *s)
{
	return yes_no(s->encrypt);
}
static const char *
get_hide(const struct policy_settings *s)
{
	return yes_no(s->hide_subject);
}
static const char *
get_ets(const struct policy_settings *s)
{
	return yes_no(s->encrypt_to_sender);
}

static const char *
get_missing_cert(const struct policy_settings *s)
{
	return policy_missing_cert_name(s->missing_cert);
}

static const char *
get_missing_key(const struct policy_settings *s)
{
	return s->missing_key == POLICY_MISSING_KEY_REJECT  ? "reject"
	    : s->missing_key == POLICY_MISSING_KEY_UNSIGNED ? "unsigned"
	                                                    : "tempfail";
}

static const char *
get_cipher(const struct policy_settings *s)
{
	switch (EVP_CIPHER_get_nid(s->cipher)) {
	case NID_aes_128_cbc: return "aes-128-cbc";
	case NID_aes_256_cbc: return "aes-256-cbc";
	case NID_aes_128_gcm: return "aes-128-gcm";
	default: return "aes-256-gcm";
	}
}

static const char *
get_digest(const struct policy_settings *s)
{
	return EVP_MD_get_size(s->digest) == 32 ? "sha256"
	    : EVP_MD_get_size(s->digest) == 48  ? "sha384"
	                                        : "sha512";
}

static const struct kwcase kwcases[] = {
    {"sign", {"yes", "no", "yes", "no"}, "no", get_sign},
    {"encrypt", {"yes", "no", "yes", "no"}, "no", get_encrypt},
    {"hide-subject", {"yes", "no", "yes", "no"}, "no", get_hide},
    {"encrypt-to-sender", {"yes", "no", "yes", "no"}, "no", get_ets},
    {"missing-cert", {"tempfail", "plain", "sign-only", "reject"}, "reject", get_missing_cert},
    {"missing-key", {"unsigned", "reject", "tempfail", "unsigned"}, "tempfail", get_missing_key},
    {"cipher", {"aes-128-cbc", "aes-128-gcm", "aes-256-gcm", "aes-256-cbc"}, "aes-256-cbc",
        get_cipher},
    {"digest", {"sha384", "sha512", "sha256", "sha384"}, "sha256", get_digest},
};

START_TEST(test_precedence_table)
{
	const struct kwcase *k = &kwcases[_i];
	char text[2048];
	unsigned subset;
	int checked = 0;

	for (subset = 0; subset < 16; subset++) {
		struct policy_settings s;
		struct conf *c;
		const char *expect = k->deflt;
		int o = 0, top = -1, scope;

		/* bit 0 global, 1 virtual-mta, 2 domain, 3 domain nested in the virtual-mta */
		for (scope = 0; scope < 4; scope++)
			if (subset & (1u << scope))
				top = scope;
		if (top >= 0)
			expect = k->values[top];
		if (subset & 1)
			o += snprintf(text + o, sizeof(text) - o, "%s %s\n", k->keyword,
			    k->values[0]);
		o += snprintf(text + o, sizeof(text) - o, "<virtual-mta out>\n");
		if (subset & 2)
			o += snprintf(text + o, sizeof(text) - o, "  %s %s\n", k->keyword,
			    k->values[1]);
		o += snprintf(text + o, sizeof(text) - o, "  <domain partner.example>\n");
		if (subset & 8)
			o += snprintf(text + o, sizeof(text) - o, "    %s %s\n", k->keyword,
			    k->values[3]);
		o += snprintf(text + o, sizeof(text) - o, "  </domain>\n</virtual-mta>\n");
		o += snprintf(text + o, sizeof(text) - o, "<domain partner.example>\n");
		if (subset & 4)
			o += snprintf(text + o, sizeof(text) - o, "  %s %s\n", k->keyword,
			    k->values[2]);
		snprintf(text + o, sizeof(text) - o, "</domain>\n");
		c = load(text);

		/* the message goes out through "out" to partner.example: all four scopes apply */
		policy_for_recipient(&c->policy, "out", "partner.example", &s);
		ck_assert_msg(strcmp(k->get(&s), expect) == 0,
		    "%s, scopes 0x%x: effective %s, expected %s", k->keyword, subset, k->get(&s),
		    expect);

		/* another virtual MTA: neither <virtual-mta out> nor its nested domain applies */
		expect = k->deflt;
		if (subset & 1)
			expect = k->values[0];
		if (subset & 4)
			expect = k->values[2];
		policy_for_recipient(&c->policy, "elsewhere", "partner.example", &s);
		ck_assert_msg(strcmp(k->get(&s), expect) == 0,
		    "%s, scopes 0x%x, other vmta: effective %s, expected %s", k->keyword, subset,
		    k->get(&s), expect);

		/* another domain: only global and the virtual-mta apply */
		expect = k->deflt;
		if (subset & 1)
			expect = k->values[0];
		if (subset & 2)
			expect = k->values[1];
		policy_for_recipient(&c->policy, "out", "other.example", &s);
		ck_assert_msg(strcmp(k->get(&s), expect) == 0,
		    "%s, scopes 0x%x, other domain: effective %s, expected %s", k->keyword, subset,
		    k->get(&s), expect);
		checked += 3;
		conf_unref(c);
	}
	ck_assert_int_eq(checked, 48);
}
END_TEST

/* ---- sender blocks ---- */

START_TEST(test_sender_scope)
{
	char text[1024], key[400];
	struct conf *c;
	const struct policy_scope *s;
	FILE *f;

	snprintf(key, sizeof(key), "%s/steve.pem", dir);
	f = fopen(key, "w");
	fclose(f);
	chmod(key, 0600);
	snprintf(text, sizeof(text),
	    "<sender thetucks.com>\n sign yes\n missing-key unsigned\n</sender>\n"
	    "<sender steve@thetucks.com>\n signing-key %s\n digest sha512\n</sender>\n"
	    "<sender *>\n missing-key reject\n</sender>\n",
	    key);
	c = load(text);
	s = policy_sender_scope(&c->policy, "steve@THETUCKS.COM");
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->pattern, "steve@thetucks.com");
	ck_assert_str_eq(s->s.signing_key, key);
	ck_assert_uint_eq(s->s.set, POLICY_SIGNING_KEY | POLICY_DIGEST);
	s = policy_sender_scope(&c->policy, "anna@thetucks.com");
	ck_assert_str_eq(s->pattern, "thetucks.com");
	ck_assert_int_eq(s->s.missing_key, POLICY_MISSING_KEY_UNSIGNED);
	s = policy_sender_scope(&c->policy, "x@elsewhere.example");
	ck_assert_str_eq(s->pattern, "*");
	conf_unref(c);
}
END_TEST

/* ---- strictest wins ---- */

START_TEST(test_combine_strictest)
{
	struct policy_settings msg, a, b;

	policy_defaults(&a);
	policy_defaults(&b);
	a.cipher = EVP_aes_128_cbc();
	a.digest = EVP_sha512();
	a.missing_key = POLICY_MISSING_KEY_UNSIGNED;
	b.encrypt = 1;
	b.cipher = EVP_aes_256_gcm();
	b.key_transport = SMIME_KT_RSA_OAEP;
	b.hide_subject = 1;
	b.missing_key = POLICY_MISSING_KEY_REJECT;
	policy_combine_init(&msg);
	policy_combine(&msg, &a);
	ck_assert_int_eq(msg.encrypt, 0);
	ck_assert_int_eq(EVP_CIPHER_get_nid(msg.cipher), NID_aes_128_cbc);
	ck_assert_int_eq(msg.missing_key, POLICY_MISSING_KEY_UNSIGNED);
	policy_combine(&msg, &b);
	ck_assert_int_eq(msg.encrypt, 1);
	ck_assert_int_eq(msg.sign, 0);
	ck_assert_int_eq(EVP_CIPHER_get_nid(msg.cipher), NID_aes_256_gcm);
	ck_assert_int_eq(EVP_MD_get_size(msg.digest), 64);
	ck_assert_int_eq(msg.key_transport, SMIME_KT_RSA_OAEP);
	ck_assert_int_eq(msg.hide_subject, 1);
	ck_assert_int_eq(msg.missing_key, POLICY_MISSING_KEY_REJECT);
	/* order does not matter */
	policy_combine_init(&msg);
	policy_combine(&msg, &b);
	policy_combine(&msg, &a);
	ck_assert_int_eq(EVP_CIPHER_get_nid(msg.cipher), NID_aes_256_gcm);
	ck_assert_int_eq(msg.missing_key, POLICY_MISSING_KEY_REJECT);
}
END_TEST

static Suite *
policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("match");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_match_domain);
	tcase_add_test(tc, test_match_sender);
	tcase_add_test(tc, test_best_match_wins);
	suite_add_tcase(s, tc);
	tc = tcase_create("precedence");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_precedence_table, 0,
	    (int)(sizeof(kwcases) / sizeof(kwcases[0])));
	tcase_add_test(tc, test_sender_scope);
	tcase_add_test(tc, test_combine_strictest);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(policy_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
