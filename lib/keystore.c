/*
 * keystore.c - load signing keys and certificates.  See keystore.h.
 *
 * A key file is read whole under the rules of privfile.h, parsed from
 * memory and wiped; the parsed identity is cached by the key file's path
 * and re-read when the key file or the certificate file beside it changes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "errmsg.h"
#include "filecache.h"
#include "keystore.h"
#include "keystore_pkcs11.h"
#include "mime.h"
#include "privfile.h"

#define KEYSTORE_MAX_FILE (1024 * 1024)
#define KEYSTORE_WHAT     "key file" /* how messages name a key file (privfile.h) */

/* The passphrase file of one key being read, and why it could not be used. */
struct keystore_pass {
	const char *path;
	int failed;
	char err[512];
};

/* A passphrase callback: the first line of the passphrase file (a secret). */
static int
keystore_passphrase_from_file(char *buf, int size, int rwflag, void *u)
{
	struct keystore_pass *pp = u;

	(void)rwflag;
	if (size <= 1 ||
	    privfile_first_line(pp->path, "key-passphrase-file", buf, (size_t)size, pp->err,
	        sizeof(pp->err)) != 0) {
		pp->failed = 1;
		return -1;
	}
	return (int)strlen(buf);
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

/* A certificate file (not a secret): a regular file of sane size, read whole.  Caller frees. */
static int
keystore_read_public(const char *path, unsigned char **out, size_t *outlen)
{
	struct stat st;
	unsigned char *buf = NULL;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    st.st_size > KEYSTORE_MAX_FILE || (buf = malloc((size_t)st.st_size)) == NULL)
		goto fail;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		got += (size_t)n;
	}
	close(fd);
	*out = buf;
	*outlen = got;
	return 0;
fail:
	free(buf);
	close(fd);
	return -1;
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

/* The private key of the PEM buffer of key_path into id->key.  0 or -1 with err. */
static int
keystore_parse_key(const unsigned char *buf, size_t len, const char *key_path, const char *passfile,
    struct keystore_identity *id, char *err, size_t errlen)
{
	struct keystore_pass pp = {passfile, 0, ""};
	BIO *bio = BIO_new_mem_buf(buf, (int)len);

	if (bio == NULL) {
		errmsg_set(err, errlen, "out of memory reading %s", key_path);
		return -1;
	}
	id->key = PEM_read_bio_PrivateKey(bio, NULL,
	    passfile != NULL ? keystore_passphrase_from_file : keystore_no_passphrase, &pp);
	BIO_free(bio);
	if (id->key != NULL)
		return 0;
	if (pp.failed)
		errmsg_set(err, errlen, "%s is encrypted and its passphrase cannot be read: %s",
		    key_path, pp.err);
	else if (passfile != NULL)
		errmsg_set_ssl(err, errlen,
		    "%s holds no PEM private key that opens with the passphrase in %s", key_path,
		    passfile);
	else
		errmsg_set_ssl(err, errlen, "%s holds no readable (unencrypted PEM) private key",
		    key_path);
	ERR_clear_error();
	return -1;
}

/* The certificate matching id->key out of certs into id->cert; the rest is the chain. */
static enum keystore_result
keystore_pick_cert(STACK_OF(X509) *certs, const char *key_path, const char *cert_path,
    struct keystore_identity *id, char *err, size_t errlen)
{
	int i;

	for (i = 0; i < sk_X509_num(certs); i++) {
		if (X509_check_private_key(sk_X509_value(certs, i), id->key) == 1) {
			id->cert = sk_X509_delete(certs, i);
			break;
		}
	}
	ERR_clear_error();
	if (id->cert == NULL) {
		errmsg_set(err, errlen, "no certificate matching the private key in %s%s%s",
		    key_path, cert_path ? " or " : "", cert_path ? cert_path : "");
		return KEYSTORE_MISMATCH;
	}
	id->chain = certs;
	return KEYSTORE_FOUND;
}

/* Read and parse a key file (and the certificate file when the key file has none). */
static enum keystore_result
keystore_read_identity(const char *key_path, const char *cert_path, const char *passfile,
    struct keystore_identity *id, char *err, size_t errlen)
{
	enum keystore_result rc = KEYSTORE_ERROR;
	unsigned char *buf = NULL, *cbuf = NULL;
	size_t len = 0, clen = 0;
	STACK_OF(X509) *certs = NULL;
	int r;

