/*
 * check_operable.c - unit tests of what makes the milter operable, on the
 * decide fixture (configurations read by the real parser, a PKI made at
 * test time): the keywords metrics-listen, log-level, log-facility, mode
 * and monitor-header with their errors; the reason names of refused
 * recipients from the validator's real verdicts; the summary line of each
 * way a message ends and the metrics it adds to; mode monitor (nothing
 * refused, nothing changed, the would-be verdicts kept and counted, the
 * X-SMIME-Milter-Would header) and monitored recipients in an enforced
 * message; conf_foreach_signer and warn-expiry.
 */
#include "config.h"

#include <stdarg.h>
#include <syslog.h>

#include <openssl/bn.h>

#include "decide_fixture.h"
#include "metrics.h"

/* Load text, expect exactly one error: msg (after "FILE:LINE: "). */
static void
conf_error_is(const char *text, const char *msg)
{
	const char *path = testconf_write(dir, "bad.conf", NULL, text);
	struct conf *c = NULL;

	capture_start();
	ck_assert_int_eq(conf_load(path, &c, testconf_report, NULL), 1);
	fflush(stderr);
	ck_assert_msg(capture_has(msg), "no error \"%s\"", msg);
}

START_TEST(test_keywords)
{
	struct conf *c =
	    load("metrics-listen 127.0.0.1:9894\nlog-level debug\nlog-facility local3\n"
	         "monitor-header yes\nmode monitor\n");

	ck_assert_str_eq(c->metrics_listen, "127.0.0.1:9894");
	ck_assert_int_eq(c->metrics_addr.ss_family, AF_INET);
	ck_assert_int_eq(c->log_level, LOG_DEBUG);
	ck_assert_int_eq(c->log_facility, LOG_LOCAL3);
	ck_assert_int_eq(c->monitor_header, 1);
	ck_assert_int_eq(c->policy.global.mode, POLICY_MODE_MONITOR);
	conf_unref(c);
	c = load("metrics-listen [::1]:9894\n");
	ck_assert_int_eq(c->metrics_addr.ss_family, AF_INET6);
	ck_assert_int_eq(c->log_level, LOG_INFO); /* the defaults */
	ck_assert_int_eq(c->log_facility, LOG_MAIL);
	ck_assert_int_eq(c->monitor_header, 0);
	conf_unref(c);
	c = load("metrics-listen 192.0.2.5:9894\nmetrics-public yes\n"
	         "<domain a.example>\nmode monitor\n</domain>\n");
	ck_assert_int_eq(c->metrics_public, 1);
	ck_assert_int_eq(c->policy.domains[0].s.mode, POLICY_MODE_MONITOR);
	conf_unref(c);
	conf_error_is("metrics-listen 0.0.0.0:9894\n",
	    "metrics-listen 0.0.0.0:9894: not a loopback address; the metrics have no authentication "
	    "and name who mails whom: set metrics-public yes to serve them there");
	conf_error_is("metrics-listen 127.0.0.1:99999\n",
	    "metrics-listen 127.0.0.1:99999: port \"99999\" is not a number from 1 to 65535");
	conf_error_is("metrics-listen localhost:9894\n",
	    "metrics-listen localhost:9894: \"localhost\" is not a numeric IPv4 address or a "
	    "[bracketed] IPv6 one");
	conf_error_is("metrics-listen 127.0.0.1:9894 public\n",
	    "metrics-listen takes exactly one value, 2 given");
	conf_error_is("log-level verbose\n", "log-level: \"verbose\" is not ");
	conf_error_is("log-facility kern\n", "log-facility: \"kern\" is not ");
	conf_error_is("mode dry-run\n", "mode: \"dry-run\" is not ");
	conf_error_is("<sender a@example.com>\nmode monitor\n</sender>\n",
	    "keyword \"mode\" is not allowed in <sender>");
}
END_TEST

/* The reason of a recipient looked up in cert-dir. */
static const char *
reason_of(struct decide_msg *m, const char *addr)
{
	struct decide_rcpt r;
	const char *why;

	decide_rcpt_lookup(m, addr, NULL, &r);
	why = decide_rcpt_reason(&r);
	X509_free(r.cert);
	return why;
}

