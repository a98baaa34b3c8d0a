/*
 * conf_socket.c - the hooks of the milter socket's keywords: socket (a
 * spec libmilter can listen on), socket-mode (the owner must keep read
 * and write access) and socket-group (a group that exists, e.g. one the
 * MTA's user is in).  The milter applies mode and group right after it
 * creates a unix socket, before it accepts connections, so a milter
 * process restarted by the supervisor recreates it the same way.
 */
#include "config.h"

#include "conf_check.h"
#include "conf_int.h"

int
conf_socket_spec(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const struct conf_keyword *k, const struct conf_value *v)
{
	char err[512];

	(void)c;
	(void)ps;
	(void)k;
	if (conf_check_socket(v->word, 0, err, sizeof(err)) != 0) {
		conf_error(p, "socket \"%s\": %s", v->word, err);
		return -1;
	}
	return 0;
}

int
conf_socket_mode(struct conf_parse *p, struct conf *c, struct policy_settings *ps,
    const struct conf_keyword *k, const struct conf_value *v)
{
	(void)c;
	(void)ps;
	if ((v->num & 0600) != 0600) {
		conf_error(p, "%s %s: the owner must be able to read and write the socket", k->name,
		    v->word);
		return -1;
	}
	return 0;
}
