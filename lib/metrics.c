/*
 * metrics.c - the process's counters (one block of atomics, shared with
 * forked milter processes after metrics_init_shared) and the Prometheus
 * text exposition.  See metrics.h.
 *
 * Every series of a labelled family is listed in the table below, so that
 * an exposition always shows the same series (0 until something happens)
 * and an update is an index into the block, never an allocation.
 */
#include "config.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "errmsg.h"
#include "metrics.h"

struct family_def {
	const char *name, *help, *type;
	const char *la, *lb; /* label names; NULL: none */
};

static const struct family_def families[METRICS_NFAMILIES] = {
    [METRICS_MESSAGES] = {"smime_milter_messages_total",
        "Messages by what became of them (passed, tempfail and reject by reason).", "counter",
        "outcome", "reason"},
    [METRICS_MONITOR_MESSAGES] = {"smime_milter_monitor_messages_total",
        "Messages in mode monitor by what would have become of them.", "counter", "outcome",
        "reason"},
    [METRICS_RCPT_REFUSED] = {"smime_milter_recipients_refused_total",
        "Recipients refused or deferred at RCPT, by reason.", "counter", "reason", NULL},
    [METRICS_MONITOR_RCPT_REFUSED] = {"smime_milter_monitor_recipients_refused_total",
        "Recipients that mode monitor accepted but would have refused or deferred, by reason.",
        "counter", "reason", NULL},
    [METRICS_LDAP_LOOKUPS] = {"smime_milter_ldap_lookups_total",
        "LDAP certificate lookups: hit, miss, error, or cached (answered from the cache).",
        "counter", "result", NULL},
    [METRICS_HARVESTS] = {"smime_milter_harvests_total",
        "Signed mail from outside looked at for its signer's certificate, by result.", "counter",
        "result", NULL},
    [METRICS_RELOADS] = {"smime_milter_reloads_total",
        "Configuration reloads: ok, or refused (the file had errors).", "counter", "result", NULL},
    [METRICS_RESTARTS] = {"smime_milter_restarts_total",
        "Milter processes restarted by the supervisor after a crash.", "counter", NULL, NULL},
    [METRICS_BYTES_IN] = {"smime_milter_body_bytes_in_total",
        "Bytes of message bodies signed or encrypted (canonical, before).", "counter", NULL, NULL},
    [METRICS_BYTES_OUT] = {"smime_milter_body_bytes_out_total",
        "Bytes of the S/MIME bodies written in their place.", "counter", NULL, NULL},
    [METRICS_CONNECTIONS_REFUSED] = {"smime_milter_connections_refused_total",
        "MTA connections refused because max-connections were being served.", "counter", NULL,
        NULL},
};

struct series_def {
	enum metrics_family f;
	const char *a, *b;
};

#define MESSAGE_SERIES(F)                                                                        \
	{F, "signed", ""}, {F, "encrypted", ""}, {F, "signed_encrypted", ""},                    \
	    {F, "passed", "external"}, {F, "passed", "nothing_to_do"},                           \
	    {F, "passed", "already_protected"}, {F, "passed", "no_signing_key"},                 \
	    {F, "passed", "inbound"}, {F, "passed", "oversize"}, {F, "passed", "other"},         \
	    {F, "tempfail", "missing_key"}, {F, "tempfail", "oversize"},                         \
	    {F, "tempfail", "deadline"}, {F, "reject", "oversize"}, {F, "reject", "mime_depth"}, \
	    {F, "reject", "mime_parts"}, {F, "reject", "headers"}, {F, "reject", "header_line"}, \
	    {F, "tempfail", "key_error"}, {F, "tempfail", "missing_cert"},                       \
	    {F, "tempfail", "unknown_vmta"}, {F, "tempfail", "no_from"},                         \
	    {F, "tempfail", "internal"}, {F, "tempfail", "recipients"},                          \
	    {F, "tempfail", "undecryptable"}, {F, "tempfail", "other"},                          \
	    {F, "reject", "missing_key"}, {F, "reject", "key_error"},                            \
	    {F, "reject", "missing_cert"}, {F, "reject", "vmta_conflict"},                       \
	    {F, "reject", "unknown_vmta"}, {F, "reject", "no_from"}, {F, "reject", "internal"},  \
	    {F, "reject", "recipients"}, {F, "reject", "undecryptable"}, {F, "reject", "other"}, \
	{                                                                                        \
		F, "aborted", ""                                                                 \
	}

