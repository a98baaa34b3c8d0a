/*
 * ldapstore.c - recipient certificates from an LDAP directory, with a
 * pool of connections and a per-address cache.  See ldapstore.h.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <ldap.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "errmsg.h"
#include "ldapstore.h"
#include "metrics.h"
#include "mime.h"
#include "privfile.h"
#include "strhash.h"

#define LS_BUCKETS      1024
#define LS_CACHE_MAX    20000 /* cached addresses at most */
#define LS_MAX_ENTRIES  16    /* entries read per search */
#define LS_MAX_CERTS    64    /* certificates kept per address */
#define LS_FILTER_MAX   1024
#define LS_PASSWORD_MAX 1024

struct ls_cached {
	struct ls_cached *next;
	char *addr;
	STACK_OF(X509) *certs; /* NULL: the directory has none */
	time_t expires;        /* CLOCK_MONOTONIC seconds */
};

struct ls_conn {
	LDAP *ld; /* NULL: not connected */
	int busy;
};

struct ldapstore {
	char *uri, *base, *filter, *bind_dn, *password_file;
	int timeout, cache_ttl, negative_ttl;
	pthread_mutex_t pool_lock;
	pthread_cond_t pool_free;
	struct ls_conn conns[LDAPSTORE_POOL];
	pthread_mutex_t cache_lock;
	struct ls_cached *buckets[LS_BUCKETS];
	size_t ncached;
};

static time_t
ls_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* The address as a cache key: domain part lower-cased. */
static void
ls_key(const char *addr, char *out, size_t outlen)
{
	char *at;

	snprintf(out, outlen, "%s", addr);
	at = strrchr(out, '@');
	if (at != NULL)
		for (; *at != '\0'; at++)
			*at = (char)((*at >= 'A' && *at <= 'Z') ? *at + 32 : *at);
}

static unsigned
ls_hash(const char *s)
{
	return strhash(s) % LS_BUCKETS;
}

/* ---- values ---- */

STACK_OF(X509) *
ldapstore_parse_smime(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	STACK_OF(X509) *out = NULL;
	PKCS7 *p7;
	X509 *x;

	if (len == 0 || len > 1024 * 1024)
		return NULL;
	p7 = d2i_PKCS7(NULL, &p, (long)len);
	if (p7 != NULL) {
		if (PKCS7_type_is_signed(p7) && p7->d.sign != NULL && p7->d.sign->cert != NULL)
			out = X509_chain_up_ref(p7->d.sign->cert);
		PKCS7_free(p7);
		ERR_clear_error();
		return out;
	}
	p = der;
	x = d2i_X509(NULL, &p, (long)len);
	ERR_clear_error();
	if (x == NULL)
		return NULL;
	out = sk_X509_new_null();
	if (out == NULL || !sk_X509_push(out, x)) {
		X509_free(x);
		sk_X509_free(out);
		return NULL;
	}
	return out;
}

/* Keep the certificates of sk in certs (consumes sk); CA certificates only from a PKCS#7,
 * where they are the chain of the end-entity ones. */
static void
ls_keep(STACK_OF(X509) *certs, STACK_OF(X509) *sk, int cas)
{
	X509 *x;

	while ((x = sk_X509_shift(sk)) != NULL) {
		if ((!cas && X509_check_ca(x) != 0) || sk_X509_num(certs) >= LS_MAX_CERTS ||
		    !sk_X509_push(certs, x))
			X509_free(x);
	}
	sk_X509_free(sk);
}

/* Base name of an attribute description ("userCertificate;binary" -> userCertificate). */
static int
ls_attr_is(const char *attr, const char *name)
{
	size_t n = strlen(name);

	return strncasecmp(attr, name, n) == 0 && (attr[n] == '\0' || attr[n] == ';');
}

