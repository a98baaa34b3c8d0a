/*
 * decide.h - the milter's core, without libmilter: the state of one
 * message from MAIL FROM to its end (struct decide_msg) and every policy
 * decision taken on it.  The milter's callbacks only read macros, call
 * the function of their stage and turn the verdict into a libmilter
 * return code and reply; the unit tests call the same functions.
 *
 * Stages, in the order the MTA goes through them:
 *   decide_client          MAIL FROM: internal or authenticated? anything to do?
 *   decide_recipient       each RCPT: certificate, settings, kind (below)
 *   decide_header          each header, collected
 *   decide_end_of_headers  the virtual MTA header, the message's settings,
 *                          the signing identity; the body spool
 *   decide_body            each body chunk, canonical CRLF, spooled
 *   decide_end_of_message  sign/encrypt, the new body and Content-* headers,
 *                          or the harvest of a signer's certificate
 *
 * The rules (tests/check_decide.c tests each one; see doc/hacking.md):
 * - One message gets one body.  A recipient whose policy encrypts and who
 *   has a certificate (ENCRYPT) cannot share a body with one who must get
 *   it unencrypted (CLEAR: no certificate, and policy does not encrypt or
 *   says missing-cert plain/sign-only).  The first of the two kinds to be
 *   accepted sets the message's kind; a recipient of the other kind is
 *   deferred (451 4.7.1) so that the client sends it again separately.
 * - The message's settings are the strictest of its recipients'
 *   (policy_combine), then its <sender> block's (policy_apply_sender).
 * - When the virtual MTA comes from a header (known only after DATA) and
 *   differs from the one the RCPT decisions used, every recipient is
 *   decided again; a recipient that now fails fails the whole message
 *   with a reply naming the recipients.
 * - A signing identity that may not sign for the From: address counts as
 *   a missing key (missing-key); one that cannot be loaded is an internal
 *   failure (on-error).
 * - A virtual MTA no block defines: unknown-virtual-mta.
 * Nothing that policy says to encrypt ever leaves in clear.
 *
 * The SMTP reply of every outcome is fixed once per configuration, when
 * it is loaded (conf_replies_build, called by conf_load).
 */
#ifndef SMIME_DECIDE_H
#define SMIME_DECIDE_H

#include <stddef.h>
#include <sys/socket.h>

#include <openssl/x509.h>

#include "certstore.h"
#include "keystore.h"
#include "mime.h"
#include "mimescan.h"
#include "policy.h"
#include "smime.h"
#include "spool.h"

struct conf; /* conf.h, which holds a struct decide_replies */

#define DECIDE_ADDR_MAX 256
#define DECIDE_VMTA_MAX 128
/* Headers kept per message (Postfix's header_size_limit is 100 KB by default). */
#define DECIDE_HEADER_BYTES_MAX (1024 * 1024)

/* What the MTA is to do after a stage. */
enum decide_outcome {
	DECIDE_CONTINUE = 0, /* go on (at the end of the message: it is done) */
	DECIDE_PASS,         /* accept the message untouched; the message ends */
	DECIDE_REJECT,       /* 5xx */
	DECIDE_TEMPFAIL      /* 4xx */
};

/* An outcome with its SMTP codes ("" for CONTINUE and PASS). */
struct decide_reply {
	enum decide_outcome d;
	char code[4], xcode[8];
};

