/*
 * callbacks.c - the libmilter callbacks of smime-milter.
 *
 * connect   remember the client address
 * envfrom   take the configuration snapshot; process only internal or
 *           authenticated clients, and only when policy signs or encrypts
 * envrcpt   look up each recipient's certificate: 550 5.7.1 without one
 * header    collect Content-*, From and MIME-Version
 * eoh       skip mail that is S/MIME or PGP/MIME already; load the signer
 * body      canonicalise to CRLF and spool (bounded memory)
 * eom       build the S/MIME entity, replace body and Content-* headers
 * abort/close  free and wipe everything
 *
 * Any failure ends in the on-error action (451 4.7.0 by default): mail
 * that policy says to protect is never released unprotected.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "certstore.h"
#include "harvest.h"
#include "keystore.h"
#include "log.h"
#include "milter.h"
#include "mime.h"
#include "smime.h"
#include "spool.h"
#include "message.h"

/* Headers kept per message (Postfix's header_size_limit is 100 KB by default). */
#define HEADER_BYTES_MAX (1024 * 1024)

struct connctx {
	struct sockaddr_storage addr;
	int has_addr;
	int leadspc;               /* header values come with their leading space */
	struct msgctx *msg;
};

/* ---- the configuration in force ---- */

static pthread_mutex_t conf_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct conf *conf_current;

void
milter_set_conf(struct conf *c)
{
	struct conf *old;

	pthread_mutex_lock(&conf_mutex);
	old = conf_current;
	conf_current = c;
	pthread_mutex_unlock(&conf_mutex);
	conf_unref(old);
}

struct conf *
milter_get_conf(void)
{
	struct conf *c;

	pthread_mutex_lock(&conf_mutex);
	c = conf_ref(conf_current);
	pthread_mutex_unlock(&conf_mutex);
	return c;
}

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

/* Remember the queue id once the MTA tells it. */
static void
mta_update_qid(SMFICTX *ctx, struct msgctx *m)
{
	const char *qid = mta_macro(ctx, "i");

	if (qid != NULL)
		snprintf(m->qid, sizeof(m->qid), "%s", qid);
}

/* Set the SMTP reply; '%' in text must not reach libmilter's format. */
static void
mta_reply(SMFICTX *ctx, const char *code, const char *xcode, const char *text)
{
	char safe[512];
	size_t o = 0;

	for (; *text != '\0' && o + 2 < sizeof(safe); text++) {
		if (*text == '\r' || *text == '\n')
			continue;
		if (*text == '%')
			safe[o++] = '%';
		safe[o++] = *text;
	}
	safe[o] = '\0';
	(void)smfi_setreply(ctx, (char *)code, (char *)xcode, safe);
}

/* Header values given to the MTA: LF folding only, leading space as negotiated. */
static int
mta_add_header(SMFICTX *ctx, int leadspc, const char *name, const char *value)
{
	char buf[1024];
	size_t o = 0;

	if (leadspc)
		buf[o++] = ' ';
	for (; *value != '\0' && o + 1 < sizeof(buf); value++)
		if (*value != '\r')
			buf[o++] = *value;
	buf[o] = '\0';
	return smfi_addheader(ctx, (char *)name, buf) == MI_SUCCESS ? 0 : -1;
}

static int
mta_change_header(SMFICTX *ctx, int leadspc, const char *name, int index, const char *value)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s%s", leadspc ? " " : "", value);
	return smfi_chgheader(ctx, (char *)name, index, buf) == MI_SUCCESS ? 0 : -1;
}

