/*
 * blockbuf.h - filling a fixed-size block from a stream of bytes: the one
 * loop behind every "collect bytes until a block is full, then process the
 * block" of the streaming code (a base64 line, a group of three bytes, an
 * output buffer).
 */
#ifndef SMIME_BLOCKBUF_H
#define SMIME_BLOCKBUF_H

#include <stddef.h>

/*
 * Copy from *src (*srclen bytes, borrowed) into block (cap bytes, *have of
 * them used) until the block is full or the input is used up; *src,
 * *srclen and *have advance.  Returns 1 when the block is full (the caller
 * processes it and sets *have to 0), 0 when the input ran out first.
 */
int blockbuf_fill(unsigned char *block, size_t cap, size_t *have, const unsigned char **src,
    size_t *srclen);

#endif
