/*
 * mime7bit.c - streaming 8bit/binary -> 7bit re-encoding of a MIME entity
 * before signing.  See mime7bit.h.
 *
 * Two passes over the same input with the same parser: pass 0 only looks
 * (which leaves hold 8-bit bytes, NUL or over-long lines), pass 1 writes.
 * The parser is line based; a long line is handled in pieces of at most
 * SEG_MAX bytes (never split between CR and LF), and only the first piece
 * of a line can be a boundary.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "blockbuf.h"
#include "errmsg.h"
#include "mime7bit.h"
#include "mimescan.h"
#include "secbuf.h"

#define SEG_MAX         4096
#define RD_BUF          16384
#define OUT_BUF         16384
#define HEAD_MAX        (256 * 1024)
#define DEPTH_MAX       MIMESCAN_DEPTH_MAX /* as deep as max-mime-depth may allow */
#define BOUNDARY_MAX    MIMESCAN_BOUNDARY_MAX
#define LINE_MAX_OCTETS 998

#define FLAG_8BIT 1 /* byte >= 0x80 or NUL */
#define FLAG_LONG 2 /* a line longer than 998 octets */

enum mode {
	M_HEADER,
	M_BODY,
	M_LITERAL
};
enum enc {
	ENC_NONE,
	ENC_QP,
	ENC_B64
};

struct frame {
	char boundary[BOUNDARY_MAX + 1];
	size_t blen;
	int digest; /* multipart/digest: parts default to message/rfc822 */
};

struct m7 {
	int pass;
	/* input */
	const char *head;
	size_t headlen, headpos;
	spool *body;
	unsigned char rbuf[RD_BUF];
	size_t rlen, rpos;
	int eof;
	/* output (pass 1) */
	spool *out;
	unsigned char obuf[OUT_BUF];
	size_t olen;
	/* structure */
	struct frame stack[DEPTH_MAX];
	int depth;
	enum mode mode;
	int default_rfc822;
	struct secbuf h; /* the header block being read */
	/* the current leaf */
	size_t leaf;
	enum enc enc;
	int pending_crlf;
	size_t linelen;
	/* per-leaf findings of pass 0 */
	unsigned char *flags;
	size_t nflags, capflags;
	int changed;
	/* encoders */
	char qline[80];
	size_t qlen;
	int qws;
	unsigned char bpend[57];
	size_t bnp;
	int blines;
	char *err;
	size_t errlen;
	int failed;
};

/* ---- input ---- */

static int
rd_fill(struct m7 *s)
{
	ssize_t n;

	s->rpos = 0;
	s->rlen = 0;
	if (s->headpos < s->headlen) {
		size_t take = s->headlen - s->headpos;
		if (take > RD_BUF)
			take = RD_BUF;
		memcpy(s->rbuf, s->head + s->headpos, take);
		s->headpos += take;
		s->rlen = take;
		return 0;
	}
	n = spool_read(s->body, s->rbuf, RD_BUF, s->err, s->errlen);
	if (n < 0)
		return -1;
	if (n == 0)
		s->eof = 1;
	s->rlen = (size_t)n;
	return 0;
}

/* Next piece of a line into seg (SEG_MAX + 2 bytes); *eol when it ends in LF.  Length, or -1. */
static ssize_t
rd_segment(struct m7 *s, char *seg, int *eol)
{
	size_t n = 0;

	*eol = 0;
	for (;;) {
		if (n >= SEG_MAX && seg[n - 1] != '\r')
			break;
		if (n > SEG_MAX)
			break;
		if (s->rpos == s->rlen) {
			if (s->eof || rd_fill(s) != 0)
				return s->eof ? (ssize_t)n : -1;
			if (s->eof)
				break;
		}
		seg[n] = (char)s->rbuf[s->rpos++];
		if (seg[n++] == '\n') {
			*eol = 1;
			break;
		}
	}
	return (ssize_t)n;
}

/* ---- output ---- */

