/*
 * check_decide.c - unit tests of the milter's core decisions (decide.h),
 * stage by stage as the MTA calls them, on configurations read by the
 * real parser and certificates and keys made at test time (testpki.h) in
 * a private directory: the replies of a configuration, the client rule,
 * the missing-cert actions, the mixed-recipient deferral (ENCRYPT against
 * CLEAR, the first accepted sets the kind), strictest-wins and the
 * <sender> block, the virtual-MTA re-decision at the end of the headers,
 * unknown-virtual-mta, missing-key and a signing identity that may not
 * sign, on-error, and a whole message through decide_end_of_message,
 * decrypted again with OpenSSL.  Every assertion is on the outcome, the
 * SMTP code pair, the exact reply text or log line.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>

#include "decide_fixture.h"

/* ---- the replies of a configuration ---- */

static void
reply_is(const struct decide_reply *r, enum decide_outcome d, const char *code, const char *xcode)
{
	ck_assert_int_eq(r->d, d);
	ck_assert_str_eq(r->code, code);
	ck_assert_str_eq(r->xcode, xcode);
}

START_TEST(test_replies)
{
	struct conf *c = load("");
	const struct decide_replies *r = &c->replies;

	reply_is(&r->on_error, DECIDE_TEMPFAIL, "451", "4.7.0");
	reply_is(&r->missing_cert[POLICY_MISSING_CERT_REJECT], DECIDE_REJECT, "550", "5.7.1");
	reply_is(&r->missing_cert[POLICY_MISSING_CERT_TEMPFAIL], DECIDE_TEMPFAIL, "451", "4.7.1");
	reply_is(&r->missing_cert[POLICY_MISSING_CERT_PLAIN], DECIDE_CONTINUE, "", "");
	reply_is(&r->missing_cert[POLICY_MISSING_CERT_SIGN_ONLY], DECIDE_CONTINUE, "", "");
	reply_is(&r->lookup_failed, DECIDE_TEMPFAIL, "451", "4.7.1");
	reply_is(&r->defer, DECIDE_TEMPFAIL, "451", "4.7.1");
	reply_is(&r->bad_address, DECIDE_REJECT, "550", "5.7.1");
	reply_is(&r->vmta_conflict, DECIDE_REJECT, "550", "5.7.1");
	reply_is(&r->missing_key[POLICY_MISSING_KEY_TEMPFAIL], DECIDE_TEMPFAIL, "451", "4.7.0");
	reply_is(&r->missing_key[POLICY_MISSING_KEY_REJECT], DECIDE_REJECT, "550", "5.7.0");
	reply_is(&r->missing_key[POLICY_MISSING_KEY_UNSIGNED], DECIDE_CONTINUE, "", "");
	reply_is(&r->unknown_vmta, DECIDE_TEMPFAIL, "451", "4.7.1");
	conf_unref(c);
	c = load("on-error reject\nunknown-virtual-mta reject\n");
	reply_is(&c->replies.on_error, DECIDE_REJECT, "550", "5.7.0");
	reply_is(&c->replies.unknown_vmta, DECIDE_REJECT, "550", "5.7.1");
	conf_unref(c);
	c = load("on-error tempfail\nunknown-virtual-mta pass\n");
	reply_is(&c->replies.on_error, DECIDE_TEMPFAIL, "451", "4.7.0");
	reply_is(&c->replies.unknown_vmta, DECIDE_CONTINUE, "", "");
	conf_unref(c);
}
END_TEST

/* ---- MAIL FROM ---- */

