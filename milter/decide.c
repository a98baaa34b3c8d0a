/*
 * decide.c - the policy decisions of the milter: per recipient at RCPT,
 * per message at the end of the headers.
 *
 * One message gets one body.  A recipient whose policy encrypts and who
 * has a certificate (ENCRYPT) cannot share a body with one who must get
 * it unencrypted (CLEAR: no certificate, and policy does not encrypt or
 * says missing-cert plain/sign-only).  The first of the two kinds to be
 * accepted sets the message's kind; a recipient of the other kind is
 * deferred with 451 4.7.1 so that the client sends it again in a separate
 * transaction.  Nothing that policy says to encrypt ever leaves in clear.
 *
 * When the virtual MTA comes from a header (known only after DATA) and
 * differs from the one the RCPT decisions used, every recipient is
 * decided again; a recipient that now fails makes the whole message fail
 * with a reply naming the recipients.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "log.h"
#include "message.h"

static void
verdict_set(struct verdict *v, enum decision d, const char *code, const char *xcode)
{
	v->d = d;
	snprintf(v->code, sizeof(v->code), "%s", code);
	snprintf(v->xcode, sizeof(v->xcode), "%s", xcode);
}

static int
settings_act(const struct policy_settings *s)
{
	return ((s->set & POLICY_SIGN) && s->sign) || ((s->set & POLICY_ENCRYPT) && s->encrypt);
}

int
decide_anything_to_do(const struct conf *c)
{
	const struct policy *p = &c->policy;
	size_t i, j;

	if (settings_act(&p->global))
		return 1;
	for (i = 0; i < p->ndomains; i++)
		if (settings_act(&p->domains[i].s))
			return 1;
	for (i = 0; i < p->nsenders; i++)
		if (settings_act(&p->senders[i].s))
			return 1;
	for (i = 0; i < p->nvmtas; i++) {
		if (settings_act(&p->vmtas[i].s))
			return 1;
		for (j = 0; j < p->vmtas[i].ndomains; j++)
			if (settings_act(&p->vmtas[i].domains[j].s))
				return 1;
	}
	return 0;
}

/* Class of a recipient from its settings and certificate. */
static void
classify(struct rcpt *r)
{
	r->force_sign = 0;
	if (!r->s.encrypt) {
		r->cls = r->cert != NULL ? RCPT_FLEX : RCPT_CLEAR;
		return;
	}
	if (r->cert != NULL) {
		r->cls = RCPT_ENCRYPT;
		return;
	}
	if (r->lookup == CERTSTORE_ERROR) {
		r->cls = RCPT_TEMPFAIL;
		return;
	}
	switch (r->s.missing_cert) {
	case POLICY_MISSING_CERT_TEMPFAIL:
		r->cls = RCPT_TEMPFAIL;
		break;
	case POLICY_MISSING_CERT_PLAIN:
		r->cls = RCPT_CLEAR;
		break;
	case POLICY_MISSING_CERT_SIGN_ONLY:
		r->cls = RCPT_CLEAR;
		r->force_sign = 1;
		break;
	default:
		r->cls = RCPT_REJECT;
	}
}

/*
 * Without a personal certificate, a <domain> with domain-cert encrypts to
 * the domain's gateway certificate (validated, without the address check).
 */
static void
use_domain_cert(struct msgctx *m, struct rcpt *r)
{
	char why[512];
	X509 *x;

	if (r->cert != NULL || r->lookup == CERTSTORE_ERROR || !(r->s.set & POLICY_DOMAIN_CERT) ||
	    r->s.domain_cert == NULL)
		return;
	x = certstore_load_file(r->s.domain_cert, why, sizeof(why));
	if (x == NULL || (m->conf->certs != NULL &&
	                     certindex_validate(m->conf->certs, x, NULL, why, sizeof(why)) != 0) ||
	    (m->conf->certs == NULL && certstore_check_usable(x, r->domain, why, sizeof(why)) != 0)) {
		size_t used = strlen(r->reason);
		snprintf(r->reason + used, sizeof(r->reason) - used, "; domain certificate: %.200s", why);
		X509_free(x);
		return;
	}
	r->cert = x;
	r->lookup = CERTSTORE_FOUND;
}

