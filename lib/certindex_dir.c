/*
 * certindex_dir.c - rescanning a certificate directory for the index:
 * which files are new, changed or gone, reading only those.  See
 * certindex_int.h.
 *
 * Three ways to find the changes, cheapest first: inotify's events name
 * the files written, renamed or removed (CI_SCAN_EVENTS); a changed
 * directory mtime means entries were added, renamed or removed, found by
 * reading the directory and comparing inode numbers (CI_SCAN_ENTRIES); a
 * file rewritten in place changes neither, so without inotify every file
 * is stat'ed now and then (CI_SCAN_FULL).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "certindex_int.h"
#include "errmsg.h"
#include "strhash.h"

#define CI_MAX_FILE (4 * 1024 * 1024)
#define CI_WATCH_EVENTS                                                                     \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB | \
	    IN_DELETE_SELF | IN_MOVE_SELF)

static struct ci_file *
ci_byname(const struct ci_dir *d, const char *name)
{
	size_t i;

	if (d->ncap == 0)
		return NULL;
	for (i = strhash(name) & (d->ncap - 1); d->byname[i] != NULL; i = (i + 1) & (d->ncap - 1))
		if (strcmp(d->byname[i]->name, name) == 0)
			return d->byname[i];
	return NULL;
}

/* The name table for files (d->byname keeps the old one if memory runs out). */
static void
ci_byname_build(struct ci_dir *d, struct ci_file **files, size_t n)
{
	size_t cap = 64, i, j;
	struct ci_file **t;

	while (cap < 2 * n)
		cap *= 2;
	t = calloc(cap, sizeof(*t));
	if (t == NULL)
		return;
	for (i = 0; i < n; i++) {
		for (j = strhash(files[i]->name) & (cap - 1); t[j] != NULL; j = (j + 1) & (cap - 1))
			;
		t[j] = files[i];
	}
	free(d->byname);
	d->byname = t;
	d->ncap = cap;
}

static int
ci_push(struct ci_file ***v, size_t *n, size_t *cap, struct ci_file *f)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		struct ci_file **nv = realloc(*v, c * sizeof(*nv));
		if (nv == NULL)
			return -1;
		*v = nv;
		*cap = c;
	}
	(*v)[(*n)++] = f;
	return 0;
}

void
ci_diff_clear(struct ci_diff *diff)
{
	free(diff->gone);
	free(diff->added);
	memset(diff, 0, sizeof(*diff));
}

