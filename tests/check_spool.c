/*
 * check_spool.c - unit tests of the message body spool (spool.h):
 *
 *   - small content stays in memory and reads back exactly;
 *   - content past the memory bound spills to a file and reads back byte
 *     for byte, as often as asked (rewind), whatever the write and read
 *     sizes;
 *   - what reaches the disk is not the plaintext: the spool's file is
 *     found through /proc/self/fd, its raw bytes are searched for a
 *     marker that was written in clear, and the spool directory holds no
 *     file name (the file is unlinked or O_TMPFILE);
 *   - a spool directory that cannot be used makes the spilling write fail
 *     with a message naming the directory.
 *
 * Every test runs in its own mkdtemp directory under $TMPDIR (or /tmp).
 */
#include "config.h" /* _GNU_SOURCE: memmem */

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "spool.h"

#define BOUND 4096
#define BIG   (300 * 1024 + 17)

static const char marker[] = "PLAINTEXT-MARKER-q7Zx3-must-never-reach-the-disk";

static char dir[PATH_MAX];     /* the test's private spool directory */
static char realdir[PATH_MAX]; /* the same, as the kernel names it */
static unsigned char *data;    /* BIG bytes of test content */

/* ---- helpers ---- */

/* Text lines, each carrying the marker, so every part of the data has it. */
static void
fill_text(unsigned char *p, size_t len)
{
	size_t o = 0;
	unsigned line = 0;

	while (o < len) {
		char tmp[160];
		int n = snprintf(tmp, sizeof(tmp), "line %06u: %s of the body\r\n", line++, marker);
		size_t take = (size_t)n < len - o ? (size_t)n : len - o;
		memcpy(p + o, tmp, take);
		o += take;
	}
}

/* Every byte value, in a sequence that does not repeat with a short period. */
static void
fill_binary(unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)((i * 131u) ^ (i >> 8) ^ (i >> 16));
}

