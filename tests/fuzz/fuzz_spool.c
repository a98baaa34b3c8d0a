/*
 * fuzz_spool.c - libFuzzer target: the message spool (memory, then an
 * unlinked encrypted temporary file) driven by random sequences of
 * writes, rewinds and reads, compared against a plain buffer.
 *
 * Input: two bytes choosing the memory bound (0 .. 65535 bytes, so both
 * the memory and the file paths are taken), then operations:
 *   'w' LEN16 BYTES...   write LEN bytes taken from the input (cycled)
 *   'W' LEN16            write LEN * 16 bytes (a large write, to spill)
 *   'r' LEN16            read up to LEN bytes
 *   'z'                  rewind
 * Writes come first (the spool is write-once, read-many); once the first
 * read or rewind is seen, further writes end the write phase.
 * Invariants: spool_size is the number of bytes written; the spool is on
 * disk exactly when more was written than the memory bound; every read
 * returns the next bytes of the plain buffer, never more than asked,
 * 0 only at the end; after the last
 * operation a rewind and a full read give back every byte.
 */
#include "config.h"

#include "fuzz_common.h"

#define MAX_TOTAL (1024 * 1024)

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

static size_t
take16(const uint8_t **p, const uint8_t *end)
{
	size_t v = 0;

	if (*p < end)
		v = *(*p)++;
	if (*p < end)
		v = v << 8 | *(*p)++;
	return v;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct fbuf model = {0}, back = {0};
	unsigned char *rbuf = NULL, *wbuf = NULL;
	size_t limit, rpos = 0;
	int reading = 0;
	char err[256];
	spool *sp;

	limit = take16(&p, end);
	sp = spool_new(limit, NULL);
	FUZZ_CHECK(sp != NULL, "spool_new");
	rbuf = malloc(65536 * 2);
	wbuf = malloc(65535 * 16);
	FUZZ_CHECK(rbuf != NULL && wbuf != NULL, "out of memory");
	while (p < end) {
		int op = *p++;
		size_t len, i;
		ssize_t n;
		switch (op) {
		case 'w':
		case 'W':
			len = take16(&p, end);
			if (op == 'W')
				len *= 16;
			if (reading || model.len + len > MAX_TOTAL)
				goto done;
			for (i = 0; i < len; i++)
				wbuf[i] = end > p ? p[i % (size_t)(end - p)] : (unsigned char)i;
			if (op == 'w')
				p += len < (size_t)(end - p) ? len : (size_t)(end - p);
			FUZZ_CHECK(spool_write(sp, wbuf, len, err, sizeof(err)) == 0,
			    "spool_write: %s", err);
			fbuf_add(&model, wbuf, len);
			FUZZ_CHECK(spool_size(sp) == model.len, "size %llu after writing %zu",
			    (unsigned long long)spool_size(sp), model.len);
			FUZZ_CHECK(!!spool_on_disk(sp) == (model.len > limit),
			    "on disk %d with %zu bytes and a bound of %zu", spool_on_disk(sp),
			    model.len, limit);
			break;
		case 'z':
			reading = 1;
			FUZZ_CHECK(spool_rewind(sp, err, sizeof(err)) == 0, "spool_rewind: %s",
			    err);
			rpos = 0;
			break;
		case 'r':
			len = take16(&p, end) * 2;
			if (!reading) {
				reading = 1;
				FUZZ_CHECK(spool_rewind(sp, err, sizeof(err)) == 0,
				    "spool_rewind: %s", err);
				rpos = 0;
			}
			n = spool_read(sp, rbuf, len, err, sizeof(err));
			FUZZ_CHECK(n >= 0, "spool_read: %s", err);
			FUZZ_CHECK((size_t)n <= len && (size_t)n <= model.len - rpos,
			    "read %zd of %zu asked, %zu left", n, len, model.len - rpos);
			FUZZ_CHECK(n > 0 || len == 0 || rpos == model.len,
			    "read 0 with %zu bytes left", model.len - rpos);
			FUZZ_CHECK(n == 0 || memcmp(rbuf, model.p + rpos, (size_t)n) == 0,
			    "read at %zu differs", rpos);
			rpos += (size_t)n;
			break;
		default: break;
		}
	}
done:
	fuzz_spool_drain(sp, &back);
	FUZZ_CHECK(back.len == model.len &&
	        (model.len == 0 || memcmp(back.p, model.p, model.len) == 0),
	    "read back %zu bytes of %zu, or different ones", back.len, model.len);
	spool_free(sp);
	fbuf_free(&model);
	fbuf_free(&back);
	free(rbuf);
	free(wbuf);
	return 0;
}
