/*
 * conf.c - the smime-milter.conf parser: lines, words, blocks and the
 * checks that need the whole file.  The keywords are in the table of
 * conf_kw.c, their values are taken by conf_apply (conf_types.c).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "conf_int.h"
#include "spool.h"

#define CONF_MAX_LINE  4096
#define CONF_MAX_WORDS 64

/* The block being read: none (global), a vmta, a domain (maybe in a vmta), a sender. */
struct conf_block {
	struct policy_scope *vmta;  /* open <virtual-mta>, or NULL */
	struct policy_scope *inner; /* open <domain> or <sender>, or NULL */
};

static const char *
scope_tag(enum policy_scope_kind k)
{
	return k == POLICY_SCOPE_DOMAIN ? "domain"
	    : k == POLICY_SCOPE_VMTA    ? "virtual-mta"
	                                : "sender";
}

/* Split a line into words; quotes group words; returns the count or -1/-2. */
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

/* Patterns: "*", "name.tld", "*.name.tld"; senders may be "local@name.tld". */
static int
pattern_ok(const char *pat, enum policy_scope_kind kind)
{
	const char *s = pat, *at = strrchr(pat, '@');

	if (kind == POLICY_SCOPE_VMTA) {
		for (; *s != '\0'; s++)
			if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
				return 0;
		return *pat != '\0';
	}
	if (strcmp(pat, "*") == 0)
		return 1;
	if (kind == POLICY_SCOPE_SENDER && at != NULL) {
		if (at == pat)
			return 0;
		for (; s < at; s++)
			if (*s <= 0x20 || *s >= 0x7f || strchr("<>()[],;:\\\"", *s) != NULL)
				return 0;
		s = at + 1;
	} else if (strncmp(s, "*.", 2) == 0) {
		s += 2;
	}
	if (*s == '\0' || *s == '.' || s[strlen(s) - 1] == '.' || strstr(s, "..") != NULL)
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.')
			return 0;
	return 1;
}

static struct policy_scope *
scope_append(struct policy_scope **v, size_t *n)
{
	struct policy_scope *nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (nv == NULL)
		return NULL;
	*v = nv;
	memset(&nv[*n], 0, sizeof(nv[*n]));
	return &nv[(*n)++];
}

/* Nonzero when scope is one of the dropped blocks (a <virtual-mta> given twice, ...). */
static int
conf_scope_is_trash(const struct conf_parse *p, const struct policy_scope *scope)
{
	return p->trash.nvmtas > 0 && scope >= p->trash.vmtas &&
	    scope < p->trash.vmtas + p->trash.nvmtas;
}

/*
 * A keyword given twice in one scope is an error naming both lines (the
 * first value stays).  Returns -1 (error reported) for the second one.
 */
static int
conf_note_keyword(struct conf_parse *p, const struct conf_block *b, const struct conf_keyword *k)
{
	int *seen = b->inner != NULL ? p->seen_inner
	    : b->vmta != NULL        ? p->seen_vmta
	                             : p->seen_global;
	size_t ki = (size_t)(k - conf_keywords);

	if (ki >= CONF_MAX_KEYWORDS || k->repeatable)
		return 0;
	if (seen[ki] != 0) {
		conf_error(p, "%s given twice in this scope (first at line %d)", k->name, seen[ki]);
		return -1;
	}
	seen[ki] = p->line;
	return 0;
}

/* Where a new block of kind goes: the open <virtual-mta>, or the policy's list. */
static void
block_vector(struct conf *c, const struct conf_block *b, enum policy_scope_kind kind,
    struct policy_scope ***vec, size_t **count)
{
	if (b->vmta != NULL) {
		*vec = &b->vmta->domains;
		*count = &b->vmta->ndomains;
	} else if (kind == POLICY_SCOPE_DOMAIN) {
		*vec = &c->policy.domains;
		*count = &c->policy.ndomains;
	} else if (kind == POLICY_SCOPE_VMTA) {
		*vec = &c->policy.vmtas;
		*count = &c->policy.nvmtas;
	} else {
		*vec = &c->policy.senders;
		*count = &c->policy.nsenders;
	}
}

