/*
 * decide_end.c - what became of a message: the outcome each stage's
 * verdict gives it (decide_note_end), the recipients refused on the way
 * (decide_note_refusal), and at its end (decide_msg_end) the metrics it
 * adds to and its one summary line in key=value form.  Also the reason
 * names of refused recipients and the X-SMIME-Milter-Would header of mode
 * monitor.  Nothing of a message's content or of a key goes into a line
 * written here: addresses, certificate serials and issuer hashes, names
 * of settings and sizes only.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/x509.h>
#include <syslog.h>

#include "decide_int.h"
#include "metrics.h"

/* ---- names ---- */

const char *
decide_rcpt_reason(const struct decide_rcpt *r)
{
	if (r->lookup == CERTSTORE_ERROR)
		return r->source != NULL && strcmp(r->source, "ldap") == 0 ? "ldap_error"
		                                                           : "lookup_error";
	if (r->lookup != CERTSTORE_UNUSABLE)
		return "no_certificate";
	/* the validator's words (certstore.c, certindex.c); the chain's own failures first */
	if (strstr(r->reason, "is not trusted") != NULL || strstr(r->reason, "revoked") != NULL)
		return "untrusted";
	if (strstr(r->reason, "has expired") != NULL || strstr(r->reason, "expired on") != NULL)
		return "expired";
	if (strstr(r->reason, "not valid yet") != NULL || strstr(r->reason, "not valid before"))
		return "not_yet_valid";
	if (strstr(r->reason, "does not name") != NULL)
		return "wrong_address";
	return "wrong_usage";
}

const char *
decide_protection_name(int sign, int encrypt)
{
	if (sign && encrypt)
		return "signed_encrypted";
	if (sign)
		return "signed";
	return encrypt ? "encrypted" : NULL;
}

static const struct decide_logger *decide_logger;

void
decide_set_logger(const struct decide_logger *lg)
{
	decide_logger = lg;
}

int
decide_log_enabled(int priority)
{
	return decide_logger != NULL && decide_logger->enabled(priority);
}

