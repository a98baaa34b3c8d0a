/*
 * log.h - the one logging function of smime-milter and smime-tool.
 *
 * Every line names the message it is about (the MTA queue id, or a
 * placeholder before one is known).  Lines go to syslog, or to stderr
 * when the program runs in the foreground.  Never pass plaintext or key
 * material to these functions.
 */
#ifndef SMIME_LOG_H
#define SMIME_LOG_H

#include <stddef.h>
#include <syslog.h>

/* Where log lines go. */
enum log_target {
	LOG_TO_SYSLOG,
	LOG_TO_STDERR
};

/* Set the program name and destination; call once before threads start. */
void log_open(const char *ident, enum log_target target, int facility);

/* Lines below this priority (LOG_DEBUG > LOG_INFO ...) are dropped. */
void log_set_level(int max_priority);

/* Nonzero when a line of this priority would be written (to skip work for debug lines). */
int log_enabled(int priority);

/* Log to this syslog facility from now on (log-facility; reopens syslog). */
void log_set_facility(int facility);

/*
 * Log one line: "QID: message" for a message ("NOQUEUE: message" when qid
 * is "", the queue id not known yet), "message" for the daemon (qid NULL).
 */
void log_msg(int priority, const char *qid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
