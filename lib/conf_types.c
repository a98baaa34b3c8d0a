/*
 * conf_types.c - the value types of smime-milter.conf keywords: one
 * generic handler per type (conf_apply), and error reporting with
 * FILE:LINE (conf_error).  See conf_int.h.
 *
 * Order of work for one keyword line: the scope's POLICY_* bit is set
 * when the keyword is given; a value that parses is stored; then what it
 * names is checked (a directory exists, a key file is private, ...), then
 * the keyword's hook runs.  So a bad value is one error, and the checks at
 * the end of the file ("crl-file needs ca-file", "sign is on but no
 * key-dir is set") do not add a second one about the same line.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certstore.h"
#include "conf_int.h"
#include "privfile.h"
#include "smime.h"

void
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

/* The struct k's field and line are in. */
static char *
target_base(const struct conf_keyword *k, struct conf *c, struct policy_settings *ps)
{
	return k->to == CONF_TO_SCOPE ? (char *)ps : (char *)c;
}

void
conf_note_line(struct conf *c, struct policy_settings *ps, const struct conf_keyword *k, int line)
{
	if (k->line_off != 0)
		*(int *)(void *)(target_base(k, c, ps) + k->line_off) = line;
}

/* ---- parsing: a word into v->num ---- */

static int
one_word(struct conf_parse *p, const struct conf_keyword *k, int n)
{
	if (n != 1) {
		conf_error(p, "%s takes exactly one value, %d given", k->name, n);
		return -1;
	}
	return 0;
}

static int
parse_bool(struct conf_parse *p, const struct conf_keyword *k, const char *w, long *out)
{
	static const char *const names[] = {"yes", "true", "on", "1", "no", "false", "off", "0"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(w, names[i]) == 0) {
			*out = i < 4;
			return 0;
		}
	}
	conf_error(p, "%s: \"%s\" is not yes or no", k->name, w);
	return -1;
}

static int
parse_enum(struct conf_parse *p, const struct conf_keyword *k, const char *w, long *out)
{
	char expect[256] = "";
	size_t i, n, used;

	for (n = 0; k->choices[n].name != NULL; n++) {
		if (strcasecmp(w, k->choices[n].name) == 0) {
			*out = k->choices[n].value;
			return 0;
		}
	}
	for (i = 0; i < n; i++) { /* "a, b or c" */
		used = strlen(expect);
		snprintf(expect + used, sizeof(expect) - used, "%s%s",
		    i == 0           ? ""
		        : i + 1 == n ? " or "
		                     : ", ",
		    k->choices[i].name);
	}
	conf_error(p, "%s: \"%s\" is not %s", k->name, w, expect);
	return -1;
}

static int
parse_count(struct conf_parse *p, const struct conf_keyword *k, const char *w, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(w, &end, 10);
	if (end == w || *end != '\0' || errno != 0 || v < k->lo || v > k->hi) {
		if (k->units != NULL)
			conf_error(p, "%s: \"%s\" is not a number of %s between %ld and %ld",
			    k->name, w, k->units, k->lo, k->hi);
		else
			conf_error(p, "%s: \"%s\" is not a number between %ld and %ld", k->name, w,
			    k->lo, k->hi);
		return -1;
	}
	*out = v;
	return 0;
}

/* A size for messages: "4k", "1024M", "100". */
static void
size_text(long v, char *out, size_t outlen)
{
	if (v >= 1024 * 1024 && v % (1024 * 1024) == 0)
		snprintf(out, outlen, "%ldM", v / (1024 * 1024));
	else if (v >= 1024 && v % 1024 == 0)
		snprintf(out, outlen, "%ldk", v / 1024);
	else
		snprintf(out, outlen, "%ld", v);
}

