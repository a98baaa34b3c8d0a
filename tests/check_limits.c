/*
 * check_limits.c - unit tests of the limits on the messages the milter
 * protects:
 *
 *   - the MIME structure scanner (mimescan.h): nesting depth (multipart
 *     and enclosed messages), parts, header fields per block and bytes per
 *     field, each at its limit and one over it, with its exact message;
 *     the byte it stops at; the same answer fed a byte at a time;
 *   - the decisions over them (decide.h), on configurations read by the
 *     real parser: max-recipients, max-headers and max-header-line of the
 *     message, the MIME limits while the body arrives, max-message-size
 *     with each on-oversize, message-deadline with an MTA that reads
 *     slowly; reply codes, texts, log lines and the metrics reasons.
 */
#include "config.h"

#include <time.h>

#include "decide_fixture.h"
#include "metrics.h"
#include "mimescan.h"

static const struct mimescan_limits lim32 = {32, 10000, 1000, 102400};

/* Feed body whole, and again a byte at a time: the same result, which is returned. */
static enum mimescan_result
scan(const struct mimescan_limits *lim, const char *ct, const char *body, size_t len, char *err,
    size_t errlen)
{
	mimescan *s = mimescan_new(lim, ct, NULL);
	enum mimescan_result whole, bytes = MIMESCAN_OK;
	char err2[200];
	size_t i;

	ck_assert_ptr_nonnull(s);
	whole = mimescan_feed(s, body, len, err, errlen);
	mimescan_free(s);
	s = mimescan_new(lim, ct, NULL);
	for (i = 0; i < len && bytes == MIMESCAN_OK; i++)
		bytes = mimescan_feed(s, body + i, 1, err2, sizeof(err2));
	mimescan_free(s);
	ck_assert_int_eq(whole, bytes);
	if (whole != MIMESCAN_OK)
		ck_assert_str_eq(err, err2);
	return whole;
}

/* depth multiparts nested in one another, the message itself the outermost. */
static char *
nested(int depth)
{
	size_t cap = (size_t)depth * 120 + 200, o = 0;
	char *b = malloc(cap);
	int i;

	ck_assert_ptr_nonnull(b);
	for (i = 1; i < depth; i++)
		o += (size_t)snprintf(b + o, cap - o,
		    "--b%d\r\nContent-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n", i - 1, i);
	o += (size_t)snprintf(b + o, cap - o, "--b%d\r\nContent-Type: text/plain\r\n\r\nhi\r\n",
	    depth - 1);
	for (i = depth - 1; i >= 0; i--)
		o += (size_t)snprintf(b + o, cap - o, "--b%d--\r\n", i);
	return b;
}

START_TEST(test_scan_depth)
{
	const char *top = "multipart/mixed; boundary=\"b0\"";
	char err[200], *b = nested(32);
	mimescan *s;
	const char *at;

	ck_assert_int_eq(scan(&lim32, top, b, strlen(b), err, sizeof(err)), MIMESCAN_OK);
	free(b);
	b = nested(33);
	ck_assert_int_eq(scan(&lim32, top, b, strlen(b), err, sizeof(err)), MIMESCAN_DEPTH);
	ck_assert_str_eq(err, "MIME parts nested deeper than 32 levels (max-mime-depth)");
	/* it stops at the empty line ending the header of the 33rd multipart, not later */
	at = strstr(b, "boundary=\"b32\"\r\n\r\n") + strlen("boundary=\"b32\"\r\n\r\n");
	s = mimescan_new(&lim32, top, NULL);
	ck_assert_int_eq(mimescan_feed(s, b, (size_t)(at - b) - 1, err, sizeof(err)), MIMESCAN_OK);
	ck_assert_int_eq(mimescan_feed(s, at - 1, 1, err, sizeof(err)), MIMESCAN_DEPTH);
	ck_assert_int_eq(mimescan_feed(s, at, strlen(at), err, sizeof(err)), MIMESCAN_DEPTH);
	mimescan_free(s);
	free(b);
	/* 20,000 levels: the same answer at the same place */
	b = nested(20000);
	ck_assert_int_eq(scan(&lim32, top, b, strlen(b), err, sizeof(err)), MIMESCAN_DEPTH);
	free(b);
}
END_TEST