static int
mta_delete_header(SMFICTX *ctx, const char *name, int index)
{
	return smfi_chgheader(ctx, (char *)name, index, NULL) == MI_SUCCESS ? 0 : -1;
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

/* ---- message context ---- */

/* Messages between MAIL FROM and their end, so a stop can let them finish. */
static pthread_mutex_t inflight_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t inflight_cond = PTHREAD_COND_INITIALIZER;
static int inflight;

static void
inflight_add(int delta)
{
	pthread_mutex_lock(&inflight_lock);
	inflight += delta;
	if (inflight == 0)
		pthread_cond_broadcast(&inflight_cond);
	pthread_mutex_unlock(&inflight_lock);
}

int
milter_wait_idle(int seconds)
{
	struct timespec until;
	int left;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds;
	pthread_mutex_lock(&inflight_lock);
	while (inflight > 0 &&
	    pthread_cond_timedwait(&inflight_cond, &inflight_lock, &until) == 0)
		;
	left = inflight;
	pthread_mutex_unlock(&inflight_lock);
	return left;
}

static void
conn_end_message(struct connctx *cc)
{
	if (cc->msg != NULL) {
		message_clear(cc->msg);
		free(cc->msg);
		cc->msg = NULL;
		inflight_add(-1);
	}
}

/* Reply and return code for a verdict; logs it; ends the message unless it continues. */
static sfsistat
msg_verdict(SMFICTX *ctx, struct connctx *cc, const struct verdict *v)
{
	struct msgctx *m = cc->msg;

	switch (v->d) {
	case DECIDE_CONTINUE:
		return SMFIS_CONTINUE;
	case DECIDE_PASS:
		log_msg(LOG_INFO, m->qid, "%s", v->log);
		conn_end_message(cc);
		return SMFIS_ACCEPT;
	case DECIDE_REJECT:
		log_msg(LOG_NOTICE, m->qid, "rejected: %s", v->log);
		mta_reply(ctx, v->code, v->xcode, v->text);
		conn_end_message(cc);
		return SMFIS_REJECT;
	default:
		log_msg(LOG_NOTICE, m->qid, "tempfail: %s", v->log);
		mta_reply(ctx, v->code, v->xcode, v->text);
		conn_end_message(cc);
		return SMFIS_TEMPFAIL;
	}
}

/* The on-error action for an internal failure; logs the cause. */
static sfsistat
msg_fail(SMFICTX *ctx, struct msgctx *m, const char *what, const char *detail)
{
	struct connctx *cc = mta_conn(ctx);
	int reject = m->conf->on_error == CONF_ON_ERROR_REJECT;

	log_msg(LOG_ERR, m->qid, "%s: %s: %s", reject ? "rejected" : "tempfail", what, detail);
	if (reject)
		mta_reply(ctx, "550", "5.7.0", what);
	else
		mta_reply(ctx, "451", "4.7.0", what);
	conn_end_message(cc);
	return reject ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

/* ---- callbacks ---- */

static sfsistat
cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
    unsigned long f3, unsigned long *pf0, unsigned long *pf1, unsigned long *pf2,
    unsigned long *pf3)
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
	smfi_setpriv(ctx, cc);
	return SMFIS_CONTINUE;
}

static sfsistat
cb_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	struct connctx *cc = mta_conn(ctx);

	(void)hostname;
	if (cc == NULL) { /* an MTA that does not negotiate */
		cc = calloc(1, sizeof(*cc));
		if (cc == NULL)
			return SMFIS_TEMPFAIL;
		smfi_setpriv(ctx, cc);
	}
	if (hostaddr != NULL && (hostaddr->sa_family == AF_INET || hostaddr->sa_family == AF_INET6)) {
		size_t len = hostaddr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
		                                            : sizeof(struct sockaddr_in6);
		memcpy(&cc->addr, hostaddr, len);
		cc->has_addr = 1;
	}
	return SMFIS_CONTINUE;
}

static sfsistat
cb_envfrom(SMFICTX *ctx, char **argv)
{
	struct connctx *cc = mta_conn(ctx);
	struct msgctx *m;
	const char *vmta;

	(void)argv;
	if (cc == NULL)
		return SMFIS_TEMPFAIL;
	conn_end_message(cc);
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return SMFIS_TEMPFAIL;
	m->conf = milter_get_conf();
	mime_headers_init(&m->headers);
	mta_update_qid(ctx, m);
	cc->msg = m;
	inflight_add(1);

	if (!(cc->has_addr && hostlist_match(m->conf->internal, (struct sockaddr *)&cc->addr)) &&
	    mta_macro(ctx, "{auth_authen}") == NULL) {
		/* mail from outside: maybe a signer's certificate to harvest, else untouched */
		if (m->conf->harvest_dir != NULL) {
			m->harvest = 1;
			return SMFIS_CONTINUE;
		}
		/* decided now, logged at the first RCPT, when the queue id is known */
		snprintf(m->pass_reason, sizeof(m->pass_reason),
		    "passed: client is neither internal nor authenticated");
		return SMFIS_CONTINUE;
	}
	if (!decide_anything_to_do(m->conf)) {
		conn_end_message(cc);
		return SMFIS_ACCEPT;
	}
	if (m->conf->vmta_macro != NULL && (vmta = mta_macro(ctx, m->conf->vmta_macro)) != NULL)
		snprintf(m->vmta, sizeof(m->vmta), "%s", vmta);
	return SMFIS_CONTINUE;
}

