/*
 * decide_msg.c - the life of one message in the milter's core: created at
 * MAIL FROM, its headers collected, its body canonicalised and spooled,
 * and at its end either protected (smime_protect, then the Content-*
 * headers replaced through the MTA's callbacks) or, for signed mail from
 * outside, its signer's certificate harvested.  Freed with every
 * plaintext buffer wiped.  See decide.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <time.h>

#include <openssl/crypto.h>
#include <syslog.h>

#include "decide_int.h"
#include "harvest.h"
#include "metrics.h"

struct decide_msg *
decide_msg_new(struct conf *conf, int values_spaced)
{
	struct decide_msg *m = calloc(1, sizeof(*m));

	if (m == NULL) {
		conf_unref(conf);
		return NULL;
	}
	m->conf = conf;
	m->values_spaced = values_spaced;
	m->seconds = -1;
	mime_headers_init(&m->headers);
	return m;
}

void
decide_msg_set_qid(struct decide_msg *m, const char *qid)
{
	if (qid != NULL && qid[0] != '\0')
		snprintf(m->qid, sizeof(m->qid), "%s", qid);
}

void
decide_msg_set_sender(struct decide_msg *m, const char *arg)
{
	m->sender[0] = '\0';
	if (arg != NULL && mime_extract_address(arg, m->sender, sizeof(m->sender)) != 0)
		m->sender[0] = '\0';
}

void
decide_msg_free(struct decide_msg *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nrcpt; i++)
		X509_free(m->rcpts[i].cert);
	free(m->rcpts);
	free(m->refused);
	sk_X509_pop_free(m->recips, X509_free);
	mime_headers_clear(&m->headers);
	keystore_identity_free(&m->signer);
	spool_free(m->body);
	mimescan_free(m->scan);
	if (m->canonbuf != NULL) {
		OPENSSL_cleanse(m->canonbuf, m->canonbuf_len);
		free(m->canonbuf);
	}
	conf_unref(m->conf);
	free(m);
}

/* The message's header limits apply: a message the milter may protect. */
static int
header_limits_apply(const struct decide_msg *m)
{
	return !m->inbound && !m->harvest && !decide_all_monitor(m);
}

/* A limit on the structure of the message (max-headers, max-mime-*, ...): 554 5.6.0. */
static void
structure_refuse(struct decide_msg *m, const char *why, const char *what, struct decide_verdict *v)
{
	decide_verdict_set(v, &m->conf->replies.structure, LOG_NOTICE);
	v->why = why;
	snprintf(v->text, sizeof(v->text), "message refused by the S/MIME gateway: %s", what);
	snprintf(v->log, sizeof(v->log), "%s: %s", decide_verdict_word(v), what);
}

void
decide_header(struct decide_msg *m, const char *name, const char *value, struct decide_verdict *v)
{
	const struct conf *c = m->conf;
	char what[128];

	memset(v, 0, sizeof(*v));
	if (strcasecmp(name, "MIME-Version") == 0)
		m->has_mime_version = 1;
	m->header_bytes += strlen(name) + strlen(value) + 4;
	if (header_limits_apply(m) && m->headers.n >= (size_t)c->max_headers) {
		snprintf(what, sizeof(what), "more than %d header fields (max-headers)",
		    c->max_headers);
		structure_refuse(m, "headers", what, v);
	} else if (m->header_bytes > DECIDE_HEADER_BYTES_MAX)
		decide_verdict_fail(v, c, "message headers too large", "over 1 MB of headers");
	else if (mime_headers_add(&m->headers, name, value) != 0)
		decide_verdict_fail(v, c, "out of memory, try again later", "headers");
	else if (header_limits_apply(m) &&
	    strlen(name) + 1 + strlen(m->headers.v[m->headers.n - 1].value) + 2 >
	        c->max_header_line) {
		snprintf(what, sizeof(what),
		    "a header field longer than %zu bytes (max-header-line)", c->max_header_line);
		structure_refuse(m, "header_line", what, v);
	}
	if (v->reply.d != DECIDE_CONTINUE)
		decide_note_end(m, v);
}

/*
 * The message is over max-message-size: on-oversize says what becomes of
 * it; signed mail from outside kept for harvesting passes unharvested.
 */