START_TEST(test_scan_rfc822)
{
	const struct mimescan_limits lim3 = {3, 10000, 1000, 102400};
	static const char two[] = "Content-Type: message/rfc822\r\n\r\n"
	                          "Content-Type: message/rfc822\r\n\r\n"
	                          "Subject: inner\r\n\r\nhi\r\n";
	static const char three[] = "Content-Type: message/rfc822\r\n\r\n"
	                            "Content-Type: message/rfc822\r\n\r\n"
	                            "Content-Type: message/global\r\n\r\n"
	                            "Subject: inner\r\n\r\nhi\r\n";
	/* base64: not looked into, what it holds is not structure */
	static const char encoded[] = "--x\r\nContent-Type: message/rfc822\r\n"
	                              "Content-Transfer-Encoding: base64 \r\n\r\n"
	                              "--y\r\n--y\r\n--y\r\n--x--\r\n";
	/* multipart/digest: its parts are messages unless they say otherwise */
	static const char digest[] =
	    "--d\r\n\r\nContent-Type: message/rfc822\r\n\r\n"
	    "Content-Type: message/rfc822\r\n\r\nSubject: x\r\n\r\n--d--\r\n";
	const struct mimescan_limits lim1 = {1, 2, 1000, 102400};
	char err[200];

	ck_assert_int_eq(scan(&lim3, "message/rfc822", two, strlen(two), err, sizeof(err)),
	    MIMESCAN_OK);
	ck_assert_int_eq(scan(&lim3, "message/rfc822", three, strlen(three), err, sizeof(err)),
	    MIMESCAN_DEPTH);
	ck_assert_str_eq(err, "MIME parts nested deeper than 3 levels (max-mime-depth)");
	ck_assert_int_eq(scan(&lim1, "multipart/mixed; boundary=x", encoded, strlen(encoded), err,
	                     sizeof(err)),
	    MIMESCAN_OK);
	ck_assert_int_eq(scan(&lim3, "multipart/digest; boundary=d", digest, strlen(digest), err,
	                     sizeof(err)),
	    MIMESCAN_DEPTH);
}
END_TEST

/* A multipart/mixed body (boundary "p") of n text parts. */
static char *
parts(int n)
{
	size_t cap = (size_t)n * 50 + 20, o = 0;
	char *b = malloc(cap);
	int i;

	ck_assert_ptr_nonnull(b);
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(b + o, cap - o,
		    "--p\r\nContent-Type: text/plain\r\n\r\n%d\r\n", i);
	snprintf(b + o, cap - o, "--p--\r\n");
	return b;
}

START_TEST(test_scan_parts)
{
	const struct mimescan_limits lim = {32, 100, 1000, 102400};
	char err[200], *b = parts(100);

	ck_assert_int_eq(scan(&lim, "multipart/mixed; boundary=p", b, strlen(b), err, sizeof(err)),
	    MIMESCAN_OK);
	free(b);
	b = parts(101);
	ck_assert_int_eq(scan(&lim, "multipart/mixed; boundary=p", b, strlen(b), err, sizeof(err)),
	    MIMESCAN_PARTS);
	ck_assert_str_eq(err, "more than 100 MIME parts (max-mime-parts)");
	free(b);
	/* a leaf's lines that look like a boundary of no open multipart are its content */
	ck_assert_int_eq(scan(&lim, "text/plain", "--p\r\n--p\r\n", 10, err, sizeof(err)),
	    MIMESCAN_OK);
}
END_TEST

/* A part whose header has n fields X-N: v, and one more Content-Type. */
static char *
fields(int n)
{
	size_t cap = (size_t)n * 16 + 100, o = 0;
	char *b = malloc(cap);
	int i;

	ck_assert_ptr_nonnull(b);
	o += (size_t)snprintf(b + o, cap - o, "--p\r\nContent-Type: text/plain\r\n");
	for (i = 1; i < n; i++)
		o += (size_t)snprintf(b + o, cap - o, "X-%d: v\r\n", i);
	snprintf(b + o, cap - o, "\r\nbody\r\n--p--\r\n");
	return b;
}

