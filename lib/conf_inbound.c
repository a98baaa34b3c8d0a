/*
 * conf_inbound.c - the keywords of the receiving side (mail from
 * outside, see inbound.h): decrypt, verify, unwrap-opaque,
 * on-undecryptable, decryption-key, decryption-key-dir in the policy
 * scopes; harvest-ldap and harvest-ldap-base globally; and the checks
 * that need the whole file.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_int.h"
#include "keystore.h"
#include "log.h"

static int
set_flag(struct conf_parse *p, struct policy_settings *ps, unsigned bit, int *dst,
    const char *kw, char **w, int n)
{
	if (conf_parse_bool(p, kw, w, n, dst) != 0)
		return -1;
	ps->set |= bit;
	return 0;
}

int
kw_decrypt(struct conf_parse *p, struct conf *c, struct policy_settings *ps, const char *kw,
    char **w, int n)
{
	(void)c;
	return set_flag(p, ps, POLICY_DECRYPT, &ps->decrypt, kw, w, n);
}

int
kw_verify(struct conf_parse *p, struct conf *c, struct policy_settings *ps, const char *kw,
    char **w, int n)
{
	(void)c;
	return set_flag(p, ps, POLICY_VERIFY, &ps->verify, kw, w, n);
}

int
kw_unwrap_opaque(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	(void)c;
	return set_flag(p, ps, POLICY_UNWRAP_OPAQUE, &ps->unwrap_opaque, kw, w, n);
}

int
kw_on_undecryptable(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	(void)c;
	if (conf_one_word(p, kw, n) != 0)
		return -1;
	if (strcasecmp(w[0], "pass") == 0)
		ps->on_undecryptable = POLICY_UNDECRYPTABLE_PASS;
	else if (strcasecmp(w[0], "tempfail") == 0)
		ps->on_undecryptable = POLICY_UNDECRYPTABLE_TEMPFAIL;
	else if (strcasecmp(w[0], "reject") == 0)
		ps->on_undecryptable = POLICY_UNDECRYPTABLE_REJECT;
	else {
		conf_error(p, "%s: \"%s\" is not pass, tempfail or reject", kw, w[0]);
		return -1;
	}
	ps->set |= POLICY_ON_UNDECRYPTABLE;
	return 0;
}

/* A gateway key: a private PEM file with its certificate (loaded now), or a pkcs11: URI. */
int
kw_decryption_key(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	struct keystore_identity id;
	struct keystore_options ko = {c->key_passphrase_file};
	char err[600];

	ps->set |= POLICY_DECRYPTION_KEY;
	ps->decryption_key_line = p->line;
	if (n == 1 && strncmp(w[0], "pkcs11:", 7) == 0)
		return conf_set_string(p, &ps->decryption_key, kw, w, n); /* checked when used */
	if (conf_set_private_file(p, &ps->decryption_key, kw, w, n) != 0)
		return -1;
	memset(&id, 0, sizeof(id));
	if (keystore_load_spec(w[0], NULL, &ko, &id, err, sizeof(err)) != KEYSTORE_FOUND) {
		conf_error(p, "%s %s: %s", kw, w[0], err);
		keystore_identity_free(&id);
		return -1;
	}
	keystore_identity_free(&id);
	return 0;
}

int
kw_decryption_key_dir(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	(void)c;
	ps->set |= POLICY_DECRYPTION_KEY_DIR;
	ps->decryption_key_dir_line = p->line;
	return conf_set_dir(p, &ps->decryption_key_dir, kw, w, n);
}

int
kw_harvest_ldap(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	(void)ps;
	return conf_parse_bool(p, kw, w, n, &c->harvest_ldap);
}

int
kw_harvest_ldap_base(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	(void)ps;
	if (conf_set_string(p, &c->harvest_ldap_base, kw, w, n) != 0)
		return -1;
	if (strchr(w[0], '=') == NULL) {
		conf_error(p, "%s \"%s\": not a DN (e.g. ou=harvested,dc=example,dc=com)", kw, w[0]);
		return -1;
	}
	return 0;
}

/* What the scopes of the receiving side ask for, over the whole policy. */
struct inbound_needs {
	int decrypt, verify, keys;
};

static void
scope_needs(struct inbound_needs *nd, const struct policy_settings *s)
{
	nd->decrypt |= (s->set & POLICY_DECRYPT) && s->decrypt;
	nd->verify |= (s->set & POLICY_VERIFY) && s->verify;
	nd->keys |= (s->set & (POLICY_DECRYPTION_KEY | POLICY_DECRYPTION_KEY_DIR)) != 0;
}

static void
policy_needs(struct inbound_needs *nd, const struct policy *pol)
{
	size_t i, j;

	scope_needs(nd, &pol->global);
	for (i = 0; i < pol->ndomains; i++)
		scope_needs(nd, &pol->domains[i].s);
	for (i = 0; i < pol->nvmtas; i++) {
		scope_needs(nd, &pol->vmtas[i].s);
		for (j = 0; j < pol->vmtas[i].ndomains; j++)
			scope_needs(nd, &pol->vmtas[i].domains[j].s);
	}
}

/* An authserv-id goes into header fields: a token (RFC 8601 2.2). */
static int
authserv_id_ok(const char *id)
{
	for (; *id != '\0'; id++)
		if (*id <= 0x20 || *id >= 0x7f || strchr("()<>@,;:\\\"/[]?=", *id) != NULL)
			return 0;
	return 1;
}

void
conf_finish_inbound(struct conf_parse *p, struct conf *c)
{
	struct inbound_needs nd = {0, 0, 0};

	policy_needs(&nd, &c->policy);
	c->inbound = nd.decrypt || nd.verify;
	if (nd.decrypt && !nd.keys)
		conf_error(p, "decrypt is on but no decryption-key or decryption-key-dir is set");
	if (nd.verify && c->ca_file == NULL)
		conf_error(p, "verify needs ca-file (the CAs that signers must chain to)");
	if (nd.verify && c->authserv_id == NULL)
		conf_error(p, "verify needs authserv-id (the name in Authentication-Results)");
	if (c->authserv_id != NULL && !authserv_id_ok(c->authserv_id))
		conf_error(p, "authserv-id \"%s\": not a token (no spaces, quotes or ;)", c->authserv_id);
	if (c->harvest_ldap_base != NULL && !c->harvest_ldap)
		conf_error(p, "harvest-ldap-base needs harvest-ldap yes");
	if (!c->harvest_ldap)
		return;
	if (c->ldap_uri == NULL)
		conf_error(p, "harvest-ldap needs ldap-uri and ldap-base");
	else if (c->ldap_bind_dn == NULL)
		conf_error(p, "harvest-ldap needs ldap-bind-dn and ldap-password-file: the directory "
		              "must know who writes");
	if (!c->harvest_trust_any && c->ca_file == NULL)
		conf_error(p, "harvest-ldap needs ca-file (or harvest-trust any)");
}
