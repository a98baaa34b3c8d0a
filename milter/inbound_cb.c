/*
 * inbound_cb.c - the libmilter side of the receiving gateway: mail from
 * outside to recipients whose scope says decrypt or verify (and signed
 * mail whose signer may be harvested) goes through here.  See
 * inbound_cb.h; the S/MIME work is lib/inbound.c, the decisions (with
 * their replies and log lines) lib/decide_inbound.c: this file applies
 * them through libmilter.
 *
 * (decide_client claims the message at MAIL FROM when the configuration
 * has work for mail from outside: m->inbound)
 * envrcpt  each recipient's scope; one body must suit all of them, so a
 *          recipient whose decrypt setting differs is deferred (451 4.7.1)
 * eoh      spool the body of S/MIME mail (bounded memory, encrypted file)
 * eom      remove forged smime results claiming our authserv-id; load the
 *          recipients' decryption keys; decrypt, verify, unwrap; rewrite
 *          the Content-* fields, body and protected Subject; add our
 *          Authentication-Results; harvest the verified signer
 *
 * Nothing is lost: an internal failure gives the on-error action (451
 * 4.7.0 by default), a message we should but cannot decrypt the
 * on-undecryptable action (pass by default, logged with the reason).
 * Decrypted content is spooled encrypted, wiped from buffers and never
 * logged; keys are freed (and wiped) at the end of the message.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "conf.h"
#include "decide.h"
#include "decide_inbound.h"
#include "errmsg.h"
#include "inbound.h"
#include "inbound_cb.h"
#include "log.h"
#include "milter.h"
#include "mime.h"

/* ---- smfi wrappers: values kept whole (a Content-Type or Subject may be long) ---- */

/* A header value for the MTA: CR removed (LF folding), the leading space as negotiated. */
static char *
mta_value(int leadspc, const char *value)
{
	char *out = malloc(strlen(value) + 2), *o = out;

	if (out == NULL)
		return NULL;
	if (leadspc && *value != ' ' && *value != '\t')
		*o++ = ' ';
	if (!leadspc && *value == ' ')
		value++;
	for (; *value != '\0'; value++)
		if (*value != '\r')
			*o++ = *value;
	*o = '\0';
	return out;
}

/* index 0: insert at the top; -1: append; >0: change that occurrence. */
static int
in_header(SMFICTX *ctx, int leadspc, const char *name, int index, const char *value)
{
	char *v = mta_value(leadspc, value);
	int rc;

	if (v == NULL)
		return -1;
	if (index == 0)
		rc = smfi_insheader(ctx, 0, (char *)name, v);
	else if (index < 0)
		rc = smfi_addheader(ctx, (char *)name, v);
	else
		rc = smfi_chgheader(ctx, (char *)name, index, v);
	OPENSSL_cleanse(v, strlen(v)); /* a protected Subject is content too */
	free(v);
	return rc == MI_SUCCESS ? 0 : -1;
}

/* Log a verdict of lib/decide_inbound.c, set its reply, and give libmilter's return code. */
static sfsistat
in_verdict(SMFICTX *ctx, const struct decide_msg *m, const struct decide_verdict *v)
{
	if (v->log[0] != '\0')
		log_msg(v->level, m->qid, "%s", v->log);
	switch (v->reply.d) {
	case DECIDE_CONTINUE: return SMFIS_CONTINUE;
	case DECIDE_PASS: return SMFIS_ACCEPT;
	default:
		milter_reply(ctx, v->reply.code, v->reply.xcode, v->text);
		return v->reply.d == DECIDE_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
	}
}

/* The on-error action for an internal failure (the MTA keeps the message). */
static sfsistat
in_fail(SMFICTX *ctx, struct decide_msg *m, const char *what, const char *detail)
{
	struct decide_verdict v;

	decide_inbound_fail(m, what, detail, &v);
	return in_verdict(ctx, m, &v);
}

/* ---- MAIL FROM, RCPT TO, end of headers ---- */

sfsistat
inbound_cb_envrcpt(SMFICTX *ctx, struct decide_msg *m, char **argv)
{
	struct decide_verdict v;

	decide_inbound_recipient(m, argv[0], &v);
	return in_verdict(ctx, m, &v);
}

sfsistat
inbound_cb_eoh(SMFICTX *ctx, struct decide_msg *m, int *done)
{
	struct decide_verdict v;

	decide_inbound_eoh(m, &v);
	*done = v.reply.d != DECIDE_CONTINUE;
	return in_verdict(ctx, m, &v);
}

/* ---- end of message ---- */

/* Delete the forged Authentication-Results fields (the last first: indexes stay valid). */
static int
remove_forged(SMFICTX *ctx, struct decide_msg *m)
{
	size_t i;
	int n = 0;

	for (i = m->headers.n; i-- > 0;) {
		const struct mime_header *h = &m->headers.v[i];
		if (!decide_inbound_is_forged(m->conf, h))
			continue;
		if (smfi_chgheader(ctx, (char *)h->name, h->index, NULL) != MI_SUCCESS)
			return -1;
		n++;
	}
	if (n > 0)
		log_msg(LOG_NOTICE, m->qid,
		    "removed %d Authentication-Results field%s from outside "
		    "claiming our authserv-id %s with an smime result",
		    n, n == 1 ? "" : "s", m->conf->authserv_id);
	return n;
}