START_TEST(test_client)
{
	struct sockaddr_in out = client_addr("192.0.2.7"), in = client_addr("127.0.0.1");
	struct decide_verdict v;
	struct decide_msg *m;

	/* from outside, not authenticated: passes at the first RCPT, logged there */
	m = decide_msg_new(load("encrypt yes\n"), 0);
	decide_client(m, (struct sockaddr *)&out, 0, NULL, &v);
	ck_assert_int_eq(v.reply.d, DECIDE_CONTINUE);
	decide_recipient(m, "<bob@partner.example>", &v);
	expect_pass(&v, "passed: client is neither internal nor authenticated");
	decide_msg_free(m);
	/* from outside but authenticated: processed */
	m = decide_msg_new(load("encrypt yes\n"), 0);
	decide_client(m, (struct sockaddr *)&out, 1, NULL, &v);
	ck_assert_int_eq(v.reply.d, DECIDE_CONTINUE);
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_ENCRYPT);
	decide_msg_free(m);
	/* internal, but no scope signs or encrypts: passes at once, unlogged */
	m = decide_msg_new(load("<domain partner.example>\nencrypt no\n</domain>\n"), 0);
	ck_assert_int_eq(decide_anything_to_do(m->conf), 0);
	decide_client(m, (struct sockaddr *)&in, 0, NULL, &v);
	ck_assert_int_eq(v.reply.d, DECIDE_PASS);
	ck_assert_str_eq(v.log, "");
	decide_msg_free(m);
	/* any scope that acts counts, nested ones too */
	m = decide_msg_new(load("<virtual-mta v>\n<domain x.example>\nsign yes\n</domain>\n"
	                        "</virtual-mta>\n"),
	    0);
	ck_assert_int_eq(decide_anything_to_do(m->conf), 1);
	decide_msg_free(m);
	/* from outside with harvest-dir: kept for the signer's certificate only */
	{
		char text[600];
		snprintf(text, sizeof(text), "harvest-dir %s\nencrypt yes\n", harvdir);
		m = decide_msg_new(load(text), 0);
	}
	decide_client(m, (struct sockaddr *)&out, 0, NULL, &v);
	ck_assert_int_eq(m->harvest, 1);
	decide_recipient(m, "<nobody@nocert.example>", &v);
	ck_assert_int_eq(v.reply.d, DECIDE_CONTINUE);
	ck_assert_uint_eq(m->nrcpt, 0);
	v = eoh_from(m, "Zoe <zoe@outside.example>", NULL);
	expect_pass(&v, "passed from outside; not harvested: not an S/MIME signed message");
	decide_msg_free(m);
}
END_TEST

START_TEST(test_recipient_addresses)
{
	struct decide_msg *m = start("encrypt yes\n");
	struct decide_verdict v;

	/* a local recipient never leaves: accepted, not one of the message's */
	decide_recipient(m, "<postmaster>", &v);
	ck_assert_int_eq(v.reply.d, DECIDE_CONTINUE);
	ck_assert_uint_eq(m->nrcpt, 0);
	decide_recipient(m, "<@>", &v);
	expect(&v, DECIDE_REJECT, "550", "5.7.1", "recipient address cannot be used for S/MIME");
	ck_assert_str_eq(v.log, "rejected recipient <@>: not a usable address");
	ck_assert_uint_eq(m->nrcpt, 0);
	/* by subjectAltName (file carol-by-san.pem), domain case-insensitive */
	rcpt_ok(m, "carol@PARTNER.example", DECIDE_RCPT_ENCRYPT);
	ck_assert_int_eq(X509_cmp(m->rcpts[0].cert, carol.cert), 0);
	ck_assert_str_eq(m->rcpts[0].domain, "partner.example");
	decide_msg_free(m);
}
END_TEST

/* ---- missing-cert ---- */

static const char *missing_cert_conf =
    "<domain reject.example>\nencrypt yes\nmissing-cert reject\n</domain>\n"
    "<domain tempfail.example>\nencrypt yes\nmissing-cert tempfail\n</domain>\n"
    "<domain plain.example>\nencrypt yes\nmissing-cert plain\n</domain>\n"
    "<domain signonly.example>\nencrypt yes\nmissing-cert sign-only\n</domain>\n";

