/*
 * fuzz_mime7bit.c - libFuzzer target: CRLF canonicalisation
 * (mime_canon_chunk) and the 7-bit re-encoding of an entity before it is
 * signed (mime7bit_encode).
 *
 * Input: a mode byte, a chunking byte, then the entity or its parts.
 *   mode 0  the input is a whole entity (any structure);
 *   mode 1  one leaf: the harness writes its header (Content-Type and
 *           Content-Transfer-Encoding picked by a byte), the rest is the body;
 *   mode 2  a multipart/mixed of leaves, each [selector][length][body],
 *           with a boundary that occurs nowhere in the bodies.
 * Invariants checked, beyond "no crash":
 *   - canonicalisation: no bare LF left, only CRs added (removing them gives
 *     the input back), the same result whatever the chunk sizes;
 *   - re-encoding is idempotent: its output needs no further re-encoding;
 *   - modes 1 and 2: a leaf left alone was 7-bit (no 8-bit byte, NUL, or
 *     line over 998 octets) and not declared 8bit/binary; a re-encoded leaf
 *     keeps its other header lines, gets quoted-printable (text, untyped)
 *     or base64 (anything else), is 7-bit with lines of at most 76
 *     columns, and decodes back to the original body byte for byte;
 *     preamble, boundaries and epilogue are unchanged.
 */
#include "config.h"

#include <strings.h>

#include "fuzz_common.h"
#include "mime.h"
#include "mime7bit.h"

#define MAX_PARTS 8

static const char *const ctypes[] = {
    NULL,
    "text/plain; charset=utf-8",
    "application/octet-stream",
    "text/html",
    "image/png; name=\"a.png\"",
    "Text/Plain",
};
static const char *const ctes[] = {NULL, "7bit", "8bit", "binary", "8BIT"};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

/* Canonicalise in chunks of 1 + (seed + k) % 17 and check the result. */
static void
canon(const uint8_t *in, size_t len, int seed, struct fbuf *out)
{
	struct mime_canon c;
	char *tmp = malloc(2 * len + 1), *whole = malloc(2 * len + 1);
	size_t pos = 0, k = 0, wl, i, j = 0;

	FUZZ_CHECK(tmp != NULL && whole != NULL, "out of memory");
	fbuf_add(out, "", 0); /* never a NULL buffer, even for empty input */
	mime_canon_init(&c);
	while (pos < len) {
		size_t n = 1 + (size_t)(seed + (int)k++) % 17;
		if (n > len - pos)
			n = len - pos;
		fbuf_add(out, tmp, mime_canon_chunk(&c, (const char *)in + pos, n, tmp));
		pos += n;
	}
	mime_canon_init(&c);
	wl = mime_canon_chunk(&c, (const char *)in, len, whole);
	FUZZ_CHECK(wl == out->len && (wl == 0 || memcmp(whole, out->p, wl) == 0),
	    "canonical form depends on the chunking");
	for (i = 0; i < wl; i++) {
		if (whole[i] == '\n')
			FUZZ_CHECK(i > 0 && whole[i - 1] == '\r', "bare LF at %zu", i);
		if (j < len && whole[i] == (char)in[j])
			j++;
		else
			FUZZ_CHECK(whole[i] == '\r' && i + 1 < wl && whole[i + 1] == '\n',
			    "byte %zu added", i);
	}
	FUZZ_CHECK(j == len, "canonical form lost input bytes");
	free(tmp);
	free(whole);
}

/* Run the encoder; 1 with out filled when it re-encoded, 0 when nothing needed it. */
static size_t spool_bound = 4096;

static int
encode(const unsigned char *p, size_t len, size_t split, struct fbuf *out)
{
	spool *body = fuzz_spool_from(p + split, len - split, spool_bound);
	spool *o = spool_new(spool_bound, NULL);
	char err[256];
	int rc;

	FUZZ_CHECK(o != NULL, "spool_new");
	rc = mime7bit_encode((const char *)p, split, body, o, err, sizeof(err));
	FUZZ_CHECK(rc >= -1 && rc <= 1, "return %d", rc);
	if (rc == 1)
		fuzz_spool_drain(o, out);
	if (rc < 0)
		FUZZ_CHECK(err[0] != '\0', "error without a message");
	spool_free(body);
	spool_free(o);
	return rc;
}

static void
check_idempotent(const struct fbuf *enc)
{
	struct fbuf again = {0};

	FUZZ_CHECK(encode(enc->p, enc->len, 0, &again) == 0,
	    "the re-encoded entity needs re-encoding again");
	fbuf_free(&again);
}

static int
is_text(const char *ct)
{
	return ct == NULL || strncasecmp(ct, "text/", 5) == 0;
}

