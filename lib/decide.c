/*
 * decide.c - the verdicts, the client decision at MAIL FROM and the
 * recipient decisions at RCPT: certificate lookup (cert-dir,
 * LDAP, domain-cert), settings, class, and the mixed-recipient rule.  See
 * decide.h; the end of the headers is in decide_eoh.c, the message's
 * life in decide_msg.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "decide_int.h"

/* ---- replies and verdicts ---- */

void
decide_verdict_set(struct decide_verdict *v, const struct decide_reply *r, int level)
{
	v->reply = *r;
	v->level = level;
}

const char *
decide_verdict_word(const struct decide_verdict *v)
{
	return v->reply.d == DECIDE_REJECT ? "rejected" : "tempfail";
}

void
decide_verdict_fail(struct decide_verdict *v, const struct conf *c, const char *what,
    const char *detail)
{
	decide_verdict_set(v, &c->replies.on_error, LOG_ERR);
	v->why = "internal";
	snprintf(v->text, sizeof(v->text), "%s", what);
	snprintf(v->log, sizeof(v->log), "%s: %s: %s", decide_verdict_word(v), what, detail);
}

/* ---- MAIL FROM ---- */

/* policy_visit_fn: nonzero when a scope signs or encrypts. */
static int
scope_acts(void *arg, const struct policy_scope *scope, const struct policy_settings *s)
{
	(void)arg;
	(void)scope;
	return ((s->set & POLICY_SIGN) && s->sign) || ((s->set & POLICY_ENCRYPT) && s->encrypt);
}

int
decide_anything_to_do(const struct conf *c)
{
	return policy_foreach_scope(&c->policy, scope_acts, NULL);
}

void
decide_client(struct decide_msg *m, const struct sockaddr *client, int authenticated,
    const char *vmta, struct decide_verdict *v)
{
	const struct conf *c = m->conf;

	memset(v, 0, sizeof(*v));
	if (!(client != NULL && hostlist_match(c->internal, client)) && !authenticated) {
		/* mail from outside: decrypt and verify, or a signer to harvest, else untouched */
		if (c->inbound || c->harvest_ldap) {
			m->inbound = 1;
			if (c->vmta_macro != NULL && vmta != NULL && vmta[0] != '\0')
				snprintf(m->vmta, sizeof(m->vmta), "%s", vmta);
			return;
		}
		if (c->harvest_dir != NULL) {
			m->harvest = 1;
			return;
		}
		/* decided now, logged at the first RCPT, when the queue id is known */
		snprintf(m->pass_reason, sizeof(m->pass_reason),
		    "passed: client is neither internal nor authenticated");
		return;
	}
	if (!decide_anything_to_do(c)) {
		v->reply.d = DECIDE_PASS;
		v->why = "nothing_to_do";
		decide_note_end(m, v);
		return;
	}
	if (c->vmta_macro != NULL && vmta != NULL && vmta[0] != '\0')
		snprintf(m->vmta, sizeof(m->vmta), "%s", vmta);
}

/* ---- RCPT ---- */

void
decide_classify(struct decide_rcpt *r)
{
	r->force_sign = 0;
	if (!r->s.encrypt) {
		r->cls = r->cert != NULL ? DECIDE_RCPT_FLEX : DECIDE_RCPT_CLEAR;
		return;
	}
	if (r->cert != NULL) {
		r->cls = DECIDE_RCPT_ENCRYPT;
		return;
	}
	if (r->lookup == CERTSTORE_ERROR) {
		r->cls = DECIDE_RCPT_TEMPFAIL;
		return;
	}
	switch (r->s.missing_cert) {
	case POLICY_MISSING_CERT_TEMPFAIL: r->cls = DECIDE_RCPT_TEMPFAIL; break;
	case POLICY_MISSING_CERT_PLAIN: r->cls = DECIDE_RCPT_CLEAR; break;
	case POLICY_MISSING_CERT_SIGN_ONLY:
		r->cls = DECIDE_RCPT_CLEAR;
		r->force_sign = 1;
		break;
	default: r->cls = DECIDE_RCPT_REJECT;
	}
}

