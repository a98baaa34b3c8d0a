/*
 * inbound_cb.h - the milter's side of the receiving gateway (mail from
 * outside: decrypt, verify, report, harvest; the work is done by
 * lib/inbound.c).  decide_client marks a message from outside m->inbound
 * when the configuration has anything to do for such mail; callbacks.c
 * then calls the functions below from its callbacks and ends the message
 * as they say.
 */
#ifndef SMIME_INBOUND_CB_H
#define SMIME_INBOUND_CB_H

#include <libmilter/mfapi.h>

#include "decide.h"

/* RCPT TO: the recipient's scope; a recipient that cannot share the body gets 451 4.7.1. */
sfsistat inbound_cb_envrcpt(SMFICTX *ctx, struct decide_msg *m, char **argv);

/* End of headers: spool the body when there is work; *done when the message ends now. */
sfsistat inbound_cb_eoh(SMFICTX *ctx, struct decide_msg *m, int *done);

/* End of message: decrypt, verify, rewrite, harvest.  The message ends afterwards. */
sfsistat inbound_cb_eom(SMFICTX *ctx, struct decide_msg *m, int leadspc);

#endif
