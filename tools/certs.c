/*
 * certs.c - "smime-tool certs": the recipient certificates as smime-milter
 * sees them, for administrators.
 *
 *   certs list     [--cert-dir D] [--harvest-dir H] [--ca-file F] [--crl-file F]
 *   certs check    ADDRESS [same options]
 *   certs expiring DAYS [same options]
 *   certs import   FILE|SIGNED.eml [--cert-dir D] [--ca-file F] [--crl-file F] [--trust any]
 *
 * list, check and expiring open the same index as the milter
 * (certindex_open over cert-dir and harvest-dir with ca-file and
 * crl-file) and ask it: certindex_foreach for every (address,
 * certificate) pair with the validator's verdict, certindex_find for the
 * certificate the milter would encrypt to.  import is in certs_import.c.
 *
 * Exit codes: see certs_usage() and smime-tool(1).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certindex.h"
#include "certs.h"
#include "conf.h"
#include "errmsg.h"
#include "mime.h"
#include "tool.h"

#define CERTS_MAX_DAYS 36500

static void
certs_usage(FILE *f)
{
	fprintf(f,
	    "usage: smime-tool certs list [--cert-dir DIR] [--harvest-dir DIR] [--ca-file CA]\n"
	    "                             [--crl-file CRL]\n"
	    "       smime-tool certs check ADDRESS [options as for list]\n"
	    "       smime-tool certs expiring DAYS [-c FILE] [options as for list]\n"
	    "       smime-tool certs import FILE|SIGNED.eml [--cert-dir DIR] [--ca-file CA]\n"
	    "                             [--crl-file CRL] [--trust any]\n"
	    "list:     every indexed address and certificate, TAB-separated: address, subject,\n"
	    "          issuer, valid until, \"usable\" or why not, file; sorted by address\n"
	    "check:    the certificate the milter would use for ADDRESS and why, or why none;\n"
	    "          exit 0 usable, 1 none usable, 2 usage, 3 lookup error\n"
	    "expiring: the certificates in use that expire within DAYS days (address, notAfter,\n"
	    "          file); with -c FILE also every signing identity FILE names (identity,\n"
	    "          notAfter, key \"(signing)\"), and FILE's cert-dir, harvest-dir, ca-file and\n"
	    "          crl-file unless given; exit 0 none, 1 some, 3 lookup error\n"
	    "import:   store a certificate file's certificates, or a signed message's verified\n"
	    "          signer, as DIR/<address>.crt; exit 0 stored, 1 nothing imported,\n"
	    "          3 error\n"
	    "The cert-dir defaults to the current directory.  See smime-tool(1).\n");
}

/* ---- the index, collected ---- */

struct entry {
	char *addr, *file, *reason;
	X509 *cert; /* a reference of its own */
	int usable;
	int in_use; /* the one certindex_find picks for addr */
};

struct entries {
	struct entry *v;
	size_t n, cap;
	int oom;
	const char *only; /* collect this address only; NULL: all */
};

static void
collect(void *arg, const char *addr, X509 *cert, const char *file, int usable, const char *reason)
{
	struct entries *l = arg;
	struct entry *e;

	if (l->oom || (l->only != NULL && strcmp(addr, l->only) != 0))
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct entry *v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL) {
			l->oom = 1;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	e = &l->v[l->n];
	memset(e, 0, sizeof(*e));
	e->addr = strdup(addr);
	e->file = strdup(file);
	e->reason = strdup(reason != NULL ? reason : "");
	e->usable = usable;
	if (e->addr == NULL || e->file == NULL || e->reason == NULL) {
		free(e->addr);
		free(e->file);
		free(e->reason);
		l->oom = 1;
		return;
	}
	X509_up_ref(cert);
	e->cert = cert;
	l->n++;
}

static void
entries_free(struct entries *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].addr);
		free(l->v[i].file);
		free(l->v[i].reason);
		X509_free(l->v[i].cert);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/*
 * Every (address, certificate) of the index, with in_use marking the
 * certificate certindex_find would choose: of the usable ones the latest
 * notBefore, the first seen on a tie (the index's own order and rule).
 * The same certificate in several files is one choice: the file whose
 * name sorts first is shown.
 */
