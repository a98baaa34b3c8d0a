/*
 * conf_ldap.c - the hooks of the ldap-* keywords of smime-milter.conf (the
 * directory of recipient certificates, see ldapstore.h: a URI, a base DN,
 * a filter that expands) and the checks that need the whole file:
 * ldap-uri needs ldap-base, a bind DN needs a password file.
 * The store is made here, not connected: a directory that is down does
 * not stop the milter from starting, its lookups tempfail.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conf_int.h"
#include "ldapstore.h"

int
conf_ldap_uri(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const struct conf_keyword *k, const struct conf_value *v)
{
	(void)c;
	(void)ps;
	if (strncasecmp(v->word, "ldap://", 7) != 0 && strncasecmp(v->word, "ldaps://", 8) != 0 &&
	    strncasecmp(v->word, "ldapi://", 8) != 0) {
		conf_error(p, "%s \"%s\": expected ldap://HOST[:PORT], ldaps://... or ldapi://...",
		    k->name, v->word);
		return -1;
	}
	return 0;
}

int
conf_ldap_filter(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const struct conf_keyword *k, const struct conf_value *v)
{
	char out[1024], err[512];

	(void)c;
	(void)ps;
	if (ldapstore_filter(v->word, "a@b.example", out, sizeof(out), err, sizeof(err)) != 0) {
		conf_error(p, "%s: %s", k->name, err);
		return -1;
	}
	return 0;
}

/* The LDAP directory: settings that go together, then the store (not connected yet). */
void
conf_ldap_finish(struct conf_parse *p, struct conf *c)
{
	struct ldapstore_options o = {c->ldap_uri, c->ldap_base, c->ldap_filter, c->ldap_bind_dn,
	    c->ldap_password_file, c->ldap_timeout, c->ldap_cache_ttl, c->ldap_negative_ttl};
	char why[512];

	if (c->ldap_uri == NULL) {
		if (c->ldap_base != NULL || c->ldap_filter != NULL || c->ldap_bind_dn != NULL ||
		    c->ldap_password_file != NULL)
			conf_error(p,
			    "ldap-base, ldap-filter, ldap-bind-dn and ldap-password-file need "
			    "ldap-uri");
		return;
	}
	if (c->ldap_base == NULL) {
		p->line = c->lines.ldap_uri;
		conf_error(p, "ldap-uri needs ldap-base");
		p->line = 0;
		return;
	}
	if ((c->ldap_bind_dn == NULL) != (c->ldap_password_file == NULL)) {
		conf_error(p, "ldap-bind-dn and ldap-password-file go together");
		return;
	}
	if (p->errors > 0)
		return;
	c->ldap = ldapstore_open(&o, why, sizeof(why));
	if (c->ldap == NULL)
		conf_error(p, "%s", why);
}
