/*
 * sockperm.c - owner, group and mode of the milter's unix socket.
 *
 * libmilter creates a unix socket with root as owner and the process umask
 * as mode, which the MTA (Postfix runs as user postfix) cannot connect to.
 * The milter process therefore creates it under a strict umask (0177, so
 * nobody else can connect in between), then sets owner `user` (when
 * running as root with a user), group `socket-group` (default: the
 * primary group of `user`) and mode `socket-mode` (default 0660), all
 * before it accepts connections and before it drops privileges.  A milter
 * process restarted by the supervisor recreates the socket the same way.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "milter.h"

#define SOCKPERM_CREATE_UMASK 0177

const char *
milter_socket_path(const char *sock)
{
	if (sock == NULL)
		return NULL;
	if (strncmp(sock, "unix:", 5) == 0)
		return sock + 5;
	if (strncmp(sock, "local:", 6) == 0)
		return sock + 6;
	if (sock[0] == '/')
		return sock;
	return NULL;
}

mode_t
milter_socket_umask(void)
{
	return umask(SOCKPERM_CREATE_UMASK);
}

int
milter_socket_perms(const struct conf *c, const char *sock, char *err, size_t errlen)
{
	const char *path = milter_socket_path(sock);
	mode_t mode = (mode_t)(c->socket_mode != 0 ? c->socket_mode : CONF_SOCKET_MODE);
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	struct passwd *pw;
	struct group *gr;

	if (path == NULL)
		return 0; /* inet: nothing to do */
	if (c->user != NULL && geteuid() == 0) {
		pw = getpwnam(c->user);
		if (pw == NULL) {
			snprintf(err, errlen, "user %s: no such user", c->user);
			return -1;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if (c->socket_group != NULL) {
		gr = getgrnam(c->socket_group);
		if (gr == NULL) {
			snprintf(err, errlen, "socket-group %s: no such group", c->socket_group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(path, uid, gid) != 0) {
		snprintf(err, errlen, "socket-group %s: cannot change the owner of %s: %s",
		    c->socket_group != NULL ? c->socket_group : "(user's group)", path,
		    strerror(errno));
		return -1;
	}
	if (chmod(path, mode) != 0) {
		snprintf(err, errlen, "socket-mode %04o: cannot chmod %s: %s", (unsigned)mode, path,
		    strerror(errno));
		return -1;
	}
	return 0;
}