void
decide_log(const struct decide_msg *m, int level, const char *fmt, ...)
{
	char line[1800];
	va_list ap;

	if (!decide_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	decide_logger->line(level, m->qid, "%s%s", m->monitor ? "monitor: " : "", line);
}

/* ---- on the way ---- */

void
decide_note_end(struct decide_msg *m, const struct decide_verdict *v)
{
	if (m->outcome != NULL)
		return; /* the first end counts */
	switch (v->reply.d) {
	case DECIDE_CONTINUE:
		if (m->harvest || m->monitor) {
			m->outcome = "passed";
			m->why = m->harvest ? "external" : "monitor";
		} else {
			m->outcome = decide_protection_name(m->pol.sign, m->pol.encrypt);
			if (m->outcome == NULL) {
				m->outcome = "passed";
				m->why = "nothing_to_do";
			}
		}
		break;
	case DECIDE_PASS:
		m->outcome = "passed";
		m->why = v->why != NULL ? v->why : "other";
		break;
	default:
		m->outcome = v->reply.d == DECIDE_REJECT ? "reject" : "tempfail";
		m->why = v->why != NULL ? v->why : "other";
		m->end_reply = v->reply;
	}
}

void
decide_note_refusal(struct decide_msg *m, const char *addr, const struct decide_verdict *v)
{
	struct decide_refusal *r;

	if (m->nrefused == m->refcap) {
		size_t cap = m->refcap ? m->refcap * 2 : 4;
		struct decide_refusal *nr = realloc(m->refused, cap * sizeof(*nr));
		if (nr == NULL)
			return; /* only the summary and the metrics lose it */
		m->refused = nr;
		m->refcap = cap;
	}
	r = &m->refused[m->nrefused++];
	snprintf(r->addr, sizeof(r->addr), "%s", addr);
	r->reason = v->why != NULL ? v->why : "other";
	r->reply = v->reply;
}

/* A verdict of d for why, with a reply; for the receiving side's notes. */
static void
note_verdict(struct decide_verdict *v, enum decide_outcome d, const char *why, const char *code,
    const char *xcode)
{
	memset(v, 0, sizeof(*v));
	v->reply.d = d;
	v->why = why;
	snprintf(v->reply.code, sizeof(v->reply.code), "%s", code != NULL ? code : "");
	snprintf(v->reply.xcode, sizeof(v->reply.xcode), "%s", xcode != NULL ? xcode : "");
}

void
decide_msg_note(struct decide_msg *m, enum decide_outcome d, const char *why, const char *code,
    const char *xcode)
{
	struct decide_verdict v;

	note_verdict(&v, d, why, code, xcode);
	decide_note_end(m, &v);
}

void
decide_msg_note_refusal(struct decide_msg *m, const char *addr, const char *why, const char *code,
    const char *xcode)
{
	struct decide_verdict v;

	note_verdict(&v, DECIDE_TEMPFAIL, why, code, xcode);
	if (code != NULL && code[0] == '5')
		v.reply.d = DECIDE_REJECT;
	decide_note_refusal(m, addr, &v);
}

void
decide_would_header(const struct decide_msg *m, char *buf, size_t len)
{
	const char *w = m->would_outcome != NULL ? m->would_outcome : "passed";
	size_t i, missing = 0, deferred = 0, used;

	for (i = 0; i < m->nrcpt; i++) {
		if (m->rcpts[i].would_reason == NULL)
			continue;
		if (strcmp(m->rcpts[i].would_reason, "mixed") == 0)
			deferred++;
		else
			missing++;
	}
	used = (size_t)snprintf(buf, len, "%s",
	    strcmp(w, "signed_encrypted") == 0 ? "sign+encrypt"
	        : strcmp(w, "signed") == 0     ? "sign"
	        : strcmp(w, "encrypted") == 0  ? "encrypt"
	        : strcmp(w, "passed") == 0     ? "none"
	                                       : w);
	if (m->would_why != NULL && used < len)
		used += (size_t)snprintf(buf + used, len - used, "; reason=%s", m->would_why);
	if (missing > 0 && used < len)
		used += (size_t)snprintf(buf + used, len - used, "; missing=%zu", missing);
	if (deferred > 0 && used < len)
		snprintf(buf + used, len - used, "; deferred=%zu", deferred);
}

/* ---- the summary line ---- */

struct kv {
	char *buf;
	size_t len, used;
	int full;
};

/* Append " key=value", the value quoted when it holds a blank, a quote or nothing. */
static void __attribute__((format(printf, 3, 4)))
kv_add(struct kv *k, const char *key, const char *fmt, ...)
{
	char val[1024], out[1100];
	size_t o = 0, i;
	int quote;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	quote = val[0] == '\0' || strpbrk(val, " \t\"=\\") != NULL;
	if (quote)
		out[o++] = '"';
	for (i = 0; val[i] != '\0' && o + 3 < sizeof(out); i++) {
		if (val[i] == '"' || val[i] == '\\')
			out[o++] = '\\';
		out[o++] = val[i] == '\n' || val[i] == '\r' ? ' ' : val[i];
	}
	if (quote)
		out[o++] = '"';
	out[o] = '\0';
	if (k->used + strlen(key) + o + 3 >= k->len) {
		k->full = 1;
		return;
	}
	k->used += (size_t)snprintf(k->buf + k->used, k->len - k->used, "%s%s=%s",
	    k->used ? " " : "", key, out);
}

/* A certificate's serial in hex and its issuer's name hash, as openssl x509 prints them. */
static void
cert_ids(X509 *x, char *serial, size_t slen, char *issuer, size_t ilen)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

	snprintf(serial, slen, "%s", hex != NULL ? hex : "?");
	snprintf(issuer, ilen, "%08lx", X509_issuer_name_hash(x));
	OPENSSL_free(hex);
	BN_free(bn);
}

/* The most specific scope of a recipient's settings. */
static void
rcpt_scope(const struct decide_rcpt *r, char *buf, size_t len)
{
	int i;

	for (i = POLICY_NSCOPES - 1; i > 0 && r->match.settings[i] == NULL; i--)
		;
	policy_scope_name(r->match.scope[i], i == 3 ? r->match.scope[1] : NULL, buf, len);
}

