/*
 * mimescan.c - the MIME structure limits, checked line by line as the body
 * arrives.  See mimescan.h.
 *
 * State: the open containers (a multipart with its boundary, or an
 * enclosed message, which has none and ends with the part that holds it),
 * whether a header block or a body is being read, and the current line:
 * its first LINE_KEEP bytes in a body (enough to recognise a boundary, as
 * the re-encoder looks at the first 4096 bytes of a line), the whole line
 * in a header block, where a longer one is over max-header-line anyway.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "errmsg.h"
#include "mime.h"
#include "mimescan.h"
#include "secbuf.h"

#define LINE_KEEP 4096

struct frame {
	char boundary[MIMESCAN_BOUNDARY_MAX + 1];
	size_t blen; /* 0: an enclosed message */
	int digest;  /* multipart/digest: parts default to message/rfc822 */
};

enum field {
	F_OTHER,
	F_CT,
	F_CTE
};

struct mimescan {
	struct mimescan_limits lim;
	struct frame *stack; /* lim.depth entries */
	int depth;
	int in_header; /* a header block is being read, else a body */
	int default_rfc822;
	long parts;
	/* the header block */
	int fields;
	size_t fieldlen; /* bytes of the current field so far, earlier lines included */
	enum field cur;
	struct secbuf ct, cte; /* the first Content-Type and Content-Transfer-Encoding */
	int have_ct, have_cte;
	/* the current line */
	struct secbuf line;
	size_t total; /* bytes of the line so far, kept or not */
	enum mimescan_result over;
	char why[160];
};

const char *
mimescan_reason(enum mimescan_result r)
{
	switch (r) {
	case MIMESCAN_DEPTH: return "mime_depth";
	case MIMESCAN_PARTS: return "mime_parts";
	case MIMESCAN_HEADERS: return "headers";
	case MIMESCAN_HEADER_LINE: return "header_line";
	case MIMESCAN_NOMEM: return "internal";
	default: return NULL;
	}
}

static void
exceed(struct mimescan *s, enum mimescan_result r)
{
	if (s->over != MIMESCAN_OK)
		return;
	s->over = r;
	switch (r) {
	case MIMESCAN_DEPTH:
		snprintf(s->why, sizeof(s->why),
		    "MIME parts nested deeper than %d levels "
		    "(max-mime-depth)",
		    s->lim.depth);
		break;
	case MIMESCAN_PARTS:
		snprintf(s->why, sizeof(s->why), "more than %d MIME parts (max-mime-parts)",
		    s->lim.parts);
		break;
	case MIMESCAN_HEADERS:
		snprintf(s->why, sizeof(s->why),
		    "a MIME part with more than %d header fields (max-headers)", s->lim.headers);
		break;
	case MIMESCAN_HEADER_LINE:
		snprintf(s->why, sizeof(s->why),
		    "a MIME part header field longer than %zu bytes (max-header-line)",
		    s->lim.header_line);
		break;
	default: snprintf(s->why, sizeof(s->why), "out of memory");
	}
}

/* A new header block begins (of a part, or of an enclosed message). */
static void
header_start(struct mimescan *s)
{
	s->in_header = 1;
	s->fields = 0;
	s->fieldlen = 0;
	s->cur = F_OTHER;
	s->have_ct = s->have_cte = 0;
	secbuf_free(&s->ct);
	secbuf_free(&s->cte);
}

static int
push(struct mimescan *s, const char *boundary, int digest)
{
	struct frame *f;

	if (s->depth >= s->lim.depth) {
		exceed(s, MIMESCAN_DEPTH);
		return -1;
	}
	f = &s->stack[s->depth++];
	snprintf(f->boundary, sizeof(f->boundary), "%s", boundary);
	f->blen = strlen(f->boundary);
	f->digest = digest;
	return 0;
}

