/*
 * hostlist.c - CIDR network lists.  See hostlist.h.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "hostlist.h"

struct hostnet {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned prefix;
};

struct hostlist {
	struct hostnet *v;
	size_t n, cap;
};

hostlist *
hostlist_new(void)
{
	return calloc(1, sizeof(struct hostlist));
}

int
hostlist_add(hostlist *hl, const char *entry, char *err, size_t errlen)
{
	struct hostnet net;
	char text[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned maxbits;
	long prefix;

	if (strlen(entry) >= sizeof(text)) {
		errmsg_set(err, errlen, "bad network \"%s\"", entry);
		return -1;
	}
	strcpy(text, entry);
	slash = strchr(text, '/');
	if (slash != NULL)
		*slash++ = '\0';
	memset(&net, 0, sizeof(net));
	if (inet_pton(AF_INET, text, net.addr) == 1) {
		net.family = AF_INET;
		maxbits = 32;
	} else if (inet_pton(AF_INET6, text, net.addr) == 1) {
		net.family = AF_INET6;
		maxbits = 128;
	} else {
		errmsg_set(err, errlen, "bad network \"%s\": not an IPv4 or IPv6 address", entry);
		return -1;
	}
	net.prefix = maxbits;
	if (slash != NULL) {
		prefix = strtol(slash, &end, 10);
		if (*slash == '\0' || *end != '\0' || prefix < 0 || prefix > (long)maxbits) {
			errmsg_set(err, errlen, "bad network \"%s\": prefix length must be 0-%u",
			    entry, maxbits);
			return -1;
		}
		net.prefix = (unsigned)prefix;
	}
	if (hl->n == hl->cap) {
		size_t cap = hl->cap ? hl->cap * 2 : 8;
		struct hostnet *v = realloc(hl->v, cap * sizeof(*v));
		if (v == NULL) {
			errmsg_set(err, errlen, "out of memory");
			return -1;
		}
		hl->v = v;
		hl->cap = cap;
	}
	hl->v[hl->n++] = net;
	return 0;
}

static int
hostnet_contains(const struct hostnet *net, int family, const unsigned char *addr)
{
	unsigned full, rest;

	if (net->family != family)
		return 0;
	full = net->prefix / 8;
	rest = net->prefix % 8;
	if (memcmp(net->addr, addr, full) != 0)
		return 0;
	if (rest != 0) {
		unsigned char mask = (unsigned char)(0xff << (8 - rest));
		if ((net->addr[full] & mask) != (addr[full] & mask))
			return 0;
	}
	return 1;
}

static int
hostlist_match_raw(const hostlist *hl, int family, const unsigned char *addr)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	size_t i;

	if (family == AF_INET6 && memcmp(addr, mapped, sizeof(mapped)) == 0)
		return hostlist_match_raw(hl, AF_INET, addr + 12);
	for (i = 0; i < hl->n; i++)
		if (hostnet_contains(&hl->v[i], family, addr))
			return 1;
	return 0;
}

int
hostlist_match(const hostlist *hl, const struct sockaddr *sa)
{
	if (hl == NULL || sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;
		return hostlist_match_raw(hl, AF_INET, (const unsigned char *)&sin->sin_addr);
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		return hostlist_match_raw(hl, AF_INET6, sin6->sin6_addr.s6_addr);
	}
	return 0;
}

int
hostlist_match_text(const hostlist *hl, const char *addr)
{
	unsigned char raw[16];

	if (inet_pton(AF_INET, addr, raw) == 1)
		return hostlist_match_raw(hl, AF_INET, raw);
	if (inet_pton(AF_INET6, addr, raw) == 1)
		return hostlist_match_raw(hl, AF_INET6, raw);
	return 0;
}

size_t
hostlist_count(const hostlist *hl)
{
	return hl->n;
}

void
hostlist_free(hostlist *hl)
{
	if (hl == NULL)
		return;
	free(hl->v);
	free(hl);
}