/* The reply of every outcome under one configuration. */
struct decide_replies {
	struct decide_reply on_error;        /* internal failure: 451 4.7.0, or 550 5.7.0 */
	struct decide_reply missing_cert[4]; /* by enum policy_missing_cert: reject 550 5.7.1,
	                                        tempfail 451 4.7.1, plain and sign-only go on */
	struct decide_reply lookup_failed;   /* no answer from a certificate store: 451 4.7.1 */
	struct decide_reply defer;           /* cannot share the message's body: 451 4.7.1 */
	struct decide_reply bad_address;     /* RCPT address unusable: 550 5.7.1 */
	struct decide_reply vmta_conflict;  /* virtual MTA header: encrypted and clear: 550 5.7.1 */
	struct decide_reply missing_key[3]; /* by enum policy_missing_key: tempfail 451 4.7.0,
	                                        reject 550 5.7.0, unsigned goes on */
	struct decide_reply unknown_vmta;   /* unknown-virtual-mta: tempfail 451 4.7.1, reject
	                                        550 5.7.1, pass goes on */
	struct decide_reply undecryptable[3][2]; /* mail from outside we cannot decrypt, by enum
	                                        policy_on_undecryptable, [1] for an unsupported
	                                        algorithm: tempfail 451 4.7.5 / 4.7.6, reject
	                                        550 5.7.5 / 5.7.6, pass goes on */
	/* the limits */
	struct decide_reply too_many_rcpts;     /* max-recipients: 452 4.5.3, for that recipient */
	struct decide_reply structure;          /* max-mime-*, max-header*: 554 5.6.0 */
	struct decide_reply oversize;           /* on-oversize: tempfail 452 4.3.4, reject 552
	                                       5.3.4, pass-sign-only goes on */
	struct decide_reply oversize_encrypted; /* ... and policy encrypts it: 552 5.3.4 */
	struct decide_reply deadline;           /* message-deadline: 451 4.3.0 */
	struct decide_reply connections;        /* max-connections: 451 4.3.2 */
};

/* What a recipient needs from the one body of its message. */
enum decide_class {
	DECIDE_RCPT_ENCRYPT, /* policy encrypts and there is a certificate */
	DECIDE_RCPT_FLEX,    /* policy does not encrypt; has a certificate, fits either way */
	DECIDE_RCPT_CLEAR,   /* must get an unencrypted body (no certificate) */
	DECIDE_RCPT_REJECT,  /* missing-cert reject */
	DECIDE_RCPT_TEMPFAIL /* missing-cert tempfail, or the lookup failed */
};

struct decide_rcpt {
	char addr[DECIDE_ADDR_MAX];
	const char *domain; /* points into addr */
	X509 *cert;         /* owned; NULL when none is usable */
	enum certstore_result lookup;
	const char *source;        /* where cert came from: "cert-dir", "ldap", "domain-cert";
	                              where the lookup failed when lookup is CERTSTORE_ERROR */
	char reason[256];          /* why there is no certificate, for logs */
	struct policy_settings s;  /* effective settings (strings borrowed from conf) */
	struct policy_match match; /* the scopes they came from */
	enum decide_class cls;     /* what the policy decides (in mode monitor: would decide) */
	int force_sign;            /* missing-cert sign-only */
	int monitor;               /* s.mode is monitor: nothing is refused or changed for it */
	const char *would_reason;  /* mode monitor: why it would have been refused; NULL if not */
	struct decide_reply would; /* ... and with which reply */
};

/* A recipient refused at RCPT (never in rcpts), for the summary line and the metrics. */
struct decide_refusal {
	char addr[DECIDE_ADDR_MAX];
	const char *reason; /* decide_rcpt_reason's name */
	struct decide_reply reply;
};

