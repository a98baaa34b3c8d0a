/*
 * hostlist.h - lists of IPv4/IPv6 networks (CIDR) such as internal-hosts.
 */
#ifndef SMIME_HOSTLIST_H
#define SMIME_HOSTLIST_H

#include <stddef.h>
#include <sys/socket.h>

typedef struct hostlist hostlist;

/* Empty list; caller frees with hostlist_free.  NULL when out of memory. */
hostlist *hostlist_new(void);

/*
 * Add one entry: "192.0.2.0/24", "2001:db8::/32", "127.0.0.1", "::1".
 * 0, or -1 with err filled naming the entry.
 */
int hostlist_add(hostlist *hl, const char *entry, char *err, size_t errlen);

/* Nonzero when the address is in the list (IPv4-mapped IPv6 counts as IPv4). */
int hostlist_match(const hostlist *hl, const struct sockaddr *sa);

/* Same for a textual address; 0 when it does not parse. */
int hostlist_match_text(const hostlist *hl, const char *addr);

size_t hostlist_count(const hostlist *hl);
void hostlist_free(hostlist *hl);

#endif