static int
parse_size(struct conf_parse *p, const struct conf_keyword *k, const char *w, long *out)
{
	char *end, lo[32], hi[32];
	unsigned long long v;

	errno = 0;
	v = strtoull(w, &end, 10);
	if (end == w || errno != 0 || v > (unsigned long long)k->hi) /* before scaling */
		goto bad;
	if (*end == 'k' || *end == 'K')
		v *= 1024, end++;
	else if (*end == 'm' || *end == 'M')
		v *= 1024 * 1024, end++;
	if (*end != '\0' || v < (unsigned long long)k->lo || v > (unsigned long long)k->hi)
		goto bad;
	*out = (long)v;
	return 0;
bad:
	size_text(k->lo, lo, sizeof(lo));
	size_text(k->hi, hi, sizeof(hi));
	conf_error(p, "%s: \"%s\" is not a size between %s and %s", k->name, w, lo, hi);
	return -1;
}

static int
parse_mode(struct conf_parse *p, const struct conf_keyword *k, const char *w, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(w, &end, 8);
	if (end == w || *end != '\0' || errno != 0 || v < k->lo || v > k->hi) {
		conf_error(p, "%s: \"%s\" is not an octal mode between %04lo and %04lo (e.g. 0660)",
		    k->name, w, (unsigned long)k->lo, (unsigned long)k->hi);
		return -1;
	}
	*out = v;
	return 0;
}

/* ---- checks of what a path names ---- */

static int
check_stat(struct conf_parse *p, const struct conf_keyword *k, const char *w, int want_dir)
{
	struct stat st;

	if (stat(w, &st) != 0) {
		conf_error(p, "%s %s: %s", k->name, w, strerror(errno));
		return -1;
	}
	if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
		conf_error(p, "%s %s: %s", k->name, w,
		    want_dir ? "not a directory" : "not a regular file");
		return -1;
	}
	return 0;
}

static int
check_private(struct conf_parse *p, const struct conf_keyword *k, const char *w)
{
	char err[1024];
	int fd = privfile_open(w, k->name, err, sizeof(err));

	if (fd < 0) {
		conf_error(p, "%s", err);
		return -1;
	}
	close(fd);
	return 0;
}

static int
check_cert(struct conf_parse *p, const struct conf_keyword *k, const char *w)
{
	char err[512];
	X509 *x;

	if (check_stat(p, k, w, 0) != 0)
		return -1;
	x = certstore_load_file(w, err, sizeof(err));
	if (x == NULL) {
		conf_error(p, "%s: %s", k->name, err);
		return -1;
	}
	X509_free(x);
	return 0;
}

/* The checks of the word types that name something other than a file. */
static int
check_name(struct conf_parse *p, const struct conf_keyword *k, const char *w)
{
	switch (k->type) {
	case CONF_T_ABS_PATH:
		if (w[0] == '/')
			return 0;
		conf_error(p, "%s: \"%s\" is not an absolute path", k->name, w);
		return -1;
	case CONF_T_USER:
		if (getpwnam(w) != NULL)
			return 0;
		conf_error(p, "%s: no such user \"%s\"", k->name, w);
		return -1;
	case CONF_T_GROUP:
		if (getgrnam(w) != NULL)
			return 0;
		conf_error(p, "%s: no such group \"%s\"", k->name, w);
		return -1;
	case CONF_T_DN:
		if (strchr(w, '=') != NULL)
			return 0;
		conf_error(p, "%s \"%s\": not a DN (e.g. dc=example,dc=com)", k->name, w);
		return -1;
	default: return 0;
	}
}

static int
check_path(struct conf_parse *p, const struct conf_keyword *k, const char *w)
{
	switch (k->type) {
	case CONF_T_WRITABLE_DIR:
		if (check_stat(p, k, w, 1) != 0)
			return -1;
		if (access(w, W_OK) == 0)
			return 0;
		conf_error(p, "%s %s: not writable: %s", k->name, w, strerror(errno));
		return -1;
	case CONF_T_DIR: return check_stat(p, k, w, 1);
	case CONF_T_FILE: return check_stat(p, k, w, 0);
	case CONF_T_PRIVATE_FILE: return check_private(p, k, w);
	case CONF_T_CERT_FILE: return check_cert(p, k, w);
	case CONF_T_KEY: /* a token's key is looked for when it is used (and by -n) */
		return strncmp(w, "pkcs11:", 7) == 0 ? 0 : check_private(p, k, w);
	default: return check_name(p, k, w);
	}
}

