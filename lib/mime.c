/*
 * mime.c - header lists, canonicalisation and address parsing.  See mime.h.
 * Input comes from the network: every length is checked, nothing is
 * assumed to be NUL-free beyond what the caller guarantees.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errmsg.h"
#include "mime.h"

void
mime_headers_init(struct mime_headers *h)
{
	memset(h, 0, sizeof(*h));
}

/* Copy a value, turning every line break (LF, CRLF or lone CR) into CRLF. */
static char *
mime_copy_crlf(const char *value)
{
	size_t len = strlen(value), i, o = 0;
	char *out = malloc(2 * len + 1);

	if (out == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		if (value[i] == '\r') {
			out[o++] = '\r';
			out[o++] = '\n';
			if (value[i + 1] == '\n')
				i++;
		} else if (value[i] == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
		} else {
			out[o++] = value[i];
		}
	}
	out[o] = '\0';
	return out;
}

int
mime_headers_add(struct mime_headers *h, const char *name, const char *value)
{
	struct mime_header *e;
	size_t i;
	int index = 1;

	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		struct mime_header *v = realloc(h->v, cap * sizeof(*v));
		if (v == NULL)
			return -1;
		h->v = v;
		h->cap = cap;
	}
	for (i = 0; i < h->n; i++)
		if (strcasecmp(h->v[i].name, name) == 0)
			index++;
	e = &h->v[h->n];
	e->name = strdup(name);
	e->value = mime_copy_crlf(value);
	e->index = index;
	if (e->name == NULL || e->value == NULL) {
		free(e->name);
		free(e->value);
		return -1;
	}
	h->n++;
	return 0;
}

void
mime_headers_clear(struct mime_headers *h)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		free(h->v[i].name);
		free(h->v[i].value);
	}
	free(h->v);
	mime_headers_init(h);
}

const struct mime_header *
mime_headers_find(const struct mime_headers *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (strcasecmp(h->v[i].name, name) == 0)
			return &h->v[i];
	return NULL;
}

int
mime_is_content_header(const char *name)
{
	return strncasecmp(name, "Content-", 8) == 0;
}

int
mime_is_protected_type(const char *ct)
{
	static const char *const types[] = {
	    "application/pkcs7-mime",
	    "application/x-pkcs7-mime",
	    "multipart/signed",
	    "multipart/encrypted",
	};
	size_t i, n;

	if (ct == NULL)
		return 0;
	while (isspace((unsigned char)*ct))
		ct++;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		n = strlen(types[i]);
		if (strncasecmp(ct, types[i], n) == 0 &&
		    (ct[n] == '\0' || ct[n] == ';' || isspace((unsigned char)ct[n])))
			return 1;
	}
	return 0;
}

int
mime_content_block(const struct mime_headers *h, int add_space, char **out, size_t *outlen)
{
	size_t i, len = 2, o = 0;
	char *buf;

	for (i = 0; i < h->n; i++)
		if (mime_is_content_header(h->v[i].name))
			len += strlen(h->v[i].name) + strlen(h->v[i].value) + 4;
	buf = malloc(len + 1);
	if (buf == NULL)
		return -1;
	for (i = 0; i < h->n; i++) {
		const char *v = h->v[i].value;
		size_t nl, vl;
		if (!mime_is_content_header(h->v[i].name))
			continue;
		nl = strlen(h->v[i].name);
		vl = strlen(v);
		memcpy(buf + o, h->v[i].name, nl);
		o += nl;
		buf[o++] = ':';
		if (add_space && *v != ' ' && *v != '\t')
			buf[o++] = ' ';
		memcpy(buf + o, v, vl);
		o += vl;
		buf[o++] = '\r';
		buf[o++] = '\n';
	}
	buf[o++] = '\r';
	buf[o++] = '\n';
	buf[o] = '\0';
	*out = buf;
	*outlen = o;
	return 0;
}

void
mime_canon_init(struct mime_canon *c)
{
	c->last_cr = 0;
}

