/*
 * milter.h - shared between the daemon's main and its libmilter callbacks.
 */
#ifndef SMIME_MILTER_H
#define SMIME_MILTER_H

#include <libmilter/mfapi.h>

#include "conf.h"

/* The callback table handed to smfi_register. */
extern struct smfiDesc milter_desc;

/* Install the configuration new messages will use (takes over the reference). */
void milter_set_conf(struct conf *c);

/* A new reference to the configuration in force (caller unrefs). */
struct conf *milter_get_conf(void);

/* Wait up to seconds for messages in flight to end; returns how many remain. */
int milter_wait_idle(int seconds);

#endif
