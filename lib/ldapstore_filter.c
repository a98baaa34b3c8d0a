/*
 * ldapstore_filter.c - the search filters of the LDAP certificate store:
 * RFC 4515 escaping of the address, the ldap-filter template, and a cheap
 * syntax check.  See ldapstore.h.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ldapstore.h"
#include "errmsg.h"

int
ldapstore_escape(const char *value, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)value[i];
		if (ch == '*' || ch == '(' || ch == ')' || ch == '\\' || ch == '\0') {
			if (o + 3 >= outlen)
				return -1;
			snprintf(out + o, 4, "\\%02x", ch);
			o += 3;
		} else {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = (char)ch;
		}
	}
	if (o >= outlen)
		return -1;
	out[o] = '\0';
	return 0;
}

int
ldapstore_filter(const char *tmpl, const char *addr, char *out, size_t outlen, char *err,
    size_t errlen)
{
	char esc[3 * 320 + 1];
	size_t o = 0, el;
	const char *p;
	int subst = 0;

	if (ldapstore_escape(addr, strlen(addr), esc, sizeof(esc)) != 0) {
		errmsg_set(err, errlen, "address too long for an LDAP filter");
		return -1;
	}
	el = strlen(esc);
	for (p = tmpl; *p != '\0'; p++) {
		if (*p == '%' && p[1] == 's') {
			if (o + el >= outlen)
				goto too_long;
			memcpy(out + o, esc, el);
			o += el;
			p++;
			subst++;
			continue;
		}
		if (*p == '%' && p[1] != '%') {
			errmsg_set(err, errlen, "filter \"%s\": only %%s and %%%% may follow %%",
			    tmpl);
			return -1;
		}
		if (*p == '%')
			p++;
		if (o + 1 >= outlen)
			goto too_long;
		out[o++] = *p;
	}
	out[o] = '\0';
	if (subst == 0) {
		errmsg_set(err, errlen, "filter \"%s\" has no %%s for the address", tmpl);
		return -1;
	}
	return 0;
too_long:
	errmsg_set(err, errlen, "filter \"%s\" is too long with the address", tmpl);
	return -1;
}

int
ldapstore_filter_balanced(const char *f)
{
	const char *start = f;
	int depth = 0;

	if (*f != '(')
		return 0;
	for (; *f != '\0'; f++) {
		if (*f == '\\' && f[1] != '\0') {
			f++;
			continue;
		}
		if (depth == 0 && f != start)
			return 0; /* text after the closing parenthesis */
		if (*f == '(')
			depth++;
		else if (*f == ')')
			depth--;
	}
	return depth == 0;
}
