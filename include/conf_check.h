/*
 * conf_check.h - the checks of a loaded configuration against the system
 * it is to run on: what conf_load (conf.h) cannot know from the file alone
 * and what would otherwise make the running milter tempfail every message.
 *
 * conf_load checks the file itself and runs on every reload.  The checks
 * here look at the world outside the file -- socket directory and host
 * name, pid-file directory, key files parsed and readable as the
 * configured user, PKCS#11 tokens present -- and run for "smime-milter -n"
 * and once when the daemon starts, before it detaches, so that a start
 * fails loudly.  They do not run on a reload: a token unplugged or a name
 * server down for a moment must not make a running milter refuse a good
 * file.  They never contact an LDAP server, and never log in to a token
 * unless asked (login).
 *
 * Every error is reported as "FILE:LINE: message" (the line of the keyword
 * at fault), or "FILE: message" for what is missing from the file.
 */
#ifndef SMIME_CONF_CHECK_H
#define SMIME_CONF_CHECK_H

#include <stddef.h>

#include "conf.h"

struct conf_check_options {
	const char *socket; /* -p: used instead of the file's socket and checked too; NULL: none */
	int login;          /* also log in to PKCS#11 tokens and load the keys (PINs are used) */
	/*
	 * NULL: a problem of one signing identity (a key-dir file, a
	 * signing-key or signing-cert that cannot be read or loaded, a
	 * missing token) is an error.  Else it goes here and is not counted:
	 * the daemon starts and mail from that sender gets missing-key, so
	 * that one broken key does not stop all mail.
	 */
	conf_report_fn identity_report;
};

/*
 * Run the checks (see above) on c; o may be NULL.  Every error goes to
 * report.  Returns the number of errors (0: the milter can start).
 */
int conf_check_runtime(const struct conf *c, const struct conf_check_options *o,
    conf_report_fn report, void *arg);

/*
 * A milter socket spec as libmilter takes it: inet:PORT[@HOST],
 * inet6:PORT[@HOST], unix:PATH, local:PATH or /PATH.  PORT is 1-65535;
 * HOST an address of the family, or a name.  With runtime set, also: the
 * name resolves, the unix socket's directory exists.  Returns 0, or -1
 * with err saying what is wrong (without repeating spec).
 */
int conf_check_socket(const char *spec, int runtime, char *err, size_t errlen);

/*
 * Files of trusted certificates (ca-file, PEM) and of CRLs (crl-file,
 * PEM) must hold at least one.  Returns 0, or -1 with err naming the file.
 */
int conf_check_ca_file(const char *path, char *err, size_t errlen);
int conf_check_crl_file(const char *path, char *err, size_t errlen);

/*
 * conf_check_p11.c: the PKCS#11 engine loads and a token named by uri is
 * present, without logging in.  Returns 0, or -1 with err.
 */
int conf_check_pkcs11_token(const char *uri, char *err, size_t errlen);

#endif