static void
ls_read_entry(LDAP *ld, LDAPMessage *e, STACK_OF(X509) *certs)
{
	BerElement *ber = NULL;
	char *a;

	for (a = ldap_first_attribute(ld, e, &ber); a != NULL;
	     a = ldap_next_attribute(ld, e, ber)) {
		int smime = ls_attr_is(a, "userSMIMECertificate");
		struct berval **vals = NULL;
		int i;
		if (smime || ls_attr_is(a, "userCertificate"))
			vals = ldap_get_values_len(ld, e, a);
		for (i = 0; vals != NULL && vals[i] != NULL; i++) {
			const unsigned char *p = (const unsigned char *)vals[i]->bv_val;
			STACK_OF(X509) *sk = NULL;
			X509 *x;
			if (smime) {
				sk = ldapstore_parse_smime(p, vals[i]->bv_len);
			} else if ((x = d2i_X509(NULL, &p, (long)vals[i]->bv_len)) != NULL) {
				sk = sk_X509_new_null();
				if (sk == NULL || !sk_X509_push(sk, x))
					X509_free(x);
			}
			ERR_clear_error();
			if (sk != NULL)
				ls_keep(certs, sk, smime);
		}
		ldap_value_free_len(vals);
		ldap_memfree(a);
	}
	ber_free(ber, 0);
}

/* ---- SIGPIPE from a connection the directory closed ---- */

struct ls_sigpipe {
	sigset_t old;
	int pending_before;
};

static void
ls_sigpipe_block(struct ls_sigpipe *g)
{
	sigset_t set, pend;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &g->old);
	g->pending_before = sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE) == 1;
}

static void
ls_sigpipe_restore(struct ls_sigpipe *g)
{
	static const struct timespec zero = {0, 0};
	sigset_t set, pend;

	if (!g->pending_before && sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE) == 1) {
		sigemptyset(&set);
		sigaddset(&set, SIGPIPE);
		(void)sigtimedwait(&set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* ---- connections ---- */

/* A new connection, bound when a bind DN is set. */
static LDAP *
ls_connect(ldapstore *ls, char *err, size_t errlen)
{
	struct timeval tv = {ls->timeout, 0};
	int v3 = LDAP_VERSION3, rc;
	char pw[LS_PASSWORD_MAX];
	struct berval cred;
	LDAP *ld = NULL;

	rc = ldap_initialize(&ld, ls->uri);
	if (rc != LDAP_SUCCESS) {
		errmsg_set(err, errlen, "%s", ldap_err2string(rc));
		return NULL;
	}
	if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv) != LDAP_OPT_SUCCESS) {
		errmsg_set(err, errlen, "cannot set connection options");
		goto fail;
	}
	if (ls->bind_dn == NULL)
		return ld; /* anonymous: connected by the first search */
	if (privfile_first_line(ls->password_file, "ldap-password-file", pw, sizeof(pw), err,
	        errlen) != 0)
		goto fail;
	cred.bv_val = pw;
	cred.bv_len = strlen(pw);
	rc = ldap_sasl_bind_s(ld, ls->bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
	OPENSSL_cleanse(pw, sizeof(pw));
	if (rc != LDAP_SUCCESS) {
		errmsg_set(err, errlen, "bind as %s: %s", ls->bind_dn, ldap_err2string(rc));
		goto fail;
	}
	return ld;
fail:
	OPENSSL_cleanse(pw, sizeof(pw)); /* a partly read password too */
	ldap_unbind_ext_s(ld, NULL, NULL);
	return NULL;
}

/* A handle slot of the pool, waiting up to the timeout; -1 when none frees up. */
static int
ls_acquire(ldapstore *ls)
{
	struct timespec deadline;
	int i, rc = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += ls->timeout;
	pthread_mutex_lock(&ls->pool_lock);
	for (;;) {
		for (i = 0; i < LDAPSTORE_POOL; i++) {
			if (!ls->conns[i].busy) {
				ls->conns[i].busy = 1;
				pthread_mutex_unlock(&ls->pool_lock);
				return i;
			}
		}
		if (rc == ETIMEDOUT)
			break;
		rc = pthread_cond_timedwait(&ls->pool_free, &ls->pool_lock, &deadline);
	}
	pthread_mutex_unlock(&ls->pool_lock);
	return -1;
}

static void
ls_release(ldapstore *ls, int slot)
{
	pthread_mutex_lock(&ls->pool_lock);
	ls->conns[slot].busy = 0;
	pthread_cond_signal(&ls->pool_free);
	pthread_mutex_unlock(&ls->pool_lock);
}

/*
 * One search on the slot's connection (opened when needed).  LDAP_SUCCESS
 * with the certificates added to certs, or an LDAP error code with err;
 * the connection is dropped after an error.  *fresh says whether the
 * connection was opened here.
 */
static int
ls_search(ldapstore *ls, struct ls_conn *c, const char *filter, STACK_OF(X509) *certs, int *fresh,
    char *err, size_t errlen)
{
	char *attrs[] = {"userSMIMECertificate", "userCertificate;binary", NULL};
	struct timeval tv = {ls->timeout, 0};
	LDAPMessage *res = NULL, *e;
	int rc;

	*fresh = 0;
	if (c->ld == NULL) {
		*fresh = 1;
		c->ld = ls_connect(ls, err, errlen);
		if (c->ld == NULL)
			return LDAP_SERVER_DOWN;
	}
	rc = ldap_search_ext_s(c->ld, ls->base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL, NULL,
	    &tv, LS_MAX_ENTRIES, &res);
	if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
		if (rc == LDAP_NO_SUCH_OBJECT)
			errmsg_set(err, errlen, "search base %s does not exist", ls->base);
		else
			errmsg_set(err, errlen, "search: %s", ldap_err2string(rc));
		ldap_msgfree(res);
		ldap_unbind_ext_s(c->ld, NULL, NULL);
		c->ld = NULL;
		return rc;
	}
	for (e = ldap_first_entry(c->ld, res); e != NULL; e = ldap_next_entry(c->ld, e))
		ls_read_entry(c->ld, e, certs);
	ldap_msgfree(res);
	return LDAP_SUCCESS;
}

