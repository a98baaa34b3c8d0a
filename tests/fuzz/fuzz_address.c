/*
 * fuzz_address.c - libFuzzer target: address extraction from From/To/Cc
 * values and envelope addresses (mime_extract_address) and the check that
 * an address may name a file (mime_address_is_safe).
 *
 * Input: one byte choosing the output bound, then the header value.
 * Invariants checked, beyond "no crash":
 *   - a result is NUL-terminated within the bound, holds one '@', is
 *     safe as a file name component (mime_address_is_safe) and has a
 *     lower-case domain;
 *   - it occurs in the value as written (domain compared case-blind);
 *   - extracting again from the result gives the result (idempotent), and
 *     so does extracting from "<result>" and "Name <result>";
 *   - a larger bound never loses an address a smaller bound found, and
 *     finds the same one.
 */
#include "config.h"

#include <ctype.h>
#include <strings.h>

#include "fuzz_common.h"
#include "mime.h"

#define ADDR_MAX 320

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

/* addr occurs in value: local part exactly, domain case-blind. */
static int
occurs_in(const char *value, const char *addr)
{
	size_t n = strlen(addr), vl = strlen(value), i, at = (size_t)(strchr(addr, '@') - addr);

	for (i = 0; i + n <= vl; i++)
		if (memcmp(value + i, addr, at) == 0 &&
		    strncasecmp(value + i + at, addr + at, n - at) == 0)
			return 1;
	return 0;
}

static void
check_result(const char *value, const char *addr, size_t bound)
{
	const char *at = strchr(addr, '@'), *s;
	char again[ADDR_MAX + 1], wrapped[ADDR_MAX + 16];

	FUZZ_CHECK(strlen(addr) < bound, "result of %zu bytes for a bound of %zu", strlen(addr),
	    bound);
	FUZZ_CHECK(at != NULL && strchr(at + 1, '@') == NULL, "not one '@': %s", addr);
	FUZZ_CHECK(mime_address_is_safe(addr), "unsafe result: %s", addr);
	for (s = at; *s != '\0'; s++)
		FUZZ_CHECK(!isupper((unsigned char)*s), "domain not lower-case: %s", addr);
	FUZZ_CHECK(occurs_in(value, addr), "result %s does not occur in the value", addr);
	FUZZ_CHECK(mime_extract_address(addr, again, sizeof(again)) == 0 &&
	        strcmp(again, addr) == 0,
	    "not idempotent: %s", addr);
	snprintf(wrapped, sizeof(wrapped), "<%s>", addr);
	FUZZ_CHECK(mime_extract_address(wrapped, again, sizeof(again)) == 0 &&
	        strcmp(again, addr) == 0,
	    "<%s> gives something else", addr);
	snprintf(wrapped, sizeof(wrapped), "Name <%s>", addr);
	FUZZ_CHECK(mime_extract_address(wrapped, again, sizeof(again)) == 0 &&
	        strcmp(again, addr) == 0,
	    "Name <%s> gives something else", addr);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *value, small[ADDR_MAX + 1], big[ADDR_MAX + 1];
	size_t bound;
	int rs, rb;

	if (size < 1)
		return 0;
	bound = 1 + data[0] % ADDR_MAX;
	value = malloc(size);
	FUZZ_CHECK(value != NULL, "out of memory");
	memcpy(value, data + 1, size - 1);
	value[size - 1] = '\0'; /* values reach the parser as C strings */

	rs = mime_extract_address(value, small, bound);
	rb = mime_extract_address(value, big, sizeof(big));
	FUZZ_CHECK(rs == 0 || rs == -1, "return %d", rs);
	if (rs == 0) {
		check_result(value, small, bound);
		FUZZ_CHECK(rb == 0 && strcmp(small, big) == 0,
		    "a larger bound gives another address");
	}
	if (rb == 0)
		check_result(value, big, sizeof(big));
	(void)mime_address_is_safe(value);
	free(value);
	return 0;
}
