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
#include "certindex_int.h"
#include "errmsg.h"
#include "mime.h"
#include "strhash.h"

#define CI_RESCAN_SECONDS 5     /* without inotify: every file stat'ed this often */
#define CI_FULL_SECONDS   300   /* with inotify: the same, in case an event was missed */
#define CI_BAD_SECONDS    60    /* an unusable certificate is checked again after this */
#define CI_GOOD_SECONDS   3600  /* a usable one at least this often */
#define CI_KEEP_PARSED    16384 /* parsed certificates kept for lookups */

struct ci_entry {
	struct ci_entry *next;      /* in its bucket */
	struct ci_entry *cert_next; /* of the same certificate */
	char *addr;                 /* owned; domain lower-cased */
	struct ci_cert *cert;
	int vstate;    /* 0 not checked, 1 usable, -1 not (cache lock) */
	time_t vuntil; /* the check holds until then */
	char *vreason;
};

#define CI_SIGNERS 16 /* signing identities whose checks are kept */

struct ci_signer {
	X509 *cert;
	STACK_OF(X509) *chain;
	char *addr; /* NULL: no address check */
	int ok;
	char *reason;
	time_t until;
};

struct certindex {
	pthread_rwlock_t lock;      /* readers: find; writer: applying a rescan */
	pthread_mutex_t scan_lock;  /* one rescan at a time */
	pthread_mutex_t cache_lock; /* parsed certificates and checks on them */
	struct ci_dir *dirs;
	size_t ndirs;
	struct ci_entry **buckets;
	size_t nbuckets, nentries;
	time_t scanned;                       /* the last full scan */
	int full_every;                       /* seconds between full scans */
	unsigned long tick;                   /* cache lock */
	size_t nparsed;                       /* cache lock */
	struct ci_signer signers[CI_SIGNERS]; /* cache lock */
	size_t next_signer;                   /* cache lock */
	X509_STORE *trust;
	STACK_OF(X509_CRL) *crls;
};

/* ---- the address index ---- */

static void
ci_entry_free(struct ci_entry *e)
{
	free(e->addr);
	free(e->vreason);
	free(e);
}

/* Double the table when it holds more entries than buckets. */
static void
ci_grow(certindex *ci)
{
	size_t n = ci->nbuckets ? ci->nbuckets * 2 : 4096, i;
	struct ci_entry **nb;

	if (ci->nentries < ci->nbuckets)
		return;
	nb = calloc(n, sizeof(*nb));
	if (nb == NULL)
		return; /* longer chains, still correct */
	for (i = 0; i < ci->nbuckets; i++) {
		while (ci->buckets[i] != NULL) {
			struct ci_entry *e = ci->buckets[i];
			ci->buckets[i] = e->next;
			e->next = nb[strhash(e->addr) & (n - 1)];
			nb[strhash(e->addr) & (n - 1)] = e;
		}
	}
	free(ci->buckets);
	ci->buckets = nb;
	ci->nbuckets = n;
}

static void
ci_add(certindex *ci, const char *addr, struct ci_cert *c)
{
	struct ci_entry *e;

	for (e = c->entries; e != NULL; e = e->cert_next)
		if (strcmp(e->addr, addr) == 0)
			return; /* named by its file and by its SAN: once */
	ci_grow(ci);
	e = calloc(1, sizeof(*e));
	if (e == NULL || ci->nbuckets == 0 || (e->addr = strdup(addr)) == NULL) {
		free(e);
		return;
	}
	e->cert = c;
	e->cert_next = c->entries;
	c->entries = e;
	e->next = ci->buckets[strhash(addr) & (ci->nbuckets - 1)];
	ci->buckets[strhash(addr) & (ci->nbuckets - 1)] = e;
	ci->nentries++;
}

static void
ci_index_file(certindex *ci, struct ci_file *f)
{
	size_t i;
	char **p;

	for (i = 0; i < f->ncerts; i++) {
		if (f->faddr != NULL)
			ci_add(ci, f->faddr, &f->certs[i]);
		for (p = f->certs[i].names; *p != NULL; p++)
			ci_add(ci, *p, &f->certs[i]);
	}
}

