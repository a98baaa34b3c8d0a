/*
 * spool_bio.c - a BIO that appends what is written to it to a spool, so
 * that OpenSSL can stream its output (decrypted content, signed content)
 * into bounded memory and an encrypted overflow file; and one that reads a
 * range of a spool, so that OpenSSL can stream its input (cipher text,
 * signed content) from there.  See spool.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>

#include "spool.h"

struct spool_bio {
	spool *sp;
	uint64_t left; /* reader: bytes still to give */
	char err[256];
};

static int
spool_bio_write(BIO *b, const char *data, int len)
{
	struct spool_bio *s = BIO_get_data(b);

	if (len <= 0)
		return 0;
	if (spool_write(s->sp, data, (size_t)len, s->err, sizeof(s->err)) != 0)
		return -1;
	return len;
}

static int
spool_bio_read(BIO *b, char *data, int len)
{
	struct spool_bio *s = BIO_get_data(b);
	size_t want = (size_t)len;
	ssize_t n;

	BIO_clear_retry_flags(b);
	if (len <= 0 || s->left == 0 || s->err[0] != '\0')
		return s->err[0] != '\0' ? -1 : 0;
	if ((uint64_t)want > s->left)
		want = (size_t)s->left;
	n = spool_read(s->sp, data, want, s->err, sizeof(s->err));
	if (n < 0)
		return -1;
	if (n == 0) {
		snprintf(s->err, sizeof(s->err), "the spool ended %llu bytes early",
		    (unsigned long long)s->left);
		return -1;
	}
	s->left -= (uint64_t)n;
	return (int)n;
}

static long
spool_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int
spool_bio_destroy(BIO *b)
{
	free(BIO_get_data(b));
	BIO_set_data(b, NULL);
	return 1;
}

static BIO_METHOD *spool_method, *spool_reader_method;
static CRYPTO_ONCE spool_once = CRYPTO_ONCE_STATIC_INIT;

static void
spool_method_init(void)
{
	spool_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "spool");
	if (spool_method != NULL) {
		BIO_meth_set_write(spool_method, spool_bio_write);
		BIO_meth_set_ctrl(spool_method, spool_bio_ctrl);
		BIO_meth_set_destroy(spool_method, spool_bio_destroy);
	}
	spool_reader_method =
	    BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "spool reader");
	if (spool_reader_method != NULL) {
		BIO_meth_set_read(spool_reader_method, spool_bio_read);
		BIO_meth_set_ctrl(spool_reader_method, spool_bio_ctrl);
		BIO_meth_set_destroy(spool_reader_method, spool_bio_destroy);
	}
}

static BIO *
spool_bio_make(spool *sp, int reader)
{
	struct spool_bio *s;
	BIO *b;

	if (!CRYPTO_THREAD_run_once(&spool_once, spool_method_init) || spool_method == NULL ||
	    spool_reader_method == NULL)
		return NULL;
	s = calloc(1, sizeof(*s));
	b = s != NULL ? BIO_new(reader ? spool_reader_method : spool_method) : NULL;
	if (b == NULL) {
		free(s);
		return NULL;
	}
	s->sp = sp;
	BIO_set_data(b, s);
	BIO_set_init(b, 1);
	return b;
}

BIO *
spool_bio_new(spool *sp)
{
	return spool_bio_make(sp, 0);
}

BIO *
spool_bio_reader(spool *sp, uint64_t off, uint64_t len)
{
	BIO *b = spool_bio_make(sp, 1);
	struct spool_bio *s;
	unsigned char skip[4096];
	uint64_t size = spool_size(sp);
	ssize_t n;

	if (b == NULL)
		return NULL;
	s = BIO_get_data(b);
	s->left = off > size ? 0 : len < size - off ? len : size - off;
	if (off > size) {
		snprintf(s->err, sizeof(s->err), "offset %llu is past the spool's end",
		    (unsigned long long)off);
		return b;
	}
	if (spool_rewind(sp, s->err, sizeof(s->err)) != 0)
		return b;
	while (off > 0) {
		n = spool_read(sp, skip, off < sizeof(skip) ? (size_t)off : sizeof(skip), s->err,
		    sizeof(s->err));
		if (n <= 0) {
			if (n == 0)
				snprintf(s->err, sizeof(s->err), "the spool ended early");
			break;
		}
		off -= (uint64_t)n;
	}
	OPENSSL_cleanse(skip, sizeof(skip));
	return b;
}

const char *
spool_bio_error(BIO *b)
{
	struct spool_bio *s = BIO_get_data(b);

	return s != NULL ? s->err : "";
}