static void
out_flush(struct m7 *s)
{
	if (s->olen > 0 && !s->failed &&
	    spool_write(s->out, s->obuf, s->olen, s->err, s->errlen) != 0)
		s->failed = 1;
	s->olen = 0;
}

static void
out_put(struct m7 *s, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (s->pass == 0)
		return;
	while (len > 0)
		if (blockbuf_fill(s->obuf, OUT_BUF, &s->olen, &p, &len))
			out_flush(s);
}

static void
out_puts(struct m7 *s, const char *str)
{
	out_put(s, str, strlen(str));
}

/* ---- quoted-printable (RFC 2045 6.7), lines of at most 76 columns ---- */

static void
qp_token(struct m7 *s, const char *tok, size_t len)
{
	if (s->qlen + len > 75) {
		out_put(s, s->qline, s->qlen);
		out_puts(s, "=\r\n");
		s->qlen = 0;
	}
	memcpy(s->qline + s->qlen, tok, len);
	s->qlen += len;
}

static void
qp_hex(struct m7 *s, unsigned char c)
{
	char t[4];

	snprintf(t, sizeof(t), "=%02X", c);
	qp_token(s, t, 3);
}

/* Emit a pending space or tab: literally, or encoded when a line ends after it. */
static void
qp_ws(struct m7 *s, int at_end)
{
	if (s->qws < 0)
		return;
	if (at_end) {
		qp_hex(s, (unsigned char)s->qws);
	} else {
		char c = (char)s->qws;
		qp_token(s, &c, 1);
	}
	s->qws = -1;
}

static void
qp_bytes(struct m7 *s, const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = p[i];
		qp_ws(s, 0);
		if (c == ' ' || c == '\t') {
			s->qws = c;
		} else if (c < 32 || c == '=' || c > 126 ||
		    (s->qlen == 0 && (c == '.' || c == 'F'))) {
			/* '.' and 'F' at a line start: safe from dot and "From " mangling */
			qp_hex(s, c);
		} else {
			char ch = (char)c;
			qp_token(s, &ch, 1);
		}
	}
}

static void
qp_newline(struct m7 *s)
{
	qp_ws(s, 1);
	out_put(s, s->qline, s->qlen);
	out_puts(s, "\r\n");
	s->qlen = 0;
}

static void
qp_finish(struct m7 *s)
{
	qp_ws(s, 1);
	out_put(s, s->qline, s->qlen);
	s->qlen = 0;
}

/* ---- base64, 76-column lines; no line break after the last line ---- */

static void
b64_group(struct m7 *s)
{
	unsigned char line[80];
	int n = EVP_EncodeBlock(line, s->bpend, (int)s->bnp);

	if (s->blines++ > 0)
		out_puts(s, "\r\n");
	out_put(s, line, (size_t)n);
	s->bnp = 0;
}

static void
b64_bytes(struct m7 *s, const unsigned char *p, size_t len)
{
	while (len > 0)
		if (blockbuf_fill(s->bpend, sizeof(s->bpend), &s->bnp, &p, &len))
			b64_group(s);
}

static void
b64_finish(struct m7 *s)
{
	if (s->bnp > 0)
		b64_group(s);
}

/* ---- header blocks ---- */

/* Value of the first field name in the header block (unfolded, trimmed) into out. */
static int
field_value(const char *h, size_t hlen, const char *name, char *out, size_t outlen)
{
	size_t pos = 0, nl = strlen(name);

	while (pos < hlen) {
		size_t eol = pos;
		while (eol < hlen && h[eol] != '\n')
			eol++;
		if (eol - pos > nl && strncasecmp(h + pos, name, nl) == 0 && h[pos + nl] == ':') {
			size_t o = 0, i = pos + nl + 1;
			for (;;) {
				for (; i < eol; i++) {
					char c = h[i] == '\t' || h[i] == '\r' ? ' ' : h[i];
					if ((c == ' ' && (o == 0 || out[o - 1] == ' ')) ||
					    o + 1 >= outlen)
						continue;
					out[o++] = c;
				}
				if (eol + 1 < hlen && (h[eol + 1] == ' ' || h[eol + 1] == '\t')) {
					i = eol + 1;
					eol = i;
					while (eol < hlen && h[eol] != '\n')
						eol++;
					continue;
				}
				break;
			}
			while (o > 0 && out[o - 1] == ' ')
				o--;
			out[o] = '\0';
			return 1;
		}
		pos = eol + 1;
	}
	out[0] = '\0';
	return 0;
}