static int
count_part(struct mimescan *s)
{
	if (++s->parts > s->lim.parts) {
		exceed(s, MIMESCAN_PARTS);
		return -1;
	}
	return 0;
}

/* A Content-Transfer-Encoding value (white space around it allowed) is base64 or q-p. */
static int
encoded_cte(const char *cte)
{
	static const char *const names[] = {"base64", "quoted-printable"};
	size_t i, n;

	if (cte == NULL)
		return 0;
	cte += strspn(cte, " \t\r\n");
	for (i = 0; i < 2; i++) {
		n = strlen(names[i]);
		if (strncasecmp(cte, names[i], n) == 0 &&
		    cte[n + strspn(cte + n, " \t\r\n")] == '\0')
			return 1;
	}
	return 0;
}

/* An entity's header block is known: a container is entered, or its body is read. */
static void
entity(struct mimescan *s, const char *ct, const char *cte)
{
	char type[128], boundary[MIMESCAN_BOUNDARY_MAX + 1];
	int encoded = encoded_cte(cte);

	if (ct == NULL || mime_type(ct, type, sizeof(type)) != 0)
		snprintf(type, sizeof(type), "%s",
		    ct == NULL && s->default_rfc822 ? "message/rfc822" : "text/plain");
	s->default_rfc822 = 0;
	s->in_header = 0;
	if (strncmp(type, "multipart/", 10) == 0 && ct != NULL &&
	    mime_param(ct, "boundary", boundary, sizeof(boundary)) == 0 && boundary[0] != '\0') {
		(void)push(s, boundary, strcmp(type, "multipart/digest") == 0);
		return; /* the preamble */
	}
	if ((strcmp(type, "message/rfc822") == 0 || strcmp(type, "message/global") == 0) &&
	    !encoded) {
		if (push(s, "", 0) == 0)
			header_start(s); /* the enclosed message, inside the part that holds it */
	}
}

