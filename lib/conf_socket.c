/*
 * conf_socket.c - the keywords that make a unix milter socket usable by the
 * MTA: socket-mode (octal permission bits) and socket-group (the group that
 * owns the socket, e.g. one the MTA's user is in).  The milter applies them
 * right after it creates the socket, before it accepts connections, so a
 * milter process restarted by the supervisor recreates it the same way.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>

#include "conf_int.h"

int
kw_socket_mode(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	char *end;
	long v;

	(void)ps;
	if (conf_one_word(p, kw, n) != 0)
		return -1;
	errno = 0;
	v = strtol(w[0], &end, 8);
	if (end == w[0] || *end != '\0' || errno != 0 || v < 0 || v > 0777) {
		conf_error(p, "%s: \"%s\" is not an octal mode between 0000 and 0777 (e.g. 0660)",
		    kw, w[0]);
		return -1;
	}
	if ((v & 0600) != 0600) {
		conf_error(p, "%s %s: the owner must be able to read and write the socket", kw,
		    w[0]);
		return -1;
	}
	c->socket_mode = (int)v;
	return 0;
}

int
kw_socket_group(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const char *kw, char **w, int n)
{
	(void)ps;
	if (conf_set_string(p, &c->socket_group, kw, w, n) != 0)
		return -1;
	if (getgrnam(w[0]) == NULL) {
		conf_error(p, "%s: no such group \"%s\"", kw, w[0]);
		return -1;
	}
	return 0;
}