static int
collect_all(certindex *ci, const char *only, struct entries *l, char *err, size_t errlen)
{
	size_t i, j;
	int c;

	memset(l, 0, sizeof(*l));
	l->only = only;
	certindex_foreach(ci, collect, l);
	if (l->oom) {
		entries_free(l);
		errmsg_set(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < l->n; i++) {
		struct entry *best = NULL;
		if (!l->v[i].usable)
			continue;
		for (j = 0; j < l->n; j++) {
			struct entry *e = &l->v[j];
			if (!e->usable || strcmp(e->addr, l->v[i].addr) != 0)
				continue;
			if (best == NULL) {
				best = e;
				continue;
			}
			c = ASN1_TIME_compare(X509_get0_notBefore(e->cert),
			    X509_get0_notBefore(best->cert));
			if (c > 0 ||
			    (c == 0 && X509_cmp(e->cert, best->cert) == 0 &&
			        strcmp(e->file, best->file) < 0))
				best = e;
		}
		l->v[i].in_use = best == &l->v[i];
	}
	return 0;
}

static int
by_address(const void *x, const void *y)
{
	const struct entry *a = x, *b = y;
	int c = strcmp(a->addr, b->addr);

	return c != 0 ? c : strcmp(a->file, b->file);
}

static int
by_expiry(const void *x, const void *y)
{
	const struct entry *a = x, *b = y;
	int c = ASN1_TIME_compare(X509_get0_notAfter(a->cert), X509_get0_notAfter(b->cert));

	return c != 0 ? c : by_address(x, y);
}

/* ---- list ---- */

static int
certs_list(const struct certs_args *a)
{
	struct entries l;
	char err[512], subject[512], issuer[512], until[32];
	certindex *ci;
	size_t i;

	ci = certs_open_index(a, 1, err, sizeof(err));
	if (ci == NULL || collect_all(ci, NULL, &l, err, sizeof(err)) != 0) {
		fprintf(stderr, "smime-tool certs list: %s\n", err);
		certindex_free(ci);
		return CERTS_EXIT_ERROR;
	}
	qsort(l.v, l.n, sizeof(*l.v), by_address);
	for (i = 0; i < l.n; i++) {
		const struct entry *e = &l.v[i];
		certs_name(X509_get_subject_name(e->cert), subject, sizeof(subject));
		certs_name(X509_get_issuer_name(e->cert), issuer, sizeof(issuer));
		certstore_time(X509_get0_notAfter(e->cert), 0, until, sizeof(until));
		printf("%s\t%s\t%s\t%s\t%s\t%s\n", e->addr, subject, issuer, until,
		    e->usable ? "usable" : e->reason, e->file);
	}
	if (l.n == 0)
		fprintf(stderr, "smime-tool certs list: no certificates in %s%s%s\n", a->cert_dir,
		    a->harvest_dir != NULL ? " or " : "",
		    a->harvest_dir != NULL ? a->harvest_dir : "");
	entries_free(&l);
	certindex_free(ci);
	return fflush(stdout) == 0 ? TOOL_EXIT_OK : CERTS_EXIT_ERROR;
}

/* ---- check ---- */

static void
print_cert(const struct entry *e)
{
	char buf[512];

	certs_name(X509_get_subject_name(e->cert), buf, sizeof(buf));
	printf("  subject:   %s\n", buf);
	certs_name(X509_get_issuer_name(e->cert), buf, sizeof(buf));
	printf("  issuer:    %s\n", buf);
	certs_serial(e->cert, buf, sizeof(buf));
	printf("  serial:    %s\n", buf);
	certstore_time(X509_get0_notBefore(e->cert), 1, buf, sizeof(buf));
	printf("  notBefore: %s\n", buf);
	certstore_time(X509_get0_notAfter(e->cert), 1, buf, sizeof(buf));
	printf("  notAfter:  %s\n", buf);
	printf("  file:      %s\n", e->file);
}

static int
certs_check(const struct certs_args *a)
{
	char addr[TOOL_ADDR_MAX], err[512], reason[512], when[32];
	struct entries l = {0};
	const struct entry *chosen = NULL;
	X509 *cert = NULL;
	certindex *ci;
	size_t i, nusable = 0;
	int rc = CERTS_EXIT_ERROR;

	if (mime_extract_address(a->arg, addr, sizeof(addr)) != 0) {
		fprintf(stderr, "smime-tool certs check: %s is not an e-mail address\n", a->arg);
		return TOOL_EXIT_USAGE;
	}
	ci = certs_open_index(a, 1, err, sizeof(err));
	if (ci == NULL || collect_all(ci, addr, &l, err, sizeof(err)) != 0) {
		fprintf(stderr, "smime-tool certs check: %s\n", err);
		goto cleanup;
	}
	qsort(l.v, l.n, sizeof(*l.v), by_address);
	switch (certindex_find(ci, addr, &cert, reason, sizeof(reason))) {
	case CERTSTORE_FOUND:
		for (i = 0; i < l.n; i++) {
			nusable += l.v[i].usable;
			if (l.v[i].in_use && X509_cmp(l.v[i].cert, cert) == 0)
				chosen = &l.v[i];
		}
		if (chosen == NULL) {
			fprintf(stderr,
			    "smime-tool certs check: the index changed while it was read; "
			    "try again\n");
			goto cleanup;
		}
		if (l.n == 1)
			printf("%s: usable certificate (the only one indexed)\n", addr);
		else if (nusable == 1)
			printf("%s: usable certificate (the only usable one of %zu indexed)\n",
			    addr, l.n);
		else
			printf("%s: usable certificate (the latest notBefore of %zu usable ones)\n",
			    addr, nusable);
		print_cert(chosen);
		for (i = 0; i < l.n; i++) {
			const struct entry *e = &l.v[i];
			if (e == chosen)
				continue;
			certstore_time(X509_get0_notBefore(e->cert), 1, when, sizeof(when));
			if (!e->usable)
				printf("  not chosen: %s: %s\n", e->file, e->reason);
			else if (X509_cmp(e->cert, cert) == 0)
				printf("  not chosen: %s: the same certificate\n", e->file);
			else
				printf(
				    "  not chosen: %s: usable, but its notBefore %s is not the latest\n",
				    e->file, when);
		}
		rc = TOOL_EXIT_OK;
		break;
	case CERTSTORE_MISSING:
		printf("%s: no certificate (looked in %s%s%s)\n", addr, a->cert_dir,
		    a->harvest_dir != NULL ? " and " : "",
		    a->harvest_dir != NULL ? a->harvest_dir : "");
		rc = TOOL_EXIT_FAIL;
		break;
	case CERTSTORE_UNUSABLE:
		printf("%s: no usable certificate (%zu indexed)\n", addr, l.n);
		for (i = 0; i < l.n; i++) {
			char serial[128];
			certs_serial(l.v[i].cert, serial, sizeof(serial));
			printf("  %s (serial %s): %s\n", l.v[i].file, serial, l.v[i].reason);
		}
		if (l.n == 0)
			printf("  %s\n", reason);
		rc = TOOL_EXIT_FAIL;
		break;
	default: fprintf(stderr, "smime-tool certs check: %s\n", reason); break;
	}
	if (fflush(stdout) != 0)
		rc = CERTS_EXIT_ERROR;
cleanup:
	X509_free(cert);
	entries_free(&l);
	certindex_free(ci);
	return rc;
}

/* ---- expiring ---- */

/* The recipient certificates in use that end before limit; how many, or -1 (err). */
static int
expiring_recipients(const struct certs_args *a, time_t limit, char *err, size_t errlen)
{
	struct entries l;
	char until[32];
	certindex *ci;
	size_t i;
	int some = 0;

	ci = certs_open_index(a, 1, err, errlen);
	if (ci == NULL || collect_all(ci, NULL, &l, err, errlen) != 0) {
		certindex_free(ci);
		return -1;
	}
	qsort(l.v, l.n, sizeof(*l.v), by_expiry);
	for (i = 0; i < l.n; i++) {
		const struct entry *e = &l.v[i];
		if (!e->in_use || X509_cmp_time(X509_get0_notAfter(e->cert), &limit) > 0)
			continue;
		certstore_time(X509_get0_notAfter(e->cert), 1, until, sizeof(until));
		printf("%s\t%s\t%s\n", e->addr, until, e->file);
		some++;
	}
	entries_free(&l);
	certindex_free(ci);
	return some;
}

struct signers_due {
	time_t limit;
	int some;
};

/* conf_signer_fn: a signing identity whose certificate ends before the limit. */
static void
expiring_signer(void *arg, const struct conf_signer *s)
{
	struct signers_due *d = arg;
	char until[32];

	if (X509_cmp_time(X509_get0_notAfter(s->cert), &d->limit) > 0)
		return;
	certstore_time(X509_get0_notAfter(s->cert), 1, until, sizeof(until));
	printf("%s\t%s\t%s (signing)\n", s->identity, until, s->key);
	d->some++;
}

static void
report_stderr(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "%s\n", msg);
}

