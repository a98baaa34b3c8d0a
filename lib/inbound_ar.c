/*
 * inbound_ar.c - what the receiving side tells the reader: the
 * Authentication-Results value of an S/MIME verdict (RFC 8601 syntax,
 * the smime method and body.smime-* properties of RFC 7281), the
 * recognition of forged smime results that claim our authserv-id, and
 * the RFC 9788 protected header fields found inside.  See inbound.h.
 *
 * Everything printed into a header field is made safe here: properties
 * taken from certificates are tokens when they can be, quoted strings of
 * printable ASCII otherwise, and never carry a line break.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "inbound.h"

struct out {
	char *p;
	size_t len, used;
	int overflow;
};

static void
put(struct out *o, const char *s)
{
	size_t n = strlen(s);

	if (o->overflow || o->used + n + 1 > o->len) {
		o->overflow = 1;
		return;
	}
	memcpy(o->p + o->used, s, n + 1);
	o->used += n;
}

/* RFC 5322 atext plus "." and "@": what may stand unquoted in a property value. */
static int
is_plain(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("!#$%&'*+-/=?^_`{|}~.@", *s) == NULL)
			return 0;
	return 1;
}

/* A quoted-string of printable ASCII (others become '?'). */
static void
put_quoted(struct out *o, const char *s)
{
	char c[3] = {0, 0, 0};

	put(o, "\"");
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			c[0] = '\\';
			c[1] = (char)ch;
		} else {
			c[0] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
			c[1] = '\0';
		}
		put(o, c);
	}
	put(o, "\"");
}

/* A value: as it is when plain, else quoted. */
static void
put_value(struct out *o, const char *s)
{
	if (is_plain(s))
		put(o, s);
	else
		put_quoted(o, s);
}

int
inbound_ar_value(const char *authserv_id, const struct inbound_result *r, char *out, size_t outlen)
{
	struct out o = {out, outlen, 0, 0};
	char reason[200];

	if (outlen > 0)
		out[0] = '\0';
	put(&o, authserv_id);
	put(&o, ";\r\n\tsmime=");
	put(&o, inbound_smime_name(r->smime));
	if (r->smime != INBOUND_SMIME_PASS && r->reason[0] != '\0') {
		snprintf(reason, sizeof(reason), "%.199s", r->reason); /* a summary */
		put(&o, " reason=");
		put_value(&o, reason);
	}
	if (r->signer != NULL && r->identifier[0] != '\0') {
		put(&o, "\r\n\tbody.smime-identifier=");
		put_value(&o, r->identifier);
	}
	/* RFC 7281 3.2.3: serial and issuer identify the certificate together */
	if (r->signer != NULL && r->serial[0] != '\0' && r->issuer[0] != '\0') {
		put(&o, "\r\n\tbody.smime-serial=");
		put_value(&o, r->serial);
		put(&o, "\r\n\tbody.smime-issuer=");
		put_quoted(&o, r->issuer); /* a distinguished name: always a quoted-string */
	}
	/* RFC 7281 3.2.2: which body part holds the signed content, as IMAP names it */
	if (r->part[0] != '\0') {
		put(&o, "\r\n\tbody.smime-part=");
		put_value(&o, r->part);
	}
	if (o.overflow) {
		if (outlen > 0)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

/*
 * The value with comments removed and quoted strings replaced by "Q", so
 * that ';' and '=' inside them do not count.  Caller frees.
 */
static char *
strip_cfws(const char *v)
{
	char *out = malloc(strlen(v) + 2), *o = out;
	int depth = 0;

	if (out == NULL)
		return NULL;
	for (; *v != '\0'; v++) {
		if (*v == '\\' && v[1] != '\0' && depth > 0) {
			v++;
		} else if (*v == '(') {
			depth++;
		} else if (*v == ')' && depth > 0) {
			depth--;
			if (depth == 0)
				*o++ = ' ';
		} else if (depth == 0 && *v == '"') {
			for (v++; *v != '\0' && *v != '"'; v++)
				if (*v == '\\' && v[1] != '\0')
					v++;
			*o++ = 'Q';
			if (*v == '\0')
				break;
		} else if (depth == 0) {
			*o++ = *v;
		}
	}
	*o = '\0';
	return out;
}

int
inbound_ar_claims_smime(const char *value, const char *authserv_id)
{
	char *v = strip_cfws(value), *p, *id, *seg, *save = NULL;
	int claims = 0;

	if (v == NULL || authserv_id == NULL)
		goto done;
	for (p = v; isspace((unsigned char)*p); p++)
		;
	id = p;
	p += strcspn(p, " \t\r\n;");
	if (*p == '\0')
		goto done;
	if (*p != ';') {
		*p++ = '\0';
		p += strspn(p, " \t\r\n0123456789"); /* an authserv-id version */
		if (*p != ';')
			goto done;
	}
	*p++ = '\0';
	if (strcasecmp(id, authserv_id) != 0)
		goto done;
	for (seg = strtok_r(p, ";", &save); seg != NULL && !claims;
	     seg = strtok_r(NULL, ";", &save)) {
		seg += strspn(seg, " \t\r\n");
		claims = strncasecmp(seg, "smime", 5) == 0 &&
		    (seg[5] == '=' || seg[5] == '/' || isspace((unsigned char)seg[5]));
	}
done:
	free(v);
	return claims;
}

/* A value without leading and trailing white space, compared with s. */
static int
value_is(const char *value, const char *s)
{
	size_t n;

	while (isspace((unsigned char)*value))
		value++;
	n = strlen(value);
	while (n > 0 && isspace((unsigned char)value[n - 1]))
		n--;
	return n == strlen(s) && strncmp(value, s, n) == 0;
}

const char *
inbound_protected_subject(const struct mime_headers *outer, const struct inbound_result *r)
{
	const struct mime_header *o = mime_headers_find(outer, "Subject");
	const struct mime_header *in = mime_headers_find(&r->protected_hdrs, "Subject");

	if (o == NULL || in == NULL || !value_is(o->value, "[...]"))
		return NULL;
	return in->value;
}

void
inbound_protected_names(const struct inbound_result *r, char *out, size_t outlen)
{
	size_t i, used = 0;

	if (outlen == 0)
		return;
	out[0] = '\0';
	for (i = 0; i < r->protected_hdrs.n && used + 2 < outlen; i++) {
		int n = snprintf(out + used, outlen - used, "%s%s", i > 0 ? ", " : "",
		    r->protected_hdrs.v[i].name);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	if (out[0] == '\0')
		snprintf(out, outlen, "none");
}