/* Ask the directory: FOUND (certs filled), MISSING, or ERROR with reason. */
static enum certstore_result
ls_ask(ldapstore *ls, const char *addr, STACK_OF(X509) *certs, char *reason, size_t reasonlen)
{
	char filter[LS_FILTER_MAX], err[512] = "";
	struct ls_sigpipe guard;
	int slot, fresh, rc = LDAP_OTHER, tries;

	if (ldapstore_filter(ls->filter, addr, filter, sizeof(filter), err, sizeof(err)) != 0) {
		errmsg_set(reason, reasonlen, "LDAP %s: %s", ls->uri, err);
		return CERTSTORE_ERROR;
	}
	slot = ls_acquire(ls);
	if (slot < 0) {
		errmsg_set(reason, reasonlen, "LDAP %s: no free connection within %d s", ls->uri,
		    ls->timeout);
		return CERTSTORE_ERROR;
	}
	ls_sigpipe_block(&guard);
	/* a connection kept from before may have been closed by the server: one more try */
	for (tries = 0; tries < 2; tries++) {
		rc = ls_search(ls, &ls->conns[slot], filter, certs, &fresh, err, sizeof(err));
		if (rc == LDAP_SUCCESS || fresh || rc != LDAP_SERVER_DOWN)
			break;
	}
	ls_sigpipe_restore(&guard);
	ls_release(ls, slot);
	if (rc != LDAP_SUCCESS) {
		errmsg_set(reason, reasonlen, "LDAP %s: %s", ls->uri, err);
		return CERTSTORE_ERROR;
	}
	if (sk_X509_num(certs) == 0) {
		errmsg_set(reason, reasonlen, "no certificate for %s in LDAP %s", addr, ls->uri);
		return CERTSTORE_MISSING;
	}
	return CERTSTORE_FOUND;
}

