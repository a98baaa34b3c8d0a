/*
 * explain.h - the policy explainer (smime-milter -t): what the milter
 * would do with a message from FROM to each RCPT, told without sending
 * anything, by the same decisions the milter takes (decide.h).
 */
#ifndef SMIME_EXPLAIN_H
#define SMIME_EXPLAIN_H

#include <stdio.h>

/* How the message would reach the milter. */
struct explain_options {
	const char *vmta_header; /* --vmta: the value of the virtual-mta-header; NULL: none */
	const char *daemon_name; /* --daemon-name: the virtual-mta-macro's value; NULL: none */
	const char *client;      /* --client: "internal" (NULL), "external", "authenticated" */
};

/* Exit codes of explain_run. */
enum {
	EXPLAIN_PROTECTED = 0, /* every accepted recipient gets it signed and/or encrypted */
	EXPLAIN_REFUSED = 1,   /* a recipient or the message would be refused or deferred */
	EXPLAIN_USAGE = 2,     /* bad arguments or configuration */
	EXPLAIN_PLAIN = 3      /* it would pass untouched (mode monitor included) */
};

/*
 * Load the configuration at path and explain a message from addrs[0] to
 * addrs[1..n-1] on out.  Returns one of the codes above.
 */
int explain_run(const char *path, const struct explain_options *o, int n, char **addrs, FILE *out);

#endif
