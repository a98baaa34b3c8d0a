/*
 * decide_fixture.h - what tests/check_decide.c works on: a PKI made at
 * test time (testpki.h) with a cert-dir, a key-dir and a ca-file in a
 * private temporary directory, configurations read by the real parser,
 * the stages of decide.h driven one call at a time with assertions on
 * their verdicts, the log (stderr) captured, and an MTA that records the
 * header and body changes asked of it.  Static functions, as in testpki.h;
 * one test program includes it.
 */
#ifndef SMIME_DECIDE_FIXTURE_H
#define SMIME_DECIDE_FIXTURE_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "conf.h"
#include "decide.h"
#include "log.h"
#include "testconf.h"
#include "testdir.h"
#include "testpki.h"

static const char *KU = "critical,digitalSignature,keyEncipherment";
static struct testpki_id ca, otherca, alice, bob, carol, erin, frank, ann, ben, gw, expired,
    stranger;
static char dir[256], certdir[300], keydir[300], cafile[300], harvdir[300], gwfile[300];

static void
put(const char *d, const char *name, mode_t mode, EVP_PKEY *key, X509 *a, X509 *b)
{
	X509 *const certs[] = {a, b, NULL};
	char p[600];

	snprintf(p, sizeof(p), "%s/%s", d, name);
	testpki_write(p, mode, key, certs, 0);
}

static void
pki_setup(void)
{
	testdir_make(dir, sizeof(dir), "check_decide");
	snprintf(certdir, sizeof(certdir), "%s/certs", dir);
	snprintf(keydir, sizeof(keydir), "%s/keys", dir);
	snprintf(harvdir, sizeof(harvdir), "%s/harvest", dir);
	snprintf(cafile, sizeof(cafile), "%s/ca.pem", dir);
	snprintf(gwfile, sizeof(gwfile), "%s/gateway.crt", dir);
	mkdir(certdir, 0755);
	mkdir(keydir, 0700);
	mkdir(harvdir, 0755);

	ca = testpki_issue("rsa", "Decide CA", NULL, NULL, -1, 365, NULL, NULL);
	otherca = testpki_issue("rsa", "Other CA", NULL, NULL, -1, 365, NULL, NULL);
	alice =
	    testpki_issue("rsa", "Alice", "alice@example.com", &ca, -1, 365, KU, "emailProtection");
	expired = testpki_issue("rsa", "Expired", "expired@example.com", &ca, -30, -2, KU, NULL);
	stranger =
	    testpki_issue("rsa", "Stranger", "stranger@example.com", &otherca, -1, 30, KU, NULL);
	bob =
	    testpki_issue("rsa", "Bob", "bob@partner.example", &ca, -1, 365, KU, "emailProtection");
	carol = testpki_issue("rsa", "Carol", "carol@partner.example", &ca, -1, 365, KU, NULL);
	erin = testpki_issue("rsa", "Erin", "erin@bank.example", &ca, -1, 365, KU, NULL);
	frank = testpki_issue("rsa", "Frank", "frank@flex.example", &ca, -1, 365, KU, NULL);
	ann = testpki_issue("rsa", "Ann", "ann@a.example", &ca, -1, 365, KU, NULL);
	ben = testpki_issue("rsa", "Ben", "ben@b.example", &ca, -1, 365, KU, NULL);
	gw = testpki_issue("rsa", "Gateway", NULL, &ca, -1, 365, KU, NULL);

	put(dir, "ca.pem", 0644, NULL, ca.cert, NULL);
	put(dir, "gateway.crt", 0644, NULL, gw.cert, NULL);
	put(certdir, "bob@partner.example.crt", 0644, NULL, bob.cert, NULL);
	put(certdir, "carol-by-san.pem", 0644, NULL, carol.cert, NULL); /* found by its SAN */
	put(certdir, "erin@bank.example.crt", 0644, NULL, erin.cert, NULL);
	put(certdir, "frank@flex.example.crt", 0644, NULL, frank.cert, NULL);
	put(certdir, "ann@a.example.crt", 0644, NULL, ann.cert, NULL);
	put(certdir, "ben@b.example.crt", 0644, NULL, ben.cert, NULL);
	put(keydir, "alice@example.com.pem", 0600, alice.key, alice.cert, ca.cert);
	put(keydir, "expired@example.com.pem", 0600, expired.key, expired.cert, ca.cert);
	put(keydir, "stranger@example.com.pem", 0600, stranger.key, stranger.cert, NULL);
	put(keydir, "wrong@example.com.pem", 0600, alice.key, alice.cert,
	    ca.cert); /* names alice */
	put(keydir, "badmode@example.com.pem", 0644, alice.key, alice.cert, ca.cert);
}

static void
pki_teardown(void)
{
	testdir_remove(dir);
}

/* A configuration: cert-dir, key-dir and ca-file of the test PKI, then text. */
static struct conf *
load(const char *text)
{
	char head[1200];

	snprintf(head, sizeof(head), "cert-dir %s\nkey-dir %s\nca-file %s\n", certdir, keydir,
	    cafile);
	return testconf_load(dir, "decide.conf", head, text);
}

static struct sockaddr_in
client_addr(const char *ip)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
	return sin;
}