int
ldapstore_with_conn(ldapstore *ls, ldapstore_conn_fn fn, void *arg, char *err, size_t errlen)
{
	struct ls_sigpipe guard;
	int slot = ls_acquire(ls), rc = LDAP_OTHER, tries;

	if (slot < 0) {
		errmsg_set(err, errlen, "LDAP %s: no free connection within %d s", ls->uri,
		    ls->timeout);
		return -1;
	}
	ls_sigpipe_block(&guard);
	for (tries = 0; tries < 2; tries++) {
		struct ls_conn *c = &ls->conns[slot];
		int fresh = c->ld == NULL;
		if (fresh && (c->ld = ls_connect(ls, err, errlen)) == NULL) {
			rc = LDAP_SERVER_DOWN;
			break;
		}
		rc = fn(c->ld, arg, err, errlen);
		if (rc == LDAP_SUCCESS)
			break;
		ldap_unbind_ext_s(c->ld, NULL, NULL);
		c->ld = NULL;
		if (fresh || rc != LDAP_SERVER_DOWN)
			break;
	}
	ls_sigpipe_restore(&guard);
	ls_release(ls, slot);
	return rc == LDAP_SUCCESS ? 0 : -1;
}

/* ---- cache ---- */

static void
ls_cached_free(struct ls_cached *c)
{
	free(c->addr);
	sk_X509_pop_free(c->certs, X509_free);
	free(c);
}

/* 1 and *certs (a copy, NULL for a cached miss) when key is cached and fresh. */
static int
ls_cache_get(ldapstore *ls, const char *key, STACK_OF(X509) **certs)
{
	struct ls_cached **pp, *c;
	time_t now = ls_now();
	int hit = 0;

	pthread_mutex_lock(&ls->cache_lock);
	for (pp = &ls->buckets[ls_hash(key)]; (c = *pp) != NULL; pp = &c->next) {
		if (strcmp(c->addr, key) != 0)
			continue;
		if (c->expires <= now) {
			*pp = c->next;
			ls_cached_free(c);
			ls->ncached--;
			break;
		}
		*certs = c->certs != NULL ? X509_chain_up_ref(c->certs) : NULL;
		hit = c->certs == NULL || *certs != NULL;
		break;
	}
	pthread_mutex_unlock(&ls->cache_lock);
	return hit;
}

static void
ls_cache_purge_expired(ldapstore *ls, time_t now)
{
	struct ls_cached **pp, *c;
	size_t i;

	for (i = 0; i < LS_BUCKETS; i++) {
		for (pp = &ls->buckets[i]; (c = *pp) != NULL;) {
			if (c->expires <= now) {
				*pp = c->next;
				ls_cached_free(c);
				ls->ncached--;
			} else {
				pp = &c->next;
			}
		}
	}
}

/* Forget what is cached for key, if anything (the caller holds cache_lock). */
static void
ls_cache_drop(ldapstore *ls, const char *key)
{
	struct ls_cached **pp, *c;

	for (pp = &ls->buckets[ls_hash(key)]; (c = *pp) != NULL; pp = &c->next) {
		if (strcmp(c->addr, key) == 0) {
			*pp = c->next;
			ls_cached_free(c);
			ls->ncached--;
			return;
		}
	}
}

/* Remember certs (NULL: a miss) for ttl seconds; a full cache keeps nothing new. */
static void
ls_cache_put(ldapstore *ls, const char *key, STACK_OF(X509) *certs, int ttl)
{
	struct ls_cached *n;
	time_t now = ls_now();

	if (ttl <= 0)
		return;
	n = calloc(1, sizeof(*n));
	if (n == NULL || (n->addr = strdup(key)) == NULL ||
	    (certs != NULL && (n->certs = X509_chain_up_ref(certs)) == NULL)) {
		if (n != NULL)
			ls_cached_free(n);
		return;
	}
	n->expires = now + ttl;
	pthread_mutex_lock(&ls->cache_lock);
	ls_cache_drop(ls, key);
	if (ls->ncached >= LS_CACHE_MAX)
		ls_cache_purge_expired(ls, now);
	if (ls->ncached < LS_CACHE_MAX) {
		n->next = ls->buckets[ls_hash(key)];
		ls->buckets[ls_hash(key)] = n;
		ls->ncached++;
		n = NULL;
	}
	pthread_mutex_unlock(&ls->cache_lock);
	if (n != NULL)
		ls_cached_free(n);
}

