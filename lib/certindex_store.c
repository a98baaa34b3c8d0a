/*
 * certindex_store.c - storing harvested certificates into a directory the
 * index reads (a temporary file, then renamed into place).  See certindex.h.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "certindex.h"
#include "errmsg.h"
#include "mime.h"

int
certindex_store(const char *dir, const char *addr, X509 *cert, STACK_OF(X509) *chain, char *err,
    size_t errlen)
{
	char path[4096], tmp[4096];
	X509 *old;
	BIO *bio;
	int fd;

	if (!mime_address_is_safe(addr)) {
		errmsg_set(err, errlen, "address %s cannot name a file", addr);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s.crt", dir, addr);
	old = certstore_load_file(path, err, errlen);
	if (old != NULL) {
		int keep =
		    ASN1_TIME_compare(X509_get0_notBefore(old), X509_get0_notBefore(cert)) >= 0;
		X509_free(old);
		if (keep)
			return 0;
	}
	ERR_clear_error();
	snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, addr);
	fd = mkstemp(tmp);
	if (fd < 0) {
		errmsg_set(err, errlen, "cannot create a file in %s: %s", dir, strerror(errno));
		return -1;
	}
	(void)fchmod(fd, 0644);
	bio = BIO_new_fd(fd, BIO_CLOSE);
	if (bio != NULL && PEM_write_bio_X509(bio, cert)) {
		int i;
		for (i = 0; chain != NULL && i < sk_X509_num(chain); i++)
			if (!PEM_write_bio_X509(bio, sk_X509_value(chain, i)))
				break;
	}
	if (bio == NULL || BIO_flush(bio) != 1 || fsync(fd) != 0) {
		BIO_free(bio);
		unlink(tmp);
		errmsg_set_ssl(err, errlen, "cannot write %s", tmp);
		return -1;
	}
	BIO_free(bio);
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		errmsg_set(err, errlen, "cannot rename to %s: %s", path, strerror(errno));
		return -1;
	}
	return 1;
}
