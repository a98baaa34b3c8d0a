/*
 * policy.c - scope matching, precedence and the strictest-wins
 * combination of recipients' settings.  See policy.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy.h"

void
policy_defaults(struct policy_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->set = ~0u;
	s->missing_cert = POLICY_MISSING_CERT_REJECT;
	s->missing_key = POLICY_MISSING_KEY_TEMPFAIL;
	s->cipher = EVP_aes_256_cbc();
	s->key_transport = SMIME_KT_RSA_PKCS1;
	s->sign_format = SMIME_SIGN_DETACHED;
	s->digest = EVP_sha256();
	s->signature = SMIME_SIG_RSA_PKCS1;
	s->signer_address_check = 1;
}

void
policy_overlay(struct policy_settings *dst, const struct policy_settings *src)
{
	unsigned set = src->set;

	if (set & POLICY_SIGN)
		dst->sign = src->sign;
	if (set & POLICY_ENCRYPT)
		dst->encrypt = src->encrypt;
	if (set & POLICY_MISSING_CERT)
		dst->missing_cert = src->missing_cert;
	if (set & POLICY_MISSING_KEY)
		dst->missing_key = src->missing_key;
	if (set & POLICY_CIPHER)
		dst->cipher = src->cipher;
	if (set & POLICY_KEY_TRANSPORT)
		dst->key_transport = src->key_transport;
	if (set & POLICY_SIGN_FORMAT)
		dst->sign_format = src->sign_format;
	if (set & POLICY_HEADER_PROTECTION)
		dst->header_protection = src->header_protection;
	if (set & POLICY_HIDE_SUBJECT)
		dst->hide_subject = src->hide_subject;
	if (set & POLICY_ENCRYPT_TO_SENDER)
		dst->encrypt_to_sender = src->encrypt_to_sender;
	if (set & POLICY_DIGEST)
		dst->digest = src->digest;
	if (set & POLICY_SIGNATURE)
		dst->signature = src->signature;
	if (set & POLICY_SIGNING_KEY)
		dst->signing_key = src->signing_key;
	if (set & POLICY_DOMAIN_CERT)
		dst->domain_cert = src->domain_cert;
	if (set & POLICY_SIGNER_ADDRESS_CHECK)
		dst->signer_address_check = src->signer_address_check;
	if (set & POLICY_SIGNING_CERT)
		dst->signing_cert = src->signing_cert;
	if (set & POLICY_MODE)
		dst->mode = src->mode;
	if (set & POLICY_DECRYPT)
		dst->decrypt = src->decrypt;
	if (set & POLICY_VERIFY)
		dst->verify = src->verify;
	if (set & POLICY_UNWRAP_OPAQUE)
		dst->unwrap_opaque = src->unwrap_opaque;
	if (set & POLICY_DECRYPTION_KEY)
		dst->decryption_key = src->decryption_key;
	if (set & POLICY_DECRYPTION_KEY_DIR)
		dst->decryption_key_dir = src->decryption_key_dir;
	if (set & POLICY_ON_UNDECRYPTABLE)
		dst->on_undecryptable = src->on_undecryptable;
	dst->set |= set;
}

int
policy_match_domain(const char *pattern, const char *domain)
{
	size_t pl, dl;

	if (strcmp(pattern, "*") == 0)
		return 0;
	if (strncmp(pattern, "*.", 2) == 0) {
		/* subdomains of pattern+2, at any depth */
		pl = strlen(pattern + 1); /* ".example.com" */
		dl = strlen(domain);
		if (dl > pl && strcasecmp(domain + dl - pl, pattern + 1) == 0)
			return 1000 + (int)pl;
		return -1;
	}
	return strcasecmp(pattern, domain) == 0 ? 2000 + (int)strlen(pattern) : -1;
}

int
policy_match_sender(const char *pattern, const char *address)
{
	const char *at = strrchr(address, '@');

	if (strchr(pattern, '@') != NULL) {
		/* a full address: local part exact, domain case-insensitive */
		const char *pat = strrchr(pattern, '@');
		if (at == NULL || (size_t)(pat - pattern) != (size_t)(at - address) ||
		    strncmp(pattern, address, (size_t)(at - address)) != 0 ||
		    strcasecmp(pat + 1, at + 1) != 0)
			return -1;
		return 4000;
	}
	return policy_match_domain(pattern, at != NULL ? at + 1 : address);
}

