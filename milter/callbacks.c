/*
 * callbacks.c - the libmilter callbacks of smime-milter: glue between
 * libmilter and the core's decide module (decide.h), which takes every
 * decision and holds the message.  Here: the per-connection context
 * (smfi_getpriv/smfi_setpriv), macro reads, the smfi_* calls the core
 * asks for, and the libmilter return code and SMTP reply of each verdict.
 *
 * connect   count the connection (max-connections), remember the client address
 * envfrom   take the configuration snapshot: decide_client
 * envrcpt   decide_recipient
 * header    decide_header
 * eoh       decide_end_of_headers
 * body      decide_body
 * eom       decide_end_of_message, through smfi_replacebody/addheader/chgheader
 * abort/close  free and wipe everything
 *
 * Every message ends in conn_end_message, which logs its summary line
 * (decide_msg_end) before it is freed.
 *
 * No-reply events (mtalink.c: connect, DATA, header, body on a unix
 * socket): their callbacks answer SMFIS_NOREPLY.  A header or body
 * verdict other than continue (a failure) is kept and given at the next
 * event that gets an answer: end of headers, or end of message.
 *
 * Mail from outside that decide_client marked inbound (decrypt, verify,
 * harvest-ldap) goes to inbound_cb.c at RCPT, end of headers and end of
 * message.
 *
 * max-connections: libmilter starts a thread for every connection and has
 * no limit of its own.  A connection is counted from its negotiation (the
 * first packet, always answered: a connect event the MTA need not wait for
 * may stay in its buffer until the next command) to its close callback;
 * above the limit the connect callback answers 451 4.3.2, or MAIL FROM
 * does when connect is a no-reply event (the MTA gives that reply to its
 * client, which tries again later), and the connection does nothing more
 * until the MTA closes it.
 *
 * Any failure ends in the on-error action (451 4.7.0 by default): mail
 * that policy says to protect is never released unprotected.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "decide.h"
#include "inbound_cb.h"
#include "log.h"
#include "metrics.h"
#include "milter.h"

static atomic_int conn_count; /* connections counted, for max-connections */

struct connctx {
	struct sockaddr_storage addr;
	int has_addr;
	int leadspc;      /* header values come with their leading space */
	int counted;      /* in conn_count */
	int refused;      /* over max-connections: refused at connect, or at MAIL FROM */
	int refused_seen; /* connections being served then, for the log line */
	struct decide_msg *msg;
	unsigned long nr;              /* the SMFIP_NR_* events negotiated */
	int has_pending;               /* a verdict of a no-reply event, not yet given */
	struct decide_verdict pending; /* that verdict (its log line already written) */
};

/* ---- small wrappers around smfi_* ---- */

static struct connctx *
mta_conn(SMFICTX *ctx)
{
	return smfi_getpriv(ctx);
}

static const char *
mta_macro(SMFICTX *ctx, const char *name)
{
	const char *v = smfi_getsymval(ctx, (char *)name);
	return (v != NULL && *v != '\0') ? v : NULL;
}

/* Header values given to the MTA: LF folding only, leading space as negotiated. */
static int
mta_add_header(void *arg, const char *name, const char *value)
{
	SMFICTX *ctx = arg;
	char buf[1024];
	size_t o = 0;

	if (mta_conn(ctx)->leadspc)
		buf[o++] = ' ';
	for (; *value != '\0' && o + 1 < sizeof(buf); value++)
		if (*value != '\r')
			buf[o++] = *value;
	buf[o] = '\0';
	return smfi_addheader(ctx, (char *)name, buf) == MI_SUCCESS ? 0 : -1;
}

static int
mta_change_header(void *arg, const char *name, int index, const char *value)
{
	SMFICTX *ctx = arg;
	char buf[256];

	snprintf(buf, sizeof(buf), "%s%s", mta_conn(ctx)->leadspc ? " " : "", value);
	return smfi_chgheader(ctx, (char *)name, index, buf) == MI_SUCCESS ? 0 : -1;
}

static int
mta_delete_header(void *arg, const char *name, int index)
{
	return smfi_chgheader(arg, (char *)name, index, NULL) == MI_SUCCESS ? 0 : -1;
}

