/*
 * fileid.c - file identity for caches.  See fileid.h.
 */
#include "config.h"

#include <string.h>

#include "fileid.h"

void
fileid_of(struct fileid *id, const struct stat *st)
{
	memset(id, 0, sizeof(*id));
	if (st == NULL)
		return;
	id->present = 1;
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime = st->st_mtim;
	id->ctime = st->st_ctim;
}

static int
same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

int
fileid_eq(const struct fileid *a, const struct fileid *b)
{
	return a->present == b->present && a->dev == b->dev && a->ino == b->ino &&
	    a->size == b->size && same_time(&a->mtime, &b->mtime) &&
	    same_time(&a->ctime, &b->ctime);
}