/* The most specific domain scope matching domain, or NULL. */
static const struct policy_scope *
policy_best_domain(const struct policy_scope *v, size_t n, const char *domain)
{
	const struct policy_scope *best = NULL;
	int best_score = -1, score;
	size_t i;

	if (domain == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		score = policy_match_domain(v[i].pattern, domain);
		if (score > best_score) {
			best = &v[i];
			best_score = score;
		}
	}
	return best;
}

void
policy_match_recipient(const struct policy *p, const char *vmta, const char *domain,
    struct policy_match *out)
{
	const struct policy_scope *vs = NULL, *d;
	size_t i;

	memset(out, 0, sizeof(*out));
	out->settings[0] = &p->global;
	if (vmta != NULL) {
		for (i = 0; i < p->nvmtas; i++) {
			if (strcasecmp(p->vmtas[i].pattern, vmta) == 0) {
				vs = &p->vmtas[i];
				break;
			}
		}
	}
	if (vs != NULL) {
		out->scope[1] = vs;
		out->settings[1] = &vs->s;
	}
	d = policy_best_domain(p->domains, p->ndomains, domain);
	if (d != NULL) {
		out->scope[2] = d;
		out->settings[2] = &d->s;
	}
	if (vs != NULL) {
		d = policy_best_domain(vs->domains, vs->ndomains, domain);
		if (d != NULL) {
			out->scope[3] = d;
			out->settings[3] = &d->s;
		}
	}
}

void
policy_for_recipient(const struct policy *p, const char *vmta, const char *domain,
    struct policy_settings *out)
{
	struct policy_match pm;
	int i;

	policy_match_recipient(p, vmta, domain, &pm);
	policy_defaults(out);
	for (i = 0; i < POLICY_NSCOPES; i++)
		if (pm.settings[i] != NULL)
			policy_overlay(out, pm.settings[i]);
}

int
policy_origin(const struct policy_match *pm, unsigned bit)
{
	int i;

	for (i = POLICY_NSCOPES - 1; i >= 0; i--)
		if (pm->settings[i] != NULL && (pm->settings[i]->set & bit))
			return i;
	return -1;
}

void
policy_scope_name(const struct policy_scope *scope, const struct policy_scope *vmta, char *buf,
    size_t len)
{
	if (scope == NULL)
		snprintf(buf, len, "global");
	else if (scope->kind == POLICY_SCOPE_VMTA)
		snprintf(buf, len, "virtual-mta:%s", scope->pattern);
	else if (scope->kind == POLICY_SCOPE_SENDER)
		snprintf(buf, len, "sender:%s", scope->pattern);
	else if (vmta != NULL)
		snprintf(buf, len, "virtual-mta:%s/domain:%s", vmta->pattern, scope->pattern);
	else
		snprintf(buf, len, "domain:%s", scope->pattern);
}

int
policy_foreach_scope(const struct policy *p, policy_visit_fn fn, void *arg)
{
	size_t i, j;
	int rc;

	if ((rc = fn(arg, NULL, &p->global)) != 0)
		return rc;
	for (i = 0; i < p->ndomains; i++)
		if ((rc = fn(arg, &p->domains[i], &p->domains[i].s)) != 0)
			return rc;
	for (i = 0; i < p->nsenders; i++)
		if ((rc = fn(arg, &p->senders[i], &p->senders[i].s)) != 0)
			return rc;
	for (i = 0; i < p->nvmtas; i++) {
		const struct policy_scope *v = &p->vmtas[i];
		if ((rc = fn(arg, v, &v->s)) != 0)
			return rc;
		for (j = 0; j < v->ndomains; j++)
			if ((rc = fn(arg, &v->domains[j], &v->domains[j].s)) != 0)
				return rc;
	}
	return 0;
}

int
policy_has_vmta(const struct policy *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nvmtas; i++)
		if (strcasecmp(p->vmtas[i].pattern, name) == 0)
			return 1;
	return 0;
}

