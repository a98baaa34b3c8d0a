/*
 * metrics.h - the counters of smime-milter and their exposition in the
 * Prometheus text format (version 0.0.4).
 *
 * The counters belong to the process, not to a configuration: a reload
 * keeps them.  They live in one block of memory; metrics_init_shared puts
 * that block in an anonymous shared mapping, so that a milter process
 * forked from the supervisor after it adds to the same counters as the one
 * before it (a restart does not reset them; the supervisor counts the
 * restarts there too).  Without metrics_init_shared the block is static
 * (tests, the policy explainer).  Every update is one lock-free atomic
 * operation; reads while other threads add are consistent per value.
 *
 * Families (every series of the fixed families is written, 0 until used):
 *   smime_milter_messages_total{outcome,reason}        what became of each message
 *   smime_milter_monitor_messages_total{outcome,reason} mode monitor: what would have
 *   smime_milter_recipients_refused_total{reason}       recipients refused at RCPT
 *   smime_milter_monitor_recipients_refused_total{reason}  ... that monitor mode let through
 *   smime_milter_processing_seconds                     histogram: end of message to reply
 *   smime_milter_body_bytes_in_total, _out_total        bodies signed or encrypted
 *   smime_milter_ldap_lookups_total{result}             hit, miss, error, cached
 *   smime_milter_harvests_total{result}                 stored, known, refused, error
 *   smime_milter_reloads_total{result}                  ok, refused
 *   smime_milter_restarts_total                         milter process restarts
 *   smime_milter_start_time_seconds                     when the counters started
 * Gauges that depend on the configuration in force (certificates indexed,
 * signing certificate expiry, messages in flight) are written by the
 * caller of metrics_write through metrics_write_gauge.
 */
#ifndef SMIME_METRICS_H
#define SMIME_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The counter families with labels (see above). */
enum metrics_family {
	METRICS_MESSAGES,         /* labels: outcome, reason */
	METRICS_MONITOR_MESSAGES, /* labels: outcome, reason */
	METRICS_RCPT_REFUSED,     /* label: reason */
	METRICS_MONITOR_RCPT_REFUSED,
	METRICS_LDAP_LOOKUPS,        /* label: result */
	METRICS_HARVESTS,            /* label: result */
	METRICS_RELOADS,             /* label: result */
	METRICS_RESTARTS,            /* no label */
	METRICS_BYTES_IN,            /* no label */
	METRICS_BYTES_OUT,           /* no label */
	METRICS_CONNECTIONS_REFUSED, /* no label: over max-connections */
	METRICS_NFAMILIES
};

/*
 * Move the counters to memory shared with processes forked later (call
 * once, before the first fork, in the supervisor).  0, or -1 with err
 * (the counters then stay in this process only).
 */
int metrics_init_shared(char *err, size_t errlen);

/*
 * Add n to the series of family f with labels a and b (NULL for a family
 * with fewer labels).  Label values are the fixed names listed in
 * metrics.c; an unknown pair counts under the family's series for
 * reason "other" (so no event is lost) and metrics_known says which pairs exist.
 */
void metrics_add(enum metrics_family f, const char *a, const char *b, uint64_t n);

/* Nonzero when (a, b) is a series of family f. */
int metrics_known(enum metrics_family f, const char *a, const char *b);

/* The current value of a series (0 for an unknown one); for tests and the explainer. */
uint64_t metrics_value(enum metrics_family f, const char *a, const char *b);

/* One processing time (end of message to reply), in seconds. */
void metrics_observe_processing(double seconds);

/* Reset every counter to 0 and the start time to now (tests). */
void metrics_reset(void);

/*
 * Write every fixed family to f in the text exposition format.  Returns
 * 0, or -1 when f failed.
 */
int metrics_write(FILE *f);

/*
 * Write a gauge family: "# HELP", "# TYPE name gauge", then one sample per
 * call of metrics_write_sample.  Label values are escaped as the format
 * asks (backslash, double quote, newline).
 */
void metrics_write_gauge(FILE *f, const char *name, const char *help);
/* labels: NULL-terminated name, value, name, value ... (may be NULL: none) */
void metrics_write_sample(FILE *f, const char *name, const char *const *labels, double value);

#endif
