/*
 * filecache.c - path-keyed, stat-validated object cache.  See filecache.h.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filecache.h"
#include "fileid.h"
#include "strhash.h"

#define FILECACHE_BUCKETS 1024

struct fcentry {
	struct fcentry *next;
	char *path;
	struct fileid sig, sig2;
	void *obj;
};

struct filecache {
	pthread_mutex_t lock;
	struct fcentry *buckets[FILECACHE_BUCKETS];
	size_t count, max;
	filecache_dup_fn dup;
	filecache_release_fn release;
};

static uint32_t
filecache_hash(const char *s)
{
	return strhash(s) % FILECACHE_BUCKETS;
}

filecache *
filecache_new(size_t max_entries, filecache_dup_fn dup, filecache_release_fn release)
{
	filecache *fc = calloc(1, sizeof(*fc));

	if (fc == NULL)
		return NULL;
	pthread_mutex_init(&fc->lock, NULL);
	fc->max = max_entries;
	fc->dup = dup;
	fc->release = release;
	return fc;
}

static void
filecache_drop(filecache *fc, struct fcentry *e)
{
	fc->release(e->obj);
	free(e->path);
	free(e);
	fc->count--;
}

void *
filecache_get(filecache *fc, const char *path, const struct stat *st, const struct stat *st2)
{
	struct fileid sig, sig2;
	struct fcentry *e;
	void *obj = NULL;

	fileid_of(&sig, st);
	fileid_of(&sig2, st2);
	pthread_mutex_lock(&fc->lock);
	for (e = fc->buckets[filecache_hash(path)]; e != NULL; e = e->next) {
		if (strcmp(e->path, path) == 0) {
			if (fileid_eq(&e->sig, &sig) && fileid_eq(&e->sig2, &sig2))
				obj = fc->dup(e->obj);
			break;
		}
	}
	pthread_mutex_unlock(&fc->lock);
	return obj;
}

void
filecache_put(filecache *fc, const char *path, const struct stat *st, const struct stat *st2,
    void *obj)
{
	uint32_t h = filecache_hash(path);
	struct fcentry *e, **pp;
	size_t i;

	e = calloc(1, sizeof(*e));
	if (e == NULL || (e->path = strdup(path)) == NULL) {
		free(e);
		fc->release(obj);
		return;
	}
	fileid_of(&e->sig, st);
	fileid_of(&e->sig2, st2);
	e->obj = obj;
	pthread_mutex_lock(&fc->lock);
	for (pp = &fc->buckets[h]; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->path, path) == 0) {
			struct fcentry *old = *pp;
			*pp = old->next;
			filecache_drop(fc, old);
			break;
		}
	}
	if (fc->count >= fc->max) { /* full: start over rather than grow */
		for (i = 0; i < FILECACHE_BUCKETS; i++) {
			while (fc->buckets[i] != NULL) {
				struct fcentry *old = fc->buckets[i];
				fc->buckets[i] = old->next;
				filecache_drop(fc, old);
			}
		}
	}
	e->next = fc->buckets[h];
	fc->buckets[h] = e;
	fc->count++;
	pthread_mutex_unlock(&fc->lock);
}

void
filecache_free(filecache *fc)
{
	size_t i;

	if (fc == NULL)
		return;
	for (i = 0; i < FILECACHE_BUCKETS; i++) {
		while (fc->buckets[i] != NULL) {
			struct fcentry *old = fc->buckets[i];
			fc->buckets[i] = old->next;
			filecache_drop(fc, old);
		}
	}
	pthread_mutex_destroy(&fc->lock);
	free(fc);
}
