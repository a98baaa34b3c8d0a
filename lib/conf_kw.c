/*
 * conf_kw.c - the keyword table of smime-milter.conf and one handler per
 * keyword.  Handlers check their values, report errors through
 * conf_error (which adds FILE:LINE), and fill the configuration or the
 * settings of the scope being read.
 */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf_check.h"
#include "conf_int.h"
#include "log.h"
#include "certstore.h"
#include "smime.h"

int
conf_one_word(struct conf_parse *p, const char *kw, int n)
{
	if (n != 1) {
		conf_error(p, "%s takes exactly one value, %d given", kw, n);
		return -1;
	}
	return 0;
}

int
conf_parse_count(struct conf_parse *p, const char *kw, char **w, int n, const char *units,
    long lo, long hi, int *out)
{
	char *end;
	long v;

	if (conf_one_word(p, kw, n) != 0)
		return -1;
	errno = 0;
	v = strtol(w[0], &end, 10);
	if (end == w[0] || *end != '\0' || errno != 0 || v < lo || v > hi) {
		conf_error(p, "%s: \"%s\" is not a number of %s between %ld and %ld", kw, w[0], units,
		    lo, hi);
		return -1;
	}
	*out = (int)v;
	return 0;
}

int
conf_set_string(struct conf_parse *p, char **dst, const char *kw, char **w, int n)
{
	if (conf_one_word(p, kw, n) != 0)
		return -1;
	free(*dst);
	*dst = strdup(w[0]);
	return *dst != NULL ? 0 : -1;
}