#define RCPT_SERIES(F)                                                                    \
	{F, "no_certificate", NULL}, {F, "expired", NULL}, {F, "not_yet_valid", NULL},    \
	    {F, "untrusted", NULL}, {F, "wrong_usage", NULL}, {F, "wrong_address", NULL}, \
	    {F, "ldap_error", NULL}, {F, "lookup_error", NULL}, {F, "mixed", NULL},       \
	    {F, "bad_address", NULL}, {F, "too_many_recipients", NULL},                   \
	{                                                                                 \
		F, "other", NULL                                                          \
	}

static const struct series_def series[] = {
    MESSAGE_SERIES(METRICS_MESSAGES),
    {METRICS_MESSAGES, "passed", "monitor"}, /* what mode monitor does with every message */
    MESSAGE_SERIES(METRICS_MONITOR_MESSAGES),
    RCPT_SERIES(METRICS_RCPT_REFUSED),
    RCPT_SERIES(METRICS_MONITOR_RCPT_REFUSED),
    {METRICS_LDAP_LOOKUPS, "hit", NULL},
    {METRICS_LDAP_LOOKUPS, "miss", NULL},
    {METRICS_LDAP_LOOKUPS, "error", NULL},
    {METRICS_LDAP_LOOKUPS, "cached", NULL},
    {METRICS_HARVESTS, "stored", NULL},
    {METRICS_HARVESTS, "known", NULL},
    {METRICS_HARVESTS, "refused", NULL},
    {METRICS_HARVESTS, "error", NULL},
    {METRICS_RELOADS, "ok", NULL},
    {METRICS_RELOADS, "refused", NULL},
    {METRICS_RESTARTS, NULL, NULL},
    {METRICS_BYTES_IN, NULL, NULL},
    {METRICS_BYTES_OUT, NULL, NULL},
    {METRICS_CONNECTIONS_REFUSED, NULL, NULL},
};
#define NSERIES (sizeof(series) / sizeof(series[0]))

/* Upper bounds of the processing-time buckets, in seconds (+Inf follows). */
static const double buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct metrics_block {
	atomic_uint_fast64_t v[NSERIES];
	atomic_uint_fast64_t hist[NBUCKETS + 1]; /* not cumulative; the last is +Inf */
	atomic_uint_fast64_t hist_count;
	atomic_uint_fast64_t hist_sum_us; /* microseconds */
	atomic_int_fast64_t start_time;
};

static struct metrics_block static_block;
static struct metrics_block *blk = &static_block;

int
metrics_init_shared(char *err, size_t errlen)
{
	struct metrics_block *b;

	if (blk != &static_block)
		return 0;
	b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED) {
		errmsg_set(err, errlen, "cannot map memory for the metrics");
		return -1;
	}
	memset(b, 0, sizeof(*b));
	atomic_store(&b->start_time, (int_fast64_t)time(NULL));
	blk = b;
	return 0;
}

static int
label_eq(const char *want, const char *have)
{
	if (want == NULL || want[0] == '\0')
		return have == NULL || have[0] == '\0';
	return have != NULL && strcmp(want, have) == 0;
}

/* The index of (f, a, b), or -1. */
static int
series_find(enum metrics_family f, const char *a, const char *b)
{
	size_t i;

	for (i = 0; i < NSERIES; i++)
		if (series[i].f == f && label_eq(series[i].a, a) && label_eq(series[i].b, b))
			return (int)i;
	return -1;
}

/* The series an unknown pair of f counts under: (a, "other"), else ("other"), else the first. */
static int
series_other(enum metrics_family f, const char *a)
{
	int i = series_find(f, a, "other");
	size_t j;

	if (i < 0)
		i = series_find(f, "other", NULL);
	for (j = 0; i < 0 && j < NSERIES; j++)
		if (series[j].f == f)
			i = (int)j;
	return i;
}

void
metrics_add(enum metrics_family f, const char *a, const char *b, uint64_t n)
{
	int i = series_find(f, a, b);

	if (i < 0)
		i = series_other(f, a);
	if (i >= 0)
		atomic_fetch_add_explicit(&blk->v[i], n, memory_order_relaxed);
}

int
metrics_known(enum metrics_family f, const char *a, const char *b)
{
	return series_find(f, a, b) >= 0;
}

uint64_t
metrics_value(enum metrics_family f, const char *a, const char *b)
{
	int i = series_find(f, a, b);

	return i < 0 ? 0 : atomic_load_explicit(&blk->v[i], memory_order_relaxed);
}

