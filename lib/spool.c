/*
 * spool.c - bounded in-memory buffer spilling to an unlinked, encrypted
 * temporary file.  See spool.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "errmsg.h"
#include "spool.h"

#define SPOOL_IO_CHUNK 65536

struct spool {
	unsigned char *mem; /* first bytes, up to mem_limit */
	size_t mem_len;
	size_t mem_cap;
	size_t mem_limit;
	char *tmpdir;
	int fd; /* -1 until spilled */
	unsigned char key[32];
	unsigned char iv[16];
	EVP_CIPHER_CTX *wctx; /* encrypts what goes to the file */
	EVP_CIPHER_CTX *rctx; /* decrypts what comes back */
	uint64_t total;
	uint64_t rpos;        /* read position over the whole content */
	unsigned char *iobuf; /* SPOOL_IO_CHUNK bytes for cipher text */
};

spool *
spool_new(size_t mem_limit, const char *tmpdir)
{
	spool *sp = calloc(1, sizeof(*sp));

	if (sp == NULL)
		return NULL;
	sp->fd = -1;
	sp->mem_limit = mem_limit;
	if (tmpdir == NULL)
		tmpdir = getenv("TMPDIR");
	sp->tmpdir = strdup(tmpdir != NULL && *tmpdir != '\0' ? tmpdir : "/tmp");
	if (sp->tmpdir == NULL) {
		free(sp);
		return NULL;
	}
	return sp;
}