static sfsistat
cb_envrcpt(SMFICTX *ctx, char **argv)
{
	struct connctx *cc = mta_conn(ctx);
	struct msgctx *m = cc != NULL ? cc->msg : NULL;
	struct verdict v;
	struct rcpt r;

	if (m == NULL)
		return SMFIS_CONTINUE;
	mta_update_qid(ctx, m);
	if (m->harvest)
		return SMFIS_CONTINUE;
	if (m->pass_reason[0] != '\0') {
		log_msg(LOG_INFO, m->qid, "%s", m->pass_reason);
		conn_end_message(cc);
		return SMFIS_ACCEPT;
	}
	memset(&r, 0, sizeof(r));
	if (argv[0] != NULL && strchr(argv[0], '@') == NULL) {
		/* a local recipient (<postmaster>): delivered here, never leaves, nothing to do */
		return SMFIS_CONTINUE;
	}
	if (argv[0] == NULL || mime_extract_address(argv[0], r.addr, sizeof(r.addr)) != 0) {
		log_msg(LOG_NOTICE, m->qid, "rejected recipient %s: not a usable address",
		    argv[0] ? argv[0] : "(none)");
		mta_reply(ctx, "550", "5.7.1", "recipient address cannot be used for S/MIME");
		return SMFIS_REJECT;
	}
	decide_recipient(m, &r, &v);
	if (v.d != DECIDE_CONTINUE) {
		X509_free(r.cert);
		log_msg(LOG_NOTICE, m->qid, "%s", v.log);
		mta_reply(ctx, v.code, v.xcode, v.text);
		return v.d == DECIDE_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
	}
	if (m->nrcpt == m->rcap) {
		size_t cap = m->rcap ? m->rcap * 2 : 8;
		struct rcpt *nr = realloc(m->rcpts, cap * sizeof(*nr));
		if (nr == NULL) {
			X509_free(r.cert);
			return msg_fail(ctx, m, "out of memory, try again later", "recipient list");
		}
		m->rcpts = nr;
		m->rcap = cap;
	}
	m->rcpts[m->nrcpt] = r;
	m->rcpts[m->nrcpt].domain = strrchr(m->rcpts[m->nrcpt].addr, '@') + 1;
	m->nrcpt++;
	return SMFIS_CONTINUE;
}

static sfsistat
cb_header(SMFICTX *ctx, char *name, char *value)
{
	struct connctx *cc = mta_conn(ctx);
	struct msgctx *m = cc != NULL ? cc->msg : NULL;

	if (m == NULL)
		return SMFIS_CONTINUE;
	if (strcasecmp(name, "MIME-Version") == 0)
		m->has_mime_version = 1;
	m->header_bytes += strlen(name) + strlen(value) + 4;
	if (m->header_bytes > HEADER_BYTES_MAX)
		return msg_fail(ctx, m, "message headers too large", "over 1 MB of headers");
	if (mime_headers_add(&m->headers, name, value) != 0)
		return msg_fail(ctx, m, "out of memory, try again later", "headers");
	return SMFIS_CONTINUE;
}

