/*
 * conf_ops.c - the keywords for operating the milter: metrics-listen (the
 * address of the Prometheus endpoint, loopback only unless the word
 * "public" follows), log-level, log-facility, mode (enforce or monitor, per
 * scope) and monitor-header.
 *
 * metrics-listen takes numeric addresses only (no name is resolved when a
 * file is read): 127.0.0.1:9894, [::1]:9894.  An address outside the
 * loopback networks -- the wildcard addresses included -- is an error
 * unless the line says "public": the metrics tell who sends how much mail
 * to which partners, and have no authentication.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "conf_int.h"
#include "log.h"

struct name_value {
	const char *name;
	int value;
};

static const struct name_value levels[] = {
	{"error", LOG_ERR}, {"warning", LOG_WARNING}, {"notice", LOG_NOTICE}, {"info", LOG_INFO},
	{"debug", LOG_DEBUG}, {NULL, 0},
};

static const struct name_value facilities[] = {
	{"mail", LOG_MAIL}, {"daemon", LOG_DAEMON}, {"user", LOG_USER}, {"local0", LOG_LOCAL0},
	{"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3},
	{"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6},
	{"local7", LOG_LOCAL7}, {NULL, 0},
};

static const char *
name_of(const struct name_value *t, int value)
{
	for (; t->name != NULL; t++)
		if (t->value == value)
			return t->name;
	return NULL;
}

/* One word that is a name of t: its value into *out; else an error listing the names. */
static int
one_of(struct conf_parse *p, const char *kw, char **w, int n, const struct name_value *t,
    int *out)
{
	const struct name_value *e;
	char names[256] = "";
	size_t used = 0;

	if (conf_one_word(p, kw, n) != 0)
		return -1;
	for (e = t; e->name != NULL; e++) {
		if (strcasecmp(w[0], e->name) == 0) {
			*out = e->value;
			return 0;
		}
		used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s",
		    e == t ? "" : e[1].name == NULL ? " or " : ", ", e->name);
		if (used >= sizeof(names))
			used = sizeof(names) - 1;
	}
	conf_error(p, "%s: \"%s\" is not %s", kw, w[0], names);
	return -1;
}

const char *
conf_log_level_name(int priority)
{
	return name_of(levels, priority);
}

const char *
conf_log_facility_name(int facility)
{
	return name_of(facilities, facility);
}

int
conf_parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len, char *err,
    size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 2], *end;
	const char *colon;
	size_t hl;
	long port;

	memset(ss, 0, sizeof(*ss));
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
		return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

int
kw_metrics_listen(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	char err[256];

	(void)ps;
	if (n < 1 || n > 2 || (n == 2 && strcasecmp(w[1], "public") != 0)) {
		conf_error(p, "%s takes ADDRESS:PORT and optionally the word public", kw);
		return -1;
	}
	if (conf_parse_listen(w[0], &c->metrics_addr, &c->metrics_addrlen, err, sizeof(err)) != 0) {
		conf_error(p, "%s %s: %s", kw, w[0], err);
		return -1;
	}
	c->metrics_public = n == 2;
	if (!c->metrics_public && !conf_addr_is_loopback((struct sockaddr *)&c->metrics_addr)) {
		conf_error(p,
		    "%s %s: not a loopback address; the metrics have no authentication and name "
		    "who mails whom: add \"public\" to serve them there", kw, w[0]);
		return -1;
	}
	free(c->metrics_listen);
	c->metrics_listen = strdup(w[0]);
	return c->metrics_listen != NULL ? 0 : -1;
}

int
kw_log_level(struct conf_parse *p, struct conf *c, struct policy_settings *ps, const char *kw,
    char **w, int n)
{
	(void)ps;
	return one_of(p, kw, w, n, levels, &c->log_level);
}

int
kw_log_facility(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	(void)ps;
	return one_of(p, kw, w, n, facilities, &c->log_facility);
}

int
kw_mode(struct conf_parse *p, struct conf *c, struct policy_settings *ps, const char *kw,
    char **w, int n)
{
	static const struct name_value modes[] = {
		{"enforce", POLICY_MODE_ENFORCE}, {"monitor", POLICY_MODE_MONITOR}, {NULL, 0}};
	int v;

	(void)c;
	if (one_of(p, kw, w, n, modes, &v) != 0)
		return -1;
	ps->mode = (enum policy_mode)v;
	ps->set |= POLICY_MODE;
	return 0;
}

int
kw_monitor_header(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	static const struct name_value yesno[] = {{"yes", 1}, {"no", 0}, {NULL, 0}};

	(void)ps;
	return one_of(p, kw, w, n, yesno, &c->monitor_header);
}