/*
 * smime_write_fn: hand output to the MTA.  No smfi_progress in between:
 * Postfix refuses other requests in the middle of a body replacement.
 */
static int
mta_replace_body(void *arg, const void *data, size_t len)
{
	return smfi_replacebody(arg, (unsigned char *)data, (int)len) == MI_SUCCESS ? 0 : -1;
}

static void
mta_progress(void *arg)
{
	(void)smfi_progress(arg);
}

/* ---- the message of a connection ---- */

/* The message's end: its summary line, then it is freed. */
static void
conn_end_message(struct connctx *cc)
{
	struct decide_summary sum;

	if (cc->msg != NULL) {
		decide_msg_end(cc->msg, &sum);
		if (sum.line[0] != '\0')
			log_msg(sum.level, cc->msg->qid, "%s", sum.line);
		decide_msg_free(cc->msg);
		cc->msg = NULL;
		milter_inflight_add(-1);
	}
}

/* The message of ctx, its queue id updated once the MTA tells it; NULL when none. */
static struct decide_msg *
conn_message(SMFICTX *ctx)
{
	struct connctx *cc = mta_conn(ctx);

	if (cc == NULL || cc->msg == NULL)
		return NULL;
	decide_msg_set_qid(cc->msg, mta_macro(ctx, "i"));
	return cc->msg;
}

/*
 * Log a verdict, set its reply, and give libmilter's return code.  Every
 * outcome but CONTINUE ends the message, except a recipient's own
 * refusal (rcpt_only).
 */
static sfsistat
mta_verdict(SMFICTX *ctx, const struct decide_verdict *v, int rcpt_only)
{
	struct connctx *cc = mta_conn(ctx);

	if (v->log[0] != '\0')
		log_msg(v->level, cc->msg->qid, "%s", v->log);
	switch (v->reply.d) {
	case DECIDE_CONTINUE: return SMFIS_CONTINUE;
	case DECIDE_PASS: conn_end_message(cc); return SMFIS_ACCEPT;
	default:
		milter_reply(ctx, v->reply.code, v->reply.xcode, v->text);
		if (!rcpt_only)
			conn_end_message(cc);
		return v->reply.d == DECIDE_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
	}
}

/* ---- the connection ---- */

/* max-connections: count cc's connection, or mark it refused. */
static void
conn_admit(struct connctx *cc)
{
	struct conf *c = milter_get_conf();
	int cap = c != NULL ? c->max_connections : CONF_DEFAULT_MAX_CONNECTIONS;
	int n = atomic_fetch_add(&conn_count, 1) + 1;

	if (n <= cap) {
		cc->counted = 1;
	} else {
		atomic_fetch_sub(&conn_count, 1);
		cc->refused = 1;
		cc->refused_seen = n - 1;
		metrics_add(METRICS_CONNECTIONS_REFUSED, NULL, NULL, 1);
	}
	conf_unref(c);
}

/* The log line of a connection conn_admit refused, once the client is known. */
static void
conn_log_refused(const struct connctx *cc, const char *hostname)
{
	struct conf *c = milter_get_conf();

	log_msg(LOG_WARNING, NULL,
	    "refused the MTA's connection for client %.200s: %d connections are being served "
	    "(max-connections %d)",
	    hostname != NULL ? hostname : "unknown", cc->refused_seen,
	    c != NULL ? c->max_connections : CONF_DEFAULT_MAX_CONNECTIONS);
	conf_unref(c);
}

/* The answer to a connection over max-connections: its 4xx, at connect or at MAIL FROM. */
static sfsistat
conn_refuse(SMFICTX *ctx)
{
	struct conf *c = milter_get_conf();

	if (c != NULL)
		milter_reply(ctx, c->replies.connections.code, c->replies.connections.xcode,
		    "too many connections to the S/MIME gateway, try again later");
	conf_unref(c);
	return SMFIS_TEMPFAIL;
}

