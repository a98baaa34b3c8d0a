/*
 * decide_eoh.c - the decisions at the end of the headers: the virtual MTA
 * named in the header (unknown-virtual-mta, and every recipient decided
 * again when it differs from the one the RCPT decisions used), the
 * message's settings (strictest of its recipients, then its <sender>
 * block), the signing identity (one that may not sign counts as missing:
 * missing-key) and the certificates the body is encrypted to.  See
 * decide.h.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "decide_int.h"
#include "harvest.h"
#include "log.h"

/*
 * A message-level refusal r for the reason why, logged as "rejected: ..." or
 * "tempfail: ..." at LOG_NOTICE, or LOG_ERR for a key or an internal failure
 * (something the administrator has to mend).
 */
static void __attribute__((format(printf, 4, 5))) eoh_refuse(struct decide_verdict *v,
    const struct decide_reply *r, const char *why, const char *fmt, ...)
{
	char line[sizeof(v->log) - 16];
	va_list ap;

	decide_verdict_set(v, r,
	    strcmp(why, "missing_key") == 0 || strcmp(why, "key_error") == 0 ||
	            strcmp(why, "internal") == 0
	        ? LOG_ERR
	        : LOG_NOTICE);
	v->why = why;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	snprintf(v->log, sizeof(v->log), "%s: %s", decide_verdict_word(v), line);
}

/* The message passes untouched for the reason why; line is logged at LOG_INFO. */
static void
eoh_pass(struct decide_verdict *v, const char *why, const char *line)
{
	v->reply.d = DECIDE_PASS;
	v->why = why;
	v->level = LOG_INFO;
	snprintf(v->log, sizeof(v->log), "%s", line);
}

/* The virtual MTA header's value, trimmed, or NULL. */
static const char *
header_vmta(const struct decide_msg *m, char *buf, size_t len)
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

/* Every recipient's settings and class again, for the virtual MTA named in the header. */
static void
reresolve_for_vmta(struct decide_msg *m, const char *vmta)
{
	size_t i;

	for (i = 0; i < m->nrcpt; i++) {
		decide_resolve_settings(m, &m->rcpts[i], vmta);
		decide_classify(&m->rcpts[i]);
	}
	m->monitor = decide_all_monitor(m);
}

/* Decide every recipient again for the virtual MTA named in the header. */
static int
redecide_for_vmta(struct decide_msg *m, const char *vmta, struct decide_verdict *v)
{
	const struct decide_replies *rp = &m->conf->replies;
	char rejected[300] = "", deferred[300] = "", clear[300] = "";
	int has_encrypt = 0;
	size_t i;

	reresolve_for_vmta(m, vmta);
	for (i = 0; i < m->nrcpt; i++) {
		const struct decide_rcpt *r = &m->rcpts[i];
		enum decide_class cls = decide_view_class(m, r);
		if (!decide_rcpt_in_view(m, r))
			continue;
		if (cls == DECIDE_RCPT_REJECT)
			list_add(rejected, sizeof(rejected), r->addr);
		else if (cls == DECIDE_RCPT_TEMPFAIL)
			list_add(deferred, sizeof(deferred), r->addr);
		else if (cls == DECIDE_RCPT_CLEAR)
			list_add(clear, sizeof(clear), r->addr);
		has_encrypt |= cls == DECIDE_RCPT_ENCRYPT;
	}
	if (rejected[0] != '\0') {
		snprintf(v->text, sizeof(v->text),
		    "no usable S/MIME certificate for %s (virtual MTA %s)", rejected, vmta);
		eoh_refuse(v, &rp->missing_cert[POLICY_MISSING_CERT_REJECT], "missing_cert",
		    "virtual MTA %s: %s", vmta, v->text);
		return -1;
	}
	if (has_encrypt && clear[0] != '\0') {
		snprintf(v->text, sizeof(v->text),
		    "virtual MTA %s encrypts this message but %s cannot receive it encrypted; "
		    "send to them separately",
		    vmta, clear);
		eoh_refuse(v, &rp->vmta_conflict, "vmta_conflict", "virtual MTA %s: %s", vmta,
		    v->text);
		return -1;
	}
	if (deferred[0] != '\0') {
		snprintf(v->text, sizeof(v->text),
		    "no usable S/MIME certificate yet for %s (virtual MTA %s), try again later",
		    deferred, vmta);
		eoh_refuse(v, &rp->missing_cert[POLICY_MISSING_CERT_TEMPFAIL], "missing_cert",
		    "virtual MTA %s: %s", vmta, v->text);
		return -1;
	}
	return 0;
}