static sfsistat
cb_eoh(SMFICTX *ctx)
{
	struct connctx *cc = mta_conn(ctx);
	struct msgctx *m = cc != NULL ? cc->msg : NULL;
	const struct mime_header *ct;
	struct verdict v;

	if (m == NULL)
		return SMFIS_CONTINUE;
	mta_update_qid(ctx, m);
	ct = mime_headers_find(&m->headers, "Content-Type");
	if (m->harvest) {
		if (ct == NULL || !harvest_is_signed_type(ct->value)) {
			log_msg(LOG_INFO, m->qid, "passed from outside; not harvested: not an S/MIME signed message");
			conn_end_message(cc);
			return SMFIS_ACCEPT;
		}
		goto spool;
	}
	if (ct != NULL && mime_is_protected_type(ct->value)) {
		log_msg(LOG_INFO, m->qid, "passed: already S/MIME or PGP/MIME");
		conn_end_message(cc);
		return SMFIS_ACCEPT;
	}
	decide_message(m, &v);
	if (v.d != DECIDE_CONTINUE)
		return msg_verdict(ctx, cc, &v);
spool:
	m->body = spool_new(m->conf->spool_memory, m->conf->spool_dir);
	if (m->body == NULL)
		return msg_fail(ctx, m, "out of memory, try again later", "spool");
	mime_canon_init(&m->canon);
	return SMFIS_CONTINUE;
}

static sfsistat
cb_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct connctx *cc = mta_conn(ctx);
	struct msgctx *m = cc != NULL ? cc->msg : NULL;
	char err[256];
	size_t n;

	if (m == NULL || m->body == NULL)
		return SMFIS_CONTINUE;
	if (m->canonbuf_len < 2 * len) {
		if (m->canonbuf != NULL) {
			OPENSSL_cleanse(m->canonbuf, m->canonbuf_len);
			free(m->canonbuf);
		}
		m->canonbuf_len = 2 * len;
		m->canonbuf = malloc(m->canonbuf_len);
		if (m->canonbuf == NULL) {
			m->canonbuf_len = 0;
			return msg_fail(ctx, m, "out of memory", "body buffer");
		}
	}
	n = mime_canon_chunk(&m->canon, (const char *)chunk, len, m->canonbuf);
	if (spool_write(m->body, m->canonbuf, n, err, sizeof(err)) != 0)
		return msg_fail(ctx, m, "cannot spool the message", err);
	return SMFIS_CONTINUE;
}

/* Content-* headers out, the S/MIME ones in. */
static int
eom_rewrite_headers(SMFICTX *ctx, struct connctx *cc, struct msgctx *m,
    const struct smime_result *res)
{
	size_t i;

	for (i = m->headers.n; i-- > 0;) {
		const struct mime_header *h = &m->headers.v[i];
		if (mime_is_content_header(h->name) && mta_delete_header(ctx, h->name, h->index) != 0)
			return -1;
	}
	if (!m->has_mime_version && mta_add_header(ctx, cc->leadspc, "MIME-Version", "1.0") != 0)
		return -1;
	if (mta_add_header(ctx, cc->leadspc, "Content-Type", res->content_type) != 0)
		return -1;
	if (res->disposition[0] != '\0' &&
	    mta_add_header(ctx, cc->leadspc, "Content-Disposition", res->disposition) != 0)
		return -1;
	if (res->transfer_encoding[0] != '\0' &&
	    mta_add_header(ctx, cc->leadspc, "Content-Transfer-Encoding", res->transfer_encoding) != 0)
		return -1;
	/* RFC 9788: the real Subject travels inside, protected */
	if (m->pol.encrypt && m->pol.hide_subject && m->pol.header_protection &&
	    mime_headers_find(&m->headers, "Subject") != NULL &&
	    mta_change_header(ctx, cc->leadspc, "Subject", 1, "[...]") != 0)
		return -1;
	return 0;
}

/* Signed mail from outside: store the signer's certificate if it qualifies. */
static void
eom_harvest(struct msgctx *m)
{
	struct harvest_options ho = {NULL, m->conf->harvest_require_dkim, m->conf->authserv_id, 0};
	char addr[ADDR_MAX], reason[512], err[512];
	STACK_OF(X509) *chain = NULL;
	X509 *x = NULL;
	int rc;

	if (!m->conf->harvest_trust_any)
		ho.trust = m->conf->certs != NULL ? certindex_trust(m->conf->certs) : NULL;
	if (!m->conf->harvest_trust_any && ho.trust == NULL) {
		log_msg(LOG_ERR, m->qid, "not harvested: no trusted CAs loaded");
		return;
	}
	rc = harvest_signer_chain(&m->headers, m->body, &ho, &x, &chain, addr, sizeof(addr), reason,
	    sizeof(reason));
	if (rc != 1) {
		log_msg(rc < 0 ? LOG_ERR : LOG_INFO, m->qid, "not harvested: %s", reason);
		return;
	}
	switch (certindex_store_chain(m->conf->harvest_dir, addr, x, chain, err, sizeof(err))) {
	case 1:
		log_msg(LOG_INFO, m->qid, "harvested the certificate of <%s> into %s", addr,
		    m->conf->harvest_dir);
		break;
	case 0:
		log_msg(LOG_INFO, m->qid, "certificate of <%s> already harvested", addr);
		break;
	default:
		log_msg(LOG_ERR, m->qid, "cannot store the certificate of <%s>: %s", addr, err);
	}
	X509_free(x);
	sk_X509_pop_free(chain, X509_free);
}