enum decide_class
decide_real_class(const struct decide_rcpt *r)
{
	if (!r->monitor)
		return r->cls;
	return r->cert != NULL ? DECIDE_RCPT_FLEX : DECIDE_RCPT_CLEAR;
}

enum decide_class
decide_view_class(const struct decide_msg *m, const struct decide_rcpt *r)
{
	return m->monitor ? r->cls : decide_real_class(r);
}

int
decide_rcpt_in_view(const struct decide_msg *m, const struct decide_rcpt *r)
{
	return !m->monitor || r->would_reason == NULL;
}

int
decide_all_monitor(const struct decide_msg *m)
{
	size_t i;

	for (i = 0; i < m->nrcpt; i++)
		if (!m->rcpts[i].monitor)
			return 0;
	return m->nrcpt > 0;
}

int
decide_rcpt_combines(const struct decide_msg *m, const struct decide_rcpt *r)
{
	return m->monitor ? r->would_reason == NULL : !r->monitor;
}

const char *
decide_class_name(enum decide_class c)
{
	static const char *const names[] = {"encryption", "either", "no encryption", "a rejection",
	    "a tempfail"};

	return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "?";
}

const struct decide_reply *
decide_class_reply(const struct conf *c, const struct decide_rcpt *r)
{
	if (r->cls == DECIDE_RCPT_REJECT)
		return &c->replies.missing_cert[POLICY_MISSING_CERT_REJECT];
	if (r->lookup == CERTSTORE_ERROR)
		return &c->replies.lookup_failed;
	return &c->replies.missing_cert[POLICY_MISSING_CERT_TEMPFAIL];
}

/*
 * Without a personal certificate, a <domain> with domain-cert encrypts to
 * the domain's gateway certificate (validated, without the address check).
 */
static void
use_domain_cert(const struct conf *c, struct decide_rcpt *r)
{
	char why[512];
	X509 *x;

	if (r->cert != NULL || r->lookup == CERTSTORE_ERROR || !(r->s.set & POLICY_DOMAIN_CERT) ||
	    r->s.domain_cert == NULL)
		return;
	x = certstore_load_file(r->s.domain_cert, why, sizeof(why));
	if (x == NULL ||
	    (c->certs != NULL &&
	        certindex_validate(c->certs, x, NULL, NULL, why, sizeof(why)) != 0) ||
	    (c->certs == NULL && certstore_check_usable(x, r->domain, why, sizeof(why)) != 0)) {
		size_t used = strlen(r->reason);
		snprintf(r->reason + used, sizeof(r->reason) - used, "; domain certificate: %.200s",
		    why);
		X509_free(x);
		return;
	}
	r->cert = x;
	r->lookup = CERTSTORE_FOUND;
	r->source = "domain-cert";
}

void
decide_resolve_settings(const struct decide_msg *m, struct decide_rcpt *r, const char *vmta)
{
	policy_for_recipient(&m->conf->policy, vmta, r->domain, &r->s);
	policy_match_recipient(&m->conf->policy, vmta, r->domain, &r->match);
	r->monitor = r->s.mode == POLICY_MODE_MONITOR;
}

/* The certificate and settings of r (addr set), for the virtual MTA of the RCPT decisions. */
static void
rcpt_resolve(const struct decide_msg *m, struct decide_rcpt *r)
{
	const struct conf *c = m->conf;

	r->domain = strrchr(r->addr, '@') + 1;
	r->cert = NULL;
	r->source = "cert-dir";
	if (c->certs != NULL) {
		r->lookup =
		    certindex_find(c->certs, r->addr, &r->cert, r->reason, sizeof(r->reason));
	} else {
		r->lookup = CERTSTORE_MISSING;
		snprintf(r->reason, sizeof(r->reason), "no cert-dir is configured");
	}
	decide_resolve_settings(m, r, m->vmta[0] ? m->vmta : NULL);
	/* then the directory; only when the answer can matter (encryption, or a later vmta) */
	if (r->lookup == CERTSTORE_MISSING && c->ldap != NULL &&
	    (r->s.encrypt || c->policy.nvmtas > 0)) {
		r->source = "ldap";
		r->lookup = ldapstore_find(c->ldap, c->certs, r->addr, &r->cert, r->reason,
		    sizeof(r->reason));
	}
	use_domain_cert(c, r);
	decide_classify(r);
}