/*
 * A virtual MTA named (by the header, else the macro) that no block defines:
 * unknown-virtual-mta says what happens.  It applies when the configuration
 * has <virtual-mta> blocks or sets the keyword.  Returns -1 with the verdict
 * (tempfail, reject), 1 for pass (the name is logged), 0 when the name is
 * known or none is given.
 */
static int
unknown_vmta(struct decide_msg *m, const char *hdr, struct decide_verdict *v)
{
	static const char *const action[] = {"tempfail", "reject", "pass"};
	const struct conf *c = m->conf;
	const char *name = hdr != NULL ? hdr : m->vmta[0] != '\0' ? m->vmta : NULL;

	if (name == NULL || (c->policy.nvmtas == 0 && !c->unknown_vmta_set) ||
	    policy_has_vmta(&c->policy, name))
		return 0;
	decide_log(m, LOG_WARNING,
	    "unknown virtual MTA \"%s\": no <virtual-mta> block defines it (unknown-virtual-mta %s)",
	    name, action[c->unknown_vmta]);
	if (c->replies.unknown_vmta.d == DECIDE_CONTINUE)
		return 1;
	eoh_refuse(v, &c->replies.unknown_vmta, "unknown_vmta", "unknown virtual MTA \"%s\"", name);
	snprintf(v->text, sizeof(v->text), "unknown virtual MTA \"%s\"%s", name,
	    v->reply.d == DECIDE_REJECT ? "" : ", try again later");
	return -1;
}

/*
 * A loaded identity that may not sign for the From: address (expired, wrong
 * usage, another address, untrusted) counts as a missing key; err then names
 * the key and the reason.  0 when it may sign.
 */
