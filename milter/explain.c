/*
 * explain.c - smime-milter -t: the policy explainer.  A message from FROM
 * to each RCPT goes through the stages of decide.h as the milter would
 * take it (MAIL FROM, each RCPT, the From:, To: and virtual MTA headers,
 * the end of the headers); nothing is sent and no body is made.  Printed:
 * per recipient the effective settings with the scope each came from, the
 * certificate that would be used and why the others of that address were
 * not, and the RCPT reply; then the message's combined settings, its
 * signing identity and what would become of it, in the words of the
 * summary line (action=..., the names of the metrics).
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/x509.h>

#include "certstore.h"
#include "conf.h"
#include "decide.h"
#include "explain.h"
#include "keystore.h"

/* ---- settings and where they come from ---- */

static const char *
yn(int v)
{
	return v ? "yes" : "no";
}

/* A cipher or digest name as smime-milter.conf spells it. */
static const char *
lower(const char *name, char *buf, size_t len)
{
	size_t i;

	for (i = 0; name[i] != '\0' && i + 1 < len; i++)
		buf[i] = (char)tolower((unsigned char)name[i]);
	buf[i] = '\0';
	return buf;
}

/* The value of one setting of s, as the keyword would say it. */
static const char *
setting_value(const struct policy_settings *s, unsigned bit, char *buf, size_t len)
{
	static const char *const mk[] = {"tempfail", "reject", "unsigned"};

	switch (bit) {
	case POLICY_SIGN: return yn(s->sign);
	case POLICY_ENCRYPT: return yn(s->encrypt);
	case POLICY_MISSING_CERT: return policy_missing_cert_name(s->missing_cert);
	case POLICY_MISSING_KEY: return mk[s->missing_key];
	case POLICY_CIPHER: return lower(EVP_CIPHER_get0_name(s->cipher), buf, len);
	case POLICY_DIGEST: return lower(EVP_MD_get0_name(s->digest), buf, len);
	case POLICY_KEY_TRANSPORT:
		return s->key_transport == SMIME_KT_RSA_OAEP ? "rsa-oaep" : "rsa-pkcs1";
	case POLICY_SIGNATURE: return s->signature == SMIME_SIG_RSA_PSS ? "rsa-pss" : "rsa-pkcs1";
	case POLICY_SIGN_FORMAT: return s->sign_format == SMIME_SIGN_OPAQUE ? "opaque" : "detached";
	case POLICY_HEADER_PROTECTION: return yn(s->header_protection);
	case POLICY_HIDE_SUBJECT: return yn(s->hide_subject);
	case POLICY_ENCRYPT_TO_SENDER: return yn(s->encrypt_to_sender);
	case POLICY_DOMAIN_CERT: return s->domain_cert != NULL ? s->domain_cert : "none";
	case POLICY_MODE: return s->mode == POLICY_MODE_MONITOR ? "monitor" : "enforce";
	default: return "?";
	}
}

static const struct {
	const char *keyword;
	unsigned bit;
} settings[] = {
    {"mode", POLICY_MODE},
    {"sign", POLICY_SIGN},
    {"encrypt", POLICY_ENCRYPT},
    {"missing-cert", POLICY_MISSING_CERT},
    {"missing-key", POLICY_MISSING_KEY},
    {"cipher", POLICY_CIPHER},
    {"digest", POLICY_DIGEST},
    {"key-transport", POLICY_KEY_TRANSPORT},
    {"signature", POLICY_SIGNATURE},
    {"sign-format", POLICY_SIGN_FORMAT},
    {"header-protection", POLICY_HEADER_PROTECTION},
    {"hide-subject", POLICY_HIDE_SUBJECT},
    {"encrypt-to-sender", POLICY_ENCRYPT_TO_SENDER},
    {"domain-cert", POLICY_DOMAIN_CERT},
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static void
print_settings(FILE *out, const struct decide_rcpt *r)
{
	char scope[300], val[64];
	size_t i;
	int o;

	for (i = 0; i < NSETTINGS; i++) {
		o = policy_origin(&r->match, settings[i].bit);
		if (o < 0)
			snprintf(scope, sizeof(scope), "default");
		else
			policy_scope_name(r->match.scope[o], o == 3 ? r->match.scope[1] : NULL,
			    scope, sizeof(scope));
		fprintf(out, "  %-18s %-14s from %s\n", settings[i].keyword,
		    setting_value(&r->s, settings[i].bit, val, sizeof(val)), scope);
	}
}

/* ---- certificates ---- */

static void
print_cert(FILE *out, const char *indent, X509 *x)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL, until[32], subject[512];

	certstore_time(X509_get0_notAfter(x), 0, until, sizeof(until));
	X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
	fprintf(out, "%sserial %s, issuer hash %08lx, until %s, %s\n", indent, hex ? hex : "?",
	    X509_issuer_name_hash(x), until, subject);
	OPENSSL_free(hex);
	BN_free(bn);
}

struct others {
	FILE *out;
	const char *addr;
	X509 *chosen;
};

