/*
 * certindex.c - directories of recipient certificates indexed by address,
 * with full validation.  See certindex.h.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "certindex.h"
#include "errmsg.h"
#include "mime.h"

#define CI_BUCKETS 4096
#define CI_RESCAN_SECONDS 5
#define CI_MAX_FILE (4 * 1024 * 1024)

struct ci_file {
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	STACK_OF(X509) *certs; /* owned */
};

struct ci_dir {
	char *path;
	struct timespec mtime;
	struct ci_file *files;
	size_t nfiles;
};

struct ci_entry {
	struct ci_entry *next;
	char *addr;            /* owned; domain lower-cased */
	X509 *cert;            /* borrowed from its file */
	const struct ci_file *file;
};

struct certindex {
	pthread_rwlock_t lock;      /* readers: find; writer: rescan */
	pthread_mutex_t scan_lock;  /* one rescan at a time */
	struct ci_dir *dirs;
	size_t ndirs;
	struct ci_entry *buckets[CI_BUCKETS];
	time_t scanned;
	X509_STORE *trust;
	STACK_OF(X509_CRL) *crls;
};

static unsigned
ci_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % CI_BUCKETS;
}

/* Lower-case the domain part of an address in place. */
static void
ci_normalise(char *addr)
{
	char *at = strrchr(addr, '@');

	if (at != NULL)
		for (; *at != '\0'; at++)
			*at = (char)((*at >= 'A' && *at <= 'Z') ? *at + 32 : *at);
}

/* ---- reading files ---- */

static STACK_OF(X509) *
ci_read_certs(const char *path)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *bio = BIO_new_file(path, "rb");
	X509 *x;

	if (sk == NULL || bio == NULL)
		goto fail;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(sk, x))
			X509_free(x);
	ERR_clear_error();
	if (sk_X509_num(sk) == 0) {
		(void)BIO_reset(bio);
		x = d2i_X509_bio(bio, NULL);
		ERR_clear_error();
		if (x != NULL && !sk_X509_push(sk, x))
			X509_free(x);
	}
	BIO_free(bio);
	return sk;
fail:
	BIO_free(bio);
	sk_X509_free(sk);
	return NULL;
}

/* The address a file is named after, or "" ("bob@x.example.crt" -> "bob@x.example"). */
static void
ci_file_address(const char *name, char *out, size_t outlen)
{
	static const char *const exts[] = {".crt", ".pem", ".cer", ".der"};
	size_t n = strlen(name), i, el;

	out[0] = '\0';
	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		el = strlen(exts[i]);
		if (n > el && strcasecmp(name + n - el, exts[i]) == 0 && n - el < outlen) {
			memcpy(out, name, n - el);
			out[n - el] = '\0';
			ci_normalise(out);
			if (!mime_address_is_safe(out))
				out[0] = '\0';
			return;
		}
	}
}

static void
ci_files_free(struct ci_file *files, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(files[i].path);
		sk_X509_pop_free(files[i].certs, X509_free);
	}
	free(files);
}

/* Read dir, reusing the parsed certificates of unchanged files from old. */
static int
ci_scan_dir(struct ci_dir *d, char *err, size_t errlen)
{
	struct ci_file *files = NULL, *nf;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	struct stat st;
	DIR *dp;

	if (stat(d->path, &st) != 0 || (dp = opendir(d->path)) == NULL) {
		errmsg_set(err, errlen, "certificate directory %s: %s", d->path, strerror(errno));
		return -1;
	}
	d->mtime = st.st_mtim;
	while ((de = readdir(dp)) != NULL) {
		char path[4096];
		struct ci_file *f = NULL;
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", d->path, de->d_name) >= sizeof(path))
			continue;
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > CI_MAX_FILE)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			nf = realloc(files, cap * sizeof(*nf));
			if (nf == NULL)
				break;
			files = nf;
		}
		f = &files[n];
		memset(f, 0, sizeof(*f));
		f->path = strdup(path);
		f->dev = st.st_dev;
		f->ino = st.st_ino;
		f->size = st.st_size;
		f->mtime = st.st_mtim;
		for (i = 0; i < d->nfiles; i++) {
			struct ci_file *o = &d->files[i];
			if (o->certs != NULL && o->dev == f->dev && o->ino == f->ino && o->size == f->size &&
			    o->mtime.tv_sec == f->mtime.tv_sec && o->mtime.tv_nsec == f->mtime.tv_nsec &&
			    strcmp(o->path, path) == 0) {
				f->certs = o->certs; /* unchanged: take over */
				o->certs = NULL;
				break;
			}
		}
		if (f->certs == NULL)
			f->certs = ci_read_certs(path);
		if (f->path == NULL || f->certs == NULL) {
			free(f->path);
			sk_X509_pop_free(f->certs, X509_free);
			continue;
		}
		n++;
	}
	closedir(dp);
	ci_files_free(d->files, d->nfiles);
	d->files = files;
	d->nfiles = n;
	return 0;
}