static void
summary_rcpt(struct kv *k, size_t n, const struct decide_rcpt *r)
{
	char key[48], serial[80], issuer[16], scope[300];

	snprintf(key, sizeof(key), "rcpt%zu", n);
	kv_add(k, key, "<%s>", r->addr);
	if (r->cert != NULL) {
		cert_ids(r->cert, serial, sizeof(serial), issuer, sizeof(issuer));
		snprintf(key, sizeof(key), "rcpt%zu.serial", n);
		kv_add(k, key, "%s", serial);
		snprintf(key, sizeof(key), "rcpt%zu.issuer", n);
		kv_add(k, key, "%s", issuer);
		snprintf(key, sizeof(key), "rcpt%zu.source", n);
		kv_add(k, key, "%s", r->source);
	} else {
		snprintf(key, sizeof(key), "rcpt%zu.nocert", n);
		kv_add(k, key, "%s", decide_rcpt_reason(r));
	}
	rcpt_scope(r, scope, sizeof(scope));
	snprintf(key, sizeof(key), "rcpt%zu.scope", n);
	kv_add(k, key, "%s", scope);
	if (r->would_reason != NULL) {
		snprintf(key, sizeof(key), "rcpt%zu.would_refuse", n);
		kv_add(k, key, "%s", r->would_reason);
		snprintf(key, sizeof(key), "rcpt%zu.would_reply", n);
		kv_add(k, key, "%s %s", r->would.code, r->would.xcode);
	}
}

static void
summary_refusal(struct kv *k, size_t n, const struct decide_refusal *r)
{
	char key[48];

	snprintf(key, sizeof(key), "rcpt%zu", n);
	kv_add(k, key, "%s%s%s", r->addr[0] == '<' ? "" : "<", r->addr,
	    r->addr[0] == '<' ? "" : ">");
	snprintf(key, sizeof(key), "rcpt%zu.refused", n);
	kv_add(k, key, "%s", r->reason);
	snprintf(key, sizeof(key), "rcpt%zu.reply", n);
	kv_add(k, key, "%s %s", r->reply.code, r->reply.xcode);
}