int
conf_set_private_file(struct conf_parse *p, char **dst, const char *kw, char **w, int n)
{
	struct stat st;

	if (conf_set_string(p, dst, kw, w, n) != 0)
		return -1;
	if (stat(w[0], &st) != 0) {
		conf_error(p, "%s %s: %s", kw, w[0], strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		conf_error(p, "%s %s: not a regular file", kw, w[0]);
		return -1;
	}
	if ((st.st_mode & 077) != 0) {
		conf_error(p, "%s %s: readable by group or others (mode %04o): chmod 600 it", kw, w[0],
		    (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

/* One of a list of names; returns its index or -1 (error reported). */
static int
choose(struct conf_parse *p, const char *kw, char **w, int n, const char *const *names,
    const char *expect)
{
	int i;

	if (conf_one_word(p, kw, n) != 0)
		return -1;
	for (i = 0; names[i] != NULL; i++)
		if (strcasecmp(w[0], names[i]) == 0)
			return i;
	conf_error(p, "%s: \"%s\" is not %s", kw, w[0], expect);
	return -1;
}

static int
parse_bool(struct conf_parse *p, const char *kw, char **w, int n, int *out)
{
	static const char *const names[] = {"yes", "true", "on", "1", "no", "false", "off", "0", NULL};
	int i = choose(p, kw, w, n, names, "yes or no");

	if (i < 0)
		return -1;
	*out = i < 4;
	return 0;
}

/* A directory that must exist. */
static int
set_dir(struct conf_parse *p, char **dst, const char *kw, char **w, int n)
{
	struct stat st;

	if (conf_set_string(p, dst, kw, w, n) != 0)
		return -1;
	if (stat(w[0], &st) != 0) {
		conf_error(p, "%s %s: %s", kw, w[0], strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		conf_error(p, "%s %s: not a directory", kw, w[0]);
		return -1;
	}
	return 0;
}

/* The engine must be able to honour a setting: ask it. */
static int
engine_supports(struct conf_parse *p, const struct smime_options *opt)
{
	char err[256];

	if (smime_check_options(opt, err, sizeof(err)) != 0) {
		conf_error(p, "%s", err);
		return -1;
	}
	return 0;
}

/* ---- global keywords ---- */

static int
kw_socket(struct conf_parse *p, struct conf *c, struct policy_settings *ps, const char *kw,
    char **w, int n)
{
	char err[512];

	(void)ps;
	if (conf_set_string(p, &c->socket, kw, w, n) != 0)
		return -1;
	if (conf_check_socket(w[0], 0, err, sizeof(err)) != 0) {
		conf_error(p, "socket \"%s\": %s", w[0], err);
		return -1;
	}
	return 0;
}

static int
kw_cert_dir(struct conf_parse *p, struct conf *c, struct policy_settings *ps, const char *kw,
    char **w, int n)
{
	(void)ps;
	p->seen_cert_dir = 1;
	return set_dir(p, &c->cert_dir, kw, w, n);
}

static int
kw_key_dir(struct conf_parse *p, struct conf *c, struct policy_settings *ps, const char *kw,
    char **w, int n)
{
	(void)ps;
	p->seen_key_dir = 1;
	return set_dir(p, &c->key_dir, kw, w, n);
}

static int
kw_spool_dir(struct conf_parse *p, struct conf *c, struct policy_settings *ps, const char *kw,
    char **w, int n)
{
	(void)ps;
	return set_dir(p, &c->spool_dir, kw, w, n);
}

/* Networks from a file: one or more per line, # comments. */
static int
hosts_from_file(struct conf_parse *p, hostlist *hl, const char *kw, const char *path)
{
	char line[1024], err[256];
	FILE *f = fopen(path, "r");
	int lineno = 0, rc = 0;

	if (f == NULL) {
		conf_error(p, "%s %s: %s", kw, path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *save = NULL, *tok;
		lineno++;
		line[strcspn(line, "#")] = '\0';
		for (tok = strtok_r(line, " \t\r\n,", &save); tok != NULL;
		     tok = strtok_r(NULL, " \t\r\n,", &save)) {
			if (hostlist_add(hl, tok, err, sizeof(err)) != 0) {
				conf_error(p, "%s: %s:%d: %s", kw, path, lineno, err);
				rc = -1;
			}
		}
	}
	fclose(f);
	return rc;
}

static int
kw_internal_hosts(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	char err[256];
	int i, rc = 0;

	(void)ps;
	if (n == 0) {
		conf_error(p, "%s needs at least one network or file", kw);
		return -1;
	}
	if (c->internal == NULL && (c->internal = hostlist_new()) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (strncmp(w[i], "file:", 5) == 0 || w[i][0] == '/') {
			if (hosts_from_file(p, c->internal, kw, w[i] + (w[i][0] == '/' ? 0 : 5)) != 0)
				rc = -1;
		} else if (hostlist_add(c->internal, w[i], err, sizeof(err)) != 0) {
			conf_error(p, "%s: %s", kw, err);
			rc = -1;
		}
	}
	return rc;
}

static int
kw_on_error(struct conf_parse *p, struct conf *c, struct policy_settings *ps, const char *kw,
    char **w, int n)
{
	static const char *const names[] = {"tempfail", "reject", NULL};
	int i = choose(p, kw, w, n, names, "tempfail or reject");

	(void)ps;
	if (i < 0)
		return -1;
	c->on_error = i == 0 ? CONF_ON_ERROR_TEMPFAIL : CONF_ON_ERROR_REJECT;
	return 0;
}

static int
kw_spool_memory(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	char *end;
	unsigned long long v;

	(void)ps;
	if (conf_one_word(p, kw, n) != 0)
		return -1;
	errno = 0;
	v = strtoull(w[0], &end, 10);
	if (end == w[0] || errno != 0 || v > 1024ULL * 1024 * 1024) /* before scaling */
		goto bad;
	if (*end == 'k' || *end == 'K')
		v *= 1024, end++;
	else if (*end == 'm' || *end == 'M')
		v *= 1024 * 1024, end++;
	if (*end != '\0' || v < 4096 || v > 1024ULL * 1024 * 1024)
		goto bad;
	c->spool_memory = (size_t)v;
	return 0;
bad:
	conf_error(p, "%s: \"%s\" is not a size between 4k and 1024M", kw, w[0]);
	return -1;
}

static int
kw_body_chunk_size(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	char *end;
	long v;

	(void)ps;
	if (conf_one_word(p, kw, n) != 0)
		return -1;
	v = strtol(w[0], &end, 10);
	if (end == w[0] || *end != '\0' || v < 256 || v > 65535) {
		conf_error(p, "%s: \"%s\" is not a number between 256 and 65535", kw, w[0]);
		return -1;
	}
	c->body_chunk = (size_t)v;
	return 0;
}

static int
kw_user(struct conf_parse *p, struct conf *c, struct policy_settings *ps, const char *kw,
    char **w, int n)
{
	(void)ps;
	if (conf_set_string(p, &c->user, kw, w, n) != 0)
		return -1;
	if (getpwnam(w[0]) == NULL) {
		conf_error(p, "%s: no such user \"%s\"", kw, w[0]);
		return -1;
	}
	return 0;
}

static int
kw_pid_file(struct conf_parse *p, struct conf *c, struct policy_settings *ps, const char *kw,
    char **w, int n)
{
	(void)ps;
	if (conf_set_string(p, &c->pid_file, kw, w, n) != 0)
		return -1;
	if (w[0][0] != '/') {
		conf_error(p, "%s: \"%s\" is not an absolute path", kw, w[0]);
		return -1;
	}
	return 0;
}

static int
kw_vmta_header(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	const char *s;

	(void)ps;
	if (conf_set_string(p, &c->vmta_header, kw, w, n) != 0)
		return -1;
	for (s = w[0]; *s != '\0'; s++) {
		if (*s <= 0x20 || *s >= 0x7f || *s == ':') {
			conf_error(p, "%s: \"%s\" is not a header name", kw, w[0]);
			return -1;
		}
	}
	return 0;
}

static int
kw_vmta_macro(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	char buf[128];

	(void)ps;
	if (conf_one_word(p, kw, n) != 0)
		return -1;
	/* libmilter wants long macro names in braces: accept either spelling */
	if (w[0][0] == '{' || strlen(w[0]) == 1)
		snprintf(buf, sizeof(buf), "%s", w[0]);
	else
		snprintf(buf, sizeof(buf), "{%s}", w[0]);
	free(c->vmta_macro);
	c->vmta_macro = strdup(buf);
	return c->vmta_macro != NULL ? 0 : -1;
}

/* ---- policy keywords: fill the current scope's settings ---- */

static int
kw_sign(struct conf_parse *p, struct conf *c, struct policy_settings *ps, const char *kw,
    char **w, int n)
{
	(void)c;
	if (parse_bool(p, kw, w, n, &ps->sign) != 0)
		return -1;
	ps->set |= POLICY_SIGN;
	return 0;
}

static int
kw_encrypt(struct conf_parse *p, struct conf *c, struct policy_settings *ps, const char *kw,
    char **w, int n)
{
	(void)c;
	if (parse_bool(p, kw, w, n, &ps->encrypt) != 0)
		return -1;
	ps->set |= POLICY_ENCRYPT;
	return 0;
}

static int
kw_missing_cert(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	static const char *const names[] = {"reject", "tempfail", "plain", "sign-only", NULL};
	int i = choose(p, kw, w, n, names, "reject, tempfail, plain or sign-only");

	(void)c;
	if (i < 0)
		return -1;
	ps->missing_cert = (enum policy_missing_cert)i;
	ps->set |= POLICY_MISSING_CERT;
	return 0;
}

static int
kw_missing_key(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	static const char *const names[] = {"tempfail", "reject", "unsigned", NULL};
	int i = choose(p, kw, w, n, names, "unsigned, tempfail or reject");

	(void)c;
	if (i < 0)
		return -1;
	ps->missing_key = (enum policy_missing_key)i;
	ps->set |= POLICY_MISSING_KEY;
	return 0;
}

static int
kw_cipher(struct conf_parse *p, struct conf *c, struct policy_settings *ps, const char *kw,
    char **w, int n)
{
	static const char *const names[] = {"aes-128-cbc", "aes-256-cbc", "aes-128-gcm",
		"aes-256-gcm", NULL};
	int i = choose(p, kw, w, n, names,
	    "aes-128-cbc, aes-256-cbc, aes-128-gcm or aes-256-gcm");

	(void)c;
	if (i < 0)
		return -1;
	ps->cipher = i == 0 ? EVP_aes_128_cbc() : i == 1 ? EVP_aes_256_cbc()
	    : i == 2 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
	ps->set |= POLICY_CIPHER;
	return 0;
}

static int
kw_digest(struct conf_parse *p, struct conf *c, struct policy_settings *ps, const char *kw,
    char **w, int n)
{
	static const char *const names[] = {"sha256", "sha384", "sha512", NULL};
	int i = choose(p, kw, w, n, names, "sha256, sha384 or sha512");

	(void)c;
	if (i < 0)
		return -1;
	ps->digest = i == 0 ? EVP_sha256() : i == 1 ? EVP_sha384() : EVP_sha512();
	ps->set |= POLICY_DIGEST;
	return 0;
}

static int
kw_key_transport(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	static const char *const names[] = {"rsa-pkcs1", "rsa-oaep", NULL};
	struct smime_options opt = {0};
	int i = choose(p, kw, w, n, names, "rsa-pkcs1 or rsa-oaep");

	(void)c;
	if (i < 0)
		return -1;
	opt.key_transport = (enum smime_key_transport)i;
	if (engine_supports(p, &opt) != 0)
		return -1;
	ps->key_transport = opt.key_transport;
	ps->set |= POLICY_KEY_TRANSPORT;
	return 0;
}

static int
kw_signature(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	static const char *const names[] = {"rsa-pkcs1", "rsa-pss", NULL};
	struct smime_options opt = {0};
	int i = choose(p, kw, w, n, names, "rsa-pkcs1 or rsa-pss");

	(void)c;
	if (i < 0)
		return -1;
	opt.signature = (enum smime_signature)i;
	if (engine_supports(p, &opt) != 0)
		return -1;
	ps->signature = opt.signature;
	ps->set |= POLICY_SIGNATURE;
	return 0;
}

static int
kw_sign_format(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	static const char *const names[] = {"detached", "opaque", NULL};
	struct smime_options opt = {0};
	int i = choose(p, kw, w, n, names, "detached or opaque");

	(void)c;
	if (i < 0)
		return -1;
	opt.sign_format = (enum smime_sign_format)i;
	if (engine_supports(p, &opt) != 0)
		return -1;
	ps->sign_format = opt.sign_format;
	ps->set |= POLICY_SIGN_FORMAT;
	return 0;
}

static int
kw_header_protection(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	struct smime_options opt = {0};

	(void)c;
	if (parse_bool(p, kw, w, n, &opt.header_protection) != 0)
		return -1;
	if (engine_supports(p, &opt) != 0)
		return -1;
	ps->header_protection = opt.header_protection;
	ps->set |= POLICY_HEADER_PROTECTION;
	return 0;
}

static int
kw_hide_subject(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	(void)c;
	if (parse_bool(p, kw, w, n, &ps->hide_subject) != 0)
		return -1;
	ps->set |= POLICY_HIDE_SUBJECT;
	return 0;
}

static int
kw_encrypt_to_sender(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	(void)c;
	if (parse_bool(p, kw, w, n, &ps->encrypt_to_sender) != 0)
		return -1;
	ps->set |= POLICY_ENCRYPT_TO_SENDER;
	return 0;
}

static int
kw_signing_key(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	(void)c;
	if (n == 1 && strncmp(w[0], "pkcs11:", 7) == 0) {
		ps->set |= POLICY_SIGNING_KEY;
		return conf_set_string(p, &ps->signing_key, kw, w, n); /* checked when used */
	}
	ps->set |= POLICY_SIGNING_KEY;
	return conf_set_private_file(p, &ps->signing_key, kw, w, n);
}

static int
kw_signer_address_check(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	(void)c;
	if (parse_bool(p, kw, w, n, &ps->signer_address_check) != 0)
		return -1;
	ps->set |= POLICY_SIGNER_ADDRESS_CHECK;
	return 0;
}

static int
kw_warn_expiry(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	(void)ps;
	return conf_parse_count(p, kw, w, n, "days", 0, 3650, &c->warn_expiry_days);
}

static int
kw_key_passphrase_file(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	(void)ps;
	return conf_set_private_file(p, &c->key_passphrase_file, kw, w, n);
}

/* A readable regular file. */
static int
set_file(struct conf_parse *p, char **dst, const char *kw, char **w, int n)
{
	struct stat st;

	if (conf_set_string(p, dst, kw, w, n) != 0)
		return -1;
	if (stat(w[0], &st) != 0) {
		conf_error(p, "%s %s: %s", kw, w[0], strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		conf_error(p, "%s %s: not a regular file", kw, w[0]);
		return -1;
	}
	return 0;
}

static int
kw_ca_file(struct conf_parse *p, struct conf *c, struct policy_settings *ps, const char *kw,
    char **w, int n)
{
	char err[512];

	(void)ps;
	if (set_file(p, &c->ca_file, kw, w, n) != 0)
		return -1;
	if (conf_check_ca_file(w[0], err, sizeof(err)) != 0) {
		conf_error(p, "%s", err);
		return -1;
	}
	return 0;
}

static int
kw_crl_file(struct conf_parse *p, struct conf *c, struct policy_settings *ps, const char *kw,
    char **w, int n)
{
	char err[512];

	(void)ps;
	if (set_file(p, &c->crl_file, kw, w, n) != 0)
		return -1;
	if (conf_check_crl_file(w[0], err, sizeof(err)) != 0) {
		conf_error(p, "%s", err);
		return -1;
	}
	return 0;
}

static int
kw_domain_cert(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	char err[512];
	X509 *x;

	(void)c;
	if (set_file(p, &ps->domain_cert, kw, w, n) != 0)
		return -1;
	ps->set |= POLICY_DOMAIN_CERT;
	x = certstore_load_file(w[0], err, sizeof(err));
	if (x == NULL) {
		conf_error(p, "%s: %s", kw, err);
		return -1;
	}
	X509_free(x);
	return 0;
}

static int
kw_signing_cert(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	char err[512];
	X509 *x;

	(void)c;
	if (set_file(p, &ps->signing_cert, kw, w, n) != 0)
		return -1;
	ps->set |= POLICY_SIGNING_CERT;
	x = certstore_load_file(w[0], err, sizeof(err));
	if (x == NULL) {
		conf_error(p, "%s: %s", kw, err);
		return -1;
	}
	X509_free(x);
	return 0;
}

static int
kw_harvest_dir(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	(void)ps;
	if (set_dir(p, &c->harvest_dir, kw, w, n) != 0)
		return -1;
	if (access(w[0], W_OK) != 0) {
		conf_error(p, "%s %s: not writable: %s", kw, w[0], strerror(errno));
		return -1;
	}
	return 0;
}

static int
kw_harvest_trust(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	static const char *const names[] = {"ca", "any", NULL};
	int i = choose(p, kw, w, n, names, "ca or any");

	(void)ps;
	if (i < 0)
		return -1;
	c->harvest_trust_any = i == 1;
	return 0;
}

static int
kw_harvest_require_dkim(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	(void)ps;
	return parse_bool(p, kw, w, n, &c->harvest_require_dkim);
}

static int
kw_authserv_id(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	(void)ps;
	return conf_set_string(p, &c->authserv_id, kw, w, n);
}

const struct conf_keyword conf_keywords[] = {
	{"socket", kw_socket, CONF_IN_GLOBAL},
	{"socket-mode", kw_socket_mode, CONF_IN_GLOBAL},
	{"socket-group", kw_socket_group, CONF_IN_GLOBAL},
	{"cert-dir", kw_cert_dir, CONF_IN_GLOBAL},
	{"key-dir", kw_key_dir, CONF_IN_GLOBAL},
	{"internal-hosts", kw_internal_hosts, CONF_IN_GLOBAL},
	{"on-error", kw_on_error, CONF_IN_GLOBAL},
	{"spool-dir", kw_spool_dir, CONF_IN_GLOBAL},
	{"spool-memory", kw_spool_memory, CONF_IN_GLOBAL},
	{"body-chunk-size", kw_body_chunk_size, CONF_IN_GLOBAL},
	{"user", kw_user, CONF_IN_GLOBAL},
	{"pid-file", kw_pid_file, CONF_IN_GLOBAL},
	{"virtual-mta-header", kw_vmta_header, CONF_IN_GLOBAL},
	{"virtual-mta-macro", kw_vmta_macro, CONF_IN_GLOBAL},
	{"unknown-virtual-mta", kw_unknown_vmta, CONF_IN_GLOBAL},
	{"sign", kw_sign, CONF_IN_POLICY | CONF_IN_SENDER},
	{"encrypt", kw_encrypt, CONF_IN_POLICY},
	{"missing-cert", kw_missing_cert, CONF_IN_POLICY},
	{"missing-key", kw_missing_key, CONF_IN_POLICY | CONF_IN_SENDER},
	{"cipher", kw_cipher, CONF_IN_POLICY},
	{"key-transport", kw_key_transport, CONF_IN_POLICY},
	{"digest", kw_digest, CONF_IN_POLICY | CONF_IN_SENDER},
	{"signature", kw_signature, CONF_IN_POLICY | CONF_IN_SENDER},
	{"sign-format", kw_sign_format, CONF_IN_POLICY | CONF_IN_SENDER},
	{"header-protection", kw_header_protection, CONF_IN_POLICY},
	{"hide-subject", kw_hide_subject, CONF_IN_POLICY},
	{"encrypt-to-sender", kw_encrypt_to_sender, CONF_IN_POLICY | CONF_IN_SENDER},
	{"signing-key", kw_signing_key, CONF_IN_SENDER},
	{"signing-cert", kw_signing_cert, CONF_IN_SENDER},
	{"signer-address-check", kw_signer_address_check, CONF_IN_SENDER},
	{"warn-expiry", kw_warn_expiry, CONF_IN_GLOBAL},
	/* certificate sources and validation */
	{"ca-file", kw_ca_file, CONF_IN_GLOBAL},
	{"crl-file", kw_crl_file, CONF_IN_GLOBAL},
	{"domain-cert", kw_domain_cert, CONF_IN_DOMAIN},
	{"harvest-dir", kw_harvest_dir, CONF_IN_GLOBAL},
	{"harvest-trust", kw_harvest_trust, CONF_IN_GLOBAL},
	{"harvest-require-dkim", kw_harvest_require_dkim, CONF_IN_GLOBAL},
	{"authserv-id", kw_authserv_id, CONF_IN_GLOBAL},
	{"ldap-uri", kw_ldap_uri, CONF_IN_GLOBAL},
	{"ldap-base", kw_ldap_base, CONF_IN_GLOBAL},
	{"ldap-filter", kw_ldap_filter, CONF_IN_GLOBAL},
	{"ldap-bind-dn", kw_ldap_bind_dn, CONF_IN_GLOBAL},
	{"ldap-password-file", kw_ldap_password_file, CONF_IN_GLOBAL},
	{"ldap-timeout", kw_ldap_timeout, CONF_IN_GLOBAL},
	{"ldap-cache-ttl", kw_ldap_cache_ttl, CONF_IN_GLOBAL},
	{"ldap-negative-ttl", kw_ldap_negative_ttl, CONF_IN_GLOBAL},
	{"key-passphrase-file", kw_key_passphrase_file, CONF_IN_GLOBAL},
	/* operating the milter */
	{"metrics-listen", kw_metrics_listen, CONF_IN_GLOBAL},
	{"log-level", kw_log_level, CONF_IN_GLOBAL},
	{"log-facility", kw_log_facility, CONF_IN_GLOBAL},
	{"mode", kw_mode, CONF_IN_POLICY},
	{"monitor-header", kw_monitor_header, CONF_IN_GLOBAL},
};
const size_t conf_nkeywords = sizeof(conf_keywords) / sizeof(conf_keywords[0]);