const struct policy_scope *
policy_sender_scope(const struct policy *p, const char *address)
{
	const struct policy_scope *best = NULL;
	int best_score = -1, score;
	size_t i;

	for (i = 0; i < p->nsenders; i++) {
		score = policy_match_sender(p->senders[i].pattern, address);
		if (score > best_score) {
			best = &p->senders[i];
			best_score = score;
		}
	}
	return best;
}

/* Ranks: higher is stricter. */
static int
cipher_rank(const EVP_CIPHER *c)
{
	switch (EVP_CIPHER_get_nid(c)) {
	case NID_aes_128_cbc: return 1;
	case NID_aes_256_cbc: return 2;
	case NID_aes_128_gcm: return 3;
	case NID_aes_256_gcm: return 4;
	default: return 0;
	}
}

static int
digest_rank(const EVP_MD *md)
{
	return EVP_MD_get_size(md);
}

static int
missing_key_rank(enum policy_missing_key m)
{
	return m == POLICY_MISSING_KEY_REJECT ? 2 : m == POLICY_MISSING_KEY_TEMPFAIL ? 1 : 0;
}

void
policy_combine_init(struct policy_settings *msg)
{
	policy_defaults(msg);
	msg->cipher = EVP_aes_128_cbc(); /* the weakest, raised by recipients */
	msg->missing_key = POLICY_MISSING_KEY_UNSIGNED;
}

void
policy_combine(struct policy_settings *msg, const struct policy_settings *r)
{
	msg->sign |= r->sign;
	msg->encrypt |= r->encrypt;
	if (cipher_rank(r->cipher) > cipher_rank(msg->cipher))
		msg->cipher = r->cipher;
	if (digest_rank(r->digest) > digest_rank(msg->digest))
		msg->digest = r->digest;
	if (r->key_transport == SMIME_KT_RSA_OAEP)
		msg->key_transport = SMIME_KT_RSA_OAEP;
	if (r->signature == SMIME_SIG_RSA_PSS)
		msg->signature = SMIME_SIG_RSA_PSS;
	if (r->sign_format == SMIME_SIGN_OPAQUE)
		msg->sign_format = SMIME_SIGN_OPAQUE;
	msg->header_protection |= r->header_protection;
	msg->hide_subject |= r->hide_subject;
	msg->encrypt_to_sender |= r->encrypt_to_sender;
	if (missing_key_rank(r->missing_key) > missing_key_rank(msg->missing_key))
		msg->missing_key = r->missing_key;
}

void
policy_apply_sender(struct policy_settings *msg, const struct policy_settings *sender)
{
	int sign = msg->sign;

	policy_overlay(msg, sender);
	msg->sign = sign || ((sender->set & POLICY_SIGN) && sender->sign);
}

static void
policy_scopes_free(struct policy_scope *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].pattern);
		free(v[i].s.signing_key);
		free(v[i].s.domain_cert);
		free(v[i].s.signing_cert);
		free(v[i].s.decryption_key);
		free(v[i].s.decryption_key_dir);
		policy_scopes_free(v[i].domains, v[i].ndomains);
	}
	free(v);
}

void
policy_free(struct policy *p)
{
	free(p->global.signing_key);
	free(p->global.domain_cert);
	free(p->global.signing_cert);
	free(p->global.decryption_key);
	free(p->global.decryption_key_dir);
	policy_scopes_free(p->domains, p->ndomains);
	policy_scopes_free(p->vmtas, p->nvmtas);
	policy_scopes_free(p->senders, p->nsenders);
	memset(p, 0, sizeof(*p));
}

const char *
policy_missing_cert_name(enum policy_missing_cert m)
{
	switch (m) {
	case POLICY_MISSING_CERT_TEMPFAIL: return "tempfail";
	case POLICY_MISSING_CERT_PLAIN: return "plain";
	case POLICY_MISSING_CERT_SIGN_ONLY: return "sign-only";
	default: return "reject";
	}
}

const char *
policy_on_undecryptable_name(enum policy_on_undecryptable a)
{
	return a == POLICY_UNDECRYPTABLE_TEMPFAIL ? "tempfail"
	    : a == POLICY_UNDECRYPTABLE_REJECT    ? "reject"
	                                          : "pass";
}
