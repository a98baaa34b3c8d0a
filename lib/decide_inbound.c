/*
 * decide_inbound.c - the receiving gateway's decisions on mail from
 * outside: recipients, end of headers, undecryptable messages, internal
 * failures, the keys to try, the result line and harvesting.  See
 * decide_inbound.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "certindex.h"
#include "decide_inbound.h"
#include "decide_int.h"
#include "errmsg.h"
#include "harvest.h"
#include "keystore.h"
#include "ldappublish.h"
#include "ldapstore.h"
#include "metrics.h"
#include "mime.h"

static int
harvesting(const struct conf *c)
{
	return c->harvest_dir != NULL || c->harvest_ldap;
}

static void
verdict_continue(struct decide_verdict *v)
{
	memset(v, 0, sizeof(*v));
}

void
decide_inbound_fail(struct decide_msg *m, const char *what, const char *detail,
    struct decide_verdict *v)
{
	verdict_continue(v);
	decide_verdict_fail(v, m->conf, what, detail);
	decide_msg_note(m, v->reply.d, "internal", v->reply.code, v->reply.xcode);
}

/* ---- RCPT TO ---- */

void
decide_inbound_recipient(struct decide_msg *m, const char *arg, struct decide_verdict *v)
{
	struct policy_settings s;
	char addr[DECIDE_ADDR_MAX];
	struct decide_rcpt *r;

	verdict_continue(v);
	if (arg == NULL || mime_extract_address(arg, addr, sizeof(addr)) != 0 ||
	    strchr(addr, '@') == NULL)
		return; /* a local recipient: nothing to decide */
	policy_for_recipient(&m->conf->policy, m->vmta[0] ? m->vmta : NULL, strrchr(addr, '@') + 1,
	    &s);
	if (m->nrcpt > 0 && (s.decrypt != 0) != (m->pol.decrypt != 0)) {
		decide_verdict_set(v, &m->conf->replies.defer, LOG_NOTICE);
		v->why = "mixed";
		snprintf(v->text, sizeof(v->text),
		    "recipients with and without S/MIME decryption: send to this one in a "
		    "separate message");
		snprintf(v->log, sizeof(v->log),
		    "deferred recipient <%s>: decrypt %s, the message's other recipients %s", addr,
		    s.decrypt ? "yes" : "no", s.decrypt ? "no" : "yes");
		decide_msg_note_refusal(m, addr, v->why, v->reply.code, v->reply.xcode);
		return;
	}
	if (m->nrcpt == m->rcap) {
		size_t cap = m->rcap ? m->rcap * 2 : 8;
		struct decide_rcpt *nr = realloc(m->rcpts, cap * sizeof(*nr));
		if (nr == NULL) {
			decide_inbound_fail(m, "out of memory, try again later", "recipient list",
			    v);
			return;
		}
		m->rcpts = nr;
		m->rcap = cap;
	}
	r = &m->rcpts[m->nrcpt++];
	memset(r, 0, sizeof(*r));
	snprintf(r->addr, sizeof(r->addr), "%s", addr);
	r->domain = strrchr(r->addr, '@') + 1;
	r->s = s;
	m->pol.decrypt = s.decrypt;
	m->pol.verify |= s.verify;
	m->pol.unwrap_opaque |= s.verify && s.unwrap_opaque;
	if (s.on_undecryptable > m->pol.on_undecryptable)
		m->pol.on_undecryptable = s.on_undecryptable;
}

/* ---- end of headers ---- */

int
decide_inbound_is_forged(const struct conf *c, const struct mime_header *h)
{
	return c->authserv_id != NULL && strcasecmp(h->name, "Authentication-Results") == 0 &&
	    inbound_ar_claims_smime(h->value, c->authserv_id);
}

void
decide_inbound_eoh(struct decide_msg *m, struct decide_verdict *v)
{
	const struct mime_header *ct = mime_headers_find(&m->headers, "Content-Type");
	char type[64] = "";
	size_t i, forged = 0;
	int smime, work;

	verdict_continue(v);
	if (ct != NULL)
		(void)mime_type(ct->value, type, sizeof(type));
	smime = ct != NULL && mime_is_protected_type(ct->value) &&
	    strcmp(type, "multipart/encrypted") != 0;
	work = smime && (m->pol.decrypt || m->pol.verify || harvesting(m->conf));
	for (i = 0; i < m->headers.n; i++)
		forged += (size_t)decide_inbound_is_forged(m->conf, &m->headers.v[i]);
	if (!work && forged == 0) {
		v->reply.d = DECIDE_PASS;
		v->why = "inbound";
		v->level = LOG_INFO;
		snprintf(v->log, sizeof(v->log), "passed from outside: %s",
		    !smime ? "not S/MIME" : "nothing to decrypt or verify for its recipients");
		return;
	}
	if (!work)
		return; /* only the forged fields to remove at the end */
	m->body = spool_new(m->conf->spool_memory, m->conf->spool_dir);
	if (m->body == NULL) {
		decide_inbound_fail(m, "out of memory, try again later", "spool", v);
		return;
	}
	mime_canon_init(&m->canon);
}