static int
ci_same(const struct ci_file *o, const struct stat *st)
{
	return o->dev == st->st_dev && o->ino == st->st_ino && o->size == st->st_size &&
	    o->mtime.tv_sec == st->st_mtim.tv_sec && o->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	    o->ctime.tv_sec == st->st_ctim.tv_sec && o->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

/*
 * The file now at name: o itself when unchanged, a new one (also put in
 * diff->added) when new or changed, NULL when there is none (or no memory).
 */
static struct ci_file *
ci_visit(struct ci_dir *d, int dfd, const char *name, struct ci_file *o, struct ci_diff *diff)
{
	struct ci_file *f;
	struct stat st;

	if (fstatat(dfd, name, &st, 0) != 0 || !S_ISREG(st.st_mode) || st.st_size > CI_MAX_FILE)
		return NULL;
	if (o != NULL && ci_same(o, &st))
		return o;
	f = ci_file_read(dfd, d->path, name, &st);
	if (f != NULL && ci_push(&diff->added, &diff->nadded, &diff->capadded, f) != 0) {
		ci_file_free(f);
		f = NULL;
	}
	return f;
}

/* Every entry of the directory (CI_SCAN_FULL, CI_SCAN_ENTRIES) into diff->files. */
static int
ci_read_entries(struct ci_dir *d, DIR *dp, int full, struct ci_diff *diff)
{
	size_t cap = 0;
	struct dirent *de;

	while ((de = readdir(dp)) != NULL) {
		struct ci_file *o, *f;
		if (de->d_name[0] == '.')
			continue;
		o = ci_byname(d, de->d_name);
		if (o != NULL && o->gen == d->gen)
			continue; /* a name seen twice in one scan */
		if (o != NULL && !full && o->ino == de->d_ino)
			f = o; /* the same inode under the same name: the same file */
		else if ((f = ci_visit(d, dirfd(dp), de->d_name, o, diff)) == NULL)
			continue;
		f->gen = d->gen;
		if (ci_push(&diff->files, &diff->nfiles, &cap, f) != 0)
			return -1;
	}
	return 0;
}

#define CI_EVENT_NAMES 1024 /* more distinct names in one go: read the directory instead */

/* The distinct names inotify reported into names; -1 when events were lost or too many. */
static int
ci_event_names(struct ci_dir *d, char **names, size_t *n)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t len;
	size_t i;

	for (;;) {
		char *p;
		len = read(d->wfd, buf, sizeof(buf));
		if (len < 0 && errno == EINTR)
			continue;
		if (len <= 0)
			return 0;
		for (p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if (ev->mask & (IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
				return -1;
			if (ev->len == 0 || ev->name[0] == '.')
				continue;
			for (i = 0; i < *n && strcmp(names[i], ev->name) != 0; i++)
				;
			if (i < *n)
				continue;
			if (*n == CI_EVENT_NAMES || (names[*n] = strdup(ev->name)) == NULL)
				return -1;
			(*n)++;
		}
	}
}

/* The files inotify named, looked at again; the others kept.  -1: scan in full. */
static int
ci_read_events(struct ci_dir *d, DIR *dp, struct ci_diff *diff)
{
	char *names[CI_EVENT_NAMES];
	size_t n = 0, cap = 0, i;
	int rc = ci_event_names(d, names, &n);

	for (i = 0; rc == 0 && i < n; i++) {
		struct ci_file *o = ci_byname(d, names[i]), *f;
		f = ci_visit(d, dirfd(dp), names[i], o, diff);
		if (o != NULL && f != o)
			o->gen = d->gen - 1; /* replaced or gone: not kept below */
	}
	while (n > 0)
		free(names[--n]);
	if (rc != 0)
		return -1;
	/* the old list without what is gone, then what is new */
	for (i = 0; i < d->nfiles; i++)
		if (d->files[i]->gen != d->gen - 1 &&
		    ci_push(&diff->files, &diff->nfiles, &cap, d->files[i]) != 0)
			return -1;
	for (i = 0; i < diff->nadded; i++)
		if (ci_push(&diff->files, &diff->nfiles, &cap, diff->added[i]) != 0)
			return -1;
	for (i = 0; i < diff->nfiles; i++)
		diff->files[i]->gen = d->gen;
	return 0;
}

static void
ci_scan_undo(struct ci_diff *diff)
{
	size_t i;

	for (i = 0; i < diff->nadded; i++)
		ci_file_free(diff->added[i]);
	free(diff->files);
	ci_diff_clear(diff);
}

int
ci_scan_dir(struct ci_dir *d, enum ci_scan_mode mode, struct ci_diff *diff, char *err,
    size_t errlen)
{
	struct stat st;
	size_t i;
	DIR *dp;
	int rc;

	memset(diff, 0, sizeof(*diff));
	if ((dp = opendir(d->path)) == NULL || fstat(dirfd(dp), &st) != 0) {
		errmsg_set(err, errlen, "certificate directory %s: %s", d->path, strerror(errno));
		if (dp != NULL)
			closedir(dp);
		return -1;
	}
	d->mtime = st.st_mtim;
	d->gen += 2; /* gen - 1 marks files gone in an event scan */
	if (mode == CI_SCAN_EVENTS && d->wfd >= 0) {
		rc = ci_read_events(d, dp, diff);
		if (rc != 0) { /* events lost: what changed is unknown */
			ci_scan_undo(diff);
			d->gen += 2;
			rewinddir(dp);
			rc = ci_read_entries(d, dp, 1, diff);
		}
	} else {
		if (mode == CI_SCAN_FULL && d->wfd >= 0) { /* drop events the full scan covers */
			char buf[4096];
			while (read(d->wfd, buf, sizeof(buf)) > 0)
				;
		}
		rc = ci_read_entries(d, dp, mode == CI_SCAN_FULL, diff);
	}
	closedir(dp);
	if (rc != 0) {
		ci_scan_undo(diff);
		errmsg_set(err, errlen, "certificate directory %s: out of memory", d->path);
		return -1;
	}
	for (i = 0; i < d->nfiles; i++)
		if (d->files[i]->gen != d->gen)
			(void)ci_push(&diff->gone, &diff->ngone, &diff->capgone, d->files[i]);
	ci_byname_build(d, diff->files, diff->nfiles);
	return 0;
}

void
ci_watch(struct ci_dir *d)
{
	d->wfd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (d->wfd >= 0 && inotify_add_watch(d->wfd, d->path, CI_WATCH_EVENTS) < 0) {
		close(d->wfd);
		d->wfd = -1;
	}
}

int
ci_watch_pending(const struct ci_dir *d)
{
	struct pollfd p = {d->wfd, POLLIN, 0};

	return d->wfd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

void
ci_dir_clear(struct ci_dir *d)
{
	if (d->wfd >= 0)
		close(d->wfd);
	d->wfd = -1;
	free(d->byname);
	d->byname = NULL;
	d->ncap = 0;
}
