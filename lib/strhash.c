/*
 * strhash.c - 32-bit FNV-1a over a NUL-terminated string.  See strhash.h.
 */
#include "config.h"

#include "strhash.h"

uint32_t
strhash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}
