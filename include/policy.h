/*
 * policy.h - what to do with a message: per-scope settings and how they
 * combine.
 *
 * Scopes (low -> high precedence for a recipient): the global settings,
 * the <virtual-mta NAME> the message goes out through, the best-matching
 * top-level <domain PATTERN> of the recipient's domain, and the
 * best-matching <domain> nested in that <virtual-mta>.  <sender PATTERN>
 * blocks, matched against the From: address, choose the signing identity
 * and override the signing settings they set.  A setting left unset in a
 * scope inherits from the scopes below it.
 *
 * One message gets one body, so when recipients' settings differ the
 * strictest applies (policy_combine).
 */
#ifndef SMIME_POLICY_H
#define SMIME_POLICY_H

#include <stddef.h>

#include <openssl/evp.h>

#include "smime.h"

enum policy_missing_cert {
	POLICY_MISSING_CERT_REJECT = 0, /* 550 5.7.1 at RCPT */
	POLICY_MISSING_CERT_TEMPFAIL,   /* 451 4.7.1 at RCPT */
	POLICY_MISSING_CERT_PLAIN,      /* accept; the message is not encrypted */
	POLICY_MISSING_CERT_SIGN_ONLY   /* accept; the message is signed, not encrypted */
};

enum policy_missing_key {
	POLICY_MISSING_KEY_TEMPFAIL = 0, /* 451 4.7.0: the MTA keeps the mail */
	POLICY_MISSING_KEY_REJECT,       /* 550 5.7.0 */
	POLICY_MISSING_KEY_UNSIGNED      /* send without a signature, log a warning */
};

/* What happens to mail from outside that should be decrypted but cannot be (on-undecryptable). */
enum policy_on_undecryptable {
	POLICY_UNDECRYPTABLE_PASS = 0, /* delivered as it came, with a log line */
	POLICY_UNDECRYPTABLE_TEMPFAIL, /* 451 4.7.5: the sender keeps it */
	POLICY_UNDECRYPTABLE_REJECT    /* 550 5.7.5 */
};

/* Bits of policy_settings.set: which fields a scope sets. */
enum {
	POLICY_SIGN = 1u << 0,
	POLICY_ENCRYPT = 1u << 1,
	POLICY_MISSING_CERT = 1u << 2,
	POLICY_MISSING_KEY = 1u << 3,
	POLICY_CIPHER = 1u << 4,
	POLICY_KEY_TRANSPORT = 1u << 5,
	POLICY_SIGN_FORMAT = 1u << 6,
	POLICY_HEADER_PROTECTION = 1u << 7,
	POLICY_HIDE_SUBJECT = 1u << 8,
	POLICY_ENCRYPT_TO_SENDER = 1u << 9,
	POLICY_DIGEST = 1u << 10,
	POLICY_SIGNATURE = 1u << 11,
	POLICY_SIGNING_KEY = 1u << 12,
	POLICY_DOMAIN_CERT = 1u << 13,
	POLICY_SIGNING_CERT = 1u << 14,
	POLICY_SIGNER_ADDRESS_CHECK = 1u << 15,
	/* the receiving side, for mail from outside (inbound.h) */
	POLICY_DECRYPT = 1u << 16,
	POLICY_VERIFY = 1u << 17,
	POLICY_UNWRAP_OPAQUE = 1u << 18,
	POLICY_DECRYPTION_KEY = 1u << 19,
	POLICY_DECRYPTION_KEY_DIR = 1u << 20,
	POLICY_ON_UNDECRYPTABLE = 1u << 21,
	POLICY_MODE = 1u << 24 /* apart from bits other keywords may take */
};

/* mode: act on the decisions, or only log and count them (roll-out). */
enum policy_mode {
	POLICY_MODE_ENFORCE = 0,
	POLICY_MODE_MONITOR
};

struct policy_settings {
	unsigned set;
	int sign;
	int encrypt;
	enum policy_missing_cert missing_cert;
	enum policy_missing_key missing_key;
	const EVP_CIPHER *cipher;
	enum smime_key_transport key_transport;
	enum smime_sign_format sign_format;
	int header_protection;
	int hide_subject;
	int encrypt_to_sender;
	const EVP_MD *digest;
	enum smime_signature signature;
	char *signing_key;        /* owned by the scope */
	char *domain_cert;        /* gateway certificate for the whole domain; owned by the scope */
	char *signing_cert;       /* certificate + chain of signing-key, when not in it; owned */
	int signer_address_check; /* the signing certificate must name the From: address */
	enum policy_mode mode;    /* enforce, or monitor: decide, log, count, change nothing */
	int signing_key_line, signing_cert_line, domain_cert_line; /* where given (0: not) */
	/* mail from outside to recipients in this scope */
	int decrypt;       /* open S/MIME encrypted to a key we hold */
	int verify;        /* check signatures, report them in Authentication-Results */
	int unwrap_opaque; /* opaque signed-data becomes its content */
	enum policy_on_undecryptable on_undecryptable;
	char *decryption_key; /* the domain's gateway key (file or pkcs11:); owned by the scope */
	char *decryption_key_dir; /* recipients' own keys, <address>.pem; owned by the scope */
	int decryption_key_line, decryption_key_dir_line; /* where given (0: not) */
};