static void
ci_unindex_file(certindex *ci, struct ci_file *f)
{
	struct ci_entry *e, **pp;
	size_t i;

	for (i = 0; i < f->ncerts; i++) {
		while ((e = f->certs[i].entries) != NULL) {
			f->certs[i].entries = e->cert_next;
			for (pp = &ci->buckets[strhash(e->addr) & (ci->nbuckets - 1)]; *pp != NULL;
			     pp = &(*pp)->next) {
				if (*pp == e) {
					*pp = e->next;
					break;
				}
			}
			ci_entry_free(e);
			ci->nentries--;
		}
		if (f->certs[i].x != NULL) {
			pthread_mutex_lock(&ci->cache_lock);
			ci->nparsed--;
			pthread_mutex_unlock(&ci->cache_lock);
		}
	}
}

/* How dir i is to be rescanned now, or -1 when it need not be. */
static int
ci_scan_mode(const certindex *ci, size_t i, int due)
{
	const struct ci_dir *d = &ci->dirs[i];
	struct stat st;

	if (due)
		return CI_SCAN_FULL;
	if (d->wfd >= 0)
		return ci_watch_pending(d) ? CI_SCAN_EVENTS : -1;
	if (stat(d->path, &st) == 0 &&
	    (st.st_mtim.tv_sec != d->mtime.tv_sec || st.st_mtim.tv_nsec != d->mtime.tv_nsec))
		return CI_SCAN_ENTRIES;
	return -1;
}

/* Rescan dir i in mode and apply what changed to the index. */
static int
ci_rescan(certindex *ci, size_t i, int mode, char *err, size_t errlen)
{
	struct ci_diff diff;
	struct ci_file **old;
	size_t j;

	if (ci_scan_dir(&ci->dirs[i], mode, &diff, err, errlen) != 0)
		return -1;
	pthread_rwlock_wrlock(&ci->lock);
	old = ci->dirs[i].files;
	ci->dirs[i].files = diff.files;
	ci->dirs[i].nfiles = diff.nfiles;
	for (j = 0; j < diff.ngone; j++)
		ci_unindex_file(ci, diff.gone[j]);
	for (j = 0; j < diff.nadded; j++)
		ci_index_file(ci, diff.added[j]);
	pthread_rwlock_unlock(&ci->lock);
	free(old);
	for (j = 0; j < diff.ngone; j++)
		ci_file_free(diff.gone[j]);
	ci_diff_clear(&diff);
	return 0;
}

/*
 * Bring the index up to date: what inotify reports (or, without inotify,
 * new directory entries) at once, and every file stat'ed now and then.
 * Unchanged files keep their entries; the lock is held for writing only
 * while changes are applied.  A lookup that finds another thread
 * rescanning goes on with the index as it is, unless force.
 */