/* The answer to an event that ended without a verdict: none when it is a no-reply event. */
static sfsistat
mta_none(SMFICTX *ctx, unsigned long nr_bit)
{
	struct connctx *cc = mta_conn(ctx);

	return cc != NULL && (cc->nr & nr_bit) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/*
 * mta_verdict for an event that may be a no-reply one (nr_bit): then a
 * verdict other than continue is logged, ends the message, and waits in
 * cc->pending for mta_pending.
 */
static sfsistat
mta_verdict_nr(SMFICTX *ctx, const struct decide_verdict *v, unsigned long nr_bit)
{
	struct connctx *cc = mta_conn(ctx);

	if (!(cc->nr & nr_bit))
		return mta_verdict(ctx, v, 0);
	if (v->reply.d != DECIDE_CONTINUE) {
		if (v->log[0] != '\0')
			log_msg(v->level, cc->msg->qid, "%s", v->log);
		cc->pending = *v;
		cc->pending.log[0] = '\0';
		cc->has_pending = 1;
		conn_end_message(cc);
	}
	return SMFIS_NOREPLY;
}

/* Give a kept verdict (1, *rc its answer); 0 when none is kept. */
static int
mta_pending(SMFICTX *ctx, sfsistat *rc)
{
	struct connctx *cc = mta_conn(ctx);

	if (cc == NULL || !cc->has_pending)
		return 0;
	cc->has_pending = 0;
	if (cc->pending.reply.d == DECIDE_PASS)
		*rc = SMFIS_ACCEPT;
	else {
		milter_reply(ctx, cc->pending.reply.code, cc->pending.reply.xcode,
		    cc->pending.text);
		*rc = cc->pending.reply.d == DECIDE_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
	}
	return 1;
}

/* ---- callbacks ---- */

static sfsistat
cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2, unsigned long f3,
    unsigned long *pf0, unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	struct connctx *cc = calloc(1, sizeof(*cc));
	unsigned long want = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY;

	(void)f2;
	(void)f3;
	if (cc == NULL)
		return SMFIS_TEMPFAIL;
	if ((f0 & want) != want) {
		log_msg(LOG_ERR, NULL, "the MTA does not allow header and body changes: refusing");
		free(cc);
		return SMFIS_REJECT;
	}
	*pf0 = want;
	milter_link_negotiate(ctx, f0, f1, pf0, pf1);
	*pf2 = 0;
	*pf3 = 0;
	cc->leadspc = (*pf1 & SMFIP_HDR_LEADSPC) != 0;
	cc->nr = *pf1 & (SMFIP_NR_CONN | SMFIP_NR_DATA | SMFIP_NR_HDR | SMFIP_NR_BODY);
	conn_admit(cc);
	smfi_setpriv(ctx, cc);
	return SMFIS_CONTINUE;
}

static sfsistat
cb_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	struct connctx *cc = mta_conn(ctx);

	if (cc == NULL) { /* an MTA that does not negotiate */
		cc = calloc(1, sizeof(*cc));
		if (cc == NULL)
			return SMFIS_TEMPFAIL;
		smfi_setpriv(ctx, cc);
	}
	if (!cc->counted && !cc->refused)
		conn_admit(cc); /* an MTA that does not negotiate */
	if (cc->refused) {
		conn_log_refused(cc, hostname);
		/* connect a no-reply event: an answer now would not be read, MAIL FROM gives it */
		return (cc->nr & SMFIP_NR_CONN) ? SMFIS_NOREPLY : conn_refuse(ctx);
	}
	if (hostaddr != NULL &&
	    (hostaddr->sa_family == AF_INET || hostaddr->sa_family == AF_INET6)) {
		size_t len = hostaddr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
		                                            : sizeof(struct sockaddr_in6);
		memcpy(&cc->addr, hostaddr, len);
		cc->has_addr = 1;
	}
	return mta_none(ctx, SMFIP_NR_CONN);
}

static sfsistat
cb_envfrom(SMFICTX *ctx, char **argv)
{
	struct connctx *cc = mta_conn(ctx);
	struct decide_verdict v;
	struct decide_msg *m;

	if (cc == NULL)
		return SMFIS_TEMPFAIL;
	if (cc->refused)
		return conn_refuse(ctx);
	conn_end_message(cc);
	cc->has_pending = 0;
	m = decide_msg_new(milter_get_conf(), cc->leadspc);
	if (m == NULL)
		return SMFIS_TEMPFAIL;
	cc->msg = m;
	milter_inflight_add(1);
	decide_msg_set_qid(m, mta_macro(ctx, "i"));
	decide_msg_set_sender(m, argv != NULL ? argv[0] : NULL);
	decide_client(m, cc->has_addr ? (const struct sockaddr *)&cc->addr : NULL,
	    mta_macro(ctx, "{auth_authen}") != NULL,
	    m->conf->vmta_macro != NULL ? mta_macro(ctx, m->conf->vmta_macro) : NULL, &v);
	return mta_verdict(ctx, &v, 0);
}

