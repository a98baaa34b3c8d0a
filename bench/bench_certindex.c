/*
 * bench_certindex.c - the recipient certificate index at scale, for
 * bench/certstore.sh: start-up indexing time, memory, lookup time per
 * address (hit and miss, first and repeated), and the cost of a rescan
 * after one file changes.
 *
 *   bench_certindex CA_FILE COUNT PREFIX LOOKUPS CERT_DIR [HARVEST_DIR]
 *
 * COUNT and PREFIX describe CERT_DIR as bench/gencerts made it.  Prints
 * one "name: value" line per figure, each with its target.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certindex.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* VmRSS of this process in kB. */
static long
rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return kb;
}

static void
addr_of(char *out, size_t len, const char *prefix, long i)
{
	snprintf(out, len, "%s%06ld@d%03ld.example", prefix, i, i % 997);
}

/* Mean microseconds per lookup of n addresses of the first count; want: expected result. */
static double
lookups(certindex *ci, const char *prefix, long count, long n, unsigned seed,
    enum certstore_result want)
{
	char addr[256], reason[512];
	double t0, t;
	long j;

	srand(seed);
	t0 = now();
	for (j = 0; j < n; j++) {
		X509 *x = NULL;
		addr_of(addr, sizeof(addr), prefix, rand() % count);
		if (certindex_find(ci, addr, &x, reason, sizeof(reason)) != want) {
			fprintf(stderr, "bench_certindex: %s: unexpected result: %s\n", addr,
			    reason);
			exit(1);
		}
		X509_free(x);
	}
	t = now() - t0;
	return 1e6 * t / (double)n;
}

/* Milliseconds of the lookup of addr that sees the change (it rescans). */
static double
timed_find(certindex *ci, const char *addr, enum certstore_result want)
{
	char reason[512];
	X509 *x = NULL;
	double t0 = now(), t;

	if (certindex_find(ci, addr, &x, reason, sizeof(reason)) != want) {
		fprintf(stderr, "bench_certindex: %s: unexpected result: %s\n", addr, reason);
		exit(1);
	}
	t = now() - t0;
	X509_free(x);
	return 1e3 * t;
}

static int
copy_file(const char *from, const char *to)
{
	char buf[8192];
	size_t n;
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	int rc = in != NULL && out != NULL ? 0 : -1;

	while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	if (in != NULL)
		fclose(in);
	if (out != NULL && fclose(out) != 0)
		rc = -1;
	return rc;
}

static const char *
met(int ok)
{
	return ok ? "MET" : "NOT MET";
}

int
main(int argc, char **argv)
{
	const char *dirs[3] = {NULL, NULL, NULL};
	struct certindex_options co = {NULL, NULL};
	char err[512], a[256], from[4096], to[4200];
	long count, n, rss0, rss1;
	double t0, t_open, first, again, miss, t_add, t_edit, t_full, rss;
	certindex *ci;

	if (argc < 6) {
		fprintf(stderr,
		    "usage: bench_certindex CA_FILE COUNT PREFIX LOOKUPS CERT_DIR [HARVEST_DIR]\n");
		return 2;
	}
	co.ca_file = argv[1];
	count = strtol(argv[2], NULL, 10);
	n = strtol(argv[4], NULL, 10);
	dirs[0] = argv[5];
	dirs[1] = argc > 6 ? argv[6] : NULL;
	rss0 = rss_kb();
	t0 = now();
	ci = certindex_open(dirs, &co, err, sizeof(err));
	t_open = now() - t0;
	rss1 = rss_kb();
	if (ci == NULL) {
		fprintf(stderr, "bench_certindex: %s\n", err);
		return 1;
	}
	first = lookups(ci, argv[3], count, n, 1, CERTSTORE_FOUND);
	/* a working set of 5,000 recipients, looked up again and again */
	(void)lookups(ci, argv[3], count < 5000 ? count : 5000, n, 3, CERTSTORE_FOUND);
	again = lookups(ci, argv[3], count < 5000 ? count : 5000, n, 4, CERTSTORE_FOUND);
	miss = lookups(ci, "nobody", count, n, 2, CERTSTORE_MISSING);

	/* a new file: the directory's mtime changes, the next lookup rescans */
	addr_of(a, sizeof(a), argv[3], 0);
	snprintf(from, sizeof(from), "%s/%s.crt", argv[5], a);
	snprintf(to, sizeof(to), "%s/added@new.example.crt", argv[5]);
	if (copy_file(from, to) != 0)
		return 1;
	t_add = timed_find(ci, "added@new.example", CERTSTORE_UNUSABLE); /* does not name it */
	/* a file rewritten in place (the directory does not change): inotify, else the periodic rescan */
	addr_of(a, sizeof(a), argv[3], 1);
	snprintf(from, sizeof(from), "%s/%s.crt", argv[5], a);
	{
		FILE *f = fopen(from, "a");
		if (f == NULL || fputs("\n", f) == EOF || fclose(f) != 0)
			return 1;
	}
	t_edit = timed_find(ci, a, CERTSTORE_FOUND);
	t0 = now();
	if (certindex_rescan(ci, err, sizeof(err)) != 0)
		return 1;
	t_full = 1e3 * (now() - t0);

	printf("certificates: %ld in %s%s%s\n", count, argv[5], argc > 6 ? " + " : "",
	    argc > 6 ? argv[6] : "");
	printf("start-up index: %.2f s (target < 10 s at 100,000) %s\n", t_open, met(t_open < 10));
	rss = (double)(rss1 - rss0) / 1024;
	printf("RSS: %.1f MB for the index, %.1f MB in all (target < 300 MB at 100,000) %s\n", rss,
	    (double)rss_kb() / 1024, met(rss < 300));
	printf(
	    "lookup, hit, first time (validates, chain to the ca-file): %.1f us (target < 20 us) "
	    "%s\n",
	    first, met(first < 20));
	printf(
	    "lookup, hit, again (a working set of 5,000 addresses): %.1f us (target < 20 us) %s\n",
	    again, met(again < 20));
	printf("lookup, miss: %.1f us (target < 20 us) %s\n", miss, met(miss < 20));
	printf("rescan after one new file: %.1f ms (target < 100 ms) %s\n", t_add,
	    met(t_add < 100));
	printf("rescan after one file rewritten in place: %.1f ms (target < 100 ms) %s\n", t_edit,
	    met(t_edit < 100));
	printf("full rescan, every file stat'ed (every 5 min with inotify, 5 s without): %.1f ms\n",
	    t_full);
	certindex_free(ci);
	return 0;
}
