/*
 * decide_inbound.h - the decisions of the receiving gateway on mail from
 * outside (decide_client marks it m->inbound), without libmilter: which
 * recipients can share one body, whether a message needs any work, the
 * keys to try, what a message we cannot decrypt becomes, its log line and
 * the harvest of its verified signer.  Every reply comes from the table
 * built at load (conf->replies: on_error, defer, undecryptable).  The
 * S/MIME work itself is lib/inbound.c; milter/inbound_cb.c applies the
 * verdicts and the header and body changes through libmilter.
 */
#ifndef SMIME_DECIDE_INBOUND_H
#define SMIME_DECIDE_INBOUND_H

#include <stddef.h>
#include <stdint.h>

#include "decide.h"
#include "inbound.h"
#include "keystore_identity.h"

#define DECIDE_KEYRING_MAX 32 /* decryption keys tried per message */

/* The decryption keys of a message's recipients; free with decide_keyring_free. */
struct decide_keyring {
	struct keystore_identity id[DECIDE_KEYRING_MAX];
	char name[DECIDE_KEYRING_MAX][300]; /* file or URI (without PIN), for logs */
	size_t n;
};

/*
 * RCPT TO: the recipient's scope.  One body must suit all recipients, so
 * one whose decrypt setting differs from the others' is deferred (the
 * defer reply, 451 4.7.1); a local recipient (no domain) needs nothing.
 */
void decide_inbound_recipient(struct decide_msg *m, const char *arg, struct decide_verdict *v);

/* A header field claiming our authserv-id with an smime result: forged. */
int decide_inbound_is_forged(const struct conf *c, const struct mime_header *h);

/*
 * End of headers: PASS (logged: not S/MIME, or nothing to do for its
 * recipients) when there is no work and nothing forged to remove; else
 * CONTINUE with m->body ready for the body (on_error when out of memory).
 */
void decide_inbound_eoh(struct decide_msg *m, struct decide_verdict *v);

/* An internal failure: the on-error reply (451 4.7.0 or 550 5.7.0), noted for the summary. */
void decide_inbound_fail(struct decide_msg *m, const char *what, const char *detail,
    struct decide_verdict *v);

/* Nonzero when the recipients' decryption keys are needed (decrypt, and not multipart/signed). */
int decide_inbound_wants_keys(const struct decide_msg *m);

/*
 * After inbound_process: nonzero when m should but could not be decrypted
 * (r->decryption), and then v says what becomes of it, by the strictest
 * on-undecryptable of its recipients.  pass: CONTINUE, logged as a
 * warning, the message goes on unchanged; tempfail or reject: the
 * undecryptable reply (x.7.6 for an unsupported algorithm, else x.7.5),
 * noted for the summary.  0 (v CONTINUE, no log) when it was not.
 */
int decide_inbound_undecryptable(struct decide_msg *m, const struct inbound_result *r,
    struct decide_verdict *v);

/* Nonzero when r's verdict goes into our Authentication-Results field. */
int decide_inbound_wants_ar(const struct decide_msg *m, const struct inbound_result *r);

/*
 * The keys of every recipient that asks for decryption: its own in
 * decryption-key-dir (none is fine), its domain's gateway decryption-key.
 * 0, or -1 with err naming the key that cannot be loaded.
 */
int decide_keyring_load(const struct decide_msg *m, struct decide_keyring *k, char *err,
    size_t errlen);
void decide_keyring_free(struct decide_keyring *k);

/* The options of inbound_process for m with the keys of k (borrowed). */
void decide_inbound_options(const struct decide_msg *m, const struct decide_keyring *k,
    struct inbound_options *o);

/*
 * The lines that say what was done (names, never content): protected
 * header fields (subject: the outer [...] was restored), then decryption,
 * verdict and sizes (in and out bytes of the body).
 */
void decide_inbound_log_result(const struct decide_msg *m, const struct inbound_result *r,
    const struct decide_keyring *k, int subject, uint64_t in, uint64_t out);

/* Store the verified signer's certificate where harvesting keeps them (dir, LDAP). */
void decide_inbound_harvest(const struct decide_msg *m, const struct inbound_result *r);

#endif