void
decide_rcpt_lookup(const struct decide_msg *m, const char *addr, const char *vmta,
    struct decide_rcpt *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->addr, sizeof(r->addr), "%s", addr);
	if (strchr(r->addr, '@') == NULL)
		return;
	rcpt_resolve(m, r);
	if (vmta != NULL) { /* the settings under a virtual MTA named later, in the header */
		decide_resolve_settings(m, r, vmta);
		decide_classify(r);
	}
}

/*
 * r against the recipients accepted already: the verdict, CONTINUE when it
 * may join.  would: as the policy decides (mode monitor: what would have
 * been done, among the recipients that would have been accepted), else as
 * the message is really sent.
 */
static void
rcpt_judge(const struct decide_msg *m, const struct decide_rcpt *r, int would,
    struct decide_verdict *v)
{
	const struct decide_replies *rp = &m->conf->replies;
	enum decide_class own = would ? r->cls : decide_real_class(r), cls;
	int has_encrypt = 0, has_clear = 0;
	size_t i;

	for (i = 0; i < m->nrcpt; i++) {
		if (would && m->rcpts[i].would_reason != NULL)
			continue;
		cls = would ? m->rcpts[i].cls : decide_real_class(&m->rcpts[i]);
		has_encrypt |= cls == DECIDE_RCPT_ENCRYPT;
		has_clear |= cls == DECIDE_RCPT_CLEAR;
	}
	if (own == DECIDE_RCPT_REJECT) {
		decide_verdict_set(v, decide_class_reply(m->conf, r), LOG_NOTICE);
		v->why = decide_rcpt_reason(r);
		snprintf(v->text, sizeof(v->text),
		    "<%s>: no usable S/MIME certificate for this recipient", r->addr);
		snprintf(v->log, sizeof(v->log), "rejected recipient <%s>: %s", r->addr, r->reason);
	} else if (own == DECIDE_RCPT_TEMPFAIL) {
		decide_verdict_set(v, decide_class_reply(m->conf, r), LOG_NOTICE);
		v->why = decide_rcpt_reason(r);
		snprintf(v->text, sizeof(v->text), "<%s>: %s, try again later", r->addr,
		    r->lookup == CERTSTORE_ERROR
		        ? "S/MIME certificate lookup failed"
		        : "no usable S/MIME certificate for this recipient yet");
		snprintf(v->log, sizeof(v->log), "tempfail recipient <%s>: %s", r->addr, r->reason);
	} else if (own == DECIDE_RCPT_ENCRYPT && has_clear) {
		decide_verdict_set(v, &rp->defer, LOG_NOTICE);
		v->why = "mixed";
		snprintf(v->text, sizeof(v->text),
		    "<%s>: must be encrypted, but earlier recipients of this message cannot be; "
		    "send it in a separate message",
		    r->addr);
		snprintf(v->log, sizeof(v->log),
		    "deferred recipient <%s>: needs encryption, message is unencrypted", r->addr);
	} else if (own == DECIDE_RCPT_CLEAR && has_encrypt) {
		decide_verdict_set(v, &rp->defer, LOG_NOTICE);
		v->why = "mixed";
		snprintf(v->text, sizeof(v->text),
		    "<%s>: no S/MIME certificate, and this message is encrypted for earlier "
		    "recipients; send it in a separate message",
		    r->addr);
		snprintf(v->log, sizeof(v->log),
		    "deferred recipient <%s>: %s, message is encrypted", r->addr, r->reason);
	}
}

/*
 * Mode monitor: what the policy would have done with r, remembered in r and
 * logged instead of done.  The real verdict v is judged after it.
 */