START_TEST(test_scan_headers)
{
	const struct mimescan_limits lim = {32, 100, 50, 102400};
	char err[200], *b = fields(50);

	ck_assert_int_eq(scan(&lim, "multipart/mixed; boundary=p", b, strlen(b), err, sizeof(err)),
	    MIMESCAN_OK);
	free(b);
	b = fields(51);
	ck_assert_int_eq(scan(&lim, "multipart/mixed; boundary=p", b, strlen(b), err, sizeof(err)),
	    MIMESCAN_HEADERS);
	ck_assert_str_eq(err, "a MIME part with more than 50 header fields (max-headers)");
	free(b);
}
END_TEST

/* A part with one field of exactly len bytes (CRLF included), folded every 100 when fold. */
static char *
long_field(size_t len, int fold)
{
	char *b = malloc(len + 100);
	size_t o = (size_t)snprintf(b, len + 100, "--p\r\n"), start = o;

	o += (size_t)snprintf(b + o, len + 100 - o, "X-Long: ");
	while (o - start < len - 2) {
		if (fold && (o - start) % 100 == 0 && o - start + 3 < len - 2) {
			memcpy(b + o, "\r\n ", 3);
			o += 3;
		} else {
			b[o++] = 'x';
		}
	}
	snprintf(b + o, 100, "\r\n\r\nbody\r\n--p--\r\n");
	return b;
}

START_TEST(test_scan_header_line)
{
	const struct mimescan_limits lim = {32, 100, 1000, 1024};
	const char *top = "multipart/mixed; boundary=p";
	char err[200], *b;
	int fold;

	for (fold = 0; fold < 2; fold++) {
		b = long_field(1024, fold);
		ck_assert_int_eq(scan(&lim, top, b, strlen(b), err, sizeof(err)), MIMESCAN_OK);
		free(b);
		b = long_field(1025, fold);
		ck_assert_int_eq(scan(&lim, top, b, strlen(b), err, sizeof(err)),
		    MIMESCAN_HEADER_LINE);
		ck_assert_str_eq(err,
		    "a MIME part header field longer than 1024 bytes (max-header-line)");
		free(b);
	}
	/* 5 MB without a line end in a header: stopped at byte 1025 of it */
	b = malloc(5 * 1024 * 1024);
	memset(b, 'h', 5 * 1024 * 1024);
	memcpy(b, "--p\r\n", 5);
	ck_assert_int_eq(scan(&lim, top, b, 5 + 1024, err, sizeof(err)), MIMESCAN_OK);
	ck_assert_int_eq(scan(&lim, top, b, 5 + 1025, err, sizeof(err)), MIMESCAN_HEADER_LINE);
	/* ... and in a body it is content, not a header */
	memcpy(b, "--p\r\n\r\n", 7);
	ck_assert_int_eq(scan(&lim, top, b, 5 * 1024 * 1024, err, sizeof(err)), MIMESCAN_OK);
	free(b);
}
END_TEST

/* ---- the decisions ---- */

/* The headers of a message with content_type, then the end of the headers: CONTINUE. */
static void
eoh_typed(struct decide_msg *m, const char *content_type)
{
	struct decide_verdict v;

	header(m, "From", "Alice <alice@example.com>");
	header(m, "To", "bob@partner.example");
	header(m, "Content-Type", content_type);
	decide_end_of_headers(m, &v);
	ck_assert_msg(v.reply.d == DECIDE_CONTINUE, "%s", v.log);
}

/* The end of m, and the metrics it left: messages_total{outcome,reason} is 1. */
static void
end_counted(struct decide_msg *m, const char *outcome, const char *reason)
{
	struct decide_summary sum;

	decide_msg_end(m, &sum);
	decide_msg_free(m);
	ck_assert_uint_eq(metrics_value(METRICS_MESSAGES, outcome, reason), 1);
}

