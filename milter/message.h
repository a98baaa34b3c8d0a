/*
 * message.h - per-message state of the milter and the policy decisions
 * taken on it (decide.c), apart from the libmilter glue (callbacks.c).
 */
#ifndef SMIME_MESSAGE_H
#define SMIME_MESSAGE_H

#include <stddef.h>

#include <openssl/x509.h>

#include "certstore.h"
#include "conf.h"
#include "keystore.h"
#include "mime.h"
#include "policy.h"
#include "spool.h"

#define ADDR_MAX 256
#define VMTA_MAX 128

/* What a recipient needs from the one body of its message. */
enum rcpt_class {
	RCPT_ENCRYPT,   /* policy encrypts and there is a certificate */
	RCPT_FLEX,      /* policy does not encrypt; has a certificate, fits either way */
	RCPT_CLEAR,     /* must get an unencrypted body (no certificate) */
	RCPT_REJECT,    /* missing-cert reject */
	RCPT_TEMPFAIL   /* missing-cert tempfail, or the lookup failed */
};

struct rcpt {
	char addr[ADDR_MAX];
	const char *domain;        /* points into addr */
	X509 *cert;                /* NULL when none is usable */
	enum certstore_result lookup;
	char reason[256];          /* why there is no certificate, for logs */
	struct policy_settings s;  /* effective settings (borrowed strings) */
	enum rcpt_class cls;
	int force_sign;            /* missing-cert sign-only */
};

struct msgctx {
	struct conf *conf;           /* snapshot this message uses */
	char qid[64];
	char pass_reason[128];       /* set: pass the message untouched at RCPT */
	int harvest;                 /* from outside: only look for a signer's certificate */
	int inbound;                 /* from outside: decrypt, verify, harvest (inbound_cb.c) */
	char vmta[VMTA_MAX];         /* virtual MTA used for the RCPT decisions, "" if none */
	struct rcpt *rcpts;
	size_t nrcpt, rcap;
	struct mime_headers headers; /* every header, as received */
	size_t header_bytes;
	int has_mime_version;
	struct policy_settings pol;  /* the message's settings, once decided */
	struct keystore_identity signer;
	char signer_addr[ADDR_MAX];
	STACK_OF(X509) *recips;      /* certificates the body is encrypted to */
	spool *body;
	struct mime_canon canon;
	char *canonbuf;
	size_t canonbuf_len;
};

/* Outcome of a decision: continue, or a reply and what to return. */
enum decision { DECIDE_CONTINUE, DECIDE_PASS, DECIDE_REJECT, DECIDE_TEMPFAIL };

struct verdict {
	enum decision d;
	char code[4], xcode[8];
	char text[512];       /* SMTP reply text */
	char log[1280];       /* log line (without the queue id) */
};

/* Nonzero when any scope of the configuration signs or encrypts. */
int decide_anything_to_do(const struct conf *c);

/*
 * A new recipient: look up its certificate, resolve its settings (for the
 * virtual MTA known at RCPT time, m->vmta) and classify it against the
 * recipients already accepted.  On DECIDE_CONTINUE r is complete and the
 * caller appends it.  The caller frees r->cert otherwise.
 */
void decide_recipient(struct msgctx *m, struct rcpt *r, struct verdict *v);

/*
 * End of headers: the virtual MTA header may change the recipients'
 * settings; settle the message's settings (strictest of its recipients,
 * then the <sender> block) and load the signing identity.  DECIDE_PASS
 * means nothing to do (the message passes untouched).
 */
void decide_message(struct msgctx *m, struct verdict *v);

/* Free what the message holds (not m itself). */
void message_clear(struct msgctx *m);

#endif
