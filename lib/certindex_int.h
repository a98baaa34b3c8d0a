/*
 * certindex_int.h - the parts of the certificate index shared by
 * certindex.c (addresses, lookups, validation) and certindex_scan.c
 * (reading directories and files).
 *
 * A scan keeps no parsed certificate: it reads each file once, finds its
 * certificates (PEM blocks or one DER) and takes from each, by walking its
 * DER, only what the index needs -- the addresses it names, whether it is
 * a CA, its notBefore -- without decoding the public key (which is what
 * makes OpenSSL 3's full parse slow and large).  A certificate is parsed
 * in full when it is first looked up, and kept (up to a bound).
 */
#ifndef SMIME_CERTINDEX_INT_H
#define SMIME_CERTINDEX_INT_H

#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/x509.h>

struct ci_entry;
struct ci_file;

struct ci_cert {
	struct ci_file *file;
	int k; /* the k-th certificate block of its file */
	time_t not_before;
	char **names;             /* addresses it names, normalised, NULL-terminated; owned */
	X509 *x;                  /* parsed on first use, NULL until then (cache lock) */
	unsigned long used;       /* tick of the last use, for eviction (cache lock) */
	struct ci_entry *entries; /* index entries pointing here (index lock) */
};

struct ci_file {
	char *name;   /* within its directory */
	unsigned gen; /* the last scan that saw it (the scanner's) */
	char *path;   /* directory/name */
	char *faddr;  /* the address the name gives, or NULL */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	struct ci_cert *certs; /* its end-entity certificates */
	size_t ncerts;
};

struct ci_dir {
	char *path;
	struct timespec mtime;  /* at the last scan */
	struct ci_file **files; /* in no order (lookups read it under the index lock) */
	size_t nfiles;
	/* the scanner's own: */
	struct ci_file **byname; /* files by name, open addressing */
	size_t ncap;
	unsigned gen;
	int wfd; /* inotify on the directory, or -1 */
};

/* What one rescan of a directory changed: files gone (or replaced), files new. */
struct ci_diff {
	struct ci_file **files; /* the directory's new list, sorted (installed by the caller) */
	size_t nfiles;
	struct ci_file **gone, **added;
	size_t ngone, nadded, capgone, capadded;
};

/* How a rescan finds what changed. */
enum ci_scan_mode {
	CI_SCAN_FULL,    /* stat every file: a file rewritten in place changes no directory entry */
	CI_SCAN_ENTRIES, /* read the directory, stat only names whose inode is new */
	CI_SCAN_EVENTS   /* only the names inotify reported */
};

/*
 * Read d again (certindex_dir.c).  Unchanged files are kept as they are.
 * diff gets the new list and what changed: the caller installs diff->files
 * in d and updates the index (under its write lock, as lookups read
 * d->files), then frees the old list and diff->gone.  With CI_SCAN_EVENTS
 * a lost event (queue overflow) turns into a full scan.
 */
int ci_scan_dir(struct ci_dir *d, enum ci_scan_mode mode, struct ci_diff *diff, char *err,
    size_t errlen);

/* Start watching d with inotify (d->wfd stays -1 where it cannot). */
void ci_watch(struct ci_dir *d);

/* Nonzero when inotify has events for d waiting (nothing is read). */
int ci_watch_pending(const struct ci_dir *d);

/* The scanner's state of d (name table, watch). */
void ci_dir_clear(struct ci_dir *d);

/* A new ci_file for dirfd/name as st describes it, read and walked now; NULL when out of memory. */
struct ci_file *ci_file_read(int dirfd, const char *dir, const char *name, const struct stat *st);

void ci_diff_clear(struct ci_diff *diff);
void ci_file_free(struct ci_file *f);

/*
 * Every certificate of f's file, parsed, or NULL when the file cannot be
 * read or has changed since it was scanned (the next rescan takes it up).
 */
STACK_OF(X509) *ci_load_file(const struct ci_file *f);

/* Lower-case the domain part of an address in place. */
void ci_normalise(char *addr);

#endif