static void
body_oversize(struct decide_msg *m, struct decide_verdict *v)
{
	const struct conf *c = m->conf;
	const struct decide_reply *r = &c->replies.oversize;

	v->why = "oversize";
	if (m->harvest) { /* mail from outside passes; its signer is not looked for */
		v->reply.d = DECIDE_PASS;
		v->why = "external";
		v->level = LOG_INFO;
		snprintf(v->log, sizeof(v->log),
		    "passed from outside; not harvested: message larger than %zu bytes "
		    "(max-message-size)",
		    c->max_message_size);
		return;
	}
	if (r->d == DECIDE_CONTINUE && !m->pol.encrypt) { /* pass-sign-only, signed only */
		v->reply.d = DECIDE_PASS;
		v->level = LOG_WARNING;
		snprintf(v->log, sizeof(v->log),
		    "passed unsigned: message larger than %zu bytes (max-message-size, "
		    "on-oversize pass-sign-only)",
		    c->max_message_size);
		return;
	}
	if (r->d == DECIDE_CONTINUE) /* pass-sign-only, and policy encrypts: never in clear */
		r = &c->replies.oversize_encrypted;
	decide_verdict_set(v, r, LOG_NOTICE);
	snprintf(v->text, sizeof(v->text),
	    "message larger than %zu bytes, the most this S/MIME gateway processes%s",
	    c->max_message_size, r->d == DECIDE_TEMPFAIL ? ", try again later" : "");
	snprintf(v->log, sizeof(v->log), "%s: message larger than %zu bytes (max-message-size)%s",
	    decide_verdict_word(v), c->max_message_size,
	    r == &c->replies.oversize_encrypted
	        ? "; its policy encrypts, so on-oversize pass-sign-only refuses it"
	        : "");
}

/* The bytes of a chunk as the MTA stores them: a CR before LF does not count. */
static size_t
stored_bytes(const char *p, size_t len)
{
	size_t n = len, i;

	for (i = 0; i + 1 < len; i++)
		n -= p[i] == '\r' && p[i + 1] == '\n';
	return n;
}

/* The canonical chunk buf[n] against the MIME structure limits; 0 when within them. */
static int
body_scan(struct decide_msg *m, const char *buf, size_t n, struct decide_verdict *v)
{
	char err[200];
	enum mimescan_result r;

	if (m->scan == NULL ||
	    (r = mimescan_feed(m->scan, buf, n, err, sizeof(err))) == MIMESCAN_OK)
		return 0;
	if (r == MIMESCAN_NOMEM)
		decide_verdict_fail(v, m->conf, "out of memory, try again later", "MIME structure");
	else
		structure_refuse(m, mimescan_reason(r), err, v);
	return -1;
}

void
decide_body(struct decide_msg *m, const void *chunk, size_t len, struct decide_verdict *v)
{
	char err[256];
	size_t n;

	memset(v, 0, sizeof(*v));
	if (m->body == NULL)
		return;
	m->size += stored_bytes(chunk, len);
	if (!m->inbound && m->header_bytes + m->size > m->conf->max_message_size) {
		body_oversize(m, v);
		decide_note_end(m, v);
		return;
	}
	if (m->canonbuf_len < 2 * len) {
		if (m->canonbuf != NULL) {
			OPENSSL_cleanse(m->canonbuf, m->canonbuf_len);
			free(m->canonbuf);
		}
		m->canonbuf_len = 2 * len;
		m->canonbuf = malloc(m->canonbuf_len);
		if (m->canonbuf == NULL) {
			m->canonbuf_len = 0;
			decide_verdict_fail(v, m->conf, "out of memory", "body buffer");
			decide_note_end(m, v);
			return;
		}
	}
	n = mime_canon_chunk(&m->canon, chunk, len, m->canonbuf);
	if (body_scan(m, m->canonbuf, n, v) != 0)
		decide_note_end(m, v);
	else if (spool_write(m->body, m->canonbuf, n, err, sizeof(err)) != 0) {
		decide_verdict_fail(v, m->conf, "cannot spool the message", err);
		decide_note_end(m, v);
	}
}

void
decide_harvest_store(const struct decide_msg *m, const char *addr, X509 *cert,
    STACK_OF(X509) *chain)
{
	const struct conf *c = m->conf;
	char err[512];
	int rc = certindex_store(c->harvest_dir, addr, cert, chain, err, sizeof(err));

	decide_harvest_note(m, rc, addr, c->harvest_dir, err);
}

void
decide_harvest_note(const struct decide_msg *m, int rc, const char *addr, const char *where,
    const char *err)
{
	switch (rc) {
	case 1:
		decide_log(m, LOG_INFO, "harvested the certificate of <%s> into %s", addr, where);
		metrics_add(METRICS_HARVESTS, "stored", NULL, 1);
		break;
	case 0:
		decide_log(m, LOG_INFO, "certificate of <%s> already harvested in %s", addr, where);
		metrics_add(METRICS_HARVESTS, "known", NULL, 1);
		break;
	default:
		decide_log(m, LOG_ERR, "cannot store the certificate of <%s> in %s: %s", addr,
		    where, err);
		metrics_add(METRICS_HARVESTS, "error", NULL, 1);
	}
}

