/*
 * mtalink.c - the link between the MTA and the milter: the listening
 * socket, and what the milter asks for when a connection negotiates.
 *
 * TCP and delayed ACKs.  Over TCP a small write that follows another one
 * not yet acknowledged waits (Nagle) until the peer's delayed ACK comes,
 * 40 ms or more on Linux.  Two such waits hit every message:
 *
 *   - the milter's end-of-message reply follows the body replacement it
 *     has just written; TCP_NODELAY on the milter's connection sends it at
 *     once.  libmilter exposes neither its listening socket nor the
 *     connections it accepts, so for inet: and inet6: sockets the milter
 *     creates the listening socket itself, with TCP_NODELAY (copied by
 *     Linux to every connection accepted from it), and gives it to
 *     libmilter with libmilter's own "fd:N" socket form.
 *
 *   - Postfix sends the macros of the DATA stage even to a milter that
 *     asked not to get the DATA event (SMFIP_NODATA).  That packet gets no
 *     reply, so the next one, the first header, written by another Postfix
 *     process, waits for the milter host's delayed ACK.  The milter
 *     therefore takes the DATA event: libmilter answers it (continue), and
 *     the answer carries the ACK back at once.  This costs one round trip.
 *
 * No-reply events.  On a unix socket the milter asks the MTA not to wait
 * for its answer to the connect, DATA, header and body events
 * (SMFIP_NR_CONN, _DATA, _HDR, _BODY): Postfix then writes them back to
 * back and waits only at the end of the headers and of the message, a
 * dozen round trips fewer per message.  The callbacks of those events can
 * only fail (out of memory, headers too large, the spool); such a failure
 * is answered at the next event that gets an answer (callbacks.c).  Not
 * over TCP: reply-less packets are what Nagle holds back (see above).
 *
 * Macros: each stage's list names only what the milter reads (the queue
 * id, {auth_authen}, the configured virtual-MTA macro), so the MTA sends
 * small macro packets.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "errmsg.h"
#include "milter.h"

#define LINK_BACKLOG 128

/* The MTA connects through a unix socket (set once, before libmilter starts). */
static int link_local;

/* A listening TCP socket for ai, with TCP_NODELAY; -1 with errno. */
static int
link_listen_one(const struct addrinfo *ai)
{
	int fd, one = 1, saved;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, LINK_BACKLOG) != 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
milter_link_listen(const char *sock, char *spec, size_t speclen, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[64], host[256];
	const char *rest, *at;
	size_t n;
	int fd = -1, rc;

	memset(&hints, 0, sizeof(hints));
	if (strncmp(sock, "inet:", 5) == 0) {
		hints.ai_family = AF_INET;
		rest = sock + 5;
	} else if (strncmp(sock, "inet6:", 6) == 0) {
		hints.ai_family = AF_INET6;
		rest = sock + 6;
	} else { /* unix:, local: and the rest: libmilter opens them */
		link_local = milter_socket_path(sock) != NULL;
		snprintf(spec, speclen, "%s", sock);
		return 0;
	}
	at = strchr(rest, '@');
	n = at != NULL ? (size_t)(at - rest) : strlen(rest);
	if (n == 0 || n >= sizeof(port)) {
		errmsg_set(err, errlen, "socket %s: no port", sock);
		return -1;
	}
	memcpy(port, rest, n);
	port[n] = '\0';
	host[0] = '\0';
	if (at != NULL) { /* "1.2.3.4", "[1.2.3.4]", "localhost" */
		const char *h = at[1] == '[' ? at + 2 : at + 1;
		n = strcspn(h, "]");
		if (n >= sizeof(host)) {
			errmsg_set(err, errlen, "socket %s: host name too long", sock);
			return -1;
		}
		memcpy(host, h, n);
		host[n] = '\0';
	}
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_PASSIVE;
	rc = getaddrinfo(host[0] != '\0' ? host : NULL, port, &hints, &res);
	if (rc != 0) {
		errmsg_set(err, errlen, "socket %s: %s", sock, gai_strerror(rc));
		return -1;
	}
	errno = EADDRNOTAVAIL;
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
		fd = link_listen_one(ai);
	freeaddrinfo(res);
	if (fd < 0) {
		errmsg_set(err, errlen, "cannot listen on %s: %s", sock, strerror(errno));
		return -1;
	}
	snprintf(spec, speclen, "fd:%d", fd);
	return 0;
}

void
milter_link_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long *pf0,
    unsigned long *pf1)
{
	const unsigned long nr = SMFIP_NR_CONN | SMFIP_NR_DATA | SMFIP_NR_HDR | SMFIP_NR_BODY;
	struct conf *c = milter_get_conf();
	char from[160];

	/* no SMFIP_NODATA: see the top of this file */
	*pf1 = f1 & (SMFIP_HDR_LEADSPC | SMFIP_NOHELO | SMFIP_NOUNKNOWN);
	if (link_local)
		*pf1 |= f1 & nr;
	if (!(f0 & SMFIF_SETSYMLIST)) {
		conf_unref(c);
		return;
	}
	snprintf(from, sizeof(from), "i {auth_authen}%s%s",
	    c != NULL && c->vmta_macro != NULL ? " " : "",
	    c != NULL && c->vmta_macro != NULL ? c->vmta_macro : "");
	conf_unref(c);
	*pf0 |= SMFIF_SETSYMLIST;
	/* a list that cannot be set (out of memory) leaves the MTA's default for that stage */
	(void)smfi_setsymlist(ctx, SMFIM_CONNECT, "j");
	(void)smfi_setsymlist(ctx, SMFIM_ENVFROM, from);
	(void)smfi_setsymlist(ctx, SMFIM_ENVRCPT, "i");
	(void)smfi_setsymlist(ctx, SMFIM_DATA, "i");
	(void)smfi_setsymlist(ctx, SMFIM_EOH, "i");
	(void)smfi_setsymlist(ctx, SMFIM_EOM, "i");
}

/* Set the SMTP reply; '%' in text must not reach libmilter's format, nor a line break. */
void
milter_reply(SMFICTX *ctx, const char *code, const char *xcode, const char *text)
{
	char safe[512];
	size_t o = 0;

	for (; *text != '\0' && o + 2 < sizeof(safe); text++) {
		if (*text == '\r' || *text == '\n')
			continue;
		if (*text == '%')
			safe[o++] = '%';
		safe[o++] = *text;
	}
	safe[o] = '\0';
	(void)smfi_setreply(ctx, (char *)code, (char *)xcode, safe);
}