/* type/subtype (lower case) and the boundary parameter of a Content-Type value. */
static void
parse_ctype(const char *v, char *type, size_t typelen, char *boundary, size_t blen)
{
	size_t o = 0;
	const char *p = v;

	while (*p != '\0' && *p != ';' && *p != ' ' && o + 1 < typelen)
		type[o++] = (char)tolower((unsigned char)*p++);
	type[o] = '\0';
	boundary[0] = '\0';
	while ((p = strchr(p, ';')) != NULL) {
		p++;
		while (*p == ' ')
			p++;
		if (strncasecmp(p, "boundary", 8) != 0)
			continue;
		p += 8;
		while (*p == ' ')
			p++;
		if (*p != '=')
			continue;
		p++;
		while (*p == ' ')
			p++;
		o = 0;
		if (*p == '"') {
			for (p++; *p != '\0' && *p != '"' && o + 1 < blen; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				boundary[o++] = *p;
			}
		} else {
			while (*p != '\0' && *p != ';' && *p != ' ' && o + 1 < blen)
				boundary[o++] = *p++;
		}
		boundary[o] = '\0';
		return;
	}
}

/* Copy the header block without its Content-Transfer-Encoding fields and the empty line. */
static void
emit_head_without_cte(struct m7 *s)
{
	size_t pos = 0;
	int skip = 0;

	while (pos < s->h.len) {
		size_t eol = pos;
		while (eol < s->h.len && s->h.data[eol] != '\n')
			eol++;
		if (eol < s->h.len)
			eol++;
		if (s->h.data[pos] == ' ' || s->h.data[pos] == '\t') {
			/* continuation of the previous field */
		} else if (eol - pos <= 2 && s->h.data[pos] == '\r') {
			break; /* the empty line */
		} else {
			skip = eol - pos > 26 &&
			    strncasecmp(s->h.data + pos, "Content-Transfer-Encoding:", 26) == 0;
		}
		if (!skip)
			out_put(s, s->h.data + pos, eol - pos);
		pos = eol;
	}
}

static void
set_flag(struct m7 *s, size_t leaf, unsigned char f)
{
	if (leaf >= s->capflags) {
		size_t cap = s->capflags ? s->capflags * 2 : 64;
		unsigned char *n;
		while (cap <= leaf)
			cap *= 2;
		n = realloc(s->flags, cap);
		if (n == NULL) {
			s->failed = 1;
			errmsg_set(s->err, s->errlen, "out of memory");
			return;
		}
		memset(n + s->capflags, 0, cap - s->capflags);
		s->flags = n;
		s->capflags = cap;
	}
	s->flags[leaf] |= f;
	if (leaf >= s->nflags)
		s->nflags = leaf + 1;
}