/* Signed mail from outside: store the signer's certificate if it qualifies (logs only). */
static void
eom_harvest(struct decide_msg *m)
{
	const struct conf *c = m->conf;
	struct harvest_options ho = {NULL, c->harvest_require_dkim, c->authserv_id, 0};
	char addr[DECIDE_ADDR_MAX], reason[512];
	STACK_OF(X509) *chain = NULL;
	X509 *x = NULL;
	int rc;

	if (!c->harvest_trust_any)
		ho.trust = c->certs != NULL ? certindex_trust(c->certs) : NULL;
	if (!c->harvest_trust_any && ho.trust == NULL) {
		decide_log(m, LOG_ERR, "not harvested: no trusted CAs loaded");
		metrics_add(METRICS_HARVESTS, "error", NULL, 1);
		return;
	}
	rc = harvest_signer(&m->headers, m->body, &ho, &x, &chain, addr, sizeof(addr), reason,
	    sizeof(reason));
	if (rc != 1) {
		decide_log(m, rc < 0 ? LOG_ERR : LOG_INFO, "not harvested: %s", reason);
		metrics_add(METRICS_HARVESTS, rc < 0 ? "error" : "refused", NULL, 1);
		return;
	}
	decide_harvest_store(m, addr, x, chain);
	X509_free(x);
	sk_X509_pop_free(chain, X509_free);
}

/* Content-* headers out, the S/MIME ones in. */
static int
eom_rewrite_headers(const struct decide_msg *m, const struct decide_mta *mta,
    const struct smime_result *res)
{
	size_t i;

	for (i = m->headers.n; i-- > 0;) {
		const struct mime_header *h = &m->headers.v[i];
		if (mime_is_content_header(h->name) &&
		    mta->delete_header(mta->arg, h->name, h->index) != 0)
			return -1;
	}
	if (!m->has_mime_version && mta->add_header(mta->arg, "MIME-Version", "1.0") != 0)
		return -1;
	if (mta->add_header(mta->arg, "Content-Type", res->content_type) != 0)
		return -1;
	if (res->disposition[0] != '\0' &&
	    mta->add_header(mta->arg, "Content-Disposition", res->disposition) != 0)
		return -1;
	if (res->transfer_encoding[0] != '\0' &&
	    mta->add_header(mta->arg, "Content-Transfer-Encoding", res->transfer_encoding) != 0)
		return -1;
	/* RFC 9788: the real Subject travels inside, protected */
	if (m->pol.encrypt && m->pol.hide_subject && m->pol.header_protection &&
	    mime_headers_find(&m->headers, "Subject") != NULL &&
	    mta->change_header(mta->arg, "Subject", 1, "[...]") != 0)
		return -1;
	return 0;
}

/*
 * The request for smime_protect from the message's settings (head and body
 * borrowed); the output goes to the MTA's replace_body.
 */
static void
eom_request(const struct decide_msg *m, const struct decide_mta *mta, struct smime_request *req)
{
	struct smime_options *opt = &req->opt;

	memset(req, 0, sizeof(*req));
	opt->sign = m->pol.sign;
	opt->encrypt = m->pol.encrypt;
	opt->cipher = m->pol.cipher;
	opt->digest = m->pol.digest;
	opt->key_transport = m->pol.key_transport;
	opt->signature = m->pol.signature;
	opt->sign_format = m->pol.sign_format;
	opt->header_protection = m->pol.header_protection;
	opt->hide_subject = m->pol.encrypt && m->pol.hide_subject && m->pol.header_protection;
	opt->outer = &m->headers;
	opt->chunk = m->conf->body_chunk;
	opt->transport_7bit = 1; /* sign-only mail must survive 7-bit transport */
	opt->spool_memory = m->conf->spool_memory;
	opt->spool_dir = m->conf->spool_dir;
	req->signer = &m->signer;
	req->recipients = m->recips;
	req->body = m->body;
	req->out = mta->replace_body;
	req->out_arg = mta->arg;
}

/* The log line of a protected message. */
static void
eom_logline(const struct decide_msg *m, const struct smime_request *req, uint64_t insize,
    struct decide_verdict *v)
{
	const struct smime_options *opt = &req->opt;

