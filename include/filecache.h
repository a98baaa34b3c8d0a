/*
 * filecache.h - a thread-safe cache of objects parsed from files, keyed by
 * path and validated by the file's identity (fileid.h: device, inode,
 * size, mtime, ctime): a file that is replaced, edited or chmod'ed is read
 * again, so the cache never serves stale keys or certificates and needs no
 * reload.
 *
 * The cache owns what is stored; callers get their own reference through
 * the dup function given at creation.
 */
#ifndef SMIME_FILECACHE_H
#define SMIME_FILECACHE_H

#include <sys/stat.h>

typedef struct filecache filecache;

/* dup: a new reference to obj (caller's); release: drop the cache's one. */
typedef void *(*filecache_dup_fn)(void *obj);
typedef void (*filecache_release_fn)(void *obj);

/* A new empty cache holding at most max_entries.  NULL when out of memory. */
filecache *filecache_new(size_t max_entries, filecache_dup_fn dup, filecache_release_fn release);

/*
 * The object cached for path when the file(s) still look like st (and st2,
 * a second file the object was made from, or NULL): a new reference, or
 * NULL on a miss.
 */
void *filecache_get(filecache *fc, const char *path, const struct stat *st, const struct stat *st2);

/* Store obj for path (the cache takes obj over); replaces an older entry. */
void filecache_put(filecache *fc, const char *path, const struct stat *st, const struct stat *st2,
    void *obj);

/* Drop everything and free the cache; NULL is allowed. */
void filecache_free(filecache *fc);

#endif