/* One message.  Everything in it is owned by it and freed by decide_msg_free. */
struct decide_msg {
	struct conf *conf;     /* the snapshot this message uses (one reference) */
	int values_spaced;     /* header values arrive with their leading space */
	char qid[64];          /* the MTA's queue id, "" until known */
	char pass_reason[128]; /* set: pass the message untouched at RCPT */
	int harvest;           /* from outside: only look for a signer's certificate */
	int inbound;           /* from outside: decrypt, verify, harvest (milter/inbound_cb.c) */
	char vmta[DECIDE_VMTA_MAX]; /* virtual MTA of the RCPT decisions, "" if none */
	struct decide_rcpt *rcpts;  /* the accepted recipients */
	size_t nrcpt, rcap;
	struct mime_headers headers; /* every header, as received */
	size_t header_bytes;
	uint64_t size;  /* body bytes so far, each line end one byte (max-message-size) */
	mimescan *scan; /* the MIME structure limits, while the body arrives; NULL: none */
	int has_mime_version;
	struct policy_settings pol;              /* the message's settings, once decided */
	const struct policy_scope *sender_scope; /* the <sender> block of From:, NULL if none */
	struct keystore_identity signer;
	char signer_addr[DECIDE_ADDR_MAX];
	STACK_OF(X509) *recips; /* certificates the body is encrypted to */
	spool *body;            /* canonical body; NULL until the end of the headers */
	struct mime_canon canon;
	char *canonbuf; /* wiped when freed */
	size_t canonbuf_len;
	char sender[DECIDE_ADDR_MAX];   /* the envelope sender; "" for <> or unknown */
	struct decide_refusal *refused; /* recipients refused at RCPT */
	size_t nrefused, refcap;
	int monitor;            /* every recipient is in mode monitor: the message passes */
	char would_header[256]; /* mode monitor, monitor-header yes: X-SMIME-Milter-Would */
	/* what became of it (decide_msg_end); outcome NULL while it goes on */
	const char *outcome, *why; /* metrics names: "signed_encrypted", "passed" + "external" */
	struct decide_reply end_reply;
	const char *would_outcome, *would_why; /* mode monitor: what would have become of it */
	uint64_t bytes_in, bytes_out;          /* body before and after, when protected */
	double seconds;                        /* end of message to reply; < 0 until measured */
	int ended;                             /* decide_msg_end was called */
};

/*
 * The outcome of a stage.  Outcomes of decide_recipient other than PASS
 * concern that recipient only; every other outcome but CONTINUE ends the
 * message (the caller frees it).  log is the line to log under the
 * message's queue id at priority level ("" for none).
 */
struct decide_verdict {
	struct decide_reply reply;
	const char *why; /* the reason's metrics name, for PASS, REJECT and TEMPFAIL */
	int level;       /* syslog priority of log */
	char text[512];  /* SMTP reply text, for REJECT and TEMPFAIL */
	char log[1400];
};

/*
 * Where the core's lines about a message go besides its verdicts (a
 * harvested signer, debug traces, the summary line): the program's
 * logging, which adds the queue id, as log.h's log_msg and log_enabled do.
 * The core itself never writes a log.  Set once before threads start
 * (borrowed: it must outlive every message); until then the lines are
 * dropped.
 */
