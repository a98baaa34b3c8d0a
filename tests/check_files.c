/*
 * check_files.c - unit tests of the small file and buffer modules of the
 * core library:
 *
 *   - privfile.h: a private regular file opens and reads back exactly; a
 *     file group or others may access, a directory, a FIFO (without
 *     blocking), a missing file and a file of another owner (for a
 *     process that is not root) are refused, each with its exact message;
 *     a symbolic link is followed and the file it leads to is checked;
 *     the first line of a secret is read without its line end, and an
 *     empty or too long first line is refused;
 *   - fileid.h: a rewrite, a replacement and a chmod each change a file's
 *     identity, an untouched file keeps it;
 *   - secbuf.h: appends of every size read back byte for byte, the bytes
 *     stay NUL-terminated, and a freed buffer is empty and usable again;
 *   - strhash.h: the published FNV-1a test values;
 *   - blockbuf.h: a stream cut into blocks at every split of its input
 *     gives the same blocks and the same rest.
 *
 * Every test runs in its own mkdtemp directory under $TMPDIR (or /tmp).
 */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "errmsg.h"
#include "filecache.h"
#include "fileid.h"
#include "privfile.h"
#include "secbuf.h"
#include "blockbuf.h"
#include "strhash.h"
#include "testdir.h"

static char dir[PATH_MAX];

/* ---- helpers ---- */

/* dir/name; one of a few static buffers. */
static const char *
in_dir(const char *name)
{
	return testdir_path(dir, name);
}

/* Create dir/name with content and mode; returns its path. */
static const char *
make_file(const char *name, const char *content, mode_t mode)
{
	const char *path = in_dir(name);

	testdir_write(path, content, mode);
	return path;
}

static void
files_setup(void)
{
	testdir_make(dir, sizeof(dir), "check_files");
}

static void
files_teardown(void)
{
	testdir_remove(dir);
}

/* ---- privfile ---- */

START_TEST(test_private_file_reads)
{
	const char *path = make_file("key.pem", "secret bytes\nline two\n", 0600);
	unsigned char *buf;
	size_t len;
	char err[512] = "", want[PATH_MAX + 100];
	int fd;

	fd = privfile_open(path, "key file", err, sizeof(err));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	close(fd);
	ck_assert_int_eq(privfile_read(path, "key file", 1024, &buf, &len, err, sizeof(err)), 0);
	ck_assert_uint_eq(len, 22);
	ck_assert_int_eq(memcmp(buf, "secret bytes\nline two\n", 22), 0);
	free(buf);
	ck_assert_int_eq(chmod(path, 0400), 0);
	ck_assert_int_eq(privfile_read(path, "key file", 1024, &buf, &len, err, sizeof(err)), 0);
	free(buf);
	/* one byte over the limit */
	ck_assert_int_eq(privfile_read(path, "key file", 21, &buf, &len, err, sizeof(err)),
	    PRIVFILE_ERROR);
	ck_assert_ptr_null(buf);
	snprintf(want, sizeof(want), "key file %s: larger than 21 bytes", path);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_private_file_refusals)
{
	static const mode_t modes[] = {0640, 0604, 0620, 0602, 0610, 0601, 0644, 0660};
	char err[512], want[PATH_MAX + 200];
	const char *path;
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		path = make_file("shared.pem", "k\n", modes[i]);
		ck_assert_int_eq(privfile_open(path, "key file", err, sizeof(err)), PRIVFILE_ERROR);
		snprintf(want, sizeof(want),
		    "key file %s: readable by group or others (mode %04o): chmod 600 it", path,
		    (unsigned)modes[i]);
		ck_assert_str_eq(err, want);
	}
	ck_assert_int_eq(privfile_open(dir, "signing-key", err, sizeof(err)), PRIVFILE_ERROR);
	snprintf(want, sizeof(want), "signing-key %s: not a regular file", dir);
	ck_assert_str_eq(err, want);
	path = in_dir("none.pem");
	ck_assert_int_eq(privfile_open(path, "PIN file", err, sizeof(err)), PRIVFILE_MISSING);
	snprintf(want, sizeof(want), "PIN file %s: No such file or directory", path);
	ck_assert_str_eq(err, want);
	path = make_file("empty.pem", "", 0600);
	ck_assert_int_eq(privfile_read(path, "key file", 64, &(unsigned char *){NULL}, &(size_t){0},
	                     err, sizeof(err)),
	    PRIVFILE_ERROR);
	snprintf(want, sizeof(want), "key file %s: empty file", path);
	ck_assert_str_eq(err, want);
}
END_TEST

