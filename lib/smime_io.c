/*
 * smime_io.c - the byte plumbing of the CMS engine: the output sink (a
 * BIO that base64-encodes into 76-column CRLF lines and hands bounded
 * chunks to a callback) and helpers that stream the inner entity into
 * BIO chains.  See smime_int.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "blockbuf.h"
#include "errmsg.h"
#include "smime_int.h"

void
smime_io_sink_init(struct sink *s, smime_write_fn fn, void *arg, int base64, size_t chunk)
{
	s->fn = fn;
	s->arg = arg;
	s->base64 = base64;
	s->npend = s->blen = s->used = 0;
	s->chunk = chunk > 0 && chunk < SMIME_SINK_BUF ? chunk : SMIME_SINK_BUF;
	s->bytes = 0;
	s->failed = 0;
}

static int
sink_flush(struct sink *s)
{
	if (s->blen > s->used)
		s->used = s->blen;
	if (s->blen > 0 && !s->failed) {
		if (s->fn(s->arg, s->buf, s->blen) != 0)
			s->failed = 1;
		s->bytes += s->blen;
	}
	s->blen = 0;
	return s->failed ? -1 : 0;
}

static int
sink_put(struct sink *s, const unsigned char *p, size_t len)
{
	while (len > 0)
		if (blockbuf_fill(s->buf, s->chunk, &s->blen, &p, &len) && sink_flush(s) != 0)
			return -1;
	return 0;
}

/* Encode len (<= SMIME_B64_LINE_IN) bytes at p as one base64 line + CRLF. */
static int
sink_b64_put(struct sink *s, const unsigned char *p, size_t len)
{
	unsigned char line[80];
	int n;

	if (s->chunk - s->blen >= sizeof(line)) { /* straight into the buffer */
		n = EVP_EncodeBlock(s->buf + s->blen, p, (int)len);
		s->buf[s->blen + (size_t)n] = '\r';
		s->buf[s->blen + (size_t)n + 1] = '\n';
		s->blen += (size_t)n + 2;
		return s->blen == s->chunk ? sink_flush(s) : 0;
	}
	n = EVP_EncodeBlock(line, p, (int)len); /* across a chunk boundary */
	line[n++] = '\r';
	line[n++] = '\n';
	return sink_put(s, line, (size_t)n);
}

/* Encode the pending bytes as one base64 line + CRLF. */
static int
sink_b64_line(struct sink *s)
{
	int rc = sink_b64_put(s, s->pend, s->npend);

	s->npend = 0;
	return rc;
}

static int
sink_write(struct sink *s, const unsigned char *p, size_t len)
{
	if (!s->base64)
		return sink_put(s, p, len);
	while (len > 0) {
		if (s->npend == 0 && len >= SMIME_B64_LINE_IN) { /* a whole line: no copy */
			if (sink_b64_put(s, p, SMIME_B64_LINE_IN) != 0)
				return -1;
			p += SMIME_B64_LINE_IN;
			len -= SMIME_B64_LINE_IN;
		} else if (blockbuf_fill(s->pend, SMIME_B64_LINE_IN, &s->npend, &p, &len) &&
		    sink_b64_line(s) != 0) {
			return -1;
		}
	}
	return 0;
}

int
smime_io_sink_finish(struct sink *s)
{
	if (s->base64 && s->npend > 0 && sink_b64_line(s) != 0)
		return -1;
	return sink_flush(s);
}

void
smime_io_sink_wipe(struct sink *s)
{
	OPENSSL_cleanse(s->buf, s->used > s->blen ? s->used : s->blen);
	OPENSSL_cleanse(s->pend, sizeof(s->pend));
}

static int
sink_bio_write(BIO *b, const char *data, int len)
{
	struct sink *s = BIO_get_data(b);

	if (len <= 0)
		return 0;
	return sink_write(s, (const unsigned char *)data, (size_t)len) == 0 ? len : -1;
}

static long
sink_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH: return 1; /* the caller finishes the sink explicitly */
	case BIO_CTRL_PENDING:
	case BIO_CTRL_WPENDING: return 0;
	default: return 0;
	}
}

static BIO_METHOD *sink_method;
static CRYPTO_ONCE sink_once = CRYPTO_ONCE_STATIC_INIT;

static void
sink_method_init(void)
{
	sink_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "smime sink");
	if (sink_method != NULL) {
		BIO_meth_set_write(sink_method, sink_bio_write);
		BIO_meth_set_ctrl(sink_method, sink_bio_ctrl);
	}
}

BIO *
smime_io_sink_bio(struct sink *s)
{
	BIO *b;

	if (!CRYPTO_THREAD_run_once(&sink_once, sink_method_init) || sink_method == NULL)
		return NULL;
	b = BIO_new(sink_method);
	if (b != NULL) {
		BIO_set_data(b, s);
		BIO_set_init(b, 1);
	}
	return b;
}

int
smime_io_to_bio(void *arg, const void *data, size_t len)
{
	return smime_io_put(arg, data, len);
}

int
smime_io_put(BIO *b, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		int chunk = len > SMIME_COPY_CHUNK ? SMIME_COPY_CHUNK : (int)len;
		int n = BIO_write(b, p, chunk);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
smime_io_puts(BIO *b, const char *s)
{
	return smime_io_put(b, s, strlen(s));
}

int
smime_io_inner(BIO *b, struct inner *in, char *err, size_t errlen)
{
	ssize_t n;

	if (smime_io_put(b, in->head, in->headlen) != 0) {
		errmsg_set_ssl(err, errlen, "cannot process the message headers");
		return -1;
	}
	if (spool_rewind(in->body, err, errlen) != 0)
		return -1;
	while ((n = spool_read(in->body, in->buf, SMIME_COPY_CHUNK, err, errlen)) > 0) {
		if ((size_t)n > in->used)
			in->used = (size_t)n;
		if (smime_io_put(b, in->buf, (size_t)n) != 0) {
			errmsg_set_ssl(err, errlen, "cannot process the message body");
			return -1;
		}
	}
	return n == 0 ? 0 : -1;
}

int
smime_io_base64(BIO *b, const unsigned char *data, size_t len)
{
	unsigned char buf[4096]; /* lines gathered: one write per 52 lines, not per line */
	size_t used = 0;

	while (len > 0) {
		size_t take = len < SMIME_B64_LINE_IN ? len : SMIME_B64_LINE_IN;
		int n;
		if (used + 80 > sizeof(buf)) {
			if (smime_io_put(b, buf, used) != 0)
				return -1;
			used = 0;
		}
		n = EVP_EncodeBlock(buf + used, data, (int)take);
		used += (size_t)n;
		buf[used++] = '\r';
		buf[used++] = '\n';
		data += take;
		len -= take;
	}
	return used > 0 ? smime_io_put(b, buf, used) : 0;
}