/* Where a block that is read and dropped goes. */
static void
trash_vector(struct conf_parse *p, enum policy_scope_kind kind, struct policy_scope ***vec,
    size_t **count)
{
	*vec = kind == POLICY_SCOPE_DOMAIN ? &p->trash.domains
	    : kind == POLICY_SCOPE_VMTA    ? &p->trash.vmtas
	                                   : &p->trash.senders;
	*count = kind == POLICY_SCOPE_DOMAIN ? &p->trash.ndomains
	    : kind == POLICY_SCOPE_VMTA      ? &p->trash.nvmtas
	                                     : &p->trash.nsenders;
}

/* "<domain x>", "<domain x >", "</domain>". */
static void
conf_block_line(struct conf_parse *p, struct conf *c, struct conf_block *b, char **w, int n)
{
	char *tag = w[0] + 1, *last = w[n - 1], *gt;
	enum policy_scope_kind kind;
	struct policy_scope **vec, *scope;
	size_t *count, i;
	int closing = (*tag == '/'), bad = 0;

	gt = strrchr(last, '>');
	if (gt == NULL || gt[1] != '\0') {
		conf_error(p, "block line must end with \">\"");
		return;
	}
	*gt = '\0';
	if (*last == '\0' && n > 1)
		n--; /* a lone ">" */
	if (closing)
		tag++;
	if (strcasecmp(tag, "domain") == 0)
		kind = POLICY_SCOPE_DOMAIN;
	else if (strcasecmp(tag, "virtual-mta") == 0)
		kind = POLICY_SCOPE_VMTA;
	else if (strcasecmp(tag, "sender") == 0)
		kind = POLICY_SCOPE_SENDER;
	else {
		conf_error(p, "unknown block <%s%s>", closing ? "/" : "", tag);
		return;
	}

	if (closing) {
		if (n != 1)
			conf_error(p, "</%s> takes no value", tag);
		if (b->inner != NULL && b->inner->kind == kind)
			b->inner = NULL;
		else if (b->inner == NULL && b->vmta != NULL && kind == POLICY_SCOPE_VMTA)
			b->vmta = NULL;
		else
			conf_error(p, "</%s> without an open <%s>", scope_tag(kind),
			    scope_tag(kind));
		return;
	}
	if (b->inner != NULL) {
		conf_error(p, "<%s> inside <%s %s> (opened at line %d)", tag,
		    scope_tag(b->inner->kind), b->inner->pattern, b->inner->line);
		return;
	}
	if (b->vmta != NULL && kind != POLICY_SCOPE_DOMAIN) {
		conf_error(p, "<%s> inside <virtual-mta %s>: only <domain> may be nested", tag,
		    b->vmta->pattern);
		return;
	}
	if (n != 2) {
		conf_error(p, "<%s> takes exactly one %s", tag,
		    kind == POLICY_SCOPE_VMTA ? "name" : "pattern");
		bad = 1;
	} else if (!pattern_ok(w[1], kind)) {
		conf_error(p, "<%s %s>: bad %s", tag, w[1],
		    kind == POLICY_SCOPE_VMTA ? "name" : "pattern");
		bad = 1;
	}
	block_vector(c, b, kind, &vec, &count);
	for (i = 0; i < *count && !bad; i++) {
		if (strcasecmp((*vec)[i].pattern, w[1]) == 0) {
			conf_error(p, "<%s %s> appears twice (first at line %d)", tag, w[1],
			    (*vec)[i].line);
			bad = 1;
		}
	}
	if (bad && (b->vmta == NULL || !conf_scope_is_trash(p, b->vmta)))
		trash_vector(p, kind, &vec,
		    &count); /* a bad <domain> in a good <virtual-mta>, ... */
	/* nothing else is appended while a scope is open, so b's pointers stay valid */
	scope = scope_append(vec, count);
	if (scope == NULL) {
		conf_error(p, "out of memory");
		return;
	}
	scope->kind = kind;
	scope->pattern = strdup(n > 1 ? w[1] : "");
	scope->line = p->line;
	if (kind == POLICY_SCOPE_VMTA) {
		b->vmta = scope;
		memset(p->seen_vmta, 0, sizeof(p->seen_vmta));
	} else {
		b->inner = scope;
	}
	memset(p->seen_inner, 0, sizeof(p->seen_inner));
}

