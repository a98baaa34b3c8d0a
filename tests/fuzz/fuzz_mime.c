/*
 * fuzz_mime.c - libFuzzer target: the MIME header and structure parser
 * (mime_parse_headers, mime_type, mime_param, mime_is_protected_type,
 * mime_content_block) on a whole message as the network delivers it.
 *
 * Invariants checked, beyond "no crash":
 *   - body_off lies within the input; every name is a non-empty run of
 *     printable ASCII without ':'; no value holds NUL, a bare CR or LF;
 *     occurrence indexes count up per name;
 *   - the headers written back as "Name:value CRLF" lines parse again to
 *     the same list (names, values, indexes) unless a value holds a line
 *     break that is not a fold (a lone CR the parser reads as a break);
 *   - for CRLF input without a lone CR the written-back block is the
 *     input's header block byte for byte;
 *   - mime_content_block holds exactly the Content-* fields, in order;
 *   - mime_type gives a lower-case "x/y"; mime_param results fit.
 */
#include "config.h"

#include <ctype.h>
#include <strings.h>

#include "fuzz_common.h"
#include "mime.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

/* Every line break in v is CRLF followed by a space or a tab. */
static int
value_is_folded(const char *v)
{
	for (; *v != '\0'; v++)
		if (*v == '\r' && (v[1] != '\n' || (v[2] != ' ' && v[2] != '\t')))
			return 0;
	return 1;
}

static void
check_entry(const struct mime_headers *h, size_t i)
{
	const struct mime_header *e = &h->v[i];
	const char *s;
	size_t j;
	int index = 1;

	FUZZ_CHECK(e->name[0] != '\0', "empty header name at %zu", i);
	for (s = e->name; *s != '\0'; s++)
		FUZZ_CHECK(*s > 0x20 && *s < 0x7f && *s != ':', "bad byte 0x%02x in name %zu",
		    (unsigned char)*s, i);
	for (s = e->value; *s != '\0'; s++) {
		if (*s == '\r')
			FUZZ_CHECK(s[1] == '\n', "bare CR in value %zu", i);
		if (*s == '\n')
			FUZZ_CHECK(s > e->value && s[-1] == '\r', "bare LF in value %zu", i);
	}
	for (j = 0; j < i; j++)
		if (strcasecmp(h->v[j].name, e->name) == 0)
			index++;
	FUZZ_CHECK(e->index == index, "index %d of %s, expected %d", e->index, e->name, index);
}

static void
check_types(const struct mime_headers *h)
{
	char type[128], param[256];
	const char *names[] = {"boundary", "charset", "smime-type", "protocol", "hp", "name"};
	size_t i, k;

	for (i = 0; i < h->n; i++) {
		const char *v = h->v[i].value;
		(void)mime_is_protected_type(v);
		if (mime_type(v, type, sizeof(type)) == 0) {
			FUZZ_CHECK(strchr(type, '/') != NULL, "type without '/': %s", type);
			for (k = 0; type[k] != '\0'; k++)
				FUZZ_CHECK(!isupper((unsigned char)type[k]) &&
				        !isspace((unsigned char)type[k]) && type[k] != ';',
				    "type not lower-case or not one token: %s", type);
		}
		for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			if (mime_param(v, names[k], param, sizeof(param)) == 0)
				FUZZ_CHECK(strlen(param) < sizeof(param), "param overflow");
		(void)mime_param(v, "boundary", param, 2); /* the tight bound */
	}
}

static void
write_back(const struct mime_headers *h, struct fbuf *out)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		fbuf_adds(out, h->v[i].name);
		fbuf_adds(out, ":");
		fbuf_adds(out, h->v[i].value);
		fbuf_adds(out, "\r\n");
	}
	fbuf_adds(out, "\r\n");
}