struct decide_logger {
	void (*line)(int priority, const char *qid, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
	int (*enabled)(int priority);
};
void decide_set_logger(const struct decide_logger *lg);

/*
 * A new message on conf; takes over the caller's reference to conf.
 * values_spaced: header values will come with their leading space (the
 * MTA's SMFIP_HDR_LEADSPC).  NULL when out of memory (conf released).
 */
struct decide_msg *decide_msg_new(struct conf *conf, int values_spaced);

/* Remember the MTA's queue id (NULL or "": keep the one known). */
void decide_msg_set_qid(struct decide_msg *m, const char *qid);

/* Remember the envelope sender (MAIL FROM's argument, "<a@b>" or "<>"). */
void decide_msg_set_sender(struct decide_msg *m, const char *arg);

/* The one line that sums up a message (decide_msg_end). */
struct decide_summary {
	int level;       /* syslog priority */
	char line[4096]; /* key=value fields, without the queue id */
};

/*
 * The end of m, once, before decide_msg_free: settles what became of it (a
 * message the MTA gave up after every recipient was refused counts as
 * refused with reason "recipients"; one it gave up otherwise as aborted),
 * adds it to the metrics (metrics.h) and writes its summary line: action,
 * mode, sender, every recipient with the certificate used (serial, issuer
 * hash) or why it was refused, virtual MTA, scopes, cipher, digest, sizes
 * and time.  Nothing of the content or of any key is in it.
 */
void decide_msg_end(struct decide_msg *m, struct decide_summary *out);

/*
 * For the receiving side (milter/inbound_cb.c), which takes its own
 * decisions on mail from outside: what became of m (d PASS, REJECT or
 * TEMPFAIL, for the reason why, with the reply code and xcode; the first
 * end counts), and a recipient it refused.  A message of the receiving
 * side that ends without either counts as passed, reason inbound.
 */
void decide_msg_note(struct decide_msg *m, enum decide_outcome d, const char *why, const char *code,
    const char *xcode);
void decide_msg_note_refusal(struct decide_msg *m, const char *addr, const char *why,
    const char *code, const char *xcode);

/*
 * Why a recipient has no usable certificate, as the metrics name it:
 * no_certificate, expired, not_yet_valid, untrusted, wrong_usage,
 * wrong_address, ldap_error, lookup_error.  A static string.
 */
const char *decide_rcpt_reason(const struct decide_rcpt *r);

/* Free m and everything it holds, wiping plaintext; NULL is fine. */
void decide_msg_free(struct decide_msg *m);

/* Nonzero when any scope of the configuration signs or encrypts. */
int decide_anything_to_do(const struct conf *c);

/*
 * MAIL FROM.  client: the client's address (NULL when unknown);
 * authenticated: the client logged in (SMTP AUTH); vmta: the value of
 * the configuration's virtual-mta-macro, NULL when none.  Mail from
 * outside is harvested (with harvest-dir) or passes at the first RCPT;
 * with nothing to sign or encrypt anywhere it passes now, unlogged.
 */
void decide_client(struct decide_msg *m, const struct sockaddr *client, int authenticated,
    const char *vmta, struct decide_verdict *v);

/*
 * RCPT TO with its argument ("<bob@example.com>").  A local recipient
 * (no '@') is accepted and left alone.  Otherwise the certificate is
 * looked up (cert-dir, then LDAP, then the domain's domain-cert), the
 * settings resolved for m->vmta, the recipient classified against those
 * accepted already and, on CONTINUE, added to m->rcpts.
 */
void decide_recipient(struct decide_msg *m, const char *arg, struct decide_verdict *v);

/*
 * What decide_recipient finds for addr (an address, no angle brackets)
 * before it judges it: certificate, settings with the scopes they came
 * from, class; with vmta, the settings and class under that virtual MTA
 * (one named in the header, which the end of the headers applies).  For
 * the policy explainer; the caller frees r->cert.
 */
void decide_rcpt_lookup(const struct decide_msg *m, const char *addr, const char *vmta,
    struct decide_rcpt *r);

/* One header, as received; over DECIDE_HEADER_BYTES_MAX in all is on-error. */
void decide_header(struct decide_msg *m, const char *name, const char *value,
    struct decide_verdict *v);

/*
 * End of headers: mail that is S/MIME or PGP/MIME already passes (from
 * outside: only signed mail is kept, for harvesting); then the virtual
 * MTA header (unknown-virtual-mta, the re-decision), the message's
 * settings, the signing identity and the recipient certificates; then the
 * body spool.  PASS: nothing to do.
 */
void decide_end_of_headers(struct decide_msg *m, struct decide_verdict *v);

/* One body chunk: canonical CRLF into the spool (nothing once passed). */
void decide_body(struct decide_msg *m, const void *chunk, size_t len, struct decide_verdict *v);

/* What the core asks of the MTA at the end of a message. */
struct decide_mta {
	void *arg;
	/* header changes (value without leading space); 0, or -1 when the MTA refuses */
	int (*add_header)(void *arg, const char *name, const char *value);
	int (*change_header)(void *arg, const char *name, int index, const char *value);
	int (*delete_header)(void *arg, const char *name, int index);
	smime_write_fn replace_body; /* the new body, in chunks */
	void (*progress)(void *arg); /* the MTA is to wait for the signature; may be NULL */
};

/*
 * End of message: sign and/or encrypt, hand the new body and Content-*
 * headers to mta, log the line saying what was done; or, for mail from
 * outside, store its signer's certificate when it qualifies (the message
 * itself passes unchanged).  CONTINUE when done; the caller then frees m.
 */
void decide_end_of_message(struct decide_msg *m, const struct decide_mta *mta,
    struct decide_verdict *v);

/*
 * Store cert (with chain, may be NULL; both borrowed) for addr in the
 * configuration's harvest-dir, logging and counting what happened
 * (stored, already known, error).  For harvesting at the end of a message
 * and for signers verified by the inbound side.
 */
void decide_harvest_store(const struct decide_msg *m, const char *addr, X509 *cert,
    STACK_OF(X509) *chain);

#endif
