/*
 * check_metrics.c - unit tests of the metrics module: the exact text of
 * the exposition (every fixed series, labels, the histogram's cumulative
 * buckets, escaping of label values), unknown label pairs counted under
 * "other", counters added from many threads at once, and counters shared
 * with a forked process after metrics_init_shared (what keeps them across
 * a restart of the milter process).
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metrics.h"

/* The exposition as a string (caller frees). */
static char *
exposition(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(metrics_write(f), 0);
	fclose(f);
	return buf;
}

/* The exposition holds exactly this line. */
static void
has_line(const char *text, const char *line)
{
	const char *p = text;
	size_t n = strlen(line);

	for (; (p = strstr(p, line)) != NULL; p += n)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return;
	ck_abort_msg("no line \"%s\" in:\n%s", line, text);
}

START_TEST(test_zero_series)
{
	char *t;

	metrics_reset();
	t = exposition();
	has_line(t, "# TYPE smime_milter_messages_total counter");
	has_line(t, "smime_milter_messages_total{outcome=\"signed_encrypted\"} 0");
	has_line(t, "smime_milter_messages_total{outcome=\"passed\",reason=\"external\"} 0");
	has_line(t, "smime_milter_messages_total{outcome=\"tempfail\",reason=\"missing_key\"} 0");
	has_line(t, "smime_milter_monitor_messages_total{outcome=\"signed\"} 0");
	has_line(t, "smime_milter_recipients_refused_total{reason=\"no_certificate\"} 0");
	has_line(t, "smime_milter_recipients_refused_total{reason=\"ldap_error\"} 0");
	has_line(t, "smime_milter_ldap_lookups_total{result=\"cached\"} 0");
	has_line(t, "smime_milter_reloads_total{result=\"refused\"} 0");
	has_line(t, "smime_milter_restarts_total 0");
	has_line(t, "smime_milter_body_bytes_in_total 0");
	has_line(t, "# TYPE smime_milter_processing_seconds histogram");
	has_line(t, "smime_milter_processing_seconds_bucket{le=\"+Inf\"} 0");
	has_line(t, "smime_milter_processing_seconds_count 0");
	free(t);
}
END_TEST

START_TEST(test_counts)
{
	char *t;

	metrics_reset();
	metrics_add(METRICS_MESSAGES, "signed_encrypted", NULL, 2);
	metrics_add(METRICS_MESSAGES, "passed", "external", 1);
	metrics_add(METRICS_RCPT_REFUSED, "expired", NULL, 3);
	metrics_add(METRICS_BYTES_IN, NULL, NULL, 1234);
	metrics_add(METRICS_RESTARTS, NULL, NULL, 1);
	ck_assert_uint_eq(metrics_value(METRICS_MESSAGES, "signed_encrypted", ""), 2);
	t = exposition();
	has_line(t, "smime_milter_messages_total{outcome=\"signed_encrypted\"} 2");
	has_line(t, "smime_milter_messages_total{outcome=\"passed\",reason=\"external\"} 1");
	has_line(t, "smime_milter_recipients_refused_total{reason=\"expired\"} 3");
	has_line(t, "smime_milter_body_bytes_in_total 1234");
	has_line(t, "smime_milter_restarts_total 1");
	free(t);
}
END_TEST

START_TEST(test_unknown_is_other)
{
	metrics_reset();
	ck_assert(!metrics_known(METRICS_MESSAGES, "tempfail", "no_such_reason"));
	metrics_add(METRICS_MESSAGES, "tempfail", "no_such_reason", 1);
	metrics_add(METRICS_RCPT_REFUSED, "no_such_reason", NULL, 1);
	ck_assert_uint_eq(metrics_value(METRICS_MESSAGES, "tempfail", "other"), 1);
	ck_assert_uint_eq(metrics_value(METRICS_RCPT_REFUSED, "other", NULL), 1);
}
END_TEST

START_TEST(test_histogram)
{
	char *t;

	metrics_reset();
	metrics_observe_processing(0.004); /* le 0.005 */
	metrics_observe_processing(0.005); /* le 0.005: the bound is inclusive */
	metrics_observe_processing(0.2);   /* le 0.25 */
	metrics_observe_processing(100);   /* +Inf only */
	t = exposition();
	has_line(t, "smime_milter_processing_seconds_bucket{le=\"0.005\"} 2");
	has_line(t, "smime_milter_processing_seconds_bucket{le=\"0.1\"} 2");
	has_line(t, "smime_milter_processing_seconds_bucket{le=\"0.25\"} 3");
	has_line(t, "smime_milter_processing_seconds_bucket{le=\"30\"} 3");
	has_line(t, "smime_milter_processing_seconds_bucket{le=\"+Inf\"} 4");
	has_line(t, "smime_milter_processing_seconds_sum 100.209000");
	has_line(t, "smime_milter_processing_seconds_count 4");
	free(t);
}
END_TEST

START_TEST(test_gauge_escaping)
{
	const char *labels[] = {"identity", "a\"b\\c\nd", "key", "/k.pem", NULL};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	metrics_write_gauge(f, "x_seconds", "Help.");
	metrics_write_sample(f, "x_seconds", labels, -86400);
	metrics_write_sample(f, "x_seconds", NULL, 0.5);
	fclose(f);
	ck_assert_str_eq(buf,
	    "# HELP x_seconds Help.\n# TYPE x_seconds gauge\n"
	    "x_seconds{identity=\"a\\\"b\\\\c\\nd\",key=\"/k.pem\"} -86400\n"
	    "x_seconds 0.5\n");
	free(buf);
}
END_TEST

static void *
adder(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < 100000; i++)
		metrics_add(METRICS_LDAP_LOOKUPS, "hit", NULL, 1);
	return NULL;
}

START_TEST(test_threads)
{
	pthread_t t[4];
	int i;

	metrics_reset();
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, adder, NULL), 0);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ck_assert_uint_eq(metrics_value(METRICS_LDAP_LOOKUPS, "hit", NULL), 400000);
}
END_TEST

START_TEST(test_shared_with_child)
{
	char err[128];
	pid_t pid;
	int status;

	ck_assert_int_eq(metrics_init_shared(err, sizeof(err)), 0);
	metrics_add(METRICS_MESSAGES, "signed", NULL, 5);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) { /* as a restarted milter process would: continue the counters */
		metrics_add(METRICS_MESSAGES, "signed", NULL, 1);
		metrics_add(METRICS_RESTARTS, NULL, NULL, 1);
		_exit(metrics_value(METRICS_MESSAGES, "signed", NULL) == 6 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_uint_eq(metrics_value(METRICS_MESSAGES, "signed", NULL), 6);
	ck_assert_uint_eq(metrics_value(METRICS_RESTARTS, NULL, NULL), 1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_zero_series);
	tcase_add_test(tc, test_counts);
	tcase_add_test(tc, test_unknown_is_other);
	tcase_add_test(tc, test_histogram);
	tcase_add_test(tc, test_gauge_escaping);
	tcase_add_test(tc, test_threads);
	tcase_add_test(tc, test_shared_with_child);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
