/*
 * spool.h - a write-once, read-many byte store for message bodies.
 *
 * Bytes are kept in memory up to a bound; past it they move to a private
 * temporary file that is unlinked before the first byte is written and
 * encrypted with a random per-spool key (AES-256-CTR) that lives only in
 * memory, so no plaintext ever reaches the disk.  Memory use stays at the
 * bound whatever the message size.  Memory is wiped on free.
 *
 * Use: spool_new, spool_write..., then spool_rewind + spool_read... as often
 * as needed, then spool_free.  Not thread-safe; one spool per message.
 */
#ifndef SMIME_SPOOL_H
#define SMIME_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/bio.h>

typedef struct spool spool;

/* Default in-memory bound: 1 MiB. */
#define SPOOL_DEFAULT_MEMORY (1024 * 1024)

/*
 * New empty spool.  mem_limit: bytes kept in memory before spilling to a
 * file in tmpdir (NULL: $TMPDIR or /tmp).  Caller frees with spool_free.
 * NULL on failure (out of memory).
 */
spool *spool_new(size_t mem_limit, const char *tmpdir);

/* Append len bytes.  0, or -1 with err filled (disk full, I/O error). */
int spool_write(spool *sp, const void *data, size_t len, char *err, size_t errlen);

/* Start reading from the first byte.  0, or -1 with err filled. */
int spool_rewind(spool *sp, char *err, size_t errlen);

/* Read up to len bytes; returns the count, 0 at the end, -1 with err. */
ssize_t spool_read(spool *sp, void *buf, size_t len, char *err, size_t errlen);

/* Total bytes written. */
uint64_t spool_size(const spool *sp);

/* Nonzero once the spool has spilled to its temporary file. */
int spool_on_disk(const spool *sp);

/*
 * spool_bio.c: a write-only BIO appending to sp (borrowed: free the BIO
 * first), so that OpenSSL output -- decrypted content above all -- goes
 * into a spool and never to disk in clear.  A write error fails the BIO
 * write; its text is kept for spool_bio_error.  NULL when out of memory.
 */
BIO *spool_bio_new(spool *sp);
/*
 * A read-only BIO giving len bytes of sp from offset off on (fewer when
 * the spool ends first; UINT64_MAX: to the end), so that OpenSSL reads
 * its input from a spool.  It takes over sp's read position (it rewinds
 * it); one reader at a time.  sp is borrowed: free the BIO first.  A read
 * error fails the BIO read (-1, never a silent end); its text is kept for
 * spool_bio_error.  NULL when out of memory.
 */
BIO *spool_bio_reader(spool *sp, uint64_t off, uint64_t len);
/* The last error of a spool BIO, writer or reader ("" when none). */
const char *spool_bio_error(BIO *b);

/* Wipe and free everything; NULL is allowed. */
void spool_free(spool *sp);

#endif