	v->level = LOG_INFO;
	snprintf(v->log, sizeof(v->log),
	    "%s%s%s: from=<%s> recipients=%zu%s%s%s cipher=%s body=%llu->%llu bytes",
	    opt->sign ? "signed" : "", opt->sign && opt->encrypt ? " and " : "",
	    opt->encrypt ? "encrypted" : "", opt->sign ? m->signer_addr : "", m->nrcpt,
	    m->vmta[0] ? " vmta=" : "", m->vmta,
	    m->vmta[0] && !policy_has_vmta(&m->conf->policy, m->vmta) ? "(not configured)" : "",
	    opt->encrypt ? EVP_CIPHER_get0_name(opt->cipher) : "none", (unsigned long long)insize,
	    (unsigned long long)req->result.bytes);
}

/* Seconds since start (CLOCK_MONOTONIC). */
static double
seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* Mode monitor with monitor-header: the one change made, X-SMIME-Milter-Would. */
static void
eom_monitor(struct decide_msg *m, const struct decide_mta *mta, struct decide_verdict *v)
{
	if (mta->add_header(mta->arg, "X-SMIME-Milter-Would", m->would_header) != 0)
		decide_log(m, LOG_WARNING, "the MTA refused the X-SMIME-Milter-Would header");
	v->why = "monitor";
}

/*
 * message-deadline: the new body goes to the MTA through this, which stops
 * it (and so smime_protect) at the first chunk after the deadline.  A
 * single step that blocks (a token's signature, a write the MTA does not
 * read) is not interrupted; the MTA's own timeout stays the last resort.
 */
struct eom_clock {
	const struct decide_mta *mta;
	const struct timespec *start;
	int deadline; /* seconds */
	int expired;
};

static int
eom_timed_write(void *arg, const void *data, size_t len)
{
	struct eom_clock *k = arg;

	if (seconds_since(k->start) > k->deadline) {
		k->expired = 1;
		return -1;
	}
	return k->mta->replace_body(k->mta->arg, data, len);
}

/* Past message-deadline: 451 4.3.0, nothing of the new body is used. */
static void
eom_too_late(const struct decide_msg *m, const struct eom_clock *k, struct decide_verdict *v)
{
	decide_verdict_set(v, &m->conf->replies.deadline, LOG_WARNING);
	v->why = "deadline";
	snprintf(v->text, sizeof(v->text), "S/MIME processing took too long, try again later");
	snprintf(v->log, sizeof(v->log),
	    "%s: processing took longer than %d seconds (message-deadline)%s",
	    decide_verdict_word(v), k->deadline,
	    k->expired ? ", stopped while writing the new body" : "");
}

/* Sign and/or encrypt m's body; v is the verdict. */
static void
eom_protect(struct decide_msg *m, const struct decide_mta *mta, const struct timespec *start,
    struct decide_verdict *v)
{
	struct eom_clock clock = {mta, start, m->conf->message_deadline, 0};
	struct smime_request req;
	char err[512], *head = NULL;
	size_t headlen = 0;
	uint64_t insize;

	if (mime_content_block(&m->headers, !m->values_spaced, &head, &headlen) != 0) {
		decide_verdict_fail(v, m->conf, "out of memory", "content headers");
		return;
	}
	eom_request(m, mta, &req);
	req.out = eom_timed_write;
	req.out_arg = &clock;
	req.head = head;
	req.headlen = headlen;
	insize = spool_size(m->body);
	if (mta->progress != NULL)
		mta->progress(mta->arg); /* the MTA waits while the signature is computed */
	if (smime_protect(&req, err, sizeof(err)) != 0) {
		if (clock.expired)
			eom_too_late(m, &clock, v);
		else
			decide_verdict_fail(v, m->conf, "S/MIME processing failed, try again later",
			    err);
	} else if (seconds_since(start) > clock.deadline)
		eom_too_late(m, &clock, v);
	else if (eom_rewrite_headers(m, mta, &req.result) != 0)
		decide_verdict_fail(v, m->conf, "S/MIME processing failed, try again later",
		    "the MTA refused a header change");
	else {
		eom_logline(m, &req, insize, v);
		m->bytes_in = insize;
		m->bytes_out = req.result.bytes;
	}
	OPENSSL_cleanse(head, headlen);
	free(head);
}

void
decide_end_of_message(struct decide_msg *m, const struct decide_mta *mta, struct decide_verdict *v)
{
	struct timespec start;

	memset(v, 0, sizeof(*v));
	clock_gettime(CLOCK_MONOTONIC, &start);
	if (m->monitor && m->would_header[0] != '\0')
		eom_monitor(m, mta, v);
	else if (m->body == NULL)
		return;
	else if (m->harvest)
		eom_harvest(m); /* the message itself passes unchanged */
	else
		eom_protect(m, mta, &start, v);
	m->seconds = seconds_since(&start);
	decide_note_end(m, v);
}