START_TEST(test_reasons)
{
	struct testpki_id soon =
	    testpki_issue("rsa", "Late", "late@partner.example", &ca, 2, 30, KU, NULL);
	struct testpki_id web =
	    testpki_issue("rsa", "Web", "web@partner.example", &ca, -1, 30, KU, "serverAuth");
	struct decide_msg *m;

	put(certdir, "expired@partner.example.crt", 0644, NULL, expired.cert, NULL);
	put(certdir, "stranger@example.com.crt", 0644, NULL, stranger.cert, NULL);
	put(certdir, "late@partner.example.crt", 0644, NULL, soon.cert, NULL);
	put(certdir, "web@partner.example.crt", 0644, NULL, web.cert, NULL);
	put(certdir, "alias@partner.example.crt", 0644, NULL, bob.cert, NULL); /* names bob */
	m = start("<domain partner.example>\nencrypt yes\n</domain>\n");
	ck_assert_str_eq(reason_of(m, "nobody@partner.example"), "no_certificate");
	ck_assert_str_eq(reason_of(m, "expired@partner.example"), "expired");
	ck_assert_str_eq(reason_of(m, "late@partner.example"), "not_yet_valid");
	ck_assert_str_eq(reason_of(m, "stranger@example.com"), "untrusted");
	ck_assert_str_eq(reason_of(m, "web@partner.example"), "wrong_usage");
	ck_assert_str_eq(reason_of(m, "alias@partner.example"), "wrong_address");
	decide_msg_free(m);
	testpki_free(&soon);
	testpki_free(&web);
}
END_TEST

/* The summary of m (ended now) has every one of the NULL-terminated fragments. */
static void
summary_has(struct decide_msg *m, ...)
{
	struct decide_summary s;
	const char *want;
	va_list ap;

	decide_msg_end(m, &s);
	ck_assert_int_eq(s.level, LOG_INFO);
	va_start(ap, m);
	while ((want = va_arg(ap, const char *)) != NULL)
		ck_assert_msg(strstr(s.line, want) != NULL, "summary \"%s\" has no \"%s\"", s.line,
		    want);
	va_end(ap);
	decide_msg_end(m, &s); /* once only */
	ck_assert_str_eq(s.line, "");
}

