/*
 * milter.h - shared between the daemon's main (main.c), its libmilter
 * callbacks (callbacks.c), the state its threads share (state.c), the
 * socket's permissions (sockperm.c), the metrics endpoint (metrics_http.c)
 * and the watch over our signing certificates (signers.c).
 */
#ifndef SMIME_MILTER_H
#define SMIME_MILTER_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include <libmilter/mfapi.h>

#include "conf.h"

/* The callback table handed to smfi_register. */
extern struct smfiDesc milter_desc;

/* state.c: install the configuration new messages will use (takes over the reference). */
void milter_set_conf(struct conf *c);

/* A new reference to the configuration in force (caller unrefs). */
struct conf *milter_get_conf(void);

/* One more (delta 1) or one less (-1) message between MAIL FROM and its end. */
void milter_inflight_add(int delta);

/* Wait up to seconds for messages in flight to end; returns how many remain. */
int milter_wait_idle(int seconds);

/* Messages between MAIL FROM and their end now. */
int milter_inflight_count(void);

/* metrics_http.c: the metrics endpoint on c's metrics-listen (none: 0); -1 with err. */
int milter_metrics_start(const struct conf *c, char *err, size_t errlen);
void milter_metrics_stop(void);

/* signers.c: the signing identities' expiry, for the gauges and the daily warnings */
void milter_signers_refresh(const struct conf *c);
void milter_signers_write_metrics(FILE *f);
int milter_signers_start(void); /* refreshes every hour from the configuration in force */

/* sockperm.c: the path of a unix:/local: socket spec, NULL for inet sockets */
const char *milter_socket_path(const char *sock);
/* Set the strict umask a new socket is created under; returns the old one. */
mode_t milter_socket_umask(void);
/* Owner, socket-group and socket-mode on a unix socket; -1 with err filled. */
int milter_socket_perms(const struct conf *c, const char *sock, char *err, size_t errlen);

/* mtalink.c: the socket spec for libmilter ("fd:N" for a TCP socket opened here, with TCP_NODELAY) */
int milter_link_listen(const char *sock, char *spec, size_t speclen, char *err, size_t errlen);
/* mtalink.c: the SMTP reply of this event (code "451", xcode "4.7.1", text): line breaks dropped, '%'
 * doubled for libmilter's format.  For callbacks.c and inbound_cb.c alike. */
void milter_reply(SMFICTX *ctx, const char *code, const char *xcode, const char *text);

/* mtalink.c: the protocol flags (*pf1) and macro lists to ask for; *pf0 may gain SMFIF_SETSYMLIST */
void milter_link_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long *pf0,
    unsigned long *pf1);

#endif