/* The header block of an entity is complete: decide what it is. */
static void
end_of_header(struct m7 *s)
{
	char ct[1024], cte[128], type[128], boundary[BOUNDARY_MAX + 1];
	int have_ct = field_value(s->h.data, s->h.len, "Content-Type", ct, sizeof(ct));
	int text, declared8, encoded;

	field_value(s->h.data, s->h.len, "Content-Transfer-Encoding", cte, sizeof(cte));
	if (have_ct) {
		parse_ctype(ct, type, sizeof(type), boundary, sizeof(boundary));
	} else {
		snprintf(type, sizeof(type), "%s",
		    s->default_rfc822 ? "message/rfc822" : "text/plain");
		boundary[0] = '\0';
	}
	s->default_rfc822 = 0;
	if (strncmp(type, "multipart/", 10) == 0 && boundary[0] != '\0' && s->depth < DEPTH_MAX) {
		struct frame *f = &s->stack[s->depth++];
		snprintf(f->boundary, sizeof(f->boundary), "%s", boundary);
		f->blen = strlen(f->boundary);
		f->digest = strcmp(type, "multipart/digest") == 0;
		out_put(s, s->h.data, s->h.len);
		s->mode = M_LITERAL; /* preamble */
		return;
	}
	encoded = strcasecmp(cte, "base64") == 0 || strcasecmp(cte, "quoted-printable") == 0;
	if ((strcmp(type, "message/rfc822") == 0 || strcmp(type, "message/global") == 0) &&
	    !encoded) {
		out_put(s, s->h.data, s->h.len);
		s->h.len = 0;
		s->mode = M_HEADER; /* the enclosed message */
		return;
	}
	/* a leaf */
	s->leaf++;
	s->mode = M_BODY;
	s->pending_crlf = 0;
	s->linelen = 0;
	s->enc = ENC_NONE;
	declared8 = strcasecmp(cte, "8bit") == 0 || strcasecmp(cte, "binary") == 0;
	if (s->pass == 0) {
		if (declared8)
			set_flag(s, s->leaf, FLAG_8BIT);
		return;
	}
	if (!encoded && s->leaf < s->nflags && s->flags[s->leaf] != 0) {
		text = strncmp(type, "text/", 5) == 0;
		s->enc = text ? ENC_QP : ENC_B64;
		s->changed = 1;
		s->qlen = 0;
		s->qws = -1;
		s->bnp = 0;
		s->blines = 0;
		emit_head_without_cte(s);
		out_puts(s,
		    text ? "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
		         : "Content-Transfer-Encoding: base64\r\n\r\n");
	} else {
		out_put(s, s->h.data, s->h.len);
	}
}

/* The current leaf ends (boundary or end of input). */
static void
end_of_leaf(struct m7 *s, int at_eof)
{
	if (s->enc == ENC_QP) {
		if (at_eof && s->pending_crlf)
			qp_newline(s);
		else
			qp_finish(s);
	} else if (s->enc == ENC_B64) {
		if (at_eof && s->pending_crlf)
			b64_bytes(s, (const unsigned char *)"\r\n", 2);
		b64_finish(s);
		if (at_eof)
			out_puts(s, "\r\n");
	}
	if (s->enc != ENC_NONE && !at_eof && s->pending_crlf)
		out_puts(s, "\r\n"); /* the CRLF of the delimiter */
	s->enc = ENC_NONE;
	s->pending_crlf = 0;
}

/* Which frame's boundary line this is (-1: none); *close for "--b--". */
static int
match_boundary(const struct m7 *s, const char *seg, size_t n, int *close)
{
	int i;

	if (n < 3 || seg[0] != '-' || seg[1] != '-')
		return -1;
	for (i = s->depth - 1; i >= 0; i--) {
		const struct frame *f = &s->stack[i];
		size_t p = 2 + f->blen;
		if (n < p || memcmp(seg + 2, f->boundary, f->blen) != 0)
			continue;
		*close = n >= p + 2 && seg[p] == '-' && seg[p + 1] == '-';
		if (*close)
			p += 2;
		while (p < n && (seg[p] == ' ' || seg[p] == '\t'))
			p++;
		if (p == n || seg[p] == '\r' || seg[p] == '\n')
			return i;
	}
	return -1;
}

static void
hbuf_add(struct m7 *s, const char *seg, size_t n)
{
	if (secbuf_append(&s->h, seg, n) != 0) {
		s->failed = 1;
		errmsg_set(s->err, s->errlen, "out of memory");
	}
}