static void
check_content_block(const struct mime_headers *h)
{
	struct mime_headers c;
	char *blk = NULL, err[128];
	size_t len = 0, off = 0, i, k = 0, want = 0;
	int folded = 1;

	FUZZ_CHECK(mime_content_block(h, 1, &blk, &len) == 0, "mime_content_block failed");
	FUZZ_CHECK(len >= 2 && memcmp(blk + len - 2, "\r\n", 2) == 0, "block does not end in CRLF");
	for (i = 0; i < h->n; i++) {
		if (!mime_is_content_header(h->v[i].name))
			continue;
		want++;
		folded &= value_is_folded(h->v[i].value);
	}
	mime_headers_init(&c);
	if (folded) {
		/* the Content-* fields, in order, a space after the colon where there was none */
		FUZZ_CHECK(mime_parse_headers(blk, len, &c, &off, err, sizeof(err)) == 0,
		    "content block does not parse: %s", err);
		FUZZ_CHECK(off == len && c.n == want, "content block: %zu fields for %zu", c.n,
		    want);
		for (i = 0; i < h->n; i++) {
			const char *v = h->v[i].value;
			if (!mime_is_content_header(h->v[i].name))
				continue;
			FUZZ_CHECK(strcmp(c.v[k].name, h->v[i].name) == 0,
			    "content block: %s for %s", c.v[k].name, h->v[i].name);
			FUZZ_CHECK(strcmp(c.v[k].value + (*v != ' ' && *v != '\t'), v) == 0 &&
			        (*v == ' ' || *v == '\t' || c.v[k].value[0] == ' '),
			    "content block: value of %s changed", h->v[i].name);
			k++;
		}
	}
	mime_headers_clear(&c);
	free(blk);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_headers h, again;
	struct fbuf wb = {0};
	char err[256];
	size_t off = 12345, off2 = 0, i;
	int folded = 1, rc;

	mime_headers_init(&h);
	mime_headers_init(&again);
	rc = mime_parse_headers((const char *)data, size, &h, &off, err, sizeof(err));
	if (rc != 0) {
		FUZZ_CHECK(err[0] != '\0', "error without a message");
		goto cleanup;
	}
	FUZZ_CHECK(off <= size, "body offset %zu past the end %zu", off, size);
	for (i = 0; i < h.n; i++) {
		check_entry(&h, i);
		folded &= value_is_folded(h.v[i].value);
	}
	check_types(&h);
	check_content_block(&h);

	write_back(&h, &wb);
	if (folded) {
		rc =
		    mime_parse_headers((const char *)wb.p, wb.len, &again, &off2, err, sizeof(err));
		FUZZ_CHECK(rc == 0, "written-back headers do not parse: %s", err);
		FUZZ_CHECK(off2 == wb.len, "written-back block ends at %zu of %zu", off2, wb.len);
		FUZZ_CHECK(again.n == h.n, "%zu headers, %zu after writing back", h.n, again.n);
		for (i = 0; i < h.n; i++)
			FUZZ_CHECK(strcmp(h.v[i].name, again.v[i].name) == 0 &&
			        strcmp(h.v[i].value, again.v[i].value) == 0 &&
			        h.v[i].index == again.v[i].index,
			    "header %zu changed on writing back", i);
	}
	/* CRLF input, no lone CR, ended by the empty line: written back byte for byte */
	if (off < size || (off == size && size >= 2 && data[size - 1] == '\n')) {
		int canon = 1;
		for (i = 0; i < off && canon; i++) {
			if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
				canon = 0;
			if (data[i] == '\r' && (i + 1 >= off || data[i + 1] != '\n'))
				canon = 0;
		}
		if (canon && off >= 2 && memcmp(data + off - 2, "\r\n", 2) == 0 &&
		    (off == 2 || (off >= 4 && memcmp(data + off - 4, "\r\n\r\n", 4) == 0)))
			FUZZ_CHECK(wb.len == off && memcmp(wb.p, data, off) == 0,
			    "header block not written back byte for byte");
	}
cleanup:
	fbuf_free(&wb);
	mime_headers_clear(&h);
	mime_headers_clear(&again);
	return 0;
}
