/*
 * conf_int.h - internals shared by the configuration parser (conf.c) and
 * its keyword handlers (conf_kw.c).  Not a public header.
 */
#ifndef SMIME_CONF_INT_H
#define SMIME_CONF_INT_H

#include "conf.h"

/* Where a keyword may stand. */
enum {
	CONF_IN_GLOBAL = 1 << 0,
	CONF_IN_VMTA = 1 << 1,
	CONF_IN_DOMAIN = 1 << 2,
	CONF_IN_SENDER = 1 << 3
};
#define CONF_IN_POLICY (CONF_IN_GLOBAL | CONF_IN_VMTA | CONF_IN_DOMAIN)

/* Room for the keyword table in the per-scope "given at line" records. */
#define CONF_MAX_KEYWORDS 128

struct conf_parse {
	const char *path;
	int line;
	int errors;
	conf_report_fn report;
	void *arg;
	int seen_cert_dir, seen_key_dir;
	int needs_cert_dir;  /* some scope encrypts */
	int needs_key_dir;   /* some scope signs without a signing-key */
	int ldap_uri_line;   /* where ldap-uri was set, 0: not set */
	/* where each keyword (by table index) was given in the scopes open now, 0: not yet */
	int seen_global[CONF_MAX_KEYWORDS], seen_vmta[CONF_MAX_KEYWORDS], seen_inner[CONF_MAX_KEYWORDS];
	/* blocks given twice or with a bad pattern: read (so their lines and closing tag
	 * cause no further errors), then dropped */
	struct policy trash;
};

/* (parse state, configuration, settings of the current scope, keyword, values, count) */
typedef int (*conf_handler)(struct conf_parse *, struct conf *, struct policy_settings *,
    const char *, char **, int);

struct conf_keyword {
	const char *name;
	conf_handler handler; /* NULL: known, not supported yet */
	int where;            /* CONF_IN_* bits */
};

extern const struct conf_keyword conf_keywords[];
extern const size_t conf_nkeywords;

void conf_error(struct conf_parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Value helpers shared by the keyword handlers: exactly one value; a copied string. */
int conf_one_word(struct conf_parse *p, const char *kw, int n);
int conf_set_string(struct conf_parse *p, char **dst, const char *kw, char **w, int n);
/* A whole number of units ("seconds", "days") between lo and hi, into *out. */
int conf_parse_count(struct conf_parse *p, const char *kw, char **w, int n, const char *units,
    long lo, long hi, int *out);
/* A file that must exist and not be readable by group or others (keys, secrets). */
int conf_set_private_file(struct conf_parse *p, char **dst, const char *kw, char **w, int n);

/* conf_socket.c: socket-mode, socket-group */
int kw_socket_mode(struct conf_parse *, struct conf *, struct policy_settings *, const char *,
    char **, int);
int kw_socket_group(struct conf_parse *, struct conf *, struct policy_settings *, const char *,
    char **, int);

/* conf_ldap.c: the ldap-* keywords, and the LDAP checks and store at the end of the file */
int kw_ldap_uri(struct conf_parse *, struct conf *, struct policy_settings *, const char *,
    char **, int);
int kw_ldap_base(struct conf_parse *, struct conf *, struct policy_settings *, const char *,
    char **, int);
int kw_ldap_filter(struct conf_parse *, struct conf *, struct policy_settings *, const char *,
    char **, int);
int kw_ldap_bind_dn(struct conf_parse *, struct conf *, struct policy_settings *, const char *,
    char **, int);
int kw_ldap_password_file(struct conf_parse *, struct conf *, struct policy_settings *,
    const char *, char **, int);
int kw_ldap_timeout(struct conf_parse *, struct conf *, struct policy_settings *, const char *,
    char **, int);
int kw_ldap_cache_ttl(struct conf_parse *, struct conf *, struct policy_settings *, const char *,
    char **, int);
int kw_ldap_negative_ttl(struct conf_parse *, struct conf *, struct policy_settings *,
    const char *, char **, int);
void conf_finish_ldap(struct conf_parse *p, struct conf *c);

/* conf_vmta.c: what to do with a virtual MTA name no block defines */
int kw_unknown_vmta(struct conf_parse *, struct conf *, struct policy_settings *, const char *,
    char **, int);

/* conf_ops.c: metrics-listen, log-level, log-facility, mode, monitor-header */
int kw_metrics_listen(struct conf_parse *, struct conf *, struct policy_settings *, const char *,
    char **, int);
int kw_log_level(struct conf_parse *, struct conf *, struct policy_settings *, const char *,
    char **, int);
int kw_log_facility(struct conf_parse *, struct conf *, struct policy_settings *, const char *,
    char **, int);
int kw_mode(struct conf_parse *, struct conf *, struct policy_settings *, const char *, char **,
    int);
int kw_monitor_header(struct conf_parse *, struct conf *, struct policy_settings *, const char *,
    char **, int);

#endif