static void
leaf_head(struct fbuf *h, int sel)
{
	const char *ct = ctypes[sel % 6], *cte = ctes[(sel / 6) % 5];

	if (ct != NULL) {
		fbuf_adds(h, "Content-Type: ");
		fbuf_adds(h, ct);
		fbuf_adds(h, "\r\n");
	}
	if (cte != NULL) {
		fbuf_adds(h, "Content-Transfer-Encoding: ");
		fbuf_adds(h, cte);
		fbuf_adds(h, "\r\n");
	}
	fbuf_adds(h, "Content-Description: leaf\r\n\r\n");
}

/* Nonzero when a leaf body needs no re-encoding: 7-bit, no NUL, lines of at most 998. */
static int
body_is_7bit(const unsigned char *p, size_t len)
{
	size_t i, start = 0;

	for (i = 0; i <= len; i++) {
		if (i < len && (p[i] == 0 || p[i] >= 0x80))
			return 0;
		if (i == len || p[i] == '\n') {
			size_t octets = i - start - (i > start && i < len && p[i - 1] == '\r');
			if (octets > 998)
				return 0;
			start = i + 1;
		}
	}
	return 1;
}

/*
 * One leaf as found in the output (its header and encoded body) against
 * the leaf as given (selector and body).
 */
static void
check_leaf(const unsigned char *got, size_t glen, int sel, const unsigned char *body, size_t blen)
{
	const char *ct = ctypes[sel % 6], *cte = ctes[(sel / 6) % 5];
	int declared8 = cte != NULL && strcasecmp(cte, "7bit") != 0;
	struct fbuf want = {0}, dec = {0};
	const unsigned char *eoh = fuzz_memmem(got, glen, "\r\n\r\n", 4);
	size_t hl, bad = 0;

	FUZZ_CHECK(eoh != NULL, "a leaf without its header");
	hl = (size_t)(eoh - got) + 4;
	leaf_head(&want, sel);
	if (hl == want.len && memcmp(got, want.p, hl) == 0) {
		/* left alone: must not have needed re-encoding */
		FUZZ_CHECK(!declared8 && body_is_7bit(body, blen), "an 8-bit leaf left alone");
		FUZZ_CHECK(glen - hl == blen && (blen == 0 || memcmp(eoh + 4, body, blen) == 0),
		    "leaf body changed");
		goto cleanup;
	}
	fbuf_free(&want);
	if (ct != NULL) {
		fbuf_adds(&want, "Content-Type: ");
		fbuf_adds(&want, ct);
		fbuf_adds(&want, "\r\n");
	}
	fbuf_adds(&want, "Content-Description: leaf\r\n");
	fbuf_adds(&want,
	    is_text(ct) ? "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	                : "Content-Transfer-Encoding: base64\r\n\r\n");
	FUZZ_CHECK(hl == want.len && memcmp(got, want.p, hl) == 0, "re-encoded leaf header: %.*s",
	    (int)hl, got);
	FUZZ_CHECK(fuzz_is_7bit(eoh + 4, glen - hl, 76, &bad),
	    "not 7-bit or over 76 columns at %zu", bad);
	if (is_text(ct))
		FUZZ_CHECK(fuzz_qp_decode(eoh + 4, glen - hl, &dec) == 0, "bad quoted-printable");
	else
		FUZZ_CHECK(fuzz_b64_decode(eoh + 4, glen - hl, &dec) == 0, "bad base64");
	FUZZ_CHECK(dec.len == blen && (blen == 0 || memcmp(dec.p, body, blen) == 0),
	    "leaf decodes to %zu bytes, not the %zu given", dec.len, blen);
cleanup:
	fbuf_free(&want);
	fbuf_free(&dec);
}

static void
one_leaf(const uint8_t *data, size_t size, int seed)
{
	struct fbuf body = {0}, ent = {0}, enc = {0};
	int sel = size > 0 ? data[0] : 0;
	size_t hl;
	int rc;

	canon(data + (size > 0), size - (size > 0), seed, &body);
	leaf_head(&ent, sel);
	hl = ent.len;
	fbuf_add(&ent, body.p, body.len);
	rc = encode(ent.p, ent.len, seed & 1 ? hl : 0, &enc);
	FUZZ_CHECK(rc >= 0, "a leaf is refused");
	if (rc == 0)
		fbuf_add(&enc, ent.p, ent.len);
	else
		check_idempotent(&enc);
	check_leaf(enc.p, enc.len, sel, body.p, body.len);
	fbuf_free(&body);
	fbuf_free(&ent);
	fbuf_free(&enc);
}

struct part {
	int sel;
	struct fbuf body;
};

static void
multipart(const uint8_t *data, size_t size, int seed)
{
	static const char b[] = "=_fz7_0123";
	struct part parts[MAX_PARTS];
	struct fbuf ent = {0}, enc = {0};
	const unsigned char *p, *q, *end;
	size_t np = 0, i, pos = 0;
	int rc;

	memset(parts, 0, sizeof(parts));
	while (pos + 3 <= size && np < MAX_PARTS) {
		size_t len = (size_t)data[pos + 1] << 8 | data[pos + 2];
		if (len > size - pos - 3)
			len = size - pos - 3;
		parts[np].sel = data[pos];
		canon(data + pos + 3, len, seed, &parts[np].body);
		pos += 3 + len;
		np++;
	}
	if (np == 0)
		return;
	fbuf_adds(&ent, "Content-Type: multipart/mixed; boundary=\"");
	fbuf_adds(&ent, b);
	fbuf_adds(&ent, "\"\r\n\r\npreamble\r\n");
	for (i = 0; i < np; i++) {
		fbuf_adds(&ent, i == 0 ? "--" : "\r\n--");
		fbuf_adds(&ent, b);
		fbuf_adds(&ent, "\r\n");
		leaf_head(&ent, parts[i].sel);
		fbuf_add(&ent, parts[i].body.p, parts[i].body.len);
	}
	fbuf_adds(&ent, "\r\n--");
	fbuf_adds(&ent, b);
	fbuf_adds(&ent, "--\r\nepilogue\r\n");
	/* the boundary must occur where the harness put it and nowhere else */
	for (i = 0, p = ent.p;
	     (q = fuzz_memmem(p, ent.len - (size_t)(p - ent.p), b, strlen(b))) != NULL; p = q + 1)
		i++;
	if (i != np + 2)
		goto cleanup;
	rc = encode(ent.p, ent.len,
	    (size_t)(fuzz_memmem(ent.p, ent.len, "\r\n\r\n", 4) - ent.p) + 4, &enc);
	FUZZ_CHECK(rc >= 0, "a multipart entity is refused");
	if (rc == 0)
		fbuf_add(&enc, ent.p, ent.len);
	else
		check_idempotent(&enc);
	/* the header, the preamble and the first delimiter are unchanged */
	p = fuzz_memmem(ent.p, ent.len, "preamble\r\n--", 12);
	FUZZ_CHECK(enc.len > (size_t)(p - ent.p) + 12 + strlen(b) + 2 &&
	        memcmp(enc.p, ent.p, (size_t)(p - ent.p) + 12 + strlen(b) + 2) == 0,
	    "header, preamble or first boundary changed");
	p = enc.p + (p - ent.p) + 12 + strlen(b) + 2;
	end = enc.p + enc.len;
	for (i = 0; i < np; i++) {
		char delim[32];
		snprintf(delim, sizeof(delim), "\r\n--%s", b);
		q = fuzz_memmem(p, (size_t)(end - p), delim, strlen(delim));
		FUZZ_CHECK(q != NULL, "part %zu has lost its closing boundary", i);
		check_leaf(p, (size_t)(q - p), parts[i].sel, parts[i].body.p, parts[i].body.len);
		p = q + strlen(delim);
		if (i + 1 < np) {
			FUZZ_CHECK(end - p >= 2 && memcmp(p, "\r\n", 2) == 0,
			    "boundary %zu changed", i);
			p += 2;
		}
	}
	FUZZ_CHECK((size_t)(end - p) == 14 && memcmp(p, "--\r\nepilogue\r\n", 14) == 0,
	    "close delimiter or epilogue changed");
cleanup:
	for (i = 0; i < np; i++)
		fbuf_free(&parts[i].body);
	fbuf_free(&ent);
	fbuf_free(&enc);
}

static void
whole_entity(const uint8_t *data, size_t size, int seed)
{
	struct fbuf ent = {0}, enc = {0};
	struct mime_headers h;
	size_t off = 0;
	char err[128];
	int rc;

	canon(data, size, seed, &ent);
	mime_headers_init(&h);
	if ((seed & 1) == 0 ||
	    mime_parse_headers((const char *)ent.p, ent.len, &h, &off, err, sizeof(err)) != 0)
		off = 0; /* all of it through the body spool */
	mime_headers_clear(&h);
	rc = encode(ent.p, ent.len, off, &enc);
	if (rc == 1) {
		FUZZ_CHECK(enc.len <= 4 * ent.len + 4096, "%zu bytes out of %zu", enc.len, ent.len);
		check_idempotent(&enc);
	}
	fbuf_free(&ent);
	fbuf_free(&enc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > 256 * 1024)
		return 0;
	/* mostly in memory; every eighth input through spools that spill to their files */
	spool_bound = (data[1] & 0x70) == 0 ? 4096 : 1024 * 1024;
	switch (data[0] % 3) {
	case 0: whole_entity(data + 2, size - 2, data[1]); break;
	case 1: one_leaf(data + 2, size - 2, data[1]); break;
	default: multipart(data + 2, size - 2, data[1]); break;
	}
	return 0;
}