void
ldapstore_forget(ldapstore *ls, const char *addr)
{
	char key[320];

	if (strlen(addr) >= sizeof(key))
		return;
	ls_key(addr, key, sizeof(key));
	pthread_mutex_lock(&ls->cache_lock);
	ls_cache_drop(ls, key);
	pthread_mutex_unlock(&ls->cache_lock);
}

/* ---- lookups ---- */

enum certstore_result
ldapstore_lookup(ldapstore *ls, const char *addr, STACK_OF(X509) **certs, char *reason,
    size_t reasonlen)
{
	enum certstore_result r;
	STACK_OF(X509) *found = NULL;
	char key[320];

	*certs = NULL;
	if (!mime_address_is_safe(addr) || strlen(addr) >= sizeof(key)) {
		errmsg_set(reason, reasonlen, "address %s cannot be looked up", addr);
		return CERTSTORE_ERROR;
	}
	ls_key(addr, key, sizeof(key));
	if (ls_cache_get(ls, key, &found)) {
		metrics_add(METRICS_LDAP_LOOKUPS, "cached", NULL, 1);
		if (found == NULL) {
			errmsg_set(reason, reasonlen, "no certificate for %s in LDAP %s (cached)",
			    addr, ls->uri);
			return CERTSTORE_MISSING;
		}
		*certs = found;
		return CERTSTORE_FOUND;
	}
	found = sk_X509_new_null();
	if (found == NULL) {
		errmsg_set(reason, reasonlen, "out of memory");
		return CERTSTORE_ERROR;
	}
	r = ls_ask(ls, addr, found, reason, reasonlen);
	metrics_add(METRICS_LDAP_LOOKUPS,
	    r == CERTSTORE_FOUND         ? "hit"
	        : r == CERTSTORE_MISSING ? "miss"
	                                 : "error",
	    NULL, 1);
	if (r == CERTSTORE_FOUND) {
		ls_cache_put(ls, key, found, ls->cache_ttl);
		*certs = found;
		return r;
	}
	if (r == CERTSTORE_MISSING)
		ls_cache_put(ls, key, NULL, ls->negative_ttl);
	sk_X509_pop_free(found, X509_free);
	return r;
}

enum certstore_result
ldapstore_find(ldapstore *ls, certindex *ci, const char *addr, X509 **cert, char *reason,
    size_t reasonlen)
{
	STACK_OF(X509) *certs = NULL;
	enum certstore_result r;
	char why[512] = "", r1[512];
	X509 *best = NULL;
	int i;

	*cert = NULL;
	r = ldapstore_lookup(ls, addr, &certs, reason, reasonlen);
	if (r != CERTSTORE_FOUND)
		return r;
	for (i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		int bad;
		if (X509_check_ca(x) != 0)
			continue; /* an intermediate: helps to build the others' chain */
		if (ci != NULL) {
			bad = certindex_validate(ci, x, certs, addr, r1, sizeof(r1)) != 0;
		} else {
			bad = certstore_check_usable(x, addr, r1, sizeof(r1)) != 0;
			if (!bad && !certindex_names_address(x, addr)) {
				errmsg_set(r1, sizeof(r1),
				    "certificate for %s does not name that address", addr);
				bad = 1;
			}
		}
		if (bad) {
			if (why[0] == '\0')
				snprintf(why, sizeof(why), "%s", r1);
			continue;
		}
		if (best == NULL ||
		    ASN1_TIME_compare(X509_get0_notBefore(x), X509_get0_notBefore(best)) > 0)
			best = x;
	}
	if (best != NULL)
		X509_up_ref(best);
	sk_X509_pop_free(certs, X509_free);
	if (best == NULL) {
		errmsg_set(reason, reasonlen, "LDAP %s: %s", ls->uri,
		    why[0] != '\0' ? why : "only CA certificates");
		return CERTSTORE_UNUSABLE;
	}
	*cert = best;
	return CERTSTORE_FOUND;
}