/* Trimmed copy of a value for entity(): the field's text after the colon. */
static const char *
value_of(struct secbuf *b)
{
	char *v;
	size_t n;

	if (b->data == NULL)
		return "";
	for (v = b->data; *v == ' ' || *v == '\t' || *v == '\r' || *v == '\n'; v++)
		;
	n = strlen(v);
	while (
	    n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
		v[--n] = '\0';
	return v;
}

static void
header_line(struct mimescan *s, const char *l, size_t n)
{
	size_t content = n;
	struct secbuf *into = NULL;

	while (content > 0 && (l[content - 1] == '\n' || l[content - 1] == '\r'))
		content--;
	if (content == 0 && (n == 0 || l[0] == '\r' || l[0] == '\n')) { /* the empty line */
		entity(s, s->have_ct ? value_of(&s->ct) : NULL,
		    s->have_cte ? value_of(&s->cte) : NULL);
		return;
	}
	if (l[0] == ' ' || l[0] == '\t') { /* a continuation line */
		if (s->cur == F_CT)
			into = &s->ct;
		else if (s->cur == F_CTE)
			into = &s->cte;
		if (into != NULL && secbuf_append(into, l, n) != 0)
			exceed(s, MIMESCAN_NOMEM);
		return;
	}
	if (++s->fields > s->lim.headers) {
		exceed(s, MIMESCAN_HEADERS);
		return;
	}
	s->cur = F_OTHER;
	if (content > 13 && strncasecmp(l, "Content-Type:", 13) == 0 && !s->have_ct) {
		s->cur = F_CT, s->have_ct = 1, into = &s->ct;
		l += 13, n -= 13;
	} else if (content > 26 && strncasecmp(l, "Content-Transfer-Encoding:", 26) == 0 &&
	    !s->have_cte) {
		s->cur = F_CTE, s->have_cte = 1, into = &s->cte;
		l += 26, n -= 26;
	}
	if (into != NULL && secbuf_append(into, l, n) != 0)
		exceed(s, MIMESCAN_NOMEM);
}

/* Which open multipart's boundary line l is (-1: none); *close for "--b--". */
static int
boundary_of(const struct mimescan *s, const char *l, size_t n, int *close)
{
	int i;

	if (n < 3 || l[0] != '-' || l[1] != '-')
		return -1;
	for (i = s->depth - 1; i >= 0; i--) {
		const struct frame *f = &s->stack[i];
		size_t p = 2 + f->blen;
		if (f->blen == 0 || n < p || memcmp(l + 2, f->boundary, f->blen) != 0)
			continue;
		*close = n >= p + 2 && l[p] == '-' && l[p + 1] == '-';
		if (*close)
			p += 2;
		while (p < n && (l[p] == ' ' || l[p] == '\t'))
			p++;
		if (p == n || l[p] == '\r' || l[p] == '\n')
			return i;
	}
	return -1;
}

/* A complete line (its kept part l[n]). */
static void
line_done(struct mimescan *s, const char *l, size_t n)
{
	int close = 0, f = boundary_of(s, l, n < LINE_KEEP ? n : LINE_KEEP, &close);

	if (f >= 0) {
		s->depth = close ? f : f + 1;
		if (close) {
			s->in_header = 0; /* the epilogue */
			return;
		}
		if (count_part(s) != 0)
			return;
		header_start(s);
		s->default_rfc822 = s->stack[f].digest;
		return;
	}
	if (s->in_header)
		header_line(s, l, n);
}

mimescan *
mimescan_new(const struct mimescan_limits *lim, const char *content_type, const char *cte)
{
	struct mimescan *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->lim = *lim;
	if (s->lim.depth > MIMESCAN_DEPTH_MAX)
		s->lim.depth = MIMESCAN_DEPTH_MAX;
	s->stack = calloc((size_t)(s->lim.depth > 0 ? s->lim.depth : 1), sizeof(*s->stack));
	if (s->stack == NULL) {
		free(s);
		return NULL;
	}
	entity(s, content_type, cte);
	return s;
}

enum mimescan_result
mimescan_feed(mimescan *s, const void *data, size_t len, char *err, size_t errlen)
{
	const char *p = data;

	while (s->over == MIMESCAN_OK && len > 0) {
		const char *nl = memchr(p, '\n', len);
		size_t take = nl != NULL ? (size_t)(nl - p) + 1 : len, keep = take;
		int cont = s->line.len > 0 ? s->line.data[0] == ' ' || s->line.data[0] == '\t'
		                           : p[0] == ' ' || p[0] == '\t';

		if (!s->in_header && s->line.len + keep > LINE_KEEP)
			keep = s->line.len < LINE_KEEP ? LINE_KEEP - s->line.len : 0;
		s->total += take;
		if (s->in_header && (cont ? s->fieldlen : 0) + s->total > s->lim.header_line) {
			exceed(s, MIMESCAN_HEADER_LINE);
			break;
		}
		if (keep > 0 && secbuf_append(&s->line, p, keep) != 0) {
			exceed(s, MIMESCAN_NOMEM);
			break;
		}
		p += take;
		len -= take;
		if (nl == NULL)
			break;
		if (s->in_header)
			s->fieldlen = (cont ? s->fieldlen : 0) + s->total;
		line_done(s, s->line.data, s->line.len);
		s->line.len = 0; /* the next line overwrites it; secbuf_free wipes it all */
		s->total = 0;
	}
	if (s->over != MIMESCAN_OK)
		errmsg_set(err, errlen, "%s", s->why);
	return s->over;
}

void
mimescan_free(mimescan *s)
{
	if (s == NULL)
		return;
	secbuf_free(&s->line);
	secbuf_free(&s->ct);
	secbuf_free(&s->cte);
	OPENSSL_cleanse(s->stack,
	    (size_t)(s->lim.depth > 0 ? s->lim.depth : 1) * sizeof(*s->stack));
	free(s->stack);
	free(s);
}