/* Open an anonymous file: O_TMPFILE where supported, else mkstemp + unlink. */
static int
spool_open_file(spool *sp, char *err, size_t errlen)
{
	char path[4096];
	int fd;

#ifdef O_TMPFILE
	fd = open(sp->tmpdir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
#endif
	if ((size_t)snprintf(path, sizeof(path), "%s/smime-spool.XXXXXX", sp->tmpdir) >=
	    sizeof(path)) {
		errmsg_set(err, errlen, "spool directory name too long: %s", sp->tmpdir);
		return -1;
	}
	fd = mkstemp(path);
	if (fd < 0) {
		errmsg_set(err, errlen, "cannot create spool file in %s: %s", sp->tmpdir,
		    strerror(errno));
		return -1;
	}
	(void)unlink(path);
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

static int
spool_spill(spool *sp, char *err, size_t errlen)
{
	sp->fd = spool_open_file(sp, err, errlen);
	if (sp->fd < 0)
		return -1;
	sp->iobuf = malloc(SPOOL_IO_CHUNK);
	sp->wctx = EVP_CIPHER_CTX_new();
	if (sp->iobuf == NULL || sp->wctx == NULL) {
		errmsg_set(err, errlen, "out of memory for spool");
		return -1;
	}
	if (RAND_bytes(sp->key, sizeof(sp->key)) != 1 || RAND_bytes(sp->iv, sizeof(sp->iv)) != 1 ||
	    EVP_EncryptInit_ex(sp->wctx, EVP_aes_256_ctr(), NULL, sp->key, sp->iv) != 1) {
		errmsg_set_ssl(err, errlen, "cannot set up spool encryption");
		return -1;
	}
	return 0;
}

static int
spool_write_all(int fd, const unsigned char *p, size_t len, char *err, size_t errlen)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			errmsg_set(err, errlen, "cannot write spool file: %s",
			    n < 0 ? strerror(errno) : "short write");
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Grow the memory part geometrically; wipe the old copy before freeing it. */
static int
spool_grow(spool *sp, size_t need, char *err, size_t errlen)
{
	size_t cap = sp->mem_cap ? sp->mem_cap : 16384;
	unsigned char *mem;

	while (cap < need)
		cap *= 2;
	if (cap > sp->mem_limit)
		cap = sp->mem_limit;
	mem = malloc(cap);
	if (mem == NULL) {
		errmsg_set(err, errlen, "out of memory for spool");
		return -1;
	}
	if (sp->mem != NULL) {
		memcpy(mem, sp->mem, sp->mem_len);
		OPENSSL_cleanse(sp->mem, sp->mem_len);
		free(sp->mem);
	}
	sp->mem = mem;
	sp->mem_cap = cap;
	return 0;
}

int
spool_write(spool *sp, const void *data, size_t len, char *err, size_t errlen)
{
	const unsigned char *p = data;

	if (len > 0 && sp->mem_len < sp->mem_limit) {
		size_t room = sp->mem_limit - sp->mem_len;
		size_t take = len < room ? len : room;
		if (sp->mem_len + take > sp->mem_cap &&
		    spool_grow(sp, sp->mem_len + take, err, errlen) != 0)
			return -1;
		/* take > 0 here, so sp->mem is allocated (memcpy(NULL, ..., 0) is undefined) */
		memcpy(sp->mem + sp->mem_len, p, take);
		sp->mem_len += take;
		sp->total += take;
		p += take;
		len -= take;
	}
	if (len > 0 && sp->fd < 0 && spool_spill(sp, err, errlen) != 0)
		return -1;
	while (len > 0) {
		int outl = 0;
		size_t take = len < SPOOL_IO_CHUNK ? len : SPOOL_IO_CHUNK;
		if (EVP_EncryptUpdate(sp->wctx, sp->iobuf, &outl, p, (int)take) != 1) {
			errmsg_set_ssl(err, errlen, "spool encryption failed");
			return -1;
		}
		if (spool_write_all(sp->fd, sp->iobuf, (size_t)outl, err, errlen) != 0)
			return -1;
		sp->total += take;
		p += take;
		len -= take;
	}
	return 0;
}

int
spool_rewind(spool *sp, char *err, size_t errlen)
{
	sp->rpos = 0;
	if (sp->fd < 0)
		return 0;
	if (lseek(sp->fd, 0, SEEK_SET) != 0) {
		errmsg_set(err, errlen, "cannot rewind spool file: %s", strerror(errno));
		return -1;
	}
	if (sp->rctx == NULL && (sp->rctx = EVP_CIPHER_CTX_new()) == NULL) {
		errmsg_set(err, errlen, "out of memory for spool");
		return -1;
	}
	if (EVP_DecryptInit_ex(sp->rctx, EVP_aes_256_ctr(), NULL, sp->key, sp->iv) != 1) {
		errmsg_set_ssl(err, errlen, "cannot set up spool decryption");
		return -1;
	}
	return 0;
}

ssize_t
spool_read(spool *sp, void *buf, size_t len, char *err, size_t errlen)
{
	ssize_t n;
	int outl = 0;

	if (len == 0) /* read(2) of 0 bytes would look like a truncated file */
		return 0;
	if (sp->rpos < sp->mem_len) {
		size_t avail = sp->mem_len - (size_t)sp->rpos;
		size_t take = len < avail ? len : avail;
		memcpy(buf, sp->mem + sp->rpos, take);
		sp->rpos += take;
		return (ssize_t)take;
	}
	if (sp->fd < 0 || sp->rpos >= sp->total)
		return 0;
	if (len > SPOOL_IO_CHUNK)
		len = SPOOL_IO_CHUNK;
	do
		n = read(sp->fd, sp->iobuf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		errmsg_set(err, errlen, "cannot read spool file: %s", strerror(errno));
		return -1;
	}
	if (n == 0) {
		errmsg_set(err, errlen, "spool file truncated");
		return -1;
	}
	if (EVP_DecryptUpdate(sp->rctx, buf, &outl, sp->iobuf, (int)n) != 1) {
		errmsg_set_ssl(err, errlen, "spool decryption failed");
		return -1;
	}
	sp->rpos += (uint64_t)outl;
	return outl;
}

uint64_t
spool_size(const spool *sp)
{
	return sp->total;
}

int
spool_on_disk(const spool *sp)
{
	return sp->fd >= 0;
}

void
spool_free(spool *sp)
{
	if (sp == NULL)
		return;
	if (sp->mem != NULL) {
		OPENSSL_cleanse(sp->mem, sp->mem_len);
		free(sp->mem);
	}
	if (sp->iobuf != NULL) {
		OPENSSL_cleanse(sp->iobuf, SPOOL_IO_CHUNK);
		free(sp->iobuf);
	}
	if (sp->fd >= 0)
		close(sp->fd);
	EVP_CIPHER_CTX_free(sp->wctx);
	EVP_CIPHER_CTX_free(sp->rctx);
	OPENSSL_cleanse(sp->key, sizeof(sp->key));
	OPENSSL_cleanse(sp->iv, sizeof(sp->iv));
	free(sp->tmpdir);
	free(sp);
}