const char *
ldapstore_uri(const ldapstore *ls)
{
	return ls->uri;
}

/* ---- opening ---- */

ldapstore *
ldapstore_open(const struct ldapstore_options *opt, char *err, size_t errlen)
{
	char test[LS_FILTER_MAX], why[256];
	ldapstore *ls = NULL;
	LDAP *ld = NULL;
	int rc;

	if (opt->uri == NULL || opt->base == NULL) {
		errmsg_set(err, errlen, "ldap-uri and ldap-base are both needed");
		return NULL;
	}
	if ((opt->bind_dn == NULL) != (opt->password_file == NULL)) {
		errmsg_set(err, errlen, "ldap-bind-dn and ldap-password-file go together");
		return NULL;
	}
	if (opt->timeout <= 0 || opt->cache_ttl < 0 || opt->negative_ttl < 0) {
		errmsg_set(err, errlen, "LDAP timeout and cache times must not be negative");
		return NULL;
	}
	rc = ldap_initialize(&ld, opt->uri);
	if (rc != LDAP_SUCCESS || ld == NULL) {
		errmsg_set(err, errlen, "ldap-uri %s: %s", opt->uri, ldap_err2string(rc));
		return NULL;
	}
	ldap_unbind_ext_s(ld, NULL, NULL);
	if (ldapstore_filter(opt->filter ? opt->filter : LDAPSTORE_DEFAULT_FILTER, "a@b", test,
	        sizeof(test), why, sizeof(why)) != 0) {
		errmsg_set(err, errlen, "ldap-filter: %s", why);
		return NULL;
	}
	if (!ldapstore_filter_balanced(test)) {
		errmsg_set(err, errlen, "ldap-filter \"%s\": not a parenthesised filter",
		    opt->filter ? opt->filter : LDAPSTORE_DEFAULT_FILTER);
		return NULL;
	}
	ls = calloc(1, sizeof(*ls));
	if (ls == NULL)
		goto oom;
	pthread_mutex_init(&ls->pool_lock, NULL);
	pthread_cond_init(&ls->pool_free, NULL);
	pthread_mutex_init(&ls->cache_lock, NULL);
	ls->timeout = opt->timeout;
	ls->cache_ttl = opt->cache_ttl;
	ls->negative_ttl = opt->negative_ttl;
	ls->uri = strdup(opt->uri);
	ls->base = strdup(opt->base);
	ls->filter = strdup(opt->filter ? opt->filter : LDAPSTORE_DEFAULT_FILTER);
	if (ls->uri == NULL || ls->base == NULL || ls->filter == NULL)
		goto oom;
	if (opt->bind_dn != NULL &&
	    ((ls->bind_dn = strdup(opt->bind_dn)) == NULL ||
	        (ls->password_file = strdup(opt->password_file)) == NULL))
		goto oom;
	return ls;
oom:
	ldapstore_free(ls);
	errmsg_set(err, errlen, "out of memory");
	return NULL;
}

void
ldapstore_free(ldapstore *ls)
{
	struct ls_sigpipe guard;
	size_t i;

	if (ls == NULL)
		return;
	ls_sigpipe_block(&guard);
	for (i = 0; i < LDAPSTORE_POOL; i++)
		if (ls->conns[i].ld != NULL)
			ldap_unbind_ext_s(ls->conns[i].ld, NULL, NULL);
	ls_sigpipe_restore(&guard);
	for (i = 0; i < LS_BUCKETS; i++) {
		while (ls->buckets[i] != NULL) {
			struct ls_cached *c = ls->buckets[i];
			ls->buckets[i] = c->next;
			ls_cached_free(c);
		}
	}
	free(ls->uri);
	free(ls->base);
	free(ls->filter);
	free(ls->bind_dn);
	free(ls->password_file);
	pthread_mutex_destroy(&ls->pool_lock);
	pthread_cond_destroy(&ls->pool_free);
	pthread_mutex_destroy(&ls->cache_lock);
	free(ls);
}
