/*
 * conf_inbound.c - the keywords of the receiving side (mail from
 * outside, see inbound.h): decrypt, verify, unwrap-opaque,
 * on-undecryptable, decryption-key, decryption-key-dir in the policy
 * scopes; harvest-ldap and harvest-ldap-base globally; and the checks
 * that need the whole file.
 */
#include "config.h"

#include <string.h>

#include "conf_int.h"
#include "keystore.h"

/* A gateway key file must load now, with its certificate; a pkcs11: URI is checked when used. */
int
conf_inbound_decryption_key(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const struct conf_keyword *k, const struct conf_value *v)
{
	struct keystore_request req = {.spec = v->word, .passphrase_file = c->key_passphrase_file};
	struct keystore_identity id;
	char err[600];

	(void)ps;
	if (strncmp(v->word, "pkcs11:", 7) == 0)
		return 0;
	memset(&id, 0, sizeof(id));
	if (keystore_load(&req, &id, err, sizeof(err)) != KEYSTORE_FOUND) {
		conf_error(p, "%s %s: %s", k->name, v->word, err);
		keystore_identity_free(&id);
		return -1;
	}
	keystore_identity_free(&id);
	return 0;
}

/* What the scopes of the receiving side ask for, over the whole policy. */
struct inbound_needs {
	int decrypt, verify, keys;
};

static int
scope_needs(void *arg, const struct policy_scope *scope, const struct policy_settings *s)
{
	struct inbound_needs *nd = arg;

	(void)scope;
	nd->decrypt |= (s->set & POLICY_DECRYPT) && s->decrypt;
	nd->verify |= (s->set & POLICY_VERIFY) && s->verify;
	nd->keys |= (s->set & (POLICY_DECRYPTION_KEY | POLICY_DECRYPTION_KEY_DIR)) != 0;
	return 0;
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
conf_inbound_finish(struct conf_parse *p, struct conf *c)
{
	struct inbound_needs nd = {0, 0, 0};

	(void)policy_foreach_scope(&c->policy, scope_needs, &nd);
	c->inbound = nd.decrypt || nd.verify;
	if (nd.decrypt && !nd.keys)
		conf_error(p, "decrypt is on but no decryption-key or decryption-key-dir is set");
	if (nd.verify && c->ca_file == NULL)
		conf_error(p, "verify needs ca-file (the CAs that signers must chain to)");
	if (nd.verify && c->authserv_id == NULL)
		conf_error(p, "verify needs authserv-id (the name in Authentication-Results)");
	if (c->authserv_id != NULL && !authserv_id_ok(c->authserv_id))
		conf_error(p, "authserv-id \"%s\": not a token (no spaces, quotes or ;)",
		    c->authserv_id);
	if (c->harvest_ldap_base != NULL && !c->harvest_ldap)
		conf_error(p, "harvest-ldap-base needs harvest-ldap yes");
	if (!c->harvest_ldap)
		return;
	if (c->ldap_uri == NULL)
		conf_error(p, "harvest-ldap needs ldap-uri and ldap-base");
	else if (c->ldap_bind_dn == NULL)
		conf_error(p,
		    "harvest-ldap needs ldap-bind-dn and ldap-password-file: the directory "
		    "must know who writes");
	if (!c->harvest_trust_any && c->ca_file == NULL)
		conf_error(p, "harvest-ldap needs ca-file (or harvest-trust any)");
}