enum policy_scope_kind {
	POLICY_SCOPE_DOMAIN,
	POLICY_SCOPE_VMTA,
	POLICY_SCOPE_SENDER
};

struct policy_scope {
	enum policy_scope_kind kind;
	char *pattern; /* domain pattern, virtual MTA name or sender pattern */
	int line;      /* where the block starts */
	struct policy_settings s;
	struct policy_scope *domains; /* <domain> blocks nested in a <virtual-mta> */
	size_t ndomains;
};

struct policy {
	struct policy_settings global;
	struct policy_scope *domains, *vmtas, *senders;
	size_t ndomains, nvmtas, nsenders;
};

/* The built-in defaults: everything set, nothing signed or encrypted. */
void policy_defaults(struct policy_settings *s);

/* Copy every field src sets onto dst (dst->set gains src's bits). */
void policy_overlay(struct policy_settings *dst, const struct policy_settings *src);

/*
 * How well a pattern matches: -1 for no match, else a score where a
 * higher score is more specific.  Domain patterns: "*", "example.com",
 * "*.example.com" (subdomains only).  Sender patterns may also be a full
 * address.  Comparison is case-insensitive.
 */
int policy_match_domain(const char *pattern, const char *domain);
int policy_match_sender(const char *pattern, const char *address);

/*
 * Effective settings for a recipient domain going out through vmta (NULL
 * when none): defaults < global < virtual-mta < domain < domain in the
 * virtual-mta.  *out borrows signing_key from the policy.
 */
void policy_for_recipient(const struct policy *p, const char *vmta, const char *domain,
    struct policy_settings *out);

/*
 * The scopes whose settings make a recipient's, lowest precedence first:
 * the global settings, the <virtual-mta>, the top-level <domain>, the
 * <domain> inside that <virtual-mta>.  A scope that does not apply is
 * NULL (the global one always applies: it is set, as &p->global's scope,
 * to NULL with settings[0] = &p->global).  Borrowed from p.
 */
#define POLICY_NSCOPES 4
struct policy_match {
	const struct policy_scope *scope[POLICY_NSCOPES];       /* [0] is always NULL */
	const struct policy_settings *settings[POLICY_NSCOPES]; /* NULL: the scope does not apply */
};
void policy_match_recipient(const struct policy *p, const char *vmta, const char *domain,
    struct policy_match *out);

/*
 * Where the effective value of a setting (one POLICY_* bit) comes from: the
 * index in pm of the last scope that sets it, or -1 for the built-in default.
 */
int policy_origin(const struct policy_match *pm, unsigned bit);

/* A scope as the explainer and the summary line name it: "global", "domain:x", ... */
void policy_scope_name(const struct policy_scope *scope, const struct policy_scope *vmta, char *buf,
    size_t len);

/*
 * Call fn with the settings of every scope of p: the global settings
 * (scope NULL), each top-level <domain>, each <sender>, each
 * <virtual-mta> and the <domain> blocks nested in it.  Stops at the first
 * nonzero return of fn and returns it; 0 when fn returned 0 throughout.
 * fn borrows what it is given.
 */
typedef int (
    *policy_visit_fn)(void *arg, const struct policy_scope *scope, const struct policy_settings *s);
int policy_foreach_scope(const struct policy *p, policy_visit_fn fn, void *arg);

/* Nonzero when a <virtual-mta NAME> block exists (case-insensitive). */
int policy_has_vmta(const struct policy *p, const char *name);

/* The <sender> block matching a From: address, or NULL.  Borrowed. */
const struct policy_scope *policy_sender_scope(const struct policy *p, const char *address);

/*
 * Fold one recipient's settings into a message's: the strictest wins
 * (sign and encrypt if anyone does; the stronger cipher, digest, key
 * transport and signature; opaque over detached; protections on if
 * anyone asks; the strictest missing-key).  Start from
 * policy_combine_init.
 */
void policy_combine_init(struct policy_settings *msg);
void policy_combine(struct policy_settings *msg, const struct policy_settings *rcpt);

/*
 * A <sender> block's settings on a message's combined settings: what the
 * block sets replaces the message's value (policy_overlay; signing-key,
 * signing-cert and signer-address-check included, borrowed), except that
 * sign only ever turns signing on -- "sign no" for a sender does not take
 * away a signature the recipients' policy asks for.
 */
void policy_apply_sender(struct policy_settings *msg, const struct policy_settings *sender);

/* Free what the scopes own. */
void policy_free(struct policy *p);

/* Names for logs and errors. */
const char *policy_missing_cert_name(enum policy_missing_cert m);
const char *policy_on_undecryptable_name(enum policy_on_undecryptable a);

#endif
