/*
 * keystore.c - load signing keys and certificates.  See keystore.h.
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
#include <openssl/err.h>
#include <openssl/pem.h>

#include <pthread.h>

#include "errmsg.h"
#include "filecache.h"
#include "keystore.h"
#include "keystore_pkcs11.h"
#include "mime.h"

#define KEYSTORE_MAX_FILE (1024 * 1024)

/* A passphrase callback that reads the first line of a private file. */
static int
keystore_passphrase_from_file(char *buf, int size, int rwflag, void *u)
{
	const char *path = u;
	FILE *f;
	size_t len;
	struct stat st;

	(void)rwflag;
	if (path == NULL || size <= 1)
		return -1;
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	if (fstat(fileno(f), &st) != 0 || (st.st_mode & 077) != 0 ||
	    fgets(buf, size, f) == NULL) {
		fclose(f);
		OPENSSL_cleanse(buf, (size_t)size);
		return -1;
	}
	fclose(f);
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	return (int)len;
}

/* A passphrase callback that never prompts: encrypted keys fail cleanly. */
static int
keystore_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/*
 * Read a whole file into locked-down memory.  Refuses group/other-readable
 * files when secret is set.  Caller wipes and frees *out.
 */
static enum keystore_result
keystore_read_file(const char *path, int secret, unsigned char **out, size_t *outlen,
    char *err, size_t errlen)
{
	struct stat st;
	unsigned char *buf = NULL;
	size_t got = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC); /* a symlink is checked by its target */
	if (fd < 0) {
		if (errno == ENOENT) {
			errmsg_set(err, errlen, "%s not found", path);
			return KEYSTORE_MISSING;
		}
		errmsg_set(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return KEYSTORE_ERROR;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		errmsg_set(err, errlen, "%s is not a regular file", path);
		goto fail;
	}
	if (secret && (st.st_mode & 077) != 0) {
		errmsg_set(err, errlen,
		    "key file %s is readable by group or others (mode %04o): refused, chmod 600 it",
		    path, (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	if (st.st_size <= 0 || st.st_size > KEYSTORE_MAX_FILE) {
		errmsg_set(err, errlen, "%s: unreasonable size %lld", path, (long long)st.st_size);
		goto fail;
	}
	buf = malloc((size_t)st.st_size);
	if (buf == NULL) {
		errmsg_set(err, errlen, "out of memory reading %s", path);
		goto fail;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			errmsg_set(err, errlen, "cannot read %s: %s", path,
			    n < 0 ? strerror(errno) : "file shrank");
			OPENSSL_cleanse(buf, got);
			free(buf);
			goto fail;
		}
		got += (size_t)n;
	}
	close(fd);
	*out = buf;
	*outlen = got;
	return KEYSTORE_FOUND;
fail:
	close(fd);
	return KEYSTORE_ERROR;
}

/* Add every certificate of a PEM buffer to certs. */
static int
keystore_read_certs(const unsigned char *buf, size_t len, STACK_OF(X509) *certs)
{
	BIO *bio = BIO_new_mem_buf(buf, (int)len);
	X509 *x;

	if (bio == NULL)
		return -1;
	while ((x = PEM_read_bio_X509(bio, NULL, keystore_no_passphrase, NULL)) != NULL) {
		if (!sk_X509_push(certs, x)) {
			X509_free(x);
			BIO_free(bio);
			return -1;
		}
	}
	ERR_clear_error(); /* the loop ends on "no start line" */
	BIO_free(bio);
	return 0;
}

/* Parsed identities, re-read when the key or certificate file changes. */
static filecache *id_cache;
static pthread_once_t id_cache_once = PTHREAD_ONCE_INIT;

/* A second reference to everything id holds, into out. */
static void *
identity_dup(void *obj)
{
	struct keystore_identity *copy = malloc(sizeof(*copy));

	if (copy != NULL && keystore_identity_copy(obj, copy) != 0) {
		free(copy);
		copy = NULL;
	}
	return copy;
}

static void
identity_release(void *obj)
{
	keystore_identity_free(obj);
	free(obj);
}

static void
id_cache_init(void)
{
	id_cache = filecache_new(4096, identity_dup, identity_release);
}

static int
id_cache_init_once(void)
{
	pthread_once(&id_cache_once, id_cache_init);
	return id_cache != NULL ? 0 : -1;
}

static enum keystore_result keystore_read_identity(const char *key_path, const char *cert_path,
    const char *passfile, struct keystore_identity *id, char *err, size_t errlen);

static enum keystore_result keystore_load_files_pass(const char *key_path, const char *cert_path,
    const char *passfile, struct keystore_identity *id, char *err, size_t errlen);

enum keystore_result
keystore_load_files(const char *key_path, const char *cert_path,
    struct keystore_identity *id, char *err, size_t errlen)
{
	return keystore_load_files_pass(key_path, cert_path, NULL, id, err, errlen);
}

enum keystore_result
keystore_load_spec(const char *spec, const char *cert_path, const struct keystore_options *opts,
    struct keystore_identity *id, char *err, size_t errlen)
{
	memset(id, 0, sizeof(*id));
	if (strncmp(spec, "pkcs11:", 7) == 0)
		return keystore_pkcs11_load(spec, cert_path, id, err, errlen);
	return keystore_load_files_pass(spec, cert_path, opts ? opts->passphrase_file : NULL, id,
	    err, errlen);
}

enum keystore_result
keystore_load_opts(const char *dir, const char *addr, const struct keystore_options *opts,
    struct keystore_identity *id, char *err, size_t errlen)
{
	char key_path[4096], cert_path[4096];

	memset(id, 0, sizeof(*id));
	if (!mime_address_is_safe(addr)) {
		errmsg_set(err, errlen, "address %s cannot name a key file", addr);
		return KEYSTORE_ERROR;
	}
	if ((size_t)snprintf(key_path, sizeof(key_path), "%s/%s.pem", dir, addr) >= sizeof(key_path) ||
	    (size_t)snprintf(cert_path, sizeof(cert_path), "%s/%s.crt", dir, addr) >= sizeof(cert_path)) {
		errmsg_set(err, errlen, "key path for %s too long", addr);
		return KEYSTORE_ERROR;
	}
	return keystore_load_files_pass(key_path, cert_path, opts ? opts->passphrase_file : NULL, id,
	    err, errlen);
}

static enum keystore_result
keystore_load_files_pass(const char *key_path, const char *cert_path, const char *passfile,
    struct keystore_identity *id, char *err, size_t errlen)
{
	struct stat st, st2;
	struct keystore_identity *hit;
	int have_crt;
	enum keystore_result rc;

	memset(id, 0, sizeof(*id));
	if (stat(key_path, &st) != 0 || (st.st_mode & 077) != 0 || id_cache_init_once() != 0)
		return keystore_read_identity(key_path, cert_path, passfile, id, err, errlen);
	have_crt = cert_path != NULL && stat(cert_path, &st2) == 0;
	hit = filecache_get(id_cache, key_path, &st, have_crt ? &st2 : NULL);
	if (hit != NULL) {
		*id = *hit;
		free(hit);
		return KEYSTORE_FOUND;
	}
	rc = keystore_read_identity(key_path, cert_path, passfile, id, err, errlen);
	if (rc == KEYSTORE_FOUND && (hit = identity_dup(id)) != NULL)
		filecache_put(id_cache, key_path, &st, have_crt ? &st2 : NULL, hit);
	return rc;
}

static enum keystore_result
keystore_read_identity(const char *key_path, const char *cert_path, const char *passfile,
    struct keystore_identity *id, char *err, size_t errlen)
{
	enum keystore_result rc;
	unsigned char *buf = NULL, *cbuf = NULL;
	size_t len = 0, clen = 0;
	STACK_OF(X509) *certs = NULL;
	BIO *bio = NULL;
	int i;

	memset(id, 0, sizeof(*id));
	rc = keystore_read_file(key_path, 1, &buf, &len, err, errlen);
	if (rc != KEYSTORE_FOUND)
		return rc;
	rc = KEYSTORE_ERROR;
	bio = BIO_new_mem_buf(buf, (int)len);
	if (bio == NULL) {
		errmsg_set(err, errlen, "out of memory reading %s", key_path);
		goto cleanup;
	}
	id->key = PEM_read_bio_PrivateKey(bio, NULL,
	    passfile != NULL ? keystore_passphrase_from_file : keystore_no_passphrase,
	    (void *)passfile);
	if (id->key == NULL) {
		if (passfile != NULL)
			errmsg_set_ssl(err, errlen,
			    "%s holds no PEM private key that opens with the passphrase in %s",
			    key_path, passfile);
		else
			errmsg_set_ssl(err, errlen, "%s holds no readable (unencrypted PEM) private key",
			    key_path);
		goto cleanup;
	}
	certs = sk_X509_new_null();
	if (certs == NULL || keystore_read_certs(buf, len, certs) != 0) {
		errmsg_set(err, errlen, "out of memory reading %s", key_path);
		goto cleanup;
	}
	if (sk_X509_num(certs) == 0 && cert_path != NULL) {
		if (keystore_read_file(cert_path, 0, &cbuf, &clen, err, errlen) != KEYSTORE_FOUND) {
			errmsg_set(err, errlen, "%s has no certificate and %s is missing or unreadable",
			    key_path, cert_path);
			goto cleanup;
		}
		if (keystore_read_certs(cbuf, clen, certs) != 0) {
			errmsg_set(err, errlen, "out of memory reading %s", cert_path);
			goto cleanup;
		}
	}
	/* the certificate is the one matching the key; the rest is the chain */
	for (i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		if (X509_check_private_key(x, id->key) == 1) {
			id->cert = sk_X509_delete(certs, i);
			break;
		}
	}
	ERR_clear_error();
	if (id->cert == NULL) {
		errmsg_set(err, errlen, "no certificate matching the private key in %s%s%s",
		    key_path, cert_path ? " or " : "", cert_path ? cert_path : "");
		rc = KEYSTORE_MISMATCH;
		goto cleanup;
	}
	id->chain = certs;
	certs = NULL;
	rc = KEYSTORE_FOUND;
cleanup:
	BIO_free(bio);
	if (buf != NULL) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	free(cbuf);
	sk_X509_pop_free(certs, X509_free);
	if (rc != KEYSTORE_FOUND)
		keystore_identity_free(id);
	return rc;
}

enum keystore_result
keystore_load(const char *dir, const char *addr, struct keystore_identity *id,
    char *err, size_t errlen)
{
	return keystore_load_opts(dir, addr, NULL, id, err, errlen);
}

void
keystore_spec_display(const char *spec, char *out, size_t outlen)
{
	if (strncmp(spec, "pkcs11:", 7) == 0)
		(void)keystore_pkcs11_display_uri(spec, out, outlen);
	else
		snprintf(out, outlen, "%s", spec);
}