START_TEST(test_max_recipients)
{
	struct decide_msg *m;
	struct decide_verdict v;
	struct decide_summary sum;

	metrics_reset();
	m = start("sign yes\nmax-recipients 2\n");
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_FLEX);
	rcpt_ok(m, "carol@partner.example", DECIDE_RCPT_FLEX);
	decide_recipient(m, "<postmaster>", &v); /* local: does not count */
	ck_assert_int_eq(v.reply.d, DECIDE_CONTINUE);
	v = rcpt_refused(m, "erin@bank.example", DECIDE_TEMPFAIL, "452", "4.5.3",
	    "<erin@bank.example>: too many recipients for one message, send to the rest in another");
	ck_assert_str_eq(v.log,
	    "deferred recipient <erin@bank.example>: the message has 2 "
	    "recipients already (max-recipients)");
	ck_assert_int_eq(v.level, LOG_NOTICE);
	ck_assert_str_eq(v.why, "too_many_recipients");
	decide_msg_end(m, &sum);
	decide_msg_free(m);
	ck_assert_uint_eq(metrics_value(METRICS_RCPT_REFUSED, "too_many_recipients", NULL), 1);
}
END_TEST

START_TEST(test_message_headers)
{
	struct decide_msg *m;
	struct decide_verdict v;
	char value[1100];

	metrics_reset();
	m = start("sign yes\nmax-headers 3\n");
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_FLEX);
	header(m, "From", "alice@example.com");
	header(m, "To", "bob@partner.example");
	header(m, "Subject", "three");
	decide_header(m, "Content-Type", "text/plain", &v);
	expect(&v, DECIDE_REJECT, "554", "5.6.0",
	    "message refused by the S/MIME gateway: more than 3 header fields (max-headers)");
	ck_assert_str_eq(v.log, "rejected: more than 3 header fields (max-headers)");
	ck_assert_int_eq(v.level, LOG_NOTICE);
	end_counted(m, "reject", "headers");
	/* "X-Long:" + value + CRLF: 1024 bytes pass, 1025 do not */
	metrics_reset();
	m = start("sign yes\nmax-header-line 1k\n");
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_FLEX);
	memset(value, 'v', sizeof(value));
	value[1024 - 7 - 2] = '\0';
	header(m, "X-Long", value);
	value[1024 - 7 - 2] = 'v';
	value[1025 - 7 - 2] = '\0';
	decide_header(m, "X-Long", value, &v);
	expect(&v, DECIDE_REJECT, "554", "5.6.0",
	    "message refused by the S/MIME gateway: a header field longer than 1024 bytes "
	    "(max-header-line)");
	ck_assert_str_eq(v.log,
	    "rejected: a header field longer than 1024 bytes (max-header-line)");
	end_counted(m, "reject", "header_line");
	/* mode monitor: the message passes unchanged, the limits are not applied */
	m = start("sign yes\nmode monitor\nmax-headers 1\n");
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_FLEX);
	capture_start();
	v = eoh_from(m, "<alice@example.com>", NULL);
	ck_assert(capture_has("TESTQID: monitor: not applied: would have signed the message"));
	expect_pass(&v, "");
	decide_msg_free(m);
}
END_TEST

START_TEST(test_body_structure)
{
	struct decide_msg *m;
	struct decide_verdict v;
	char *b = nested(3);

	metrics_reset();
	m = start("sign yes\nmax-mime-depth 2\n");
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_FLEX);
	eoh_typed(m, "multipart/mixed; boundary=\"b0\"");
	decide_body(m, b, 10, &v);
	ck_assert_int_eq(v.reply.d, DECIDE_CONTINUE);
	decide_body(m, b + 10, strlen(b) - 10, &v);
	expect(&v, DECIDE_REJECT, "554", "5.6.0",
	    "message refused by the S/MIME gateway: MIME parts nested deeper than 2 levels "
	    "(max-mime-depth)");
	ck_assert_str_eq(v.log,
	    "rejected: MIME parts nested deeper than 2 levels (max-mime-depth)");
	/* nothing of the chunk over the limit was spooled */
	ck_assert_uint_eq(spool_size(m->body), 10);
	end_counted(m, "reject", "mime_depth");
	free(b);
	/* parts, LF line ends as the MTA may send them */
	metrics_reset();
	m = start("sign yes\nmax-mime-parts 2\n");
	rcpt_ok(m, "bob@partner.example", DECIDE_RCPT_FLEX);
	eoh_typed(m, "multipart/mixed; boundary=p");
	decide_body(m, "--p\n\n1\n--p\n\n2\n", 14, &v);
	ck_assert_int_eq(v.reply.d, DECIDE_CONTINUE);
	decide_body(m, "--p\n\n3\n--p--\n", 13, &v);
	expect(&v, DECIDE_REJECT, "554", "5.6.0",
	    "message refused by the S/MIME gateway: more than 2 MIME parts (max-mime-parts)");
	end_counted(m, "reject", "mime_parts");
}
END_TEST

