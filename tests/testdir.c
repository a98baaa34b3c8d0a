/*
 * testdir.c - a unit test's private temporary directory.  See testdir.h.
 */
#include "config.h"

#include "testdir.h"

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void
testdir_fail(const char *what, const char *path)
{
	fprintf(stderr, "testdir: %s %s failed\n", what, path);
	abort();
}

void
testdir_make(char *dir, size_t len, const char *name)
{
	const char *tmp = getenv("TMPDIR");

	if ((size_t)snprintf(dir, len, "%s/%s.XXXXXX", tmp != NULL ? tmp : "/tmp", name) >= len)
		testdir_fail("naming", name);
	if (mkdtemp(dir) == NULL)
		testdir_fail("mkdtemp", dir);
}

static int
testdir_remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
testdir_remove(const char *dir)
{
	if (dir[0] != '\0' && nftw(dir, testdir_remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		testdir_fail("removing", dir);
}

const char *
testdir_path(const char *dir, const char *name)
{
	static char paths[8][PATH_MAX + 64];
	static unsigned next;
	char *p = paths[next++ % 8];

	if ((size_t)snprintf(p, sizeof(paths[0]), "%s/%s", dir, name) >= sizeof(paths[0]))
		testdir_fail("naming", name);
	return p;
}

void
testdir_write(const char *path, const char *content, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(content, f) < 0 || fclose(f) != 0)
		testdir_fail("writing", path);
	if (chmod(path, mode) != 0)
		testdir_fail("chmod", path);
}