START_TEST(test_missing_cert)
{
	struct decide_msg *m = start(missing_cert_conf);
	struct decide_verdict v;

	v = rcpt_refused(m, "rita@reject.example", DECIDE_REJECT, "550", "5.7.1",
	    "<rita@reject.example>: no usable S/MIME certificate for this recipient");
	ck_assert_str_eq(v.log,
	    "rejected recipient <rita@reject.example>: "
	    "no certificate for rita@reject.example");
	ck_assert_int_eq(v.level, LOG_NOTICE);
	v = rcpt_refused(m, "tom@tempfail.example", DECIDE_TEMPFAIL, "451", "4.7.1",
	    "<tom@tempfail.example>: no usable S/MIME certificate for this recipient yet, "
	    "try again later");
	ck_assert_str_eq(v.log,
	    "tempfail recipient <tom@tempfail.example>: "
	    "no certificate for tom@tempfail.example");
	/* plain: accepted, the message is not encrypted, and here not signed: it passes */
	rcpt_ok(m, "pat@plain.example", DECIDE_RCPT_CLEAR);
	ck_assert_int_eq(m->rcpts[0].force_sign, 0);
	v = eoh_from(m, "Alice <alice@example.com>", NULL);
	expect_pass(&v, "passed: policy neither signs nor encrypts");
	decide_msg_free(m);
	/* sign-only: accepted, the message is signed and not encrypted */
	m = start(missing_cert_conf);
	rcpt_ok(m, "sam@signonly.example", DECIDE_RCPT_CLEAR);
	ck_assert_int_eq(m->rcpts[0].force_sign, 1);
	v = eoh_from(m, "Alice <alice@example.com>", NULL);
	ck_assert_msg(v.reply.d == DECIDE_CONTINUE, "%s", v.log);
	ck_assert_int_eq(m->pol.sign, 1);
	ck_assert_int_eq(m->pol.encrypt, 0);
	ck_assert_int_eq(X509_cmp(m->signer.cert, alice.cert), 0);
	ck_assert_ptr_null(m->recips);
	decide_msg_free(m);
}
END_TEST

START_TEST(test_domain_cert)
{
	char text[600];
	struct decide_msg *m;

	snprintf(text, sizeof(text),
	    "<domain gw.example>\nencrypt yes\ndomain-cert %s\n</domain>\n", gwfile);
	m = start(text);
	rcpt_ok(m, "anyone@gw.example", DECIDE_RCPT_ENCRYPT);
	rcpt_ok(m, "other@gw.example", DECIDE_RCPT_ENCRYPT);
	ck_assert_int_eq(X509_cmp(m->rcpts[0].cert, gw.cert), 0);
	ck_assert_int_eq(eoh_from(m, "alice@example.com", NULL).reply.d, DECIDE_CONTINUE);
	ck_assert_int_eq(sk_X509_num(m->recips), 1); /* the gateway certificate once */
	decide_msg_free(m);
}
END_TEST

/* ---- one body: ENCRYPT and CLEAR do not mix ---- */

static const char *mixed_conf =
    "<domain partner.example>\nencrypt yes\n</domain>\n"
    "<domain nocert.example>\nencrypt yes\nmissing-cert plain\n</domain>\n";

START_TEST(test_mixed_encrypt_first)
{
	struct decide_msg *m = start(mixed_conf);
	struct decide_verdict v;

	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_ENCRYPT);
	v = rcpt_refused(m, "dave@nocert.example", DECIDE_TEMPFAIL, "451", "4.7.1",
	    "<dave@nocert.example>: no S/MIME certificate, and this message is encrypted for "
	    "earlier recipients; send it in a separate message");
	ck_assert_str_eq(v.log,
	    "deferred recipient <dave@nocert.example>: no certificate for "
	    "dave@nocert.example, message is encrypted");
	/* a recipient with a certificate and no encryption policy fits either way */
	rcpt_ok(m, "frank@flex.example", DECIDE_RCPT_FLEX);
	v = eoh_from(m, "alice@example.com", NULL);
	ck_assert_int_eq(v.reply.d, DECIDE_CONTINUE);
	ck_assert_int_eq(m->pol.encrypt, 1);
	ck_assert_int_eq(m->pol.sign, 0);
	ck_assert_int_eq(sk_X509_num(m->recips), 2); /* bob and frank */
	decide_msg_free(m);
}
END_TEST

START_TEST(test_mixed_clear_first)
{
	struct decide_msg *m = start(mixed_conf);
	struct decide_verdict v;

	/* a FLEX recipient sets no kind; the first CLEAR one does */
	rcpt_ok(m, "frank@flex.example", DECIDE_RCPT_FLEX);
	rcpt_ok(m, "dave@nocert.example", DECIDE_RCPT_CLEAR);
	v = rcpt_refused(m, "bob@partner.example", DECIDE_TEMPFAIL, "451", "4.7.1",
	    "<bob@partner.example>: must be encrypted, but earlier recipients of this message "
	    "cannot be; send it in a separate message");
	ck_assert_str_eq(v.log,
	    "deferred recipient <bob@partner.example>: needs encryption, "
	    "message is unencrypted");
	v = eoh_from(m, "alice@example.com", NULL);
	expect_pass(&v, "passed: policy neither signs nor encrypts");
	decide_msg_free(m);
}
END_TEST