/* ---- the address index ---- */

static void
ci_clear_index(certindex *ci)
{
	size_t i;

	for (i = 0; i < CI_BUCKETS; i++) {
		while (ci->buckets[i] != NULL) {
			struct ci_entry *e = ci->buckets[i];
			ci->buckets[i] = e->next;
			free(e->addr);
			free(e);
		}
	}
}

static void
ci_add(certindex *ci, const char *addr, X509 *cert, const struct ci_file *f)
{
	struct ci_entry *e;
	char norm[320];
	unsigned h;

	if ((size_t)snprintf(norm, sizeof(norm), "%s", addr) >= sizeof(norm))
		return;
	ci_normalise(norm);
	h = ci_hash(norm);
	for (e = ci->buckets[h]; e != NULL; e = e->next)
		if (e->cert == cert && strcmp(e->addr, norm) == 0)
			return; /* named by its file and by its SAN: once */
	e = calloc(1, sizeof(*e));
	if (e == NULL || (e->addr = strdup(norm)) == NULL) {
		free(e);
		return;
	}
	e->cert = cert;
	e->file = f;
	e->next = ci->buckets[h];
	ci->buckets[h] = e;
}

/* Every address a certificate names: SAN rfc822Names and subject emailAddress. */
static void
ci_add_names(certindex *ci, X509 *cert, const struct ci_file *f)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	X509_NAME *subj = X509_get_subject_name(cert);
	int i;

	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_EMAIL) {
			const char *s = (const char *)ASN1_STRING_get0_data(g->d.rfc822Name);
			if ((size_t)ASN1_STRING_length(g->d.rfc822Name) == strlen(s))
				ci_add(ci, s, cert, f);
		}
	}
	GENERAL_NAMES_free(gens);
	for (i = -1; (i = X509_NAME_get_index_by_NID(subj, NID_pkcs9_emailAddress, i)) >= 0;) {
		ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
		const char *s = (const char *)ASN1_STRING_get0_data(d);
		if ((size_t)ASN1_STRING_length(d) == strlen(s))
			ci_add(ci, s, cert, f);
	}
}

static void
ci_build_index(certindex *ci)
{
	size_t i, j;
	int k;

	ci_clear_index(ci);
	for (i = 0; i < ci->ndirs; i++) {
		for (j = 0; j < ci->dirs[i].nfiles; j++) {
			const struct ci_file *f = &ci->dirs[i].files[j];
			char faddr[320];
			const char *base = strrchr(f->path, '/');
			ci_file_address(base != NULL ? base + 1 : f->path, faddr, sizeof(faddr));
			for (k = 0; k < sk_X509_num(f->certs); k++) {
				X509 *x = sk_X509_value(f->certs, k);
				if (X509_check_ca(x) != 0)
					continue; /* a CA in the file is chain, not a recipient */
				if (faddr[0] != '\0')
					ci_add(ci, faddr, x, f);
				ci_add_names(ci, x, f);
			}
		}
	}
}

/* Nonzero when a directory's modification time differs from the last scan's. */
static int
ci_dirs_changed(const certindex *ci)
{
	struct stat st;
	size_t i;

	for (i = 0; i < ci->ndirs; i++)
		if (stat(ci->dirs[i].path, &st) == 0 &&
		    (st.st_mtim.tv_sec != ci->dirs[i].mtime.tv_sec ||
		        st.st_mtim.tv_nsec != ci->dirs[i].mtime.tv_nsec))
			return 1;
	return 0;
}