/* ---- internal-hosts: networks, or files of networks ---- */

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
add_hosts(struct conf_parse *p, const struct conf_keyword *k, hostlist **hl, char **w, int n)
{
	char err[256];
	int i, rc = 0;

	if (n == 0) {
		conf_error(p, "%s needs at least one network or file", k->name);
		return -1;
	}
	if (*hl == NULL && (*hl = hostlist_new()) == NULL) {
		conf_error(p, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (strncmp(w[i], "file:", 5) == 0 || w[i][0] == '/') {
			if (hosts_from_file(p, *hl, k->name, w[i] + (w[i][0] == '/' ? 0 : 5)) != 0)
				rc = -1;
		} else if (hostlist_add(*hl, w[i], err, sizeof(err)) != 0) {
			conf_error(p, "%s: %s", k->name, err);
			rc = -1;
		}
	}
	return rc;
}

/* ---- the generic handler ---- */

static int
is_path_type(enum conf_type t)
{
	return t == CONF_T_STRING || t == CONF_T_DIR || t == CONF_T_FILE ||
	    t == CONF_T_PRIVATE_FILE || t == CONF_T_CERT_FILE || t == CONF_T_KEY ||
	    t == CONF_T_ABS_PATH || t == CONF_T_USER || t == CONF_T_GROUP || t == CONF_T_DN ||
	    t == CONF_T_WRITABLE_DIR;
}

static int
parse_number(struct conf_parse *p, const struct conf_keyword *k, const char *w, long *out)
{
	switch (k->type) {
	case CONF_T_BOOL: return parse_bool(p, k, w, out);
	case CONF_T_ENUM: return parse_enum(p, k, w, out);
	case CONF_T_COUNT: return parse_count(p, k, w, out);
	case CONF_T_SIZE: return parse_size(p, k, w, out);
	default: return parse_mode(p, k, w, out);
	}
}

/* The S/MIME engine must be able to honour the value: ask it. */
static int
engine_accepts(struct conf_parse *p, const struct conf_keyword *k, long v)
{
	struct smime_options opt;
	char err[256];

	memset(&opt, 0, sizeof(opt));
	*(int *)(void *)((char *)&opt + k->engine_off) = (int)v;
	if (smime_check_options(&opt, err, sizeof(err)) != 0) {
		conf_error(p, "%s", err);
		return -1;
	}
	return 0;
}

static void
store_number(char *field, size_t size, long v)
{
	if (size == sizeof(size_t) && size != sizeof(int))
		*(size_t *)(void *)field = (size_t)v;
	else
		*(int *)(void *)field = (int)v;
}

static int
store_string(struct conf_parse *p, char *field, const char *w)
{
	char **dst = (char **)(void *)field;

	free(*dst);
	*dst = strdup(w);
	if (*dst == NULL) {
		conf_error(p, "out of memory");
		return -1;
	}
	return 0;
}

int
conf_apply(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const struct conf_keyword *k, char **w, int n)
{
	char *field = target_base(k, c, ps) + k->off;
	struct conf_value v = {n > 0 ? w[0] : "", 0};

	if (k->to == CONF_TO_SCOPE)
		ps->set |= k->set;
	if (k->type == CONF_T_HOSTS) {
		if (add_hosts(p, k, (hostlist **)(void *)field, w, n) != 0)
			return -1;
	} else if (one_word(p, k, n) != 0) {
		return -1;
	} else if (is_path_type(k->type)) {
		if ((k->size != 0 && store_string(p, field, w[0]) != 0) ||
		    check_path(p, k, w[0]) != 0)
			return -1;
	} else {
		if (parse_number(p, k, w[0], &v.num) != 0 ||
		    (k->engine_off != 0 && engine_accepts(p, k, v.num) != 0))
			return -1;
		if (k->size != 0)
			store_number(field, k->size, v.num);
	}
	return k->hook != NULL ? k->hook(p, c, ps, k, &v) : 0;
}