static int
certs_expiring(const struct certs_args *a)
{
	struct certs_args b = *a;
	struct signers_due due = {0, 0};
	struct conf *c = NULL;
	char err[512], *end;
	long days;
	int some = 0;

	errno = 0;
	days = strtol(a->arg, &end, 10);
	if (errno != 0 || end == a->arg || *end != '\0' || days < 0 || days > CERTS_MAX_DAYS) {
		fprintf(stderr,
		    "smime-tool certs expiring: DAYS must be a number from 0 to %d, not %s\n",
		    CERTS_MAX_DAYS, a->arg);
		return TOOL_EXIT_USAGE;
	}
	due.limit = time(NULL) + (time_t)days * 86400;
	if (a->conf_file != NULL) {
		if (conf_load(a->conf_file, &c, report_stderr, NULL) != 0)
			return CERTS_EXIT_ERROR;
		if (!a->dirs_given) { /* the milter's own directories and trust */
			b.cert_dir = c->cert_dir;
			b.harvest_dir = c->harvest_dir;
			b.ca_file = c->ca_file;
			b.crl_file = c->crl_file;
		}
	}
	if (b.cert_dir != NULL || b.harvest_dir != NULL) {
		if (b.cert_dir == NULL) {
			b.cert_dir = b.harvest_dir;
			b.harvest_dir = NULL;
		}
		some = expiring_recipients(&b, due.limit, err, sizeof(err));
	}
	if (some < 0) {
		fprintf(stderr, "smime-tool certs expiring: %s\n", err);
		conf_unref(c);
		return CERTS_EXIT_ERROR;
	}
	if (c != NULL)
		conf_foreach_signer(c, expiring_signer, &due);
	conf_unref(c);
	if (fflush(stdout) != 0)
		return CERTS_EXIT_ERROR;
	return some + due.some > 0 ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
}