size_t
mime_canon_chunk(struct mime_canon *c, const char *in, size_t len, char *out)
{
	const char *p = in, *end = in + len, *nl;
	size_t o = 0, run;
	int last_cr = c->last_cr;

	/* runs up to each LF copied whole: the body is mostly CRLF already */
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		run = (size_t)((nl != NULL ? nl : end) - p);
		if (run > 0) {
			memcpy(out + o, p, run);
			o += run;
			last_cr = p[run - 1] == '\r';
		}
		if (nl == NULL)
			break;
		if (!last_cr)
			out[o++] = '\r';
		out[o++] = '\n';
		last_cr = 0;
		p = nl + 1;
	}
	c->last_cr = last_cr;
	return o;
}

/* Characters allowed in an address we use to name files. */
static int
mime_addr_char(int ch)
{
	return ch > 0x20 && ch < 0x7f && ch != '<' && ch != '>' && ch != '(' && ch != ')' &&
	    ch != ',' && ch != ';' && ch != '"' && ch != '\\' && ch != '/' && ch != '[' &&
	    ch != ']';
}

int
mime_address_is_safe(const char *addr)
{
	const char *at = strchr(addr, '@');
	size_t len = strlen(addr), i;

	if (len == 0 || len > 254 || at == NULL || at == addr || at[1] == '\0' ||
	    strchr(at + 1, '@') != NULL || addr[0] == '.' || strstr(addr, "..") != NULL)
		return 0;
	for (i = 0; i < len; i++)
		if (!mime_addr_char((unsigned char)addr[i]) && addr[i] != '@')
			return 0;
	return 1;
}

/* Characters that end a bare address token. */
static int
mime_token_end(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '<' || ch == '>' ||
	    ch == ',' || ch == ';' || ch == '"';
}