/* ---- strictest wins, then <sender> ---- */

START_TEST(test_strictest_wins)
{
	struct decide_msg *m =
	    start("sign yes\n"
	          "<domain a.example>\nencrypt yes\ncipher aes-128-cbc\ndigest sha256\n"
	          "missing-key unsigned\n</domain>\n"
	          "<domain b.example>\nencrypt yes\ncipher aes-256-gcm\ndigest sha512\n"
	          "key-transport rsa-oaep\nsign-format opaque\nheader-protection yes\n"
	          "missing-key reject\n</domain>\n");
	struct decide_verdict v;

	rcpt_ok(m, "ann@a.example", DECIDE_RCPT_ENCRYPT);
	rcpt_ok(m, "ben@b.example", DECIDE_RCPT_ENCRYPT);
	v = eoh_from(m, "alice@example.com", NULL);
	ck_assert_msg(v.reply.d == DECIDE_CONTINUE, "%s", v.log);
	ck_assert_int_eq(m->pol.sign, 1);
	ck_assert_int_eq(m->pol.encrypt, 1);
	ck_assert_int_eq(EVP_CIPHER_get_nid(m->pol.cipher), NID_aes_256_gcm);
	ck_assert_int_eq(EVP_MD_get_type(m->pol.digest), NID_sha512);
	ck_assert_int_eq(m->pol.key_transport, SMIME_KT_RSA_OAEP);
	ck_assert_int_eq(m->pol.sign_format, SMIME_SIGN_OPAQUE);
	ck_assert_int_eq(m->pol.header_protection, 1);
	ck_assert_int_eq(m->pol.missing_key, POLICY_MISSING_KEY_REJECT);
	ck_assert_int_eq(sk_X509_num(m->recips), 2);
	decide_msg_free(m);
	/* the strictest missing-key applies: reject beats unsigned */
	m = start("sign yes\n<domain a.example>\nmissing-key unsigned\n</domain>\n"
	          "<domain b.example>\nmissing-key reject\n</domain>\n");
	rcpt_ok(m, "ann@a.example", DECIDE_RCPT_FLEX);
	rcpt_ok(m, "ben@b.example", DECIDE_RCPT_FLEX);
	v = eoh_from(m, "nokey@example.com", NULL);
	expect(&v, DECIDE_REJECT, "550", "5.7.0", "no S/MIME signing key for <nokey@example.com>");
	decide_msg_free(m);
}
END_TEST

START_TEST(test_sender_block)
{
	struct decide_msg *m = start(
	    "<domain partner.example>\nsign yes\ndigest sha512\nsign-format opaque\n</domain>\n"
	    "<domain flex.example>\nencrypt yes\n</domain>\n"
	    "<sender example.com>\nsign no\ndigest sha384\nsign-format detached\n"
	    "encrypt-to-sender yes\n</sender>\n"
	    "<sender solo@example.com>\nsign yes\n</sender>\n");
	struct decide_verdict v;

	/* what the block sets replaces the recipients' value, but "sign no" takes nothing away */
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_FLEX);
	rcpt_ok(m, "frank@flex.example", DECIDE_RCPT_ENCRYPT);
	v = eoh_from(m, "Alice <alice@example.com>", NULL);
	ck_assert_msg(v.reply.d == DECIDE_CONTINUE, "%s", v.log);
	ck_assert_int_eq(m->pol.sign, 1);
	ck_assert_int_eq(EVP_MD_get_type(m->pol.digest), NID_sha384);
	ck_assert_int_eq(m->pol.sign_format, SMIME_SIGN_DETACHED);
	ck_assert_int_eq(sk_X509_num(m->recips), 3); /* bob, frank and alice herself */
	decide_msg_free(m);
	/* a sender's "sign yes" signs mail whose recipients' policy does not */
	m = start("<domain flex.example>\nencrypt yes\n</domain>\n"
	          "<sender solo@example.com>\nsign yes\nmissing-key reject\n</sender>\n");
	rcpt_ok(m, "frank@flex.example", DECIDE_RCPT_ENCRYPT);
	v = eoh_from(m, "solo@example.com", NULL);
	expect(&v, DECIDE_REJECT, "550", "5.7.0", "no S/MIME signing key for <solo@example.com>");
	decide_msg_free(m);
}
END_TEST