/* ---- the command line ---- */

static int
parse_args(int argc, char **argv, struct certs_args *a)
{
	static const char *const valued[] = {"--cert-dir", "--harvest-dir", "--ca-file",
	    "--crl-file", "--trust", "-c", "--config"};
	int import = strcmp(a->sub, "import") == 0, i, r;
	int expiring = strcmp(a->sub, "expiring") == 0;
	const char *trust = NULL;
	size_t k;

	for (i = 0; i < argc; i++) {
		const char **slot[] = {&a->cert_dir, &a->harvest_dir, &a->ca_file, &a->crl_file,
		    &trust, &a->conf_file, &a->conf_file};
		for (k = 0, r = 0; k < sizeof(valued) / sizeof(valued[0]) && r == 0; k++) {
			int allowed = k >= 5 ? expiring : import ? k != 1 : k != 4;
			if (allowed)
				r = tool_opt_value(argc, argv, &i, valued[k], slot[k]);
			if (r > 0 && k < 4)
				a->dirs_given = 1;
		}
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "smime-tool certs %s: unknown option %s\n", a->sub,
			    argv[i]);
			return -1;
		}
		if (strcmp(a->sub, "list") == 0 || a->arg != NULL) {
			fprintf(stderr, "smime-tool certs %s: unexpected argument %s\n", a->sub,
			    argv[i]);
			return -1;
		}
		a->arg = argv[i];
	}
	if (strcmp(a->sub, "list") != 0 && a->arg == NULL) {
		fprintf(stderr, "smime-tool certs %s: %s missing\n", a->sub,
		    strcmp(a->sub, "check") == 0 ? "ADDRESS"
		        : import                 ? "FILE"
		                                 : "DAYS");
		return -1;
	}
	if (trust != NULL && strcmp(trust, "any") != 0) {
		fprintf(stderr,
		    "smime-tool certs import: --trust takes only \"any\" (the trusted CAs "
		    "are --ca-file)\n");
		return -1;
	}
	a->trust_any = trust != NULL;
	if (a->crl_file != NULL && a->ca_file == NULL) {
		fprintf(stderr, "smime-tool certs %s: --crl-file needs --ca-file\n", a->sub);
		return -1;
	}
	return 0;
}

int
certs_main(int argc, char **argv)
{
	static const char *const subs[] = {"list", "check", "expiring", "import"};
	struct certs_args a;
	size_t k;

	if (argc >= 1 &&
	    (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0 ||
	        strcmp(argv[0], "help") == 0)) {
		certs_usage(stdout);
		return TOOL_EXIT_OK;
	}
	memset(&a, 0, sizeof(a));
	a.cert_dir = ".";
	for (k = 0; argc >= 1 && k < sizeof(subs) / sizeof(subs[0]); k++)
		if (strcmp(argv[0], subs[k]) == 0)
			a.sub = subs[k];
	if (a.sub == NULL) {
		if (argc >= 1)
			fprintf(stderr, "smime-tool certs: unknown command %s\n", argv[0]);
		certs_usage(stderr);
		return TOOL_EXIT_USAGE;
	}
	for (k = 1; k < (size_t)argc; k++)
		if (strcmp(argv[k], "-h") == 0 || strcmp(argv[k], "--help") == 0) {
			certs_usage(stdout);
			return TOOL_EXIT_OK;
		}
	if (parse_args(argc - 1, argv + 1, &a) != 0) {
		certs_usage(stderr);
		return TOOL_EXIT_USAGE;
	}
	if (strcmp(a.sub, "list") == 0)
		return certs_list(&a);
	if (strcmp(a.sub, "check") == 0)
		return certs_check(&a);
	if (strcmp(a.sub, "expiring") == 0)
		return certs_expiring(&a);
	return certs_import(&a);
}