static int
check_signer(struct decide_msg *m, const char *keyfile, char *err, size_t errlen)
{
	char why[256], name[512];
	/* signer-address-check no: a role key that signs for several addresses */
	const char *addr = m->pol.signer_address_check ? m->signer_addr : NULL;

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

/* Load the signing identity of the From: address: signing-key of its <sender>, else key-dir. */
static int
load_signer(struct decide_msg *m, struct decide_verdict *v)
{
	const struct decide_replies *rp = &m->conf->replies;
	char err[700];
	enum keystore_result kr;
	struct keystore_request kq = {.passphrase_file = m->conf->key_passphrase_file};
	const char *keyfile = m->pol.signing_key;

	if (keyfile != NULL) {
		kq.spec = keyfile;
		kq.cert_path = m->pol.signing_cert;
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
	    (kr == KEYSTORE_FOUND && check_signer(m, keyfile, err, sizeof(err)) != 0))
		kr = KEYSTORE_MISSING;
	if (kr == KEYSTORE_FOUND)
		return 0;
	if (kr == KEYSTORE_ERROR) {
		snprintf(v->text, sizeof(v->text), "S/MIME signing key for <%s> is unusable",
		    m->signer_addr);
		eoh_refuse(v, &rp->on_error, "key_error", "%s: %s", v->text, err);
		return -1;
	}
	if (rp->missing_key[m->pol.missing_key].d == DECIDE_CONTINUE) {
		decide_log(m, LOG_WARNING, "no signing key for <%s>, sending unsigned: %s",
		    m->signer_addr, err);
		m->pol.sign = 0;
		return 0;
	}
	snprintf(v->text, sizeof(v->text), "no S/MIME signing key for <%s>", m->signer_addr);
	eoh_refuse(v, &rp->missing_key[m->pol.missing_key], "missing_key", "%s: %s", v->text, err);
	return -1;
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

/* The certificates the body is encrypted to: every recipient's, the signer's on request. */
static int
collect_recips(struct decide_msg *m)
{
	size_t i;

	m->recips = sk_X509_new_null();
	if (m->recips == NULL)
		return -1;
	for (i = 0; i < m->nrcpt; i++) {
		const struct decide_rcpt *r = &m->rcpts[i];
		enum decide_class cls = decide_view_class(m, r);
		if (!decide_rcpt_in_view(m, r))
			continue;
		if (r->cert != NULL && (cls == DECIDE_RCPT_ENCRYPT || cls == DECIDE_RCPT_FLEX) &&
		    recips_add(m->recips, r->cert) != 0)
			return -1;
	}
	if (m->pol.encrypt_to_sender && m->signer.cert != NULL &&
	    recips_add(m->recips, m->signer.cert) != 0)
		return -1;
	return 0;
}

/*
 * The strictest settings of the recipients; encrypted when any recipient is
 * ENCRYPT.  In an enforced message the settings of recipients in mode
 * monitor do not count: they get the body the others' policy makes.
 */
static void
combine_recipients(struct decide_msg *m)
{
	int force_sign = 0;
	size_t i;

	policy_combine_init(&m->pol);
	for (i = 0; i < m->nrcpt; i++) {
		if (!decide_rcpt_combines(m, &m->rcpts[i]))
			continue;
		policy_combine(&m->pol, &m->rcpts[i].s);
		force_sign |= m->rcpts[i].force_sign;
	}
	m->pol.encrypt = 0;
	for (i = 0; i < m->nrcpt; i++)
		m->pol.encrypt |= decide_rcpt_in_view(m, &m->rcpts[i]) &&
		    decide_view_class(m, &m->rcpts[i]) == DECIDE_RCPT_ENCRYPT;
	m->pol.sign |= force_sign;
}

/* The message passes when it is neither signed nor encrypted; 1 then. */
static int
nothing_left(const struct decide_msg *m, const char *metric, const char *why, int unknown,
    const char *name, struct decide_verdict *v)
{
	char line[300];

	if (m->pol.sign || m->pol.encrypt)
		return 0;
	snprintf(line, sizeof(line), "passed: %s%s%s%s", why,
	    unknown ? " (unknown virtual MTA \"" : "", unknown ? name : "", unknown ? "\")" : "");
	eoh_pass(v, metric, line);
	return 1;
}

/* The decision of the message, once its headers are known. */
static void
decide_message(struct decide_msg *m, struct decide_verdict *v)
{
	const struct policy_scope *sender = NULL;
	const struct mime_header *from;
	char vbuf[DECIDE_VMTA_MAX];
	const char *vmta = header_vmta(m, vbuf, sizeof(vbuf));
	int unknown = unknown_vmta(m, vmta, v);

	if (unknown < 0)
		return;
	if (vmta != NULL && strcasecmp(vmta, m->vmta) != 0) {
		if (redecide_for_vmta(m, vmta, v) != 0)
			return;
		snprintf(m->vmta, sizeof(m->vmta), "%s", vmta);
	}
	combine_recipients(m);
	from = mime_headers_find(&m->headers, "From");
	if (from != NULL &&
	    mime_extract_address(from->value, m->signer_addr, sizeof(m->signer_addr)) == 0)
		sender = policy_sender_scope(&m->conf->policy, m->signer_addr);
	m->sender_scope = sender;
	if (sender != NULL)
		policy_apply_sender(&m->pol, &sender->s);
	if (nothing_left(m, "nothing_to_do", "policy neither signs nor encrypts", unknown,
	        vmta ? vmta : m->vmta, v))
		return;
	if (m->pol.sign) {
		if (m->signer_addr[0] == '\0' || from == NULL) {
			snprintf(v->text, sizeof(v->text), "no usable From: address to sign for");
			eoh_refuse(v, &m->conf->replies.on_error, "no_from", "%s: %s", v->text,
			    from ? "unparseable From: header" : "no From: header");
			return;
		}
		if (load_signer(m, v) != 0)
			return;
	}
	if (log_enabled(LOG_DEBUG))
		decide_log(m, LOG_DEBUG,
		    "message: sign %s, encrypt %s, cipher %s, digest %s, signer <%s>",
		    m->pol.sign ? "yes" : "no", m->pol.encrypt ? "yes" : "no",
		    EVP_CIPHER_get0_name(m->pol.cipher), EVP_MD_get0_name(m->pol.digest),
		    m->signer_addr);
	if (nothing_left(m, "no_signing_key", "unsigned (no signing key) and not encrypted",
	        unknown, m->vmta, v))
		return;
	if (m->pol.encrypt && collect_recips(m) != 0) {
		snprintf(v->text, sizeof(v->text), "out of memory, try again later");
		eoh_refuse(v, &m->conf->replies.on_error, "internal",
		    "out of memory building the recipient list");
	}
}

/*
 * Mode monitor: v is what would have been done.  It is remembered, logged
 * and counted as that, and replaced by what is done: the message passes
 * untouched, or goes on to its end without its body when monitor-header
 * asks for X-SMIME-Milter-Would there.
 */
static void
monitor_verdict(struct decide_msg *m, struct decide_verdict *v)
{
	const char *what = v->reply.d == DECIDE_CONTINUE
	    ? decide_protection_name(m->pol.sign, m->pol.encrypt)
	    : v->reply.d == DECIDE_PASS   ? "passed"
	    : v->reply.d == DECIDE_REJECT ? "reject"
	                                  : "tempfail";

	m->would_outcome = what;
	m->would_why = v->reply.d == DECIDE_CONTINUE ? NULL : v->why;
	if (v->reply.d == DECIDE_CONTINUE)
		decide_log(m, LOG_INFO, "not applied: would have %s the message",
		    m->pol.sign && m->pol.encrypt ? "signed and encrypted"
		        : m->pol.sign             ? "signed"
		                                  : "encrypted");
	else if (v->log[0] != '\0')
		decide_log(m, v->level, "not applied: %s", v->log);
	memset(v, 0, sizeof(*v));
	if (m->conf->monitor_header) {
		decide_would_header(m, m->would_header, sizeof(m->would_header));
		return; /* to the end of the message, where the header can be added */
	}
	v->reply.d = DECIDE_PASS;
	v->why = "monitor";
	v->level = LOG_INFO;
}

/* Mode monitor, every recipient would have been refused: so would the message. */
static void
monitor_all_refused(const struct decide_msg *m, struct decide_verdict *v)
{
	int tempfail = 0;
	size_t i;

	for (i = 0; i < m->nrcpt; i++)
		tempfail |= m->rcpts[i].would.d == DECIDE_TEMPFAIL;
	memset(v, 0, sizeof(*v));
	v->reply.d = tempfail ? DECIDE_TEMPFAIL : DECIDE_REJECT;
	v->why = "recipients";
	v->level = LOG_NOTICE;
	snprintf(v->log, sizeof(v->log), "%s: every recipient would have been refused",
	    tempfail ? "tempfail" : "rejected");
}

/* The MIME structure limits for the body to come (mimescan.h).  0, or -1 (out of memory). */
static int
body_scanner(struct decide_msg *m)
{
	const struct conf *c = m->conf;
	const struct mimescan_limits lim = {c->max_mime_depth, c->max_mime_parts, c->max_headers,
	    c->max_header_line};
	const struct mime_header *ct = mime_headers_find(&m->headers, "Content-Type");
	const struct mime_header *cte = mime_headers_find(&m->headers, "Content-Transfer-Encoding");

	m->scan =
	    mimescan_new(&lim, ct != NULL ? ct->value : NULL, cte != NULL ? cte->value : NULL);
	return m->scan != NULL ? 0 : -1;
}

void
decide_end_of_headers(struct decide_msg *m, struct decide_verdict *v)
{
	const struct mime_header *ct = mime_headers_find(&m->headers, "Content-Type");
	size_t i, in_view = 0;

	memset(v, 0, sizeof(*v));
	m->monitor = !m->harvest && decide_all_monitor(m);
	for (i = 0; i < m->nrcpt; i++)
		in_view += decide_rcpt_in_view(m, &m->rcpts[i]);
	if (m->harvest) {
		if (ct == NULL || !harvest_is_signed_type(ct->value))
			eoh_pass(v, "external",
			    "passed from outside; not harvested: not an S/MIME signed message");
	} else if (ct != NULL && mime_is_protected_type(ct->value)) {
		eoh_pass(v, "already_protected", "passed: already S/MIME or PGP/MIME");
	} else if (m->monitor && in_view == 0) {
		monitor_all_refused(m, v);
	} else {
		decide_message(m, v);
	}
	if (m->monitor)
		monitor_verdict(m, v);
	if (v->reply.d != DECIDE_CONTINUE || m->monitor) {
		decide_note_end(m, v);
		return;
	}
	m->body = spool_new(m->conf->spool_memory, m->conf->spool_dir);
	if (m->body == NULL) {
		decide_verdict_fail(v, m->conf, "out of memory, try again later", "spool");
		decide_note_end(m, v);
		return;
	}
	mime_canon_init(&m->canon);
	if (!m->harvest && body_scanner(m) != 0) {
		decide_verdict_fail(v, m->conf, "out of memory, try again later", "MIME scanner");
		decide_note_end(m, v);
	}
}
