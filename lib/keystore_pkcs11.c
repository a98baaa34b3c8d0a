/*
 * keystore_pkcs11.c - signing keys in a PKCS#11 token through OpenSSL's
 * "pkcs11" engine (libp11).  See keystore_pkcs11.h.
 *
 * OpenSSL 3 deprecates the ENGINE API, but Debian 12 has no PKCS#11
 * provider in its main archive, only libengine-pkcs11-openssl: the
 * deprecation warnings are silenced for this file only.
 *
 * The engine is set up once per process and every use of it (PIN, key and
 * certificate loading, the identity cache) runs under one lock: libp11's
 * PIN is engine-wide state.  The PIN is given to the engine with its "PIN"
 * control, never inside a URI, so no URI built here holds it; a PIN read
 * from a file is wiped as soon as the engine has it.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ui.h>
#include <openssl/x509.h>

#include "errmsg.h"
#include "fileid.h"
#include "keystore_pkcs11.h"
#include "privfile.h"

#define P11_MAX_URI 4096
#define P11_MAX_PIN 256

/* What a URI says, split into the engine's part and ours. */
struct p11_uri {
	char objpath[P11_MAX_URI]; /* path attributes selecting the object, "type" left out */
	char *pin;                 /* decoded pin-value, wiped when freed */
	char *pin_source;          /* decoded pin-source */
	char *cert_file;           /* decoded x-cert-file */
};

/* One cached identity, found by the SHA-256 of its URI and certificate file. */
struct p11_entry {
	struct p11_entry *next;
	unsigned char digest[32];
	struct keystore_identity id;
	struct fileid file; /* the certificate file's, when one is part of the identity */
};

static CRYPTO_ONCE p11_once = CRYPTO_ONCE_STATIC_INIT;
static CRYPTO_RWLOCK *p11_lock;
static UI_METHOD *p11_ui;  /* never prompts: a missing PIN fails cleanly */
static ENGINE *p11_engine; /* structural + functional reference, for good */
static struct p11_entry *p11_cache;

static int
p11_ui_read(UI *ui, UI_STRING *uis)
{
	(void)ui;
	(void)uis;
	return 0;
}

static void
p11_init(void)
{
	p11_lock = CRYPTO_THREAD_lock_new();
	p11_ui = UI_create_method("smime-milter (no PIN prompt)");
	if (p11_ui != NULL && UI_method_set_reader(p11_ui, p11_ui_read) != 0) {
		UI_destroy_method(p11_ui);
		p11_ui = NULL;
	}
}

/* ---------------------------------------------------------------------------------------- */
/* URI handling */

