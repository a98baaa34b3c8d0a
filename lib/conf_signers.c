/*
 * conf_signers.c - the signing identities a configuration names
 * (conf_foreach_signer: every <sender> signing-key with its signing-cert,
 * every key-dir/<address>.pem), for the checks below, the milter's expiry
 * warnings and gauges, and smime-tool certs expiring -c; checked as the
 * milter would check them before signing.
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

int
conf_signer_expires_within(const struct conf *c, X509 *cert, time_t now, char *when, size_t whenlen)
{
	time_t soon = now + (time_t)c->warn_expiry_days * 86400;

	if (X509_cmp_time(X509_get0_notAfter(cert), &soon) >= 0)
		return 0;
	certstore_time(X509_get0_notAfter(cert), 0, when, whenlen);
	return 1;
}

/* conf_signer_fn: validate one identity for its address; warn when it expires soon. */
static void
check_cert(void *arg, const struct conf_signer *s)
{
	struct signer_report *r = arg;
	char why[512], when[32];

	if (certindex_validate_signer(r->c->certs, s->cert, s->chain, s->address, why,
	        sizeof(why)) != 0) {
		report_line(r, 1, s->line, s->what, why);
		return;
	}
	if (conf_signer_expires_within(r->c, s->cert, r->now, when, sizeof(when))) {
		snprintf(why, sizeof(why),
		    "warning: signing certificate expires on %s (within %d days)", when,
		    r->c->warn_expiry_days);
		report_line(r, 0, s->line, s->what, why);
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
visit_sender(const struct conf *c, const struct policy_scope *s, conf_signer_fn fn, void *arg)
{
	struct keystore_identity id;
	const char *cert = (s->s.set & POLICY_SIGNING_CERT) ? s->s.signing_cert : NULL;
	struct keystore_request kq = {.spec = s->s.signing_key,
	    .cert_path = cert,
	    .passphrase_file = c->key_passphrase_file};
	char what[1200], shown[1024], err[512];
	struct conf_signer cs = {what, s->pattern, shown, s->s.signing_key_line, sender_address(s),
	    NULL, NULL};

	keystore_spec_display(s->s.signing_key, shown, sizeof(shown));
	snprintf(what, sizeof(what), "<sender %s> signing-key %s", s->pattern, shown);
	if (strncmp(s->s.signing_key, "pkcs11:", 7) == 0) {
		if (cert == NULL)
			return; /* the token's own certificate: checked when the milter signs */
		cs.cert = certstore_load_file(cert, err, sizeof(err));
		if (cs.cert == NULL)
			return; /* the signing-cert keyword refused it already */
		fn(arg, &cs);
		X509_free(cs.cert);
		return;
	}
	if (keystore_load(&kq, &id, err, sizeof(err)) != KEYSTORE_FOUND)
		return; /* conf_check_runtime says why */
	cs.cert = id.cert;
	cs.chain = id.chain;
	fn(arg, &cs);
	keystore_identity_free(&id);
}

/* key-dir/<address>.pem, unless a <sender> block gives that address another signing-key. */
static void
visit_key_file(const struct conf *c, const char *name, conf_signer_fn fn, void *arg)
{
	const struct policy_scope *s;
	struct keystore_request kq = {.dir = c->key_dir, .passphrase_file = c->key_passphrase_file};
	struct keystore_identity id;
	char addr[320], what[1200], path[1100], err[512];
	size_t len = strlen(name);
	struct conf_signer cs = {what, addr, path, c->lines.key_dir, addr, NULL, NULL};

	if (len <= 4 || len - 4 >= sizeof(addr) || strcmp(name + len - 4, ".pem") != 0)
		return;
	snprintf(addr, sizeof(addr), "%.*s", (int)(len - 4), name);
	if (strchr(addr, '@') == NULL)
		return; /* not an identity file (a CA bundle, say) */
	s = policy_sender_scope(&c->policy, addr);
	if (s != NULL && (s->s.set & POLICY_SIGNING_KEY))
		return;
	snprintf(path, sizeof(path), "%s/%s", c->key_dir, name);
	snprintf(what, sizeof(what), "key-dir %s", path);
	kq.addr = addr;
	if (keystore_load(&kq, &id, err, sizeof(err)) != KEYSTORE_FOUND)
		return; /* conf_check_runtime says why */
	if (s != NULL && (s->s.set & POLICY_SIGNER_ADDRESS_CHECK) && !s->s.signer_address_check)
		cs.address = NULL;
	cs.cert = id.cert;
	cs.chain = id.chain;
	fn(arg, &cs);
	keystore_identity_free(&id);
}

void
conf_foreach_signer(const struct conf *c, conf_signer_fn fn, void *arg)
{
	struct dirent **names = NULL;
	int i, n;

	for (i = 0; i < (int)c->policy.nsenders; i++)
		if (c->policy.senders[i].s.set & POLICY_SIGNING_KEY)
			visit_sender(c, &c->policy.senders[i], fn, arg);
	if (c->key_dir == NULL)
		return;
	n = scandir(c->key_dir, &names, NULL, alphasort);
	if (n < 0)
		return; /* conf_check_runtime says why */
	for (i = 0; i < n; i++) {
		visit_key_file(c, names[i]->d_name, fn, arg);
		free(names[i]);
	}
	free(names);
}

int
conf_check_signers(const struct conf *c, conf_report_fn error, conf_report_fn warn, void *arg)
{
	struct signer_report r = {c, error, warn, arg, time(NULL), 0};

	conf_foreach_signer(c, check_cert, &r);
	return r.errors;
}