/* Add x to the recipient certificates unless it is there already (domain certificates). */
static int
recips_add(STACK_OF(X509) *sk, X509 *x)
{
	int i;

	for (i = 0; i < sk_X509_num(sk); i++)
		if (X509_cmp(sk_X509_value(sk, i), x) == 0)
			return 0;
	if (!sk_X509_push(sk, x))
		return -1;
	X509_up_ref(x);
	return 0;
}

void
decide_recipient(struct msgctx *m, struct rcpt *r, struct verdict *v)
{
	const struct conf *c = m->conf;
	size_t i;
	int has_encrypt = 0, has_clear = 0;

	memset(v, 0, sizeof(*v));
	r->domain = strrchr(r->addr, '@') + 1;
	r->cert = NULL;
	if (c->certs != NULL) {
		r->lookup = certindex_find(c->certs, r->addr, &r->cert, r->reason, sizeof(r->reason));
	} else {
		r->lookup = CERTSTORE_MISSING;
		snprintf(r->reason, sizeof(r->reason), "no cert-dir is configured");
	}
	policy_for_recipient(&c->policy, m->vmta[0] ? m->vmta : NULL, r->domain, &r->s);
	/* then the directory; only when the answer can matter (encryption, or a later vmta) */
	if (r->lookup == CERTSTORE_MISSING && c->ldap != NULL &&
	    (r->s.encrypt || c->policy.nvmtas > 0))
		r->lookup = ldapstore_find(c->ldap, c->certs, r->addr, &r->cert, r->reason,
		    sizeof(r->reason));
	use_domain_cert(m, r);
	classify(r);
	for (i = 0; i < m->nrcpt; i++) {
		has_encrypt |= m->rcpts[i].cls == RCPT_ENCRYPT;
		has_clear |= m->rcpts[i].cls == RCPT_CLEAR;
	}
	switch (r->cls) {
	case RCPT_REJECT:
		verdict_set(v, DECIDE_REJECT, "550", "5.7.1");
		snprintf(v->text, sizeof(v->text), "<%s>: no usable S/MIME certificate for this recipient",
		    r->addr);
		snprintf(v->log, sizeof(v->log), "rejected recipient <%s>: %s", r->addr, r->reason);
		return;
	case RCPT_TEMPFAIL:
		verdict_set(v, DECIDE_TEMPFAIL, "451", "4.7.1");
		snprintf(v->text, sizeof(v->text), "<%s>: %s, try again later", r->addr,
		    r->lookup == CERTSTORE_ERROR ? "S/MIME certificate lookup failed"
		                                 : "no usable S/MIME certificate for this recipient yet");
		snprintf(v->log, sizeof(v->log), "tempfail recipient <%s>: %s", r->addr, r->reason);
		return;
	case RCPT_ENCRYPT:
		if (has_clear) {
			verdict_set(v, DECIDE_TEMPFAIL, "451", "4.7.1");
			snprintf(v->text, sizeof(v->text),
			    "<%s>: must be encrypted, but earlier recipients of this message cannot be; "
			    "send it in a separate message", r->addr);
			snprintf(v->log, sizeof(v->log),
			    "deferred recipient <%s>: needs encryption, message is unencrypted", r->addr);
			return;
		}
		break;
	case RCPT_CLEAR:
		if (has_encrypt) {
			verdict_set(v, DECIDE_TEMPFAIL, "451", "4.7.1");
			snprintf(v->text, sizeof(v->text),
			    "<%s>: no S/MIME certificate, and this message is encrypted for earlier "
			    "recipients; send it in a separate message", r->addr);
			snprintf(v->log, sizeof(v->log),
			    "deferred recipient <%s>: %s, message is encrypted", r->addr, r->reason);
			return;
		}
		break;
	default:
		break;
	}
	v->d = DECIDE_CONTINUE;
}

/* The virtual MTA header's value, trimmed, or NULL. */
static const char *
header_vmta(const struct msgctx *m, char *buf, size_t len)
{
	const struct mime_header *h = mime_headers_find(&m->headers, m->conf->vmta_header);
	const char *s;
	size_t n;

	if (h == NULL)
		return NULL;
	for (s = h->value; isspace((unsigned char)*s); s++)
		;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0 || n >= len)
		return NULL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

/* Append "<addr>" to a list in buf. */
static void
list_add(char *buf, size_t len, const char *addr)
{
	size_t used = strlen(buf);

	if (used + strlen(addr) + 4 < len)
		snprintf(buf + used, len - used, "%s<%s>", used ? ", " : "", addr);
}

