/*
 * secbuf.c - a growable buffer that wipes what it leaves behind.  See
 * secbuf.h.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "secbuf.h"

#define SECBUF_MIN_CAP 1024

void
secbuf_init(struct secbuf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->failed = 0;
}

/* Room for need bytes: a new allocation, the old one copied, wiped and freed. */
static int
secbuf_grow(struct secbuf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : SECBUF_MIN_CAP;
	char *p;

	while (cap < need) {
		if (cap > SIZE_MAX / 2)
			return -1;
		cap *= 2;
	}
	p = malloc(cap);
	if (p == NULL)
		return -1;
	if (b->data != NULL) {
		memcpy(p, b->data, b->len);
		OPENSSL_cleanse(b->data, b->cap);
		free(b->data);
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

int
secbuf_append(struct secbuf *b, const void *data, size_t len)
{
	if (b->failed)
		return -1;
	if (len > SIZE_MAX - b->len - 1 ||
	    (b->len + len + 1 > b->cap && secbuf_grow(b, b->len + len + 1) != 0)) {
		b->failed = 1;
		return -1;
	}
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int
secbuf_puts(struct secbuf *b, const char *s)
{
	return secbuf_append(b, s, strlen(s));
}

void
secbuf_free(struct secbuf *b)
{
	if (b->data != NULL) {
		OPENSSL_cleanse(b->data, b->cap);
		free(b->data);
	}
	secbuf_init(b);
}