/* A message to rcpt (of class cls) with a text/plain Content-Type, ready for its body. */
static struct decide_msg *
sized(const char *conf_text, const char *rcpt, enum decide_class cls)
{
	struct decide_msg *m = start(conf_text);

	rcpt_ok(m, rcpt, cls);
	ck_assert_int_eq(eoh_from(m, "Alice <alice@example.com>", NULL).reply.d, DECIDE_CONTINUE);
	return m;
}

/* Body bytes: n - 1 'x' and LF. */
static char *
body_of(size_t n)
{
	char *b = malloc(n);

	ck_assert_ptr_nonnull(b);
	memset(b, 'x', n);
	b[n - 1] = '\n';
	return b;
}

START_TEST(test_oversize)
{
	struct decide_msg *m;
	struct decide_verdict v;
	char *b = body_of(70000);
	size_t room;

	/* reject, the default: at exactly max-message-size it goes on, one byte more is refused */
	metrics_reset();
	m = sized("sign yes\nmax-message-size 64k\n", "bob@partner.example", DECIDE_RCPT_FLEX);
	room = 65536 - m->header_bytes;
	decide_body(m, b, room - 1, &v);
	ck_assert_int_eq(v.reply.d, DECIDE_CONTINUE);
	decide_body(m, b + 69999, 1, &v); /* the LF */
	ck_assert_int_eq(v.reply.d, DECIDE_CONTINUE);
	decide_body(m, b, 1, &v);
	expect(&v, DECIDE_REJECT, "552", "5.3.4",
	    "message larger than 65536 bytes, the most this S/MIME gateway processes");
	ck_assert_str_eq(v.log, "rejected: message larger than 65536 bytes (max-message-size)");
	ck_assert_int_eq(v.level, LOG_NOTICE);
	end_counted(m, "reject", "oversize");
	/* CRLF counts as one byte, as the MTA stores it */
	m = sized("sign yes\nmax-message-size 64k\n", "bob@partner.example", DECIDE_RCPT_FLEX);
	room = 65536 - m->header_bytes;
	memset(b, 'x', room + 1);
	b[room - 2] = '\r';
	b[room - 1] = '\n';
	decide_body(m, b, room, &v);
	ck_assert_int_eq(v.reply.d, DECIDE_CONTINUE);
	ck_assert_uint_eq(m->size, room - 1);
	decide_msg_free(m);
	/* tempfail */
	metrics_reset();
	m = sized("sign yes\nmax-message-size 64k\non-oversize tempfail\n", "bob@partner.example",
	    DECIDE_RCPT_FLEX);
	decide_body(m, b, 66000, &v);
	expect(&v, DECIDE_TEMPFAIL, "452", "4.3.4",
	    "message larger than 65536 bytes, the most this S/MIME gateway processes, try again "
	    "later");
	ck_assert_str_eq(v.log, "tempfail: message larger than 65536 bytes (max-message-size)");
	end_counted(m, "tempfail", "oversize");
	/* pass-sign-only, a message its policy only signs: passes unsigned */
	metrics_reset();
	m = sized("sign yes\nmax-message-size 64k\non-oversize pass-sign-only\n",
	    "bob@partner.example", DECIDE_RCPT_FLEX);
	decide_body(m, b, 66000, &v);
	ck_assert_int_eq(v.reply.d, DECIDE_PASS);
	ck_assert_int_eq(v.level, LOG_WARNING);
	ck_assert_str_eq(v.log,
	    "passed unsigned: message larger than 65536 bytes "
	    "(max-message-size, on-oversize pass-sign-only)");
	end_counted(m, "passed", "oversize");
	/* pass-sign-only, a message its policy encrypts: never in clear, rejected */
	metrics_reset();
	m = sized("sign yes\nmax-message-size 64k\non-oversize pass-sign-only\n"
	          "<domain partner.example>\nencrypt yes\n</domain>\n",
	    "bob@partner.example", DECIDE_RCPT_ENCRYPT);
	decide_body(m, b, 66000, &v);
	expect(&v, DECIDE_REJECT, "552", "5.3.4",
	    "message larger than 65536 bytes, the most this S/MIME gateway processes");
	ck_assert_str_eq(v.log,
	    "rejected: message larger than 65536 bytes (max-message-size); its "
	    "policy encrypts, so on-oversize pass-sign-only refuses it");
	end_counted(m, "reject", "oversize");
	free(b);
}
END_TEST