/* ---- the virtual MTA header ---- */

static const char *vmta_conf =
    "<virtual-mta secure-out>\nencrypt yes\n<domain *>\nmissing-cert reject\n</domain>\n"
    "</virtual-mta>\n"
    "<virtual-mta soft-out>\nencrypt yes\n<domain *>\nmissing-cert tempfail\n</domain>\n"
    "</virtual-mta>\n"
    "<virtual-mta mixed-out>\n<domain partner.example>\nencrypt yes\n</domain>\n"
    "<domain nocert.example>\nencrypt yes\nmissing-cert plain\n</domain>\n</virtual-mta>\n";

/* bob (certificate) and dave (none), decided at RCPT without a virtual MTA */
static struct decide_msg *
vmta_message(void)
{
	struct decide_msg *m = start(vmta_conf);

	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_FLEX);
	rcpt_ok(m, "dave@nocert.example", DECIDE_RCPT_CLEAR);
	return m;
}

START_TEST(test_vmta_redecide)
{
	struct decide_msg *m = vmta_message();
	struct decide_verdict v;

	v = eoh_from(m, "alice@example.com", " secure-out ");
	expect(&v, DECIDE_REJECT, "550", "5.7.1",
	    "no usable S/MIME certificate for <dave@nocert.example> (virtual MTA secure-out)");
	ck_assert_str_eq(v.log,
	    "rejected: virtual MTA secure-out: no usable S/MIME certificate for "
	    "<dave@nocert.example> (virtual MTA secure-out)");
	ck_assert_int_eq(v.level, LOG_NOTICE);
	decide_msg_free(m);

	m = vmta_message();
	v = eoh_from(m, "alice@example.com", "soft-out");
	expect(&v, DECIDE_TEMPFAIL, "451", "4.7.1",
	    "no usable S/MIME certificate yet for <dave@nocert.example> (virtual MTA soft-out), "
	    "try again later");
	decide_msg_free(m);

	m = vmta_message();
	v = eoh_from(m, "alice@example.com", "mixed-out");
	expect(&v, DECIDE_REJECT, "550", "5.7.1",
	    "virtual MTA mixed-out encrypts this message but <dave@nocert.example> cannot receive "
	    "it encrypted; send to them separately");
	decide_msg_free(m);

	/* every recipient fits the new virtual MTA: encrypted, and it is the message's now */
	m = start(vmta_conf);
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_FLEX);
	rcpt_ok(m, "erin@bank.example", DECIDE_RCPT_FLEX);
	v = eoh_from(m, "alice@example.com", "Secure-Out");
	ck_assert_msg(v.reply.d == DECIDE_CONTINUE, "%s", v.log);
	ck_assert_str_eq(m->vmta, "Secure-Out");
	ck_assert_int_eq(m->pol.encrypt, 1);
	ck_assert_int_eq(sk_X509_num(m->recips), 2);
	decide_msg_free(m);

	/* the header names the virtual MTA of the RCPT decisions (macro): nothing decided again */
	m = start_vmta(vmta_conf, "mixed-out");
	rcpt_ok(m, "dave@nocert.example", DECIDE_RCPT_CLEAR);
	v = eoh_from(m, "alice@example.com", "MIXED-OUT");
	expect_pass(&v, "passed: policy neither signs nor encrypts");
	decide_msg_free(m);
}
END_TEST