static sfsistat
cb_eom(SMFICTX *ctx)
{
	struct connctx *cc = mta_conn(ctx);
	struct msgctx *m = cc != NULL ? cc->msg : NULL;
	struct smime_options opt;
	struct smime_result res;
	char err[512], *head = NULL;
	size_t headlen;
	uint64_t insize;

	if (m == NULL || m->body == NULL)
		return SMFIS_CONTINUE;
	mta_update_qid(ctx, m);
	if (m->harvest) {
		eom_harvest(m);
		conn_end_message(cc);
		return SMFIS_CONTINUE; /* the message itself passes unchanged */
	}
	if (mime_content_block(&m->headers, !cc->leadspc, &head, &headlen) != 0)
		return msg_fail(ctx, m, "out of memory", "content headers");
	memset(&opt, 0, sizeof(opt));
	opt.sign = m->pol.sign;
	opt.encrypt = m->pol.encrypt;
	opt.cipher = m->pol.cipher;
	opt.digest = m->pol.digest;
	opt.key_transport = m->pol.key_transport;
	opt.signature = m->pol.signature;
	opt.sign_format = m->pol.sign_format;
	opt.header_protection = m->pol.header_protection;
	opt.hide_subject = m->pol.encrypt && m->pol.hide_subject && m->pol.header_protection;
	opt.outer = &m->headers;
	opt.chunk = m->conf->body_chunk;
	opt.transport_7bit = 1; /* sign-only mail must survive 7-bit transport */
	opt.spool_memory = m->conf->spool_memory;
	opt.spool_dir = m->conf->spool_dir;
	insize = spool_size(m->body);
	(void)smfi_progress(ctx); /* the MTA waits while the signature is computed */
	if (smime_protect(&opt, &m->signer, m->recips, head, headlen, m->body, mta_replace_body, ctx,
	        &res, err, sizeof(err)) != 0) {
		OPENSSL_cleanse(head, headlen);
		free(head);
		return msg_fail(ctx, m, "S/MIME processing failed, try again later", err);
	}
	OPENSSL_cleanse(head, headlen);
	free(head);
	if (eom_rewrite_headers(ctx, cc, m, &res) != 0)
		return msg_fail(ctx, m, "S/MIME processing failed, try again later",
		    "the MTA refused a header change");
	log_msg(LOG_INFO, m->qid,
	    "%s%s%s: from=<%s> recipients=%zu%s%s%s cipher=%s body=%llu->%llu bytes",
	    opt.sign ? "signed" : "", opt.sign && opt.encrypt ? " and " : "",
	    opt.encrypt ? "encrypted" : "", opt.sign ? m->signer_addr : "", m->nrcpt,
	    m->vmta[0] ? " vmta=" : "", m->vmta,
	    m->vmta[0] && !policy_has_vmta(&m->conf->policy, m->vmta) ? "(not configured)" : "",
	    opt.encrypt ? EVP_CIPHER_get0_name(opt.cipher) : "none",
	    (unsigned long long)insize, (unsigned long long)res.bytes);
	conn_end_message(cc);
	return SMFIS_CONTINUE;
}

static sfsistat
cb_abort(SMFICTX *ctx)
{
	struct connctx *cc = mta_conn(ctx);

	if (cc != NULL)
		conn_end_message(cc);
	return SMFIS_CONTINUE;
}

static sfsistat
cb_close(SMFICTX *ctx)
{
	struct connctx *cc = mta_conn(ctx);

	if (cc != NULL) {
		conn_end_message(cc);
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