/* Number of entries in d other than . and .. */
static int
dir_entries(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(dp);
	while ((de = readdir(dp)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(dp);
	return n;
}

/* Remove d and whatever is in it (one level). */
static void
remove_dir(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *de;
	char path[PATH_MAX + 256];

	if (dp == NULL)
		return;
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", d, de->d_name);
		(void)chmod(path, 0700);
		if (unlink(path) != 0)
			(void)rmdir(path);
	}
	closedir(dp);
	(void)rmdir(d);
}

/*
 * File descriptors of this process whose link points into directory d
 * (as the kernel names it) and whose file has no name there any more.
 * Returns how many; the last one found goes to *fd_out.
 */
static int
find_spool_fds(const char *d, int *fd_out)
{
	DIR *dp = opendir("/proc/self/fd");
	struct dirent *de;
	size_t dlen = strlen(d);
	int n = 0;

	ck_assert_msg(dp != NULL, "cannot open /proc/self/fd");
	while ((de = readdir(dp)) != NULL) {
		char link[300], target[PATH_MAX + 32];
		ssize_t tl;
		size_t len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
		tl = readlink(link, target, sizeof(target) - 1);
		if (tl < 0)
			continue;
		target[tl] = '\0';
		len = (size_t)tl;
		if (len <= dlen || strncmp(target, d, dlen) != 0 || target[dlen] != '/')
			continue;
		ck_assert_msg(len > 10 && strcmp(target + len - 10, " (deleted)") == 0,
		    "spool file still has a name: %s", target);
		*fd_out = atoi(de->d_name);
		n++;
	}
	closedir(dp);
	return n;
}

/* Write len bytes of p in chunks of the given sizes (cycled). */
static void
write_chunks(spool *sp, const unsigned char *p, size_t len, const size_t *sizes, size_t nsizes)
{
	char err[256];
	size_t o = 0, k = 0;
	uint64_t before = spool_size(sp);

	while (o < len) {
		size_t take = sizes[k++ % nsizes];
		if (take > len - o)
			take = len - o;
		err[0] = '\0';
		ck_assert_msg(spool_write(sp, p + o, take, err, sizeof(err)) == 0,
		    "spool_write at %zu failed: %s", o, err);
		o += take;
		ck_assert_uint_eq(spool_size(sp), before + o);
	}
}

/*
 * Rewind, read everything back in reads of the given sizes (cycled) and
 * compare with want[0..len).
 */
static void
read_back(spool *sp, const unsigned char *want, size_t len, const size_t *sizes, size_t nsizes)
{
	unsigned char *buf = malloc(len + 70000);
	char err[256] = "";
	size_t o = 0, k = 0;
	ssize_t n;

	ck_assert_ptr_nonnull(buf);
	ck_assert_msg(spool_rewind(sp, err, sizeof(err)) == 0, "spool_rewind: %s", err);
	for (;;) {
		size_t ask = sizes[k++ % nsizes];
		n = spool_read(sp, buf + o, ask, err, sizeof(err));
		ck_assert_msg(n >= 0, "spool_read at %zu failed: %s", o, err);
		ck_assert_uint_le((size_t)n, ask);
		if (n == 0)
			break;
		o += (size_t)n;
		ck_assert_uint_le(o, len);
	}
	ck_assert_uint_eq(o, len);
	ck_assert_msg(memcmp(buf, want, len) == 0, "content read back differs");
	/* the end stays the end */
	ck_assert_int_eq(spool_read(sp, buf, 100, err, sizeof(err)), 0);
	free(buf);
}

static const size_t odd_writes[] = {1, 7, 333, 4095, 4097, 2, 65537, 12345, 3, 99991};
static const size_t odd_reads[] = {1, 13, 4099, 777, 70001, 5, 65536, 31};

/* ---- fixture ---- */

static void
spool_setup(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/check_spool.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_nonnull(realpath(dir, realdir));
	data = malloc(BIG);
	ck_assert_ptr_nonnull(data);
	fill_text(data, BIG);
}

static void
spool_teardown(void)
{
	free(data);
	data = NULL;
	remove_dir(dir);
}

/* ---- in memory ---- */

START_TEST(test_memory_small)
{
	spool *sp = spool_new(BOUND, dir);
	static const size_t sizes[] = {3, 1, 50};
	int fd = -1;

	ck_assert_ptr_nonnull(sp);
	write_chunks(sp, data, 1000, sizes, 3);
	ck_assert_int_eq(spool_on_disk(sp), 0);
	ck_assert_uint_eq(spool_size(sp), 1000);
	read_back(sp, data, 1000, odd_reads, 8);
	read_back(sp, data, 1000, sizes, 3);
	ck_assert_int_eq(find_spool_fds(realdir, &fd), 0);
	ck_assert_int_eq(dir_entries(dir), 0);
	spool_free(sp);
}
END_TEST

START_TEST(test_memory_exact_bound)
{
	spool *sp = spool_new(BOUND, dir);
	char err[256] = "";

	ck_assert_ptr_nonnull(sp);
	ck_assert_int_eq(spool_write(sp, data, BOUND - 1, err, sizeof(err)), 0);
	ck_assert_int_eq(spool_write(sp, data + BOUND - 1, 1, err, sizeof(err)), 0);
	ck_assert_int_eq(spool_on_disk(sp), 0);
	/* a zero-length write at the bound does not spill */
	ck_assert_int_eq(spool_write(sp, data, 0, err, sizeof(err)), 0);
	ck_assert_int_eq(spool_on_disk(sp), 0);
	ck_assert_uint_eq(spool_size(sp), BOUND);
	read_back(sp, data, BOUND, odd_reads, 8);
	/* one byte more does */
	ck_assert_int_eq(spool_write(sp, data + BOUND, 1, err, sizeof(err)), 0);
	ck_assert_int_eq(spool_on_disk(sp), 1);
	ck_assert_uint_eq(spool_size(sp), BOUND + 1);
	read_back(sp, data, BOUND + 1, odd_reads, 8);
	spool_free(sp);
}
END_TEST

START_TEST(test_memory_binary)
{
	spool *sp = spool_new(BOUND, dir);
	static const size_t one[] = {1};

	fill_binary(data, BOUND);
	ck_assert_ptr_nonnull(sp);
	write_chunks(sp, data, BOUND, odd_writes, 10);
	ck_assert_int_eq(spool_on_disk(sp), 0);
	read_back(sp, data, BOUND, one, 1);
	spool_free(sp);
}
END_TEST

START_TEST(test_empty)
{
	spool *sp = spool_new(BOUND, dir);
	char err[256] = "", buf[16];

	ck_assert_ptr_nonnull(sp);
	ck_assert_uint_eq(spool_size(sp), 0);
	ck_assert_int_eq(spool_on_disk(sp), 0);
	/* reading before any rewind, then after */
	ck_assert_int_eq(spool_read(sp, buf, sizeof(buf), err, sizeof(err)), 0);
	ck_assert_int_eq(spool_rewind(sp, err, sizeof(err)), 0);
	ck_assert_int_eq(spool_read(sp, buf, sizeof(buf), err, sizeof(err)), 0);
	ck_assert_int_eq(spool_write(sp, "", 0, err, sizeof(err)), 0);
	ck_assert_uint_eq(spool_size(sp), 0);
	ck_assert_int_eq(spool_rewind(sp, err, sizeof(err)), 0);
	ck_assert_int_eq(spool_read(sp, buf, sizeof(buf), err, sizeof(err)), 0);
	ck_assert_int_eq(spool_on_disk(sp), 0);
	spool_free(sp);
	spool_free(NULL);
}
END_TEST

/* ---- spilling to disk ---- */

START_TEST(test_spill_text)
{
	spool *sp = spool_new(BOUND, dir);

	ck_assert_ptr_nonnull(sp);
	write_chunks(sp, data, BIG, odd_writes, 10);
	ck_assert_int_eq(spool_on_disk(sp), 1);
	ck_assert_uint_eq(spool_size(sp), BIG);
	read_back(sp, data, BIG, odd_reads, 8);
	read_back(sp, data, BIG, odd_reads + 3, 5);
	spool_free(sp);
}
END_TEST

/* a read of 0 bytes is not the end of a spilled spool (found by fuzzing: it was "truncated") */
START_TEST(test_spill_read_zero)
{
	spool *sp = spool_new(BOUND, dir);
	char err[256] = "", buf[16];

	ck_assert_ptr_nonnull(sp);
	write_chunks(sp, data, BIG, odd_writes, 10);
	ck_assert_int_eq(spool_rewind(sp, err, sizeof(err)), 0);
	ck_assert_int_eq(spool_read(sp, buf, 0, err, sizeof(err)), 0);
	read_back(sp, data, BIG, odd_reads, 8);
	ck_assert_int_eq(spool_rewind(sp, err, sizeof(err)), 0);
	while (spool_read(sp, buf, sizeof(buf), err, sizeof(err)) > 0 && spool_size(sp) > 0)
		if (spool_read(sp, buf, 0, err, sizeof(err)) != 0)
			ck_abort_msg("a read of 0 bytes failed: %s", err);
	spool_free(sp);
}
END_TEST

START_TEST(test_spill_binary_one_write)
{
	spool *sp = spool_new(BOUND, dir);
	static const size_t all[] = {BIG};
	static const size_t big_reads[] = {BIG};

	fill_binary(data, BIG);
	ck_assert_ptr_nonnull(sp);
	write_chunks(sp, data, BIG, all, 1);
	ck_assert_int_eq(spool_on_disk(sp), 1);
	ck_assert_uint_eq(spool_size(sp), BIG);
	read_back(sp, data, BIG, big_reads, 1);
	read_back(sp, data, BIG, odd_reads, 8);
	spool_free(sp);
}
END_TEST

START_TEST(test_spill_byte_writes)
{
	spool *sp = spool_new(BOUND, dir);
	static const size_t one[] = {1};
	size_t len = 3 * BOUND + 5;

	fill_binary(data, len);
	ck_assert_ptr_nonnull(sp);
	write_chunks(sp, data, len, one, 1);
	ck_assert_int_eq(spool_on_disk(sp), 1);
	read_back(sp, data, len, one, 1);
	read_back(sp, data, len, odd_reads, 8);
	spool_free(sp);
}
END_TEST

START_TEST(test_spill_no_memory)
{
	/* a bound of 0: the very first byte goes to the file */
	spool *sp = spool_new(0, dir);

	ck_assert_ptr_nonnull(sp);
	ck_assert_int_eq(spool_on_disk(sp), 0);
	write_chunks(sp, data, 100000, odd_writes, 10);
	ck_assert_int_eq(spool_on_disk(sp), 1);
	ck_assert_uint_eq(spool_size(sp), 100000);
	read_back(sp, data, 100000, odd_reads, 8);
	spool_free(sp);
}
END_TEST

START_TEST(test_spill_tmpdir_env)
{
	/* tmpdir NULL: $TMPDIR is used */
	char *old = getenv("TMPDIR") != NULL ? strdup(getenv("TMPDIR")) : NULL;
	spool *sp;
	int fd = -1;

	ck_assert_int_eq(setenv("TMPDIR", dir, 1), 0);
	sp = spool_new(BOUND, NULL);
	if (old != NULL)
		setenv("TMPDIR", old, 1);
	else
		unsetenv("TMPDIR");
	free(old);
	ck_assert_ptr_nonnull(sp);
	write_chunks(sp, data, 2 * BOUND, odd_writes, 10);
	ck_assert_int_eq(spool_on_disk(sp), 1);
	ck_assert_int_eq(find_spool_fds(realdir, &fd), 1);
	read_back(sp, data, 2 * BOUND, odd_reads, 8);
	spool_free(sp);
}
END_TEST

/* ---- confidentiality of the file ---- */

START_TEST(test_no_plaintext_on_disk)
{
	spool *sp = spool_new(BOUND, dir);
	unsigned char *raw;
	struct stat st;
	size_t got = 0;
	int fd = -1;

	ck_assert_ptr_nonnull(sp);
	write_chunks(sp, data, BOUND, odd_writes, 10);
	ck_assert_int_eq(find_spool_fds(realdir, &fd), 0);
	write_chunks(sp, data + BOUND, BIG - BOUND, odd_writes + 3, 7);
	ck_assert_int_eq(spool_on_disk(sp), 1);

	/* exactly one open file in the spool directory, and it has no name */
	ck_assert_int_eq(find_spool_fds(realdir, &fd), 1);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dir_entries(dir), 0);

	/* it holds the bytes past the bound, and none of them in clear */
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_nlink, 0);
	ck_assert_int_eq(st.st_mode & 077, 0);
	ck_assert_int_eq((long long)st.st_size, (long long)(BIG - BOUND));
	raw = malloc((size_t)st.st_size);
	ck_assert_ptr_nonnull(raw);
	while (got < (size_t)st.st_size) {
		ssize_t n = pread(fd, raw + got, (size_t)st.st_size - got, (off_t)got);
		ck_assert_int_gt(n, 0);
		got += (size_t)n;
	}
	ck_assert_msg(memmem(raw, got, marker, strlen(marker)) == NULL,
	    "plaintext marker found in the spool file");
	ck_assert_msg(memmem(raw, got, "line 0", 6) == NULL, "plaintext found in the spool file");
	ck_assert_msg(memcmp(raw, data + BOUND, got) != 0, "spool file is plaintext");
	free(raw);

	/* looking did not disturb reading */
	read_back(sp, data, BIG, odd_reads, 8);
	spool_free(sp);

	/* freeing closes the file */
	ck_assert_int_eq(find_spool_fds(realdir, &fd), 0);
	ck_assert_int_eq(dir_entries(dir), 0);
}
END_TEST

