/*
 * conf_vmta.c - the hooks of the virtual MTA keywords:
 * virtual-mta-header (a header field name), virtual-mta-macro (libmilter
 * wants long macro names in braces: either spelling is accepted) and
 * unknown-virtual-mta, what the milter does with a message whose header
 * or macro names a virtual MTA that no <virtual-mta> block defines -- most
 * often a typo, which must not let mail out with less protection than its
 * sender meant it to have.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_int.h"

int
conf_vmta_header(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const struct conf_keyword *k, const struct conf_value *v)
{
	const char *s;

	(void)c;
	(void)ps;
	for (s = v->word; *s != '\0'; s++) {
		if (*s <= 0x20 || *s >= 0x7f || *s == ':') {
			conf_error(p, "%s: \"%s\" is not a header name", k->name, v->word);
			return -1;
		}
	}
	return 0;
}

int
conf_vmta_macro(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const struct conf_keyword *k, const struct conf_value *v)
{
	size_t len = strlen(v->word);
	char *braced;

	(void)ps;
	(void)k;
	if (v->word[0] == '{' || len == 1)
		return 0; /* as given: "{daemon_name}", or a one-letter macro */
	braced = malloc(len + 3);
	if (braced == NULL) {
		conf_error(p, "out of memory");
		return -1;
	}
	snprintf(braced, len + 3, "{%s}", v->word);
	free(c->vmta_macro);
	c->vmta_macro = braced;
	return 0;
}

int
conf_vmta_unknown(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const struct conf_keyword *k, const struct conf_value *v)
{
	(void)p;
	(void)ps;
	(void)k;
	(void)v;
	c->unknown_vmta_set = 1; /* applies even without <virtual-mta> blocks */
	return 0;
}
