/*
 * decide_int.h - internals shared by the files of the decide module
 * (decide.c: replies, client and recipients; decide_eoh.c: the end of
 * the headers; decide_msg.c: the message's life and its end).  Not a
 * public interface.
 */
#ifndef SMIME_DECIDE_INT_H
#define SMIME_DECIDE_INT_H

#include "conf.h"
#include "decide.h"

/* v becomes the outcome r, logged at level; text and log are left to the caller. */
void decide_verdict_set(struct decide_verdict *v, const struct decide_reply *r, int level);

/*
 * An internal failure: c's on-error reply with text what, logged at
 * LOG_ERR as "rejected: what: detail" or "tempfail: what: detail".
 */
void decide_verdict_fail(struct decide_verdict *v, const struct conf *c, const char *what,
    const char *detail);

/* "rejected" or "tempfail", as the outcome of v says. */
const char *decide_verdict_word(const struct decide_verdict *v);

/* A recipient's class from its settings and certificate (sets cls and force_sign). */
void decide_classify(struct decide_rcpt *r);

/* What a class needs, for debug lines. */
const char *decide_class_name(enum decide_class c);

/* The reply for a recipient of class DECIDE_RCPT_REJECT or DECIDE_RCPT_TEMPFAIL. */
const struct decide_reply *decide_class_reply(const struct conf *c, const struct decide_rcpt *r);

/* r's settings and the scopes they came from, for the virtual MTA vmta (NULL: none). */
void decide_resolve_settings(const struct decide_msg *m, struct decide_rcpt *r, const char *vmta);

/* The class of r in the message as it is really sent: in mode monitor r needs nothing of it. */
enum decide_class decide_real_class(const struct decide_rcpt *r);

/*
 * r's class in the message's decisions: in a message in mode monitor what
 * the policy decides (what would have been done), else decide_real_class.
 */
enum decide_class decide_view_class(const struct decide_msg *m, const struct decide_rcpt *r);

/* r takes part in the message's decisions (in mode monitor: unless it would have been refused). */
int decide_rcpt_in_view(const struct decide_msg *m, const struct decide_rcpt *r);

/* r's settings go into the message's: in an enforced message only those of enforced recipients. */
int decide_rcpt_combines(const struct decide_msg *m, const struct decide_rcpt *r);

/* Nonzero when m has recipients and every one is in mode monitor. */
int decide_all_monitor(const struct decide_msg *m);

/* decide_end.c: "signed", "encrypted", "signed_encrypted" (NULL for neither). */
const char *decide_protection_name(int sign, int encrypt);

/* decide_end.c: the X-SMIME-Milter-Would value of a message in mode monitor. */
void decide_would_header(const struct decide_msg *m, char *buf, size_t len);

/* decide_end.c: note what a verdict that ends m (or refuses a recipient) makes of it. */
void decide_note_end(struct decide_msg *m, const struct decide_verdict *v);

/* decide_end.c: a recipient refused at RCPT, remembered for the summary and the metrics. */
void decide_note_refusal(struct decide_msg *m, const char *addr, const struct decide_verdict *v);

/* Log a line under m's queue id, marked "monitor: " when m is in mode monitor (through the
 * logger of decide_set_logger). */
void decide_log(const struct decide_msg *m, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Log and count what storing addr's harvested certificate into where (a directory, "LDAP
 * URI under BASE") gave: rc 1 stored, 0 already there, -1 err. */
void decide_harvest_note(const struct decide_msg *m, int rc, const char *addr, const char *where,
    const char *err);

/* Would decide_log write a line of this priority?  (To skip the work of debug lines.) */
int decide_log_enabled(int priority);

#endif