/* certindex_visit_fn: the other certificates indexed under the address, and why not them. */
static void
print_other(void *arg, const char *addr, X509 *cert, const char *file, int usable,
    const char *reason)
{
	struct others *o = arg;
	char when[32];

	if (strcasecmp(addr, o->addr) != 0 || (o->chosen != NULL && X509_cmp(cert, o->chosen) == 0))
		return;
	certstore_time(X509_get0_notBefore(cert), 1, when, sizeof(when));
	if (!usable)
		fprintf(o->out, "    not chosen: %s: %s\n", file, reason);
	else
		fprintf(o->out,
		    "    not chosen: %s: usable, but its notBefore %s is not the latest\n", file,
		    when);
}

static void
print_certificate(FILE *out, const struct conf *c, const struct decide_rcpt *r)
{
	struct others o = {out, r->addr, r->cert};

	if (r->cert != NULL) {
		fprintf(out, "  certificate        from %s\n", r->source);
		print_cert(out, "    ", r->cert);
	} else {
		fprintf(out, "  certificate        none (%s): %s\n", decide_rcpt_reason(r),
		    r->reason);
	}
	if (c->certs != NULL)
		certindex_foreach(c->certs, print_other, &o);
}

/* ---- the message ---- */

static const char *const class_names[] = {"encrypt", "either (has a certificate)", "clear",
    "reject", "tempfail"};

/*
 * One RCPT: what is found for it (under the header's virtual MTA vmta, if
 * any), then the reply the milter would give; 1 when refused.
 */
static int
explain_rcpt(FILE *out, struct decide_msg *m, const char *addr, const char *vmta)
{
	struct decide_rcpt r;
	struct decide_verdict v;
	char arg[DECIDE_ADDR_MAX + 2];

	fprintf(out, "recipient <%s>\n", addr);
	if (vmta != NULL)
		fprintf(out,
		    "  (settings for virtual MTA %s, named in the header: the RCPT reply is "
		    "decided without it, the message again with it at the end of the headers)\n",
		    vmta);
	decide_rcpt_lookup(m, addr, vmta, &r);
	if (r.domain != NULL) {
		print_settings(out, &r);
		print_certificate(out, m->conf, &r);
		fprintf(out, "  needs              %s\n", class_names[r.cls]);
	}
	X509_free(r.cert);
	snprintf(arg, sizeof(arg), "<%s>", addr);
	decide_recipient(m, arg, &v);
	if (v.log[0] != '\0')
		fprintf(out, "  log                %s\n", v.log);
	if (v.reply.d == DECIDE_REJECT || v.reply.d == DECIDE_TEMPFAIL) {
		fprintf(out, "rcpt <%s>: %s %s %s\n", addr, v.reply.code, v.reply.xcode, v.text);
		return 1;
	}
	fprintf(out, "rcpt <%s>: 250 accepted%s\n", addr,
	    v.reply.d == DECIDE_PASS ? ", the message passes untouched" : "");
	return v.reply.d == DECIDE_PASS ? -1 : 0;
}

/* The message's settings and signing identity, once the end of its headers is decided. */
static void
explain_message(FILE *out, const struct decide_msg *m)
{
	const struct policy_settings *p = &m->pol;
	char buf[64], shown[1024];

	fprintf(out,
	    "message settings   sign %s, encrypt %s, cipher %s, digest %s, key-transport %s,"
	    " signature %s, sign-format %s, header-protection %s, hide-subject %s\n",
	    yn(p->sign), yn(p->encrypt), lower(EVP_CIPHER_get0_name(p->cipher), buf, sizeof(buf)),
	    setting_value(p, POLICY_DIGEST, shown, sizeof(shown)),
	    setting_value(p, POLICY_KEY_TRANSPORT, NULL, 0),
	    setting_value(p, POLICY_SIGNATURE, NULL, 0),
	    setting_value(p, POLICY_SIGN_FORMAT, NULL, 0), yn(p->header_protection),
	    yn(p->hide_subject));
	if (m->sender_scope != NULL)
		fprintf(out, "sender block       <sender %s>\n", m->sender_scope->pattern);
	if (p->sign && m->signer.cert != NULL) {
		if (p->signing_key != NULL)
			keystore_spec_display(p->signing_key, shown, sizeof(shown));
		else
			snprintf(shown, sizeof(shown), "%s/%s.pem", m->conf->key_dir,
			    m->signer_addr);
		fprintf(out, "signing identity   <%s>: %s\n", m->signer_addr, shown);
		print_cert(out, "    ", m->signer.cert);
	}
	if (p->encrypt && m->recips != NULL)
		fprintf(out, "encrypted to       %d certificate%s\n", sk_X509_num(m->recips),
		    sk_X509_num(m->recips) == 1 ? "" : "s");
}

