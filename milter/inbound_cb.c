/*
 * inbound_cb.c - the libmilter side of the receiving gateway: mail from
 * outside to recipients whose scope says decrypt or verify (and signed
 * mail whose signer may be harvested) goes through here.  See
 * inbound_cb.h; the S/MIME work is lib/inbound.c.
 *
 * (decide_client claims the message at MAIL FROM when the configuration
 * has work for mail from outside: m->inbound)
 * envrcpt  each recipient's scope; one body must suit all of them, so a
 *          recipient whose decrypt setting differs is deferred (451 4.7.1)
 * eoh      spool the body of S/MIME mail (bounded memory, encrypted file)
 * eom      remove forged smime results claiming our authserv-id; load the
 *          recipients' decryption keys; decrypt, verify, unwrap; rewrite
 *          the Content-* fields, body and protected Subject; add our
 *          Authentication-Results; harvest the verified signer
 *
 * Nothing is lost: an internal failure gives the on-error action (451
 * 4.7.0 by default), a message we should but cannot decrypt the
 * on-undecryptable action (pass by default, logged with the reason).
 * Decrypted content is spooled encrypted, wiped from buffers and never
 * logged; keys are freed (and wiped) at the end of the message.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "certindex.h"
#include "conf.h"
#include "decide.h"
#include "errmsg.h"
#include "harvest.h"
#include "inbound.h"
#include "inbound_cb.h"
#include "keystore.h"
#include "ldappublish.h"
#include "ldapstore.h"
#include "log.h"
#include "metrics.h"
#include "mime.h"

#define RING_MAX 32 /* decryption keys tried per message */

struct keyring {
	struct keystore_identity id[RING_MAX];
	char name[RING_MAX][300]; /* file or URI (without PIN), for logs */
	size_t n;
};

/* ---- smfi wrappers: values kept whole (a Content-Type or Subject may be long) ---- */

static void
in_reply(SMFICTX *ctx, const char *code, const char *xcode, const char *text)
{
	char safe[512];
	size_t o = 0;

	for (; *text != '\0' && o + 2 < sizeof(safe); text++) {
		if (*text == '\r' || *text == '\n')
			continue;
		if (*text == '%')
			safe[o++] = '%';
		safe[o++] = *text;
	}
	safe[o] = '\0';
	(void)smfi_setreply(ctx, (char *)code, (char *)xcode, safe);
}

/* A header value for the MTA: CR removed (LF folding), the leading space as negotiated. */
static char *
mta_value(int leadspc, const char *value)
{
	char *out = malloc(strlen(value) + 2), *o = out;

	if (out == NULL)
		return NULL;
	if (leadspc && *value != ' ' && *value != '\t')
		*o++ = ' ';
	if (!leadspc && *value == ' ')
		value++;
	for (; *value != '\0'; value++)
		if (*value != '\r')
			*o++ = *value;
	*o = '\0';
	return out;
}

/* index 0: insert at the top; -1: append; >0: change that occurrence. */
static int
in_header(SMFICTX *ctx, int leadspc, const char *name, int index, const char *value)
{
	char *v = mta_value(leadspc, value);
	int rc;

	if (v == NULL)
		return -1;
	if (index == 0)
		rc = smfi_insheader(ctx, 0, (char *)name, v);
	else if (index < 0)
		rc = smfi_addheader(ctx, (char *)name, v);
	else
		rc = smfi_chgheader(ctx, (char *)name, index, v);
	OPENSSL_cleanse(v, strlen(v)); /* a protected Subject is content too */
	free(v);
	return rc == MI_SUCCESS ? 0 : -1;
}

