/*
 * privfile.c - opening and reading files that hold secrets.  See
 * privfile.h for the rule and the messages.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "errmsg.h"
#include "privfile.h"

int
privfile_check(const struct stat *st, const char *path, const char *what, char *err, size_t errlen)
{
	uid_t me = geteuid();

	if (!S_ISREG(st->st_mode)) {
		errmsg_set(err, errlen, "%s %s: not a regular file", what, path);
		return -1;
	}
	if ((st->st_mode & 077) != 0) {
		errmsg_set(err, errlen,
		    "%s %s: readable by group or others (mode %04o): chmod 600 it", what, path,
		    (unsigned)(st->st_mode & 07777));
		return -1;
	}
	if (me != 0 && st->st_uid != me) {
		errmsg_set(err, errlen,
		    "%s %s: owned by uid %lu, not by uid %lu reading it: chown it", what, path,
		    (unsigned long)st->st_uid, (unsigned long)me);
		return -1;
	}
	return 0;
}

/* privfile_open, with the file's stat in *st. */
static int
open_checked(const char *path, const char *what, struct stat *st, char *err, size_t errlen)
{
	int fd, flags;

	/* O_NONBLOCK: a FIFO put in the secret's place must not hang the open */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		errmsg_set(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return errno == ENOENT ? PRIVFILE_MISSING : PRIVFILE_ERROR;
	}
	if (fstat(fd, st) != 0) {
		errmsg_set(err, errlen, "%s %s: %s", what, path, strerror(errno));
		goto fail;
	}
	if (privfile_check(st, path, what, err, errlen) != 0)
		goto fail;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
		errmsg_set(err, errlen, "%s %s: %s", what, path, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return PRIVFILE_ERROR;
}

int
privfile_open(const char *path, const char *what, char *err, size_t errlen)
{
	struct stat st;

	return open_checked(path, what, &st, err, errlen);
}

/* Up to len bytes from fd into buf; the count read (short only at the end), or -1. */
static ssize_t
read_full(int fd, unsigned char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int
privfile_read(const char *path, const char *what, size_t max, unsigned char **out, size_t *outlen,
    char *err, size_t errlen)
{
	unsigned char *buf = NULL;
	struct stat st;
	size_t size = 0;
	ssize_t n;
	int fd, rc = PRIVFILE_ERROR;

	*out = NULL;
	*outlen = 0;
	fd = open_checked(path, what, &st, err, errlen);
	if (fd < 0)
		return fd;
	if (st.st_size <= 0) {
		errmsg_set(err, errlen, "%s %s: empty file", what, path);
		goto cleanup;
	}
	if ((unsigned long long)st.st_size > max) {
		errmsg_set(err, errlen, "%s %s: larger than %zu bytes", what, path, max);
		goto cleanup;
	}
	size = (size_t)st.st_size;
	buf = malloc(size + 1); /* one more: a file that grew is seen as such */
	if (buf == NULL) {
		errmsg_set(err, errlen, "%s %s: out of memory", what, path);
		goto cleanup;
	}
	n = read_full(fd, buf, size + 1);
	if (n < 0) {
		errmsg_set(err, errlen, "%s %s: %s", what, path, strerror(errno));
		goto cleanup;
	}
	if ((size_t)n != size) {
		errmsg_set(err, errlen, "%s %s: changed while being read", what, path);
		goto cleanup;
	}
	*out = buf;
	*outlen = size;
	buf = NULL;
	rc = 0;
cleanup:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, size + 1);
		free(buf);
	}
	close(fd);
	return rc;
}

int
privfile_first_line(const char *path, const char *what, char *out, size_t outlen, char *err,
    size_t errlen)
{
	ssize_t n;
	size_t len;
	int fd, rc = PRIVFILE_ERROR;

	if (outlen < 2) {
		errmsg_set(err, errlen, "%s %s: no room for its first line", what, path);
		return PRIVFILE_ERROR;
	}
	fd = privfile_open(path, what, err, errlen);
	if (fd < 0) {
		OPENSSL_cleanse(out, outlen);
		return fd;
	}
	/* outlen - 1 bytes: a line end among them shows the line fits */
	n = read_full(fd, (unsigned char *)out, outlen - 1);
	if (n < 0) {
		errmsg_set(err, errlen, "%s %s: %s", what, path, strerror(errno));
		goto cleanup;
	}
	out[n] = '\0';
	len = strcspn(out, "\r\n");
	if (len == 0) {
		errmsg_set(err, errlen, "%s %s: empty first line", what, path);
		goto cleanup;
	}
	if (len == (size_t)n && (size_t)n == outlen - 1) {
		char c;
		if (read_full(fd, (unsigned char *)&c, 1) == 1 && c != '\r' && c != '\n') {
			errmsg_set(err, errlen, "%s %s: first line longer than %zu bytes", what,
			    path, outlen - 1);
			goto cleanup;
		}
	}
	out[len] = '\0';
	OPENSSL_cleanse(out + len + 1, outlen - len - 1); /* what followed the line */
	rc = 0;
cleanup:
	if (rc != 0)
		OPENSSL_cleanse(out, outlen);
	close(fd);
	return rc;
}