/* Read the whole spool file behind the only spool fd open in realdir. */
static unsigned char *
raw_file(size_t *len)
{
	struct stat st;
	unsigned char *raw;
	int fd = -1;

	ck_assert_int_eq(find_spool_fds(realdir, &fd), 1);
	ck_assert_int_eq(fstat(fd, &st), 0);
	raw = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(raw);
	ck_assert_int_eq(pread(fd, raw, (size_t)st.st_size, 0), st.st_size);
	*len = (size_t)st.st_size;
	return raw;
}

START_TEST(test_key_per_spool)
{
	/* the same content spooled twice is stored differently */
	spool *a = spool_new(BOUND, dir), *b;
	unsigned char *ra, *rb;
	size_t la, lb;

	ck_assert_ptr_nonnull(a);
	write_chunks(a, data, 100000, odd_writes, 10);
	ra = raw_file(&la);
	spool_free(a);
	b = spool_new(BOUND, dir);
	ck_assert_ptr_nonnull(b);
	write_chunks(b, data, 100000, odd_writes, 10);
	rb = raw_file(&lb);
	ck_assert_uint_eq(la, 100000 - BOUND);
	ck_assert_uint_eq(lb, la);
	ck_assert_msg(memcmp(ra, rb, la) != 0, "two spools wrote the same cipher text");
	read_back(b, data, 100000, odd_reads, 8);
	spool_free(b);
	free(ra);
	free(rb);
}
END_TEST