/* A message from an internal client (127.0.0.1), virtual MTA macro vmta (may be NULL). */
static struct decide_msg *
start_vmta(const char *text, const char *vmta)
{
	struct sockaddr_in sin = client_addr("127.0.0.1");
	struct decide_msg *m;
	struct decide_verdict v;
	char full[4096];

	/* the virtual MTA of the RCPT decisions comes from the {daemon_name} macro */
	snprintf(full, sizeof(full), "%s%s",
	    vmta != NULL ? "virtual-mta-macro {daemon_name}\n" : "", text);
	m = decide_msg_new(load(full), 0);
	ck_assert_ptr_nonnull(m);
	decide_msg_set_qid(m, "TESTQID");
	decide_client(m, (struct sockaddr *)&sin, 0, vmta, &v);
	ck_assert_int_eq(v.reply.d, DECIDE_CONTINUE);
	return m;
}

static struct decide_msg *
start(const char *text)
{
	return start_vmta(text, NULL);
}

static void
expect(const struct decide_verdict *v, enum decide_outcome d, const char *code, const char *xcode,
    const char *text)
{
	ck_assert_int_eq(v->reply.d, d);
	ck_assert_str_eq(v->reply.code, code);
	ck_assert_str_eq(v->reply.xcode, xcode);
	if (text != NULL)
		ck_assert_str_eq(v->text, text);
}

static void
rcpt_ok(struct decide_msg *m, const char *addr, enum decide_class cls)
{
	struct decide_verdict v;
	size_t n = m->nrcpt;
	char arg[300];

	snprintf(arg, sizeof(arg), "<%s>", addr);
	decide_recipient(m, arg, &v);
	ck_assert_msg(v.reply.d == DECIDE_CONTINUE, "%s: %s", addr, v.log);
	ck_assert_str_eq(v.log, "");
	ck_assert_uint_eq(m->nrcpt, n + 1);
	ck_assert_int_eq(strcasecmp(m->rcpts[n].addr, addr), 0);
	ck_assert_int_eq(m->rcpts[n].cls, cls);
}

/* A refused recipient: not added, the verdict returned for more checks. */
static struct decide_verdict
rcpt_refused(struct decide_msg *m, const char *addr, enum decide_outcome d, const char *code,
    const char *xcode, const char *text)
{
	struct decide_verdict v;
	size_t n = m->nrcpt;
	char arg[300];

	snprintf(arg, sizeof(arg), "<%s>", addr);
	decide_recipient(m, arg, &v);
	expect(&v, d, code, xcode, text);
	ck_assert_uint_eq(m->nrcpt, n);
	return v;
}

static void
header(struct decide_msg *m, const char *name, const char *value)
{
	struct decide_verdict v;

	decide_header(m, name, value, &v);
	ck_assert_msg(v.reply.d == DECIDE_CONTINUE, "%s: %s", name, v.log);
}

/* From:, To:, Subject:, a text/plain Content-Type; then the end of the headers. */
static struct decide_verdict
eoh_from(struct decide_msg *m, const char *from, const char *vmta_header)
{
	struct decide_verdict v;

	if (from != NULL)
		header(m, "From", from);
	header(m, "To", "bob@partner.example");
	header(m, "Subject", "quarterly figures");
	if (vmta_header != NULL)
		header(m, "X-Virtual-MTA", vmta_header);
	header(m, "Content-Type", "text/plain; charset=us-ascii");
	decide_end_of_headers(m, &v);
	return v;
}

static void
expect_pass(const struct decide_verdict *v, const char *log)
{
	ck_assert_int_eq(v->reply.d, DECIDE_PASS);
	ck_assert_int_eq(v->level, LOG_INFO);
	ck_assert_str_eq(v->log, log);
}

/* ---- stderr, where the log goes, captured for one check ---- */

static int saved_stderr = -1;
static char capture_path[400];

static void
capture_start(void)
{
	int fd;

	snprintf(capture_path, sizeof(capture_path), "%s/stderr.XXXXXX", dir);
	fd = mkstemp(capture_path);
	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
}

/* Stop capturing; nonzero when a captured line contains want. */
static int
capture_has(const char *want)
{
	char line[2048];
	int found = 0;
	FILE *f;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	f = fopen(capture_path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL)
		found |= strstr(line, want) != NULL;
	fclose(f);
	unlink(capture_path);
	return found;
}

/* ---- an MTA that records what it is asked to do ---- */

struct mta_record {
	char ops[2048]; /* "+Name: value\n", "~Name[i]: value\n", "-Name[i]\n" */
	unsigned char *body;
	size_t len, cap;
	int progress;
};

static void
ops_line(struct mta_record *l, const char *line)
{
	size_t used = strlen(l->ops);

	snprintf(l->ops + used, sizeof(l->ops) - used, "%s", line);
}

static int
rec_add(void *arg, const char *name, const char *value)
{
	char line[600];

	snprintf(line, sizeof(line), "+%s: %s\n", name, value);
	ops_line(arg, line);
	return 0;
}

static int
rec_change(void *arg, const char *name, int index, const char *value)
{
	char line[600];

	snprintf(line, sizeof(line), "~%s[%d]: %s\n", name, index, value);
	ops_line(arg, line);
	return 0;
}

static int
rec_delete(void *arg, const char *name, int index)
{
	char line[300];

	snprintf(line, sizeof(line), "-%s[%d]\n", name, index);
	ops_line(arg, line);
	return 0;
}

static int
rec_body(void *arg, const void *data, size_t len)
{
	struct mta_record *l = arg;

	if (l->len + len > l->cap) {
		l->cap = (l->len + len) * 2;
		l->body = realloc(l->body, l->cap);
		ck_assert_ptr_nonnull(l->body);
	}
	memcpy(l->body + l->len, data, len);
	l->len += len;
	return 0;
}

static void
rec_progress(void *arg)
{
	((struct mta_record *)arg)->progress++;
}

#endif