START_TEST(test_unknown_vmta)
{
	static const char *blocks = "<virtual-mta secure-out>\nencrypt yes\n</virtual-mta>\n";
	char text[400];
	struct decide_msg *m;
	struct decide_verdict v;

	m = start(blocks); /* unknown-virtual-mta tempfail, the default */
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_FLEX);
	capture_start();
	v = eoh_from(m, "alice@example.com", "secure-ot");
	ck_assert(capture_has("TESTQID: unknown virtual MTA \"secure-ot\": no <virtual-mta> block "
	                      "defines it (unknown-virtual-mta tempfail)"));
	expect(&v, DECIDE_TEMPFAIL, "451", "4.7.1",
	    "unknown virtual MTA \"secure-ot\", try again later");
	ck_assert_str_eq(v.log, "tempfail: unknown virtual MTA \"secure-ot\"");
	decide_msg_free(m);

	snprintf(text, sizeof(text), "unknown-virtual-mta reject\n%s", blocks);
	m = start(text);
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_FLEX);
	v = eoh_from(m, "alice@example.com", "secure-ot");
	expect(&v, DECIDE_REJECT, "550", "5.7.1", "unknown virtual MTA \"secure-ot\"");
	ck_assert_str_eq(v.log, "rejected: unknown virtual MTA \"secure-ot\"");
	decide_msg_free(m);

	/* named by the macro at MAIL FROM, no header: the same rule */
	m = start_vmta(text, "secure-ot");
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_FLEX);
	v = eoh_from(m, "alice@example.com", NULL);
	expect(&v, DECIDE_REJECT, "550", "5.7.1", "unknown virtual MTA \"secure-ot\"");
	decide_msg_free(m);

	/* pass: the policy without a virtual MTA, the name on the log line */
	snprintf(text, sizeof(text), "unknown-virtual-mta pass\n%s", blocks);
	m = start(text);
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_FLEX);
	v = eoh_from(m, "alice@example.com", "secure-ot");
	expect_pass(&v,
	    "passed: policy neither signs nor encrypts (unknown virtual MTA \"secure-ot\")");
	decide_msg_free(m);
	snprintf(text, sizeof(text),
	    "unknown-virtual-mta pass\n<domain partner.example>\nencrypt yes\n</domain>\n%s",
	    blocks);
	m = start(text);
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_ENCRYPT);
	v = eoh_from(m, "alice@example.com", "secure-ot");
	ck_assert_msg(v.reply.d == DECIDE_CONTINUE, "%s", v.log);
	ck_assert_int_eq(m->pol.encrypt, 1);
	decide_msg_free(m);

	/* no <virtual-mta> block and the keyword not given: any name is fine */
	m = start("<domain partner.example>\nencrypt yes\n</domain>\n");
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_ENCRYPT);
	ck_assert_int_eq(eoh_from(m, "alice@example.com", "anything").reply.d, DECIDE_CONTINUE);
	decide_msg_free(m);
}
END_TEST

/* ---- missing-key, and identities that may not sign ---- */

static const char *sign_conf = "sign yes\n";

START_TEST(test_missing_key)
{
	char text[400];
	struct decide_msg *m;
	struct decide_verdict v;

	m = start(sign_conf); /* missing-key tempfail, the default */
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_FLEX);
	v = eoh_from(m, "No Key <nokey@example.com>", NULL);
	expect(&v, DECIDE_TEMPFAIL, "451", "4.7.0",
	    "no S/MIME signing key for <nokey@example.com>");
	{
		const char *head = "tempfail: no S/MIME signing key for <nokey@example.com>: ";
		ck_assert_msg(strncmp(v.log, head, strlen(head)) == 0, "%s", v.log);
	}
	decide_msg_free(m);

	snprintf(text, sizeof(text), "%smissing-key reject\n", sign_conf);
	m = start(text);
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_FLEX);
	v = eoh_from(m, "nokey@example.com", NULL);
	expect(&v, DECIDE_REJECT, "550", "5.7.0", "no S/MIME signing key for <nokey@example.com>");
	decide_msg_free(m);

	/* unsigned: a warning, and with nothing else to do the message passes */
	m = start("sign yes\n<sender nokey@example.com>\nmissing-key unsigned\n</sender>\n");
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_FLEX);
	capture_start();
	v = eoh_from(m, "nokey@example.com", NULL);
	ck_assert(
	    capture_has("TESTQID: no signing key for <nokey@example.com>, sending unsigned: "));
	expect_pass(&v, "passed: unsigned (no signing key) and not encrypted");
	decide_msg_free(m);

	/* unsigned, and encrypted all the same */
	m = start("sign yes\nencrypt yes\nmissing-key unsigned\n");
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_ENCRYPT);
	v = eoh_from(m, "nokey@example.com", NULL);
	ck_assert_msg(v.reply.d == DECIDE_CONTINUE, "%s", v.log);
	ck_assert_int_eq(m->pol.sign, 0);
	ck_assert_int_eq(m->pol.encrypt, 1);
	ck_assert_ptr_null(m->signer.key);
	decide_msg_free(m);
}
END_TEST