/* A FIFO in a secret's place is refused at once: opening it does not wait for a writer. */
START_TEST(test_private_file_fifo)
{
	const char *path = in_dir("fifo");
	char err[512], want[PATH_MAX + 100];

	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(privfile_open(path, "ldap-password-file", err, sizeof(err)),
	    PRIVFILE_ERROR);
	snprintf(want, sizeof(want), "ldap-password-file %s: not a regular file", path);
	ck_assert_str_eq(err, want);
}
END_TEST

/* A symbolic link is followed; what counts is the file it leads to. */
START_TEST(test_private_file_symlink)
{
	const char *good = make_file("good.pem", "pin\n", 0600);
	const char *bad = make_file("bad.pem", "pin\n", 0644);
	const char *link_good = in_dir("link-good"), *link_bad = in_dir("link-bad");
	char err[512], want[PATH_MAX + 200], line[16];

	ck_assert_int_eq(symlink(good, link_good), 0);
	ck_assert_int_eq(symlink(bad, link_bad), 0);
	ck_assert_int_eq(privfile_first_line(link_good, "PIN file", line, sizeof(line), err,
	                     sizeof(err)),
	    0);
	ck_assert_str_eq(line, "pin");
	ck_assert_int_eq(privfile_first_line(link_bad, "PIN file", line, sizeof(line), err,
	                     sizeof(err)),
	    PRIVFILE_ERROR);
	snprintf(want, sizeof(want),
	    "PIN file %s: readable by group or others (mode 0644): chmod 600 it", link_bad);
	ck_assert_str_eq(err, want);
	ck_assert_str_eq(line, ""); /* wiped */
}
END_TEST

/* Not root: a file of another owner is refused even when its mode is private. */
START_TEST(test_private_file_owner)
{
	struct stat st;
	char err[512], want[512];
	uid_t saved = geteuid();

	memset(&st, 0, sizeof(st));
	st.st_mode = S_IFREG | 0600;
	if (saved == 0)
		ck_assert_int_eq(seteuid(65534), 0);
	st.st_uid = geteuid() + 1;
	ck_assert_int_eq(privfile_check(&st, "/k.pem", "key file", err, sizeof(err)), -1);
	snprintf(want, sizeof(want),
	    "key file /k.pem: owned by uid %lu, not by uid %lu reading it: "
	    "chown it",
	    (unsigned long)st.st_uid, (unsigned long)geteuid());
	ck_assert_str_eq(err, want);
	st.st_uid = geteuid();
	ck_assert_int_eq(privfile_check(&st, "/k.pem", "key file", err, sizeof(err)), 0);
	if (saved == 0) {
		ck_assert_int_eq(seteuid(0), 0);
		st.st_uid = 4242; /* root checks files on behalf of the configured user */
		ck_assert_int_eq(privfile_check(&st, "/k.pem", "key file", err, sizeof(err)), 0);
	}
}
END_TEST

START_TEST(test_first_line)
{
	char line[8], err[512], want[PATH_MAX + 100];
	const char *path;

	path = make_file("crlf", "1234\r\nnext\n", 0600);
	ck_assert_int_eq(privfile_first_line(path, "PIN file", line, sizeof(line), err,
	                     sizeof(err)),
	    0);
	ck_assert_str_eq(line, "1234");
	ck_assert_int_eq(memcmp(line + 5, "\0\0\0", 3), 0); /* the next line is wiped */
	path = make_file("nonl", "1234567", 0600);          /* exactly fills line[8] */
	ck_assert_int_eq(privfile_first_line(path, "PIN file", line, sizeof(line), err,
	                     sizeof(err)),
	    0);
	ck_assert_str_eq(line, "1234567");
	path = make_file("fits", "1234567\nmore", 0600);
	ck_assert_int_eq(privfile_first_line(path, "PIN file", line, sizeof(line), err,
	                     sizeof(err)),
	    0);
	ck_assert_str_eq(line, "1234567");
	path = make_file("long", "12345678\n", 0600);
	ck_assert_int_eq(privfile_first_line(path, "PIN file", line, sizeof(line), err,
	                     sizeof(err)),
	    PRIVFILE_ERROR);
	snprintf(want, sizeof(want), "PIN file %s: first line longer than 7 bytes", path);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(memcmp(line, "\0\0\0\0\0\0\0\0", 8), 0);
	path = make_file("empty", "\nsecond\n", 0600);
	ck_assert_int_eq(privfile_first_line(path, "ldap-password-file", line, sizeof(line), err,
	                     sizeof(err)),
	    PRIVFILE_ERROR);
	snprintf(want, sizeof(want), "ldap-password-file %s: empty first line", path);
	ck_assert_str_eq(err, want);
}
END_TEST