/* The headers the MTA would pass: From:, To:, the virtual MTA header. */
static int
explain_headers(struct decide_msg *m, const struct explain_options *o, int n, char **addrs)
{
	struct decide_verdict v;
	char from[DECIDE_ADDR_MAX + 2], to[2048] = "";
	size_t used = 0;
	int i;

	snprintf(from, sizeof(from), "<%s>", addrs[0]);
	for (i = 1; i < n && used + strlen(addrs[i]) + 5 < sizeof(to); i++)
		used += (size_t)snprintf(to + used, sizeof(to) - used, "%s<%s>", i > 1 ? ", " : "",
		    addrs[i]);
	decide_header(m, "From", from, &v);
	if (v.reply.d == DECIDE_CONTINUE)
		decide_header(m, "To", to, &v);
	if (v.reply.d == DECIDE_CONTINUE && o->vmta_header != NULL)
		decide_header(m, m->conf->vmta_header, o->vmta_header, &v);
	return v.reply.d == DECIDE_CONTINUE ? 0 : -1;
}

/* The end of the headers and what becomes of the message; the exit code. */
static int
explain_end(FILE *out, struct decide_msg *m, int refused)
{
	struct decide_verdict v;

	decide_end_of_headers(m, &v);
	if (v.log[0] != '\0')
		fprintf(out, "log                %s\n", v.log);
	if (m->monitor)
		fprintf(out, "mode monitor       would: %s%s%s; X-SMIME-Milter-Would: %s\n",
		    m->would_outcome ? m->would_outcome : "?", m->would_why ? " " : "",
		    m->would_why ? m->would_why : "",
		    m->conf->monitor_header ? m->would_header : "(off)");
	if (v.reply.d == DECIDE_CONTINUE && !m->monitor) {
		explain_message(out, m);
		fprintf(out, "action=%s\n",
		    m->pol.sign && m->pol.encrypt ? "signed_encrypted"
		        : m->pol.sign             ? "signed"
		                                  : "encrypted");
		return refused ? EXPLAIN_REFUSED : EXPLAIN_PROTECTED;
	}
	if (v.reply.d == DECIDE_REJECT || v.reply.d == DECIDE_TEMPFAIL) {
		fprintf(out, "action=%s reason=%s reply=\"%s %s %s\"\n",
		    v.reply.d == DECIDE_REJECT ? "reject" : "tempfail", v.why ? v.why : "other",
		    v.reply.code, v.reply.xcode, v.text);
		return EXPLAIN_REFUSED;
	}
	fprintf(out, "action=passed reason=%s\n", m->monitor ? "monitor" : v.why ? v.why : "other");
	return refused ? EXPLAIN_REFUSED : EXPLAIN_PLAIN;
}

static void
report(void *arg, const char *msg)
{
	fprintf(arg, "%s\n", msg);
}

int
explain_run(const char *path, const struct explain_options *o, int n, char **addrs, FILE *out)
{
	struct conf *c = NULL;
	struct decide_msg *m;
	struct decide_verdict v;
	char arg[DECIDE_ADDR_MAX + 2];
	int i, rc, refused = 0, accepted = 0;
	int external = o->client != NULL && strcmp(o->client, "external") == 0;

	if (conf_load(path, &c, report, stderr) != 0)
		return EXPLAIN_USAGE;
	m = decide_msg_new(c, 0);
	if (m == NULL)
		return EXPLAIN_USAGE;
	snprintf(arg, sizeof(arg), "<%s>", addrs[0]);
	decide_msg_set_sender(m, arg);
	fprintf(out, "message from <%s>, client %s%s%s%s%s\n", addrs[0],
	    o->client ? o->client : "internal", o->vmta_header ? ", virtual MTA header " : "",
	    o->vmta_header ? o->vmta_header : "", o->daemon_name ? ", virtual MTA macro " : "",
	    o->daemon_name ? o->daemon_name : "");
	/* an internal client and an authenticated one are alike to the policy */
	decide_client(m, NULL, !external, o->daemon_name, &v);
	if (v.reply.d == DECIDE_PASS || m->harvest) {
		fprintf(out, "%saction=passed reason=%s\n",
		    m->harvest ? "from outside: looked at only "
		                 "for a signer's certificate to harvest (harvest-dir)\n"
		               : "",
		    m->harvest ? "external" : v.why);
		decide_msg_free(m);
		return EXPLAIN_PLAIN;
	}
	for (i = 1; i < n; i++) {
		rc = explain_rcpt(out, m, addrs[i], o->vmta_header);
		if (rc < 0) {
			fprintf(out, "action=passed reason=external\n");
			decide_msg_free(m);
			return EXPLAIN_PLAIN;
		}
		refused += rc;
		accepted += rc == 0;
	}
	if (accepted == 0) {
		int tempfail = 0;
		size_t j;
		for (j = 0; j < m->nrefused; j++)
			tempfail |= m->refused[j].reply.d == DECIDE_TEMPFAIL;
		fprintf(out, "action=%s reason=recipients\n", tempfail ? "tempfail" : "reject");
		rc = EXPLAIN_REFUSED;
	} else if (explain_headers(m, o, n, addrs) != 0) {
		fprintf(out, "action=tempfail reason=internal\n");
		rc = EXPLAIN_REFUSED;
	} else {
		rc = explain_end(out, m, refused);
	}
	decide_msg_free(m);
	return rc;
}