/* The missing-key reject verdict for from; its log line must contain why. */
static void
signer_refused(const char *text, const char *from, const char *why)
{
	struct decide_msg *m = start(text);
	struct decide_verdict v;
	char want[300];

	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_FLEX);
	v = eoh_from(m, from, NULL);
	snprintf(want, sizeof(want), "no S/MIME signing key for <%s>", from);
	expect(&v, DECIDE_REJECT, "550", "5.7.0", want);
	ck_assert_msg(strstr(v.log, why) != NULL, "%s", v.log);
	ck_assert_ptr_null(m->signer.key);
	decide_msg_free(m);
}

START_TEST(test_signer_may_not_sign)
{
	char when[32], why[400];

	certstore_time(X509_get0_notAfter(expired.cert), 0, when, sizeof(when));
	snprintf(why, sizeof(why), "%s/expired@example.com.pem: signing certificate expired on %s",
	    keydir, when);
	signer_refused("sign yes\nmissing-key reject\n", "expired@example.com", why);
	snprintf(why, sizeof(why),
	    "%s/wrong@example.com.pem: signing certificate does not name <wrong@example.com>",
	    keydir);
	signer_refused("sign yes\nmissing-key reject\n", "wrong@example.com", why);
	snprintf(why, sizeof(why),
	    "%s/stranger@example.com.pem: signing certificate is not trusted", keydir);
	signer_refused("sign yes\nmissing-key reject\n", "stranger@example.com", why);
	/* signer-address-check no: a role key may sign for another address */
	{
		struct decide_msg *m = start("sign yes\nmissing-key reject\n"
		                             "<sender wrong@example.com>\nsigner-address-check no\n"
		                             "</sender>\n");
		struct decide_verdict v;
		rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_FLEX);
		v = eoh_from(m, "wrong@example.com", NULL);
		ck_assert_msg(v.reply.d == DECIDE_CONTINUE, "%s", v.log);
		ck_assert_int_eq(X509_cmp(m->signer.cert, alice.cert), 0);
		decide_msg_free(m);
	}
}
END_TEST

/* ---- on-error ---- */

START_TEST(test_on_error)
{
	struct decide_msg *m;
	struct decide_verdict v;
	char *big;

	/* signing, and no From: to sign for */
	m = start(sign_conf);
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_FLEX);
	v = eoh_from(m, NULL, NULL);
	expect(&v, DECIDE_TEMPFAIL, "451", "4.7.0", "no usable From: address to sign for");
	ck_assert_str_eq(v.log, "tempfail: no usable From: address to sign for: no From: header");
	decide_msg_free(m);
	m = start("sign yes\non-error reject\n");
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_FLEX);
	v = eoh_from(m, "undisclosed-recipients:;", NULL);
	expect(&v, DECIDE_REJECT, "550", "5.7.0", "no usable From: address to sign for");
	ck_assert_str_eq(v.log,
	    "rejected: no usable From: address to sign for: "
	    "unparseable From: header");
	decide_msg_free(m);
	/* a key file that cannot be used (readable by others) is a failure, not a missing key */
	m = start("sign yes\nmissing-key unsigned\n");
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_FLEX);
	v = eoh_from(m, "badmode@example.com", NULL);
	expect(&v, DECIDE_TEMPFAIL, "451", "4.7.0",
	    "S/MIME signing key for <badmode@example.com> is unusable");
	ck_assert_msg(strstr(v.log, "readable by group or others") != NULL, "%s", v.log);
	decide_msg_free(m);
	/* more than 1 MB of headers, in fields max-header-line allows */
	m = start("sign yes\nmax-header-line 1M\n");
	big = malloc(DECIDE_HEADER_BYTES_MAX / 2);
	memset(big, 'x', DECIDE_HEADER_BYTES_MAX / 2 - 1);
	big[DECIDE_HEADER_BYTES_MAX / 2 - 1] = '\0';
	header(m, "X-Big", big);
	decide_header(m, "X-Big", big, &v);
	free(big);
	expect(&v, DECIDE_TEMPFAIL, "451", "4.7.0", "message headers too large");
	ck_assert_str_eq(v.log, "tempfail: message headers too large: over 1 MB of headers");
	ck_assert_int_eq(v.level, LOG_ERR);
	decide_msg_free(m);
	/* already S/MIME: passes before any rule */
	m = start(sign_conf);
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_FLEX);
	header(m, "Content-Type", "application/pkcs7-mime; smime-type=enveloped-data");
	decide_end_of_headers(m, &v);
	expect_pass(&v, "passed: already S/MIME or PGP/MIME");
	decide_msg_free(m);
}
END_TEST

