/*
 * conf.h - smime-milter.conf: reading, checking, and the settings that
 * result.
 *
 * The file is a list of "keyword value..." lines with # comments, and
 * blocks <domain PATTERN>, <virtual-mta NAME> (which may hold <domain>
 * blocks) and <sender PATTERN>.  Every error names FILE:LINE.  A
 * configuration is immutable once loaded and shared by reference between
 * the messages that use it, so a reload can swap in a new one while
 * messages in flight finish with the old one.
 */
#ifndef SMIME_CONF_H
#define SMIME_CONF_H

#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

#include "certindex.h"
#include "decide.h"
#include "hostlist.h"
#include "ldapstore.h"
#include "policy.h"

#define CONF_DEFAULT_WARN_EXPIRY_DAYS 30
/* Permissions of a unix socket without socket-mode. */
#define CONF_SOCKET_MODE 0660

enum conf_on_error {
	CONF_ON_ERROR_TEMPFAIL,
	CONF_ON_ERROR_REJECT
};

/* A message naming a virtual MTA no <virtual-mta> block defines (unknown-virtual-mta). */
enum conf_unknown_vmta {
	CONF_UNKNOWN_VMTA_TEMPFAIL = 0, /* 451 4.7.1: the MTA keeps it (the default) */
	CONF_UNKNOWN_VMTA_REJECT,       /* 550 5.7.1 */
	CONF_UNKNOWN_VMTA_PASS          /* the policy without a virtual MTA, with a warning */
};

/* A message over max-message-size (on-oversize). */
enum conf_on_oversize {
	CONF_OVERSIZE_TEMPFAIL = 0,  /* 452 4.3.4 */
	CONF_OVERSIZE_REJECT,        /* 552 5.3.4 (the default) */
	CONF_OVERSIZE_PASS_SIGN_ONLY /* passes unsigned when its policy only signs; one that
	                                policy encrypts is rejected as with reject */
};

/* The limits' defaults (smime-milter.conf(5) says why these). */
#define CONF_DEFAULT_MAX_MIME_DEPTH   32
#define CONF_DEFAULT_MAX_MIME_PARTS   10000
#define CONF_DEFAULT_MAX_HEADERS      1000
#define CONF_DEFAULT_MAX_HEADER_LINE  (100 * 1024) /* Postfix's header_size_limit */
#define CONF_DEFAULT_MAX_RECIPIENTS   1000         /* Postfix's smtpd_recipient_limit */
#define CONF_DEFAULT_MAX_MESSAGE_SIZE 10240000     /* Postfix's message_size_limit */
#define CONF_DEFAULT_MESSAGE_DEADLINE 120          /* seconds; Postfix waits 300 */
#define CONF_DEFAULT_MAX_CONNECTIONS  500

/* Where global keywords were given (0: not given), for the checks of conf_check.h. */
struct conf_lines {
	int socket, user, pid_file, cert_dir, key_dir, key_passphrase_file, ca_file, crl_file;
	int harvest_dir, spool_dir, ldap_uri, ldap_password_file;
	int metrics_listen;
};

struct conf {
	char *file;                /* the file it came from */
	char *socket;              /* libmilter socket, e.g. inet:8894@127.0.0.1 */
	int socket_mode;           /* unix socket permissions; 0: CONF_SOCKET_MODE */
	char *socket_group;        /* unix socket group; NULL: the primary group of user */
	char *cert_dir;            /* recipient certificates */
	char *key_dir;             /* signing identities */
	char *key_passphrase_file; /* passphrase of encrypted PEM keys; NULL: none */
	char *ca_file;             /* recipient certificates must chain to these CAs */
	char *crl_file;            /* ... and not be revoked */
	certindex *certs;          /* cert-dir (+ harvest-dir) indexed; NULL without cert-dir */
	char *harvest_dir;         /* store signers' certificates of signed mail from outside */
	int harvest_trust_any;     /* harvest without a chain to ca-file */
	int harvest_require_dkim;  /* only with Authentication-Results dkim=pass for From: */
	char *authserv_id;         /* whose Authentication-Results count */
	char *ldap_uri;            /* recipient certificates from LDAP; NULL: none */
	char *ldap_base;
	char *ldap_filter;  /* NULL: LDAPSTORE_DEFAULT_FILTER */
	char *ldap_bind_dn; /* NULL: anonymous */
	char *ldap_password_file;
	int ldap_timeout;                      /* seconds */
	int ldap_cache_ttl, ldap_negative_ttl; /* seconds */
	ldapstore *ldap;    /* asked when certs has none; NULL without ldap-uri */
	hostlist *internal; /* clients whose mail is processed */
	enum conf_on_error on_error;
	struct decide_replies replies; /* the SMTP reply of every outcome, from on-error and
	                                  unknown-virtual-mta (conf_replies_build) */
	struct policy policy;          /* sign/encrypt/algorithms per scope */
	char *vmta_header;             /* header naming the virtual MTA (X-Virtual-MTA) */
	char *vmta_macro;              /* milter macro naming it, e.g. {daemon_name}; NULL: none */
	enum conf_unknown_vmta unknown_vmta;
	int unknown_vmta_set; /* given in the file: applies even without <virtual-mta> blocks */
	char *user;           /* drop privileges to this user; NULL: stay */
	char *pid_file;       /* NULL: none */
	char *spool_dir;      /* NULL: $TMPDIR or /tmp */
	size_t spool_memory;  /* bytes per message kept in memory */
	size_t body_chunk;    /* largest body piece handed back to the MTA */
	int warn_expiry_days; /* warn of signing certificates expiring within this many days */
	int allow_core_dumps; /* allow-core-dumps: leave core dumps to the system (default: off) */
	char *metrics_listen; /* metrics-listen as given; NULL: no metrics endpoint */
	struct sockaddr_storage metrics_addr; /* ... parsed (numeric address and port) */
	socklen_t metrics_addrlen;
	int metrics_public; /* metrics-public: a non-loopback address is allowed */
	int log_level;      /* syslog priority: lines above it are dropped (log-level) */
	int log_facility;   /* syslog facility (log-facility), LOG_MAIL by default */
	int monitor_header; /* mode monitor adds X-SMIME-Milter-Would (monitor-header) */
	/* limits on the messages the milter protects (max-*, on-oversize, message-deadline) */
	int max_mime_depth;      /* containers (multipart, message/rfc822) around an entity */
	int max_mime_parts;      /* entities of a message's body */
	int max_headers;         /* header fields of one header block */
	size_t max_header_line;  /* bytes of one header field, its continuation lines included */
	int max_recipients;      /* recipients of one message */
	size_t max_message_size; /* headers and body, each line end counted as one byte */
	int on_oversize;         /* enum conf_on_oversize */
	int message_deadline;    /* seconds the end of a message may take */
	int max_connections;     /* MTA connections served at once */
	struct conf_lines lines;
	int inbound;             /* some scope decrypts or verifies mail from outside */
	int harvest_ldap;        /* store harvested certificates in the directory too */
	char *harvest_ldap_base; /* ... under this DN; NULL: ldap-base */
	int refs;                /* see conf_ref / conf_unref */
};