/* ---- end of message ---- */

int
decide_inbound_wants_keys(const struct decide_msg *m)
{
	const struct mime_header *ct = mime_headers_find(&m->headers, "Content-Type");
	char type[64] = "";

	if (ct != NULL)
		(void)mime_type(ct->value, type, sizeof(type));
	return m->pol.decrypt && strcmp(type, "multipart/signed") != 0;
}

int
decide_inbound_undecryptable(struct decide_msg *m, const struct inbound_result *r,
    struct decide_verdict *v)
{
	enum policy_on_undecryptable a = m->pol.on_undecryptable;

	verdict_continue(v);
	if (!r->encrypted || !m->pol.decrypt || r->decryption == ENVELOPE_OK)
		return 0;
	v->level = a == POLICY_UNDECRYPTABLE_PASS ? LOG_WARNING : LOG_NOTICE;
	snprintf(v->log, sizeof(v->log), "not decrypted: %s: %s (on-undecryptable %s)",
	    envelope_result_name(r->decryption), r->reason, policy_on_undecryptable_name(a));
	if (a == POLICY_UNDECRYPTABLE_PASS || (unsigned)a > POLICY_UNDECRYPTABLE_REJECT)
		return 1;
	decide_verdict_set(v,
	    &m->conf->replies.undecryptable[a][r->decryption == ENVELOPE_UNSUPPORTED], v->level);
	v->why = "undecryptable";
	snprintf(v->text, sizeof(v->text), "cannot decrypt this S/MIME message: %s%s",
	    envelope_result_name(r->decryption),
	    a == POLICY_UNDECRYPTABLE_REJECT ? "" : ", try again later");
	decide_msg_note(m, v->reply.d, v->why, v->reply.code, v->reply.xcode);
	return 1;
}

int
decide_inbound_wants_ar(const struct decide_msg *m, const struct inbound_result *r)
{
	return m->pol.verify && r->smime != INBOUND_SMIME_NONE && m->conf->authserv_id != NULL;
}

static int
ring_has(const struct decide_keyring *k, const char *name)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		if (strcmp(k->name[i], name) == 0)
			return 1;
	return 0;
}

/* One key into the ring: 0 (loaded, or a recipient without a key file), -1 with err. */
static int
ring_add(struct decide_keyring *k, const struct conf *c, const char *spec, const char *dir,
    const char *addr, char *err, size_t errlen)
{
	struct keystore_request req = {.dir = dir,
	    .addr = addr,
	    .spec = spec,
	    .passphrase_file = c->key_passphrase_file};
	enum keystore_result kr;
	char name[300], why[600];

	if (dir != NULL)
		snprintf(name, sizeof(name), "%s/%s.pem", dir, addr);
	else
		keystore_spec_display(spec, name, sizeof(name));
	if (ring_has(k, name) || k->n == DECIDE_KEYRING_MAX)
		return 0;
	kr = keystore_load(&req, &k->id[k->n], why, sizeof(why));
	if (kr == KEYSTORE_MISSING && dir != NULL)
		return 0; /* this recipient has no key of its own */
	if (kr != KEYSTORE_FOUND) {
		keystore_identity_free(&k->id[k->n]);
		errmsg_set(err, errlen, "decryption key %s: %s", name, why);
		return -1;
	}
	snprintf(k->name[k->n++], sizeof(k->name[0]), "%s", name);
	return 0;
}

int
decide_keyring_load(const struct decide_msg *m, struct decide_keyring *k, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < m->nrcpt; i++) {
		const struct policy_settings *s = &m->rcpts[i].s;
		if (!s->decrypt)
			continue;
		if (s->decryption_key_dir != NULL &&
		    ring_add(k, m->conf, NULL, s->decryption_key_dir, m->rcpts[i].addr, err,
		        errlen) != 0)
			return -1;
		if (s->decryption_key != NULL &&
		    ring_add(k, m->conf, s->decryption_key, NULL, NULL, err, errlen) != 0)
			return -1;
	}
	return 0;
}

void
decide_keyring_free(struct decide_keyring *k)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		keystore_identity_free(&k->id[i]);
	k->n = 0;
}

void
decide_inbound_options(const struct decide_msg *m, const struct decide_keyring *k,
    struct inbound_options *o)
{
	certindex *ci = m->conf->certs;

