/*
 * replmilter.c - a milter for bench/mta.sh that replaces every message's
 * body with the same bytes: what the MTA pays for a milter that reads the
 * message and hands back a new body (protocol, body replacement, the
 * queue file rewritten), without any cryptography.  It negotiates what
 * smime-milter negotiates on a unix socket (no reply to connect, DATA,
 * header and body events) and sends the body back in 65,535-byte chunks.
 *
 *   replmilter SOCKET     e.g. unix:/tmp/repl.sock; runs in the foreground
 *
 * A benchmark tool, not part of the product: the body of a message is
 * kept in memory, and a failure to keep it tempfails the message.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

struct repl {
	unsigned char *body;
	size_t len, size;
	int failed;
};

static sfsistat
repl_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2, unsigned long f3,
    unsigned long *pf0, unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	struct repl *r = calloc(1, sizeof(*r));

	(void)f0;
	(void)f2;
	(void)f3;
	if (r == NULL)
		return SMFIS_TEMPFAIL;
	*pf0 = SMFIF_CHGBODY;
	*pf1 = f1 &
	    (SMFIP_NOHELO | SMFIP_NOUNKNOWN | SMFIP_NR_CONN | SMFIP_NR_DATA | SMFIP_NR_HDR |
	        SMFIP_NR_BODY);
	*pf2 = 0;
	*pf3 = 0;
	smfi_setpriv(ctx, r);
	return SMFIS_CONTINUE;
}

static sfsistat
repl_noreply(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_NOREPLY;
}

static sfsistat
repl_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	(void)host;
	(void)addr;
	return repl_noreply(ctx);
}

static sfsistat
repl_header(SMFICTX *ctx, char *name, char *value)
{
	(void)name;
	(void)value;
	return repl_noreply(ctx);
}

static sfsistat
repl_envfrom(SMFICTX *ctx, char **argv)
{
	struct repl *r = smfi_getpriv(ctx);

	(void)argv;
	if (r == NULL)
		return SMFIS_TEMPFAIL;
	r->len = 0;
	r->failed = 0;
	return SMFIS_CONTINUE;
}

static sfsistat
repl_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct repl *r = smfi_getpriv(ctx);

	if (r->len + len > r->size) {
		size_t size = 2 * (r->len + len);
		unsigned char *p = realloc(r->body, size);
		if (p == NULL) {
			r->failed = 1;
			return SMFIS_NOREPLY;
		}
		r->body = p;
		r->size = size;
	}
	memcpy(r->body + r->len, chunk, len);
	r->len += len;
	return SMFIS_NOREPLY;
}

static sfsistat
repl_eom(SMFICTX *ctx)
{
	struct repl *r = smfi_getpriv(ctx);
	size_t off, n;

	if (r->failed)
		return SMFIS_TEMPFAIL;
	for (off = 0; off < r->len; off += n) {
		n = r->len - off < 65535 ? r->len - off : 65535;
		if (smfi_replacebody(ctx, r->body + off, (int)n) != MI_SUCCESS)
			return SMFIS_TEMPFAIL;
	}
	return SMFIS_CONTINUE;
}

static sfsistat
repl_close(SMFICTX *ctx)
{
	struct repl *r = smfi_getpriv(ctx);

	if (r != NULL) {
		free(r->body);
		free(r);
		smfi_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

int
main(int argc, char **argv)
{
	struct smfiDesc desc = {
	    .xxfi_name = "replmilter",
	    .xxfi_version = SMFI_VERSION,
	    .xxfi_flags = SMFIF_CHGBODY,
	    .xxfi_connect = repl_connect,
	    .xxfi_envfrom = repl_envfrom,
	    .xxfi_header = repl_header,
	    .xxfi_data = repl_noreply,
	    .xxfi_body = repl_body,
	    .xxfi_eom = repl_eom,
	    .xxfi_close = repl_close,
	    .xxfi_negotiate = repl_negotiate,
	};

	if (argc != 2) {
		fprintf(stderr, "usage: replmilter SOCKET\n");
		return 2;
	}
	if (strncmp(argv[1], "unix:", 5) == 0)
		(void)unlink(argv[1] + 5);
	umask(0); /* a socket the MTA's user may open */
	if (smfi_setconn(argv[1]) != MI_SUCCESS || smfi_register(desc) != MI_SUCCESS ||
	    smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "replmilter: cannot listen on %s\n", argv[1]);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