/* Rescan when a directory changed or the last scan is old. */
static int
ci_refresh(certindex *ci, int force, char *err, size_t errlen)
{
	size_t i;
	int rc = 0;

	if (!force && time(NULL) - ci->scanned < CI_RESCAN_SECONDS && !ci_dirs_changed(ci))
		return 0;
	pthread_mutex_lock(&ci->scan_lock);
	/* another thread may have rescanned while this one waited */
	if (force || time(NULL) - ci->scanned >= CI_RESCAN_SECONDS || ci_dirs_changed(ci)) {
		pthread_rwlock_wrlock(&ci->lock);
		for (i = 0; i < ci->ndirs; i++)
			if (ci_scan_dir(&ci->dirs[i], err, errlen) != 0)
				rc = -1;
		ci_build_index(ci);
		ci->scanned = time(NULL);
		pthread_rwlock_unlock(&ci->lock);
	}
	pthread_mutex_unlock(&ci->scan_lock);
	return rc;
}

/* ---- validation ---- */

int
certindex_names_address(X509 *cert, const char *addr)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	X509_NAME *subj = X509_get_subject_name(cert);
	char want[320], have[320];
	int i, found = 0;

	snprintf(want, sizeof(want), "%s", addr);
	ci_normalise(want);
	for (i = 0; !found && gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_EMAIL ||
		    (size_t)ASN1_STRING_length(g->d.rfc822Name) !=
		        strlen((const char *)ASN1_STRING_get0_data(g->d.rfc822Name)))
			continue; /* an embedded NUL: "bob@x.example\0.evil" names nobody */
		snprintf(have, sizeof(have), "%.*s", ASN1_STRING_length(g->d.rfc822Name),
		    (const char *)ASN1_STRING_get0_data(g->d.rfc822Name));
		ci_normalise(have);
		found = strcmp(have, want) == 0;
	}
	GENERAL_NAMES_free(gens);
	for (i = -1; !found && (i = X509_NAME_get_index_by_NID(subj, NID_pkcs9_emailAddress, i)) >= 0;) {
		ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
		if ((size_t)ASN1_STRING_length(d) != strlen((const char *)ASN1_STRING_get0_data(d)))
			continue;
		snprintf(have, sizeof(have), "%.*s", ASN1_STRING_length(d),
		    (const char *)ASN1_STRING_get0_data(d));
		ci_normalise(have);
		found = strcmp(have, want) == 0;
	}
	return found;
}