	memset(o, 0, sizeof(*o));
	o->decrypt = m->pol.decrypt;
	o->verify = m->pol.verify || harvesting(m->conf); /* harvesting needs the check too */
	o->unwrap_opaque = m->pol.verify && m->pol.unwrap_opaque;
	o->keys = k->id;
	o->nkeys = k->n;
	o->trust = ci != NULL ? certindex_trust(ci) : NULL;
	o->crls = ci != NULL ? certindex_crls(ci) : NULL;
	o->spool_memory = m->conf->spool_memory;
	o->spool_dir = m->conf->spool_dir;
}

void
decide_inbound_log_result(const struct decide_msg *m, const struct inbound_result *r,
    const struct decide_keyring *k, int subject, uint64_t in, uint64_t out)
{
	char dec[400] = "", sig[1100] = "", prot[300] = "";

	if (r->encrypted && r->decryption == ENVELOPE_OK)
		snprintf(dec, sizeof(dec), "decrypted %s with %s; ",
		    r->auth_enveloped ? "authEnveloped-data" : "enveloped-data",
		    r->key >= 0 && (size_t)r->key < k->n ? k->name[r->key] : "?");
	if (r->smime != INBOUND_SMIME_NONE)
		snprintf(sig, sizeof(sig), "smime=%s%s%s%s%s%s; ", inbound_smime_name(r->smime),
		    r->identifier[0] ? " signer=<" : "", r->identifier, r->identifier[0] ? ">" : "",
		    r->reason[0] ? ": " : "", r->reason);
	if (r->protected_hdrs.n > 0) {
		inbound_protected_names(r, prot, sizeof(prot));
		decide_log(m, LOG_INFO, "protected header fields: %s%s", prot,
		    subject ? " (the outer Subject was [...]: restored)" : "");
	}
	decide_log(m, LOG_INFO, "from outside: %s%s%sbody=%llu->%llu bytes", dec, sig,
	    r->unwrapped ? "unwrapped opaque signature; " : "", (unsigned long long)in,
	    (unsigned long long)(r->changed ? out : in));
}

/* The message's headers without the forged fields (they must not vouch for DKIM either). */
static int
trusted_headers(const struct decide_msg *m, struct mime_headers *out)
{
	size_t i;

	mime_headers_init(out);
	for (i = 0; i < m->headers.n; i++)
		if (!decide_inbound_is_forged(m->conf, &m->headers.v[i]) &&
		    mime_headers_add(out, m->headers.v[i].name, m->headers.v[i].value) != 0)
			return -1;
	return 0;
}

static void
harvest_ldap(const struct decide_msg *m, const char *addr, X509 *cert, STACK_OF(X509) *chain)
{
	const struct conf *c = m->conf;
	const char *base = c->harvest_ldap_base != NULL ? c->harvest_ldap_base : c->ldap_base;
	char err[512], where[600];
	int rc = ldappublish_store(c->ldap, base, addr, cert, chain, err, sizeof(err));

	snprintf(where, sizeof(where), "LDAP %s under %s", ldapstore_uri(c->ldap), base);
	decide_harvest_note(m, rc, addr, where, err);
}

void
decide_inbound_harvest(const struct decide_msg *m, const struct inbound_result *r)
{
	const struct conf *c = m->conf;
	struct harvest_options ho = {NULL, c->harvest_require_dkim, c->authserv_id, 0};
	struct mime_headers h;
	char addr[DECIDE_ADDR_MAX], reason[512];
	STACK_OF(X509) *chain;

	if (!harvesting(c) || r->signer == NULL || !r->signature_ok)
		return;
	if (r->smime != INBOUND_SMIME_PASS && !c->harvest_trust_any) {
		decide_log(m, LOG_INFO, "not harvested: smime=%s: %s", inbound_smime_name(r->smime),
		    r->reason);
		metrics_add(METRICS_HARVESTS, "refused", NULL, 1);
		return;
	}
	if (trusted_headers(m, &h) != 0 ||
	    harvest_accept_signer(&h, r->signer, &ho, addr, sizeof(addr), reason, sizeof(reason)) !=
	        1) {
		decide_log(m, LOG_INFO, "not harvested: %s", h.n > 0 ? reason : "out of memory");
		metrics_add(METRICS_HARVESTS, h.n > 0 ? "refused" : "error", NULL, 1);
		mime_headers_clear(&h);
		return;
	}
	mime_headers_clear(&h);
	chain = harvest_ca_certs(r->certs, r->signer);
	if (c->harvest_dir != NULL)
		decide_harvest_store(m, addr, r->signer, chain);
	if (c->harvest_ldap && c->ldap != NULL)
		harvest_ldap(m, addr, r->signer, chain);
	sk_X509_pop_free(chain, X509_free);
}
