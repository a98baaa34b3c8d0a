/*
 * conf_ops.c - the hooks of the keywords for operating the milter:
 * metrics-listen (the address of the Prometheus endpoint) and its check at
 * the end of the file, metrics-public.  (log-level, log-facility, mode and
 * monitor-header are plain choices of the table, conf_kw.c.)
 *
 * metrics-listen takes numeric addresses only (no name is resolved when a
 * file is read): 127.0.0.1:9894, [::1]:9894.  An address outside the
 * loopback networks -- the wildcard addresses included -- is an error
 * unless metrics-public yes is set too: the metrics tell who sends how much
 * mail to which partners, and have no authentication.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_int.h"
#include "errmsg.h"

int
conf_parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len, char *err,
    size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 2], *end;
	const char *colon;
	size_t hl;
	long port;

	memset(ss, 0, sizeof(*ss));
	*len = 0;
	colon = strrchr(spec, ':');
	if (colon == NULL || colon == spec) {
		errmsg_set(err, errlen, "not ADDRESS:PORT (127.0.0.1:9894, [::1]:9894)");
		return -1;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end != '\0' || errno != 0 || port < 1 || port > 65535) {
		errmsg_set(err, errlen, "port \"%s\" is not a number from 1 to 65535", colon + 1);
		return -1;
	}
	hl = (size_t)(colon - spec);
	if (spec[0] == '[' && hl >= 2 && spec[hl - 1] == ']' && hl - 2 < sizeof(host)) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		memcpy(host, spec + 1, hl - 2);
		host[hl - 2] = '\0';
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((unsigned short)port);
			*len = sizeof(*s6);
			return 0;
		}
	} else if (hl < sizeof(host)) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		memcpy(host, spec, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
			s4->sin_family = AF_INET;
			s4->sin_port = htons((unsigned short)port);
			*len = sizeof(*s4);
			return 0;
		}
	}
	errmsg_set(err, errlen, "\"%.*s\" is not a numeric IPv4 address or a [bracketed] IPv6 one",
	    (int)hl, spec);
	return -1;
}

int
conf_addr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) ||
		    (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

int
conf_ops_metrics_listen(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const struct conf_keyword *k, const struct conf_value *v)
{
	char err[256];

	(void)ps;
	if (conf_parse_listen(v->word, &c->metrics_addr, &c->metrics_addrlen, err, sizeof(err)) !=
	    0) {
		conf_error(p, "%s %s: %s", k->name, v->word, err);
		return -1;
	}
	return 0;
}

void
conf_ops_finish(struct conf_parse *p, struct conf *c)
{
	if (c->metrics_listen == NULL || c->metrics_addrlen == 0 || c->metrics_public ||
	    conf_addr_is_loopback((const struct sockaddr *)&c->metrics_addr))
		return;
	p->line = c->lines.metrics_listen;
	conf_error(p,
	    "metrics-listen %s: not a loopback address; the metrics have no authentication and "
	    "name who mails whom: set metrics-public yes to serve them there",
	    c->metrics_listen);
	p->line = 0;
}