/* ---- fileid ---- */

START_TEST(test_fileid_changes)
{
	const char *path = make_file("c.crt", "one\n", 0644);
	struct fileid a, b;
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	fileid_of(&a, &st);
	ck_assert_int_eq(stat(path, &st), 0);
	fileid_of(&b, &st);
	ck_assert_int_ne(fileid_eq(&a, &b), 0);
	fileid_of(&b, NULL);
	ck_assert_int_eq(fileid_eq(&a, &b), 0);
	fileid_of(&a, NULL);
	ck_assert_int_ne(fileid_eq(&a, &b), 0); /* no file, twice */

	/* chmod: same bytes, same inode, new ctime */
	ck_assert_int_eq(stat(path, &st), 0);
	fileid_of(&a, &st);
	usleep(20000);
	ck_assert_int_eq(chmod(path, 0600), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	fileid_of(&b, &st);
	ck_assert_int_eq(fileid_eq(&a, &b), 0);
	/* a rewrite of the same size */
	a = b;
	usleep(20000);
	make_file("c.crt", "two\n", 0600);
	ck_assert_int_eq(stat(path, &st), 0);
	fileid_of(&b, &st);
	ck_assert_int_eq(fileid_eq(&a, &b), 0);
	/* a replacement renamed over it */
	a = b;
	make_file("new.crt", "two\n", 0600);
	ck_assert_int_eq(rename(in_dir("new.crt"), path), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	fileid_of(&b, &st);
	ck_assert_int_eq(fileid_eq(&a, &b), 0);
}
END_TEST

/* ---- secbuf ---- */

START_TEST(test_secbuf_appends)
{
	struct secbuf b = SECBUF_INIT;
	unsigned char chunk[3001];
	size_t i, total = 0;

	for (i = 0; i < sizeof(chunk); i++)
		chunk[i] = (unsigned char)(i * 7 + 1);
	ck_assert_int_eq(secbuf_puts(&b, ""), 0);
	ck_assert_ptr_nonnull(b.data);
	ck_assert_str_eq(b.data, "");
	for (i = 1; i <= 60; i++) { /* sizes 50 .. 3000: many growths */
		ck_assert_int_eq(secbuf_append(&b, chunk, i * 50), 0);
		ck_assert_int_eq(memcmp(b.data + total, chunk, i * 50), 0);
		total += i * 50;
		ck_assert_uint_eq(b.len, total);
		ck_assert_int_eq(b.data[b.len], '\0');
		ck_assert_uint_gt(b.cap, b.len);
	}
	for (i = 1, total = 0; i <= 60; total += i * 50, i++)
		ck_assert_int_eq(memcmp(b.data + total, chunk, i * 50), 0);
	ck_assert_int_eq(b.failed, 0);
	secbuf_free(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	ck_assert_int_eq(secbuf_puts(&b, "again"), 0);
	ck_assert_str_eq(b.data, "again");
	secbuf_free(&b);
}
END_TEST

/* ---- filecache ---- */

static int cache_refs; /* references handed out and not yet released */

static void *
cache_dup(void *obj)
{
	cache_refs++;
	return obj;
}

static void
cache_release(void *obj)
{
	(void)obj;
	cache_refs--;
}

/* A hit only while the file looks as it did; a changed file or a second file's change is a miss. */
START_TEST(test_filecache_validity)
{
	static char a[] = "object a", b[] = "object b";
	const char *path = make_file("cached.pem", "one", 0600);
	const char *other = make_file("cached.crt", "two", 0644);
	struct stat st, st2;
	filecache *fc = filecache_new(2, cache_dup, cache_release);

	ck_assert_ptr_nonnull(fc);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(stat(other, &st2), 0);
	ck_assert_ptr_null(filecache_get(fc, path, &st, &st2));
	cache_refs = 1; /* the reference the cache takes over */
	filecache_put(fc, path, &st, &st2, a);
	ck_assert_ptr_eq(filecache_get(fc, path, &st, &st2), a);
	ck_assert_int_eq(cache_refs, 2);
	cache_release(a);
	ck_assert_ptr_null(filecache_get(fc, path, &st, NULL)); /* the second file is part of it */
	ck_assert_int_eq(chmod(path, 0400), 0); /* a chmod changes ctime: read again */
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_ptr_null(filecache_get(fc, path, &st, &st2));
	cache_refs++;                          /* b's reference, handed to the cache */
	filecache_put(fc, path, &st, &st2, b); /* replaces a, whose reference is released */
	ck_assert_int_eq(cache_refs, 1);
	ck_assert_ptr_eq(filecache_get(fc, path, &st, &st2), b);
	cache_release(b);
	filecache_free(fc);
	ck_assert_int_eq(cache_refs, 0);
}
END_TEST

/* ---- errmsg ---- */

START_TEST(test_errmsg)
{
	char err[32];

	errmsg_set(err, sizeof(err), "%s: %d", "file.pem", 7);
	ck_assert_str_eq(err, "file.pem: 7");
	errmsg_set(err, sizeof(err), "%s", "a message longer than the buffer it goes into");
	ck_assert_uint_eq(strlen(err), sizeof(err) - 1); /* cut, still terminated */
	errmsg_set(NULL, 0, "nothing to fill");          /* allowed: the caller wants no text */
	ERR_clear_error();
	(void)PEM_read_bio_X509(NULL, NULL, NULL, NULL); /* leaves an OpenSSL error */
	{
		char e2[256];
		errmsg_set_ssl(e2, sizeof(e2), "cannot read %s", "x.crt");
		ck_assert_msg(strncmp(e2, "cannot read x.crt", 17) == 0, "%s", e2);
	}
}
END_TEST

/* ---- strhash ---- */

START_TEST(test_strhash)
{
	/* 32-bit FNV-1a: the offset basis, and the values of its reference test suite */
	ck_assert_uint_eq(strhash(""), 0x811c9dc5u);
	ck_assert_uint_eq(strhash("a"), 0xe40c292cu);
	ck_assert_uint_eq(strhash("foobar"), 0xbf9cf968u);
	/* bytes above 0x7f hash as unsigned whatever the signedness of char */
	ck_assert_uint_eq(strhash("\xff"), (0x811c9dc5u ^ 0xffu) * 16777619u);
}
END_TEST

/* ---- blockbuf ---- */

START_TEST(test_blockbuf)
{
	unsigned char in[100], block[7], out[100];
	size_t split, have, outlen;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 37 + 1);
	/* the input given in two pieces, split anywhere: 14 full blocks and a rest of 2 */
	for (split = 0; split <= sizeof(in); split++) {
		const unsigned char *p = in;
		size_t n = split, blocks = 0;

		have = outlen = 0;
		for (int piece = 0; piece < 2; piece++) {
			while (blockbuf_fill(block, sizeof(block), &have, &p, &n)) {
				memcpy(out + outlen, block, have);
				outlen += have;
				have = 0;
				blocks++;
			}
			ck_assert_uint_eq(n, 0);
			n = sizeof(in) - split;
		}
		ck_assert_uint_eq(blocks, 14);
		ck_assert_uint_eq(have, 2);
		memcpy(out + outlen, block, have);
		ck_assert_mem_eq(out, in, sizeof(in));
	}
	/* nothing to copy: a block already full says so, an empty one does not */
	{
		const unsigned char *p = in;
		size_t n = 0;

		have = sizeof(block);
		ck_assert_int_eq(blockbuf_fill(block, sizeof(block), &have, &p, &n), 1);
		have = 0;
		ck_assert_int_eq(blockbuf_fill(block, sizeof(block), &have, &p, &n), 0);
	}
}
END_TEST

static Suite *
files_suite(void)
{
	Suite *s = suite_create("files");
	TCase *tc;

	tc = tcase_create("privfile");
	tcase_add_checked_fixture(tc, files_setup, files_teardown);
	tcase_add_test(tc, test_private_file_reads);
	tcase_add_test(tc, test_private_file_refusals);
	tcase_add_test(tc, test_private_file_fifo);
	tcase_add_test(tc, test_private_file_symlink);
	tcase_add_test(tc, test_private_file_owner);
	tcase_add_test(tc, test_first_line);
	suite_add_tcase(s, tc);

	tc = tcase_create("fileid");
	tcase_add_checked_fixture(tc, files_setup, files_teardown);
	tcase_add_test(tc, test_fileid_changes);
	suite_add_tcase(s, tc);

	tc = tcase_create("secbuf");
	tcase_add_test(tc, test_secbuf_appends);
	suite_add_tcase(s, tc);

	tc = tcase_create("filecache");
	tcase_add_checked_fixture(tc, files_setup, files_teardown);
	tcase_add_test(tc, test_filecache_validity);
	suite_add_tcase(s, tc);

	tc = tcase_create("errmsg");
	tcase_add_test(tc, test_errmsg);
	suite_add_tcase(s, tc);

	tc = tcase_create("strhash");
	tcase_add_test(tc, test_strhash);
	suite_add_tcase(s, tc);

	tc = tcase_create("blockbuf");
	tcase_add_test(tc, test_blockbuf);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(files_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