static void
conf_parse_line(struct conf_parse *p, struct conf *c, struct conf_block *b, char *line)
{
	char *words[CONF_MAX_WORDS];
	const struct conf_keyword *k = NULL;
	struct policy_settings *ps;
	size_t i;
	int where, n = conf_split(line, words, CONF_MAX_WORDS);

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
		conf_block_line(p, c, b, words, n);
		return;
	}
	for (i = 0; i < conf_nkeywords; i++) {
		if (strcasecmp(words[0], conf_keywords[i].name) == 0) {
			k = &conf_keywords[i];
			break;
		}
	}
	if (k == NULL) {
		conf_error(p, "unknown keyword \"%s\"", words[0]);
		return;
	}
	if (b->inner != NULL) {
		where = b->inner->kind == POLICY_SCOPE_SENDER ? CONF_IN_SENDER : CONF_IN_DOMAIN;
		ps = &b->inner->s;
	} else if (b->vmta != NULL) {
		where = CONF_IN_VMTA;
		ps = &b->vmta->s;
	} else {
		where = CONF_IN_GLOBAL;
		ps = &c->policy.global;
	}
	if (!(k->where & where)) {
		conf_error(p, "keyword \"%s\" is not allowed %s", k->name,
		    where == CONF_IN_GLOBAL       ? "outside a block"
		        : where == CONF_IN_VMTA   ? "in <virtual-mta>"
		        : where == CONF_IN_DOMAIN ? "in <domain>"
		                                  : "in <sender>");
		return;
	}
	if (conf_note_keyword(p, b, k) != 0)
		return;
	conf_note_line(c, ps, k, p->line);
	(void)conf_apply(p, c, ps, k, words + 1, n - 1);
}

/* policy_visit_fn: which directories the settings of a scope need. */
static int
conf_scope_needs(void *arg, const struct policy_scope *scope, const struct policy_settings *s)
{
	struct conf_parse *p = arg;

	(void)scope;
	if ((s->set & POLICY_ENCRYPT) && s->encrypt)
		p->needs_cert_dir = 1;
	if ((s->set & POLICY_SIGN) && s->sign && !(s->set & POLICY_SIGNING_KEY))
		p->needs_key_dir = 1;
	return 0;
}

static void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	free(c->file);
	free(c->socket);
	free(c->socket_group);
	free(c->cert_dir);
	free(c->key_dir);
	free(c->key_passphrase_file);
	free(c->ca_file);
	free(c->crl_file);
	free(c->harvest_dir);
	free(c->authserv_id);
	free(c->harvest_ldap_base);
	certindex_free(c->certs);
	ldapstore_free(c->ldap);
	free(c->ldap_uri);
	free(c->ldap_base);
	free(c->ldap_filter);
	free(c->ldap_bind_dn);
	free(c->ldap_password_file);
	free(c->spool_dir);
	free(c->vmta_header);
	free(c->vmta_macro);
	free(c->user);
	free(c->pid_file);
	free(c->metrics_listen);
	hostlist_free(c->internal);
	policy_free(&c->policy);
	free(c);
}