/* Decide every recipient again for the virtual MTA named in the header. */
static int
redecide_for_vmta(struct msgctx *m, const char *vmta, struct verdict *v)
{
	char rejected[300] = "", deferred[300] = "", clear[300] = "";
	int has_encrypt = 0;
	size_t i;

	for (i = 0; i < m->nrcpt; i++) {
		struct rcpt *r = &m->rcpts[i];
		policy_for_recipient(&m->conf->policy, vmta, r->domain, &r->s);
		classify(r);
		if (r->cls == RCPT_REJECT)
			list_add(rejected, sizeof(rejected), r->addr);
		else if (r->cls == RCPT_TEMPFAIL)
			list_add(deferred, sizeof(deferred), r->addr);
		else if (r->cls == RCPT_CLEAR)
			list_add(clear, sizeof(clear), r->addr);
		has_encrypt |= r->cls == RCPT_ENCRYPT;
	}
	if (rejected[0] != '\0' || (has_encrypt && clear[0] != '\0')) {
		verdict_set(v, DECIDE_REJECT, "550", "5.7.1");
		if (rejected[0] != '\0')
			snprintf(v->text, sizeof(v->text),
			    "no usable S/MIME certificate for %s (virtual MTA %s)", rejected, vmta);
		else
			snprintf(v->text, sizeof(v->text),
			    "virtual MTA %s encrypts this message but %s cannot receive it encrypted; "
			    "send to them separately", vmta, clear);
		snprintf(v->log, sizeof(v->log), "virtual MTA %s: %s", vmta, v->text);
		return -1;
	}
	if (deferred[0] != '\0') {
		verdict_set(v, DECIDE_TEMPFAIL, "451", "4.7.1");
		snprintf(v->text, sizeof(v->text),
		    "no usable S/MIME certificate yet for %s (virtual MTA %s), try again later",
		    deferred, vmta);
		snprintf(v->log, sizeof(v->log), "virtual MTA %s: %s", vmta, v->text);
		return -1;
	}
	return 0;
}

/*
 * A loaded identity that may not sign for the From: address (expired, wrong
 * usage, another address, untrusted) counts as a missing key; err then names
 * the key and the reason.  0 when it may sign.
 */
static int
check_signer(struct msgctx *m, const struct policy_scope *sender, const char *keyfile,
    char *err, size_t errlen)
{
	char why[256], name[512];
	const char *addr = m->signer_addr;

	if (sender != NULL && (sender->s.set & POLICY_SIGNER_ADDRESS_CHECK) &&
	    !sender->s.signer_address_check)
		addr = NULL; /* a role key that signs for several addresses */
	if (certindex_validate_signer(m->conf->certs, m->signer.cert, m->signer.chain, addr, why,
	        sizeof(why)) == 0)
		return 0;
	if (keyfile != NULL)
		keystore_spec_display(keyfile, name, sizeof(name));
	else
		snprintf(name, sizeof(name), "%s/%s.pem", m->conf->key_dir, m->signer_addr);
	snprintf(err, errlen, "%.400s: %s", name, why);
	keystore_identity_free(&m->signer);
	return -1;
}