/* The on-error action for an internal failure (the MTA keeps the message). */
static sfsistat
in_fail(SMFICTX *ctx, struct decide_msg *m, const char *what, const char *detail)
{
	int reject = m->conf->on_error == CONF_ON_ERROR_REJECT;

	log_msg(LOG_ERR, m->qid, "%s: %s: %s", reject ? "rejected" : "tempfail", what, detail);
	in_reply(ctx, reject ? "550" : "451", reject ? "5.7.0" : "4.7.0", what);
	decide_msg_note(m, reject ? DECIDE_REJECT : DECIDE_TEMPFAIL, "internal",
	    reject ? "550" : "451", reject ? "5.7.0" : "4.7.0");
	return reject ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

static int
harvesting(const struct conf *c)
{
	return c->harvest_dir != NULL || c->harvest_ldap;
}

/* ---- MAIL FROM, RCPT TO, end of headers ---- */

sfsistat
inbound_cb_envrcpt(SMFICTX *ctx, struct decide_msg *m, char **argv)
{
	struct policy_settings s;
	char addr[DECIDE_ADDR_MAX];
	struct decide_rcpt *r;

	if (argv[0] == NULL || mime_extract_address(argv[0], addr, sizeof(addr)) != 0 ||
	    strchr(addr, '@') == NULL)
		return SMFIS_CONTINUE; /* a local recipient: nothing to decide */
	policy_for_recipient(&m->conf->policy, m->vmta[0] ? m->vmta : NULL, strrchr(addr, '@') + 1,
	    &s);
	if (m->nrcpt > 0 && (s.decrypt != 0) != (m->pol.decrypt != 0)) {
		log_msg(LOG_NOTICE, m->qid,
		    "deferred recipient <%s>: decrypt %s, the message's other "
		    "recipients %s",
		    addr, s.decrypt ? "yes" : "no", s.decrypt ? "no" : "yes");
		in_reply(ctx, "451", "4.7.1",
		    "recipients with and without S/MIME decryption: send "
		    "to this one in a separate message");
		decide_msg_note_refusal(m, addr, "mixed", "451", "4.7.1");
		return SMFIS_TEMPFAIL;
	}
	if (m->nrcpt == m->rcap) {
		size_t cap = m->rcap ? m->rcap * 2 : 8;
		struct decide_rcpt *nr = realloc(m->rcpts, cap * sizeof(*nr));
		if (nr == NULL)
			return in_fail(ctx, m, "out of memory, try again later", "recipient list");
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
	return SMFIS_CONTINUE;
}

/* Authentication-Results fields that claim our authserv-id and report smime: forged. */
static int
is_forged(const struct conf *c, const struct mime_header *h)
{
	return c->authserv_id != NULL && strcasecmp(h->name, "Authentication-Results") == 0 &&
	    inbound_ar_claims_smime(h->value, c->authserv_id);
}

static size_t
count_forged(const struct decide_msg *m)
{
	size_t i, n = 0;

	for (i = 0; i < m->headers.n; i++)
		n += (size_t)is_forged(m->conf, &m->headers.v[i]);
	return n;
}

sfsistat
inbound_cb_eoh(SMFICTX *ctx, struct decide_msg *m, int *done)
{
	const struct mime_header *ct = mime_headers_find(&m->headers, "Content-Type");
	char type[64] = "";
	int smime, work;

	(void)ctx;
	*done = 0;
	if (ct != NULL)
		(void)mime_type(ct->value, type, sizeof(type));
	smime = ct != NULL && mime_is_protected_type(ct->value) &&
	    strcmp(type, "multipart/encrypted") != 0;
	work = smime && (m->pol.decrypt || m->pol.verify || harvesting(m->conf));
	if (!work && count_forged(m) == 0) {
		log_msg(LOG_INFO, m->qid, "passed from outside: %s",
		    !smime ? "not S/MIME" : "nothing to decrypt or verify for its recipients");
		*done = 1;
		return SMFIS_ACCEPT;
	}
	if (work) {
		m->body = spool_new(m->conf->spool_memory, m->conf->spool_dir);
		if (m->body == NULL) {
			*done = 1;
			return in_fail(ctx, m, "out of memory, try again later", "spool");
		}
		mime_canon_init(&m->canon);
	}
	return SMFIS_CONTINUE;
}

/* ---- end of message ---- */

/* Delete the forged Authentication-Results fields (the last first: indexes stay valid). */
static int
remove_forged(SMFICTX *ctx, struct decide_msg *m)
{
	size_t i;
	int n = 0;

	for (i = m->headers.n; i-- > 0;) {
		const struct mime_header *h = &m->headers.v[i];
		if (!is_forged(m->conf, h))
			continue;
		if (smfi_chgheader(ctx, (char *)h->name, h->index, NULL) != MI_SUCCESS)
			return -1;
		n++;
	}
	if (n > 0)
		log_msg(LOG_NOTICE, m->qid,
		    "removed %d Authentication-Results field%s from outside "
		    "claiming our authserv-id %s with an smime result",
		    n, n == 1 ? "" : "s", m->conf->authserv_id);
	return n;
}

static int
ring_has(const struct keyring *k, const char *name)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		if (strcmp(k->name[i], name) == 0)
			return 1;
	return 0;
}

/* One key into the ring: 0 (loaded, or a recipient without a key file), -1 with err. */
static int
ring_add(struct keyring *k, const struct conf *c, const char *spec, const char *dir,
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
	if (ring_has(k, name) || k->n == RING_MAX)
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

/* The keys of every recipient: its own in decryption-key-dir, its domain's gateway key. */
static int
load_keys(const struct decide_msg *m, struct keyring *k, char *err, size_t errlen)
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

static void
ring_free(struct keyring *k)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		keystore_identity_free(&k->id[i]);
	k->n = 0;
}

/* A message that should be decrypted but cannot be: on-undecryptable. */
static sfsistat
undecryptable(SMFICTX *ctx, struct decide_msg *m, const struct inbound_result *r)
{
	enum policy_on_undecryptable a = m->pol.on_undecryptable;
	const char *x = r->decryption == ENVELOPE_UNSUPPORTED ? "7.6" : "7.5";
	char xcode[8], text[300];

	log_msg(a == POLICY_UNDECRYPTABLE_PASS ? LOG_WARNING : LOG_NOTICE, m->qid,
	    "not decrypted: %s: %s (on-undecryptable %s)", envelope_result_name(r->decryption),
	    r->reason, policy_on_undecryptable_name(a));
	if (a == POLICY_UNDECRYPTABLE_PASS)
		return SMFIS_CONTINUE;
	snprintf(xcode, sizeof(xcode), "%c.%s", a == POLICY_UNDECRYPTABLE_REJECT ? '5' : '4', x);
	snprintf(text, sizeof(text), "cannot decrypt this S/MIME message: %s%s",
	    envelope_result_name(r->decryption),
	    a == POLICY_UNDECRYPTABLE_REJECT ? "" : ", try again later");
	in_reply(ctx, a == POLICY_UNDECRYPTABLE_REJECT ? "550" : "451", xcode, text);
	decide_msg_note(m, a == POLICY_UNDECRYPTABLE_REJECT ? DECIDE_REJECT : DECIDE_TEMPFAIL,
	    "undecryptable", a == POLICY_UNDECRYPTABLE_REJECT ? "550" : "451", xcode);
	return a == POLICY_UNDECRYPTABLE_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

/* The new body to the MTA, from r->body_off on, in chunks of at most body-chunk-size. */
static int
replace_body(SMFICTX *ctx, const struct decide_msg *m, const struct inbound_result *r,
    uint64_t *bytes, char *err, size_t errlen)
{
	size_t chunk =
	    m->conf->body_chunk > 0 && m->conf->body_chunk < 65536 ? m->conf->body_chunk : 65535;
	unsigned char *buf = malloc(chunk);
	uint64_t skip = r->body_off;
	ssize_t n = 0;
	int rc = -1;

	*bytes = 0;
	if (buf == NULL) {
		errmsg_set(err, errlen, "out of memory");
		return -1;
	}
	if (spool_rewind(r->body, err, errlen) != 0)
		goto cleanup;
	while ((n = spool_read(r->body, buf, chunk, err, errlen)) > 0) {
		size_t drop = skip < (uint64_t)n ? (size_t)skip : (size_t)n;
		skip -= drop;
		if ((size_t)n > drop &&
		    smfi_replacebody(ctx, buf + drop, (int)((size_t)n - drop)) != MI_SUCCESS) {
			errmsg_set(err, errlen, "the MTA refused the new body");
			goto cleanup;
		}
		*bytes += (uint64_t)n - drop;
	}
	rc = n == 0 ? 0 : -1;
cleanup:
	OPENSSL_cleanse(buf, chunk);
	free(buf);
	return rc;
}

/* Content-* fields and body of the decrypted or unwrapped entity replace the message's. */
static int
rewrite(SMFICTX *ctx, struct decide_msg *m, int leadspc, const struct inbound_result *r,
    uint64_t *bytes, char *err, size_t errlen)
{
	size_t i;

	for (i = m->headers.n; i-- > 0;) {
		const struct mime_header *h = &m->headers.v[i];
		if (mime_is_content_header(h->name) &&
		    smfi_chgheader(ctx, (char *)h->name, h->index, NULL) != MI_SUCCESS)
			goto refused;
	}
	if (!m->has_mime_version && in_header(ctx, leadspc, "MIME-Version", -1, "1.0") != 0)
		goto refused;
	for (i = 0; i < r->content.n; i++)
		if (in_header(ctx, leadspc, r->content.v[i].name, -1, r->content.v[i].value) != 0)
			goto refused;
	return replace_body(ctx, m, r, bytes, err, errlen);
refused:
	errmsg_set(err, errlen, "the MTA refused a header change");
	return -1;
}

/* The message's headers without the forged fields (they must not vouch for DKIM either). */
static int
trusted_headers(const struct decide_msg *m, struct mime_headers *out)
{
	size_t i;

	mime_headers_init(out);
	for (i = 0; i < m->headers.n; i++)
		if (!is_forged(m->conf, &m->headers.v[i]) &&
		    mime_headers_add(out, m->headers.v[i].name, m->headers.v[i].value) != 0)
			return -1;
	return 0;
}

/* Store the verified signer's certificate where harvesting keeps them. */
static void
harvest(const struct decide_msg *m, const struct inbound_result *r)
{
	const struct conf *c = m->conf;
	struct harvest_options ho = {NULL, c->harvest_require_dkim, c->authserv_id, 0};
	struct mime_headers h;
	char addr[DECIDE_ADDR_MAX], reason[512], err[512];
	STACK_OF(X509) *chain;

	if (!harvesting(c) || r->signer == NULL || !r->signature_ok)
		return;
	if (r->smime != INBOUND_SMIME_PASS && !c->harvest_trust_any) {
		log_msg(LOG_INFO, m->qid, "not harvested: smime=%s: %s",
		    inbound_smime_name(r->smime), r->reason);
		metrics_add(METRICS_HARVESTS, "refused", NULL, 1);
		return;
	}
	if (trusted_headers(m, &h) != 0 ||
	    harvest_accept_signer(&h, r->signer, &ho, addr, sizeof(addr), reason, sizeof(reason)) !=
	        1) {
		log_msg(LOG_INFO, m->qid, "not harvested: %s", h.n > 0 ? reason : "out of memory");
		metrics_add(METRICS_HARVESTS, h.n > 0 ? "refused" : "error", NULL, 1);
		mime_headers_clear(&h);
		return;
	}
	mime_headers_clear(&h);
	chain = harvest_ca_certs(r->certs, r->signer);
	if (c->harvest_dir != NULL) {
		decide_harvest_store(m, addr, r->signer, chain);
	}
	if (c->harvest_ldap && c->ldap != NULL) {
		const char *base =
		    c->harvest_ldap_base != NULL ? c->harvest_ldap_base : c->ldap_base;
		switch (
		    ldappublish_store(c->ldap, base, addr, r->signer, chain, err, sizeof(err))) {
		case 1:
			log_msg(LOG_INFO, m->qid,
			    "harvested the certificate of <%s> into LDAP %s under %s", addr,
			    ldapstore_uri(c->ldap), base);
			metrics_add(METRICS_HARVESTS, "stored", NULL, 1);
			break;
		case 0:
			log_msg(LOG_INFO, m->qid, "certificate of <%s> already in LDAP", addr);
			metrics_add(METRICS_HARVESTS, "known", NULL, 1);
			break;
		default:
			log_msg(LOG_ERR, m->qid, "cannot store the certificate of <%s> in LDAP: %s",
			    addr, err);
			metrics_add(METRICS_HARVESTS, "error", NULL, 1);
		}
	}
	sk_X509_pop_free(chain, X509_free);
}

/* One line about what was done; names, never content. */
static void
log_result(const struct decide_msg *m, const struct inbound_result *r, const struct keyring *k,
    int subject, uint64_t in, uint64_t out)
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
		log_msg(LOG_INFO, m->qid, "protected header fields: %s%s", prot,
		    subject ? " (the outer Subject was [...]: restored)" : "");
	}
	log_msg(LOG_INFO, m->qid, "from outside: %s%s%sbody=%llu->%llu bytes", dec, sig,
	    r->unwrapped ? "unwrapped opaque signature; " : "", (unsigned long long)in,
	    (unsigned long long)(r->changed ? out : in));
}