/* Receives one "FILE:LINE: message" (or "FILE: message") error line. */
typedef void (*conf_report_fn)(void *arg, const char *msg);

/*
 * Read and check a configuration file.  Every error found is passed to
 * report (the whole file is read, so all errors are shown at once).  On
 * success *out is a new configuration with one reference; on failure
 * *out is NULL.  Returns the number of errors (0 = success).
 */
int conf_load(const char *path, struct conf **out, conf_report_fn report, void *arg);

/*
 * Check every signing identity c names (<sender> signing-key, every
 * key-dir/<address>.pem) as the milter checks a signer before it signs
 * (certindex_validate_signer): each failure goes to error as
 * "FILE[:LINE]: what: reason", each certificate expiring within
 * warn-expiry days to warn ("...: warning: ...").  Keys in PKCS#11
 * tokens are not opened (no login); their signing-cert is checked.
 * Returns the number of errors.
 */
int conf_check_signers(const struct conf *c, conf_report_fn error, conf_report_fn warn, void *arg);

/*
 * The keywords of smime-milter.conf: the name of the i-th (NULL past the
 * last), and every keyword with its value, its scopes and a line of help,
 * as "smime-milter -k" prints them.
 */
const char *conf_keyword_name(size_t i);
void conf_print_keywords(FILE *out);

/*
 * A metrics-listen address: ADDRESS:PORT with a numeric IPv4 address, or
 * [ADDRESS]:PORT for IPv6.  0 with *ss filled, or -1 with err.
 */
int conf_parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len, char *err,
    size_t errlen);

/* Nonzero when sa is a loopback address (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104). */
int conf_addr_is_loopback(const struct sockaddr *sa);

/* One signing identity a configuration names, as conf_foreach_signer finds it. */
struct conf_signer {
	const char *what; /* "key-dir DIR/a@b.pem", "<sender P> signing-key FILE", for messages */
	const char *identity; /* the address of a key-dir file, the pattern of a <sender> */
	const char *key;      /* the key file or pkcs11: URI, as shown (no PIN) */
	int line;             /* the line of key-dir or signing-key; 0: none */
	const char *address;  /* the address its certificate must name; NULL: not checked */
	X509 *cert;           /* its certificate, borrowed for the call */
	STACK_OF(X509) *chain;
};
typedef void (*conf_signer_fn)(void *arg, const struct conf_signer *s);

/*
 * Call fn for every signing identity of c whose certificate can be read:
 * each <sender> signing-key (with its signing-cert; a pkcs11: key only
 * when it has one, as the token is not opened), then each
 * key-dir/<address>.pem that no <sender> signing-key replaces.  Keys that
 * do not load are left out (conf_check_runtime reports them).
 */
void conf_foreach_signer(const struct conf *c, conf_signer_fn fn, void *arg);

/* Nonzero when cert ends within c's warn-expiry days of now; when: its notAfter, YYYY-MM-DD. */
int conf_signer_expires_within(const struct conf *c, X509 *cert, time_t now, char *when,
    size_t whenlen);

/* Take / drop a reference; the last conf_unref frees.  Thread-safe. */
struct conf *conf_ref(struct conf *c);
void conf_unref(struct conf *c);

#endif