/* Load the signing identity of the From: address per the <sender> block or key-dir. */
static int
load_signer(struct msgctx *m, const struct policy_scope *sender, struct verdict *v)
{
	char err[700];
	enum keystore_result kr;
	struct keystore_request kq = {.passphrase_file = m->conf->key_passphrase_file};
	const char *keyfile = sender != NULL && (sender->s.set & POLICY_SIGNING_KEY)
	    ? sender->s.signing_key : NULL;

	if (keyfile != NULL) {
		kq.spec = keyfile;
		kq.cert_path = (sender->s.set & POLICY_SIGNING_CERT) ? sender->s.signing_cert : NULL;
		kr = keystore_load(&kq, &m->signer, err, sizeof(err));
	} else if (m->conf->key_dir != NULL) {
		kq.dir = m->conf->key_dir;
		kq.addr = m->signer_addr;
		kr = keystore_load(&kq, &m->signer, err, sizeof(err));
	} else {
		kr = KEYSTORE_MISSING;
		snprintf(err, sizeof(err), "no key-dir is configured");
	}
	/* an identity that may not sign counts as missing: the missing-key action */
	if (kr == KEYSTORE_MISMATCH ||
	    (kr == KEYSTORE_FOUND && check_signer(m, sender, keyfile, err, sizeof(err)) != 0))
		kr = KEYSTORE_MISSING;
	if (kr == KEYSTORE_FOUND)
		return 0;
	if (kr == KEYSTORE_ERROR) {
		verdict_set(v, m->conf->on_error == CONF_ON_ERROR_REJECT ? DECIDE_REJECT : DECIDE_TEMPFAIL,
		    m->conf->on_error == CONF_ON_ERROR_REJECT ? "550" : "451",
		    m->conf->on_error == CONF_ON_ERROR_REJECT ? "5.7.0" : "4.7.0");
		snprintf(v->text, sizeof(v->text), "S/MIME signing key for <%s> is unusable",
		    m->signer_addr);
		snprintf(v->log, sizeof(v->log), "%s: %s", v->text, err);
		return -1;
	}
	switch (m->pol.missing_key) {
	case POLICY_MISSING_KEY_UNSIGNED:
		log_msg(LOG_WARNING, m->qid, "no signing key for <%s>, sending unsigned: %s",
		    m->signer_addr, err);
		m->pol.sign = 0;
		return 0;
	case POLICY_MISSING_KEY_REJECT:
		verdict_set(v, DECIDE_REJECT, "550", "5.7.0");
		break;
	default:
		verdict_set(v, DECIDE_TEMPFAIL, "451", "4.7.0");
	}
	snprintf(v->text, sizeof(v->text), "no S/MIME signing key for <%s>", m->signer_addr);
	snprintf(v->log, sizeof(v->log), "%s: %s", v->text, err);
	return -1;
}

/*
 * A virtual MTA named (by the header, else the macro) that no block defines:
 * unknown-virtual-mta says what happens.  It applies when the configuration
 * has <virtual-mta> blocks or sets the keyword.  Returns -1 with the verdict
 * (tempfail, reject), 1 for pass (the name is logged), 0 when the name is
 * known or none is given.
 */
static int
unknown_vmta(struct msgctx *m, const char *hdr, struct verdict *v)
{
	static const char *const action[] = {"tempfail", "reject", "pass"};
	const struct conf *c = m->conf;
	const char *name = hdr != NULL ? hdr : m->vmta[0] != '\0' ? m->vmta : NULL;

	if (name == NULL || (c->policy.nvmtas == 0 && !c->unknown_vmta_set) ||
	    policy_has_vmta(&c->policy, name))
		return 0;
	log_msg(LOG_WARNING, m->qid,
	    "unknown virtual MTA \"%s\": no <virtual-mta> block defines it (unknown-virtual-mta %s)",
	    name, action[c->unknown_vmta]);
	if (c->unknown_vmta == CONF_UNKNOWN_VMTA_PASS)
		return 1;
	if (c->unknown_vmta == CONF_UNKNOWN_VMTA_REJECT) {
		verdict_set(v, DECIDE_REJECT, "550", "5.7.1");
		snprintf(v->text, sizeof(v->text), "unknown virtual MTA \"%s\"", name);
	} else {
		verdict_set(v, DECIDE_TEMPFAIL, "451", "4.7.1");
		snprintf(v->text, sizeof(v->text), "unknown virtual MTA \"%s\", try again later", name);
	}
	snprintf(v->log, sizeof(v->log), "unknown virtual MTA \"%s\"", name);
	return -1;
}