/* Does cert chain to ci's trusted CAs (and is it unrevoked) for purpose?  0, or -1 with reason. */
static int
ci_chain_ok(certindex *ci, X509 *cert, STACK_OF(X509) *untrusted, int purpose, const char *what,
    char *reason, size_t reasonlen)
{
	X509_STORE_CTX *ctx;
	int ok;

	if (ci == NULL || ci->trust == NULL)
		return 0;
	ctx = X509_STORE_CTX_new();
	if (ctx == NULL || !X509_STORE_CTX_init(ctx, ci->trust, cert, untrusted)) {
		X509_STORE_CTX_free(ctx);
		errmsg_set(reason, reasonlen, "%s: cannot check its chain", what);
		return -1;
	}
	X509_STORE_CTX_set_purpose(ctx, purpose);
	if (ci->crls != NULL) {
		X509_STORE_CTX_set0_crls(ctx, ci->crls);
		X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	}
	ok = X509_verify_cert(ctx);
	if (ok != 1)
		errmsg_set(reason, reasonlen, "%s is not trusted: %s", what,
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return ok == 1 ? 0 : -1;
}

static int
ci_validate(certindex *ci, X509 *cert, STACK_OF(X509) *untrusted, const char *addr,
    char *reason, size_t reasonlen)
{
	const char *who = addr != NULL ? addr : "the domain";
	char what[400];

	if (certstore_check_usable(cert, who, reason, reasonlen) != 0)
		return -1;
	if (addr != NULL && !certindex_names_address(cert, addr)) {
		errmsg_set(reason, reasonlen, "certificate for %s does not name that address", addr);
		return -1;
	}
	snprintf(what, sizeof(what), "certificate for %s", who);
	/*
	 * OpenSSL's S/MIME-encryption purpose demands keyEncipherment, which an
	 * EC (ECDH) certificate rightly lacks: for EC the key usage was checked
	 * above (keyAgreement, emailProtection) and the chain is checked
	 * without a purpose.
	 */
	return ci_chain_ok(ci, cert, untrusted,
	    EVP_PKEY_is_a(X509_get0_pubkey(cert), "EC") ? X509_PURPOSE_ANY : X509_PURPOSE_SMIME_ENCRYPT,
	    what, reason, reasonlen);
}

int
certindex_validate_signer(certindex *ci, X509 *cert, STACK_OF(X509) *chain, const char *addr,
    char *reason, size_t reasonlen)
{
	if (certstore_check_signing(cert, reason, reasonlen) != 0)
		return -1;
	if (addr != NULL && !certindex_names_address(cert, addr)) {
		errmsg_set(reason, reasonlen, "signing certificate does not name <%s>", addr);
		return -1;
	}
	return ci_chain_ok(ci, cert, chain, X509_PURPOSE_SMIME_SIGN, "signing certificate", reason,
	    reasonlen);
}

int
certindex_validate(certindex *ci, X509 *cert, const char *addr, char *reason, size_t reasonlen)
{
	return ci_validate(ci, cert, NULL, addr, reason, reasonlen);
}

X509_STORE *
certindex_trust(certindex *ci)
{
	return ci->trust;
}

STACK_OF(X509_CRL) *
certindex_crls(certindex *ci)
{
	return ci->crls;
}

enum certstore_result
certindex_find(certindex *ci, const char *addr, X509 **cert, char *reason, size_t reasonlen)
{
	char norm[320], why[512] = "", err[256];
	struct ci_entry *e;
	X509 *best = NULL;
	int candidates = 0;

	*cert = NULL;
	if (!mime_address_is_safe(addr) || strlen(addr) >= sizeof(norm)) {
		errmsg_set(reason, reasonlen, "address %s cannot be looked up", addr);
		return CERTSTORE_ERROR;
	}
	if (ci_refresh(ci, 0, err, sizeof(err)) != 0) {
		errmsg_set(reason, reasonlen, "%s", err);
		return CERTSTORE_ERROR;
	}
	strcpy(norm, addr);
	ci_normalise(norm);
	pthread_rwlock_rdlock(&ci->lock);
	for (e = ci->buckets[ci_hash(norm)]; e != NULL; e = e->next) {
		char r[512];
		if (strcmp(e->addr, norm) != 0)
			continue;
		candidates++;
		if (ci_validate(ci, e->cert, e->file->certs, norm, r, sizeof(r)) != 0) {
			if (why[0] == '\0')
				snprintf(why, sizeof(why), "%s", r);
			continue;
		}
		if (best == NULL ||
		    ASN1_TIME_compare(X509_get0_notBefore(e->cert), X509_get0_notBefore(best)) > 0)
			best = e->cert;
	}
	if (best != NULL)
		X509_up_ref(best);
	pthread_rwlock_unlock(&ci->lock);
	if (best != NULL) {
		*cert = best;
		return CERTSTORE_FOUND;
	}
	if (candidates == 0) {
		errmsg_set(reason, reasonlen, "no certificate for %s", addr);
		return CERTSTORE_MISSING;
	}
	errmsg_set(reason, reasonlen, "%s", why);
	return CERTSTORE_UNUSABLE;
}

void
certindex_foreach(certindex *ci, certindex_visit_fn fn, void *arg)
{
	char err[256], r[512];
	size_t i;

	(void)ci_refresh(ci, 0, err, sizeof(err));
	pthread_rwlock_rdlock(&ci->lock);
	for (i = 0; i < CI_BUCKETS; i++) {
		struct ci_entry *e;
		for (e = ci->buckets[i]; e != NULL; e = e->next) {
			int ok = ci_validate(ci, e->cert, e->file->certs, e->addr, r, sizeof(r)) == 0;
			fn(arg, e->addr, e->cert, e->file->path, ok, ok ? "" : r);
		}
	}
	pthread_rwlock_unlock(&ci->lock);
}

size_t
certindex_count(certindex *ci)
{
	char err[256];
	size_t i, n = 0;

	(void)ci_refresh(ci, 0, err, sizeof(err));
	pthread_rwlock_rdlock(&ci->lock);
	for (i = 0; i < CI_BUCKETS; i++) {
		const struct ci_entry *e;
		for (e = ci->buckets[i]; e != NULL; e = e->next)
			n++;
	}
	pthread_rwlock_unlock(&ci->lock);
	return n;
}

/* ---- opening ---- */

static int
ci_load_trust(certindex *ci, const struct certindex_options *opt, char *err, size_t errlen)
{
	BIO *bio;
	X509_CRL *crl;

	if (opt == NULL || opt->ca_file == NULL)
		return 0;
	ci->trust = X509_STORE_new();
	if (ci->trust == NULL || X509_STORE_load_file(ci->trust, opt->ca_file) != 1) {
		errmsg_set_ssl(err, errlen, "ca-file %s: cannot load trusted certificates",
		    opt->ca_file);
		return -1;
	}
	if (opt->crl_file == NULL)
		return 0;
	bio = BIO_new_file(opt->crl_file, "r");
	ci->crls = sk_X509_CRL_new_null();
	if (bio == NULL || ci->crls == NULL) {
		BIO_free(bio);
		errmsg_set(err, errlen, "crl-file %s: %s", opt->crl_file, strerror(errno));
		return -1;
	}
	while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_CRL_push(ci->crls, crl))
			X509_CRL_free(crl);
	ERR_clear_error();
	BIO_free(bio);
	if (sk_X509_CRL_num(ci->crls) == 0) {
		errmsg_set(err, errlen, "crl-file %s holds no PEM CRL", opt->crl_file);
		return -1;
	}
	return 0;
}

