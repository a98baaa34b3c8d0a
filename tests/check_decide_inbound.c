/*
 * check_decide_inbound.c - unit tests of the receiving gateway's
 * decisions (lib/decide_inbound.c) on configurations read by the real
 * parser: the mixed-decryption deferral at RCPT, what the end of the
 * headers decides for plain, S/MIME and forged mail, every
 * on-undecryptable action with its reply from the table built at load,
 * internal failures under on-error, and the keys a message's recipients
 * bring.  Assertions on outcome, code pair, reply text and log line.
 */
#include "config.h"

/* the fixture is check_decide's; this program uses a part of it */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "decide_fixture.h"
#pragma GCC diagnostic pop
#include "decide_inbound.h"
#include "inbound.h"

static char gwkey[400];

static void
setup(void)
{
	pki_setup();
	snprintf(gwkey, sizeof(gwkey), "%s/gateway.key", dir);
	put(dir, "gateway.key", 0600, gw.key, gw.cert, NULL);
}

/* A message from outside (192.0.2.1) on the configuration text (authserv-id and verify set). */
static struct decide_msg *
outside(const char *text)
{
	struct sockaddr_in sin = client_addr("192.0.2.1");
	struct decide_verdict v;
	struct decide_msg *m;
	char full[4096];

	snprintf(full, sizeof(full),
	    "internal-hosts 127.0.0.1\nauthserv-id mx.example.com\n"
	    "<domain example.com>\n decrypt yes\n verify yes\n decryption-key %s\n%s</domain>\n"
	    "<domain other.example>\n verify yes\n</domain>\n%s",
	    gwkey, strstr(text, "on-undecryptable") == text ? text : "",
	    strstr(text, "on-undecryptable") == text ? "" : text);
	m = decide_msg_new(load(full), 0);
	ck_assert_ptr_nonnull(m);
	decide_msg_set_qid(m, "TESTQID");
	decide_client(m, (struct sockaddr *)&sin, 0, NULL, &v);
	ck_assert_int_eq(v.reply.d, DECIDE_CONTINUE);
	ck_assert_int_eq(m->inbound, 1);
	return m;
}

static void
in_rcpt(struct decide_msg *m, const char *arg)
{
	struct decide_verdict v;

	decide_inbound_recipient(m, arg, &v);
	ck_assert_msg(v.reply.d == DECIDE_CONTINUE, "%s: %s", arg, v.log);
	ck_assert_str_eq(v.log, "");
}

/* Recipients with and without decryption cannot share one body: the later one is deferred. */
START_TEST(test_mixed_decryption)
{
	struct decide_msg *m = outside("");
	struct decide_verdict v;

	in_rcpt(m, "<bob@example.com>");
	in_rcpt(m, "postmaster"); /* local: nothing to decide, not counted */
	ck_assert_uint_eq(m->nrcpt, 1);
	ck_assert_int_eq(m->pol.decrypt, 1);
	decide_inbound_recipient(m, "<carol@other.example>", &v);
	expect(&v, DECIDE_TEMPFAIL, "451", "4.7.1",
	    "recipients with and without S/MIME decryption: send to this one in a separate "
	    "message");
	ck_assert_str_eq(v.why, "mixed");
	ck_assert_int_eq(v.level, LOG_NOTICE);
	ck_assert_str_eq(v.log,
	    "deferred recipient <carol@other.example>: decrypt no, the "
	    "message's other recipients yes");
	ck_assert_uint_eq(m->nrcpt, 1);
	ck_assert_uint_eq(m->nrefused, 1);
	ck_assert_str_eq(m->refused[0].addr, "carol@other.example");
	in_rcpt(m, "<alice@example.com>");
	ck_assert_uint_eq(m->nrcpt, 2);
	decide_msg_free(m);
}
END_TEST

static void
eoh(struct decide_msg *m, const char *ct, const char *ar, struct decide_verdict *v)
{
	header(m, "From", "zoe@outside.example");
	if (ar != NULL)
		header(m, "Authentication-Results", ar);
	header(m, "Content-Type", ct);
	decide_inbound_eoh(m, v);
}

