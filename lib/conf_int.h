/*
 * conf_int.h - internals of the configuration reader, shared by its
 * files.  Not a public header.
 *
 * Dependency order (each file uses only those before it):
 *   conf_types.c   parse state errors (conf_error) and one generic handler
 *                  per value type (conf_apply)
 *   conf_ldap.c, conf_socket.c, conf_vmta.c, conf_inbound.c
 *                  hooks of the special keywords, and the LDAP checks that
 *                  need the whole file
 *   conf_kw.c      the keyword table (conf_keywords) and its help
 *   conf.c         lines, words and blocks; conf_load
 *
 * The keyword table describes every keyword: its value type, the field it
 * fills (in struct conf, or in the struct policy_settings of the scope
 * being read, with the scope's POLICY_* bit), the range or the choices,
 * the scopes where it may stand, where its line is recorded, and a
 * one-line help.  The value types check what a value names (a user or
 * group that must exist, a DN, a directory we may write to ...); a hook
 * runs after the generic handler for the few keywords whose values need
 * more (a socket that must parse, a cipher to look up ...).
 */
#ifndef SMIME_CONF_INT_H
#define SMIME_CONF_INT_H

#include <stddef.h>
#include <stdio.h>

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
	int needs_cert_dir; /* some scope encrypts */
	int needs_key_dir;  /* some scope signs without a signing-key */
	/* where each keyword (by table index) was given in the scopes open now, 0: not yet */
	int seen_global[CONF_MAX_KEYWORDS], seen_vmta[CONF_MAX_KEYWORDS],
	    seen_inner[CONF_MAX_KEYWORDS];
	/* blocks given twice or with a bad pattern: read (so their lines and closing tag
	 * cause no further errors), then dropped */
	struct policy trash;
};

/* The value types of keywords; conf_apply has one handler for each. */
enum conf_type {
	CONF_T_BOOL,         /* yes|no (true|false, on|off, 1|0) -> int */
	CONF_T_ENUM,         /* one of choices (any case) -> int: the choice's value */
	CONF_T_COUNT,        /* a whole number in [lo, hi] (of units) -> int or size_t */
	CONF_T_SIZE,         /* bytes, suffix k or M, in [lo, hi] -> size_t */
	CONF_T_MODE,         /* octal permission bits in [lo, hi] -> int */
	CONF_T_STRING,       /* one word -> char * */
	CONF_T_DIR,          /* an existing directory -> char * */
	CONF_T_FILE,         /* an existing regular file -> char * */
	CONF_T_PRIVATE_FILE, /* a file only its owner may read (privfile.h) -> char * */
	CONF_T_CERT_FILE,    /* a regular file holding a certificate -> char * */
	CONF_T_KEY,          /* a private key file, or a pkcs11: URI checked when used -> char * */
	CONF_T_HOSTS,        /* networks, and files of networks, added to a hostlist * */
	CONF_T_ABS_PATH,     /* an absolute path (that need not exist yet) -> char * */
	CONF_T_USER,         /* the name of an existing user -> char * */
	CONF_T_GROUP,        /* the name of an existing group -> char * */
	CONF_T_DN,           /* an LDAP distinguished name -> char * */
	CONF_T_WRITABLE_DIR  /* an existing directory this process may write to -> char * */
};

/* Which struct a keyword's field (and line) is in. */
enum conf_target {
	CONF_TO_CONF, /* struct conf: global settings */
	CONF_TO_SCOPE /* struct policy_settings of the scope being read */
};

struct conf_choice {
	const char *name;
	int value;
};

/* A value as the generic handler parsed it, for hooks. */
struct conf_value {
	const char *word; /* the first word */
	long num;         /* bool, enum, count, size, mode */
};

struct conf_keyword;

/*
 * A keyword's own check or action, run when the generic handler took the
 * value (and stored it, if the keyword has a field).  0, or -1 with the
 * error reported through conf_error.
 */
typedef int (*conf_hook)(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const struct conf_keyword *k, const struct conf_value *v);

