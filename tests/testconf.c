/*
 * testconf.c - writing and loading a unit test's configuration.  See
 * testconf.h.
 */
#include "config.h"

#include "testconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testdir.h"

/* text with "@D" replaced by dir, to f */
static void
testconf_expand(FILE *f, const char *dir, const char *text)
{
	const char *p;

	for (p = text; p != NULL && *p != '\0'; p++) {
		if (p[0] == '@' && p[1] == 'D') {
			fputs(dir, f);
			p++;
		} else {
			fputc(*p, f);
		}
	}
}

const char *
testconf_write(const char *dir, const char *name, const char *head, const char *text)
{
	const char *path = testdir_path(dir, name);
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		fprintf(stderr, "testconf: cannot write %s\n", path);
		abort();
	}
	testconf_expand(f, dir, head);
	testconf_expand(f, dir, text);
	if (fclose(f) != 0 || chmod(path, 0600) != 0) {
		fprintf(stderr, "testconf: cannot write %s\n", path);
		abort();
	}
	return path;
}

void
testconf_report(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "%s\n", msg);
}

struct conf *
testconf_load(const char *dir, const char *name, const char *head, const char *text)
{
	const char *path = testconf_write(dir, name, head, text);
	struct conf *c = NULL;
	int n = conf_load(path, &c, testconf_report, NULL);

	if (n != 0 || c == NULL) {
		fprintf(stderr, "testconf: %s: %d errors\n", path, n);
		abort();
	}
	return c;
}
