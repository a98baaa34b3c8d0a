/*
 * conf_signers.c - the signing identities a configuration names, checked
 * as the milter would check them before signing: every <sender>
 * signing-key (with its signing-cert) and every key-dir/<address>.pem.
 *
 * An identity whose certificate is outside its validity period, does not allow signing or emailProtection, does not name
 * its address (unless the <sender> says signer-address-check no) or does
 * not chain to ca-file is an error: mail from that address would be
 * tempfailed (or sent unsigned, per missing-key).  A certificate that
 * expires within warn-expiry days is a warning.
 *
 * Keys in a PKCS#11 token are not opened here (that would log in to the
 * token): for them only a signing-cert file is checked.  A key that cannot
 * be loaded at all is left to conf_check_runtime (conf_check.h), which
 * reports it for -n; this file judges what loads.  Validity depends on the
 * date, so these findings never stop the daemon from starting: it logs
 * them at start and after each reload, and mail from such a sender gets
 * the missing-key action.
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "certstore.h"
#include "conf.h"
#include "keystore.h"

struct signer_report {
	const struct conf *c;
	conf_report_fn error, warn;
	void *arg;
	time_t now;
	int errors;
};

static void
report_line(struct signer_report *r, int is_error, int line, const char *what, const char *msg)
{
	char text[2048];

	if (line > 0)
		snprintf(text, sizeof(text), "%s:%d: %s: %s", r->c->file, line, what, msg);
	else
		snprintf(text, sizeof(text), "%s: %s: %s", r->c->file, what, msg);
	if (is_error)
		r->errors++;
	if (is_error ? r->error != NULL : r->warn != NULL)
		(is_error ? r->error : r->warn)(r->arg, text);
}

/* Validate one certificate (and chain) for addr (NULL: any address); warn when it expires soon. */
static void
check_cert(struct signer_report *r, int line, const char *what, X509 *cert, STACK_OF(X509) *chain,
    const char *addr)
{
	char why[512], when[32];
	time_t soon = r->now + (time_t)r->c->warn_expiry_days * 86400;

	if (certindex_validate_signer(r->c->certs, cert, chain, addr, why, sizeof(why)) != 0) {
		report_line(r, 1, line, what, why);
		return;
	}
	if (X509_cmp_time(X509_get0_notAfter(cert), &soon) < 0) {
		certstore_time(X509_get0_notAfter(cert), 0, when, sizeof(when));
		snprintf(why, sizeof(why), "warning: signing certificate expires on %s (within %d days)",
		    when, r->c->warn_expiry_days);
		report_line(r, 0, line, what, why);
	}
}

/* The address a <sender> pattern names, or NULL for a domain pattern or opt-out. */
static const char *
sender_address(const struct policy_scope *s)
{
	if ((s->s.set & POLICY_SIGNER_ADDRESS_CHECK) && !s->s.signer_address_check)
		return NULL;
	return strchr(s->pattern, '@') != NULL ? s->pattern : NULL;
}

static void
check_sender(struct signer_report *r, const struct policy_scope *s)
{
	struct keystore_identity id;
	const char *cert = (s->s.set & POLICY_SIGNING_CERT) ? s->s.signing_cert : NULL;
	struct keystore_request kq = {.spec = s->s.signing_key, .cert_path = cert,
		.passphrase_file = r->c->key_passphrase_file};
	char what[1200], shown[1024], err[512];
	X509 *x;

	keystore_spec_display(s->s.signing_key, shown, sizeof(shown));
	snprintf(what, sizeof(what), "<sender %s> signing-key %s", s->pattern, shown);
	if (strncmp(s->s.signing_key, "pkcs11:", 7) == 0) {
		if (cert == NULL)
			return; /* the token's own certificate: checked when the milter signs */
		x = certstore_load_file(cert, err, sizeof(err));
		if (x == NULL)
			return; /* the signing-cert keyword refused it already */
		check_cert(r, s->s.signing_key_line, what, x, NULL, sender_address(s));
		X509_free(x);
		return;
	}
	if (keystore_load(&kq, &id, err, sizeof(err)) != KEYSTORE_FOUND)
		return; /* conf_check_runtime says why */
	check_cert(r, s->s.signing_key_line, what, id.cert, id.chain, sender_address(s));
	keystore_identity_free(&id);
}

/* key-dir/<address>.pem, unless a <sender> block gives that address another signing-key. */
static void
check_key_file(struct signer_report *r, const char *name)
{
	const struct policy_scope *s;
	struct keystore_request kq = {.dir = r->c->key_dir, .passphrase_file = r->c->key_passphrase_file};
	struct keystore_identity id;
	char addr[320], what[1200], err[512];
	size_t len = strlen(name);

	if (len <= 4 || len - 4 >= sizeof(addr) || strcmp(name + len - 4, ".pem") != 0)
		return;
	snprintf(addr, sizeof(addr), "%.*s", (int)(len - 4), name);
	if (strchr(addr, '@') == NULL)
		return; /* not an identity file (a CA bundle, say) */
	s = policy_sender_scope(&r->c->policy, addr);
	if (s != NULL && (s->s.set & POLICY_SIGNING_KEY))
		return;
	snprintf(what, sizeof(what), "key-dir %s/%s", r->c->key_dir, name);
	kq.addr = addr;
	if (keystore_load(&kq, &id, err, sizeof(err)) != KEYSTORE_FOUND)
		return; /* conf_check_runtime says why */
	check_cert(r, r->c->lines.key_dir, what, id.cert, id.chain,
	    s != NULL && (s->s.set & POLICY_SIGNER_ADDRESS_CHECK) && !s->s.signer_address_check ? NULL
	                                                                                        : addr);
	keystore_identity_free(&id);
}

int
conf_check_signers(const struct conf *c, conf_report_fn error, conf_report_fn warn, void *arg)
{
	struct signer_report r = {c, error, warn, arg, time(NULL), 0};
	struct dirent **names = NULL;
	int i, n;

	for (i = 0; i < (int)c->policy.nsenders; i++)
		if (c->policy.senders[i].s.set & POLICY_SIGNING_KEY)
			check_sender(&r, &c->policy.senders[i]);
	if (c->key_dir == NULL)
		return r.errors;
	n = scandir(c->key_dir, &names, NULL, alphasort);
	if (n < 0)
		return r.errors; /* conf_check_runtime says why */
	for (i = 0; i < n; i++) {
		check_key_file(&r, names[i]->d_name);
		free(names[i]);
	}
	free(names);
	return r.errors;
}