static void
body_segment(struct m7 *s, const char *seg, size_t n, int eol, int line_start)
{
	size_t content = n;
	size_t i;

	if (eol)
		content -= (n >= 2 && seg[n - 2] == '\r') ? 2 : 1;
	if (s->pass == 0) {
		for (i = 0; i < content; i++)
			if ((unsigned char)seg[i] >= 0x80 || seg[i] == '\0')
				break;
		if (i < content)
			set_flag(s, s->leaf, FLAG_8BIT);
		s->linelen += content;
		if (s->linelen > LINE_MAX_OCTETS)
			set_flag(s, s->leaf, FLAG_LONG);
		if (eol)
			s->linelen = 0;
		return;
	}
	if (s->enc == ENC_NONE) {
		out_put(s, seg, n);
		return;
	}
	if (line_start && s->pending_crlf) {
		if (s->enc == ENC_QP)
			qp_newline(s);
		else
			b64_bytes(s, (const unsigned char *)"\r\n", 2);
	}
	if (s->enc == ENC_QP)
		qp_bytes(s, (const unsigned char *)seg, content);
	else
		b64_bytes(s, (const unsigned char *)seg, content);
	s->pending_crlf = eol;
}

static void
run_segment(struct m7 *s, const char *seg, size_t n, int eol, int line_start)
{
	int close = 0, f = line_start ? match_boundary(s, seg, n, &close) : -1;

	if (f >= 0) {
		if (s->mode == M_BODY)
			end_of_leaf(s, 0);
		else if (s->mode == M_HEADER)
			out_put(s, s->h.data, s->h.len); /* a header block cut short */
		out_put(s, seg, n);
		s->depth = close ? f : f + 1;
		s->h.len = 0;
		if (close) {
			s->mode = M_LITERAL; /* epilogue */
		} else {
			s->mode = M_HEADER;
			s->default_rfc822 = s->stack[f].digest;
		}
		return;
	}
	switch (s->mode) {
	case M_HEADER:
		if (s->h.len + n > HEAD_MAX) {
			/* not a header block we can read: leave the rest of this part as it is */
			out_put(s, s->h.data, s->h.len);
			out_put(s, seg, n);
			s->h.len = 0;
			s->mode = M_LITERAL;
			return;
		}
		hbuf_add(s, seg, n);
		if (line_start && eol && (n == 1 || (n == 2 && seg[0] == '\r')))
			end_of_header(s);
		break;
	case M_BODY: body_segment(s, seg, n, eol, line_start); break;
	case M_LITERAL: out_put(s, seg, n); break;
	}
}

static int
run_pass(struct m7 *s, int pass)
{
	char seg[SEG_MAX + 2];
	int eol, line_start = 1;
	ssize_t n;

	s->pass = pass;
	s->headpos = 0;
	s->rlen = s->rpos = 0;
	s->eof = 0;
	s->depth = 0;
	s->mode = M_HEADER;
	s->default_rfc822 = 0;
	s->h.len = 0;
	s->leaf = 0;
	s->enc = ENC_NONE;
	s->pending_crlf = 0;
	if (spool_rewind(s->body, s->err, s->errlen) != 0)
		return -1;
	while (!s->failed && (n = rd_segment(s, seg, &eol)) > 0) {
		run_segment(s, seg, (size_t)n, eol, line_start);
		line_start = eol;
	}
	if (n < 0 || s->failed)
		return -1;
	if (s->mode == M_BODY)
		end_of_leaf(s, 1);
	else if (s->mode == M_HEADER)
		out_put(s, s->h.data, s->h.len);
	out_flush(s);
	OPENSSL_cleanse(seg, sizeof(seg));
	return s->failed ? -1 : 0;
}

int
mime7bit_encode(const char *head, size_t headlen, spool *body, spool *out, char *err, size_t errlen)
{
	struct m7 *s = calloc(1, sizeof(*s));
	int rc = -1;

	if (s == NULL) {
		errmsg_set(err, errlen, "out of memory");
		return -1;
	}
	s->head = head;
	s->headlen = headlen;
	s->body = body;
	s->out = out;
	s->err = err;
	s->errlen = errlen;
	if (run_pass(s, 0) != 0)
		goto cleanup;
	if (s->nflags == 0) {
		rc = 0; /* nothing 8-bit anywhere */
		goto cleanup;
	}
	if (run_pass(s, 1) != 0)
		goto cleanup;
	rc = s->changed ? 1 : 0;
cleanup:
	secbuf_free(&s->h);
	free(s->flags);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
	return rc;
}