void
metrics_observe_processing(double seconds)
{
	size_t i;

	if (!(seconds >= 0))
		seconds = 0;
	for (i = 0; i < NBUCKETS && seconds > buckets[i]; i++)
		;
	atomic_fetch_add_explicit(&blk->hist[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&blk->hist_sum_us, (uint64_t)llround(seconds * 1e6),
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&blk->hist_count, 1, memory_order_relaxed);
}

void
metrics_reset(void)
{
	size_t i;

	for (i = 0; i < NSERIES; i++)
		atomic_store(&blk->v[i], 0);
	for (i = 0; i <= NBUCKETS; i++)
		atomic_store(&blk->hist[i], 0);
	atomic_store(&blk->hist_count, 0);
	atomic_store(&blk->hist_sum_us, 0);
	atomic_store(&blk->start_time, (int_fast64_t)time(NULL));
}

/* ---- exposition ---- */

static void
write_label_value(FILE *f, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

/* A number as the format writes it: integers without a fraction, +Inf/-Inf/NaN by name. */
static void
write_value(FILE *f, double v)
{
	if (isnan(v))
		fputs("NaN", f);
	else if (isinf(v))
		fputs(v > 0 ? "+Inf" : "-Inf", f);
	else if (v == floor(v) && fabs(v) < 9.007199254740992e15)
		fprintf(f, "%.0f", v);
	else
		fprintf(f, "%.17g", v);
}

void
metrics_write_gauge(FILE *f, const char *name, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

void
metrics_write_sample(FILE *f, const char *name, const char *const *labels, double value)
{
	size_t i;

	fputs(name, f);
	if (labels != NULL && labels[0] != NULL) {
		fputc('{', f);
		for (i = 0; labels[i] != NULL && labels[i + 1] != NULL; i += 2) {
			fprintf(f, "%s%s=\"", i ? "," : "", labels[i]);
			write_label_value(f, labels[i + 1]);
			fputc('"', f);
		}
		fputc('}', f);
	}
	fputc(' ', f);
	write_value(f, value);
	fputc('\n', f);
}

/* One series of the table: its labels, those whose value is "" left out. */
static void
write_series(FILE *f, const struct family_def *fd, size_t i)
{
	const char *labels[5] = {NULL};
	int n = 0;

	if (fd->la != NULL && series[i].a != NULL && series[i].a[0] != '\0') {
		labels[n++] = fd->la;
		labels[n++] = series[i].a;
	}
	if (fd->lb != NULL && series[i].b != NULL && series[i].b[0] != '\0') {
		labels[n++] = fd->lb;
		labels[n++] = series[i].b;
	}
	metrics_write_sample(f, fd->name, labels,
	    (double)atomic_load_explicit(&blk->v[i], memory_order_relaxed));
}

static void
write_histogram(FILE *f)
{
	static const char *name = "smime_milter_processing_seconds";
	uint64_t cum = 0;
	char le[32];
	size_t i;

	fprintf(f, "# HELP %s Time from the end of a message to the milter's reply.\n", name);
	fprintf(f, "# TYPE %s histogram\n", name);
	for (i = 0; i <= NBUCKETS; i++) {
		cum += atomic_load_explicit(&blk->hist[i], memory_order_relaxed);
		if (i < NBUCKETS)
			snprintf(le, sizeof(le), "%g", buckets[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		fprintf(f, "%s_bucket{le=\"%s\"} %llu\n", name, le, (unsigned long long)cum);
	}
	fprintf(f, "%s_sum %.6f\n", name,
	    (double)atomic_load_explicit(&blk->hist_sum_us, memory_order_relaxed) / 1e6);
	fprintf(f, "%s_count %llu\n", name,
	    (unsigned long long)atomic_load_explicit(&blk->hist_count, memory_order_relaxed));
}

int
metrics_write(FILE *f)
{
	size_t fi, i;

	for (fi = 0; fi < METRICS_NFAMILIES; fi++) {
		const struct family_def *fd = &families[fi];
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", fd->name, fd->help, fd->name, fd->type);
		for (i = 0; i < NSERIES; i++)
			if (series[i].f == (enum metrics_family)fi)
				write_series(f, fd, i);
	}
	write_histogram(f);
	{
		int_fast64_t none = 0; /* the static block: from the first exposition */
		atomic_compare_exchange_strong(&blk->start_time, &none, (int_fast64_t)time(NULL));
	}
	metrics_write_gauge(f, "smime_milter_start_time_seconds",
	    "When these counters started (the supervisor's start), in seconds since the epoch.");
	metrics_write_sample(f, "smime_milter_start_time_seconds", NULL,
	    (double)atomic_load_explicit(&blk->start_time, memory_order_relaxed));
	return ferror(f) ? -1 : 0;
}