static int
ci_refresh(certindex *ci, int force, char *err, size_t errlen)
{
	size_t i;
	int rc = 0, due, any = 0;

	due = force || time(NULL) - ci->scanned >= ci->full_every;
	for (i = 0; !any && i < ci->ndirs; i++)
		any = ci_scan_mode(ci, i, due) >= 0;
	if (!any)
		return 0;
	if (force)
		pthread_mutex_lock(&ci->scan_lock);
	else if (pthread_mutex_trylock(&ci->scan_lock) != 0)
		return 0;
	due = force || time(NULL) - ci->scanned >= ci->full_every;
	for (i = 0; i < ci->ndirs; i++) {
		int mode = ci_scan_mode(ci, i, due);
		if (mode >= 0 && ci_rescan(ci, i, mode, err, errlen) != 0)
			rc = -1;
	}
	if (due)
		ci->scanned = time(NULL);
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
	for (i = -1;
	     !found && (i = X509_NAME_get_index_by_NID(subj, NID_pkcs9_emailAddress, i)) >= 0;) {
		ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
		/* an IA5String, as PKCS #9 has it (and X509_check_email reads it); found by fuzzing */
		if (ASN1_STRING_type(d) != V_ASN1_IA5STRING ||
		    (size_t)ASN1_STRING_length(d) != strlen((const char *)ASN1_STRING_get0_data(d)))
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
ci_validate(certindex *ci, X509 *cert, STACK_OF(X509) *untrusted, const char *addr, char *reason,
    size_t reasonlen)
{
	const char *who = addr != NULL ? addr : "the domain";
	char what[400];

	if (certstore_check_usable(cert, who, reason, reasonlen) != 0)
		return -1;
	if (addr != NULL && !certindex_names_address(cert, addr)) {
		errmsg_set(reason, reasonlen, "certificate for %s does not name that address",
		    addr);
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
	    EVP_PKEY_is_a(X509_get0_pubkey(cert), "EC") ? X509_PURPOSE_ANY
	                                                : X509_PURPOSE_SMIME_ENCRYPT,
	    what, reason, reasonlen);
}

static int
ci_validate_signer(certindex *ci, X509 *cert, STACK_OF(X509) *chain, const char *addr, char *reason,
    size_t reasonlen)
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

static time_t ci_check_until(certindex *ci, X509 *x, STACK_OF(X509) *untrusted, int ok, time_t now);

/* The same certificate, chain and address as slot s? */
static int
ci_signer_is(const struct ci_signer *s, X509 *cert, STACK_OF(X509) *chain, const char *addr)
{
	int i, n = sk_X509_num(chain);

	if (s->cert == NULL || X509_cmp(s->cert, cert) != 0 || n != sk_X509_num(s->chain) ||
	    (addr == NULL) != (s->addr == NULL) || (addr != NULL && strcmp(addr, s->addr) != 0))
		return 0;
	for (i = 0; i < n; i++)
		if (X509_cmp(sk_X509_value(chain, i), sk_X509_value(s->chain, i)) != 0)
			return 0;
	return 1;
}

static void
ci_signer_clear(struct ci_signer *s)
{
	X509_free(s->cert);
	sk_X509_pop_free(s->chain, X509_free);
	free(s->addr);
	free(s->reason);
	memset(s, 0, sizeof(*s));
}

/*
 * The checks of a signing identity, kept like a recipient's (the same
 * identity signs message after message): until a notAfter of its chain or a
 * CRL's nextUpdate, a failure for a minute.
 */
int
certindex_validate_signer(certindex *ci, X509 *cert, STACK_OF(X509) *chain, const char *addr,
    char *reason, size_t reasonlen)
{
	struct ci_signer *s;
	time_t now = time(NULL);
	size_t i;
	int rc;

	if (ci == NULL)
		return ci_validate_signer(ci, cert, chain, addr, reason, reasonlen);
	pthread_mutex_lock(&ci->cache_lock);
	for (i = 0; i < CI_SIGNERS; i++) {
		s = &ci->signers[i];
		if (now < s->until && ci_signer_is(s, cert, chain, addr)) {
			rc = s->ok ? 0 : -1;
			if (!s->ok)
				snprintf(reason, reasonlen, "%s",
				    s->reason ? s->reason : "unusable");
			pthread_mutex_unlock(&ci->cache_lock);
			return rc;
		}
	}
	pthread_mutex_unlock(&ci->cache_lock);
	rc = ci_validate_signer(ci, cert, chain, addr, reason, reasonlen);
	pthread_mutex_lock(&ci->cache_lock);
	s = &ci->signers[ci->next_signer++ % CI_SIGNERS];
	ci_signer_clear(s);
	s->cert = cert;
	X509_up_ref(cert);
	s->chain = chain != NULL ? X509_chain_up_ref(chain) : sk_X509_new_null();
	s->addr = addr != NULL ? strdup(addr) : NULL;
	s->ok = rc == 0;
	s->reason = rc == 0 ? NULL : strdup(reason);
	s->until = ci_check_until(ci, cert, chain, rc == 0, now);
	if (s->chain == NULL || (addr != NULL && s->addr == NULL) || (rc != 0 && s->reason == NULL))
		ci_signer_clear(s); /* out of memory: not kept */
	pthread_mutex_unlock(&ci->cache_lock);
	return rc;
}

int
certindex_validate(certindex *ci, X509 *cert, STACK_OF(X509) *untrusted, const char *addr,
    char *reason, size_t reasonlen)
{
	return ci_validate(ci, cert, untrusted, addr, reason, reasonlen);
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

/* Earliest of t and the time in a (if later than now). */
static time_t
ci_until(time_t t, const ASN1_TIME *a, time_t now)
{
	struct tm tm;
	time_t v;

	memset(&tm, 0, sizeof(tm));
	if (a == NULL || ASN1_TIME_to_tm(a, &tm) != 1)
		return t;
	v = timegm(&tm);
	return v > now && v < t ? v : t;
}

/*
 * How long a check made now holds: a usable certificate until the first
 * notAfter of its chain or nextUpdate of a CRL (and an hour at most), an
 * unusable one for a minute or until its notBefore.
 */
static time_t
ci_check_until(certindex *ci, X509 *x, STACK_OF(X509) *untrusted, int ok, time_t now)
{
	time_t t = now + (ok ? CI_GOOD_SECONDS : CI_BAD_SECONDS);
	int i;

	if (!ok)
		return ci_until(t, X509_get0_notBefore(x), now);
	t = ci_until(t, X509_get0_notAfter(x), now);
	for (i = 0; untrusted != NULL && i < sk_X509_num(untrusted); i++)
		t = ci_until(t, X509_get0_notAfter(sk_X509_value(untrusted, i)), now);
	for (i = 0; ci->crls != NULL && i < sk_X509_CRL_num(ci->crls); i++)
		t = ci_until(t, X509_CRL_get0_nextUpdate(sk_X509_CRL_value(ci->crls, i)), now);
	if (ci->trust != NULL) {
		STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(ci->trust);
		for (i = 0; i < sk_X509_OBJECT_num(objs); i++) {
			X509 *ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
			if (ca != NULL)
				t = ci_until(t, X509_get0_notAfter(ca), now);
		}
	}
	return t;
}

/* Drop the parsed certificates not used for the longest time (cache lock held). */
static void
ci_evict(certindex *ci)
{
	unsigned long keep_after = ci->tick - CI_KEEP_PARSED * 3 / 4;
	size_t d, i, j;

	for (d = 0; d < ci->ndirs; d++) {
		for (i = 0; i < ci->dirs[d].nfiles; i++) {
			struct ci_file *f = ci->dirs[d].files[i];
			for (j = 0; j < f->ncerts; j++) {
				if (f->certs[j].x != NULL && f->certs[j].used < keep_after) {
					X509_free(f->certs[j].x);
					f->certs[j].x = NULL;
					ci->nparsed--;
				}
			}
		}
	}
}

/*
 * The parsed certificate of e (a new reference in *x) and whether it is
 * usable for e->addr: 1 usable, 0 not (reason set), -1 not a recipient's.
 * The check is kept on the entry until ci_check_until says otherwise.
 */
static int
ci_entry_check(certindex *ci, struct ci_entry *e, X509 **x, char *reason, size_t reasonlen)
{
	struct ci_cert *c = e->cert;
	STACK_OF(X509) *sk = NULL;
	time_t now = time(NULL), until;
	int state, ok;

	*x = NULL;
	pthread_mutex_lock(&ci->cache_lock);
	c->used = ++ci->tick;
	if (c->x == NULL || e->vstate == 0 || now >= e->vuntil) {
		pthread_mutex_unlock(&ci->cache_lock);
		sk = ci_load_file(c->file); /* file reading and parsing: without the lock */
		pthread_mutex_lock(&ci->cache_lock);
		if (c->x == NULL && sk != NULL && c->k < sk_X509_num(sk)) {
			c->x = sk_X509_value(sk, c->k);
			X509_up_ref(c->x);
			if (++ci->nparsed > CI_KEEP_PARSED)
				ci_evict(ci);
		}
	}
	if (c->x == NULL) {
		pthread_mutex_unlock(&ci->cache_lock);
		sk_X509_pop_free(sk, X509_free);
		errmsg_set(reason, reasonlen, "certificate for %s: cannot read %s", e->addr,
		    c->file->path);
		return 0;
	}
	*x = c->x;
	X509_up_ref(*x);
	state = e->vstate;
	until = e->vuntil;
	if (state < 0 && now < until)
		snprintf(reason, reasonlen, "%s", e->vreason != NULL ? e->vreason : "unusable");
	pthread_mutex_unlock(&ci->cache_lock);
	if (X509_check_ca(*x) != 0) {
		sk_X509_pop_free(sk, X509_free);
		X509_free(*x);
		*x = NULL;
		return -1;
	}
	if (state == 0 || now >= until) {
		/* the check itself (chain verification): without the lock */
		ok = ci_validate(ci, *x, sk, e->addr, reason, reasonlen) == 0;
		pthread_mutex_lock(&ci->cache_lock);
		e->vstate = ok ? 1 : -1;
		e->vuntil = ci_check_until(ci, *x, sk, ok, now);
		free(e->vreason);
		e->vreason = ok ? NULL : strdup(reason);
		pthread_mutex_unlock(&ci->cache_lock);
		state = e->vstate;
	}
	sk_X509_pop_free(sk, X509_free);
	return state > 0 ? 1 : 0;
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
	for (e = ci->nbuckets ? ci->buckets[strhash(norm) & (ci->nbuckets - 1)] : NULL; e != NULL;
	     e = e->next) {
		char r[512] = "";
		X509 *x;
		int rc;
		if (strcmp(e->addr, norm) != 0)
			continue;
		rc = ci_entry_check(ci, e, &x, r, sizeof(r));
		if (rc < 0)
			continue;
		candidates++;
		if (rc == 0) {
			if (why[0] == '\0')
				snprintf(why, sizeof(why), "%s", r);
			X509_free(x);
			continue;
		}
		if (best == NULL ||
		    ASN1_TIME_compare(X509_get0_notBefore(x), X509_get0_notBefore(best)) > 0) {
			X509_free(best);
			best = x;
		} else {
			X509_free(x);
		}
	}
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

int
certindex_rescan(certindex *ci, char *err, size_t errlen)
{
	return ci_refresh(ci, 1, err, errlen);
}

void
certindex_foreach(certindex *ci, certindex_visit_fn fn, void *arg)
{
	char err[256], r[512];
	size_t i;

	(void)ci_refresh(ci, 0, err, sizeof(err));
	pthread_rwlock_rdlock(&ci->lock);
	for (i = 0; i < ci->nbuckets; i++) {
		struct ci_entry *e;
		for (e = ci->buckets[i]; e != NULL; e = e->next) {
			X509 *x = NULL;
			int rc;
			r[0] = '\0';
			rc = ci_entry_check(ci, e, &x, r, sizeof(r));
			if (rc >= 0 && x != NULL)
				fn(arg, e->addr, x, e->cert->file->path, rc == 1, rc == 1 ? "" : r);
			X509_free(x);
		}
	}
	pthread_rwlock_unlock(&ci->lock);
}

size_t
certindex_count(certindex *ci)
{
	char err[256];
	size_t n;

	(void)ci_refresh(ci, 0, err, sizeof(err));
	pthread_rwlock_rdlock(&ci->lock);
	n = ci->nentries;
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
	pthread_mutex_init(&ci->cache_lock, NULL);
	for (i = 0; dirs != NULL && dirs[i] != NULL; i++)
		n++;
	ci->dirs = calloc(n + 1, sizeof(*ci->dirs));
	if (ci->dirs == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		ci->dirs[ci->ndirs].wfd = -1;
		ci->dirs[ci->ndirs].path = strdup(dirs[i]);
		if (ci->dirs[ci->ndirs].path == NULL)
			goto fail;
		ci->ndirs++;
	}
	ci->full_every = CI_FULL_SECONDS;
	for (i = 0; i < ci->ndirs; i++) { /* before the first scan: no change is missed */
		ci_watch(&ci->dirs[i]);
		if (ci->dirs[i].wfd < 0)
			ci->full_every = CI_RESCAN_SECONDS;
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
	size_t i, j;

	if (ci == NULL)
		return;
	for (i = 0; i < ci->ndirs; i++) {
		for (j = 0; j < ci->dirs[i].nfiles; j++) {
			ci_unindex_file(ci, ci->dirs[i].files[j]);
			ci_file_free(ci->dirs[i].files[j]);
		}
		free(ci->dirs[i].files);
		free(ci->dirs[i].path);
		ci_dir_clear(&ci->dirs[i]);
	}
	free(ci->dirs);
	free(ci->buckets);
	for (i = 0; i < CI_SIGNERS; i++)
		ci_signer_clear(&ci->signers[i]);
	X509_STORE_free(ci->trust);
	sk_X509_CRL_pop_free(ci->crls, X509_CRL_free);
	pthread_rwlock_destroy(&ci->lock);
	pthread_mutex_destroy(&ci->scan_lock);
	pthread_mutex_destroy(&ci->cache_lock);
	free(ci);
}
