/*
 * conf_vmta.c - unknown-virtual-mta: what the milter does with a message
 * whose X-Virtual-MTA header (or virtual-mta-macro) names a virtual MTA
 * that no <virtual-mta> block defines -- most often a typo, which must not
 * let mail out with less protection than its sender meant it to have.
 */
#include "config.h"

#include <strings.h>

#include "conf_int.h"

int
kw_unknown_vmta(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	(void)ps;
	if (conf_one_word(p, kw, n) != 0)
		return -1;
	if (strcasecmp(w[0], "tempfail") == 0)
		c->unknown_vmta = CONF_UNKNOWN_VMTA_TEMPFAIL;
	else if (strcasecmp(w[0], "reject") == 0)
		c->unknown_vmta = CONF_UNKNOWN_VMTA_REJECT;
	else if (strcasecmp(w[0], "pass") == 0)
		c->unknown_vmta = CONF_UNKNOWN_VMTA_PASS;
	else {
		conf_error(p, "%s: \"%s\" is not pass, tempfail or reject", kw, w[0]);
		return -1;
	}
	c->unknown_vmta_set = 1;
	return 0;
}