static void
rcpt_monitor(const struct decide_msg *m, struct decide_rcpt *r, struct decide_verdict *v)
{
	struct decide_verdict wv;

	memset(&wv, 0, sizeof(wv));
	rcpt_judge(m, r, 1, &wv);
	if (wv.reply.d == DECIDE_CONTINUE)
		return;
	r->would_reason = wv.why;
	r->would = wv.reply;
	v->level = wv.level;
	snprintf(v->log, sizeof(v->log), "monitor: not applied: %.1300s (%s %s)", wv.log,
	    wv.reply.code, wv.reply.xcode);
}

/* Append r to the message's recipients (takes over r->cert).  0, or -1 (out of memory). */
static int
rcpt_append(struct decide_msg *m, const struct decide_rcpt *r)
{
	struct decide_rcpt *slot;

	if (m->nrcpt == m->rcap) {
		size_t cap = m->rcap ? m->rcap * 2 : 8;
		struct decide_rcpt *nr = realloc(m->rcpts, cap * sizeof(*nr));
		if (nr == NULL)
			return -1;
		m->rcpts = nr;
		m->rcap = cap;
	}
	slot = &m->rcpts[m->nrcpt++];
	*slot = *r;
	slot->domain = strrchr(slot->addr, '@') + 1;
	return 0;
}

void
decide_recipient(struct decide_msg *m, const char *arg, struct decide_verdict *v)
{
	struct decide_rcpt r;

	memset(v, 0, sizeof(*v));
	if (m->harvest)
		return;
	if (m->pass_reason[0] != '\0') {
		v->reply.d = DECIDE_PASS;
		v->why = "external";
		v->level = LOG_INFO;
		snprintf(v->log, sizeof(v->log), "%s", m->pass_reason);
		decide_note_end(m, v);
		return;
	}
	/* a local recipient (<postmaster>): delivered here, never leaves, nothing to do */
	if (arg != NULL && strchr(arg, '@') == NULL)
		return;
	memset(&r, 0, sizeof(r));
	if (arg == NULL || mime_extract_address(arg, r.addr, sizeof(r.addr)) != 0) {
		decide_verdict_set(v, &m->conf->replies.bad_address, LOG_NOTICE);
		v->why = "bad_address";
		snprintf(v->text, sizeof(v->text), "recipient address cannot be used for S/MIME");
		snprintf(v->log, sizeof(v->log), "rejected recipient %.300s: not a usable address",
		    arg ? arg : "(none)");
		decide_note_refusal(m, arg ? arg : "", v);
		return;
	}
	if (m->nrcpt >= (size_t)m->conf->max_recipients) {
		decide_verdict_set(v, &m->conf->replies.too_many_rcpts, LOG_NOTICE);
		v->why = "too_many_recipients";
		snprintf(v->text, sizeof(v->text),
		    "<%s>: too many recipients for one message, send to the rest in another",
		    r.addr);
		snprintf(v->log, sizeof(v->log),
		    "deferred recipient <%s>: the message has %zu recipients already (max-recipients)",
		    r.addr, m->nrcpt);
		decide_note_refusal(m, r.addr, v);
		return;
	}
	rcpt_resolve(m, &r);
	if (decide_log_enabled(LOG_DEBUG))
		decide_log(m, LOG_DEBUG, "recipient <%s>: %s%s, needs %s, mode %s", r.addr,
		    r.cert != NULL ? "certificate from " : "no certificate: ",
		    r.cert != NULL ? r.source : r.reason, decide_class_name(r.cls),
		    r.monitor ? "monitor" : "enforce");
	rcpt_judge(m, &r, 0, v);
	if (v->reply.d == DECIDE_CONTINUE && r.monitor)
		rcpt_monitor(m, &r, v);
	if (v->reply.d == DECIDE_CONTINUE && rcpt_append(m, &r) != 0)
		decide_verdict_fail(v, m->conf, "out of memory, try again later", "recipient list");
	if (v->reply.d != DECIDE_CONTINUE) {
		X509_free(r.cert);
		decide_note_refusal(m, r.addr, v);
	}
}
