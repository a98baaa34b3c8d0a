/*
 * fuzz_mimescan.c - libFuzzer target: the MIME structure limits
 * (mimescan.h) over a message's body, as the milter checks them while the
 * body arrives.
 *
 * Input: a limits byte, a chunking byte, then a message (header block and
 * body; without a parseable header block all of it is the body of an
 * untyped message).  The limits byte picks small limits, so that each can
 * be reached: depth 1-4, parts 1-8, header fields 1-4 and field bytes
 * 1024 or 2048.
 * Invariants checked, beyond "no crash":
 *   - the result and its message do not depend on how the body is cut:
 *     whole, in chunks of 1 + (seed + k) % 23 bytes, and a byte at a time;
 *   - a limit exceeded stays exceeded: feeding more returns the same;
 *   - a result is a limit or OK (never out of memory here), and a limit's
 *     message names its keyword;
 *   - with the limits at their largest (depth 256, a million parts) the
 *     small-limit result can only be OK when the large one is OK too.
 */
#include "config.h"

#include "fuzz_common.h"
#include "mime.h"
#include "mimescan.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

/* The body fed in chunks of 1 + (seed + k) % mod bytes (mod 0: whole). */
static enum mimescan_result
run(const struct mimescan_limits *lim, const char *ct, const char *cte, const uint8_t *body,
    size_t len, int seed, int mod, char *err, size_t errlen)
{
	mimescan *s = mimescan_new(lim, ct, cte);
	enum mimescan_result r = MIMESCAN_OK, again;
	size_t pos = 0, k = 0;
	char err2[200];

	FUZZ_CHECK(s != NULL, "mimescan_new: out of memory");
	err[0] = '\0';
	while (r == MIMESCAN_OK && pos < len) {
		size_t take = mod == 0 ? len : 1 + (size_t)(seed + (int)k++) % (size_t)mod;
		if (take > len - pos)
			take = len - pos;
		r = mimescan_feed(s, body + pos, take, err, errlen);
		pos += take;
	}
	if (r != MIMESCAN_OK) {
		again = mimescan_feed(s, "--\r\n", 4, err2, sizeof(err2));
		FUZZ_CHECK(again == r, "a limit exceeded did not stay exceeded (%d, then %d)", r,
		    again);
		FUZZ_CHECK(strcmp(err, err2) == 0, "the message changed: \"%s\", then \"%s\"", err,
		    err2);
	}
	mimescan_free(s);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keyword[] = {NULL, "(max-mime-depth)", "(max-mime-parts)",
	    "(max-headers)", "(max-header-line)"};
	struct mimescan_limits lim, big = {MIMESCAN_DEPTH_MAX, 1000000, 100000, 1024 * 1024};
	struct mime_headers h;
	const struct mime_header *ct, *cte;
	enum mimescan_result whole, r;
	char err[200], err2[200], perr[128];
	size_t off = 0;
	int seed;

	if (size < 2)
		return 0;
	lim.depth = 1 + (data[0] & 3);
	lim.parts = 1 + ((data[0] >> 2) & 7);
	lim.headers = 1 + ((data[0] >> 5) & 3);
	lim.header_line = (data[0] & 0x80) ? 2048 : 1024;
	seed = data[1];
	data += 2;
	size -= 2;
	mime_headers_init(&h);
	if (mime_parse_headers((const char *)data, size, &h, &off, perr, sizeof(perr)) != 0) {
		mime_headers_clear(&h);
		off = 0;
	}
	ct = mime_headers_find(&h, "Content-Type");
	cte = mime_headers_find(&h, "Content-Transfer-Encoding");
	whole = run(&lim, ct ? ct->value : NULL, cte ? cte->value : NULL, data + off, size - off, 0,
	    0, err, sizeof(err));
	FUZZ_CHECK(whole >= MIMESCAN_OK && whole <= MIMESCAN_HEADER_LINE, "result %d", whole);
	FUZZ_CHECK(whole == MIMESCAN_OK || strstr(err, keyword[whole]) != NULL,
	    "message \"%s\" does not name %s", err, keyword[whole]);
	r = run(&lim, ct ? ct->value : NULL, cte ? cte->value : NULL, data + off, size - off, seed,
	    23, err2, sizeof(err2));
	FUZZ_CHECK(r == whole && strcmp(err, err2) == 0, "chunked: %d \"%s\", whole: %d \"%s\"", r,
	    err2, whole, err);
	if (size - off <= 4096) {
		r = run(&lim, ct ? ct->value : NULL, cte ? cte->value : NULL, data + off,
		    size - off, 0, 1, err2, sizeof(err2));
		FUZZ_CHECK(r == whole && strcmp(err, err2) == 0,
		    "a byte at a time: %d \"%s\", whole: %d \"%s\"", r, err2, whole, err);
	}
	r = run(&big, ct ? ct->value : NULL, cte ? cte->value : NULL, data + off, size - off, 0, 0,
	    err2, sizeof(err2));
	FUZZ_CHECK(whole != MIMESCAN_OK || r == MIMESCAN_OK,
	    "within small limits but over the largest: \"%s\"", err2);
	mime_headers_clear(&h);
	return 0;
}