/* The new body to the MTA, from r->body_off on, in chunks of at most body-chunk-size. */
static int
replace_body(SMFICTX *ctx, const struct decide_msg *m, const struct inbound_result *r,
    uint64_t *bytes, char *err, size_t errlen)
{
	size_t chunk =
	    m->conf->body_chunk > 0 && m->conf->body_chunk < 65536 ? m->conf->body_chunk : 65535;
	unsigned char *buf = malloc(chunk);
	uint64_t skip = r->body_off;
	ssize_t n = 0;
	int rc = -1;

	*bytes = 0;
	if (buf == NULL) {
		errmsg_set(err, errlen, "out of memory");
		return -1;
	}
	if (spool_rewind(r->body, err, errlen) != 0)
		goto cleanup;
	while ((n = spool_read(r->body, buf, chunk, err, errlen)) > 0) {
		size_t drop = skip < (uint64_t)n ? (size_t)skip : (size_t)n;
		skip -= drop;
		if ((size_t)n > drop &&
		    smfi_replacebody(ctx, buf + drop, (int)((size_t)n - drop)) != MI_SUCCESS) {
			errmsg_set(err, errlen, "the MTA refused the new body");
			goto cleanup;
		}
		*bytes += (uint64_t)n - drop;
	}
	rc = n == 0 ? 0 : -1;
cleanup:
	OPENSSL_cleanse(buf, chunk);
	free(buf);
	return rc;
}

/* Content-* fields and body of the decrypted or unwrapped entity replace the message's. */
static int
rewrite(SMFICTX *ctx, struct decide_msg *m, int leadspc, const struct inbound_result *r,
    uint64_t *bytes, char *err, size_t errlen)
{
	size_t i;

	for (i = m->headers.n; i-- > 0;) {
		const struct mime_header *h = &m->headers.v[i];
		if (mime_is_content_header(h->name) &&
		    smfi_chgheader(ctx, (char *)h->name, h->index, NULL) != MI_SUCCESS)
			goto refused;
	}
	if (!m->has_mime_version && in_header(ctx, leadspc, "MIME-Version", -1, "1.0") != 0)
		goto refused;
	for (i = 0; i < r->content.n; i++)
		if (in_header(ctx, leadspc, r->content.v[i].name, -1, r->content.v[i].value) != 0)
			goto refused;
	return replace_body(ctx, m, r, bytes, err, errlen);
refused:
	errmsg_set(err, errlen, "the MTA refused a header change");
	return -1;
}

/* Apply r to the message: body, Subject, Authentication-Results.  0 or -1 with err. */
static int
apply(SMFICTX *ctx, struct decide_msg *m, int leadspc, const struct inbound_result *r, int *subject,
    uint64_t *out, char *err, size_t errlen)
{
	const char *ps = inbound_protected_subject(&m->headers, r);
	char ar[2048];

	*subject = 0;
	if (r->changed && rewrite(ctx, m, leadspc, r, out, err, errlen) != 0)
		return -1;
	if (ps != NULL) {
		if (in_header(ctx, leadspc, "Subject", 1, ps) != 0) {
			errmsg_set(err, errlen, "the MTA refused the protected Subject");
			return -1;
		}
		*subject = 1;
	}
	if (decide_inbound_wants_ar(m, r)) {
		if (inbound_ar_value(m->conf->authserv_id, r, ar, sizeof(ar)) != 0 ||
		    in_header(ctx, leadspc, "Authentication-Results", 0, ar) != 0) {
			errmsg_set(err, errlen, "cannot add Authentication-Results");
			return -1;
		}
	}
	return 0;
}

sfsistat
inbound_cb_eom(SMFICTX *ctx, struct decide_msg *m, int leadspc)
{
	struct inbound_options o;
	struct inbound_result r;
	struct decide_keyring *k = calloc(1, sizeof(*k));
	struct decide_verdict v;
	char err[700];
	uint64_t in = m->body != NULL ? spool_size(m->body) : 0, out = 0;
	sfsistat rc = SMFIS_CONTINUE;
	int subject = 0;

	memset(&r, 0, sizeof(r));
	if (k == NULL)
		return in_fail(ctx, m, "out of memory, try again later", "key ring");
	if (remove_forged(ctx, m) < 0) {
		rc = in_fail(ctx, m, "S/MIME processing failed, try again later",
		    "the MTA refused to remove a forged Authentication-Results field");
		goto cleanup;
	}
	if (m->body == NULL)
		goto cleanup;
	if (decide_inbound_wants_keys(m) && decide_keyring_load(m, k, err, sizeof(err)) != 0) {
		rc = in_fail(ctx, m, "S/MIME decryption key unusable, try again later", err);
		goto cleanup;
	}
	decide_inbound_options(m, k, &o);
	(void)smfi_progress(ctx);
	if (inbound_process(&m->headers, m->body, &o, &r, err, sizeof(err)) != 0) {
		rc = in_fail(ctx, m, "S/MIME processing failed, try again later", err);
		goto cleanup;
	}
	if (decide_inbound_undecryptable(m, &r, &v)) {
		rc = in_verdict(ctx, m, &v); /* pass: logged, the message goes on unchanged */
		goto cleanup;
	}
	if (apply(ctx, m, leadspc, &r, &subject, &out, err, sizeof(err)) != 0) {
		rc = in_fail(ctx, m, "S/MIME processing failed, try again later", err);
		goto cleanup;
	}
	decide_inbound_log_result(m, &r, k, subject, in, out);
	decide_inbound_harvest(m, &r);
cleanup:
	inbound_result_free(&r);
	decide_keyring_free(k);
	free(k);
	return rc;
}