START_TEST(test_summary_and_metrics)
{
	const char *pol = "sign yes\n<domain partner.example>\nencrypt yes\n</domain>\n"
	                  "<domain nocert.example>\nencrypt yes\n</domain>\n";
	struct mta_record l;
	struct decide_mta mta = {&l, rec_add, rec_change, rec_delete, rec_body, rec_progress};
	struct decide_msg *m;
	struct decide_verdict v;
	char serial[64], want[200];

	metrics_reset();
	/* signed and encrypted for bob; dave refused; frank deferred */
	memset(&l, 0, sizeof(l));
	m = start(pol);
	decide_msg_set_sender(m, "<alice@example.com>");
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_ENCRYPT);
	rcpt_refused(m, "dave@nocert.example", DECIDE_REJECT, "550", "5.7.1", NULL);
	rcpt_refused(m, "frank@plain.example", DECIDE_TEMPFAIL, "451", "4.7.1", NULL);
	ck_assert_int_eq(eoh_from(m, "Alice <alice@example.com>", NULL).reply.d, DECIDE_CONTINUE);
	decide_body(m, "Hi.\r\n", 5, &v);
	decide_end_of_message(m, &mta, &v);
	ck_assert_int_eq(v.reply.d, DECIDE_CONTINUE);
	{
		BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(bob.cert), NULL);
		char *hex = BN_bn2hex(bn);
		snprintf(serial, sizeof(serial), "rcpt1.serial=%s ", hex);
		OPENSSL_free(hex);
		BN_free(bn);
	}
	snprintf(want, sizeof(want), "rcpt1.issuer=%08lx rcpt1.source=cert-dir",
	    X509_issuer_name_hash(bob.cert));
	summary_has(m, "action=signed_encrypted mode=enforce from=<alice@example.com> ",
	    "scopes=global,domain:partner.example cipher=AES-256-CBC digest=SHA256 "
	    "signer=<alice@example.com> size=5 size_out=",
	    "rcpts=1 refused=2 rcpt1=<bob@partner.example> ", serial, want,
	    "rcpt1.scope=domain:partner.example rcpt2=<dave@nocert.example> "
	    "rcpt2.refused=no_certificate rcpt2.reply=\"550 5.7.1\" rcpt3=<frank@plain.example> "
	    "rcpt3.refused=mixed rcpt3.reply=\"451 4.7.1\"",
	    (char *)NULL);
	ck_assert_uint_eq(metrics_value(METRICS_MESSAGES, "signed_encrypted", NULL), 1);
	ck_assert_uint_eq(metrics_value(METRICS_RCPT_REFUSED, "no_certificate", NULL), 1);
	ck_assert_uint_eq(metrics_value(METRICS_RCPT_REFUSED, "mixed", NULL), 1);
	ck_assert_uint_eq(metrics_value(METRICS_BYTES_IN, NULL, NULL), 5);
	ck_assert_uint_eq(metrics_value(METRICS_BYTES_OUT, NULL, NULL), l.len);
	decide_msg_free(m);
	free(l.body);

	/* every recipient refused, the MTA gives up: reject, reason recipients */
	m = start(pol);
	rcpt_refused(m, "dave@nocert.example", DECIDE_REJECT, "550", "5.7.1", NULL);
	summary_has(m, "action=reject reason=recipients reply=\"550 5.7.1\" mode=enforce from=<> ",
	    "rcpts=0 refused=1 rcpt1=<dave@nocert.example> rcpt1.refused=no_certificate",
	    (char *)NULL);
	ck_assert_uint_eq(metrics_value(METRICS_MESSAGES, "reject", "recipients"), 1);
	decide_msg_free(m);

	/* a broken signing key: tempfail key_error, logged as an error */
	put(keydir, "broken@example.com.pem", 0600, NULL, NULL, NULL);
	m = start(pol);
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_ENCRYPT);
	v = eoh_from(m, "<broken@example.com>", NULL);
	expect(&v, DECIDE_TEMPFAIL, "451", "4.7.0",
	    "S/MIME signing key for <broken@example.com> is unusable");
	ck_assert_int_eq(v.level, LOG_ERR);
	summary_has(m, "action=tempfail reason=key_error reply=\"451 4.7.0\"", (char *)NULL);
	ck_assert_uint_eq(metrics_value(METRICS_MESSAGES, "tempfail", "key_error"), 1);
	decide_msg_free(m);

	/* accepted, then the client went away: aborted */
	m = start(pol);
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_ENCRYPT);
	summary_has(m, "action=aborted mode=enforce", (char *)NULL);
	ck_assert_uint_eq(metrics_value(METRICS_MESSAGES, "aborted", NULL), 1);
	decide_msg_free(m);
}
END_TEST

