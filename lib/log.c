/*
 * log.c - logging to syslog or stderr.  See log.h.
 *
 * A line about a message starts with its queue id ("NOQUEUE" while the
 * MTA has not told it); a line about the daemon (start, stop, reload,
 * configuration) has no such prefix.  log-level drops the lines of lower
 * priority before they are formatted.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_ident = "smime-milter";
static enum log_target log_target = LOG_TO_STDERR;
static int log_level = LOG_INFO;
static int log_facility = LOG_MAIL;

void
log_open(const char *ident, enum log_target target, int facility)
{
	log_ident = ident;
	log_target = target;
	log_facility = facility;
	if (target == LOG_TO_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, facility);
}

void
log_set_facility(int facility)
{
	if (facility == log_facility)
		return;
	log_facility = facility;
	if (log_target == LOG_TO_SYSLOG) {
		closelog();
		openlog(log_ident, LOG_PID | LOG_NDELAY, facility);
	}
}

int
log_enabled(int priority)
{
	return priority <= log_level;
}

void
log_set_level(int max_priority)
{
	log_level = max_priority;
}

static const char *
log_priority_name(int priority)
{
	switch (priority) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT: return "fatal";
	case LOG_ERR: return "error";
	case LOG_WARNING: return "warning";
	case LOG_NOTICE: return "notice";
	case LOG_INFO: return "info";
	default: return "debug";
	}
}

void
log_msg(int priority, const char *qid, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	if (priority > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (qid != NULL && *qid == '\0')
		qid = "NOQUEUE"; /* a message whose queue id is not known yet */

	if (log_target == LOG_TO_SYSLOG) {
		syslog(priority, "%s%s%s", qid ? qid : "", qid ? ": " : "", line);
		return;
	}
	/* one fprintf per line: stdio locks the stream, lines never mix */
	fprintf(stderr, "%s[%ld]: %s: %s%s%s\n", log_ident, (long)getpid(),
	    log_priority_name(priority), qid ? qid : "", qid ? ": " : "", line);
}