START_TEST(test_end_of_headers)
{
	struct decide_msg *m = outside("");
	struct decide_verdict v;

	in_rcpt(m, "<bob@example.com>");
	eoh(m, "text/plain", NULL, &v);
	expect_pass(&v, "passed from outside: not S/MIME");
	ck_assert_ptr_null(m->body);
	decide_msg_free(m);

	m = outside("");
	in_rcpt(m, "<bob@example.com>");
	eoh(m, "application/pkcs7-mime; smime-type=enveloped-data", NULL, &v);
	ck_assert_int_eq(v.reply.d, DECIDE_CONTINUE);
	ck_assert_str_eq(v.log, "");
	ck_assert_ptr_nonnull(m->body);
	decide_msg_free(m);

	/* not S/MIME, but a forged result to remove: the message goes on, without a body */
	m = outside("");
	in_rcpt(m, "<bob@example.com>");
	eoh(m, "text/plain", "MX.example.com; smime=pass body.smime-identifier=bob@example.com",
	    &v);
	ck_assert_int_eq(v.reply.d, DECIDE_CONTINUE);
	ck_assert_ptr_null(m->body);
	ck_assert_int_eq(decide_inbound_is_forged(m->conf, &m->headers.v[1]), 1);
	ck_assert_int_eq(decide_inbound_is_forged(m->conf, &m->headers.v[0]), 0);
	decide_msg_free(m);

	/* someone else's result is no forgery; with a recipient that needs nothing: pass */
	m = outside("");
	in_rcpt(m, "<carol@other.example>");
	eoh(m, "multipart/encrypted; protocol=\"application/pgp-encrypted\"",
	    "mx.other.example; smime=pass", &v);
	expect_pass(&v, "passed from outside: not S/MIME");
	decide_msg_free(m);
}
END_TEST

/* Each on-undecryptable action, with the reply from the table and the log line. */
START_TEST(test_undecryptable)
{
	static const struct {
		const char *conf;
		enum envelope_result why;
		enum decide_outcome d;
		const char *code, *xcode, *text, *log;
		int level;
	} cases[] = {
	    {"", ENVELOPE_NO_KEY, DECIDE_CONTINUE, "", "", "",
	        "not decrypted: not encrypted for a key we hold: the reason (on-undecryptable pass)",
	        LOG_WARNING},
	    {"on-undecryptable tempfail\n", ENVELOPE_NO_KEY, DECIDE_TEMPFAIL, "451", "4.7.5",
	        "cannot decrypt this S/MIME message: not encrypted for a key we hold, try again "
	        "later",
	        "not decrypted: not encrypted for a key we hold: the reason (on-undecryptable "
	        "tempfail)",
	        LOG_NOTICE},
	    {"on-undecryptable tempfail\n", ENVELOPE_UNSUPPORTED, DECIDE_TEMPFAIL, "451", "4.7.6",
	        "cannot decrypt this S/MIME message: unsupported algorithm, try again later",
	        "not decrypted: unsupported algorithm: the reason (on-undecryptable tempfail)",
	        LOG_NOTICE},
	    {"on-undecryptable reject\n", ENVELOPE_CORRUPT, DECIDE_REJECT, "550", "5.7.5",
	        "cannot decrypt this S/MIME message: corrupt",
	        "not decrypted: corrupt: the reason (on-undecryptable reject)", LOG_NOTICE},
	    {"on-undecryptable reject\n", ENVELOPE_UNSUPPORTED, DECIDE_REJECT, "550", "5.7.6",
	        "cannot decrypt this S/MIME message: unsupported algorithm",
	        "not decrypted: unsupported algorithm: the reason (on-undecryptable reject)",
	        LOG_NOTICE},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct decide_msg *m = outside(cases[i].conf);
		struct inbound_result r;
		struct decide_verdict v;

		memset(&r, 0, sizeof(r));
		r.encrypted = 1;
		r.decryption = cases[i].why;
		snprintf(r.reason, sizeof(r.reason), "the reason");
		in_rcpt(m, "<bob@example.com>");
		ck_assert_int_eq(decide_inbound_undecryptable(m, &r, &v), 1);
		expect(&v, cases[i].d, cases[i].code, cases[i].xcode, cases[i].text);
		ck_assert_str_eq(v.log, cases[i].log);
		ck_assert_int_eq(v.level, cases[i].level);
		if (cases[i].d != DECIDE_CONTINUE) {
			ck_assert_str_eq(v.why, "undecryptable");
			ck_assert_str_eq(m->why, "undecryptable");
			ck_assert_str_eq(m->end_reply.code, cases[i].code);
		} else {
			ck_assert_ptr_null(m->outcome);
		}
		decide_msg_free(m);
	}
}
END_TEST