/* Apply r to the message: body, Subject, Authentication-Results.  0 or -1 with err. */
static int
apply(SMFICTX *ctx, struct decide_msg *m, int leadspc, const struct inbound_result *r, int *subject,
    uint64_t *out, char *err, size_t errlen)
{
	const char *ps = inbound_protected_subject(&m->headers, r);
	char ar[2048];

	*subject = 0;
	if (r->changed && rewrite(ctx, m, leadspc, r, out, err, errlen) != 0)
		return -1;
	if (ps != NULL) {
		if (in_header(ctx, leadspc, "Subject", 1, ps) != 0) {
			errmsg_set(err, errlen, "the MTA refused the protected Subject");
			return -1;
		}
		*subject = 1;
	}
	if (m->pol.verify && r->smime != INBOUND_SMIME_NONE && m->conf->authserv_id != NULL) {
		if (inbound_ar_value(m->conf->authserv_id, r, ar, sizeof(ar)) != 0 ||
		    in_header(ctx, leadspc, "Authentication-Results", 0, ar) != 0) {
			errmsg_set(err, errlen, "cannot add Authentication-Results");
			return -1;
		}
	}
	return 0;
}

static void
options_for(const struct decide_msg *m, const struct keyring *k, struct inbound_options *o)
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

sfsistat
inbound_cb_eom(SMFICTX *ctx, struct decide_msg *m, int leadspc)
{
	struct inbound_options o;
	struct inbound_result r;
	struct keyring *k = calloc(1, sizeof(*k));
	const struct mime_header *ct = mime_headers_find(&m->headers, "Content-Type");
	char err[700], type[64] = "";
	uint64_t in = m->body != NULL ? spool_size(m->body) : 0, out = 0;
	sfsistat rc = SMFIS_CONTINUE;
	int subject = 0;

	memset(&r, 0, sizeof(r));
	if (k == NULL)
		return in_fail(ctx, m, "out of memory, try again later", "key ring");
	if (remove_forged(ctx, m) < 0) {
		rc = in_fail(ctx, m, "S/MIME processing failed, try again later",
		    "the MTA refused to remove a forged Authentication-Results field");
		goto cleanup;
	}
	if (m->body == NULL)
		goto cleanup;
	if (ct != NULL)
		(void)mime_type(ct->value, type, sizeof(type));
	if (m->pol.decrypt && strcmp(type, "multipart/signed") != 0 &&
	    load_keys(m, k, err, sizeof(err)) != 0) {
		rc = in_fail(ctx, m, "S/MIME decryption key unusable, try again later", err);
		goto cleanup;
	}
	options_for(m, k, &o);
	(void)smfi_progress(ctx);
	if (inbound_process(&m->headers, m->body, &o, &r, err, sizeof(err)) != 0) {
		rc = in_fail(ctx, m, "S/MIME processing failed, try again later", err);
		goto cleanup;
	}
	if (r.encrypted && m->pol.decrypt && r.decryption != ENVELOPE_OK) {
		rc = undecryptable(ctx, m, &r);
		goto cleanup;
	}
	if (apply(ctx, m, leadspc, &r, &subject, &out, err, sizeof(err)) != 0) {
		rc = in_fail(ctx, m, "S/MIME processing failed, try again later", err);
		goto cleanup;
	}
	log_result(m, &r, k, subject, in, out);
	harvest(m, &r);
cleanup:
	inbound_result_free(&r);
	ring_free(k);
	free(k);
	return rc;
}
