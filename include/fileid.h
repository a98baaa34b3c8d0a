/*
 * fileid.h - the identity of a file as stat(2) sees it: device, inode,
 * size, modification time and status-change time.
 *
 * Caches of things read from files (parsed keys, certificates) keep the
 * identity of the file they read and use what they hold only while a
 * fresh stat gives the same identity.  A write, a replacement (a new file
 * renamed over the old one), a chmod or a chown changes it (the last two
 * through ctime), so a cache never serves stale contents, nor a key whose
 * file has since become readable by others.
 */
#ifndef SMIME_FILEID_H
#define SMIME_FILEID_H

#include <sys/stat.h>
#include <time.h>

struct fileid {
	int present; /* 0: no file (every other field 0) */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

/* The identity of what st describes; st NULL: no file. */
void fileid_of(struct fileid *id, const struct stat *st);

/* Nonzero when a and b are the same file in the same state (or both no file). */
int fileid_eq(const struct fileid *a, const struct fileid *b);

#endif
