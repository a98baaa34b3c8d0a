/*
 * secbuf.h - a growable byte buffer for bytes that may be secret
 * (plaintext of a message, its header block, credentials).
 *
 * When the buffer grows, the old memory is wiped before it is freed, and
 * secbuf_free wipes the whole allocation: no copy of what it held is left
 * in freed memory.  The bytes stay NUL-terminated (data[len] is '\0' once
 * anything was appended), so text in it can be used as a string.
 *
 * Ownership: the struct is the caller's; data belongs to the buffer until
 * the caller takes it (then the caller wipes and frees it).  A buffer that
 * failed to grow keeps what it had, sets failed and refuses further
 * appends, so a series of appends can be checked once at the end.
 */
#ifndef SMIME_SECBUF_H
#define SMIME_SECBUF_H

#include <stddef.h>

struct secbuf {
	char *data; /* NULL until the first append */
	size_t len; /* bytes held, without the terminating NUL */
	size_t cap; /* bytes allocated */
	int failed; /* an append ran out of memory */
};

#define SECBUF_INIT           \
	{                     \
		NULL, 0, 0, 0 \
	}

void secbuf_init(struct secbuf *b);

/* Append len bytes.  0, or -1 (out of memory, or failed before). */
int secbuf_append(struct secbuf *b, const void *data, size_t len);

/* Append a string without its NUL. */
int secbuf_puts(struct secbuf *b, const char *s);

/* Wipe and free what b holds; b is empty (and usable) again. */
void secbuf_free(struct secbuf *b);

#endif
