/*
 * certstore.c - recipient certificate lookup and usability checks.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <pthread.h>

#include "certstore.h"
#include "errmsg.h"
#include "filecache.h"
#include "mime.h"

X509 *
certstore_load_file(const char *path, char *err, size_t errlen)
{
	BIO *bio = BIO_new_file(path, "rb");
	X509 *cert = NULL;

	if (bio == NULL) {
		ERR_clear_error();
		errmsg_set(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (cert == NULL) {
		ERR_clear_error();
		(void)BIO_reset(bio);
		cert = d2i_X509_bio(bio, NULL);
	}
	BIO_free(bio);
	if (cert == NULL)
		errmsg_set_ssl(err, errlen, "%s holds no PEM or DER certificate", path);
	return cert;
}

int
certstore_check_usable(X509 *cert, const char *addr, char *reason, size_t reasonlen)
{
	EVP_PKEY *pkey = X509_get0_pubkey(cert);
	uint32_t ku, xku;

	if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0) {
		errmsg_set(reason, reasonlen, "certificate for %s is not valid yet", addr);
		return -1;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
		errmsg_set(reason, reasonlen, "certificate for %s has expired", addr);
		return -1;
	}
	if (pkey == NULL) {
		errmsg_set(reason, reasonlen, "certificate for %s has an unreadable public key",
		    addr);
		return -1;
	}
	ku = X509_get_key_usage(cert); /* UINT32_MAX when absent */
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		if (!(ku & KU_KEY_ENCIPHERMENT)) {
			errmsg_set(reason, reasonlen,
			    "certificate for %s does not allow keyEncipherment", addr);
			return -1;
		}
	} else if (EVP_PKEY_is_a(pkey, "EC")) {
		if (!(ku & KU_KEY_AGREEMENT)) {
			errmsg_set(reason, reasonlen,
			    "certificate for %s does not allow keyAgreement", addr);
			return -1;
		}
	} else {
		errmsg_set(reason, reasonlen, "certificate for %s has an unsupported key type (%s)",
		    addr, EVP_PKEY_get0_type_name(pkey));
		return -1;
	}
	if (X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) {
		xku = X509_get_extended_key_usage(cert);
		if (!(xku & (XKU_SMIME | XKU_ANYEKU))) {
			errmsg_set(reason, reasonlen,
			    "certificate for %s does not allow emailProtection", addr);
			return -1;
		}
	}
	return 0;
}

void
certstore_time(const ASN1_TIME *t, int with_time, char *out, size_t outlen)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1 ||
	    strftime(out, outlen, with_time ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d", &tm) == 0)
		snprintf(out, outlen, "?");
}

int
certstore_check_signing(X509 *cert, char *reason, size_t reasonlen)
{
	char when[32];
	uint32_t ku;

	if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0) {
		certstore_time(X509_get0_notBefore(cert), 0, when, sizeof(when));
		errmsg_set(reason, reasonlen, "signing certificate not valid before %s", when);
		return -1;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
		certstore_time(X509_get0_notAfter(cert), 0, when, sizeof(when));
		errmsg_set(reason, reasonlen, "signing certificate expired on %s", when);
		return -1;
	}
	if (X509_get0_pubkey(cert) == NULL) {
		errmsg_set(reason, reasonlen, "signing certificate has an unreadable public key");
		return -1;
	}
	ku = X509_get_key_usage(cert); /* UINT32_MAX when absent */
	if (!(ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION))) {
		errmsg_set(reason, reasonlen,
		    "signing certificate does not allow digitalSignature");
		return -1;
	}
	if ((X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) &&
	    !(X509_get_extended_key_usage(cert) & (XKU_SMIME | XKU_ANYEKU))) {
		errmsg_set(reason, reasonlen, "signing certificate does not allow emailProtection");
		return -1;
	}
	return 0;
}

/* Parsed certificates, re-read when their file changes. */
static filecache *cert_cache;
static pthread_once_t cert_cache_once = PTHREAD_ONCE_INIT;

static void *
cert_dup(void *obj)
{
	X509_up_ref(obj);
	return obj;
}

static void
cert_release(void *obj)
{
	X509_free(obj);
}

static void
cert_cache_init(void)
{
	cert_cache = filecache_new(65536, cert_dup, cert_release);
}

enum certstore_result
certstore_lookup(const char *dir, const char *addr, X509 **cert, char *reason, size_t reasonlen)
{
	char path[4096];
	struct stat st;
	X509 *c;

	*cert = NULL;
	if (!mime_address_is_safe(addr)) {
		errmsg_set(reason, reasonlen, "address %s cannot name a certificate file", addr);
		return CERTSTORE_ERROR;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.crt", dir, addr) >= sizeof(path)) {
		errmsg_set(reason, reasonlen, "certificate path for %s too long", addr);
		return CERTSTORE_ERROR;
	}
	if (stat(path, &st) != 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			errmsg_set(reason, reasonlen, "no certificate for %s", addr);
			return CERTSTORE_MISSING;
		}
		errmsg_set(reason, reasonlen, "cannot read %s: %s", path, strerror(errno));
		return CERTSTORE_ERROR;
	}
	pthread_once(&cert_cache_once, cert_cache_init);
	c = cert_cache != NULL ? filecache_get(cert_cache, path, &st, NULL) : NULL;
	if (c == NULL) {
		c = certstore_load_file(path, reason, reasonlen);
		if (c == NULL)
			return CERTSTORE_UNUSABLE;
		if (cert_cache != NULL)
			filecache_put(cert_cache, path, &st, NULL, cert_dup(c));
	}
	if (certstore_check_usable(c, addr, reason, reasonlen) != 0) {
		X509_free(c);
		return CERTSTORE_UNUSABLE;
	}
	*cert = c;
	return CERTSTORE_FOUND;
}