/* A message that was decrypted, or not encrypted, is no case for on-undecryptable. */
START_TEST(test_not_undecryptable)
{
	struct decide_msg *m = outside("on-undecryptable reject\n");
	struct inbound_result r;
	struct decide_verdict v;

	memset(&r, 0, sizeof(r));
	in_rcpt(m, "<bob@example.com>");
	r.encrypted = 1;
	r.decryption = ENVELOPE_OK;
	ck_assert_int_eq(decide_inbound_undecryptable(m, &r, &v), 0);
	ck_assert_int_eq(v.reply.d, DECIDE_CONTINUE);
	ck_assert_str_eq(v.log, "");
	r.encrypted = 0;
	r.decryption = ENVELOPE_NOT_ENVELOPED;
	ck_assert_int_eq(decide_inbound_undecryptable(m, &r, &v), 0);
	ck_assert_int_eq(decide_inbound_wants_ar(m, &r), 0); /* no signature checked */
	r.smime = INBOUND_SMIME_FAIL;
	ck_assert_int_eq(decide_inbound_wants_ar(m, &r), 1);
	ck_assert_int_eq(decide_inbound_wants_keys(m), 1);
	ck_assert_ptr_null(m->outcome);
	decide_msg_free(m);

	/* multipart/signed needs no keys; a recipient without decrypt neither */
	m = outside("");
	in_rcpt(m, "<bob@example.com>");
	header(m, "Content-Type", "multipart/signed; protocol=\"application/pkcs7-signature\"");
	ck_assert_int_eq(decide_inbound_wants_keys(m), 0);
	decide_msg_free(m);
	m = outside("");
	in_rcpt(m, "<carol@other.example>");
	ck_assert_int_eq(decide_inbound_wants_keys(m), 0);
	decide_msg_free(m);
}
END_TEST

/* Internal failures follow on-error; the keys of the recipients are loaded once each. */
START_TEST(test_fail_and_keys)
{
	struct decide_msg *m = outside("on-error reject\n");
	struct decide_keyring k;
	struct inbound_options o;
	struct decide_verdict v;
	char err[600];
	FILE *f;

	decide_inbound_fail(m, "S/MIME processing failed, try again later", "disk full", &v);
	expect(&v, DECIDE_REJECT, "550", "5.7.0", "S/MIME processing failed, try again later");
	ck_assert_str_eq(v.log, "rejected: S/MIME processing failed, try again later: disk full");
	ck_assert_str_eq(m->why, "internal");
	decide_msg_free(m);

	m = outside("");
	decide_inbound_fail(m, "out of memory, try again later", "spool", &v);
	expect(&v, DECIDE_TEMPFAIL, "451", "4.7.0", "out of memory, try again later");
	decide_msg_free(m);

	m = outside("");
	in_rcpt(m, "<bob@example.com>");
	in_rcpt(m, "<alice@example.com>");
	memset(&k, 0, sizeof(k));
	ck_assert_int_eq(decide_keyring_load(m, &k, err, sizeof(err)), 0);
	ck_assert_uint_eq(k.n, 1); /* the domain's gateway key, once for both */
	ck_assert_int_eq(X509_cmp(k.id[0].cert, gw.cert), 0);
	decide_inbound_options(m, &k, &o);
	ck_assert_int_eq(o.decrypt, 1);
	ck_assert_int_eq(o.verify, 1);
	ck_assert_uint_eq(o.nkeys, 1);
	ck_assert_ptr_nonnull(o.trust);
	decide_keyring_free(&k);
	decide_msg_free(m);

	m = outside("");
	in_rcpt(m, "<bob@example.com>");
	f = fopen(gwkey, "w"); /* the key file broken after the configuration was loaded */
	ck_assert_ptr_nonnull(f);
	fputs("not a key\n", f);
	fclose(f);
	memset(&k, 0, sizeof(k));
	ck_assert_int_eq(decide_keyring_load(m, &k, err, sizeof(err)), -1);
	ck_assert_msg(strncmp(err, "decryption key ", 15) == 0 && strstr(err, gwkey) != NULL, "%s",
	    err);
	decide_keyring_free(&k);
	decide_msg_free(m);
	put(dir, "gateway.key", 0600, gw.key, gw.cert, NULL);
}
END_TEST

static Suite *
decide_inbound_suite(void)
{
	Suite *s = suite_create("decide_inbound");
	TCase *tc = tcase_create("decide_inbound");

	tcase_add_unchecked_fixture(tc, setup, pki_teardown);
	tcase_add_test(tc, test_mixed_decryption);
	tcase_add_test(tc, test_end_of_headers);
	tcase_add_test(tc, test_undecryptable);
	tcase_add_test(tc, test_not_undecryptable);
	tcase_add_test(tc, test_fail_and_keys);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(decide_inbound_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