certindex *
certindex_open(const char *const *dirs, const struct certindex_options *opt, char *err,
    size_t errlen)
{
	certindex *ci = calloc(1, sizeof(*ci));
	size_t n = 0, i;

	if (ci == NULL) {
		errmsg_set(err, errlen, "out of memory");
		return NULL;
	}
	pthread_rwlock_init(&ci->lock, NULL);
	pthread_mutex_init(&ci->scan_lock, NULL);
	for (i = 0; dirs != NULL && dirs[i] != NULL; i++)
		n++;
	ci->dirs = calloc(n + 1, sizeof(*ci->dirs));
	if (ci->dirs == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		ci->dirs[ci->ndirs].path = strdup(dirs[i]);
		if (ci->dirs[ci->ndirs].path == NULL)
			goto fail;
		ci->ndirs++;
	}
	if (ci_load_trust(ci, opt, err, errlen) != 0)
		goto fail_quiet;
	if (ci_refresh(ci, 1, err, errlen) != 0)
		goto fail_quiet;
	return ci;
fail:
	errmsg_set(err, errlen, "out of memory");
fail_quiet:
	certindex_free(ci);
	return NULL;
}

void
certindex_free(certindex *ci)
{
	size_t i;

	if (ci == NULL)
		return;
	ci_clear_index(ci);
	for (i = 0; i < ci->ndirs; i++) {
		free(ci->dirs[i].path);
		ci_files_free(ci->dirs[i].files, ci->dirs[i].nfiles);
	}
	free(ci->dirs);
	X509_STORE_free(ci->trust);
	sk_X509_CRL_pop_free(ci->crls, X509_CRL_free);
	pthread_rwlock_destroy(&ci->lock);
	pthread_mutex_destroy(&ci->scan_lock);
	free(ci);
}

/* ---- storing (harvested certificates) ---- */

int
certindex_store(const char *dir, const char *addr, X509 *cert, STACK_OF(X509) *chain,
    char *err, size_t errlen)
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
		int keep = ASN1_TIME_compare(X509_get0_notBefore(old), X509_get0_notBefore(cert)) >= 0;
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