struct conf_keyword {
	const char *name;
	enum conf_type type;
	int where; /* CONF_IN_* bits */
	enum conf_target to;
	size_t off, size; /* the field; size 0: none (the hook stores) */
	unsigned set;     /* CONF_TO_SCOPE: the POLICY_* bit, set when given */
	size_t line_off;  /* an int recording the line in the same struct; 0: none */
	const struct conf_choice *choices; /* CONF_T_ENUM, ends with {NULL, 0} */
	long lo, hi;                       /* CONF_T_COUNT, CONF_T_SIZE, CONF_T_MODE */
	const char *units;                 /* CONF_T_COUNT: "seconds", ...; NULL: a plain number */
	size_t engine_off;                 /* an int of struct smime_options the S/MIME engine
	                                      must accept the value in; 0: no such check */
	int repeatable;                    /* adds to what it sets: may be given again in a scope */
	conf_hook hook;                    /* NULL: none */
	const char *arg;                   /* the value's name in help; NULL: from the type */
	const char *help;                  /* one line */
};

extern const struct conf_keyword conf_keywords[];
extern const size_t conf_nkeywords;

/* conf_types.c */

/* Report "FILE:LINE: message" (or "FILE: message" when p->line is 0). */
void conf_error(struct conf_parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Take the values w[0..n) of keyword k given in the scope whose settings
 * are ps: parse and check them by k's type, store them, run k's hook.
 * Errors are reported; returns 0 or -1.
 */
int conf_apply(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const struct conf_keyword *k, char **w, int n);

/* Record the line where k was given (in c->lines or in ps), if k records one. */
void conf_note_line(struct conf *c, struct policy_settings *ps, const struct conf_keyword *k,
    int line);

/* conf_socket.c: hooks of socket and socket-mode */
int conf_socket_spec(struct conf_parse *, struct conf *, struct policy_settings *,
    const struct conf_keyword *, const struct conf_value *);
int conf_socket_mode(struct conf_parse *, struct conf *, struct policy_settings *,
    const struct conf_keyword *, const struct conf_value *);

/* conf_vmta.c: hooks of virtual-mta-header, virtual-mta-macro and unknown-virtual-mta */
int conf_vmta_header(struct conf_parse *, struct conf *, struct policy_settings *,
    const struct conf_keyword *, const struct conf_value *);
int conf_vmta_macro(struct conf_parse *, struct conf *, struct policy_settings *,
    const struct conf_keyword *, const struct conf_value *);
int conf_vmta_unknown(struct conf_parse *, struct conf *, struct policy_settings *,
    const struct conf_keyword *, const struct conf_value *);

/* conf_ldap.c: hooks of ldap-uri and ldap-filter; the checks and store at the end */
int conf_ldap_uri(struct conf_parse *, struct conf *, struct policy_settings *,
    const struct conf_keyword *, const struct conf_value *);
int conf_ldap_filter(struct conf_parse *, struct conf *, struct policy_settings *,
    const struct conf_keyword *, const struct conf_value *);
void conf_ldap_finish(struct conf_parse *p, struct conf *c);

/* conf_ops.c: the hook of metrics-listen, and its check once the whole file is read */
int conf_ops_metrics_listen(struct conf_parse *, struct conf *, struct policy_settings *,
    const struct conf_keyword *, const struct conf_value *);
void conf_ops_finish(struct conf_parse *p, struct conf *c);

/* conf_inbound.c: the hook of decryption-key (the receiving side, mail from outside); the
 * checks that need the whole file */
int conf_inbound_decryption_key(struct conf_parse *, struct conf *, struct policy_settings *,
    const struct conf_keyword *, const struct conf_value *);
void conf_inbound_finish(struct conf_parse *p, struct conf *c);

/* conf_replies.c: fill r from c's on-error, unknown-virtual-mta and on-oversize (the rest is
 * fixed) */
void conf_replies_build(struct decide_replies *r, const struct conf *c);

#endif