/* ---- a whole message ---- */

START_TEST(test_end_of_message)
{
	static const char body[] = "Hello Bob,\nthe figures.\n";
	static const char canon[] = "Hello Bob,\r\nthe figures.\r\n";
	struct decide_msg *m = start("sign yes\n<domain partner.example>\nencrypt yes\n"
	                             "header-protection yes\nhide-subject yes\n</domain>\n");
	struct mta_record l;
	struct decide_mta mta = {&l, rec_add, rec_change, rec_delete, rec_body, rec_progress};
	struct decide_verdict v;
	BIO *b64, *mem, *out;
	CMS_ContentInfo *cms;
	char *plain, want[200];
	long n;

	memset(&l, 0, sizeof(l));
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_ENCRYPT);
	ck_assert_int_eq(eoh_from(m, "Alice <alice@example.com>", NULL).reply.d, DECIDE_CONTINUE);
	decide_body(m, body, 11, &v);
	ck_assert_int_eq(v.reply.d, DECIDE_CONTINUE);
	decide_body(m, body + 11, sizeof(body) - 12, &v);
	decide_end_of_message(m, &mta, &v);
	ck_assert_msg(v.reply.d == DECIDE_CONTINUE, "%s", v.log);
	ck_assert_int_eq(v.level, LOG_INFO);
	snprintf(want, sizeof(want),
	    "signed and encrypted: from=<alice@example.com> recipients=1 "
	    "cipher=AES-256-CBC body=%zu->%zu bytes",
	    strlen(canon), l.len);
	ck_assert_str_eq(v.log, want);
	ck_assert_int_eq(l.progress, 1);
	ck_assert_str_eq(l.ops,
	    "-Content-Type[1]\n"
	    "+MIME-Version: 1.0\n"
	    "+Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\"\n"
	    "+Content-Disposition: attachment; filename=\"smime.p7m\"\n"
	    "+Content-Transfer-Encoding: base64\n"
	    "~Subject[1]: [...]\n");
	/* bob's key opens it: alice's signature inside, over the entity with the real Subject */
	mem = BIO_new_mem_buf(l.body, (int)l.len);
	b64 = BIO_new(BIO_f_base64());
	BIO_push(b64, mem);
	cms = d2i_CMS_bio(b64, NULL);
	ck_assert_ptr_nonnull(cms);
	out = BIO_new(BIO_s_mem());
	ck_assert_int_eq(CMS_decrypt(cms, bob.key, bob.cert, NULL, out, CMS_BINARY), 1);
	n = BIO_get_mem_data(out, &plain);
	ck_assert_int_gt(n, 0);
	ck_assert_ptr_nonnull(strstr(plain, "Subject: quarterly figures\r\n"));
	ck_assert_ptr_nonnull(strstr(plain, "protocol=\"application/pkcs7-signature\""));
	ck_assert_ptr_nonnull(strstr(plain, "Hello Bob,\r\nthe figures.\r\n"));
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	BIO_free_all(b64);
	free(l.body);
	decide_msg_free(m);
}
END_TEST

static Suite *
decide_suite(void)
{
	Suite *s = suite_create("decide");
	TCase *tc = tcase_create("decide");

	tcase_add_unchecked_fixture(tc, pki_setup, pki_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_replies);
	tcase_add_test(tc, test_client);
	tcase_add_test(tc, test_recipient_addresses);
	tcase_add_test(tc, test_missing_cert);
	tcase_add_test(tc, test_domain_cert);
	tcase_add_test(tc, test_mixed_encrypt_first);
	tcase_add_test(tc, test_mixed_clear_first);
	tcase_add_test(tc, test_strictest_wins);
	tcase_add_test(tc, test_sender_block);
	tcase_add_test(tc, test_vmta_redecide);
	tcase_add_test(tc, test_unknown_vmta);
	tcase_add_test(tc, test_missing_key);
	tcase_add_test(tc, test_signer_may_not_sign);
	tcase_add_test(tc, test_on_error);
	tcase_add_test(tc, test_end_of_message);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(decide_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
