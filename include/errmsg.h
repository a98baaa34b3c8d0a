/*
 * errmsg.h - the error-message convention of every function that can
 * fail: it returns an error code and describes why in err[errlen].
 *
 * These helpers never log and never allocate; err may be NULL (or errlen
 * 0), then nothing is written.  Never format plaintext or key material
 * into a message.
 */
#ifndef SMIME_ERRMSG_H
#define SMIME_ERRMSG_H

#include <stddef.h>

/* Fill err[errlen] with the formatted message (truncated to fit). */
void errmsg_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * The same, followed by " (REASON)" with the newest reason on OpenSSL's
 * per-thread error queue; the queue is cleared in any case.
 */
void errmsg_set_ssl(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