void
decide_message(struct msgctx *m, struct verdict *v)
{
	const struct policy_scope *sender = NULL;
	const struct mime_header *from;
	char vbuf[VMTA_MAX];
	const char *vmta = header_vmta(m, vbuf, sizeof(vbuf));
	int force_sign = 0, unknown;
	size_t i;

	memset(v, 0, sizeof(*v));
	unknown = unknown_vmta(m, vmta, v);
	if (unknown < 0)
		return;
	if (vmta != NULL && strcasecmp(vmta, m->vmta) != 0) {
		if (redecide_for_vmta(m, vmta, v) != 0)
			return;
		snprintf(m->vmta, sizeof(m->vmta), "%s", vmta);
	}
	policy_combine_init(&m->pol);
	for (i = 0; i < m->nrcpt; i++) {
		policy_combine(&m->pol, &m->rcpts[i].s);
		force_sign |= m->rcpts[i].force_sign;
	}
	m->pol.encrypt = 0;
	for (i = 0; i < m->nrcpt; i++)
		m->pol.encrypt |= m->rcpts[i].cls == RCPT_ENCRYPT;
	m->pol.sign |= force_sign;

	from = mime_headers_find(&m->headers, "From");
	if (from != NULL &&
	    mime_extract_address(from->value, m->signer_addr, sizeof(m->signer_addr)) == 0)
		sender = policy_sender_scope(&m->conf->policy, m->signer_addr);
	if (sender != NULL) {
		const struct policy_settings *s = &sender->s;
		if ((s->set & POLICY_SIGN) && s->sign)
			m->pol.sign = 1;
		if (s->set & POLICY_MISSING_KEY)
			m->pol.missing_key = s->missing_key;
		if (s->set & POLICY_DIGEST)
			m->pol.digest = s->digest;
		if (s->set & POLICY_SIGNATURE)
			m->pol.signature = s->signature;
		if (s->set & POLICY_SIGN_FORMAT)
			m->pol.sign_format = s->sign_format;
		if (s->set & POLICY_ENCRYPT_TO_SENDER)
			m->pol.encrypt_to_sender = s->encrypt_to_sender;
	}
	if (!m->pol.sign && !m->pol.encrypt) {
		v->d = DECIDE_PASS;
		snprintf(v->log, sizeof(v->log), "passed: policy neither signs nor encrypts%s%s%s",
		    unknown ? " (unknown virtual MTA \"" : "", unknown ? (vmta ? vmta : m->vmta) : "",
		    unknown ? "\")" : "");
		return;
	}
	if (m->pol.sign) {
		if (m->signer_addr[0] == '\0' || from == NULL) {
			verdict_set(v, m->conf->on_error == CONF_ON_ERROR_REJECT ? DECIDE_REJECT
			                                                         : DECIDE_TEMPFAIL,
			    m->conf->on_error == CONF_ON_ERROR_REJECT ? "550" : "451",
			    m->conf->on_error == CONF_ON_ERROR_REJECT ? "5.7.0" : "4.7.0");
			snprintf(v->text, sizeof(v->text), "no usable From: address to sign for");
			snprintf(v->log, sizeof(v->log), "%s: %s", v->text,
			    from ? "unparseable From: header" : "no From: header");
			return;
		}
		if (load_signer(m, sender, v) != 0)
			return;
	}
	if (!m->pol.sign && !m->pol.encrypt) {
		v->d = DECIDE_PASS;
		snprintf(v->log, sizeof(v->log), "passed: unsigned (no signing key) and not encrypted%s%s%s",
		    unknown ? " (unknown virtual MTA \"" : "", unknown ? m->vmta : "",
		    unknown ? "\")" : "");
		return;
	}
	if (m->pol.encrypt) {
		m->recips = sk_X509_new_null();
		if (m->recips == NULL)
			goto oom;
		for (i = 0; i < m->nrcpt; i++) {
			X509 *x = m->rcpts[i].cert;
			if (x != NULL && (m->rcpts[i].cls == RCPT_ENCRYPT || m->rcpts[i].cls == RCPT_FLEX) &&
			    recips_add(m->recips, x) != 0)
				goto oom;
		}
		if (m->pol.encrypt_to_sender && m->signer.cert != NULL &&
		    recips_add(m->recips, m->signer.cert) != 0)
			goto oom;
	}
	v->d = DECIDE_CONTINUE;
	return;
oom:
	verdict_set(v, DECIDE_TEMPFAIL, "451", "4.7.0");
	snprintf(v->text, sizeof(v->text), "out of memory, try again later");
	snprintf(v->log, sizeof(v->log), "out of memory building the recipient list");
}

void
message_clear(struct msgctx *m)
{
	size_t i;

	for (i = 0; i < m->nrcpt; i++)
		X509_free(m->rcpts[i].cert);
	free(m->rcpts);
	m->rcpts = NULL;
	m->nrcpt = m->rcap = 0;
	sk_X509_pop_free(m->recips, X509_free);
	m->recips = NULL;
	mime_headers_clear(&m->headers);
	keystore_identity_free(&m->signer);
	spool_free(m->body);
	m->body = NULL;
	if (m->canonbuf != NULL) {
		OPENSSL_cleanse(m->canonbuf, m->canonbuf_len);
		free(m->canonbuf);
		m->canonbuf = NULL;
	}
	conf_unref(m->conf);
	m->conf = NULL;
}