START_TEST(test_monitor)
{
	const char *pol =
	    "sign yes\nmode monitor\n<domain partner.example>\nencrypt yes\n</domain>\n"
	    "<domain nocert.example>\nencrypt yes\n</domain>\n";
	struct mta_record l;
	struct decide_mta mta = {&l, rec_add, rec_change, rec_delete, rec_body, rec_progress};
	struct decide_verdict v;
	struct decide_msg *m;
	char arg[] = "<dave@nocert.example>";

	metrics_reset();
	/* dave would be rejected: accepted, with the line saying so */
	m = start(pol);
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_ENCRYPT);
	decide_recipient(m, arg, &v);
	ck_assert_int_eq(v.reply.d, DECIDE_CONTINUE);
	ck_assert_str_eq(v.log,
	    "monitor: not applied: rejected recipient <dave@nocert.example>: no "
	    "certificate for dave@nocert.example (550 5.7.1)");
	ck_assert_uint_eq(m->nrcpt, 2);
	v = eoh_from(m, "<alice@example.com>", NULL);
	expect_pass(&v, ""); /* passes untouched; the would-line went to the log */
	ck_assert_str_eq(m->would_outcome, "signed_encrypted");
	summary_has(m, "action=passed reason=monitor mode=monitor would=signed_encrypted ",
	    "rcpt2.would_refuse=no_certificate rcpt2.would_reply=\"550 5.7.1\"", (char *)NULL);
	ck_assert_uint_eq(metrics_value(METRICS_MESSAGES, "passed", "monitor"), 1);
	ck_assert_uint_eq(metrics_value(METRICS_MONITOR_MESSAGES, "signed_encrypted", NULL), 1);
	ck_assert_uint_eq(metrics_value(METRICS_MONITOR_RCPT_REFUSED, "no_certificate", NULL), 1);
	ck_assert_uint_eq(metrics_value(METRICS_RCPT_REFUSED, "no_certificate", NULL), 0);
	decide_msg_free(m);

	/* monitor-header yes: the header is the one change */
	memset(&l, 0, sizeof(l));
	m = start(
	    "monitor-header yes\nsign yes\nmode monitor\n<domain partner.example>\nencrypt yes\n"
	    "</domain>\n<domain nocert.example>\nencrypt yes\n</domain>\n");
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_ENCRYPT);
	decide_recipient(m, arg, &v);
	ck_assert_int_eq(eoh_from(m, "<alice@example.com>", NULL).reply.d, DECIDE_CONTINUE);
	decide_body(m, "Hi.\r\n", 5, &v);
	decide_end_of_message(m, &mta, &v);
	ck_assert_int_eq(v.reply.d, DECIDE_CONTINUE);
	ck_assert_str_eq(l.ops, "+X-SMIME-Milter-Would: sign+encrypt; missing=1\n");
	ck_assert_uint_eq(l.len, 0);
	summary_has(m, "action=passed reason=monitor mode=monitor would=signed_encrypted",
	    (char *)NULL);
	decide_msg_free(m);

	/* an enforced recipient and a monitored one without a certificate: the enforced policy
	 * encrypts, so the monitored recipient is deferred as a mixed one */
	m = start("sign yes\n<domain partner.example>\nencrypt yes\n</domain>\n"
	          "<domain nocert.example>\nencrypt yes\nmode monitor\n</domain>\n");
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_ENCRYPT);
	rcpt_refused(m, "dave@nocert.example", DECIDE_TEMPFAIL, "451", "4.7.1", NULL);
	decide_msg_free(m);
	/* the other way round: the monitored one first is clear, the enforced one is deferred */
	m = start("sign yes\n<domain partner.example>\nencrypt yes\n</domain>\n"
	          "<domain nocert.example>\nencrypt yes\nmode monitor\n</domain>\n");
	decide_recipient(m, arg, &v);
	ck_assert_int_eq(v.reply.d, DECIDE_CONTINUE);
	rcpt_refused(m, "bob@partner.example", DECIDE_TEMPFAIL, "451", "4.7.1", NULL);
	v = eoh_from(m, "<alice@example.com>", NULL);
	ck_assert_int_eq(v.reply.d, DECIDE_PASS); /* all monitored: passes */
	decide_msg_free(m);
}
END_TEST

struct seen {
	char list[1024];
};

static void
note_signer(void *arg, const struct conf_signer *s)
{
	struct seen *seen = arg;
	size_t used = strlen(seen->list);

	snprintf(seen->list + used, sizeof(seen->list) - used, "%s%s", used ? "," : "",
	    s->identity);
}

START_TEST(test_signers)
{
	struct conf *c = load("sign yes\n");
	struct seen seen = {""};
	char when[32];

	conf_foreach_signer(c, note_signer, &seen);
	/* badmode's key is refused by the loader, broken (if written) holds none */
	ck_assert_str_eq(seen.list,
	    "alice@example.com,expired@example.com,stranger@example.com,"
	    "wrong@example.com");
	ck_assert_int_eq(conf_signer_expires_within(c, alice.cert, time(NULL), when, sizeof(when)),
	    0);
	ck_assert_int_eq(conf_signer_expires_within(c, alice.cert, time(NULL) + 340 * 86400, when,
	                     sizeof(when)),
	    1);
	conf_unref(c);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("operable");
	TCase *tc = tcase_create("operable");
	SRunner *sr;
	int failed;

	tcase_add_unchecked_fixture(tc, pki_setup, pki_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_keywords);
	tcase_add_test(tc, test_reasons);
	tcase_add_test(tc, test_summary_and_metrics);
	tcase_add_test(tc, test_monitor);
	tcase_add_test(tc, test_signers);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