/* Add name to a comma-separated list unless it is there. */
static void
list_once(char *list, size_t len, const char *name)
{
	size_t n = strlen(name), used = strlen(list);
	const char *p;

	for (p = list; (p = strstr(p, name)) != NULL; p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return;
	if (used + n + 2 < len)
		snprintf(list + used, len - used, "%s%s", used ? "," : "", name);
}

/* Every scope whose settings count for some recipient, and the <sender> block. */
static void
summary_scopes(const struct decide_msg *m, char *list, size_t len)
{
	char name[300];
	size_t i;
	int j;

	list[0] = '\0';
	for (i = 0; i < m->nrcpt; i++) {
		for (j = 0; j < POLICY_NSCOPES; j++) {
			if (m->rcpts[i].match.settings[j] == NULL)
				continue;
			policy_scope_name(m->rcpts[i].match.scope[j],
			    j == 3 ? m->rcpts[i].match.scope[1] : NULL, name, sizeof(name));
			list_once(list, len, name);
		}
	}
	if (m->sender_scope != NULL) {
		policy_scope_name(m->sender_scope, NULL, name, sizeof(name));
		list_once(list, len, name);
	}
}

/* The settings of the body, when one was (or would have been) signed or encrypted. */
static void
summary_protection(struct kv *k, const struct decide_msg *m)
{
	const char *act = m->monitor ? m->would_outcome : m->outcome;

	if (act == NULL ||
	    decide_protection_name(strstr(act, "signed") != NULL,
	        strstr(act, "encrypted") != NULL) == NULL)
		return;
	if (strstr(act, "encrypted") != NULL)
		kv_add(k, "cipher", "%s", EVP_CIPHER_get0_name(m->pol.cipher));
	if (strstr(act, "signed") != NULL) {
		kv_add(k, "digest", "%s", EVP_MD_get0_name(m->pol.digest));
		kv_add(k, "signer", "<%s>", m->signer_addr);
	}
}

static void
summary_line(const struct decide_msg *m, char *buf, size_t len)
{
	struct kv k = {buf, len - 32, 0, 0}; /* room for "truncated=N" */
	char scopes[1024];
	size_t i, n = 0, left;

	buf[0] = '\0';
	kv_add(&k, "action", "%s", m->outcome);
	if (m->why != NULL)
		kv_add(&k, "reason", "%s", m->why);
	if (m->end_reply.code[0] != '\0')
		kv_add(&k, "reply", "%s %s", m->end_reply.code, m->end_reply.xcode);
	kv_add(&k, "mode", "%s", m->monitor ? "monitor" : "enforce");
	if (m->monitor && m->would_outcome != NULL) {
		kv_add(&k, "would", "%s", m->would_outcome);
		if (m->would_why != NULL)
			kv_add(&k, "would_reason", "%s", m->would_why);
	}
	kv_add(&k, "from", "<%s>", m->sender);
	if (m->vmta[0] != '\0')
		kv_add(&k, "vmta", "%s", m->vmta);
	summary_scopes(m, scopes, sizeof(scopes));
	if (scopes[0] != '\0')
		kv_add(&k, "scopes", "%s", scopes);
	summary_protection(&k, m);
	if (m->bytes_in > 0 || m->bytes_out > 0) {
		kv_add(&k, "size", "%llu", (unsigned long long)m->bytes_in);
		kv_add(&k, "size_out", "%llu", (unsigned long long)m->bytes_out);
	}
	if (m->seconds >= 0)
		kv_add(&k, "time", "%.3f", m->seconds);
	kv_add(&k, "rcpts", "%zu", m->nrcpt);
	kv_add(&k, "refused", "%zu", m->nrefused);
	for (i = 0; i < m->nrcpt && k.len - k.used > 600; i++)
		summary_rcpt(&k, ++n, &m->rcpts[i]);
	for (i = 0; i < m->nrefused && k.len - k.used > 600; i++)
		summary_refusal(&k, ++n, &m->refused[i]);
	left = m->nrcpt + m->nrefused - n;
	if (left > 0) {
		k.len = len;
		kv_add(&k, "truncated", "%zu", left);
	}
}

/* ---- the end ---- */

/* Without an end the MTA told: every recipient refused, or given up. */
static void
settle(struct decide_msg *m)
{
	size_t i;

	if (m->outcome != NULL)
		return;
	if (m->inbound && m->nrcpt > 0) { /* the receiving side noted no refusal */
		m->outcome = "passed";
		m->why = "inbound";
		return;
	}
	if (m->nrcpt == 0 && m->nrefused > 0) {
		m->outcome = "reject";
		m->why = "recipients";
		m->end_reply = m->refused[0].reply;
		for (i = 0; i < m->nrefused; i++) {
			if (m->refused[i].reply.d == DECIDE_TEMPFAIL) {
				m->outcome = "tempfail";
				m->end_reply = m->refused[i].reply;
				break;
			}
		}
		return;
	}
	m->outcome = "aborted";
	m->why = NULL;
}

static void
count(const struct decide_msg *m)
{
	size_t i;

	metrics_add(METRICS_MESSAGES, m->outcome, m->why, 1);
	if (m->monitor && m->would_outcome != NULL)
		metrics_add(METRICS_MONITOR_MESSAGES, m->would_outcome, m->would_why, 1);
	for (i = 0; i < m->nrefused; i++)
		metrics_add(METRICS_RCPT_REFUSED, m->refused[i].reason, NULL, 1);
	for (i = 0; i < m->nrcpt; i++)
		if (m->rcpts[i].would_reason != NULL)
			metrics_add(METRICS_MONITOR_RCPT_REFUSED, m->rcpts[i].would_reason, NULL,
			    1);
	if (m->bytes_in > 0 || m->bytes_out > 0) {
		metrics_add(METRICS_BYTES_IN, NULL, NULL, m->bytes_in);
		metrics_add(METRICS_BYTES_OUT, NULL, NULL, m->bytes_out);
	}
	if (m->seconds >= 0)
		metrics_observe_processing(m->seconds);
}

void
decide_msg_end(struct decide_msg *m, struct decide_summary *out)
{
	out->level = LOG_INFO;
	out->line[0] = '\0';
	if (m->ended)
		return;
	m->ended = 1;
	settle(m);
	count(m);
	summary_line(m, out->line, sizeof(out->line));
}
