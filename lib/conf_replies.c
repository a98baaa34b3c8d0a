/*
 * conf_replies.c - the SMTP reply of every outcome under a configuration,
 * fixed once when it is loaded (conf_load): on-error, unknown-virtual-mta
 * and on-oversize choose some, the rest are fixed.  The decide core picks
 * an entry of this table (struct decide_replies, decide.h); no other code
 * writes a code pair.  See conf_int.h.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "conf_int.h"

static void
reply_set(struct decide_reply *r, enum decide_outcome d, const char *code, const char *xcode)
{
	r->d = d;
	snprintf(r->code, sizeof(r->code), "%s", code);
	snprintf(r->xcode, sizeof(r->xcode), "%s", xcode);
}

void
conf_replies_build(struct decide_replies *r, const struct conf *c)
{
	memset(r, 0, sizeof(*r)); /* DECIDE_CONTINUE where nothing is set */
	if (c->on_error == CONF_ON_ERROR_REJECT)
		reply_set(&r->on_error, DECIDE_REJECT, "550", "5.7.0");
	else
		reply_set(&r->on_error, DECIDE_TEMPFAIL, "451", "4.7.0");
	reply_set(&r->missing_cert[POLICY_MISSING_CERT_REJECT], DECIDE_REJECT, "550", "5.7.1");
	reply_set(&r->missing_cert[POLICY_MISSING_CERT_TEMPFAIL], DECIDE_TEMPFAIL, "451", "4.7.1");
	reply_set(&r->lookup_failed, DECIDE_TEMPFAIL, "451", "4.7.1");
	reply_set(&r->defer, DECIDE_TEMPFAIL, "451", "4.7.1");
	reply_set(&r->bad_address, DECIDE_REJECT, "550", "5.7.1");
	reply_set(&r->vmta_conflict, DECIDE_REJECT, "550", "5.7.1");
	reply_set(&r->missing_key[POLICY_MISSING_KEY_TEMPFAIL], DECIDE_TEMPFAIL, "451", "4.7.0");
	reply_set(&r->missing_key[POLICY_MISSING_KEY_REJECT], DECIDE_REJECT, "550", "5.7.0");
	reply_set(&r->undecryptable[POLICY_UNDECRYPTABLE_TEMPFAIL][0], DECIDE_TEMPFAIL, "451",
	    "4.7.5");
	reply_set(&r->undecryptable[POLICY_UNDECRYPTABLE_TEMPFAIL][1], DECIDE_TEMPFAIL, "451",
	    "4.7.6");
	reply_set(&r->undecryptable[POLICY_UNDECRYPTABLE_REJECT][0], DECIDE_REJECT, "550", "5.7.5");
	reply_set(&r->undecryptable[POLICY_UNDECRYPTABLE_REJECT][1], DECIDE_REJECT, "550", "5.7.6");
	switch (c->unknown_vmta) {
	case CONF_UNKNOWN_VMTA_REJECT:
		reply_set(&r->unknown_vmta, DECIDE_REJECT, "550", "5.7.1");
		break;
	case CONF_UNKNOWN_VMTA_PASS: break;
	default: reply_set(&r->unknown_vmta, DECIDE_TEMPFAIL, "451", "4.7.1");
	}
	/* RFC 5321 4.5.3.1.10: the client sends the other recipients in another transaction */
	reply_set(&r->too_many_rcpts, DECIDE_TEMPFAIL, "452", "4.5.3");
	reply_set(&r->structure, DECIDE_REJECT, "554", "5.6.0");
	switch (c->on_oversize) {
	case CONF_OVERSIZE_TEMPFAIL:
		reply_set(&r->oversize, DECIDE_TEMPFAIL, "452", "4.3.4");
		break;
	case CONF_OVERSIZE_PASS_SIGN_ONLY: break;
	default: reply_set(&r->oversize, DECIDE_REJECT, "552", "5.3.4");
	}
	reply_set(&r->oversize_encrypted, DECIDE_REJECT, "552", "5.3.4");
	reply_set(&r->deadline, DECIDE_TEMPFAIL, "451", "4.3.0");
	reply_set(&r->connections, DECIDE_TEMPFAIL, "451", "4.3.2");
}