	memset(id, 0, sizeof(*id));
	r = privfile_read(key_path, KEYSTORE_WHAT, KEYSTORE_MAX_FILE, &buf, &len, err, errlen);
	if (r == PRIVFILE_MISSING) {
		errmsg_set(err, errlen, "%s not found", key_path);
		return KEYSTORE_MISSING;
	}
	if (r != 0)
		return KEYSTORE_ERROR;
	if (keystore_parse_key(buf, len, key_path, passfile, id, err, errlen) != 0)
		goto cleanup;
	certs = sk_X509_new_null();
	if (certs == NULL || keystore_read_certs(buf, len, certs) != 0) {
		errmsg_set(err, errlen, "out of memory reading %s", key_path);
		goto cleanup;
	}
	if (sk_X509_num(certs) == 0 && cert_path != NULL) {
		if (keystore_read_public(cert_path, &cbuf, &clen) != 0) {
			errmsg_set(err, errlen,
			    "%s has no certificate and %s is missing or unreadable", key_path,
			    cert_path);
			goto cleanup;
		}
		if (keystore_read_certs(cbuf, clen, certs) != 0) {
			errmsg_set(err, errlen, "out of memory reading %s", cert_path);
			goto cleanup;
		}
	}
	rc = keystore_pick_cert(certs, key_path, cert_path, id, err, errlen);
	if (rc == KEYSTORE_FOUND)
		certs = NULL; /* id->chain now */
cleanup:
	OPENSSL_cleanse(buf, len);
	free(buf);
	free(cbuf);
	sk_X509_pop_free(certs, X509_free);
	if (rc != KEYSTORE_FOUND)
		keystore_identity_free(id);
	return rc;
}

/* A key file's identity, from the cache while the files are unchanged (and still private). */
static enum keystore_result
keystore_load_file(const char *key_path, const char *cert_path, const char *passfile,
    struct keystore_identity *id, char *err, size_t errlen)
{
	struct stat st, st2;
	struct keystore_identity *hit;
	int have_crt;
	enum keystore_result rc;

	if (stat(key_path, &st) != 0 ||
	    privfile_check(&st, key_path, KEYSTORE_WHAT, NULL, 0) != 0 || id_cache_init_once() != 0)
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

/* dir/<addr>.pem and dir/<addr>.crt. */
static enum keystore_result
keystore_load_address(const struct keystore_request *req, struct keystore_identity *id, char *err,
    size_t errlen)
{
	char key_path[4096], cert_path[4096];

	if (!mime_address_is_safe(req->addr)) {
		errmsg_set(err, errlen, "address %s cannot name a key file", req->addr);
		return KEYSTORE_ERROR;
	}
	if ((size_t)snprintf(key_path, sizeof(key_path), "%s/%s.pem", req->dir, req->addr) >=
	        sizeof(key_path) ||
	    (size_t)snprintf(cert_path, sizeof(cert_path), "%s/%s.crt", req->dir, req->addr) >=
	        sizeof(cert_path)) {
		errmsg_set(err, errlen, "key path for %s too long", req->addr);
		return KEYSTORE_ERROR;
	}
	return keystore_load_file(key_path, cert_path, req->passphrase_file, id, err, errlen);
}

enum keystore_result
keystore_load(const struct keystore_request *req, struct keystore_identity *id, char *err,
    size_t errlen)
{
	memset(id, 0, sizeof(*id));
	if (req->spec != NULL ? req->dir != NULL || req->addr != NULL
	                      : req->dir == NULL || req->addr == NULL) {
		errmsg_set(err, errlen,
		    "keystore_load: give a key spec, or a key-dir and an address");
		return KEYSTORE_ERROR;
	}
	if (req->spec == NULL)
		return keystore_load_address(req, id, err, errlen);
	if (strncmp(req->spec, "pkcs11:", 7) == 0)
		return keystore_pkcs11_load(req->spec, req->cert_path, id, err, errlen);
	return keystore_load_file(req->spec, req->cert_path, req->passphrase_file, id, err, errlen);
}

void
keystore_spec_display(const char *spec, char *out, size_t outlen)
{
	if (strncmp(spec, "pkcs11:", 7) == 0)
		(void)keystore_pkcs11_display_uri(spec, out, outlen);
	else
		snprintf(out, outlen, "%s", spec);
}