/* ---- errors ---- */

START_TEST(test_dir_missing)
{
	char bad[PATH_MAX + 16], err[512] = "";
	spool *sp;

	snprintf(bad, sizeof(bad), "%s/does-not-exist", dir);
	sp = spool_new(BOUND, bad);
	ck_assert_ptr_nonnull(sp);
	/* fine while it fits in memory */
	ck_assert_int_eq(spool_write(sp, data, BOUND, err, sizeof(err)), 0);
	ck_assert_int_eq(spool_on_disk(sp), 0);
	/* the spilling write fails and says where */
	ck_assert_int_eq(spool_write(sp, data + BOUND, 10, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, bad) != NULL, "error does not name %s: \"%s\"", bad, err);
	ck_assert_msg(strstr(err, strerror(ENOENT)) != NULL, "error gives no reason: \"%s\"", err);
	ck_assert_int_eq(spool_on_disk(sp), 0);
	spool_free(sp);
	ck_assert_int_eq(dir_entries(dir), 0);
}
END_TEST

START_TEST(test_dir_is_file)
{
	char bad[PATH_MAX + 16], err[512] = "";
	spool *sp;
	FILE *f;

	snprintf(bad, sizeof(bad), "%s/plain-file", dir);
	f = fopen(bad, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	sp = spool_new(BOUND, bad);
	ck_assert_ptr_nonnull(sp);
	/* one write that straddles the bound */
	ck_assert_int_eq(spool_write(sp, data, 2 * BOUND, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, bad) != NULL, "error does not name %s: \"%s\"", bad, err);
	ck_assert_int_eq(spool_on_disk(sp), 0);
	spool_free(sp);
}
END_TEST

START_TEST(test_dir_unwritable)
{
	char bad[PATH_MAX + 16], err[512] = "";
	spool *sp;

	snprintf(bad, sizeof(bad), "%s/read-only", dir);
	ck_assert_int_eq(mkdir(bad, 0500), 0);
	sp = spool_new(BOUND, bad);
	ck_assert_ptr_nonnull(sp);
	ck_assert_int_eq(spool_write(sp, data, 3 * BOUND, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, bad) != NULL, "error does not name %s: \"%s\"", bad, err);
	ck_assert_int_eq(spool_on_disk(sp), 0);
	spool_free(sp);
	ck_assert_int_eq(dir_entries(bad), 0);
}
END_TEST

/* ---- suite ---- */

static Suite *
spool_suite(void)
{
	Suite *s = suite_create("spool");
	TCase *tc;

	tc = tcase_create("memory");
	tcase_add_checked_fixture(tc, spool_setup, spool_teardown);
	tcase_add_test(tc, test_memory_small);
	tcase_add_test(tc, test_memory_exact_bound);
	tcase_add_test(tc, test_memory_binary);
	tcase_add_test(tc, test_empty);
	suite_add_tcase(s, tc);

	tc = tcase_create("spill");
	tcase_add_checked_fixture(tc, spool_setup, spool_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_spill_text);
	tcase_add_test(tc, test_spill_binary_one_write);
	tcase_add_test(tc, test_spill_read_zero);
	tcase_add_test(tc, test_spill_byte_writes);
	tcase_add_test(tc, test_spill_no_memory);
	tcase_add_test(tc, test_spill_tmpdir_env);
	suite_add_tcase(s, tc);

	tc = tcase_create("confidential");
	tcase_add_checked_fixture(tc, spool_setup, spool_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_no_plaintext_on_disk);
	tcase_add_test(tc, test_key_per_spool);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, spool_setup, spool_teardown);
	tcase_add_test(tc, test_dir_missing);
	tcase_add_test(tc, test_dir_is_file);
	/* root writes into any directory: this case exists only for other users */
	if (geteuid() != 0)
		tcase_add_test(tc, test_dir_unwritable);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(spool_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
