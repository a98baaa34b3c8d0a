/*
 * inbound_cb.h - the milter's side of the receiving gateway (mail from
 * outside: decrypt, verify, report, harvest; the work is done by
 * lib/inbound.c).  callbacks.c hands a message here at MAIL FROM when the
 * configuration has anything to do for mail from outside, and then calls
 * the functions below from its callbacks; it ends the message as they say.
 */
#ifndef SMIME_INBOUND_CB_H
#define SMIME_INBOUND_CB_H

#include <libmilter/mfapi.h>

#include "message.h"

/*
 * MAIL FROM of a client that is neither internal nor authenticated: 1 when
 * the message is handled here (m->inbound set), 0 when callbacks.c goes on.
 */
int inbound_cb_envfrom(SMFICTX *ctx, struct msgctx *m);

/* RCPT TO: the recipient's scope; a recipient that cannot share the body gets 451 4.7.1. */
sfsistat inbound_cb_envrcpt(SMFICTX *ctx, struct msgctx *m, char **argv);

/* End of headers: spool the body when there is work; *done when the message ends now. */
sfsistat inbound_cb_eoh(SMFICTX *ctx, struct msgctx *m, int *done);

/* End of message: decrypt, verify, rewrite, harvest.  The message ends afterwards. */
sfsistat inbound_cb_eom(SMFICTX *ctx, struct msgctx *m, int leadspc);

#endif
