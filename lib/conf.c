/*
 * conf.c - the smime-milter.conf parser: one keyword table, one handler
 * per value type, FILE:LINE for every error.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "spool.h"

#define CONF_MAX_LINE 4096
#define CONF_MAX_WORDS 64

struct conf_parse {
	const char *path;
	int line;
	int errors;
	conf_report_fn report;
	void *arg;
	int seen_cert_dir, seen_key_dir;
};

static void conf_error(struct conf_parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
conf_error(struct conf_parse *p, const char *fmt, ...)
{
	char msg[1024], line[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->line > 0)
		snprintf(line, sizeof(line), "%s:%d: %s", p->path, p->line, msg);
	else
		snprintf(line, sizeof(line), "%s: %s", p->path, msg);
	p->errors++;
	if (p->report != NULL)
		p->report(p->arg, line);
}

/* ---- value handlers: (parse state, config, keyword, words, count) ---- */

typedef int (*conf_handler)(struct conf_parse *, struct conf *, const char *, char **, int);

static int
conf_one_word(struct conf_parse *p, const char *kw, int n)
{
	if (n != 1) {
		conf_error(p, "%s takes exactly one value, %d given", kw, n);
		return -1;
	}
	return 0;
}

static int
conf_set_string(struct conf_parse *p, char **dst, const char *kw, char **w, int n)
{
	if (conf_one_word(p, kw, n) != 0)
		return -1;
	free(*dst);
	*dst = strdup(w[0]);
	return *dst != NULL ? 0 : -1;
}

