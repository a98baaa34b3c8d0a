/*
 * signers.c - our own signing certificates, watched: the table behind the
 * metrics gauges of each signing identity's expiry, and a warning once a
 * day per signing certificate that ends within warn-expiry days.
 *
 * The table is made again from the configuration in force at start,
 * after every reload and every hour (milter_signers_refresh), so that a
 * scrape never loads a key.  A certificate is remembered by its serial and
 * issuer hash; its warning is repeated when a day has passed since the
 * last one (a restarted milter process warns again at once).
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/x509.h>

#include "log.h"
#include "metrics.h"
#include "milter.h"

#define SIGNERS_MAX   1024
#define WARN_EVERY    (24 * 3600)
#define REFRESH_EVERY 3600

struct signer_row {
	char identity[320];
	char key[512];
	time_t not_after;
};

struct warned {
	char id[160]; /* serial/issuer hash */
	time_t at;
};

static pthread_mutex_t signers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct signer_row rows[SIGNERS_MAX];
static size_t nrows;
static struct warned warned[SIGNERS_MAX];
static size_t nwarned;

/* What a refresh builds before it replaces the table. */
struct refresh {
	const struct conf *c;
	time_t now;
	struct signer_row *rows;
	size_t n;
};

static void
cert_id(X509 *x, char *buf, size_t len)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

	snprintf(buf, len, "%s/%08lx", hex != NULL ? hex : "?", X509_issuer_name_hash(x));
	OPENSSL_free(hex);
	BN_free(bn);
}

/* Nonzero when the certificate id was not warned of within a day (and remember it now). */
static int
warn_due(const char *id, time_t now)
{
	size_t i;

	for (i = 0; i < nwarned; i++) {
		if (strcmp(warned[i].id, id) != 0)
			continue;
		if (now - warned[i].at < WARN_EVERY)
			return 0;
		warned[i].at = now;
		return 1;
	}
	if (nwarned < SIGNERS_MAX) {
		snprintf(warned[nwarned].id, sizeof(warned[nwarned].id), "%s", id);
		warned[nwarned++].at = now;
	}
	return 1;
}

/* conf_signer_fn: a row of the table; the warning when it is due. */
static void
refresh_one(void *arg, const struct conf_signer *s)
{
	struct refresh *r = arg;
	struct signer_row *row;
	char id[160], when[32];
	struct tm tm;

	if (r->n == SIGNERS_MAX || ASN1_TIME_to_tm(X509_get0_notAfter(s->cert), &tm) != 1)
		return;
	row = &r->rows[r->n++];
	snprintf(row->identity, sizeof(row->identity), "%s", s->identity);
	snprintf(row->key, sizeof(row->key), "%s", s->key);
	row->not_after = timegm(&tm);
	if (!conf_signer_expires_within(r->c, s->cert, r->now, when, sizeof(when)))
		return;
	cert_id(s->cert, id, sizeof(id));
	pthread_mutex_lock(&signers_lock);
	if (warn_due(id, r->now))
		log_msg(LOG_WARNING, NULL,
		    "%s: signing certificate %s expires on %s, in %lld days (warn-expiry %d)",
		    s->what, id, when,
		    (long long)((row->not_after - r->now + 43200) / 86400), /* nearest day */
		    r->c->warn_expiry_days);
	pthread_mutex_unlock(&signers_lock);
}

void
milter_signers_refresh(const struct conf *c)
{
	struct refresh r = {c, time(NULL), NULL, 0};

	r.rows = calloc(SIGNERS_MAX, sizeof(*r.rows));
	if (r.rows == NULL)
		return;
	conf_foreach_signer(c, refresh_one, &r);
	pthread_mutex_lock(&signers_lock);
	memcpy(rows, r.rows, r.n * sizeof(*rows));
	nrows = r.n;
	pthread_mutex_unlock(&signers_lock);
	free(r.rows);
}

void
milter_signers_write_metrics(FILE *f)
{
	static const char *ts = "smime_milter_signing_certificate_expiry_timestamp_seconds";
	static const char *left = "smime_milter_signing_certificate_expiry_seconds";
	time_t now = time(NULL);
	size_t i;

	pthread_mutex_lock(&signers_lock);
	metrics_write_gauge(f, ts,
	    "When the certificate of each signing identity ends (notAfter).");
	for (i = 0; i < nrows; i++) {
		const char *labels[] = {"identity", rows[i].identity, "key", rows[i].key, NULL};
		metrics_write_sample(f, ts, labels, (double)rows[i].not_after);
	}
	metrics_write_gauge(f, left,
	    "Seconds until the certificate of each signing identity ends (negative: ended).");
	for (i = 0; i < nrows; i++) {
		const char *labels[] = {"identity", rows[i].identity, "key", rows[i].key, NULL};
		metrics_write_sample(f, left, labels, (double)(rows[i].not_after - now));
	}
	pthread_mutex_unlock(&signers_lock);
}

/* Every hour, the table and the warnings again from the configuration in force. */
static void *
signers_thread(void *arg)
{
	(void)arg;
	for (;;) {
		struct conf *c;
		sleep(REFRESH_EVERY);
		c = milter_get_conf();
		milter_signers_refresh(c);
		conf_unref(c);
	}
	return NULL;
}

int
milter_signers_start(void)
{
	pthread_t tid;

	if (pthread_create(&tid, NULL, signers_thread, NULL) != 0)
		return -1;
	pthread_detach(tid);
	return 0;
}
