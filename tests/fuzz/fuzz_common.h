/*
 * fuzz_common.h - helpers shared by the libFuzzer targets of tests/fuzz:
 * an invariant check that stops the run with the reason (libFuzzer then
 * keeps the input as a crash artifact), spools filled from and drained
 * into plain buffers, a splitter that cuts the fuzz input into fields,
 * and plain base64 / quoted-printable decoders that check their input.
 *
 * Header-only (static functions): each target is one translation unit.
 */
#ifndef SMIME_FUZZ_COMMON_H
#define SMIME_FUZZ_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An invariant that does not hold: print why and abort (a crash for libFuzzer). */
static void fuzz_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn, unused));
static void
fuzz_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: invariant broken: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

#define FUZZ_CHECK(cond, ...)                                       \
	do {                                                        \
		if (!(cond))                                        \
			fuzz_fail(__FILE__, __LINE__, __VA_ARGS__); \
	} while (0)

/* Library logging would only slow the run down. */
static void __attribute__((unused)) fuzz_quiet(void)
{
	log_open("fuzz", LOG_TO_STDERR, 0);
	log_set_level(LOG_EMERG);
}

/* A growable byte buffer. */
struct fbuf {
	unsigned char *p;
	size_t len, cap;
};

static void __attribute__((unused)) fbuf_add(struct fbuf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t cap = (b->len + len + 1) * 2;
		unsigned char *p = realloc(b->p, cap);
		FUZZ_CHECK(p != NULL, "out of memory");
		b->p = p;
		b->cap = cap;
	}
	if (len > 0)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static void __attribute__((unused)) fbuf_adds(struct fbuf *b, const char *s)
{
	fbuf_add(b, s, strlen(s));
}

static void __attribute__((unused)) fbuf_free(struct fbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* An in-memory spool holding data (or spilling past mem_limit).  Never NULL. */
static spool *__attribute__((unused))
fuzz_spool_from(const void *data, size_t len, size_t mem_limit)
{
	char err[256];
	spool *sp = spool_new(mem_limit, NULL);

	FUZZ_CHECK(sp != NULL, "spool_new failed");
	FUZZ_CHECK(spool_write(sp, data, len, err, sizeof(err)) == 0, "spool_write: %s", err);
	return sp;
}

/* Everything a spool holds, from the start. */
static void __attribute__((unused)) fuzz_spool_drain(spool *sp, struct fbuf *out)
{
	unsigned char buf[8192];
	char err[256];
	ssize_t n;

	FUZZ_CHECK(spool_rewind(sp, err, sizeof(err)) == 0, "spool_rewind: %s", err);
	while ((n = spool_read(sp, buf, sizeof(buf), err, sizeof(err))) > 0)
		fbuf_add(out, buf, (size_t)n);
	FUZZ_CHECK(n == 0, "spool_read: %s", err);
	FUZZ_CHECK(out->len == spool_size(sp), "spool gave back %zu of %llu bytes", out->len,
	    (unsigned long long)spool_size(sp));
}

/* First occurrence of needle (nlen bytes) in hay, or NULL. */
static const unsigned char *__attribute__((unused))
fuzz_memmem(const void *hay, size_t len, const void *needle, size_t nlen)
{
	const unsigned char *h = hay;
	size_t i;

	if (nlen == 0 || nlen > len)
		return NULL;
	for (i = 0; i + nlen <= len; i++)
		if (h[i] == *(const unsigned char *)needle && memcmp(h + i, needle, nlen) == 0)
			return h + i;
	return NULL;
}

/*
 * Cut data at the first occurrence of the separator byte sequence sep:
 * a and alen get what is before it, b and blen what follows.  Without a separator everything
 * goes to a and b is empty.
 */
static void __attribute__((unused)) fuzz_split(const uint8_t *data, size_t size, const char *sep,
    const uint8_t **a, size_t *alen, const uint8_t **b, size_t *blen)
{
	const unsigned char *s = fuzz_memmem(data, size, sep, strlen(sep));

	*a = data;
	if (s == NULL) {
		*alen = size;
		*b = data + size;
		*blen = 0;
		return;
	}
	*alen = (size_t)(s - data);
	*b = s + strlen(sep);
	*blen = size - *alen - strlen(sep);
}

static int
fuzz_b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Strict base64 of CRLF-separated lines: only the alphabet, '=' padding
 * at the very end.  0 with the bytes appended to out, or -1.
 */
static int __attribute__((unused))
fuzz_b64_decode(const unsigned char *p, size_t len, struct fbuf *out)
{
	unsigned v = 0;
	int bits = 0, pad = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		int d;
		if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n') {
			i++;
			continue;
		}
		if (p[i] == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || (d = fuzz_b64_value(p[i])) < 0)
			return -1;
		v = (v << 6) | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			unsigned char c = (unsigned char)(v >> (bits - 8));
			bits -= 8;
			fbuf_add(out, &c, 1);
		}
	}
	return pad <= 2 ? 0 : -1;
}

static int
fuzz_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Quoted-printable (RFC 2045 6.7): "=XX" (upper-case hex), "=" CRLF soft
 * breaks, CRLF hard breaks, printable ASCII otherwise.  0 or -1.
 */
static int __attribute__((unused))
fuzz_qp_decode(const unsigned char *p, size_t len, struct fbuf *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] == '=') {
			int h, l;
			unsigned char c;
			if (i + 2 < len && p[i + 1] == '\r' && p[i + 2] == '\n') {
				i += 2;
				continue;
			}
			if (i + 2 >= len)
				return -1;
			h = fuzz_hex(p[i + 1]);
			l = fuzz_hex(p[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			c = (unsigned char)(h * 16 + l);
			fbuf_add(out, &c, 1);
			i += 2;
			continue;
		}
		if (p[i] == '\r') {
			if (i + 1 >= len || p[i + 1] != '\n')
				return -1;
			fbuf_add(out, "\r\n", 2);
			i++;
			continue;
		}
		if (p[i] < 0x20 && p[i] != '\t')
			return -1;
		if (p[i] >= 0x7f)
			return -1;
		fbuf_add(out, &p[i], 1);
	}
	return 0;
}

/* Nonzero when every byte is 7-bit, no NUL, no bare CR or LF, no line over maxline octets. */
static int __attribute__((unused))
fuzz_is_7bit(const unsigned char *p, size_t len, size_t maxline, size_t *bad)
{
	size_t i, col = 0;

	for (i = 0; i < len; i++) {
		if (p[i] == 0 || p[i] >= 0x80)
			goto no;
		if (p[i] == '\r') {
			if (i + 1 >= len || p[i + 1] != '\n')
				goto no;
			i++;
			col = 0;
			continue;
		}
		if (p[i] == '\n' || ++col > maxline)
			goto no;
	}
	return 1;
no:
	*bad = i;
	return 0;
}

#endif
