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

/* The reply for a recipient of class DECIDE_RCPT_REJECT or DECIDE_RCPT_TEMPFAIL. */
const struct decide_reply *decide_class_reply(const struct conf *c, const struct decide_rcpt *r);

#endif