/* Signed mail from outside, kept to harvest its signer: over the size it passes, unharvested. */
START_TEST(test_oversize_harvest)
{
	struct sockaddr_in out = client_addr("192.0.2.7");
	struct decide_msg *m;
	struct decide_verdict v;
	char text[600], *b = body_of(70000);

	snprintf(text, sizeof(text), "harvest-dir %s\nmax-message-size 64k\n", harvdir);
	m = decide_msg_new(load(text), 0);
	decide_msg_set_qid(m, "TESTQID");
	decide_client(m, (struct sockaddr *)&out, 0, NULL, &v);
	ck_assert_int_eq(m->harvest, 1);
	header(m, "From", "Zoe <zoe@outside.example>");
	header(m, "Content-Type",
	    "multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=s");
	decide_end_of_headers(m, &v);
	ck_assert_int_eq(v.reply.d, DECIDE_CONTINUE);
	ck_assert_ptr_null(m->scan); /* the structure limits are for mail the milter protects */
	decide_body(m, b, 70000, &v);
	expect_pass(&v,
	    "passed from outside; not harvested: message larger than 65536 bytes "
	    "(max-message-size)");
	metrics_reset();
	end_counted(m, "passed", "external");
	free(b);
}
END_TEST

/* An MTA that takes 300 ms for each piece of the new body. */
static int
slow_body(void *arg, const void *data, size_t len)
{
	const struct timespec t = {0, 300 * 1000 * 1000};

	nanosleep(&t, NULL);
	return rec_body(arg, data, len);
}

START_TEST(test_deadline)
{
	struct mta_record l;
	struct decide_mta mta = {&l, rec_add, rec_change, rec_delete, slow_body, rec_progress};
	struct decide_msg *m;
	struct decide_verdict v;
	char *b = body_of(8000);

	metrics_reset();
	memset(&l, 0, sizeof(l));
	m = sized("sign yes\nmessage-deadline 1\nbody-chunk-size 256\n"
	          "<domain partner.example>\nencrypt yes\n</domain>\n",
	    "bob@partner.example", DECIDE_RCPT_ENCRYPT);
	decide_body(m, b, 8000, &v);
	ck_assert_int_eq(v.reply.d, DECIDE_CONTINUE);
	decide_end_of_message(m, &mta, &v);
	expect(&v, DECIDE_TEMPFAIL, "451", "4.3.0",
	    "S/MIME processing took too long, try again later");
	ck_assert_str_eq(v.log,
	    "tempfail: processing took longer than 1 seconds (message-deadline), "
	    "stopped while writing the new body");
	ck_assert_int_eq(v.level, LOG_WARNING);
	/* stopped after about a second: 4 pieces of 256 bytes, not the 40 of the whole body */
	ck_assert_uint_le(l.len, 5 * 256);
	ck_assert_str_eq(l.ops, ""); /* no header changed */
	ck_assert_double_ge(m->seconds, 1.0);
	ck_assert_double_lt(m->seconds, 2.0);
	end_counted(m, "tempfail", "deadline");
	free(l.body);
	free(b);
}
END_TEST

static Suite *
limits_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("mimescan");
	TCase *td = tcase_create("decide");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_scan_depth);
	tcase_add_test(tc, test_scan_rfc822);
	tcase_add_test(tc, test_scan_parts);
	tcase_add_test(tc, test_scan_headers);
	tcase_add_test(tc, test_scan_header_line);
	suite_add_tcase(s, tc);
	tcase_add_unchecked_fixture(td, pki_setup, pki_teardown);
	tcase_set_timeout(td, 60);
	tcase_add_test(td, test_max_recipients);
	tcase_add_test(td, test_message_headers);
	tcase_add_test(td, test_body_structure);
	tcase_add_test(td, test_oversize);
	tcase_add_test(td, test_oversize_harvest);
	tcase_add_test(td, test_deadline);
	suite_add_tcase(s, td);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(limits_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