static int
conf_parse_bool(struct conf_parse *p, const char *kw, char **w, int n, int *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	size_t i;

	if (conf_one_word(p, kw, n) != 0)
		return -1;
	for (i = 0; i < 4; i++) {
		if (strcasecmp(w[0], yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(w[0], no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	conf_error(p, "%s: \"%s\" is not yes or no", kw, w[0]);
	return -1;
}

/* A directory that must exist. */
static int
conf_set_dir(struct conf_parse *p, char **dst, const char *kw, char **w, int n)
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

static int
kw_socket(struct conf_parse *p, struct conf *c, const char *kw, char **w, int n)
{
	if (conf_set_string(p, &c->socket, kw, w, n) != 0)
		return -1;
	if (strncmp(w[0], "inet:", 5) != 0 && strncmp(w[0], "inet6:", 6) != 0 &&
	    strncmp(w[0], "unix:", 5) != 0 && strncmp(w[0], "local:", 6) != 0 && w[0][0] != '/') {
		conf_error(p, "socket \"%s\": expected inet:PORT@HOST, inet6:PORT@HOST or unix:PATH",
		    w[0]);
		return -1;
	}
	return 0;
}

static int
kw_cert_dir(struct conf_parse *p, struct conf *c, const char *kw, char **w, int n)
{
	p->seen_cert_dir = 1;
	return conf_set_dir(p, &c->cert_dir, kw, w, n);
}

static int
kw_key_dir(struct conf_parse *p, struct conf *c, const char *kw, char **w, int n)
{
	p->seen_key_dir = 1;
	return conf_set_dir(p, &c->key_dir, kw, w, n);
}

static int
kw_spool_dir(struct conf_parse *p, struct conf *c, const char *kw, char **w, int n)
{
	return conf_set_dir(p, &c->spool_dir, kw, w, n);
}

static int
kw_internal_hosts(struct conf_parse *p, struct conf *c, const char *kw, char **w, int n)
{
	char err[256];
	int i, rc = 0;

	if (n == 0) {
		conf_error(p, "%s needs at least one network", kw);
		return -1;
	}
	hostlist_free(c->internal);
	c->internal = hostlist_new();
	if (c->internal == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (hostlist_add(c->internal, w[i], err, sizeof(err)) != 0) {
			conf_error(p, "%s: %s", kw, err);
			rc = -1;
		}
	}
	return rc;
}

static int
kw_sign(struct conf_parse *p, struct conf *c, const char *kw, char **w, int n)
{
	return conf_parse_bool(p, kw, w, n, &c->sign);
}

static int
kw_encrypt(struct conf_parse *p, struct conf *c, const char *kw, char **w, int n)
{
	return conf_parse_bool(p, kw, w, n, &c->encrypt);
}

static int
kw_on_error(struct conf_parse *p, struct conf *c, const char *kw, char **w, int n)
{
	if (conf_one_word(p, kw, n) != 0)
		return -1;
	if (strcasecmp(w[0], "tempfail") == 0)
		c->on_error = CONF_ON_ERROR_TEMPFAIL;
	else if (strcasecmp(w[0], "reject") == 0)
		c->on_error = CONF_ON_ERROR_REJECT;
	else {
		conf_error(p, "on-error: \"%s\" is not tempfail or reject", w[0]);
		return -1;
	}
	return 0;
}

static int
kw_cipher(struct conf_parse *p, struct conf *c, const char *kw, char **w, int n)
{
	static const struct {
		const char *name;
		const EVP_CIPHER *(*fn)(void);
	} ciphers[] = {
		{"aes-128-cbc", EVP_aes_128_cbc}, {"aes-256-cbc", EVP_aes_256_cbc},
		{"aes-128-gcm", EVP_aes_128_gcm}, {"aes-256-gcm", EVP_aes_256_gcm},
	};
	size_t i;

	if (conf_one_word(p, kw, n) != 0)
		return -1;
	for (i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++) {
		if (strcasecmp(w[0], ciphers[i].name) == 0) {
			c->cipher = ciphers[i].fn();
			return 0;
		}
	}
	conf_error(p, "cipher: \"%s\" is not aes-128-cbc, aes-256-cbc, aes-128-gcm or aes-256-gcm",
	    w[0]);
	return -1;
}

static int
kw_digest(struct conf_parse *p, struct conf *c, const char *kw, char **w, int n)
{
	if (conf_one_word(p, kw, n) != 0)
		return -1;
	if (strcasecmp(w[0], "sha256") == 0)
		c->digest = EVP_sha256();
	else if (strcasecmp(w[0], "sha384") == 0)
		c->digest = EVP_sha384();
	else if (strcasecmp(w[0], "sha512") == 0)
		c->digest = EVP_sha512();
	else {
		conf_error(p, "digest: \"%s\" is not sha256, sha384 or sha512", w[0]);
		return -1;
	}
	return 0;
}

static int
kw_spool_memory(struct conf_parse *p, struct conf *c, const char *kw, char **w, int n)
{
	char *end;
	unsigned long long v;

	if (conf_one_word(p, kw, n) != 0)
		return -1;
	errno = 0;
	v = strtoull(w[0], &end, 10);
	if (end == w[0] || errno != 0)
		goto bad;
	if (v > 1024ULL * 1024 * 1024) /* checked before scaling: no overflow */
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
kw_body_chunk_size(struct conf_parse *p, struct conf *c, const char *kw, char **w, int n)
{
	char *end;
	long v;

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

static const struct conf_keyword {
	const char *name;
	conf_handler handler; /* NULL: known, not supported yet */
} conf_keywords[] = {
	{"socket", kw_socket},
	{"cert-dir", kw_cert_dir},
	{"key-dir", kw_key_dir},
	{"internal-hosts", kw_internal_hosts},
	{"sign", kw_sign},
	{"encrypt", kw_encrypt},
	{"on-error", kw_on_error},
	{"cipher", kw_cipher},
	{"digest", kw_digest},
	{"spool-dir", kw_spool_dir},
	{"spool-memory", kw_spool_memory},
	{"body-chunk-size", kw_body_chunk_size},
	/* planned keywords: refused until honoured, never silently ignored */
	{"user", NULL},
	{"pid-file", NULL},
	{"ca-file", NULL},
	{"crl-file", NULL},
	{"virtual-mta-header", NULL},
	{"missing-cert", NULL},
	{"missing-key", NULL},
	{"key-transport", NULL},
	{"sign-format", NULL},
	{"header-protection", NULL},
	{"hide-subject", NULL},
	{"encrypt-to-sender", NULL},
	{"signature", NULL},
	{"signing-key", NULL},
	{"domain-cert", NULL},
	{"harvest-dir", NULL},
	{"ldap-uri", NULL},
};

/* Split a line into words; quotes group words; returns the count or -1. */
static int
conf_split(char *line, char **words, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0' || *p == '#')
			return n;
		if (n == max)
			return -1;
		if (*p == '"') {
			char *end = strchr(p + 1, '"');
			if (end == NULL)
				return -2;
			words[n++] = p + 1;
			*end = '\0';
			p = end + 1;
			continue;
		}
		words[n++] = p;
		while (*p != '\0' && !isspace((unsigned char)*p))
			p++;
		if (*p != '\0')
			*p++ = '\0';
	}
}

static void
conf_parse_line(struct conf_parse *p, struct conf *c, char *line)
{
	char *words[CONF_MAX_WORDS];
	size_t i;
	int n = conf_split(line, words, CONF_MAX_WORDS);

	if (n == -1) {
		conf_error(p, "too many values on one line (at most %d)", CONF_MAX_WORDS - 1);
		return;
	}
	if (n == -2) {
		conf_error(p, "unterminated quote");
		return;
	}
	if (n == 0)
		return;
	if (words[0][0] == '<') {
		conf_error(p, "block %s is not supported yet", words[0]);
		return;
	}
	for (i = 0; i < sizeof(conf_keywords) / sizeof(conf_keywords[0]); i++) {
		const struct conf_keyword *k = &conf_keywords[i];
		if (strcasecmp(words[0], k->name) != 0)
			continue;
		if (k->handler == NULL)
			conf_error(p, "keyword \"%s\" is not supported yet", k->name);
		else
			(void)k->handler(p, c, k->name, words + 1, n - 1);
		return;
	}
	conf_error(p, "unknown keyword \"%s\"", words[0]);
}

static void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	free(c->file);
	free(c->socket);
	free(c->cert_dir);
	free(c->key_dir);
	free(c->spool_dir);
	hostlist_free(c->internal);
	free(c);
}

/* Defaults, then checks that need the whole file. */
static void
conf_finish(struct conf_parse *p, struct conf *c)
{
	char err[256];

	p->line = 0;
	if (c->internal == NULL) {
		c->internal = hostlist_new();
		if (c->internal == NULL || hostlist_add(c->internal, "127.0.0.0/8", err, sizeof(err)) != 0 ||
		    hostlist_add(c->internal, "::1", err, sizeof(err)) != 0)
			conf_error(p, "out of memory");
	}
	if (c->encrypt && !p->seen_cert_dir)
		conf_error(p, "encrypt is on but no cert-dir is set");
	if (c->sign && !p->seen_key_dir)
		conf_error(p, "sign is on but no key-dir is set");
}

int
conf_load(const char *path, struct conf **out, conf_report_fn report, void *arg)
{
	struct conf_parse p = {.path = path, .report = report, .arg = arg};
	struct conf *c;
	char line[CONF_MAX_LINE + 2];
	FILE *f;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		conf_error(&p, "out of memory");
		return p.errors;
	}
	c->refs = 1;
	c->on_error = CONF_ON_ERROR_TEMPFAIL;
	c->spool_memory = SPOOL_DEFAULT_MEMORY;
	c->body_chunk = 65535; /* the milter protocol's largest body chunk */
	c->cipher = EVP_aes_256_cbc();
	c->digest = EVP_sha256();
	c->file = strdup(path);
	f = fopen(path, "r");
	if (f == NULL) {
		conf_error(&p, "cannot open: %s", strerror(errno));
		conf_free(c);
		return p.errors;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t len = strlen(line);
		p.line++;
		if (len > 0 && line[len - 1] != '\n' && !feof(f)) {
			int ch;
			conf_error(&p, "line longer than %d characters", CONF_MAX_LINE);
			while ((ch = fgetc(f)) != EOF && ch != '\n')
				;
			continue;
		}
		conf_parse_line(&p, c, line);
	}
	if (ferror(f)) {
		p.line = 0;
		conf_error(&p, "read error: %s", strerror(errno));
	}
	fclose(f);
	conf_finish(&p, c);
	if (p.errors > 0 || c->file == NULL) {
		conf_free(c);
		return p.errors > 0 ? p.errors : 1;
	}
	*out = c;
	return 0;
}

static pthread_mutex_t conf_lock = PTHREAD_MUTEX_INITIALIZER;

struct conf *
conf_ref(struct conf *c)
{
	pthread_mutex_lock(&conf_lock);
	c->refs++;
	pthread_mutex_unlock(&conf_lock);
	return c;
}

void
conf_unref(struct conf *c)
{
	int last;

	if (c == NULL)
		return;
	pthread_mutex_lock(&conf_lock);
	last = --c->refs == 0;
	pthread_mutex_unlock(&conf_lock);
	if (last)
		conf_free(c);
}
