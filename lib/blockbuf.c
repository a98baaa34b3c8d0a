/*
 * blockbuf.c - filling a fixed-size block from a stream.  See blockbuf.h.
 */
#include "config.h"

#include <string.h>

#include "blockbuf.h"

int
blockbuf_fill(unsigned char *block, size_t cap, size_t *have, const unsigned char **src,
    size_t *srclen)
{
	size_t take = cap - *have;

	if (take > *srclen)
		take = *srclen;
	if (take > 0) {
		memcpy(block + *have, *src, take);
		*have += take;
		*src += take;
		*srclen -= take;
	}
	return *have == cap;
}
