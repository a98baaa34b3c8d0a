/*
 * testdir.h - the private temporary directory of a unit test: made fresh
 * under $TMPDIR (or /tmp), files written into it with a chosen mode, and
 * removed with everything in it.  The fixtures of every check_*.c use it
 * (in tests/libtestpki.la, with testpki.h); every function abort()s on
 * failure, so a test never runs in a half-made directory.
 */
#ifndef SMIME_TESTDIR_H
#define SMIME_TESTDIR_H

#include <stddef.h>
#include <sys/types.h>

/* Make $TMPDIR/NAME.XXXXXX and put its path into dir[len]. */
void testdir_make(char *dir, size_t len, const char *name);

/* Remove dir and everything below it (symbolic links are not followed). */
void testdir_remove(const char *dir);

/* "dir/name", in one of 8 static buffers (the ninth call reuses the first). */
const char *testdir_path(const char *dir, const char *name);

/* Write content to path (created or truncated) and give it mode. */
void testdir_write(const char *path, const char *content, mode_t mode);

#endif