/* Defaults, then checks that need the whole file. */
static void
conf_finish(struct conf_parse *p, struct conf *c, struct conf_block *b)
{
	char err[256];

	if (b->inner != NULL) {
		p->line = b->inner->line;
		conf_error(p, "<%s %s> is not closed", scope_tag(b->inner->kind),
		    b->inner->pattern);
	}
	if (b->vmta != NULL) {
		p->line = b->vmta->line;
		conf_error(p, "<virtual-mta %s> is not closed", b->vmta->pattern);
	}
	p->line = 0;
	if (c->internal == NULL) {
		c->internal = hostlist_new();
		if (c->internal == NULL ||
		    hostlist_add(c->internal, "127.0.0.0/8", err, sizeof(err)) != 0 ||
		    hostlist_add(c->internal, "::1", err, sizeof(err)) != 0)
			conf_error(p, "out of memory");
	}
	if (c->vmta_header == NULL && (c->vmta_header = strdup("X-Virtual-MTA")) == NULL)
		conf_error(p, "out of memory");
	conf_replies_build(&c->replies, c);
	(void)policy_foreach_scope(&c->policy, conf_scope_needs, p);
	if (p->needs_cert_dir && c->lines.cert_dir == 0 && c->ldap_uri == NULL)
		conf_error(p, "encrypt is on but no cert-dir or ldap-uri is set");
	conf_ldap_finish(p, c);
	conf_ops_finish(p, c);
	conf_inbound_finish(p, c);
	if (c->crl_file != NULL && c->ca_file == NULL)
		conf_error(p, "crl-file needs ca-file");
	if (c->harvest_dir != NULL && !c->harvest_trust_any && c->ca_file == NULL)
		conf_error(p, "harvest-dir needs ca-file (or harvest-trust any)");
	if (c->harvest_require_dkim && c->authserv_id == NULL)
		conf_error(p, "harvest-require-dkim needs authserv-id");
	/* the index also holds the trust (ca-file) that signing certificates chain to */
	if (p->errors == 0 &&
	    (c->cert_dir != NULL || c->harvest_dir != NULL || c->ca_file != NULL)) {
		const char *dirs[] = {c->cert_dir, c->harvest_dir, NULL};
		struct certindex_options o = {c->ca_file, c->crl_file};
		char why[512];
		if (c->cert_dir == NULL) {
			dirs[0] = c->harvest_dir;
			dirs[1] = NULL;
		}
		c->certs = certindex_open(dirs, &o, why, sizeof(why));
		if (c->certs == NULL)
			conf_error(p, "%s", why);
	}
	if (p->needs_key_dir && c->lines.key_dir == 0)
		conf_error(p, "sign is on but no key-dir is set");
}

int
conf_load(const char *path, struct conf **out, conf_report_fn report, void *arg)
{
	struct conf_parse p = {.path = path, .report = report, .arg = arg};
	struct conf_block b = {NULL, NULL};
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
	c->warn_expiry_days = CONF_DEFAULT_WARN_EXPIRY_DAYS;
	c->log_level = LOG_INFO;
	c->log_facility = LOG_MAIL;
	c->ldap_timeout = LDAPSTORE_DEFAULT_TIMEOUT;
	c->ldap_cache_ttl = LDAPSTORE_DEFAULT_CACHE_TTL;
	c->ldap_negative_ttl = LDAPSTORE_DEFAULT_NEGATIVE_TTL;
	c->max_mime_depth = CONF_DEFAULT_MAX_MIME_DEPTH;
	c->max_mime_parts = CONF_DEFAULT_MAX_MIME_PARTS;
	c->max_headers = CONF_DEFAULT_MAX_HEADERS;
	c->max_header_line = CONF_DEFAULT_MAX_HEADER_LINE;
	c->max_recipients = CONF_DEFAULT_MAX_RECIPIENTS;
	c->max_message_size = CONF_DEFAULT_MAX_MESSAGE_SIZE;
	c->on_oversize = CONF_OVERSIZE_REJECT;
	c->message_deadline = CONF_DEFAULT_MESSAGE_DEADLINE;
	c->max_connections = CONF_DEFAULT_MAX_CONNECTIONS;
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
		conf_parse_line(&p, c, &b, line);
	}
	if (ferror(f)) {
		p.line = 0;
		conf_error(&p, "read error: %s", strerror(errno));
	}
	fclose(f);
	conf_finish(&p, c, &b);
	policy_free(&p.trash);
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
