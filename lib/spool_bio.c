/*
 * spool_bio.c - a BIO that appends what is written to it to a spool, so
 * that OpenSSL can stream its output (decrypted content, signed content)
 * into bounded memory and an encrypted overflow file.  See spool.h.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>

#include "spool.h"

struct spool_bio {
	spool *sp;
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

static BIO_METHOD *spool_method;
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
}

BIO *
spool_bio_new(spool *sp)
{
	struct spool_bio *s;
	BIO *b;

	if (!CRYPTO_THREAD_run_once(&spool_once, spool_method_init) || spool_method == NULL)
		return NULL;
	s = calloc(1, sizeof(*s));
	b = s != NULL ? BIO_new(spool_method) : NULL;
	if (b == NULL) {
		free(s);
		return NULL;
	}
	s->sp = sp;
	BIO_set_data(b, s);
	BIO_set_init(b, 1);
	return b;
}

const char *
spool_bio_error(BIO *b)
{
	struct spool_bio *s = BIO_get_data(b);

	return s != NULL ? s->err : "";
}
