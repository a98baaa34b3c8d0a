/*
 * conf_ldap.c - the ldap-* keywords of smime-milter.conf (the directory of
 * recipient certificates, see ldapstore.h) and the checks that need the
 * whole file: ldap-uri needs ldap-base, a bind DN needs a password file.
 * The store is made here, not connected: a directory that is down does
 * not stop the milter from starting, its lookups tempfail.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "conf_int.h"
#include "ldapstore.h"

int
kw_ldap_uri(struct conf_parse *p, struct conf *c, struct policy_settings *ps, const char *kw,
    char **w, int n)
{
	(void)ps;
	if (conf_set_string(p, &c->ldap_uri, kw, w, n) != 0)
		return -1;
	p->ldap_uri_line = p->line;
	if (strncasecmp(w[0], "ldap://", 7) != 0 && strncasecmp(w[0], "ldaps://", 8) != 0 &&
	    strncasecmp(w[0], "ldapi://", 8) != 0) {
		conf_error(p, "%s \"%s\": expected ldap://HOST[:PORT], ldaps://... or ldapi://...", kw,
		    w[0]);
		return -1;
	}
	return 0;
}

int
kw_ldap_base(struct conf_parse *p, struct conf *c, struct policy_settings *ps, const char *kw,
    char **w, int n)
{
	(void)ps;
	if (conf_set_string(p, &c->ldap_base, kw, w, n) != 0)
		return -1;
	if (strchr(w[0], '=') == NULL) {
		conf_error(p, "%s \"%s\": not a DN (e.g. dc=example,dc=com)", kw, w[0]);
		return -1;
	}
	return 0;
}

int
kw_ldap_filter(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	char out[1024], err[512];

	(void)ps;
	if (conf_set_string(p, &c->ldap_filter, kw, w, n) != 0)
		return -1;
	if (ldapstore_filter(w[0], "a@b.example", out, sizeof(out), err, sizeof(err)) != 0) {
		conf_error(p, "%s: %s", kw, err);
		return -1;
	}
	return 0;
}

int
kw_ldap_bind_dn(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	(void)ps;
	return conf_set_string(p, &c->ldap_bind_dn, kw, w, n);
}

int
kw_ldap_password_file(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	(void)ps;
	return conf_set_private_file(p, &c->ldap_password_file, kw, w, n);
}

int
kw_ldap_timeout(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	(void)ps;
	return conf_parse_count(p, kw, w, n, "seconds", 1, 300, &c->ldap_timeout);
}

int
kw_ldap_cache_ttl(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	(void)ps;
	return conf_parse_count(p, kw, w, n, "seconds", 0, 86400, &c->ldap_cache_ttl);
}

int
kw_ldap_negative_ttl(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	(void)ps;
	return conf_parse_count(p, kw, w, n, "seconds", 0, 86400, &c->ldap_negative_ttl);
}

/* The LDAP directory: settings that go together, then the store (not connected yet). */
void
conf_finish_ldap(struct conf_parse *p, struct conf *c)
{
	struct ldapstore_options o = {c->ldap_uri, c->ldap_base, c->ldap_filter, c->ldap_bind_dn,
		c->ldap_password_file, c->ldap_timeout, c->ldap_cache_ttl, c->ldap_negative_ttl};
	char why[512];

	if (c->ldap_uri == NULL) {
		if (c->ldap_base != NULL || c->ldap_filter != NULL || c->ldap_bind_dn != NULL ||
		    c->ldap_password_file != NULL)
			conf_error(p, "ldap-base, ldap-filter, ldap-bind-dn and ldap-password-file need "
			              "ldap-uri");
		return;
	}
	if (c->ldap_base == NULL) {
		p->line = p->ldap_uri_line;
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