/* Copy [start, end) lower-casing the domain part; validate. */
static int
mime_take_address(const char *start, const char *end, char *out, size_t outlen)
{
	size_t len = (size_t)(end - start), i;
	char *at;

	if (len == 0 || len >= outlen)
		return -1;
	memcpy(out, start, len);
	out[len] = '\0';
	at = strchr(out, '@');
	if (at == NULL)
		return -1;
	for (i = (size_t)(at - out); i < len; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	return mime_address_is_safe(out) ? 0 : -1;
}

int
mime_extract_address(const char *value, char *out, size_t outlen)
{
	const char *p = value, *lt = NULL, *q;
	int depth = 0, quoted = 0;

	/* find an angle-bracketed address outside quotes and comments */
	for (q = p; *q != '\0'; q++) {
		if (quoted) {
			if (*q == '\\' && q[1] != '\0')
				q++;
			else if (*q == '"')
				quoted = 0;
		} else if (*q == '"' && depth == 0) {
			quoted = 1;
		} else if (*q == '(') {
			depth++;
		} else if (*q == ')' && depth > 0) {
			depth--;
		} else if (*q == '<' && depth == 0) {
			lt = q;
			break;
		} else if (*q == ',' && depth == 0) {
			break; /* first mailbox only */
		}
	}
	if (lt != NULL) {
		const char *gt = strchr(lt, '>');
		if (gt == NULL)
			return -1;
		return mime_take_address(lt + 1, gt, out, outlen);
	}
	/*
	 * bare addr-spec: the first token containing '@', comments skipped.  A
	 * token runs to white space or a delimiter; it is validated whole, so
	 * an unsafe address is refused, never cut down to a safe-looking part.
	 */
	depth = 0;
	q = p;
	while (*q != '\0') {
		const char *s;
		if (*q == '(') {
			depth++;
			q++;
			continue;
		}
		if (*q == ')') {
			if (depth > 0)
				depth--;
			q++;
			continue;
		}
		if (depth > 0 || mime_token_end(*q)) {
			q++;
			continue;
		}
		s = q;
		while (*q != '\0' && !mime_token_end(*q) && *q != '(' && *q != ')')
			q++;
		if (memchr(s, '@', (size_t)(q - s)) != NULL)
			return mime_take_address(s, q, out, outlen);
	}
	return -1;
}

int
mime_parse_headers(const char *buf, size_t len, struct mime_headers *h, size_t *body_off, char *err,
    size_t errlen)
{
	size_t pos = 0, lineno = 0;

	while (pos < len) {
		size_t start = pos, name_end, eol, next;
		char *name, *value;
		int rc;

		lineno++;
		/* empty line ends the header block */
		if (buf[pos] == '\n') {
			*body_off = pos + 1;
			return 0;
		}
		if (buf[pos] == '\r' && pos + 1 < len && buf[pos + 1] == '\n') {
			*body_off = pos + 2;
			return 0;
		}
		name_end = pos;
		while (name_end < len && buf[name_end] != ':' && buf[name_end] != '\n' &&
		    buf[name_end] > 0x20 && buf[name_end] < 0x7f)
			name_end++;
		if (name_end == pos || name_end >= len || buf[name_end] != ':') {
			errmsg_set(err, errlen, "header line %zu is not \"Name: value\"", lineno);
			return -1;
		}
		/* the value runs to the end of the last continuation line */
		eol = name_end;
		for (;;) {
			while (eol < len && buf[eol] != '\n')
				eol++;
			next = eol < len ? eol + 1 : len;
			if (next < len && (buf[next] == ' ' || buf[next] == '\t')) {
				eol = next;
				lineno++;
				continue;
			}
			break;
		}
		if (memchr(buf + start, '\0', eol - start) != NULL) {
			errmsg_set(err, errlen, "header line %zu holds a NUL byte", lineno);
			return -1;
		}
		/* strip the final line break */
		{
			size_t vend = eol;
			if (vend > name_end + 1 && vend <= len && buf[vend - 1] == '\r')
				vend--;
			name = strndup(buf + start, name_end - start);
			value = strndup(buf + name_end + 1, vend - name_end - 1);
		}
		if (name == NULL || value == NULL) {
			free(name);
			free(value);
			errmsg_set(err, errlen, "out of memory");
			return -1;
		}
		rc = mime_headers_add(h, name, value);
		free(name);
		free(value);
		if (rc != 0) {
			errmsg_set(err, errlen, "out of memory");
			return -1;
		}
		pos = next;
	}
	*body_off = len;
	return 0;
}

int
mime_type(const char *ct, char *type, size_t typelen)
{
	size_t o = 0;

	while (isspace((unsigned char)*ct))
		ct++;
	for (; *ct != '\0' && *ct != ';' && !isspace((unsigned char)*ct); ct++) {
		if (o + 1 >= typelen) {
			type[0] = '\0'; /* callers may print it: never unterminated */
			return -1;
		}
		type[o++] = (char)tolower((unsigned char)*ct);
	}
	type[o] = '\0';
	return o > 0 && strchr(type, '/') != NULL ? 0 : -1;
}

int
mime_param(const char *ct, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name), o;
	const char *p = ct;
	int quoted = 0;

	/*
	 * walk the parameters after each ';' outside quotes; q looks ahead, so
	 * that p never steps over the terminating NUL of a value ending in ';'
	 */
	for (; *p != '\0'; p++) {
		const char *q;
		if (quoted && *p == '\\' && p[1] != '\0') {
			p++; /* a quoted pair: \" does not end the string */
			continue;
		}
		if (*p == '"')
			quoted = !quoted;
		if (quoted || *p != ';')
			continue;
		q = p + 1;
		while (isspace((unsigned char)*q))
			q++;
		if (strncasecmp(q, name, nl) != 0)
			continue;
		q += nl;
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q != '=')
			continue;
		p = q + 1;
		while (*p == ' ' || *p == '\t')
			p++;
		o = 0;
		if (*p == '"') {
			for (p++; *p != '\0' && *p != '"'; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				if (o + 1 >= outlen)
					return -1;
				out[o++] = *p;
			}
		} else {
			for (; *p != '\0' && *p != ';' && !isspace((unsigned char)*p); p++) {
				if (o + 1 >= outlen)
					return -1;
				out[o++] = *p;
			}
		}
		out[o] = '\0';
		return 0;
	}
	return -1;
}