static sfsistat
cb_envrcpt(SMFICTX *ctx, char **argv)
{
	struct decide_msg *m = conn_message(ctx);
	struct decide_verdict v;

	if (m == NULL)
		return SMFIS_CONTINUE;
	if (m->inbound)
		return inbound_cb_envrcpt(ctx, m, argv);
	decide_recipient(m, argv[0], &v);
	return mta_verdict(ctx, &v, 1);
}

static sfsistat
cb_data(SMFICTX *ctx)
{
	return mta_none(ctx, SMFIP_NR_DATA);
}

static sfsistat
cb_header(SMFICTX *ctx, char *name, char *value)
{
	struct decide_msg *m = conn_message(ctx);
	struct decide_verdict v;

	if (m == NULL)
		return mta_none(ctx, SMFIP_NR_HDR);
	decide_header(m, name, value, &v);
	return mta_verdict_nr(ctx, &v, SMFIP_NR_HDR);
}

static sfsistat
cb_eoh(SMFICTX *ctx)
{
	struct decide_msg *m = conn_message(ctx);
	struct decide_verdict v;
	sfsistat rc;

	if (mta_pending(ctx, &rc))
		return rc;
	if (m == NULL)
		return SMFIS_CONTINUE;
	if (m->inbound) {
		int done;
		rc = inbound_cb_eoh(ctx, m, &done);
		if (done)
			conn_end_message(mta_conn(ctx));
		return rc;
	}
	decide_end_of_headers(m, &v);
	return mta_verdict(ctx, &v, 0);
}

static sfsistat
cb_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct decide_msg *m = mta_conn(ctx) != NULL ? mta_conn(ctx)->msg : NULL;
	struct decide_verdict v;

	if (m == NULL)
		return mta_none(ctx, SMFIP_NR_BODY);
	decide_body(m, chunk, len, &v);
	return mta_verdict_nr(ctx, &v, SMFIP_NR_BODY);
}

static sfsistat
cb_eom(SMFICTX *ctx)
{
	struct decide_msg *m = conn_message(ctx);
	const struct decide_mta mta = {ctx, mta_add_header, mta_change_header, mta_delete_header,
	    mta_replace_body, mta_progress};
	struct decide_verdict v;
	sfsistat rc;

	if (mta_pending(ctx, &rc))
		return rc;
	if (m == NULL)
		return SMFIS_CONTINUE;
	if (m->inbound)
		rc = inbound_cb_eom(ctx, m, mta_conn(ctx)->leadspc);
	else {
		decide_end_of_message(m, &mta, &v);
		rc = mta_verdict(ctx, &v, 0);
	}
	conn_end_message(mta_conn(ctx));
	return rc;
}

static sfsistat
cb_abort(SMFICTX *ctx)
{
	struct connctx *cc = mta_conn(ctx);

	if (cc != NULL) {
		conn_end_message(cc);
		cc->has_pending = 0;
	}
	return SMFIS_CONTINUE;
}

static sfsistat
cb_close(SMFICTX *ctx)
{
	struct connctx *cc = mta_conn(ctx);

	if (cc != NULL) {
		conn_end_message(cc);
		if (cc->counted)
			atomic_fetch_sub(&conn_count, 1);
		free(cc);
		smfi_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

struct smfiDesc milter_desc = {
    .xxfi_name = "smime-milter",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY,
    .xxfi_connect = cb_connect,
    .xxfi_data = cb_data,
    .xxfi_envfrom = cb_envfrom,
    .xxfi_envrcpt = cb_envrcpt,
    .xxfi_header = cb_header,
    .xxfi_eoh = cb_eoh,
    .xxfi_body = cb_body,
    .xxfi_eom = cb_eom,
    .xxfi_abort = cb_abort,
    .xxfi_close = cb_close,
    .xxfi_negotiate = cb_negotiate,
};