/* seg[0..len) is "name=..." */
static int
attr_is(const char *seg, size_t len, const char *name)
{
	size_t n = strlen(name);

	return len > n && strncmp(seg, name, n) == 0 && seg[n] == '=';
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s[0..len) into a new string; NULL on a bad escape, a NUL or no memory. */
static char *
pct_decode(const char *s, size_t len)
{
	char *out = malloc(len + 1);
	size_t i, o = 0;

	if (out == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		if (s[i] == '%') {
			int hi = i + 2 < len ? hexval((unsigned char)s[i + 1]) : -1;
			int lo = i + 2 < len ? hexval((unsigned char)s[i + 2]) : -1;
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				OPENSSL_cleanse(out, len + 1);
				free(out);
				return NULL;
			}
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else
			out[o++] = s[i];
	}
	out[o] = '\0';
	return out;
}

/* Append s[0..len) to buf (size bufsize) after sep when buf is not empty. */
static int
append_seg(char *buf, size_t bufsize, char sep, const char *s, size_t len)
{
	size_t used = strlen(buf);

	if (used + len + 2 > bufsize)
		return -1;
	if (used > 0)
		buf[used++] = sep;
	memcpy(buf + used, s, len);
	buf[used + len] = '\0';
	return 0;
}

/*
 * Call fn for every non-empty attribute of a "pkcs11:" URI: first the path
 * attributes (separated by ';'), in_path 1, then the query attributes after
 * '?' (separated by '&'), in_path 0.  Stops at and returns fn's first
 * nonzero result; 0 when every call returned 0.
 */
typedef int (*p11_attr_fn)(void *arg, const char *attr, size_t len, int in_path);

static int
p11_uri_each(const char *uri, p11_attr_fn fn, void *arg)
{
	const char *p = uri + 7, *q = strchr(p, '?'), *end;
	int in_path, rc;

	for (in_path = 1; in_path >= 0; in_path--) {
		if (!in_path) {
			if (q == NULL)
				break;
			p = q + 1;
		}
		end = in_path && q != NULL ? q : p + strlen(p);
		while (p < end) {
			const char *s = memchr(p, in_path ? ';' : '&', (size_t)(end - p));
			size_t len = (size_t)((s != NULL ? s : end) - p);
			if (len > 0 && (rc = fn(arg, p, len, in_path)) != 0)
				return rc;
			p += len + (s != NULL);
		}
	}
	return 0;
}

struct p11_shown {
	char path[P11_MAX_URI], query[P11_MAX_URI];
	int truncated;
};

/* p11_attr_fn: every attribute but pin-value, for display. */
static int
p11_show_attr(void *arg, const char *attr, size_t len, int in_path)
{
	struct p11_shown *d = arg;

	if (!attr_is(attr, len, "pin-value") &&
	    append_seg(in_path ? d->path : d->query, sizeof(d->path), in_path ? ';' : '&', attr,
	        len) != 0)
		d->truncated = 1;
	return 0;
}

int
keystore_pkcs11_display_uri(const char *uri, char *out, size_t outlen)
{
	struct p11_shown d = {"", "", 0};

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	if (strncmp(uri, "pkcs11:", 7) != 0) {
		snprintf(out, outlen, "(not a pkcs11: URI)");
		return -1;
	}
	(void)p11_uri_each(uri, p11_show_attr, &d);
	if ((size_t)snprintf(out, outlen, "pkcs11:%s%s%s", d.path, d.query[0] ? "?" : "",
	        d.query) >= outlen)
		d.truncated = 1;
	return d.truncated ? -1 : 0;
}

static void
p11_uri_free(struct p11_uri *u)
{
	if (u->pin != NULL) {
		OPENSSL_cleanse(u->pin, strlen(u->pin));
		free(u->pin);
	}
	free(u->pin_source);
	free(u->cert_file);
	memset(u, 0, sizeof(*u));
}

/*
 * One attribute of the URI, from its path (inpath) or its query.  Ours are
 * taken out; the path's others select the object and go to the engine.
 */
static int
p11_attr(struct p11_uri *u, const char *seg, size_t len, int inpath, const char *shown, char *err,
    size_t errlen)
{
	static const struct {
		const char *name;
		size_t off;
	} ours[] = {
	    {"pin-value", offsetof(struct p11_uri, pin)},
	    {"pin-source", offsetof(struct p11_uri, pin_source)},
	    {"x-cert-file", offsetof(struct p11_uri, cert_file)},
	};
	size_t i, n;

	for (i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
		char **dst = (char **)(void *)((char *)u + ours[i].off);
		if (!attr_is(seg, len, ours[i].name))
			continue;
		n = strlen(ours[i].name) + 1;
		if (*dst != NULL) {
			errmsg_set(err, errlen, "%s: %s given twice", shown, ours[i].name);
			return -1;
		}
		*dst = pct_decode(seg + n, len - n);
		if (*dst == NULL || **dst == '\0') {
			errmsg_set(err, errlen, "%s: %s is empty or badly percent-encoded", shown,
			    ours[i].name);
			return -1;
		}
		return 0;
	}
	if (attr_is(seg, len, "module-path") || attr_is(seg, len, "module-name")) {
		errmsg_set(err, errlen,
		    "%s: module-path and module-name are not supported: register the token's "
		    "PKCS#11 module with p11-kit instead",
		    shown);
		return -1;
	}
	if (attr_is(seg, len, "type")) {
		if (len != 12 || strncmp(seg, "type=private", 12) != 0) {
			errmsg_set(err, errlen, "%s: a signing key has type=private, not %.*s",
			    shown, (int)(len - 5), seg + 5);
			return -1;
		}
		return 0;
	}
	if (!inpath) {
		errmsg_set(err, errlen, "%s: unknown query attribute %.*s", shown,
		    (int)strcspn(seg, "=&"), seg);
		return -1;
	}
	if (memchr(seg, '=', len) == NULL) {
		errmsg_set(err, errlen, "%s: path attribute without a value: %.*s", shown, (int)len,
		    seg);
		return -1;
	}
	if (append_seg(u->objpath, sizeof(u->objpath), ';', seg, len) != 0) {
		errmsg_set(err, errlen, "%s: URI too long", shown);
		return -1;
	}
	return 0;
}

struct p11_parse_ctx {
	struct p11_uri *u;
	const char *shown;
	char *err;
	size_t errlen;
};

/* p11_attr_fn: one attribute into the parsed URI. */
static int
p11_parse_attr(void *arg, const char *attr, size_t len, int in_path)
{
	struct p11_parse_ctx *x = arg;

	return p11_attr(x->u, attr, len, in_path, x->shown, x->err, x->errlen);
}

static int
p11_parse(const char *uri, struct p11_uri *u, const char *shown, char *err, size_t errlen)
{
	struct p11_parse_ctx x = {u, shown, err, errlen};

	memset(u, 0, sizeof(*u));
	if (p11_uri_each(uri, p11_parse_attr, &x) != 0)
		return -1;
	if (u->objpath[0] == '\0') {
		errmsg_set(err, errlen, "%s: the URI selects no object (give object= or id=)",
		    shown);
		return -1;
	}
	if (u->pin != NULL && u->pin_source != NULL) {
		errmsg_set(err, errlen, "%s: give pin-value or pin-source, not both", shown);
		return -1;
	}
	return 0;
}

/* The first line of the pin-source file into pin[pinlen]; only file: sources. */
static int
p11_read_pin(const char *source, char *pin, size_t pinlen, const char *shown, char *err,
    size_t errlen)
{
	const char *path = source;
	char why[P11_MAX_URI + 256];

	if (strncmp(path, "file:", 5) == 0) {
		path += 5;
		if (strncmp(path, "///", 3) == 0)
			path += 2;
	}
	if (path[0] != '/') {
		errmsg_set(err, errlen, "%s: pin-source %s: only file:/absolute/path is supported",
		    shown, source);
		return -1;
	}
	if (privfile_first_line(path, "PIN file", pin, pinlen, why, sizeof(why)) != 0) {
		errmsg_set(err, errlen, "%s: %s", shown, why);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* OpenSSL errors and the engine */

/* The engine's reasons on OpenSSL's error queue, oldest (the cause) first; clears the queue. */
static void
p11_reasons(char *buf, size_t len)
{
	unsigned long code;
	char tmp[256];
	const char *r;
	size_t used;
	int n = 0;

	buf[0] = '\0';
	while ((code = ERR_get_error()) != 0) {
		if (++n > 3)
			continue;
		r = ERR_reason_error_string(code);
		if (r == NULL) {
			ERR_error_string_n(code, tmp, sizeof(tmp));
			r = tmp;
		}
		if (strstr(buf, r) != NULL)
			continue;
		used = strlen(buf);
		snprintf(buf + used, len - used, "%s%s", used ? "; " : "", r);
	}
}

/* The engine, set up on first use (again after a failure); call with p11_lock held. */
static ENGINE *
p11_engine_get(char *err, size_t errlen)
{
	ENGINE *e;
	char why[512];

	if (p11_engine != NULL)
		return p11_engine;
	e = ENGINE_by_id("pkcs11");
	if (e == NULL) {
		p11_reasons(why, sizeof(why));
		errmsg_set(err, errlen,
		    "the OpenSSL pkcs11 engine is not available (install libengine-pkcs11-openssl): %s",
		    why);
		return NULL;
	}
	/* errors come back in err[]; libp11 would also print them on stderr */
	if (ENGINE_ctrl_cmd_string(e, "QUIET", NULL, 1) != 1)
		ERR_clear_error();
	if (!ENGINE_init(e)) {
		p11_reasons(why, sizeof(why));
		errmsg_set(err, errlen, "the OpenSSL pkcs11 engine does not start: %s", why);
		ENGINE_free(e);
		return NULL;
	}
	p11_engine = e;
	return e;
}

/* ---------------------------------------------------------------------------------------- */
/* The identity cache (p11_lock held) */

static int
p11_digest(const char *uri, const char *cert_path, unsigned char out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	    EVP_DigestUpdate(ctx, uri, strlen(uri) + 1) &&
	    (cert_path == NULL || EVP_DigestUpdate(ctx, cert_path, strlen(cert_path))) &&
	    EVP_DigestFinal_ex(ctx, out, NULL);
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* 0 and a copy in *id on a hit; a stale entry (changed certificate file) is dropped. */
static int
p11_cache_get(const unsigned char digest[32], const struct stat *st, struct keystore_identity *id)
{
	struct p11_entry **pp, *e;
	struct fileid now;

	fileid_of(&now, st);
	for (pp = &p11_cache; (e = *pp) != NULL; pp = &e->next) {
		if (memcmp(e->digest, digest, 32) != 0)
			continue;
		if (fileid_eq(&e->file, &now))
			return keystore_identity_copy(&e->id, id);
		*pp = e->next;
		keystore_identity_free(&e->id);
		free(e);
		return -1;
	}
	return -1;
}

static void
p11_cache_put(const unsigned char digest[32], const struct stat *st,
    const struct keystore_identity *id)
{
	struct p11_entry *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return;
	if (keystore_identity_copy(id, &e->id) != 0) {
		free(e);
		return;
	}
	memcpy(e->digest, digest, 32);
	fileid_of(&e->file, st);
	e->next = p11_cache;
	p11_cache = e;
}

/* ---------------------------------------------------------------------------------------- */
/* Loading */

/* Every certificate of a PEM file into certs. */
static int
p11_read_certs(const char *path, STACK_OF(X509) *certs, const char *shown, char *err, size_t errlen)
{
	BIO *bio = BIO_new_file(path, "r");
	X509 *x;

	if (bio == NULL) {
		errmsg_set_ssl(err, errlen, "%s: cannot read certificate file %s", shown, path);
		return -1;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(certs, x)) {
			X509_free(x);
			BIO_free(bio);
			errmsg_set(err, errlen, "out of memory reading %s", path);
			return -1;
		}
	}
	ERR_clear_error(); /* the loop ends on "no start line" */
	BIO_free(bio);
	if (sk_X509_num(certs) == 0) {
		errmsg_set(err, errlen, "%s: certificate file %s holds no PEM certificate", shown,
		    path);
		return -1;
	}
	return 0;
}

static enum keystore_result
p11_load_identity(ENGINE *e, const struct p11_uri *u, const char *pin, const char *certfile,
    const char *shown, struct keystore_identity *id, char *err, size_t errlen)
{
	char key_uri[P11_MAX_URI + 32], cert_uri[P11_MAX_URI + 32], why[512];
	struct {
		const char *s_slot_cert_id;
		X509 *cert;
	} lc = {cert_uri, NULL};
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	enum keystore_result rc = KEYSTORE_ERROR;
	int i;

	snprintf(key_uri, sizeof(key_uri), "pkcs11:%s;type=private", u->objpath);
	snprintf(cert_uri, sizeof(cert_uri), "pkcs11:%s;type=cert", u->objpath);
	ERR_clear_error();
	if (pin[0] != '\0' && !ENGINE_ctrl_cmd_string(e, "PIN", pin, 0)) {
		errmsg_set_ssl(err, errlen, "%s: the pkcs11 engine refuses the PIN", shown);
		goto cleanup;
	}
	key = ENGINE_load_private_key(e, key_uri, p11_ui, NULL);
	if (key == NULL) {
		p11_reasons(why, sizeof(why));
		errmsg_set(err, errlen,
		    "%s: cannot log in to the token or find the private key%s (%s)", shown,
		    pin[0] ? "" : " (no PIN given: add pin-source=file:/path)",
		    why[0] ? why : "no reason given");
		goto cleanup;
	}
	certs = sk_X509_new_null();
	if (certs == NULL) {
		errmsg_set(err, errlen, "out of memory loading %s", shown);
		goto cleanup;
	}
	if (certfile != NULL && p11_read_certs(certfile, certs, shown, err, errlen) != 0)
		goto cleanup;
	for (i = 0; i < sk_X509_num(certs); i++) {
		if (X509_check_private_key(sk_X509_value(certs, i), key) == 1) {
			cert = sk_X509_delete(certs, i);
			break;
		}
	}
	ERR_clear_error();
	if (cert == NULL) {
		if (!ENGINE_ctrl_cmd(e, "LOAD_CERT_CTRL", 0, &lc, NULL, 0) || lc.cert == NULL) {
			p11_reasons(why, sizeof(why));
			errmsg_set(err, errlen,
			    "%s: no certificate for the key in the token%s%s (%s)", shown,
			    certfile ? " or in " : "", certfile ? certfile : "",
			    why[0] ? why : "not found");
			goto cleanup;
		}
		cert = lc.cert;
		if (X509_check_private_key(cert, key) != 1) {
			ERR_clear_error();
			errmsg_set(err, errlen,
			    "%s: the token's certificate of this object does not match its private key",
			    shown);
			rc = KEYSTORE_MISMATCH;
			goto cleanup;
		}
	}
	id->key = key;
	id->cert = cert;
	id->chain = certs;
	key = NULL;
	cert = NULL;
	certs = NULL;
	rc = KEYSTORE_FOUND;
cleanup:
	EVP_PKEY_free(key);
	X509_free(cert);
	sk_X509_pop_free(certs, X509_free);
	ERR_clear_error();
	return rc;
}

/*
 * Failed logins, by the SHA-256 of URI, certificate file and PIN (p11_lock
 * held).  The same PIN is not tried again for P11_BACKOFF seconds: a token
 * that locks after a few wrong PINs is not locked by the mail that keeps
 * arriving for that sender.  A corrected PIN has another hash and is tried
 * at once.
 */
#define P11_BACKOFF 60
#define P11_FAILS   16

static struct p11_fail {
	unsigned char digest[32];
	time_t until;
	char reason[256];
} p11_fails[P11_FAILS];

static const struct p11_fail *
p11_fail_find(const unsigned char digest[32], time_t now)
{
	int i;

	for (i = 0; i < P11_FAILS; i++)
		if (p11_fails[i].until > now && memcmp(p11_fails[i].digest, digest, 32) == 0)
			return &p11_fails[i];
	return NULL;
}

static void
p11_fail_note(const unsigned char digest[32], time_t now, const char *reason)
{
	struct p11_fail *slot = &p11_fails[0];
	int i;

	for (i = 0; i < P11_FAILS; i++)
		if (p11_fails[i].until < slot->until)
			slot = &p11_fails[i]; /* the oldest (or an unused) entry */
	memcpy(slot->digest, digest, 32);
	slot->until = now + P11_BACKOFF;
	snprintf(slot->reason, sizeof(slot->reason), "%s", reason);
}

/* The key of a login attempt: URI, certificate file and PIN. */
static int
p11_attempt_digest(const unsigned char uri_digest[32], const char *pin, unsigned char out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	    EVP_DigestUpdate(ctx, uri_digest, 32) && EVP_DigestUpdate(ctx, pin, strlen(pin)) &&
	    EVP_DigestFinal_ex(ctx, out, NULL);
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

enum keystore_result
keystore_pkcs11_load(const char *uri, const char *cert_path, struct keystore_identity *id,
    char *err, size_t errlen)
{
	unsigned char attempt[32];
	const struct p11_fail *failed;
	time_t now;
	char shown[P11_MAX_URI], pin[P11_MAX_PIN];
	unsigned char digest[32];
	struct p11_uri u;
	struct stat st;
	const char *certfile;
	ENGINE *e;
	enum keystore_result rc = KEYSTORE_ERROR;
	int locked = 0;

	memset(id, 0, sizeof(*id));
	memset(&u, 0, sizeof(u));
	pin[0] = '\0';
	keystore_pkcs11_display_uri(uri, shown, sizeof(shown));
	if (strncmp(uri, "pkcs11:", 7) != 0) {
		errmsg_set(err, errlen, "not a pkcs11: URI");
		return KEYSTORE_ERROR;
	}
	if (!CRYPTO_THREAD_run_once(&p11_once, p11_init) || p11_lock == NULL || p11_ui == NULL) {
		errmsg_set(err, errlen, "%s: cannot set up PKCS#11 support (out of memory)", shown);
		return KEYSTORE_ERROR;
	}
	if (p11_parse(uri, &u, shown, err, errlen) != 0)
		goto cleanup;
	certfile = cert_path != NULL ? cert_path : u.cert_file;
	if (certfile != NULL && stat(certfile, &st) != 0) {
		errmsg_set(err, errlen, "%s: certificate file %s: %s", shown, certfile,
		    strerror(errno));
		goto cleanup;
	}
	if (p11_digest(uri, cert_path, digest) != 0) {
		errmsg_set_ssl(err, errlen, "%s: cannot hash the URI", shown);
		goto cleanup;
	}
	if (!CRYPTO_THREAD_write_lock(p11_lock)) {
		errmsg_set(err, errlen, "%s: cannot lock the PKCS#11 key cache", shown);
		goto cleanup;
	}
	locked = 1;
	if (p11_cache_get(digest, certfile != NULL ? &st : NULL, id) == 0) {
		rc = KEYSTORE_FOUND;
		goto cleanup;
	}
	if (u.pin != NULL) {
		if (strlen(u.pin) >= sizeof(pin)) {
			errmsg_set(err, errlen, "%s: pin-value too long", shown);
			goto cleanup;
		}
		memcpy(pin, u.pin, strlen(u.pin) + 1);
	} else if (u.pin_source != NULL &&
	    p11_read_pin(u.pin_source, pin, sizeof(pin), shown, err, errlen) != 0)
		goto cleanup;
	now = time(NULL);
	if (p11_attempt_digest(digest, pin, attempt) != 0) {
		errmsg_set_ssl(err, errlen, "%s: cannot hash the login attempt", shown);
		goto cleanup;
	}
	if ((failed = p11_fail_find(attempt, now)) != NULL) {
		errmsg_set(err, errlen,
		    "%s: not tried again for %lld s after a failed login, to keep "
		    "the token from locking (%s)",
		    shown, (long long)(failed->until - now), failed->reason);
		goto cleanup;
	}
	e = p11_engine_get(err, errlen);
	if (e == NULL)
		goto cleanup;
	rc = p11_load_identity(e, &u, pin, certfile, shown, id, err, errlen);
	if (rc == KEYSTORE_FOUND)
		p11_cache_put(digest, certfile != NULL ? &st : NULL, id);
	else if (pin[0] != '\0')
		p11_fail_note(attempt, now, err);
cleanup:
	if (locked)
		CRYPTO_THREAD_unlock(p11_lock);
	OPENSSL_cleanse(pin, sizeof(pin));
	OPENSSL_cleanse(attempt, sizeof(attempt));
	p11_uri_free(&u);
	return rc;
}

void
keystore_pkcs11_flush(void)
{
	struct p11_entry *e;

	if (p11_lock == NULL || !CRYPTO_THREAD_write_lock(p11_lock))
		return;
	while ((e = p11_cache) != NULL) {
		p11_cache = e->next;
		keystore_identity_free(&e->id);
		free(e);
	}
	CRYPTO_THREAD_unlock(p11_lock);
}
